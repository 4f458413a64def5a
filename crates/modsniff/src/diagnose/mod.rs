//! From connection and DNS records to findings.
//!
//! Each connection is judged when its record arrives (so `live` can report as things happen);
//! what needs the whole capture — whether a later attempt to the same target succeeded, what
//! TTL an address shows elsewhere, whether a failed DNS lookup explains missing connections —
//! is settled in `finish`. Detectors live one per stage in the files beside this one.

mod actor;
pub mod capture;
mod cert;
mod connect;
mod dns;
pub mod finding;
pub mod go;
mod http;
mod proxy;
mod tls;
pub mod tlsview;
mod transfer;

pub use finding::{Actor, Finding, FindingKind, Severity, Stage};

use crate::go::settings::{Fallback, is_host_port};
use crate::go::{GoRole, GoSettings, classify_host};
use actor::TtlRange;
use modsniff_core::DnsRecord;
use modsniff_core::Timestamp;
use modsniff_core::Transport;
use modsniff_core::{Connection, Evidence};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use tlsview::TlsView;

/// Findings kept at once; beyond it they are counted, not kept (a capture full of failures
/// says what it needs to in the first ten thousand).
pub const MAX_FINDINGS: usize = 10_000;

/// A finding before the whole capture is known.
#[derive(Debug)]
struct Candidate {
    finding: Finding,
    /// Where the connection went: its name and address.
    name: Option<String>,
    addr: Option<SocketAddr>,
    ts: Timestamp,
    /// An error that a later successful connection to the same target turns into a warning
    /// (Happy Eyeballs, retries, GOPROXY fallback).
    soft: bool,
    /// The finding stands only if no other connection carried data between these times
    /// (apart from its own connection's): decided by `finish`, once every connection ended.
    idle_window: Option<(Timestamp, Timestamp, u64)>,
    /// A 404/410 for a module path at a GOPROXY host (lower-cased host, module path): one of
    /// the go command's lookups of which prefix of a path is the module (`Diagnoser::served`).
    lookup: Option<(String, String)>,
}

/// What one connection tells every detector.
pub struct ConnFacts<'a> {
    pub c: &'a Connection,
    pub tls: Option<TlsView<'a>>,
    /// The name the client wanted (SNI, CONNECT target, Host, DNS): borrowed from the
    /// connection unless it is a CONNECT target (a copy per connection was most of what the
    /// diagnosis allocated for it).
    pub name: Option<Cow<'a, str>>,
    /// The connection is to an HTTP proxy (CONNECT or absolute-form requests, HTTPS_PROXY, or
    /// a proxy port).
    pub via_proxy: bool,
    pub role: Option<GoRole>,
    /// Set by a detector whose finding holds only if the go command did nothing else between
    /// these two times (see `Candidate::idle_window`).
    pub idle_window: std::cell::Cell<Option<(Timestamp, Timestamp)>>,
}

impl ConnFacts<'_> {
    /// `name`, as a `String` of its own (for a finding's fields).
    pub fn name_owned(&self) -> Option<String> {
        self.name.as_deref().map(str::to_string)
    }
}

/// When successful connections to one name started (the latest) and ended (the last).
#[derive(Debug, Clone, Copy)]
struct OkSpan {
    latest_start: Timestamp,
    last_end: Timestamp,
}

/// Per-name DNS outcome.
#[derive(Debug, Default)]
struct DnsAgg {
    failures: Vec<DnsRecord>,
    answered_ok: bool,
    first_ts: Option<Timestamp>,
    /// The last address answer: its frame, resolver and time.
    last_ok: Option<(u64, SocketAddr, Timestamp)>,
}

/// Turns records into findings.
pub struct Diagnoser {
    settings: GoSettings,
    /// The HTTPS proxy's and the checksum database's hosts, parsed once from `settings`
    /// (`role_of` asks on every connection and DNS answer).
    proxy_host: Option<String>,
    sumdb_host: Option<String>,
    candidates: Vec<Candidate>,
    dropped: u64,
    ttl_by_ip: HashMap<IpAddr, TtlRange>,
    /// Successful connections: name or address -> the latest start time. The only question
    /// asked of them is "did one start at or after t", which the latest answers; keeping every
    /// time made `finish` quadratic and memory grow with the capture.
    /// By name, also when the last one ended: a GOPROXY fall-through fetch may ride a
    /// connection opened before the failure (HTTP/2 reuses it).
    ok_names: HashMap<String, OkSpan>,
    ok_addrs: HashMap<SocketAddr, Timestamp>,
    dns: BTreeMap<String, DnsAgg>,
    /// Names the client connected to (so a DNS failure is the cause only where no connection
    /// to the name followed).
    connected_names: HashSet<String>,
    /// Addresses the client opened TCP connections to (bounded by `MAX_ANSWERS_KEPT`).
    tcp_server_ips: HashSet<IpAddr>,
    go_endpoints: BTreeMap<String, u64>,
    /// Answers to remember for the suspicious-answer check (bounded).
    answers: Vec<dns::AnswerSeen>,
    /// IP TTL of each UDP flow's responses, by connection id (bounded), and per resolver.
    udp_ttl: HashMap<u64, (IpAddr, u8)>,
    /// The same TTLs counted per resolver (TTL -> flows), so the TTL a resolver shows on its
    /// other flows is a walk over at most 256 counts, not over every kept flow (that walk per
    /// DNS answer was the largest cost of `finish` on a large capture).
    resolver_ttls: HashMap<IpAddr, BTreeMap<u8, u32>>,
    /// Leaf certificate key -> names it was presented for.
    leaf_keys: HashMap<String, HashSet<String>>,
    /// The latest packet time seen: how long the capture went on after something.
    last_ts: Timestamp,
    /// New names or addresses not remembered because a map reached `MAX_TRACKED`.
    tracking_dropped: u64,
    /// Warnings kept so far per (kind, severity, target), for `MAX_ALIKE`.
    alike: HashMap<(FindingKind, Severity, String), u64>,
    /// What the capture is missing: a cut last record, exchanges under way at its end.
    gaps: capture::Gaps,
    /// When the latest TCP connection started: a name resolved after it was never dialled
    /// within the capture.
    latest_tcp_start: Option<Timestamp>,
    /// The go command's connections (to Go hosts) with data: id, start, last data while both
    /// sides were open. What it was doing while one of its fetches sat silent
    /// (`Candidate::idle_window`); bounded by `MAX_TRACKED` like the maps above.
    go_spans: Vec<(u64, Timestamp, Timestamp)>,
    /// Module paths a GOPROXY host served (lower-cased host, module path): the answers that
    /// end the go command's lookup of a path's module (`Candidate::lookup`); bounded by
    /// `MAX_TRACKED` like the maps above.
    served: HashSet<(String, String)>,
    /// The connection `on_connection` judged last and `role_of` its server name and port,
    /// when it asked that (see `role_of_connection`).
    last_role: std::cell::Cell<Option<(u64, Option<GoRole>)>>,
    /// The issuer `is_interception_issuer` judged last, and its answer: the certificates a
    /// run refuses mostly come from one issuer (an interception box), and the test walks ~30
    /// fragments over a lower-case copy (1 % of a text run when asked per connection).
    issuer_memo: std::cell::RefCell<(String, bool)>,
}

/// Answers kept for the suspicious-answer check.
const MAX_ANSWERS_KEPT: usize = 4096;
/// Names, addresses and per-name DNS outcomes remembered for the whole run, each map. Beyond
/// it new keys are not remembered (counted in `tracking_dropped`): judgements that need them
/// (a later success, a TTL elsewhere) fall back to "not known", memory stays flat.
const MAX_TRACKED: usize = 65_536;

/// How far inside a silent fetch's window another connection's data must reach to show the
/// go command busy elsewhere (its own requests and answers at the window's edges do not).
const BUSY_MARGIN_SECS: f64 = 1.0;

/// Warnings (and infos) kept per kind and target; the rest are counted in `findings_dropped`.
const MAX_ALIKE: u64 = 8;

/// Whether `k` may be added to (or is already in) a bounded map of length `len`.
fn has_room(len: usize, present: bool) -> bool {
    present || len < MAX_TRACKED
}

impl Diagnoser {
    pub fn new(settings: GoSettings) -> Self {
        Diagnoser {
            proxy_host: settings.proxy_host(),
            sumdb_host: settings.sumdb_host(),
            settings,
            candidates: Vec::new(),
            dropped: 0,
            ttl_by_ip: HashMap::default(),
            ok_names: HashMap::default(),
            ok_addrs: HashMap::default(),
            dns: BTreeMap::new(),
            connected_names: HashSet::default(),
            tcp_server_ips: HashSet::default(),
            go_endpoints: BTreeMap::new(),
            answers: Vec::new(),
            udp_ttl: HashMap::default(),
            resolver_ttls: HashMap::default(),
            leaf_keys: HashMap::default(),
            last_ts: Timestamp::ZERO,
            tracking_dropped: 0,
            alike: HashMap::default(),
            gaps: capture::Gaps::default(),
            latest_tcp_start: None,
            go_spans: Vec::new(),
            served: HashSet::default(),
            last_role: std::cell::Cell::new(None),
            // The empty issuer is not one.
            issuer_memo: std::cell::RefCell::new((String::new(), false)),
        }
    }

    pub fn settings(&self) -> &GoSettings {
        &self.settings
    }

    /// Go endpoints seen (host -> connections), for the summary.
    pub fn go_endpoints(&self) -> &BTreeMap<String, u64> {
        &self.go_endpoints
    }

    /// Findings not kept because of `MAX_FINDINGS`.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// New names or addresses not remembered because a map was full.
    pub fn tracking_dropped(&self) -> u64 {
        self.tracking_dropped
    }

    /// The Go role of a server name under the user's settings.
    pub fn role_of(&self, name: &str, port: u16) -> Option<GoRole> {
        let mut digits = itoa::Buffer::new();
        let port = digits.format(port);
        let is_hostport = |s: &str| is_host_port(s, name, port);
        if self
            .proxy_host
            .as_deref()
            .is_some_and(|p| p == name || is_hostport(p))
        {
            return Some(GoRole::HttpProxy);
        }
        if self
            .sumdb_host
            .as_deref()
            .is_some_and(|h| h == name || is_hostport(h))
        {
            return Some(GoRole::ChecksumDb);
        }
        if self.settings.is_configured_proxy(name).is_some()
            || self.settings.is_configured_proxy_at(name, port)
        {
            return Some(GoRole::ModuleProxy);
        }
        classify_host(name)
    }

    /// `tls::is_interception_issuer`, remembered for the last issuer asked.
    pub fn is_interception_issuer(&self, issuer: &str) -> bool {
        let Ok(mut memo) = self.issuer_memo.try_borrow_mut() else {
            return tls::is_interception_issuer(issuer);
        };
        if memo.0 != issuer {
            memo.1 = tls::is_interception_issuer(issuer);
            memo.0.clear();
            memo.0.push_str(issuer);
        }
        memo.1
    }

    /// `role_of` the connection's server name and port, for the printer, which asks it of
    /// the connection `on_connection` has just judged: that answer is reused, not computed
    /// again (three lists of hosts walked per connection).
    pub fn role_of_connection(&self, c: &Connection) -> Option<GoRole> {
        let name = c.server_name.as_deref()?;
        match self.last_role.get() {
            Some((id, role)) if id == c.id => role,
            _ => self.role_of(name, c.server.port()),
        }
    }

    /// Whether `push` will drop a finding of this kind and severity about connection `c`
    /// (its target named `name`): past `MAX_FINDINGS`, or a warning already kept `MAX_ALIKE`
    /// times for that target. A detector then hands over `Finding::counted_only` instead of
    /// writing its texts (an interception box that every connection crosses made ~5,000 such
    /// findings, each built with its summary, remedy and evidence, on a quarter of the
    /// benchmark corpus, to be dropped).
    pub fn will_drop(
        &self,
        c: &Connection,
        name: Option<&str>,
        kind: FindingKind,
        severity: Severity,
    ) -> bool {
        if self.candidates.len() >= MAX_FINDINGS {
            return true;
        }
        if severity >= Severity::Error {
            return false;
        }
        let target = name.map_or_else(|| c.server.ip().to_string(), str::to_string);
        self.alike
            .get(&(kind, severity, target))
            .is_some_and(|n| *n >= MAX_ALIKE)
    }

    fn push(&mut self, c: Option<&Connection>, name: Option<String>, finding: Finding, soft: bool) {
        if self.candidates.len() >= MAX_FINDINGS {
            self.dropped += 1;
            return;
        }
        // The same warning about the same target on every connection says nothing new after
        // the first few (a trusted interception box sees every connection): count the rest.
        // Errors are all kept: the verdict and the GOPROXY fall-through need each of them.
        if finding.severity < Severity::Error {
            let target = name
                .clone()
                .or_else(|| c.map(|c| c.server.ip().to_string()))
                .unwrap_or_default();
            let key = (finding.kind, finding.severity, target);
            let present = self.alike.contains_key(&key);
            if has_room(self.alike.len(), present) {
                let n = self.alike.entry(key).or_insert(0);
                *n += 1;
                if *n > MAX_ALIKE {
                    self.dropped += 1;
                    return;
                }
            }
        }
        let ts = finding.evidence.first().map_or(Timestamp::ZERO, |e| e.ts);
        self.candidates.push(Candidate {
            finding,
            name,
            addr: c.map(|c| c.server),
            ts,
            soft,
            idle_window: None,
            lookup: None,
        });
    }

    /// Judges one finished connection; returns how many findings it produced.
    pub fn on_connection(&mut self, c: &Connection) -> usize {
        self.last_ts = self.last_ts.max(c.ts_last);
        if c.transport == Transport::Udp {
            if let Some(min) = c.server_stats.ttl_min {
                self.note_ttl(c.server.ip(), min, c.server_stats.ttl_max.unwrap_or(min));
                if c.server.port() == 53 && self.udp_ttl.len() < MAX_ANSWERS_KEPT * 4 {
                    let entry = (c.server.ip(), c.server_stats.ttl_max.unwrap_or(min));
                    if let Some(old) = self.udp_ttl.insert(c.id, entry) {
                        self.forget_resolver_ttl(old);
                    }
                    *self
                        .resolver_ttls
                        .entry(entry.0)
                        .or_default()
                        .entry(entry.1)
                        .or_insert(0) += 1;
                }
            }
            return 0;
        }
        self.latest_tcp_start = self.latest_tcp_start.max(Some(c.ts_first));
        if self.tcp_server_ips.len() < MAX_ANSWERS_KEPT {
            self.tcp_server_ips.insert(c.server.ip());
        }
        let tls = c.tls.as_deref().map(TlsView::from_info);
        let name = c.server_name.as_deref();
        let via_proxy = proxy::is_proxy_connection(c, &self.settings);
        let role = match &name {
            Some(n) if via_proxy => {
                let _ = n;
                Some(GoRole::HttpProxy)
            }
            Some(n) => self.role_of(n, c.server.port()),
            None if via_proxy => Some(GoRole::HttpProxy),
            None => None,
        };
        // The printer asks the same of this connection next (`role_of_connection`).
        self.last_role.set(match name {
            Some(_) if !via_proxy => Some((c.id, role)),
            _ => None,
        });
        // The CONNECT target names the real server; the TCP peer is the proxy.
        let target = proxy::connect_target(c)
            .map(Cow::Owned)
            .or(name.map(Cow::Borrowed));
        let facts = ConnFacts {
            c,
            tls,
            name: target,
            via_proxy,
            role,
            idle_window: std::cell::Cell::new(None),
        };
        // The target's name in lower case, computed once for the maps below; borrowed when it
        // is lower case already (nearly always), so a repeated name costs no copy.
        let lower: Option<Cow<'_, str>> = facts.name.as_deref().map(|n| {
            if n.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(n.to_ascii_lowercase())
            } else {
                Cow::Borrowed(n)
            }
        });
        // The maps below copy a name only when it is new to them (most connections repeat
        // a name already seen).
        if let (Some(n), Some(lower)) = (&facts.name, &lower) {
            if !self.connected_names.contains(lower.as_ref()) {
                if has_room(self.connected_names.len(), false) {
                    self.connected_names.insert(lower.to_string());
                } else {
                    self.tracking_dropped += 1;
                }
            }
            // `role` covers `classify_host(n)`: without a proxy `n` is the server name
            // `role_of` classified; through one `role` is set.
            if role.is_some() {
                if let Some(count) = self.go_endpoints.get_mut(n.as_ref()) {
                    *count += 1;
                } else if has_room(self.go_endpoints.len(), false) {
                    self.go_endpoints.insert(n.to_string(), 1);
                }
            }
        }
        if let Some(min) = c.server_stats.ttl_min {
            self.note_ttl(c.server.ip(), min, c.server_stats.ttl_max.unwrap_or(min));
        }
        if let (Some(t), Some(lower)) = (&facts.tls, &lower)
            && let Some(leaf) = t.certificates.first()
            && !leaf.spki_sha256.is_empty()
            && self.leaf_keys.len() < MAX_ANSWERS_KEPT
        {
            match self.leaf_keys.get_mut(leaf.spki_sha256) {
                Some(names) => {
                    if !names.contains(lower.as_ref()) {
                        names.insert(lower.to_string());
                    }
                }
                None => {
                    self.leaf_keys.insert(
                        leaf.spki_sha256.to_string(),
                        HashSet::from_iter([lower.to_string()]),
                    );
                }
            }
        }
        let before = self.candidates.len();
        let mut found = Vec::new();
        if !connect::detect(&facts, self, &mut found)
            && !proxy::detect(&facts, self, &mut found)
            && !tls::detect(&facts, self, &mut found)
        {
            http::detect(&facts, self, &mut found);
            transfer::detect(&facts, self, &mut found);
        }
        // An error explains the connection's end; anything less leaves it open to question.
        if found.iter().all(|(f, _)| f.severity < Severity::Error)
            && let Some(u) = capture::unfinished(&facts)
        {
            self.gaps.add(u);
        }
        if let Some(u) = capture::snap_cut(&facts) {
            self.gaps.add_snap_cut(u);
        }
        let mut failed = false;
        let first_pushed = self.candidates.len();
        for (f, soft) in found {
            failed |= f.severity == Severity::Error;
            self.push(Some(c), facts.name_owned(), f, soft);
        }
        // Which module paths this host served or refused: a refusal of a path's prefix while a
        // longer path was served is the go command looking for the module (settled in `finish`).
        if !c.http.is_empty()
            && let Some(host) = facts.name.as_deref().map(str::to_ascii_lowercase)
        {
            for tx in &c.http {
                let (Some(status), Some(uri)) = (tx.status, tx.uri.as_deref()) else {
                    continue;
                };
                let Some(module) = crate::go::paths::parse(uri).and_then(|g| g.module) else {
                    continue;
                };
                if status < 400 {
                    let key = (host.clone(), module);
                    let present = self.served.contains(&key);
                    if has_room(self.served.len(), present) {
                        self.served.insert(key);
                    } else {
                        self.tracking_dropped += 1;
                    }
                } else if status == 404 || status == 410 {
                    for cand in &mut self.candidates[first_pushed..] {
                        if cand.finding.kind == FindingKind::HttpNotFound
                            && cand.finding.evidence.first().map(|e| e.packet) == tx.request_frame()
                        {
                            cand.lookup = Some((host.clone(), module.clone()));
                        }
                    }
                }
            }
        }
        if let Some((from, to)) = facts.idle_window.get() {
            for cand in &mut self.candidates[first_pushed..] {
                if cand.finding.kind == FindingKind::TransferStall {
                    cand.idle_window = Some((from, to, c.id));
                }
            }
        }
        // `role` is the connection's Go role (`role_of` knows the public Go hosts too).
        if facts.role.is_some() {
            let last = [
                c.client_stats.last_data_ts,
                c.server_stats.last_data_while_peer_open.map(|(_, ts)| ts),
            ]
            .into_iter()
            .flatten()
            .max();
            if let Some(last) = last {
                if has_room(self.go_spans.len(), false) {
                    self.go_spans.push((c.id, c.ts_first, last));
                } else {
                    self.tracking_dropped += 1;
                }
            }
        }
        if !failed && succeeded(&facts) {
            if let Some(lower) = lower {
                if let Some(span) = self.ok_names.get_mut(lower.as_ref()) {
                    span.latest_start = span.latest_start.max(c.ts_first);
                    span.last_end = span.last_end.max(c.ts_last);
                } else if has_room(self.ok_names.len(), false) {
                    let span = OkSpan {
                        latest_start: c.ts_first,
                        last_end: c.ts_last,
                    };
                    self.ok_names.insert(lower.into_owned(), span);
                } else {
                    self.tracking_dropped += 1;
                }
            }
            if has_room(self.ok_addrs.len(), self.ok_addrs.contains_key(&c.server)) {
                let t = self.ok_addrs.entry(c.server).or_insert(c.ts_first);
                *t = (*t).max(c.ts_first);
            } else {
                self.tracking_dropped += 1;
            }
        }
        self.candidates.len() - before
    }

    fn note_ttl(&mut self, ip: IpAddr, min: u8, max: u8) {
        use std::collections::hash_map::Entry;
        // One probe: it is asked for every connection.
        let len = self.ttl_by_ip.len();
        match self.ttl_by_ip.entry(ip) {
            Entry::Occupied(mut o) => {
                let e = o.get_mut();
                e.min = e.min.min(min);
                e.max = e.max.max(max);
            }
            Entry::Vacant(v) if has_room(len, false) => {
                v.insert(TtlRange { min, max });
            }
            Entry::Vacant(_) => self.tracking_dropped += 1,
        }
    }

    /// The reader stopped before the end of the input (a record cut short, damage): `why` in
    /// its words, `last_frame` the last frame it delivered (and its time, when it was a
    /// packet).
    pub fn note_capture_cut(&mut self, why: String, last_frame: u64, last_ts: Option<Timestamp>) {
        if self.gaps.cut.is_none() {
            self.gaps.cut = Some((why, last_frame, last_ts));
        }
    }

    /// Reading stopped before the input's end (a signal), after `last_frame`.
    pub fn note_read_stopped(&mut self, why: String, last_frame: u64) {
        self.gaps.stopped.get_or_insert((why, last_frame));
    }

    /// The input held not one packet.
    pub fn note_no_packets(&mut self) {
        self.gaps.no_packets = true;
    }

    /// The IP TTL of the responses on one UDP flow.
    pub fn dns_response_ttl(&self, conn_id: u64) -> Option<u8> {
        self.udp_ttl.get(&conn_id).map(|(_, t)| *t)
    }

    /// The TTLs a resolver's responses show on its other flows.
    pub fn resolver_ttl_excluding(&self, ip: IpAddr, conn_id: u64) -> Option<TtlRange> {
        let counts = self.resolver_ttls.get(&ip)?;
        // The excluded flow's own TTL, if it is one of this resolver's kept flows.
        let own = self
            .udp_ttl
            .get(&conn_id)
            .filter(|(addr, _)| *addr == ip)
            .map(|(_, t)| *t);
        let mut present = counts
            .iter()
            .filter(|(ttl, n)| **n > u32::from(own == Some(**ttl)))
            .map(|(ttl, _)| *ttl);
        let min = present.next()?;
        let max = present.next_back().unwrap_or(min);
        Some(TtlRange { min, max })
    }

    fn forget_resolver_ttl(&mut self, (ip, ttl): (IpAddr, u8)) {
        if let Some(n) = self
            .resolver_ttls
            .get_mut(&ip)
            .and_then(|m| m.get_mut(&ttl))
        {
            *n = n.saturating_sub(1);
        }
    }

    /// The names one leaf key was presented for: an intercepting proxy that mints
    /// certificates on the fly often reuses one key for every name.
    pub fn names_for_leaf_key(&self, spki: &str) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .leaf_keys
            .get(spki)
            .map(|s| s.iter().map(String::as_str).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// How long the capture went on after `ts`.
    /// The capture went on at least until `ts` (packets no decoder reported on count too).
    pub fn saw_time(&mut self, ts: Timestamp) {
        self.last_ts = self.last_ts.max(ts);
    }

    /// The client opened a TCP connection to this address.
    pub fn dialled(&self, ip: IpAddr) -> bool {
        self.tcp_server_ips.contains(&ip)
    }

    /// A connection to this address did its job (data back, not cut off).
    pub fn served_from(&self, ip: IpAddr) -> bool {
        self.ok_addrs.keys().any(|a| a.ip() == ip)
    }

    /// The latest packet time seen: the capture's end, once it is read.
    pub fn capture_end(&self) -> Timestamp {
        self.last_ts
    }

    pub fn seen_after(&self, ts: Timestamp) -> f64 {
        self.last_ts.since(ts).as_secs_f64()
    }

    pub fn ttl_elsewhere(&self, ip: IpAddr) -> Option<TtlRange> {
        self.ttl_by_ip.get(&ip).copied()
    }

    /// Records one DNS query/response.
    pub fn on_dns(&mut self, r: &DnsRecord) {
        self.last_ts = self.last_ts.max(r.ts());
        let Some(name) = r.qname.as_deref() else {
            return;
        };
        // Names are nearly always lower case already, and nearly always seen before: a new
        // String only when it has to be lowered or kept (one per DNS record otherwise).
        let lowered;
        let q = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = name.to_ascii_lowercase();
            lowered.as_str()
        } else {
            name
        };
        // One search of the map for a name seen before (its string compares were most of
        // this function's cost).
        let len = self.dns.len();
        let agg = match self.dns.get_mut(q) {
            Some(agg) => agg,
            None if has_room(len, false) => self.dns.entry(q.to_owned()).or_default(),
            None => {
                self.tracking_dropped += 1;
                return;
            }
        };
        if agg.first_ts.is_none() {
            agg.first_ts = Some(r.ts());
        }
        if dns::is_failure(r) {
            if agg.failures.len() < 32 {
                agg.failures.push(r.clone());
            }
        } else if r.rcode.as_deref() == Some("NOERROR") && r.has_address_answer() {
            agg.answered_ok = true;
            let at = r.rtt.map_or(r.ts(), |d| r.ts().saturating_add(d));
            agg.last_ok = Some((r.response_frame.unwrap_or(0), r.server, at));
            if self.answers.len() < MAX_ANSWERS_KEPT {
                self.answers.push(dns::AnswerSeen {
                    rec: r.clone(),
                    addrs: r.answer_addresses().collect(),
                });
            }
        }
    }

    /// Settles everything that needs the whole capture and returns the findings, ordered by
    /// cause: DNS first, then connect, proxy, TLS, HTTP, transfer; by first frame within.
    pub fn finish(&mut self) -> Vec<Finding> {
        // A silent fetch counts as a stall only if the go command was not busy with another
        // connection meanwhile (an idle keep-alive connection is silent too).
        let spans = std::mem::take(&mut self.go_spans);
        self.candidates.retain(|cand| {
            let Some((from, to, id)) = cand.idle_window else {
                return true;
            };
            !spans.iter().any(|&(other, start, last)| {
                other != id
                    && to.since(start).as_secs_f64() > BUSY_MARGIN_SECS
                    && last.since(from).as_secs_f64() > BUSY_MARGIN_SECS
            })
        });
        // Tampered answers first: a name whose answer pointed the client elsewhere (a
        // sinkhole on the loopback) was dialled where an interface capture cannot see it.
        let answers = std::mem::take(&mut self.answers);
        let tampered = dns::suspicious(&answers, self);
        let misled: HashSet<String> = tampered
            .iter()
            .filter(|(f, _)| f.severity == Severity::Error)
            .filter_map(|(f, _)| f.server_name.as_ref().map(|n| n.to_ascii_lowercase()))
            .collect();
        // Addresses a forged answer sent the client to, with the name it asked for.
        let misdirected: HashMap<IpAddr, String> = tampered
            .iter()
            .flat_map(|(f, ips)| {
                let name = f.server_name.clone().unwrap_or_default();
                ips.iter().map(move |ip| (*ip, name.clone()))
            })
            .collect();
        let tampered: Vec<Finding> = tampered.into_iter().map(|(f, _)| f).collect();
        let dns_aggs = std::mem::take(&mut self.dns);
        let resolved: HashSet<String> = dns_aggs
            .iter()
            .filter(|(_, a)| a.answered_ok)
            .map(|(n, _)| n.clone())
            .collect();
        for (name, agg) in dns_aggs {
            // "name.search.domain" failing after "name" resolved is the resolver's search list
            // at work, not a failure. Looked up by each prefix that ends before a dot: one
            // scan of the name, not one of every resolved name (tens of thousands of tracked
            // names each compared with all the others took seconds).
            let search_listed = name
                .match_indices('.')
                .any(|(i, _)| name.get(..i).is_some_and(|p| resolved.contains(p)));
            if search_listed {
                continue;
            }
            let connected = self.connected_names.contains(&name);
            // The go command dials as soon as a name resolves: a Go host resolved after the
            // last connection started, and never dialled, was about to be when the capture
            // stopped.
            if let Some((frame, resolver, at)) = agg.last_ok
                && !connected
                && !misled.contains(&name)
                && frame > 0
                && self.latest_tcp_start.is_none_or(|t| t < at)
                && self.role_of(&name, 443).is_some()
            {
                self.gaps.add(capture::Unfinished {
                    conn: None,
                    name: Some(name.clone()),
                    server: Some(resolver.to_string()),
                    target: name.clone(),
                    what: "resolved, the connection that follows is not in the capture".into(),
                    frame,
                    ts: Some(at),
                });
            }
            if let Some(f) = dns::judge(&name, &agg.failures, agg.answered_ok, connected, self) {
                self.push(None, Some(name), f, false);
            } else if !agg.answered_ok
                && !connected
                && let Some(q) = dns::unanswered_at_end(&agg.failures)
            {
                // Asked, not answered, and too close to the end to call it a timeout.
                self.gaps.add(capture::Unfinished {
                    conn: Some(q.id as u64),
                    name: Some(name.clone()),
                    server: Some(q.server.to_string()),
                    target: name.clone(),
                    what: format!(
                        "DNS {} query not answered yet",
                        q.qtype.as_deref().unwrap_or("?")
                    ),
                    frame: q.query_frame.unwrap_or(0),
                    ts: Some(q.ts()),
                });
            }
        }
        for f in tampered {
            let name = f.server_name.clone();
            self.push(None, name, f, false);
        }
        if let Some(f) = self.gaps.finding() {
            self.push(None, None, f, false);
        }
        let mut out = Vec::new();
        // What the go command printed for a fetch a forged answer misdirected: the DNS
        // finding's to quote.
        let mut misdirected_errors: HashMap<String, String> = HashMap::default();
        for mut cand in std::mem::take(&mut self.candidates) {
            // A connection to where a forged answer pointed fails as a consequence: the DNS
            // finding is the cause, this one its evidence.
            if cand.finding.severity == Severity::Error
                && matches!(cand.finding.stage, Stage::Connect | Stage::Tls)
                && let Some(addr) = cand.addr
                && let Some(name) = misdirected.get(&addr.ip())
            {
                cand.finding.severity = Severity::Warning;
                cand.finding.summary.push_str(&format!(
                    " {} is where a forged DNS answer for {name} sent the client: it should never have dialled it (see the DNS finding).",
                    addr.ip()
                ));
                if let Some(e) = &cand.finding.likely_go_error {
                    misdirected_errors.insert(name.clone(), e.clone());
                }
                out.push(cand.finding);
                continue;
            }
            // The go command asks a GOPROXY for each prefix of a package path (`go get`,
            // `go install`, `go run` of path@version) to find the module that holds it: the
            // prefixes' 404/410 are how that lookup works when a longer path was served.
            if cand.finding.kind == FindingKind::HttpNotFound
                && let Some((host, module)) = &cand.lookup
                && let Some((_, longer)) = self.served.iter().find(|(h, m)| {
                    h == host
                        && m.strip_prefix(module.as_str())
                            .is_some_and(|rest| rest.starts_with('/'))
                })
            {
                cand.finding.severity = Severity::Info;
                cand.finding.remedy = None;
                cand.finding.likely_go_error = None;
                cand.finding.summary.push_str(&format!(
                    " The go command was looking for the module that holds a longer path: it asks for each of its prefixes, and {host} served {longer}."
                ));
                out.push(cand.finding);
                continue;
            }
            if cand.finding.severity == Severity::Error
                && !(cand.soft && self.later_success(&cand))
                && let Some(next) = self.fell_through_after_error(&cand)
            {
                let host = cand.name.clone().unwrap_or_default();
                cand.finding.severity = Severity::Warning;
                cand.finding.summary.push_str(&next.why);
                if let Some(r) = &mut cand.finding.remedy {
                    // Another module proxy is what the list already has.
                    let role = cand.addr.and_then(|a| self.role_of(&host, a.port()));
                    let alt = remedy::alternative(role, cand.name.as_deref());
                    *r = r.replace(&alt, "").trim_end().to_string();
                    r.push_str(&format!(
                        " The go command got past it through the next GOPROXY entry ({}), but every fetch waits for this failure first: fix {host} or take it out of GOPROXY.",
                        next.host
                    ));
                }
            } else if cand.soft && cand.finding.severity == Severity::Error {
                if self.later_success(&cand) {
                    cand.finding.severity = Severity::Warning;
                    let same_addr = cand
                        .addr
                        .and_then(|a| self.ok_addrs.get(&a))
                        .is_some_and(|t| *t >= cand.ts);
                    cand.finding.summary.push_str(if same_addr {
                        " A later attempt to the same server succeeded, so the go command recovered."
                    } else {
                        " A later connection to the same name at another of its addresses succeeded (the go command tries a name's addresses in turn, IPv4 and IPv6 alike), so it recovered."
                    });
                } else if cand.finding.kind == FindingKind::HttpNotFound
                    && let Some(next) = self.later_module_source(&cand)
                {
                    // GOPROXY lists: 404/410 falls through on ',' and '|' alike (the normal
                    // way a list works). Other errors fall through only on '|', which a
                    // capture can't show; they stay errors.
                    cand.finding.severity = Severity::Info;
                    // Working as designed: nothing to do.
                    cand.finding.remedy = None;
                    cand.finding.summary.push_str(&format!(
                        " The go command then fetched from {next}: the GOPROXY list fell through as designed."
                    ));
                }
            }
            out.push(cand.finding);
        }
        for f in &mut out {
            if f.kind == FindingKind::DnsSuspiciousAnswer
                && f.severity == Severity::Error
                && let Some(e) = f
                    .server_name
                    .as_ref()
                    .and_then(|n| misdirected_errors.get(n))
            {
                f.likely_go_error = Some(e.clone());
            }
            f.evidence.sort_by_key(|e| e.packet);
        }
        out.sort_by_key(|f| (f.stage, f.first_frame()));
        out
    }

    /// Another module source (a module proxy or a direct VCS host, not the one that failed)
    /// that served the client after the failure: the next GOPROXY entry.
    fn later_module_source(&self, cand: &Candidate) -> Option<String> {
        let failed = cand.name.as_ref().map(|n| n.to_ascii_lowercase());
        let mut next: Vec<&String> = self
            .ok_names
            .iter()
            .filter(|(n, span)| Some(*n) != failed.as_ref() && span.last_end >= cand.ts)
            .filter(|(n, _)| {
                matches!(
                    self.role_of(n, 443),
                    Some(GoRole::ModuleProxy | GoRole::Vcs)
                )
            })
            .map(|(n, _)| n)
            .collect();
        next.sort();
        next.first().map(|n| (*n).clone())
    }

    /// A GOPROXY entry's failure that the go command got past: another module source served
    /// the client after it. `|` falls through to the next entry on any error, `,` only on
    /// 404 or 410 (which is `later_module_source`'s case), so after a failure below HTTP
    /// (refused, reset, stalled, a certificate refused) another module proxy answering means
    /// the entry was followed by `|`. Where the user's GOPROXY is known, it decides; where it
    /// is not, only another module proxy counts: a VCS host fetched directly may be serving
    /// GOPRIVATE modules while the failed proxy's modules stayed failed.
    fn fell_through_after_error(&self, cand: &Candidate) -> Option<FellThrough> {
        // A proxy's failure is on every fetch's path, whatever GOPROXY lists.
        if matches!(cand.finding.stage, Stage::Dns | Stage::Proxy)
            || cand.finding.actor == Actor::Proxy
            || cand.finding.kind == FindingKind::HttpNotFound
        {
            return None;
        }
        let addr = cand.addr?;
        let failed = cand.name.as_ref()?.to_ascii_lowercase();
        if !matches!(
            self.role_of(&failed, addr.port()),
            None | Some(GoRole::ModuleProxy)
        ) {
            return None;
        }
        // The list as the user gave it; the built-in default is what modsniff assumes when
        // told nothing, so it says nothing about how this run's list was separated.
        let stated = (self.settings.goproxy != GoSettings::default().goproxy)
            .then(|| {
                self.settings
                    .is_configured_proxy(&failed)
                    .map(|i| self.settings.goproxy[i].fallback)
            })
            .flatten();
        let sources: &[GoRole] = match stated {
            Some(Fallback::OnAnyError) => &[GoRole::ModuleProxy, GoRole::Vcs],
            Some(_) => return None,
            None => &[GoRole::ModuleProxy],
        };
        let mut next: Vec<&String> = self
            .ok_names
            .iter()
            .filter(|(n, span)| **n != failed && span.last_end >= cand.ts)
            .filter(|(n, _)| self.role_of(n, 443).is_some_and(|r| sources.contains(&r)))
            .map(|(n, _)| n)
            .collect();
        next.sort();
        let host = (*next.first()?).clone();
        let why = if stated.is_some() {
            format!(
                " GOPROXY follows {failed} with '|', which falls through on any error: the go command went on to {host}, which served it, so it recovered."
            )
        } else {
            format!(
                " After it the go command fetched from {host}, another module proxy, and that worked: a GOPROXY list falls through after such an error only where '|' follows the entry (',' falls through on 404 and 410 alone), so the go command recovered."
            )
        };
        Some(FellThrough { host, why })
    }

    fn later_success(&self, cand: &Candidate) -> bool {
        let after = |latest: &Timestamp| *latest >= cand.ts;
        cand.name
            .as_ref()
            .and_then(|n| self.ok_names.get(&n.to_ascii_lowercase()))
            .is_some_and(|span| after(&span.latest_start))
            || cand
                .addr
                .and_then(|a| self.ok_addrs.get(&a))
                .is_some_and(after)
    }
}

/// The next GOPROXY entry that served the client after a failure, and the sentence saying so.
struct FellThrough {
    host: String,
    why: String,
}

/// A connection that did its job: data came back from the server and it wasn't cut off by the
/// server.
fn succeeded(f: &ConnFacts<'_>) -> bool {
    let c = f.c;
    let server_reset = c
        .resets
        .iter()
        .any(|r| r.from == modsniff_core::Side::Server);
    if server_reset || c.server_stats.bytes == 0 {
        return false;
    }
    if let Some(t) = &f.tls {
        return t.server_hello.is_some()
            && t.client_encrypted_records >= 1
            && t.alerts.iter().all(|a| a.encrypted);
    }
    c.http.iter().all(|h| h.status.is_none_or(|s| s < 400))
}

/// Evidence helper.
pub fn ev(packet: u64, ts: Option<Timestamp>, note: impl Into<String>) -> Evidence {
    Evidence {
        packet,
        ts: ts.unwrap_or(Timestamp::ZERO),
        note: note.into(),
    }
}

/// `ip:port` as the go command prints it (IPv6 in brackets).
pub fn addr(a: SocketAddr) -> String {
    a.to_string()
}

/// Remedies shared by several detectors.
pub mod remedy {
    pub const MIRROR: &str = "If your company runs a module proxy (Athens, Artifactory, Nexus), point GOPROXY at it; a public mirror (GOPROXY=https://goproxy.cn,direct, or https://goproxy.io) is another option.";
    pub const NETWORK_TEAM: &str = "Ask the network team to allow it, quoting the evidence frames.";
    pub const PRIVATE: &str = "For private modules set GOPRIVATE (and GONOSUMDB) so the go command fetches them directly.";
    pub const SUMDB: &str = "Use the checksum database's other host: GOSUMDB=sum.golang.google.cn (the same database), or a GOPROXY mirror that proxies it (GOPROXY=https://goproxy.cn,direct); for private modules, GONOSUMDB.";

    /// Where else to get it, by what the unreachable host is: the checksum database's other
    /// host; for a public module proxy, the company's own or another public one; for a host
    /// of the user's own (a company module proxy), a public one after it in GOPROXY.
    pub fn alternative(role: Option<crate::go::hosts::GoRole>, name: Option<&str>) -> String {
        use crate::go::hosts::GoRole;
        match (role, name) {
            (Some(GoRole::ChecksumDb), _) => SUMDB.to_string(),
            (None | Some(GoRole::ModuleProxy), Some(n))
                if crate::go::classify_host(n).is_none()
                    && n.parse::<std::net::IpAddr>().is_err() =>
            {
                format!(
                    "While {n} fails, a public module proxy listed after it keeps public modules coming: GOPROXY=\"<{n}'s URL>|https://proxy.golang.org\" ('|' falls through on any error; private modules still need {n})."
                )
            }
            _ => MIRROR.to_string(),
        }
    }
}

impl Diagnoser {
    /// The last `n` findings produced (for printing them as they happen).
    pub fn recent(&self, n: usize) -> impl Iterator<Item = &Finding> {
        let start = self.candidates.len().saturating_sub(n);
        self.candidates
            .get(start..)
            .unwrap_or(&[])
            .iter()
            // One that waits for the end of the capture is not known yet.
            .filter(|c| c.idle_window.is_none())
            .map(|c| &c.finding)
    }
}

/// A connection gone silent while still open, reported by `live` while it happens.
pub fn stall_finding(s: &modsniff_core::Stall) -> Finding {
    let target = addr(s.server);
    Finding {
        stage: Stage::Transfer,
        kind: FindingKind::TransferStall,
        severity: Severity::Warning,
        actor: Actor::Unknown,
        connection: Some(s.conn_id),
        server_name: s.server_name.clone(),
        server: Some(target.clone()),
        summary: format!(
            "The connection to {target} has been silent for {:.0} s while still open (last packet: frame {}); if the go command is waiting on it, it hangs.",
            s.idle.as_secs_f64(),
            s.last_frame
        ),
        likely_go_error: None,
        remedy: None,
        evidence: vec![ev(s.last_frame, Some(s.since), "last packet")],
    }
}

#[cfg(test)]
mod tests;
