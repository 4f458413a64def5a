//! One captured frame -> the innermost IP header and transport header, borrowed.

use super::link::{self, ETHERTYPE_IPV4, ETHERTYPE_IPV6, Network};
use super::{DecodeError, Layer};
use crate::packet::LinkType;
use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// How many tunnel headers (GRE, ERSPAN, VXLAN, Teredo, IP-in-IP) we unwrap before giving up.
pub const MAX_TUNNEL_DEPTH: u8 = 4;

const IPPROTO_IPIP: u8 = 4;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_IPV6: u8 = 41;
const IPPROTO_GRE: u8 = 47;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_ICMPV6: u8 = 58;
pub(super) const UDP_PORT_VXLAN: u16 = 4789;
pub(super) const UDP_PORT_TEREDO: u16 = 3544;

/// The IP header fields the flow table and the diagnosis use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpInfo {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6).
    pub ttl: u8,
    /// IPv4 identification; None for IPv6.
    pub ip_id: Option<u16>,
}

/// TCP flag bits, as in the header's 13th byte (plus NS is ignored).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
    pub fn psh(self) -> bool {
        self.0 & Self::PSH != 0
    }
}

/// A TCP segment: header fields and the captured payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// Window scale option (SYN only).
    pub window_scale: Option<u8>,
    /// The segment carries SACK blocks (the receiver has a hole).
    pub sack: bool,
    /// The payload bytes that were captured.
    pub payload: &'a [u8],
    /// The payload length on the wire (from the IP length); more than `payload.len()` when the
    /// capture's snaplen cut the packet.
    pub wire_len: u32,
}

/// A UDP datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpDatagram<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
}

/// An ICMP/ICMPv6 error and the flow its quoted header belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpError {
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    /// The quoted packet's source and destination (the packet the error is about).
    pub quoted_src: IpAddr,
    pub quoted_dst: IpAddr,
    pub quoted_proto: u8,
    pub quoted_src_port: u16,
    pub quoted_dst_port: u16,
}

impl IcmpError {
    /// "Destination unreachable" in either family.
    pub fn is_unreachable(&self) -> bool {
        (!self.v6 && self.icmp_type == 3) || (self.v6 && self.icmp_type == 1)
    }
}

/// An IP fragment, to be handed to the defragmenter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    pub v6: bool,
    pub id: u32,
    /// Byte offset of this fragment in the original payload.
    pub offset: u32,
    pub more: bool,
    /// Protocol of the reassembled payload.
    pub proto: u8,
    pub payload: &'a [u8],
}

/// The transport part of a decoded packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4<'a> {
    Tcp(TcpSegment<'a>),
    Udp(UdpDatagram<'a>),
    IcmpError(IcmpError),
    Fragment(Fragment<'a>),
    /// Something we don't analyse (ARP, ICMP echo, IGMP, ...).
    Other,
}

/// A frame decoded as far as it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodedPacket<'a> {
    pub ip: Option<IpInfo>,
    pub l4: L4<'a>,
    /// Where and why decoding stopped early, if it did.
    pub stop: Option<(DecodeError, Layer)>,
    /// The frame was cut by the capture's snaplen inside the IP packet.
    pub truncated: bool,
    /// How many tunnel headers were unwrapped.
    pub tunnel_depth: u8,
}

impl<'a> DecodedPacket<'a> {
    fn stopped(e: DecodeError, layer: Layer) -> Self {
        DecodedPacket {
            ip: None,
            l4: L4::Other,
            stop: Some((e, layer)),
            truncated: false,
            tunnel_depth: 0,
        }
    }
}

/// The last IPv6 Fragment header in a chain of extension headers starting with type `first`:
/// (identification, byte offset, more fragments). Stops at the first header that is not an
/// extension header or does not fit.
fn v6_fragment_header(first: Option<u8>, mut exts: &[u8]) -> Option<(u32, u32, bool)> {
    let mut next = first?;
    let mut found = None;
    loop {
        let len = match next {
            // Hop-by-hop, routing, destination options: (hdr ext len + 1) * 8.
            0 | 43 | 60 => match exts.get(1) {
                Some(&n) => (usize::from(n) + 1) * 8,
                None => return found,
            },
            44 => {
                let (Some(&[a, b]), Some(&[c, d, e, f])) = (exts.get(2..4), exts.get(4..8)) else {
                    return found;
                };
                let off_flags = u16::from_be_bytes([a, b]);
                found = Some((
                    u32::from_be_bytes([c, d, e, f]),
                    u32::from(off_flags >> 3) * 8,
                    off_flags & 1 == 1,
                ));
                8
            }
            // Authentication header: (payload len + 2) * 4.
            51 => match exts.get(1) {
                Some(&n) => (usize::from(n) + 2) * 4,
                None => return found,
            },
            _ => return found,
        };
        let Some((h, rest)) = exts.split_at_checked(len) else {
            return found;
        };
        let Some(&n) = h.first() else {
            return found;
        };
        next = n;
        exts = rest;
    }
}

/// Decodes one captured frame.
///
/// Plain TCP/UDP over IPv4/IPv6 takes the fast path (`fast.rs`, fixed offsets); everything
/// else, and anything odd about those, goes through etherparse's lax slicing in `decode_lax`.
/// Both give the same result for every frame the fast path accepts.
#[inline]
pub fn decode(linktype: LinkType, data: &[u8]) -> DecodedPacket<'_> {
    super::fast::decode_or(linktype, data, || decode_lax(linktype, data))
}

/// Decodes one captured frame with etherparse's lax slicing only: the reference the fast path
/// is tested against, and the path for everything it declines.
#[doc(hidden)]
pub fn decode_lax(linktype: LinkType, data: &[u8]) -> DecodedPacket<'_> {
    match link::split(linktype, data) {
        Ok(net) => decode_network(net, 0),
        Err(e) => DecodedPacket::stopped(e, Layer::Link),
    }
}

fn decode_network(net: Network<'_>, depth: u8) -> DecodedPacket<'_> {
    if depth > MAX_TUNNEL_DEPTH {
        return DecodedPacket::stopped(DecodeError::TooDeep, Layer::Tunnel);
    }
    let sliced = match net {
        Network::Ethernet(d) => match LaxSlicedPacket::from_ethernet(d) {
            Ok(s) if s.net.is_none() && s.stop_err.is_none() => match link::ethernet_fallback(d) {
                Some(inner) => return decode_network(inner, depth + 1),
                None => s,
            },
            Ok(s) => s,
            Err(e) => {
                return DecodedPacket::stopped(
                    DecodeError::Truncated {
                        layer: Layer::Link,
                        needed: e.required_len,
                        available: e.len,
                    },
                    Layer::Link,
                );
            }
        },
        Network::EtherType(link::ETHERTYPE_PPPOE_SESSION, d) => {
            let session = match link::PppoeSession::new_checked(d) {
                Ok(s) => s,
                Err(e) => return DecodedPacket::stopped(e, Layer::Link),
            };
            let inner = match session.network() {
                Ok(inner) => inner,
                Err(e) => return DecodedPacket::stopped(e, Layer::Link),
            };
            // What follows is IPv4 or IPv6 (never PPPoE again), so the depth stays.
            let mut decoded = decode_network(inner, depth);
            if session.complete() {
                // An IP header declaring more than a whole PPP frame holds (seen on pure
                // ACKs whose IP length counts the Ethernet padding) is not a packet the
                // capture cut: nothing of it was missed (tshark: "IPv4 total length
                // exceeds packet length", TCP length 0; Zeek cuts at the PPPoE length too).
                decoded.truncated = false;
                if let L4::Tcp(t) = &mut decoded.l4 {
                    t.wire_len = t.payload.len() as u32;
                }
            }
            return decoded;
        }
        Network::EtherType(t, d) => {
            if t != ETHERTYPE_IPV4
                && t != ETHERTYPE_IPV6
                && t != link::ETHERTYPE_VLAN
                && t != link::ETHERTYPE_QINQ
            {
                return DecodedPacket::stopped(DecodeError::UnsupportedEtherType(t), Layer::Link);
            }
            LaxSlicedPacket::from_ether_type(etherparse::EtherType(t), d)
        }
        Network::Ip(d) => match LaxSlicedPacket::from_ip(d) {
            Ok(s) => s,
            Err(_) => return DecodedPacket::stopped(DecodeError::Malformed(Layer::Ip), Layer::Ip),
        },
    };
    from_sliced(sliced, depth)
}

fn stop_of(s: &LaxSlicedPacket<'_>) -> Option<(DecodeError, Layer)> {
    let (err, layer) = s.stop_err.as_ref()?;
    let ours = match layer {
        etherparse::err::Layer::Ethernet2Header
        | etherparse::err::Layer::VlanHeader
        | etherparse::err::Layer::LinuxSllHeader
        | etherparse::err::Layer::MacsecHeader => Layer::Link,
        etherparse::err::Layer::TcpHeader
        | etherparse::err::Layer::UdpHeader
        | etherparse::err::Layer::Icmpv4
        | etherparse::err::Layer::Icmpv6 => Layer::Transport,
        _ => Layer::Ip,
    };
    let e = match err {
        etherparse::err::packet::SliceError::Len(l) => DecodeError::Truncated {
            layer: ours,
            needed: l.required_len,
            available: l.len,
        },
        _ => DecodeError::Malformed(ours),
    };
    Some((e, ours))
}

fn from_sliced<'a>(s: LaxSlicedPacket<'a>, depth: u8) -> DecodedPacket<'a> {
    let stop = stop_of(&s);
    let Some(net) = s.net.as_ref() else {
        // ARP and the like end here without an error; a link-layer problem stops with one.
        return DecodedPacket {
            ip: None,
            l4: L4::Other,
            stop,
            truncated: false,
            tunnel_depth: depth,
        };
    };
    let (ip, payload, declared_total, ip_len) = match net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            let ip = IpInfo {
                src: IpAddr::V4(Ipv4Addr::from(h.source())),
                dst: IpAddr::V4(Ipv4Addr::from(h.destination())),
                ttl: h.ttl(),
                ip_id: Some(h.identification()),
            };
            let p = v4.payload();
            let total = h.total_len() as usize;
            if p.fragmented {
                let frag = Fragment {
                    v6: false,
                    id: h.identification() as u32,
                    offset: h.fragments_offset().value() as u32 * 8,
                    more: h.more_fragments(),
                    proto: p.ip_number.0,
                    payload: p.payload,
                };
                return DecodedPacket {
                    ip: Some(ip),
                    l4: L4::Fragment(frag),
                    stop,
                    truncated: p.incomplete,
                    tunnel_depth: depth,
                };
            }
            (
                ip,
                p,
                total,
                h.slice().len() + v4.extensions().auth.map_or(0, |a| a.slice().len()),
            )
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            let ip = IpInfo {
                src: IpAddr::V6(Ipv6Addr::from(h.source())),
                dst: IpAddr::V6(Ipv6Addr::from(h.destination())),
                ttl: h.hop_limit(),
                ip_id: None,
            };
            let p = v6.payload();
            if p.fragmented {
                // Not etherparse's extension iterator: it re-reads the lax-parsed slice with
                // `from_slice_unchecked`, which reads out of bounds on some damaged headers
                // (found by fuzz/ with debug assertions: etherparse 0.21
                // ipv6_raw_ext_header_slice.rs:87). This walk checks every length.
                let exts = v6.extensions();
                let frag = v6_fragment_header(exts.first_header().map(|n| n.0), exts.slice()).map(
                    |(id, offset, more)| Fragment {
                        v6: true,
                        id,
                        offset,
                        more,
                        proto: p.ip_number.0,
                        payload: p.payload,
                    },
                );
                let l4 = frag.map_or(L4::Other, L4::Fragment);
                return DecodedPacket {
                    ip: Some(ip),
                    l4,
                    stop,
                    truncated: p.incomplete,
                    tunnel_depth: depth,
                };
            }
            (
                ip,
                p,
                40 + h.payload_length() as usize,
                40 + v6.extensions().slice().len(),
            )
        }
        LaxNetSlice::Arp(_) => {
            return DecodedPacket {
                ip: None,
                l4: L4::Other,
                stop,
                truncated: false,
                tunnel_depth: depth,
            };
        }
    };
    let truncated = payload.incomplete;
    // The payload's length on the wire: what the IP header declares, unless it declares less
    // than was captured or nothing at all (TSO super-segments carry a total length of 0).
    let captured = payload.payload.len();
    let wire_payload = if truncated {
        declared_total.saturating_sub(ip_len).max(captured)
    } else {
        captured
    };
    let l4 = match &s.transport {
        Some(TransportSlice::Tcp(t)) => {
            let (window_scale, sack) = tcp_options(t.options());
            let hdr = t.header_slice().len();
            L4::Tcp(TcpSegment {
                src_port: t.source_port(),
                dst_port: t.destination_port(),
                seq: t.sequence_number(),
                ack: t.acknowledgment_number(),
                flags: TcpFlags(tcp_flag_byte(t)),
                window: t.window_size(),
                window_scale,
                sack,
                payload: t.payload(),
                wire_len: wire_payload.saturating_sub(hdr).max(t.payload().len()) as u32,
            })
        }
        Some(TransportSlice::Udp(u)) => {
            let d = UdpDatagram {
                src_port: u.source_port(),
                dst_port: u.destination_port(),
                payload: u.payload(),
            };
            if let Some(inner) = udp_tunnel(&d, depth) {
                return inner;
            }
            L4::Udp(d)
        }
        Some(TransportSlice::Icmpv4(i)) => match i.type_u8() {
            3 | 4 | 5 | 11 | 12 => icmp_error(false, i.type_u8(), i.code_u8(), i.payload()),
            _ => L4::Other,
        },
        Some(TransportSlice::Icmpv6(i)) => match i.type_u8() {
            1..=4 => icmp_error(true, i.type_u8(), i.code_u8(), i.payload()),
            _ => L4::Other,
        },
        _ => match payload.ip_number.0 {
            IPPROTO_GRE => {
                return gre(payload.payload, depth).unwrap_or(DecodedPacket {
                    ip: Some(ip),
                    l4: L4::Other,
                    stop: Some((DecodeError::Malformed(Layer::Tunnel), Layer::Tunnel)),
                    truncated,
                    tunnel_depth: depth,
                });
            }
            IPPROTO_IPIP | IPPROTO_IPV6 if stop.is_none() => {
                return decode_network(Network::Ip(payload.payload), depth + 1);
            }
            IPPROTO_TCP | IPPROTO_UDP | IPPROTO_ICMP | IPPROTO_ICMPV6 => L4::Other,
            _ => L4::Other,
        },
    };
    DecodedPacket {
        ip: Some(ip),
        l4,
        stop,
        truncated,
        tunnel_depth: depth,
    }
}

fn tcp_flag_byte(t: &etherparse::TcpSlice<'_>) -> u8 {
    let mut f = 0;
    if t.fin() {
        f |= TcpFlags::FIN;
    }
    if t.syn() {
        f |= TcpFlags::SYN;
    }
    if t.rst() {
        f |= TcpFlags::RST;
    }
    if t.psh() {
        f |= TcpFlags::PSH;
    }
    if t.ack() {
        f |= TcpFlags::ACK;
    }
    if t.urg() {
        f |= TcpFlags::URG;
    }
    f
}

/// A TCP segment from a reassembled IP payload (after defragmentation).
pub fn tcp_from_bytes(b: &[u8]) -> Option<TcpSegment<'_>> {
    let t = etherparse::TcpSlice::from_slice(b).ok()?;
    let (window_scale, sack) = tcp_options(t.options());
    Some(TcpSegment {
        src_port: t.source_port(),
        dst_port: t.destination_port(),
        seq: t.sequence_number(),
        ack: t.acknowledgment_number(),
        flags: TcpFlags(tcp_flag_byte(&t)),
        window: t.window_size(),
        window_scale,
        sack,
        payload: t.payload(),
        wire_len: t.payload().len() as u32,
    })
}

/// A UDP datagram from a reassembled IP payload: ports and payload.
pub fn udp_from_bytes(b: &[u8]) -> Option<(u16, u16, &[u8])> {
    let u = etherparse::UdpSlice::from_slice_lax(b).ok()?;
    Some((u.source_port(), u.destination_port(), u.payload()))
}

/// Window scale and SACK presence, walking the options by hand (cheaper than building
/// etherparse's option enums for every segment).
pub(super) fn tcp_options(mut opts: &[u8]) -> (Option<u8>, bool) {
    // Nearly every segment after the handshake carries exactly NOP, NOP, timestamps (RFC 7323
    // appendix A's layout, which Linux and the BSDs send): nothing to find in it.
    if opts.len() == 12 && opts.first_chunk::<4>() == Some(&[1, 1, 8, 10]) {
        return (None, false);
    }
    let (mut ws, mut sack) = (None, false);
    while let Some((&kind, rest)) = opts.split_first() {
        match kind {
            0 => break,
            1 => opts = rest,
            _ => {
                let Some(&len) = rest.first() else { break };
                let len = len as usize;
                if len < 2 || len > opts.len() {
                    break;
                }
                match kind {
                    3 => ws = opts.get(2).copied(),
                    5 => sack = true,
                    _ => {}
                }
                opts = opts.get(len..).unwrap_or(&[]);
            }
        }
    }
    (ws, sack)
}

/// The headers quoted inside an ICMP error: an IP header and at least 8 bytes of what followed.
fn icmp_error(v6: bool, icmp_type: u8, code: u8, quoted: &[u8]) -> L4<'_> {
    let Ok(inner) = LaxSlicedPacket::from_ip(quoted) else {
        return L4::Other;
    };
    let (src, dst, proto, l4) = match &inner.net {
        Some(LaxNetSlice::Ipv4(v4)) => (
            IpAddr::V4(Ipv4Addr::from(v4.header().source())),
            IpAddr::V4(Ipv4Addr::from(v4.header().destination())),
            v4.payload().ip_number.0,
            v4.payload().payload,
        ),
        Some(LaxNetSlice::Ipv6(v6h)) => (
            IpAddr::V6(Ipv6Addr::from(v6h.header().source())),
            IpAddr::V6(Ipv6Addr::from(v6h.header().destination())),
            v6h.payload().ip_number.0,
            v6h.payload().payload,
        ),
        _ => return L4::Other,
    };
    // Only the ports are needed, and RFC 792 guarantees just 8 bytes of the quoted transport
    // header, too few for etherparse's TCP slice: read them directly.
    let port = |at: usize| Some(u16::from_be_bytes([*l4.get(at)?, *l4.get(at + 1)?]));
    let (Some(sp), Some(dp)) = (port(0), port(2)) else {
        return L4::Other;
    };
    L4::IcmpError(IcmpError {
        v6,
        icmp_type,
        code,
        quoted_src: src,
        quoted_dst: dst,
        quoted_proto: proto,
        quoted_src_port: sp,
        quoted_dst_port: dp,
    })
}

/// VXLAN and Teredo carry whole packets in UDP.
fn udp_tunnel<'a>(d: &UdpDatagram<'a>, depth: u8) -> Option<DecodedPacket<'a>> {
    if d.dst_port == UDP_PORT_VXLAN || d.src_port == UDP_PORT_VXLAN {
        // 8-byte VXLAN header with the I flag (0x08) set, then an Ethernet frame.
        if d.payload.first() == Some(&0x08) {
            let inner = d.payload.get(8..)?;
            return Some(decode_network(Network::Ethernet(inner), depth + 1));
        }
    }
    if d.dst_port == UDP_PORT_TEREDO || d.src_port == UDP_PORT_TEREDO {
        let mut p = d.payload;
        // Authentication (0x0001) and origin indication (0x0000) headers may precede IPv6.
        if p.get(..2) == Some(&[0, 1]) {
            let id_len = *p.get(2)? as usize;
            let au_len = *p.get(3)? as usize;
            p = p.get(4 + id_len + au_len + 9..)?;
        }
        if p.get(..2) == Some(&[0, 0]) {
            p = p.get(8..)?;
        }
        if p.first().map(|b| b >> 4) == Some(6) && p.len() >= 40 {
            return Some(decode_network(
                Network::EtherType(ETHERTYPE_IPV6, p),
                depth + 1,
            ));
        }
    }
    None
}

/// GRE (RFC 2784/2890) and what it carries: IP, transparent Ethernet bridging, ERSPAN I/II/III.
fn gre(p: &[u8], depth: u8) -> Option<DecodedPacket<'_>> {
    let flags = u16::from_be_bytes([*p.first()?, *p.get(1)?]);
    let proto = u16::from_be_bytes([*p.get(2)?, *p.get(3)?]);
    if flags & 0x0007 != 0 {
        return None; // GRE version 1 is PPTP's enhanced GRE: not followed here.
    }
    let mut off = 4;
    if flags & 0x8000 != 0 {
        off += 4;
    }
    if flags & 0x2000 != 0 {
        off += 4;
    }
    let has_seq = flags & 0x1000 != 0;
    if has_seq {
        off += 4;
    }
    let inner = p.get(off..)?;
    let net = match proto {
        0x0800 | 0x86dd => Network::EtherType(proto, inner),
        0x6558 => Network::Ethernet(inner),
        // ERSPAN type II has an 8-byte header and needs the sequence bit; type I has neither.
        0x88be => Network::Ethernet(if has_seq { inner.get(8..)? } else { inner }),
        // ERSPAN type III: 12 bytes, plus 8 when the O flag (last bit) is set.
        0x22eb => {
            let o = inner.get(11)? & 0x01 != 0;
            Network::Ethernet(inner.get(if o { 20 } else { 12 }..)?)
        }
        _ => return None,
    };
    Some(decode_network(net, depth + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth_ipv4_tcp(payload: &[u8], flags: u8) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let total = (20 + 20 + payload.len()) as u16;
        f.extend_from_slice(&[
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0x12,
            0x34,
            0x40,
            0,
            63,
            6,
            0,
            0,
        ]);
        f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        f.extend_from_slice(&[
            0xc0, 0x00, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0,
        ]);
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn tcp_over_ethernet() {
        let f = eth_ipv4_tcp(b"hello", TcpFlags::PSH | TcpFlags::ACK);
        let d = decode(LinkType::ETHERNET, &f);
        assert_eq!(d.stop, None);
        let ip = d.ip.unwrap();
        assert_eq!(ip.ttl, 63);
        assert_eq!(ip.ip_id, Some(0x1234));
        let L4::Tcp(t) = d.l4 else {
            panic!("not tcp: {:?}", d.l4)
        };
        assert_eq!((t.src_port, t.dst_port, t.seq), (49152, 443, 1));
        assert_eq!(t.payload, b"hello");
        assert_eq!(t.wire_len, 5);
        assert!(t.flags.ack() && t.flags.psh() && !t.flags.syn());
    }

    #[test]
    fn snaplen_cut_keeps_wire_length() {
        let f = eth_ipv4_tcp(&[7u8; 100], TcpFlags::ACK);
        let d = decode(LinkType::ETHERNET, &f[..14 + 40 + 10]);
        assert!(d.truncated);
        let L4::Tcp(t) = d.l4 else { panic!() };
        assert_eq!(t.payload.len(), 10);
        assert_eq!(t.wire_len, 100);
    }

    #[test]
    fn tso_zero_total_length_uses_captured() {
        let mut f = eth_ipv4_tcp(&[1u8; 3000], TcpFlags::ACK);
        f[16] = 0;
        f[17] = 0;
        let d = decode(LinkType::ETHERNET, &f);
        let L4::Tcp(t) = d.l4 else { panic!("{:?}", d) };
        assert_eq!(t.payload.len(), 3000);
        assert_eq!(t.wire_len, 3000);
    }

    #[test]
    fn tcp_options_window_scale_and_sack() {
        let ts = [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2];
        assert_eq!(tcp_options(&ts), (None, false));
        // SYN: MSS, SACK permitted, timestamps, NOP, window scale 7.
        let syn = [
            2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        assert_eq!(tcp_options(&syn), (Some(7), false));
        // Timestamps then a SACK block: the block is found past the 12-byte layout.
        let mut sack = ts.to_vec();
        sack.extend_from_slice(&[1, 1, 5, 10, 0, 0, 0, 5, 0, 0, 0, 9]);
        assert_eq!(tcp_options(&sack), (None, true));
        // Same first bytes, but a damaged length: walked, and the walk stops.
        assert_eq!(tcp_options(&[1, 1, 8, 10, 0, 0]), (None, false));
        assert_eq!(
            tcp_options(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 3, 3, 9]),
            (Some(9), false)
        );
    }

    #[test]
    fn garbage_never_panics() {
        for lt in [0u32, 1, 12, 101, 108, 113, 228, 229, 276, 9999] {
            for n in 0..64 {
                let data: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
                let _ = decode(LinkType(lt), &data);
            }
        }
    }
}
