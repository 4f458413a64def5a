//! Reporters: NDJSON (streamed), one JSON document, or the text report.

pub mod ndjson;
pub mod text;
pub mod wire;

use crate::cli::{ColorChoice, Format, OutputArgs};
use crate::diagnose::{Finding, Severity};
use modsniff_core::Connection;
use modsniff_core::DnsRecord;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Write};
use text::{ConnRow, Style, Summary};
use wire::*;

/// Which records to print (`--host`, `--port`, `--server-name`); the diagnosis sees all.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub hosts: Vec<String>,
    pub ports: Vec<u16>,
    pub names: Vec<String>,
}

impl Selection {
    pub fn from_args(a: &OutputArgs) -> Self {
        Selection {
            hosts: a.hosts.clone(),
            ports: a.ports.clone(),
            names: a
                .server_names
                .iter()
                .map(|n| n.to_ascii_lowercase())
                .collect(),
        }
    }
    pub fn is_all(&self) -> bool {
        self.hosts.is_empty() && self.ports.is_empty() && self.names.is_empty()
    }
    fn name_ok(&self, name: Option<&str>) -> bool {
        self.names.is_empty()
            || name.is_some_and(|n| {
                let n = n.to_ascii_lowercase();
                self.names
                    .iter()
                    .any(|s| n == *s || n.ends_with(&format!(".{s}")))
            })
    }
    fn host_ok(&self, addrs: &[std::net::IpAddr], name: Option<&str>) -> bool {
        self.hosts.is_empty()
            || self.hosts.iter().any(|h| {
                addrs.iter().any(|a| a.to_string() == *h)
                    || name.is_some_and(|n| n.eq_ignore_ascii_case(h))
            })
    }
    pub fn connection(&self, c: &Connection) -> bool {
        self.is_all()
            || (self.host_ok(&[c.client.ip(), c.server.ip()], c.server_name.as_deref())
                && (self.ports.is_empty()
                    || self.ports.contains(&c.client.port())
                    || self.ports.contains(&c.server.port()))
                && self.name_ok(c.server_name.as_deref()))
    }
    pub fn dns(&self, r: &DnsRecord) -> bool {
        self.is_all()
            || (self.host_ok(&[r.client.ip(), r.server.ip()], r.qname.as_deref())
                && (self.ports.is_empty()
                    || self.ports.contains(&r.server.port())
                    || self.ports.contains(&r.client.port()))
                && self.name_ok(r.qname.as_deref()))
    }
    pub fn finding(&self, f: &Finding) -> bool {
        if self.is_all() {
            return true;
        }
        let server: Option<std::net::SocketAddr> = f.server.as_deref().and_then(|s| s.parse().ok());
        let ips: Vec<std::net::IpAddr> = server.iter().map(|s| s.ip()).collect();
        self.host_ok(&ips, f.server_name.as_deref())
            && (self.ports.is_empty() || server.is_some_and(|s| self.ports.contains(&s.port())))
            && self.name_ok(f.server_name.as_deref())
    }
}

/// The JSON document of `--format json`: the same records as NDJSON, grouped by type.
#[derive(Default, Serialize)]
struct JsonDoc {
    connections: Vec<serde_json::Value>,
    dns: Vec<serde_json::Value>,
    findings: Vec<serde_json::Value>,
    stats: Vec<serde_json::Value>,
}

/// What makes a finding printed early (live) the same as one in the final list: the final
/// list orders evidence by frame, so the records themselves may differ in that order.
fn early_key(f: &Finding) -> String {
    format!(
        "{} {:?} {:?} {}",
        f.kind.as_str(),
        f.connection,
        f.server,
        f.summary
    )
}

/// Writes one run's output.
pub struct Reporter {
    format: Format,
    out: io::BufWriter<Box<dyn Write + Send>>,
    pub selection: Selection,
    verbose: bool,
    style: Style,
    doc: Option<JsonDoc>,
    rows: Vec<ConnRow>,
    /// Stop writing (the reader went away: broken pipe).
    closed: bool,
    /// The findings `early_finding` printed (live, NDJSON), by `early_key`, so that `finish`
    /// does not print them again. Bounded by the diagnosis's cap on findings.
    early: std::collections::HashSet<String>,
    /// One NDJSON record at a time (`ndjson`), reused: its capacity grows to the largest
    /// record and stays.
    scratch: Vec<u8>,
}

pub fn wants_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && io::stdout().is_terminal()
        }
    }
}

impl Reporter {
    pub fn new(args: &OutputArgs, out: Box<dyn Write + Send>) -> Self {
        Reporter {
            format: args.format,
            out: io::BufWriter::with_capacity(1 << 16, out),
            selection: Selection::from_args(args),
            verbose: args.verbose,
            style: Style {
                color: args.format == Format::Text && wants_color(args.color),
            },
            doc: (args.format == Format::Json).then(JsonDoc::default),
            rows: Vec::new(),
            closed: false,
            early: std::collections::HashSet::new(),
            scratch: Vec::new(),
        }
    }

    fn line<T: Serialize>(&mut self, rec: &T) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        serde_json::to_writer(&mut self.out, rec)?;
        self.out.write_all(b"\n")
    }

    /// Writes the record `fill` put into the scratch buffer, and its newline.
    fn line_with(&mut self, fill: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        fill(&mut buf);
        buf.push(b'\n');
        let r = self.out.write_all(&buf);
        self.scratch = buf;
        r
    }

    fn check(&mut self, r: io::Result<()>) -> io::Result<()> {
        match r {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }

    pub fn connection(&mut self, c: &Connection, go: Option<GoInfo>) -> io::Result<()> {
        if !self.selection.connection(c) {
            return Ok(());
        }
        match self.format {
            Format::Ndjson => {
                // `ndjson::connection` writes what `ConnectionRecord` serializes to.
                let r = self.line_with(|b| ndjson::connection(b, c, go.as_ref()));
                self.check(r)
            }
            Format::Json => {
                let v = serde_json::to_value(ConnectionRecord {
                    ty: "connection",
                    conn: c,
                    go,
                })
                .map_err(io::Error::other)?;
                if let Some(d) = self.doc.as_mut() {
                    d.connections.push(v);
                }
                Ok(())
            }
            Format::Text => {
                if self.verbose {
                    let tls = c.tls.as_deref();
                    self.rows.push(ConnRow {
                        id: c.id,
                        proto: if c.transport == modsniff_core::Transport::Tcp {
                            "tcp"
                        } else {
                            "udp"
                        },
                        client: c.client.to_string(),
                        server: c.server.to_string(),
                        state: c.state,
                        history: c.history.clone(),
                        bytes: (c.client_stats.bytes, c.server_stats.bytes),
                        name: c.server_name.clone().unwrap_or_default(),
                        alpn: tls.and_then(|t| t.alpn_first()).unwrap_or_default(),
                        ja4: tls.and_then(|t| t.ja4()).unwrap_or_default(),
                        issuer: tls.and_then(|t| t.leaf_issuer()).unwrap_or_default(),
                    });
                }
                Ok(())
            }
        }
    }

    pub fn dns(&mut self, r: &DnsRecord) -> io::Result<()> {
        if !self.selection.dns(r) {
            return Ok(());
        }
        match self.format {
            Format::Ndjson => {
                // `ndjson::dns` writes what `DnsOut` serializes to.
                let res = self.line_with(|b| ndjson::dns(b, r));
                self.check(res)
            }
            Format::Json => {
                let v =
                    serde_json::to_value(DnsOut { ty: "dns", rec: r }).map_err(io::Error::other)?;
                if let Some(d) = self.doc.as_mut() {
                    d.dns.push(v);
                }
                Ok(())
            }
            Format::Text => Ok(()),
        }
    }

    /// A finding reported while the capture is still running (live).
    pub fn early_finding(&mut self, f: &Finding) -> io::Result<()> {
        if !self.selection.finding(f) {
            return Ok(());
        }
        match self.format {
            Format::Ndjson => {
                // Flushed: a live finding is news only while it is happening.
                let r = self
                    .line(&FindingRecord {
                        ty: "finding",
                        finding: f,
                    })
                    .and_then(|_| self.out.flush());
                self.early.insert(early_key(f));
                self.check(r)
            }
            Format::Text => {
                let st = self.style;
                let word = match f.severity {
                    Severity::Error => st.red("error"),
                    Severity::Warning => st.yellow("warning"),
                    Severity::Info => st.dim("info"),
                };
                let r = writeln!(self.out, "{word} [{}] {}", f.kind.as_str(), f.summary)
                    .and_then(|_| self.out.flush());
                self.check(r)
            }
            Format::Json => Ok(()),
        }
    }

    /// The end of a run: findings, then the stats record (NDJSON/JSON) or the text report.
    pub fn finish(
        &mut self,
        findings: &[Finding],
        summary: &Summary<'_>,
        skip_findings: bool,
    ) -> io::Result<()> {
        let shown: Vec<&Finding> = findings
            .iter()
            .filter(|f| self.selection.finding(f))
            .collect();
        let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
        for f in findings {
            *counts
                .entry(match f.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                    Severity::Info => "info",
                })
                .or_insert(0) += 1;
        }
        let verdict = if counts.contains_key("error") {
            "error"
        } else if counts.contains_key("warning") {
            "warning"
        } else {
            "ok"
        };
        let stats = StatsRecord {
            ty: "stats",
            source: summary.source,
            stats: summary.stats,
            findings: counts,
            findings_dropped: summary.findings_dropped,
            diagnosis_tracking_dropped: summary.tracking_dropped,
            capture_warnings: summary.warnings.to_vec(),
            go_endpoints: summary.go_endpoints,
            verdict,
        };
        match self.format {
            Format::Ndjson => {
                if !skip_findings {
                    for f in &shown {
                        // Printed already while the capture ran (live): once is the contract.
                        if self.early.remove(&early_key(f)) {
                            continue;
                        }
                        let r = self.line(&FindingRecord {
                            ty: "finding",
                            finding: f,
                        });
                        self.check(r)?;
                    }
                }
                let r = self.line(&stats);
                self.check(r)?;
            }
            Format::Json => {
                let mut doc = self.doc.take().unwrap_or_default();
                for f in &shown {
                    doc.findings.push(
                        serde_json::to_value(FindingRecord {
                            ty: "finding",
                            finding: f,
                        })
                        .map_err(io::Error::other)?,
                    );
                }
                doc.stats
                    .push(serde_json::to_value(&stats).map_err(io::Error::other)?);
                self.doc = Some(doc);
            }
            Format::Text => {
                let owned: Vec<Finding> = shown.into_iter().cloned().collect();
                let rows = self.verbose.then_some(self.rows.as_slice());
                let s = text::render(&owned, summary, rows, self.style);
                let r = self.out.write_all(s.as_bytes());
                self.check(r)?;
                self.rows.clear();
            }
        }
        let r = self.out.flush();
        self.check(r)
    }

    /// After the last run: writes the JSON document (`--format json`).
    pub fn close(&mut self) -> io::Result<()> {
        if let Some(doc) = self.doc.take() {
            let r = serde_json::to_writer_pretty(&mut self.out, &doc)
                .map_err(io::Error::other)
                .and_then(|_| self.out.write_all(b"\n"))
                .and_then(|_| self.out.flush());
            self.check(r)?;
        }
        Ok(())
    }
}
