//! TCP sequence numbers: 32-bit values compared modulo 2^32 (RFC 793 §3.3, RFC 1982 serial
//! number arithmetic), as smoltcp's `TcpSeqNumber` does.
//!
//! Two sequence numbers are only comparable when they are less than 2^31 apart; exactly 2^31
//! apart the order is undefined and `partial_cmp` says so with `None`. This is why
//! [`SeqNumber`] implements `PartialOrd` but not `Ord`: the relation is not transitive around
//! the circle. Stream positions that must be totally ordered are u64 offsets instead.

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, Sub};

/// A TCP sequence number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// The sequence number `n` bytes after this one, wrapping around 2^32.
    #[inline]
    pub const fn wrapping_add(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n))
    }

    /// Signed distance from `other` to `self` modulo 2^32: positive when `self` comes after
    /// `other`. Meaningful only when the two are less than 2^31 apart.
    #[inline]
    pub const fn diff(self, other: SeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// `self` comes before `other`: `self.diff(other) < 0`. Unlike `<`, this decides every
    /// pair: exactly half the circle apart counts as before. TCP analysis, which must give
    /// every segment an answer, compares this way (Wireshark's `LT_SEQ`).
    #[inline]
    pub const fn is_before(self, other: SeqNumber) -> bool {
        self.diff(other) < 0
    }

    /// `max` in sequence space (the later of the two).
    #[inline]
    pub fn max_seq(self, other: SeqNumber) -> SeqNumber {
        if self.diff(other) >= 0 { self } else { other }
    }
}

impl Add<u32> for SeqNumber {
    type Output = SeqNumber;
    #[inline]
    fn add(self, n: u32) -> SeqNumber {
        self.wrapping_add(n)
    }
}

/// `a - b` is the signed distance from `b` to `a` (see [`SeqNumber::diff`]).
impl Sub for SeqNumber {
    type Output = i32;
    #[inline]
    fn sub(self, other: SeqNumber) -> i32 {
        self.diff(other)
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &SeqNumber) -> Option<Ordering> {
        match self.diff(*other) {
            // Exactly half the circle apart: RFC 1982 leaves the order undefined.
            i32::MIN => None,
            d => Some(d.cmp(&0)),
        }
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_across_wraparound() {
        let near_end = SeqNumber(u32::MAX - 10);
        let wrapped = near_end + 20;
        assert_eq!(wrapped, SeqNumber(9));
        assert!(wrapped > near_end);
        assert!(near_end < wrapped);
        assert_eq!(wrapped - near_end, 20);
        assert_eq!(near_end - wrapped, -20);
        assert_eq!(near_end.max_seq(wrapped), wrapped);
    }

    #[test]
    fn half_circle_is_unordered() {
        let a = SeqNumber(0);
        let b = SeqNumber(1 << 31);
        assert_eq!(a.partial_cmp(&b), None);
        assert_eq!(b.partial_cmp(&a), None);
        assert!(a != b);
        // One less than half the circle is still ordered.
        assert!(SeqNumber((1 << 31) - 1) > a);
        assert!(SeqNumber((1 << 31) + 1) < a);
    }

    #[test]
    fn equal_is_equal() {
        assert_eq!(
            SeqNumber(5).partial_cmp(&SeqNumber(5)),
            Some(Ordering::Equal)
        );
    }
}
