//! `modsniff man`: the manual page, modsniff(1), in roff.
//!
//! One page for the whole program, as tcpdump(8) is: the options are taken from the command
//! line's definition (clap), so that the page cannot miss or misstate one; the sections clap
//! knows nothing of (EXIT STATUS, ENVIRONMENT, EXAMPLES, SEE ALSO) are written here. Options
//! that `read`, `live` and `run` share (the same name and the same help) are listed once.
//! The page names only pages that exist outside this project (tcpdump(8), pcap-filter(7),
//! tshark(1)): there are no per-command pages.

use crate::cli::{Cli, EXIT_STATUS};
use clap::{Arg, Command, CommandFactory};
use std::fmt::Write as _;

/// The commands whose shared options are listed once, in this order.
const ANALYSING: [&str; 3] = ["read", "live", "run"];

/// The page.
pub fn page() -> String {
    let mut cmd = Cli::command();
    cmd.build();
    let mut o = String::with_capacity(32 << 10);
    let _ = writeln!(
        o,
        ".TH modsniff 1 \"\" \"modsniff {}\" \"User Commands\"",
        env!("CARGO_PKG_VERSION")
    );
    // No hyphenation, ragged right: an option name never breaks across lines.
    o.push_str(".nh\n.ad l\n");

    o.push_str(".SH NAME\nmodsniff \\- tell why `go mod download` failed, from its packets\n");

    o.push_str(".SH SYNOPSIS\n");
    for sub in cmd.get_subcommands_mut() {
        if sub.get_name() == "help" {
            continue;
        }
        let usage = sub.render_usage().to_string();
        let usage = usage.trim_start_matches("Usage: ").trim();
        let _ = writeln!(o, ".br\n{}", synopsis_line(usage));
    }
    o.push_str(".br\n\\fBmodsniff\\fR \\fB\\-\\-help\\fR | \\fB\\-\\-version\\fR\n");

    o.push_str(".SH DESCRIPTION\n");
    let about = cmd
        .get_long_about()
        .or(cmd.get_about())
        .map(|s| s.to_string())
        .unwrap_or_default();
    // clap drops the doc comment's last full stop.
    o.push_str(&text(about.trim_end_matches('.')));
    o.push_str(".\n");
    o.push_str(
        "\n.PP\nThe report starts with the verdict (FAILED, INCOMPLETE or OK) and one line per \
         failing target, then each finding: where the fetch broke (dns, connect, proxy, tls, \
         http, transfer), who broke it (the server, the client, the proxy, the resolver, or a \
         middlebox), the frames that prove it (numbered as Wireshark numbers them), what the go \
         command most likely printed, and what to change. \\fB\\-\\-format ndjson\\fR and \
         \\fB\\-\\-format json\\fR print the same as records (\\fBmodsniff schema\\fR prints their \
         JSON Schema); \\fB\\-\\-format html\\fR one self-contained page.\n\
         .PP\n\\fBlive\\fR and \\fBrun\\fR need a build with the \\fIlive\\fR cargo feature \
         (libpcap) and the CAP_NET_RAW capability; a build without it says so and exits 2.\n",
    );

    o.push_str(".SH COMMANDS\n");
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        let _ = writeln!(o, ".SS \"modsniff {}\"", sub.get_name());
        if let Some(a) = sub.get_long_about().or(sub.get_about()) {
            o.push_str(&text(&a.to_string()));
            o.push('\n');
        }
        if let Some(a) = sub.get_after_long_help().or(sub.get_after_help()) {
            let _ = writeln!(o, ".PP\n{}", text(&a.to_string()));
        }
        let own: Vec<&Arg> = sub
            .get_arguments()
            .filter(|a| shown(a) && !is_shared(&cmd, sub.get_name(), a))
            .collect();
        for a in own.iter().filter(|a| a.is_positional()) {
            arg_item(&mut o, a);
        }
        for a in own.iter().filter(|a| !a.is_positional()) {
            arg_item(&mut o, a);
        }
        if ANALYSING.contains(&sub.get_name()) {
            o.push_str(
                ".PP\nAnd the options of \\fBread\\fR, \\fBlive\\fR and \\fBrun\\fR below.\n",
            );
        }
    }

    o.push_str(".SH \"OPTIONS OF READ, LIVE AND RUN\"\n");
    if let Some(read) = cmd.find_subcommand("read") {
        for a in read
            .get_arguments()
            .filter(|a| shown(a) && is_shared(&cmd, "read", a))
        {
            arg_item(&mut o, a);
        }
    }
    o.push_str(".SH \"OPTIONS OF EVERY COMMAND\"\n");
    for a in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        arg_item(&mut o, a);
    }

    o.push_str(".SH \"EXIT STATUS\"\n");
    exit_status(&mut o);
    o.push_str(ENVIRONMENT);
    o.push_str(EXAMPLES);
    o.push_str(SEE_ALSO);
    o
}

/// An argument the page lists (clap's own `--help` and `--version` are listed once, at the
/// end, not under every command).
fn shown(a: &Arg) -> bool {
    let clap_own = matches!(a.get_id().as_str(), "help" | "version");
    !a.is_hide_set() && !clap_own
}

/// Whether `a` of command `name` is one that `read`, `live` and `run` all have, the same.
fn is_shared(cmd: &Command, name: &str, a: &Arg) -> bool {
    ANALYSING.contains(&name)
        && ANALYSING.iter().all(|other| {
            cmd.find_subcommand(other).is_some_and(|c| {
                c.get_arguments().any(|b| {
                    b.get_id() == a.get_id()
                        && b.get_long() == a.get_long()
                        && b.get_short() == a.get_short()
                        && help_of(b) == help_of(a)
                })
            })
        })
}

fn help_of(a: &Arg) -> String {
    a.get_long_help()
        .or(a.get_help())
        .map(|s| s.to_string())
        .unwrap_or_default()
}

/// Text made safe for roff: backslashes, a leading dot or quote, minus signs (so that
/// `--format` is typed as it reads), and `code` in bold.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\e"),
            '-' => o.push_str("\\-"),
            c => o.push(c),
        }
    }
    o
}

/// Running text: escaped, paired backticks in bold, paragraphs kept, no line that roff would
/// take for a request.
fn text(s: &str) -> String {
    let mut out = Vec::new();
    for para in s.trim().split("\n\n") {
        let mut line = String::new();
        let parts: Vec<&str> = para.split('`').collect();
        // An odd count of parts: every backtick is paired.
        let paired = parts.len() % 2 == 1;
        for (k, part) in parts.iter().enumerate() {
            if k % 2 == 1 && paired {
                let _ = write!(line, "\\fB{}\\fR", esc(part));
            } else {
                if k > 0 && !paired {
                    line.push('`');
                }
                line.push_str(&esc(part));
            }
        }
        let lines: Vec<String> = line
            .lines()
            .map(|l| {
                let l = l.trim_start();
                if l.starts_with('.') || l.starts_with('\'') {
                    format!("\\&{l}")
                } else {
                    l.to_string()
                }
            })
            .collect();
        out.push(lines.join("\n"));
    }
    out.join("\n.PP\n")
}

/// A usage line: the program and command in bold, the rest as clap writes it.
fn synopsis_line(usage: &str) -> String {
    let mut words = usage.splitn(3, ' ');
    let prog = words.next().unwrap_or("modsniff");
    let sub = words.next().unwrap_or("");
    let rest = words.next().unwrap_or("");
    format!("\\fB{}\\fR \\fB{}\\fR {}", esc(prog), esc(sub), esc(rest))
}

/// One option or argument, as a tagged paragraph: its names and value, its help, its
/// possible values and default.
fn arg_item(o: &mut String, a: &Arg) {
    let value = a
        .get_value_names()
        .and_then(|v| v.first())
        .map(|v| v.to_string())
        .unwrap_or_else(|| a.get_id().as_str().to_ascii_uppercase());
    let takes = a.get_action().takes_values();
    let tag = if a.is_positional() {
        let many = a.get_num_args().is_some_and(|n| n.max_values() > 1);
        format!(
            "\\fI{}\\fR{}",
            esc(&value),
            if many { "\\&..." } else { "" }
        )
    } else {
        let mut names = Vec::new();
        if let Some(s) = a.get_short() {
            names.push(format!("\\fB\\-{}\\fR", esc(&s.to_string())));
        }
        if let Some(l) = a.get_long() {
            names.push(format!("\\fB\\-\\-{}\\fR", esc(l)));
        }
        let mut tag = names.join(", ");
        if takes {
            let _ = write!(tag, " \\fI{}\\fR", esc(&value));
        }
        tag
    };
    let _ = writeln!(o, ".TP\n{tag}");
    let help = help_of(a);
    if !help.is_empty() {
        o.push_str(&text(&help).replace("\n.PP\n", "\n.IP\n"));
        o.push('\n');
    }
    let values: Vec<clap::builder::PossibleValue> = a
        .get_possible_values()
        .into_iter()
        .filter(|v| !v.is_hide_set())
        .collect();
    if takes && !values.is_empty() {
        let described = values.iter().any(|v| v.get_help().is_some());
        if described {
            o.push_str(".IP\nValues:\n");
            for v in &values {
                let _ = write!(o, ".br\n\\fB{}\\fR", esc(v.get_name()));
                if let Some(h) = v.get_help() {
                    let _ = write!(o, ": {}", text(&h.to_string()));
                }
                o.push('\n');
            }
        } else {
            let names: Vec<String> = values
                .iter()
                .map(|v| format!("\\fB{}\\fR", esc(v.get_name())))
                .collect();
            let _ = writeln!(o, ".IP\nValues: {}.", names.join(", "));
        }
    }
    let defaults: Vec<String> = a
        .get_default_values()
        .iter()
        .map(|d| esc(&d.to_string_lossy()))
        .collect();
    if takes && !defaults.is_empty() {
        let _ = writeln!(o, ".IP\nDefault: \\fB{}\\fR.", defaults.join(" "));
    }
}

/// EXIT STATUS from the text `--help` shows (one source for both), as tagged paragraphs.
fn exit_status(o: &mut String) {
    let mut lines = EXIT_STATUS.lines().skip(1).peekable();
    while let Some(l) = lines.next() {
        let t = l.trim_start();
        let (code, rest) = match t.split_once("  ") {
            Some((c, r)) if c.chars().all(|ch| ch.is_ascii_digit()) => (Some(c), r.trim()),
            _ => (None, t),
        };
        match code {
            Some(c) => {
                let mut para = rest.to_string();
                while let Some(next) = lines.peek() {
                    if next.starts_with("     ") {
                        para.push(' ');
                        para.push_str(next.trim());
                        lines.next();
                    } else {
                        break;
                    }
                }
                let _ = writeln!(o, ".TP\n\\fB{c}\\fR\n{}", text(&para));
            }
            // The line `--help` adds about `run` is said in full below.
            None if rest.starts_with("`run`") => {}
            None => {
                let _ = writeln!(o, ".PP\n{}", text(rest));
            }
        }
    }
    o.push_str(
        ".PP\n\\fBrun\\fR: when the command fails, \\fBmodsniff run\\fR exits with the \
         command's own status (128 + the signal's number when a signal killed it, as a shell \
         says), and says so on standard error; only when the command succeeded does the verdict \
         decide (0 or 1).\n",
    );
}

const ENVIRONMENT: &str = r#".SH ENVIRONMENT
.TP
.B NO_COLOR
Set to anything but the empty string: no colour in the text report with \fB\-\-color auto\fR.
.TP
.B TERM
\fBdumb\fR: no colour with \fB\-\-color auto\fR, as \fBNO_COLOR\fR.
.TP
.BR GOPROXY ", " GOSUMDB ", " GOPRIVATE ", " GONOPROXY ", " GONOSUMDB
The go command's settings, which tell its endpoints (module mirrors, checksum database,
private hosts) from other traffic. \fBread\fR and \fBlive\fR take them from the environment
unless the options of the same names are given; \fBrun\fR from the command's environment
(\fBgo env \-json\fR when the command is \fBgo\fR).
.TP
.BR HTTPS_PROXY ", " HTTP_PROXY ", " NO_PROXY
The proxy the go command tunnels through (CONNECT), as it reads them; \fB\-\-https\-proxy\fR
overrides.
.TP
.B GOFLAGS
\fBrun\fR, when the command is \fBgo\fR: its \fB\-x\fR trace is added through GOFLAGS (and its
lines hidden) unless the user asked for \fB\-x\fR already.
.TP
.B SSL_CERT_FILE
Extra trusted CA certificates (PEM) for checking certificate chains, when \fB\-\-ca\-file\fR
is not given: a public Go host whose chain validates only through them (a company's
inspecting proxy, trusted on purpose) is reported as a trusted interception.
.TP
.BR SUDO_USER ", " SUDO_UID ", " SUDO_GID
\fBrun\fR under sudo runs the command as the invoking user, with their home directory.
.TP
.B TMPDIR
Where \fB\-\-extract\fR keeps packets of standard input or of a live capture (an unnamed
temporary file, bounded by \fB\-\-extract\-spool\fR).
.TP
.B HOSTNAME
The fleet fields' host name when the kernel's (\fBuname \-n\fR) and /etc/hostname are not
available; \fB\-\-host\-name\fR overrides.
"#;

const EXAMPLES: &str = r#".SH EXAMPLES
Capture a failing fetch with tcpdump, then read it:
.PP
.RS
.nf
tcpdump \-i any \-w go.pcap &
go mod download
kill %1
modsniff read go.pcap
.fi
.RE
.PP
The same with what go printed (\fB\-x\fR adds its fetches) joined to the connections
and the findings:
.PP
.RS
.nf
tcpdump \-i any \-w go.pcap &
go mod download \-x 2> go.stderr
kill %1
modsniff read \-\-go\-stderr go.stderr go.pcap
.fi
.RE
.PP
Only the HTTPS traffic, in tcpdump's filter syntax:
.PP
.RS
.nf
modsniff read go.pcap tcp port 443
modsniff read \-r go.pcap 'host proxy.golang.org and not port 53'
.fi
.RE
.PP
The failing flows as a small capture for the network team; the report maps each cited frame
("frame 12, frame 3 in failing.pcap"):
.PP
.RS
.nf
modsniff read \-\-extract failing.pcap go.pcap
.fi
.RE
.PP
A page to attach to a ticket, beside the text report:
.PP
.RS
.nf
modsniff read \-\-html report.html go.pcap
.fi
.RE
.PP
Wrap the command (as root, or with CAP_NET_RAW granted):
.PP
.RS
.nf
sudo modsniff run \-\- go mod download
.fi
.RE
.PP
Sniff the build host for a minute; list the interfaces first:
.PP
.RS
.nf
modsniff live \-D
modsniff live \-i eth0 \-\-duration 60 tcp port 443 or port 53
.fi
.RE
.PP
Records for programs, and for a fleet of sniffers (a file rotated at 64 MiB):
.PP
.RS
.nf
modsniff read \-\-format ndjson go.pcap | jq 'select(.type == "finding")'
modsniff live \-i eth0 \-\-format ndjson \-\-output /var/log/modsniff/records.ndjson \-\-rotate\-size 64M
.fi
.RE
"#;

const SEE_ALSO: &str = r#".SH "SEE ALSO"
.BR tcpdump (8),
.BR pcap\-filter (7),
.BR tshark (1)
.PP
The README and docs/ARCHITECTURE.md of modsniff's source: the report's contract, the
records' fields, the limits.
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every option and argument of every command is on the page, with each of its names.
    #[test]
    fn every_argument_of_every_command_is_on_the_page() {
        let page = page();
        let mut cmd = Cli::command();
        cmd.build();
        let mut seen = 0;
        let all = std::iter::once(&cmd).chain(cmd.get_subcommands());
        for c in all {
            for a in c.get_arguments().filter(|a| !a.is_hide_set()) {
                if let Some(l) = a.get_long() {
                    assert!(
                        page.contains(&format!("\\fB\\-\\-{}\\fR", esc(l))),
                        "{} --{l}",
                        c.get_name()
                    );
                }
                if let Some(s) = a.get_short() {
                    assert!(
                        page.contains(&format!("\\fB\\-{s}\\fR")),
                        "{} -{s}",
                        c.get_name()
                    );
                }
                if a.is_positional() {
                    let v = a.get_value_names().and_then(|v| v.first()).unwrap();
                    assert!(
                        page.contains(&format!("\\fI{}\\fR", esc(v))),
                        "{} {v}",
                        c.get_name()
                    );
                }
                seen += 1;
            }
        }
        assert!(seen > 40, "{seen} arguments");
    }

    #[test]
    fn roff_escapes() {
        assert_eq!(esc("--a\\b"), "\\-\\-a\\eb");
        assert_eq!(text("use `-w` here"), "use \\fB\\-w\\fR here");
        assert_eq!(text("one\n.two"), "one\n\\&.two");
        assert_eq!(text("a\n\nb"), "a\n.PP\nb");
    }
}
