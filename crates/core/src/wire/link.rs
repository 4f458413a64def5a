//! Link-layer headers that etherparse does not slice for us: Linux cooked captures (SLL,
//! SLL2) and BSD null/loopback. Each yields the network protocol and its payload.
//!
//! Indexing guarantee: every accessor reads only after `get`/length checks on the slice.

use super::{DecodeError, Layer};
use crate::packet::LinkType;

/// What follows the link header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network<'a> {
    /// A full Ethernet II frame (etherparse handles it with VLAN tags).
    Ethernet(&'a [u8]),
    /// A payload of the given ethertype.
    EtherType(u16, &'a [u8]),
    /// An IPv4 or IPv6 packet whose version nibble decides.
    Ip(&'a [u8]),
}

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const ETHERTYPE_VLAN: u16 = 0x8100;
pub const ETHERTYPE_QINQ: u16 = 0x88a8;
/// ARPHRD value of a Linux cooked header that carries an Ethernet frame (GRE TAP and the like).
const ARPHRD_ETHER: u16 = 1;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn truncated(needed: usize, available: usize) -> DecodeError {
    DecodeError::Truncated {
        layer: Layer::Link,
        needed,
        available,
    }
}

/// Splits a captured frame into its network-layer protocol and payload.
pub fn split(linktype: LinkType, data: &[u8]) -> Result<Network<'_>, DecodeError> {
    match linktype {
        LinkType::ETHERNET => Ok(Network::Ethernet(data)),
        LinkType::RAW
        | LinkType::RAW_OLD12
        | LinkType::RAW_OLD14
        | LinkType::IPV4
        | LinkType::IPV6 => Ok(Network::Ip(data)),
        LinkType::LINUX_SLL => {
            // 16 bytes: packet type, ARPHRD, address length, 8 address bytes, protocol.
            let proto = be16(data, 14).ok_or(truncated(16, data.len()))?;
            let hatype = be16(data, 2).unwrap_or(0);
            let payload = data.get(16..).unwrap_or(&[]);
            Ok(cooked(hatype, proto, payload))
        }
        LinkType::LINUX_SLL2 => {
            // 20 bytes: protocol first, then reserved, ifindex, ARPHRD, packet type, address.
            let proto = be16(data, 0).ok_or(truncated(20, data.len()))?;
            let hatype = be16(data, 8).ok_or(truncated(20, data.len()))?;
            let payload = data.get(20..).ok_or(truncated(20, data.len()))?;
            Ok(cooked(hatype, proto, payload))
        }
        LinkType::NFLOG => nflog(data),
        LinkType::NULL | LinkType::LOOP => {
            let Some(&[b0, b1, b2, b3]) = data.get(..4) else {
                return Err(truncated(4, data.len()));
            };
            let payload = data.get(4..).unwrap_or(&[]);
            // NULL stores the family in the capturing host's byte order; read it both ways.
            let le = u32::from_le_bytes([b0, b1, b2, b3]);
            let be = u32::from_be_bytes([b0, b1, b2, b3]);
            let family = if le < 256 { le } else { be };
            match family {
                2 => Ok(Network::EtherType(ETHERTYPE_IPV4, payload)),
                // AF_INET6 differs per BSD: 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS), 10 (Linux).
                10 | 24 | 28 | 30 => Ok(Network::EtherType(ETHERTYPE_IPV6, payload)),
                _ => Ok(Network::Ip(payload)),
            }
        }
        other => Err(DecodeError::UnsupportedLinkType(other.0)),
    }
}

/// Linux NFLOG (`tcpdump -i nflog:N`): a 4-byte header, then TLVs (little-endian length and
/// type, padded to 4 bytes); type 9 holds the packet, starting at its IP header.
fn nflog(data: &[u8]) -> Result<Network<'_>, DecodeError> {
    let mut rest = data.get(4..).ok_or(truncated(4, data.len()))?;
    while let Some(&[l0, l1, k0, k1]) = rest.get(..4) {
        let len = u16::from_le_bytes([l0, l1]) as usize;
        let kind = u16::from_le_bytes([k0, k1]);
        if len < 4 {
            break;
        }
        if kind == 9 {
            let payload = rest.get(4..len.min(rest.len())).unwrap_or(&[]);
            return Ok(Network::Ip(payload));
        }
        let padded = (len + 3) & !3;
        rest = rest.get(padded..).unwrap_or(&[]);
    }
    Err(DecodeError::Malformed(Layer::Link))
}

/// The ethertype and payload after the Ethernet header and any VLAN tags, for the cases
/// etherparse leaves alone: MPLS label stacks and 802.3 frames with LLC/SNAP.
pub fn ethernet_fallback(frame: &[u8]) -> Option<Network<'_>> {
    let mut t = be16(frame, 12)?;
    let mut at = 14;
    while matches!(t, ETHERTYPE_VLAN | ETHERTYPE_QINQ | 0x9100) {
        t = be16(frame, at + 2)?;
        at += 4;
    }
    let payload = frame.get(at..)?;
    match t {
        0x8847 | 0x8848 => {
            // Pop labels until the bottom-of-stack bit; the version nibble says what follows.
            let mut p = payload;
            loop {
                let label = p.get(..4)?;
                p = p.get(4..)?;
                if label.get(2).is_some_and(|b| b & 0x01 != 0) {
                    break;
                }
            }
            match p.first()? >> 4 {
                4 | 6 => Some(Network::Ip(p)),
                _ => Some(Network::Ethernet(p)), // pseudowire with an Ethernet frame
            }
        }
        len if len < 0x0600 => {
            // 802.3 length field: LLC, and SNAP (AA AA 03 + OUI + ethertype) carries IP.
            if payload.get(..3) == Some(&[0xaa, 0xaa, 0x03]) {
                let et = be16(payload, 6)?;
                return Some(Network::EtherType(et, payload.get(8..)?));
            }
            None
        }
        _ => None,
    }
}

fn cooked(hatype: u16, proto: u16, payload: &[u8]) -> Network<'_> {
    // Protocol 0x0003 (ETH_P_ALL) with an Ethernet device means the payload is a whole frame.
    if hatype == ARPHRD_ETHER && proto == 0x0003 {
        Network::Ethernet(payload)
    } else {
        Network::EtherType(proto, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sll2_header() {
        let mut f = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6, 1, 2, 3, 4, 5, 6, 0, 0,
        ];
        f.extend_from_slice(&[0x45, 0]);
        assert_eq!(
            split(LinkType::LINUX_SLL2, &f),
            Ok(Network::EtherType(0x0800, &[0x45, 0][..]))
        );
        assert!(matches!(
            split(LinkType::LINUX_SLL2, &f[..10]),
            Err(DecodeError::Truncated {
                layer: Layer::Link,
                needed: 20,
                available: 10
            })
        ));
    }

    #[test]
    fn null_both_byte_orders() {
        let le = [2, 0, 0, 0, 0x45];
        let be = [0, 0, 0, 30, 0x60];
        assert_eq!(
            split(LinkType::NULL, &le),
            Ok(Network::EtherType(ETHERTYPE_IPV4, &[0x45][..]))
        );
        assert_eq!(
            split(LinkType::NULL, &be),
            Ok(Network::EtherType(ETHERTYPE_IPV6, &[0x60][..]))
        );
    }

    #[test]
    fn unknown_link_type_is_an_error_value() {
        assert_eq!(
            split(LinkType(147), &[1, 2, 3]),
            Err(DecodeError::UnsupportedLinkType(147))
        );
    }
}
