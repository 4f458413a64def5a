//! Test helpers: a minimal legacy-pcap walker so core's tests can run real captures without
//! depending on the capture crate (which depends on core).
#![allow(dead_code)]

use modsniff_core::{Config, Engine, Event, LinkType, Packet, Timestamp};
use std::path::{Path, PathBuf};

/// ../shared next to the repository, if present (CI has it; a user's clone may not).
pub fn shared() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    p.is_dir().then_some(p)
}

/// Runs the engine over a legacy pcap file (µs or ns, either byte order).
pub fn run_pcap(path: &Path, config: Config) -> (Vec<Event>, modsniff_core::Stats) {
    let mut engine = Engine::new(config);
    let mut events = Vec::new();
    let legacy = for_each_packet(path, |p| engine.push(&p, &mut events));
    assert!(legacy, "not a legacy pcap: {}", path.display());
    let stats = engine.finish(&mut events);
    (events, stats)
}

/// Calls `f` with each packet of a legacy pcap file (µs or ns, either byte order), frames
/// numbered from 1; `false` when the file is not a legacy pcap.
pub fn for_each_packet(path: &Path, mut f: impl FnMut(Packet<'_>)) -> bool {
    let data = std::fs::read(path).unwrap();
    let Some(magic) = data.get(0..4) else {
        return false;
    };
    let magic = u32::from_le_bytes(magic.try_into().unwrap());
    let (le, nanos) = match magic {
        0xa1b2c3d4 => (true, false),
        0xa1b23c4d => (true, true),
        0xd4c3b2a1 => (false, false),
        0x4d3cb2a1 => (false, true),
        _ => return false,
    };
    if data.len() < 24 {
        return false;
    }
    let rd = |b: &[u8]| {
        let a: [u8; 4] = b.try_into().unwrap();
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let linktype = LinkType(rd(&data[20..24]) & 0x0fff_ffff);
    let mut off = 24;
    let mut frame = 0;
    while off + 16 <= data.len() {
        let secs = rd(&data[off..off + 4]) as u64;
        let frac = rd(&data[off + 4..off + 8]) as u64;
        let incl = rd(&data[off + 8..off + 12]) as usize;
        let orig = rd(&data[off + 12..off + 16]);
        off += 16;
        if off + incl > data.len() {
            break;
        }
        frame += 1;
        let ts = Timestamp::from_parts(secs, frac, if nanos { 1_000_000_000 } else { 1_000_000 });
        f(Packet {
            ts,
            frame,
            orig_len: orig,
            linktype,
            data: &data[off..off + incl],
        });
        off += incl;
    }
    true
}

/// Every file under `dir` (recursively) whose name ends in `.pcap`, sorted.
pub fn pcaps_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "pcap") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

pub fn connections(events: &[Event]) -> Vec<&modsniff_core::Connection> {
    events
        .iter()
        .filter_map(|e| {
            if let Event::Connection(c) = e {
                Some(&**c)
            } else {
                None
            }
        })
        .collect()
}
