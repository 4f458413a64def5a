//! Command-line arguments.

use clap::{Args, Parser, Subcommand, ValueEnum};
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
     empty standard input (0 bytes), a file that is not pcap or pcapng. For `run`, modsniff
     could not capture.
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Ndjson,
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
    /// Output format: a report for people, one JSON document, or one JSON object per line.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Exit with status 1 when a finding reaches this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
    /// Colour in the text report.
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
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Capture files (pcap, pcapng); `-` for standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Stop after this many packets (per file), like tcpdump -c.
    #[arg(short = 'c', long = "count", value_name = "COUNT")]
    pub count: Option<u64>,
    /// Threads: 1 runs everything on one; 2 (the default where there are two cores) runs
    /// diagnosis and record writing beside the engine (more are not used). The output is the
    /// same either way.
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct LiveArgs {
    /// Interface to capture on (`any` for all).
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: String,
    /// BPF capture filter, as for tcpdump.
    #[arg(long, value_name = "BPF")]
    pub filter: Option<String>,
    /// Also save the packets to this pcap file (like tcpdump -w).
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
    /// Also save the packets to this pcap file.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// Seconds to keep capturing after the command exits (late packets, closes).
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub drain: f64,
    #[command(flatten)]
    pub out: OutputArgs,
    /// The command to run, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}
