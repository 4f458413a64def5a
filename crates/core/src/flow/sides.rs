//! What the flow layer records about each side of a flow, and the packets worth citing later:
//! resets and ICMP errors, with what tells a forged one from a real one.

use crate::time::Timestamp;
use crate::types::Side;

/// A TCP RST as seen in the capture, with what tells a forged one from a real one.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ResetInfo {
    /// Its frame number.
    pub packet: u64,
    /// Its timestamp.
    pub ts: Timestamp,
    /// The side whose address the RST came from (a middlebox may forge either).
    pub from: Side,
    /// Its IP TTL / hop limit (unlike the sender's other packets: likely forged).
    pub ttl: u8,
    /// Its IPv4 ID (IPv6 has none).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub ip_id: Option<u16>,
    /// Its TCP sequence number.
    pub seq: u32,
    /// Its TCP acknowledgement number.
    pub ack: u32,
    /// Payload bytes the sending side had sent before this RST.
    pub after_bytes: u64,
    /// The other side had sent payload that this side had not acknowledged when the RST came.
    pub with_unacked_data: bool,
}

/// An ICMP error that quotes a packet of this flow.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct IcmpInfo {
    /// Its frame number.
    pub packet: u64,
    /// Its timestamp.
    pub ts: Timestamp,
    /// Who sent the ICMP error.
    pub from: std::net::IpAddr,
    /// ICMPv6, not ICMP.
    pub v6: bool,
    /// ICMP type (3 = destination unreachable, 11 = time exceeded; ICMPv6: 1, 3).
    pub icmp_type: u8,
    /// ICMP code.
    pub code: u8,
    /// The TTL / hop limit of the ICMP packet itself.
    pub ttl: u8,
}

/// Retransmissions whose frame and time `SideStats::retransmission_times` keeps (the latest;
/// `retransmissions` counts them all).
pub const MAX_RETRANSMISSIONS_NOTED: usize = 8;

/// Per-side counters and observations.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SideStats {
    /// Packets this side sent.
    pub packets: u64,
    /// TCP/UDP payload bytes on the wire (including bytes the capture cut or missed).
    pub bytes: u64,
    /// Time of this side's first packet.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub ts_first: Option<Timestamp>,
    /// Time of this side's last packet.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub ts_last: Option<Timestamp>,
    /// Lowest and highest TTL / hop limit of this side's packets (RSTs excluded: a forged RST
    /// is judged against the rest).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub ttl_min: Option<u8>,
    /// See `ttl_min`.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub ttl_max: Option<u8>,
    /// IPv4 ID of the last non-RST packet.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub ip_id_last: Option<u16>,
    /// Frames of the SYNs (client) or SYN-ACKs (server), the first few.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub syn_frames: Vec<u64>,
    /// Frame of this side's first segment with payload.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub first_data_frame: Option<u64>,
    /// Frame of its last segment with payload.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub last_data_frame: Option<u64>,
    /// Time of that segment.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub last_data_ts: Option<Timestamp>,
    /// Frame of this side's first FIN.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub fin_frame: Option<u64>,
    /// This side's last ACK did not cover all the data the other side sent: some of it never
    /// arrived (a path that drops big segments). Not serialized.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub peer_data_unacked: bool,
    /// Time of `fin_frame`. Not serialized.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub fin_ts: Option<Timestamp>,
    /// Frame and time of this side's last data sent while the peer was still open (no FIN or
    /// RST from it yet): what a server sends after the client gave up (a TLS close_notify, an
    /// HTTP/2 GOAWAY) is an answer to the close, not content. Not serialized.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub last_data_while_peer_open: Option<(u64, Timestamp)>,
    /// Wireshark's tcp.analysis.retransmission (fast and spurious included).
    pub retransmissions: u64,
    /// Frame and time of the latest retransmissions, bare FINs sent again included (at most
    /// `MAX_RETRANSMISSIONS_NOTED`, oldest first): resends that nothing answers are the sign
    /// of a peer that no longer hears anything. Not part of the JSON contract.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub retransmission_times: Vec<(u64, Timestamp)>,
    /// A segment that fills a hole below the highest sequence seen (tcp.analysis.out_of_order).
    pub out_of_order: u64,
    /// Holes: a segment started beyond the highest sequence seen (tcp.analysis.lost_segment).
    pub lost_segments: u64,
    /// Segments whose payload began beyond the receive window the peer advertised: injected,
    /// not this side's stream (neither loss nor data).
    pub out_of_window: u64,
    /// Frame and time of the first of them. Not serialized.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub first_out_of_window: Option<(u64, Timestamp)>,
    /// tcp.analysis.duplicate_ack.
    pub dup_acks: u64,
    /// tcp.analysis.zero_window.
    pub zero_windows: u64,
    /// Bytes never seen by the decoders (lost, snaplen-cut, or dropped by a memory limit).
    pub missed_bytes: u64,
    /// The window scale this side announced in its SYN.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub window_scale: Option<u8>,
}

impl SideStats {
    /// Keeps a retransmission's frame and time, the latest `MAX_RETRANSMISSIONS_NOTED`.
    pub(crate) fn note_retransmission(&mut self, frame: u64, ts: Timestamp) {
        if self.retransmission_times.len() >= MAX_RETRANSMISSIONS_NOTED {
            self.retransmission_times.remove(0);
        }
        self.retransmission_times.push((frame, ts));
    }
}
