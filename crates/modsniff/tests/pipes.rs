//! Standard output and standard error that go away (`| head -1`, `| true`) never make
//! modsniff panic (exit 101): the report's reader leaving is not an error, and a message
//! that cannot be written to standard error is lost, not fatal. And colour: `--color auto`
//! colours a terminal unless NO_COLOR is set or TERM is `dumb`.

use crate::common::*;
use std::process::{Command, Stdio};

/// Runs modsniff with standard output and standard error both on a pipe whose reading end
/// is already closed (what `2>&1 | true` leaves once `true` has exited); returns the status.
fn with_closed_pipe(cmd: &mut Command) -> std::process::ExitStatus {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let writer2 = writer.try_clone().expect("dup");
    cmd.stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2)
        .status()
        .expect("run modsniff")
}

#[test]
fn an_error_message_to_a_closed_stderr_does_not_panic() {
    // `(sleep 0.2; modsniff read /nonexistent) 2>&1 | true`: the error goes nowhere, the
    // status still says what happened (2: unreadable input).
    let status = with_closed_pipe(Command::new(bin()).args(["read", "/nonexistent/x.pcap"]));
    assert_eq!(status.code(), Some(2), "{status:?}");
}

#[test]
fn reports_and_other_output_to_a_closed_stdout_do_not_panic() {
    let pcap = fixtures().join("proxy-auth/capture.pcap");
    let pcap = pcap.to_str().unwrap();
    // The report's reader left: the run ends as if it had been read (the verdict: 1).
    for format in ["text", "ndjson", "json"] {
        let status =
            with_closed_pipe(Command::new(bin()).args(["read", "--format", format, "-v", pcap]));
        assert_eq!(status.code(), Some(1), "--format {format}: {status:?}");
    }
    // The warning on stderr (a truncated capture) and the report on stdout both go nowhere.
    let data = std::fs::read(pcap).unwrap();
    let dir = std::env::temp_dir().join(format!("modsniff-pipes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cut = dir.join("cut.pcap");
    std::fs::write(&cut, &data[..data.len() - 7]).unwrap();
    let status = with_closed_pipe(Command::new(bin()).args(["read", cut.to_str().unwrap()]));
    assert_eq!(status.code(), Some(1), "cut capture: {status:?}");
    // Whole documents printed at once: a reader that left is not an error (exit 0).
    for args in [
        &["completions", "bash"][..],
        &["completions", "zsh"],
        &["man"],
        &["schema"],
        &["--help"],
        &["read", "--help"],
    ] {
        let status = with_closed_pipe(Command::new(bin()).args(args));
        assert_eq!(status.code(), Some(0), "{args:?}: {status:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_to_a_closed_pipe_passes_the_command_status_through() {
    // `modsniff run -- false 2>&1 | head -1`: the report and "false exited with status 1"
    // go nowhere; the status is false's.
    let Some(ns) = crate::live::Netns::new("pipes", "run_to_a_closed_pipe") else {
        return;
    };
    let mut cmd = ns.cmd(&bin());
    cmd.args(["run", "-i", "lo", "--drain", "0", "--", "false"]);
    let status = with_closed_pipe(&mut cmd);
    assert_eq!(status.code(), Some(1), "{status:?}");
    // And with a reader that takes one line and leaves (`| head -1`), the same.
    let mut child = ns
        .cmd(&bin())
        .args(["run", "-i", "lo", "--drain", "0", "--", "false"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run modsniff");
    let mut out = child.stdout.take().unwrap();
    let mut one = [0u8; 1];
    let _ = std::io::Read::read(&mut out, &mut one);
    drop(out);
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{status:?}");
}

/// Runs `modsniff ARGS` on a pseudo-terminal (util-linux `script`) with `env`; returns what
/// it printed, or None (after saying why) when `script` is missing.
fn on_terminal(args: &str, env: &[(&str, &str)]) -> Option<String> {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("SKIP colour on a terminal: util-linux `script` is not installed");
        return None;
    }
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &format!("{} {args}", bin().display()), "/dev/null"])
        .env_remove("NO_COLOR")
        .env_remove("TERM")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run script");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn colour_on_a_terminal_unless_no_color_or_term_dumb() {
    let pcap = fixtures().join("proxy-auth/capture.pcap");
    let args = format!("read {}", pcap.display());
    let Some(xterm) = on_terminal(&args, &[("TERM", "xterm")]) else {
        return;
    };
    assert!(xterm.contains("FAILED"), "{xterm}");
    assert!(xterm.contains("\x1b["), "a terminal gets colour: {xterm:?}");
    let dumb = on_terminal(&args, &[("TERM", "dumb")]).unwrap();
    assert!(
        dumb.contains("FAILED") && !dumb.contains("\x1b["),
        "{dumb:?}"
    );
    let no_color = on_terminal(&args, &[("TERM", "xterm"), ("NO_COLOR", "1")]).unwrap();
    assert!(
        no_color.contains("FAILED") && !no_color.contains("\x1b["),
        "{no_color:?}"
    );
    // --color always wins over TERM=dumb.
    let always = on_terminal(&format!("{args} --color always"), &[("TERM", "dumb")]).unwrap();
    assert!(always.contains("\x1b["), "{always:?}");
}

/// A report whose standard output is a full disk (/dev/full: every write fails with ENOSPC,
/// as a file on a full file system does): the error says what could not be written and why,
/// the exit status is 2, and nothing panics.
#[test]
fn a_report_to_a_full_disk_says_so_and_exits_2() {
    let full = std::path::Path::new("/dev/full");
    if !full.exists() {
        eprintln!("SKIP report to a full disk: no /dev/full");
        return;
    }
    let pcap = fixtures().join("proxy-auth/capture.pcap");
    for format in ["text", "ndjson", "json", "html"] {
        let out = Command::new(bin())
            .args(["read", "--format", format, "-v"])
            .arg(&pcap)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(full).expect("/dev/full"))
            .stderr(Stdio::piped())
            .output()
            .expect("run modsniff");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--format {format}: {stderr}");
        assert!(
            stderr.contains("writing the report to standard output: No space left on device"),
            "--format {format}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "--format {format}: {stderr}");
    }
    // The HTML page beside the report: the report is printed, the page's failure said.
    let out = Command::new(bin())
        .args(["read", "--html", "/dev/full"])
        .arg(&pcap)
        .stdin(Stdio::null())
        .output()
        .expect("run modsniff");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "--html /dev/full: {stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("FAILED"),
        "the report is printed: {stderr}"
    );
    assert!(
        stderr.contains("writing the HTML page to /dev/full: No space left on device"),
        "--html /dev/full: {stderr}"
    );
    // The extract beside the report, likewise: the report is printed and says the extract
    // failed, the error names the file, exit 2.
    let out = Command::new(bin())
        .args(["read", "--extract", "/dev/full"])
        .arg(&pcap)
        .stdin(Stdio::null())
        .output()
        .expect("run modsniff");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "--extract /dev/full: {stderr}");
    assert!(stdout.contains("FAILED"), "the report is printed: {stderr}");
    assert!(
        stdout.contains("writing the extract /dev/full failed"),
        "the report says the extract failed: {stdout}"
    );
    assert!(
        stderr.contains("writing the extract /dev/full: No space left on device"),
        "--extract /dev/full: {stderr}"
    );
}
