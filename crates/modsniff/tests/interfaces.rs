//! tcpdump's habits on `live`: `-D` lists the interfaces as tcpdump -D does, and opening a
//! capture says "listening on IFACE, link-type ..., snapshot length ... bytes" on stderr in
//! tcpdump's words. tcpdump itself is the reference, where it is installed.

use crate::common::*;
use crate::live::is_root;
use std::process::Command;

fn tcpdump_or_skip(what: &str) -> bool {
    if !cfg!(feature = "live") {
        eprintln!("SKIP {what}: modsniff was built without the `live` feature");
        return false;
    }
    if Command::new("tcpdump").arg("--version").output().is_err() {
        eprintln!("SKIP {what}: tcpdump is not installed (the reference)");
        return false;
    }
    true
}

#[test]
fn list_interfaces_as_tcpdump_d() {
    if !tcpdump_or_skip("live -D") {
        return;
    }
    let ours = run(&["live", "-D"]);
    assert!(ours.status.success(), "{ours:?}");
    let ours = String::from_utf8(ours.stdout).unwrap();
    let theirs = Command::new("tcpdump").arg("-D").output().unwrap();
    let theirs = String::from_utf8(theirs.stdout).unwrap();
    // "N.name (description) [flags]": the same interfaces, numbers and descriptions (libpcap
    // gives both the same list); the flags are the ones modsniff knows, all in tcpdump's.
    let split = |l: &str| -> (String, Vec<String>) {
        let (head, flags) = l.rsplit_once(" [").unwrap_or((l, "]"));
        let flags = flags.trim_end_matches(']');
        (
            head.to_string(),
            flags
                .split(", ")
                .filter(|f| *f != "none" && !f.is_empty())
                .map(str::to_string)
                .collect(),
        )
    };
    let ours: Vec<_> = ours.lines().map(split).collect();
    let theirs: Vec<_> = theirs.lines().map(split).collect();
    assert!(!ours.is_empty());
    assert!(
        ours.iter()
            .any(|(h, f)| h.ends_with(".lo") && f.contains(&"Loopback".to_string())),
        "{ours:?}"
    );
    assert_eq!(ours.len(), theirs.len(), "{ours:?}\n{theirs:?}");
    for ((h1, f1), (h2, f2)) in ours.iter().zip(&theirs) {
        assert_eq!(h1, h2);
        for f in f1 {
            assert!(f2.contains(f), "{h1}: {f} not in tcpdump's {f2:?}");
        }
        for known in ["Up", "Loopback"] {
            assert_eq!(
                f1.iter().any(|f| f == known),
                f2.iter().any(|f| f == known),
                "{h1}: {known}"
            );
        }
    }
    // -D needs no interface; without -D one is required.
    let none = run(&["live"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("--interface"));
}

#[test]
fn listening_line_as_tcpdump() {
    if !tcpdump_or_skip("live's listening line") {
        return;
    }
    if !is_root() {
        eprintln!("SKIP live's listening line: not root (capturing needs CAP_NET_RAW)");
        return;
    }
    for (iface, snaplen) in [("lo", None), ("any", Some("1500"))] {
        let mut ours = vec!["live", "-i", iface, "--duration", "0", "--no-progress"];
        let mut theirs = vec!["-i", iface, "-c", "1"];
        if let Some(s) = snaplen {
            ours.extend(["--snaplen", s]);
            theirs.extend(["-s", s]);
        }
        let o = run(&ours);
        assert!(o.status.success(), "{o:?}");
        let stderr = String::from_utf8_lossy(&o.stderr);
        let line = stderr
            .lines()
            .find(|l| l.starts_with("listening on "))
            .unwrap_or_else(|| panic!("no listening line: {stderr}"));
        // tcpdump -c 1 waits for a packet: it is killed once it has said its line.
        let mut t = Command::new("timeout")
            .args(["0.5", "tcpdump"])
            .args(&theirs)
            .stdout(std::process::Stdio::null())
            .output()
            .unwrap();
        t.stderr.extend_from_slice(b"\n");
        let tstderr = String::from_utf8_lossy(&t.stderr);
        let tline = tstderr
            .lines()
            .find(|l| l.starts_with("listening on "))
            .unwrap_or_else(|| panic!("tcpdump said no listening line: {tstderr}"));
        if iface == "any" {
            // tcpdump asks libpcap for Linux cooked v2 on `any`; modsniff takes libpcap's
            // default (v1), and says so in the same words.
            let cut = |l: &str| {
                let (a, rest) = l.split_once(", link-type ").unwrap();
                let (_, b) = rest.split_once("), ").unwrap();
                format!("{a} | {b}")
            };
            assert_eq!(cut(line), cut(tline), "{iface}");
            assert!(line.contains("link-type LINUX_SLL"), "{line}");
        } else {
            assert_eq!(line, tline, "{iface}");
        }
    }
}
