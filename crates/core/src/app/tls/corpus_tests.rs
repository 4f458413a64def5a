//! The decoder over the whole public corpus (/work/shared/pcaps), compared with the tshark
//! reference JSON. Skipped, with a message, when the corpus is absent.
//!
//! A deliberately small TCP reassembler lives here (in-order delivery, retransmitted bytes
//! dropped, out-of-order segments held until they fit, a gap when they never do): the real
//! one is the engine's, and this test must not depend on it.

use super::*;
use crate::time::Timestamp;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};

const CORPUS: &str = "/work/shared/pcaps";

struct Pkt {
    frame: u64,
    ts: Timestamp,
    src: SocketAddr,
    dst: SocketAddr,
    syn: bool,
    ack: bool,
    seq: u32,
    payload: Vec<u8>,
}

fn read_packets(path: &str) -> Vec<Pkt> {
    use pcap_parser::{PcapBlockOwned, PcapError};
    let Ok(file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let Ok(mut reader) = pcap_parser::create_reader(1 << 20, file) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut frame = 0u64;
    let mut linktypes: Vec<i32> = Vec::new();
    let mut legacy_lt = 1;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                let (lt, ts, data): (i32, Timestamp, Option<&[u8]>) = match &block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy_lt = h.network.0;
                        (0, Timestamp::ZERO, None)
                    }
                    PcapBlockOwned::Legacy(b) => {
                        frame += 1;
                        let ts = Timestamp::from_parts(
                            u64::from(b.ts_sec),
                            u64::from(b.ts_usec),
                            1_000_000,
                        );
                        (legacy_lt, ts, Some(b.data))
                    }
                    PcapBlockOwned::NG(pcap_parser::Block::InterfaceDescription(idb)) => {
                        linktypes.push(idb.linktype.0);
                        (0, Timestamp::ZERO, None)
                    }
                    PcapBlockOwned::NG(pcap_parser::Block::EnhancedPacket(epb)) => {
                        frame += 1;
                        let t = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                        let lt = linktypes.get(epb.if_id as usize).copied().unwrap_or(1);
                        let cap = (epb.caplen as usize).min(epb.data.len());
                        (
                            lt,
                            Timestamp::from_parts(t / 1_000_000, t % 1_000_000, 1_000_000),
                            epb.data.get(..cap),
                        )
                    }
                    PcapBlockOwned::NG(pcap_parser::Block::SimplePacket(spb)) => {
                        frame += 1;
                        (
                            linktypes.first().copied().unwrap_or(1),
                            Timestamp::ZERO,
                            Some(spb.data),
                        )
                    }
                    _ => (0, Timestamp::ZERO, None),
                };
                if let Some(p) = data.and_then(|d| decode(frame, ts, lt, d)) {
                    out.push(p);
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    out
}

fn decode(frame: u64, ts: Timestamp, linktype: i32, data: &[u8]) -> Option<Pkt> {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    let sliced = match linktype {
        1 => SlicedPacket::from_ethernet(data),
        113 => SlicedPacket::from_linux_sll(data),
        0 | 108 => SlicedPacket::from_ip(data.get(4..)?),
        12 | 14 | 101 | 228 | 229 => SlicedPacket::from_ip(data),
        276 => SlicedPacket::from_ip(data.get(20..)?), // Linux SLL2: 20-byte header

        _ => return None,
    }
    .ok()?;
    let (src, dst): (IpAddr, IpAddr) = match sliced.net? {
        NetSlice::Ipv4(ip) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        NetSlice::Ipv6(ip) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        _ => return None,
    };
    let TransportSlice::Tcp(tcp) = sliced.transport? else {
        return None;
    };
    Some(Pkt {
        frame,
        ts,
        src: SocketAddr::new(src, tcp.source_port()),
        dst: SocketAddr::new(dst, tcp.destination_port()),
        syn: tcp.syn(),
        ack: tcp.ack(),
        seq: tcp.sequence_number(),
        payload: tcp.payload().to_vec(),
    })
}

#[derive(Default)]
struct Dir {
    next: Option<u32>,
    held: BTreeMap<u32, (u64, Timestamp, Vec<u8>)>,
    skip: u64,
    done: bool,
}

struct Conn {
    client: SocketAddr,
    /// TLS starts (per side) at the first segment that opens with a record header: the
    /// engine hands over after CONNECT or STARTTLS; this harness just waits for it.
    started: [bool; 2],
    dec: TlsDecoder,
    dirs: [Dir; 2],
    dead: bool,
}

impl Conn {
    fn deliver(&mut self, side: Side, frame: u64, ts: Timestamp, mut data: &[u8]) {
        let d = &mut self.dirs[side_index(side)];
        if self.dead || d.done {
            return;
        }
        if !self.started[side_index(side)] {
            let tls = matches!(data, [0x16 | 0x15, 3, ..] | [0x80..=0xff, _, 1, 3, ..]);
            if !tls {
                return;
            }
            self.started[side_index(side)] = true;
        }
        let n = d.skip.min(data.len() as u64) as usize;
        d.skip -= n as u64;
        data = &data[n..];
        if data.is_empty() {
            return;
        }
        let ctx = StreamCtx {
            side,
            ts,
            frame,
            offset: 0,
        };
        match self.dec.on_data(&ctx, data) {
            Progress::Skip(k) => d.skip += k,
            Progress::Done => d.done = true,
            Progress::Violation(_) => self.dead = true,
            _ => {}
        }
    }

    fn segment(&mut self, side: Side, p: &Pkt) {
        let i = side_index(side);
        if p.syn {
            self.dirs[i].next = Some(p.seq.wrapping_add(1));
            return;
        }
        if p.payload.is_empty() {
            return;
        }
        let next = *self.dirs[i].next.get_or_insert(p.seq);
        let off = p.seq.wrapping_sub(next) as i32;
        if off > 0 {
            self.dirs[i]
                .held
                .insert(p.seq, (p.frame, p.ts, p.payload.clone()));
            return;
        }
        let skip = (-off) as usize;
        if skip >= p.payload.len() {
            return; // retransmission
        }
        let fresh = &p.payload[skip..];
        self.dirs[i].next = Some(next.wrapping_add(fresh.len() as u32));
        self.deliver(side, p.frame, p.ts, fresh);
        // Anything held that now fits.
        while let Some(next) = self.dirs[i].next {
            let Some((&seq, _)) = self.dirs[i]
                .held
                .iter()
                .find(|(s, _)| s.wrapping_sub(next) as i32 <= 0)
            else {
                break;
            };
            let (frame, ts, data) = self.dirs[i].held.remove(&seq).unwrap();
            let skip = next.wrapping_sub(seq) as usize;
            if skip < data.len() {
                self.dirs[i].next = Some(next.wrapping_add((data.len() - skip) as u32));
                self.deliver(side, frame, ts, &data[skip..]);
            }
        }
    }

    fn finish(&mut self) {
        for side in [Side::Client, Side::Server] {
            let i = side_index(side);
            // Held segments that never fit: a gap, then them.
            let held = std::mem::take(&mut self.dirs[i].held);
            for (seq, (frame, ts, data)) in held {
                let Some(next) = self.dirs[i].next else { break };
                let gap = seq.wrapping_sub(next) as i32;
                if gap <= 0 {
                    continue;
                }
                if !self.dead && !self.dirs[i].done {
                    let ctx = StreamCtx {
                        side,
                        ts,
                        frame,
                        offset: 0,
                    };
                    match self.dec.on_gap(&ctx, gap as u64) {
                        Progress::Done => self.dirs[i].done = true,
                        Progress::Violation(_) => self.dead = true,
                        _ => {}
                    }
                    self.dirs[i].skip = 0;
                }
                self.dirs[i].next = Some(seq.wrapping_add(data.len() as u32));
                self.deliver(side, frame, ts, &data);
            }
            let ctx = StreamCtx {
                side,
                ts: Timestamp::ZERO,
                frame: 0,
                offset: 0,
            };
            self.dec.on_end(&ctx);
        }
    }
}

/// All TCP connections of a capture, decoded as TLS, keyed by (client, server).
fn run_capture(path: &str) -> HashMap<(SocketAddr, SocketAddr), TlsInfo> {
    run_capture_with(path, None)
}

/// [`run_capture`] with every decoder made from `shared` (as the engine does: one trust
/// store and fingerprint cache for all connections), or from a fresh configuration each
/// (no cache ever hit) when `None`.
fn run_capture_with(
    path: &str,
    shared: Option<&TlsConfig>,
) -> HashMap<(SocketAddr, SocketAddr), TlsInfo> {
    let mut conns: HashMap<(SocketAddr, SocketAddr), Conn> = HashMap::new();
    for p in read_packets(path) {
        let key = if p.src < p.dst {
            (p.src, p.dst)
        } else {
            (p.dst, p.src)
        };
        let conn = conns.entry(key).or_insert_with(|| {
            // Client: the SYN sender; without a SYN, the higher port.
            let client = if p.syn && !p.ack {
                p.src
            } else if p.syn {
                p.dst
            } else if p.src.port() > p.dst.port() {
                p.src
            } else {
                p.dst
            };
            Conn {
                client,
                dec: match shared {
                    Some(config) => TlsDecoder::new(config),
                    None => TlsDecoder::new(&TlsConfig::default()),
                },
                dirs: Default::default(),
                started: [false; 2],
                dead: false,
            }
        });
        let side = if p.src == conn.client {
            Side::Client
        } else {
            Side::Server
        };
        conn.segment(side, &p);
    }
    conns
        .into_iter()
        .map(|((a, b), mut c)| {
            c.finish();
            let server = if a == c.client { b } else { a };
            ((c.client, server), c.dec.into_info())
        })
        .collect()
}

fn corpus_files() -> Option<Vec<String>> {
    let manifest = std::fs::read_to_string(format!("{CORPUS}/MANIFEST.tsv")).ok()?;
    Some(
        manifest
            .lines()
            .skip(1)
            .filter_map(|l| l.split('\t').next())
            .map(str::to_string)
            .collect(),
    )
}

fn sa(ip: &serde_json::Value, port: &serde_json::Value) -> Option<SocketAddr> {
    Some(SocketAddr::new(
        ip.as_str()?.parse().ok()?,
        u16::try_from(port.as_u64()?).ok()?,
    ))
}

/// Every capture runs without a panic; every ClientHello / ServerHello / certificate tshark
/// saw, we see with the same fields.
#[test]
fn corpus_matches_tshark_reference() {
    let Some(files) = corpus_files() else {
        eprintln!("SKIP: {CORPUS} not present");
        return;
    };
    let mut checked = [0usize; 3];
    let mut mismatches = Vec::new();
    for f in files {
        let path = format!("{CORPUS}/{f}");
        let infos = run_capture(&path);
        let Ok(text) = std::fs::read_to_string(format!(
            "{CORPUS}/reference/{}.json",
            f.trim_start_matches("public/")
        )) else {
            continue;
        };
        let Ok(r) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let get = |c: SocketAddr, s: SocketAddr| infos.get(&(c, s));
        let mut nth_ch: HashMap<(SocketAddr, SocketAddr), usize> = HashMap::new();
        for ch in r["tls_client_hellos"].as_array().into_iter().flatten() {
            let (Some(client), Some(server)) =
                (sa(&ch["src"], &ch["sport"]), sa(&ch["dst"], &ch["dport"]))
            else {
                continue;
            };
            let Some(info) = get(client, server) else {
                mismatches.push(format!("{f}: no connection for client {client}"));
                continue;
            };
            // tshark reports the frame completing the record, we the one completing the
            // message: ours can be earlier, never later. Second hello = after HRR.
            let frame = ch["frame"].as_u64().unwrap_or(0);
            let ours = if nth_ch.get(&(client, server)).copied().unwrap_or(0) == 0 {
                info.client_hello.as_ref()
            } else {
                info.client_hello_retry.as_deref()
            };
            *nth_ch.entry((client, server)).or_insert(0) += 1;
            let Some(c) = ours.filter(|c| c.last_frame <= frame) else {
                if info.extra_client_hellos == 0 {
                    mismatches.push(format!("{f}: client hello at frame {frame} not found"));
                }
                continue;
            };
            checked[0] += 1;
            let exts: Vec<u64> = c.extensions.iter().map(|e| u64::from(e.0)).collect();
            let ref_exts: Vec<u64> = ch["extensions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_u64())
                .collect();
            let ref_alpn: Vec<&str> = ch["alpn"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str())
                .collect();
            let ref_versions: Vec<String> = ch["supported_versions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            let versions: Vec<String> = c
                .versions
                .iter()
                .map(|v| format!("0x{:04x}", v.0))
                .collect();
            if c.sni.as_deref() != ch["sni"].as_str()
                || exts != ref_exts
                || c.alpn != ref_alpn
                || versions != ref_versions
                || c.cipher_suites.len() as u64 != ch["cipher_suites_count"].as_u64().unwrap_or(0)
                || format!("0x{:04x}", c.legacy_version.0)
                    != ch["handshake_version"].as_str().unwrap_or("")
            {
                mismatches.push(format!(
                    "{f}: client hello frame {frame} differs: {c:?} vs {ch}"
                ));
            }
        }
        for sh in r["tls_server_hellos"].as_array().into_iter().flatten() {
            let (Some(client), Some(server)) =
                (sa(&sh["dst"], &sh["dport"]), sa(&sh["src"], &sh["sport"]))
            else {
                continue;
            };
            let Some(info) = get(client, server) else {
                mismatches.push(format!("{f}: no connection for server hello to {client}"));
                continue;
            };
            let frame = sh["frame"].as_u64().unwrap_or(0);
            let ours = if sh["hello_retry_request"].as_bool().unwrap_or(false) {
                info.hello_retry_request.as_ref()
            } else {
                info.server_hello.as_ref()
            };
            let Some(s) = ours.filter(|s| s.last_frame <= frame) else {
                mismatches.push(format!("{f}: server hello at frame {frame} not found"));
                continue;
            };
            checked[1] += 1;
            if format!("0x{:04x}", s.version.0) != sh["selected_version"].as_str().unwrap_or("")
                || format!("0x{:04x}", s.cipher.0) != sh["cipher"].as_str().unwrap_or("")
                || s.hello_retry_request != sh["hello_retry_request"].as_bool().unwrap_or(false)
            {
                mismatches.push(format!(
                    "{f}: server hello frame {frame} differs: {s:?} vs {sh}"
                ));
            }
        }
        for rc in r["tls_certificates"].as_array().into_iter().flatten() {
            let (Some(from), Some(to)) =
                (sa(&rc["src"], &rc["sport"]), sa(&rc["dst"], &rc["dport"]))
            else {
                continue;
            };
            let (info, client_side) = match (get(to, from), get(from, to)) {
                (Some(i), _) => (i, false),
                (None, Some(i)) => (i, true),
                _ => {
                    mismatches.push(format!("{f}: no connection for certificate {from}->{to}"));
                    continue;
                }
            };
            let list = if client_side {
                &info.client_certificates
            } else {
                &info.certificates
            };
            let idx = rc["index"].as_u64().unwrap_or(0) as usize;
            let Some(c) = list.get(idx) else {
                mismatches.push(format!("{f}: certificate {idx} from {from} missing"));
                continue;
            };
            checked[2] += 1;
            let san: Vec<&str> = rc["san_dns"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str())
                .collect();
            // tshark shows a DN with a NUL byte as garbage ("CN=83886080"); ours keeps it.
            let nul_quirk = f.contains("tls-issuer-zero");
            if c.subject != rc["subject"].as_str().unwrap_or("")
                || (!nul_quirk && c.issuer != rc["issuer"].as_str().unwrap_or(""))
                || c.serial != rc["serial"].as_str().unwrap_or("")
                || c.san != san
                || c.self_issued != rc["self_issued"].as_bool().unwrap_or(false)
            {
                mismatches.push(format!("{f}: certificate {idx} differs: {c:?} vs {rc}"));
            }
        }
    }
    eprintln!(
        "checked {} client hellos, {} server hellos, {} certificates",
        checked[0], checked[1], checked[2]
    );
    for m in &mismatches {
        eprintln!("MISMATCH {m}");
    }
    assert!(checked[0] > 30 && checked[2] > 20, "{checked:?}");
    assert!(mismatches.is_empty(), "{} mismatches", mismatches.len());
}

/// zeek's tls-fragmented-handshake.pcap: a 340 KB certificate over 21 records, which
/// tshark 4.0 does not reassemble. We must find it.
#[test]
fn fragmented_certificate_message_is_found() {
    let path = format!("{CORPUS}/public/zeek/tls/tls-fragmented-handshake.pcap");
    if !std::path::Path::new(&path).exists() {
        eprintln!("SKIP: {path} not present");
        return;
    }
    let infos = run_capture(&path);
    let info = infos
        .values()
        .find(|i| i.server_hello.is_some())
        .expect("connection");
    assert_eq!(info.certificates.len(), 1, "{:?}", info.anomalies);
    let c = &info.certificates[0];
    assert!(c.der_len > 300_000);
    assert!(c.parse_error.is_none(), "{:?}", c.parse_error);
    eprintln!(
        "fragmented: {} / {} frame {:?}",
        c.subject, c.issuer, info.certificate_frame
    );
    assert_eq!(info.certificate_frame, Some(410));
    #[cfg(feature = "x509")]
    assert!(info.validation.is_some());
}

/// JA3 / JA3S equal tshark's for every hello in the corpus (tests/data/tls/ja3-tshark.tsv).
#[test]
fn corpus_ja3_matches_tshark() {
    if corpus_files().is_none() {
        eprintln!("SKIP: {CORPUS} not present");
        return;
    }
    let table = include_str!("../../../tests/data/tls/ja3-tshark.tsv");
    let mut cache: HashMap<&str, HashMap<(SocketAddr, SocketAddr), TlsInfo>> = HashMap::new();
    let mut bad = Vec::new();
    let mut checked = 0;
    for line in table.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let [file, frame, ip, port, kind, full, hash] = f[..] else {
            continue;
        };
        let frame: u64 = frame.parse().unwrap();
        if full.is_empty() {
            continue; // SSLv2-format hello (ssl.v3.pcap): tshark computes no JA3 either.
        }
        if file.contains("tls-duplicate-hello") && frame == 9 {
            // A second ClientHello on the same connection: we keep the first and count the
            // rest (`extra_client_hellos`), so there is nothing of ours to compare.
            continue;
        }
        let src = SocketAddr::new(ip.parse().unwrap(), port.parse().unwrap());
        let infos = cache
            .entry(file)
            .or_insert_with(|| run_capture(&format!("{CORPUS}/{file}")));
        // Ours: the hello from `src` completed last at or before tshark's frame.
        let found: Option<(u64, String, String)> = infos
            .iter()
            .flat_map(|(&(client, server), i)| {
                let mut v: Vec<(u64, String, String)> = Vec::new();
                if kind == "ch" && client == src {
                    for c in i.client_hello.iter().chain(i.client_hello_retry.as_deref()) {
                        v.push((c.last_frame, c.ja3_string.to_string(), c.ja3.to_string()));
                    }
                }
                if kind == "sh" && server == src {
                    for s in i.hello_retry_request.iter().chain(i.server_hello.iter()) {
                        v.push((s.last_frame, s.ja3s_string.to_string(), s.ja3s.to_string()));
                    }
                }
                v
            })
            .filter(|(fr, _, _)| *fr <= frame)
            .max_by_key(|(fr, _, _)| *fr);
        match found {
            Some((_, s, h)) if s == full && h == hash => checked += 1,
            other => bad.push(format!(
                "{file} frame {frame} {kind}: tshark {full} {hash}, ours {other:?}"
            )),
        }
    }
    eprintln!("ja3/ja3s checked: {checked}");
    for b in &bad {
        eprintln!("JA3 MISMATCH {b}");
    }
    assert!(checked >= 109, "{checked}");
    assert!(bad.is_empty(), "{} mismatches", bad.len());
}

/// The whole corpus through one shared configuration (every connection after the first of
/// a kind served from the fingerprint and validation caches) gives, connection by
/// connection, exactly what decoders with nothing cached give.
#[test]
fn corpus_cached_equals_uncached() {
    let Some(files) = corpus_files() else {
        eprintln!("SKIP: {CORPUS} not present");
        return;
    };
    let shared = TlsConfig::default();
    let mut compared = 0;
    for f in &files {
        let path = format!("{CORPUS}/{f}");
        let fresh = run_capture_with(&path, None);
        let cached = run_capture_with(&path, Some(&shared));
        assert_eq!(fresh.len(), cached.len(), "{f}");
        for (k, info) in &fresh {
            let other = cached.get(k).unwrap_or_else(|| panic!("{f} {k:?}"));
            // What the validation cost differs by design: a cache hit did none of the work.
            let (mut info, mut other) = (info.clone(), other.clone());
            info.chain = ChainStats::default();
            other.chain = ChainStats::default();
            assert_eq!(format!("{info:?}"), format!("{other:?}"), "{f} {k:?}");
            compared += usize::from(info.client_hello.is_some());
        }
    }
    let fp = shared.fingerprints.stats();
    eprintln!("hellos compared {compared}; fingerprints {fp:?}");
    assert!(compared >= 50, "{compared}");
    assert!(fp.hits >= 30, "{fp:?}");
    #[cfg(feature = "x509")]
    {
        let val = shared.trust().validation_cache_stats();
        eprintln!("validations {val:?}");
        assert!(val.hits >= 5 && val.misses >= 20, "{val:?}");
    }
}
