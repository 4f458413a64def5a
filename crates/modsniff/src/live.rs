//! `modsniff live` and `modsniff run`.

use crate::cli::{LiveArgs, RunArgs};
use anyhow::Result;
use std::process::ExitCode;

pub fn run_live(_args: LiveArgs) -> Result<ExitCode> {
    anyhow::bail!("live capture is not built in yet")
}

pub fn run_command(_args: RunArgs) -> Result<ExitCode> {
    anyhow::bail!("run is not built in yet")
}
