//! HTTP/1.x header blocks: finding where one ends across chunks, and turning one into the
//! owned fields we report (httparse does the parsing; this keeps only what we need).

use httparse::{Header, ParserConfig, Status};
use std::mem::MaybeUninit;

/// Headers parsed per message without touching the heap. Real traffic rarely sends more
/// than 30; a block with more is parsed again with [`MAX_HEADERS_SLOW`].
const MAX_HEADERS_FAST: usize = 64;
/// Second, heap-allocated attempt for header-heavy messages. Beyond this the block is
/// rejected by httparse (`TooManyHeaders`), which we count as a violation.
const MAX_HEADERS_SLOW: usize = 1024;

/// What the side's first line looks like: the decoder parses requests from the client and
/// responses from the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HeadKind {
    Request,
    Response,
}

/// How the message body is delimited (RFC 9112 section 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `Content-Length` (or no body at all when absent on a request: `Length(0)`).
    Length(u64),
    /// `Transfer-Encoding: ..., chunked`.
    Chunked,
    /// Read until the connection closes (responses without a length, or with a
    /// transfer coding that is not chunked).
    UntilClose,
}

/// The fields of a request head we keep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RequestHead {
    pub method: String,
    pub target: String,
    pub version: Option<&'static str>,
    pub host: Option<String>,
    pub user_agent: Option<String>,
    pub proxy_authorization: bool,
    pub range: Option<String>,
    /// The Upgrade header offers `h2c` (HTTP/2 over cleartext, RFC 7540 3.2).
    pub upgrade_h2c: bool,
    pub lengths: BodyHeaders,
}

/// The fields of a response head we keep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ResponseHead {
    pub status: u16,
    pub reason: String,
    pub version: &'static str,
    pub content_type: Option<String>,
    pub proxy_authenticate: Option<String>,
    pub via: Option<String>,
    pub server: Option<String>,
    pub location: Option<String>,
    pub content_range: Option<String>,
    pub lengths: BodyHeaders,
}

/// The headers that decide body framing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct BodyHeaders {
    /// A valid Content-Length (all copies agree).
    pub content_length: Option<u64>,
    /// A Content-Length header was present but unusable (not a number, copies disagree).
    pub bad_content_length: bool,
    /// Transfer-Encoding was present.
    pub transfer_encoding: bool,
    /// ... and its last coding is `chunked`.
    pub chunked: bool,
}

impl BodyHeaders {
    /// Framing of a request body: without length headers a request has no body.
    pub fn request_framing(&self) -> Framing {
        if self.transfer_encoding {
            // A request with a non-chunked final coding cannot be delimited (RFC 9112
            // 6.3 item 4); treating it as chunked-less zero length keeps the stream parseable.
            return if self.chunked {
                Framing::Chunked
            } else {
                Framing::Length(0)
            };
        }
        Framing::Length(self.content_length.unwrap_or(0))
    }

    /// Framing of a response body that may have one (not HEAD, 1xx, 204, 304, CONNECT 2xx).
    pub fn response_framing(&self) -> Framing {
        if self.transfer_encoding {
            return if self.chunked {
                Framing::Chunked
            } else {
                Framing::UntilClose
            };
        }
        match self.content_length {
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        }
    }
}

/// Outcome of parsing a (possibly incomplete) header block.
#[derive(Debug)]
pub(crate) enum HeadParse<T> {
    /// The block is complete: its length in bytes, and the head.
    Complete(usize, T),
    /// More bytes are needed.
    Partial,
    /// Not HTTP.
    Invalid(&'static str),
}

fn config() -> ParserConfig {
    // As lax as httparse allows: we observe traffic, we do not police it, and a client or
    // server that the peer accepted must not be rejected here.
    let mut c = ParserConfig::default();
    c.allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_multiple_spaces_in_request_line_delimiters(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .allow_space_before_first_header_name(true)
        .ignore_invalid_headers_in_responses(true)
        .ignore_invalid_headers_in_requests(true);
    c
}

fn error_reason(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "http: invalid header name",
        httparse::Error::HeaderValue => "http: invalid header value",
        httparse::Error::NewLine => "http: invalid new line",
        httparse::Error::Status => "http: invalid response status",
        httparse::Error::Token => "http: invalid token in request line",
        httparse::Error::TooManyHeaders => "http: too many headers",
        httparse::Error::Version => "http: invalid version",
    }
}

fn version_str(minor: Option<u8>) -> &'static str {
    match minor {
        Some(0) => "HTTP/1.0",
        _ => "HTTP/1.1",
    }
}

/// Parses a request head at the start of `buf`.
pub(crate) fn parse_request(buf: &[u8]) -> HeadParse<RequestHead> {
    let mut headers = [const { MaybeUninit::<Header<'_>>::uninit() }; MAX_HEADERS_FAST];
    let mut req = httparse::Request::new(&mut []);
    match config().parse_request_with_uninit_headers(&mut req, buf, &mut headers) {
        Ok(Status::Complete(n)) => HeadParse::Complete(n, request_head_of(&req)),
        Ok(Status::Partial) => HeadParse::Partial,
        Err(httparse::Error::TooManyHeaders) => {
            let mut headers = vec![httparse::EMPTY_HEADER; MAX_HEADERS_SLOW];
            let mut req = httparse::Request::new(&mut headers);
            match config().parse_request(&mut req, buf) {
                Ok(Status::Complete(n)) => HeadParse::Complete(n, request_head_of(&req)),
                Ok(Status::Partial) => HeadParse::Partial,
                Err(e) => HeadParse::Invalid(error_reason(e)),
            }
        }
        // httparse wants `METHOD SP target SP HTTP/1.x`; tshark also shows request lines
        // with a missing or odd version or target (`GET /HTTP/1.1`, `OPTIONS`), and so do we.
        Err(e @ (httparse::Error::Token | httparse::Error::Version | httparse::Error::NewLine)) => {
            match parse_request_lax(buf) {
                HeadParse::Invalid(_) => HeadParse::Invalid(error_reason(e)),
                other => other,
            }
        }
        Err(e) => HeadParse::Invalid(error_reason(e)),
    }
}

/// Longest method accepted by the lax request-line reader.
const MAX_LAX_METHOD: usize = 32;

/// Reads a request line the way tshark does (space-separated method, optional target,
/// optional version), then the headers with httparse. Only called when httparse rejected the
/// request line, so it stays strict about everything else: the method is an upper-case
/// token and a version, when present, starts with `HTTP/`.
fn parse_request_lax(buf: &[u8]) -> HeadParse<RequestHead> {
    let start = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let rest = buf.get(start..).unwrap_or_default();
    let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
        // Not a whole line yet: partial only while what we have could still become one.
        let line = rest.strip_suffix(b"\r").unwrap_or(rest);
        return if rest.len() <= 8 * 1024 && lax_line_ok(line, false) {
            HeadParse::Partial
        } else {
            HeadParse::Invalid("http: invalid request line")
        };
    };
    let line = rest.get(..nl).unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if !lax_line_ok(line, true) {
        return HeadParse::Invalid("http: invalid request line");
    }
    // tshark's reading: the first word is the method, the second the target, the last the
    // version (`CONNECT host:25 / HTTP/1.0` has a stray word in between).
    let words: Vec<&[u8]> = line
        .split(|&b| b == b' ')
        .filter(|p| !p.is_empty())
        .collect();
    let method = words.first().copied().unwrap_or_default();
    let target = words.get(1).copied().unwrap_or_default();
    let version = if words.len() >= 3 {
        words.last().copied()
    } else {
        None
    };
    if method.is_empty() {
        return HeadParse::Invalid("http: invalid request line");
    }
    let after_line = start + nl + 1;
    match lax_headers(buf.get(after_line..).unwrap_or_default()) {
        Some((n, hdrs)) => {
            let version = match version {
                Some(b"HTTP/1.0") => Some("HTTP/1.0"),
                Some(b"HTTP/1.1") => Some("HTTP/1.1"),
                _ => None,
            };
            let head = request_head(
                &String::from_utf8_lossy(method),
                &String::from_utf8_lossy(target),
                version,
                &hdrs,
            );
            HeadParse::Complete(after_line + n, head)
        }
        None => HeadParse::Partial,
    }
}

/// Header lines up to the empty line that ends them, for a request httparse rejected:
/// lines without a colon are skipped, as browsers and tshark do. Returns the block length
/// and the headers, or `None` when the empty line has not arrived yet.
fn lax_headers(buf: &[u8]) -> Option<(usize, Vec<Header<'_>>)> {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let rest = buf.get(pos..)?;
        let nl = rest.iter().position(|&b| b == b'\n')?;
        let line = rest.get(..nl)?;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos += nl + 1;
        if line.is_empty() {
            return Some((pos, out));
        }
        if out.len() >= MAX_HEADERS_SLOW {
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = line.split_at(colon);
        let Ok(name) = std::str::from_utf8(name.trim_ascii()) else {
            continue;
        };
        out.push(Header {
            name,
            value: value.get(1..).unwrap_or_default().trim_ascii(),
        });
    }
}

/// Whether `line` is (when `complete`), or can still become, a lax request line: an
/// upper-case method token, then visible characters, and with three words or more a last
/// one that is a version (`HTTP/...`).
fn lax_line_ok(line: &[u8], complete: bool) -> bool {
    let mut words = line.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let Some(method) = words.next() else {
        return !complete;
    };
    let method_ok = method.len() <= MAX_LAX_METHOD
        && method
            .iter()
            .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    let visible = line.iter().all(|&b| b == b' ' || b > 0x20 && b != 0x7f);
    let rest: Vec<&[u8]> = words.collect();
    let version_ok = match rest.as_slice() {
        [] | [_] => true,
        [.., v] => !complete || v.starts_with(b"HTTP/"),
    };
    method_ok && visible && version_ok
}

/// Parses a response head at the start of `buf`.
pub(crate) fn parse_response(buf: &[u8]) -> HeadParse<ResponseHead> {
    let mut headers = [const { MaybeUninit::<Header<'_>>::uninit() }; MAX_HEADERS_FAST];
    let mut resp = httparse::Response::new(&mut []);
    match config().parse_response_with_uninit_headers(&mut resp, buf, &mut headers) {
        Ok(Status::Complete(n)) => HeadParse::Complete(n, response_head(&resp)),
        Ok(Status::Partial) => HeadParse::Partial,
        Err(httparse::Error::TooManyHeaders) => {
            let mut headers = vec![httparse::EMPTY_HEADER; MAX_HEADERS_SLOW];
            let mut resp = httparse::Response::new(&mut headers);
            match config().parse_response(&mut resp, buf) {
                Ok(Status::Complete(n)) => HeadParse::Complete(n, response_head(&resp)),
                Ok(Status::Partial) => HeadParse::Partial,
                Err(e) => HeadParse::Invalid(error_reason(e)),
            }
        }
        Err(e) => HeadParse::Invalid(error_reason(e)),
    }
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).trim().to_string()
}

/// Folds one header into the framing fields. Repeated headers combine as a list would
/// (RFC 9110 5.3): all Content-Length copies must agree, the last Transfer-Encoding coding
/// counts.
fn body_header(b: &mut BodyHeaders, h: &Header<'_>) -> bool {
    if h.name.eq_ignore_ascii_case("content-length") {
        for part in h.value.split(|&c| c == b',') {
            let parsed = std::str::from_utf8(part)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok());
            match (parsed, b.content_length) {
                (Some(n), None) if !b.bad_content_length => b.content_length = Some(n),
                (Some(n), Some(m)) if n == m => {}
                _ => {
                    b.bad_content_length = true;
                    b.content_length = None;
                }
            }
        }
        true
    } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
        b.transfer_encoding = true;
        if let Some(last) = h.value.rsplit(|&c| c == b',').next() {
            let last = last.trim_ascii();
            // An empty last element (a trailing comma) does not change the coding.
            if !last.is_empty() {
                b.chunked = last.eq_ignore_ascii_case(b"chunked");
            }
        }
        true
    } else {
        false
    }
}

fn request_head(
    method: &str,
    target: &str,
    version: Option<&'static str>,
    headers: &[Header<'_>],
) -> RequestHead {
    let mut head = RequestHead {
        method: method.to_string(),
        target: target.to_string(),
        version,
        ..RequestHead::default()
    };
    for h in headers {
        if body_header(&mut head.lengths, h) {
            continue;
        }
        let n = h.name;
        if n.eq_ignore_ascii_case("host") {
            head.host.get_or_insert_with(|| text(h.value));
        } else if n.eq_ignore_ascii_case("user-agent") {
            head.user_agent.get_or_insert_with(|| text(h.value));
        } else if n.eq_ignore_ascii_case("proxy-authorization") {
            // Presence only: the value is a credential and never leaves this function.
            head.proxy_authorization = true;
        } else if n.eq_ignore_ascii_case("range") {
            head.range.get_or_insert_with(|| text(h.value));
        } else if n.eq_ignore_ascii_case("upgrade") {
            head.upgrade_h2c |= h
                .value
                .split(|&b| b == b',')
                .any(|p| p.trim_ascii().eq_ignore_ascii_case(b"h2c"));
        }
    }
    head
}

fn request_head_of(req: &httparse::Request<'_, '_>) -> RequestHead {
    request_head(
        req.method.unwrap_or_default(),
        req.path.unwrap_or_default(),
        Some(version_str(req.version)),
        req.headers,
    )
}

fn response_head(resp: &httparse::Response<'_, '_>) -> ResponseHead {
    let mut head = ResponseHead {
        status: resp.code.unwrap_or_default(),
        reason: resp.reason.unwrap_or_default().to_string(),
        version: version_str(resp.version),
        ..ResponseHead::default()
    };
    for h in resp.headers.iter() {
        if body_header(&mut head.lengths, h) {
            continue;
        }
        let n = h.name;
        let slot = if n.eq_ignore_ascii_case("content-type") {
            &mut head.content_type
        } else if n.eq_ignore_ascii_case("proxy-authenticate") {
            if head.proxy_authenticate.is_none() {
                // The scheme is the first word ("Basic realm=..."): enough to say what the
                // proxy wants, without copying its challenge parameters.
                let v = text(h.value);
                let scheme = v.split_ascii_whitespace().next().unwrap_or_default();
                head.proxy_authenticate = Some(scheme.trim_end_matches(',').to_string());
            }
            continue;
        } else if n.eq_ignore_ascii_case("via") {
            &mut head.via
        } else if n.eq_ignore_ascii_case("server") {
            &mut head.server
        } else if n.eq_ignore_ascii_case("location") {
            &mut head.location
        } else if n.eq_ignore_ascii_case("content-range") {
            &mut head.content_range
        } else {
            continue;
        };
        slot.get_or_insert_with(|| text(h.value));
    }
    head
}

/// Methods a request after a gap may start with: the common ones only, so that body bytes
/// are not taken for a request.
const RESYNC_METHODS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"CONNECT ",
    b"OPTIONS ",
    b"PATCH ",
    b"TRACE ",
];

/// Whether `data` starts like a head of `kind` (used to pick the stream up again after a gap).
pub(crate) fn looks_like_head_start(kind: HeadKind, data: &[u8]) -> bool {
    match kind {
        HeadKind::Response => data.starts_with(b"HTTP/1."),
        HeadKind::Request => RESYNC_METHODS.iter().any(|m| data.starts_with(m)),
    }
}

/// Finds the end of a header block that arrives in pieces, without parsing it: the decoder
/// copies only header bytes into its buffer, never the body that follows in the same chunk.
/// Mirrors httparse: empty lines before the start line are skipped, and the block ends at
/// the first empty line (`\r\n` or a bare `\n`) after it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct HeadEndScanner {
    started: bool,
    line_empty: bool,
}

impl HeadEndScanner {
    /// Feeds `data`; returns the number of bytes up to and including the block's last
    /// byte when the end is in `data`.
    pub fn scan(&mut self, data: &[u8]) -> Option<usize> {
        for (i, &b) in data.iter().enumerate() {
            match b {
                b'\r' | b'\n' if !self.started => {}
                b'\n' => {
                    if self.line_empty {
                        *self = HeadEndScanner::default();
                        return Some(i + 1);
                    }
                    self.line_empty = true;
                }
                b'\r' => {}
                _ => {
                    self.started = true;
                    self.line_empty = false;
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanner_finds_end_across_pieces() {
        let block = b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\nBODY";
        for split in 0..block.len() {
            let (a, b) = block.split_at(split);
            let mut s = HeadEndScanner::default();
            let end = match s.scan(a) {
                Some(e) => e,
                None => split + s.scan(b).unwrap_or(usize::MAX - split),
            };
            assert_eq!(end, block.len() - 4, "split {split}");
        }
    }

    #[test]
    fn bare_lf_block() {
        let mut s = HeadEndScanner::default();
        assert_eq!(s.scan(b"HTTP/1.0 200 OK\nA: b\n\nxx"), Some(22));
    }

    #[test]
    fn framing_rules() {
        let r = match parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n") {
            HeadParse::Complete(_, r) => r,
            other => panic!("{other:?}"),
        };
        assert_eq!(r.lengths.response_framing(), Framing::Length(5));
        let r = match parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        ) {
            HeadParse::Complete(_, r) => r,
            other => panic!("{other:?}"),
        };
        assert!(r.lengths.bad_content_length);
        assert_eq!(r.lengths.response_framing(), Framing::UntilClose);
        let r = match parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\nContent-Length: 9\r\n\r\n",
        ) {
            HeadParse::Complete(_, r) => r,
            other => panic!("{other:?}"),
        };
        assert_eq!(r.lengths.response_framing(), Framing::Chunked);
        let q = match parse_request(b"POST /x HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n") {
            HeadParse::Complete(_, q) => q,
            other => panic!("{other:?}"),
        };
        assert_eq!(q.version, Some("HTTP/1.0"));
        assert_eq!(q.lengths.request_framing(), Framing::Length(0));
    }

    #[test]
    fn many_headers_take_the_slow_path() {
        let mut block = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..200 {
            block.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        block.extend_from_slice(b"Host: late.example\r\n\r\n");
        match parse_request(&block) {
            HeadParse::Complete(n, q) => {
                assert_eq!(n, block.len());
                assert_eq!(q.host.as_deref(), Some("late.example"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lax_request_lines_as_tshark_reads_them() {
        // Request lines of zeek's methods.pcap that httparse rejects; tshark's method and uri.
        let cases: [(&[u8], &str, &str); 6] = [
            (b"OPTIONS HTTP/1.1\nHost: www.google.com\n\n", "OPTIONS", "HTTP/1.1"),
            (b"OPTIONS\nHost: www.google.com\n\n", "OPTIONS", ""),
            (b"GET / HTTP/1.\nHost: www.google.com\n\n", "GET", "/"),
            (b"CCM_POST /HTTP/1.1\nHost: www.google.com\n\n", "CCM_POST", "/HTTP/1.1"),
            (b"CONNECT / HTTP/1.\r\nHost: www.google.com\r\n\r\n", "CONNECT", "/"),
            // zeek connect-with-smtp.pcap, with a header line that has no colon.
            (
                b"CONNECT mailin03.sul.t-online.de:25 / HTTP/1.0\r\nMozilla 4.0 (compatible)\r\nHost: www.google.com\r\n\r\n",
                "CONNECT",
                "mailin03.sul.t-online.de:25",
            ),
        ];
        for (buf, method, uri) in cases {
            match parse_request(buf) {
                HeadParse::Complete(n, q) => {
                    assert_eq!(
                        (n, q.method.as_str(), q.target.as_str()),
                        (buf.len(), method, uri)
                    );
                    assert_eq!(q.host.as_deref(), Some("www.google.com"));
                }
                other => panic!("{other:?}"),
            }
            for cut in 1..buf.len() {
                let r = parse_request(&buf[..cut]);
                assert!(matches!(r, HeadParse::Partial), "{cut} {r:?}");
            }
        }
        for bad in [
            &b"GET\x01 / HTTP/1.1\r\n\r\n"[..],
            b"GET / FTP/1.0\r\n\r\n",
            b"GET / HTTP/1.1 x\r\n\r\n",
            b"\x16\x03\x01\x02\x00",
        ] {
            assert!(
                matches!(parse_request(bad), HeadParse::Invalid(_)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn proxy_authenticate_scheme_only() {
        match parse_response(
            b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\n\r\n",
        ) {
            HeadParse::Complete(_, r) => {
                assert_eq!(r.proxy_authenticate.as_deref(), Some("Basic"));
                assert_eq!(r.reason, "Proxy Authentication Required");
            }
            other => panic!("{other:?}"),
        }
    }
}
