//! modsniff: the command-line tool. `main` is glue; the work is in the modules.

mod alloc;
mod analyze;
mod cli;
mod diagnose;
mod extract;
mod go;
mod join;
mod live;
mod man;
mod read;
mod report;
mod stdio;
mod watch;

use analyze::Outcome;
use clap::{CommandFactory, Parser};
use cli::{Cli, Command, FailOn};
use diagnose::Severity;
use std::process::ExitCode;
use stdio::errln;

fn main() -> ExitCode {
    // Keeps the allocator's option constructor linked in (src/alloc.rs).
    alloc::keep_defaults_linked();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // A reader that went away (`modsniff man | head`) is not an error (ripgrep's way).
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            errln!("modsniff: {}", error_text(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, each said once (library errors already quote their source; a
/// cause that repeats what is said and adds to it replaces it).
fn error_text(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        // "writing the report" over a cause that names what it was writing (the extract,
        // the HTML page): the cause says it better.
        if c.starts_with(&text) || text == "writing the report" && c.starts_with("writing ") {
            text = c;
        } else if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    text
}

/// The exit status, from what the run found: the wrapped command's own status when it failed
/// (`modsniff run -- go mod download && deploy` keeps working as without modsniff); else 1
/// when a finding reaches the failing severity, 0 otherwise; 2 when an input could not be read
/// (the others still reported), as for bad usage.
fn exit_status(outcome: Outcome, fail_on: FailOn) -> ExitCode {
    if let Some(code) = outcome.command_failed {
        // Clamped: 0 would read as success, and an exit status is one byte.
        return ExitCode::from(code.clamp(1, 255) as u8);
    }
    if let Some(sig) = outcome.interrupted_by {
        return ExitCode::from((128 + sig).clamp(1, 255) as u8);
    }
    if outcome.input_failed {
        return ExitCode::from(2);
    }
    let fails = match (fail_on, outcome.worst) {
        (FailOn::Never, _) | (_, None) => false,
        (FailOn::Error, Some(s)) => s >= Severity::Error,
        (FailOn::Warning, Some(s)) => s >= Severity::Warning,
    };
    if fails {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let (outcome, fail_on) = match cli.command {
        Command::Read(args) => {
            let fail_on = args.out.fail_on;
            (read::run(args)?, fail_on)
        }
        Command::Live(args) => {
            let fail_on = args.out.fail_on;
            (live::run_live(args)?, fail_on)
        }
        Command::Run(args) => {
            let fail_on = args.out.fail_on;
            (live::run_command(args)?, fail_on)
        }
        Command::Completions { shell } => {
            // Generated whole, then written: clap_complete's generators panic on a failed
            // write (`modsniff completions bash | head`).
            let mut cmd = Cli::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "modsniff", &mut script);
            stdio::out_all(&script)?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Man => {
            stdio::out_all(man::page().as_bytes())?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Schema => {
            let mut text = serde_json::to_vec_pretty(&report::records::schema())?;
            text.push(b'\n');
            stdio::out_all(&text)?;
            return Ok(ExitCode::SUCCESS);
        }
    };
    Ok(exit_status(outcome, fail_on))
}
