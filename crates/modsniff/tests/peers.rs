//! Link layers the peers' suites decode, PPPoE sessions and Cisco HDLC, on their own captures
//! (fixtures/public, sources in its MANIFEST.tsv): each read checked against tshark 4.0's
//! (fixtures/public/reference, written by ../shared/pcaps/make-reference.sh) and against the
//! answer the peer publishes for the capture (Suricata's test.yaml, Zeek's conn.log baseline).

use crate::common::*;
use serde_json::Value;

struct Read {
    recs: Vec<Value>,
    stats: Value,
    reference: Value,
}

fn read(rel: &str) -> Read {
    let public = fixtures().join("public");
    let (code, recs, stderr) = ndjson(&public.join(rel), &[]);
    assert!(code == 0 || code == 1, "{rel}: exit {code}: {stderr}");
    let stats = recs.last().cloned().expect("records");
    assert_eq!(stats["type"], "stats");
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(public.join("reference").join(format!("{rel}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(stats["frames"], reference["frames"], "{rel}: frames");
    Read {
        recs,
        stats,
        reference,
    }
}

impl Read {
    fn connections(&self, transport: &str) -> Vec<&Value> {
        of_type(&self.recs, "connection")
            .into_iter()
            .filter(|c| c["transport"] == transport)
            .collect()
    }

    /// The TCP connections, HTTP requests (by frame) and responses are tshark's.
    fn tcp_and_http_as_tshark(&self) {
        let conns = self.connections("tcp");
        assert_eq!(
            conns.len() as u64,
            self.reference["tcp_streams"].as_u64().unwrap()
        );
        let http: Vec<&Value> = conns
            .iter()
            .flat_map(|c| c["http"].as_array().into_iter().flatten())
            .collect();
        let mine: Vec<(u64, String, String)> = http
            .iter()
            .map(|t| {
                (
                    t["request_frame"].as_u64().unwrap(),
                    t["method"].as_str().unwrap().to_string(),
                    t["uri"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let theirs: Vec<(u64, String, String)> = self.reference["http_requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["frame"].as_u64().unwrap(),
                    r["method"].as_str().unwrap().to_string(),
                    r["uri"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(mine, theirs);
        // By status only: tshark gives the frame that completes the response, modsniff the
        // frame of its first byte.
        let mine: Vec<u64> = http.iter().filter_map(|t| t["status"].as_u64()).collect();
        let theirs: Vec<u64> = self.reference["http_responses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_u64().unwrap())
            .collect();
        assert_eq!(mine, theirs);
    }
}

/// suricata-verify bug-4810: HTTP in a PPPoE session whose PPP protocol field is one byte
/// (`21`, compressed as RFC 1661 allows). tshark: 30 frames, each pppoes/ppp/ip/tcp, one
/// TCP stream, `GET /` (frame 4) answered 200. Suricata's expected EVE: one http record,
/// GET, `/`, status 200. Before, nothing here was decoded and nothing said so.
#[test]
fn a_pppoe_session_with_a_one_byte_ppp_protocol_carries_http() {
    let r = read("suricata-verify/bug-4810/pppoe-session-http.pcap");
    assert_eq!(r.stats["tcp_packets"], 30);
    assert_eq!(r.stats["decode_errors"], serde_json::json!({}));
    r.tcp_and_http_as_tshark();
    let c = r.connections("tcp")[0];
    assert_eq!(c["client"], "10.100.0.0:57013");
    assert_eq!(c["server"], "142.250.179.131:80");
    let t = &c["http"][0];
    assert_eq!(
        (&t["method"], &t["uri"], &t["status"]),
        (&Value::from("GET"), &Value::from("/"), &Value::from(200))
    );
}

/// suricata-verify decode-chdlc-01: HTTP over Cisco HDLC (link type 104). tshark: 17 frames
/// chdlc/ip/tcp, one stream. Suricata's expected: decoder.chdlc 17, decoder.ipv4 17, one
/// TCP flow, an http record for view.atdmt.com with status 200 and length 8079.
#[test]
fn cisco_hdlc_frames_are_decoded() {
    let r = read("suricata-verify/decode-chdlc-01/hdlc-http_1tx.pcap");
    assert_eq!(r.stats["tcp_packets"], 17);
    assert_eq!(r.stats["unknown_link_types"], 0);
    assert_eq!(r.stats["decode_errors"], serde_json::json!({}));
    r.tcp_and_http_as_tshark();
    let c = r.connections("tcp")[0];
    assert_eq!(c["client"], "192.168.2.7:4938");
    assert_eq!(c["server"], "65.55.116.183:80");
    let t = &c["http"][0];
    assert_eq!(t["host"], "view.atdmt.com");
    assert_eq!(t["status"], 200);
    assert_eq!(t["body_bytes"], 8079);
    assert_eq!(t["body_complete"], true);
}

/// suricata-verify pppoe: a PPPoE session that never carries IP. tshark: 37 frames, 10 of
/// PPPoE discovery and 27 of the session, all PPP control (LCP 14, IPCP 6, CCP 6, IPv6CP 1),
/// no IP frame. The session's frames are counted as undecoded, by their PPP protocol;
/// discovery frames, like ARP, are not errors.
#[test]
fn a_pppoe_session_without_ip_is_counted_as_undecoded() {
    let r = read("suricata-verify/pppoe/input.pcap");
    assert_eq!(r.reference["features"]["ipv4_frames"], 0);
    assert_eq!(r.reference["features"]["ipv6_frames"], 0);
    assert_eq!(r.stats["tcp_packets"], 0);
    assert_eq!(r.stats["udp_packets"], 0);
    assert_eq!(
        r.stats["decode_errors"],
        serde_json::json!({"unsupported_ppp_protocol": 27})
    );
}

/// Zeek's pppoe.pcap (core.pppoe): IPv6 in a PPPoE session with a two-byte PPP protocol
/// field. tshark: 65 frames, 4 of discovery, 36 of PPP control (LCP 24, PAP 2, IPCP 6,
/// IPv6CP 4), 25 IPv6 (21 ICMPv6, 4 DHCPv6). Zeek's conn.log has the two DHCPv6 flows:
/// fe80::ce05:eff:fe88:0:546 -> ff02::1:2:547 (S0, `D`, 2 packets, 114 bytes), and
/// fe80::c801:eff:fe88:8:547 -> fe80::ce05:eff:fe88:0:546 (S0, `D`, 2 packets, 192 bytes);
/// ICMP rows too, which modsniff does not track. The first is the same here. The second is
/// the server's Advertise and Reply (tshark: frames 37, 39, DHCPv6 message types 2 and 7)
/// from the DHCPv6 server port: here the port's side is the server, as for DHCP (its
/// history flipped, `^d`); Zeek takes the first sender as originator because 547 is not
/// among its likely server ports. The packets side with modsniff.
#[test]
fn ipv6_in_a_pppoe_session_as_zeek_logs_it() {
    let r = read("zeek/pppoe.pcap");
    assert_eq!(r.stats["udp_packets"], 4);
    assert_eq!(r.stats["tcp_packets"], 0);
    assert_eq!(
        r.stats["decode_errors"],
        serde_json::json!({"unsupported_ppp_protocol": 36})
    );
    let udp = r.connections("udp");
    assert_eq!(udp.len(), 2);
    let flow = |server: &str| {
        *udp.iter()
            .find(|c| c["server"] == server)
            .unwrap_or_else(|| panic!("no flow to {server}: {udp:?}"))
    };
    let solicit = flow("[ff02::1:2]:547");
    assert_eq!(solicit["client"], "[fe80::ce05:eff:fe88:0]:546");
    assert_eq!(
        (&solicit["state"], &solicit["history"]),
        (&Value::from("S0"), &Value::from("D"))
    );
    assert_eq!(solicit["client_stats"]["packets"], 2);
    assert_eq!(solicit["client_stats"]["bytes"], 114);
    let answers = flow("[fe80::c801:eff:fe88:8]:547");
    assert_eq!(answers["client"], "[fe80::ce05:eff:fe88:0]:546");
    assert_eq!(answers["client_by"], "port");
    assert_eq!(answers["history"], "^d");
    assert_eq!(answers["server_stats"]["packets"], 2);
    assert_eq!(answers["server_stats"]["bytes"], 192);
}

/// Zeek's pppoe-over-qinq.pcap (core.pppoe-over-qinq): TLS in a PPPoE session behind two
/// VLAN tags. tshark: 86 frames, one TCP stream, ClientHello for xp.apple.com. Zeek's
/// conn.log: SF, 44 and 42 packets, missed_bytes 0, `ShADdtaTTtFf`. Six pure ACKs of the
/// server (frames 19, 33, 41, 47, 63, 81) declare an IPv4 total length of 46 in a PPP
/// frame of 40 bytes of IP (PPPoE length 42; tshark: "IPv4 total length exceeds packet
/// length (40 bytes)", TCP length 0): the PPPoE length ends the packet, so nothing is
/// missed there (before, 30 bytes were counted missed and a `g` written). The history is
/// Zeek's but for where the server's tenth retransmission falls (Zeek writes `t` again at
/// the tenth): tshark marks nine server retransmissions before the client's FIN (frame 80)
/// and the tenth at frame 83, after the server's FIN (frame 82), hence `…Fft` here and
/// `…tFf` in Zeek.
#[test]
fn tcp_in_a_pppoe_session_over_qinq_as_zeek_logs_it() {
    let r = read("zeek/pppoe-over-qinq.pcap");
    assert_eq!(r.stats["tcp_packets"], 86);
    assert_eq!(r.stats["decode_errors"], serde_json::json!({}));
    assert_eq!(r.stats["truncated_packets"], 0);
    assert_eq!(r.stats["missed_bytes"], 0);
    r.tcp_and_http_as_tshark();
    let c = r.connections("tcp")[0];
    assert_eq!(c["client"], "1.1.1.1:20394");
    assert_eq!(c["server"], "2.2.2.2:443");
    assert_eq!(c["state"], "SF");
    assert_eq!(c["client_stats"]["packets"], 44);
    assert_eq!(c["server_stats"]["packets"], 42);
    assert_eq!(c["server_stats"]["missed_bytes"], 0);
    assert_eq!(c["history"], "ShADdtaTTFft");
    assert_eq!(
        c["tls"]["client_hello"]["sni"],
        r.reference["tls_client_hellos"][0]["sni"]
    );
    assert_eq!(c["tls"]["client_hello"]["sni"], "xp.apple.com");
}
