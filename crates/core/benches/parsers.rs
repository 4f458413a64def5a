//! Per-stage costs on real traffic: frame decoding, flow-table lookup, the TLS ClientHello,
//! HTTP and DNS parsers, and the whole engine (flows + reassembly + every decoder).
//!
//! Input: the benchmark seed, ../shared/bench/seed.pcap (49,507 packets of real HTTPS, proxy,
//! HTTP and DNS traffic, see ../shared/bench/ANCHORS.md), or the capture named by
//! `MODSNIFF_BENCH_PCAP`. Without either the benches print SKIP and measure nothing.
#![allow(clippy::indexing_slicing)] // the bench slices its own fixed-size headers

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use modsniff_core::Event;
use modsniff_core::dns::parse_message;
use modsniff_core::hooks::FingerprintCache;
use modsniff_core::hooks::FlowKey;
use modsniff_core::hooks::client_hello;
use modsniff_core::hooks::wire::{L4, decode};
use modsniff_core::http::HttpDecoder;
use modsniff_core::{Config, Engine, LinkType, Packet, Timestamp};
use modsniff_core::{Side, Transport};
use modsniff_core::{StreamCtx, StreamDecoder};
use rustc_hash::FxHashMap;
use std::hint::black_box;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Frames of a classic little-endian pcap: (ts, linktype, bytes).
struct Capture {
    linktype: LinkType,
    frames: Vec<(Timestamp, Vec<u8>)>,
}

fn load() -> Option<Capture> {
    let path = std::env::var_os("MODSNIFF_BENCH_PCAP")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/seed.pcap")
        });
    let Ok(data) = std::fs::read(&path) else {
        eprintln!("SKIP parsers bench: {} not readable", path.display());
        return None;
    };
    let u32le = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    if data.len() < 24 || u32le(&data[0..4]) != 0xa1b2_c3d4 {
        eprintln!(
            "SKIP parsers bench: {} is not a LE microsecond pcap",
            path.display()
        );
        return None;
    }
    let linktype = LinkType(u32le(&data[20..24]));
    let mut frames = Vec::new();
    let mut p = 24;
    while p + 16 <= data.len() {
        let (sec, usec, incl) = (
            u32le(&data[p..]),
            u32le(&data[p + 4..]),
            u32le(&data[p + 8..]) as usize,
        );
        let Some(bytes) = data.get(p + 16..p + 16 + incl) else {
            break;
        };
        let ts = Timestamp::from_parts(u64::from(sec), u64::from(usec), 1_000_000);
        frames.push((ts, bytes.to_vec()));
        p += 16 + incl;
    }
    Some(Capture { linktype, frames })
}

fn bytes(cap: &Capture) -> u64 {
    cap.frames.iter().map(|(_, f)| f.len() as u64).sum()
}

fn bench(c: &mut Criterion) {
    let Some(cap) = load() else { return };

    // Payloads for the parser benches, taken from the capture itself.
    let mut hellos: Vec<Vec<u8>> = Vec::new();
    let mut requests: Vec<Vec<u8>> = Vec::new();
    let mut dns: Vec<Vec<u8>> = Vec::new();
    let mut tuples: Vec<(SocketAddr, SocketAddr)> = Vec::new();
    for (_, f) in &cap.frames {
        let d = decode(cap.linktype, f);
        let Some(ip) = d.ip else { continue };
        match d.l4 {
            L4::Tcp(t) => {
                tuples.push(((ip.src, t.src_port).into(), (ip.dst, t.dst_port).into()));
                let p = t.payload;
                // A whole ClientHello in one record: content type 22, handshake type 1.
                if p.len() > 9 && p[0] == 22 && p[5] == 1 {
                    let len = usize::from(p[6]) << 16 | usize::from(p[7]) << 8 | usize::from(p[8]);
                    if let Some(body) = p.get(9..9 + len) {
                        hellos.push(body.to_vec());
                    }
                }
                if p.starts_with(b"GET ") && p.windows(4).any(|w| w == b"\r\n\r\n") {
                    requests.push(p.to_vec());
                }
            }
            L4::Udp(u) if u.src_port == 53 || u.dst_port == 53 => dns.push(u.payload.to_vec()),
            _ => {}
        }
    }
    assert!(!hellos.is_empty() && !dns.is_empty() && !tuples.is_empty());

    let mut g = c.benchmark_group("stages");
    g.sample_size(20);

    g.throughput(Throughput::Bytes(bytes(&cap)));
    g.bench_function("decode_frames", |b| {
        b.iter(|| {
            let mut tcp = 0u64;
            for (_, f) in &cap.frames {
                if let L4::Tcp(_) = decode(cap.linktype, black_box(f)).l4 {
                    tcp += 1;
                }
            }
            tcp
        })
    });

    // The engine's lookup: a symmetric key per packet into a table of every flow.
    g.throughput(Throughput::Elements(tuples.len() as u64));
    g.bench_function("flow_lookup", |b| {
        let mut table: FxHashMap<FlowKey, u64> = FxHashMap::default();
        for (i, (s, d)) in tuples.iter().enumerate() {
            let (k, _) = FlowKey::new(Transport::Tcp, *s, *d);
            table.entry(k).or_insert(i as u64);
        }
        b.iter(|| {
            let mut hits = 0u64;
            for (s, d) in &tuples {
                let (k, _) = FlowKey::new(Transport::Tcp, *s, *d);
                hits += u64::from(table.contains_key(black_box(&k)));
            }
            assert_eq!(hits, tuples.len() as u64);
            hits
        })
    });

    g.throughput(Throughput::Elements(hellos.len() as u64));
    g.bench_function("tls_client_hello", |b| {
        b.iter(|| {
            hellos
                .iter()
                .filter(|h| client_hello::parse(black_box(h)).is_ok())
                .count()
        })
    });
    // As the engine parses them: fingerprints from the shared cache after the first hello
    // of each shape.
    g.bench_function("tls_client_hello_cached", |b| {
        let cache = FingerprintCache::default();
        b.iter(|| {
            hellos
                .iter()
                .filter(|h| client_hello::parse_cached(black_box(h), &cache).is_ok())
                .count()
        })
    });

    if !requests.is_empty() {
        g.throughput(Throughput::Elements(requests.len() as u64));
        g.bench_function("http_request", |b| {
            let ctx = StreamCtx {
                side: Side::Client,
                ts: Timestamp::ZERO,
                frame: 1,
                offset: 0,
            };
            b.iter(|| {
                for r in &requests {
                    let mut dec = HttpDecoder::new();
                    let _ = dec.on_data(&ctx, black_box(r));
                    black_box(&dec);
                }
            })
        });
    }

    g.throughput(Throughput::Elements(dns.len() as u64));
    g.bench_function("dns_message", |b| {
        b.iter(|| {
            dns.iter()
                .filter(|m| parse_message(black_box(m)).is_some())
                .count()
        })
    });

    // Everything the engine does per packet, events dropped.
    g.throughput(Throughput::Bytes(bytes(&cap)));
    g.bench_function("engine_all_decoders", |b| {
        b.iter(|| {
            let mut engine = Engine::new(Config::default());
            let mut n = 0u64;
            let mut sink = |_: Event| n += 1;
            for (i, (ts, f)) in cap.frames.iter().enumerate() {
                let pkt = Packet {
                    ts: *ts,
                    frame: i as u64 + 1,
                    orig_len: f.len() as u32,
                    linktype: cap.linktype,
                    data: f,
                };
                engine.push(&pkt, &mut sink);
            }
            engine.finish(&mut sink);
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
