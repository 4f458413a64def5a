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
        n => v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
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
    let mut b = vec![3, 3];
    b.extend_from_slice(&[7; 32]);
    b.push(0);
    b.extend_from_slice(&[0, 2, 0x00, 0x2f, 1, 0]);
    let mut name = vec![0];
    name.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    name.extend_from_slice(sni.as_bytes());
    let mut list = (name.len() as u16).to_be_bytes().to_vec();
    list.extend_from_slice(&name);
    let mut ext = vec![0, 0];
    ext.extend_from_slice(&(list.len() as u16).to_be_bytes());
    ext.extend_from_slice(&list);
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
    let mut p = Pcap::new();
    let conns = 40u32;
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
