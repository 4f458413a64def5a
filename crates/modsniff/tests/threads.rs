//! `read --threads 2` (engine and output on two threads) writes exactly what `--threads 1`
//! writes, and exits the same way, on every fixture, public capture and scenario capture.

use crate::common::*;
use std::path::Path;

fn read_bytes(file: &Path, threads: &str) -> (Option<i32>, Vec<u8>) {
    let f = file.to_str().unwrap();
    let out = run(&["read", "--format", "ndjson", "--threads", threads, f]);
    (out.status.code(), out.stdout)
}

#[test]
fn two_threads_write_what_one_thread_writes() {
    let mut dirs = vec![fixtures()];
    if let Some(s) = shared_or_skip("threads on public captures") {
        dirs.extend([s.join("pcaps/public"), s.join("scenarios")]);
    }
    let mut n = 0;
    for dir in dirs {
        for cap in captures(&dir) {
            let one = read_bytes(&cap, "1");
            let two = read_bytes(&cap, "2");
            assert_eq!(one.0, two.0, "{}: exit code differs", cap.display());
            assert!(
                one.1 == two.1,
                "{}: --threads 2 output differs from --threads 1",
                cap.display()
            );
            n += 1;
        }
    }
    // The fixtures alone hold dozens of captures: a walk that found none is a broken test.
    assert!(n >= 20, "only {n} captures found");
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
