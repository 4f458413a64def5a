//! Writing packets back out: pcap as `tcpdump -w` does (microsecond or nanosecond
//! timestamps), and pcapng with one interface per link type, for packets of several link
//! types (a pcapng input whose interfaces differ) that one pcap file cannot hold.

use modsniff_core::{LinkType, Packet};
use std::io::{self, Write};

/// Timestamp resolution of a written file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TsPrecision {
    /// Microseconds: what `tcpdump -w` writes and every reader knows.
    #[default]
    Micro,
    /// Nanoseconds (pcap magic a1b23c4d; pcapng `if_tsresol` 9).
    Nano,
}

impl TsPrecision {
    fn units(self) -> u64 {
        match self {
            TsPrecision::Micro => 1_000_000,
            TsPrecision::Nano => 1_000_000_000,
        }
    }
}

/// The captured bytes a writer keeps of `p` (at most `snaplen`, as libpcap cuts), and the
/// original length, never below the captured one.
fn cut<'p>(p: &Packet<'p>, snaplen: u32) -> (&'p [u8], u32) {
    let keep = p.data.len().min(snaplen as usize);
    let data = p.data.get(..keep).unwrap_or(p.data);
    let caplen = u32::try_from(keep).unwrap_or(u32::MAX);
    (data, p.orig_len.max(caplen))
}

/// Writes a little-endian pcap file.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    snaplen: u32,
    precision: TsPrecision,
    packets: u64,
}

impl<W: Write> PcapWriter<W> {
    /// A microsecond pcap file; writes the file header at once. `snaplen` is recorded in the
    /// header and cuts longer packets, as libpcap does.
    pub fn new(out: W, linktype: LinkType, snaplen: u32) -> io::Result<Self> {
        Self::with_precision(out, linktype, snaplen, TsPrecision::Micro)
    }

    /// Like [`PcapWriter::new`], with the timestamp resolution chosen.
    pub fn with_precision(
        mut out: W,
        linktype: LinkType,
        snaplen: u32,
        precision: TsPrecision,
    ) -> io::Result<Self> {
        let magic: u32 = match precision {
            TsPrecision::Micro => 0xa1b2_c3d4,
            TsPrecision::Nano => 0xa1b2_3c4d,
        };
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&magic.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone and sigfigs stay 0, as libpcap writes them.
        h[16..20].copy_from_slice(&snaplen.to_le_bytes());
        h[20..24].copy_from_slice(&linktype.0.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter {
            out,
            snaplen,
            precision,
            packets: 0,
        })
    }

    /// Appends one packet (its link type is assumed to match the file's).
    pub fn write_packet(&mut self, p: &Packet<'_>) -> io::Result<()> {
        let (data, orig_len) = cut(p, self.snaplen);
        let nanos = p.ts.as_nanos();
        // Seconds past 2106 cannot be represented; saturate rather than wrap.
        let secs = u32::try_from(nanos / 1_000_000_000).unwrap_or(u32::MAX);
        let frac = ((nanos % 1_000_000_000) / (1_000_000_000 / self.precision.units())) as u32;
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&frac.to_le_bytes());
        h[8..12].copy_from_slice(&(data.len() as u32).to_le_bytes());
        h[12..16].copy_from_slice(&orig_len.to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(data)?;
        self.packets += 1;
        Ok(())
    }

    /// Packets written so far.
    pub fn packets_written(&self) -> u64 {
        self.packets
    }

    /// Flushes what is buffered to the output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// pcapng block types and option codes written here.
const SHB_TYPE: u32 = 0x0A0D_0D0A;
const IDB_TYPE: u32 = 1;
const EPB_TYPE: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
const OPT_END: u16 = 0;
const IF_TSRESOL: u16 = 9;

/// Interfaces one written file declares at most (one per link type met; a real capture has a
/// handful). A packet of a further link type is refused with an error.
pub const MAX_WRITTEN_INTERFACES: usize = 256;

/// Writes a little-endian pcapng file: one section, one interface per link type met (each
/// declared just before its first packet), Enhanced Packet Blocks.
#[derive(Debug)]
pub struct PcapNgWriter<W: Write> {
    out: W,
    snaplen: u32,
    precision: TsPrecision,
    /// Link type of each interface declared so far, in order (the index is the interface id).
    interfaces: Vec<LinkType>,
    packets: u64,
}

impl<W: Write> PcapNgWriter<W> {
    /// Writes the section header at once.
    pub fn new(mut out: W, snaplen: u32, precision: TsPrecision) -> io::Result<Self> {
        let mut b = Vec::with_capacity(28);
        b.extend_from_slice(&SHB_TYPE.to_le_bytes());
        b.extend_from_slice(&28u32.to_le_bytes());
        b.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        // Section length unknown (-1), as a writer that streams says.
        b.extend_from_slice(&u64::MAX.to_le_bytes());
        b.extend_from_slice(&28u32.to_le_bytes());
        out.write_all(&b)?;
        Ok(PcapNgWriter {
            out,
            snaplen,
            precision,
            interfaces: Vec::new(),
            packets: 0,
        })
    }

    /// The interface id for `linktype`, declaring it first if it is new.
    fn interface(&mut self, linktype: LinkType) -> io::Result<u32> {
        if let Some(i) = self.interfaces.iter().position(|&l| l == linktype) {
            return Ok(i as u32);
        }
        if self.interfaces.len() >= MAX_WRITTEN_INTERFACES {
            return Err(io::Error::other(format!(
                "more than {MAX_WRITTEN_INTERFACES} link types in one pcapng file"
            )));
        }
        let link16 = u16::try_from(linktype.0).map_err(|_| {
            io::Error::other(format!(
                "link type {} does not fit a pcapng interface",
                linktype.0
            ))
        })?;
        // Header 8 + link type/reserved/snaplen 8 + if_tsresol option 8 + end 4 + trailer 4.
        let len: u32 = 32;
        let mut b = Vec::with_capacity(len as usize);
        b.extend_from_slice(&IDB_TYPE.to_le_bytes());
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(&link16.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&self.snaplen.to_le_bytes());
        let resol: u8 = match self.precision {
            TsPrecision::Micro => 6,
            TsPrecision::Nano => 9,
        };
        b.extend_from_slice(&IF_TSRESOL.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&[resol, 0, 0, 0]);
        b.extend_from_slice(&OPT_END.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&len.to_le_bytes());
        self.out.write_all(&b)?;
        self.interfaces.push(linktype);
        Ok((self.interfaces.len() - 1) as u32)
    }

    /// Appends one packet on the interface of its link type.
    pub fn write_packet(&mut self, p: &Packet<'_>) -> io::Result<()> {
        let iface = self.interface(p.linktype)?;
        let (data, orig_len) = cut(p, self.snaplen);
        let units = p.ts.as_nanos() / (1_000_000_000 / self.precision.units());
        let padded = data.len().div_ceil(4) * 4;
        let len = u32::try_from(32 + padded)
            .map_err(|_| io::Error::other("packet too large for a pcapng block"))?;
        let mut h = Vec::with_capacity(28);
        h.extend_from_slice(&EPB_TYPE.to_le_bytes());
        h.extend_from_slice(&len.to_le_bytes());
        h.extend_from_slice(&iface.to_le_bytes());
        h.extend_from_slice(&((units >> 32) as u32).to_le_bytes());
        h.extend_from_slice(&(units as u32).to_le_bytes());
        h.extend_from_slice(&(data.len() as u32).to_le_bytes());
        h.extend_from_slice(&orig_len.to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(data)?;
        self.out
            .write_all([0u8; 3].get(..padded - data.len()).unwrap_or_default())?;
        self.out.write_all(&len.to_le_bytes())?;
        self.packets += 1;
        Ok(())
    }

    /// Packets written so far.
    pub fn packets_written(&self) -> u64 {
        self.packets
    }

    /// Writes out what is buffered (the file stays open for more packets).
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FileSource;
    use modsniff_core::Timestamp;

    fn packets() -> Vec<(LinkType, Vec<u8>, Timestamp, u32)> {
        vec![
            (
                LinkType::ETHERNET,
                (0u8..60).collect(),
                Timestamp::from_nanos(1_700_000_000_123_456_789),
                60,
            ),
            (
                LinkType::RAW,
                vec![0x45; 21],
                Timestamp::from_nanos(1_700_000_001_000_000_001),
                1500,
            ),
            (
                LinkType::ETHERNET,
                vec![7; 3],
                Timestamp::from_nanos(1_700_000_002_999_999_999),
                3,
            ),
        ]
    }

    fn read_back(bytes: Vec<u8>) -> Vec<(LinkType, Vec<u8>, u64, u32, u64)> {
        let mut src = FileSource::from_reader(Box::new(std::io::Cursor::new(bytes)), "t".into())
            .expect("a capture");
        let mut out = Vec::new();
        while let Some(p) = src.next_packet().expect("readable") {
            out.push((
                p.linktype,
                p.data.to_vec(),
                p.ts.as_nanos(),
                p.orig_len,
                p.frame,
            ));
        }
        assert!(src.warnings().is_empty(), "{:?}", src.warnings());
        out
    }

    #[test]
    fn pcapng_keeps_every_link_type_and_nanoseconds() {
        let mut w = PcapNgWriter::new(Vec::new(), 262_144, TsPrecision::Nano).unwrap();
        for (lt, data, ts, orig) in packets() {
            w.write_packet(&Packet {
                ts,
                frame: 99,
                orig_len: orig,
                linktype: lt,
                data: &data,
            })
            .unwrap();
        }
        assert_eq!(w.packets_written(), 3);
        let back = read_back(w.into_inner().unwrap());
        let want: Vec<_> = packets()
            .into_iter()
            .enumerate()
            .map(|(i, (lt, d, ts, orig))| (lt, d, ts.as_nanos(), orig, i as u64 + 1))
            .collect();
        assert_eq!(back, want);
    }

    #[test]
    fn pcap_micro_and_nano_round_trip() {
        for precision in [TsPrecision::Micro, TsPrecision::Nano] {
            let mut w =
                PcapWriter::with_precision(Vec::new(), LinkType::ETHERNET, 40, precision).unwrap();
            let (_, data, ts, orig) = packets().remove(0);
            w.write_packet(&Packet {
                ts,
                frame: 5,
                orig_len: orig,
                linktype: LinkType::ETHERNET,
                data: &data,
            })
            .unwrap();
            let back = read_back(w.into_inner().unwrap());
            let want_ts = match precision {
                TsPrecision::Micro => ts.as_nanos() / 1000 * 1000,
                TsPrecision::Nano => ts.as_nanos(),
            };
            // Cut at the snaplen; the original length kept.
            assert_eq!(
                back,
                vec![(LinkType::ETHERNET, data[..40].to_vec(), want_ts, 60, 1)]
            );
        }
    }
}
