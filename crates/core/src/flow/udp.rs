//! UDP flows: counters per side (DNS transactions are tracked by the DNS decoder).

use crate::event::{Connection, EndReason, IcmpInfo, SideStats};
use crate::flow::{Side, Transport};
use crate::time::Timestamp;
use crate::wire::IpInfo;
use std::net::SocketAddr;

/// A UDP flow; the client is whoever sent the first datagram, unless the port says otherwise.
#[derive(Debug)]
pub struct UdpFlow {
    pub id: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    pub last_frame: u64,
    pub stats: [SideStats; 2],
    pub icmp: Vec<IcmpInfo>,
    pub is_dns: bool,
    pub scheduled: u64,
}

impl UdpFlow {
    pub fn new(id: u64, src: SocketAddr, dst: SocketAddr, ts: Timestamp) -> Self {
        // A datagram from port 53 (or another well-known port) to a high port is a reply:
        // its destination is the client.
        let (client, server) = if src.port() < 1024 && dst.port() >= 1024 {
            (dst, src)
        } else {
            (src, dst)
        };
        UdpFlow {
            id,
            client,
            server,
            first_ts: ts,
            last_ts: ts,
            last_frame: 0,
            stats: Default::default(),
            icmp: Vec::new(),
            is_dns: client.port() == 53 || server.port() == 53,
            scheduled: 0,
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

    pub fn finish(self, reason: EndReason, server_name: Option<String>) -> Connection {
        let [c, s] = self.stats;
        // Zeek's UDP states: SF when both sides spoke, S0 when only the client, SHR when only
        // the server, OTH otherwise.
        let state = match (c.packets > 0, s.packets > 0) {
            (true, true) => "SF",
            (true, false) => "S0",
            (false, true) => "SHR",
            (false, false) => "OTH",
        };
        let mut history = String::new();
        if c.packets > 0 {
            history.push('D');
        }
        if s.packets > 0 {
            history.push('d');
        }
        Connection {
            id: self.id,
            transport: Transport::Udp,
            client: self.client,
            server: self.server,
            server_name,
            state,
            history,
            ts_first: self.first_ts,
            ts_last: self.last_ts,
            duration: self.last_ts.since(self.first_ts),
            end_reason: reason,
            client_by: "first-packet",
            client_stats: c,
            server_stats: s,
            handshake_rtt: None,
            resets: Vec::new(),
            icmp: self.icmp,
            app: if self.is_dns {
                Some(crate::types::Protocol::Dns)
            } else {
                None
            },
            tls: None,
            http: Vec::new(),
            partial: if reason == EndReason::Evicted {
                vec!["evicted"]
            } else {
                Vec::new()
            },
            overlap_conflicts: 0,
        }
    }
}
