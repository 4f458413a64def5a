//! Command-line arguments.

use crate::report::{self, PrintSettings, Selection};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;

/// Tells why `go mod download` failed: reads a packet capture (or sniffs live, or wraps the
/// command), reassembles every TCP flow, decodes TLS, HTTP and DNS, and says per connection
/// where it broke, who broke it, which frames prove it and what to change.
#[derive(Debug, Parser)]
#[command(
    name = "modsniff",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_long_help = EXIT_STATUS
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The exit status, as the man page and `--help` state it.
pub const EXIT_STATUS: &str = "\
Exit status:
  0  no finding reaches --fail-on (error by default). This includes a capture cut short
     (its last record truncated, or exchanges still under way at its end): the verdict line
     then reads INCOMPLETE and says what is missing, with a warning finding
     capture/capture-incomplete, but nothing in what was captured failed.
  1  a finding reaches --fail-on.
  2  bad usage, or input that is no capture: a missing or unreadable file, an empty file or
     empty standard input (0 bytes), a file that is not pcap or pcapng; or the report or the
     -w file could not be written (a full disk: the report of what was read is printed, the
     -w file keeps its whole packets). For `run`, modsniff could not capture, or stopped the
     command because it could not (its -w file filled up).
`run` passes a failing command's own status through (see the README).";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse capture files (pcap or pcapng; `-` reads standard input).
    Read(ReadArgs),
    /// Analyse live traffic on an interface (needs the `live` feature and CAP_NET_RAW).
    Live(LiveArgs),
    /// Capture while running a command (e.g. `modsniff run -- go mod tidy`), then report.
    Run(RunArgs),
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
    /// Print the JSON Schema of the records `--format ndjson` and `--format json` print.
    Schema,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Ndjson,
    /// One self-contained HTML page (inline CSS, JavaScript and SVG; nothing fetched).
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Output, selection, diagnosis and limit options shared by every analysing command.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Output format: a report for people, one JSON document, one JSON object per line, or
    /// one HTML page (the verdict, a timeline per connection, a sortable table).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also write the report as one self-contained HTML page to FILE, beside --format's
    /// output (a picture of the failed run to attach to a ticket).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Exit with status 1 when a finding reaches this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
    /// Colour in the text report (`auto`: on a terminal, unless NO_COLOR is set or TERM is
    /// `dumb`).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// More detail: a table of every connection in the text report.
    #[arg(short, long)]
    pub verbose: bool,
    /// Only report connections, DNS records and findings involving this address or name
    /// (repeatable).
    #[arg(long = "host", value_name = "ADDR|NAME")]
    pub hosts: Vec<String>,
    /// Only report connections using this port (either side; repeatable).
    #[arg(long = "port", value_name = "PORT")]
    pub ports: Vec<u16>,
    /// Only report connections whose server name (SNI, Host, CONNECT target, DNS) ends with
    /// this name (repeatable).
    #[arg(long = "server-name", value_name = "NAME")]
    pub server_names: Vec<String>,
    /// Extra trusted CA certificates (PEM) for chain validation; defaults to $SSL_CERT_FILE.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Roots that genuine public servers chain to, in addition to the built-in web PKI roots
    /// (for a test lab that stands in for the public Internet). A public Go host whose chain
    /// validates only through --ca-file is reported as a trusted TLS interception.
    #[arg(long, value_name = "PEM")]
    pub public_ca_file: Option<PathBuf>,
    /// Go settings from `go env -json` output.
    #[arg(long, value_name = "FILE")]
    pub go_env: Option<PathBuf>,
    /// GOPROXY as the go command used it (default: from the environment).
    #[arg(long, value_name = "LIST")]
    pub goproxy: Option<String>,
    /// GOSUMDB as the go command used it.
    #[arg(long, value_name = "DB")]
    pub gosumdb: Option<String>,
    /// GOPRIVATE patterns.
    #[arg(long, value_name = "PATTERNS")]
    pub goprivate: Option<String>,
    /// GONOPROXY patterns.
    #[arg(long, value_name = "PATTERNS")]
    pub gonoproxy: Option<String>,
    /// GONOSUMDB patterns.
    #[arg(long, value_name = "PATTERNS")]
    pub gonosumdb: Option<String>,
    /// HTTPS_PROXY as the go command used it.
    #[arg(long, value_name = "URL")]
    pub https_proxy: Option<String>,
    /// Most TCP connections and UDP flows tracked at once (the oldest is ended beyond it).
    #[arg(long, value_name = "N", default_value_t = modsniff_core::Limits::default().max_flows)]
    pub max_flows: usize,
    /// Memory for out-of-order TCP data over all connections, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = (modsniff_core::Limits::default().memcap >> 20) as u64)]
    pub memcap: u64,
    /// No progress bar on standard error.
    #[arg(long)]
    pub no_progress: bool,
    /// Write the failing flows to FILE, a small capture to hand the network team (pcap;
    /// pcapng when FILE ends in .pcapng): the connections with findings, or those that
    /// --host/--port/--server-name select, or every packet a filter expression kept, with
    /// their DNS and every frame a finding cites. The report then maps each cited frame
    /// ("frame 12, frame 3 in FILE"). A capture file is read a second time for it; standard
    /// input and live packets wait in a temporary file (--extract-spool).
    #[arg(long, value_name = "FILE")]
    pub extract: Option<PathBuf>,
    /// Bound of the temporary file ($TMPDIR, deleted on exit) that keeps the packets of
    /// standard input or of a live capture for --extract, in MiB: it keeps the most recent
    /// ones, and the report counts those it dropped.
    #[arg(long, value_name = "MIB", default_value_t = crate::extract::spool::DEFAULT_SPOOL_MIB)]
    pub extract_spool: u64,
    #[command(flatten)]
    pub sink: SinkArgs,
}

/// Where the records go, and the fields a fleet of sniffers needs (`report::output`,
/// `report::records::Fleet`).
#[derive(Debug, Clone, Args)]
pub struct SinkArgs {
    /// Write the report to FILE instead of standard output (appending; reopened on SIGHUP
    /// by `live` and `run`, as logrotate expects).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Rotate --output once it holds this many bytes (suffixes k, M, G): the file is renamed
    /// FILE.20260501T120000.123456Z (its UTC time) between two records, and a new one started. Needs --format ndjson.
    #[arg(long, value_name = "BYTES", value_parser = parse_size, requires = "output")]
    pub rotate_size: Option<u64>,
    /// Rotate --output once its first record is this many seconds old. Needs --format ndjson.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..), requires = "output")]
    pub rotate_seconds: Option<u64>,
    /// Add the fleet fields to every record (host_name, modsniff_version, session, seq, time,
    /// time_unix), as `live` and `run` always do.
    #[arg(long)]
    pub fleet: bool,
    /// The host name the fleet fields give (default: the system's); implies --fleet.
    #[arg(long, value_name = "NAME")]
    pub host_name: Option<String>,
}

/// An output of the report whose errors say what was being written where (a full disk under
/// `> report.json` reads "writing the report to standard output: No space left on device");
/// the error's kind is kept (a broken pipe is still one).
struct Named<W> {
    inner: W,
    /// "the report to standard output", "the HTML page to FILE".
    what: String,
}

impl<W> Named<W> {
    fn named(&self, e: std::io::Error) -> std::io::Error {
        std::io::Error::new(e.kind(), format!("writing {}: {e}", self.what))
    }
}

impl<W: std::io::Write> std::io::Write for Named<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf).map_err(|e| self.named(e))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().map_err(|e| self.named(e))
    }
}

/// `1048576`, `512k`, `16M`, `1G` (powers of 1024).
fn parse_size(s: &str) -> Result<u64, String> {
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, ""),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a size (bytes, or with k, M, G)"))?;
    let shift = match unit {
        "" => 0,
        "k" | "K" | "KiB" => 10,
        "M" | "MiB" => 20,
        "G" | "GiB" => 30,
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (k, M, G)")),
    };
    n.checked_mul(1 << shift)
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{s}` is not a size above 0 that fits in 64 bits"))
}

impl SinkArgs {
    /// Where the printer writes: standard output, or the --output file (`reopen`: the flag a
    /// SIGHUP handler sets).
    pub fn open(
        &self,
        format: Format,
        reopen: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    ) -> anyhow::Result<Box<dyn std::io::Write + Send>> {
        let Some(path) = &self.output else {
            return Ok(Box::new(Named {
                inner: std::io::stdout(),
                what: "the report to standard output".into(),
            }));
        };
        let rotates = self.rotate_size.is_some() || self.rotate_seconds.is_some();
        if rotates && format != Format::Ndjson {
            anyhow::bail!(
                "--rotate-size and --rotate-seconds need --format ndjson (they cut the output between two lines)"
            );
        }
        let w = report::output::RotatingFile::open(report::output::Rotation {
            path: path.clone(),
            max_bytes: self.rotate_size,
            max_age: self.rotate_seconds.map(std::time::Duration::from_secs),
            reopen,
        })?;
        Ok(Box::new(w))
    }

    /// The fleet fields' identity, when asked for (or `always`, as `live` and `run` do).
    pub fn fleet(
        &self,
        always: bool,
        interface: Option<&str>,
    ) -> Option<report::records::FleetIdentity> {
        (always || self.fleet || self.host_name.is_some()).then(|| {
            report::records::FleetIdentity::new(
                self.host_name.clone(),
                interface.map(str::to_string),
            )
        })
    }
}

impl OutputArgs {
    /// How the report is printed: the printers' settings, with `--color auto` resolved here
    /// (NO_COLOR, TERM=dumb, and whether standard output is a terminal).
    pub fn print_settings(&self) -> PrintSettings {
        PrintSettings {
            format: match self.format {
                Format::Text => report::Format::Text,
                Format::Json => report::Format::Json,
                Format::Ndjson => report::Format::Ndjson,
                Format::Html => report::Format::Html,
            },
            color: self.format == Format::Text && wants_color(self.color),
            verbose: self.verbose,
            selection: Selection {
                hosts: self.hosts.clone(),
                ports: self.ports.clone(),
                names: self
                    .server_names
                    .iter()
                    .map(|n| n.to_ascii_lowercase())
                    .collect(),
            },
            fleet: self.sink.fleet(false, None),
        }
    }

    /// `live`'s and `run`'s settings: the fleet fields always, with the interface.
    #[cfg_attr(not(feature = "live"), allow(dead_code))]
    pub fn live_print_settings(&self, interface: &str) -> PrintSettings {
        PrintSettings {
            fleet: self.sink.fleet(true, Some(interface)),
            ..self.print_settings()
        }
    }
}

impl OutputArgs {
    /// The printer for `settings`, writing to `out` (and the page to `--html FILE`).
    pub fn printer(
        &self,
        settings: &PrintSettings,
        out: Box<dyn std::io::Write + Send>,
    ) -> anyhow::Result<Box<dyn report::Printer + Send>> {
        use anyhow::Context;
        let html: Option<Box<dyn std::io::Write + Send>> = match &self.html {
            Some(p) => Some(Box::new(Named {
                inner: std::fs::File::create(p)
                    .with_context(|| format!("creating {}", p.display()))?,
                what: format!("the HTML page to {}", p.display()),
            })),
            None => None,
        };
        Ok(report::printer(settings, out, html))
    }
}

fn wants_color(choice: ColorChoice) -> bool {
    color_decision(
        choice,
        std::env::var_os("NO_COLOR").as_deref(),
        std::env::var_os("TERM").as_deref(),
        std::io::stdout().is_terminal(),
    )
}

/// `--color auto` colours a terminal unless NO_COLOR is set (to anything but the empty
/// string, as no-color.org says) or TERM is `dumb` (a terminal that cannot show escapes:
/// Emacs' shell, some CI logs); `always` and `never` are obeyed whatever the environment.
fn color_decision(
    choice: ColorChoice,
    no_color: Option<&std::ffi::OsStr>,
    term: Option<&std::ffi::OsStr>,
    stdout_is_terminal: bool,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            no_color.is_none_or(|v| v.is_empty())
                && term.is_none_or(|t| t != "dumb")
                && stdout_is_terminal
        }
    }
}

/// How `read` tells capture files from a filter expression, shown in its help.
const READ_AFTER_HELP: &str = "\
Filter expressions are tcpdump's (`tcp port 443`, `host 10.0.0.1 and not port 53`, `vlan and \
ip6`); packets that fail it are not analysed, and evidence keeps the capture's own frame \
numbers. Files and expression: the first argument is always a file; the arguments after it are \
files up to the first one that begins an expression (a filter keyword such as tcp, udp, host, \
net, port, src, dst, ip, ip6, vlan, less, or `not`, `!`, `(`), and from there on everything \
is the expression (one quoted word or several). `--` ends the files explicitly; with -r FILE \
(as tcpdump) every argument is the expression. A file whose name is a keyword is given as \
./tcp.";

#[derive(Debug, Args)]
#[command(after_help = READ_AFTER_HELP)]
pub struct ReadArgs {
    /// Capture files (pcap, pcapng; `-` for standard input), then an optional filter
    /// expression in tcpdump's syntax: `modsniff read go.pcap tcp port 443`.
    #[arg(value_name = "FILE|EXPR", value_parser = clap::value_parser!(OsString))]
    pub args: Vec<OsString>,
    /// Read this capture file, as tcpdump -r (repeatable); every argument is then the
    /// filter expression.
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Vec<PathBuf>,
    /// The filter expression as one option (the same as giving it after the files).
    #[arg(long, value_name = "EXPRESSION")]
    pub filter: Option<String>,
    /// The filter expression after `--`: `modsniff read a.pcap b.pcap -- tcp port 443`.
    #[arg(last = true, value_name = "EXPRESSION")]
    pub expression: Vec<String>,
    /// Stop after this many packets (per file), like tcpdump -c.
    #[arg(short = 'c', long = "count", value_name = "COUNT")]
    pub count: Option<u64>,
    /// Write what was selected to FILE, as `tcpdump -r in -w out EXPRESSION` does: the same
    /// as --extract FILE (the flows with findings, or those the selection or the filter
    /// expression keeps). On live and run, -w saves every captured packet instead.
    #[arg(
        short = 'w',
        long = "write",
        value_name = "FILE",
        conflicts_with = "extract"
    )]
    pub write: Option<PathBuf>,
    /// The go command's stderr for this capture (`go mod download -x 2> stderr.txt`, `-x`
    /// for its fetch trace): its fetches become `fetch` records joined to the connections,
    /// its error messages join the findings, as `modsniff run` does. One capture file only.
    #[arg(long, value_name = "FILE")]
    pub go_stderr: Option<PathBuf>,
    /// go's `-x` fetch trace for this capture when it was kept apart from the errors (the
    /// `# get URL` lines): read as if it followed --go-stderr's lines. One capture file only.
    #[arg(long, value_name = "FILE")]
    pub go_trace: Option<PathBuf>,
    /// Threads: 1 runs everything on one (the default for the text report); 2 (the default for
    /// records where there are two cores) runs the engine on one and diagnosis and record
    /// writing on the other; N >= 3 on a capture file
    /// runs N engines, each owning a share of the flows, beside the reader and the output
    /// thread. The output is the same either way.
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct LiveArgs {
    /// Interface to capture on (`any` for all).
    #[arg(
        short = 'i',
        long = "interface",
        value_name = "IFACE",
        required_unless_present = "list_interfaces"
    )]
    pub interface: Option<String>,
    /// List the interfaces libpcap can capture on, numbered, and exit (as tcpdump -D).
    #[arg(short = 'D', long = "list-interfaces")]
    pub list_interfaces: bool,
    /// Capture filter in tcpdump's syntax, compiled by libpcap and run in the kernel:
    /// `modsniff live -i eth0 tcp port 443`.
    #[arg(value_name = "EXPRESSION")]
    pub expression: Vec<String>,
    /// The capture filter as one option (the same as giving it as arguments).
    #[arg(long, value_name = "EXPRESSION")]
    pub filter: Option<String>,
    /// Also save every captured packet to this pcap file, as tcpdump -w does (on `read`, -w
    /// writes only what was selected: see --extract).
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Stop after this many packets.
    #[arg(short = 'c', long = "count", value_name = "COUNT")]
    pub count: Option<u64>,
    /// Bytes captured per packet.
    #[arg(long, default_value_t = 262_144)]
    pub snaplen: i32,
    /// Don't put the interface into promiscuous mode.
    #[arg(long)]
    pub no_promisc: bool,
    /// Kernel buffer size in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 32)]
    pub buffer_size: i32,
    /// Hand each packet over as it arrives (as tcpdump's --immediate-mode) instead of in
    /// blocks of up to 200 ms: lower latency, but the kernel ring holds fewer packets and
    /// drops sooner under load.
    #[arg(long)]
    pub immediate_mode: bool,
    /// Report an open connection as stalled once it has been silent this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub stall_after: f64,
    /// Sockets and engines: with N >= 2 the kernel spreads the packets over N sockets in one
    /// PACKET_FANOUT group (whole flows, both directions, to one socket), each read by its
    /// own engine on a thread of its own, their events merged by time. Each socket has its
    /// own --buffer-size ring. The same connections, findings and verdict as one engine;
    /// not with -w or --extract. Linux only: where the kernel refuses the group, modsniff
    /// says so and stops.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=64))]
    pub threads: usize,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Interface to capture on.
    #[arg(
        short = 'i',
        long = "interface",
        value_name = "IFACE",
        default_value = "any"
    )]
    pub interface: String,
    /// Also save every captured packet to this pcap file, as tcpdump -w does (on `read`, -w
    /// writes only what was selected: see --extract).
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// At most this many seconds of capture after the command exits, for the closes of its
    /// connections (it stops as soon as every connection it saw open has closed).
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub drain: f64,
    /// Kernel buffer size in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 8)]
    pub buffer_size: i32,
    /// Report an open connection as stalled once it has been silent this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub stall_after: f64,
    #[command(flatten)]
    pub out: OutputArgs,
    /// The command to run, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// What `read` reads, and the filter expression, if any.
#[derive(Debug, PartialEq, Eq)]
pub struct Inputs {
    pub files: Vec<PathBuf>,
    /// The filter's words, joined with spaces as tcpdump joins them.
    pub filter: Option<String>,
}

impl ReadArgs {
    /// Sorts the arguments into capture files and filter expression (the rule in
    /// `READ_AFTER_HELP`).
    pub fn inputs(&self) -> anyhow::Result<Inputs> {
        let mut files = self.read.clone();
        let mut words: Vec<String> = Vec::new();
        let word = |a: &OsString| {
            a.to_str().map(str::to_string).ok_or_else(|| {
                anyhow::anyhow!(
                    "the filter expression is not UTF-8: {}",
                    a.to_string_lossy()
                )
            })
        };
        if !self.read.is_empty() {
            for a in &self.args {
                words.push(word(a)?);
            }
        } else {
            for (i, a) in self.args.iter().enumerate() {
                let begins = a.to_str().is_some_and(modsniff_filter::starts_expression);
                if words.is_empty() && (i == 0 || !begins) {
                    files.push(PathBuf::from(a));
                } else {
                    words.push(word(a)?);
                }
            }
        }
        words.extend(self.expression.iter().cloned());
        let filter = join_filter(self.filter.as_deref(), &words)?;
        if files.is_empty() {
            anyhow::bail!("no capture file given (modsniff read FILE... [EXPRESSION], or -r FILE)");
        }
        Ok(Inputs { files, filter })
    }
}

impl LiveArgs {
    /// The capture filter, from `--filter` or the arguments.
    #[cfg_attr(not(feature = "live"), allow(dead_code))]
    pub fn filter_expression(&self) -> anyhow::Result<Option<String>> {
        join_filter(self.filter.as_deref(), &self.expression)
    }
}

fn join_filter(option: Option<&str>, words: &[String]) -> anyhow::Result<Option<String>> {
    match (option, words.is_empty()) {
        (Some(_), false) => anyhow::bail!(
            "the filter expression is given twice: --filter and the arguments `{}`",
            words.join(" ")
        ),
        (Some(f), true) => Ok(Some(f.to_string())),
        (None, false) => Ok(Some(words.join(" "))),
        (None, true) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(argv: &[&str]) -> anyhow::Result<Inputs> {
        let mut full = vec!["modsniff", "read"];
        full.extend_from_slice(argv);
        match Cli::try_parse_from(full)?.command {
            Command::Read(args) => args.inputs(),
            _ => unreachable!(),
        }
    }

    fn ok(files: &[&str], filter: Option<&str>) -> Inputs {
        Inputs {
            files: files.iter().map(PathBuf::from).collect(),
            filter: filter.map(str::to_string),
        }
    }

    #[test]
    fn colour_needs_a_terminal_without_no_color_or_term_dumb() {
        use std::ffi::OsStr;
        let auto = |nc: Option<&str>, term: Option<&str>, tty| {
            color_decision(
                ColorChoice::Auto,
                nc.map(OsStr::new),
                term.map(OsStr::new),
                tty,
            )
        };
        assert!(auto(None, Some("xterm-256color"), true));
        assert!(auto(None, None, true));
        assert!(!auto(None, Some("xterm"), false));
        assert!(!auto(Some("1"), Some("xterm"), true));
        // NO_COLOR set but empty does not count (no-color.org).
        assert!(auto(Some(""), Some("xterm"), true));
        assert!(!auto(None, Some("dumb"), true));
        assert!(color_decision(
            ColorChoice::Always,
            Some(OsStr::new("1")),
            Some(OsStr::new("dumb")),
            false
        ));
        assert!(!color_decision(ColorChoice::Never, None, None, true));
    }

    #[test]
    fn files_then_expression() {
        assert_eq!(inputs(&["a.pcap"]).unwrap(), ok(&["a.pcap"], None));
        assert_eq!(
            inputs(&["a.pcap", "b.pcapng", "-"]).unwrap(),
            ok(&["a.pcap", "b.pcapng", "-"], None)
        );
        assert_eq!(
            inputs(&["a.pcap", "tcp", "port", "443"]).unwrap(),
            ok(&["a.pcap"], Some("tcp port 443"))
        );
        assert_eq!(
            inputs(&["a.pcap", "b.pcap", "host 10.0.0.1 and not port 53"]).unwrap(),
            ok(&["a.pcap", "b.pcap"], Some("host 10.0.0.1 and not port 53"))
        );
        // The expression runs to the end, whatever its later words look like.
        assert_eq!(
            inputs(&["a.pcap", "not", "host", "b.pcap"]).unwrap(),
            ok(&["a.pcap"], Some("not host b.pcap"))
        );
        assert_eq!(
            inputs(&["a.pcap", "(tcp", "or", "udp)"]).unwrap(),
            ok(&["a.pcap"], Some("(tcp or udp)"))
        );
        // The first argument is a file even if it is called like a keyword.
        assert_eq!(inputs(&["tcp", "udp"]).unwrap(), ok(&["tcp"], Some("udp")));
        assert_eq!(
            inputs(&["./tcp", "udp"]).unwrap(),
            ok(&["./tcp"], Some("udp"))
        );
        // Options may come after the expression's words.
        assert_eq!(
            inputs(&["a.pcap", "tcp", "--format", "ndjson"]).unwrap(),
            ok(&["a.pcap"], Some("tcp"))
        );
    }

    #[test]
    fn dashes_r_and_filter_option() {
        assert_eq!(
            inputs(&["a.pcap", "b.pcap", "--", "port", "53"]).unwrap(),
            ok(&["a.pcap", "b.pcap"], Some("port 53"))
        );
        assert_eq!(
            inputs(&["a.pcap", "--", "tcp"]).unwrap(),
            ok(&["a.pcap"], Some("tcp"))
        );
        assert_eq!(
            inputs(&["-r", "a.pcap", "host", "10.0.0.1"]).unwrap(),
            ok(&["a.pcap"], Some("host 10.0.0.1"))
        );
        assert_eq!(
            inputs(&["-r", "a.pcap", "-r", "b.pcap"]).unwrap(),
            ok(&["a.pcap", "b.pcap"], None)
        );
        assert_eq!(
            inputs(&["-r", "tcp", "tcp"]).unwrap(),
            ok(&["tcp"], Some("tcp"))
        );
        assert_eq!(
            inputs(&["a.pcap", "--filter", "udp"]).unwrap(),
            ok(&["a.pcap"], Some("udp"))
        );
        assert!(inputs(&["a.pcap", "--filter", "udp", "tcp"]).is_err());
        assert!(inputs(&[]).is_err());
        assert!(inputs(&["--", "tcp"]).is_err());
    }
}
