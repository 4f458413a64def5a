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
        eprintln!("{}", serde_json::to_string(c).unwrap());
    }
    eprintln!("{stats:?}");
    let tcp: Vec<_> = conns
        .iter()
        .filter(|c| c.transport == modsniff_core::flow::Transport::Tcp)
        .collect();
    assert_eq!(tcp.len(), 1);
    assert_eq!(tcp[0].server.to_string(), "10.77.2.2:443");
    assert_eq!(stats.packets, 60);
}
