//! The out-of-order store of one direction: a sorted set of disjoint byte ranges ahead of the
//! delivered point, each either holding the bytes, or only remembering that the range was seen
//! (inside a region the consumer skips) or is known lost (a snaplen-cut tail).
//!
//! Ranges never overlap: a new segment only ever fills what is not yet covered (first wins).
//! Byte-less ranges that touch are merged, so a direction the consumer is done with costs one
//! entry per hole, whatever the traffic.

use crate::time::Timestamp;
use std::collections::VecDeque;

/// What a range costs beyond its bytes (byte-holding, `Seen` or `Missing`), charged to the
/// memcap with them: the entry in the deque and the allocation's own overhead. Without it thousands of
/// one-byte segments per connection would cost the memcap nothing and memory a great deal
/// (a `Seen` range holds no bytes, but one-byte segments with holes between them inside a
/// skipped region are an entry each all the same).
pub(crate) const SEGMENT_COST: usize = 64;

/// What a buffered range holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fill {
    /// The payload bytes, copied from the packet.
    Bytes(Vec<u8>),
    /// Received, but inside a range the consumer asked to skip: only the range is kept, so
    /// that the bytes count as received, not missed.
    Seen,
    /// Known to exist but not captured (snaplen cut the packet): becomes a `Gap` as soon as
    /// the delivered point reaches it.
    Missing,
}

#[derive(Debug)]
pub(crate) struct Segment {
    pub start: u64,
    pub len: u64,
    pub fill: Fill,
    /// Frame and timestamp of the packet that carried the range's first byte.
    pub frame: u64,
    pub ts: Timestamp,
}

impl Segment {
    #[inline]
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }

    fn byte_len(&self) -> usize {
        match &self.fill {
            Fill::Bytes(v) => v.len(),
            Fill::Seen | Fill::Missing => 0,
        }
    }
}

/// Sorted, disjoint ranges (by `start`; being disjoint, also by `end`).
#[derive(Debug, Default)]
pub(crate) struct Segments {
    list: VecDeque<Segment>,
    /// Sum of the byte lengths of `Fill::Bytes` entries.
    bytes: usize,
    /// `Fill::Bytes` entries.
    byte_entries: usize,
    /// `Fill::Seen` entries (charged [`SEGMENT_COST`] each, as byte-holding ones).
    seen_entries: usize,
    /// `Fill::Missing` entries (charged [`SEGMENT_COST`] each too: a snaplen-cut capture
    /// leaves one per cut segment).
    missing_entries: usize,
}

impl Segments {
    pub fn len(&self) -> usize {
        self.list.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Buffered payload bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Buffered payload bytes plus [`SEGMENT_COST`] per range: what the memcap was charged.
    pub fn charged(&self) -> usize {
        self.bytes.saturating_add(
            (self.byte_entries + self.seen_entries + self.missing_entries)
                .saturating_mul(SEGMENT_COST),
        )
    }

    pub fn front(&self) -> Option<&Segment> {
        self.list.front()
    }

    pub fn first_start(&self) -> Option<u64> {
        self.list.front().map(|s| s.start)
    }

    pub fn last_end(&self) -> Option<u64> {
        self.list.back().map(Segment::end)
    }

    pub fn pop_front(&mut self) -> Option<Segment> {
        let seg = self.list.pop_front()?;
        self.bytes = self.bytes.saturating_sub(seg.byte_len());
        match seg.fill {
            Fill::Bytes(_) => self.byte_entries = self.byte_entries.saturating_sub(1),
            Fill::Seen => self.seen_entries = self.seen_entries.saturating_sub(1),
            Fill::Missing => self.missing_entries = self.missing_entries.saturating_sub(1),
        }
        Some(seg)
    }

    /// Index of the first range that ends after `off`.
    fn first_ending_after(&self, off: u64) -> usize {
        self.list.partition_point(|s| s.end() <= off)
    }

    /// Ranges overlapping `[from, to)`, in order.
    pub fn overlapping(&self, from: u64, to: u64) -> impl Iterator<Item = &Segment> {
        self.list
            .range(self.first_ending_after(from)..)
            .take_while(move |s| s.start < to)
    }

    /// The first sub-range of `[from, to)` not covered by any range.
    pub fn next_uncovered(&self, from: u64, to: u64) -> Option<(u64, u64)> {
        let mut pos = from;
        for s in self.overlapping(from, to) {
            if s.start > pos {
                return Some((pos, s.start.min(to)));
            }
            pos = pos.max(s.end());
            if pos >= to {
                return None;
            }
        }
        (pos < to).then_some((pos, to))
    }

    /// Whether a byte-less range `[start, end)` can be stored without a new entry.
    pub fn would_merge_seen(&self, start: u64, end: u64) -> bool {
        let i = self.list.partition_point(|s| s.start < start);
        let left = i.checked_sub(1).and_then(|j| self.list.get(j));
        let right = self.list.get(i);
        matches!(left, Some(l) if l.fill == Fill::Seen && l.end() == start)
            || matches!(right, Some(r) if r.fill == Fill::Seen && r.start == end)
    }

    /// Insert a range that overlaps none of the stored ones (the caller takes it from
    /// [`Segments::next_uncovered`]). `Seen` ranges merge with `Seen` neighbours they touch.
    pub fn insert(&mut self, seg: Segment) {
        debug_assert!(self.next_uncovered(seg.start, seg.end()) == Some((seg.start, seg.end())));
        let i = self.list.partition_point(|s| s.start < seg.start);
        if seg.fill == Fill::Seen {
            let end = seg.end();
            let merged_left = match i.checked_sub(1).and_then(|j| self.list.get_mut(j)) {
                Some(l) if l.fill == Fill::Seen && l.end() == seg.start => {
                    l.len = l.len.saturating_add(seg.len);
                    true
                }
                _ => false,
            };
            let right_seen =
                matches!(self.list.get(i), Some(r) if r.fill == Fill::Seen && r.start == end);
            match (merged_left, right_seen) {
                (true, true) => {
                    // Three ranges become one: fold the right one into the left.
                    if let Some(r) = self.list.remove(i)
                        && let Some(l) = i.checked_sub(1).and_then(|j| self.list.get_mut(j))
                    {
                        l.len = l.len.saturating_add(r.len);
                        self.seen_entries = self.seen_entries.saturating_sub(1);
                    }
                }
                (true, false) => {}
                (false, true) => {
                    if let Some(r) = self.list.get_mut(i) {
                        r.start = seg.start;
                        r.len = r.len.saturating_add(seg.len);
                        r.frame = seg.frame;
                        r.ts = seg.ts;
                    }
                }
                (false, false) => {
                    self.list.insert(i, seg);
                    self.seen_entries += 1;
                }
            }
            return;
        }
        self.bytes = self.bytes.saturating_add(seg.byte_len());
        match seg.fill {
            Fill::Bytes(_) => self.byte_entries += 1,
            Fill::Missing => self.missing_entries += 1,
            Fill::Seen => {}
        }
        self.list.insert(i, seg);
    }

    /// Turn every byte-holding range that ends at or before `limit` into a `Seen` range (the
    /// consumer skips them). Returns what the memcap was charged for what is gone: their
    /// bytes, and [`SEGMENT_COST`] per entry merged away. Ranges that straddle `limit` keep
    /// their bytes: they are counted off when delivered, and splitting them would cost a copy.
    pub fn forget_bytes_before(&mut self, limit: u64) -> usize {
        let charged_before = self.charged();
        let mut freed = 0usize;
        let mut entries = 0usize;
        for s in self.list.iter_mut() {
            if s.end() > limit {
                break;
            }
            if let Fill::Bytes(v) = &s.fill {
                freed = freed.saturating_add(v.len());
                entries += 1;
                s.fill = Fill::Seen;
            }
        }
        self.bytes = self.bytes.saturating_sub(freed);
        self.byte_entries = self.byte_entries.saturating_sub(entries);
        self.seen_entries += entries;
        // Merge the Seen ranges that now touch, to give the entries back.
        if freed > 0 {
            let mut merged: VecDeque<Segment> = VecDeque::with_capacity(self.list.len());
            for s in self.list.drain(..) {
                match merged.back_mut() {
                    Some(prev)
                        if prev.fill == Fill::Seen
                            && s.fill == Fill::Seen
                            && prev.end() == s.start =>
                    {
                        prev.len = prev.len.saturating_add(s.len);
                    }
                    _ => merged.push_back(s),
                }
            }
            self.list = merged;
            self.seen_entries = self.list.iter().filter(|s| s.fill == Fill::Seen).count();
        }
        charged_before.saturating_sub(self.charged())
    }

    /// Drop everything; returns what was charged for it (bytes plus [`SEGMENT_COST`] per
    /// range).
    pub fn clear(&mut self) -> usize {
        let freed = self.charged();
        self.list.clear();
        self.bytes = 0;
        self.byte_entries = 0;
        self.seen_entries = 0;
        self.missing_entries = 0;
        freed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(start: u64, fill: Fill, len: u64) -> Segment {
        Segment {
            start,
            len,
            fill,
            frame: 1,
            ts: Timestamp::ZERO,
        }
    }

    #[test]
    fn uncovered_ranges_between_segments() {
        let mut s = Segments::default();
        s.insert(seg(10, Fill::Bytes(vec![0; 10]), 10));
        s.insert(seg(30, Fill::Missing, 5));
        assert_eq!(s.next_uncovered(0, 100), Some((0, 10)));
        assert_eq!(s.next_uncovered(10, 100), Some((20, 30)));
        assert_eq!(s.next_uncovered(12, 18), None);
        assert_eq!(s.next_uncovered(15, 32), Some((20, 30)));
        assert_eq!(s.next_uncovered(30, 35), None);
        assert_eq!(s.next_uncovered(33, 40), Some((35, 40)));
        assert_eq!(s.bytes(), 10);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn seen_ranges_merge() {
        let mut s = Segments::default();
        s.insert(seg(0, Fill::Seen, 10));
        s.insert(seg(20, Fill::Seen, 10));
        assert!(s.would_merge_seen(10, 20));
        assert!(!s.would_merge_seen(11, 19));
        s.insert(seg(10, Fill::Seen, 10));
        assert_eq!(s.len(), 1);
        assert_eq!(s.last_end(), Some(30));
        s.insert(seg(35, Fill::Seen, 5));
        s.insert(seg(30, Fill::Seen, 5));
        assert_eq!(s.len(), 1);
        assert_eq!(s.front().map(|f| (f.start, f.len)), Some((0, 40)));
    }

    #[test]
    fn forgetting_bytes_frees_and_merges() {
        let mut s = Segments::default();
        s.insert(seg(0, Fill::Seen, 10));
        s.insert(seg(10, Fill::Bytes(vec![1; 10]), 10));
        s.insert(seg(25, Fill::Bytes(vec![2; 10]), 10));
        // The first Seen range and the forgotten one merge: its bytes and one entry are freed.
        assert_eq!(s.forget_bytes_before(30), 10 + SEGMENT_COST);
        assert_eq!(s.len(), 2);
        assert_eq!(s.bytes(), 10);
        assert_eq!(s.clear(), 10 + 2 * SEGMENT_COST);
        assert!(s.is_empty());
    }
}
