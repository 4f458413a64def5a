//! `read --threads N` (N engines sharing the flows, their events merged, one diagnosis)
//! writes exactly what `--threads 1` writes, and exits the same way, with 2 and 4 engines, on
//! every fixture (the matrix's included), public capture and scenario capture.

use crate::common::*;
use std::path::Path;

fn read_bytes(file: &Path, threads: &str) -> (Option<i32>, Vec<u8>) {
    let f = file.to_str().unwrap();
    let out = run(&["read", "--format", "ndjson", "--threads", threads, f]);
    (out.status.code(), out.stdout)
}

#[test]
fn sharded_engines_write_what_one_engine_writes() {
    let mut dirs = vec![fixtures()];
    if let Some(s) = shared_or_skip("threads on public captures and scenarios") {
        dirs.extend([s.join("pcaps/public"), s.join("scenarios")]);
    }
    let mut n = 0;
    let mut records = 0;
    for dir in dirs {
        for cap in captures(&dir) {
            let one = read_bytes(&cap, "1");
            for threads in ["2", "4"] {
                let many = read_bytes(&cap, threads);
                assert_eq!(
                    one.0,
                    many.0,
                    "{}: exit code differs with --threads {threads}",
                    cap.display()
                );
                assert!(
                    one.1 == many.1,
                    "{}: --threads {threads} output differs from --threads 1",
                    cap.display()
                );
            }
            records += one.1.iter().filter(|b| **b == b'\n').count();
            n += 1;
        }
    }
    // The fixtures alone hold hundreds of captures: a walk that found none, or output that
    // holds nothing to compare, is a broken test.
    assert!(n >= 200, "only {n} captures found");
    assert!(records > 2 * n, "only {records} records in {n} captures");
}

#[test]
fn zero_threads_is_refused() {
    let cap = captures(&fixtures())
        .into_iter()
        .next()
        .expect("a fixture capture");
    let out = run(&["read", "--threads", "0", cap.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{:?}", out);
}
