//! Stage `transfer`: the response started and then stopped (a stall: the go command has no
//! body timeout and hangs), was cut by a reset, or crawled through heavy retransmission.

use super::actor::{
    Sender, came_before, fin_of, judge_server_rsts, reset_at, server_closed_first, server_rsts,
};
use super::finding::*;
use super::tlsview::alert_sized;
use super::{ConnFacts, Diagnoser, addr, ev, remedy};
use modsniff_core::{EndReason, Side, Timestamp};

/// Silence after the server's last data, with the connection still open, that counts as a stall.
const STALL_SECS: f64 = 5.0;
/// Silence that is a stall even when the capture ends with the connection still open.
const LONG_STALL_SECS: f64 = 30.0;
/// RFC 6298 (2.4): a retransmission timeout is never below 1 s (Linux goes down to 200 ms,
/// so this errs on the long side), and before a round trip is measured it is three of them
/// (SRTT + 4 RTTVAR, RTTVAR = R/2).
const MIN_RTO_SECS: f64 = 1.0;
/// RFC 1122 (4.2.3.2): an ACK is delayed by less than 0.5 s.
const MAX_ACK_DELAY_SECS: f64 = 0.5;
/// Resends of the client's segments, after the server's last packet, that nothing answered:
/// each is one expiry of the client's retransmission timer, calibrated on the round trip by
/// its own kernel; two in a row without a single packet back is a path that no longer
/// carries anything (a live host acknowledges a segment or a FIN within a round trip).
const DARK_MIN_RESENDS: usize = 2;

/// The server's retransmission timeout as RFC 6298 bounds it from below, for this
/// connection's round trip.
fn rto_secs(c: &modsniff_core::Connection) -> f64 {
    let rtt = c.handshake_rtt.map_or(0.0, |d| d.as_secs_f64());
    MIN_RTO_SECS.max(3.0 * rtt)
}

/// The client's segments (data, or a bare FIN) sent again after the server's last packet:
/// none of them was answered.
fn unanswered_resends(c: &modsniff_core::Connection) -> Vec<(u64, Timestamp)> {
    let Some(server_last) = c.server_stats.ts_last else {
        return Vec::new();
    };
    c.client_stats
        .retransmission_times
        .iter()
        .copied()
        .filter(|(_, t)| *t > server_last)
        .collect()
}

/// The connection ended inside a TLS record while each side had acknowledged all the other
/// sent, into an open window: a TLS record is written whole, so its sender's TCP held the
/// rest and nothing stopped it from sending at once.
fn record_owed(c: &modsniff_core::Connection) -> bool {
    c.tls
        .as_deref()
        .is_some_and(|t| t.anomalies.truncated_at_end > 0)
        && !c.client_stats.peer_data_unacked
        && !c.server_stats.peer_data_unacked
        && c.client_stats.zero_windows == 0
}

/// Share of a connection's packets lost (retransmitted or missing) that is worth a warning,
/// and the least number of loss events that can say so.
const LOSS_RATIO: f64 = 0.05;
const LOSS_MIN: u64 = 8;
/// Loss events enough on a short connection when they held it up for a second or more.
const LOSS_MIN_COSTLY: u64 = 4;

/// The time of a side's first data frame, where the record knows it (core's SideStats has the
/// frame only): its only data frame, an HTTP message's first frame, a TLS record's.
fn first_data_ts(c: &modsniff_core::Connection, side: Side) -> Option<modsniff_core::Timestamp> {
    let st = c.side(side);
    let fr = st.first_data_frame?;
    if st.last_data_frame == Some(fr) {
        return st.last_data_ts;
    }
    let http = c.http.iter().find_map(|h| match side {
        Side::Server => (h.response_frame == Some(fr))
            .then_some(h.response_ts)
            .flatten(),
        Side::Client => (h.request_frame == Some(fr))
            .then_some(h.request_ts)
            .flatten(),
    });
    http.or_else(|| {
        c.tls
            .as_deref()
            .and_then(|t| super::tlsview::frame_ts(t, fr))
    })
}

pub fn detect(f: &ConnFacts<'_>, d: &Diagnoser, out: &mut Vec<(Finding, bool)>) {
    let c = f.c;
    // The server's address as text, made only for a finding (this runs on most connections).
    let target = || addr(c.server);
    injected(f, out);
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
            // Through a proxy the reset ends the tunnel because the proxy's own connection
            // ended: a proxy relays a transfer, it does not cut one of its own accord.
            Sender::Server => (
                Actor::Server,
                if f.via_proxy {
                    " The proxy ended its tunnel this way: its connection to the server ended."
                        .to_string()
                } else {
                    String::new()
                },
            ),
        };
        let target = target();
        let mut evidence: Vec<_> = server_data_start(c).into_iter().collect();
        evidence.push(ev(r.packet, Some(r.ts), format!("RST (TTL {})", r.ttl)));
        let remedy = if actor == Actor::Middlebox {
            middlebox_kills_it(f)
        } else {
            format!(
                "The server aborted the download; retry. {}",
                remedy::alternative(f.role, f.name.as_deref())
            )
        };
        let summary = format!(
            "The transfer from {target} was cut by a reset after {} bytes from the server.{why}",
            s.bytes
        );
        out.push((cut_by_reset(f, actor, summary, remedy, evidence), true));
        return;
    }
    // The client's system answers the server's data with a RST that carries no ACK: a socket
    // aborting its own connection sets the flag, so this one says the connection was already
    // gone on the client when the data came, and nothing in the capture ended it (no FIN, no
    // reset from the server, none with the flag from the client). The reset the go command
    // read was lost before the capture point or in a part the capture missed (a capture that
    // drops packets under a fast download), or was made on the host itself (a local firewall's
    // reject). The server, which was not told, keeps sending into the void.
    if started
        && rsts.is_empty()
        && !c.client_stats.syn_frames.is_empty()
        && let Some(r) = c.resets.iter().find(|r| r.from == Side::Client)
        && !r.acknowledges
        && r.with_unacked_data
        && fin_of(&c.client_stats).is_none_or(|fin| came_before(reset_at(r), fin))
        // A server that had closed was done: the RST only ends what was left of the close.
        && fin_of(s).is_none_or(|fin| came_before(reset_at(r), fin))
        // Nor was a server whose data ended with an alert-sized record (its close_notify)
        // before the RST: it was ending the session, as a server does in answer to the
        // client's close (one the capture missed), not sending a transfer.
        && !c
            .tls
            .as_deref()
            .and_then(|t| t.server.last_record.as_ref())
            .is_some_and(|rec| {
                alert_sized(rec)
                    && came_before((Some(rec.ts), rec.frame), reset_at(r))
                    && s.last_data_frame == Some(rec.frame)
            })
    {
        let target = target();
        let answered = c
            .resets
            .iter()
            .filter(|x| x.from == Side::Client && !x.acknowledges)
            .count();
        let missed = c.server_stats.missed_bytes + c.client_stats.missed_bytes;
        let lost = if missed > 0 {
            format!(" or in the {missed} bytes of this connection the capture missed")
        } else {
            String::new()
        };
        // The client's RSTs are in sequence: a server that gets one ends its side at once. One
        // that sends its data again afterwards never heard them: the path drops the client's
        // packets, and what reset the client's connection was on that path, not the server.
        let resent = s
            .retransmission_times
            .iter()
            .find(|(frame, ts)| came_before(reset_at(r), (Some(*ts), *frame)))
            .copied();
        let mut evidence: Vec<_> = server_data_start(c).into_iter().collect();
        evidence.push(ev(
            r.packet,
            Some(r.ts),
            "the client's system answers the server's data with a RST without ACK: the connection is gone on its side",
        ));
        let (actor, who) = match resent {
            Some((frame, ts)) => {
                evidence.push(ev(
                    frame,
                    Some(ts),
                    "the server sends its data again: it never heard the client's RSTs",
                ));
                (
                    Actor::Middlebox,
                    " The server did not send it: it still resends its data after the client's RSTs, which never reached it, so the path drops the client's packets; the reset came from a middlebox on that path.",
                )
            }
            None => (Actor::Unknown, ""),
        };
        let summary = format!(
            "The transfer from {target} was cut by a reset the capture does not hold, after {} bytes from the server: the client's system answers the server's data with RSTs without ACK ({answered} of them), as it does only for a connection it no longer has, while nothing in the capture ended the connection. The reset was lost before the capture point{lost}, or made on this host (a local firewall).{who}",
            s.bytes
        );
        let remedy = if actor == Actor::Middlebox {
            middlebox_kills_it(f)
        } else {
            format!(
                "Capture again with a larger buffer (tcpdump -B 8192) to keep the reset, and see who sent it from its TTL. {}",
                remedy::alternative(f.role, f.name.as_deref())
            )
        };
        out.push((cut_by_reset(f, actor, summary, remedy, evidence), true));
        return;
    }
    // A body the server's close cut short: the response announced a length it never sent
    // (the go command reads it to its end and fails with "unexpected EOF"). The server's FIN
    // must come first: a server that closes after the client gave up (go killed while the
    // body stalled) only answers that close.
    if started
        && let Some(fin) = s.fin_frame
        && rsts.is_empty()
        && fin_of(&c.client_stats).is_none_or(|cf| came_before((s.fin_ts, fin), cf))
        && let Some(tx) = c
            .http
            .iter()
            .find(|h| h.body_complete == Some(false) && h.body_shortfall().is_some())
        && let Some((got, want)) = tx.body_shortfall()
    {
        let target = target();
        let mut evidence = Vec::new();
        if let Some(fr) = tx.response_frame() {
            evidence.push(ev(
                fr,
                tx.response_ts(),
                format!(
                    "{} {}, Content-Length {want}",
                    tx.status.unwrap_or(0),
                    tx.reason().unwrap_or("")
                ),
            ));
        }
        evidence.push(ev(fin, s.fin_ts, "the server closes (FIN)"));
        out.push((
            cut_by_close(
                f,
                format!(
                    "The transfer from {target} was cut by the server's close (FIN) after {got} of the {want} bytes its response announced: the download is incomplete."
                ),
                evidence,
            ),
            true,
        ));
        return;
    }
    // A TLS transfer the server's side ended with a bare FIN shortly after its data: no
    // close_notify (an alert-sized encrypted record) came first, so the server did not end
    // the session, its connection was cut; the go command reads "unexpected EOF". It is the
    // shape a server's reset takes behind a proxy (the proxy ends its tunnel with a FIN) and
    // that of a server that dies mid-body. Only for a Go module fetch: elsewhere servers
    // that skip close_notify are common enough.
    // Asked last, when the rest holds (it walks the lists of hosts).
    let go_fetch = || {
        f.name
            .as_deref()
            .is_some_and(|n| crate::go::classify_host(n).is_some() || d.role_of(n, 443).is_some())
    };
    if started
        && rsts.is_empty()
        && server_closed_first(c)
        && let Some(fin) = s.fin_frame
        && let Some(fin_ts) = s.fin_ts
        && let Some(last) = s.last_data_ts
        && fin_ts.since(last).as_secs_f64() < STALL_SECS
        && let Some(tls) = c.tls.as_deref()
        && tls.server_hello.is_some()
        && let Some(rec) = tls.server.last_record.as_ref()
        && !alert_sized(rec)
        && f.tls
            .as_ref()
            .is_some_and(|t| t.client_encrypted_records >= 2)
        && go_fetch()
    {
        let target = target();
        let mut evidence = Vec::new();
        if let Some(fr) = s.last_data_frame {
            evidence.push(ev(fr, Some(last), "last data from the server"));
        }
        evidence.push(ev(
            fin,
            Some(fin_ts),
            "FIN from the server's side, without a TLS close_notify",
        ));
        let how = if f.via_proxy { PROXY_ENDED_TUNNEL } else { "" };
        out.push((cut_by_close(f, format!(
                    "The transfer from {target} was cut: {:.1} s after its last data ({} bytes in all) the server's side closed the connection (FIN) without ending the TLS session first (no close_notify), so what it was sending is incomplete.{how}",
                    fin_ts.since(last).as_secs_f64(),
                    s.bytes
                ), evidence), true));
        return;
    }
    // A stall: the server stopped sending, the connection stayed open (no FIN/RST from the
    // server) and nothing happened for a while before the client gave up or the capture
    // ended. A server's FIN answering the client's close is how an idle keep-alive connection
    // ends, so directly it means the server was done. Through a proxy it says nothing: the
    // proxy ends its tunnel whenever the client closes. There, a fetch from a Go module host
    // counts: the go command does not sit on an open fetch for seconds and then close it
    // unless it waited for the server (it closes its connections when it exits, right after
    // its last fetch).
    let go_fetch_in_tunnel = f.via_proxy && go_fetch();
    // A response short of the length it announced was not finished: a close that only
    // answers the client's cannot be an idle keep-alive ending, whatever the path (a plain-HTTP
    // GOPROXY behind an HTTP proxy closes this way when go gives up).
    let body_owed = c
        .http
        .iter()
        .any(|h| h.body_complete == Some(false) && h.body_shortfall().is_some());
    let answers_close = !server_closed_first(c);
    let open = s.fin_frame.is_none() || (go_fetch_in_tunnel || body_owed) && answers_close;
    // The same silence on a direct fetch from a Go module host whose server closed only in
    // answer to the client's close: an idle keep-alive connection ends that way, and so does
    // a stalled download the go command gave up on (the server's FIN, sent before the
    // client's reset reaches it, makes it into the capture whenever the path takes longer
    // than the server to answer). Which it was shows in what the go command did meanwhile:
    // a command waiting on this fetch does nothing else; one that was done with the
    // connection went on with others. That is only known once every connection has ended:
    // the finding waits for it (`idle_window`). `f.role` is the direct connection's Go role.
    let if_idle = !open && !f.via_proxy && f.role.is_some() && answers_close;
    if started
        && (open || if_idle)
        && rsts.is_empty()
        && let Some((last_frame, last_data)) = s.last_data_while_peer_open
        && let Some(found) = stall(f, d, last_frame, last_data)
    {
        if if_idle {
            let closed = c.client_stats.fin_ts.unwrap_or(c.ts_last);
            f.idle_window.set(Some((last_data, closed)));
        }
        out.push((found, true));
        return;
    }
    // Heavy loss that still got through. Seen from one capture point, a loss shows as a
    // retransmission (lost beyond the tap) or as a hole the sender later filled (lost before
    // it); both count.
    let side_loss = |st: &modsniff_core::SideStats| st.retransmissions + st.lost_segments;
    let (cl, sl) = (side_loss(&c.client_stats), side_loss(&c.server_stats));
    let packets = (c.client_stats.packets + c.server_stats.packets).max(1);
    let events = cl + sl;
    let ratio = events as f64 / packets as f64;
    // Fewer losses on a short connection count too when they cost real time: resends
    // spread over a second or more are timeouts backing off, each one the fetch waiting.
    // A FIN sent again is the close waiting, not the fetch: resends from a side's FIN on
    // are left out.
    let waited = [&c.client_stats, &c.server_stats]
        .into_iter()
        .filter_map(|st| {
            let before_fin = |(frame, ts): &&(u64, Timestamp)| {
                fin_of(st).is_none_or(|fin| came_before((Some(*ts), *frame), fin))
            };
            let first = st.retransmission_times.iter().find(before_fin)?;
            let last = st.retransmission_times.iter().rfind(before_fin)?;
            Some(last.1.since(first.1).as_secs_f64())
        })
        .fold(0.0_f64, f64::max);
    let costly = events >= LOSS_MIN_COSTLY && ratio >= 2.0 * LOSS_RATIO && waited >= MIN_RTO_SECS;
    if events >= LOSS_MIN && ratio >= LOSS_RATIO || costly {
        let first = [Side::Client, Side::Server]
            .into_iter()
            .filter_map(|side| {
                let f = c.side(side).first_data_frame?;
                Some((f, Some(first_data_ts(c, side)?)))
            })
            .min_by_key(|(f, _)| *f);
        let target = target();
        out.push((
            Finding {
                stage: Stage::Transfer,
                kind: FindingKind::Retransmissions,
                severity: Severity::Warning,
                actor: Actor::Unknown,
                connection: Some(c.id),
                server_name: f.name_owned(),
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

/// Segments outside the receive window the peer advertised: no TCP that reads its peer's
/// ACKs sends there, so they were injected (or forged) on the path. Core left them out of
/// reassembly and of the loss counts; this says they were there.
fn injected(f: &ConnFacts<'_>, out: &mut Vec<(Finding, bool)>) {
    let c = f.c;
    for side in [Side::Server, Side::Client] {
        let st = c.side(side);
        if st.out_of_window == 0 {
            continue;
        }
        let (who, peer) = match side {
            Side::Server => (addr(c.server), c.client.to_string()),
            Side::Client => (c.client.to_string(), addr(c.server)),
        };
        let evidence = st
            .first_out_of_window
            .map(|(fr, ts)| vec![ev(fr, Some(ts), "first segment outside the window")])
            .unwrap_or_default();
        out.push((
            Finding {
                stage: Stage::Transfer,
                kind: FindingKind::InjectedSegments,
                severity: Severity::Warning,
                actor: Actor::Unknown,
                connection: Some(c.id),
                server_name: f.name_owned(),
                server: Some(addr(c.server)),
                summary: format!(
                    "{} segment{} claiming to come from {who} lay beyond the receive window {peer} had advertised: injected or forged on the path, not {who}'s data. They were left out of the stream, and not counted as packet loss.",
                    st.out_of_window,
                    if st.out_of_window == 1 { "" } else { "s" },
                ),
                likely_go_error: None,
                remedy: Some("Something on the path writes into this connection: look for an intrusion-prevention box or a compromised hop between the client and the server.".into()),
                evidence,
            },
            false,
        ));
    }
}

/// Said of a cut transfer seen through a proxy's tunnel.
const PROXY_ENDED_TUNNEL: &str =
    " The proxy ended its tunnel this way: its connection to the server ended.";

/// The server's first data, where the record knows its time: where a cut transfer began.
fn server_data_start(c: &modsniff_core::Connection) -> Option<super::Evidence> {
    let fr = c.server_stats.first_data_frame?;
    let ts = first_data_ts(c, Side::Server)?;
    Some(ev(fr, Some(ts), "first data from the server"))
}

fn middlebox_kills_it(f: &ConnFacts<'_>) -> String {
    format!(
        "A middlebox kills the download. {} {}",
        remedy::NETWORK_TEAM,
        remedy::alternative(f.role, f.name.as_deref())
    )
}

/// A transfer cut by a reset: the go command reads "connection reset by peer".
fn cut_by_reset(
    f: &ConnFacts<'_>,
    actor: Actor,
    summary: String,
    remedy: String,
    evidence: Vec<super::Evidence>,
) -> Finding {
    let c = f.c;
    let target = addr(c.server);
    Finding {
        stage: Stage::Transfer,
        kind: FindingKind::TransferReset,
        severity: Severity::Error,
        actor,
        connection: Some(c.id),
        server_name: f.name_owned(),
        likely_go_error: Some(format!(
            "read tcp {}->{target}: read: connection reset by peer",
            c.client
        )),
        server: Some(target),
        summary,
        remedy: Some(remedy),
        evidence,
    }
}

/// A transfer the server's side ended with a FIN before its data was all sent: what go
/// reads as "unexpected EOF".
fn cut_by_close(f: &ConnFacts<'_>, summary: String, evidence: Vec<super::Evidence>) -> Finding {
    Finding {
        stage: Stage::Transfer,
        kind: FindingKind::TransferReset,
        severity: Severity::Error,
        actor: Actor::Server,
        connection: Some(f.c.id),
        server_name: f.name_owned(),
        server: Some(addr(f.c.server)),
        summary,
        likely_go_error: Some("unexpected EOF".into()),
        remedy: Some(format!(
            "The server (or something in between) ends responses early; retry, and if it repeats look at the server's or the proxy's limits. {}",
            remedy::alternative(f.role, f.name.as_deref())
        )),
        evidence,
    }
}

/// How the client ended its wait on a stalled connection.
struct GaveUp {
    frame: u64,
    ts: Timestamp,
    how: &'static str,
}

/// A stalled transfer, judged from the server's last data (`last_frame` at `last_data`): the
/// silence after it, what the client did, and whether the server's side went dark (nothing
/// at all comes back, not even to the client's resends) or its program stopped sending.
fn stall(
    f: &ConnFacts<'_>,
    d: &Diagnoser,
    last_frame: u64,
    last_data: Timestamp,
) -> Option<Finding> {
    let c = f.c;
    let cs = &c.client_stats;
    let gave_up = match (cs.fin_frame, cs.fin_ts) {
        (Some(frame), Some(ts)) => Some(GaveUp {
            frame,
            ts,
            how: "FIN",
        }),
        _ => c
            .resets
            .iter()
            .find(|r| r.from == Side::Client)
            .map(|r| GaveUp {
                frame: r.packet,
                ts: r.ts,
                how: "RST",
            }),
    };
    // The capture's end, for a connection it ended with (not one closed or gone idle).
    let end = if c.end_reason == EndReason::EndOfInput {
        d.capture_end().max(c.ts_last)
    } else {
        c.ts_last
    };
    let client_end = gave_up.as_ref().map_or(c.ts_last, |g| g.ts);
    let silent = client_end.since(last_data).as_secs_f64();
    let resent = unanswered_resends(c);
    let dark_resent = resent.len() >= DARK_MIN_RESENDS;
    // Data the client sent after the server's last was only ever resent: it waited.
    let only_resent = cs
        .last_data_ts
        .is_some_and(|t| resent.iter().any(|(_, r)| *r == t));
    let client_waited = cs.last_data_ts.is_none_or(|t| t <= last_data)
        || only_resent
        || cs
            .last_data_ts
            .is_some_and(|t| client_end.since(t).as_secs_f64() >= STALL_SECS);
    // A record left unfinished: from the client's acknowledgement of everything to the
    // client's close or the end of the capture, the server's first retransmission (one RTO
    // and a round trip after that acknowledgement) would have arrived. While the client
    // still waits, its last packet is that acknowledgement (or later); once it closed, the
    // acknowledgement is only known to be at most a delayed ACK after the server's data.
    let rtt = c.handshake_rtt.map_or(0.0, |d| d.as_secs_f64());
    let owed_silence = record_owed(c)
        .then(|| match &gave_up {
            None => {
                let from = cs.ts_last.map_or(last_data, |t| t.max(last_data));
                end.since(from).as_secs_f64()
            }
            Some(g) => g.ts.since(last_data).as_secs_f64() - MAX_ACK_DELAY_SECS,
        })
        .filter(|q| *q >= rto_secs(c) + rtt);
    let dark = dark_resent || owed_silence.is_some();
    // What makes the silence a stall: the client gave up on it (closed or reset after
    // waiting), the visible body stopped short, or the capture ran on long after it.
    let body_short = c.http.iter().any(|h| h.body_shortfall().is_some())
        || c.tls.as_deref().is_some_and(|t| {
            t.server
                .last_record
                .as_ref()
                .is_some_and(|_| t.anomalies.truncated_at_end > 0)
        });
    let long = silent >= LONG_STALL_SECS;
    let stalled = silent >= STALL_SECS
        && client_waited
        && (gave_up.is_some() || body_short || long)
        && c.end_reason != EndReason::Idle;
    if !(stalled || dark && client_waited) {
        return None;
    }
    let target = addr(c.server);
    let body = c.http.iter().find_map(|h| h.body_shortfall());
    // The server's host answered the client's close: it was up and reachable, its program
    // had stopped sending.
    let close_answered = gave_up
        .as_ref()
        .is_some_and(|g| g.how == "FIN" && c.server_stats.ts_last.is_some_and(|t| t > g.ts));
    let quiet = if dark {
        owed_silence.map_or(silent, |q| q.max(silent))
    } else {
        silent
    };
    let mut summary = format!(
        "The transfer from {target} stalled: the server's data stopped at frame {last_frame} and nothing followed for {quiet:.1} s while the connection stayed open."
    );
    if let Some((got, want)) = body {
        summary.push_str(&format!(
            " The response body stopped at {got} of {want} bytes."
        ));
    }
    let mut evidence = vec![ev(last_frame, Some(last_data), "last data from the server")];
    if let Some(g) = &gave_up {
        evidence.push(ev(
            g.frame,
            Some(g.ts),
            format!("the client gives up: {}", g.how),
        ));
    }
    if dark {
        let mut why = Vec::new();
        if let Some(q) = owed_silence {
            why.push(format!(
                "the server stopped inside a TLS record with all its data acknowledged and the client's window open, so its TCP held the rest and owed it at once, yet neither the rest nor a retransmission of it came in {q:.1} s, longer than a retransmission timeout ({:.1} s at this round trip, RFC 6298's floor) and a round trip",
                rto_secs(c)
            ));
        }
        if dark_resent {
            let gaps: Vec<String> = resent
                .windows(2)
                .filter_map(|w| match w {
                    [a, b] => Some(format!("{:.2}", b.1.since(a.1).as_secs_f64())),
                    _ => None,
                })
                .collect();
            why.push(format!(
                "the client sent its unacknowledged segments again {} times (intervals {} s, its retransmission timer expiring each time) and not one packet came back, where a live server host acknowledges within a round trip even with its program hung",
                resent.len(),
                gaps.join(", ")
            ));
            for (i, (fr, ts)) in resent.iter().enumerate() {
                evidence.push(ev(
                    *fr,
                    Some(*ts),
                    format!("the client's resend #{}, unanswered", i + 1),
                ));
            }
        }
        summary.push_str(&format!(
            " The path went dark: {}. Packets are dropped between the two hosts (a firewall or IPS cutting long or large transfers, a failing link or VPN), or the server's host is gone.",
            why.join("; and ")
        ));
        if c.end_reason == EndReason::EndOfInput && gave_up.is_none() {
            summary.push_str(&format!(
                " The capture ends {:.1} s into the silence, with the client still waiting.",
                end.since(last_data).as_secs_f64()
            ));
        }
    } else if close_answered && f.via_proxy {
        summary.push_str(
            " The proxy answered the client's close at once, as a proxy does when its client leaves: the stall is behind it, in the server or on the path between the proxy and the server.",
        );
    } else if close_answered {
        summary.push_str(
            " The server's host answered the client's close at once: it was up and reachable, its program had stopped sending.",
        );
    }
    summary.push_str(" The go command has no body timeout, so it hangs.");
    let remedy = if dark {
        format!(
            "Interrupt and retry to see whether it happens again at the same point; if it does, ask the network team to look at the path to {target} (a firewall, IPS or proxy dropping long or large transfers), quoting the frames. {}",
            remedy::alternative(f.role, f.name.as_deref())
        )
    } else {
        format!(
            "Interrupt and retry (a retry often gets a healthy server); if it keeps happening, whoever runs the server must look at it. {}",
            remedy::alternative(f.role, f.name.as_deref())
        )
    };
    Some(Finding {
        stage: Stage::Transfer,
        kind: FindingKind::TransferStall,
        severity: Severity::Error,
        actor: if dark || f.via_proxy {
            // Through a proxy the silence may be the server's or the path's behind it.
            Actor::Unknown
        } else {
            Actor::Server
        },
        connection: Some(c.id),
        server_name: f.name_owned(),
        server: Some(target),
        summary,
        likely_go_error: None,
        remedy: Some(remedy),
        evidence,
    })
}
