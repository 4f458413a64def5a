//! `modsniff run`: the command's stderr reaches the user unchanged, less the `-x` lines modsniff
//! asked go for; a command killed by a signal is said to be.
//!
//! A fake `go` (a shell script first on PATH) stands in for the real one: it prints `-x` style
//! lines (`# get …`, `mkdir -p $WORK/…`) only when `-x` is in GOFLAGS or its arguments, the
//! way go does, and what it prints is compared with what modsniff let through.
//!
//! Capturing needs root (CAP_NET_RAW) and the `live` feature; each test SKIPs with the reason
//! otherwise.

use crate::common::*;
use crate::live::{ChildGuard, is_root};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The fake go. `go env -json` answers with GOFLAGS; otherwise it writes the GOFLAGS it got to
/// $FAKE_GO_SEEN and prints a failing download, ending with a line without a newline.
const FAKE_GO: &str = r##"#!/bin/sh
if [ "$1" = env ]; then printf '{"GOFLAGS":"%s","CC":"gcc"}\n' "$GOFLAGS"; exit 0; fi
printf '%s' "$GOFLAGS" > "$FAKE_GO_SEEN"
x=
for f in $GOFLAGS "$@"; do [ "$f" = -x ] && x=1; done
u=https://proxy.golang.org/example.com/m/@v/v1.0.0.info
[ -n "$x" ] && echo "# get $u" >&2
echo "go: downloading example.com/m v1.0.0" >&2
[ -n "$x" ] && echo "# get $u: Get \"$u\": dial tcp 10.0.0.1:443: connect: connection refused" >&2
[ -n "$x" ] && echo 'mkdir -p $WORK/b001/' >&2
[ -n "$x" ] && printf "cat >\$WORK/b001/importcfg << 'EOF' # internal\n# import config\nEOF\n" >&2
printf '\tan indented line\n\n' >&2
echo "go: example.com/m@v1.0.0: Get \"$u\": dial tcp 10.0.0.1:443: connect: connection refused" >&2
printf 'a last line without its newline' >&2
exit 1
"##;

struct Fake {
    dir: PathBuf,
}

impl Fake {
    fn new(tag: &str, what: &str) -> Option<Fake> {
        if !cfg!(feature = "live") {
            eprintln!(
                "SKIP {what}: modsniff was built without the `live` feature (cargo test --all-features)"
            );
            return None;
        }
        if !is_root() {
            eprintln!("SKIP {what}: not root (capturing needs CAP_NET_RAW)");
            return None;
        }
        let dir =
            std::env::temp_dir().join(format!("modsniff-stderr-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let go = dir.join("go");
        std::fs::write(&go, FAKE_GO).expect("write fake go");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&go, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        Some(Fake { dir })
    }

    fn path_var(&self) -> String {
        format!(
            "{}:{}",
            self.dir.display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    fn seen(&self) -> PathBuf {
        self.dir.join("goflags-seen")
    }

    /// The command run directly, as the user would without modsniff.
    fn direct(&self, argv: &[&str], goflags: &str) -> Output {
        Command::new(argv[0])
            .args(&argv[1..])
            .env("PATH", self.path_var())
            .env("GOFLAGS", goflags)
            .env("FAKE_GO_SEEN", self.dir.join("direct-seen"))
            .stdin(Stdio::null())
            .output()
            .expect("run the fake go")
    }

    /// `modsniff run -i lo --drain 0 -- ARGV`.
    fn command(&self, argv: &[&str], goflags: &str) -> Command {
        let mut c = Command::new(bin());
        c.args(["run", "-i", "lo", "--drain", "0", "--"])
            .args(argv)
            .env("PATH", self.path_var())
            .env("GOFLAGS", goflags)
            .env("FAKE_GO_SEEN", self.seen())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn through_modsniff(&self, argv: &[&str], goflags: &str) -> Output {
        let child = self
            .command(argv, goflags)
            .spawn()
            .expect("start modsniff run");
        ChildGuard(Some(child)).wait_output(Duration::from_secs(30))
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// modsniff's stderr: the command's, then modsniff's own lines (on a line of their own).
fn split_ours(stderr: &[u8], theirs: &[u8]) -> Vec<String> {
    assert!(
        stderr.starts_with(theirs),
        "the command's stderr passes unchanged:\n--- got\n{}\n--- the command printed\n{}",
        String::from_utf8_lossy(stderr),
        String::from_utf8_lossy(theirs)
    );
    let rest = String::from_utf8_lossy(&stderr[theirs.len()..]).into_owned();
    let ours: Vec<String> = rest
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    for l in &ours {
        assert!(
            l.starts_with("modsniff: "),
            "only modsniff's lines follow: {rest:?}"
        );
    }
    ours
}

#[test]
fn the_x_lines_modsniff_adds_are_hidden() {
    let what = "modsniff run -- go mod download (x added)";
    let Some(f) = Fake::new("add", what) else {
        return;
    };
    let argv = ["go", "mod", "download"];
    let direct = f.direct(&argv, "-mod=mod");
    assert!(
        !String::from_utf8_lossy(&direct.stderr).contains("# get"),
        "without -x the fake go prints no trace"
    );
    let out = f.through_modsniff(&argv, "-mod=mod");
    assert_eq!(
        std::fs::read_to_string(f.seen()).expect("the fake go ran"),
        "-mod=mod -x",
        "modsniff appended -x to the user's GOFLAGS"
    );
    let ours = split_ours(&out.stderr, &direct.stderr);
    assert_eq!(ours, ["modsniff: go exited with status 1"]);
    assert_eq!(out.status.code(), Some(1), "go's status passes through");
}

#[test]
fn the_x_lines_the_user_asked_for_are_shown() {
    let what = "modsniff run -- go mod download -x";
    let Some(f) = Fake::new("user", what) else {
        return;
    };
    // -x on the command line.
    let argv = ["go", "mod", "download", "-x"];
    let direct = f.direct(&argv, "");
    assert!(String::from_utf8_lossy(&direct.stderr).contains("# get https://"));
    let out = f.through_modsniff(&argv, "");
    assert_eq!(std::fs::read_to_string(f.seen()).expect("ran"), "");
    split_ours(&out.stderr, &direct.stderr);
    // -x in GOFLAGS.
    let argv = ["go", "mod", "download"];
    let direct = f.direct(&argv, "-x");
    assert!(String::from_utf8_lossy(&direct.stderr).contains("mkdir -p $WORK/b001/"));
    let out = f.through_modsniff(&argv, "-x");
    assert_eq!(std::fs::read_to_string(f.seen()).expect("ran"), "-x");
    split_ours(&out.stderr, &direct.stderr);
}

#[test]
fn another_command_passes_through_untouched() {
    let what = "modsniff run -- sh -c (not go)";
    let Some(f) = Fake::new("sh", what) else {
        return;
    };
    // Not the go command: nothing added, nothing hidden, a progress bar's `\r` kept.
    let argv = [
        "sh",
        "-c",
        "printf '10%%\\r50%%\\r100%%\\n# get https://x/y\\nmkdir -p $WORK/b\\n' >&2; go mod download",
    ];
    let direct = f.direct(&argv, "");
    let out = f.through_modsniff(&argv, "");
    assert_eq!(std::fs::read_to_string(f.seen()).expect("ran"), "");
    let ours = split_ours(&out.stderr, &direct.stderr);
    assert_eq!(ours, ["modsniff: sh exited with status 1"]);
}

#[test]
fn a_command_killed_by_a_signal_is_said_to_be() {
    let what = "modsniff run -- sh -c 'kill -TERM $$'";
    let Some(f) = Fake::new("sig", what) else {
        return;
    };
    let out = f.through_modsniff(&["sh", "-c", "echo before >&2; kill -TERM $$"], "");
    let ours = split_ours(&out.stderr, b"before\n");
    assert_eq!(ours, ["modsniff: sh killed by SIGTERM"]);
    assert_eq!(out.status.code(), Some(128 + 15), "as a shell says");

    // Ctrl-C: the terminal signals the whole process group, modsniff and the command.
    let started = f.dir.join("started");
    let script = format!("touch {}; exec sleep 30", started.display());
    let mut c = f.command(&["sh", "-c", &script], "");
    c.process_group(0);
    let child = c.spawn().expect("start modsniff run");
    let pgid = child.id();
    let guard = ChildGuard(Some(child));
    let t = Instant::now();
    while !Path::new(&started).exists() {
        assert!(t.elapsed() < Duration::from_secs(20), "the command started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let kill = Command::new("kill")
        .args(["-INT", "--", &format!("-{pgid}")])
        .status()
        .expect("run kill");
    assert!(kill.success());
    let out = guard.wait_output(Duration::from_secs(20));
    let ours = split_ours(&out.stderr, b"");
    assert_eq!(ours, ["modsniff: sh killed by SIGINT"]);
    assert_eq!(out.status.code(), Some(128 + 2));
}
