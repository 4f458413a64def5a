//! TEMPORARY minimal reader (replaced by the real capture crate).
use modsniff_core::{LinkType, Packet, Timestamp};
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{Block, PcapBlockOwned, PcapError};
use std::io::Read;

pub fn for_each_packet(
    mut input: Box<dyn Read + Send>,
    mut f: impl FnMut(&Packet<'_>),
) -> Result<(), String> {
    let mut magic = [0u8; 0];
    let _ = input.read(&mut magic);
    let mut reader = pcap_parser::create_reader(1 << 20, input).map_err(|e| format!("{e:?}"))?;
    let mut frame = 0u64;
    let mut legacy_lt = LinkType(1);
    let mut nanos = false;
    let mut ifs: Vec<(LinkType, u64)> = Vec::new();
    loop {
        match reader.next() {
            Ok((off, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy_lt = LinkType(h.network.0 as u32);
                        nanos = h.is_nanosecond_precision();
                    }
                    PcapBlockOwned::Legacy(b) => {
                        frame += 1;
                        let ts = Timestamp::from_parts(
                            b.ts_sec as u64,
                            b.ts_usec as u64,
                            if nanos { 1_000_000_000 } else { 1_000_000 },
                        );
                        let data = b.data.get(..b.caplen as usize).unwrap_or(b.data);
                        f(&Packet {
                            ts,
                            frame,
                            orig_len: b.origlen,
                            linktype: legacy_lt,
                            data,
                        });
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => ifs.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(i)) => ifs.push((
                        LinkType(i.linktype.0 as u32),
                        i.ts_resolution().unwrap_or(1_000_000),
                    )),
                    PcapBlockOwned::NG(Block::EnhancedPacket(e)) => {
                        frame += 1;
                        let (lt, res) = ifs
                            .get(e.if_id as usize)
                            .copied()
                            .unwrap_or((LinkType(1), 1_000_000));
                        let t = ((e.ts_high as u64) << 32) | e.ts_low as u64;
                        let ts = Timestamp::from_parts(t / res, t % res, res);
                        let data = e.data.get(..e.caplen as usize).unwrap_or(e.data);
                        f(&Packet {
                            ts,
                            frame,
                            orig_len: e.origlen,
                            linktype: lt,
                            data,
                        });
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(s)) => {
                        frame += 1;
                        let (lt, _) = ifs.first().copied().unwrap_or((LinkType(1), 1_000_000));
                        f(&Packet {
                            ts: Timestamp::ZERO,
                            frame,
                            orig_len: s.origlen,
                            linktype: lt,
                            data: s.data,
                        });
                    }
                    _ => {}
                }
                reader.consume(off);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    break;
                }
            }
            Err(e) => return Err(format!("{e:?}")),
        }
    }
    Ok(())
}
