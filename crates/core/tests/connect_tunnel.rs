//! CONNECT tunnels whose first tunnelled bytes reached the HTTP decoder before the hand-over
//! to TLS: the server's in the segment that carried the 2xx, the client's sent before the
//! answer. Those bytes go to the TLS decoder first, and a record that runs past them must
//! still be skipped by length (not parsed as the next record header), on either side.

use etherparse::PacketBuilder;
use modsniff_core::{Config, Engine, Event, LinkType, Packet, Timestamp};

const CLIENT: [u8; 4] = [10, 0, 0, 2];
const PROXY: [u8; 4] = [10, 0, 0, 1];

/// One Ethernet/IPv4/TCP packet.
fn segment(from_client: bool, seq: u32, ack: u32, syn: bool, payload: &[u8]) -> Vec<u8> {
    let (src, dst, sp, dp) = if from_client {
        (CLIENT, PROXY, 40000, 3128)
    } else {
        (PROXY, CLIENT, 3128, 40000)
    };
    let mut b = PacketBuilder::ethernet2([2; 6], [4; 6])
        .ipv4(src, dst, 64)
        .tcp(sp, dp, seq, 65535);
    // The client's SYN carries no ACK.
    if !(syn && from_client) {
        b = b.ack(ack);
    }
    if syn {
        b = b.syn();
    }
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload).unwrap();
    out
}

/// Runs the engine over the packets (one second apart) and returns the connection record.
fn run(packets: &[Vec<u8>]) -> Box<modsniff_core::Connection> {
    let mut engine = Engine::new(Config::default());
    let mut events: Vec<Event> = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        engine.push(
            &Packet {
                ts: Timestamp::from_parts(1_700_000_000 + i as u64, 0, 1_000_000),
                frame: i as u64 + 1,
                orig_len: p.len() as u32,
                linktype: LinkType(1),
                data: p,
            },
            &mut events,
        );
    }
    engine.finish(&mut events);
    events
        .into_iter()
        .find_map(|e| match e {
            Event::Connection(c) => Some(c),
            _ => None,
        })
        .expect("one connection")
}

const CONNECT: &[u8] =
    b"CONNECT proxy.golang.org:443 HTTP/1.1\r\nHost: proxy.golang.org:443\r\n\r\n";

#[test]
fn client_bytes_sent_before_the_2xx_keep_their_record_framing() {
    // Sent right after the CONNECT, before the answer: a ChangeCipherSpec record, then an
    // application-data record of 50 bytes of which only 10 are in this segment.
    let mut early = vec![0x14, 0x03, 0x03, 0x00, 0x01, 0x01];
    early.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 50]);
    early.extend_from_slice(&[0xaa; 10]);
    let answer = b"HTTP/1.1 200 Connection established\r\n\r\n";
    // After the answer: the record's other 40 bytes, then a plaintext fatal alert.
    let mut rest = vec![0xbb; 40];
    rest.extend_from_slice(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);

    let (c0, s0) = (1000u32, 5000u32);
    let c1 = c0 + 1 + CONNECT.len() as u32;
    let c2 = c1 + early.len() as u32;
    let s1 = s0 + 1;
    let s2 = s1 + answer.len() as u32;
    let conn = run(&[
        segment(true, c0, 0, true, &[]),
        segment(false, s0, c0 + 1, true, &[]),
        segment(true, c0 + 1, s1, false, &[]),
        segment(true, c0 + 1, s1, false, CONNECT),
        segment(true, c1, s1, false, &early),
        segment(false, s1, c2, false, answer),
        segment(true, c2, s2, false, &rest),
    ]);
    assert_eq!(conn.http.len(), 1, "the CONNECT exchange");
    assert_eq!(conn.http[0].status, Some(200));
    let tls = conn
        .tls
        .as_ref()
        .expect("the tunnel went to the TLS decoder");
    assert!(tls.client.change_cipher_spec);
    let alert = tls
        .alerts
        .first()
        .expect("the alert after the skipped record");
    assert_eq!(alert.side, modsniff_core::Side::Client);
    assert_eq!(
        (alert.level, alert.description, alert.frame),
        (Some(2), Some(40), 7)
    );
    assert_eq!(tls.anomalies.bad_record_headers, 0, "{:?}", tls.anomalies);
    assert_eq!(tls.anomalies.resyncs, 0);
}

#[test]
fn tunnel_bytes_after_the_2xx_keep_their_record_framing() {
    let connect = b"CONNECT proxy.golang.org:443 HTTP/1.1\r\nHost: proxy.golang.org:443\r\n\r\n";
    // 200, then an application-data record of 100 bytes of which only 10 are in this segment.
    let mut answer = b"HTTP/1.1 200 Connection established\r\n\r\n".to_vec();
    answer.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 100]);
    answer.extend_from_slice(&[0xaa; 10]);
    // The record's other 90 bytes, then a plaintext fatal handshake_failure alert.
    let mut rest = vec![0xbb; 90];
    rest.extend_from_slice(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);

    let (c0, s0) = (1000u32, 5000u32);
    let c1 = c0 + 1 + connect.len() as u32;
    let s1 = s0 + 1;
    let s2 = s1 + answer.len() as u32;
    let packets = [
        segment(true, c0, 0, true, &[]),
        segment(false, s0, c0 + 1, true, &[]),
        segment(true, c0 + 1, s1, false, &[]),
        segment(true, c0 + 1, s1, false, connect),
        segment(false, s1, c1, false, &answer),
        segment(false, s2, c1, false, &rest),
    ];
    let mut engine = Engine::new(Config::default());
    let mut events: Vec<Event> = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        engine.push(
            &Packet {
                ts: Timestamp::from_parts(1_700_000_000 + i as u64, 0, 1_000_000),
                frame: i as u64 + 1,
                orig_len: p.len() as u32,
                linktype: LinkType(1),
                data: p,
            },
            &mut events,
        );
    }
    engine.finish(&mut events);
    let conn = events
        .iter()
        .find_map(|e| match e {
            Event::Connection(c) => Some(c),
            _ => None,
        })
        .expect("one connection");
    assert_eq!(conn.http.len(), 1, "the CONNECT exchange");
    assert_eq!(conn.http[0].status, Some(200));
    let tls = conn
        .tls
        .as_ref()
        .expect("the tunnel went to the TLS decoder");
    let alert = tls
        .alerts
        .first()
        .expect("the alert after the skipped record");
    assert_eq!((alert.level, alert.description), (Some(2), Some(40)));
    assert_eq!(alert.frame, 6);
    assert_eq!(tls.alerts.len(), 1);
    // Found by framing, not by the decoder's resynchronisation after a bogus header.
    assert_eq!(tls.anomalies.bad_record_headers, 0, "{:?}", tls.anomalies);
    assert_eq!(tls.anomalies.resyncs, 0);
}
