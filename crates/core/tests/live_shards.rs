//! `LiveShard`s fed the way the kernel's PACKET_FANOUT hash feeds them (whole flows, both
//! directions, to one shard; an ICMP error to a shard that does not hold the flow it quotes)
//! and merged by `LiveMerge` give one engine's connection and DNS records (ids aside) and
//! counters, on every fixture; the ICMP errors reach their flow through the hand-over.
mod common;

use modsniff_core::hooks::wire::{self, L4};
use modsniff_core::{
    Config, Engine, Event, LiveMerge, LiveShard, Packet, Stamped, Stats, Timestamp,
};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// A record as compared: its connection id left out (the merge makes ids unique per shard,
/// not dense), and the chain-validation work counters (which of two connections with the
/// same chain validated it depends on the order shards ran, see tests/shards.rs).
fn shown(e: &Event) -> Option<String> {
    match e {
        Event::Connection(c) => {
            let mut c = c.clone();
            c.id = 0;
            if let Some(t) = c.tls.as_mut() {
                t.chain = Default::default();
            }
            Some(format!("{c:?}"))
        }
        Event::Dns(r) => {
            let mut r = r.clone();
            r.conn_id = 0;
            Some(format!("{r:?}"))
        }
        _ => None,
    }
}

/// The kernel's choice, modelled: a direction-independent hash of (addresses, ports); an
/// ICMP error goes to the shard after its quoted flow's (the kernel hashes the error's own
/// addresses, so it may land anywhere: here always elsewhere).
fn fanout(pkt: &Packet<'_>, count: usize) -> usize {
    let d = wire::decode(pkt.linktype, pkt.data);
    let Some(ip) = d.ip else {
        return 0;
    };
    let of = |a: SocketAddr, b: SocketAddr| {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (lo, hi).hash(&mut h);
        (h.finish() % count as u64) as usize
    };
    let sa = |ip: IpAddr, port: u16| SocketAddr::new(ip, port);
    match &d.l4 {
        L4::Tcp(s) => of(sa(ip.src, s.src_port), sa(ip.dst, s.dst_port)),
        L4::Udp(u) => of(sa(ip.src, u.src_port), sa(ip.dst, u.dst_port)),
        L4::IcmpError(e) => {
            let owner = of(
                sa(e.quoted_src, e.quoted_src_port),
                sa(e.quoted_dst, e.quoted_dst_port),
            );
            (owner + 1) % count
        }
        // Fragments (IPv4 ones arrive whole with PACKET_FANOUT_FLAG_DEFRAG) and the rest: by
        // address.
        _ => of(sa(ip.src, 0), sa(ip.dst, 0)),
    }
}

/// One engine's records and counters.
fn one(path: &Path, config: &Config) -> Option<(Vec<String>, Stats)> {
    let mut engine = Engine::new(config.clone());
    let mut events: Vec<Event> = Vec::new();
    if !common::for_each_packet(path, |p| engine.push(&p, &mut events)) {
        return None;
    }
    let stats = engine.finish(&mut events);
    let mut shown: Vec<String> = events.iter().filter_map(shown).collect();
    shown.sort();
    Some((shown, stats))
}

/// `count` live shards on one thread, as the capture threads drive them: each packet to its
/// shard, every shard told the time when the capture's clock starts a new second (the wall
/// clock of a live capture), their events merged as they come. Returns the records, the
/// counters and the ICMP errors handed over.
fn live(path: &Path, config: &Config, count: usize) -> (Vec<String>, Stats, u64) {
    let (mut merge, mut shards) = LiveMerge::new(config.clone(), count);
    let mut events: Vec<Event> = Vec::new();
    let mut out: Vec<Stamped> = Vec::new();
    let mut second = 0u64;
    common::for_each_packet(path, |p| {
        let s = fanout(&p, count);
        if let Some(sh) = shards.get_mut(s) {
            sh.push(&p, &mut out);
            let now = sh.now();
            merge.add(s, &mut out, now);
        }
        let sec = p.ts.as_nanos() / 1_000_000_000;
        if sec > second {
            second = sec;
            for (i, sh) in shards.iter_mut().enumerate() {
                if i != s {
                    sh.advance(Timestamp::from_nanos(sec * 1_000_000_000), &mut out);
                    merge.add(i, &mut out, sh.now());
                }
            }
        }
        merge.release(&mut events);
    });
    let handed: u64 = shards.iter().map(LiveShard::handed_off).sum();
    // Every shard has stopped reading; each ends in turn.
    for (i, sh) in shards.into_iter().enumerate() {
        let now = sh.now();
        let stats = sh.finish(&mut out);
        merge.add(i, &mut out, now);
        merge.end(i, stats);
    }
    let stats = merge.finish(&mut events);
    let mut shown: Vec<String> = events.iter().filter_map(shown).collect();
    shown.sort();
    (shown, stats, handed)
}

fn captures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let all = common::pcaps_under(&root);
    assert!(all.len() > 40, "the fixtures are there ({})", all.len());
    all
}

/// Counters one engine and the shards agree on (per-shard clocks sweep at other moments:
/// the timing of ends is not compared, their records are).
fn counted(s: &Stats) -> [u64; 8] {
    [
        s.packets,
        s.bytes,
        s.tcp_packets,
        s.udp_packets,
        s.connections,
        s.icmp_errors,
        s.dns_messages,
        s.anomalies
            .get("icmp_error_without_flow")
            .copied()
            .unwrap_or(0),
    ]
}

#[test]
fn live_shards_give_one_engines_records() {
    let config = Config::default();
    let mut handed = 0;
    let mut icmp = 0;
    for cap in captures() {
        let Some((want, want_stats)) = one(&cap, &config) else {
            continue;
        };
        for count in [2, 3] {
            let (got, stats, h) = live(&cap, &config, count);
            handed += h;
            icmp += stats.icmp_errors;
            if let Some(i) = (0..want.len().max(got.len())).find(|&i| want.get(i) != got.get(i)) {
                panic!(
                    "{}, {count} live shards: record {i} (sorted) differs\n  one engine: {:?}\n  shards:     {:?}",
                    cap.display(),
                    want.get(i),
                    got.get(i)
                );
            }
            assert_eq!(
                counted(&want_stats),
                counted(&stats),
                "{}, {count} live shards: counters",
                cap.display()
            );
            assert_eq!(
                stats.anomalies.get("icmp_handoff_full"),
                None,
                "{}",
                cap.display()
            );
        }
    }
    // The fixtures have connections refused by ICMP (v4 and v6): every such error went to a
    // shard that did not hold its flow, and the records above have it on their connection.
    assert!(icmp > 10 && handed > 10, "icmp {icmp}, handed {handed}");
}

/// A legacy pcap (Ethernet) of 20 UDP exchanges over IPv6 whose 3,000-byte answers come in
/// three fragments each: the kernel does not reassemble IPv6 fragments before hashing and
/// hashes them on the addresses alone, so they may reach a shard that does not hold the
/// flow (the fixtures have no fragments).
fn fragmented_v6_capture(path: &Path) {
    let ip6 = |src: [u8; 16], dst: [u8; 16], next: u8, payload: &[u8]| {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        p.extend_from_slice(&[next, 64]);
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(payload);
        p
    };
    let eth = |p: Vec<u8>| {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd];
        f.extend(p);
        f
    };
    let udp = |sp: u16, dp: u16, data: &[u8]| {
        let mut u = Vec::new();
        u.extend_from_slice(&sp.to_be_bytes());
        u.extend_from_slice(&dp.to_be_bytes());
        u.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(data);
        u
    };
    let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
    a[0] = 0xfd;
    a[15] = 1;
    b[0] = 0xfd;
    b[15] = 2;
    let mut file = Vec::new();
    for w in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65_535, 1] {
        file.extend_from_slice(&w.to_le_bytes());
    }
    let mut put = |secs: u32, usecs: u32, frame: Vec<u8>| {
        for w in [secs, usecs, frame.len() as u32, frame.len() as u32] {
            file.extend_from_slice(&w.to_le_bytes());
        }
        file.extend(frame);
    };
    for i in 0..20u16 {
        let t = 1_800_000_000 + u32::from(i);
        let sport = 40_000 + i;
        put(t, 0, eth(ip6(a, b, 17, &udp(sport, 5353, &[0; 12]))));
        let data: Vec<u8> = (0..3000u32).map(|j| (j * 7 + u32::from(i)) as u8).collect();
        let whole = udp(5353, sport, &data);
        let pieces: Vec<&[u8]> = whole.chunks(1448).collect();
        for (n, piece) in pieces.iter().enumerate() {
            let more = u16::from(n + 1 < pieces.len());
            let mut fh = vec![17, 0];
            fh.extend_from_slice(&((n as u16 * 1448) | more).to_be_bytes());
            fh.extend_from_slice(&(700 + u32::from(i)).to_be_bytes());
            fh.extend_from_slice(piece);
            put(t, 1000 * (n as u32 + 1), eth(ip6(b, a, 44, &fh)));
        }
    }
    std::fs::write(path, file).unwrap();
}

#[test]
fn live_shards_hand_ipv6_datagrams_to_their_flow() {
    let path = std::env::temp_dir().join(format!("live-shards-frag6-{}.pcap", std::process::id()));
    fragmented_v6_capture(&path);
    let config = Config::default();
    let (want, want_stats) = one(&path, &config).unwrap();
    assert_eq!(want_stats.ip_reassembled, 20);
    assert_eq!(want_stats.udp_flows, 20);
    for count in [2, 3] {
        let (got, stats, handed) = live(&path, &config, count);
        assert_eq!(got, want, "{count} live shards: records");
        assert_eq!(counted(&stats), counted(&want_stats), "{count} shards");
        assert_eq!(stats.udp_flows, 20);
        assert!(handed > 0, "{count} shards: no datagram was handed over");
    }
    std::fs::remove_file(&path).ok();
}
