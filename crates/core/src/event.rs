//! What the engine tells its caller: the library's public output.
//!
//! Events leave in packet order, as they happen: a ClientHello as soon as its last byte is
//! in, a certificate chain, an alert, an HTTP head, a DNS answer, a reset, and the
//! [`Connection`] summary when the connection ends, after everything it contains. Which kinds
//! are produced is set by [`Config::events`](crate::Config::events) (an [`EventMask`]); a
//! kind nobody asked for costs nothing but a bit test.

use crate::app::dns::DnsRecord;
use crate::app::http::HttpTransaction;
use crate::app::tls::{AlertInfo, CertificateInfo, ClientHello, ServerHello, TlsInfo, Validation};
pub use crate::flow::sides::{IcmpInfo, ResetInfo, SideStats};
use crate::time::{Duration, Timestamp};
use crate::types::{Side, Transport};
use std::net::SocketAddr;

/// A frame that shows something, for callers that cite packets (a diagnosis's evidence).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Evidence {
    /// The frame number (1-based, as Wireshark counts).
    pub packet: u64,
    /// Its timestamp.
    pub ts: Timestamp,
    /// What it shows.
    pub note: String,
}

/// One event from the engine.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "type", rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Event {
    /// A TCP connection or UDP flow ended (closed, timed out, evicted, or the input ended).
    Connection(Box<Connection>),
    /// A DNS query was answered, or timed out unanswered.
    Dns(Box<DnsRecord>),
    /// A connection has been silent for `idle` while it was still open (for live callers:
    /// emitted once per silence by `Engine::advance`, before the connection ends).
    Stall(Box<Stall>),
    /// A ClientHello was decoded: the first of the connection, or the one that answers a
    /// HelloRetryRequest.
    ClientHello(Box<ConnEvent<ClientHello>>),
    /// A ServerHello was decoded (`hello_retry_request` tells a HelloRetryRequest).
    ServerHello(Box<ConnEvent<ServerHello>>),
    /// A Certificate message was decoded (in clear: before TLS 1.3). `side` says whose.
    Certificates(Box<ConnEvent<Certificates>>),
    /// An alert record was read (its level and description when it was in clear).
    Alert(Box<ConnEvent<AlertInfo>>),
    /// An HTTP request head was read. The transaction holds the request; its response fields
    /// are empty.
    HttpRequest(Box<ConnEvent<HttpTransaction>>),
    /// An HTTP final response head was read (1xx interim answers are kept in
    /// `informational`). The transaction holds its request too when it was seen; the body
    /// fields say what was known at the head (`body_bytes: Some(0)`, `body_complete: None`
    /// while a body is due).
    HttpResponse(Box<ConnEvent<HttpTransaction>>),
    /// A TCP segment with RST set (`from` says whose address it carried).
    Reset(Box<ConnEvent<ResetInfo>>),
}

impl Event {
    /// The mask bit of this kind of event.
    pub fn kind(&self) -> EventMask {
        match self {
            Event::Connection(_) => EventMask::CONNECTION,
            Event::Dns(_) => EventMask::DNS,
            Event::Stall(_) => EventMask::STALL,
            Event::ClientHello(_) => EventMask::CLIENT_HELLO,
            Event::ServerHello(_) => EventMask::SERVER_HELLO,
            Event::Certificates(_) => EventMask::CERTIFICATES,
            Event::Alert(_) => EventMask::ALERT,
            Event::HttpRequest(_) => EventMask::HTTP_REQUEST,
            Event::HttpResponse(_) => EventMask::HTTP_RESPONSE,
            Event::Reset(_) => EventMask::RESET,
        }
    }
}

/// Something seen on one connection while it was open, and the packet that made it known.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ConnEvent<T> {
    /// The connection's id (its `Connection` record, emitted later, has the same).
    pub conn_id: u64,
    /// The connection's client end.
    pub client: SocketAddr,
    /// The connection's server end.
    pub server: SocketAddr,
    /// Who sent it.
    pub side: Side,
    /// The packet whose arrival completed it (1-based frame number). For bytes that waited
    /// in the reassembler for a retransmission, that is the retransmission; at the end of
    /// the input, the last packet. What it describes may carry its own frames too (a
    /// ClientHello's `first_frame` and `last_frame`).
    pub frame: u64,
    /// That packet's timestamp.
    pub ts: Timestamp,
    /// What was seen.
    pub data: T,
}

/// A Certificate message: the chain as sent, and for the server's chain its validation.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Certificates {
    /// Leaf first, in the order sent (at most `limits.tls.max_certificates`).
    pub certificates: Vec<std::sync::Arc<CertificateInfo>>,
    /// Chain validation (the server's chain only).
    pub validation: Option<Validation>,
}

/// Which kinds of [`Event`] the engine produces: a set of bits, combined with `|`.
///
/// The default is what a summary of connections needs (`CONNECTION | DNS | STALL`); the
/// kinds that describe a connection while it is open are produced only when asked for.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventMask(u32);

impl EventMask {
    /// No event at all (the engine still counts, in `Stats`).
    pub const NONE: EventMask = EventMask(0);
    /// [`Event::Connection`].
    pub const CONNECTION: EventMask = EventMask(1 << 0);
    /// [`Event::Dns`].
    pub const DNS: EventMask = EventMask(1 << 1);
    /// [`Event::Stall`].
    pub const STALL: EventMask = EventMask(1 << 2);
    /// [`Event::ClientHello`].
    pub const CLIENT_HELLO: EventMask = EventMask(1 << 3);
    /// [`Event::ServerHello`].
    pub const SERVER_HELLO: EventMask = EventMask(1 << 4);
    /// [`Event::Certificates`].
    pub const CERTIFICATES: EventMask = EventMask(1 << 5);
    /// [`Event::Alert`].
    pub const ALERT: EventMask = EventMask(1 << 6);
    /// [`Event::HttpRequest`].
    pub const HTTP_REQUEST: EventMask = EventMask(1 << 7);
    /// [`Event::HttpResponse`].
    pub const HTTP_RESPONSE: EventMask = EventMask(1 << 8);
    /// [`Event::Reset`].
    pub const RESET: EventMask = EventMask(1 << 9);
    /// The TLS kinds: hellos, certificates, alerts.
    pub const TLS: EventMask = EventMask(
        Self::CLIENT_HELLO.0 | Self::SERVER_HELLO.0 | Self::CERTIFICATES.0 | Self::ALERT.0,
    );
    /// The HTTP kinds: request and response heads.
    pub const HTTP: EventMask = EventMask(Self::HTTP_REQUEST.0 | Self::HTTP_RESPONSE.0);
    /// What a summary of connections needs: the default.
    pub const SUMMARY: EventMask = EventMask(Self::CONNECTION.0 | Self::DNS.0 | Self::STALL.0);
    /// Every kind.
    pub const ALL: EventMask = EventMask((1 << 10) - 1);

    /// Every kind in `other` is in `self`.
    pub const fn contains(self, other: EventMask) -> bool {
        self.0 & other.0 == other.0
    }

    /// Some kind in `other` is in `self`.
    pub const fn intersects(self, other: EventMask) -> bool {
        self.0 & other.0 != 0
    }

    /// The kinds in either.
    pub const fn union(self, other: EventMask) -> EventMask {
        EventMask(self.0 | other.0)
    }

    /// The kinds in `self` but not in `other`.
    pub const fn difference(self, other: EventMask) -> EventMask {
        EventMask(self.0 & !other.0)
    }
}

impl Default for EventMask {
    fn default() -> Self {
        EventMask::SUMMARY
    }
}

impl std::ops::BitOr for EventMask {
    type Output = EventMask;
    fn bitor(self, rhs: EventMask) -> EventMask {
        self.union(rhs)
    }
}

impl std::ops::BitOrAssign for EventMask {
    fn bitor_assign(&mut self, rhs: EventMask) {
        *self = self.union(rhs);
    }
}

impl std::fmt::Debug for EventMask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const NAMES: [&str; 10] = [
            "CONNECTION",
            "DNS",
            "STALL",
            "CLIENT_HELLO",
            "SERVER_HELLO",
            "CERTIFICATES",
            "ALERT",
            "HTTP_REQUEST",
            "HTTP_RESPONSE",
            "RESET",
        ];
        let mut set = f.debug_set();
        for (i, name) in NAMES.iter().enumerate() {
            if self.0 & (1 << i) != 0 {
                set.entry(&format_args!("{name}"));
            }
        }
        set.finish()
    }
}

/// Why a connection record was emitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
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

/// One TCP connection or UDP flow, summed up when it ended.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Connection {
    /// An id unique within the run, in the order connections started.
    pub id: u64,
    /// TCP or UDP.
    pub transport: Transport,
    /// The end that opened it (see `client_by`).
    pub client: SocketAddr,
    /// The other end.
    pub server: SocketAddr,
    /// The name the client asked for: SNI, else the CONNECT target or Host header, else the
    /// name a DNS answer gave the server's address.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub server_name: Option<String>,
    /// Zeek's conn_state (S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH).
    pub state: &'static str,
    /// Zeek's history letters, upper case for the client.
    pub history: String,
    /// Time of its first packet.
    pub ts_first: Timestamp,
    /// Time of its last packet.
    pub ts_last: Timestamp,
    /// `ts_last - ts_first`.
    pub duration: Duration,
    /// Why the record was emitted.
    pub end_reason: EndReason,
    /// How the client was chosen: "syn", "syn-ack", "port" or "first-packet".
    pub client_by: &'static str,
    /// What the client sent.
    pub client_stats: SideStats,
    /// What the server sent.
    pub server_stats: SideStats,
    /// SYN to SYN-ACK, as seen at the capture point.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub handshake_rtt: Option<Duration>,
    /// RSTs, in order (at most `limits.max_resets_per_conn`).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub resets: Vec<ResetInfo>,
    /// ICMP errors quoting this connection (same bound).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub icmp: Vec<IcmpInfo>,
    /// The application protocol the content probe chose, if any.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub app: Option<crate::types::Protocol>,
    /// What the TLS decoder learned (also for a CONNECT tunnel's TLS).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub tls: Option<Box<TlsInfo>>,
    /// HTTP transactions, in order (a CONNECT tunnel's exchange included).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub http: Vec<HttpTransaction>,
    /// Limits this connection ran into (`"reassembly_limit"`, `"evicted"`, `"snaplen"`: the
    /// capture cut some of its packets short), so that a verdict from incomplete data can say
    /// so (Zeek's missed bytes idea).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub partial: Vec<&'static str>,
    /// Data whose retransmission carried different bytes than the first copy (first wins).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "is_zero"))]
    pub overlap_conflicts: u64,
}

#[cfg(feature = "serde")]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Connection {
    /// What `side` sent.
    pub fn side(&self, side: Side) -> &SideStats {
        match side {
            Side::Client => &self.client_stats,
            Side::Server => &self.server_stats,
        }
    }
}

/// A connection gone silent while open (see `Event::Stall`).
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Stall {
    /// The connection's id.
    pub conn_id: u64,
    /// Its client end.
    pub client: SocketAddr,
    /// Its server end.
    pub server: SocketAddr,
    /// The name the client asked for, when known yet.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub server_name: Option<String>,
    /// Time of its last packet.
    pub since: Timestamp,
    /// How long it has been silent.
    pub idle: Duration,
    /// Frame of its last packet.
    pub last_frame: u64,
}

/// Where events go (ripgrep's Sink). Implemented for `Vec<Event>` and for closures.
pub trait Sink {
    /// Takes one event.
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
