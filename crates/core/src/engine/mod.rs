//! The engine: push packets, receive events.
//!
//! ```text
//! Packet -> wire::decode -> (defrag) -> FlowTable (table.rs) -> Conn (conn.rs) / UdpFlow
//!                                          |-> TcpConn, Reassembler per direction, decoder session
//!                                          `-> DnsTracker (UDP and TCP DNS messages)
//! ```
//! Time is the packets' own clock; `advance(now)` lets a live caller expire idle connections
//! and learn about stalls while they happen. Connections are emitted when they end: both
//! sides closed and `close_linger` passed, idle for the idle timeout, evicted by
//! `max_flows`, or at `finish()`.

mod conn;
mod shard;
mod table;

pub use shard::{FellBack, LiveMerge, LiveShard, MAX_ICMP_HANDOFF, ShardedEngine, Stamped};

use crate::app::dns::{DnsMeta, DnsRecord, DnsTracker};
use crate::app::session::SessionEnv;
use crate::config::Config;
use crate::defrag::Defragmenter;
use crate::event::{Connection, EndReason, Event, EventMask, IcmpInfo, Sink};
use crate::packet::Packet;
use crate::reassembly::{MemBudget, ReassemblyLimits};
use crate::stats::Stats;
use crate::time::Timestamp;
use crate::types::{FlowKey, Transport};
use crate::wire::{self, DecodeError, IpInfo, L4, TcpSegment};
use conn::{ConnEnv, udp_record};
use rustc_hash::FxHashMap;
use std::net::{IpAddr, SocketAddr};
use table::{Flow, FlowTable, Pos};

/// Counts a datagram on its flow: (the flow's new deadline when this was the DNS flow's
/// first answer, is_dns, id). The first answer on a DNS flow ends its wait: it lingers
/// instead of idling for the UDP timeout, so answered lookups don't fill the flow table.
fn udp_datagram(
    flow: &mut crate::flow::UdpFlow,
    src: SocketAddr,
    ip: &IpInfo,
    payload: &[u8],
    pkt: &Packet<'_>,
    limits: &crate::config::Limits,
) -> (Option<u64>, bool, u64) {
    flow.on_datagram(src, ip, payload.len(), pkt.frame, pkt.ts);
    let answered_now = flow.is_dns && flow.stats[1].packets == 1 && src == flow.server;
    let due = answered_now.then(|| table::deadline_udp(limits, flow));
    (due, flow.is_dns, flow.id)
}

/// Where an event falls in the order one engine emits, among the events made known by the
/// same packet (`ShardedEngine` merges its shards' events by packet, then by this).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Tag {
    phase: u8,
    a: u64,
    pos: Pos,
    b: u64,
}

impl Tag {
    const fn new(phase: u8, a: u64, b: u64) -> Tag {
        Tag {
            phase,
            a,
            pos: Pos {
                packet: 0,
                moved: 0,
                within: 0,
            },
            b,
        }
    }
}

/// The phases of one packet, and of the end of input, in the order they are emitted.
/// Events of the packet's own flow (flows it ended first), with `a`, `b` zero.
const PACKET: u8 = 0;
/// A flow the sweep ended: `a` the expiry slot, `pos` its entry's place in it, `b` the
/// flow's id.
const SWEEP: u8 = 1;
/// DNS records of the packet's own flow.
const DNS: u8 = 2;
/// DNS records of a flow the sweep ended (`a`, `b` as for `SWEEP`).
const SWEEP_DNS: u8 = 3;
/// End of input: a flow still open (`a` its id).
const END: u8 = 4;
/// End of input: DNS records of a flow still open (`a` its id).
const END_DNS: u8 = 5;
/// End of input: a query never answered (`a` its frame).
const END_UNANSWERED: u8 = 6;

/// Where the engine's events go, with their `Tag`.
pub(crate) trait Out {
    fn put(&mut self, tag: Tag, ev: Event);
}

/// A caller's sink: the tags are not needed, the order of the calls is the order.
struct Plain<'s, S>(&'s mut S);

impl<S: Sink> Out for Plain<'_, S> {
    fn put(&mut self, _: Tag, ev: Event) {
        self.0.event(ev);
    }
}

/// One engine among `count` that split a capture's flows by key (see `ShardedEngine`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ShardRole {
    pub index: usize,
    pub count: usize,
}

/// The shard owning the flow between two ends: each end mixed alone and the two added, so
/// that either direction gives the same shard. The router calls it for every packet, so it
/// mixes the raw ends instead of building and hashing a `FlowKey` (the router went from 110 M
/// to 94 M instructions on the quarter corpus, of 3.5 G for the run).
pub(crate) fn shard_of(
    transport: Transport,
    a: (IpAddr, u16),
    b: (IpAddr, u16),
    count: usize,
) -> usize {
    let end = |(ip, port): (IpAddr, u16)| -> u64 {
        let bits = match ip {
            IpAddr::V4(v4) => u64::from(u32::from(v4)),
            IpAddr::V6(v6) => {
                let x = u128::from(v6);
                (x as u64) ^ ((x >> 64) as u64).rotate_left(32)
            }
        };
        let x = (bits ^ (u64::from(port) << 48)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^ (x >> 29)
    };
    let t = match transport {
        Transport::Tcp => 0,
        Transport::Udp => 1,
    };
    let h = end(a)
        .wrapping_add(end(b))
        .wrapping_add(t)
        .wrapping_mul(0xd6e8_feb8_6659_fd93);
    ((u128::from(h) * count as u128) >> 64) as usize
}

/// The capture's clock: the packets' time, where one packet far ahead is not taken alone.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Clock {
    pub now: Timestamp,
    /// A packet time too far ahead of `now` to be taken without a second one.
    pub candidate: Option<Timestamp>,
}

impl Clock {
    /// Moves the clock to a packet's time. A packet further than `bound` (the limit
    /// `max_clock_jump`) ahead is held as a candidate: a second one near it confirms the jump
    /// (a capture that was quiet for a while), a packet back in the current time drops it
    /// (one bad timestamp), and until then the clock stays. Returns the candidates dropped
    /// (`stats.clock_jumps`).
    pub fn take(&mut self, ts: Timestamp, bound: crate::time::Duration) -> u64 {
        if self.now == Timestamp::ZERO || ts.since(self.now) <= bound {
            if ts > self.now {
                self.now = ts;
            }
            // Back in the current time: a candidate held was one packet's bad timestamp.
            return u64::from(self.candidate.take().is_some());
        }
        match self.candidate {
            Some(c) if ts.since(c) <= bound && c.since(ts) <= bound => {
                self.now = ts.max(c);
                self.candidate = None;
                0
            }
            Some(_) => {
                self.candidate = Some(ts);
                1
            }
            None => {
                self.candidate = Some(ts);
                0
            }
        }
    }
}

/// Packets in, events out.
pub struct Engine {
    config: Config,
    reasm_limits: ReassemblyLimits,
    table: FlowTable,
    defrag: Defragmenter,
    budget: MemBudget,
    dns: DnsTracker,
    dns_out: Vec<DnsRecord>,
    names: FxHashMap<IpAddr, String>,
    stats: Stats,
    now: Timestamp,
    /// The last packet's frame number: what made the events of `advance` and `finish` known.
    frame: u64,
    /// Events of the packet being processed, not yet given to the sink.
    pending: Vec<Event>,
    last_sweep: u64,
    /// The tag of the events emitted now.
    tag: Tag,
    /// The tag of the DNS records pushed to `dns_out` now, and the tags of those pushed
    /// before (`dns_tags` lags behind `dns_out` until `mark_dns`).
    dns_tag: Tag,
    dns_tags: Vec<Tag>,
    /// Set when this engine is one shard of a `ShardedEngine`.
    shard: Option<ShardRole>,
    /// A shard's DNS queries registered so far (queries less retransmissions), and the ids
    /// of the flows that carried those registered since the caller took them: the merge
    /// keeps such a flow's dense id until its queries are reported.
    dns_registered: u64,
    pub(crate) pinned: Vec<u64>,
    /// A packet time too far ahead of `now` to be taken without a second one.
    clock_candidate: Option<Timestamp>,
}

impl Engine {
    /// An engine with no flow yet.
    pub fn new(config: Config) -> Self {
        let reasm_limits = config.limits.reassembly();
        let budget = MemBudget::new(config.limits.memcap);
        let dns = DnsTracker::with_limits(
            config.limits.max_dns_open_queries,
            config.limits.dns_query_timeout,
        );
        Engine {
            config,
            reasm_limits,
            table: FlowTable::default(),
            defrag: Defragmenter::new(),
            budget,
            dns,
            dns_out: Vec::new(),
            names: FxHashMap::default(),
            stats: Stats::default(),
            now: Timestamp::ZERO,
            frame: 0,
            pending: Vec::new(),
            last_sweep: 0,
            tag: Tag::new(PACKET, 0, 0),
            dns_tag: Tag::new(DNS, 0, 0),
            dns_tags: Vec::new(),
            shard: None,
            dns_registered: 0,
            pinned: Vec::new(),
            clock_candidate: None,
        }
    }

    /// An engine that takes the flows whose key hashes to `role.index` of `role.count`: it
    /// leaves naming connections from DNS answers to the merge, and counts a fragment's
    /// packet and reassembly only as shard 0 (every shard reassembles every fragment).
    pub(crate) fn new_shard(config: Config, role: ShardRole) -> Self {
        let mut e = Engine::new(config);
        e.shard = Some(role);
        e
    }

    /// The counters so far (`finish` returns the final ones).
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The capture's clock: the latest packet timestamp seen (or passed to `advance`).
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Flows currently tracked.
    pub fn live_flows(&self) -> usize {
        self.table.len()
    }

    /// Boxes of ended flows freed rather than kept for new flows because
    /// 4,096 of them (`MAX_SPARE_FLOWS`) were kept already. Not in
    /// [`Stats`]: it tells how the engine used its memory, not what the capture held, and
    /// differs between one engine and shards whose output is the same.
    pub fn spare_flows_freed(&self) -> u64 {
        self.table.spare_freed
    }

    /// Entries in the expiry schedule, stale ones included: at most four per live flow plus
    /// a few thousand, whatever the length of the capture.
    pub fn scheduled_deadlines(&self) -> usize {
        self.table.scheduled_deadlines()
    }

    /// The reassembly memcap's accounting (bytes reserved now, peak, refusals): lets callers
    /// and tests check that `limits.memcap` holds.
    pub fn reassembly_budget(&self) -> &MemBudget {
        &self.budget
    }

    /// IP datagrams currently being reassembled (bounded by `limits.max_frag_datagrams`).
    pub fn pending_fragments(&self) -> usize {
        self.defrag.pending()
    }

    /// DNS queries waiting for their answer (bounded by the tracker's `max_open`; the
    /// oldest is reported unanswered when a new one would exceed it).
    pub fn open_dns_queries(&self) -> usize {
        self.dns.open_queries()
    }

    /// The DNS tracker's counters (`evicted`: open queries pushed out by its bound).
    pub fn dns_stats(&self) -> &crate::app::dns::DnsStats {
        self.dns.stats()
    }

    /// Processes one packet.
    pub fn push(&mut self, pkt: &Packet<'_>, sink: &mut impl Sink) {
        self.push_tagged(pkt, false, &mut Plain(sink));
    }

    /// One packet; a `copy` (a fragment every shard reassembles) is not counted.
    pub(crate) fn push_tagged(&mut self, pkt: &Packet<'_>, copy: bool, sink: &mut impl Out) {
        if !copy {
            self.stats.packets += 1;
            self.stats.bytes += pkt.data.len() as u64;
            if pkt.is_truncated() {
                self.stats.truncated_packets += 1;
            }
        }
        // A shard is given the clock (`set_position`) by the router, which sees every packet.
        if self.shard.is_none() {
            self.take_time(pkt.ts);
        }
        self.frame = pkt.frame;
        self.tag = Tag::new(PACKET, 0, 0);
        self.dns_tag = Tag::new(DNS, 0, 0);
        let d = wire::decode(pkt.linktype, pkt.data);
        if let Some((e, _)) = d.stop
            && !copy
        {
            if let DecodeError::UnsupportedLinkType(_) = e {
                self.stats.unknown_link_types += 1;
            }
            self.stats.decode_error(e.kind());
        }
        // Borrowed, not copied out: decode just wrote the packet, and re-reading it whole
        // stalled on store forwarding (~10 % of a flows-only run).
        if let Some(ip) = &d.ip {
            match &d.l4 {
                L4::Tcp(seg) => self.on_tcp(ip, seg, pkt, sink),
                L4::Udp(u) => self.on_udp(ip, u.src_port, u.dst_port, u.payload, pkt, sink),
                L4::IcmpError(e) => self.on_icmp(ip, e, pkt),
                L4::Fragment(f) => {
                    let mut scratch = Stats::default();
                    let counts = if copy { &mut scratch } else { &mut self.stats };
                    let whole =
                        self.defrag
                            .push(ip.src, ip.dst, f, pkt.ts, &self.config.limits, counts);
                    if let Some(bytes) = whole {
                        self.on_reassembled(ip, f.proto, &bytes, pkt, sink);
                    }
                }
                L4::Other => {}
            }
        }
        self.time_passes(sink);
    }

    /// When the clock's second has changed, flows and fragments past their deadline end;
    /// then what this packet made known goes out. The clock's second, not the packet's: a
    /// packet stamped ahead of it must not move the sweeps past the time the other packets
    /// keep.
    fn time_passes(&mut self, sink: &mut impl Out) {
        let sec = self.now.as_nanos() / 1_000_000_000;
        if sec > self.last_sweep {
            self.last_sweep = sec;
            // What the packet itself made known comes before what the sweep ends.
            self.flush_pending(sink);
            self.sweep(sink);
        }
        self.flush_pending(sink);
        self.flush_dns(sink);
    }

    /// A packet of another shard (frame, the capture's clock at it): the sweep it starts
    /// runs here too.
    pub(crate) fn tick(&mut self, index: u64, frame: u64, now: Timestamp, sink: &mut impl Out) {
        self.set_position(index, frame, now);
        self.tag = Tag::new(PACKET, 0, 0);
        self.dns_tag = Tag::new(DNS, 0, 0);
        self.time_passes(sink);
    }

    /// The capture's clock and frame as one engine would have them (a shard sees only its
    /// own packets and the ones that started a sweep; the clock is kept by the router, which
    /// sees every packet).
    pub(crate) fn set_position(&mut self, index: u64, frame: u64, now: Timestamp) {
        if now > self.now {
            self.now = now;
        }
        self.frame = frame;
        self.table.set_packet(index);
    }

    /// Whether a bound on what the flows hold together has acted yet (`max_flows`,
    /// `max_closed_lingering`, `memcap`, `max_dns_open_queries`,
    /// `tls.max_pending_handshake_bytes`, `max_kept_bytes`): until then, what this engine
    /// emitted does not depend on the bounds.
    pub(crate) fn bound_reached(&self) -> bool {
        self.table.bound_reached
            || self.budget.refusals() > 0
            || self.dns.stats().evicted > 0
            || self.config.tls.pending_refusals() > 0
            || self.config.tls.kept_refused()
    }

    /// Moves the clock to a packet's time (see `Clock::take`).
    fn take_time(&mut self, ts: Timestamp) {
        let mut clock = Clock {
            now: self.now,
            candidate: self.clock_candidate,
        };
        self.stats.clock_jumps += clock.take(ts, self.config.limits.max_clock_jump);
        (self.now, self.clock_candidate) = (clock.now, clock.candidate);
    }

    /// Tells the engine that packet time has reached `now` without packets (live capture):
    /// ends idle flows, times out DNS queries and reports open connections gone silent.
    pub fn advance(&mut self, now: Timestamp, sink: &mut impl Sink) {
        let sink = &mut Plain(sink);
        if now > self.now {
            self.now = now;
        }
        self.sweep(sink);
        self.dns.advance(self.now, &mut self.dns_out);
        for s in self
            .table
            .new_stalls(self.now, self.config.limits.stall_after)
        {
            if self.config.events.contains(EventMask::STALL) {
                sink.put(self.tag, Event::Stall(Box::new(s)));
            }
        }
        self.flush_pending(sink);
        self.flush_dns(sink);
    }

    /// End of input: every open flow is emitted (in the order they started), then every
    /// unanswered DNS query. Returns the run's counters.
    pub fn finish(&mut self, sink: &mut impl Sink) -> Stats {
        self.finish_tagged(&mut Plain(sink))
    }

    pub(crate) fn finish_tagged(&mut self, sink: &mut impl Out) -> Stats {
        for f in self.table.drain_all() {
            let id = f.id();
            let tags = (Tag::new(END, id, 0), Tag::new(END_DNS, id, 0));
            self.emit(f, EndReason::EndOfInput, Some(tags), sink);
        }
        self.mark_dns();
        let answered = self.dns_out.len();
        self.dns.finish(&mut self.dns_out);
        // One engine reports them in the order its tracker registered them (each query when
        // its message was complete); shards cannot reproduce that order between them and
        // report theirs by query frame (a query over TCP counts from its first byte's frame),
        // the same order unless a query over TCP completed after a later one.
        if let Some(unanswered) = self.dns_out.get_mut(answered..) {
            if self.shard.is_some() {
                unanswered.sort_by_key(|r| r.query_frame);
            }
            for r in unanswered.iter() {
                self.dns_tags
                    .push(Tag::new(END_UNANSWERED, r.query_frame.unwrap_or(0), 0));
            }
        }
        self.flush_dns(sink);
        // A timestamp far ahead that nothing confirmed before the end.
        if self.clock_candidate.take().is_some() {
            self.stats.clock_jumps += 1;
        }
        // Limits enforced inside the parts, copied into the run's totals: each memcap refusal
        // made a stream give up its first hole and flush its buffer early.
        self.stats.evicted_streams = self.budget.refusals();
        let dns_evicted = self.dns.stats().evicted;
        if dns_evicted > 0 {
            *self.stats.anomalies.entry("dns_query_evicted").or_insert(0) += dns_evicted;
        }
        self.stats.clone()
    }

    /// Called for every packet, and most make no event: the test is inlined, the drain is
    /// set up only when there is something to send.
    #[inline(always)]
    fn flush_pending(&mut self, sink: &mut impl Out) {
        if !self.pending.is_empty() {
            self.send_pending(sink);
        }
    }

    fn send_pending(&mut self, sink: &mut impl Out) {
        for ev in self.pending.drain(..) {
            sink.put(self.tag, ev);
        }
    }

    /// Gives the DNS records pushed since the last call the tag of now.
    fn mark_dns(&mut self) {
        let n = self.dns_out.len().saturating_sub(self.dns_tags.len());
        self.dns_tags.extend(std::iter::repeat_n(self.dns_tag, n));
    }

    fn flush_dns(&mut self, sink: &mut impl Out) {
        if self.dns_out.is_empty() {
            return;
        }
        self.mark_dns();
        for (r, tag) in self.dns_out.drain(..).zip(self.dns_tags.drain(..)) {
            // A shard leaves the names to the merge, which sees every shard's answers.
            if self.shard.is_none() {
                remember_names(
                    &mut self.names,
                    &r,
                    self.config.limits.max_dns_names,
                    &mut self.stats,
                );
            }
            if self.config.events.contains(EventMask::DNS) {
                sink.put(tag, Event::Dns(Box::new(r)));
            }
        }
    }

    /// Ends flows whose deadline passed, and fragments that waited too long.
    fn sweep(&mut self, sink: &mut impl Out) {
        self.table.sweep(self.now, &self.config.limits);
        self.report_ended(sink);
        // Every shard holds every fragment: shard 0 counts for all.
        let mut scratch = Stats::default();
        let counts = match self.shard {
            Some(r) if r.index != 0 => &mut scratch,
            _ => &mut self.stats,
        };
        self.defrag.expire(self.now, &self.config.limits, counts);
    }

    /// Reports the flows the table just ended, in the order it ended them.
    fn report_ended(&mut self, sink: &mut impl Out) {
        if self.table.ended.is_empty() {
            return;
        }
        let mut ended = std::mem::take(&mut self.table.ended);
        for (flow, reason, slot) in ended.drain(..) {
            let tags = slot.map(|slot| {
                let id = flow.id();
                let (slot, pos) = slot;
                let tag = |phase| Tag {
                    pos,
                    ..Tag::new(phase, slot, id)
                };
                (tag(SWEEP), tag(SWEEP_DNS))
            });
            self.emit(flow, reason, tags, sink);
        }
        self.table.ended = ended;
    }

    /// Builds and sends the record of a flow that ended; `tags` when its events do not
    /// belong to the packet being processed (a sweep, the end of input).
    fn emit(
        &mut self,
        flow: Flow,
        reason: EndReason,
        tags: Option<(Tag, Tag)>,
        sink: &mut impl Out,
    ) {
        let saved = (self.tag, self.dns_tag);
        if let Some((tag, dns_tag)) = tags {
            // What came before is the packet's.
            self.flush_pending(sink);
            self.mark_dns();
            (self.tag, self.dns_tag) = (tag, dns_tag);
        }
        let id = flow.id();
        self.emit_now(flow, reason, sink);
        // Its last bytes may have completed queries (DNS over TCP).
        self.pin_queries(id);
        if tags.is_some() {
            self.mark_dns();
            (self.tag, self.dns_tag) = saved;
        }
    }

    fn emit_now(&mut self, flow: Flow, reason: EndReason, sink: &mut impl Out) {
        let mut flow = flow;
        let conn: Connection = match &mut flow {
            Flow::Tcp(c) => {
                let hint = self.names.get(&c.tcp.server.ip());
                let mut env = SessionEnv {
                    tls: &self.config.tls,
                    limits: &self.config.limits,
                    dns: &mut self.dns,
                    dns_out: &mut self.dns_out,
                    stats: &mut self.stats,
                    conn_id: c.tcp.id,
                    client: c.tcp.client,
                    server: c.tcp.server,
                    events: self.config.events,
                    out: &mut self.pending,
                    frame: self.frame,
                    ts: self.now,
                };
                c.finish(reason, hint, &mut self.budget, &mut env)
            }
            Flow::Udp(u) => {
                let hint = self.names.get(&u.server.ip()).cloned();
                udp_record(u, reason, hint)
            }
        };
        self.table.recycle(flow);
        self.stats.connections += 1;
        match conn.transport {
            Transport::Tcp => self.stats.tcp_connections += 1,
            Transport::Udp => self.stats.udp_flows += 1,
        }
        // What the connection's last bytes made known comes before its summary.
        self.flush_pending(sink);
        if self.config.events.contains(EventMask::CONNECTION) {
            sink.put(self.tag, Event::Connection(Box::new(conn)));
        }
    }

    fn on_tcp(&mut self, ip: &IpInfo, seg: &TcpSegment<'_>, pkt: &Packet<'_>, sink: &mut impl Out) {
        self.stats.tcp_packets += 1;
        let src = SocketAddr::new(ip.src, seg.src_port);
        let dst = SocketAddr::new(ip.dst, seg.dst_port);
        let (key, _) = FlowKey::new(Transport::Tcp, src, dst);
        let pure_syn = seg.flags.syn() && !seg.flags.ack();
        let decode_apps = !self.config.no_app_decoders;
        // The common case takes one table lookup: a segment of a known connection that is not
        // a SYN reusing its ports. Otherwise `new_tcp` makes the connection, and the second
        // round feeds it.
        let mut created = false;
        let closed_now = loop {
            match self.table.flows.get_mut(&key) {
                Some(Flow::Tcp(conn))
                    if created
                        || !((pure_syn && conn.tcp.is_reuse_syn(src, seg.seq))
                            || conn.tcp.is_reopened_by(
                                src,
                                seg,
                                pkt.ts,
                                self.config.limits.close_linger,
                            )) =>
                {
                    let mut env = ConnEnv {
                        reasm_limits: &self.reasm_limits,
                        budget: &mut self.budget,
                        stream: SessionEnv {
                            tls: &self.config.tls,
                            limits: &self.config.limits,
                            dns: &mut self.dns,
                            dns_out: &mut self.dns_out,
                            stats: &mut self.stats,
                            conn_id: conn.tcp.id,
                            client: conn.tcp.client,
                            server: conn.tcp.server,
                            events: self.config.events,
                            out: &mut self.pending,
                            frame: pkt.frame,
                            ts: pkt.ts,
                        },
                        decode_apps,
                    };
                    let was_closed = conn.tcp.is_closed();
                    conn.on_segment(src, ip, seg, pkt.frame, pkt.ts, &mut env);
                    let id = conn.tcp.id;
                    let closed = !was_closed && conn.tcp.is_closed();
                    let due = closed.then(|| table::deadline_tcp(&self.config.limits, &conn.tcp));
                    self.pin_queries(id);
                    break due.map(|due| (id, due));
                }
                // A UDP flow cannot share a TCP key (the transport is part of it).
                _ if created => return,
                _ => {
                    let taken = self.table.new_tcp(
                        key,
                        src,
                        dst,
                        seg,
                        pkt,
                        self.now,
                        &self.config.limits,
                        &mut self.stats,
                    );
                    self.report_ended(sink);
                    if !taken {
                        return;
                    }
                    created = true;
                }
            }
        };
        if let Some((id, due)) = closed_now {
            self.table
                .closed(key, id, due, &self.config.limits, &mut self.stats);
            self.report_ended(sink);
        }
    }

    fn on_udp(
        &mut self,
        ip: &IpInfo,
        sport: u16,
        dport: u16,
        payload: &[u8],
        pkt: &Packet<'_>,
        sink: &mut impl Out,
    ) {
        self.stats.udp_packets += 1;
        let src = SocketAddr::new(ip.src, sport);
        let dst = SocketAddr::new(ip.dst, dport);
        let (key, _) = FlowKey::new(Transport::Udp, src, dst);
        let limits = &self.config.limits;
        // One lookup for a datagram of a known flow, one insertion for a new one.
        let (answered_due, is_dns, id) = match self.table.flows.get_mut(&key) {
            Some(Flow::Udp(flow)) => udp_datagram(flow, src, ip, payload, pkt, limits),
            // A TCP flow cannot share a UDP key (the transport is part of it).
            Some(Flow::Tcp(_)) => return,
            None => {
                let seen = self.table.new_udp(
                    key,
                    src,
                    dst,
                    self.now,
                    pkt.ts,
                    limits,
                    &mut self.stats,
                    |flow| udp_datagram(flow, src, ip, payload, pkt, limits),
                );
                // The flows the new one made room for.
                self.report_ended(sink);
                seen
            }
        };
        if let Some(due) = answered_due {
            self.table.schedule_due(key, id, due);
        }
        if is_dns && !self.config.no_app_decoders {
            self.stats.dns_messages += 1;
            let meta = DnsMeta {
                transport: Transport::Udp,
                src,
                dst,
                ts: pkt.ts,
                frame: pkt.frame,
                conn_id: id,
            };
            self.dns.on_message(&meta, payload, &mut self.dns_out);
            self.pin_queries(id);
        }
    }

    /// One shard of several: the queries registered since the last call were carried by flow
    /// `id` (see `pinned`).
    fn pin_queries(&mut self, id: u64) {
        if self.shard.is_none() {
            return;
        }
        let s = self.dns.stats();
        let registered = s.queries - s.retransmissions;
        for _ in self.dns_registered..registered {
            self.pinned.push(id);
        }
        self.dns_registered = registered;
    }

    fn on_icmp(&mut self, ip: &IpInfo, e: &crate::wire::decode::IcmpError, pkt: &Packet<'_>) {
        self.stats.icmp_errors += 1;
        let transport = match e.quoted_proto {
            6 => Transport::Tcp,
            17 => Transport::Udp,
            _ => return,
        };
        let src = SocketAddr::new(e.quoted_src, e.quoted_src_port);
        let dst = SocketAddr::new(e.quoted_dst, e.quoted_dst_port);
        let (key, _) = FlowKey::new(transport, src, dst);
        let info = IcmpInfo {
            packet: pkt.frame,
            ts: pkt.ts,
            from: ip.src,
            v6: e.v6,
            icmp_type: e.icmp_type,
            code: e.code,
            ttl: ip.ttl,
        };
        let max_kept = self.config.limits.max_resets_per_conn;
        match self.table.flows.get_mut(&key) {
            Some(Flow::Tcp(c)) => c.tcp.on_icmp(info, max_kept),
            Some(Flow::Udp(u)) => {
                if u.icmp.len() < max_kept {
                    u.icmp.push(info);
                }
            }
            None => self.stats.anomaly("icmp_error_without_flow"),
        }
    }

    fn on_reassembled(
        &mut self,
        ip: &IpInfo,
        proto: u8,
        bytes: &[u8],
        pkt: &Packet<'_>,
        sink: &mut impl Out,
    ) {
        match proto {
            6 => {
                if let Some(seg) = wire::decode::tcp_from_bytes(bytes)
                    && self.owns(Transport::Tcp, ip, seg.src_port, seg.dst_port)
                {
                    self.on_tcp(ip, &seg, pkt, sink);
                }
            }
            17 => {
                if let Some((sp, dp, payload)) = wire::decode::udp_from_bytes(bytes)
                    && self.owns(Transport::Udp, ip, sp, dp)
                {
                    self.on_udp(ip, sp, dp, payload, pkt, sink);
                }
            }
            _ => {}
        }
    }

    /// Whether this engine takes the flow (always, unless it is one shard of several: every
    /// shard reassembles every fragment, and only the flow's owner takes the datagram).
    fn owns(&self, transport: Transport, ip: &IpInfo, sport: u16, dport: u16) -> bool {
        let Some(role) = self.shard else {
            return true;
        };
        shard_of(transport, (ip.src, sport), (ip.dst, dport), role.count) == role.index
    }
}

/// Learns the names a DNS answer gives addresses (to name connections that carry none).
pub(crate) fn remember_names(
    names: &mut FxHashMap<IpAddr, String>,
    r: &DnsRecord,
    max: usize,
    stats: &mut Stats,
) {
    for ip in r.answer_addresses() {
        if names.len() >= max {
            names.clear();
            stats.anomaly("dns_name_cache_reset");
        }
        // Most answers repeat a name the address already has: replaced by an equal copy,
        // it was an allocation and a free per answer address.
        if let Some(q) = &r.qname
            && names.get(&ip) != Some(q)
        {
            names.insert(ip, q.clone());
        }
    }
}
