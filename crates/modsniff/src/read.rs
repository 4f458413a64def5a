//! `modsniff read FILE... [EXPRESSION]`: analyse captures, optionally only the packets a
//! tcpdump filter expression selects.
//!
//! The filter sits in front of the engine: a packet it rejects is not pushed (it still has
//! its frame number, so evidence keeps the capture's numbering, as Wireshark keeps frame
//! numbers under a display filter), and `-c COUNT` counts the packets it kept, as tcpdump's
//! `-c` does.

use crate::analyze::{Analysis, Outcome, engine_config, go_settings};
use crate::cli::{self, ReadArgs};
use crate::extract::{self, Choice, Replay, spool::Spool};
use crate::go::trace::GoTranscript;
use crate::report::Printer;
use crate::stdio::errln;
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use modsniff_capture::{CaptureError, FileSource, Format};
use modsniff_core::{Engine, Event, FellBack, ShardedEngine};
use modsniff_core::{LinkType, Packet, Stats, Timestamp};
use modsniff_filter::{Filter, FilterError, Program};
use std::collections::HashMap;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Files smaller than this finish before a progress bar would be worth drawing.
const PROGRESS_MIN_BYTES: u64 = 32 << 20;

/// Events handed from the engine thread to the output thread at a time: large enough that
/// the channel and its wake-ups are not a per-event cost (256 measured ~10 % slower), small
/// enough to bound what is queued (with `QUEUE_BATCHES`: at most ~2k events, a few MiB, in
/// flight; 1,024 peaked at 67 MiB on the full corpus under mimalloc, 512 at 65 MiB).
const EVENT_BATCH: usize = 512;
const QUEUE_BATCHES: usize = 2;
/// `--threads` from which the engine is sharded (`ShardedEngine`, see `sharded_engine`).
/// Below it, two threads pipeline one engine and the output. Two shards with shard 0 on the
/// reader's thread cost 1.41x the CPU of one thread (ndjson; 1.52x text), the pipeline
/// 1.22x (1.25x); on a busy two-core machine the shards were faster than the pipeline for
/// text (0.75x its wall time) but not for ndjson (1.07x): not clearly faster for both
/// (BENCHMARKS.md, "Two shards on two cores").
const SHARDS_FROM: usize = 3;

/// The sharded engine for `--threads N` (N >= `SHARDS_FROM`). With two (when `SHARDS_FROM`
/// is 2), shard 0 runs on the reader's thread (`ShardedEngine::new_local`): three threads
/// (reader and shard 0, shard 1, output) instead of four, and the packets of shard 0 pushed
/// from the reader's buffer instead of copied for another thread: 0.93x the CPU of four
/// threads on two cores (BENCHMARKS.md). From three on, every shard has a thread of its own,
/// so that the reader's thread (reading, routing, merging) does not carry an engine's share
/// as well.
fn sharded_engine(config: modsniff_core::Config, threads: usize) -> ShardedEngine {
    let engine = if threads == 2 {
        ShardedEngine::new_local(config, threads)
    } else {
        ShardedEngine::new(config, threads)
    };
    engine.with_recycling()
}

/// What an event weighs against `EVENT_BATCH`: one, and one more per 16 names or HTTP
/// transactions a connection carries. A batch of connections that each keep a thousand
/// certificate names (2,048 in flight held ~90 MiB) goes out after a few of them.
fn batch_weight(ev: &Event) -> usize {
    match ev {
        Event::Connection(c) => {
            let names: usize = c.tls.as_ref().map_or(0, |t| {
                t.certificates
                    .iter()
                    .chain(&t.client_certificates)
                    .map(|x| x.san.len() + x.san_ip.len())
                    .sum()
            });
            1 + (names + c.http.len()) / 16
        }
        _ => 1,
    }
}

/// What the engine thread hands the output thread, in order.
enum ToOutput {
    Events(Vec<Event>),
    /// The capture's clock at its end (`Diagnoser::saw_time`).
    SawTime(modsniff_core::Timestamp),
}

/// `--threads` when not given: for records (ndjson, json, html), two where there are two
/// cores to run them on, else one; for the text report, one. Two pipeline one engine and the
/// output; from `SHARDS_FROM` on a capture file, the engine is sharded (see
/// `read_pipelined`); the output is the same (speed and memory: BENCHMARKS.md). The text
/// report's output thread has little to do (diagnosis, no records): on the full benchmark
/// corpus two threads took 1.03x one thread's time on an idle machine and 1.12x on a busy one,
/// for 1.13-1.18x its CPU, where records gain 1.2-1.3x from the second thread.
pub fn default_threads(format: cli::Format) -> usize {
    match format {
        cli::Format::Text => 1,
        cli::Format::Json | cli::Format::Ndjson | cli::Format::Html => {
            std::thread::available_parallelism().map_or(1, |n| n.get().min(2))
        }
    }
}

/// Reads every file in turn; returns what they found together.
pub fn run(args: ReadArgs) -> Result<Outcome> {
    let inputs = args.inputs()?;
    let filter = match &inputs.filter {
        Some(text) => Some(compile(text, &inputs.files)?),
        None => None,
    };
    // go's stderr for the capture: joined as `modsniff run` joins what it captured.
    let go_files: Vec<(&str, &std::path::PathBuf)> = [
        ("--go-stderr", args.go_stderr.as_ref()),
        ("--go-trace", args.go_trace.as_ref()),
    ]
    .into_iter()
    .filter_map(|(opt, p)| p.map(|p| (opt, p)))
    .collect();
    let go = if go_files.is_empty() {
        None
    } else {
        if inputs.files.len() != 1 {
            anyhow::bail!(
                "{} goes with one capture file ({} given)",
                go_files[0].0,
                inputs.files.len()
            );
        }
        // The trace after the errors, as one transcript: the join matches by URL and host.
        let mut text = String::new();
        for (_, p) in &go_files {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            text.push_str(&String::from_utf8_lossy(&bytes));
            if !text.ends_with('\n') {
                text.push('\n');
            }
        }
        Some(GoTranscript::from_text(&text))
    };
    let config = engine_config(&args.out)?;
    let env: HashMap<String, String> = std::env::vars().collect();
    let settings = go_settings(&args.out, &env)?;
    let print_settings = args.out.print_settings();
    let out = args.out.sink.open(args.out.format, None)?;
    let mut rep = args.out.printer(&print_settings, out)?;
    // `-w OUT` (tcpdump's `-r in -w out EXPR`) and `--extract OUT`: the same extraction.
    let mut slot = None;
    if let Some(out) = args.write.as_ref().or(args.out.extract.as_ref()) {
        let choice = Choice::new(&print_settings.selection, filter.is_some());
        let (wrapped, s) = extract::wrap(rep, out, choice, &inputs.files)?;
        rep = wrapped;
        slot = Some(s);
    }
    let mut outcome = Outcome::default();
    let progress_ok = !args.out.no_progress && std::io::stderr().is_terminal();
    let threads = args
        .threads
        .unwrap_or_else(|| default_threads(args.out.format));
    // Files that could not be read at all (missing, not a capture, refused by the filter) are
    // said on stderr as they come and make the exit status 2; the others are still reported,
    // as `cat` and tcpdump go on past a missing file.
    let interrupt = Interrupt::register()?;
    let mut unreadable = 0usize;
    let mut analysed = 0usize;
    let mut say = |e: anyhow::Error| {
        errln!("modsniff: {}", crate::error_text(&e));
        unreadable += 1;
    };
    // Standard input ends itself at a signal, after the bytes that had arrived: the reading
    // loops go on to its end instead of stopping at the flag.
    let no_signal = Interrupt::never();
    for path in &inputs.files {
        let stdin = path.as_os_str() == "-";
        let opened = if stdin {
            FileSource::from_reader(Box::new(StdinUntilSignal::new(&interrupt)), "-".into())
        } else {
            FileSource::open(path)
        };
        let stop = if stdin { &no_signal } else { &interrupt };
        let mut src = match opened {
            Ok(src) => src,
            Err(e) => {
                say(e.into());
                continue;
            }
        };
        let name = src.name().to_string();
        // Zero bytes is no capture at all (a capture that was never written, a pipe that
        // carried nothing): saying "no problem found" about it would be a lie.
        if src.format() == Format::Empty {
            if let Some(sig) = interrupt.signal() {
                say(anyhow::anyhow!(
                    "{name}: interrupted by {} before any byte arrived",
                    crate::go::trace::signal_name(sig).unwrap_or("a signal")
                ));
                outcome.interrupted_by = Some(sig);
                break;
            }
            say(anyhow::anyhow!(
                "{name}: empty input (0 bytes): not a capture file"
            ));
            continue;
        }
        let bar = progress_bar(progress_ok, src.total_bytes());
        let mut analysis = Analysis::new(config.clone(), settings.clone(), false);
        if let Some(t) = &go {
            analysis = analysis.joining();
            analysis.set_go(t.clone());
        }
        let limit = args.count.unwrap_or(u64::MAX);
        let mut gate = filter.as_ref().map(Gate::new);
        // An input that cannot be read twice (standard input, a pipe) is spooled for the
        // extraction; a file is read again.
        let mut spool = match (&slot, src.total_bytes()) {
            (Some(_), None) => {
                Some(Spool::new(args.out.extract_spool).context("creating the extract spool")?)
            }
            _ => None,
        };
        // The last packet read: its frame and time, for a capture cut short after it.
        let mut last_packet = None;
        let (n, read_error, stats) = if threads >= 2 {
            // Shards need a file they can read again (`read_pipelined`); standard input
            // and pipes run one engine beside the output.
            let shards = src
                .total_bytes()
                .filter(|_| threads >= SHARDS_FROM)
                .map(|_| sharded_engine(config.clone(), threads));
            read_pipelined(
                shards,
                path,
                &mut src,
                &mut analysis,
                rep.as_mut(),
                limit,
                bar.as_ref(),
                gate.as_mut(),
                spool.as_mut(),
                &mut last_packet,
                stop,
            )?
        } else {
            let (n, e) = read_packets(
                &mut src,
                limit,
                bar.as_ref(),
                gate.as_mut(),
                stop,
                &mut |pkt| {
                    if let Some(s) = spool.as_mut() {
                        s.push(pkt);
                    }
                    analysis.push(pkt, rep.as_mut());
                    analysis.stats().connections
                },
                &mut last_packet,
            );
            (n, e, None)
        };
        if let Some(slot) = &slot {
            slot.set(match spool {
                Some(s) => s.into_replay(),
                None => file_replay(path.clone(), filter.clone(), limit),
            });
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        if let Some(g) = &gate {
            if let Some(e) = &g.refused {
                // libpcap refuses to compile such a filter for the file's link type.
                say(anyhow::anyhow!(
                    "{name}: filter expression `{}`: {e}",
                    g.filter.expression()
                ));
                continue;
            }
            if args.out.verbose {
                errln!(
                    "modsniff: {name}: the filter kept {} of {} packets",
                    g.kept,
                    g.kept + g.filtered
                );
            }
        }
        let mut warnings: Vec<String> = src.warnings().iter().map(|w| w.to_string()).collect();
        let interrupted = interrupt.signal();
        if let Some(sig) = interrupted {
            // What was read is analysed and reported; what was not is said, so the verdict
            // cannot read OK.
            warnings.push(format!(
                "{name}: interrupted by {} after {n} packets: the rest was not read",
                crate::go::trace::signal_name(sig).unwrap_or("a signal")
            ));
        }
        if let Some(e) = read_error {
            if n == 0 {
                say(e.into());
                continue;
            }
            // Keep what was read before the failure; say where it stopped.
            warnings.push(e.to_string());
        }
        for w in &warnings {
            errln!("modsniff: warning: {w}");
        }
        if let Some(sig) = interrupted {
            let (_, out) = analysis.split();
            out.diag.note_read_stopped(
                format!(
                    "interrupted by {}",
                    crate::go::trace::signal_name(sig).unwrap_or("a signal")
                ),
                src.frames(),
            );
        }
        // Reading stopped before the end of the input: the capture is cut short, and the
        // verdict must say so.
        if let Some(w) = warnings.iter().find(|_| interrupted.is_none()) {
            let why = w
                .strip_prefix(name.as_str())
                .and_then(|r| r.strip_prefix(": "))
                .unwrap_or(w);
            let (_, out) = analysis.split();
            let last = src.frames();
            let ts = last_packet.filter(|(f, _)| *f == last).map(|(_, t)| t);
            out.diag.note_capture_cut(why.to_string(), last, ts);
        } else if n == 0 {
            analysis.split().1.diag.note_no_packets();
        }
        analysis.set_frames(src.frames());
        analysis.set_reordered(src.reordered_packets());
        let found = match stats {
            Some(stats) => analysis.conclude(stats, rep.as_mut(), &name, &warnings, None)?,
            None => analysis.finish(rep.as_mut(), &name, &warnings, None)?,
        };
        outcome = outcome.and(found);
        analysed += 1;
        if let Some(sig) = interrupted {
            outcome.interrupted_by = Some(sig);
            break;
        }
    }
    outcome.input_failed = unreadable > 0;
    if analysed == 0 && outcome.input_failed {
        // Nothing was read: the errors said are the whole answer (no empty report).
        return Ok(outcome);
    }
    rep.close()?;
    Ok(outcome)
}

/// Compiles the filter expression; an error says where, with the expression underlined.
fn compile(text: &str, files: &[std::path::PathBuf]) -> Result<Filter> {
    Filter::new(text).map_err(|e| {
        let mut msg = e.to_string();
        if let Some(pointer) = e.pointer(text) {
            for line in pointer.lines() {
                msg.push_str("\n  ");
                msg.push_str(line);
            }
        }
        let first = text.split_whitespace().next().unwrap_or("");
        if matches!(e, FilterError::Unsupported { .. }) {
            msg.push_str(
                "\n(modsniff's filter covers tcpdump's common primitives; for the others, let \
                 libpcap filter first: tcpdump -r FILE -w - 'EXPRESSION' | modsniff read -)",
            );
        } else if !files.is_empty() && std::path::Path::new(first).exists() {
            msg.push_str(&format!(
                "\n(`{first}` is a file: with -r every argument is the filter expression; give \
                 each file with -r, or put the files first and the expression after them)"
            ));
        }
        anyhow::anyhow!(msg)
    })
}

/// The filter in front of the engine for one file: the program for the current link type
/// (a pcapng file may change it between interfaces) and what it let through.
struct Gate<'f> {
    filter: &'f Filter,
    program: Option<(LinkType, Program<'f>)>,
    kept: u64,
    filtered: u64,
    /// The expression cannot apply to a link type in the file (as libpcap refuses to
    /// compile it for that link type): reading stops.
    refused: Option<FilterError>,
}

impl<'f> Gate<'f> {
    fn new(filter: &'f Filter) -> Gate<'f> {
        Gate {
            filter,
            program: None,
            kept: 0,
            filtered: 0,
            refused: None,
        }
    }

    /// Whether the packet goes to the engine; `None` when reading must stop.
    fn admits(&mut self, pkt: &Packet<'_>) -> Option<bool> {
        let program = match self.program {
            Some((lt, p)) if lt == pkt.linktype => p,
            _ => match self.filter.for_link_type(pkt.linktype.0) {
                Ok(p) => {
                    self.program = Some((pkt.linktype, p));
                    p
                }
                Err(e) => {
                    self.refused = Some(e);
                    return None;
                }
            },
        };
        let pass = program.matches(pkt.data, pkt.orig_len);
        if pass {
            self.kept += 1;
        } else {
            self.filtered += 1;
        }
        Some(pass)
    }
}

/// Reads packets into `push` (which returns the connection count, for the progress bar)
/// until `limit` packets went in; with a filter, only the packets it admits go in and
/// count. Returns how many packets were read and the error that stopped reading, if any.
fn read_packets(
    src: &mut FileSource,
    limit: u64,
    bar: Option<&ProgressBar>,
    mut gate: Option<&mut Gate<'_>>,
    interrupt: &Interrupt,
    push: &mut dyn FnMut(&Packet<'_>) -> u64,
    last: &mut Option<(u64, Timestamp)>,
) -> (u64, Option<CaptureError>) {
    let mut n = 0u64;
    let mut pushed = 0u64;
    let mut last_tick = Instant::now();
    let mut conns = 0;
    while pushed < limit && !interrupt.is_set() {
        match src.next_packet() {
            Ok(Some(pkt)) => {
                n += 1;
                // The file's last frame read (the reorder window may hand it out earlier).
                if last.is_none_or(|(f, _)| pkt.frame > f) {
                    *last = Some((pkt.frame, pkt.ts));
                }
                let admit = match gate.as_deref_mut() {
                    None => true,
                    Some(g) => match g.admits(&pkt) {
                        Some(admit) => admit,
                        None => return (n, None),
                    },
                };
                if admit {
                    pushed += 1;
                    conns = push(&pkt);
                }
            }
            Ok(None) => return (n, None),
            Err(e) => return (n, Some(e)),
        }
        if let Some(b) = bar
            && n.is_multiple_of(4096)
            && last_tick.elapsed() > Duration::from_millis(100)
        {
            last_tick = Instant::now();
            b.set_position(src.bytes_read());
            b.set_message(format!("{conns} connections"));
        }
    }
    (n, None)
}

/// `--threads N` (N >= `SHARDS_FROM`) on a capture file: the reader on this thread, N engines
/// on threads of their own (`ShardedEngine`: each owns the flows whose key hashes to it, and
/// their events are merged back into one engine's order; with two, shard 0 on this thread,
/// see `sharded_engine`), and the diagnosis and record writing on one more. Below
/// `SHARDS_FROM`, or on standard input or a pipe (`shards` is
/// `None`: it cannot be read again, see below), one engine on this thread and the output on
/// the other: a two-stage pipeline.
///
/// The diagnosis needs every connection in emission order (later-success,
/// DNS-vs-connection checks, the findings cap), so it stays single, fed the engine's events
/// over a bounded channel exactly as the single-threaded loop feeds them. The output is
/// byte-for-byte `--threads 1`'s, bounds included: once a shard's share of a flow-table
/// bound acts (`ShardedEngine::fallen_back`), one engine reads the file again from the
/// start, its events of the packets the shards already gave dropped, and goes on alone.
// The reader's controls (limit, progress, filter, signal, last packet) go through as they
// are to `read_packets`, which the single-threaded path calls with the same list.
#[allow(clippy::too_many_arguments)]
fn read_pipelined(
    mut shards: Option<ShardedEngine>,
    path: &std::path::Path,
    src: &mut FileSource,
    analysis: &mut Analysis,
    rep: &mut (dyn Printer + Send),
    limit: u64,
    bar: Option<&ProgressBar>,
    gate: Option<&mut Gate<'_>>,
    mut spool: Option<&mut Spool>,
    last: &mut Option<(u64, Timestamp)>,
    interrupt: &Interrupt,
) -> Result<(u64, Option<CaptureError>, Option<Stats>)> {
    let filter = gate.as_ref().map(|g| g.filter);
    let (single, out) = analysis.split();
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<ToOutput>(QUEUE_BATCHES);
        // Batches go back to the reader once read: it frees the events one engine made
        // here, hands each event of the shards back to the shard that made it, to be freed
        // on that thread, and reuses the vectors (frees of another thread's allocations cost
        // more: glibc's contended on its arena lock and doubled the CPU time; mimalloc's are
        // cheaper, still a few percent of the run).
        let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<Event>>();
        // Named so that `top -H` and `perf report --comm` tell the stages apart.
        let writer = std::thread::Builder::new()
            .name("modsniff-output".into())
            .spawn_scoped(scope, move || {
                for msg in rx {
                    match msg {
                        ToOutput::Events(batch) => {
                            for ev in &batch {
                                out.on_event(rep, ev);
                            }
                            // The engine thread may be gone (finished): then drop here.
                            let _ = back_tx.send(batch);
                        }
                        ToOutput::SawTime(ts) => out.diag.saw_time(ts),
                    }
                }
            })
            .context("starting the output thread")?;
        let mut batch: Vec<Event> = Vec::with_capacity(EVENT_BATCH);
        let mut weight = 0usize;
        // A send fails only when the output thread is gone (it panicked): stop feeding it;
        // the join below reports it.
        let mut alive = true;
        // Without the shards (one engine, or the shards gone), batches are freed here.
        let mut flush = |engine: Option<&mut ShardedEngine>,
                         batch: &mut Vec<Event>,
                         weight: &mut usize,
                         force: bool| {
            if alive && (force || *weight >= EVENT_BATCH) && !batch.is_empty() {
                *weight = 0;
                // Free every batch already read (at most the ones in flight), keep one vector.
                let mut spare = None;
                let mut engine = engine;
                while let Ok(mut done) = back_rx.try_recv() {
                    match engine.as_deref_mut() {
                        Some(e) => e.recycle(&mut done),
                        None => done.clear(),
                    }
                    spare = Some(done);
                }
                let spare = spare.unwrap_or_else(|| Vec::with_capacity(EVENT_BATCH));
                let full = std::mem::replace(batch, spare);
                alive = tx.send(ToOutput::Events(full)).is_ok();
            }
        };
        // The shards fell back at packet `from` of the `pushed` they were given: one engine
        // reads them again, and what it emits from `from` on goes out.
        let fall_back =
            |from: u64,
             pushed: u64,
             single: &mut Engine,
             batch: &mut Vec<Event>,
             weight: &mut usize,
             flush: &mut dyn FnMut(&mut Vec<Event>, &mut usize)| {
                let mut src = match FileSource::open(path) {
                    Ok(s) => s,
                    Err(e) => return Err(anyhow::Error::from(e)),
                };
                let mut gate = filter.map(Gate::new);
                let mut before: Vec<Event> = Vec::new();
                let mut index = 0u64;
                let (_, err) = read_packets(
                    &mut src,
                    pushed,
                    None,
                    gate.as_mut(),
                    &Interrupt::never(),
                    &mut |pkt| {
                        if index < from {
                            single.push(pkt, &mut before);
                            before.clear();
                        } else {
                            single.push(pkt, &mut |ev: Event| {
                                *weight += batch_weight(&ev);
                                batch.push(ev);
                            });
                            flush(batch, weight);
                        }
                        index += 1;
                        0
                    },
                    &mut None,
                );
                match err {
                    Some(e) if index < pushed => Err(e.into()),
                    _ => Ok(()),
                }
            };
        let mut pushed = 0u64;
        let mut failed: Option<anyhow::Error> = None;
        let (n, err) = read_packets(
            src,
            limit,
            bar,
            gate,
            interrupt,
            &mut |pkt| {
                if let Some(s) = spool.as_deref_mut() {
                    s.push(pkt);
                }
                pushed += 1;
                let mut sink = |ev: Event| {
                    weight += batch_weight(&ev);
                    batch.push(ev);
                };
                match shards.as_mut() {
                    Some(e) => {
                        e.push(pkt, &mut sink);
                        if let Some(from) = e.fallen_back() {
                            shards = None;
                            let r = fall_back(
                                from,
                                pushed,
                                single,
                                &mut batch,
                                &mut weight,
                                &mut |b, w| flush(None, b, w, false),
                            );
                            failed = failed.take().or(r.err());
                        }
                    }
                    None => single.push(pkt, &mut sink),
                }
                flush(shards.as_mut(), &mut batch, &mut weight, false);
                match shards.as_ref() {
                    Some(e) => e.connections(),
                    None => single.stats().connections,
                }
            },
            last,
        );
        // As `Analysis::finish`: the diagnosis learns the capture's end before the events
        // the engine's finish emits.
        if let Some(e) = shards.as_mut() {
            e.drain(&mut |ev: Event| {
                weight += batch_weight(&ev);
                batch.push(ev);
            });
            if let Some(from) = e.fallen_back() {
                shards = None;
                let r = fall_back(
                    from,
                    pushed,
                    single,
                    &mut batch,
                    &mut weight,
                    &mut |b, w| flush(None, b, w, false),
                );
                failed = failed.take().or(r.err());
            }
        }
        flush(shards.as_mut(), &mut batch, &mut weight, true);
        let now = match shards.as_ref() {
            Some(e) => e.now(),
            None => single.now(),
        };
        let _ = tx.send(ToOutput::SawTime(now));
        let stats = match shards.take() {
            Some(e) => match e.finish(&mut |ev: Event| batch.push(ev)) {
                Ok(stats) => stats,
                Err(FellBack { from }) => {
                    let r = fall_back(
                        from,
                        pushed,
                        single,
                        &mut batch,
                        &mut weight,
                        &mut |b, w| flush(None, b, w, false),
                    );
                    failed = failed.take().or(r.err());
                    single.finish(&mut |ev: Event| batch.push(ev))
                }
            },
            None => single.finish(&mut |ev: Event| batch.push(ev)),
        };
        flush(None, &mut batch, &mut weight, true);
        drop(tx);
        writer
            .join()
            .map_err(|_| anyhow::anyhow!("the output thread panicked"))?;
        if let Some(e) = failed {
            return Err(e.context("reading the capture again with one engine"));
        }
        Ok((n, err, Some(stats)))
    })
}

/// The extraction's second reading of a capture file: the same packets the analysis read
/// (the filter expression and `-c` applied alike), with their frame numbers.
fn file_replay(path: PathBuf, filter: Option<Filter>, limit: u64) -> Replay {
    Box::new(move |sink| {
        let mut src = match FileSource::open(&path) {
            Ok(s) => s,
            Err(e) => {
                return vec![format!(
                    "reading {} again for the extract: {e}",
                    path.display()
                )];
            }
        };
        let mut gate = filter.as_ref().map(Gate::new);
        // The analysis already answered any signal; this reading goes to the end it read.
        let (_, err) = read_packets(
            &mut src,
            limit,
            None,
            gate.as_mut(),
            &Interrupt::never(),
            &mut |pkt| {
                sink(pkt);
                0
            },
            &mut None,
        );
        err.map(|e| {
            vec![format!(
                "reading {} again for the extract: {e}",
                path.display()
            )]
        })
        .unwrap_or_default()
    })
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

/// SIGINT and SIGTERM during a read: reading stops at the next packet and the report of what
/// was read is printed (tcpdump prints its counts the same way); a second signal ends the
/// process at once, as if no handler were installed.
struct Interrupt {
    set: Arc<AtomicBool>,
    which: Arc<AtomicUsize>,
}

impl Interrupt {
    fn register() -> Result<Interrupt> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        use signal_hook::flag;
        let set = Arc::new(AtomicBool::new(false));
        let which = Arc::new(AtomicUsize::new(0));
        for sig in [SIGINT, SIGTERM] {
            // Registered first, so it sees the flag as it was before this signal.
            flag::register_conditional_default(sig, Arc::clone(&set))
                .and_then(|_| flag::register_usize(sig, Arc::clone(&which), sig as usize))
                .and_then(|_| flag::register(sig, Arc::clone(&set)))
                .context("installing the SIGINT/SIGTERM handlers")?;
        }
        Ok(Interrupt { set, which })
    }

    /// One no signal sets.
    fn never() -> Interrupt {
        Interrupt {
            set: Arc::new(AtomicBool::new(false)),
            which: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn is_set(&self) -> bool {
        self.set.load(Ordering::Relaxed)
    }

    /// The signal that interrupted the read, if one did.
    fn signal(&self) -> Option<i32> {
        self.is_set()
            .then(|| self.which.load(Ordering::Relaxed) as i32)
            .filter(|s| *s > 0)
    }
}

/// How often a read waiting on an idle standard input looks whether a signal asked it to stop.
const STDIN_WAKE: Duration = Duration::from_millis(100);

/// Standard input, read by a thread of its own so that SIGINT or SIGTERM ends a read that
/// waits on an idle pipe or terminal (`tcpdump -w - | modsniff read -` before traffic comes):
/// signal-hook installs its handlers with SA_RESTART, so a read(2) blocked in this thread
/// would resume after the signal and wait for the next byte. This reader wakes every
/// `STDIN_WAKE` and ends the input once the signal's flag is set; the thread stays blocked
/// until the process ends. Four chunks in flight bound what it holds.
struct StdinUntilSignal {
    chunks: mpsc::Receiver<std::io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    at: usize,
    stop: Arc<AtomicBool>,
}

impl StdinUntilSignal {
    fn new(interrupt: &Interrupt) -> Self {
        let (tx, rx) = mpsc::sync_channel(4);
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin().lock();
            loop {
                let mut buf = vec![0; 1 << 16];
                let sent = match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        tx.send(Ok(buf))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        break;
                    }
                };
                if sent.is_err() {
                    break;
                }
            }
        });
        StdinUntilSignal {
            chunks: rx,
            chunk: Vec::new(),
            at: 0,
            stop: Arc::clone(&interrupt.set),
        }
    }
}

impl Read for StdinUntilSignal {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.chunk.len() {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(0);
            }
            match self.chunks.recv_timeout(STDIN_WAKE) {
                Ok(chunk) => {
                    self.chunk = chunk?;
                    self.at = 0;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
