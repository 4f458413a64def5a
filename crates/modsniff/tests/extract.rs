//! `--extract OUT` (and `read -w OUT`): the failing flows as a capture file, and the report's
//! frames mapped into it.
//!
//! What holds it, on every capture under fixtures/ (and ../shared when present):
//! - each mapped frame is the same packet (bytes, time, link type) in OUT as in the capture;
//! - OUT's packets are packets of the capture, in the capture's order;
//! - OUT read back gives the same findings, their evidence at the mapped frames;
//! - the text report says "frame N, frame M in OUT" for the same pairs;
//! - standard input (spooled) gives the same file as the path (read again);
//! - with a filter expression, `read -w` writes the packets `tcpdump -r in -w out EXPR` does;
//! - a selection (--host) writes only the selected connections and their DNS;
//! - `live` and `run` extract from their spool, or from their -w file.

use crate::common::*;
use crate::live::{Netns, finding_keys, replay_setup, start_capturing};
use modsniff_capture::FileSource;
use modsniff_core::hooks::wire::{L4, decode};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A directory of this test process's own, emptied when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("modsniff-extract-{}-{tag}", std::process::id()));
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

#[derive(Clone, Debug, PartialEq, Eq)]
struct Pkt {
    /// Microseconds (what a microsecond pcap keeps).
    us: u64,
    linktype: u32,
    data: Vec<u8>,
}

/// Every packet of a capture by its frame number, read with modsniff-capture.
fn packets(path: &Path) -> BTreeMap<u64, Pkt> {
    read_order(path).into_iter().collect()
}

/// The packets with their frame numbers, in the order the reader hands them out (timestamp
/// order within its reorder window, as the analysis and the extract see them).
fn read_order(path: &Path) -> Vec<(u64, Pkt)> {
    let mut src = FileSource::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    while let Ok(Some(p)) = src.next_packet() {
        out.push((
            p.frame,
            Pkt {
                us: p.ts.as_nanos() / 1000,
                linktype: p.linktype.0,
                data: p.data.to_vec(),
            },
        ));
    }
    out
}

fn findings(recs: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    of_type(recs, "finding")
}

/// What a finding says, less its frames.
fn finding_key(f: &serde_json::Value) -> String {
    format!(
        "{} {} {} {} {} {} {} {}",
        f["stage"],
        f["kind"],
        f["severity"],
        f["actor"],
        f["server"],
        f["server_name"],
        f["likely_go_error"],
        f["summary"]
    )
}

/// A finding as OUT read back can show it, and the evidence it cannot: OUT holds whole
/// records only, so the cut last record of a damaged capture (said in capture-incomplete's
/// summary, with the last whole frame as evidence) is not in it. None when the cut was all
/// that finding said.
fn finding_without_cut(f: &serde_json::Value) -> (Option<String>, Option<&serde_json::Value>) {
    const CUT: &str = "its last record is cut short, so reading stopped after frame ";
    let summary = f["summary"].as_str().unwrap();
    let Some(start) = summary
        .find(CUT)
        .filter(|_| f["kind"] == "capture-incomplete")
    else {
        return (Some(finding_key(f)), None);
    };
    let close = start + summary[start..].find(')').unwrap() + 1;
    let rest = summary[close..]
        .strip_prefix(", and ")
        .unwrap_or(&summary[close..]);
    if rest.starts_with('.') || rest.is_empty() {
        return (None, None);
    }
    let mut g = f.clone();
    g["summary"] = format!("{}{rest}", &summary[..start]).into();
    let cut = f["evidence"].as_array().unwrap().iter().find(|e| {
        e["note"]
            .as_str()
            .is_some_and(|n| n.starts_with("last whole frame"))
    });
    (Some(finding_key(&g)), cut)
}

/// Runs `read --format ndjson --extract OUT EXTRA CAPTURE`; returns the records.
fn extract(capture: &Path, out: &Path, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["--extract", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (code, recs, stderr) = ndjson(capture, &args);
    assert!(
        code == 0 || code == 1,
        "{}: {code} {stderr}",
        capture.display()
    );
    recs
}

/// The stats record's frame map.
fn frame_map(recs: &[serde_json::Value]) -> BTreeMap<u64, u64> {
    let stats = recs.last().expect("stats");
    stats["extract"]["frames"]
        .as_array()
        .unwrap_or_else(|| panic!("no extract in {stats}"))
        .iter()
        .map(|f| {
            (
                f["packet"].as_u64().unwrap(),
                f["extract_packet"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Holds one capture's extract to everything the module's header lists (the file-based
/// checks); returns how many packets went in.
fn check_capture(capture: &Path, scratch: &Scratch) -> (u64, u64) {
    let name = capture.display().to_string();
    let out = scratch.path("out.pcap");
    let recs = extract(capture, &out, &[]);
    let stats = recs.last().unwrap();
    let map = frame_map(&recs);
    let orig = packets(capture);
    let ext = packets(&out);
    assert_eq!(
        stats["extract"]["packets"].as_u64(),
        Some(ext.len() as u64),
        "{name}"
    );
    // Cited frames are all there (these captures have one link type), the same packets.
    let cited: std::collections::BTreeSet<u64> = findings(&recs)
        .iter()
        .flat_map(|f| f["evidence"].as_array().unwrap().iter())
        .map(|e| e["packet"].as_u64().unwrap())
        .collect();
    assert_eq!(
        map.keys()
            .copied()
            .collect::<std::collections::BTreeSet<_>>(),
        cited,
        "{name}: every cited frame mapped"
    );
    for (n, m) in &map {
        assert_eq!(
            orig.get(n),
            ext.get(m),
            "{name}: frame {n} vs frame {m} in OUT"
        );
    }
    // OUT is a subsequence of the capture as the reader hands it out (in time order): where
    // each of its packets was in the capture.
    let mut whole = map.clone();
    let in_order = read_order(capture);
    let mut it = in_order.iter();
    for (m, p) in &ext {
        let at = it.find(|(_, o)| o == p);
        assert!(
            at.is_some(),
            "{name}: OUT frame {m} is not a later packet of the capture"
        );
        if let Some((n, _)) = at {
            whole.entry(*n).or_insert(*m);
        }
    }
    if findings(&recs).is_empty() {
        assert!(ext.is_empty(), "{name}: nothing failed, nothing extracted");
        return (0, 0);
    }
    // Read back: the same findings, at the mapped frames.
    let (_, again, _) = ndjson(&out, &[]);
    let mut want: Vec<(String, Vec<u64>)> = findings(&recs)
        .iter()
        .filter_map(|f| {
            let (key, cut_evidence) = finding_without_cut(f);
            Some((
                // A summary that names a frame (cited or not) names it in OUT's numbering.
                renumber(&key?, &whole),
                f["evidence"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|e| Some(*e) != cut_evidence)
                    .map(|e| map[&e["packet"].as_u64().unwrap()])
                    .collect(),
            ))
        })
        .collect();
    let mut got: Vec<(String, Vec<u64>)> = findings(&again)
        .iter()
        .map(|f| {
            (
                finding_key(f),
                f["evidence"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["packet"].as_u64().unwrap())
                    .collect(),
            )
        })
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "{name}: the extract read back");
    // The text report says the same pairs.
    let out2 = scratch.path("text.pcap");
    let t = run(&[
        "read",
        "--extract",
        out2.to_str().unwrap(),
        capture.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&t.stdout);
    let suffix = format!(" in {}", out2.display());
    let mut said = BTreeMap::new();
    for l in text.lines() {
        let l = l.trim_start();
        if let Some(rest) = l.strip_prefix("frame ")
            && let Some((n, rest)) = rest.trim_start().split_once(", frame ")
            && let Some((m, _)) = rest.split_once(&suffix)
        {
            said.insert(n.parse::<u64>().unwrap(), m.parse::<u64>().unwrap());
        }
    }
    assert_eq!(said, map, "{name}: text report's frames\n{text}");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&out2).unwrap(),
        "{name}"
    );
    (ext.len() as u64, orig.len() as u64)
}

/// `text` with each "frame N" whose N is mapped written "frame M".
fn renumber(text: &str, map: &BTreeMap<u64, u64>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("frame ") {
        out.push_str(&rest[..i + 6]);
        rest = &rest[i + 6..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<u64>().ok().and_then(|n| map.get(&n)) {
            Some(m) => out.push_str(&m.to_string()),
            None => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

#[test]
fn extracts_read_back_give_the_same_findings_at_the_mapped_frames() {
    let scratch = Scratch::new("fixtures");
    let mut all = captures(&fixtures());
    if let Some(s) = shared_or_skip("extract over ../shared (fixtures still run)") {
        all.extend(captures(&s.join("scenarios")));
    }
    let (mut with_findings, mut written, mut of) = (0, 0, 0);
    for c in &all {
        let (n, total) = check_capture(c, &scratch);
        with_findings += u64::from(n > 0);
        written += n;
        of += total;
    }
    eprintln!(
        "{} captures, {with_findings} extracted: {written} of their {of} packets",
        all.len()
    );
    // The failing flows, not the whole captures.
    assert!(written * 10 < of * 9, "{written} of {of}");
    assert!(with_findings >= 35, "{with_findings}");
}

#[test]
fn standard_input_is_spooled_into_the_same_extract() {
    let scratch = Scratch::new("stdin");
    for case in [
        "sni-filter-rst",
        "goproxy-fallback",
        "transfer-stall",
        "dns-timeout",
    ] {
        let capture = fixtures().join(case).join("capture.pcap");
        let by_path = scratch.path("path.pcap");
        extract(&capture, &by_path, &[]);
        let by_stdin = scratch.path("stdin.pcap");
        for threads in ["1", "2"] {
            let o = Command::new(bin())
                .args(["read", "--format", "ndjson", "--threads", threads, "-w"])
                .arg(&by_stdin)
                .arg("-")
                .stdin(std::fs::File::open(&capture).unwrap())
                .output()
                .unwrap();
            assert!(o.status.code().is_some_and(|c| c <= 1), "{o:?}");
            assert_eq!(
                std::fs::read(&by_path).unwrap(),
                std::fs::read(&by_stdin).unwrap(),
                "{case} --threads {threads}"
            );
        }
    }
}

#[test]
fn a_full_spool_keeps_the_latest_packets_and_says_so() {
    // lossy-heavy is 182 packets of ~1.5 kB; a 2 MiB spool holds them all, so a bigger
    // capture is made of it: the same packets 40 times, times shifted on.
    let scratch = Scratch::new("spool");
    let src = packets(&fixtures().join("lossy-heavy/capture.pcap"));
    let big = scratch.path("big.pcap");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
    let mut pw =
        modsniff_capture::PcapWriter::new(&mut w, modsniff_core::LinkType::ETHERNET, 262_144)
            .unwrap();
    let mut count = 0u64;
    for round in 0..40u64 {
        for p in src.values() {
            pw.write_packet(&modsniff_core::Packet {
                ts: modsniff_core::Timestamp::from_nanos((p.us + round * 3_600_000_000) * 1000),
                frame: 0,
                orig_len: p.data.len() as u32,
                linktype: modsniff_core::LinkType(p.linktype),
                data: &p.data,
            })
            .unwrap();
            count += 1;
        }
    }
    pw.flush().unwrap();
    drop(w);
    let out = scratch.path("out.pcap");
    let o = Command::new(bin())
        .args(["read", "--format", "ndjson", "--extract-spool", "2", "-w"])
        .arg(&out)
        .arg("-")
        .stdin(std::fs::File::open(&big).unwrap())
        .output()
        .unwrap();
    let recs = lines(&o.stdout);
    let stats = recs.last().unwrap();
    let warnings = stats["capture_warnings"].to_string();
    assert!(warnings.contains("--extract-spool"), "{stats}");
    let ext = packets(&out);
    assert!(
        !ext.is_empty() && (ext.len() as u64) < count,
        "{} of {count}",
        ext.len()
    );
    // What it kept is the end of the input.
    let last_round: Vec<u64> = src.values().map(|p| p.us + 39 * 3_600_000_000).collect();
    assert!(ext.values().any(|p| last_round.contains(&p.us)));
    let bytes = std::fs::metadata(&out).unwrap().len();
    assert!(bytes <= 2 << 20, "{bytes}");
}

fn lines(out: &[u8]) -> Vec<serde_json::Value> {
    crate::live::lines(out)
}

#[test]
fn read_w_with_a_filter_writes_what_tcpdump_writes() {
    if Command::new("tcpdump").arg("--version").output().is_err() {
        eprintln!("SKIP read -w against tcpdump -w: tcpdump is not installed");
        return;
    }
    let scratch = Scratch::new("tcpdump");
    for (case, expr) in [
        ("sni-filter-rst", "tcp port 443"),
        (
            "transfer-stall",
            "udp or tcp[tcpflags] & (tcp-syn|tcp-fin) != 0",
        ),
        ("proxy-auth", "host 10.77.1.1 and not arp"),
        ("clean-sll", "tcp"),
        ("ipv6-sni-rst", "ip6 and tcp"),
    ] {
        let capture = fixtures().join(case).join("capture.pcap");
        let ours = scratch.path("ours.pcap");
        let theirs = scratch.path("theirs.pcap");
        let o = run(&[
            "read",
            capture.to_str().unwrap(),
            "-w",
            ours.to_str().unwrap(),
            expr,
        ]);
        assert!(o.status.code().is_some_and(|c| c <= 1), "{o:?}");
        let t = Command::new("tcpdump")
            .args(["-r"])
            .arg(&capture)
            .arg("-w")
            .arg(&theirs)
            .arg(expr)
            .output()
            .unwrap();
        assert!(t.status.success(), "{t:?}");
        let a = std::fs::read(&ours).unwrap();
        let b = std::fs::read(&theirs).unwrap();
        // The records byte for byte; the headers' magic and link type alike (tcpdump copies
        // the input's snaplen).
        assert_eq!(a[24..], b[24..], "{case} `{expr}`");
        assert_eq!(a[..8], b[..8], "{case}");
        assert_eq!(a[20..24], b[20..24], "{case}");
        assert!(a.len() > 24, "{case}: something selected");
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("every packet the filter kept"), "{text}");
    }
}

#[test]
fn a_selection_extracts_the_selected_connections_and_their_dns() {
    let scratch = Scratch::new("select");
    let capture = fixtures().join("goproxy-fallback/capture.pcap");
    // The fallback target, proxy.golang.org, without findings itself.
    let out = scratch.path("sel.pcap");
    let recs = extract(&capture, &out, &["--server-name", "proxy.golang.org"]);
    let conns = of_type(&recs, "connection");
    let servers: Vec<String> = conns
        .iter()
        .filter(|c| c["transport"] == "tcp")
        .map(|c| c["server"].as_str().unwrap().to_string())
        .collect();
    assert!(!servers.is_empty(), "{recs:?}");
    let ext = packets(&out);
    let orig = packets(&capture);
    let last = orig.values().last().unwrap();
    let mut tcp = 0;
    let mut dns = 0;
    for (m, p) in &ext {
        let d = decode(modsniff_core::LinkType(p.linktype), &p.data);
        let ip = d.ip.map(|i| (i.src, i.dst));
        match d.l4 {
            L4::Tcp(s) => {
                let (src, dst) = ip.unwrap();
                let a = std::net::SocketAddr::new(src, s.src_port).to_string();
                let b = std::net::SocketAddr::new(dst, s.dst_port).to_string();
                assert!(
                    servers.contains(&a) || servers.contains(&b),
                    "frame {m}: {a} {b}"
                );
                tcp += 1;
            }
            L4::Udp(u) if u.src_port == 53 || u.dst_port == 53 => {
                // A query for the selected name or its answer.
                assert!(
                    u.payload.windows(7).any(|w| w == b"\x06golang"),
                    "frame {m}: DNS about another name"
                );
                dns += 1;
            }
            // The capture's last packet keeps its end time.
            _ => assert_eq!(p, last, "frame {m}: neither selected nor DNS"),
        }
    }
    assert!(tcp > 0 && dns > 0, "{tcp} {dns}");
    let stats = recs.last().unwrap();
    assert!(
        stats["extract"]["connections"].as_u64() >= Some(1),
        "{stats}"
    );
}

#[test]
fn refusals() {
    let scratch = Scratch::new("refuse");
    let capture = fixtures().join("proxy-auth/capture.pcap");
    let copy = scratch.path("copy.pcap");
    std::fs::copy(&capture, &copy).unwrap();
    let before = std::fs::read(&copy).unwrap();
    // The input itself.
    let o = run(&["read", copy.to_str().unwrap(), "-w", copy.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        before,
        "the input is untouched"
    );
    // Standard output, and both spellings at once.
    let o = run(&["read", copy.to_str().unwrap(), "-w", "-"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let o = run(&[
        "read",
        copy.to_str().unwrap(),
        "-w",
        "a.pcap",
        "--extract",
        "b.pcap",
    ]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    // An unwritable place fails before reading.
    let o = run(&[
        "read",
        copy.to_str().unwrap(),
        "-w",
        "/nonexistent/dir/x.pcap",
    ]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
}

/// `live --extract` (spooled) and `live -w FILE --extract` (read back from FILE) on a
/// replayed fixture: the extract read back gives what `read --extract` on the fixture gives.
#[test]
fn live_extracts_from_its_spool_or_its_w_file() {
    let what = "live --extract";
    let Some(ns) = replay_setup("extract", what, "mxa", "mxb") else {
        return;
    };
    let scratch = Scratch::new("live");
    for (case, with_w) in [("sni-filter-rst", false), ("proxy-auth", true)] {
        let capture = fixtures().join(case).join("capture.pcap");
        let want_out = scratch.path("want.pcap");
        let want = extract(&capture, &want_out, &[]);
        let total = packets(&capture).len();
        let out = scratch.path("live.pcap");
        let saved = scratch.path("saved.pcap");
        let mut cmd = ns.cmd(&bin());
        cmd.args([
            "live",
            "-i",
            "mxb",
            "--format",
            "ndjson",
            "--duration",
            "60",
        ])
        .args(["-c", &total.to_string(), "--extract"])
        .arg(&out);
        if with_w {
            cmd.arg("-w").arg(&saved);
        }
        let guard = start_capturing(&mut cmd, 1);
        ns.replay("mxa", &capture, true);
        let o = guard.wait_output(Duration::from_secs(70));
        let got = lines(&o.stdout);
        assert_eq!(finding_keys(&got), finding_keys(&want), "{case}");
        assert_eq!(
            frame_map(&got),
            frame_map(&want),
            "{case}: frames as in the file"
        );
        // The same packets as read --extract (live gives them the time they arrived).
        let data =
            |p: &Path| -> Vec<Vec<u8>> { packets(p).into_values().map(|p| p.data).collect() };
        assert!(
            data(&out) == data(&want_out),
            "{case}: the same packets as read --extract"
        );
        let (_, again, _) = ndjson(&out, &[]);
        assert_eq!(
            finding_keys(&again),
            finding_keys(&want),
            "{case} read back"
        );
        let _ = std::fs::remove_file(&saved);
    }
    drop(ns);
}

/// `run --extract`: the command's traffic on a namespace's loopback; the finding a refused
/// connection gives is in the extract, read back.
#[test]
fn run_extracts_the_commands_failing_flow() {
    let Some(ns) = Netns::new("runx", "run --extract") else {
        return;
    };
    let scratch = Scratch::new("run");
    let out = scratch.path("run.pcap");
    // Nothing listens on 127.0.0.1:9: the connection is refused (RST). bash's /dev/tcp
    // connects without needing any other program.
    let o = ns
        .cmd(&bin())
        .args([
            "run",
            "-i",
            "lo",
            "--drain",
            "0.3",
            "--format",
            "ndjson",
            "--extract",
        ])
        .arg(&out)
        .args(["--", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9 || exit 0"])
        .output()
        .unwrap();
    let got = lines(&o.stdout);
    let f = findings(&got);
    assert!(
        f.iter().any(|f| f["kind"] == "connect-refused"),
        "{got:?}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let map = frame_map(&got);
    assert!(!map.is_empty());
    let (_, again, _) = ndjson(&out, &[]);
    let refused: Vec<_> = findings(&again)
        .into_iter()
        .filter(|f| f["kind"] == "connect-refused")
        .collect();
    assert_eq!(refused.len(), 1, "{again:?}");
    let frames: Vec<u64> = refused[0]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["packet"].as_u64().unwrap())
        .collect();
    let want: Vec<u64> = f.iter().find(|f| f["kind"] == "connect-refused").unwrap()["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| map[&e["packet"].as_u64().unwrap()])
        .collect();
    assert_eq!(frames, want);
}
