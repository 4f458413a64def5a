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
    let data = std::fs::read(path).unwrap();
    let magic = u32::from_le_bytes(data[0..4].try_into().unwrap());
    let (le, nanos) = match magic {
        0xa1b2c3d4 => (true, false),
        0xa1b23c4d => (true, true),
        0xd4c3b2a1 => (false, false),
        0x4d3cb2a1 => (false, true),
        m => panic!("not a legacy pcap: {m:#x}"),
    };
    let rd = |b: &[u8]| {
        let a: [u8; 4] = b.try_into().unwrap();
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let linktype = LinkType(rd(&data[20..24]) & 0x0fff_ffff);
    let mut engine = Engine::new(config);
    let mut events = Vec::new();
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
        engine.push(
            &Packet {
                ts,
                frame,
                orig_len: orig,
                linktype,
                data: &data[off..off + incl],
            },
            &mut events,
        );
        off += incl;
    }
    let stats = engine.finish(&mut events);
    (events, stats)
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
