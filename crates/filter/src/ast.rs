//! The compiled expression: tests joined by and, or and not, each test already holding what
//! libpcap's code generator would have made of its qualifiers (`port 53` is TCP, UDP and
//! SCTP port 53 over IPv4 and IPv6; `host 10.0.0.1` looks in IPv4, ARP and RARP).
//!
//! `Display` prints the tree as an S-expression, the form the grammar tests compare.

use crate::error::Span;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A node of the expression tree and the text it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    /// What the node is.
    pub kind: ExprKind,
    /// The part of the expression it was compiled from.
    pub span: Span,
}

/// And, or, not, or a test. And and or are n-ary: a chain `a or b or c` is one node, so
/// that neither evaluation nor dropping the tree recurses once per term.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExprKind {
    /// True when every part is (evaluated left to right, stopping at the first false).
    All(Vec<Expr>),
    /// True when any part is (left to right, stopping at the first true).
    Any(Vec<Expr>),
    /// The opposite.
    Not(Box<Expr>),
    /// A primitive test on the frame.
    Test(Test),
}

/// Which address or port of a packet a test looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// `src`.
    Src,
    /// `dst`.
    Dst,
    /// `src or dst`, the default.
    SrcOrDst,
    /// `src and dst`.
    SrcAndDst,
}

/// The network protocols an IPv4 address test looks in. Unqualified (`host 10.0.0.1`),
/// libpcap looks at IPv4 addresses and at the protocol addresses of ARP and RARP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Carriers {
    /// IPv4 source and destination.
    pub ip: bool,
    /// ARP sender and target protocol addresses.
    pub arp: bool,
    /// The same in RARP.
    pub rarp: bool,
}

/// The transports a port test looks in. Unqualified (`port 53`), libpcap looks at TCP, UDP
/// and SCTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transports {
    /// TCP.
    pub tcp: bool,
    /// UDP.
    pub udp: bool,
    /// SCTP.
    pub sctp: bool,
}

/// A primitive test and where it looks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Test {
    /// The test.
    pub kind: TestKind,
    /// How many `vlan` keywords came before it in the expression: libpcap moves its link
    /// offsets past one 802.1Q tag per `vlan` for everything compiled after it, so this
    /// test looks that many tags deep (Ethernet only).
    pub vlan_depth: u8,
}

/// What a test checks. Values the wire can never hold (an IP protocol above 255, an
/// ethertype above 65535) are kept, as libpcap keeps them: the test then never matches.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TestKind {
    /// The link layer announces this protocol (`ip`, `ip6`, `arp`, `rarp`, `ether proto N`).
    EtherType(u32),
    /// The IPv4 protocol or IPv6 next header (`tcp`, `udp`, `icmp`, `icmp6`, `ip proto N`).
    /// For IPv6, a fragment header directly after the fixed header is looked through, as
    /// libpcap does.
    IpProto {
        /// The protocol number.
        proto: u32,
        /// Look in IPv4.
        v4: bool,
        /// Look in IPv6.
        v6: bool,
    },
    /// An IPv4 host or network (`host`, `net`).
    Ipv4 {
        /// The address, host bits clear.
        addr: Ipv4Addr,
        /// The network mask (all ones for a host).
        mask: u32,
        /// Source, destination or either.
        dir: Dir,
        /// Which protocols' addresses are looked at.
        carriers: Carriers,
    },
    /// An IPv6 host or network.
    Ipv6 {
        /// The address, host bits clear.
        addr: Ipv6Addr,
        /// The network mask.
        mask: u128,
        /// Source, destination or either.
        dir: Dir,
    },
    /// A TCP/UDP/SCTP port or port range (`port`, `portrange`), in the first fragment of an
    /// IPv4 datagram (later fragments carry no ports) or directly after the fixed IPv6
    /// header.
    Port {
        /// Lowest port.
        first: u16,
        /// Highest port (equal to `first` for `port`).
        last: u16,
        /// Source, destination or either.
        dir: Dir,
        /// Which transports.
        transports: Transports,
    },
    /// An Ethernet address (`ether host`, `ether src`, `ether dst`, `ether broadcast`).
    Ether {
        /// The MAC address.
        addr: [u8; 6],
        /// Source, destination or either.
        dir: Dir,
    },
    /// The group bit of the Ethernet destination (`ether multicast`).
    EtherMulticast,
    /// An IPv4 destination in 224.0.0.0/3 (`ip multicast`: libpcap tests the first byte
    /// >= 224) or an IPv6 destination in ff00::/8 (`ip6 multicast`).
    IpMulticast {
        /// IPv4 rather than IPv6.
        v4: bool,
    },
    /// An 802.1Q/802.1ad/QinQ tag at this depth, with this VLAN ID if given (`vlan`,
    /// `vlan 100`).
    Vlan {
        /// The VLAN ID.
        id: Option<u16>,
    },
    /// The length on the wire (`less N`: at most N; `greater N`: at least N).
    Len {
        /// At least (`greater`) rather than at most (`less`).
        at_least: bool,
        /// Bytes.
        value: u32,
    },
    /// An arithmetic comparison (`tcp[tcpflags] & tcp-syn != 0`, `ip[8] < 64`, `len > 1000`),
    /// unsigned 32-bit as in BPF. True only where the loads' protocol tests hold (`tcp[13]`
    /// needs an IPv4 TCP packet, not a later fragment) — as libpcap, those of each side's
    /// leftmost operand chain only: in `ip[2:2] - tcp[12]` nothing checks for TCP.
    Compare {
        /// Left operand.
        left: Arith,
        /// The comparison.
        op: Rel,
        /// Right operand.
        right: Arith,
    },
}

/// An arithmetic expression of a comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Arith {
    /// A constant.
    Num(u32),
    /// The length on the wire (`len`).
    Len,
    /// `proto[index:size]`: `size` bytes (1, 2 or 4), big-endian, `index` bytes into the
    /// header of `layer`.
    Load {
        /// Whose header the index counts from.
        layer: Layer,
        /// The offset.
        index: Box<Arith>,
        /// Bytes read.
        size: u8,
    },
    /// Two's complement negation (`-x`).
    Neg(Box<Arith>),
    /// A binary operation.
    Bin {
        /// Which.
        op: ArithOp,
        /// Left operand.
        left: Box<Arith>,
        /// Right operand.
        right: Box<Arith>,
    },
}

/// Where a load's index counts from, and what the packet must be for the load to count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Layer {
    /// The link-layer header (`ether[]`, `link[]`): no condition.
    Link,
    /// The network header, when the link layer announces this ethertype (`ip[]`, `ip6[]`,
    /// `arp[]`).
    Network(u32),
    /// The header after an IPv4 header (`tcp[]`, `udp[]`, `icmp[]`), when the IPv4 protocol
    /// is this one and the packet is not a later fragment.
    Transport(u8),
    /// The header after a fixed IPv6 header whose next header is ICMPv6 (`icmp6[]`).
    Icmp6,
}

/// A binary operator of libpcap's arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    And,
    Or,
    Xor,
    Shl,
    Shr,
}

/// A comparison, unsigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Rel {
    Gt,
    Ge,
    Eq,
    Ne,
    Lt,
    Le,
}

impl ArithOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Mod => "%",
            ArithOp::And => "&",
            ArithOp::Or => "|",
            ArithOp::Xor => "^",
            ArithOp::Shl => "<<",
            ArithOp::Shr => ">>",
        }
    }
}

impl Rel {
    /// The comparison as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Rel::Gt => ">",
            Rel::Ge => ">=",
            Rel::Eq => "=",
            Rel::Ne => "!=",
            Rel::Lt => "<",
            Rel::Le => "<=",
        }
    }
}

impl fmt::Display for Arith {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arith::Num(n) => write!(f, "{n}"),
            Arith::Len => f.write_str("len"),
            Arith::Load { layer, index, size } => {
                let name = match layer {
                    Layer::Link => "link".to_string(),
                    Layer::Network(0x0800) => "ip".to_string(),
                    Layer::Network(0x86dd) => "ip6".to_string(),
                    Layer::Network(0x0806) => "arp".to_string(),
                    Layer::Network(t) => format!("ethertype-0x{t:04x}"),
                    Layer::Transport(6) => "tcp".to_string(),
                    Layer::Transport(17) => "udp".to_string(),
                    Layer::Transport(1) => "icmp".to_string(),
                    Layer::Transport(p) => format!("ip-proto-{p}"),
                    Layer::Icmp6 => "icmp6".to_string(),
                };
                write!(f, "{name}[{index}:{size}]")
            }
            Arith::Neg(a) => write!(f, "(- {a})"),
            Arith::Bin { op, left, right } => write!(f, "({} {left} {right})", op.symbol()),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::All(parts) | ExprKind::Any(parts) => {
                let op = if matches!(self.kind, ExprKind::All(_)) {
                    "and"
                } else {
                    "or"
                };
                write!(f, "({op}")?;
                for p in parts {
                    write!(f, " {p}")?;
                }
                write!(f, ")")
            }
            ExprKind::Not(e) => write!(f, "(not {e})"),
            ExprKind::Test(t) => write!(f, "{t}"),
        }
    }
}

impl fmt::Display for Dir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dir::Src => "src",
            Dir::Dst => "dst",
            Dir::SrcOrDst => "src-or-dst",
            Dir::SrcAndDst => "src-and-dst",
        })
    }
}

/// `a/b/c` of the names whose flag is set.
fn names(f: &mut fmt::Formatter<'_>, set: &[(bool, &str)]) -> fmt::Result {
    let mut first = true;
    for (on, name) in set {
        if *on {
            if !first {
                f.write_str("/")?;
            }
            f.write_str(name)?;
            first = false;
        }
    }
    Ok(())
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        if self.vlan_depth > 0 {
            write!(f, "in-vlan{} ", self.vlan_depth)?;
        }
        match &self.kind {
            TestKind::EtherType(t) => write!(f, "ethertype 0x{t:04x}")?,
            TestKind::IpProto { proto, v4, v6 } => {
                names(f, &[(*v4, "ip"), (*v6, "ip6")])?;
                write!(f, " proto {proto}")?;
            }
            TestKind::Ipv4 {
                addr,
                mask,
                dir,
                carriers,
            } => {
                names(
                    f,
                    &[
                        (carriers.ip, "ip"),
                        (carriers.arp, "arp"),
                        (carriers.rarp, "rarp"),
                    ],
                )?;
                write!(f, " {dir} ")?;
                if *mask == u32::MAX {
                    write!(f, "host {addr}")?;
                } else if mask.leading_ones() + mask.trailing_zeros() == 32 {
                    write!(f, "net {addr}/{}", mask.leading_ones())?;
                } else {
                    write!(f, "net {addr} mask {}", Ipv4Addr::from(*mask))?;
                }
            }
            TestKind::Ipv6 { addr, mask, dir } => {
                if *mask == u128::MAX {
                    write!(f, "ip6 {dir} host {addr}")?;
                } else {
                    write!(f, "ip6 {dir} net {addr}/{}", mask.leading_ones())?;
                }
            }
            TestKind::Port {
                first,
                last,
                dir,
                transports,
            } => {
                names(
                    f,
                    &[
                        (transports.tcp, "tcp"),
                        (transports.udp, "udp"),
                        (transports.sctp, "sctp"),
                    ],
                )?;
                if first == last {
                    write!(f, " {dir} port {first}")?;
                } else {
                    write!(f, " {dir} portrange {first}-{last}")?;
                }
            }
            TestKind::Ether { addr, dir } => {
                let [a, b, c, d, e, g] = addr;
                write!(
                    f,
                    "ether {dir} {a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}"
                )?;
            }
            TestKind::EtherMulticast => f.write_str("ether multicast")?,
            TestKind::IpMulticast { v4 } => {
                f.write_str(if *v4 { "ip multicast" } else { "ip6 multicast" })?
            }
            TestKind::Vlan { id: None } => f.write_str("vlan")?,
            TestKind::Vlan { id: Some(id) } => write!(f, "vlan {id}")?,
            TestKind::Len { at_least, value } => {
                write!(f, "len {} {value}", if *at_least { ">=" } else { "<=" })?
            }
            TestKind::Compare { left, op, right } => write!(f, "{} {left} {right}", op.symbol())?,
        }
        f.write_str("]")
    }
}
