//! The packet clock. modsniff-core never reads the wall clock: time is whatever the packets
//! say, plus what a live caller passes to `Engine::advance`.

#[cfg(feature = "serde")]
use serde::{Serialize, Serializer};
use std::fmt;

/// A point in time, in nanoseconds since the Unix epoch, as the capture recorded it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The epoch; also what a timestamp of nothing in particular is.
    pub const ZERO: Timestamp = Timestamp(0);

    /// Nanoseconds since the epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Timestamp(nanos)
    }

    /// Seconds and a fraction expressed in `units_per_sec` (1_000_000 for microsecond pcap,
    /// 1_000_000_000 for nanosecond pcap, anything for pcapng's `if_tsresol`).
    pub fn from_parts(secs: u64, frac: u64, units_per_sec: u64) -> Self {
        let units = units_per_sec.max(1);
        let frac_nanos = if units == 1_000_000_000 {
            frac
        } else {
            ((frac as u128 * 1_000_000_000u128) / units as u128) as u64
        };
        Timestamp(
            secs.saturating_mul(1_000_000_000)
                .saturating_add(frac_nanos),
        )
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds since the epoch.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later (captures are not
    /// always in time order).
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }

    /// `d` later (the largest timestamp at most).
    pub fn saturating_add(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(d.0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:06}",
            self.0 / 1_000_000_000,
            (self.0 % 1_000_000_000) / 1000
        )
    }
}

/// Serialized as seconds since the epoch with microsecond precision (tshark's
/// `frame.time_epoch`), so that JSON consumers need no custom parsing.
#[cfg(feature = "serde")]
impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64((self.0 / 1000) as f64 / 1e6)
    }
}

/// A span of packet time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(u64);

impl Duration {
    /// No time.
    pub const ZERO: Duration = Duration(0);
    /// From nanoseconds.
    pub const fn from_nanos(n: u64) -> Self {
        Duration(n)
    }
    /// From milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Duration(ms * 1_000_000)
    }
    /// From seconds.
    pub const fn from_secs(s: u64) -> Self {
        Duration(s * 1_000_000_000)
    }
    /// In nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// In seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// In milliseconds.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

/// Serialized as seconds (float).
#[cfg(feature = "serde")]
impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64((self.0 / 1000) as f64 / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_at_every_resolution() {
        assert_eq!(
            Timestamp::from_parts(1, 5, 1_000_000).as_nanos(),
            1_000_005_000
        );
        assert_eq!(
            Timestamp::from_parts(1, 5, 1_000_000_000).as_nanos(),
            1_000_000_005
        );
        assert_eq!(Timestamp::from_parts(2, 1, 1).as_nanos(), 3_000_000_000);
        assert_eq!(Timestamp::from_parts(0, 1, 1024).as_nanos(), 976_562);
    }

    #[test]
    fn since_never_underflows() {
        let a = Timestamp::from_nanos(10);
        let b = Timestamp::from_nanos(20);
        assert_eq!(b.since(a), Duration::from_nanos(10));
        assert_eq!(a.since(b), Duration::ZERO);
    }
}
