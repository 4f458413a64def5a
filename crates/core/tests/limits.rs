//! The decoders' bounds are set through `Config::limits`, bite where they are set, and are
//! counted where the limits table says.
mod common;

use modsniff_core::Config;
use std::path::Path;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
        .join("capture.pcap")
}

/// goproxy-http-clean: the go command fetching modules over plain HTTP, several requests on
/// one keep-alive connection.
#[test]
fn http_limits_reach_the_decoder_and_are_counted() {
    let path = fixture("goproxy-http-clean");
    let (events, stats) = common::run_pcap(&path, Config::default());
    let conns = common::connections(&events);
    let most = conns.iter().map(|c| c.http.len()).max().unwrap_or(0);
    assert!(most >= 2, "a connection with several transactions ({most})");
    assert_eq!(stats.http.dropped_transactions, 0);

    let mut config = Config::default();
    config.limits.http.max_transactions = 1;
    let (events, stats) = common::run_pcap(&path, config);
    let conns1 = common::connections(&events);
    assert!(conns1.iter().all(|c| c.http.len() <= 1));
    let kept: usize = conns1.iter().map(|c| c.http.len()).sum();
    let all: usize = conns.iter().map(|c| c.http.len()).sum();
    assert_eq!(stats.http.dropped_transactions, (all - kept) as u64);
}

/// mitm-untrusted-tls12: a TLS 1.2 handshake, so the certificates are in clear; the
/// intercepting proxy sends its leaf and its CA.
#[test]
fn tls_limits_reach_the_decoder_and_are_counted() {
    let path = fixture("mitm-untrusted-tls12");
    let (events, _) = common::run_pcap(&path, Config::default());
    let sent: usize = common::connections(&events)
        .iter()
        .filter_map(|c| c.tls.as_ref())
        .map(|t| t.certificates.len())
        .sum();
    let mut config = Config::default();
    config.limits.tls.max_certificates = 1;
    let (events, _) = common::run_pcap(&path, config);
    let tls: Vec<_> = common::connections(&events)
        .into_iter()
        .filter_map(|c| c.tls.as_deref())
        .collect();
    let kept: usize = tls.iter().map(|t| t.certificates.len()).sum();
    let dropped: u64 = tls.iter().map(|t| t.anomalies.dropped_certificates).sum();
    assert!(sent > 1, "a chain of several certificates ({sent})");
    assert_eq!(kept, 1);
    assert_eq!(dropped, (sent - 1) as u64);
}
