//! What the flow layer records about each side of a flow, and the packets worth citing later:
//! resets and ICMP errors, with what tells a forged one from a real one.

use crate::time::Timestamp;
use crate::types::Side;
use serde::Serialize;

/// A TCP RST as seen in the capture, with what tells a forged one from a real one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResetInfo {
    pub packet: u64,
    pub ts: Timestamp,
    /// The side whose address the RST came from (a middlebox may forge either).
    pub from: Side,
    pub ttl: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_id: Option<u16>,
    pub seq: u32,
    pub ack: u32,
    /// Payload bytes the sending side had sent before this RST.
    pub after_bytes: u64,
    /// The other side had sent payload that this side had not acknowledged when the RST came.
    pub with_unacked_data: bool,
}

/// An ICMP error that quotes a packet of this flow.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IcmpInfo {
    pub packet: u64,
    pub ts: Timestamp,
    /// Who sent the ICMP error.
    pub from: std::net::IpAddr,
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    pub ttl: u8,
}

/// Per-side counters and observations.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SideStats {
    pub packets: u64,
    /// TCP/UDP payload bytes on the wire (including bytes the capture cut or missed).
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts_first: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts_last: Option<Timestamp>,
    /// Lowest and highest TTL / hop limit of this side's packets (RSTs excluded: a forged RST
    /// is judged against the rest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_min: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_max: Option<u8>,
    /// IPv4 ID of the last non-RST packet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_id_last: Option<u16>,
    /// Frames of the SYNs (client) or SYN-ACKs (server), the first few.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub syn_frames: Vec<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_data_frame: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_data_frame: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_data_ts: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fin_frame: Option<u64>,
    /// This side's last ACK did not cover all the data the other side sent: some of it never
    /// arrived (a path that drops big segments). Not part of the JSON contract.
    #[serde(skip)]
    pub peer_data_unacked: bool,
    /// Time of `fin_frame` (for evidence; not part of the JSON contract).
    #[serde(skip)]
    pub fin_ts: Option<Timestamp>,
    /// Frame and time of this side's last data sent while the peer was still open (no FIN or
    /// RST from it yet): what a server sends after the client gave up (a TLS close_notify, an
    /// HTTP/2 GOAWAY) is an answer to the close, not content. Not part of the JSON contract.
    #[serde(skip)]
    pub last_data_while_peer_open: Option<(u64, Timestamp)>,
    /// Wireshark's tcp.analysis.retransmission (fast and spurious included).
    pub retransmissions: u64,
    /// A segment that fills a hole below the highest sequence seen (tcp.analysis.out_of_order).
    pub out_of_order: u64,
    /// Holes: a segment started beyond the highest sequence seen (tcp.analysis.lost_segment).
    pub lost_segments: u64,
    /// tcp.analysis.duplicate_ack.
    pub dup_acks: u64,
    /// tcp.analysis.zero_window.
    pub zero_windows: u64,
    /// Bytes never seen by the decoders (lost, snaplen-cut, or dropped by a memory limit).
    pub missed_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_scale: Option<u8>,
}
