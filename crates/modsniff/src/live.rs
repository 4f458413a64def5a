//! `modsniff live` (sniff an interface) and `modsniff run` (capture while a command runs).
//!
//! `run`'s exit status: the command's own status when it failed (so `modsniff run -- go mod
//! download && deploy` keeps working as before; 128 + the signal when one killed it, as a
//! shell says), otherwise the verdict's (1 when a finding reaches `--fail-on`, else 0); 2 when
//! modsniff itself could not capture.

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
    use modsniff_capture::{LiveConfig, LiveSource, PcapWriter};
    use modsniff_core::KernelStats;
    use modsniff_core::Timestamp;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, Ordering};
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

    /// The stop flag (SIGINT, SIGTERM; SIGHUP too, unless the records go to an --output
    /// file, which SIGHUP reopens instead: the second flag).
    fn interrupted(output: bool) -> Result<(Arc<AtomicBool>, Option<Arc<AtomicBool>>)> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let stop = Arc::new(AtomicBool::new(false));
        let reopen = output.then(|| Arc::new(AtomicBool::new(false)));
        for sig in [SIGINT, SIGTERM] {
            signal_hook::flag::register(sig, stop.clone())
                .context("installing the signal handlers")?;
        }
        signal_hook::flag::register(SIGHUP, reopen.clone().unwrap_or_else(|| stop.clone()))
            .context("installing the signal handlers")?;
        Ok((stop, reopen))
    }

    struct Session {
        src: LiveSource,
        writer: Option<PcapWriter<std::io::BufWriter<std::fs::File>>>,
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
            let writer = match write {
                Some(p) => {
                    let f = std::fs::File::create(p)
                        .with_context(|| format!("creating {}", p.display()))?;
                    let mut w =
                        PcapWriter::new(std::io::BufWriter::new(f), src.linktype(), snaplen)?;
                    // The header written through now: a file that takes no bytes (a full
                    // disk, /dev/full) fails here, before `run` starts its command.
                    w.flush()
                        .with_context(|| format!("writing {}", p.display()))?;
                    Some(w)
                }
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
            })
        }

        /// Reads what is there, at most `max` packets, for up to one read timeout; returns
        /// packets handled.
        fn step(&mut self, rep: &mut dyn Printer, max: u64) -> Result<u64> {
            if self.lost.is_some() {
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
                if let Some(w) = self.writer.as_mut() {
                    w.write_packet(&pkt).with_context(|| {
                        let file = self
                            .write_path
                            .as_deref()
                            .unwrap_or(std::path::Path::new("-w"));
                        format!("writing the capture file {}", file.display())
                    })?;
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
            while Instant::now() < until && n < limit && self.lost.is_none() {
                n += self.step(rep, limit - n)?;
                if until_closed && Instant::now() >= delivered && self.analysis.connections_closed()
                {
                    break;
                }
            }
            Ok(n)
        }

        fn finish(mut self, rep: &mut dyn Printer, slot: Option<&ReplaySlot>) -> Result<Outcome> {
            // The counters of a capture whose interface is gone may be gone with it.
            let k = match self.src.stats() {
                Ok(k) => Some(k),
                Err(_) if self.lost.is_some() => None,
                Err(e) => return Err(e.into()),
            };
            if let Some(mut w) = self.writer.take() {
                w.flush().context("writing the capture file")?;
            }
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
            if let Some(why) = &self.lost {
                errln!("modsniff: warning: the capture stopped: {why}");
                warnings.push(format!("the capture stopped: {why}"));
                self.analysis.split().1.diag.note_read_stopped(
                    format!("the capture stopped: {why}"),
                    self.src.packets_read(),
                );
            }
            // Frames the capture numbered, ARP kept out of the engine included.
            self.analysis.set_frames(self.src.packets_read());
            self.analysis.finish(rep, &name, &warnings, kernel)
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
        let env: HashMap<String, String> = std::env::vars().collect();
        let (stop, reopen) = interrupted(args.out.sink.output.is_some())?;
        let filter = args.filter_expression()?;
        let out = args.out.sink.open(args.out.format, reopen)?;
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
        let analysis = Analysis::new(
            live_config(&args.out, args.stall_after)?,
            go_settings(&args.out, &env)?,
            true,
        );
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
        while !stop.load(Ordering::SeqCst) && packets < limit && s.lost.is_none() {
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
        let outcome = s.finish(rep.as_mut(), slot.as_ref())?;
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
        let (stop, reopen) = interrupted(args.out.sink.output.is_some())?;
        let out = args.out.sink.open(args.out.format, reopen)?;
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
        let transcript = spawn_and_wait(
            command_for(prog),
            &args.command,
            &go_env,
            &stop,
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
        let mut outcome = s.finish(rep.as_mut(), slot.as_ref())?;
        rep.close()?;
        if !exit.success() {
            errln!("modsniff: {prog} {exit}");
            outcome.command_failed = Some(i32::from(exit.shell_status().max(1)));
        }
        Ok(outcome)
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

    /// After Ctrl-C, how long the command has to end on its own (the terminal sent it SIGINT
    /// too, as the same process group) before it is killed.
    const KILL_GRACE: Duration = Duration::from_secs(2);
    /// After the command exits, how long its stderr may stay open (a background child of it
    /// holding the pipe) before the transcript is taken without the rest.
    const STDERR_GRACE: Duration = Duration::from_secs(2);
    /// Bytes of one stderr line held before it is judged (shown or hidden) and kept; the rest
    /// of a longer line follows that judgement and is counted in `long_lines`.
    const MAX_LINE_BYTES: usize = 256 << 10;

    /// Runs the command, its stderr passed through to ours as it comes (less the lines of a
    /// `-x` modsniff added), capturing meanwhile; returns what it said and how it ended.
    fn spawn_and_wait(
        mut cmd: std::process::Command,
        argv: &[String],
        go_env: &HashMap<String, String>,
        stop: &AtomicBool,
        s: &mut Session,
        rep: &mut (dyn Printer + Send),
    ) -> Result<GoTranscript> {
        use std::os::unix::process::ExitStatusExt;
        let plan = plan_x(argv, go_env.get("GOFLAGS").map(String::as_str));
        let hide = matches!(plan, XPlan::Add { .. });
        if let XPlan::Add { goflags } = &plan {
            cmd.env("GOFLAGS", goflags);
        }
        let prog = argv.first().map(String::as_str).unwrap_or_default();
        let mut child = cmd
            .args(argv.get(1..).unwrap_or_default())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {prog}"))?;
        let filter = XFilter::new(
            go_env.get("CC").map(String::as_str),
            go_env.get("CXX").map(String::as_str),
        );
        let pump = StderrPump::start(
            child.stderr.take().context("the command's stderr")?,
            Transcriber::new(filter, hide),
            hide,
        )?;
        let mut stopped: Option<Instant> = None;
        let status = loop {
            if let Err(e) = s.step(rep, u64::MAX) {
                // The capture cannot go on (its file is full, the report cannot be written):
                // the command is not left running unwatched.
                let _ = child.kill();
                let _ = child.wait();
                return Err(e.context(format!("{prog} was killed: the capture stopped")));
            }
            if let Some(st) = child.try_wait().context("waiting for the command")? {
                break Some(st);
            }
            if stop.load(Ordering::SeqCst)
                && stopped.get_or_insert_with(Instant::now).elapsed() >= KILL_GRACE
            {
                let _ = child.kill();
                break child.wait().ok();
            }
        };
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
            s.step(rep, u64::MAX)?;
        }
        let open_line = pump.open_line.load(Ordering::SeqCst);
        // modsniff's own line about the command then starts on a line of its own.
        if open_line && !exit.success() {
            write_stderr(b"\n");
        }
        Ok(pump.finish(exit))
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
