//! `modsniff read FILE...`: analyse captures.

use crate::analyze::{Analysis, engine_config, go_settings};
use crate::cli::ReadArgs;
use crate::report::Reporter;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use modsniff_capture::FileSource;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Files smaller than this finish before a progress bar would be worth drawing.
const PROGRESS_MIN_BYTES: u64 = 32 << 20;

pub fn run(args: ReadArgs) -> Result<ExitCode> {
    let config = engine_config(&args.out)?;
    let env: HashMap<String, String> = std::env::vars().collect();
    let settings = go_settings(&args.out, &env)?;
    let mut rep = Reporter::new(&args.out, Box::new(std::io::stdout()));
    let mut worst = None;
    let progress_ok = !args.out.no_progress && std::io::stderr().is_terminal();
    for path in &args.files {
        // Errors that stop a file before any packet (missing, not a capture) exit 2.
        let mut src = FileSource::open(path)?;
        let name = src.name().to_string();
        let bar = progress_bar(progress_ok, src.total_bytes());
        let mut analysis = Analysis::new(config.clone(), settings.clone(), false);
        let limit = args.count.unwrap_or(u64::MAX);
        let mut n = 0u64;
        let mut last_tick = Instant::now();
        let mut read_error = None;
        while n < limit {
            match src.next_packet() {
                Ok(Some(pkt)) => {
                    n += 1;
                    analysis.push(&pkt, &mut rep);
                }
                Ok(None) => break,
                Err(e) => {
                    read_error = Some(e);
                    break;
                }
            }
            if let Some(b) = &bar
                && n.is_multiple_of(4096)
                && last_tick.elapsed() > Duration::from_millis(100)
            {
                last_tick = Instant::now();
                b.set_position(src.bytes_read());
                b.set_message(format!("{} connections", analysis.stats().connections));
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let mut warnings: Vec<String> = src.warnings().iter().map(|w| w.to_string()).collect();
        if let Some(e) = read_error {
            if n == 0 {
                return Err(e.into());
            }
            // Keep what was read before the failure; say where it stopped.
            warnings.push(e.to_string());
        }
        for w in &warnings {
            eprintln!("modsniff: warning: {w}");
        }
        analysis.set_frames(src.frames());
        let w = analysis.finish(&mut rep, &name, &warnings, None)?;
        worst = worst.max(w);
    }
    rep.close()?;
    Ok(crate::exit_for(worst, args.out.fail_on))
}

fn progress_bar(enabled: bool, total: Option<u64>) -> Option<ProgressBar> {
    let total = total.filter(|t| enabled && *t >= PROGRESS_MIN_BYTES)?;
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(10));
    let style = ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} {msg} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}
