//! modsniff-capture: where packets come from.
//!
//! - [`FileSource`]: pcap (micro/nanosecond, both byte orders, "modified") and pcapng (several
//!   sections, interfaces, `if_tsresol`/`if_tsoffset`, EPB/SPB/PB) from a path, stdin (`-`) or
//!   any `Read`, in pure Rust, through a bounded buffer. Damage ends reading cleanly with a
//!   [`CaptureWarning`].
//! - [`PcapWriter`]: writes packets back out as `tcpdump -w` does; [`PcapNgWriter`] when they
//!   have several link types.
//! - `LiveSource` (feature `live`): libpcap capture with a BPF filter and kernel drop counts.
//!
//! Packets are lent out ([`modsniff_core::Packet`] borrows the source's buffer): no copy and
//! no allocation per packet. This crate never prints and never exits.
#![forbid(unsafe_code)]
// Input is hostile (issue 8): no panicking shortcuts outside tests. An index that cannot be
// out of bounds by construction (a `Side` into a two-element array) says so in an `allow`.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

mod buffer;
mod error;
mod file;
#[cfg(feature = "live")]
mod live;
mod pcapng;
mod writer;

pub use error::{CaptureError, CaptureWarning, WarningKind};
pub use file::{
    DEFAULT_BUFFER_SIZE, DEFAULT_MAX_BUFFER_SIZE, DEFAULT_MAX_CAPLEN, FileSource, Format,
    ReadLimits,
};
#[cfg(feature = "live")]
pub use live::{
    DEFAULT_SNAPLEN, DEFAULT_TIMEOUT_MS, InterfaceInfo, LiveConfig, LiveSource, LiveStats,
    list_interfaces,
};
pub use writer::{MAX_WRITTEN_INTERFACES, PcapNgWriter, PcapWriter, TsPrecision};
