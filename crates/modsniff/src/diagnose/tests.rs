//! The detectors on real records: captures of the real go command (fixtures/, and the excerpts
//! in testdata/ beside this file), read by the real engine, judged by the real diagnosis.
//! Ground truth is what was injected and what go printed (each capture's expected.json and
//! stderr), never modsniff's own output.

use super::*;
use modsniff_capture::FileSource;
use modsniff_core::tls::TlsConfig;
use modsniff_core::{Config, Engine, Event};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> PathBuf {
    let dir = repo().join("fixtures").join(name);
    ["capture.pcap", "capture.pcapng"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no capture in {}", dir.display()))
}

/// A matrix capture in testdata/: the capture, its ground truth, and how the client was set
/// up (its trust file).
struct Case {
    capture: PathBuf,
    truth: serde_json::Value,
}

/// A case from testdata/, or else from the whole matrix (fixtures/matrix).
fn case(name: &str) -> Case {
    let here = testdata(name);
    let dir = if here.is_dir() {
        here
    } else {
        repo().join("fixtures/matrix").join(name)
    };
    let truth =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    Case {
        capture: dir.join("capture.pcap"),
        truth,
    }
}

impl Case {
    /// Read as the client was set up: its SSL_CERT_FILE.
    fn read(&self) -> Read {
        let env = self.truth["go"]["env"].as_str().unwrap_or("");
        let trust = env
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix("SSL_CERT_FILE="))
            .and_then(|p| p.rsplit('/').next())
            .unwrap_or("trust-public.pem");
        let path = match trust {
            "trust-corpca.pem" => testdata("pki/trust-corpca.pem"),
            other => repo().join("fixtures/harness/pki").join(other),
        };
        Read {
            trust: Some(path),
            ..Read::default()
        }
    }

    fn findings(&self) -> Vec<Finding> {
        diagnose(&self.capture, self.read())
    }

    /// The last line go printed (its error), from the ground truth.
    fn go_error(&self) -> String {
        self.truth["go"]["error_lines"]
            .as_array()
            .and_then(|v| v.last())
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    }

    fn failed(&self) -> bool {
        self.truth["go"]["exit_code"].as_i64() != Some(0)
    }
}

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/diagnose/testdata")
        .join(rel)
}

/// How a capture is read for a test.
struct Read {
    settings: GoSettings,
    /// The trust file the client used (its SSL_CERT_FILE), beside the lab PKI's public root
    /// (fixtures/harness/pki/root.pem).
    trust: Option<PathBuf>,
    /// Keep only the first `bytes` of the file (a capture cut short).
    bytes: Option<usize>,
    /// Stop after this many packets (a capture stopped at a record boundary).
    packets: Option<u64>,
}

impl Default for Read {
    fn default() -> Self {
        Read {
            settings: GoSettings::default(),
            trust: Some(repo().join("fixtures/harness/pki/trust-public.pem")),
            bytes: None,
            packets: None,
        }
    }
}

fn pem(path: &Path) -> Vec<Vec<u8>> {
    crate::analyze::read_pem_certs(path).expect("PEM")
}

/// Runs the engine and the diagnosis over a capture, as `modsniff read` does.
fn diagnose(path: &Path, how: Read) -> Vec<Finding> {
    let mut data = std::fs::read(path).expect("capture");
    if let Some(n) = how.bytes {
        data.truncate(n);
    }
    let mut tls = TlsConfig::default();
    if let Some(trust) = how.trust {
        tls.public_roots_der = pem(&repo().join("fixtures/harness/pki/root.pem")).into();
        tls.extra_roots_der = pem(&trust).into();
    }
    let mut engine = Engine::new(Config {
        tls,
        ..Config::default()
    });
    let mut src = FileSource::from_reader(
        Box::new(std::io::Cursor::new(data)),
        path.display().to_string(),
    )
    .expect("a capture");
    let mut events = Vec::new();
    let mut n = 0u64;
    let mut last = None;
    while how.packets.is_none_or(|max| n < max) {
        match src.next_packet().expect("readable") {
            Some(p) => {
                n += 1;
                last = Some((p.frame, p.ts));
                engine.push(&p, &mut events);
            }
            None => break,
        }
    }
    let mut d = Diagnoser::new(how.settings);
    let feed = |d: &mut Diagnoser, events: &mut Vec<Event>| {
        for e in events.drain(..) {
            match e {
                Event::Connection(c) => {
                    d.on_connection(&c);
                }
                Event::Dns(r) => d.on_dns(&r),
                _ => {}
            }
        }
    };
    feed(&mut d, &mut events);
    d.saw_time(engine.now());
    engine.finish(&mut events);
    feed(&mut d, &mut events);
    if let Some(w) = src.warnings().first() {
        let ts = last.filter(|(f, _)| *f == src.frames()).map(|(_, t)| t);
        d.note_capture_cut(w.to_string(), src.frames(), ts);
    } else if n == 0 {
        d.note_no_packets();
    }
    d.finish()
}

fn settings(vars: &[(&str, &str)]) -> GoSettings {
    let mut s = GoSettings::default();
    let vars = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    s.apply(&vars, "test");
    s
}

fn kinds(f: &[Finding]) -> Vec<(Stage, FindingKind, Severity)> {
    f.iter().map(|f| (f.stage, f.kind, f.severity)).collect()
}

fn only(f: &[Finding], kind: FindingKind) -> &Finding {
    let v: Vec<&Finding> = f.iter().filter(|x| x.kind == kind).collect();
    assert_eq!(v.len(), 1, "one {kind:?} in {:?}", kinds(f));
    v[0]
}

fn errors(f: &[Finding]) -> Vec<&Finding> {
    f.iter().filter(|x| x.severity == Severity::Error).collect()
}

// ---- capture: cut short, or ended mid-exchange ----

/// fixtures/clean: go fetched two modules without a fault (frames 12-13: the ClientHello over
/// two segments; 16: ServerHello; 38: the client's FIN once go was done).
#[test]
fn whole_clean_capture_is_not_incomplete() {
    let f = diagnose(&fixture("clean"), Read::default());
    assert!(
        f.iter().all(|x| x.kind != FindingKind::CaptureIncomplete),
        "{:?}",
        kinds(&f)
    );
    assert!(errors(&f).is_empty());
}

#[test]
fn capture_cut_inside_a_record_says_so_and_names_the_open_handshake() {
    // The file's bytes up to the middle of frame 15: the ClientHello went out, the server's
    // answer is beyond the cut.
    let f = diagnose(
        &fixture("clean"),
        Read {
            bytes: Some(3001),
            ..Read::default()
        },
    );
    let c = only(&f, FindingKind::CaptureIncomplete);
    assert_eq!(c.stage, Stage::Capture);
    assert_eq!(c.severity, Severity::Warning);
    assert!(c.summary.contains("cut short"), "{}", c.summary);
    assert!(
        c.summary.contains("ClientHello not answered yet"),
        "{}",
        c.summary
    );
    let frames: Vec<u64> = c.evidence.iter().map(|e| e.packet).collect();
    assert_eq!(
        frames,
        [13, 14],
        "the hello's last segment, the last whole frame"
    );
    assert!(
        errors(&f).is_empty(),
        "a cut capture of a good run is no failure"
    );
    let note = capture::verdict_note(c).unwrap();
    assert!(note.contains("last record is cut short"), "{note}");
}

#[test]
fn capture_stopped_between_records_mid_exchange_is_incomplete() {
    // Each packet count stops the capture in a different exchange (tshark -r clean): the
    // AAAA/A queries (5-6), the SYN (9), the server's flight (16), the data (24).
    for (packets, what) in [
        (6, "DNS A query not answered yet"),
        (
            8,
            "resolved, the connection that follows is not in the capture",
        ),
        (9, "TCP handshake, 1 SYN not answered yet"),
        (11, "connected, no request sent yet"),
        (16, "the client had not answered the server's flight yet"),
        (24, "still"),
    ] {
        let f = diagnose(
            &fixture("clean"),
            Read {
                packets: Some(packets),
                ..Read::default()
            },
        );
        let c = only(&f, FindingKind::CaptureIncomplete);
        assert!(c.summary.contains(what), "{packets}: {}", c.summary);
        assert!(
            !c.summary.contains("cut short,"),
            "{packets}: not a cut record"
        );
        assert!(errors(&f).is_empty(), "{packets}: {:?}", kinds(&f));
    }
}

#[test]
fn capture_without_packets_is_not_ok() {
    let f = diagnose(
        &fixture("clean"),
        Read {
            bytes: Some(24),
            ..Read::default()
        },
    );
    let c = only(&f, FindingKind::CaptureIncomplete);
    assert_eq!(
        capture::verdict_note(c).as_deref(),
        Some("no packets in the capture")
    );
    assert!(c.evidence.is_empty());
}

// ---- tls: the server's own certificate, refused by the client ----

/// TLS 1.2, certificate in clear: one certificate-rejected finding by the server, whose go
/// error is the one go printed, with the ClientHello, the Certificate and the client's alert.
#[test]
fn refused_server_certificate_in_clear_names_go_s_reason() {
    for name in [
        "cert-expired-tls12",
        "cert-notyet-tls12",
        "cert-ipnosan-tls12",
        "cert-wrongname-tls12",
        "cert-selfsigned-tls12",
        "cert-incomplete-tls12",
        "cert-unknownca-tls12",
    ] {
        let c = case(name);
        assert!(c.failed());
        let f = c.findings();
        let r = only(&f, FindingKind::CertificateRejected);
        assert_eq!(
            (r.stage, r.severity, r.actor),
            (Stage::Tls, Severity::Error, Actor::Server),
            "{name}"
        );
        let go = r.likely_go_error.as_deref().unwrap_or("");
        let printed = c.go_error();
        let x509 = go.trim_start_matches("tls: failed to verify certificate: ");
        assert!(
            printed.ends_with(x509),
            "{name}: we say {go:?}, go printed {printed:?}"
        );
        assert!(printed.contains(go), "{name}: {go:?} in {printed:?}");
        let frames: Vec<u64> = r.evidence.iter().map(|e| e.packet).collect();
        if let Some(alert) = c.truth["observed"]["tls_alerts"][0]["frame"].as_u64() {
            assert!(
                frames.contains(&alert),
                "{name}: alert frame {alert} in {frames:?}"
            );
        }
        assert!(
            r.evidence.iter().any(|e| e.note.contains("client alert")),
            "{name}: the client's refusal is cited"
        );
        assert!(
            r.evidence
                .iter()
                .any(|e| e.note.starts_with("Certificate:")),
            "{name}"
        );
        assert!(!r.summary.contains("public host"), "{name}: {}", r.summary);
        let remedy = r.remedy.as_deref().unwrap_or("");
        assert!(!remedy.contains("proxy.golang.org"), "{name}: {remedy}");
        assert_eq!(errors(&f).len(), 1, "{name}: {:?}", kinds(&f));
        assert!(
            f.iter().all(|x| x.kind != FindingKind::MitmCertificate),
            "{name}"
        );
    }
}

/// TLS 1.3: the certificate is encrypted; the client's encrypted alert right after the
/// server's flight, for a host that is not public and shows no middlebox, is the server's
/// certificate refused, said to be indirect.
#[test]
fn refused_server_certificate_under_tls13_is_indirect() {
    for name in [
        "cert-unknownca-tls13",
        "cert-ipnosan-tls13",
        "cert-ipnosan-v6",
    ] {
        let c = case(name);
        let f = c.findings();
        let r = only(&f, FindingKind::CertificateRejected);
        assert_eq!(
            (r.severity, r.actor),
            (Severity::Error, Actor::Server),
            "{name}"
        );
        assert!(r.summary.contains("indirect"), "{name}: {}", r.summary);
        assert!(
            c.go_error().contains(r.likely_go_error.as_deref().unwrap()),
            "{name}"
        );
    }
}

/// The same self-hosted proxy with a certificate the client trusts (through its private CA):
/// no error, and no interception (the user's CA vouching for the user's server is normal).
#[test]
fn trusted_private_ca_on_the_users_own_server_is_quiet() {
    for name in ["cert-trusted-tls12", "cert-trusted-ip-tls13"] {
        let c = case(name);
        assert!(!c.failed());
        let f = c.findings();
        assert!(errors(&f).is_empty(), "{name}: {:?}", kinds(&f));
        assert!(
            f.iter().all(|x| x.kind != FindingKind::MitmCertificate
                && x.kind != FindingKind::CertificateRejected),
            "{name}: {:?}",
            kinds(&f)
        );
    }
}

/// The user's own proxy named in GOPROXY is no public host: with the settings known, the
/// verdict stays certificate-rejected and never asks to exempt proxy.golang.org.
#[test]
fn users_goproxy_is_not_a_public_host() {
    let c = case("cert-unknownca-tls12");
    let mut how = c.read();
    how.settings = settings(&[("GOPROXY", "https://athens.corp.example")]);
    let f = diagnose(&c.capture, how);
    let r = only(&f, FindingKind::CertificateRejected);
    assert!(!r.summary.contains("public root"), "{}", r.summary);
    assert!(!r.remedy.as_deref().unwrap().contains("proxy.golang.org"));
}

// ---- tls: a forged reset that beat the server's reply ----

/// An on-path injector resets both ends 20 ms after the ClientHello; the server's reply,
/// delayed 50-300 ms on the path, arrives after the forged reset. What came first decides:
/// tls/reset-after-client-hello by a middlebox, never a transfer reset.
#[test]
fn forged_reset_before_the_late_server_reply_is_a_handshake_reset() {
    for name in [
        "gfw-d300-tls13",
        "gfw-d50-tls12",
        "gfw-d300-v6",
        "gfw-d300-userhost",
    ] {
        let c = case(name);
        assert!(c.failed());
        let f = c.findings();
        let r = only(&f, FindingKind::ResetAfterClientHello);
        assert_eq!(
            (r.severity, r.actor),
            (Severity::Error, Actor::Middlebox),
            "{name}"
        );
        let forged = c.truth["observed"]["rsts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| {
                x["before_server_data"] == true
                    && x["ttl"] == 64
                    && x["src"].as_str().unwrap().ends_with(":443")
            })
            .and_then(|x| x["frame"].as_u64())
            .unwrap();
        let hello = c.truth["observed"]["server_hellos"][0]["frame"]
            .as_u64()
            .unwrap();
        assert!(forged < hello, "{name}: the capture shows the race");
        let frames: Vec<u64> = r.evidence.iter().map(|e| e.packet).collect();
        assert!(
            frames.contains(&forged) && frames.contains(&hello),
            "{name}: {frames:?}"
        );
        assert!(r.summary.contains("won the race"), "{name}: {}", r.summary);
        assert!(
            f.iter().all(|x| x.kind != FindingKind::TransferReset),
            "{name}: {:?}",
            kinds(&f)
        );
        assert!(
            c.go_error().contains(r.likely_go_error.as_deref().unwrap()),
            "{name}"
        );
    }
    // A reset after the server's data is still a transfer reset (fixtures/transfer-reset).
    let f = diagnose(&fixture("transfer-reset"), Read::default());
    assert_eq!(
        only(&f, FindingKind::TransferReset).severity,
        Severity::Error
    );
    assert!(
        f.iter()
            .all(|x| x.kind != FindingKind::ResetAfterClientHello)
    );
}

// ---- proxy: a forward proxy's own error page ----

/// HTTP_PROXY with an http:// GOPROXY: go sends `GET http://goproxy.corp.example/...` to the
/// proxy, which cannot reach it and answers with its own page (squid 502/503, tinyproxy
/// "500 Unable to connect"). That is proxy/proxy-error by the proxy, naming what gave the
/// proxy away, not an http error of the module proxy.
#[test]
fn forward_proxy_error_page_is_the_proxy_s() {
    for (name, mark) in [
        ("proxyerr-squid-http-dns", "Server: squid/5.7"),
        ("proxyerr-squid-http-timeout", "Server: squid/5.7"),
        ("proxyerr-tinyproxy-http-dns", "Server: tinyproxy/1.11.1"),
    ] {
        let c = case(name);
        let f = c.findings();
        let p = only(&f, FindingKind::ProxyError);
        assert_eq!(
            (p.stage, p.actor, p.severity),
            (Stage::Proxy, Actor::Proxy, Severity::Error),
            "{name}"
        );
        assert!(p.summary.contains(mark), "{name}: {}", p.summary);
        assert!(
            f.iter().all(|x| x.kind != FindingKind::HttpError),
            "{name}: {:?}",
            kinds(&f)
        );
        let printed = c.go_error();
        assert!(
            printed.contains(p.likely_go_error.as_deref().unwrap()),
            "{name}: {printed}"
        );
        assert!(
            p.remedy
                .as_deref()
                .unwrap()
                .contains("NO_PROXY=goproxy.corp.example"),
            "{name}"
        );
    }
    // A 501 to CONNECT: what listens there is no CONNECT proxy, not an upstream that is down.
    let c = case("proxyerr-501-connect");
    let f = c.findings();
    let p = only(&f, FindingKind::ProxyError);
    assert!(
        p.summary.contains("does not implement CONNECT"),
        "{}",
        p.summary
    );
    assert!(!p.remedy.as_deref().unwrap().contains("could not reach"));
    // The module proxy's own 500, fetched directly, stays an http error (fixtures/http-500).
    let f = diagnose(&fixture("http-500"), Read::default());
    assert_eq!(only(&f, FindingKind::HttpError).actor, Actor::Server);
}

/// Relayed answers keep the origin's `Server`: only the proxy's own page carries the marks.
#[test]
fn relayed_answer_has_no_proxy_marks() {
    use modsniff_core::http::HttpTransaction;
    let relayed = HttpTransaction {
        status: Some(500),
        reason: Some("Internal Server Error".into()),
        via: Some("1.1 proxy.corp.example (squid/5.7)".into()),
        ..HttpTransaction::default()
    };
    assert!(proxy::own_page_marks(&relayed).is_empty());
    let apache = HttpTransaction {
        status: Some(502),
        reason: Some("Proxy Error".into()),
        server: Some("Apache/2.4.62".into()),
        ..HttpTransaction::default()
    };
    assert_eq!(proxy::own_page_marks(&apache).len(), 1);
}

// ---- transfer: a path that went dark mid-download ----

/// The router drops every packet of the server's once 64 KiB went through; go hangs until it
/// is killed. Each variant shows it its own way: the client's h2 frames resent with a
/// backing-off timer (go 1.19), its FIN resent unanswered once go was killed (h1), a TLS
/// record left unfinished with everything acknowledged (all of them; alone in the capture
/// cut 4 s in). Whichever shows, it is a stall whose cause is the path (or a vanished host),
/// not the server's program.
#[test]
fn dark_path_is_a_stall_the_server_program_did_not_cause() {
    for name in [
        "dark-64k-go119",
        "dark-64k-h1",
        "dark-64k-sll2-d50",
        "cut-dark-time",
    ] {
        let c = case(name);
        assert!(c.failed());
        let f = c.findings();
        let s = only(&f, FindingKind::TransferStall);
        assert_eq!(
            (s.severity, s.actor),
            (Severity::Error, Actor::Unknown),
            "{name}"
        );
        assert!(s.summary.contains("went dark"), "{name}: {}", s.summary);
        let last = c.truth["observed"]["last_server_data"]["frame"]
            .as_u64()
            .unwrap();
        assert!(
            s.evidence.iter().any(|e| e.packet == last),
            "{name}: the server's last data (frame {last}) is cited"
        );
        // Every resend cited is one tshark counts as a retransmission.
        let resends = s
            .evidence
            .iter()
            .filter(|e| e.note.contains("resend"))
            .count() as u64;
        let rtx = c.truth["observed"]["tcp_retransmissions"].as_u64().unwrap();
        assert!(resends <= rtx, "{name}: {resends} resends, tshark {rtx}");
        assert_eq!(errors(&f).len(), 1, "{name}: {:?}", kinds(&f));
    }
    // The go 1.19 client kept resending its WINDOW_UPDATEs: six, each unanswered.
    let c = case("dark-64k-go119");
    let f = c.findings();
    let s = only(&f, FindingKind::TransferStall);
    assert_eq!(
        s.evidence
            .iter()
            .filter(|e| e.note.contains("resend"))
            .count(),
        6
    );
    // Cut 4 s in, 1.8 s into the silence: the stall stands, and says where the capture ends.
    let c = case("cut-dark-time");
    let f = c.findings();
    let s = only(&f, FindingKind::TransferStall);
    assert!(s.summary.contains("capture ends"), "{}", s.summary);
}

/// The server's program stops mid-body, its host stays up: when go gives up, the server's
/// kernel answers the FIN at once. That stall is the server's.
#[test]
fn server_program_stall_is_the_server_s() {
    let c = case("xfer-stall-64k");
    assert!(c.failed());
    let f = c.findings();
    let s = only(&f, FindingKind::TransferStall);
    assert_eq!((s.severity, s.actor), (Severity::Error, Actor::Server));
    assert!(!s.summary.contains("went dark"), "{}", s.summary);
    assert!(
        s.summary.contains("answered the client's close"),
        "{}",
        s.summary
    );
}

// ---- dns: a query retried and never answered ----

/// The resolver takes every query and never answers (resolv.conf timeout:1 attempts:2). The
/// client asked again a second later under new IDs: that retry proves the first attempt timed
/// out, even though the capture ends right after it.
#[test]
fn unanswered_query_asked_again_is_a_dns_timeout() {
    let c = case("dns-timeout");
    assert!(c.failed());
    let f = c.findings();
    let t = only(&f, FindingKind::DnsTimeout);
    assert_eq!(
        (t.severity, t.actor, t.stage),
        (Severity::Error, Actor::Resolver, Stage::Dns)
    );
    assert!(t.summary.contains("asked again"), "{}", t.summary);
    assert!(t.summary.contains("capture ends"), "{}", t.summary);
    let queries: Vec<u64> = c.truth["observed"]["dns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["response"] == false)
        .map(|q| q["frame"].as_u64().unwrap())
        .collect();
    let cited: Vec<u64> = t.evidence.iter().map(|e| e.packet).collect();
    assert_eq!(cited, queries);
    // go names the source port of one of the last two queries (a race); the rest is ours.
    let go = t.likely_go_error.as_deref().unwrap();
    let printed = c.go_error();
    let (head, _) = go.split_once("read udp").unwrap();
    assert!(printed.contains(head), "{go:?} vs {printed:?}");
    assert!(
        printed.ends_with("->10.77.2.53:53: i/o timeout"),
        "{printed}"
    );
    assert!(f.iter().all(|x| x.kind != FindingKind::CaptureIncomplete));
}

/// `tcpdump -c 8` stopped after the A answer, before go's first SYN: the capture holds no
/// sign of the blackhole, so it says it is incomplete, and no more.
#[test]
fn capture_cut_before_the_first_syn_claims_no_connect_fault() {
    let c = case("cut-synblackhole-early");
    assert!(c.failed());
    let f = c.findings();
    assert!(errors(&f).is_empty(), "{:?}", kinds(&f));
    let i = only(&f, FindingKind::CaptureIncomplete);
    assert!(
        i.summary
            .contains("resolved, the connection that follows is not in the capture"),
        "{}",
        i.summary
    );
}

// ---- GOPROXY lists: a failure the next entry got past ----

/// GOPROXY="https://athens.corp.example|https://proxy.golang.org": athens refused, stalled or
/// served a certificate the client refused, on each of go's fetches, and go went on to
/// proxy.golang.org after each and succeeded (exit 0). The failures are real and stay in the
/// report, as warnings that say the go command recovered; nothing fails the verdict.
#[test]
fn failure_the_next_goproxy_entry_got_past_is_a_warning() {
    for (name, kind) in [
        ("list-pipe-refused-fallback", FindingKind::ConnectRefused),
        ("list-pipe-stall-fallback", FindingKind::HandshakeStall),
        ("list-pipe-cert-fallback", FindingKind::CertificateRejected),
    ] {
        let c = case(name);
        assert!(!c.failed(), "{name}");
        let f = c.findings();
        assert!(errors(&f).is_empty(), "{name}: {:?}", kinds(&f));
        let on_a: Vec<&Finding> = f.iter().filter(|x| x.kind == kind).collect();
        assert!(!on_a.is_empty(), "{name}: {:?}", kinds(&f));
        for x in on_a {
            assert_eq!(x.severity, Severity::Warning, "{name}");
            assert_eq!(x.server_name.as_deref(), Some("athens.corp.example"));
            assert!(x.summary.contains("proxy.golang.org"), "{}", x.summary);
            assert!(x.summary.contains("recovered"), "{}", x.summary);
            let r = x.remedy.as_deref().unwrap();
            assert!(r.contains("take it out of GOPROXY"), "{r}");
            assert!(!r.contains("GOPROXY=\""), "{r}");
            assert!(!r.contains(remedy::MIRROR), "{r}");
        }
    }
}

/// The same capture read with the list the user says it had: after ',' a refused connection
/// ends the go command (only 404 and 410 fall through), so what proxy.golang.org served came
/// for another reason and the refusal stays an error; with '|' it was recovered.
#[test]
fn stated_goproxy_separator_decides_the_fall_through() {
    let c = case("list-pipe-refused-fallback");
    let read = |goproxy: &str| Read {
        settings: settings(&[("GOPROXY", goproxy)]),
        ..c.read()
    };
    let comma = diagnose(
        &c.capture,
        read("https://athens.corp.example,https://proxy.golang.org"),
    );
    assert!(
        errors(&comma)
            .iter()
            .all(|x| x.kind == FindingKind::ConnectRefused),
        "{:?}",
        kinds(&comma)
    );
    assert_eq!(errors(&comma).len(), 3, "{:?}", kinds(&comma));
    let pipe = diagnose(
        &c.capture,
        read("https://athens.corp.example|https://proxy.golang.org"),
    );
    assert!(errors(&pipe).is_empty(), "{:?}", kinds(&pipe));
    assert!(pipe.iter().any(|x| x.summary.contains("with '|'")));
}

/// GOPROXY="https://athens.corp.example,https://proxy.golang.org" with athens refusing: go
/// stopped at the refusal (exit 1) and never asked proxy.golang.org; the refusal stays an error.
#[test]
fn failure_nothing_got_past_stays_an_error() {
    let c = case("list-comma-refused");
    assert!(c.failed());
    let f = c.findings();
    let r = only(&f, FindingKind::ConnectRefused);
    assert_eq!(r.severity, Severity::Error);
}

// ---- tls: the server's encrypted alert after the client's second flight ----

/// The server requires a client certificate (TLS 1.3, tls.RequireAnyClientCert) and go has
/// none: go's first encrypted record is an empty Certificate (25 bytes, frame 23), the
/// server answers the client's Finished and request with one 19-byte record (frame 27, its
/// alert, encrypted) and resets the connection when the client's own close arrives (frame 30).
#[test]
fn server_alert_after_the_client_s_finished_is_a_handshake_abort() {
    let c = case("alert-server-clientauth-tls13");
    assert!(c.failed());
    let f = c.findings();
    let a = only(&f, FindingKind::HandshakeAborted);
    assert_eq!(
        (a.severity, a.actor, a.stage),
        (Severity::Error, Actor::Server, Stage::Tls)
    );
    let cited: Vec<u64> = a.evidence.iter().map(|e| e.packet).collect();
    let rst = c.truth["observed"]["rsts"][0]["frame"].as_u64().unwrap();
    assert!(cited.contains(&rst), "{cited:?}");
    assert!(cited.contains(&23) && cited.contains(&27), "{cited:?}");
    // go printed the alert's name: the capture can only say what an empty Certificate implies.
    let go = a.likely_go_error.as_deref().unwrap();
    assert!(c.go_error().ends_with(go), "{go:?} vs {:?}", c.go_error());
    assert!(a.summary.contains("cannot be read"), "{}", a.summary);
    assert!(a.remedy.as_deref().unwrap().contains("client certificate"));
}

/// The same capture stopped earlier. Before the server's record (frame 26) there is nothing
/// to see yet; after it but before either side closed (frame 27) the server may have sent
/// more, so no refusal is claimed, and neither capture reads as OK. Once the client closed
/// after that lone record (frame 29, its FIN) the connection ended there: the refusal holds.
#[test]
fn server_record_is_a_refusal_only_once_the_connection_ended_on_it() {
    let c = case("alert-server-clientauth-tls13");
    let read = |packets| {
        diagnose(
            &c.capture,
            Read {
                packets: Some(packets),
                ..c.read()
            },
        )
    };
    for packets in [26, 27] {
        let f = read(packets);
        assert!(
            f.iter().all(|x| x.kind != FindingKind::HandshakeAborted),
            "{packets}: {:?}",
            kinds(&f)
        );
        assert!(!f.is_empty(), "{packets}: reported clean");
    }
    let f = read(29);
    let a = only(&f, FindingKind::HandshakeAborted);
    assert!(
        a.evidence
            .iter()
            .any(|e| e.packet == 29 && e.note == "FIN from the client")
    );
}

// ---- remedies: for whoever can act, naming what to change ----

/// A middlebox's alert (the harness's filter answers every ClientHello on the router) is the
/// network's doing, not the server refusing what the client offered; the server's own
/// TLS 1.0-only answer is for whoever runs it, naming the versions to enable.
#[test]
fn alert_remedy_follows_who_sent_it() {
    let f = case("alert-middlebox-hsfail").findings();
    let a = only(&f, FindingKind::HandshakeAborted);
    assert_eq!(a.actor, Actor::Middlebox);
    let r = a.remedy.as_deref().unwrap();
    assert!(!r.contains("server rejects"), "{r}");
    assert!(r.contains("middlebox") && r.contains("network team"), "{r}");
    let f = case("alert-server-tls10").findings();
    let a = only(&f, FindingKind::HandshakeAborted);
    assert_eq!(a.actor, Actor::Server);
    let r = a.remedy.as_deref().unwrap();
    assert!(r.contains("whoever runs proxy.golang.org"), "{r}");
    assert!(r.contains("TLS 1.2 or 1.3"), "{r}");
}

/// NXDOMAIN for proxy.golang.org from a resolver that knows only the company's names: the
/// name exists, so its spelling is not the question; the company's way out is.
#[test]
fn nxdomain_for_a_public_go_host_points_at_the_company_s_way_out() {
    let f = case("dns-corponly-nxdomain").findings();
    let n = only(&f, FindingKind::DnsNxdomain);
    let r = n.remedy.as_deref().unwrap();
    assert!(!r.contains("spelling"), "{r}");
    assert!(
        r.contains("HTTPS_PROXY") && r.contains("module proxy"),
        "{r}"
    );
}

/// fixtures/goproxy-fallback: the first GOPROXY entry answers 404 and go falls through to the
/// next, as designed: an info finding, with nothing to do.
#[test]
fn fall_through_by_design_carries_no_remedy() {
    let f = diagnose(&fixture("goproxy-fallback"), Read::default());
    let n: Vec<&Finding> = f
        .iter()
        .filter(|x| x.kind == FindingKind::HttpNotFound)
        .collect();
    assert!(!n.is_empty(), "{:?}", kinds(&f));
    for x in n {
        assert_eq!(x.severity, Severity::Info);
        assert_eq!(x.remedy, None, "{}", x.summary);
    }
}

/// A public mirror is one option beside the company's own module proxy, which comes first;
/// when the failing host is the user's own module proxy, the advice is a public one after it.
#[test]
fn mirror_advice_fits_the_failing_host() {
    let f = case("gfw-d50-tls13").findings();
    let r = only(&f, FindingKind::ResetAfterClientHello)
        .remedy
        .clone()
        .unwrap();
    let company = r.find("company runs a module proxy").expect(&r);
    let public = r.find("goproxy.cn").expect(&r);
    assert!(company < public, "{r}");
    let f = case("userhost-refused").findings();
    let x = only(&f, FindingKind::ConnectRefused);
    assert_eq!(x.server_name.as_deref(), Some("athens.corp.example"));
    let r = x.remedy.as_deref().unwrap();
    assert!(!r.contains("company runs a module proxy"), "{r}");
    assert!(r.contains("|https://proxy.golang.org"), "{r}");
}
