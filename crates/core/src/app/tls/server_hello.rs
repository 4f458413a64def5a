//! ServerHello and HelloRetryRequest (a ServerHello whose random is the RFC 8446 constant).

use super::client_hello::{Extensions, named};
use super::fingerprint::{FingerprintCache, ServerFingerprints};
use super::record::{CipherSuite, ExtensionType, GroupInfo, NamedGroup, TlsVersion};
use tls_parser::TlsExtension;

/// RFC 8446 §4.1.3: SHA-256("HelloRetryRequest").
pub const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// What we keep from a ServerHello. `version` is the negotiated version (supported_versions
/// if present, else legacy_version), hex ("0x0304") with `version_name` ("TLS 1.3").
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ServerHello {
    /// The negotiated version.
    pub version: TlsVersion,
    /// Its name (`TLS 1.3`), when known: borrowed from a static table but for the drafts.
    pub version_name: Option<std::borrow::Cow<'static, str>>,
    /// legacy_version of the hello.
    pub legacy_version: TlsVersion,
    /// supported_versions extension value, if sent.
    pub supported_version: Option<TlsVersion>,
    /// The cipher suite selected.
    pub cipher: CipherSuite,
    /// Its IANA name, when known.
    pub cipher_name: Option<&'static str>,
    /// Extension types in wire order.
    pub extensions: Vec<ExtensionType>,
    /// ALPN protocol selected, when visible (TLS 1.2 and older; TLS 1.3 sends it encrypted).
    pub alpn: Option<String>,
    /// key_share group selected (TLS 1.3) or requested (HelloRetryRequest).
    pub key_share: Option<GroupInfo>,
    /// This is a HelloRetryRequest (RFC 8446 4.1.4), not a real ServerHello.
    pub hello_retry_request: bool,
    /// Length of the legacy session id echoed.
    pub session_id_len: usize,
    /// JA3S string and MD5, shared by the ServerHellos of one shape (see
    /// `FingerprintCache`).
    pub ja3s_string: std::sync::Arc<str>,
    /// See `ja3s_string`.
    pub ja3s: std::sync::Arc<str>,
    /// Frame of the first byte and of the segment that completed it.
    pub first_frame: u64,
    /// See `first_frame`.
    pub last_frame: u64,
    /// Timestamp of the segment that completed it.
    pub ts: crate::time::Timestamp,
    /// Distinct TCP segments (delivered chunks) that carried it.
    pub tcp_segments: u32,
    /// TLS records that carried it.
    pub records: u32,
    /// The capture holds only the head of this hello (cut by its snap length, or a lost
    /// segment): the fields it reaches are read, the others are empty; no JA3S.
    pub cut: bool,
}

fn be16(b: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}

/// Fields tls-parser does not cover: TLS 1.3 drafts before 22 use `version random cipher
/// extensions`, and tls-parser only knows draft 18's version number for that layout. The
/// earliest drafts (up to 15 or so) wrote 0x0304 itself there, which the final protocol never
/// does (its ServerHello says 0x0303 and puts 1.3 in supported_versions).
struct Fixed<'a> {
    version: u16,
    random: &'a [u8],
    session_id_len: usize,
    cipher: u16,
    ext: &'a [u8],
}

fn parse_fixed(body: &[u8]) -> Option<Fixed<'_>> {
    let version = be16(body)?;
    let (_, rest) = body.split_at_checked(2)?;
    let (random, rest) = rest.split_at_checked(32)?;
    if version == 0x0304 || (version >> 8 == 0x7f && (version & 0xff) < 22) {
        let cipher = be16(rest)?;
        let ext = rest.get(4..).unwrap_or_default();
        return Some(Fixed {
            version,
            random,
            session_id_len: 0,
            cipher,
            ext,
        });
    }
    match tls_parser::parse_tls_handshake_server_hello(body) {
        Ok((_, sh)) => Some(Fixed {
            version: sh.version.0,
            random: sh.random,
            session_id_len: sh.session_id.map_or(0, <[u8]>::len),
            cipher: sh.cipher.0,
            ext: sh.ext.unwrap_or_default(),
        }),
        Err(_) => None,
    }
}

/// Parses a ServerHello body (after the 4-byte handshake header).
#[cfg(test)]
pub fn parse(body: &[u8]) -> Result<ServerHello, &'static str> {
    parse_with(body, None)
}

/// [`parse`], with JA3S taken from `cache` when seen before (the result is the same).
pub fn parse_cached(body: &[u8], cache: &FingerprintCache) -> Result<ServerHello, &'static str> {
    parse_with(body, Some(cache))
}

fn parse_with(body: &[u8], cache: Option<&FingerprintCache>) -> Result<ServerHello, &'static str> {
    let f = parse_fixed(body).ok_or("malformed server hello")?;
    let mut out = ServerHello {
        legacy_version: TlsVersion(f.version),
        cipher: CipherSuite(f.cipher),
        session_id_len: f.session_id_len,
        hello_retry_request: f.random == HRR_RANDOM,
        ..ServerHello::default()
    };
    read_extensions(&mut out, f.ext);
    let fp = match cache {
        Some(c) => c.server(out.legacy_version, f.cipher, &out.extensions),
        None => ServerFingerprints::of(out.legacy_version, f.cipher, &out.extensions),
    };
    out.ja3s_string = fp.ja3s_string;
    out.ja3s = fp.ja3s;
    Ok(out)
}

/// The head of a ServerHello the capture holds only `head` of (see
/// `client_hello::parse_cut`): read as far as it goes, `cut` set, no JA3S. Without its
/// whole random it cannot be told from a HelloRetryRequest: it is taken for a ServerHello.
pub fn parse_cut(head: &[u8]) -> ServerHello {
    let mut out = ServerHello {
        cut: true,
        ..ServerHello::default()
    };
    let Some(version) = be16(head) else {
        return out;
    };
    out.legacy_version = TlsVersion(version);
    out.version = out.legacy_version;
    out.version_name = out.version.name();
    let Some((random, rest)) = head.get(2..).and_then(|r| r.split_at_checked(32)) else {
        return out;
    };
    out.hello_retry_request = random == HRR_RANDOM;
    let Some((&[sid_len], rest)) = rest.split_first_chunk::<1>() else {
        return out;
    };
    out.session_id_len = usize::from(sid_len);
    let Some(cipher) = rest.get(out.session_id_len..).and_then(be16) else {
        return out;
    };
    out.cipher = CipherSuite(cipher);
    out.cipher_name = out.cipher.name();
    // Cipher (2), compression method (1), extension block length (2).
    let Some(block) = rest.get(out.session_id_len + 5..) else {
        return out;
    };
    let declared = rest
        .get(out.session_id_len + 3..)
        .and_then(be16)
        .map_or(0, usize::from);
    read_extensions(&mut out, block.get(..declared).unwrap_or(block));
    out
}

/// Reads an extension block (without its length) into `out`: types in order, key share,
/// supported version, ALPN.
fn read_extensions(out: &mut ServerHello, block: &[u8]) {
    let exts = Extensions::new(block);
    out.extensions = Vec::with_capacity(exts.clone().count());
    for e in exts {
        out.extensions.push(e.ext_type);
        if e.ext_type == ExtensionType::KEY_SHARE {
            // ServerHello: group(2) len(2) key; HelloRetryRequest: group(2) only.
            out.key_share = be16(e.data).map(|g| GroupInfo::from(NamedGroup(g)));
            continue;
        }
        match e.ext_type {
            // The ServerHello's form, two bytes: one version, as tls-parser reads it (its
            // one-element vector was an allocation per hello).
            ExtensionType::SUPPORTED_VERSIONS if e.data.len() == 2 => {
                out.supported_version = be16(e.data).map(TlsVersion);
            }
            // Any other length: tls-parser's list reading.
            ExtensionType::SUPPORTED_VERSIONS => {
                if let Ok((_, TlsExtension::SupportedVersions(v))) =
                    tls_parser::parse_tls_server_hello_extension(e.whole)
                {
                    out.supported_version = v.first().map(|v| TlsVersion(v.0));
                }
            }
            // tls-parser's `parse_tls_extension_alpn_content`, as the ClientHello reads it.
            ExtensionType::ALPN => {
                if let Some(mut list) = named::protocols(e.data) {
                    out.alpn = list.next().map(|p| String::from_utf8_lossy(p).into_owned());
                }
            }
            _ => {}
        }
    }
    out.version = out.supported_version.unwrap_or(out.legacy_version);
    out.version_name = out.version.name();
    out.cipher_name = out.cipher.name();
}
