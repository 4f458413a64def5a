//! `modsniff live` (sniff an interface) and `modsniff run` (capture while a command runs).
//!
//! `run`'s exit status: the command's own status when it failed (so `modsniff run -- go mod
//! download && deploy` keeps working as before), otherwise the verdict's (1 when a finding
//! reaches `--fail-on`, else 0); 2 when modsniff itself could not capture.

use crate::cli::{LiveArgs, RunArgs};
use anyhow::Result;
use std::process::ExitCode;

#[cfg(not(feature = "live"))]
fn no_live() -> anyhow::Error {
    anyhow::anyhow!(
        "this modsniff was built without live capture. Rebuild it with the `live` feature \
         (needs libpcap: `apt-get install libpcap-dev`), e.g. \
         `cargo install --path crates/modsniff --features live`; or capture with \
         `tcpdump -i any -w go.pcap` and run `modsniff read go.pcap`"
    )
}

#[cfg(not(feature = "live"))]
pub fn run_live(_args: LiveArgs) -> Result<ExitCode> {
    Err(no_live())
}

#[cfg(not(feature = "live"))]
pub fn run_command(_args: RunArgs) -> Result<ExitCode> {
    Err(no_live())
}

#[cfg(feature = "live")]
pub use imp::{run_command, run_live};

#[cfg(feature = "live")]
mod imp {
    use super::*;
    use crate::analyze::{Analysis, engine_config, go_settings};
    use crate::cli::OutputArgs;
    use crate::report::Reporter;
    use anyhow::Context;
    use modsniff_capture::{LiveConfig, LiveSource, PcapWriter};
    use modsniff_core::KernelStats;
    use modsniff_core::Timestamp;
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    /// How often the engine is told the time while packets are scarce (stalls, idle flows).
    const TICK: Duration = Duration::from_millis(500);

    fn wall_now() -> Timestamp {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp::from_nanos(d.as_nanos() as u64)
    }

    fn interrupted() -> Result<Arc<AtomicBool>> {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        ctrlc::set_handler(move || f.store(true, Ordering::SeqCst))
            .context("installing the Ctrl-C handler")?;
        Ok(flag)
    }

    struct Session {
        src: LiveSource,
        writer: Option<PcapWriter<std::io::BufWriter<std::fs::File>>>,
        analysis: Analysis,
        last_tick: Instant,
    }

    impl Session {
        #[allow(clippy::too_many_arguments)]
        fn open(
            interface: &str,
            filter: Option<String>,
            snaplen: i32,
            promisc: bool,
            buffer_mib: i32,
            immediate: bool,
            write: Option<&std::path::Path>,
            out: &OutputArgs,
            env: &HashMap<String, String>,
        ) -> Result<Session> {
            let mut cfg = LiveConfig::new(interface);
            cfg.filter = filter;
            cfg.snaplen = snaplen.max(64) as u32;
            cfg.promiscuous = promisc;
            cfg.buffer_size = Some((buffer_mib.max(1) as u32) << 20);
            cfg.immediate_mode = immediate;
            let src = LiveSource::open(cfg)?;
            let writer = match write {
                Some(p) => {
                    let f = std::fs::File::create(p)
                        .with_context(|| format!("creating {}", p.display()))?;
                    Some(PcapWriter::new(
                        std::io::BufWriter::new(f),
                        src.linktype(),
                        snaplen.max(64) as u32,
                    )?)
                }
                None => None,
            };
            let analysis = Analysis::new(engine_config(out)?, go_settings(out, env)?, true);
            Ok(Session {
                src,
                writer,
                analysis,
                last_tick: Instant::now(),
            })
        }

        /// Reads what is there, at most `max` packets, for up to one read timeout; returns
        /// packets handled.
        fn step(&mut self, rep: &mut Reporter, max: u64) -> Result<u64> {
            let max = max.min(4096);
            let mut n = 0;
            while n < max
                && let Some(pkt) = self.src.next_packet()?
            {
                if let Some(w) = self.writer.as_mut() {
                    w.write_packet(&pkt).context("writing the capture file")?;
                }
                self.analysis.push(&pkt, rep);
                n += 1;
            }
            if self.last_tick.elapsed() >= TICK {
                self.last_tick = Instant::now();
                self.analysis.advance(wall_now(), rep);
            }
            Ok(n)
        }

        /// Keeps reading for `wait` (at least one block hand-over, so that what arrived
        /// before a stop is read) or until `limit` packets in all; returns packets handled.
        fn drain(&mut self, rep: &mut Reporter, wait: Duration, limit: u64) -> Result<u64> {
            let until = Instant::now() + wait.max(self.src.delivery_delay());
            let mut n = 0;
            while Instant::now() < until && n < limit {
                n += self.step(rep, limit - n)?;
            }
            Ok(n)
        }

        fn finish(mut self, rep: &mut Reporter) -> Result<Option<crate::diagnose::Severity>> {
            let k = self.src.stats()?;
            if let Some(mut w) = self.writer.take() {
                w.flush().context("writing the capture file")?;
            }
            let kernel = KernelStats {
                received: k.received,
                dropped: k.dropped,
                if_dropped: k.if_dropped,
            };
            let name = format!("interface {}", self.src.interface());
            let warnings = if k.dropped + k.if_dropped > 0 {
                vec![format!(
                    "the kernel dropped {} packets ({} by the interface): the analysis misses them; try --buffer-size or a --filter",
                    k.dropped, k.if_dropped
                )]
            } else {
                Vec::new()
            };
            self.analysis.finish(rep, &name, &warnings, Some(kernel))
        }
    }

    pub fn run_live(args: LiveArgs) -> Result<ExitCode> {
        let env: HashMap<String, String> = std::env::vars().collect();
        let stop = interrupted()?;
        let mut rep = Reporter::new(&args.out, Box::new(std::io::stdout()));
        let mut s = Session::open(
            &args.interface,
            args.filter.clone(),
            args.snaplen,
            !args.no_promisc,
            args.buffer_size,
            args.immediate_mode,
            args.write.as_deref(),
            &args.out,
            &env,
        )?;
        let started = Instant::now();
        let limit = args.count.unwrap_or(u64::MAX);
        let mut packets = 0u64;
        while !stop.load(Ordering::SeqCst) && packets < limit {
            if args
                .duration
                .is_some_and(|d| started.elapsed().as_secs_f64() >= d)
            {
                break;
            }
            packets += s.step(&mut rep, limit - packets)?;
        }
        // Packets that arrived before the stop may still sit in a partly filled block.
        s.drain(&mut rep, Duration::ZERO, limit.saturating_sub(packets))?;
        let worst = s.finish(&mut rep)?;
        rep.close()?;
        Ok(crate::exit_for(worst, args.out.fail_on))
    }

    pub fn run_command(args: RunArgs) -> Result<ExitCode> {
        use std::os::unix::process::CommandExt;
        let (prog, rest) = args
            .command
            .split_first()
            .context("no command given after --")?;
        let mut env: HashMap<String, String> = std::env::vars().collect();
        // Under sudo, the command runs as the invoking user with their HOME, like it would
        // without modsniff; its Go settings are read from that environment.
        let ids = match (
            env.get("SUDO_UID").and_then(|v| v.parse::<u32>().ok()),
            env.get("SUDO_GID").and_then(|v| v.parse::<u32>().ok()),
        ) {
            (Some(u), Some(g)) if u != 0 => Some((u, g)),
            _ => None,
        };
        if ids.is_some()
            && let Some(user) = env.get("SUDO_USER").cloned()
        {
            let home = format!("/home/{user}");
            if std::path::Path::new(&home).is_dir() {
                env.insert("HOME".into(), home);
            }
            env.insert("USER".into(), user.clone());
            env.insert("LOGNAME".into(), user);
        }
        let command_for = |p: &str| {
            let mut c = std::process::Command::new(p);
            c.env_clear().envs(&env);
            if let Some((u, g)) = ids {
                c.uid(u).gid(g);
            }
            c
        };
        // The go command's effective settings (its env file included), when it is go.
        let mut go_env = env.clone();
        if std::path::Path::new(prog)
            .file_name()
            .is_some_and(|n| n == "go")
            && let Ok(out) = command_for(prog).args(["env", "-json"]).output()
            && out.status.success()
            && let Ok(vars) = serde_json::from_slice::<HashMap<String, String>>(&out.stdout)
        {
            go_env.extend(vars);
        }
        let stop = interrupted()?;
        let mut rep = Reporter::new(&args.out, Box::new(std::io::stdout()));
        let mut s = Session::open(
            &args.interface,
            None,
            262_144,
            false,
            32,
            false,
            args.write.as_deref(),
            &args.out,
            &go_env,
        )?;
        let mut child = command_for(prog)
            .args(rest)
            .spawn()
            .with_context(|| format!("starting {prog}"))?;
        let status = loop {
            s.step(&mut rep, u64::MAX)?;
            if let Some(st) = child.try_wait().context("waiting for the command")? {
                break Some(st);
            }
            if stop.load(Ordering::SeqCst) {
                // Ctrl-C reached the command too (same process group); give it a moment.
                let _ = child.kill();
                break child.wait().ok();
            }
        };
        s.drain(
            &mut rep,
            Duration::from_secs_f64(args.drain.clamp(0.0, 60.0)),
            u64::MAX,
        )?;
        let worst = s.finish(&mut rep)?;
        rep.close()?;
        let cmd_code = status.and_then(|st| st.code()).unwrap_or(1);
        if cmd_code != 0 {
            eprintln!("modsniff: {prog} exited with status {cmd_code}");
            return Ok(ExitCode::from(cmd_code.clamp(1, 255) as u8));
        }
        Ok(crate::exit_for(worst, args.out.fail_on))
    }
}
