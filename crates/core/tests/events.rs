//! Events leave as they happen: in packet order, each during the push of the packet that
//! completed it, before the `Connection` that contains it, and saying what the connection
//! record says. The mask changes what leaves, never what is found.
mod common;

use modsniff_core::{Config, Connection, Event, EventMask, Side, Stats};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Events with the frame whose push produced them (`None`: produced by `finish`).
struct Run {
    events: Vec<(Option<u64>, Event)>,
    last_frame: u64,
    stats: Stats,
}

fn run(path: &Path, events: EventMask) -> Option<Run> {
    let mut engine = modsniff_core::Engine::new(Config {
        events,
        ..Config::default()
    });
    let mut out = Vec::new();
    let mut got = Vec::new();
    let mut last_frame = 0;
    let legacy = common::for_each_packet(path, |p| {
        last_frame = p.frame;
        engine.push(&p, &mut out);
        got.extend(out.drain(..).map(|e| (Some(p.frame), e)));
    });
    if !legacy {
        return None;
    }
    let stats = engine.finish(&mut out);
    got.extend(out.drain(..).map(|e| (None, e)));
    Some(Run {
        events: got,
        last_frame,
        stats,
    })
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let all = common::pcaps_under(&dir);
    assert!(all.len() > 40, "the fixtures are there ({})", all.len());
    all
}

/// (connection, frame, side) of an event about an open connection.
fn about(e: &Event) -> Option<(u64, u64, Side)> {
    Some(match e {
        Event::ClientHello(e) => (e.conn_id, e.frame, e.side),
        Event::ServerHello(e) => (e.conn_id, e.frame, e.side),
        Event::Certificates(e) => (e.conn_id, e.frame, e.side),
        Event::Alert(e) => (e.conn_id, e.frame, e.side),
        Event::HttpRequest(e) => (e.conn_id, e.frame, e.side),
        Event::HttpResponse(e) => (e.conn_id, e.frame, e.side),
        Event::Reset(e) => (e.conn_id, e.frame, e.side),
        _ => return None,
    })
}

/// What the connection record says each kind of event should have said, in order.
fn expected(c: &Connection) -> HashMap<&'static str, Vec<String>> {
    let mut m: HashMap<&'static str, Vec<String>> = HashMap::new();
    if let Some(t) = c.tls.as_deref() {
        for ch in [t.client_hello.as_ref(), t.client_hello_retry.as_deref()]
            .into_iter()
            .flatten()
        {
            m.entry("client_hello").or_default().push(format!("{ch:?}"));
        }
        for sh in [&t.hello_retry_request, &t.server_hello]
            .into_iter()
            .flatten()
        {
            m.entry("server_hello").or_default().push(format!("{sh:?}"));
        }
        if !t.client_certificates.is_empty() {
            let v = format!("{:?}/{:?}", t.client_certificates, None::<()>);
            m.entry("certificates").or_default().push(v);
        }
        if t.certificate_frame.is_some() {
            let v = format!("{:?}/{:?}", t.certificates, t.validation);
            m.entry("certificates").or_default().push(v);
        }
        for a in &t.alerts {
            m.entry("alert").or_default().push(format!("{a:?}"));
        }
    }
    for tx in c.http.iter().filter(|t| t.method.is_some()) {
        let v = format!("{:?} {:?} {:?}", tx.method, tx.uri, tx.request_frame);
        m.entry("request").or_default().push(v);
    }
    for tx in c.http.iter().filter(|t| t.status.is_some()) {
        let v = format!("{:?} {:?} {:?}", tx.status, tx.reason, tx.response_frame);
        m.entry("response").or_default().push(v);
    }
    m
}

/// The same, from the events.
fn said(e: &Event) -> Option<(&'static str, String)> {
    Some(match e {
        Event::ClientHello(e) => ("client_hello", format!("{:?}", e.data)),
        Event::ServerHello(e) => ("server_hello", format!("{:?}", e.data)),
        Event::Certificates(e) => (
            "certificates",
            match e.side {
                Side::Client => format!("{:?}/{:?}", e.data.certificates, None::<()>),
                Side::Server => format!("{:?}/{:?}", e.data.certificates, e.data.validation),
            },
        ),
        Event::Alert(e) => ("alert", format!("{:?}", e.data)),
        Event::HttpRequest(e) => {
            let tx = &e.data;
            let v = format!("{:?} {:?} {:?}", tx.method, tx.uri, tx.request_frame);
            ("request", v)
        }
        Event::HttpResponse(e) => {
            let tx = &e.data;
            let v = format!("{:?} {:?} {:?}", tx.status, tx.reason, tx.response_frame);
            ("response", v)
        }
        _ => return None,
    })
}

#[test]
fn events_arrive_in_packet_order_before_their_connection_and_agree_with_it() {
    let mut seen_kinds = HashSet::new();
    for path in fixtures() {
        let Some(r) = run(&path, EventMask::ALL) else {
            continue;
        };
        let name = path.display();
        let mut last = 0;
        let mut ended: HashMap<u64, &Connection> = HashMap::new();
        let mut told: HashMap<u64, HashMap<&'static str, Vec<String>>> = HashMap::new();
        let mut resets: HashMap<u64, Vec<String>> = HashMap::new();
        for (pushed, ev) in &r.events {
            seen_kinds.insert(format!("{:?}", ev.kind()));
            if let Event::Connection(c) = ev {
                ended.insert(c.id, c);
                continue;
            }
            let Some((id, frame, side)) = about(ev) else {
                continue;
            };
            assert!(frame >= last, "{name}: frame {frame} after {last}");
            last = frame;
            assert_eq!(frame, pushed.unwrap_or(r.last_frame), "{name}: {ev:?}");
            assert!(
                !ended.contains_key(&id),
                "{name}: event after its connection"
            );
            match ev {
                Event::ClientHello(e) => {
                    assert_eq!(side, Side::Client);
                    assert!(frame >= e.data.last_frame);
                }
                Event::ServerHello(e) => {
                    assert_eq!(side, Side::Server);
                    assert!(frame >= e.data.last_frame);
                }
                Event::Alert(e) => assert!(frame >= e.data.frame),
                Event::HttpRequest(e) => {
                    assert_eq!(side, Side::Client);
                    assert!(frame >= e.data.request_frame.unwrap_or(0));
                }
                Event::HttpResponse(e) => {
                    assert_eq!(side, Side::Server);
                    assert!(frame >= e.data.response_frame.unwrap_or(0));
                }
                Event::Reset(e) => {
                    // A RST is known from its own packet.
                    assert_eq!(frame, e.data.packet, "{name}");
                    assert_eq!(side, e.data.from);
                    resets.entry(id).or_default().push(format!("{:?}", e.data));
                }
                _ => {}
            }
            if let Some((kind, v)) = said(ev) {
                told.entry(id).or_default().entry(kind).or_default().push(v);
            }
        }
        for (id, c) in &ended {
            let told = told.remove(id).unwrap_or_default();
            assert_eq!(told, expected(c), "{name}: connection {id}");
            let resets = resets.remove(id).unwrap_or_default();
            let kept: Vec<String> = c.resets.iter().map(|r| format!("{r:?}")).collect();
            assert!(resets.starts_with(&kept), "{name}: connection {id}");
            if let Some(ch) = c.tls.as_ref().and_then(|t| t.client_hello.as_ref()) {
                // An in-order client side hands each byte over on arrival: the ClientHello
                // leaves during the push of its last packet.
                let s = &c.client_stats;
                if s.retransmissions == 0 && s.out_of_order == 0 && s.missed_bytes == 0 {
                    let at = r.events.iter().find_map(|(p, e)| match e {
                        Event::ClientHello(e) if e.conn_id == *id => Some(*p),
                        _ => None,
                    });
                    assert_eq!(at, Some(Some(ch.last_frame)), "{name}: connection {id}");
                }
            }
        }
        assert!(told.is_empty(), "{name}: events of no connection");
        assert!(resets.is_empty(), "{name}: resets of no connection");
    }
    for kind in [
        "CLIENT_HELLO",
        "SERVER_HELLO",
        "CERTIFICATES",
        "ALERT",
        "HTTP_REQUEST",
        "HTTP_RESPONSE",
        "RESET",
        "CONNECTION",
        "DNS",
    ] {
        assert!(
            seen_kinds.contains(&format!("{{{kind}}}")),
            "the fixtures produce {kind}: {seen_kinds:?}"
        );
    }
}

#[test]
fn the_mask_changes_what_leaves_not_what_is_found() {
    for path in fixtures() {
        let Some(all) = run(&path, EventMask::ALL) else {
            continue;
        };
        let summary = run(&path, EventMask::default()).unwrap();
        let none = run(&path, EventMask::NONE).unwrap();
        let name = path.display();
        let wanted = |r: &Run, mask: EventMask| -> Vec<String> {
            r.events
                .iter()
                .filter(|(_, e)| mask.contains(e.kind()))
                .map(|(_, e)| format!("{e:?}"))
                .collect()
        };
        assert_eq!(
            wanted(&all, EventMask::default()),
            wanted(&summary, EventMask::ALL),
            "{name}"
        );
        assert!(none.events.is_empty(), "{name}");
        assert_eq!(all.stats, summary.stats, "{name}");
        assert_eq!(none.stats, summary.stats, "{name}");
    }
}

/// handshake-stall: the server accepts the connection and never answers the ClientHello
/// (its README: the ClientHello for proxy.golang.org in frame 12, two segments). A live
/// caller learns of the hello when it is sent, not when the connection ends.
#[test]
fn a_stalled_handshakes_client_hello_leaves_before_finish() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/handshake-stall/capture.pcap");
    let r = run(&path, EventMask::CLIENT_HELLO | EventMask::CONNECTION).unwrap();
    let hellos: Vec<_> = r
        .events
        .iter()
        .filter_map(|(p, e)| match e {
            Event::ClientHello(h) => Some((*p, h)),
            _ => None,
        })
        .collect();
    assert_eq!(hellos.len(), 1);
    let (pushed, h) = hellos[0];
    assert_eq!(h.data.sni.as_deref(), Some("proxy.golang.org"));
    assert_eq!(h.data.tcp_segments, 2);
    // The README's frame 12 is where tshark shows the reassembled hello: its last segment.
    assert_eq!(h.data.last_frame, 12);
    assert_eq!(
        pushed,
        Some(h.data.last_frame),
        "left during the push of its last segment"
    );
    let conn = r
        .events
        .iter()
        .find_map(|(_, e)| match e {
            Event::Connection(c) if c.id == h.conn_id => Some(c),
            _ => None,
        })
        .expect("its connection");
    let tls = conn.tls.as_ref().expect("TLS");
    assert!(tls.server_hello.is_none(), "the server never answered");
    assert_eq!(tls.client_hello.as_ref(), Some(&h.data));
}
