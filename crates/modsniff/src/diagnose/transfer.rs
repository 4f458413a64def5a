//! Stage `transfer`: the response started and then stopped (a stall: the go command has no
//! body timeout and hangs), was cut by a reset, or crawled through heavy retransmission.

use super::actor::{Sender, judge_server_rsts, server_rsts};
use super::finding::*;
use super::{ConnFacts, Diagnoser, addr, ev, remedy};
use modsniff_core::Side;

/// Silence after the server's last data, with the connection still open, that counts as a stall.
const STALL_SECS: f64 = 5.0;
/// Silence that is a stall even when the capture ends with the connection still open.
const LONG_STALL_SECS: f64 = 30.0;
/// Share of a connection's packets lost (retransmitted or missing) that is worth a warning,
/// and the least number of loss events that can say so.
const LOSS_RATIO: f64 = 0.05;
const LOSS_MIN: u64 = 8;

pub fn detect(f: &ConnFacts<'_>, d: &Diagnoser, out: &mut Vec<(Finding, bool)>) {
    let c = f.c;
    // The server's address as text, made only for a finding (this runs on most connections).
    let target = || addr(c.server);
    let s = &c.server_stats;
    let started = s.bytes > 0 && c.client_stats.bytes > 0;
    let rsts = server_rsts(c);
    let client_closed_first = match (c.client_stats.fin_frame, rsts.first()) {
        (Some(fin), Some(r)) => fin < r.packet,
        _ => false,
    };
    if started
        && let Some(r) = rsts.first()
        && !client_closed_first
    {
        let (actor, why) = match judge_server_rsts(c, &rsts, d.ttl_elsewhere(c.server.ip())) {
            Sender::Middlebox(w) => (
                Actor::Middlebox,
                format!(" The reset was forged by a middlebox: {}.", w.join("; ")),
            ),
            Sender::Server => (
                if f.via_proxy {
                    Actor::Proxy
                } else {
                    Actor::Server
                },
                String::new(),
            ),
        };
        let target = target();
        let mut evidence = Vec::new();
        if let Some(fr) = s.first_data_frame {
            evidence.push(ev(fr, s.ts_first, "first data from the server"));
        }
        evidence.push(ev(r.packet, Some(r.ts), format!("RST (TTL {})", r.ttl)));
        out.push((
            Finding {
                stage: Stage::Transfer,
                kind: FindingKind::TransferReset,
                severity: Severity::Error,
                actor,
                connection: Some(c.id),
                server_name: f.name.clone(),
                server: Some(target.clone()),
                summary: format!(
                    "The transfer from {target} was cut by a reset after {} bytes from the server.{why}",
                    s.bytes
                ),
                likely_go_error: Some(format!("read tcp {}->{target}: read: connection reset by peer", c.client)),
                remedy: Some(if actor == Actor::Middlebox {
                    format!("A middlebox kills the download. {} {}", remedy::NETWORK_TEAM, remedy::alternative(f.role))
                } else {
                    format!("The server aborted the download; retry. {}", remedy::alternative(f.role))
                }),
                evidence,
            },
            true,
        ));
        return;
    }
    // A stall: the server stopped sending, the connection stayed open (no FIN/RST from the
    // server) and nothing happened for a while before the client gave up or the capture ended.
    if started
        && s.fin_frame.is_none()
        && rsts.is_empty()
        && let Some((last_frame, last_data)) = s.last_data_while_peer_open
    {
        let client_end = c
            .client_stats
            .fin_frame
            .map(|_| c.ts_last)
            .or_else(|| {
                c.resets
                    .iter()
                    .find(|r| r.from == Side::Client)
                    .map(|r| r.ts)
            })
            .unwrap_or(c.ts_last);
        let silent = client_end.since(last_data).as_secs_f64();
        let client_waited = c.client_stats.last_data_ts.is_none_or(|t| t <= last_data)
            || c.client_stats
                .last_data_ts
                .is_some_and(|t| client_end.since(t).as_secs_f64() >= STALL_SECS);
        // What makes the silence a stall: the client gave up on it (closed or reset after
        // waiting), the visible body stopped short, or the capture ran on long after it.
        let gave_up =
            c.client_stats.fin_frame.is_some() || c.resets.iter().any(|r| r.from == Side::Client);
        let body_short = c.http.iter().any(|h| h.body_shortfall().is_some())
            || c.tls.as_deref().is_some_and(|t| {
                t.server
                    .last_record
                    .as_ref()
                    .is_some_and(|_| t.anomalies.truncated_at_end > 0)
            });
        let long = silent >= LONG_STALL_SECS;
        if silent >= STALL_SECS
            && client_waited
            && (gave_up || body_short || long)
            && c.end_reason != modsniff_core::EndReason::Idle
        {
            let target = target();
            let body = c.http.iter().find_map(|h| h.body_shortfall());
            let mut summary = format!(
                "The transfer from {target} stalled: the server's data stopped at frame {last_frame} and nothing followed for {silent:.1} s while the connection stayed open."
            );
            if let Some((got, want)) = body {
                summary.push_str(&format!(
                    " The response body stopped at {got} of {want} bytes."
                ));
            }
            summary.push_str(" The go command has no body timeout, so it hangs.");
            out.push((
                Finding {
                    stage: Stage::Transfer,
                    kind: FindingKind::TransferStall,
                    severity: Severity::Error,
                    actor: if f.via_proxy { Actor::Proxy } else { Actor::Server },
                    connection: Some(c.id),
                    server_name: f.name.clone(),
                    server: Some(target.clone()),
                    summary,
                    likely_go_error: None,
                    remedy: Some(format!(
                        "Interrupt and retry (a retry often gets a healthy server). If it keeps happening: {}",
                        remedy::alternative(f.role)
                    )),
                    evidence: {
                        let mut e = vec![ev(last_frame, Some(last_data), "last data from the server")];
                        if let Some(fin) = c.client_stats.fin_frame {
                            e.push(ev(fin, c.client_stats.fin_ts, "the client gives up: FIN"));
                        } else if let Some(r) = c.resets.iter().find(|r| r.from == Side::Client) {
                            e.push(ev(r.packet, Some(r.ts), "the client gives up: RST"));
                        }
                        e
                    },
                },
                true,
            ));
            return;
        }
    }
    // Heavy loss that still got through. Seen from one capture point, a loss shows as a
    // retransmission (lost beyond the tap) or as a hole the sender later filled (lost before
    // it); both count.
    let side_loss = |st: &modsniff_core::SideStats| st.retransmissions + st.lost_segments;
    let (cl, sl) = (side_loss(&c.client_stats), side_loss(&c.server_stats));
    let packets = (c.client_stats.packets + c.server_stats.packets).max(1);
    let events = cl + sl;
    if events >= LOSS_MIN && events as f64 / packets as f64 >= LOSS_RATIO {
        let first = [&c.client_stats, &c.server_stats]
            .iter()
            .filter_map(|st| st.first_data_frame.map(|f| (f, st.ts_first)))
            .min_by_key(|(f, _)| *f);
        let target = target();
        out.push((
            Finding {
                stage: Stage::Transfer,
                kind: FindingKind::Retransmissions,
                severity: Severity::Warning,
                actor: Actor::Unknown,
                connection: Some(c.id),
                server_name: f.name.clone(),
                server: Some(target.clone()),
                summary: format!(
                    "Heavy packet loss on the path to {target}: {events} loss events in {packets} packets ({:.1} %). Client: {} retransmitted, {} lost before the capture point; server: {} retransmitted, {} lost before the capture point.",
                    100.0 * events as f64 / packets as f64,
                    c.client_stats.retransmissions,
                    c.client_stats.lost_segments,
                    c.server_stats.retransmissions,
                    c.server_stats.lost_segments,
                ),
                likely_go_error: None,
                remedy: Some("A lossy path slows downloads and can make them time out: check the link (duplex, Wi-Fi, VPN MTU), or use a closer mirror.".into()),
                evidence: first.map(|(fr, ts)| vec![ev(fr, ts, "first data")]).unwrap_or_default(),
            },
            false,
        ));
    }
}
