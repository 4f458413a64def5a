//! fixtures/: captures of the real go command through real faults (fixtures/README.md), each
//! with its ground truth in fixtures/expected.json. The same rules as
//! ../shared/tools/verdicts.py, plus: the go error we predict is what go printed.

use crate::common::*;
use serde_json::Value;
use std::collections::BTreeSet;

/// fixtures/, or a regenerated set (`MODSNIFF_FIXTURES=/tmp/fx2`, see fixtures/README.md).
fn fixture_root() -> std::path::PathBuf {
    std::env::var_os("MODSNIFF_FIXTURES").map_or_else(fixtures, Into::into)
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// Who the ground truth says acted, where it says so.
fn want_actor(e: &Value) -> Option<BTreeSet<&'static str>> {
    let by = s(&e["rst_sent_by"]).to_string() + s(&e["alert_sent_by"]);
    let by = by.to_ascii_lowercase();
    if s(&e["kind"]) == "mitm-cert" {
        Some(["middlebox"].into())
    } else if s(&e["stage"]) == "proxy" {
        Some(["proxy", "server"].into())
    } else if by.starts_with("middlebox") || by.starts_with("on-path") {
        Some(["middlebox"].into())
    } else if by.starts_with("server host") {
        Some(["server"].into())
    } else {
        None
    }
}

/// Checks one fixture; returns what is wrong with our answer.
fn judge(name: &str, e: &Value) -> Vec<String> {
    let cap = fixture_root().join(s(&e["capture"]["file"]));
    let pki = lab_pki_args(&fixtures().join("harness/pki"), e);
    let pki: Vec<&str> = pki.iter().map(String::as_str).collect();
    let (code, recs, stderr) = ndjson(&cap, &pki);
    let mut why = Vec::new();
    if stderr.contains("panicked") {
        why.push(format!("panic: {stderr}"));
    }
    let findings = of_type(&recs, "finding");
    let errors: Vec<_> = findings
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    let packets = e["observed"]["packets"].as_u64().unwrap_or(u64::MAX);
    for f in &findings {
        for ev in f["evidence"].as_array().into_iter().flatten() {
            let p = ev["packet"].as_u64().unwrap_or(0);
            if p == 0 || p > packets {
                why.push(format!("evidence frame {p} outside 1..={packets}"));
            }
        }
    }
    let label = (s(&e["stage"]), s(&e["kind"]));
    if label == ("none", "none") {
        for f in &errors {
            why.push(format!("false error {}/{}", s(&f["stage"]), s(&f["kind"])));
        }
    } else {
        let accepted = accepted(label);
        assert!(
            !accepted.is_empty(),
            "{name}: no mapping for label {label:?}"
        );
        let hits: Vec<_> = findings
            .iter()
            .filter(|f| accepted.contains(&(s(&f["stage"]), s(&f["kind"]))))
            .collect();
        if hits.is_empty() {
            let got: Vec<String> = findings
                .iter()
                .map(|f| format!("{}/{}", s(&f["stage"]), s(&f["kind"])))
                .collect();
            why.push(format!("want one of {accepted:?}, got {got:?}"));
        }
        // The target: the server name or address the ground truth names (a proxy's own
        // name differs per case; stage and kind are the test there).
        let names: BTreeSet<&str> = e["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|t| [s(&t["name"]), s(&t["ip"])])
            .filter(|x| !x.is_empty())
            .collect();
        let names_target = |f: &Value| {
            let host = s(&f["server"]).rsplit_once(':').map_or("", |(h, _)| h);
            names.contains(s(&f["server_name"])) || names.contains(host.trim_matches(['[', ']']))
        };
        if !hits.is_empty() && label.0 != "proxy" && !hits.iter().any(|f| names_target(f)) {
            why.push("no finding names the target".into());
        }
        if let Some(actors) = want_actor(e)
            && !hits.is_empty()
            && !hits.iter().any(|f| actors.contains(s(&f["actor"])))
        {
            why.push(format!("actor {:?}, want {actors:?}", hits[0]["actor"]));
        }
        if label.0 == "none" && hits.iter().any(|f| f["severity"] == "error") {
            why.push("an interception the client accepted reported as an error".into());
        }
        if !hits.is_empty()
            && !hits
                .iter()
                .any(|f| f["evidence"].as_array().is_some_and(|v| !v.is_empty()))
        {
            why.push("no evidence frames".into());
        }
        // What go printed ends with the error we say it most likely printed.
        let said = e["go"]["error_lines"]
            .as_array()
            .and_then(|l| l.last())
            .map(s)
            .unwrap_or("");
        if !said.is_empty()
            && !hits.is_empty()
            && !hits
                .iter()
                .filter_map(|f| f["likely_go_error"].as_str())
                .any(|g| said.ends_with(g))
        {
            let ours: Vec<_> = hits.iter().map(|f| &f["likely_go_error"]).collect();
            why.push(format!("go said {said:?}, we predicted {ours:?}"));
        }
    }
    let want_exit = if e["go"]["exit_code"].as_i64() == Some(0) {
        0
    } else {
        1
    };
    if code != want_exit {
        why.push(format!("exit {code}, want {want_exit}"));
    }
    why
}

#[test]
fn every_fixture_gets_its_verdict_and_go_error() {
    let text = std::fs::read_to_string(fixture_root().join("expected.json"))
        .expect("fixtures/expected.json (the merged ground truth)");
    let all: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
    assert!(all.len() >= 25, "only {} fixtures", all.len());
    let mut bad = Vec::new();
    for (name, e) in &all {
        for w in judge(name, e) {
            bad.push(format!("{name}: {w}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn fixtures_cover_every_finding_kind_and_clean_runs() {
    let text = std::fs::read_to_string(fixture_root().join("expected.json")).unwrap();
    let all: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
    let labels: BTreeSet<(&str, &str)> = all
        .values()
        .map(|e| (s(&e["stage"]), s(&e["kind"])))
        .collect();
    let covered: BTreeSet<(&str, &str)> = LABELS
        .iter()
        .filter(|(l, _)| labels.contains(l))
        .map(|(_, c)| *c)
        .collect();
    // Every failure kind of the contract the go command can meet, answered somewhere.
    for kind in [
        ("dns", "dns-servfail"),
        ("dns", "dns-nxdomain"),
        ("dns", "dns-timeout"),
        ("dns", "dns-suspicious-answer"),
        ("connect", "connect-timeout"),
        ("connect", "connect-refused"),
        ("proxy", "proxy-auth-required"),
        ("proxy", "proxy-denied"),
        ("proxy", "proxy-error"),
        ("tls", "handshake-aborted"),
        ("tls", "reset-after-client-hello"),
        ("tls", "handshake-stall"),
        ("tls", "mitm-certificate"),
        ("http", "http-not-found"),
        ("http", "http-error"),
        ("transfer", "transfer-stall"),
        ("transfer", "transfer-reset"),
        ("transfer", "retransmissions"),
        ("tls", "tls-downgrade"),
    ] {
        assert!(covered.contains(&kind), "no fixture for {kind:?}");
    }
    // Successful runs that must stay quiet: direct, via a proxy, through a trusted
    // interception, over a lossy path.
    for name in ["clean", "proxy-connect", "mitm-trusted-tls13", "lossy-path"] {
        assert_eq!(
            all[name]["go"]["exit_code"], 0,
            "{name} should be a success"
        );
    }
}
