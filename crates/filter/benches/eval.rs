//! The evaluator's cost per packet, for a few typical filters.
//!
//! Input: the benchmark seed, ../shared/bench/seed.pcap (see ../shared/bench/ANCHORS.md),
//! or the capture named by `MODSNIFF_BENCH_PCAP`; without either, the fixture
//! tls-fragmented-handshake.pcap (416 packets). A classic little-endian pcap.
#![allow(clippy::indexing_slicing)] // the bench slices its own record headers

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use modsniff_filter::Filter;
use std::hint::black_box;
use std::path::PathBuf;

struct Capture {
    link_type: u32,
    frames: Vec<(Vec<u8>, u32)>,
}

fn load() -> Capture {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = std::env::var_os("MODSNIFF_BENCH_PCAP")
        .map(PathBuf::from)
        .or_else(|| {
            let seed = root.join("../../../shared/bench/seed.pcap");
            seed.is_file().then_some(seed)
        })
        .unwrap_or_else(|| {
            root.join("../../fixtures/public/zeek/tls/tls-fragmented-handshake.pcap")
        });
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let u32le = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    assert!(
        data.len() >= 24 && u32le(&data[0..4]) == 0xa1b2_c3d4,
        "{} is not a little-endian microsecond pcap",
        path.display()
    );
    let link_type = u32le(&data[20..24]);
    let mut frames = Vec::new();
    let mut p = 24;
    while p + 16 <= data.len() {
        let (incl, orig) = (u32le(&data[p + 8..]) as usize, u32le(&data[p + 12..]));
        let Some(bytes) = data.get(p + 16..p + 16 + incl) else {
            break;
        };
        frames.push((bytes.to_vec(), orig));
        p += 16 + incl;
    }
    eprintln!(
        "filter bench: {} packets from {}",
        frames.len(),
        path.display()
    );
    Capture { link_type, frames }
}

fn bench(c: &mut Criterion) {
    let cap = load();
    let mut g = c.benchmark_group("filter");
    g.throughput(Throughput::Elements(cap.frames.len() as u64));
    for expr in [
        "tcp port 443",
        "host 10.0.0.1 and not port 53",
        "ip6 and (tcp dst portrange 8000-9000 or udp port domain)",
        "vlan or net 192.168.0.0/16 or ether multicast",
        "tcp[tcpflags] & (tcp-syn|tcp-rst) != 0",
    ] {
        let filter = Filter::new(expr).expect("the bench expressions compile");
        let not = Filter::new(&format!("not ({expr})")).expect("and their negations");
        let prog = filter.for_link_type(cap.link_type).expect("Ethernet");
        let neg = not.for_link_type(cap.link_type).expect("Ethernet");
        // A whole packet is never unknown: it passes exactly one of `e` and `not (e)`, so
        // the negation counts what `e` must select.
        let expected = cap
            .frames
            .iter()
            .filter(|(d, orig)| {
                if d.len() as u32 == *orig {
                    !neg.matches(d, *orig)
                } else {
                    prog.matches(d, *orig)
                }
            })
            .count();
        g.bench_function(expr, |b| {
            b.iter(|| {
                let n = cap
                    .frames
                    .iter()
                    .filter(|(d, orig)| prog.matches(black_box(d), *orig))
                    .count();
                assert_eq!(n, expected, "{expr}");
                n
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
