//! `modsniff read FILE EXPRESSION`: a tcpdump filter in front of the analysis. The packets
//! analysed are the ones tcpdump selects (tcpdump is the reference; the tests that need it
//! say SKIP without it), evidence keeps the capture's frame numbers, and a bad expression
//! exits 2 saying what and where.

use crate::common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn have_tcpdump() -> bool {
    let ok = Command::new("tcpdump").arg("--version").output().is_ok();
    if !ok {
        eprintln!("SKIP filter tests against tcpdump: tcpdump is not installed");
    }
    ok
}

/// Timestamps (seconds) of the packets `tcpdump -r FILE -w - [EXPR]` writes, in order.
fn tcpdump_times(file: &Path, expr: Option<&str>) -> Vec<f64> {
    let mut cmd = Command::new("tcpdump");
    cmd.arg("-r").arg(file).args(["-w", "-"]);
    if let Some(e) = expr {
        cmd.arg(e);
    }
    let out = cmd.output().expect("run tcpdump");
    let b = out.stdout;
    assert!(
        b.get(..4) == Some(&[0xd4, 0xc3, 0xb2, 0xa1][..]),
        "tcpdump -r {} {expr:?}: no little-endian microsecond pcap on stdout: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let u32le = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let mut times = Vec::new();
    let mut at = 24;
    while at + 16 <= b.len() {
        times.push(f64::from(u32le(at)) + f64::from(u32le(at + 4)) / 1e6);
        at += 16 + u32le(at + 8) as usize;
    }
    times
}

fn stats(recs: &[Value]) -> &Value {
    let s = recs.last().expect("records");
    assert_eq!(s["type"], "stats", "stats is the last record");
    s
}

/// Runs `modsniff read --format ndjson ARGS...`.
fn read(args: &[&str]) -> (i32, Vec<Value>, String) {
    let mut full = vec!["read", "--format", "ndjson"];
    full.extend_from_slice(args);
    let out = run(&full);
    let recs = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON {l:?}: {e}")))
        .collect();
    (
        out.status.code().unwrap_or(-1),
        recs,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const CASES: &[(&str, &str)] = &[
    ("clean/capture.pcap", "tcp port 443"),
    ("clean/capture.pcap", "host 10.77.1.2 and not port 53"),
    ("clean/capture.pcap", "udp or arp"),
    ("ipv6-clean/capture.pcap", "ip6 and tcp"),
    ("ipv6-clean/capture.pcap", "not ip6"),
    ("clean-sll/capture.pcap", "port 53"),
    ("gfw-rst-both/capture.pcap", "tcp and src net 10.77.1.0/24"),
    ("public/zeek/mixed-vlan-mpls.pcap", "vlan and tcp"),
    ("sni-filter-rst/capture.pcap", "tcp"),
    ("dns-nxdomain/capture.pcap", "src host 10.77.1.2"),
    (
        "sni-filter-rst/capture.pcap",
        "tcp[tcpflags] & (tcp-syn|tcp-rst) != 0",
    ),
];

#[test]
fn analyses_exactly_the_packets_tcpdump_selects() {
    if !have_tcpdump() {
        return;
    }
    for (file, expr) in CASES {
        let path = fixtures().join(file);
        let f = path.to_str().unwrap();
        let all = tcpdump_times(&path, None).len() as u64;
        let want = tcpdump_times(&path, Some(expr)).len() as u64;
        assert!(
            want > 0 && want < all,
            "{file} {expr:?}: a case that selects some packets"
        );
        // The expression as trailing words, as tcpdump takes it.
        let mut args = vec![f];
        args.extend(expr.split(' '));
        let (code, recs, err) = read(&args);
        assert!(
            code == 0 || code == 1,
            "{file} {expr:?}: exit {code}: {err}"
        );
        let s = stats(&recs);
        assert_eq!(s["packets"], want, "{file} {expr:?}: packets analysed");
        assert_eq!(s["frames"], all, "{file} {expr:?}: frames numbered");
        // Every connection record counts only packets that passed.
        let per_conn: u64 = of_type(&recs, "connection")
            .iter()
            .map(|c| {
                c["client_stats"]["packets"].as_u64().unwrap()
                    + c["server_stats"]["packets"].as_u64().unwrap()
            })
            .sum();
        assert!(
            per_conn <= want,
            "{file} {expr:?}: {per_conn} packets in connections"
        );
    }
}

/// The 1-based numbers of the frames tcpdump selects, found by matching its filtered
/// output (a subsequence of the capture) against the unfiltered one.
fn selected_frames(all: &[f64], selected: &[f64]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = 0;
    for t in selected {
        while i < all.len() && all[i] != *t {
            i += 1;
        }
        assert!(
            i < all.len(),
            "tcpdump's filtered output is not a subsequence"
        );
        out.push(i + 1);
        i += 1;
    }
    out
}

fn evidence_frames(recs: &[Value]) -> Vec<u64> {
    of_type(recs, "finding")
        .iter()
        .flat_map(|f| f["evidence"].as_array().unwrap())
        .map(|e| e["packet"].as_u64().unwrap())
        .collect()
}

#[test]
fn evidence_keeps_the_capture_frame_numbers() {
    if !have_tcpdump() {
        return;
    }
    // Each filter drops packets before the failing connection (ARP, DNS, neighbour
    // discovery) but keeps that connection whole: renumbering would shift every frame the
    // findings cite, and a finding citing a frame the filter dropped would be wrong.
    for (file, expr) in [
        ("sni-filter-rst/capture.pcap", "tcp"),
        ("refused-icmp-port/capture.pcap", "not arp and not port 53"),
        ("transfer-reset/capture.pcap", "tcp port 443"),
    ] {
        let path = fixtures().join(file);
        let frames = selected_frames(
            &tcpdump_times(&path, None),
            &tcpdump_times(&path, Some(expr)),
        );
        let (_, filtered, err) = read(&[path.to_str().unwrap(), "--", expr]);
        let (_, whole, _) = read(&[path.to_str().unwrap()]);
        let cited = evidence_frames(&filtered);
        assert!(
            !cited.is_empty(),
            "{file} {expr:?}: no finding to check: {err}"
        );
        let first = *cited.iter().min().unwrap() as usize;
        assert!(
            frames.iter().filter(|n| **n < first).count() < first - 1,
            "{file} {expr:?}: the filter drops frames before the first one cited"
        );
        for n in &cited {
            assert!(
                frames.contains(&(*n as usize)),
                "{file} {expr:?}: evidence cites frame {n}, which tcpdump does not select \
                 (selected: {frames:?})"
            );
        }
        assert_eq!(
            cited,
            evidence_frames(&whole),
            "{file} {expr:?}: the same frames are cited with and without the filter"
        );
    }
}

#[test]
fn dash_r_dashes_and_filter_option_say_the_same() {
    let path = fixtures().join("clean/capture.pcap");
    let f = path.to_str().unwrap();
    let (_, base, _) = read(&[f, "tcp", "port", "443"]);
    let base = stats(&base)["packets"].clone();
    assert!(base.as_u64().unwrap() > 0);
    for args in [
        vec!["-r", f, "tcp", "port", "443"],
        vec!["-r", f, "tcp port 443"],
        vec![f, "tcp port 443"],
        vec![f, "--", "tcp", "port", "443"],
        vec![f, "--filter", "tcp port 443"],
        vec!["--threads", "1", f, "tcp", "port", "443"],
        vec!["--threads", "2", f, "tcp", "port", "443"],
    ] {
        let (code, recs, err) = read(&args);
        assert!(code == 0 || code == 1, "{args:?}: exit {code}: {err}");
        assert_eq!(stats(&recs)["packets"], base, "{args:?}");
    }
    // Two files, then the expression: each file is filtered.
    let (_, recs, _) = read(&[f, f, "tcp", "port", "443"]);
    let s = of_type(&recs, "stats");
    assert_eq!(s.len(), 2);
    assert!(s.iter().all(|s| s["packets"] == base));
    // No expression: every packet.
    let (_, recs, _) = read(&["-r", f]);
    assert_eq!(stats(&recs)["packets"], stats(&recs)["frames"]);
    // -c counts the packets the filter kept, as tcpdump's -c.
    let (_, recs, _) = read(&["-c", "3", f, "tcp", "port", "443"]);
    assert_eq!(stats(&recs)["packets"], 3);
}

#[test]
fn bad_expressions_exit_2_saying_what_and_where() {
    let path = fixtures().join("clean/capture.pcap");
    let f = path.to_str().unwrap();
    for (args, says) in [
        (
            vec![f, "tcp", "port"],
            "syntax error in filter expression: expected a host, network, port or protocol \
             after `port` at column 9",
        ),
        (vec![f, "tcp or 80"], "syntax error in filter expression"),
        (
            vec![f, "port 99999"],
            "illegal port number 99999 > 65535 at column 6",
        ),
        (vec![f, "ip proto tcp"], "(write `\\tcp`)"),
        (
            vec![f, "mpls", "and", "tcp"],
            "`mpls` is not supported by modsniff's filter",
        ),
        (vec![f, "tcp[13:3] = 2"], "data size must be 1, 2, or 4"),
        (
            vec!["-r", f, f],
            "is a file: with -r every argument is the filter expression",
        ),
        (
            vec![f, "--filter", "tcp", "udp"],
            "the filter expression is given twice",
        ),
    ] {
        let (code, recs, err) = read(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(recs.is_empty(), "{args:?}: no report before the error");
        assert!(
            err.contains(says),
            "{args:?}: {err:?} does not say {says:?}"
        );
    }
    // The expression is shown with the problem underlined.
    let (_, _, err) = read(&[f, "tcp", "port", "99999"]);
    assert!(err.contains("  tcp port 99999\n           ^^^^^"), "{err}");
}

#[test]
fn a_link_type_the_expression_cannot_read_exits_2_as_tcpdump_refuses() {
    // NFLOG frames carry no link-layer protocol field libpcap can test.
    let path = fixtures().join("public/tcpdump/nflog.pcap");
    let f = path.to_str().unwrap();
    let (code, _, err) = read(&[f, "tcp"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("NFLOG link-layer type filtering not implemented"),
        "{err}"
    );
    if have_tcpdump() {
        let out = Command::new("tcpdump")
            .args(["-r", f, "-w", "/dev/null", "tcp"])
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("NFLOG link-layer type filtering not implemented")
        );
    }
    // A length test reads no link-layer field.
    let (code, recs, err) = read(&[f, "greater", "0"]);
    assert!(code == 0 || code == 1, "{err}");
    assert_eq!(stats(&recs)["packets"], stats(&recs)["frames"]);
}

/// `modsniff live -i IFACE EXPRESSION`: the expression goes to libpcap, so the kernel keeps
/// only what tcpdump would select from the same packets.
#[test]
fn live_hands_the_expression_to_libpcap() {
    use crate::live::{Netns, start_capturing};
    use std::time::Duration;
    let what = "live filter";
    if !have_tcpdump() {
        return;
    }
    if Command::new("tcpreplay").arg("--version").output().is_err() {
        eprintln!("SKIP {what}: tcpreplay is not installed");
        return;
    }
    let Some(ns) = Netns::new("filter", what) else {
        return;
    };
    ns.veth("ftx", "frx");
    let file = fixtures().join("sni-filter-rst/capture.pcap");
    let expr = "tcp port 443";
    let want = tcpdump_times(&file, Some(expr)).len();
    assert!(want > 0 && want < tcpdump_times(&file, None).len());
    let sniff = start_capturing(
        ns.cmd(&bin())
            .args([
                "live",
                "-i",
                "frx",
                "--format",
                "ndjson",
                "--duration",
                "30",
            ])
            .args(["-c", &want.to_string(), "tcp", "port", "443"]),
        1,
    );
    ns.replay("ftx", &file, true);
    let out = sniff.wait_output(Duration::from_secs(40));
    let recs = crate::live::lines(&out.stdout);
    let s = stats(&recs);
    assert_eq!(s["packets"], want as u64, "{s}");
    // The DNS exchange before the connection never reached modsniff.
    assert_eq!(s["udp_packets"], 0, "{s}");
    assert!(of_type(&recs, "dns").is_empty());
    // The kernel counted only what passed libpcap's filter.
    assert_eq!(s["kernel"]["received"], want as u64, "{s}");
}
