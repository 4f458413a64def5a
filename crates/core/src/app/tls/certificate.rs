//! Certificate messages (plaintext in TLS 1.2 and older) and chain validation.
//!
//! Each certificate is summarised with x509-parser. Distinguished names are written the way
//! the tshark-derived reference does: RDN items in certificate order, short names where
//! known (`C=US,O=Example Corp,CN=foo`), dotted OIDs otherwise.
//!
//! With the `x509` feature (on by default) the chain is validated once per connection with
//! rustls-webpki against webpki-roots plus the configured extra roots, at the capture's own
//! time (the packet timestamp), never now. Without it certificates are described, not
//! validated.

use super::fingerprint::sha256_hex;
#[cfg(feature = "x509")]
use super::fingerprint::{CacheBounds, CacheStats, cached};
use super::record::{hex, rfc3339};
use rustc_hash::FxHashMap;
#[cfg(feature = "x509")]
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use std::sync::Mutex;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate, X509Name};

/// One certificate as sent.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CertificateInfo {
    /// Position in the message, 0 = leaf.
    pub index: usize,
    /// Subject distinguished name (`C=US,O=Example Corp,CN=foo`).
    pub subject: String,
    /// Issuer distinguished name, same form.
    pub issuer: String,
    /// Last CN of the subject (as `CN=([^,/]+)` taking the last match would find it).
    pub subject_cn: Option<String>,
    /// Last CN of the issuer.
    pub issuer_cn: Option<String>,
    /// DNS names of the subjectAltName extension.
    pub san: Vec<String>,
    /// IP addresses of the subjectAltName extension, as text: what a client that dialled an
    /// IP address checks (Go: "doesn't contain any IP SANs"). Not serialized.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub san_ip: Vec<String>,
    /// The certificate has a subjectAltName extension at all (without one, Go refuses to
    /// fall back to the subject CN). Not serialized.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub has_san: bool,
    /// RFC 3339, UTC.
    pub not_before: Option<String>,
    /// RFC 3339, UTC.
    pub not_after: Option<String>,
    /// Unix seconds of the same, for arithmetic.
    pub not_before_unix: Option<i64>,
    /// Unix seconds of `not_after`.
    pub not_after_unix: Option<i64>,
    /// Serial number, hex bytes separated by ':' (tshark's form, e.g. "00:f2:8e").
    pub serial: String,
    /// SHA-256 of the DER certificate, hex.
    pub sha256: String,
    /// SHA-256 of the DER SubjectPublicKeyInfo, hex (the pin form).
    pub spki_sha256: Option<String>,
    /// basicConstraints says CA.
    pub is_ca: bool,
    /// Subject equals issuer (a self-signed leaf, or a root sent in the chain).
    pub self_issued: bool,
    /// Length of the DER encoding.
    pub der_len: usize,
    /// x509-parser could not read it; the other fields are empty except sha256.
    pub parse_error: Option<String>,
}

fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.5" => "serialNumber",
        "2.5.4.9" => "street",
        "2.5.4.17" => "postalCode",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "0.9.2342.19200300.100.1.25" => "DC",
        "2.5.4.15" => "businessCategory",
        "1.3.6.1.4.1.311.60.2.1.3" => "jurisdictionC",
        "1.3.6.1.4.1.311.60.2.1.2" => "jurisdictionST",
        "2.5.4.4" => "SN",
        "2.5.4.42" => "GN",
        _ => return None,
    })
}

/// Renders a name; returns the string and its last CN.
fn render_name(name: &X509Name<'_>) -> (String, Option<String>) {
    let mut s = String::new();
    let mut cn = None;
    for rdn in name.iter_rdn() {
        for attr in rdn.iter() {
            let oid = attr.attr_type().to_id_string();
            let value = match attr.as_str() {
                Ok(v) => v.to_string(),
                Err(_) => decode_other_string(attr.as_slice()),
            };
            if !s.is_empty() {
                s.push(',');
            }
            s.push_str(short_name(&oid).unwrap_or(&oid));
            s.push('=');
            s.push_str(&value);
            if oid == "2.5.4.3" {
                cn = Some(value);
            }
        }
    }
    (s, cn)
}

/// T61/BMP/Universal strings: BMPString is UTF-16BE; anything else is shown as Latin-1,
/// which is what T61String holds in practice.
fn decode_other_string(data: &[u8]) -> String {
    if data.len().is_multiple_of(2) && data.iter().step_by(2).all(|&b| b == 0) && !data.is_empty() {
        let units: Vec<u16> = data
            .chunks_exact(2)
            .map(|c| {
                u16::from_be_bytes([
                    c.first().copied().unwrap_or(0),
                    c.get(1).copied().unwrap_or(0),
                ])
            })
            .collect();
        return String::from_utf16_lossy(&units);
    }
    data.iter().map(|&b| char::from(b)).collect()
}

/// Summarises one DER certificate.
pub fn describe(index: usize, der: &[u8]) -> CertificateInfo {
    let mut info = CertificateInfo {
        index,
        sha256: sha256_hex(der),
        der_len: der.len(),
        ..CertificateInfo::default()
    };
    let cert = match X509Certificate::from_der(der) {
        Ok((_, c)) => c,
        Err(e) => {
            info.parse_error = Some(e.to_string());
            return info;
        }
    };
    let (subject, subject_cn) = render_name(cert.subject());
    let (issuer, issuer_cn) = render_name(cert.issuer());
    info.self_issued = cert.subject().as_raw() == cert.issuer().as_raw();
    info.subject = subject;
    info.issuer = issuer;
    info.subject_cn = subject_cn;
    info.issuer_cn = issuer_cn;
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        info.has_san = true;
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => info.san.push((*d).to_string()),
                GeneralName::IPAddress(b) => {
                    let ip = match b.len() {
                        4 => <[u8; 4]>::try_from(*b).ok().map(std::net::IpAddr::from),
                        16 => <[u8; 16]>::try_from(*b).ok().map(std::net::IpAddr::from),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        info.san_ip.push(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let nb = cert.validity().not_before.timestamp();
    let na = cert.validity().not_after.timestamp();
    info.not_before = Some(rfc3339(nb));
    info.not_after = Some(rfc3339(na));
    info.not_before_unix = Some(nb);
    info.not_after_unix = Some(na);
    info.serial = hex(cert.raw_serial(), Some(':'));
    info.spki_sha256 = Some(sha256_hex(cert.public_key().raw));
    info.is_ca = cert.is_ca();
    info
}

/// Outcome of validating the server's chain.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "kebab-case", tag = "result", content = "error")
)]
pub enum Validation {
    /// The chain leads to a trust anchor and is good for the SNI name.
    Valid,
    /// No trust anchor vouches for the chain (a missing intermediate, a private CA, an
    /// intercepting proxy's CA).
    UnknownIssuer,
    /// A certificate of the chain had expired at the capture's time.
    Expired,
    /// A certificate of the chain was not yet valid at the capture's time.
    NotYetValid,
    /// The chain is good but not for the SNI name.
    NameMismatch,
    /// The leaf is self-issued and no trust anchor vouches for it.
    SelfSigned,
    /// Any other webpki error, as its text.
    Other(String),
}

/// The trust anchors chains are validated against, parsed once per run (not once per
/// connection: a system bundle from SSL_CERT_FILE is ~150 certificates, and parsing it at
/// every validation cost more than the rest of the TLS analysis): webpki-roots plus the public
/// extra roots, and the same plus the user's roots.
#[derive(Debug)]
pub struct TrustStore {
    #[cfg(feature = "x509")]
    public: Vec<TrustAnchor<'static>>,
    /// `public` plus the user's roots; None when the user gave none.
    #[cfg(feature = "x509")]
    all: Option<Vec<TrustAnchor<'static>>>,
    /// Certificates already described, by DER: servers send the same chain on every
    /// connection, and x509 parsing plus hashing was ~7 % of a full analysis. `describe` is a
    /// pure function of the DER, so the cache cannot change a result. Behind a mutex only so
    /// the store can be shared; one engine thread uses it.
    described: Mutex<FxHashMap<Box<[u8]>, CertificateInfo>>,
    /// Chain validations already done, see [`TrustStore::validate_described`].
    #[cfg(feature = "x509")]
    validated: Mutex<ValidationCache>,
}

#[cfg(feature = "x509")]
#[derive(Debug, Default)]
struct ValidationCache {
    /// Reused for every key, so a lookup allocates nothing.
    key: Vec<u8>,
    results: FxHashMap<Box<[u8]>, (Validation, bool)>,
    stats: CacheStats,
}

/// Chain validation results kept (one per chain, SNI and position of the capture time
/// relative to the certificates' validity periods); when full the map is emptied.
#[cfg(feature = "x509")]
pub const MAX_VALIDATED_CHAINS: usize = 512;
/// Largest key kept: the chain's DER plus a few bytes per certificate and the SNI. Larger
/// chains are validated uncached.
#[cfg(feature = "x509")]
pub const MAX_VALIDATION_KEY: usize = 32 * 1024;

#[cfg(feature = "x509")]
const VALIDATION_BOUNDS: CacheBounds = CacheBounds {
    entries: MAX_VALIDATED_CHAINS,
    key_bytes: MAX_VALIDATION_KEY,
};

/// Where `t` lies relative to `[not_before, not_after]`, the way webpki's `check_validity`
/// compares (`time < not_before` is not yet valid, `time > not_after` expired, both ends
/// inclusive).
#[cfg(feature = "x509")]
fn validity_position(t: u64, not_before: i64, not_after: i64) -> u8 {
    let t = i128::from(t);
    if t < i128::from(not_before) {
        0
    } else if t > i128::from(not_after) {
        2
    } else {
        1
    }
}

/// Writes the validation cache key of `chain` into `out`, or returns false when there is no
/// exact one (a certificate x509-parser could not date, or not every certificate described).
///
/// Why the key determines the result: [`TrustStore::validate`] is a function of the chain's
/// DER, the SNI, the leaf's self-issued flag, the trust anchors (fixed per store; the cache
/// lives in the store) and the time. webpki reads the time in one place only,
/// `check_validity` of each certificate it puts on a candidate path, all of which come from
/// `chain` (anchors have no validity; no revocation is checked), and it only compares it
/// with that certificate's notBefore and notAfter. The errors that carry the time
/// (`CertExpired`, `CertNotValidYet`) become `Expired` / `NotYetValid` without it. So two
/// times give the same result when every certificate's comparison comes out the same, and
/// the key holds that comparison for each certificate instead of the time. The bounds come
/// from x509-parser, which reads strict DER times (`YYMMDDhhmmssZ` with the RFC 5280 pivot
/// at 50, `YYYYMMDDhhmmssZ`) as webpki does; a time only x509-parser accepts (an offset,
/// fractions, missing seconds) makes webpki fail that certificate with `BadDerTime` at any
/// time, so the finer key is still exact.
#[cfg(feature = "x509")]
fn validation_key(
    chain: &[&[u8]],
    certs: &[CertificateInfo],
    sni: Option<&str>,
    unix_secs: u64,
    leaf_self_issued: bool,
    out: &mut Vec<u8>,
) -> bool {
    if chain.len() != certs.len() {
        return false;
    }
    out.push(u8::from(leaf_self_issued));
    match sni {
        None => out.push(0),
        Some(name) => {
            out.push(1);
            out.extend_from_slice(&(name.len() as u64).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
        }
    }
    out.extend_from_slice(&(chain.len() as u64).to_le_bytes());
    for (der, info) in chain.iter().zip(certs) {
        let (Some(nb), Some(na)) = (info.not_before_unix, info.not_after_unix) else {
            return false;
        };
        if info.der_len != der.len() || out.len() + der.len() > MAX_VALIDATION_KEY {
            return false;
        }
        out.push(validity_position(unix_secs, nb, na));
        out.extend_from_slice(&(der.len() as u64).to_le_bytes());
        out.extend_from_slice(der);
    }
    true
}

/// Certificates kept in the description cache; when full it is emptied (a capture with
/// more distinct certificates than this just parses them, as without a cache).
pub const MAX_DESCRIBED_CERTS: usize = 1024;
/// Larger certificates are not cached (their DER is kept as the key).
pub const MAX_DESCRIBED_DER: usize = 16 * 1024;

#[cfg(feature = "x509")]
fn anchors(sets: &[&[Vec<u8>]]) -> Vec<TrustAnchor<'static>> {
    let mut anchors: Vec<TrustAnchor<'static>> = webpki_roots::TLS_SERVER_ROOTS.to_vec();
    anchors.extend(sets.iter().flat_map(|set| set.iter()).filter_map(|d| {
        webpki::anchor_from_trusted_cert(&CertificateDer::from(d.as_slice()))
            .ok()
            .map(|a| a.to_owned())
    }));
    anchors
}

impl TrustStore {
    /// webpki-roots plus `public_extra`, and those plus `user_extra` (DER); certificates
    /// not usable as trust anchors are skipped.
    #[cfg_attr(not(feature = "x509"), allow(unused_variables))]
    pub fn new(public_extra: &[Vec<u8>], user_extra: &[Vec<u8>]) -> Self {
        TrustStore {
            #[cfg(feature = "x509")]
            public: anchors(&[public_extra]),
            #[cfg(feature = "x509")]
            all: (!user_extra.is_empty()).then(|| anchors(&[public_extra, user_extra])),
            described: Mutex::new(FxHashMap::default()),
            #[cfg(feature = "x509")]
            validated: Mutex::new(ValidationCache::default()),
        }
    }

    /// `describe(index, der)`, from the cache when this DER was seen before.
    pub fn describe(&self, index: usize, der: &[u8]) -> CertificateInfo {
        if der.len() > MAX_DESCRIBED_DER {
            return describe(index, der);
        }
        let Ok(mut cache) = self.described.lock() else {
            return describe(index, der);
        };
        if let Some(info) = cache.get(der) {
            return CertificateInfo {
                index,
                ..info.clone()
            };
        }
        let info = describe(index, der);
        if cache.len() >= MAX_DESCRIBED_CERTS {
            cache.clear();
        }
        cache.insert(der.into(), info.clone());
        info
    }

    #[cfg(feature = "x509")]
    /// Validates `chain` (leaf first, DER) for `sni` at `unix_secs`, first against the
    /// public roots, then, if that fails, with the user's own roots too. The flag says the
    /// chain is valid only thanks to the user's roots: for a public host, that is what a
    /// trusted TLS-inspection CA looks like.
    pub fn validate(
        &self,
        chain: &[&[u8]],
        sni: Option<&str>,
        unix_secs: u64,
        leaf_self_issued: bool,
    ) -> (Validation, bool) {
        let public = verify(chain, sni, unix_secs, &self.public, leaf_self_issued);
        let Some(all) = self.all.as_deref() else {
            return (public, false);
        };
        if public == Validation::Valid {
            return (public, false);
        }
        let all = verify(chain, sni, unix_secs, all, leaf_self_issued);
        let via_user = all == Validation::Valid;
        (all, via_user)
    }
}

#[cfg(feature = "x509")]
impl TrustStore {
    /// [`TrustStore::validate`] of a chain whose certificates were described (`certs[i]` is
    /// `describe(i, chain[i])`), from the cache when the same chain was validated for the
    /// same SNI at a time on the same side of every certificate's validity bounds (see
    /// [`validation_key`]). Servers send the same chain on every connection, and webpki's
    /// path building was ~3 % of a full analysis.
    pub fn validate_described(
        &self,
        chain: &[&[u8]],
        certs: &[CertificateInfo],
        sni: Option<&str>,
        unix_secs: u64,
    ) -> (Validation, bool) {
        let leaf_self_issued = certs.first().is_some_and(|c| c.self_issued);
        let compute = || self.validate(chain, sni, unix_secs, leaf_self_issued);
        let Ok(mut guard) = self.validated.lock() else {
            return compute();
        };
        let ValidationCache {
            key,
            results,
            stats,
        } = &mut *guard;
        key.clear();
        if !validation_key(chain, certs, sni, unix_secs, leaf_self_issued, key) {
            stats.uncached += 1;
            return compute();
        }
        cached(results, key, VALIDATION_BOUNDS, stats, compute)
    }

    /// What the validation cache did.
    #[cfg(test)]
    pub fn validation_cache_stats(&self) -> CacheStats {
        self.validated.lock().map(|c| c.stats).unwrap_or_default()
    }

    /// Validation results held.
    #[cfg(test)]
    pub fn validation_cache_len(&self) -> usize {
        self.validated
            .lock()
            .map(|c| c.results.len())
            .unwrap_or_default()
    }
}

#[cfg(feature = "x509")]
fn verify(
    chain: &[&[u8]],
    sni: Option<&str>,
    unix_secs: u64,
    anchors: &[TrustAnchor<'static>],
    leaf_self_issued: bool,
) -> Validation {
    let Some((leaf, intermediates)) = chain.split_first() else {
        return Validation::Other("empty certificate chain".into());
    };
    let leaf_der = CertificateDer::from(*leaf);
    let ee = match webpki::EndEntityCert::try_from(&leaf_der) {
        Ok(ee) => ee,
        Err(e) => return Validation::Other(short_error(&e)),
    };
    let inter: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|c| CertificateDer::from(*c))
        .collect();
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(unix_secs));
    let res = ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        anchors,
        &inter,
        time,
        webpki::KeyUsage::server_auth(),
        None,
        None,
    );
    match res {
        Ok(_) => {}
        // A self-issued leaf no anchor vouches for: whatever webpki tripped over first
        // (unknown issuer, or CA:true on an end entity), the finding is "self-signed".
        Err(_) if leaf_self_issued => return Validation::SelfSigned,
        Err(webpki::Error::UnknownIssuer) => return Validation::UnknownIssuer,
        Err(webpki::Error::CertExpired { .. }) => return Validation::Expired,
        Err(webpki::Error::CertNotValidYet { .. }) => return Validation::NotYetValid,
        Err(e) => return Validation::Other(short_error(&e)),
    }
    let Some(sni) = sni else {
        return Validation::Valid;
    };
    let Ok(name) = ServerName::try_from(sni) else {
        return Validation::Other(format!("SNI {sni:?} is not a valid DNS name"));
    };
    match ee.verify_is_valid_for_subject_name(&name) {
        Ok(()) => Validation::Valid,
        Err(webpki::Error::CertNotValidForName(_)) => Validation::NameMismatch,
        Err(e) => Validation::Other(short_error(&e)),
    }
}

/// webpki's error name without its (long) context: "UnsupportedSignatureAlgorithmContext",
/// "CaUsedAsEndEntity", "BadDer".
#[cfg(feature = "x509")]
fn short_error(e: &webpki::Error) -> String {
    let s = format!("{e:?}");
    match s.split_once(['(', ' ', '{']) {
        Some((head, _)) => head.to_string(),
        None => s,
    }
}
