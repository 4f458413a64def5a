//! JA3 / JA3S (Salesforce, as tshark computes them) and JA4 (FoxIO).
//!
//! JA3: `version,ciphers,extensions,groups,point_formats`, decimal, lists joined by `-`,
//! GREASE removed from ciphers, extensions and groups (tshark's `tls.handshake.ja3_full`).
//! Everything else is kept in wire order, padding (21) and ECH (65037) included, and point
//! formats are listed as sent; this equals tshark 4.0 on all 109 comparable hellos of the
//! public corpus (tests/data/tls/ja3-tshark.tsv), 12 of which carry padding.
//! JA3S: `version,cipher,extensions`.
//! JA4: `t` + version (highest non-GREASE supported_versions, else legacy) + `d`/`i` (SNI) +
//! cipher count + extension count (2 digits, GREASE excluded, capped at 99) + first and last
//! character of the first ALPN value (the first and last hex digit of its bytes when the
//! first or last byte is not ASCII alphanumeric, as FoxIO's JA4.md says since 2024; their
//! Rust, Python and Wireshark tools still print `99` for non-ASCII values, the rule before
//! it), `_`, first 12 hex of SHA-256 over the sorted cipher
//! list, `_`, same over the sorted extension list without SNI and ALPN followed by `_` and
//! the signature algorithms in wire order.

use super::client_hello::{ClientHello, RawHello};
use super::record::{CipherSuite, ExtensionType, GroupInfo, SignatureScheme, TlsVersion};
use md5::{Digest as _, Md5};
use rustc_hash::FxHashMap;
use sha2::Sha256;
use std::sync::{Arc, Mutex};

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

pub fn md5_hex(data: &[u8]) -> String {
    super::record::hex(&Md5::digest(data), None)
}

pub fn sha256_hex(data: &[u8]) -> String {
    super::record::hex(&Sha256::digest(data), None)
}

/// Decimal without `write!`: the formatting machinery per value was most of the cost of
/// the JA3 string.
fn push_dec(out: &mut String, v: u16) {
    let mut buf = [0u8; 5];
    let mut n = v;
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(slot) = buf.get_mut(i) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    out.extend(buf.iter().skip(i).map(|&b| char::from(b)));
}

fn join_dec(out: &mut String, vals: impl Iterator<Item = u16>) {
    for (i, v) in vals.enumerate() {
        if i > 0 {
            out.push('-');
        }
        push_dec(out, v);
    }
}

/// What JA3 and JA4 are computed from, and nothing else: the fingerprints are a pure
/// function of these fields, which is what lets [`FingerprintCache`] key on them.
#[derive(Clone, Copy, Debug)]
pub struct HelloShape<'a> {
    pub legacy_version: TlsVersion,
    pub versions: &'a [TlsVersion],
    pub cipher_suites: &'a [CipherSuite],
    pub extensions: &'a [ExtensionType],
    pub groups: &'a [GroupInfo],
    pub ec_point_formats: &'a [u8],
    pub signature_algorithms: &'a [SignatureScheme],
    /// The first ALPN value's bytes as sent (not the text `ClientHello::alpn` keeps: that
    /// is lossy for bytes that are not UTF-8).
    pub alpn_first: Option<&'a [u8]>,
}

impl<'a> HelloShape<'a> {
    /// The shape of a parsed hello; `alpn_first` is the UTF-8 of its first ALPN value, which
    /// equals the bytes sent unless they were not UTF-8 (the parser sets it from the wire).
    pub fn of(ch: &'a ClientHello) -> Self {
        HelloShape {
            legacy_version: ch.legacy_version,
            versions: &ch.versions,
            cipher_suites: &ch.cipher_suites,
            extensions: &ch.extensions,
            groups: &ch.groups,
            ec_point_formats: &ch.ec_point_formats,
            signature_algorithms: &ch.signature_algorithms,
            alpn_first: ch.alpn.first().map(String::as_bytes),
        }
    }

    /// Appends an injective encoding of every field (each list prefixed by its length), so
    /// two shapes have the same key exactly when all their fields are equal.
    /// `client_hello::RawHello::write_key` writes the same bytes from the wire.
    pub(super) fn write_key(&self, out: &mut Vec<u8>) {
        fn list<T: Copy>(out: &mut Vec<u8>, items: &[T], code: impl Fn(T) -> u16) {
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for &i in items {
                out.extend_from_slice(&code(i).to_be_bytes());
            }
        }
        out.extend_from_slice(&self.legacy_version.0.to_be_bytes());
        list(out, self.versions, |v| v.0);
        list(out, self.cipher_suites, |c| c.0);
        list(out, self.extensions, |e| e.0);
        list(out, self.groups, |g| g.id.0);
        list(out, self.ec_point_formats, u16::from);
        list(out, self.signature_algorithms, |s| s.0);
        write_alpn_key(out, self.alpn_first);
    }
}

/// The last field of a ClientHello's cache key: the first ALPN protocol, present or not,
/// length-prefixed. Written by [`HelloShape::write_key`] and `RawHello::write_key` alike.
pub(super) fn write_alpn_key(out: &mut Vec<u8>, alpn_first: Option<&[u8]>) {
    match alpn_first {
        None => out.push(0),
        Some(a) => {
            out.push(1);
            out.extend_from_slice(&(a.len() as u64).to_le_bytes());
            out.extend_from_slice(a);
        }
    }
}

/// JA3 and JA4 of one ClientHello. Shared text (`Arc<str>`): the cache hands the same
/// strings to every hello of one shape, a reference count each instead of four copies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientFingerprints {
    pub ja3_string: Arc<str>,
    pub ja3: Arc<str>,
    pub ja4: Arc<str>,
    pub ja4_r: Arc<str>,
}

/// The code-point lists of one hello shape (what [`HelloShape`] holds besides the legacy
/// version and the first ALPN value), shared: every hello of a shape gets reference counts
/// from the cache instead of six new vectors (they were ~6 of the ~11 allocations of each
/// ClientHello parsed).
#[derive(Clone, Debug, Default)]
pub(crate) struct HelloLists {
    pub versions: Arc<[TlsVersion]>,
    pub cipher_suites: Arc<[CipherSuite]>,
    pub extensions: Arc<[ExtensionType]>,
    pub groups: Arc<[GroupInfo]>,
    pub ec_point_formats: Arc<[u8]>,
    pub signature_algorithms: Arc<[SignatureScheme]>,
}

impl HelloLists {
    fn of(shape: &HelloShape<'_>) -> Self {
        HelloLists {
            versions: shape.versions.into(),
            cipher_suites: shape.cipher_suites.into(),
            extensions: shape.extensions.into(),
            groups: shape.groups.into(),
            ec_point_formats: shape.ec_point_formats.into(),
            signature_algorithms: shape.signature_algorithms.into(),
        }
    }

    /// The shape these lists make with `legacy_version` and `alpn_first`.
    pub fn shape<'a>(
        &'a self,
        legacy_version: TlsVersion,
        alpn_first: Option<&'a [u8]>,
    ) -> HelloShape<'a> {
        HelloShape {
            legacy_version,
            versions: &self.versions,
            cipher_suites: &self.cipher_suites,
            extensions: &self.extensions,
            groups: &self.groups,
            ec_point_formats: &self.ec_point_formats,
            signature_algorithms: &self.signature_algorithms,
            alpn_first,
        }
    }
}

/// What the cache keeps per hello shape: its fingerprints and its lists.
#[derive(Clone, Debug, Default)]
pub(crate) struct ClientShared {
    pub fingerprints: ClientFingerprints,
    pub lists: HelloLists,
}

impl ClientShared {
    /// The lists of `raw` and their fingerprints.
    pub fn of_raw(raw: &RawHello<'_>) -> Self {
        let lists = raw.lists();
        let fingerprints = ClientFingerprints::of(&lists.shape(raw.legacy_version, raw.alpn_first));
        ClientShared {
            fingerprints,
            lists,
        }
    }
}

impl ClientFingerprints {
    pub fn of(shape: &HelloShape<'_>) -> Self {
        let ja3_string = ja3_of(shape);
        let ja3 = md5_hex(ja3_string.as_bytes());
        let (ja4, ja4_r) = ja4_of(shape);
        ClientFingerprints {
            ja3_string: ja3_string.into(),
            ja3: ja3.into(),
            ja4: ja4.into(),
            ja4_r: ja4_r.into(),
        }
    }
}

/// JA3S of one ServerHello, shared as [`ClientFingerprints`] are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerFingerprints {
    pub ja3s_string: Arc<str>,
    pub ja3s: Arc<str>,
}

impl ServerFingerprints {
    pub fn of(version: TlsVersion, cipher: u16, extensions: &[ExtensionType]) -> Self {
        let ja3s_string = ja3s_string(version, cipher, extensions);
        let ja3s = md5_hex(ja3s_string.as_bytes());
        ServerFingerprints {
            ja3s_string: ja3s_string.into(),
            ja3s: ja3s.into(),
        }
    }
}

fn ja3_of(ch: &HelloShape<'_>) -> String {
    let mut s = String::with_capacity(256);
    push_dec(&mut s, ch.legacy_version.0);
    s.push(',');
    join_dec(
        &mut s,
        ch.cipher_suites
            .iter()
            .filter(|c| !c.is_grease())
            .map(|c| c.0),
    );
    s.push(',');
    join_dec(
        &mut s,
        ch.extensions.iter().filter(|e| !e.is_grease()).map(|e| e.0),
    );
    s.push(',');
    join_dec(
        &mut s,
        ch.groups
            .iter()
            .filter(|g| !g.id.is_grease())
            .map(|g| g.id.0),
    );
    s.push(',');
    join_dec(&mut s, ch.ec_point_formats.iter().map(|&f| u16::from(f)));
    s
}

/// JA3S string of a ServerHello.
pub fn ja3s_string(version: TlsVersion, cipher: u16, extensions: &[ExtensionType]) -> String {
    let mut s = String::with_capacity(64);
    push_dec(&mut s, version.0);
    s.push(',');
    push_dec(&mut s, cipher);
    s.push(',');
    join_dec(
        &mut s,
        extensions.iter().filter(|e| !e.is_grease()).map(|e| e.0),
    );
    s
}

fn ja4_version(v: TlsVersion) -> &'static str {
    match v.0 {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// First and last character of the first ALPN value; their hex form's first and last
/// character when either is not ASCII alphanumeric; "00" without ALPN.
fn ja4_alpn(alpn: &[u8]) -> String {
    match (alpn.first(), alpn.last()) {
        (Some(&f), Some(&l)) if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric() => {
            [char::from(f), char::from(l)].iter().collect()
        }
        // The hex form's first character is the high nibble of the first byte, its last
        // the low nibble of the last byte.
        (Some(&f), Some(&l)) => [f >> 4, l & 0x0f]
            .iter()
            .filter_map(|&n| HEX_DIGITS.get(usize::from(n)).map(|&d| char::from(d)))
            .collect(),
        _ => "00".to_string(),
    }
}

/// The first 12 hex digits of SHA-256 (6 bytes), or twelve zeros for an empty list.
fn push_hash12(out: &mut String, s: &str) {
    if s.is_empty() {
        out.push_str("000000000000");
        return;
    }
    let digest = Sha256::digest(s.as_bytes());
    push_hex_bytes(out, digest.get(..6).unwrap_or_default());
}

fn push_hex_bytes(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            out.extend(HEX_DIGITS.get(usize::from(nibble)).map(|&d| char::from(d)));
        }
    }
}

fn join_hex(out: &mut String, vals: impl Iterator<Item = u16>) {
    for (i, v) in vals.enumerate() {
        if i > 0 {
            out.push(',');
        }
        // By hand: `write!` per value was a visible cost in the JA4 of every ClientHello.
        push_hex_bytes(out, &v.to_be_bytes());
    }
}

/// Returns (ja4, ja4_r).
#[cfg(test)]
pub fn ja4(ch: &ClientHello) -> (String, String) {
    ja4_of(&HelloShape::of(ch))
}

fn ja4_of(ch: &HelloShape<'_>) -> (String, String) {
    let version = ch
        .versions
        .iter()
        .filter(|v| !v.is_grease())
        .max()
        .copied()
        .unwrap_or(ch.legacy_version);
    let sni = if ch.extensions.contains(&ExtensionType::SERVER_NAME) {
        'd'
    } else {
        'i'
    };
    let mut ciphers: Vec<u16> = ch
        .cipher_suites
        .iter()
        .filter(|c| !c.is_grease())
        .map(|c| c.0)
        .collect();
    let mut exts: Vec<u16> = ch
        .extensions
        .iter()
        .filter(|e| !e.is_grease())
        .map(|e| e.0)
        .collect();
    // Part a: t, version, SNI, two 2-digit counts (capped at 99), ALPN characters.
    let mut a = String::with_capacity(10);
    a.push('t');
    a.push_str(ja4_version(version));
    a.push(sni);
    for n in [ciphers.len(), exts.len()] {
        let n = n.min(99) as u8;
        a.push(char::from(b'0' + n / 10));
        a.push(char::from(b'0' + n % 10));
    }
    a.push_str(&ja4_alpn(ch.alpn_first.unwrap_or_default()));
    ciphers.sort_unstable();
    exts.retain(|&e| e != ExtensionType::SERVER_NAME.0 && e != ExtensionType::ALPN.0);
    exts.sort_unstable();
    let sigs = ch.signature_algorithms.iter().filter(|s| !s.is_grease());
    // 4 hex digits and a separator per value.
    let mut ja4_r = String::with_capacity(
        a.len() + 2 + 5 * (ciphers.len() + exts.len() + ch.signature_algorithms.len()),
    );
    ja4_r.push_str(&a);
    ja4_r.push('_');
    let b_start = ja4_r.len();
    join_hex(&mut ja4_r, ciphers.into_iter());
    let b_end = ja4_r.len();
    ja4_r.push('_');
    let c_start = ja4_r.len();
    join_hex(&mut ja4_r, exts.into_iter());
    if ja4_r.len() > c_start && sigs.clone().next().is_some() {
        ja4_r.push('_');
        join_hex(&mut ja4_r, sigs.map(|s| s.0));
    }
    let mut ja4 = String::with_capacity(a.len() + 26);
    ja4.push_str(&a);
    ja4.push('_');
    push_hash12(&mut ja4, ja4_r.get(b_start..b_end).unwrap_or_default());
    ja4.push('_');
    push_hash12(&mut ja4, ja4_r.get(c_start..).unwrap_or_default());
    (ja4, ja4_r)
}

/// Distinct ClientHello shapes (and, separately, ServerHello shapes) whose fingerprints are
/// kept; when full the map is emptied (a capture with more distinct clients just computes
/// them, as without a cache).
pub const MAX_CACHED_FINGERPRINTS: usize = 1024;
/// Longest key kept (the encoded lists of one hello); a larger hello is computed uncached.
pub const MAX_FINGERPRINT_KEY: usize = 4096;

/// What a result cache did (this one and the chain validation cache), for tests and tuning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    /// Computed without the cache (key over its bound, or no exact key possible).
    pub uncached: u64,
    /// Times a map was emptied on reaching its bound on entries.
    pub clears: u64,
}

#[derive(Debug, Default)]
struct CacheMaps {
    /// Reused for every key, so a lookup allocates nothing.
    key: Vec<u8>,
    clients: FxHashMap<Box<[u8]>, ClientShared>,
    servers: FxHashMap<Box<[u8]>, ServerFingerprints>,
    stats: CacheStats,
}

/// JA3/JA4/JA3S by the exact fields they are computed from. Most connections of a capture
/// come from a handful of clients (one Go binary sends the same cipher, extension, group and
/// signature lists every time) and computing the strings and hashes was ~7 % of a full
/// analysis. The key is an injective encoding of everything the fingerprint functions read
/// (not the whole hello: random, session id and key shares change on every connection and
/// the fingerprints ignore them), so a hit returns what the computation would. Behind a
/// mutex only so the configuration can be shared; one engine thread uses it.
#[derive(Debug, Default)]
pub struct FingerprintCache {
    maps: Mutex<CacheMaps>,
}

/// Bounds of one result cache.
#[derive(Clone, Copy, Debug)]
pub(super) struct CacheBounds {
    pub entries: usize,
    pub key_bytes: usize,
}

const FINGERPRINT_BOUNDS: CacheBounds = CacheBounds {
    entries: MAX_CACHED_FINGERPRINTS,
    key_bytes: MAX_FINGERPRINT_KEY,
};

/// `compute()`, or its earlier result for the same `key`; `compute` must be a pure function
/// of what `key` encodes. A full map is emptied, not evicted from: simple, and a capture
/// with more distinct keys than the bound is no slower than without a cache.
pub(super) fn cached<V: Clone>(
    map: &mut FxHashMap<Box<[u8]>, V>,
    key: &[u8],
    bounds: CacheBounds,
    stats: &mut CacheStats,
    compute: impl FnOnce() -> V,
) -> V {
    if key.len() > bounds.key_bytes {
        stats.uncached += 1;
        return compute();
    }
    if let Some(v) = map.get(key) {
        stats.hits += 1;
        return v.clone();
    }
    stats.misses += 1;
    let v = compute();
    if map.len() >= bounds.entries {
        map.clear();
        stats.clears += 1;
    }
    map.insert(key.into(), v.clone());
    v
}

impl FingerprintCache {
    /// `ClientFingerprints::of(shape)`, from the cache when this shape was seen before.
    pub fn client(&self, shape: &HelloShape<'_>) -> ClientFingerprints {
        self.client_shared(
            |key| shape.write_key(key),
            || ClientShared {
                fingerprints: ClientFingerprints::of(shape),
                lists: HelloLists::of(shape),
            },
        )
        .fingerprints
    }

    /// The fingerprints and lists of a hello read from the wire (`ClientShared::of_raw`),
    /// from the cache when a hello of this shape was seen before: keyed, counted and
    /// bounded as [`FingerprintCache::client`] is (the same key bytes).
    pub(crate) fn client_raw(&self, raw: &RawHello<'_>) -> ClientShared {
        self.client_shared(|key| raw.write_key(key), || ClientShared::of_raw(raw))
    }

    /// The hello whose key `write_key` writes, from the cache or from `compute`.
    fn client_shared(
        &self,
        write_key: impl FnOnce(&mut Vec<u8>),
        compute: impl FnOnce() -> ClientShared,
    ) -> ClientShared {
        let Ok(mut guard) = self.maps.lock() else {
            return compute();
        };
        let CacheMaps {
            key,
            clients,
            stats,
            ..
        } = &mut *guard;
        key.clear();
        write_key(key);
        cached(clients, key, FINGERPRINT_BOUNDS, stats, compute)
    }

    /// `ServerFingerprints::of(..)`, from the cache when seen before.
    pub fn server(
        &self,
        version: TlsVersion,
        cipher: u16,
        extensions: &[ExtensionType],
    ) -> ServerFingerprints {
        let compute = || ServerFingerprints::of(version, cipher, extensions);
        let Ok(mut guard) = self.maps.lock() else {
            return compute();
        };
        let CacheMaps {
            key,
            servers,
            stats,
            ..
        } = &mut *guard;
        key.clear();
        key.extend_from_slice(&version.0.to_be_bytes());
        key.extend_from_slice(&cipher.to_be_bytes());
        // The extension list is the rest of the key, so its length needs no prefix.
        for e in extensions {
            key.extend_from_slice(&e.0.to_be_bytes());
        }
        cached(servers, key, FINGERPRINT_BOUNDS, stats, compute)
    }

    pub fn stats(&self) -> CacheStats {
        self.maps.lock().map(|m| m.stats).unwrap_or_default()
    }

    /// Entries held (client and server shapes).
    pub fn len(&self) -> usize {
        self.maps
            .lock()
            .map(|m| m.clients.len() + m.servers.len())
            .unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::tls::record::{CipherSuite, SignatureScheme};

    /// FoxIO's README example (Chrome): its JA4_r is given there in full, so the hashes can
    /// be recomputed from it: `t13d1516h2_8daaf6152771_e5627efa2ab1`.
    #[test]
    fn ja4_foxio_readme_example() {
        let ciphers = [
            0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
            0x009c, 0x009d, 0x002f, 0x0035,
        ];
        let exts = [
            0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012,
            0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
        ];
        let sigs = [
            0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
        ];
        let ch = ClientHello {
            legacy_version: TlsVersion(0x0303),
            versions: vec![TlsVersion(0x2a2a), TlsVersion(0x0304), TlsVersion(0x0303)].into(),
            cipher_suites: std::iter::once(0x0a0a)
                .chain(ciphers)
                .map(CipherSuite)
                .collect(),
            extensions: std::iter::once(0x3a3a)
                .chain(exts)
                .map(ExtensionType)
                .collect(),
            signature_algorithms: sigs.into_iter().map(SignatureScheme).collect(),
            alpn: vec!["h2".into(), "http/1.1".into()],
            ..ClientHello::default()
        };
        let (ja4, ja4_r) = ja4(&ch);
        assert_eq!(
            ja4_r,
            "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601"
        );
        assert_eq!(ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
    }

    /// FoxIO's JA4.md, "ALPN Extension Value": every example it lists, and the cases of
    /// FoxIO's ja4-nginx-module test_alpn.py (spaces and dashes).
    #[test]
    fn ja4_alpn_rules() {
        assert_eq!(ja4_alpn(b"h2"), "h2");
        assert_eq!(ja4_alpn(b"http/1.1"), "h1");
        assert_eq!(ja4_alpn(b""), "00");
        assert_eq!(ja4_alpn(b"h"), "hh");
        // JA4.md's list.
        assert_eq!(ja4_alpn(&[0xab]), "ab");
        assert_eq!(ja4_alpn(&[0x20]), "20");
        assert_eq!(ja4_alpn(&[0xab, 0xcd]), "ad");
        assert_eq!(ja4_alpn(&[0x20, 0x61]), "21");
        assert_eq!(ja4_alpn(&[0x30, 0xab]), "3b");
        assert_eq!(ja4_alpn(&[0x61, 0x20]), "60");
        assert_eq!(ja4_alpn(&[0x30, 0x31, 0xab, 0xcd]), "3d");
        assert_eq!(ja4_alpn(&[0x30, 0xab, 0xcd, 0x31]), "01");
        // ja4-nginx-module.
        assert_eq!(ja4_alpn(b"h "), "60");
        assert_eq!(ja4_alpn(b" h"), "28");
        assert_eq!(ja4_alpn(b"  "), "20");
        assert_eq!(ja4_alpn(b"--"), "2d");
    }
}
