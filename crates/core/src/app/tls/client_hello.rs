//! ClientHello: what the client offered, as sent (GREASE included), plus JA3 and JA4.
//!
//! tls-parser parses the fixed part and each extension's contents; the extension list itself
//! is walked here by type and length, so that one extension tls-parser rejects does not lose
//! the ones after it, and the type codes keep the order and GREASE values of the wire.

use super::fingerprint::{ClientFingerprints, FingerprintCache, HelloShape};
use super::record::{
    CipherSuite, ExtensionType, GroupInfo, NamedGroup, SignatureScheme, TlsVersion,
};
use std::sync::Arc;
use tls_parser::TlsExtension;

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

/// Extension types whose contents we read through tls-parser: the others are skipped
/// without a call (tls-parser would build owned values for them, a 1.2 KB post-quantum key
/// share among them, only for them to be dropped). Only these types map to the
/// `TlsExtension` variants [`parse`] looks at.
fn content_wanted(t: ExtensionType) -> bool {
    matches!(
        t,
        ExtensionType::SERVER_NAME
            | ExtensionType::SUPPORTED_GROUPS
            | ExtensionType::EC_POINT_FORMATS
            | ExtensionType::SIGNATURE_ALGORITHMS
            | ExtensionType::ALPN
            | ExtensionType::SUPPORTED_VERSIONS
    )
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
    pub versions: Vec<TlsVersion>,
    /// legacy_version of the hello ("0x0303").
    pub legacy_version: TlsVersion,
    /// Cipher suites in the order offered, GREASE included.
    pub cipher_suites: Vec<CipherSuite>,
    /// Extension types in wire order, GREASE included.
    pub extensions: Vec<ExtensionType>,
    /// supported_groups as sent, with names.
    pub groups: Vec<GroupInfo>,
    /// Groups the client sent key shares for, in order.
    pub key_share: Vec<GroupInfo>,
    /// ec_point_formats as sent.
    pub ec_point_formats: Vec<u8>,
    /// signature_algorithms as sent.
    pub signature_algorithms: Vec<SignatureScheme>,
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
    let (_, ch) =
        tls_parser::parse_tls_handshake_client_hello(body).map_err(|_| "malformed client hello")?;
    let mut out = ClientHello {
        legacy_version: TlsVersion(ch.version.0),
        cipher_suites: ch.ciphers.iter().map(|c| CipherSuite(c.0)).collect(),
        session_id_len: ch.session_id.map_or(0, <[u8]>::len),
        handshake_length: body.len(),
        ..ClientHello::default()
    };
    let exts = Extensions::new(ch.ext.unwrap_or_default());
    out.extensions = Vec::with_capacity(exts.clone().count());
    // JA4 reads the first ALPN value's bytes: `alpn` keeps text, lossy for bytes that are
    // not UTF-8, and a replacement character would change the fingerprint.
    let mut alpn_first_bytes: Option<&[u8]> = None;
    let mut exts = exts;
    for e in exts.by_ref() {
        out.extensions.push(e.ext_type);
        match e.ext_type {
            ExtensionType::PRE_SHARED_KEY => out.psk = true,
            ExtensionType::SESSION_TICKET => out.session_ticket = true,
            ExtensionType::ENCRYPTED_CLIENT_HELLO => out.ech = true,
            ExtensionType::EARLY_DATA => out.early_data = true,
            ExtensionType::KEY_SHARE => {
                out.key_share = key_share_groups(e.data)
                    .into_iter()
                    .map(GroupInfo::from)
                    .collect()
            }
            _ => {}
        }
        if !content_wanted(e.ext_type) {
            continue;
        }
        let Ok((_, parsed)) = tls_parser::parse_tls_client_hello_extension(e.whole) else {
            continue;
        };
        match parsed {
            TlsExtension::SNI(names) => {
                out.sni = names
                    .iter()
                    .find(|(t, _)| t.0 == 0)
                    .map(|(_, n)| String::from_utf8_lossy(n).into_owned());
            }
            TlsExtension::ALPN(list) => {
                alpn_first_bytes = list.first().copied();
                out.alpn = list
                    .iter()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect();
            }
            TlsExtension::SupportedVersions(v) => {
                out.versions = v.iter().map(|v| TlsVersion(v.0)).collect();
            }
            TlsExtension::EllipticCurves(g) => {
                out.groups = g.iter().map(|g| GroupInfo::from(NamedGroup(g.0))).collect();
            }
            TlsExtension::EcPointFormats(f) => out.ec_point_formats = f.to_vec(),
            TlsExtension::SignatureAlgorithms(s) => {
                out.signature_algorithms = s.iter().map(|&s| SignatureScheme(s)).collect();
            }
            _ => {}
        }
    }
    out.extensions_truncated = exts.truncated();
    out.pq_key_share = out.key_share.iter().any(|g| g.id.is_post_quantum());
    out.grease = out.versions.iter().any(|v| v.is_grease())
        || out.cipher_suites.iter().any(|c| c.is_grease())
        || out.extensions.iter().any(|e| e.is_grease())
        || out.groups.iter().any(|g| g.id.is_grease());
    let shape = HelloShape {
        alpn_first: alpn_first_bytes,
        ..HelloShape::of(&out)
    };
    let fp = match cache {
        Some(c) => c.client(&shape),
        None => ClientFingerprints::of(&shape),
    };
    out.ja3_string = fp.ja3_string;
    out.ja3 = fp.ja3;
    out.ja4 = fp.ja4;
    out.ja4_r = fp.ja4_r;
    Ok(out)
}

/// Groups of a ClientHello key_share: `client_shares<0..2^16-1>` of `group(2) len(2) key`.
fn key_share_groups(data: &[u8]) -> Vec<NamedGroup> {
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
        out.push(NamedGroup(g));
        match rest.split_at_checked(klen) {
            Some((_, r)) => p = r,
            None => break,
        }
    }
    out
}
