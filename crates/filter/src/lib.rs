//! modsniff-filter: tcpdump's capture-filter expressions (`tcp port 443`, `host 10.0.0.1 and
//! not port 53`), parsed and evaluated in Rust.
//!
//! # Why it is written here
//!
//! `modsniff read` takes a filter the way tcpdump does, but the default build of modsniff
//! links no libpcap (reading captures is pure Rust, live capture is a feature). So the part
//! of libpcap's filter compiler people actually use is reimplemented: the grammar of
//! libpcap's `grammar.y` (same precedence, same implicit qualifiers, same errors where
//! libpcap has them) and the meaning its code generator gives each primitive, evaluated on
//! the raw frame the way the generated BPF program runs on it. `modsniff live`, which has
//! libpcap, hands the same text to libpcap's compiler for the kernel instead.
//!
//! ```
//! use modsniff_filter::Filter;
//! let f = Filter::new("tcp port 443 and not host 10.0.0.1")?;
//! let on_ethernet = f.for_link_type(1)?; // LINKTYPE_ETHERNET
//! assert!(!on_ethernet.matches(&[0u8; 60], 60)); // ethertype 0: not IP
//! # Ok::<(), modsniff_filter::FilterError>(())
//! ```
//!
//! # What it covers
//!
//! - `host`, `net` (`10.0.0.0/8`, `10.0.0.0 mask 255.0.0.0`, short forms `net 10` and
//!   `net 10.1`), IPv4 and IPv6 literals and names (resolved once, by the system resolver,
//!   as libpcap does); `port`, `portrange` with numbers or service names; `src`, `dst`,
//!   `src or dst`, `src and dst`; `ether host|src|dst` with a MAC address.
//! - Protocols: `ip`, `ip6`, `arp`, `rarp`, `tcp`, `udp`, `sctp`, `icmp`, `icmp6`, `igmp`,
//!   `igrp`, `pim`, `vrrp`, `carp`, `ah`, `esp`, `decnet`, `lat`, `sca`, `mopdl`, `moprc`;
//!   `proto N` and `ip proto \tcp`, `ip6 proto N`, `ether proto N|\name`.
//! - `vlan` and `vlan N` with libpcap's meaning: each `vlan` moves every test compiled after
//!   it, anywhere in the rest of the expression, one 802.1Q/802.1ad/QinQ tag deeper.
//! - `less N`, `greater N` (wire length), `[ether|ip|ip6] multicast`, `[ether|ip]
//!   broadcast` (for `ip broadcast`, tcpdump -r's netmask of 0: 0.0.0.0 and
//!   255.255.255.255).
//! - Arithmetic comparisons: `proto[index]`, `proto[index:size]` for `ether`/`link`, `ip`,
//!   `ip6`, `arp`, `rarp`, `tcp`, `udp`, `icmp`, `icmp6`, `sctp`, `igmp`, `pim`, `vrrp`,
//!   ...; `len`; `+ - * / % & | ^ << >>`, unary `-`; `> >= = == != < <=`; the named
//!   constants (`tcpflags`, `tcp-syn`, `icmptype`, `icmp-echo`, ...). Unsigned 32-bit,
//!   with libpcap's precedence (bison gives `%` and `^` none, so they take everything
//!   after them) and libpcap's protocol conditions (`tcp[13]` holds only for IPv4 TCP, first
//!   fragment; a binary operation keeps only its left operand's conditions, as gen_arth).
//! - `and`/`&&`, `or`/`||` (equal precedence, left to right), `not`/`!` (binds tighter),
//!   parentheses, and the qualifier inheritance of `host a or b`, `port 80 or 443`.
//!
//! Implicit qualifiers are libpcap's: `port 53` is TCP, UDP or SCTP port 53 over IPv4 or
//! IPv6; `host h` is source or destination in IPv4, IPv6 (by the address family), and the
//! protocol addresses of ARP and RARP; `tcp` includes IPv6 with a fragment header; ports are
//! read only from the first fragment of an IPv4 datagram and directly after the fixed IPv6
//! header; a service name keeps only the transports /etc/services lists it for (`port
//! http` is TCP only).
//!
//! Link types: Ethernet (with tags under `vlan`), Linux cooked v1 and v2, BSD null and
//! OpenBSD loopback, raw IP, raw IPv4, raw IPv6. Length tests and `ether[]` loads work on
//! any link type.
//!
//! # What it does not cover
//!
//! `mpls`, `pppoes`, `geneve`, `gateway`, `protochain`, `inbound`/`outbound`, `ifindex`, 802.11, ATM, SS7, pflog,
//! OSI/IPX/NetBEUI/AppleTalk tests, `ether proto` values of 1500 and below (LLC SAPs),
//! names from /etc/networks and /etc/ethers, and ARCnet addresses. These are refused with
//! [`FilterError::Unsupported`], never silently read otherwise. Service and protocol
//! names come from built-in tables (Debian netbase's entries for the common names), not
//! from the machine's files. libpcap's optimizer refuses some expressions outright
//! ("expression rejects all packets"); here they compile and match nothing.
//!
//! # Guarantees
//!
//! No unsafe code; no panic and no allocation when evaluating a packet. A packet cut short
//! passes only if its captured bytes prove it does (a test whose fields are missing is
//! unknown; and/or/not follow three-valued logic), so the verdict does not depend on the
//! order of the tests, where BPF's depends on its optimizer. Nesting is bounded
//! ([`MAX_NESTING`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

mod ast;
mod error;
mod eval;
mod lex;
mod names;
mod parse;
mod view;

pub use ast::{
    Arith, ArithOp, Carriers, Dir, Expr, ExprKind, Layer, Rel, Test, TestKind, Transports,
};
pub use error::{FilterError, Span};
pub use parse::{MAX_NESTING, MAX_VLAN_DEPTH};

use eval::{Frame, Link};

/// Whether a command-line word can begin a filter expression. Every expression begins with
/// a keyword (`tcp`, `host`, `src`, `port`, `vlan`, `less`, ...), `not`, `!` or `(`; names,
/// addresses and numbers never do. Words are cut as tcpdump cuts them, so `ether.pcap` and
/// `vlan-trace.pcap` are names, not keywords. `modsniff read` uses this to tell capture
/// files from the expression that follows them.
pub fn starts_expression(word: &str) -> bool {
    use lex::Tok;
    match lex::lex(word) {
        Ok(tokens) => matches!(
            tokens.first().map(|t| t.tok),
            Some(Tok::Kw(_) | Tok::Not | Tok::LParen)
        ),
        Err(_) => false,
    }
}

/// A parsed filter expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    text: String,
    expr: Option<Expr>,
}

impl Filter {
    /// Parses an expression. The empty expression accepts every packet, as in tcpdump.
    /// Host names are resolved here, once, by the system resolver.
    pub fn new(expression: &str) -> Result<Filter, FilterError> {
        Filter::with_resolver(expression, &names::resolve)
    }

    /// Parses an expression, resolving host names with `resolve` (all of a name's
    /// addresses; none for an unknown name).
    pub fn with_resolver(
        expression: &str,
        resolve: &dyn Fn(&str) -> Vec<std::net::IpAddr>,
    ) -> Result<Filter, FilterError> {
        let tokens = lex::lex(expression)?;
        let expr = parse::parse(expression, &tokens, resolve)?;
        Ok(Filter {
            text: expression.to_string(),
            expr,
        })
    }

    /// The expression as given (spans index into it).
    pub fn expression(&self) -> &str {
        &self.text
    }

    /// The compiled tree; `None` for the empty expression.
    pub fn expr(&self) -> Option<&Expr> {
        self.expr.as_ref()
    }

    /// The filter for frames of one link type (a LINKTYPE_* value, as in pcap files), or
    /// the error libpcap gives when it cannot compile the expression for that link type
    /// ("no VLAN support for Linux cooked v1").
    pub fn for_link_type(&self, link_type: u32) -> Result<Program<'_>, FilterError> {
        let link = Link::of(link_type);
        if let Some(e) = &self.expr {
            check(e, link, link_type)?;
        }
        Ok(Program {
            expr: self.expr.as_ref(),
            // An unknown link type passed the check only if every test is a length test,
            // which reads no byte: any link will do.
            link: link.unwrap_or(Link::Raw),
        })
    }
}

impl std::fmt::Display for Filter {
    /// The compiled tree as an S-expression (`(or [ip/ip6 proto 6] ...)`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.expr {
            Some(e) => write!(f, "{e}"),
            None => f.write_str("(accept all)"),
        }
    }
}

/// A filter ready for frames of one link type.
#[derive(Clone, Copy, Debug)]
pub struct Program<'f> {
    expr: Option<&'f Expr>,
    link: Link,
}

impl Program<'_> {
    /// Whether a frame passes: `data` is what was captured, `wire_len` the length on the
    /// wire (`less`/`greater` test it, as BPF's `len`).
    pub fn matches(&self, data: &[u8], wire_len: u32) -> bool {
        match self.expr {
            None => true,
            Some(e) => eval::matches(
                e,
                &Frame {
                    data,
                    wire_len,
                    link: self.link,
                },
            ),
        }
    }
}

/// Whether an arithmetic expression needs to know the network layer (`ip[0]`, `tcp[13]`;
/// `ether[0]` and `len` work on any link type).
fn reads_past_link(a: &Arith) -> bool {
    match a {
        Arith::Num(_) | Arith::Len => false,
        Arith::Neg(x) => reads_past_link(x),
        Arith::Bin { left, right, .. } => reads_past_link(left) || reads_past_link(right),
        Arith::Load { layer, index, .. } => *layer != Layer::Link || reads_past_link(index),
    }
}

/// Refuses what libpcap refuses to compile for this link type.
fn check(e: &Expr, link: Option<Link>, link_type: u32) -> Result<(), FilterError> {
    match &e.kind {
        ExprKind::All(parts) | ExprKind::Any(parts) => {
            for p in parts {
                check(p, link, link_type)?;
            }
            Ok(())
        }
        ExprKind::Not(inner) => check(inner, link, link_type),
        ExprKind::Test(t) => {
            let refuse = |message: String| Err(FilterError::LinkType { message, link_type });
            let ethernet = link == Some(Link::Ethernet);
            match &t.kind {
                TestKind::Len { .. } => Ok(()),
                TestKind::Compare { left, right, .. }
                    if !reads_past_link(left) && !reads_past_link(right) =>
                {
                    Ok(())
                }
                TestKind::Vlan { .. } if !ethernet => {
                    refuse(format!("no VLAN support for {}", Link::describe(link_type)))
                }
                TestKind::Ether { .. } if !ethernet => refuse(
                    "ethernet addresses supported only on ethernet/FDDI/token ring/802.11/\
                     ATM LANE/Fibre Channel"
                        .into(),
                ),
                TestKind::EtherMulticast if !ethernet => refuse(
                    "link-layer multicast filters supported only on ethernet/FDDI/token \
                     ring/ARCNET/802.11/ATM LANE/Fibre Channel"
                        .into(),
                ),
                _ if link.is_none() => refuse(format!(
                    "{} link-layer type filtering not implemented",
                    if link_type == 239 {
                        "NFLOG".to_string()
                    } else {
                        Link::describe(link_type)
                    }
                )),
                _ => Ok(()),
            }
        }
    }
}
