//! Measures how fast `FileSource` walks a capture, touching every packet's first and last
//! byte (so the data is really read), and the same walk with pcap-parser's own streaming
//! readers for comparison.
//!
//! cargo run --release -p modsniff-capture --example read_speed -- FILE [--pcap-parser]

use modsniff_capture::FileSource;
use pcap_parser::{PcapBlockOwned, PcapError};
use std::path::Path;
use std::time::Instant;

fn ours(path: &Path) -> Result<(u64, u64), Box<dyn std::error::Error>> {
    let mut src = FileSource::open(path)?;
    let (mut n, mut sum) = (0u64, 0u64);
    while let Some(p) = src.next_packet()? {
        n += 1;
        sum = sum
            .wrapping_add(u64::from(p.data.first().copied().unwrap_or(0)))
            .wrapping_add(u64::from(p.data.last().copied().unwrap_or(0)))
            .wrapping_add(p.ts.as_nanos());
    }
    Ok((n, sum))
}

fn theirs(path: &Path) -> Result<(u64, u64), Box<dyn std::error::Error>> {
    let file = std::fs::File::open(path)?;
    let mut reader = pcap_parser::create_reader(1 << 20, file)?;
    let (mut n, mut sum) = (0u64, 0u64);
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                let data: &[u8] = match &block {
                    PcapBlockOwned::Legacy(b) => b.data,
                    PcapBlockOwned::NG(pcap_parser::Block::EnhancedPacket(b)) => b.data,
                    _ => &[],
                };
                if !data.is_empty() {
                    n += 1;
                    sum = sum
                        .wrapping_add(u64::from(data.first().copied().unwrap_or(0)))
                        .wrapping_add(u64::from(data.last().copied().unwrap_or(0)));
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => reader.refill().map_err(|e| format!("{e:?}"))?,
            Err(e) => return Err(format!("{e:?}").into()),
        }
    }
    Ok((n, sum))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let path = Path::new(
        args.get(1)
            .ok_or("usage: read_speed FILE [--pcap-parser]")?,
    );
    let pp = args.iter().any(|a| a == "--pcap-parser");
    if path.as_os_str() == "-" {
        // One pass over a pipe: `cat FILE | read_speed -`.
        let t = Instant::now();
        let mut src = FileSource::open(path)?;
        let mut n = 0u64;
        while let Some(p) = src.next_packet()? {
            n += u64::from(p.data.first().copied().unwrap_or(0) != 0xff);
        }
        let secs = t.elapsed().as_secs_f64();
        let mb = src.bytes_read() as f64 / 1e6;
        println!(
            "stdin: {} packets, {mb:.0} MB in {secs:.3} s: {:.0} MB/s",
            src.packets_read(),
            mb / secs
        );
        std::hint::black_box(n);
        return Ok(());
    }
    let size = std::fs::metadata(path)?.len() as f64;
    // Best of 3, after the first run warmed the page cache.
    let mut best = f64::MAX;
    let mut packets = 0;
    for _ in 0..4 {
        let t = Instant::now();
        let (n, sum) = if pp { theirs(path)? } else { ours(path)? };
        std::hint::black_box(sum);
        best = best.min(t.elapsed().as_secs_f64());
        packets = n;
    }
    println!(
        "{}: {} packets, {:.0} MB in {:.3} s: {:.0} MB/s, {:.2} M packets/s",
        if pp { "pcap-parser" } else { "FileSource" },
        packets,
        size / 1e6,
        best,
        size / 1e6 / best,
        packets as f64 / 1e6 / best
    );
    Ok(())
}
