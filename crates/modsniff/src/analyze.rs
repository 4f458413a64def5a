//! One analysis run: packets into the engine, events into the diagnosis and the reporter.

use crate::cli::OutputArgs;
use crate::diagnose::{Diagnoser, Finding, FindingKind, Severity, Stage};
use crate::go::trace::GoTranscript;
use crate::go::{Endpoint, GoRequest, GoRole, GoSettings, paths};
use crate::join::{self, JoinedFetch};
use crate::report::{FindingCounts, Printer, Reported, RunEnd};
use crate::watch::TcpWatch;
use anyhow::{Context, Result};
use modsniff_core::tls::TlsConfig;
use modsniff_core::{Config, Connection, Engine, Limits, Packet, Timestamp};
use modsniff_core::{Event, KernelStats, Side, Stall};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

/// Engine settings from the command line.
pub fn engine_config(args: &OutputArgs) -> Result<Config> {
    let limits = Limits {
        max_flows: args.max_flows.max(1),
        memcap: (args.memcap as usize) << 20,
        ..Limits::default()
    };
    let ca = args
        .ca_file
        .clone()
        .or_else(|| std::env::var_os("SSL_CERT_FILE").map(Into::into));
    let mut tls = TlsConfig::default();
    if let Some(path) = ca {
        tls.extra_roots_der = read_pem_certs(&path)?.into();
    }
    if let Some(path) = &args.public_ca_file {
        tls.public_roots_der = read_pem_certs(path)?.into();
    }
    Ok(Config {
        limits,
        tls,
        no_app_decoders: false,
        ..Config::default()
    })
}

/// DER certificates from a PEM bundle.
pub fn read_pem_certs(path: &Path) -> Result<Vec<Vec<u8>>> {
    let data =
        std::fs::read(path).with_context(|| format!("reading CA file {}", path.display()))?;
    let mut out = Vec::new();
    for pem in x509_parser::pem::Pem::iter_from_buffer(&data) {
        let pem = pem.with_context(|| format!("{} is not a PEM file", path.display()))?;
        if pem.label == "CERTIFICATE" || pem.label == "TRUSTED CERTIFICATE" {
            out.push(pem.contents);
        }
    }
    if out.is_empty() {
        anyhow::bail!("{} holds no PEM certificate", path.display());
    }
    Ok(out)
}

/// Go settings: defaults, then `env` (the go command's environment), then `--go-env`, then flags.
pub fn go_settings(args: &OutputArgs, env: &HashMap<String, String>) -> Result<GoSettings> {
    let mut s = GoSettings::default();
    s.apply(env, "environment");
    if let Some(f) = &args.go_env {
        s.apply_go_env_file(f)?;
    }
    let mut flags = HashMap::new();
    for (k, v) in [
        ("GOPROXY", &args.goproxy),
        ("GOSUMDB", &args.gosumdb),
        ("GOPRIVATE", &args.goprivate),
        ("GONOPROXY", &args.gonoproxy),
        ("GONOSUMDB", &args.gonosumdb),
        ("HTTPS_PROXY", &args.https_proxy),
    ] {
        if let Some(v) = v {
            flags.insert(k.to_string(), v.clone());
        }
    }
    s.apply(&flags, "flags");
    Ok(s)
}

/// What a connection was to the go command.
#[derive(Clone, Debug)]
pub struct GoInfo {
    pub role: Option<GoRole>,
    /// Module and version of the first Go request seen in clear.
    pub module: Option<String>,
    pub version: Option<String>,
    pub endpoint: Option<Endpoint>,
    /// Every Go request seen in clear on this connection (when more than one).
    pub requests: Vec<GoRequest>,
}

/// What a run (or several) found: what the exit status is decided from (`main`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The highest severity among the findings.
    pub worst: Option<Severity>,
    /// `modsniff run`: the wrapped command's exit status, when it was not 0 (or it could not
    /// be known: 1).
    pub command_failed: Option<i32>,
    /// An input could not be read at all (missing, not a capture): exit status 2, after the
    /// report on the inputs that could.
    pub input_failed: bool,
    /// `read` stopped by this signal (SIGINT, SIGTERM) after reporting what it had read:
    /// exit status 128 + the signal, as a shell reports a command the signal ended.
    pub interrupted_by: Option<i32>,
}

impl Outcome {
    /// This outcome and a later run's.
    pub fn and(self, later: Outcome) -> Outcome {
        Outcome {
            worst: self.worst.max(later.worst),
            command_failed: self.command_failed.or(later.command_failed),
            input_failed: self.input_failed || later.input_failed,
            interrupted_by: self.interrupted_by.or(later.interrupted_by),
        }
    }
}

/// The Go part of a connection record.
pub fn go_info(c: &Connection, diag: &Diagnoser) -> Option<GoInfo> {
    let role = diag.role_of_connection(c);
    let requests: Vec<_> = c
        .http
        .iter()
        .filter_map(|h| h.uri.as_deref().and_then(paths::parse))
        .collect();
    if role.is_none() && requests.is_empty() {
        return None;
    }
    let first = requests.first().cloned();
    Some(GoInfo {
        role,
        module: first.as_ref().and_then(|r| r.module.clone()),
        version: first.as_ref().and_then(|r| r.version.clone()),
        endpoint: first.map(|r| r.endpoint),
        requests: if requests.len() > 1 {
            requests
        } else {
            Vec::new()
        },
    })
}

/// Packets in; records and findings out.
pub struct Analysis {
    engine: Engine,
    out: Output,
    frames: Option<u64>,
    /// Packets the reader put back in time order (`FileSource::reordered_packets`).
    reordered: u64,
    /// What the go command said (`run`, `read --go-stderr`), joined to the findings at the end.
    go: Option<GoTranscript>,
}

/// Stalls reported while a live capture runs, remembered until their connection ends.
const MAX_STALLS_KEPT: usize = 1_024;
/// Names from DNS answers remembered by address, to name the stalls core reports unnamed.
const MAX_NAMES_KEPT: usize = 4_096;

/// A stall reported live whose connection ended (or the capture did) without the server
/// sending again.
#[derive(Debug)]
struct KeptStall {
    stall: Stall,
    /// The client's FIN or RST after it: frame, time, which.
    client_close: Option<(u64, Timestamp, &'static str)>,
    end: Timestamp,
}

/// The half of an analysis after the engine: diagnosis and the reporter's records. Split
/// out so that `read --threads 2` can run it on its own thread, fed the engine's events in
/// the order the engine emitted them (so the output is the single-threaded output).
pub struct Output {
    pub diag: Diagnoser,
    /// Print findings as soon as a connection ends (live).
    live: bool,
    io_error: Option<std::io::Error>,
    /// Connections and lookups kept for joining the go command's transcript.
    seen: Option<join::Seen>,
    /// Live: the TCP connections as their packets pass.
    pub watch: Option<TcpWatch>,
    /// Live: stalls reported while running, by connection, until the connection ends.
    stalls: HashMap<u64, Stall>,
    kept_stalls: Vec<KeptStall>,
    /// Live: names from DNS answers, by address.
    names: HashMap<IpAddr, String>,
}

impl Output {
    /// Borrows the event: with `--threads 2` the engine thread frees it (glibc's frees of
    /// another thread's allocations contend on its arena).
    pub fn on_event(&mut self, rep: &mut dyn Printer, ev: &Event) {
        let (diag, live) = (&mut self.diag, self.live);
        let r = match ev {
            Event::Connection(c) => {
                if let Some(seen) = self.seen.as_mut() {
                    seen.connection(c);
                }
                // Stalls are kept only live: the map's probe (its hasher is SipHash) is
                // skipped when there are none.
                if !self.stalls.is_empty()
                    && let Some(st) = self.stalls.remove(&c.id)
                {
                    let resumed = c.server_stats.last_data_ts.is_some_and(|t| t > st.since);
                    if !resumed {
                        let client_close = match (
                            c.client_stats.fin_frame.zip(c.client_stats.fin_ts),
                            c.resets.iter().find(|r| r.from == Side::Client),
                        ) {
                            (Some((f, t)), _) if t >= st.since => Some((f, t, "FIN")),
                            (_, Some(r)) if r.ts >= st.since => Some((r.packet, r.ts, "RST")),
                            _ => None,
                        };
                        self.kept_stalls.push(KeptStall {
                            stall: st,
                            client_close,
                            end: c.ts_last,
                        });
                    }
                }
                let n = diag.on_connection(c);
                let go = go_info(c, diag);
                let mut r = rep.connection(c, go.as_ref());
                if live && n > 0 {
                    for f in diag.recent(n) {
                        if r.is_ok() {
                            r = rep.early_finding(f);
                        }
                    }
                }
                r
            }
            Event::Dns(d) => {
                diag.on_dns(d);
                if let Some(seen) = self.seen.as_mut() {
                    seen.dns(d);
                }
                if live && let Some(q) = d.qname.as_deref() {
                    for a in d.answer_addresses() {
                        if self.names.len() < MAX_NAMES_KEPT || self.names.contains_key(&a) {
                            self.names.insert(a, q.trim_end_matches('.').to_string());
                        }
                    }
                }
                rep.dns(d)
            }
            Event::Stall(s) if live => self.on_stall(rep, s),
            _ => Ok(()),
        };
        if let Err(e) = r
            && self.io_error.is_none()
        {
            self.io_error = Some(e);
        }
    }
}

impl Output {
    /// The capture has ended: what comes now goes into the final list, nothing is printed
    /// early (`Analysis::finish` does this before its engine's end; a live capture over
    /// several engines merges their ends itself).
    #[cfg_attr(not(feature = "live"), allow(dead_code))]
    pub fn ending(&mut self) {
        self.live = false;
    }

    /// A connection silent while still open (live): reported at once, unless its SYNs were
    /// never answered (it is still connecting: the connect stage judges it when it ends).
    fn on_stall(&mut self, rep: &mut dyn Printer, s: &Stall) -> std::io::Result<()> {
        if self
            .watch
            .as_ref()
            .is_some_and(|w| w.answered(s.client, s.server) == Some(false))
        {
            return Ok(());
        }
        let mut s = s.clone();
        if s.server_name.is_none() {
            s.server_name = self.names.get(&s.server.ip()).cloned();
        }
        let f = crate::diagnose::stall_finding(&s);
        if self.stalls.len() < MAX_STALLS_KEPT {
            self.stalls.insert(s.conn_id, s);
        }
        rep.early_finding(&f)
    }

    /// The stalls reported live that the final findings must not lose: their connection
    /// never heard from the server again, and no transfer finding covers it.
    fn kept_stall_findings(&mut self, findings: &[Finding]) -> Vec<Finding> {
        let mut out = Vec::new();
        for k in std::mem::take(&mut self.kept_stalls) {
            let s = &k.stall;
            let covered = findings.iter().any(|f| {
                f.connection == Some(s.conn_id)
                    && f.stage == Stage::Transfer
                    && f.kind != FindingKind::Retransmissions
            });
            if covered {
                continue;
            }
            let mut f = crate::diagnose::stall_finding(s);
            let target = f.server.clone().unwrap_or_default();
            let silent = k
                .client_close
                .map_or(k.end, |(_, t, _)| t)
                .since(s.since)
                .as_secs_f64();
            f.summary = match k.client_close {
                Some((_, _, how)) => format!(
                    "The connection to {target} went silent after frame {} while still open, and the server sent nothing more: after {silent:.1} s the client gave up ({how}). Seen while the capture ran; if the go command was waiting on it, it hung.",
                    s.last_frame
                ),
                None => format!(
                    "The connection to {target} went silent after frame {} while still open, and was still silent {silent:.1} s later when the capture ended. Seen while the capture ran; if the go command was waiting on it, it hung.",
                    s.last_frame
                ),
            };
            if let Some((frame, ts, how)) = k.client_close {
                f.evidence.push(crate::diagnose::ev(
                    frame,
                    Some(ts),
                    format!("the client gives up: {how}"),
                ));
            }
            out.push(f);
        }
        out
    }
}

impl Analysis {
    pub fn new(config: Config, settings: GoSettings, live: bool) -> Self {
        Analysis {
            engine: Engine::new(config),
            out: Output {
                diag: Diagnoser::new(settings),
                live,
                io_error: None,
                seen: None,
                watch: live.then(TcpWatch::default),
                stalls: HashMap::new(),
                kept_stalls: Vec::new(),
                names: HashMap::new(),
            },
            frames: None,
            reordered: 0,
            go: None,
        }
    }

    /// Keeps what the join with the go command's transcript needs (call before the first
    /// packet).
    pub fn joining(mut self) -> Self {
        self.out.seen = Some(join::Seen::default());
        self
    }

    /// What the go command said: joined to the findings when the run ends.
    pub fn set_go(&mut self, t: GoTranscript) {
        self.go = Some(t);
    }

    /// Every TCP connection this (live) capture saw open has closed.
    #[cfg_attr(not(feature = "live"), allow(dead_code))]
    pub fn connections_closed(&self) -> bool {
        self.out.watch.as_ref().is_none_or(TcpWatch::all_closed)
    }

    pub fn push(&mut self, pkt: &Packet<'_>, rep: &mut dyn Printer) {
        if let Some(w) = self.out.watch.as_mut() {
            w.packet(pkt);
        }
        let out = &mut self.out;
        let mut sink = |ev: Event| out.on_event(rep, &ev);
        self.engine.push(pkt, &mut sink);
    }

    /// Moves the clock without a packet (live: stalls are reported while they happen).
    #[cfg_attr(not(feature = "live"), allow(dead_code))]
    pub fn advance(&mut self, now: Timestamp, rep: &mut dyn Printer) {
        let out = &mut self.out;
        let mut sink = |ev: Event| out.on_event(rep, &ev);
        self.engine.advance(now, &mut sink);
    }

    /// How many frames the reader numbered (packets plus frame-numbered non-packet records).
    pub fn set_frames(&mut self, frames: u64) {
        self.frames = Some(frames);
    }

    /// How many packets the reader's reorder window handed out ahead of packets the file
    /// holds before them.
    pub fn set_reordered(&mut self, packets: u64) {
        self.reordered = packets;
    }

    pub fn stats(&self) -> &modsniff_core::Stats {
        self.engine.stats()
    }

    /// The engine, and the diagnosis/report half, for running them on two threads.
    pub fn split(&mut self) -> (&mut Engine, &mut Output) {
        (&mut self.engine, &mut self.out)
    }

    /// Ends the run; returns what it found.
    pub fn finish(
        mut self,
        rep: &mut dyn Printer,
        source: &str,
        warnings: &[String],
        kernel: Option<KernelStats>,
    ) -> Result<Outcome> {
        // Silence is judged against the end of the capture, not the last decoded event.
        self.out.diag.saw_time(self.engine.now());
        // What the engine's end flushes is in the final list; nothing more is provisional.
        self.out.live = false;
        let out = &mut self.out;
        let mut sink = |ev: Event| out.on_event(rep, &ev);
        let stats = self.engine.finish(&mut sink);
        self.conclude(stats, rep, source, warnings, kernel)
    }

    /// The end of a run whose engine already finished (`stats` is what it returned).
    pub fn conclude(
        mut self,
        mut stats: modsniff_core::Stats,
        rep: &mut dyn Printer,
        source: &str,
        warnings: &[String],
        kernel: Option<KernelStats>,
    ) -> Result<Outcome> {
        stats.kernel = kernel;
        stats.frames = self.frames.unwrap_or(0).max(stats.packets);
        if let Some(e) = self.out.io_error.take() {
            return Err(e).context("writing the report");
        }
        let mut findings: Vec<Finding> = self.out.diag.finish();
        let stalls = self.out.kept_stall_findings(&findings);
        findings.extend(stalls);
        let joined = match &self.go {
            Some(t) => join::join(
                findings,
                self.out.seen.as_ref().unwrap_or(&join::Seen::default()),
                t,
            ),
            None => join::without_go(findings),
        };
        let mut counts = FindingCounts::default();
        for r in &joined.findings {
            *match r.finding.severity {
                Severity::Error => &mut counts.error,
                Severity::Warning => &mut counts.warning,
                Severity::Info => &mut counts.info,
            } += 1;
        }
        let all: Vec<&Reported> = joined.findings.iter().collect();
        let fetches: Vec<&JoinedFetch> = joined.fetches.iter().collect();
        let end = RunEnd {
            findings: &all,
            fetches: &fetches,
            go: joined.go.as_ref(),
            stats: &stats,
            source,
            counts,
            findings_dropped: self.out.diag.dropped(),
            tracking_dropped: self.out.diag.tracking_dropped(),
            reordered_packets: self.reordered,
            warnings,
            go_endpoints: self.out.diag.go_endpoints(),
            extract: None,
        };
        rep.finish(&end).context("writing the report")?;
        Ok(Outcome {
            worst: joined.findings.iter().map(|r| r.finding.severity).max(),
            command_failed: None,
            input_failed: false,
            interrupted_by: None,
        })
    }
}
