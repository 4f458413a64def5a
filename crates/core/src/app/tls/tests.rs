//! Decoder tests on real capture bytes (crates/core/tests/data/tls/*.tsv, see the README
//! there), plus re-framings of them: every 2-way split of a ClientHello, a ClientHello cut
//! into several records, gaps, and non-TLS input.

use super::*;
use crate::time::Timestamp;

/// One data-carrying TCP segment of a replay file.
#[derive(Clone, Debug)]
pub(super) struct Seg {
    pub(super) frame: u64,
    pub(super) ts: Timestamp,
    pub(super) side: Side,
    pub(super) data: Vec<u8>,
}

fn unhex(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    b.chunks_exact(2)
        .map(|p| {
            let d = |c: u8| match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => panic!("bad hex digit {c}"),
            };
            d(p[0]) << 4 | d(p[1])
        })
        .collect()
}

pub(super) fn load(name: &str) -> Vec<Seg> {
    let path = format!("{}/tests/data/tls/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Seg {
                frame: f[0].parse().unwrap(),
                ts: Timestamp::from_nanos(f[1].parse().unwrap()),
                side: if f[2] == "c" {
                    Side::Client
                } else {
                    Side::Server
                },
                data: unhex(f[3]),
            }
        })
        .collect()
}

/// Plays segments through a decoder the way the engine does: honours `Skip` (the skipped
/// bytes are never delivered), `Done` and `Violation`. Returns the info and every progress.
fn replay_with(dec: &mut TlsDecoder, segs: &[Seg]) -> Vec<Progress> {
    let mut skip = [0u64; 2];
    let mut done = [false; 2];
    let mut offset = [0u64; 2];
    let mut out = Vec::new();
    for s in segs {
        let i = side_index(s.side);
        if done[i] {
            continue;
        }
        let mut data = s.data.as_slice();
        let n = (skip[i].min(data.len() as u64)) as usize;
        skip[i] -= n as u64;
        data = &data[n..];
        offset[i] += n as u64;
        if data.is_empty() {
            continue;
        }
        let ctx = StreamCtx {
            side: s.side,
            ts: s.ts,
            frame: s.frame,
            offset: offset[i],
        };
        offset[i] += data.len() as u64;
        let p = dec.on_data(&ctx, data);
        out.push(p);
        match p {
            Progress::Skip(k) => skip[i] += k,
            Progress::Done => done[i] = true,
            Progress::Violation(_) => return out,
            _ => {}
        }
    }
    for side in [Side::Client, Side::Server] {
        let last = segs.last().map_or(Timestamp::ZERO, |s| s.ts);
        dec.on_end(&StreamCtx {
            side,
            ts: last,
            frame: 0,
            offset: offset[side_index(side)],
        });
    }
    out
}

pub(super) fn replay(segs: &[Seg]) -> TlsInfo {
    let mut dec = TlsDecoder::new(&TlsConfig::default());
    let _ = replay_with(&mut dec, segs);
    dec.into_info()
}

/// The ClientHello with the carriage fields (frames, segments, records) cleared, for
/// comparing different framings of the same bytes.
fn carriage_free(ch: &ClientHello) -> ClientHello {
    ClientHello {
        tcp_segments: 0,
        records: 0,
        first_frame: 0,
        last_frame: 0,
        ..ch.clone()
    }
}

#[test]
fn expired_cert_capture_matches_tshark() {
    let segs = load("tls-expired-cert.s0.tsv");
    let info = replay(&segs);
    let ch = info.client_hello.as_ref().expect("client hello");
    assert_eq!(ch.legacy_version, TlsVersion::TLS12);
    assert_eq!(ch.sni, None);
    assert_eq!(ch.cipher_suites.len(), 80);
    let exts: Vec<u16> = ch.extensions.iter().map(|e| e.0).collect();
    assert_eq!(exts, [11, 10, 35, 13, 15]);
    assert_eq!(&*ch.ja3, "bd9c99b3a0f752c3ab8b052a79e9de3e");
    assert_eq!(
        (ch.first_frame, ch.last_frame, ch.tcp_segments, ch.records),
        (4, 4, 1, 1)
    );
    assert!(ch.session_ticket && !ch.psk && !ch.grease && !ch.pq_key_share);
    assert_eq!(ch.ts, segs[0].ts);

    let sh = info.server_hello.as_ref().expect("server hello");
    assert_eq!(sh.version, TlsVersion::TLS10);
    assert_eq!(sh.version_name.as_deref(), Some("TLS 1.0"));
    assert_eq!(sh.cipher, CipherSuite(0x0039));
    assert_eq!(sh.cipher_name, Some("TLS_DHE_RSA_WITH_AES_256_CBC_SHA"));
    assert_eq!(&*sh.ja3s_string, "769,57,65281-35");
    assert_eq!(&*sh.ja3s, "ae7ebaa87c327353949114a3b85f13cc");
    assert_eq!(info.server_hello_frame(), Some(6));

    // Reference: /work/shared/pcaps/reference/zeek/tls/tls-expired-cert.pcap.json
    assert_eq!(info.certificates.len(), 2);
    let leaf = &info.certificates[0];
    assert_eq!(
        leaf.subject,
        "OU=Domain Control Validated,OU=COMODO SSL,CN=www.spidh.org"
    );
    assert_eq!(
        leaf.issuer,
        "C=GB,ST=Greater Manchester,L=Salford,O=COMODO CA Limited,CN=COMODO SSL CA"
    );
    assert_eq!(leaf.subject_cn.as_deref(), Some("www.spidh.org"));
    assert_eq!(
        leaf.serial,
        "00:f2:8e:a8:4b:c0:3a:07:06:69:40:ce:ea:f6:1e:fe:fb"
    );
    assert_eq!(leaf.not_before.as_deref(), Some("2013-02-04T00:00:00Z"));
    assert_eq!(leaf.not_after.as_deref(), Some("2014-03-04T23:59:59Z"));
    assert_eq!(leaf.san, ["www.spidh.org", "spidh.org"]);
    assert!(!leaf.self_issued && !leaf.is_ca);
    assert_eq!(leaf.sha256.len(), 64);
    let ca = &info.certificates[1];
    assert_eq!(
        ca.issuer,
        "C=SE,O=AddTrust AB,OU=AddTrust External TTP Network,CN=AddTrust External CA Root"
    );
    assert_eq!(ca.not_after.as_deref(), Some("2020-05-30T10:48:38Z"));
    assert!(ca.is_ca);
    assert_eq!(info.certificate_frame(), Some(7));
    // The capture is from March 2014, after the leaf's notAfter.
    #[cfg(feature = "x509")]
    assert_eq!(info.validation(), Some(&Validation::Expired));

    // tshark: encrypted alerts in frames 19 (server) and 24 (client).
    let alerts: Vec<(Side, u64, bool)> = info
        .alerts
        .iter()
        .map(|a| (a.side, a.frame, a.encrypted))
        .collect();
    assert_eq!(alerts, [(Side::Server, 19, true), (Side::Client, 24, true)]);
    assert!(info.client.change_cipher_spec && info.server.change_cipher_spec);
    assert_eq!(
        info.server.last_record.map(|r| r.content_type),
        Some(ContentType::ALERT)
    );
    assert_eq!(info.anomalies, TlsAnomalies::default());
}

#[test]
fn missing_intermediate_is_unknown_issuer() {
    let info = replay(&load("missing-intermediate.s0.tsv"));
    assert_eq!(
        &*info.client_hello.as_ref().unwrap().ja3,
        "99faefb55d94da8c713fd5c89f8dc5a1"
    );
    let sh = info.server_hello.as_ref().unwrap();
    assert_eq!(
        (&*sh.ja3s_string, &*sh.ja3s),
        ("769,4,", "53611273a714cb4789c8222932efd5a7")
    );
    assert!(!info.certificates.is_empty());
    #[cfg(feature = "x509")]
    assert_eq!(info.validation(), Some(&Validation::UnknownIssuer));
}

#[test]
fn chrome_kyber_client_hello() {
    let info = replay(&load("chrome-1250-kyber.s0.tsv"));
    let ch = info.client_hello.as_ref().unwrap();
    assert_eq!(ch.sni.as_deref(), Some("lh3.google.com"));
    assert_eq!(ch.alpn, ["h2", "http/1.1"]);
    assert_eq!(&*ch.ja3, "9d33d8206d4fec4c8b1423c728f4cd3c");
    assert!(ch.grease);
    assert!(ch.versions.first().is_some_and(|v| v.is_grease()));
    assert!(ch.versions.contains(&TlsVersion::TLS13));
    let groups: Vec<Option<&str>> = ch.groups.iter().map(|g| g.name).collect();
    assert!(
        groups.contains(&Some("X25519Kyber768Draft00")),
        "{groups:?}"
    );
    let shares: Vec<u16> = ch.key_share.iter().map(|g| g.id.0).collect();
    assert!(
        shares.contains(&0x6399) && shares.contains(&0x001d),
        "{shares:?}"
    );
    assert!(ch.ja4.starts_with("t13d"), "{}", ch.ja4);
    let sh = info.server_hello.as_ref().unwrap();
    assert_eq!(sh.version, TlsVersion::TLS13);
    assert_eq!(&*sh.ja3s, "eb1d94daa7e0344597e756a1fb6e7054");
    assert_eq!(
        sh.key_share.map(|g| g.id),
        Some(NamedGroup::X25519_KYBER768_DRAFT00)
    );
    // TLS 1.3: nothing in clear after the ServerHello, so no certificates.
    assert!(info.certificates.is_empty());
    assert!(info.server.records_after_hello_count > 0);
    assert!(info.server.records_after_hello.iter().any(|r| r.encrypted));
}

#[test]
fn hello_retry_request_and_second_client_hello() {
    let info = replay(&load("hrr.s0.tsv"));
    let hrr = info.hello_retry_request.as_ref().expect("hrr");
    assert!(hrr.hello_retry_request);
    assert_eq!(&*hrr.ja3s, "15af977ce25de452b96affa2addb1036");
    assert_eq!(hrr.last_frame, 6);
    assert_eq!(
        &*info.client_hello.as_ref().unwrap().ja3,
        "0f14b679807628ec7f9c02cada3ee941"
    );
    let ch2 = info
        .client_hello_retry
        .as_ref()
        .expect("second client hello");
    assert_eq!(ch2.last_frame, 8);
    let sh = info.server_hello.as_ref().unwrap();
    assert!(!sh.hello_retry_request);
    assert_eq!((sh.version, sh.last_frame), (TlsVersion::TLS13, 11));
}

#[test]
fn ech_client_hello() {
    let info = replay(&load("tls13-ech.s1.tsv"));
    let ch = info.client_hello.as_ref().unwrap();
    assert!(ch.ech);
    assert_eq!(ch.sni.as_deref(), Some("cloudflare-ech.com"));
    assert_eq!(&*ch.ja3, "2fcbf8655473005933c5869b2b5d8044");
    assert_eq!(
        &*info.server_hello.as_ref().unwrap().ja3s,
        "f4febc55ea12b31ae17cfb7e614afda8"
    );
}

#[test]
fn client_hello_over_three_segments() {
    let info = replay(&load("dump-mtu300.s0.tsv"));
    let ch = info.client_hello.as_ref().unwrap();
    assert_eq!(ch.sni.as_deref(), Some("www.google.com"));
    assert_eq!(
        (ch.first_frame, ch.last_frame, ch.tcp_segments, ch.records),
        (4, 6, 3, 1)
    );
    assert_eq!(&*ch.ja3, "a64c29923906f2a1be278be1da0714fa");
    assert_eq!(
        &*info.server_hello.as_ref().unwrap().ja3s,
        "a27e76e64afe9199440ad714848966f8"
    );
    assert_eq!(info.certificates.len(), 3);
}

#[test]
fn plaintext_alerts() {
    let info = replay(&load("tls12-handshake-failure.s0.tsv"));
    assert_eq!(
        &*info.client_hello.as_ref().unwrap().ja3,
        "62bd27c43a9a4d7fcbc45d8c9e7e04dd"
    );
    assert_eq!(info.alerts.len(), 1);
    let a = &info.alerts[0];
    assert_eq!(
        (a.side, a.frame, a.encrypted, a.level, a.description),
        (Side::Server, 6, false, Some(2), Some(40))
    );
    assert_eq!(a.description_name, Some("handshake_failure"));

    let info = replay(&load("tls-early-alert.s0.tsv"));
    assert_eq!(
        &*info.client_hello.as_ref().unwrap().ja3,
        "07b4162d4db57554961824a21c4a0fde"
    );
    assert_eq!(
        &*info.server_hello.as_ref().unwrap().ja3s,
        "389ed42c02ebecc32e73aa31def07e14"
    );
    let a = &info.alerts[0];
    assert_eq!(
        (a.frame, a.encrypted, a.description_name),
        (6, false, Some("unrecognized_name"))
    );
    assert_eq!(info.certificates.len(), 4);
}

/// The first client segment of the Chrome capture: one record holding the ClientHello.
pub(super) fn chrome_client_hello_record() -> Vec<u8> {
    load("chrome-1250-kyber.s0.tsv").remove(0).data
}

fn client_only(chunks: &[&[u8]]) -> TlsInfo {
    let segs: Vec<Seg> = chunks
        .iter()
        .enumerate()
        .map(|(i, c)| Seg {
            frame: i as u64 + 1,
            ts: Timestamp::from_nanos(1),
            side: Side::Client,
            data: c.to_vec(),
        })
        .collect();
    replay(&segs)
}

#[test]
fn every_two_way_split_gives_the_same_client_hello() {
    let rec = chrome_client_hello_record();
    let whole = client_only(&[&rec]);
    let reference = carriage_free(whole.client_hello.as_ref().unwrap());
    for cut in 1..rec.len() {
        let (a, b) = rec.split_at(cut);
        let info = client_only(&[a, b]);
        let ch = info
            .client_hello
            .as_ref()
            .unwrap_or_else(|| panic!("no hello at cut {cut}"));
        assert_eq!(carriage_free(ch), reference, "cut {cut}");
        assert_eq!(
            (ch.first_frame, ch.last_frame, ch.tcp_segments),
            (1, 2, 2),
            "cut {cut}"
        );
        assert_eq!(info.anomalies, TlsAnomalies::default(), "cut {cut}");
    }
}

/// Re-frames a record stream's handshake bytes into records of the given body sizes
/// (the last size repeats).
fn reframe(handshake: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = handshake;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i.min(sizes.len() - 1)].min(rest.len());
        i += 1;
        out.extend_from_slice(&[22, 3, 1]);
        out.extend_from_slice(&(n as u16).to_be_bytes());
        out.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
    }
    out
}

/// r_split_client_hello_records: no public capture has a ClientHello over several TLS
/// records, so the Chrome one is re-framed into many.
#[test]
fn client_hello_split_into_records() {
    let rec = chrome_client_hello_record();
    let reference = carriage_free(client_only(&[&rec]).client_hello.as_ref().unwrap());
    let hs = &rec[5..];
    for sizes in [
        &[1usize][..],
        &[3],
        &[4, 100],
        &[7, 1000],
        &[600, 600],
        &[1, 2, 3, 5000],
    ] {
        let framed = reframe(hs, sizes);
        let info = client_only(&[&framed]);
        let ch = info
            .client_hello
            .as_ref()
            .unwrap_or_else(|| panic!("sizes {sizes:?}"));
        assert_eq!(carriage_free(ch), reference, "sizes {sizes:?}");
        let mut n = 0;
        let mut left = hs.len();
        while left > 0 {
            left -= sizes[n.min(sizes.len() - 1)].min(left);
            n += 1;
        }
        assert_eq!(ch.records as usize, n, "sizes {sizes:?}");
        // And each of those re-framings delivered in 2 segments at a few cut points.
        for cut in [1, 5, 6, framed.len() / 2, framed.len() - 1] {
            let (a, b) = framed.split_at(cut);
            let info = client_only(&[a, b]);
            assert_eq!(
                carriage_free(info.client_hello.as_ref().unwrap()),
                reference
            );
        }
    }
}

/// Several handshake messages in one record (ServerHello + Certificate + ... re-framed into
/// one record) and the server flight byte by byte.
#[test]
fn server_flight_reframed() {
    let segs = load("tls-expired-cert.s0.tsv");
    let base = replay(&segs);
    // Concatenate the server's plaintext handshake record bodies (before its CCS).
    let server: Vec<u8> = segs
        .iter()
        .filter(|s| s.side == Side::Server && s.frame <= 8)
        .flat_map(|s| s.data.clone())
        .collect();
    let mut hs = Vec::new();
    let mut p = server.as_slice();
    while p.len() >= 5 {
        let len = usize::from(u16::from_be_bytes([p[3], p[4]]));
        if p[0] == 22 {
            hs.extend_from_slice(&p[5..5 + len]);
        }
        p = &p[5 + len..];
    }
    let client = segs[0].clone();
    for sizes in [&[16384usize][..], &[1], &[333, 17]] {
        let framed = reframe(&hs, sizes);
        let one_byte: Vec<Seg> = std::iter::once(client.clone())
            .chain(framed.iter().enumerate().map(|(i, &b)| Seg {
                frame: 100 + i as u64,
                ts: segs[1].ts,
                side: Side::Server,
                data: vec![b],
            }))
            .collect();
        let whole = vec![
            client.clone(),
            Seg {
                frame: 6,
                ts: segs[1].ts,
                side: Side::Server,
                data: framed.clone(),
            },
        ];
        for run in [one_byte, whole] {
            let info = replay(&run);
            assert_eq!(info.certificates, base.certificates, "sizes {sizes:?}");
            assert_eq!(info.validation, base.validation);
            let (a, b) = (
                info.server_hello.unwrap(),
                base.server_hello.clone().unwrap(),
            );
            assert_eq!((a.ja3s, a.cipher), (b.ja3s, b.cipher));
        }
    }
}

#[test]
fn application_data_is_skipped_not_buffered() {
    // Header of a 16 KB application-data record after the handshake, then its body in
    // three segments: the decoder asks to skip the body at once.
    let mut segs = load("tls-expired-cert.s0.tsv");
    let ts = segs[0].ts;
    let mut rec = vec![23, 3, 1, 0x40, 0x00];
    rec.extend_from_slice(&[0xee; 100]);
    segs.push(Seg {
        frame: 500,
        ts,
        side: Side::Server,
        data: rec,
    });
    segs.push(Seg {
        frame: 501,
        ts,
        side: Side::Server,
        data: vec![0xee; 16384 - 100],
    });
    segs.push(Seg {
        frame: 502,
        ts,
        side: Side::Server,
        data: vec![23, 3, 1, 0, 32],
    });
    segs.push(Seg {
        frame: 503,
        ts,
        side: Side::Server,
        data: vec![0xdd; 32],
    });
    let mut dec = TlsDecoder::new(&TlsConfig::default());
    let progress = replay_with(&mut dec, &segs);
    assert!(
        progress.contains(&Progress::Skip(16384 - 100)),
        "{progress:?}"
    );
    let info = dec.into_info();
    let last = info.server.last_record.unwrap();
    assert_eq!(
        (last.frame, last.length, last.content_type),
        (502, 32, ContentType::APPLICATION_DATA)
    );
    assert_eq!(info.anomalies.bad_record_headers, 0);
}

#[test]
fn gap_inside_a_record_keeps_framing() {
    let mut dec = TlsDecoder::new(&TlsConfig::default());
    let ctx = |frame| StreamCtx {
        side: Side::Server,
        ts: Timestamp::from_nanos(1),
        frame,
        offset: 0,
    };
    // A handshake record (delivered, not skipped) with a gap inside its body.
    let mut first = vec![22, 3, 3, 0, 100, 11, 0, 0, 96];
    first.extend_from_slice(&[0; 6]);
    assert_eq!(dec.on_data(&ctx(1), &first), Progress::Continue);
    assert_eq!(dec.on_gap(&ctx(2), 50), Progress::Continue);
    // The rest of that record is skipped (the message cannot be completed).
    assert_eq!(dec.on_data(&ctx(3), &[0; 10]), Progress::Skip(30));
    assert_eq!(
        dec.on_data(&ctx(4), &[21, 3, 3, 0, 2, 1, 0]),
        Progress::Continue
    );
    let info = dec.into_info();
    assert_eq!(info.anomalies.dropped_handshake_messages, 1);
    assert_eq!(info.alerts[0].description_name, Some("close_notify"));
    assert_eq!(info.anomalies.resyncs, 0);
}

#[test]
fn gap_across_records_resyncs_or_gives_up() {
    let ctx = |frame| StreamCtx {
        side: Side::Server,
        ts: Timestamp::from_nanos(1),
        frame,
        offset: 0,
    };
    let mut dec = TlsDecoder::new(&TlsConfig::default());
    assert_eq!(
        dec.on_data(&ctx(1), &[23, 3, 3, 0, 10, 0, 0]),
        Progress::Skip(8)
    );
    assert_eq!(dec.on_gap(&ctx(2), 1000), Progress::Continue);
    // Garbage then a plausible header then a plaintext alert.
    let mut data = vec![0x99, 0x01, 0x77];
    data.extend_from_slice(&[21, 3, 3, 0, 2, 2, 40]);
    assert_eq!(dec.on_data(&ctx(3), &data), Progress::Continue);
    let info = dec.info();
    assert_eq!(info.anomalies.resyncs, 1);
    assert_eq!(info.alerts.len(), 1);
    assert_eq!(info.alerts[0].frame, 3);
    assert_eq!(info.alerts[0].description, Some(40));

    let limits = TlsLimits {
        max_resync_scan: 100,
        ..TlsLimits::default()
    };
    let mut dec = TlsDecoder::with_limits(&TlsConfig::default(), limits);
    assert_eq!(
        dec.on_data(&ctx(1), &[23, 3, 3, 0, 10, 0, 0]),
        Progress::Skip(8)
    );
    assert_eq!(dec.on_gap(&ctx(2), 1000), Progress::Continue);
    assert_eq!(dec.on_data(&ctx(3), &[0xff; 200]), Progress::Done);
    assert!(dec.info().server.gave_up);
    assert_eq!(dec.info().anomalies.sides_given_up, 1);
}

#[test]
fn non_tls_is_a_violation() {
    let mut dec = TlsDecoder::new(&TlsConfig::default());
    let ctx = StreamCtx {
        side: Side::Client,
        ts: Timestamp::from_nanos(1),
        frame: 1,
        offset: 0,
    };
    assert!(matches!(
        dec.on_data(&ctx, b"GET / HTTP/1.1\r\n"),
        Progress::Violation(_)
    ));
}

#[test]
fn oversized_handshake_message_is_dropped_and_counted() {
    let rec = chrome_client_hello_record();
    let limits = TlsLimits {
        max_handshake_message: 100,
        ..TlsLimits::default()
    };
    let mut dec = TlsDecoder::with_limits(&TlsConfig::default(), limits);
    let ctx = StreamCtx {
        side: Side::Client,
        ts: Timestamp::from_nanos(1),
        frame: 1,
        offset: 0,
    };
    for chunk in rec.chunks(50) {
        assert_eq!(dec.on_data(&ctx, chunk), Progress::Continue);
    }
    let info = dec.into_info();
    assert!(info.client_hello.is_none());
    assert_eq!(info.anomalies.dropped_handshake_messages, 1);
    assert_eq!(
        info.anomalies.dropped_handshake_bytes as usize,
        rec.len() - 5
    );
}

#[cfg(feature = "serde")]
#[test]
fn json_contract_names() {
    let info = replay(&load("tls-expired-cert.s0.tsv"));
    let v = serde_json::to_value(&info).unwrap();
    for path in [
        "/client_hello/sni",
        "/client_hello/alpn",
        "/client_hello/versions",
        "/client_hello/ja3",
        "/client_hello/ja4",
        "/server_hello/version",
        "/server_hello/cipher",
        "/certificates/0/subject",
        "/certificates/0/issuer",
        "/certificates/0/san",
        "/certificates/0/not_before",
        "/certificates/0/not_after",
        "/certificates/0/sha256",
        "/alerts/0/encrypted",
    ] {
        assert!(v.pointer(path).is_some(), "missing {path}");
    }
    assert_eq!(v.pointer("/server_hello/version").unwrap(), "0x0301");
    assert_eq!(v.pointer("/server_hello/cipher").unwrap(), "0x0039");
    #[cfg(feature = "x509")]
    assert_eq!(v.pointer("/validation/result").unwrap(), "expired");
    assert_eq!(v.pointer("/alerts/0/side").unwrap(), "server");
}

pub(super) fn replay_config(segs: &[Seg], config: &TlsConfig) -> TlsInfo {
    let mut dec = TlsDecoder::new(config);
    let _ = replay_with(&mut dec, segs);
    dec.into_info()
}

#[cfg(feature = "x509")]
#[test]
fn validation_extra_root_is_used() {
    let segs = load("tls12-taleo.s0.tsv");
    let info = replay(&segs);
    assert_eq!(info.certificates.len(), 3);
    assert_eq!(
        info.certificates[0].subject_cn.as_deref(),
        Some("*.taleo.net")
    );
    assert!(info.certificates[2].self_issued && info.certificates[2].is_ca);
    // AddTrust External CA Root left the public root programs when it expired (2020).
    assert_eq!(info.validation(), Some(&Validation::UnknownIssuer));
    let root = std::fs::read(format!(
        "{}/tests/data/tls/taleo-chain-top.der",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let config = TlsConfig {
        extra_roots_der: vec![root].into(),
        ..TlsConfig::default()
    };
    // With the root trusted the path is found (validated at the capture's time, January
    // 2013, when every certificate was in date), and webpki then refuses its SHA-1 RSA
    // signatures, as Go has since 1.18.
    assert_eq!(
        replay_config(&segs, &config).validation(),
        Some(&Validation::Other(
            "UnsupportedSignatureAlgorithmContext".into()
        ))
    );
}

#[cfg(feature = "x509")]
#[test]
fn validation_valid_and_name_mismatch() {
    let segs = load("dump-mtu300.s0.tsv");
    assert_eq!(replay(&segs).validation(), Some(&Validation::Valid));
    // Same bytes with the SNI changed to a name the certificate does not cover.
    let mut patched = segs.clone();
    let mut found = false;
    for s in patched.iter_mut().filter(|s| s.side == Side::Client) {
        if let Some(i) = s.data.windows(14).position(|w| w == b"www.google.com") {
            s.data[i..i + 14].copy_from_slice(b"www.google.org");
            found = true;
        }
    }
    assert!(found);
    let info = replay(&patched);
    assert_eq!(info.sni(), Some("www.google.org"));
    assert_eq!(info.validation(), Some(&Validation::NameMismatch));
}

#[cfg(feature = "x509")]
#[test]
fn validation_self_signed() {
    let info = replay(&load("cert-no-cn.s0.tsv"));
    assert_eq!(info.certificates.len(), 1);
    let c = &info.certificates[0];
    assert_eq!(
        (c.subject.as_str(), c.subject_cn.as_deref()),
        ("O=TestCorp", None)
    );
    assert!(c.self_issued);
    assert_eq!(info.validation(), Some(&Validation::SelfSigned));
}

/// A second published JA4 (browserleaks, Chrome 143 with ECH): its `ja4_ro` gives the
/// original order, from which the sorted `ja4_r` and the hash follow.
#[test]
fn ja4_second_published_example() {
    let ciphers = [
        0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
        0x009c, 0x009d, 0x002f, 0x0035,
    ];
    let exts = [
        0x002d, 0x0033, 0x0010, 0xfe0d, 0x0017, 0x44cd, 0x0000, 0x000b, 0x000a, 0x002b, 0xff01,
        0x0023, 0x0012, 0x0005, 0x000d, 0x001b,
    ];
    let sigs = [
        0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
    ];
    let ch = ClientHello {
        legacy_version: TlsVersion(0x0303),
        versions: vec![TlsVersion(0x5a5a), TlsVersion(0x0304), TlsVersion(0x0303)].into(),
        cipher_suites: ciphers.into_iter().map(CipherSuite).collect(),
        extensions: exts.into_iter().map(ExtensionType).collect(),
        signature_algorithms: sigs.into_iter().map(record::SignatureScheme).collect(),
        alpn: vec!["h2".into(), "http/1.1".into()],
        ..ClientHello::default()
    };
    let (ja4, ja4_r) = fingerprint::ja4(&ch);
    assert_eq!(
        ja4_r,
        "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,44cd,fe0d,ff01_0403,0804,0401,0503,0805,0501,0806,0601"
    );
    assert_eq!(ja4, "t13d1516h2_8daaf6152771_d8a2da3f94cd");
    // And its JA3 text hashes to the published ja3_hash.
    assert_eq!(
        fingerprint::md5_hex(b"771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,45-51-16-65037-23-17613-0-11-10-43-65281-35-18-5-13-27,4588-29-23-24,0"),
        "98487aa16281980e7d1120d399efb6a4"
    );
}

fn notes(v: &[RecordNote]) -> Vec<(u64, u8, u16, bool)> {
    v.iter()
        .map(|r| (r.frame, r.content_type.0, r.length, r.encrypted))
        .collect()
}

/// TLS 1.3: what the diagnosis sees after the ServerHello. In hrr.pcap the client answers
/// the server's flight with its Finished (69-byte record) and then one 19-byte encrypted
/// record (the size of an encrypted alert) right before its FIN.
#[test]
fn tls13_records_after_server_hello() {
    let info = replay(&load("hrr.s0.tsv"));
    assert!(info.is_tls13());
    assert_eq!(info.client.change_cipher_spec_frame, Some(8));
    assert_eq!(
        notes(&info.client.records_after_hello),
        [(13, 23, 69, true), (16, 23, 19, true)]
    );
    assert_eq!(
        info.client.first_encrypted.map(|r| (r.frame, r.length)),
        Some((13, 69))
    );
    assert_eq!(
        info.client.last_record.map(|r| (r.frame, r.length)),
        Some((16, 19))
    );
    assert!(info.server.records_after_hello.iter().all(|r| r.encrypted));
    assert_eq!(
        notes(&info.server.records_after_hello),
        [(11, 23, 1248, true), (14, 23, 517, true)]
    );
    // Nothing was taken for a plaintext alert or certificate.
    assert!(info.alerts.is_empty() && info.certificates.is_empty());
    assert_eq!(info.anomalies, TlsAnomalies::default());

    let info = replay(&load("chrome-1250-kyber.s0.tsv"));
    assert_eq!(
        notes(&info.client.records_after_hello),
        [(12, 20, 1, false), (12, 23, 63, true)]
    );
    assert_eq!(
        notes(&info.server.records_after_hello),
        [(6, 20, 1, false), (6, 23, 6861, true)]
    );
}

/// A ClientHello sent to a plain HTTP server (zeek's ssl-to-http-server.pcap): the client
/// side is kept, the server side is stopped with what it said instead.
#[test]
fn server_answering_in_plain_http() {
    let mut dec = TlsDecoder::new(&TlsConfig::default());
    let progress = replay_with(&mut dec, &load("ssl-to-http-server.s0.tsv"));
    assert_eq!(progress.last(), Some(&Progress::Done));
    let info = dec.into_info();
    assert!(info.client_hello.is_some());
    let not_tls = info.server.not_tls.as_ref().expect("not_tls");
    assert_eq!(not_tls.frame, 8);
    assert!(
        not_tls.prefix.starts_with("HTTP/1.1 400 Bad Request.."),
        "{}",
        not_tls.prefix
    );
    assert_eq!(not_tls.prefix.len(), NOT_TLS_PREFIX);
    assert!(info.server.gave_up && !info.client.gave_up);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    /// Cuts every segment into sub-chunks at the given relative points (same frame).
    fn resegment(segs: &[Seg], cuts: &[u16]) -> Vec<Seg> {
        let mut out = Vec::new();
        let mut k = 0;
        for s in segs {
            let mut rest = s.data.as_slice();
            while !rest.is_empty() {
                let c = cuts.get(k).copied().unwrap_or(u16::MAX);
                k += 1;
                let n = (usize::from(c) % rest.len()).max(1);
                out.push(Seg {
                    data: rest[..n].to_vec(),
                    ..s.clone()
                });
                rest = &rest[n..];
            }
        }
        out
    }

    fn normalise(mut i: TlsInfo) -> TlsInfo {
        for ch in i
            .client_hello
            .iter_mut()
            .chain(i.client_hello_retry.as_deref_mut())
        {
            ch.tcp_segments = 0;
        }
        for sh in i
            .server_hello
            .iter_mut()
            .chain(i.hello_retry_request.iter_mut())
        {
            sh.tcp_segments = 0;
        }
        i
    }

    fn same(a: &TlsInfo, b: &TlsInfo) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Mutated real connections (bytes flipped, then cut anywhere) never panic, and a
        /// Skip never asks for more than a record body.
        #[test]
        fn mutated_connections_never_panic(
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..12),
            cuts in proptest::collection::vec(any::<u16>(), 0..64),
            file in 0usize..4,
        ) {
            let name = ["tls-expired-cert.s0.tsv", "hrr.s0.tsv", "dump-mtu300.s0.tsv", "cert-no-cn.s0.tsv"][file];
            let mut segs = load(name);
            let total: usize = segs.iter().map(|s| s.data.len()).sum();
            for (pos, val) in flips {
                let mut at = pos % total;
                for s in segs.iter_mut() {
                    if at < s.data.len() {
                        s.data[at] = val;
                        break;
                    }
                    at -= s.data.len();
                }
            }
            let mut dec = TlsDecoder::new(&TlsConfig::default());
            for p in replay_with(&mut dec, &resegment(&segs, &cuts)) {
                if let Progress::Skip(n) = p {
                    prop_assert!(n <= u64::from(record::MAX_RECORD_BODY));
                }
            }
            let info = dec.into_info();
            #[cfg(feature = "serde")]
            let _ = serde_json::to_string(&info);
            let _ = format!("{info:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// The same byte streams in any segmentation give the same result.
        #[test]
        fn any_segmentation_same_info(cuts in proptest::collection::vec(any::<u16>(), 0..400)) {
            for file in ["tls-expired-cert.s0.tsv", "hrr.s0.tsv", "dump-mtu300.s0.tsv"] {
                let segs = load(file);
                let base = normalise(replay(&segs));
                let got = normalise(replay(&resegment(&segs, &cuts)));
                prop_assert!(same(&base, &got), "{}", file);
            }
        }
    }
}

/// A chunk that ends right after an application-data header: the whole body is skipped at
/// once, nothing of it is delivered.
#[test]
fn header_only_chunk_skips_whole_body() {
    let mut d = TlsDecoder::new(&TlsConfig::default());
    let ctx = |side| StreamCtx {
        side,
        ts: Timestamp::from_nanos(1),
        frame: 1,
        offset: 0,
    };
    assert_eq!(
        d.on_data(&ctx(Side::Client), &chrome_client_hello_record()),
        Progress::Continue
    );
    for _ in 0..3 {
        assert_eq!(
            d.on_data(&ctx(Side::Server), &[23, 3, 3, 0x40, 0]),
            Progress::Skip(16384)
        );
    }
    assert_eq!(d.on_data(&ctx(Side::Server), &[23, 3]), Progress::Continue);
    assert_eq!(d.on_data(&ctx(Side::Server), &[3, 0, 9]), Progress::Skip(9));
    assert_eq!(d.info().server.records, 4);
}
