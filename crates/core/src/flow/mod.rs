//! Flows: each TCP connection's state machine (endpoint states, history, analysis) and UDP
//! flows' counters. Nothing here knows what the bytes mean.

mod history;
pub(crate) mod sides;
mod tcp_conn;
mod udp;

pub(crate) use tcp_conn::{SegmentVerdict, TcpConn, is_new_data};
pub(crate) use udp::UdpFlow;
