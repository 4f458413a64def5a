//! Flows: the table of TCP connections and UDP flows, and each connection's state machine.

pub mod key;

pub use key::{FlowKey, Side, Transport};
