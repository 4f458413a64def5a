//! Flows: the table of TCP connections and UDP flows, and each connection's state machine.

pub mod history;
pub mod key;
pub mod tcp_conn;
pub mod udp;

pub use key::{FlowKey, Side, Transport};
pub use tcp_conn::TcpConn;
pub use udp::UdpFlow;
