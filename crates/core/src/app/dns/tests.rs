//! DNS tests on messages extracted from the public corpus (tests/data/dns, see its README).

use super::*;
use crate::app::{Progress, StreamCtx, StreamDecoder};
use crate::types::Side;
use std::collections::{BTreeMap, BTreeSet};

fn data_dir() -> String {
    format!("{}/tests/data/dns", env!("CARGO_MANIFEST_DIR"))
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// One UDP DNS message of udp-messages.tsv.
struct Row {
    capture: String,
    meta: DnsMeta,
    payload: Vec<u8>,
}

fn ts_of(epoch: &str) -> Timestamp {
    let (s, f) = epoch.split_once('.').unwrap();
    Timestamp::from_parts(
        s.parse().unwrap(),
        f.parse().unwrap(),
        10u64.pow(f.len() as u32),
    )
}

fn udp_rows() -> Vec<Row> {
    let text = std::fs::read_to_string(format!("{}/udp-messages.tsv", data_dir())).unwrap();
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Row {
                capture: f[0].to_string(),
                meta: DnsMeta {
                    transport: Transport::Udp,
                    src: f[3].parse().unwrap(),
                    dst: f[4].parse().unwrap(),
                    ts: ts_of(f[2]),
                    frame: f[1].parse().unwrap(),
                    conn_id: 0,
                },
                payload: hex(f[5]),
            }
        })
        .collect()
}

/// expected.tsv: capture -> {(qname lower-cased, rcode)} of every response, from tshark.
fn expected() -> BTreeMap<String, BTreeSet<(String, u8)>> {
    let text = std::fs::read_to_string(format!("{}/expected.tsv", data_dir())).unwrap();
    let mut m: BTreeMap<String, BTreeSet<(String, u8)>> = BTreeMap::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split('\t').collect();
        m.entry(f[0].to_string())
            .or_default()
            .insert((f[1].to_string(), f[2].parse().unwrap()));
    }
    m
}

/// Feeds a TCP .seg file (client "C", server "S" segments) through the framer; returns the
/// framed messages with their side.
fn tcp_messages(name: &str, split: Option<usize>) -> Vec<(Side, u64, Vec<u8>)> {
    let text = std::fs::read_to_string(format!("{}/{name}", data_dir())).unwrap();
    let mut dec = DnsTcpDecoder::new();
    let mut off = [0u64; 2];
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let (d, h) = l.split_once(' ').unwrap();
        let side = if d == "C" { Side::Client } else { Side::Server };
        let bytes = hex(h);
        let pieces: Vec<&[u8]> = match split {
            Some(k) if k < bytes.len() => vec![&bytes[..k], &bytes[k..]],
            _ => vec![&bytes[..]],
        };
        for p in pieces {
            let ctx = StreamCtx {
                side,
                ts: Timestamp::ZERO,
                frame: i as u64 + 1,
                offset: off[side.index()],
            };
            assert_eq!(dec.on_data(&ctx, p), Progress::Continue);
            off[side.index()] += p.len() as u64;
            out.extend(dec.drain().map(|(c, m)| (c.side, c.frame, m)));
        }
    }
    out
}

/// The (qname, rcode) pairs compare-tshark.py takes from our output.
fn pairs(recs: &[DnsRecord]) -> BTreeSet<(String, u8)> {
    recs.iter()
        .filter_map(|r| {
            let rc = r.rcode_code?;
            Some((r.qname.clone().unwrap_or_default().to_lowercase(), rc.0))
        })
        .filter(|(q, _)| !q.is_empty())
        .collect()
}

fn run_captures() -> BTreeMap<String, Vec<DnsRecord>> {
    let mut by_cap: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for r in udp_rows() {
        by_cap.entry(r.capture.clone()).or_default().push(r);
    }
    let mut out = BTreeMap::new();
    for (cap, rows) in by_cap {
        let mut t = DnsTracker::new();
        let mut recs = Vec::new();
        for r in &rows {
            t.on_message(&r.meta, &r.payload, &mut recs);
        }
        t.finish(&mut recs);
        out.insert(cap, recs);
    }
    let client: SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let server: SocketAddr = "10.0.0.53:53".parse().unwrap();
    let tcp = [
        (
            "suricata-verify/dns-tcp-multirequest-buffer/dns-tcp-multirequest-buffer.pcap",
            "suricata-verify_dns-tcp-multirequest-buffer_dns-tcp-multirequest-buffer.pcap.seg",
        ),
        (
            "suricata-verify/dns-tcp-ts-gap/input.pcap",
            "suricata-verify_dns-tcp-ts-gap_input.pcap.seg",
        ),
        ("tcpdump/dns_tcp.pcap", "tcpdump_dns_tcp.pcap.seg"),
    ];
    for (cap, seg) in tcp {
        let mut t = DnsTracker::new();
        let mut recs = Vec::new();
        for (side, frame, m) in tcp_messages(seg, None) {
            let (src, dst) = if side == Side::Client {
                (client, server)
            } else {
                (server, client)
            };
            let meta = DnsMeta {
                transport: Transport::Tcp,
                src,
                dst,
                ts: Timestamp::ZERO,
                frame,
                conn_id: 7,
            };
            t.on_message(&meta, &m, &mut recs);
        }
        t.finish(&mut recs);
        out.insert(cap.to_string(), recs);
    }
    out
}

#[test]
fn every_corpus_response_matches_tshark() {
    let got = run_captures();
    let want = expected();
    assert!(want.len() >= 20, "expected.tsv too small");
    for (cap, pairs_want) in &want {
        let recs = got
            .get(cap)
            .unwrap_or_else(|| panic!("no messages for {cap}"));
        assert_eq!(&pairs(recs), pairs_want, "{cap}");
    }
    // And nothing extra where tshark saw no response with a question.
    for (cap, recs) in &got {
        if !want.contains_key(cap) {
            assert_eq!(pairs(recs), BTreeSet::new(), "{cap}");
        }
    }
}

#[test]
fn checked_in_expectations_match_the_reference() {
    let refdir = "/work/shared/pcaps/reference";
    if !std::path::Path::new(refdir).exists() {
        eprintln!("SKIP: {refdir} absent; expected.tsv is checked against it where it exists");
        return;
    }
    // Read each reference file's "dns" list the way compare-tshark.py does, without a JSON
    // dependency beyond serde_json (a dev-dependency).
    let want = expected();
    let mut seen = 0;
    for cap in want.keys() {
        let path = format!("{refdir}/{cap}.json");
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut set = BTreeSet::new();
        for d in doc["dns"].as_array().unwrap() {
            if d["response"].as_bool() == Some(true) && d["qname"].is_string() {
                let q = d["qname"].as_str().unwrap().to_lowercase();
                set.insert((
                    q.trim_end_matches('.').to_string(),
                    d["rcode"].as_u64().unwrap() as u8,
                ));
            }
        }
        assert_eq!(&set, &want[cap], "{cap}");
        seen += 1;
    }
    assert_eq!(seen, want.len());
}

#[test]
fn servfail_nxdomain_refused_records() {
    let got = run_captures();
    let erspan = &got["zeek/erspan.pcap"];
    let sf = erspan
        .iter()
        .find(|r| r.rcode_code == Some(DnsRcode::SERVFAIL))
        .unwrap();
    assert_eq!(sf.rcode.as_deref(), Some("SERVFAIL"));
    assert!(sf.query_frame.is_some() && sf.rtt.is_some());
    let nx = &got["suricata-verify/dns-rcode/input.pcap"][0];
    assert_eq!(
        (nx.qname.as_deref(), nx.rcode_code),
        (Some("dne.oisf.net"), Some(DnsRcode::NXDOMAIN))
    );
    assert_eq!((nx.query_frame, nx.response_frame), (Some(1), Some(2)));
    assert_eq!(nx.qtype.as_deref(), Some("A"));
    assert_eq!(nx.rcode.as_deref(), Some("NXDOMAIN"));
    let rtt = nx.rtt.unwrap().as_nanos();
    assert_eq!(rtt, 86_067_000, "709160 - 623093 microseconds");
    let teredo = &got["zeek/tunnels/Teredo.pcap"];
    assert!(
        teredo
            .iter()
            .any(|r| r.rcode_code == Some(DnsRcode::REFUSED))
    );
    // Answers: A and CNAME data in presentation form.
    let cmu = &got["zeek/dns-two-responses.pcap"];
    let a = cmu
        .iter()
        .flat_map(|r| &r.answers)
        .find(|a| a.rtype == DnsType::A)
        .unwrap();
    assert!(
        a.data
            .as_deref()
            .unwrap()
            .parse::<std::net::Ipv4Addr>()
            .is_ok()
    );
    #[cfg(feature = "serde")]
    {
        let json = serde_json::to_value(nx).unwrap();
        assert_eq!(json["rcode"], 3);
        assert_eq!(json["rcode_name"], "NXDOMAIN");
        assert_eq!(json["qtype"], "A");
    }
}

#[test]
fn unanswered_query_reported_at_finish_and_after_timeout() {
    // zeek/raw_packets.pcap holds queries only.
    let rows: Vec<Row> = udp_rows()
        .into_iter()
        .filter(|r| r.capture == "zeek/raw_packets.pcap")
        .collect();
    assert_eq!(rows.len(), 4);
    let mut t = DnsTracker::new();
    let mut recs = Vec::new();
    t.on_message(&rows[0].meta, &rows[0].payload, &mut recs);
    assert!(recs.is_empty());
    t.advance(
        rows[0].meta.ts.saturating_add(Duration::from_millis(4999)),
        &mut recs,
    );
    assert!(recs.is_empty());
    t.advance(rows[0].meta.ts.saturating_add(QUERY_TIMEOUT), &mut recs);
    assert_eq!(recs.len(), 1);
    assert_eq!(
        (
            recs[0].rcode.clone(),
            recs[0].response_frame,
            recs[0].query_frame
        ),
        (None, None, Some(rows[0].meta.frame))
    );
    #[cfg(feature = "serde")]
    assert_eq!(
        serde_json::to_value(&recs[0]).unwrap()["rcode"],
        serde_json::Value::Null
    );
    recs.clear();
    for r in &rows[1..] {
        t.on_message(&r.meta, &r.payload, &mut recs);
    }
    t.finish(&mut recs);
    assert_eq!(recs.len(), 3);
    assert!(recs.iter().all(|r| r.rcode.is_none()));
}

#[test]
fn retransmitted_query_is_counted() {
    let rows: Vec<Row> = udp_rows()
        .into_iter()
        .filter(|r| r.capture == "suricata-verify/dns-rcode/input.pcap")
        .collect();
    let (q, a) = (&rows[0], &rows[1]);
    let mut t = DnsTracker::new();
    let mut recs = Vec::new();
    t.on_message(&q.meta, &q.payload, &mut recs);
    let again = DnsMeta {
        frame: 9,
        ts: q.meta.ts.saturating_add(Duration::from_secs(1)),
        ..q.meta
    };
    t.on_message(&again, &q.payload, &mut recs);
    t.on_message(&a.meta, &a.payload, &mut recs);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].retransmissions, 1);
    assert_eq!(recs[0].query_frame, Some(q.meta.frame));
    assert_eq!(t.stats().retransmissions, 1);
    // A response without its query is still reported.
    let mut t = DnsTracker::new();
    let mut recs = Vec::new();
    t.on_message(&a.meta, &a.payload, &mut recs);
    assert_eq!(
        (recs.len(), recs[0].query_frame, recs[0].rtt),
        (1, None, None)
    );
    assert_eq!(t.stats().unmatched_responses, 1);
}

#[test]
fn open_query_table_is_bounded() {
    let q = udp_rows()
        .into_iter()
        .find(|r| r.capture == "suricata-verify/dns-rcode/input.pcap")
        .unwrap();
    let mut t = DnsTracker::with_limits(3, QUERY_TIMEOUT);
    let mut recs = Vec::new();
    for i in 0..5u16 {
        let mut p = q.payload.clone();
        p[..2].copy_from_slice(&i.to_be_bytes());
        t.on_message(&q.meta, &p, &mut recs);
    }
    assert_eq!(t.stats().evicted, 2);
    assert_eq!(recs.iter().map(|r| r.id).collect::<Vec<_>>(), vec![0, 1]);
    t.finish(&mut recs);
    assert_eq!(recs.len(), 5);
}

#[test]
fn tcp_framing_across_every_split() {
    let name = "suricata-verify_dns-tcp-multirequest-buffer_dns-tcp-multirequest-buffer.pcap.seg";
    let whole = tcp_messages(name, None);
    assert_eq!(whole.len(), 40, "20 queries and 20 responses");
    let longest = std::fs::read_to_string(format!("{}/{name}", data_dir()))
        .unwrap()
        .lines()
        .map(|l| l.len() / 2)
        .max()
        .unwrap();
    for k in 1..longest {
        assert_eq!(tcp_messages(name, Some(k)), whole, "split at {k}");
    }
    // Byte by byte, through one decoder, the prefix split from its message.
    let mut dec = DnsTcpDecoder::new();
    let mut stream = Vec::new();
    for m in [
        b"\x00\x0c\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00".as_slice(),
        b"\x00\x0c\x00\x02\x81\x80\x00\x00\x00\x00\x00\x00\x00\x00",
    ] {
        stream.extend_from_slice(m);
    }
    let mut msgs = Vec::new();
    for (i, b) in stream.iter().enumerate() {
        let ctx = StreamCtx {
            side: Side::Client,
            ts: Timestamp::ZERO,
            frame: i as u64 + 1,
            offset: i as u64,
        };
        assert_eq!(
            dec.on_data(&ctx, std::slice::from_ref(b)),
            Progress::Continue
        );
        msgs.extend(dec.drain().map(|(c, m)| (c.frame, m.len())));
    }
    // Each message is attributed to the frame of its length prefix's first byte.
    assert_eq!(msgs, vec![(1, 12), (15, 12)]);
    let ctx = StreamCtx {
        side: Side::Client,
        ts: Timestamp::ZERO,
        frame: 1,
        offset: 0,
    };
    assert!(matches!(
        DnsTcpDecoder::new().on_data(&ctx, b"\x00\x03abc"),
        Progress::Violation(_)
    ));
    // A gap only loses the framing: the side goes on looking for a message start.
    assert_eq!(DnsTcpDecoder::new().on_gap(&ctx, 10), Progress::Continue);
}

#[test]
fn tcp_gap_resyncs_at_a_chunk_that_starts_a_message() {
    // A query for "a." (type A, class IN), with its length prefix.
    let query =
        b"\x00\x13\x00\x07\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x01\x00\x01";
    let ctx = |frame: u64| StreamCtx {
        side: Side::Client,
        ts: Timestamp::ZERO,
        frame,
        offset: 0,
    };
    let mut dec = DnsTcpDecoder::new();
    assert_eq!(dec.on_data(&ctx(1), &query[..9]), Progress::Continue);
    assert_eq!(dec.on_gap(&ctx(2), 100), Progress::Continue);
    // The tail of the lost message, then a chunk that starts with a response (the wrong
    // direction for this side): both ignored.
    let mut response = query.to_vec();
    response[4] |= 0x80;
    assert_eq!(dec.on_data(&ctx(3), &query[9..]), Progress::Continue);
    assert_eq!(dec.on_data(&ctx(4), &response), Progress::Continue);
    assert_eq!(dec.drain().count(), 0);
    // A query again: framing found, and the messages after it follow as usual.
    let mut two = query.to_vec();
    two.extend_from_slice(query);
    assert_eq!(dec.on_data(&ctx(5), &two), Progress::Continue);
    let frames: Vec<u64> = dec.drain().map(|(c, _)| c.frame).collect();
    assert_eq!(frames, vec![5, 5]);
    let st = dec.stats();
    assert_eq!((st.desync_gaps, st.resyncs), (1, 1));
    assert_eq!(
        st.resync_skipped_bytes,
        (query.len() - 9 + response.len()) as u64
    );
}

#[test]
fn tcp_message_cut_by_the_end_is_counted() {
    let mut dec = DnsTcpDecoder::new();
    let ctx = StreamCtx {
        side: Side::Server,
        ts: Timestamp::ZERO,
        frame: 1,
        offset: 0,
    };
    assert_eq!(
        dec.on_data(&ctx, b"\x00\x20\x12\x34\x81\x80"),
        Progress::Continue
    );
    dec.on_end(&ctx);
    assert_eq!(dec.stats().truncated_messages, 1);
    assert_eq!(dec.drain().count(), 0);
}

proptest::proptest! {
    /// Any bytes: the reader never panics, and what it reports stays within the message.
    #[test]
    fn parse_never_panics(msg in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
        if let Some(m) = parse_message(&msg) {
            proptest::prop_assert!(m.answers.len() <= MAX_ANSWERS);
            proptest::prop_assert!(msg.len() >= 12);
        }
    }

    /// A real TCP DNS stream cut anywhere, any number of times, frames the same messages.
    #[test]
    fn tcp_framing_any_cuts(cuts in proptest::collection::vec(0usize..4000, 0..12)) {
        let name = "suricata-verify_dns-tcp-multirequest-buffer_dns-tcp-multirequest-buffer.pcap.seg";
        let text = std::fs::read_to_string(format!("{}/{name}", data_dir())).unwrap();
        let server: Vec<u8> = text.lines().filter(|l| l.starts_with('S')).flat_map(|l| hex(&l[2..])).collect();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (server.len() + 1)).collect();
        cuts.push(0);
        cuts.push(server.len());
        cuts.sort_unstable();
        let mut dec = DnsTcpDecoder::new();
        let mut got = Vec::new();
        for w in cuts.windows(2) {
            let ctx = StreamCtx { side: Side::Server, ts: Timestamp::ZERO, frame: 1, offset: w[0] as u64 };
            proptest::prop_assert_eq!(dec.on_data(&ctx, &server[w[0]..w[1]]), Progress::Continue);
            got.extend(dec.drain().map(|(_, m)| m));
        }
        proptest::prop_assert_eq!(got.len(), 20);
        let mut rebuilt = Vec::new();
        for m in &got {
            rebuilt.extend_from_slice(&(m.len() as u16).to_be_bytes());
            rebuilt.extend_from_slice(m);
        }
        proptest::prop_assert_eq!(rebuilt, server);
    }
}

#[test]
fn answer_without_question_matches_on_id() {
    let rows: Vec<Row> = udp_rows()
        .into_iter()
        .filter(|r| r.capture == "suricata-verify/dns-rcode/input.pcap")
        .collect();
    let (q, a) = (&rows[0], &rows[1]);
    // The same answer with its question removed and FORMERR set.
    let mut formerr = a.payload[..12].to_vec();
    formerr[3] = (formerr[3] & 0xf0) | 1;
    formerr[4..12].copy_from_slice(&[0; 8]);
    let mut t = DnsTracker::new();
    let mut recs = Vec::new();
    t.on_message(&q.meta, &q.payload, &mut recs);
    t.on_message(&a.meta, &formerr, &mut recs);
    t.finish(&mut recs);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].rcode.as_deref(), Some("FORMERR"));
    assert_eq!(recs[0].qname.as_deref(), Some("dne.oisf.net"));
    assert_eq!(recs[0].query_frame, Some(1));
}
