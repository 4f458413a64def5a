//! Writing packets as a microsecond pcap file, as `tcpdump -w` does.

use modsniff_core::{LinkType, Packet};
use std::io::{self, Write};

/// Writes a little-endian, microsecond-resolution pcap file.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    snaplen: u32,
    packets: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header at once. `snaplen` is recorded in the header and cuts longer
    /// packets, as libpcap does.
    pub fn new(mut out: W, linktype: LinkType, snaplen: u32) -> io::Result<Self> {
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone and sigfigs stay 0, as libpcap writes them.
        h[16..20].copy_from_slice(&snaplen.to_le_bytes());
        h[20..24].copy_from_slice(&linktype.0.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter {
            out,
            snaplen,
            packets: 0,
        })
    }

    /// Appends one packet (its link type is assumed to match the file's).
    pub fn write_packet(&mut self, p: &Packet<'_>) -> io::Result<()> {
        let keep = p.data.len().min(self.snaplen as usize);
        let data = p.data.get(..keep).unwrap_or(p.data);
        let nanos = p.ts.as_nanos();
        // Seconds past 2106 cannot be represented; saturate rather than wrap.
        let secs = u32::try_from(nanos / 1_000_000_000).unwrap_or(u32::MAX);
        let usecs = ((nanos % 1_000_000_000) / 1000) as u32;
        let caplen = keep as u32;
        let orig_len = p.orig_len.max(caplen);
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&usecs.to_le_bytes());
        h[8..12].copy_from_slice(&caplen.to_le_bytes());
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
