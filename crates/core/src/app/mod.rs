//! Application-layer decoders, fed by the reassembler.
//!
//! Every decoder sees one connection's two byte streams as `on_data` / `on_gap` / `on_end`
//! calls (Zeek's analyzer moments) and answers each with a [`Progress`]. Decoders never see
//! packets and never know each other: a connection's [`session`] chooses one by content
//! ([`detect`]) and swaps in another when a decoder asks for it (`Progress::Upgrade`, e.g.
//! HTTP CONNECT answered 2xx continues as TLS).
//!
//! Buffering rule: the reassembler hands over in-order bytes without copying them; a decoder
//! copies only the part of a message that is still incomplete (a TLS record split across
//! segments, an HTTP header block), into a buffer it bounds itself. Bytes it has no use for
//! (bodies, encrypted records) it skips by length with `Progress::Skip`, so they are never
//! buffered anywhere.

pub mod detect;
pub mod dns;
pub mod http;
pub(crate) mod kept;
pub mod session;
pub mod tls;

use crate::time::Timestamp;
use crate::types::Side;
pub use crate::types::{Progress, Protocol};

/// Where a chunk of stream data came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamCtx {
    /// Which side sent these bytes.
    pub side: Side,
    /// Timestamp of the packet that carried the first byte of this chunk.
    pub ts: Timestamp,
    /// Frame number (1-based) of the packet that carried the first byte of this chunk.
    pub frame: u64,
    /// Offset of the first byte of this chunk in this side's stream (0 = first byte after SYN).
    pub offset: u64,
}

/// The interface every stream decoder implements.
pub trait StreamDecoder {
    /// In-order bytes from `ctx.side`.
    fn on_data(&mut self, ctx: &StreamCtx, data: &[u8]) -> Progress;
    /// `len` bytes of `ctx.side` that were never captured (lost, snaplen-cut, evicted). The
    /// decoder resynchronises or gives up; it must not treat the next bytes as contiguous.
    fn on_gap(&mut self, ctx: &StreamCtx, len: u64) -> Progress;
    /// `ctx.side` closed (FIN or RST), or the capture ended.
    fn on_end(&mut self, ctx: &StreamCtx);
}
