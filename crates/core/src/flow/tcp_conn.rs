//! One TCP connection as TCP sees it: endpoint states, Zeek's history letters, per-side
//! counters and Wireshark-style analysis. It knows nothing above TCP: [`TcpConn::on_segment`]
//! says what a segment meant ([`SegmentVerdict`]), and the engine's connection decides what
//! to do with the payload.
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
//! - out of window: a segment whose payload starts beyond the furthest right edge of the
//!   receive window the peer advertised (its ACK plus its window, scaled as the handshake
//!   agreed; with the handshake unseen the largest scale is assumed), by more than the
//!   largest window it advertised (a margin for ACKs the capture missed). No TCP that reads
//!   the peer's ACKs sends there: such a segment is injected. It is counted apart, taken for
//!   neither loss nor data, and its ACK and window are ignored.
//!
//! This analysis judges every segment, whether or not anyone wants its bytes, so it is kept
//! here and not in the reassembler: the reassembler stops looking at a direction once its
//! consumer is done, and it counts bytes, not Wireshark's per-segment flags.

use crate::flow::history::{EndpointState, History, conn_state};
use crate::flow::sides::{IcmpInfo, ResetInfo, SideStats};
use crate::reassembly::SeqNumber;
use crate::time::{Duration, Timestamp};
use crate::types::Side;
use crate::wire::{IpInfo, TcpFlags, TcpSegment};
use std::net::SocketAddr;

/// SYN / SYN-ACK frames remembered per side (the rest are counted in history and packets).
const MAX_SYN_FRAMES: usize = 16;
/// Sequence holes remembered per side for the out-of-order / retransmission distinction.
const MAX_HOLES: usize = 4;
/// The window scale assumed when the handshake was not seen: the largest (RFC 7323), so that
/// no genuine segment is ever judged out of window.
const UNKNOWN_WINDOW_SHIFT: u8 = 14;
/// Wireshark's threshold between reordering and a resend when the handshake's round trip is
/// unknown.
const DEFAULT_OOO_THRESHOLD: Duration = Duration::from_millis(3);

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

/// Two or more of SYN, FIN and RST in one segment.
fn is_multi_flag(f: TcpFlags) -> bool {
    u8::from(f.syn()) + u8::from(f.fin()) + u8::from(f.rst()) > 1
}

/// Whether `seg` carries payload beyond `end` (where its sender had reached; none known:
/// any payload is new). SYNs and RSTs never count: a SYN starts a connection by itself, and
/// a RST's payload is not data.
pub fn is_new_data(end: Option<SeqNumber>, seg: &TcpSegment<'_>) -> bool {
    if seg.wire_len == 0 || seg.flags.syn() || seg.flags.rst() {
        return false;
    }
    let seg_end = SeqNumber(seg.seq).wrapping_add(seg.wire_len);
    end.is_none_or(|e| e.is_before(seg_end))
}

/// What one segment meant, for whoever handles its payload.
#[derive(Clone, Debug)]
pub struct SegmentVerdict {
    /// The side that sent it.
    pub side: Side,
    /// Sequence number of its first payload byte (one past a SYN's own number: TCP Fast Open).
    pub data_seq: SeqNumber,
    /// Sequence number of the first byte of this side's stream: ISN + 1 after a SYN, else
    /// the first sequence number seen mid-stream.
    pub stream_start: SeqNumber,
    /// Where this side's payload ends, when the segment carries a FIN.
    pub fin_seq: Option<SeqNumber>,
    /// The segment is a RST (kept in [`TcpSummary::resets`] while within the bound).
    pub reset: Option<ResetInfo>,
    /// A RST beyond `max_resets_per_conn`: counted, not kept.
    pub reset_not_kept: bool,
    /// A RST that carried payload.
    pub rst_with_data: bool,
    /// The payload starts beyond the receive window the peer advertised (see the module doc):
    /// not part of the stream.
    pub out_of_window: bool,
}

/// What the connection record takes from TCP when the connection ends.
#[derive(Debug)]
pub struct TcpSummary {
    /// Zeek's conn_state.
    pub state: &'static str,
    /// Zeek's history letters.
    pub history: String,
    /// Client and server counters.
    pub client_stats: SideStats,
    /// See `client_stats`.
    pub server_stats: SideStats,
    /// SYN to SYN-ACK.
    pub handshake_rtt: Option<Duration>,
    /// RSTs kept.
    pub resets: Vec<ResetInfo>,
    /// ICMP errors kept.
    pub icmp: Vec<IcmpInfo>,
}

#[derive(Debug, Default)]
struct SideState {
    state: EndpointState,
    /// Sequence number of the SYN (None mid-stream).
    isn: Option<SeqNumber>,
    /// First sequence number seen in this direction (Wireshark's base_seq).
    base_seq: Option<SeqNumber>,
    /// Sequence number just past the highest this side has reached: its SYN, its payload,
    /// or where a segment without payload says it is (the sequence analysis).
    max_end: Option<SeqNumber>,
    /// Sequence number just past the highest payload byte seen (what the peer owes an ACK).
    payload_end: Option<SeqNumber>,
    /// When `max_end` last advanced: a hole filled soon after is reordering, later a resend.
    max_end_ts: Timestamp,
    holes: [(SeqNumber, SeqNumber); MAX_HOLES],
    n_holes: usize,
    last_ack: Option<SeqNumber>,
    last_win: Option<u16>,
    /// The furthest right edge of the receive window this side advertised.
    right_edge: Option<SeqNumber>,
    /// The largest window (scaled) this side advertised.
    max_window: u32,
    /// This side's RST came after its own FIN, before the peer's: if the peer's FIN follows,
    /// the connection closed normally after all (Zeek's `prev_state == CLOSED`).
    reset_after_fin: bool,
    /// This side reached `Established` at some point (Zeek's `prev_state` for a closed one).
    established_once: bool,
    stats: SideStats,
}

impl SideState {
    fn note_hole(&mut self, start: SeqNumber, end: SeqNumber) {
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
    fn fill_hole(&mut self, start: SeqNumber, end: SeqNumber) -> bool {
        let mut hit = false;
        let mut i = 0;
        while i < self.n_holes {
            let Some(&(hs, he)) = self.holes.get(i) else {
                break;
            };
            let overlaps = start.is_before(he) && hs.is_before(end);
            if overlaps {
                hit = true;
                let new = if !hs.is_before(start) && !end.is_before(he) {
                    None
                } else if !hs.is_before(start) {
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

    fn establish(&mut self) {
        self.state = EndpointState::Established;
        self.established_once = true;
    }

    /// Established, or closed after being established: Zeek reports content gaps only while
    /// both ends are in such a state (elsewhere they arise falsely from unseen starts or
    /// sequence numbers in RSTs).
    fn is_clean(&self) -> bool {
        self.state == EndpointState::Established
            || (self.state == EndpointState::Closed && self.established_once)
    }

    /// The other side sent payload this side had not acknowledged.
    fn lags(&self, other: &SideState) -> bool {
        match (other.payload_end, self.last_ack) {
            (Some(end), Some(ack)) => ack.is_before(end),
            _ => false,
        }
    }
}

/// A TCP connection.
#[derive(Debug)]
pub struct TcpConn {
    /// The engine's connection id.
    pub id: u64,
    /// The side that opened it (see `client_by`).
    pub client: SocketAddr,
    /// The other side.
    pub server: SocketAddr,
    /// How the client was chosen: "syn", "syn-ack", "port" or "first-packet".
    pub client_by: &'static str,
    /// Time of the first packet.
    pub first_ts: Timestamp,
    /// Latest packet time (captures are not always in time order).
    pub last_ts: Timestamp,
    /// Frame of the latest packet.
    pub last_frame: u64,
    sides: [SideState; 2],
    history: History,
    resets: Vec<ResetInfo>,
    icmp: Vec<IcmpInfo>,
    syn_ts: Option<Timestamp>,
    handshake_rtt: Option<Duration>,
}

fn split_sides(sides: &mut [SideState; 2], side: Side) -> (&mut SideState, &mut SideState) {
    let [c, s] = sides;
    match side {
        Side::Client => (c, s),
        Side::Server => (s, c),
    }
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
        // Zeek writes `^` when the first packet seen came from the responder: a capture that
        // starts at the SYN-ACK, or mid-stream from the side the ports call the server. (Zeek
        // first takes a SYN-ACK's sender for the originator, in case it answers a stealth
        // scan, and flips as soon as the other side acknowledges or sends data: the history
        // is then `^h...` too. A lone SYN-ACK is the one case where its log keeps `H`.)
        let mut history = History::default();
        if flipped {
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
        }
    }

    /// Which side sent a packet from `src`.
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
            Some(base) => base != SeqNumber(seq),
            None => self.is_closed(),
        }
    }

    /// Where `src`'s side of the stream had reached: just past its SYN, its highest payload
    /// byte, or the sequence number a later segment without payload carried.
    pub fn seq_end(&self, src: SocketAddr) -> Option<SeqNumber> {
        // Side::index() is 0 or 1, into an array of two.
        #[allow(clippy::indexing_slicing)]
        let st = &self.sides[self.side_of(src).index()];
        st.max_end
    }

    /// True when `seg` from `src` reopens this closed connection: it carries payload beyond
    /// anything its sender had sent, `linger` or more after the connection's last packet. A
    /// peer that reuses the ports without a SYN (Zeek starts a new connection for it); late
    /// retransmissions of old bytes, RSTs and ACKs stay with the old connection.
    pub fn is_reopened_by(
        &self,
        src: SocketAddr,
        seg: &TcpSegment<'_>,
        ts: Timestamp,
        linger: Duration,
    ) -> bool {
        self.is_closed() && ts.since(self.last_ts) >= linger && is_new_data(self.seq_end(src), seg)
    }

    /// Processes one segment from `src`; `max_resets` bounds the RSTs kept.
    pub fn on_segment(
        &mut self,
        src: SocketAddr,
        ip: &IpInfo,
        seg: &TcpSegment<'_>,
        frame: u64,
        ts: Timestamp,
        max_resets: usize,
    ) -> SegmentVerdict {
        let side = self.side_of(src);
        self.last_ts = self.last_ts.max(ts);
        self.last_frame = frame;
        self.count(side, ip, seg, ts);
        self.states_and_history(side, seg, frame, ts);
        let mut verdict = SegmentVerdict {
            side,
            data_seq: SeqNumber(seg.seq),
            stream_start: SeqNumber(seg.seq),
            fin_seq: None,
            reset: None,
            reset_not_kept: false,
            rst_with_data: false,
            out_of_window: false,
        };
        if seg.flags.rst() {
            self.reset(side, ip, seg, frame, ts, max_resets, &mut verdict);
        }
        verdict.out_of_window = self.analyse(side, seg, frame, ts);

        let (me, _) = split_sides(&mut self.sides, side);
        if seg.flags.syn() {
            verdict.data_seq = SeqNumber(seg.seq).wrapping_add(1);
        }
        // Data right after the SYN starts at ISN+1; data from a capture that began mid-stream
        // starts where we first saw it.
        if let Some(isn) = me.isn {
            verdict.stream_start = isn.wrapping_add(1);
        }
        if seg.flags.fin() {
            verdict.fin_seq = Some(SeqNumber(seg.seq).wrapping_add(seg.wire_len));
        }
        verdict
    }

    /// Per-side counters, TTL and IP ID.
    fn count(&mut self, side: Side, ip: &IpInfo, seg: &TcpSegment<'_>, ts: Timestamp) {
        let (me, _) = split_sides(&mut self.sides, side);
        me.stats.packets += 1;
        me.stats.bytes += seg.wire_len as u64;
        if me.stats.ts_first.is_none() {
            me.stats.ts_first = Some(ts);
        }
        me.stats.ts_last = Some(ts);
        if me.base_seq.is_none() {
            me.base_seq = Some(SeqNumber(seg.seq));
        }
        if !seg.flags.rst() {
            me.stats.ttl_min = Some(me.stats.ttl_min.map_or(ip.ttl, |t| t.min(ip.ttl)));
            me.stats.ttl_max = Some(me.stats.ttl_max.map_or(ip.ttl, |t| t.max(ip.ttl)));
            if ip.ip_id.is_some() {
                me.stats.ip_id_last = ip.ip_id;
            }
        }
    }

    /// Flags: endpoint states, history letters, the handshake's round trip.
    fn states_and_history(&mut self, side: Side, seg: &TcpSegment<'_>, frame: u64, ts: Timestamp) {
        let flags: TcpFlags = seg.flags;
        let wire_len = seg.wire_len;
        let (me, other) = split_sides(&mut self.sides, side);
        // Two or more of SYN, FIN and RST: one letter says so, I for FIN with RST, Q for the
        // other mixes, and none of S, H, F or R is written for it (Zeek's update_history).
        // Each flag still moves the endpoint's state.
        let multi = is_multi_flag(flags);
        if multi {
            let letter = if flags.fin() && flags.rst() {
                b'I'
            } else {
                b'Q'
            };
            self.history.add(side, letter);
        }
        if flags.syn() {
            if me.stats.syn_frames.len() < MAX_SYN_FRAMES {
                me.stats.syn_frames.push(frame);
            }
            if seg.window_scale.is_some() {
                me.stats.window_scale = seg.window_scale;
            }
            me.isn = Some(SeqNumber(seg.seq));
            if flags.ack() {
                if !multi {
                    self.history.add(side, b'H');
                }
                if matches!(me.state, EndpointState::Inactive | EndpointState::Partial) {
                    me.state = EndpointState::SynAckSent;
                }
                if self.handshake_rtt.is_none()
                    && let Some(syn) = self.syn_ts
                {
                    self.handshake_rtt = Some(ts.since(syn));
                }
            } else {
                if !multi {
                    self.history.add(side, b'S');
                }
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
            && (me.state == EndpointState::SynSent
                || (me.state == EndpointState::Inactive && !flags.rst()))
        {
            // The ACK of the SYN-ACK. From an inactive client, the capture began at the
            // SYN-ACK and missed the SYN: the connection is established all the same (Zeek:
            // S1, not OTH).
            me.establish();
            other.establish();
        }
        if wire_len > 0 {
            // Zeek writes `D` only for a packet without SYN, FIN or RST (update_history in
            // TCPSessionAdapter.cc): a FIN or RST carrying the last bytes writes its own letter.
            if !flags.syn() && !flags.fin() && !flags.rst() {
                self.history.add(side, b'D');
            }
            if me.state == EndpointState::Inactive {
                me.state = EndpointState::Partial;
            }
            if other.state == EndpointState::SynAckSent && me.state == EndpointState::SynSent {
                me.establish();
                other.establish();
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
            if !multi {
                self.history.add(side, b'F');
            }
            // A FIN with RST is a reset (`reset` decides); Zeek ignores its FIN for the state.
            if me.state != EndpointState::Reset && !flags.rst() {
                me.state = EndpointState::Closed;
                // The peer sent FIN then RST, and now this side's FIN completes the exchange:
                // a normal close whose RST was a late abort (Zeek turns it back into CLOSED).
                if other.state == EndpointState::Reset && other.reset_after_fin {
                    other.state = EndpointState::Closed;
                }
            }
            if me.stats.fin_frame.is_none() {
                me.stats.fin_frame = Some(frame);
                me.stats.fin_ts = Some(ts);
            } else if wire_len == 0 {
                // A bare FIN sent again: the peer never acknowledged the close. Noted beside
                // the data retransmissions (not counted: the counter is tshark's).
                me.stats.note_retransmission(frame, ts);
            }
        }
    }

    /// A RST: the endpoint is reset, and the packet is kept (within the bound) with what tells
    /// a forged one from a real one.
    #[allow(clippy::too_many_arguments)] // one value per fact of the packet
    fn reset(
        &mut self,
        side: Side,
        ip: &IpInfo,
        seg: &TcpSegment<'_>,
        frame: u64,
        ts: Timestamp,
        max_resets: usize,
        verdict: &mut SegmentVerdict,
    ) {
        let wire_len = seg.wire_len;
        let (me, other) = split_sides(&mut self.sides, side);
        if !is_multi_flag(seg.flags) {
            self.history.add(side, b'R');
        }
        // After both FINs the connection has closed normally: a RST then is a late abort
        // and leaves the state alone (Zeek keeps SF).
        if !(me.state == EndpointState::Closed && other.state == EndpointState::Closed) {
            // Before the handshake completes, a FIN sent with the RST closes the endpoint
            // first (Zeek's state machine takes the FIN, then the RST): a reset after a FIN,
            // as when the FIN came alone. Once established, Zeek ignores such a FIN.
            let fin_first = seg.flags.fin()
                && matches!(
                    me.state,
                    EndpointState::Inactive | EndpointState::SynSent | EndpointState::SynAckSent
                );
            me.reset_after_fin = me.state == EndpointState::Closed || fin_first;
            me.state = EndpointState::Reset;
        }
        let unacked = match (other.payload_end, me.last_ack) {
            (Some(end), Some(ack)) => ack.is_before(end),
            (Some(_), None) => true,
            _ => false,
        };
        let info = ResetInfo {
            packet: frame,
            ts,
            from: side,
            ttl: ip.ttl,
            ip_id: ip.ip_id,
            seq: seg.seq,
            ack: seg.ack,
            acknowledges: seg.flags.ack(),
            after_bytes: me.stats.bytes.saturating_sub(wire_len as u64),
            with_unacked_data: unacked,
        };
        if self.resets.len() < max_resets {
            self.resets.push(info.clone());
        } else {
            verdict.reset_not_kept = true;
        }
        verdict.reset = Some(info);
        verdict.rst_with_data = wire_len > 0;
    }

    /// Sequence analysis (Wireshark's tcp.analysis, see the module doc), zero windows and
    /// duplicate ACKs. Returns true for a segment out of the peer's window, which is counted
    /// and otherwise left out.
    fn analyse(&mut self, side: Side, seg: &TcpSegment<'_>, frame: u64, ts: Timestamp) -> bool {
        let flags = seg.flags;
        let wire_len = seg.wire_len;
        // Wireshark's threshold between reordering and a resend: the handshake's round trip
        // when known.
        let ooo_threshold = self.handshake_rtt.unwrap_or(DEFAULT_OOO_THRESHOLD);
        let (me, other) = split_sides(&mut self.sides, side);
        if wire_len > 0
            && !flags.syn()
            && !flags.rst()
            && let Some(edge) = other.right_edge
            && edge
                .wrapping_add(other.max_window)
                .is_before(SeqNumber(seg.seq))
        {
            me.stats.out_of_window += 1;
            if me.stats.first_out_of_window.is_none() {
                me.stats.first_out_of_window = Some((frame, ts));
            }
            return true;
        }
        if flags.syn() && me.max_end.is_none() {
            // The SYN takes one sequence number: this side's data starts right after it (after
            // a Fast Open SYN's own payload).
            me.max_end = Some(SeqNumber(seg.seq).wrapping_add(1).wrapping_add(wire_len));
            me.max_end_ts = ts;
        }
        if wire_len == 0 && !flags.syn() && !flags.rst() {
            // A segment without payload (an ACK, a FIN) still tells where this side's stream
            // is: beyond the highest byte seen, what came between was not captured
            // (Wireshark's "previous segment not captured"), and a later segment carrying it
            // is a retransmission. A keep-alive (one below) changes nothing. RSTs' sequence
            // numbers are not trusted, as in Zeek.
            let start = SeqNumber(seg.seq);
            if let Some(max) = me.max_end
                && max.is_before(start)
            {
                me.stats.lost_segments += 1;
                me.note_hole(max, start);
                me.max_end = Some(start);
                me.max_end_ts = ts;
            }
        }
        if wire_len > 0 && !flags.syn() {
            let start = SeqNumber(seg.seq);
            let end = start.wrapping_add(wire_len);
            if me.payload_end.is_none_or(|p| p.is_before(end)) {
                me.payload_end = Some(end);
            }
            match me.max_end {
                None => {
                    me.max_end = Some(end);
                    me.max_end_ts = ts;
                }
                Some(max) => {
                    if max.is_before(start) {
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
                            me.stats.note_retransmission(frame, ts);
                            self.history.add(side, b'T');
                        }
                        if max.is_before(end) {
                            me.max_end = Some(end);
                            me.max_end_ts = ts;
                        }
                    }
                }
            }
        }
        if flags.fin() && !flags.rst() {
            // The FIN takes one sequence number too: the ACKs that follow start after it.
            let after = SeqNumber(seg.seq).wrapping_add(wire_len).wrapping_add(1);
            if me.max_end.is_none_or(|m| m.is_before(after)) {
                me.max_end = Some(after);
                me.max_end_ts = ts;
            }
        }
        if seg.window == 0 && !flags.syn() && !flags.fin() && !flags.rst() {
            me.stats.zero_windows += 1;
            self.history.add(side, b'W');
        }
        if flags.ack() {
            let ack = SeqNumber(seg.ack);
            if wire_len == 0
                && !flags.syn()
                && !flags.fin()
                && !flags.rst()
                && me.last_ack == Some(ack)
                && me.last_win == Some(seg.window)
                && other.payload_end.is_some()
            {
                me.stats.dup_acks += 1;
            }
            me.last_ack = Some(ack);
            me.last_win = Some(seg.window);
            // A SYN's window is never scaled; after the handshake this side's windows are
            // scaled by the shift it announced when both sides announced one, else not.
            let shift = if flags.syn() {
                0
            } else {
                match (me.isn, other.isn) {
                    (Some(_), Some(_)) => match (me.stats.window_scale, other.stats.window_scale) {
                        (Some(mine), Some(_)) => mine.min(UNKNOWN_WINDOW_SHIFT),
                        _ => 0,
                    },
                    _ => UNKNOWN_WINDOW_SHIFT,
                }
            };
            let window = u32::from(seg.window) << shift;
            me.max_window = me.max_window.max(window);
            let edge = ack.wrapping_add(window);
            if me.right_edge.is_none_or(|e| e.is_before(edge)) {
                me.right_edge = Some(edge);
            }
        }
        false
    }

    /// Bytes of `side`'s stream were declared lost (a content gap): history `G`/`g` when both
    /// ends are established or cleanly closing, as Zeek writes it.
    pub fn note_gap(&mut self, side: Side) {
        let [c, s] = &self.sides;
        if c.is_clean() && s.is_clean() {
            self.history.add(side, b'G');
        }
    }

    /// An ICMP error quoting this connection; `max_kept` bounds those kept.
    pub fn on_icmp(&mut self, info: IcmpInfo, max_kept: usize) {
        self.last_ts = self.last_ts.max(info.ts);
        if self.icmp.len() < max_kept {
            self.icmp.push(info);
        }
    }

    /// What the connection record takes from TCP. Takes the counters and lists out of `self`
    /// rather than consuming it: moving a whole connection out of its box per connection was
    /// a large share of a SYN flood's time.
    pub fn summary(&mut self) -> TcpSummary {
        let [c, s] = &self.sides;
        let no_payload = c.stats.bytes == 0 && s.stats.bytes == 0;
        let state = conn_state(c.state, s.state, &self.history, no_payload);
        let (client_unacked, server_unacked) = (c.lags(s), s.lags(c));
        let [c, s] = &mut self.sides;
        let mut client_stats = std::mem::take(&mut c.stats);
        let mut server_stats = std::mem::take(&mut s.stats);
        client_stats.peer_data_unacked = client_unacked;
        server_stats.peer_data_unacked = server_unacked;
        TcpSummary {
            state,
            history: self.history.take(),
            client_stats,
            server_stats,
            handshake_rtt: self.handshake_rtt,
            resets: std::mem::take(&mut self.resets),
            icmp: std::mem::take(&mut self.icmp),
        }
    }
}
