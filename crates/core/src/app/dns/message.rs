//! A lax DNS message reader (RFC 1035 4.1): the header, the first question and the answer
//! section, nothing else.
//!
//! Why not simple-dns: it parses every section and rejects the whole message on the first
//! record it dislikes (an unknown class, a bad label in the additional section, a name over
//! 255 bytes), while tshark still shows the question and the rcode of such messages, and
//! those two are what the diagnosis needs. Measured on the 130 UDP DNS messages of the
//! public corpus: simple-dns 0.13 rejects 13, among them 5 responses whose question tshark
//! shows (URI qtype 256 in `dns-uri.pcap`, class 255 in `dynamic-update.pcap`, an over-long
//! name in `dns-badlabel.pcap`). Here each part is read independently and a bad part only
//! ends the reading of what follows it.

#[cfg(feature = "serde")]
use serde::{Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;
use std::net::Ipv6Addr;

/// A resource record type (RFC 1035 3.2.2 and the IANA registry). Open: unknown values are
/// carried and shown as numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DnsType(pub u16);

impl DnsType {
    /// `A`: host address (RFC 1035).
    pub const A: DnsType = DnsType(1);
    /// `NS`: authoritative name server (RFC 1035).
    pub const NS: DnsType = DnsType(2);
    /// `CNAME`: canonical name of an alias (RFC 1035).
    pub const CNAME: DnsType = DnsType(5);
    /// `SOA`: start of a zone of authority (RFC 1035).
    pub const SOA: DnsType = DnsType(6);
    /// `NULL`: arbitrary bytes, experimental (RFC 1035).
    pub const NULL: DnsType = DnsType(10);
    /// `PTR`: domain name pointer (RFC 1035).
    pub const PTR: DnsType = DnsType(12);
    /// `MX`: mail exchange (RFC 1035).
    pub const MX: DnsType = DnsType(15);
    /// `TXT`: text strings (RFC 1035).
    pub const TXT: DnsType = DnsType(16);
    /// `AAAA`: IPv6 host address (RFC 3596).
    pub const AAAA: DnsType = DnsType(28);
    /// `SRV`: service location (RFC 2782).
    pub const SRV: DnsType = DnsType(33);
    /// `NAPTR`: naming authority pointer (RFC 3403).
    pub const NAPTR: DnsType = DnsType(35);
    /// `DNAME`: delegation name (RFC 6672).
    pub const DNAME: DnsType = DnsType(39);
    /// `OPT`: EDNS pseudo-record (RFC 6891).
    pub const OPT: DnsType = DnsType(41);
    /// `DS`: delegation signer (RFC 4034).
    pub const DS: DnsType = DnsType(43);
    /// `SSHFP`: SSH host key fingerprint (RFC 4255).
    pub const SSHFP: DnsType = DnsType(44);
    /// `RRSIG`: DNSSEC signature (RFC 4034).
    pub const RRSIG: DnsType = DnsType(46);
    /// `NSEC`: next secure record (RFC 4034).
    pub const NSEC: DnsType = DnsType(47);
    /// `DNSKEY`: DNSSEC key (RFC 4034).
    pub const DNSKEY: DnsType = DnsType(48);
    /// `SVCB`: service binding (RFC 9460).
    pub const SVCB: DnsType = DnsType(64);
    /// `HTTPS`: HTTPS service binding (RFC 9460).
    pub const HTTPS: DnsType = DnsType(65);
    /// `ANY`: a query for every type (RFC 1035 QTYPE *).
    pub const ANY: DnsType = DnsType(255);
    /// `URI`: URI (RFC 7553).
    pub const URI: DnsType = DnsType(256);
    /// `CAA`: certification authority authorization (RFC 8659).
    pub const CAA: DnsType = DnsType(257);

    /// As `to_string()`: the mnemonic, or the number (without the formatting machinery or
    /// an allocation for known types: one per DNS record).
    pub fn text(self) -> Cow<'static, str> {
        match self.name() {
            Some(n) => Cow::Borrowed(n),
            None => Cow::Owned(self.0.to_string()),
        }
    }

    /// The IANA mnemonic (`"AAAA"`), `None` for a type without a name here.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::A => "A",
            Self::NS => "NS",
            Self::CNAME => "CNAME",
            Self::SOA => "SOA",
            Self::NULL => "NULL",
            Self::PTR => "PTR",
            Self::MX => "MX",
            Self::TXT => "TXT",
            Self::AAAA => "AAAA",
            Self::SRV => "SRV",
            Self::NAPTR => "NAPTR",
            Self::DNAME => "DNAME",
            Self::OPT => "OPT",
            Self::DS => "DS",
            Self::SSHFP => "SSHFP",
            Self::RRSIG => "RRSIG",
            Self::NSEC => "NSEC",
            Self::DNSKEY => "DNSKEY",
            Self::SVCB => "SVCB",
            Self::HTTPS => "HTTPS",
            Self::ANY => "ANY",
            Self::URI => "URI",
            Self::CAA => "CAA",
            _ => return None,
        })
    }
}

impl fmt::Display for DnsType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.0),
        }
    }
}

/// Known types as their mnemonic (`"AAAA"`), unknown ones as a number.
#[cfg(feature = "serde")]
impl Serialize for DnsType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.name() {
            Some(n) => s.serialize_str(n),
            None => s.serialize_u16(self.0),
        }
    }
}

/// A response code: the 4-bit RCODE of the header (RFC 1035 4.1.1, RFC 6895), as tshark's
/// `dns.flags.rcode` shows it. The EDNS extended bits are not folded in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct DnsRcode(pub u8);

impl DnsRcode {
    /// `NOERROR`: no error.
    pub const NOERROR: DnsRcode = DnsRcode(0);
    /// `FORMERR`: the server could not read the query.
    pub const FORMERR: DnsRcode = DnsRcode(1);
    /// `SERVFAIL`: the server failed to answer (upstream failure, DNSSEC failure...).
    pub const SERVFAIL: DnsRcode = DnsRcode(2);
    /// `NXDOMAIN`: the name does not exist.
    pub const NXDOMAIN: DnsRcode = DnsRcode(3);
    /// `NOTIMP`: the server does not implement the query kind.
    pub const NOTIMP: DnsRcode = DnsRcode(4);
    /// `REFUSED`: the server refused to answer (policy).
    pub const REFUSED: DnsRcode = DnsRcode(5);
    /// `YXDOMAIN`: a name exists that should not (RFC 2136).
    pub const YXDOMAIN: DnsRcode = DnsRcode(6);
    /// `YXRRSET`: an RR set exists that should not (RFC 2136).
    pub const YXRRSET: DnsRcode = DnsRcode(7);
    /// `NXRRSET`: an RR set that should exist does not (RFC 2136).
    pub const NXRRSET: DnsRcode = DnsRcode(8);
    /// `NOTAUTH`: the server is not authoritative for the zone (RFC 2136, RFC 8945).
    pub const NOTAUTH: DnsRcode = DnsRcode(9);
    /// `NOTZONE`: a name is not within the zone (RFC 2136).
    pub const NOTZONE: DnsRcode = DnsRcode(10);

    /// The IANA mnemonic, or `RCODE<n>` for unassigned values (allocated only then).
    pub fn name(self) -> Cow<'static, str> {
        let n = match self {
            Self::NOERROR => "NOERROR",
            Self::FORMERR => "FORMERR",
            Self::SERVFAIL => "SERVFAIL",
            Self::NXDOMAIN => "NXDOMAIN",
            Self::NOTIMP => "NOTIMP",
            Self::REFUSED => "REFUSED",
            Self::YXDOMAIN => "YXDOMAIN",
            Self::YXRRSET => "YXRRSET",
            Self::NXRRSET => "NXRRSET",
            Self::NOTAUTH => "NOTAUTH",
            Self::NOTZONE => "NOTZONE",
            _ => return Cow::Owned(format!("RCODE{}", self.0)),
        };
        Cow::Borrowed(n)
    }
}

/// One answer record.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DnsAnswer {
    /// The owner name, as tshark shows it.
    pub name: String,
    /// The record type.
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub rtype: DnsType,
    /// Time to live, in seconds.
    pub ttl: u32,
    /// The record data in presentation form for A, AAAA, CNAME, NS, PTR, DNAME, MX
    /// (exchange), SRV (target), SOA (mname) and TXT; `None` for other types.
    pub data: Option<String>,
}

/// What we read from one message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsMessage {
    /// The transaction id.
    pub id: u16,
    /// The QR bit: a response, not a query.
    pub response: bool,
    /// The header's OPCODE (0: a standard query).
    pub opcode: u8,
    /// The TC bit: the answer did not fit (the client retries over TCP).
    pub truncated: bool,
    /// The header's 4-bit RCODE.
    pub rcode: u8,
    /// First question: name as tshark shows it (no trailing dot, `<Root>` for the root).
    pub qname: Option<String>,
    /// First question: its type.
    pub qtype: Option<DnsType>,
    /// The answer section, up to [`MAX_ANSWERS`] records.
    pub answers: Vec<DnsAnswer>,
    /// Answers the header announced but that could not be read or were beyond the bound.
    pub answers_unread: u16,
}

/// Bytes in a name (RFC 1035 2.3.4). Beyond it tshark shows `<Name too long>`, and so do we.
const MAX_NAME_LEN: usize = 255;
/// Initial capacity of a decoded name: covers the usual name (`proxy.golang.org` is 16).
const NAME_CAPACITY: usize = 32;
/// Compression pointers followed in one name: a loop is cut here.
const MAX_POINTERS: usize = 64;
/// Answers kept per message; the rest are counted in `answers_unread`.
pub const MAX_ANSWERS: usize = 64;

/// Reads a DNS message. `None` only when there is no complete header (12 bytes).
pub fn parse(msg: &[u8]) -> Option<DnsMessage> {
    let hdr = msg.get(..12)?;
    let word = |i: usize| {
        u16::from_be_bytes([
            hdr.get(i).copied().unwrap_or(0),
            hdr.get(i + 1).copied().unwrap_or(0),
        ])
    };
    let flags = word(2);
    let mut m = DnsMessage {
        id: word(0),
        response: flags & 0x8000 != 0,
        opcode: ((flags >> 11) & 0xf) as u8,
        truncated: flags & 0x0200 != 0,
        rcode: (flags & 0xf) as u8,
        ..DnsMessage::default()
    };
    let qdcount = word(4);
    let ancount = word(6);
    m.answers_unread = ancount;
    let mut pos = 12;
    // Questions: the first one is kept, the others only skipped.
    for i in 0..qdcount {
        let Some((name, next)) = read_name(msg, pos) else {
            return Some(m);
        };
        let Some(t) = read_u16(msg, next) else {
            return Some(m);
        };
        if i == 0 {
            m.qname = Some(name);
            m.qtype = Some(DnsType(t));
        }
        pos = next + 4;
    }
    for _ in 0..ancount {
        if m.answers.len() >= MAX_ANSWERS {
            break;
        }
        let Some((name, next)) = read_name(msg, pos) else {
            break;
        };
        let (Some(t), Some(ttl_hi), Some(ttl_lo), Some(len)) = (
            read_u16(msg, next),
            read_u16(msg, next + 4),
            read_u16(msg, next + 6),
            read_u16(msg, next + 8),
        ) else {
            break;
        };
        let start = next + 10;
        let end = start + len as usize;
        let Some(rdata) = msg.get(start..end) else {
            break;
        };
        let rtype = DnsType(t);
        m.answers.push(DnsAnswer {
            name,
            rtype,
            ttl: (u32::from(ttl_hi) << 16) | u32::from(ttl_lo),
            data: rdata_text(msg, rtype, rdata, start),
        });
        m.answers_unread -= 1;
        pos = end;
    }
    Some(m)
}

fn read_u16(msg: &[u8], at: usize) -> Option<u16> {
    let b = msg.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}

/// Reads the (possibly compressed) name at `at`; returns it and the offset after it in the
/// message (after the first pointer, if any).
fn read_name(msg: &[u8], at: usize) -> Option<(String, usize)> {
    // Most names fit: one allocation instead of growing from empty label by label. Bytes,
    // made a `String` once at the end: checking each label as UTF-8 on its own was a third
    // of this function's time.
    let mut out: Vec<u8> = Vec::with_capacity(NAME_CAPACITY);
    let mut raw_len = 0usize;
    let mut pos = at;
    let mut after: Option<usize> = None;
    let mut pointers = 0;
    loop {
        let len = *msg.get(pos)?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    let end = after.unwrap_or(pos + 1);
                    let name = if raw_len > MAX_NAME_LEN {
                        "<Name too long>".to_string()
                    } else if out.is_empty() {
                        "<Root>".to_string()
                    } else {
                        // Only ASCII was written (`push_label`): never lossy.
                        String::from_utf8(out)
                            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
                    };
                    return Some((name, end));
                }
                let label = msg.get(pos + 1..pos + 1 + len as usize)?;
                raw_len += len as usize + 1;
                // Keep reading a too-long name to find where it ends, but stop growing it.
                if raw_len <= MAX_NAME_LEN {
                    if !out.is_empty() {
                        out.push(b'.');
                    }
                    push_label(&mut out, label);
                }
                pos += 1 + len as usize;
            }
            0xc0 => {
                let lo = *msg.get(pos + 1)?;
                if after.is_none() {
                    after = Some(pos + 2);
                }
                pointers += 1;
                if pointers > MAX_POINTERS {
                    return None;
                }
                pos = (usize::from(len & 0x3f) << 8) | usize::from(lo);
            }
            // 0x40 (extended label types, RFC 6891 deprecated them) and 0x80 (reserved).
            _ => return None,
        }
    }
}

/// Appends a label in presentation form: printable ASCII as is, other bytes as `\DDD`
/// (RFC 4343). Writes only ASCII.
fn push_label(out: &mut Vec<u8>, label: &[u8]) {
    let plain = |b: u8| b.is_ascii_graphic() && b != b'.' && b != b'\\';
    // The usual label is all plain ASCII: copied whole.
    if label.iter().all(|&b| plain(b)) {
        out.extend_from_slice(label);
        return;
    }
    for &b in label {
        if plain(b) {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'\\', b'0' + b / 100, b'0' + b / 10 % 10, b'0' + b % 10]);
        }
    }
}

/// `Ipv4Addr::to_string` without the formatting machinery (most answers are A records; this
/// runs on the engine's thread for each one).
fn ipv4_text(octets: [u8; 4]) -> String {
    let mut out = String::with_capacity(15);
    for (i, o) in octets.into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        if o >= 100 {
            out.push(char::from(b'0' + o / 100));
        }
        if o >= 10 {
            out.push(char::from(b'0' + o / 10 % 10));
        }
        out.push(char::from(b'0' + o % 10));
    }
    out
}

fn rdata_text(msg: &[u8], t: DnsType, rdata: &[u8], start: usize) -> Option<String> {
    match t {
        DnsType::A => {
            let b: [u8; 4] = rdata.try_into().ok()?;
            Some(ipv4_text(b))
        }
        DnsType::AAAA => {
            let b: [u8; 16] = rdata.try_into().ok()?;
            Some(Ipv6Addr::from(b).to_string())
        }
        DnsType::CNAME | DnsType::NS | DnsType::PTR | DnsType::DNAME | DnsType::SOA => {
            read_name(msg, start).map(|(n, _)| n)
        }
        DnsType::MX => read_name(msg, start + 2).map(|(n, _)| n),
        DnsType::SRV => read_name(msg, start + 6).map(|(n, _)| n),
        DnsType::TXT => {
            let mut out = String::new();
            let mut rest = rdata;
            while let Some((&len, tail)) = rest.split_first() {
                let (s, tail) = tail.split_at_checked(len as usize)?;
                out.push_str(&String::from_utf8_lossy(s));
                rest = tail;
            }
            Some(out)
        }
        // Arbitrary bytes: printable ASCII as it is, every other byte as `\xNN` (as Suricata
        // writes bytes above 0x7f; control bytes too here, so none reaches a terminal raw).
        DnsType::NULL => {
            let mut out = String::with_capacity(rdata.len());
            for &b in rdata {
                if b.is_ascii() && !b.is_ascii_control() {
                    out.push(char::from(b));
                } else {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            Some(out)
        }
        // RFC 4255 presentation: algorithm, fingerprint type, fingerprint in hex.
        DnsType::SSHFP => {
            let (&algo, rest) = rdata.split_first()?;
            let (&fp_type, fp) = rest.split_first()?;
            let mut out = format!("{algo} {fp_type} ");
            for b in fp {
                out.push_str(&format!("{b:02x}"));
            }
            Some(out)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ipv4_text_is_display() {
        for o in [0u8, 1, 9, 10, 11, 99, 100, 101, 199, 200, 255] {
            for b in [
                [o, 0, 0, 0],
                [1, o, 10, 100],
                [255, 254, o, o],
                [o, o, o, o],
            ] {
                assert_eq!(super::ipv4_text(b), std::net::Ipv4Addr::from(b).to_string());
            }
        }
    }

    use super::*;

    #[test]
    fn compressed_answers() {
        // Query for www.example.com A, answer CNAME -> example.com, then A, with pointers.
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        m.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        m.extend_from_slice(b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x02\xc0\x10");
        m.extend_from_slice(b"\xc0\x10\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x5d\xb8\xd8\x22");
        let p = parse(&m).unwrap();
        assert_eq!((p.id, p.response, p.rcode), (0x1234, true, 0));
        assert_eq!(p.qname.as_deref(), Some("www.example.com"));
        assert_eq!(p.qtype, Some(DnsType::A));
        assert_eq!(p.answers.len(), 2);
        assert_eq!(p.answers[0].data.as_deref(), Some("example.com"));
        assert_eq!(p.answers[1].name, "example.com");
        assert_eq!(p.answers[1].data.as_deref(), Some("93.184.216.34"));
        assert_eq!(p.answers_unread, 0);
    }

    #[test]
    fn pointer_loop_and_truncation_keep_the_header() {
        let mut m = vec![0, 1, 0x81, 0x83, 0, 1, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01");
        let p = parse(&m).unwrap();
        assert_eq!((p.rcode, p.qname.clone()), (3, None));
        assert!(parse(&m[..11]).is_none());
        // A truncated answer section: the question survives.
        let mut m = vec![0, 1, 0x81, 0x82, 0, 1, 0, 3, 0, 0, 0, 0];
        m.extend_from_slice(b"\x01a\x00\x00\x1c\x00\x01\xc0\x0c\x00");
        let p = parse(&m).unwrap();
        assert_eq!(p.qname.as_deref(), Some("a"));
        assert_eq!(p.qtype, Some(DnsType::AAAA));
        assert_eq!((p.answers.len(), p.answers_unread), (0, 3));
    }

    #[test]
    fn names_as_tshark_shows_them() {
        let mut m = vec![0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1];
        assert_eq!(parse(&m).unwrap().qname.as_deref(), Some("<Root>"));
        m.truncate(12);
        for _ in 0..5 {
            m.push(63);
            m.extend_from_slice(&[b'x'; 63]);
        }
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert_eq!(parse(&m).unwrap().qname.as_deref(), Some("<Name too long>"));
        assert_eq!(DnsType(65534).to_string(), "65534");
        assert_eq!(DnsType(65534).text(), "65534");
        assert_eq!(DnsType::AAAA.text(), DnsType::AAAA.to_string());
        #[cfg(feature = "serde")]
        {
            assert_eq!(serde_json::to_string(&DnsType(65534)).unwrap(), "65534");
            assert_eq!(serde_json::to_string(&DnsType::AAAA).unwrap(), "\"AAAA\"");
        }
        assert_eq!(DnsRcode(15).name(), "RCODE15");
    }
}
