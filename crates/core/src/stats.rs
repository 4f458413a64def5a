//! Counters: what was read, what could not be decoded, what a limit refused.

use crate::app::http::HttpStats;
use crate::app::tls::ChainStats;
use std::collections::BTreeMap;

/// Totals for one run. Every bound in `Limits` has a counter here.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Stats {
    /// Records the capture numbered, as Wireshark numbers frames: the packets plus pcapng
    /// blocks that take a frame number without carrying a packet (custom blocks). Equal to
    /// `packets` unless the reader says otherwise.
    pub frames: u64,
    /// Packets pushed.
    pub packets: u64,
    /// Captured bytes (what the capture kept of each packet).
    pub bytes: u64,
    /// Packets that decoded to a TCP segment.
    pub tcp_packets: u64,
    /// Packets that decoded to a UDP datagram.
    pub udp_packets: u64,
    /// Packets decoded no further than the link or IP layer, by reason.
    pub decode_errors: BTreeMap<&'static str, u64>,
    /// Packets whose capture was cut by the snaplen.
    pub truncated_packets: u64,
    /// Packets of a link type the engine does not decode.
    pub unknown_link_types: u64,
    /// Connection records emitted (TCP and UDP).
    pub connections: u64,
    /// Of which TCP connections.
    pub tcp_connections: u64,
    /// Of which UDP flows.
    pub udp_flows: u64,
    /// Connections pushed out by `limits.max_flows` before they ended.
    pub evicted_flows: u64,
    /// Out-of-order bytes refused by the per-connection buffer or the global memcap.
    pub reassembly_dropped_bytes: u64,
    /// Streams whose buffers were freed early because of the memcap (one per refusal: the
    /// stream declared its first hole lost and delivered what it held).
    pub evicted_streams: u64,
    /// Bytes never delivered to a decoder (holes, snaplen cuts, drops), both sides, all flows.
    pub missed_bytes: u64,
    /// Out-of-order segments that found their direction's store at
    /// `limits.max_ooo_segments_per_dir` (the store then gave up its first hole, or under
    /// `DropNew` the segment was refused). Every stored segment is also charged to the
    /// memcap for its bookkeeping, not only its bytes.
    pub ooo_segment_limit_hits: u64,
    /// TCP segments that began beyond the receive window the peer had advertised: not the
    /// sender's stream (injected or forged), counted and not reassembled.
    pub out_of_window_segments: u64,
    /// Packets stamped more than `limits.max_clock_jump` ahead of the capture's clock that
    /// no packet after them confirmed (one timestamp far ahead, the next ones back in the
    /// current time): never taken as the time. A jump a second packet confirms (a capture
    /// that was quiet a while) is the time, and not counted.
    pub clock_jumps: u64,
    /// Handshake messages skipped because all connections' partial TLS handshake messages
    /// together had reached `limits.tls.max_pending_handshake_bytes`.
    pub handshake_buffer_refusals: u64,
    /// subjectAltName entries beyond `limits.tls.max_san_entries` per certificate, not kept.
    pub san_entries_dropped: u64,
    /// What the decoders of live connections could not keep because all of them together
    /// held `limits.max_kept_bytes`: HTTP transactions counted and not kept, header blocks
    /// not buffered (that side given up), requests or CONNECT bytes not held, certificate
    /// names not kept (also in `san_entries_dropped`). One per refusal.
    pub kept_bytes_refusals: u64,
    /// IP fragments seen.
    pub ip_fragments: u64,
    /// IP datagrams rebuilt from fragments.
    pub ip_reassembled: u64,
    /// Fragments dropped: too many datagrams in flight, timeout, overlap, oversize.
    pub ip_fragments_dropped: u64,
    /// ICMP errors seen (unreachable, time exceeded...).
    pub icmp_errors: u64,
    /// DNS messages decoded (UDP and TCP).
    pub dns_messages: u64,
    /// Anomalies by Zeek-style name (e.g. "syn_with_data", "rst_with_data").
    pub anomalies: BTreeMap<&'static str, u64>,
    /// The HTTP decoders' counters, summed over the connections that ended (what
    /// `limits.http` refused, desyncs and resyncs, unmatched responses...).
    pub http: HttpStats,
    /// Chain validation over the run: chains validated and answered from the cache, the
    /// work done, and the chains `limits.tls.chain` left undecided.
    pub x509: ChainStats,
    /// Kernel counters for a live capture, filled by the caller.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub kernel: Option<KernelStats>,
}

/// libpcap's `pcap_stats`: what the kernel saw and dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct KernelStats {
    /// Packets the kernel received.
    pub received: u64,
    /// Packets dropped because the buffer was full.
    pub dropped: u64,
    /// Packets the interface or its driver dropped.
    pub if_dropped: u64,
}

impl Stats {
    /// Counts one more packet that stopped decoding for `kind`.
    pub fn decode_error(&mut self, kind: &'static str) {
        *self.decode_errors.entry(kind).or_insert(0) += 1;
    }
    /// Counts one more anomaly `name`.
    pub fn anomaly(&mut self, name: &'static str) {
        *self.anomalies.entry(name).or_insert(0) += 1;
    }
}
