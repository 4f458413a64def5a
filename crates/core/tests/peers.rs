//! Connections as Zeek's conn.log sees them, on captures from Zeek's own test suite and
//! pcap-parser's, each checked against the peer's published answer (the Zeek btest baseline
//! named in each test) and against the packets (tshark). The captures are in
//! tests/data/peers; see its README.md.

mod common;

use modsniff_core::{Config, Connection, Event, Transport};
use std::path::Path;

fn connections(name: &str) -> Vec<Connection> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/peers")
        .join(name);
    let (events, _) = common::run_pcap(&path, Config::default());
    events
        .into_iter()
        .filter_map(|e| match e {
            Event::Connection(c) => Some(*c),
            _ => None,
        })
        .collect()
}

fn only_tcp(name: &str) -> Connection {
    let mut conns: Vec<_> = connections(name)
        .into_iter()
        .filter(|c| c.transport == Transport::Tcp)
        .collect();
    assert_eq!(conns.len(), 1, "{name}: one TCP connection");
    conns.remove(0)
}

/// The server's FIN (frame 6) comes 2,902 bytes after the last of its payload the capture
/// holds (tshark: "previous segment not captured"), and the client acknowledges the FIN.
/// Those bytes are missed, and the gap is written `g` (Zeek, core.tcp.miss-end-data:
/// `SF`, `ShADafgF`, missed_bytes 2902).
#[test]
fn bytes_missed_before_a_fin_are_counted_and_written_as_a_gap() {
    let c = only_tcp("miss_end_data.pcap");
    assert_eq!(c.state, "SF");
    assert_eq!(c.history, "ShADafgF");
    assert_eq!(c.server_stats.missed_bytes, 2902);
    assert_eq!(c.client_stats.missed_bytes, 0);
    assert_eq!(c.server_stats.lost_segments, 1);
}

/// Both sides send FIN (server frame 27, client frame 31), then the server resets (frames
/// 32, 33): the connection closed normally and the RST is a late abort. Zeek keeps `SF`
/// (ssl.log/conn.log baselines of pop3-starttls: `SF`, `ShAadDfFr`).
#[test]
fn a_reset_after_both_fins_leaves_the_connection_closed_normally() {
    let c = only_tcp("pop3-starttls.pcap");
    assert_eq!(c.state, "SF");
    assert_eq!(c.history, "ShAadDfFr");
}

/// The capture begins with the server's SYN-ACK, then the client's ACK: the server is the
/// responder all the same, and the history starts with `^` because the first packet seen
/// was not the originator's (Zeek, core.conn-size-flip: `^hAfdtFr`). The ACK of the SYN-ACK
/// establishes the connection although the SYN was never seen, so the two FINs close it
/// normally.
#[test]
fn a_capture_starting_at_the_syn_ack_is_flipped_and_established() {
    let c = only_tcp("ctu-64702-888.pcap");
    assert_eq!(c.client.to_string(), "192.168.1.108:64702");
    assert_eq!(c.server.to_string(), "185.33.86.224:888");
    assert_eq!(c.history, "^hAfdtFr");
    assert_eq!(c.state, "SF");
}

/// The SYN-ACK (frame 1) is captured before the SYN (frame 2): the first packet is the
/// responder's, so the history carries `^` (Zeek raises connection_flipped on this capture,
/// core.connection_flipped) and the client is still the one that sent the SYN. Zeek writes
/// the letters seen before its flip in the orientation it had then (`Hs^ADadFf`); here
/// every letter is written from the final orientation, `^` first. Kept on purpose, the
/// packets decide: tshark shows frame 1, the SYN-ACK, from 192.150.187.43:80 (the
/// responder: `h`) and frame 2, the SYN, from 141.142.228.5:59856 (the originator: `S`);
/// Zeek's `H` and `s` give each of those packets to the other end.
#[test]
fn a_syn_ack_captured_before_its_syn_flips_the_history() {
    let c = only_tcp("handshake-reorder.pcap");
    assert_eq!(c.client.to_string(), "141.142.228.5:59856");
    assert_eq!(c.server.to_string(), "192.150.187.43:80");
    assert_eq!(c.server_stats.syn_frames, vec![1]);
    assert_eq!(c.client_stats.syn_frames, vec![2]);
    assert!(c.history.starts_with('^'), "{}", c.history);
    assert_eq!(c.history, "^hSADadFf");
    assert_eq!(c.state, "SF");
}

/// tshark marks two retransmissions: the server's at frame 9 (`t`) and the client's at
/// frame 11, which resends bytes beyond where an earlier segment without payload had put the
/// client's stream (`T`). Zeek writes both (http.connect-with-smtp conn.log: `SF`,
/// `ShADadtTfF`).
#[test]
fn a_retransmission_after_a_lost_segment_is_marked() {
    let c = only_tcp("connect-with-smtp.pcap");
    assert_eq!(c.state, "SF");
    assert_eq!(c.history, "ShADadtTfF");
    assert_eq!(c.client_stats.retransmissions, 1);
}

/// A DHCP server (192.168.0.1:67) answering 192.168.0.10:68, whose requests went to the
/// broadcast address (another flow): the port says who serves, as in Zeek
/// (likely_server_ports), so the server is the sender and the history is `^d`.
#[test]
fn one_way_udp_from_a_service_port_takes_the_port_side_as_server() {
    let conns = connections("dhcp-67-to-68.pcap");
    let dhcp: Vec<_> = conns
        .iter()
        .filter(|c| c.transport == Transport::Udp && c.server.to_string() == "192.168.0.1:67")
        .collect();
    assert_eq!(dhcp.len(), 1, "{conns:?}");
    let c = dhcp[0];
    assert_eq!(c.client.to_string(), "192.168.0.10:68");
    assert_eq!(c.server.to_string(), "192.168.0.1:67");
    assert_eq!(c.client_by, "port");
    assert_eq!(c.history, "^d");
    assert_eq!(c.client_stats.packets, 0);
    assert_eq!(c.server_stats.packets, 2);
}

fn dns_records(name: &str) -> Vec<modsniff_core::DnsRecord> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/peers")
        .join(name);
    let (events, _) = common::run_pcap(&path, Config::default());
    events
        .into_iter()
        .filter_map(|e| match e {
            Event::Dns(d) => Some(*d),
            _ => None,
        })
        .collect()
}

/// A NULL (type 10) answer of 9 bytes, `5641434b4403c5e901` (tshark): named, and its bytes
/// given as Suricata gives them (suricata-verify dns-udp-null: rrtype "NULL", rdata
/// `VACKD\u0003\xc5\xe9\u0001`), the control bytes escaped too.
#[test]
fn dns_null_is_named_with_its_bytes() {
    let recs = dns_records("dns-null.pcap");
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r.qtype.as_deref(), Some("NULL"));
    assert_eq!(r.rcode.as_deref(), Some("NOERROR"));
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.answers[0].rtype.to_string(), "NULL");
    assert_eq!(
        r.answers[0].data.as_deref(),
        Some("VACKD\\x03\\xc5\\xe9\\x01")
    );
}

/// SSHFP (type 44) answers: named, with algorithm, fingerprint type and fingerprint
/// (suricata-verify dns-sshfp: rrtype SSHFP, algo 1, fingerprint
/// 19:8c:34:a9:2f:c0:b2:ab:1d:a5:2b:68:8c:2f:19:1d:2d:96:0c:09).
#[test]
fn dns_sshfp_is_named_with_its_fingerprint() {
    let recs = dns_records("dns-sshfp.pcap");
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r.qtype.as_deref(), Some("SSHFP"));
    let first = &r.answers[0];
    assert_eq!(first.name, "anoncvs.netbsd.org");
    assert_eq!(first.rtype.to_string(), "SSHFP");
    let suricata = "19:8c:34:a9:2f:c0:b2:ab:1d:a5:2b:68:8c:2f:19:1d:2d:96:0c:09".replace(':', "");
    assert_eq!(
        first.data.as_deref(),
        Some(format!("1 1 {suricata}").as_str())
    );
}

/// A client speaking HTTP/2 with prior knowledge over cleartext (suricata-verify
/// http2-continuation; tshark: frame 5 `Magic`, then HTTP2 frames both ways): the connection
/// preface is one transaction `PRI *` of version HTTP/2.0, not the two HTTP/1 requests
/// `PRI *` and `SM` it looks like to an HTTP/1 parser, and no HTTP/2 frame is misread as
/// HTTP/1 after it.
#[test]
fn the_http2_preface_is_said_as_http2() {
    let c = only_tcp("http2-prior-knowledge.pcap");
    let txs = &c.http;
    assert_eq!(txs.len(), 1, "{txs:?}");
    assert_eq!(txs[0].method.as_deref(), Some("PRI"));
    assert_eq!(txs[0].uri.as_deref(), Some("*"));
    assert_eq!(txs[0].version, Some("HTTP/2.0"));
    assert_eq!(txs[0].request_frame, Some(5));
    assert_eq!(txs[0].status, None);
}

/// An early TLS 1.3 draft (suricata-verify tls13-draft14: Suricata says "TLS 1.3
/// draft-<16"): the ServerHello carries 0x0304 in its version field and has the drafts'
/// layout without session id (tshark, reading it as TLS 1.2, finds a session id of 192
/// bytes). It is read, not counted malformed.
#[test]
fn an_early_tls13_draft_server_hello_is_read() {
    let conns = connections("tls13-draft14.pcap");
    let tls: Vec<_> = conns.iter().filter_map(|c| c.tls.as_ref()).collect();
    assert_eq!(tls.len(), 1);
    let sh = tls[0].server_hello.as_ref().expect("server hello");
    assert_eq!(sh.version.0, 0x0304);
    assert_eq!(sh.cipher.0, 0xc02b);
    assert_eq!(tls[0].anomalies.malformed_messages, 0);
}

/// A client that speaks plain HTTP/1 through a CONNECT tunnel (suricata-verify
/// http-connect-simple and http-connect-fragmented: `CONNECT abc:443` answered 200 at frame
/// 7, then `GET /` answered `HTTP/1.1 200 OK` through the tunnel; in the second capture the
/// GET comes in two segments, `GE` at frame 9 and the rest at frame 11). Suricata logs both
/// transactions, CONNECT 200 and GET 200; the tunnel is decoded as HTTP, not handed to TLS
/// as a stream that is not TLS.
#[test]
fn plain_http_inside_a_connect_tunnel_is_decoded_as_http() {
    for (name, get_frame, answer_frame) in [
        ("http-connect-simple.pcap", 9, 11),
        ("http-connect-fragmented.pcap", 9, 13),
    ] {
        let c = only_tcp(name);
        let txs = &c.http;
        assert_eq!(txs.len(), 2, "{name}: {txs:?}");
        assert_eq!(txs[0].method.as_deref(), Some("CONNECT"), "{name}");
        assert_eq!(txs[0].uri.as_deref(), Some("abc:443"), "{name}");
        assert_eq!(txs[0].status, Some(200), "{name}");
        assert_eq!(txs[0].response_frame, Some(7), "{name}");
        assert_eq!(txs[1].method.as_deref(), Some("GET"), "{name}");
        assert_eq!(txs[1].uri.as_deref(), Some("/"), "{name}");
        assert_eq!(txs[1].version, Some("HTTP/1.1"), "{name}");
        assert_eq!(txs[1].request_frame, Some(get_frame), "{name}");
        assert_eq!(txs[1].status, Some(200), "{name}");
        assert_eq!(txs[1].response_frame, Some(answer_frame), "{name}");
        assert!(c.tls.is_none(), "{name}: the tunnel is not TLS");
        assert_eq!(c.app, Some(modsniff_core::Protocol::Http), "{name}");
    }
}
/// Zeek's conn_state-RST-behavior test: a lone RST (`R`, OTH), a SYN then a RST (`SR`,
/// RSTOS0), with the responder's ACK between (`SaR`, RSTOS0), and with the originator's FIN
/// before the RST (`SaFR`, OTH: RSTOS0 is a SYN followed by a RST and nothing else from the
/// originator). tshark shows the same packets (frames 1-4, no SYN-ACK in any).
#[test]
fn resets_before_a_syn_ack_as_zeek_states_them() {
    for (name, history, state) in [
        ("single-rst.pcap", "R", "OTH"),
        ("syn-then-rst.pcap", "SR", "RSTOS0"),
        ("syn-then-ack-then-rst.pcap", "SaR", "RSTOS0"),
        ("syn-then-stuff-then-rst.pcap", "SaFR", "OTH"),
    ] {
        let c = only_tcp(name);
        assert_eq!((c.history.as_str(), c.state), (history, state), "{name}");
    }
}

/// One Ethernet/IPv4/TCP packet between 10.0.0.2:40000 and 10.0.0.1:443.
fn built(
    from_client: bool,
    seq: u32,
    ack: Option<u32>,
    syn: bool,
    fin: bool,
    rst: bool,
) -> Vec<u8> {
    let (src, dst, sp, dp) = if from_client {
        ([10, 0, 0, 2], [10, 0, 0, 1], 40000, 443)
    } else {
        ([10, 0, 0, 1], [10, 0, 0, 2], 443, 40000)
    };
    let mut b = etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
        .ipv4(src, dst, 64)
        .tcp(sp, dp, seq, 65535);
    if let Some(a) = ack {
        b = b.ack(a);
    }
    if syn {
        b = b.syn();
    }
    if fin {
        b = b.fin();
    }
    if rst {
        b = b.rst();
    }
    let mut out = Vec::with_capacity(b.size(0));
    b.write(&mut out, &[]).unwrap();
    out
}

fn run_built(packets: &[Vec<u8>]) -> Vec<Connection> {
    let mut engine = modsniff_core::Engine::new(Config::default());
    let mut events = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        engine.push(
            &modsniff_core::Packet {
                ts: modsniff_core::Timestamp::from_parts(1_700_000_000 + i as u64, 0, 1_000_000),
                frame: i as u64 + 1,
                orig_len: p.len() as u32,
                linktype: modsniff_core::LinkType(1),
                data: p,
            },
            &mut events,
        );
    }
    engine.finish(&mut events);
    events
        .into_iter()
        .filter_map(|e| match e {
            Event::Connection(c) => Some(*c),
            _ => None,
        })
        .collect()
}

/// A SYN, then a segment with both RST and FIN before any SYN-ACK (packets built here: no
/// peer's capture has one). Zeek writes one letter for such a packet, `I` (inconsistent),
/// and neither F nor R; its state machine takes the FIN, then the RST, so the sender ends
/// reset. From the originator that is OTH (not RSTOS0: its pattern wants an `R` after the
/// `S`); from the responder, a rejected SYN (REJ).
#[test]
fn rst_with_fin_before_the_syn_ack() {
    let c = run_built(&[
        built(true, 1000, None, true, false, false),
        built(true, 1001, Some(0), false, true, true),
    ]);
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].history.as_str(), c[0].state), ("SI", "OTH"));
    assert_eq!(c[0].resets.len(), 1);

    let c = run_built(&[
        built(true, 1000, None, true, false, false),
        built(false, 0, Some(1001), false, true, true),
    ]);
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].history.as_str(), c[0].state), ("Si", "REJ"));
    assert_eq!(c[0].resets.len(), 1);
}

/// Three queries over one TCP connection, the second lost (suricata-verify dns-tcp-ts-gap:
/// tshark shows queries at frames 4 and 10, ids 0 and 2, and answers at frames 6, 8 and 11
/// for ids 0, 1 and 2; frame 8 "ACKed segment that wasn't captured", frame 9 "previous
/// segment(s) not captured"). Suricata logs 2 requests and 3 answers of 12 records each:
/// after the lost segment the client's side finds its framing again at the next query.
#[test]
fn dns_over_tcp_resyncs_after_a_lost_segment() {
    let mut recs = dns_records("dns-tcp-ts-gap.pcap");
    recs.sort_by_key(|r| r.id);
    let seen: Vec<_> = recs
        .iter()
        .map(|r| (r.id, r.query_frame, r.response_frame, r.answers.len()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (0, Some(4), Some(6), 12),
            (1, None, Some(8), 12),
            (2, Some(10), Some(11), 12),
        ]
    );
    assert!(
        recs.iter()
            .all(|r| r.qname.as_deref() == Some("www.google.com"))
    );
}

/// Runs the engine over a capture's packets in the order `order` gives (indexes into the
/// capture), frames keeping their numbers in the capture.
fn connections_in_order(
    name: &str,
    order: impl Fn(usize) -> Vec<usize>,
) -> (Vec<Connection>, modsniff_core::Stats) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/peers")
        .join(name);
    let mut packets = Vec::new();
    assert!(common::for_each_packet(&path, |p| {
        packets.push((p.ts, p.frame, p.orig_len, p.linktype, p.data.to_vec()))
    }));
    let mut engine = modsniff_core::Engine::new(Config::default());
    let mut events = Vec::new();
    for i in order(packets.len()) {
        let (ts, frame, orig_len, linktype, data) = &packets[i];
        engine.push(
            &modsniff_core::Packet {
                ts: *ts,
                frame: *frame,
                orig_len: *orig_len,
                linktype: *linktype,
                data,
            },
            &mut events,
        );
    }
    let stats = engine.finish(&mut events);
    let conns = events
        .into_iter()
        .filter_map(|e| match e {
            Event::Connection(c) => Some(*c),
            _ => None,
        })
        .collect();
    (conns, stats)
}

/// A TLS 1.3 HelloRetryRequest (Zeek's hrr.pcap, ssl.log baseline: one connection, TLS
/// 1.3): ClientHello at frame 4, the server's HelloRetryRequest and ChangeCipherSpec at
/// frame 6, then the client's ChangeCipherSpec and second ClientHello in one segment (frame
/// 8; tshark: records 20 and 22, handshake type 1). The second hello is recorded as the
/// retry. Without frame 6, as in a capture that missed the server's segment, the second
/// hello still follows the client's ChangeCipherSpec: it is the retry all the same, and its
/// record is plaintext, not the client's first encrypted one.
#[test]
fn a_second_client_hello_after_change_cipher_spec_is_the_retry() {
    for drop_hrr in [false, true] {
        let (conns, _) = connections_in_order("hrr.pcap", |n| {
            (0..n).filter(|&i| !(drop_hrr && i == 5)).collect()
        });
        let tls: Vec<_> = conns.iter().filter_map(|c| c.tls.as_ref()).collect();
        assert_eq!(tls.len(), 1);
        let t = tls[0];
        assert_eq!(t.hello_retry_request.is_some(), !drop_hrr);
        let first = t.client_hello.as_ref().expect("first hello");
        assert_eq!((first.first_frame, first.last_frame), (4, 4));
        let retry = t.client_hello_retry.as_ref().expect("second hello");
        assert_eq!(
            (retry.first_frame, retry.last_frame),
            (8, 8),
            "drop_hrr {drop_hrr}"
        );
        assert_eq!(retry.sni, first.sni);
        assert_eq!(t.extra_client_hellos, 0);
        assert_eq!(t.anomalies.malformed_messages, 0);
        assert_eq!(t.client.change_cipher_spec_frame, Some(8));
        assert!(
            t.client.first_encrypted.is_none_or(|r| r.frame > 8),
            "drop_hrr {drop_hrr}: {:?}",
            t.client.first_encrypted
        );
    }
}

/// curl asking for HTTP/2 over cleartext by `Upgrade: h2c` (suricata-verify http2-upgrade,
/// whose capture is the Wireshark wiki's HTTP2 sample): `GET /robots.txt` at frame 1,
/// `101 Switching Protocols` at frame 2 (tshark: an HTTP2 SETTINGS frame follows in the
/// same segment), then the client's preface `PRI * HTTP/2.0` (frame 3) and HTTP/2 frames
/// both ways. Suricata logs the GET with status 101, then HTTP/2 streams, which are not
/// decoded here: HTTP/1 ends at the 101 on both sides, nothing misread. The same with the
/// 101 arriving after the client's preface and first HTTP/2 frames (frames 3-5), as when its
/// segment was resent: the preface reaches the decoder while the GET still waits for its
/// answer, and is the switch the GET offered, not HTTP/2 with prior knowledge.
#[test]
fn an_h2c_upgrade_ends_http1_at_the_101() {
    let as_captured = |n: usize| (0..n).collect::<Vec<_>>();
    let late_101 = |n: usize| [0, 2, 3, 4, 1].into_iter().chain(5..n).collect::<Vec<_>>();
    for (late, (conns, stats)) in [
        (false, connections_in_order("h2c-upgrade.pcap", as_captured)),
        (true, connections_in_order("h2c-upgrade.pcap", late_101)),
    ] {
        assert_eq!(conns.len(), 1);
        let txs = &conns[0].http;
        assert_eq!(txs.len(), 1, "late 101 {late}: {txs:?}");
        assert_eq!(txs[0].method.as_deref(), Some("GET"));
        assert_eq!(txs[0].uri.as_deref(), Some("/robots.txt"));
        assert_eq!(txs[0].request_frame, Some(1));
        assert_eq!(txs[0].status, Some(101), "late 101 {late}");
        assert_eq!(txs[0].response_frame, Some(2));
        assert_eq!(txs[0].body_complete, Some(true));
        assert_eq!(
            stats.http,
            modsniff_core::HttpStats::default(),
            "late 101 {late}"
        );
        assert!(
            stats.anomalies.is_empty(),
            "late 101 {late}: {:?}",
            stats.anomalies
        );
    }
}

/// One Ethernet/IPv4/TCP segment with ACK and payload between 10.0.0.2:40000 (client) and
/// 10.0.0.1:443.
fn built_data(from_client: bool, seq: u32, ack: u32, payload: &[u8]) -> Vec<u8> {
    let (src, dst, sp, dp) = if from_client {
        ([10, 0, 0, 2], [10, 0, 0, 1], 40000, 443)
    } else {
        ([10, 0, 0, 1], [10, 0, 0, 2], 443, 40000)
    };
    let b = etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
        .ipv4(src, dst, 64)
        .tcp(sp, dp, seq, 65535)
        .ack(ack)
        .psh();
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload).unwrap();
    out
}

/// A TLS record holding a ClientHello with the lists of JA4.md's example (FoxIO's
/// specification: Chrome, 15 ciphers and 16 extensions besides GREASE, 8 signature
/// algorithms), SNI `example.com` and `alpn` as the ALPN protocol list.
fn chrome_like_client_hello(alpn: &[&[u8]]) -> Vec<u8> {
    fn ext(out: &mut Vec<u8>, ty: u16, data: &[u8]) {
        out.extend_from_slice(&ty.to_be_bytes());
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(data);
    }
    fn u16s(vals: &[u16]) -> Vec<u8> {
        let mut v = ((vals.len() * 2) as u16).to_be_bytes().to_vec();
        vals.iter()
            .for_each(|x| v.extend_from_slice(&x.to_be_bytes()));
        v
    }
    let ciphers = [
        0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
        0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
    ];
    let mut alpn_list = Vec::new();
    for p in alpn {
        alpn_list.push(p.len() as u8);
        alpn_list.extend_from_slice(p);
    }
    let mut alpn_data = (alpn_list.len() as u16).to_be_bytes().to_vec();
    alpn_data.extend_from_slice(&alpn_list);
    let mut sni = Vec::new();
    sni.extend_from_slice(&14u16.to_be_bytes());
    sni.push(0);
    sni.extend_from_slice(&11u16.to_be_bytes());
    sni.extend_from_slice(b"example.com");
    let mut key_share = 36u16.to_be_bytes().to_vec();
    key_share.extend_from_slice(&0x001du16.to_be_bytes());
    key_share.extend_from_slice(&32u16.to_be_bytes());
    key_share.extend_from_slice(&[7; 32]);
    let mut exts = Vec::new();
    ext(&mut exts, 0x3a3a, &[]);
    ext(&mut exts, 0x001b, &[2, 0, 2]);
    ext(&mut exts, 0x0000, &sni);
    ext(&mut exts, 0x0033, &key_share);
    ext(&mut exts, 0x0010, &alpn_data);
    ext(&mut exts, 0x4469, &[0, 3, 2, b'h', b'2']);
    ext(&mut exts, 0x0017, &[]);
    ext(&mut exts, 0x002d, &[1, 1]);
    ext(
        &mut exts,
        0x000d,
        &u16s(&[
            0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
        ]),
    );
    ext(&mut exts, 0x0005, &[1, 0, 0, 0, 0]);
    ext(&mut exts, 0x0023, &[]);
    ext(&mut exts, 0x0012, &[]);
    ext(&mut exts, 0x002b, &[6, 0x2a, 0x2a, 3, 4, 3, 3]);
    ext(&mut exts, 0xff01, &[0]);
    ext(&mut exts, 0x000b, &[1, 0]);
    ext(&mut exts, 0x000a, &u16s(&[0x0a0a, 0x001d, 0x0017, 0x0018]));
    ext(&mut exts, 0x0015, &[0; 16]);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[9; 32]);
    body.push(0);
    body.extend_from_slice(&u16s(&ciphers));
    body.extend_from_slice(&[1, 0]);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    let mut hs = vec![1];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut record = vec![0x16, 3, 1];
    record.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    record.extend_from_slice(&hs);
    record
}

/// The JA4 of a handshake and ClientHello built here with `alpn` offered.
fn ja4_with_alpn(alpn: &[&[u8]]) -> (String, String) {
    let conns = run_built(&[
        built(true, 1000, None, true, false, false),
        built(false, 5000, Some(1001), true, false, false),
        built(true, 1001, Some(5001), false, false, false),
        built_data(true, 1001, 5001, &chrome_like_client_hello(alpn)),
    ]);
    assert_eq!(conns.len(), 1);
    let tls = conns[0].tls.as_ref().expect("TLS");
    let ch = tls.client_hello.as_ref().expect("ClientHello");
    (ch.ja4.to_string(), ch.ja4_r.to_string())
}

/// FoxIO's JA4.md, "ALPN Extension Value": "If the first or last byte of the first ALPN is
/// not an ASCII alphanumeric character (meaning not `0x30-0x39`, `0x41-0x5A`, or
/// `0x61-0x7A`), then we print the first and last characters of the hex representation of
/// the first ALPN instead", e.g. "`0xAB 0xCD` would be printed as "ad"". The hello is
/// built here with JA4.md's example lists, so with ALPN `h2` first the whole fingerprint
/// is the specification's example, `t13d1516h2_8daaf6152771_e5627efa2ab1`. FoxIO's own
/// capture of a non-ASCII first value (tls-non-ascii-alpn.pcapng in their repository, the
/// same Chrome lists) offers `0xba 0xad` then `http/1.1`: the specification makes that `bd`
/// (hex `baad`, first and last digit). Their Rust, Python and Wireshark tools, and the
/// expected outputs published with them, still print `t13d151699_…` for it, the rule
/// before the specification changed (a non-ASCII character became `9`); the b and c
/// sections agree with theirs. Before, the value went through lossy UTF-8 here: the two
/// bytes became U+FFFD, whose first byte 0xEF and last 0xBD gave `ed`.
#[test]
fn ja4_alpn_that_is_not_alphanumeric_uses_the_hex_of_its_bytes() {
    assert_eq!(
        ja4_with_alpn(&[b"h2", b"http/1.1"]).0,
        "t13d1516h2_8daaf6152771_e5627efa2ab1"
    );
    let (ja4, ja4_r) = ja4_with_alpn(&[&[0xba, 0xad], b"http/1.1"]);
    assert_eq!(ja4, "t13d1516bd_8daaf6152771_e5627efa2ab1");
    assert!(ja4_r.starts_with("t13d1516bd_002f,0035,"), "{ja4_r}");
    for (alpn, a) in [
        (&[0xab, 0xcd][..], "ad"),
        (&[0x30, 0xab], "3b"),
        (&[0x61, 0x20], "60"),
        (&[0x30, 0xab, 0xcd, 0x31], "01"),
        (b"--", "2d"),
        (b"h", "hh"),
    ] {
        let (ja4, _) = ja4_with_alpn(&[alpn]);
        assert_eq!(&ja4[8..10], a, "{alpn:02x?}: {ja4}");
    }
}

/// A TLS 1.0 ClientHello without signature_algorithms (suricata-verify bug-5713-01's
/// capture, frame 4; tshark: extensions 5, 10, 11, 35, 23, 65281). FoxIO's JA4.md: "If
/// there are no signature algorithms in the hello packet, then the string ends without an
/// underscore and is hashed." So the c section hashes
/// `0005,000a,000b,0017,0023,ff01`: `c39ab67fec8e`. Suricata, whose expected EVE for this
/// capture (bug-5713-02-ja4) is `t10i070600_c50f5591e341_ce66f3b797c1`, always writes the
/// underscore: `ce66f3b797c1` is the hash of the same list followed by `_`. modsniff
/// follows the specification; only the c section differs.
#[test]
fn ja4_without_signature_algorithms_has_no_trailing_underscore() {
    use sha2::Digest as _;
    let c = only_tcp("TLSv1-Extracted-MaliciousC2.pcap");
    let ch = c.tls.as_ref().unwrap().client_hello.as_ref().unwrap();
    assert_eq!(ch.first_frame, 4);
    assert!(ch.signature_algorithms.is_empty());
    let list = "0005,000a,000b,0017,0023,ff01";
    assert_eq!(
        &*ch.ja4_r,
        format!("t10i070600_000a,002f,0035,c009,c00a,c013,c014_{list}")
    );
    let hash12 = |s: &str| {
        sha2::Sha256::digest(s.as_bytes())
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert_eq!(
        &*ch.ja4,
        format!("t10i070600_c50f5591e341_{}", hash12(list))
    );
    let suricata = "t10i070600_c50f5591e341_ce66f3b797c1";
    assert_ne!(&*ch.ja4, suricata);
    assert_eq!(hash12(&format!("{list}_")), "ce66f3b797c1");
    assert_eq!(ch.ja4[..23], suricata[..23]);
}

/// A client-only SSH connection (Zeek's ssh.client-side-half-duplex trace, the packets of
/// 192.168.1.79:51880 only): one SYN, then 24 segments whose sequence numbers follow each
/// other (tshark: no gap, no retransmission), the FIN at relative sequence 2670. Zeek logs
/// two connections (ssh half-duplex-client conn.log: `SAD` S0 with 19 packets, then `DAF`
/// SH with 6): its attempt timer (tcp_attempt_delay, 5 s after the SYN) removes a
/// connection whose responder has sent nothing, and frame 20 comes 5.13 s after the SYN
/// (after a 1.7 s pause), so Zeek starts a new connection without SYN there. Nothing in the
/// packets starts a new connection: no SYN, no reused sequence space. One connection here,
/// as tshark's single TCP stream.
#[test]
fn a_client_only_connection_is_not_split_by_a_pause() {
    let conns = connections("ssh-half-duplex-51880.pcap");
    assert_eq!(conns.len(), 1, "{conns:?}");
    let c = &conns[0];
    assert_eq!(c.client.to_string(), "192.168.1.79:51880");
    assert_eq!(c.server.to_string(), "131.159.21.1:22");
    assert_eq!(c.client_stats.packets, 25);
    assert_eq!(c.server_stats.packets, 0);
    // Zeek's orig_bytes: 2493 + 176.
    assert_eq!(c.client_stats.bytes, 2669);
    assert_eq!(c.client_stats.syn_frames, vec![1]);
    assert_eq!(c.client_stats.fin_frame, Some(24));
    assert_eq!(c.client_stats.retransmissions, 0);
    assert_eq!(c.client_stats.missed_bytes, 0);
    assert_eq!((c.history.as_str(), c.state), ("SADF", "SH"));
}

/// Zeek writes a content gap (`G`/`g`) only when the peer's ACK passes bytes the capture
/// never showed (TCP_Reassembler::AckReceived -> TrimToSeq -> Undelivered -> Gap, one per
/// hole, the letter at the 1st, 10th, 100th... while both ends are established or cleanly
/// closing); at the connection's end, holes no ACK passed are dropped without a gap
/// (TCP_Reassembler::Done only matches undelivered data). Packets built here: the client
/// sends bytes 1-100 and 201-300 (101-200 never captured), the server acknowledges 101, and
/// then, in the second case, 301.
#[test]
fn a_gap_is_written_only_when_an_ack_passes_it() {
    let payload = [b'x'; 100];
    let handshake = || {
        vec![
            built(true, 1000, None, true, false, false),
            built(false, 5000, Some(1001), true, false, false),
            built(true, 1001, Some(5001), false, false, false),
            built_data(true, 1001, 5001, &payload),
            built_data(true, 1201, 5001, &payload),
            built(false, 5001, Some(1101), false, false, false),
        ]
    };
    // No ACK beyond the hole: the bytes are counted missed (they were sent: bytes after them
    // came), but Zeek writes no gap.
    let c = run_built(&handshake());
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].history.as_str(), c[0].state), ("ShADa", "S1"));
    assert_eq!(c[0].client_stats.missed_bytes, 100);
    // The server acknowledges 301: the hole is proven, `G`.
    let mut packets = handshake();
    packets.push(built(false, 5001, Some(1301), false, false, false));
    let c = run_built(&packets);
    assert_eq!((c[0].history.as_str(), c[0].state), ("ShADaG", "S1"));
    assert_eq!(c[0].client_stats.missed_bytes, 100);
}

/// Zeek's update_history (TCPSessionAdapter.cc) writes `D` only for a packet with payload
/// and none of SYN, FIN and RST: a SYN carrying data writes `S`, a RST carrying data `R`.
/// Zeek's tcp-fast-open trace: the second connection's SYN carries 86 bytes (tshark frame
/// 8, TCP Fast Open) and the client sends no other payload, so its history has no `D`
/// (`ShAdfFa`, not `SDhAdfFa`). suricata-verify bug-6244: the client's only payload is the
/// 13 bytes of its RST (frame 8): `ShAdR`.
#[test]
fn payload_on_a_syn_or_rst_is_not_written_as_data() {
    let conns = connections("tcp-fast-open.pcap");
    let tfo = conns
        .iter()
        .find(|c| c.client.port() == 55534)
        .expect("55534");
    assert_eq!(tfo.client_stats.first_data_frame, Some(8));
    assert_eq!((tfo.history.as_str(), tfo.state), ("ShAdfFa", "SF"));
    let plain = conns
        .iter()
        .find(|c| c.client.port() == 55533)
        .expect("55533");
    assert_eq!(plain.history, "ShDadfF");

    let c = only_tcp("tcp-rst-with-data.pcap");
    assert_eq!(c.client_stats.first_data_frame, Some(8));
    assert_eq!((c.history.as_str(), c.state), ("ShAdR", "RSTO"));
}

/// The first bytes of a stream are held until the content probe can tell the protocol: one
/// byte `0x16` (TLS or not yet known), or `G` (GET or not yet known). Sent alone in frame 4
/// and followed by the rest in frame 5, the ClientHello and the request still begin at frame
/// 4, where tshark's reassembled message starts (its first segment).
#[test]
fn bytes_held_by_the_probe_keep_the_frame_of_their_first_byte() {
    let hello = chrome_like_client_hello(&[b"h2"]);
    let request = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
    for (stream, split) in [(&hello[..], 1), (&request[..], 1), (&request[..], 2)] {
        let (head, tail) = stream.split_at(split);
        let conns = run_built(&[
            built(true, 1000, None, true, false, false),
            built(false, 5000, Some(1001), true, false, false),
            built(true, 1001, Some(5001), false, false, false),
            built_data(true, 1001, 5001, head),
            built_data(true, 1001 + split as u32, 5001, tail),
        ]);
        assert_eq!(conns.len(), 1);
        let c = &conns[0];
        if let Some(tls) = c.tls.as_ref() {
            let ch = tls.client_hello.as_ref().expect("ClientHello");
            assert_eq!((ch.first_frame, ch.last_frame), (4, 5));
        } else {
            assert_eq!(c.http.len(), 1, "split {split}");
            assert_eq!(c.http[0].request_frame, Some(4), "split {split}");
        }
    }
}
