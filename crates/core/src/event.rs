//! What the engine tells its caller: the library's public output.
//!
//! Records are serde-serializable with the field names of the JSON contract in
//! ARCHITECTURE.md (the `modsniff` binary adds the `type` tag and its Go classification).

use crate::app::dns::DnsRecord;
use crate::app::http::HttpTransaction;
use crate::app::tls::TlsInfo;
use crate::time::{Duration, Timestamp};
use crate::types::{Side, Transport};
use serde::Serialize;
use std::net::SocketAddr;

/// A frame that shows something, cited by findings (`packet` is Wireshark's frame number).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evidence {
    pub packet: u64,
    pub ts: Timestamp,
    pub note: String,
}

/// One event from the engine.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// A TCP connection or UDP flow ended (closed, timed out, evicted, or the input ended).
    Connection(Box<Connection>),
    /// A DNS query was answered, or timed out unanswered.
    Dns(Box<DnsRecord>),
    /// A connection has been silent for `idle` while it was still open (for live callers:
    /// emitted once per silence by `Engine::advance`, before the connection ends).
    Stall(Box<Stall>),
}

/// Why a connection record was emitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Both sides closed (FIN/RST) and the linger time passed.
    Closed,
    /// No packet for the idle timeout.
    Idle,
    /// Pushed out by the flow cap (`limits.max_flows`).
    Evicted,
    /// The input ended with the connection still open.
    EndOfInput,
}

/// A TCP RST as seen in the capture, with what tells a forged one from a real one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResetInfo {
    pub packet: u64,
    pub ts: Timestamp,
    /// The side whose address the RST came from (a middlebox may forge either).
    pub from: Side,
    pub ttl: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_id: Option<u16>,
    pub seq: u32,
    pub ack: u32,
    /// Payload bytes the sending side had sent before this RST.
    pub after_bytes: u64,
    /// The other side had sent payload that this side had not acknowledged when the RST came.
    pub with_unacked_data: bool,
}

/// An ICMP error that quotes a packet of this flow.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IcmpInfo {
    pub packet: u64,
    pub ts: Timestamp,
    /// Who sent the ICMP error.
    pub from: std::net::IpAddr,
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    pub ttl: u8,
}

/// Per-side counters and observations.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SideStats {
    pub packets: u64,
    /// TCP/UDP payload bytes on the wire (including bytes the capture cut or missed).
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts_first: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts_last: Option<Timestamp>,
    /// Lowest and highest TTL / hop limit of this side's packets (RSTs excluded: a forged RST
    /// is judged against the rest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_min: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_max: Option<u8>,
    /// IPv4 ID of the last non-RST packet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_id_last: Option<u16>,
    /// Frames of the SYNs (client) or SYN-ACKs (server), the first few.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub syn_frames: Vec<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_data_frame: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_data_frame: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_data_ts: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fin_frame: Option<u64>,
    /// This side's last ACK did not cover all the data the other side sent: some of it never
    /// arrived (a path that drops big segments). Not part of the JSON contract.
    #[serde(skip)]
    pub peer_data_unacked: bool,
    /// Time of `fin_frame` (for evidence; not part of the JSON contract).
    #[serde(skip)]
    pub fin_ts: Option<Timestamp>,
    /// Frame and time of this side's last data sent while the peer was still open (no FIN or
    /// RST from it yet): what a server sends after the client gave up (a TLS close_notify, an
    /// HTTP/2 GOAWAY) is an answer to the close, not content. Not part of the JSON contract.
    #[serde(skip)]
    pub last_data_while_peer_open: Option<(u64, Timestamp)>,
    /// Wireshark's tcp.analysis.retransmission (fast and spurious included).
    pub retransmissions: u64,
    /// A segment that fills a hole below the highest sequence seen (tcp.analysis.out_of_order).
    pub out_of_order: u64,
    /// Holes: a segment started beyond the highest sequence seen (tcp.analysis.lost_segment).
    pub lost_segments: u64,
    /// tcp.analysis.duplicate_ack.
    pub dup_acks: u64,
    /// tcp.analysis.zero_window.
    pub zero_windows: u64,
    /// Bytes never seen by the decoders (lost, snaplen-cut, or dropped by a memory limit).
    pub missed_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_scale: Option<u8>,
}

/// One TCP connection or UDP flow: the contract's `connection` record.
#[derive(Clone, Debug, Serialize)]
pub struct Connection {
    pub id: u64,
    pub transport: Transport,
    pub client: SocketAddr,
    pub server: SocketAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Zeek's conn_state (S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH).
    pub state: &'static str,
    /// Zeek's history letters, upper case for the client.
    pub history: String,
    pub ts_first: Timestamp,
    pub ts_last: Timestamp,
    pub duration: Duration,
    pub end_reason: EndReason,
    /// How the client was chosen: "syn", "syn-ack", "port" or "first-packet".
    pub client_by: &'static str,
    pub client_stats: SideStats,
    pub server_stats: SideStats,
    /// SYN to SYN-ACK, as seen at the capture point.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handshake_rtt: Option<Duration>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resets: Vec<ResetInfo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub icmp: Vec<IcmpInfo>,
    /// The application protocol the content probe chose, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<crate::types::Protocol>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Box<TlsInfo>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<HttpTransaction>,
    /// Limits this connection ran into (e.g. "ooo_buffer_full", "memcap", "evicted"), so that a
    /// verdict from incomplete data can say so (Zeek's missed bytes idea).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partial: Vec<&'static str>,
    /// Data whose retransmission carried different bytes than the first copy (first wins).
    #[serde(skip_serializing_if = "is_zero")]
    pub overlap_conflicts: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Connection {
    pub fn side(&self, side: Side) -> &SideStats {
        match side {
            Side::Client => &self.client_stats,
            Side::Server => &self.server_stats,
        }
    }
}

/// A connection gone silent while open (see `Event::Stall`).
#[derive(Clone, Debug, Serialize)]
pub struct Stall {
    pub conn_id: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    pub since: Timestamp,
    pub idle: Duration,
    pub last_frame: u64,
}

/// Where events go (ripgrep's Sink). Implemented for `Vec<Event>` and for closures.
pub trait Sink {
    fn event(&mut self, ev: Event);
}

impl Sink for Vec<Event> {
    fn event(&mut self, ev: Event) {
        self.push(ev);
    }
}

impl<F: FnMut(Event)> Sink for F {
    fn event(&mut self, ev: Event) {
        self(ev)
    }
}
