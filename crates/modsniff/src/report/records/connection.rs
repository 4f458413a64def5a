//! The `connection` record: one TCP connection or UDP flow, with what it carried.

use super::fleet::Fleet;
use super::values::{Addr, ClientBy, ConnState, Each, Ip, One, RecordVersion, Secs, View};
use super::write::{json_enum, json_object};
use crate::analyze::GoInfo;
use crate::go;
use modsniff_core::Connection;
use modsniff_core::SideStats as CoreSideStats;
use modsniff_core::http::HttpTransaction;
use modsniff_core::tls::TlsInfo;
use modsniff_core::{IcmpInfo, ResetInfo};

json_object! {
    /// One TCP connection or UDP flow, printed when it ended (closed, idle, evicted, or the
    /// input ended).
    pub struct ConnectionRecord<'a> {
        pub record_version: RecordVersion,
        /// The fleet fields (`live`, `run`; `read --fleet`); left out otherwise.
        #[flatten]
        pub fleet: Option<Fleet<'a>>,
        /// Unique within the run; findings and `dns` records point at it.
        pub id: u64,
        pub transport: Transport,
        pub client: Addr,
        pub server: Addr,
        /// From the SNI, the Host header, the CONNECT target or a DNS answer.
        #[omit]
        pub server_name: Option<&'a str>,
        pub state: ConnState,
        /// Zeek's history letters, upper case for the client.
        pub history: &'a str,
        pub ts_first: Secs,
        pub ts_last: Secs,
        pub duration: Secs,
        pub end_reason: EndReason,
        pub client_by: ClientBy,
        pub client_stats: One<'a, CoreSideStats>,
        pub server_stats: One<'a, CoreSideStats>,
        /// SYN to SYN-ACK, as seen at the capture point.
        #[omit]
        pub handshake_rtt: Option<Secs>,
        #[omit]
        pub resets: Each<'a, ResetInfo>,
        #[omit]
        pub icmp: Each<'a, IcmpInfo>,
        /// The application protocol the content probe chose.
        #[omit]
        pub app: Option<AppProtocol>,
        #[omit]
        pub tls: Option<One<'a, TlsInfo>>,
        #[omit]
        pub http: Each<'a, HttpTransaction>,
        /// Limits this connection ran into (`ooo_buffer_full`, `memcap`, `evicted`...): what
        /// is said about it comes from incomplete data.
        #[omit]
        pub partial: &'a [&'static str],
        /// Data whose retransmission carried different bytes than the first copy (the first
        /// was kept).
        #[omit]
        pub overlap_conflicts: u64,
        #[omit]
        pub go: Option<One<'a, GoInfo>>,
    }
}

impl<'a> ConnectionRecord<'a> {
    pub fn new(c: &'a Connection, go: Option<&'a GoInfo>) -> Self {
        let Connection {
            id,
            transport,
            client,
            server,
            server_name,
            state,
            history,
            ts_first,
            ts_last,
            duration,
            end_reason,
            client_by,
            client_stats,
            server_stats,
            handshake_rtt,
            resets,
            icmp,
            app,
            tls,
            http,
            partial,
            overlap_conflicts,
        } = c;
        ConnectionRecord {
            record_version: RecordVersion,
            fleet: None,
            id: *id,
            transport: transport.into(),
            client: Addr(*client),
            server: Addr(*server),
            server_name: server_name.as_deref(),
            state: ConnState(state),
            history,
            ts_first: (*ts_first).into(),
            ts_last: (*ts_last).into(),
            duration: (*duration).into(),
            end_reason: end_reason.into(),
            client_by: ClientBy(client_by),
            client_stats: One(client_stats),
            server_stats: One(server_stats),
            handshake_rtt: handshake_rtt.map(Secs::from),
            resets: Each(resets),
            icmp: Each(icmp),
            app: app.as_ref().map(AppProtocol::from),
            tls: tls.as_deref().map(One),
            http: Each(http),
            partial,
            overlap_conflicts: *overlap_conflicts,
            go: go.map(One),
        }
    }
}

json_enum! {
    /// The transport protocol of a flow.
    pub enum Transport from modsniff_core::Transport {
        Tcp = "tcp",
        Udp = "udp",
    }
}

json_enum! {
    /// An end of a connection: the client opened it.
    pub enum Side from modsniff_core::Side {
        Client = "client",
        Server = "server",
    }
}

json_enum! {
    /// Why the connection record was printed.
    pub enum EndReason from modsniff_core::EndReason {
        Closed = "closed",
        Idle = "idle",
        Evicted = "evicted",
        EndOfInput = "end_of_input",
    }
}

json_enum! {
    /// An application protocol the engine decodes.
    pub enum AppProtocol from modsniff_core::Protocol {
        Tls = "tls",
        Http = "http",
        Dns = "dns",
    }
}

json_object! {
    /// Per-side counters and observations.
    pub struct SideStats<'a> {
        pub packets: u64,
        /// TCP/UDP payload bytes on the wire (including bytes the capture cut or missed).
        pub bytes: u64,
        #[omit]
        pub ts_first: Option<Secs>,
        #[omit]
        pub ts_last: Option<Secs>,
        /// Lowest and highest TTL / hop limit of this side's packets, resets excluded.
        #[omit]
        pub ttl_min: Option<u8>,
        #[omit]
        pub ttl_max: Option<u8>,
        /// IPv4 ID of the last packet that was not a reset.
        #[omit]
        pub ip_id_last: Option<u16>,
        /// Frames of the first SYNs (client) or SYN-ACKs (server).
        #[omit]
        pub syn_frames: &'a [u64],
        #[omit]
        pub first_data_frame: Option<u64>,
        #[omit]
        pub last_data_frame: Option<u64>,
        #[omit]
        pub last_data_ts: Option<Secs>,
        #[omit]
        pub fin_frame: Option<u64>,
        /// Wireshark's tcp.analysis.retransmission (fast and spurious included).
        pub retransmissions: u64,
        /// tcp.analysis.out_of_order.
        pub out_of_order: u64,
        /// tcp.analysis.lost_segment.
        pub lost_segments: u64,
        /// Segments beyond the receive window the peer advertised (injected): neither loss
        /// nor data.
        #[omit]
        pub out_of_window: u64,
        /// tcp.analysis.duplicate_ack.
        pub dup_acks: u64,
        /// tcp.analysis.zero_window.
        pub zero_windows: u64,
        /// Bytes never seen by the decoders (lost, cut by the snaplen, or dropped by a memory
        /// limit).
        pub missed_bytes: u64,
        #[omit]
        pub window_scale: Option<u8>,
    }
}

impl View for CoreSideStats {
    type Out<'a> = SideStats<'a>;
    fn view(&self) -> SideStats<'_> {
        let s = self;
        let CoreSideStats {
            packets,
            bytes,
            ts_first,
            ts_last,
            ttl_min,
            ttl_max,
            ip_id_last,
            syn_frames,
            first_data_frame,
            last_data_frame,
            last_data_ts,
            fin_frame,
            // What the diagnosis reads, not the contract.
            peer_data_unacked: _,
            fin_ts: _,
            last_data_while_peer_open: _,
            retransmission_times: _,
            retransmissions,
            out_of_order,
            lost_segments,
            out_of_window,
            first_out_of_window: _,
            dup_acks,
            zero_windows,
            missed_bytes,
            window_scale,
        } = s;
        SideStats {
            packets: *packets,
            bytes: *bytes,
            ts_first: ts_first.map(Secs::from),
            ts_last: ts_last.map(Secs::from),
            ttl_min: *ttl_min,
            ttl_max: *ttl_max,
            ip_id_last: *ip_id_last,
            syn_frames,
            first_data_frame: *first_data_frame,
            last_data_frame: *last_data_frame,
            last_data_ts: last_data_ts.map(Secs::from),
            fin_frame: *fin_frame,
            retransmissions: *retransmissions,
            out_of_order: *out_of_order,
            lost_segments: *lost_segments,
            out_of_window: *out_of_window,
            dup_acks: *dup_acks,
            zero_windows: *zero_windows,
            missed_bytes: *missed_bytes,
            window_scale: *window_scale,
        }
    }
}

json_object! {
    /// A TCP reset as seen in the capture, with what tells a forged one from a real one.
    pub struct Reset {
        /// Frame number, as Wireshark counts it.
        pub packet: u64,
        pub ts: Secs,
        /// The side whose address the reset came from (a middlebox may forge either).
        pub from: Side,
        pub ttl: u8,
        #[omit]
        pub ip_id: Option<u16>,
        pub seq: u32,
        pub ack: u32,
        /// Payload bytes the sending side had sent before it.
        pub after_bytes: u64,
        /// The other side had sent data this side had not acknowledged.
        pub with_unacked_data: bool,
    }
}

impl View for ResetInfo {
    type Out<'a> = Reset;
    fn view(&self) -> Reset {
        let ResetInfo {
            packet,
            ts,
            from,
            ttl,
            ip_id,
            seq,
            ack,
            // Not in the record, whose `ack` is 0 for a RST without the flag (as on the wire).
            acknowledges: _,
            after_bytes,
            with_unacked_data,
        } = self;
        Reset {
            packet: *packet,
            ts: (*ts).into(),
            from: from.into(),
            ttl: *ttl,
            ip_id: *ip_id,
            seq: *seq,
            ack: *ack,
            after_bytes: *after_bytes,
            with_unacked_data: *with_unacked_data,
        }
    }
}

json_object! {
    /// An ICMP error that quotes a packet of this flow.
    pub struct Icmp {
        pub packet: u64,
        pub ts: Secs,
        /// Who sent the ICMP error.
        pub from: Ip,
        pub v6: bool,
        pub icmp_type: u8,
        pub code: u8,
        pub ttl: u8,
    }
}

impl View for IcmpInfo {
    type Out<'a> = Icmp;
    fn view(&self) -> Icmp {
        let IcmpInfo {
            packet,
            ts,
            from,
            v6,
            icmp_type,
            code,
            ttl,
        } = self;
        Icmp {
            packet: *packet,
            ts: (*ts).into(),
            from: Ip(*from),
            v6: *v6,
            icmp_type: *icmp_type,
            code: *code,
            ttl: *ttl,
        }
    }
}

json_object! {
    /// One HTTP/1.x request and its response (either may be missing).
    pub struct Http<'a> {
        /// `GET`, `CONNECT`...; `null` for a response whose request was not seen.
        pub method: Option<&'a str>,
        /// The request target as on the request line (origin, absolute or authority form).
        pub uri: Option<&'a str>,
        /// The Host header.
        pub host: Option<&'a str>,
        /// The final response status (1xx interim responses are in `informational`).
        pub status: Option<u16>,
        /// Request version (`HTTP/1.1`).
        #[omit]
        pub version: Option<&'static str>,
        #[omit]
        pub user_agent: Option<&'a str>,
        /// The request carried a Proxy-Authorization header (its value is never kept).
        #[omit]
        pub proxy_authorization: bool,
        #[omit]
        pub range: Option<&'a str>,
        /// Frame and time of the first byte of the request head.
        #[omit]
        pub request_frame: Option<u64>,
        #[omit]
        pub request_ts: Option<Secs>,
        #[omit]
        pub reason: Option<&'a str>,
        #[omit]
        pub response_version: Option<&'static str>,
        /// 1xx responses before the final one.
        #[omit]
        pub informational: &'a [u16],
        /// The response's declared Content-Length.
        #[omit]
        pub content_length: Option<u64>,
        #[omit]
        pub content_type: Option<&'a str>,
        /// The response body used chunked transfer coding.
        #[omit]
        pub chunked: bool,
        /// Scheme of the first Proxy-Authenticate challenge (`Basic`).
        #[omit]
        pub proxy_authenticate: Option<&'a str>,
        #[omit]
        pub via: Option<&'a str>,
        #[omit]
        pub server: Option<&'a str>,
        #[omit]
        pub location: Option<&'a str>,
        #[omit]
        pub content_range: Option<&'a str>,
        /// Frame and time of the first byte of the response head.
        #[omit]
        pub response_frame: Option<u64>,
        #[omit]
        pub response_ts: Option<Secs>,
        /// Response body bytes seen (chunk data, without the framing).
        #[omit]
        pub body_bytes: Option<u64>,
        /// Response body bytes lost in capture gaps.
        #[omit]
        pub body_missing: u64,
        /// The body's end was reached (`true`), or the stream ended or desynchronised first
        /// (`false`); absent while it was still coming.
        #[omit]
        pub body_complete: Option<bool>,
        /// A head of this exchange was cut short in the capture (by its snap length, or a
        /// lost segment): its lines up to the cut are read, the rest is unknown.
        #[omit]
        pub head_cut: bool,
    }
}

impl View for HttpTransaction {
    type Out<'a> = Http<'a>;
    fn view(&self) -> Http<'_> {
        let HttpTransaction {
            method,
            uri,
            host,
            status,
            version,
            user_agent,
            proxy_authorization,
            range,
            request_frame,
            request_ts,
            reason,
            response_version,
            informational,
            content_length,
            content_type,
            chunked,
            proxy_authenticate,
            via,
            server,
            location,
            content_range,
            response_frame,
            response_ts,
            body_bytes,
            body_missing,
            body_complete,
            head_cut,
        } = self;
        Http {
            method: method.as_deref(),
            uri: uri.as_deref(),
            host: host.as_deref(),
            status: *status,
            version: *version,
            user_agent: user_agent.as_deref(),
            proxy_authorization: *proxy_authorization,
            range: range.as_deref(),
            request_frame: *request_frame,
            request_ts: request_ts.map(Secs::from),
            reason: reason.as_deref(),
            response_version: *response_version,
            informational,
            content_length: *content_length,
            content_type: content_type.as_deref(),
            chunked: *chunked,
            proxy_authenticate: proxy_authenticate.as_deref(),
            via: via.as_deref(),
            server: server.as_deref(),
            location: location.as_deref(),
            content_range: content_range.as_deref(),
            response_frame: *response_frame,
            response_ts: response_ts.map(Secs::from),
            body_bytes: *body_bytes,
            body_missing: *body_missing,
            head_cut: *head_cut,
            body_complete: *body_complete,
        }
    }
}

json_object! {
    /// What the connection was to the go command.
    pub struct Go<'a> {
        #[omit]
        pub role: Option<GoRole>,
        /// Module path and version of the first Go request seen in clear.
        #[omit]
        pub module: Option<&'a str>,
        #[omit]
        pub version: Option<&'a str>,
        #[omit]
        pub endpoint: Option<Endpoint>,
        /// Every Go request seen in clear on this connection (when more than one).
        #[omit]
        pub requests: Each<'a, go::GoRequest>,
    }
}

impl View for GoInfo {
    type Out<'a> = Go<'a>;
    fn view(&self) -> Go<'_> {
        let g = self;
        let GoInfo {
            role,
            module,
            version,
            endpoint,
            requests,
        } = g;
        Go {
            role: role.as_ref().map(GoRole::from),
            module: module.as_deref(),
            version: version.as_deref(),
            endpoint: endpoint.as_ref().map(Endpoint::from),
            requests: Each(requests),
        }
    }
}

json_enum! {
    /// What a host is to the go command.
    pub enum GoRole from go::GoRole {
        ModuleProxy = "module-proxy",
        ChecksumDb = "checksum-db",
        Vcs = "vcs",
        HttpProxy = "http-proxy",
    }
}

json_enum! {
    /// What a Go module request asked for.
    pub enum Endpoint from go::paths::Endpoint {
        List = "list",
        Info = "info",
        Mod = "mod",
        Zip = "zip",
        Latest = "latest",
        SumdbLookup = "sumdb-lookup",
        SumdbTile = "sumdb-tile",
        SumdbLatest = "sumdb-latest",
        SumdbSupported = "sumdb-supported",
        GoGet = "go-get",
        GitSmartHttp = "git-smart-http",
    }
}

json_object! {
    /// One Go request decoded from its path.
    pub struct GoRequest<'a> {
        #[omit]
        pub module: Option<&'a str>,
        #[omit]
        pub version: Option<&'a str>,
        pub endpoint: Endpoint,
    }
}

impl View for go::GoRequest {
    type Out<'a> = GoRequest<'a>;
    fn view(&self) -> GoRequest<'_> {
        let go::GoRequest {
            module,
            version,
            endpoint,
        } = self;
        GoRequest {
            module: module.as_deref(),
            version: version.as_deref(),
            endpoint: endpoint.into(),
        }
    }
}
