//! The detectors on real records: captures of the real go command (fixtures/, and the excerpts
//! in testdata/ beside this file), read by the real engine, judged by the real diagnosis.
//! Ground truth is what was injected and what go printed (each capture's expected.json and
//! stderr), never modsniff's own output.

use super::*;
use modsniff_capture::FileSource;
use modsniff_core::app::tls::TlsConfig;
use modsniff_core::{Config, Engine, Event};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> PathBuf {
    let dir = repo().join("fixtures").join(name);
    ["capture.pcap", "capture.pcapng"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no capture in {}", dir.display()))
}

/// How a capture is read for a test.
struct Read {
    settings: GoSettings,
    /// The lab PKI's public root and the trust file the client used (fixtures/harness/pki).
    trust: Option<&'static str>,
    /// Keep only the first `bytes` of the file (a capture cut short).
    bytes: Option<usize>,
    /// Stop after this many packets (a capture stopped at a record boundary).
    packets: Option<u64>,
}

impl Default for Read {
    fn default() -> Self {
        Read {
            settings: GoSettings::default(),
            trust: Some("trust-public.pem"),
            bytes: None,
            packets: None,
        }
    }
}

fn pem(path: &Path) -> Vec<Vec<u8>> {
    crate::analyze::read_pem_certs(path).expect("PEM")
}

/// Runs the engine and the diagnosis over a capture, as `modsniff read` does.
fn diagnose(path: &Path, how: Read) -> Vec<Finding> {
    let mut data = std::fs::read(path).expect("capture");
    if let Some(n) = how.bytes {
        data.truncate(n);
    }
    let mut tls = TlsConfig::default();
    if let Some(trust) = how.trust {
        let pki = repo().join("fixtures/harness/pki");
        tls.public_roots_der = pem(&pki.join("root.pem")).into();
        tls.extra_roots_der = pem(&pki.join(trust)).into();
    }
    let mut engine = Engine::new(Config {
        tls,
        ..Config::default()
    });
    let mut src = FileSource::from_reader(
        Box::new(std::io::Cursor::new(data)),
        path.display().to_string(),
    )
    .expect("a capture");
    let mut events = Vec::new();
    let mut n = 0u64;
    while how.packets.is_none_or(|max| n < max) {
        match src.next_packet().expect("readable") {
            Some(p) => {
                n += 1;
                engine.push(&p, &mut events);
            }
            None => break,
        }
    }
    let mut d = Diagnoser::new(how.settings);
    let feed = |d: &mut Diagnoser, events: &mut Vec<Event>| {
        for e in events.drain(..) {
            match e {
                Event::Connection(c) => {
                    d.on_connection(&c);
                }
                Event::Dns(r) => d.on_dns(&r),
                _ => {}
            }
        }
    };
    feed(&mut d, &mut events);
    d.saw_time(engine.now());
    engine.finish(&mut events);
    feed(&mut d, &mut events);
    if let Some(w) = src.warnings().first() {
        d.note_capture_cut(w.to_string(), src.frames());
    } else if n == 0 {
        d.note_no_packets();
    }
    d.finish()
}

fn kinds(f: &[Finding]) -> Vec<(Stage, FindingKind, Severity)> {
    f.iter().map(|f| (f.stage, f.kind, f.severity)).collect()
}

fn only(f: &[Finding], kind: FindingKind) -> &Finding {
    let v: Vec<&Finding> = f.iter().filter(|x| x.kind == kind).collect();
    assert_eq!(v.len(), 1, "one {kind:?} in {:?}", kinds(f));
    v[0]
}

fn errors(f: &[Finding]) -> Vec<&Finding> {
    f.iter().filter(|x| x.severity == Severity::Error).collect()
}

// ---- capture: cut short, or ended mid-exchange ----

/// fixtures/clean: go fetched two modules without a fault (frames 12-13: the ClientHello over
/// two segments; 16: ServerHello; 38: the client's FIN once go was done).
#[test]
fn whole_clean_capture_is_not_incomplete() {
    let f = diagnose(&fixture("clean"), Read::default());
    assert!(
        f.iter().all(|x| x.kind != FindingKind::CaptureIncomplete),
        "{:?}",
        kinds(&f)
    );
    assert!(errors(&f).is_empty());
}

#[test]
fn capture_cut_inside_a_record_says_so_and_names_the_open_handshake() {
    // The file's bytes up to the middle of frame 15: the ClientHello went out, the server's
    // answer is beyond the cut.
    let f = diagnose(
        &fixture("clean"),
        Read {
            bytes: Some(3001),
            ..Read::default()
        },
    );
    let c = only(&f, FindingKind::CaptureIncomplete);
    assert_eq!(c.stage, Stage::Capture);
    assert_eq!(c.severity, Severity::Warning);
    assert!(c.summary.contains("cut short"), "{}", c.summary);
    assert!(
        c.summary.contains("ClientHello not answered yet"),
        "{}",
        c.summary
    );
    let frames: Vec<u64> = c.evidence.iter().map(|e| e.packet).collect();
    assert_eq!(
        frames,
        [13, 14],
        "the hello's last segment, the last whole frame"
    );
    assert!(
        errors(&f).is_empty(),
        "a cut capture of a good run is no failure"
    );
    let note = capture::verdict_note(c).unwrap();
    assert!(note.contains("last record is cut short"), "{note}");
}

#[test]
fn capture_stopped_between_records_mid_exchange_is_incomplete() {
    // Each packet count stops the capture in a different exchange (tshark -r clean): the
    // AAAA/A queries (5-6), the SYN (9), the server's flight (16), the data (24).
    for (packets, what) in [
        (6, "DNS A query not answered yet"),
        (
            8,
            "resolved, the connection that follows is not in the capture",
        ),
        (9, "TCP handshake, 1 SYN not answered yet"),
        (11, "connected, no request sent yet"),
        (16, "the client had not answered the server's flight yet"),
        (24, "still"),
    ] {
        let f = diagnose(
            &fixture("clean"),
            Read {
                packets: Some(packets),
                ..Read::default()
            },
        );
        let c = only(&f, FindingKind::CaptureIncomplete);
        assert!(c.summary.contains(what), "{packets}: {}", c.summary);
        assert!(
            !c.summary.contains("cut short,"),
            "{packets}: not a cut record"
        );
        assert!(errors(&f).is_empty(), "{packets}: {:?}", kinds(&f));
    }
}

#[test]
fn capture_without_packets_is_not_ok() {
    let f = diagnose(
        &fixture("clean"),
        Read {
            bytes: Some(24),
            ..Read::default()
        },
    );
    let c = only(&f, FindingKind::CaptureIncomplete);
    assert_eq!(
        capture::verdict_note(c).as_deref(),
        Some("no packets in the capture")
    );
    assert!(c.evidence.is_empty());
}
