//! DNS over TCP (RFC 1035 4.2.2, RFC 7766): messages prefixed by a 2-byte length, in any
//! chunking, possibly several per segment.

use crate::app::{Progress, StreamCtx, StreamDecoder};

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
    done: bool,
}

/// Anomalies of one DNS-over-TCP connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DnsTcpStats {
    /// Messages dropped because `DEFAULT_MAX_QUEUED_MESSAGES` were waiting.
    pub dropped_messages: u64,
    /// Gaps that ended a side (the next length prefix cannot be found again).
    pub desync_gaps: u64,
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
        // Without the length prefix there is no telling where the next message starts.
        if let Some(side) = self.sides.get_mut(ctx.side.index() & 1) {
            side.partial = Vec::new();
            side.done = true;
        }
        self.stats.desync_gaps += 1;
        Progress::Done
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
