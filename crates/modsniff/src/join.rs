//! What the go command said, joined to what the capture shows (`modsniff run`, and `modsniff
//! read --go-stderr FILE`).
//!
//! - Each fetch of go's `-x` trace ([`Fetch`]) is matched to the connection that carried it:
//!   the request itself when it went in clear, the CONNECT that tunnelled it, the address go
//!   dialled or was reset on, the lookup that failed, else the server name (SNI, Host, DNS)
//!   and port; among several, by time (`run` stamps each stderr line as it reads it) or, from
//!   a saved file, by order.
//! - Each of go's error messages ([`GoError`]) is attached to the findings it is about (the
//!   ones on its fetch's connection, or on its target, whose stage can cause that error), as
//!   `go_error`. An error nothing in the capture explains becomes a finding of its own (stage
//!   `go`, diagnose/go.rs): a checksum mismatch, a module no source has, a version that does
//!   not exist, a go.mod error; or, for a network error, "go failed … the capture shows no
//!   network fault", which says what the capture may be missing.
//! - A fault go recovered from (a GOPROXY entry that failed before the next one served, a
//!   retry that worked, or any failed fetch when go succeeded) is marked `recovered`, and its
//!   finding no longer fails the run.
//! - go failed and no error finding remains: a `go-failed` finding says so. A run whose go
//!   command failed never reads "OK".

use crate::diagnose::go::{self as go_findings, Seen as GoSeen};
use crate::diagnose::{Finding, FindingKind, Severity, Stage, ev};
use crate::go::stderr::{Cause, GoError};
use crate::go::trace::{ExitKind, Fetch, GoTranscript, Outcome};
use crate::report::Reported;
use modsniff_core::{Connection, DnsRecord, Duration, Side, Timestamp};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

/// Connections and DNS lookups remembered for the join, each; beyond it they are counted in
/// [`Seen::cut`] and fetches to them stay unmatched.
pub const MAX_SEEN: usize = 65_536;
/// HTTP requests remembered per connection (plain-HTTP keep-alive carries many).
pub const MAX_REQUESTS_SEEN: usize = 1_024;
/// How far a packet may be from the stderr line that reports it: go prints `# get URL` just
/// before the request and the end line just after the answer; the line reaches modsniff
/// through a pipe and a thread.
const BEFORE: Duration = Duration::from_millis(100);
const AFTER: Duration = Duration::from_millis(500);

/// What the join needs of one connection.
#[derive(Clone, Debug)]
pub struct ConnSeen {
    pub id: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Lower case: core's server name (SNI, Host, CONNECT target or DNS).
    pub name: Option<String>,
    /// Lower case: the ClientHello's SNI.
    pub sni: Option<String>,
    /// Lower case `host:port` a CONNECT asked for.
    pub connect: Option<String>,
    pub ts_first: Timestamp,
    pub ts_last: Timestamp,
    /// The first frame, and its time (the client's SYN, or the first packet).
    pub first_frame: Option<(u64, Timestamp)>,
    /// The server answered: a SYN-ACK or data.
    pub opened: bool,
    pub requests: Vec<RequestSeen>,
    /// The server's last data: frame and time.
    pub server_last_data: Option<(u64, Timestamp)>,
    /// The client's FIN or first RST: frame, time, which.
    pub client_close: Option<(u64, Timestamp, &'static str)>,
}

/// An HTTP request seen in clear.
#[derive(Clone, Debug)]
pub struct RequestSeen {
    pub method: Option<String>,
    /// As sent: origin form (`/m/@v/list`) or absolute form (through a proxy).
    pub uri: String,
    /// Lower case.
    pub host: Option<String>,
    pub status: Option<u16>,
    pub request: Option<(u64, Timestamp)>,
    pub response: Option<(u64, Timestamp)>,
}

/// What the join needs of one DNS lookup.
#[derive(Clone, Debug)]
pub struct DnsSeen {
    /// The id findings cite (the DNS message id).
    pub id: u64,
    /// Lower case.
    pub qname: String,
    pub failed: bool,
    pub ts: Timestamp,
}

/// The connections and lookups of a run, kept for the join.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    conns: Vec<ConnSeen>,
    dns: Vec<DnsSeen>,
    /// Connections, lookups and requests not kept ([`MAX_SEEN`], [`MAX_REQUESTS_SEEN`]).
    pub cut: u64,
}

impl Seen {
    pub fn connection(&mut self, c: &Connection) {
        if self.conns.len() >= MAX_SEEN {
            self.cut += 1;
            return;
        }
        let lower = |s: &str| s.to_ascii_lowercase();
        let mut requests = Vec::new();
        let mut connect = None;
        for h in &c.http {
            if h.method.as_deref() == Some("CONNECT") && connect.is_none() {
                connect = h.uri.as_deref().map(lower);
            }
            if requests.len() >= MAX_REQUESTS_SEEN {
                self.cut += 1;
                continue;
            }
            let Some(uri) = h.uri.clone() else { continue };
            requests.push(RequestSeen {
                method: h.method.clone(),
                uri,
                host: h.host.as_deref().map(lower),
                status: h.status,
                request: h.request_frame.zip(h.request_ts),
                response: h.response_frame.zip(h.response_ts),
            });
        }
        let cs = &c.client_stats;
        let first_frame = cs
            .syn_frames
            .first()
            .copied()
            .zip(cs.ts_first)
            .filter(|&(_, t)| t == c.ts_first);
        self.conns.push(ConnSeen {
            id: c.id,
            client: c.client,
            server: c.server,
            name: c.server_name.as_deref().map(lower),
            sni: c
                .tls
                .as_deref()
                .and_then(|t| t.client_hello.as_ref())
                .and_then(|h| h.sni.as_deref())
                .map(lower),
            connect,
            ts_first: c.ts_first,
            ts_last: c.ts_last,
            first_frame,
            opened: !c.server_stats.syn_frames.is_empty() || c.server_stats.bytes > 0,
            requests,
            server_last_data: c
                .server_stats
                .last_data_frame
                .zip(c.server_stats.last_data_ts),
            client_close: match (
                cs.fin_frame.zip(cs.fin_ts),
                c.resets.iter().find(|r| r.from == Side::Client),
            ) {
                (Some((f, t)), _) => Some((f, t, "FIN")),
                (None, Some(r)) => Some((r.packet, r.ts, "RST")),
                (None, None) => None,
            },
        });
    }

    pub fn dns(&mut self, r: &DnsRecord) {
        let Some(q) = r.qname.as_deref() else { return };
        if self.dns.len() >= MAX_SEEN {
            self.cut += 1;
            return;
        }
        self.dns.push(DnsSeen {
            id: u64::from(r.id),
            qname: q.trim_end_matches('.').to_ascii_lowercase(),
            failed: r.rcode.as_deref() != Some("NOERROR") || !r.has_address_answer(),
            ts: r.ts(),
        });
    }
}

/// How a fetch was matched to its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchedBy {
    /// The request itself, seen in clear (plain HTTP).
    Request,
    /// The CONNECT that tunnelled it through an HTTPS proxy.
    Connect,
    /// The address go dialled, or the connection go said was reset.
    Address,
    /// The server name (SNI, Host, DNS) and port.
    Name,
    /// The lookup that failed.
    Dns,
}

/// A fetch of go's, and where the capture shows it.
#[derive(Clone, Debug)]
pub struct JoinedFetch {
    pub fetch: Fetch,
    /// The connection record that carried it.
    pub connection: Option<u64>,
    /// The dns record of the lookup that failed (its message id).
    pub dns: Option<u64>,
    pub matched_by: Option<MatchedBy>,
    /// It failed, and go got what it wanted anyway (elsewhere, or later).
    pub recovered: bool,
}

impl JoinedFetch {
    /// No usable answer: an error, a refusal, an error status, or no end.
    pub fn failed(&self) -> bool {
        fetch_failed(&self.fetch)
    }
}

fn fetch_failed(f: &Fetch) -> bool {
    match &f.outcome {
        Outcome::Status { code, .. } => *code >= 400,
        Outcome::Error { .. } | Outcome::NotAllowed { .. } => true,
        Outcome::Unfinished => false,
    }
}

/// How the go command ran, as the stats record says it.
#[derive(Clone, Debug)]
pub struct GoSummary {
    /// How it ended; `Unknown` for a saved stderr.
    pub exit: ExitKind,
    pub failed: bool,
    pub errors: u64,
    pub fetches: u64,
    pub failed_fetches: u64,
    pub recovered_fetches: u64,
    /// Fetches matched to a connection or a lookup.
    pub matched_fetches: u64,
    /// The first line of go's last error message.
    pub last_error: Option<String>,
}

/// The run's findings with go's words joined in, its fetches, and how go ran.
#[derive(Debug, Default)]
pub struct Joined {
    pub findings: Vec<Reported>,
    pub fetches: Vec<JoinedFetch>,
    pub go: Option<GoSummary>,
}

/// The findings as they are, when there is nothing of go's to join.
pub fn without_go(mut findings: Vec<Finding>) -> Joined {
    findings.sort_by_key(|f| (f.stage, f.first_frame()));
    Joined {
        findings: findings.into_iter().map(Reported::from).collect(),
        ..Joined::default()
    }
}

/// A URL's parts, as the join compares them.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Url<'a> {
    https: bool,
    /// Lower case, without brackets.
    host: String,
    port: u16,
    /// From the first `/` after the host (query included); `/` when empty.
    path: &'a str,
}

impl Url<'_> {
    fn hostport(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
    fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

fn parse_url(u: &str) -> Option<Url<'_>> {
    let (scheme, rest) = u.split_once("://")?;
    let https = match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => false,
        _ => return None,
    };
    let (auth, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let auth = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    let default = if https { 443 } else { 80 };
    let (host, port) = if let Some(r) = auth.strip_prefix('[') {
        let (h, tail) = r.split_once(']')?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => default,
        };
        (h, port)
    } else {
        match auth.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().ok()?),
            None => (auth, default),
        }
    };
    if host.is_empty() {
        return None;
    }
    Some(Url {
        https,
        host: host.to_ascii_lowercase(),
        port,
        path,
    })
}

/// A URL's host (lower case, without brackets) and port.
pub fn url_host_port(u: &str) -> Option<(String, u16)> {
    parse_url(u).map(|p| (p.host, p.port))
}

/// `host` without a port, lower case (`[::1]:80` -> `::1`).
fn bare_host(hostport: &str) -> String {
    let h = if let Some(r) = hostport.strip_prefix('[') {
        r.split_once(']').map_or(r, |(h, _)| h)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => hostport,
        }
    };
    h.to_ascii_lowercase()
}

/// The stages whose findings can be what made go print this cause.
fn explains(cause: &Cause, stage: Stage) -> bool {
    use Stage::*;
    match cause {
        Cause::Dns { .. } => stage == Dns,
        Cause::Dial { .. } => matches!(stage, Connect | Proxy | Dns),
        Cause::ProxyConnect { .. } => matches!(stage, Proxy | Connect | Dns),
        Cause::X509 { .. } | Cause::TlsAlert { .. } | Cause::Tls { .. } => stage == Tls,
        Cause::TlsHandshakeTimeout => matches!(stage, Tls | Connect | Transfer),
        Cause::ConnectionReset { .. } => matches!(stage, Tls | Transfer | Connect | Proxy),
        Cause::Timeout { .. } | Cause::UnexpectedEof | Cause::Eof => {
            matches!(stage, Transfer | Tls | Http | Proxy)
        }
        Cause::HttpStatus { .. } => matches!(stage, Http | Proxy),
        Cause::ChecksumMismatch { .. }
        | Cause::NotFound { .. }
        | Cause::InvalidVersion { .. }
        | Cause::GoModError { .. }
        | Cause::Toolchain { .. } => false,
        Cause::Other { .. } => !matches!(stage, Go | Capture),
    }
}

/// A cause that needs no network fault: the capture is not expected to show one.
fn is_local(cause: &Cause) -> bool {
    matches!(
        cause,
        Cause::ChecksumMismatch { .. }
            | Cause::NotFound { .. }
            | Cause::InvalidVersion { .. }
            | Cause::GoModError { .. }
            | Cause::Toolchain { .. }
    )
}

/// The name, the address and the transport failure a cause names, looking through a proxy.
fn cause_target(cause: &Cause) -> (Option<&str>, Option<&str>) {
    match cause {
        Cause::Dns { name, .. } => (Some(name), None),
        Cause::Dial { addr, .. } => (None, Some(addr)),
        Cause::ConnectionReset { remote, .. } => (None, remote.as_deref()),
        Cause::ProxyConnect {
            inner: Some(inner), ..
        } => cause_target(inner),
        _ => (None, None),
    }
}

/// Matches each fetch to its connection (or failed lookup).
struct Matcher<'a> {
    seen: &'a Seen,
    /// Each connection's rank by first packet (`seen.conns` is in the order they ended).
    rank: Vec<usize>,
    /// Connections (indices, by rank) per server address, per CONNECT target, per server
    /// name and port; requests in clear per URI as sent.
    by_addr: HashMap<SocketAddr, Vec<usize>>,
    by_connect: HashMap<String, Vec<usize>>,
    by_name: HashMap<(String, u16), Vec<usize>>,
    by_uri: HashMap<String, Vec<(usize, usize)>>,
    /// Connections a transport fault was found on (from the findings).
    broken: std::collections::HashSet<u64>,
    /// Offline: per target, the rank of the connection the previous fetch went on.
    cursor: HashMap<String, usize>,
    /// Offline: per URL, the requests already given to earlier fetches of it.
    taken: HashMap<String, usize>,
}

impl<'a> Matcher<'a> {
    fn new(seen: &'a Seen, findings: &[Finding]) -> Self {
        let mut order: Vec<usize> = (0..seen.conns.len()).collect();
        order.sort_by_key(|&i| (seen.conns[i].ts_first, seen.conns[i].id));
        let mut rank = vec![0; order.len()];
        let mut m = Matcher {
            seen,
            rank: Vec::new(),
            by_addr: HashMap::new(),
            by_connect: HashMap::new(),
            by_name: HashMap::new(),
            by_uri: HashMap::new(),
            broken: findings
                .iter()
                .filter(|f| {
                    matches!(
                        f.stage,
                        Stage::Connect | Stage::Proxy | Stage::Tls | Stage::Transfer
                    ) && f.severity >= Severity::Warning
                        && !matches!(
                            f.kind,
                            FindingKind::TlsDowngrade | FindingKind::Retransmissions
                        )
                })
                .filter_map(|f| f.connection)
                .collect(),
            cursor: HashMap::new(),
            taken: HashMap::new(),
        };
        for (r, &i) in order.iter().enumerate() {
            rank[i] = r;
            let c = &seen.conns[i];
            m.by_addr.entry(c.server).or_default().push(i);
            if let Some(t) = &c.connect {
                m.by_connect.entry(t.clone()).or_default().push(i);
            }
            let port = c.server.port();
            for n in [&c.sni, &c.name].into_iter().flatten() {
                let v = m.by_name.entry((n.clone(), port)).or_default();
                if v.last() != Some(&i) {
                    v.push(i);
                }
            }
            for (j, q) in c.requests.iter().enumerate() {
                m.by_uri.entry(q.uri.clone()).or_default().push((i, j));
            }
        }
        m.rank = rank;
        m
    }

    fn conn(&self, i: usize) -> &'a ConnSeen {
        &self.seen.conns[i]
    }

    fn is_broken(&self, i: usize) -> bool {
        let c = self.conn(i);
        !c.opened || self.broken.contains(&c.id)
    }

    fn join(&mut self, f: &Fetch) -> JoinedFetch {
        let (connection, dns, matched_by) = self.find(f).unwrap_or((None, None, None));
        JoinedFetch {
            fetch: f.clone(),
            connection,
            dns,
            matched_by,
            recovered: false,
        }
    }

    #[allow(clippy::type_complexity)]
    fn find(&mut self, f: &Fetch) -> Option<(Option<u64>, Option<u64>, Option<MatchedBy>)> {
        let transport_failed = matches!(f.outcome, Outcome::Error { .. });
        // What the error itself names.
        if let Outcome::Error { cause, .. } = &f.outcome {
            match cause_target(cause) {
                (Some(name), _) => {
                    let name = name.trim_end_matches('.').to_ascii_lowercase();
                    let hit = self
                        .seen
                        .dns
                        .iter()
                        .rev()
                        .find(|d| d.qname == name && d.failed && within(d.ts, d.ts, f));
                    if let Some(d) = hit {
                        return Some((None, Some(d.id), Some(MatchedBy::Dns)));
                    }
                }
                (None, Some(addr)) => {
                    if let Ok(addr) = addr.parse::<SocketAddr>() {
                        let local = match cause {
                            Cause::ConnectionReset { local, .. } => {
                                local.as_deref().and_then(|l| l.parse::<SocketAddr>().ok())
                            }
                            _ => None,
                        };
                        let cands: Vec<usize> = self
                            .by_addr
                            .get(&addr)
                            .into_iter()
                            .flatten()
                            .copied()
                            .filter(|&i| local.is_none_or(|l| l == self.conn(i).client))
                            .collect();
                        if let Some(i) = self.choose(&cands, f, true, &addr.to_string()) {
                            return Some((Some(self.conn(i).id), None, Some(MatchedBy::Address)));
                        }
                    }
                }
                _ => {}
            }
        }
        let url = parse_url(&f.url)?;
        let key = url.hostport();
        // Plain HTTP: the request itself.
        if !url.https
            && let Some((i, _)) = self.request(f, &url)
        {
            return Some((Some(self.conn(i).id), None, Some(MatchedBy::Request)));
        }
        // Through an HTTPS proxy: the CONNECT to the URL's host.
        let tunnels = self.by_connect.get(&key).cloned().unwrap_or_default();
        if let Some(i) = self.choose(&tunnels, f, transport_failed, &key) {
            return Some((Some(self.conn(i).id), None, Some(MatchedBy::Connect)));
        }
        // Straight to the server: its address, or its name, and port.
        let (direct, how) = match url.ip() {
            Some(ip) => (
                self.by_addr
                    .get(&SocketAddr::new(ip, url.port))
                    .cloned()
                    .unwrap_or_default(),
                MatchedBy::Address,
            ),
            None => (
                self.by_name
                    .get(&(url.host.clone(), url.port))
                    .cloned()
                    .unwrap_or_default(),
                MatchedBy::Name,
            ),
        };
        let direct: Vec<usize> = direct
            .into_iter()
            .filter(|&i| self.conn(i).connect.is_none())
            .collect();
        self.choose(&direct, f, transport_failed, &key)
            .map(|i| (Some(self.conn(i).id), None, Some(how)))
    }

    /// The request in clear that is this fetch: same URL (absolute form, through a proxy) or
    /// same path and Host.
    fn request(&mut self, f: &Fetch, url: &Url<'_>) -> Option<(usize, usize)> {
        let hostport = url.hostport();
        let mut hits: Vec<(usize, usize)> = self.by_uri.get(&f.url).cloned().unwrap_or_default();
        for &(i, j) in self.by_uri.get(url.path).into_iter().flatten() {
            let host_ok = self.conn(i).requests[j]
                .host
                .as_deref()
                .is_some_and(|h| h == hostport || (!h.contains(':') && bare_host(h) == url.host));
            if host_ok {
                hits.push((i, j));
            }
        }
        if hits.is_empty() {
            return None;
        }
        hits.sort_by_key(|&(i, j)| (self.rank[i], j));
        if f.start_ts.is_some() {
            let timed = hits.iter().copied().find(|&(i, j)| {
                let r = &self.conn(i).requests[j];
                r.request.is_some_and(|(_, t)| within(t, t, f))
            });
            if timed.is_some() {
                return timed;
            }
        }
        // The n-th fetch of a URL is its n-th request in the capture.
        let n = self.taken.entry(f.url.clone()).or_insert(0);
        let pick = hits.get(*n).or(hits.last()).copied();
        *n += 1;
        pick
    }

    /// One of `cands` (indices, by rank) for this fetch: by time when the fetch has times;
    /// else the one a previous fetch of the same target went on, or the next one, preferring
    /// a connection that failed for a fetch that did (and one that did not for one that got
    /// an answer).
    fn choose(
        &mut self,
        cands: &[usize],
        f: &Fetch,
        transport_failed: bool,
        key: &str,
    ) -> Option<usize> {
        if cands.is_empty() {
            return None;
        }
        let fits = |i: usize| self.is_broken(i) == transport_failed;
        if let Some(start) = f.start_ts {
            let end = f.end_ts.unwrap_or(start);
            let live: Vec<usize> = cands
                .iter()
                .copied()
                .filter(|&i| {
                    let c = self.conn(i);
                    c.ts_first <= end.saturating_add(AFTER)
                        && c.ts_last.saturating_add(BEFORE) >= start
                })
                .collect();
            let pool: Vec<usize> = if live.iter().any(|&i| fits(i)) {
                live.iter().copied().filter(|&i| fits(i)).collect()
            } else {
                live
            };
            // A connection opened for this fetch, else the latest one opened before it.
            let opened = pool
                .iter()
                .copied()
                .find(|&i| self.conn(i).ts_first.saturating_add(BEFORE) >= start);
            return opened.or_else(|| pool.last().copied());
        }
        let at = self.cursor.get(key).copied().unwrap_or(0);
        let from = cands
            .iter()
            .position(|&i| self.rank[i] >= at)
            .unwrap_or(cands.len());
        let pick = cands[from..]
            .iter()
            .copied()
            .find(|&i| fits(i))
            .or_else(|| cands.iter().copied().rev().find(|&i| fits(i)))
            .or_else(|| cands.get(from).copied())
            .or_else(|| cands.last().copied())?;
        // A connection a transport error ended carries nothing more: the next fetch of the
        // target went on a later one (go dials again).
        self.cursor.insert(
            key.to_string(),
            self.rank[pick] + usize::from(transport_failed),
        );
        Some(pick)
    }
}

/// A packet (or span from `first` to `last`) could belong to the fetch's time; true when the
/// fetch has no times.
fn within(first: Timestamp, last: Timestamp, f: &Fetch) -> bool {
    let Some(start) = f.start_ts else {
        return true;
    };
    let end = f.end_ts.unwrap_or(start);
    first <= end.saturating_add(AFTER) && last.saturating_add(BEFORE) >= start
}

/// Joins go's transcript to the run's findings and connections.
pub fn join(mut findings: Vec<Finding>, seen: &Seen, t: &GoTranscript) -> Joined {
    let mut m = Matcher::new(seen, &findings);
    let mut fetches: Vec<JoinedFetch> = t.fetches.iter().map(|f| m.join(f)).collect();
    let conn_by_id: HashMap<u64, &ConnSeen> = seen.conns.iter().map(|c| (c.id, c)).collect();
    let failed_run = t.failed();

    // Which failed fetches go recovered from: all of them when go succeeded; otherwise the
    // ones no error message names, fetched again (the same path, from wherever) with success.
    let named: Vec<&str> = t.errors.iter().filter_map(|e| e.url.as_deref()).collect();
    let tail = |u: &str| parse_url(u).map(|p| p.path.to_string());
    for i in 0..fetches.len() {
        if !fetches[i].failed() {
            continue;
        }
        let url = fetches[i].fetch.url.clone();
        fetches[i].recovered = !failed_run
            || (!named.contains(&url.as_str())
                && fetches[i + 1..].iter().any(|g| {
                    !g.failed()
                        && !matches!(g.fetch.outcome, Outcome::Unfinished)
                        && tail(&g.fetch.url) == tail(&url)
                }));
    }

    // go died (or gave up) while fetching: the connections it was waiting on. Those of the
    // fetches it never saw answered, and, when it ended without a word (killed because it
    // hung), the one of the last fetch it started, whose body it may have been reading.
    if failed_run {
        let last = fetches
            .iter()
            .rposition(|jf| jf.connection.is_some() && !jf.failed());
        for (k, jf) in fetches.iter().enumerate() {
            let unanswered = matches!(jf.fetch.outcome, Outcome::Unfinished);
            let reading = t.errors.is_empty() && Some(k) == last;
            if !(unanswered || reading) {
                continue;
            }
            let Some(c) = jf.connection.and_then(|id| conn_by_id.get(&id)) else {
                continue;
            };
            let note = format!(
                " The go command was still {} {} when it {}.",
                if unanswered { "waiting for" } else { "reading" },
                jf.fetch.url,
                t.exit
            );
            if let Some(f) = findings
                .iter_mut()
                .find(|f| f.connection == Some(c.id) && f.kind == FindingKind::TransferStall)
            {
                f.severity = Severity::Error;
                f.summary.push_str(&note);
                continue;
            }
            if findings
                .iter()
                .any(|f| f.connection == Some(c.id) && f.severity == Severity::Error)
            {
                continue;
            }
            let waited = go_findings::Waited {
                connection: c.id,
                server: c.server.to_string(),
                server_name: c.name.clone(),
                last_data: c.server_last_data,
                client_close: c.client_close,
                end: c.ts_last,
                url: &jf.fetch.url,
                exit: t.exit,
            };
            if let Some(f) = go_findings::waited_finding(&waited) {
                findings.push(f);
            }
        }
    }

    // An error naming a URL no `# get` line traced (go ran without -x): the fetch it implies,
    // matched the same way, for the join only (it is no `fetch` record).
    let implied: Vec<JoinedFetch> = t
        .errors
        .iter()
        .filter(|e| fetch_of(e, &fetches).is_none())
        .filter_map(|e| {
            let url = e.url.clone()?;
            let outcome = match &e.cause {
                Cause::HttpStatus { code, text, .. } => Outcome::Status {
                    code: *code,
                    text: text.clone(),
                },
                cause => Outcome::Error {
                    message: go_findings::first_line(&e.line).to_string(),
                    cause: cause.clone(),
                },
            };
            Some(m.join(&Fetch {
                url,
                order: usize::MAX,
                start_line: None,
                end_line: None,
                outcome,
                seconds: None,
                start_ts: None,
                end_ts: None,
            }))
        })
        .collect();

    let mut go_error: Vec<Option<String>> = vec![None; findings.len()];
    let mut extra: Vec<Finding> = Vec::new();
    let mut unexplained_network: Vec<(&GoError, GoSeen)> = Vec::new();
    for e in &t.errors {
        let fetch = fetch_of(e, &fetches).or_else(|| fetch_of(e, &implied));
        let gs = go_seen(e, fetch, &conn_by_id);
        // The findings on what the error is about.
        let about = |f: &Finding| -> bool {
            if let Some(jf) = fetch {
                if f.stage == Stage::Dns {
                    return jf.dns.is_some_and(|d| f.connection == Some(d))
                        || dns_name_of(&e.cause)
                            .is_some_and(|n| f.server_name.as_deref() == Some(n.as_str()));
                }
                if jf.connection.is_some() {
                    return f.connection == jf.connection;
                }
            }
            targets(e, f)
        };
        let hits: Vec<usize> = (0..findings.len())
            .filter(|&i| {
                !matches!(findings[i].stage, Stage::Go | Stage::Capture) && about(&findings[i])
            })
            .collect();
        let mut attached: Vec<usize> = hits
            .iter()
            .copied()
            .filter(|&i| explains(&e.cause, findings[i].stage))
            .collect();
        if attached.is_empty() && !is_local(&e.cause) {
            attached = hits
                .iter()
                .copied()
                .filter(|&i| findings[i].severity == Severity::Error)
                .collect();
        }
        // Of several, the errors (a warning on the same connection is context).
        if attached
            .iter()
            .any(|&i| findings[i].severity == Severity::Error)
        {
            attached.retain(|&i| findings[i].severity == Severity::Error);
        }
        for &i in &attached {
            if go_error[i].is_none() {
                go_error[i] = Some(e.line.clone());
                go_findings::correct_interception_guess(&mut findings[i], e);
            }
        }
        if !attached.is_empty() {
            continue;
        }
        if let Some(mut f) =
            go_findings::local_finding(e, &gs).or_else(|| go_findings::http_status_finding(e, &gs))
        {
            f.likely_go_error = None;
            extra.push(f);
            go_error.push(Some(e.line.clone()));
        } else {
            unexplained_network.push((e, gs));
        }
    }
    // A capture cut short: a dial go reports with no connection in it came after its end.
    let cut: Option<Vec<modsniff_core::Evidence>> = findings
        .iter()
        .find(|f| f.kind == FindingKind::CaptureIncomplete)
        .map(|f| f.evidence.clone());
    for (e, gs) in unexplained_network {
        if gs.connection.is_none()
            && let Some(last) = &cut
            && let Some(f) = go_findings::after_the_capture(e, &gs, last)
        {
            extra.push(f);
            go_error.push(Some(e.line.clone()));
            continue;
        }
        let missing = missing_text(e, &gs);
        let why = go_findings::first_line(&e.line).trim_start_matches("go: ");
        extra.push(go_findings::failed_finding(why, &missing, &gs));
        go_error.push(Some(e.line.clone()));
    }
    findings.extend(extra);

    // Findings go recovered from: every failed fetch on them was recovered (or, go having
    // succeeded, every fetch on them got its answer).
    let mut recovered = vec![false; findings.len()];
    for (i, f) in findings.iter_mut().enumerate() {
        if matches!(f.stage, Stage::Go | Stage::Capture) || go_error[i].is_some() {
            continue;
        }
        let on: Vec<&JoinedFetch> = fetches
            .iter()
            .filter(|jf| match f.stage {
                Stage::Dns => {
                    jf.dns.is_some_and(|d| f.connection == Some(d))
                        || (jf.dns.is_some()
                            && f.server_name.as_deref().is_some_and(|n| {
                                parse_url(&jf.fetch.url).is_some_and(|u| u.host == n)
                            }))
                }
                _ => jf.connection.is_some() && jf.connection == f.connection,
            })
            .collect();
        // Every fetch go made from this connection's host started before it began to build:
        // it had each answer whole (or gave up on it) first (see `GoTranscript::build_line`), so a silence the
        // capture shows after them was an idle connection, whatever became of the run. By
        // host, not by connection: over TLS a fetch is matched to a connection of its name,
        // not always to the one that carried it.
        if f.kind == FindingKind::TransferStall
            && f.severity == Severity::Error
            && let Some(name) = f.server_name.as_deref()
        {
            let mut of_host = fetches
                .iter()
                .filter(|jf| parse_url(&jf.fetch.url).is_some_and(|u| u.host == name))
                .peekable();
            if of_host.peek().is_some() && of_host.all(|jf| t.read_whole(&jf.fetch)) {
                recovered[i] = true;
                f.severity = Severity::Info;
                f.summary.push_str(
                    " The go command read every answer it fetched from this host to its end: it went on to build after them (its -x transcript), so the connection was idle, not stalled, when it ended.",
                );
                continue;
            }
        }
        if on.is_empty() {
            continue;
        }
        let all_fine = on.iter().all(|jf| !jf.failed() || jf.recovered);
        let some_failed = on.iter().any(|jf| jf.failed());
        // go's trace line (`# get URL: 200 OK`) comes with the response's headers: it says
        // nothing of the body. A body the capture shows stalled or cut is not answered by it,
        // and a go killed while waiting for that body (a hang ended by a timeout or Ctrl-C)
        // prints no error: only an explicit recovery clears a transfer finding.
        let answered = !failed_run && f.stage != Stage::Transfer;
        if all_fine && (some_failed || answered) {
            recovered[i] = true;
            if f.kind == FindingKind::HttpNotFound && some_failed {
                // A GOPROXY list falls through on 404/410 by design.
                f.severity = f.severity.min(Severity::Info);
            } else if f.severity == Severity::Error {
                f.severity = Severity::Warning;
                f.summary.push_str(if some_failed {
                    " The go command recovered: it got what it fetched here elsewhere or on a retry."
                } else {
                    " The go command got every answer it fetched on this connection."
                });
            }
        }
    }

    // go failed, and nothing says why: say so.
    let errors_left = findings.iter().any(|f| f.severity == Severity::Error);
    if failed_run && !errors_left {
        let why = match t.errors.last() {
            Some(e) => go_findings::first_line(&e.line)
                .trim_start_matches("go: ")
                .to_string(),
            None => format!("{} without an error message", t.exit),
        };
        let missing = if seen.conns.is_empty() && seen.dns.is_empty() {
            "The capture holds no connection at all: the go command's traffic went over another interface, or outside this capture (another network namespace or container, a VPN).".to_string()
        } else {
            "If go's traffic went over another interface, or outside this capture (another network namespace or container, a VPN), capture there.".to_string()
        };
        findings.push(go_findings::failed_finding(
            &why,
            &missing,
            &GoSeen::default(),
        ));
        go_error.push(t.errors.last().map(|e| e.line.clone()));
        recovered.push(false);
    }

    let mut out: Vec<Reported> = findings
        .into_iter()
        .zip(go_error)
        .zip(recovered.into_iter().chain(std::iter::repeat(false)))
        .map(|((finding, go_error), recovered)| Reported {
            finding,
            go_error,
            recovered,
        })
        .collect();
    out.sort_by_key(|r| (r.finding.stage, r.finding.first_frame()));
    let summary = GoSummary {
        exit: t.exit,
        failed: failed_run,
        errors: t.errors.len() as u64,
        fetches: fetches.len() as u64,
        failed_fetches: fetches.iter().filter(|f| f.failed()).count() as u64,
        recovered_fetches: fetches.iter().filter(|f| f.recovered).count() as u64,
        matched_fetches: fetches
            .iter()
            .filter(|f| f.connection.is_some() || f.dns.is_some())
            .count() as u64,
        last_error: t
            .errors
            .last()
            .map(|e| go_findings::first_line(&e.line).to_string()),
    };
    Joined {
        findings: out,
        fetches,
        go: Some(summary),
    }
}

/// The name a DNS cause looked up, lower case.
fn dns_name_of(cause: &Cause) -> Option<String> {
    match cause_target(cause) {
        (Some(n), _) => Some(n.trim_end_matches('.').to_ascii_lowercase()),
        _ => None,
    }
}

/// A finding on the target an error names (without a matched fetch).
fn targets(e: &GoError, f: &Finding) -> bool {
    let (name, addr) = cause_target(&e.cause);
    if let Some(n) = name {
        let n = n.trim_end_matches('.').to_ascii_lowercase();
        return f.server_name.as_deref().is_some_and(|s| s == n);
    }
    if let Some(a) = addr {
        return f.server.as_deref() == Some(a);
    }
    let Some(url) = e.url.as_deref().and_then(parse_url) else {
        return false;
    };
    let server: Option<SocketAddr> = f.server.as_deref().and_then(|s| s.parse().ok());
    match url.ip() {
        Some(ip) => server.is_some_and(|s| s.ip() == ip && s.port() == url.port),
        None => {
            f.server_name.as_deref() == Some(url.host.as_str())
                && server.is_none_or(|s| s.port() == url.port || f.stage == Stage::Proxy)
        }
    }
}

/// The fetch an error message reports: the last failed fetch of its URL; for a checksum
/// mismatch, the zip's download.
fn fetch_of<'f>(e: &GoError, fetches: &'f [JoinedFetch]) -> Option<&'f JoinedFetch> {
    if let Some(u) = e.url.as_deref() {
        return fetches
            .iter()
            .rev()
            .find(|f| f.fetch.url == u && f.failed())
            .or_else(|| fetches.iter().rev().find(|f| f.fetch.url == u));
    }
    if let (Cause::ChecksumMismatch { .. }, Some(m), Some(v)) = (&e.cause, &e.module, &e.version) {
        let want = format!("/{}/@v/{v}.zip", escape_module(m));
        let want_mod = format!("/{}/@v/{v}.mod", escape_module(m));
        let checks_mod = e.line.contains("/go.mod: checksum");
        return fetches.iter().rev().find(|f| {
            parse_url(&f.fetch.url)
                .is_some_and(|u| u.path == if checks_mod { &want_mod } else { &want })
        });
    }
    None
}

/// The module path as the GOPROXY protocol writes it (`!` before each upper-case letter).
fn escape_module(m: &str) -> String {
    let mut out = String::with_capacity(m.len());
    for c in m.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Where the capture shows what an error is about.
fn go_seen(e: &GoError, fetch: Option<&JoinedFetch>, conns: &HashMap<u64, &ConnSeen>) -> GoSeen {
    let mut s = GoSeen::default();
    let Some(jf) = fetch else {
        s.server_name = e.host.as_deref().map(bare_host);
        return s;
    };
    // go's own trace line, when it printed one (not for a fetch an error implies).
    if jf.fetch.start_line.is_some() || jf.fetch.end_line.is_some() {
        s.trace = Some(trace_line(&jf.fetch));
    }
    let url = parse_url(&jf.fetch.url);
    s.server_name = url.as_ref().map(|u| u.host.clone());
    let Some(c) = jf.connection.and_then(|id| conns.get(&id)) else {
        return s;
    };
    s.connection = Some(c.id);
    s.server = Some(c.server.to_string());
    if c.connect.is_none() && url.as_ref().is_some_and(|u| u.ip().is_some()) {
        s.server_name = c.name.clone();
    }
    // The request and its answer when they went in clear, else the connection's first packet.
    let req = url.as_ref().and_then(|u| {
        c.requests
            .iter()
            .find(|r| r.uri == jf.fetch.url || r.uri == u.path)
    });
    match req {
        Some(r) => {
            if let Some((fr, ts)) = r.request {
                let method = r.method.as_deref().unwrap_or("GET");
                s.evidence
                    .push(ev(fr, Some(ts), format!("{method} {}", r.uri)));
            }
            if let (Some((fr, ts)), Some(code)) = (r.response, r.status) {
                s.evidence.push(ev(fr, Some(ts), format!("HTTP {code}")));
            }
        }
        None => {
            if let Some((fr, ts)) = c.first_frame {
                s.evidence.push(ev(
                    fr,
                    Some(ts),
                    "the connection that carried the fetch (SYN)",
                ));
            }
            // Inside TLS the answer is not readable, but its frames are there.
            if let Some((fr, ts)) = c.server_last_data
                && c.sni.is_some()
            {
                s.evidence
                    .push(ev(fr, Some(ts), "the server's last data on it (encrypted)"));
            }
        }
    }
    s
}

/// go's end line for a fetch, as it printed it.
fn trace_line(f: &Fetch) -> String {
    match &f.outcome {
        Outcome::Status { code, text } => match f.seconds {
            Some(s) => format!("# get {}: {code} {text} ({s:.3}s)", f.url),
            None => format!("# get {}: {code} {text}", f.url),
        },
        Outcome::Error { message, .. } => format!("# get {}: {message}", f.url),
        Outcome::NotAllowed { reason } => format!("# get {}: {reason}", f.url),
        Outcome::Unfinished => format!("# get {}", f.url),
    }
}

/// What the capture lacks, for a network error of go's it shows no fault for.
fn missing_text(e: &GoError, s: &GoSeen) -> String {
    let host = e
        .host
        .as_deref()
        .map(bare_host)
        .or_else(|| s.server_name.clone())
        .unwrap_or_else(|| "the server".into());
    let target = match cause_target(&e.cause) {
        (_, Some(addr)) if bare_host(addr) != host => format!("{host} ({addr})"),
        _ => host,
    };
    match s.connection {
        Some(id) => format!(
            "The capture shows the connection to {target} (connection {id}) but nothing wrong on it: the fault may lie beyond what packets show (inside TLS), or the capture missed packets."
        ),
        None => format!(
            "The capture shows no packet to {target}: go's traffic went over another interface (capture with -i any), or outside this capture (another network namespace or container, a VPN)."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::go::trace::GoTranscript;

    #[test]
    fn urls_are_split_as_go_prints_them() {
        let u = parse_url("https://Proxy.Golang.org/github.com/!x/@v/list").unwrap();
        assert_eq!(
            (u.https, u.host.as_str(), u.port, u.path),
            (true, "proxy.golang.org", 443, "/github.com/!x/@v/list")
        );
        let u = parse_url("http://10.0.0.1:8080").unwrap();
        assert_eq!(
            (u.port, u.path, u.hostport()),
            (8080, "/", "10.0.0.1:8080".into())
        );
        let u = parse_url("https://user:xxxxx@[fd00::1]:8443/a?b").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path, u.hostport()),
            ("fd00::1", 8443, "/a?b", "[fd00::1]:8443".into())
        );
        for bad in [
            "",
            "proxy.golang.org/x",
            "ftp://x/y",
            "https://",
            "https://h:99999/",
        ] {
            assert!(parse_url(bad).is_none(), "{bad}");
        }
        assert_eq!(bare_host("[::1]:80"), "::1");
        assert_eq!(bare_host("Goproxy.test:8443"), "goproxy.test");
        assert_eq!(bare_host("::1"), "::1");
        assert_eq!(escape_module("github.com/Azure/x"), "github.com/!azure/x");
    }

    #[test]
    fn a_failed_run_with_nothing_found_is_never_ok() {
        let t = GoTranscript::from_text(
            "go: example.com/m@v1.0.0: Get \"https://p.test/example.com/m/@v/v1.0.0.info\": dial tcp 10.1.2.3:443: connect: connection refused\n",
        );
        assert!(t.failed());
        let j = join(Vec::new(), &Seen::default(), &t);
        assert_eq!(j.findings.len(), 1, "{:#?}", j.findings);
        let r = &j.findings[0];
        assert_eq!(r.finding.kind, FindingKind::GoFailed);
        assert_eq!(r.finding.severity, Severity::Error);
        assert!(
            r.finding
                .summary
                .starts_with("go failed: example.com/m@v1.0.0: Get"),
            "{}",
            r.finding.summary
        );
        assert!(
            r.finding
                .summary
                .contains("no packet to p.test (10.1.2.3:443)"),
            "{}",
            r.finding.summary
        );
        assert_eq!(r.go_error.as_deref(), Some(t.errors[0].line.as_str()));
        // A succeeding run with nothing found stays quiet.
        let t = GoTranscript::from_text(
            "# get https://p.test/x\n# get https://p.test/x: 200 OK (0.010s)\n",
        );
        assert!(!t.failed());
        assert!(join(Vec::new(), &Seen::default(), &t).findings.is_empty());
    }
}
