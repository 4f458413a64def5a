//! Handshake-message reassembly across TCP segments and TLS records at once.
//!
//! The record layer (in `mod.rs`) hands over "pieces": the part of one record's body that
//! arrived in one chunk. Handshake messages are a byte stream of their own on top of the
//! records (RFC 8446 §5.1: a message may span records, a record may hold several messages),
//! so pieces are concatenated here and cut into `type(1) length(3) body` messages.
//!
//! Copying is avoided where it can be: when no message is pending and a piece holds whole
//! messages, they are handed out straight from the piece. Only an incomplete message is
//! copied, into a buffer bounded by [`super::TlsLimits::max_handshake_message`] (or
//! `max_certificate_message` for Certificate); a message announced larger than that is
//! skipped by length and counted. The buffers of all connections together are bounded too
//! ([`super::TlsLimits::max_pending_handshake_bytes`], a [`PendingPool`] shared by the
//! decoders of a run): a message announced when the pool cannot hold it is skipped the same
//! way, so connections that each start a large message and never finish it cannot add up.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Bytes of incomplete handshake messages held by all the decoders of a run.
#[derive(Debug, Default)]
pub struct PendingPool {
    used: AtomicUsize,
    /// Claims refused so far.
    refusals: AtomicU64,
}

impl PendingPool {
    /// Claims `n` bytes if the pool stays within `cap`.
    fn try_claim(&self, n: usize, cap: usize) -> bool {
        let ok = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                u.checked_add(n).filter(|t| *t <= cap)
            })
            .is_ok();
        if !ok {
            self.refusals.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// Claims refused so far (the pool was full).
    pub(crate) fn refusals(&self) -> u64 {
        self.refusals.load(Ordering::Relaxed)
    }

    fn release(&self, n: usize) {
        // Nothing held (every side of every TLS connection ends so): no atomic write to the
        // line every engine shares.
        if n == 0 {
            return;
        }
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                Some(u.saturating_sub(n))
            });
    }

    /// Bytes held now.
    #[cfg(test)]
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

/// Where a piece of handshake bytes came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PieceCtx {
    /// Frame of the chunk carrying this piece.
    pub frame: u64,
    /// Sequence number of the chunk (one per `on_data` call) on this side.
    pub chunk_id: u64,
    /// Sequence number of the record on this side.
    pub record_id: u64,
    /// Frame and chunk of the record's header, which may have come in an earlier chunk.
    pub record_hdr_frame: u64,
    pub record_hdr_chunk: u64,
    /// The piece starts at the first byte of the record body.
    pub at_record_start: bool,
}

/// How a handshake message was carried: frames, segments and records it spanned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// Frame of the first byte (the record header's frame when the message starts a record).
    pub first_frame: u64,
    /// Frame of the chunk that completed the message.
    pub last_frame: u64,
    /// Distinct chunks (TCP segments as delivered) that carried its bytes.
    pub segments: u32,
    /// Distinct TLS records that carried its bytes.
    pub records: u32,
    last_chunk: u64,
    last_record: u64,
}

impl Span {
    fn start(p: &PieceCtx) -> Span {
        let mut s = Span {
            first_frame: p.frame,
            last_frame: p.frame,
            segments: 1,
            records: 1,
            last_chunk: p.chunk_id,
            last_record: p.record_id,
        };
        if p.at_record_start && p.record_hdr_chunk != p.chunk_id {
            // The record header came in an earlier segment: it belongs to this message too.
            s.first_frame = p.record_hdr_frame;
            s.segments = 2;
        }
        s
    }

    fn touch(&mut self, p: &PieceCtx) {
        if p.record_id != self.last_record {
            self.records = self.records.saturating_add(1);
            self.last_record = p.record_id;
            if p.record_hdr_chunk != self.last_chunk && p.record_hdr_chunk != p.chunk_id {
                self.segments = self.segments.saturating_add(1);
            }
        }
        if p.chunk_id != self.last_chunk {
            self.segments = self.segments.saturating_add(1);
            self.last_chunk = p.chunk_id;
        }
        self.last_frame = p.frame;
    }
}

/// Buffer capacity kept between messages; anything larger is freed after use.
const RETAINED_CAPACITY: usize = 4096;

/// Handshake header: type (1) + length (3).
pub const HANDSHAKE_HEADER_LEN: usize = 4;

fn message_len(hdr: &[u8]) -> Option<usize> {
    match hdr {
        [_, a, b, c, ..] => Some(usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c)),
        _ => None,
    }
}

/// Reassembles one side's handshake messages.
#[derive(Debug)]
pub struct HandshakeReassembler {
    buf: Vec<u8>,
    /// Bytes of an oversized message still to throw away.
    discard: usize,
    span: Span,
    max_message: usize,
    max_certificate_message: usize,
    /// After a gap: waiting for a record that starts a message.
    lost: bool,
    /// Messages dropped: over the size bound, or cut by a gap.
    pub dropped_messages: u64,
    /// Handshake bytes thrown away with them.
    pub dropped_bytes: u64,
    /// Of `dropped_messages`, those the run's pool could not hold.
    pub pool_refusals: u64,
    pool: Arc<PendingPool>,
    max_pending: usize,
    /// Bytes claimed from `pool` for the message being buffered.
    claimed: usize,
}

impl Drop for HandshakeReassembler {
    fn drop(&mut self) {
        self.pool.release(self.claimed);
    }
}

impl HandshakeReassembler {
    #[cfg(test)]
    pub fn new(max_message: usize, max_certificate_message: usize) -> Self {
        Self::with_pool(
            max_message,
            max_certificate_message,
            Arc::default(),
            usize::MAX,
        )
    }

    /// A reassembler whose incomplete messages are held within `pool`, up to `max_pending`
    /// bytes for all its users.
    pub fn with_pool(
        max_message: usize,
        max_certificate_message: usize,
        pool: Arc<PendingPool>,
        max_pending: usize,
    ) -> Self {
        HandshakeReassembler {
            buf: Vec::new(),
            discard: 0,
            span: Span::default(),
            max_message,
            max_certificate_message,
            lost: false,
            dropped_messages: 0,
            dropped_bytes: 0,
            pool_refusals: 0,
            pool,
            max_pending,
            claimed: 0,
        }
    }

    /// Claims room for a whole message of `total` bytes (header included) before buffering
    /// it; false when the run's pool cannot hold it.
    fn claim(&mut self, total: usize) -> bool {
        if total <= self.claimed {
            return true;
        }
        let more = total - self.claimed;
        if !self.pool.try_claim(more, self.max_pending) {
            return false;
        }
        self.claimed = total;
        true
    }

    /// The message being buffered is done with: its bytes go back to the pool.
    fn unclaim(&mut self) {
        self.pool.release(self.claimed);
        self.claimed = 0;
    }

    /// Bound for a message of this type: Certificate messages get their own, larger one.
    fn limit(&self, hdr: &[u8]) -> usize {
        match hdr.first() {
            Some(&11) => self.max_certificate_message,
            _ => self.max_message,
        }
    }

    /// A message is partly buffered or being discarded.
    pub fn is_pending(&self) -> bool {
        !self.buf.is_empty() || self.discard > 0
    }

    /// The message being buffered (header included) and its span so far, when one is: what
    /// a gap is about to cut short.
    pub fn pending(&self) -> Option<(&[u8], &Span)> {
        (!self.buf.is_empty() && self.discard == 0).then_some((self.buf.as_slice(), &self.span))
    }

    /// Forget a pending message (the bytes around it were lost). Until a record starts with
    /// something that reads as a handshake header, handshake bytes are dropped: the tail of
    /// the lost message may still follow in the next records.
    pub fn reset(&mut self) {
        if !self.buf.is_empty() {
            self.dropped_messages += 1;
            self.dropped_bytes += self.buf.len() as u64;
        }
        self.buf.clear();
        self.unclaim();
        self.discard = 0;
        self.lost = true;
    }

    /// Does a record starting with `p` plausibly start a handshake message?
    fn plausible_start(&self, p: &[u8]) -> bool {
        const TYPES: [u8; 14] = [0, 1, 2, 4, 5, 8, 11, 12, 13, 14, 15, 16, 20, 24];
        match (p.first(), message_len(p)) {
            (Some(t), Some(len)) => TYPES.contains(t) && len <= self.limit(p),
            // Too short to tell: accept, the bounds still apply.
            (Some(t), None) => TYPES.contains(t),
            _ => false,
        }
    }

    /// Feed one piece; `emit` gets every completed message (header included) and its span.
    pub fn feed(&mut self, piece: &[u8], ctx: &PieceCtx, emit: &mut dyn FnMut(&[u8], &Span)) {
        let mut p = piece;
        if self.lost {
            if ctx.at_record_start && self.plausible_start(p) {
                self.lost = false;
            } else {
                self.dropped_bytes += p.len() as u64;
                return;
            }
        }
        let mut first = true;
        while !p.is_empty() {
            let at_start = first && ctx.at_record_start;
            first = false;
            if self.discard > 0 {
                let n = self.discard.min(p.len());
                self.discard -= n;
                self.dropped_bytes += n as u64;
                p = p.get(n..).unwrap_or_default();
                continue;
            }
            if self.buf.is_empty() {
                let pctx = PieceCtx {
                    at_record_start: at_start,
                    ..*ctx
                };
                if let Some(len) = message_len(p) {
                    if len > self.limit(p) {
                        self.dropped_messages += 1;
                        self.discard = HANDSHAKE_HEADER_LEN + len;
                        continue;
                    }
                    // Zero-copy path: the whole message is in this piece.
                    if let Some((msg, rest)) = p.split_at_checked(HANDSHAKE_HEADER_LEN + len) {
                        let span = Span::start(&pctx);
                        emit(msg, &span);
                        p = rest;
                        continue;
                    }
                }
                // Incomplete: start buffering (header and body so far), with room for the
                // whole message claimed first.
                if let Some(len) = message_len(p)
                    && !self.claim(HANDSHAKE_HEADER_LEN + len)
                {
                    self.dropped_messages += 1;
                    self.pool_refusals += 1;
                    self.discard = HANDSHAKE_HEADER_LEN + len;
                    continue;
                }
                self.span = Span::start(&pctx);
                let take = match message_len(p) {
                    Some(len) => {
                        // The whole message's room at once (claimed above, so within the
                        // pool's bound): grown piece by piece, a certificate chain over
                        // several segments was reallocated and copied at each doubling
                        // (10k reallocations on the quarter corpus, ~1.5 % of a text run).
                        self.buf.reserve_exact(HANDSHAKE_HEADER_LEN + len);
                        (HANDSHAKE_HEADER_LEN + len).min(p.len())
                    }
                    None => p.len(),
                };
                let (head, rest) = p.split_at(take.min(p.len()));
                self.buf.extend_from_slice(head);
                p = rest;
                continue;
            }
            self.span.touch(ctx);
            let need = match message_len(&self.buf) {
                None => HANDSHAKE_HEADER_LEN.saturating_sub(self.buf.len()),
                Some(len) => (HANDSHAKE_HEADER_LEN + len).saturating_sub(self.buf.len()),
            };
            let (head, rest) = p.split_at(need.min(p.len()));
            self.buf.extend_from_slice(head);
            p = rest;
            match message_len(&self.buf) {
                Some(len)
                    if len > self.limit(&self.buf) || !self.claim(HANDSHAKE_HEADER_LEN + len) =>
                {
                    // Header just completed and announces too much (for its bound, or for
                    // the run's pool): skip the rest by length.
                    if len <= self.limit(&self.buf) {
                        self.pool_refusals += 1;
                    }
                    self.dropped_messages += 1;
                    self.dropped_bytes += self.buf.len() as u64;
                    self.discard = (HANDSHAKE_HEADER_LEN + len).saturating_sub(self.buf.len());
                    self.buf.clear();
                    self.unclaim();
                }
                Some(len) if self.buf.len() == HANDSHAKE_HEADER_LEN + len => {
                    let span = self.span;
                    emit(&self.buf, &span);
                    self.buf.clear();
                    self.unclaim();
                    if self.buf.capacity() > RETAINED_CAPACITY {
                        // A large certificate chain is done with: give the memory back
                        // rather than hold it for the life of the connection.
                        self.buf = Vec::new();
                    }
                }
                // The header just completed (it came split): room for the rest at once.
                Some(len) => self
                    .buf
                    .reserve_exact((HANDSHAKE_HEADER_LEN + len).saturating_sub(self.buf.len())),
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(r: &mut HandshakeReassembler, pieces: &[(&[u8], PieceCtx)]) -> Vec<(Vec<u8>, Span)> {
        let mut out = Vec::new();
        for (p, c) in pieces {
            r.feed(p, c, &mut |m, s| out.push((m.to_vec(), *s)));
        }
        out
    }

    fn ctx(frame: u64, chunk: u64, record: u64, start: bool) -> PieceCtx {
        PieceCtx {
            frame,
            chunk_id: chunk,
            record_id: record,
            record_hdr_frame: frame,
            record_hdr_chunk: chunk,
            at_record_start: start,
        }
    }

    /// Two reassemblers share a pool that holds one pending message: the second message is
    /// skipped by its length, and every claim goes back when it completes or its owner goes.
    #[test]
    fn pending_messages_share_one_pool() {
        let pool = Arc::new(PendingPool::default());
        let mut a = HandshakeReassembler::with_pool(1024, 1024, Arc::clone(&pool), 100);
        let mut b = HandshakeReassembler::with_pool(1024, 1024, Arc::clone(&pool), 100);
        // Type 11, 80 bytes announced, 10 sent.
        let mut start = vec![11, 0, 0, 80];
        start.extend_from_slice(&[1; 10]);
        assert!(collect(&mut a, &[(&start, ctx(1, 1, 1, true))]).is_empty());
        assert_eq!(pool.used(), 84);
        assert!(collect(&mut b, &[(&start, ctx(2, 1, 1, true))]).is_empty());
        assert_eq!((b.pool_refusals, b.dropped_messages), (1, 1));
        assert_eq!(pool.used(), 84);
        // The rest of a's message completes it and frees its claim.
        let done = collect(&mut a, &[(&[2; 70], ctx(3, 2, 1, false))]);
        assert_eq!(done.len(), 1);
        assert_eq!(pool.used(), 0);
        assert!(collect(&mut a, &[(&start, ctx(4, 3, 2, true))]).is_empty());
        assert_eq!(pool.used(), 84);
        drop(a);
        assert_eq!(pool.used(), 0);
    }

    #[test]
    fn two_messages_in_one_piece() {
        let mut r = HandshakeReassembler::new(1024, 1024);
        let data = [1, 0, 0, 2, 0xaa, 0xbb, 14, 0, 0, 0];
        let out = collect(&mut r, &[(&data, ctx(3, 1, 1, true))]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].0, vec![1, 0, 0, 2, 0xaa, 0xbb]);
        assert_eq!(out[1].0, vec![14, 0, 0, 0]);
        assert_eq!(out[0].1.segments, 1);
        assert!(!r.is_pending());
    }

    #[test]
    fn message_over_records_and_segments() {
        let mut r = HandshakeReassembler::new(1024, 1024);
        let out = collect(
            &mut r,
            &[
                (&[11, 0], ctx(5, 1, 1, true)),
                (&[0, 3, 1], ctx(5, 1, 2, true)),
                (&[2, 3], ctx(9, 2, 2, false)),
            ],
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, vec![11, 0, 0, 3, 1, 2, 3]);
        assert_eq!(out[0].1.records, 2);
        assert_eq!(out[0].1.segments, 2);
        assert_eq!((out[0].1.first_frame, out[0].1.last_frame), (5, 9));
    }

    #[test]
    fn after_reset_waits_for_a_record_that_starts_a_message() {
        let mut r = HandshakeReassembler::new(1024, 1024);
        let out = collect(&mut r, &[(&[11, 0, 0, 50, 1, 2], ctx(1, 1, 1, true))]);
        assert!(out.is_empty());
        r.reset();
        // Tail of the lost certificate message in the next record: dropped, not parsed.
        let out = collect(
            &mut r,
            &[
                (&[0x30, 0x82, 0x01, 0x00, 9, 9], ctx(2, 2, 2, true)),
                (&[14, 0, 0, 0], ctx(3, 3, 3, true)),
            ],
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, vec![14, 0, 0, 0]);
        assert_eq!((r.dropped_messages, r.dropped_bytes), (1, 6 + 6));
    }

    #[test]
    fn oversized_message_is_skipped_and_counted() {
        let mut r = HandshakeReassembler::new(4, 4);
        let mut data = vec![11, 0, 0, 10];
        data.extend_from_slice(&[0; 10]);
        data.extend_from_slice(&[14, 0, 0, 0]);
        // Deliver byte by byte to exercise the buffered path too.
        let pieces: Vec<(&[u8], PieceCtx)> = data
            .chunks(1)
            .enumerate()
            .map(|(i, b)| (b, ctx(i as u64 + 1, i as u64 + 1, 1, i == 0)))
            .collect();
        let out = collect(&mut r, &pieces);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, vec![14, 0, 0, 0]);
        assert_eq!(r.dropped_messages, 1);
        assert_eq!(r.dropped_bytes, 14);
    }
}
