//! `modsniff read --go-stderr FILE CAPTURE`: a capture and the go command's saved stderr (what
//! people attach to bug reports), joined as `modsniff run` joins them live.
//!
//! The ground truth is each case's expected.json (what was injected, what go printed:
//! `go.error_lines`, `go.exit_code`) and go's stderr itself (one `# get URL` line per fetch),
//! never modsniff's own output.

use crate::common::*;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The fault matrix's cases whose outcome the capture alone cannot show
/// (`capture_shows_fault: false`), go's stderr does: an HTTP status inside TLS; a go command
/// that went on to build after its fetches, where the capture shows a silence until its close
/// as a stalled fetch given up would.
fn go_stderr_root() -> PathBuf {
    fixtures().join("matrix-go-stderr")
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn cases(dir: &Path) -> Map<String, Value> {
    let p = dir.join("expected.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).expect("expected.json")
}

/// `read --format ndjson PKI [--go-stderr stderr.txt] capture`: exit code and records.
fn read_case(dir: &Path, e: &Value, with_stderr: bool) -> (i32, Vec<Value>) {
    let mut args = lab_pki_args(&dir.join("harness/pki"), e);
    if with_stderr {
        args.push("--go-stderr".into());
        args.push(
            dir.join(s(&e["go"]["stderr_file"]))
                .to_string_lossy()
                .into_owned(),
        );
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, recs, stderr) = ndjson(&dir.join(s(&e["capture"]["file"])), &args);
    assert!(!stderr.contains("panicked"), "{stderr}");
    (code, recs)
}

/// A finding names the target: its server name or its address.
fn names_target(f: &Value, e: &Value) -> bool {
    e["targets"].as_array().into_iter().flatten().any(|t| {
        let srv = s(&f["server"]);
        let host = srv.rsplit_once(':').map_or(srv, |(h, _)| h);
        (!s(&t["name"]).is_empty() && f["server_name"] == t["name"])
            || (!s(&t["ip"]).is_empty() && host.trim_matches(['[', ']']) == s(&t["ip"]))
    })
}

/// What is wrong with the answer, by verdicts.py's rules (stage+kind, target, evidence in
/// range, exit) plus: the finding carries go's own line.
fn judge(e: &Value, code: i32, recs: &[Value]) -> Vec<String> {
    let mut why = Vec::new();
    let findings = of_type(recs, "finding");
    let label = (s(&e["stage"]), s(&e["kind"]));
    if label == ("none", "none") {
        // No fault: no error, and the exit of a run that worked.
        for f in findings.iter().filter(|f| f["severity"] == "error") {
            why.push(format!("false error: {}/{}", s(&f["stage"]), s(&f["kind"])));
        }
        if code != 0 {
            why.push(format!("exit {code}, want 0"));
        }
        return why;
    }
    let want = accepted(label);
    if want.is_empty() {
        return vec![format!("no rule for {label:?}")];
    }
    let hits: Vec<&&Value> = findings
        .iter()
        .filter(|f| want.contains(&(s(&f["stage"]), s(&f["kind"]))))
        .collect();
    if hits.is_empty() {
        let got: BTreeSet<String> = findings
            .iter()
            .map(|f| format!("{}/{}", s(&f["stage"]), s(&f["kind"])))
            .collect();
        why.push(format!("want {want:?}, got {got:?}"));
    } else {
        if !hits.iter().any(|f| names_target(f, e)) {
            why.push("finding does not name the target".into());
        }
        if !hits
            .iter()
            .any(|f| f["evidence"].as_array().is_some_and(|v| !v.is_empty()))
        {
            why.push("no evidence frames".into());
        }
        for line in e["go"]["error_lines"].as_array().into_iter().flatten() {
            let on = hits.iter().any(|f| {
                s(&f["go_error"]).lines().next() == line.as_str() && f["severity"] == "error"
            });
            if !on {
                why.push(format!("go's line is not on the finding: {line}"));
            }
        }
    }
    let packets = e["observed"]["packets"].as_u64().unwrap_or(u64::MAX);
    let in_range = findings.iter().all(|f| {
        f["evidence"].as_array().into_iter().flatten().all(|v| {
            v["packet"]
                .as_u64()
                .is_some_and(|p| (1..=packets).contains(&p))
        })
    });
    if !in_range {
        why.push("evidence frame out of range".into());
    }
    let want_exit = i32::from(e["go"]["exit_code"].as_i64() != Some(0));
    if code != want_exit {
        why.push(format!("exit {code}, want {want_exit}"));
    }
    why
}

#[test]
fn what_the_capture_cannot_show_is_decided_with_go_stderr() {
    let dir = go_stderr_root();
    let all = cases(&dir);
    assert!(all.len() >= 3, "the cases are there: {}", all.len());
    let mut bad = Vec::new();
    for (name, e) in &all {
        assert_eq!(e["capture_shows_fault"], false, "{name}");
        // The premise: the capture alone does not give the answer...
        let (code, recs) = read_case(&dir, e, false);
        if judge(e, code, &recs).is_empty() {
            bad.push(format!("{name}: decided without go's stderr"));
        }
        // ...and with go's stderr it does.
        let (code, recs) = read_case(&dir, e, true);
        let why = judge(e, code, &recs);
        if !why.is_empty() {
            bad.push(format!("{name}: {}", why.join("; ")));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Every capture with go's stderr beside it (fixtures/, the fault matrix, the cases above):
/// each error line go printed is the first line of a finding's `go_error`; go failing makes
/// the run fail and go succeeding (a fallback, a retry) does not; one `fetch` record per
/// `# get URL` line go printed; a fetch matched by name went to a connection of that name
/// and port; and a dial go reports as failed is a connection of its own (go dials anew).
#[test]
fn every_saved_stderr_joins_its_capture() {
    let mut bad = Vec::new();
    let mut n = 0;
    let (mut lines, mut fetches, mut matched) = (0, 0, 0);
    for dir in [fixtures(), fixtures().join("matrix"), go_stderr_root()] {
        for (name, e) in &cases(&dir) {
            if e["go"]["stderr_file"].as_str().is_none() {
                continue;
            }
            n += 1;
            let stderr = std::fs::read(dir.join(s(&e["go"]["stderr_file"])))
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .expect("stderr.txt");
            let (code, recs) = read_case(&dir, e, true);
            let mut why = Vec::new();
            let findings = of_type(&recs, "finding");
            let error_lines: Vec<&str> = e["go"]["error_lines"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for line in &error_lines {
                lines += 1;
                if !findings
                    .iter()
                    .any(|f| s(&f["go_error"]).lines().next() == Some(line))
                {
                    why.push(format!("go's line on no finding: {line}"));
                }
            }
            let go_failed = e["go"]["exit_code"].as_i64() != Some(0);
            // OK is a promise: a go that failed, even killed before it printed an error (a
            // hang ended by a timeout), never reads as OK with its stderr.
            if go_failed && (code == 0 || !error_lines.is_empty() && code != 1) {
                why.push(format!("go failed, exit {code}"));
            }
            if !go_failed && code != 0 {
                let errors: Vec<String> = findings
                    .iter()
                    .filter(|f| f["severity"] == "error")
                    .map(|f| {
                        format!(
                            "{}/{} on {}",
                            s(&f["stage"]),
                            s(&f["kind"]),
                            f["connection"]
                        )
                    })
                    .collect();
                why.push(format!("go succeeded, exit {code}: {errors:?}"));
            }
            let gets: Vec<&str> = stderr
                .lines()
                .filter_map(|l| l.strip_prefix("# get "))
                .filter(|u| !u.contains(' '))
                .collect();
            let recs_fetch = of_type(&recs, "fetch");
            fetches += recs_fetch.len();
            let urls: Vec<&str> = recs_fetch.iter().map(|f| s(&f["url"])).collect();
            if urls != gets {
                why.push(format!("fetch records {urls:?}, go fetched {gets:?}"));
            }
            let conns = of_type(&recs, "connection");
            let mut dialled = BTreeSet::new();
            for f in &recs_fetch {
                let Some(id) = f["connection"].as_u64() else {
                    continue;
                };
                matched += 1;
                let Some(c) = conns.iter().find(|c| c["id"] == id) else {
                    why.push(format!("fetch on connection {id}, which has no record"));
                    continue;
                };
                let url = s(&f["url"]);
                let hostport = url
                    .split_once("://")
                    .map_or(url, |(_, r)| r.split('/').next().unwrap_or(r));
                let default = if url.starts_with("https:") {
                    "443"
                } else {
                    "80"
                };
                // Matched by name means a name, not an address: no brackets to mind.
                let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, default));
                if f["matched_by"] == "name"
                    && (c["server_name"] != host || !s(&c["server"]).ends_with(&format!(":{port}")))
                {
                    why.push(format!("{url} matched by name to {c}"));
                }
                if s(&f["error"]).contains(": dial tcp ") && !dialled.insert(id) {
                    why.push(format!("two failed dials on connection {id}: {url}"));
                }
            }
            if !why.is_empty() {
                bad.push(format!("{}/{name}: {}", dir.display(), why.join("; ")));
            }
        }
    }
    eprintln!("{n} cases, {lines} error lines, {fetches} fetches ({matched} matched)");
    assert!(n >= 240, "the captures with go's stderr: {n}");
    assert!(
        bad.is_empty(),
        "{}\n{} of {n} wrong",
        bad.join("\n"),
        bad.len()
    );
}

/// A capture that missed go's traffic (here: a filter that keeps none of it, as a capture on
/// the wrong interface would), with go's stderr: never OK. Each error go printed becomes a
/// finding of stage `go` carrying it, and a network error says the capture shows no packet of
/// it and where the traffic may have gone.
#[test]
fn a_capture_without_go_traffic_never_reads_ok() {
    let dir = fixtures();
    let mut bad = Vec::new();
    let mut n = 0;
    for (name, e) in &cases(&dir) {
        let lines: Vec<&str> = e["go"]["error_lines"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if e["go"]["exit_code"].as_i64() == Some(0) || lines.is_empty() {
            continue;
        }
        n += 1;
        let stderr = dir.join(s(&e["go"]["stderr_file"]));
        let cap = dir.join(s(&e["capture"]["file"]));
        let (code, recs, _) = ndjson(
            &cap,
            &[
                "--go-stderr",
                stderr.to_str().unwrap(),
                "--filter",
                "udp port 9",
            ],
        );
        let stats = of_type(&recs, "stats");
        let findings = of_type(&recs, "finding");
        let mut why = Vec::new();
        if code != 1
            || stats
                .first()
                .is_none_or(|s| s["packets"] != 0 || s["verdict"] != "error")
        {
            why.push(format!("exit {code}, stats {stats:?}"));
        }
        for line in &lines {
            let on: Vec<&&Value> = findings
                .iter()
                .filter(|f| s(&f["go_error"]).lines().next() == Some(line))
                .collect();
            if on.is_empty() || on.iter().any(|f| f["stage"] != "go") {
                why.push(format!("go's line on {on:?}: {line}"));
            }
        }
        for f in findings.iter().filter(|f| f["kind"] == "go-failed") {
            let sum = s(&f["summary"]);
            if !(sum.starts_with("go failed: ")
                && (sum.contains("no packet to") || sum.contains("no connection at all")))
            {
                why.push(format!("go-failed says: {sum}"));
            }
        }
        if !why.is_empty() {
            bad.push(format!("{name}: {}", why.join("; ")));
        }
    }
    assert!(n >= 20, "failing fixtures with go's errors: {n}");
    assert!(
        bad.is_empty(),
        "{}\n{} of {n} wrong",
        bad.join("\n"),
        bad.len()
    );
}

/// go run without -x prints its errors only: each joins the same finding (stage, kind,
/// connection) as with the trace, the URL or address it names standing in for the fetch.
#[test]
fn without_the_trace_errors_join_the_same_findings() {
    let tmp = std::env::temp_dir().join(format!("modsniff-nox-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let mut bad = Vec::new();
    let mut n = 0;
    for dir in [fixtures(), fixtures().join("matrix"), go_stderr_root()] {
        for (name, e) in &cases(&dir) {
            if e["go"]["error_lines"].as_array().is_none_or(Vec::is_empty) {
                continue;
            }
            n += 1;
            let stderr = std::fs::read(dir.join(s(&e["go"]["stderr_file"])))
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .expect("stderr.txt");
            let bare: String = stderr
                .split_inclusive('\n')
                .filter(|l| !l.starts_with("# get "))
                .collect();
            let file = tmp.join(format!("{n}.txt"));
            std::fs::write(&file, bare).expect("write");
            let joined = |file: &Path| {
                let mut args = lab_pki_args(&dir.join("harness/pki"), e);
                args.extend(["--go-stderr".into(), file.to_string_lossy().into_owned()]);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let (code, recs, _) = ndjson(&dir.join(s(&e["capture"]["file"])), &args);
                let mut got: Vec<String> = of_type(&recs, "finding")
                    .iter()
                    .filter(|f| f["go_error"].is_string())
                    .map(|f| {
                        format!(
                            "{}/{} on {}: {}",
                            s(&f["stage"]),
                            s(&f["kind"]),
                            f["connection"],
                            s(&f["go_error"]).lines().next().unwrap_or("")
                        )
                    })
                    .collect();
                got.sort();
                (code, got)
            };
            let with = joined(&dir.join(s(&e["go"]["stderr_file"])));
            let without = joined(&file);
            if with != without {
                bad.push(format!(
                    "{name}:\n  with -x    {with:?}\n  without -x {without:?}"
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(n >= 150, "cases with go's errors: {n}");
    assert!(
        bad.is_empty(),
        "{}\n{} of {n} differ",
        bad.join("\n"),
        bad.len()
    );
}

/// go's `-x` trace kept apart from its errors (`--go-trace`) joins as the same stderr does:
/// the same fetch records and the same findings, on every fixture with a saved stderr.
#[test]
fn a_trace_kept_apart_joins_as_the_whole_stderr() {
    let dir = std::env::temp_dir().join(format!("modsniff-go-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = |recs: &[serde_json::Value]| {
        let mut v: Vec<String> = recs
            .iter()
            .filter(|r| r["type"] == "fetch" || r["type"] == "finding")
            .map(|r| {
                let mut r = r.clone();
                r.as_object_mut().unwrap().remove("summary");
                r.to_string()
            })
            .collect();
        v.sort();
        v
    };
    let (mut cases, mut fetches) = (0, 0);
    for cap in captures(&fixtures()) {
        let d = cap.parent().unwrap();
        // the fixtures' own cases (the matrix repeats them)
        if d.parent() != Some(fixtures().as_path()) {
            continue;
        }
        let Ok(stderr) = std::fs::read_to_string(d.join("stderr.txt")) else {
            continue;
        };
        let (trace, errors): (Vec<&str>, Vec<&str>) =
            stderr.lines().partition(|l| l.starts_with("# get"));
        let (t, e) = (dir.join("trace.txt"), dir.join("errors.txt"));
        std::fs::write(&t, trace.join("\n")).unwrap();
        std::fs::write(&e, errors.join("\n")).unwrap();
        let whole = d.join("stderr.txt");
        let (_, a, _) = ndjson(&cap, &["--go-stderr", whole.to_str().unwrap()]);
        let (_, b, _) = ndjson(
            &cap,
            &[
                "--go-stderr",
                e.to_str().unwrap(),
                "--go-trace",
                t.to_str().unwrap(),
            ],
        );
        assert_eq!(key(&a), key(&b), "{}", cap.display());
        cases += 1;
        fetches += of_type(&b, "fetch").len();
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(cases >= 40, "only {cases} fixtures with a saved stderr");
    assert!(fetches >= cases, "{fetches} fetch records from the traces");
}
