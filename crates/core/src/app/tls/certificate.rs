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

#[cfg(feature = "x509")]
use super::fingerprint::CacheStats;
use super::fingerprint::sha256_hex;
use super::record::{hex, rfc3339};
use rustc_hash::FxHashMap;
#[cfg(feature = "x509")]
use rustls_pki_types::{
    AlgorithmIdentifier, CertificateDer, InvalidSignature, ServerName,
    SignatureVerificationAlgorithm, TrustAnchor, UnixTime,
};
#[cfg(feature = "x509")]
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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
    /// subjectAltName entries beyond the bound on those kept (`TlsLimits::max_san_entries`),
    /// counted, not kept. Not serialized.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub san_dropped: u64,
    /// x509-parser could not read it; the other fields are empty except sha256.
    pub parse_error: Option<String>,
}

/// What a kept string costs beyond its bytes (its allocation's own overhead).
const STRING_COST: usize = 16;

impl CertificateInfo {
    /// Memory this description holds: the struct and its strings.
    pub(crate) fn kept_cost(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, |s| s.len() + STRING_COST);
        let list = |v: &Vec<String>| {
            v.iter()
                .map(|s| s.len() + STRING_COST + std::mem::size_of::<String>())
                .sum::<usize>()
        };
        std::mem::size_of::<CertificateInfo>()
            + self.subject.len()
            + self.issuer.len()
            + self.serial.len()
            + self.sha256.len()
            + 4 * STRING_COST
            + opt(&self.subject_cn)
            + opt(&self.issuer_cn)
            + opt(&self.not_before)
            + opt(&self.not_after)
            + opt(&self.spki_sha256)
            + opt(&self.parse_error)
            + list(&self.san)
            + list(&self.san_ip)
    }

    /// Forgets the subjectAltName entries, counting them in `san_dropped`.
    pub(crate) fn drop_names(&mut self) {
        self.san_dropped += (self.san.len() + self.san_ip.len()) as u64;
        self.san = Vec::new();
        self.san_ip = Vec::new();
    }
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

/// Summarises one DER certificate, every subjectAltName entry kept.
#[cfg(all(test, feature = "x509"))]
pub fn describe(index: usize, der: &[u8]) -> CertificateInfo {
    describe_within(index, der, usize::MAX)
}

/// Summarises one DER certificate, keeping at most `max_san` subjectAltName entries (DNS
/// names and IP addresses together); the rest are counted in `san_dropped`.
pub fn describe_within(index: usize, der: &[u8], max_san: usize) -> CertificateInfo {
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
            if matches!(n, GeneralName::DNSName(_) | GeneralName::IPAddress(_))
                && info.san.len() + info.san_ip.len() >= max_san
            {
                info.san_dropped += 1;
                continue;
            }
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
    /// Not decided: chain building was stopped by the bound named (`max_chain_candidates`,
    /// `max_chain_signatures`, `max_capture_chain_candidates`, `max_capture_signatures`). A
    /// chain whose issuers form a maze is not called valid or invalid on a guess.
    Undecided(String),
}

/// Bounds on chain validation work: per chain and per run (all connections of a capture
/// share one trust store). Part of [`TlsLimits`](super::TlsLimits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainLimits {
    /// Issuer candidates path building may consider for one chain (each is a step of
    /// webpki's search: a certificate whose subject is the current one's issuer). Real chains
    /// need a handful; a maze of same-named intermediates needs millions.
    pub max_chain_candidates: u64,
    /// Signatures verified for one chain (against the public roots, then the user's).
    pub max_chain_signatures: u64,
    /// Issuer candidates over the whole run.
    pub max_capture_chain_candidates: u64,
    /// Signatures verified over the whole run.
    pub max_capture_signatures: u64,
}

/// Default for [`ChainLimits::max_chain_candidates`].
pub const DEFAULT_MAX_CHAIN_CANDIDATES: u64 = 256;
/// Default for [`ChainLimits::max_chain_signatures`]: a chain of depth 3 checked against two
/// root sets needs 6; webpki's own bound is 100.
pub const DEFAULT_MAX_CHAIN_SIGNATURES: u64 = 32;
/// Default for [`ChainLimits::max_capture_chain_candidates`].
pub const DEFAULT_MAX_CAPTURE_CHAIN_CANDIDATES: u64 = 1_000_000;
/// Default for [`ChainLimits::max_capture_signatures`]: some thousands of distinct chains
/// (cached ones cost nothing), about a second of verification at worst.
pub const DEFAULT_MAX_CAPTURE_SIGNATURES: u64 = 20_000;

impl Default for ChainLimits {
    fn default() -> Self {
        ChainLimits {
            max_chain_candidates: DEFAULT_MAX_CHAIN_CANDIDATES,
            max_chain_signatures: DEFAULT_MAX_CHAIN_SIGNATURES,
            max_capture_chain_candidates: DEFAULT_MAX_CAPTURE_CHAIN_CANDIDATES,
            max_capture_signatures: DEFAULT_MAX_CAPTURE_SIGNATURES,
        }
    }
}

/// What validating one connection's chain cost, summed over a run into `Stats::x509`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ChainStats {
    /// Chains validated (not answered from the cache).
    pub validated: u64,
    /// Chains answered from the cache of earlier validations (same certificates, same name,
    /// same side of every validity bound).
    pub cache_hits: u64,
    /// Issuer candidates considered.
    pub candidates: u64,
    /// Signatures verified.
    pub signatures: u64,
    /// Chains left undecided by a per-chain bound (`max_chain_candidates`,
    /// `max_chain_signatures`).
    pub chain_budget_exceeded: u64,
    /// Chains left undecided because the run's bound was spent
    /// (`max_capture_chain_candidates`, `max_capture_signatures`).
    pub capture_budget_exceeded: u64,
}

impl ChainStats {
    /// Adds another connection's counters to these (a run's totals).
    pub fn add(&mut self, other: &ChainStats) {
        // Destructured so that a new counter cannot be left out of the totals.
        let ChainStats {
            validated,
            cache_hits,
            candidates,
            signatures,
            chain_budget_exceeded,
            capture_budget_exceeded,
        } = *other;
        self.validated += validated;
        self.cache_hits += cache_hits;
        self.candidates += candidates;
        self.signatures += signatures;
        self.chain_budget_exceeded += chain_budget_exceeded;
        self.capture_budget_exceeded += capture_budget_exceeded;
    }
}

/// Certificates described, by DER, with the bound on subjectAltName entries they were
/// described under.
#[derive(Debug, Default)]
struct DescribedCache {
    map: FxHashMap<Box<[u8]>, (Arc<CertificateInfo>, usize)>,
    /// What the entries hold: their DER and their descriptions (`kept_cost`).
    bytes: usize,
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
    described: Mutex<DescribedCache>,
    /// Chain validations already done, see [`TrustStore::validate_described`].
    #[cfg(feature = "x509")]
    validated: Mutex<ValidationCache>,
    /// Work spent over the run, against `ChainLimits::max_capture_*`.
    #[cfg(feature = "x509")]
    spent_candidates: AtomicU64,
    #[cfg(feature = "x509")]
    spent_signatures: AtomicU64,
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
/// Largest key kept: a certificate's hash plus a few bytes per certificate, and the SNI.
/// Larger keys (a huge SNI) are validated uncached.
#[cfg(feature = "x509")]
pub const MAX_VALIDATION_KEY: usize = 32 * 1024;

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
/// lives in the store) and the time. Each certificate enters the key by its SHA-256 (from its
/// description, computed over the DER anyway), so a key is small whatever the chain, and the
/// same certificates give the same key. webpki reads the time in one place only,
/// `check_validity` of each certificate it puts on a candidate path, all of which come from
/// `chain` (anchors have no validity; no revocation is checked), and it only compares it
/// with that certificate's notBefore and notAfter. The errors that carry the time
/// (`CertExpired`, `CertNotValidYet`) become `Expired` / `NotYetValid` without it. So two
/// times give the same result when every certificate's comparison comes out the same, and
/// the key holds that comparison for each certificate instead of the time. The bounds come
/// from x509-parser, which reads strict DER times (`YYMMDDhhmmssZ` with the RFC 5280 pivot
/// at 50, `YYYYMMDDhhmmssZ`) as webpki does; a time only x509-parser accepts (an offset,
/// fractions, missing seconds) makes webpki fail that certificate with `BadDerTime` at any
/// time, so the finer key is still exact. The per-chain budgets depend on the chain alone,
/// so a chain they left undecided is undecided again: that result is cached too; one the
/// run's budget left undecided is not.
#[cfg(feature = "x509")]
fn validation_key(
    chain: &[&[u8]],
    certs: &[Arc<CertificateInfo>],
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
        if info.der_len != der.len() || out.len() + info.sha256.len() > MAX_VALIDATION_KEY {
            return false;
        }
        out.push(validity_position(unix_secs, nb, na));
        out.extend_from_slice(&(der.len() as u64).to_le_bytes());
        out.extend_from_slice(info.sha256.as_bytes());
    }
    true
}

/// webpki's bound on intermediates in a path (`MAX_SUB_CA_COUNT`).
#[cfg(feature = "x509")]
const MAX_SUB_CAS: usize = 6;

/// Steps of webpki's path search over `certs` (leaf first), counted up to `allowed`. From
/// each head, every certificate whose subject is the head's issuer and that is not already
/// on the path (same subject and key: RFC 4158's loop check, as webpki does it) is one step
/// (webpki's `build_chain_calls`), and the search goes on from it while the path holds fewer
/// than [`MAX_SUB_CAS`] intermediates. Names and keys are compared as described (rendered
/// names, SPKI hashes): equal DER gives equal descriptions, so this never counts fewer steps
/// than webpki could take (it finds no anchor, and prunes nothing on validity or usage).
/// Returns the steps counted and whether the whole search fit in `allowed`.
#[cfg(feature = "x509")]
fn path_candidates(certs: &[Arc<CertificateInfo>], allowed: u64) -> (u64, bool) {
    fn walk(
        certs: &[Arc<CertificateInfo>],
        path: &mut Vec<usize>,
        steps: &mut u64,
        allowed: u64,
    ) -> bool {
        let Some(head) = path.last().and_then(|&h| certs.get(h)) else {
            return true;
        };
        for (j, c) in certs.iter().enumerate().skip(1) {
            if c.parse_error.is_some() || c.subject != head.issuer {
                continue;
            }
            let on_path = path
                .iter()
                .filter_map(|&p| certs.get(p))
                .any(|p| p.subject == c.subject && p.spki_sha256 == c.spki_sha256);
            if on_path {
                continue;
            }
            *steps += 1;
            if *steps > allowed {
                return false;
            }
            // `path` holds the leaf and its intermediates: webpki refuses a seventh.
            if path.len() > MAX_SUB_CAS {
                continue;
            }
            path.push(j);
            let fits = walk(certs, path, steps, allowed);
            path.pop();
            if !fits {
                return false;
            }
        }
        true
    }
    let mut steps = 0;
    if certs.first().is_none_or(|leaf| leaf.parse_error.is_some()) {
        return (0, true);
    }
    let fits = walk(certs, &mut vec![0], &mut steps, allowed);
    (steps.min(allowed), fits)
}

/// Signatures one validation may still verify, and what it verified.
#[cfg(feature = "x509")]
#[derive(Debug)]
struct SignatureMeter {
    left: AtomicU64,
    used: AtomicU64,
    /// A verification was refused for want of budget.
    cut: std::sync::atomic::AtomicBool,
}

/// One of webpki's algorithms, counted against a [`SignatureMeter`]: past the budget a
/// signature is refused unchecked, which webpki takes as a bad signature and moves on.
#[cfg(feature = "x509")]
#[derive(Debug)]
struct Metered<'m> {
    inner: &'static dyn SignatureVerificationAlgorithm,
    meter: &'m SignatureMeter,
}

#[cfg(feature = "x509")]
impl SignatureVerificationAlgorithm for Metered<'_> {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        let m = self.meter;
        if m.left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_err()
        {
            m.cut.store(true, Ordering::Relaxed);
            return Err(InvalidSignature);
        }
        m.used.fetch_add(1, Ordering::Relaxed);
        self.inner.verify_signature(public_key, message, signature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        self.inner.public_key_alg_id()
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.inner.signature_alg_id()
    }
}

/// Certificates kept in the description cache; when full it is emptied (a capture with
/// more distinct certificates than this just parses them, as without a cache).
pub const MAX_DESCRIBED_CERTS: usize = 1024;
/// Larger certificates are not cached (their DER is kept as the key).
pub const MAX_DESCRIBED_DER: usize = 16 * 1024;
/// What the description cache may hold, DER and descriptions together; when full it is
/// emptied. Without it 1,024 certificates of 16 KiB, each with 1,024 names described, would
/// hold some 70 MiB.
pub const MAX_DESCRIBED_BYTES: usize = 4 * 1024 * 1024;

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
            described: Mutex::new(DescribedCache::default()),
            #[cfg(feature = "x509")]
            validated: Mutex::new(ValidationCache::default()),
            #[cfg(feature = "x509")]
            spent_candidates: AtomicU64::new(0),
            #[cfg(feature = "x509")]
            spent_signatures: AtomicU64::new(0),
        }
    }

    /// `describe_within(index, der, max_san)`, from the cache when this DER was seen before
    /// (described with the same bound): then shared, not copied (a description is ~18
    /// strings; servers send the same chain on every connection).
    pub fn describe(&self, index: usize, der: &[u8], max_san: usize) -> Arc<CertificateInfo> {
        if der.len() > MAX_DESCRIBED_DER {
            return Arc::new(describe_within(index, der, max_san));
        }
        let Ok(mut cache) = self.described.lock() else {
            return Arc::new(describe_within(index, der, max_san));
        };
        if let Some((info, bound)) = cache.map.get(der)
            && *bound == max_san
        {
            // The same certificate at another place of its message: a copy with its index.
            if info.index != index {
                return Arc::new(CertificateInfo {
                    index,
                    ..CertificateInfo::clone(info)
                });
            }
            return Arc::clone(info);
        }
        let info = Arc::new(describe_within(index, der, max_san));
        let cost = der.len() + info.kept_cost();
        if cache.map.len() >= MAX_DESCRIBED_CERTS
            || cache.bytes.saturating_add(cost) > MAX_DESCRIBED_BYTES
        {
            cache.map.clear();
            cache.bytes = 0;
        }
        // A replaced entry (described under another bound) stays counted until the clear.
        cache.bytes = cache.bytes.saturating_add(cost);
        cache.map.insert(der.into(), (Arc::clone(&info), max_san));
        info
    }

    #[cfg(all(test, feature = "x509"))]
    /// Validates `chain` (leaf first, DER) for `sni` at `unix_secs`, first against the
    /// public roots, then, if that fails, with the user's own roots too, within the default
    /// [`ChainLimits`]. The flag says the chain is valid only thanks to the user's roots: for
    /// a public host, that is what a trusted TLS-inspection CA looks like.
    pub fn validate(
        &self,
        chain: &[&[u8]],
        sni: Option<&str>,
        unix_secs: u64,
        leaf_self_issued: bool,
    ) -> (Validation, bool) {
        let certs: Vec<Arc<CertificateInfo>> = chain
            .iter()
            .enumerate()
            .map(|(i, d)| self.describe(i, d, usize::MAX))
            .collect();
        let mut stats = ChainStats::default();
        self.validate_within(
            chain,
            &certs,
            sni,
            unix_secs,
            leaf_self_issued,
            &ChainLimits::default(),
            &mut stats,
        )
    }

    /// [`TrustStore::validate`] within `limits`, its work added to `stats`. The issuer
    /// candidates are counted first ([`path_candidates`]): a chain whose search would not
    /// fit is not handed to webpki at all. Signatures are counted as webpki verifies them.
    #[cfg(feature = "x509")]
    #[allow(clippy::too_many_arguments)] // one value per input of the validation
    fn validate_within(
        &self,
        chain: &[&[u8]],
        certs: &[Arc<CertificateInfo>],
        sni: Option<&str>,
        unix_secs: u64,
        leaf_self_issued: bool,
        limits: &ChainLimits,
        stats: &mut ChainStats,
    ) -> (Validation, bool) {
        stats.validated += 1;
        let undecided = |stats: &mut ChainStats, run: bool, bound: &str| {
            if run {
                stats.capture_budget_exceeded += 1;
            } else {
                stats.chain_budget_exceeded += 1;
            }
            (Validation::Undecided(bound.to_string()), false)
        };
        let run_left = limits
            .max_capture_chain_candidates
            .saturating_sub(self.spent_candidates.load(Ordering::Relaxed));
        let allowed = limits.max_chain_candidates.min(run_left);
        let (steps, fits) = path_candidates(certs, allowed);
        stats.candidates += steps;
        self.spent_candidates.fetch_add(steps, Ordering::Relaxed);
        if !fits {
            return if allowed < limits.max_chain_candidates {
                undecided(stats, true, "max_capture_chain_candidates")
            } else {
                undecided(stats, false, "max_chain_candidates")
            };
        }
        let run_left = limits
            .max_capture_signatures
            .saturating_sub(self.spent_signatures.load(Ordering::Relaxed));
        let allowed = limits.max_chain_signatures.min(run_left);
        let meter = SignatureMeter {
            left: AtomicU64::new(allowed),
            used: AtomicU64::new(0),
            cut: std::sync::atomic::AtomicBool::new(false),
        };
        let metered: Vec<Metered<'_>> = webpki::ALL_VERIFICATION_ALGS
            .iter()
            .map(|&inner| Metered {
                inner,
                meter: &meter,
            })
            .collect();
        let algs: Vec<&dyn SignatureVerificationAlgorithm> = metered
            .iter()
            .map(|m| m as &dyn SignatureVerificationAlgorithm)
            .collect();
        let result = (|| {
            let public = verify(chain, sni, unix_secs, &self.public, leaf_self_issued, &algs);
            let Some(all) = self.all.as_deref() else {
                return (public, false);
            };
            if public == Validation::Valid {
                return (public, false);
            }
            let all = verify(chain, sni, unix_secs, all, leaf_self_issued, &algs);
            let via_user = all == Validation::Valid;
            (all, via_user)
        })();
        let used = meter.used.load(Ordering::Relaxed);
        stats.signatures += used;
        self.spent_signatures.fetch_add(used, Ordering::Relaxed);
        // A path found valid is decided whatever was cut on the way; any other answer may
        // come from a signature left unchecked.
        if result.0 != Validation::Valid && meter.cut.load(Ordering::Relaxed) {
            return if allowed < limits.max_chain_signatures {
                undecided(stats, true, "max_capture_signatures")
            } else {
                undecided(stats, false, "max_chain_signatures")
            };
        }
        result
    }
}

#[cfg(feature = "x509")]
impl TrustStore {
    /// [`TrustStore::validate`] of a chain whose certificates were described (`certs[i]` is
    /// `describe(i, chain[i])`) within `limits`, its work added to `stats`; from the cache
    /// when the same chain was validated for the same SNI at a time on the same side of every
    /// certificate's validity bounds (see [`validation_key`]). Servers send the same chain on
    /// every connection: it is validated once.
    pub fn validate_described(
        &self,
        chain: &[&[u8]],
        certs: &[Arc<CertificateInfo>],
        sni: Option<&str>,
        unix_secs: u64,
        limits: &ChainLimits,
        stats: &mut ChainStats,
    ) -> (Validation, bool) {
        let leaf_self_issued = certs.first().is_some_and(|c| c.self_issued);
        let Ok(mut guard) = self.validated.lock() else {
            return self.validate_within(
                chain,
                certs,
                sni,
                unix_secs,
                leaf_self_issued,
                limits,
                stats,
            );
        };
        let ValidationCache {
            key,
            results,
            stats: cache,
        } = &mut *guard;
        key.clear();
        if !validation_key(chain, certs, sni, unix_secs, leaf_self_issued, key) {
            cache.uncached += 1;
            return self.validate_within(
                chain,
                certs,
                sni,
                unix_secs,
                leaf_self_issued,
                limits,
                stats,
            );
        }
        if let Some(v) = results.get(key.as_slice()) {
            cache.hits += 1;
            stats.cache_hits += 1;
            return v.clone();
        }
        cache.misses += 1;
        let v = self.validate_within(
            chain,
            certs,
            sni,
            unix_secs,
            leaf_self_issued,
            limits,
            stats,
        );
        let run_cut = matches!(&v.0, Validation::Undecided(b) if b.starts_with("max_capture"));
        if !run_cut {
            if results.len() >= MAX_VALIDATED_CHAINS {
                results.clear();
                cache.clears += 1;
            }
            results.insert(key.as_slice().into(), v.clone());
        }
        v
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
    algs: &[&dyn SignatureVerificationAlgorithm],
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
        algs,
        anchors,
        &inter,
        time,
        webpki::KeyUsage::server_auth(),
        None,
        None,
    );
    match res {
        Ok(_) => {}
        // webpki's own bounds on path building (above ours by default).
        Err(
            e @ (webpki::Error::MaximumSignatureChecksExceeded
            | webpki::Error::MaximumPathBuildCallsExceeded
            | webpki::Error::MaximumNameConstraintComparisonsExceeded
            | webpki::Error::MaximumPathDepthExceeded),
        ) => return Validation::Undecided(short_error(&e)),
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

#[cfg(all(test, feature = "x509"))]
mod path_tests {
    use super::*;

    fn cert(subject: &str, issuer: &str, key: &str) -> Arc<CertificateInfo> {
        Arc::new(CertificateInfo {
            subject: subject.into(),
            issuer: issuer.into(),
            spki_sha256: Some(key.into()),
            ..CertificateInfo::default()
        })
    }

    #[test]
    fn an_ordinary_chain_takes_a_step_per_issuer() {
        let chain = [
            cert("CN=host", "CN=R3", "k0"),
            cert("CN=R3", "CN=ISRG Root X1", "k1"),
            cert("CN=ISRG Root X1", "CN=DST Root CA X3", "k2"),
        ];
        assert_eq!(path_candidates(&chain, 256), (2, true));
        // The same intermediate sent twice is two candidates, not a maze.
        let twice = [chain[0].clone(), chain[1].clone(), chain[1].clone()];
        assert_eq!(path_candidates(&twice, 256), (2, true));
    }

    /// Same-named intermediates with distinct keys: every one is a candidate issuer of every
    /// other, up to webpki's depth. The count stops at the bound.
    #[test]
    fn a_maze_of_same_named_intermediates_exceeds_the_bound() {
        let mut chain = vec![cert("CN=leaf", "CN=Maze", "leaf")];
        chain.extend((0..15).map(|k| cert("CN=Maze", "CN=Maze", &format!("k{k}"))));
        assert_eq!(path_candidates(&chain, 256), (256, false));
        // Three of them: 3 + 3*2 + 3*2*1 paths, each a step.
        assert_eq!(path_candidates(&chain[..4], 256), (15, true));
    }
}
