//! Link-layer headers that etherparse does not slice for us: Linux cooked captures (SLL,
//! SLL2), BSD null/loopback, Cisco HDLC and PPPoE sessions. Each yields the network protocol
//! and its payload.
//!
//! etherparse (0.21) knows neither Cisco HDLC nor PPPoE nor PPP: those two are read through
//! small typed views ([`ChdlcFrame`], [`PppoeSession`]) whose fields are named byte ranges,
//! smoltcp's way, so each offset is written once.
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
/// PPPoE session stage (RFC 2516); the discovery stage (0x8863) carries no IP and is left
/// alone, like ARP.
pub const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
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
        LinkType::C_HDLC => {
            let f = ChdlcFrame::new_checked(data)?;
            Ok(Network::EtherType(f.protocol(), f.payload()))
        }
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

/// A Cisco HDLC frame (LINKTYPE_C_HDLC, 104): an address byte (0x0f unicast, 0x8f
/// broadcast), a control byte (0), and the payload's ethertype.
#[derive(Clone, Copy, Debug)]
pub struct ChdlcFrame<'a>(&'a [u8]);

mod chdlc_field {
    use std::ops::{Range, RangeFrom};
    pub const ADDRESS: usize = 0;
    pub const CONTROL: usize = 1;
    pub const PROTOCOL: Range<usize> = 2..4;
    pub const PAYLOAD: RangeFrom<usize> = 4..;
}

impl<'a> ChdlcFrame<'a> {
    /// The frame, if its 4-byte header was captured.
    pub fn new_checked(data: &'a [u8]) -> Result<Self, DecodeError> {
        let need = chdlc_field::PAYLOAD.start;
        if data.len() < need {
            return Err(truncated(need, data.len()));
        }
        Ok(ChdlcFrame(data))
    }

    pub fn address(&self) -> u8 {
        self.0.get(chdlc_field::ADDRESS).copied().unwrap_or(0)
    }

    pub fn control(&self) -> u8 {
        self.0.get(chdlc_field::CONTROL).copied().unwrap_or(0)
    }

    /// An ethertype (0x0800 IPv4, 0x86dd IPv6; 0x8035 is Cisco's SLARP keepalive).
    pub fn protocol(&self) -> u16 {
        be16(self.0, chdlc_field::PROTOCOL.start).unwrap_or(0)
    }

    pub fn payload(&self) -> &'a [u8] {
        self.0.get(chdlc_field::PAYLOAD).unwrap_or(&[])
    }
}

/// The header of a PPPoE session-stage packet (RFC 2516 section 4), followed by a PPP
/// frame: its protocol field, then the protocol's packet.
#[derive(Clone, Copy, Debug)]
pub struct PppoeSession<'a>(&'a [u8]);

mod pppoe_field {
    use std::ops::{Range, RangeFrom};
    /// Version (high nibble) and type (low nibble), both 1.
    pub const VER_TYPE: usize = 0;
    /// 0 for session data.
    pub const CODE: usize = 1;
    pub const SESSION_ID: Range<usize> = 2..4;
    /// Length of the PPP frame (protocol field included), without Ethernet padding.
    pub const LENGTH: Range<usize> = 4..6;
    pub const PPP: RangeFrom<usize> = 6..;
}

/// The only version/type RFC 2516 defines.
const PPPOE_VER_TYPE: u8 = 0x11;
/// PPP protocol numbers (RFC 1661, IANA PPP DLL protocol numbers) that carry IP.
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;

impl<'a> PppoeSession<'a> {
    /// The header, if its 6 bytes were captured and it is version 1, type 1, session data.
    pub fn new_checked(data: &'a [u8]) -> Result<Self, DecodeError> {
        let need = pppoe_field::PPP.start;
        if data.len() < need {
            return Err(truncated(need, data.len()));
        }
        let s = PppoeSession(data);
        if s.ver_type() != PPPOE_VER_TYPE || s.code() != 0 {
            return Err(DecodeError::Malformed(Layer::Link));
        }
        Ok(s)
    }

    pub fn ver_type(&self) -> u8 {
        self.0.get(pppoe_field::VER_TYPE).copied().unwrap_or(0)
    }

    pub fn code(&self) -> u8 {
        self.0.get(pppoe_field::CODE).copied().unwrap_or(0)
    }

    pub fn session_id(&self) -> u16 {
        be16(self.0, pppoe_field::SESSION_ID.start).unwrap_or(0)
    }

    pub fn length(&self) -> u16 {
        be16(self.0, pppoe_field::LENGTH.start).unwrap_or(0)
    }

    /// The PPP frame: `length` bytes, fewer when the capture cut it (the IP layer then
    /// sees a truncated packet), never the Ethernet padding after it.
    pub fn ppp(&self) -> &'a [u8] {
        let ppp = self.0.get(pppoe_field::PPP).unwrap_or(&[]);
        ppp.get(..usize::from(self.length())).unwrap_or(ppp)
    }

    /// The whole PPP frame was captured (padding may follow): the PPPoE length, not the
    /// IP header's, then says where the packet ends.
    pub fn complete(&self) -> bool {
        self.0.get(pppoe_field::PPP).map_or(0, <[u8]>::len) >= usize::from(self.length())
    }

    /// The network-layer packet: IPv4 or IPv6 by the PPP protocol field, which is one byte
    /// when the peers agreed to compress it (RFC 1661 section 6.5: a one-byte field is odd;
    /// the first byte of a two-byte field is even).
    pub fn network(&self) -> Result<Network<'a>, DecodeError> {
        let ppp = self.ppp();
        let (protocol, rest) = match ppp {
            [p, rest @ ..] if p & 1 == 1 => (u16::from(*p), rest),
            [hi, lo, rest @ ..] => (u16::from_be_bytes([*hi, *lo]), rest),
            _ => return Err(truncated(pppoe_field::PPP.start + 2, self.0.len())),
        };
        match protocol {
            PPP_IPV4 => Ok(Network::EtherType(ETHERTYPE_IPV4, rest)),
            PPP_IPV6 => Ok(Network::EtherType(ETHERTYPE_IPV6, rest)),
            other => Err(DecodeError::UnsupportedPppProtocol(other)),
        }
    }
}

/// The ethertype and payload after the Ethernet header and any VLAN tags, for the cases
/// etherparse leaves alone: MPLS label stacks, 802.3 frames with LLC/SNAP and PPPoE
/// sessions (returned as their ethertype for [`PppoeSession`]).
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
        ETHERTYPE_PPPOE_SESSION => Some(Network::EtherType(t, payload)),
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
    fn cisco_hdlc_header() {
        let f = [0x0f, 0x00, 0x08, 0x00, 0x45, 0];
        assert_eq!(
            split(LinkType::C_HDLC, &f),
            Ok(Network::EtherType(ETHERTYPE_IPV4, &[0x45, 0][..]))
        );
        let v = ChdlcFrame::new_checked(&f).unwrap();
        assert_eq!((v.address(), v.control()), (0x0f, 0));
        assert!(matches!(
            split(LinkType::C_HDLC, &f[..3]),
            Err(DecodeError::Truncated { needed: 4, .. })
        ));
    }

    #[test]
    fn pppoe_session_protocol_field_of_one_or_two_bytes() {
        // ver/type, code, session 0x0f07, length 4 (protocol + 2 bytes), then padding.
        let two = [0x11, 0, 0x0f, 0x07, 0, 4, 0x00, 0x21, 0x45, 0, 0xee, 0xee];
        let s = PppoeSession::new_checked(&two).unwrap();
        assert_eq!(
            (s.session_id(), s.length(), s.complete()),
            (0x0f07, 4, true)
        );
        assert_eq!(
            s.network(),
            Ok(Network::EtherType(ETHERTYPE_IPV4, &[0x45, 0][..]))
        );
        let one = [0x11, 0, 0, 1, 0, 3, 0x57, 0x60, 0];
        assert_eq!(
            PppoeSession::new_checked(&one).unwrap().network(),
            Ok(Network::EtherType(ETHERTYPE_IPV6, &[0x60, 0][..]))
        );
        let lcp = [0x11, 0, 0, 1, 0, 4, 0xc0, 0x21, 1, 2];
        assert_eq!(
            PppoeSession::new_checked(&lcp).unwrap().network(),
            Err(DecodeError::UnsupportedPppProtocol(0xc021))
        );
        // Cut by the capture: not complete, and the IP layer gets what is there.
        let cut = [0x11, 0, 0, 1, 0, 40, 0x00, 0x21, 0x45];
        let s = PppoeSession::new_checked(&cut).unwrap();
        assert!(!s.complete());
        assert_eq!(
            s.network(),
            Ok(Network::EtherType(ETHERTYPE_IPV4, &[0x45][..]))
        );
    }

    #[test]
    fn pppoe_session_header_checks() {
        assert!(matches!(
            PppoeSession::new_checked(&[0x11, 0, 0, 1, 0]),
            Err(DecodeError::Truncated { needed: 6, .. })
        ));
        // Discovery codes (PADI 0x09 ...) and other versions are not session data.
        for bad in [[0x11, 0x09, 0, 0, 0, 0], [0x21, 0, 0, 1, 0, 0]] {
            assert_eq!(
                PppoeSession::new_checked(&bad).map(|_| ()),
                Err(DecodeError::Malformed(Layer::Link))
            );
        }
        let empty = [0x11, 0, 0, 1, 0, 0];
        assert!(matches!(
            PppoeSession::new_checked(&empty).unwrap().network(),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn unknown_link_type_is_an_error_value() {
        assert_eq!(
            split(LinkType(147), &[1, 2, 3]),
            Err(DecodeError::UnsupportedLinkType(147))
        );
    }
}
