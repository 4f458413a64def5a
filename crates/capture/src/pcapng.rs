//! pcapng: a block walker over the bounded input buffer.
//!
//! Every block is length-checked here before anything looks inside it, so a damaged length
//! stops reading cleanly instead of making the buffer grow. Section and Interface Description
//! Blocks (rare, option-laden) are parsed by pcap-parser; the per-packet blocks (EPB, SPB and
//! the obsolete PB) have fixed headers and are read directly, so that a packet costs no
//! allocation (pcap-parser collects EPB options into a `Vec`).

use crate::error::WarningKind;
use modsniff_core::{LinkType, Timestamp};
use pcap_parser::{
    InterfaceDescriptionBlock, OptionCode, parse_interfacedescriptionblock_be,
    parse_interfacedescriptionblock_le, parse_sectionheaderblock,
};

pub(crate) const SHB_TYPE: u32 = 0x0A0D_0D0A;
const IDB_TYPE: u32 = 1;
const PB_TYPE: u32 = 2;
const SPB_TYPE: u32 = 3;
const EPB_TYPE: u32 = 6;
const SJE_TYPE: u32 = 9;
const CB_COPY_TYPE: u32 = 0x0000_0BAD;
const CB_NO_COPY_TYPE: u32 = 0x4000_0BAD;
const BOM: u32 = 0x1A2B_3C4D;

/// One interface of the current section.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Interface {
    pub(crate) linktype: LinkType,
    pub(crate) snaplen: u32,
    /// Timestamp units per second (`if_tsresol`, default microseconds).
    pub(crate) units: u64,
    /// Seconds added to every timestamp (`if_tsoffset`).
    pub(crate) offset_secs: i64,
}

/// What the walker needs to remember across blocks.
#[derive(Debug, Default)]
pub(crate) struct NgState {
    pub(crate) big_endian: bool,
    /// Interfaces of the current section, in IDB order. Bounded by `MAX_INTERFACES`.
    pub(crate) interfaces: Vec<Interface>,
    /// Timestamp of the previous packet, for SPBs (which carry none).
    pub(crate) last_ts: Timestamp,
    /// Blocks skipped because this reader does not need them (NRB, ISB, DSB, custom, unknown).
    pub(crate) skipped_blocks: u64,
    /// IDBs beyond `MAX_INTERFACES`, ignored (their packets then stop reading).
    pub(crate) dropped_interfaces: u64,
}

/// More interfaces than any real capture declares; a bound so a crafted file cannot make the
/// interface table grow without limit.
pub(crate) const MAX_INTERFACES: usize = 65_536;

/// What one block turned out to be.
pub(crate) enum Block {
    /// A packet: header fields plus where its data sits inside the block.
    Packet {
        ts: Timestamp,
        orig_len: u32,
        linktype: LinkType,
        data_start: usize,
        data_len: usize,
    },
    /// A record Wireshark numbers as a frame but that carries no packet (custom blocks,
    /// systemd journal entries): it takes a frame number so that ours match Wireshark's.
    NonPacketFrame,
    /// Not a packet (or a packet-less block): go on.
    Other,
}

#[inline]
pub(crate) fn read_u32(b: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let bytes: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    })
}

#[inline]
pub(crate) fn read_u16(b: &[u8], at: usize, big_endian: bool) -> Option<u16> {
    let bytes: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if big_endian {
        u16::from_be_bytes(bytes)
    } else {
        u16::from_le_bytes(bytes)
    })
}

/// Byte order of a Section Header Block from its byte-order magic (bytes 8..12).
pub(crate) fn shb_big_endian(block_start: &[u8]) -> Option<bool> {
    match read_u32(block_start, 8, false)? {
        BOM => Some(false),
        x if x.swap_bytes() == BOM => Some(true),
        _ => None,
    }
}

/// Converts a 64-bit pcapng timestamp in `units` per second, plus an offset in seconds.
#[inline]
pub(crate) fn ng_timestamp(raw: u64, iface: &Interface) -> Timestamp {
    let units = iface.units.max(1);
    let secs = (raw / units) as i128 + iface.offset_secs as i128;
    let frac = raw % units;
    let secs = secs.clamp(0, u64::MAX as i128) as u64;
    crate::file::timestamp(secs, frac, units)
}

impl NgState {
    /// Interprets one complete block (`block.len()` is its total length, already validated as
    /// >= 12 and a multiple of 4). `Err` is damage that stops reading.
    pub(crate) fn block(
        &mut self,
        block_type: u32,
        block: &[u8],
        max_caplen: u32,
    ) -> Result<Block, WarningKind> {
        let be = self.big_endian;
        let len = block.len();
        match block_type {
            EPB_TYPE | PB_TYPE => {
                // EPB: type, len, if_id(4), ts_high, ts_low, caplen, origlen, data, opts, len.
                // PB: same, except if_id is 2 bytes followed by a 2-byte drop count.
                let bad = |reason| WarningKind::BadBlock { block_type, reason };
                let if_id = if block_type == EPB_TYPE {
                    read_u32(block, 8, be)
                } else {
                    read_u16(block, 8, be).map(u32::from)
                }
                .ok_or(bad("block too short for its header"))?;
                let (Some(hi), Some(lo), Some(caplen), Some(orig_len)) = (
                    read_u32(block, 12, be),
                    read_u32(block, 16, be),
                    read_u32(block, 20, be),
                    read_u32(block, 24, be),
                ) else {
                    return Err(bad("block too short for its header"));
                };
                if caplen > max_caplen {
                    return Err(WarningKind::BogusLength {
                        caplen: caplen.into(),
                        max: max_caplen.into(),
                    });
                }
                let data_len = caplen as usize;
                if 28 + data_len + 4 > len {
                    return Err(bad("captured length larger than the block"));
                }
                let iface =
                    *self
                        .interfaces
                        .get(if_id as usize)
                        .ok_or(WarningKind::UnknownInterface {
                            interface: if_id,
                            known: self.interfaces.len(),
                        })?;
                let ts = ng_timestamp((u64::from(hi) << 32) | u64::from(lo), &iface);
                self.last_ts = ts;
                Ok(Block::Packet {
                    ts,
                    orig_len,
                    linktype: iface.linktype,
                    data_start: 28,
                    data_len,
                })
            }
            SPB_TYPE => {
                let iface = *self
                    .interfaces
                    .first()
                    .ok_or(WarningKind::UnknownInterface {
                        interface: 0,
                        known: 0,
                    })?;
                let orig_len = read_u32(block, 8, be).ok_or(WarningKind::BadBlock {
                    block_type,
                    reason: "block too short for its header",
                })?;
                // The captured length is implied: the original length, cut to the snaplen and
                // to what the block holds.
                let mut data_len = (orig_len as usize).min(len.saturating_sub(16));
                if iface.snaplen != 0 {
                    data_len = data_len.min(iface.snaplen as usize);
                }
                if data_len > max_caplen as usize {
                    return Err(WarningKind::BogusLength {
                        caplen: data_len as u64,
                        max: max_caplen.into(),
                    });
                }
                Ok(Block::Packet {
                    ts: self.last_ts,
                    orig_len,
                    linktype: iface.linktype,
                    data_start: 12,
                    data_len,
                })
            }
            SHB_TYPE => {
                let (_, shb) =
                    parse_sectionheaderblock(block).map_err(|_| WarningKind::BadBlock {
                        block_type,
                        reason: "section header does not parse",
                    })?;
                self.big_endian = shb.big_endian();
                self.interfaces.clear();
                Ok(Block::Other)
            }
            IDB_TYPE => {
                let parsed = if be {
                    parse_interfacedescriptionblock_be(block)
                } else {
                    parse_interfacedescriptionblock_le(block)
                };
                let (_, idb) = parsed.map_err(|_| WarningKind::BadBlock {
                    block_type,
                    reason: "interface description does not parse",
                })?;
                if self.interfaces.len() >= MAX_INTERFACES {
                    self.dropped_interfaces += 1;
                } else {
                    self.interfaces.push(interface(&idb, be));
                }
                Ok(Block::Other)
            }
            SJE_TYPE | CB_COPY_TYPE | CB_NO_COPY_TYPE => {
                self.skipped_blocks += 1;
                Ok(Block::NonPacketFrame)
            }
            _ => {
                self.skipped_blocks += 1;
                Ok(Block::Other)
            }
        }
    }
}

/// Timestamp units per second for an `if_tsresol` byte: 10^n, or 2^n when the top bit is set.
/// `None` when it does not fit in 64 bits.
pub(crate) fn ts_units(resol: u8) -> Option<u64> {
    let n = u32::from(resol & 0x7f);
    if resol & 0x80 != 0 {
        1u64.checked_shl(n).filter(|_| n < 64)
    } else {
        10u64.checked_pow(n)
    }
}

fn interface(idb: &InterfaceDescriptionBlock<'_>, be: bool) -> Interface {
    // pcap-parser decodes if_tsoffset as little-endian whatever the section's byte order, and
    // its build_ts_resolution rejects every power-of-two resolution (it compares the byte
    // with the flag bit still set against 63), so read both options here.
    let mut offset_secs = 0i64;
    let mut units = 1_000_000;
    for opt in &idb.options {
        if opt.code == OptionCode::IfTsresol
            && let Some(&resol) = opt.value.first()
        {
            // An impossible resolution (> 2^63 or 10^19 units) keeps the default.
            units = ts_units(resol).unwrap_or(1_000_000);
        }
        if opt.code == OptionCode::IfTsoffset
            && let Some(bytes) = opt.value.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok())
        {
            offset_secs = if be {
                i64::from_be_bytes(bytes)
            } else {
                i64::from_le_bytes(bytes)
            };
        }
    }
    Interface {
        linktype: LinkType(idb.linktype.0 as u32),
        snaplen: idb.snaplen,
        units,
        offset_secs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsresol_powers_of_ten_and_two() {
        assert_eq!(ts_units(6), Some(1_000_000));
        assert_eq!(ts_units(9), Some(1_000_000_000));
        assert_eq!(ts_units(0), Some(1));
        assert_eq!(ts_units(19), Some(10_000_000_000_000_000_000));
        assert_eq!(ts_units(20), None);
        assert_eq!(ts_units(0x80 | 10), Some(1024));
        assert_eq!(ts_units(0x80 | 63), Some(1 << 63));
        assert_eq!(ts_units(0x80 | 64), None);
    }
}
