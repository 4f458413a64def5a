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
//! character of the first ALPN value, `_`, first 12 hex of SHA-256 over the sorted cipher
//! list, `_`, same over the sorted extension list without SNI and ALPN followed by `_` and
//! the signature algorithms in wire order.

use super::client_hello::ClientHello;
use super::record::{ExtensionType, TlsVersion};
use md5::{Digest as _, Md5};
use sha2::Sha256;
use std::fmt::Write as _;

pub fn md5_hex(data: &[u8]) -> String {
    super::record::hex(&Md5::digest(data), None)
}

pub fn sha256_hex(data: &[u8]) -> String {
    super::record::hex(&Sha256::digest(data), None)
}

fn join_dec(out: &mut String, vals: impl Iterator<Item = u16>) {
    for (i, v) in vals.enumerate() {
        if i > 0 {
            out.push('-');
        }
        let _ = write!(out, "{v}");
    }
}

pub fn ja3_string(ch: &ClientHello) -> String {
    let mut s = String::with_capacity(256);
    let _ = write!(s, "{},", ch.legacy_version.0);
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
    let _ = write!(s, "{},{},", version.0, cipher);
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
        (Some(_), Some(_)) => {
            let h = super::record::hex(alpn, None);
            let mut s = String::new();
            s.extend(h.chars().next());
            s.extend(h.chars().last());
            s
        }
        _ => "00".to_string(),
    }
}

fn hash12(s: &str) -> String {
    if s.is_empty() {
        return "000000000000".to_string();
    }
    let mut h = sha256_hex(s.as_bytes());
    h.truncate(12);
    h
}

fn join_hex(vals: impl Iterator<Item = u16>) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::new();
    for (i, v) in vals.enumerate() {
        if i > 0 {
            s.push(',');
        }
        // By hand: `write!` per value was a visible cost in the JA4 of every ClientHello.
        for shift in [12u16, 8, 4, 0] {
            s.extend(
                DIGITS
                    .get(usize::from((v >> shift) & 0xf))
                    .map(|&d| char::from(d)),
            );
        }
    }
    s
}

/// Returns (ja4, ja4_r).
pub fn ja4(ch: &ClientHello) -> (String, String) {
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
    let exts_all: Vec<u16> = ch
        .extensions
        .iter()
        .filter(|e| !e.is_grease())
        .map(|e| e.0)
        .collect();
    let alpn = ja4_alpn(ch.alpn.first().map(String::as_bytes).unwrap_or_default());
    let a = format!(
        "t{}{}{:02}{:02}{}",
        ja4_version(version),
        sni,
        ciphers.len().min(99),
        exts_all.len().min(99),
        alpn
    );
    ciphers.sort_unstable();
    let mut exts: Vec<u16> = exts_all
        .into_iter()
        .filter(|&e| e != ExtensionType::SERVER_NAME.0 && e != ExtensionType::ALPN.0)
        .collect();
    exts.sort_unstable();
    let b_raw = join_hex(ciphers.into_iter());
    let mut c_raw = join_hex(exts.into_iter());
    let sigs = join_hex(
        ch.signature_algorithms
            .iter()
            .filter(|s| !s.is_grease())
            .map(|s| s.0),
    );
    if !sigs.is_empty() && !c_raw.is_empty() {
        c_raw.push('_');
        c_raw.push_str(&sigs);
    }
    let ja4 = format!("{a}_{}_{}", hash12(&b_raw), hash12(&c_raw));
    let ja4_r = format!("{a}_{b_raw}_{c_raw}");
    (ja4, ja4_r)
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
            versions: vec![TlsVersion(0x2a2a), TlsVersion(0x0304), TlsVersion(0x0303)],
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

    #[test]
    fn ja4_alpn_rules() {
        assert_eq!(ja4_alpn(b"h2"), "h2");
        assert_eq!(ja4_alpn(b"http/1.1"), "h1");
        assert_eq!(ja4_alpn(b""), "00");
        assert_eq!(ja4_alpn(&[0xab, 0xcd]), "ad");
        assert_eq!(ja4_alpn(b"h"), "hh");
    }
}
