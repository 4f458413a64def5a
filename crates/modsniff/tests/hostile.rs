//! Hostile input (issue 8): deterministic mutants of every capture in fixtures/ and
//! ../shared/pcaps/public, read in process through `FileSource` and `Engine` (capture + core),
//! then a smaller pass of mutants through the built binary (diagnosis and report layers).
//!
//! Mutants are derived from a seeded PRNG, so a failure names its file, case number and seed
//! and is reproduced exactly (`HOSTILE_ONLY=<file substring>` narrows a run, and the failing
//! bytes are written under the target's tmp dir). Per case we assert: no panic, the engine's
//! own accounting stays within `Limits` after every packet (live flows, reassembly memcap,
//! pending IP datagrams), every pushed packet is counted, every reserved byte is given back.
//! Time is measured and printed (slowest case, total), never asserted: the machine is shared.
//! `HOSTILE_CASES` overrides the total number of in-process cases (default 20,000).

use crate::common::{bin, captures, fixtures, root};
use modsniff_capture::{FileSource, ReadLimits};
use modsniff_core::{Config, Engine, Event, Limits, LinkType, Packet, Timestamp};
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Default total of in-process cases across all inputs (the issue asks for at least 10,000;
/// 20,000 take a few seconds in release mode).
const DEFAULT_TOTAL_CASES: usize = 20_000;

/// SplitMix64: tiny, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// FNV-1a, to give each input file its own seed stream independent of directory order.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Link types worth trying: the supported ones (so the mutant decodes as something else), a
/// few unsupported ones, and arbitrary values.
const LINKTYPES: [u32; 14] = [
    0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 239, 105, 127, 147,
];

fn random_linktype(rng: &mut Rng) -> u32 {
    if rng.chance(4) {
        rng.next() as u32 & if rng.chance(2) { 0xffff } else { u32::MAX }
    } else {
        LINKTYPES[rng.below(LINKTYPES.len())]
    }
}

/// Length fields: the edges that parsers get wrong.
fn interesting_len(rng: &mut Rng, current: u32) -> u32 {
    const V: [u32; 18] = [
        0,
        1,
        2,
        3,
        4,
        7,
        8,
        12,
        15,
        16,
        28,
        0x7fff,
        0xffff,
        0x1_0000,
        262_144,
        262_145,
        0x7fff_ffff,
        0xffff_ffff,
    ];
    match rng.below(5) {
        0 => current.wrapping_add(1),
        1 => current.wrapping_sub(1),
        2 => current.wrapping_add(rng.below(4096) as u32),
        3 => rng.next() as u32,
        _ => V[rng.below(V.len())],
    }
}

/// Where the records (pcap) or blocks (pcapng) of a capture are, so that mutations can aim
/// at header fields and move whole packets around.
#[derive(Clone, Debug)]
struct Layout {
    kind: Kind,
    /// File header length (pcap: 24; pcapng: 0, the SHB is a block).
    header_len: usize,
    /// (offset, length) of each record or block, in file order.
    records: Vec<(usize, usize)>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Pcap { le: bool, rec_hdr: usize },
    PcapNg,
    Other,
}

fn rd32(b: &[u8], at: usize, le: bool) -> Option<u32> {
    let a: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if le {
        u32::from_le_bytes(a)
    } else {
        u32::from_be_bytes(a)
    })
}

fn wr32(b: &mut [u8], at: usize, le: bool, v: u32) {
    let bytes = if le { v.to_le_bytes() } else { v.to_be_bytes() };
    if let Some(dst) = at.checked_add(4).and_then(|e| b.get_mut(at..e)) {
        dst.copy_from_slice(&bytes);
    }
}

fn wr16(b: &mut [u8], at: usize, le: bool, v: u16) {
    let bytes = if le { v.to_le_bytes() } else { v.to_be_bytes() };
    if let Some(dst) = at.checked_add(2).and_then(|e| b.get_mut(at..e)) {
        dst.copy_from_slice(&bytes);
    }
}

fn layout(b: &[u8]) -> Layout {
    let magic = b.get(..4);
    let pcap = match magic {
        Some([0xd4, 0xc3, 0xb2, 0xa1]) | Some([0x4d, 0x3c, 0xb2, 0xa1]) => Some((true, 16)),
        Some([0xa1, 0xb2, 0xc3, 0xd4]) | Some([0xa1, 0xb2, 0x3c, 0x4d]) => Some((false, 16)),
        Some([0x34, 0xcd, 0xb2, 0xa1]) => Some((true, 24)),
        Some([0xa1, 0xb2, 0xcd, 0x34]) => Some((false, 24)),
        _ => None,
    };
    if let Some((le, rec_hdr)) = pcap {
        let mut records = Vec::new();
        let mut at = 24;
        while let Some(caplen) = rd32(b, at + 8, le) {
            let len = rec_hdr + caplen as usize;
            if at + len > b.len() {
                break;
            }
            records.push((at, len));
            at += len;
        }
        return Layout {
            kind: Kind::Pcap { le, rec_hdr },
            header_len: 24,
            records,
        };
    }
    if magic == Some(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        let mut records = Vec::new();
        let mut at = 0;
        let mut le = true;
        loop {
            if rd32(b, at, true) == Some(0x0a0d_0d0a) {
                le = rd32(b, at + 8, true) == Some(0x1a2b_3c4d);
            }
            let Some(len) = rd32(b, at + 4, le) else {
                break;
            };
            let len = len as usize;
            if len < 12 || at + len > b.len() {
                break;
            }
            records.push((at, len));
            at += len;
        }
        return Layout {
            kind: Kind::PcapNg,
            header_len: 0,
            records,
        };
    }
    Layout {
        kind: Kind::Other,
        header_len: 0,
        records: Vec::new(),
    }
}

/// Byte order of the pcapng section a block at `at` belongs to (the last SHB before it).
fn pcapng_le(b: &[u8], lay: &Layout, at: usize) -> bool {
    let mut le = true;
    for &(off, _) in &lay.records {
        if off > at {
            break;
        }
        if rd32(b, off, true) == Some(0x0a0d_0d0a) {
            le = rd32(b, off + 8, true) == Some(0x1a2b_3c4d);
        }
    }
    le
}

/// Rebuilds the file from its header and the records in `order` (indices into records).
fn reassemble(b: &[u8], lay: &Layout, order: &[usize]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(b.get(..lay.header_len).unwrap_or(b));
    for &i in order {
        if let Some(&(off, len)) = lay.records.get(i)
            && let Some(r) = b.get(off..off + len)
        {
            out.extend_from_slice(r);
        }
    }
    out
}

#[derive(Clone, Copy, Debug)]
enum Mutation {
    BitFlips,
    Truncate,
    RecordLength,
    OrigLength,
    Linktype,
    Snaplen,
    Shuffle,
    Duplicate,
    Splice,
}

const MUTATIONS: [Mutation; 9] = [
    Mutation::BitFlips,
    Mutation::Truncate,
    Mutation::RecordLength,
    Mutation::OrigLength,
    Mutation::Linktype,
    Mutation::Snaplen,
    Mutation::Shuffle,
    Mutation::Duplicate,
    Mutation::Splice,
];

fn mutate_once(b: Vec<u8>, m: Mutation, rng: &mut Rng) -> Vec<u8> {
    let lay = layout(&b);
    let mut b = b;
    let rec = if lay.records.is_empty() {
        None
    } else {
        lay.records.get(rng.below(lay.records.len())).copied()
    };
    match m {
        Mutation::BitFlips => {
            let flips = 1 + rng.below(16);
            for _ in 0..flips {
                // Mostly inside one packet's bytes (past the record header), where the
                // protocol decoders look; sometimes anywhere in the file.
                let pos = match (rec, lay.kind) {
                    (Some((off, len)), Kind::Pcap { rec_hdr, .. }) if !rng.chance(5) => {
                        off + rec_hdr + rng.below(len.saturating_sub(rec_hdr).max(1))
                    }
                    (Some((off, len)), Kind::PcapNg) if !rng.chance(5) => {
                        off + 28 + rng.below(len.saturating_sub(28).max(1))
                    }
                    _ => rng.below(b.len().max(1)),
                };
                let bit = 1u8 << rng.below(8);
                if let Some(x) = b.get_mut(pos) {
                    *x ^= bit;
                }
            }
        }
        Mutation::Truncate => {
            let at = if let (Some((off, len)), true) = (rec, rng.chance(2)) {
                off + rng.below(len + 1)
            } else {
                rng.below(b.len() + 1)
            };
            b.truncate(at);
        }
        Mutation::RecordLength => match (lay.kind, rec) {
            (Kind::Pcap { le, .. }, Some((off, len))) => {
                let v = interesting_len(rng, (len as u32).wrapping_sub(16));
                wr32(&mut b, off + 8, le, v);
            }
            (Kind::PcapNg, Some((off, len))) => {
                let le = pcapng_le(&b, &lay, off);
                match rng.below(3) {
                    // The leading block length, the trailing copy, or the EPB's caplen.
                    0 => wr32(&mut b, off + 4, le, interesting_len(rng, len as u32)),
                    1 => wr32(&mut b, off + len - 4, le, interesting_len(rng, len as u32)),
                    _ => {
                        let cur = rd32(&b, off + 20, le).unwrap_or(0);
                        wr32(&mut b, off + 20, le, interesting_len(rng, cur));
                    }
                }
            }
            _ => {
                let pos = rng.below(b.len().max(1));
                let v = interesting_len(rng, 0);
                wr32(&mut b, pos, rng.chance(2), v);
            }
        },
        Mutation::OrigLength => match (lay.kind, rec) {
            (Kind::Pcap { le, .. }, Some((off, _))) => {
                let cur = rd32(&b, off + 12, le).unwrap_or(0);
                wr32(&mut b, off + 12, le, interesting_len(rng, cur));
            }
            (Kind::PcapNg, Some((off, _))) => {
                let le = pcapng_le(&b, &lay, off);
                // EPB original length at +24; for an SPB the same word is packet data.
                let at = if rd32(&b, off, le) == Some(3) {
                    off + 8
                } else {
                    off + 24
                };
                let cur = rd32(&b, at, le).unwrap_or(0);
                wr32(&mut b, at, le, interesting_len(rng, cur));
            }
            _ => {}
        },
        Mutation::Linktype => match lay.kind {
            Kind::Pcap { le, .. } => {
                let lt = random_linktype(rng);
                wr32(&mut b, 20, le, lt);
            }
            Kind::PcapNg => {
                let idbs: Vec<usize> = lay
                    .records
                    .iter()
                    .filter(|&&(off, _)| rd32(&b, off, pcapng_le(&b, &lay, off)) == Some(1))
                    .map(|&(off, _)| off)
                    .collect();
                if let Some(&off) = idbs.get(rng.below(idbs.len().max(1))) {
                    let le = pcapng_le(&b, &lay, off);
                    let lt = random_linktype(rng) as u16;
                    wr16(&mut b, off + 8, le, lt);
                }
            }
            Kind::Other => {}
        },
        Mutation::Snaplen => match lay.kind {
            Kind::Pcap { le, .. } => {
                let v = interesting_len(rng, 65_535);
                wr32(&mut b, 16, le, v);
            }
            Kind::PcapNg => {
                // Options length fields and the IDB snaplen, all 32-bit words near a
                // block start.
                if let Some((off, len)) = rec {
                    let le = pcapng_le(&b, &lay, off);
                    let at = off + 4 * rng.below((len / 4).max(1));
                    let cur = rd32(&b, at, le).unwrap_or(0);
                    wr32(&mut b, at, le, interesting_len(rng, cur));
                }
            }
            Kind::Other => {}
        },
        Mutation::Shuffle => {
            let n = lay.records.len();
            let mut order: Vec<usize> = (0..n).collect();
            // pcapng: keep the first SHB in front most of the time, so that the shuffled
            // blocks are actually read (a misplaced IDB is still exercised).
            let keep = usize::from(lay.kind == Kind::PcapNg && !rng.chance(8));
            match rng.below(3) {
                0 => {
                    for i in (keep + 1..n).rev() {
                        let j = keep + rng.below(i - keep + 1);
                        order.swap(i, j);
                    }
                }
                1 => {
                    if n > keep {
                        order[keep..].reverse();
                    }
                }
                _ => {
                    // Local reordering: swap neighbours, as a network does.
                    for i in keep..n.saturating_sub(1) {
                        if rng.chance(3) {
                            order.swap(i, i + 1);
                        }
                    }
                }
            }
            b = reassemble(&b, &lay, &order);
        }
        Mutation::Duplicate => {
            let n = lay.records.len();
            let mut order = Vec::with_capacity(n * 2);
            let p = 2 + rng.below(6);
            for i in 0..n {
                order.push(i);
                if rng.chance(p) {
                    let most = if rng.chance(16) { 200 } else { 3 };
                    for _ in 0..1 + rng.below(most) {
                        order.push(i);
                    }
                }
            }
            b = reassemble(&b, &lay, &order);
        }
        Mutation::Splice => {
            let at = rng.below(b.len() + 1);
            match rng.below(3) {
                0 => {
                    let n = 1 + rng.below(64);
                    let junk: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                    b.splice(at..at, junk);
                }
                1 => {
                    let end = (at + 1 + rng.below(256)).min(b.len());
                    b.drain(at..end);
                }
                _ => {
                    // Copy a run of the file over another place (plausible-looking damage).
                    let n = 1 + rng.below(512);
                    let from = rng.below(b.len().max(1));
                    let src: Vec<u8> = b.iter().skip(from).take(n).copied().collect();
                    for (i, x) in src.into_iter().enumerate() {
                        if let Some(d) = b.get_mut(at + i) {
                            *d = x;
                        }
                    }
                }
            }
        }
    }
    b
}

/// One mutant: 1 to 3 mutations (mostly one, so each kind is seen on its own).
fn mutant(orig: &[u8], rng: &mut Rng) -> (Vec<u8>, Vec<Mutation>) {
    let n = match rng.below(10) {
        0..=6 => 1,
        7 | 8 => 2,
        _ => 3,
    };
    let mut b = orig.to_vec();
    let mut applied = Vec::with_capacity(n);
    for _ in 0..n {
        let m = MUTATIONS[rng.below(MUTATIONS.len())];
        b = mutate_once(b, m, rng);
        applied.push(m);
    }
    (b, applied)
}

/// Small limits, so that eviction, memcap and fragment bounds bite on small captures.
fn tight_limits() -> Limits {
    Limits {
        max_flows: 16,
        max_ooo_bytes_per_dir: 4 * 1024,
        max_ooo_segments_per_dir: 8,
        memcap: 32 * 1024,
        max_frag_datagrams: 4,
        max_frag_bytes: 8 * 1024,
        max_resets_per_conn: 2,
        ..Limits::default()
    }
}

/// Counts events without keeping them (the engine's sinks are where memory could hide).
#[derive(Default)]
struct CountingSink {
    events: u64,
}

impl modsniff_core::Sink for CountingSink {
    fn event(&mut self, _e: Event) {
        self.events += 1;
    }
}

#[derive(Default, Debug)]
struct Outcome {
    packets: u64,
    peak_memcap_used: usize,
    peak_flows: usize,
}

/// Reads `bytes` as a capture and runs the engine over it, checking the bounds after every
/// packet. `relink`: give each packet a random link type instead of the file's.
fn run_case(bytes: Vec<u8>, limits: &Limits, relink: Option<u64>) -> Result<Outcome, String> {
    let read_limits = ReadLimits {
        buffer_size: 64 * 1024,
        ..ReadLimits::default()
    };
    let mut src = match FileSource::from_reader_with(
        Box::new(Cursor::new(bytes)),
        "mutant".into(),
        read_limits,
    ) {
        Ok(s) => s,
        // A header too damaged to read is a clean refusal, which is what we want.
        Err(_) => return Ok(Outcome::default()),
    };
    let mut engine = Engine::new(Config {
        limits: limits.clone(),
        ..Config::default()
    });
    let mut sink = CountingSink::default();
    let mut rng = relink.map(Rng::new);
    let mut out = Outcome::default();
    let mut last_ts = Timestamp::ZERO;
    loop {
        let pkt = match src.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => return Err(format!("in-memory read returned Err: {e}")),
        };
        let linktype = match rng.as_mut() {
            Some(r) => LinkType(random_linktype(r)),
            None => pkt.linktype,
        };
        let p = Packet { linktype, ..pkt };
        last_ts = p.ts;
        engine.push(&p, &mut sink);
        out.packets += 1;
        if out.packets.is_multiple_of(64) {
            engine.advance(last_ts, &mut sink);
        }
        let budget = engine.reassembly_budget();
        if budget.used() > limits.memcap {
            return Err(format!(
                "memcap exceeded: {} > {}",
                budget.used(),
                limits.memcap
            ));
        }
        if engine.live_flows() > limits.max_flows {
            return Err(format!(
                "live flows {} > max_flows {}",
                engine.live_flows(),
                limits.max_flows
            ));
        }
        if engine.pending_fragments() > limits.max_frag_datagrams {
            return Err(format!(
                "pending IP datagrams {} > max_frag_datagrams {}",
                engine.pending_fragments(),
                limits.max_frag_datagrams
            ));
        }
        if engine.open_dns_queries() > modsniff_core::dns::DEFAULT_MAX_OPEN_QUERIES {
            return Err(format!(
                "open DNS queries {} > {}",
                engine.open_dns_queries(),
                modsniff_core::dns::DEFAULT_MAX_OPEN_QUERIES
            ));
        }
        out.peak_memcap_used = out.peak_memcap_used.max(budget.used());
        out.peak_flows = out.peak_flows.max(engine.live_flows());
    }
    engine.advance(last_ts, &mut sink);
    let stats = engine.finish(&mut sink);
    if stats.packets != out.packets {
        return Err(format!(
            "stats.packets {} != packets pushed {}",
            stats.packets, out.packets
        ));
    }
    if engine.live_flows() != 0 {
        return Err(format!("{} flows left after finish", engine.live_flows()));
    }
    // Every buffer must have been given back to the memcap when its stream ended.
    if engine.reassembly_budget().used() != 0 {
        return Err(format!(
            "memcap leak: {} bytes still reserved after finish",
            engine.reassembly_budget().used()
        ));
    }
    if stats.connections as usize > out.packets as usize {
        return Err("more connections than packets".into());
    }
    Ok(out)
}

/// ../shared/pcaps/public: beside the repository (main checkout), or /work/shared (worktrees
/// live one level deeper), or $MODSNIFF_SHARED.
fn shared_public() -> Option<PathBuf> {
    let mut cands = Vec::new();
    if let Some(s) = std::env::var_os("MODSNIFF_SHARED") {
        cands.push(PathBuf::from(s));
    }
    cands.push(root().join("../shared"));
    cands.push(root().join("../../shared"));
    cands
        .into_iter()
        .map(|p| p.join("pcaps/public"))
        .find(|p| p.is_dir())
}

fn inputs() -> (Vec<PathBuf>, Vec<PathBuf>) {
    let filter = std::env::var("HOSTILE_ONLY").ok();
    let keep = |p: &PathBuf| {
        filter
            .as_deref()
            .is_none_or(|f| p.to_string_lossy().contains(f))
    };
    // fixtures/matrix holds the same link types and protocols as the fixtures, 200 times
    // over: mutating the distinct captures finds what mutating their variants would.
    let matrix = fixtures().join("matrix");
    let fx: Vec<PathBuf> = captures(&fixtures())
        .into_iter()
        .filter(|p| !p.starts_with(&matrix))
        .filter(keep)
        .collect();
    let sh: Vec<PathBuf> = match shared_public() {
        Some(d) => captures(&d).into_iter().filter(keep).collect(),
        None => {
            eprintln!(
                "SKIP shared part of the hostile suite: ../shared/pcaps/public is absent \
                 (set MODSNIFF_SHARED to its parent to run it)"
            );
            Vec::new()
        }
    };
    (fx, sh)
}

fn total_cases() -> usize {
    std::env::var("HOSTILE_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_TOTAL_CASES)
}

#[derive(Default)]
struct Report {
    cases: usize,
    packets: u64,
    slowest: (Duration, String),
    failures: Vec<String>,
    peak_memcap_tight: usize,
    peak_memcap_default: usize,
    peak_flows_tight: usize,
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root())
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

fn save_failure(name: &str, case: usize, bytes: &[u8]) -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile-failures");
    let _ = std::fs::create_dir_all(&dir);
    let safe: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let path = dir.join(format!("{safe}-case{case}.pcap"));
    let _ = std::fs::write(&path, bytes);
    path.display().to_string()
}

/// Runs `per_file` mutants of each file; returns what happened.
fn mutate_files(files: &[PathBuf], per_file: usize) -> Report {
    let mut rep = Report::default();
    for f in files {
        let Ok(orig) = std::fs::read(f) else {
            rep.failures.push(format!("{}: cannot read", rel(f)));
            continue;
        };
        let name = rel(f);
        let mut rng = Rng::new(fnv(&name));
        for case in 0..per_file {
            let seed = rng.next();
            let mut case_rng = Rng::new(seed);
            let (bytes, applied) = mutant(&orig, &mut case_rng);
            // Every third case runs under tight limits; one in eight relinks each packet.
            let tight = case % 3 == 0;
            let limits = if tight {
                tight_limits()
            } else {
                Limits::default()
            };
            let relink = (case % 8 == 5).then(|| case_rng.next());
            let t0 = Instant::now();
            let res = catch_unwind(AssertUnwindSafe(|| {
                run_case(bytes.clone(), &limits, relink)
            }));
            let took = t0.elapsed();
            rep.cases += 1;
            let what = format!("{name} case {case} seed {seed:#x} {applied:?} tight={tight}");
            if took > rep.slowest.0 {
                rep.slowest = (took, what.clone());
            }
            let fail = match res {
                Ok(Ok(o)) => {
                    rep.packets += o.packets;
                    if tight {
                        rep.peak_memcap_tight = rep.peak_memcap_tight.max(o.peak_memcap_used);
                        rep.peak_flows_tight = rep.peak_flows_tight.max(o.peak_flows);
                    } else {
                        rep.peak_memcap_default = rep.peak_memcap_default.max(o.peak_memcap_used);
                    }
                    None
                }
                Ok(Err(msg)) => Some(msg),
                Err(p) => Some(format!(
                    "PANIC: {}",
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default()
                )),
            };
            if let Some(msg) = fail {
                let saved = save_failure(&name, case, &bytes);
                rep.failures.push(format!("{what}: {msg} (bytes: {saved})"));
            }
        }
    }
    rep
}

/// Peak resident set of this process (Linux), for the report only.
fn vm_hwm_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn check(label: &str, files: &[PathBuf], cases: usize) {
    if files.is_empty() {
        eprintln!("SKIP {label}: no inputs");
        return;
    }
    let per_file = cases.div_ceil(files.len()).max(8);
    let t0 = Instant::now();
    let rep = mutate_files(files, per_file);
    eprintln!(
        "hostile {label}: {} cases over {} files ({} packets) in {:.1?}; slowest {:.1?} ({}); \
         peak memcap used: tight {} B, default {} B; peak live flows (tight, max 16) {}; \
         VmHWM {:?} KiB",
        rep.cases,
        files.len(),
        rep.packets,
        t0.elapsed(),
        rep.slowest.0,
        rep.slowest.1,
        rep.peak_memcap_tight,
        rep.peak_memcap_default,
        rep.peak_flows_tight,
        vm_hwm_kib(),
    );
    assert!(
        rep.failures.is_empty(),
        "{} of {} hostile cases failed:\n{}",
        rep.failures.len(),
        rep.cases,
        rep.failures.join("\n")
    );
    // The suite must really have pushed packets through the engine (a reader that refused
    // every mutant would pass everything above vacuously).
    assert!(
        rep.packets > rep.cases as u64,
        "{label}: only {} packets over {} cases",
        rep.packets,
        rep.cases
    );
}

/// Splits the case budget between fixtures and shared by file count.
fn budget(fx: usize, sh: usize) -> (usize, usize) {
    let total = total_cases();
    let n = (fx + sh).max(1);
    (total * fx / n, total * sh / n)
}

#[test]
fn hostile_mutants_of_fixture_captures() {
    let (fx, sh) = inputs();
    let (cfx, _) = budget(fx.len(), sh.len());
    // Without ../shared the fixtures carry the whole budget.
    let cfx = if sh.is_empty() { total_cases() } else { cfx };
    check("fixtures", &fx, cfx);
}

// The shared corpus is split in two tests so that the harness runs them on both cores.
#[test]
fn hostile_mutants_of_public_captures_first_half() {
    let (fx, sh) = inputs();
    let (_, csh) = budget(fx.len(), sh.len());
    let half = sh.len() / 2;
    check("public[..half]", sh.get(..half).unwrap_or(&[]), csh / 2);
}

#[test]
fn hostile_mutants_of_public_captures_second_half() {
    let (fx, sh) = inputs();
    let (_, csh) = budget(fx.len(), sh.len());
    let half = sh.len() / 2;
    check(
        "public[half..]",
        sh.get(half..).unwrap_or(&[]),
        csh - csh / 2,
    );
}

/// The mutator must really damage what it aims at: a bogus caplen stops the reader with a
/// warning, a link type change reaches the packets, a shuffle keeps every record.
#[test]
fn hostile_mutator_hits_the_fields_it_names() {
    let f = fixtures().join("capture/pcap-usec-le.pcap");
    let orig = std::fs::read(&f).expect("fixture");
    let lay = layout(&orig);
    assert!(matches!(
        lay.kind,
        Kind::Pcap {
            le: true,
            rec_hdr: 16
        }
    ));
    assert!(lay.records.len() > 2, "{:?}", lay.records.len());
    // Shuffle and duplicate keep the byte multiset of records (shuffle) or grow it.
    let mut rng = Rng::new(1);
    let s = mutate_once(orig.clone(), Mutation::Shuffle, &mut rng);
    assert_eq!(s.len(), orig.len());
    assert_eq!(layout(&s).records.len(), lay.records.len());
    // Link type: every packet now carries the new one.
    let mut b = orig.clone();
    wr32(&mut b, 20, true, 229);
    let mut src = FileSource::from_reader(Box::new(Cursor::new(b)), "t".into()).expect("open");
    let p = src.next_packet().expect("read").expect("a packet");
    assert_eq!(p.linktype, LinkType(229));
    // A caplen beyond max_caplen ends reading with a warning, keeping the packets before.
    // (The last record: a bogus second header would steer the reader's record-format
    // heuristic, which looks at the first two, to another variant.)
    let mut b = orig.clone();
    let (off, _) = lay.records[2];
    wr32(&mut b, off + 8, true, 262_145);
    let mut src = FileSource::from_reader(Box::new(Cursor::new(b)), "t".into()).expect("open");
    let mut n = 0;
    while let Some(_p) = src.next_packet().expect("read") {
        n += 1;
    }
    assert_eq!(n, 2);
    assert!(!src.warnings().is_empty());
    // pcapng layout finds its blocks and byte order.
    let ng = std::fs::read(fixtures().join("capture/pcapng-be-spb.pcapng")).expect("fixture");
    let lay = layout(&ng);
    assert_eq!(lay.kind, Kind::PcapNg);
    assert!(lay.records.len() >= 3);
    assert!(!pcapng_le(&ng, &lay, 0));
}

/// Runs the binary on one file, draining its output.
fn run_bin(file: &Path) -> std::process::Output {
    let mut child = Command::new(bin())
        .args(["read", "--format", "ndjson"])
        .arg(file)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn modsniff");
    // Drain the pipes on threads so a large output cannot block the child.
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut so, &mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut se, &mut v);
        v
    });
    let status = child.wait().expect("wait");
    std::process::Output {
        status,
        stdout: t_out.join().expect("stdout thread"),
        stderr: t_err.join().expect("stderr thread"),
    }
}

/// A smaller pass through the binary: diagnosis and report layers on mutants. Exit status
/// must be 0, 1 or 2 (never a panic's 101 or a signal), every stdout line JSON, and `stats`
/// the last record whenever the input was read.
#[test]
fn hostile_mutants_through_the_binary() {
    let (fx, sh) = inputs();
    // All fixtures and every 4th public capture, 4 mutants each.
    let files: Vec<PathBuf> = fx.into_iter().chain(sh.into_iter().step_by(4)).collect();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile-bin");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let mut failures = Vec::new();
    let (mut runs, mut read_ok) = (0, 0);
    let mut slowest = (Duration::ZERO, String::new());
    for f in &files {
        let orig = std::fs::read(f).expect("read capture");
        let name = rel(f);
        let mut rng = Rng::new(fnv(&name) ^ 0xb1);
        for case in 0..4 {
            let (bytes, applied) = mutant(&orig, &mut rng);
            let path = dir.join(format!("m{runs}.pcap"));
            std::fs::write(&path, &bytes).expect("write mutant");
            runs += 1;
            let what = format!("{name} case {case} {applied:?} ({})", path.display());
            let t0 = Instant::now();
            let out = run_bin(&path);
            if t0.elapsed() > slowest.0 {
                slowest = (t0.elapsed(), what.clone());
            }
            let code = out.status.code();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            match code {
                Some(0) | Some(1) => {
                    read_ok += 1;
                    let lines: Vec<&str> = stdout.lines().collect();
                    let mut last_type = None;
                    for l in &lines {
                        match serde_json::from_str::<serde_json::Value>(l) {
                            Ok(v) => last_type = v["type"].as_str().map(str::to_owned),
                            Err(e) => {
                                failures.push(format!("{what}: bad JSON line {l:?}: {e}"));
                                break;
                            }
                        }
                    }
                    if last_type.as_deref() != Some("stats") {
                        failures.push(format!("{what}: last record is {last_type:?}, not stats"));
                    }
                }
                Some(2) => {
                    if stderr.trim().is_empty() {
                        failures.push(format!("{what}: exit 2 without a message"));
                    }
                }
                other => failures.push(format!(
                    "{what}: exit {other:?}, stderr: {}",
                    stderr.chars().take(2000).collect::<String>()
                )),
            }
            if failures.is_empty() {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    eprintln!(
        "hostile binary: {runs} runs, {read_ok} read (exit 0/1); slowest {:.1?} ({})",
        slowest.0, slowest.1
    );
    assert!(
        failures.is_empty(),
        "{} of {runs} binary runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        read_ok * 2 > runs,
        "only {read_ok} of {runs} mutants were read"
    );
}

/// Regression (found by fuzz/, `decode` target): an IPv6 Fragment header whose next header
/// names an extension header that is not there. etherparse's extension iterator read past
/// the end of the slice for it (`from_slice_unchecked`, undefined behaviour; a debug build
/// aborts). The engine now walks the extension chain itself, with checked lengths. The same
/// bytes are in fuzz/regressions/decode/, which scripts/fuzz.sh replays with debug assertions.
#[test]
fn hostile_regression_ipv6_fragment_then_missing_extension() {
    let mut frame = vec![0u8; 12];
    frame.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0, 0, 8, 44, 64]);
    frame.extend(0u8..32);
    // Fragment header: next = 60 (destination options, absent), offset 0, M=1, id.
    frame.extend_from_slice(&[60, 0, 0, 1, 0x12, 0x34, 0x56, 0x78]);
    let d = modsniff_core::hooks::wire::decode(LinkType::ETHERNET, &frame);
    match d.l4 {
        modsniff_core::hooks::wire::L4::Fragment(f) => {
            assert!(f.v6);
            assert_eq!((f.id, f.offset, f.more), (0x1234_5678, 0, true));
            assert!(f.payload.is_empty());
        }
        other => panic!("expected an IPv6 fragment, got {other:?}"),
    }
    // And through the engine: counted as a fragment, nothing reassembled.
    let mut engine = Engine::new(Config::default());
    let pkt = Packet {
        ts: Timestamp::ZERO,
        frame: 1,
        orig_len: frame.len() as u32,
        linktype: LinkType::ETHERNET,
        data: &frame,
    };
    let mut sink = CountingSink::default();
    engine.push(&pkt, &mut sink);
    let stats = engine.finish(&mut sink);
    assert_eq!((stats.ip_fragments, stats.ip_reassembled), (1, 0));
}
