//! Hostile input (issue 8), part 2: synthetic floods. Each test builds its capture as a pcap
//! byte stream generated on the fly (a `Read` that writes records as they are asked for, so
//! the input itself takes no memory), reads it through `FileSource` and runs the engine with
//! the default `Limits`, checking after every packet that the live state stays within the
//! limits, and at the end that the limit that had to bite was counted.
//!
//! No timing is asserted (the machine is shared); each test prints its packet rate, and
//! `scripts/flood-rss.sh` runs each flood alone under `/usr/bin/time -v` for its peak RSS
//! (BENCHMARKS.md, "Hostile input"). `FLOOD_SCALE=<divisor>` shrinks every flood for quick
//! local runs.

use modsniff_capture::FileSource;
use modsniff_core::{Config, Engine, Event, Limits, Sink, Stats};
use std::io::Read;
use std::net::Ipv4Addr;
use std::time::Instant;

/// Builds frames one by one: `frame(i, buf)` writes packet `i`'s bytes into `buf` and
/// returns its timestamp in microseconds, or `None` past the end of the flood.
type FrameFn = Box<dyn FnMut(u64, &mut Vec<u8>) -> Option<u64> + Send>;

/// A pcap file (Ethernet, microseconds) produced on demand.
struct FloodReader {
    next: u64,
    frame: FrameFn,
    out: Vec<u8>,
    pos: usize,
    pkt: Vec<u8>,
    done: bool,
}

impl FloodReader {
    fn new(frame: FrameFn) -> Self {
        let mut out = Vec::with_capacity(64 * 1024);
        out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&65_535u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        FloodReader {
            next: 0,
            frame,
            out,
            pos: 0,
            pkt: Vec::with_capacity(2048),
            done: false,
        }
    }

    /// Appends records until about 32 KiB are waiting or the flood is over.
    fn refill(&mut self) {
        self.out.drain(..self.pos);
        self.pos = 0;
        while !self.done && self.out.len() < 32 * 1024 {
            self.pkt.clear();
            match (self.frame)(self.next, &mut self.pkt) {
                Some(us) => {
                    let n = self.pkt.len() as u32;
                    self.out
                        .extend_from_slice(&((us / 1_000_000) as u32).to_le_bytes());
                    self.out
                        .extend_from_slice(&((us % 1_000_000) as u32).to_le_bytes());
                    self.out.extend_from_slice(&n.to_le_bytes());
                    self.out.extend_from_slice(&n.to_le_bytes());
                    self.out.extend_from_slice(&self.pkt);
                    self.next += 1;
                }
                None => self.done = true,
            }
        }
    }
}

impl Read for FloodReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.out.len() {
            self.refill();
        }
        let avail = self.out.get(self.pos..).unwrap_or_default();
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.pos += n;
        Ok(n)
    }
}

const MAC: [u8; 12] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];

fn ipv4_header(
    buf: &mut Vec<u8>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    l4_len: usize,
    id: u16,
    frag: u16,
) {
    buf.extend_from_slice(&MAC);
    buf.extend_from_slice(&0x0800u16.to_be_bytes());
    buf.push(0x45);
    buf.push(0);
    buf.extend_from_slice(&((20 + l4_len) as u16).to_be_bytes());
    buf.extend_from_slice(&id.to_be_bytes());
    buf.extend_from_slice(&frag.to_be_bytes());
    buf.push(64);
    buf.push(proto);
    buf.extend_from_slice(&[0, 0]);
    buf.extend_from_slice(&src.octets());
    buf.extend_from_slice(&dst.octets());
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH_ACK: u8 = 0x18;

#[allow(clippy::too_many_arguments)]
fn tcp(
    buf: &mut Vec<u8>,
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) {
    ipv4_header(buf, src.0, dst.0, 6, 20 + payload.len(), 1, 0x4000);
    buf.extend_from_slice(&src.1.to_be_bytes());
    buf.extend_from_slice(&dst.1.to_be_bytes());
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(&ack.to_be_bytes());
    buf.push(0x50);
    buf.push(flags);
    buf.extend_from_slice(&65_535u16.to_be_bytes());
    buf.extend_from_slice(&[0, 0, 0, 0]);
    buf.extend_from_slice(payload);
}

fn udp(buf: &mut Vec<u8>, src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), payload: &[u8]) {
    ipv4_header(buf, src.0, dst.0, 17, 8 + payload.len(), 1, 0x4000);
    buf.extend_from_slice(&src.1.to_be_bytes());
    buf.extend_from_slice(&dst.1.to_be_bytes());
    buf.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    buf.extend_from_slice(&[0, 0]);
    buf.extend_from_slice(payload);
}

/// A distinct IPv4 address for each `i` (10.0.0.0/8 and up).
fn addr(i: u64) -> Ipv4Addr {
    Ipv4Addr::from(0x0a00_0000u32.wrapping_add(i as u32))
}

const SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

fn scale(n: u64) -> u64 {
    let d: u64 = std::env::var("FLOOD_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    (n / d.max(1)).max(1)
}

#[derive(Default)]
struct Counter {
    connections: u64,
    evicted: u64,
    dns: u64,
}

impl Sink for Counter {
    fn event(&mut self, e: Event) {
        match e {
            Event::Connection(c) => {
                self.connections += 1;
                if c.end_reason == modsniff_core::EndReason::Evicted {
                    self.evicted += 1;
                }
            }
            Event::Dns(_) => self.dns += 1,
            _ => {}
        }
    }
}

/// The most each piece of live state reached during a run.
#[derive(Debug, Default)]
struct Peaks {
    flows: usize,
    memcap_used: usize,
    fragments: usize,
    dns_open: usize,
    scheduled: usize,
}

struct Run {
    stats: Stats,
    peaks: Peaks,
    sink: Counter,
    memcap_refusals: u64,
}

/// Reads the flood through `FileSource` into an engine with `limits`, checking the bounds
/// after every packet.
fn run(name: &str, limits: Limits, frame: FrameFn) -> Run {
    let mut src =
        FileSource::from_reader(Box::new(FloodReader::new(frame)), name.into()).expect("header");
    let mut engine = Engine::new(Config {
        limits: limits.clone(),
        ..Config::default()
    });
    let mut sink = Counter::default();
    let mut peaks = Peaks::default();
    let t0 = Instant::now();
    let mut n = 0u64;
    while let Some(p) = src.next_packet().expect("in-memory read") {
        engine.push(&p, &mut sink);
        n += 1;
        // Checking is cheap, but not free: every packet for the first 64k, then every 16th.
        if n < 65_536 || n.is_multiple_of(16) {
            peaks.flows = peaks.flows.max(engine.live_flows());
            peaks.memcap_used = peaks.memcap_used.max(engine.reassembly_budget().used());
            peaks.fragments = peaks.fragments.max(engine.pending_fragments());
            peaks.dns_open = peaks.dns_open.max(engine.open_dns_queries());
            peaks.scheduled = peaks.scheduled.max(engine.scheduled_deadlines());
        }
    }
    let elapsed = t0.elapsed();
    let memcap_refusals = engine.reassembly_budget().refusals();
    // The engine's own high-water mark covers every packet, not just the sampled ones.
    peaks.memcap_used = peaks.memcap_used.max(engine.reassembly_budget().peak());
    let stats = engine.finish(&mut sink);
    assert!(src.warnings().is_empty(), "{name}: {:?}", src.warnings());
    assert_eq!(stats.packets, n);
    eprintln!(
        "flood {name}: {n} packets in {elapsed:.2?} ({:.2} Mpkt/s); peaks {peaks:?}; \
         evicted_flows {}, memcap refusals {memcap_refusals}, ip_fragments_dropped {}, \
         missed_bytes {}, connections {}",
        n as f64 / elapsed.as_secs_f64() / 1e6,
        stats.evicted_flows,
        stats.ip_fragments_dropped,
        stats.missed_bytes,
        stats.connections,
    );
    assert!(peaks.flows <= limits.max_flows, "{name}: {peaks:?}");
    assert!(peaks.memcap_used <= limits.memcap, "{name}: {peaks:?}");
    assert!(
        peaks.fragments <= limits.max_frag_datagrams,
        "{name}: {peaks:?}"
    );
    // Closed connections leave their idle-timeout entry in the schedule; those are dropped
    // before they outnumber the live flows four to one (plus the engine's slack of 4,096).
    assert!(
        peaks.scheduled <= 4 * limits.max_flows + 4_097,
        "{name}: {peaks:?}"
    );
    Run {
        stats,
        peaks,
        sink,
        memcap_refusals,
    }
}

/// A million SYNs, each from its own address: the flow table stays at `max_flows`, and
/// every flow pushed out is counted and reported as evicted.
#[test]
fn hostile_flood_syn_from_distinct_addresses() {
    let total = scale(1_000_000);
    let limits = Limits::default();
    let r = run(
        "syn",
        limits.clone(),
        Box::new(move |i, buf| {
            (i < total).then(|| {
                tcp(buf, (addr(i), 40_000), (SERVER, 443), 1000, 0, SYN, &[]);
                i
            })
        }),
    );
    let expect_evicted = total.saturating_sub(limits.max_flows as u64);
    assert_eq!(r.stats.evicted_flows, expect_evicted);
    assert_eq!(r.sink.evicted, expect_evicted);
    assert_eq!(r.stats.tcp_connections, total);
    assert_eq!(
        r.peaks.flows as u64,
        total.min(limits.max_flows as u64),
        "the table fills up to the limit and no further"
    );
}

/// 100k connections, each client sending two 1,400-byte segments beyond holes: far more
/// out-of-order bytes than the memcap (and more connections than `max_flows`). The flow
/// table and the memcap hold, refusals and evictions are counted, and the holes surface as
/// missed bytes (gaps), so the verdict knows it is partial.
#[test]
fn hostile_flood_out_of_order_data() {
    let conns = scale(100_000);
    let limits = Limits::default();
    let payload = vec![b'x'; 1_400];
    let r = run(
        "ooo",
        limits.clone(),
        Box::new(move |i, buf| {
            let (c, step) = (i / 5, i % 5);
            if c >= conns {
                return None;
            }
            let client = (addr(c), 50_000);
            let server = (SERVER, 80);
            match step {
                0 => tcp(buf, client, server, 100, 0, SYN, &[]),
                1 => tcp(buf, server, client, 900, 101, SYN | ACK, &[]),
                2 => tcp(buf, client, server, 101, 901, ACK, &[]),
                // 1,000 bytes missing before each: they must be buffered.
                3 => tcp(buf, client, server, 1_101, 901, PSH_ACK, &payload),
                _ => tcp(buf, client, server, 3_501, 901, PSH_ACK, &payload),
            }
            Some(i)
        }),
    );
    // What the connections alive at once would buffer without a memcap.
    let wanted = conns.min(limits.max_flows as u64) * 2_800;
    if wanted > limits.memcap as u64 {
        assert!(r.memcap_refusals > 0, "memcap never refused");
        assert_eq!(r.stats.evicted_streams, r.memcap_refusals);
        assert!(r.peaks.memcap_used > limits.memcap / 2);
    }
    if conns > limits.max_flows as u64 {
        assert_eq!(r.stats.evicted_flows, conns - limits.max_flows as u64);
    }
    // The holes in front of the buffered segments are never filled: always missed.
    assert!(r.stats.missed_bytes >= conns * 2_000);
    assert_eq!(r.stats.tcp_connections, conns);
}

/// First fragments of 200k datagrams that never complete: the defragmenter keeps at most
/// `max_frag_datagrams` and counts every one it gives up on.
#[test]
fn hostile_flood_ip_fragments() {
    let total = scale(200_000);
    let limits = Limits::default();
    let data = vec![0u8; 1_480];
    let r = run(
        "fragments",
        limits.clone(),
        Box::new(move |i, buf| {
            (i < total).then(|| {
                // More fragments follow (MF), offset 0, a new IP id and source each time.
                ipv4_header(
                    buf,
                    addr(i % 4096),
                    SERVER,
                    17,
                    data.len(),
                    i as u16,
                    0x2000,
                );
                buf.extend_from_slice(&data);
                i
            })
        }),
    );
    assert_eq!(r.stats.ip_fragments, total);
    assert_eq!(r.stats.ip_reassembled, 0);
    let kept = total.min(limits.max_frag_datagrams as u64);
    // Each datagram not kept to the end was dropped (evicted, or timed out at the end).
    assert!(
        r.stats.ip_fragments_dropped >= total - kept,
        "{} dropped of {total}",
        r.stats.ip_fragments_dropped
    );
    assert_eq!(r.peaks.fragments as u64, kept);
}

/// 500k DNS queries with cycling ids and names from one client to one resolver, never
/// answered, with a bogus response now and then: open queries stay bounded and the ones
/// pushed out are reported (as unanswered) rather than kept.
#[test]
fn hostile_flood_dns_id_storm() {
    let total = scale(500_000);
    let r = run(
        "dns",
        Limits::default(),
        Box::new(move |i, buf| {
            if i >= total {
                return None;
            }
            let id = (i as u16).wrapping_mul(40_503);
            let mut msg = Vec::with_capacity(64);
            let response = i % 10 == 9;
            msg.extend_from_slice(&id.to_be_bytes());
            msg.extend_from_slice(if response {
                &[0x81, 0x80]
            } else {
                &[0x01, 0x00]
            });
            msg.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
            let label = format!("h{i:x}");
            msg.push(label.len() as u8);
            msg.extend_from_slice(label.as_bytes());
            msg.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
            let (c, s) = ((addr(1), 53_000), (SERVER, 53));
            if response {
                udp(buf, s, c, &msg);
            } else {
                udp(buf, c, s, &msg);
            }
            // 10k queries a second: enough to outrun the 5 s query timeout.
            Some(i * 100)
        }),
    );
    assert!(
        r.peaks.dns_open <= modsniff_core::dns::DEFAULT_MAX_OPEN_QUERIES,
        "{:?}",
        r.peaks
    );
    // 10k queries a second for 5 s outruns 10,000 open queries: the oldest are pushed out.
    assert!(
        r.stats
            .anomalies
            .get("dns_query_evicted")
            .copied()
            .unwrap_or(0)
            > 0,
        "{:?}",
        r.stats.anomalies
    );
    // Every query is reported once: answered, unanswered, evicted or timed out.
    assert_eq!(r.stats.dns_messages, total);
    assert!(r.sink.dns >= total * 9 / 10, "{} DNS events", r.sink.dns);
}

/// One HTTP connection whose chunked response never ends (300k segments, ~300 MB): live
/// state stays at one flow, nothing is buffered (it is all in order), and the stream is
/// decoded to the end.
#[test]
fn hostile_flood_connection_that_never_ends() {
    let segments = scale(300_000);
    let limits = Limits::default();
    // Each segment is exactly one 1024-byte chunk.
    let mut chunk = b"400\r\n".to_vec();
    chunk.extend_from_slice(&[b'a'; 1024]);
    chunk.extend_from_slice(b"\r\n");
    let clen = chunk.len() as u32;
    let req = b"GET /never HTTP/1.1\r\nHost: example.com\r\n\r\n".to_vec();
    let resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let (rq, rs) = (req.len() as u32, resp.len() as u32);
    let r = run(
        "endless",
        limits,
        Box::new(move |i, buf| {
            let client = (addr(7), 51_000);
            let server = (SERVER, 80);
            let (cseq, sseq) = (1_000u32, 5_000u32);
            match i {
                0 => tcp(buf, client, server, cseq, 0, SYN, &[]),
                1 => tcp(buf, server, client, sseq, cseq + 1, SYN | ACK, &[]),
                2 => tcp(buf, client, server, cseq + 1, sseq + 1, ACK, &[]),
                3 => tcp(buf, client, server, cseq + 1, sseq + 1, PSH_ACK, &req),
                4 => tcp(buf, server, client, sseq + 1, cseq + 1 + rq, PSH_ACK, &resp),
                n if n < 5 + segments * 2 => {
                    let k = (n - 5) / 2;
                    let sent = sseq
                        .wrapping_add(1 + rs)
                        .wrapping_add((k as u32).wrapping_mul(clen));
                    if (n - 5) % 2 == 0 {
                        tcp(buf, server, client, sent, cseq + 1 + rq, PSH_ACK, &chunk);
                    } else {
                        // The client acknowledges each chunk.
                        tcp(
                            buf,
                            client,
                            server,
                            cseq + 1 + rq,
                            sent.wrapping_add(clen),
                            ACK,
                            &[],
                        );
                    }
                }
                _ => return None,
            }
            // 20 µs apart: the connection is never idle.
            Some(i * 20)
        }),
    );
    assert_eq!(r.peaks.flows, 1);
    assert_eq!(r.peaks.memcap_used, 0, "in-order data is never buffered");
    assert_eq!(r.stats.missed_bytes, 0);
    assert_eq!(r.stats.tcp_connections, 1);
}

/// The baseline the floods are compared with (BENCHMARKS.md): 100k ordinary, short HTTP
/// connections through the same generator and checks. Nothing is evicted or dropped.
#[test]
fn hostile_flood_baseline_normal_connections() {
    let r = short_http_connections("baseline", scale(100_000), 1_000);
    assert_eq!(r.stats.evicted_flows, 0);
    assert_eq!(r.stats.missed_bytes, 0);
    assert_eq!(r.memcap_refusals, 0);
    assert!(!r.stats.anomalies.contains_key("closed_linger_cut"));
}

/// The same short connections at 12,500 a second: more finish within `close_linger` than
/// `max_closed_lingering` allows, so the earliest-closed end at once (reason closed, counted)
/// instead of piling up with their decoded transactions. Nothing open is evicted.
#[test]
fn hostile_flood_short_connections_faster_than_they_linger() {
    let conns = scale(100_000);
    let limits = Limits::default();
    let r = short_http_connections("linger", conns, 10);
    assert_eq!(
        r.stats.evicted_flows, 0,
        "closed ones go first, open ones stay"
    );
    assert_eq!(r.stats.missed_bytes, 0);
    assert!(
        r.peaks.flows <= limits.max_closed_lingering + 16,
        "lingering connections stay bounded: {:?}",
        r.peaks
    );
    if conns > limits.max_closed_lingering as u64 {
        assert!(
            r.stats
                .anomalies
                .get("closed_linger_cut")
                .copied()
                .unwrap_or(0)
                > 0
        );
    }
}

/// `conns` HTTP connections of 8 packets each (handshake, GET, 200, FINs), `gap_us` apart.
fn short_http_connections(name: &str, conns: u64, gap_us: u64) -> Run {
    let req = b"GET /mod/@v/list HTTP/1.1\r\nHost: proxy.golang.org\r\n\r\n".to_vec();
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nv1.0\n".to_vec();
    let (rq, rs) = (req.len() as u32, resp.len() as u32);
    const FIN_ACK: u8 = 0x11;
    let r = run(
        name,
        Limits::default(),
        Box::new(move |i, buf| {
            let (c, step) = (i / 8, i % 8);
            if c >= conns {
                return None;
            }
            let client = (addr(c % 64), 1024 + (c / 64 % 60_000) as u16);
            let server = (SERVER, 80);
            let (cs, ss) = (1_000u32, 9_000u32);
            match step {
                0 => tcp(buf, client, server, cs, 0, SYN, &[]),
                1 => tcp(buf, server, client, ss, cs + 1, SYN | ACK, &[]),
                2 => tcp(buf, client, server, cs + 1, ss + 1, ACK, &[]),
                3 => tcp(buf, client, server, cs + 1, ss + 1, PSH_ACK, &req),
                4 => tcp(buf, server, client, ss + 1, cs + 1 + rq, PSH_ACK, &resp),
                5 => tcp(buf, client, server, cs + 1 + rq, ss + 1 + rs, FIN_ACK, &[]),
                6 => tcp(buf, server, client, ss + 1 + rs, cs + 2 + rq, FIN_ACK, &[]),
                _ => tcp(buf, client, server, cs + 2 + rq, ss + 2 + rs, ACK, &[]),
            }
            // At 1 ms per packet ~600 connections are closed but lingering at a time.
            Some(i * gap_us)
        }),
    );
    assert_eq!(r.stats.tcp_connections, conns);
    r
}
