//! One TCP connection: endpoint states, history, per-side counters, and the two reassemblers
//! that feed the application decoders.
//!
//! TCP analysis follows Wireshark's `tcp.analysis` meanings, simplified to what can be decided
//! in one pass without per-packet state:
//! - retransmission: a segment with payload all of whose bytes lie at or below the highest
//!   sequence number already seen in that direction (fast and spurious retransmissions
//!   included);
//! - out_of_order: a segment that fills (part of) a hole below the highest sequence seen;
//! - lost_segment: a segment that starts beyond the highest sequence seen (the capture, not
//!   necessarily the network, missed something);
//! - duplicate ACK: no payload, no SYN/FIN/RST, same ACK number and window as the previous
//!   segment of that side, while the other side has sent data;
//! - zero window: window 0 on a segment without SYN, FIN or RST.

use crate::app::StreamCtx;
use crate::config::Limits;
use crate::event::{Connection, EndReason, IcmpInfo, ResetInfo, SideStats};
use crate::flow::history::{EndpointState, History, conn_state};
use crate::flow::{Side, Transport};
use crate::reassembly::{Chunk, MemBudget, Reassembler, ReassemblyLimits, SeqNumber, Want};
use crate::stream::{StreamDispatch, StreamEnv};
use crate::time::Timestamp;
use crate::wire::{IpInfo, TcpSegment};
use std::net::SocketAddr;

/// SYN / SYN-ACK frames remembered per side (the rest are counted in history and packets).
const MAX_SYN_FRAMES: usize = 16;
/// Sequence holes remembered per side for the out-of-order / retransmission distinction.
const MAX_HOLES: usize = 4;

/// Ports that identify the server side of a connection whose SYN was not captured.
fn is_service_port(p: u16) -> bool {
    p < 1024
        || matches!(
            p,
            1080 | 3128
                | 3306
                | 4433
                | 5432
                | 6379
                | 8000
                | 8008
                | 8080
                | 8443
                | 8888
                | 9000
                | 9001
                | 9090
        )
}

#[derive(Debug, Default)]
struct SideState {
    state: EndpointState,
    /// Sequence number of the SYN (None mid-stream).
    isn: Option<u32>,
    /// First sequence number seen in this direction (Wireshark's base_seq).
    base_seq: Option<u32>,
    /// Sequence number just past the highest payload byte seen.
    max_end: Option<u32>,
    /// When `max_end` last advanced: a hole filled soon after is reordering, later a resend.
    max_end_ts: Timestamp,
    holes: [(u32, u32); MAX_HOLES],
    n_holes: usize,
    last_ack: Option<u32>,
    last_win: Option<u16>,
    stats: SideStats,
    reasm: Option<Reassembler>,
    /// The decoder wants nothing more from this side.
    done: bool,
    ended: bool,
}

impl SideState {
    fn note_hole(&mut self, start: u32, end: u32) {
        if self.n_holes < MAX_HOLES {
            if let Some(h) = self.holes.get_mut(self.n_holes) {
                *h = (start, end);
                self.n_holes += 1;
            }
        } else if let Some(h) = self.holes.get_mut(MAX_HOLES - 1) {
            // Keep the latest holes: old ones are most likely filled or lost for good.
            *h = (start, end);
        }
    }

    /// Whether [start, end) overlaps a remembered hole; shrinks or removes it.
    fn fill_hole(&mut self, start: u32, end: u32) -> bool {
        let mut hit = false;
        let mut i = 0;
        while i < self.n_holes {
            let Some(&(hs, he)) = self.holes.get(i) else {
                break;
            };
            let overlaps = seq_lt(start, he) && seq_lt(hs, end);
            if overlaps {
                hit = true;
                let new = if !seq_lt(hs, start) && !seq_lt(end, he) {
                    None
                } else if !seq_lt(hs, start) {
                    Some((end, he))
                } else {
                    Some((hs, start))
                };
                match new {
                    Some(h) => {
                        if let Some(slot) = self.holes.get_mut(i) {
                            *slot = h;
                        }
                        i += 1;
                    }
                    None => {
                        self.holes.swap(i, self.n_holes - 1);
                        self.n_holes -= 1;
                    }
                }
            } else {
                i += 1;
            }
        }
        hit
    }
}

/// a < b in sequence space.
fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// What the engine lends a connection for one packet.
pub struct ConnEnv<'e> {
    pub limits: &'e Limits,
    pub reasm_limits: &'e ReassemblyLimits,
    pub budget: &'e mut MemBudget,
    pub stream: StreamEnv<'e>,
    pub decode_apps: bool,
}

/// A TCP connection.
#[derive(Debug)]
pub struct TcpConn {
    pub id: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub client_by: &'static str,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    pub last_frame: u64,
    sides: [SideState; 2],
    pub history: History,
    pub resets: Vec<ResetInfo>,
    pub icmp: Vec<IcmpInfo>,
    syn_ts: Option<Timestamp>,
    handshake_rtt: Option<crate::time::Duration>,
    pub app: StreamDispatch,
    pub partial: Vec<&'static str>,
    overlap_conflicts: u64,
    /// Deadline bucket this connection is scheduled in (engine bookkeeping).
    pub scheduled: u64,
    pub stall_reported: bool,
}

impl TcpConn {
    /// A new connection from its first packet, sent from `src` to `dst`.
    pub fn new(
        id: u64,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &TcpSegment<'_>,
        ts: Timestamp,
    ) -> Self {
        let (client, server, by, flipped) = if seg.flags.syn() && !seg.flags.ack() {
            (src, dst, "syn", false)
        } else if seg.flags.syn() && seg.flags.ack() {
            (dst, src, "syn-ack", true)
        } else if is_service_port(dst.port()) && !is_service_port(src.port()) {
            (src, dst, "port", false)
        } else if is_service_port(src.port()) && !is_service_port(dst.port()) {
            (dst, src, "port", true)
        } else {
            (src, dst, "first-packet", false)
        };
        let mut history = History::default();
        if flipped && by != "syn-ack" {
            history.flip();
        }
        TcpConn {
            id,
            client,
            server,
            client_by: by,
            first_ts: ts,
            last_ts: ts,
            last_frame: 0,
            sides: Default::default(),
            history,
            resets: Vec::new(),
            icmp: Vec::new(),
            syn_ts: None,
            handshake_rtt: None,
            app: StreamDispatch::default(),
            partial: Vec::new(),
            overlap_conflicts: 0,
            scheduled: 0,
            stall_reported: false,
        }
    }

    pub fn side_of(&self, src: SocketAddr) -> Side {
        if src == self.client {
            Side::Client
        } else {
            Side::Server
        }
    }

    /// Both ends are finished (FIN or RST from each, or a RST from either).
    pub fn is_closed(&self) -> bool {
        let [c, s] = &self.sides;
        let gone = |st: EndpointState| matches!(st, EndpointState::Closed | EndpointState::Reset);
        c.state == EndpointState::Reset
            || s.state == EndpointState::Reset
            || (gone(c.state) && gone(s.state))
    }

    /// True when a pure SYN from `src` with sequence `seq` starts a new connection on this
    /// 5-tuple (port reuse) rather than retransmitting this one's SYN. Wireshark starts a new
    /// stream when a SYN's sequence number differs from the direction's base sequence.
    pub fn is_reuse_syn(&self, src: SocketAddr, seq: u32) -> bool {
        let side = self.side_of(src);
        // Side::index() is 0 or 1, into an array of two.
        #[allow(clippy::indexing_slicing)]
        let st = &self.sides[side.index()];
        match st.base_seq {
            Some(base) => base != seq,
            None => self.is_closed(),
        }
    }

    pub fn client_isn(&self) -> Option<u32> {
        self.sides[0].isn
    }

    pub fn has_syn(&self) -> bool {
        self.sides[0].isn.is_some()
    }

    /// Processes one segment from `src`.
    pub fn on_segment(
        &mut self,
        src: SocketAddr,
        ip: &IpInfo,
        seg: &TcpSegment<'_>,
        frame: u64,
        ts: Timestamp,
        env: &mut ConnEnv<'_>,
    ) {
        let side = self.side_of(src);
        let i = side.index();
        self.last_ts = self.last_ts.max(ts);
        self.last_frame = frame;
        self.stall_reported = false;
        let flags = seg.flags;
        let wire_len = seg.wire_len;
        let (me, other) = split_sides(&mut self.sides, side);

        me.stats.packets += 1;
        me.stats.bytes += wire_len as u64;
        if me.stats.ts_first.is_none() {
            me.stats.ts_first = Some(ts);
        }
        me.stats.ts_last = Some(ts);
        if me.base_seq.is_none() {
            me.base_seq = Some(seg.seq);
        }
        if !flags.rst() {
            me.stats.ttl_min = Some(me.stats.ttl_min.map_or(ip.ttl, |t| t.min(ip.ttl)));
            me.stats.ttl_max = Some(me.stats.ttl_max.map_or(ip.ttl, |t| t.max(ip.ttl)));
            if ip.ip_id.is_some() {
                me.stats.ip_id_last = ip.ip_id;
            }
        }

        // Flags, endpoint states and history.
        if flags.syn() {
            if flags.rst() {
                self.history.add(side, b'I');
            }
            if flags.fin() {
                self.history.add(side, b'Q');
            }
            if me.stats.syn_frames.len() < MAX_SYN_FRAMES {
                me.stats.syn_frames.push(frame);
            }
            if seg.window_scale.is_some() {
                me.stats.window_scale = seg.window_scale;
            }
            me.isn = Some(seg.seq);
            if flags.ack() {
                self.history.add(side, b'H');
                if matches!(me.state, EndpointState::Inactive | EndpointState::Partial) {
                    me.state = EndpointState::SynAckSent;
                }
                if self.handshake_rtt.is_none()
                    && let Some(syn) = self.syn_ts
                {
                    self.handshake_rtt = Some(ts.since(syn));
                }
            } else {
                self.history.add(side, b'S');
                if matches!(me.state, EndpointState::Inactive | EndpointState::Partial) {
                    me.state = EndpointState::SynSent;
                }
                // The latest SYN before the SYN-ACK gives the round trip.
                if self.handshake_rtt.is_none() {
                    self.syn_ts = Some(ts);
                }
            }
        } else if flags.ack()
            && other.state == EndpointState::SynAckSent
            && me.state == EndpointState::SynSent
        {
            me.state = EndpointState::Established;
            other.state = EndpointState::Established;
        }
        if wire_len > 0 {
            self.history.add(side, b'D');
            if me.state == EndpointState::Inactive {
                me.state = EndpointState::Partial;
            }
            if other.state == EndpointState::SynAckSent && me.state == EndpointState::SynSent {
                me.state = EndpointState::Established;
                other.state = EndpointState::Established;
            }
            if me.stats.first_data_frame.is_none() {
                me.stats.first_data_frame = Some(frame);
            }
            me.stats.last_data_frame = Some(frame);
            me.stats.last_data_ts = Some(ts);
            if other.stats.fin_frame.is_none() && other.state != EndpointState::Reset {
                me.stats.last_data_while_peer_open = Some((frame, ts));
            }
        } else if flags.ack() && !flags.syn() && !flags.fin() && !flags.rst() {
            self.history.add(side, b'A');
            if me.state == EndpointState::Inactive {
                me.state = EndpointState::Partial;
            }
        }
        if flags.fin() {
            self.history.add(side, b'F');
            if me.state != EndpointState::Reset {
                me.state = EndpointState::Closed;
            }
            if me.stats.fin_frame.is_none() {
                me.stats.fin_frame = Some(frame);
                me.stats.fin_ts = Some(ts);
            }
        }
        if flags.rst() {
            self.history.add(side, b'R');
            me.state = EndpointState::Reset;
            let unacked = match (other.max_end, me.last_ack) {
                (Some(end), Some(ack)) => seq_lt(ack, end),
                (Some(_), None) => true,
                _ => false,
            };
            if self.resets.len() < env.limits.max_resets_per_conn {
                self.resets.push(ResetInfo {
                    packet: frame,
                    ts,
                    from: side,
                    ttl: ip.ttl,
                    ip_id: ip.ip_id,
                    seq: seg.seq,
                    ack: seg.ack,
                    after_bytes: me.stats.bytes.saturating_sub(wire_len as u64),
                    with_unacked_data: unacked,
                });
            } else {
                env.stream.stats.anomaly("resets_not_kept");
            }
            if wire_len > 0 {
                env.stream.stats.anomaly("rst_with_data");
            }
        }

        // Sequence analysis (Wireshark's tcp.analysis, see the module doc).
        if wire_len > 0 && !flags.syn() {
            let start = seg.seq;
            let end = seg.seq.wrapping_add(wire_len);
            // Wireshark's threshold between reordering and a resend: the handshake's round
            // trip when known, else 3 ms.
            let ooo_threshold = self
                .handshake_rtt
                .unwrap_or(crate::time::Duration::from_millis(3));
            match me.max_end {
                None => {
                    me.max_end = Some(end);
                    me.max_end_ts = ts;
                }
                Some(max) => {
                    if seq_lt(max, start) {
                        me.stats.lost_segments += 1;
                        me.note_hole(max, start);
                        me.max_end = Some(end);
                        me.max_end_ts = ts;
                    } else if start == max {
                        me.max_end = Some(end);
                        me.max_end_ts = ts;
                    } else {
                        let filled = me.fill_hole(start, end);
                        if filled && ts.since(me.max_end_ts) < ooo_threshold {
                            me.stats.out_of_order += 1;
                        } else {
                            me.stats.retransmissions += 1;
                            self.history.add(side, b'T');
                        }
                        if seq_lt(max, end) {
                            me.max_end = Some(end);
                            me.max_end_ts = ts;
                        }
                    }
                }
            }
        }
        if seg.window == 0 && !flags.syn() && !flags.fin() && !flags.rst() {
            me.stats.zero_windows += 1;
            self.history.add(side, b'W');
        }
        if flags.ack() {
            if wire_len == 0
                && !flags.syn()
                && !flags.fin()
                && !flags.rst()
                && me.last_ack == Some(seg.ack)
                && me.last_win == Some(seg.window)
                && other.max_end.is_some()
            {
                me.stats.dup_acks += 1;
            }
            me.last_ack = Some(seg.ack);
            me.last_win = Some(seg.window);
        }

        // Reassembly and decoding.
        if !env.decode_apps {
            return;
        }
        let conn_id = self.id;
        let app = &mut self.app;
        let partial = &mut self.partial;
        let (me, other) = split_sides(&mut self.sides, side);
        if wire_len > 0 && !me.done && !me.ended {
            // TCP Fast Open: data in a SYN starts after the SYN's own sequence number.
            let data_seq = if flags.syn() {
                seg.seq.wrapping_add(1)
            } else {
                seg.seq
            };
            let first = match me.isn {
                // Data right after the SYN starts at ISN+1; data from a capture that began
                // mid-stream starts where we first saw it.
                Some(isn) => isn.wrapping_add(1),
                None => seg.seq,
            };
            let r = me
                .reasm
                .get_or_insert_with(|| Reassembler::new(SeqNumber(first)));
            let mut sink = |c: Chunk<'_>| deliver(app, &mut env.stream, side, conn_id, c);
            let out = r.segment(
                SeqNumber(data_seq),
                seg.payload,
                wire_len,
                frame,
                ts,
                env.budget,
                env.reasm_limits,
                &mut sink,
            );
            if out.overlap_conflict {
                self.overlap_conflicts += 1;
                env.stream.stats.anomaly("retransmission_inconsistency");
            }
            if out.dropped_bytes > 0 {
                env.stream.stats.reassembly_dropped_bytes += out.dropped_bytes as u64;
                if !partial.contains(&"reassembly_limit") {
                    partial.push("reassembly_limit");
                }
            }
        }
        // The peer acknowledging bytes of this side's other direction that we never saw.
        if flags.ack()
            && let Some(r) = other.reasm.as_mut()
            && r.buffered_segments() > 0
        {
            let mut sink = |c: Chunk<'_>| deliver(app, &mut env.stream, side.other(), conn_id, c);
            r.ack_beyond_hole(SeqNumber(seg.ack), env.budget, env.reasm_limits, &mut sink);
        }
        if flags.fin() {
            // End the stream now when everything before the FIN arrived; with a hole before it
            // wait for retransmissions until the connection ends.
            let complete = match me.reasm.as_mut() {
                Some(r) => {
                    r.set_fin(SeqNumber(seg.seq.wrapping_add(wire_len)), env.reasm_limits);
                    r.buffered_segments() == 0
                }
                None => true,
            };
            if complete {
                finish_side(me, app, &mut env.stream, side, conn_id, env.budget);
            }
        }
        let _ = i;
    }

    /// An ICMP error quoting this connection.
    pub fn on_icmp(&mut self, info: IcmpInfo, limits: &Limits) {
        self.last_ts = self.last_ts.max(info.ts);
        if self.icmp.len() < limits.max_resets_per_conn {
            self.icmp.push(info);
        }
    }

    /// Ends the connection: flushes both reassemblers into the decoders and builds the record.
    /// Takes what the record needs out of `self` rather than consuming it: moving a whole
    /// `TcpConn` out of its box per connection was a large share of a SYN flood's time.
    pub fn finish(
        &mut self,
        reason: EndReason,
        server_name_hint: Option<String>,
        budget: &mut MemBudget,
        env: &mut StreamEnv<'_>,
    ) -> Connection {
        let conn_id = self.id;
        for side in [Side::Client, Side::Server] {
            #[allow(clippy::indexing_slicing)] // Side::index() is 0 or 1: an array of two
            let st = &mut self.sides[side.index()];
            finish_side(st, &mut self.app, env, side, conn_id, budget);
        }
        if reason == EndReason::Evicted {
            self.partial.push("evicted");
        }
        let [c, s] = &self.sides;
        let no_payload = c.stats.bytes == 0 && s.stats.bytes == 0;
        let state = conn_state(c.state, s.state, &self.history, no_payload);
        let app = self.app.detected();
        let (tls, http) = self.app.take_results();
        let server_name = server_name_from(tls.as_deref(), &http).or(server_name_hint);
        let [c, s] = &mut self.sides;
        let unacked = |me: &SideState, other: &SideState| match (other.max_end, me.last_ack) {
            (Some(end), Some(ack)) => seq_lt(ack, end),
            _ => false,
        };
        let (client_unacked, server_unacked) = (unacked(c, s), unacked(s, c));
        let mut client_stats = std::mem::take(&mut c.stats);
        let mut server_stats = std::mem::take(&mut s.stats);
        client_stats.peer_data_unacked = client_unacked;
        server_stats.peer_data_unacked = server_unacked;
        client_stats.missed_bytes += c.reasm.as_ref().map_or(0, |r| r.missed_bytes());
        server_stats.missed_bytes += s.reasm.as_ref().map_or(0, |r| r.missed_bytes());
        env.stats.missed_bytes += client_stats.missed_bytes + server_stats.missed_bytes;
        Connection {
            id: self.id,
            transport: Transport::Tcp,
            client: self.client,
            server: self.server,
            server_name,
            state,
            history: self.history.as_str().to_string(),
            ts_first: self.first_ts,
            ts_last: self.last_ts,
            duration: self.last_ts.since(self.first_ts),
            end_reason: reason,
            client_by: self.client_by,
            client_stats,
            server_stats,
            handshake_rtt: self.handshake_rtt,
            resets: std::mem::take(&mut self.resets),
            icmp: std::mem::take(&mut self.icmp),
            app,
            tls,
            http,
            partial: std::mem::take(&mut self.partial),
            overlap_conflicts: self.overlap_conflicts,
        }
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

fn split_sides(sides: &mut [SideState; 2], side: Side) -> (&mut SideState, &mut SideState) {
    let [c, s] = sides;
    match side {
        Side::Client => (c, s),
        Side::Server => (s, c),
    }
}

fn deliver(
    app: &mut StreamDispatch,
    env: &mut StreamEnv<'_>,
    side: Side,
    conn_id: u64,
    c: Chunk<'_>,
) -> Want {
    let _ = conn_id;
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
            Want::Done
        }
    }
}

fn finish_side(
    st: &mut SideState,
    app: &mut StreamDispatch,
    env: &mut StreamEnv<'_>,
    side: Side,
    conn_id: u64,
    budget: &mut MemBudget,
) {
    if st.ended {
        return;
    }
    st.ended = true;
    match st.reasm.as_mut() {
        Some(r) => {
            let mut sink = |c: Chunk<'_>| deliver(app, env, side, conn_id, c);
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
