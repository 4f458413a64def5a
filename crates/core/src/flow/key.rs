//! Flow identity: 5-tuples, sides and directions.

use serde::Serialize;
use std::net::{IpAddr, SocketAddr};

/// Which end of a connection: the client opened it (sent the SYN, or the first datagram).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Client,
    Server,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }

    pub fn index(self) -> usize {
        match self {
            Side::Client => 0,
            Side::Server => 1,
        }
    }
}

/// Transport protocol of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
}

/// A 5-tuple in canonical order (lower address/port first), so that both directions of a
/// flow hash to the same key. Which end is the client is kept in the flow itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub transport: Transport,
    pub lo: SocketAddr,
    pub hi: SocketAddr,
}

impl FlowKey {
    /// The key of a packet from `src` to `dst`, and whether `src` is the key's `lo` end.
    pub fn new(transport: Transport, src: SocketAddr, dst: SocketAddr) -> (FlowKey, bool) {
        if (src.ip(), src.port()) <= (dst.ip(), dst.port()) {
            (
                FlowKey {
                    transport,
                    lo: src,
                    hi: dst,
                },
                true,
            )
        } else {
            (
                FlowKey {
                    transport,
                    lo: dst,
                    hi: src,
                },
                false,
            )
        }
    }
}

/// Address family agnostic endpoint helper.
pub fn endpoint(ip: IpAddr, port: u16) -> SocketAddr {
    SocketAddr::new(ip, port)
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
}
