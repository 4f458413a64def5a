//! Words of a filter expression, cut as libpcap's flex scanner (scanner.l) cuts them: at
//! each position the longest match wins, and on a tie the rule listed first (keywords before
//! numbers before addresses before names). So `tcp` is a keyword, `tcpx` a name, `80-90` a
//! name (a port range), `10.1` a short IPv4 address and `aa:bb:cc:dd:ee:ff` a MAC address.

use crate::error::{FilterError, Span};

/// A keyword of libpcap's scanner. The ones this filter does not implement are kept apart
/// (`Other`) so that they are refused as tcpdump's keywords, not taken for host names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kw {
    Dst,
    Src,
    /// `link`, `ether`, `ppp`, `slip`, `fddi`, `tr`, `wlan`.
    Link,
    Arp,
    Rarp,
    Ip,
    Sctp,
    Tcp,
    Udp,
    Icmp,
    Igmp,
    Igrp,
    Pim,
    Vrrp,
    Carp,
    Ip6,
    Icmp6,
    Ah,
    Esp,
    Atalk,
    Aarp,
    Decnet,
    Lat,
    Sca,
    Moprc,
    Mopdl,
    Host,
    Net,
    Mask,
    Port,
    Portrange,
    Proto,
    Protochain,
    Gateway,
    Less,
    Greater,
    Broadcast,
    Multicast,
    Len,
    Vlan,
    Mpls,
    /// A keyword of the grammar this filter does not implement (802.11, ATM, SS7, pflog,
    /// OSI, `inbound`, `byte`, ...).
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Kw(Kw),
    /// A number (decimal, 0x hex, 0 octal) or one of the named constants (`icmp-echo`,
    /// `tcp-syn`, ...).
    Num(u32),
    /// One to four dotted decimal numbers: an IPv4 address or network, possibly short.
    Hid,
    /// An IPv6 address.
    Hid6,
    /// A MAC address.
    Eid,
    /// An ARCnet address (`$1f`).
    Aid,
    /// A name (host, port, protocol); `\tcp` is the name "tcp", not the keyword.
    Id,
    And,
    Or,
    Not,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Slash,
    Colon,
    /// An arithmetic or comparison operator (`+ - * % & | ^ < > = >= <= != << >>`).
    Op,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Span,
    /// For `Id`: the name without a leading backslash.
    pub text_start: usize,
}

impl Token {
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        src.get(self.text_start..self.span.end).unwrap_or("")
    }
}

const KEYWORDS: &[(&str, Kw)] = &[
    ("dst", Kw::Dst),
    ("src", Kw::Src),
    ("link", Kw::Link),
    ("ether", Kw::Link),
    ("ppp", Kw::Link),
    ("slip", Kw::Link),
    ("fddi", Kw::Link),
    ("tr", Kw::Link),
    ("wlan", Kw::Link),
    ("arp", Kw::Arp),
    ("rarp", Kw::Rarp),
    ("ip", Kw::Ip),
    ("sctp", Kw::Sctp),
    ("tcp", Kw::Tcp),
    ("udp", Kw::Udp),
    ("icmp", Kw::Icmp),
    ("igmp", Kw::Igmp),
    ("igrp", Kw::Igrp),
    ("pim", Kw::Pim),
    ("vrrp", Kw::Vrrp),
    ("carp", Kw::Carp),
    ("radio", Kw::Other),
    ("ip6", Kw::Ip6),
    ("icmp6", Kw::Icmp6),
    ("ah", Kw::Ah),
    ("esp", Kw::Esp),
    ("atalk", Kw::Atalk),
    ("aarp", Kw::Aarp),
    ("decnet", Kw::Decnet),
    ("lat", Kw::Lat),
    ("sca", Kw::Sca),
    ("moprc", Kw::Moprc),
    ("mopdl", Kw::Mopdl),
    ("iso", Kw::Other),
    ("esis", Kw::Other),
    ("es-is", Kw::Other),
    ("isis", Kw::Other),
    ("is-is", Kw::Other),
    ("l1", Kw::Other),
    ("l2", Kw::Other),
    ("iih", Kw::Other),
    ("lsp", Kw::Other),
    ("snp", Kw::Other),
    ("csnp", Kw::Other),
    ("psnp", Kw::Other),
    ("clnp", Kw::Other),
    ("stp", Kw::Other),
    ("ipx", Kw::Other),
    ("netbeui", Kw::Other),
    ("host", Kw::Host),
    ("net", Kw::Net),
    ("mask", Kw::Mask),
    ("port", Kw::Port),
    ("portrange", Kw::Portrange),
    ("proto", Kw::Proto),
    ("protochain", Kw::Protochain),
    ("gateway", Kw::Gateway),
    ("type", Kw::Other),
    ("subtype", Kw::Other),
    ("direction", Kw::Other),
    ("dir", Kw::Other),
    ("address1", Kw::Other),
    ("addr1", Kw::Other),
    ("address2", Kw::Other),
    ("addr2", Kw::Other),
    ("address3", Kw::Other),
    ("addr3", Kw::Other),
    ("address4", Kw::Other),
    ("addr4", Kw::Other),
    ("ra", Kw::Other),
    ("ta", Kw::Other),
    ("less", Kw::Less),
    ("greater", Kw::Greater),
    ("byte", Kw::Other),
    ("broadcast", Kw::Broadcast),
    ("multicast", Kw::Multicast),
    ("len", Kw::Len),
    ("length", Kw::Len),
    ("inbound", Kw::Other),
    ("outbound", Kw::Other),
    ("ifindex", Kw::Other),
    ("vlan", Kw::Vlan),
    ("mpls", Kw::Mpls),
    ("pppoed", Kw::Other),
    ("pppoes", Kw::Other),
    ("geneve", Kw::Other),
    ("lane", Kw::Other),
    ("llc", Kw::Other),
    ("metac", Kw::Other),
    ("bcc", Kw::Other),
    ("oam", Kw::Other),
    ("oamf4", Kw::Other),
    ("oamf4ec", Kw::Other),
    ("oamf4sc", Kw::Other),
    ("sc", Kw::Other),
    ("ilmic", Kw::Other),
    ("vpi", Kw::Other),
    ("vci", Kw::Other),
    ("connectmsg", Kw::Other),
    ("metaconnect", Kw::Other),
    ("on", Kw::Other),
    ("ifname", Kw::Other),
    ("rset", Kw::Other),
    ("ruleset", Kw::Other),
    ("rnr", Kw::Other),
    ("rulenum", Kw::Other),
    ("srnr", Kw::Other),
    ("subrulenum", Kw::Other),
    ("reason", Kw::Other),
    ("action", Kw::Other),
    ("fisu", Kw::Other),
    ("lssu", Kw::Other),
    ("lsu", Kw::Other),
    ("msu", Kw::Other),
    ("hfisu", Kw::Other),
    ("hlssu", Kw::Other),
    ("hmsu", Kw::Other),
    ("sio", Kw::Other),
    ("opc", Kw::Other),
    ("dpc", Kw::Other),
    ("sls", Kw::Other),
    ("hsio", Kw::Other),
    ("hopc", Kw::Other),
    ("hdpc", Kw::Other),
    ("hsls", Kw::Other),
];

/// Named numbers (scanner.l lists them after addresses and before names).
const NAMED_NUMBERS: &[(&str, u32)] = &[
    ("icmptype", 0),
    ("icmpcode", 1),
    ("icmp-echoreply", 0),
    ("icmp-unreach", 3),
    ("icmp-sourcequench", 4),
    ("icmp-redirect", 5),
    ("icmp-echo", 8),
    ("icmp-routeradvert", 9),
    ("icmp-routersolicit", 10),
    ("icmp-timxceed", 11),
    ("icmp-paramprob", 12),
    ("icmp-tstamp", 13),
    ("icmp-tstampreply", 14),
    ("icmp-ireq", 15),
    ("icmp-ireqreply", 16),
    ("icmp-maskreq", 17),
    ("icmp-maskreply", 18),
    ("icmp6type", 0),
    ("icmp6code", 1),
    ("icmp6-destinationunreach", 1),
    ("icmp6-packettoobig", 2),
    ("icmp6-timeexceeded", 3),
    ("icmp6-parameterproblem", 4),
    ("icmp6-echo", 128),
    ("icmp6-echoreply", 129),
    ("icmp6-multicastlistenerquery", 130),
    ("icmp6-multicastlistenerreportv1", 131),
    ("icmp6-multicastlistenerdone", 132),
    ("icmp6-routersolicit", 133),
    ("icmp6-routeradvert", 134),
    ("icmp6-neighborsolicit", 135),
    ("icmp6-neighboradvert", 136),
    ("icmp6-redirect", 137),
    ("icmp6-routerrenum", 138),
    ("icmp6-nodeinformationquery", 139),
    ("icmp6-nodeinformationresponse", 140),
    ("icmp6-ineighbordiscoverysolicit", 141),
    ("icmp6-ineighbordiscoveryadvert", 142),
    ("icmp6-multicastlistenerreportv2", 143),
    ("icmp6-homeagentdiscoveryrequest", 144),
    ("icmp6-homeagentdiscoveryreply", 145),
    ("icmp6-mobileprefixsolicit", 146),
    ("icmp6-mobileprefixadvert", 147),
    ("icmp6-certpathsolicit", 148),
    ("icmp6-certpathadvert", 149),
    ("icmp6-multicastrouteradvert", 151),
    ("icmp6-multicastroutersolicit", 152),
    ("icmp6-multicastrouterterm", 153),
    ("tcpflags", 13),
    ("tcp-fin", 0x01),
    ("tcp-syn", 0x02),
    ("tcp-rst", 0x04),
    ("tcp-push", 0x08),
    ("tcp-ack", 0x10),
    ("tcp-urg", 0x20),
    ("tcp-ece", 0x40),
    ("tcp-cwr", 0x80),
];

/// Splits `src` into tokens.
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, FilterError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b.get(i).copied().unwrap_or(0);
        if matches!(c, b' ' | b'\r' | b'\n' | b'\t') {
            i += 1;
            continue;
        }
        let rest = b.get(i..).unwrap_or(&[]);
        let token = |tok, len: usize| Token {
            tok,
            span: Span::new(i, i + len),
            text_start: i,
        };
        // Two-character operators first (flex: longest match).
        let two = rest.get(..2).unwrap_or(&[]);
        let op2 = match two {
            b"&&" => Some(Tok::And),
            b"||" => Some(Tok::Or),
            b">=" | b"<=" | b"!=" | b"==" | b"<<" | b">>" => Some(Tok::Op),
            _ => None,
        };
        if let Some(tok) = op2 {
            out.push(token(tok, 2));
            i += 2;
            continue;
        }
        let op1 = match c {
            b'!' => Some(Tok::Not),
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b'[' => Some(Tok::LBracket),
            b']' => Some(Tok::RBracket),
            b'/' => Some(Tok::Slash),
            b':' if !starts_v6(rest) && bogus_mac_len(rest) == 0 => Some(Tok::Colon),
            b'+' | b'-' | b'*' | b'%' | b'&' | b'|' | b'^' | b'<' | b'>' | b'=' => Some(Tok::Op),
            _ => None,
        };
        if let Some(tok) = op1 {
            out.push(token(tok, 1));
            i += 1;
            continue;
        }
        if c == b'\\' {
            // `\name`: a name even if it spells a keyword (scanner.l: "\\"[^ !()\n\t]+).
            let len = rest
                .iter()
                .skip(1)
                .take_while(|&&c| !matches!(c, b' ' | b'!' | b'(' | b')' | b'\n' | b'\t'))
                .count();
            if len == 0 {
                return Err(FilterError::syntax("a lone backslash", Span::new(i, i + 1)));
            }
            out.push(Token {
                tok: Tok::Id,
                span: Span::new(i, i + 1 + len),
                text_start: i + 1,
            });
            i += 1 + len;
            continue;
        }
        let (tok, len) = word(rest).map_err(|e| e.at(i))?;
        if len == 0 {
            let ch = src.get(i..).and_then(|s| s.chars().next()).unwrap_or('?');
            return Err(FilterError::syntax(
                format!("unexpected character '{ch}'"),
                Span::new(i, i + ch.len_utf8()),
            ));
        }
        out.push(token(tok, len));
        i += len;
    }
    Ok(out)
}

/// A lexical error found inside a word, positioned relative to the word.
struct WordError {
    message: String,
    len: usize,
}

impl WordError {
    fn at(self, start: usize) -> FilterError {
        FilterError::invalid(self.message, Span::new(start, start + self.len))
    }
}

/// The longest of the scanner's word rules at the start of `s`, ties going to the rule
/// listed first in scanner.l.
fn word(s: &[u8]) -> Result<(Tok, usize), WordError> {
    let id = id_len(s);
    let candidates: [(usize, u8); 8] = [
        (keyword_len(s), 0),
        (aid_len(s), 1),
        (mac_len(s), 2),
        (num_len(s), 3),
        (hid_len(s), 4),
        (v6_len(s), 5),
        (bogus_mac_len(s), 6),
        (named_number_len(s), 7),
    ];
    let mut best = (id, 8u8);
    for (len, rule) in candidates {
        if len > 0 && len >= best.0 {
            // Ties go to the earlier rule; candidates are in rule order, the name rule last.
            if len > best.0 || rule < best.1 {
                best = (len, rule);
            }
        }
    }
    let (len, rule) = best;
    if len == 0 {
        return Ok((Tok::Id, 0));
    }
    let text = std::str::from_utf8(s.get(..len).unwrap_or(&[])).unwrap_or("");
    let tok = match rule {
        0 => keyword(text).map_or(Tok::Id, |k| match text {
            "and" => Tok::And,
            "or" => Tok::Or,
            "not" => Tok::Not,
            _ => Tok::Kw(k),
        }),
        1 => Tok::Aid,
        2 => Tok::Eid,
        3 => Tok::Num(number(text).map_err(|message| WordError { message, len })?),
        4 => Tok::Hid,
        5 => {
            if text.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(WordError {
                    message: format!("bogus IPv6 address {text}"),
                    len,
                });
            }
            Tok::Hid6
        }
        6 => {
            return Err(WordError {
                message: format!("bogus ethernet address {text}"),
                len,
            });
        }
        7 => Tok::Num(
            NAMED_NUMBERS
                .iter()
                .find(|(n, _)| *n == text)
                .map_or(0, |(_, v)| *v),
        ),
        _ => Tok::Id,
    };
    Ok((tok, len))
}

fn keyword(text: &str) -> Option<Kw> {
    match text {
        "and" | "or" | "not" => Some(Kw::Other),
        _ => KEYWORDS.iter().find(|(k, _)| *k == text).map(|(_, kw)| *kw),
    }
}

fn keyword_len(s: &[u8]) -> usize {
    KEYWORDS
        .iter()
        .map(|(k, _)| k.as_bytes())
        .chain([b"and".as_slice(), b"or".as_slice(), b"not".as_slice()])
        .filter(|k| s.starts_with(k))
        .map(|k| k.len())
        .max()
        .unwrap_or(0)
}

fn named_number_len(s: &[u8]) -> usize {
    NAMED_NUMBERS
        .iter()
        .map(|(k, _)| k.as_bytes())
        .filter(|k| s.starts_with(k))
        .map(|k| k.len())
        .max()
        .unwrap_or(0)
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

/// `[A-Za-z0-9]([-_.A-Za-z0-9]*[.A-Za-z0-9])?`
fn id_len(s: &[u8]) -> usize {
    match s.first() {
        Some(c) if c.is_ascii_alphanumeric() => {}
        _ => return 0,
    }
    let run = s
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        .count();
    // The match cannot end in '-' or '_': back off to the last letter, digit or dot.
    (1..=run)
        .rev()
        .find(|&n| {
            s.get(n - 1)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'.')
        })
        .unwrap_or(1)
}

/// `[0-9]+|0[xX][0-9A-Fa-f]+`
fn num_len(s: &[u8]) -> usize {
    if let [b'0', b'x' | b'X', rest @ ..] = s {
        let n = rest.iter().take_while(|c| is_hex(**c)).count();
        if n > 0 {
            return 2 + n;
        }
    }
    s.iter().take_while(|c| c.is_ascii_digit()).count()
}

/// The value of a number token, as libpcap's `stou` reads it (leading 0 = octal).
fn number(text: &str) -> Result<u32, String> {
    let overflow = || format!("number {text} overflows 32 bits");
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return u32::from_str_radix(hex, 16).map_err(|_| overflow());
    }
    if text.len() > 1
        && let Some(oct) = text.strip_prefix('0')
    {
        if oct.bytes().any(|c| c > b'7') {
            return Err(format!("number {text} contains non-octal digit"));
        }
        return u32::from_str_radix(oct, 8).map_err(|_| overflow());
    }
    text.parse::<u32>().map_err(|_| overflow())
}

/// `N.N`, `N.N.N` or `N.N.N.N`.
fn hid_len(s: &[u8]) -> usize {
    let mut at = num_len(s);
    if at == 0 {
        return 0;
    }
    let mut parts = 1;
    let mut best = 0;
    while parts < 4 {
        let Some(b'.') = s.get(at) else { break };
        let n = num_len(s.get(at + 1..).unwrap_or(&[]));
        if n == 0 {
            break;
        }
        at += 1 + n;
        parts += 1;
        best = at;
    }
    best
}

/// `$` followed by one or two hex digits.
fn aid_len(s: &[u8]) -> usize {
    if s.first() != Some(&b'$') {
        return 0;
    }
    let n = s.iter().skip(1).take(2).take_while(|c| is_hex(**c)).count();
    if n == 0 { 0 } else { 1 + n }
}

/// One or two hex digits (`B`) and four hex digits (`B2`), as MAC address parts.
fn hex_run(s: &[u8], max: usize) -> usize {
    s.iter().take(max).take_while(|c| is_hex(**c)).count()
}

/// `B:B:B:B:B:B`, `B-B-B-B-B-B`, `B.B.B.B.B.B`, `B2.B2.B2` or twelve hex digits.
fn mac_len(s: &[u8]) -> usize {
    let mut best = 0;
    for sep in [b':', b'-', b'.'] {
        let mut at = 0;
        let mut ok = true;
        for part in 0..6 {
            let n = hex_run(s.get(at..).unwrap_or(&[]), 2);
            if n == 0 {
                ok = false;
                break;
            }
            at += n;
            if part < 5 {
                if s.get(at) != Some(&sep) {
                    ok = false;
                    break;
                }
                at += 1;
            }
        }
        if ok {
            best = best.max(at);
        }
    }
    // B2.B2.B2
    let mut at = 0;
    let mut ok = true;
    for part in 0..3 {
        if hex_run(s.get(at..).unwrap_or(&[]), 4) != 4 {
            ok = false;
            break;
        }
        at += 4;
        if part < 2 {
            if s.get(at) != Some(&b'.') {
                ok = false;
                break;
            }
            at += 1;
        }
    }
    if ok {
        best = best.max(at);
    }
    if hex_run(s, 12) == 12 {
        best = best.max(12);
    }
    best
}

/// `B:+(B:+)+`: something like a MAC address with the wrong number of parts.
fn bogus_mac_len(s: &[u8]) -> usize {
    let mut at = 0;
    let mut groups = 0;
    loop {
        let n = hex_run(s.get(at..).unwrap_or(&[]), 2);
        if n == 0 {
            break;
        }
        let colons = s
            .get(at + n..)
            .unwrap_or(&[])
            .iter()
            .take_while(|c| **c == b':')
            .count();
        if colons == 0 {
            break;
        }
        at += n + colons;
        groups += 1;
    }
    if groups >= 2 { at } else { 0 }
}

fn starts_v6(s: &[u8]) -> bool {
    v6_len(s) > 0
}

/// The longest prefix of `s` that scanner.l's `V6` pattern accepts: eight groups of one to
/// four hex digits, or fewer with one `::`, optionally ending in a dotted IPv4 address (six
/// groups before it, or at most five with `::`).
fn v6_len(s: &[u8]) -> usize {
    let run = s
        .iter()
        .take_while(|c| is_hex(**c) || matches!(c, b':' | b'.' | b'x' | b'X'))
        .count();
    if !s.get(..run).unwrap_or(&[]).contains(&b':') {
        return 0;
    }
    (2..=run)
        .rev()
        .find(|&n| is_v6(s.get(..n).unwrap_or(&[])))
        .unwrap_or(0)
}

fn is_v6(s: &[u8]) -> bool {
    // Split off an IPv4 tail: the text after the last ':' if it holds a dot.
    let last_colon = match s.iter().rposition(|c| *c == b':') {
        Some(p) => p,
        None => return false,
    };
    let tail = s.get(last_colon + 1..).unwrap_or(&[]);
    let (head, has_v4) = if tail.contains(&b'.') {
        if hid_len(tail) != tail.len() || tail.iter().filter(|c| **c == b'.').count() != 3 {
            return false;
        }
        // Keep the ':' that ends the groups so that "::1.2.3.4" keeps its "::".
        (s.get(..=last_colon).unwrap_or(&[]), true)
    } else {
        (s, false)
    };
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        Err(_) => return false,
    };
    let double = text.matches("::").count();
    if double > 1 || text.contains(":::") {
        return false;
    }
    let groups = |part: &str| -> Option<usize> {
        if part.is_empty() {
            return Some(0);
        }
        let mut n = 0;
        for g in part.split(':') {
            if g.is_empty() || g.len() > 4 || !g.bytes().all(is_hex) {
                return None;
            }
            n += 1;
        }
        Some(n)
    };
    if double == 1 {
        let (a, b) = match text.split_once("::") {
            Some(p) => p,
            None => return false,
        };
        // With an IPv4 tail, the head ends in ':' (already part of "::" or a separator).
        let b = if has_v4 {
            match b.strip_suffix(':') {
                Some(b) => b,
                None if b.is_empty() => b,
                None => return false,
            }
        } else {
            b
        };
        let (Some(x), Some(y)) = (groups(a), groups(b)) else {
            return false;
        };
        x + y <= if has_v4 { 5 } else { 7 }
    } else {
        let body = if has_v4 {
            match text.strip_suffix(':') {
                Some(b) => b,
                None => return false,
            }
        } else {
            text
        };
        groups(body) == Some(if has_v4 { 6 } else { 8 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        lex(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn longest_match_and_rule_order() {
        assert_eq!(kinds("tcp"), [Tok::Kw(Kw::Tcp)]);
        assert_eq!(kinds("tcpx"), [Tok::Id]);
        assert_eq!(kinds("80"), [Tok::Num(80)]);
        assert_eq!(kinds("0x50 050"), [Tok::Num(80), Tok::Num(40)]);
        assert_eq!(kinds("80-90"), [Tok::Id]);
        assert_eq!(kinds("10.1"), [Tok::Hid]);
        assert_eq!(kinds("10.0.0.1"), [Tok::Hid]);
        assert_eq!(kinds("10.0.0.1a"), [Tok::Id]);
        assert_eq!(kinds("::1 fe80::1 ::ffff:1.2.3.4"), [Tok::Hid6; 3]);
        assert_eq!(kinds("1:2:3:4:5:6 aa-bb-cc-dd-ee-ff"), [Tok::Eid; 2]);
        assert_eq!(kinds("icmp-echo tcp-syn"), [Tok::Num(8), Tok::Num(2)]);
        assert_eq!(kinds("\\tcp"), [Tok::Id]);
        assert_eq!(kinds("&& || ! and or not"), {
            use Tok::*;
            [And, Or, Not, And, Or, Not]
        });
        assert_eq!(kinds("es-is"), [Tok::Kw(Kw::Other)]);
        assert_eq!(
            kinds("tcp[13:1]"),
            [
                Tok::Kw(Kw::Tcp),
                Tok::LBracket,
                Tok::Num(13),
                Tok::Colon,
                Tok::Num(1),
                Tok::RBracket
            ]
        );
    }

    #[test]
    fn name_text_drops_the_backslash() {
        let src = "proto \\tcp";
        let toks = lex(src).unwrap();
        assert_eq!(toks[1].text(src), "tcp");
        assert_eq!(toks[1].span, Span::new(6, 10));
    }

    #[test]
    fn lexical_errors_say_where() {
        let e = lex("port 080").unwrap_err();
        assert_eq!(
            e,
            FilterError::invalid("number 080 contains non-octal digit", Span::new(5, 8))
        );
        let e = lex("host 99999999999").unwrap_err();
        assert!(e.to_string().contains("overflows 32 bits"), "{e}");
        let e = lex("ether host 1:2:3").unwrap_err();
        assert!(
            e.to_string().contains("bogus ethernet address 1:2: "),
            "{e}"
        );
        let e = lex("host 10.0.0.1 # comment").unwrap_err();
        assert_eq!(e.span(), Some(Span::new(14, 15)));
    }
}
