//! Flows: each TCP connection's state machine (endpoint states, history, analysis) and UDP
//! flows' counters. Nothing here knows what the bytes mean.

pub mod history;
pub mod sides;
pub mod tcp_conn;
pub mod udp;

pub use sides::{IcmpInfo, ResetInfo, SideStats};
pub use tcp_conn::{SegmentVerdict, TcpConn, TcpSummary, is_new_data};
pub use udp::UdpFlow;
