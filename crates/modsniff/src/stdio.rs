//! Standard output and standard error for the binary, neither of which may stop it.
//!
//! SIGPIPE: Rust's runtime sets it to "ignore" before `main`, and modsniff keeps it so: a
//! write to a pipe whose reader went away then fails with EPIPE instead of killing the
//! process. That matters to `modsniff run`, which must keep waiting for its command, and to
//! `live -w FILE`, whose capture file must not be cut short because `| head` stopped reading
//! the report. Every write therefore handles EPIPE:
//!
//! - the report on standard output goes through `report::PipeGuard`, which swallows it (the
//!   run ends normally, with its usual exit status);
//! - other output on standard output (`completions`, `man`, `schema`) returns the error to
//!   `main`, which exits 0 on a broken pipe, as ripgrep does;
//! - standard error is written through [`errln!`], which ignores every error: there is no
//!   place left to report a failure to write to standard error (`eprintln!` panics instead).
//!
//! A command that `modsniff run` starts gets SIGPIPE at its default action (std's `Command`
//! resets it in the child), as it would under a shell.

use std::fmt;
use std::io::Write;

/// `eprintln!` that never panics: a closed or full standard error loses the line.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::stdio::err_line(format_args!($($arg)*))
    };
}
pub(crate) use errln;

/// Writes one line to standard error, ignoring errors.
pub fn err_line(args: fmt::Arguments<'_>) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_fmt(args);
    let _ = e.write_all(b"\n");
    let _ = e.flush();
}

/// Writes bytes to standard error as they are (no newline added), ignoring errors.
#[cfg_attr(not(feature = "live"), allow(dead_code))]
pub fn err_bytes(bytes: &[u8]) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(bytes);
    let _ = e.flush();
}

/// Writes `bytes` to standard output; a broken pipe comes back as an error for `main`.
pub fn out_all(bytes: &[u8]) -> std::io::Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_all(bytes)?;
    o.flush()
}
