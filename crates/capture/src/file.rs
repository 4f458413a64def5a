//! Packets from pcap and pcapng files, or from any byte stream (stdin), read through a bounded
//! buffer: memory use does not depend on the size of the input.
//!
//! Damage in the input (a record cut short, a length no real capture has) ends reading
//! cleanly: every packet before it is delivered, `next_packet` returns `Ok(None)`, and
//! `warnings()` says where and what, in the way tshark reports "appears to be damaged or
//! corrupt" and "cut short in the middle of a packet" after showing the earlier frames.

use crate::buffer::{Fill, InputBuffer};
use crate::error::{CaptureError, CaptureWarning, WarningKind};
use crate::pcapng::{self, Block, NgState};
use modsniff_core::{LinkType, Packet, Timestamp};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Bounds for reading files. Every bound has a default; see the field docs for why.
#[derive(Clone, Copy, Debug)]
pub struct ReadLimits {
    /// Initial size of the read window. Large enough that reads are few and big.
    pub buffer_size: usize,
    /// The window grows past `buffer_size` only for a single block bigger than it (a pcapng
    /// block with large options or a big packet), and never beyond this.
    pub max_buffer_size: usize,
    /// Largest captured length a record may claim. A larger one means the file is damaged
    /// (tshark 4.0 refuses records over 262144 bytes with "File has N-byte packet, bigger than
    /// maximum of 262144"), so reading stops there.
    pub max_caplen: u32,
    /// Packets a packet may be moved ahead of: the reader holds this many packets and hands
    /// them out in timestamp order (equal times in file order), as `reordercap` would, so
    /// that a capture written out of order (`tcpdump -i any` merging several CPUs' or
    /// interfaces' queues, merged files) reads in the order things happened on the wire.
    /// Frames keep the numbers the file gives them. 0 hands packets out in file order,
    /// without copying them. See [`FileSource::reordered_packets`].
    pub reorder_window: usize,
}

/// Default read window: 256 KiB (small enough to stay in a core's L2 cache between the
/// read that fills it and the parsing that follows; 1 MiB measured ~3 % slower in whole runs).
pub const DEFAULT_BUFFER_SIZE: usize = 1 << 18;
/// Default cap on the read window, and on one pcapng block: 16 MiB.
pub const DEFAULT_MAX_BUFFER_SIZE: usize = 16 << 20;
/// Default largest captured length of one packet (Wireshark's WTAP_MAX_PACKET_SIZE_STANDARD).
pub const DEFAULT_MAX_CAPLEN: u32 = 262_144;
/// Default reorder window: 64 packets. Captures written out of order misplace a packet by a
/// few places (a CPU's queue flushed a little late); a window this deep also puts back a
/// client's answer filed before the server's whole first flight. Held packets stay in the
/// read buffer until it refills, then are copied: at most 64 packets of `max_caplen` bytes
/// (16 MiB), 64 of a 1,500-byte MTU's in practice.
pub const DEFAULT_REORDER_WINDOW: usize = 64;

/// How far `FileSource::read_ahead` fills the read buffer before walking record headers:
/// enough for some 300 records of an average capture per walk.
const READ_AHEAD_BYTES: usize = 128 << 10;
/// The most records one read-ahead walks beyond the window's depth before handing records
/// out in file order (a walk over a buffer of small records stops here).
const READ_AHEAD_RECORDS: usize = 4_096;

/// What `FileSource::walk` found.
struct Walk {
    /// The next record's (seconds, fraction).
    first: Option<(u32, u32)>,
    /// Records walked, each stamped no earlier than the one before.
    seen: usize,
    /// The walk reached the end of what is buffered.
    at_end: bool,
}

/// What `FileSource::read_ahead` found after the next record.
struct ReadAhead {
    /// The next record's time.
    first: Timestamp,
    /// Records from the next one on, each stamped no earlier than the one before.
    rising: usize,
    /// Of those, the ones no record within a window's depth after them is stamped before.
    in_order: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            buffer_size: DEFAULT_BUFFER_SIZE,
            max_buffer_size: DEFAULT_MAX_BUFFER_SIZE,
            max_caplen: DEFAULT_MAX_CAPLEN,
            reorder_window: DEFAULT_REORDER_WINDOW,
        }
    }
}

/// The container format of the input, as its magic number says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// Legacy pcap (libpcap / `tcpdump -w`).
    Pcap {
        /// Nanosecond timestamps (magic a1b23c4d) instead of microseconds.
        nanos: bool,
        /// Written by a big-endian host.
        big_endian: bool,
        /// Kuznetzov's "modified" pcap (magic a1b2cd34): 24-byte record headers.
        modified: bool,
    },
    /// pcapng (dumpcap, Wireshark); sections may differ in byte order.
    PcapNg,
    /// Zero bytes of input: no packets, not an error (tshark reads it the same way).
    Empty,
}

const PCAP_HEADER_LEN: usize = 24;
const PCAP_RECORD_LEN: usize = 16;
const MODIFIED_RECORD_LEN: usize = 24;

/// Where the captured and original lengths sit in a record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LengthOrder {
    /// caplen, then orig_len (version 2.4).
    Normal,
    /// orig_len, then caplen (versions before 2.3, and DG/UX's 543.0).
    Swapped,
    /// Version 2.3 files were written both ways: swap when caplen > orig_len.
    MaybeSwapped,
}

impl LengthOrder {
    #[inline]
    fn apply(self, first: u32, second: u32) -> (u32, u32) {
        match self {
            LengthOrder::Normal => (first, second),
            LengthOrder::Swapped => (second, first),
            LengthOrder::MaybeSwapped if first > second => (second, first),
            LengthOrder::MaybeSwapped => (first, second),
        }
    }
}

/// Record header sizes of the pcap variants that share a magic number: standard (16),
/// Red Hat 6.1's ss990417 (24, standard magic), Nokia IPSO (20, standard magic), and for the
/// "modified" magic ss991029 (24) and SuSE 6.3's ss990915 (28).
const STANDARD_VARIANTS: [usize; 3] = [16, 24, 20];
const MODIFIED_VARIANTS: [usize; 2] = [24, 28];
/// Wireshark's heuristic limits: a caplen above this, or an orig_len above 64 MiB, makes a
/// record header implausible.
const HEURISTIC_MAX_CAPLEN: u32 = 262_144;
const HEURISTIC_MAX_ORIG_LEN: u32 = 64 << 20;

/// How implausible a record header is under one variant (0 = fine); `None` if the input
/// ends inside it.
fn header_demerit(
    h: &[u8],
    be: bool,
    nanos: bool,
    snaplen: u32,
    swap: LengthOrder,
) -> Option<(u32, u32)> {
    let rd = |at| pcapng::read_u32(h, at, be);
    let (frac, first, second) = (rd(4)?, rd(8)?, rd(12)?);
    let (caplen, orig_len) = swap.apply(first, second);
    let mut d = 0;
    d += u32::from(frac >= if nanos { 1_000_000_000 } else { 1_000_000 });
    d += u32::from(caplen > HEURISTIC_MAX_CAPLEN);
    d += u32::from(orig_len > HEURISTIC_MAX_ORIG_LEN);
    d += u32::from(caplen > snaplen);
    d += u32::from(caplen > orig_len);
    Some((d, caplen))
}

/// Picks the record header size as Wireshark does: the first variant under which the first
/// two record headers look sane, else the least bad one. Files whose first records are
/// damaged then read the way tshark reads them (suricata-verify bug-6875-01/fuzz.pcap).
fn choose_record_len(
    buf: &mut InputBuffer,
    modified: bool,
    nanos: bool,
    be: bool,
    snaplen: u32,
    swap: LengthOrder,
) -> io::Result<usize> {
    let variants: &[usize] = match (modified, nanos) {
        (true, _) => &MODIFIED_VARIANTS,
        (false, true) => return Ok(PCAP_RECORD_LEN),
        (false, false) => &STANDARD_VARIANTS,
    };
    // Enough for two records of the largest plausible size.
    buf.fill_to(2 * (HEURISTIC_MAX_CAPLEN as usize + 28))?;
    let data = buf.data();
    let mut best = (u32::MAX, PCAP_RECORD_LEN);
    for &len in variants {
        let demerit = match header_demerit(data, be, nanos, snaplen, swap) {
            // Input ends in the first header: any variant will do.
            None => 0,
            Some((d, _)) if d > 0 => d,
            Some((_, caplen)) => data
                .get(len + caplen as usize..)
                .and_then(|next| header_demerit(next, be, nanos, snaplen, swap))
                .map_or(0, |(d, _)| d),
        };
        if demerit == 0 {
            return Ok(len);
        }
        if demerit < best.0 {
            best = (demerit, len);
        }
    }
    Ok(best.1)
}

/// State of a legacy pcap reader.
#[derive(Debug)]
struct PcapState {
    big_endian: bool,
    /// Timestamp fraction units per second.
    units: u64,
    record_len: usize,
    swap: LengthOrder,
    linktype: LinkType,
    snaplen: u32,
}

#[derive(Debug)]
enum Reader {
    Pcap(PcapState),
    PcapNg(NgState),
    Empty,
}

/// A packet source over a pcap or pcapng file, stdin or any `Read`.
///
/// Packets borrow the reader's buffer (a lending iterator): use each one before asking for
/// the next.
pub struct FileSource {
    name: String,
    buf: InputBuffer,
    format: Format,
    reader: Reader,
    limits: ReadLimits,
    /// Frame number of the last record (Wireshark's numbering).
    frame: u64,
    /// Packets delivered.
    packets: u64,
    done: bool,
    warnings: Vec<CaptureWarning>,
    total_bytes: Option<u64>,
    /// The reorder window (`ReadLimits::reorder_window`): packets read and not yet handed
    /// out, in timestamp order.
    window: VecDeque<Held>,
    /// The window's first packet was handed out (its bytes lent until the next call, which
    /// drops it): popped then, not when handed out, so that it is never moved.
    lent: bool,
    /// Buffers of packets copied out of the read buffer and since handed out, for the next
    /// copies (no allocation per copy).
    spare: Vec<Vec<u8>>,
    /// A read error met while the window still held packets: returned after them.
    pending_error: Option<CaptureError>,
    reordered: u64,
    /// Records that may be handed out in file order without going through the window (it is
    /// empty): the read-ahead (`read_ahead`) saw that none of the `reorder_window` records
    /// after each is stamped earlier, so the window would hand each out first anyway.
    in_order: u64,
    /// The window's packets are handed out without reading more (`drains`), down to empty.
    draining: bool,
    /// Records put into the window in file order since the last one put back in time, or
    /// since the last try at draining.
    calm: usize,
}

/// A packet held by the reorder window.
#[derive(Debug)]
struct Held {
    ts: Timestamp,
    frame: u64,
    orig_len: u32,
    linktype: LinkType,
    data: HeldData,
}

/// Where a held packet's bytes are. Copying every packet into the window cost ~150
/// instructions a packet (+11 % of a whole text run on the benchmark corpus, cachegrind):
/// a held packet points into the read buffer, whose consumed bytes stay where they are
/// until the buffer refills, and is copied out only just before a refill would move them
/// (`own_held`): about one packet in ten on a 1,500-byte MTU's capture.
#[derive(Debug)]
enum HeldData {
    /// `len` bytes at this input offset, still in the read buffer.
    InBuffer {
        at: u64,
        len: usize,
    },
    Owned(Vec<u8>),
}

impl std::fmt::Debug for FileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSource")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("frame", &self.frame)
            .field("offset", &self.buf.offset())
            .finish_non_exhaustive()
    }
}

/// Timestamp from seconds and a fraction in `units` per second, without 128-bit division
/// for the two common resolutions.
#[inline]
pub(crate) fn timestamp(secs: u64, frac: u64, units: u64) -> Timestamp {
    let base = secs.saturating_mul(1_000_000_000);
    match units {
        1_000_000 => Timestamp::from_nanos(base.saturating_add(frac.saturating_mul(1000))),
        1_000_000_000 => Timestamp::from_nanos(base.saturating_add(frac)),
        _ => Timestamp::from_parts(secs, frac, units),
    }
}

impl FileSource {
    /// Opens a capture file; `-` means standard input.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        Self::open_with(path, ReadLimits::default())
    }

    /// Like `open`, with explicit bounds.
    pub fn open_with(path: &Path, limits: ReadLimits) -> Result<Self, CaptureError> {
        if path.as_os_str() == "-" {
            return Self::from_reader_with(Box::new(io::stdin()), "-".to_string(), limits);
        }
        let file = File::open(path).map_err(|source| CaptureError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let total = file
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        let mut src = Self::from_reader_with(Box::new(file), path.display().to_string(), limits)?;
        src.total_bytes = total;
        Ok(src)
    }

    /// Reads a capture from any byte stream; `name` is used in errors and warnings.
    pub fn from_reader(reader: Box<dyn Read + Send>, name: String) -> Result<Self, CaptureError> {
        Self::from_reader_with(reader, name, ReadLimits::default())
    }

    /// Like `from_reader`, with explicit bounds.
    pub fn from_reader_with(
        reader: Box<dyn Read + Send>,
        name: String,
        limits: ReadLimits,
    ) -> Result<Self, CaptureError> {
        // The window must hold the largest record we accept, whatever the caller asked for.
        let min_window = limits.max_caplen as usize + MODIFIED_RECORD_LEN + 32;
        let max = limits.max_buffer_size.max(min_window);
        let mut buf = InputBuffer::new(reader, limits.buffer_size, max);
        let io_err = |name: &str, source| CaptureError::Io {
            name: name.to_string(),
            offset: 0,
            source,
        };
        let have = match buf.fill_to(PCAP_HEADER_LEN).map_err(|e| io_err(&name, e))? {
            Fill::Ready => PCAP_HEADER_LEN,
            Fill::Eof(n) => n,
        };
        let head = buf.data();
        let magic_bytes: Option<[u8; 4]> = head.get(..4).and_then(|b| b.try_into().ok());
        let (format, reader) = match magic_bytes {
            None if have == 0 => (Format::Empty, Reader::Empty),
            None => {
                return Err(CaptureError::HeaderTruncated {
                    name,
                    needed: 4,
                    available: have,
                });
            }
            Some(m) => match Self::detect(m) {
                Some((nanos, big_endian, modified)) => {
                    if have < PCAP_HEADER_LEN {
                        return Err(CaptureError::HeaderTruncated {
                            name,
                            needed: PCAP_HEADER_LEN,
                            available: have,
                        });
                    }
                    let rd = |at| pcapng::read_u32(head, at, big_endian).unwrap_or(0);
                    let rd16 = |at| pcapng::read_u16(head, at, big_endian).unwrap_or(0);
                    let (major, minor) = (rd16(4), rd16(6));
                    let snaplen = rd(16);
                    // The top bits of the link-type field carry FCS information (libpcap's
                    // LT_LINKTYPE mask).
                    let mut network = rd(20) & 0x03FF_FFFF;
                    // AIX's tcpdump writes version 2.2 with interface types instead of DLTs,
                    // and nanosecond fractions (Wireshark's heuristic, kept for compatibility).
                    let mut nanos = nanos;
                    if (major, minor) == (2, 2)
                        && let Some(dlt) = match network {
                            6 => Some(1),
                            9 => Some(6),
                            15 => Some(10),
                            24 => Some(0),
                            _ => None,
                        }
                    {
                        network = dlt;
                        nanos = true;
                    }
                    // Before version 2.3 the two length fields were the other way round.
                    let swap = match (major, minor) {
                        (2, m) if m < 3 => LengthOrder::Swapped,
                        (2, 3) => LengthOrder::MaybeSwapped,
                        (543, _) => LengthOrder::Swapped,
                        _ => LengthOrder::Normal,
                    };
                    buf.consume(PCAP_HEADER_LEN);
                    let record_len =
                        choose_record_len(&mut buf, modified, nanos, big_endian, snaplen, swap)
                            .map_err(|e| io_err(&name, e))?;
                    let state = PcapState {
                        big_endian,
                        units: if nanos { 1_000_000_000 } else { 1_000_000 },
                        record_len,
                        swap,
                        linktype: LinkType(network),
                        snaplen,
                    };
                    (
                        Format::Pcap {
                            nanos,
                            big_endian,
                            modified,
                        },
                        Reader::Pcap(state),
                    )
                }
                None if u32::from_le_bytes(m) == pcapng::SHB_TYPE => {
                    if have < 12 {
                        return Err(CaptureError::HeaderTruncated {
                            name,
                            needed: 12,
                            available: have,
                        });
                    }
                    let Some(be) = pcapng::shb_big_endian(head) else {
                        return Err(CaptureError::BadHeader {
                            name,
                            offset: 8,
                            reason: "unknown byte-order magic",
                        });
                    };
                    let state = NgState {
                        big_endian: be,
                        ..NgState::default()
                    };
                    (Format::PcapNg, Reader::PcapNg(state))
                }
                None => {
                    return Err(CaptureError::UnknownFormat {
                        name,
                        first_bytes: head.get(..have.min(16)).unwrap_or(&[]).to_vec(),
                    });
                }
            },
        };
        Ok(FileSource {
            name,
            buf,
            format,
            reader,
            limits,
            frame: 0,
            packets: 0,
            done: false,
            warnings: Vec::new(),
            total_bytes: None,
            window: VecDeque::new(),
            lent: false,
            spare: Vec::new(),
            pending_error: None,
            reordered: 0,
            in_order: 0,
            draining: false,
            calm: 0,
        })
    }

    /// (nanos, big_endian, modified) for a legacy pcap magic.
    fn detect(m: [u8; 4]) -> Option<(bool, bool, bool)> {
        match m {
            [0xd4, 0xc3, 0xb2, 0xa1] => Some((false, false, false)),
            [0xa1, 0xb2, 0xc3, 0xd4] => Some((false, true, false)),
            [0x4d, 0x3c, 0xb2, 0xa1] => Some((true, false, false)),
            [0xa1, 0xb2, 0x3c, 0x4d] => Some((true, true, false)),
            [0x34, 0xcd, 0xb2, 0xa1] => Some((false, false, true)),
            [0xa1, 0xb2, 0xcd, 0x34] => Some((false, true, true)),
            _ => None,
        }
    }

    /// The next packet; `Ok(None)` at the end of the input, including the clean stop after
    /// damage (see `warnings`). `Err` only when reading itself fails (after the packets read
    /// before the failure). Packets come in timestamp order within the reorder window
    /// (`ReadLimits::reorder_window`), each with its frame number in the file.
    #[inline]
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        // Most of a capture goes this way: the window is off, or empty with the records
        // ahead known to be in time order.
        if self.limits.reorder_window == 0 || (self.in_order > 0 && !self.lent) {
            self.in_order = self.in_order.saturating_sub(1);
            return self.next_record();
        }
        self.next_in_time()
    }

    /// `next_packet` through the reorder window: reads until the window is full (or the
    /// input ends), then hands out the earliest packet it holds.
    fn next_in_time(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        if std::mem::take(&mut self.lent)
            && let Some(Held {
                data: HeldData::Owned(v),
                ..
            }) = self.window.pop_front()
        {
            self.spare.push(v);
        }
        if self.window.is_empty() {
            self.draining = false;
            if self.in_order == 0 && self.pending_error.is_none() {
                self.in_order = self
                    .read_ahead(READ_AHEAD_RECORDS)
                    .map_or(0, |a| a.in_order);
            }
            if self.in_order > 0 {
                self.in_order -= 1;
                return self.next_record();
            }
        } else if !self.draining
            && self.calm > 2 * self.limits.reorder_window
            && self.pending_error.is_none()
        {
            self.calm = self.limits.reorder_window;
            self.draining = self.drains();
        }
        while !self.draining
            && self.window.len() <= self.limits.reorder_window
            && self.pending_error.is_none()
        {
            let held = match self.next_record() {
                Ok(Some(p)) => {
                    // Where the bytes are, without keeping the borrow of the buffer.
                    let (ptr, len) = (p.data.as_ptr() as usize, p.data.len());
                    let (ts, frame, orig_len, linktype) = (p.ts, p.frame, p.orig_len, p.linktype);
                    Held {
                        ts,
                        frame,
                        orig_len,
                        linktype,
                        data: HeldData::InBuffer {
                            at: self.buf.offset_of(ptr),
                            len,
                        },
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    self.pending_error = Some(e);
                    break;
                }
            };
            // After the last packet stamped no later than it: equal times keep file order.
            // Most captures are in order: then it goes at the back.
            match self.window.back() {
                Some(last) if last.ts > held.ts => {
                    let at = self
                        .window
                        .iter()
                        .rposition(|h| h.ts <= held.ts)
                        .map_or(0, |i| i + 1);
                    self.reordered += 1;
                    self.calm = 0;
                    self.window.insert(at, held);
                }
                _ => {
                    self.calm += 1;
                    self.window.push_back(held);
                }
            }
        }
        let Some(held) = self.window.front() else {
            return match self.pending_error.take() {
                Some(e) => Err(e),
                None => Ok(None),
            };
        };
        self.lent = true;
        let data = match &held.data {
            HeldData::InBuffer { at, len } => self.buf.consumed(*at, *len),
            HeldData::Owned(v) => v.as_slice(),
        };
        Ok(Some(Packet {
            ts: held.ts,
            frame: held.frame,
            orig_len: held.orig_len,
            linktype: held.linktype,
            data,
        }))
    }

    /// Reads ahead from the next record, through the record headers in the read buffer
    /// (refilled first to `READ_AHEAD_BYTES`), without consuming anything: at most `beyond`
    /// records more than the window's depth. `None` for a pcapng input (its blocks are not
    /// walked ahead: the window does the work) or a failed refill (the next read reports it).
    fn read_ahead(&mut self, beyond: usize) -> Option<ReadAhead> {
        let Reader::Pcap(st) = &self.reader else {
            return None;
        };
        let (record_len, be, units, swap) = (st.record_len, st.big_endian, st.units, st.swap);
        let window = self.limits.reorder_window;
        let mut walk = self.walk(record_len, be, units, swap, beyond + window + 1);
        if walk.seen <= 2 * window && walk.at_end && self.buf.buffered() < READ_AHEAD_BYTES {
            // Too few records left in the buffer to hand any out: refill (moving only those
            // few) and walk again. The refill may move the bytes held packets point at; at the
            // end of the input it just reads what there is.
            if !self.window.is_empty() {
                self.own_held();
            }
            let want = READ_AHEAD_BYTES.min(self.buf.capacity());
            self.buf.fill_to(want).ok()?;
            walk = self.walk(record_len, be, units, swap, beyond + window + 1);
        }
        let (secs, frac) = walk.first?;
        Some(ReadAhead {
            first: timestamp(secs.into(), frac.into(), units),
            rising: walk.seen,
            in_order: walk.seen.saturating_sub(window) as u64,
        })
    }

    /// The record headers in the read buffer from the next record on, as long as their times
    /// rise (or stay), at most `most` of them. Times are compared as the file writes them
    /// (seconds, then fraction): the same order as the timestamps' while the fraction is
    /// below one second, so a record with a larger fraction ends the walk.
    #[inline]
    fn walk(
        &self,
        record_len: usize,
        be: bool,
        units: u64,
        swap: LengthOrder,
        most: usize,
    ) -> Walk {
        let data = self.buf.data();
        let max_caplen = self.limits.max_caplen;
        let mut w = Walk {
            first: None,
            seen: 0,
            at_end: false,
        };
        let (mut at, mut last) = (0usize, (0u32, 0u32));
        while w.seen < most {
            let Some(head) = data.get(at..).and_then(|d| d.first_chunk::<16>()) else {
                w.at_end = true;
                break;
            };
            let [
                s0,
                s1,
                s2,
                s3,
                f0,
                f1,
                f2,
                f3,
                c0,
                c1,
                c2,
                c3,
                o0,
                o1,
                o2,
                o3,
            ] = *head;
            let rd = |b: [u8; 4]| {
                if be {
                    u32::from_be_bytes(b)
                } else {
                    u32::from_le_bytes(b)
                }
            };
            let (caplen, _) = swap.apply(rd([c0, c1, c2, c3]), rd([o0, o1, o2, o3]));
            let stamp = (rd([s0, s1, s2, s3]), rd([f0, f1, f2, f3]));
            if caplen > max_caplen || u64::from(stamp.1) >= units || (w.seen > 0 && stamp < last) {
                break;
            }
            w.first.get_or_insert(stamp);
            last = stamp;
            w.seen += 1;
            at += record_len + caplen as usize;
        }
        w
    }

    /// Whether the window's packets can be handed out without reading more: they would be
    /// anyway when every one is stamped no later than the next record and the records after
    /// it rise for a window's depth (each goes in at the back and is never the earliest).
    #[cold]
    fn drains(&mut self) -> bool {
        let Some(back) = self.window.back().map(|h| h.ts) else {
            return false;
        };
        match self.read_ahead(1) {
            Some(a) => back <= a.first && a.rising > self.limits.reorder_window,
            None => false,
        }
    }

    /// Copies the held packets whose bytes are still in the read buffer out of it: called
    /// before a refill, which moves or overwrites the consumed bytes.
    #[cold]
    fn own_held(&mut self) {
        let buf = &self.buf;
        let spare = &mut self.spare;
        for h in self.window.iter_mut() {
            if let HeldData::InBuffer { at, len } = h.data {
                let mut v = spare.pop().unwrap_or_default();
                v.clear();
                v.extend_from_slice(buf.consumed(at, len));
                h.data = HeldData::Owned(v);
            }
        }
    }

    /// The next record in file order.
    #[inline]
    fn next_record(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        match self.reader {
            Reader::Pcap(_) => self.next_pcap(),
            Reader::PcapNg(_) => self.next_pcapng(),
            Reader::Empty => {
                self.done = true;
                Ok(None)
            }
        }
    }

    fn io_error(&self, source: io::Error) -> CaptureError {
        CaptureError::Io {
            name: self.name.clone(),
            offset: self.buf.offset(),
            source,
        }
    }

    #[cold]
    fn stop(&mut self, kind: WarningKind) {
        self.done = true;
        self.warnings.push(CaptureWarning {
            name: self.name.clone(),
            offset: self.buf.offset(),
            packets: self.packets,
            kind,
        });
    }

    /// Fills the buffer to `n` bytes; `Ok(false)` when the input ends first (after recording
    /// a warning made by `on_short`, unless the input ended exactly at a record boundary).
    #[inline]
    fn want(
        &mut self,
        n: usize,
        on_short: fn(usize, usize) -> Option<WarningKind>,
    ) -> Result<bool, CaptureError> {
        if self.buf.buffered() < n && !self.window.is_empty() {
            // The refill may move the bytes held packets point at.
            self.own_held();
        }
        match self.buf.fill_to(n) {
            Ok(Fill::Ready) => Ok(true),
            Ok(Fill::Eof(have)) => {
                match on_short(n, have) {
                    Some(kind) => self.stop(kind),
                    None => self.done = true,
                }
                Ok(false)
            }
            Err(e) => Err(self.io_error(e)),
        }
    }

    #[inline]
    fn next_pcap(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        let Reader::Pcap(st) = &self.reader else {
            return Ok(None);
        };
        let (record_len, be, units, linktype, swap) =
            (st.record_len, st.big_endian, st.units, st.linktype, st.swap);
        if !self.want(record_len, header_short)? {
            return Ok(None);
        }
        let head = self.buf.data();
        let rd = |at| pcapng::read_u32(head, at, be).unwrap_or(0);
        let (secs, frac) = (rd(0), rd(4));
        let (caplen, orig_len) = swap.apply(rd(8), rd(12));
        if caplen > self.limits.max_caplen {
            self.stop(WarningKind::BogusLength {
                caplen: caplen.into(),
                max: self.limits.max_caplen.into(),
            });
            return Ok(None);
        }
        let total = record_len + caplen as usize;
        if !self.want(total, record_short)? {
            return Ok(None);
        }
        self.frame += 1;
        self.packets += 1;
        let record = self.buf.take(total);
        Ok(Some(Packet {
            ts: timestamp(secs.into(), frac.into(), units),
            frame: self.frame,
            orig_len,
            linktype,
            data: record.get(record_len..).unwrap_or(&[]),
        }))
    }

    fn next_pcapng(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        loop {
            if !self.want(8, header_short)? {
                return Ok(None);
            }
            let Reader::PcapNg(st) = &mut self.reader else {
                return Ok(None);
            };
            let mut be = st.big_endian;
            let block_type = pcapng::read_u32(self.buf.data(), 0, be).unwrap_or(0);
            if block_type == pcapng::SHB_TYPE {
                // A new section may switch byte order: its byte-order magic says which.
                if !self.want(12, record_short)? {
                    return Ok(None);
                }
                match pcapng::shb_big_endian(self.buf.data()) {
                    Some(b) => be = b,
                    None => {
                        self.stop(WarningKind::BadBlock {
                            block_type,
                            reason: "unknown byte-order magic",
                        });
                        return Ok(None);
                    }
                }
            }
            let len = pcapng::read_u32(self.buf.data(), 4, be).unwrap_or(0) as usize;
            if len < 12 || !len.is_multiple_of(4) {
                self.stop(WarningKind::BadBlock {
                    block_type,
                    reason: "block length not a multiple of 4 of at least 12",
                });
                return Ok(None);
            }
            if len > self.buf.max_size() {
                self.stop(WarningKind::BogusLength {
                    caplen: len as u64,
                    max: self.buf.max_size() as u64,
                });
                return Ok(None);
            }
            if !self.want(len, record_short)? {
                return Ok(None);
            }
            let block = self.buf.data().get(..len).unwrap_or(&[]);
            if pcapng::read_u32(block, len - 4, be) != Some(len as u32) {
                self.stop(WarningKind::BadBlock {
                    block_type,
                    reason: "trailing block length differs from the leading one",
                });
                return Ok(None);
            }
            let Reader::PcapNg(st) = &mut self.reader else {
                return Ok(None);
            };
            match st.block(block_type, block, self.limits.max_caplen) {
                Err(kind) => {
                    self.stop(kind);
                    return Ok(None);
                }
                Ok(Block::Other) => self.buf.consume(len),
                Ok(Block::NonPacketFrame) => {
                    self.frame += 1;
                    self.buf.consume(len);
                }
                Ok(Block::Packet {
                    ts,
                    orig_len,
                    linktype,
                    data_start,
                    data_len,
                }) => {
                    self.frame += 1;
                    self.packets += 1;
                    let block = self.buf.take(len);
                    return Ok(Some(Packet {
                        ts,
                        frame: self.frame,
                        orig_len,
                        linktype,
                        data: block.get(data_start..data_start + data_len).unwrap_or(&[]),
                    }));
                }
            }
        }
    }

    /// Damage found so far (reading stopped at the first one).
    pub fn warnings(&self) -> &[CaptureWarning] {
        &self.warnings
    }

    /// Bytes of input consumed so far: the offset of the next record.
    pub fn bytes_read(&self) -> u64 {
        self.buf.offset()
    }

    /// Size of the input when it is a regular file (for a progress bar).
    pub fn total_bytes(&self) -> Option<u64> {
        self.total_bytes
    }

    /// The input's format (pcap or pcapng).
    pub fn format(&self) -> Format {
        self.format
    }

    /// Packets the reorder window handed out ahead of packets the file holds before them
    /// (each counted once, when it was moved): 0 for a capture written in time order.
    pub fn reordered_packets(&self) -> u64 {
        self.reordered
    }

    /// Packets read from the input so far (the reorder window may still hold some).
    pub fn packets_read(&self) -> u64 {
        self.packets
    }

    /// Records numbered so far, as Wireshark numbers frames: the packets plus pcapng records
    /// that carry no packet but take a frame number (custom blocks, systemd journal entries).
    pub fn frames(&self) -> u64 {
        self.frame
    }

    /// The input's name as given (path, "-" for stdin, or the `from_reader` name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The link type of a legacy pcap file (pcapng has one per interface).
    pub fn linktype(&self) -> Option<LinkType> {
        match &self.reader {
            Reader::Pcap(st) => Some(st.linktype),
            _ => None,
        }
    }

    /// The snapshot length of a legacy pcap file's header.
    pub fn snaplen(&self) -> Option<u32> {
        match &self.reader {
            Reader::Pcap(st) => Some(st.snaplen),
            _ => None,
        }
    }

    /// pcapng blocks skipped as not needed (name resolution, statistics, custom, unknown).
    pub fn skipped_blocks(&self) -> u64 {
        match &self.reader {
            Reader::PcapNg(st) => st.skipped_blocks + st.dropped_interfaces,
            _ => 0,
        }
    }
}

/// The input ended inside a record header; exactly at a boundary is a normal end.
fn header_short(needed: usize, available: usize) -> Option<WarningKind> {
    (available > 0).then_some(WarningKind::TruncatedHeader { needed, available })
}

fn record_short(needed: usize, available: usize) -> Option<WarningKind> {
    Some(WarningKind::TruncatedRecord { needed, available })
}
