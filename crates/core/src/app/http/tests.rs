//! HTTP decoder tests: real segments extracted from public captures (tests/data/http, see its
//! README), each also fed at every split point and byte by byte.

use super::*;
use crate::app::{Progress, Protocol, StreamCtx, StreamDecoder};
use crate::time::Timestamp;
use crate::types::Side;

/// One segment of a conversation: who sent it, its frame number, its bytes.
type Seg = (Side, u64, Vec<u8>);

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// Reads a `.seg` file; frame numbers are the 1-based line numbers.
fn load(name: &str) -> Vec<Seg> {
    let path = format!("{}/tests/data/http/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            let (d, h) = l.split_once(' ').unwrap();
            let side = if d == "C" { Side::Client } else { Side::Server };
            (side, i as u64 + 1, hex(h.trim()))
        })
        .collect()
}

/// What `take_leftover` gave for the client and the server.
type Leftovers = (Option<Vec<u8>>, Option<Vec<u8>>);

/// What the engine does: offsets per side, skips honoured, stops on Done/Violation, hands
/// over on Upgrade.
struct Driver {
    dec: HttpDecoder,
    off: [u64; 2],
    skip: [u64; 2],
    stopped: [Option<Progress>; 2],
    upgraded: Option<Leftovers>,
    /// Bytes that reached the "TLS decoder" after the upgrade, per side.
    after: [Vec<u8>; 2],
}

impl Driver {
    fn new() -> Self {
        Driver {
            dec: HttpDecoder::new(),
            off: [0; 2],
            skip: [0; 2],
            stopped: [None; 2],
            upgraded: None,
            after: [Vec::new(), Vec::new()],
        }
    }

    fn ctx(&self, side: Side, frame: u64) -> StreamCtx {
        StreamCtx {
            side,
            ts: Timestamp::from_nanos(frame * 1000),
            frame,
            offset: self.off[side.index()],
        }
    }

    fn data(&mut self, side: Side, frame: u64, mut bytes: &[u8]) {
        let i = side.index();
        if self.upgraded.is_some() {
            self.after[i].extend_from_slice(bytes);
            return;
        }
        let n = (self.skip[i] as usize).min(bytes.len());
        self.skip[i] -= n as u64;
        self.off[i] += n as u64;
        bytes = &bytes[n..];
        if bytes.is_empty() || self.stopped[i].is_some() {
            return;
        }
        let ctx = self.ctx(side, frame);
        let p = self.dec.on_data(&ctx, bytes);
        self.off[i] += bytes.len() as u64;
        match p {
            Progress::Skip(n) => self.skip[i] = n,
            Progress::Continue => {}
            Progress::Upgrade(Protocol::Tls) => {
                let c = self.dec.take_leftover(Side::Client);
                let s = self.dec.take_leftover(Side::Server);
                self.after[0].extend_from_slice(c.as_deref().unwrap_or_default());
                self.after[1].extend_from_slice(s.as_deref().unwrap_or_default());
                self.upgraded = Some((c, s));
            }
            other => self.stopped[i] = Some(other),
        }
    }

    fn end(&mut self, side: Side) {
        if self.upgraded.is_none() {
            let ctx = self.ctx(side, 0);
            self.dec.on_end(&ctx);
        }
    }

    fn run(segs: &[Seg]) -> Driver {
        let mut d = Driver::new();
        for (side, frame, bytes) in segs {
            d.data(*side, *frame, bytes);
        }
        d.end(Side::Client);
        d.end(Side::Server);
        d
    }
}

/// The transactions with frame numbers and times left out: splitting a segment keeps its
/// frame, but the byte-at-a-time run below also checks them.
fn run_split_everywhere(segs: &[Seg]) -> Driver {
    split_everywhere(segs, true)
}

/// `check_after`: whether the bytes handed to the next protocol must be identical for every
/// split. Not so when a stray byte after the upgrading head arrives in its own chunk: the
/// decoder has already handed over by then.
fn split_everywhere(segs: &[Seg], check_after: bool) -> Driver {
    let whole = Driver::run(segs);
    for (k, (side, frame, bytes)) in segs.iter().enumerate() {
        for cut in 1..bytes.len() {
            let mut split = segs[..k].to_vec();
            split.push((*side, *frame, bytes[..cut].to_vec()));
            split.push((*side, *frame, bytes[cut..].to_vec()));
            split.extend_from_slice(&segs[k + 1..]);
            let d = Driver::run(&split);
            assert_eq!(
                d.dec.transactions(),
                whole.dec.transactions(),
                "segment {k} cut at {cut}"
            );
            if check_after {
                assert_eq!(d.after, whole.after, "segment {k} cut at {cut}");
            }
            assert_eq!(d.stopped, whole.stopped, "segment {k} cut at {cut}");
        }
    }
    let bytewise: Vec<Seg> = segs
        .iter()
        .flat_map(|(s, f, b)| b.iter().map(move |&x| (*s, *f, vec![x])))
        .collect();
    let d = Driver::run(&bytewise);
    assert_eq!(
        d.dec.transactions(),
        whole.dec.transactions(),
        "byte by byte"
    );
    if check_after {
        assert_eq!(d.after, whole.after, "byte by byte");
    }
    // Everything in one chunk per side run (the coalesced extreme).
    whole
}

#[test]
fn go_connect_through_squid_upgrades_to_tls() {
    let segs = load("go-proxy-connect.seg");
    let d = run_split_everywhere(&segs);
    let t = d.dec.transactions();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].method.as_deref(), Some("CONNECT"));
    assert_eq!(t[0].uri.as_deref(), Some("proxy.golang.org:443"));
    assert_eq!(t[0].host.as_deref(), Some("proxy.golang.org:443"));
    assert_eq!(t[0].user_agent.as_deref(), Some("Go-http-client/1.1"));
    assert_eq!(t[0].status, Some(200));
    assert_eq!(t[0].reason.as_deref(), Some("Connection established"));
    assert_eq!(
        (t[0].request_frame, t[0].response_frame),
        (Some(1), Some(2))
    );
    assert!(!t[0].proxy_authorization);
    // The ClientHello segments after the 200 went to the TLS side, untouched.
    let (c, s) = d.upgraded.clone().unwrap();
    assert_eq!((c, s), (None, None));
    let hello: Vec<u8> = segs[2..].iter().flat_map(|s| s.2.clone()).collect();
    assert_eq!(d.after[0], hello);
    assert_eq!(&hello[..3], b"\x16\x03\x01");
}

#[test]
fn connect_leftover_in_the_same_chunk_is_handed_over() {
    let segs = load("go-proxy-connect.seg");
    let hello = segs[2].2.clone();
    // The server's 200 and the first tunnel bytes coalesced into one chunk.
    let mut resp = segs[1].2.clone();
    resp.extend_from_slice(&hello);
    let mut d = Driver::new();
    d.data(Side::Client, 1, &segs[0].2);
    d.data(Side::Server, 2, &resp);
    let (c, s) = d.upgraded.clone().unwrap();
    assert_eq!(c, None);
    assert_eq!(s, Some(hello.clone()));
    // An optimistic client that sends its ClientHello before the answer.
    let mut d = Driver::new();
    d.data(Side::Client, 1, &segs[0].2);
    d.data(Side::Client, 3, &hello);
    d.data(Side::Server, 2, &segs[1].2);
    let (c, s) = d.upgraded.clone().unwrap();
    assert_eq!((c, s), (Some(hello), None));
}

#[test]
fn connect_with_stray_newlines() {
    // suricata-verify http-connect-tls: both heads are followed by a lone "\n".
    let segs = load("sv-connect-tls.seg");
    let d = split_everywhere(&segs, false);
    let t = d.dec.transactions();
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].uri.as_deref(), t[0].status),
        (Some("abc:443"), Some(200))
    );
    assert_eq!(t[0].host, None);
    assert_eq!(t[0].server.as_deref(), Some("VictorServer/1.0"));
    // The stray line ends are not TLS and are not handed over.
    assert_eq!(d.after[0], segs[2].2);
    assert_eq!(d.after[1], Vec::<u8>::new());
}

#[test]
fn proxy_407_then_retry_with_credentials() {
    // Squid's answer format (squid 5.7); not from a capture: the public corpus has no 407.
    let req1 = b"CONNECT proxy.golang.org:443 HTTP/1.1\r\nHost: proxy.golang.org:443\r\nUser-Agent: Go-http-client/1.1\r\n\r\n".to_vec();
    let resp1 = b"HTTP/1.1 407 Proxy Authentication Required\r\nServer: squid/5.7\r\nMime-Version: 1.0\r\nContent-Type: text/html;charset=utf-8\r\nContent-Length: 12\r\nProxy-Authenticate: Basic realm=\"corp proxy\"\r\nVia: 1.1 proxy.corp.example (squid/5.7)\r\nConnection: keep-alive\r\n\r\n<html></html".to_vec();
    let req2 = b"CONNECT proxy.golang.org:443 HTTP/1.1\r\nHost: proxy.golang.org:443\r\nProxy-Authorization: Basic dXNlcjpzZWNyZXQ=\r\n\r\n".to_vec();
    let resp2 = b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03\x00\x7a".to_vec();
    let segs = vec![
        (Side::Client, 1, req1),
        (Side::Server, 2, resp1),
        (Side::Client, 3, req2),
        (Side::Server, 4, resp2),
    ];
    let d = run_split_everywhere(&segs);
    let t = d.dec.transactions();
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].status, Some(407));
    assert_eq!(t[0].proxy_authenticate.as_deref(), Some("Basic"));
    assert_eq!(t[0].proxy_authenticate(), Some("Basic"));
    assert_eq!(t[0].reason(), Some("Proxy Authentication Required"));
    assert_eq!(t[0].body_shortfall(), None);
    assert_eq!(
        t[0].via.as_deref(),
        Some("1.1 proxy.corp.example (squid/5.7)")
    );
    assert_eq!((t[0].content_length, t[0].body_bytes), (Some(12), Some(12)));
    assert_eq!(t[0].body_complete, Some(true));
    assert!(!t[0].proxy_authorization);
    assert!(t[1].proxy_authorization);
    assert_eq!(t[1].status, Some(200));
    assert_eq!(d.after[1], b"\x16\x03\x03\x00\x7a");
    // The credential is never kept.
    let kept = format!("{t:?}");
    assert!(!kept.contains("dXNlcjpzZWNyZXQ="), "{kept}");
    #[cfg(feature = "serde")]
    {
        let json = serde_json::to_string(t).unwrap();
        assert!(!json.contains("dXNlcjpzZWNyZXQ="), "{json}");
        assert!(json.contains("\"proxy_authorization\":true"));
    }
}

#[test]
fn pipelined_requests_match_in_order() {
    let segs = load("zeek-pipelined.seg");
    // Several requests share a segment (that is what makes them pipelined).
    let d = run_split_everywhere(&segs);
    let got: Vec<_> = d
        .dec
        .transactions()
        .iter()
        .map(|t| {
            (
                t.uri.clone().unwrap(),
                t.status,
                t.content_length,
                t.body_bytes,
                t.body_complete,
            )
        })
        .collect();
    let want = [
        ("/style/enhanced.css", 946),
        ("/script/urchin.js", 6716),
        ("/images/template/screen/bullet_utility.png", 94),
        ("/images/template/screen/key-point-top.png", 2349),
        ("/projects/calendar/images/header-sunbird.png", 27579),
    ];
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (g, (uri, len)) in got.iter().zip(want) {
        assert_eq!(
            g,
            &(uri.to_string(), Some(200), Some(len), Some(len), Some(true))
        );
    }
    assert_eq!(
        d.dec.transactions()[0].host.as_deref(),
        Some("www.mozilla.org")
    );
    assert_eq!(d.stopped, [None, None]);
}

#[test]
fn get_and_absolute_form_proxy_request() {
    let d = run_split_everywhere(&load("zeek-get.seg"));
    let t = &d.dec.transactions()[0];
    assert_eq!(t.uri.as_deref(), Some("/download/CHANGES.bro-aux.txt"));
    assert_eq!(
        (t.status, t.content_length, t.body_bytes),
        (Some(200), Some(4705), Some(4705))
    );
    let d = run_split_everywhere(&load("zeek-proxy.seg"));
    let t = &d.dec.transactions()[0];
    assert_eq!(t.uri.as_deref(), Some("HTTP://bro.org/"));
    assert_eq!(t.host.as_deref(), Some("bro.org"));
    assert_eq!((t.status, t.body_bytes), (Some(200), Some(15961)));
}

#[test]
fn head_response_has_no_body() {
    // zeek methods.pcap stream 44: HEAD with bare-LF line ends; the 200 carries headers only.
    let d = run_split_everywhere(&load("zeek-methods-head.seg"));
    let t = d.dec.transactions();
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].method.as_deref(), t[0].status),
        (Some("HEAD"), Some(200))
    );
    assert_eq!((t[0].body_bytes, t[0].body_complete), (None, Some(true)));
}

#[test]
fn continue_then_chunked_response() {
    // zeek 100-continue.pcap: POST with Expect, 100 Continue, 2001-byte body, chunked 200.
    let d = run_split_everywhere(&load("zeek-100-continue.seg"));
    let t = d.dec.transactions();
    assert_eq!(t.len(), 1, "{t:?}");
    assert_eq!(t[0].method.as_deref(), Some("POST"));
    assert_eq!(t[0].informational, vec![100]);
    assert_eq!(t[0].status, Some(200));
    assert!(t[0].chunked);
    assert_eq!(t[0].body_complete, Some(true));
    assert!(t[0].body_bytes.unwrap() > 0);
}

#[test]
fn websocket_101_stops_decoding() {
    let d = run_split_everywhere(&load("zeek-websocket.seg"));
    let t = d.dec.transactions();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].status, Some(101));
    assert_eq!(d.stopped, [Some(Progress::Done), Some(Progress::Done)]);
}

#[test]
fn head_request_with_odd_transfer_encoding() {
    // suricata-verify http-chunked: "Transfer-Encoding: ,\tchunked," on a HEAD request.
    let d = run_split_everywhere(&load("sv-head-chunked.seg"));
    let t = d.dec.transactions();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].method.as_deref(), Some("HEAD"));
    assert_eq!(
        t[0].uri.as_deref(),
        Some("/resources/fonts/SourceSansPro-Regular.ttf")
    );
    assert_eq!(t[0].host.as_deref(), Some("localhost"));
}

#[test]
fn truncated_body_is_reported() {
    let segs = vec![
        (Side::Client, 1, b"GET /x.zip HTTP/1.1\r\nHost: h\r\nRange: bytes=0-\r\n\r\n".to_vec()),
        (Side::Server, 2, b"HTTP/1.1 206 Partial Content\r\nContent-Length: 100\r\nContent-Range: bytes 0-99/100\r\n\r\n0123456789".to_vec()),
        (Side::Server, 3, b"0123456789".to_vec()),
    ];
    let d = run_split_everywhere(&segs);
    let t = &d.dec.transactions()[0];
    assert_eq!(t.range.as_deref(), Some("bytes=0-"));
    assert_eq!(t.content_range.as_deref(), Some("bytes 0-99/100"));
    assert_eq!(
        (t.content_length, t.body_bytes, t.body_complete),
        (Some(100), Some(20), Some(false))
    );
    assert_eq!(t.body_shortfall(), Some((20, 100)));
    assert!(t.body_truncated());
}

#[test]
fn gap_in_body_shortens_the_skip_gap_in_head_resyncs() {
    let mut dec = HttpDecoder::new();
    let c = |offset, frame| StreamCtx {
        side: Side::Client,
        ts: Timestamp::ZERO,
        frame,
        offset,
    };
    let s = |offset, frame| StreamCtx {
        side: Side::Server,
        ts: Timestamp::ZERO,
        frame,
        offset,
    };
    let req = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\n\r\n";
    assert_eq!(dec.on_data(&c(0, 1), req), Progress::Continue);
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
    assert_eq!(dec.on_data(&s(0, 2), head), Progress::Skip(1000));
    // The reassembler skipped 400 bytes, then lost 100, then resumes inside the body.
    let at = head.len() as u64 + 400;
    assert_eq!(dec.on_gap(&s(at, 3), 100), Progress::Skip(500));
    let r404 = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(dec.on_data(&s(at + 600, 4), r404), Progress::Continue);
    let server_end = at + 600 + r404.len() as u64;
    let t = dec.transactions();
    assert_eq!(
        (t[0].body_bytes, t[0].body_missing, t[0].body_complete),
        (Some(900), 100, Some(true))
    );
    assert_eq!(t[1].status, Some(404));
    // A gap in the middle of a head: the request its whole words make (GET /3) is kept,
    // marked cut, and the side waits for a chunk that starts with a head.
    let at = req.len() as u64;
    assert_eq!(dec.on_data(&c(at, 5), b"GET /3 HT"), Progress::Continue);
    assert_eq!(dec.on_gap(&c(at + 9, 6), 10), Progress::Continue);
    assert_eq!(dec.stats().desync_gaps, 1);
    assert_eq!(
        dec.on_data(&c(at + 19, 7), b"1\r\n\r\n"),
        Progress::Continue
    );
    let r4 = b"GET /4 HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_eq!(dec.on_data(&c(at + 24, 8), r4), Progress::Continue);
    let r5 = b"GET /5 HTTP/1.1\r\nHost: a\r\n\r\n";
    let at5 = at + 24 + r4.len() as u64;
    assert_eq!(dec.on_data(&c(at5, 9), r5), Progress::Continue);
    assert_eq!(dec.stats().resyncs, 1);
    // The server's answer to /4 is lost from its head on; the next head answers /5.
    let s_at = server_end;
    assert_eq!(dec.on_gap(&s(s_at, 10), 300), Progress::Continue);
    let r = b"HTTP/1.1 204 No Content\r\n\r\n";
    assert_eq!(dec.on_data(&s(s_at + 300, 11), r), Progress::Continue);
    let t = dec.transactions();
    let got: Vec<_> = t
        .iter()
        .map(|t| (t.uri.as_deref(), t.status, t.head_cut))
        .collect();
    assert_eq!(
        got,
        [
            (Some("/"), Some(200), false),
            (Some("/2"), Some(404), false),
            (Some("/3"), None, true),
            (Some("/4"), None, false),
            (Some("/5"), Some(204), false)
        ]
    );
    assert_eq!(dec.stats().resyncs, 2);
}

#[test]
fn header_block_bound_is_enforced() {
    let limits = HttpLimits {
        max_header_block: 64,
        ..HttpLimits::default()
    };
    let mut dec = HttpDecoder::with_limits(limits);
    let ctx = StreamCtx {
        side: Side::Client,
        ts: Timestamp::ZERO,
        frame: 1,
        offset: 0,
    };
    assert_eq!(
        dec.on_data(&ctx, b"GET / HTTP/1.1\r\nX-Long: "),
        Progress::Continue
    );
    let ctx = StreamCtx { offset: 24, ..ctx };
    assert_eq!(dec.on_data(&ctx, &[b'a'; 100]), Progress::Done);
    assert_eq!(dec.stats().header_overflows, 1);
}

#[test]
fn not_http_is_a_violation() {
    let mut dec = HttpDecoder::new();
    let ctx = StreamCtx {
        side: Side::Client,
        ts: Timestamp::ZERO,
        frame: 1,
        offset: 0,
    };
    assert!(matches!(
        dec.on_data(&ctx, b"SSH-2.0-OpenSSH_9.6\r\n"),
        Progress::Violation(_)
    ));
}

#[test]
fn until_close_body_length_comes_from_the_end_offset() {
    let mut dec = HttpDecoder::new();
    let c = StreamCtx {
        side: Side::Client,
        ts: Timestamp::ZERO,
        frame: 1,
        offset: 0,
    };
    let _ = dec.on_data(&c, b"GET / HTTP/1.0\r\n\r\n");
    let head = b"HTTP/1.0 200 OK\r\n\r\nabc";
    let s = StreamCtx {
        side: Side::Server,
        ts: Timestamp::ZERO,
        frame: 2,
        offset: 0,
    };
    assert_eq!(dec.on_data(&s, head), Progress::Skip(u64::MAX));
    dec.on_end(&StreamCtx {
        offset: head.len() as u64 + 500,
        ..s
    });
    let t = &dec.transactions()[0];
    assert_eq!((t.body_bytes, t.body_complete), (Some(503), Some(true)));
}

#[test]
fn end_without_offset_claims_nothing_about_a_skipped_body() {
    let mut dec = HttpDecoder::new();
    let c = StreamCtx {
        side: Side::Client,
        ts: Timestamp::ZERO,
        frame: 1,
        offset: 0,
    };
    let _ = dec.on_data(&c, b"GET /x.zip HTTP/1.1\r\nHost: h\r\n\r\n");
    let s = StreamCtx {
        side: Side::Server,
        ts: Timestamp::ZERO,
        frame: 2,
        offset: 0,
    };
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n0123";
    assert_eq!(dec.on_data(&s, head), Progress::Skip(4996));
    dec.on_end(&s);
    let t = &dec.transactions()[0];
    assert_eq!((t.body_bytes, t.body_complete), (Some(4), None));
    assert!(!t.body_truncated());
    assert_eq!(t.body_shortfall(), None);
}

proptest::proptest! {
    /// Arbitrary bytes on either side in arbitrary chunks: no panic, and once a side is
    /// stopped it stays stopped.
    #[test]
    fn arbitrary_input_never_panics(
        chunks in proptest::collection::vec(
            (proptest::bool::ANY, proptest::collection::vec(proptest::num::u8::ANY, 0..200)),
            0..20,
        )
    ) {
        let mut d = Driver::new();
        for (i, (client, bytes)) in chunks.iter().enumerate() {
            let side = if *client { Side::Client } else { Side::Server };
            d.data(side, i as u64 + 1, bytes);
        }
        d.end(Side::Client);
        d.end(Side::Server);
        proptest::prop_assert!(d.dec.transactions().len() <= chunks.len() * 2);
    }

    /// HTTP-shaped input (a real request and response with random bytes spliced in).
    #[test]
    fn spliced_http_never_panics(at in 0usize..400, junk in proptest::collection::vec(proptest::num::u8::ANY, 1..40)) {
        let mut segs = load("zeek-get.seg");
        let first = &mut segs[0].2;
        let at = at.min(first.len());
        first.splice(at..at, junk);
        let d = Driver::run(&segs);
        proptest::prop_assert!(d.dec.transactions().len() <= 2);
    }

    /// Any number of cuts anywhere in the pipelined conversation: the same transactions.
    #[test]
    fn pipelined_any_cuts(cuts in proptest::collection::vec((0usize..40, 0usize..3000), 1..8)) {
        let segs = load("zeek-pipelined.seg");
        let whole = Driver::run(&segs);
        let mut split: Vec<Seg> = Vec::new();
        for (k, (side, frame, bytes)) in segs.iter().enumerate() {
            let mut points: Vec<usize> = cuts.iter().filter(|c| c.0 == k).map(|c| c.1 % (bytes.len() + 1)).collect();
            points.push(0);
            points.push(bytes.len());
            points.sort_unstable();
            for w in points.windows(2) {
                split.push((*side, *frame, bytes[w[0]..w[1]].to_vec()));
            }
        }
        let d = Driver::run(&split);
        proptest::prop_assert_eq!(d.dec.transactions(), whole.dec.transactions());
    }
}

#[test]
fn garbage_after_http_stops_the_side_not_the_connection() {
    let mut dec = HttpDecoder::new();
    let c = |offset| StreamCtx {
        side: Side::Client,
        ts: Timestamp::ZERO,
        frame: 1,
        offset,
    };
    let s = StreamCtx {
        side: Side::Server,
        ts: Timestamp::ZERO,
        frame: 2,
        offset: 0,
    };
    let r1 = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
    assert_eq!(dec.on_data(&c(0), r1), Progress::Continue);
    // A chunked body whose framing breaks: the server side stops...
    let resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX";
    assert_eq!(dec.on_data(&s, resp), Progress::Done);
    // ...and requests are still read.
    assert_eq!(
        dec.on_data(&c(r1.len() as u64), b"GET /b HTTP/1.1\r\n\r\n"),
        Progress::Continue
    );
    let t = dec.transactions();
    assert_eq!(t.len(), 2);
    assert_eq!((t[0].status, t[0].body_complete), (Some(200), Some(false)));
    assert_eq!(t[1].uri.as_deref(), Some("/b"));
    assert_eq!(dec.stats().desync_garbage, 1);
    // The same garbage as a side's first bytes is a violation.
    let mut dec = HttpDecoder::new();
    assert!(matches!(
        dec.on_data(&s, b"SSH-2.0-x\r\n"),
        Progress::Violation(_)
    ));
}

#[test]
fn refused_connect_with_malformed_version() {
    // zeek methods.pcap stream 20: "CONNECT / HTTP/1." (httparse rejects the version; tshark
    // reads method CONNECT, uri "/"), answered 400 with a 925-byte body: no tunnel.
    let d = run_split_everywhere(&load("zeek-methods-connect.seg"));
    let t = d.dec.transactions();
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].method.as_deref(), t[0].uri.as_deref()),
        (Some("CONNECT"), Some("/"))
    );
    assert_eq!(t[0].version, None);
    assert_eq!(t[0].status, Some(400));
    assert_eq!(
        (t[0].content_length, t[0].body_bytes),
        (Some(925), Some(925))
    );
    assert_eq!(t[0].server.as_deref(), Some("GFE/2.0"));
    assert!(d.upgraded.is_none());
}
