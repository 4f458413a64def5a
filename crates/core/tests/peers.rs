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
