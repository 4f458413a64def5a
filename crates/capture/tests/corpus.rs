//! Every public capture under /work/shared/pcaps/public reads without panic, and delivers as
//! many packets as tshark 4.0 did (the reference JSON's `frames`). Files tshark called damaged
//! must also leave a warning. Skips (with a message) when /work/shared is absent.

use modsniff_capture::{DEFAULT_REORDER_WINDOW, FileSource};
use std::path::{Path, PathBuf};

const CORPUS: &str = "/work/shared/pcaps";

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// `frames` and whether tshark reported an error, from the reference JSON (plain text search:
/// the test crate has no JSON dependency).
fn reference(rel: &Path) -> Option<(u64, bool)> {
    let path = Path::new(CORPUS)
        .join("reference")
        .join(format!("{}.json", rel.display()));
    let text = std::fs::read_to_string(path).ok()?;
    let num = |key: &str| -> Option<u64> {
        let at = text.find(&format!("\"{key}\":"))? + key.len() + 3;
        let rest = text.get(at..)?.trim_start();
        let end = rest.find(|c: char| !c.is_ascii_digit())?;
        rest.get(..end)?.parse().ok()
    };
    Some((num("frames")?, num("tshark_exit_status")? != 0))
}

/// Frame numbers may run ahead of the packet count only by pcapng records that carry no
/// packet; none of the corpus files has more than a handful.
fn src_frames_bound(n: u64) -> u64 {
    n + 16
}

#[test]
fn public_corpus_counts_match_tshark() {
    let public = Path::new(CORPUS).join("public");
    if !public.is_dir() {
        eprintln!("SKIP: {} not present", public.display());
        return;
    }
    let mut all = Vec::new();
    files(&public, &mut all);
    all.sort();
    assert!(all.len() >= 150, "corpus has {} files", all.len());
    let mut failures = Vec::new();
    let mut damaged = 0;
    for path in &all {
        let rel = path.strip_prefix(&public).unwrap_or(path);
        let Some((frames, tshark_error)) = reference(rel) else {
            failures.push(format!("{}: no reference", rel.display()));
            continue;
        };
        let mut src = match FileSource::open(path) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{}: open failed: {e}", rel.display()));
                continue;
            }
        };
        let mut n = 0u64;
        loop {
            match src.next_packet() {
                Ok(Some(p)) => {
                    n += 1;
                    // The reorder window moves a packet at most its depth from its place.
                    let w = DEFAULT_REORDER_WINDOW as u64;
                    assert!(p.frame + w >= n && p.frame <= src_frames_bound(n) + w);
                    assert!(p.data.len() <= 262_144);
                }
                Ok(None) => break,
                Err(e) => {
                    failures.push(format!("{}: read failed: {e}", rel.display()));
                    break;
                }
            }
        }
        assert_eq!(src.packets_read(), n);
        if src.frames() != frames {
            failures.push(format!(
                "{}: {} frames ({n} packets), tshark {frames}",
                rel.display(),
                src.frames()
            ));
        }
        if tshark_error {
            damaged += 1;
            if src.warnings().is_empty() {
                failures.push(format!("{}: tshark failed but no warning", rel.display()));
            } else {
                eprintln!("{}", src.warnings()[0]);
            }
        } else if !src.warnings().is_empty() {
            failures.push(format!(
                "{}: unexpected warning {}",
                rel.display(),
                src.warnings()[0]
            ));
        }
    }
    assert_eq!(damaged, 3, "the corpus has three damaged files");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
