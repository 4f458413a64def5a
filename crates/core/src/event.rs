//! What the engine tells its caller: the library's public output.
//!
//! Records are serde-serializable with the field names of the JSON contract in
//! ARCHITECTURE.md (the `modsniff` binary adds the `type` tag and its Go classification).

use crate::app::dns::DnsRecord;
use crate::app::http::HttpTransaction;
use crate::app::tls::TlsInfo;
pub use crate::flow::sides::{IcmpInfo, ResetInfo, SideStats};
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
