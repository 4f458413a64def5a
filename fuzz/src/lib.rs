//! The fuzz targets, as plain functions so that cargo-fuzz (nightly, `fuzz_targets/`) and
//! the stable in-house driver (`src/bin/stable-fuzz.rs`) run exactly the same code.
//!
//! Every target must return normally on every input: a panic (or, with cargo-fuzz, a
//! sanitizer report or a timeout) is a bug. Beyond not panicking, targets check the
//! invariants that the engine's callers rely on (memcap given back, bounds held).

use modsniff_capture::{FileSource, ReadLimits};
use modsniff_core::dns::{DnsTcpDecoder, parse_message};
use modsniff_core::http::HttpDecoder;
use modsniff_core::tls::{TlsConfig, TlsDecoder};
use modsniff_core::{Progress, StreamCtx, StreamDecoder};
use modsniff_core::Side;
use modsniff_core::hooks::reassembly::{Chunk, MemBudget, Reassembler, ReassemblyLimits, SeqNumber};
use modsniff_core::{Config, Engine, Event, Limits, LinkType, Packet, Sink, Timestamp};
use std::io::Cursor;

/// The target names, in the order scripts run them.
pub const TARGETS: [&str; 6] = [
    "capture_reader",
    "decode",
    "reassembler",
    "tls",
    "http",
    "dns",
];

/// Runs target `name` on `data`; false when there is no such target.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "capture_reader" => capture_reader(data),
        "decode" => decode(data),
        "reassembler" => reassembler(data),
        "tls" => tls(data),
        "http" => http(data),
        "dns" => dns(data),
        _ => return false,
    }
    true
}

struct Discard;
impl Sink for Discard {
    fn event(&mut self, _e: Event) {}
}

/// The capture reader on arbitrary file bytes, then the engine (with small limits, so that
/// evictions happen) on every packet it yields.
pub fn capture_reader(data: &[u8]) {
    let limits = ReadLimits {
        buffer_size: 4096,
        max_buffer_size: 1 << 20,
        ..ReadLimits::default()
    };
    let Ok(mut src) =
        FileSource::from_reader_with(Box::new(Cursor::new(data.to_vec())), "fuzz".into(), limits)
    else {
        return;
    };
    let limits = Limits {
        max_flows: 8,
        memcap: 16 * 1024,
        max_ooo_bytes_per_dir: 4096,
        max_ooo_segments_per_dir: 8,
        max_frag_datagrams: 4,
        ..Limits::default()
    };
    let mut engine = Engine::new(Config {
        limits: limits.clone(),
        ..Config::default()
    });
    let mut n = 0u64;
    // An in-memory reader has no I/O errors to report: Err here would be a bug.
    while let Some(p) = src.next_packet().expect("in-memory read cannot fail") {
        engine.push(&p, &mut Discard);
        n += 1;
        assert!(engine.live_flows() <= limits.max_flows);
        assert!(engine.reassembly_budget().used() <= limits.memcap);
        assert!(engine.pending_fragments() <= limits.max_frag_datagrams);
    }
    let stats = engine.finish(&mut Discard);
    assert_eq!(stats.packets, n);
    assert_eq!(engine.reassembly_budget().used(), 0, "memcap leak");
}

/// Link and network decoding of one frame; the first two bytes pick the link type (a common
/// one most of the time), then the frame also goes through the engine.
pub fn decode(data: &[u8]) {
    const LINKS: [u32; 8] = [1, 0, 101, 113, 276, 12, 14, 228];
    let (lt, frame) = match data {
        [a, b, rest @ ..] => {
            let lt = if a & 0x80 == 0 {
                LINKS[usize::from(*a) % LINKS.len()]
            } else {
                u32::from(u16::from_be_bytes([a & 0x7f, *b]))
            };
            (LinkType(lt), rest)
        }
        _ => (LinkType::ETHERNET, data),
    };
    // The fast path (plain TCP/UDP) must decode exactly as the lax path it short-cuts.
    assert_eq!(
        modsniff_core::hooks::wire::decode(lt, frame),
        modsniff_core::hooks::wire::decode_lax(lt, frame),
        "fast and lax decoding differ"
    );
    let mut engine = Engine::new(Config::default());
    let pkt = Packet {
        ts: Timestamp::ZERO,
        frame: 1,
        orig_len: frame.len() as u32,
        linktype: lt,
        data: frame,
    };
    // Twice: the second copy meets the state the first one created (flow, fragment).
    engine.push(&pkt, &mut Discard);
    engine.push(&pkt, &mut Discard);
    engine.finish(&mut Discard);
    assert_eq!(engine.reassembly_budget().used(), 0, "memcap leak");
}

/// Reads little-endian integers off the front of the input.
struct Bytes<'a>(&'a [u8]);
impl<'a> Bytes<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.u8()?, self.u8()?]))
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }
}

/// One direction's reassembler driven by a program read from the input: segments at
/// arbitrary (nearby or wrapped) sequence numbers, snaplen-cut segments, ACKs past holes and
/// FINs, with a consumer that sometimes skips or stops. Checks that delivery is contiguous
/// and that the memcap is respected and given back.
pub fn reassembler(data: &[u8]) {
    let mut b = Bytes(data);
    let base = SeqNumber(u32::from(b.u16().unwrap_or(0)).wrapping_mul(65_537));
    let mut r = Reassembler::new(base);
    let limits = ReassemblyLimits {
        max_ooo_bytes_per_dir: 2048,
        max_ooo_segments_per_dir: 16,
        ..ReassemblyLimits::default()
    };
    let mut budget = MemBudget::new(4096);
    let mut next_offset = 0u64;
    let mut ok = true;
    let mut chunks = 0u64;
    let mut sink = |c: Chunk<'_>| -> Progress {
        chunks += 1;
        match c {
            Chunk::Data { offset, bytes, .. } => {
                ok &= offset == next_offset;
                next_offset = offset + bytes.len() as u64;
                match bytes.first() {
                    Some(0xff) => Progress::Done,
                    Some(&x) if x > 0xf0 => {
                        // Skipped bytes are counted off: the next chunk starts after them.
                        let n = u64::from(x & 0x0f) * 100;
                        next_offset += n;
                        Progress::Skip(n)
                    }
                    _ => Progress::Continue,
                }
            }
            Chunk::Gap { offset, len } => {
                ok &= offset == next_offset;
                next_offset = offset + len;
                Progress::Continue
            }
            Chunk::End => Progress::Done,
        }
    };
    let mut frame = 0u64;
    while let Some(op) = b.u8() {
        frame += 1;
        let ts = Timestamp::from_nanos(frame * 1000);
        let rel = b.u16().unwrap_or(0);
        // Mostly near the start, sometimes anywhere in the 32-bit space.
        let seq = if op & 0x40 != 0 {
            SeqNumber(u32::from(rel) << 16 | u32::from(rel))
        } else {
            SeqNumber(base.0.wrapping_add(u32::from(rel) % 8192))
        };
        match op % 8 {
            0..=4 => {
                let len = usize::from(b.u8().unwrap_or(0)) * 4 + usize::from(op >> 6);
                let payload = b.take(len);
                // Sometimes the headers announce more than was captured (snaplen).
                let wire = if op & 0x20 != 0 {
                    payload.len() as u32 + u32::from(rel % 512)
                } else {
                    payload.len() as u32
                };
                let _ = r.segment(
                    seq,
                    payload,
                    wire,
                    frame,
                    ts,
                    &mut budget,
                    &limits,
                    &mut sink,
                );
            }
            5 | 6 => {
                let _ = r.ack_beyond_hole(seq, &mut budget, &limits, &mut sink);
            }
            _ => r.set_fin(seq, &limits),
        }
        assert!(budget.used() <= 4096, "memcap exceeded");
        assert!(r.buffered_segments() <= limits.max_ooo_segments_per_dir);
    }
    r.finish(&mut budget, &mut sink);
    assert!(ok, "delivery was not contiguous");
    assert_eq!(budget.used(), 0, "memcap leak");
}

/// Feeds a two-sided stream to a decoder as a program read from the input: which side,
/// how many bytes (or a gap), honouring `Skip`, `Done`, `Upgrade` and `Violation` as the
/// engine does.
fn drive(dec: &mut dyn StreamDecoder, data: &[u8]) {
    let mut b = Bytes(data);
    let mut offset = [0u64; 2];
    let mut skip = [0u64; 2];
    let mut stopped = [false; 2];
    let mut frame = 0u64;
    let ctx = |side: usize, offset: u64, frame: u64| StreamCtx {
        side: if side == 0 {
            Side::Client
        } else {
            Side::Server
        },
        ts: Timestamp::from_nanos(frame * 1000),
        frame,
        offset,
    };
    while let Some(op) = b.u8() {
        frame += 1;
        let side = usize::from(op & 1);
        let len = usize::from(op >> 2) * 8 + 1;
        let Some(stop) = stopped.get_mut(side) else {
            break;
        };
        if *stop {
            // The stopped side's bytes are consumed unread, like the engine does.
            let _ = b.take(len);
            continue;
        }
        let (off, sk) = (offset[side], skip[side]);
        let progress = if op & 2 != 0 && op & 0xf0 == 0xf0 {
            let gap = u64::from(b.u8().unwrap_or(1)) * 37;
            offset[side] = off + gap;
            skip[side] = sk.saturating_sub(gap);
            dec.on_gap(&ctx(side, off, frame), gap)
        } else {
            let chunk = b.take(len);
            // Bytes the decoder asked to skip are counted off, not delivered.
            let s = (sk.min(chunk.len() as u64)) as usize;
            let (_, rest) = chunk.split_at(s);
            skip[side] = sk - s as u64;
            offset[side] = off + s as u64;
            if rest.is_empty() {
                continue;
            }
            let p = dec.on_data(&ctx(side, offset[side], frame), rest);
            offset[side] += rest.len() as u64;
            p
        };
        match progress {
            Progress::Continue => {}
            Progress::Skip(n) => skip[side] = skip[side].saturating_add(n),
            Progress::Done => *stop = true,
            Progress::Upgrade(_) | Progress::Violation(_) => stopped = [true, true],
        }
        if stopped == [true, true] {
            break;
        }
    }
    for (side, off) in offset.into_iter().enumerate() {
        dec.on_end(&ctx(side, off, frame));
    }
}

/// The TLS decoder (record deframing, handshake reassembly, ClientHello / ServerHello /
/// Certificate parsing, chain validation) on a two-sided stream.
pub fn tls(data: &[u8]) {
    let mut dec = TlsDecoder::new(&TlsConfig::default());
    drive(&mut dec, data);
    let info = dec.into_info();
    let _ = (
        info.sni(),
        info.ja4(),
        info.alpn_first(),
        info.leaf_issuer(),
    );
}

/// The HTTP/1.x decoder (heads, chunked and length-framed bodies, pipelining, CONNECT).
pub fn http(data: &[u8]) {
    let mut dec = HttpDecoder::new();
    drive(&mut dec, data);
    let t = dec.into_transactions();
    for x in &t {
        let _ = (x.reason(), x.body_shortfall(), x.proxy_authenticate());
    }
}

/// DNS: one message parsed directly, then the same bytes as a DNS-over-TCP stream.
pub fn dns(data: &[u8]) {
    if let Some(m) = parse_message(data) {
        let _ = format!("{m:?}");
    }
    let mut dec = DnsTcpDecoder::new();
    drive(&mut dec, data);
    for (_, msg) in dec.drain() {
        let _ = parse_message(&msg);
    }
}
