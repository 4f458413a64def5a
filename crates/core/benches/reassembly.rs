//! Reassembler throughput: in-order (the zero-copy fast path), pairwise reordering (every
//! other segment goes through the out-of-order buffer), and a consumer that skips everything.
#![allow(clippy::indexing_slicing)] // the bench slices its own generated stream

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use modsniff_core::hooks::reassembly::{
    Chunk, MemBudget, Reassembler, ReassemblyLimits, SeqNumber,
};
use modsniff_core::{Progress, Timestamp};
use std::hint::black_box;

const STREAM: usize = 16 * 1024 * 1024;
const ISN1: u32 = u32::MAX - 1_000_000; // wraps inside the run

/// Segment start offsets in feeding order.
fn order(mss: usize, swap_pairs: bool) -> Vec<usize> {
    let mut starts: Vec<usize> = (0..STREAM).step_by(mss).collect();
    if swap_pairs {
        for pair in starts.chunks_mut(2) {
            pair.reverse();
        }
    }
    starts
}

fn run(data: &[u8], starts: &[usize], mss: usize, want: Progress) -> u64 {
    let mut r = Reassembler::new(SeqNumber(ISN1));
    let mut budget = MemBudget::default();
    let limits = ReassemblyLimits::default();
    let mut delivered = 0u64;
    let mut sink = |c: Chunk<'_>| {
        if let Chunk::Data { bytes, .. } = c {
            delivered += bytes.len() as u64;
        }
        want
    };
    for (i, &s) in starts.iter().enumerate() {
        let e = (s + mss).min(data.len());
        let seq = SeqNumber(ISN1.wrapping_add(s as u32));
        let _ = r.segment(
            seq,
            &data[s..e],
            (e - s) as u32,
            i as u64,
            Timestamp::ZERO,
            &mut budget,
            &limits,
            &mut sink,
        );
    }
    r.finish(&mut budget, &mut sink);
    assert_eq!(r.delivered_offset(), data.len() as u64);
    assert_eq!(budget.used(), 0);
    delivered
}

fn bench(c: &mut Criterion) {
    let data: Vec<u8> = (0..STREAM).map(|i| (i % 251) as u8).collect();
    let mut g = c.benchmark_group("reassembly");
    g.throughput(Throughput::Bytes(STREAM as u64));
    g.sample_size(20);
    for (name, mss, swap, want, expect) in [
        (
            "in_order_1448",
            1448,
            false,
            Progress::Continue,
            STREAM as u64,
        ),
        (
            "in_order_65536",
            65536,
            false,
            Progress::Continue,
            STREAM as u64,
        ),
        (
            "ooo_pairs_1448",
            1448,
            true,
            Progress::Continue,
            STREAM as u64,
        ),
        (
            "skip_all_1448_ooo_pairs",
            1448,
            true,
            Progress::Skip(u64::MAX),
            0,
        ),
    ] {
        let starts = order(mss, swap);
        g.bench_function(name, |b| {
            b.iter(|| {
                let got = run(black_box(&data), &starts, mss, want);
                // The skipping consumer sees at most the first chunk.
                assert!(got == expect || (expect == 0 && got <= mss as u64));
                got
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
