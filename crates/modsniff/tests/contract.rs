//! Exit codes, formats and the conventions users expect.

use crate::common::*;

#[test]
fn bad_usage_and_unreadable_input_exit_2() {
    assert_eq!(run(&["read"]).status.code(), Some(2));
    assert_eq!(
        run(&["read", "--format", "yaml", "x.pcap"]).status.code(),
        Some(2)
    );
    let out = run(&["read", "/nonexistent/file.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/file.pcap"),
        "error names the file: {err}"
    );
    let junk = std::env::temp_dir().join(format!("modsniff-junk-{}.pcap", std::process::id()));
    std::fs::write(&junk, b"this is not a capture file at all").unwrap();
    let out = run(&["read", junk.to_str().unwrap()]);
    std::fs::remove_file(&junk).ok();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A missing file among several is said and makes the exit status 2; the files that could be
/// read are still reported, in every format (a JSON document included).
#[test]
fn an_unreadable_file_among_several_keeps_the_report_of_the_others() {
    let good = fixtures().join("http-404/capture.pcap");
    let good = good.to_str().unwrap();
    let missing = "/nonexistent/second.pcap";
    for format in ["text", "json", "ndjson"] {
        for args in [[good, missing], [missing, good]] {
            let out = run(&["read", "--format", format, args[0], args[1]]);
            let text = String::from_utf8_lossy(&out.stdout);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{format} {args:?}: {err}");
            assert!(
                err.contains(missing),
                "{format}: the error names the file: {err}"
            );
            // the 404 of the readable file is reported
            assert!(
                text.contains("http-not-found"),
                "{format} {args:?}: no report of {good}:\n{text}"
            );
            if format == "json" {
                let doc: serde_json::Value =
                    serde_json::from_slice(&out.stdout).expect("one JSON document");
                assert!(doc.is_object(), "{format}: {doc}");
            }
        }
    }
}

/// The packets of a little-endian microsecond pcap, each as its 16-byte header and data.
fn pcap_records(file: &std::path::Path) -> (Vec<u8>, Vec<(u32, Vec<u8>)>) {
    let b = std::fs::read(file).unwrap();
    assert_eq!(&b[..4], b"\xd4\xc3\xb2\xa1", "a little-endian pcap");
    let le = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= b.len() {
        let caplen = le(at + 8) as usize;
        out.push((le(at), b[at..at + 16 + caplen].to_vec()));
        at += 16 + caplen;
    }
    (b[..24].to_vec(), out)
}

/// SIGINT or SIGTERM during a long read: the report of what was read is printed, it says that
/// reading stopped (never OK), and the exit status is 128 + the signal.
#[test]
fn a_read_interrupted_by_a_signal_still_reports() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let (header, records) = pcap_records(&fixtures().join("http-404/capture.pcap"));
    for (sig, code, format) in [("INT", 130, "text"), ("TERM", 143, "ndjson")] {
        let mut child = Command::new(bin())
            .args(["read", "--format", format, "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // stdout and stderr are drained as they come: ndjson is written while reading.
        let drain = |mut r: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut v = Vec::new();
                let _ = r.read_to_end(&mut v);
                v
            })
        };
        let stdout = drain(Box::new(child.stdout.take().unwrap()));
        let stderr = drain(Box::new(child.stderr.take().unwrap()));
        // The same exchange over and over, a hundred seconds apart: an endless capture. Writes
        // block until modsniff has read them, so 4 MiB written means packets were analysed.
        stdin.write_all(&header).unwrap();
        let mut written = 0usize;
        let mut round = 0u32;
        while written < 4 << 20 {
            for (ts, rec) in &records {
                let mut rec = rec.clone();
                rec[..4].copy_from_slice(&(ts + round * 100).to_le_bytes());
                stdin.write_all(&rec).unwrap();
                written += rec.len();
            }
            round += 1;
        }
        // stdin stays open and idle: the input has not ended when the signal comes, and the
        // read waiting for its next bytes must end by itself.
        let kill = Command::new("kill")
            .args([format!("-{sig}"), child.id().to_string()])
            .status();
        assert!(kill.unwrap().success());
        let status = wait_or_kill(&mut child, &format!("SIG{sig} on an idle pipe"));
        drop(stdin);
        let out = std::process::Output {
            status,
            stdout: stdout.join().unwrap(),
            stderr: stderr.join().unwrap(),
        };
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(code),
            "SIG{sig}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("reading was stopped"),
            "SIG{sig}: the report says reading stopped:\n{}",
            &text[..text.len().min(2000)]
        );
        assert!(!text.contains("OK: no problem found"));
        if format == "ndjson" {
            let last: serde_json::Value =
                serde_json::from_str(text.lines().last().unwrap()).unwrap();
            assert_eq!(last["type"], "stats", "the stats record ends the output");
            assert!(last["packets"].as_u64().unwrap() > 1000);
        } else {
            assert!(text.contains("http-not-found"), "what was read is reported");
        }
    }
}

/// Waits for a child that must end by itself; one still running after a minute (the signal
/// was not acted on) is killed and the test fails.
fn wait_or_kill(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    for _ in 0..600 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("{what}: modsniff did not end after the signal");
}

/// Waits until process `pid` catches signal `sig` (its SigCgt mask in /proc, Linux).
fn wait_for_handler(pid: u32, sig: u32) {
    for _ in 0..600 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let caught = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .unwrap_or(0);
        if caught & (1 << (sig - 1)) != 0 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("process {pid} never installed a handler for signal {sig}");
}

/// A signal while `read -` waits for a capture that has not sent a byte yet: the wait ends,
/// stderr says why, exit 128 + the signal (not "empty input").
#[test]
fn a_signal_ends_a_read_still_waiting_for_its_first_byte() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(bin())
        .args(["read", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    // Signalled only once its handler is installed (before that, SIGINT just kills it).
    wait_for_handler(child.id(), 2);
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    assert!(kill.unwrap().success());
    let status = wait_or_kill(&mut child, "SIGINT before the first byte");
    drop(stdin);
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted by SIGINT before any byte"),
        "{err}"
    );
}

#[test]
fn json_document_has_the_same_records_as_ndjson() {
    let f = fixtures().join("public/zeek/http/proxy.pcap");
    let (_, recs, _) = ndjson(&f, &[]);
    let out = run(&["read", "--format", "json", f.to_str().unwrap()]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let mut from_doc = Vec::new();
    for part in ["connections", "dns", "findings", "stats"] {
        from_doc.extend(doc[part].as_array().unwrap().iter().cloned());
    }
    let key = |v: &serde_json::Value| serde_json::to_string(v).unwrap();
    let mut a: Vec<String> = recs.iter().map(key).collect();
    let mut b: Vec<String> = from_doc.iter().map(key).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

#[test]
fn text_report_has_no_colour_when_piped_or_with_no_color() {
    let f = fixtures().join("public/zeek/http/get.pcap");
    let out = run(&["read", f.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains('\x1b'), "escape codes in piped output");
    assert!(text.contains("Summary"));
    let forced = run(&["read", "--color", "always", f.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&forced.stdout).contains('\x1b'));
}

#[test]
fn count_limits_packets_like_tcpdump() {
    let f = fixtures().join("public/zeek/http/pipelined-requests.pcap");
    let (_, recs, _) = ndjson(&f, &["-c", "3"]);
    assert_eq!(recs.last().unwrap()["packets"], 3);
}

#[test]
fn broken_pipe_exits_quietly() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let f = fixtures().join("public/zeek/tls/tls-fragmented-handshake.pcap");
    let mut child = Command::new(bin())
        .args(["read", "--format", "ndjson", f.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 1];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        status.code().is_some_and(|c| c == 0 || c == 1),
        "{status:?} {err}"
    );
}

#[test]
fn completions_and_man_page() {
    let out = run(&["completions", "bash"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("modsniff"));
    let man = run(&["man"]);
    assert!(String::from_utf8_lossy(&man.stdout).contains(".TH modsniff"));
}

#[test]
fn empty_input_is_no_capture_and_exits_2() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let empty = std::env::temp_dir().join(format!("modsniff-empty-{}.pcap", std::process::id()));
    std::fs::write(&empty, b"").unwrap();
    let out = run(&["read", empty.to_str().unwrap()]);
    std::fs::remove_file(&empty).ok();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("empty input"), "{err}");
    assert!(out.stdout.is_empty(), "no verdict for no capture");
    let mut child = Command::new(bin())
        .args(["read", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().flush().unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-: empty input"));
}

/// Every cut of a real capture, inside a record or between records, mid-exchange: the verdict
/// never reads "OK: no problem found", says INCOMPLETE, and a good run's cut still exits 0.
#[test]
fn capture_cut_short_is_never_ok() {
    let f = fixtures().join("clean/capture.pcap");
    let data = std::fs::read(&f).unwrap();
    let cut = std::env::temp_dir().join(format!("modsniff-cut-{}.pcap", std::process::id()));
    // 24-byte header, then the records; frames 9-37 are go's connection (fixtures/clean).
    for n in [1500, 3001, 4000, 5001, 6000, 7001, 8000] {
        std::fs::write(&cut, &data[..n]).unwrap();
        let out = run(&["read", cut.to_str().unwrap()]);
        let text = String::from_utf8_lossy(&out.stdout);
        let head = text.lines().next().unwrap_or("");
        assert!(
            head.starts_with("INCOMPLETE: capture cut short"),
            "{n}: {head}"
        );
        assert_eq!(out.status.code(), Some(0), "{n}: {text}");
    }
    std::fs::remove_file(&cut).ok();
    for packets in ["9", "16", "24", "30"] {
        let out = run(&["read", "-c", packets, f.to_str().unwrap()]);
        let head = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        assert!(head.starts_with("INCOMPLETE:"), "-c {packets}: {head}");
    }
    let out = run(&["read", f.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("OK: no problem found"));
}

/// The HTTP decoders' counters reach the stats record: a chunk size of 2^64 (Zeek's
/// http/261 smuggling capture) gives up that side, and the record says so; a capture with no
/// HTTP at all counts nothing.
#[test]
fn stats_record_carries_the_http_decoders_counters() {
    let Some(shared) = shared_or_skip("stats http counters") else {
        return;
    };
    let file = shared.join("pcaps/public/zeek/http/261/variant-01-chunk_2pow64_overflow.pcap");
    let (_, recs, _) = ndjson(&file, &[]);
    let stats = of_type(&recs, "stats");
    let http = &stats[0]["http"];
    assert_eq!(http["desync_garbage"], 1, "{http}");
    assert_eq!(http["header_overflows"], 0, "{http}");

    let (_, recs, _) = ndjson(&fixtures().join("sni-filter-rst/capture.pcap"), &[]);
    let http = &of_type(&recs, "stats")[0]["http"];
    let counts = http.as_object().expect("an http object");
    assert!(counts.values().all(|v| v == 0), "{http}");
}
