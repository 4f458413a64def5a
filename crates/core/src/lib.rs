//! modsniff-core: packets in, flows, reassembled streams and TLS / HTTP / DNS events out.
//!
//! ```text
//! Packet ──▶ decode (link, IP, fragments, TCP/UDP/ICMP)
//!               │
//!               ▼
//!           flow table ──▶ TCP state per connection: handshake, RTT, FIN/RST by side,
//!               │            retransmissions, zero windows, gaps, TTL/IP-ID per side
//!               ▼
//!           reassembler (per direction: in-order bytes and explicit gaps, bounded)
//!               │
//!               ▼
//!           decoder chosen by content: TLS, HTTP/1.x (CONNECT -> TLS), DNS (UDP and TCP)
//!               │
//!               ▼
//!           Events into a Sink, as they happen: ClientHello, ServerHello, Certificates,
//!           Alert, HttpRequest, HttpResponse, Dns, Reset, Stall; Connection when it ends
//! ```
//!
//! Feed an [`Engine`] one [`Packet`] at a time ([`Engine::push`]) with a [`Sink`] (a
//! `Vec<Event>` or a closure), call [`Engine::finish`] at the end of the input. Which events
//! are produced is [`Config::events`]: by default the connection summaries, DNS answers and
//! stalls; the events about an open connection cost nothing unless asked for.
//!
//! On several cores, a [`ShardedEngine`] runs engines on threads of their own, each owning
//! the flows whose key hashes to it, and merges their events back into the events one engine
//! emits, in its order.
//!
//! Guarantees: no I/O, no unsafe code, no panics on any input; the clock is the packets'
//! own (plus [`Engine::advance`] for a live caller); memory is bounded by [`Limits`] and
//! every bound that bites is counted in [`Stats`] or in the record it cut short.
//!
//! The decoders work on their own too: a [`StreamDecoder`] ([`tls::TlsDecoder`],
//! [`http::HttpDecoder`], [`dns::DnsTcpDecoder`]) takes one connection's bytes, side by
//! side, and answers each piece with a [`Progress`].
//!
//! Reading capture files and live interfaces is the `modsniff-capture` crate's business.
//!
//! # Cargo features
//!
//! - `x509` (default): validate server certificate chains with rustls-webpki against
//!   webpki-roots plus [`tls::TlsConfig`]'s extra roots ([`TlsInfo::validation`]). Without
//!   it certificates are still described, not validated.
//! - `serde`: `serde::Serialize` on the library's data (events, connections, TLS, HTTP and
//!   DNS records, statistics).
//!
//! # Push packets from your own source
//!
//! Any source works: here two Ethernet frames built in memory, a DNS query for
//! `proxy.golang.org` and its answer.
//!
//! ```
//! use modsniff_core::{Config, Engine, Event, LinkType, Packet, Timestamp};
//! # fn udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
//! #     let mut f = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00];
//! #     let total = (20 + 8 + payload.len()) as u16;
//! #     f.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0, 0, 64, 17, 0, 0]);
//! #     f.extend_from_slice(&src);
//! #     f.extend_from_slice(&dst);
//! #     let ulen = (8 + payload.len()) as u16;
//! #     f.extend_from_slice(&sport.to_be_bytes());
//! #     f.extend_from_slice(&dport.to_be_bytes());
//! #     f.extend_from_slice(&ulen.to_be_bytes());
//! #     f.extend_from_slice(&[0, 0]);
//! #     f.extend_from_slice(payload);
//! #     f
//! # }
//! # let name = b"\x05proxy\x06golang\x03org\x00";
//! # let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
//! # query.extend_from_slice(name);
//! # query.extend_from_slice(&[0, 1, 0, 1]);
//! # let mut answer = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
//! # answer.extend_from_slice(name);
//! # answer.extend_from_slice(&[0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 142, 250, 1, 1]);
//! let frames: Vec<(Timestamp, Vec<u8>)> = vec![
//!     (Timestamp::from_parts(1_700_000_000, 0, 1_000_000), udp([10, 0, 0, 2], [10, 0, 0, 53], 40000, 53, &query)),
//!     (Timestamp::from_parts(1_700_000_000, 1_500, 1_000_000), udp([10, 0, 0, 53], [10, 0, 0, 2], 53, 40000, &answer)),
//! ];
//!
//! let mut engine = Engine::new(Config::default());
//! let mut events: Vec<Event> = Vec::new();
//! for (i, (ts, bytes)) in frames.iter().enumerate() {
//!     let packet = Packet {
//!         ts: *ts,
//!         frame: i as u64 + 1,
//!         orig_len: bytes.len() as u32,
//!         linktype: LinkType::ETHERNET,
//!         data: bytes,
//!     };
//!     engine.push(&packet, &mut events);
//! }
//! let stats = engine.finish(&mut events);
//!
//! let dns: Vec<_> = events
//!     .iter()
//!     .filter_map(|e| match e {
//!         Event::Dns(d) => Some(d),
//!         _ => None,
//!     })
//!     .collect();
//! assert_eq!(dns.len(), 1);
//! assert_eq!(dns[0].qname.as_deref(), Some("proxy.golang.org"));
//! assert_eq!(dns[0].rcode.as_deref(), Some("NOERROR"));
//! assert_eq!(dns[0].answers[0].data.as_deref(), Some("142.250.1.1"));
//! assert_eq!(dns[0].response_frame, Some(2));
//! assert_eq!((stats.packets, stats.dns_messages), (2, 2));
//! ```
//!
//! # Decode one stream's bytes with one decoder
//!
//! ```
//! use modsniff_core::http::HttpDecoder;
//! use modsniff_core::{Progress, Side, StreamCtx, StreamDecoder, Timestamp};
//!
//! let mut http = HttpDecoder::new();
//! let client = StreamCtx { side: Side::Client, ts: Timestamp::ZERO, frame: 4, offset: 0 };
//! let request = b"GET /golang.org/x/text/@v/list HTTP/1.1\r\nHost: proxy.golang.org\r\n\r\n";
//! assert_eq!(http.on_data(&client, request), Progress::Continue);
//!
//! // The answer comes in two pieces; the body is skipped by its length, never buffered.
//! let server = StreamCtx { side: Side::Server, frame: 6, ..client };
//! let head = b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot";
//! assert_eq!(http.on_data(&server, head), Progress::Skip(6));
//!
//! let tx = &http.transactions()[0];
//! assert_eq!(tx.uri.as_deref(), Some("/golang.org/x/text/@v/list"));
//! assert_eq!(tx.host.as_deref(), Some("proxy.golang.org"));
//! assert_eq!((tx.status, tx.response_frame), (Some(404), Some(6)));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Input is hostile: no panicking shortcuts outside tests. An index that cannot be out of
// bounds by construction (a `Side` into a two-element array) says so in an `allow`.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

mod app;
mod config;
mod defrag;
mod engine;
mod event;
mod flow;
mod packet;
// The reassembler is reached from outside only through `hooks` (fuzz, benches, tests).
#[allow(missing_docs)]
mod reassembly;
mod stats;
mod time;
mod types;
// Frame decoding is reached from outside only through `hooks` (fuzz, tests).
#[allow(missing_docs)]
mod wire;

pub use app::{StreamCtx, StreamDecoder};
pub use app::{dns, http, tls};
pub use config::{Config, DEFAULT_MAX_DNS_NAMES, DEFAULT_MAX_KEPT_BYTES, Limits};
pub use dns::{DnsAnswer, DnsRecord};
pub use engine::{
    Engine, FellBack, LiveMerge, LiveShard, MAX_ICMP_HANDOFF, ShardedEngine, Stamped,
};
pub use event::{
    Certificates, ConnEvent, Connection, EndReason, Event, EventMask, Evidence, IcmpInfo,
    ResetInfo, SideStats, Sink, Stall,
};
pub use http::{HttpStats, HttpTransaction};
pub use packet::{LinkType, Packet};
pub use reassembly::OverflowPolicy;
pub use stats::{KernelStats, Stats};
pub use time::{Duration, Timestamp};
pub use tls::TlsInfo;
pub use types::{Progress, Protocol, Side, Transport};

/// Internals the crate's benches, fuzz targets and tests reach into; not part of the API,
/// and may change in any release.
#[doc(hidden)]
pub mod hooks {
    pub use crate::app::tls::fingerprint::FingerprintCache;
    pub use crate::types::FlowKey;

    /// ClientHello parsing, without a decoder around it.
    pub mod client_hello {
        pub use crate::app::tls::client_hello::*;
    }

    /// The TCP reassembler on its own.
    pub mod reassembly {
        pub use crate::reassembly::*;
    }

    /// Link, IP and transport decoding of one frame.
    pub mod wire {
        pub use crate::wire::*;
    }
}
