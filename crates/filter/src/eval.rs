//! Running a compiled expression on one frame. Each test reads its fields where and in the
//! order libpcap's generated code reads them.
//!
//! A frame cut short (snaplen) may lack a field a test needs. BPF then stops and rejects the
//! packet at the first load that does not fit, in whatever order libpcap's optimizer left
//! the loads: `tcp port 80 or 443` on a packet cut after the source port accepts source port
//! 443 (the optimizer tests both source ports before loading the destination port), while
//! the unoptimised order would have stopped at the missing destination port. To give an
//! answer that does not depend on an optimizer's choices, a test whose fields were not all
//! captured is *unknown* here, `and`/`or`/`not` follow Kleene's three-valued logic, and a
//! packet passes only when the captured bytes prove it does. That agrees with tcpdump on
//! every cut of the oracle's captures except frames too short to hold an Ethernet header
//! (see tests/oracle.rs). No allocation.

use crate::ast::{Arith, ArithOp, Dir, Expr, ExprKind, Layer, Rel, Test, TestKind};
use crate::view::{
    AF_INET, AF_INET6, Arp, Ipv4, Ipv6, Load, Null, OutOfBounds, Ports, Sll, Sll2, VLAN_TPIDS, be8,
    be16, be32, ether_type, mac_is,
};
use etherparse::{EtherType, IpNumber};

const IP: u32 = EtherType::IPV4.0 as u32;
const IPV6: u32 = EtherType::IPV6.0 as u32;
const ARP: u32 = EtherType::ARP.0 as u32;
const REVARP: u32 = 0x8035;
const FRAGMENT: u8 = IpNumber::IPV6_FRAGMENTATION_HEADER.0;

/// The link layers a filter can look through, by LINKTYPE_* value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Link {
    Ethernet,
    Sll,
    Sll2,
    Null,
    Loop,
    /// Raw IP (LINKTYPE_RAW, and 12 or 14 in old files): the version nibble tells.
    Raw,
    Ipv4,
    Ipv6,
    /// Cisco HDLC (LINKTYPE_C_HDLC): address, control, then the ethertype (libpcap's
    /// off_linktype 2, off_linkpl 4).
    Chdlc,
}

impl Link {
    pub(crate) fn of(link_type: u32) -> Option<Link> {
        Some(match link_type {
            1 => Link::Ethernet,
            113 => Link::Sll,
            276 => Link::Sll2,
            0 => Link::Null,
            108 => Link::Loop,
            101 | 12 | 14 => Link::Raw,
            228 => Link::Ipv4,
            229 => Link::Ipv6,
            104 => Link::Chdlc,
            _ => return None,
        })
    }

    /// libpcap's description of a link type (pcap_datalink_val_to_description).
    pub(crate) fn describe(link_type: u32) -> String {
        match link_type {
            1 => "Ethernet".into(),
            113 => "Linux cooked v1".into(),
            276 => "Linux cooked v2".into(),
            0 => "BSD loopback".into(),
            108 => "OpenBSD loopback".into(),
            101 | 12 | 14 => "Raw IP".into(),
            228 => "Raw IPv4".into(),
            229 => "Raw IPv6".into(),
            239 => "Linux netfilter log messages".into(),
            104 => "Cisco HDLC".into(),
            n => format!("link type {n}"),
        }
    }

    /// Where the network layer starts (libpcap's `off_linkpl`), `tags` VLAN tags deep.
    fn payload_at(self, tags: u8) -> usize {
        match self {
            Link::Ethernet => 14 + 4 * usize::from(tags),
            Link::Sll => Sll::LEN,
            Link::Sll2 => Sll2::LEN,
            Link::Null | Link::Loop => Null::LEN,
            Link::Raw | Link::Ipv4 | Link::Ipv6 => 0,
            Link::Chdlc => 4,
        }
    }
}

/// One captured frame.
pub(crate) struct Frame<'a> {
    pub data: &'a [u8],
    pub wire_len: u32,
    pub link: Link,
}

impl Frame<'_> {
    /// Whether the link layer says `ethertype` follows (libpcap's gen_linktype).
    fn carries(&self, ethertype: u32, tags: u8) -> Load<bool> {
        let d = self.data;
        match self.link {
            Link::Ethernet => Ok(u32::from(ether_type(d, tags)?) == ethertype),
            Link::Sll => Ok(u32::from(Sll(d).protocol()?) == ethertype),
            Link::Sll2 => Ok(u32::from(Sll2(d).protocol()?) == ethertype),
            Link::Null | Link::Loop => {
                let families: &[u32] = match ethertype {
                    IP => &AF_INET,
                    IPV6 => &AF_INET6,
                    _ => return Ok(false),
                };
                if self.link == Link::Null {
                    Null(d).family_is(families)
                } else {
                    Null(d).family_be_is(families)
                }
            }
            Link::Raw => {
                let version = match ethertype {
                    IP => 0x40,
                    IPV6 => 0x60,
                    _ => return Ok(false),
                };
                Ok(be8(d, 0)? & 0xf0 == version)
            }
            Link::Ipv4 => Ok(ethertype == IP),
            Link::Ipv6 => Ok(ethertype == IPV6),
            Link::Chdlc => Ok(u32::from(be16(d, 2)?) == ethertype),
        }
    }
}

/// The expression's verdict on `frame`: only a packet the captured bytes prove to pass.
pub(crate) fn matches(e: &Expr, frame: &Frame<'_>) -> bool {
    eval(e, frame) == Tri::Yes
}

/// Kleene's three values: a test whose fields were not all captured is `Unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tri {
    No,
    Yes,
    Unknown,
}

fn eval(e: &Expr, f: &Frame<'_>) -> Tri {
    match &e.kind {
        ExprKind::All(parts) => {
            let mut acc = Tri::Yes;
            for p in parts {
                match eval(p, f) {
                    Tri::No => return Tri::No,
                    Tri::Unknown => acc = Tri::Unknown,
                    Tri::Yes => {}
                }
            }
            acc
        }
        ExprKind::Any(parts) => {
            let mut acc = Tri::No;
            for p in parts {
                match eval(p, f) {
                    Tri::Yes => return Tri::Yes,
                    Tri::Unknown => acc = Tri::Unknown,
                    Tri::No => {}
                }
            }
            acc
        }
        ExprKind::Not(inner) => match eval(inner, f) {
            Tri::Yes => Tri::No,
            Tri::No => Tri::Yes,
            Tri::Unknown => Tri::Unknown,
        },
        ExprKind::Test(t) => match test(t, f) {
            Ok(true) => Tri::Yes,
            Ok(false) => Tri::No,
            Err(_) => Tri::Unknown,
        },
    }
}

/// `src`, `dst`, `src or dst` (source first), `src and dst`.
fn by_dir(dir: Dir, mut side: impl FnMut(bool) -> Load<bool>) -> Load<bool> {
    match dir {
        Dir::Src => side(true),
        Dir::Dst => side(false),
        Dir::SrcOrDst => Ok(side(true)? || side(false)?),
        Dir::SrcAndDst => Ok(side(true)? && side(false)?),
    }
}

fn test(t: &Test, f: &Frame<'_>) -> Load<bool> {
    let tags = t.vlan_depth;
    let at = f.link.payload_at(tags);
    let d = f.data;
    match &t.kind {
        TestKind::EtherType(et) => f.carries(*et, tags),
        TestKind::IpProto { proto, v4, v6 } => {
            // IPv4 first, then IPv6 (gen_proto's order).
            if *v4 && f.carries(IP, tags)? && u32::from(Ipv4 { data: d, at }.protocol()?) == *proto
            {
                return Ok(true);
            }
            if *v6 && f.carries(IPV6, tags)? {
                let ip6 = Ipv6 { data: d, at };
                let nh = ip6.next_header()?;
                if u32::from(nh) == *proto {
                    return Ok(true);
                }
                return Ok(nh == FRAGMENT && u32::from(ip6.fragment_next_header()?) == *proto);
            }
            Ok(false)
        }
        TestKind::Ipv4 {
            addr,
            mask,
            dir,
            carriers,
        } => {
            let want = u32::from(*addr);
            // A zero mask compares nothing: libpcap's optimizer drops the load.
            let same = |v: Load<u32>| -> Load<bool> {
                if *mask == 0 {
                    return Ok(true);
                }
                Ok(v? & mask == want)
            };
            for (on, ethertype) in [
                (carriers.ip, IP),
                (carriers.arp, ARP),
                (carriers.rarp, REVARP),
            ] {
                if !on {
                    continue;
                }
                let hit = by_dir(*dir, |src| {
                    if !f.carries(ethertype, tags)? {
                        return Ok(false);
                    }
                    if ethertype == IP {
                        let ip = Ipv4 { data: d, at };
                        same(if src { ip.src() } else { ip.dst() })
                    } else {
                        let arp = Arp { data: d, at };
                        same(if src { arp.sender() } else { arp.target() })
                    }
                })?;
                if hit {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        TestKind::Ipv6 { addr, mask, dir } => {
            let want = u128::from(*addr);
            by_dir(*dir, |src| {
                if !f.carries(IPV6, tags)? {
                    return Ok(false);
                }
                let ip6 = Ipv6 { data: d, at };
                for i in 0..4 {
                    let shift = 96 - 32 * i;
                    let m = (mask >> shift) as u32;
                    if m == 0 {
                        continue;
                    }
                    if ip6.addr_word(src, i as usize)? & m != (want >> shift) as u32 {
                        return Ok(false);
                    }
                }
                Ok(true)
            })
        }
        TestKind::Port {
            first,
            last,
            dir,
            transports,
        } => {
            let protos = [
                (transports.tcp, IpNumber::TCP.0),
                (transports.udp, IpNumber::UDP.0),
                (transports.sctp, IpNumber::SCTP.0),
            ];
            let in_range = |p: u16| *first <= p && p <= *last;
            let ports_match = |ports: Ports<'_>| {
                by_dir(*dir, |src| {
                    Ok(in_range(if src { ports.src()? } else { ports.dst()? }))
                })
            };
            // IPv6 first (gen_port6 is or'ed in front), ports right after the fixed header.
            if f.carries(IPV6, tags)? {
                let ip6 = Ipv6 { data: d, at };
                for (on, p) in protos {
                    if on
                        && ip6.next_header()? == p
                        && ports_match(Ports {
                            data: d,
                            at: at + Ipv6::LEN,
                        })?
                    {
                        return Ok(true);
                    }
                }
            }
            // IPv4: only the first fragment carries ports.
            if f.carries(IP, tags)? {
                let ip = Ipv4 { data: d, at };
                for (on, p) in protos {
                    if on
                        && ip.protocol()? == p
                        && !ip.is_later_fragment()?
                        && ports_match(Ports {
                            data: d,
                            at: ip.payload_at()?,
                        })?
                    {
                        return Ok(true);
                    }
                }
            }
            Ok(false)
        }
        TestKind::Ether { addr, dir } => {
            by_dir(*dir, |src| mac_is(d, if src { 6 } else { 0 }, addr))
        }
        TestKind::EtherMulticast => Ok(be8(d, 0)? & 1 != 0),
        TestKind::IpMulticast { v4: true } => Ok(f.carries(IP, tags)? && be8(d, at + 16)? >= 224),
        TestKind::IpMulticast { v4: false } => {
            Ok(f.carries(IPV6, tags)? && be8(d, at + 24)? == 255)
        }
        TestKind::Vlan { id } => {
            if f.link != Link::Ethernet {
                return Ok(false);
            }
            let tpid = ether_type(d, tags)?;
            if !VLAN_TPIDS.contains(&tpid) {
                return Ok(false);
            }
            match id {
                None => Ok(true),
                // The tag control word right after this tag's TPID.
                Some(id) => Ok(be16(d, at)? & 0x0fff == *id),
            }
        }
        TestKind::Len { at_least, value } => Ok(if *at_least {
            f.wire_len >= *value
        } else {
            f.wire_len <= *value
        }),
        TestKind::Compare { left, op, right } => {
            // The loads' protocol tests come first, as libpcap ands them in front.
            if !guards(left, f, tags)? || !guards(right, f, tags)? {
                return Ok(false);
            }
            let (a, b) = (value(left, f, tags)?, value(right, f, tags)?);
            Ok(match op {
                Rel::Gt => a > b,
                Rel::Ge => a >= b,
                Rel::Eq => a == b,
                Rel::Ne => a != b,
                Rel::Lt => a < b,
                Rel::Le => a <= b,
            })
        }
    }
}

/// Whether the loads of `a` read the headers they name (`tcp[13]` needs IPv4 carrying TCP,
/// first fragment). As libpcap's gen_arth, a binary operation keeps only its left operand's
/// conditions: in `ip[2:2] - tcp[12]` the TCP test is dropped, and on a UDP packet `tcp[12]`
/// reads the bytes where a TCP header's would be.
fn guards(a: &Arith, f: &Frame<'_>, tags: u8) -> Load<bool> {
    match a {
        Arith::Num(_) | Arith::Len => Ok(true),
        Arith::Neg(x) => guards(x, f, tags),
        Arith::Bin { left, .. } => guards(left, f, tags),
        Arith::Load { layer, index, .. } => {
            if !guards(index, f, tags)? {
                return Ok(false);
            }
            let at = f.link.payload_at(tags);
            match layer {
                Layer::Link => Ok(true),
                Layer::Network(et) => f.carries(*et, tags),
                Layer::Transport(p) => {
                    if !f.carries(IP, tags)? {
                        return Ok(false);
                    }
                    let ip = Ipv4 { data: f.data, at };
                    Ok(ip.protocol()? == *p && !ip.is_later_fragment()?)
                }
                Layer::Icmp6 => Ok(f.carries(IPV6, tags)?
                    && Ipv6 { data: f.data, at }.next_header()? == IpNumber::IPV6_ICMP.0),
            }
        }
    }
}

/// An arithmetic value, unsigned 32-bit with wrap-around as in BPF; a load past the captured
/// bytes or a division by zero stops (BPF returns 0 for both).
fn value(a: &Arith, f: &Frame<'_>, tags: u8) -> Load<u32> {
    Ok(match a {
        Arith::Num(n) => *n,
        Arith::Len => f.wire_len,
        Arith::Neg(x) => 0u32.wrapping_sub(value(x, f, tags)?),
        Arith::Bin { op, left, right } => {
            let (l, r) = (value(left, f, tags)?, value(right, f, tags)?);
            match op {
                ArithOp::Add => l.wrapping_add(r),
                ArithOp::Sub => l.wrapping_sub(r),
                ArithOp::Mul => l.wrapping_mul(r),
                ArithOp::Div => l.checked_div(r).ok_or(OutOfBounds)?,
                ArithOp::Mod => l.checked_rem(r).ok_or(OutOfBounds)?,
                ArithOp::And => l & r,
                ArithOp::Or => l | r,
                ArithOp::Xor => l ^ r,
                ArithOp::Shl => l.checked_shl(r).unwrap_or(0),
                ArithOp::Shr => l.checked_shr(r).unwrap_or(0),
            }
        }
        Arith::Load { layer, index, size } => {
            let at = f.link.payload_at(tags);
            let base = match layer {
                Layer::Link => 0,
                Layer::Network(_) => at,
                Layer::Transport(_) => Ipv4 { data: f.data, at }.payload_at()?,
                Layer::Icmp6 => at + Ipv6::LEN,
            };
            let off = base
                .checked_add(value(index, f, tags)? as usize)
                .ok_or(OutOfBounds)?;
            match size {
                1 => u32::from(be8(f.data, off)?),
                2 => u32::from(be16(f.data, off)?),
                _ => be32(f.data, off)?,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::{Filter, FilterError};

    const ETHERNET: u32 = 1;

    /// An IPv4/TCP packet 10.0.0.1:sport -> 10.0.0.2:dport, as an IP datagram.
    fn ipv4_tcp(sport: u16, dport: u16) -> Vec<u8> {
        let mut ip = vec![
            0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        ip.extend_from_slice(&sport.to_be_bytes());
        ip.extend_from_slice(&dport.to_be_bytes());
        ip.extend_from_slice(&[0; 16]);
        ip
    }

    /// An IPv6/TCP packet fd00::1 -> fd00::2, optionally behind a fragment header.
    fn ipv6_tcp(sport: u16, dport: u16, fragment: bool) -> Vec<u8> {
        let mut ip = vec![0x60, 0, 0, 0, 0, 20, if fragment { 44 } else { 6 }, 64];
        ip.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        ip.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        if fragment {
            ip.extend_from_slice(&[6, 0, 0, 1, 0, 0, 0, 7]);
        }
        ip.extend_from_slice(&sport.to_be_bytes());
        ip.extend_from_slice(&dport.to_be_bytes());
        ip.extend_from_slice(&[0; 16]);
        ip
    }

    fn ether(tags: &[(u16, u16)], ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![
            0xee, 0xec, 0xd3, 0xa1, 0x50, 0xdd, 0x02, 0x68, 0x54, 0xad, 0xd5, 0x3e,
        ];
        for (tpid, tci) in tags {
            f.extend_from_slice(&tpid.to_be_bytes());
            f.extend_from_slice(&tci.to_be_bytes());
        }
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn arp(spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
        let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1, 2, 0x68, 0x54, 0xad, 0xd5, 0x3e];
        a.extend_from_slice(&spa);
        a.extend_from_slice(&[0; 6]);
        a.extend_from_slice(&tpa);
        a
    }

    fn pass(expr: &str, link_type: u32, frame: &[u8]) -> bool {
        let f = Filter::new(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        let p = f
            .for_link_type(link_type)
            .unwrap_or_else(|e| panic!("{expr}: {e}"));
        p.matches(frame, frame.len() as u32)
    }

    #[test]
    fn ports_in_ipv4_first_fragments_only() {
        let frame = ether(&[], 0x0800, &ipv4_tcp(40000, 443));
        assert!(pass("tcp port 443", ETHERNET, &frame));
        assert!(pass(
            "dst port 443 and src portrange 40000-40010",
            ETHERNET,
            &frame
        ));
        assert!(!pass("src port 443", ETHERNET, &frame));
        assert!(!pass("udp port 443", ETHERNET, &frame));
        let mut later = frame.clone();
        later[20] = 0x01; // fragment offset 256 x 8 bytes
        assert!(pass("tcp", ETHERNET, &later));
        assert!(!pass("port 443", ETHERNET, &later));
        // The header length decides where the ports are, whatever it says.
        let mut long = frame.clone();
        long[14] = 0x46;
        assert!(!pass("port 443", ETHERNET, &long));
    }

    #[test]
    fn ipv6_fragment_header_for_protocols_not_ports() {
        let plain = ether(&[], 0x86dd, &ipv6_tcp(1234, 80, false));
        let frag = ether(&[], 0x86dd, &ipv6_tcp(1234, 80, true));
        for f in [&plain, &frag] {
            assert!(pass("tcp and ip6 and host fd00::2", ETHERNET, f));
            assert!(pass("net fd00::/8 and not ip", ETHERNET, f));
        }
        assert!(pass("port 80", ETHERNET, &plain));
        assert!(!pass("port 80", ETHERNET, &frag));
        assert!(!pass("host fd00::3", ETHERNET, &plain));
    }

    #[test]
    fn host_includes_arp_unless_qualified() {
        let frame = ether(&[], 0x0806, &arp([10, 0, 0, 1], [10, 0, 0, 2]));
        assert!(pass("host 10.0.0.2", ETHERNET, &frame));
        assert!(pass("arp src host 10.0.0.1", ETHERNET, &frame));
        assert!(!pass("ip host 10.0.0.2", ETHERNET, &frame));
        assert!(!pass("arp dst host 10.0.0.1", ETHERNET, &frame));
    }

    #[test]
    fn vlan_moves_the_rest_of_the_expression() {
        let ip = ipv4_tcp(1, 2);
        let tagged = ether(&[(0x8100, 100)], 0x0800, &ip);
        let qinq = ether(&[(0x88a8, 200), (0x8100, 2001)], 0x0800, &ip);
        assert!(!pass("ip", ETHERNET, &tagged));
        assert!(pass("vlan and ip", ETHERNET, &tagged));
        assert!(pass("vlan 100 and tcp port 2", ETHERNET, &tagged));
        assert!(!pass("vlan 101", ETHERNET, &tagged));
        // After `vlan`, `or` looks inside the tag too: an untagged IP packet fails.
        assert!(!pass("vlan or ip", ETHERNET, &ether(&[], 0x0800, &ip)));
        assert!(pass(
            "vlan 200 and vlan 2001 and host 10.0.0.1",
            ETHERNET,
            &qinq
        ));
        assert!(!pass("vlan and ip", ETHERNET, &qinq));
    }

    #[test]
    fn cooked_null_and_raw_links() {
        let ip = ipv4_tcp(1, 2);
        let mut sll = vec![0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00];
        sll.extend_from_slice(&ip);
        assert!(pass("tcp port 2 and host 10.0.0.2", 113, &sll));
        let mut sll2 = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        sll2.extend_from_slice(&ip);
        assert!(pass("tcp port 2 and host 10.0.0.2", 276, &sll2));
        for family in [[2, 0, 0, 0], [0, 0, 0, 2]] {
            let mut null = family.to_vec();
            null.extend_from_slice(&ip);
            assert!(pass("tcp port 2", 0, &null));
        }
        let v6 = ipv6_tcp(1, 2, false);
        for (family, ok) in [(24u32, true), (28, true), (30, true), (10, false)] {
            let mut null = family.to_le_bytes().to_vec();
            null.extend_from_slice(&v6);
            assert_eq!(pass("ip6 and port 2", 0, &null), ok, "AF {family}");
        }
        assert!(pass("ip and tcp", 101, &ip));
        assert!(!pass("ip6", 101, &ip));
        assert!(pass("ip6 and tcp", 101, &v6));
        assert!(pass("ip and port 2", 228, &ip));
        assert!(!pass("ip", 229, &v6));
    }

    #[test]
    fn cut_frames_pass_only_if_the_captured_bytes_prove_it() {
        let full = ether(&[], 0x0800, &ipv4_tcp(443, 80));
        // Cut after the source port.
        let cut = &full[..14 + 20 + 2];
        let f = Filter::new("tcp port 8080 or 443").unwrap();
        let p = f.for_link_type(ETHERNET).unwrap();
        assert!(p.matches(cut, full.len() as u32));
        assert!(!pass("tcp dst port 80", ETHERNET, cut));
        assert!(!pass("not tcp dst port 80", ETHERNET, cut));
        assert!(!pass("not tcp dst port 81", ETHERNET, cut));
        assert!(pass("tcp dst port 81 or tcp", ETHERNET, cut));
        // Lengths are the wire length, not what was captured.
        assert!(p.matches(cut, 1500));
        let g = Filter::new("greater 1000").unwrap();
        assert!(g.for_link_type(ETHERNET).unwrap().matches(cut, 1500));
        assert!(!g.for_link_type(ETHERNET).unwrap().matches(&full, 100));
        for n in 0..full.len() {
            // Hostile input: any cut of any frame is answered, never a panic.
            let _ = p.matches(&full[..n], n as u32);
        }
    }

    #[test]
    fn arithmetic_with_libpcaps_conditions() {
        let syn = {
            let mut ip = ipv4_tcp(40000, 443);
            ip[33] = 0x02; // TCP flags: SYN
            ether(&[], 0x0800, &ip)
        };
        let udp = {
            let mut ip = ipv4_tcp(5353, 53);
            ip[9] = 17;
            ether(&[], 0x0800, &ip)
        };
        assert!(pass("tcp[tcpflags] & tcp-syn != 0", ETHERNET, &syn));
        assert!(pass(
            "tcp[13] = 2 and ip[9] = 6 and ip[2:2] = 40",
            ETHERNET,
            &syn
        ));
        assert!(pass("tcp[0:2] = 40000 and tcp[2:2] = 443", ETHERNET, &syn));
        assert!(pass(
            "len - 14 = ip[2:2] and ether[12:2] = 0x800",
            ETHERNET,
            &syn
        ));
        // `tcp[...]` holds only for TCP...
        assert!(!pass("tcp[0:2] = 5353", ETHERNET, &udp));
        assert!(pass("udp[0:2] = 5353", ETHERNET, &udp));
        // ...unless it is a right operand, whose conditions libpcap drops.
        assert!(pass("udp[0:2] + tcp[0:2] = 10706", ETHERNET, &udp));
        // Unsigned 32-bit wrap-around, shifts past 31 give 0.
        assert!(pass("0 - 1 = 0xffffffff and -1 > 0", ETHERNET, &syn));
        assert!(pass("1 << (ip[9] * 6) = 0", ETHERNET, &syn));
        // A division by zero at run time stops, as a cut frame does.
        assert!(!pass("ip[9] / (ip[9] - 6) = 0", ETHERNET, &syn));
        assert!(!pass("not ip[9] / (ip[9] - 6) = 0", ETHERNET, &syn));
        // Past the captured bytes.
        assert!(!pass("tcp[100] = 0", ETHERNET, &syn));
        assert!(pass("tcp[100] = 0 or tcp", ETHERNET, &syn));
    }

    #[test]
    fn link_types_refused_as_libpcap_does() {
        let refusal = |expr: &str, lt: u32| match Filter::new(expr).unwrap().for_link_type(lt) {
            Err(FilterError::LinkType { message, .. }) => message,
            other => panic!("{expr} on {lt}: {other:?}"),
        };
        assert_eq!(refusal("vlan", 113), "no VLAN support for Linux cooked v1");
        assert_eq!(
            refusal("tcp and vlan", 276),
            "no VLAN support for Linux cooked v2"
        );
        assert!(
            refusal("ether host 1:2:3:4:5:6", 0).starts_with("ethernet addresses supported only")
        );
        assert_eq!(
            refusal("tcp", 239),
            "NFLOG link-layer type filtering not implemented"
        );
        assert!(Filter::new("less 100").unwrap().for_link_type(239).is_ok());
        assert!(
            Filter::new("ether[0] = 1 and len > 0")
                .unwrap()
                .for_link_type(239)
                .is_ok()
        );
        assert_eq!(
            refusal("ip[0] = 0x45", 239),
            "NFLOG link-layer type filtering not implemented"
        );
        assert!(Filter::new("").unwrap().for_link_type(239).is_ok());
    }
}
