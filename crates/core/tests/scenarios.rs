//! The engine on the real go-command captures in ../shared/scenarios.
mod common;

use modsniff_core::Config;

#[test]
fn clean_capture_has_one_tls_connection_to_the_proxy() {
    let Some(shared) = common::shared() else {
        eprintln!("SKIP: ../shared is absent (it holds the scenario captures)");
        return;
    };
    let (events, stats) = common::run_pcap(&shared.join("scenarios/clean.pcap"), Config::default());
    let conns = common::connections(&events);
    for c in &conns {
        eprintln!("{c:?}");
    }
    eprintln!("{stats:?}");
    let tcp: Vec<_> = conns
        .iter()
        .filter(|c| c.transport == modsniff_core::Transport::Tcp)
        .collect();
    assert_eq!(tcp.len(), 1);
    assert_eq!(tcp[0].server.to_string(), "10.77.2.2:443");
    assert_eq!(stats.packets, 60);
}

/// The Go 1.27 ClientHello of clean.pcap (1529-byte handshake with an X25519MLKEM768 key
/// share) spans two TCP segments (1448 + 90 bytes, frames 14 and 15): the reassembler must
/// hand it to the TLS decoder as one contiguous run, which then sees the whole message.
#[test]
fn go_127_client_hello_over_two_segments_is_one_run() {
    let Some(shared) = common::shared() else {
        eprintln!("SKIP: ../shared is absent (it holds the scenario captures)");
        return;
    };
    let (events, _) = common::run_pcap(&shared.join("scenarios/clean.pcap"), Config::default());
    let conns = common::connections(&events);
    let tls = conns
        .iter()
        .find_map(|c| c.tls.as_deref())
        .expect("a TLS connection");
    let hello = tls.client_hello.as_ref().expect("the ClientHello");
    assert_eq!(hello.sni.as_deref(), Some("proxy.golang.org"));
    assert_eq!(hello.handshake_length, 1529);
    assert_eq!(hello.tcp_segments, 2);
    assert_eq!((hello.first_frame, hello.last_frame), (14, 15));
    assert!(hello.pq_key_share, "X25519MLKEM768 key share");
    assert_eq!(hello.alpn, vec!["h2".to_string(), "http/1.1".to_string()]);
    let missed: u64 = conns
        .iter()
        .map(|c| c.client_stats.missed_bytes + c.server_stats.missed_bytes)
        .sum();
    assert_eq!(missed, 0, "no gap anywhere in a clean capture");
}
