//! Several engines on one capture, each on its own thread (or shard 0 on the caller's) and
//! owning the flows whose key hashes to it, merged back into the events one [`Engine`] emits,
//! in its order.
//!
//! ```text
//!              ┌─▶ shard 0: Engine (its flows, reassembly, decoders, bounds) ─┐
//! push ─route──┤                                                              ├─▶ merge ─▶ Sink
//!              └─▶ shard 1: Engine ...                                        ┘
//! ```
//!
//! The router reads only what names the flow: for plain TCP and UDP over IP (nearly every
//! frame) the two ends, straight from the headers (`wire::flow_ends`, the fast decoding
//! path's first steps), which `shard_of` mixes one end at a time, so that both directions go
//! to the same shard; other frames are decoded in full. The owner decodes the frame again.
//! Each shard's part of a round carries its packets' bytes, copied from the reader's buffer.
//! With [`ShardedEngine::new_local`], shard 0 runs on the caller's thread instead: `push`
//! pushes its packets at once, from the caller's buffer, and keeps its events with the round
//! being filled; the round's answer is made when the round is handed to the other shards, and
//! the merge takes it with theirs: one thread fewer, and half the copies (`read`'s way to run
//! two shards; BENCHMARKS.md, "Two shards on two cores", has its cost).
//!
//! What one engine shares between flows, and how the shards keep it:
//!
//! - **Order.** Each shard tags its events with the packet that made them known (its index
//!   in the input) and a [`Tag`]: the packet's own flow first, then the flows the expiry sweep
//!   ended (by slot, then in the order one engine scheduled them: see `table::Pos`), then DNS
//!   records; at the end of input, the open flows by id, their DNS records, the unanswered
//!   queries. One engine emits in that order, so merging the shards' streams by (packet,
//!   tag) gives its stream. Two exceptions, both rare: unanswered queries at the end come by
//!   query frame (one engine: in the order their messages were complete, which differs only
//!   when a query over TCP completed after a later query), and two flows moved by the same
//!   two sweeps into one slot compare by id.
//! - **Time.** The router keeps the capture's clock as one engine does (`max_clock_jump`:
//!   one packet far ahead is not taken alone) and gives it with each packet; a packet that
//!   starts a new second of that clock (a sweep) reaches every shard (`Engine::tick`), so
//!   every shard sweeps at the same packets, with the same clock.
//! - **Ids.** A shard names a flow by the index of the packet that created it (each packet
//!   creates at most one flow); the shards say which flows each round created, and the merge
//!   numbers them in that order, as one engine's counter does, and puts the dense id in every
//!   record that names the flow (kept while DNS queries the flow carried are unreported).
//! - **Names.** Connections without SNI or Host are named from earlier DNS answers; the merge
//!   keeps that cache (`limits.max_dns_names`) and names them as it passes them on.
//! - **Fragments.** A fragment does not say its ports: every shard reassembles every fragment
//!   and the flow's owner takes the datagram; shard 0 counts the fragments.
//! - **Bounds.** `max_flows`, `memcap`, `max_closed_lingering` and `max_dns_open_queries` are
//!   divided between the shards (each gets its share), and so are
//!   `tls.max_pending_handshake_bytes` and `max_kept_bytes`. Until a share acts, the shards hold between them
//!   what one engine would hold, each within its share, so no bound of one engine can have
//!   acted either: the events are exactly one engine's. When one acts (the shard says so
//!   with its round), that round and everything after it is held back and the engine
//!   [falls back](ShardedEngine::fallen_back): the caller runs one engine over the input
//!   from the start. A bound smaller than the number of shards cannot be divided: the
//!   engine has fallen back before the first packet. The memory of closed connections
//!   (`max_flows` of them, for late packets) is not divided: each shard remembers as many as
//!   one engine, so it forgets none that one engine remembers, and the merge counts the
//!   connections that closed in every shard to tell when a late packet was found by a
//!   memory one engine had lost (a fall-back too). Fragment bounds are not divided (every
//!   shard holds every fragment: up to `count` times the memory).
//!
//! - **TLS.** The shards share one trust store, so its caches (described certificates,
//!   validated chains) and the run's chain-building budget are shared: the caches hold what a
//!   pure function gave, so every record is one engine's, and the validation counters add up
//!   to one engine's (a chain is validated under the cache's lock, once). Which connection of
//!   two with the same chain validated it and which hit the cache (`TlsInfo::chain`) depends
//!   on the threads' timing; so does which chain the run's budget leaves undecided once it is
//!   spent, and which hits count as such after the cache of 512 chains is emptied. The pool
//!   of partial handshakes (`max_pending_handshake_bytes`) and that of kept bytes
//!   (`max_kept_bytes`) are divided like the bounds below.
//!
//! [`Stats`] are the shards' counts added up, plus the merge's own (`dns_name_cache_reset`,
//! `clock_jumps`).

use super::{Clock, Engine, Out, ShardRole, Tag, remember_names, shard_of};
use crate::app::tls::TlsLimits;
use crate::config::{Config, Limits};
use crate::event::{Event, EventMask, Sink};
use crate::packet::{LinkType, Packet};
use crate::stats::Stats;
use crate::time::Timestamp;
use crate::types::{FlowKey, Transport};
use crate::wire::{self, IpInfo, L4};
use rustc_hash::FxHashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Packets handed to the shards at a time (every shard gets its part of each round, and the
/// merge takes every shard's events of a round together).
const ROUND: usize = 1_024;
/// Rounds in flight between the reader and the merge.
const LAG: usize = 4;

/// Where an event falls in one engine's stream: the packet's index in the input, then its
/// place among that packet's events.
type Key = (u64, Tag);

/// One item of a shard's part of a round.
enum Item {
    /// A packet for this shard; its bytes are `data[start..start + len]` of the batch.
    Packet {
        index: u64,
        ts: Timestamp,
        frame: u64,
        orig_len: u32,
        linktype: LinkType,
        /// The capture's clock at this packet (the latest time seen by any shard).
        now: Timestamp,
        /// A fragment every shard reassembles: not counted here.
        copy: bool,
        start: usize,
        len: usize,
    },
    /// Another shard's packet that started a new second: the sweep runs here too.
    Tick {
        index: u64,
        frame: u64,
        now: Timestamp,
    },
}

/// A shard's part of a round, and on the way back its events (the vectors go round and
/// round: their memory is reused, not allocated and freed on two threads every round).
#[derive(Default)]
struct Batch {
    items: Vec<Item>,
    data: Vec<u8>,
    events: Vec<(Key, Event)>,
    /// The flows the round created (their ids: the packets' indexes, increasing).
    created: Vec<u64>,
    /// The flows that carried a DNS query registered in the round, once per query.
    pinned: Vec<u64>,
    /// The round's closed connections remembered, and packets found late by one (see
    /// `FlowTable::tomb_lookups`).
    tomb_pushes: Vec<u64>,
    tomb_lookups: Vec<(u64, u64)>,
    /// Events this shard made, used and handed back: freed on the shard's thread (a free on
    /// another thread costs the allocator more, on both threads).
    garbage: Vec<Event>,
}

enum ToShard {
    Round(Batch),
    Finish { frame: u64, now: Timestamp },
}

struct FromShard {
    /// The round's batch: its items done, its events to merge.
    batch: Batch,
    /// A bound on what the shard's flows hold has acted (now or in an earlier round).
    bound: bool,
    /// The shard's counters, after `Finish`.
    stats: Option<Stats>,
}

/// Collects a shard's events with their keys.
struct Collect<'v> {
    index: u64,
    events: &'v mut Vec<(Key, Event)>,
}

impl Out for Collect<'_> {
    fn put(&mut self, tag: Tag, ev: Event) {
        self.events.push(((self.index, tag), ev));
    }
}

/// A flow's dense id, kept by the merge while records may name it.
struct DenseId {
    id: u64,
    /// DNS queries it carried that were not reported yet.
    queries: u32,
    /// Its connection record has passed.
    ended: bool,
}

/// Where a packet goes: the shard owning its flow, or every shard (a fragment).
enum Route {
    One(usize),
    All,
}

fn route(pkt: &Packet<'_>, count: usize) -> Route {
    // Nearly every frame: plain TCP or UDP, whose ends are read without decoding the rest
    // (the owner decodes it; the full decode here was ~4 % of a run's CPU).
    if let Some((tcp, ip, sp, dp)) = wire::flow_ends(pkt.linktype, pkt.data) {
        let t = if tcp { Transport::Tcp } else { Transport::Udp };
        return Route::One(shard_of(t, (ip.src, sp), (ip.dst, dp), count));
    }
    let d = wire::decode(pkt.linktype, pkt.data);
    let Some(ip) = &d.ip else {
        return Route::One(0);
    };
    let key =
        |t: Transport, a: IpAddr, ap: u16, b: IpAddr, bp: u16| shard_of(t, (a, ap), (b, bp), count);
    let owner = match &d.l4 {
        L4::Tcp(seg) => key(Transport::Tcp, ip.src, seg.src_port, ip.dst, seg.dst_port),
        L4::Udp(u) => key(Transport::Udp, ip.src, u.src_port, ip.dst, u.dst_port),
        // An ICMP error goes to the flow it quotes.
        L4::IcmpError(e) => {
            let t = match e.quoted_proto {
                6 => Transport::Tcp,
                17 => Transport::Udp,
                _ => return Route::One(0),
            };
            key(
                t,
                e.quoted_src,
                e.quoted_src_port,
                e.quoted_dst,
                e.quoted_dst_port,
            )
        }
        L4::Fragment(_) => return Route::All,
        L4::Other => return Route::One(0),
    };
    Route::One(owner)
}

/// Whether every bound divided between `count` shards gives each at least one: then the
/// shards' shares add up to no more than the whole, and no bound of one engine can act
/// before a shard's share does.
fn divisible(l: &Limits, count: usize) -> bool {
    [
        l.max_flows,
        l.memcap,
        l.max_closed_lingering,
        l.max_dns_open_queries,
        l.tls.max_pending_handshake_bytes,
        l.max_kept_bytes,
    ]
    .iter()
    .all(|b| *b >= count)
}

/// A shard's bounds: its share of each bound on what the flows hold.
fn shard_limits(l: &Limits, count: usize) -> Limits {
    let share = |n: usize| (n / count).max(1);
    Limits {
        max_flows: share(l.max_flows),
        memcap: share(l.memcap),
        max_closed_lingering: share(l.max_closed_lingering),
        max_dns_open_queries: share(l.max_dns_open_queries),
        max_kept_bytes: share(l.max_kept_bytes),
        tls: TlsLimits {
            max_pending_handshake_bytes: share(l.tls.max_pending_handshake_bytes),
            ..l.tls
        },
        ..l.clone()
    }
}

fn run_shard(mut engine: Engine, rx: Receiver<ToShard>, tx: SyncSender<FromShard>) {
    for msg in rx {
        match msg {
            ToShard::Round(mut batch) => {
                batch.garbage.clear();
                let mut events = std::mem::take(&mut batch.events);
                for item in &batch.items {
                    match *item {
                        Item::Packet {
                            index,
                            ts,
                            frame,
                            orig_len,
                            linktype,
                            now,
                            copy,
                            start,
                            len,
                        } => {
                            let data = batch.data.get(start..start + len).unwrap_or_default();
                            let pkt = Packet {
                                ts,
                                frame,
                                orig_len,
                                linktype,
                                data,
                            };
                            engine.set_position(index, frame, now);
                            let mut out = Collect {
                                index,
                                events: &mut events,
                            };
                            engine.push_tagged(&pkt, copy, &mut out);
                        }
                        Item::Tick { index, frame, now } => {
                            let mut out = Collect {
                                index,
                                events: &mut events,
                            };
                            engine.tick(index, frame, now, &mut out);
                        }
                    }
                }
                batch.items.clear();
                batch.data.clear();
                batch.events = events;
                if tx.send(round_done(&mut engine, batch)).is_err() {
                    return;
                }
            }
            ToShard::Finish { frame, now } => {
                let _ = tx.send(shard_end(&mut engine, frame, now));
                return;
            }
        }
    }
}

/// A shard's answer to a round whose packets it has pushed (the events are in `batch`).
fn round_done(engine: &mut Engine, mut batch: Batch) -> FromShard {
    std::mem::swap(&mut batch.created, &mut engine.table.created);
    std::mem::swap(&mut batch.pinned, &mut engine.pinned);
    std::mem::swap(&mut batch.tomb_pushes, &mut engine.table.tomb_pushes);
    std::mem::swap(&mut batch.tomb_lookups, &mut engine.table.tomb_lookups);
    engine.table.created.clear();
    engine.pinned.clear();
    engine.table.tomb_pushes.clear();
    engine.table.tomb_lookups.clear();
    FromShard {
        batch,
        bound: engine.bound_reached(),
        stats: None,
    }
}

/// A shard's answer to the end of input: its open flows and unanswered queries, its counters.
fn shard_end(engine: &mut Engine, frame: u64, now: Timestamp) -> FromShard {
    engine.set_position(u64::MAX, frame, now);
    let mut events = Vec::new();
    let mut out = Collect {
        index: u64::MAX,
        events: &mut events,
    };
    let stats = engine.finish_tagged(&mut out);
    FromShard {
        bound: engine.bound_reached(),
        batch: Batch {
            events,
            ..Batch::default()
        },
        stats: Some(stats),
    }
}

/// `count` engines, each on a thread of its own and owning the flows whose key hashes to it,
/// behind the interface of one: packets in, the events one [`Engine`] with the same
/// [`Config`] would emit out, in the same order (see the module's notes for what differs once
/// a bound is reached).
///
/// Packets are handed to the shards in rounds: `push` gives the sink the events of earlier
/// rounds, [`ShardedEngine::finish`] the rest.
///
/// ```
/// use modsniff_core::{Config, Event, ShardedEngine};
///
/// let mut engine = ShardedEngine::new(Config::default(), 2);
/// let mut events: Vec<Event> = Vec::new();
/// // engine.push(&packet, &mut events) for each packet, then:
/// let stats = engine.finish(&mut events).expect("no bound reached");
/// assert_eq!(stats.packets, 0);
/// ```
pub struct ShardedEngine {
    count: usize,
    /// The index of the first packet whose events were not given, once a shard's share of
    /// a bound acted (or the bounds cannot be divided): see [`ShardedEngine::fallen_back`].
    fallen: Option<u64>,
    /// The index of the first packet of each round in flight, oldest first.
    round_starts: std::collections::VecDeque<u64>,
    /// One engine's memory of closed connections (`max_flows` of them): the packet indexes
    /// of the last `max_flows + 1` connections the shards remembered, in order.
    tombs: std::collections::VecDeque<u64>,
    max_flows: usize,
    /// The kinds of event the caller asked for (the shards always send DNS, for names).
    events: EventMask,
    max_dns_names: usize,
    /// Packets pushed so far.
    index: u64,
    /// The capture's clock, kept as one engine keeps it (the shards are given it).
    clock: Clock,
    max_clock_jump: crate::time::Duration,
    frame: u64,
    last_sweep: u64,
    /// The round being filled, one batch per shard.
    filling: Vec<Batch>,
    in_round: usize,
    /// Rounds handed to the shards and not merged yet.
    in_flight: usize,
    spare: Vec<Batch>,
    to: Vec<SyncSender<ToShard>>,
    from: Vec<Receiver<FromShard>>,
    workers: Vec<JoinHandle<()>>,
    /// Shard 0's engine when it runs on the caller's thread, inside `push`
    /// ([`ShardedEngine::new_local`]); the threads then run shards 1 and up.
    local: Option<Box<Engine>>,
    /// Shard 0's answers to the rounds in flight, when it runs here.
    local_done: std::collections::VecDeque<FromShard>,
    /// Names from DNS answers, by address (one engine's `names`).
    names: FxHashMap<IpAddr, String>,
    /// The dense id of each flow whose records may still come, by its id in its shard (the
    /// index of the packet that created it).
    ids: FxHashMap<u64, DenseId>,
    next_id: u64,
    /// The end of input is being merged: every id is kept to the end.
    merging_end: bool,
    /// With `recycling`: the shard of each event given to the sink and not handed back yet.
    recycling: bool,
    origins: std::collections::VecDeque<u32>,
    /// The merge's own counters.
    stats: Stats,
    connections: u64,
}

impl ShardedEngine {
    /// `count` shards (at least one), each with its share of `config`'s bounds.
    pub fn new(config: Config, count: usize) -> Self {
        Self::build(config, count, false)
    }

    /// As [`ShardedEngine::new`], but shard 0 runs on the caller's thread: `push` pushes
    /// its packets into its engine at once, from the caller's buffer (no copy, no hand-over),
    /// and `count - 1` threads run the others.
    pub fn new_local(config: Config, count: usize) -> Self {
        Self::build(config, count, true)
    }

    fn build(config: Config, count: usize, local: bool) -> Self {
        let count = count.max(1);
        let mut shard_config = config.clone();
        shard_config.limits = shard_limits(&config.limits, count);
        // DNS answers name connections; connection records end their flows' dense ids.
        shard_config.events = config.events | EventMask::DNS | EventMask::CONNECTION;
        // The trust store (parsed roots, caches of described certificates and validated
        // chains, the run's chain-building budget) is made before the shards copy the
        // configuration, so that they share it: the caches only hold what a pure function
        // gave, so sharing them changes no record.
        let _ = shard_config.tls.trust();
        let mut to = Vec::with_capacity(count);
        let mut from = Vec::with_capacity(count);
        let mut workers = Vec::with_capacity(count);
        // Bounds too small to divide: no shard runs, one engine is to read from the start.
        let fallen = (!divisible(&config.limits, count)).then_some(0);
        let threads = if fallen.is_some() { 0 } else { count };
        let mut local_engine = None;
        for index in 0..threads {
            let (in_tx, in_rx) = sync_channel(LAG + 1);
            let (out_tx, out_rx) = sync_channel(LAG + 1);
            let mut own = shard_config.clone();
            // The pools of partial handshakes and of kept bytes are each shard's own (its
            // share of the bound): shared, what a full pool refuses would depend on the
            // threads' timing.
            own.tls = own.tls.with_own_pools();
            let mut engine = Engine::new_shard(own, ShardRole { index, count });
            engine.table.closed_cap = Some(config.limits.max_flows);
            if local && index == 0 {
                local_engine = Some(Box::new(engine));
                continue;
            }
            let worker = std::thread::Builder::new()
                .name(format!("modsniff-shard{index}"))
                .spawn(move || run_shard(engine, in_rx, out_tx));
            match worker {
                Ok(w) => workers.push(w),
                // Without a thread of its own the shard cannot run: what it would have
                // answered never comes, which `receive` reports.
                Err(_) => continue,
            }
            to.push(in_tx);
            from.push(out_rx);
        }
        ShardedEngine {
            count,
            fallen,
            round_starts: std::collections::VecDeque::new(),
            tombs: std::collections::VecDeque::new(),
            max_flows: config.limits.max_flows,
            events: config.events,
            max_dns_names: config.limits.max_dns_names,
            index: 0,
            clock: Clock::default(),
            max_clock_jump: config.limits.max_clock_jump,
            frame: 0,
            last_sweep: 0,
            filling: (0..count).map(|_| Batch::default()).collect(),
            in_round: 0,
            in_flight: 0,
            spare: Vec::new(),
            to,
            from,
            workers,
            local: local_engine,
            local_done: std::collections::VecDeque::new(),
            names: FxHashMap::default(),
            ids: FxHashMap::default(),
            next_id: 0,
            merging_end: false,
            recycling: false,
            origins: std::collections::VecDeque::new(),
            stats: Stats::default(),
            connections: 0,
        }
    }

    /// How many shards (threads) run.
    pub fn shards(&self) -> usize {
        self.count
    }

    /// The capture's clock: the latest packet timestamp pushed (one far ahead of the others
    /// is not taken alone, as in [`Engine`]).
    pub fn now(&self) -> Timestamp {
        self.clock.now
    }

    /// Connection records given to the sink so far.
    pub fn connections(&self) -> u64 {
        self.connections
    }

    /// Hands one packet to its shard; gives `sink` the events of earlier rounds that are
    /// complete.
    pub fn push(&mut self, pkt: &Packet<'_>, sink: &mut impl Sink) {
        let index = self.index;
        self.index += 1;
        if self.fallen.is_some() {
            return;
        }
        self.stats.clock_jumps += self.clock.take(pkt.ts, self.max_clock_jump);
        let now = self.clock.now;
        self.frame = pkt.frame;
        let sec = now.as_nanos() / 1_000_000_000;
        let sweeps = sec > self.last_sweep;
        if sweeps {
            self.last_sweep = sec;
        }
        let (owner, all) = match route(pkt, self.count) {
            Route::One(s) => (s, false),
            Route::All => (0, true),
        };
        for (s, batch) in self.filling.iter_mut().enumerate() {
            if s == 0
                && let Some(engine) = self.local.as_deref_mut()
            {
                // Shard 0 is here: its events wait in its part of the round.
                let mut out = Collect {
                    index,
                    events: &mut batch.events,
                };
                if s == owner || all {
                    engine.set_position(index, pkt.frame, now);
                    engine.push_tagged(pkt, s != owner, &mut out);
                } else if sweeps {
                    engine.tick(index, pkt.frame, now, &mut out);
                }
                continue;
            }
            if s == owner || all {
                let start = batch.data.len();
                batch.data.extend_from_slice(pkt.data);
                batch.items.push(Item::Packet {
                    index,
                    ts: pkt.ts,
                    frame: pkt.frame,
                    orig_len: pkt.orig_len,
                    linktype: pkt.linktype,
                    now,
                    copy: s != owner,
                    start,
                    len: pkt.data.len(),
                });
            } else if sweeps {
                batch.items.push(Item::Tick {
                    index,
                    frame: pkt.frame,
                    now,
                });
            }
        }
        self.in_round += 1;
        if self.in_round >= ROUND {
            self.send_round(sink);
        }
    }

    /// Hands the round being filled to the shards (merging the oldest round in flight first
    /// when `LAG` are).
    fn send_round(&mut self, sink: &mut impl Sink) {
        if self.in_flight >= LAG {
            self.merge_round(sink);
        }
        for s in 0..self.count {
            let next = self.spare.pop().unwrap_or_default();
            let Some(slot) = self.filling.get_mut(s) else {
                continue;
            };
            let mut batch = std::mem::replace(slot, next);
            if s == 0
                && let Some(engine) = self.local.as_deref_mut()
            {
                // Its events made and used here are freed here.
                batch.garbage.clear();
                self.local_done.push_back(round_done(engine, batch));
                continue;
            }
            if let Some(tx) = self.to.get(s - usize::from(self.local.is_some())) {
                // A shard that is gone panicked: `receive` says so.
                let _ = tx.send(ToShard::Round(batch));
            }
        }
        self.round_starts
            .push_back(self.index - self.in_round as u64);
        self.in_round = 0;
        self.in_flight += 1;
    }

    /// Every shard's answer to the oldest message in flight.
    fn receive(&mut self) -> Vec<FromShard> {
        let mut answers: Vec<Option<FromShard>> = Vec::with_capacity(self.count);
        if self.local.is_some() {
            answers.push(self.local_done.pop_front());
        }
        answers.extend(self.from.iter().map(|rx| rx.recv().ok()));
        if answers.len() < self.count || answers.iter().any(Option::is_none) {
            self.shard_failed();
        }
        answers.into_iter().flatten().collect()
    }

    /// A shard thread died (it panicked, or could not be started): its flows are lost, and
    /// the merged stream would be wrong without saying so.
    fn shard_failed(&mut self) -> ! {
        // The others end when their input closes.
        self.to.clear();
        for w in self.workers.drain(..) {
            if let Err(p) = w.join() {
                std::panic::resume_unwind(p);
            }
        }
        panic!("a shard thread of the sharded engine is gone");
    }

    /// Merges the oldest round in flight into `sink`.
    fn merge_round(&mut self, sink: &mut impl Sink) {
        let answers = self.receive();
        self.in_flight -= 1;
        let start = self.round_starts.pop_front().unwrap_or(0);
        if self.fallen.is_some() {
            return;
        }
        let bound = answers.iter().any(|a| a.bound);
        let mut batches: Vec<Batch> = answers.into_iter().map(|a| a.batch).collect();
        if bound || self.forgotten_found(&mut batches) {
            // This round's events may differ from one engine's: none of it goes out.
            self.fallen = Some(start);
            return;
        }
        self.number(&mut batches);
        self.merge(&mut batches, sink);
        self.spare.extend(batches);
    }

    /// Whether a shard found a packet late by the memory of a closed connection that one
    /// engine had forgotten: one engine remembers the last `max_flows` (a shard remembers
    /// as many of its own, a superset of what one engine keeps of them), so it had forgotten
    /// the connection if `max_flows` others closed after it, in any shard. Connections that
    /// closed after the late packet in the same round are counted too: at worst a fall-back
    /// that was not needed.
    fn forgotten_found(&mut self, batches: &mut [Batch]) -> bool {
        let mut pushes: Vec<u64> = Vec::new();
        for b in batches.iter_mut() {
            pushes.append(&mut b.tomb_pushes);
        }
        pushes.sort_unstable();
        self.tombs.extend(pushes);
        let mut forgotten = false;
        for b in batches.iter_mut() {
            for (closed_at, _) in b.tomb_lookups.drain(..) {
                // Remembered from `closed_at` on, the one found included.
                let since = self.tombs.len() - self.tombs.partition_point(|p| *p < closed_at);
                forgotten |= since > self.max_flows;
            }
        }
        while self.tombs.len() > self.max_flows.saturating_add(1) {
            self.tombs.pop_front();
        }
        forgotten
    }

    /// Gives the flows the shards created in a round their dense ids, in the order one engine
    /// created them (by packet: each packet creates at most one flow), and notes the DNS
    /// queries that will name a flow after it may have ended.
    fn number(&mut self, batches: &mut [Batch]) {
        let mut created: Vec<u64> = Vec::new();
        for b in batches.iter_mut() {
            created.append(&mut b.created);
        }
        created.sort_unstable();
        for p in created {
            self.ids.insert(
                p,
                DenseId {
                    id: self.next_id,
                    queries: 0,
                    ended: false,
                },
            );
            self.next_id += 1;
        }
        for b in batches.iter_mut() {
            for p in b.pinned.drain(..) {
                if let Some(d) = self.ids.get_mut(&p) {
                    d.queries += 1;
                }
            }
        }
    }

    /// A shard's flow id in `ev` made the dense id one engine gives it. A flow's entry goes
    /// when its record has passed and every DNS query it carried was reported.
    fn dense_ids(&mut self, ev: &mut Event) {
        let keep = self.merging_end;
        match ev {
            Event::Connection(c) => {
                let p = c.id;
                if let Some(d) = self.ids.get_mut(&p) {
                    c.id = d.id;
                    d.ended = true;
                    if d.queries == 0 && !keep {
                        self.ids.remove(&p);
                    }
                } else {
                    self.stats.anomaly("shard_id_unmapped");
                }
            }
            Event::Dns(r) => {
                let p = r.conn_id;
                if let Some(d) = self.ids.get_mut(&p) {
                    r.conn_id = d.id;
                    if r.query_frame.is_some() {
                        d.queries = d.queries.saturating_sub(1);
                    }
                    if d.ended && d.queries == 0 && !keep {
                        self.ids.remove(&p);
                    }
                } else {
                    self.stats.anomaly("shard_id_unmapped");
                }
            }
            Event::Stall(s) => self.live_id(&mut s.conn_id),
            Event::ClientHello(e) => self.live_id(&mut e.conn_id),
            Event::ServerHello(e) => self.live_id(&mut e.conn_id),
            Event::Certificates(e) => self.live_id(&mut e.conn_id),
            Event::Alert(e) => self.live_id(&mut e.conn_id),
            Event::HttpRequest(e) => self.live_id(&mut e.conn_id),
            Event::HttpResponse(e) => self.live_id(&mut e.conn_id),
            Event::Reset(e) => self.live_id(&mut e.conn_id),
        }
    }

    /// The dense id of a flow still open.
    fn live_id(&mut self, p: &mut u64) {
        match self.ids.get(p) {
            Some(d) => *p = d.id,
            None => self.stats.anomaly("shard_id_unmapped"),
        }
    }

    /// Merges streams each sorted by key into one, in key order (no two shards emit with the
    /// same key: the packet's own events come from its owner, the others name a flow).
    fn merge(&mut self, batches: &mut [Batch], sink: &mut impl Sink) {
        let mut heads: Vec<_> = batches
            .iter_mut()
            .map(|b| b.events.drain(..).peekable())
            .collect();
        loop {
            let mut best: Option<(usize, Key)> = None;
            for (i, h) in heads.iter_mut().enumerate() {
                if let Some((k, _)) = h.peek()
                    && best.is_none_or(|(_, b)| *k < b)
                {
                    best = Some((i, *k));
                }
            }
            let Some((i, _)) = best else {
                break;
            };
            if let Some((_, ev)) = heads.get_mut(i).and_then(Iterator::next) {
                self.deliver(ev, i, sink);
            }
        }
    }

    /// One event of the merged stream: DNS answers teach names, connections without one
    /// take it (as one engine names them when they end).
    fn deliver(&mut self, mut ev: Event, origin: usize, sink: &mut impl Sink) {
        self.dense_ids(&mut ev);
        let wanted = match &ev {
            Event::Dns(r) => {
                remember_names(&mut self.names, r, self.max_dns_names, &mut self.stats);
                self.events.contains(EventMask::DNS)
            }
            Event::Connection(_) => self.events.contains(EventMask::CONNECTION),
            _ => true,
        };
        if !wanted {
            if let Some(b) = self.filling.get_mut(origin) {
                b.garbage.push(ev);
            }
            return;
        }
        if self.recycling {
            self.origins.push_back(u32::try_from(origin).unwrap_or(0));
        }
        match ev {
            Event::Connection(c) => {
                self.connections += 1;
                sink.event(Event::Connection(named(c, &self.names)));
            }
            ev => sink.event(ev),
        }
    }

    /// Asks for the events given to the sink to be handed back once used
    /// ([`ShardedEngine::recycle`]), so that each is freed on the thread that made it.
    pub fn with_recycling(mut self) -> Self {
        self.recycling = true;
        self
    }

    /// Events given to the sink (with [`ShardedEngine::with_recycling`]), handed back in the
    /// order they were given once used: each goes back to the shard that made it, to be
    /// freed there. `events` is left empty.
    pub fn recycle(&mut self, events: &mut Vec<Event>) {
        for ev in events.drain(..) {
            let origin = self.origins.pop_front().map_or(0, |o| o as usize);
            if let Some(b) = self.filling.get_mut(origin) {
                b.garbage.push(ev);
            }
        }
    }

    /// Waits for the shards: gives `sink` every event of the packets pushed so far (what one
    /// engine would have emitted by now).
    pub fn drain(&mut self, sink: &mut impl Sink) {
        if self.fallen.is_some() {
            return;
        }
        if self.in_round > 0 {
            self.send_round(sink);
        }
        while self.in_flight > 0 {
            self.merge_round(sink);
        }
    }

    /// End of input: every shard's open flows and unanswered queries, merged. Returns the
    /// run's counters (the shards' added up).
    pub fn finish(mut self, sink: &mut impl Sink) -> Result<Stats, FellBack> {
        self.drain(sink);
        if let Some(from) = self.fallen {
            return Err(FellBack { from });
        }
        for tx in &self.to {
            let _ = tx.send(ToShard::Finish {
                frame: self.frame,
                now: self.clock.now,
            });
        }
        if let Some(engine) = self.local.as_deref_mut() {
            let end = shard_end(engine, self.frame, self.clock.now);
            self.local_done.push_back(end);
        }
        let answers = self.receive();
        if answers.iter().any(|a| a.bound) {
            // The end's events may differ from one engine's; every packet's went out.
            return Err(FellBack { from: self.index });
        }
        // A timestamp far ahead that nothing confirmed before the end.
        if self.clock.candidate.take().is_some() {
            self.stats.clock_jumps += 1;
        }
        let mut total = std::mem::take(&mut self.stats);
        let mut batches = Vec::with_capacity(answers.len());
        for a in answers {
            if let Some(s) = a.stats {
                add_stats(&mut total, s);
            }
            batches.push(a.batch);
        }
        self.number(&mut batches);
        self.merging_end = true;
        self.merge(&mut batches, sink);
        Ok(total)
    }

    /// `Some(index)` once a shard's share of a bound on what the flows hold together
    /// (`max_flows`, `memcap`, `max_closed_lingering`, `max_dns_open_queries`,
    /// `tls.max_pending_handshake_bytes`, `max_kept_bytes`) acted, or from the start when a bound is smaller
    /// than the number of shards: the events of the packets from `index` on may not be one
    /// engine's, and none of them is given (nor any later). The events given so far are
    /// exactly one engine's: a caller that can read the input again runs one [`Engine`] over
    /// it from the start, giving its sink only the events of the packets from `index` on,
    /// and goes on with it (`read --threads N` does, for a capture file).
    ///
    /// Why that is enough: a shard's share of each bound is the whole divided by the number
    /// of shards, and until one acts, the shards hold between them exactly what one engine
    /// would hold (split by flow), each within its share; so one engine's bound cannot have
    /// acted either (it would need more than all the shares together).
    pub fn fallen_back(&self) -> Option<u64> {
        self.fallen
    }
}

impl Drop for ShardedEngine {
    fn drop(&mut self) {
        // Closing the channels ends the shards' loops; each round in flight fits in its
        // answer channel, so none is blocked sending.
        self.to.clear();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// [`ShardedEngine::finish`] after a shard's share of a bound acted (see
/// [`ShardedEngine::fallen_back`]): the events of the packets from `from` on (and the end's)
/// were not given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FellBack {
    /// The index (from 0, in the order pushed) of the first packet whose events were not
    /// given.
    pub from: u64,
}

/// Adds a shard's counters to the total. Every field is named: a counter added to `Stats`
/// must say here how shards add up.
/// A connection leaving a merge, named from the DNS answers seen so far when nothing in it
/// named its server (as one engine names it at emission).
fn named(
    mut c: Box<crate::event::Connection>,
    names: &FxHashMap<IpAddr, String>,
) -> Box<crate::event::Connection> {
    if c.server_name.is_none() {
        c.server_name = names.get(&c.server.ip()).cloned();
    }
    c
}

fn add_stats(t: &mut Stats, s: Stats) {
    let Stats {
        frames,
        packets,
        bytes,
        tcp_packets,
        udp_packets,
        decode_errors,
        truncated_packets,
        unknown_link_types,
        connections,
        tcp_connections,
        udp_flows,
        evicted_flows,
        reassembly_dropped_bytes,
        evicted_streams,
        missed_bytes,
        ooo_segment_limit_hits,
        out_of_window_segments,
        clock_jumps,
        handshake_buffer_refusals,
        san_entries_dropped,
        kept_bytes_refusals,
        ip_fragments,
        ip_reassembled,
        ip_fragments_dropped,
        icmp_errors,
        dns_messages,
        anomalies,
        http,
        x509,
        kernel: _,
    } = s;
    t.frames += frames;
    t.packets += packets;
    t.bytes += bytes;
    t.tcp_packets += tcp_packets;
    t.udp_packets += udp_packets;
    for (k, n) in decode_errors {
        *t.decode_errors.entry(k).or_insert(0) += n;
    }
    t.truncated_packets += truncated_packets;
    t.unknown_link_types += unknown_link_types;
    t.connections += connections;
    t.tcp_connections += tcp_connections;
    t.udp_flows += udp_flows;
    t.evicted_flows += evicted_flows;
    t.reassembly_dropped_bytes += reassembly_dropped_bytes;
    t.evicted_streams += evicted_streams;
    t.missed_bytes += missed_bytes;
    // Counted by the shard whose connection hit the bound.
    t.ooo_segment_limit_hits += ooo_segment_limit_hits;
    t.out_of_window_segments += out_of_window_segments;
    // Kept by the router, which sees every packet's time: the shards count none.
    t.clock_jumps += clock_jumps;
    // Each shard has its own pool of partial handshakes (its share of the bound).
    t.handshake_buffer_refusals += handshake_buffer_refusals;
    t.san_entries_dropped += san_entries_dropped;
    // Each shard has its own pool of kept bytes (its share of the bound).
    t.kept_bytes_refusals += kept_bytes_refusals;
    t.ip_fragments += ip_fragments;
    t.ip_reassembled += ip_reassembled;
    t.ip_fragments_dropped += ip_fragments_dropped;
    t.icmp_errors += icmp_errors;
    t.dns_messages += dns_messages;
    for (k, n) in anomalies {
        *t.anomalies.entry(k).or_insert(0) += n;
    }
    t.http.add(&http);
    // Summed over each shard's connections; the shards share one trust store and its
    // validation cache, so a chain is validated once whichever shard sees it first.
    t.x509.add(&x509);
}

// ---------------------------------------------------------------------------------------------
// Live: one engine per socket of a PACKET_FANOUT group.

/// Foreign ICMP errors a [`LiveShard`] takes from each other shard at a time: the capacity
/// of its inbox, and of the queue of errors waiting for its clock. An error that finds the
/// inbox full is not looked up there (counted as anomaly `icmp_handoff_full` by the shard
/// that received it).
pub const MAX_ICMP_HANDOFF: usize = 1_024;

/// An event of a live shard and its time: the shard's clock when the event was made (packet
/// time; the wall clock given to [`LiveShard::advance`] while the socket is idle).
pub type Stamped = (Timestamp, Event);

/// An ICMP error whose flow the shard that received it does not hold, handed to the others.
struct Handoff {
    ts: Timestamp,
    frame: u64,
    orig_len: u32,
    linktype: LinkType,
    data: Vec<u8>,
    /// An IPv6 datagram reassembled from fragments (its IP header, protocol and bytes), or
    /// `None` for an ICMP error (the packet itself).
    datagram: Option<(IpInfo, u8, Vec<u8>)>,
    /// Shards that have not looked for the flow yet.
    pending: AtomicUsize,
    /// A shard holding the flow took the error.
    taken: AtomicBool,
}

/// One of the engines of a live capture spread over several sockets by the kernel
/// (`PACKET_FANOUT` in hash mode: each socket gets whole flows, both directions), made by
/// [`LiveMerge::new`]. Each runs on the thread that reads its socket, owns the flows the
/// kernel hands it, with its share of the flow-table bounds (as [`ShardedEngine`]'s shards:
/// a share that acts is that shard's bound; there is no falling back on a live capture),
/// and keeps its own clock from its own packets.
///
/// What the kernel's hash cannot route: an ICMP error is hashed on its own addresses, not on
/// the flow it quotes. A shard that receives one whose flow it does not hold hands it to
/// every other shard (bounded: [`MAX_ICMP_HANDOFF`]); each looks it up once its own clock has
/// reached the error's time (or its socket is idle: nothing older is still to come), the
/// one holding the flow applies it, and the error is counted once (`icmp_errors` by the
/// receiver; `icmp_error_without_flow` by the last to look, when none held it).
///
/// Fragments: with `PACKET_FANOUT_FLAG_DEFRAG` the kernel reassembles IPv4 datagrams before
/// hashing and hands the socket the whole datagram (counted as one packet, no fragment). It
/// does not reassemble IPv6 ones, and hashes their fragments on the addresses alone: every
/// fragment of a datagram reaches one shard, which reassembles it, but that need not be the
/// shard holding the flow. So a shard that completes an IPv6 datagram whose flow it does not
/// hold hands it over like an ICMP error; the shard holding the flow takes it, and when none
/// does, the last to look makes the flow (a datagram that starts a flow).
///
/// Connection names from DNS answers are left to the merge, which sees every shard's answers.
pub struct LiveShard {
    engine: Engine,
    index: usize,
    count: usize,
    clock: Clock,
    max_clock_jump: crate::time::Duration,
    /// The count of `icmp_error_without_flow` after the last packet.
    unowned: u64,
    /// Packets this shard handed to the others (ICMP errors, IPv6 datagrams).
    handed: u64,
    others: Vec<SyncSender<Arc<Handoff>>>,
    inbox: Receiver<Arc<Handoff>>,
    waiting: std::collections::VecDeque<Arc<Handoff>>,
}

/// The events of `count` [`LiveShard`]s merged into one stream by time.
///
/// Each shard's events come in its clock's order; the merge holds them until every shard's
/// clock (its watermark, given with its events) has passed them, then gives them out in
/// time order (equal times: by shard). A shard whose socket is idle moves its clock by the
/// wall clock ([`LiveShard::advance`]), so one quiet socket holds the others back by at
/// most the caller's tick. The caller bounds what is held: it stops taking a shard's events
/// while [`LiveMerge::held`] is high (the shard then waits, its socket's ring fills, and the
/// kernel counts the drops).
///
/// What one engine does across flows, the merge does: connections without SNI or Host are
/// named from the DNS answers given out before them (`limits.max_dns_names`); flow ids are
/// made unique (`id * count + shard`). [`Stats`] are the shards' added up.
pub struct LiveMerge {
    count: usize,
    queues: Vec<std::collections::VecDeque<Stamped>>,
    marks: Vec<Timestamp>,
    ended: Vec<bool>,
    events: EventMask,
    max_dns_names: usize,
    names: FxHashMap<IpAddr, String>,
    stats: Stats,
    connections: u64,
}

/// Collects a live shard's events, stamped with its clock.
struct Stamp<'v> {
    at: Timestamp,
    out: &'v mut Vec<Stamped>,
}

impl Out for Stamp<'_> {
    fn put(&mut self, _: Tag, ev: Event) {
        self.out.push((self.at, ev));
    }
}

/// The flow an ICMP error quotes (as `Engine::on_icmp` looks it up).
fn quoted_key(pkt: &Packet<'_>) -> Option<FlowKey> {
    let d = wire::decode(pkt.linktype, pkt.data);
    let L4::IcmpError(e) = &d.l4 else {
        return None;
    };
    let t = match e.quoted_proto {
        6 => Transport::Tcp,
        17 => Transport::Udp,
        _ => return None,
    };
    let src = SocketAddr::new(e.quoted_src, e.quoted_src_port);
    let dst = SocketAddr::new(e.quoted_dst, e.quoted_dst_port);
    Some(FlowKey::new(t, src, dst).0)
}

const UNOWNED_ICMP: &str = "icmp_error_without_flow";

/// The flow of a reassembled datagram (as `Engine::on_reassembled` reads it).
fn datagram_key(ip: &IpInfo, proto: u8, bytes: &[u8]) -> Option<FlowKey> {
    let (t, sp, dp) = match proto {
        6 => {
            let seg = wire::decode::tcp_from_bytes(bytes)?;
            (Transport::Tcp, seg.src_port, seg.dst_port)
        }
        17 => {
            let (sp, dp, _) = wire::decode::udp_from_bytes(bytes)?;
            (Transport::Udp, sp, dp)
        }
        _ => return None,
    };
    let src = SocketAddr::new(ip.src, sp);
    let dst = SocketAddr::new(ip.dst, dp);
    Some(FlowKey::new(t, src, dst).0)
}

/// Whether the packet looks like an IPv6 fragment (Ethernet with up to two VLAN tags, Linux
/// cooked v1/v2, raw IP; hop-by-hop, routing and destination options headers before the
/// fragment header), read from a few bytes before any decoding. Other encapsulations are
/// not looked into (their fragments go the ordinary way).
fn ipv6_fragment_hint(pkt: &Packet<'_>) -> bool {
    let d = pkt.data;
    let u16_at = |o: usize| {
        d.get(o..o + 2).map(|b| {
            u16::from_be_bytes([
                b.first().copied().unwrap_or(0),
                b.get(1).copied().unwrap_or(0),
            ])
        })
    };
    let ip6 = match pkt.linktype.0 {
        1 => {
            let mut o = 12;
            let mut et = u16_at(o);
            for _ in 0..2 {
                if matches!(et, Some(0x8100 | 0x88a8)) {
                    o += 4;
                    et = u16_at(o);
                }
            }
            if et != Some(0x86dd) {
                return false;
            }
            o + 2
        }
        113 if u16_at(14) == Some(0x86dd) => 16,
        276 if u16_at(0) == Some(0x86dd) => 20,
        12 | 14 | 101 | 229 => 0,
        _ => return false,
    };
    if d.get(ip6).map(|b| b >> 4) != Some(6) {
        return false;
    }
    let mut next = d.get(ip6 + 6).copied();
    let mut at = ip6 + 40;
    for _ in 0..8 {
        match next {
            Some(44) => return true,
            Some(0 | 43 | 60) => {
                let Some(len) = d.get(at + 1) else {
                    return false;
                };
                next = d.get(at).copied();
                at += (usize::from(*len) + 1) * 8;
            }
            _ => return false,
        }
    }
    false
}

impl LiveShard {
    /// Which shard this is (from 0).
    pub fn index(&self) -> usize {
        self.index
    }

    /// This shard's clock: the latest packet time it took, or the time given to `advance`.
    pub fn now(&self) -> Timestamp {
        self.clock.now
    }

    /// Packets this shard handed to the others: ICMP errors quoting a flow it does not hold,
    /// IPv6 datagrams it reassembled for a flow it does not hold.
    pub fn handed_off(&self) -> u64 {
        self.handed
    }

    /// Flows this shard tracks.
    pub fn live_flows(&self) -> usize {
        self.engine.live_flows()
    }

    /// One packet of this shard's socket; its events (and those of foreign ICMP errors now
    /// due) are appended to `out`.
    pub fn push(&mut self, pkt: &Packet<'_>, out: &mut Vec<Stamped>) {
        self.engine.stats.clock_jumps += self.clock.take(pkt.ts, self.max_clock_jump);
        let now = self.clock.now;
        self.apply_waiting(Some(now), out);
        if now > self.engine.now {
            self.engine.now = now;
        }
        if self.count > 1 && ipv6_fragment_hint(pkt) && self.push_v6_fragment(pkt, now, out) {
            self.engine.pinned.clear();
            return;
        }
        let icmp = self.engine.stats.icmp_errors;
        self.engine
            .push_tagged(pkt, false, &mut Stamp { at: now, out });
        // The merge does not number flows by query (ids are made unique by shard).
        self.engine.pinned.clear();
        if self.engine.stats.icmp_errors != icmp {
            self.after_icmp(pkt);
        }
    }

    fn unowned_count(&self) -> u64 {
        self.engine
            .stats
            .anomalies
            .get(UNOWNED_ICMP)
            .copied()
            .unwrap_or(0)
    }

    /// The packet was an ICMP error: when its flow is not here, the others look for it.
    fn after_icmp(&mut self, pkt: &Packet<'_>) {
        let count = self.unowned_count();
        if count <= self.unowned || self.count < 2 {
            self.unowned = count;
            return;
        }
        // Not counted yet: another shard may hold the flow.
        match self.engine.stats.anomalies.get_mut(UNOWNED_ICMP) {
            Some(n) if *n > 1 => *n -= 1,
            _ => {
                self.engine.stats.anomalies.remove(UNOWNED_ICMP);
            }
        }
        self.unowned = count - 1;
        self.handed += 1;
        let mut none = Vec::new();
        self.hand_off(pkt, None, &mut none);
    }

    /// Hands a packet (an ICMP error, or the datagram its fragment completed) to every
    /// other shard.
    fn hand_off(
        &mut self,
        pkt: &Packet<'_>,
        datagram: Option<(IpInfo, u8, Vec<u8>)>,
        out: &mut Vec<Stamped>,
    ) {
        let h = Arc::new(Handoff {
            ts: pkt.ts,
            frame: pkt.frame,
            orig_len: pkt.orig_len,
            linktype: pkt.linktype,
            data: if datagram.is_some() {
                Vec::new()
            } else {
                pkt.data.to_vec()
            },
            datagram,
            pending: AtomicUsize::new(self.count - 1),
            taken: AtomicBool::new(false),
        });
        for i in 0..self.others.len() {
            let sent = self
                .others
                .get(i)
                .is_some_and(|tx| tx.try_send(h.clone()).is_ok());
            if !sent {
                // That shard's inbox is full (or it has ended): it will not look.
                self.engine.stats.anomaly("icmp_handoff_full");
                self.looked(&h, pkt, out);
            }
        }
    }

    /// One shard has looked for a handed-over packet's flow; when it was the last and none
    /// took it, an ICMP error is counted as without flow, a datagram makes its flow here.
    fn looked(&mut self, h: &Handoff, pkt: &Packet<'_>, out: &mut Vec<Stamped>) {
        if h.pending.fetch_sub(1, Ordering::AcqRel) != 1 || h.taken.swap(true, Ordering::AcqRel) {
            return;
        }
        match &h.datagram {
            None => {
                self.engine.stats.anomaly(UNOWNED_ICMP);
                self.unowned += 1;
            }
            Some((ip, proto, bytes)) => self.take_datagram(ip, *proto, bytes, pkt, out),
        }
    }

    /// A reassembled IPv6 datagram, handed to this shard's engine.
    fn take_datagram(
        &mut self,
        ip: &IpInfo,
        proto: u8,
        bytes: &[u8],
        pkt: &Packet<'_>,
        out: &mut Vec<Stamped>,
    ) {
        let frame = self.engine.frame;
        self.engine.frame = pkt.frame;
        let at = self.clock.now;
        self.engine
            .on_reassembled(ip, proto, bytes, pkt, &mut Stamp { at, out });
        self.engine.frame = frame;
    }

    /// An IPv6 fragment (the kernel does not reassemble those before hashing): reassembled
    /// here; a datagram whose flow this shard does not hold is handed over. `false` when
    /// the packet was not one after all (it is then pushed as usual).
    fn push_v6_fragment(
        &mut self,
        pkt: &Packet<'_>,
        at: Timestamp,
        out: &mut Vec<Stamped>,
    ) -> bool {
        let d = wire::decode(pkt.linktype, pkt.data);
        let (Some(ip), L4::Fragment(f)) = (d.ip, &d.l4) else {
            return false;
        };
        if !f.v6 || d.stop.is_some() {
            return false;
        }
        // As `Engine::push_tagged` counts a packet.
        let e = &mut self.engine;
        e.stats.packets += 1;
        e.stats.bytes += pkt.data.len() as u64;
        if pkt.is_truncated() {
            e.stats.truncated_packets += 1;
        }
        e.frame = pkt.frame;
        let whole = e
            .defrag
            .push(ip.src, ip.dst, f, pkt.ts, &e.config.limits, &mut e.stats);
        if let Some(bytes) = whole {
            match datagram_key(&ip, f.proto, &bytes) {
                Some(key) if !self.engine.table.flows.contains_key(&key) => {
                    self.handed += 1;
                    self.hand_off(pkt, Some((ip, f.proto, bytes)), out);
                }
                _ => self.take_datagram(&ip, f.proto, &bytes, pkt, out),
            }
        }
        self.engine.time_passes(&mut Stamp { at, out });
        true
    }

    /// Applies the foreign ICMP errors whose time has come (all of them with `None`).
    fn apply_waiting(&mut self, upto: Option<Timestamp>, out: &mut Vec<Stamped>) {
        while self.waiting.len() < MAX_ICMP_HANDOFF {
            match self.inbox.try_recv() {
                Ok(h) => self.waiting.push_back(h),
                Err(_) => break,
            }
        }
        let mut i = 0;
        while i < self.waiting.len() {
            let due = upto.is_none_or(|t| self.waiting.get(i).is_some_and(|h| h.ts <= t));
            if !due {
                i += 1;
                continue;
            }
            if let Some(h) = self.waiting.remove(i) {
                self.apply(&h, out);
            }
        }
    }

    /// Another shard's ICMP error or IPv6 datagram: taken if this shard holds the flow.
    fn apply(&mut self, h: &Handoff, out: &mut Vec<Stamped>) {
        let pkt = Packet {
            ts: h.ts,
            frame: h.frame,
            orig_len: h.orig_len,
            linktype: h.linktype,
            data: &h.data,
        };
        if let Some((ip, proto, bytes)) = &h.datagram {
            let holds = datagram_key(ip, *proto, bytes)
                .is_some_and(|k| self.engine.table.flows.contains_key(&k));
            if holds && !h.taken.swap(true, Ordering::AcqRel) {
                self.take_datagram(ip, *proto, bytes, &pkt, out);
            }
            self.looked(h, &pkt, out);
            return;
        }
        let holds = quoted_key(&pkt).is_some_and(|k| self.engine.table.flows.contains_key(&k));
        if holds && !h.taken.swap(true, Ordering::AcqRel) {
            let (icmp, frame) = (self.engine.stats.icmp_errors, self.engine.frame);
            let at = self.clock.now;
            self.engine.push_tagged(&pkt, true, &mut Stamp { at, out });
            // Counted by the shard that received it.
            self.engine.stats.icmp_errors = icmp;
            self.engine.frame = frame;
        }
        self.looked(h, &pkt, out);
    }

    /// The socket had nothing to read: every foreign ICMP error waiting is due (no packet of
    /// this shard older than it can still come).
    pub fn idle(&mut self, out: &mut Vec<Stamped>) {
        self.apply_waiting(None, out);
    }

    /// Packet time has reached `now` (the wall clock) without packets: as
    /// [`Engine::advance`] (idle flows end, DNS queries time out, stalls are reported).
    pub fn advance(&mut self, now: Timestamp, out: &mut Vec<Stamped>) {
        if now > self.clock.now {
            self.clock.now = now;
        }
        let at = self.clock.now;
        self.apply_waiting(Some(at), out);
        self.engine.advance(at, &mut |ev: Event| out.push((at, ev)));
    }

    /// End of capture: the foreign ICMP errors still waiting, then every open flow and
    /// unanswered query. Call it once no shard reads its socket any more (errors handed over
    /// after it are not looked up here). Returns the shard's counters.
    pub fn finish(mut self, out: &mut Vec<Stamped>) -> Stats {
        self.idle(out);
        let at = self.clock.now;
        let mut stats = self.engine.finish_tagged(&mut Stamp { at, out });
        // The merge's clock is the shards' together: a jump candidate is this shard's own.
        if self.clock.candidate.take().is_some() {
            stats.clock_jumps += 1;
        }
        stats
    }
}

impl LiveMerge {
    /// The merge and its `count` shards (at least one), each with its share of `config`'s
    /// bounds on what the flows hold (as [`ShardedEngine`]).
    pub fn new(config: Config, count: usize) -> (LiveMerge, Vec<LiveShard>) {
        let count = count.max(1);
        let mut shard_config = config.clone();
        shard_config.limits = shard_limits(&config.limits, count);
        shard_config.events = config.events | EventMask::DNS;
        // One trust store for all (see ShardedEngine::new).
        let _ = shard_config.tls.trust();
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..count)
            .map(|_| sync_channel::<Arc<Handoff>>(MAX_ICMP_HANDOFF))
            .unzip();
        let mut shards = Vec::with_capacity(count);
        for (index, inbox) in rxs.into_iter().enumerate() {
            let mut own = shard_config.clone();
            own.tls = own.tls.with_own_pools();
            // A role of one among one: it owns every flow its socket brings (the kernel
            // chose), reassembles and counts its own fragments, and leaves naming to the
            // merge; its clock is kept here (`push`).
            let engine = Engine::new_shard(own, ShardRole { index: 0, count: 1 });
            let others = txs
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != index)
                .map(|(_, tx)| tx.clone())
                .collect();
            shards.push(LiveShard {
                engine,
                index,
                count,
                clock: Clock::default(),
                max_clock_jump: config.limits.max_clock_jump,
                unowned: 0,
                handed: 0,
                others,
                inbox,
                waiting: std::collections::VecDeque::new(),
            });
        }
        let merge = LiveMerge {
            count,
            queues: (0..count)
                .map(|_| std::collections::VecDeque::new())
                .collect(),
            marks: vec![Timestamp::ZERO; count],
            ended: vec![false; count],
            events: config.events,
            max_dns_names: config.limits.max_dns_names,
            names: FxHashMap::default(),
            stats: Stats::default(),
            connections: 0,
        };
        (merge, shards)
    }

    /// A shard's events (in its clock's order; `events` is left empty) and its clock now:
    /// none of its later events will be older.
    pub fn add(&mut self, shard: usize, events: &mut Vec<Stamped>, mark: Timestamp) {
        if let Some(q) = self.queues.get_mut(shard) {
            q.extend(events.drain(..));
        }
        if let Some(m) = self.marks.get_mut(shard)
            && mark > *m
        {
            *m = mark;
        }
    }

    /// A shard has ended (its last events were added): it holds nothing back any more. Its
    /// counters join the total.
    pub fn end(&mut self, shard: usize, stats: Stats) {
        if let Some(e) = self.ended.get_mut(shard) {
            *e = true;
        }
        add_stats(&mut self.stats, stats);
    }

    /// Events of `shard` held, waiting for the others' clocks.
    pub fn held(&self, shard: usize) -> usize {
        self.queues.get(shard).map_or(0, |q| q.len())
    }

    /// The shard whose clock holds the merge back (the oldest of those not ended).
    pub fn laggard(&self) -> Option<usize> {
        (0..self.count)
            .filter(|&s| !self.ended.get(s).copied().unwrap_or(true))
            .min_by_key(|&s| self.marks.get(s).copied().unwrap_or(Timestamp::ZERO))
    }

    /// Connection records given out so far.
    pub fn connections(&self) -> u64 {
        self.connections
    }

    /// Gives `sink` every event no shard can precede any more, in time order; returns how
    /// many.
    pub fn release(&mut self, sink: &mut impl Sink) -> usize {
        let upto = self
            .laggard()
            .and_then(|s| self.marks.get(s).copied())
            .unwrap_or(Timestamp::from_nanos(u64::MAX));
        self.give(upto, sink)
    }

    fn give(&mut self, upto: Timestamp, sink: &mut impl Sink) -> usize {
        let mut n = 0;
        loop {
            let mut best: Option<(usize, Timestamp)> = None;
            for (s, q) in self.queues.iter().enumerate() {
                if let Some((at, _)) = q.front()
                    && *at <= upto
                    && best.is_none_or(|(_, b)| *at < b)
                {
                    best = Some((s, *at));
                }
            }
            let Some((s, _)) = best else {
                return n;
            };
            if let Some((_, ev)) = self.queues.get_mut(s).and_then(|q| q.pop_front()) {
                self.deliver(ev, s, sink);
                n += 1;
            }
        }
    }

    /// Every event still held (call once every shard has ended), then the run's counters.
    pub fn finish(mut self, sink: &mut impl Sink) -> Stats {
        self.give(Timestamp::from_nanos(u64::MAX), sink);
        self.stats
    }

    fn deliver(&mut self, mut ev: Event, shard: usize, sink: &mut impl Sink) {
        let (count, shard) = (self.count as u64, shard as u64);
        let unique = |id: &mut u64| *id = id.saturating_mul(count).saturating_add(shard);
        match &mut ev {
            Event::Connection(c) => unique(&mut c.id),
            Event::Dns(r) => unique(&mut r.conn_id),
            Event::Stall(s) => unique(&mut s.conn_id),
            Event::ClientHello(e) => unique(&mut e.conn_id),
            Event::ServerHello(e) => unique(&mut e.conn_id),
            Event::Certificates(e) => unique(&mut e.conn_id),
            Event::Alert(e) => unique(&mut e.conn_id),
            Event::HttpRequest(e) => unique(&mut e.conn_id),
            Event::HttpResponse(e) => unique(&mut e.conn_id),
            Event::Reset(e) => unique(&mut e.conn_id),
        }
        match ev {
            Event::Dns(r) => {
                remember_names(&mut self.names, &r, self.max_dns_names, &mut self.stats);
                if self.events.contains(EventMask::DNS) {
                    sink.event(Event::Dns(r));
                }
            }
            Event::Connection(c) => {
                self.connections += 1;
                sink.event(Event::Connection(named(c, &self.names)));
            }
            ev => sink.event(ev),
        }
    }
}
