//! Helpers: run the built binary, find fixtures and ../shared.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_modsniff"))
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn fixtures() -> PathBuf {
    root().join("fixtures")
}

/// ../shared beside the repository (CI has it; a user's clone may not).
pub fn shared() -> Option<PathBuf> {
    let p = root().join("../shared");
    p.is_dir().then_some(p)
}

/// Prints why a test is skipped; returns None so callers can `let Some(..) = .. else { return }`.
pub fn shared_or_skip(what: &str) -> Option<PathBuf> {
    let s = shared();
    if s.is_none() {
        eprintln!(
            "SKIP {what}: ../shared is absent (it is beside the repository in CI, not in a user's clone)"
        );
    }
    s
}

/// Whether every one of `tools` can be started; if not, prints why `what` is skipped (the
/// SKIP line of `shared_or_skip`).
pub fn tools_or_skip(tools: &[&str], what: &str) -> bool {
    for tool in tools {
        if Command::new(tool).arg("-h").output().is_err() {
            eprintln!("SKIP {what}: {tool} is not installed");
            return false;
        }
    }
    true
}

pub fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run modsniff")
}

/// Runs `read --format ndjson [EXTRA] FILE` and parses every line.
pub fn ndjson(file: &Path, extra: &[&str]) -> (i32, Vec<serde_json::Value>, String) {
    let f = file.to_str().unwrap();
    let mut args = vec!["read", "--format", "ndjson"];
    args.extend_from_slice(extra);
    args.push(f);
    let out = run(&args);
    let stdout = String::from_utf8(out.stdout).expect("utf-8 output");
    let recs = stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{f}: bad JSON line {l:?}: {e}"))
        })
        .collect();
    (
        out.status.code().unwrap_or(-1),
        recs,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn of_type<'a>(recs: &'a [serde_json::Value], ty: &str) -> Vec<&'a serde_json::Value> {
    recs.iter().filter(|r| r["type"] == ty).collect()
}

/// Every capture file below `dir` (pcap, pcapng, trace), skipping `reference/`.
pub fn captures(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "reference") {
                    stack.push(p);
                }
            } else if p
                .extension()
                .is_some_and(|x| x == "pcap" || x == "pcapng" || x == "trace")
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A (stage, kind) pair.
pub type Label = (&'static str, &'static str);

/// Ground-truth label (stage, kind) -> each (stage, kind) of the contract that answers it:
/// ../shared/tools/verdicts.py's MAP, the rule every scored test shares.
pub const LABELS: &[(Label, Label)] = &[
    (("dns", "servfail"), ("dns", "dns-servfail")),
    (("dns", "nxdomain"), ("dns", "dns-nxdomain")),
    (("dns", "dns-timeout"), ("dns", "dns-timeout")),
    (
        ("tcp-connect", "syn-timeout"),
        ("connect", "connect-timeout"),
    ),
    (("tcp-connect", "refused"), ("connect", "connect-refused")),
    (("proxy", "refused"), ("proxy", "proxy-error")),
    (("proxy", "refused"), ("connect", "connect-refused")),
    (("proxy", "refused"), ("proxy", "connect-refused")),
    (("proxy", "proxy-auth"), ("proxy", "proxy-auth-required")),
    (("proxy", "proxy-denied"), ("proxy", "proxy-denied")),
    (("proxy", "proxy-error"), ("proxy", "proxy-error")),
    (
        ("dns", "suspicious-answer"),
        ("dns", "dns-suspicious-answer"),
    ),
    (
        ("tls-handshake", "handshake-aborted"),
        ("tls", "handshake-aborted"),
    ),
    (
        ("tls-handshake", "reset-after-clienthello"),
        ("tls", "reset-after-client-hello"),
    ),
    (
        ("tls-handshake", "handshake-stall"),
        ("tls", "handshake-stall"),
    ),
    (("tls-handshake", "mitm-cert"), ("tls", "mitm-certificate")),
    (("none", "mitm-cert"), ("tls", "mitm-certificate")),
    (("http", "http-404"), ("http", "http-not-found")),
    (("http", "http-5xx"), ("http", "http-error")),
    (
        ("transfer", "transfer-stall"),
        ("transfer", "transfer-stall"),
    ),
    (
        ("transfer", "transfer-reset"),
        ("transfer", "transfer-reset"),
    ),
    (("none", "retransmissions"), ("transfer", "retransmissions")),
    (("none", "retransmissions"), ("tcp", "retransmissions")),
    (("none", "retransmissions"), ("connect", "retransmissions")),
    (("none", "tls-downgrade"), ("tls", "tls-downgrade")),
    (
        ("tls-handshake", "cert-rejected"),
        ("tls", "certificate-rejected"),
    ),
];

/// The (stage, kind) pairs that answer a ground-truth label (none: no rule for it).
pub fn accepted(label: (&str, &str)) -> Vec<Label> {
    LABELS
        .iter()
        .filter(|(l, _)| *l == label)
        .map(|(_, c)| *c)
        .collect()
}

/// `--public-ca-file` and `--ca-file` for a case of the fault harness: its lab PKI (in
/// `pki`, a `harness/pki` directory) stands in for the public web PKI, and the client trusted
/// what go's SSL_CERT_FILE named in the case's `go.env` (the public root when it named none).
pub fn lab_pki_args(pki: &Path, case: &serde_json::Value) -> Vec<String> {
    let trust = case["go"]["env"]
        .as_str()
        .unwrap_or("")
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("SSL_CERT_FILE="))
        .and_then(|p| p.rsplit('/').next())
        .unwrap_or("trust-public.pem");
    vec![
        "--public-ca-file".into(),
        pki.join("root.pem").to_string_lossy().into_owned(),
        "--ca-file".into(),
        pki.join(trust).to_string_lossy().into_owned(),
    ]
}
