//! Running a compiled expression on one frame, as libpcap's BPF program would: tests are
//! evaluated left to right with short-circuit `and`/`or`, each test reads its fields in the
//! order libpcap's code reads them, and a read past the captured bytes rejects the whole
//! packet (BPF returns 0), even under a `not`. No allocation.

use crate::ast::{Dir, Expr, ExprKind, Test, TestKind};
use crate::view::{
    AF_INET, AF_INET6, Arp, Ipv4, Ipv6, Load, Null, Ports, Sll, Sll2, VLAN_TPIDS, ether_type,
    mac_is,
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
                Ok(crate::view::be8(d, 0)? & 0xf0 == version)
            }
            Link::Ipv4 => Ok(ethertype == IP),
            Link::Ipv6 => Ok(ethertype == IPV6),
        }
    }
}

/// The expression's verdict on `frame`; a read past the captured bytes rejects.
pub(crate) fn matches(e: &Expr, frame: &Frame<'_>) -> bool {
    eval(e, frame).unwrap_or(false)
}

fn eval(e: &Expr, f: &Frame<'_>) -> Load<bool> {
    match &e.kind {
        ExprKind::All(parts) => {
            for p in parts {
                if !eval(p, f)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        ExprKind::Any(parts) => {
            for p in parts {
                if eval(p, f)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        ExprKind::Not(inner) => Ok(!eval(inner, f)?),
        ExprKind::Test(t) => test(t, f),
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
        TestKind::EtherMulticast => Ok(crate::view::be8(d, 0)? & 1 != 0),
        TestKind::IpMulticast { v4: true } => {
            Ok(f.carries(IP, tags)? && crate::view::be8(d, at + 16)? >= 224)
        }
        TestKind::IpMulticast { v4: false } => {
            Ok(f.carries(IPV6, tags)? && crate::view::be8(d, at + 24)? == 255)
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
                Some(id) => Ok(crate::view::be16(d, at)? & 0x0fff == *id),
            }
        }
        TestKind::Len { at_least, value } => Ok(if *at_least {
            f.wire_len >= *value
        } else {
            f.wire_len <= *value
        }),
    }
}
