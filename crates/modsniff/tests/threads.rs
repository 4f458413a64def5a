//! `read --threads N` writes exactly what `--threads 1` writes, and exits the same way: with 2
//! (one engine and the output pipelined) and 4 (four engines sharing the flows, their events
//! merged, one diagnosis), on every fixture (the matrix's included), public capture and
//! scenario capture.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// Flow-table bounds small enough to act on most fixtures: a shard's share acts, and the
/// shards fall back to one engine reading the file again (`--max-flows 4` with 4 shards: from
/// the packet where the share acted; `--max-flows 2`: from the start, a bound smaller than the
/// number of shards cannot be divided); the output is still `--threads 1`'s, as the
/// pipeline's (`--threads 2`) is.
#[test]
fn bounds_reached_write_what_one_engine_writes() {
    let mut n = 0;
    let mut evicting = 0;
    for cap in captures(&fixtures()) {
        let f = cap.to_str().unwrap();
        for max_flows in ["2", "4"] {
            let read = |threads: &str| {
                let out = run(&[
                    "read",
                    "--format",
                    "ndjson",
                    "--max-flows",
                    max_flows,
                    "--threads",
                    threads,
                    f,
                ]);
                (out.status.code(), out.stdout)
            };
            let one = read("1");
            for threads in ["2", "4"] {
                let many = read(threads);
                assert_eq!(
                    one.0, many.0,
                    "{f}: --max-flows {max_flows}: exit code differs with --threads {threads}"
                );
                assert!(
                    one.1 == many.1,
                    "{f}: --max-flows {max_flows} --threads {threads} output differs from --threads 1"
                );
            }
            if String::from_utf8_lossy(&one.1).contains("\"end_reason\":\"evicted\"") {
                evicting += 1;
            }
        }
        n += 1;
    }
    assert!(n >= 200, "only {n} captures found");
    // The bound must have acted for the comparison to mean anything.
    assert!(evicting >= 100, "only {evicting} runs had a flow evicted");
}

/// The benchmark corpus's recipe (../shared/bench/make-corpus.sh) at a small size: replicas
/// of real traffic with remapped addresses, overlapping in time so thousands of flows are open
/// at once, merged in time order. Built in a temporary directory; `MODSNIFF_CORPUS` names an
/// already built corpus directory instead (the full 1 GB one takes a minute per run).
fn corpus_or_skip() -> Option<(PathBuf, Option<tempfile::TempDir>)> {
    if let Some(dir) = std::env::var_os("MODSNIFF_CORPUS") {
        return Some((PathBuf::from(dir), None));
    }
    let shared = shared_or_skip("threads on the benchmark corpus")?;
    if !tools_or_skip(
        &["tcprewrite", "editcap", "mergecap", "capinfos"],
        "threads on the benchmark corpus",
    ) {
        return None;
    }
    let dir = tempfile::Builder::new()
        .prefix("modsniff-threads-corpus")
        .tempdir()
        .expect("a temporary directory");
    let out = Command::new("bash")
        .arg(shared.join("bench/make-corpus.sh"))
        .env("DIR", dir.path())
        .env("N", "4")
        .output()
        .expect("running make-corpus.sh");
    assert!(
        out.status.success(),
        "make-corpus.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some((dir.path().to_path_buf(), Some(dir)))
}

/// The corpus the speed figures are measured on: `--threads 1, 2, 3, 4` write the same bytes
/// for the whole corpus, its first quarter and its pcapng copy (the pipeline for 2, shards
/// from 3 on). Thousands of flows overlap across the shards here, which the fixtures (a few
/// connections each) do not rehearse.
#[test]
fn the_benchmark_corpus_reads_the_same_with_any_thread_count() {
    let Some((dir, _keep)) = corpus_or_skip() else {
        return;
    };
    for name in ["corpus.pcap", "corpus-q1.pcap", "corpus.pcapng"] {
        let cap = dir.join(name);
        let one = read_bytes(&cap, "1");
        let connections = one
            .1
            .split(|b| *b == b'\n')
            .filter(|l| l.starts_with(b"{\"type\":\"connection\""))
            .count();
        // Four replicas of the seed hold a few thousand connections: fewer means the recipe
        // or the reading broke, and the comparison would prove nothing.
        assert!(
            connections >= 1_000,
            "{name}: only {connections} connection records"
        );
        for threads in ["2", "3", "4"] {
            let many = read_bytes(&cap, threads);
            assert_eq!(
                one.0, many.0,
                "{name}: exit code differs with --threads {threads}"
            );
            assert!(
                one.1 == many.1,
                "{name}: --threads {threads} output differs from --threads 1"
            );
        }
    }
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
