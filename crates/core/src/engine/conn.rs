//! One connection, as Zeek's `Connection` holds its analyzer tree: the TCP state machine, a
//! reassembler per direction and the decoder session. This is the one file that wires the
//! three layers together; it also builds the connection record when the connection ends.

use crate::app::StreamCtx;
use crate::app::session::{Session, SessionEnv};
use crate::event::{Connection, EndReason, Event, EventMask};
use crate::flow::{SegmentVerdict, TcpConn, UdpFlow};
use crate::reassembly::{Chunk, MemBudget, Reassembler, ReassemblyLimits, SeqNumber};
use crate::time::Timestamp;
use crate::types::Progress;
use crate::types::{Protocol, Side, Transport};
use crate::wire::{IpInfo, TcpSegment};
use std::net::SocketAddr;

/// What the engine lends a connection for one packet.
pub(crate) struct ConnEnv<'e> {
    pub reasm_limits: &'e ReassemblyLimits,
    pub budget: &'e mut MemBudget,
    pub stream: SessionEnv<'e>,
    pub decode_apps: bool,
}

/// One direction's byte stream.
#[derive(Debug, Default)]
struct Stream {
    reasm: Option<Reassembler>,
    /// The decoders were told this direction ended.
    ended: bool,
    /// Content gaps of this direction already written to the history.
    holes_noted: u64,
}

impl Stream {
    /// Writes the content gaps the reassembler found since the last call into the history.
    fn note_holes(&mut self, tcp: &mut TcpConn, side: Side) {
        let Some(r) = self.reasm.as_ref() else {
            return;
        };
        let holes = r.stats().holes;
        for _ in self.holes_noted..holes {
            tcp.note_gap(side);
        }
        self.holes_noted = holes;
    }
}

/// A TCP connection with everything above TCP.
#[derive(Debug)]
pub(crate) struct Conn {
    pub tcp: TcpConn,
    streams: [Stream; 2],
    app: Session,
    /// Limits this connection ran into (see `Connection::partial`).
    partial: Vec<&'static str>,
    overlap_conflicts: u64,
    /// `Engine::advance` reported this connection's current silence.
    pub stall_reported: bool,
}

fn split_streams(streams: &mut [Stream; 2], side: Side) -> (&mut Stream, &mut Stream) {
    let [c, s] = streams;
    match side {
        Side::Client => (c, s),
        Side::Server => (s, c),
    }
}

impl Conn {
    pub fn new(tcp: TcpConn) -> Self {
        Conn {
            tcp,
            streams: Default::default(),
            app: Session::default(),
            partial: Vec::new(),
            overlap_conflicts: 0,
            stall_reported: false,
        }
    }

    /// Frees what an ended connection still holds besides its box (reassemblers, decoders),
    /// before the box is kept for a new connection.
    pub fn release(&mut self) {
        self.streams = Default::default();
        self.app = Session::default();
        self.partial = Vec::new();
    }

    /// One segment from `src`: TCP first, then its payload, ACK and FIN for the streams.
    pub fn on_segment(
        &mut self,
        src: SocketAddr,
        ip: &IpInfo,
        seg: &TcpSegment<'_>,
        frame: u64,
        ts: Timestamp,
        env: &mut ConnEnv<'_>,
    ) {
        self.stall_reported = false;
        let v = self.tcp.on_segment(
            src,
            ip,
            seg,
            frame,
            ts,
            env.stream.limits.max_resets_per_conn,
        );
        if v.reset_not_kept {
            env.stream.stats.anomaly("resets_not_kept");
        }
        if v.rst_with_data {
            env.stream.stats.anomaly("rst_with_data");
        }
        if let Some(r) = &v.reset
            && env.stream.events.contains(EventMask::RESET)
        {
            let ev = env.stream.conn_event(r.from, r.clone());
            env.stream.out.push(Event::Reset(ev));
        }
        if v.out_of_window {
            // Injected: neither its payload nor its ACK or FIN belongs to the stream.
            env.stream.stats.out_of_window_segments += 1;
            return;
        }
        if env.decode_apps {
            self.reassemble(&v, seg, frame, ts, env);
        }
    }

    fn reassemble(
        &mut self,
        v: &SegmentVerdict,
        seg: &TcpSegment<'_>,
        frame: u64,
        ts: Timestamp,
        env: &mut ConnEnv<'_>,
    ) {
        let side = v.side;
        let app = &mut self.app;
        let tcp = &mut self.tcp;
        let (me, other) = split_streams(&mut self.streams, side);
        // A FIN after bytes the capture never showed (none of this side's payload seen, or
        // not its last part): the stream is followed from its start all the same, so that the
        // bytes before the FIN count as missed and come out as a gap.
        if me.reasm.is_none()
            && !me.ended
            && let Some(fin) = v.fin_seq
            && v.stream_start.is_before(fin)
        {
            me.reasm = Some(Reassembler::new(v.stream_start));
        }
        // This segment acknowledging bytes of the other direction that we never saw (data
        // held after a hole, or a FIN whose preceding bytes never came). Done before this
        // segment's own payload: what it acknowledges was sent before it (a DNS or HTTP
        // answer must not reach its decoder ahead of the query held behind the hole).
        if seg.flags.ack()
            && let Some(r) = other.reasm.as_mut()
            && (r.buffered_segments() > 0 || r.is_short_of_fin())
        {
            let mut sink = |c: Chunk<'_>| deliver(app, &mut env.stream, side.other(), c);
            r.ack_beyond_hole(SeqNumber(seg.ack), env.budget, env.reasm_limits, &mut sink);
            settle_owed(me, app, side, env.budget);
            other.note_holes(tcp, side.other());
        }
        if seg.wire_len > 0 && !me.ended {
            let r = me
                .reasm
                .get_or_insert_with(|| Reassembler::new(v.stream_start));
            let mut sink = |c: Chunk<'_>| deliver(app, &mut env.stream, side, c);
            let out = r.segment(
                v.data_seq,
                seg.payload,
                seg.wire_len,
                frame,
                ts,
                env.budget,
                env.reasm_limits,
                &mut sink,
            );
            env.stream.stats.ooo_segment_limit_hits += u64::from(out.segment_limit_hits);
            if out.overlap_conflict {
                self.overlap_conflicts += 1;
                env.stream.stats.anomaly("retransmission_inconsistency");
            }
            if out.dropped_bytes > 0 {
                env.stream.stats.reassembly_dropped_bytes += out.dropped_bytes as u64;
                if !self.partial.contains(&"reassembly_limit") {
                    self.partial.push("reassembly_limit");
                }
            }
            if out.truncated_bytes > 0 && !self.partial.contains(&"snaplen") {
                self.partial.push("snaplen");
            }
            settle_owed(other, app, side.other(), env.budget);
            me.note_holes(tcp, side);
        }
        if let Some(fin) = v.fin_seq {
            // End the stream now when everything before the FIN arrived; with a hole before it
            // wait for retransmissions until the connection ends.
            let complete = match me.reasm.as_mut() {
                Some(r) => {
                    r.set_fin(fin, env.reasm_limits);
                    // Nothing waiting and nothing missing: a hole right before the FIN with
                    // nothing after it is not complete (its bytes may still come, reordered).
                    r.buffered_segments() == 0 && !r.next_seq().is_before(fin)
                }
                None => true,
            };
            if complete {
                end_stream(me, app, &mut env.stream, side, env.budget);
                settle_owed(other, app, side.other(), env.budget);
                me.note_holes(tcp, side);
            }
        }
    }

    /// Ends the connection: flushes both reassemblers into the decoders and builds the record.
    pub fn finish(
        &mut self,
        reason: EndReason,
        server_name_hint: Option<&String>,
        budget: &mut MemBudget,
        env: &mut SessionEnv<'_>,
    ) -> Connection {
        for side in [Side::Client, Side::Server] {
            let (st, other) = split_streams(&mut self.streams, side);
            end_stream(st, &mut self.app, env, side, budget);
            settle_owed(other, &mut self.app, side.other(), budget);
            // Holes found only now were never passed by an ACK: their bytes count as missed
            // but write no `G`/`g`, as in Zeek (a gap is written when the peer's ACK passes
            // undelivered bytes; at the end, undelivered data is dropped without one).
        }
        if reason == EndReason::Evicted {
            self.partial.push("evicted");
        }
        let tcp = self.tcp.summary();
        let app = self.app.detected();
        let (mut tls, http) = self.app.take_results(env.stats);
        // Past the handshake the TLS decoder skips record bodies through the reassembler: a
        // direction that ended inside a skipped body ended in the middle of a record.
        if let Some(t) = tls.as_mut() {
            for st in &self.streams {
                if st
                    .reasm
                    .as_ref()
                    .is_some_and(Reassembler::ended_inside_skip)
                {
                    t.anomalies.truncated_at_end += 1;
                }
            }
        }
        // The hint (a DNS answer's name) is copied only when nothing better names it.
        let server_name =
            server_name_from(tls.as_deref(), &http).or_else(|| server_name_hint.cloned());
        let [c, s] = &self.streams;
        let mut client_stats = tcp.client_stats;
        let mut server_stats = tcp.server_stats;
        client_stats.missed_bytes += c.reasm.as_ref().map_or(0, |r| r.missed_bytes());
        server_stats.missed_bytes += s.reasm.as_ref().map_or(0, |r| r.missed_bytes());
        env.stats.missed_bytes += client_stats.missed_bytes + server_stats.missed_bytes;
        let t = &self.tcp;
        Connection {
            id: t.id,
            transport: Transport::Tcp,
            client: t.client,
            server: t.server,
            server_name,
            state: tcp.state,
            history: tcp.history,
            ts_first: t.first_ts,
            ts_last: t.last_ts,
            duration: t.last_ts.since(t.first_ts),
            end_reason: reason,
            client_by: t.client_by,
            client_stats,
            server_stats,
            handshake_rtt: tcp.handshake_rtt,
            resets: tcp.resets,
            icmp: tcp.icmp,
            app,
            tls,
            http,
            partial: std::mem::take(&mut self.partial),
            overlap_conflicts: self.overlap_conflicts,
        }
    }
}

/// The record of a UDP flow.
pub(crate) fn udp_record(
    u: &mut UdpFlow,
    reason: EndReason,
    server_name: Option<String>,
) -> Connection {
    let [c, s] = u.stats.map(|side| side.stats());
    // Zeek's UDP states: SF when both sides spoke, S0 when only the client, SHR when only
    // the server, OTH otherwise.
    let state = match (c.packets > 0, s.packets > 0) {
        (true, true) => "SF",
        (true, false) => "S0",
        (false, true) => "SHR",
        (false, false) => "OTH",
    };
    // One of eight texts, copied once (pushed letter by letter it took the growth path).
    let history = match (u.flipped, c.packets > 0, s.packets > 0) {
        (false, false, false) => "",
        (false, true, false) => "D",
        (false, false, true) => "d",
        (false, true, true) => "Dd",
        (true, false, false) => "^",
        (true, true, false) => "^D",
        (true, false, true) => "^d",
        (true, true, true) => "^Dd",
    }
    .to_string();
    Connection {
        id: u.id,
        transport: Transport::Udp,
        client: u.client,
        server: u.server,
        server_name,
        state,
        history,
        ts_first: u.first_ts,
        ts_last: u.last_ts,
        duration: u.last_ts.since(u.first_ts),
        end_reason: reason,
        client_by: if u.flipped { "port" } else { "first-packet" },
        client_stats: c,
        server_stats: s,
        handshake_rtt: None,
        resets: Vec::new(),
        icmp: std::mem::take(&mut u.icmp),
        app: u.is_dns.then_some(Protocol::Dns),
        tls: None,
        http: Vec::new(),
        partial: if reason == EndReason::Evicted {
            vec!["evicted"]
        } else {
            Vec::new()
        },
        overlap_conflicts: 0,
    }
}

/// The name the client asked for: SNI, else the CONNECT target or Host header.
fn server_name_from(
    tls: Option<&crate::app::tls::TlsInfo>,
    http: &[crate::app::http::HttpTransaction],
) -> Option<String> {
    if let Some(sni) = tls.and_then(|t| t.sni()) {
        return Some(sni.to_string());
    }
    for t in http {
        if t.method.as_deref() == Some("CONNECT")
            && let Some(u) = &t.uri
        {
            return Some(strip_port(u).to_string());
        }
        if let Some(h) = &t.host {
            return Some(strip_port(h).to_string());
        }
    }
    None
}

fn strip_port(hostport: &str) -> &str {
    if let Some(rest) = hostport.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => hostport,
    }
}

fn deliver(app: &mut Session, env: &mut SessionEnv<'_>, side: Side, c: Chunk<'_>) -> Progress {
    match c {
        Chunk::Data {
            offset,
            bytes,
            frame,
            ts,
        } => {
            let ctx = StreamCtx {
                side,
                ts,
                frame,
                offset,
            };
            app.on_data(env, &ctx, bytes)
        }
        Chunk::Gap { offset, len } => {
            let ctx = StreamCtx {
                side,
                ts: Timestamp::ZERO,
                frame: 0,
                offset,
            };
            app.on_gap(env, &ctx, len)
        }
        Chunk::End => {
            let ctx = StreamCtx {
                side,
                ts: Timestamp::ZERO,
                frame: 0,
                offset: 0,
            };
            app.on_end(env, &ctx);
            Progress::Done
        }
    }
}

/// Applies to `side`'s reassembler an answer the session gave to bytes of that side it did
/// not get from it (an upgrade's leftovers: see `app::session`).
fn settle_owed(st: &mut Stream, app: &mut Session, side: Side, budget: &mut MemBudget) {
    if let Some(answer) = app.take_owed(side)
        && let Some(r) = st.reasm.as_mut()
    {
        r.apply(answer, budget);
    }
}

/// Tells the decoders that one direction ended (once): what the reassembler still holds is
/// delivered first.
fn end_stream(
    st: &mut Stream,
    app: &mut Session,
    env: &mut SessionEnv<'_>,
    side: Side,
    budget: &mut MemBudget,
) {
    if st.ended {
        return;
    }
    st.ended = true;
    match st.reasm.as_mut() {
        Some(r) => {
            // With the FIN seen, where the stream ended is known: a decoder can tell a body
            // the close cut short from one that was whole. Without it (the capture ended,
            // a reset) the end stays unknown (offset 0).
            let end = r.fin_offset().unwrap_or(0);
            let mut sink = |c: Chunk<'_>| match c {
                Chunk::End => {
                    let ctx = StreamCtx {
                        side,
                        ts: Timestamp::ZERO,
                        frame: 0,
                        offset: end,
                    };
                    app.on_end(env, &ctx);
                    Progress::Done
                }
                c => deliver(app, env, side, c),
            };
            r.finish(budget, &mut sink);
        }
        None => {
            let ctx = StreamCtx {
                side,
                ts: Timestamp::ZERO,
                frame: 0,
                offset: 0,
            };
            app.on_end(env, &ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::strip_port;

    #[test]
    fn ports_stripped() {
        assert_eq!(strip_port("proxy.golang.org:443"), "proxy.golang.org");
        assert_eq!(strip_port("example.com"), "example.com");
        assert_eq!(strip_port("[::1]:443"), "::1");
    }
}
