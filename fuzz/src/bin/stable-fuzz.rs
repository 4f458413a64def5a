//! A small mutational fuzzer on stable Rust, for machines without nightly / cargo-fuzz (CI):
//! seeds from the repository's fixtures (whole captures for `capture_reader`, frames for
//! `decode`, TCP and UDP payloads for the stream targets), mutated with a seeded PRNG (bit
//! flips, interesting bytes, inserts, deletes, duplication, splices between inputs,
//! truncation); each input runs under `catch_unwind`. No coverage feedback: it is a smoke
//! pass, cargo-fuzz is the real thing.
//!
//! Usage: stable-fuzz <target|all> [--seconds N] [--seed S] [--fixtures DIR] [--dump-seeds DIR]
//! (`STABLE_FUZZ_LAST=FILE`: write each input there before running it, for inputs that abort.)
//! A panicking input is written to fuzz/artifacts/<target>/crash-<hash> and the exit status
//! is 1; run it again with `stable-fuzz <target> --replay FILE`.

use modsniff_capture::FileSource;
use modsniff_core::hooks::wire::{self, L4};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            captures(&p, out);
        } else if let Some(ext) = p.extension().and_then(|e| e.to_str())
            && matches!(ext, "pcap" | "pcapng" | "cap")
        {
            out.push(p);
        }
    }
}

/// Seeds per target, from the fixture captures (bounded in number and size).
fn seeds(target: &str, fixtures: &Path) -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    captures(fixtures, &mut files);
    let mut out: Vec<Vec<u8>> = Vec::new();
    // Hand-written starting points, so that a target has seeds even without fixtures.
    match target {
        "tls" => out.push(b"\x01\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00".to_vec()),
        "http" => out.push(
            b"\x7cGET / HTTP/1.1\r\nHost: a\r\n\r\n\x7dHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                .to_vec(),
        ),
        "dns" => out.push(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x01\x00\x01".to_vec()),
        _ => out.push(vec![0; 64]),
    }
    for f in files {
        let Ok(bytes) = std::fs::read(&f) else {
            continue;
        };
        if target == "capture_reader" {
            if bytes.len() <= 256 * 1024 {
                out.push(bytes);
            }
            continue;
        }
        let Ok(mut src) =
            FileSource::from_reader(Box::new(std::io::Cursor::new(bytes)), "seed".into())
        else {
            continue;
        };
        let mut taken = 0;
        while let Ok(Some(p)) = src.next_packet() {
            if taken >= 16 || out.len() >= 4000 {
                break;
            }
            let seed = match target {
                "decode" => {
                    let lt = p.linktype.0;
                    let mut v = vec![0x80 | ((lt >> 8) as u8 & 0x7f), lt as u8];
                    v.extend_from_slice(p.data);
                    Some(v)
                }
                _ => {
                    let d = wire::decode(p.linktype, p.data);
                    match d.l4 {
                        // A stream program: one op byte per 8*63+1 bytes at most, so split
                        // the payload into ops of the largest size (side 0 = client).
                        L4::Tcp(seg) if !seg.payload.is_empty() && target != "dns" => Some(
                            as_program(seg.payload, u8::from(seg.src_port < seg.dst_port)),
                        ),
                        L4::Tcp(seg)
                            if !seg.payload.is_empty()
                                && target == "dns"
                                && (seg.src_port == 53 || seg.dst_port == 53) =>
                        {
                            Some(seg.payload.to_vec())
                        }
                        L4::Udp(u) if target == "dns" && !u.payload.is_empty() => {
                            Some(u.payload.to_vec())
                        }
                        L4::Tcp(seg) if target == "reassembler" => Some(seg.payload.to_vec()),
                        _ => None,
                    }
                }
            };
            if let Some(s) = seed {
                out.push(s);
                taken += 1;
            }
        }
    }
    out
}

/// Encodes `payload` as `drive()` ops on `side`.
fn as_program(payload: &[u8], side: u8) -> Vec<u8> {
    let mut v = Vec::with_capacity(payload.len() + payload.len() / 64 + 1);
    for chunk in payload.chunks(63 * 8 + 1) {
        let n = (chunk.len() - 1) / 8;
        v.push(((n as u8) << 2) | side);
        v.extend_from_slice(chunk);
    }
    v
}

const INTERESTING: [u8; 10] = [0, 1, 0x7f, 0x80, 0xff, 0x16, 0x03, b'\r', b'\n', b'0'];

fn mutate(input: &[u8], other: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = b.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                b[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                b[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 if len >= 2 => {
                // A 16-bit length-like field set to an edge value.
                let i = rng.below(len - 1);
                let v: u16 = [0, 1, 0x7fff, 0xffff, 0x4000, 0x0100][rng.below(6)];
                b[i..i + 2].copy_from_slice(&v.to_be_bytes());
            }
            3 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(32);
                let junk: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                b.splice(at..at, junk);
            }
            4 if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(64)).min(len);
                b.drain(at..end);
            }
            5 if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(128)).min(len);
                let dup = b[at..end].to_vec();
                b.splice(at..at, dup);
            }
            6 if !other.is_empty() => {
                let at = rng.below(len + 1);
                let from = rng.below(other.len());
                let end = (from + 1 + rng.below(512)).min(other.len());
                b.truncate(at);
                b.extend_from_slice(&other[from..end]);
            }
            _ => b.truncate(rng.below(len + 1)),
        }
    }
    b.truncate(1 << 20);
    b
}

fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

struct Outcome {
    execs: u64,
    crashes: u64,
    slowest: Duration,
}

fn fuzz(target: &str, seeds: &[Vec<u8>], budget: Duration, seed: u64, artifacts: &Path) -> Outcome {
    let mut rng = Rng(seed ^ fnv(target.as_bytes()));
    let mut out = Outcome {
        execs: 0,
        crashes: 0,
        slowest: Duration::ZERO,
    };
    let last = std::env::var_os("STABLE_FUZZ_LAST").map(PathBuf::from);
    let t0 = Instant::now();
    // Inputs that came out of mutation join the pool now and then (bounded), so mutations
    // stack up over the run.
    let mut pool: Vec<Vec<u8>> = seeds.to_vec();
    while t0.elapsed() < budget {
        let input = if out.execs < seeds.len() as u64 {
            // Every seed once, unmutated.
            pool[out.execs as usize].clone()
        } else {
            let a = &pool[rng.below(pool.len())];
            let o = &pool[rng.below(pool.len())];
            mutate(a, o, &mut rng)
        };
        if let Some(p) = &last {
            // For inputs that abort the process (a double panic, a failed unsafe
            // precondition): the last one run is on disk.
            let _ = std::fs::write(p, &input);
        }
        let t = Instant::now();
        let res = catch_unwind(AssertUnwindSafe(|| modsniff_fuzz::run(target, &input)));
        out.slowest = out.slowest.max(t.elapsed());
        out.execs += 1;
        if let Err(p) = res {
            out.crashes += 1;
            let dir = artifacts.join(target);
            let _ = std::fs::create_dir_all(&dir);
            let path = dir.join(format!("crash-{:016x}", fnv(&input)));
            let _ = std::fs::write(&path, &input);
            eprintln!(
                "CRASH {target}: {} ({})",
                panic_text(p.as_ref()),
                path.display()
            );
            if out.crashes >= 5 {
                break;
            }
        } else if rng.below(64) == 0 && pool.len() < 8000 {
            pool.push(input);
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut which = None;
    let mut secs = 10.0f64;
    let mut seed = 1u64;
    let mut fixtures = here.join("../fixtures");
    let mut dump = None;
    let mut replay = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => secs = it.next().and_then(|s| s.parse().ok()).unwrap_or(secs),
            "--seed" => seed = it.next().and_then(|s| s.parse().ok()).unwrap_or(seed),
            "--fixtures" => fixtures = it.next().map(PathBuf::from).unwrap_or(fixtures),
            "--dump-seeds" => dump = it.next().map(PathBuf::from),
            "--replay" => replay = it.next().map(PathBuf::from),
            t => which = Some(t.to_owned()),
        }
    }
    let Some(which) = which else {
        eprintln!(
            "usage: stable-fuzz <target|all> [--seconds N] [--seed S] [--fixtures DIR] [--dump-seeds DIR] [--replay FILE]"
        );
        eprintln!("targets: {}", modsniff_fuzz::TARGETS.join(" "));
        std::process::exit(2);
    };
    let targets: Vec<&str> = if which == "all" {
        modsniff_fuzz::TARGETS.to_vec()
    } else if let Some(t) = modsniff_fuzz::TARGETS.iter().find(|t| **t == which) {
        vec![*t]
    } else {
        eprintln!("unknown target {which}");
        std::process::exit(2);
    };
    if let Some(file) = replay {
        let data = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for t in &targets {
            modsniff_fuzz::run(t, &data);
            eprintln!("{t}: {} ok", file.display());
        }
        return;
    }
    // A panic is reported by the driver, with the input saved: keep stderr readable.
    // Only the first report of each location is printed (a double panic aborts, and then
    // this is the only trace of the first one).
    let seen = std::sync::Mutex::new(std::collections::HashSet::new());
    std::panic::set_hook(Box::new(move |info| {
        let at = info.location().map(|l| l.to_string()).unwrap_or_default();
        if let Ok(mut s) = seen.lock()
            && s.insert(at.clone())
        {
            eprintln!("panic at {at}: {}", panic_text(info.payload()));
            if std::env::var_os("RUST_BACKTRACE").is_some() {
                eprintln!("{}", std::backtrace::Backtrace::force_capture());
            }
        }
    }));
    let artifacts = here.join("artifacts");
    let mut failed = false;
    for t in targets {
        let s = seeds(t, &fixtures);
        if let Some(dir) = &dump {
            let d = dir.join(t);
            let _ = std::fs::create_dir_all(&d);
            for x in &s {
                let _ = std::fs::write(d.join(format!("seed-{:016x}", fnv(x))), x);
            }
            println!("{t}: {} seeds written to {}", s.len(), d.display());
            continue;
        }
        let o = fuzz(t, &s, Duration::from_secs_f64(secs), seed, &artifacts);
        println!(
            "stable-fuzz {t}: {} execs in {secs}s from {} seeds, {} crashes, slowest input {:.1?}",
            o.execs,
            s.len(),
            o.crashes,
            o.slowest
        );
        failed |= o.crashes > 0;
    }
    if failed {
        std::process::exit(1);
    }
}
