//! Flows: each TCP connection's state machine (endpoint states, history, analysis) and UDP
//! flows' counters. Nothing here knows what the bytes mean.

pub mod history;
pub mod tcp_conn;
pub mod udp;

pub use crate::types::{FlowKey, Side, Transport};
pub use tcp_conn::TcpConn;
pub use udp::UdpFlow;
