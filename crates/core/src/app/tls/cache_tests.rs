//! The result caches (fingerprints, chain validation) on real capture bytes: a cached
//! result always equals the uncached computation, the keys are not coarser than the inputs,
//! the bounds hold, and a validation is not reused across a certificate's validity bound.

#[cfg(feature = "x509")]
use super::certificate::{MAX_VALIDATED_CHAINS, TrustStore, describe};
use super::fingerprint::{
    ClientFingerprints, FingerprintCache, HelloShape, MAX_CACHED_FINGERPRINTS, MAX_FINGERPRINT_KEY,
};
use super::tests::{Seg, chrome_client_hello_record, load, replay, replay_config};
use super::*;
#[cfg(feature = "x509")]
use super::{ChainLimits, ChainStats};

/// Every replay file with TLS in it.
const REPLAYS: [&str; 12] = [
    "cert-no-cn.s0.tsv",
    "chrome-1250-kyber.s0.tsv",
    "dump-mtu300.s0.tsv",
    "hrr.s0.tsv",
    "missing-intermediate.s0.tsv",
    "ssl-to-http-server.s0.tsv",
    "tls-early-alert.s0.tsv",
    "tls-expired-cert.s0.tsv",
    "tls12-handshake-failure.s0.tsv",
    "tls12-taleo.s0.tsv",
    "tls13-ech.s1.tsv",
    "chrome-1250-kyber.s0.tsv",
];

/// Handshake messages `(type, body)` one side sent, from its plaintext handshake records
/// concatenated. Encrypted handshake records are taken too: their bytes are just more
/// input, and every input must give the same result cached and uncached.
fn handshake_messages(segs: &[Seg], side: Side) -> Vec<(u8, Vec<u8>)> {
    let data: Vec<u8> = segs
        .iter()
        .filter(|s| s.side == side)
        .flat_map(|s| s.data.iter().copied())
        .collect();
    let mut hs = Vec::new();
    let mut p = &data[..];
    while p.len() >= 5 {
        let len = usize::from(u16::from_be_bytes([p[3], p[4]]));
        let Some(body) = p.get(5..5 + len) else {
            break;
        };
        if p[0] == 22 {
            hs.extend_from_slice(body);
        }
        p = &p[5 + len..];
    }
    let mut out = Vec::new();
    let mut q = &hs[..];
    while q.len() >= 4 {
        let len = usize::from(q[1]) << 16 | usize::from(q[2]) << 8 | usize::from(q[3]);
        let Some(body) = q.get(4..4 + len) else {
            break;
        };
        out.push((q[0], body.to_vec()));
        q = &q[4 + len..];
    }
    out
}

/// The Chrome ClientHello body (after record and handshake headers).
fn chrome_hello_body() -> Vec<u8> {
    chrome_client_hello_record()[9..].to_vec()
}

/// Offset of the cipher suite list's length field in a ClientHello body.
fn cipher_list_offset(body: &[u8]) -> usize {
    let sid_len = usize::from(body[34]);
    35 + sid_len
}

#[test]
fn cached_hellos_equal_uncached_on_real_captures() {
    let cache = FingerprintCache::default();
    let mut clients = 0;
    let mut servers = 0;
    // Twice: the first pass fills the cache, the second is served from it.
    for pass in 0..2 {
        for name in REPLAYS {
            let segs = load(name);
            for (t, body) in handshake_messages(&segs, Side::Client) {
                if t == handshake_type::CLIENT_HELLO {
                    let cached = client_hello::parse_cached(&body, &cache);
                    assert_eq!(cached, client_hello::parse(&body), "{name} pass {pass}");
                    clients += usize::from(cached.is_ok());
                }
            }
            for (t, body) in handshake_messages(&segs, Side::Server) {
                if t == handshake_type::SERVER_HELLO {
                    let cached = server_hello::parse_cached(&body, &cache);
                    assert_eq!(cached, server_hello::parse(&body), "{name} pass {pass}");
                    servers += usize::from(cached.is_ok());
                }
            }
        }
    }
    // 11 files with a ClientHello (one listed twice), hrr.s0 has two.
    assert!(clients >= 2 * 12, "{clients}");
    assert!(servers >= 2 * 10, "{servers}");
    let stats = cache.stats();
    assert_eq!(stats.hits + stats.misses, (clients + servers) as u64);
    // Everything of the second pass (and the repeated file) hits.
    assert!(stats.hits >= ((clients + servers) / 2) as u64, "{stats:?}");
    assert_eq!((stats.uncached, stats.clears), (0, 0));
}

/// The decoder uses the cache of its configuration: replays sharing one give what fresh
/// ones give, and the second replay is served from the first's entries.
#[test]
fn decoder_shares_the_configuration_cache() {
    let config = TlsConfig::default();
    for name in REPLAYS {
        let segs = load(name);
        let fresh = replay(&segs);
        for _ in 0..2 {
            let shared = replay_config(&segs, &config);
            assert_eq!(shared.client_hello, fresh.client_hello, "{name}");
            assert_eq!(
                shared.client_hello_retry, fresh.client_hello_retry,
                "{name}"
            );
            assert_eq!(shared.server_hello, fresh.server_hello, "{name}");
            assert_eq!(shared.validation, fresh.validation, "{name}");
            assert_eq!(shared.certificates, fresh.certificates, "{name}");
        }
    }
    assert!(config.fingerprints.stats().hits >= 12);
    #[cfg(feature = "x509")]
    assert!(config.trust().validation_cache_stats().hits >= 5);
}

/// Hellos that differ only in what the fingerprints ignore (random, session id) share an
/// entry; one different cipher suite is a different entry with a different fingerprint.
#[test]
fn fingerprint_key_follows_the_ciphers_not_the_random() {
    let cache = FingerprintCache::default();
    let body = chrome_hello_body();
    let first = client_hello::parse_cached(&body, &cache).unwrap();
    assert_eq!(first, client_hello::parse(&body).unwrap());

    let mut other_random = body.clone();
    for b in &mut other_random[2..34] {
        *b ^= 0x5a;
    }
    let same = client_hello::parse_cached(&other_random, &cache).unwrap();
    assert_eq!(same, client_hello::parse(&other_random).unwrap());
    assert_eq!(cache.stats().hits, 1);

    // The last cipher suite, TLS_RSA_WITH_AES_256_CBC_SHA (0x0035), becomes 0x0039.
    let off = cipher_list_offset(&body);
    let n = usize::from(u16::from_be_bytes([body[off], body[off + 1]]));
    let last = off + 2 + n - 2;
    assert_eq!(&body[last..last + 2], [0x00, 0x35]);
    let mut one_cipher = body.clone();
    one_cipher[last + 1] = 0x39;
    let changed = client_hello::parse_cached(&one_cipher, &cache).unwrap();
    assert_eq!(changed, client_hello::parse(&one_cipher).unwrap());
    assert_eq!(cache.stats().hits, 1);
    assert_eq!(cache.stats().misses, 2);
    assert_ne!(changed.ja3, first.ja3);
    assert_ne!(changed.ja4, first.ja4);
    assert_eq!(changed.ja4[..10], first.ja4[..10]);
}

/// Past MAX_CACHED_FINGERPRINTS distinct shapes the map is emptied, never grown; every
/// answer stays the uncached one.
#[test]
fn fingerprint_cache_bound() {
    let cache = FingerprintCache::default();
    let body = chrome_hello_body();
    let off = cipher_list_offset(&body);
    let n = usize::from(u16::from_be_bytes([body[off], body[off + 1]]));
    let last = off + 2 + n - 2;
    let distinct = MAX_CACHED_FINGERPRINTS + 100;
    for i in 0..distinct {
        // 0x0100.. 0x0100 + distinct: no GREASE value (0x?a?a) among them.
        let mut b = body.clone();
        b[last..last + 2].copy_from_slice(&(0x0100 + i as u16).to_be_bytes());
        assert_eq!(
            client_hello::parse_cached(&b, &cache),
            client_hello::parse(&b)
        );
        assert!(cache.len() <= MAX_CACHED_FINGERPRINTS);
    }
    let stats = cache.stats();
    assert_eq!(
        (stats.misses, stats.hits, stats.clears),
        (distinct as u64, 0, 1)
    );
    assert_eq!(cache.len(), 100);
}

/// A hello whose key would exceed MAX_FINGERPRINT_KEY is computed, not kept.
#[test]
fn oversized_fingerprint_key_is_not_cached() {
    let body = chrome_hello_body();
    let off = cipher_list_offset(&body);
    let n = usize::from(u16::from_be_bytes([body[off], body[off + 1]]));
    let count = MAX_FINGERPRINT_KEY / 2 + 10;
    let mut big = body[..off].to_vec();
    big.extend_from_slice(&((2 * count) as u16).to_be_bytes());
    for i in 0..count {
        big.extend_from_slice(&(0x0100 + i as u16).to_be_bytes());
    }
    big.extend_from_slice(&body[off + 2 + n..]);
    let cache = FingerprintCache::default();
    let parsed = client_hello::parse_cached(&big, &cache).unwrap();
    assert_eq!(parsed.cipher_suites.len(), count);
    assert_eq!(Ok(parsed), client_hello::parse(&big));
    assert_eq!(cache.stats().uncached, 1);
    assert!(cache.is_empty());
    // And a normal one next to it still is.
    let shape_owner = client_hello::parse(&body).unwrap();
    assert_eq!(
        cache.client(&HelloShape::of(&shape_owner)),
        ClientFingerprints::of(&HelloShape::of(&shape_owner))
    );
    assert_eq!(cache.len(), 1);
}

/// The google.com chain of dump-mtu300 (valid at capture time) and its descriptions.
#[cfg(feature = "x509")]
fn google_chain() -> (Vec<Vec<u8>>, Vec<Arc<CertificateInfo>>, u64) {
    let segs = load("dump-mtu300.s0.tsv");
    let (_, body) = handshake_messages(&segs, Side::Server)
        .into_iter()
        .find(|(t, _)| *t == handshake_type::CERTIFICATE)
        .expect("certificate message");
    let Ok((_, tls_parser::TlsMessageHandshake::Certificate(c))) =
        tls_parser::parse_tls_handshake_msg_certificate(&body)
    else {
        panic!("certificate message does not parse");
    };
    let ders: Vec<Vec<u8>> = c.cert_chain.iter().map(|r| r.data.to_vec()).collect();
    let certs: Vec<Arc<CertificateInfo>> = ders
        .iter()
        .enumerate()
        .map(|(i, d)| Arc::new(describe(i, d)))
        .collect();
    // The same certificates the decoder reports.
    assert_eq!(certs, replay(&segs).certificates);
    let ts = segs[0].ts.as_nanos() / 1_000_000_000;
    (ders, certs, ts)
}

#[cfg(feature = "x509")]
#[test]
fn validation_cache_is_reused_only_inside_the_validity_bounds() {
    let (ders, certs, ts) = google_chain();
    let chain: Vec<&[u8]> = ders.iter().map(Vec::as_slice).collect();
    assert!(chain.len() >= 2);
    let sni = Some("www.google.com");
    let store = TrustStore::new(&[], &[]);
    let uncached = |t: u64, sni: Option<&str>| store.validate(&chain, sni, t, false);
    let cached = |t: u64, sni: Option<&str>| {
        store.validate_described(
            &chain,
            &certs,
            sni,
            t,
            &ChainLimits::default(),
            &mut ChainStats::default(),
        )
    };
    let stats = || store.validation_cache_stats();

    let latest_start = certs
        .iter()
        .filter_map(|c| c.not_before_unix)
        .max()
        .unwrap();
    let earliest_end = certs.iter().filter_map(|c| c.not_after_unix).min().unwrap();
    let (start, end) = (latest_start as u64, earliest_end as u64);
    assert!(start <= ts && ts <= end);

    assert_eq!(cached(ts, sni), (Validation::Valid, false));
    assert_eq!((stats().misses, stats().hits), (1, 0));
    // Both ends are inclusive in webpki, and served from the entry made at `ts`.
    for t in [ts, start, end] {
        assert_eq!(cached(t, sni), uncached(t, sni));
        assert_eq!(cached(t, sni).0, Validation::Valid);
    }
    assert_eq!((stats().misses, stats().hits), (1, 6));

    // One second past the earliest notAfter: expired, and not from the valid entry.
    assert_eq!(uncached(end + 1, sni).0, Validation::Expired);
    assert_eq!(cached(end + 1, sni).0, Validation::Expired);
    assert_eq!((stats().misses, stats().hits), (2, 6));
    // One second before the latest notBefore: not yet valid.
    assert_eq!(uncached(start - 1, sni).0, Validation::NotYetValid);
    assert_eq!(cached(start - 1, sni).0, Validation::NotYetValid);
    assert_eq!((stats().misses, stats().hits), (3, 6));
    // And back inside: the valid entry again.
    assert_eq!(cached(ts + 60, sni).0, Validation::Valid);
    assert_eq!((stats().misses, stats().hits), (3, 7));

    // Another server name is another entry.
    let other = Some("www.google.org");
    assert_eq!(cached(ts, other), uncached(ts, other));
    assert_eq!(cached(ts, other).0, Validation::NameMismatch);
    assert_eq!(cached(ts, None), uncached(ts, None));
    assert_eq!((stats().misses, stats().hits), (5, 8));

    // A chain not fully described has no exact key: validated uncached.
    assert_eq!(
        store.validate_described(
            &chain,
            &certs[..1],
            sni,
            ts,
            &ChainLimits::default(),
            &mut ChainStats::default()
        ),
        uncached(ts, sni)
    );
    assert_eq!(stats().uncached, 1);
    assert_eq!(store.validation_cache_len(), 5);
}

/// Every distinct time position and SNI is an entry; past MAX_VALIDATED_CHAINS the map is
/// emptied, and the answers stay the uncached ones.
#[cfg(feature = "x509")]
#[test]
fn validation_cache_bound() {
    let (ders, certs, ts) = google_chain();
    let chain: Vec<&[u8]> = ders.iter().map(Vec::as_slice).collect();
    let store = TrustStore::new(&[], &[]);
    let distinct = MAX_VALIDATED_CHAINS + 3;
    for i in 0..distinct {
        let name = format!("host{i}.example");
        let got = store.validate_described(
            &chain,
            &certs,
            Some(&name),
            ts,
            &ChainLimits::default(),
            &mut ChainStats::default(),
        );
        if i % 64 == 0 {
            assert_eq!(got, store.validate(&chain, Some(&name), ts, false));
        }
        assert_eq!(got.0, Validation::NameMismatch);
        assert!(store.validation_cache_len() <= MAX_VALIDATED_CHAINS);
    }
    let stats = store.validation_cache_stats();
    assert_eq!((stats.misses, stats.clears), (distinct as u64, 1));
    assert_eq!(store.validation_cache_len(), 3);
}

/// The run's signature budget: once spent, a chain not seen before is undecided (and that
/// answer is not cached: it depends on the run, not on the chain), while chains validated
/// before are still answered from the cache.
#[cfg(feature = "x509")]
#[test]
fn validation_within_the_runs_signature_budget() {
    let (ders, certs, ts) = google_chain();
    let chain: Vec<&[u8]> = ders.iter().map(Vec::as_slice).collect();
    let store = TrustStore::new(&[], &[]);
    let mut stats = ChainStats::default();
    let first = store.validate_described(
        &chain,
        &certs,
        Some("www.google.com"),
        ts,
        &ChainLimits::default(),
        &mut stats,
    );
    assert_eq!(first.0, Validation::Valid);
    let per_chain = stats.signatures;
    assert!(per_chain >= 1, "{stats:?}");
    // A run budget of exactly what the first validation used: nothing is left.
    let limits = ChainLimits {
        max_capture_signatures: per_chain,
        ..ChainLimits::default()
    };
    for _ in 0..2 {
        let got = store.validate_described(
            &chain,
            &certs,
            Some("www.google.org"),
            ts,
            &limits,
            &mut stats,
        );
        assert_eq!(
            got.0,
            Validation::Undecided("max_capture_signatures".into())
        );
    }
    assert_eq!(stats.capture_budget_exceeded, 2, "{stats:?}");
    assert_eq!(
        stats.signatures, per_chain,
        "no signature beyond the budget: {stats:?}"
    );
    let again = store.validate_described(
        &chain,
        &certs,
        Some("www.google.com"),
        ts,
        &limits,
        &mut stats,
    );
    assert_eq!(again.0, Validation::Valid);
    assert_eq!(stats.cache_hits, 1, "{stats:?}");
    assert_eq!(stats.validated, 3, "{stats:?}");
}
