//! HTTP/1.x requests and responses, with proxy CONNECT.
//!
//! [`HttpDecoder`] sees both directions of one TCP connection. The client side is parsed as
//! requests, the server side as responses; responses are matched to requests in order
//! (pipelining). Only header blocks are ever copied, into a per-side buffer bounded by
//! [`HttpLimits::max_header_block`]; bodies are counted off by length (`Content-Length`,
//! chunk sizes, or until close) and the bytes beyond the current chunk are handed back to
//! the reassembler with [`Progress::Skip`].
//!
//! # CONNECT and the hand-over to TLS
//!
//! After a `CONNECT` request the client side stops parsing: anything the client sends
//! before the answer is kept aside (bounded by [`HttpLimits::max_tunnel_leftover`]). When the
//! answer is 2xx the server-side call returns [`Progress::Upgrade`]`(Protocol::Tls)`. The
//! engine then calls [`HttpDecoder::take_leftover`] once per side: the server's leftover is
//! whatever followed the response head in the chunk that carried it, the client's is what
//! it sent after the CONNECT request. Those bytes come first in the TLS decoder's stream for
//! that side, before anything the reassembler delivers next. Any other answer is recorded,
//! the client's bytes kept aside are parsed as HTTP again, and the connection goes on. When
//! the tunnel turns out to carry plain HTTP/1 (the session decides, see `app::session`),
//! `HttpDecoder::reopen_tunnel` makes both sides read heads again instead.
//!
//! # Gaps
//!
//! A gap inside a body only shortens what is left of it (`body_missing` counts it). A gap
//! anywhere else (a head, chunk framing, or past a body's end) loses the message framing:
//! that side then ignores bytes until a chunk starts with a head (`HTTP/1.` from the server,
//! a common method from the client), and goes on from there.
//!
//! # Offsets
//!
//! The decoder relies on `StreamCtx::offset` to learn how far the reassembler skipped: at
//! each call, bytes between the end of what it saw and `ctx.offset` are first taken as the
//! skip it asked for (body bytes that arrived) and, beyond that, as lost bytes. `on_end`'s
//! `ctx.offset` is taken as the end of the stream, which is how a body cut short by the
//! close is told from a complete one. When `on_end` comes with offset 0 after data (the
//! caller does not know the end), a body that was being skipped is left with
//! `body_complete: None`: neither complete nor truncated is claimed.

mod chunked;
mod head;
#[cfg(test)]
mod tests;

use super::kept::{KeptPool, KeptShare, kept_to_the_end};
use super::{Progress, Protocol, StreamCtx, StreamDecoder};
use crate::time::Timestamp;
use crate::types::Side;
use chunked::{ChunkState, ChunkStep};
use head::{Framing, HeadEndScanner, HeadKind, HeadParse, RequestHead, ResponseHead};
use std::collections::VecDeque;
use std::sync::Arc;

/// One request and its response (either may be missing).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct HttpTransaction {
    /// Request method (`GET`, `CONNECT`); `None` for a response whose request was not seen.
    pub method: Option<String>,
    /// The request target exactly as on the request line: origin form (`/path?q`), absolute
    /// form (`http://host/path`, to a proxy) or authority form (`host:port`, CONNECT).
    pub uri: Option<String>,
    /// The Host header.
    pub host: Option<String>,
    /// Final response status (1xx interim responses go to `informational`).
    pub status: Option<u16>,

    /// Request version (`HTTP/1.1`).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub version: Option<&'static str>,
    /// The User-Agent header.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub user_agent: Option<String>,
    /// The request carried a Proxy-Authorization header (its value is never kept).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "std::ops::Not::not"))]
    pub proxy_authorization: bool,
    /// The Range header.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub range: Option<String>,
    /// Frame and time of the packet that carried the first byte of the request head.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub request_frame: Option<u64>,
    /// See `request_frame`.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub request_ts: Option<Timestamp>,

    /// The final response's reason phrase (`Not Found`).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub reason: Option<String>,
    /// Response version (`HTTP/1.1`).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub response_version: Option<&'static str>,
    /// 1xx responses that came before the final one (100 Continue, 103 Early Hints).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub informational: Vec<u16>,
    /// Declared Content-Length of the response.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub content_length: Option<u64>,
    /// The response's Content-Type header.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub content_type: Option<String>,
    /// The response body used chunked transfer coding.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "std::ops::Not::not"))]
    pub chunked: bool,
    /// Scheme (first word) of the first Proxy-Authenticate challenge, e.g. `Basic`.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub proxy_authenticate: Option<String>,
    /// The response's Via header (a proxy on the way).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub via: Option<String>,
    /// The response's Server header.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub server: Option<String>,
    /// The response's Location header (redirects).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub location: Option<String>,
    /// The response's Content-Range header.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub content_range: Option<String>,
    /// Frame and time of the packet that carried the first byte of the response head.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub response_frame: Option<u64>,
    /// See `response_frame`.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub response_ts: Option<Timestamp>,
    /// Response body bytes that were seen (for chunked bodies: chunk data, without the
    /// framing). Compare with `content_length` to tell a truncated body.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub body_bytes: Option<u64>,
    /// Response body bytes that were lost in capture gaps.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "is_zero"))]
    pub body_missing: u64,
    /// `true` once the body's end was reached (its length, the last chunk, or the close
    /// for a body delimited by it), `false` when the stream ended or desynchronised first;
    /// `None` while the body is still coming.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub body_complete: Option<bool>,
    /// A head of this exchange was cut short in the capture (its snap length cut the packet,
    /// or a segment was lost): its lines up to the cut are read, the rest is unknown.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "std::ops::Not::not"))]
    pub head_cut: bool,
}

impl HttpTransaction {
    /// Frame of the packet that carried the first byte of the request head.
    pub fn request_frame(&self) -> Option<u64> {
        self.request_frame
    }

    /// Time of that packet.
    pub fn request_ts(&self) -> Option<Timestamp> {
        self.request_ts
    }

    /// Frame of the packet that carried the first byte of the final response head.
    pub fn response_frame(&self) -> Option<u64> {
        self.response_frame
    }

    /// Time of that packet.
    pub fn response_ts(&self) -> Option<Timestamp> {
        self.response_ts
    }

    /// The scheme of Proxy-Authenticate (e.g. "Basic", "NTLM").
    pub fn proxy_authenticate(&self) -> Option<&str> {
        self.proxy_authenticate.as_deref()
    }

    /// The request carried a Proxy-Authorization header.
    pub fn has_proxy_authorization(&self) -> bool {
        self.proxy_authorization
    }

    /// The final response's reason phrase.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// The response body did not arrive whole: the stream ended or desynchronised before
    /// its end, or part of it was lost in a capture gap.
    pub fn body_truncated(&self) -> bool {
        self.body_complete == Some(false) || self.body_missing > 0
    }

    /// (received, declared) body bytes when a body with a Content-Length stopped short.
    /// Chunked and close-delimited bodies declare no length: see [`Self::body_truncated`].
    pub fn body_shortfall(&self) -> Option<(u64, u64)> {
        let declared = self.content_length?;
        let received = self.body_bytes?;
        (self.body_truncated() && received < declared).then_some((received, declared))
    }
}

#[cfg(feature = "serde")]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Bounds of the HTTP decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// Largest header block buffered while it arrives in pieces. Beyond it the side is
    /// given up and `HttpStats::header_overflows` counts it.
    pub max_header_block: usize,
    /// Transactions kept per connection; later ones are counted in
    /// `HttpStats::dropped_transactions` (their bodies are still framed).
    pub max_transactions: usize,
    /// Requests waiting for their response (pipelining depth).
    pub max_pipeline: usize,
    /// Client bytes kept aside while a CONNECT waits for its answer.
    pub max_tunnel_leftover: usize,
}

/// 64 KiB: larger than any header block servers accept (nginx 8-32 KiB, Apache 8 KiB per
/// line), so a legitimate message is never cut, and small enough per connection.
pub const DEFAULT_MAX_HEADER_BLOCK: usize = 64 * 1024;
/// 1,024 transactions: one keep-alive connection to a plain-HTTP module proxy carries three
/// per module (.info, .mod, .zip), so some 340 modules; each kept transaction costs about
/// half a KiB for as long as its connection lives.
pub const DEFAULT_MAX_TRANSACTIONS: usize = 1024;
/// Requests in flight on one connection.
pub const DEFAULT_MAX_PIPELINE: usize = 1024;
/// A TLS ClientHello sent before the CONNECT answer (optimistic clients) fits easily.
pub const DEFAULT_MAX_TUNNEL_LEFTOVER: usize = 64 * 1024;

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_header_block: DEFAULT_MAX_HEADER_BLOCK,
            max_transactions: DEFAULT_MAX_TRANSACTIONS,
            max_pipeline: DEFAULT_MAX_PIPELINE,
            max_tunnel_leftover: DEFAULT_MAX_TUNNEL_LEFTOVER,
        }
    }
}

/// Anomalies seen by one connection's HTTP decoder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct HttpStats {
    /// Header blocks larger than `max_header_block`.
    pub header_overflows: u64,
    /// Gaps inside a header block or chunk framing: the side waits for a chunk that starts
    /// with a head.
    pub desync_gaps: u64,
    /// ... and found one.
    pub resyncs: u64,
    /// Bytes lost inside bodies (the body was still framed correctly).
    pub body_gap_bytes: u64,
    /// Transactions beyond `max_transactions`.
    pub dropped_transactions: u64,
    /// Requests dropped because `max_pipeline` requests were already waiting.
    pub dropped_pending: u64,
    /// Responses without a request seen for them.
    pub unmatched_responses: u64,
    /// Content-Length headers that were not a number, or disagreed.
    pub bad_content_length: u64,
    /// Client bytes dropped while a CONNECT was waiting (beyond `max_tunnel_leftover`).
    pub tunnel_leftover_dropped: u64,
    /// A side ended inside a header block.
    pub truncated_heads: u64,
    /// A side that had spoken HTTP sent bytes that are not (bad chunk framing, garbage
    /// where a head should start): that side was given up, the connection was not.
    pub desync_garbage: u64,
}

impl HttpStats {
    /// Adds another decoder's counters to these (a run's totals).
    pub fn add(&mut self, other: &HttpStats) {
        // Destructured so that a new counter cannot be left out of the totals.
        let HttpStats {
            header_overflows,
            desync_gaps,
            resyncs,
            body_gap_bytes,
            dropped_transactions,
            dropped_pending,
            unmatched_responses,
            bad_content_length,
            tunnel_leftover_dropped,
            truncated_heads,
            desync_garbage,
        } = *other;
        self.header_overflows += header_overflows;
        self.desync_gaps += desync_gaps;
        self.resyncs += resyncs;
        self.body_gap_bytes += body_gap_bytes;
        self.dropped_transactions += dropped_transactions;
        self.dropped_pending += dropped_pending;
        self.unmatched_responses += unmatched_responses;
        self.bad_content_length += bad_content_length;
        self.tunnel_leftover_dropped += tunnel_leftover_dropped;
        self.truncated_heads += truncated_heads;
        self.desync_garbage += desync_garbage;
    }
}

/// The head of HTTP/2's connection preface, `PRI * HTTP/2.0` (its version is not one
/// HTTP/1 knows, so only method and target are compared).
fn is_http2_preface(req: &RequestHead) -> bool {
    req.method == "PRI" && req.target == "*" && req.version.is_none()
}

/// What a side is reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// A header block (possibly partly buffered).
    Head,
    /// A body of known remaining length.
    Body { remaining: u64 },
    /// A chunked body.
    Chunked(ChunkState),
    /// A body that ends when the connection closes.
    UntilClose,
    /// Client side after CONNECT: waiting for the answer, keeping bytes aside.
    AwaitConnect,
    /// CONNECT answered 2xx: the rest is TLS.
    Tunnel,
    /// After a gap where the next message start is unknown: each following chunk is
    /// checked for a head at its start (messages usually start a segment), the rest is
    /// ignored.
    Resync,
    /// Nothing more is wanted (close, 101 Switching Protocols, garbage, header overflow).
    Done,
    /// The bytes are not HTTP.
    Violated(&'static str),
}

/// Per-direction state.
#[derive(Debug)]
struct SideState {
    mode: Mode,
    /// The incomplete header block (only header bytes are ever put here).
    buf: Vec<u8>,
    scanner: HeadEndScanner,
    /// Frame and time of the first byte of the header block being read.
    head_start: Option<(u64, Timestamp)>,
    /// Stream offset of the next byte this side expects.
    pos: u64,
    /// Bytes the last `Progress::Skip` asked the reassembler to count off.
    skip_pending: u64,
    /// Transaction whose body is being read (server side only).
    body_tx: Option<usize>,
    /// Bytes that belong to the protocol after the upgrade (see the module doc).
    leftover: Vec<u8>,
    /// Heads parsed on this side.
    messages: u64,
}

impl SideState {
    fn new() -> Self {
        SideState {
            mode: Mode::Head,
            buf: Vec::new(),
            scanner: HeadEndScanner::default(),
            head_start: None,
            pos: 0,
            skip_pending: 0,
            body_tx: None,
            leftover: Vec::new(),
            messages: 0,
        }
    }
}

/// What kind of request a response answers: it decides whether the response has a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pending {
    head: bool,
    connect: bool,
    /// The request offered to switch to HTTP/2 (`Upgrade: h2c`).
    h2c: bool,
    /// Index in `transactions`, `None` when the transaction list was full.
    tx: Option<usize>,
}

/// One connection's HTTP/1.x decoder (both directions).
#[derive(Debug)]
pub struct HttpDecoder {
    transactions: Vec<HttpTransaction>,
    pending: VecDeque<Pending>,
    sides: [SideState; 2],
    limits: HttpLimits,
    stats: HttpStats,
    /// Heads read since the last `take_heads`, when `keep_heads` asked for them.
    heads: Option<Vec<(Side, usize)>>,
    /// The kept transactions, charged to the run's pool as they are made.
    kept_tx: KeptShare,
    /// Header blocks being read, requests waiting and CONNECT leftovers: charged after each
    /// call for what they hold then (see `sync_kept`).
    kept_buf: KeptShare,
    /// The head being taken was cut short by a gap (see `lost`): its transaction says so.
    cutting: bool,
}

/// What a kept transaction costs beyond its strings.
const TX_COST: usize = std::mem::size_of::<HttpTransaction>();
/// What a kept string costs beyond its bytes (its allocation's own overhead).
const STRING_COST: usize = 16;
/// A header buffer left empty keeps its allocation up to this size; a larger one is freed,
/// so that one large head does not stay charged for the connection's life.
const KEEP_EMPTY_BUFFER: usize = 4096;

fn string_cost(s: &Option<String>) -> usize {
    s.as_ref().map_or(0, |s| s.len() + STRING_COST)
}

/// The side's state, borrowed apart from the decoder's other fields.
fn side_of(sides: &mut [SideState; 2], side: Side) -> &mut SideState {
    let [client, server] = sides;
    match side {
        Side::Client => client,
        Side::Server => server,
    }
}

/// How appending header bytes went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Buffered {
    Kept,
    /// Beyond `max_header_block`.
    TooLarge,
    /// The run's pool of kept bytes is full.
    NoRoom,
}

impl Default for HttpDecoder {
    fn default() -> Self {
        Self::with_limits(HttpLimits::default())
    }
}

impl HttpDecoder {
    /// A decoder for one connection with the default [`HttpLimits`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder for one connection within `limits`.
    pub fn with_limits(limits: HttpLimits) -> Self {
        HttpDecoder {
            transactions: Vec::new(),
            pending: VecDeque::new(),
            sides: [SideState::new(), SideState::new()],
            limits,
            stats: HttpStats::default(),
            heads: None,
            kept_tx: KeptShare::default(),
            kept_buf: KeptShare::default(),
            cutting: false,
        }
    }

    /// A decoder for one connection within `limits`, whose transactions, header blocks and
    /// waiting requests are charged to the run's `pool` (at most `cap` bytes for all).
    pub(crate) fn within(limits: HttpLimits, pool: &Arc<KeptPool>, cap: usize) -> Self {
        HttpDecoder {
            kept_tx: KeptShare::new(pool, kept_to_the_end(cap)),
            kept_buf: KeptShare::new(pool, cap),
            ..Self::with_limits(limits)
        }
    }

    /// What the run's pool of kept bytes refused this decoder.
    pub fn kept_refusals(&self) -> u64 {
        self.kept_tx.refusals() + self.kept_buf.refusals()
    }

    /// Charges what the header buffers, waiting requests and leftovers hold now, after
    /// freeing the allocations left empty and large.
    fn sync_kept(&mut self) {
        let mut held = 0usize;
        for s in &mut self.sides {
            if s.buf.is_empty() && s.buf.capacity() > KEEP_EMPTY_BUFFER {
                s.buf = Vec::new();
            }
            if s.leftover.is_empty() && s.leftover.capacity() > KEEP_EMPTY_BUFFER {
                s.leftover = Vec::new();
            }
            held = held
                .saturating_add(s.buf.capacity())
                .saturating_add(s.leftover.capacity());
        }
        if self.pending.is_empty() && self.pending.capacity() > 16 {
            self.pending = VecDeque::new();
        }
        held = held.saturating_add(
            self.pending
                .capacity()
                .saturating_mul(std::mem::size_of::<Pending>()),
        );
        self.kept_buf.hold(held);
    }

    /// From now on, note each head as it is read, for [`HttpDecoder::take_heads`].
    pub fn keep_heads(&mut self) {
        self.heads.get_or_insert_with(Vec::new);
    }

    /// The heads read since the last call, in the order read: which side sent each, and the
    /// index of its transaction in [`HttpDecoder::transactions`] (request heads, and final
    /// response heads; heads beyond `max_transactions` are not noted). Empty unless
    /// [`HttpDecoder::keep_heads`] was called.
    pub fn take_heads(&mut self) -> Vec<(Side, usize)> {
        self.heads.as_mut().map(std::mem::take).unwrap_or_default()
    }

    fn note_head(&mut self, side: Side, tx: usize) {
        if let Some(h) = self.heads.as_mut() {
            h.push((side, tx));
        }
    }

    /// The transactions so far, in the order their first head was read.
    pub fn transactions(&self) -> &[HttpTransaction] {
        &self.transactions
    }

    /// The transactions, taking them out.
    pub fn into_transactions(self) -> Vec<HttpTransaction> {
        self.transactions
    }

    /// What this decoder counted so far.
    pub fn stats(&self) -> &HttpStats {
        &self.stats
    }

    /// Bytes of `side` that belong to the protocol the stream was upgraded to: call once per
    /// side after [`Progress::Upgrade`] and feed them to the new decoder first. `None` when
    /// there are none (or the decoder was not upgraded).
    pub fn take_leftover(&mut self, side: Side) -> Option<Vec<u8>> {
        let s = self.side_mut(side);
        if s.mode != Mode::Tunnel || s.leftover.is_empty() {
            return None;
        }
        let taken = std::mem::take(&mut s.leftover);
        self.sync_kept();
        Some(taken)
    }

    /// The tunnel bytes of `side` held since a CONNECT's 2xx (empty when none, or when the
    /// stream was not upgraded): what decides whether the tunnel carries TLS or HTTP.
    pub(crate) fn tunnel_leftover(&self, side: Side) -> &[u8] {
        let s = match side {
            Side::Client => &self.sides[0],
            Side::Server => &self.sides[1],
        };
        if s.mode == Mode::Tunnel {
            &s.leftover
        } else {
            &[]
        }
    }

    /// The tunnel of a CONNECT answered 2xx carries HTTP/1 (a plain request through the
    /// proxy): both sides read heads again, starting with the tunnel bytes held, and the
    /// transactions go on after the CONNECT's. Returns the answer for the client and for the
    /// server. `ctx` gives the frame and time of the held bytes' heads.
    pub(crate) fn reopen_tunnel(&mut self, ctx: &StreamCtx) -> [Progress; 2] {
        for side in [Side::Client, Side::Server] {
            let s = self.side_mut(side);
            if s.mode != Mode::Tunnel {
                continue;
            }
            s.mode = Mode::Head;
            let held = std::mem::take(&mut s.leftover);
            if !held.is_empty() {
                self.feed(side, &StreamCtx { side, ..*ctx }, &held);
            }
        }
        self.sync_kept();
        [self.progress(Side::Client), self.progress(Side::Server)]
    }

    fn side_mut(&mut self, side: Side) -> &mut SideState {
        // Side::index() is 0 or 1, and `sides` has two elements.
        match side {
            Side::Client => &mut self.sides[0],
            Side::Server => &mut self.sides[1],
        }
    }

    fn kind(side: Side) -> HeadKind {
        match side {
            Side::Client => HeadKind::Request,
            Side::Server => HeadKind::Response,
        }
    }

    /// The reassembler moved this side to `offset` without delivering the bytes in between:
    /// first the skip we asked for, then anything more is a loss.
    fn advance_to(&mut self, side: Side, offset: u64) {
        let s = self.side_mut(side);
        if offset <= s.pos {
            // Either contiguous, or the engine delivered bytes we asked it to skip: they are
            // then consumed as ordinary body bytes, so the skip no longer stands.
            s.skip_pending = 0;
            return;
        }
        let jump = offset - s.pos;
        let skipped = jump.min(s.skip_pending);
        s.skip_pending = 0;
        s.pos = offset;
        self.consume_skipped(side, skipped);
        if jump > skipped {
            self.lost(side, jump - skipped);
        }
    }

    /// Body bytes the reassembler counted off for us.
    fn consume_skipped(&mut self, side: Side, n: u64) {
        if n == 0 {
            return;
        }
        let s = self.side_mut(side);
        match s.mode {
            Mode::Body { remaining } => {
                let n = n.min(remaining);
                s.mode = Mode::Body {
                    remaining: remaining - n,
                };
                self.body_seen(side, n);
                if n == remaining {
                    self.body_finished(side, true);
                }
            }
            Mode::Chunked(ChunkState::Data { remaining }) => {
                let n = n.min(remaining);
                s.mode = Mode::Chunked(if n == remaining {
                    ChunkState::DataEnd { seen_cr: false }
                } else {
                    ChunkState::Data {
                        remaining: remaining - n,
                    }
                });
                self.body_seen(side, n);
            }
            Mode::UntilClose => self.body_seen(side, n),
            _ => {}
        }
    }

    /// `len` bytes of `side` are missing.
    fn lost(&mut self, side: Side, len: u64) {
        let s = self.side_mut(side);
        match s.mode {
            Mode::Body { remaining } if len <= remaining => {
                s.mode = Mode::Body {
                    remaining: remaining - len,
                };
                self.body_missing(side, len);
                if len == remaining {
                    self.body_finished(side, true);
                }
            }
            Mode::Chunked(ChunkState::Data { remaining }) if len <= remaining => {
                s.mode = Mode::Chunked(if len == remaining {
                    ChunkState::DataEnd { seen_cr: false }
                } else {
                    ChunkState::Data {
                        remaining: remaining - len,
                    }
                });
                self.body_missing(side, len);
            }
            Mode::UntilClose => self.body_missing(side, len),
            Mode::AwaitConnect => {
                // The client's first tunnel bytes are lost: handing the TLS decoder what
                // follows as if it were the start would mislead it.
                s.leftover.clear();
                s.mode = Mode::Done;
                self.stats.desync_gaps += 1;
            }
            Mode::Tunnel | Mode::Done | Mode::Violated(_) | Mode::Resync => {}
            Mode::Head | Mode::Body { .. } | Mode::Chunked(_) => {
                // A gap in a header block, chunk framing, or running past a body's end:
                // where the next message starts is unknown until one shows up. A head cut
                // short keeps what its whole lines say (a proxy's status line and first
                // headers are in the first bytes of its answer).
                let cut = matches!(s.mode, Mode::Head)
                    .then(|| cut_head(Self::kind(side), &s.buf))
                    .flatten();
                s.buf.clear();
                s.mode = Mode::Resync;
                self.stats.desync_gaps += 1;
                self.body_finished(side, false);
                if let Some(head) = cut {
                    self.cutting = true;
                    self.on_head(side, head, &[]);
                    self.cutting = false;
                    // Where its body or the next head starts is lost with the cut, except
                    // in a tunnel its answer opened, whose bytes start after the head.
                    let s = self.side_mut(side);
                    if !matches!(s.mode, Mode::Tunnel | Mode::AwaitConnect) {
                        s.buf.clear();
                        s.mode = Mode::Resync;
                    }
                    self.body_finished(side, false);
                }
            }
        }
    }

    fn body_tx(&mut self, side: Side) -> Option<&mut HttpTransaction> {
        let i = self.side_mut(side).body_tx?;
        self.transactions.get_mut(i)
    }

    fn body_seen(&mut self, side: Side, n: u64) {
        if let Some(t) = self.body_tx(side) {
            t.body_bytes = Some(t.body_bytes.unwrap_or(0).saturating_add(n));
        }
    }

    fn body_missing(&mut self, side: Side, n: u64) {
        self.stats.body_gap_bytes = self.stats.body_gap_bytes.saturating_add(n);
        if let Some(t) = self.body_tx(side) {
            t.body_missing = t.body_missing.saturating_add(n);
        }
    }

    /// The body being read on `side` ended (`complete`) or was abandoned.
    fn body_finished(&mut self, side: Side, complete: bool) {
        if let Some(t) = self.body_tx(side) {
            t.body_complete = Some(complete);
        }
        let s = self.side_mut(side);
        s.body_tx = None;
        if complete && matches!(s.mode, Mode::Body { .. } | Mode::Chunked(_)) {
            s.mode = Mode::Head;
        }
    }

    /// Parses as much of `data` as the side's state allows.
    fn feed(&mut self, side: Side, ctx: &StreamCtx, mut data: &[u8]) {
        while !data.is_empty() {
            let mode = self.side_mut(side).mode;
            let used = match mode {
                Mode::Head => self.feed_head(side, ctx, data),
                Mode::Body { remaining } => {
                    let n = remaining.min(data.len() as u64);
                    self.side_mut(side).mode = Mode::Body {
                        remaining: remaining - n,
                    };
                    self.body_seen(side, n);
                    if n == remaining {
                        self.body_finished(side, true);
                    }
                    n as usize
                }
                Mode::Chunked(ChunkState::Data { remaining }) => {
                    let n = remaining.min(data.len() as u64);
                    self.side_mut(side).mode = Mode::Chunked(if n == remaining {
                        ChunkState::DataEnd { seen_cr: false }
                    } else {
                        ChunkState::Data {
                            remaining: remaining - n,
                        }
                    });
                    self.body_seen(side, n);
                    n as usize
                }
                Mode::Chunked(mut st) => match st.step(data) {
                    ChunkStep::Consumed(n) => {
                        self.side_mut(side).mode = Mode::Chunked(st);
                        n
                    }
                    ChunkStep::Finished(n) => {
                        self.body_finished(side, true);
                        n
                    }
                    ChunkStep::Invalid(_) => {
                        // The head before it was HTTP: this side lost its framing, the
                        // connection is still HTTP (the other side goes on).
                        self.body_finished(side, false);
                        self.side_mut(side).mode = Mode::Done;
                        self.stats.desync_garbage += 1;
                        return;
                    }
                },
                Mode::UntilClose => {
                    self.body_seen(side, data.len() as u64);
                    data.len()
                }
                Mode::AwaitConnect => {
                    let max = self.limits.max_tunnel_leftover;
                    let s = self.side_mut(side);
                    if s.leftover.is_empty() {
                        // Stray line ends after the CONNECT head (some clients send one
                        // more CRLF) are not tunnel bytes: a TLS record never starts with
                        // CR or LF.
                        let stray = leading_line_ends(data);
                        if stray > 0 {
                            data = data.get(stray..).unwrap_or_default();
                            continue;
                        }
                    }
                    let mut room = max.saturating_sub(s.leftover.len());
                    if room > 0 && !self.kept_buf.fits(room.min(data.len())) {
                        room = 0;
                    }
                    let s = side_of(&mut self.sides, side);
                    let keep = data.get(..room).unwrap_or(data);
                    s.leftover.extend_from_slice(keep);
                    self.stats.tunnel_leftover_dropped += (data.len() - keep.len()) as u64;
                    data.len()
                }
                Mode::Resync => {
                    if !head::looks_like_head_start(Self::kind(side), data) {
                        return;
                    }
                    self.side_mut(side).mode = Mode::Head;
                    self.stats.resyncs += 1;
                    if side == Side::Server {
                        // Responses were lost in the gap. Clients that do not pipeline (Go's
                        // does not) send the next request only after the previous answer,
                        // so the head found here answers the latest request: the older
                        // ones lost their answers.
                        while self.pending.len() > 1 {
                            self.pending.pop_front();
                        }
                    }
                    0
                }
                Mode::Tunnel | Mode::Done | Mode::Violated(_) => return,
            };
            data = data.get(used..).unwrap_or_default();
        }
    }

    /// Reads header bytes from the front of `data`; returns how many were used.
    fn feed_head(&mut self, side: Side, ctx: &StreamCtx, data: &[u8]) -> usize {
        let kind = Self::kind(side);
        let max = self.limits.max_header_block;
        let s = side_of(&mut self.sides, side);
        if s.buf.is_empty() {
            s.head_start = Some((ctx.frame, ctx.ts));
            // Fast path: the whole head is in this chunk, parsed in place.
            match parse(kind, data) {
                Parsed::Complete(n, head) => {
                    let rest = data.get(n..).unwrap_or_default();
                    self.on_head(side, head, rest);
                    return n;
                }
                Parsed::Invalid(reason) => {
                    self.invalid_head(side, reason);
                    return data.len();
                }
                Parsed::Partial => {
                    s.scanner = HeadEndScanner::default();
                    // A partial head has no end in `data`, so all of it is header bytes.
                    let _ = s.scanner.scan(data);
                    let b = buffer(s, data, max, &mut self.kept_buf);
                    counted(&mut self.stats, b);
                    return data.len();
                }
            }
        }
        // The head started in an earlier chunk: copy up to its end only, then parse.
        let end = s.scanner.scan(data);
        let take = end.unwrap_or(data.len());
        let piece = data.get(..take).unwrap_or(data);
        let b = buffer(s, piece, max, &mut self.kept_buf);
        if counted(&mut self.stats, b) != Buffered::Kept {
            return data.len();
        }
        if end.is_none() {
            return data.len();
        }
        let block = std::mem::take(&mut s.buf);
        let parsed = parse(kind, &block);
        let s = self.side_mut(side);
        match parsed {
            Parsed::Complete(n, head) => {
                // The scanner and httparse agree on where a block ends, so `n` is the whole
                // buffer; if they ever did not, the tail is dropped rather than misread.
                let _ = n;
                s.buf = block;
                s.buf.clear();
                let rest = data.get(take..).unwrap_or_default();
                self.on_head(side, head, rest);
            }
            Parsed::Invalid(reason) => self.invalid_head(side, reason),
            Parsed::Partial => {
                // An empty line httparse does not take as the end (e.g. a lone `\r` line):
                // keep reading, the scanner goes on from a fresh line.
                s.buf = block;
                s.scanner = HeadEndScanner::default();
                let _ = s.scanner.scan(&s.buf);
            }
        }
        take
    }

    /// A head that is not HTTP: a violation when it is the side's first, otherwise the side
    /// lost its framing (a body longer than declared, garbage between messages) and stops
    /// while the connection stays HTTP.
    fn invalid_head(&mut self, side: Side, reason: &'static str) {
        let s = self.side_mut(side);
        s.buf.clear();
        if s.messages == 0 {
            s.mode = Mode::Violated(reason);
        } else {
            s.mode = Mode::Done;
            self.stats.desync_garbage += 1;
        }
    }

    /// A complete head was read on `side`; `rest` is what follows it in the chunk (needed
    /// only for the leftover of an upgrade).
    fn on_head(&mut self, side: Side, head: Head, rest: &[u8]) {
        let s = self.side_mut(side);
        s.messages += 1;
        let (frame, ts) = s.head_start.take().unzip();
        match head {
            Head::Request(req) => self.on_request(req, frame, ts),
            Head::Response(resp) => self.on_response(resp, frame, ts, rest),
        }
    }

    fn on_request(&mut self, req: RequestHead, frame: Option<u64>, ts: Option<Timestamp>) {
        if is_http2_preface(&req) {
            if self.pending.iter().any(|p| p.h2c) {
                // The client switched to HTTP/2 as its `Upgrade: h2c` request offered: the
                // preface follows a 101 not read yet (its segment came later, or was
                // resent). The client is done; the server's side still reads up to the 101.
                self.side_mut(Side::Client).mode = Mode::Done;
            } else {
                self.on_http2_preface(frame, ts);
            }
            return;
        }
        if req.lengths.bad_content_length {
            self.stats.bad_content_length += 1;
        }
        let head = req.method.eq_ignore_ascii_case("HEAD");
        let connect = req.method.eq_ignore_ascii_case("CONNECT");
        let h2c = req.upgrade_h2c;
        let framing = req.lengths.request_framing();
        let cost = TX_COST
            + req.method.len()
            + req.target.len()
            + 2 * STRING_COST
            + string_cost(&req.host)
            + string_cost(&req.user_agent)
            + string_cost(&req.range);
        let tx =
            if self.transactions.len() < self.limits.max_transactions && self.kept_tx.claim(cost) {
                self.transactions.push(HttpTransaction {
                    method: Some(req.method),
                    uri: Some(req.target),
                    host: req.host,
                    version: req.version,
                    user_agent: req.user_agent,
                    proxy_authorization: req.proxy_authorization,
                    range: req.range,
                    request_frame: frame,
                    request_ts: ts,
                    head_cut: self.cutting,
                    ..HttpTransaction::default()
                });
                let i = self.transactions.len() - 1;
                self.note_head(Side::Client, i);
                Some(i)
            } else {
                self.stats.dropped_transactions += 1;
                None
            };
        // A request waiting for its answer is charged after the call (`sync_kept`); without
        // room the oldest one waiting gives way, as when the pipeline is full.
        if self.pending.len() >= self.limits.max_pipeline
            || (!self.pending.is_empty()
                && self.pending.len() == self.pending.capacity()
                && !self
                    .kept_buf
                    .fits(self.pending.len() * std::mem::size_of::<Pending>()))
        {
            self.pending.pop_front();
            self.stats.dropped_pending += 1;
        }
        self.pending.push_back(Pending {
            head,
            connect,
            h2c,
            tx,
        });
        let s = self.side_mut(Side::Client);
        s.mode = if connect {
            Mode::AwaitConnect
        } else {
            match framing {
                Framing::Length(0) => Mode::Head,
                Framing::Length(n) => Mode::Body { remaining: n },
                Framing::Chunked => Mode::Chunked(ChunkState::START),
                // Requests are never delimited by the close (see `request_framing`).
                Framing::UntilClose => Mode::Head,
            }
        };
    }

    /// The client opened with HTTP/2's connection preface (`PRI * HTTP/2.0`, then `SM`;
    /// RFC 9113 3.4): HTTP/2 with prior knowledge. Said as one transaction of version
    /// `HTTP/2.0` (not as two HTTP/1 requests); HTTP/2 frames are not decoded, so both sides
    /// stop here.
    fn on_http2_preface(&mut self, frame: Option<u64>, ts: Option<Timestamp>) {
        if self.transactions.len() < self.limits.max_transactions && self.kept_tx.claim(TX_COST) {
            self.transactions.push(HttpTransaction {
                method: Some("PRI".to_owned()),
                uri: Some("*".to_owned()),
                version: Some("HTTP/2.0"),
                request_frame: frame,
                request_ts: ts,
                ..HttpTransaction::default()
            });
            let i = self.transactions.len() - 1;
            self.note_head(Side::Client, i);
        } else {
            self.stats.dropped_transactions += 1;
        }
        self.side_mut(Side::Client).mode = Mode::Done;
        self.side_mut(Side::Server).mode = Mode::Done;
    }

    fn on_response(
        &mut self,
        resp: ResponseHead,
        frame: Option<u64>,
        ts: Option<Timestamp>,
        rest: &[u8],
    ) {
        if resp.lengths.bad_content_length {
            self.stats.bad_content_length += 1;
        }
        let status = resp.status;
        // Interim answers (100 Continue, 103) precede the real one for the same request;
        // 101 is final: the connection leaves HTTP.
        let interim = (100..200).contains(&status) && status != 101;
        let req = if interim {
            self.pending.front().copied()
        } else {
            self.pending.pop_front()
        };
        let tx_index = match req.map(|p| p.tx) {
            Some(tx) => tx,
            None => {
                self.stats.unmatched_responses += 1;
                if self.transactions.len() < self.limits.max_transactions
                    && self.kept_tx.claim(TX_COST)
                {
                    self.transactions.push(HttpTransaction::default());
                    Some(self.transactions.len() - 1)
                } else {
                    self.stats.dropped_transactions += 1;
                    None
                }
            }
        };
        let head_req = req.is_some_and(|p| p.head);
        let connect = req.is_some_and(|p| p.connect);
        let no_body = head_req || interim || status == 101 || status == 204 || status == 304;
        let tunnel = connect && (200..300).contains(&status);
        let framing = resp.lengths.response_framing();
        // The response's strings are charged with it; without room the transaction keeps
        // its status and framing, not the strings.
        let keep_strings = interim
            || tx_index.is_none()
            || self.kept_tx.claim(
                resp.reason.len()
                    + STRING_COST
                    + string_cost(&resp.content_type)
                    + string_cost(&resp.proxy_authenticate)
                    + string_cost(&resp.via)
                    + string_cost(&resp.server)
                    + string_cost(&resp.location)
                    + string_cost(&resp.content_range),
            );
        let keep_interim = interim && tx_index.is_some() && self.kept_tx.claim(2);
        let resp = if keep_strings {
            resp
        } else {
            ResponseHead {
                reason: String::new(),
                content_type: None,
                proxy_authenticate: None,
                via: None,
                server: None,
                location: None,
                content_range: None,
                ..resp
            }
        };
        if let Some(t) = tx_index.and_then(|i| self.transactions.get_mut(i)) {
            if interim {
                if keep_interim {
                    t.informational.push(status);
                }
            } else {
                t.status = Some(status);
                t.reason = keep_strings.then_some(resp.reason);
                t.response_version = Some(resp.version);
                t.content_length = resp.lengths.content_length;
                t.content_type = resp.content_type;
                t.chunked = resp.lengths.chunked && resp.lengths.transfer_encoding;
                t.proxy_authenticate = resp.proxy_authenticate;
                t.via = resp.via;
                t.server = resp.server;
                t.location = resp.location;
                t.content_range = resp.content_range;
                t.response_frame = frame;
                t.response_ts = ts;
                t.head_cut |= self.cutting;
                if no_body || tunnel {
                    t.body_complete = Some(true);
                } else {
                    t.body_bytes = Some(0);
                }
            }
        }
        if let Some(i) = tx_index
            && !interim
        {
            self.note_head(Side::Server, i);
        }
        if interim {
            return;
        }
        if tunnel {
            let server = self.side_mut(Side::Server);
            server.mode = Mode::Tunnel;
            server.leftover = rest
                .get(leading_line_ends(rest)..)
                .unwrap_or_default()
                .to_vec();
            let client = self.side_mut(Side::Client);
            client.mode = Mode::Tunnel;
            return;
        }
        if connect {
            // Refused CONNECT (407, 403, 502...): the client may try again on the same
            // connection; what it sent meanwhile is HTTP again.
            let client = self.side_mut(Side::Client);
            if client.mode == Mode::AwaitConnect {
                client.mode = Mode::Head;
                let kept = std::mem::take(&mut client.leftover);
                let ctx = StreamCtx {
                    side: Side::Client,
                    ts: ts.unwrap_or_default(),
                    frame: frame.unwrap_or_default(),
                    offset: 0,
                };
                self.feed(Side::Client, &ctx, &kept);
            }
        }
        if status == 101 {
            // Switching Protocols (WebSocket, h2c): nothing we decode follows, on either
            // side (the HTTP/2 frames after an h2c switch, the preface included, are not
            // read as HTTP/1).
            self.side_mut(Side::Server).mode = Mode::Done;
            self.side_mut(Side::Client).mode = Mode::Done;
            return;
        }
        let s = self.side_mut(Side::Server);
        s.body_tx = tx_index;
        s.mode = if no_body {
            Mode::Head
        } else {
            match framing {
                Framing::Length(0) => Mode::Head,
                Framing::Length(n) => Mode::Body { remaining: n },
                Framing::Chunked => Mode::Chunked(ChunkState::START),
                Framing::UntilClose => Mode::UntilClose,
            }
        };
        if s.mode == Mode::Head {
            s.body_tx = None;
            if !no_body && let Some(t) = tx_index.and_then(|i| self.transactions.get_mut(i)) {
                t.body_complete = Some(true);
            }
        }
    }

    /// The answer for `side` once a call is over.
    fn progress(&mut self, side: Side) -> Progress {
        let s = self.side_mut(side);
        let skip = match s.mode {
            Mode::Head | Mode::AwaitConnect | Mode::Resync => return Progress::Continue,
            Mode::Body { remaining } => remaining,
            Mode::Chunked(ChunkState::Data { remaining }) => remaining,
            Mode::Chunked(_) => return Progress::Continue,
            // Everything up to the close is body; the end offset tells its length.
            Mode::UntilClose => u64::MAX,
            Mode::Tunnel => return Progress::Upgrade(Protocol::Tls),
            Mode::Done => return Progress::Done,
            Mode::Violated(reason) => return Progress::Violation(reason),
        };
        s.skip_pending = skip;
        Progress::Skip(skip)
    }
}

/// A parsed head of either kind.
#[derive(Debug)]
enum Head {
    Request(RequestHead),
    Response(ResponseHead),
}

type Parsed = HeadParse<Head>;

fn parse(kind: HeadKind, buf: &[u8]) -> Parsed {
    match kind {
        HeadKind::Request => match head::parse_request(buf) {
            HeadParse::Complete(n, h) => HeadParse::Complete(n, Head::Request(h)),
            HeadParse::Partial => HeadParse::Partial,
            HeadParse::Invalid(r) => HeadParse::Invalid(r),
        },
        HeadKind::Response => match head::parse_response(buf) {
            HeadParse::Complete(n, h) => HeadParse::Complete(n, Head::Response(h)),
            HeadParse::Partial => HeadParse::Partial,
            HeadParse::Invalid(r) => HeadParse::Invalid(r),
        },
    }
}

/// The head a gap cut short: its whole lines, closed as a head, when they make one (at least
/// the request or status line).
fn cut_head(kind: HeadKind, buf: &[u8]) -> Option<Head> {
    let skip = leading_line_ends(buf);
    let block = buf.get(skip..)?;
    let mut closed = match block.windows(2).rposition(|w| w == b"\r\n") {
        Some(end) => block.get(..end + 2)?.to_vec(),
        None => cut_first_line(kind, block)?,
    };
    closed.extend_from_slice(b"\r\n");
    match parse(kind, &closed) {
        HeadParse::Complete(_, head) => Some(head),
        HeadParse::Partial | HeadParse::Invalid(_) => None,
    }
}

/// A first line cut before its end, made whole from what it holds: a request line once its
/// target is complete (`CONNECT host:443 HT`), a status line once its code is
/// (`HTTP/1.1 407 Proxy Authentic`). The version a request line lost is taken as 1.1.
fn cut_first_line(kind: HeadKind, line: &[u8]) -> Option<Vec<u8>> {
    let mut words = line.split(|&b| b == b' ');
    let (first, second) = (words.next()?, words.next()?);
    match kind {
        HeadKind::Request => {
            // The target is whole only when a space ended it.
            words.next()?;
            Some([first, b" ", second, b" HTTP/1.1\r\n"].concat())
        }
        HeadKind::Response => {
            let code_whole = second.len() == 3 && second.iter().all(u8::is_ascii_digit);
            (first.starts_with(b"HTTP/1.") && code_whole && words.next().is_some())
                .then(|| [first, b" ", second, b" \r\n"].concat())
        }
    }
}

/// Number of CR/LF bytes at the start of `data`.
fn leading_line_ends(data: &[u8]) -> usize {
    data.iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count()
}

/// Counts a header block too large to buffer.
fn counted(stats: &mut HttpStats, b: Buffered) -> Buffered {
    if b == Buffered::TooLarge {
        stats.header_overflows += 1;
    }
    b
}

/// Appends header bytes to the side's buffer within `max` and the run's pool of kept bytes;
/// without room gives the side up.
fn buffer(s: &mut SideState, bytes: &[u8], max: usize, kept: &mut KeptShare) -> Buffered {
    let result = if s.buf.len().saturating_add(bytes.len()) > max {
        Buffered::TooLarge
    } else if !kept.fits(bytes.len()) {
        Buffered::NoRoom
    } else {
        s.buf.extend_from_slice(bytes);
        return Buffered::Kept;
    };
    s.buf = Vec::new();
    s.mode = Mode::Done;
    result
}

impl StreamDecoder for HttpDecoder {
    fn on_data(&mut self, ctx: &StreamCtx, data: &[u8]) -> Progress {
        let side = ctx.side;
        self.advance_to(side, ctx.offset);
        let s = self.side_mut(side);
        s.pos = s.pos.max(ctx.offset).saturating_add(data.len() as u64);
        self.feed(side, ctx, data);
        self.sync_kept();
        self.progress(side)
    }

    fn on_gap(&mut self, ctx: &StreamCtx, len: u64) -> Progress {
        let side = ctx.side;
        self.advance_to(side, ctx.offset);
        let s = self.side_mut(side);
        s.pos = s.pos.max(ctx.offset).saturating_add(len);
        self.lost(side, len);
        self.sync_kept();
        self.progress(side)
    }

    fn on_end(&mut self, ctx: &StreamCtx) {
        let side = ctx.side;
        // An end offset of 0 after data means the caller does not know where the stream
        // ended: whether the bytes we asked it to skip arrived is then unknown, and a body
        // being skipped is left neither complete nor truncated (`body_complete: None`).
        let s = self.side_mut(side);
        let end_known = ctx.offset > 0 || s.pos == 0;
        if end_known {
            self.advance_to(side, ctx.offset);
        }
        let unknown = !end_known && self.side_mut(side).skip_pending > 0;
        let mode = self.side_mut(side).mode;
        match mode {
            Mode::Body { .. } | Mode::Chunked(_) | Mode::UntilClose if unknown => {
                self.side_mut(side).body_tx = None;
            }
            Mode::UntilClose => self.body_finished(side, true),
            Mode::Body { .. } | Mode::Chunked(_) => self.body_finished(side, false),
            Mode::Head if !self.side_mut(side).buf.is_empty() => {
                self.side_mut(side).buf = Vec::new();
                self.stats.truncated_heads += 1;
            }
            _ => {}
        }
        let s = self.side_mut(side);
        if matches!(
            s.mode,
            Mode::Head | Mode::Body { .. } | Mode::Chunked(_) | Mode::UntilClose
        ) {
            s.mode = Mode::Done;
        }
        self.sync_kept();
    }
}
