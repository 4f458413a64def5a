//! Content probes: which decoder a stream's first bytes belong to (Zeek's PIA, Suricata's
//! probing parsers). Ports are only a tie-breaker for DNS over TCP, whose first bytes (a
//! length) say little on their own.

use super::Protocol;

/// HTTP/1.x request methods we recognise at the start of a stream (RFC 9110 and WebDAV).
const METHODS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"CONNECT ",
    b"OPTIONS ",
    b"TRACE ",
    b"PATCH ",
    b"PROPFIND ",
    b"PROPPATCH ",
    b"MKCOL ",
    b"COPY ",
    b"MOVE ",
    b"LOCK ",
    b"UNLOCK ",
    b"SEARCH ",
    b"REPORT ",
];

/// Outcome of probing a stream prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    Is(Protocol),
    /// Too few bytes to decide.
    NeedMore,
    /// None of ours.
    Unknown,
}

/// Probes the first bytes one side sent. `dns_port` is true when either port is 53.
pub fn probe(first: &[u8], dns_port: bool) -> Probe {
    let Some(&b0) = first.first() else {
        return Probe::NeedMore;
    };
    // TLS record: handshake (22) or, for a capture that starts late, alert (21), with a
    // major version of 3. SSLv2-compatible hellos start with a length and 0x01: rare, and
    // tshark does not treat them as TLS either unless on a TLS port.
    if b0 == 0x16 || b0 == 0x15 {
        return match first.get(1) {
            None => Probe::NeedMore,
            Some(3) => Probe::Is(Protocol::Tls),
            Some(_) => Probe::Unknown,
        };
    }
    // SSLv2-compatible ClientHello (2-byte length with the high bit set, msg type 1, then a
    // version of SSL 3.0 or later): old clients open TLS this way.
    if b0 & 0x80 != 0 && first.len() >= 2 {
        match (first.get(2), first.get(3)) {
            (Some(1), Some(3)) | (Some(1), Some(0)) => return Probe::Is(Protocol::Tls),
            (None, _) | (Some(1), None) => return Probe::NeedMore,
            _ => {}
        }
    }
    if dns_port && let Some(&[a, b]) = first.get(..2) {
        let len = u16::from_be_bytes([a, b]) as usize;
        if len >= 12 {
            return Probe::Is(Protocol::Dns);
        }
    }
    if b0.is_ascii_uppercase() {
        if first.starts_with(b"HTTP/") {
            return Probe::Is(Protocol::Http);
        }
        for m in METHODS {
            if first.len() >= m.len() {
                if first.starts_with(m) {
                    return Probe::Is(Protocol::Http);
                }
                // A bare method ("OPTIONS\n"), which tshark still reads as a request.
                let bare = m.split_last().map_or(*m, |(_, rest)| rest);
                if first.starts_with(bare) && matches!(first.get(bare.len()), Some(b'\r' | b'\n')) {
                    return Probe::Is(Protocol::Http);
                }
            } else if m.starts_with(first) {
                return Probe::NeedMore;
            }
        }
        if first.len() < 5 && b"HTTP/".starts_with(first) {
            return Probe::NeedMore;
        }
        // An extension method ("CCM_POST / HTTP/1.1"): a token, then a request line that ends
        // with an HTTP version.
        let token = first
            .iter()
            .take_while(|b| {
                b.is_ascii_uppercase() || b.is_ascii_digit() || **b == b'_' || **b == b'-'
            })
            .count();
        if (2..=24).contains(&token) && first.get(token) == Some(&b' ') {
            let line_end = first.iter().position(|&b| b == b'\n');
            match line_end {
                Some(end) => {
                    let line = first.get(..end).unwrap_or(first);
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    if line.windows(5).any(|w| w == b"HTTP/") {
                        return Probe::Is(Protocol::Http);
                    }
                }
                None if first.len() < 256 => return Probe::NeedMore,
                None => {}
            }
        }
    }
    Probe::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes() {
        assert_eq!(
            probe(b"\x16\x03\x01\x02\x00", false),
            Probe::Is(Protocol::Tls)
        );
        assert_eq!(probe(b"\x16", false), Probe::NeedMore);
        assert_eq!(
            probe(b"GET / HTTP/1.1\r\n", false),
            Probe::Is(Protocol::Http)
        );
        assert_eq!(probe(b"CONN", false), Probe::NeedMore);
        assert_eq!(probe(b"HTTP/1.1 200 OK", false), Probe::Is(Protocol::Http));
        assert_eq!(probe(b"SSH-2.0-OpenSSH", false), Probe::Unknown);
        assert_eq!(
            probe(&[0x80, 0x4c, 0x01, 0x03, 0x00], false),
            Probe::Is(Protocol::Tls)
        );
        assert_eq!(
            probe(b"OPTIONS\nHost: x\n\n", false),
            Probe::Is(Protocol::Http)
        );
        assert_eq!(
            probe(b"CCM_POST /HTTP/1.1\r\nHost: x\r\n", false),
            Probe::Is(Protocol::Http)
        );
        assert_eq!(
            probe(b"CCM_POST / HTTP/1.0\r\n", false),
            Probe::Is(Protocol::Http)
        );
        assert_eq!(probe(b"FOO bar baz\r\n", false), Probe::Unknown);
        assert_eq!(probe(b"\x00\x1c\x12\x34", true), Probe::Is(Protocol::Dns));
        assert_eq!(probe(b"\x00\x1c\x12\x34", false), Probe::Unknown);
    }
}
