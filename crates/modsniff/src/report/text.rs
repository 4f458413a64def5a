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
use std::fs::File;
use std::io::{self, Seek, Write};

pub struct TextPrinter<W> {
    out: W,
    style: Style,
    /// `-v`: the rows of the connection table, printed as connections end and kept until the
    /// run ends (the table comes after the findings).
    rows: Option<RowSpool>,
}

impl<W: Write> TextPrinter<W> {
    pub fn new(out: W, color: bool, verbose: bool) -> Self {
        TextPrinter {
            out,
            style: Style { color },
            rows: verbose.then(RowSpool::default),
        }
    }
}

/// The `-v` table's rows, already formatted, in an unnamed temporary file: held in memory they
/// grew with the capture (60 MiB more peak RSS for the quarter bench corpus's 80k
/// connections); a few rows stay in memory.
#[derive(Default)]
struct RowSpool {
    /// Rows not yet written to `file`.
    buf: Vec<u8>,
    /// Created when `buf` first outgrows `ROW_SPOOL_MEMORY`.
    file: Option<File>,
}

/// Bytes of rows kept in memory before they go to the temporary file.
const ROW_SPOOL_MEMORY: usize = 1 << 16;

impl RowSpool {
    fn push(&mut self, row: &ConnRow) -> io::Result<()> {
        row.write(&mut self.buf);
        if self.buf.len() >= ROW_SPOOL_MEMORY {
            let file = match &mut self.file {
                Some(f) => f,
                None => self.file.insert(tempfile::tempfile()?),
            };
            file.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Writes the rows to `out` and starts over empty.
    fn drain_to(&mut self, out: &mut impl Write) -> io::Result<()> {
        if let Some(mut f) = self.file.take() {
            f.rewind()?;
            io::copy(&mut f, out)?;
        }
        out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

impl<W: Write> Printer for TextPrinter<W> {
    fn connection(&mut self, c: &Connection, _: Option<&GoInfo>) -> io::Result<()> {
        if let Some(rows) = self.rows.as_mut() {
            let tls = c.tls.as_deref();
            rows.push(&ConnRow {
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
                ja4: escaped(tls.and_then(|t| t.ja4()).unwrap_or_default()),
                issuer: escaped(&tls.and_then(|t| t.leaf_issuer()).unwrap_or_default()),
            })?;
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
        let (s, table_end) = render(end, self.rows.is_some(), self.style);
        self.out.write_all(&s.as_bytes()[..table_end])?;
        if let Some(rows) = self.rows.as_mut() {
            rows.drain_to(&mut self.out)?;
        }
        self.out.write_all(&s.as_bytes()[table_end..])?;
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

impl ConnRow {
    fn write(&self, out: &mut Vec<u8>) {
        let r = self;
        let _ = writeln!(
            out,
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

/// The report, and where in it the `-v` table's rows go (its end, when there is no table).
fn render(end: &RunEnd<'_>, table: bool, st: Style) -> (String, usize) {
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
                // With --extract: "frame 12, frame 3 in OUT".
                match end
                    .extract
                    .and_then(|x| x.frame(e.packet).map(|n| (n, &x.file)))
                {
                    Some((n, file)) => {
                        let _ = writeln!(
                            o,
                            "    frame {:>6}, frame {n} in {file}  {}",
                            e.packet, e.note
                        );
                    }
                    None => {
                        let _ = writeln!(o, "    frame {:>6}  {}", e.packet, e.note);
                    }
                }
            }
        }
        if let Some(r) = &f.remedy {
            let _ = writeln!(o, "  remedy:   {r}");
        }
    }
    if infos > 0 || errors + warnings > 0 {
        let _ = writeln!(o);
    }
    let mut rows_at = None;
    if table {
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
        rows_at = Some(o.len());
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
    if end.reordered_packets > 0 {
        let _ = writeln!(
            o,
            "  packets out of time order in the file, put back in order (frames keep their numbers): {}",
            end.reordered_packets
        );
    }
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
    if s.kept_bytes_refusals > 0 {
        let _ = writeln!(
            o,
            "  not kept (all live connections together held max_kept_bytes): {} (HTTP transactions {}, certificate names {})",
            s.kept_bytes_refusals, s.http.dropped_transactions, s.san_entries_dropped
        );
    }
    if end.findings_dropped > 0 {
        let _ = writeln!(
            o,
            "  findings not shown: {} (warnings beyond 8 of a kind per target, or past the cap of 10,000)",
            end.findings_dropped
        );
    }
    if let Some(x) = end.extract {
        let _ = writeln!(
            o,
            "  extract: {} ({}){} written to {}",
            count(x.packets, "packet"),
            if x.all_kept {
                "every packet the filter kept".to_string()
            } else {
                format!(
                    "{}, {}",
                    count(x.connections, "connection"),
                    if x.dns == 1 {
                        "1 DNS query".to_string()
                    } else {
                        format!("{} DNS queries", x.dns)
                    }
                )
            },
            if x.packets > 0 && x.first_frame > 1 {
                format!(
                    " as frames {}-{}",
                    x.first_frame,
                    x.first_frame + x.packets - 1
                )
            } else {
                String::new()
            },
            x.file
        );
        let missing = x.cited.saturating_sub(x.frames.len() as u64);
        if missing > 0 {
            let _ = writeln!(
                o,
                "  {} {missing} of the {} frames the findings cite are not in {}",
                st.yellow("warning:"),
                x.cited,
                x.file
            );
        }
    }
    for w in end.warnings {
        let _ = writeln!(o, "  {} {}", st.yellow("warning:"), escape(w));
    }
    let at = rows_at.unwrap_or(o.len());
    (o, at)
}

/// "1 packet", "2 packets".
fn count(n: u64, what: &str) -> String {
    let plural = if n == 1 {
        ""
    } else if what.ends_with("ch") {
        "es"
    } else {
        "s"
    };
    format!("{n} {what}{plural}")
}

#[cfg(test)]
mod row_spool_tests {
    use super::*;

    fn row(id: u64) -> ConnRow {
        ConnRow {
            id,
            proto: "tcp",
            client: format!("10.0.{}.{}:40000", id / 250, id % 250),
            server: "192.0.2.1:443".into(),
            state: "SF",
            history: "ShADadFf".into(),
            bytes: (id, 2 * id),
            name: "proxy.golang.org".into(),
            alpn: "h2".into(),
            ja4: "t13d1312h2_f57a46bbacb6_f50d94e863eb".into(),
            issuer: "CN=x".into(),
        }
    }

    /// Rows past the memory share go to the temporary file and come back whole and in order,
    /// with the rows still in memory after them; a second run starts empty.
    #[test]
    fn rows_spill_to_the_file_and_come_back_in_order() {
        let mut spool = RowSpool::default();
        let mut expected = Vec::new();
        let n = 3 * ROW_SPOOL_MEMORY as u64 / 100;
        for id in 0..n {
            row(id).write(&mut expected);
            spool.push(&row(id)).unwrap();
        }
        assert!(spool.file.is_some(), "{n} rows stayed in memory");
        assert!(spool.buf.len() < ROW_SPOOL_MEMORY);
        let mut out = Vec::new();
        spool.drain_to(&mut out).unwrap();
        assert_eq!(out, expected);

        spool.push(&row(7)).unwrap();
        let (mut again, mut one) = (Vec::new(), Vec::new());
        spool.drain_to(&mut again).unwrap();
        row(7).write(&mut one);
        assert_eq!(again, one);
    }
}
