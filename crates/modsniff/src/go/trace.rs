//! go's `-x` output on stderr: the fetch trace (`# get URL` when a request starts, `# get URL:
//! 200 OK (0.123s)` or `# get URL: <error>` when it ends; cmd/go/internal/web/http.go), paired
//! start to end into [`Fetch`]es, and the other lines `-x` adds (the build's shell transcript,
//! the VCS commands of direct mode), so that `modsniff run` can ask go for `-x` and still show
//! the user what go would have printed without it.
//!
//! [`Transcriber`] takes the wrapped command's stderr a line at a time and says whether to show
//! each line; [`GoTranscript`] is what it kept: the lines (bounded), go's error messages parsed
//! ([`super::stderr`]), the fetches, and how the command ended.

use super::stderr::{self, Cause, GoError, Messages};
use modsniff_core::Timestamp;
use std::collections::{HashMap, VecDeque};
use std::fmt;

/// One HTTP(S) fetch go traced.
#[derive(Clone, Debug, PartialEq)]
pub struct Fetch {
    /// The URL as go printed it (redacted: a password shows as `xxxxx`).
    pub url: String,
    /// Its place among the fetches in the order go started them (0-based); an end line
    /// without a start takes its place when it comes.
    pub order: usize,
    /// Line numbers (0-based, among all the command's stderr lines) of the start and end.
    pub start_line: Option<usize>,
    pub end_line: Option<usize>,
    pub outcome: Outcome,
    /// The time go measured, start to response headers (status lines only).
    pub seconds: Option<f64>,
    /// When the start and end lines were read, by the clock packets are stamped with
    /// (`modsniff run`; a saved stderr file has no times).
    pub start_ts: Option<Timestamp>,
    pub end_ts: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// A response: `200 OK`, `404 Not Found` (go prints the status as the server sent it).
    Status { code: u16, text: String },
    /// No response: the error go printed (`Get "URL": dial tcp …`) and its cause.
    Error { message: String, cause: Cause },
    /// go refused to fetch (`insecure`, `unsupported`, `insecure credentials`).
    NotAllowed { reason: String },
    /// Started and never ended (go was killed, or the end line was cut).
    Unfinished,
}

/// A `# get` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceLine<'a> {
    Start { url: &'a str },
    End { url: &'a str, result: &'a str },
}

/// Parses a `# get …` line. URLs have no spaces (go prints them escaped), so the first `": "`
/// ends the URL.
pub fn trace_line(line: &str) -> Option<TraceLine<'_>> {
    let r = line.strip_prefix("# get ")?.trim_end_matches('\r');
    let ok = |u: &str| !u.is_empty() && !u.contains(char::is_whitespace);
    match r.split_once(": ") {
        None => ok(r).then_some(TraceLine::Start { url: r }),
        Some((url, result)) => ok(url).then_some(TraceLine::End { url, result }),
    }
}

/// `200 OK (0.123s)` → (200, "OK", 0.123).
fn status_result(result: &str) -> Option<(u16, String, f64)> {
    let (status, secs) = result.rsplit_once(" (")?;
    let secs: f64 = secs.strip_suffix("s)")?.parse().ok()?;
    let b = status.as_bytes();
    if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) || b.get(3).is_some_and(|&c| c != b' ')
    {
        return None;
    }
    let code: u16 = status[..3].parse().ok()?;
    Some((code, status.get(4..).unwrap_or_default().to_string(), secs))
}

/// Fetches kept at most; later ones are counted in [`Trace::fetches_cut`].
pub const MAX_FETCHES: usize = 10_000;

/// Pairs `# get` lines into fetches. Concurrent fetches interleave, and go may fetch one URL
/// twice at once: an end closes the oldest open start of its URL.
#[derive(Debug, Default)]
pub struct Trace {
    fetches: Vec<Fetch>,
    open: HashMap<String, VecDeque<usize>>,
    pub fetches_cut: u64,
}

impl Trace {
    /// Takes line `n`; false when it is not a `# get` line.
    #[cfg(test)]
    pub fn push(&mut self, n: usize, line: &str) -> bool {
        self.push_at(n, line, None)
    }

    /// Takes line `n`, read at `ts`; false when it is not a `# get` line.
    pub fn push_at(&mut self, n: usize, line: &str, ts: Option<Timestamp>) -> bool {
        let Some(t) = trace_line(line) else {
            return false;
        };
        match t {
            TraceLine::Start { url } => {
                if let Some(i) = self.new_fetch(url) {
                    self.fetches[i].start_line = Some(n);
                    self.fetches[i].start_ts = ts;
                    self.open.entry(url.to_string()).or_default().push_back(i);
                }
            }
            TraceLine::End { url, result } => {
                let open = self.open.get_mut(url).and_then(VecDeque::pop_front);
                let Some(i) = open.or_else(|| self.new_fetch(url)) else {
                    return true;
                };
                if self.open.get(url).is_some_and(VecDeque::is_empty) {
                    self.open.remove(url);
                }
                let f = &mut self.fetches[i];
                f.end_line = Some(n);
                f.end_ts = ts;
                f.outcome = if let Some((code, text, secs)) = status_result(result) {
                    f.seconds = Some(secs);
                    Outcome::Status { code, text }
                } else if matches!(result, "insecure" | "unsupported" | "insecure credentials") {
                    Outcome::NotAllowed {
                        reason: result.to_string(),
                    }
                } else {
                    Outcome::Error {
                        message: result.to_string(),
                        cause: stderr::parse_cause(result).0,
                    }
                };
            }
        }
        true
    }

    fn new_fetch(&mut self, url: &str) -> Option<usize> {
        if self.fetches.len() >= MAX_FETCHES {
            self.fetches_cut += 1;
            return None;
        }
        self.fetches.push(Fetch {
            url: url.to_string(),
            order: self.fetches.len(),
            start_line: None,
            end_line: None,
            outcome: Outcome::Unfinished,
            seconds: None,
            start_ts: None,
            end_ts: None,
        });
        Some(self.fetches.len() - 1)
    }

    pub fn finish(self) -> Vec<Fetch> {
        self.fetches
    }
}

/// Every fetch in a whole stderr text.
#[cfg(test)]
pub fn parse_trace(text: &str) -> Vec<Fetch> {
    let mut t = Trace::default();
    for (n, line) in text.split('\n').enumerate() {
        t.push(n, line);
    }
    t.finish()
}

/// Recognises the lines go's `-x` prints besides `# get`: the build's shell transcript
/// (cmd/go/internal/work: `WORK=…`, `mkdir -p $WORK/b001/`, `cd DIR`, `cat >FILE << 'EOF'`
/// with its here-document, the tools run by path with `TERM='dumb' …` style environment, `… #
/// internal` steps, `cp`/`mv`/`rm`) and direct mode's VCS commands (modfetch/codehost: `cd DIR;
/// git …` and `0.012s # cd DIR; git …`). Nothing go prints without `-x` starts like these.
#[derive(Clone, Debug, Default)]
pub struct XFilter {
    /// Inside `cat >FILE << 'EOF'`: every line up to `EOF` is the file's content.
    heredoc: bool,
    /// The C compilers' names (`go env CC CXX`), which cgo builds run without a path.
    compilers: Vec<String>,
}

/// Commands the build transcript runs by name.
const X_COMMANDS: &[&str] = &[
    "mkdir -p ",
    "cd ",
    "cp ",
    "mv ",
    "rm -r ",
    "rm -f ",
    "rm -rf ",
    "touch ",
    "ln -s ",
    "chmod ",
    "echo ",
    "cat >",
    "go tool ",
    "$WORK/",
    "git ",
    "hg ",
    "svn ",
    "bzr ",
    "fossil ",
];

impl XFilter {
    /// `cc` / `cxx`: go env's CC and CXX (their first word is what the transcript shows).
    pub fn new(cc: Option<&str>, cxx: Option<&str>) -> XFilter {
        let compilers = [cc, cxx]
            .into_iter()
            .flatten()
            .filter_map(|c| c.split_whitespace().next())
            .map(|c| format!("{c} "))
            .collect();
        XFilter {
            heredoc: false,
            compilers,
        }
    }

    /// Is this line one that `-x` added? Takes the lines in order (a here-document spans
    /// lines).
    pub fn is_x_line(&mut self, line: &str) -> bool {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if self.heredoc {
            if line == "EOF" {
                self.heredoc = false;
            }
            return true;
        }
        if line.starts_with("cat >") && line.contains(" << 'EOF'") {
            self.heredoc = true;
            return true;
        }
        trace_line(line).is_some()
            || line.starts_with("WORK=")
            || line.ends_with(" # internal")
            || X_COMMANDS.iter().any(|p| line.starts_with(p))
            || is_timed_command(line)
            || is_env_prefixed(line)
            || is_tool_path(line)
            || self.compilers.iter().any(|c| line.starts_with(c.as_str()))
    }
}

/// `0.012s # cd DIR; git …` (codehost prints it when the command ends).
fn is_timed_command(line: &str) -> bool {
    let Some((secs, _)) = line.split_once("s # ") else {
        return false;
    };
    let mut parts = secs.splitn(2, '.');
    let whole = parts.next().unwrap_or_default();
    let frac = parts.next().unwrap_or_default();
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.len() == 3
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// `TERM='dumb' CGO_LDFLAGS='' /…/cgo …`, `GOROOT='…' /…/link …`: the build shows a tool's
/// environment as `NAME='value'` (or `NAME="value"` when the value has a quote).
fn is_env_prefixed(line: &str) -> bool {
    let Some((name, rest)) = line.split_once('=') else {
        return false;
    };
    let mut b = name.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
        && (rest.starts_with('\'') || rest.starts_with('"'))
}

/// `/…/pkg/tool/linux_amd64/compile …`: a go tool run by its path.
fn is_tool_path(line: &str) -> bool {
    line.starts_with('/')
        && line
            .split(' ')
            .next()
            .is_some_and(|cmd| cmd.contains("/pkg/tool/"))
}

/// What `modsniff run` does about `-x` for a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XPlan {
    /// Run it with this GOFLAGS (the user's plus `-x`) and hide what `-x` adds.
    Add { goflags: String },
    /// The user asked for `-x` (or set it in GOFLAGS): nothing added, nothing hidden.
    UserAsked,
    /// A go command whose `-x` output mixes with its program's own stderr (`run`, `test`,
    /// `generate`, `tool`), or that fetches nothing: left alone.
    Skip,
    /// Not the go command.
    NotGo,
}

/// go subcommands that fetch modules and print nothing of a program's: `-x` is added to them.
const X_SUBCOMMANDS: &[&str] = &["mod", "get", "build", "install", "list", "work", "vet"];

/// Decides from the command line and the effective GOFLAGS (`go env GOFLAGS`: the environment,
/// else go's env file).
pub fn plan_x(argv: &[String], goflags: Option<&str>) -> XPlan {
    let Some(prog) = argv.first() else {
        return XPlan::NotGo;
    };
    if std::path::Path::new(prog)
        .file_name()
        .is_none_or(|n| n != "go")
    {
        return XPlan::NotGo;
    }
    let is_x = |a: &str| {
        let a = a.strip_prefix("--").or_else(|| a.strip_prefix('-'));
        a.is_some_and(|a| a == "x" || a.starts_with("x="))
    };
    let goflags = goflags.unwrap_or_default();
    if goflags.split_whitespace().any(is_x)
        || argv[1..].iter().take_while(|a| *a != "--").any(|a| is_x(a))
    {
        return XPlan::UserAsked;
    }
    // `go -C DIR build …`: the only flag go takes before the subcommand.
    let mut rest = &argv[1..];
    match rest.first().map(String::as_str) {
        Some("-C" | "--C") => rest = rest.get(2..).unwrap_or_default(),
        Some(a) if a.starts_with("-C=") || a.starts_with("--C=") => rest = &rest[1..],
        _ => {}
    }
    match rest.first() {
        Some(sub) if X_SUBCOMMANDS.contains(&sub.as_str()) => {
            let goflags = goflags.trim();
            XPlan::Add {
                goflags: if goflags.is_empty() {
                    "-x".to_string()
                } else {
                    format!("{goflags} -x")
                },
            }
        }
        _ => XPlan::Skip,
    }
}

/// How the command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    Exited(i32),
    /// Killed by this signal (Ctrl-C's SIGINT, a timeout's SIGTERM, SIGKILL).
    Signaled(i32),
    /// Its status could not be had.
    Unknown,
}

impl ExitKind {
    pub fn success(self) -> bool {
        self == ExitKind::Exited(0)
    }

    /// The status a shell would give: the code, 128 + the signal, 1 when unknown.
    pub fn shell_status(self) -> u8 {
        match self {
            ExitKind::Exited(c) => c.clamp(0, 255) as u8,
            ExitKind::Signaled(s) => (128 + s).clamp(129, 255) as u8,
            ExitKind::Unknown => 1,
        }
    }
}

impl fmt::Display for ExitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExitKind::Exited(c) => write!(f, "exited with status {c}"),
            ExitKind::Signaled(s) => match signal_name(s) {
                Some(n) => write!(f, "killed by {n}"),
                None => write!(f, "killed by signal {s}"),
            },
            ExitKind::Unknown => f.write_str("ended with an unknown status"),
        }
    }
}

/// Linux's signal numbers (signal(7)); the ones that differ elsewhere are left unnamed there.
pub fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ if cfg!(target_os = "linux") => match sig {
            7 => "SIGBUS",
            10 => "SIGUSR1",
            12 => "SIGUSR2",
            24 => "SIGXCPU",
            25 => "SIGXFSZ",
            _ => return None,
        },
        _ => return None,
    })
}

/// Bytes of stderr kept for the transcript; later lines are counted, not kept.
pub const MAX_KEPT_BYTES: usize = 1 << 20;
/// Lines of stderr kept for the transcript.
pub const MAX_KEPT_LINES: usize = 10_000;
/// Error messages kept.
pub const MAX_ERRORS: usize = 1_000;

/// What was left out of a transcript, and how much was hidden.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TranscriptCounters {
    /// Lines the command wrote (a last line without a newline included).
    pub lines: u64,
    /// Lines hidden from the user (the `-x` lines modsniff asked for).
    pub hidden: u64,
    /// Lines not kept ([`MAX_KEPT_LINES`] / [`MAX_KEPT_BYTES`]).
    pub lines_cut: u64,
    /// Lines longer than the reader's line bound, kept cut short.
    pub long_lines: u64,
    /// Error messages past [`MAX_ERRORS`].
    pub errors_cut: u64,
    /// Lines past [`stderr::MAX_MESSAGE_LINES`] left out of a message.
    pub message_lines_cut: u64,
    /// Fetches past [`MAX_FETCHES`].
    pub fetches_cut: u64,
}

/// What the wrapped command wrote on stderr, and how it ended.
#[derive(Clone, Debug, PartialEq)]
pub struct GoTranscript {
    /// Its stderr lines, without their newlines, the `-x` lines included (bounded).
    pub lines: Vec<String>,
    /// go's error messages, in order.
    pub errors: Vec<GoError>,
    /// go's fetches, in the order they started.
    pub fetches: Vec<Fetch>,
    pub exit: ExitKind,
    /// modsniff added `-x` through GOFLAGS (and hid its lines).
    pub x_added: bool,
    /// The line (0-based) of the build's first step (`mkdir -p $WORK/b001/`): the go command
    /// starts building once every module it loads is downloaded and unpacked, so each fetch
    /// that started before this line was read to its end.
    pub build_line: Option<usize>,
    pub counters: TranscriptCounters,
}

impl GoTranscript {
    /// The go command read this fetch's answer to its end: it started before the build began.
    pub fn read_whole(&self, f: &Fetch) -> bool {
        self.build_line
            .zip(f.start_line)
            .is_some_and(|(build, start)| start < build)
    }

    /// A saved stderr (`go mod download -x 2> stderr.txt`): its messages and, when go ran
    /// with `-x`, its fetches. How go ended is not in it ([`ExitKind::Unknown`]).
    pub fn from_text(text: &str) -> GoTranscript {
        let mut t = Transcriber::new(XFilter::default(), false);
        let body = text.strip_suffix('\n').unwrap_or(text);
        if !body.is_empty() {
            for line in body.split('\n') {
                t.line(line.strip_suffix('\r').unwrap_or(line));
            }
        }
        t.finish(ExitKind::Unknown)
    }

    /// Whether go failed: its status said so, or (status unknown) it printed an error.
    pub fn failed(&self) -> bool {
        match self.exit {
            ExitKind::Unknown => !self.errors.is_empty(),
            e => !e.success(),
        }
    }
}

/// Builds a [`GoTranscript`] a line at a time.
#[derive(Debug)]
pub struct Transcriber {
    filter: XFilter,
    hide_x: bool,
    lines: Vec<String>,
    kept_bytes: usize,
    messages: Messages,
    errors: Vec<GoError>,
    trace: Trace,
    build_line: Option<usize>,
    counters: TranscriptCounters,
}

/// How the build's own steps start in `-x` (cmd/go/internal/work makes one directory per
/// action under `$WORK`, `b001` and on).
const BUILD_STEP: &str = "mkdir -p $WORK/b";

impl Transcriber {
    /// `hide_x`: modsniff added `-x`, so the lines it adds are hidden.
    pub fn new(filter: XFilter, hide_x: bool) -> Transcriber {
        Transcriber {
            filter,
            hide_x,
            lines: Vec::new(),
            kept_bytes: 0,
            messages: Messages::default(),
            errors: Vec::new(),
            trace: Trace::default(),
            build_line: None,
            counters: TranscriptCounters::default(),
        }
    }

    /// Takes one line (without its newline); true when the user should see it.
    pub fn line(&mut self, line: &str) -> bool {
        self.line_at(line, None)
    }

    /// [`Transcriber::line`], for a line read at `ts` (the fetch trace keeps the times).
    pub fn line_at(&mut self, line: &str, ts: Option<Timestamp>) -> bool {
        let n = self.counters.lines as usize;
        self.counters.lines += 1;
        if self.lines.len() < MAX_KEPT_LINES && self.kept_bytes + line.len() <= MAX_KEPT_BYTES {
            self.kept_bytes += line.len();
            self.lines.push(line.to_string());
        } else {
            self.counters.lines_cut += 1;
        }
        let is_x = self.filter.is_x_line(line);
        if is_x {
            if self.build_line.is_none() && line.starts_with(BUILD_STEP) {
                self.build_line = Some(n);
            }
            self.trace.push_at(n, line, ts);
        } else if let Some(e) = self.messages.push(line) {
            self.add_error(e);
        }
        if is_x && self.hide_x {
            self.counters.hidden += 1;
            return false;
        }
        true
    }

    /// A line was longer than the reader's bound: what [`Transcriber::line`] got was its start.
    pub fn long_line(&mut self) {
        self.counters.long_lines += 1;
    }

    fn add_error(&mut self, e: GoError) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(e);
        } else {
            self.counters.errors_cut += 1;
        }
    }

    pub fn finish(mut self, exit: ExitKind) -> GoTranscript {
        if let Some(e) = self.messages.finish() {
            self.add_error(e);
        }
        self.counters.message_lines_cut = self.messages.lines_cut;
        self.counters.fetches_cut = self.trace.fetches_cut;
        GoTranscript {
            lines: self.lines,
            errors: self.errors,
            fetches: self.trace.finish(),
            exit,
            x_added: self.hide_x,
            build_line: self.build_line,
            counters: self.counters,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::go::stderr::{DialReason, DnsReason, real};

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pairs_interleaved_fetches_and_reads_their_outcomes() {
        let text = "# get https://p.example/a/@v/list
# get https://p.example/b/@v/list
# get https://p.example/b/@v/list: 404 Not Found (0.002s)
# get https://p.example/a/@v/list: 200 OK (0.123s)
# get https://p.example/c/@v/list
# get https://p.example/c/@v/list: Get \"https://p.example/c/@v/list\": dial tcp: lookup p.example on 10.0.0.53:53: no such host
# get http://p.example/d: insecure
# get https://p.example/e/@v/v1.zip";
        let f = parse_trace(text);
        assert_eq!(f.len(), 5);
        assert_eq!(f[0].url, "https://p.example/a/@v/list");
        assert_eq!(
            f[0].outcome,
            Outcome::Status {
                code: 200,
                text: "OK".into()
            }
        );
        assert_eq!(f[0].seconds, Some(0.123));
        assert_eq!((f[0].start_line, f[0].end_line), (Some(0), Some(3)));
        assert_eq!(
            f[1].outcome,
            Outcome::Status {
                code: 404,
                text: "Not Found".into()
            }
        );
        assert_eq!(
            (f[1].order, f[1].start_line, f[1].end_line),
            (1, Some(1), Some(2))
        );
        match &f[2].outcome {
            Outcome::Error { cause, message } => {
                assert!(message.starts_with("Get \"https://p.example/c/@v/list\""));
                assert!(matches!(
                    cause,
                    Cause::Dns {
                        reason: DnsReason::NoSuchHost,
                        ..
                    }
                ));
            }
            o => panic!("{o:?}"),
        }
        // go refuses plain HTTP without a start line.
        assert_eq!(
            (f[3].start_line, f[3].end_line, &f[3].outcome),
            (
                None,
                Some(6),
                &Outcome::NotAllowed {
                    reason: "insecure".into()
                }
            )
        );
        assert_eq!(f[4].outcome, Outcome::Unfinished);
    }

    #[test]
    fn one_url_fetched_twice_at_once_pairs_oldest_first() {
        let f = parse_trace(
            "# get https://x/l\n# get https://x/l\n# get https://x/l: 200 OK (0.010s)\n# get https://x/l: 500 Internal Server Error (0.020s)",
        );
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].end_line, f[0].seconds), (Some(2), Some(0.010)));
        assert_eq!((f[1].end_line, f[1].seconds), (Some(3), Some(0.020)));
    }

    #[test]
    fn fetches_are_bounded_and_counted() {
        let mut t = Trace::default();
        for i in 0..MAX_FETCHES + 3 {
            assert!(t.push(i, &format!("# get https://x/{i}")));
        }
        assert_eq!(t.fetches_cut, 3);
        assert_eq!(t.finish().len(), MAX_FETCHES);
    }

    /// Every `# get` line of the real stderr files: paired, and each end's outcome agrees with
    /// what go concluded (expected.json: exit status, error lines).
    #[test]
    fn real_traces_pair_up() {
        let (mut files, mut fetches) = (0, 0);
        for c in real::cases() {
            let gets = c.stderr.lines().filter(|l| l.starts_with("# get ")).count();
            let f = parse_trace(&c.stderr);
            files += 1;
            fetches += f.len();
            let ends = f.iter().filter(|f| f.end_line.is_some()).count();
            let starts = f.iter().filter(|f| f.start_line.is_some()).count();
            assert_eq!(starts + ends, gets, "{}: every # get line is used", c.name);
            for x in &f {
                assert!(
                    x.start_line.is_some() && x.start_line < x.end_line.or(Some(usize::MAX)),
                    "{}: {x:?} starts before it ends",
                    c.name
                );
                if let Outcome::Error { cause, .. } = &x.outcome {
                    assert!(
                        !matches!(cause, Cause::Other { .. }),
                        "{}: a fetch error of a known form: {x:?}",
                        c.name
                    );
                }
            }
            let killed = c.truth["go"]["killed_by_timeout"].as_bool() == Some(true);
            let failed = c.truth["go"]["exit_code"].as_i64() != Some(0);
            let unfinished = f
                .iter()
                .filter(|x| x.outcome == Outcome::Unfinished)
                .count();
            if !killed {
                assert_eq!(unfinished, 0, "{}: go ended every fetch", c.name);
            }
            let errored = f.iter().any(|x| matches!(x.outcome, Outcome::Error { .. }));
            let stage = c.truth["stage"].as_str().unwrap_or_default();
            // A fetch without a response is how every fault before HTTP shows in the trace;
            // a plain-HTTP proxy's own answer is a response instead (its error page, 407 for
            // credentials, 403 for its policy).
            let proxy_page = stage == "proxy"
                && f.iter().any(|x| {
                    x.url.starts_with("http://")
                        && matches!(
                            x.outcome,
                            Outcome::Status {
                                code: 400..=599,
                                ..
                            }
                        )
                });
            if failed && matches!(stage, "dns" | "tcp-connect" | "tls-handshake" | "proxy") {
                assert!(
                    errored || proxy_page,
                    "{}: a failed fetch in the trace",
                    c.name
                );
            }
            // go succeeded: a fetch that failed was retried elsewhere (a GOPROXY list falling
            // back with `|`) and got its answer there.
            let path = |u: &str| {
                u.split_once("://")
                    .and_then(|(_, r)| r.split_once('/'))
                    .map(|(_, p)| p.to_string())
            };
            if !failed {
                for (i, x) in f.iter().enumerate() {
                    if matches!(x.outcome, Outcome::Error { .. }) {
                        assert!(
                            f[i + 1..].iter().any(|y| path(&y.url) == path(&x.url)
                                && matches!(y.outcome, Outcome::Status { code: 200, .. })),
                            "{}: go succeeded, so {} was fetched again: {f:#?}",
                            c.name,
                            x.url
                        );
                    }
                }
            }
            if stage == "http" {
                let kind = c.truth["kind"].as_str().unwrap_or_default();
                let in_trace = f.iter().any(|x| match &x.outcome {
                    Outcome::Status { code, .. } => {
                        (kind == "http-404" && *code == 404)
                            || (kind == "http-5xx" && (500..=599).contains(code))
                    }
                    _ => false,
                });
                assert!(
                    in_trace,
                    "{}: the error status is in the trace: {f:#?}",
                    c.name
                );
            }
        }
        eprintln!("{fetches} fetches in {files} real stderr files");
        assert!(fetches >= 100, "the fixtures' traces were read ({fetches})");
    }

    #[test]
    fn the_build_transcript_is_recognised_line_by_line() {
        // From `go build -x` of a cgo program with go1.27.3 (paths shortened).
        let x = [
            "WORK=/tmp/go-build459820220",
            "mkdir -p $WORK/b003/",
            "cd /src/m",
            "TERM='dumb' CGO_LDFLAGS='' /usr/lib/go/pkg/tool/linux_amd64/cgo -objdir $WORK/b003/ -importpath runtime/cgo -- -I $WORK/b003/ -O2 -g ./cgo.go",
            "gcc -fno-caret-diagnostics -O2 -g -c -x c - -o /dev/null || true",
            "TERM='dumb' gcc -I . -fPIC -m64 -pthread -o $WORK/b003/_x001.o -c gcc_context.c",
            "echo -n > $WORK/b003/go_asm.h # internal",
            "echo '# import config' > $WORK/b006/importcfg # internal",
            "cat >/tmp/go-build459820220/b003/importcfg << 'EOF' # internal",
            "# import config",
            "packagefile runtime=/root/.cache/go-build/2c/2cbd-d",
            "modinfo \"0w\\xaf\\f\\x92t\"",
            "EOF",
            "/usr/lib/go/pkg/tool/linux_amd64/compile -o $WORK/b003/_pkg_.a -trimpath \"$WORK/b003=>\" -p runtime/cgo ./cgo.go",
            "go tool pack r $WORK/b003/_pkg_.a $WORK/b003/asm_amd64.o # internal",
            "cp $WORK/b003/_pkg_.a /root/.cache/go-build/9f/9f0c-d # internal",
            "GOROOT='/usr/lib/go' /usr/lib/go/pkg/tool/linux_amd64/link -o $WORK/b001/exe/a.out -buildmode=exe $WORK/b001/_pkg_.a",
            "mv $WORK/b001/exe/a.out m",
            "rm -rf $WORK/b001/",
            "cd /root/go/pkg/mod/cache/vcs/0123abcd; git ls-remote -q origin",
            "0.412s # cd /root/go/pkg/mod/cache/vcs/0123abcd; git ls-remote -q origin",
            "# get https://proxy.golang.org/example.com/m/@v/list",
            "# get https://proxy.golang.org/example.com/m/@v/list: 200 OK (0.011s)",
        ];
        // What go prints with or without -x.
        let shown = [
            "go: downloading example.com/hello v1.0.0",
            "go: example.com/m@v1.0.0: reading https://proxy.golang.org/example.com/m/@v/v1.0.0.info: 404 Not Found",
            "\tserver response: not found",
            "# example.com/m",
            "./main.go:5:2: undefined: x",
            "/src/m/main.go:5:2: undefined: x",
            "main.go:3:8: missing go.sum entry for module providing package example.com/hello (imported by example.com/m); to add:",
            "\tgo get example.com/m",
            "verifying example.com/hello@v1.0.0/go.mod: checksum mismatch",
            "",
            "SECURITY ERROR",
            "For more information, see 'go help module-auth'.",
            "go: example.com/m imports",
            "go: downloading go1.99.0 (linux/amd64)",
            "warning: ignoring symlink /src/m/link",
        ];
        let mut f = XFilter::new(Some("gcc"), Some("g++"));
        for l in x {
            assert!(f.is_x_line(l), "an -x line: {l}");
        }
        for l in shown {
            assert!(!f.is_x_line(l), "not an -x line: {l}");
        }
    }

    #[test]
    fn plans_for_x() {
        let plan = |argv: &[&str], goflags: Option<&str>| plan_x(&strings(argv), goflags);
        assert_eq!(
            plan(&["go", "mod", "download"], None),
            XPlan::Add {
                goflags: "-x".into()
            }
        );
        assert_eq!(
            plan(&["/usr/local/go/bin/go", "mod", "tidy"], Some("-mod=mod ")),
            XPlan::Add {
                goflags: "-mod=mod -x".into()
            }
        );
        assert_eq!(
            plan(&["go", "-C", "sub", "build", "./..."], None),
            XPlan::Add {
                goflags: "-x".into()
            }
        );
        assert_eq!(plan(&["go", "get", "-x", "m@v1"], None), XPlan::UserAsked);
        assert_eq!(
            plan(&["go", "build", "--x=true", "."], None),
            XPlan::UserAsked
        );
        assert_eq!(
            plan(&["go", "mod", "download"], Some("-mod=mod -x")),
            XPlan::UserAsked
        );
        assert_eq!(plan(&["go", "run", "."], None), XPlan::Skip);
        assert_eq!(plan(&["go", "test", "./..."], None), XPlan::Skip);
        assert_eq!(plan(&["go"], None), XPlan::Skip);
        assert_eq!(plan(&["gofmt", "-l", "."], None), XPlan::NotGo);
        assert_eq!(plan(&["sh", "-c", "go mod download"], None), XPlan::NotGo);
        assert_eq!(plan(&[], None), XPlan::NotGo);
    }

    #[test]
    fn exit_kinds_say_how_the_command_ended() {
        assert_eq!(ExitKind::Exited(1).to_string(), "exited with status 1");
        assert_eq!(ExitKind::Signaled(2).to_string(), "killed by SIGINT");
        assert_eq!(ExitKind::Signaled(15).to_string(), "killed by SIGTERM");
        assert_eq!(ExitKind::Signaled(64).to_string(), "killed by signal 64");
        assert_eq!(ExitKind::Signaled(2).shell_status(), 130);
        assert_eq!(ExitKind::Exited(3).shell_status(), 3);
        assert!(ExitKind::Exited(0).success());
        assert!(!ExitKind::Signaled(9).success());
    }

    /// A real failing run, line by line: what the user sees is what go prints without -x.
    #[test]
    fn transcribing_a_real_run_hides_only_what_x_added() {
        let mut n = 0;
        for c in real::cases() {
            // `go mod download -x` adds its fetch trace only; a build's `-x` adds its commands
            // too, which "every line but `# get`" does not model.
            let download = c.truth["go"]["cmdline"]
                .as_str()
                .is_some_and(|l| l.starts_with("go mod download"));
            let mut t = Transcriber::new(XFilter::new(Some("gcc"), None), true);
            let mut shown = Vec::new();
            let lines: Vec<&str> = c
                .stderr
                .strip_suffix('\n')
                .unwrap_or(&c.stderr)
                .split('\n')
                .collect();
            for l in &lines {
                if t.line(l) {
                    shown.push(*l);
                }
            }
            let tr = t.finish(ExitKind::Exited(1));
            let without_x: Vec<&str> = lines
                .iter()
                .copied()
                .filter(|l| !l.starts_with("# get "))
                .collect();
            if download {
                assert_eq!(shown, without_x, "{}", c.name);
                assert_eq!(tr.counters.hidden as usize, lines.len() - without_x.len());
            } else {
                // What a build shows is go's messages alone.
                assert!(
                    shown.iter().all(|l| l.starts_with("go: ")),
                    "{}: {shown:?}",
                    c.name
                );
            }
            assert_eq!(tr.lines.len(), lines.len());
            assert_eq!(tr.errors, stderr::parse_stderr(&c.stderr), "{}", c.name);
            assert_eq!(tr.fetches, parse_trace(&c.stderr), "{}", c.name);
            n += 1;
        }
        assert!(n > 0);
        // When the user asked for -x, everything shows.
        let mut t = Transcriber::new(XFilter::default(), false);
        assert!(t.line("# get https://x/y"));
        assert!(t.line(
            "go: M@v1: Get \"https://x/y\": dial tcp 1.2.3.4:443: connect: connection refused"
        ));
        let tr = t.finish(ExitKind::Exited(1));
        assert_eq!(tr.fetches.len(), 1);
        assert!(matches!(
            tr.errors[0].cause,
            Cause::Dial {
                reason: DialReason::Refused,
                ..
            }
        ));
        assert!(!tr.x_added);
    }

    #[test]
    fn kept_lines_are_bounded_and_counted() {
        let mut t = Transcriber::new(XFilter::default(), true);
        let long = "x".repeat(1000);
        for _ in 0..MAX_KEPT_LINES + 10 {
            t.line(&long);
        }
        let tr = t.finish(ExitKind::Exited(0));
        assert!(tr.lines.len() * 1000 <= MAX_KEPT_BYTES);
        assert_eq!(
            tr.counters.lines_cut as usize + tr.lines.len(),
            MAX_KEPT_LINES + 10
        );
        assert_eq!(tr.counters.lines as usize, MAX_KEPT_LINES + 10);
    }

    #[test]
    fn a_build_after_the_fetches_says_they_were_read_whole() {
        // `go run path@version -x` as go printed it: its fetches, then the build's steps.
        let fetches = "WORK=/tmp/go-build1853392236
# get https://proxy.golang.org/github.com/example/sleeper/@v/v1.0.0.zip
# get https://proxy.golang.org/github.com/example/sleeper/@v/v1.0.0.zip: 200 OK (0.000s)
# get https://proxy.golang.org/github.com/example/sleeper/@v/v1.0.0.mod
# get https://proxy.golang.org/github.com/example/sleeper/@v/v1.0.0.mod: 200 OK (0.000s)
";
        let build = "mkdir -p $WORK/b001/
cat >/tmp/go-build1853392236/b001/importcfg << 'EOF' # internal
# import config
packagefile os=$WORK/cache/9e/9edab6d8-d
EOF
";
        let t = GoTranscript::from_text(&format!("{fetches}{build}"));
        assert_eq!(t.fetches.len(), 2);
        assert_eq!(t.build_line, Some(5));
        assert!(t.fetches.iter().all(|f| t.read_whole(f)));
        // The same fetches with no build after them (go killed while reading a body): the
        // status line came with the headers, nothing says the body ended.
        let t = GoTranscript::from_text(fetches);
        assert_eq!(t.build_line, None);
        assert!(!t.fetches.iter().any(|f| t.read_whole(f)));
    }

    #[test]
    fn hostile_trace_lines_never_panic() {
        for l in [
            "# get ",
            "# get : ",
            "# get x: ",
            "# get x: 200",
            "# get x: 200 OK (",
            "# get x: 200 OK (s)",
            "# get x: 2é0 OK (1.0s)",
            "# get x: 999 (1.0s)",
            "0.s # ",
            ".123s # x",
            "=",
            "é='",
        ] {
            let _ = parse_trace(l);
            let _ = XFilter::default().is_x_line(l);
        }
    }
}
