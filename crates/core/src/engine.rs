//! The engine: push packets, receive events.
//!
//! ```text
//! Packet -> wire::decode -> (defrag) -> flow table -> TcpConn / UdpFlow
//!                                          |-> Reassembler (per direction) -> StreamDispatch -> TLS / HTTP / DNS
//!                                          `-> DnsTracker (UDP and TCP DNS messages)
//! ```
//! Time is the packets' own clock; `advance(now)` lets a live caller expire idle connections
//! and learn about stalls while they happen. Connections are emitted when they end: both
//! sides closed and `close_linger` passed, idle for the idle timeout, evicted by
//! `max_flows`, or at `finish()`.

use crate::app::dns::{DnsMeta, DnsRecord, DnsTracker};
use crate::config::Config;
use crate::defrag::Defragmenter;
use crate::event::{Connection, EndReason, Event, IcmpInfo, Sink, Stall};
use crate::flow::tcp_conn::ConnEnv;
use crate::flow::{FlowKey, TcpConn, Transport, UdpFlow};
use crate::packet::Packet;
use crate::reassembly::{MemBudget, ReassemblyLimits};
use crate::stats::Stats;
use crate::stream::StreamEnv;
use crate::time::Timestamp;
use crate::wire::{self, DecodeError, IpInfo, L4, TcpSegment};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

/// Names learned from DNS answers, to name connections that carry no SNI or Host.
const MAX_DNS_NAMES: usize = 65_536;

/// Entries the expiry schedule may hold beyond four per live flow before its stale ones are
/// dropped (see `Engine::schedule`).
const EXPIRY_SLACK: usize = 4_096;

#[derive(Debug)]
enum Flow {
    Tcp(Box<TcpConn>),
    Udp(Box<UdpFlow>),
}

impl Flow {
    fn id(&self) -> u64 {
        match self {
            Flow::Tcp(c) => c.id,
            Flow::Udp(u) => u.id,
        }
    }
    /// Why a flow whose deadline passed ends: closed if both sides closed, else idle.
    fn due_end_reason(&self) -> EndReason {
        match self {
            Flow::Tcp(c) if c.is_closed() => EndReason::Closed,
            _ => EndReason::Idle,
        }
    }

    fn scheduled_mut(&mut self) -> &mut u64 {
        match self {
            Flow::Tcp(c) => &mut c.scheduled,
            Flow::Udp(u) => &mut u.scheduled,
        }
    }
}

/// The flow an expiry entry stands for: none when that flow has ended or its key now holds a
/// newer flow. `sweep` and `make_room` skip entries without one; `drop_stale_expiry` drops
/// exactly those.
fn scheduled_flow<'a>(
    flows: &'a FxHashMap<FlowKey, Flow>,
    key: &FlowKey,
    id: u64,
) -> Option<&'a Flow> {
    flows.get(key).filter(|f| f.id() == id)
}

/// The whole second of packet time at which `flow` is due to end: linger after a close,
/// after a DNS answer, else the idle timeout.
fn deadline_of(l: &crate::config::Limits, flow: &Flow) -> u64 {
    let t = match flow {
        Flow::Tcp(c) if c.is_closed() => c.last_ts.saturating_add(l.close_linger),
        Flow::Tcp(c) => c.last_ts.saturating_add(l.tcp_idle_timeout),
        Flow::Udp(u) if u.is_dns && u.stats[1].packets > 0 => {
            u.last_ts.saturating_add(l.close_linger)
        }
        Flow::Udp(u) => u.last_ts.saturating_add(l.udp_idle_timeout),
    };
    t.as_nanos() / 1_000_000_000 + 1
}

/// Gives a segment to its connection; the connection's id when this segment closed it.
fn feed(
    conn: &mut TcpConn,
    src: SocketAddr,
    ip: &IpInfo,
    seg: &TcpSegment<'_>,
    pkt: &Packet<'_>,
    env: &mut ConnEnv<'_>,
) -> Option<u64> {
    let was_closed = conn.is_closed();
    conn.on_segment(src, ip, seg, pkt.frame, pkt.ts, env);
    (!was_closed && conn.is_closed()).then_some(conn.id)
}

/// Counts a datagram on its flow: (whether it was the DNS flow's first answer, is_dns, id).
/// The first answer on a DNS flow ends its wait: it lingers instead of idling for the UDP
/// timeout, so answered lookups don't fill the flow table.
fn udp_datagram(
    flow: &mut UdpFlow,
    src: SocketAddr,
    ip: &IpInfo,
    payload: &[u8],
    pkt: &Packet<'_>,
) -> (bool, bool, u64) {
    flow.on_datagram(src, ip, payload.len(), pkt.frame, pkt.ts);
    let answered_now = flow.is_dns && flow.stats[1].packets == 1 && src == flow.server;
    (answered_now, flow.is_dns, flow.id)
}

/// Packets in, events out.
pub struct Engine {
    config: Config,
    reasm_limits: ReassemblyLimits,
    flows: FxHashMap<FlowKey, Flow>,
    /// Deadline (whole seconds of packet time) -> flows to look at then. Entries are checked
    /// lazily: a flow that saw traffic since is rescheduled, not ended.
    expiry: BTreeMap<u64, Vec<(FlowKey, u64)>>,
    /// Entries in `expiry`, stale ones included (bounded in `schedule`).
    expiry_len: usize,
    defrag: Defragmenter,
    budget: MemBudget,
    dns: DnsTracker,
    dns_out: Vec<DnsRecord>,
    names: FxHashMap<IpAddr, String>,
    /// Recently closed TCP connections: a late RST or ACK for one of them is counted, not
    /// taken for a new connection (tshark keeps such packets in the old stream).
    closed: FxHashMap<FlowKey, Timestamp>,
    closed_order: std::collections::VecDeque<(Timestamp, FlowKey)>,
    /// Connections that closed and are lingering, in closing order (may hold stale entries;
    /// at most `max_closed_lingering` + 1 long).
    lingering: std::collections::VecDeque<(FlowKey, u64)>,
    stats: Stats,
    next_id: u64,
    now: Timestamp,
    last_sweep: u64,
}

impl Engine {
    pub fn new(config: Config) -> Self {
        let reasm_limits = ReassemblyLimits {
            max_ooo_bytes_per_dir: config.limits.max_ooo_bytes_per_dir,
            max_ooo_segments_per_dir: config.limits.max_ooo_segments_per_dir,
            ..ReassemblyLimits::default()
        };
        let budget = MemBudget::new(config.limits.memcap);
        Engine {
            config,
            reasm_limits,
            flows: FxHashMap::default(),
            expiry: BTreeMap::new(),
            expiry_len: 0,
            defrag: Defragmenter::new(),
            budget,
            dns: DnsTracker::new(),
            dns_out: Vec::new(),
            names: FxHashMap::default(),
            closed: FxHashMap::default(),
            closed_order: std::collections::VecDeque::new(),
            lingering: std::collections::VecDeque::new(),
            stats: Stats::default(),
            next_id: 0,
            now: Timestamp::ZERO,
            last_sweep: 0,
        }
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Flows currently tracked.
    /// The capture's clock: the latest packet timestamp seen (or passed to `advance`).
    pub fn now(&self) -> Timestamp {
        self.now
    }

    pub fn live_flows(&self) -> usize {
        self.flows.len()
    }

    /// Entries in the expiry schedule, stale ones included: at most four per live flow plus
    /// a few thousand, whatever the length of the capture.
    pub fn scheduled_deadlines(&self) -> usize {
        self.expiry_len
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
        self.stats.packets += 1;
        self.stats.bytes += pkt.data.len() as u64;
        if pkt.is_truncated() {
            self.stats.truncated_packets += 1;
        }
        if pkt.ts > self.now {
            self.now = pkt.ts;
        }
        let d = wire::decode(pkt.linktype, pkt.data);
        if let Some((e, _)) = d.stop {
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
                    let whole = self.defrag.push(
                        ip.src,
                        ip.dst,
                        f,
                        pkt.ts,
                        &self.config.limits,
                        &mut self.stats,
                    );
                    if let Some(bytes) = whole {
                        self.on_reassembled(ip, f.proto, &bytes, pkt, sink);
                    }
                }
                L4::Other => {}
            }
        }
        let sec = pkt.ts.as_nanos() / 1_000_000_000;
        if sec > self.last_sweep {
            self.last_sweep = sec;
            self.sweep(self.now, sink);
        }
        self.flush_dns(sink);
    }

    /// Tells the engine that packet time has reached `now` without packets (live capture):
    /// ends idle flows, times out DNS queries and reports open connections gone silent.
    pub fn advance(&mut self, now: Timestamp, sink: &mut impl Sink) {
        if now > self.now {
            self.now = now;
        }
        self.sweep(self.now, sink);
        self.dns.advance(self.now, &mut self.dns_out);
        let stall_after = self.config.limits.stall_after;
        // Reported in connection order, not the table's hash order.
        let mut stalls = Vec::new();
        for flow in self.flows.values_mut() {
            if let Flow::Tcp(c) = flow
                && !c.stall_reported
                && !c.is_closed()
                && self.now.since(c.last_ts) >= stall_after
            {
                c.stall_reported = true;
                stalls.push(Box::new(Stall {
                    conn_id: c.id,
                    client: c.client,
                    server: c.server,
                    server_name: None,
                    since: c.last_ts,
                    idle: self.now.since(c.last_ts),
                    last_frame: c.last_frame,
                }));
            }
        }
        stalls.sort_unstable_by_key(|s| s.conn_id);
        for s in stalls {
            sink.event(Event::Stall(s));
        }
        self.flush_dns(sink);
    }

    /// End of input: every open flow is emitted (in the order they started), then every
    /// unanswered DNS query. Returns the run's counters.
    pub fn finish(&mut self, sink: &mut impl Sink) -> Stats {
        // Ids sit next to the flows so that sorting does not chase every Box.
        let mut open: Vec<(u64, Flow)> = self.flows.drain().map(|(_, f)| (f.id(), f)).collect();
        open.sort_unstable_by_key(|(id, _)| *id);
        for (_, f) in open {
            self.emit(f, EndReason::EndOfInput, sink);
        }
        self.expiry.clear();
        self.expiry_len = 0;
        self.dns.finish(&mut self.dns_out);
        self.flush_dns(sink);
        // Limits enforced inside the parts, copied into the run's totals: each memcap refusal
        // made a stream give up its first hole and flush its buffer early.
        self.stats.evicted_streams = self.budget.refusals();
        let dns_evicted = self.dns.stats().evicted;
        if dns_evicted > 0 {
            *self.stats.anomalies.entry("dns_query_evicted").or_insert(0) += dns_evicted;
        }
        self.stats.clone()
    }

    fn flush_dns(&mut self, sink: &mut impl Sink) {
        for r in self.dns_out.drain(..) {
            for ip in r.answer_addresses() {
                if self.names.len() >= MAX_DNS_NAMES {
                    self.names.clear();
                    self.stats.anomaly("dns_name_cache_reset");
                }
                if let Some(q) = &r.qname {
                    self.names.insert(ip, q.clone());
                }
            }
            sink.event(Event::Dns(Box::new(r)));
        }
    }

    fn new_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn deadline(&self, flow: &Flow) -> u64 {
        deadline_of(&self.config.limits, flow)
    }

    /// (Re)schedules the flow's deadline: one table lookup (this runs for every new flow and
    /// every close).
    fn schedule(&mut self, key: FlowKey) {
        let Some(flow) = self.flows.get_mut(&key) else {
            return;
        };
        let d = deadline_of(&self.config.limits, flow);
        *flow.scheduled_mut() = d;
        let id = flow.id();
        self.expiry.entry(d).or_default().push((key, id));
        self.expiry_len += 1;
        // A connection scheduled at its idle timeout (300 s) and rescheduled when it closes
        // leaves its first entry behind until that slot comes: at ~1,200 connections a second
        // that was 18 MB on a 2.2 GB capture, growing with the file. Dropping the entries of
        // flows that are gone keeps the schedule within a few entries per live flow.
        if self.expiry_len > 4 * self.flows.len() + EXPIRY_SLACK {
            self.drop_stale_expiry();
        }
    }

    /// Removes the schedule's entries whose flow has ended (or whose key now holds a newer
    /// flow): `sweep` and `make_room` pass over such entries without effect, so the order in
    /// which the others are looked at, and so the output, stays the same.
    fn drop_stale_expiry(&mut self) {
        let flows = &self.flows;
        self.expiry.retain(|_, due| {
            due.retain(|(key, id)| scheduled_flow(flows, key, *id).is_some());
            if due.capacity() > 2 * due.len() + 8 {
                due.shrink_to_fit();
            }
            !due.is_empty()
        });
        self.expiry_len = self.expiry.values().map(Vec::len).sum();
    }

    /// Ends flows whose deadline passed.
    fn sweep(&mut self, now: Timestamp, sink: &mut impl Sink) {
        let now_sec = now.as_nanos() / 1_000_000_000;
        while let Some(entry) = self.expiry.first_entry() {
            if *entry.key() > now_sec {
                break;
            }
            let due = entry.remove();
            self.expiry_len -= due.len();
            for (key, id) in due {
                let Some(flow) = scheduled_flow(&self.flows, &key, id) else {
                    continue;
                };
                let d = self.deadline(flow);
                if d <= now_sec {
                    if let Some(flow) = self.flows.remove(&key) {
                        let reason = flow.due_end_reason();
                        self.emit(flow, reason, sink);
                    }
                } else {
                    self.schedule(key);
                }
            }
        }
        self.defrag
            .expire(now, &self.config.limits, &mut self.stats);
    }

    /// Makes room for one more flow under `max_flows`: ends the flow whose deadline comes
    /// first. Deadlines are rescheduled lazily, so an entry may be stale (the flow saw traffic
    /// since): such a flow is moved to its real deadline, not evicted, which makes eviction
    /// least-recently-active first. A flow already past its deadline ends normally.
    fn make_room(&mut self, sink: &mut impl Sink) {
        let now_sec = self.now.as_nanos() / 1_000_000_000;
        while self.flows.len() >= self.config.limits.max_flows {
            let Some(mut entry) = self.expiry.first_entry() else {
                break;
            };
            let slot = *entry.key();
            let Some((key, id)) = entry.get_mut().pop() else {
                entry.remove();
                continue;
            };
            self.expiry_len -= 1;
            let Some(flow) = scheduled_flow(&self.flows, &key, id) else {
                continue;
            };
            let due = self.deadline(flow);
            if due > slot {
                self.schedule(key);
                continue;
            }
            if let Some(flow) = self.flows.remove(&key) {
                let reason = if due > now_sec {
                    self.stats.evicted_flows += 1;
                    EndReason::Evicted
                } else {
                    flow.due_end_reason()
                };
                self.emit(flow, reason, sink);
            }
        }
    }

    fn emit(&mut self, flow: Flow, reason: EndReason, sink: &mut impl Sink) {
        let conn: Connection = match flow {
            Flow::Tcp(mut c) => {
                if reason == EndReason::Closed {
                    self.tombstone(c.client, c.server, c.last_ts);
                }
                let hint = self.names.get(&c.server.ip()).cloned();
                let mut env = StreamEnv {
                    tls: &self.config.tls,
                    dns: &mut self.dns,
                    dns_out: &mut self.dns_out,
                    stats: &mut self.stats,
                    conn_id: c.id,
                    client: c.client,
                    server: c.server,
                };
                c.finish(reason, hint, &mut self.budget, &mut env)
            }
            Flow::Udp(u) => {
                let hint = self.names.get(&u.server.ip()).cloned();
                u.finish(reason, hint)
            }
        };
        self.stats.connections += 1;
        match conn.transport {
            Transport::Tcp => self.stats.tcp_connections += 1,
            Transport::Udp => self.stats.udp_flows += 1,
        }
        sink.event(Event::Connection(Box::new(conn)));
    }

    fn tombstone(&mut self, a: SocketAddr, b: SocketAddr, ts: Timestamp) {
        let limit = self.config.limits.max_flows;
        while self.closed_order.len() >= limit {
            let Some((t, k)) = self.closed_order.pop_front() else {
                break;
            };
            if self.closed.get(&k) == Some(&t) {
                self.closed.remove(&k);
            }
        }
        let (key, _) = FlowKey::new(Transport::Tcp, a, b);
        self.closed.insert(key, ts);
        self.closed_order.push_back((ts, key));
    }

    /// A packet for a connection that was closed and reported within `closed_memory`.
    fn is_late(&mut self, key: &FlowKey, now: Timestamp) -> bool {
        let memory = self.config.limits.closed_memory;
        while let Some(&(t, k)) = self.closed_order.front() {
            if now.since(t) < memory {
                break;
            }
            self.closed_order.pop_front();
            if self.closed.get(&k) == Some(&t) {
                self.closed.remove(&k);
            }
        }
        self.closed.contains_key(key)
    }

    fn on_tcp(
        &mut self,
        ip: &IpInfo,
        seg: &TcpSegment<'_>,
        pkt: &Packet<'_>,
        sink: &mut impl Sink,
    ) {
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
            match self.flows.get_mut(&key) {
                Some(Flow::Tcp(conn))
                    if created || !(pure_syn && conn.is_reuse_syn(src, seg.seq)) =>
                {
                    let mut env = ConnEnv {
                        limits: &self.config.limits,
                        reasm_limits: &self.reasm_limits,
                        budget: &mut self.budget,
                        stream: StreamEnv {
                            tls: &self.config.tls,
                            dns: &mut self.dns,
                            dns_out: &mut self.dns_out,
                            stats: &mut self.stats,
                            conn_id: conn.id,
                            client: conn.client,
                            server: conn.server,
                        },
                        decode_apps,
                    };
                    break feed(conn, src, ip, seg, pkt, &mut env);
                }
                // A UDP flow cannot share a TCP key (the transport is part of it).
                _ if created => return,
                _ => {
                    if !self.new_tcp(key, src, dst, seg, pkt, sink) {
                        return;
                    }
                    created = true;
                }
            }
        };
        // Closing moves the deadline earlier (idle timeout -> linger): schedule it again; the
        // later entry is skipped when it comes due.
        if let Some(id) = closed_now {
            self.schedule(key);
            self.lingering.push_back((key, id));
            self.cut_lingering(sink);
        }
    }

    /// A segment with no connection to go to, or a SYN reusing a connection's ports: ends
    /// the old connection and starts a new one, or counts a late packet of a closed one.
    /// False when the segment is not to be taken.
    fn new_tcp(
        &mut self,
        key: FlowKey,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &TcpSegment<'_>,
        pkt: &Packet<'_>,
        sink: &mut impl Sink,
    ) -> bool {
        let pure_syn = seg.flags.syn() && !seg.flags.ack();
        // Port reuse: a SYN with a new initial sequence number starts a new connection.
        if pure_syn
            && let Some(Flow::Tcp(c)) = self.flows.get(&key)
            && c.is_reuse_syn(src, seg.seq)
            && let Some(old) = self.flows.remove(&key)
        {
            let reason = if matches!(&old, Flow::Tcp(c) if c.is_closed()) {
                EndReason::Closed
            } else {
                EndReason::Idle
            };
            self.emit(old, reason, sink);
        }
        if !self.flows.contains_key(&key) {
            if !pure_syn && self.is_late(&key, pkt.ts) {
                self.stats.anomaly("packet_after_close");
                return false;
            }
            self.make_room(sink);
            let id = self.new_id();
            self.flows.insert(
                key,
                Flow::Tcp(Box::new(TcpConn::new(id, src, dst, seg, pkt.ts))),
            );
            self.schedule(key);
        }
        true
    }

    /// Ends the earliest-closed connections beyond `max_closed_lingering`.
    fn cut_lingering(&mut self, sink: &mut impl Sink) {
        while self.lingering.len() > self.config.limits.max_closed_lingering {
            let Some((key, id)) = self.lingering.pop_front() else {
                break;
            };
            let still_lingering = matches!(
                self.flows.get(&key),
                Some(Flow::Tcp(c)) if c.id == id && c.is_closed()
            );
            if still_lingering && let Some(flow) = self.flows.remove(&key) {
                self.stats.anomaly("closed_linger_cut");
                self.emit(flow, EndReason::Closed, sink);
            }
        }
    }

    fn on_udp(
        &mut self,
        ip: &IpInfo,
        sport: u16,
        dport: u16,
        payload: &[u8],
        pkt: &Packet<'_>,
        sink: &mut impl Sink,
    ) {
        self.stats.udp_packets += 1;
        let src = SocketAddr::new(ip.src, sport);
        let dst = SocketAddr::new(ip.dst, dport);
        let (key, _) = FlowKey::new(Transport::Udp, src, dst);
        // One lookup for a datagram of a known flow.
        let seen = match self.flows.get_mut(&key) {
            Some(Flow::Udp(flow)) => Some(udp_datagram(flow, src, ip, payload, pkt)),
            _ => None,
        };
        let (answered_now, is_dns, id) = match seen {
            Some(s) => s,
            None => {
                if self.flows.contains_key(&key) {
                    // A TCP flow cannot share a UDP key (the transport is part of it).
                    return;
                }
                self.make_room(sink);
                let id = self.new_id();
                self.flows
                    .insert(key, Flow::Udp(Box::new(UdpFlow::new(id, src, dst, pkt.ts))));
                self.schedule(key);
                let Some(Flow::Udp(flow)) = self.flows.get_mut(&key) else {
                    return;
                };
                udp_datagram(flow, src, ip, payload, pkt)
            }
        };
        if answered_now {
            self.schedule(key);
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
        }
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
        match self.flows.get_mut(&key) {
            Some(Flow::Tcp(c)) => c.on_icmp(info, &self.config.limits),
            Some(Flow::Udp(u)) => {
                if u.icmp.len() < self.config.limits.max_resets_per_conn {
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
        sink: &mut impl Sink,
    ) {
        match proto {
            6 => {
                if let Some(seg) = wire::decode::tcp_from_bytes(bytes) {
                    self.on_tcp(ip, &seg, pkt, sink);
                }
            }
            17 => {
                if let Some((sp, dp, payload)) = wire::decode::udp_from_bytes(bytes) {
                    self.on_udp(ip, sp, dp, payload, pkt, sink);
                }
            }
            _ => {}
        }
    }
}
