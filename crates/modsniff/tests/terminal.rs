//! A capture does not get to write on the user's terminal: strings from the wire are escaped in
//! the text report, exact in NDJSON.

use crate::common::*;
use std::path::PathBuf;

/// ESC ] 0;ow BEL (retitle the window), ESC [2J (clear the screen), ESC [31m (paint red):
/// the same length as the name it replaces, so the capture stays well-formed.
const HOSTILE_NAME: &[u8] = b"\x1b]0;ow\x07\x1b[2J\x1b[31m";

/// fixtures/sni-filter-rst (a forged reset after the ClientHello) with its SNI replaced by
/// [`HOSTILE_NAME`].
fn hostile_capture() -> PathBuf {
    let orig = std::fs::read(fixtures().join("sni-filter-rst/capture.pcap")).unwrap();
    let name = b"proxy.golang.org";
    assert_eq!(name.len(), HOSTILE_NAME.len());
    let at = orig
        .windows(name.len())
        .position(|w| w == name)
        .expect("the fixture's ClientHello names proxy.golang.org");
    let mut b = orig;
    b[at..at + name.len()].copy_from_slice(HOSTILE_NAME);
    let dir = std::env::temp_dir().join(format!("modsniff-terminal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("hostile-sni.pcap");
    std::fs::write(&p, b).unwrap();
    p
}

/// Every ESC in `out` starts a colour (SGR) sequence: `ESC [ digits/semicolons m`.
fn only_colour_sequences(out: &[u8]) -> Result<(), String> {
    for (i, _) in out.iter().enumerate().filter(|(_, b)| **b == 0x1b) {
        let rest = &out[i + 1..];
        let params = rest
            .iter()
            .skip(1)
            .take_while(|b| b.is_ascii_digit() || **b == b';')
            .count();
        if rest.first() != Some(&b'[') || rest.get(1 + params) != Some(&b'm') {
            let end = (i + 12).min(out.len());
            return Err(format!(
                "ESC at byte {i} starts {:?}",
                String::from_utf8_lossy(&out[i..end])
            ));
        }
    }
    Ok(())
}

#[test]
fn the_text_report_escapes_what_the_wire_says() {
    let cap = hostile_capture();
    let cap = cap.to_str().unwrap();
    let shown = r"\x1b]0;ow\x07\x1b[2J\x1b[31m";
    for color in ["never", "always"] {
        let out = run(&["read", "-v", "--color", color, cap]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "the forged reset is still found"
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !out.stdout.contains(&0x07),
            "--color {color}: a raw BEL reached the terminal"
        );
        if color == "never" {
            assert!(
                !out.stdout.contains(&0x1b),
                "--color never: a raw ESC reached the terminal"
            );
        } else {
            only_colour_sequences(&out.stdout).unwrap();
        }
        // the name is quoted where the report names the target: the one-line view, the
        // finding's head, its summary, its evidence, its remedy and the connection table
        let quoted = text.matches(shown).count();
        assert!(
            quoted >= 5,
            "--color {color}: the escaped name appears {quoted} times:\n{text}"
        );
    }
}

#[test]
fn ndjson_keeps_the_exact_name() {
    let cap = hostile_capture();
    let (code, recs, _) = ndjson(&cap, &[]);
    assert_eq!(code, 1);
    let want = std::str::from_utf8(HOSTILE_NAME).unwrap();
    let findings = of_type(&recs, "finding");
    assert!(
        findings
            .iter()
            .any(|f| f["server_name"].as_str() == Some(want)),
        "no finding names the exact SNI: {findings:?}"
    );
    let conns = of_type(&recs, "connection");
    assert!(
        conns
            .iter()
            .any(|c| c["server_name"].as_str() == Some(want)),
        "no connection names the exact SNI"
    );
}
