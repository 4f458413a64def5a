//! modsniff-core: packets -> flows -> streams -> protocol events.
//!
//! ```text
//! Packet ──▶ wire::decode (link, IP, fragments, TCP/UDP/ICMP)
//!               │
//!               ▼
//!           flow table ──▶ TcpConn: handshake, RTT, FIN/RST by side, retransmissions,
//!               │            zero window, gaps, TTL/IP-ID per side   (UdpFlow for UDP)
//!               ▼
//!           Reassembler (per direction: in-order bytes + explicit gaps, bounded)
//!               │
//!               ▼
//!           decoder chosen by content: TLS, HTTP/1.x (CONNECT -> TLS), DNS (UDP and TCP)
//!               │
//!               ▼
//!           Event::{Connection, Dns, Stall} into a Sink
//! ```
//!
//! Guarantees: no I/O, no unsafe code, no panics on any input; memory is bounded by
//! [`config::Limits`] and every limit that bites is counted in [`stats::Stats`].
//!
//! ```
//! use modsniff_core::{Engine, Config, Event, Packet, LinkType, Timestamp};
//! let mut engine = Engine::new(Config::default());
//! let mut events: Vec<Event> = Vec::new();
//! let frame = [0u8; 14]; // an Ethernet header and nothing else
//! engine.push(&Packet { ts: Timestamp::ZERO, frame: 1, orig_len: 14, linktype: LinkType::ETHERNET, data: &frame }, &mut events);
//! let stats = engine.finish(&mut events);
//! assert_eq!(stats.packets, 1);
//! ```
#![forbid(unsafe_code)]
// Input is hostile (issue 8): no panicking shortcuts outside tests. An index that cannot be
// out of bounds by construction (a `Side` into a two-element array) says so in an `allow`.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod app;
pub mod config;
pub mod defrag;
pub mod engine;
pub mod event;
pub mod flow;
pub mod packet;
pub mod reassembly;
pub mod stats;
pub mod time;
pub mod types;
pub mod wire;

pub use app::{Progress, StreamCtx, StreamDecoder};
pub use app::{dns, http, tls};
pub use config::{Config, Limits};
pub use dns::{DnsAnswer, DnsRecord};
pub use engine::Engine;
pub use event::{
    Connection, EndReason, Event, Evidence, IcmpInfo, ResetInfo, SideStats, Sink, Stall,
};
pub use http::{HttpStats, HttpTransaction};
pub use packet::{LinkType, Packet};
pub use stats::{KernelStats, Stats};
pub use time::{Duration, Timestamp};
pub use tls::TlsInfo;
pub use types::{Protocol, Side, Transport};

/// Internals the crate's benches and fuzz targets reach into; not part of the API, and may
/// change in any release.
#[doc(hidden)]
pub mod hooks {
    pub use crate::app::tls::client_hello;
    pub use crate::app::tls::fingerprint::FingerprintCache;
    pub use crate::types::FlowKey;
}
