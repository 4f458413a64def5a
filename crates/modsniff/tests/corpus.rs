//! Every public capture: no panic, no hang, sane exit code, valid NDJSON with `stats` last,
//! and TCP connection counts equal to tshark's `tcp_streams`.

use crate::common::*;
use std::path::Path;

/// Files where our TCP connection count differs from tshark's, and why. Empty: all agree.
const TCP_COUNT_DIFFERENCES: &[(&str, &str)] = &[];

fn check_dir(pcaps: &Path, refs: &Path) -> (usize, usize, Vec<String>) {
    let (mut n, mut equal, mut diffs) = (0, 0, Vec::new());
    for cap in captures(pcaps) {
        let rel = cap
            .strip_prefix(pcaps)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let reference: serde_json::Value =
            match std::fs::read_to_string(refs.join(format!("{rel}.json"))) {
                Ok(t) => serde_json::from_str(&t).unwrap(),
                Err(_) => continue,
            };
        n += 1;
        let (code, recs, stderr) = ndjson(&cap, &[]);
        assert!(!stderr.contains("panicked"), "{rel}: panic: {stderr}");
        let damaged = reference["tshark_exit_status"].as_i64() != Some(0);
        assert!(
            code == 0 || code == 1 || (damaged && code == 2),
            "{rel}: exit {code}: {stderr}"
        );
        if code == 2 {
            continue;
        }
        let last = recs.last().unwrap_or_else(|| panic!("{rel}: no output"));
        assert_eq!(last["type"], "stats", "{rel}: stats is not the last record");
        assert_eq!(
            last["frames"].as_u64(),
            reference["frames"].as_u64(),
            "{rel}: frame count differs from tshark's"
        );
        assert!(
            last["packets"].as_u64() <= last["frames"].as_u64(),
            "{rel}: packets > frames"
        );
        if damaged {
            assert!(
                !last["capture_warnings"].as_array().unwrap().is_empty(),
                "{rel}: damaged file read without a warning"
            );
        }
        let tcp = of_type(&recs, "connection")
            .iter()
            .filter(|c| c["transport"] == "tcp")
            .count() as u64;
        if Some(tcp) == reference["tcp_streams"].as_u64() {
            equal += 1;
        } else if !TCP_COUNT_DIFFERENCES.iter().any(|(f, _)| rel.ends_with(f)) {
            diffs.push(format!(
                "{rel}: {tcp} connections, tshark {} streams",
                reference["tcp_streams"]
            ));
        }
    }
    (n, equal, diffs)
}

#[test]
fn fixtures_public_read_cleanly_and_match_tshark_tcp_streams() {
    let dir = fixtures().join("public");
    let (n, equal, diffs) = check_dir(&dir, &dir.join("reference"));
    assert!(n >= 30, "only {n} public fixtures found");
    assert!(
        diffs.is_empty(),
        "TCP connection counts differ from tshark:\n{}",
        diffs.join("\n")
    );
    assert_eq!(n, equal);
}

#[test]
fn all_156_public_captures_read_cleanly_and_match_tshark_tcp_streams() {
    let Some(shared) = shared_or_skip("all 156 public captures") else {
        return;
    };
    let (n, equal, diffs) = check_dir(
        &shared.join("pcaps/public"),
        &shared.join("pcaps/reference"),
    );
    assert_eq!(n, 156, "expected the 156 public captures");
    eprintln!("tcp connection counts equal to tshark's on {equal}/{n} captures");
    assert!(
        equal * 100 >= n * 95,
        "only {equal}/{n} equal:\n{}",
        diffs.join("\n")
    );
    assert!(
        diffs.is_empty(),
        "unexplained differences:\n{}",
        diffs.join("\n")
    );
}

/// Every `error` finding over the 156 public captures, with why it is a real failure. A new
/// error finding fails the test until someone looks at the packets and lists it here.
const REAL_FAILURES: &[(&str, &str, &str)] = &[
    (
        "suricata-verify/http-mime-truncated/input.pcap",
        "transfer-stall",
        "the HTTP body stops short of its Content-Length while other traffic goes on for 9.8 s",
    ),
    (
        "suricata-verify/tcp-rst-unacked-stream-10/TLPW1-tcp-174.56.47.59-10.3.11.101-tcp-80-49309.pcap",
        "transfer-stall",
        "the server's data stops and the connection sits open for 43 s",
    ),
    (
        "suricata-verify/tls-duplicate-hello/input.pcap",
        "connect-refused",
        "127.0.0.1:8442 answers the SYN with RST",
    ),
    (
        "suricata-verify/tls-extra-alert/input.pcap",
        "handshake-aborted",
        "the server sends a fatal handshake_failure alert",
    ),
    (
        "zeek/erspan.pcap",
        "dns-servfail",
        "www.xkcd.com gets SERVFAIL twice and is never reached",
    ),
    (
        "zeek/http/get-to-ssh-server.pcap",
        "transfer-reset",
        "an HTTP GET to an SSH server, which resets the connection",
    ),
    (
        "zeek/http/methods.pcap",
        "proxy-error",
        "malformed CONNECT requests to a web server, answered 400 Bad Request",
    ),
    (
        "zeek/raw_packets.pcap",
        "dns-timeout",
        "queries to 192.168.1.1 retried and never answered",
    ),
    (
        "zeek/tcp/retransmit-fast009.pcap",
        "transfer-stall",
        "the server's data stops and the connection sits open for 60 s",
    ),
    (
        "zeek/tls/certificate-request-failed.pcap",
        "handshake-aborted",
        "the server sends a fatal handshake_failure alert",
    ),
    (
        "zeek/tls/tls-1.2-handshake-failure.pcap",
        "handshake-aborted",
        "the server sends a fatal handshake_failure alert",
    ),
];

#[test]
fn every_error_on_the_public_captures_is_a_listed_real_failure() {
    let Some(shared) = shared_or_skip("error findings on the public captures") else {
        return;
    };
    let dir = shared.join("pcaps/public");
    let mut unexplained = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for cap in captures(&dir) {
        let rel = cap
            .strip_prefix(&dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let (_, recs, _) = ndjson(&cap, &[]);
        for f in of_type(&recs, "finding") {
            if f["severity"] != "error" {
                continue;
            }
            let kind = f["kind"].as_str().unwrap_or("");
            match REAL_FAILURES
                .iter()
                .find(|(file, k, _)| *file == rel && *k == kind)
            {
                Some(r) => {
                    seen.insert((r.0, r.1));
                }
                None => unexplained.push(format!("{rel}: {kind}: {}", f["summary"])),
            }
        }
    }
    assert!(
        unexplained.is_empty(),
        "error findings nobody has checked:\n{}",
        unexplained.join("\n")
    );
    let stale: Vec<_> = REAL_FAILURES
        .iter()
        .filter(|(f, k, _)| !seen.contains(&(*f, *k)))
        .collect();
    assert!(
        stale.is_empty(),
        "listed failures no longer reported (update the list): {stale:?}"
    );
}
