//! `modsniff read FILE...`: analyse captures.

use crate::analyze::{Analysis, engine_config, go_settings};
use crate::cli::ReadArgs;
use crate::report::Reporter;
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::io::Read;
use std::process::ExitCode;

pub fn run(args: ReadArgs) -> Result<ExitCode> {
    let config = engine_config(&args.out)?;
    let env: HashMap<String, String> = std::env::vars().collect();
    let settings = go_settings(&args.out, &env)?;
    let mut rep = Reporter::new(&args.out, Box::new(std::io::stdout()));
    let mut worst = None;
    for path in &args.files {
        let name = path.display().to_string();
        let input: Box<dyn Read + Send> = if name == "-" {
            Box::new(std::io::stdin())
        } else {
            Box::new(std::fs::File::open(path).with_context(|| format!("cannot open {name}"))?)
        };
        let mut analysis = Analysis::new(config.clone(), settings.clone(), false);
        let mut n = 0u64;
        let limit = args.count.unwrap_or(u64::MAX);
        let res = modsniff_capture::for_each_packet(input, |pkt| {
            if n < limit {
                n += 1;
                analysis.push(pkt, &mut rep);
            }
        });
        let mut warnings = Vec::new();
        if let Err(e) = res {
            if n == 0 {
                anyhow::bail!("{name}: {e}");
            }
            warnings.push(format!("{name}: {e}"));
        }
        let w = analysis.finish(&mut rep, &name, &warnings, None)?;
        worst = worst.max(w);
    }
    rep.close()?;
    Ok(crate::exit_for(worst, args.out.fail_on))
}
