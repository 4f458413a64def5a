//! TCP reassembly: one [`Reassembler`] per direction turns segments, in whatever order the
//! capture shows them, into in-order [`Chunk`]s with explicit gaps.
//!
//! ```text
//!   segment(seq, payload, wire_len) ──▶ in order? ──yes──▶ Chunk::Data straight from the packet
//!                                         │ no
//!                                         ▼
//!                 out-of-order store (segments.rs), bounded by ReassemblyLimits + MemBudget
//!                                         │ hole filled / ACK beyond hole / finish / overflow
//!                                         ▼
//!                          Chunk::Data from the store, Chunk::Gap for each lost hole, Chunk::End
//! ```
//!
//! Guarantees:
//! - Chunks come in stream order without overlap; together with the ranges the consumer
//!   skipped they tile the stream from offset 0 up to the delivered point. Nothing is skipped
//!   silently: every byte is delivered, skipped on request, or reported in a `Gap`.
//! - First wins: bytes already delivered or buffered are never replaced by a retransmission.
//! - Only out-of-order bytes are copied, within `ReassemblyLimits` and the global `MemBudget`;
//!   what does not fit is handled by the named [`OverflowPolicy`] and counted.
//! - Sequence numbers wrap (streams beyond 4 GiB, ISNs near 2^32); offsets are u64.
//! - No panics on any input: this module denies slice indexing.
#![deny(clippy::indexing_slicing)]

pub mod limits;
pub mod reassembler;
mod segments;
pub mod seq;

pub use limits::{
    DEFAULT_MAX_OOO_BYTES_PER_DIR, DEFAULT_MAX_OOO_DISTANCE, DEFAULT_MAX_OOO_SEGMENTS_PER_DIR,
    DEFAULT_MEMCAP, MemBudget, OverflowPolicy, ReassemblyLimits,
};
pub use reassembler::{Chunk, Reassembler, ReassemblerStats, SegmentOutcome, Sink};
pub use seq::SeqNumber;
