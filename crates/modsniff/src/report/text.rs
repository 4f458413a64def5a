//! `--format text`: the report for people. The verdict first, one block per finding (what,
//! who, the go error it explains, the frames that prove it, what to change), then a summary;
//! with `-v`, a table of every connection.

use super::terminal::{escape, escaped};
use super::{Printer, Reported, RunEnd};
use crate::analyze::GoInfo;
use crate::diagnose::{Finding, FindingKind, Severity};
use modsniff_core::Connection;
use modsniff_core::Evidence;
use modsniff_core::Transport;
use modsniff_core::dns::DnsRecord;
use std::fmt::Write as _;
use std::io::{self, Write};

pub struct TextPrinter<W> {
    out: W,
    style: Style,
    /// `-v`: the rows of the connection table, gathered until the run ends.
    rows: Option<Vec<ConnRow>>,
}

impl<W: Write> TextPrinter<W> {
    pub fn new(out: W, color: bool, verbose: bool) -> Self {
        TextPrinter {
            out,
            style: Style { color },
            rows: verbose.then(Vec::new),
        }
    }
}

impl<W: Write> Printer for TextPrinter<W> {
    fn connection(&mut self, c: &Connection, _: Option<&GoInfo>) -> io::Result<()> {
        if let Some(rows) = self.rows.as_mut() {
            let tls = c.tls.as_deref();
            rows.push(ConnRow {
                id: c.id,
                proto: if c.transport == Transport::Tcp {
                    "tcp"
                } else {
                    "udp"
                },
                client: c.client.to_string(),
                server: c.server.to_string(),
                state: c.state,
                history: c.history.clone(),
                bytes: (c.client_stats.bytes, c.server_stats.bytes),
                name: escaped(c.server_name.as_deref().unwrap_or_default()),
                alpn: escaped(&tls.and_then(|t| t.alpn_first()).unwrap_or_default()),
                ja4: escaped(&tls.and_then(|t| t.ja4()).unwrap_or_default()),
                issuer: escaped(&tls.and_then(|t| t.leaf_issuer()).unwrap_or_default()),
            });
        }
        Ok(())
    }

    fn dns(&mut self, _: &DnsRecord) -> io::Result<()> {
        Ok(())
    }

    /// One line, flushed: a live finding is news only while it is happening.
    fn early_finding(&mut self, f: &Finding) -> io::Result<()> {
        let st = self.style;
        let word = match f.severity {
            Severity::Error => st.red("error"),
            Severity::Warning => st.yellow("warning"),
            Severity::Info => st.dim("info"),
        };
        writeln!(
            self.out,
            "{word} [{}] {}",
            f.kind.as_str(),
            escape(&f.summary)
        )?;
        self.out.flush()
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        let s = render(end, self.rows.as_deref(), self.style);
        self.out.write_all(s.as_bytes())?;
        if let Some(rows) = self.rows.as_mut() {
            rows.clear();
        }
        self.out.flush()
    }

    fn close(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// ANSI styling, or none.
#[derive(Clone, Copy)]
struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn red(&self, s: &str) -> String {
        self.paint("1;31", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }
    pub fn green(&self, s: &str) -> String {
        self.paint("1;32", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
}

/// One row of the `-v` connection table.
#[derive(Clone, Debug)]
struct ConnRow {
    pub id: u64,
    pub proto: &'static str,
    pub client: String,
    pub server: String,
    pub state: &'static str,
    pub history: String,
    pub bytes: (u64, u64),
    pub name: String,
    pub alpn: String,
    pub ja4: String,
    pub issuer: String,
}

fn severity_word(s: Severity, st: Style) -> String {
    match s {
        Severity::Error => st.red("error  "),
        Severity::Warning => st.yellow("warning"),
        Severity::Info => st.dim("info   "),
    }
}

/// `f` with every string it quotes from the wire escaped for the terminal. Every field is
/// named, so that a new one is a compile error here, not raw bytes on someone's screen.
fn for_terminal(r: &Reported) -> Reported {
    let Reported {
        finding: f,
        go_error,
        recovered,
    } = r;
    let Finding {
        stage,
        kind,
        severity,
        actor,
        connection,
        server_name,
        server,
        summary,
        likely_go_error,
        remedy,
        evidence,
    } = f;
    let opt = |s: &Option<String>| s.as_deref().map(escaped);
    let finding = Finding {
        stage: *stage,
        kind: *kind,
        severity: *severity,
        actor: *actor,
        connection: *connection,
        server_name: opt(server_name),
        server: opt(server),
        summary: escaped(summary),
        likely_go_error: opt(likely_go_error),
        remedy: opt(remedy),
        evidence: evidence
            .iter()
            .map(|e| Evidence {
                note: escaped(&e.note),
                ..e.clone()
            })
            .collect(),
    };
    Reported {
        finding,
        // Escaped line by line where it is printed (its tabs and newlines are go's layout).
        go_error: go_error.clone(),
        recovered: *recovered,
    }
}

fn render(end: &RunEnd<'_>, rows: Option<&[ConnRow]>, st: Style) -> String {
    let findings: Vec<Reported> = end.findings.iter().map(|r| for_terminal(r)).collect();
    let findings = &findings;
    let mut o = String::new();
    let errors = findings
        .iter()
        .filter(|r| r.finding.severity == Severity::Error)
        .count();
    let warnings = findings
        .iter()
        .filter(|r| r.finding.severity == Severity::Warning)
        .count();
    let infos = findings.len() - errors - warnings;
    // A capture cut short never reads "OK": what is missing is said instead.
    let incomplete = findings
        .iter()
        .find_map(|r| crate::diagnose::capture::verdict_note(&r.finding));
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    // go failed and the capture shows no fault: that is the verdict, in its own words.
    let go_failed = findings
        .iter()
        .filter(|r| r.finding.severity == Severity::Error)
        .all(|r| r.finding.kind == FindingKind::GoFailed)
        .then(|| {
            findings
                .iter()
                .find(|r| r.finding.kind == FindingKind::GoFailed)
        })
        .flatten()
        .map(|r| {
            let s = &r.finding.summary;
            s.split_once("network fault.")
                .map_or(s.clone(), |(head, _)| format!("{head}network fault"))
        });
    let head = if let Some(why) = go_failed {
        st.red(&format!("FAILED: {why}"))
    } else if errors > 0 {
        st.red(&format!("FAILED: {errors} error{}", plural(errors)))
    } else if let Some(note) = &incomplete {
        st.yellow(&format!("INCOMPLETE: {note}"))
    } else if warnings > 0 {
        st.yellow(&format!("OK with {warnings} warning{}", plural(warnings)))
    } else {
        st.green("OK: no problem found")
    };
    let tail = match (&incomplete, errors > 0) {
        (Some(note), true) => format!("; INCOMPLETE: {note}"),
        (Some(_), false) if warnings > 1 => {
            format!(", {} other warning{}", warnings - 1, plural(warnings - 1))
        }
        _ => String::new(),
    };
    let _ = writeln!(
        o,
        "{head}{}{tail}  {}",
        if errors > 0 && warnings > 0 {
            format!(", {warnings} warning{}", plural(warnings))
        } else {
            String::new()
        },
        st.dim(&format!(
            "[{}: {}, {}]",
            escape(end.source),
            count(end.stats.packets, "packet"),
            count(end.stats.tcp_connections, "TCP connection")
        ))
    );
    // One line per finding: the ten-second view, with what go said when it is known.
    for r in findings
        .iter()
        .filter(|r| r.finding.severity != Severity::Info)
    {
        let f = &r.finding;
        let target = f
            .server_name
            .clone()
            .or_else(|| f.server.clone())
            .unwrap_or_else(|| "?".into());
        let said = r
            .go_error
            .as_deref()
            .map(|g| format!("  -> {}", escape(g.lines().next().unwrap_or(g))))
            .or_else(|| f.likely_go_error.as_ref().map(|g| format!("  -> {g}")))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "  {} {:<9} {:<26} {:<24} by {}{said}",
            severity_word(f.severity, st),
            format!("{:?}", f.stage).to_lowercase(),
            f.kind.as_str(),
            target,
            format!("{:?}", f.actor).to_lowercase(),
        );
    }
    for r in findings {
        let f = &r.finding;
        let _ = writeln!(o);
        let target = match (&f.server_name, &f.server) {
            (Some(n), Some(s)) => format!("{n} ({s})"),
            (Some(n), None) => n.clone(),
            (None, Some(s)) => s.clone(),
            (None, None) => "?".into(),
        };
        let _ = writeln!(
            o,
            "{} {} {} {}{}",
            severity_word(f.severity, st),
            st.bold(&format!(
                "[{}/{}]",
                format!("{:?}", f.stage).to_lowercase(),
                f.kind.as_str()
            )),
            target,
            st.dim(&format!(
                "actor: {}",
                format!("{:?}", f.actor).to_lowercase()
            )),
            if r.recovered {
                st.dim(" (go recovered)")
            } else {
                String::new()
            }
        );
        // What go said comes first: it is what the reader came with.
        if let Some(g) = &r.go_error {
            for (i, line) in g.lines().enumerate() {
                let lead = if i == 0 { "go said: " } else { "         " };
                // go indents its continuation lines with a tab: four spaces line them up.
                // go quotes what servers answered (`server response: ...`): escaped.
                let line = match line.strip_prefix('\t') {
                    Some(rest) => format!("    {}", escape(rest)),
                    None => escaped(line),
                };
                let _ = writeln!(o, "{}", format!("  {lead}{line}").trim_end());
            }
        }
        let _ = writeln!(o, "  {}", f.summary);
        if r.go_error.is_none()
            && let Some(g) = &f.likely_go_error
        {
            let _ = writeln!(o, "  go error: {g}");
        }
        if !f.evidence.is_empty() {
            let _ = writeln!(o, "  evidence:");
            for e in &f.evidence {
                let _ = writeln!(o, "    frame {:>6}  {}", e.packet, e.note);
            }
        }
        if let Some(r) = &f.remedy {
            let _ = writeln!(o, "  remedy:   {r}");
        }
    }
    if infos > 0 || errors + warnings > 0 {
        let _ = writeln!(o);
    }
    if let Some(rows) = rows {
        let _ = writeln!(o, "{}", st.bold("Connections"));
        let _ = writeln!(
            o,
            "  {:>5} {:<4} {:<22} {:<22} {:<6} {:<12} {:>9} {:>9}  {:<28} {:<8} {:<18} issuer",
            "id",
            "pro",
            "client",
            "server",
            "state",
            "history",
            "c bytes",
            "s bytes",
            "server name",
            "alpn",
            "ja4"
        );
        for r in rows {
            let _ = writeln!(
                o,
                "  {:>5} {:<4} {:<22} {:<22} {:<6} {:<12} {:>9} {:>9}  {:<28} {:<8} {:<18} {}",
                r.id,
                r.proto,
                r.client,
                r.server,
                r.state,
                r.history,
                r.bytes.0,
                r.bytes.1,
                r.name,
                r.alpn,
                r.ja4,
                r.issuer
            );
        }
        let _ = writeln!(o);
    }
    let s = end.stats;
    let _ = writeln!(o, "{}", st.bold("Summary"));
    let _ = writeln!(
        o,
        "  {} ({:.1} MB), {}, {}, {}",
        count(s.packets, "packet"),
        s.bytes as f64 / 1e6,
        count(s.tcp_connections, "TCP connection"),
        count(s.udp_flows, "UDP flow"),
        count(s.dns_messages, "DNS message")
    );
    if let Some(g) = end.go {
        let _ = writeln!(
            o,
            "  go: {}; {} ({} failed, {} recovered, {} matched to the capture), {}",
            match g.exit {
                crate::go::trace::ExitKind::Unknown => "exit status not known".to_string(),
                e => e.to_string(),
            },
            count(g.fetches, "fetch"),
            g.failed_fetches,
            g.recovered_fetches,
            g.matched_fetches,
            count(g.errors, "error message")
        );
    }
    if end.go_endpoints.is_empty() {
        let _ = writeln!(
            o,
            "  Go endpoints: none seen (no connection named a module proxy, checksum database or VCS host)"
        );
    } else {
        let list: Vec<String> = end
            .go_endpoints
            .iter()
            .map(|(h, n)| format!("{} ({n})", escape(h)))
            .collect();
        let _ = writeln!(o, "  Go endpoints: {}", list.join(", "));
    }
    let decode: u64 = s.decode_errors.values().sum();
    let _ = writeln!(
        o,
        "  decode problems: {decode}{}; truncated packets: {}; evicted flows: {}; reassembly bytes dropped: {}; missed bytes: {}",
        if decode > 0 {
            format!(
                " ({})",
                s.decode_errors
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            String::new()
        },
        s.truncated_packets,
        s.evicted_flows,
        s.reassembly_dropped_bytes,
        s.missed_bytes
    );
    if end.tracking_dropped > 0 {
        let _ = writeln!(
            o,
            "  names/addresses the diagnosis could not remember (maps full): {}",
            end.tracking_dropped
        );
    }
    if let Some(k) = &s.kernel {
        let _ = writeln!(
            o,
            "  kernel: {} received, {} dropped, {} dropped by the interface",
            k.received, k.dropped, k.if_dropped
        );
    }
    if end.findings_dropped > 0 {
        let _ = writeln!(
            o,
            "  findings not shown: {} (warnings beyond 8 of a kind per target, or past the cap of 10,000)",
            end.findings_dropped
        );
    }
    for w in end.warnings {
        let _ = writeln!(o, "  {} {}", st.yellow("warning:"), escape(w));
    }
    o
}

/// "1 packet", "2 packets".
fn count(n: u64, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}
