//! `--format html` and `--html FILE`: one self-contained page, checked in a real browser.
//!
//! Headless Chromium (Debian's `chromium`; `MODSNIFF_CHROMIUM` names another) loads each
//! page from a file and
//! - reports no console message (a script error, or content the page's policy blocked),
//! - leaves the page's own error recorder empty and its script finished (`data-ready`),
//! - shows the verdict (FAILED exactly when the go command failed, from fixtures/expected.json)
//!   and every finding's label, each cited frame as an anchor, a timeline for each connection
//!   with findings;
//! - renders a PNG screenshot.
//!
//! Hostile names and URIs from the wire come out escaped and inject nothing. A 10,000
//! connection capture gives a bounded page that still renders. Without Chromium the browser
//! checks SKIP (the static ones still run).

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Chromium's flags that work in a container as root, without network or first-run chores.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
];

fn chromium(what: &str) -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = std::env::var_os("MODSNIFF_CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(["chromium", "chromium-browser", "google-chrome"].map(PathBuf::from))
        .collect();
    for c in candidates {
        if Command::new(&c)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            return Some(c);
        }
    }
    eprintln!(
        "SKIP {what}: Chromium is not installed (apt-get install chromium; .ci/run installs it)"
    );
    None
}

/// A scratch directory of this test's own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("modsniff-html-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs Chromium on the page with `args` (a fresh profile each time); returns its stdout and
/// the console lines of its log.
fn browse(chrome: &Path, page: &Path, scratch: &Scratch, args: &[&str]) -> (String, Vec<String>) {
    let profile = scratch.path("profile");
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).unwrap();
    // `timeout` bounds a browser that hangs; output() reads both pipes as they fill (a DOM
    // is larger than a pipe's buffer).
    let out = Command::new("timeout")
        .arg("120")
        .arg(chrome)
        .args(FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .output()
        .expect("start chromium");
    assert!(out.status.success(), "chromium: {:?}", out.status);
    let log = String::from_utf8_lossy(&out.stderr);
    let console = log
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("CONSOLE("))
        .map(str::to_string)
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

/// The page's DOM after its scripts ran; fails on any console message or recorded error.
fn rendered_dom(chrome: &Path, page: &Path, scratch: &Scratch) -> String {
    let (dom, console) = browse(chrome, page, scratch, &["--dump-dom"]);
    assert!(
        console.is_empty(),
        "{}: console: {console:#?}",
        page.display()
    );
    assert!(
        dom.contains("data-ready=\"1\""),
        "{}: the script did not finish",
        page.display()
    );
    assert!(
        !dom.contains("data-js-errors=\""),
        "{}: script errors: {dom}",
        page.display()
    );
    dom
}

/// A PNG of the page: a real image of the window's size, not a blank one.
fn screenshot(chrome: &Path, page: &Path, png: &Path, scratch: &Scratch) {
    let shot = format!("--screenshot={}", png.display());
    let (_, console) = browse(chrome, page, scratch, &[&shot, "--window-size=1280,1000"]);
    assert!(console.is_empty(), "{console:#?}");
    let bytes = std::fs::read(png).expect("a screenshot");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 1000));
    // A white page compresses to a few KB; text, tables and timelines do not.
    assert!(
        bytes.len() > 20_000,
        "{}: {} bytes",
        png.display(),
        bytes.len()
    );
}

/// Writes `read --format html FILE [EXTRA]` to `page`; returns the NDJSON records of the
/// same run, for what the page must show.
fn page_of(capture: &Path, page: &Path, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["read", "--format", "html"];
    args.extend_from_slice(extra);
    args.push(capture.to_str().unwrap());
    let o = run(&args);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{o:?}");
    std::fs::write(page, &o.stdout).unwrap();
    let (_, recs, _) = ndjson(capture, extra);
    recs
}

fn label(f: &serde_json::Value) -> String {
    format!(
        "{}/{}",
        f["stage"].as_str().unwrap(),
        f["kind"].as_str().unwrap()
    )
}

/// What every page must hold, as text (before any browser).
fn static_checks(html: &str, recs: &[serde_json::Value], name: &str) {
    assert!(html.starts_with("<!DOCTYPE html>"), "{name}");
    // Self-contained: nothing to fetch, and a policy that forbids fetching.
    for needle in [
        "src=\"http",
        "href=\"http",
        "url(http",
        "@import",
        "<link",
        "<iframe",
    ] {
        assert!(!html.contains(needle), "{name}: {needle}");
    }
    assert!(html.contains("default-src 'none'"), "{name}");
    assert_eq!(
        html.matches("<script>").count(),
        2,
        "{name}: only the page's own scripts"
    );
    for f in of_type(recs, "finding") {
        for e in f["evidence"].as_array().unwrap() {
            let anchor = format!("id=\"r0-frame-{}\"", e["packet"]);
            assert!(html.contains(&anchor), "{name}: {anchor}");
        }
        // A finding about a connection has its timeline (a DNS one has the lookup's; one
        // about the capture as a whole has none).
        if f["stage"] != "dns" && !f["connection"].is_null() {
            let t = format!("id=\"r0-t{}\"", f["connection"]);
            assert!(html.contains(&t), "{name}: no timeline {t}");
        }
    }
}

#[test]
fn fixtures_render_in_chromium_with_verdict_and_every_finding() {
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("expected.json")).unwrap()).unwrap();
    let scratch = Scratch::new("fixtures");
    let chrome = chromium("HTML reports in Chromium (the static checks still run)");
    let mut rendered = 0;
    for case in [
        "sni-filter-rst",
        "transfer-stall",
        "goproxy-fallback",
        "dns-timeout",
        "dns-forged",
        "lossy-heavy",
        "proxy-auth",
        "mitm-untrusted-tls13",
        "refused-icmp-port",
        "http-404",
        "tls-alert-server",
        "ipv6-sni-rst",
        "clean",
    ] {
        let capture = fixtures().join(case).join("capture.pcap");
        let page = scratch.path(&format!("{case}.html"));
        let recs = page_of(&capture, &page, &[]);
        let html = std::fs::read_to_string(&page).unwrap();
        static_checks(&html, &recs, case);
        // A silence is drawn where the fixture made one (the server stops sending for 8 s),
        // not over a lossy but flowing transfer.
        match case {
            "transfer-stall" => assert!(html.contains(">silence 7.9"), "{case}: the stall"),
            "lossy-heavy" => assert!(!html.contains(">silence "), "{case}: no stall"),
            _ => {}
        }
        let Some(chrome) = &chrome else { continue };
        let dom = rendered_dom(chrome, &page, &scratch);
        // The verdict: FAILED exactly when the go command failed.
        let failed = !expected[case]["expect_success"].as_bool().unwrap();
        assert_eq!(dom.contains("FAILED: "), failed, "{case}: verdict");
        if !failed {
            assert!(
                dom.contains("OK: no problem found") || dom.contains("OK with "),
                "{case}"
            );
        }
        for f in of_type(&recs, "finding") {
            assert!(
                dom.contains(&label(f)),
                "{case}: {} not in the page",
                label(f)
            );
        }
        rendered += 1;
    }
    if let Some(chrome) = &chrome {
        let page = scratch.path("sni-filter-rst.html");
        screenshot(chrome, &page, &scratch.path("shot.png"), &scratch);
        assert_eq!(rendered, 13);
    }
}

/// The same run with `--html FILE` beside `--format ndjson`: the same page, and the NDJSON
/// unchanged on stdout; several files make one page with a section each.
#[test]
fn html_file_beside_another_format_and_several_captures() {
    let scratch = Scratch::new("beside");
    let capture = fixtures().join("proxy-auth/capture.pcap");
    let page = scratch.path("page.html");
    let o = run(&[
        "read",
        "--format",
        "ndjson",
        "--html",
        page.to_str().unwrap(),
        capture.to_str().unwrap(),
    ]);
    let (_, plain, _) = ndjson(&capture, &[]);
    let beside: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(beside, plain, "stdout is the NDJSON it was without --html");
    let alone = run(&["read", "--format", "html", capture.to_str().unwrap()]);
    assert_eq!(std::fs::read(&page).unwrap(), alone.stdout);
    // Two captures: one page, two sections, each with its own verdict.
    let two = scratch.path("two.html");
    let clean = fixtures().join("clean/capture.pcap");
    run(&[
        "read",
        "--html",
        two.to_str().unwrap(),
        capture.to_str().unwrap(),
        clean.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&two).unwrap();
    assert!(html.contains("id=\"r0\"") && html.contains("id=\"r1\""));
    assert!(html.contains("FAILED: 1 error") && html.contains("OK: no problem found"));
    if let Some(chrome) = chromium("two-run page in Chromium") {
        rendered_dom(&chrome, &two, &scratch);
    }
}

/// Replaces every `from` in a capture by `to` (the same length: frames keep their sizes;
/// checksums go stale, which the decoder ignores, as checksum offload makes it).
fn patched(from: &Path, pairs: &[(&[u8], &[u8])], to: &Path) {
    let mut d = std::fs::read(from).unwrap();
    for (a, b) in pairs {
        assert_eq!(a.len(), b.len());
        let mut found = false;
        let mut i = 0;
        while let Some(p) = d[i..].windows(a.len()).position(|w| w == *a) {
            d[i + p..i + p + a.len()].copy_from_slice(b);
            i += p + a.len();
            found = true;
        }
        assert!(found, "{}", String::from_utf8_lossy(a));
    }
    std::fs::write(to, d).unwrap();
}

#[test]
fn hostile_names_and_uris_are_escaped_and_inject_nothing() {
    let scratch = Scratch::new("hostile");
    let sni = scratch.path("sni.pcap");
    patched(
        &fixtures().join("sni-filter-rst/capture.pcap"),
        &[(b"proxy.golang.org", b"<svg/onload=x()>")],
        &sni,
    );
    let uri = scratch.path("uri.pcap");
    patched(
        &fixtures().join("http-404/capture.pcap"),
        &[
            (b"github.com/example/hello", b"'\"><svg/onload=alert(1)>"),
            (b"goproxy.corp.example", b"<script>x()</script>"),
        ],
        &uri,
    );
    let chrome = chromium("hostile input in Chromium (the static checks still run)");
    for (capture, raw, escaped) in [
        (&sni, "<svg/onload=x()>", "&lt;svg/onload=x()&gt;"),
        (&uri, "<svg/onload=alert(1)>", "&lt;svg/onload=alert(1)&gt;"),
        (
            &uri,
            "<script>x()</script>",
            "&lt;script&gt;x()&lt;/script&gt;",
        ),
    ] {
        let page = scratch.path("page.html");
        let recs = page_of(capture, &page, &[]);
        // The hostile text is in the run's records (it reached the report) ...
        let text: String = recs.iter().map(|r| r.to_string()).collect();
        assert!(
            text.contains(&raw.replace('"', "\\\"")),
            "{raw} not in the records"
        );
        let html = std::fs::read_to_string(&page).unwrap();
        // ... and in the page only escaped.
        assert!(!html.contains(raw), "{raw} unescaped in the page");
        assert!(html.contains(escaped), "{escaped} not in the page");
        assert_eq!(html.matches("<script>").count(), 2);
        static_checks(&html, &recs, raw);
        if let Some(chrome) = &chrome {
            // Nothing injected: no element made of it, nothing blocked or run.
            let dom = rendered_dom(chrome, &page, &scratch);
            assert!(
                !dom.contains(raw) && !dom.contains("onload=\""),
                "{raw} in the DOM"
            );
            assert!(dom.contains(escaped), "{escaped} not shown");
        }
    }
}

/// Writes a capture of `n` TCP connections over Ethernet: most complete a short exchange
/// with one of 50 servers; every 500th is refused (SYN answered by RST) by a server of its own.
fn many_connections(path: &Path, n: u32) {
    use modsniff_core::{LinkType, Packet, Timestamp};
    fn frame(
        (src, sp): ([u8; 4], u16),
        (dst, dp): ([u8; 4], u16),
        flags: u8,
        seq: u32,
        ack: u32,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0];
        let total = (40 + payload.len()) as u16;
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        let mut sum: u32 = ip
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        f.extend_from_slice(&ip);
        f.extend_from_slice(&sp.to_be_bytes());
        f.extend_from_slice(&dp.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&ack.to_be_bytes());
        f.extend_from_slice(&[5 << 4, flags, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(payload);
        f
    }
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut w = modsniff_capture::PcapWriter::new(file, LinkType::ETHERNET, 262_144).unwrap();
    let mut t: u64 = 1_700_000_000_000_000_000;
    let mut put = |f: Vec<u8>| {
        t += 50_000;
        w.write_packet(&Packet {
            ts: Timestamp::from_nanos(t),
            frame: 0,
            orig_len: f.len() as u32,
            linktype: LinkType::ETHERNET,
            data: &f,
        })
        .unwrap();
    };
    for i in 0..n {
        let c = [10, 1, (i >> 8) as u8, i as u8];
        let sp = 20_000 + (i % 40_000) as u16;
        if i % 500 == 7 {
            let s = [10, 8, ((i / 500) % 250) as u8, 1];
            put(frame((c, sp), (s, 443), 0x02, 1000, 0, b""));
            put(frame((s, 443), (c, sp), 0x14, 0, 1001, b""));
            continue;
        }
        let s = [10, 9, (i % 50) as u8, 1];
        put(frame((c, sp), (s, 443), 0x02, 1000, 0, b""));
        put(frame((s, 443), (c, sp), 0x12, 5000, 1001, b""));
        put(frame((c, sp), (s, 443), 0x10, 1001, 5001, b""));
        put(frame((c, sp), (s, 443), 0x18, 1001, 5001, b"hello"));
        put(frame((s, 443), (c, sp), 0x18, 5001, 1006, b"world!"));
        put(frame((c, sp), (s, 443), 0x11, 1006, 5007, b""));
        put(frame((s, 443), (c, sp), 0x11, 5007, 1007, b""));
        put(frame((c, sp), (s, 443), 0x10, 1007, 5008, b""));
    }
    w.flush().unwrap();
}

#[test]
fn ten_thousand_connections_make_a_bounded_page_that_renders() {
    let scratch = Scratch::new("big");
    let capture = scratch.path("many.pcap");
    many_connections(&capture, 10_000);
    let page = scratch.path("many.html");
    let recs = page_of(&capture, &page, &[]);
    let stats = recs.last().unwrap();
    assert_eq!(stats["tcp_connections"], 10_000);
    let refused = of_type(&recs, "finding")
        .iter()
        .filter(|f| f["kind"] == "connect-refused")
        .count();
    assert_eq!(refused, 20, "every refused connection found");
    let html = std::fs::read_to_string(&page).unwrap();
    static_checks(&html, &recs, "10,000 connections");
    let small = page_of(
        &fixtures().join("sni-filter-rst/capture.pcap"),
        &scratch.path("small.html"),
        &[],
    );
    let small_len = std::fs::metadata(scratch.path("small.html")).unwrap().len();
    eprintln!(
        "HTML page: {small_len} bytes for 3 connections ({} findings), {} bytes for 10,000 connections",
        of_type(&small, "finding").len(),
        html.len()
    );
    assert!(html.len() < 1 << 20, "{} bytes", html.len());
    // Cut with a note, grouped by server: 50 + 20 servers, 1,000 connection rows.
    assert!(
        html.contains("1000 of 10000 connections listed"),
        "the cut is said"
    );
    assert_eq!(html.matches("<tr id=\"r0-c").count(), 1_000);
    assert!(html.contains("<td>10.9.49.1</td>"));
    // The refused ones head the table.
    let first_row = html.find("<tr id=\"r0-c").unwrap();
    assert!(
        html[first_row..].starts_with("<tr id=\"r0-c7\""),
        "{}",
        &html[first_row..first_row + 40]
    );
    if let Some(chrome) = chromium("10,000-connection page in Chromium") {
        let dom = rendered_dom(&chrome, &page, &scratch);
        assert!(dom.contains("FAILED: 20 errors"));
        assert!(dom.contains("connect/connect-refused"));
    }
}

/// With `--extract OUT`, each evidence frame on the page names its number in OUT: the number
/// at which reading OUT back cites the same evidence.
#[test]
fn extract_maps_evidence_frames_on_the_page() {
    let scratch = Scratch::new("extract");
    let chrome = chromium("the extract's page in Chromium (the static checks still run)");
    for case in ["sni-filter-rst", "transfer-stall", "http-404"] {
        let capture = fixtures().join(case).join("capture.pcap");
        let out = scratch.path(&format!("{case}-failing.pcap"));
        let page = scratch.path(&format!("{case}.html"));
        let o = run(&[
            "read",
            "--html",
            page.to_str().unwrap(),
            "--extract",
            out.to_str().unwrap(),
            capture.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(1), "{case}: {o:?}");
        let evidence = |recs: &[serde_json::Value]| -> Vec<u64> {
            of_type(recs, "finding")
                .iter()
                .flat_map(|f| f["evidence"].as_array().unwrap().iter())
                .map(|e| e["packet"].as_u64().unwrap())
                .collect()
        };
        let (_, orig, _) = ndjson(&capture, &[]);
        let (_, back, _) = ndjson(&out, &[]);
        let (a, b) = (evidence(&orig), evidence(&back));
        assert_eq!(a.len(), b.len(), "{case}: the same evidence read back");
        assert!(!a.is_empty(), "{case}");
        let html = std::fs::read_to_string(&page).unwrap();
        for (n, m) in a.iter().zip(&b) {
            let said = format!(
                "frame {n}</a> <span class=\"mapped\">frame {m} in {}</span>",
                out.display()
            );
            assert!(html.contains(&said), "{case}: {said}");
        }
        if let Some(chrome) = &chrome {
            let dom = rendered_dom(chrome, &page, &scratch);
            assert!(dom.contains(&format!("frame {} in ", b[0])), "{case}");
        }
    }
}
