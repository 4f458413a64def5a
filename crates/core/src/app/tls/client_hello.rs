//! ClientHello: what the client offered, as sent (GREASE included), plus JA3 and JA4.
//!
//! Read here, with tls-parser's acceptance rules (the tests compare the two readings) but
//! without its intermediate vectors; the extension list is walked by type and length, so that
//! one extension refused does not lose the ones after it, and the type codes keep the order
//! and GREASE values of the wire.

use super::fingerprint::{ClientShared, FingerprintCache, HelloLists};
use super::record::{
    CipherSuite, ExtensionType, GroupInfo, NamedGroup, SignatureScheme, TlsVersion,
};
use std::sync::Arc;

/// One extension: its type and raw contents.
#[derive(Clone, Copy, Debug)]
pub struct RawExtension<'a> {
    /// The extension type.
    pub ext_type: ExtensionType,
    /// The whole extension (type, length, data), as tls-parser's per-extension parsers want.
    pub whole: &'a [u8],
    /// Its contents (after type and length).
    pub data: &'a [u8],
}

/// Walks an extension block without allocating. Stops at the first extension whose length
/// runs past the block and then reports `truncated`.
#[derive(Clone, Debug)]
pub struct Extensions<'a> {
    block: &'a [u8],
    truncated: bool,
}

impl<'a> Extensions<'a> {
    /// Walks `block`, an extension list without its 2-byte length.
    pub fn new(block: &'a [u8]) -> Self {
        Extensions {
            block,
            truncated: false,
        }
    }

    /// The walk stopped on an extension running past the block (known once it ended).
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

impl<'a> Iterator for Extensions<'a> {
    type Item = RawExtension<'a>;

    fn next(&mut self) -> Option<RawExtension<'a>> {
        if self.block.is_empty() {
            return None;
        }
        let parsed = self.block.split_first_chunk::<4>().and_then(|(hdr, _)| {
            let [t0, t1, l0, l1] = *hdr;
            let len = usize::from(u16::from_be_bytes([l0, l1]));
            let (whole, rest) = self.block.split_at_checked(4 + len)?;
            Some((
                RawExtension {
                    ext_type: ExtensionType(u16::from_be_bytes([t0, t1])),
                    whole,
                    data: whole.get(4..).unwrap_or_default(),
                },
                rest,
            ))
        });
        match parsed {
            Some((ext, rest)) => {
                self.block = rest;
                Some(ext)
            }
            None => {
                self.truncated = true;
                self.block = &[];
                None
            }
        }
    }
}

/// The next `n` bytes of `b`, which moves past them; `None` when fewer are left.
fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, rest) = b.split_at_checked(n)?;
    *b = rest;
    Some(head)
}

/// A big-endian u16 taken from the front of `b`.
fn take16(b: &mut &[u8]) -> Option<u16> {
    let (pair, rest) = b.split_first_chunk::<2>()?;
    *b = rest;
    Some(u16::from_be_bytes(*pair))
}

/// The 16-bit code points of `b`, a trailing odd byte left out.
fn codes(b: &[u8]) -> impl Iterator<Item = u16> + '_ {
    b.as_chunks::<2>()
        .0
        .iter()
        .map(|&pair| u16::from_be_bytes(pair))
}

/// The fixed part of a ClientHello, read as tls-parser's `parse_tls_handshake_client_hello`
/// reads it (a session id over 32 bytes, an odd cipher-suite length or a field running past
/// the body is malformed; a missing or overlong extension block is no block; bytes after the
/// block are ignored) but without its two vectors: the cipher suites go straight into ours.
struct Fixed<'a> {
    version: u16,
    session_id_len: usize,
    ciphers: &'a [u8],
    ext: Option<&'a [u8]>,
}

fn fixed(body: &[u8]) -> Option<Fixed<'_>> {
    let mut b = body;
    let version = take16(&mut b)?;
    take(&mut b, 32)?;
    let session_id_len = usize::from(*take(&mut b, 1)?.first()?);
    if session_id_len > 32 {
        return None;
    }
    take(&mut b, session_id_len)?;
    let cipher_len = usize::from(take16(&mut b)?);
    if cipher_len % 2 == 1 {
        return None;
    }
    let ciphers = take(&mut b, cipher_len)?;
    let compression_len = usize::from(*take(&mut b, 1)?.first()?);
    take(&mut b, compression_len)?;
    let ext = take16(&mut b).and_then(|n| take(&mut b, usize::from(n)));
    Some(Fixed {
        version,
        session_id_len,
        ciphers,
        ext,
    })
}

/// The entries of a server_name or ALPN list, read as tls-parser's
/// `parse_tls_extension_sni_content` and `parse_tls_extension_alpn_content` read them, without
/// their vectors (two allocations per hello): a 2-byte list length whose bytes must all be
/// there (else the extension is refused: `None`), then entries of `head` bytes (a 1-byte
/// type and a 2-byte length for server names, a 1-byte length for ALPN) until one runs past
/// the list, which ends it; bytes after the list are ignored.
pub(crate) mod named {
    use super::{take, take16};

    /// The entries of a list whose entry is a `head`-byte header (its length in the last one
    /// or two bytes) and the bytes it announces.
    #[derive(Clone)]
    pub struct Entries<'a> {
        list: &'a [u8],
        head: usize,
    }

    impl<'a> Iterator for Entries<'a> {
        /// The entry's header and its bytes.
        type Item = (&'a [u8], &'a [u8]);
        fn next(&mut self) -> Option<Self::Item> {
            let mut l = self.list;
            let hdr = take(&mut l, self.head)?;
            let len = match *hdr {
                [.., n] if self.head == 1 => usize::from(n),
                [.., a, b] => usize::from(u16::from_be_bytes([a, b])),
                _ => return None,
            };
            let item = take(&mut l, len)?;
            self.list = l;
            Some((hdr, item))
        }
    }

    fn list(data: &[u8], head: usize) -> Option<Entries<'_>> {
        let mut d = data;
        let n = usize::from(take16(&mut d)?);
        Some(Entries {
            list: take(&mut d, n)?,
            head,
        })
    }

    /// server_name: (type, name) entries. An empty extension is an empty list (tls-parser's
    /// special case for servers).
    pub fn server_names(data: &[u8]) -> Option<impl Iterator<Item = (u8, &[u8])>> {
        let entries = if data.is_empty() {
            Entries { list: &[], head: 3 }
        } else {
            list(data, 3)?
        };
        Some(entries.map(|(hdr, name)| (hdr.first().copied().unwrap_or_default(), name)))
    }

    /// ALPN: the protocol names.
    pub fn protocols(data: &[u8]) -> Option<impl Iterator<Item = &[u8]> + Clone> {
        Some(list(data, 1)?.map(|(_, name)| name))
    }
}

/// The code-point lists of a ClientHello's extensions, read as tls-parser reads them (its
/// `parse_tls_client_hello_extension`; `None` where it fails, and the field then keeps what
/// it had) without its intermediate vectors. Bytes after a list's own length are ignored.
mod lists {
    use super::{take, take16};

    /// supported_groups: a 2-byte length and an even number of bytes.
    pub fn groups(data: &[u8]) -> Option<&[u8]> {
        let mut d = data;
        let n = usize::from(take16(&mut d)?);
        take(&mut d, n).filter(|l| l.len() % 2 == 0)
    }

    /// ec_point_formats: a 1-byte length and the formats.
    pub fn point_formats(data: &[u8]) -> Option<&[u8]> {
        let mut d = data;
        let n = usize::from(*take(&mut d, 1)?.first()?);
        take(&mut d, n)
    }

    /// signature_algorithms: a 2-byte length and the schemes (an odd last byte dropped).
    pub fn signature_algorithms(data: &[u8]) -> Option<&[u8]> {
        let mut d = data;
        let n = usize::from(take16(&mut d)?);
        take(&mut d, n)
    }

    /// supported_versions: exactly two bytes are one version (the ServerHello form);
    /// otherwise the 1-byte length is skipped, not read, and every byte after it must pair up.
    pub fn versions(data: &[u8]) -> Option<&[u8]> {
        if data.len() == 2 {
            return Some(data);
        }
        data.get(1..).filter(|l| l.len() % 2 == 0)
    }
}

/// Everything we keep from a ClientHello. Code points serialize as hex strings ("0x0303").
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ClientHello {
    /// Server name (SNI host_name), `None` when absent.
    pub sni: Option<String>,
    /// ALPN protocol names in the order offered.
    pub alpn: Vec<String>,
    /// supported_versions exactly as sent (GREASE included); empty when absent.
    ///
    /// This list and the five below (`cipher_suites`, `extensions`, `groups`,
    /// `ec_point_formats`, `signature_algorithms`) are shared (`Arc<[T]>`): hellos of one
    /// shape (the same lists, legacy version and first ALPN value; most connections of a
    /// capture come from a handful of clients) hold the same lists, which the parser takes
    /// from its fingerprint cache instead of allocating six vectors per hello. They read
    /// as slices.
    pub versions: Arc<[TlsVersion]>,
    /// legacy_version of the hello ("0x0303").
    pub legacy_version: TlsVersion,
    /// Cipher suites in the order offered, GREASE included.
    pub cipher_suites: Arc<[CipherSuite]>,
    /// Extension types in wire order, GREASE included.
    pub extensions: Arc<[ExtensionType]>,
    /// supported_groups as sent, with names.
    pub groups: Arc<[GroupInfo]>,
    /// Groups the client sent key shares for, in order.
    pub key_share: Vec<GroupInfo>,
    /// ec_point_formats as sent.
    pub ec_point_formats: Arc<[u8]>,
    /// signature_algorithms as sent.
    pub signature_algorithms: Arc<[SignatureScheme]>,
    /// Length of the legacy session id (32 for most TLS 1.3 clients).
    pub session_id_len: usize,
    /// pre_shared_key offered (a resumption).
    pub psk: bool,
    /// session_ticket extension present.
    pub session_ticket: bool,
    /// encrypted_client_hello (0xfe0d) offered.
    pub ech: bool,
    /// early_data (0-RTT) offered.
    pub early_data: bool,
    /// A GREASE value appears among versions, ciphers, extensions or groups.
    pub grease: bool,
    /// Handshake message body length (the 24-bit length field).
    pub handshake_length: usize,
    /// Distinct TCP segments (delivered chunks) that carried it.
    pub tcp_segments: u32,
    /// TLS records that carried it.
    pub records: u32,
    /// Frame of its first byte and of the segment that completed it.
    pub first_frame: u64,
    /// See `first_frame`.
    pub last_frame: u64,
    /// Timestamp of the segment that completed it.
    pub ts: crate::time::Timestamp,
    /// A post-quantum hybrid key share is sent (X25519MLKEM768 & co., Kyber drafts): such a
    /// hello is ~1.2 KB larger and spans two segments, which some middleboxes mishandle.
    pub pq_key_share: bool,
    /// JA3 string and MD5, as tshark's `tls.handshake.ja3_full` / `tls.handshake.ja3`.
    /// Shared text: hellos of one shape share their fingerprints (see `FingerprintCache`).
    pub ja3_string: Arc<str>,
    /// See `ja3_string`.
    pub ja3: Arc<str>,
    /// JA4 (FoxIO) and its raw form (`ja4_r`: unhashed sorted lists), shared as `ja3_string`.
    pub ja4: Arc<str>,
    /// See `ja4`.
    pub ja4_r: Arc<str>,
    /// The extension block ended in the middle of an extension.
    pub extensions_truncated: bool,
    /// The capture holds only the head of this hello: the rest was cut off by the capture's
    /// snap length, or lost. The fields its head reaches are read (the server name among
    /// them when the cut falls after it), the others are empty, and no fingerprint is
    /// computed (they need the whole hello).
    pub cut: bool,
}

/// Heap bytes a `String` costs beyond its text (allocator rounding and bookkeeping), as for
/// certificate descriptions.
const STRING_COST: usize = 16;

impl ClientHello {
    /// What this hello holds, for the run's pool of kept bytes (`Limits::max_kept_bytes`):
    /// its lists grow with the hello, up to its 64 KiB (32,000 one-byte ALPN names).
    pub(crate) fn kept_cost(&self) -> usize {
        use std::mem::size_of_val;
        size_of::<ClientHello>()
            + self.sni.as_ref().map_or(0, |s| s.len() + STRING_COST)
            + self
                .alpn
                .iter()
                .map(|a| a.len() + STRING_COST + size_of::<String>())
                .sum::<usize>()
            + size_of_val(&*self.versions)
            + size_of_val(&*self.cipher_suites)
            + size_of_val(&*self.extensions)
            + size_of_val(&*self.groups)
            + size_of_val(self.key_share.as_slice())
            + self.ec_point_formats.len()
            + size_of_val(&*self.signature_algorithms)
    }

    /// Lets the lists go (the pool of kept bytes is full): what was read from them stays in
    /// the fingerprints, the flags and the server name.
    pub(crate) fn drop_lists(&mut self) {
        self.alpn = Vec::new();
        self.key_share = Vec::new();
        self.set_lists(HelloLists::default());
    }

    fn set_lists(&mut self, lists: HelloLists) {
        let HelloLists {
            versions,
            cipher_suites,
            extensions,
            groups,
            ec_point_formats,
            signature_algorithms,
        } = lists;
        self.versions = versions;
        self.cipher_suites = cipher_suites;
        self.extensions = extensions;
        self.groups = groups;
        self.ec_point_formats = ec_point_formats;
        self.signature_algorithms = signature_algorithms;
    }

    /// Sets the lists, and the flag read from them.
    fn take_lists(&mut self, lists: HelloLists) {
        self.set_lists(lists);
        self.grease = self.versions.iter().any(|v| v.is_grease())
            || self.cipher_suites.iter().any(|c| c.is_grease())
            || self.extensions.iter().any(|e| e.is_grease())
            || self.groups.iter().any(|g| g.id.is_grease());
    }
}

/// Parses a ClientHello body (after the 4-byte handshake header).
pub fn parse(body: &[u8]) -> Result<ClientHello, &'static str> {
    parse_with(body, None)
}

/// [`parse`], with the fingerprints taken from `cache` when a hello of the same shape was
/// seen before (the result is the same).
pub fn parse_cached(body: &[u8], cache: &FingerprintCache) -> Result<ClientHello, &'static str> {
    parse_with(body, Some(cache))
}

fn parse_with(body: &[u8], cache: Option<&FingerprintCache>) -> Result<ClientHello, &'static str> {
    let ch = fixed(body).ok_or("malformed client hello")?;
    let mut out = ClientHello {
        legacy_version: TlsVersion(ch.version),
        session_id_len: ch.session_id_len,
        handshake_length: body.len(),
        ..ClientHello::default()
    };
    let raw = read_extensions(&mut out, ch.ciphers, ch.ext.unwrap_or_default());
    let shared = match cache {
        Some(c) => c.client_raw(&raw),
        None => ClientShared::of_raw(&raw),
    };
    let ClientShared {
        fingerprints: fp,
        lists,
    } = shared;
    out.take_lists(lists);
    out.ja3_string = fp.ja3_string;
    out.ja3 = fp.ja3;
    out.ja4 = fp.ja4;
    out.ja4_r = fp.ja4_r;
    Ok(out)
}

/// The head of a ClientHello whose `declared`-byte body the capture holds only `head` of
/// (its snap length cut the packet, or a segment was lost): read as [`parse`] reads a whole
/// one, as far as the head goes. A list the cut falls in keeps its whole entries; an
/// extension the cut falls in is not read (`extensions_truncated`). No fingerprints.
pub fn parse_cut(head: &[u8], declared: usize) -> ClientHello {
    let mut out = ClientHello {
        handshake_length: declared,
        cut: true,
        ..ClientHello::default()
    };
    let mut b = head;
    let Some(version) = take16(&mut b) else {
        return out;
    };
    out.legacy_version = TlsVersion(version);
    let Some(session_id_len) = take(&mut b, 32)
        .and_then(|_| take(&mut b, 1))
        .and_then(|l| l.first().copied())
    else {
        return out;
    };
    out.session_id_len = usize::from(session_id_len);
    let Some(cipher_len) = take(&mut b, out.session_id_len).and_then(|_| take16(&mut b)) else {
        return out;
    };
    let cipher_len = usize::from(cipher_len);
    let ciphers = b.get(..cipher_len).unwrap_or(b);
    let Some(block_len) = take(&mut b, cipher_len)
        .and_then(|_| take(&mut b, 1))
        .and_then(|l| l.first().copied())
        .and_then(|n| take(&mut b, usize::from(n)))
        .and_then(|_| take16(&mut b))
    else {
        out.take_lists(HelloLists {
            cipher_suites: codes(ciphers).map(CipherSuite).collect(),
            ..HelloLists::default()
        });
        return out;
    };
    let raw = read_extensions(
        &mut out,
        ciphers,
        b.get(..usize::from(block_len)).unwrap_or(b),
    );
    out.take_lists(raw.lists());
    out
}

/// What a hello's lists are read from, as found on the wire: the cipher suites, the
/// extension block (its types are walked again), and each list extension's contents as the
/// `lists` readers accepted them (`None` when absent or refused), the last one of each
/// type winning as when the lists were read one by one.
pub(crate) struct RawHello<'a> {
    pub legacy_version: TlsVersion,
    ciphers: &'a [u8],
    block: &'a [u8],
    versions: Option<&'a [u8]>,
    groups: Option<&'a [u8]>,
    point_formats: Option<&'a [u8]>,
    signature_algorithms: Option<&'a [u8]>,
    /// The first ALPN value's bytes, which JA4 reads as they are.
    pub alpn_first: Option<&'a [u8]>,
}

impl RawHello<'_> {
    /// The lists, typed.
    pub fn lists(&self) -> HelloLists {
        HelloLists {
            versions: codes(self.versions.unwrap_or_default())
                .map(TlsVersion)
                .collect(),
            cipher_suites: codes(self.ciphers).map(CipherSuite).collect(),
            extensions: Extensions::new(self.block).map(|e| e.ext_type).collect(),
            groups: codes(self.groups.unwrap_or_default())
                .map(|g| GroupInfo::from(NamedGroup(g)))
                .collect(),
            ec_point_formats: self.point_formats.unwrap_or_default().into(),
            signature_algorithms: codes(self.signature_algorithms.unwrap_or_default())
                .map(SignatureScheme)
                .collect(),
        }
    }

    /// The bytes `HelloShape::write_key` writes for the shape of `self.lists()`, written
    /// from the wire: a code point's two bytes are its big-endian encoding already.
    pub fn write_key(&self, out: &mut Vec<u8>) {
        fn pairs(out: &mut Vec<u8>, l: &[u8]) {
            let pairs = l.as_chunks::<2>().0;
            out.extend_from_slice(&(pairs.len() as u64).to_le_bytes());
            out.extend_from_slice(pairs.as_flattened());
        }
        out.extend_from_slice(&self.legacy_version.0.to_be_bytes());
        pairs(out, self.versions.unwrap_or_default());
        pairs(out, self.ciphers);
        let exts = Extensions::new(self.block);
        out.extend_from_slice(&(exts.clone().count() as u64).to_le_bytes());
        for e in exts {
            out.extend_from_slice(&e.ext_type.0.to_be_bytes());
        }
        pairs(out, self.groups.unwrap_or_default());
        let formats = self.point_formats.unwrap_or_default();
        out.extend_from_slice(&(formats.len() as u64).to_le_bytes());
        for &f in formats {
            out.extend_from_slice(&[0, f]);
        }
        pairs(out, self.signature_algorithms.unwrap_or_default());
        super::fingerprint::write_alpn_key(out, self.alpn_first);
    }
}

/// Reads an extension block (without its length) into `out`: the flags, key shares, server
/// name and ALPN. Returns where the lists are (`ciphers` with them), typed by the caller
/// (`RawHello::lists`, or shared from the fingerprint cache).
fn read_extensions<'a>(out: &mut ClientHello, ciphers: &'a [u8], block: &'a [u8]) -> RawHello<'a> {
    let mut raw = RawHello {
        legacy_version: out.legacy_version,
        ciphers,
        block,
        versions: None,
        groups: None,
        point_formats: None,
        signature_algorithms: None,
        alpn_first: None,
    };
    // JA4 reads the first ALPN value's bytes: `alpn` keeps text, lossy for bytes that are
    // not UTF-8, and a replacement character would change the fingerprint.
    let mut exts = Extensions::new(block);
    for e in exts.by_ref() {
        match e.ext_type {
            ExtensionType::PRE_SHARED_KEY => out.psk = true,
            ExtensionType::SESSION_TICKET => out.session_ticket = true,
            ExtensionType::ENCRYPTED_CLIENT_HELLO => out.ech = true,
            ExtensionType::EARLY_DATA => out.early_data = true,
            ExtensionType::KEY_SHARE => out.key_share = key_share_groups(e.data),
            ExtensionType::SUPPORTED_GROUPS => {
                if let Some(l) = lists::groups(e.data) {
                    raw.groups = Some(l);
                }
            }
            ExtensionType::EC_POINT_FORMATS => {
                if let Some(l) = lists::point_formats(e.data) {
                    raw.point_formats = Some(l);
                }
            }
            ExtensionType::SIGNATURE_ALGORITHMS => {
                if let Some(l) = lists::signature_algorithms(e.data) {
                    raw.signature_algorithms = Some(l);
                }
            }
            ExtensionType::SUPPORTED_VERSIONS => {
                if let Some(l) = lists::versions(e.data) {
                    raw.versions = Some(l);
                }
            }
            _ => {}
        }
        match e.ext_type {
            ExtensionType::SERVER_NAME => {
                if let Some(mut names) = named::server_names(e.data) {
                    out.sni = names
                        .find(|&(t, _)| t == 0)
                        .map(|(_, n)| String::from_utf8_lossy(n).into_owned());
                }
            }
            ExtensionType::ALPN => {
                if let Some(list) = named::protocols(e.data) {
                    raw.alpn_first = list.clone().next();
                    out.alpn = list
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                        .collect();
                }
            }
            _ => {}
        }
    }
    out.extensions_truncated = exts.truncated();
    out.pq_key_share = out.key_share.iter().any(|g| g.id.is_post_quantum());
    raw
}

/// Groups of a ClientHello key_share: `client_shares<0..2^16-1>` of `group(2) len(2) key`.
fn key_share_groups(data: &[u8]) -> Vec<GroupInfo> {
    let mut out = Vec::new();
    let Some((len, rest)) = data.split_at_checked(2) else {
        return out;
    };
    let total = len.iter().fold(0usize, |a, &b| a << 8 | usize::from(b));
    let mut p = rest.get(..total).unwrap_or(rest);
    while let Some((hdr, rest)) = p.split_at_checked(4) {
        let g = u16::from_be_bytes([
            hdr.first().copied().unwrap_or_default(),
            hdr.get(1).copied().unwrap_or_default(),
        ]);
        let klen = usize::from(u16::from_be_bytes([
            hdr.get(2).copied().unwrap_or_default(),
            hdr.get(3).copied().unwrap_or_default(),
        ]));
        out.push(GroupInfo::from(NamedGroup(g)));
        match rest.split_at_checked(klen) {
            Some((_, r)) => p = r,
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tls_parser::TlsExtension;

    /// What the parse read through tls-parser before the fixed part, the code-point lists,
    /// the server name and ALPN were read here: legacy version, session id length, cipher
    /// suites, the last versions, groups, point formats and signature algorithms tls-parser
    /// accepted, and the server name and ALPN names of the last server_name and ALPN
    /// extensions it accepted.
    type Read = (
        u16,
        usize,
        Vec<u16>,
        Vec<u16>,
        Vec<u16>,
        Vec<u8>,
        Vec<u16>,
        (Option<String>, Vec<String>),
    );

    fn through_tls_parser(body: &[u8]) -> Option<Read> {
        let (_, ch) = tls_parser::parse_tls_handshake_client_hello(body).ok()?;
        let mut r: Read = (
            ch.version.0,
            ch.session_id.map_or(0, <[u8]>::len),
            ch.ciphers.iter().map(|c| c.0).collect(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            (None, Vec::new()),
        );
        for e in Extensions::new(ch.ext.unwrap_or_default()) {
            match tls_parser::parse_tls_client_hello_extension(e.whole) {
                Ok((_, TlsExtension::SupportedVersions(v))) => {
                    r.3 = v.iter().map(|v| v.0).collect()
                }
                Ok((_, TlsExtension::EllipticCurves(g))) => r.4 = g.iter().map(|g| g.0).collect(),
                Ok((_, TlsExtension::EcPointFormats(f))) => r.5 = f.to_vec(),
                Ok((_, TlsExtension::SignatureAlgorithms(s))) => r.6 = s,
                Ok((_, TlsExtension::SNI(names))) => {
                    r.7.0 = names
                        .iter()
                        .find(|(t, _)| t.0 == 0)
                        .map(|(_, n)| String::from_utf8_lossy(n).into_owned());
                }
                Ok((_, TlsExtension::ALPN(list))) => {
                    r.7.1 = list
                        .iter()
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                        .collect();
                }
                _ => {}
            }
        }
        Some(r)
    }

    fn read_here(body: &[u8]) -> Option<Read> {
        let ch = parse(body).ok()?;
        Some((
            ch.legacy_version.0,
            ch.session_id_len,
            ch.cipher_suites.iter().map(|c| c.0).collect(),
            ch.versions.iter().map(|v| v.0).collect(),
            ch.groups.iter().map(|g| g.id.0).collect(),
            ch.ec_point_formats.to_vec(),
            ch.signature_algorithms.iter().map(|s| s.0).collect(),
            (ch.sni, ch.alpn),
        ))
    }

    /// The cache key written from the wire (`RawHello::write_key`) is the one the typed
    /// shape of the lists read writes (`HelloShape::write_key`), byte for byte: hits, misses
    /// and the key-length bound act as they did when the key was written from the lists.
    fn raw_key_is_shape_key(body: &[u8]) {
        let Some(ch) = fixed(body) else {
            return;
        };
        let mut out = ClientHello {
            legacy_version: TlsVersion(ch.version),
            ..ClientHello::default()
        };
        let raw = read_extensions(&mut out, ch.ciphers, ch.ext.unwrap_or_default());
        let lists = raw.lists();
        let (mut from_wire, mut from_lists) = (Vec::new(), Vec::new());
        raw.write_key(&mut from_wire);
        lists
            .shape(raw.legacy_version, raw.alpn_first)
            .write_key(&mut from_lists);
        assert_eq!(from_wire, from_lists, "{body:02x?}");
    }

    /// The reading here accepts and refuses exactly what tls-parser did, on a real Chrome
    /// ClientHello (post-quantum key share, GREASE) and on every truncation and every
    /// single-byte change of it to 0x00, 0x01, 0xff and the byte plus one: length fields
    /// made odd, too long, zero, or pointing past the body.
    #[test]
    fn reads_what_tls_parser_read_on_mutated_hellos() {
        let body = super::super::tests::chrome_client_hello_record()
            .get(9..)
            .expect("record and handshake headers")
            .to_vec();
        assert!(read_here(&body).is_some_and(|r| !r.3.is_empty() && !r.6.is_empty()));
        let mut cases = 0;
        let mut refused = 0;
        let mut check = |b: &[u8]| {
            let expected = through_tls_parser(b);
            refused += usize::from(expected.is_none());
            assert_eq!(read_here(b), expected, "{b:02x?}");
            raw_key_is_shape_key(b);
            cases += 1;
        };
        for n in 0..=body.len() {
            check(&body[..n]);
        }
        for i in 0..body.len() {
            for v in [0x00, 0x01, 0xff, body[i].wrapping_add(1)] {
                let mut b = body.clone();
                b[i] = v;
                check(&b);
            }
        }
        assert!(cases > 5 * body.len(), "{cases}");
        assert!(refused > 0 && refused < cases, "{refused} of {cases}");
    }

    /// Every head of a real Chrome hello, as a capture cut to any snap length holds it: read
    /// without a panic, marked cut, its cipher suites and extension types a prefix of the
    /// whole hello's, and its server name exactly when the cut falls after the server_name
    /// extension.
    #[test]
    fn a_cut_hello_keeps_what_its_head_holds() {
        let body = super::super::tests::chrome_client_hello_record()
            .get(9..)
            .expect("record and handshake headers")
            .to_vec();
        let whole = parse(&body).expect("whole hello");
        let sni = whole.sni.clone().expect("the hello names a server");
        // Where the server_name extension ends in the body.
        let ch = fixed(&body).expect("fixed part");
        let block = ch.ext.expect("extensions");
        let block_at = body.len() - block.len();
        let sni_end = Extensions::new(block)
            .scan(block_at, |at, e| {
                *at += e.whole.len();
                Some((e.ext_type, *at))
            })
            .find(|(t, _)| *t == ExtensionType::SERVER_NAME)
            .map(|(_, end)| end)
            .expect("server_name");
        for n in 0..=body.len() {
            let cut = parse_cut(&body[..n], body.len());
            assert!(cut.cut && cut.handshake_length == body.len());
            assert!(whole.cipher_suites.starts_with(&cut.cipher_suites), "{n}");
            assert!(whole.extensions.starts_with(&cut.extensions), "{n}");
            assert_eq!(
                cut.sni.as_deref(),
                (n >= sni_end).then_some(sni.as_str()),
                "{n}"
            );
            assert!(cut.ja3.is_empty() && cut.ja4.is_empty());
        }
        let full = parse_cut(&body, body.len());
        assert_eq!(full.extensions, whole.extensions);
        assert_eq!(full.versions, whole.versions);
    }

    /// A hello from parts whose lengths may lie: the session id, cipher and compression
    /// lists are (length delta, bytes), each extension is (type, data) with small random
    /// data so its own list lengths are odd, short, long or right.
    fn hello(
        sid: (i8, Vec<u8>),
        ciphers: (i8, Vec<u8>),
        comp: (i8, Vec<u8>),
        exts: &[(u16, Vec<u8>)],
        ext_delta: i8,
    ) -> Vec<u8> {
        let delta = |len: usize, d: i8| (len as i64 + i64::from(d)).max(0) as usize;
        let mut b = vec![3, 3];
        b.extend_from_slice(&[7; 32]);
        b.push(delta(sid.1.len(), sid.0) as u8);
        b.extend_from_slice(&sid.1);
        b.extend_from_slice(&(delta(ciphers.1.len(), ciphers.0) as u16).to_be_bytes());
        b.extend_from_slice(&ciphers.1);
        b.push(delta(comp.1.len(), comp.0) as u8);
        b.extend_from_slice(&comp.1);
        let mut block = Vec::new();
        for (t, data) in exts {
            block.extend_from_slice(&t.to_be_bytes());
            block.extend_from_slice(&(data.len() as u16).to_be_bytes());
            block.extend_from_slice(data);
        }
        b.extend_from_slice(&(delta(block.len(), ext_delta) as u16).to_be_bytes());
        b.extend_from_slice(&block);
        b
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]
        /// Hellos built with lying lengths: read here as tls-parser read them.
        #[test]
        fn reads_what_tls_parser_read_on_built_hellos(
            sid in (-1i8..2, proptest::collection::vec(proptest::num::u8::ANY, 30..35)),
            ciphers in (-1i8..2, proptest::collection::vec(proptest::num::u8::ANY, 0..8)),
            comp in (-1i8..2, proptest::collection::vec(proptest::num::u8::ANY, 0..3)),
            exts in proptest::collection::vec(
                (
                    proptest::sample::select(vec![10u16, 11, 13, 43, 0, 16, 51, 0x0a0a]),
                    proptest::collection::vec(
                        proptest::sample::select(vec![0u8, 1, 2, 3, 4, 5, 0xff]),
                        0..9,
                    ),
                ),
                0..6,
            ),
            ext_delta in -2i8..2,
        ) {
            let b = hello(sid, ciphers, comp, &exts, ext_delta);
            proptest::prop_assert_eq!(read_here(&b), through_tls_parser(&b));
            raw_key_is_shape_key(&b);
        }
    }
}
