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
                    }
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
