//! `modsniff live` (sniff an interface) and `modsniff run` (capture while a command runs).
//!
//! `run`'s exit status: the command's own status when it failed (so `modsniff run -- go mod
//! download && deploy` keeps working as before; 128 + the signal when one killed it, as a
//! shell says), otherwise the verdict's (1 when a finding reaches `--fail-on`, else 0); 128 +
//! the signal when modsniff was signalled and the command still exited 0; 2 when modsniff
//! itself could not capture (its `-w` file could not be written: the command is stopped).
//!
//! `run` starts its command in a process group of its own, so that ending it ends every
//! process the command started (go's git and proxy helpers) with it; the signals that end
//! modsniff (SIGINT, SIGTERM, SIGHUP) are forwarded to that group, which the terminal no longer
//! reaches.

use crate::analyze::Outcome;
use crate::cli::{LiveArgs, RunArgs};
use anyhow::Result;

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
pub fn run_live(_args: LiveArgs) -> Result<Outcome> {
    Err(no_live())
}

#[cfg(not(feature = "live"))]
pub fn run_command(_args: RunArgs) -> Result<Outcome> {
    Err(no_live())
}

#[cfg(feature = "live")]
pub use imp::{run_command, run_live};

#[cfg(feature = "live")]
mod imp {
    use super::*;
    use crate::analyze::{Analysis, engine_config, go_settings};
    use crate::cli::OutputArgs;
    use crate::extract::{self, Choice, Replay, ReplaySlot, spool::Spool};
    use crate::go::trace::{ExitKind, GoTranscript, Transcriber, XFilter, XPlan, plan_x};
    use crate::report::Printer;
    use crate::stdio::errln;
    use anyhow::Context;
    use modsniff_capture::{LiveConfig, LiveSource, PcapFileWriter};
    use modsniff_core::KernelStats;
    use modsniff_core::Timestamp;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    /// How often the engine is told the time while packets are scarce (stalls, idle flows).
    const TICK: Duration = Duration::from_millis(500);
    /// `run`'s read timeout, in ms: how soon the command's end is noticed, and (as the
    /// kernel's block timeout) how long a packet may wait before it is handed over.
    const RUN_TIMEOUT_MS: u32 = 10;

    fn wall_now() -> Timestamp {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp::from_nanos(d.as_nanos() as u64)
    }

    /// The signals that end a capture: SIGINT, SIGTERM, and SIGHUP unless the records go to an
    /// --output file, which SIGHUP reopens instead (`reopen`, the flag the output watches).
    struct Signals {
        /// A signal came since [`Signals::take`] last looked.
        pending: Arc<AtomicBool>,
        /// The last one that came; 0 before any.
        last: Arc<AtomicUsize>,
        reopen: Option<Arc<AtomicBool>>,
    }

    impl Signals {
        fn register(output: bool) -> Result<Signals> {
            use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
            use signal_hook::flag;
            let pending = Arc::new(AtomicBool::new(false));
            let last = Arc::new(AtomicUsize::new(0));
            let reopen = output.then(|| Arc::new(AtomicBool::new(false)));
            let mut ending = vec![SIGINT, SIGTERM];
            match &reopen {
                Some(r) => {
                    flag::register(SIGHUP, r.clone()).context("installing the signal handlers")?;
                }
                None => ending.push(SIGHUP),
            }
            for sig in ending {
                // `last` first: whoever sees `pending` set finds the signal's number there.
                flag::register_usize(sig, last.clone(), sig as usize)
                    .and_then(|_| flag::register(sig, pending.clone()))
                    .context("installing the signal handlers")?;
            }
            Ok(Signals {
                pending,
                last,
                reopen,
            })
        }

        /// The last signal that came, if one did.
        fn last(&self) -> Option<i32> {
            match self.last.load(Ordering::SeqCst) {
                0 => None,
                n => i32::try_from(n).ok(),
            }
        }

        /// The last signal that came since the previous call (several are one).
        fn take(&self) -> Option<i32> {
            if self.pending.swap(false, Ordering::SeqCst) {
                self.last()
            } else {
                None
            }
        }
    }

    struct Session {
        src: LiveSource,
        writer: Option<PcapFileWriter>,
        /// `-w FILE`: where the writer writes (the extraction reads it back).
        write_path: Option<std::path::PathBuf>,
        /// `--extract` without `-w`: the packets, kept for the extraction.
        spool: Option<Spool>,
        analysis: Analysis,
        last_tick: Instant,
        /// ARP frames of a Linux cooked capture kept out of the engine (`watch::is_cooked_arp`).
        arp: u64,
        /// Why the capture ended on its own (the interface went down or was deleted): what
        /// was read is still reported, with this as the reason it is incomplete.
        lost: Option<String>,
        /// The `-w` file could not be written (a full disk): why, and the last frame analysed.
        /// The capture ends there, what was read is reported, and modsniff exits 2.
        write_failed: Option<(String, u64)>,
    }

    /// With `--extract OUT`: the extractor in front of `rep`, and where the run's replay
    /// goes. `-w FILE` is the replay when given; otherwise a spool keeps the packets.
    fn extracting(
        rep: Box<dyn Printer + Send>,
        out: &OutputArgs,
        filtered: bool,
        write: Option<&std::path::Path>,
    ) -> Result<(Box<dyn Printer + Send>, Option<ReplaySlot>)> {
        let Some(path) = &out.extract else {
            return Ok((rep, None));
        };
        let inputs: Vec<std::path::PathBuf> = write.map(Into::into).into_iter().collect();
        if write.is_some_and(|w| w == path.as_path()) {
            anyhow::bail!("-w and --extract name the same file, {}", path.display());
        }
        let choice = Choice::new(&out.print_settings().selection, filtered);
        let (rep, slot) = extract::wrap(rep, path, choice, &inputs)?;
        Ok((rep, Some(slot)))
    }

    /// `--extract` without `-w`: a spool to keep the packets in for the extraction.
    fn extract_spool(out: &OutputArgs, write: Option<&std::path::Path>) -> Result<Option<Spool>> {
        Ok(match (&out.extract, write) {
            (Some(_), None) => {
                Some(Spool::new(out.extract_spool).context("creating the extract spool")?)
            }
            _ => None,
        })
    }

    impl Session {
        fn open(
            cfg: LiveConfig,
            write: Option<&std::path::Path>,
            spool: Option<Spool>,
            analysis: Analysis,
        ) -> Result<Session> {
            let snaplen = cfg.snaplen;
            let src = LiveSource::open(cfg)?;
            // The header is written through at once: a file that takes no bytes (a full disk,
            // /dev/full) fails here, before `run` starts its command.
            let writer = match write {
                Some(p) => Some(
                    PcapFileWriter::create(p, src.linktype(), snaplen)
                        .with_context(|| format!("writing the capture file {}", p.display()))?,
                ),
                None => None,
            };
            Ok(Session {
                src,
                writer,
                write_path: write.map(Into::into),
                spool,
                analysis,
                last_tick: Instant::now(),
                arp: 0,
                lost: None,
                write_failed: None,
            })
        }

        /// Whether the capture has ended (the interface is gone, or the `-w` file full).
        fn ended(&self) -> bool {
            self.lost.is_some() || self.write_failed.is_some()
        }

        /// A write to the `-w` file failed, after frame `last` was analysed: the capture ends
        /// there. The file was cut back to its last whole packet; what it holds is said at
        /// once, on stderr.
        fn fail_write(&mut self, e: std::io::Error, last: u64) {
            let file = self
                .write_path
                .as_deref()
                .unwrap_or(std::path::Path::new("-w"))
                .display()
                .to_string();
            let (kept, torn) = self
                .writer
                .as_ref()
                .map_or((0, false), |w| (w.packets_on_disk(), w.torn()));
            self.writer = None;
            let tail = if torn {
                ", then part of one (it could not be cut back)"
            } else {
                ", each whole"
            };
            errln!(
                "modsniff: error: writing the capture file {file}: {e}; the capture stopped after frame {last}, and {file} keeps the first {kept} packets{tail}"
            );
            self.write_failed = Some((
                format!("the capture file {file} could not be written: {e}"),
                last,
            ));
        }

        /// Reads what is there, at most `max` packets, for up to one read timeout; returns
        /// packets handled.
        fn step(&mut self, rep: &mut dyn Printer, max: u64) -> Result<u64> {
            if self.ended() {
                // Nothing more will come; `run` still waits for its command, a read timeout
                // at a time.
                std::thread::sleep(Duration::from_millis(u64::from(RUN_TIMEOUT_MS)));
                return Ok(0);
            }
            let max = max.min(4096);
            let mut n = 0;
            while n < max {
                let pkt = match self.src.next_packet() {
                    Ok(Some(pkt)) => pkt,
                    Ok(None) => break,
                    Err(e) => {
                        self.lost = Some(e.to_string());
                        break;
                    }
                };
                if let Some(w) = self.writer.as_mut()
                    && let Err(e) = w.write_packet(&pkt)
                {
                    // The packet is not analysed either: the report ends where the
                    // capture did.
                    let last = pkt.frame.saturating_sub(1);
                    self.fail_write(e, last);
                    break;
                }
                if let Some(s) = self.spool.as_mut() {
                    s.push(&pkt);
                }
                // `-i any` delivers ARP in a cooked header, which the engine would count as
                // a decode problem; it carries nothing the analysis reads.
                if crate::watch::is_cooked_arp(&pkt) {
                    self.arp += 1;
                } else {
                    self.analysis.push(&pkt, rep);
                }
                n += 1;
            }
            if self.last_tick.elapsed() >= TICK {
                self.last_tick = Instant::now();
                self.analysis.advance(wall_now(), rep);
                rep.tick().context("writing the report")?;
            }
            Ok(n)
        }

        /// Keeps reading for `wait` (at least one block hand-over, so that what arrived
        /// before a stop is read) or until `limit` packets in all; with `until_closed`, no
        /// longer than it takes every connection this capture saw open to close. Returns
        /// packets handled.
        fn drain(
            &mut self,
            rep: &mut dyn Printer,
            wait: Duration,
            limit: u64,
            until_closed: bool,
        ) -> Result<u64> {
            let started = Instant::now();
            // What arrived before now is handed over within a few block timeouts (`run`'s
            // are short); the full delivery delay is the bound for the rest.
            let delivered = started
                + self
                    .src
                    .delivery_delay()
                    .min(Duration::from_millis(3 * u64::from(RUN_TIMEOUT_MS)));
            let until = started + wait.max(self.src.delivery_delay());
            let mut n = 0;
            while Instant::now() < until && n < limit && !self.ended() {
                n += self.step(rep, limit - n)?;
                if until_closed && Instant::now() >= delivered && self.analysis.connections_closed()
                {
                    break;
                }
            }
            Ok(n)
        }

        /// The report of what was captured. `interrupted`: `run` was stopped by this signal
        /// (its command with it), which the report says.
        fn finish(
            mut self,
            rep: &mut dyn Printer,
            slot: Option<&ReplaySlot>,
            interrupted: Option<i32>,
        ) -> Result<Outcome> {
            // The counters of a capture whose interface is gone may be gone with it.
            let k = match self.src.stats() {
                Ok(k) => Some(k),
                Err(_) if self.lost.is_some() => None,
                Err(e) => return Err(e.into()),
            };
            if let Some(w) = self.writer.as_mut()
                && let Err(e) = w.flush()
            {
                self.fail_write(e, self.src.packets_read());
            }
            self.writer = None;
            if let Some(slot) = slot {
                slot.set(match (self.spool.take(), self.write_path.clone()) {
                    (Some(spool), _) => spool.into_replay(),
                    (None, Some(path)) => saved_replay(path),
                    (None, None) => Box::new(|_| vec!["no packet was kept for the extract".into()]),
                });
            }
            let kernel = k.map(|k| KernelStats {
                received: k.received,
                dropped: k.dropped,
                if_dropped: k.if_dropped,
            });
            let name = format!("interface {}", self.src.interface());
            let mut warnings = Vec::new();
            if let Some(k) = kernel.filter(|k| k.dropped + k.if_dropped > 0) {
                warnings.push(format!(
                    "the kernel dropped {} packets ({} by the interface): the analysis misses them; try --buffer-size or a filter expression",
                    k.dropped, k.if_dropped
                ));
            }
            // Frames the capture numbered, ARP kept out of the engine included; a packet the
            // `-w` file refused was not analysed.
            let frames = self
                .write_failed
                .as_ref()
                .map_or(self.src.packets_read(), |(_, last)| *last);
            if let Some((why, _)) = &self.write_failed {
                warnings.push(why.clone());
                self.analysis
                    .split()
                    .1
                    .diag
                    .note_read_stopped(why.clone(), frames);
            }
            if let Some(why) = &self.lost {
                errln!("modsniff: warning: the capture stopped: {why}");
                warnings.push(format!("the capture stopped: {why}"));
                self.analysis
                    .split()
                    .1
                    .diag
                    .note_read_stopped(format!("the capture stopped: {why}"), frames);
            }
            if let Some(sig) = interrupted {
                let name = crate::go::trace::signal_name(sig).unwrap_or("a signal");
                warnings.push(format!("interrupted by {name}: the command was stopped"));
                self.analysis.split().1.diag.note_read_stopped(
                    format!("modsniff was interrupted by {name}, and stopped the command"),
                    frames,
                );
            }
            self.analysis.set_frames(frames);
            let mut outcome = self.analysis.finish(rep, &name, &warnings, kernel)?;
            outcome.input_failed |= self.write_failed.is_some();
            Ok(outcome)
        }
    }

    /// The extraction's reading of the `-w` file: every packet captured, with the frame
    /// numbers the analysis gave them.
    fn saved_replay(path: std::path::PathBuf) -> Replay {
        Box::new(move |sink| {
            let mut src = match modsniff_capture::FileSource::open(&path) {
                Ok(s) => s,
                Err(e) => return vec![format!("reading {} for the extract: {e}", path.display())],
            };
            loop {
                match src.next_packet() {
                    Ok(Some(p)) => sink(&p),
                    Ok(None) => return Vec::new(),
                    Err(e) => {
                        return vec![format!("reading {} for the extract: {e}", path.display())];
                    }
                }
            }
        })
    }

    /// The engine's settings for a live capture: `--stall-after` on top of the shared ones.
    fn live_config(out: &OutputArgs, stall_after: f64) -> Result<modsniff_core::Config> {
        let mut config = engine_config(out)?;
        config.limits.stall_after =
            modsniff_core::Duration::from_nanos((stall_after.clamp(0.1, 86_400.0) * 1e9) as u64);
        Ok(config)
    }

    pub fn run_live(args: LiveArgs) -> Result<Outcome> {
        if args.list_interfaces {
            list_interfaces()?;
            return Ok(Outcome::default());
        }
        let interface = args
            .interface
            .as_deref()
            .context("no interface given (-i)")?;
        if args.threads >= 2 && (args.write.is_some() || args.out.extract.is_some()) {
            // Each socket numbers and keeps its own packets: one file in capture order would
            // need a merge of the packets themselves.
            anyhow::bail!(
                "-w and --extract need one socket: use them with --threads 1 (live --threads {} spreads packets over {} sockets)",
                args.threads,
                args.threads
            );
        }
        let env: HashMap<String, String> = std::env::vars().collect();
        let signals = Signals::register(args.out.sink.output.is_some())?;
        let filter = args.filter_expression()?;
        let out = args
            .out
            .sink
            .open(args.out.format, signals.reopen.clone())?;
        let (mut rep, slot) = extracting(
            args.out
                .printer(&args.out.live_print_settings(interface), out)?,
            &args.out,
            filter.is_some(),
            args.write.as_deref(),
        )?;
        let mut cfg = LiveConfig::new(interface);
        cfg.filter = filter;
        cfg.snaplen = args.snaplen.max(64) as u32;
        cfg.promiscuous = !args.no_promisc;
        cfg.buffer_size = Some((args.buffer_size.max(1) as u32) << 20);
        cfg.immediate_mode = args.immediate_mode;
        let config = live_config(&args.out, args.stall_after)?;
        let analysis = Analysis::new(config.clone(), go_settings(&args.out, &env)?, true);
        if args.threads >= 2 {
            let outcome = fanout::run(&args, cfg, config, analysis, rep.as_mut(), &signals)?;
            rep.close()?;
            return Ok(outcome);
        }
        let spool = extract_spool(&args.out, args.write.as_deref())?;
        let mut s = Session::open(cfg, args.write.as_deref(), spool, analysis)?;
        // What tcpdump says once the capture is open, on stderr (stdout is the report).
        errln!(
            "listening on {}, link-type {}, snapshot length {} bytes",
            s.src.interface(),
            link_type_words(s.src.linktype()),
            args.snaplen.max(64)
        );
        let started = Instant::now();
        let limit = args.count.unwrap_or(u64::MAX);
        let mut packets = 0u64;
        while signals.last().is_none() && packets < limit && !s.ended() {
            if args
                .duration
                .is_some_and(|d| started.elapsed().as_secs_f64() >= d)
            {
                break;
            }
            packets += s.step(rep.as_mut(), limit - packets)?;
        }
        // Packets that arrived before the stop may still sit in a partly filled block.
        s.drain(
            rep.as_mut(),
            Duration::ZERO,
            limit.saturating_sub(packets),
            false,
        )?;
        let outcome = s.finish(rep.as_mut(), slot.as_ref(), None)?;
        rep.close()?;
        Ok(outcome)
    }

    pub fn run_command(args: RunArgs) -> Result<Outcome> {
        use std::os::unix::process::CommandExt;
        let prog = args.command.first().context("no command given after --")?;
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
        let signals = Signals::register(args.out.sink.output.is_some())?;
        let out = args
            .out
            .sink
            .open(args.out.format, signals.reopen.clone())?;
        let (mut rep, slot) = extracting(
            args.out
                .printer(&args.out.live_print_settings(&args.interface), out)?,
            &args.out,
            false,
            args.write.as_deref(),
        )?;
        // One command's traffic: a short read timeout notices its end (and hands packets
        // over) within RUN_TIMEOUT_MS, and a ring of --buffer-size MiB is set up in a
        // fraction of the default's time.
        let mut cfg = LiveConfig::new(args.interface.as_str());
        cfg.snaplen = 262_144;
        cfg.buffer_size = Some((args.buffer_size.max(1) as u32) << 20);
        cfg.timeout_ms = RUN_TIMEOUT_MS;
        let analysis = Analysis::new(
            live_config(&args.out, args.stall_after)?,
            go_settings(&args.out, &go_env)?,
            true,
        )
        .joining();
        let spool = extract_spool(&args.out, args.write.as_deref())?;
        let mut s = Session::open(cfg, args.write.as_deref(), spool, analysis)?;
        let (transcript, interrupted) = spawn_and_wait(
            command_for(prog),
            &args.command,
            &go_env,
            &signals,
            &mut s,
            rep.as_mut(),
        )?;
        // Late packets: the closes of the command's connections (its exit closed them).
        s.drain(
            rep.as_mut(),
            Duration::from_secs_f64(args.drain.clamp(0.0, 60.0)),
            u64::MAX,
            true,
        )?;
        let exit = transcript.exit;
        // What go said joins the findings; another command's stderr only when it carried
        // go's messages (a script that runs go).
        let plan = plan_x(&args.command, go_env.get("GOFLAGS").map(String::as_str));
        if plan != XPlan::NotGo || !transcript.errors.is_empty() {
            s.analysis.set_go(transcript);
        }
        let write_failed = s.write_failed.is_some();
        let mut outcome = s.finish(rep.as_mut(), slot.as_ref(), interrupted)?;
        rep.close()?;
        if !exit.success() {
            errln!("modsniff: {prog} {exit}");
        }
        if write_failed {
            // modsniff stopped the command: its status says nothing of its own (exit 2).
        } else if !exit.success() {
            outcome.command_failed = Some(i32::from(exit.shell_status().max(1)));
        } else {
            outcome.interrupted_by = interrupted;
        }
        Ok(outcome)
    }

    /// `live --threads N` (N >= 2): N sockets on the interface in one PACKET_FANOUT group,
    /// each read by a thread of its own running its own engine (`LiveShard`), their events
    /// merged by time (`LiveMerge`) into the diagnosis and the report on this thread.
    ///
    /// ```text
    ///  socket 0 ─▶ thread: LiveShard (engine, TcpWatch) ─┐ bounded
    ///  socket 1 ─▶ thread: LiveShard ...                 ├─▶ LiveMerge ─▶ diagnosis, report
    /// ```
    ///
    /// - The kernel spreads the packets (hash of the flow, symmetric: both directions to one
    ///   socket; IPv4 fragments reassembled before hashing). ICMP errors, hashed on their own
    ///   addresses, and IPv6 datagrams, whose fragments are hashed on the addresses alone,
    ///   are handed between shards (see `LiveShard`).
    /// - Each socket has its own ring of `--buffer-size` MiB. Between a shard and the merge
    ///   at most `LAG` batches wait, and the merge holds at most `MAX_HELD` events of a shard
    ///   ahead of the others' clocks: beyond that the shard waits, its ring fills, and the
    ///   kernel counts the drops (the report's `kernel` counters, summed over the sockets).
    /// - Frames are numbered in one sequence across the sockets, in the order the shards read
    ///   them; connection ids are unique, not dense (`LiveMerge`). The records, findings and
    ///   verdict are one engine's; their order may differ where the shards' clocks do.
    /// - -w and --extract are refused (each socket has its own packets).
    mod fanout {
        use super::*;
        use crate::watch::TcpWatch;
        use modsniff_capture::LiveStats;
        use modsniff_core::{Config, Event, LiveMerge, LiveShard, Packet, Stamped, Stats};
        use std::sync::atomic::AtomicU64;

        /// Events a shard gathers before handing them to the merge (also handed over at every
        /// idle read and every `SEND_EVERY`).
        const BATCH: usize = 1_024;
        /// Batches in flight from one shard to the merge.
        const LAG: usize = 8;
        /// Events of one shard the merge holds while another shard's clock is behind; beyond
        /// it the merge stops taking that shard's batches (and the shard waits).
        const MAX_HELD: usize = 65_536;
        /// How long a shard keeps events before handing them over while packets come.
        const SEND_EVERY: Duration = Duration::from_millis(50);
        /// Once a shard has stopped reading, how long it waits for the others to stop too
        /// (their last ICMP errors handed to it) before it ends.
        const SETTLE: Duration = Duration::from_secs(5);

        enum Msg {
            /// Events in the shard's clock order, and its clock: none later will be older.
            Events(Vec<Stamped>, Timestamp),
            End(Box<Ended>),
        }

        struct Ended {
            events: Vec<Stamped>,
            stats: Stats,
            kernel: Option<LiveStats>,
            /// Why the socket could not be read on (the interface went away).
            lost: Option<String>,
            clock: Timestamp,
            /// Packets the shard handed to the others (ICMP errors, IPv6 datagrams).
            handed: u64,
        }

        /// What every shard thread shares.
        struct Shared {
            stop: AtomicBool,
            /// Frames numbered so far, over every socket.
            frames: AtomicU64,
            limit: u64,
            /// Packets stamped before this were received before every socket had joined the
            /// group, possibly by several sockets: left out.
            start: Timestamp,
            /// Shards that stopped reading.
            stopped: AtomicUsize,
            count: usize,
        }

        /// Opens the `count` sockets and joins them to one new fanout group.
        fn open(cfg: &LiveConfig, count: usize) -> Result<Vec<LiveSource>> {
            let mut sources = Vec::with_capacity(count);
            let mut group = None;
            for _ in 0..count {
                let src = LiveSource::open(cfg.clone())?;
                let id = src.join_fanout(group).with_context(|| {
                    format!("live --threads {count}: joining the sockets into one fanout group")
                })?;
                group = Some(id);
                sources.push(src);
            }
            Ok(sources)
        }

        /// Drops the stalls of connections whose SYN this shard saw unanswered: they are
        /// still connecting, and the connect stage judges them when they end (as
        /// `Output::on_stall` does with one engine's watch).
        fn keep_stalls(out: &mut Vec<Stamped>, watch: &TcpWatch) {
            out.retain(|(_, ev)| match ev {
                Event::Stall(s) => watch.answered(s.client, s.server) != Some(false),
                _ => true,
            });
        }

        /// One shard's thread: reads its socket until told to stop (then for one block
        /// hand-over more), hands its events over, ends its engine once every shard has
        /// stopped reading.
        fn shard_loop(
            mut src: LiveSource,
            mut shard: LiveShard,
            shared: &Shared,
            tx: mpsc::SyncSender<Msg>,
        ) {
            let mut watch = TcpWatch::default();
            let mut out: Vec<Stamped> = Vec::with_capacity(BATCH);
            let mut last_tick = Instant::now();
            let mut last_send = Instant::now();
            let mut stopping: Option<Instant> = None;
            let mut lost = None;
            let send = |out: &mut Vec<Stamped>, watch: &TcpWatch, clock: Timestamp| {
                keep_stalls(out, watch);
                let batch = std::mem::take(out);
                tx.send(Msg::Events(batch, clock)).is_ok()
            };
            loop {
                if stopping.is_none() && shared.stop.load(Ordering::SeqCst) {
                    stopping = Some(Instant::now());
                }
                // What arrived before the stop may sit in a partly filled block.
                if stopping.is_some_and(|t| t.elapsed() >= src.delivery_delay()) {
                    break;
                }
                match src.next_packet() {
                    Ok(Some(pkt)) if pkt.ts < shared.start => {}
                    Ok(Some(pkt)) => {
                        let frame = shared.frames.fetch_add(1, Ordering::Relaxed) + 1;
                        if frame > shared.limit {
                            continue;
                        }
                        if frame == shared.limit {
                            shared.stop.store(true, Ordering::SeqCst);
                        }
                        let pkt = Packet { frame, ..pkt };
                        watch.packet(&pkt);
                        // As one engine's session: ARP of a cooked capture stays out.
                        if !crate::watch::is_cooked_arp(&pkt) {
                            shard.push(&pkt, &mut out);
                        }
                    }
                    Ok(None) => {
                        shard.idle(&mut out);
                        if !send(&mut out, &watch, shard.now()) {
                            return;
                        }
                        last_send = Instant::now();
                    }
                    Err(e) => {
                        lost = Some(e.to_string());
                        shared.stop.store(true, Ordering::SeqCst);
                        break;
                    }
                }
                if last_tick.elapsed() >= TICK {
                    last_tick = Instant::now();
                    shard.advance(wall_now(), &mut out);
                }
                if out.len() >= BATCH || last_send.elapsed() >= SEND_EVERY {
                    if !send(&mut out, &watch, shard.now()) {
                        return;
                    }
                    last_send = Instant::now();
                }
            }
            // Every shard stops reading before any ends: the ICMP errors one hands over
            // are then all in the others' inboxes.
            shared.stopped.fetch_add(1, Ordering::SeqCst);
            let waiting = Instant::now();
            while shared.stopped.load(Ordering::SeqCst) < shared.count && waiting.elapsed() < SETTLE
            {
                std::thread::sleep(Duration::from_millis(2));
            }
            let kernel = src.stats().ok();
            let clock = shard.now();
            let handed = shard.handed_off();
            let stats = shard.finish(&mut out);
            keep_stalls(&mut out, &watch);
            let _ = tx.send(Msg::End(Box::new(Ended {
                events: out,
                stats,
                kernel,
                lost,
                clock,
                handed,
            })));
        }

        /// One message of shard `s`.
        fn take(
            s: usize,
            msg: Msg,
            merge: &mut LiveMerge,
            open: &mut usize,
            ends: &mut [Option<Box<Ended>>],
        ) {
            match msg {
                Msg::Events(mut evs, mark) => merge.add(s, &mut evs, mark),
                Msg::End(mut e) => {
                    merge.add(s, &mut e.events, e.clock);
                    merge.end(s, std::mem::take(&mut e.stats));
                    *open -= 1;
                    if let Some(slot) = ends.get_mut(s) {
                        *slot = Some(e);
                    }
                }
            }
        }

        pub(super) fn run(
            args: &LiveArgs,
            cfg: LiveConfig,
            config: Config,
            mut analysis: Analysis,
            rep: &mut (dyn Printer + Send),
            signals: &Signals,
        ) -> Result<Outcome> {
            let count = args.threads;
            let sources = open(&cfg, count)?;
            let shared = Shared {
                stop: AtomicBool::new(false),
                frames: AtomicU64::new(0),
                limit: args.count.unwrap_or(u64::MAX),
                start: wall_now(),
                stopped: AtomicUsize::new(0),
                count,
            };
            let linktype = sources
                .first()
                .map_or(modsniff_core::LinkType(1), LiveSource::linktype);
            errln!(
                "listening on {}, link-type {}, snapshot length {} bytes ({count} sockets in a PACKET_FANOUT group, one engine each)",
                cfg.interface,
                link_type_words(linktype),
                args.snaplen.max(64)
            );
            let (mut merge, shards) = LiveMerge::new(config, count);
            let (_, out) = analysis.split();
            // The shards watch their own connections (`keep_stalls`).
            out.watch = None;
            let started = Instant::now();
            let mut ends: Vec<Option<Box<Ended>>> = (0..count).map(|_| None).collect();
            let mut failed: Option<anyhow::Error> = None;
            std::thread::scope(|scope| -> Result<()> {
                let mut rxs = Vec::with_capacity(count);
                for (src, shard) in sources.into_iter().zip(shards) {
                    let (tx, rx) = mpsc::sync_channel(LAG);
                    let shared = &shared;
                    std::thread::Builder::new()
                        .name(format!("modsniff-live{}", shard.index()))
                        .spawn_scoped(scope, move || shard_loop(src, shard, shared, tx))
                        .context("starting a capture thread")?;
                    rxs.push(rx);
                }
                let mut last_tick = Instant::now();
                let mut open = count;
                while open > 0 {
                    if !shared.stop.load(Ordering::SeqCst)
                        && (signals.last().is_some()
                            || args
                                .duration
                                .is_some_and(|d| started.elapsed().as_secs_f64() >= d))
                    {
                        shared.stop.store(true, Ordering::SeqCst);
                    }
                    let lag = merge.laggard();
                    let mut progress = false;
                    for (s, rx) in rxs.iter().enumerate() {
                        // A shard far ahead of the laggard waits (bounded memory here).
                        while lag == Some(s) || merge.held(s) < MAX_HELD {
                            match rx.try_recv() {
                                Ok(msg) => {
                                    take(s, msg, &mut merge, &mut open, &mut ends);
                                    progress = true;
                                }
                                Err(mpsc::TryRecvError::Empty) => break,
                                Err(mpsc::TryRecvError::Disconnected) => {
                                    if ends.get(s).is_some_and(Option::is_none) {
                                        // The thread is gone without its end (it panicked).
                                        merge.end(s, Stats::default());
                                        open -= 1;
                                        shared.stop.store(true, Ordering::SeqCst);
                                        failed.get_or_insert_with(|| {
                                            anyhow::anyhow!("capture thread {s} failed")
                                        });
                                        if let Some(slot) = ends.get_mut(s) {
                                            *slot = Some(Box::new(Ended {
                                                events: Vec::new(),
                                                stats: Stats::default(),
                                                kernel: None,
                                                lost: None,
                                                clock: Timestamp::ZERO,
                                                handed: 0,
                                            }));
                                        }
                                    }
                                    break;
                                }
                            }
                            if matches!(ends.get(s), Some(Some(_))) {
                                break;
                            }
                        }
                    }
                    merge.release(&mut |ev: Event| out.on_event(rep, &ev));
                    if !progress
                        && let Some(s) = merge.laggard()
                        && let Some(rx) = rxs.get(s)
                        && let Ok(msg) = rx.recv_timeout(Duration::from_millis(20))
                    {
                        take(s, msg, &mut merge, &mut open, &mut ends);
                    }
                    if last_tick.elapsed() >= TICK {
                        last_tick = Instant::now();
                        if let Err(e) = rep.tick() {
                            // The shards end too (and their sends fail once this returns).
                            shared.stop.store(true, Ordering::SeqCst);
                            return Err(anyhow::Error::from(e).context("writing the report"));
                        }
                    }
                }
                Ok(())
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            let ends: Vec<Box<Ended>> = ends.into_iter().flatten().collect();
            let (_, out) = analysis.split();
            // As `Analysis::finish`: silence is judged against the end of the capture, and
            // what the engines' ends gave is final.
            if let Some(t) = ends.iter().map(|e| e.clock).max() {
                out.diag.saw_time(t);
            }
            out.ending();
            let mut stats = merge.finish(&mut |ev: Event| out.on_event(rep, &ev));
            // Frames: every packet numbered (ARP kept out of the engines included).
            let frames = shared.frames.load(Ordering::SeqCst).min(shared.limit);
            let kernel = ends
                .iter()
                .map(|e| e.kernel)
                .collect::<Option<Vec<LiveStats>>>()
                .map(|ks| KernelStats {
                    received: ks.iter().map(|k| k.received).sum(),
                    dropped: ks.iter().map(|k| k.dropped).sum(),
                    if_dropped: ks.iter().map(|k| k.if_dropped).sum(),
                });
            // How the kernel spread the packets (what each socket received), on stderr.
            let spread: Vec<String> = ends
                .iter()
                .map(|e| e.kernel.map_or("?".into(), |k| k.received.to_string()))
                .collect();
            errln!(
                "{count} sockets received {} packets; {} handed between them (ICMP errors, IPv6 datagrams)",
                spread.join(" + "),
                ends.iter().map(|e| e.handed).sum::<u64>()
            );
            let name = format!("interface {}", cfg.interface);
            let mut warnings = Vec::new();
            if let Some(k) = kernel.filter(|k| k.dropped + k.if_dropped > 0) {
                warnings.push(format!(
                    "the kernel dropped {} packets ({} by the interface): the analysis misses them; try --buffer-size or a filter expression",
                    k.dropped, k.if_dropped
                ));
            }
            if let Some(why) = ends.iter().find_map(|e| e.lost.clone()) {
                errln!("modsniff: warning: the capture stopped: {why}");
                warnings.push(format!("the capture stopped: {why}"));
                out.diag
                    .note_read_stopped(format!("the capture stopped: {why}"), frames);
            }
            analysis.set_frames(frames);
            stats.frames = frames;
            analysis.conclude(stats, rep, &name, &warnings, kernel)
        }
    }

    /// `live -D`: the interfaces libpcap can capture on, numbered from 1, on stdout, in
    /// tcpdump -D's form (`2.any (Pseudo-device that captures on all interfaces) [Up]`);
    /// of the flags, libpcap's list tells up and loopback.
    fn list_interfaces() -> Result<()> {
        use std::fmt::Write as _;
        let mut text = String::new();
        for (i, d) in modsniff_capture::list_interfaces()?.iter().enumerate() {
            let _ = write!(text, "{}.{}", i + 1, d.name);
            if let Some(desc) = &d.description {
                let _ = write!(text, " ({desc})");
            }
            let flags: Vec<&str> = [(d.is_up, "Up"), (d.is_loopback, "Loopback")]
                .iter()
                .filter_map(|&(on, word)| on.then_some(word))
                .collect();
            let flags = if flags.is_empty() {
                "none".to_string()
            } else {
                flags.join(", ")
            };
            let _ = write!(text, " [{flags}]");
            text.push('\n');
        }
        crate::stdio::out_all(text.as_bytes())?;
        Ok(())
    }

    /// libpcap's name and description of a live capture's data link type
    /// (`pcap_datalink_val_to_name` / `_to_description`), as tcpdump prints them:
    /// `EN10MB (Ethernet)`.
    fn link_type_words(lt: modsniff_core::LinkType) -> String {
        let (name, desc) = match lt.0 {
            0 => ("NULL", "BSD loopback"),
            1 => ("EN10MB", "Ethernet"),
            12 | 14 | 101 => ("RAW", "Raw IP"),
            108 => ("LOOP", "OpenBSD loopback"),
            113 => ("LINUX_SLL", "Linux cooked v1"),
            228 => ("IPV4", "Raw IPv4"),
            229 => ("IPV6", "Raw IPv6"),
            239 => ("NFLOG", "Linux netfilter log messages"),
            276 => ("LINUX_SLL2", "Linux cooked v2"),
            n => return format!("{n}"),
        };
        format!("{name} ({desc})")
    }

    /// Once modsniff has signalled the command's group (a signal forwarded, or SIGTERM when
    /// the capture cannot go on), how long the command has to end before the group is killed.
    const KILL_GRACE: Duration = Duration::from_secs(2);
    /// After the command exits, how long its stderr may stay open (a background child of it
    /// holding the pipe) before the transcript is taken without the rest.
    const STDERR_GRACE: Duration = Duration::from_secs(2);
    /// Bytes of one stderr line held before it is judged (shown or hidden) and kept; the rest
    /// of a longer line follows that judgement and is counted in `long_lines`.
    const MAX_LINE_BYTES: usize = 256 << 10;

    /// The command's process group (its id is the command's pid).
    struct Group(rustix::process::Pid);

    impl Group {
        fn of(child: &std::process::Child) -> Result<Group> {
            i32::try_from(child.id())
                .ok()
                .and_then(rustix::process::Pid::from_raw)
                .map(Group)
                .context("the command's process id")
        }

        /// Sends `sig` to every process of the group; one already gone is not an error.
        fn signal(&self, sig: i32) {
            if let Some(sig) = rustix::process::Signal::from_named_raw(sig) {
                let _ = rustix::process::kill_process_group(self.0, sig);
            }
        }
    }

    /// Runs the command in a process group of its own, its stderr passed through to ours as
    /// it comes (less the lines of a `-x` modsniff added), capturing meanwhile; returns what
    /// it said and how it ended, and the signal that stopped modsniff (and so the command), if
    /// one did.
    fn spawn_and_wait(
        mut cmd: std::process::Command,
        argv: &[String],
        go_env: &HashMap<String, String>,
        signals: &Signals,
        s: &mut Session,
        rep: &mut (dyn Printer + Send),
    ) -> Result<(GoTranscript, Option<i32>)> {
        use rustix::process::Signal;
        use std::os::unix::process::{CommandExt, ExitStatusExt};
        let plan = plan_x(argv, go_env.get("GOFLAGS").map(String::as_str));
        let hide = matches!(plan, XPlan::Add { .. });
        if let XPlan::Add { goflags } = &plan {
            cmd.env("GOFLAGS", goflags);
        }
        let prog = argv.first().map(String::as_str).unwrap_or_default();
        let mut child = cmd
            .args(argv.get(1..).unwrap_or_default())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {prog}"))?;
        let group = Group::of(&child)?;
        let filter = XFilter::new(
            go_env.get("CC").map(String::as_str),
            go_env.get("CXX").map(String::as_str),
        );
        let pump = StderrPump::start(
            child.stderr.take().context("the command's stderr")?,
            Transcriber::new(filter, hide),
            hide,
        )?;
        // When modsniff began ending the group.
        let mut stopping: Option<Instant> = None;
        let mut interrupted = None;
        // The report cannot be written: the run ends with this error, once the command has.
        let mut report_failed: Option<anyhow::Error> = None;
        let status = loop {
            if report_failed.is_some() {
                std::thread::sleep(Duration::from_millis(u64::from(RUN_TIMEOUT_MS)));
            } else if let Err(e) = s.step(rep, u64::MAX) {
                report_failed = Some(e);
            }
            // The capture cannot go on (its file is full, the report cannot be written): the
            // command is not left running unwatched.
            if (report_failed.is_some() || s.write_failed.is_some()) && stopping.is_none() {
                errln!("modsniff: stopping {prog}: the capture cannot go on");
                group.signal(Signal::TERM.as_raw());
                stopping = Some(Instant::now());
            }
            // What would have reached the command from the terminal, as its process group.
            if let Some(sig) = signals.take() {
                group.signal(sig);
                interrupted.get_or_insert(sig);
                stopping.get_or_insert_with(Instant::now);
            }
            if let Some(st) = child.try_wait().context("waiting for the command")? {
                break Some(st);
            }
            if stopping.is_some_and(|t| t.elapsed() >= KILL_GRACE) {
                group.signal(Signal::KILL.as_raw());
                break child.wait().ok();
            }
        };
        if stopping.is_some() {
            // What is left of the group once its leader ended (a shell's background jobs
            // ignore SIGINT): modsniff started it and ends it all.
            group.signal(Signal::KILL.as_raw());
        }
        let exit = match status {
            Some(st) => match (st.code(), st.signal()) {
                (Some(c), _) => ExitKind::Exited(c),
                (None, Some(sig)) => ExitKind::Signaled(sig),
                (None, None) => ExitKind::Unknown,
            },
            None => ExitKind::Unknown,
        };
        // The pipe ends when the last process holding it does: normally at once.
        let ended = Instant::now();
        while !pump.done() && ended.elapsed() < STDERR_GRACE {
            if report_failed.is_some() {
                std::thread::sleep(Duration::from_millis(u64::from(RUN_TIMEOUT_MS)));
            } else if let Err(e) = s.step(rep, u64::MAX) {
                report_failed = Some(e);
            }
        }
        if let Some(e) = report_failed {
            return Err(e.context(format!("{prog} was stopped: the report cannot be written")));
        }
        let open_line = pump.open_line.load(Ordering::SeqCst);
        // modsniff's own line about the command then starts on a line of its own.
        if open_line && !exit.success() {
            write_stderr(b"\n");
        }
        Ok((pump.finish(exit), interrupted))
    }

    /// A thread that reads the command's stderr, writes it to ours and feeds the transcript.
    struct StderrPump {
        transcriber: Arc<Mutex<Option<Transcriber>>>,
        done: mpsc::Receiver<()>,
        /// What was last written to our stderr did not end its line.
        open_line: Arc<AtomicBool>,
    }

    impl StderrPump {
        fn start(src: std::process::ChildStderr, t: Transcriber, hide: bool) -> Result<StderrPump> {
            let transcriber = Arc::new(Mutex::new(Some(t)));
            let (tx, done) = mpsc::channel();
            let shared = transcriber.clone();
            let open_line = Arc::new(AtomicBool::new(false));
            let open = open_line.clone();
            std::thread::Builder::new()
                .name("stderr".into())
                .spawn(move || {
                    let mut lines = LineSplitter {
                        transcriber: shared,
                        hide,
                        buf: Vec::new(),
                        long: None,
                        open_line: open,
                    };
                    lines.run(src);
                    let _ = tx.send(());
                })
                .context("starting the stderr reader")?;
            Ok(StderrPump {
                transcriber,
                done,
                open_line,
            })
        }

        fn done(&self) -> bool {
            !matches!(self.done.try_recv(), Err(mpsc::TryRecvError::Empty))
        }

        /// The transcript so far; a reader still running passes the rest through unkept.
        fn finish(self, exit: ExitKind) -> GoTranscript {
            let t = self
                .transcriber
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            match t {
                Some(t) => t.finish(exit),
                None => Transcriber::new(XFilter::default(), false).finish(exit),
            }
        }
    }

    /// Cuts the byte stream into lines. Hiding, it writes a line once it is whole and judged;
    /// otherwise it writes bytes as they come (progress bars redraw with `\r` mid-line).
    struct LineSplitter {
        transcriber: Arc<Mutex<Option<Transcriber>>>,
        hide: bool,
        buf: Vec<u8>,
        /// Within a line longer than MAX_LINE_BYTES: whether it is shown.
        long: Option<bool>,
        open_line: Arc<AtomicBool>,
    }

    impl LineSplitter {
        fn run(&mut self, mut src: impl std::io::Read) {
            let mut chunk = vec![0u8; 64 << 10];
            loop {
                let n = match src.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                let data = &chunk[..n];
                if !self.hide {
                    self.write(data);
                }
                let mut rest = data;
                while !rest.is_empty() {
                    match rest.iter().position(|&b| b == b'\n') {
                        Some(i) => {
                            self.part(&rest[..=i], true);
                            rest = &rest[i + 1..];
                        }
                        None => {
                            self.part(rest, false);
                            rest = &[];
                        }
                    }
                }
            }
            // A last line without its newline.
            if !self.buf.is_empty() {
                let show = self.judge(false);
                self.emit(show);
            }
        }

        fn part(&mut self, bytes: &[u8], ends_line: bool) {
            if let Some(show) = self.long {
                if self.hide && show {
                    self.write(bytes);
                }
                if ends_line {
                    self.long = None;
                }
                return;
            }
            self.buf.extend_from_slice(bytes);
            if ends_line {
                let show = self.judge(false);
                self.emit(show);
            } else if self.buf.len() >= MAX_LINE_BYTES {
                let show = self.judge(true);
                self.emit(show);
                self.long = Some(show);
            }
        }

        /// Hands the buffered line to the transcript; true when it is shown.
        fn judge(&mut self, long: bool) -> bool {
            let line = self.buf.strip_suffix(b"\n").unwrap_or(&self.buf);
            let text = String::from_utf8_lossy(line);
            let mut guard = self.transcriber.lock().unwrap_or_else(|e| e.into_inner());
            match guard.as_mut() {
                Some(t) => {
                    if long {
                        t.long_line();
                    }
                    t.line_at(&text, Some(wall_now()))
                }
                // Taken already (the command ended long ago): pass the rest through.
                None => true,
            }
        }

        fn emit(&mut self, show: bool) {
            if self.hide && show {
                let buf = std::mem::take(&mut self.buf);
                self.write(&buf);
                self.buf = buf;
            }
            self.buf.clear();
        }

        fn write(&self, bytes: &[u8]) {
            if let Some(&last) = bytes.last() {
                self.open_line.store(last != b'\n', Ordering::SeqCst);
            }
            write_stderr(bytes);
        }
    }

    /// Our stderr; a reader that went away does not stop the command's output being read.
    fn write_stderr(bytes: &[u8]) {
        crate::stdio::err_bytes(bytes);
    }
}
