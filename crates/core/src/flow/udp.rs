//! UDP flows: counters per side (DNS transactions are tracked by the DNS decoder).

use crate::flow::sides::{IcmpInfo, SideStats};
use crate::time::Timestamp;
use crate::types::Side;
use crate::wire::IpInfo;
use std::net::SocketAddr;

/// Well-known ports only clients send from: a datagram from one of them is never an answer.
const UDP_CLIENT_PORTS: [u16; 2] = [
    68,  // DHCP client
    546, // DHCPv6 client
];

/// A port a UDP service answers from (Zeek's `likely_server_ports`, approximated): the
/// well-known range, less the ports only clients use.
fn is_service_port(p: u16) -> bool {
    p != 0 && p < 1024 && !UDP_CLIENT_PORTS.contains(&p)
}

/// What a UDP flow counts of one side: the part of `SideStats` a datagram fills. A flow is
/// made for every DNS exchange, and two whole `SideStats` made it 720 bytes, written when it
/// starts and read again when it ends; with these it is 272 and takes the allocator's small
/// path.
#[derive(Clone, Copy, Debug, Default)]
pub struct UdpSide {
    pub packets: u64,
    pub bytes: u64,
    /// Time and frame of the first datagram.
    first: Option<(Timestamp, u64)>,
    /// Time and frame of the last datagram.
    last: Option<(Timestamp, u64)>,
    /// Lowest and highest TTL / hop limit.
    ttl: Option<(u8, u8)>,
    ip_id_last: Option<u16>,
}

impl UdpSide {
    /// The side's counters as a connection record has them.
    pub fn stats(&self) -> SideStats {
        SideStats {
            packets: self.packets,
            bytes: self.bytes,
            ts_first: self.first.map(|(ts, _)| ts),
            first_data_frame: self.first.map(|(_, frame)| frame),
            ts_last: self.last.map(|(ts, _)| ts),
            last_data_frame: self.last.map(|(_, frame)| frame),
            last_data_ts: self.last.map(|(ts, _)| ts),
            ttl_min: self.ttl.map(|(lo, _)| lo),
            ttl_max: self.ttl.map(|(_, hi)| hi),
            ip_id_last: self.ip_id_last,
            ..SideStats::default()
        }
    }
}

/// A UDP flow; the client is whoever sent the first datagram, unless the port says otherwise.
#[derive(Debug)]
pub struct UdpFlow {
    pub id: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// The first datagram came from the server (Zeek's `^`): the port said so.
    pub flipped: bool,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    pub last_frame: u64,
    pub stats: [UdpSide; 2],
    pub icmp: Vec<IcmpInfo>,
    pub is_dns: bool,
}

impl UdpFlow {
    pub fn new(id: u64, src: SocketAddr, dst: SocketAddr, ts: Timestamp) -> Self {
        // A datagram from a service port (53, 67, ...) to any other port is a reply: its
        // destination is the client, as Zeek decides (DHCP 67 -> 68 included). Not when that
        // destination is the broadcast address, which never opens a flow (Zeek does the same).
        let broadcast = dst.ip() == std::net::IpAddr::V4(std::net::Ipv4Addr::BROADCAST);
        let flipped = is_service_port(src.port()) && !is_service_port(dst.port()) && !broadcast;
        let (client, server) = if flipped { (dst, src) } else { (src, dst) };
        UdpFlow {
            id,
            client,
            server,
            flipped,
            first_ts: ts,
            last_ts: ts,
            last_frame: 0,
            stats: Default::default(),
            icmp: Vec::new(),
            is_dns: client.port() == 53 || server.port() == 53,
        }
    }

    pub fn on_datagram(
        &mut self,
        src: SocketAddr,
        ip: &IpInfo,
        len: usize,
        frame: u64,
        ts: Timestamp,
    ) {
        let side = if src == self.client {
            Side::Client
        } else {
            Side::Server
        };
        self.last_ts = self.last_ts.max(ts);
        self.last_frame = frame;
        let Some(s) = self.stats.get_mut(side.index()) else {
            return;
        };
        s.packets += 1;
        s.bytes += len as u64;
        if s.first.is_none() {
            s.first = Some((ts, frame));
        }
        s.last = Some((ts, frame));
        s.ttl = Some(s.ttl.map_or((ip.ttl, ip.ttl), |(lo, hi)| {
            (lo.min(ip.ttl), hi.max(ip.ttl))
        }));
        if ip.ip_id.is_some() {
            s.ip_id_last = ip.ip_id;
        }
    }
}
