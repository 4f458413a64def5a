//! modsniff-core: packets -> flows -> streams -> protocol events.
#![forbid(unsafe_code)]

pub mod app;
pub mod flow;
pub mod packet;
pub mod reassembly;
pub mod time;

pub use packet::{LinkType, Packet};
pub use time::{Duration, Timestamp};
