//! One direction of a TCP stream: packets in, in-order [`Chunk`]s out.

use super::limits::{MemBudget, OverflowPolicy, ReassemblyLimits};
use super::segments::{Fill, SEGMENT_COST, Segment, Segments};
use super::seq::SeqNumber;
use crate::time::Timestamp;
use crate::types::Progress;

/// What the reassembler hands the consumer, always in stream order and without overlap:
/// consecutive chunks (plus the ranges the consumer skipped) tile the stream from offset 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// Stream bytes starting at `offset`. `frame`/`ts` are those of the packet that carried
    /// them (for buffered data, the packet that carried the first byte of the range).
    Data {
        offset: u64,
        bytes: &'a [u8],
        frame: u64,
        ts: Timestamp,
    },
    /// `len` bytes at `offset` that will never be delivered: lost from the capture, cut by the
    /// snaplen, or given up on when the out-of-order buffer was full.
    Gap { offset: u64, len: u64 },
    /// The stream ended (FIN, RST, idle, end of capture). Nothing follows.
    End,
}

/// What happened to one segment, for the connection's counters and history.
#[must_use]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegmentOutcome {
    /// Captured bytes at offsets never seen before.
    pub new_bytes: u32,
    /// Captured bytes at offsets already delivered, skipped, declared lost, or buffered.
    pub retransmitted_bytes: u32,
    /// The segment starts beyond the delivered point (there is a hole before it).
    pub out_of_order: bool,
    /// Some retransmitted bytes differ from the buffered bytes at the same offsets; the
    /// buffered ones win. Only buffered (out-of-order) bytes can be compared: delivered bytes
    /// are not kept, so a conflict with them goes unnoticed.
    pub overlap_conflict: bool,
    /// Bytes refused by a limit (see [`ReassemblyLimits`]); they become a `Gap` later.
    pub dropped_bytes: u32,
    /// Bytes the TCP header announced but the capture cut off (snaplen); they become a `Gap`.
    pub truncated_bytes: u32,
    /// Times a piece of it found the store at `max_ooo_segments_per_dir` entries.
    pub segment_limit_hits: u32,
}

/// Running totals of one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ReassemblerStats {
    /// Bytes delivered in `Chunk::Data`.
    pub delivered_bytes: u64,
    /// Bytes received but counted off because the consumer skipped them (or was done).
    pub skipped_bytes: u64,
    /// Bytes never received: delivered as `Chunk::Gap`, or counted inside a skipped range.
    pub missed_bytes: u64,
    /// `Chunk::Gap`s delivered.
    pub gaps: u64,
    /// Ranges declared lost, whether delivered as a `Chunk::Gap` or counted off inside a
    /// skipped range: the content gaps of Zeek's history (`G`), which it counts whether or
    /// not an analyzer still wanted the bytes.
    pub holes: u64,
    /// Captured bytes that arrived again (see [`SegmentOutcome::retransmitted_bytes`]).
    pub retransmitted_bytes: u64,
    /// Segments whose retransmitted bytes differed from buffered ones.
    pub overlap_conflicts: u64,
    /// Segments that arrived ahead of the delivered point.
    pub ooo_segments: u64,
    /// Bytes refused by a limit.
    pub dropped_bytes: u64,
    /// Times [`OverflowPolicy::GapAndFlush`] declared a hole lost to make room.
    pub forced_gaps: u64,
    /// Segments or ACKs further ahead than `max_ooo_distance`, ignored.
    pub too_far_ahead: u64,
    /// Times a segment found the store at `max_ooo_segments_per_dir` entries.
    pub segment_limit_hits: u64,
    /// Bytes announced by TCP headers but cut by the snaplen.
    pub truncated_bytes: u64,
}

/// A slice of the current packet's payload, at stream offset `start`.
#[derive(Clone, Copy)]
struct Input<'a> {
    start: u64,
    bytes: &'a [u8],
    frame: u64,
    ts: Timestamp,
}

impl Input<'_> {
    fn end(&self) -> u64 {
        self.start.saturating_add(self.bytes.len() as u64)
    }
}

/// The consumer callback.
pub type Sink<'s> = dyn FnMut(Chunk<'_>) -> Progress + 's;

/// Reassembles one direction of a TCP connection.
///
/// The engine owns the connection's state machine and calls this for every segment with
/// payload, for ACKs that acknowledge bytes this direction never showed
/// ([`Reassembler::ack_beyond_hole`]), and once at the end ([`Reassembler::finish`] or, to
/// drop the stream silently, [`Reassembler::discard`]).
///
/// Stream positions are u64 offsets from the first payload byte; sequence numbers are mapped
/// to offsets relative to the delivered point, so streams longer than 4 GiB and ISNs near
/// 2^32 work as long as segments arrive within 2^31 bytes of the delivered point.
#[derive(Debug)]
pub struct Reassembler {
    /// Sequence number of offset 0.
    base: SeqNumber,
    /// Everything before this offset has been delivered, skipped or declared lost.
    cursor: u64,
    /// Bytes before this offset are counted off instead of delivered (`Progress::Skip`).
    skip_end: u64,
    /// The consumer answered `Progress::Done`.
    done: bool,
    /// `finish` or `discard` was called.
    finished: bool,
    /// Offset of the FIN: the stream's payload ends there (see [`Reassembler::set_fin`]).
    fin: Option<u64>,
    segs: Segments,
    stats: ReassemblerStats,
}

impl Reassembler {
    /// `first_seq` is the sequence number of the first payload byte (ISN + 1), offset 0.
    pub fn new(first_seq: SeqNumber) -> Self {
        Reassembler {
            base: first_seq,
            cursor: 0,
            skip_end: 0,
            done: false,
            finished: false,
            fin: None,
            segs: Segments::default(),
            stats: ReassemblerStats::default(),
        }
    }

    /// Out-of-order bytes held in the buffer.
    pub fn buffered_bytes(&self) -> usize {
        self.segs.bytes()
    }

    /// What this direction holds against the memcap: its buffered bytes plus the
    /// bookkeeping charged for each byte-holding range.
    pub fn charged_bytes(&self) -> usize {
        self.segs.charged()
    }

    /// Buffered ranges (with or without bytes).
    pub fn buffered_segments(&self) -> usize {
        self.segs.len()
    }

    /// Offset up to which the stream has been delivered, skipped or declared lost.
    pub fn delivered_offset(&self) -> u64 {
        self.cursor
    }

    /// Offset just past the payload, when the sender's FIN was seen ([`Reassembler::set_fin`]).
    pub fn fin_offset(&self) -> Option<u64> {
        self.fin
    }

    /// Sequence number of the next byte expected in order.
    pub fn next_seq(&self) -> SeqNumber {
        self.seq_at(self.cursor)
    }

    /// Bytes never received (delivered as gaps or counted inside skipped ranges).
    pub fn missed_bytes(&self) -> u64 {
        self.stats.missed_bytes
    }

    /// The FIN's position is known and bytes before it are still missing.
    pub fn is_short_of_fin(&self) -> bool {
        self.fin.is_some_and(|f| self.cursor < f)
    }

    pub fn stats(&self) -> &ReassemblerStats {
        &self.stats
    }

    /// The stream ended inside a range the consumer asked to skip (`Progress::Skip`): the rest
    /// of what it skipped, a record's body, never came. Meaningful after `finish`.
    pub fn ended_inside_skip(&self) -> bool {
        self.skip_end != u64::MAX && self.skip_end > self.cursor
    }

    /// The consumer answered `Progress::Done`, or the stream was finished.
    pub fn is_done(&self) -> bool {
        self.done
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Sequence numbers are 32 bits: the truncation of the offset is the modular arithmetic.
    fn seq_at(&self, off: u64) -> SeqNumber {
        self.base.wrapping_add(off as u32)
    }

    /// Feed one segment's payload. `seq` is the segment's sequence number, `payload` the
    /// captured payload bytes and `wire_len` the payload length its headers announce: when
    /// the snaplen cut the packet, the missing tail becomes a `Gap`. A `payload` longer than
    /// `wire_len` carries link-layer padding, which is ignored.
    #[allow(clippy::too_many_arguments)] // a flat signature: one value per fact of the segment
    pub fn segment(
        &mut self,
        seq: SeqNumber,
        payload: &[u8],
        wire_len: u32,
        frame: u64,
        ts: Timestamp,
        budget: &mut MemBudget,
        limits: &ReassemblyLimits,
        sink: &mut Sink<'_>,
    ) -> SegmentOutcome {
        let mut out = SegmentOutcome::default();
        let wire = u64::from(wire_len);
        let payload = payload
            .get(..payload.len().min(wire_len as usize))
            .unwrap_or(payload);
        if wire == 0 {
            return out;
        }

        // Map to an offset relative to the delivered point, so that wraparound and streams
        // beyond 4 GiB need no special case.
        let delta = i128::from(seq.diff(self.next_seq()));
        let mut start = i128::from(self.cursor) + delta;
        let mut payload = payload;
        let mut wire = wire;
        if start < 0 {
            // Bytes before the first payload byte (a retransmission from before the point
            // where the capture picked the stream up): old by definition.
            let before = u64::try_from(-start).unwrap_or(u64::MAX);
            let cut = usize::try_from(before)
                .unwrap_or(usize::MAX)
                .min(payload.len());
            out.retransmitted_bytes = to_u32(cut as u64);
            payload = payload.get(cut..).unwrap_or_default();
            wire = wire.saturating_sub(before);
            start = 0;
        }
        let start = u64::try_from(start).unwrap_or(u64::MAX);
        let cap_end = start.saturating_add(payload.len() as u64);
        let wire_end = start.saturating_add(wire);

        if start.saturating_sub(self.cursor) > limits.max_ooo_distance {
            self.stats.too_far_ahead += 1;
            self.stats.dropped_bytes += payload.len() as u64;
            out.dropped_bytes = to_u32(payload.len() as u64);
            return out;
        }

        let (new, retrans, conflict) = self.classify(start, payload);
        out.new_bytes = to_u32(new);
        out.retransmitted_bytes = out.retransmitted_bytes.saturating_add(to_u32(retrans));
        out.overlap_conflict = conflict;
        out.truncated_bytes = to_u32(wire_end.saturating_sub(cap_end));
        out.out_of_order = start > self.cursor;
        self.stats.retransmitted_bytes += u64::from(out.retransmitted_bytes);
        self.stats.overlap_conflicts += u64::from(conflict);
        self.stats.truncated_bytes += wire_end.saturating_sub(cap_end);

        let input = Input {
            start,
            bytes: payload,
            frame,
            ts,
        };
        if self.finished {
            // After the end nothing is delivered or kept; in-order bytes still move the
            // delivered point so that later segments classify right.
            if start <= self.cursor && cap_end > self.cursor {
                self.stats.skipped_bytes += cap_end - self.cursor;
                self.cursor = cap_end;
            }
            return out;
        }
        if start <= self.cursor {
            self.advance(Some(input), wire_end, budget, sink);
            return out;
        }
        self.stats.ooo_segments += 1;
        (out.dropped_bytes, out.segment_limit_hits) =
            self.store(input, wire_end, budget, limits, sink);
        out
    }

    /// The peer acknowledged up to `ack`: bytes before it that this direction never showed
    /// were lost from the capture. Delivers a `Gap` for each hole before `ack`, then whatever
    /// buffered data is in order after it. Returns the bytes declared lost. An `ack` at or
    /// behind the delivered point does nothing; one further ahead than `max_ooo_distance` is
    /// ignored (counted in `too_far_ahead`).
    ///
    /// The caller decides when an ACK proves loss (usually: the ACK is for data this direction
    /// should already have shown). After [`Reassembler::set_fin`], ACKs are clamped to the
    /// FIN, whose sequence number carries no payload.
    pub fn ack_beyond_hole(
        &mut self,
        ack: SeqNumber,
        budget: &mut MemBudget,
        limits: &ReassemblyLimits,
        sink: &mut Sink<'_>,
    ) -> u64 {
        if self.finished {
            return 0;
        }
        let Ok(ahead) = u64::try_from(ack.diff(self.next_seq())) else {
            return 0;
        };
        if ahead > limits.max_ooo_distance {
            self.stats.too_far_ahead += 1;
            return 0;
        }
        let mut until = self.cursor.saturating_add(ahead);
        if let Some(fin) = self.fin {
            // The ACK of a FIN covers one sequence number that carries no payload.
            until = until.min(fin);
        }
        let missed_before = self.stats.missed_bytes;
        self.advance(None, until, budget, sink);
        self.stats.missed_bytes - missed_before
    }

    /// End of stream: deliver the buffered data, with a `Gap` for every hole before it, then
    /// `End` (unless the consumer is done), and free the buffer. Bytes after the last one
    /// seen are unknown and produce no gap, unless the FIN's position is known
    /// ([`Reassembler::set_fin`]) or an ACK proved them lost ([`Reassembler::ack_beyond_hole`]).
    pub fn finish(&mut self, budget: &mut MemBudget, sink: &mut Sink<'_>) {
        if self.finished {
            return;
        }
        let last = self.segs.last_end().unwrap_or(0).max(self.fin.unwrap_or(0));
        self.advance(None, last, budget, sink);
        budget.release(self.segs.clear());
        if !self.done {
            // The answer to End is moot: nothing follows it.
            let _ = sink(Chunk::End);
        }
        self.finished = true;
        self.done = true;
    }

    /// The sender's FIN carries sequence number `seq`: the payload ends just before it. An
    /// ACK of the FIN (`seq + 1`) then declares nothing beyond it lost, and `finish` turns a
    /// hole before the FIN into a gap. The first FIN wins; one further from the delivered point
    /// than `max_ooo_distance` (either way) is ignored.
    pub fn set_fin(&mut self, seq: SeqNumber, limits: &ReassemblyLimits) {
        if self.fin.is_some() {
            return;
        }
        let delta = i64::from(seq.diff(self.next_seq()));
        if delta.unsigned_abs() > limits.max_ooo_distance {
            self.stats.too_far_ahead += 1;
            return;
        }
        self.fin = self.cursor.checked_add_signed(delta);
    }

    /// Forget the stream without delivering anything more (eviction): frees the buffer.
    pub fn discard(&mut self, budget: &mut MemBudget) {
        budget.release(self.segs.clear());
        self.finished = true;
        self.done = true;
    }

    /// Split `[start, start + len)` of a new segment into bytes never seen before and bytes
    /// seen already, and compare the latter with buffered bytes.
    fn classify(&self, start: u64, bytes: &[u8]) -> (u64, u64, bool) {
        let end = start.saturating_add(bytes.len() as u64);
        let from = start.max(self.cursor);
        let old = from.min(end) - start;
        if from >= end {
            return (0, old, false);
        }
        let mut covered = 0u64;
        let mut conflict = false;
        for s in self.segs.overlapping(from, end) {
            let a = s.start.max(from);
            let b = s.end().min(end);
            if a >= b {
                continue;
            }
            covered += b - a;
            if let Fill::Bytes(held) = &s.fill {
                let mine = bytes.get(range(a - start, b - start));
                let theirs = held.get(range(a - s.start, b - s.start));
                conflict |= mine != theirs;
            }
        }
        ((end - from) - covered, old + covered, conflict)
    }

    /// Copy the uncovered parts of an out-of-order segment into the buffer, within the
    /// limits. Returns the bytes refused, and how often the bound on segments was met.
    fn store(
        &mut self,
        input: Input<'_>,
        wire_end: u64,
        budget: &mut MemBudget,
        limits: &ReassemblyLimits,
        sink: &mut Sink<'_>,
    ) -> (u32, u32) {
        let mut dropped = 0u64;
        let mut out_limit_hits = 0u32;
        let cap_end = input.end();
        let mut pos = input.start;
        while pos < cap_end {
            if pos <= self.cursor {
                // A forced gap moved the delivered point up to this segment: the rest is in
                // order and goes out straight from the packet.
                self.advance(Some(input), wire_end, budget, sink);
                return (to_u32(dropped), out_limit_hits);
            }
            let Some((a, b)) = self.segs.next_uncovered(pos, cap_end) else {
                break;
            };
            let (b, fill) = if a < self.skip_end {
                let b = b.min(self.skip_end);
                // A new entry is charged to the memcap as a byte-holding one is: one-byte
                // segments with holes between them are an entry each.
                let fits = self.segs.would_merge_seen(a, b)
                    || (self.segs.len() < limits.max_ooo_segments_per_dir
                        && budget.try_reserve(SEGMENT_COST));
                (b, fits.then_some(Fill::Seen))
            } else {
                let n = usize::try_from(b - a).unwrap_or(usize::MAX);
                let room = self.segs.len() < limits.max_ooo_segments_per_dir;
                if !room {
                    self.stats.segment_limit_hits += 1;
                    out_limit_hits += 1;
                }
                let fits = room
                    && self.segs.bytes().saturating_add(n) <= limits.max_ooo_bytes_per_dir
                    && budget.try_reserve(n.saturating_add(SEGMENT_COST));
                let bytes = input.bytes.get(range(a - input.start, b - input.start));
                (
                    b,
                    fits.then(|| Fill::Bytes(bytes.unwrap_or_default().to_vec())),
                )
            };
            match fill {
                Some(fill) => {
                    let merges = fill == Fill::Seen && self.segs.would_merge_seen(a, b);
                    let charged = self.segs.charged();
                    self.segs.insert(Segment {
                        start: a,
                        len: b - a,
                        fill,
                        frame: input.frame,
                        ts: input.ts,
                    });
                    if merges {
                        // Joining two Seen ranges gives one entry back.
                        budget.release(charged.saturating_sub(self.segs.charged()));
                    }
                    pos = b;
                }
                None => match limits.on_overflow {
                    OverflowPolicy::DropNew => {
                        // Byte-less ranges refused here are simply not remembered: they were
                        // skipped anyway, and will count as missed.
                        if a >= self.skip_end {
                            dropped += b - a;
                        }
                        pos = b;
                    }
                    OverflowPolicy::GapAndFlush => {
                        // Declare the first hole lost: up to the first buffered range, or up
                        // to this piece if it comes first. Either frees room or brings this
                        // piece in order; the delivered point strictly advances.
                        let until = self.segs.first_start().map_or(a, |f| f.min(a));
                        self.stats.forced_gaps += 1;
                        self.advance(None, until, budget, sink);
                    }
                },
            }
        }
        // A snaplen-cut tail: remember it as missing so the gap comes as soon as it is
        // reached. The entry is charged to the memcap as any other. Without room it is
        // simply not remembered: an ACK or the end turns it into a gap all the same, only
        // later.
        let mut pos = cap_end;
        while pos < wire_end && self.segs.len() < limits.max_ooo_segments_per_dir {
            let Some((a, b)) = self.segs.next_uncovered(pos.max(self.cursor), wire_end) else {
                break;
            };
            if !budget.try_reserve(SEGMENT_COST) {
                break;
            }
            self.segs.insert(Segment {
                start: a,
                len: b - a,
                fill: Fill::Missing,
                frame: input.frame,
                ts: input.ts,
            });
            pos = b;
        }
        self.stats.dropped_bytes += dropped;
        (to_u32(dropped), out_limit_hits)
    }

    /// Move the delivered point forward as far as possible: through buffered ranges, through
    /// `input` when it covers the delivered point, and through `[cursor, lost_until)` as a
    /// gap where neither covers it. Buffered ranges win over `input` (first wins).
    fn advance(
        &mut self,
        input: Option<Input<'_>>,
        lost_until: u64,
        budget: &mut MemBudget,
        sink: &mut Sink<'_>,
    ) {
        loop {
            let cur = self.cursor;
            if self.segs.front().is_some_and(|f| f.start <= cur) {
                let Some(seg) = self.segs.pop_front() else {
                    break;
                };
                let end = seg.end();
                if end <= cur {
                    continue;
                }
                let from = cur - seg.start;
                match seg.fill {
                    Fill::Bytes(held) => {
                        budget.release(held.len().saturating_add(SEGMENT_COST));
                        let part = held.get(range(from, seg.len)).unwrap_or_default();
                        self.consume_bytes(part, seg.frame, seg.ts, budget, sink);
                    }
                    Fill::Seen => {
                        budget.release(SEGMENT_COST);
                        self.consume_unheld(end - cur, false, budget, sink);
                    }
                    Fill::Missing => {
                        budget.release(SEGMENT_COST);
                        self.consume_unheld(end - cur, true, budget, sink);
                    }
                }
                // A byte range shorter than its length (impossible by construction) would
                // leave the delivered point inside it; never loop on it.
                if self.cursor < end {
                    self.consume_unheld(end - self.cursor, true, budget, sink);
                }
                continue;
            }
            let next_held = self.segs.first_start().unwrap_or(u64::MAX);
            if let Some(inp) = input.as_ref().filter(|i| i.start <= cur && cur < i.end()) {
                let upto = inp.end().min(next_held);
                let part = inp.bytes.get(range(cur - inp.start, upto - inp.start));
                match part {
                    Some(part) if !part.is_empty() => {
                        self.consume_bytes(part, inp.frame, inp.ts, budget, sink);
                        continue;
                    }
                    _ => break,
                }
            }
            if cur < lost_until {
                let mut upto = lost_until.min(next_held);
                if let Some(inp) = input.as_ref().filter(|i| i.start > cur) {
                    upto = upto.min(inp.start);
                }
                self.consume_unheld(upto - cur, true, budget, sink);
                continue;
            }
            break;
        }
    }

    /// Deliver `bytes` at the delivered point, after counting off what the consumer skips.
    fn consume_bytes(
        &mut self,
        bytes: &[u8],
        frame: u64,
        ts: Timestamp,
        budget: &mut MemBudget,
        sink: &mut Sink<'_>,
    ) {
        let skip = self
            .skip_end
            .saturating_sub(self.cursor)
            .min(bytes.len() as u64);
        self.cursor += skip;
        self.stats.skipped_bytes += skip;
        let rest = bytes
            .get(range(skip, bytes.len() as u64))
            .unwrap_or_default();
        if rest.is_empty() {
            return;
        }
        let answer = sink(Chunk::Data {
            offset: self.cursor,
            bytes: rest,
            frame,
            ts,
        });
        self.cursor += rest.len() as u64;
        self.stats.delivered_bytes += rest.len() as u64;
        self.apply(answer, budget);
    }

    /// Pass `len` bytes at the delivered point that we do not hold: received but skipped
    /// (`lost == false`), or lost. Lost bytes outside a skipped range become a `Gap`.
    fn consume_unheld(
        &mut self,
        len: u64,
        lost: bool,
        budget: &mut MemBudget,
        sink: &mut Sink<'_>,
    ) {
        let skip = self.skip_end.saturating_sub(self.cursor).min(len);
        self.cursor += skip;
        if lost && len > 0 {
            self.stats.holes += 1;
        }
        if lost {
            self.stats.missed_bytes += skip;
        } else {
            self.stats.skipped_bytes += skip;
        }
        // Received-but-unheld bytes outside a skipped range cannot happen (they are only
        // stored inside one, and skipped ranges only grow); if they did, they are a gap.
        let rest = len - skip;
        if rest == 0 {
            return;
        }
        let answer = sink(Chunk::Gap {
            offset: self.cursor,
            len: rest,
        });
        self.cursor += rest;
        self.stats.missed_bytes += rest;
        self.stats.gaps += 1;
        self.apply(answer, budget);
    }

    /// Applies the consumer's answer at the delivered point. Usually the answer to a chunk;
    /// called directly for an answer the consumer gave to bytes it got another way (an
    /// upgrade's leftovers handed to the next decoder).
    pub fn apply(&mut self, answer: Progress, budget: &mut MemBudget) {
        match answer {
            Progress::Continue | Progress::Upgrade(_) => {}
            Progress::Skip(n) => {
                self.skip_end = self.skip_end.max(self.cursor.saturating_add(n));
                budget.release(self.segs.forget_bytes_before(self.skip_end));
            }
            Progress::Done | Progress::Violation(_) => {
                self.done = true;
                self.skip_end = u64::MAX;
                budget.release(self.segs.forget_bytes_before(u64::MAX));
            }
        }
    }
}

/// `from..to` as a usize range for `slice::get` (an out-of-range value makes `get` fail).
fn range(from: u64, to: u64) -> std::ops::Range<usize> {
    usize::try_from(from).unwrap_or(usize::MAX)..usize::try_from(to).unwrap_or(usize::MAX)
}

fn to_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests index their own fixed data
mod tests {
    use super::*;

    /// An owned copy of a chunk, for assertions.
    #[derive(Clone, Debug, PartialEq, Eq)]
    enum C {
        D(u64, Vec<u8>, u64),
        G(u64, u64),
        E,
    }

    /// Records chunks and answers from a script (`Continue` when the script runs out).
    struct Rig {
        r: Reassembler,
        budget: MemBudget,
        limits: ReassemblyLimits,
        got: Vec<C>,
        answers: Vec<Progress>,
        frame: u64,
    }

    impl Rig {
        fn new(isn1: u32) -> Self {
            Rig::with(isn1, ReassemblyLimits::default(), MemBudget::default())
        }
        fn with(isn1: u32, limits: ReassemblyLimits, budget: MemBudget) -> Self {
            Rig {
                r: Reassembler::new(SeqNumber(isn1)),
                budget,
                limits,
                got: Vec::new(),
                answers: Vec::new(),
                frame: 0,
            }
        }
        fn seg(&mut self, seq: u32, data: &[u8]) -> SegmentOutcome {
            self.seg_wire(seq, data, data.len() as u32)
        }
        fn seg_wire(&mut self, seq: u32, data: &[u8], wire: u32) -> SegmentOutcome {
            self.frame += 1;
            let (got, answers) = (&mut self.got, &mut self.answers);
            let mut sink = |c: Chunk<'_>| record(got, answers, c);
            self.r.segment(
                SeqNumber(seq),
                data,
                wire,
                self.frame,
                Timestamp::from_nanos(self.frame),
                &mut self.budget,
                &self.limits,
                &mut sink,
            )
        }
        fn ack(&mut self, ack: u32) -> u64 {
            let (got, answers) = (&mut self.got, &mut self.answers);
            let mut sink = |c: Chunk<'_>| record(got, answers, c);
            self.r
                .ack_beyond_hole(SeqNumber(ack), &mut self.budget, &self.limits, &mut sink)
        }
        fn finish(&mut self) {
            let (got, answers) = (&mut self.got, &mut self.answers);
            let mut sink = |c: Chunk<'_>| record(got, answers, c);
            self.r.finish(&mut self.budget, &mut sink);
        }
        fn take(&mut self) -> Vec<C> {
            std::mem::take(&mut self.got)
        }
    }

    fn record(got: &mut Vec<C>, answers: &mut Vec<Progress>, c: Chunk<'_>) -> Progress {
        got.push(match c {
            Chunk::Data {
                offset,
                bytes,
                frame,
                ..
            } => C::D(offset, bytes.to_vec(), frame),
            Chunk::Gap { offset, len } => C::G(offset, len),
            Chunk::End => C::E,
        });
        if answers.is_empty() {
            Progress::Continue
        } else {
            answers.remove(0)
        }
    }

    #[test]
    fn in_order_is_delivered_from_the_packet() {
        let payload = b"GET / HTTP/1.1\r\n".to_vec();
        let mut r = Reassembler::new(SeqNumber(1000));
        let mut budget = MemBudget::default();
        let mut seen_ptr = None;
        let mut sink = |c: Chunk<'_>| {
            if let Chunk::Data {
                offset,
                bytes,
                frame,
                ts,
            } = c
            {
                assert_eq!((offset, frame, ts), (0, 7, Timestamp::from_nanos(9)));
                seen_ptr = Some(bytes.as_ptr());
            }
            Progress::Continue
        };
        let out = r.segment(
            SeqNumber(1000),
            &payload,
            payload.len() as u32,
            7,
            Timestamp::from_nanos(9),
            &mut budget,
            &ReassemblyLimits::default(),
            &mut sink,
        );
        // Zero copy: the consumer saw the caller's own bytes.
        assert_eq!(seen_ptr, Some(payload.as_ptr()));
        assert_eq!(
            out,
            SegmentOutcome {
                new_bytes: 16,
                ..Default::default()
            }
        );
        assert_eq!(r.delivered_offset(), 16);
        assert_eq!(r.next_seq(), SeqNumber(1016));
        assert_eq!(budget.peak(), 0);
    }

    #[test]
    fn out_of_order_is_buffered_then_delivered() {
        let mut t = Rig::new(100);
        let out = t.seg(105, b"world");
        assert!(out.out_of_order);
        assert_eq!(out.new_bytes, 5);
        assert!(t.take().is_empty());
        assert_eq!(t.r.buffered_bytes(), 5);
        assert_eq!(t.budget.used(), 5 + SEGMENT_COST);
        let out = t.seg(100, b"hello");
        assert!(!out.out_of_order);
        assert_eq!(
            t.take(),
            vec![C::D(0, b"hello".to_vec(), 2), C::D(5, b"world".to_vec(), 1)]
        );
        assert_eq!(
            (
                t.r.buffered_bytes(),
                t.budget.used(),
                t.r.delivered_offset()
            ),
            (0, 0, 10)
        );
    }

    #[test]
    fn overlap_first_wins_and_conflicts_are_reported() {
        let mut t = Rig::new(0);
        let _ = t.seg(10, b"AAAA");
        // Identical retransmission of buffered bytes: no conflict.
        let out = t.seg(10, b"AAAA");
        assert_eq!(
            (out.new_bytes, out.retransmitted_bytes, out.overlap_conflict),
            (0, 4, false)
        );
        // Different bytes over the buffered range, plus two new bytes on each side.
        let out = t.seg(8, b"xxBBBByy");
        assert_eq!(
            (out.new_bytes, out.retransmitted_bytes, out.overlap_conflict),
            (4, 4, true)
        );
        let _ = t.seg(0, b"01234567");
        let all: Vec<u8> = t
            .take()
            .into_iter()
            .flat_map(|c| match c {
                C::D(_, b, _) => b,
                _ => panic!("unexpected {c:?}"),
            })
            .collect();
        assert_eq!(all, b"01234567xxAAAAyy");
        assert_eq!(t.r.stats().overlap_conflicts, 1);
    }

    #[test]
    fn in_order_segment_over_buffered_range_keeps_the_buffered_bytes() {
        let mut t = Rig::new(0);
        let _ = t.seg(4, b"BB");
        let out = t.seg(0, b"aaaaXXcc");
        assert!(out.overlap_conflict);
        assert_eq!(
            t.take(),
            vec![
                C::D(0, b"aaaa".to_vec(), 2),
                C::D(4, b"BB".to_vec(), 1),
                C::D(6, b"cc".to_vec(), 2)
            ]
        );
    }

    #[test]
    fn old_seq_extending_past_delivered_point_delivers_only_new_part() {
        let mut t = Rig::new(500);
        let _ = t.seg(500, b"abcdef");
        t.take();
        let out = t.seg(503, b"defGHI");
        assert_eq!((out.new_bytes, out.retransmitted_bytes), (3, 3));
        assert_eq!(t.take(), vec![C::D(6, b"GHI".to_vec(), 2)]);
        // Entirely old: nothing delivered.
        let out = t.seg(500, b"abc");
        assert_eq!(
            (out.new_bytes, out.retransmitted_bytes, out.out_of_order),
            (0, 3, false)
        );
        assert!(t.take().is_empty());
        assert_eq!(t.r.stats().retransmitted_bytes, 6);
    }

    #[test]
    fn ack_beyond_hole_delivers_gap_then_buffered() {
        let mut t = Rig::new(0);
        let _ = t.seg(0, b"0123");
        let _ = t.seg(10, b"ab");
        let _ = t.seg(14, b"cd");
        t.take();
        // Behind the delivered point: nothing.
        assert_eq!(t.ack(3), 0);
        assert_eq!(t.ack(12), 6);
        assert_eq!(t.take(), vec![C::G(4, 6), C::D(10, b"ab".to_vec(), 2)]);
        assert_eq!(t.ack(20), 2 + 4);
        assert_eq!(
            t.take(),
            vec![C::G(12, 2), C::D(14, b"cd".to_vec(), 3), C::G(16, 4)]
        );
        assert_eq!(t.r.missed_bytes(), 12);
        assert_eq!(t.r.stats().gaps, 3);
        // A far-away ACK is ignored, not believed.
        assert_eq!(t.ack(20 + (1 << 30) + 1), 0);
        assert_eq!(t.r.stats().too_far_ahead, 1);
    }

    #[test]
    fn finish_flushes_holes_as_gaps_then_end() {
        let mut t = Rig::new(0);
        let _ = t.seg(5, b"bb");
        let _ = t.seg(10, b"cc");
        assert_eq!(t.budget.used(), 4 + 2 * SEGMENT_COST);
        t.finish();
        assert_eq!(
            t.take(),
            vec![
                C::G(0, 5),
                C::D(5, b"bb".to_vec(), 1),
                C::G(7, 3),
                C::D(10, b"cc".to_vec(), 2),
                C::E
            ]
        );
        assert_eq!(
            (
                t.budget.used(),
                t.r.buffered_bytes(),
                t.r.buffered_segments()
            ),
            (0, 0, 0)
        );
        // Idempotent, and late segments deliver nothing.
        t.finish();
        let out = t.seg(12, b"zz");
        assert_eq!(out.new_bytes, 2);
        assert!(t.take().is_empty());
    }

    #[test]
    fn skip_counts_bytes_off_without_buffering() {
        let mut t = Rig::new(0);
        t.answers = vec![Progress::Skip(10)];
        let _ = t.seg(0, b"hdr:");
        // Entirely inside the skipped range [4, 14): not buffered, only its entry is charged.
        let _ = t.seg(8, b"body");
        assert_eq!(t.r.buffered_bytes(), 0);
        assert_eq!(t.budget.peak(), SEGMENT_COST);
        // Straddles the end of the skipped range: only the part after it is buffered.
        let _ = t.seg(12, b"yyNEXT");
        assert_eq!(t.r.buffered_bytes(), 4);
        let _ = t.seg(4, b"bodx");
        assert_eq!(
            t.take(),
            vec![C::D(0, b"hdr:".to_vec(), 1), C::D(14, b"NEXT".to_vec(), 3)]
        );
        assert_eq!(t.r.stats().skipped_bytes, 10);
        assert_eq!(t.r.missed_bytes(), 0);
        assert_eq!(t.r.delivered_offset(), 18);
        assert_eq!(t.budget.used(), 0);
    }

    #[test]
    fn ended_inside_skip_only_when_the_skipped_bytes_never_came() {
        // A 10-byte body skipped after a 4-byte header: the stream ends 6 bytes into it.
        let mut t = Rig::new(0);
        t.answers = vec![Progress::Skip(10)];
        let _ = t.seg(0, b"hdr:");
        let _ = t.seg(4, b"body");
        t.finish();
        assert!(t.r.ended_inside_skip());
        // The same body in full, counted off without delivery: the stream ended at its end.
        let mut t = Rig::new(0);
        t.answers = vec![Progress::Skip(10)];
        let _ = t.seg(0, b"hdr:");
        let _ = t.seg(4, b"bodybodyxx");
        t.finish();
        assert!(!t.r.ended_inside_skip());
        // A consumer that is done asked for nothing more.
        let mut t = Rig::new(0);
        t.answers = vec![Progress::Done];
        let _ = t.seg(0, b"hdr:");
        t.finish();
        assert!(!t.r.ended_inside_skip());
    }

    #[test]
    fn skip_frees_buffered_bytes_it_covers() {
        let mut t = Rig::new(0);
        let _ = t.seg(10, b"xxxx");
        let _ = t.seg(20, b"yyyy");
        assert_eq!(t.budget.used(), 8 + 2 * SEGMENT_COST);
        t.answers = vec![Progress::Skip(20)];
        let _ = t.seg(0, b"h");
        // [10, 14) lies inside the skip: its bytes are freed, its entry stays (Seen);
        // [20, 24) straddles its end and stays.
        assert_eq!(t.budget.used(), 4 + 2 * SEGMENT_COST);
        let _ = t.seg(1, b"123456789");
        let _ = t.seg(14, b"zzzzzz");
        assert_eq!(
            t.take(),
            vec![C::D(0, b"h".to_vec(), 3), C::D(21, b"yyy".to_vec(), 2)]
        );
        assert_eq!(t.budget.used(), 0);
        assert_eq!(t.r.stats().skipped_bytes, 20);
    }

    #[test]
    fn gap_inside_skip_is_counted_not_delivered() {
        let mut t = Rig::new(0);
        t.answers = vec![Progress::Skip(100)];
        let _ = t.seg(0, b"a");
        let _ = t.seg(51, b"b");
        assert_eq!(t.ack(121), 119);
        assert_eq!(t.take(), vec![C::D(0, b"a".to_vec(), 1), C::G(101, 20)]);
        assert_eq!(t.r.missed_bytes(), 119);
        assert_eq!(t.r.stats().skipped_bytes, 1);
    }

    #[test]
    fn done_stops_delivery_and_buffering_but_counts() {
        let mut t = Rig::new(0);
        let _ = t.seg(10, b"later");
        t.answers = vec![Progress::Done];
        let _ = t.seg(0, b"first");
        // The bytes are gone; the range stays as a Seen entry, charged as one.
        assert_eq!(t.budget.used(), SEGMENT_COST);
        assert!(t.r.is_done());
        let out = t.seg(20, b"ooo");
        assert_eq!((out.new_bytes, out.out_of_order), (3, true));
        assert_eq!(t.r.buffered_bytes(), 0);
        let out = t.seg(20, b"ooo");
        assert_eq!((out.new_bytes, out.retransmitted_bytes), (0, 3));
        let _ = t.seg(5, b"fived");
        let _ = t.seg(15, b"fffff");
        assert_eq!(t.r.delivered_offset(), 23);
        t.finish();
        assert_eq!(t.take(), vec![C::D(0, b"first".to_vec(), 2)]);
        assert_eq!(t.r.stats().skipped_bytes, 18);
        assert_eq!(t.r.missed_bytes(), 0);
    }

    #[test]
    fn wraparound_isn_and_streams_beyond_4_gib() {
        let isn1 = u32::MAX - 3;
        let mut t = Rig::new(isn1);
        let _ = t.seg(isn1.wrapping_add(6), b"ghij");
        let _ = t.seg(isn1, b"abcdef");
        assert_eq!(
            t.take(),
            vec![C::D(0, b"abcdef".to_vec(), 2), C::D(6, b"ghij".to_vec(), 1)]
        );

        // Push 4 GiB + 1 MiB through in order, zero copy, with one reordering after the wrap.
        let block = vec![7u8; 65536];
        let mut r = Reassembler::new(SeqNumber(isn1));
        let mut budget = MemBudget::default();
        let limits = ReassemblyLimits::default();
        let mut total = 0u64;
        let mut last = (0u64, 0u64);
        let mut sink = |c: Chunk<'_>| {
            if let Chunk::Data { offset, bytes, .. } = c {
                assert_eq!(offset, total, "contiguous");
                total += bytes.len() as u64;
                last = (offset, bytes.len() as u64);
            } else {
                panic!("unexpected {c:?}");
            }
            Progress::Continue
        };
        let blocks = (1u64 << 32) / 65536 + 16;
        let mut seq = SeqNumber(isn1);
        let mut i = 0;
        while i < blocks {
            if i == blocks - 4 {
                // Send block i+1 before block i.
                let s1 = seq + 65536;
                let o = r.segment(
                    s1,
                    &block,
                    65536,
                    0,
                    Timestamp::ZERO,
                    &mut budget,
                    &limits,
                    &mut sink,
                );
                assert!(o.out_of_order);
                let o = r.segment(
                    seq,
                    &block,
                    65536,
                    0,
                    Timestamp::ZERO,
                    &mut budget,
                    &limits,
                    &mut sink,
                );
                assert_eq!(o.new_bytes, 65536);
                seq = seq + 2 * 65536;
                i += 2;
                continue;
            }
            let o = r.segment(
                seq,
                &block,
                65536,
                0,
                Timestamp::ZERO,
                &mut budget,
                &limits,
                &mut sink,
            );
            assert_eq!(o.new_bytes, 65536);
            seq = seq + 65536;
            i += 1;
        }
        assert_eq!(total, blocks * 65536);
        assert!(total > 1 << 32);
        assert_eq!(last.0 + last.1, total);
        assert_eq!(r.delivered_offset(), total);
        assert_eq!(r.next_seq(), seq);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn truncated_tail_becomes_gap() {
        let mut t = Rig::new(0);
        // In order: 4 of 10 bytes captured.
        let out = t.seg_wire(0, b"abcd", 10);
        assert_eq!(out.truncated_bytes, 6);
        assert_eq!(t.take(), vec![C::D(0, b"abcd".to_vec(), 1), C::G(4, 6)]);
        // Out of order and truncated: the gap comes as soon as the hole before it is filled.
        let _ = t.seg_wire(20, b"xy", 5);
        assert!(t.take().is_empty());
        let _ = t.seg(10, b"0123456789");
        assert_eq!(
            t.take(),
            vec![
                C::D(10, b"0123456789".to_vec(), 3),
                C::D(20, b"xy".to_vec(), 2),
                C::G(22, 3)
            ]
        );
        assert_eq!(t.r.stats().truncated_bytes, 9);
        assert_eq!(t.r.missed_bytes(), 9);
        // Payload longer than the header says: link padding, ignored.
        let out = t.seg_wire(25, b"pq\0\0\0\0", 2);
        assert_eq!(out.new_bytes, 2);
        assert_eq!(t.take(), vec![C::D(25, b"pq".to_vec(), 4)]);
    }

    #[test]
    fn per_direction_limit_gap_and_flush() {
        let limits = ReassemblyLimits {
            max_ooo_bytes_per_dir: 8,
            ..Default::default()
        };
        let mut t = Rig::with(0, limits, MemBudget::default());
        let _ = t.seg(10, b"aaaa");
        let _ = t.seg(20, b"bbbb");
        // Does not fit: the hole [0, 10) is declared lost, [10, 14) flushed, then it fits.
        let out = t.seg(30, b"cccc");
        assert_eq!(out.dropped_bytes, 0);
        assert_eq!(t.take(), vec![C::G(0, 10), C::D(10, b"aaaa".to_vec(), 1)]);
        assert_eq!(t.r.buffered_bytes(), 8);
        assert_eq!(t.r.stats().forced_gaps, 1);
        // The late retransmission of the lost hole counts as retransmitted.
        let out = t.seg(0, b"0123456789");
        assert_eq!(out.retransmitted_bytes, 10);
        // A segment before the first buffered one and too big to fit comes into order by a
        // gap up to it, and is delivered straight from the packet.
        let out = t.seg(16, b"0123");
        assert_eq!(out.dropped_bytes, 0);
        assert_eq!(
            t.take(),
            vec![
                C::G(14, 2),
                C::D(16, b"0123".to_vec(), 5),
                C::D(20, b"bbbb".to_vec(), 2)
            ]
        );
        assert_eq!(t.r.buffered_bytes(), 4);
        t.finish();
        assert_eq!(
            t.take(),
            vec![C::G(24, 6), C::D(30, b"cccc".to_vec(), 3), C::E]
        );
        assert_eq!(t.budget.used(), 0);
    }

    #[test]
    fn drop_new_policy_refuses_and_gap_comes_later() {
        let limits = ReassemblyLimits {
            max_ooo_segments_per_dir: 1,
            on_overflow: OverflowPolicy::DropNew,
            ..Default::default()
        };
        let mut t = Rig::with(0, limits, MemBudget::default());
        let _ = t.seg(10, b"aaaa");
        let out = t.seg(20, b"bbbb");
        assert_eq!(out.dropped_bytes, 4);
        assert_eq!(t.r.stats().dropped_bytes, 4);
        let _ = t.seg(0, b"0123456789");
        t.finish();
        assert_eq!(
            t.take(),
            vec![
                C::D(0, b"0123456789".to_vec(), 3),
                C::D(10, b"aaaa".to_vec(), 1),
                C::E
            ]
        );
    }

    #[test]
    fn global_memcap_is_shared_and_refusals_counted() {
        let limits = ReassemblyLimits {
            on_overflow: OverflowPolicy::DropNew,
            ..Default::default()
        };
        // Room for one 4-byte segment and its bookkeeping, not two.
        let mut budget = MemBudget::new(6 + SEGMENT_COST);
        let mut a = Reassembler::new(SeqNumber(0));
        let mut b = Reassembler::new(SeqNumber(0));
        let mut sink = |_: Chunk<'_>| Progress::Continue;
        let ts = Timestamp::ZERO;
        let o = a.segment(
            SeqNumber(10),
            b"aaaa",
            4,
            1,
            ts,
            &mut budget,
            &limits,
            &mut sink,
        );
        assert_eq!(o.dropped_bytes, 0);
        let o = b.segment(
            SeqNumber(10),
            b"bbbb",
            4,
            2,
            ts,
            &mut budget,
            &limits,
            &mut sink,
        );
        assert_eq!(o.dropped_bytes, 4);
        assert_eq!(
            (budget.used(), budget.refusals(), budget.refused_bytes()),
            (4 + SEGMENT_COST, 1, 4 + SEGMENT_COST as u64)
        );
        a.discard(&mut budget);
        assert_eq!(budget.used(), 0);
        let o = b.segment(
            SeqNumber(10),
            b"bbbb",
            4,
            3,
            ts,
            &mut budget,
            &limits,
            &mut sink,
        );
        assert_eq!(o.dropped_bytes, 0);
        b.finish(&mut budget, &mut sink);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn segment_too_far_ahead_is_refused() {
        let mut t = Rig::new(0);
        let out = t.seg((1 << 30) + 1, b"zz");
        assert_eq!(out.dropped_bytes, 2);
        assert_eq!(t.r.stats().too_far_ahead, 1);
        assert_eq!(t.r.buffered_bytes(), 0);
        // Exactly at the limit is fine.
        let out = t.seg(1 << 30, b"zz");
        assert_eq!(out.dropped_bytes, 0);
    }

    #[test]
    fn bytes_before_offset_zero_are_old() {
        let mut t = Rig::new(1000);
        let out = t.seg(996, b"....abc");
        assert_eq!((out.retransmitted_bytes, out.new_bytes), (4, 3));
        assert_eq!(t.take(), vec![C::D(0, b"abc".to_vec(), 1)]);
    }

    #[test]
    fn answer_to_gap_is_honoured() {
        let mut t = Rig::new(0);
        let _ = t.seg(10, b"0123456789");
        t.answers = vec![Progress::Skip(3)];
        assert_eq!(t.ack(10), 10);
        // The gap's Skip(3) counts off the first three buffered bytes.
        assert_eq!(
            t.take(),
            vec![C::G(0, 10), C::D(13, b"3456789".to_vec(), 1)]
        );
    }

    #[test]
    fn fin_bounds_acks_and_closes_the_tail() {
        let mut t = Rig::new(0);
        let _ = t.seg(0, b"abc");
        t.r.set_fin(SeqNumber(10), &t.limits);
        // The ACK of the FIN is one past the payload: no one-byte phantom gap.
        assert_eq!(t.ack(11), 7);
        assert_eq!(t.take(), vec![C::D(0, b"abc".to_vec(), 1), C::G(3, 7)]);
        // Without an ACK, finish closes the hole before the FIN.
        let mut t = Rig::new(0);
        let _ = t.seg(0, b"abc");
        let _ = t.seg(5, b"f");
        t.r.set_fin(SeqNumber(8), &t.limits);
        t.finish();
        assert_eq!(
            t.take(),
            vec![
                C::D(0, b"abc".to_vec(), 1),
                C::G(3, 2),
                C::D(5, b"f".to_vec(), 2),
                C::G(6, 2),
                C::E
            ]
        );
    }

    #[test]
    fn zero_length_segments_do_nothing() {
        let mut t = Rig::new(0);
        let out = t.seg(5, b"");
        assert_eq!(out, SegmentOutcome::default());
        assert_eq!(t.r.buffered_segments(), 0);
    }
}
