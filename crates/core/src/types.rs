//! The shared words: which side of a connection, which transport, a flow's key, which
//! application protocol. They live below both the flow layer and the decoders, so that
//! neither has to import the other.

use std::net::{IpAddr, SocketAddr};

/// Which end of a connection: the client opened it (sent the SYN, or the first datagram).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Side {
    /// The end that opened the connection.
    Client,
    /// The other end.
    Server,
}

impl Side {
    /// The other end.
    pub fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }

    /// 0 for the client, 1 for the server (for arrays of two).
    pub fn index(self) -> usize {
        match self {
            Side::Client => 0,
            Side::Server => 1,
        }
    }
}

/// Transport protocol of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Transport {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// A 5-tuple in canonical order (lower address/port first), so that both directions of a
/// flow hash to the same key. Which end is the client is kept in the flow itself.
///
/// Packed into plain integers rather than two `SocketAddr`s: the flow table hashes and
/// compares a key for every packet, and `SocketAddr`'s derived `Hash`/`Eq` walk the enum, the
/// IPv6 flow info and scope id field by field (FlowKey::new and the table's probes were ~10 %
/// of a flows-only run).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    lo: Endpoint,
    hi: Endpoint,
    transport: Transport,
}

/// One end of a key: the address as two big-endian halves (IPv4 in the low half), the
/// family, the port. Field order makes the derived `Ord` the order of `(IpAddr, port)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Endpoint {
    v6: bool,
    addr_hi: u64,
    addr_lo: u64,
    port: u16,
}

impl Endpoint {
    fn of(a: SocketAddr) -> Endpoint {
        match a.ip() {
            IpAddr::V4(v4) => Endpoint {
                v6: false,
                addr_hi: 0,
                addr_lo: u64::from(u32::from(v4)),
                port: a.port(),
            },
            IpAddr::V6(v6) => {
                let bits = u128::from(v6);
                Endpoint {
                    v6: true,
                    addr_hi: (bits >> 64) as u64,
                    addr_lo: bits as u64,
                    port: a.port(),
                }
            }
        }
    }
}

impl FlowKey {
    /// The key of a packet from `src` to `dst`, and whether `src` is the key's `lo` end
    /// (the lower of the two in `(IpAddr, port)` order).
    pub fn new(transport: Transport, src: SocketAddr, dst: SocketAddr) -> (FlowKey, bool) {
        let (s, d) = (Endpoint::of(src), Endpoint::of(dst));
        if s <= d {
            (
                FlowKey {
                    lo: s,
                    hi: d,
                    transport,
                },
                true,
            )
        } else {
            (
                FlowKey {
                    lo: d,
                    hi: s,
                    transport,
                },
                false,
            )
        }
    }
}

/// The protocols the engine can hand a stream to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Protocol {
    /// TLS (and SSL 3.0).
    Tls,
    /// HTTP/1.x.
    Http,
    /// DNS over TCP (DNS over UDP is recognised by port).
    Dns,
}

/// A decoder's answer to each piece of a stream, and what the reassembler does with it: the
/// one verdict between the byte streams and whatever consumes them.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Keep delivering.
    Continue,
    /// The next `n` bytes after this chunk are of no interest (a body, an encrypted record):
    /// the reassembler counts them off without delivering or buffering them. Gaps inside the
    /// skipped range are counted as missed but not delivered.
    Skip(u64),
    /// Nothing more is wanted from this side: stop delivering (not even the end) and
    /// buffering. Sequence numbers are still tracked so that the counters stay right.
    Done,
    /// The rest of both directions is another protocol (after CONNECT 2xx: TLS). The decoder
    /// session swaps decoders; to a reassembler this means `Continue`.
    Upgrade(Protocol),
    /// The bytes are not this protocol after all: stop, keep what was decoded so far. To a
    /// reassembler this means `Done`.
    Violation(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_same_key() {
        let a: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:443".parse().unwrap();
        let (k1, a_lo) = FlowKey::new(Transport::Tcp, a, b);
        let (k2, b_lo) = FlowKey::new(Transport::Tcp, b, a);
        assert_eq!(k1, k2);
        assert!(a_lo && !b_lo);
    }

    /// `lo` is the lower end in `(IpAddr, port)` order, as it was when the key held two
    /// `SocketAddr`s: IPv4 before IPv6, then the address, then the port.
    #[test]
    fn lo_end_follows_ipaddr_port_order() {
        let addrs: Vec<SocketAddr> = [
            "10.0.0.1:5000",
            "10.0.0.1:443",
            "10.0.0.2:1",
            "255.255.255.255:65535",
            "0.0.0.0:0",
            "[::1]:80",
            "[::ffff:10.0.0.1]:5000",
            "[2001:db8::1]:443",
            "[2001:db8::1]:444",
            "[fe80::1]:1",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        for &a in &addrs {
            for &b in &addrs {
                let (_, a_lo) = FlowKey::new(Transport::Tcp, a, b);
                assert_eq!(a_lo, (a.ip(), a.port()) <= (b.ip(), b.port()), "{a} {b}");
                let (k1, _) = FlowKey::new(Transport::Udp, a, b);
                let (k2, _) = FlowKey::new(Transport::Udp, b, a);
                assert_eq!(k1, k2);
                assert_eq!(
                    k1 == FlowKey::new(Transport::Udp, a, a).0,
                    a == b,
                    "{a} {b}"
                );
                assert_ne!(k1, FlowKey::new(Transport::Tcp, a, b).0);
            }
        }
    }
}
