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
            last["packets"].as_u64(),
            reference["frames"].as_u64(),
            "{rel}: packet count differs from tshark's frame count"
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
