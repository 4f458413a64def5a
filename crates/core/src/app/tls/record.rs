//! TLS wire code points as open newtypes (rustls / tls-parser style): any value read off the
//! wire survives, known ones have consts and names. With the `serde` feature every code point
//! serializes as a hex string (`"0x0303"`, `"0x11ec"`), which is lossless and keeps GREASE
//! values visible; the human names are separate `*_name` fields.

#[cfg(feature = "serde")]
use serde::{Serialize, Serializer};
use std::fmt;

/// RFC 8701 GREASE values: 0x0a0a, 0x1a1a, ..., 0xfafa.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// `0x%04x` into a stack buffer: `format_args!` through `collect_str` cost ~5 % of a full
/// analysis (every cipher suite, extension and group of every ClientHello goes through here).
#[cfg(feature = "serde")]
fn ser_hex16<S: Serializer>(v: u16, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [b'0', b'x', 0, 0, 0, 0];
    for (i, slot) in buf.iter_mut().skip(2).enumerate() {
        let nibble = usize::from((v >> (12 - 4 * i)) & 0xf);
        *slot = HEX_DIGITS.get(nibble).copied().unwrap_or(b'0');
    }
    // Only ASCII hex digits were written.
    s.serialize_str(std::str::from_utf8(&buf).unwrap_or("0x????"))
}

#[cfg(feature = "serde")]
const HEX_DIGITS: [u8; 16] = *b"0123456789abcdef";

macro_rules! code_point_u16 {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub u16);
        impl $name {
            /// An RFC 8701 GREASE value.
            pub fn is_grease(self) -> bool {
                is_grease(self.0)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(0x{:04x})", stringify!($name), self.0)
            }
        }
        #[cfg(feature = "serde")]
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                ser_hex16(self.0, s)
            }
        }
    };
}

code_point_u16!(
    /// Protocol version (record, legacy_version, supported_versions).
    TlsVersion
);
code_point_u16!(
    /// Cipher suite id.
    CipherSuite
);
code_point_u16!(
    /// Extension type.
    ExtensionType
);
code_point_u16!(
    /// Supported group / key-share group (formerly "elliptic curves").
    NamedGroup
);
code_point_u16!(
    /// Signature scheme (signature_algorithms extension).
    SignatureScheme
);

impl TlsVersion {
    /// SSL 3.0.
    pub const SSL3: TlsVersion = TlsVersion(0x0300);
    /// TLS 1.0.
    pub const TLS10: TlsVersion = TlsVersion(0x0301);
    /// TLS 1.1.
    pub const TLS11: TlsVersion = TlsVersion(0x0302);
    /// TLS 1.2.
    pub const TLS12: TlsVersion = TlsVersion(0x0303);
    /// TLS 1.3.
    pub const TLS13: TlsVersion = TlsVersion(0x0304);

    /// TLS 1.3 proper or one of its drafts (0x7fxx) or Facebook's draft variant (0xfb1a).
    /// TLS 1.3, or one of its drafts.
    pub fn is_tls13(self) -> bool {
        self == Self::TLS13 || (self.0 >> 8) == 0x7f || self.0 == 0xfb1a
    }

    /// Human name ("TLS 1.2"), `None` for values we do not name (GREASE, unknown).
    /// Borrowed from a static table but for the drafts (one per ServerHello).
    pub fn name(self) -> Option<std::borrow::Cow<'static, str>> {
        Some(match self.0 {
            0x0002 => "SSL 2.0".into(),
            0x0300 => "SSL 3.0".into(),
            0x0301 => "TLS 1.0".into(),
            0x0302 => "TLS 1.1".into(),
            0x0303 => "TLS 1.2".into(),
            0x0304 => "TLS 1.3".into(),
            v if v >> 8 == 0x7f => format!("TLS 1.3 (draft {})", v & 0xff).into(),
            _ => return None,
        })
    }
}

impl CipherSuite {
    /// IANA name from tls-parser's table.
    pub fn name(self) -> Option<&'static str> {
        tls_parser::TlsCipherSuite::from_id(self.0).map(|c| c.name)
    }
}

impl ExtensionType {
    /// server_name (SNI, RFC 6066).
    pub const SERVER_NAME: ExtensionType = ExtensionType(0);
    /// supported_groups (RFC 8422).
    pub const SUPPORTED_GROUPS: ExtensionType = ExtensionType(10);
    /// ec_point_formats (RFC 8422).
    pub const EC_POINT_FORMATS: ExtensionType = ExtensionType(11);
    /// signature_algorithms (RFC 8446).
    pub const SIGNATURE_ALGORITHMS: ExtensionType = ExtensionType(13);
    /// application_layer_protocol_negotiation (RFC 7301).
    pub const ALPN: ExtensionType = ExtensionType(16);
    /// padding (RFC 7685).
    pub const PADDING: ExtensionType = ExtensionType(21);
    /// session_ticket (RFC 5077).
    pub const SESSION_TICKET: ExtensionType = ExtensionType(35);
    /// pre_shared_key (RFC 8446).
    pub const PRE_SHARED_KEY: ExtensionType = ExtensionType(41);
    /// early_data (RFC 8446).
    pub const EARLY_DATA: ExtensionType = ExtensionType(42);
    /// supported_versions (RFC 8446).
    pub const SUPPORTED_VERSIONS: ExtensionType = ExtensionType(43);
    /// key_share (RFC 8446).
    pub const KEY_SHARE: ExtensionType = ExtensionType(51);
    /// encrypted_client_hello (ECH draft).
    pub const ENCRYPTED_CLIENT_HELLO: ExtensionType = ExtensionType(0xfe0d);
}

impl NamedGroup {
    /// secp256r1 (P-256).
    pub const SECP256R1: NamedGroup = NamedGroup(0x0017);
    /// secp384r1 (P-384).
    pub const SECP384R1: NamedGroup = NamedGroup(0x0018);
    /// secp521r1 (P-521).
    pub const SECP521R1: NamedGroup = NamedGroup(0x0019);
    /// x25519 (RFC 8446).
    pub const X25519: NamedGroup = NamedGroup(0x001d);
    /// x448 (RFC 8446).
    pub const X448: NamedGroup = NamedGroup(0x001e);
    /// SecP256r1MLKEM768 (post-quantum hybrid).
    pub const SECP256R1_MLKEM768: NamedGroup = NamedGroup(0x11eb);
    /// X25519MLKEM768 (post-quantum hybrid, Go 1.24+ and current browsers).
    pub const X25519_MLKEM768: NamedGroup = NamedGroup(0x11ec);
    /// SecP384r1MLKEM1024 (post-quantum hybrid).
    pub const SECP384R1_MLKEM1024: NamedGroup = NamedGroup(0x11ed);
    /// X25519Kyber768Draft00 (the pre-standard hybrid).
    pub const X25519_KYBER768_DRAFT00: NamedGroup = NamedGroup(0x6399);

    /// ML-KEM / Kyber hybrids and pure ML-KEM.
    pub fn is_post_quantum(self) -> bool {
        matches!(self.0, 0x0200..=0x0202 | 0x11eb..=0x11ed | 0x6399 | 0x639a)
    }

    /// IANA / common name; `None` for GREASE and unknown values.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            v @ 0x0001..=0x0016 => {
                // RFC 4492's old curves, by code point 1..=22.
                const OLD: [&str; 22] = [
                    "sect163k1",
                    "sect163r1",
                    "sect163r2",
                    "sect193r1",
                    "sect193r2",
                    "sect233k1",
                    "sect233r1",
                    "sect239k1",
                    "sect283k1",
                    "sect283r1",
                    "sect409k1",
                    "sect409r1",
                    "sect571k1",
                    "sect571r1",
                    "secp160k1",
                    "secp160r1",
                    "secp160r2",
                    "secp192k1",
                    "secp192r1",
                    "secp224k1",
                    "secp224r1",
                    "secp256k1",
                ];
                return OLD.get(usize::from(v - 1)).copied();
            }
            0x0017 => "secp256r1",
            0x0018 => "secp384r1",
            0x0019 => "secp521r1",
            0x001a => "brainpoolP256r1",
            0x001b => "brainpoolP384r1",
            0x001c => "brainpoolP512r1",
            0x001d => "x25519",
            0x001e => "x448",
            0x001f => "brainpoolP256r1tls13",
            0x0020 => "brainpoolP384r1tls13",
            0x0021 => "brainpoolP512r1tls13",
            0x0022 => "GC256A",
            0x0100 => "ffdhe2048",
            0x0101 => "ffdhe3072",
            0x0102 => "ffdhe4096",
            0x0103 => "ffdhe6144",
            0x0104 => "ffdhe8192",
            0x0200 => "MLKEM512",
            0x0201 => "MLKEM768",
            0x0202 => "MLKEM1024",
            0x11eb => "SecP256r1MLKEM768",
            0x11ec => "X25519MLKEM768",
            0x11ed => "SecP384r1MLKEM1024",
            0x6399 => "X25519Kyber768Draft00",
            0x639a => "SecP256r1Kyber768Draft00",
            0xff01 => "arbitrary_explicit_prime_curves",
            0xff02 => "arbitrary_explicit_char2_curves",
            _ => return None,
        })
    }
}

/// A group with its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct GroupInfo {
    /// The group's code point.
    pub id: NamedGroup,
    /// Its name, when known.
    pub name: Option<&'static str>,
}

impl From<NamedGroup> for GroupInfo {
    fn from(id: NamedGroup) -> Self {
        GroupInfo {
            id,
            name: id.name(),
        }
    }
}

/// Record content types (RFC 8446 §5.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ContentType(pub u8);

impl ContentType {
    /// change_cipher_spec.
    pub const CHANGE_CIPHER_SPEC: ContentType = ContentType(20);
    /// alert.
    pub const ALERT: ContentType = ContentType(21);
    /// handshake.
    pub const HANDSHAKE: ContentType = ContentType(22);
    /// application_data.
    pub const APPLICATION_DATA: ContentType = ContentType(23);
    /// heartbeat (RFC 6520).
    pub const HEARTBEAT: ContentType = ContentType(24);

    /// The RFC name (`application_data`), when known.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            20 => "change_cipher_spec",
            21 => "alert",
            22 => "handshake",
            23 => "application_data",
            24 => "heartbeat",
            _ => return None,
        })
    }
}

impl fmt::Debug for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentType({})", self.0)
    }
}

/// Serialized by name where known ("application_data"), else the number.
#[cfg(feature = "serde")]
impl Serialize for ContentType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.name() {
            Some(n) => s.serialize_str(n),
            None => s.serialize_u8(self.0),
        }
    }
}

/// Handshake message types.
pub mod handshake_type {
    pub const CLIENT_HELLO: u8 = 1;
    pub const SERVER_HELLO: u8 = 2;
    pub const CERTIFICATE: u8 = 11;
}

/// Bytes in a record header.
pub const RECORD_HEADER_LEN: usize = 5;

/// Largest record body we accept as plausible: 2^14 plaintext + 2048 expansion allowed for
/// TLS 1.2 ciphertext (RFC 5246 §6.2.3). Anything bigger is not TLS (or we are desynced).
pub const MAX_RECORD_BODY: u16 = 16384 + 2048;

/// A parsed 5-byte record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    pub content_type: ContentType,
    pub version: TlsVersion,
    pub length: u16,
}

impl RecordHeader {
    pub fn parse(b: [u8; RECORD_HEADER_LEN]) -> RecordHeader {
        let [t, v0, v1, l0, l1] = b;
        RecordHeader {
            content_type: ContentType(t),
            version: TlsVersion(u16::from_be_bytes([v0, v1])),
            length: u16::from_be_bytes([l0, l1]),
        }
    }

    /// Could this be a TLS record header? Content type 20..=24, version 3.0 to 3.4, and a
    /// body no larger than the protocol allows.
    pub fn is_plausible(&self) -> bool {
        (20..=24).contains(&self.content_type.0)
            && (0x0300..=0x0304).contains(&self.version.0)
            && self.length <= MAX_RECORD_BODY
    }
}

/// Lower-case hex of `bytes` with an optional separator.
pub fn hex(bytes: &[u8], sep: Option<char>) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if let (true, Some(c)) = (i > 0, sep) {
            s.push(c);
        }
        for nibble in [b >> 4, b & 0x0f] {
            s.extend(DIGITS.get(usize::from(nibble)).map(|&d| char::from(d)));
        }
    }
    s
}

/// Unix seconds to RFC 3339 UTC ("2013-02-04T00:00:00Z"), proleptic Gregorian calendar
/// (Howard Hinnant's days-from-civil inverse), so no date crate is needed.
pub fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grease_values() {
        assert!(is_grease(0x0a0a));
        assert!(is_grease(0xfafa));
        assert!(!is_grease(0x0a1a));
        assert!(!is_grease(0x1301));
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_359_936_000), "2013-02-04T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn record_header_plausibility() {
        assert!(RecordHeader::parse([22, 3, 1, 0, 200]).is_plausible());
        assert!(!RecordHeader::parse([22, 3, 5, 0, 200]).is_plausible());
        assert!(!RecordHeader::parse([0x47, 0x45, 0x54, 0x20, 0x2f]).is_plausible());
        assert!(!RecordHeader::parse([23, 3, 3, 0xff, 0xff]).is_plausible());
    }

    #[test]
    fn hex_format() {
        assert_eq!(hex(&[0x00, 0xf2, 0x8e], Some(':')), "00:f2:8e");
        assert_eq!(hex(&[0xab], None), "ab");
    }
}
