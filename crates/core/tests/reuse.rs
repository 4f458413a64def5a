//! Ports reused without a SYN: a connection reset, then new data on the same ports after a
//! pause, is a second connection (Zeek starts a new one, and so does tshark's stream index);
//! an old segment resent after the reset stays with the first.

use etherparse::PacketBuilder;
use modsniff_core::{Config, Engine, Event, LinkType, Packet, Timestamp};

const CLIENT: [u8; 4] = [10, 0, 0, 2];
const SERVER: [u8; 4] = [10, 0, 0, 1];

#[derive(Clone, Copy)]
enum F {
    Syn,
    SynAck,
    Ack,
    Rst,
}

/// One Ethernet/IPv4/TCP packet.
fn segment(from_client: bool, flags: F, seq: u32, ack: u32, payload: &[u8]) -> Vec<u8> {
    let (src, dst, sp, dp) = if from_client {
        (CLIENT, SERVER, 40000, 8080)
    } else {
        (SERVER, CLIENT, 8080, 40000)
    };
    let b = PacketBuilder::ethernet2([2; 6], [4; 6])
        .ipv4(src, dst, 64)
        .tcp(sp, dp, seq, 65535);
    let b = match flags {
        F::Syn => b.syn(),
        F::SynAck => b.syn().ack(ack),
        F::Ack => b.ack(ack),
        F::Rst => b.rst(),
    };
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload).unwrap();
    out
}

/// Runs the engine over `(seconds, packet)` and returns the connection records.
fn run(packets: &[(u64, Vec<u8>)]) -> Vec<modsniff_core::Connection> {
    let mut engine = Engine::new(Config::default());
    let mut events: Vec<Event> = Vec::new();
    for (i, (t, p)) in packets.iter().enumerate() {
        engine.push(
            &Packet {
                ts: Timestamp::from_parts(1_700_000_000 + t, 0, 1_000_000),
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
        .filter_map(|e| match e {
            Event::Connection(c) => Some(*c),
            _ => None,
        })
        .collect()
}

/// Handshake, one request of 10 bytes and its acknowledgement, then the client's reset.
fn first_connection() -> Vec<(u64, Vec<u8>)> {
    vec![
        (0, segment(true, F::Syn, 1000, 0, b"")),
        (0, segment(false, F::SynAck, 7000, 1001, b"")),
        (0, segment(true, F::Ack, 1001, 7001, b"")),
        (1, segment(true, F::Ack, 1001, 7001, b"GET / HTTP")),
        (1, segment(false, F::Ack, 7001, 1011, b"")),
        (2, segment(true, F::Rst, 1011, 0, b"")),
    ]
}

#[test]
fn new_data_after_a_reset_and_a_pause_is_a_second_connection() {
    let mut p = first_connection();
    // 15 s later, the same ports: the client sends bytes it never sent before, far beyond
    // where its stream had reached, and the server answers.
    p.push((17, segment(true, F::Ack, 50_000, 90_000, b"0123456789")));
    p.push((17, segment(false, F::Ack, 90_000, 50_010, b"abcdef")));
    let conns = run(&p);
    assert_eq!(conns.len(), 2, "{conns:#?}");
    assert_eq!(conns[0].state, "RSTO");
    assert_eq!(conns[0].client_stats.packets, 4);
    assert_eq!(conns[1].client_stats.packets, 1);
    assert_eq!(conns[1].server_stats.packets, 1);
    assert!(!conns[1].history.contains('R'), "{}", conns[1].history);
}

#[test]
fn old_bytes_resent_after_a_reset_stay_with_the_first_connection() {
    let mut p = first_connection();
    // 15 s later the request's bytes come again: a late retransmission, not new data.
    p.push((17, segment(true, F::Ack, 1001, 7001, b"GET / HTTP")));
    let conns = run(&p);
    assert_eq!(conns.len(), 1, "{conns:#?}");
    assert_eq!(conns[0].state, "RSTO");
}
