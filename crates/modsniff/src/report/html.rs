//! `--format html` (or `--html FILE` beside another format): the report as one
//! self-contained page, for people who were not at the terminal.
//!
//! Top to bottom: the verdict and one line per failing target; each finding (what, who, the
//! go error, the frames, the remedy); a timeline per connection, from DNS to the end, with
//! each finding drawn where it happens; the connections by server; every connection in a
//! sortable table; the frames the findings cite. CSS, JavaScript and SVG are inline and the
//! page fetches nothing (its Content-Security-Policy forbids it, and lets run only its own two
//! scripts, by hash).
//!
//! Everything from the wire (names, URIs, certificate fields, the diagnosis' sentences that
//! quote them) goes through [`esc`]. No wire data reaches the scripts other than as escaped
//! attribute or text content that they read from the DOM.
//!
//! The page is bounded whatever the capture: timelines for at most [`MAX_TIMELINES`]
//! connections (those with findings first), [`MAX_TABLE_ROWS`] rows of connections (those
//! with findings first, then the ones that look failed), [`MAX_GROUPS`] servers, and
//! [`MAX_FINDING_CARDS`] findings in full; each cut says what it left out and where to find
//! it (`--format ndjson`). A 10,000-connection capture makes a page of a few hundred KB.

use super::{Printer, Reported, RunEnd};
use crate::analyze::GoInfo;
use crate::diagnose::{Finding, FindingKind, Severity, Stage};
use modsniff_core::dns::DnsRecord;
use modsniff_core::{Connection, Timestamp};
use modsniff_core::{Side, Transport};
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;

/// Connections drawn as timelines per run.
pub const MAX_TIMELINES: usize = 40;
/// Rows of the connection table per run.
pub const MAX_TABLE_ROWS: usize = 1_000;
/// Servers in the by-server table (the rest are summed in one row).
pub const MAX_GROUPS: usize = 500;
/// Findings shown in full per run (the verdict's lines still count them all).
pub const MAX_FINDING_CARDS: usize = 200;
/// Connections whose details are kept for the timelines and the table, per run: those that
/// look failed or are the go command's; of the others, [`MAX_CLEAN_KEPT`].
pub const MAX_KEPT: usize = 20_000;
pub const MAX_CLEAN_KEPT: usize = 1_000;
/// DNS queries kept for the timelines, per run.
pub const MAX_DNS_KEPT: usize = 20_000;
/// Events drawn on one timeline (HTTP transactions beyond are counted, not drawn).
const MAX_EVENTS: usize = 60;
/// Characters of a URI or name drawn on a timeline.
const LABEL_CHARS: usize = 48;
/// A silence this long between two things on a timeline is drawn as one.
const SILENCE_MIN_SECS: f64 = 0.5;

const STYLE: &str = include_str!("html/style.css");
/// Records script errors and blocked content into the page (a reader, and the tests, see
/// them); runs first, so that it sees the other script fail.
const GUARD_JS: &str = include_str!("html/guard.js");
const REPORT_JS: &str = include_str!("html/report.js");

/// A run's end as the page reads it: the findings themselves beside what go said of each
/// (`reported[j]` is `findings[j]`'s).
struct End<'a> {
    run: &'a RunEnd<'a>,
    findings: Vec<&'a Finding>,
    reported: &'a [&'a Reported],
}

impl<'a> End<'a> {
    fn new(run: &'a RunEnd<'a>) -> End<'a> {
        End {
            run,
            findings: run.findings.iter().map(|r| &r.finding).collect(),
            reported: run.findings,
        }
    }
}

/// Text made safe for HTML text and for double- or single-quoted attribute values. Control
/// characters and bidirectional overrides (which could make a hostile name read as another)
/// are shown as `\u{..}`.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            '\n' | '\t' => o.push(c),
            c if c.is_control()
                || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                let _ = write!(o, "\\u{{{:x}}}", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

/// At most `n` characters of `s`, with an ellipsis when cut.
fn cut(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

fn secs(ts: Timestamp) -> f64 {
    ts.as_nanos() as f64 / 1e9
}

/// A duration for people: `850 µs`, `12.3 ms`, `4.20 s`.
fn human_dur(d: f64) -> String {
    if d < 0.001 {
        format!("{:.0} µs", d * 1e6)
    } else if d < 1.0 {
        format!("{:.1} ms", d * 1e3)
    } else {
        format!("{d:.2} s")
    }
}

fn stage_word(s: Stage) -> &'static str {
    match s {
        Stage::Dns => "dns",
        Stage::Connect => "connect",
        Stage::Proxy => "proxy",
        Stage::Tls => "tls",
        Stage::Http => "http",
        Stage::Transfer => "transfer",
        Stage::Capture => "capture",
        Stage::Go => "go",
    }
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

fn lower_debug(v: impl std::fmt::Debug) -> String {
    format!("{v:?}").to_lowercase()
}

/// Which side of a connection a thing on its timeline comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lane {
    Client,
    Server,
}

/// Something that happened on a connection: a packet that matters.
#[derive(Clone)]
struct Event {
    ts: Timestamp,
    lane: Lane,
    label: String,
    frame: Option<u64>,
    /// CSS class: `syn`, `tls`, `http`, `data`, `fin`, `rst`, `icmp`, `alert`, `dns`.
    class: &'static str,
}

/// A stage of a connection, from when it began to when it ended.
#[derive(Clone)]
struct Band {
    from: Timestamp,
    to: Timestamp,
    label: &'static str,
    class: &'static str,
}

/// What the page keeps of a connection.
struct ConnView {
    id: u64,
    tcp: bool,
    client: String,
    server: String,
    server_ip: IpAddr,
    name: Option<String>,
    state: &'static str,
    history: String,
    bytes: (u64, u64),
    retransmissions: (u64, u64),
    first: Timestamp,
    last: Timestamp,
    events: Vec<Event>,
    bands: Vec<Band>,
    /// HTTP transactions not drawn (beyond the event bound).
    more_http: usize,
    /// What the connection carried, for the table: `TLS proxy.golang.org`, `GET /x 404`.
    what: String,
}

/// What the page keeps of a DNS query.
struct DnsView {
    id: u16,
    qname: String,
    qtype: String,
    ts: Timestamp,
    answered: Option<Timestamp>,
    rcode: Option<String>,
    answers: Vec<IpAddr>,
    frames: (Option<u64>, Option<u64>),
}

/// A server and its connections.
#[derive(Default)]
struct Group {
    addrs: Vec<String>,
    connections: u64,
    tcp: u64,
    states: FxHashMap<&'static str, u64>,
    bytes: (u64, u64),
    ids: Vec<u64>,
}

/// Addresses listed per server group, and connection ids remembered per group (to count
/// the group's connections with findings).
const GROUP_ADDRS: usize = 4;
const GROUP_IDS: usize = 4_096;

/// One run's gathered data.
#[derive(Default)]
struct RunData {
    conns: Vec<ConnView>,
    clean_kept: usize,
    /// Connections whose details were not kept (the bounds above).
    not_kept: u64,
    total: u64,
    groups: FxHashMap<String, Group>,
    /// Connections of servers beyond MAX_GROUPS (not grouped).
    ungrouped: u64,
    dns: Vec<DnsView>,
    dns_not_kept: u64,
}

pub struct HtmlPrinter<W> {
    out: W,
    /// Rendered sections of the runs so far, and their verdicts.
    sections: Vec<String>,
    verdicts: Vec<(String, Severity, usize)>,
    cur: RunData,
}

impl<W: Write> HtmlPrinter<W> {
    pub fn new(out: W) -> Self {
        HtmlPrinter {
            out,
            sections: Vec::new(),
            verdicts: Vec::new(),
            cur: RunData::default(),
        }
    }
}

/// Whether a connection looks like it went wrong (kept in detail beyond the clean bound).
fn looks_failed(c: &Connection) -> bool {
    !matches!(c.state, "SF" | "S1")
        || !c.resets.is_empty()
        || !c.icmp.is_empty()
        || c.client_stats.retransmissions + c.server_stats.retransmissions > 0
        || c.http.iter().any(|h| h.status.is_some_and(|s| s >= 400))
        || c.tls.as_ref().is_some_and(|t| !t.alerts.is_empty())
        || !c.partial.is_empty()
}

fn lane(side: Side) -> Lane {
    match side {
        Side::Client => Lane::Client,
        Side::Server => Lane::Server,
    }
}

/// The connection's timeline: its packets that matter and its stages.
fn conn_view(c: &Connection) -> ConnView {
    let mut ev = Vec::new();
    let mut bands = Vec::new();
    let tcp = c.transport == Transport::Tcp;
    let mut what = Vec::new();
    let syn_ack_ts = c
        .handshake_rtt
        .map(|rtt| Timestamp::from_nanos(c.ts_first.as_nanos() + rtt.as_nanos()));
    if tcp {
        if let Some(&f) = c.client_stats.syn_frames.first() {
            ev.push(Event {
                ts: c.ts_first,
                lane: Lane::Client,
                label: "SYN".into(),
                frame: Some(f),
                class: "syn",
            });
        }
        if let (Some(&f), Some(ts)) = (c.server_stats.syn_frames.first(), syn_ack_ts) {
            ev.push(Event {
                ts,
                lane: Lane::Server,
                label: "SYN-ACK".into(),
                frame: Some(f),
                class: "syn",
            });
            bands.push(Band {
                from: c.ts_first,
                to: ts,
                label: "TCP",
                class: "b-tcp",
            });
        }
    }
    let mut body_from = None;
    if let Some(t) = c.tls.as_deref() {
        if let Some(ch) = &t.client_hello {
            let sni = t
                .sni()
                .map(|s| format!(" {}", cut(s, LABEL_CHARS)))
                .unwrap_or_default();
            ev.push(Event {
                ts: ch.ts,
                lane: Lane::Client,
                label: format!("ClientHello{sni}"),
                frame: Some(ch.first_frame),
                class: "tls",
            });
            what.push(format!("TLS{sni}"));
            let end = t
                .server_hello
                .as_ref()
                .map(|s| s.ts)
                .or_else(|| t.alerts.first().map(|a| a.ts))
                .unwrap_or(c.ts_last);
            bands.push(Band {
                from: ch.ts,
                to: end,
                label: "TLS",
                class: "b-tls",
            });
        }
        if let Some(sh) = &t.server_hello {
            let v = sh.version_name.clone().unwrap_or_default();
            ev.push(Event {
                ts: sh.ts,
                lane: Lane::Server,
                label: format!("ServerHello {v}"),
                frame: Some(sh.first_frame),
                class: "tls",
            });
            body_from = Some(sh.ts);
        }
        for a in &t.alerts {
            let label = match (a.encrypted, a.description_name) {
                (true, _) => "alert (encrypted)".to_string(),
                (false, Some(d)) => format!("alert {d}"),
                (false, None) => format!("alert {}", a.description.unwrap_or(0)),
            };
            ev.push(Event {
                ts: a.ts,
                lane: lane(a.side),
                label,
                frame: Some(a.frame),
                class: "alert",
            });
        }
    }
    let mut more_http = 0;
    for (i, h) in c.http.iter().enumerate() {
        if i >= 6 {
            more_http += 1;
            continue;
        }
        let req = format!(
            "{} {}",
            h.method.as_deref().unwrap_or("?"),
            cut(h.uri.as_deref().unwrap_or(""), LABEL_CHARS)
        );
        if i == 0 {
            what.push(match h.status {
                Some(s) => format!("{req} → {s}"),
                None => req.clone(),
            });
        }
        if let Some(ts) = h.request_ts {
            ev.push(Event {
                ts,
                lane: Lane::Client,
                label: req,
                frame: h.request_frame,
                class: "http",
            });
        }
        if let Some(ts) = h.response_ts {
            let reason = h.reason.as_deref().map(|r| cut(r, 32)).unwrap_or_default();
            ev.push(Event {
                ts,
                lane: Lane::Server,
                label: format!(
                    "{} {reason}",
                    h.status.map(|s| s.to_string()).unwrap_or_default()
                ),
                frame: h.response_frame,
                class: "http",
            });
            if let Some(rq) = h.request_ts {
                bands.push(Band {
                    from: rq,
                    to: ts,
                    label: "HTTP",
                    class: "b-http",
                });
            }
            body_from = Some(ts);
        }
    }
    // The server's last data while the client was still listening: what it sends after the
    // client gave up (a close_notify) answers the close, it is not the body.
    let s = &c.server_stats;
    let last_data = s
        .last_data_while_peer_open
        .or(s.last_data_frame.zip(s.last_data_ts));
    if let Some((f, ts)) = last_data {
        ev.push(Event {
            ts,
            lane: Lane::Server,
            label: "last data".into(),
            frame: Some(f),
            class: "data",
        });
        if let Some(from) = body_from.filter(|&b| b < ts) {
            bands.push(Band {
                from,
                to: ts,
                label: "body",
                class: "b-body",
            });
        }
    }
    for (side, st) in [
        (Lane::Client, &c.client_stats),
        (Lane::Server, &c.server_stats),
    ] {
        if let (Some(f), Some(ts)) = (st.fin_frame, st.fin_ts) {
            ev.push(Event {
                ts,
                lane: side,
                label: "FIN".into(),
                frame: Some(f),
                class: "fin",
            });
        }
    }
    for r in &c.resets {
        ev.push(Event {
            ts: r.ts,
            lane: lane(r.from),
            label: format!("RST (TTL {})", r.ttl),
            frame: Some(r.packet),
            class: "rst",
        });
    }
    for i in &c.icmp {
        ev.push(Event {
            ts: i.ts,
            lane: Lane::Server,
            label: format!("ICMP {}/{} from {}", i.icmp_type, i.code, i.from),
            frame: Some(i.packet),
            class: "icmp",
        });
    }
    if !tcp && ev.is_empty() {
        ev.push(Event {
            ts: c.ts_first,
            lane: Lane::Client,
            label: "first packet".into(),
            frame: None,
            class: "data",
        });
    }
    ev.sort_by_key(|e| e.ts);
    ev.truncate(MAX_EVENTS);
    ConnView {
        id: c.id,
        tcp,
        client: c.client.to_string(),
        server: c.server.to_string(),
        server_ip: c.server.ip(),
        name: c.server_name.clone(),
        state: c.state,
        history: c.history.clone(),
        bytes: (c.client_stats.bytes, c.server_stats.bytes),
        retransmissions: (
            c.client_stats.retransmissions,
            c.server_stats.retransmissions,
        ),
        first: c.ts_first,
        last: c.ts_last,
        events: ev,
        bands,
        more_http,
        what: what.join(" · "),
    }
}

impl<W: Write> Printer for HtmlPrinter<W> {
    fn connection(&mut self, c: &Connection, go: Option<&GoInfo>) -> io::Result<()> {
        let r = &mut self.cur;
        r.total += 1;
        let key = c
            .server_name
            .as_deref()
            .map(str::to_ascii_lowercase)
            .unwrap_or_else(|| c.server.ip().to_string());
        let grouped = r.groups.len() < MAX_GROUPS || r.groups.contains_key(&key);
        if grouped {
            let g = r.groups.entry(key).or_default();
            g.connections += 1;
            g.tcp += u64::from(c.transport == Transport::Tcp);
            *g.states.entry(c.state).or_default() += 1;
            g.bytes.0 += c.client_stats.bytes;
            g.bytes.1 += c.server_stats.bytes;
            let a = c.server.to_string();
            if g.addrs.len() < GROUP_ADDRS && !g.addrs.contains(&a) {
                g.addrs.push(a);
            }
            if g.ids.len() < GROUP_IDS {
                g.ids.push(c.id);
            }
        } else {
            r.ungrouped += 1;
        }
        let important = looks_failed(c) || go.is_some();
        let keep = if important {
            r.conns.len() < MAX_KEPT
        } else {
            r.clean_kept < MAX_CLEAN_KEPT && r.conns.len() < MAX_KEPT
        };
        if keep {
            r.clean_kept += usize::from(!important);
            r.conns.push(conn_view(c));
        } else {
            r.not_kept += 1;
        }
        Ok(())
    }

    fn dns(&mut self, d: &DnsRecord) -> io::Result<()> {
        let r = &mut self.cur;
        if r.dns.len() >= MAX_DNS_KEPT {
            r.dns_not_kept += 1;
            return Ok(());
        }
        r.dns.push(DnsView {
            id: d.id,
            qname: d.qname.clone().unwrap_or_default(),
            qtype: d.qtype.as_deref().unwrap_or_default().to_owned(),
            ts: d.ts,
            answered: d
                .rtt
                .map(|rtt| Timestamp::from_nanos(d.ts.as_nanos() + rtt.as_nanos())),
            rcode: d.rcode.as_deref().map(str::to_owned),
            answers: d.answer_addresses().take(8).collect(),
            frames: (d.query_frame, d.response_frame),
        });
        Ok(())
    }

    /// The page is written at the end; nothing to do while a capture runs.
    fn early_finding(&mut self, _: &Finding) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        let end = &End::new(end);
        let run = std::mem::take(&mut self.cur);
        let i = self.sections.len();
        let worst = end
            .findings
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Info);
        let errors_or_warnings = end
            .findings
            .iter()
            .filter(|f| f.severity != Severity::Info)
            .count();
        self.verdicts
            .push((end.run.source.to_string(), worst, errors_or_warnings));
        self.sections.push(render_run(i, end, &run));
        Ok(())
    }

    fn close(&mut self) -> io::Result<()> {
        let page = render_page(&self.sections, &self.verdicts);
        self.out.write_all(page.as_bytes())?;
        self.out.flush()
    }
}

fn sha256_b64(s: &str) -> String {
    base64(&Sha256::digest(s.as_bytes()))
}

/// Standard base64 with padding (what a CSP hash source is).
fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                o.push(T[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                o.push('=');
            }
        }
    }
    o
}

/// A run's verdict, worded as the text report words it: go's failure in its own words when
/// the capture shows no fault, a capture cut short never "OK".
fn verdict_words(findings: &[&Finding]) -> (String, &'static str) {
    let count = |sev| findings.iter().filter(|f| f.severity == sev).count();
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
    let incomplete = findings
        .iter()
        .find_map(|f| crate::diagnose::capture::verdict_note(f));
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let go_failed = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .all(|f| f.kind == FindingKind::GoFailed)
        .then(|| findings.iter().find(|f| f.kind == FindingKind::GoFailed))
        .flatten()
        .map(|f| {
            let s = &f.summary;
            s.split_once("network fault.")
                .map_or(s.clone(), |(head, _)| format!("{head}network fault"))
        });
    let (mut s, class) = if let Some(why) = go_failed {
        (format!("FAILED: {why}"), "v-error")
    } else if errors > 0 {
        (
            format!("FAILED: {errors} error{}", plural(errors)),
            "v-error",
        )
    } else if let Some(note) = &incomplete {
        (format!("INCOMPLETE: {note}"), "v-warning")
    } else if warnings > 0 {
        (
            format!("OK with {warnings} warning{}", plural(warnings)),
            "v-warning",
        )
    } else {
        return ("OK: no problem found".into(), "v-ok");
    };
    if errors > 0 && warnings > 0 {
        let _ = write!(s, ", {warnings} warning{}", plural(warnings));
    }
    match (&incomplete, errors > 0) {
        (Some(note), true) => {
            let _ = write!(s, "; INCOMPLETE: {note}");
        }
        (Some(_), false) if warnings > 1 => {
            let _ = write!(
                s,
                ", {} other warning{}",
                warnings - 1,
                plural(warnings - 1)
            );
        }
        _ => {}
    }
    (s, class)
}

fn render_page(sections: &[String], verdicts: &[(String, Severity, usize)]) -> String {
    let mut o = String::with_capacity(64 << 10);
    let title = match verdicts {
        [(source, ..)] => format!("modsniff: {source}"),
        _ => format!("modsniff: {} captures", verdicts.len()),
    };
    let csp = format!(
        "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}' 'sha256-{}'; img-src data:; base-uri 'none'; form-action 'none'",
        sha256_b64(STYLE),
        sha256_b64(GUARD_JS),
        sha256_b64(REPORT_JS)
    );
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"modsniff {}\">\n<title>{}</title>\n\
         <script>{GUARD_JS}</script>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <div id=\"js-errors\" hidden></div>\n",
        env!("CARGO_PKG_VERSION"),
        esc(&title)
    );
    if verdicts.len() > 1 {
        o.push_str("<nav class=\"runs\"><h1>modsniff</h1><ul>");
        for (i, (source, sev, n)) in verdicts.iter().enumerate() {
            let class = match (sev, n) {
                (_, 0) => "v-ok",
                (Severity::Error, _) => "v-error",
                _ => "v-warning",
            };
            let _ = write!(
                o,
                "<li class=\"{class}\"><a href=\"#r{i}\">{}</a></li>",
                esc(source)
            );
        }
        o.push_str("</ul></nav>\n");
    }
    for s in sections {
        o.push_str(s);
    }
    let _ = write!(
        o,
        "<footer>modsniff {} · frame numbers are the capture's own, as Wireshark counts them</footer>\n\
         <script>{REPORT_JS}</script>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    );
    o
}

fn render_run(i: usize, end: &End<'_>, run: &RunData) -> String {
    let p = format!("r{i}");
    let mut o = String::with_capacity(32 << 10);
    let (verdict, vclass) = verdict_words(&end.findings);
    let s = end.run.stats;
    let _ = write!(
        o,
        "<section class=\"run\" id=\"{p}\">\n<header class=\"verdict {vclass}\"><h1>{}</h1>\
         <p class=\"source\">{} · {} packets · {} TCP connection{} · {} UDP flow{} · {} DNS messages</p>",
        esc(&verdict),
        esc(end.run.source),
        s.packets,
        s.tcp_connections,
        if s.tcp_connections == 1 { "" } else { "s" },
        s.udp_flows,
        if s.udp_flows == 1 { "" } else { "s" },
        s.dns_messages
    );
    // The ten-second view: one line per failing target and kind.
    let mut lines: Vec<(&Finding, usize)> = Vec::new();
    for f in end.findings.iter().filter(|f| f.severity != Severity::Info) {
        match lines.iter_mut().find(|(g, _)| {
            g.kind == f.kind && g.server == f.server && g.server_name == f.server_name
        }) {
            Some((_, n)) => *n += 1,
            None => lines.push((f, 1)),
        }
    }
    if !lines.is_empty() {
        o.push_str("<ul class=\"glance\">");
        for (f, n) in lines.iter().take(50) {
            let target = f
                .server_name
                .as_deref()
                .or(f.server.as_deref())
                .unwrap_or("?");
            let idx = end
                .findings
                .iter()
                .position(|g| std::ptr::eq(*g, *f))
                .unwrap_or(0);
            let _ = write!(
                o,
                "<li class=\"sev-{sev}\"><span class=\"sev\">{sev}</span> <a href=\"#{p}-f{idx}\" class=\"label\">{stage}/{kind}</a> \
                 <b>{target}</b> by {actor}{times}{go}</li>",
                sev = severity_word(f.severity),
                stage = stage_word(f.stage),
                kind = esc(f.kind.as_str()),
                target = esc(target),
                actor = lower_debug(f.actor),
                times = if *n > 1 {
                    format!(" ×{n}")
                } else {
                    String::new()
                },
                // What go said, when it is known; else what it likely said.
                go = end.reported[idx]
                    .go_error
                    .as_deref()
                    .map(|g| g.lines().next().unwrap_or(g))
                    .or(f.likely_go_error.as_deref())
                    .map(|g| format!(" <span class=\"goerr\">→ {}</span>", esc(g)))
                    .unwrap_or_default()
            );
        }
        if lines.len() > 50 {
            let _ = write!(
                o,
                "<li class=\"cut\">… and {} more targets</li>",
                lines.len() - 50
            );
        }
        o.push_str("</ul>");
    }
    o.push_str("</header>\n");

    // Findings in full.
    if !end.findings.is_empty() {
        o.push_str("<h2>Findings</h2>\n");
        for (j, f) in end.findings.iter().enumerate().take(MAX_FINDING_CARDS) {
            finding_card(&mut o, &p, j, f, end, run);
        }
        if end.findings.len() > MAX_FINDING_CARDS {
            let _ = writeln!(
                o,
                "<p class=\"cut\">{} more findings are not shown here (the page shows {MAX_FINDING_CARDS}); \
                 <code>--format ndjson</code> lists every one.</p>",
                end.findings.len() - MAX_FINDING_CARDS
            );
        }
    }

    // Timelines: connections with findings first; every TCP connection when there are few.
    let mut with_findings: Vec<u64> = Vec::new();
    for f in end.findings.iter().filter(|f| f.stage != Stage::Dns) {
        if let Some(id) = f.connection
            && !with_findings.contains(&id)
        {
            with_findings.push(id);
        }
    }
    let by_id: FxHashMap<u64, &ConnView> = run.conns.iter().map(|c| (c.id, c)).collect();
    let mut drawn: Vec<&ConnView> = with_findings
        .iter()
        .filter_map(|id| by_id.get(id).copied())
        .collect();
    let tcp_count = run.conns.iter().filter(|c| c.tcp).count();
    if tcp_count <= 12 {
        for c in run.conns.iter().filter(|c| c.tcp) {
            if !drawn.iter().any(|d| d.id == c.id) {
                drawn.push(c);
            }
        }
    }
    let dns_findings: Vec<(usize, &&Finding)> = end
        .findings
        .iter()
        .enumerate()
        .filter(|(_, f)| f.stage == Stage::Dns)
        .collect();
    if !drawn.is_empty() || !dns_findings.is_empty() {
        o.push_str("<h2>Timelines</h2>\n<p class=\"hint\">Time runs left to right, compressed: \
                    a long silence is drawn as a hatched gap with its length. Client packets above, \
                    server packets below; each finding is the red line where its frames are.</p>\n");
        let mut shown = 0;
        for (j, f) in dns_findings.iter().take(MAX_TIMELINES / 4) {
            dns_timeline(&mut o, &p, *j, f, run);
            shown += 1;
        }
        for c in drawn.iter().take(MAX_TIMELINES.saturating_sub(shown)) {
            timeline(&mut o, &p, c, end, run);
        }
        let missing = with_findings
            .iter()
            .filter(|id| !by_id.contains_key(id))
            .count();
        if drawn.len() + shown > MAX_TIMELINES || missing > 0 {
            let _ = writeln!(
                o,
                "<p class=\"cut\">Timelines drawn: {}; connections with findings not drawn: {} \
                 (the page draws at most {MAX_TIMELINES}, and keeps the details of {MAX_KEPT} \
                 connections).</p>",
                drawn.len().min(MAX_TIMELINES.saturating_sub(shown)) + shown,
                with_findings
                    .len()
                    .saturating_sub(drawn.len().min(MAX_TIMELINES.saturating_sub(shown)))
            );
        }
    }

    // Connections by server.
    if !run.groups.is_empty() {
        groups_table(&mut o, &p, end, run);
    }
    if !run.conns.is_empty() {
        conn_table(&mut o, &p, end, run, &with_findings);
    }
    frame_list(&mut o, &p, end);
    summary(&mut o, end, run);
    o.push_str("</section>\n");
    o
}

fn finding_card(o: &mut String, p: &str, j: usize, f: &Finding, end: &End<'_>, run: &RunData) {
    let target = match (&f.server_name, &f.server) {
        (Some(n), Some(s)) => format!("{} ({})", esc(n), esc(s)),
        (Some(n), None) => esc(n),
        (None, Some(s)) => esc(s),
        (None, None) => "?".into(),
    };
    let sev = severity_word(f.severity);
    let _ = writeln!(
        o,
        "<article class=\"finding sev-{sev}\" id=\"{p}-f{j}\"><h3><span class=\"sev\">{sev}</span> \
         <span class=\"label\">{}/{}</span> {target} <span class=\"actor\">actor: {}</span>{}</h3>",
        stage_word(f.stage),
        esc(f.kind.as_str()),
        lower_debug(f.actor),
        if end.reported[j].recovered {
            " <span class=\"recovered\">(go recovered)</span>"
        } else {
            ""
        }
    );
    // What go said comes first, in its own layout: it is what the reader came with.
    if let Some(g) = &end.reported[j].go_error {
        let _ = writeln!(o, "<pre class=\"goerr\">go said: {}</pre>", esc(g));
    }
    let _ = writeln!(o, "<p class=\"summary\">{}</p>", esc(&f.summary));
    if end.reported[j].go_error.is_none()
        && let Some(g) = &f.likely_go_error
    {
        let _ = writeln!(
            o,
            "<p class=\"goerr\">go error: <code>{}</code></p>",
            esc(g)
        );
    }
    if !f.evidence.is_empty() {
        o.push_str("<ul class=\"evidence\">");
        for e in &f.evidence {
            let mapped = end
                .run
                .extract
                .and_then(|x| x.frame(e.packet).map(|m| (m, &x.file)))
                .map(|(m, file)| {
                    format!(" <span class=\"mapped\">frame {m} in {}</span>", esc(file))
                })
                .unwrap_or_default();
            let _ = write!(
                o,
                "<li><a href=\"#{p}-frame-{n}\">frame {n}</a>{mapped} {}</li>",
                esc(&e.note),
                n = e.packet
            );
        }
        o.push_str("</ul>\n");
    }
    if let Some(r) = &f.remedy {
        let _ = writeln!(o, "<p class=\"remedy\">remedy: {}</p>", esc(r));
    }
    if let Some(id) = f.connection {
        if f.stage == Stage::Dns {
            let _ = write!(
                o,
                "<p class=\"links\"><a href=\"#{p}-d{j}\">timeline</a></p>"
            );
        } else if run.conns.iter().any(|c| c.id == id) {
            let _ = write!(
                o,
                "<p class=\"links\"><a href=\"#{p}-t{id}\">timeline</a> · <a href=\"#{p}-c{id}\">connection {id}</a></p>"
            );
        }
    }
    o.push_str("</article>\n");
}

/// Positions on a compressed time axis: each gap between two successive instants takes a
/// width that grows with the logarithm of its length, so that microseconds apart stay
/// apart and seconds of silence do not push everything off the page.
struct Axis {
    ts: Vec<u64>,
    xs: Vec<f64>,
}

impl Axis {
    const LEFT: f64 = 64.0;

    fn new(mut ts: Vec<u64>) -> Axis {
        ts.sort_unstable();
        ts.dedup();
        let mut xs = Vec::with_capacity(ts.len());
        let mut x = Self::LEFT;
        for (k, t) in ts.iter().enumerate() {
            if k > 0 {
                let dt = (t - ts[k - 1]) as f64 / 1e9;
                // 10 µs: 38 px, 1 ms: 96 px, 1 s: 198 px.
                x += (28.0 + 34.0 * (1.0 + dt * 1e5).log10()).clamp(20.0, 240.0);
            }
            xs.push(x);
        }
        Axis { ts, xs }
    }

    fn x(&self, t: Timestamp) -> f64 {
        let t = t.as_nanos();
        match self.ts.binary_search(&t) {
            Ok(i) => self.xs[i],
            Err(0) => self.xs.first().copied().unwrap_or(Self::LEFT),
            Err(i) if i >= self.ts.len() => self.xs.last().copied().unwrap_or(Self::LEFT),
            Err(i) => {
                let (t0, t1) = (self.ts[i - 1] as f64, self.ts[i] as f64);
                let f = (t as f64 - t0) / (t1 - t0);
                self.xs[i - 1] + f * (self.xs[i] - self.xs[i - 1])
            }
        }
    }

    fn width(&self) -> f64 {
        self.xs.last().copied().unwrap_or(Self::LEFT) + 200.0
    }
}

/// Labels placed on levels away from a lane so that they do not overlap.
struct Levels {
    ends: Vec<f64>,
}

impl Levels {
    fn place(&mut self, x: f64, chars: usize) -> Option<usize> {
        let w = 6.6 * chars as f64 + 8.0;
        for (k, e) in self.ends.iter_mut().enumerate() {
            if *e <= x {
                *e = x + w;
                return Some(k);
            }
        }
        None
    }
}

const LEVELS: usize = 4;

/// The DNS queries that led to a connection: for its name or answering its address, the
/// last ones before it began.
fn dns_for<'r>(c: &ConnView, run: &'r RunData) -> Vec<&'r DnsView> {
    let name = c.name.as_deref().map(str::to_ascii_lowercase);
    let mut v: Vec<&DnsView> = run
        .dns
        .iter()
        .filter(|d| d.ts <= c.first && c.first.as_nanos() - d.ts.as_nanos() < 60_000_000_000)
        .filter(|d| {
            name.as_deref()
                .is_some_and(|n| d.qname.eq_ignore_ascii_case(n))
                || d.answers.contains(&c.server_ip)
        })
        .collect();
    v.sort_by_key(|d| d.ts);
    let keep = v.len().saturating_sub(4);
    v.split_off(keep)
}

fn timeline(o: &mut String, p: &str, c: &ConnView, end: &End<'_>, run: &RunData) {
    let mut events = c.events.clone();
    let mut bands = c.bands.clone();
    for d in dns_for(c, run) {
        events.push(Event {
            ts: d.ts,
            lane: Lane::Client,
            label: format!("{} {}?", d.qtype, cut(&d.qname, LABEL_CHARS)),
            frame: d.frames.0,
            class: "dns",
        });
        if let Some(a) = d.answered {
            let ans = match (d.rcode.as_deref(), d.answers.first()) {
                (Some("NOERROR"), Some(ip)) => ip.to_string(),
                (Some(rc), _) => rc.to_string(),
                (None, _) => "answer".into(),
            };
            events.push(Event {
                ts: a,
                lane: Lane::Server,
                label: ans,
                frame: d.frames.1,
                class: "dns",
            });
            bands.push(Band {
                from: d.ts,
                to: a,
                label: "DNS",
                class: "b-dns",
            });
        }
    }
    let findings: Vec<(usize, &Finding)> = end
        .findings
        .iter()
        .enumerate()
        .filter(|(_, f)| f.stage != Stage::Dns && f.connection == Some(c.id))
        .map(|(j, f)| (j, *f))
        .collect();
    let mut instants: Vec<u64> = events.iter().map(|e| e.ts.as_nanos()).collect();
    instants.extend(
        bands
            .iter()
            .flat_map(|b| [b.from.as_nanos(), b.to.as_nanos()]),
    );
    instants.push(c.first.as_nanos());
    instants.push(c.last.as_nanos());
    // A cited frame that is drawn already is marked where it is drawn (its packet's own time).
    let frame_ts: FxHashMap<u64, Timestamp> = events
        .iter()
        .filter_map(|e| e.frame.map(|f| (f, e.ts)))
        .collect();
    let when = |e: &modsniff_core::Evidence| {
        frame_ts
            .get(&e.packet)
            .copied()
            .or((e.ts.as_nanos() > 0).then_some(e.ts))
    };
    for (_, f) in &findings {
        instants.extend(f.evidence.iter().filter_map(&when).map(|t| t.as_nanos()));
    }
    let axis = Axis::new(instants);
    let t0 = axis.ts.first().copied().unwrap_or(0);
    let rel = |ts: u64| human_dur(ts.saturating_sub(t0) as f64 / 1e9);
    let title = format!(
        "{} {} → {}{}",
        if c.tcp { "TCP" } else { "UDP" },
        esc(&c.client),
        esc(&c.server),
        c.name
            .as_deref()
            .map(|n| format!(" ({})", esc(n)))
            .unwrap_or_default()
    );
    let has_findings = !findings.is_empty();
    let _ = writeln!(
        o,
        "<figure class=\"timeline{}\" id=\"{p}-t{id}\"><figcaption>connection <a href=\"#{p}-c{id}\">{id}</a>: {title} · {state} {hist} · {dur}{more}</figcaption>",
        if has_findings { " has-findings" } else { "" },
        id = c.id,
        state = c.state,
        hist = esc(&c.history),
        dur = human_dur((c.last.as_nanos().saturating_sub(c.first.as_nanos())) as f64 / 1e9),
        more = if c.more_http > 0 {
            format!(" · {} more HTTP transactions not drawn", c.more_http)
        } else {
            String::new()
        }
    );
    // Rows: finding labels, client labels (levels), client lane, server lane, server labels.
    let top = 22.0 + 14.0 * findings.len().min(4) as f64;
    let client_y = top + 14.0 * LEVELS as f64 + 10.0;
    let server_y = client_y + 46.0;
    let height = server_y + 14.0 * LEVELS as f64 + 24.0;
    let width = axis.width();
    let _ = writeln!(
        o,
        "<div class=\"scroll\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\" aria-label=\"timeline of connection {}\">",
        c.id
    );
    let hatch = format!("{p}-h{}", c.id);
    let _ = writeln!(
        o,
        "<defs><pattern id=\"{hatch}\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#f4f4f4\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#bbb\" stroke-width=\"2\"/></pattern></defs>"
    );
    // Stages between the lanes; overlapping ones of one kind (the A and AAAA lookups) as one.
    bands.sort_by_key(|b| (b.class, b.from));
    let mut merged: Vec<Band> = Vec::new();
    for b in bands {
        match merged.last_mut() {
            Some(m) if m.class == b.class && b.from <= m.to => m.to = m.to.max(b.to),
            _ => merged.push(b),
        }
    }
    for b in &merged {
        let (x0, x1) = (axis.x(b.from), axis.x(b.to));
        let w = (x1 - x0).max(2.0);
        let _ = write!(
            o,
            "<rect class=\"band {}\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"12\"><title>{} {}</title></rect>",
            b.class,
            (client_y + server_y) / 2.0 - 6.0,
            b.label,
            human_dur((b.to.as_nanos().saturating_sub(b.from.as_nanos())) as f64 / 1e9)
        );
        if w > 6.6 * b.label.len() as f64 + 6.0 {
            let _ = write!(
                o,
                "<text class=\"band-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                (x0 + x1) / 2.0,
                (client_y + server_y) / 2.0 + 4.0,
                b.label
            );
        }
        o.push('\n');
    }
    // Silences: gaps between successive instants longer than the bound. Not within the
    // body: its packets are not drawn one by one, so a gap there is data flowing, not silence.
    let in_body = |a: u64, b: u64| {
        merged
            .iter()
            .any(|m| m.class == "b-body" && m.from.as_nanos() <= a && b <= m.to.as_nanos())
    };
    for w in axis.ts.windows(2) {
        let dt = (w[1] - w[0]) as f64 / 1e9;
        if dt >= SILENCE_MIN_SECS && !in_body(w[0], w[1]) {
            let (x0, x1) = (
                axis.x(Timestamp::from_nanos(w[0])),
                axis.x(Timestamp::from_nanos(w[1])),
            );
            let _ = writeln!(
                o,
                "<g class=\"silence\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"url(#{hatch})\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">silence {}</text></g>",
                x0 + 3.0,
                client_y - 4.0,
                (x1 - x0 - 6.0).max(1.0),
                server_y - client_y + 8.0,
                (x0 + x1) / 2.0,
                client_y + 14.0,
                human_dur(dt)
            );
        }
    }
    // The lanes.
    let (xa, xb) = (Axis::LEFT - 6.0, width - 150.0);
    let _ = writeln!(
        o,
        "<text class=\"lane\" x=\"4\" y=\"{:.1}\">client</text><line class=\"lane\" x1=\"{xa:.1}\" y1=\"{client_y:.1}\" x2=\"{xb:.1}\" y2=\"{client_y:.1}\"/>\
         <text class=\"lane\" x=\"4\" y=\"{:.1}\">server</text><line class=\"lane\" x1=\"{xa:.1}\" y1=\"{server_y:.1}\" x2=\"{xb:.1}\" y2=\"{server_y:.1}\"/>",
        client_y + 4.0,
        server_y + 4.0
    );
    // Findings: a red line through both lanes at each cited frame, the label on top.
    let mut flevels = Levels { ends: vec![0.0; 4] };
    for (k, (j, f)) in findings.iter().enumerate() {
        let label = format!("{}/{}", stage_word(f.stage), f.kind.as_str());
        let placed: Vec<(f64, &modsniff_core::Evidence)> = f
            .evidence
            .iter()
            .filter_map(|e| when(e).map(|t| (axis.x(t), e)))
            .collect();
        let xs: Vec<f64> = placed.iter().map(|(x, _)| *x).collect();
        let Some(&first) = xs.first() else { continue };
        let level = flevels.place(first, label.len()).unwrap_or(k % 4);
        let ly = 14.0 + 14.0 * level as f64;
        let _ = write!(
            o,
            "<a href=\"#{p}-f{j}\" class=\"fmark sev-{}\">",
            severity_word(f.severity)
        );
        for (x, e) in &placed {
            let _ = write!(
                o,
                "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"><title>frame {}: {}</title></line>",
                ly + 3.0,
                server_y + 8.0,
                e.packet,
                esc(&e.note)
            );
        }
        let _ = writeln!(
            o,
            "<text x=\"{first:.1}\" y=\"{ly:.1}\">{}</text></a>",
            esc(&label)
        );
    }
    // Events on their lanes, labels on free levels away from the lane.
    let mut up = Levels {
        ends: vec![0.0; LEVELS],
    };
    let mut down = Levels {
        ends: vec![0.0; LEVELS],
    };
    for e in &events {
        let x = axis.x(e.ts);
        let (y, levels, dir) = match e.lane {
            Lane::Client => (client_y, &mut up, -1.0),
            Lane::Server => (server_y, &mut down, 1.0),
        };
        let label = cut(&e.label, LABEL_CHARS);
        let tip = format!(
            "{}{} at +{}",
            e.frame.map(|f| format!("frame {f}: ")).unwrap_or_default(),
            e.label,
            rel(e.ts.as_nanos())
        );
        let mark = format!(
            "<circle class=\"ev {}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\"><title>{}</title></circle>",
            e.class,
            esc(&tip)
        );
        match e.frame {
            Some(f) => {
                let _ = write!(o, "<a href=\"#{p}-frame-{f}\">{mark}</a>");
            }
            None => o.push_str(&mark),
        }
        if let Some(level) = levels.place(x - 3.0, label.chars().count()) {
            let ly = y + dir * (14.0 * (level as f64 + 1.0)) + if dir > 0.0 { 0.0 } else { 4.0 };
            let _ = write!(
                o,
                "<line class=\"tick\" x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/><text class=\"ev-label {}\" x=\"{:.1}\" y=\"{ly:.1}\">{}</text>",
                ly - dir * 10.0,
                e.class,
                x - 3.0,
                esc(&label)
            );
        }
        o.push('\n');
    }
    // Start and end times.
    let _ = writeln!(
        o,
        "<text class=\"time\" x=\"{:.1}\" y=\"{:.1}\">0</text><text class=\"time\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">+{}</text>",
        Axis::LEFT,
        height - 4.0,
        xb,
        height - 4.0,
        rel(axis.ts.last().copied().unwrap_or(t0))
    );
    let retrans = c.retransmissions.0 + c.retransmissions.1;
    if retrans > 0 {
        let _ = writeln!(
            o,
            "<text class=\"retrans\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{} retransmissions (client {}, server {})</text>",
            xb,
            top - 4.0,
            retrans,
            c.retransmissions.0,
            c.retransmissions.1
        );
    }
    o.push_str("</svg></div></figure>\n");
}

/// The timeline of a DNS finding: its queries and what came back.
fn dns_timeline(o: &mut String, p: &str, j: usize, f: &Finding, run: &RunData) {
    let name = f.server_name.as_deref().unwrap_or("");
    let id = f.connection.and_then(|c| u16::try_from(c).ok());
    let cited: Vec<u64> = f.evidence.iter().map(|e| e.packet).collect();
    let qs: Vec<&DnsView> = run
        .dns
        .iter()
        .filter(|d| {
            d.qname.eq_ignore_ascii_case(name)
                || Some(d.id) == id
                || d.frames.0.is_some_and(|q| cited.contains(&q))
                || d.frames.1.is_some_and(|r| cited.contains(&r))
        })
        .take(MAX_EVENTS / 2)
        .collect();
    let mut instants: Vec<u64> = qs.iter().map(|d| d.ts.as_nanos()).collect();
    instants.extend(qs.iter().filter_map(|d| d.answered.map(|a| a.as_nanos())));
    instants.extend(
        f.evidence
            .iter()
            .filter(|e| e.ts.as_nanos() > 0)
            .map(|e| e.ts.as_nanos()),
    );
    let axis = Axis::new(instants);
    let _ = writeln!(
        o,
        "<figure class=\"timeline has-findings\" id=\"{p}-d{j}\"><figcaption>lookup of {} via {}</figcaption>",
        esc(name),
        esc(f.server.as_deref().unwrap_or("?"))
    );
    let (client_y, server_y) = (86.0, 132.0);
    let height = server_y + 14.0 * LEVELS as f64 + 24.0;
    let width = axis.width();
    let _ = write!(
        o,
        "<div class=\"scroll\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\" aria-label=\"DNS timeline\">\n\
         <text class=\"lane\" x=\"4\" y=\"{:.1}\">client</text><line class=\"lane\" x1=\"58\" y1=\"{client_y}\" x2=\"{:.1}\" y2=\"{client_y}\"/>\
         <text class=\"lane\" x=\"4\" y=\"{:.1}\">resolver</text><line class=\"lane\" x1=\"58\" y1=\"{server_y}\" x2=\"{:.1}\" y2=\"{server_y}\"/>\n",
        client_y + 4.0,
        width - 150.0,
        server_y + 4.0,
        width - 150.0
    );
    let label = format!("dns/{}", f.kind.as_str());
    if let Some(x) = f
        .evidence
        .iter()
        .find(|e| e.ts.as_nanos() > 0)
        .map(|e| axis.x(e.ts))
    {
        let _ = write!(
            o,
            "<a href=\"#{p}-f{j}\" class=\"fmark sev-{}\">",
            severity_word(f.severity)
        );
        for e in f.evidence.iter().filter(|e| e.ts.as_nanos() > 0) {
            let ex = axis.x(e.ts);
            let _ = write!(
                o,
                "<line x1=\"{ex:.1}\" y1=\"17\" x2=\"{ex:.1}\" y2=\"{:.1}\"><title>frame {}: {}</title></line>",
                server_y + 8.0,
                e.packet,
                esc(&e.note)
            );
        }
        let _ = writeln!(o, "<text x=\"{x:.1}\" y=\"14\">{}</text></a>", esc(&label));
    }
    let mut up = Levels {
        ends: vec![0.0; LEVELS],
    };
    let mut down = Levels {
        ends: vec![0.0; LEVELS],
    };
    for d in &qs {
        let x = axis.x(d.ts);
        let q = format!("{} {}?", d.qtype, cut(&d.qname, LABEL_CHARS));
        let _ = write!(
            o,
            "<a href=\"#{p}-frame-{}\"><circle class=\"ev dns\" cx=\"{x:.1}\" cy=\"{client_y}\" r=\"4\"><title>{}</title></circle></a>",
            d.frames.0.unwrap_or(0),
            esc(&q)
        );
        if let Some(level) = up.place(x - 3.0, q.chars().count()) {
            let _ = write!(
                o,
                "<text class=\"ev-label dns\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                x - 3.0,
                client_y - 14.0 * (level as f64 + 1.0) + 4.0,
                esc(&q)
            );
        }
        let (ax, text) = match d.answered {
            Some(a) => (
                axis.x(a),
                match (d.rcode.as_deref(), d.answers.first()) {
                    (Some("NOERROR"), Some(ip)) => ip.to_string(),
                    (Some(rc), _) => rc.to_string(),
                    (None, _) => "answer".into(),
                },
            ),
            None => (x, "no answer".into()),
        };
        let class = if d.answered.is_some() { "dns" } else { "rst" };
        let _ = write!(
            o,
            "<circle class=\"ev {class}\" cx=\"{ax:.1}\" cy=\"{server_y}\" r=\"4\"><title>{}</title></circle>",
            esc(&text)
        );
        if let Some(level) = down.place(ax - 3.0, text.chars().count()) {
            let _ = write!(
                o,
                "<text class=\"ev-label {class}\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                ax - 3.0,
                server_y + 14.0 * (level as f64 + 1.0),
                esc(&text)
            );
        }
        o.push('\n');
    }
    o.push_str("</svg></div></figure>\n");
}

fn groups_table(o: &mut String, p: &str, end: &End<'_>, run: &RunData) {
    let failed_ids: Vec<u64> = end
        .findings
        .iter()
        .filter(|f| f.stage != Stage::Dns)
        .filter_map(|f| f.connection)
        .collect();
    let mut groups: Vec<(&String, &Group)> = run.groups.iter().collect();
    let failed = |g: &Group| g.ids.iter().filter(|id| failed_ids.contains(id)).count();
    groups.sort_by(|a, b| {
        failed(b.1)
            .cmp(&failed(a.1))
            .then(b.1.connections.cmp(&a.1.connections))
            .then(a.0.cmp(b.0))
    });
    let _ = write!(
        o,
        "<h2>Connections by server</h2>\n<div class=\"scroll\"><table class=\"sortable\" id=\"{p}-servers\"><thead><tr>\
         <th data-sort>server</th><th data-sort>addresses</th><th data-sort data-num>connections</th>\
         <th data-sort data-num>with findings</th><th data-sort>states</th>\
         <th data-sort data-num>client bytes</th><th data-sort data-num>server bytes</th></tr></thead><tbody>\n"
    );
    for (name, g) in &groups {
        let mut states: Vec<(&&str, &u64)> = g.states.iter().collect();
        states.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let states: Vec<String> = states.iter().map(|(s, n)| format!("{s} {n}")).collect();
        let nf = failed(g);
        let _ = writeln!(
            o,
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{nf}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if nf > 0 { " class=\"failed\"" } else { "" },
            esc(name),
            esc(&g.addrs.join(" ")),
            g.connections,
            states.join(", "),
            g.bytes.0,
            g.bytes.1
        );
    }
    o.push_str("</tbody></table></div>\n");
    if run.ungrouped > 0 {
        let _ = writeln!(
            o,
            "<p class=\"cut\">{} connections to servers beyond the first {MAX_GROUPS} are not in this table.</p>",
            run.ungrouped
        );
    }
}

fn conn_table(o: &mut String, p: &str, end: &End<'_>, run: &RunData, with_findings: &[u64]) {
    let mut count: FxHashMap<u64, usize> = FxHashMap::default();
    for f in end.findings.iter().filter(|f| f.stage != Stage::Dns) {
        if let Some(id) = f.connection {
            *count.entry(id).or_default() += 1;
        }
    }
    // Rows with findings first, then in the order the connections ended.
    let mut rows: Vec<&ConnView> = run.conns.iter().collect();
    rows.sort_by_key(|c| (!with_findings.contains(&c.id), c.first));
    let shown = rows.len().min(MAX_TABLE_ROWS);
    let _ = write!(
        o,
        "<h2>Connections</h2>\n<p class=\"hint\">Click a column to sort. State and history are Zeek's \
         (upper case: the client).</p>\n<div class=\"scroll\"><table class=\"sortable\" id=\"{p}-conns\"><thead><tr>\
         <th data-sort data-num>id</th><th data-sort>proto</th><th data-sort>client</th><th data-sort>server</th>\
         <th data-sort>server name</th><th data-sort>what</th><th data-sort>state</th><th data-sort>history</th>\
         <th data-sort data-num>c bytes</th><th data-sort data-num>s bytes</th>\
         <th data-sort data-num>retrans</th><th data-sort data-num>duration</th><th data-sort data-num>findings</th></tr></thead><tbody>\n"
    );
    for c in rows.iter().take(shown) {
        let n = count.get(&c.id).copied().unwrap_or(0);
        let dur = (c.last.as_nanos().saturating_sub(c.first.as_nanos())) as f64 / 1e9;
        let id = c.id;
        let link = if n > 0 || run.conns.len() <= 12 {
            format!("<a href=\"#{p}-t{id}\">{id}</a>")
        } else {
            id.to_string()
        };
        let _ = writeln!(
            o,
            "<tr id=\"{p}-c{id}\"{}><td data-v=\"{id}\">{link}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td data-v=\"{dur:.6}\">{}</td><td>{n}</td></tr>",
            if n > 0 { " class=\"failed\"" } else { "" },
            if c.tcp { "tcp" } else { "udp" },
            esc(&c.client),
            esc(&c.server),
            esc(c.name.as_deref().unwrap_or("")),
            esc(&cut(&c.what, 80)),
            c.state,
            esc(&c.history),
            c.bytes.0,
            c.bytes.1,
            c.retransmissions.0 + c.retransmissions.1,
            human_dur(dur),
        );
    }
    o.push_str("</tbody></table></div>\n");
    let left = run.total - shown as u64;
    if left > 0 {
        let _ = writeln!(
            o,
            "<p class=\"cut\">{shown} of {} connections listed (those with findings first, then those that look \
             failed, the first {MAX_TABLE_ROWS} at most); every connection is in <code>--format ndjson</code>.</p>",
            run.total
        );
    }
}

fn frame_list(o: &mut String, p: &str, end: &End<'_>) {
    let mut frames: Vec<(u64, f64, &str, usize)> = Vec::new();
    for (j, f) in end.findings.iter().enumerate().take(MAX_FINDING_CARDS) {
        for e in &f.evidence {
            frames.push((e.packet, secs(e.ts), &e.note, j));
        }
    }
    if frames.is_empty() {
        return;
    }
    frames.sort_by(|a, b| a.0.cmp(&b.0).then(a.3.cmp(&b.3)));
    let _ = write!(
        o,
        "<h2>Frames the findings cite</h2>\n<div class=\"scroll\"><table class=\"frames\"><thead><tr><th>frame</th>{}<th>time</th><th>what</th><th>finding</th></tr></thead><tbody>\n",
        end.run
            .extract
            .map(|x| format!("<th>in {}</th>", esc(&x.file)))
            .unwrap_or_default()
    );
    let mut last = None;
    for (n, ts, note, j) in frames {
        let id = if last == Some(n) {
            String::new()
        } else {
            format!(" id=\"{p}-frame-{n}\"")
        };
        last = Some(n);
        let mapped = end
            .run
            .extract
            .map(|x| {
                format!(
                    "<td>{}</td>",
                    x.frame(n)
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| "–".into())
                )
            })
            .unwrap_or_default();
        let f = end.findings[j];
        let _ = writeln!(
            o,
            "<tr{id}><td>{n}</td>{mapped}<td>{ts:.6}</td><td>{}</td><td><a href=\"#{p}-f{j}\">{}/{}</a></td></tr>",
            esc(note),
            stage_word(f.stage),
            esc(f.kind.as_str())
        );
    }
    o.push_str("</tbody></table></div>\n");
}

fn summary(o: &mut String, end: &End<'_>, run: &RunData) {
    let s = end.run.stats;
    o.push_str("<h2>Summary</h2>\n<ul class=\"summary\">");
    let _ = write!(
        o,
        "<li>{} packets ({:.1} MB), {} TCP connections, {} UDP flows, {} DNS messages</li>",
        s.packets,
        s.bytes as f64 / 1e6,
        s.tcp_connections,
        s.udp_flows,
        s.dns_messages
    );
    if let Some(g) = end.run.go {
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let _ = write!(
            o,
            "<li>go: {}; {} ({} failed, {} recovered, {} matched to the capture), {}</li>",
            match g.exit {
                crate::go::trace::ExitKind::Unknown => "exit status not known".to_string(),
                e => esc(&e.to_string()),
            },
            plural(g.fetches, "fetch", "fetches"),
            g.failed_fetches,
            g.recovered_fetches,
            g.matched_fetches,
            plural(g.errors, "error message", "error messages")
        );
    }
    let go: Vec<String> = end
        .run
        .go_endpoints
        .iter()
        .map(|(h, n)| format!("{} ({n})", esc(h)))
        .collect();
    let _ = write!(
        o,
        "<li>Go endpoints: {}</li>",
        if go.is_empty() {
            "none seen".to_string()
        } else {
            go.join(", ")
        }
    );
    let decode: u64 = s.decode_errors.values().sum();
    let _ = write!(
        o,
        "<li>decode problems: {decode}; truncated packets: {}; evicted flows: {}; reassembly bytes dropped: {}; missed bytes: {}</li>",
        s.truncated_packets, s.evicted_flows, s.reassembly_dropped_bytes, s.missed_bytes
    );
    if end.run.reordered_packets > 0 {
        let _ = write!(
            o,
            "<li>packets out of time order in the file, put back in order (frames keep their numbers): {}</li>",
            end.run.reordered_packets
        );
    }
    if let Some(k) = &s.kernel {
        let _ = write!(
            o,
            "<li>kernel: {} received, {} dropped, {} dropped by the interface</li>",
            k.received, k.dropped, k.if_dropped
        );
    }
    if let Some(x) = end.run.extract {
        let _ = write!(
            o,
            "<li>extract: {} packets written to <code>{}</code></li>",
            x.packets,
            esc(&x.file)
        );
    }
    if end.run.findings_dropped > 0 {
        let _ = write!(
            o,
            "<li>findings not kept: {}</li>",
            end.run.findings_dropped
        );
    }
    if run.not_kept > 0 || run.dns_not_kept > 0 {
        let _ = write!(
            o,
            "<li>details not kept for this page: {} connections, {} DNS queries (bounds {MAX_KEPT} and {MAX_DNS_KEPT})</li>",
            run.not_kept, run.dns_not_kept
        );
    }
    for w in end.run.warnings {
        let _ = write!(o, "<li class=\"warn\">warning: {}</li>", esc(w));
    }
    o.push_str("</ul>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_controls_and_bidi() {
        assert_eq!(
            esc("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        assert_eq!(esc("a\u{0}b\u{202e}c\u{1b}"), "a\\u{0}b\\u{202e}c\\u{1b}");
        assert_eq!(esc("proxy.golang.org"), "proxy.golang.org");
    }

    #[test]
    fn base64_as_csp_hashes_want() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        // sha256 of nothing, as CSP hash sources write it.
        assert_eq!(
            sha256_b64(""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn cut_keeps_characters_whole() {
        assert_eq!(cut("héllo", 2), "hé…");
        assert_eq!(cut("hé", 2), "hé");
    }
}
