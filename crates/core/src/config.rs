//! Engine settings: every bound has a name and a default here, and a counter in `Stats`.
//!
//! # Limits, and what happens when each is hit
//!
//! modsniff reads captures from broken taps and hostile networks and may run `live` for days,
//! so everything it keeps is bounded. A limit that bites never stops the run and never
//! returns an error: the excess is dropped or ended early, counted, and the connection it hit
//! is marked (`Connection::partial`, missed bytes), so a verdict from incomplete data says so.
//! Suricata's memcaps with their exception policies are the model.
//!
//! | limit (CLI) | default | when hit | counted in |
//! |---|---|---|---|
//! | [`Limits::max_flows`] (`--max-flows`) | 16,384 | the flow scheduled to expire first is ended now, reported with `end_reason: evicted` | `stats.evicted_flows` |
//! | [`Limits::memcap`] (`--memcap`, MiB) | 24 MiB | all out-of-order TCP bytes together, each stored range charged 64 bytes more for its bookkeeping (snaplen-cut ranges too): the stream that needs room declares its first hole lost (a gap) and delivers what it holds, so buffers drain | `stats.evicted_streams` (= `MemBudget::refusals`), `stats.missed_bytes` |
//! | [`Limits::max_ooo_bytes_per_dir`] | 256 KiB | as for the memcap, per direction | same |
//! | [`Limits::max_ooo_segments_per_dir`] | 256 | as for the memcap, per direction (bounds bookkeeping for tiny segments) | `stats.ooo_segment_limit_hits` |
//! | [`Limits::max_ooo_distance`] | 1 GiB | a segment or ACK that far ahead of the delivered point is not of this stream: refused | `stats.reassembly_dropped_bytes` |
//! | [`Limits::max_frag_datagrams`] | 256 | the oldest datagram in reassembly is dropped | `stats.ip_fragments_dropped` |
//! | [`Limits::max_frag_bytes`] | 65,575 | a fragment reaching past it drops its datagram | `stats.ip_fragments_dropped`, anomaly `fragment_too_large` |
//! | [`Limits::frag_timeout`] | 30 s | an incomplete datagram is dropped | `stats.ip_fragments_dropped` |
//! | [`Limits::tcp_idle_timeout`] / `udp_idle_timeout` | 300 s / 60 s | the flow is ended, `end_reason: idle` | `stats.connections` |
//! | [`Limits::max_closed_lingering`] | 4,096 | the connection that closed first ends now (`end_reason: closed`); a late packet for it meets the closed-connection memory below | anomaly `closed_linger_cut` |
//! | [`Limits::closed_memory`] | 120 s, at most `max_flows` entries | a late packet of a forgotten connection starts a new one | anomaly `packet_after_close` while remembered |
//! | [`Limits::max_clock_jump`] | 30 s | a packet that far ahead of the clock is not taken as the time until a second one confirms it | `stats.clock_jumps` |
//! | [`Limits::max_resets_per_conn`] | 16 | further RSTs / ICMP errors are counted, not kept | anomaly `resets_not_kept` |
//! | [`Limits::max_dns_open_queries`] | 10,000 | the oldest query is reported unanswered now | anomaly `dns_query_evicted` |
//! | [`Limits::dns_query_timeout`] | 5 s | the query is reported unanswered | the `Dns` event (no answer) |
//! | [`Limits::max_dns_names`] (names learned from DNS answers, to name connections) | 65,536 | the cache is cleared | anomaly `dns_name_cache_reset` |
//! | [`Limits::tls`] ([`TlsLimits`]): handshake message, certificates, alerts, notes, resync scan | 64 KiB (Certificate: 1 MiB), 16, 16, 8-16, 64 KiB | the message is skipped by its length; the rest is counted, not kept | `TlsInfo::anomalies` ([`TlsAnomalies`](crate::tls::TlsAnomalies)) |
//! | [`TlsLimits::max_pending_handshake_bytes`] | 16 MiB | incomplete handshake messages of all connections together: a message that does not fit is skipped by its length | `stats.handshake_buffer_refusals` |
//! | [`TlsLimits::max_san_entries`] | 1,024 per certificate | further subjectAltName entries are counted, not kept | `stats.san_entries_dropped` |
//! | [`TlsLimits::chain`] ([`ChainLimits`](crate::tls::ChainLimits)): issuer candidates and signatures, per chain and per run | 256 and 32 per chain; 1,000,000 and 20,000 per run | the chain is left undecided (`Validation::Undecided` naming the bound), never called valid or invalid; a chain validated before comes from the cache (same certificates, same name) | `stats.x509` ([`ChainStats`](crate::tls::ChainStats)) |
//! | [`Limits::http`] ([`HttpLimits`]): header block, transactions, pipeline, tunnel leftover | 64 KiB, 1,024, 1,024, 64 KiB | that side is given up; later transactions are counted, not kept | `stats.http` ([`HttpStats`](crate::http::HttpStats)) |
//! | [`Limits::max_kept_bytes`] | 16 MiB | what all live connections' decoders keep (HTTP transactions, header blocks, waiting requests, CONNECT leftovers, certificate descriptions, ClientHellos): transactions, certificates and hellos fill 3/4 of it at most; beyond, a transaction, a certificate's names or a hello's lists are counted, not kept, a header block is not read (its side given up) | `stats.kept_bytes_refusals` |
//! | capture record (`modsniff_capture::ReadLimits::max_caplen`) | 262,144 | reading stops with a warning (damaged file), as tshark does | reader warnings |
//!
//! Memory with the defaults: a tracked connection costs about 1.6 KiB (measured: a flood of
//! SYNs from distinct addresses), so 16,384 flows take ~26 MiB; out-of-order data at most
//! 24 MiB; IP fragments at most 256 x 64 KiB = 16 MiB in the worst case and ~0.4 MiB for
//! ordinary 1,500-byte fragments; DNS ~3 MiB. BENCHMARKS.md ("Hostile input") has the peak
//! RSS of each flood; incomplete TLS handshake messages at most 16 MiB; what live connections'
//! decoders keep at most 16 MiB; the boxes of ended flows kept for new ones (so that a sweep
//! ending thousands of flows does not hand their pages back to the system only for the next
//! second's flows to fault them in again) at most 4,096 per transport, ~8 MiB, counted by
//! `Engine::spare_flows_freed` when full. The binary's peak RSS with every bound full at once is
//! measured by its tests (README, "Limits").

use crate::app::dns::{DEFAULT_MAX_OPEN_QUERIES, QUERY_TIMEOUT};
use crate::app::http::HttpLimits;
use crate::app::tls::{TlsConfig, TlsLimits};
use crate::event::EventMask;
use crate::reassembly::{
    DEFAULT_MAX_OOO_BYTES_PER_DIR, DEFAULT_MAX_OOO_DISTANCE, DEFAULT_MAX_OOO_SEGMENTS_PER_DIR,
    DEFAULT_MEMCAP, OverflowPolicy, ReassemblyLimits,
};
use crate::time::Duration;

/// Default for [`Limits::max_dns_names`].
pub const DEFAULT_MAX_DNS_NAMES: usize = 65_536;
/// Default for [`Limits::max_kept_bytes`]: 16 MiB, some 30,000 HTTP transactions or the
/// names of 400 certificates with 1,024 names each, kept by live connections at once.
pub const DEFAULT_MAX_KEPT_BYTES: usize = 16 * 1024 * 1024;

/// Bounds on what the engine keeps: every bound of the engine and its decoders, in one place.
/// The defaults bound the engine's memory whatever the input (see the module docs for the
/// budget and what each limit does).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Live TCP connections and UDP flows at once; beyond it the least recently active flow
    /// is ended early (EndReason::Evicted, `stats.evicted_flows`).
    pub max_flows: usize,
    /// Out-of-order bytes buffered for one direction of one connection.
    pub max_ooo_bytes_per_dir: usize,
    /// Out-of-order segments buffered for one direction.
    pub max_ooo_segments_per_dir: usize,
    /// How far ahead of the delivered point a segment or ACK may lie, in bytes; beyond it the
    /// segment is not taken as part of the stream.
    pub max_ooo_distance: u64,
    /// What a reassembler does when a segment does not fit in its buffers.
    pub on_overflow: OverflowPolicy,
    /// All reassembly buffers together (the memcap).
    pub memcap: usize,
    /// IP datagrams being reassembled from fragments at once.
    pub max_frag_datagrams: usize,
    /// Largest reassembled IP datagram.
    pub max_frag_bytes: usize,
    /// Fragments of a datagram must all arrive within this time.
    pub frag_timeout: Duration,
    /// A TCP connection with no packet for this long is ended (EndReason::Idle).
    pub tcp_idle_timeout: Duration,
    /// A UDP flow with no packet for this long is ended.
    pub udp_idle_timeout: Duration,
    /// After both sides closed (FIN/RST), how long to keep the connection for late packets.
    pub close_linger: Duration,
    /// Closed connections waiting out `close_linger` at once. Beyond it the one that closed
    /// first ends now (reason `closed`, as it would have a little later): a flood of short
    /// connections can't fill memory with finished ones and their decoded transactions.
    pub max_closed_lingering: usize,
    /// How long a closed connection's 5-tuple is remembered, so that late packets (a last
    /// RST, a retransmitted FIN-ACK) are not taken for a new connection.
    pub closed_memory: Duration,
    /// A packet stamped further than this ahead of the capture's clock is not taken as the
    /// time until a second packet confirms the jump (`stats.clock_jumps` counts those never
    /// confirmed): one forged or
    /// corrupt timestamp must not age out every live connection. Below the idle timeouts, so
    /// that a lone packet can no longer end a flow they would keep.
    pub max_clock_jump: Duration,
    /// Silence after which `advance` reports an open connection as stalled (Event::Stall).
    pub stall_after: Duration,
    /// RSTs and ICMP errors kept per connection (the rest are counted).
    pub max_resets_per_conn: usize,
    /// DNS queries waiting for their answer; beyond it the oldest is reported unanswered.
    pub max_dns_open_queries: usize,
    /// How long a DNS query waits for its answer (packet time).
    pub dns_query_timeout: Duration,
    /// Names learned from DNS answers, kept to name connections that carry no SNI or Host.
    pub max_dns_names: usize,
    /// What the decoders of all live connections keep together: HTTP transactions, header
    /// blocks being read, requests waiting for their answer and CONNECT leftovers,
    /// certificate descriptions and their names. What stays kept until its connection ends
    /// (transactions, certificates) fills three quarters of it at most, so that heads being
    /// read still find room. Beyond it a transaction is counted, not kept; a certificate's
    /// names are counted, not kept (a name check then reads undecided); a header block is not
    /// buffered and its side is given up; the oldest request waiting for its answer gives
    /// way, as for `http.max_pipeline` (`stats.kept_bytes_refusals`).
    pub max_kept_bytes: usize,
    /// Bounds of each connection's TLS decoder.
    pub tls: TlsLimits,
    /// Bounds of each connection's HTTP decoder.
    pub http: HttpLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_flows: 16_384,
            max_ooo_bytes_per_dir: DEFAULT_MAX_OOO_BYTES_PER_DIR,
            max_ooo_segments_per_dir: DEFAULT_MAX_OOO_SEGMENTS_PER_DIR,
            max_ooo_distance: DEFAULT_MAX_OOO_DISTANCE,
            on_overflow: OverflowPolicy::GapAndFlush,
            memcap: DEFAULT_MEMCAP,
            max_frag_datagrams: 256,
            max_frag_bytes: 65_535 + 40,
            frag_timeout: Duration::from_secs(30),
            tcp_idle_timeout: Duration::from_secs(300),
            udp_idle_timeout: Duration::from_secs(60),
            close_linger: Duration::from_secs(5),
            max_closed_lingering: 4_096,
            closed_memory: Duration::from_secs(120),
            max_clock_jump: Duration::from_secs(30),
            stall_after: Duration::from_secs(10),
            max_resets_per_conn: 16,
            max_dns_open_queries: DEFAULT_MAX_OPEN_QUERIES,
            dns_query_timeout: QUERY_TIMEOUT,
            max_dns_names: DEFAULT_MAX_DNS_NAMES,
            max_kept_bytes: DEFAULT_MAX_KEPT_BYTES,
            tls: TlsLimits::default(),
            http: HttpLimits::default(),
        }
    }
}

impl Limits {
    /// The bounds each reassembler works under.
    pub(crate) fn reassembly(&self) -> ReassemblyLimits {
        ReassemblyLimits {
            max_ooo_bytes_per_dir: self.max_ooo_bytes_per_dir,
            max_ooo_segments_per_dir: self.max_ooo_segments_per_dir,
            max_ooo_distance: self.max_ooo_distance,
            on_overflow: self.on_overflow,
        }
    }
}

/// Everything the engine is configured with.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Every bound of the engine and its decoders.
    pub limits: Limits,
    /// Trust anchors for certificate validation.
    pub tls: TlsConfig,
    /// Decode application protocols (TLS, HTTP, DNS). Off: flows and reassembly only.
    pub no_app_decoders: bool,
    /// Which kinds of event to produce (default: connections, DNS, stalls).
    pub events: EventMask,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reassembly::MemBudget;

    #[test]
    fn one_default_per_bound() {
        let l = Limits::default();
        assert_eq!(l.reassembly(), ReassemblyLimits::default());
        assert_eq!(MemBudget::default().cap(), l.memcap);
    }
}
