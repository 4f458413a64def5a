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
    pub stats: [SideStats; 2],
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
        if s.ts_first.is_none() {
            s.ts_first = Some(ts);
            s.first_data_frame = Some(frame);
        }
        s.ts_last = Some(ts);
        s.last_data_frame = Some(frame);
        s.last_data_ts = Some(ts);
        s.ttl_min = Some(s.ttl_min.map_or(ip.ttl, |t| t.min(ip.ttl)));
        s.ttl_max = Some(s.ttl_max.map_or(ip.ttl, |t| t.max(ip.ttl)));
        if ip.ip_id.is_some() {
            s.ip_id_last = ip.ip_id;
        }
    }
}
