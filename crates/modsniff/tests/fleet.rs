//! The fleet recipe for real (README, "Many hosts"): a ClickHouse server of its own, two
//! sniffers (`modsniff live --output ... --rotate-size`) in network namespaces of their own
//! on replays of different fixtures, deploy/clickhouse/ship.sh loading their rotated files
//! (once killed right after an INSERT, before it wrote it down), and deploy/clickhouse/
//! queries.sql answering what the fixtures' expected.json says was injected on which host.
//! The same files through the same schema and queries on a current ClickHouse (chdb).
//!
//! Needs root, the `live` feature, tcpreplay, curl and clickhouse-server (.ci/run installs
//! it); SKIPs with the reason otherwise. chdb (PyPI) is optional: its part SKIPs alone.

use crate::common::*;
use crate::live::{ChildGuard, Netns, is_root, lines, packets_in, start_capturing};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn deploy() -> PathBuf {
    root().join("deploy/clickhouse")
}

fn runs(prog: &str, arg: &str) -> bool {
    Command::new(prog)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A loopback port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// clickhouse-server in a temporary directory, on ports of its own, killed when dropped.
struct ClickHouse {
    dir: PathBuf,
    url: String,
    _server: ChildGuard,
}

impl ClickHouse {
    fn start(what: &str) -> Option<ClickHouse> {
        let server = ["/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .map(PathBuf::from)
            .or_else(|| runs("clickhouse-server", "--version").then(|| "clickhouse-server".into()));
        let Some(server) = server else {
            eprintln!(
                "SKIP {what}: clickhouse-server is not installed (apt-get install clickhouse-server)"
            );
            return None;
        };
        let dir = std::env::temp_dir().join(format!("modsniff-fleet-ch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let (http, tcp) = (free_port(), free_port());
        let d = dir.display();
        std::fs::write(
            dir.join("config.xml"),
            format!(
                r#"<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/error.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{http}</http_port>
  <tcp_port>{tcp}</tcp_port>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
  <timezone>UTC</timezone>
</yandex>
"#
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("users.xml"),
            r#"<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
"#,
        )
        .unwrap();
        let child = Command::new(&server)
            .arg(format!(
                "--config-file={}",
                dir.join("config.xml").display()
            ))
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start clickhouse-server");
        let ch = ClickHouse {
            url: format!("http://127.0.0.1:{http}/"),
            dir,
            _server: ChildGuard(Some(child)),
        };
        let start = Instant::now();
        while ch.try_query("SELECT 1").as_deref() != Ok("1") {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "clickhouse-server did not answer within 60 s: {}",
                std::fs::read_to_string(ch.dir.join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Some(ch)
    }

    fn try_query(&self, sql: &str) -> Result<String, String> {
        let out = Command::new("curl")
            .args(["-sS", "--fail-with-body", &self.url, "--data-binary", sql])
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() {
            Ok(text)
        } else {
            Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    fn query(&self, sql: &str) -> String {
        self.try_query(sql)
            .unwrap_or_else(|e| panic!("ClickHouse refused:\n{sql}\n{e}"))
    }

    /// The rows of a query as JSON arrays (its JSONCompact `data`).
    fn rows(&self, sql: &str) -> Vec<Vec<serde_json::Value>> {
        let text = self.query(&format!("{sql} FORMAT JSONCompact"));
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSONCompact");
        serde_json::from_value(v["data"].clone()).expect("rows")
    }
}

impl Drop for ClickHouse {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The statements of a .sql file under deploy/clickhouse, each with the name its
/// `-- name:` line gives.
fn statements(file: &str) -> Vec<(Option<String>, String)> {
    let text = std::fs::read_to_string(deploy().join(file)).expect("deploy/clickhouse sql");
    let (mut out, mut name, mut lines) = (Vec::new(), None, Vec::<&str>::new());
    for line in text.lines() {
        let s = line.trim();
        if let Some(n) = s.strip_prefix("-- name:") {
            name = Some(n.trim().to_string());
            continue;
        }
        if s.starts_with("--") {
            continue;
        }
        lines.push(line);
        if s.ends_with(';') {
            let body = lines
                .join("\n")
                .trim()
                .trim_end_matches(';')
                .trim()
                .to_string();
            if !body.is_empty() {
                out.push((name.take(), body));
            }
            lines.clear();
        }
    }
    out
}

/// What the fixture harness injected in one case (fixtures/<case>/expected.json), in
/// modsniff's words.
struct Injected {
    /// The finding kind it must cause.
    kind: &'static str,
    target: String,
    issuer_cn: Option<String>,
}

fn injected(case: &str) -> Injected {
    let all: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap())
            .unwrap();
    let e = &all[case];
    let kind = match e["kind"].as_str() {
        Some("reset-after-clienthello") => "reset-after-client-hello",
        Some("mitm-cert") => "mitm-certificate",
        Some("http-5xx") => "http-error",
        other => panic!("{case}: no mapping for the harness kind {other:?}"),
    };
    let issuer_cn = e["forged_chain_issuer"].as_str().and_then(|i| {
        i.split(", ")
            .find_map(|p| p.strip_prefix("CN="))
            .map(str::to_string)
    });
    Injected {
        kind,
        target: e["targets"][0]["name"].as_str().unwrap().to_string(),
        issuer_cn,
    }
}

/// One sniffer: its host name, what is replayed to it, and what it wrote.
struct Sniffer {
    host: &'static str,
    cases: &'static [&'static str],
    output: PathBuf,
}

impl Sniffer {
    /// The rotated files, in name (time) order; the current file must be gone.
    fn files(&self) -> Vec<PathBuf> {
        let dir = self.output.parent().unwrap();
        let name = self
            .output
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{name}.")))
            })
            .collect();
        v.sort();
        v
    }
}

/// Replays the sniffer's cases onto a veth pair in its own namespace while `modsniff live`
/// writes to a small rotating file; checks what it wrote: whole records in every file, one
/// session numbered 1..n without a gap across the files, the fleet fields on each.
fn sniff(s: &Sniffer, tag: &str, what: &str) -> Option<Vec<serde_json::Value>> {
    let ns = Netns::new(tag, what)?;
    ns.veth("fla", "flb");
    let total: u64 = s
        .cases
        .iter()
        .map(|c| packets_in(&fixtures().join(c).join("capture.pcap")))
        .sum();
    let guard = start_capturing(
        ns.cmd(&bin())
            .args([
                "live",
                "-i",
                "flb",
                "--format",
                "ndjson",
                "--duration",
                "60",
            ])
            .args(["-c", &total.to_string(), "--host-name", s.host])
            .arg("--output")
            .arg(&s.output)
            .args(["--rotate-size", "1k", "--rotate-seconds", "3600"]),
        1,
    );
    for case in s.cases {
        ns.replay("fla", &fixtures().join(case).join("capture.pcap"), true);
    }
    let out = guard.wait_output(Duration::from_secs(70));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.stdout.is_empty(),
        "--output takes the records: {stderr}"
    );
    assert!(
        !s.output.exists(),
        "the last file is rotated out at the end"
    );
    let files = s.files();
    assert!(
        files.len() >= 3,
        "{}: rotated {} files",
        s.host,
        files.len()
    );
    let mut recs = Vec::new();
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert_eq!(
            bytes.last(),
            Some(&b'\n'),
            "{}: ends between records",
            f.display()
        );
        recs.extend(lines(&bytes));
    }
    let session = recs[0]["session"].clone();
    for (i, r) in recs.iter().enumerate() {
        crate::wire_types::parse_record(r)
            .unwrap_or_else(|e| panic!("{}: breaks the contract: {e}\n{r}", s.host));
        assert_eq!(
            r["seq"],
            i as u64 + 1,
            "{}: seq without gaps across files",
            s.host
        );
        assert_eq!(r["session"], session);
        assert_eq!(r["host_name"], s.host);
        assert_eq!(r["interface"], "flb");
        assert_eq!(r["modsniff_version"], env!("CARGO_PKG_VERSION"));
        let t = r["time"].as_str().unwrap_or_default();
        assert!(t.ends_with('Z') && t.len() == 27, "{t}");
        assert!(r["time_unix"].as_f64().unwrap_or(0.0) > 1.6e9, "{r}");
    }
    let stats = recs.last().unwrap();
    assert_eq!(stats["type"], "stats");
    assert_eq!(
        stats["packets"], total,
        "every replayed packet seen: {stderr}"
    );
    Some(recs)
}

fn ship(ch: &ClickHouse, s: &Sniffer, die_after: Option<u32>) -> std::process::Output {
    let mut c = Command::new("bash");
    c.arg(deploy().join("ship.sh"))
        .args(["--url", &ch.url, "--once", "--batch-bytes", "4000"])
        .arg(&s.output);
    if let Some(n) = die_after {
        c.env("MODSNIFF_SHIP_DIE_AFTER_INSERT", n.to_string());
    }
    c.output().expect("ship.sh")
}

fn strings(rows: &[Vec<serde_json::Value>], col: usize) -> BTreeSet<String> {
    rows.iter()
        .map(|r| r[col].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn fleet_sniffers_ship_to_clickhouse_and_the_queries_answer_what_was_injected() {
    let what = "fleet: two sniffers into ClickHouse";
    if !runs("tcpreplay", "--version") || !runs("curl", "--version") {
        eprintln!("SKIP {what}: tcpreplay or curl is not installed");
        return;
    }
    if !(cfg!(feature = "live") && is_root()) {
        eprintln!("SKIP {what}: needs root and the `live` feature");
        return;
    }
    let Some(ch) = ClickHouse::start(what) else {
        return;
    };
    let out = std::env::temp_dir().join(format!("modsniff-fleet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let sniffers = [
        Sniffer {
            host: "runner-a",
            cases: &["sni-filter-rst", "mitm-untrusted-tls12"],
            output: out.join("a/records.ndjson"),
        },
        Sniffer {
            host: "runner-b",
            cases: &["http-500"],
            output: out.join("b/records.ndjson"),
        },
    ];
    let mut written: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::new();
    for (i, s) in sniffers.iter().enumerate() {
        std::fs::create_dir_all(s.output.parent().unwrap()).unwrap();
        let Some(recs) = sniff(s, &format!("fleet{i}"), what) else {
            return;
        };
        written.insert(s.host, recs);
    }

    for (_, st) in statements("schema.sql") {
        ch.query(&st);
    }
    // runner-a's shipper dies right after its first INSERT, before writing it down; run
    // again, it must neither lose nor repeat a record.
    let killed = ship(&ch, &sniffers[0], Some(1));
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&killed.status),
        Some(9),
        "{}",
        String::from_utf8_lossy(&killed.stderr)
    );
    for s in &sniffers {
        let o = ship(&ch, s, None);
        assert!(
            o.status.success(),
            "ship.sh: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // Nothing left to ship: a third run loads nothing.
    let again = ship(&ch, &sniffers[0], None);
    assert!(
        String::from_utf8_lossy(&again.stderr).is_empty(),
        "{again:?}"
    );

    // Records in = rows out, none twice (no FINAL, no OPTIMIZE), bytes as written.
    let all: Vec<&serde_json::Value> = written.values().flatten().collect();
    let mut bytes_written = 0u64;
    for s in &sniffers {
        for f in s.files() {
            bytes_written += std::fs::metadata(f).unwrap().len();
        }
    }
    let mut bytes_stored = 0u64;
    for (ty, table) in [
        ("connection", "connections"),
        ("dns", "dns"),
        ("finding", "findings"),
        ("stats", "runs"),
    ] {
        let n = all.iter().filter(|r| r["type"] == ty).count();
        let got = ch.query(&format!(
            "SELECT count(), uniqExact(session, seq), sum(length(raw) + 1) FROM modsniff.{table} FORMAT TSV"
        ));
        let got: Vec<u64> = got.split('\t').map(|x| x.parse().unwrap()).collect();
        assert_eq!(got[0] as usize, n, "{table}: rows = records written");
        assert_eq!(got[1], got[0], "{table}: no record twice");
        bytes_stored += got[2];
    }
    assert_eq!(
        bytes_stored, bytes_written,
        "every byte of every line stored"
    );

    let answers: BTreeMap<String, Vec<Vec<serde_json::Value>>> = statements("queries.sql")
        .into_iter()
        .map(|(name, q)| (name.expect("every query is named"), ch.rows(&q)))
        .collect();
    eprintln!("answers: {answers:#?}");

    // What was injected where, from expected.json.
    let mut hosts_of: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut per_host: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    let mut issuers = BTreeSet::new();
    let mut resets_on_a = 0;
    for s in &sniffers {
        for case in s.cases {
            let inj = injected(case);
            hosts_of
                .entry(inj.kind)
                .or_default()
                .insert(s.host.to_string());
            per_host
                .entry(s.host.to_string())
                .or_default()
                .insert((inj.target.clone(), inj.kind.to_string()));
            if inj.kind == "reset-after-client-hello" && s.host == "runner-a" {
                resets_on_a += 1;
            }
            issuers.extend(inj.issuer_cn);
        }
    }
    let resets = &answers["forged_resets_this_hour"];
    assert_eq!(
        strings(resets, 0),
        hosts_of["reset-after-client-hello"],
        "{resets:?}"
    );
    assert_eq!(
        resets[0][1].to_string().trim_matches('"'),
        resets_on_a.to_string()
    );
    assert_eq!(
        strings(&answers["interception_by_host"], 0),
        hosts_of["mitm-certificate"]
    );
    let iss = &answers["interception_issuers"];
    assert_eq!(iss.len(), 1, "{iss:?}");
    let issuer = iss[0][0].as_str().unwrap_or_default();
    assert!(
        issuers
            .iter()
            .all(|cn| issuer.contains(&format!("CN={cn}")))
            && !issuers.is_empty(),
        "{issuer} vs {issuers:?}"
    );
    assert_eq!(iss[0][2], "runner-a");
    let fivexx = &answers["mirror_5xx_since"];
    let targets: BTreeSet<String> = sniffers
        .iter()
        .flat_map(|s| s.cases.iter())
        .map(|c| injected(c))
        .filter(|i| i.kind == "http-error")
        .map(|i| i.target)
        .collect();
    assert_eq!(strings(fivexx, 0), targets, "{fivexx:?}");
    let top = &answers["top_failing_endpoints"];
    let mut got_per_host: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for r in top {
        got_per_host
            .entry(r[0].as_str().unwrap().to_string())
            .or_default()
            .insert((
                r[1].as_str().unwrap().to_string(),
                r[3].as_str().unwrap().to_string(),
            ));
    }
    assert_eq!(got_per_host, per_host, "top failing endpoints per host");
    let sessions = &answers["records_per_session"];
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    for r in sessions {
        let host = r[0].as_str().unwrap();
        let n = written[host].len().to_string();
        assert_eq!(r[2].to_string().trim_matches('"'), n, "{host}");
        assert_eq!(
            r[4].to_string().trim_matches('"'),
            "0",
            "{host}: nothing missing"
        );
    }
    let stalls = &answers["stall_rate_per_mirror_hour"];
    assert!(!stalls.is_empty());

    // The same files, schema and queries on a current ClickHouse.
    let files: Vec<PathBuf> = sniffers.iter().flat_map(|s| s.files()).collect();
    let chdb = Command::new("python3")
        .arg(deploy().join("chdb-check.py"))
        .args(&files)
        .output();
    match chdb {
        Ok(o) if o.status.code() == Some(3) => {
            eprintln!("SKIP {what}, on chdb: python3 cannot import chdb (pip install chdb)")
        }
        Ok(o) => {
            assert!(
                o.status.success(),
                "chdb-check.py: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            eprintln!("chdb {}: {}", v["version"], v["rows"]);
            let n: u64 = ["connections", "dns", "findings", "runs"]
                .iter()
                .map(|t| v["rows"][t][0].as_u64().unwrap())
                .sum();
            assert_eq!(n as usize, all.len(), "chdb: rows = records");
            for (name, col) in [
                ("forged_resets_this_hour", 0),
                ("interception_by_host", 0),
                ("interception_issuers", 0),
                ("mirror_5xx_since", 0),
                ("top_failing_endpoints", 3),
                ("records_per_session", 1),
            ] {
                let current: Vec<Vec<serde_json::Value>> =
                    serde_json::from_value(v["answers"][name].clone()).unwrap();
                assert_eq!(
                    strings(&current, col),
                    strings(&answers[name], col),
                    "{name}: 18.16 and current answer alike"
                );
            }
        }
        Err(e) => eprintln!("SKIP {what}, on chdb: no python3 ({e})"),
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// A full disk under `--output`: whole records are dropped (none cut), counted and said;
/// the run ends normally; what was written plus what was dropped is every record, and the
/// gaps in `seq` are the dropped ones.
#[test]
fn a_full_disk_drops_whole_records_and_says_how_many() {
    let what = "--output on a full disk";
    if !is_root() {
        eprintln!("SKIP {what}: not root (mounts a small tmpfs)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("modsniff-full-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let m = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=96k", "modsniff-full"])
        .arg(&dir)
        .output()
        .expect("mount");
    if !m.status.success() {
        eprintln!(
            "SKIP {what}: cannot mount a tmpfs: {}",
            String::from_utf8_lossy(&m.stderr)
        );
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let _guard = Unmount(dir.clone());
    let mut caps: Vec<PathBuf> = captures(&fixtures())
        .into_iter()
        .filter(|p| !p.to_string_lossy().contains("/public/"))
        .collect();
    caps.truncate(40);
    let mut args: Vec<String> = ["read", "--format", "ndjson", "--host-name", "full"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(caps.iter().map(|p| p.display().to_string()));
    let all = Command::new(bin())
        .args(&args)
        .output()
        .expect("modsniff read");
    let total = lines(&all.stdout).len();
    let out = Command::new(bin())
        .args(&args)
        .arg("--output")
        .arg(dir.join("out.ndjson"))
        .args(["--rotate-size", "16k"])
        .output()
        .expect("modsniff read --output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "a full disk is not a failure of the run: {:?} {stderr}",
        out.status
    );
    let dropped: usize = stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("modsniff: output: ")?
                .split(" records could not be written")
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("the drops are said: {stderr}"));
    assert!(
        dropped > 0 && dropped < total,
        "{dropped} of {total}: {stderr}"
    );
    let mut kept = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for f in &names {
        let bytes = std::fs::read(f).unwrap();
        if !bytes.is_empty() {
            assert_eq!(
                bytes.last(),
                Some(&b'\n'),
                "{}: whole records only",
                f.display()
            );
        }
        kept.extend(lines(&bytes));
    }
    assert_eq!(
        kept.len() + dropped,
        total,
        "written + dropped = every record"
    );
    let seqs: BTreeSet<u64> = kept.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs.len(), kept.len(), "no record twice");
    assert!(seqs.iter().all(|s| (1..=total as u64).contains(s)));
}

/// SIGHUP reopens `--output` (logrotate renames the file, then signals) instead of stopping
/// the capture: here the wrapped command renames the file and signals modsniff; the capture
/// goes on to the end of the command, and its last record lands in the new file.
#[test]
fn sighup_reopens_the_output_and_does_not_stop_the_capture() {
    let what = "SIGHUP reopens --output";
    let Some(ns) = Netns::new("hup", what) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("modsniff-hup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("records.ndjson");
    let script = format!(
        "sleep 1; mv {0} {0}.1; kill -HUP $PPID; sleep 2; echo done",
        f.display()
    );
    let out = ns
        .cmd(&bin())
        .args(["run", "-i", "lo", "--format", "ndjson", "--drain", "0.5"])
        .arg("--output")
        .arg(&f)
        .args(["--", "sh", "-c", &script])
        .output()
        .expect("modsniff run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the command ran to its end: {stderr}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "done");
    assert!(
        dir.join("records.ndjson.1").exists(),
        "the renamed file stays"
    );
    let recs = lines(&std::fs::read(&f).expect("a new file after SIGHUP"));
    let stats = recs.last().expect("the stats record in the new file");
    assert_eq!(stats["type"], "stats");
    assert_eq!(stats["interface"], "lo");
    let _ = std::fs::remove_dir_all(&dir);
}
