//! The two writers of every record held to the same bytes (the fast `WriteJson` and serde's
//! derive, which `--format json` uses), on every record of every capture we have and on
//! records with every optional field filled; and the schema held to the keys they write.

use super::fleet::{Fleet, UtcTime};
use super::values::{Hex16, Secs};
use super::write::{EXACT_MICROS_BELOW_SECS, WriteJson, float, hex16, int, string};
use super::{
    ConnectionRecord, DnsRecord, FetchRecord, FindingCounts, FindingRecord, Record, schema,
};
use crate::analyze::{Analysis, GoInfo, read_pem_certs};
use crate::diagnose::{Actor, Finding, FindingKind, Severity, Stage};
use crate::go::stderr::parse_cause;
use crate::go::trace::{ExitKind, Fetch, GoTranscript, Outcome};
use crate::go::{Endpoint, GoRequest, GoRole, GoSettings};
use crate::join::{GoSummary, JoinedFetch, MatchedBy};
use crate::report::{Printer, Reported, RunEnd};
use modsniff_core::KernelStats;
use modsniff_core::Protocol;
use modsniff_core::Side;
use modsniff_core::dns::{DnsAnswer, DnsRecord as Query, DnsType};
use modsniff_core::http::HttpTransaction;
use modsniff_core::tls::ContentType;
use modsniff_core::tls::{AlertInfo, CertificateInfo, NotTls, Validation};
use modsniff_core::{Config, Connection, Duration, Stats, Timestamp};
use modsniff_core::{EndReason, Event, Evidence, IcmpInfo, ResetInfo};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

/// Panics with the first differing byte and both texts around it.
fn assert_same(what: &str, mine: &[u8], reference: &[u8]) {
    if mine == reference {
        return;
    }
    let at = mine
        .iter()
        .zip(reference)
        .position(|(a, b)| a != b)
        .unwrap_or(mine.len().min(reference.len()));
    let around = |b: &[u8]| {
        let from = at.saturating_sub(80);
        String::from_utf8_lossy(&b[from..(at + 80).min(b.len())]).into_owned()
    };
    panic!(
        "{what}: the fast writer differs from serde_json at byte {at} \
         (lengths {} vs {})\n  fast:  ...{}...\n  serde: ...{}...",
        mine.len(),
        reference.len(),
        around(mine),
        around(reference)
    );
}

/// Writes `rec` both ways, asserts the same bytes, returns the JSON.
fn both_ways(what: &str, rec: &Record<'_>) -> serde_json::Value {
    let mut mine = Vec::new();
    rec.write_json(&mut mine);
    let reference = serde_json::to_vec(rec).unwrap();
    assert_same(what, &mine, &reference);
    serde_json::from_slice(&mine).unwrap()
}

/// A printer that writes every record of a run both ways.
struct BothWays {
    name: String,
    records: usize,
}

impl BothWays {
    fn check(&mut self, rec: &Record<'_>) {
        self.records += 1;
        both_ways(&format!("{}: record #{}", self.name, self.records), rec);
    }
}

impl Printer for BothWays {
    fn connection(&mut self, c: &Connection, go: Option<&GoInfo>) -> io::Result<()> {
        self.check(&Record::Connection(ConnectionRecord::new(c, go)));
        Ok(())
    }
    fn dns(&mut self, r: &Query) -> io::Result<()> {
        self.check(&Record::Dns(DnsRecord::from(r)));
        Ok(())
    }
    fn early_finding(&mut self, f: &Finding) -> io::Result<()> {
        self.check(&Record::Finding(FindingRecord::provisional(f)));
        Ok(())
    }
    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        for f in end.fetches {
            self.check(&Record::Fetch(FetchRecord::from(*f)));
        }
        for f in end.findings {
            self.check(&Record::Finding(FindingRecord::from(*f)));
        }
        self.check(&Record::Stats(end.stats_record()));
        Ok(())
    }
    fn close(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn captures_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            captures_under(&p, out);
        } else if p.extension().is_some_and(|e| e == "pcap" || e == "pcapng") {
            out.push(p);
        }
    }
}

/// Runs one capture through the engine, the diagnosis and the printer as `read` does (one
/// thread); returns how many records were compared.
fn compare_capture(path: &Path, config: &Config) -> usize {
    let Ok(mut src) = modsniff_capture::FileSource::open(path) else {
        return 0; // not a capture we can open: nothing to compare
    };
    let mut both = BothWays {
        name: path.display().to_string(),
        records: 0,
    };
    let mut analysis = Analysis::new(config.clone(), GoSettings::default(), false);
    // go's stderr beside the capture (fixtures/NAME/stderr.txt, scenarios' NAME.stderr.txt):
    // the fetch records and go's errors on the findings, as `read --go-stderr` prints them.
    let stderr = path.with_file_name("stderr.txt");
    let beside = path.with_extension("stderr.txt");
    if let Some(text) = [stderr, beside]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
    {
        analysis = analysis.joining();
        analysis.set_go(GoTranscript::from_text(&text));
    }
    while let Ok(Some(pkt)) = src.next_packet() {
        analysis.push(&pkt, &mut both);
    }
    analysis.set_frames(src.frames());
    let warnings = vec!["a \"warning\"\n".to_string()];
    let name = both.name.clone();
    analysis.finish(&mut both, &name, &warnings, None).unwrap();
    both.records
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// ../shared beside the repository, or /work/shared (where the worktrees' lives).
fn shared() -> Option<PathBuf> {
    [repo().join("../shared"), PathBuf::from("/work/shared")]
        .into_iter()
        .find(|p| p.is_dir())
}

#[test]
fn every_record_of_every_capture_is_written_as_serde_writes_it() {
    let mut default_runs = Vec::new();
    captures_under(&repo().join("fixtures"), &mut default_runs);
    let fixtures = default_runs.len();
    assert!(fixtures > 0, "no capture under fixtures/");
    match shared() {
        Some(s) => {
            captures_under(&s.join("pcaps/public"), &mut default_runs);
            captures_under(&s.join("scenarios"), &mut default_runs);
        }
        None => eprintln!(
            "SKIP the public captures and scenarios: ../shared (or /work/shared) is absent"
        ),
    }
    let mut records = 0;
    let mut fixture_records = 0;
    for (i, p) in default_runs.iter().enumerate() {
        let n = compare_capture(p, &Config::default());
        records += n;
        if i < fixtures {
            fixture_records += n;
        }
    }
    // The fixtures again with the lab PKI (as tests/fixtures.rs reads them): chains that
    // validate, and valid only through --ca-file.
    let pki = repo().join("fixtures/harness/pki");
    let mut lab = Config::default();
    lab.tls.public_roots_der = read_pem_certs(&pki.join("root.pem")).unwrap().into();
    lab.tls.extra_roots_der = read_pem_certs(&pki.join("trust-corp.pem")).unwrap().into();
    for p in default_runs.iter().take(fixtures) {
        records += compare_capture(p, &lab);
    }
    eprintln!(
        "compared {records} records from {} captures ({fixture_records} from the {fixtures} \
         fixtures, then the fixtures again with the lab PKI)",
        default_runs.len()
    );
    assert!(
        fixture_records > 100,
        "only {fixture_records} fixture records"
    );
    if default_runs.len() > fixtures {
        assert!(
            records > 2 * fixture_records,
            "the shared captures gave no record"
        );
    }
}

/// Domain values with every optional field filled and every skipped one empty, in every
/// variant of every word: what the corpus may not hold.
#[derive(Default)]
struct Samples {
    conns: Vec<(String, Connection, Option<GoInfo>)>,
    dns: Vec<Query>,
    findings: Vec<Reported>,
    fetches: Vec<JoinedFetch>,
    stats: Vec<(Stats, FindingCounts, u64, Option<GoSummary>)>,
    /// What the first stats sample says `--extract` wrote.
    extract: crate::report::ExtractSummary,
}

impl Samples {
    fn conn(&mut self, what: &str, c: &Connection, go: Option<GoInfo>) {
        self.conns.push((what.to_string(), c.clone(), go));
    }

    /// Every sample as its record.
    fn records<'a>(
        &'a self,
        warnings: &'a [String],
        go: &'a BTreeMap<String, u64>,
    ) -> Vec<(String, Record<'a>)> {
        let mut out = Vec::new();
        for (what, c, g) in &self.conns {
            out.push((
                what.clone(),
                Record::Connection(ConnectionRecord::new(c, g.as_ref())),
            ));
        }
        for d in &self.dns {
            out.push(("dns".into(), Record::Dns(DnsRecord::from(d))));
        }
        for f in &self.findings {
            out.push((
                format!("finding {:?}", f.finding.kind),
                Record::Finding(FindingRecord::from(f)),
            ));
            out.push((
                format!("provisional finding {:?}", f.finding.kind),
                Record::Finding(FindingRecord::provisional(&f.finding)),
            ));
        }
        for f in &self.fetches {
            out.push((
                format!("fetch {}", f.fetch.url),
                Record::Fetch(FetchRecord::from(f)),
            ));
        }
        for (i, (stats, counts, tracking, run)) in self.stats.iter().enumerate() {
            let end = RunEnd {
                findings: &[],
                fetches: &[],
                go: run.as_ref(),
                stats,
                source: "a \"source\".pcap",
                counts: *counts,
                findings_dropped: 3,
                tracking_dropped: *tracking,
                reordered_packets: 2,
                warnings,
                go_endpoints: go,
                extract: (i == 0).then_some(&self.extract),
            };
            out.push(("stats".into(), Record::Stats(end.stats_record())));
        }
        // Every record again with the fleet fields, with and without an interface.
        let stamped: Vec<(String, Record<'a>)> = out
            .iter()
            .enumerate()
            .map(|(i, (what, rec))| {
                let nanos = 1_795_425_455_550_580_000 + i as u64 * 1_000_001;
                let fleet = Fleet {
                    host_name: "runner-7 \"eu\"",
                    interface: (i % 2 == 0).then_some("eth0"),
                    modsniff_version: "0.1.0",
                    session: "0b6f3c1e-7d2a-4c55-9a1e-2f0d6b9c8e71",
                    seq: i as u64 + 1,
                    time: UtcTime(nanos),
                    time_unix: Timestamp::from_nanos(nanos).into(),
                };
                (format!("{what} (fleet)"), rec.clone().with_fleet(fleet))
            })
            .collect();
        out.extend(stamped);
        out
    }
}

fn samples() -> Samples {
    let mut s = Samples {
        extract: crate::report::ExtractSummary {
            file: "out \"x\".pcap".into(),
            packets: 7,
            first_frame: 3,
            connections: 2,
            dns: 1,
            frames: vec![super::ExtractFrame {
                packet: 12,
                extract_packet: 3,
            }],
            cited: 2,
            all_kept: false,
        },
        ..Samples::default()
    };
    let path = repo().join("fixtures/clean/capture.pcap");
    let mut src = modsniff_capture::FileSource::open(&path).unwrap();
    let mut engine = modsniff_core::Engine::new(Config::default());
    let mut events = Vec::new();
    while let Ok(Some(pkt)) = src.next_packet() {
        engine.push(&pkt, &mut events);
    }
    engine.finish(&mut events);
    let mut conn = events
        .iter()
        .find_map(|e| match e {
            Event::Connection(c) if c.tls.is_some() => Some((**c).clone()),
            _ => None,
        })
        .expect("a TLS connection in fixtures/clean");
    let mut dns_rec = events
        .iter()
        .find_map(|e| match e {
            Event::Dns(d) => Some((**d).clone()),
            _ => None,
        })
        .expect("a dns record in fixtures/clean");
    let ts = Timestamp::from_nanos(1_795_389_452_253_000_123);
    conn.server_name = Some("a\"b\\c\u{1}\u{7f}é\u{2028}".into());
    conn.client = "[fe80::1%3]:51000".parse().unwrap();
    conn.server = "[2001:db8::ffff:1.2.3.4]:443".parse().unwrap();
    conn.handshake_rtt = Some(Duration::from_nanos(5_000));
    conn.resets = vec![
        ResetInfo {
            packet: 9,
            ts,
            from: Side::Server,
            ttl: 50,
            ip_id: Some(7),
            seq: u32::MAX,
            ack: 0,
            acknowledges: false,
            after_bytes: 12,
            with_unacked_data: true,
        },
        ResetInfo {
            packet: 10,
            ts,
            from: Side::Client,
            ttl: 64,
            ip_id: None,
            seq: 1,
            ack: 2,
            acknowledges: true,
            after_bytes: 0,
            with_unacked_data: false,
        },
    ];
    conn.icmp = vec![
        IcmpInfo {
            packet: 3,
            ts,
            from: "10.0.0.1".parse().unwrap(),
            v6: false,
            icmp_type: 3,
            code: 4,
            ttl: 255,
        },
        IcmpInfo {
            packet: 4,
            ts,
            from: "2001:db8::1".parse().unwrap(),
            v6: true,
            icmp_type: 1,
            code: 0,
            ttl: 1,
        },
    ];
    conn.partial = vec!["memcap", "evicted"];
    conn.overlap_conflicts = 3;
    let full_http = HttpTransaction {
        method: Some("GET".into()),
        uri: Some("/golang.org/x/text/@v/list".into()),
        host: Some("proxy.golang.org".into()),
        status: Some(200),
        version: Some("HTTP/1.1"),
        user_agent: Some("Go-http-client/1.1".into()),
        proxy_authorization: true,
        range: Some("bytes=0-".into()),
        request_frame: Some(4),
        request_ts: Some(ts),
        reason: Some("OK \"fine\"".into()),
        response_version: Some("HTTP/1.0"),
        informational: vec![100, 103],
        content_length: Some(u64::MAX),
        content_type: Some("text/plain".into()),
        chunked: true,
        proxy_authenticate: Some("Basic".into()),
        via: Some("1.1 squid".into()),
        server: Some("nginx".into()),
        location: Some("https://x/\u{0}".into()),
        content_range: Some("bytes 0-1/2".into()),
        response_frame: Some(6),
        response_ts: Some(ts),
        body_bytes: Some(0),
        body_missing: 7,
        body_complete: Some(false),
        head_cut: true,
    };
    conn.http = vec![full_http, HttpTransaction::default()];
    for app in [Protocol::Tls, Protocol::Http, Protocol::Dns] {
        conn.app = Some(app);
        s.conn("app", &conn, None);
    }
    for reason in [
        EndReason::Closed,
        EndReason::Idle,
        EndReason::Evicted,
        EndReason::EndOfInput,
    ] {
        conn.end_reason = reason;
        s.conn("end", &conn, None);
    }
    for s in [&mut conn.client_stats, &mut conn.server_stats] {
        s.ts_first = Some(ts);
        s.ts_last = Some(ts);
        s.ttl_min = Some(1);
        s.ttl_max = Some(255);
        s.ip_id_last = Some(65535);
        s.syn_frames = vec![1, 2, 3];
        s.first_data_frame = Some(4);
        s.last_data_frame = Some(5);
        s.last_data_ts = Some(ts);
        s.fin_frame = Some(6);
        s.window_scale = Some(14);
        s.out_of_window = 257;
    }
    let t = conn.tls.as_deref_mut().unwrap();
    t.client_hello_retry = t.client_hello.clone().map(Box::new);
    t.hello_retry_request = t.server_hello.clone();
    if let Some(sh) = t.server_hello.as_mut() {
        sh.version_name = None;
        sh.supported_version = None;
        sh.cipher_name = None;
        sh.alpn = Some("h2".into());
        sh.key_share = None;
    }
    t.certificate_frame = Some(11);
    t.certificates.push(std::sync::Arc::new(CertificateInfo {
        parse_error: Some("bad \\ der".into()),
        not_before_unix: Some(i64::MIN),
        not_after_unix: Some(-1),
        ..CertificateInfo::default()
    }));
    t.client_certificates = t.certificates.clone();
    t.valid_only_via_ca_file = true;
    t.sslv2_client_hello_frame = Some(1);
    t.alerts.push(AlertInfo {
        side: Side::Client,
        frame: 20,
        ts,
        encrypted: false,
        level: Some(2),
        description: Some(42),
        description_name: Some("bad_certificate"),
        record_length: 2,
    });
    t.alerts.push(AlertInfo {
        side: Side::Server,
        frame: 21,
        ts,
        encrypted: true,
        level: None,
        description: None,
        description_name: None,
        record_length: 26,
    });
    t.server.not_tls = Some(Box::new(NotTls {
        frame: 5,
        prefix: "HTTP/1.1 400 Bad Request\r\n".into(),
    }));
    t.server.gave_up = true;
    let mut unknown = t
        .client
        .records_after_hello
        .first()
        .copied()
        .unwrap_or_default();
    unknown.content_type = ContentType(99);
    t.client.records_after_hello.push(unknown);
    t.client.first_encrypted = None;
    t.anomalies.truncated_at_end = 1;
    for v in [
        None,
        Some(Validation::Valid),
        Some(Validation::UnknownIssuer),
        Some(Validation::Expired),
        Some(Validation::NotYetValid),
        Some(Validation::NameMismatch),
        Some(Validation::SelfSigned),
        Some(Validation::Other("webpki: \"BadDer\"\n".into())),
        Some(Validation::Undecided("max_chain_candidates".into())),
    ] {
        if let Some(t) = conn.tls.as_deref_mut() {
            t.validation = v;
        }
        s.conn("tls", &conn, None);
    }
    let roles = [
        None,
        Some(GoRole::ModuleProxy),
        Some(GoRole::ChecksumDb),
        Some(GoRole::Vcs),
        Some(GoRole::HttpProxy),
    ];
    let endpoints = [
        Endpoint::List,
        Endpoint::Info,
        Endpoint::Mod,
        Endpoint::Zip,
        Endpoint::Latest,
        Endpoint::SumdbLookup,
        Endpoint::SumdbTile,
        Endpoint::SumdbLatest,
        Endpoint::SumdbSupported,
        Endpoint::GoGet,
        Endpoint::GitSmartHttp,
    ];
    for (i, role) in roles.into_iter().enumerate() {
        for e in &endpoints {
            let req = GoRequest {
                module: (i % 2 == 0).then(|| "golang.org/x/text".into()),
                version: (i % 3 == 0).then(|| "v0.3.0".into()),
                endpoint: e.clone(),
            };
            let go = GoInfo {
                role,
                module: req.module.clone(),
                version: req.version.clone(),
                endpoint: (i != 1).then(|| e.clone()),
                requests: if i > 2 {
                    vec![req.clone(), req]
                } else {
                    Vec::new()
                },
            };
            s.conn("go", &conn, Some(go));
        }
    }
    let empty = GoInfo {
        role: None,
        module: None,
        version: None,
        endpoint: None,
        requests: Vec::new(),
    };
    s.conn("empty go", &conn, Some(empty));

    dns_rec.truncated = true;
    dns_rec.rtt = None;
    dns_rec.rcode = None;
    dns_rec.rcode_code = None;
    dns_rec.qname = None;
    dns_rec.query_frame = None;
    dns_rec.answers.push(DnsAnswer {
        name: "x".into(),
        rtype: DnsType(65534),
        ttl: u32::MAX,
        data: None,
    });
    s.dns.push(dns_rec.clone());
    s.dns.push(Query {
        answers: Vec::new(),
        ..s.dns[0].clone()
    });

    let evidence = Evidence {
        packet: 7,
        ts: Timestamp::from_nanos(1_795_389_452_253_000_123),
        note: "reset \"forged\"".into(),
    };
    for (i, kind) in [
        FindingKind::DnsServfail,
        FindingKind::DnsNxdomain,
        FindingKind::DnsTimeout,
        FindingKind::DnsSuspiciousAnswer,
        FindingKind::ConnectTimeout,
        FindingKind::ConnectRefused,
        FindingKind::ProxyAuthRequired,
        FindingKind::ProxyDenied,
        FindingKind::ProxyError,
        FindingKind::ResetAfterClientHello,
        FindingKind::HandshakeStall,
        FindingKind::HandshakeAborted,
        FindingKind::MitmCertificate,
        FindingKind::CertificateRejected,
        FindingKind::TlsDowngrade,
        FindingKind::HttpNotFound,
        FindingKind::HttpError,
        FindingKind::TransferStall,
        FindingKind::TransferReset,
        FindingKind::Retransmissions,
        FindingKind::InjectedSegments,
        FindingKind::ChecksumMismatch,
        FindingKind::ModuleNotFound,
        FindingKind::InvalidVersion,
        FindingKind::GoModError,
        FindingKind::GoFailed,
        FindingKind::CaptureIncomplete,
    ]
    .into_iter()
    .enumerate()
    {
        let stages = [
            Stage::Dns,
            Stage::Connect,
            Stage::Proxy,
            Stage::Tls,
            Stage::Http,
            Stage::Transfer,
            Stage::Go,
            Stage::Capture,
        ];
        let actors = [
            Actor::Server,
            Actor::Client,
            Actor::Proxy,
            Actor::Middlebox,
            Actor::Resolver,
            Actor::Unknown,
        ];
        let full = i % 2 == 0;
        let finding = Finding {
            stage: stages[i % stages.len()],
            kind,
            severity: [Severity::Info, Severity::Warning, Severity::Error][i % 3],
            actor: actors[i % actors.len()],
            connection: full.then_some(u64::MAX),
            server_name: full.then(|| "proxy.golang.org".into()),
            server: full.then(|| "[2001:db8::1]:443".into()),
            summary: "the \\ summary\u{1}".into(),
            likely_go_error: full.then(|| "read: connection reset by peer".into()),
            remedy: full.then(|| "set GOPROXY".into()),
            evidence: if full {
                vec![evidence.clone(), evidence.clone()]
            } else {
                Vec::new()
            },
        };
        s.findings.push(Reported {
            finding,
            go_error: full.then(|| "go: m@v1: Get \"https://x/\": EOF\n\tdetail \"q\"".into()),
            recovered: i % 3 == 0,
        });
    }

    let fetch = |url: &str, outcome: Outcome| Fetch {
        url: url.into(),
        order: 3,
        start_line: Some(1),
        end_line: Some(2),
        outcome,
        seconds: None,
        start_ts: None,
        end_ts: None,
    };
    let outcomes = [
        Outcome::Status {
            code: 404,
            text: "Not \"Found\"".into(),
        },
        Outcome::Status {
            code: 200,
            text: String::new(),
        },
        Outcome::Error {
            message: "Get \"https://x/\": dial tcp 10.0.0.1:443: i/o timeout".into(),
            cause: parse_cause("dial tcp 10.0.0.1:443: i/o timeout").0,
        },
        Outcome::NotAllowed {
            reason: "insecure".into(),
        },
        Outcome::Unfinished,
    ];
    let matched = [
        None,
        Some(MatchedBy::Request),
        Some(MatchedBy::Connect),
        Some(MatchedBy::Address),
        Some(MatchedBy::Name),
        Some(MatchedBy::Dns),
    ];
    for (i, outcome) in outcomes.into_iter().enumerate() {
        for (j, m) in matched.iter().enumerate() {
            let mut f = fetch("https://proxy.golang.org/\u{e9}/@v/list", outcome.clone());
            if (i + j) % 2 == 0 {
                f.seconds = Some(0.123);
                f.start_ts = Some(ts);
                f.end_ts = Some(ts);
            }
            s.fetches.push(JoinedFetch {
                fetch: f,
                connection: m.map(|_| 7),
                dns: (*m == Some(MatchedBy::Dns)).then_some(9),
                matched_by: *m,
                recovered: (i + j) % 3 == 0,
            });
        }
    }

    let mut stats = Stats {
        frames: 10,
        packets: 9,
        bytes: u64::MAX,
        kernel: Some(KernelStats {
            received: 5,
            dropped: 1,
            if_dropped: 2,
        }),
        // Written only when not 0: the samples need one that is.
        kept_bytes_refusals: 3,
        ..Stats::default()
    };
    stats.decode_error("ipv4_truncated");
    stats.anomaly("rst_with_data");
    stats.anomaly("syn_with_data");
    stats.http.desync_garbage = 1;
    stats.http.unmatched_responses = 2;
    let all = FindingCounts {
        error: 1,
        info: 2,
        warning: 3,
    };
    s.stats.push((stats.clone(), all, 4, None));
    for (exit, last) in [
        (ExitKind::Exited(1), Some("go: x: \"y\"".to_string())),
        (ExitKind::Signaled(2), None),
        (ExitKind::Unknown, None),
    ] {
        let go = GoSummary {
            exit,
            failed: true,
            errors: 1,
            fetches: 2,
            failed_fetches: 1,
            recovered_fetches: 0,
            matched_fetches: 2,
            last_error: last,
        };
        s.stats.push((stats.clone(), all, 4, Some(go)));
    }
    stats.kernel = None;
    stats.http = Default::default();
    for counts in [
        FindingCounts::default(),
        FindingCounts {
            warning: 1,
            ..FindingCounts::default()
        },
        FindingCounts {
            info: 1,
            ..FindingCounts::default()
        },
    ] {
        s.stats.push((stats.clone(), counts, 0, None));
    }
    s
}

#[test]
fn every_optional_field_is_written_as_serde_writes_it() {
    let s = samples();
    let warnings = vec![String::new(), "cut \"short\"".into()];
    let go = BTreeMap::from([("proxy.golang.org".to_string(), 2), ("é".to_string(), 0)]);
    for (what, rec) in s.records(&warnings, &go) {
        both_ways(&what, &rec);
    }
}

/// The schema's root, its definitions, and a JSON pointer's target.
struct Tree {
    root: serde_json::Value,
}

impl Tree {
    fn resolve<'a>(
        &'a self,
        mut at: &'a serde_json::Value,
        mut ptr: String,
    ) -> (&'a serde_json::Value, String) {
        while let Some(r) = at.get("$ref").and_then(|r| r.as_str()) {
            ptr = r.trim_start_matches('#').to_string();
            at = self
                .root
                .pointer(&ptr)
                .unwrap_or_else(|| panic!("dangling {r}"));
        }
        (at, ptr)
    }

    /// `v` could be an instance of `s` as far as its type, constants and tags say.
    fn fits(&self, v: &serde_json::Value, s: &serde_json::Value) -> bool {
        let (s, _) = self.resolve(s, String::new());
        if let Some(c) = s.get("const") {
            return v == c;
        }
        if let Some(e) = s.get("enum").and_then(|e| e.as_array()) {
            return e.contains(v);
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(alts) = s.get(key).and_then(|a| a.as_array()) {
                return alts.iter().any(|a| self.fits(v, a));
            }
        }
        if let Some(props) = s.get("properties").and_then(|p| p.as_object()) {
            let Some(obj) = v.as_object() else {
                return false;
            };
            // Tagged objects: every constant property must match.
            return props.iter().all(|(k, p)| match p.get("const") {
                Some(c) => obj.get(k) == Some(c),
                None => true,
            });
        }
        true
    }

    /// Walks `v` along `s` (at pointer `ptr`), noting each object schema's keys it meets.
    fn walk(
        &self,
        v: &serde_json::Value,
        s: &serde_json::Value,
        ptr: String,
        seen: &mut BTreeSet<(String, String)>,
    ) {
        let (s, ptr) = self.resolve(s, ptr);
        for key in ["anyOf", "oneOf"] {
            if let Some(alts) = s.get(key).and_then(|a| a.as_array()) {
                for (i, a) in alts.iter().enumerate() {
                    if self.fits(v, a) {
                        self.walk(v, a, format!("{ptr}/{key}/{i}"), seen);
                    }
                }
            }
        }
        if let (Some(obj), Some(props)) = (
            v.as_object(),
            s.get("properties").and_then(|p| p.as_object()),
        ) {
            for (k, x) in obj {
                let p = props.get(k).unwrap_or_else(|| {
                    panic!("the writer writes `{k}`, which {ptr} does not name")
                });
                seen.insert((ptr.clone(), k.clone()));
                self.walk(x, p, format!("{ptr}/properties/{k}"), seen);
            }
        }
        if let (Some(items), Some(of)) = (v.as_array(), s.get("items")) {
            for x in items {
                self.walk(x, of, format!("{ptr}/items"), seen);
            }
        }
        if let (Some(obj), Some(of)) = (
            v.as_object(),
            s.get("additionalProperties").filter(|a| a.is_object()),
        ) {
            for x in obj.values() {
                self.walk(x, of, format!("{ptr}/additionalProperties"), seen);
            }
        }
    }
}

/// Every object schema (by pointer) and its property names, the document's excepted.
fn object_schemas(v: &serde_json::Value, ptr: String, out: &mut BTreeMap<String, Vec<String>>) {
    if ptr.starts_with("/$defs/Document") {
        return;
    }
    if let Some(props) = v.get("properties").and_then(|p| p.as_object()) {
        out.insert(ptr.clone(), props.keys().cloned().collect());
    }
    match v {
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                object_schemas(x, format!("{ptr}/{k}"), out);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                object_schemas(x, format!("{ptr}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// The writer writes no key the schema does not name, and every key the schema names is
/// written by some record (the samples fill every optional field).
#[test]
fn the_schema_names_exactly_the_keys_the_writer_writes() {
    let s = samples();
    let warnings = vec!["w".to_string()];
    let go = BTreeMap::from([("proxy.golang.org".to_string(), 2)]);
    let tree = Tree { root: schema() };
    let mut seen = BTreeSet::new();
    for (what, rec) in s.records(&warnings, &go) {
        let mut line = Vec::new();
        rec.write_json(&mut line);
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert!(
            tree.fits(&v, &tree.root),
            "{what}: fits no record of the schema"
        );
        tree.walk(&v, &tree.root, String::new(), &mut seen);
    }
    let mut objects = BTreeMap::new();
    object_schemas(&tree.root, String::new(), &mut objects);
    assert!(objects.len() > 20, "{objects:?}");
    let mut never = Vec::new();
    for (ptr, keys) in &objects {
        for k in keys {
            if !seen.contains(&(ptr.clone(), k.clone())) {
                never.push(format!("{ptr}: {k}"));
            }
        }
    }
    assert!(
        never.is_empty(),
        "the schema names keys no record wrote:\n{}",
        never.join("\n")
    );
}

/// The samples, which fill every optional field, validate against the schema.
#[test]
fn every_sample_record_validates_against_the_schema() {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let s = samples();
    let warnings = vec!["w".to_string()];
    let go = BTreeMap::new();
    for (what, rec) in s.records(&warnings, &go) {
        let v = serde_json::to_value(&rec).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&v)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{what}: {errors:?}");
    }
}

/// A timestamp through the fast writer.
fn ts(o: &mut Vec<u8>, t: Timestamp) {
    Secs::from(t).write_json(o);
}

fn escaped(s: &str) -> Vec<u8> {
    let mut v = Vec::new();
    string(&mut v, s);
    v
}

#[test]
fn escapes_found_at_every_place_of_short_strings() {
    // Every place of strings of 1 to 24 bytes (whole words, a tail that overlaps the last
    // word, strings under a word), each byte that is escaped and a few that are not.
    for len in 1..=24 {
        for at in 0..len {
            for b in [0x00u8, 0x08, 0x1f, b'"', b'\\', b' ', 0x7f, b'a'] {
                let mut bytes = vec![b'x'; len];
                bytes[at] = b;
                let s = String::from_utf8(bytes).unwrap();
                assert_same(
                    &format!("{s:?}"),
                    &escaped(&s),
                    &serde_json::to_vec(&s).unwrap(),
                );
            }
        }
    }
}

#[test]
fn escaping_matches_serde() {
    let mut all_ascii = String::new();
    for b in 0u8..0x80 {
        all_ascii.push(char::from(b));
    }
    for s in [
        "",
        "plain",
        "\"",
        "\\",
        "\\\"",
        "/",
        "\u{0}\u{1}\u{8}\u{9}\u{a}\u{b}\u{c}\u{d}\u{1f}",
        "\u{7f}",
        "é",
        "a\u{2028}b\u{2029}c",
        "\u{10ffff}",
        "\u{fffd}",
        "ends with \n",
        "\tstarts",
        &all_ascii,
    ] {
        assert_same(
            &format!("{s:?}"),
            &escaped(s),
            &serde_json::to_vec(s).unwrap(),
        );
    }
}

/// Every ASCII byte and a few non-ASCII characters at every position of a 24-byte string
/// (three words of the eight-byte scan), in plain text and next to another escape.
#[test]
fn every_byte_at_every_offset_escapes_as_serde() {
    let mut specials: Vec<char> = (0u8..0x80).map(char::from).collect();
    specials.extend(['é', '\u{2028}', '\u{fffd}', '\u{10ffff}']);
    for c in specials {
        for at in 0..24 {
            for base in ["abcdefghijklmnopqrstuvwx", "abcdefgh\"jklmnop\u{1}rstuvwx"] {
                let mut s: String = base.chars().take(at).collect();
                s.push(c);
                s.extend(base.chars().skip(at + 1));
                assert_same(
                    &format!("{s:?}"),
                    &escaped(&s),
                    &serde_json::to_vec(&s).unwrap(),
                );
            }
        }
    }
}

/// 10,001 consecutive microseconds around 0 s, 10 ms, 100 ms, 1 s, every power of two up to the end of the
/// integer path of `secs`, and a bench-capture time.
#[test]
fn timestamp_sweeps_match_serde() {
    let centres = (0..=33u32).map(|k| (1u64 << k) * 1_000_000).chain([
        0,
        10_000,
        100_000,
        1_795_389_452_253_000,
    ]);
    let mut o = Vec::new();
    for c in centres {
        for m in c.saturating_sub(5_000)..=c + 5_000 {
            let t = Timestamp::from_nanos(m * 1000);
            o.clear();
            ts(&mut o, t);
            assert_same(
                &format!("{m} us"),
                &o,
                &serde_json::to_vec(&Secs::from(t)).unwrap(),
            );
        }
    }
}

/// Every integer below 100,000, both sides of every power of ten, and each width's ends.
#[test]
fn ipv4_addresses_match_serde() {
    use super::values::{Addr, Ip};
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    // Every octet value in every position (the others at their widest and narrowest), and
    // the ports at the edges of each width.
    let mut o = Vec::new();
    for x in 0..=255u8 {
        for fill in [0u8, 9, 10, 99, 100, 255] {
            for pos in 0..4 {
                let mut octets = [fill; 4];
                octets[pos] = x;
                let ip = IpAddr::V4(Ipv4Addr::from(octets));
                for port in [0u16, 9, 10, 443, 65535] {
                    let sa = SocketAddr::new(ip, port);
                    o.clear();
                    Addr(sa).write_json(&mut o);
                    assert_same(&sa.to_string(), &o, &serde_json::to_vec(&sa).unwrap());
                }
                o.clear();
                Ip(ip).write_json(&mut o);
                assert_same(&ip.to_string(), &o, &serde_json::to_vec(&ip).unwrap());
            }
        }
    }
}

#[test]
fn integers_match_serde() {
    let mut o = Vec::new();
    let pow_edges = (0..20u32).flat_map(|k| {
        let p = 10u64.pow(k);
        [p - 1, p, p + 1]
    });
    for v in (0..100_000u64)
        .chain(pow_edges)
        .chain([u64::MAX - 1, u64::MAX])
    {
        o.clear();
        int(&mut o, v);
        assert_same(&format!("{v}"), &o, &serde_json::to_vec(&v).unwrap());
    }
    o.clear();
    int(&mut o, u8::MAX);
    int(&mut o, u16::MAX);
    int(&mut o, u32::MAX);
    int(&mut o, usize::MAX);
    int(&mut o, i64::MIN);
    let want = format!(
        "{}{}{}{}{}",
        u8::MAX,
        u16::MAX,
        u32::MAX,
        usize::MAX,
        i64::MIN
    );
    assert_same("widths", &o, want.as_bytes());
}

fn float_bytes(v: f64) -> Vec<u8> {
    let mut o = Vec::new();
    float(&mut o, v);
    o
}

#[test]
fn floats_match_serde() {
    for v in [
        0.0,
        -0.0,
        1.0,
        5e-6,
        1e-7,
        0.1,
        1795389452.253,
        1e15,
        1e16,
        1e17,
        1e21,
        1e22,
        123456789012345680.0,
        f64::MAX,
        f64::MIN_POSITIVE,
        f64::EPSILON,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ] {
        assert_same(
            &format!("{v:?}"),
            &float_bytes(v),
            &serde_json::to_vec(&v).unwrap(),
        );
    }
    for n in [
        0,
        999,
        1_000,
        5_000,
        1_000_000_000,
        1_795_389_452_253_000_000,
        1_795_389_452_000_001_000,
        1_795_389_452_100_000_000,
        999_999_999,
        (EXACT_MICROS_BELOW_SECS - 1) * 1_000_000_000 + 999_999_999,
        EXACT_MICROS_BELOW_SECS * 1_000_000_000,
        u64::MAX,
    ] {
        let mut o = Vec::new();
        ts(&mut o, Timestamp::from_nanos(n));
        assert_same(
            &format!("ts {n}"),
            &o,
            &serde_json::to_vec(&Secs::from(Timestamp::from_nanos(n))).unwrap(),
        );
        o.clear();
        Secs::from(Duration::from_nanos(n)).write_json(&mut o);
        assert_same(
            &format!("duration {n}"),
            &o,
            &serde_json::to_vec(&Secs::from(Duration::from_nanos(n))).unwrap(),
        );
    }
}

proptest! {
    #[test]
    fn any_string_escapes_as_serde(s in any::<String>()) {
        prop_assert_eq!(escaped(&s), serde_json::to_vec(&s).unwrap());
    }

    /// Plain runs of any length between the bytes that need escaping, so that the
    /// eight-byte scan meets them at every offset.
    #[test]
    fn runs_and_escapes_as_serde(s in "([a-z~/\u{7f}-\u{ff}\u{2028}]{0,19}[\\x00-\\x1f\"\\\\]?){0,8}") {
        prop_assert_eq!(escaped(&s), serde_json::to_vec(&s).unwrap());
    }

    #[test]
    fn control_heavy_strings_escape_as_serde(s in "[\\x00-\\x20\"\\\\a\u{7f}\u{80}\u{2028}é]{0,40}") {
        prop_assert_eq!(escaped(&s), serde_json::to_vec(&s).unwrap());
    }

    #[test]
    fn any_float_as_serde(v in any::<f64>()) {
        prop_assert_eq!(float_bytes(v), serde_json::to_vec(&v).unwrap());
    }

    /// The integer path of `secs` (1 s to 2^33 s), densely: any microsecond of the range,
    /// and the microseconds next to its ends and to every power of two in it.
    #[test]
    fn timestamps_in_the_integer_range_as_serde(
        micros in 0u64..(EXACT_MICROS_BELOW_SECS * 1_000_000 + 10),
        pow in 0u32..34,
        delta in -3_000_000i64..3_000_000,
    ) {
        let near_pow = ((1u64 << pow) * 1_000_000).saturating_add_signed(delta);
        for m in [micros, near_pow] {
            let n = m.saturating_mul(1000) + 999;
            let mut o = Vec::new();
            ts(&mut o, Timestamp::from_nanos(n));
            prop_assert_eq!(o, serde_json::to_vec(&Secs::from(Timestamp::from_nanos(n))).unwrap());
        }
    }

    #[test]
    fn any_timestamp_as_serde(n in any::<u64>()) {
        let mut o = Vec::new();
        ts(&mut o, Timestamp::from_nanos(n));
        prop_assert_eq!(o, serde_json::to_vec(&Secs::from(Timestamp::from_nanos(n))).unwrap());
    }

    #[test]
    fn any_integer_as_serde(a in any::<u64>(), b in any::<i64>(), c in any::<u16>()) {
        let mut o = Vec::new();
        int(&mut o, a);
        o.push(b' ');
        int(&mut o, b);
        o.push(b' ');
        hex16(&mut o, c);
        let want = format!(
            "{} {} {}",
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap(),
            serde_json::to_string(&Hex16(c)).unwrap()
        );
        prop_assert_eq!(String::from_utf8(o).unwrap(), want);
    }
}
