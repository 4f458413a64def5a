//! The fast path of `decode`: plain TCP and UDP over IPv4/IPv6, read straight from the bytes.
//!
//! Why: etherparse's `LaxSlicedPacket` moves its large result struct through every layer and
//! keeps data we never read (link extensions, length sources, error offsets); on real traffic
//! that cost a quarter of the flows+reassembly path. Nearly every captured frame is Ethernet
//! (0-2 VLAN tags), Linux cooked, raw IP or BSD null carrying unfragmented IPv4 or IPv6 with TCP
//! or UDP directly after the fixed header, so those frames are read here with fixed offsets.
//!
//! Contract: for every input, `decode_fast` returns either `None` or exactly what the lax path
//! (`decode_lax`) returns for the same frame. It returns `None` for everything else
//! (fragments, IPv6 extension headers, IPv4 AH, ICMP, tunnels, VXLAN/Teredo ports, headers cut
//! by the snaplen, a TCP data offset below 5, MACsec, three VLAN tags, ...), which the lax path
//! then decodes. `tests/decode_equiv.rs` checks the contract on every frame of the corpus and
//! on mutated frames.
//!
//! The length rules copy etherparse 0.21's lax slicing (`LaxIpSlice::from_slice`,
//! `UdpSlice::from_slice_lax`, `TcpSlice::from_slice`), see the comments at each step.
//!
//! Indexing guarantee: headers are taken as fixed-size arrays with `split_first_chunk`, so
//! every constant index below is checked at compile time; variable ranges use `get`.

use super::decode::{
    DecodedPacket, IpInfo, L4, TcpFlags, TcpSegment, UDP_PORT_TEREDO, UDP_PORT_VXLAN, UdpDatagram,
    tcp_options,
};
use super::link::{self, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_QINQ, ETHERTYPE_VLAN, Network};
use crate::packet::LinkType;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// 802.1Q-in-Q with the pre-standard tag some switches still send; etherparse treats it as a
/// VLAN tag too.
const ETHERTYPE_VLAN_DOUBLE: u16 = 0x9100;
/// Tags read here; a third (etherparse reads up to three) goes to the lax path.
const MAX_FAST_VLAN_TAGS: usize = 2;

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// Decodes a frame on the fast path if it is plain TCP/UDP over IP, else returns `lax()`.
///
/// Why a fallback closure rather than an `Option`: the packet is then built once, in the
/// caller's return slot, instead of being built in an `Option` and copied out (a measurable
/// share of the whole decode at ~100 bytes per packet).
#[inline(always)]
pub(super) fn decode_or<'a>(
    linktype: LinkType,
    data: &'a [u8],
    lax: impl FnOnce() -> DecodedPacket<'a>,
) -> DecodedPacket<'a> {
    let Some(ip) = network(linktype, data).and_then(ip_packet) else {
        return lax();
    };
    let l4 = if ip.proto == IPPROTO_TCP {
        match tcp(&ip) {
            Some(t) => L4::Tcp(t),
            None => return lax(),
        }
    } else {
        match udp(ip.payload) {
            Some(u) => L4::Udp(u),
            None => return lax(),
        }
    };
    DecodedPacket {
        ip: Some(ip.info),
        l4,
        stop: None,
        truncated: ip.incomplete,
        tunnel_depth: 0,
    }
}

/// The fast path alone: `None` where `decode` hands the frame to the lax path. For the tests
/// that hold the two paths equal.
pub fn decode_fast(linktype: LinkType, data: &[u8]) -> Option<DecodedPacket<'_>> {
    let mut declined = false;
    let d = decode_or(linktype, data, || {
        declined = true;
        DecodedPacket {
            ip: None,
            l4: L4::Other,
            stop: None,
            truncated: false,
            tunnel_depth: 0,
        }
    });
    (!declined).then_some(d)
}

/// The transport (TCP: `true`) and the two ends of a frame the fast path decodes, without
/// the rest of its decoding (TCP options, the segment's fields): `None` exactly where
/// `decode_fast` is `None`, and otherwise its addresses and ports. The sharded engine's
/// router hashes these to pick the flow's owner, and the owner decodes the frame in full.
#[inline]
pub fn flow_ends(linktype: LinkType, data: &[u8]) -> Option<(bool, IpInfo, u16, u16)> {
    let ip = network(linktype, data).and_then(ip_packet)?;
    let ports = |h: &[u8; 8]| {
        (
            u16::from_be_bytes([h[0], h[1]]),
            u16::from_be_bytes([h[2], h[3]]),
        )
    };
    if ip.proto == IPPROTO_TCP {
        // As `tcp`: a whole fixed header, a data offset of 5 or more, options captured.
        let (h, _) = ip.payload.split_first_chunk::<20>()?;
        let header_len = usize::from(h[12] >> 4) * 4;
        if header_len < 20 || ip.payload.len() < header_len {
            return None;
        }
        let (sp, dp) = ports(h.first_chunk::<8>()?);
        Some((true, ip.info, sp, dp))
    } else {
        // As `udp` (its payload is always there once the header is).
        let (h, _) = ip.payload.split_first_chunk::<8>()?;
        let (sp, dp) = ports(h);
        if [sp, dp]
            .iter()
            .any(|&p| p == UDP_PORT_VXLAN || p == UDP_PORT_TEREDO)
        {
            return None;
        }
        Some((false, ip.info, sp, dp))
    }
}

/// The IP packet in a frame, if the link layer is one the fast path reads.
#[inline(always)]
fn network(linktype: LinkType, data: &[u8]) -> Option<&[u8]> {
    // Ethernet first, without `split`'s result: it is nearly every frame.
    if linktype == LinkType::ETHERNET {
        return ethernet_ip(data);
    }
    // `split` is a few byte reads; its errors and odd results are left to the lax path.
    match link::split(linktype, data).ok()? {
        Network::Ethernet(frame) => ethernet_ip(frame),
        // etherparse picks IPv4 or IPv6 by the version nibble, not by the ethertype.
        Network::EtherType(ETHERTYPE_IPV4 | ETHERTYPE_IPV6, p) => Some(p),
        Network::EtherType(..) => None,
        Network::Ip(p) => Some(p),
    }
}

/// The IP packet after an Ethernet II header and up to two VLAN tags.
#[inline]
fn ethernet_ip(frame: &[u8]) -> Option<&[u8]> {
    let (eth, mut rest) = frame.split_first_chunk::<14>()?;
    let mut ether_type = u16::from_be_bytes([eth[12], eth[13]]);
    for _ in 0..MAX_FAST_VLAN_TAGS {
        if !matches!(
            ether_type,
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_VLAN_DOUBLE
        ) {
            break;
        }
        // A cut tag is a lax-path stop (truncated link header).
        let (tag, after) = rest.split_first_chunk::<4>()?;
        ether_type = u16::from_be_bytes([tag[2], tag[3]]);
        rest = after;
    }
    match ether_type {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Some(rest),
        _ => None,
    }
}

/// The network-layer facts the transport step needs.
struct IpPart<'a> {
    info: IpInfo,
    proto: u8,
    /// The IP payload as etherparse cuts it (at the declared length when it fits).
    payload: &'a [u8],
    /// The declared length did not fit in the capture.
    incomplete: bool,
    /// Declared total length and header length, for the wire length of a cut packet.
    declared_total: usize,
    header_len: usize,
}

#[inline(always)]
fn ip_packet(p: &[u8]) -> Option<IpPart<'_>> {
    match p.first()? >> 4 {
        4 => ipv4(p),
        6 => ipv6(p),
        _ => None,
    }
}

#[inline]
fn ipv4(p: &[u8]) -> Option<IpPart<'_>> {
    let (h, _) = p.split_first_chunk::<20>()?;
    let header_len = usize::from(h[0] & 0x0f) * 4;
    // Flags and fragment offset: MF set or a non-zero offset is a fragment (defragmenter).
    let frag = u16::from_be_bytes([h[6], h[7]]);
    let proto = h[9];
    if header_len < 20 || frag & 0x3fff != 0 || !matches!(proto, IPPROTO_TCP | IPPROTO_UDP) {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    let after_header = p.get(header_len..)?;
    // etherparse: a total length below the header length (TSO writes 0) means "use what was
    // captured"; one above the capture marks the payload incomplete; otherwise cut there
    // (which drops Ethernet padding).
    let (payload, incomplete) = if total < header_len {
        (after_header, false)
    } else if p.len() < total {
        (after_header, true)
    } else {
        (p.get(header_len..total)?, false)
    };
    Some(IpPart {
        info: IpInfo {
            src: IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15])),
            dst: IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19])),
            ttl: h[8],
            ip_id: Some(u16::from_be_bytes([h[4], h[5]])),
        },
        proto,
        payload,
        incomplete,
        declared_total: total,
        header_len,
    })
}

#[inline]
fn ipv6(p: &[u8]) -> Option<IpPart<'_>> {
    let (h, after_header) = p.split_first_chunk::<40>()?;
    let proto = h[6];
    // Any other next header (extension headers, fragments, ICMPv6) is the lax path's.
    if !matches!(proto, IPPROTO_TCP | IPPROTO_UDP) {
        return None;
    }
    let payload_len = usize::from(u16::from_be_bytes([h[4], h[5]]));
    // etherparse: a payload length of 0 with bytes after the header (jumbogram, TSO) means
    // "use what was captured"; one above the capture marks the payload incomplete.
    let (payload, incomplete) = if payload_len == 0 && !after_header.is_empty() {
        (after_header, false)
    } else if after_header.len() < payload_len {
        (after_header, true)
    } else {
        (after_header.get(..payload_len)?, false)
    };
    let (src, dst) = (ipv6_addr(h, 8), ipv6_addr(h, 24));
    Some(IpPart {
        info: IpInfo {
            src: IpAddr::V6(src),
            dst: IpAddr::V6(dst),
            ttl: h[7],
            ip_id: None,
        },
        proto,
        payload,
        incomplete,
        declared_total: 40 + payload_len,
        header_len: 40,
    })
}

#[inline]
fn ipv6_addr(h: &[u8; 40], at: usize) -> Ipv6Addr {
    let mut a = [0u8; 16];
    if let Some(s) = h.get(at..at + 16) {
        a.copy_from_slice(s);
    }
    Ipv6Addr::from(a)
}

#[inline]
fn tcp<'a>(ip: &IpPart<'a>) -> Option<TcpSegment<'a>> {
    let seg = ip.payload;
    let (h, _) = seg.split_first_chunk::<20>()?;
    let header_len = usize::from(h[12] >> 4) * 4;
    // A data offset below 5 or options past the capture is a lax-path stop.
    if header_len < 20 {
        return None;
    }
    let options = seg.get(20..header_len)?;
    let payload = seg.get(header_len..)?;
    let (window_scale, sack) = tcp_options(options);
    // The payload's length on the wire, as the lax path computes it: the declared IP length
    // when the capture cut the packet, else what was captured.
    let wire_payload = if ip.incomplete {
        ip.declared_total
            .saturating_sub(ip.header_len)
            .max(seg.len())
    } else {
        seg.len()
    };
    Some(TcpSegment {
        src_port: u16::from_be_bytes([h[0], h[1]]),
        dst_port: u16::from_be_bytes([h[2], h[3]]),
        seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        ack: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
        // FIN..URG are the low six bits; ECE/CWR (and NS in byte 12) are not kept.
        flags: TcpFlags(h[13] & 0x3f),
        window: u16::from_be_bytes([h[14], h[15]]),
        window_scale,
        sack,
        payload,
        wire_len: wire_payload.saturating_sub(header_len).max(payload.len()) as u32,
    })
}

#[inline]
fn udp(dgram: &[u8]) -> Option<UdpDatagram<'_>> {
    let (h, _) = dgram.split_first_chunk::<8>()?;
    let src_port = u16::from_be_bytes([h[0], h[1]]);
    let dst_port = u16::from_be_bytes([h[2], h[3]]);
    // VXLAN and Teredo are unwrapped by the lax path's `udp_tunnel`.
    if [src_port, dst_port]
        .iter()
        .any(|&p| p == UDP_PORT_VXLAN || p == UDP_PORT_TEREDO)
    {
        return None;
    }
    // etherparse lax: the UDP length cuts the datagram unless it is below 8 or past the capture.
    let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
    let end = if len < 8 || dgram.len() < len {
        dgram.len()
    } else {
        len
    };
    Some(UdpDatagram {
        src_port,
        dst_port,
        payload: dgram.get(8..end)?,
    })
}
