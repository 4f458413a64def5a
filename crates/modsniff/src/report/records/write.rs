//! The fast JSON writer of the records (`WriteJson`), and the two macros that declare them.
//!
//! Every object of the contract is declared once, with [`json_object!`] (and every word list
//! with [`json_enum!`]): the macro makes the struct, derives serde's `Serialize` and
//! schemars' `JsonSchema` from it, and writes its [`WriteJson`] from the same field list. The
//! three cannot disagree on which keys exist, in which order, or when one is left out; the
//! tests in `tests.rs` hold the bytes of the two writers equal on every record of every
//! capture we have.
//!
//! Why a second writer at all: serde_json escapes every key (known at compile time) and every
//! string a byte at a time, which was 45 % of its record writing here, and formats every
//! timestamp as a shortest float. Here keys are literals, integers are written with `itoa`'s
//! digits (see `int` for why not through it) and floats through `zmij` (the two crates
//! serde_json 1.0.154 itself calls), timestamps below 2^33 s are written from their integer
//! digits, and strings are escaped with serde_json's table, eight plain bytes at a time.
//! BENCHMARKS.md has the measured difference.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};

/// A value that writes exactly the bytes serde_json writes for its `Serialize`.
pub trait WriteJson {
    fn write_json(&self, o: &mut Vec<u8>);
}

/// An object's fields, each as `,"key":value` (the object without its braces).
pub trait Fields {
    fn write_fields(&self, o: &mut Vec<u8>);
}

/// When a field declared `#[omit]` is left out of its object: when it is empty (`None`, an
/// empty list, `false`, `0`). serde's `skip_serializing_if` and the fast writer both call it.
pub trait Omit {
    fn omit(&self) -> bool;
}

impl<T> Omit for Option<T> {
    fn omit(&self) -> bool {
        self.is_none()
    }
}

impl<T> Omit for &[T] {
    fn omit(&self) -> bool {
        self.is_empty()
    }
}

impl Omit for bool {
    fn omit(&self) -> bool {
        !*self
    }
}

impl Omit for u64 {
    fn omit(&self) -> bool {
        *self == 0
    }
}

/// Declares one object of the output contract: the struct with `Serialize` and `JsonSchema`
/// derived, and its `WriteJson`, from one list of fields.
///
/// Each field is `pub name: Type,` after its doc comment, optionally marked `#[omit]` (left
/// out when empty, see [`Omit`]), `#[key = "..."]` (a JSON key that is not a Rust name) or
/// `#[flatten]` (an `Option` of another declared object whose fields, when it is `Some`, are
/// written in this object's place, as serde's `flatten`).
/// Unknown keys are denied in the schema (`additionalProperties: false`).
macro_rules! json_object {
    (
        $(#[$attr:meta])*
        pub struct $name:ident $(<$lt:lifetime>)? { $($body:tt)* }
    ) => {
        json_object!(@field [$(#[$attr])*] $name [$($lt)?] [] [] $($body)*);
    };
    // Each field adds its declaration to the first list and `(omit|always name key)` to the
    // second; the last rule writes the struct and its writer from the two.
    (@field $attrs:tt $name:ident $lt:tt [$($fields:tt)*] [$($writes:tt)*]
        $(#[doc = $doc:literal])* #[omit] pub $f:ident : $ty:ty, $($rest:tt)*
    ) => {
        json_object!(@field $attrs $name $lt
            [$($fields)*
                $(#[doc = $doc])*
                #[serde(skip_serializing_if = "crate::report::records::write::Omit::omit")]
                pub $f: $ty,
            ]
            [$($writes)* (omit $f stringify!($f))]
            $($rest)*);
    };
    (@field $attrs:tt $name:ident $lt:tt [$($fields:tt)*] [$($writes:tt)*]
        $(#[doc = $doc:literal])* #[flatten] pub $f:ident : $ty:ty, $($rest:tt)*
    ) => {
        json_object!(@field $attrs $name $lt
            [$($fields)* $(#[doc = $doc])* #[serde(flatten)] pub $f: $ty,]
            [$($writes)* (flatten $f)]
            $($rest)*);
    };
    (@field $attrs:tt $name:ident $lt:tt [$($fields:tt)*] [$($writes:tt)*]
        $(#[doc = $doc:literal])* #[key = $key:literal] pub $f:ident : $ty:ty, $($rest:tt)*
    ) => {
        json_object!(@field $attrs $name $lt
            [$($fields)* $(#[doc = $doc])* #[serde(rename = $key)] pub $f: $ty,]
            [$($writes)* (always $f $key)]
            $($rest)*);
    };
    (@field $attrs:tt $name:ident $lt:tt [$($fields:tt)*] [$($writes:tt)*]
        $(#[doc = $doc:literal])* pub $f:ident : $ty:ty, $($rest:tt)*
    ) => {
        json_object!(@field $attrs $name $lt
            [$($fields)* $(#[doc = $doc])* pub $f: $ty,]
            [$($writes)* (always $f stringify!($f))]
            $($rest)*);
    };
    (@field [$($attr:tt)*] $name:ident [$($lt:lifetime)?] [$($fields:tt)*] [$($writes:tt)*]) => {
        $($attr)*
        #[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name $(<$lt>)? { $($fields)* }

        impl $(<$lt>)? $crate::report::records::write::Fields for $name $(<$lt>)? {
            fn write_fields(&self, o: &mut Vec<u8>) {
                $(json_object!(@write self o $writes);)*
            }
        }

        impl $(<$lt>)? $crate::report::records::write::WriteJson for $name $(<$lt>)? {
            fn write_json(&self, o: &mut Vec<u8>) {
                let start = o.len();
                $crate::report::records::write::Fields::write_fields(self, o);
                $crate::report::records::write::close_object(o, start);
            }
        }
    };
    (@write $s:tt $o:ident (always $f:ident $key:expr)) => {
        $o.extend_from_slice(concat!(",\"", $key, "\":").as_bytes());
        $crate::report::records::write::WriteJson::write_json(&$s.$f, $o);
    };
    (@write $s:tt $o:ident (flatten $f:ident)) => {
        if let Some(inner) = &$s.$f {
            $crate::report::records::write::Fields::write_fields(inner, $o);
        }
    };
    (@write $s:tt $o:ident (omit $f:ident $key:expr)) => {
        if !$crate::report::records::write::Omit::omit(&$s.$f) {
            json_object!(@write $s $o (always $f $key));
        }
    };
}

/// Declares a word of the contract (a JSON string out of a fixed list), and its conversion
/// from the domain's enum of the same variants: a variant added there does not compile until
/// it is added here, with its word.
macro_rules! json_enum {
    (
        $(#[$attr:meta])*
        pub enum $name:ident from $src:path { $($variant:ident = $word:literal,)* }
    ) => {
        json_enum!($(#[$attr])* pub enum $name { $($variant = $word,)* });

        impl From<&$src> for $name {
            fn from(v: &$src) -> Self {
                type Source = $src;
                match v {
                    $(Source::$variant => Self::$variant,)*
                }
            }
        }
    };
    (
        $(#[$attr:meta])*
        pub enum $name:ident { $($variant:ident = $word:literal,)* }
    ) => {
        $(#[$attr])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
        pub enum $name {
            $(#[serde(rename = $word)] $variant,)*
        }

        impl $crate::report::records::write::WriteJson for $name {
            fn write_json(&self, o: &mut Vec<u8>) {
                o.extend_from_slice(match self {
                    $(Self::$variant => concat!("\"", $word, "\"").as_bytes(),)*
                });
            }
        }
    };
}

pub(crate) use {json_enum, json_object};

/// Ends an object whose fields were written from `start` on, each after a comma: the first
/// comma becomes the opening brace (or, with no field, `{}` is written).
pub fn close_object(o: &mut Vec<u8>, start: usize) {
    match o.get_mut(start) {
        Some(first) => {
            *first = b'{';
            o.push(b'}');
        }
        None => o.extend_from_slice(b"{}"),
    }
}

// ---- values -------------------------------------------------------------------------------

impl<T: WriteJson + ?Sized> WriteJson for &T {
    fn write_json(&self, o: &mut Vec<u8>) {
        (**self).write_json(o);
    }
}

impl<T: WriteJson> WriteJson for Option<T> {
    fn write_json(&self, o: &mut Vec<u8>) {
        match self {
            Some(v) => v.write_json(o),
            None => o.extend_from_slice(b"null"),
        }
    }
}

impl<T: WriteJson> WriteJson for [T] {
    fn write_json(&self, o: &mut Vec<u8>) {
        array(o, self.iter(), |o, v| v.write_json(o));
    }
}

impl WriteJson for bool {
    fn write_json(&self, o: &mut Vec<u8>) {
        o.extend_from_slice(if *self { b"true" } else { b"false" });
    }
}

impl WriteJson for str {
    fn write_json(&self, o: &mut Vec<u8>) {
        string(o, self);
    }
}

impl WriteJson for String {
    fn write_json(&self, o: &mut Vec<u8>) {
        string(o, self);
    }
}

macro_rules! write_int {
    ($($t:ty)*) => {$(
        impl WriteJson for $t {
            fn write_json(&self, o: &mut Vec<u8>) {
                int(o, *self);
            }
        }
    )*};
}

write_int!(u8 u16 u32 u64 usize i64);

/// A map from names to counts: keys in the map's order, escaped as strings.
impl<K: AsRef<str>, V: WriteJson> WriteJson for BTreeMap<K, V> {
    fn write_json(&self, o: &mut Vec<u8>) {
        let start = o.len();
        for (k, v) in self {
            o.push(b',');
            string(o, k.as_ref());
            o.push(b':');
            v.write_json(o);
        }
        close_object(o, start);
    }
}

/// `[a,b,c]`, each item written by `f`.
pub fn array<T>(
    o: &mut Vec<u8>,
    items: impl Iterator<Item = T>,
    mut f: impl FnMut(&mut Vec<u8>, T),
) {
    o.push(b'[');
    let mut first = true;
    for it in items {
        if !first {
            o.push(b',');
        }
        first = false;
        f(o, it);
    }
    o.push(b']');
}

/// An integer `int` writes: unsigned ones as their `u64`, signed ones as sign and magnitude.
pub trait Decimal: Copy {
    /// `(negative, magnitude)`.
    fn parts(self) -> (bool, u64);
}

macro_rules! decimal_unsigned {
    ($($t:ty)*) => {$(
        impl Decimal for $t {
            fn parts(self) -> (bool, u64) {
                // Every unsigned type here is at most 64 bits wide.
                (false, self as u64)
            }
        }
    )*};
}

decimal_unsigned!(u8 u16 u32 u64 usize);

impl Decimal for i64 {
    fn parts(self) -> (bool, u64) {
        (self < 0, self.unsigned_abs())
    }
}

/// "00" to "99" as little-endian words (the first digit the low byte).
static PAIRS: [u16; 100] = {
    let mut t = [0u16; 100];
    let mut i = 0;
    while i < 100 {
        // i < 100: both digits are below 10.
        t[i] = (b'0' as u16 + (i / 10) as u16) | (b'0' as u16 + (i % 10) as u16) << 8;
        i += 1;
    }
    t
};

/// Eight ASCII `'0'`s as a word.
const ZEROS8: u64 = 0x3030_3030_3030_3030;

/// The 8 decimal digits of `x < 10^8`, leading zeros included, as the bytes of a word (the
/// first digit its lowest byte). Two divisions by 10^4 and four table words, no loop.
fn word8(x: u32) -> u64 {
    let pair = |p: u32| u64::from(PAIRS.get(p as usize).copied().unwrap_or(0x3030));
    let (hi, lo) = (x / 10_000, x % 10_000);
    pair(hi / 100) | pair(hi % 100) << 16 | pair(lo / 100) << 32 | pair(lo % 100) << 48
}

/// `word8(x)` without its leading zeros (one digit kept for 0), and how many digits remain.
fn word8_trimmed(x: u32) -> (u64, usize) {
    let w = word8(x);
    // Each byte minus '0' is the digit itself, with no borrow: the leading zero digits are
    // the low zero bytes.
    let zeros = ((w - ZEROS8).trailing_zeros() / 8).min(7) as usize;
    (w >> (8 * zeros), 8 - zeros)
}

/// The decimal digits of `v` as the bytes of a 16-byte word, and how many there are; `None`
/// past 16 digits. Kept in registers and without a loop: in a stand-alone loop over numbers
/// drawn like the records' (40 % one digit, 25 % ten-digit timestamps) this took 27-32 ns a
/// number where `itoa` and the copy took 49-56 and a loop of divisions by 100 40-43 (the
/// loop runs fewer instructions, but each division waits for the one before); digits
/// stored a byte or two at a time into a stack buffer and copied out as one vector were
/// slower than `itoa` (store-forwarding stall).
fn digits(v: u64) -> Option<(u128, usize)> {
    const E8: u64 = 100_000_000;
    if v < E8 {
        // v < 10^8 fits a u32.
        let (w, n) = word8_trimmed(v as u32);
        return Some((u128::from(w), n));
    }
    if v >= E8 * E8 {
        return None;
    }
    // Both halves are below 10^8.
    let (w, n) = word8_trimmed((v / E8) as u32);
    let low = word8((v % E8) as u32);
    Some((u128::from(w) | u128::from(low) << (8 * n), n + 8))
}

/// Integers as serde_json writes them (`itoa`'s digits). Not through `itoa`'s
/// `extend_from_slice(buffer.format(v))`: that copies a variable length, a call into libc's
/// memmove for every number, which was 4 % of `read --format ndjson --threads 1` in a
/// profile of the quarter corpus (most of the records' numbers are 1 to 10 digits). Here the
/// digits are appended as one 16-byte word (two stores, inlined) and the Vec cut back to
/// them. `integers_match_serde` holds the bytes to serde_json's.
pub fn int<I: Decimal>(o: &mut Vec<u8>, v: I) {
    let (negative, magnitude) = v.parts();
    if negative {
        o.push(b'-');
    }
    if magnitude < 10 {
        // One digit (two numbers in five in the records: counters, flags' zeros): one byte.
        // magnitude < 10: the cast cannot truncate.
        o.push(b'0' + magnitude as u8);
        return;
    }
    if magnitude < 10_000 {
        // Two to four digits (counts, lengths, ports, TTLs: half the records' numbers from
        // ten on): one or two table words, no division by 10^4 and no trimming loop.
        // magnitude < 10^4: both halves are below 100.
        let pair = |p: u64| u32::from(PAIRS.get(p as usize).copied().unwrap_or(0x3030));
        if magnitude < 100 {
            o.extend_from_slice(&pair(magnitude).to_le_bytes()[..2]);
            return;
        }
        let word = pair(magnitude / 100) | pair(magnitude % 100) << 16;
        let (word, n) = if magnitude < 1_000 {
            (word >> 8, 3)
        } else {
            (word, 4)
        };
        let len = o.len();
        o.extend_from_slice(&word.to_le_bytes());
        o.truncate(len + n);
        return;
    }
    match digits(magnitude) {
        Some((word, n)) => {
            let len = o.len();
            o.extend_from_slice(&word.to_le_bytes());
            o.truncate(len + n);
        }
        None => o.extend_from_slice(itoa::Buffer::new().format(magnitude).as_bytes()),
    }
}

/// Below 2^33 s (the year 2242) a double's spacing is under a microsecond.
pub const EXACT_MICROS_BELOW_SECS: u64 = 1 << 33;

/// The seconds of `Secs`'s `Serialize`: the f64 `micros / 1e6`, which zmij prints as the
/// shortest decimal that reads back as it (fixed notation from 1e-5 to 1e16, else `5e-6`).
/// Below 2^33 s the digits are made from the integers instead: the division is correctly
/// rounded and doubles there are closer than 1e-6, so that shortest decimal is
/// `secs.micros` with the trailing zeros cut (`secs.0` for a whole number, `Ne-6` below
/// 1e-5). Beyond, zmij. Sweeps and proptests in `tests.rs` hold the two to the same bytes.
pub fn secs(o: &mut Vec<u8>, nanos: u64) {
    let micros = nanos / 1000;
    let (whole, frac) = (micros / 1_000_000, micros % 1_000_000);
    if whole >= EXACT_MICROS_BELOW_SECS {
        float(o, micros as f64 / 1e6);
        return;
    }
    if whole == 0 && frac < 10 {
        // frac < 10: the cast cannot truncate.
        let small = [b'0' + frac as u8, b'e', b'-', b'6'];
        o.extend_from_slice(if frac == 0 { b"0.0" } else { &small });
        return;
    }
    whole_secs(o, whole);
    if frac == 0 {
        o.extend_from_slice(b".0");
        return;
    }
    // `.` and the six digits of frac without their trailing zeros (frac != 0: at most five),
    // as the bytes of one word, as `int` writes its digits. frac < 10^6: word8 has two
    // leading zeros, shifted out; the trailing zeros are the high zero bytes after '0' is
    // taken from each.
    let six = word8(frac as u32) >> 16;
    let trailing = ((six - (ZEROS8 >> 16)) << 16).leading_zeros() as usize / 8;
    let kept = 6 - trailing.min(5);
    let word = six << 8 | u64::from(b'.');
    let len = o.len();
    o.extend_from_slice(&word.to_le_bytes());
    o.truncate(len + kept + 1);
}

thread_local! {
    /// The whole seconds `secs` wrote last, and their digits as `digits` made them.
    static LAST_WHOLE_SECS: Cell<(u64, u128, usize)> = const { Cell::new((0, 0, 0)) };
}

/// `int(o, whole)` for the whole seconds of a time: consecutive times in a record (and
/// records in a row) mostly share their second, whose ten digits are taken from the last
/// time's instead of being made again (1.3 million times on the quarter corpus).
fn whole_secs(o: &mut Vec<u8>, whole: u64) {
    if whole < 10 {
        int(o, whole);
        return;
    }
    let (last, word, n) = LAST_WHOLE_SECS.get();
    let (word, n) = if last == whole {
        (word, n)
    } else {
        match digits(whole) {
            Some((word, n)) => {
                LAST_WHOLE_SECS.set((whole, word, n));
                (word, n)
            }
            None => {
                int(o, whole);
                return;
            }
        }
    };
    let len = o.len();
    o.extend_from_slice(&word.to_le_bytes());
    o.truncate(len + n);
}

/// serde_json's `serialize_f64`: `null` for NaN and infinities, else `zmij`'s shortest form
/// (`5e-6`, `1795389452.253`, `0.0`).
pub fn float(o: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        o.extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
    } else {
        o.extend_from_slice(b"null");
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A code point as the JSON string `"0x%04x"`.
pub fn hex16(o: &mut Vec<u8>, v: u16) {
    let d = |shift: u16| HEX[usize::from((v >> shift) & 0xf)];
    o.extend_from_slice(&[b'"', b'0', b'x', d(12), d(8), d(4), d(0), b'"']);
}

/// `Display`, as serde's `SocketAddr` impl writes it; nothing in it needs escaping.
pub fn socket(o: &mut Vec<u8>, a: &SocketAddr) {
    o.push(b'"');
    match a {
        SocketAddr::V4(v4) => {
            ipv4(o, v4.ip().octets());
            o.push(b':');
            int(o, v4.port());
        }
        // Writing into a Vec cannot fail.
        SocketAddr::V6(v6) => {
            let _ = write!(o, "{v6}");
        }
    }
    o.push(b'"');
}

/// `Display`, as serde's `IpAddr` impl writes it.
pub fn ip(o: &mut Vec<u8>, a: &IpAddr) {
    o.push(b'"');
    match a {
        IpAddr::V4(v4) => ipv4(o, v4.octets()),
        IpAddr::V6(v6) => {
            let _ = write!(o, "{v6}");
        }
    }
    o.push(b'"');
}

/// "0" to "255" as the bytes of a word (the first digit its lowest byte), with how many
/// digits in the top byte.
static OCTETS: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        // i < 256: each digit is below 10.
        let (h, te, u) = ((i / 100) as u32, (i / 10 % 10) as u32, (i % 10) as u32);
        let zero = b'0' as u32;
        t[i] = if i >= 100 {
            (zero + h) | (zero + te) << 8 | (zero + u) << 16 | 3 << 24
        } else if i >= 10 {
            (zero + te) | (zero + u) << 8 | 2 << 24
        } else {
            (zero + u) | 1 << 24
        };
        i += 1;
    }
    t
};

/// An IPv4 address as `Display` writes it, made in one 16-byte word (15 bytes at most) from
/// a table of the octets' digits and appended as `int` appends its digits. Four calls of
/// `int` and three pushes were ~430 instructions an address (callgrind, quarter corpus:
/// 270,280 addresses, 3.4 % of an NDJSON run); this is ~115.
fn ipv4(o: &mut Vec<u8>, octets: [u8; 4]) {
    let mut word = 0u128;
    let mut len = 0usize;
    for (i, x) in octets.into_iter().enumerate() {
        if i > 0 {
            word |= u128::from(b'.') << (8 * len);
            len += 1;
        }
        let digits = OCTETS[usize::from(x)];
        word |= u128::from(digits & 0x00ff_ffff) << (8 * len);
        len += (digits >> 24) as usize;
    }
    let at = o.len();
    o.extend_from_slice(&word.to_le_bytes());
    o.truncate(at + len);
}

/// serde_json's escape table: `b'x'` means the byte is written `\x`, `b'u'` means `\u00XX`,
/// 0 means as is (everything from 0x20 up but `"` and `\`, DEL and non-ASCII included).
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// Some byte of `w` is below 0x20, `"` or `\\`. Each term is the "has a byte below n"
/// trick (`(x - n*ONES) & !x & HIGH`); a borrow can only make bytes above a real hit look
/// like hits, so "any" is exact.
fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    let hits = (w.wrapping_sub(ONES * 0x20) & !w)
        | (quote.wrapping_sub(ONES) & !quote)
        | (backslash.wrapping_sub(ONES) & !backslash);
    hits & HIGH != 0
}

/// Some byte of `bytes` is escaped in JSON: eight bytes at a time, the tail as the last
/// eight bytes (which overlap words already seen), a string under eight bytes a byte at a
/// time.
fn needs_escape(bytes: &[u8]) -> bool {
    if bytes.len() < 8 {
        return bytes.iter().any(|&b| ESCAPE[usize::from(b)] != 0);
    }
    let word = |at: usize| {
        bytes
            .get(at..at + 8)
            .and_then(|c| <[u8; 8]>::try_from(c).ok())
            .is_none_or(|w| word_needs_escape(u64::from_le_bytes(w)))
    };
    let whole = bytes.len() / 8 * 8;
    (0..whole).step_by(8).any(word) || (whole < bytes.len() && word(bytes.len() - 8))
}

/// A JSON string exactly as serde_json escapes it: runs of plain bytes are copied whole, and
/// found eight bytes at a time (JA3/JA4 strings, names and histories rarely need escaping).
pub fn string(o: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if !needs_escape(bytes) {
        // Nearly every string of the records (names, record types, fingerprints): copied
        // whole, without the byte loop below for the tail after the last whole word.
        o.push(b'"');
        o.extend_from_slice(bytes);
        o.push(b'"');
        return;
    }
    o.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(w) = bytes
            .get(i..i + 8)
            .and_then(|c| <[u8; 8]>::try_from(c).ok())
            && !word_needs_escape(u64::from_le_bytes(w))
        {
            i += 8;
            continue;
        }
        let end = (i + 8).min(bytes.len());
        while i < end {
            let b = bytes.get(i).copied().unwrap_or_default();
            i += 1;
            let esc = ESCAPE[usize::from(b)];
            if esc == 0 {
                continue;
            }
            o.extend_from_slice(bytes.get(start..i - 1).unwrap_or_default());
            start = i;
            if esc == b'u' {
                o.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xf)],
                ]);
            } else {
                o.extend_from_slice(&[b'\\', esc]);
            }
        }
    }
    o.extend_from_slice(bytes.get(start..).unwrap_or_default());
    o.push(b'"');
}
