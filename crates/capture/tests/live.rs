//! Live capture on the loopback interface. Needs CAP_NET_RAW: skips with a message when the
//! process lacks it. (A netns/veth test with drops comes later.)
#![cfg(feature = "live")]

use modsniff_capture::{CaptureError, LiveConfig, LiveSource, list_interfaces};
use modsniff_core::LinkType;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

#[test]
fn loopback_capture_sees_our_datagrams_and_times_out() {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = target.local_addr().unwrap().port();
    let mut cfg = LiveConfig::new("lo");
    cfg.filter = Some(format!("udp and dst port {port}"));
    cfg.timeout_ms = 50;
    let mut src = match LiveSource::open(cfg) {
        Ok(s) => s,
        Err(CaptureError::Permission { .. }) => {
            eprintln!("SKIP: live capture needs CAP_NET_RAW");
            return;
        }
        Err(e) => panic!("open lo: {e}"),
    };
    // Linux loopback is Ethernet-framed for libpcap.
    assert_eq!(src.linktype(), LinkType::ETHERNET);
    let payload = b"modsniff-live-test";
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    while seen.len() < 3 && Instant::now() < deadline {
        sock.send_to(payload, ("127.0.0.1", port)).unwrap();
        while let Some(p) = src.next_packet().unwrap() {
            assert!(p.data.ends_with(payload), "filter let through {:?}", p.data);
            assert_eq!(p.orig_len as usize, p.data.len());
            seen.push((p.frame, p.ts));
        }
    }
    assert!(seen.len() >= 3, "saw {} packets", seen.len());
    let frames: Vec<u64> = seen.iter().map(|s| s.0).collect();
    assert_eq!(frames[..3], [1, 2, 3]);
    assert!(
        seen[0].1.as_nanos() > 1_600_000_000_000_000_000,
        "timestamps are wall clock"
    );
    // Nothing more is sent: the read times out with Ok(None).
    let t = Instant::now();
    while src.next_packet().unwrap().is_some() {}
    assert!(t.elapsed() < Duration::from_secs(2));
    let stats = src.stats().unwrap();
    assert!(stats.received >= 3, "{stats:?}");
}

#[test]
fn bad_interface_and_filter_are_distinct_errors() {
    match LiveSource::open(LiveConfig::new("no-such-if0")) {
        Err(CaptureError::Interface { interface, .. }) => assert_eq!(interface, "no-such-if0"),
        Err(CaptureError::Permission { .. }) => eprintln!("SKIP: no CAP_NET_RAW"),
        other => panic!("unexpected: {other:?}"),
    }
    let mut cfg = LiveConfig::new("lo");
    cfg.filter = Some("this is not bpf".into());
    match LiveSource::open(cfg) {
        Err(CaptureError::Filter { filter, .. }) => assert_eq!(filter, "this is not bpf"),
        Err(CaptureError::Permission { .. }) => eprintln!("SKIP: no CAP_NET_RAW"),
        other => panic!("unexpected: {other:?}"),
    }
}

#[test]
fn interfaces_include_loopback() {
    let list = list_interfaces().unwrap();
    assert!(
        list.iter().any(|i| i.name == "lo" && i.is_loopback),
        "{list:?}"
    );
}
