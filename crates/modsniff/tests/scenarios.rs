//! The real go-command failures in ../shared/scenarios: the verdict each must get.

use crate::common::*;

/// The finding a scenario must produce: (stage, kind, actor; "" = not judged).
type Want = Option<(&'static str, &'static str, &'static str)>;

/// (file, expected exit, finding) — from ../shared/scenarios/README.md's mapping.
const CASES: &[(&str, i32, Want)] = &[
    ("clean.pcap", 0, None),
    ("proxy-connect.pcapng", 0, None),
    (
        "dns-servfail.pcap",
        1,
        Some(("dns", "dns-servfail", "resolver")),
    ),
    (
        "syn-blackhole.pcap",
        1,
        Some(("connect", "connect-timeout", "")),
    ),
    (
        "rst-after-clienthello.pcap",
        1,
        Some(("tls", "reset-after-client-hello", "middlebox")),
    ),
    (
        "mitm-untrusted-tls12.pcap",
        1,
        Some(("tls", "mitm-certificate", "middlebox")),
    ),
];

#[test]
fn scenarios_get_their_verdicts() {
    let Some(shared) = shared_or_skip("scenario verdicts") else {
        return;
    };
    let mut bad = Vec::new();
    for (file, exit, want) in CASES {
        let (code, recs, stderr) = ndjson(&shared.join("scenarios").join(file), &[]);
        let findings = of_type(&recs, "finding");
        let errors: Vec<_> = findings
            .iter()
            .filter(|f| f["severity"] == "error")
            .collect();
        if code != *exit {
            bad.push(format!("{file}: exit {code}, want {exit} ({stderr})"));
        }
        match want {
            None if !errors.is_empty() => bad.push(format!("{file}: false errors {errors:?}")),
            None => {}
            Some((stage, kind, actor)) => {
                let hit = findings
                    .iter()
                    .find(|f| f["stage"] == *stage && f["kind"] == *kind);
                match hit {
                    None => bad.push(format!("{file}: no {stage}/{kind} finding in {findings:?}")),
                    Some(f) => {
                        if !actor.is_empty() && f["actor"] != *actor {
                            bad.push(format!("{file}: actor {}, want {actor}", f["actor"]));
                        }
                        if f["evidence"].as_array().is_none_or(|e| e.is_empty()) {
                            bad.push(format!("{file}: no evidence frames"));
                        }
                        // What go printed (the .stderr.txt beside the capture) ends with the
                        // error we say it most likely printed.
                        let stem = file.rsplit_once('.').map_or(*file, |(s, _)| s);
                        let said = std::fs::read_to_string(
                            shared.join("scenarios").join(format!("{stem}.stderr.txt")),
                        )
                        .unwrap_or_default();
                        let ours = f["likely_go_error"].as_str().unwrap_or("<none>");
                        if !said.lines().any(|l| l.trim_end().ends_with(ours)) {
                            bad.push(format!(
                                "{file}: likely_go_error {ours:?} is not what go printed:\n{said}"
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
