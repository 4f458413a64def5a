//! DNS over TCP (RFC 1035 4.2.2, RFC 7766): messages prefixed by a 2-byte length, in any
//! chunking, possibly several per segment.
//!
//! # Gaps
//!
//! A gap loses the framing: where the next length prefix lies is unknown. A side then looks
//! at the start of each chunk that follows (a message usually starts a segment, as Suricata
//! assumes) and takes up again at the first one that reads as a message of that side: a
//! length prefix, then a header whose direction bit, opcode and counts make sense, and when
//! the whole message is in the chunk, a question that reads. Chunks that do not are ignored.

use crate::app::dns::message::parse;
use crate::app::{Progress, StreamCtx, StreamDecoder};
use crate::types::Side;

/// Framed messages waiting for `drain`: the engine drains after every call, so this only
/// bounds a caller that forgets to.
pub const DEFAULT_MAX_QUEUED_MESSAGES: usize = 1024;

/// The smallest message: a header.
const MIN_MESSAGE: usize = 12;

#[derive(Debug, Default)]
struct SideState {
    /// Bytes of the length prefix or message read so far (at most 2 + 65535: the prefix
    /// itself bounds it).
    partial: Vec<u8>,
    /// Context of the chunk that carried the message's first byte.
    start: Option<StreamCtx>,
    /// A gap lost the framing: chunks are ignored until one starts with a message.
    lost: bool,
    done: bool,
}

/// Anomalies of one DNS-over-TCP connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DnsTcpStats {
    /// Messages dropped because `DEFAULT_MAX_QUEUED_MESSAGES` were waiting.
    pub dropped_messages: u64,
    /// Gaps that lost a side's framing (see the module doc).
    pub desync_gaps: u64,
    /// ... after which a chunk started with a message again.
    pub resyncs: u64,
    /// Bytes ignored while a side looked for a message start after a gap.
    pub resync_skipped_bytes: u64,
    /// Messages cut short by the end of their side's stream.
    pub truncated_messages: u64,
}

/// Frames DNS messages out of a TCP stream (2-byte length prefix).
#[derive(Debug, Default)]
pub struct DnsTcpDecoder {
    messages: Vec<(StreamCtx, Vec<u8>)>,
    sides: [SideState; 2],
    stats: DnsTcpStats,
}

impl DnsTcpDecoder {
    /// A decoder for one TCP connection (both sides).
    pub fn new() -> Self {
        Self::default()
    }

    /// What it counted so far.
    pub fn stats(&self) -> &DnsTcpStats {
        &self.stats
    }

    /// Messages framed since the last call, with the context of the chunk that carried the
    /// first byte of their length prefix.
    pub fn drain(&mut self) -> std::vec::Drain<'_, (StreamCtx, Vec<u8>)> {
        self.messages.drain(..)
    }

    fn push(&mut self, ctx: StreamCtx, msg: Vec<u8>) {
        if self.messages.len() >= DEFAULT_MAX_QUEUED_MESSAGES {
            self.stats.dropped_messages += 1;
            return;
        }
        self.messages.push((ctx, msg));
    }
}

fn prefix_len(b: &[u8]) -> Option<usize> {
    match b {
        [hi, lo, ..] => Some(usize::from(u16::from_be_bytes([*hi, *lo]))),
        _ => None,
    }
}

/// Whether `data` starts with a whole length prefix and header of a message `side` would
/// send: queries from the client, responses from the server, a known opcode, one question
/// (none allowed in responses: zone transfers drop it after the first message), and record
/// counts that fit in the length. When the message is whole in `data`, its question must
/// read too.
fn starts_message(side: Side, data: &[u8]) -> bool {
    let (Some(len), Some(hdr)) = (prefix_len(data), data.get(2..2 + MIN_MESSAGE)) else {
        return false;
    };
    let word = |i: usize| match hdr.get(i..i + 2) {
        Some(&[a, b]) => u16::from_be_bytes([a, b]),
        _ => 0,
    };
    let flags = word(2);
    let response = flags & 0x8000 != 0;
    let opcode = (flags >> 11) & 0xf;
    let qdcount = word(4);
    let records = u32::from(word(6)) + u32::from(word(8)) + u32::from(word(10));
    // A question takes at least 5 bytes (root name, type, class), a record at least 11.
    let fits = 5 * u32::from(qdcount) + 11 * records <= (len.saturating_sub(MIN_MESSAGE)) as u32;
    let plausible = len >= MIN_MESSAGE
        && response == (side == Side::Server)
        && matches!(opcode, 0 | 1 | 2 | 4 | 5 | 6)
        && (qdcount == 1 || (response && qdcount == 0))
        && fits;
    if !plausible {
        return false;
    }
    match data.get(2..2 + len) {
        Some(msg) if qdcount == 1 => parse(msg).is_some_and(|m| m.qname.is_some()),
        _ => true,
    }
}

impl StreamDecoder for DnsTcpDecoder {
    fn on_data(&mut self, ctx: &StreamCtx, mut data: &[u8]) -> Progress {
        let i = ctx.side.index() & 1;
        while !data.is_empty() {
            let Some(side) = self.sides.get_mut(i) else {
                return Progress::Done;
            };
            if side.done {
                return Progress::Done;
            }
            if side.lost {
                // Only a chunk's start is looked at (see the module doc).
                if !starts_message(ctx.side, data) {
                    self.stats.resync_skipped_bytes += data.len() as u64;
                    return Progress::Continue;
                }
                side.lost = false;
                self.stats.resyncs += 1;
            }
            if side.partial.is_empty() {
                // Fast path: a whole message in this chunk is copied once, straight out.
                if let Some(len) = prefix_len(data) {
                    if len < MIN_MESSAGE {
                        side.done = true;
                        return Progress::Violation("dns: tcp message shorter than a header");
                    }
                    if let Some(msg) = data.get(2..2 + len) {
                        let msg = msg.to_vec();
                        data = data.get(2 + len..).unwrap_or_default();
                        self.push(*ctx, msg);
                        continue;
                    }
                }
                side.start = Some(*ctx);
            }
            // Slow path: complete the prefix, then the message, from several chunks.
            let need = match prefix_len(&side.partial) {
                Some(len) => 2 + len,
                None => 2,
            };
            let take = (need - side.partial.len()).min(data.len());
            let (head, rest) = data.split_at_checked(take).unwrap_or((data, &[]));
            side.partial.extend_from_slice(head);
            data = rest;
            match prefix_len(&side.partial) {
                Some(len) if len < MIN_MESSAGE => {
                    side.done = true;
                    side.partial = Vec::new();
                    return Progress::Violation("dns: tcp message shorter than a header");
                }
                Some(len) if side.partial.len() == 2 + len => {
                    let msg = side.partial.get(2..).unwrap_or_default().to_vec();
                    side.partial.clear();
                    let start = side.start.take().unwrap_or(*ctx);
                    self.push(start, msg);
                }
                _ => {}
            }
        }
        Progress::Continue
    }

    fn on_gap(&mut self, ctx: &StreamCtx, _len: u64) -> Progress {
        // The message in progress is lost with its framing; the side looks for the next
        // message start (see the module doc).
        let Some(side) = self.sides.get_mut(ctx.side.index() & 1) else {
            return Progress::Done;
        };
        if side.done {
            return Progress::Done;
        }
        side.partial = Vec::new();
        side.start = None;
        side.lost = true;
        self.stats.desync_gaps += 1;
        Progress::Continue
    }

    fn on_end(&mut self, ctx: &StreamCtx) {
        if let Some(side) = self.sides.get_mut(ctx.side.index() & 1) {
            if !side.partial.is_empty() {
                self.stats.truncated_messages += 1;
            }
            side.partial = Vec::new();
            side.done = true;
        }
    }
}
