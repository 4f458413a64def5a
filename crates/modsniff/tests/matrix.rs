//! fixtures/matrix: the fault matrix (fixtures/make-matrix.sh), the real go command through each
//! fault class in variants (timing, path, certificate, TLS version, body offset, loss, capture
//! format, IP and Go version, cut captures). Scored with the rules of
//! ../shared/tools/verdicts.py; a capture that was cut short must never be called clean.

use crate::common::*;
use crate::live::TempDir;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// A shape the matrix must hold: what it is, how many cases at least, which cases are it.
type Shape<'a> = (&'static str, usize, &'a dyn Fn(&Value) -> bool);

/// What a clean report starts with; a capture cut short is never that.
const CLEAN_REPORT: &str = "OK: no problem found";

/// fixtures/matrix, or a regenerated one (`MODSNIFF_MATRIX=/tmp/mx2`, see fixtures/README.md).
fn matrix_root() -> PathBuf {
    std::env::var_os("MODSNIFF_MATRIX").map_or_else(|| fixtures().join("matrix"), Into::into)
}

fn cases() -> Map<String, Value> {
    let p = matrix_root().join("expected.json");
    let text = std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e} (the merged ground truth)", p.display()));
    serde_json::from_str(&text).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// Who the ground truth says acted, where it says so (verdicts.py's want_actor).
fn want_actor(e: &Value) -> Option<BTreeSet<String>> {
    if let Some(a) = e["actor"].as_str() {
        return Some([a.to_string()].into());
    }
    let by = if s(&e["rst_sent_by"]).is_empty() {
        s(&e["alert_sent_by"])
    } else {
        s(&e["rst_sent_by"])
    }
    .to_ascii_lowercase();
    let set = |v: &[&str]| Some(v.iter().map(|x| x.to_string()).collect());
    if s(&e["kind"]) == "mitm-cert" {
        set(&["middlebox"])
    } else if s(&e["stage"]) == "proxy" {
        set(&["proxy", "server"])
    } else if by.starts_with("middlebox") || by.starts_with("on-path") {
        set(&["middlebox"])
    } else if by.starts_with("server host") {
        set(&["server"])
    } else {
        None
    }
}

/// A finding names the target: its server name, or its address (a proxy's, too).
fn names_target(f: &Value, e: &Value) -> bool {
    let mut names = BTreeSet::new();
    let mut ips = BTreeSet::new();
    for t in e["targets"].as_array().into_iter().flatten() {
        names.insert(s(&t["name"]));
        ips.insert(s(&t["ip"]));
    }
    names.insert(s(&e["proxy"]["name"]));
    ips.insert(s(&e["proxy"]["ip"]));
    names.remove("");
    ips.remove("");
    let srv = s(&f["server"]);
    let host = srv.rsplit_once(':').map_or(srv, |(h, _)| h);
    names.contains(s(&f["server_name"])) || ips.contains(host.trim_matches(['[', ']']))
}

/// Checks one case as verdicts.py does; returns what is wrong with our answer.
fn judge(e: &Value) -> Vec<String> {
    judge_capture(e, &matrix_root().join(s(&e["capture"]["file"])))
}

/// `judge` for the case's capture as it is at `cap` (a copy cut another way).
fn judge_capture(e: &Value, cap: &std::path::Path) -> Vec<String> {
    let args = lab_pki_args(&matrix_root().join("harness/pki"), e);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, recs, stderr) = ndjson(cap, &args);
    let mut why = Vec::new();
    if stderr.contains("panicked") {
        why.push(format!("panic: {stderr}"));
    }
    if code != 0 && code != 1 {
        why.push(format!("exit {code}: {}", stderr.trim()));
        return why;
    }
    let findings = of_type(&recs, "finding");
    let packets = e["observed"]["packets"].as_u64().unwrap_or(u64::MAX);
    let in_range = findings.iter().all(|f| {
        f["evidence"].as_array().into_iter().flatten().all(|v| {
            v["packet"]
                .as_u64()
                .is_some_and(|p| (1..=packets).contains(&p))
        })
    });
    let label = (s(&e["stage"]), s(&e["kind"]));
    if label == ("none", "none") {
        let errors: Vec<String> = findings
            .iter()
            .filter(|f| f["severity"] == "error")
            .map(|f| format!("{}/{}", s(&f["stage"]), s(&f["kind"])))
            .collect();
        if !errors.is_empty() {
            why.push(format!("false error: {}", errors.join(", ")));
        }
    } else {
        let accepted = accepted(label);
        let hits: Vec<&&Value> = findings
            .iter()
            .filter(|f| accepted.contains(&(s(&f["stage"]), s(&f["kind"]))))
            .collect();
        if hits.is_empty() {
            let got: BTreeSet<String> = findings
                .iter()
                .map(|f| format!("{}/{}", s(&f["stage"]), s(&f["kind"])))
                .collect();
            let got: Vec<String> = got.into_iter().collect();
            why.push(format!(
                "want {accepted:?}, got {}",
                if got.is_empty() {
                    "no findings".to_string()
                } else {
                    got.join(", ")
                }
            ));
        } else {
            if label.0 != "proxy" && !hits.iter().any(|f| names_target(f, e)) {
                why.push("finding does not name the target".into());
            }
            if let Some(actors) = want_actor(e)
                && !hits.iter().any(|f| actors.contains(s(&f["actor"])))
            {
                let got: BTreeSet<&str> = hits.iter().map(|f| s(&f["actor"])).collect();
                why.push(format!("actor {got:?}, want {actors:?}"));
            }
            // When go failed, the finding for what was injected is the cause: an error, not a
            // warning beside some other error (a refusal at an address a forged DNS answer
            // gave is that answer's consequence).
            if e["go"]["exit_code"].as_i64() != Some(0)
                && label.0 != "none"
                && !hits.iter().any(|f| f["severity"] == "error")
            {
                why.push("the injected fault is not reported as an error".into());
            }
            if label == ("none", "mitm-cert") && hits.iter().any(|f| f["severity"] == "error") {
                why.push("accepted interception reported as error (want warning)".into());
            }
            if !hits
                .iter()
                .any(|f| f["evidence"].as_array().is_some_and(|v| !v.is_empty()))
            {
                why.push("no evidence frames".into());
            }
        }
    }
    if !in_range {
        why.push("evidence frame out of range".into());
    }
    let want_exit = if e["go"]["exit_code"].as_i64() == Some(0) {
        0
    } else {
        1
    };
    if code != want_exit {
        why.push(format!("exit {code}, want {want_exit}"));
    }
    why
}

#[test]
fn every_matrix_case_gets_its_verdict() {
    let all = cases();
    // grouped by shape (axes.class), so that a failure reads as a detector's blind spot
    let mut bad: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, e) in &all {
        let why = judge(e);
        if !why.is_empty() {
            let class = s(&e["axes"]["class"]).to_string();
            bad.entry(class)
                .or_default()
                .push(format!("  {name}: {}", why.join("; ")));
        }
    }
    let n: usize = bad.values().map(Vec::len).sum();
    let text: Vec<String> = bad
        .iter()
        .map(|(c, v)| format!("{c} ({}):\n{}", v.len(), v.join("\n")))
        .collect();
    assert!(
        n == 0,
        "{n} of {} matrix cases wrong:\n{}",
        all.len(),
        text.join("\n")
    );
}

#[test]
fn cut_captures_are_never_reported_clean() {
    let all = cases();
    let mut cut = 0;
    let mut bad = Vec::new();
    for (name, e) in &all {
        if e["capture"]["cut"].is_null() {
            continue;
        }
        cut += 1;
        let cap = matrix_root().join(s(&e["capture"]["file"]));
        let mut args = vec!["read".to_string()];
        args.extend(lab_pki_args(&matrix_root().join("harness/pki"), e));
        args.push(cap.to_string_lossy().into_owned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&args);
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains(CLEAN_REPORT) {
            bad.push(format!(
                "{name} ({}): {}",
                s(&e["capture"]["cut"]["reason"]),
                text.lines().next().unwrap_or("")
            ));
        }
    }
    // the matrix has clean runs and failing runs cut short, in each capture format it cuts
    assert!(cut >= 6, "only {cut} cut captures in the matrix");
    assert!(
        bad.is_empty(),
        "cut captures reported clean:\n{}",
        bad.join("\n")
    );
}

/// Snap lengths the matrix's captures are cut to (`editcap -s`, what `tcpdump -s N` writes):
/// 96 bytes (tcpdump's old default for IPv6) leaves 30 bytes of a TCP segment's payload, the
/// first bytes of each TLS record or HTTP head; 200 and 400 cut certificates, error pages and
/// the larger hellos.
const SNAPS: [u32; 3] = [96, 200, 400];

/// Cases whose verdict a snap length of 200 or 400 bytes takes away, with what it takes.
const SNAP_MISSES: &[(&str, u32, &str)] = &[
    (
        "alert-server-clientauth-squid",
        200,
        "the server's CertificateRequest is cut",
    ),
    (
        "alert-server-clientauth-tls13",
        200,
        "the server's CertificateRequest is cut",
    ),
    ("dark-1m-d300", 200, "the body's progress is cut"),
    ("dark-1m-d300", 400, "the body's progress is cut"),
    ("dark-1m-d300-sll2-v6", 200, "the body's progress is cut"),
    ("dark-1m-d300-sll2-v6", 400, "the body's progress is cut"),
    ("dark-64k-d300-v6", 200, "the body's progress is cut"),
    ("dark-64k-d300-v6", 400, "the body's progress is cut"),
    (
        "idle-run6-http-squidhttp",
        200,
        "the response's length is cut: its end unknown, the idle keep-alive reads as a stall",
    ),
    (
        "mitm-trusted-behind-tinyproxy-tls12",
        200,
        "the certificate is cut, and in a proxy's tunnel the hop the \"server\" answers from tells nothing",
    ),
    (
        "mitm-trusted-behind-tinyproxy-tls12",
        400,
        "the certificate is cut, and in a proxy's tunnel the hop the \"server\" answers from tells nothing",
    ),
    (
        "mitm-trusted-squid-connect-tls12",
        200,
        "the certificate is cut, and in a proxy's tunnel the hop the \"server\" answers from tells nothing",
    ),
    (
        "mitm-trusted-squid-connect-tls12",
        400,
        "the certificate is cut, and in a proxy's tunnel the hop the \"server\" answers from tells nothing",
    ),
    (
        "mitmproxy-regular-trusted-tls12",
        200,
        "the certificate is cut, and in a proxy's tunnel the hop the \"server\" answers from tells nothing",
    ),
    (
        "mitmproxy-regular-trusted-tls12",
        400,
        "the certificate is cut, and in a proxy's tunnel the hop the \"server\" answers from tells nothing",
    ),
];

/// Every matrix capture cut to each of `SNAPS`: a capture whose packets were cut is never
/// called clean (what was cut may hold the fault), and at 200 and 400 bytes, where every TCP
/// segment still shows its first TLS record header or HTTP status line, the case keeps its
/// verdict (stage, kind, target, actor, severity, exit) but for `SNAP_MISSES`.
#[test]
fn snap_cut_captures_say_incomplete_and_keep_their_verdict() {
    if !tools_or_skip(&["editcap"], "matrix captures cut to a snap length") {
        return;
    }
    let all = cases();
    let tmp = TempDir::new("snap");
    let jobs: Vec<(&String, &Value, u32)> = all
        .iter()
        .flat_map(|(n, e)| SNAPS.iter().map(move |&snap| (n, e, snap)))
        .collect();
    let results: Vec<(String, u32, bool, Vec<String>)> =
        on_every_core(&jobs, |_, &(name, e, snap)| {
            let src = matrix_root().join(s(&e["capture"]["file"]));
            let ext = src.extension().and_then(|x| x.to_str()).unwrap_or("pcap");
            let cut = tmp.join(&format!("{name}-s{snap}.{ext}"));
            let ok = std::process::Command::new("editcap")
                .args(["-s", &snap.to_string()])
                .arg(&src)
                .arg(&cut)
                .status()
                .is_ok_and(|st| st.success());
            assert!(ok, "editcap -s {snap} {}", src.display());
            let args = lab_pki_args(&matrix_root().join("harness/pki"), e);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (_, recs, _) = ndjson(&cut, &args);
            let stats = of_type(&recs, "stats");
            let called_clean = stats.last().is_some_and(|st| {
                st["truncated_packets"].as_u64().unwrap_or(0) > 0 && st["verdict"] == "ok"
            });
            let why = if snap >= 200 {
                judge_capture(e, &cut)
            } else {
                Vec::new()
            };
            std::fs::remove_file(&cut).ok();
            (name.clone(), snap, called_clean, why)
        });
    let clean: Vec<String> = results
        .iter()
        .filter(|r| r.2)
        .map(|(n, snap, _, _)| format!("  {n} at {snap} bytes"))
        .collect();
    let listed = |n: &str, snap: u32| SNAP_MISSES.iter().any(|m| m.0 == n && m.1 == snap);
    let wrong: Vec<String> = results
        .iter()
        .filter(|(n, snap, _, why)| !why.is_empty() && !listed(n, *snap))
        .map(|(n, snap, _, why)| format!("  {n} at {snap} bytes: {}", why.join("; ")))
        .collect();
    let now_right: Vec<String> = SNAP_MISSES
        .iter()
        .filter(|m| {
            results
                .iter()
                .any(|(n, snap, _, why)| n == m.0 && *snap == m.1 && why.is_empty())
        })
        .map(|m| format!("  {} at {} bytes", m.0, m.1))
        .collect();
    assert!(
        clean.is_empty() && wrong.is_empty() && now_right.is_empty(),
        "cut captures called clean:\n{}\nverdicts lost to the cut:\n{}\nlisted in SNAP_MISSES but right now (take them out):\n{}",
        clean.join("\n"),
        wrong.join("\n"),
        now_right.join("\n")
    );
    assert_eq!(results.len(), all.len() * SNAPS.len());
}

#[test]
fn matrix_covers_every_shape_in_variants() {
    let all = cases();
    assert!(all.len() >= 150, "only {} matrix cases", all.len());
    let class_of = |e: &Value| s(&e["axes"]["class"]).to_string();
    // every case says its axes, so failures can be grouped by shape
    for (name, e) in &all {
        for axis in [
            "class", "path", "cert", "tls", "timing", "body_at", "loss", "capture", "ip", "go",
        ] {
            assert!(
                !s(&e["axes"][axis]).is_empty(),
                "{name}: axis {axis} missing"
            );
        }
    }
    // the shapes that went wrong outside the repository, each in several variants
    let count = |f: &dyn Fn(&Value) -> bool| all.values().filter(|e| f(e)).count();
    let label = |e: &Value| (s(&e["stage"]).to_string(), s(&e["kind"]).to_string());
    let shapes: [Shape; 13] = [
        ("certificate rejected on a self-hosted GOPROXY", 10, &|e| {
            label(e) == ("tls-handshake".into(), "cert-rejected".into())
        }),
        ("the same GOPROXY, trusted", 3, &|e| {
            class_of(e) == "cert" && s(&e["stage"]) == "none"
        }),
        ("a path dark mid-download", 4, &|e| {
            class_of(e) == "dark" && s(&e["kind"]) == "transfer-stall"
        }),
        ("a forged reset before the real reply", 4, &|e| {
            class_of(e) == "rst-injection" && s(&e["kind"]) == "reset-after-clienthello"
        }),
        ("a proxy's own error page", 4, &|e| {
            label(e) == ("proxy".into(), "proxy-error".into())
        }),
        ("a capture cut short", 6, &|e| {
            !e["capture"]["cut"].is_null()
        }),
        ("NXDOMAIN without outside DNS", 3, &|e| {
            class_of(e) == "dns" && s(&e["kind"]) == "nxdomain"
        }),
        ("a TLS alert from a middlebox or the server", 4, &|e| {
            s(&e["kind"]) == "handshake-aborted"
        }),
        ("a GOPROXY list falling back", 3, &|e| {
            class_of(e) == "list" && s(&e["stage"]) == "none"
        }),
        // A build host's own interface hands the capture super-segments (TSO/GRO) larger
        // than the MTU, with checksums not yet filled in.
        ("faults seen with offloads on", 10, &|e| {
            s(&e["axes"]["offload"]) == "on" && s(&e["stage"]) != "none"
        }),
        (
            "a dual-stack name whose first family fails, go recovering",
            3,
            &|e| class_of(e) == "dual" && s(&e["stage"]) == "none",
        ),
        // A real inspection product (mitmproxy 11), not the harness's own terminator: its
        // own shapes of interception, trusted and not, transparent and as the explicit proxy.
        ("mitmproxy intercepting, trusted or not", 10, &|e| {
            class_of(e) == "mitmproxy" && s(&e["kind"]) == "mitm-cert"
        }),
        // ... and what it does when the real server fails behind it: a reset or close at the
        // hello, a held hello, a 502 to CONNECT. (Its 502 inside the TLS the client trusts is
        // not here: see the mitmproxy family in make-matrix.sh.)
        ("mitmproxy answering for a failed upstream", 8, &|e| {
            class_of(e) == "mitmproxy" && s(&e["kind"]) != "mitm-cert"
        }),
    ];
    for (what, min, f) in shapes {
        let n = count(f);
        assert!(n >= min, "{what}: {n} cases, want at least {min}");
    }
    // every class varies on several axes
    let mut seen: BTreeMap<String, BTreeMap<&str, BTreeSet<String>>> = BTreeMap::new();
    for e in all.values() {
        for axis in [
            "path", "cert", "tls", "timing", "body_at", "loss", "capture", "ip", "go", "cut",
        ] {
            seen.entry(class_of(e))
                .or_default()
                .entry(axis)
                .or_default()
                .insert(s(&e["axes"][axis]).to_string());
        }
    }
    for (class, axes) in &seen {
        let varied = axes.values().filter(|v| v.len() > 1).count();
        assert!(varied >= 2, "{class} varies on {varied} axes only");
    }
}

/// Seconds since the epoch of a capture's first packet (capinfos).
fn first_packet_time(cap: &std::path::Path) -> f64 {
    let out = std::process::Command::new("capinfos")
        .args(["-a", "-S", "-T", "-r"])
        .arg(cap)
        .output()
        .expect("running capinfos");
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .rsplit('\t')
        .next()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("capinfos gave no first packet time: {text:?}"))
}

fn transfer_stalls(cap: &std::path::Path) -> usize {
    let (_, recs, _) = ndjson(cap, &[]);
    of_type(&recs, "finding")
        .into_iter()
        .filter(|f| s(&f["kind"]) == "transfer-stall")
        .count()
}

/// A download that goes silent until the client closes, the server closing only in answer,
/// is a stall when the go command waited on it, and an idle keep-alive connection when it
/// went on with other connections meanwhile. xfer-stall-64k-d300 is the first (go killed
/// after waiting; the server's data stops 2.4 s into the capture, the client's FIN comes at
/// 8.0 s: tshark frames 108 and 113); the same capture with a whole download of another
/// capture (clean-tls12) placed 4 s in, inside that silence, is the second.
#[test]
fn a_silent_fetch_is_a_stall_only_when_go_waited_on_it() {
    if !tools_or_skip(
        &["editcap", "mergecap", "capinfos"],
        "the busy-elsewhere check",
    ) {
        return;
    }
    let stall = matrix_root().join("xfer-stall-64k-d300/capture.pcap");
    let other = matrix_root().join("clean-tls12/capture.pcap");
    assert_eq!(
        transfer_stalls(&stall),
        1,
        "{}: the stall the go command waited on",
        stall.display()
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let shifted = dir.path().join("other.pcap");
    let merged = dir.path().join("merged.pcap");
    let shift = first_packet_time(&stall) + 4.0 - first_packet_time(&other);
    let ok = |mut c: std::process::Command| {
        let out = c.output().expect("running a Wireshark tool");
        assert!(
            out.status.success(),
            "{c:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let mut editcap = std::process::Command::new("editcap");
    editcap
        .args(["-t", &format!("{shift:.6}")])
        .arg(&other)
        .arg(&shifted);
    ok(editcap);
    let mut mergecap = std::process::Command::new("mergecap");
    mergecap
        .args(["-F", "pcap", "-w"])
        .arg(&merged)
        .arg(&stall)
        .arg(&shifted);
    ok(mergecap);
    let (_, recs, _) = ndjson(&merged, &[]);
    let tcp = of_type(&recs, "connection")
        .into_iter()
        .filter(|c| s(&c["transport"]) == "tcp")
        .count();
    assert_eq!(tcp, 2, "the merged capture holds both downloads");
    assert_eq!(
        transfer_stalls(&merged),
        0,
        "a silence while the go command was busy on another connection is not a stall"
    );
}

/// One packet of a capture, owned (for reordering copies).
struct Owned {
    ts: modsniff_core::Timestamp,
    orig_len: u32,
    linktype: modsniff_core::LinkType,
    data: Vec<u8>,
}

/// The capture's packets in file order (the reader's reorder window off).
fn packets_in_file_order(cap: &std::path::Path) -> Vec<Owned> {
    let limits = modsniff_capture::ReadLimits {
        reorder_window: 0,
        ..modsniff_capture::ReadLimits::default()
    };
    let mut src = modsniff_capture::FileSource::open_with(cap, limits).expect("open");
    let mut out = Vec::new();
    while let Some(p) = src.next_packet().expect("read") {
        out.push(Owned {
            ts: p.ts,
            orig_len: p.orig_len,
            linktype: p.linktype,
            data: p.data.to_vec(),
        });
    }
    out
}

/// Whether a packet is TCP from the matrix's client (10.77.1.2, fd77:1::2; see
/// fixtures/make-fixtures.sh), by its link type's header length.
fn from_client_tcp(p: &Owned) -> bool {
    let ip = match p.linktype.0 {
        1 => 14,
        113 => 16,
        276 => 20,
        101 => 0,
        _ => return false,
    };
    let d = &p.data;
    match d.get(ip).map(|b| b >> 4) {
        Some(4) => d.get(ip + 9) == Some(&6) && d.get(ip + 12..ip + 16) == Some(&[10, 77, 1, 2]),
        Some(6) => {
            let client: [u8; 16] = [0xfd, 0x77, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
            d.get(ip + 6) == Some(&6) && d.get(ip + 8..ip + 24) == Some(&client[..])
        }
        _ => false,
    }
}

/// A small seeded generator (xorshift): the same copies on every run.
struct Seeded(u64);
impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// How a copy is written out of timestamp order, as captures on several CPUs or interfaces
/// come: `Swaps` exchanges adjacent packets (about one pair in ten), `ClientFirst` files a
/// client's TCP packet before the run of other packets just before it (the server's flight
/// it answers), at most 8 places back, up to 3 times. Only packets stamped differently are
/// moved: a file cannot tell the order of equal times.
#[derive(Clone, Copy, Debug)]
enum Reorder {
    Swaps,
    ClientFirst,
}

/// `packets` written out of order by `how`; how many packets were moved.
fn reorder(packets: &mut Vec<Owned>, how: Reorder, rng: &mut Seeded) -> usize {
    let mut moved = 0;
    match how {
        Reorder::Swaps => {
            let mut i = 0;
            while i + 1 < packets.len() {
                if packets[i].ts < packets[i + 1].ts
                    && (rng.next().is_multiple_of(10) || moved == 0 && i + 2 == packets.len())
                {
                    packets.swap(i, i + 1);
                    moved += 1;
                    i += 2;
                } else {
                    i += 1;
                }
            }
        }
        Reorder::ClientFirst => {
            // (the client packet, where the run before it starts)
            let mut spots: Vec<(usize, usize)> = Vec::new();
            for i in 2..packets.len() {
                if !from_client_tcp(&packets[i]) {
                    continue;
                }
                let mut start = i;
                while start > 0
                    && i - start < 8
                    && !from_client_tcp(&packets[start - 1])
                    && packets[start - 1].ts < packets[i].ts
                {
                    start -= 1;
                }
                if i - start >= 2 {
                    spots.push((i, start));
                }
            }
            let mut taken: Vec<(usize, usize)> = Vec::new();
            for _ in 0..3 {
                if spots.is_empty() {
                    break;
                }
                let (i, start) = spots.swap_remove((rng.next() % spots.len() as u64) as usize);
                // Moves that overlap would undo each other's runs.
                if taken.iter().any(|&(a, b)| start <= a && b <= i) {
                    continue;
                }
                let p = packets.remove(i);
                packets.insert(start, p);
                taken.push((i, start));
                moved += 1;
            }
        }
    }
    moved
}

fn write_pcapng(packets: &[Owned], to: &std::path::Path) {
    let file = std::io::BufWriter::new(std::fs::File::create(to).expect("create"));
    let mut w =
        modsniff_capture::PcapNgWriter::new(file, 262_144, modsniff_capture::TsPrecision::Nano)
            .expect("pcapng header");
    for (i, p) in packets.iter().enumerate() {
        w.write_packet(&modsniff_core::Packet {
            ts: p.ts,
            frame: i as u64 + 1,
            orig_len: p.orig_len,
            linktype: p.linktype,
            data: &p.data,
        })
        .expect("write");
    }
    w.flush().expect("flush");
}

/// Every matrix capture written out of timestamp order two ways (`Reorder`), seeded: the
/// reader puts the packets back in time order (its `reordered_packets` counts them) and the
/// case keeps its verdict: stage, kind, target, actor, severity, exit (what was injected and
/// what go printed), a client's alert filed before the server's flight included.
#[test]
fn captures_written_out_of_order_keep_their_verdict() {
    let all = cases();
    let tmp = TempDir::new("reorder");
    let jobs: Vec<(&String, &Value, Reorder)> = all
        .iter()
        .filter(|(_, e)| e["capture"]["cut"].is_null())
        .flat_map(|(n, e)| [(n, e, Reorder::Swaps), (n, e, Reorder::ClientFirst)])
        .collect();
    let results: Vec<(String, Reorder, usize, u64, Vec<String>)> =
        on_every_core(&jobs, |i, &(name, e, how)| {
            let src = matrix_root().join(s(&e["capture"]["file"]));
            let mut packets = packets_in_file_order(&src);
            let mut rng = Seeded(0x9E37_79B9_7F4A_7C15 ^ i as u64);
            let moved = reorder(&mut packets, how, &mut rng);
            if moved == 0 {
                return (name.clone(), how, 0, 0, Vec::new());
            }
            let copy = tmp.join(&format!("{name}-{how:?}.pcapng"));
            write_pcapng(&packets, &copy);
            let args = lab_pki_args(&matrix_root().join("harness/pki"), e);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (_, recs, _) = ndjson(&copy, &args);
            let reordered = of_type(&recs, "stats")
                .last()
                .and_then(|st| st["reordered_packets"].as_u64())
                .unwrap_or(0);
            let why = judge_capture(e, &copy);
            std::fs::remove_file(&copy).ok();
            (name.clone(), how, moved, reordered, why)
        });
    let tried: Vec<&(String, Reorder, usize, u64, Vec<String>)> =
        results.iter().filter(|r| r.2 > 0).collect();
    let wrong: Vec<String> = tried
        .iter()
        .filter(|r| !r.4.is_empty())
        .map(|(n, how, moved, _, why)| {
            format!("  {n} ({how:?}, {moved} moved): {}", why.join("; "))
        })
        .collect();
    let uncounted: Vec<String> = tried
        .iter()
        .filter(|r| r.3 == 0)
        .map(|(n, how, _, _, _)| format!("  {n} ({how:?})"))
        .collect();
    let client_first = tried
        .iter()
        .filter(|r| matches!(r.1, Reorder::ClientFirst))
        .count();
    assert!(
        wrong.is_empty() && uncounted.is_empty(),
        "verdicts lost to packets out of order:\n{}\nreordered copies with no packet put back in order:\n{}",
        wrong.join("\n"),
        uncounted.join("\n")
    );
    // Every capture gets its swaps; most have a client packet to file early.
    assert!(tried.len() >= jobs.len() / 2 + client_first);
    assert!(
        client_first * 10 >= jobs.len() / 2 * 8,
        "{client_first} client-first copies"
    );
}

/// `work` on every job, spread over one thread per core (jobs taken in turn); the results in
/// no particular order. `work` gets the job's index, for per-job seeds.
fn on_every_core<J: Sync, R: Send>(jobs: &[J], work: impl Fn(usize, &J) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else {
                            break out;
                        };
                        out.push(work(i, job));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker"))
            .collect()
    })
}
