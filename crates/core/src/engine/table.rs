//! The flow table: TCP connections and UDP flows by key, when each is due to end (the expiry
//! schedule), eviction under `max_flows`, closed connections lingering for late packets, and
//! the memory of recently closed 5-tuples.
//!
//! The table decides when flows end but does not report them: every flow it ends goes to
//! [`FlowTable::ended`], in order, and the engine builds and sends the records right after
//! the call that ended them.

use super::conn::Conn;
use crate::config::Limits;
use crate::event::{EndReason, Stall};
use crate::flow::{TcpConn, UdpFlow, is_new_data};
use crate::packet::Packet;
use crate::reassembly::SeqNumber;
use crate::stats::Stats;
use crate::time::Timestamp;
use crate::types::{FlowKey, Transport};
use crate::wire::TcpSegment;
use rustc_hash::FxHashMap;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

/// Entries the expiry schedule may hold beyond four per live flow before its stale ones are
/// dropped (see `FlowTable::schedule`).
const EXPIRY_SLACK: usize = 4_096;
/// Emptied expiry slots kept for their capacity (see `FlowTable::spare`).
const SPARE_SLOTS: usize = 8;
/// Boxes of ended flows kept for new ones, per transport (see `FlowTable::spare_tcp`):
/// at most 4,096 x 1.7 KiB (TCP) + 4,096 x 272 B (UDP), ~8 MiB, the few seconds of ended
/// flows a sweep frees at once on a busy link. Beyond it a box is freed, counted in
/// `FlowTable::spare_freed`.
pub(crate) const MAX_SPARE_FLOWS: usize = 4_096;

/// A tracked flow.
#[derive(Debug)]
pub(crate) enum Flow {
    Tcp(Box<Conn>),
    Udp(Box<UdpFlow>),
}

impl Flow {
    pub fn id(&self) -> u64 {
        match self {
            Flow::Tcp(c) => c.tcp.id,
            Flow::Udp(u) => u.id,
        }
    }

    fn is_closed_tcp(&self) -> bool {
        matches!(self, Flow::Tcp(c) if c.tcp.is_closed())
    }

    /// Why a flow whose deadline passed ends: closed if both sides closed, else idle.
    fn due_end_reason(&self) -> EndReason {
        if self.is_closed_tcp() {
            EndReason::Closed
        } else {
            EndReason::Idle
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
fn deadline_of(l: &Limits, flow: &Flow) -> u64 {
    match flow {
        Flow::Tcp(c) => deadline_tcp(l, &c.tcp),
        Flow::Udp(u) => deadline_udp(l, u),
    }
}

/// `deadline_of` a TCP connection.
pub(crate) fn deadline_tcp(l: &Limits, t: &TcpConn) -> u64 {
    let t = if t.is_closed() {
        t.last_ts.saturating_add(l.close_linger)
    } else {
        t.last_ts.saturating_add(l.tcp_idle_timeout)
    };
    t.as_nanos() / 1_000_000_000 + 1
}

/// `deadline_of` a UDP flow.
pub(crate) fn deadline_udp(l: &Limits, u: &UdpFlow) -> u64 {
    let t = if u.is_dns && u.stats[1].packets > 0 {
        u.last_ts.saturating_add(l.close_linger)
    } else {
        u.last_ts.saturating_add(l.udp_idle_timeout)
    };
    t.as_nanos() / 1_000_000_000 + 1
}

/// One expiry slot: the flows to look at when its second comes, in the order they were
/// scheduled.
#[derive(Debug, Default)]
struct Due {
    entries: Vec<(FlowKey, u64)>,
    /// One shard of several: each entry's `Pos`, in step with `entries`. Empty in one
    /// engine, where every `Pos` is zero: the entries stay 64 bytes, not 88.
    pos: Vec<Pos>,
}

impl Due {
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn pos(&self, i: usize) -> Pos {
        self.pos.get(i).copied().unwrap_or_default()
    }
}

/// Words of `LiveIds` at most (1 MiB, 8 million ids): beyond it the table probes instead.
const MAX_LIVE_WORDS: usize = 1 << 17;

/// The ids of the flows the table holds, one bit each, for one engine (whose ids count up
/// from 0 in the order flows start). `drop_stale_expiry` asks it whether an entry's flow is
/// still there instead of probing the flow table: on the benchmark corpus its 20 passes
/// looked at 530,631 entries, 1.6 times the probes of all the sweeps together, each a cache
/// miss on a table of ~100k flows; the bits of the live window fit in a few KiB. Flows end
/// roughly in the order they started, so the window slides: words whose flows all ended
/// leave the front.
#[derive(Debug, Default)]
struct LiveIds {
    /// The id of the first bit of `words`; every flow below it has ended.
    base: u64,
    words: VecDeque<u64>,
}

impl LiveIds {
    fn contains(&self, id: u64) -> bool {
        let Some(off) = id.checked_sub(self.base) else {
            return false;
        };
        usize::try_from(off / 64)
            .ok()
            .and_then(|i| self.words.get(i))
            .is_some_and(|w| (w >> (off % 64)) & 1 == 1)
    }

    /// False when `id` lies beyond the bound (or below the window, which a new id cannot).
    fn insert(&mut self, id: u64) -> bool {
        let Some(i) = id
            .checked_sub(self.base)
            .and_then(|off| usize::try_from(off / 64).ok())
            .filter(|&i| i < MAX_LIVE_WORDS)
        else {
            return false;
        };
        if self.words.len() <= i {
            self.words.resize(i + 1, 0);
        }
        if let Some(w) = self.words.get_mut(i) {
            *w |= 1 << ((id - self.base) % 64);
        }
        true
    }

    fn remove(&mut self, id: u64) {
        let Some(off) = id.checked_sub(self.base) else {
            return;
        };
        if let Some(w) = usize::try_from(off / 64)
            .ok()
            .and_then(|i| self.words.get_mut(i))
        {
            *w &= !(1 << (off % 64));
        }
        // A word before the last holds only ids already given out (they count up): once
        // all its flows ended, none of its ids comes back.
        while self.words.len() > 1 && self.words.front() == Some(&0) {
            self.words.pop_front();
            self.base += 64;
        }
    }
}

/// What is remembered of a closed connection: when it closed, and where each end's stream
/// had reached, so that a late packet can be told from new data on the same ports.
#[derive(Clone, Copy, Debug)]
struct Tombstone {
    ts: Timestamp,
    /// The index of the packet that closed the connection (one shard of several: see
    /// `FlowTable::tomb_pushes`).
    pushed_at: u64,
    ends: [(SocketAddr, Option<SeqNumber>); 2],
}

impl Tombstone {
    fn seq_end(&self, src: SocketAddr) -> Option<SeqNumber> {
        self.ends
            .iter()
            .find(|(a, _)| *a == src)
            .and_then(|(_, e)| *e)
    }
}

/// Where an expiry entry falls among one engine's entries of the same slot, for a shard
/// (`ShardedEngine`): one engine keeps a slot's entries in the order they were scheduled, and
/// a sweep ends them in that order. An entry scheduled while processing packet `packet` is
/// `(packet, n)`, the `n`th of that packet (only the flow's owner processes a packet); one
/// moved by a sweep at `packet` comes after every entry scheduled by packets up to it
/// (top bit of `moved`), then by the slot it left and the packet of its old entry, the order
/// that sweep moved them in. Two entries moved by one sweep from one slot whose old entries
/// were both moved by the same earlier sweep compare by their ids instead (not exact).
/// Zero in a single engine, which needs no such key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub packet: u64,
    /// Top bit: moved by a sweep; below it, the slot it left (0 when scheduled by a packet).
    pub moved: u64,
    /// The rank among the packet's entries, or the packet of the entry a sweep moved.
    pub within: u64,
}

impl Pos {
    fn rescheduled(packet: u64, old_slot: u64, old: Pos) -> Pos {
        // Two u64 rather than one u128: an entry aligned to 16 bytes would grow by padding.
        Pos {
            packet,
            moved: (1 << 63) | old_slot.min(u64::MAX >> 1),
            within: old.packet,
        }
    }
}

/// The expiry slot that ended a flow, and its entry's place in it.
pub(crate) type SweptAt = (u64, Pos);

/// The flows being tracked, and when each is due to end.
#[derive(Debug, Default)]
pub(crate) struct FlowTable {
    pub flows: FxHashMap<FlowKey, Flow>,
    /// Deadline (whole seconds of packet time) -> flows to look at then. Entries are checked
    /// lazily: a flow that saw traffic since is rescheduled, not ended.
    expiry: BTreeMap<u64, Due>,
    /// Slots the sweep emptied, kept (at most `SPARE_SLOTS`) to be filled again: a slot
    /// grown from empty entry by entry was reallocated a dozen times, each time into fresh
    /// pages (realloc and page faults were ~3 % of a run's cycles).
    spare: Vec<Due>,
    /// Entries in `expiry`, stale ones included (bounded in `schedule`).
    expiry_len: usize,
    /// Boxes of ended connections and flows, kept (at most `MAX_SPARE_FLOWS` each) for the
    /// next new ones. A sweep ends flows by the thousand at once; freed, their boxes emptied
    /// whole allocator pages, which the allocator gave back to the system and the next
    /// second's new flows faulted in again (~80 % of a run's page faults came from these
    /// boxes and what the decoders allocate per flow).
    // The boxes are the point: they go back into `Flow` as they are.
    #[allow(clippy::vec_box)]
    spare_tcp: Vec<Box<Conn>>,
    #[allow(clippy::vec_box)]
    spare_udp: Vec<Box<UdpFlow>>,
    /// Boxes freed because `MAX_SPARE_FLOWS` were already kept.
    pub spare_freed: u64,
    /// Recently closed TCP connections: a late RST or ACK for one of them is counted, not
    /// taken for a new connection (tshark keeps such packets in the old stream).
    closed: FxHashMap<FlowKey, Tombstone>,
    closed_order: VecDeque<(Timestamp, FlowKey)>,
    /// Connections that closed and are lingering, in closing order (may hold stale entries;
    /// at most `max_closed_lingering` + 1 long).
    lingering: VecDeque<(FlowKey, u64)>,
    next_id: u64,
    /// The flows the table holds, by id (one engine); see `LiveIds`.
    live: LiveIds,
    /// `live` is not kept: this table is one shard's (its ids are packet indices), or the
    /// window outgrew `MAX_LIVE_WORDS`. `drop_stale_expiry` probes the flow table instead.
    live_off: bool,
    /// Flows ended by the last calls, in the order they ended, for the engine to report, with
    /// the expiry slot that ended them (`None` when no sweep did).
    pub ended: Vec<(Flow, EndReason, Option<SweptAt>)>,
    /// Entries scheduled while processing the packet `packet_id` (see `Pos`).
    pushes: u64,
    /// Set for one shard of several (`ShardedEngine`): the index in the input of the packet
    /// being processed, which is the id of a flow it creates.
    pub packet_id: Option<u64>,
    /// The ids of the flows created (with `packet_id` set) since the caller took them.
    pub created: Vec<u64>,
    /// `max_flows` or `max_closed_lingering` made the table end something: the flow that
    /// needed room, a lingering connection cut.
    pub bound_reached: bool,
    /// One shard of several: how many closed connections it remembers (the whole
    /// `max_flows` of one engine, not the shard's share: it then remembers at least what
    /// one engine remembers of its flows, see `tomb_lookups`).
    pub closed_cap: Option<usize>,
    /// One shard of several: the packet index of each closed connection remembered, since
    /// the caller took them.
    pub tomb_pushes: Vec<u64>,
    /// One shard of several: (index of the packet that closed it, index of the packet) for
    /// each packet found late by a closed connection's memory, since the caller took them.
    /// One engine had forgotten it if `max_flows` connections closed in between: the merge
    /// counts them (`ShardedEngine`).
    pub tomb_lookups: Vec<(u64, u64)>,
}

impl FlowTable {
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// Entries in the expiry schedule, stale ones included.
    pub fn scheduled_deadlines(&self) -> usize {
        self.expiry_len
    }

    fn new_id(&mut self) -> u64 {
        // One shard of several: the packet's index in the input, which orders flows as their
        // dense ids do; the merge maps it to the dense id before records leave.
        if let Some(index) = self.packet_id {
            self.created.push(index);
            self.live_off = true;
            return index;
        }
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Ends `flow` for `reason`: a TCP connection that closed is remembered for late packets.
    fn retire(&mut self, flow: Flow, reason: EndReason, slot: Option<(u64, Pos)>, limits: &Limits) {
        // Every flow leaves the table through here (but at `drain_all`).
        if !self.live_off {
            self.live.remove(flow.id());
        }
        if reason == EndReason::Closed
            && let Flow::Tcp(c) = &flow
        {
            let t = &c.tcp;
            let stone = Tombstone {
                ts: t.last_ts,
                pushed_at: self.packet_id.unwrap_or(0),
                ends: [
                    (t.client, t.seq_end(t.client)),
                    (t.server, t.seq_end(t.server)),
                ],
            };
            self.tombstone(t.client, t.server, stone, limits);
        }
        self.ended.push((flow, reason, slot));
    }

    /// Flow `id` went into the table.
    fn note_live(&mut self, id: u64) {
        if !self.live_off && !self.live.insert(id) {
            self.live_off = true;
            self.live = LiveIds::default();
        }
    }

    /// (Re)schedules the flow's deadline: one table lookup.
    fn schedule(&mut self, key: FlowKey, limits: &Limits) {
        let Some(flow) = self.flows.get(&key) else {
            return;
        };
        let (due, id) = (deadline_of(limits, flow), flow.id());
        self.schedule_due(key, id, due);
    }

    /// Schedules flow `id` at `key` (just looked at by the caller) for second `due`.
    pub fn schedule_due(&mut self, key: FlowKey, id: u64, due: u64) {
        let pos = match self.packet_id {
            Some(p) => {
                self.pushes += 1;
                Pos {
                    packet: p,
                    moved: 0,
                    within: self.pushes,
                }
            }
            None => Pos::default(),
        };
        self.push_entry(key, id, due, pos);
    }

    /// The packet being processed, for a shard (see `packet_id`): its schedule entries count
    /// from zero.
    pub fn set_packet(&mut self, index: u64) {
        self.packet_id = Some(index);
        self.pushes = 0;
    }

    fn push_entry(&mut self, key: FlowKey, id: u64, d: u64, pos: Pos) {
        let spare = &mut self.spare;
        let due = self
            .expiry
            .entry(d)
            .or_insert_with(|| spare.pop().unwrap_or_default());
        due.entries.push((key, id));
        if self.packet_id.is_some() {
            due.pos.push(pos);
        }
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
        let ids = (!self.live_off).then_some(&self.live);
        self.expiry.retain(|_, due| {
            let live = |&(key, id): &(FlowKey, u64)| match ids {
                Some(ids) => {
                    let held = ids.contains(id);
                    debug_assert_eq!(held, scheduled_flow(flows, &key, id).is_some());
                    held
                }
                None => scheduled_flow(flows, &key, id).is_some(),
            };
            if !due.pos.is_empty() {
                let mut keep = due.entries.iter().map(live);
                due.pos.retain(|_| keep.next().unwrap_or(false));
            }
            due.entries.retain(live);
            if due.entries.capacity() > 2 * due.len() + 8 {
                due.entries.shrink_to_fit();
                due.pos.shrink_to_fit();
            }
            !due.entries.is_empty()
        });
        self.expiry_len = self.expiry.values().map(Due::len).sum();
    }

    /// Ends flows whose deadline passed, by slot, and in a slot in the order they were
    /// scheduled; each is reported with its slot and its entry's `Pos`.
    pub fn sweep(&mut self, now: Timestamp, limits: &Limits) {
        let now_sec = now.as_nanos() / 1_000_000_000;
        while let Some(entry) = self.expiry.first_entry() {
            let slot = *entry.key();
            if slot > now_sec {
                break;
            }
            let mut due = entry.remove();
            self.expiry_len -= due.len();
            for (i, &(key, id)) in due.entries.iter().enumerate() {
                // One probe: the entry is looked at and, when due, removed through it.
                let Entry::Occupied(found) = self.flows.entry(key) else {
                    continue;
                };
                if found.get().id() != id {
                    continue;
                }
                let d = deadline_of(limits, found.get());
                let pos = due.pos(i);
                if d <= now_sec {
                    let flow = found.remove();
                    let reason = flow.due_end_reason();
                    self.retire(flow, reason, Some((slot, pos)), limits);
                } else {
                    let pos = match self.packet_id {
                        Some(p) => Pos::rescheduled(p, slot, pos),
                        None => Pos::default(),
                    };
                    self.push_entry(key, id, d, pos);
                }
            }
            if self.spare.len() < SPARE_SLOTS {
                due.entries.clear();
                due.pos.clear();
                self.spare.push(due);
            }
        }
    }

    /// Makes room for one more flow under `max_flows`: ends the flow whose deadline comes
    /// first. Deadlines are rescheduled lazily, so an entry may be stale (the flow saw traffic
    /// since): such a flow is moved to its real deadline, not evicted, which makes eviction
    /// least-recently-active first. A flow already past its deadline ends normally.
    fn make_room(&mut self, now: Timestamp, limits: &Limits, stats: &mut Stats) {
        let now_sec = now.as_nanos() / 1_000_000_000;
        if self.flows.len() >= limits.max_flows {
            self.bound_reached = true;
        }
        while self.flows.len() >= limits.max_flows {
            let Some(mut entry) = self.expiry.first_entry() else {
                break;
            };
            let slot = *entry.key();
            let due = entry.get_mut();
            due.pos.pop();
            let Some((key, id)) = due.entries.pop() else {
                entry.remove();
                continue;
            };
            self.expiry_len -= 1;
            let Some(flow) = scheduled_flow(&self.flows, &key, id) else {
                continue;
            };
            let due = deadline_of(limits, flow);
            if due > slot {
                self.schedule(key, limits);
                continue;
            }
            if let Some(flow) = self.flows.remove(&key) {
                let reason = if due > now_sec {
                    stats.evicted_flows += 1;
                    EndReason::Evicted
                } else {
                    flow.due_end_reason()
                };
                self.retire(flow, reason, None, limits);
            }
        }
    }

    fn tombstone(&mut self, a: SocketAddr, b: SocketAddr, stone: Tombstone, limits: &Limits) {
        let cap = self.closed_cap.unwrap_or(limits.max_flows);
        while self.closed_order.len() >= cap {
            let Some((t, k)) = self.closed_order.pop_front() else {
                break;
            };
            if self.closed.get(&k).is_some_and(|s| s.ts == t) {
                self.closed.remove(&k);
            }
        }
        if let Some(index) = self.packet_id {
            self.tomb_pushes.push(index);
        }
        let (key, _) = FlowKey::new(Transport::Tcp, a, b);
        self.closed.insert(key, stone);
        self.closed_order.push_back((stone.ts, key));
    }

    /// A packet for a connection that was closed and reported within `closed_memory`, and
    /// not new data that reopens it (see `TcpConn::is_reopened_by`).
    fn is_late(
        &mut self,
        key: &FlowKey,
        src: SocketAddr,
        seg: &TcpSegment<'_>,
        now: Timestamp,
        limits: &Limits,
    ) -> bool {
        let memory = limits.closed_memory;
        while let Some(&(t, k)) = self.closed_order.front() {
            if now.since(t) < memory {
                break;
            }
            self.closed_order.pop_front();
            if self.closed.get(&k).is_some_and(|s| s.ts == t) {
                self.closed.remove(&k);
            }
        }
        let late = self.closed.get(key).is_some_and(|stone| {
            !(now.since(stone.ts) >= limits.close_linger && is_new_data(stone.seq_end(src), seg))
        });
        if late && let (Some(index), Some(stone)) = (self.packet_id, self.closed.get(key)) {
            self.tomb_lookups.push((stone.pushed_at, index));
        }
        late
    }

    /// A segment with no connection to go to, or a SYN reusing a connection's ports: ends
    /// the old connection and starts a new one, or counts a late packet of a closed one.
    /// False when the segment is not to be taken.
    #[allow(clippy::too_many_arguments)] // the packet's facts and the engine's bounds
    pub fn new_tcp(
        &mut self,
        key: FlowKey,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &TcpSegment<'_>,
        pkt: &Packet<'_>,
        now: Timestamp,
        limits: &Limits,
        stats: &mut Stats,
    ) -> bool {
        let pure_syn = seg.flags.syn() && !seg.flags.ack();
        // Port reuse: a SYN with a new initial sequence number starts a new connection, and so
        // does new data on a connection closed a while ago.
        if let Some(Flow::Tcp(c)) = self.flows.get(&key)
            && ((pure_syn && c.tcp.is_reuse_syn(src, seg.seq))
                || c.tcp.is_reopened_by(src, seg, pkt.ts, limits.close_linger))
            && let Some(old) = self.flows.remove(&key)
        {
            let reason = if old.is_closed_tcp() {
                EndReason::Closed
            } else {
                EndReason::Idle
            };
            self.retire(old, reason, None, limits);
        }
        if !self.flows.contains_key(&key) {
            if !pure_syn && self.is_late(&key, src, seg, pkt.ts, limits) {
                stats.anomaly("packet_after_close");
                return false;
            }
            self.make_room(now, limits, stats);
            let id = self.new_id();
            let tcp = TcpConn::new(id, src, dst, seg, pkt.ts);
            let due = deadline_tcp(limits, &tcp);
            let conn = match self.spare_tcp.pop() {
                Some(mut b) => {
                    *b = Conn::new(tcp);
                    b
                }
                None => Box::new(Conn::new(tcp)),
            };
            self.flows.insert(key, Flow::Tcp(conn));
            self.note_live(id);
            self.schedule_due(key, id, due);
        }
        true
    }

    /// A new UDP flow for `key` (which holds none), given its first datagram by `first`
    /// before it goes into the table (one probe: the insertion).
    #[allow(clippy::too_many_arguments)] // the datagram's facts and the engine's bounds
    pub fn new_udp<R>(
        &mut self,
        key: FlowKey,
        src: SocketAddr,
        dst: SocketAddr,
        now: Timestamp,
        ts: Timestamp,
        limits: &Limits,
        stats: &mut Stats,
        first: impl FnOnce(&mut UdpFlow) -> R,
    ) -> R {
        self.make_room(now, limits, stats);
        let id = self.new_id();
        let mut flow = match self.spare_udp.pop() {
            Some(mut b) => {
                *b = UdpFlow::new(id, src, dst, ts);
                b
            }
            None => Box::new(UdpFlow::new(id, src, dst, ts)),
        };
        // Scheduled as it was before its first datagram: at the idle timeout.
        let due = deadline_udp(limits, &flow);
        let r = first(&mut flow);
        self.flows.insert(key, Flow::Udp(flow));
        self.note_live(id);
        self.schedule_due(key, id, due);
        r
    }

    /// Connection `id` at `key` just closed: it lingers for late packets; closing moves its
    /// deadline earlier (idle timeout -> linger) to `due`, so it is scheduled again (the
    /// later entry is skipped when it comes due).
    pub fn closed(&mut self, key: FlowKey, id: u64, due: u64, limits: &Limits, stats: &mut Stats) {
        self.schedule_due(key, id, due);
        self.lingering.push_back((key, id));
        // Ends the earliest-closed connections beyond `max_closed_lingering`.
        while self.lingering.len() > limits.max_closed_lingering {
            let Some((key, id)) = self.lingering.pop_front() else {
                break;
            };
            let still_lingering = matches!(
                self.flows.get(&key),
                Some(Flow::Tcp(c)) if c.tcp.id == id && c.tcp.is_closed()
            );
            if still_lingering && let Some(flow) = self.flows.remove(&key) {
                self.bound_reached = true;
                stats.anomaly("closed_linger_cut");
                self.retire(flow, EndReason::Closed, None, limits);
            }
        }
    }

    /// Keeps the box of a flow whose record was built, for a new flow (what it holds
    /// besides is freed now).
    pub fn recycle(&mut self, flow: Flow) {
        match flow {
            Flow::Tcp(mut c) if self.spare_tcp.len() < MAX_SPARE_FLOWS => {
                c.release();
                self.spare_tcp.push(c);
            }
            Flow::Udp(mut u) if self.spare_udp.len() < MAX_SPARE_FLOWS => {
                u.icmp = Vec::new();
                self.spare_udp.push(u);
            }
            _ => self.spare_freed += 1,
        }
    }

    /// End of input: every flow, in the order they started.
    pub fn drain_all(&mut self) -> Vec<Flow> {
        // Ids sit next to the flows so that sorting does not chase every Box.
        let mut open: Vec<(u64, Flow)> = self.flows.drain().map(|(_, f)| (f.id(), f)).collect();
        open.sort_unstable_by_key(|(id, _)| *id);
        self.live = LiveIds {
            base: self.next_id,
            words: VecDeque::new(),
        };
        self.expiry.clear();
        self.expiry_len = 0;
        open.into_iter().map(|(_, f)| f).collect()
    }

    /// Open connections silent for `stall_after` at `now` and not reported yet, in
    /// connection order.
    pub fn new_stalls(&mut self, now: Timestamp, stall_after: crate::time::Duration) -> Vec<Stall> {
        let mut stalls = Vec::new();
        for flow in self.flows.values_mut() {
            if let Flow::Tcp(c) = flow
                && !c.stall_reported
                && !c.tcp.is_closed()
                && now.since(c.tcp.last_ts) >= stall_after
            {
                c.stall_reported = true;
                stalls.push(Stall {
                    conn_id: c.tcp.id,
                    client: c.tcp.client,
                    server: c.tcp.server,
                    server_name: None,
                    since: c.tcp.last_ts,
                    idle: now.since(c.tcp.last_ts),
                    last_frame: c.tcp.last_frame,
                });
            }
        }
        // Reported in connection order, not the table's hash order.
        stalls.sort_unstable_by_key(|s| s.conn_id);
        stalls
    }
}
