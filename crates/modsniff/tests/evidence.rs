//! Every frame a finding cites is cited with that frame's own time: the evidence's `ts` is
//! the time the capture file gives the frame `packet` (to the microsecond, as the records
//! write times), on every capture we have.

use crate::common::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Frame number -> time in microseconds, from the capture itself.
pub fn frame_times(path: &Path) -> HashMap<u64, u64> {
    let mut src = modsniff_capture::FileSource::open(path).expect("open capture");
    let mut out = HashMap::new();
    while let Ok(Some(p)) = src.next_packet() {
        out.insert(p.frame, p.ts.as_nanos() / 1000);
    }
    out
}

/// The evidence items of `recs` whose time is not their frame's: "frame N: cited T, is U".
pub fn wrong_times(recs: &[serde_json::Value], times: &HashMap<u64, u64>) -> Vec<String> {
    let mut bad = Vec::new();
    for f in of_type(recs, "finding") {
        for e in f["evidence"].as_array().into_iter().flatten() {
            let Some(frame) = e["packet"].as_u64() else {
                continue;
            };
            let cited = e["ts"].as_f64().map(|t| (t * 1e6).round() as u64);
            let actual = times.get(&frame).copied();
            if cited != actual {
                bad.push(format!(
                    "{} {}: frame {frame} ({}) cited at {:?}, the capture has {:?}",
                    f["kind"], f["connection"], e["note"], cited, actual
                ));
            }
        }
    }
    bad
}

fn all_captures() -> Vec<PathBuf> {
    let mut files = captures(&fixtures());
    if let Some(s) = shared_or_skip("evidence times in ../shared's captures") {
        files.extend(captures(&s.join("scenarios")));
        files.extend(captures(&s.join("pcaps/public")));
    }
    files
}

#[test]
fn evidence_cites_each_frame_with_its_own_time() {
    let mut bad = Vec::new();
    let mut cited = 0;
    let pki = fixtures().join("harness/pki");
    for file in all_captures() {
        let times = frame_times(&file);
        // With the lab's PKI too: the chains validate, so other findings cite other frames.
        for extra in [
            vec![],
            vec![
                "--public-ca-file".to_string(),
                pki.join("root.pem").display().to_string(),
                "--ca-file".to_string(),
                pki.join("trust-corp.pem").display().to_string(),
            ],
        ] {
            let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
            let (_, recs, _) = ndjson(&file, &extra);
            cited += of_type(&recs, "finding")
                .iter()
                .map(|f| f["evidence"].as_array().map_or(0, Vec::len))
                .sum::<usize>();
            for b in wrong_times(&recs, &times) {
                bad.push(format!("{}: {b}", file.display()));
            }
        }
    }
    eprintln!("{cited} evidence items checked");
    assert!(cited > 100, "the captures' findings cite frames ({cited})");
    assert!(bad.is_empty(), "{}\n{} wrong", bad.join("\n"), bad.len());
}
