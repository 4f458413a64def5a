//! Engine settings: every bound has a name and a default here, and a counter in `Stats`.

use crate::app::tls::TlsConfig;
use crate::time::Duration;

/// Bounds on what the engine keeps. The defaults keep total memory well under 64 MiB on the
/// benchmark corpus (~10k concurrent connections).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Live TCP connections and UDP flows at once; beyond it the least recently active flow
    /// is ended early (EndReason::Evicted, `stats.evicted_flows`).
    pub max_flows: usize,
    /// Out-of-order bytes buffered for one direction of one connection.
    pub max_ooo_bytes_per_dir: usize,
    /// Out-of-order segments buffered for one direction.
    pub max_ooo_segments_per_dir: usize,
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
    /// How long a closed connection's 5-tuple is remembered, so that late packets (a last
    /// RST, a retransmitted FIN-ACK) are not taken for a new connection.
    pub closed_memory: Duration,
    /// Silence after which `advance` reports an open connection as stalled (Event::Stall).
    pub stall_after: Duration,
    /// RSTs and ICMP errors kept per connection (the rest are counted).
    pub max_resets_per_conn: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_flows: 100_000,
            max_ooo_bytes_per_dir: 256 * 1024,
            max_ooo_segments_per_dir: 256,
            memcap: 32 * 1024 * 1024,
            max_frag_datagrams: 1024,
            max_frag_bytes: 65_535 + 40,
            frag_timeout: Duration::from_secs(30),
            tcp_idle_timeout: Duration::from_secs(300),
            udp_idle_timeout: Duration::from_secs(60),
            close_linger: Duration::from_secs(5),
            closed_memory: Duration::from_secs(120),
            stall_after: Duration::from_secs(10),
            max_resets_per_conn: 16,
        }
    }
}

/// Everything the engine is configured with.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub limits: Limits,
    pub tls: TlsConfig,
    /// Decode application protocols (TLS, HTTP, DNS). Off: flows and reassembly only.
    pub no_app_decoders: bool,
}
