//! What a record needs once it has left its host: which host wrote it, on which interface,
//! with which modsniff, when (UTC), and an identity (`session`, `seq`) that makes loading it
//! somewhere else idempotent.
//!
//! The fields are one object declared here and flattened into every record right after
//! `record_version`; a record without them (`read` unless asked) is byte for byte what it
//! was before they existed.

use super::values::Secs;
use super::write::{self, WriteJson, json_object};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};
use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

json_object! {
    /// The fleet fields: where, when and by what a record was written, and its identity
    /// (`session`, `seq`). `live` and `run` write them on every record; `read` with
    /// `--fleet` (or `--host-name`).
    pub struct Fleet<'a> {
        /// The host that wrote the record (`--host-name`, else the system's host name).
        pub host_name: &'a str,
        /// The capture interface (`live`, `run`); left out for `read`.
        #[omit]
        pub interface: Option<&'a str>,
        /// The version of the modsniff that wrote the record.
        pub modsniff_version: &'a str,
        /// A random identifier (UUID version 4) of the modsniff process that wrote the record.
        pub session: &'a str,
        /// The record's number within its session, from 1, without gaps: (`host_name`,
        /// `session`, `seq`) identifies a record, and a gap says that records were lost.
        pub seq: u64,
        /// When the record was written (the writer's clock, not the capture's), UTC.
        pub time: UtcTime,
        /// The same instant as seconds since the Unix epoch.
        pub time_unix: Secs,
    }
}

/// An instant written as UTC ISO 8601 with microseconds: `2026-05-01T12:00:00.123456Z`.
#[derive(Clone, Copy, Debug)]
pub struct UtcTime(pub u64);

impl UtcTime {
    /// The text, into `o` (26 bytes, no quotes).
    fn digits(&self, o: &mut Vec<u8>) {
        let micros = self.0 / 1000;
        let secs = micros / 1_000_000;
        let (y, m, d) = civil_from_days(secs / 86_400);
        let day = secs % 86_400;
        let two = |o: &mut Vec<u8>, v: u64| {
            // v < 100: both casts are in range.
            o.push(b'0' + (v / 10) as u8);
            o.push(b'0' + (v % 10) as u8);
        };
        write::int(o, y);
        o.push(b'-');
        two(o, m);
        o.push(b'-');
        two(o, d);
        o.push(b'T');
        two(o, day / 3600);
        o.push(b':');
        two(o, day / 60 % 60);
        o.push(b':');
        two(o, day % 60);
        o.push(b'.');
        let frac = micros % 1_000_000;
        for shift in [100_000, 10_000, 1000, 100, 10, 1] {
            // One decimal digit.
            o.push(b'0' + (frac / shift % 10) as u8);
        }
        o.push(b'Z');
    }
}

/// `20260501T120000.123456Z` (ISO 8601's basic format, UTC, microseconds): a file name part
/// that sorts in time order.
pub fn write_utc_compact(o: &mut Vec<u8>, nanos: u64) {
    let mut text = Vec::with_capacity(32);
    UtcTime(nanos).digits(&mut text);
    o.extend(text.into_iter().filter(|b| *b != b'-' && *b != b':'));
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days from the epoch on).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

impl Serialize for UtcTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut text = Vec::with_capacity(32);
        self.digits(&mut text);
        // ASCII digits and punctuation only.
        s.serialize_str(std::str::from_utf8(&text).unwrap_or_default())
    }
}

impl WriteJson for UtcTime {
    fn write_json(&self, o: &mut Vec<u8>) {
        o.push(b'"');
        self.digits(o);
        o.push(b'"');
    }
}

impl JsonSchema for UtcTime {
    fn schema_name() -> Cow<'static, str> {
        "UtcTime".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An instant in UTC, ISO 8601 with microseconds: `2026-05-01T12:00:00.123456Z`.",
            "type": "string",
            "pattern": "^[0-9]{4,}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$",
        })
    }
}

/// Who writes the records of this process: set once, before the first record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetIdentity {
    pub host_name: String,
    pub interface: Option<String>,
    pub session: String,
}

impl FleetIdentity {
    /// A new session of `host_name` (the system's host name when `None`).
    pub fn new(host_name: Option<String>, interface: Option<String>) -> Self {
        FleetIdentity {
            host_name: host_name.unwrap_or_else(system_host_name),
            interface,
            session: new_session(),
        }
    }
}

/// Numbers the records of one session and stamps each with the time it is written.
#[derive(Debug)]
pub struct Stamper {
    id: FleetIdentity,
    /// The last `seq` given.
    seq: u64,
}

impl Stamper {
    pub fn new(id: FleetIdentity) -> Self {
        Stamper { id, seq: 0 }
    }

    /// The fields of the next record, at the wall clock's time.
    pub fn next(&mut self) -> Fleet<'_> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        self.next_at(nanos)
    }

    /// The fields of the next record, written at `nanos` since the epoch.
    pub fn next_at(&mut self, nanos: u64) -> Fleet<'_> {
        self.seq += 1;
        Fleet {
            host_name: &self.id.host_name,
            interface: self.id.interface.as_deref(),
            modsniff_version: env!("CARGO_PKG_VERSION"),
            session: &self.id.session,
            seq: self.seq,
            time: UtcTime(nanos),
            time_unix: modsniff_core::Timestamp::from_nanos(nanos).into(),
        }
    }
}

/// The kernel's host name (`uname -n`), else `/etc/hostname`, else `$HOSTNAME`, else
/// `localhost`.
fn system_host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .chain(std::env::var("HOSTNAME").ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// A random UUID (version 4) from the kernel's generator; where it cannot be read, from the
/// standard library's randomly keyed hasher over the time and the process id.
fn new_session() -> String {
    use std::io::Read;
    let mut b = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
    if read.is_err() {
        use std::hash::{BuildHasher, Hasher};
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        for (i, chunk) in b.chunks_mut(8).enumerate() {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(now);
            h.write_u32(std::process::id());
            h.write_usize(i);
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(nanos: u64) -> String {
        let mut o = Vec::new();
        UtcTime(nanos).digits(&mut o);
        String::from_utf8(o).unwrap()
    }

    #[test]
    fn utc_time_as_iso_8601() {
        assert_eq!(text(0), "1970-01-01T00:00:00.000000Z");
        // `date -u -d @951782400` (a leap day), `@1795425455`.
        assert_eq!(text(951_782_400_000_000_000), "2000-02-29T00:00:00.000000Z");
        assert_eq!(
            text(1_795_425_455_550_580_999),
            "2026-11-23T09:17:35.550580Z"
        );
        assert_eq!(
            text(4_102_444_799_999_999_000),
            "2099-12-31T23:59:59.999999Z"
        );
        // Every day for 200 years moves the date by one, month and year rolling over.
        let mut last = text(0);
        for day in 1..(200 * 366) {
            let t = text(day * 86_400_000_000_000);
            assert!(t > last, "{t} after {last}");
            last = t;
        }
    }

    #[test]
    fn sessions_are_version_4_uuids_and_differ() {
        let a = new_session();
        let b = new_session();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'4');
        assert!(matches!(a.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
    }

    #[test]
    fn seq_counts_from_one() {
        let mut s = Stamper::new(FleetIdentity {
            host_name: "h".into(),
            interface: None,
            session: "s".into(),
        });
        assert_eq!(s.next_at(5).seq, 1);
        assert_eq!(s.next_at(5).seq, 2);
    }
}
