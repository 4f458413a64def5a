//! modsniff: the command-line tool. `main` is glue; the work is in the modules.

mod alloc;
mod analyze;
mod cli;
mod diagnose;
mod go;
mod live;
mod read;
mod report;

use clap::{CommandFactory, Parser};
use cli::{Cli, Command, FailOn};
use diagnose::Severity;
use std::process::ExitCode;

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
            eprintln!("modsniff: {}", error_text(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, each said once (library errors already quote their source).
fn error_text(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    text
}

/// Exit status: 0 when nothing reaches the failing severity, 1 when something does.
pub fn exit_for(worst: Option<Severity>, fail_on: FailOn) -> ExitCode {
    let fails = match (fail_on, worst) {
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
    match cli.command {
        Command::Read(args) => read::run(args),
        Command::Live(args) => live::run_live(args),
        Command::Run(args) => live::run_command(args),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "modsniff", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
