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
//! Packets are lent out ([`modsniff_core::Packet`] borrows the source's buffer): no
//! allocation per packet. A file's packets pass through a bounded reorder window
//! ([`ReadLimits::reorder_window`], [`FileSource::reordered_packets`]) that hands them out in
//! timestamp order. Where a pcap file is in time order the reader walks the record headers
//! ahead and lends records straight from the read buffer; held packets stay there until it
//! refills, then are copied into reused buffers. This crate never prints and never exits.
//!
//! # Read a file and see each ClientHello as it arrives
//!
//! The engine hands out the events `Config::events` asks for while the packets are pushed:
//! here the ClientHello of a handshake that a middlebox reset (frame 15), before the reset
//! (frame 16) and long before the connection's summary.
//!
//! ```
//! use modsniff_capture::FileSource;
//! use modsniff_core::{Config, Engine, Event, EventMask};
//!
//! # fn main() -> Result<(), modsniff_capture::CaptureError> {
//! # let path = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/go119-sni-rst.pcap"));
//! let mut source = FileSource::open(&path)?;
//! let config = Config {
//!     events: EventMask::CLIENT_HELLO | EventMask::RESET,
//!     ..Config::default()
//! };
//! let mut engine = Engine::new(config);
//! let mut seen = Vec::new();
//! let mut on_event = |event: Event| match event {
//!     Event::ClientHello(hello) => {
//!         let sni = hello.data.sni.as_deref().unwrap_or("-");
//!         println!("frame {}: {} -> {} asks for {sni}", hello.frame, hello.client, hello.server);
//!         seen.push((hello.frame, sni.to_string()));
//!     }
//!     Event::Reset(reset) => {
//!         println!("frame {}: reset from the {:?}'s address", reset.frame, reset.data.from);
//!         seen.push((reset.frame, "RST".to_string()));
//!     }
//!     _ => {}
//! };
//! while let Some(packet) = source.next_packet()? {
//!     engine.push(&packet, &mut on_event);
//! }
//! engine.finish(&mut on_event);
//!
//! assert_eq!(seen, [(15, "proxy.golang.org".to_string()), (16, "RST".to_string())]);
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Input is hostile: no panicking shortcuts outside tests. An index that cannot be
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
    DEFAULT_BUFFER_SIZE, DEFAULT_MAX_BUFFER_SIZE, DEFAULT_MAX_CAPLEN, DEFAULT_REORDER_WINDOW,
    FileSource, Format, ReadLimits,
};
#[cfg(feature = "live")]
pub use live::{
    DEFAULT_SNAPLEN, DEFAULT_TIMEOUT_MS, InterfaceInfo, LiveConfig, LiveSource, LiveStats,
    list_interfaces,
};
pub use writer::{
    FILE_WRITE_BUFFER, MAX_WRITTEN_INTERFACES, PcapFileWriter, PcapNgWriter, PcapWriter,
    TsPrecision,
};
