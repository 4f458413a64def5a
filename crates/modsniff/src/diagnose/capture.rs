//! Stage `capture`: the capture stops short of the story. Its last record is cut (a copy
//! taken while it was still being written, a download that stopped, `head -c`), or it ends
//! while exchanges are still under way: SYNs not yet answered, a TLS handshake half done, an
//! HTTP response still coming, data in flight. Such a capture cannot say "no problem": what
//! would have shown one is not in it. The finding is a warning, so a cut capture of a run that
//! worked still exits 0; the verdict line says INCOMPLETE and what is missing.

use super::finding::*;
use super::{ConnFacts, addr, ev};
use modsniff_core::Timestamp;
use modsniff_core::Transport;
use modsniff_core::{EndReason, Evidence};

/// What the capture-incomplete finding calls a capture's cutting of each packet.
const SNAP_LENGTH: &str = "snap length";
/// The evidence note of a connection whose packets were cut short.
const SNAP_CUT_NOTE: &str = "its packets are cut short";

/// Unfinished exchanges kept for the finding's evidence; the rest are counted.
pub const MAX_UNFINISHED: usize = 16;

/// One exchange the capture ended in the middle of.
#[derive(Debug, Clone)]
pub struct Unfinished {
    pub conn: Option<u64>,
    pub name: Option<String>,
    /// `ip:port` of a connection, the resolver of a DNS query.
    pub server: Option<String>,
    /// Where it went: `name (ip:port)`, or the name alone for DNS.
    pub target: String,
    /// What was under way, in a few words ("TLS handshake: ClientHello unanswered").
    pub what: String,
    pub frame: u64,
    pub ts: Option<Timestamp>,
}

/// What the capture is missing, gathered over the run.
#[derive(Debug, Default)]
pub struct Gaps {
    /// The reader stopped at damage before the end of the input: what it said, and the last
    /// frame it delivered.
    pub cut: Option<(String, u64, Option<Timestamp>)>,
    pub unfinished: Vec<Unfinished>,
    /// Unfinished exchanges beyond `MAX_UNFINISHED`.
    pub more: u64,
    /// Not one packet was read: there is nothing to judge.
    pub no_packets: bool,
    /// Reading was stopped before the input's end (a signal): why, and the last frame read.
    pub stopped: Option<(String, u64)>,
    /// Connections whose packets the capture cut short (its snap length): what they carried
    /// is only in part in it. The first `MAX_UNFINISHED`, with the count of all.
    pub snap_cut: Vec<Unfinished>,
    pub snap_cut_count: u64,
}

impl Gaps {
    pub fn add(&mut self, u: Unfinished) {
        if self.unfinished.len() < MAX_UNFINISHED {
            self.unfinished.push(u);
        } else {
            self.more += 1;
        }
    }

    /// A connection whose packets were cut short by the capture's snap length.
    pub fn add_snap_cut(&mut self, u: Unfinished) {
        self.snap_cut_count += 1;
        if self.snap_cut.len() < MAX_UNFINISHED {
            self.snap_cut.push(u);
        }
    }

    fn count(&self) -> u64 {
        self.unfinished.len() as u64 + self.more
    }

    /// The finding, when something is missing.
    pub fn finding(&self) -> Option<Finding> {
        if self.cut.is_none()
            && self.stopped.is_none()
            && self.unfinished.is_empty()
            && self.snap_cut.is_empty()
            && !self.no_packets
        {
            return None;
        }
        let mut evidence: Vec<Evidence> = Vec::new();
        let mut parts = Vec::new();
        if self.no_packets {
            parts.push("it holds no packets (a capture stopped at once, the wrong interface, or a filter that matched nothing)".to_string());
        }
        if let Some((why, frame, ts)) = &self.cut {
            let why = why.split("; stopped after").next().unwrap_or(why);
            if *frame == 0 {
                parts.push(format!("its first record is cut short ({why})"));
            } else {
                parts.push(format!(
                    "its last record is cut short, so reading stopped after frame {frame} ({why})"
                ));
                // Cited only with its own time.
                if ts.is_some() {
                    evidence.push(ev(
                        *frame,
                        *ts,
                        "last whole frame: the record after it is cut short",
                    ));
                }
            }
        }
        if let Some((why, frame)) = &self.stopped {
            parts.push(format!("reading was stopped after frame {frame} ({why})"));
            evidence.push(ev(*frame, None, "last frame read: reading stopped here"));
        }
        let n = self.count();
        if n > 0 {
            parts.push(format!(
                "it ends with {n} exchange{} still under way ({})",
                if n == 1 { "" } else { "s" },
                first_four(
                    n,
                    self.unfinished
                        .iter()
                        .map(|u| format!("{}: {}", u.target, u.what))
                )
            ));
            for u in &self.unfinished {
                evidence.push(ev(u.frame, u.ts, format!("{}: {}", u.target, u.what)));
            }
        }
        if let Some(u) = self.snap_cut.first() {
            let n = self.snap_cut_count;
            parts.push(format!(
                "it cut the packets of {n} connection{} short (its {SNAP_LENGTH}: {}), so what they carried (certificates, HTTP answers, the later records) is only in part in it",
                if n == 1 { "" } else { "s" },
                first_four(n, self.snap_cut.iter().map(|u| u.target.clone()))
            ));
            evidence.push(ev(u.frame, u.ts, format!("{}: {}", u.target, u.what)));
        }
        let first = self.unfinished.first().or(self.snap_cut.first());
        Some(Finding {
            stage: Stage::Capture,
            kind: FindingKind::CaptureIncomplete,
            severity: Severity::Warning,
            actor: Actor::Unknown,
            connection: first.and_then(|u| u.conn),
            server_name: first.and_then(|u| u.name.clone()),
            server: first.and_then(|u| u.server.clone()),
            summary: format!(
                "The capture is incomplete: {}. {}",
                parts.join(", and "),
                if self.cut.is_none()
                    && self.stopped.is_none()
                    && self.unfinished.is_empty()
                    && !self.no_packets
                {
                    "A fault in what was cut away (an intercepting certificate, an error page) cannot be seen."
                } else {
                    "What happened after its end is not in it: a fault there (or the fetch's success) cannot be seen."
                }
            ),
            likely_go_error: None,
            remedy: Some(
                if self.snap_cut.is_empty() {
                    "Capture the whole run: start the capture before the go command and stop it after the command exits (or let `modsniff run -- go mod download` do both); copy the file only after the capture stopped."
                } else {
                    "Capture whole packets (tcpdump -s 0, the default of current tcpdump; no \"limit each packet\" in Wireshark) and the whole run, or let `modsniff run -- go mod download` capture it."
                }
                .into(),
            ),
            evidence,
        })
    }
}

/// The first four of `n` items, `; `-separated, an ellipsis saying there are more.
fn first_four(n: u64, items: impl Iterator<Item = String>) -> String {
    let mut list: Vec<String> = items.take(4).collect();
    if n > 4 {
        list.push("…".into());
    }
    list.join("; ")
}

/// The verdict-line words for a capture-incomplete finding: what is missing, briefly.
pub fn verdict_note(f: &Finding) -> Option<String> {
    if f.kind != FindingKind::CaptureIncomplete {
        return None;
    }
    if f.summary.contains("it holds no packets") {
        return Some("no packets in the capture".into());
    }
    let cut = f.summary.contains("record is cut short");
    let open = f
        .evidence
        .iter()
        .filter(|e| {
            !e.note.starts_with("last whole frame")
                && !e.note.starts_with("last frame read")
                && !e.note.contains(SNAP_CUT_NOTE)
        })
        .count();
    let mut what = Vec::new();
    if cut {
        what.push("the last record is cut short".to_string());
    }
    if f.summary.contains(SNAP_LENGTH) {
        if what.is_empty() && open == 0 && !f.summary.contains("reading was stopped") {
            return Some(format!("packets cut to the capture's {SNAP_LENGTH}"));
        }
        what.push(format!("packets cut to its {SNAP_LENGTH}"));
    }
    if f.summary.contains("reading was stopped") {
        what.push("reading was stopped before its end".to_string());
    }
    if open > 0 {
        what.push(format!(
            "{open}{} exchange{} still under way at its end",
            if open >= MAX_UNFINISHED { "+" } else { "" },
            if open == 1 { "" } else { "s" }
        ));
    }
    Some(format!("capture cut short ({})", what.join(", ")))
}

/// A TCP connection the capture ended in the middle of, when no other detector explained it.
/// A TCP connection some of whose packets the capture cut short (its snap length), with
/// the first frame of its data as where to look.
pub fn snap_cut(f: &ConnFacts<'_>) -> Option<Unfinished> {
    let c = f.c;
    if c.transport != Transport::Tcp || !c.partial.contains(&"snaplen") {
        return None;
    }
    let (cs, ss) = (&c.client_stats, &c.server_stats);
    // A hello the cut reached is the frame to show; else the last data of a side that lost
    // bytes (the record keeps that frame's time).
    let tls = c.tls.as_deref();
    let hello = tls
        .and_then(|t| {
            t.client_hello
                .as_ref()
                .filter(|h| h.cut)
                .map(|h| (h.last_frame, h.ts))
        })
        .or_else(|| {
            tls.and_then(|t| {
                t.server_hello
                    .as_ref()
                    .filter(|h| h.cut)
                    .map(|h| (h.last_frame, h.ts))
            })
        });
    let (frame, ts) = match hello {
        Some(h) => h,
        None => [cs, ss]
            .into_iter()
            .filter(|s| s.missed_bytes > 0)
            .filter_map(|s| s.last_data_frame.zip(s.last_data_ts))
            .max_by_key(|(f, _)| *f)?,
    };
    Some(Unfinished {
        conn: Some(c.id),
        name: f.name_owned(),
        server: Some(addr(c.server)),
        target: match &f.name {
            Some(n) => format!("{n} ({})", addr(c.server)),
            None => addr(c.server),
        },
        what: format!(
            "{SNAP_CUT_NOTE} ({} bytes of it not in the capture)",
            cs.missed_bytes + ss.missed_bytes
        ),
        frame,
        ts: Some(ts),
    })
}

pub fn unfinished(f: &ConnFacts<'_>) -> Option<Unfinished> {
    let c = f.c;
    if c.transport != Transport::Tcp || c.end_reason != EndReason::EndOfInput {
        return None;
    }
    // A side that closed or reset ended the exchange: what follows is a close, not content.
    if c.client_stats.fin_frame.is_some() || c.server_stats.fin_frame.is_some() {
        return None;
    }
    if !c.resets.is_empty() || !c.icmp.is_empty() {
        return None;
    }
    let (cs, ss) = (&c.client_stats, &c.server_stats);
    let target = match &f.name {
        Some(n) => format!("{n} ({})", addr(c.server)),
        None => addr(c.server),
    };
    let last_data = [
        (cs.last_data_frame, cs.last_data_ts),
        (ss.last_data_frame, ss.last_data_ts),
    ]
    .into_iter()
    .filter_map(|(f, t)| f.map(|f| (f, t)))
    .max_by_key(|(f, _)| *f);
    let mk = |what: String, frame: u64, ts: Option<Timestamp>| Unfinished {
        conn: Some(c.id),
        name: f.name_owned(),
        server: Some(addr(c.server)),
        target: target.clone(),
        what,
        frame,
        ts,
    };
    // The TCP handshake: SYNs, nothing back yet.
    if ss.syn_frames.is_empty() && ss.packets == 0 {
        let &last = cs.syn_frames.last()?;
        let n = cs.syn_frames.len();
        return Some(mk(
            format!(
                "TCP handshake, {n} SYN{} not answered yet",
                if n == 1 { "" } else { "s" }
            ),
            last,
            cs.ts_last,
        ));
    }
    // Connected, nothing sent: the request was about to go.
    if cs.bytes == 0 && ss.bytes == 0 {
        let frame = ss
            .syn_frames
            .last()
            .copied()
            .or(cs.syn_frames.last().copied())?;
        return Some(mk(
            "connected, no request sent yet".into(),
            frame,
            ss.ts_last,
        ));
    }
    let (frame, ts) = last_data?;
    if let Some(t) = &f.tls
        && let Some(hello) = &t.client_hello
    {
        if t.server_hello.is_none() {
            return Some(mk(
                "TLS handshake, ClientHello not answered yet".into(),
                frame.max(hello.last_frame),
                ts,
            ));
        }
        if !t.client_ccs && t.client_encrypted_records == 0 {
            return Some(mk(
                "TLS handshake, the client had not answered the server's flight yet".into(),
                frame,
                ts,
            ));
        }
    }
    if let Some(tx) = c.http.last() {
        if tx.request_frame().is_some()
            && tx.status.is_none()
            && tx.method.as_deref() != Some("CONNECT")
        {
            return Some(mk(
                format!(
                    "HTTP {} {} not answered yet",
                    tx.method.as_deref().unwrap_or("request"),
                    tx.uri.as_deref().unwrap_or("")
                ),
                frame,
                ts,
            ));
        }
        if tx.status.is_some() && tx.body_complete != Some(true) && tx.body_bytes.is_some() {
            let what = match (tx.body_bytes, tx.content_length) {
                (Some(got), Some(want)) if got < want => {
                    format!("HTTP response body, {got} of {want} bytes")
                }
                _ => "HTTP response body still coming".to_string(),
            };
            return Some(mk(what, frame, ts));
        }
    }
    // Past the handshakes, only the go command's own connections say the run was cut: a busy
    // host's other traffic is always in the middle of something when a capture stops.
    let go_related = f.role.is_some()
        || c.http
            .iter()
            .any(|h| h.uri.as_deref().and_then(crate::go::paths::parse).is_some());
    if !go_related {
        return None;
    }
    // Encrypted or opaque data: a record cut at the end, or data the peer had not yet
    // acknowledged, was in the middle of a transfer. Otherwise the connection is merely
    // open: the go command closes every connection when it exits, so the capture stopped
    // while it was still running.
    let record_cut = c
        .tls
        .as_deref()
        .is_some_and(|t| t.anomalies.truncated_at_end > 0);
    let in_flight = cs.peer_data_unacked || ss.peer_data_unacked;
    let from = if Some(frame) == ss.last_data_frame {
        "server"
    } else {
        "client"
    };
    let what = if record_cut {
        format!("data from the {from} still arriving (a TLS record cut at the end)")
    } else if in_flight {
        format!("data from the {from} still arriving (not yet acknowledged)")
    } else {
        "connection still open (its close is not in the capture)".to_string()
    };
    Some(mk(what, frame, ts))
}
