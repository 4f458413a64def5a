//! Bounds on what the reassemblers may buffer, per direction and over the whole engine.
//!
//! Only out-of-order bytes are ever buffered (in-order bytes go straight from the packet to
//! the consumer), so these limits bound the cost of reordering and loss, never the size of a
//! stream. Every refusal is counted; refused bytes later surface as a `Chunk::Gap`.

/// Default for [`ReassemblyLimits::max_ooo_bytes_per_dir`]: 256 KiB, several round trips of
/// reordering at ordinary window sizes. A hole wider than this is almost always capture loss.
pub const DEFAULT_MAX_OOO_BYTES_PER_DIR: usize = 256 * 1024;
/// Default for [`ReassemblyLimits::max_ooo_segments_per_dir`]: 256. Bounds the bookkeeping
/// cost (entries are kept in a sorted deque) as well as memory for many tiny segments; 256
/// full-sized segments are already more than the 256 KiB byte bound holds.
pub const DEFAULT_MAX_OOO_SEGMENTS_PER_DIR: usize = 256;
/// Default for [`ReassemblyLimits::max_ooo_distance`]: 1 GiB, the largest window TCP can
/// advertise (65535 << 14). A segment or ACK further ahead than that is not part of this
/// stream (a bogus or reused sequence space) and is refused.
pub const DEFAULT_MAX_OOO_DISTANCE: u64 = 1 << 30;
/// Default for [`MemBudget::cap`]: 24 MiB of out-of-order bytes over all reassemblers, so that
/// the engine's memory stays bounded with the other defaults (see `Limits`).
pub const DEFAULT_MEMCAP: usize = 24 * 1024 * 1024;

/// What a reassembler does when an out-of-order segment does not fit in its buffer (its own
/// limits or the global [`MemBudget`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum OverflowPolicy {
    /// Move on: declare the first hole lost (a `Gap` from the delivered point up to the first
    /// buffered segment, or up to the new segment when that comes first), deliver whatever is
    /// now in order (which frees the buffer), and try again. Nothing is ever refused under
    /// this policy; the price is that a retransmission that would have filled that hole later
    /// arrives too late and counts as retransmitted. The default, because a hole wider than
    /// the buffer is almost always capture loss, and the data in hand is worth more than the
    /// hope of a retransmission.
    #[default]
    GapAndFlush,
    /// Refuse the new segment's bytes (counted in `dropped_bytes`); the hole they leave becomes
    /// a `Gap` when the peer acknowledges past it or the stream ends.
    DropNew,
}

/// Per-direction bounds, shared by all reassemblers of an engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ReassemblyLimits {
    /// Out-of-order payload bytes one direction may hold.
    pub max_ooo_bytes_per_dir: usize,
    /// Out-of-order segments (buffered ranges, including byte-less bookkeeping ranges for
    /// skipped data) one direction may hold.
    pub max_ooo_segments_per_dir: usize,
    /// How far ahead of the delivered point a segment or ACK may lie, in bytes.
    pub max_ooo_distance: u64,
    /// What to do when a segment does not fit.
    pub on_overflow: OverflowPolicy,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        ReassemblyLimits {
            max_ooo_bytes_per_dir: DEFAULT_MAX_OOO_BYTES_PER_DIR,
            max_ooo_segments_per_dir: DEFAULT_MAX_OOO_SEGMENTS_PER_DIR,
            max_ooo_distance: DEFAULT_MAX_OOO_DISTANCE,
            on_overflow: OverflowPolicy::default(),
        }
    }
}

/// The global memcap: out-of-order bytes buffered by all reassemblers together.
///
/// Reassemblers reserve from it before copying a segment and release when the bytes are
/// delivered, skipped or discarded. A reassembler that is dropped without
/// [`Reassembler::finish`](super::Reassembler::finish) or
/// [`Reassembler::discard`](super::Reassembler::discard) leaks its share, so the engine must
/// call one of them on every stream it forgets.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MemBudget {
    cap: usize,
    used: usize,
    peak: usize,
    refusals: u64,
    refused_bytes: u64,
}

impl Default for MemBudget {
    fn default() -> Self {
        MemBudget::new(DEFAULT_MEMCAP)
    }
}

impl MemBudget {
    pub fn new(cap: usize) -> Self {
        MemBudget {
            cap,
            used: 0,
            peak: 0,
            refusals: 0,
            refused_bytes: 0,
        }
    }

    /// Reserve `n` bytes; `false` (and counted) when that would exceed the cap.
    pub fn try_reserve(&mut self, n: usize) -> bool {
        match self.used.checked_add(n) {
            Some(total) if total <= self.cap => {
                self.used = total;
                self.peak = self.peak.max(total);
                true
            }
            _ => {
                self.refusals += 1;
                self.refused_bytes = self.refused_bytes.saturating_add(n as u64);
                false
            }
        }
    }

    /// Give back `n` reserved bytes.
    pub fn release(&mut self, n: usize) {
        debug_assert!(n <= self.used, "released more than reserved");
        self.used = self.used.saturating_sub(n);
    }

    pub fn cap(&self) -> usize {
        self.cap
    }
    /// Bytes currently reserved.
    pub fn used(&self) -> usize {
        self.used
    }
    /// Highest `used` ever seen.
    pub fn peak(&self) -> usize {
        self.peak
    }
    /// How many reservations were refused.
    pub fn refusals(&self) -> u64 {
        self.refusals
    }
    /// Bytes asked for by refused reservations.
    pub fn refused_bytes(&self) -> u64 {
        self.refused_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_refuses_past_cap_and_counts() {
        let mut b = MemBudget::new(100);
        assert!(b.try_reserve(60));
        assert!(!b.try_reserve(41));
        assert!(b.try_reserve(40));
        assert_eq!(
            (b.used(), b.peak(), b.refusals(), b.refused_bytes()),
            (100, 100, 1, 41)
        );
        b.release(70);
        assert_eq!(b.used(), 30);
        assert_eq!(b.peak(), 100);
        assert!(!b.try_reserve(usize::MAX));
    }
}
