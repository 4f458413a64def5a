//! Printers: one per format behind one trait (ripgrep's `Standard`, `JSON`, `Summary`), fed by
//! the analysis, and the records they print (`records`, the contract).
//!
//! - [`NdjsonPrinter`]: one record per line, each as soon as it is known.
//! - [`JsonPrinter`]: the same records as one document, grouped by type, streamed.
//! - [`TextPrinter`]: the report for people.
//! - [`HtmlPrinter`]: the report as one self-contained page (`--format html`, `--html FILE`).
//!
//! What to print comes in [`PrintSettings`], which the command line builds: nothing here
//! reads arguments or the environment.

pub mod html;
mod json;
mod ndjson;
pub mod output;
pub mod records;
mod terminal;
mod text;

pub use html::HtmlPrinter;
pub use json::JsonPrinter;
pub use ndjson::NdjsonPrinter;
pub use records::FindingCounts;
pub use text::TextPrinter;

use crate::analyze::GoInfo;
use crate::diagnose::Finding;
use crate::join::{GoSummary, JoinedFetch};
use modsniff_core::dns::DnsRecord;
use modsniff_core::{Connection, Stats};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// The output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Ndjson,
    Html,
}

/// How a run is printed.
#[derive(Clone, Debug)]
pub struct PrintSettings {
    pub format: Format,
    /// ANSI colours in the text report.
    pub color: bool,
    /// The text report's table of every connection.
    pub verbose: bool,
    pub selection: Selection,
    /// The fleet fields on every record (`live`, `run`; `read --fleet`), for this writer.
    pub fleet: Option<records::FleetIdentity>,
}

/// A finding as printed: the diagnosis's, with what the go command said about it.
#[derive(Clone, Debug)]
pub struct Reported {
    pub finding: Finding,
    /// go's own error message about it, exactly as go printed it.
    pub go_error: Option<String>,
    /// A real fault that go recovered from (a GOPROXY entry that failed before the next one
    /// served, a retry that worked): it does not fail the run.
    pub recovered: bool,
}

impl From<Finding> for Reported {
    fn from(finding: Finding) -> Self {
        Reported {
            finding,
            go_error: None,
            recovered: false,
        }
    }
}

/// The end of one run (one capture file, or one live capture), as the printers see it.
#[derive(Clone, Copy)]
pub struct RunEnd<'a> {
    /// The findings to print, in order.
    pub findings: &'a [&'a Reported],
    /// go's fetches, joined to the connections (`run`, `read --go-stderr`).
    pub fetches: &'a [&'a JoinedFetch],
    /// How the go command ran, when there was one.
    pub go: Option<&'a GoSummary>,
    pub stats: &'a Stats,
    /// The capture file (or interface).
    pub source: &'a str,
    /// Every finding of the run by severity, printed or not.
    pub counts: FindingCounts,
    pub findings_dropped: u64,
    /// Names and addresses the diagnosis could not remember (bounded maps full).
    pub tracking_dropped: u64,
    /// Packets the capture reader's reorder window put back in time order (the file held
    /// them after later-stamped ones).
    pub reordered_packets: u64,
    pub warnings: &'a [String],
    pub go_endpoints: &'a BTreeMap<String, u64>,
    /// `--extract OUT`: what this run put in OUT, and where the cited frames went.
    pub extract: Option<&'a ExtractSummary>,
}

/// What one run extracted (`--extract OUT`, `read -w OUT`).
#[derive(Clone, Debug, Default)]
pub struct ExtractSummary {
    /// The file, as given.
    pub file: String,
    /// Packets of this run written to it.
    pub packets: u64,
    /// Its frame number of this run's first packet (files of earlier runs come first).
    pub first_frame: u64,
    /// Connections (TCP connections, UDP flows) and DNS queries extracted.
    pub connections: u64,
    pub dns: u64,
    /// Each frame a finding cites and its frame number in the file, by frame; a cited frame
    /// the file lacks (another link type, a spool overflow) is absent.
    pub frames: Vec<records::ExtractFrame>,
    /// How many distinct frames the findings cite.
    pub cited: u64,
    /// Every packet a filter expression kept was written (no connection was chosen).
    pub all_kept: bool,
}

impl ExtractSummary {
    /// Its frame number in the file of the capture's frame `n`.
    pub fn frame(&self, n: u64) -> Option<u64> {
        let i = self.frames.binary_search_by_key(&n, |f| f.packet).ok()?;
        self.frames.get(i).map(|f| f.extract_packet)
    }
}

impl<'a> RunEnd<'a> {
    /// The stats record's view of it.
    pub fn stats_record(&self) -> records::StatsRecord<'a> {
        records::StatsRecord::new(self)
    }
}

/// What the analysis drives: records as they are known, then the end of each run, then the
/// end of the output. An `Err` is an error writing the output (a reader that went away is not
/// one: see [`PipeGuard`]).
pub trait Printer {
    /// A TCP connection or UDP flow ended.
    fn connection(&mut self, c: &Connection, go: Option<&GoInfo>) -> io::Result<()>;
    /// A DNS query was answered, or given up on.
    fn dns(&mut self, r: &DnsRecord) -> io::Result<()>;
    /// A finding while the capture is still running (live): provisional, the run's end
    /// gives the final list.
    fn early_finding(&mut self, f: &Finding) -> io::Result<()>;
    /// The run ended: its findings and counters.
    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()>;
    /// The last run ended.
    fn close(&mut self) -> io::Result<()>;
    /// Time passed (live, twice a second): what is buffered may be written out.
    // Only `live` calls it; a build without that feature has no caller.
    #[cfg_attr(not(feature = "live"), allow(dead_code))]
    fn tick(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The printer for `settings`, writing to `out`; with `html`, the HTML page is written there
/// too (`--html FILE` beside another format).
pub fn printer(
    settings: &PrintSettings,
    out: Box<dyn Write + Send>,
    html: Option<Box<dyn Write + Send>>,
) -> Box<dyn Printer + Send> {
    let out = io::BufWriter::with_capacity(1 << 16, PipeGuard::new(out));
    let mut p: Box<dyn Printer + Send> = match settings.format {
        Format::Ndjson => Box::new(NdjsonPrinter::new(out, settings.fleet.clone())),
        Format::Json => Box::new(JsonPrinter::new(out, settings.fleet.clone())),
        Format::Text => Box::new(TextPrinter::new(out, settings.color, settings.verbose)),
        Format::Html => Box::new(HtmlPrinter::new(out)),
    };
    if let Some(h) = html {
        let page = HtmlPrinter::new(io::BufWriter::with_capacity(1 << 16, h));
        p = Box::new(Both(p, Box::new(page)));
    }
    if settings.selection.is_all() {
        p
    } else {
        Box::new(Selected {
            inner: p,
            selection: settings.selection.clone(),
        })
    }
}

/// A writer whose reader may go away (`modsniff read x.pcap | head`): once a write meets a
/// broken pipe, it and every later write succeed without writing, so that the run ends as if
/// the output had been read (ripgrep's way). Other errors go up.
pub struct PipeGuard<W> {
    inner: W,
    closed: bool,
}

impl<W: Write> PipeGuard<W> {
    pub fn new(inner: W) -> Self {
        PipeGuard {
            inner,
            closed: false,
        }
    }

    fn guard<T>(&mut self, r: io::Result<T>, done: T) -> io::Result<T> {
        match r {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(done)
            }
            other => other,
        }
    }
}

impl<W: Write> Write for PipeGuard<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let r = self.inner.write(buf);
        self.guard(r, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let r = self.inner.flush();
        self.guard(r, ())
    }
}

/// Two printers fed the same run (`--format F --html FILE`).
struct Both(Box<dyn Printer + Send>, Box<dyn Printer + Send>);

impl Printer for Both {
    fn connection(&mut self, c: &Connection, go: Option<&GoInfo>) -> io::Result<()> {
        self.0.connection(c, go)?;
        self.1.connection(c, go)
    }

    fn dns(&mut self, r: &DnsRecord) -> io::Result<()> {
        self.0.dns(r)?;
        self.1.dns(r)
    }

    fn early_finding(&mut self, f: &Finding) -> io::Result<()> {
        self.0.early_finding(f)?;
        self.1.early_finding(f)
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        self.0.finish(end)?;
        self.1.finish(end)
    }

    fn close(&mut self) -> io::Result<()> {
        self.0.close()?;
        self.1.close()
    }

    fn tick(&mut self) -> io::Result<()> {
        self.0.tick()?;
        self.1.tick()
    }
}

/// Which records to print (`--host`, `--port`, `--server-name`); the diagnosis sees all.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub hosts: Vec<String>,
    pub ports: Vec<u16>,
    /// Lower case.
    pub names: Vec<String>,
}

impl Selection {
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
        self.host_ok(&[c.client.ip(), c.server.ip()], c.server_name.as_deref())
            && (self.ports.is_empty()
                || self.ports.contains(&c.client.port())
                || self.ports.contains(&c.server.port()))
            && self.name_ok(c.server_name.as_deref())
    }
    pub fn dns(&self, r: &DnsRecord) -> bool {
        self.host_ok(&[r.client.ip(), r.server.ip()], r.qname.as_deref())
            && (self.ports.is_empty()
                || self.ports.contains(&r.server.port())
                || self.ports.contains(&r.client.port()))
            && self.name_ok(r.qname.as_deref())
    }
    /// A fetch, by its URL's host and port.
    pub fn fetch(&self, f: &JoinedFetch) -> bool {
        let (host, port) = crate::join::url_host_port(&f.fetch.url).unwrap_or_default();
        let ip: Vec<std::net::IpAddr> = host.parse().into_iter().collect();
        self.host_ok(&ip, Some(&host))
            && (self.ports.is_empty() || self.ports.contains(&port))
            && self.name_ok(Some(&host))
    }
    pub fn finding(&self, f: &Finding) -> bool {
        let server: Option<std::net::SocketAddr> = f.server.as_deref().and_then(|s| s.parse().ok());
        let ips: Vec<std::net::IpAddr> = server.iter().map(|s| s.ip()).collect();
        self.host_ok(&ips, f.server_name.as_deref())
            && (self.ports.is_empty() || server.is_some_and(|s| self.ports.contains(&s.port())))
            && self.name_ok(f.server_name.as_deref())
    }
}

/// A printer that is handed only the selected records and findings. The stats record still
/// counts every finding (`RunEnd::counts`).
struct Selected {
    inner: Box<dyn Printer + Send>,
    selection: Selection,
}

impl Printer for Selected {
    fn connection(&mut self, c: &Connection, go: Option<&GoInfo>) -> io::Result<()> {
        if self.selection.connection(c) {
            self.inner.connection(c, go)?;
        }
        Ok(())
    }

    fn dns(&mut self, r: &DnsRecord) -> io::Result<()> {
        if self.selection.dns(r) {
            self.inner.dns(r)?;
        }
        Ok(())
    }

    fn early_finding(&mut self, f: &Finding) -> io::Result<()> {
        if self.selection.finding(f) {
            self.inner.early_finding(f)?;
        }
        Ok(())
    }

    fn finish(&mut self, end: &RunEnd<'_>) -> io::Result<()> {
        let shown: Vec<&Reported> = end
            .findings
            .iter()
            .copied()
            .filter(|r| self.selection.finding(&r.finding))
            .collect();
        let fetches: Vec<&JoinedFetch> = end
            .fetches
            .iter()
            .copied()
            .filter(|f| self.selection.fetch(f))
            .collect();
        self.inner.finish(&RunEnd {
            findings: &shown,
            fetches: &fetches,
            ..*end
        })
    }

    fn close(&mut self) -> io::Result<()> {
        self.inner.close()
    }

    fn tick(&mut self) -> io::Result<()> {
        self.inner.tick()
    }
}
