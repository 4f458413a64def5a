//! Hostile input never panics: any text given as an expression, and any bytes given as a
//! frame of any link type, get an answer.

use modsniff_filter::{Filter, FilterError};
use proptest::prelude::*;
use std::net::IpAddr;

/// Names resolve without the network: `gw.example` to one address of each family.
fn resolve(name: &str) -> Vec<IpAddr> {
    match name {
        "gw.example" => vec!["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()],
        _ => Vec::new(),
    }
}

fn compile(text: &str) -> Result<Filter, FilterError> {
    Filter::with_resolver(text, &resolve)
}

/// Words and characters of the language, so that random strings reach deep into the parser.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "tcp",
            "udp",
            "ip",
            "ip6",
            "arp",
            "icmp",
            "icmp6",
            "host",
            "net",
            "port",
            "portrange",
            "src",
            "dst",
            "and",
            "or",
            "not",
            "!",
            "&&",
            "||",
            "(",
            ")",
            "vlan",
            "less",
            "greater",
            "len",
            "proto",
            "ether",
            "mask",
            "broadcast",
            "multicast",
            "[",
            "]",
            ":",
            "+",
            "-",
            "*",
            "/",
            "%",
            "&",
            "|",
            "^",
            "<<",
            ">>",
            "=",
            "!=",
            "<",
            ">",
            "10.0.0.1",
            "10.1",
            "::1",
            "fe80::/10",
            "1:2:3:4:5:6",
            "80",
            "0x50",
            "053",
            "65536",
            "4294967296",
            "1-1023",
            "domain",
            "\\tcp",
            "tcpflags",
            "tcp-syn",
            "/8",
            "gw.example",
        ])
        .prop_map(str::to_string),
        "[ -~]{0,3}",
    ]
}

fn expression() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..14).prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn any_text_compiles_or_says_why(text in expression()) {
        if let Err(e) = compile(&text) {
            // Every error that has a place points inside the text.
            if let Some(span) = e.span() {
                prop_assert!(span.start <= span.end && span.end <= text.len(), "{e:?}");
                prop_assert!(e.pointer(&text).is_some());
            }
        }
    }

    #[test]
    fn any_frame_gets_an_answer(
        text in expression(),
        link_type in prop::sample::select(vec![0u32, 1, 12, 101, 108, 113, 228, 229, 239, 276, 999]),
        frame in prop::collection::vec(any::<u8>(), 0..120),
        wire_len in any::<u32>(),
    ) {
        if let Ok(f) = compile(&text)
            && let Ok(p) = f.for_link_type(link_type)
        {
            let _ = p.matches(&frame, wire_len);
        }
    }
}

#[test]
fn names_resolve_through_the_given_resolver() {
    let f = compile("host gw.example").unwrap();
    assert_eq!(
        f.to_string(),
        "(or [ip/arp/rarp src-or-dst host 192.0.2.1] [ip6 src-or-dst host 2001:db8::1])"
    );
    assert_eq!(
        compile("ip6 host gw.example").unwrap().to_string(),
        "[ip6 src-or-dst host 2001:db8::1]"
    );
    let e = compile("host nowhere.example").unwrap_err();
    assert_eq!(e.to_string(), "unknown host 'nowhere.example' at column 6");
    // As libpcap: an ARP test cannot take the name's IPv6 address.
    let e = compile("arp host gw.example").unwrap_err();
    assert!(
        e.to_string().contains("'arp' modifier applied to ip6 host"),
        "{e}"
    );
}
