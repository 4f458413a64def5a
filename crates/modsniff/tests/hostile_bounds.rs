//! Hostile shapes aimed past the caps, each capture built here in code and read by the
//! binary (`read --format ndjson`): what a bound cut is counted in the stats record, the work
//! a bound limits is asserted as work done (never as time), and the report says what was
//! seen instead of a wrong verdict.

use crate::common::{ndjson, of_type};
use serde_json::Value;
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// A pcap file (Ethernet, microseconds) written in memory.
struct Pcap(Vec<u8>);

impl Pcap {
    fn new() -> Self {
        let mut b = Vec::new();
        b.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&4u16.to_le_bytes());
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&65_535u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        Pcap(b)
    }

    fn packet(&mut self, us: u64, frame: &[u8]) {
        let n = frame.len() as u32;
        self.0
            .extend_from_slice(&((us / 1_000_000) as u32).to_le_bytes());
        self.0
            .extend_from_slice(&((us % 1_000_000) as u32).to_le_bytes());
        self.0.extend_from_slice(&n.to_le_bytes());
        self.0.extend_from_slice(&n.to_le_bytes());
        self.0.extend_from_slice(frame);
    }

    /// A packet the snaplen cut: `frame` as captured, `cut` more bytes on the wire (the IP
    /// header's length counts them).
    fn packet_cut(&mut self, us: u64, frame: &[u8], cut: u32) {
        let mut frame = frame.to_vec();
        let ip_len = u16::from_be_bytes([frame[16], frame[17]]) + cut as u16;
        frame[16..18].copy_from_slice(&ip_len.to_be_bytes());
        let n = frame.len() as u32;
        self.0
            .extend_from_slice(&((us / 1_000_000) as u32).to_le_bytes());
        self.0
            .extend_from_slice(&((us % 1_000_000) as u32).to_le_bytes());
        self.0.extend_from_slice(&n.to_le_bytes());
        self.0.extend_from_slice(&(n + cut).to_le_bytes());
        self.0.extend_from_slice(&frame);
    }

    /// Sets the IP TTL of every packet from `src`.
    fn set_ttl(&mut self, src: Ipv4Addr, ttl: u8) {
        let mut at = 24;
        while at + 16 <= self.0.len() {
            let n = u32::from_le_bytes(self.0[at + 8..at + 12].try_into().unwrap()) as usize;
            let ip = at + 16 + 14;
            if self.0[ip + 12..ip + 16] == src.octets() {
                self.0[ip + 8] = ttl;
            }
            at += 16 + n;
        }
    }

    fn save(&self, name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!(
            "modsniff-bounds-{}-{name}.pcap",
            std::process::id()
        ));
        std::fs::write(&p, &self.0).unwrap();
        p
    }
}

/// 2025-11-20T00:00:00Z: inside the validity of the certificates built below.
const T0: u64 = 1_763_596_800_000_000;

const SYN: u8 = 0x02;
const SYN_ACK: u8 = 0x12;
const ACK: u8 = 0x10;
const PSH_ACK: u8 = 0x18;
const FIN_ACK: u8 = 0x11;

fn ip_frame(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut b = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
    b.extend_from_slice(&[0x45, 0]);
    b.extend_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
    b.extend_from_slice(&[0, 1, 0x40, 0, 64, proto, 0, 0]);
    b.extend_from_slice(&src.octets());
    b.extend_from_slice(&dst.octets());
    b.extend_from_slice(l4);
    b
}

type End = (Ipv4Addr, u16);

#[allow(clippy::too_many_arguments)]
fn tcp_frame(src: End, dst: End, seq: u32, ack: u32, flags: u8, win: u16, data: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(20 + data.len());
    t.extend_from_slice(&src.1.to_be_bytes());
    t.extend_from_slice(&dst.1.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[0x50, flags]);
    t.extend_from_slice(&win.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend_from_slice(data);
    ip_frame(src.0, dst.0, 6, &t)
}

/// One TCP connection (no window scaling: its SYNs carry no options), written in order.
struct Tcp {
    c: End,
    s: End,
    cseq: u32,
    sseq: u32,
}

impl Tcp {
    fn new(i: u32, port: u16) -> Self {
        Tcp {
            c: (
                Ipv4Addr::from(0x0a00_0000 + 2 + i),
                40_000 + (i % 20_000) as u16,
            ),
            s: (Ipv4Addr::new(192, 0, 2, 80), port),
            cseq: 1_000_000 + i * 7,
            sseq: 3_000_000_000u32.wrapping_add(i * 13),
        }
    }

    fn handshake(&mut self, p: &mut Pcap, us: u64) {
        p.packet(
            us,
            &tcp_frame(self.c, self.s, self.cseq, 0, SYN, 65_535, &[]),
        );
        p.packet(
            us + 100,
            &tcp_frame(
                self.s,
                self.c,
                self.sseq,
                self.cseq + 1,
                SYN_ACK,
                65_535,
                &[],
            ),
        );
        self.cseq += 1;
        self.sseq += 1;
        p.packet(
            us + 200,
            &tcp_frame(self.c, self.s, self.cseq, self.sseq, ACK, 65_535, &[]),
        );
    }

    fn client(&mut self, p: &mut Pcap, us: u64, flags: u8, data: &[u8]) {
        p.packet(
            us,
            &tcp_frame(self.c, self.s, self.cseq, self.sseq, flags, 65_535, data),
        );
        self.cseq = self
            .cseq
            .wrapping_add(data.len() as u32 + u32::from(flags & 1));
    }

    fn server(&mut self, p: &mut Pcap, us: u64, flags: u8, data: &[u8]) {
        p.packet(
            us,
            &tcp_frame(self.s, self.c, self.sseq, self.cseq, flags, 65_535, data),
        );
        self.sseq = self
            .sseq
            .wrapping_add(data.len() as u32 + u32::from(flags & 1));
    }

    /// `data` from the server in segments of at most 1,400 bytes, 10 µs apart from `us`,
    /// acknowledged by the client every 20 segments (so it stays within the window).
    fn server_stream(&mut self, p: &mut Pcap, us: u64, data: &[u8]) -> u64 {
        let mut t = us;
        for (k, piece) in data.chunks(1_400).enumerate() {
            self.server(p, t, PSH_ACK, piece);
            t += 10;
            if k % 20 == 19 {
                self.client(p, t, ACK, &[]);
                t += 10;
            }
        }
        t
    }

    fn close(&mut self, p: &mut Pcap, us: u64) {
        self.client(p, us, FIN_ACK, &[]);
        self.server(p, us + 100, FIN_ACK, &[]);
        self.client(p, us + 200, ACK, &[]);
    }
}

fn run(p: &Pcap, name: &str, extra: &[&str]) -> (i32, Vec<Value>) {
    let file = p.save(name);
    let (code, recs, stderr) = ndjson(&file, extra);
    assert!(
        matches!(code, 0 | 1),
        "{name}: exit {code}, stderr {stderr}"
    );
    let _ = std::fs::remove_file(&file);
    (code, recs)
}

fn stats(recs: &[Value]) -> &Value {
    of_type(recs, "stats").pop().expect("a stats record")
}

fn findings<'a>(recs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    of_type(recs, "finding")
        .into_iter()
        .filter(|f| f["kind"] == kind)
        .collect()
}

// ---- DER and TLS, just enough to carry certificates -------------------------------------

fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    match body.len() {
        n if n < 0x80 => v.push(n as u8),
        n if n < 0x100 => v.extend_from_slice(&[0x81, n as u8]),
        n if n < 0x1_0000 => v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
        n => v.extend_from_slice(&[0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8]),
    }
    v.extend_from_slice(body);
    v
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    der(0x30, &parts.concat())
}

fn cn(name: &str) -> Vec<u8> {
    let atv = seq(&[der(0x06, &[0x55, 0x04, 0x03]), der(0x0c, name.as_bytes())]);
    seq(&[der(0x31, &atv)])
}

const SHA256_RSA: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
const RSA: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// A v3 certificate (its signature is filler: nothing here needs one to verify). `key`
/// makes the public key distinct; `ca` adds basicConstraints CA:true; `san` DNS names.
fn certificate(
    serial: u32,
    subject: &str,
    issuer: &str,
    key: u32,
    ca: bool,
    san: &[String],
) -> Vec<u8> {
    let alg = seq(&[der(0x06, &SHA256_RSA), der(0x05, &[])]);
    let validity = seq(&[der(0x17, b"250101000000Z"), der(0x17, b"350101000000Z")]);
    let mut modulus = vec![0x00, 0xc0];
    modulus.extend_from_slice(&key.to_be_bytes());
    modulus.extend(std::iter::repeat_n(0x5a, 58));
    let rsa = seq(&[der(0x02, &modulus), der(0x02, &[1, 0, 1])]);
    let mut bits = vec![0];
    bits.extend_from_slice(&rsa);
    let spki = seq(&[seq(&[der(0x06, &RSA), der(0x05, &[])]), der(0x03, &bits)]);
    let mut exts = Vec::new();
    if ca {
        exts.push(seq(&[
            der(0x06, &[0x55, 0x1d, 0x13]),
            der(0x01, &[0xff]),
            der(0x04, &seq(&[der(0x01, &[0xff])])),
        ]));
    }
    if !san.is_empty() {
        let names: Vec<Vec<u8>> = san.iter().map(|n| der(0x82, n.as_bytes())).collect();
        exts.push(seq(&[
            der(0x06, &[0x55, 0x1d, 0x11]),
            der(0x04, &seq(&names)),
        ]));
    }
    let mut serial_bytes = vec![0x10];
    serial_bytes.extend_from_slice(&serial.to_be_bytes());
    let tbs = seq(&[
        der(0xa0, &der(0x02, &[2])),
        der(0x02, &serial_bytes),
        alg.clone(),
        cn(issuer),
        validity,
        cn(subject),
        spki,
        der(0xa3, &seq(&exts)),
    ]);
    let mut sig = vec![0];
    sig.extend(std::iter::repeat_n(0xa5, 64));
    seq(&[tbs, alg, der(0x03, &sig)])
}

fn u24(n: usize) -> [u8; 3] {
    [(n >> 16) as u8, (n >> 8) as u8, n as u8]
}

fn handshake(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![ty];
    v.extend_from_slice(&u24(body.len()));
    v.extend_from_slice(body);
    v
}

/// TLS records of content type `ct` carrying `body`, 16 KiB at most each.
fn records(ct: u8, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for piece in body.chunks(16_384) {
        v.extend_from_slice(&[ct, 3, 3]);
        v.extend_from_slice(&(piece.len() as u16).to_be_bytes());
        v.extend_from_slice(piece);
    }
    v
}

fn client_hello(sni: &str) -> Vec<u8> {
    client_hello_with(sni, [0x00, 0x2f], &[])
}

/// A ClientHello offering one cipher suite, with a server_name extension for `sni` and then
/// the extensions `more` (each already framed: type, length, body).
fn client_hello_with(sni: &str, cipher: [u8; 2], more: &[u8]) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&[7; 32]);
    b.push(0);
    b.extend_from_slice(&[0, 2, cipher[0], cipher[1], 1, 0]);
    let mut name = vec![0];
    name.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    name.extend_from_slice(sni.as_bytes());
    let mut list = (name.len() as u16).to_be_bytes().to_vec();
    list.extend_from_slice(&name);
    let mut ext = vec![0, 0];
    ext.extend_from_slice(&(list.len() as u16).to_be_bytes());
    ext.extend_from_slice(&list);
    ext.extend_from_slice(more);
    b.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    b.extend_from_slice(&ext);
    records(22, &handshake(1, &b))
}

/// ServerHello (TLS 1.2, so the Certificate goes in clear) and Certificate.
fn server_flight(chain: &[Vec<u8>]) -> Vec<u8> {
    let mut sh = vec![3, 3];
    sh.extend_from_slice(&[9; 32]);
    sh.extend_from_slice(&[0, 0x00, 0x2f, 0, 0, 0]);
    let mut list = Vec::new();
    for c in chain {
        list.extend_from_slice(&u24(c.len()));
        list.extend_from_slice(c);
    }
    let mut certs = u24(list.len()).to_vec();
    certs.extend_from_slice(&list);
    let mut msgs = handshake(2, &sh);
    msgs.extend_from_slice(&handshake(11, &certs));
    msgs.extend_from_slice(&handshake(14, &[]));
    records(22, &msgs)
}

/// A TLS 1.2 connection that shows `chain`, which the client refuses (fatal unknown_ca).
fn tls_connection(p: &mut Pcap, i: u32, us: u64, sni: &str, chain: &[Vec<u8>]) {
    let mut t = Tcp::new(i, 443);
    t.handshake(p, us);
    t.client(p, us + 1_000, PSH_ACK, &client_hello(sni));
    let end = t.server_stream(p, us + 2_000, &server_flight(chain));
    t.client(p, end + 500, PSH_ACK, &records(21, &[2, 48]));
    t.close(p, end + 1_000);
}

// ---- 1. chain building -------------------------------------------------------------------

/// A maze: the leaf and 15 intermediates all named "Maze CA", each issued by that name with
/// its own key, so every intermediate is a candidate issuer of every other: webpki's search
/// over it runs to its own bound of 200,000 steps on every connection. Thirty connections
/// show the same chain (validated once, then from the cache), ten a chain of their own.
#[test]
fn hostile_chain_building_bomb_is_cut_by_the_budget_and_undecided() {
    let maze: Vec<Vec<u8>> = (0..15)
        .map(|k| certificate(100 + k, "Maze CA", "Maze CA", 1_000 + k, true, &[]))
        .collect();
    let chain = |leaf_serial: u32| {
        let mut c = vec![certificate(
            leaf_serial,
            "bomb.example",
            "Maze CA",
            7,
            false,
            &["bomb.example".to_string()],
        )];
        c.extend(maze.iter().cloned());
        c
    };
    let shared = chain(1);
    let mut p = Pcap::new();
    let (same, own) = (30u32, 10u32);
    for i in 0..same + own {
        let c = if i < same {
            shared.clone()
        } else {
            chain(1_000 + i)
        };
        tls_connection(&mut p, i, T0 + u64::from(i) * 20_000, "bomb.example", &c);
    }
    let (code, recs) = run(&p, "chain-bomb", &[]);
    let conns = of_type(&recs, "connection");
    assert_eq!(conns.len(), (same + own) as usize);
    for c in &conns {
        assert_eq!(
            c["tls"]["validation"],
            serde_json::json!({"result": "undecided", "error": "max_chain_candidates"}),
            "{c}"
        );
    }
    let x = &stats(&recs)["x509"];
    // Validated once per distinct chain; the same certificates again come from the cache.
    assert_eq!(x["validated"], u64::from(own + 1), "{x}");
    assert_eq!(x["cache_hits"], u64::from(same - 1), "{x}");
    assert_eq!(x["chain_budget_exceeded"], u64::from(own + 1), "{x}");
    // The work done is the bound's, not the maze's.
    let candidates = x["candidates"].as_u64().unwrap();
    assert!(
        candidates > 0 && candidates <= u64::from(own + 1) * 256,
        "{x}"
    );
    assert_eq!(x["signatures"], 0, "{x}");
    let undecided = findings(&recs, "capture-incomplete");
    assert!(
        undecided.iter().any(|f| f["summary"]
            .as_str()
            .unwrap()
            .contains("could not be decided")),
        "{undecided:?}"
    );
    assert_ne!(stats(&recs)["verdict"], "ok");
    assert_ne!(code, 0);
}

// ---- 2. memory beyond the caps -------------------------------------------------------------

/// 100 connections, side by side, each send 300 one-byte segments ahead of a hole. Each
/// direction keeps at most 256 of them (the bound on segments, met once per connection), and
/// each kept one is charged to the memcap for its bookkeeping: under a 1 MiB memcap their
/// bytes alone (25,600) would never reach it, their entries (~1.7 MB) do.
#[test]
fn hostile_tiny_out_of_order_segments_are_bounded_by_count_and_memcap() {
    let mut p = Pcap::new();
    let conns = 100u32;
    let mut tcp: Vec<Tcp> = (0..conns).map(|i| Tcp::new(i, 80)).collect();
    for (i, t) in tcp.iter_mut().enumerate() {
        t.handshake(&mut p, T0 + i as u64 * 1_000);
    }
    let mut us = T0 + 1_000_000;
    for k in 0..300u32 {
        for t in &tcp {
            let seq = t.cseq.wrapping_add(10 + 2 * k);
            p.packet(us, &tcp_frame(t.c, t.s, seq, t.sseq, PSH_ACK, 65_535, b"x"));
            us += 1;
        }
    }
    let (_, recs) = run(&p, "tiny-ooo-memcap", &["--memcap", "1"]);
    let s = stats(&recs);
    assert!(s["evicted_streams"].as_u64().unwrap() > 0, "{s}");
    let (_, recs) = run(&p, "tiny-ooo-default", &[]);
    let s = stats(&recs);
    assert_eq!(s["evicted_streams"], 0, "{s}");
    assert!(
        s["ooo_segment_limit_hits"].as_u64().unwrap() >= u64::from(conns),
        "{s}"
    );
}

/// 40 connections each announce a Certificate message of 1,000,000 bytes and send 2 KB of
/// it. Each would hold a buffer for the rest; all of them together may hold 16 MiB, so 16
/// fit and the other 24 are skipped by their length.
#[test]
fn hostile_partial_certificate_messages_share_one_bounded_pool() {
    let conns = 40u32;
    let p = partial_certificates(conns);
    let (_, recs) = run(&p, "partial-certificates", &[]);
    let s = stats(&recs);
    assert_eq!(s["handshake_buffer_refusals"], 24, "{s}");
}

/// A certificate with 3,000 DNS names: 1,024 are kept, the rest counted.
#[test]
fn hostile_san_entries_kept_per_certificate_are_bounded() {
    let san: Vec<String> = (0..3_000).map(|k| format!("n{k}.x")).collect();
    let leaf = certificate(5, "names.example", "Names CA", 5, false, &san);
    let mut p = Pcap::new();
    tls_connection(&mut p, 0, T0, "names.example", &[leaf]);
    let (_, recs) = run(&p, "many-sans", &[]);
    let conns = of_type(&recs, "connection");
    let kept = conns[0]["tls"]["certificates"][0]["san"]
        .as_array()
        .unwrap();
    assert_eq!(kept.len(), 1_024);
    assert_eq!(kept[0], "n0.x");
    assert_eq!(stats(&recs)["san_entries_dropped"], 3_000 - 1_024);
}

/// One keep-alive connection with 1,100 request/response pairs: 1,024 kept, 76 counted.
#[test]
fn hostile_http_transactions_kept_per_connection_are_bounded() {
    let mut p = Pcap::new();
    let mut t = Tcp::new(0, 80);
    t.handshake(&mut p, T0);
    let n = 1_100u64;
    for k in 0..n {
        let us = T0 + 1_000 + k * 1_000;
        let req = format!("GET /k{k} HTTP/1.1\r\nHost: h.example\r\n\r\n");
        t.client(&mut p, us, PSH_ACK, req.as_bytes());
        t.server(
            &mut p,
            us + 500,
            PSH_ACK,
            b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
        );
    }
    t.close(&mut p, T0 + 2_000_000);
    let (_, recs) = run(&p, "many-transactions", &[]);
    let conns = of_type(&recs, "connection");
    assert_eq!(conns[0]["http"].as_array().unwrap().len(), 1_024);
    assert_eq!(stats(&recs)["http"]["dropped_transactions"], n - 1_024);
}

/// The host's name is the certificate's 1,500th of 3,000 DNS names, beyond the 1,024 kept:
/// what the kept names show cannot decide the name check, so it is neither a mismatch
/// (crypto/x509 would find the name) nor OK (the client refused the chain).
#[test]
fn hostile_name_beyond_the_kept_san_entries_is_undecided() {
    let mut san: Vec<String> = (0..3_000).map(|k| format!("n{k}.x")).collect();
    san[1_499] = "far.example".to_string();
    let leaf = certificate(6, "far.example", "Names CA", 6, false, &san);
    let mut p = Pcap::new();
    tls_connection(&mut p, 0, T0, "far.example", &[leaf]);
    // A server some hops away (TTL 64 as sent would be the adjacent hop: a middlebox's sign).
    p.set_ttl(Ipv4Addr::new(192, 0, 2, 80), 52);
    let (code, recs) = run(&p, "name-beyond-kept-sans", &[]);
    assert!(
        findings(&recs, "certificate-rejected").is_empty(),
        "{recs:?}"
    );
    let undecided = findings(&recs, "capture-incomplete");
    assert_eq!(undecided.len(), 1, "{recs:?}");
    let summary = undecided[0]["summary"].as_str().unwrap();
    assert!(summary.contains("could not be decided"), "{summary}");
    assert!(
        summary.contains("3000 names") && summary.contains("first 1024"),
        "{summary}"
    );
    assert_eq!(undecided[0]["severity"], "error");
    assert_eq!(stats(&recs)["san_entries_dropped"], 3_000 - 1_024);
    assert_ne!(stats(&recs)["verdict"], "ok");
    assert_eq!(code, 1);
}

// ---- 3. evasions ---------------------------------------------------------------------------

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: proxy.example\r\nUser-Agent: Go-http-client/1.1\r\n\r\n")
        .into_bytes()
}

const NOT_FOUND: &[u8] = b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found";
const MODULE: &str = "/example.com/m/@v/v1.0.0.info";

/// 257 one-byte segments "from the server", far beyond the window the client advertised,
/// land before the real 404: they are injected, not loss, and the 404 still counts.
#[test]
fn hostile_out_of_window_injection_is_not_loss_and_hides_nothing() {
    let mut p = Pcap::new();
    let mut t = Tcp::new(0, 80);
    t.handshake(&mut p, T0);
    t.client(&mut p, T0 + 1_000, PSH_ACK, &get(MODULE));
    for k in 0..257u32 {
        let seq = t.sseq.wrapping_add(10_000_000 + 2 * k);
        p.packet(
            T0 + 2_000 + u64::from(k),
            &tcp_frame(t.s, t.c, seq, t.cseq, PSH_ACK, 65_535, b"z"),
        );
    }
    t.server(&mut p, T0 + 5_000, PSH_ACK, NOT_FOUND);
    t.close(&mut p, T0 + 6_000);
    let (code, recs) = run(&p, "out-of-window", &[]);
    let c = of_type(&recs, "connection")[0];
    assert_eq!(c["server_stats"]["out_of_window"], 257, "{c}");
    assert_eq!(c["server_stats"]["lost_segments"], 0, "{c}");
    assert_eq!(c["http"][0]["status"], 404, "{c}");
    assert_eq!(stats(&recs)["out_of_window_segments"], 257);
    assert!(findings(&recs, "retransmissions").is_empty());
    let injected = findings(&recs, "injected-segments");
    assert_eq!(injected.len(), 1, "{recs:?}");
    assert!(
        injected[0]["summary"]
            .as_str()
            .unwrap()
            .contains("257 segments")
    );
    assert_eq!(findings(&recs, "http-not-found").len(), 1);
    assert_eq!(code, 1);
}

/// A 404 whose request line never reached the capture (the client's request is missing,
/// the server acknowledges it): the finding says the request was not seen.
#[test]
fn hostile_404_without_its_request_says_the_request_was_not_seen() {
    let mut p = Pcap::new();
    let mut t = Tcp::new(0, 80);
    t.handshake(&mut p, T0);
    // The request is acknowledged but was not captured.
    t.cseq = t.cseq.wrapping_add(get(MODULE).len() as u32);
    t.server(&mut p, T0 + 2_000, PSH_ACK, NOT_FOUND);
    t.close(&mut p, T0 + 3_000);
    let (_, recs) = run(&p, "404-without-request", &[]);
    let nf = findings(&recs, "http-not-found");
    assert_eq!(nf.len(), 1, "{recs:?}");
    let summary = nf[0]["summary"].as_str().unwrap();
    assert!(
        !summary.contains("for :") && !summary.contains("for ."),
        "{summary}"
    );
    assert!(summary.contains("not seen"), "{summary}");
}

// ---- 4. bodies cut by a close, and clocks that jump ------------------------------------

/// The server announces 200,000 bytes, sends 100,000 and closes: the body is incomplete and
/// the fetch failed (go: unexpected EOF), never OK.
#[test]
fn hostile_body_cut_by_fin_is_incomplete() {
    let mut p = Pcap::new();
    let mut t = Tcp::new(0, 80);
    t.handshake(&mut p, T0);
    t.client(&mut p, T0 + 1_000, PSH_ACK, &get(MODULE));
    let mut resp = b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n".to_vec();
    resp.extend(std::iter::repeat_n(b'b', 100_000));
    let end = t.server_stream(&mut p, T0 + 2_000, &resp);
    t.server(&mut p, end + 100, FIN_ACK, &[]);
    t.client(&mut p, end + 200, FIN_ACK, &[]);
    t.server(&mut p, end + 300, ACK, &[]);
    let (code, recs) = run(&p, "body-cut-by-fin", &[]);
    let tx = &of_type(&recs, "connection")[0]["http"][0];
    assert_eq!(tx["content_length"], 200_000, "{tx}");
    assert_eq!(tx["body_bytes"], 100_000, "{tx}");
    assert_eq!(tx["body_complete"], false, "{tx}");
    let cut = findings(&recs, "transfer-reset");
    assert_eq!(cut.len(), 1, "{recs:?}");
    assert_eq!(cut[0]["likely_go_error"], "unexpected EOF");
    assert_eq!(stats(&recs)["verdict"], "error");
    assert_eq!(code, 1);
}

/// One unrelated packet stamped `ahead` seconds in the future between a GET and its 404:
/// a clock jump, counted, that expires nothing.
fn clock_jump(ahead: u64) {
    let mut p = Pcap::new();
    let mut t = Tcp::new(0, 80);
    t.handshake(&mut p, T0);
    t.client(&mut p, T0 + 1_000, PSH_ACK, &get(MODULE));
    let mut udp = Vec::new();
    udp.extend_from_slice(&5_000u16.to_be_bytes());
    udp.extend_from_slice(&6_000u16.to_be_bytes());
    udp.extend_from_slice(&12u16.to_be_bytes());
    udp.extend_from_slice(&[0, 0, 1, 2, 3, 4]);
    p.packet(
        T0 + ahead * 1_000_000,
        &ip_frame(
            Ipv4Addr::new(198, 51, 100, 1),
            Ipv4Addr::new(198, 51, 100, 2),
            17,
            &udp,
        ),
    );
    t.server(&mut p, T0 + 2_000, PSH_ACK, NOT_FOUND);
    t.close(&mut p, T0 + 3_000);
    let (code, recs) = run(&p, &format!("clock-jump-{ahead}"), &[]);
    let tcp: Vec<&Value> = of_type(&recs, "connection")
        .into_iter()
        .filter(|c| c["transport"] == "tcp")
        .collect();
    assert_eq!(tcp.len(), 1, "the connection was not cut in two: {tcp:?}");
    assert_eq!(tcp[0]["http"][0]["status"], 404, "{}", tcp[0]);
    assert_eq!(tcp[0]["end_reason"], "end_of_input", "{}", tcp[0]);
    assert_eq!(stats(&recs)["clock_jumps"], 1);
    assert_eq!(findings(&recs, "http-not-found").len(), 1);
    assert_eq!(code, 1);
}

#[test]
fn hostile_packet_400_seconds_ahead_is_a_clock_jump() {
    clock_jump(400);
}

#[test]
fn hostile_packet_decades_ahead_is_a_clock_jump() {
    clock_jump(20 * 365 * 86_400);
}

// ---- 5. peak RSS, whatever the capture -----------------------------------------------------
//
// README's "Limits" promises that the binary's peak RSS stays within the memcap plus a fixed
// base, whatever the capture. Each attack shape below is built big enough that, were its
// structure unbounded, the growth alone would break that figure; the binary runs as a child
// and its peak RSS is the kernel's (wait4's ru_maxrss). Time is never asserted (no test
// here measures a duration): the work that bounds it is, through the counters of the bound
// that limits it (candidates tried, signatures checked, messages skipped).

/// README's base: what the binary holds beyond the memcap at most, whatever the capture,
/// with every other bound at its default (flows, the handshake pool, the pool of kept bytes,
/// IP fragments, DNS state, the description cache, kept findings, the allocator's own).
/// Measured: `hostile_rss_every_bound_full_at_once_is_the_base` fills them all at once and
/// peaks at 185 MiB (189,128 KiB); 224 leaves 39 MiB for what that capture does not fill
/// (the chain validation cache, up to 512 chains of 32 KiB; the fingerprint cache, 4 MiB;
/// findings kept for the summary) and for the allocator's variance.
const BASE_MIB: u64 = 224;

/// What a child run of the binary gave: exit status, records, and peak RSS in KiB.
struct Measured {
    code: i32,
    recs: Vec<Value>,
    peak_kib: u64,
    stderr: String,
}

/// The binary under test (`MODSNIFF_BOUNDS_BIN` runs another build on the same captures, to
/// see each shape break the bound on a build without it).
fn binary() -> PathBuf {
    std::env::var_os("MODSNIFF_BOUNDS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(crate::common::bin)
}

/// Waits for `child` and returns its exit code (-1 when signalled) and peak RSS in KiB.
#[allow(unsafe_code)]
fn wait_peak(child: &std::process::Child) -> (i32, u64) {
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data, zero is a valid value for every field; wait4 writes
    // both out-parameters, which live for the call.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(got, pid, "wait4: {}", std::io::Error::last_os_error());
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (code, ru.ru_maxrss as u64)
}

/// Where the probe below finds what to run: the binary, the files for its stdout and
/// stderr, then its arguments, one a line.
const PROBE_ENV: &str = "MODSNIFF_RSS_PROBE";

/// Not a test of its own: the small process that runs the binary for `measure_file`. The
/// kernel counts into a child's ru_maxrss the peak of the address space it was spawned
/// from (exec keeps the old one's high-water mark), and this test binary holds captures of
/// up to 100 MB while its tests run side by side; run from here, freshly exec'd, the
/// binary starts from a few MiB.
#[test]
fn rss_probe() {
    let Some(spec) = std::env::var_os(PROBE_ENV) else {
        return;
    };
    let spec = spec.into_string().unwrap();
    let mut lines = spec.lines();
    let (bin, out, err) = (
        lines.next().unwrap(),
        lines.next().unwrap(),
        lines.next().unwrap(),
    );
    // Reaped by wait_peak's wait4, which also gives its rusage.
    #[allow(clippy::zombie_processes)]
    let child = std::process::Command::new(bin)
        .args(lines)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(out).unwrap())
        .stderr(std::fs::File::create(err).unwrap())
        .spawn()
        .expect("run modsniff");
    let (code, peak_kib) = wait_peak(&child);
    println!("rss-probe {code} {peak_kib}");
}

/// Runs `read --format ndjson EXTRA FILE` on the capture written from `bytes` (through
/// `rss_probe`), its output going to a file (no pipe to drain while it runs).
fn measure_file(bytes: &[u8], name: &str, ext: &str, extra: &[&str]) -> Measured {
    let dir = std::env::temp_dir();
    let stem = format!("modsniff-rss-{}-{name}", std::process::id());
    let file = dir.join(format!("{stem}.{ext}"));
    let out = dir.join(format!("{stem}.out"));
    let err = dir.join(format!("{stem}.err"));
    std::fs::write(&file, bytes).unwrap();
    // MODSNIFF_BOUNDS_KEEP=DIR keeps a copy of each capture, to measure other builds on it.
    if let Some(keep) = std::env::var_os("MODSNIFF_BOUNDS_KEEP") {
        std::fs::copy(
            &file,
            std::path::Path::new(&keep).join(format!("{name}.{ext}")),
        )
        .unwrap();
    }
    let mut spec = vec![
        binary().display().to_string(),
        out.display().to_string(),
        err.display().to_string(),
        "read".into(),
        "--format".into(),
        "ndjson".into(),
    ];
    spec.extend(extra.iter().map(|a| a.to_string()));
    spec.push(file.display().to_string());
    let probe = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "hostile_bounds::rss_probe",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(PROBE_ENV, spec.join("\n"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run the probe");
    let said = String::from_utf8_lossy(&probe.stdout);
    let (code, peak_kib) = said
        .lines()
        .find_map(|l| {
            // libtest writes its own "test ... " before the line.
            let mut w = l.split_once("rss-probe ")?.1.split(' ');
            Some((w.next()?.parse().ok()?, w.next()?.parse().ok()?))
        })
        .unwrap_or_else(|| panic!("{name}: the probe said {said}"));
    let stdout = std::fs::read_to_string(&out).unwrap();
    let stderr = std::fs::read_to_string(&err).unwrap();
    for f in [&file, &out, &err] {
        let _ = std::fs::remove_file(f);
    }
    let recs = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: {l:?}: {e}")))
        .collect();
    eprintln!(
        "{name}: {} MiB capture, peak RSS {} MiB, exit {code}",
        bytes.len() >> 20,
        peak_kib >> 10
    );
    Measured {
        code,
        recs,
        peak_kib,
        stderr,
    }
}

fn measure(p: &Pcap, name: &str, extra: &[&str]) -> Measured {
    measure_file(&p.0, name, "pcap", extra)
}

/// The promise: peak RSS <= memcap + BASE_MIB.
fn assert_within(m: &Measured, memcap_mib: u64, name: &str) {
    assert!(
        matches!(m.code, 0 | 1),
        "{name}: exit {}, stderr {}",
        m.code,
        m.stderr
    );
    assert!(
        m.peak_kib <= (memcap_mib + BASE_MIB) << 10,
        "{name}: peak RSS {} KiB over memcap {memcap_mib} MiB + base {BASE_MIB} MiB",
        m.peak_kib
    );
}

/// Tiny out-of-order segments over many connections: 6,000 connections side by side, each
/// 256 one-byte segments ahead of a hole (1.5 M stored segments, ~110 MB of capture). Each
/// stored segment is charged to the memcap for its bookkeeping, so a 1 MiB memcap holds a
/// few thousand of them; unbounded, their entries alone take over 100 MiB.
#[test]
fn hostile_rss_tiny_out_of_order_segments() {
    let conns = 6_000u32;
    let mut p = Pcap::new();
    let mut tcp: Vec<Tcp> = (0..conns).map(|i| Tcp::new(i, 80)).collect();
    for (i, t) in tcp.iter_mut().enumerate() {
        t.handshake(&mut p, T0 + i as u64 * 10);
    }
    let mut us = T0 + 1_000_000;
    for k in 0..256u32 {
        for t in &tcp {
            let seq = t.cseq.wrapping_add(10 + 2 * k);
            p.packet(us, &tcp_frame(t.c, t.s, seq, t.sseq, PSH_ACK, 65_535, b"x"));
            us += 1;
        }
    }
    let m = measure(&p, "rss-tiny-ooo", &["--memcap", "1"]);
    assert_within(&m, 1, "tiny out-of-order segments");
    let s = stats(&m.recs);
    assert!(s["evicted_streams"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(of_type(&m.recs, "connection").len(), conns as usize);
}

/// Partial certificate messages: 400 connections each announce a Certificate of 1,000,000
/// bytes and send 2 KB of it (a 1 MB capture). Each would hold a buffer for the rest (400 MB);
/// the run's pool holds 16 of them, the others are skipped by their length.
#[test]
fn hostile_rss_partial_certificate_messages() {
    let conns = 400u32;
    let p = partial_certificates(conns);
    let m = measure(&p, "rss-partial-certificates", &["--memcap", "1"]);
    assert_within(&m, 1, "partial certificate messages");
    assert_eq!(stats(&m.recs)["handshake_buffer_refusals"], conns - 16);
}

/// Certificates with huge SAN lists: 40 connections, each a certificate of ~120,000 DNS
/// names (a Certificate message just under its 1 MiB bound; a 40 MB capture). 1,024 names
/// are kept per certificate; all of them as strings would take well over 200 MiB.
#[test]
fn hostile_rss_certificates_with_huge_san_lists() {
    let conns = 40u32;
    let per_cert = 120_000u32;
    let san: Vec<String> = (0..per_cert).map(|k| format!("{k:x}.z")).collect();
    let mut p = Pcap::new();
    for i in 0..conns {
        let leaf = certificate(9 + i, "names.example", "Names CA", 9 + i, false, &san);
        tls_connection(
            &mut p,
            i,
            T0 + u64::from(i) * 100_000,
            "names.example",
            &[leaf],
        );
    }
    let m = measure(&p, "rss-huge-san", &["--memcap", "1"]);
    assert_within(&m, 1, "certificates with huge SAN lists");
    let conns_seen = of_type(&m.recs, "connection");
    assert_eq!(conns_seen.len(), conns as usize);
    for c in &conns_seen {
        assert_eq!(
            c["tls"]["certificates"][0]["san"].as_array().unwrap().len(),
            1_024,
            "{}",
            c["tls"]
        );
    }
    assert_eq!(
        stats(&m.recs)["san_entries_dropped"],
        u64::from(conns) * u64::from(per_cert - 1_024)
    );
}

/// Many HTTP transactions: 64 keep-alive connections of 10,000 pipelined requests and their
/// answers each (batches of 1,000: ~50 bytes of capture per transaction, 32 MB in all).
/// Kept, 640,000 transactions take some 300 MiB; each connection keeps 1,024 and the run's
/// pool bounds what all of them keep together.
#[test]
fn hostile_rss_many_http_transactions() {
    let conns = 64u32;
    let per_conn = 10_000u32;
    let batch = 1_000u32;
    let mut p = Pcap::new();
    let mut us = T0;
    for i in 0..conns {
        let mut t = Tcp::new(i, 80);
        t.handshake(&mut p, us);
        us += 1_000;
        for b in 0..per_conn / batch {
            let reqs: Vec<u8> = (0..batch)
                .flat_map(|k| format!("GET /{b}/{k} HTTP/1.1\r\nHost: h\r\n\r\n").into_bytes())
                .collect();
            for piece in reqs.chunks(1_400) {
                t.client(&mut p, us, PSH_ACK, piece);
                us += 10;
            }
            let resps = b"HTTP/1.1 204 No Content\r\n\r\n".repeat(batch as usize);
            us = t.server_stream(&mut p, us, &resps);
            t.client(&mut p, us, ACK, &[]);
            us += 10;
        }
        t.close(&mut p, us);
        us += 1_000;
    }
    let m = measure(&p, "rss-http-transactions", &["--memcap", "1"]);
    assert_within(&m, 1, "many HTTP transactions");
    let conns_seen = of_type(&m.recs, "connection");
    assert_eq!(conns_seen.len(), conns as usize);
    let kept: usize = conns_seen
        .iter()
        .map(|c| c["http"].as_array().map_or(0, Vec::len))
        .sum();
    let http = &stats(&m.recs)["http"];
    assert_eq!(
        kept as u64 + http["dropped_transactions"].as_u64().unwrap(),
        u64::from(conns * per_conn),
        "{http}"
    );
}

/// Many connections yielding findings and records: 2,000 TLS connections, each refused by
/// its client over a certificate of 1,000 names that are not the host's (a finding per
/// connection, each quoting names; a 40 MB capture; the run's pool of kept bytes holds the
/// names of some 170 of them at once). NDJSON streams every record and
/// finding; what the run keeps to the end for the report is bounded, and what it left out is
/// counted and said.
#[test]
fn hostile_rss_many_connections_with_findings() {
    let conns = 2_000u32;
    let san: Vec<String> = (0..1_000)
        .map(|k| format!("alt{k}.other.example"))
        .collect();
    let mut p = Pcap::new();
    for i in 0..conns {
        let leaf = certificate(
            50_000 + i,
            "other.example",
            "Other CA",
            50_000 + i,
            false,
            &san,
        );
        let host = format!("h{i}.corp.example");
        tls_connection(&mut p, i, T0 + u64::from(i) * 20_000, &host, &[leaf]);
    }
    // A server some hops away: the server's own certificate, not a middlebox's.
    p.set_ttl(Ipv4Addr::new(192, 0, 2, 80), 52);
    let m = measure(&p, "rss-findings", &["--memcap", "1"]);
    assert_within(&m, 1, "many connections yielding findings");
    assert_eq!(of_type(&m.recs, "connection").len(), conns as usize);
    // Every finding is streamed, whatever the run keeps for its summary. Some 250
    // connections are live or lingering after their close at once, their certificates' names
    // more than the run keeps: those whose names were not kept are undecided, never OK.
    let rejected = findings(&m.recs, "certificate-rejected").len();
    let undecided = findings(&m.recs, "capture-incomplete");
    assert_eq!(rejected + undecided.len(), conns as usize);
    assert!(rejected > 0 && !undecided.is_empty(), "{rejected} rejected");
    for f in &undecided {
        let summary = f["summary"].as_str().unwrap();
        assert!(summary.contains("max_kept_bytes"), "{summary}");
    }
    assert!(stats(&m.recs)["kept_bytes_refusals"].as_u64().unwrap_or(0) >= undecided.len() as u64);
}

/// A pcapng file whose interface description block carries 4 million options (a 32 MB
/// block), then ordinary blocks: the block is refused by its length before anything is
/// parsed, and reading stops with a warning, as for any record beyond the reader's bound.
#[test]
fn hostile_rss_pcapng_idb_with_millions_of_options() {
    fn block(out: &mut Vec<u8>, ty: u32, body: &[u8]) {
        let len = (12 + body.len()) as u32;
        out.extend_from_slice(&ty.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(&len.to_le_bytes());
    }
    let mut b = Vec::new();
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&u64::MAX.to_le_bytes());
    block(&mut b, 0x0a0d_0d0a, &shb);
    let mut idb = vec![1, 0, 0, 0];
    idb.extend_from_slice(&65_535u32.to_le_bytes());
    // if_description (3), 4 bytes each: 4 million of them.
    for _ in 0..4_000_000u32 {
        idb.extend_from_slice(&[3, 0, 4, 0, b'o', b'p', b't', b's']);
    }
    idb.extend_from_slice(&[0, 0, 0, 0]);
    block(&mut b, 1, &idb);
    let m = measure_file(&b, "rss-pcapng-options", "pcapng", &["--memcap", "1"]);
    assert_within(&m, 1, "pcapng IDB with millions of options");
    // A 32 MB block is refused by its length: nothing of it was held.
    assert!(
        m.peak_kib < u64::try_from(b.len()).unwrap() >> 10,
        "peak {} KiB for a {} byte block",
        m.peak_kib,
        b.len()
    );
    assert!(m.stderr.contains("warning"), "{}", m.stderr);
}

/// The chain maze again, 150 connections of it, each with a chain of its own (no cache
/// hits): the work is bounded per chain (256 candidates), and memory with it.
#[test]
fn hostile_rss_chain_maze() {
    let maze: Vec<Vec<u8>> = (0..15)
        .map(|k| certificate(100 + k, "Maze CA", "Maze CA", 1_000 + k, true, &[]))
        .collect();
    let conns = 150u32;
    let mut p = Pcap::new();
    for i in 0..conns {
        let mut c = vec![certificate(
            10_000 + i,
            "bomb.example",
            "Maze CA",
            7,
            false,
            &["bomb.example".to_string()],
        )];
        c.extend(maze.iter().cloned());
        tls_connection(&mut p, i, T0 + u64::from(i) * 20_000, "bomb.example", &c);
    }
    let m = measure(&p, "rss-chain-maze", &["--memcap", "1"]);
    assert_within(&m, 1, "chain maze");
    let x = &stats(&m.recs)["x509"];
    assert_eq!(x["validated"], conns, "{x}");
    assert_eq!(x["chain_budget_exceeded"], conns, "{x}");
    assert!(
        x["candidates"].as_u64().unwrap() <= u64::from(conns) * 256,
        "{x}"
    );
}

/// `conns` TLS connections whose server announces a 1 MB Certificate message after its
/// ServerHello and sends 2,000 bytes of it in a 16,000-byte record: partial messages a
/// decoder would hold.
fn partial_certificates(conns: u32) -> Pcap {
    let mut p = Pcap::new();
    for i in 0..conns {
        let mut t = Tcp::new(i, 443);
        let us = T0 + u64::from(i) * 10_000;
        t.handshake(&mut p, us);
        t.client(&mut p, us + 1_000, PSH_ACK, &client_hello("big.example"));
        let mut sh = vec![3, 3];
        sh.extend_from_slice(&[9; 32]);
        sh.extend_from_slice(&[0, 0x00, 0x2f, 0, 0, 0]);
        let mut msgs = handshake(2, &sh);
        msgs.push(11);
        msgs.extend_from_slice(&u24(1_000_000));
        msgs.extend(std::iter::repeat_n(0x30, 2_000));
        let mut rec = vec![22, 3, 3];
        rec.extend_from_slice(&16_000u16.to_be_bytes());
        rec.extend_from_slice(&msgs);
        t.server_stream(&mut p, us + 2_000, &rec);
    }
    p
}

// ---- 6. what live connections keep, over the run ---------------------------------------
//
// Each decoder bounds what it keeps for its connection; these shapes multiply that by many
// live connections (none closes before the end of the capture), which only the run's pool
// of kept bytes (`max_kept_bytes`) and the memcap bound.

/// Many live connections each keeping the most HTTP transactions: 480 keep-alive
/// connections, each 1,024 pipelined requests (33 bytes each, two 17 KB segments) that are
/// never answered or closed (a 16 MB capture). Kept, 491,520 transactions take ~250 MiB;
/// the run's pool keeps some 16 MiB of them, the rest are counted.
#[test]
fn hostile_rss_live_connections_keeping_http_transactions() {
    let conns = 480u32;
    let per_conn = 1_024u32;
    let mut p = Pcap::new();
    let mut us = T0;
    for i in 0..conns {
        let mut t = Tcp::new(i, 80);
        t.handshake(&mut p, us);
        let reqs: Vec<u8> = (0..per_conn)
            .flat_map(|k| format!("GET /{k:04} HTTP/1.1\r\nHost: h\r\n\r\n").into_bytes())
            .collect();
        for piece in reqs.chunks(reqs.len().div_ceil(2)) {
            t.client(&mut p, us + 1_000, PSH_ACK, piece);
        }
        us += 2_000;
    }
    let m = measure(&p, "rss-live-http-transactions", &["--memcap", "1"]);
    assert_within(&m, 1, "live connections keeping HTTP transactions");
    let conns_seen = of_type(&m.recs, "connection");
    assert_eq!(conns_seen.len(), conns as usize);
    let kept: u64 = conns_seen
        .iter()
        .map(|c| c["http"].as_array().map_or(0, Vec::len) as u64)
        .sum();
    let s = stats(&m.recs);
    let dropped = s["http"]["dropped_transactions"].as_u64().unwrap();
    assert_eq!(kept + dropped, u64::from(conns * per_conn), "{s}");
    assert!(kept > 0 && dropped > 0, "kept {kept}, dropped {dropped}");
    assert!(
        s["kept_bytes_refusals"].as_u64().unwrap_or(0) >= dropped,
        "{s}"
    );
}

/// Many live connections each in the middle of a large header block: 320 connections send
/// 60 KiB of request head that never ends (a 19 MB capture). Each is within the bound on a
/// header block (64 KiB); all of them together are not: the pool holds 273 of them, the
/// other sides are given up and counted.
#[test]
fn hostile_rss_live_connections_with_partial_header_blocks() {
    let conns = 320u32;
    let mut head = b"GET / HTTP/1.1\r\nHost: h\r\n".to_vec();
    while head.len() < 60 * 1024 {
        head.extend_from_slice(
            b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
        );
    }
    head.truncate(60 * 1024);
    let mut p = Pcap::new();
    for i in 0..conns {
        let mut t = Tcp::new(i, 80);
        let us = T0 + u64::from(i) * 2_000;
        t.handshake(&mut p, us);
        t.client(&mut p, us + 1_000, PSH_ACK, &head);
    }
    let m = measure(&p, "rss-live-header-blocks", &["--memcap", "1"]);
    assert_within(&m, 1, "live connections with partial header blocks");
    assert_eq!(of_type(&m.recs, "connection").len(), conns as usize);
    let s = stats(&m.recs);
    let refused = s["kept_bytes_refusals"].as_u64().unwrap_or(0);
    assert!(refused >= u64::from(conns) - 273, "{s}");
    // Refused for room, not for size: no block was over its own bound.
    assert_eq!(s["http"]["header_overflows"], 0, "{s}");
}

/// Many live connections each showing certificates with the most kept names: 300 TLS
/// connections, each a chain of 16 certificates of 1,024 one-letter DNS names (4 bytes of
/// capture per name, ~60 bytes kept; a 15 MB capture), none of them closed. Kept whole,
/// the names take ~270 MiB; the pool keeps those of some 17 connections, the others' names
/// are counted, not kept.
#[test]
fn hostile_rss_live_connections_keeping_certificate_names() {
    let conns = 300u32;
    let names: Vec<String> = (0..1_024)
        .map(|k| ((b'a' + (k % 26) as u8) as char).to_string())
        .collect();
    let chain: Vec<Vec<u8>> = (0..16u32)
        .map(|k| {
            certificate(
                70 + k,
                &format!("Names {k}"),
                &format!("Names {}", k + 1),
                70 + k,
                k > 0,
                &names,
            )
        })
        .collect();
    let flight = server_flight(&chain);
    let mut p = Pcap::new();
    for i in 0..conns {
        let mut t = Tcp::new(i, 443);
        let us = T0 + u64::from(i) * 20_000;
        t.handshake(&mut p, us);
        t.client(&mut p, us + 1_000, PSH_ACK, &client_hello("names.example"));
        let end = t.server_stream(&mut p, us + 2_000, &flight);
        t.client(&mut p, end + 10, ACK, &[]);
    }
    let m = measure(&p, "rss-live-certificate-names", &["--memcap", "1"]);
    assert_within(&m, 1, "live connections keeping certificate names");
    let conns_seen = of_type(&m.recs, "connection");
    assert_eq!(conns_seen.len(), conns as usize);
    for c in &conns_seen {
        assert_eq!(
            c["tls"]["certificates"].as_array().map_or(0, Vec::len),
            16,
            "{}",
            c["tls"]
        );
    }
    let s = stats(&m.recs);
    assert!(s["kept_bytes_refusals"].as_u64().unwrap_or(0) > 0, "{s}");
    assert!(
        s["san_entries_dropped"].as_u64().unwrap() >= 16 * 1_024,
        "{s}"
    );
}

/// A ClientHello offering `names` one-byte ALPN protocol names (two bytes each on the wire)
/// besides its server name: some 40 KB for 20,000 names, within a hello's 64 KiB.
fn alpn_client_hello(sni: &str, names: usize) -> Vec<u8> {
    let mut protocols = Vec::with_capacity(2 * names);
    for k in 0..names {
        protocols.extend_from_slice(&[1, b'a' + (k % 26) as u8]);
    }
    let mut alpn = vec![0, 16];
    alpn.extend_from_slice(&((protocols.len() + 2) as u16).to_be_bytes());
    alpn.extend_from_slice(&(protocols.len() as u16).to_be_bytes());
    alpn.extend_from_slice(&protocols);
    client_hello_with(sni, [0x13, 0x01], &alpn)
}

/// Live connections whose ClientHellos offer 20,000 ALPN names each: kept whole, a hello is
/// some 800 KB of names for its connection's life, 400 of them 320 MB. Kept hellos are
/// charged to the run's pool of kept bytes: beyond it a hello's lists go (counted), its
/// server name and fingerprints stay.
#[test]
fn hostile_rss_live_connections_with_huge_client_hellos() {
    let conns = 400u32;
    let hello = alpn_client_hello("alpn.example", 20_000);
    let mut p = Pcap::new();
    for i in 0..conns {
        let mut t = Tcp::new(i, 443);
        let mut us = T0 + u64::from(i) * 20_000;
        t.handshake(&mut p, us);
        for piece in hello.chunks(1_400) {
            us += 10;
            t.client(&mut p, us, PSH_ACK, piece);
        }
        t.server(&mut p, us + 100, ACK, &[]);
    }
    let m = measure(&p, "rss-live-huge-client-hellos", &["--memcap", "1"]);
    assert_within(&m, 1, "live connections with huge ClientHellos");
    let hellos: Vec<&Value> = of_type(&m.recs, "connection")
        .into_iter()
        .filter_map(|c| {
            c["tls"]["client_hello"]
                .as_object()
                .map(|_| &c["tls"]["client_hello"])
        })
        .collect();
    assert_eq!(hellos.len(), conns as usize);
    assert!(hellos.iter().all(|h| h["sni"] == "alpn.example"));
    let alpn = |h: &&Value| h["alpn"].as_array().map_or(0, Vec::len);
    assert!(
        hellos.iter().any(|h| alpn(h) == 20_000),
        "no hello kept whole"
    );
    assert!(
        hellos.iter().any(|h| alpn(h) == 0),
        "every hello kept whole"
    );
    let s = stats(&m.recs);
    assert!(s["kept_bytes_refusals"].as_u64().unwrap_or(0) > 0, "{s}");
}

/// Snaplen-cut segments ahead of a hole: 200 live connections each send 256 segments of
/// which the capture kept no payload (100 bytes each on the wire), every one ahead of the
/// last. Each is remembered as a missing range until the stream reaches it; those entries
/// are charged to the memcap, so a 1 MiB memcap holds some 16,000 of the 51,200 and makes
/// the streams give their first hole up (counted) instead of remembering more.
#[test]
fn hostile_rss_snaplen_cut_ranges_are_charged_to_the_memcap() {
    let conns = 200u32;
    let mut p = Pcap::new();
    let mut tcp: Vec<Tcp> = (0..conns).map(|i| Tcp::new(i, 80)).collect();
    for (i, t) in tcp.iter_mut().enumerate() {
        t.handshake(&mut p, T0 + i as u64 * 10);
    }
    let mut us = T0 + 1_000_000;
    for k in 0..256u32 {
        for t in &tcp {
            let seq = t.cseq.wrapping_add(10 + 200 * k);
            p.packet_cut(
                us,
                &tcp_frame(t.c, t.s, seq, t.sseq, PSH_ACK, 65_535, &[]),
                100,
            );
            us += 1;
        }
    }
    let m = measure(&p, "rss-snaplen-cut", &["--memcap", "1"]);
    assert_within(&m, 1, "snaplen-cut ranges");
    assert_eq!(of_type(&m.recs, "connection").len(), conns as usize);
    let s = stats(&m.recs);
    assert_eq!(s["truncated_packets"], conns * 256, "{s}");
    assert!(s["evicted_streams"].as_u64().unwrap() > 0, "{s}");
}

// ---- 7. the base, at its worst ---------------------------------------------------------

fn udp_frame(src: End, dst: End, data: &[u8]) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + data.len());
    u.extend_from_slice(&src.1.to_be_bytes());
    u.extend_from_slice(&dst.1.to_be_bytes());
    u.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(data);
    ip_frame(src.0, dst.0, 17, &u)
}

/// A DNS name of about 200 characters, distinct by `k`.
fn long_name(k: u32) -> Vec<u8> {
    let mut n = Vec::new();
    let first = format!("n{k:08}");
    n.push(first.len() as u8);
    n.extend_from_slice(first.as_bytes());
    for c in [b'a', b'b', b'c'] {
        n.push(63);
        n.extend(std::iter::repeat_n(c, 63));
    }
    n.extend_from_slice(b"\x07example\x00");
    n
}

fn dns_message(id: u16, flags: u16, name: &[u8], answer: Option<[u8; 4]>) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&[0, 1, 0, u8::from(answer.is_some()), 0, 0, 0, 0]);
    m.extend_from_slice(name);
    m.extend_from_slice(&[0, 1, 0, 1]);
    if let Some(ip) = answer {
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 0, 0, 4]);
        m.extend_from_slice(&ip);
    }
    m
}

/// Every bound of the engine full at once, under `--memcap 1`: as many live connections as
/// `max_flows` (16,384), those over HTTP keeping transactions with long targets until the
/// run's pool of kept bytes is full; 16 TLS connections each holding ~1 MB of an unfinished
/// Certificate message (the handshake pool, 16 MiB); 100 others showing certificates of
/// 1,024 names each (the description cache); 256 IP datagrams each with a fragment at the
/// end of the largest datagram (256 x 64 KiB); 10,000 DNS queries waiting for an answer and
/// 65,536 answers naming distinct addresses, all with ~200-character names; out-of-order
/// segments up to the memcap. All within 3 s of packet time (the DNS query timeout is 5 s).
/// The peak RSS of this run is the base README states, measured; `BASE_MIB` is it with a
/// margin.
#[test]
fn hostile_rss_every_bound_full_at_once_is_the_base() {
    let mut p = Pcap::new();
    let mut us = T0;
    let flows = 16_384u32;
    let tls_partial = 16u32;
    let tls_names = 100u32;
    // The resolver's flow is the last of `max_flows`.
    let http = flows - tls_partial - tls_names - 1;
    let target = "/".to_string() + &"p".repeat(400);
    // HTTP: two requests with long targets each, never answered.
    for i in 0..http {
        let mut t = Tcp::new(i, 80);
        t.handshake(&mut p, us);
        let reqs = format!(
            "GET {target}{i} HTTP/1.1\r\nHost: h\r\n\r\nGET {target} HTTP/1.1\r\nHost: h\r\n\r\n"
        );
        t.client(&mut p, us + 300, PSH_ACK, reqs.as_bytes());
        // A byte ahead of a hole: out-of-order data charged to the memcap.
        {
            p.packet(
                us + 400,
                &tcp_frame(
                    t.c,
                    t.s,
                    t.cseq.wrapping_add(100),
                    t.sseq,
                    PSH_ACK,
                    65_535,
                    b"x",
                ),
            );
        }
        us += 100;
    }
    // TLS: unfinished Certificate messages of ~1 MB.
    for i in http..http + tls_partial {
        let mut t = Tcp::new(i, 443);
        t.handshake(&mut p, us);
        t.client(&mut p, us + 300, PSH_ACK, &client_hello("big.example"));
        let mut sh = vec![3, 3];
        sh.extend_from_slice(&[9; 32]);
        sh.extend_from_slice(&[0, 0x00, 0x2f, 0, 0, 0]);
        let mut msgs = handshake(2, &sh);
        msgs.push(11);
        msgs.extend_from_slice(&u24(1_000_000));
        msgs.extend(std::iter::repeat_n(0x30, 990_000));
        us = t.server_stream(&mut p, us + 400, &records(22, &msgs));
    }
    // TLS: certificates of 1,024 names, one distinct certificate a connection.
    let names: Vec<String> = (0..1_024).map(|k| format!("{k:x}")).collect();
    for i in http + tls_partial..http + tls_partial + tls_names {
        let mut t = Tcp::new(i, 443);
        t.handshake(&mut p, us);
        t.client(&mut p, us + 300, PSH_ACK, &client_hello("names.example"));
        let leaf = certificate(900_000 + i, "names.example", "Names CA", i, false, &names);
        let end = t.server_stream(&mut p, us + 400, &server_flight(&[leaf]));
        t.client(&mut p, end + 10, ACK, &[]);
        us = end + 100;
    }
    // IP fragments: one 8-byte fragment at the end of the largest datagram, 256 datagrams.
    for k in 0..256u32 {
        let mut f = ip_frame(
            Ipv4Addr::new(10, 9, 0, 1),
            Ipv4Addr::new(10, 9, 0, 2),
            17,
            &[0x5a; 8],
        );
        let id = (k as u16).to_be_bytes();
        f[18..20].copy_from_slice(&id);
        let off: u16 = 65_000 / 8;
        f[20..22].copy_from_slice(&(0x2000 | off).to_be_bytes());
        p.packet(us, &f);
        us += 10;
    }
    // DNS: 10,000 open queries, then 65,536 answers for other names and addresses (one
    // resolver flow each way, so no flow beyond the connections above).
    let client = (Ipv4Addr::new(10, 8, 0, 1), 5_353);
    let resolver = (Ipv4Addr::new(10, 8, 0, 53), 53);
    for k in 0..10_000u32 {
        let q = dns_message(k as u16, 0x0100, &long_name(k), None);
        p.packet(us, &udp_frame(client, resolver, &q));
        us += 5;
    }
    for k in 0..65_536u32 {
        let ip = (0x0b00_0000u32 + k).to_be_bytes();
        let a = dns_message(
            (10_000 + k) as u16,
            0x8180,
            &long_name(100_000 + k),
            Some(ip),
        );
        p.packet(us, &udp_frame(resolver, client, &a));
        us += 5;
    }
    assert!(us - T0 < 4_000_000, "{} us of packet time", us - T0);
    let m = measure(&p, "rss-every-bound-full", &["--memcap", "1"]);
    eprintln!("base at its worst: {} KiB", m.peak_kib);
    let s = stats(&m.recs);
    // Each bound was reached.
    assert_eq!(s["evicted_flows"], 0, "{s}");
    assert!(s["kept_bytes_refusals"].as_u64().unwrap_or(0) > 0, "{s}");
    assert!(s["evicted_streams"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(of_type(&m.recs, "connection").len(), flows as usize);
    assert_within(&m, 1, "every bound full at once");
}

// ---- 8. every bound listed ---------------------------------------------------------------

/// The `pub` fields of `pub struct NAME { ... }` in `file` (under crates/core/src).
fn fields(file: &str, name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(crate::common::root().join("crates/core/src").join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let start = text
        .find(&format!("pub struct {name} {{"))
        .unwrap_or_else(|| panic!("no struct {name} in {file}"));
    let body = &text[start..];
    let body = &body[..body.find("\n}").unwrap()];
    let found: Vec<String> = body
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub "))
        .filter_map(|l| l.split_once(':'))
        .map(|(f, _)| f.trim().to_string())
        .filter(|f| !f.contains(' '))
        .collect();
    assert!(!found.is_empty(), "no fields read from {name}");
    found
}

/// README's "Limits" table names every field of core's `Limits`, `TlsLimits` (`tls.`),
/// `ChainLimits` (`tls.chain.`) and `HttpLimits` (`http.`), each with a default and a
/// counter; the nested ones (`tls`, `http`, `tls.chain`) by their fields.
#[test]
fn readme_lists_every_bound() {
    let readme = std::fs::read_to_string(crate::common::root().join("README.md")).unwrap();
    let section = &readme[readme.find("\n## Limits\n").expect("a Limits section")..];
    let section = &section[..section[1..].find("\n## ").map_or(section.len(), |i| i + 1)];
    let mut listed = std::collections::BTreeMap::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        // Leading and trailing pipes leave an empty cell at each end.
        assert_eq!(cells.len(), 7, "{row}");
        let cells = &cells[1..6];
        let name = cells[0].trim_matches('`').to_string();
        assert!(!cells[2].trim().is_empty(), "no default: {row}");
        assert!(!cells[3].trim().is_empty(), "no counter: {row}");
        listed.insert(name, row);
    }
    let mut wanted: Vec<String> = Vec::new();
    for (file, name, prefix) in [
        ("config.rs", "Limits", ""),
        ("app/tls/mod.rs", "TlsLimits", "tls."),
        ("app/tls/certificate.rs", "ChainLimits", "tls.chain."),
        ("app/http/mod.rs", "HttpLimits", "http."),
    ] {
        wanted.extend(
            fields(file, name)
                .into_iter()
                .filter(|f| {
                    !matches!(
                        (prefix, f.as_str()),
                        ("", "tls" | "http") | ("tls.", "chain")
                    )
                })
                .map(|f| format!("{prefix}{f}")),
        );
    }
    let missing: Vec<&String> = wanted.iter().filter(|w| !listed.contains_key(*w)).collect();
    assert!(
        missing.is_empty(),
        "README's Limits table lacks {missing:?}"
    );
    let unknown: Vec<&String> = listed.keys().filter(|l| !wanted.contains(l)).collect();
    assert!(
        unknown.is_empty(),
        "README's Limits table lists what core does not have: {unknown:?}"
    );
}
