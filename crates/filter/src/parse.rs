//! The grammar of libpcap's grammar.y, by recursive descent, and the meaning its code
//! generator (gencode.c) gives each primitive.
//!
//! ```text
//! prog  := ε | expr
//! expr  := term ((and | or) (term | id))*          and, or: equal precedence, left to right
//! term  := not term | '(' expr ')' | head id | pname | other
//! head  := pname? (dqual aqual? | aqual | proto | protochain | gateway)
//! dqual := src | dst | src or dst | dst or src | src and dst | dst and src
//! aqual := host | net | port | portrange
//! id    := not id | '(' pid ')' | NUM | HID ['/' NUM | mask HID] | HID6 ['/' NUM] | MAC | NAME
//! pid   := (id-or-number) ((and | or) id)*
//! other := [pname] broadcast | [pname] multicast | less NUM | greater NUM | vlan [NUM]
//! ```
//!
//! An `id` has no qualifier of its own: it takes the one of the term before it, so
//! `host a or b` is `host a or host b` and `tcp port 80 or 443` is `tcp port 80 or tcp port
//! 443` (grammar.y passes `$<blk>0.q` along). A parenthesised term passes on the qualifier
//! in force before it. After a bare protocol (`tcp or 80`) there is none, and tcpdump calls
//! that a syntax error.
//!
//! `vlan` moves libpcap's offsets past one 802.1Q tag for everything compiled after it, in
//! the order the parser meets it: each test records how many tags deep it looks.

use crate::ast::{
    Arith, ArithOp, Carriers, Dir, Expr, ExprKind, Layer, Rel, Test, TestKind, Transports,
};
use crate::error::{FilterError, Span};
use crate::lex::{Kw, Tok, Token};
use crate::names;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Deepest nesting of parentheses and `not` accepted: the parser, the evaluator and the
/// tree's destructor recurse once per level.
pub const MAX_NESTING: usize = 200;

/// Most `vlan` keywords in one expression.
pub const MAX_VLAN_DEPTH: u8 = 32;

const ETHERTYPE_IP: u32 = 0x0800;
const ETHERTYPE_ARP: u32 = 0x0806;
const ETHERTYPE_REVARP: u32 = 0x8035;
const ETHERTYPE_IPV6: u32 = 0x86dd;

/// Protocol qualifier (gencode.h Q_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum P {
    Undef,
    Default,
    Link,
    Ip,
    Ip6,
    Arp,
    Rarp,
    Tcp,
    Udp,
    Sctp,
    Icmp,
    Icmp6,
    Igmp,
    Igrp,
    Pim,
    Vrrp,
    Carp,
    Ah,
    Esp,
    Atalk,
    Aarp,
    Decnet,
    Lat,
    Sca,
    Moprc,
    Mopdl,
}

impl P {
    fn of(kw: Kw) -> Option<P> {
        Some(match kw {
            Kw::Link => P::Link,
            Kw::Ip => P::Ip,
            Kw::Ip6 => P::Ip6,
            Kw::Arp => P::Arp,
            Kw::Rarp => P::Rarp,
            Kw::Tcp => P::Tcp,
            Kw::Udp => P::Udp,
            Kw::Sctp => P::Sctp,
            Kw::Icmp => P::Icmp,
            Kw::Icmp6 => P::Icmp6,
            Kw::Igmp => P::Igmp,
            Kw::Igrp => P::Igrp,
            Kw::Pim => P::Pim,
            Kw::Vrrp => P::Vrrp,
            Kw::Carp => P::Carp,
            Kw::Ah => P::Ah,
            Kw::Esp => P::Esp,
            Kw::Atalk => P::Atalk,
            Kw::Aarp => P::Aarp,
            Kw::Decnet => P::Decnet,
            Kw::Lat => P::Lat,
            Kw::Sca => P::Sca,
            Kw::Moprc => P::Moprc,
            Kw::Mopdl => P::Mopdl,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            P::Undef | P::Default => "",
            P::Link => "link",
            P::Ip => "ip",
            P::Ip6 => "ip6",
            P::Arp => "arp",
            P::Rarp => "rarp",
            P::Tcp => "tcp",
            P::Udp => "udp",
            P::Sctp => "sctp",
            P::Icmp => "icmp",
            P::Icmp6 => "icmp6",
            P::Igmp => "igmp",
            P::Igrp => "igrp",
            P::Pim => "pim",
            P::Vrrp => "vrrp",
            P::Carp => "carp",
            P::Ah => "ah",
            P::Esp => "esp",
            P::Atalk => "atalk",
            P::Aarp => "aarp",
            P::Decnet => "decnet",
            P::Lat => "lat",
            P::Sca => "sca",
            P::Moprc => "moprc",
            P::Mopdl => "mopdl",
        }
    }
}

/// Direction qualifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum D {
    Undef,
    Default,
    Src,
    Dst,
    Or,
    And,
}

impl D {
    fn dir(self) -> Dir {
        match self {
            D::Src => Dir::Src,
            D::Dst => Dir::Dst,
            D::And => Dir::SrcAndDst,
            D::Undef | D::Default | D::Or => Dir::SrcOrDst,
        }
    }
}

/// Address-kind qualifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum A {
    Undef,
    Default,
    Host,
    Net,
    Port,
    Portrange,
    Proto,
    Gateway,
}

/// The qualifiers of a term, passed on to the ids after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Qual {
    proto: P,
    dir: D,
    addr: A,
}

/// What grammar.y calls `qerr`: no qualifier at all.
const QERR: Qual = Qual {
    proto: P::Undef,
    dir: D::Undef,
    addr: A::Undef,
};

/// Parses `src` into a tree (`None` for an empty expression, which accepts everything).
pub(crate) fn parse(
    src: &str,
    toks: &[Token],
    resolve: &dyn Fn(&str) -> Vec<IpAddr>,
) -> Result<Option<Expr>, FilterError> {
    let mut p = Parser {
        resolve,
        src,
        toks,
        pos: 0,
        nesting: 0,
        vlan_depth: 0,
    };
    if toks.is_empty() {
        return Ok(None);
    }
    let (e, _) = p.expr(QERR)?;
    if let Some(t) = p.peek() {
        return Err(p.unexpected(t, "`and` or `or`"));
    }
    Ok(Some(e))
}

struct Parser<'a> {
    resolve: &'a dyn Fn(&str) -> Vec<IpAddr>,
    src: &'a str,
    toks: &'a [Token],
    pos: usize,
    nesting: usize,
    vlan_depth: u8,
}

fn join(op_and: bool, left: Expr, right: Expr) -> Expr {
    let span = left.span.to(right.span);
    let mut parts = Vec::new();
    for e in [left, right] {
        match e.kind {
            ExprKind::All(v) if op_and => parts.extend(v),
            ExprKind::Any(v) if !op_and => parts.extend(v),
            kind => parts.push(Expr { kind, span: e.span }),
        }
    }
    let kind = if op_and {
        ExprKind::All(parts)
    } else {
        ExprKind::Any(parts)
    };
    Expr { kind, span }
}

fn any(parts: Vec<Expr>, span: Span) -> Expr {
    let mut parts = parts;
    if parts.len() == 1
        && let Some(e) = parts.pop()
    {
        return e;
    }
    Expr {
        kind: ExprKind::Any(parts),
        span,
    }
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<Token> {
        self.toks.get(self.pos).copied()
    }

    fn peek_at(&self, n: usize) -> Option<Token> {
        self.toks.get(self.pos + n).copied()
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.peek();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn end_span(&self) -> Span {
        let end = self.src.trim_end().len();
        Span::new(end, end)
    }

    fn text(&self, t: Token) -> &'a str {
        t.text(self.src)
    }

    fn word(&self, t: Token) -> &'a str {
        self.src.get(t.span.start..t.span.end).unwrap_or("")
    }

    fn unexpected(&self, t: Token, expected: &str) -> FilterError {
        FilterError::syntax(
            format!("expected {expected}, found `{}`", self.word(t)),
            t.span,
        )
    }

    fn eof(&self, expected: &str) -> FilterError {
        let what = match self.toks.last() {
            Some(t) => format!("expected {expected} after `{}`", self.word(*t)),
            None => format!("expected {expected}"),
        };
        FilterError::syntax(what, self.end_span())
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<Token, FilterError> {
        match self.next() {
            Some(t) if t.tok == tok => Ok(t),
            Some(t) => Err(self.unexpected(t, what)),
            None => Err(self.eof(what)),
        }
    }

    fn enter(&mut self, at: Span) -> Result<(), FilterError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(FilterError::invalid(
                format!("expression nested more than {MAX_NESTING} levels deep"),
                at,
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.nesting -= 1;
    }

    fn test(&self, kind: TestKind, span: Span) -> Expr {
        Expr {
            kind: ExprKind::Test(Test {
                kind,
                vlan_depth: self.vlan_depth,
            }),
            span,
        }
    }

    /// `expr := term ((and | or) (term | id))*`
    fn expr(&mut self, inherit: Qual) -> Result<(Expr, Qual), FilterError> {
        let (mut left, mut q) = self.term(inherit)?;
        loop {
            let op_and = match self.peek().map(|t| t.tok) {
                Some(Tok::And) => true,
                Some(Tok::Or) => false,
                _ => break,
            };
            self.pos += 1;
            let (right, rq) = if self.id_starts(0) {
                self.id(q)?
            } else {
                self.term(q)?
            };
            left = join(op_and, left, right);
            q = rq;
        }
        Ok((left, q))
    }

    /// Whether the tokens from `pos + n` begin an `id` rather than a term (the choice
    /// bison makes with its lookahead after `and`/`or`).
    fn id_starts(&self, n: usize) -> bool {
        match self.peek_at(n).map(|t| t.tok) {
            Some(Tok::Id | Tok::Hid | Tok::Hid6 | Tok::Eid | Tok::Aid) => true,
            Some(Tok::Num(_)) => !matches!(
                self.peek_at(n + 1).map(|t| t.tok),
                Some(Tok::Op | Tok::Slash | Tok::LBracket)
            ),
            Some(Tok::Not | Tok::LParen) => self.id_starts(n + 1),
            _ => false,
        }
    }

    /// `term := not term | rterm`
    fn term(&mut self, inherit: Qual) -> Result<(Expr, Qual), FilterError> {
        let Some(t) = self.peek() else {
            return Err(self.eof("an expression"));
        };
        if t.tok == Tok::Not {
            self.pos += 1;
            self.enter(t.span)?;
            let (e, q) = self.term(inherit)?;
            self.leave();
            let span = t.span.to(e.span);
            return Ok((
                Expr {
                    kind: ExprKind::Not(Box::new(e)),
                    span,
                },
                q,
            ));
        }
        self.rterm(inherit)
    }

    fn rterm(&mut self, inherit: Qual) -> Result<(Expr, Qual), FilterError> {
        if self.arith_starts()
            && let Some(e) = self.try_relation()?
        {
            return Ok((e, QERR));
        }
        let Some(t) = self.next() else {
            return Err(self.eof("an expression"));
        };
        match t.tok {
            Tok::LParen => {
                self.enter(t.span)?;
                let (mut e, _) = self.expr(inherit)?;
                let close = self.expect(Tok::RParen, "`)`")?;
                self.leave();
                e.span = t.span.to(close.span);
                Ok((e, inherit))
            }
            Tok::Kw(kw) => {
                if let Some(p) = P::of(kw) {
                    return self.after_pname(p, t);
                }
                match kw {
                    Kw::Src
                    | Kw::Dst
                    | Kw::Host
                    | Kw::Net
                    | Kw::Port
                    | Kw::Portrange
                    | Kw::Proto
                    | Kw::Protochain
                    | Kw::Gateway => {
                        self.pos -= 1;
                        self.head_id(P::Default, t.span)
                    }
                    Kw::Less | Kw::Greater => {
                        let n = self.next();
                        let value = match n.map(|n| n.tok) {
                            Some(Tok::Num(v)) => v,
                            Some(_) => return Err(self.unexpected(n.unwrap_or(t), "a number")),
                            None => return Err(self.eof("a number")),
                        };
                        let span = t.span.to(n.map_or(t.span, |n| n.span));
                        let at_least = kw == Kw::Greater;
                        Ok((self.test(TestKind::Len { at_least, value }, span), QERR))
                    }
                    Kw::Vlan => self.vlan(t),
                    Kw::Broadcast | Kw::Multicast => {
                        self.pos -= 1;
                        self.other(P::Default, t.span)
                    }
                    Kw::Len => Err(self.unexpected(t, "an expression")),
                    Kw::Mpls => Err(FilterError::unsupported("`mpls`", t.span)),
                    Kw::Other => Err(FilterError::unsupported(
                        format!("`{}`", self.word(t)),
                        t.span,
                    )),
                    _ => Err(self.unexpected(t, "an expression")),
                }
            }
            Tok::Num(_) => Err(no_qualifier(self.src, t.span)),
            Tok::Id | Tok::Hid | Tok::Hid6 | Tok::Eid | Tok::Aid => Err(FilterError::syntax(
                format!(
                    "`{}` needs a qualifier before it (host, net, port, ...)",
                    self.word(t)
                ),
                t.span,
            )),
            _ => Err(self.unexpected(t, "an expression")),
        }
    }

    /// After a protocol name: a qualified id (`tcp port 80`), a broadcast/multicast test,
    /// an arithmetic load (`tcp[13]`), or the protocol alone (`tcp`).
    fn after_pname(&mut self, p: P, t: Token) -> Result<(Expr, Qual), FilterError> {
        match self.peek().map(|n| n.tok) {
            Some(Tok::Kw(
                Kw::Src
                | Kw::Dst
                | Kw::Host
                | Kw::Net
                | Kw::Port
                | Kw::Portrange
                | Kw::Proto
                | Kw::Protochain
                | Kw::Gateway,
            )) => self.head_id(p, t.span),
            Some(Tok::Kw(Kw::Broadcast | Kw::Multicast)) => self.other(p, t.span),
            Some(Tok::LBracket) => Err(FilterError::syntax(
                "expected a comparison (`tcp[13] & 2 != 0`)",
                t.span,
            )),
            _ => Ok((self.proto_abbrev(p, t.span)?, QERR)),
        }
    }

    /// `head id`: the qualifiers, then the id they apply to.
    fn head_id(&mut self, proto: P, start: Span) -> Result<(Expr, Qual), FilterError> {
        let mut q = Qual {
            proto,
            dir: D::Default,
            addr: A::Default,
        };
        let Some(t) = self.next() else {
            return Err(self.eof("a qualifier"));
        };
        match t.tok {
            Tok::Kw(Kw::Src | Kw::Dst) => {
                let first = if t.tok == Tok::Kw(Kw::Src) {
                    D::Src
                } else {
                    D::Dst
                };
                q.dir = first;
                if let Some(op) = self.peek()
                    && matches!(op.tok, Tok::And | Tok::Or)
                {
                    // `src or dst`, `src and dst`: bison shifts the operator, so the other
                    // direction must follow.
                    self.pos += 1;
                    let other = if first == D::Src { Kw::Dst } else { Kw::Src };
                    let want = if other == Kw::Dst { "`dst`" } else { "`src`" };
                    self.expect(Tok::Kw(other), want)?;
                    q.dir = if op.tok == Tok::And { D::And } else { D::Or };
                }
                if let Some(a) = self.peek().and_then(|n| aqual(n.tok)) {
                    self.pos += 1;
                    q.addr = a;
                }
            }
            Tok::Kw(Kw::Host | Kw::Net | Kw::Port | Kw::Portrange) => {
                q.addr = aqual(t.tok).unwrap_or(A::Default);
            }
            Tok::Kw(Kw::Proto) => q.addr = A::Proto,
            Tok::Kw(Kw::Protochain) => {
                return Err(FilterError::unsupported("`protochain`", t.span));
            }
            Tok::Kw(Kw::Gateway) => q.addr = A::Gateway,
            _ => return Err(self.unexpected(t, "a qualifier")),
        }
        let (mut e, _) = self.id(q)?;
        e.span = start.to(e.span);
        Ok((e, q))
    }

    /// Whether the next tokens may begin `arth relop arth`.
    fn arith_starts(&self) -> bool {
        match self.peek().map(|t| t.tok) {
            Some(Tok::Num(_) | Tok::Kw(Kw::Len) | Tok::LParen) => true,
            Some(Tok::Op) => self.peek().is_some_and(|t| self.word(t) == "-"),
            Some(Tok::Kw(k)) => {
                P::of(k).is_some() && self.peek_at(1).map(|t| t.tok) == Some(Tok::LBracket)
            }
            _ => false,
        }
    }

    /// `arth relop arth`, where a term could also begin: `None`, with the position restored,
    /// when the tokens turn out not to be arithmetic (`(tcp or udp)`, `80`).
    fn try_relation(&mut self) -> Result<Option<Expr>, FilterError> {
        let (start, nesting) = (self.pos, self.nesting);
        let first = self.peek();
        // A load or `len` can only be arithmetic; a '(' or a number may be a term.
        let committed = matches!(first.map(|t| t.tok), Some(Tok::Kw(_) | Tok::Op));
        let restore = |p: &mut Self| {
            p.pos = start;
            p.nesting = nesting;
        };
        let left = match self.arith(0) {
            Ok(a) => a,
            Err(e) if committed => return Err(e),
            Err(_) => {
                restore(self);
                return Ok(None);
            }
        };
        let op = match self.peek() {
            Some(t) if t.tok == Tok::Op => match self.word(t) {
                ">" => Some(Rel::Gt),
                ">=" => Some(Rel::Ge),
                "=" | "==" => Some(Rel::Eq),
                "!=" => Some(Rel::Ne),
                "<" => Some(Rel::Lt),
                "<=" => Some(Rel::Le),
                _ => None,
            },
            _ => None,
        };
        let Some(op) = op else {
            if !committed && matches!(left, Arith::Num(_)) {
                restore(self);
                return Ok(None);
            }
            let what = "a comparison (`>`, `>=`, `=`, `!=`, `<`, `<=`)";
            return Err(match self.peek() {
                Some(t) => self.unexpected(t, what),
                None => self.eof(what),
            });
        };
        self.pos += 1;
        let right = self.arith(0)?;
        let end = self
            .toks
            .get(self.pos.saturating_sub(1))
            .map_or(self.end_span(), |t| t.span);
        let span = first.map_or(end, |t| t.span).to(end);
        Ok(Some(self.test(TestKind::Compare { left, op, right }, span)))
    }

    /// Arithmetic by precedence: `|` < `&` < `<< >>` < `+ -` < `* /` < unary `-`.
    /// grammar.y gives `%` and `^` no precedence, so bison shifts them: they take the
    /// operand just before them and everything after (`a + b % c + d` is `a + (b % (c + d))`).
    fn arith(&mut self, min: u8) -> Result<Arith, FilterError> {
        let mut left = self.arith_unary()?;
        while let Some(t) = self.peek() {
            let op = match (t.tok, self.word(t)) {
                (Tok::Op, "+") => ArithOp::Add,
                (Tok::Op, "-") => ArithOp::Sub,
                (Tok::Op, "*") => ArithOp::Mul,
                (Tok::Slash, _) => ArithOp::Div,
                (Tok::Op, "%") => ArithOp::Mod,
                (Tok::Op, "&") => ArithOp::And,
                (Tok::Op, "|") => ArithOp::Or,
                (Tok::Op, "^") => ArithOp::Xor,
                (Tok::Op, "<<") => ArithOp::Shl,
                (Tok::Op, ">>") => ArithOp::Shr,
                _ => break,
            };
            let prec = match op {
                ArithOp::Or => 1,
                ArithOp::And => 2,
                ArithOp::Shl | ArithOp::Shr => 3,
                ArithOp::Add | ArithOp::Sub => 4,
                ArithOp::Mul | ArithOp::Div => 5,
                ArithOp::Mod | ArithOp::Xor => 0,
            };
            if prec != 0 && prec < min {
                break;
            }
            self.pos += 1;
            let right = self.arith(if prec == 0 { 0 } else { prec + 1 })?;
            let bad = match (op, &right) {
                (ArithOp::Div, Arith::Num(0)) => Some("division by zero"),
                (ArithOp::Mod, Arith::Num(0)) => Some("modulus by zero"),
                (ArithOp::Shl | ArithOp::Shr, Arith::Num(n)) if *n > 31 => {
                    Some("shift by more than 31 bits")
                }
                _ => None,
            };
            if let Some(message) = bad {
                return Err(FilterError::invalid(message, t.span));
            }
            left = Arith::Bin {
                op,
                left: Box::new(left),
                right: Box::new(right),
            };
        }
        Ok(left)
    }

    fn arith_unary(&mut self) -> Result<Arith, FilterError> {
        let Some(t) = self.next() else {
            return Err(self.eof("a number or a load such as `tcp[13]`"));
        };
        match t.tok {
            Tok::Num(n) => Ok(Arith::Num(n)),
            Tok::Kw(Kw::Len) => Ok(Arith::Len),
            Tok::Op if self.word(t) == "-" => {
                self.enter(t.span)?;
                let a = self.arith_unary()?;
                self.leave();
                Ok(Arith::Neg(Box::new(a)))
            }
            Tok::LParen => {
                self.enter(t.span)?;
                let a = self.arith(0)?;
                self.expect(Tok::RParen, "`)`")?;
                self.leave();
                Ok(a)
            }
            Tok::Kw(kw) if P::of(kw).is_some() => {
                let p = P::of(kw).unwrap_or(P::Default);
                self.expect(Tok::LBracket, "`[`")?;
                self.enter(t.span)?;
                let index = self.arith(0)?;
                let mut size = 1;
                if self.peek().map(|n| n.tok) == Some(Tok::Colon) {
                    self.pos += 1;
                    let n = self.next();
                    size = match n.map(|n| n.tok) {
                        Some(Tok::Num(v)) => v,
                        Some(_) => return Err(self.unexpected(n.unwrap_or(t), "a size")),
                        None => return Err(self.eof("a size")),
                    };
                }
                let close = self.expect(Tok::RBracket, "`]`")?;
                self.leave();
                let span = t.span.to(close.span);
                if !matches!(size, 1 | 2 | 4) {
                    return Err(FilterError::invalid("data size must be 1, 2, or 4", span));
                }
                let layer = match p {
                    P::Link => Layer::Link,
                    P::Ip => Layer::Network(ETHERTYPE_IP),
                    P::Ip6 => Layer::Network(ETHERTYPE_IPV6),
                    P::Arp => Layer::Network(ETHERTYPE_ARP),
                    P::Rarp => Layer::Network(ETHERTYPE_REVARP),
                    P::Decnet => Layer::Network(0x6003),
                    P::Lat => Layer::Network(0x6004),
                    P::Sca => Layer::Network(0x6007),
                    P::Mopdl => Layer::Network(0x6001),
                    P::Moprc => Layer::Network(0x6002),
                    P::Tcp => Layer::Transport(6),
                    P::Udp => Layer::Transport(17),
                    P::Icmp => Layer::Transport(1),
                    P::Igmp => Layer::Transport(2),
                    P::Igrp => Layer::Transport(9),
                    P::Pim => Layer::Transport(103),
                    P::Vrrp | P::Carp => Layer::Transport(112),
                    P::Sctp => Layer::Transport(132),
                    P::Icmp6 => Layer::Icmp6,
                    P::Atalk => {
                        return Err(FilterError::unsupported("`atalk[]`", span));
                    }
                    _ => return Err(FilterError::invalid("unsupported index operation", span)),
                };
                Ok(Arith::Load {
                    layer,
                    index: Box::new(index),
                    size: size as u8,
                })
            }
            _ => Err(self.unexpected(t, "a number or a load such as `tcp[13]`")),
        }
    }

    /// `vlan` or `vlan N`.
    fn vlan(&mut self, t: Token) -> Result<(Expr, Qual), FilterError> {
        let mut span = t.span;
        let id = if matches!(self.peek().map(|n| n.tok), Some(Tok::Num(_) | Tok::LParen)) {
            let (v, s) = self.pnum()?;
            span = span.to(s);
            if v > 0x0fff {
                return Err(FilterError::invalid(
                    format!("VLAN tag {v} greater than maximum 4095"),
                    s,
                ));
            }
            Some(v as u16)
        } else {
            None
        };
        let e = self.test(TestKind::Vlan { id }, span);
        if self.vlan_depth >= MAX_VLAN_DEPTH {
            return Err(FilterError::invalid(
                format!("more than {MAX_VLAN_DEPTH} `vlan` keywords"),
                t.span,
            ));
        }
        self.vlan_depth += 1;
        Ok((e, QERR))
    }

    /// `pnum := NUM | '(' pnum ')'`
    fn pnum(&mut self) -> Result<(u32, Span), FilterError> {
        let Some(t) = self.next() else {
            return Err(self.eof("a number"));
        };
        match t.tok {
            Tok::Num(v) => Ok((v, t.span)),
            Tok::LParen => {
                self.enter(t.span)?;
                let (v, _) = self.pnum()?;
                let close = self.expect(Tok::RParen, "`)`")?;
                self.leave();
                Ok((v, t.span.to(close.span)))
            }
            _ => Err(self.unexpected(t, "a number")),
        }
    }

    /// `[pname] broadcast` and `[pname] multicast` (gen_broadcast, gen_multicast).
    fn other(&mut self, p: P, start: Span) -> Result<(Expr, Qual), FilterError> {
        let Some(t) = self.next() else {
            return Err(self.eof("`broadcast` or `multicast`"));
        };
        let span = start.to(t.span);
        let e = if t.tok == Tok::Kw(Kw::Broadcast) {
            match p {
                P::Default | P::Link => self.test(
                    TestKind::Ether {
                        addr: [0xff; 6],
                        dir: Dir::Dst,
                    },
                    span,
                ),
                P::Ip => {
                    // tcpdump -r compiles with a netmask of 0, so the broadcast addresses
                    // are all zeros and all ones.
                    let carriers = Carriers {
                        ip: true,
                        arp: false,
                        rarp: false,
                    };
                    let one = |addr: u32| {
                        self.test(
                            TestKind::Ipv4 {
                                addr: Ipv4Addr::from(addr),
                                mask: u32::MAX,
                                dir: Dir::Dst,
                                carriers,
                            },
                            span,
                        )
                    };
                    any(vec![one(0), one(u32::MAX)], span)
                }
                _ => {
                    return Err(FilterError::invalid(
                        "only link-layer/IP broadcast filters supported",
                        span,
                    ));
                }
            }
        } else {
            match p {
                P::Default | P::Link => self.test(TestKind::EtherMulticast, span),
                P::Ip => self.test(TestKind::IpMulticast { v4: true }, span),
                P::Ip6 => self.test(TestKind::IpMulticast { v4: false }, span),
                _ => {
                    return Err(FilterError::invalid(
                        "link-layer multicast filters supported only on \
                         ethernet/FDDI/token ring/ARCNET/802.11/ATM LANE/Fibre Channel",
                        span,
                    ));
                }
            }
        };
        Ok((e, QERR))
    }

    /// A protocol alone (gen_proto_abbrev).
    fn proto_abbrev(&self, p: P, span: Span) -> Result<Expr, FilterError> {
        let ip = |proto: u32, v4: bool, v6: bool| TestKind::IpProto { proto, v4, v6 };
        let kind = match p {
            P::Sctp => ip(132, true, true),
            P::Tcp => ip(6, true, true),
            P::Udp => ip(17, true, true),
            P::Icmp => ip(1, true, false),
            P::Igmp => ip(2, true, false),
            P::Igrp => ip(9, true, false),
            P::Pim => ip(103, true, true),
            P::Vrrp | P::Carp => ip(112, true, false),
            P::Icmp6 => ip(58, false, true),
            P::Ah => ip(51, true, true),
            P::Esp => ip(50, true, true),
            P::Ip => TestKind::EtherType(ETHERTYPE_IP),
            P::Ip6 => TestKind::EtherType(ETHERTYPE_IPV6),
            P::Arp => TestKind::EtherType(ETHERTYPE_ARP),
            P::Rarp => TestKind::EtherType(ETHERTYPE_REVARP),
            P::Decnet => TestKind::EtherType(0x6003),
            P::Lat => TestKind::EtherType(0x6004),
            P::Sca => TestKind::EtherType(0x6007),
            P::Mopdl => TestKind::EtherType(0x6001),
            P::Moprc => TestKind::EtherType(0x6002),
            P::Atalk | P::Aarp => {
                return Err(FilterError::unsupported(format!("`{}`", p.name()), span));
            }
            P::Link => {
                return Err(FilterError::invalid(
                    "link layer applied in wrong context",
                    span,
                ));
            }
            P::Undef | P::Default => return Err(FilterError::syntax("expected a protocol", span)),
        };
        Ok(self.test(kind, span))
    }

    /// `id`: takes the qualifiers `q` of the term before it.
    fn id(&mut self, q: Qual) -> Result<(Expr, Qual), FilterError> {
        let Some(t) = self.next() else {
            return Err(self.eof("a host, network, port or protocol"));
        };
        let e = match t.tok {
            Tok::Not => {
                self.enter(t.span)?;
                let (e, _) = self.id(q)?;
                self.leave();
                let span = t.span.to(e.span);
                Expr {
                    kind: ExprKind::Not(Box::new(e)),
                    span,
                }
            }
            Tok::LParen => {
                self.enter(t.span)?;
                // pid := (nid | pnum) ((and | or) id)*; a nested '(' first is a pnum.
                let mut e = if self.peek().map(|n| n.tok) == Some(Tok::LParen) {
                    let (v, s) = self.pnum()?;
                    self.ncode(None, v, s, q)?
                } else {
                    let (e, _) = self.id(q)?;
                    e
                };
                loop {
                    let op_and = match self.peek().map(|n| n.tok) {
                        Some(Tok::And) => true,
                        Some(Tok::Or) => false,
                        _ => break,
                    };
                    self.pos += 1;
                    let (right, _) = self.id(q)?;
                    e = join(op_and, e, right);
                }
                let close = self.expect(Tok::RParen, "`)`")?;
                self.leave();
                e.span = t.span.to(close.span);
                e
            }
            Tok::Num(v) => self.ncode(None, v, t.span, q)?,
            Tok::Hid => {
                let next = self.peek().map(|n| n.tok);
                if next == Some(Tok::Slash) {
                    self.pos += 1;
                    let len = self.next();
                    match len.map(|n| n.tok) {
                        Some(Tok::Num(bits)) => {
                            let span = t.span.to(len.map_or(t.span, |n| n.span));
                            self.mcode(t, None, bits, span, q)?
                        }
                        Some(_) => return Err(self.unexpected(len.unwrap_or(t), "a mask length")),
                        None => return Err(self.eof("a mask length")),
                    }
                } else if next == Some(Tok::Kw(Kw::Mask)) {
                    self.pos += 1;
                    let m = self.next();
                    match m.map(|n| n.tok) {
                        Some(Tok::Hid) => {
                            let m = m.unwrap_or(t);
                            let span = t.span.to(m.span);
                            self.mcode(t, Some(m), 0, span, q)?
                        }
                        Some(_) => return Err(self.unexpected(m.unwrap_or(t), "a dotted mask")),
                        None => return Err(self.eof("a dotted mask")),
                    }
                } else {
                    let refuse = match q.addr {
                        A::Port => Some("port"),
                        A::Portrange => Some("portrange"),
                        A::Proto => Some("proto"),
                        _ => None,
                    };
                    if let Some(what) = refuse {
                        return Err(FilterError::invalid(
                            format!("'{what}' modifier applied to ip host"),
                            t.span,
                        ));
                    }
                    self.ncode(Some(self.text(t)), 0, t.span, q)?
                }
            }
            Tok::Hid6 => {
                let mut bits = 128;
                let mut span = t.span;
                if self.peek().map(|n| n.tok) == Some(Tok::Slash) {
                    self.pos += 1;
                    let len = self.next();
                    match len.map(|n| n.tok) {
                        Some(Tok::Num(b)) => {
                            bits = b;
                            span = t.span.to(len.map_or(t.span, |n| n.span));
                        }
                        Some(_) => return Err(self.unexpected(len.unwrap_or(t), "a prefix length")),
                        None => return Err(self.eof("a prefix length")),
                    }
                }
                self.mcode6(self.text(t), bits, span, q)?
            }
            Tok::Eid => self.ecode(self.text(t), t.span, q)?,
            Tok::Aid => return Err(FilterError::unsupported("ARCnet addresses", t.span)),
            Tok::Id => self.scode(self.text(t), t.span, q)?,
            Tok::Kw(kw) if P::of(kw).is_some() && q.addr == A::Proto => {
                return Err(FilterError::syntax(
                    format!(
                        "expected a protocol number or name, found the keyword `{w}` \
                         (write `\\{w}`)",
                        w = self.word(t)
                    ),
                    t.span,
                ));
            }
            _ => return Err(self.unexpected(t, "a host, network, port or protocol")),
        };
        Ok((e, q))
    }

    /// A number or dotted address (gen_ncode).
    fn ncode(&self, s: Option<&str>, v: u32, span: Span, q: Qual) -> Result<Expr, FilterError> {
        let (mut v, vlen) = match s {
            None => (v, 32),
            Some(s) => atoin(s)
                .ok_or_else(|| FilterError::invalid(format!("invalid IPv4 address '{s}'"), span))?,
        };
        match q.addr {
            A::Default | A::Host | A::Net => {
                match q.proto {
                    P::Link => {
                        return Err(FilterError::invalid("illegal link layer address", span));
                    }
                    P::Decnet => return Err(FilterError::unsupported("DECnet addresses", span)),
                    _ => {}
                }
                let mut mask = u32::MAX;
                if s.is_none() && q.addr == A::Net {
                    // A short network number: `net 10` is 10.0.0.0/8.
                    while v != 0 && v & 0xff00_0000 == 0 {
                        v <<= 8;
                        mask <<= 8;
                    }
                } else {
                    v = v.checked_shl(32 - vlen).unwrap_or(0);
                    mask = mask.checked_shl(32 - vlen).unwrap_or(0);
                }
                self.host(v, mask, q.proto, q.dir, q.addr, span)
            }
            A::Port | A::Portrange => {
                let word = if q.addr == A::Port {
                    "port"
                } else {
                    "portrange"
                };
                let transports = port_transports(q.proto, word, span)?;
                if v > 65535 {
                    return Err(FilterError::invalid(
                        format!("illegal port number {v} > 65535"),
                        span,
                    ));
                }
                self.port(v as u16, v as u16, q.dir, transports, span)
            }
            A::Gateway => Err(FilterError::invalid("'gateway' requires a name", span)),
            A::Proto => self.proto(v, q.proto, q.dir, span),
            A::Undef => Err(no_qualifier(self.src, span)),
        }
    }

    /// `HID/len` and `HID mask HID` (gen_mcode).
    fn mcode(
        &self,
        net: Token,
        mask_tok: Option<Token>,
        bits: u32,
        span: Span,
        q: Qual,
    ) -> Result<Expr, FilterError> {
        let s1 = self.text(net);
        let (n, nlen) = atoin(s1)
            .ok_or_else(|| FilterError::invalid(format!("invalid IPv4 address '{s1}'"), span))?;
        let n = n.checked_shl(32 - nlen).unwrap_or(0);
        let m = match mask_tok {
            Some(mt) => {
                let s2 = self.text(mt);
                let (m, mlen) = atoin(s2).ok_or_else(|| {
                    FilterError::invalid(format!("invalid IPv4 address '{s2}'"), span)
                })?;
                let m = m.checked_shl(32 - mlen).unwrap_or(0);
                if n & !m != 0 {
                    return Err(FilterError::invalid(
                        format!("non-network bits set in \"{s1} mask {s2}\""),
                        span,
                    ));
                }
                m
            }
            None => {
                if bits > 32 {
                    return Err(FilterError::invalid("mask length must be <= 32", span));
                }
                let m = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
                if n & !m != 0 {
                    return Err(FilterError::invalid(
                        format!("non-network bits set in \"{s1}/{bits}\""),
                        span,
                    ));
                }
                m
            }
        };
        if q.addr != A::Net {
            return Err(FilterError::invalid("Mask syntax for networks only", span));
        }
        self.host(n, m, q.proto, q.dir, A::Net, span)
    }

    /// An IPv6 address or network (gen_mcode6).
    fn mcode6(&self, s: &str, bits: u32, span: Span, q: Qual) -> Result<Expr, FilterError> {
        let addr: Ipv6Addr = s
            .parse()
            .map_err(|_| FilterError::invalid(format!("invalid ip6 address {s}"), span))?;
        if bits > 128 {
            return Err(FilterError::invalid("mask length must be <= 128", span));
        }
        let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
        if u128::from(addr) & !mask != 0 {
            return Err(FilterError::invalid(
                format!("non-network bits set in \"{s}/{bits}\""),
                span,
            ));
        }
        match q.addr {
            A::Default | A::Host if bits != 128 => {
                Err(FilterError::invalid("Mask syntax for networks only", span))
            }
            A::Default | A::Host | A::Net => {
                self.host6(u128::from(addr), mask, q.proto, q.dir, q.addr, span)
            }
            _ => Err(FilterError::invalid(
                "invalid qualifier against IPv6 address",
                span,
            )),
        }
    }

    /// A MAC address (gen_ecode).
    fn ecode(&self, s: &str, span: Span, q: Qual) -> Result<Expr, FilterError> {
        if matches!(q.addr, A::Host | A::Default) && q.proto == P::Link {
            let addr = ether_aton(s)
                .ok_or_else(|| FilterError::invalid(format!("bogus ethernet address {s}"), span))?;
            return Ok(self.test(
                TestKind::Ether {
                    addr,
                    dir: q.dir.dir(),
                },
                span,
            ));
        }
        Err(FilterError::invalid(
            "ethernet address used in non-ether expression",
            span,
        ))
    }

    /// A name: host, network, port, port range or protocol (gen_scode).
    fn scode(&self, name: &str, span: Span, q: Qual) -> Result<Expr, FilterError> {
        match q.addr {
            A::Net => Err(FilterError::invalid(
                format!("unknown network '{name}'"),
                span,
            )),
            A::Default | A::Host => match q.proto {
                P::Link => Err(FilterError::invalid(
                    format!("unknown ether host '{name}'"),
                    span,
                )),
                P::Decnet => Err(FilterError::unsupported("DECnet host names", span)),
                _ => {
                    let mut parts = Vec::new();
                    for a in (self.resolve)(name) {
                        match a {
                            IpAddr::V4(v4) if q.proto != P::Ip6 => parts.push(self.host(
                                u32::from(v4),
                                u32::MAX,
                                q.proto,
                                q.dir,
                                q.addr,
                                span,
                            )?),
                            IpAddr::V6(v6) if q.proto != P::Ip => parts.push(self.host6(
                                u128::from(v6),
                                u128::MAX,
                                q.proto,
                                q.dir,
                                q.addr,
                                span,
                            )?),
                            _ => {}
                        }
                    }
                    if parts.is_empty() {
                        let family = if q.proto == P::Default {
                            ""
                        } else {
                            " for specified address family"
                        };
                        return Err(FilterError::invalid(
                            format!("unknown host '{name}'{family}"),
                            span,
                        ));
                    }
                    Ok(any(parts, span))
                }
            },
            A::Port => {
                let transports = port_transports(q.proto, "port", span)?;
                let (port, tcp, udp) = service(name)
                    .ok_or_else(|| FilterError::invalid(format!("unknown port '{name}'"), span))?;
                let transports = narrow_transports(
                    transports,
                    q.proto,
                    tcp,
                    udp,
                    &format!("port '{name}'"),
                    span,
                )?;
                self.port(port, port, q.dir, transports, span)
            }
            A::Portrange => {
                let transports = port_transports(q.proto, "portrange", span)?;
                let unknown =
                    || FilterError::invalid(format!("unknown port in range '{name}'"), span);
                let (first, last, tcp, udp) = match numeric_range(name) {
                    Some((a, b)) => {
                        for p in [a, b] {
                            if p > 65535 {
                                return Err(FilterError::invalid(
                                    format!("illegal port number {p} > 65535"),
                                    span,
                                ));
                            }
                        }
                        (a as u16, b as u16, true, true)
                    }
                    None => {
                        let (a, b) = name.split_once('-').ok_or_else(unknown)?;
                        let (p1, t1, u1) = service(a).ok_or_else(unknown)?;
                        let (p2, t2, u2) = service(b).ok_or_else(unknown)?;
                        // libpcap keeps one protocol only if both ends agree on it.
                        if (t1, u1) == (t2, u2) {
                            (p1, p2, t1, u1)
                        } else {
                            (p1, p2, true, true)
                        }
                    }
                };
                let transports = narrow_transports(
                    transports,
                    q.proto,
                    tcp,
                    udp,
                    &format!("port in range '{name}'"),
                    span,
                )?;
                self.port(first.min(last), first.max(last), q.dir, transports, span)
            }
            A::Proto => {
                let v = match q.proto {
                    P::Default | P::Ip | P::Ip6 => names::ip_protocol(name).ok_or_else(|| {
                        FilterError::invalid(format!("unknown ip proto '{name}'"), span)
                    })?,
                    P::Link => match names::ether_protocol(name) {
                        Some(v) => v,
                        None if matches!(
                            name,
                            "atalk" | "aarp" | "iso" | "stp" | "ipx" | "netbeui"
                        ) =>
                        {
                            return Err(FilterError::unsupported(
                                format!("`ether proto {name}`"),
                                span,
                            ));
                        }
                        None => {
                            return Err(FilterError::invalid(
                                format!("unknown ether proto '{name}'"),
                                span,
                            ));
                        }
                    },
                    _ => {
                        return Err(FilterError::invalid(
                            format!("unknown protocol: {name}"),
                            span,
                        ));
                    }
                };
                self.proto(v, q.proto, q.dir, span)
            }
            A::Gateway => Err(FilterError::unsupported("`gateway`", span)),
            A::Undef => Err(no_qualifier(self.src, span)),
        }
    }

    /// An IPv4 host or network under a protocol qualifier (gen_host).
    fn host(
        &self,
        addr: u32,
        mask: u32,
        proto: P,
        dir: D,
        kind: A,
        span: Span,
    ) -> Result<Expr, FilterError> {
        let typestr = if kind == A::Net { "net" } else { "host" };
        let carriers = match proto {
            P::Default => Carriers {
                ip: true,
                arp: true,
                rarp: true,
            },
            P::Ip => Carriers {
                ip: true,
                arp: false,
                rarp: false,
            },
            P::Arp => Carriers {
                ip: false,
                arp: true,
                rarp: false,
            },
            P::Rarp => Carriers {
                ip: false,
                arp: false,
                rarp: true,
            },
            P::Link => {
                return Err(FilterError::invalid(
                    format!("link-layer modifier applied to {typestr}"),
                    span,
                ));
            }
            P::Ip6 => {
                return Err(FilterError::invalid(
                    "'ip6' modifier applied to ip host",
                    span,
                ));
            }
            P::Atalk => {
                return Err(FilterError::invalid(
                    "AppleTalk host filtering not implemented",
                    span,
                ));
            }
            P::Aarp => {
                return Err(FilterError::invalid(
                    "AARP host filtering not implemented",
                    span,
                ));
            }
            P::Lat => {
                return Err(FilterError::invalid(
                    "LAT host filtering not implemented",
                    span,
                ));
            }
            P::Sca => {
                return Err(FilterError::invalid(
                    "SCA host filtering not implemented",
                    span,
                ));
            }
            P::Moprc => {
                return Err(FilterError::invalid(
                    "MOPRC host filtering not implemented",
                    span,
                ));
            }
            P::Mopdl => {
                return Err(FilterError::invalid(
                    "MOPDL host filtering not implemented",
                    span,
                ));
            }
            P::Decnet => return Err(FilterError::unsupported("DECnet addresses", span)),
            other => {
                return Err(FilterError::invalid(
                    format!("'{}' modifier applied to {typestr}", other.name()),
                    span,
                ));
            }
        };
        Ok(self.test(
            TestKind::Ipv4 {
                addr: Ipv4Addr::from(addr & mask),
                mask,
                dir: dir.dir(),
                carriers,
            },
            span,
        ))
    }

    /// An IPv6 host or network under a protocol qualifier (gen_host6).
    fn host6(
        &self,
        addr: u128,
        mask: u128,
        proto: P,
        dir: D,
        kind: A,
        span: Span,
    ) -> Result<Expr, FilterError> {
        let typestr = if kind == A::Net { "net" } else { "host" };
        match proto {
            P::Default | P::Ip6 => Ok(self.test(
                TestKind::Ipv6 {
                    addr: Ipv6Addr::from(addr & mask),
                    mask,
                    dir: dir.dir(),
                },
                span,
            )),
            P::Link => Err(FilterError::invalid(
                format!("link-layer modifier applied to ip6 {typestr}"),
                span,
            )),
            P::Atalk => Err(FilterError::invalid(
                format!("AppleTalk modifier applied to ip6 {typestr}"),
                span,
            )),
            other => Err(FilterError::invalid(
                format!("'{}' modifier applied to ip6 {typestr}", other.name()),
                span,
            )),
        }
    }

    fn port(
        &self,
        first: u16,
        last: u16,
        dir: D,
        transports: Transports,
        span: Span,
    ) -> Result<Expr, FilterError> {
        Ok(self.test(
            TestKind::Port {
                first,
                last,
                dir: dir.dir(),
                transports,
            },
            span,
        ))
    }

    /// `proto N` under a protocol qualifier (gen_proto).
    fn proto(&self, v: u32, proto: P, dir: D, span: Span) -> Result<Expr, FilterError> {
        if dir != D::Default {
            return Err(FilterError::invalid("direction applied to 'proto'", span));
        }
        let ip = |v4, v6| TestKind::IpProto { proto: v, v4, v6 };
        let kind = match proto {
            P::Default => ip(true, true),
            P::Ip => ip(true, false),
            P::Ip6 => ip(false, true),
            P::Link if v <= 1500 => {
                return Err(FilterError::unsupported(
                    "`ether proto` with an 802.2 LLC SAP (1500 or below)",
                    span,
                ));
            }
            P::Link => TestKind::EtherType(v),
            P::Arp | P::Rarp | P::Lat | P::Sca | P::Moprc | P::Mopdl => {
                let name = match proto {
                    P::Lat => "LAT",
                    P::Sca => "SCA",
                    P::Moprc => "MOPRC",
                    P::Mopdl => "MOPDL",
                    other => other.name(),
                };
                return Err(FilterError::invalid(
                    format!("{name} does not encapsulate another protocol"),
                    span,
                ));
            }
            P::Atalk => {
                return Err(FilterError::invalid(
                    "AppleTalk encapsulation is not specifiable",
                    span,
                ));
            }
            P::Decnet => {
                return Err(FilterError::invalid(
                    "DECNET encapsulation is not specifiable",
                    span,
                ));
            }
            other => {
                return Err(FilterError::invalid(
                    format!("'{} proto' is bogus", other.name()),
                    span,
                ));
            }
        };
        Ok(self.test(kind, span))
    }
}

fn aqual(t: Tok) -> Option<A> {
    match t {
        Tok::Kw(Kw::Host) => Some(A::Host),
        Tok::Kw(Kw::Net) => Some(A::Net),
        Tok::Kw(Kw::Port) => Some(A::Port),
        Tok::Kw(Kw::Portrange) => Some(A::Portrange),
        _ => None,
    }
}

/// An id after a term with no qualifier to pass on (`tcp or 80`).
fn no_qualifier(src: &str, span: Span) -> FilterError {
    let word = src.get(span.start..span.end).unwrap_or("");
    FilterError::syntax(
        format!(
            "`{word}` needs `host`, `net` or `port` before it \
             (the term before it has no qualifier to lend)"
        ),
        span,
    )
}

/// Which transports `port`/`portrange` look at under a protocol qualifier.
fn port_transports(p: P, word: &str, span: Span) -> Result<Transports, FilterError> {
    let (tcp, udp, sctp) = match p {
        P::Default => (true, true, true),
        P::Tcp => (true, false, false),
        P::Udp => (false, true, false),
        P::Sctp => (false, false, true),
        _ => {
            return Err(FilterError::invalid(
                format!("illegal qualifier of '{word}'"),
                span,
            ));
        }
    };
    Ok(Transports { tcp, udp, sctp })
}

/// A service name narrows the transports to those /etc/services lists it for (libpcap:
/// `port http` is TCP only), and a qualifier that contradicts it is an error.
fn narrow_transports(
    t: Transports,
    p: P,
    tcp: bool,
    udp: bool,
    what: &str,
    span: Span,
) -> Result<Transports, FilterError> {
    let only = |tcp, udp, sctp| Transports { tcp, udp, sctp };
    match p {
        P::Udp if !udp => Err(FilterError::invalid(format!("{what} is tcp"), span)),
        P::Tcp if !tcp => Err(FilterError::invalid(format!("{what} is udp"), span)),
        P::Default if tcp && !udp => Ok(only(true, false, false)),
        P::Default if udp && !tcp => Ok(only(false, true, false)),
        _ => Ok(t),
    }
}

/// `N-M` as sscanf("%d-%d") reads it.
fn numeric_range(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('-')?;
    let digits = |x: &str| {
        let d: String = x.chars().take_while(|c| c.is_ascii_digit()).collect();
        if d.is_empty() {
            None
        } else {
            d.parse::<u32>().ok()
        }
    };
    if !a.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((digits(a)?, digits(b)?))
}

fn service(name: &str) -> Option<(u16, bool, bool)> {
    names::service(name)
}

/// A dotted IPv4 address of one to four parts: its value and bit length (libpcap's
/// `__pcap_atoin`).
fn atoin(s: &str) -> Option<(u32, u32)> {
    let mut addr: u32 = 0;
    let mut len = 0;
    for part in s.split('.') {
        if len >= 32 || part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let n: u32 = part.parse().ok().filter(|n| *n <= 255)?;
        addr = (addr << 8) | n;
        len += 8;
    }
    Some((addr, len))
}

/// A MAC address in any of the forms the scanner accepts (libpcap's `pcap_ether_aton`:
/// one or two hex digits at a time, separators skipped).
fn ether_aton(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut n = 0;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b.get(i).copied()?;
        if matches!(c, b':' | b'.' | b'-') {
            i += 1;
            continue;
        }
        let hi = (c as char).to_digit(16)?;
        i += 1;
        let mut v = hi;
        if let Some(d) = b.get(i).and_then(|c| (*c as char).to_digit(16)) {
            v = (v << 4) | d;
            i += 1;
        }
        *out.get_mut(n)? = v as u8;
        n += 1;
    }
    (n == 6).then_some(out)
}

#[cfg(test)]
mod tests {
    use crate::{Filter, FilterError, Span};

    /// (expression, the tree it compiles to). The trees were read off libpcap's gencode.c
    /// and checked against `tcpdump -d` where the two can be compared.
    const GRAMMAR: &[(&str, &str)] = &[
        // Precedence: `and` and `or` are equal and associate left; `not` binds tighter.
        (
            "tcp or udp and not icmp",
            "(and (or [ip/ip6 proto 6] [ip/ip6 proto 17]) (not [ip proto 1]))",
        ),
        (
            "not tcp and udp",
            "(and (not [ip/ip6 proto 6]) [ip/ip6 proto 17])",
        ),
        (
            "tcp and udp or icmp",
            "(or (and [ip/ip6 proto 6] [ip/ip6 proto 17]) [ip proto 1])",
        ),
        (
            "tcp and (udp or icmp)",
            "(and [ip/ip6 proto 6] (or [ip/ip6 proto 17] [ip proto 1]))",
        ),
        (
            "! tcp && ! udp || arp",
            "(or (and (not [ip/ip6 proto 6]) (not [ip/ip6 proto 17])) [ethertype 0x0806])",
        ),
        ("not not ip", "(not (not [ethertype 0x0800]))"),
        // Implicit qualifiers.
        ("port 53", "[tcp/udp/sctp src-or-dst port 53]"),
        ("udp port 53", "[udp src-or-dst port 53]"),
        ("tcp dst port 0x1bb", "[tcp dst port 443]"),
        ("port 053", "[tcp/udp/sctp src-or-dst port 43]"),
        ("src and dst port 80", "[tcp/udp/sctp src-and-dst port 80]"),
        ("dst or src port 80", "[tcp/udp/sctp src-or-dst port 80]"),
        (
            "portrange 90-80",
            "[tcp/udp/sctp src-or-dst portrange 80-90]",
        ),
        ("port domain", "[tcp/udp/sctp src-or-dst port 53]"),
        ("port http", "[tcp src-or-dst port 80]"),
        ("port ntp", "[udp src-or-dst port 123]"),
        ("tcp port https", "[tcp src-or-dst port 443]"),
        (
            "udp portrange domain-https",
            "[udp src-or-dst portrange 53-443]",
        ),
        ("host 10.0.0.1", "[ip/arp/rarp src-or-dst host 10.0.0.1]"),
        ("ip host 10.0.0.1", "[ip src-or-dst host 10.0.0.1]"),
        ("arp src host 10.0.0.1", "[arp src host 10.0.0.1]"),
        ("src 10.0.0.1", "[ip/arp/rarp src host 10.0.0.1]"),
        ("host ::1", "[ip6 src-or-dst host ::1]"),
        ("ip6 dst host fe80::1", "[ip6 dst host fe80::1]"),
        ("net fe80::/10", "[ip6 src-or-dst net fe80::/10]"),
        ("net 10.0.0.0/8", "[ip/arp/rarp src-or-dst net 10.0.0.0/8]"),
        (
            "net 10.0.0.0 mask 255.0.255.0",
            "[ip/arp/rarp src-or-dst net 10.0.0.0 mask 255.0.255.0]",
        ),
        // Short forms: a number is promoted as a network, dotted forms by their length.
        ("net 10", "[ip/arp/rarp src-or-dst net 10.0.0.0/8]"),
        ("net 10.1", "[ip/arp/rarp src-or-dst net 10.1.0.0/16]"),
        ("host 10.1", "[ip/arp/rarp src-or-dst net 10.1.0.0/16]"),
        ("host 10", "[ip/arp/rarp src-or-dst host 0.0.0.10]"),
        (
            "ether host 1:2:3:4:5:6",
            "[ether src-or-dst 01:02:03:04:05:06]",
        ),
        ("ether src aabb.ccdd.eeff", "[ether src aa:bb:cc:dd:ee:ff]"),
        ("ether broadcast", "[ether dst ff:ff:ff:ff:ff:ff]"),
        (
            "ip broadcast",
            "(or [ip dst host 0.0.0.0] [ip dst host 255.255.255.255])",
        ),
        ("ether multicast", "[ether multicast]"),
        ("ip6 multicast", "[ip6 multicast]"),
        ("proto 6", "[ip/ip6 proto 6]"),
        ("ip proto \\tcp", "[ip proto 6]"),
        ("ip6 proto \\ipv6-icmp", "[ip6 proto 58]"),
        ("ether proto \\ip6", "[ethertype 0x86dd]"),
        ("ether proto 0x0806", "[ethertype 0x0806]"),
        ("icmp6", "[ip6 proto 58]"),
        (
            "less 100 or greater 1000",
            "(or [len <= 100] [len >= 1000])",
        ),
        // An id takes the qualifiers of the term before it.
        (
            "host 10.0.0.1 or 10.0.0.2",
            "(or [ip/arp/rarp src-or-dst host 10.0.0.1] [ip/arp/rarp src-or-dst host 10.0.0.2])",
        ),
        (
            "tcp port 80 or 443",
            "(or [tcp src-or-dst port 80] [tcp src-or-dst port 443])",
        ),
        (
            "host 10.0.0.1 and not 10.0.0.2",
            "(and [ip/arp/rarp src-or-dst host 10.0.0.1] (not [ip/arp/rarp src-or-dst host 10.0.0.2]))",
        ),
        (
            "src host 10.0.0.1 and (10.0.0.2 or 10.0.0.3)",
            "(and [ip/arp/rarp src host 10.0.0.1] (or [ip/arp/rarp src host 10.0.0.2] [ip/arp/rarp src host 10.0.0.3]))",
        ),
        (
            "port ((80) or 90)",
            "(or [tcp/udp/sctp src-or-dst port 80] [tcp/udp/sctp src-or-dst port 90])",
        ),
        // A parenthesised term passes on the qualifier in force before it.
        (
            "port 80 and (tcp) or 443",
            "(or (and [tcp/udp/sctp src-or-dst port 80] [ip/ip6 proto 6]) [tcp/udp/sctp src-or-dst port 443])",
        ),
        // `vlan` moves everything after it one tag deeper, `or` included.
        (
            "vlan and ip or tcp",
            "(or (and [vlan] [in-vlan1 ethertype 0x0800]) [in-vlan1 ip/ip6 proto 6])",
        ),
        (
            "vlan 100 and vlan 200 and host 1.2.3.4",
            "(and [vlan 100] [in-vlan1 vlan 200] [in-vlan2 ip/arp/rarp src-or-dst host 1.2.3.4])",
        ),
        (
            "tcp and not vlan (5) and udp",
            "(and [ip/ip6 proto 6] (not [vlan 5]) [in-vlan1 ip/ip6 proto 17])",
        ),
        // Arithmetic: unsigned, BPF's precedence; `%` and `^` take everything after them.
        (
            "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0",
            "[!= (& tcp[13:1] (| 2 1)) 0]",
        ),
        ("1 + 2 * 3 - 4 = 3", "[= (- (+ 1 (* 2 3)) 4) 3]"),
        ("1 | 2 & 3 << 4 + 5 = 0", "[= (| 1 (& 2 (<< 3 (+ 4 5)))) 0]"),
        ("1 % 2 + 3 = 1", "[= (% 1 (+ 2 3)) 1]"),
        ("1 + 2 % 3 + 4 = 1", "[= (+ 1 (% 2 (+ 3 4))) 1]"),
        ("-1 * 2 < len", "[< (* (- 1) 2) len]"),
        ("ip[2:2] > 1500", "[> ip[2:2] 1500]"),
        ("ether[0] & 1 = 1", "[= (& link[0:1] 1) 1]"),
        ("icmp6[0] == 135", "[= icmp6[0:1] 135]"),
        (
            "(tcp[13] & 2) != 0 and (tcp or udp)",
            "(and [!= (& tcp[13:1] 2) 0] (or [ip/ip6 proto 6] [ip/ip6 proto 17]))",
        ),
        (
            "port 80 and (1 + 1 = 2)",
            "(and [tcp/udp/sctp src-or-dst port 80] [= (+ 1 1) 2])",
        ),
        ("vlan and ip[9] = 6", "(and [vlan] [in-vlan1 = ip[9:1] 6])"),
        ("", "(accept all)"),
        ("  ", "(accept all)"),
    ];

    #[test]
    fn grammar_table() {
        let mut bad = Vec::new();
        for (expr, want) in GRAMMAR {
            match Filter::new(expr) {
                Ok(f) if f.to_string() == *want => {}
                Ok(f) => bad.push(format!("{expr:?}\n  got  {f}\n  want {want}")),
                Err(e) => bad.push(format!("{expr:?}: {e}")),
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    /// (expression, kind, message, where).
    const ERRORS: &[(&str, &str, &str, (usize, usize))] = &[
        (
            "tcp or 80",
            "syntax",
            "`80` needs `host`, `net` or `port`",
            (7, 9),
        ),
        (
            "host",
            "syntax",
            "expected a host, network, port or protocol after `host`",
            (4, 4),
        ),
        (
            "port 80 or",
            "syntax",
            "expected an expression after `or`",
            (10, 10),
        ),
        (
            "tcp port 80 and (udp",
            "syntax",
            "expected `)` after `udp`",
            (20, 20),
        ),
        (
            "(tcp))",
            "syntax",
            "expected `and` or `or`, found `)`",
            (5, 6),
        ),
        (
            "host 10.0.0.1 10.0.0.2",
            "syntax",
            "found `10.0.0.2`",
            (14, 22),
        ),
        ("10.0.0.1", "syntax", "`10.0.0.1` needs a qualifier", (0, 8)),
        (
            "src or host 1.2.3.4",
            "syntax",
            "expected `dst`, found `host`",
            (7, 11),
        ),
        ("ip proto tcp", "syntax", "(write `\\tcp`)", (9, 12)),
        (
            "less (10)",
            "syntax",
            "expected a number, found `(`",
            (5, 6),
        ),
        (
            "host 10.0.0.1 # x",
            "syntax",
            "unexpected character '#'",
            (14, 15),
        ),
        (
            "port 99999",
            "invalid",
            "illegal port number 99999 > 65535",
            (5, 10),
        ),
        (
            "port 080",
            "invalid",
            "number 080 contains non-octal digit",
            (5, 8),
        ),
        (
            "net 10.0.0.1/8",
            "invalid",
            "non-network bits set in \"10.0.0.1/8\"",
            (4, 14),
        ),
        (
            "net 10.0.0.0/33",
            "invalid",
            "mask length must be <= 32",
            (4, 15),
        ),
        (
            "host 10.0.0.0/8",
            "invalid",
            "Mask syntax for networks only",
            (5, 15),
        ),
        (
            "host fe80::/10",
            "invalid",
            "Mask syntax for networks only",
            (5, 14),
        ),
        (
            "port 10.0.0.1",
            "invalid",
            "'port' modifier applied to ip host",
            (5, 13),
        ),
        (
            "ip6 host 1.2.3.4",
            "invalid",
            "'ip6' modifier applied to ip host",
            (9, 16),
        ),
        (
            "tcp host 1.2.3.4",
            "invalid",
            "'tcp' modifier applied to host",
            (9, 16),
        ),
        (
            "ip port 80",
            "invalid",
            "illegal qualifier of 'port'",
            (8, 10),
        ),
        ("udp port http", "invalid", "port 'http' is tcp", (9, 13)),
        (
            "port nosuchservice",
            "invalid",
            "unknown port 'nosuchservice'",
            (5, 18),
        ),
        ("src proto 6", "syntax", "found `proto`", (4, 9)),
        ("ip src proto 6", "syntax", "found `proto`", (7, 12)),
        ("tcp proto 6", "invalid", "'tcp proto' is bogus", (10, 11)),
        (
            "vlan 5000",
            "invalid",
            "VLAN tag 5000 greater than maximum 4095",
            (5, 9),
        ),
        (
            "ether host 10.0.0.1",
            "invalid",
            "illegal link layer address",
            (11, 19),
        ),
        (
            "host 1:2:3:4:5:6",
            "invalid",
            "ethernet address used in non-ether expression",
            (5, 16),
        ),
        (
            "ether host 1:2:3",
            "invalid",
            "bogus ethernet address 1:2: ",
            (11, 15),
        ),
        ("tcp[13] & 2", "syntax", "expected a comparison", (11, 11)),
        (
            "tcp[13:3] = 1",
            "invalid",
            "data size must be 1, 2, or 4",
            (0, 9),
        ),
        ("ip[0] / 0 = 1", "invalid", "division by zero", (6, 7)),
        ("ip[0] % 0 = 1", "invalid", "modulus by zero", (6, 7)),
        (
            "ip[0] << 32 = 1",
            "invalid",
            "shift by more than 31 bits",
            (6, 8),
        ),
        (
            "esp[0] = 1",
            "invalid",
            "unsupported index operation",
            (0, 6),
        ),
        ("len", "syntax", "expected a comparison", (3, 3)),
        ("mpls", "unsupported", "`mpls`", (0, 4)),
        ("inbound", "unsupported", "`inbound`", (0, 7)),
        ("gateway router", "unsupported", "`gateway`", (8, 14)),
    ];

    #[test]
    fn errors_say_what_and_where() {
        let mut bad = Vec::new();
        for (expr, kind, text, (start, end)) in ERRORS {
            let e = match Filter::new(expr) {
                Ok(f) => {
                    bad.push(format!("{expr:?} compiled to {f}"));
                    continue;
                }
                Err(e) => e,
            };
            let got_kind = match e {
                FilterError::Syntax { .. } => "syntax",
                FilterError::Invalid { .. } => "invalid",
                FilterError::Unsupported { .. } => "unsupported",
                _ => "other",
            };
            let msg = e.to_string();
            if got_kind != *kind || !msg.contains(text) || e.span() != Some(Span::new(*start, *end))
            {
                bad.push(format!(
                    "{expr:?}: got {got_kind} {msg:?} at {:?}, want {kind} {text:?} at {start}..{end}",
                    e.span()
                ));
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    #[test]
    fn syntax_errors_read_like_tcpdump() {
        let e = Filter::new("port 80 or").unwrap_err();
        assert_eq!(
            e.to_string(),
            "syntax error in filter expression: expected an expression after `or` at column 11"
        );
        assert_eq!(e.pointer("port 80 or").unwrap(), "port 80 or\n          ^");
    }

    #[test]
    fn words_that_start_an_expression() {
        for w in [
            "tcp", "host", "src", "not", "!", "(", "(tcp", "!tcp", "tcp[13]", "mpls",
        ] {
            assert!(crate::starts_expression(w), "{w}");
        }
        for w in [
            "f.pcap",
            "ether.pcap",
            "vlan-trace.pcapng",
            "./tcp",
            "-",
            "10.0.0.1",
            "443",
            "/tmp/x.pcap",
            "",
        ] {
            assert!(!crate::starts_expression(w), "{w}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}tcp{}", "(".repeat(10_000), ")".repeat(10_000));
        let e = Filter::new(&deep).unwrap_err();
        assert!(e.to_string().contains("nested more than"), "{e}");
        let nots = format!("{}tcp", "not ".repeat(10_000));
        assert!(Filter::new(&nots).is_err());
        // A long flat chain is one node, not a deep tree.
        let mut terms = vec!["less 10"; 20_000];
        terms.push("greater 100");
        let f = Filter::new(&terms.join(" or ")).unwrap();
        let p = f.for_link_type(1).unwrap();
        assert!(p.matches(&[0; 60], 200));
        assert!(!p.matches(&[0; 60], 60));
    }
}
