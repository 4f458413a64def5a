//! The go command's error messages, parsed: one message (a line, plus the tab-indented lines
//! and the `SECURITY ERROR` paragraph go wraps some errors in) → [`GoError`] { what go was
//! doing, with which module, URL and host, and why it failed as a typed [`Cause`] }.
//!
//! The wordings are go's own, from its sources: net (`OpError`, `DNSError`: `dial tcp ADDR:
//! connect: …`, `lookup NAME on SERVER: …`), net/http (`Get "URL": …`, `proxyconnect tcp: …`,
//! a CONNECT answered with anything but 200 is an error that is only the status text,
//! `net/http: TLS handshake timeout`), crypto/tls (`tls: failed to verify certificate: …`,
//! `remote error: tls: ALERT`), crypto/x509 verify.go (`x509: certificate signed by unknown
//! authority`, `… is valid for A, B, not H`, …), cmd/go/internal/web (`reading URL: STATUS`
//! with `\n\tserver response:` detail), modfetch (`read "URL": …`, `verifying M@V: checksum
//! mismatch` + `SECURITY ERROR`), modload (`no matching versions for query`), toolchain
//! (`download go1.N for OS/ARCH: toolchain not available`).
//!
//! go wraps errors as `outer: inner: innermost`; the parser walks the `": "` boundaries from
//! the left and stops at the first form it knows, so a new wrapper in a later go release still
//! parses. Hostile input never panics: every slice is taken at a boundary that was found.

use std::fmt;

/// One error message go printed.
#[derive(Clone, Debug, PartialEq)]
pub struct GoError {
    /// Exactly what go printed: the message's lines joined with `\n`, continuation lines with
    /// their leading tab, the `SECURITY ERROR` paragraph included.
    pub line: String,
    /// The module the message is about (`M` of `M@V: …` or `module M: …`).
    pub module: Option<String>,
    /// Its version or query (`v1.0.0`, `latest`), without a `/go.mod` suffix.
    pub version: Option<String>,
    /// The URL go was fetching (`Get "URL"`, `reading URL`, `read "URL"`).
    pub url: Option<String>,
    /// `host[:port]` of the URL; without a URL, the address dialled or the name looked up.
    pub host: Option<String>,
    pub during: During,
    pub cause: Cause,
}

/// What go was doing when it failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum During {
    /// A request that got no usable answer, or got an error status (`Get "URL": …`,
    /// `reading URL: 404 Not Found`).
    Request,
    /// Reading a response body that broke off (`read "URL": …`, `reading URL: <error>`).
    Body,
    /// Checking a download against go.sum or the checksum database (`verifying …`).
    Verify,
    /// Downloading a toolchain for GOTOOLCHAIN (`download go1.N: …`).
    Toolchain { version: String },
    /// No network step named in the message.
    Local,
}

/// Why it failed: the innermost error go reported.
#[derive(Clone, Debug, PartialEq)]
pub enum Cause {
    /// The server answered with an error status (`reading URL: 404 Not Found`); `detail` is
    /// what go quoted of the body (`server response: …`).
    HttpStatus {
        code: u16,
        text: String,
        detail: Option<String>,
    },
    /// Connecting failed (`dial tcp 10.77.2.2:443: connect: connection refused`).
    Dial { addr: String, reason: DialReason },
    /// Name resolution failed (`lookup proxy.golang.org on 10.77.2.53:53: no such host`).
    Dns {
        name: String,
        server: Option<String>,
        reason: DnsReason,
    },
    /// The HTTPS proxy: its CONNECT was answered with an error, or reaching it failed with
    /// `inner` (`proxyconnect tcp: dial tcp …`). go prints only the answer's reason phrase
    /// (`Proxy Authentication Required`), as `text`; `status` is the code when the phrase is
    /// the standard one of a code (a proxy may send its own: `Unable to connect`).
    ProxyConnect {
        status: Option<u16>,
        text: Option<String>,
        inner: Option<Box<Cause>>,
    },
    /// The server's certificate was rejected (`tls: failed to verify certificate: x509: …`).
    X509 { reason: X509Reason },
    /// The peer ended the handshake with an alert (`remote error: tls: internal error`).
    TlsAlert { alert: String },
    /// Another TLS failure on this side (`tls: first record does not look like a TLS
    /// handshake`, `local error: tls: …`).
    Tls { message: String },
    /// `net/http: TLS handshake timeout` (10 s without the handshake finishing).
    TlsHandshakeTimeout,
    /// A read or the response headers timed out (`read tcp …: i/o timeout`,
    /// `net/http: timeout awaiting response headers`).
    Timeout { message: String },
    /// `unexpected EOF`: the peer closed in the middle of a message.
    UnexpectedEof,
    /// `EOF`: the peer closed before answering.
    Eof,
    /// `read tcp L->R: read: connection reset by peer` (or `write: …`).
    ConnectionReset {
        local: Option<String>,
        remote: Option<String>,
    },
    /// `verifying M@V: checksum mismatch` / `checksum missing from sumdb response`:
    /// `expected` from `source` (`go.sum`, `go.work.sum`, `sum.golang.org`).
    ChecksumMismatch {
        downloaded: Option<String>,
        expected: Option<String>,
        source: Option<String>,
    },
    /// The module or version does not exist where go looked (`no matching versions for query
    /// "latest"`, `cannot find module providing package P`, `module lookup disabled by
    /// GOPROXY=off`).
    NotFound { message: String },
    /// A toolchain go needed and could not get.
    Toolchain { reason: ToolchainReason },
    /// `invalid version: unknown revision v9.9.9`.
    InvalidVersion {
        version: Option<String>,
        reason: String,
    },
    /// go.mod / go.sum trouble (`errors parsing go.mod`, `missing go.sum entry`, …).
    GoModError { message: String },
    /// A message of go's whose form this parser does not know.
    Other { message: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialReason {
    /// `connect: connection refused` (a RST, or ICMP port unreachable).
    Refused,
    /// `i/o timeout` (go's dial timeout) or `connect: connection timed out` (the kernel's).
    Timeout,
    /// `connect: no route to host` (ICMP host unreachable or prohibited).
    HostUnreachable,
    /// `connect: network is unreachable` (no route here).
    NetworkUnreachable,
    /// `connect: connection reset by peer`.
    Reset,
    /// `connect: permission denied` / `operation not permitted` (a local firewall, or an
    /// ICMPv6 "administratively prohibited", which Linux hands the dialler as EACCES).
    Denied,
    Other(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsReason {
    /// `no such host` (NXDOMAIN, or no address of the asked family).
    NoSuchHost,
    /// `server misbehaving` (SERVFAIL, REFUSED, or an answer go could not use).
    ServerMisbehaving,
    /// `… i/o timeout`: no answer in time.
    Timeout,
    /// `… connection refused`: nothing listens on the resolver's port.
    Refused,
    /// `no answer from DNS server`.
    NoAnswer,
    /// `Temporary failure in name resolution` (libc's resolver).
    Temporary,
    Other(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum X509Reason {
    /// `certificate signed by unknown authority`, with go's hint if it gave one.
    UnknownAuthority {
        hint: Option<String>,
    },
    /// `certificate has expired or is not yet valid: current time NOW is after NOT_AFTER`.
    Expired {
        now: String,
        not_after: String,
    },
    /// `… current time NOW is before NOT_BEFORE`.
    NotYetValid {
        now: String,
        not_before: String,
    },
    /// `certificate is valid for A, B, not WANTED`.
    NameMismatch {
        valid_for: Vec<String>,
        wanted: String,
    },
    /// `certificate is not valid for any names, but wanted to match WANTED`.
    NoNames {
        wanted: String,
    },
    /// `cannot validate certificate for IP because it doesn't contain any IP SANs`.
    NoIpSans {
        ip: String,
    },
    /// `certificate relies on legacy Common Name field, use SANs instead`.
    LegacyCommonName,
    /// `certificate is not authorized to sign other certificates`.
    NotAuthorizedToSign,
    /// `certificate specifies an incompatible key usage`.
    IncompatibleUsage,
    /// `too many intermediates for path length constraint`.
    TooManyIntermediates,
    /// `a root or intermediate certificate is not authorized to sign for this name: …`.
    NameConstraint {
        detail: String,
    },
    /// `issuer name does not match subject from issuing certificate`.
    IssuerMismatch,
    /// `unhandled critical extension`.
    UnhandledCriticalExtension,
    /// `failed to load system roots and no roots provided`.
    NoRoots,
    Other(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolchainReason {
    /// `download go1.N for OS/ARCH: toolchain not available` (no such release).
    NotAvailable { version: String },
    /// `go.mod requires go >= 1.N (running go 1.M; GOTOOLCHAIN=local)`.
    TooOld { requires: String, running: String },
    /// `invalid toolchain: …` / `invalid GOTOOLCHAIN …`.
    Invalid { message: String },
}

impl fmt::Display for GoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.line.lines().next().unwrap_or_default())
    }
}

/// Lines of one message kept at most (go quotes at most 8 lines of a server's answer; import
/// stacks and the SECURITY ERROR paragraph are a few more). Lines past it are counted in
/// [`Messages::lines_cut`].
pub const MAX_MESSAGE_LINES: usize = 64;

/// Informational lines go prints on success as well as on failure; they end a message and
/// never start one.
const INFO_PREFIXES: &[&str] = &[
    "go: downloading ",
    "go: finding ",
    "go: found ",
    "go: added ",
    "go: upgraded ",
    "go: downgraded ",
    "go: removed ",
    "go: extracting ",
    "go: switching to ",
    "go: creating new go.mod",
    "go: to add module requirements",
    "go: warning: ",
];

/// Parses one whole message (lines joined with `\n`).
pub fn parse_message(text: &str) -> GoError {
    let body = text
        .strip_prefix("go: ")
        .unwrap_or(text)
        .trim_end_matches(['\n', '\r']);
    let (module, version) = module_of(body);
    let mut ctx = Ctx {
        url: None,
        during: During::Local,
        version: version.clone(),
    };
    let cause = walk(body, &mut ctx);
    let host = ctx
        .url
        .as_deref()
        .and_then(url_host)
        .or_else(|| match &cause {
            Cause::Dial { addr, .. } => Some(addr.clone()),
            Cause::Dns { name, .. } => Some(name.clone()),
            Cause::ProxyConnect {
                inner: Some(inner), ..
            } => match inner.as_ref() {
                Cause::Dial { addr, .. } => Some(addr.clone()),
                Cause::Dns { name, .. } => Some(name.clone()),
                _ => None,
            },
            _ => None,
        });
    GoError {
        line: text.trim_end_matches(['\n', '\r']).to_string(),
        module,
        version,
        url: ctx.url,
        host,
        during: ctx.during,
        cause,
    }
}

/// Parses the error text of a `# get URL: <error>` trace line (`Get "URL": dial tcp …`).
pub fn parse_cause(text: &str) -> (Cause, Option<String>) {
    let mut ctx = Ctx {
        url: None,
        during: During::Local,
        version: None,
    };
    let cause = walk(text, &mut ctx);
    (cause, ctx.url)
}

/// Parses every message in a whole stderr text (the `# get` trace and other lines skipped).
#[cfg(test)]
pub fn parse_stderr(text: &str) -> Vec<GoError> {
    let mut m = Messages::default();
    // `-x` lines are go's transcript, not its messages: a build's here-documents end with a
    // bare `EOF` that would read as an error.
    let mut x = super::trace::XFilter::default();
    let mut out = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if x.is_x_line(line) {
            continue;
        }
        out.extend(m.push(line));
    }
    out.extend(m.finish());
    out
}

struct Ctx {
    url: Option<String>,
    during: During,
    version: Option<String>,
}

impl Ctx {
    /// A URL's step, unless an outer step (verifying, toolchain) already says more.
    fn step(&mut self, url: &str, during: During) {
        self.url = Some(url.to_string());
        if matches!(self.during, During::Local | During::Request) {
            self.during = during;
        }
    }
}

/// Tries each `": "` boundary from the left; the first known form wins.
fn walk(s: &str, ctx: &mut Ctx) -> Cause {
    let mut rest = s;
    loop {
        if let Some(c) = at(rest, ctx) {
            return c;
        }
        let Some(i) = rest.find(": ") else { break };
        note_wrapper(&rest[..i], ctx);
        rest = &rest[i + 2..];
    }
    Cause::Other {
        message: s.trim().to_string(),
    }
}

/// Wrappers that say what go was doing (they carry no cause themselves).
fn note_wrapper(seg: &str, ctx: &mut Ctx) {
    let seg = seg.trim();
    if seg.starts_with("verifying ") {
        ctx.during = During::Verify;
    } else if let Some(v) = seg.strip_prefix("download ") {
        let version = v.split(' ').next().unwrap_or(v);
        if version.starts_with("go") {
            ctx.during = During::Toolchain {
                version: version.to_string(),
            };
        }
    }
}

fn first_line(s: &str) -> &str {
    s.split('\n').next().unwrap_or(s).trim_end_matches('\r')
}

/// The forms recognised at the start of `s`.
fn at(s: &str, ctx: &mut Ctx) -> Option<Cause> {
    let line = first_line(s);
    // net/http client errors: `Get "URL": <error>`.
    if let Some(r) = s.strip_prefix("Get \"")
        && let Some((url, inner)) = r.split_once("\": ")
    {
        ctx.step(url, During::Request);
        let inner_line = first_line(inner).trim();
        // A CONNECT answered with anything but 200: net/http's error is the reason phrase
        // alone (`unknown status code` when there is none).
        if let Some(code) = status_code_of_text(inner_line) {
            return Some(Cause::ProxyConnect {
                status: Some(code),
                text: Some(inner_line.to_string()),
                inner: None,
            });
        }
        let c = walk(inner, ctx);
        if matches!(c, Cause::Other { .. }) && is_reason_phrase(inner_line) {
            return Some(Cause::ProxyConnect {
                status: None,
                text: (inner_line != "unknown status code").then(|| inner_line.to_string()),
                inner: None,
            });
        }
        return Some(c);
    }
    // modfetch: a body that broke off, `read "URL": <error>`.
    if let Some(r) = s.strip_prefix("read \"")
        && let Some((url, inner)) = r.split_once("\": ")
    {
        ctx.step(url, During::Body);
        return Some(walk(inner, ctx));
    }
    // cmd/go/internal/web HTTPError: `reading URL: STATUS[\n\tserver response:DETAIL]`, or
    // `reading URL: <error>` when reading the body failed.
    if let Some(r) = s.strip_prefix("reading ")
        && let Some((url, inner)) = r.split_once(": ")
        && !url.contains(char::is_whitespace)
        && url.contains("://")
    {
        if let Some((code, text)) = status_line(first_line(inner)) {
            ctx.step(url, During::Request);
            let detail = inner
                .split_once("\n\tserver response:")
                .map(|(_, d)| {
                    d.trim_start_matches(' ')
                        .trim_start_matches("\n\t")
                        .to_string()
                })
                .filter(|d| !d.is_empty());
            return Some(Cause::HttpStatus {
                code,
                text: text.to_string(),
                detail,
            });
        }
        ctx.step(url, During::Body);
        return Some(walk(inner, ctx));
    }
    if let Some(inner) = s.strip_prefix("proxyconnect tcp: ") {
        return Some(Cause::ProxyConnect {
            status: None,
            text: None,
            inner: Some(Box::new(walk(inner, ctx))),
        });
    }
    if let Some(inner) = s.strip_prefix("tls: failed to verify certificate: ") {
        return Some(walk(inner, ctx));
    }
    if let Some(r) = line.strip_prefix("x509: ") {
        return Some(Cause::X509 {
            reason: x509_reason(r),
        });
    }
    if let Some(alert) = line.strip_prefix("remote error: tls: ") {
        return Some(Cause::TlsAlert {
            alert: alert.trim().to_string(),
        });
    }
    if line.starts_with("local error: tls: ") || line.starts_with("tls: ") {
        return Some(Cause::Tls {
            message: line.trim().to_string(),
        });
    }
    if line.starts_with("net/http: TLS handshake timeout") {
        return Some(Cause::TlsHandshakeTimeout);
    }
    if line.starts_with("net/http: timeout awaiting response headers")
        || line.starts_with("net/http: request canceled")
        || line.starts_with("context deadline exceeded")
    {
        return Some(Cause::Timeout {
            message: line.trim().to_string(),
        });
    }
    if let Some(c) = dns(line) {
        return Some(c);
    }
    if let Some(c) = dial(line) {
        return Some(c);
    }
    if let Some(c) = conn_io(line) {
        return Some(c);
    }
    match line.trim() {
        "unexpected EOF" => return Some(Cause::UnexpectedEof),
        "EOF" => return Some(Cause::Eof),
        _ => {}
    }
    if line.starts_with("checksum mismatch") {
        return Some(checksum(s));
    }
    if line.starts_with("checksum missing from sumdb response") {
        return Some(Cause::ChecksumMismatch {
            downloaded: None,
            expected: None,
            source: Some("checksum database".into()),
        });
    }
    if let Some(r) = line
        .strip_prefix("invalid version: ")
        .or_else(|| line.strip_prefix("invalid pseudo-version: "))
    {
        return Some(Cause::InvalidVersion {
            version: ctx.version.clone(),
            reason: r.trim().to_string(),
        });
    }
    if line.starts_with("unknown revision ") {
        return Some(Cause::InvalidVersion {
            version: ctx.version.clone(),
            reason: line.trim().to_string(),
        });
    }
    if line.starts_with("no matching versions for query ")
        || line.starts_with("cannot find module providing package ")
        || line.starts_with("module lookup disabled by GOPROXY=off")
        || line.starts_with("disabled by GOPRIVATE/GONOPROXY")
        || (line.starts_with("module ")
            && line.contains(" found")
            && line.contains("but does not contain package"))
    {
        return Some(Cause::NotFound {
            message: line.trim().to_string(),
        });
    }
    if let Some(c) = toolchain(line, ctx) {
        return Some(c);
    }
    const GO_MOD: &[&str] = &[
        "errors parsing go.mod",
        "go.mod file not found",
        "missing go.sum entry",
        "parsing go.mod",
        "updates to go.mod needed",
        "go.mod:",
        "go.work:",
        "module declares its path as",
        "inconsistent vendoring",
    ];
    if GO_MOD.iter().any(|p| line.starts_with(p)) {
        return Some(Cause::GoModError {
            message: line.trim().to_string(),
        });
    }
    None
}

/// `[dial tcp: ]lookup NAME[ on SERVER]: REASON` (net.DNSError).
fn dns(line: &str) -> Option<Cause> {
    let r = ["dial tcp: ", "dial tcp4: ", "dial tcp6: ", "dial udp: "]
        .iter()
        .find_map(|p| line.strip_prefix(p))
        .unwrap_or(line);
    let r = r.strip_prefix("lookup ")?;
    let (head, reason) = r.split_once(": ")?;
    let (name, server) = match head.split_once(" on ") {
        Some((n, s)) => (n, Some(s.to_string())),
        None => (head, None),
    };
    if name.is_empty() || name.contains(' ') {
        return None;
    }
    let reason = reason.trim();
    let lower = reason.to_ascii_lowercase();
    let reason = if reason == "no such host" {
        DnsReason::NoSuchHost
    } else if reason == "server misbehaving" {
        DnsReason::ServerMisbehaving
    } else if reason.ends_with("i/o timeout") {
        DnsReason::Timeout
    } else if reason.ends_with("connection refused") {
        DnsReason::Refused
    } else if reason == "no answer from DNS server" {
        DnsReason::NoAnswer
    } else if lower.contains("temporary failure in name resolution") {
        DnsReason::Temporary
    } else {
        DnsReason::Other(reason.to_string())
    };
    Some(Cause::Dns {
        name: name.to_string(),
        server,
        reason,
    })
}

/// `dial tcp ADDR: [connect: ]REASON` (net.OpError of a dial).
fn dial(line: &str) -> Option<Cause> {
    let r = ["dial tcp ", "dial tcp4 ", "dial tcp6 "]
        .iter()
        .find_map(|p| line.strip_prefix(p))?;
    let (addr, reason) = r.split_once(": ")?;
    if addr.is_empty() || addr.contains(' ') {
        return None;
    }
    let reason = reason.trim();
    let bare = reason.strip_prefix("connect: ").unwrap_or(reason);
    let reason = match bare {
        "connection refused" => DialReason::Refused,
        "i/o timeout" | "connection timed out" => DialReason::Timeout,
        "no route to host" => DialReason::HostUnreachable,
        "network is unreachable" => DialReason::NetworkUnreachable,
        "connection reset by peer" => DialReason::Reset,
        "permission denied" | "operation not permitted" => DialReason::Denied,
        _ => DialReason::Other(reason.to_string()),
    };
    Some(Cause::Dial {
        addr: addr.to_string(),
        reason,
    })
}

/// `read tcp L->R: read: connection reset by peer`, `write tcp L->R: write: …`,
/// `read tcp L->R: i/o timeout`.
fn conn_io(line: &str) -> Option<Cause> {
    let r = ["read tcp ", "write tcp ", "read tcp4 ", "read tcp6 "]
        .iter()
        .find_map(|p| line.strip_prefix(p))?;
    let (addrs, reason) = r.split_once(": ")?;
    let (local, remote) = match addrs.split_once("->") {
        Some((l, r)) => (Some(l.to_string()), Some(r.to_string())),
        None => (None, Some(addrs.to_string())),
    };
    let reason = reason.trim();
    if reason.ends_with("connection reset by peer") {
        Some(Cause::ConnectionReset { local, remote })
    } else if reason.ends_with("i/o timeout") {
        Some(Cause::Timeout {
            message: line.trim().to_string(),
        })
    } else {
        None
    }
}

/// `checksum mismatch\n\tdownloaded: H\n\tSOURCE: H` (modfetch; go.sum's line pads with
/// spaces after the colon).
fn checksum(s: &str) -> Cause {
    let mut downloaded = None;
    let mut expected = None;
    let mut source = None;
    for l in s.split('\n').skip(1) {
        let Some(l) = l.strip_prefix('\t') else {
            continue;
        };
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let v = v.trim().to_string();
        if k == "downloaded" {
            downloaded = Some(v);
        } else if expected.is_none() && !k.contains(' ') {
            source = Some(k.to_string());
            expected = Some(v);
        }
    }
    Cause::ChecksumMismatch {
        downloaded,
        expected,
        source,
    }
}

fn toolchain(line: &str, ctx: &mut Ctx) -> Option<Cause> {
    if line.trim_end().ends_with("toolchain not available") {
        // `download go1.N for OS/ARCH: toolchain not available`.
        let version = match line.strip_prefix("download ") {
            Some(r) => r.split(' ').next().unwrap_or_default().to_string(),
            None => match &ctx.during {
                During::Toolchain { version } => version.clone(),
                _ => String::new(),
            },
        };
        if !version.is_empty() {
            ctx.during = During::Toolchain {
                version: version.clone(),
            };
        }
        return Some(Cause::Toolchain {
            reason: ToolchainReason::NotAvailable { version },
        });
    }
    if let Some(r) = line.strip_prefix("invalid toolchain: ")
        && !r.is_empty()
    {
        return Some(Cause::Toolchain {
            reason: ToolchainReason::Invalid {
                message: line.trim().to_string(),
            },
        });
    }
    if line.starts_with("invalid GOTOOLCHAIN ") {
        return Some(Cause::Toolchain {
            reason: ToolchainReason::Invalid {
                message: line.trim().to_string(),
            },
        });
    }
    // `go.mod requires go >= 1.23 (running go 1.21; GOTOOLCHAIN=local)`, also said of a
    // dependency (`M@V requires go >= …`).
    if let Some(i) = line.find(" requires go >= ") {
        let r = &line[i + " requires go >= ".len()..];
        let (requires, tail) = r.split_once(' ').unwrap_or((r, ""));
        let running = tail
            .strip_prefix("(running go ")
            .and_then(|t| t.split([';', ')']).next())
            .unwrap_or_default();
        return Some(Cause::Toolchain {
            reason: ToolchainReason::TooOld {
                requires: requires.to_string(),
                running: running.to_string(),
            },
        });
    }
    None
}

/// crypto/x509's error strings (verify.go), without the `x509: ` prefix.
fn x509_reason(r: &str) -> X509Reason {
    let r = r.trim();
    if let Some(rest) = r.strip_prefix("certificate signed by unknown authority") {
        let hint = rest
            .trim()
            .strip_prefix("(possibly because of ")
            .map(|h| h.trim_end_matches(')').to_string());
        return X509Reason::UnknownAuthority { hint };
    }
    if let Some(d) = r.strip_prefix("certificate has expired or is not yet valid: ") {
        if let Some(t) = d.strip_prefix("current time ") {
            if let Some((now, after)) = t.split_once(" is after ") {
                return X509Reason::Expired {
                    now: now.to_string(),
                    not_after: after.to_string(),
                };
            }
            if let Some((now, before)) = t.split_once(" is before ") {
                return X509Reason::NotYetValid {
                    now: now.to_string(),
                    not_before: before.to_string(),
                };
            }
        }
        return X509Reason::Other(r.to_string());
    }
    if let Some(t) = r.strip_prefix("certificate is valid for ")
        && let Some((valid, wanted)) = t.rsplit_once(", not ")
    {
        return X509Reason::NameMismatch {
            valid_for: valid.split(", ").map(str::to_string).collect(),
            wanted: wanted.to_string(),
        };
    }
    if let Some(w) = r.strip_prefix("certificate is not valid for any names, but wanted to match ")
    {
        return X509Reason::NoNames {
            wanted: w.to_string(),
        };
    }
    if let Some(t) = r.strip_prefix("cannot validate certificate for ")
        && let Some(ip) = t.strip_suffix(" because it doesn't contain any IP SANs")
    {
        return X509Reason::NoIpSans { ip: ip.to_string() };
    }
    if let Some(d) = r.strip_prefix(
        "a root or intermediate certificate is not authorized to sign for this name: ",
    ) {
        return X509Reason::NameConstraint {
            detail: d.to_string(),
        };
    }
    match r {
        "certificate relies on legacy Common Name field, use SANs instead" => {
            X509Reason::LegacyCommonName
        }
        "certificate is not authorized to sign other certificates" => {
            X509Reason::NotAuthorizedToSign
        }
        "certificate specifies an incompatible key usage" => X509Reason::IncompatibleUsage,
        "too many intermediates for path length constraint" => X509Reason::TooManyIntermediates,
        "issuer name does not match subject from issuing certificate" => X509Reason::IssuerMismatch,
        "unhandled critical extension" => X509Reason::UnhandledCriticalExtension,
        _ if r.starts_with("failed to load system roots and no roots provided") => {
            X509Reason::NoRoots
        }
        _ => X509Reason::Other(r.to_string()),
    }
}

/// `404 Not Found` → (404, "Not Found"); go prints `resp.Status` as the server sent it.
fn status_line(s: &str) -> Option<(u16, &str)> {
    let s = s.trim_end();
    let b = s.as_bytes();
    if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) {
        return None;
    }
    if b.len() > 3 && b[3] != b' ' {
        return None;
    }
    let code: u16 = s[..3].parse().ok()?;
    if !(100..=599).contains(&code) {
        return None;
    }
    Some((code, s.get(4..).unwrap_or_default()))
}

/// net/http's status texts for the codes a proxy answers a CONNECT with; when a CONNECT is
/// refused net/http's error is this text alone (`Get "URL": Forbidden`).
fn status_code_of_text(s: &str) -> Option<u16> {
    Some(match s {
        "Bad Request" => 400,
        "Unauthorized" => 401,
        "Forbidden" => 403,
        "Not Found" => 404,
        "Method Not Allowed" => 405,
        "Proxy Authentication Required" => 407,
        "Request Timeout" => 408,
        "Too Many Requests" => 429,
        "Unavailable For Legal Reasons" => 451,
        "Request Header Fields Too Large" => 431,
        "Internal Server Error" => 500,
        "Not Implemented" => 501,
        "Bad Gateway" => 502,
        "Service Unavailable" => 503,
        "Gateway Timeout" => 504,
        "Network Authentication Required" => 511,
        _ => return None,
    })
}

/// A proxy's own reason phrase where net/http's error would be (`Get "URL": Unable to
/// connect`): no `:` (go's errors all name a step with one), and none of the few bare phrases
/// go's client returns itself.
fn is_reason_phrase(s: &str) -> bool {
    !s.is_empty()
        && !s.contains(':')
        && !s.contains('"')
        && !matches!(
            s,
            "context canceled" | "context deadline exceeded" | "stopped after 10 redirects"
        )
}

/// `host[:port]` of `scheme://[user@]host[:port]/…`.
pub fn url_host(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let auth = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    (!host.is_empty()).then(|| host.to_string())
}

/// `M@V` / `module M` among the wrappers before the cause.
fn module_of(body: &str) -> (Option<String>, Option<String>) {
    for seg in body.split(": ") {
        // An import stack puts the package on the segment's last line.
        let seg = seg.rsplit('\n').next().unwrap_or(seg).trim();
        let seg = seg.strip_prefix("verifying ").unwrap_or(seg);
        if seg.starts_with("Get \"") || seg.starts_with("read \"") || seg.starts_with("reading ") {
            break;
        }
        if let Some(m) = seg.strip_prefix("module ")
            && !m.is_empty()
            && !m.contains(char::is_whitespace)
        {
            return (Some(m.to_string()), None);
        }
        if seg.contains(char::is_whitespace) || seg.contains('"') {
            continue;
        }
        if let Some((m, v)) = seg.split_once('@')
            && !m.is_empty()
            && !v.is_empty()
        {
            let v = v.strip_suffix("/go.mod").unwrap_or(v);
            return (Some(m.to_string()), Some(v.to_string()));
        }
    }
    (None, None)
}

/// Is this line the start of an error message?
fn is_head(line: &str) -> bool {
    if line.starts_with("# get ") || INFO_PREFIXES.iter().any(|p| line.starts_with(p)) {
        return false;
    }
    if line.starts_with("go: ") || line.starts_with("verifying ") {
        return true;
    }
    // Anything else counts when it carries a form this parser knows (a build's
    // `main.go:3:8: missing go.sum entry …`, an older go's unprefixed errors).
    !matches!(parse_message(line).cause, Cause::Other { .. })
}

/// Groups stderr lines into messages, one line at a time (for a live command).
#[derive(Debug, Default)]
pub struct Messages {
    pending: Vec<String>,
    /// A blank line after a checksum error: the SECURITY paragraph may follow.
    blank_after_checksum: bool,
    in_security: bool,
    /// Lines past [`MAX_MESSAGE_LINES`] left out of a message.
    pub lines_cut: u64,
}

impl Messages {
    /// Takes one line (without its newline); returns the message it completed, if any.
    pub fn push(&mut self, line: &str) -> Option<GoError> {
        if !self.pending.is_empty() {
            if self.in_security {
                self.add(line);
                if line.starts_with("For more information, see ") {
                    return self.take();
                }
                return None;
            }
            if self.blank_after_checksum {
                self.blank_after_checksum = false;
                if line.starts_with("SECURITY ERROR") || line.starts_with("SECURITY WARNING") {
                    self.add("");
                    self.add(line);
                    self.in_security = true;
                    return None;
                }
                let done = self.take();
                let _ = self.start(line);
                return done;
            }
            if line.starts_with('\t') {
                self.add(line);
                return None;
            }
            if line.is_empty() && self.pending[0].contains("checksum") {
                self.blank_after_checksum = true;
                return None;
            }
            let done = self.take();
            let _ = self.start(line);
            return done;
        }
        let _ = self.start(line);
        None
    }

    /// The message still open at the end of the output.
    pub fn finish(&mut self) -> Option<GoError> {
        self.take()
    }

    fn start(&mut self, line: &str) -> bool {
        if is_head(line) {
            self.pending.push(line.to_string());
            true
        } else {
            false
        }
    }

    fn add(&mut self, line: &str) {
        if self.pending.len() < MAX_MESSAGE_LINES {
            self.pending.push(line.to_string());
        } else {
            self.lines_cut += 1;
        }
    }

    fn take(&mut self) -> Option<GoError> {
        self.blank_after_checksum = false;
        self.in_security = false;
        if self.pending.is_empty() {
            return None;
        }
        let text = self.pending.join("\n");
        self.pending.clear();
        Some(parse_message(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cause(s: &str) -> Cause {
        parse_message(s).cause
    }

    #[test]
    fn forms_from_gos_sources() {
        let url = "https://proxy.golang.org/github.com/example/hello/@v/v1.0.0.info";
        let table: Vec<(String, Cause)> = vec![
            (
                format!("go: github.com/example/hello@v1.0.0: reading {url}: 404 Not Found"),
                Cause::HttpStatus {
                    code: 404,
                    text: "Not Found".into(),
                    detail: None,
                },
            ),
            (
                format!("go: github.com/example/hello@v1.0.0: reading {url}: 410 Gone\n\tserver response: not found: unknown revision v1.0.0"),
                Cause::HttpStatus {
                    code: 410,
                    text: "Gone".into(),
                    detail: Some("not found: unknown revision v1.0.0".into()),
                },
            ),
            (
                format!("go: M@v1.0.0: reading {url}: 500 Internal Server Error\n\tserver response:\n\tline one\n\tline two"),
                Cause::HttpStatus {
                    code: 500,
                    text: "Internal Server Error".into(),
                    detail: Some("line one\n\tline two".into()),
                },
            ),
            (
                format!("go: M@v1: Get \"{url}\": dial tcp 1.2.3.4:443: connect: connection refused"),
                Cause::Dial { addr: "1.2.3.4:443".into(), reason: DialReason::Refused },
            ),
            (
                format!("go: M@v1: Get \"{url}\": dial tcp 10.77.2.2:443: i/o timeout"),
                Cause::Dial { addr: "10.77.2.2:443".into(), reason: DialReason::Timeout },
            ),
            (
                format!("go: M@v1: Get \"{url}\": dial tcp [fd77:2::2]:443: connect: connection timed out"),
                Cause::Dial { addr: "[fd77:2::2]:443".into(), reason: DialReason::Timeout },
            ),
            (
                format!("go: M@v1: Get \"{url}\": dial tcp 10.77.2.2:443: connect: network is unreachable"),
                Cause::Dial { addr: "10.77.2.2:443".into(), reason: DialReason::NetworkUnreachable },
            ),
            (
                format!("go: M@v1: Get \"{url}\": dial tcp 10.77.2.2:443: connect: operation not permitted"),
                Cause::Dial { addr: "10.77.2.2:443".into(), reason: DialReason::Denied },
            ),
            (
                format!("go: M@v1: Get \"{url}\": dial tcp: lookup proxy.golang.org on 10.77.2.53:53: no such host"),
                Cause::Dns { name: "proxy.golang.org".into(), server: Some("10.77.2.53:53".into()), reason: DnsReason::NoSuchHost },
            ),
            (
                format!("go: M@v1: Get \"{url}\": dial tcp: lookup proxy.golang.org: Temporary failure in name resolution"),
                Cause::Dns { name: "proxy.golang.org".into(), server: None, reason: DnsReason::Temporary },
            ),
            (
                format!("go: M@v1: Get \"{url}\": dial tcp: lookup proxy.golang.org on [fd77:2::53]:53: read udp [fd77:1::2]:5353->[fd77:2::53]:53: read: connection refused"),
                Cause::Dns { name: "proxy.golang.org".into(), server: Some("[fd77:2::53]:53".into()), reason: DnsReason::Refused },
            ),
            (
                format!("go: M@v1: Get \"{url}\": dial tcp: lookup proxy.golang.org on 10.77.2.53:53: no answer from DNS server"),
                Cause::Dns { name: "proxy.golang.org".into(), server: Some("10.77.2.53:53".into()), reason: DnsReason::NoAnswer },
            ),
            (
                format!("go: M@v1: Get \"{url}\": proxyconnect tcp: dial tcp: lookup proxy.corp.example on 10.77.2.53:53: no such host"),
                Cause::ProxyConnect {
                    status: None,
                    text: None,
                    inner: Some(Box::new(Cause::Dns { name: "proxy.corp.example".into(), server: Some("10.77.2.53:53".into()), reason: DnsReason::NoSuchHost })),
                },
            ),
            (
                format!("go: M@v1: Get \"{url}\": Bad Gateway"),
                Cause::ProxyConnect { status: Some(502), text: Some("Bad Gateway".into()), inner: None },
            ),
            (
                // python's http.server answering CONNECT with 501 and its own phrase (real).
                format!("go: M@v1: Get \"{url}\": Unsupported method ('CONNECT')"),
                Cause::ProxyConnect { status: None, text: Some("Unsupported method ('CONNECT')".into()), inner: None },
            ),
            (
                format!("go: M@v1: Get \"{url}\": unknown status code"),
                Cause::ProxyConnect { status: None, text: None, inner: None },
            ),
            (
                format!("go: M@v1: Get \"{url}\": stopped after 10 redirects"),
                Cause::Other { message: "stopped after 10 redirects".into() },
            ),
            (
                format!("go: M@v1: Get \"{url}\": tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time 2026-03-01T10:00:00Z is after 2025-01-01T00:00:00Z"),
                Cause::X509 { reason: X509Reason::Expired { now: "2026-03-01T10:00:00Z".into(), not_after: "2025-01-01T00:00:00Z".into() } },
            ),
            (
                format!("go: M@v1: Get \"{url}\": tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time 2026-03-01T10:00:00Z is before 2027-01-01T00:00:00Z"),
                Cause::X509 { reason: X509Reason::NotYetValid { now: "2026-03-01T10:00:00Z".into(), not_before: "2027-01-01T00:00:00Z".into() } },
            ),
            (
                format!("go: M@v1: Get \"{url}\": tls: failed to verify certificate: x509: certificate is valid for wrong.example, *.wrong.example, not proxy.golang.org"),
                Cause::X509 { reason: X509Reason::NameMismatch { valid_for: vec!["wrong.example".into(), "*.wrong.example".into()], wanted: "proxy.golang.org".into() } },
            ),
            (
                "go: M@v1: Get \"https://10.77.2.2/x\": tls: failed to verify certificate: x509: cannot validate certificate for 10.77.2.2 because it doesn't contain any IP SANs".to_string(),
                Cause::X509 { reason: X509Reason::NoIpSans { ip: "10.77.2.2".into() } },
            ),
            (
                format!("go: M@v1: Get \"{url}\": tls: failed to verify certificate: x509: certificate is not valid for any names, but wanted to match proxy.golang.org"),
                Cause::X509 { reason: X509Reason::NoNames { wanted: "proxy.golang.org".into() } },
            ),
            (
                format!("go: M@v1: Get \"{url}\": tls: failed to verify certificate: x509: certificate signed by unknown authority (possibly because of \"x509: invalid signature: parent certificate cannot sign this kind of certificate\" while trying to verify candidate authority certificate \"Root\")"),
                Cause::X509 { reason: X509Reason::UnknownAuthority { hint: Some("\"x509: invalid signature: parent certificate cannot sign this kind of certificate\" while trying to verify candidate authority certificate \"Root\"".into()) } },
            ),
            (
                // Go 1.19 and older: no `tls: failed to verify certificate:` wrapper.
                format!("go: M@v1: Get \"{url}\": x509: certificate relies on legacy Common Name field, use SANs instead"),
                Cause::X509 { reason: X509Reason::LegacyCommonName },
            ),
            (
                format!("go: M@v1: Get \"{url}\": net/http: TLS handshake timeout"),
                Cause::TlsHandshakeTimeout,
            ),
            (
                format!("go: M@v1: Get \"{url}\": remote error: tls: handshake failure"),
                Cause::TlsAlert { alert: "handshake failure".into() },
            ),
            (
                format!("go: M@v1: Get \"{url}\": tls: first record does not look like a TLS handshake"),
                Cause::Tls { message: "tls: first record does not look like a TLS handshake".into() },
            ),
            (
                format!("go: M@v1: Get \"{url}\": EOF"),
                Cause::Eof,
            ),
            (
                format!("go: M@v1: Get \"{url}\": net/http: timeout awaiting response headers"),
                Cause::Timeout { message: "net/http: timeout awaiting response headers".into() },
            ),
            (
                format!("go: M@v1: read \"{url}\": write tcp 10.0.0.1:1234->10.0.0.2:443: write: connection reset by peer"),
                Cause::ConnectionReset { local: Some("10.0.0.1:1234".into()), remote: Some("10.0.0.2:443".into()) },
            ),
            (
                "go: example.com/x@v9.9.9: invalid version: unknown revision v9.9.9".to_string(),
                Cause::InvalidVersion { version: Some("v9.9.9".into()), reason: "unknown revision v9.9.9".into() },
            ),
            (
                "go: module example.com/x: no matching versions for query \"latest\"".to_string(),
                Cause::NotFound { message: "no matching versions for query \"latest\"".into() },
            ),
            (
                "go: example.com/x@v1.0.0: module lookup disabled by GOPROXY=off".to_string(),
                Cause::NotFound { message: "module lookup disabled by GOPROXY=off".into() },
            ),
            (
                "go: download go1.99.0 for linux/amd64: toolchain not available".to_string(),
                Cause::Toolchain { reason: ToolchainReason::NotAvailable { version: "go1.99.0".into() } },
            ),
            (
                "go: go.mod requires go >= 1.23 (running go 1.21.0; GOTOOLCHAIN=local)".to_string(),
                Cause::Toolchain { reason: ToolchainReason::TooOld { requires: "1.23".into(), running: "1.21.0".into() } },
            ),
            (
                "go: errors parsing go.mod:\n\t/src/go.mod:3: unknown directive: foo".to_string(),
                Cause::GoModError { message: "errors parsing go.mod:".into() },
            ),
        ];
        for (line, want) in table {
            assert_eq!(cause(&line), want, "{line}");
        }
    }

    #[test]
    fn module_url_host_and_step() {
        let e = parse_message(
            "go: github.com/example/hello@v1.0.0: verifying go.mod: github.com/example/hello@v1.0.0/go.mod: Get \"https://sum.golang.org/lookup/github.com/example/hello@v1.0.0\": read tcp 10.77.1.2:49368->10.77.2.3:443: read: connection reset by peer",
        );
        assert_eq!(e.module.as_deref(), Some("github.com/example/hello"));
        assert_eq!(e.version.as_deref(), Some("v1.0.0"));
        assert_eq!(e.host.as_deref(), Some("sum.golang.org"));
        assert_eq!(e.during, During::Verify);
        let e = parse_message(
            "go: github.com/example/big@v1.0.0: read \"https://proxy.golang.org/github.com/example/big/@v/v1.0.0.zip\": read tcp 10.77.1.2:47506->10.77.2.2:443: read: connection reset by peer",
        );
        assert_eq!(e.during, During::Body);
        assert_eq!(e.host.as_deref(), Some("proxy.golang.org"));
        // The import stack of `go mod tidy`.
        let e = parse_message(
            "go: example.com/m imports\n\texample.com/hello: example.com/hello@v1.0.0: Get \"http://127.0.0.1:1/example.com/hello/@v/v1.0.0.zip\": dial tcp 127.0.0.1:1: connect: connection refused",
        );
        assert_eq!(e.module.as_deref(), Some("example.com/hello"));
        assert_eq!(e.host.as_deref(), Some("127.0.0.1:1"));
        assert_eq!(e.during, During::Request);
        assert!(matches!(
            e.cause,
            Cause::Dial {
                reason: DialReason::Refused,
                ..
            }
        ));
        // A toolchain download over the network.
        let e = parse_message(
            "go: download go1.99.1: golang.org/toolchain@v0.0.1-go1.99.1.linux-amd64: Get \"https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go1.99.1.linux-amd64.zip\": dial tcp: lookup proxy.golang.org on 127.0.0.53:53: server misbehaving",
        );
        assert_eq!(
            e.during,
            During::Toolchain {
                version: "go1.99.1".into()
            }
        );
        assert_eq!(e.module.as_deref(), Some("golang.org/toolchain"));
        assert!(matches!(
            e.cause,
            Cause::Dns {
                reason: DnsReason::ServerMisbehaving,
                ..
            }
        ));
        // Direct mode: go-get discovery.
        let e = parse_message(
            "go: example.com/hello@v1.0.0: unrecognized import path \"example.com/hello\": https fetch: Get \"https://example.com/hello?go-get=1\": dial tcp: lookup example.com on 10.255.255.53:53: no such host",
        );
        assert_eq!(e.host.as_deref(), Some("example.com"));
        assert_eq!(e.url.as_deref(), Some("https://example.com/hello?go-get=1"));
        // A dial without a URL names the address.
        let e = parse_message("go: M@v1: dial tcp 10.1.1.1:443: connect: connection refused");
        assert_eq!(e.host.as_deref(), Some("10.1.1.1:443"));
        assert_eq!(e.url, None);
    }

    #[test]
    fn checksum_mismatch_with_its_security_paragraph() {
        // What go 1.27 printed for a go.sum entry that does not match (a real run).
        let text = "verifying example.com/hello@v1.0.0/go.mod: checksum mismatch
\tdownloaded: h1:NnGvEkTHyKKlgPcQSue0skqyqiS1EfBSAh+0WaWZYmE=
\tgo.sum:     h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=

SECURITY ERROR
This download does NOT match an earlier download recorded in go.sum.
The bits may have been replaced on the origin server, or an attacker may
have intercepted the download attempt.

For more information, see 'go help module-auth'.
go: downloading example.com/other v1.0.0
";
        let errs = parse_stderr(text);
        assert_eq!(errs.len(), 1, "{errs:#?}");
        let e = &errs[0];
        assert!(e.line.ends_with("see 'go help module-auth'."), "{}", e.line);
        assert!(e.line.contains("\n\nSECURITY ERROR\n"));
        assert_eq!(e.module.as_deref(), Some("example.com/hello"));
        assert_eq!(e.version.as_deref(), Some("v1.0.0"));
        assert_eq!(e.during, During::Verify);
        assert_eq!(
            e.cause,
            Cause::ChecksumMismatch {
                downloaded: Some("h1:NnGvEkTHyKKlgPcQSue0skqyqiS1EfBSAh+0WaWZYmE=".into()),
                expected: Some("h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into()),
                source: Some("go.sum".into()),
            }
        );
        // The checksum database's wording (module.VersionError wrapping).
        let e = parse_message(
            "go: example.com/m@v1.0.0: verifying module: checksum mismatch\n\tdownloaded: h1:a=\n\tsum.golang.org: h1:b=",
        );
        assert_eq!(
            e.cause,
            Cause::ChecksumMismatch {
                downloaded: Some("h1:a=".into()),
                expected: Some("h1:b=".into()),
                source: Some("sum.golang.org".into()),
            }
        );
    }

    #[test]
    fn grouping_lines_into_messages() {
        let text = "go: downloading example.com/hello v1.0.0
# get http://127.0.0.1:1/x: Get \"http://127.0.0.1:1/x\": dial tcp 127.0.0.1:1: connect: connection refused
go: example.com/m imports
\texample.com/hello: example.com/hello@v1.0.0: Get \"http://127.0.0.1:1/x\": dial tcp 127.0.0.1:1: connect: connection refused
go: example.com/nothere@latest: module example.com/nothere: reading http://127.0.0.1:18931/example.com/nothere/@v/list: 404 Not Found
\tserver response: not found
main.go:3:8: missing go.sum entry for module providing package example.com/hello (imported by example.com/m); to add:
\tgo get example.com/m
just some output of a program";
        let errs = parse_stderr(text);
        let firsts: Vec<_> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            firsts,
            [
                "go: example.com/m imports",
                "go: example.com/nothere@latest: module example.com/nothere: reading http://127.0.0.1:18931/example.com/nothere/@v/list: 404 Not Found",
                "main.go:3:8: missing go.sum entry for module providing package example.com/hello (imported by example.com/m); to add:",
            ]
        );
        assert_eq!(errs[1].line.lines().count(), 2);
        assert!(matches!(errs[2].cause, Cause::GoModError { .. }));
        assert_eq!(errs[1].module.as_deref(), Some("example.com/nothere"));
        assert_eq!(errs[1].version.as_deref(), Some("latest"));
    }

    #[test]
    fn a_long_message_is_cut_and_counted() {
        let mut m = Messages::default();
        assert!(m.push("go: example.com/m imports").is_none());
        for i in 0..MAX_MESSAGE_LINES + 5 {
            assert!(m.push(&format!("\tpkg{i} imports")).is_none());
        }
        let e = m.finish().expect("a message");
        assert_eq!(e.line.lines().count(), MAX_MESSAGE_LINES);
        assert_eq!(m.lines_cut, 6);
    }

    #[test]
    fn hostile_text_never_panics() {
        for s in [
            "",
            "go: ",
            "go: :",
            "Get \"",
            "Get \"\": ",
            "reading : ",
            "reading x://: 99",
            "reading x://: 4040",
            "read \"",
            "dial tcp : ",
            "dial tcp: lookup : x",
            "lookup  on : ",
            "x509: certificate is valid for , not ",
            "x509: certificate has expired or is not yet valid: current time ",
            "proxyconnect tcp: ",
            "read tcp ->: read: connection reset by peer",
            "checksum mismatch\n\t:\n\tx",
            "go: go.mod requires go >= ",
            "go: @: @",
            "go: é@ü: Get \"ü://é\": é",
        ] {
            let _ = parse_message(s);
            let _ = parse_stderr(s);
        }
    }
}

/// The real stderr files of the go command failing (fixtures/, fixtures/matrix/ and, beside the
/// repository, ../shared/scenarios; more directories in `MODSNIFF_STDERR_FIXTURES`, `:`-separated)
/// with their ground truth.
#[cfg(test)]
pub(crate) mod real {
    use std::path::{Path, PathBuf};

    pub struct Case {
        pub name: String,
        pub stderr: String,
        pub truth: serde_json::Value,
    }

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// `DIR/NAME/{stderr.txt,expected.json}` at any depth.
    fn walk(dir: &Path, out: &mut Vec<Case>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if !p.is_dir() {
                continue;
            }
            let (s, e) = (p.join("stderr.txt"), p.join("expected.json"));
            if s.is_file() && e.is_file() {
                out.push(Case {
                    name: p.strip_prefix(root()).unwrap_or(&p).display().to_string(),
                    stderr: std::fs::read_to_string(&s).expect("stderr.txt"),
                    truth: serde_json::from_slice(&std::fs::read(&e).expect("expected.json"))
                        .expect("expected.json parses"),
                });
            } else {
                walk(&p, out);
            }
        }
    }

    /// `DIR/NAME.stderr.txt` beside `DIR/NAME.expected.json` (the scenarios' layout).
    fn flat(dir: &Path, out: &mut Vec<Case>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut files: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        files.sort();
        for p in files {
            let Some(name) = p
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".stderr.txt"))
            else {
                continue;
            };
            let e = dir.join(format!("{name}.expected.json"));
            if let Ok(j) = std::fs::read(&e) {
                out.push(Case {
                    name: p.display().to_string(),
                    stderr: std::fs::read_to_string(&p).expect("stderr"),
                    truth: serde_json::from_slice(&j).expect("expected.json parses"),
                });
            }
        }
    }

    pub fn cases() -> Vec<Case> {
        let mut out = Vec::new();
        walk(&root().join("fixtures"), &mut out);
        flat(&root().join("../shared/scenarios"), &mut out);
        if let Some(extra) = std::env::var_os("MODSNIFF_STDERR_FIXTURES") {
            for d in std::env::split_paths(&extra) {
                walk(&d, &mut out);
                flat(&d, &mut out);
            }
        }
        assert!(
            out.len() >= 40,
            "the repository's fixtures are there ({} found)",
            out.len()
        );
        out
    }
}

#[cfg(test)]
mod on_real_stderr {
    use super::*;

    /// `ip:port` of the ground truth's targets (`[v6]:port` for IPv6).
    fn targets(truth: &serde_json::Value) -> Vec<String> {
        truth["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| {
                let ip = t["ip"].as_str()?;
                let port = t["port"].as_u64()?;
                Some(if ip.contains(':') {
                    format!("[{ip}]:{port}")
                } else {
                    format!("{ip}:{port}")
                })
            })
            .collect()
    }

    fn proxy_addr(truth: &serde_json::Value) -> Option<String> {
        let p = &truth["proxy"];
        Some(format!("{}:{}", p["ip"].as_str()?, p["port"].as_u64()?))
    }

    /// go fetched a plain-HTTP URL where a proxy was on the way.
    fn proxied_http(truth: &serde_json::Value, e: &GoError) -> bool {
        e.url.as_deref().is_some_and(|u| u.starts_with("http://")) && !truth["proxy"].is_null()
    }

    /// The cause go's message must carry for the fault that was injected; Err says why not.
    fn check(truth: &serde_json::Value, e: &GoError) -> Result<(), String> {
        let stage = truth["stage"].as_str().unwrap_or_default();
        let kind = truth["kind"].as_str().unwrap_or_default();
        let targets = targets(truth);
        let at_target = |addr: &str| targets.iter().any(|t| t == addr);
        let ok = match (stage, kind) {
            ("dns", "servfail") => matches!(
                &e.cause,
                Cause::Dns {
                    reason: DnsReason::ServerMisbehaving,
                    ..
                }
            ),
            ("dns", "nxdomain") => matches!(
                &e.cause,
                Cause::Dns {
                    reason: DnsReason::NoSuchHost,
                    ..
                }
            ),
            ("dns", "dns-timeout") => matches!(
                &e.cause,
                Cause::Dns {
                    reason: DnsReason::Timeout,
                    ..
                }
            ),
            // go used the forged address: the dial goes to it, not to the genuine one.
            ("dns", "suspicious-answer") => match &e.cause {
                Cause::Dial { addr, .. } => truth["forged_answer"]
                    .as_str()
                    .is_some_and(|f| addr.starts_with(&format!("{f}:"))),
                _ => false,
            },
            ("tcp-connect", "syn-timeout") => matches!(
                &e.cause,
                Cause::Dial { addr, reason: DialReason::Timeout } if at_target(addr)
            ),
            // An ICMP "administratively prohibited" reaches go as EACCES: permission denied.
            ("tcp-connect", "refused") => matches!(
                &e.cause,
                Cause::Dial { addr, reason: DialReason::Refused | DialReason::HostUnreachable | DialReason::Denied } if at_target(addr)
            ),
            // Behind a proxy the reset hits the proxy's own connection; go sees the proxy
            // end its tunnel: EOF.
            ("tls-handshake", "reset-after-clienthello") => {
                (matches!(
                    &e.cause,
                    Cause::ConnectionReset { remote: Some(r), .. } if at_target(r)
                ) || e.cause == Cause::Eof
                    // A proxy ends its tunnel with a FIN; so does a transparent box that
                    // closes the client's connection at the hello instead of resetting it.
                    && (!truth["proxy"].is_null() || truth["actor"] == "middlebox"))
                    && e.during != During::Body
            }
            ("tls-handshake", "handshake-stall") => e.cause == Cause::TlsHandshakeTimeout,
            ("tls-handshake", "mitm-cert") => matches!(
                &e.cause,
                Cause::X509 {
                    reason: X509Reason::UnknownAuthority { .. }
                }
            ),
            ("tls-handshake", "cert-rejected") => matches!(&e.cause, Cause::X509 { .. }),
            ("tls-handshake", "handshake-aborted") => matches!(&e.cause, Cause::TlsAlert { .. }),
            ("proxy", "refused") => match &e.cause {
                Cause::ProxyConnect {
                    inner: Some(inner), ..
                } => matches!(
                    inner.as_ref(),
                    Cause::Dial { addr, reason: DialReason::Refused } if Some(addr) == proxy_addr(truth).as_ref()
                ),
                _ => false,
            },
            // Through a plain-HTTP proxy (HTTP_PROXY, http:// GOPROXY) its refusal is an
            // ordinary response to the request.
            ("proxy", "proxy-auth") => match &e.cause {
                Cause::ProxyConnect {
                    status: Some(407), ..
                } => true,
                Cause::HttpStatus { code: 407, .. } => proxied_http(truth, e),
                _ => false,
            },
            ("proxy", "proxy-denied") => match &e.cause {
                Cause::ProxyConnect {
                    status: Some(403), ..
                } => true,
                Cause::HttpStatus { code: 403, .. } => proxied_http(truth, e),
                _ => false,
            },
            // A 5xx to the CONNECT (or a phrase of the proxy's own), or the proxy closing
            // before it answered. Through a plain-HTTP proxy (HTTP_PROXY, http:// GOPROXY) its
            // error page is an ordinary response. In the last two go cannot tell the proxy
            // from the server: only the settings can.
            ("proxy", "proxy-error") => match &e.cause {
                Cause::ProxyConnect {
                    status: Some(500..=599) | None,
                    inner: None,
                    ..
                }
                | Cause::UnexpectedEof
                | Cause::Eof => true,
                Cause::HttpStatus {
                    code: 500..=599, ..
                } => proxied_http(truth, e),
                _ => false,
            },
            ("http", "http-404") => matches!(
                &e.cause,
                Cause::HttpStatus {
                    code: 404 | 410,
                    ..
                }
            ),
            ("http", "http-5xx") => matches!(
                &e.cause,
                Cause::HttpStatus {
                    code: 500..=599,
                    ..
                }
            ),
            // Behind a proxy, likewise: the body ends early with the tunnel (unexpected EOF).
            ("transfer", "transfer-reset") => {
                (matches!(&e.cause, Cause::ConnectionReset { .. }) && e.during == During::Body)
                    || e.cause == Cause::UnexpectedEof && !truth["proxy"].is_null()
            }
            ("transfer", "transfer-stall") => {
                matches!(&e.cause, Cause::Timeout { .. }) && e.during == During::Body
            }
            _ => {
                return Err(format!(
                    "no expectation written for stage {stage} kind {kind}"
                ));
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{stage}/{kind}: got {:?}", e.cause))
        }
    }

    #[test]
    fn every_error_line_go_printed_parses_into_the_injected_cause() {
        let mut bad = Vec::new();
        let (mut lines, mut cases) = (0, 0);
        for c in real::cases() {
            cases += 1;
            let errs = parse_stderr(&c.stderr);
            let got: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
            let want: Vec<String> = c.truth["go"]["error_lines"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l.as_str().map(str::to_string))
                .collect();
            if got != want {
                bad.push(format!(
                    "{}: messages {got:#?}, go's error lines {want:#?}",
                    c.name
                ));
                continue;
            }
            let failed = c.truth["go"]["exit_code"].as_i64() != Some(0);
            if !failed && !errs.is_empty() {
                bad.push(format!("{}: go succeeded, yet errors {got:?}", c.name));
            }
            for e in &errs {
                lines += 1;
                if let Err(why) = check(&c.truth, e) {
                    bad.push(format!("{}: {why}\n  {}", c.name, e.line));
                }
            }
        }
        eprintln!("{lines} error messages in {cases} real stderr files");
        assert!(bad.is_empty(), "{}", bad.join("\n"));
        assert!(lines >= 30, "the fixtures' error lines were read ({lines})");
    }
}
