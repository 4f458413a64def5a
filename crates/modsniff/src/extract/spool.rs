//! The spool: where the packets of an input that cannot be read twice (standard input, a
//! pipe, a live capture without `-w`) wait for the extraction at the end of the run.
//!
//! Two unnamed temporary files in $TMPDIR (or /tmp), deleted by the system when modsniff
//! exits however it exits, written in turn: when the one being written reaches half the
//! bound (`--extract-spool MIB`), the other is emptied and written next. The spool so holds
//! the most recent half-bound to bound of packets (what a long live capture's failure at its
//! end needs), never more than the bound on disk; the packets emptied out are counted and the
//! run's warnings say how many the extract misses.
//!
//! A record is the packet's frame number, time, original length, link type and captured
//! length, then its bytes: the replay gives the analysis' own frame numbers back.

use super::Replay;
use modsniff_core::{LinkType, Packet, Timestamp};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

/// Default bound of the spool, in MiB (`--extract-spool`).
pub const DEFAULT_SPOOL_MIB: u64 = 256;

const RECORD_HEADER: usize = 28;

/// The two segment files and what each holds.
pub struct Spool {
    segments: [Segment; 2],
    current: usize,
    /// Bytes one segment may hold before writing moves to the other.
    segment_bytes: u64,
    bound_mib: u64,
    /// Packets emptied out of the spool (the counter of its bound).
    dropped: u64,
    /// Why spooling stopped (a write failed: disk full), if it did.
    failed: Option<String>,
}

struct Segment {
    file: BufWriter<File>,
    bytes: u64,
    packets: u64,
}

impl Segment {
    fn new() -> io::Result<Segment> {
        Ok(Segment {
            file: BufWriter::with_capacity(1 << 16, tempfile::tempfile()?),
            bytes: 0,
            packets: 0,
        })
    }

    fn clear(&mut self) -> io::Result<()> {
        self.file.flush()?;
        let f = self.file.get_mut();
        f.set_len(0)?;
        f.seek(SeekFrom::Start(0))?;
        self.bytes = 0;
        self.packets = 0;
        Ok(())
    }
}

impl Spool {
    /// A spool of at most `bound_mib` MiB (at least 2).
    pub fn new(bound_mib: u64) -> io::Result<Spool> {
        let bound_mib = bound_mib.max(2);
        Ok(Spool {
            segments: [Segment::new()?, Segment::new()?],
            current: 0,
            segment_bytes: (bound_mib << 20) / 2,
            bound_mib,
            dropped: 0,
            failed: None,
        })
    }

    /// Keeps one packet. A failed write stops the spool (the run goes on; its warnings say
    /// why the extract is incomplete).
    pub fn push(&mut self, pkt: &Packet<'_>) {
        if self.failed.is_some() {
            return;
        }
        if let Err(e) = self.write(pkt) {
            self.failed = Some(e.to_string());
        }
    }

    fn write(&mut self, pkt: &Packet<'_>) -> io::Result<()> {
        let len = (RECORD_HEADER + pkt.data.len()) as u64;
        if self.segments[self.current].bytes + len > self.segment_bytes
            && self.segments[self.current].packets > 0
        {
            self.current = 1 - self.current;
            let next = &mut self.segments[self.current];
            self.dropped += next.packets;
            next.clear()?;
        }
        let seg = &mut self.segments[self.current];
        let mut h = [0u8; RECORD_HEADER];
        h[0..8].copy_from_slice(&pkt.frame.to_le_bytes());
        h[8..16].copy_from_slice(&pkt.ts.as_nanos().to_le_bytes());
        h[16..20].copy_from_slice(&pkt.orig_len.to_le_bytes());
        h[20..24].copy_from_slice(&pkt.linktype.0.to_le_bytes());
        h[24..28].copy_from_slice(&(pkt.data.len() as u32).to_le_bytes());
        seg.file.write_all(&h)?;
        seg.file.write_all(pkt.data)?;
        seg.bytes += len;
        seg.packets += 1;
        Ok(())
    }

    /// The replay of what the spool holds, oldest first.
    pub fn into_replay(self) -> Replay {
        Box::new(move |sink| {
            let mut warnings = Vec::new();
            if self.dropped > 0 {
                warnings.push(format!(
                    "the extract spool keeps the last {} MiB of packets (--extract-spool): \
                     {} earlier packets are not in the extract",
                    self.bound_mib, self.dropped
                ));
            }
            if let Some(e) = &self.failed {
                warnings.push(format!(
                    "the extract spool stopped ({e}): later packets are not in the extract"
                ));
            }
            let older = 1 - self.current;
            let [a, b] = self.segments;
            let ordered = if older == 0 { [a, b] } else { [b, a] };
            for seg in ordered {
                if let Err(e) = replay_segment(seg, sink) {
                    warnings.push(format!("reading the extract spool back: {e}"));
                    break;
                }
            }
            warnings
        })
    }
}

fn replay_segment(seg: Segment, sink: &mut dyn FnMut(&Packet<'_>)) -> io::Result<()> {
    let mut file = seg.file.into_inner().map_err(|e| e.into_error())?;
    file.seek(SeekFrom::Start(0))?;
    let mut r = BufReader::with_capacity(1 << 16, file);
    let mut data = Vec::new();
    for _ in 0..seg.packets {
        let mut h = [0u8; RECORD_HEADER];
        r.read_exact(&mut h)?;
        let u64_at = |i: usize| u64::from_le_bytes(h[i..i + 8].try_into().unwrap_or_default());
        let u32_at = |i: usize| u32::from_le_bytes(h[i..i + 4].try_into().unwrap_or_default());
        data.resize(u32_at(24) as usize, 0);
        r.read_exact(&mut data)?;
        sink(&Packet {
            ts: Timestamp::from_nanos(u64_at(8)),
            frame: u64_at(0),
            orig_len: u32_at(16),
            linktype: LinkType(u32_at(20)),
            data: &data,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(frame: u64, data: &[u8]) -> Packet<'_> {
        Packet {
            ts: Timestamp::from_nanos(frame * 1_000_000_007),
            frame,
            orig_len: data.len() as u32 + 1,
            linktype: LinkType(frame as u32 % 3),
            data,
        }
    }

    /// Frame, time, original length, link type and bytes of a replayed packet.
    type Replayed = (u64, u64, u32, u32, Vec<u8>);

    fn replayed(spool: Spool) -> (Vec<Replayed>, Vec<String>) {
        let mut got = Vec::new();
        let warnings = spool.into_replay()(&mut |p: &Packet<'_>| {
            got.push((
                p.frame,
                p.ts.as_nanos(),
                p.orig_len,
                p.linktype.0,
                p.data.to_vec(),
            ))
        });
        (got, warnings)
    }

    #[test]
    fn gives_back_every_packet_as_it_was() {
        let mut s = Spool::new(2).unwrap();
        let bodies: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; usize::from(i) * 3]).collect();
        for (i, b) in bodies.iter().enumerate() {
            s.push(&packet(i as u64 + 1, b));
        }
        let (got, warnings) = replayed(s);
        assert!(warnings.is_empty(), "{warnings:?}");
        let want: Vec<_> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let p = packet(i as u64 + 1, b);
                (
                    p.frame,
                    p.ts.as_nanos(),
                    p.orig_len,
                    p.linktype.0,
                    b.clone(),
                )
            })
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn keeps_the_latest_packets_within_its_bound() {
        // 2 MiB: segments of 1 MiB; 64 KiB packets, 16 to a segment.
        let mut s = Spool::new(2).unwrap();
        let body = vec![0xabu8; 64 << 10];
        let total = 100u64;
        for f in 1..=total {
            s.push(&packet(f, &body));
        }
        let (got, warnings) = replayed(s);
        let frames: Vec<u64> = got.iter().map(|g| g.0).collect();
        // The most recent packets, in order, ending with the last one, fewer than the bound.
        assert_eq!(*frames.last().unwrap(), total);
        assert!(frames.windows(2).all(|w| w[1] == w[0] + 1), "{frames:?}");
        let bytes: usize = got.iter().map(|g| g.4.len() + RECORD_HEADER).sum();
        assert!(bytes <= 2 << 20, "{bytes}");
        assert!(frames.len() >= 15, "{frames:?}");
        let dropped = total - frames.len() as u64;
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains(&format!("{dropped} earlier packets")),
            "{warnings:?}"
        );
    }
}
