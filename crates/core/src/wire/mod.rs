//! Wire formats: from a captured frame to the IP and transport headers the flow table needs.
//!
//! Decoding is lax, like etherparse's `LaxSlicedPacket` that does most of the work here: a
//! packet is used as far as it goes. A bad checksum is never a reason to reject a packet
//! (checksum offload), nor is a TCP segment larger than the MTU (TSO/GRO captures) or an IP
//! total length of 0 (TSO); snaplen-truncated packets are used up to where the capture ends.
//! What stops decoding is recorded as `(DecodeError, Layer)` and counted, never returned as an
//! `Err` up the stack.
//!
//! The common case takes a shortcut: plain TCP/UDP over unfragmented IPv4/IPv6 behind Ethernet
//! (0-2 VLAN tags), Linux cooked, raw IP or BSD null is read at fixed offsets (`fast.rs`),
//! giving exactly what the lax path gives (tests/decode_equiv.rs, the fuzz target); all else
//! goes through `decode_lax`, described below.
//!
//! etherparse slices Ethernet (with 802.1Q/QinQ), IPv4, IPv6 (extension headers included), TCP,
//! UDP and ICMP. This module adds what it lacks: the Linux cooked headers SLL and SLL2, BSD
//! null/loopback, Cisco HDLC, PPPoE sessions, the tunnels that carry traffic we care about (GRE/ERSPAN, VXLAN, Teredo,
//! IP-in-IP), and the headers that ICMP errors quote.

pub mod decode;
mod fast;
pub mod link;

pub use decode::{
    DecodedPacket, IpInfo, L4, TcpFlags, TcpSegment, UdpDatagram, decode, decode_lax,
};
#[doc(hidden)]
pub use fast::decode_fast;
pub use fast::flow_ends;

use std::fmt;

/// The protocol layer at which decoding stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Layer {
    Link,
    Ip,
    Transport,
    Tunnel,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Link => "link",
            Layer::Ip => "ip",
            Layer::Transport => "transport",
            Layer::Tunnel => "tunnel",
        })
    }
}

/// Why a packet could not be decoded further. Counted per kind in `Stats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("{layer} header truncated: need {needed} bytes, have {available}")]
    Truncated {
        layer: Layer,
        needed: usize,
        available: usize,
    },
    #[error("unsupported link type {0}")]
    UnsupportedLinkType(u32),
    #[error("unsupported ethertype {0:#06x}")]
    UnsupportedEtherType(u16),
    /// A PPP frame (in a PPPoE session) of a protocol other than IPv4 or IPv6: LCP, IPCP,
    /// CCP and the other control protocols.
    #[error("unsupported PPP protocol {0:#06x}")]
    UnsupportedPppProtocol(u16),
    #[error("malformed {0} header")]
    Malformed(Layer),
    #[error("tunnels nested too deeply")]
    TooDeep,
}

impl DecodeError {
    /// A stable snake_case name for counters (Zeek's weird names).
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::Truncated {
                layer: Layer::Link, ..
            } => "truncated_link",
            DecodeError::Truncated {
                layer: Layer::Ip, ..
            } => "truncated_ip",
            DecodeError::Truncated {
                layer: Layer::Transport,
                ..
            } => "truncated_transport",
            DecodeError::Truncated {
                layer: Layer::Tunnel,
                ..
            } => "truncated_tunnel",
            DecodeError::UnsupportedLinkType(_) => "unsupported_link_type",
            DecodeError::UnsupportedEtherType(_) => "unsupported_ethertype",
            DecodeError::UnsupportedPppProtocol(_) => "unsupported_ppp_protocol",
            DecodeError::Malformed(Layer::Link) => "malformed_link",
            DecodeError::Malformed(Layer::Ip) => "malformed_ip",
            DecodeError::Malformed(Layer::Transport) => "malformed_transport",
            DecodeError::Malformed(Layer::Tunnel) => "malformed_tunnel",
            DecodeError::TooDeep => "tunnel_too_deep",
        }
    }
}
