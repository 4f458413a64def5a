//! Throughput of FileSource over an in-memory capture (no disk in the measurement): the
//! records of fixtures/capture/pcap-usec-le.pcap and pcapng-multi-interface.pcapng repeated
//! to about 8 MB.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use modsniff_capture::FileSource;
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/capture")
        .join(name);
    std::fs::read(p).expect("fixture")
}

/// The file's header (`head` bytes) once, then its body repeated up to `target` bytes.
fn repeat(file: &[u8], head: usize, target: usize) -> (Arc<[u8]>, usize) {
    let (h, body) = file.split_at(head);
    let mut v = h.to_vec();
    let mut copies = 0;
    while v.len() < target {
        v.extend_from_slice(body);
        copies += 1;
    }
    (v.into(), copies)
}

fn count(data: &Arc<[u8]>) -> u64 {
    let mut src = FileSource::from_reader(Box::new(Cursor::new(Arc::clone(data))), "bench".into())
        .expect("open");
    let mut sum = 0u64;
    while let Some(p) = src.next_packet().expect("read") {
        sum = sum.wrapping_add(p.data.len() as u64);
    }
    assert!(src.warnings().is_empty());
    src.packets_read()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("file_source");
    // pcap: 24-byte header, 3 records per copy.
    let (pcap, copies) = repeat(&fixture("pcap-usec-le.pcap"), 24, 8 << 20);
    g.throughput(Throughput::Bytes(pcap.len() as u64));
    g.bench_function("pcap", |b| {
        b.iter(|| assert_eq!(count(&pcap), 3 * copies as u64))
    });
    // pcapng: the body after the SHB and both IDBs (6 EPBs per copy): walk the blocks to the
    // first EPB.
    let ng = fixture("pcapng-multi-interface.pcapng");
    let le32 = |at: usize| u32::from_le_bytes(ng[at..at + 4].try_into().expect("4 bytes"));
    let mut first_epb = 0;
    while le32(first_epb) != 6 {
        first_epb += le32(first_epb + 4) as usize;
    }
    let (ng, copies) = repeat(&ng, first_epb, 8 << 20);
    g.throughput(Throughput::Bytes(ng.len() as u64));
    g.bench_function("pcapng", |b| {
        b.iter(|| assert_eq!(count(&ng), 6 * copies as u64))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
