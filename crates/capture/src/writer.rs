//! Writing packets back out: pcap as `tcpdump -w` does (microsecond or nanosecond
//! timestamps), and pcapng with one interface per link type, for packets of several link
//! types (a pcapng input whose interfaces differ) that one pcap file cannot hold.

use modsniff_core::{LinkType, Packet};
use std::fs::File;
use std::io::{self, Seek, Write};
use std::path::Path;

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

    /// The underlying writer, as it is (what is buffered stays there).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }
}

/// Bytes of whole packets [`PcapFileWriter`] gathers before writing them to its file.
pub const FILE_WRITE_BUFFER: usize = 64 << 10;

/// A pcap file on disk that stays readable when a write to it fails (a full disk, a quota):
/// packets are gathered whole and written [`FILE_WRITE_BUFFER`] bytes at a time, and after a
/// failed write the file is cut back to the end of the last packet that reached it whole, so
/// that it reads to that packet without a torn record at its end (libpcap stops at one with
/// "truncated dump file", tshark with "cut short in the middle of a packet").
#[derive(Debug)]
pub struct PcapFileWriter {
    file: File,
    /// Encodes into its Vec, which holds whole records only.
    enc: PcapWriter<Vec<u8>>,
    /// Bytes of the file written, ending at a record's end.
    on_disk: u64,
    /// Packets those bytes hold.
    packets_on_disk: u64,
    /// A write failed: the file was cut back, and nothing more is written.
    failed: bool,
    /// After a failure, the file could not be cut back (a pipe, a device): part of a packet
    /// follows the whole ones.
    torn: bool,
}

impl PcapFileWriter {
    /// Creates (or truncates) `path` and writes the file header through at once: a file
    /// that takes no bytes fails here, before any packet is captured.
    pub fn create(path: &Path, linktype: LinkType, snaplen: u32) -> io::Result<Self> {
        let mut file = File::create(path)?;
        let mut enc = PcapWriter::new(Vec::with_capacity(FILE_WRITE_BUFFER), linktype, snaplen)?;
        let header = std::mem::take(enc.get_mut());
        file.write_all(&header)?;
        Ok(PcapFileWriter {
            file,
            enc,
            on_disk: header.len() as u64,
            packets_on_disk: 0,
            failed: false,
            torn: false,
        })
    }

    /// Appends one packet; its bytes reach the file within [`FILE_WRITE_BUFFER`]. After a
    /// failed write every call fails.
    pub fn write_packet(&mut self, p: &Packet<'_>) -> io::Result<()> {
        self.usable()?;
        self.enc.write_packet(p)?;
        if self.enc.get_mut().len() >= FILE_WRITE_BUFFER {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes what is gathered to the file. On failure the file is cut back to its last
    /// whole packet (see [`PcapFileWriter::packets_on_disk`]) and the error returned.
    pub fn flush(&mut self) -> io::Result<()> {
        self.usable()?;
        let buf = std::mem::take(self.enc.get_mut());
        match self.file.write_all(&buf) {
            Ok(()) => {
                self.on_disk += buf.len() as u64;
                self.packets_on_disk = self.enc.packets_written();
                let mut buf = buf;
                buf.clear();
                *self.enc.get_mut() = buf;
                Ok(())
            }
            Err(e) => {
                self.failed = true;
                self.cut_back(&buf);
                Err(e)
            }
        }
    }

    /// Packets the file holds whole (all those written once [`PcapFileWriter::flush`]
    /// succeeded; after a failure, those before the cut).
    pub fn packets_on_disk(&self) -> u64 {
        self.packets_on_disk
    }

    /// Whether, after a failed write, part of a packet follows the whole ones (the file could
    /// not be cut back: a pipe, a device).
    pub fn torn(&self) -> bool {
        self.torn
    }

    /// Packets given to [`PcapFileWriter::write_packet`].
    pub fn packets_written(&self) -> u64 {
        self.enc.packets_written()
    }

    fn usable(&self) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other(
                "an earlier write to this capture file failed",
            ));
        }
        Ok(())
    }

    /// After `buf` was written in part: keeps the records of it that reached the file whole
    /// and cuts the rest off. A file that cannot be cut (a pipe, a device) keeps what it got.
    fn cut_back(&mut self, buf: &[u8]) {
        let Ok(pos) = self.file.stream_position() else {
            self.torn = true;
            return;
        };
        let reached = usize::try_from(pos.saturating_sub(self.on_disk))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let (mut end, mut whole) = (0usize, 0u64);
        while let Some(len) = buf.get(end + 8..end + 12) {
            let caplen = len
                .try_into()
                .map_or(usize::MAX, |b| u32::from_le_bytes(b) as usize);
            let next = end.saturating_add(16).saturating_add(caplen);
            if next > reached {
                break;
            }
            end = next;
            whole += 1;
        }
        let keep = self.on_disk + end as u64;
        if self.file.set_len(keep).is_ok() {
            let _ = self.file.seek(io::SeekFrom::Start(keep));
            self.on_disk = keep;
            self.packets_on_disk += whole;
        } else {
            self.packets_on_disk += whole;
            self.torn = reached > end;
        }
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

    /// A file for one test, removed when dropped.
    struct TempPath(std::path::PathBuf);

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn temp(tag: &str) -> TempPath {
        TempPath(std::env::temp_dir().join(format!(
            "modsniff-capture-{}-{tag}.pcap",
            std::process::id()
        )))
    }

    fn ethernet(n: u8, len: usize) -> Vec<u8> {
        vec![n; len]
    }

    fn write(w: &mut PcapFileWriter, data: &[u8]) -> io::Result<()> {
        w.write_packet(&Packet {
            ts: Timestamp::from_nanos(1_700_000_000_000_000_000),
            frame: 1,
            orig_len: data.len() as u32,
            linktype: LinkType::ETHERNET,
            data,
        })
    }

    #[test]
    fn pcap_file_writes_whole_packets_through_its_buffer() {
        let path = temp("whole");
        let mut w = PcapFileWriter::create(&path.0, LinkType::ETHERNET, 65_535).unwrap();
        // Enough to go through the buffer more than once.
        let count = 3 * FILE_WRITE_BUFFER / 1_016 + 7;
        for i in 0..count {
            write(&mut w, &ethernet(i as u8, 1_000)).unwrap();
        }
        assert!(w.packets_on_disk() > 0 && w.packets_on_disk() < count as u64);
        w.flush().unwrap();
        assert_eq!(w.packets_on_disk(), count as u64);
        let back = read_back(std::fs::read(&path.0).unwrap());
        assert_eq!(back.len(), count);
        assert_eq!(back[count - 1].1, ethernet((count - 1) as u8, 1_000));
    }

    /// A write that reached the file in part (what a full disk does): the file is cut back to
    /// the last record that reached it whole, and reads without a warning.
    #[test]
    fn pcap_file_cut_back_to_its_last_whole_packet() {
        let path = temp("cut");
        let mut w = PcapFileWriter::create(&path.0, LinkType::ETHERNET, 65_535).unwrap();
        write(&mut w, &ethernet(1, 100)).unwrap();
        w.flush().unwrap();
        for (n, len) in [(2, 200), (3, 300), (4, 400)] {
            write(&mut w, &ethernet(n, len)).unwrap();
        }
        // The second and third records reach the file, the fourth's header in part only.
        let buf = std::mem::take(w.enc.get_mut());
        let reached = (16 + 200) + (16 + 300) + 9;
        w.file.write_all(&buf[..reached]).unwrap();
        w.failed = true;
        w.cut_back(&buf);
        assert_eq!(w.packets_on_disk(), 3);
        assert!(!w.torn());
        let bytes = std::fs::read(&path.0).unwrap();
        assert_eq!(bytes.len(), 24 + (16 + 100) + (16 + 200) + (16 + 300));
        let back = read_back(bytes);
        assert_eq!(
            back.iter().map(|p| p.1.len()).collect::<Vec<_>>(),
            [100, 200, 300]
        );
        // Nothing more is written after a failure.
        assert!(write(&mut w, &ethernet(5, 10)).is_err());
        assert!(w.flush().is_err());
    }

    /// A file that takes no bytes (/dev/full: every write is ENOSPC) fails at creation.
    #[test]
    fn pcap_file_that_takes_no_bytes_fails_at_once() {
        let full = Path::new("/dev/full");
        if !full.exists() {
            eprintln!("SKIP: no /dev/full");
            return;
        }
        let e = PcapFileWriter::create(full, LinkType::ETHERNET, 65_535).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(28), "{e}");
    }
}
