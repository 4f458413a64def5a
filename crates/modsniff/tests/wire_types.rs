//! The JSON output contract as types: every record and nested object the tool prints, with
//! `deny_unknown_fields`, parsed from the output for every capture we have.
//!
//! This is meant to break: a field added, renamed or removed in the record types
//! (src/report/records/) without updating this file (and docs/ARCHITECTURE.md, and the
//! consumers) fails here. It reads the output as a consumer would, independently of the
//! JSON Schema the same types generate (tests/schema.rs).
//!
//! Conventions: a field the tool always prints is a plain type, or [`Nullable`] when it can be
//! `null` (serde's `Option` would also accept it *missing*, hiding a removed field); a field
//! skipped when empty/absent (`skip_serializing_if`) is `#[serde(default)]`.

#![allow(dead_code)] // The fields exist to be checked by serde, not read.

use crate::common::*;
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

/// A field that is always present, possibly `null`.
#[derive(Debug)]
pub struct Nullable<T>(pub Option<T>);

impl<'de, T: DeserializeOwned> Deserialize<'de> for Nullable<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Through Value (deserialize_any), so that a missing field is an error: serde's
        // missing-field path only forgives types that ask for an option.
        let v = serde_json::Value::deserialize(d)?;
        if v.is_null() {
            return Ok(Nullable(None));
        }
        T::deserialize(v)
            .map(|t| Nullable(Some(t)))
            .map_err(D::Error::custom)
    }
}

/// `record_version`: 1, the only layout so far.
#[derive(Debug)]
pub struct RecordVersion;

impl<'de> Deserialize<'de> for RecordVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u32::deserialize(d)? {
            1 => Ok(RecordVersion),
            v => Err(D::Error::custom(format!("record_version {v}, not 1"))),
        }
    }
}

/// A TLS code point: a hex string "0x0303".
#[derive(Debug)]
pub struct Hex16(pub u16);

impl<'de> Deserialize<'de> for Hex16 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.strip_prefix("0x")
            .filter(|h| h.len() == 4)
            .and_then(|h| u16::from_str_radix(h, 16).ok())
            .map(Hex16)
            .ok_or_else(|| D::Error::custom(format!("not a 0x%04x code point: {s:?}")))
    }
}

/// A timestamp or duration: seconds as a number, never negative.
#[derive(Debug)]
pub struct Secs(pub f64);

impl<'de> Deserialize<'de> for Secs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if v.is_finite() && v >= 0.0 {
            Ok(Secs(v))
        } else {
            Err(D::Error::custom(format!("bad seconds {v}")))
        }
    }
}

/// A name where known, else the number (TLS content types, DNS types).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum NameOrNumber {
    Name(String),
    Number(u16),
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Client,
    Server,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
}

/// Zeek's conn_state values.
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Deserialize)]
pub enum ConnState {
    S0,
    S1,
    SF,
    REJ,
    S2,
    S3,
    RSTO,
    RSTR,
    RSTOS0,
    RSTRH,
    SH,
    SHR,
    OTH,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    Closed,
    Idle,
    Evicted,
    EndOfInput,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientBy {
    Syn,
    SynAck,
    Port,
    FirstPacket,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppProtocol {
    Tls,
    Http,
    Dns,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SideStats {
    pub packets: u64,
    pub bytes: u64,
    #[serde(default)]
    pub ts_first: Option<Secs>,
    #[serde(default)]
    pub ts_last: Option<Secs>,
    #[serde(default)]
    pub ttl_min: Option<u8>,
    #[serde(default)]
    pub ttl_max: Option<u8>,
    #[serde(default)]
    pub ip_id_last: Option<u16>,
    #[serde(default)]
    pub syn_frames: Vec<u64>,
    #[serde(default)]
    pub first_data_frame: Option<u64>,
    #[serde(default)]
    pub last_data_frame: Option<u64>,
    #[serde(default)]
    pub last_data_ts: Option<Secs>,
    #[serde(default)]
    pub fin_frame: Option<u64>,
    pub retransmissions: u64,
    pub out_of_order: u64,
    pub lost_segments: u64,
    #[serde(default)]
    pub out_of_window: u64,
    pub dup_acks: u64,
    pub zero_windows: u64,
    pub missed_bytes: u64,
    #[serde(default)]
    pub window_scale: Option<u8>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reset {
    pub packet: u64,
    pub ts: Secs,
    pub from: Side,
    pub ttl: u8,
    #[serde(default)]
    pub ip_id: Option<u16>,
    pub seq: u32,
    pub ack: u32,
    pub after_bytes: u64,
    pub with_unacked_data: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Icmp {
    pub packet: u64,
    pub ts: Secs,
    pub from: IpAddr,
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    pub ttl: u8,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub id: Hex16,
    pub name: Nullable<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientHello {
    pub sni: Nullable<String>,
    pub alpn: Vec<String>,
    pub versions: Vec<Hex16>,
    pub legacy_version: Hex16,
    pub cipher_suites: Vec<Hex16>,
    pub extensions: Vec<Hex16>,
    pub groups: Vec<Group>,
    pub key_share: Vec<Group>,
    pub ec_point_formats: Vec<u8>,
    pub signature_algorithms: Vec<Hex16>,
    pub session_id_len: usize,
    pub psk: bool,
    pub session_ticket: bool,
    pub ech: bool,
    pub early_data: bool,
    pub grease: bool,
    pub handshake_length: usize,
    pub tcp_segments: u32,
    pub records: u32,
    pub first_frame: u64,
    pub last_frame: u64,
    pub ts: Secs,
    pub pq_key_share: bool,
    pub ja3_string: String,
    pub ja3: String,
    pub ja4: String,
    pub ja4_r: String,
    pub extensions_truncated: bool,
    pub cut: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerHello {
    pub version: Hex16,
    pub version_name: Nullable<String>,
    pub legacy_version: Hex16,
    pub supported_version: Nullable<Hex16>,
    pub cipher: Hex16,
    pub cipher_name: Nullable<String>,
    pub extensions: Vec<Hex16>,
    pub alpn: Nullable<String>,
    pub key_share: Nullable<Group>,
    pub hello_retry_request: bool,
    pub session_id_len: usize,
    pub ja3s_string: String,
    pub ja3s: String,
    pub first_frame: u64,
    pub last_frame: u64,
    pub ts: Secs,
    pub tcp_segments: u32,
    pub records: u32,
    pub cut: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    pub index: usize,
    pub subject: String,
    pub issuer: String,
    pub subject_cn: Nullable<String>,
    pub issuer_cn: Nullable<String>,
    pub san: Vec<String>,
    pub not_before: Nullable<String>,
    pub not_after: Nullable<String>,
    pub not_before_unix: Nullable<i64>,
    pub not_after_unix: Nullable<i64>,
    pub serial: String,
    pub sha256: String,
    pub spki_sha256: Nullable<String>,
    pub is_ca: bool,
    pub self_issued: bool,
    pub der_len: usize,
    pub parse_error: Nullable<String>,
}

#[derive(Debug, Deserialize)]
#[serde(
    rename_all = "kebab-case",
    tag = "result",
    content = "error",
    deny_unknown_fields
)]
pub enum Validation {
    Valid,
    UnknownIssuer,
    Expired,
    NotYetValid,
    NameMismatch,
    SelfSigned,
    Other(String),
    Undecided(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    pub side: Side,
    pub frame: u64,
    pub ts: Secs,
    pub encrypted: bool,
    pub level: Nullable<u8>,
    pub description: Nullable<u8>,
    pub description_name: Nullable<String>,
    pub record_length: u16,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordNote {
    pub frame: u64,
    pub ts: Secs,
    pub content_type: NameOrNumber,
    pub length: u16,
    pub encrypted: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandshakeNote {
    pub msg_type: u8,
    pub length: usize,
    pub frame: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotTls {
    pub frame: u64,
    pub prefix: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSide {
    pub records: u64,
    pub change_cipher_spec: bool,
    pub change_cipher_spec_frame: Nullable<u64>,
    pub handshake_messages: Vec<HandshakeNote>,
    pub records_after_hello: Vec<RecordNote>,
    pub records_after_hello_count: u64,
    pub records_after_hello_bytes: u64,
    pub first_encrypted: Nullable<RecordNote>,
    pub last_record: Nullable<RecordNote>,
    pub gave_up: bool,
    pub not_tls: Nullable<NotTls>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsAnomalies {
    pub bad_record_headers: u64,
    pub gaps: u64,
    pub gap_bytes: u64,
    pub resyncs: u64,
    pub sides_given_up: u64,
    pub dropped_handshake_messages: u64,
    pub dropped_handshake_bytes: u64,
    pub dropped_certificates: u64,
    pub dropped_alerts: u64,
    pub malformed_messages: u64,
    pub unexpected_messages: u64,
    pub truncated_at_end: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub client_hello: Nullable<ClientHello>,
    pub client_hello_retry: Nullable<ClientHello>,
    pub extra_client_hellos: u64,
    pub hello_retry_request: Nullable<ServerHello>,
    pub server_hello: Nullable<ServerHello>,
    pub certificates: Vec<Certificate>,
    pub certificate_frame: Nullable<u64>,
    pub client_certificates: Vec<Certificate>,
    pub validation: Nullable<Validation>,
    /// Printed only when true (the chain validates only through --ca-file).
    #[serde(default)]
    pub valid_only_via_ca_file: Option<bool>,
    pub alerts: Vec<Alert>,
    pub client: TlsSide,
    pub server: TlsSide,
    pub sslv2_client_hello_frame: Nullable<u64>,
    pub anomalies: TlsAnomalies,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    pub method: Nullable<String>,
    pub uri: Nullable<String>,
    pub host: Nullable<String>,
    pub status: Nullable<u16>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    #[serde(default)]
    pub proxy_authorization: bool,
    #[serde(default)]
    pub range: Option<String>,
    #[serde(default)]
    pub request_frame: Option<u64>,
    #[serde(default)]
    pub request_ts: Option<Secs>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub response_version: Option<String>,
    #[serde(default)]
    pub informational: Vec<u16>,
    #[serde(default)]
    pub content_length: Option<u64>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub chunked: bool,
    #[serde(default)]
    pub proxy_authenticate: Option<String>,
    #[serde(default)]
    pub via: Option<String>,
    #[serde(default)]
    pub server: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub content_range: Option<String>,
    #[serde(default)]
    pub response_frame: Option<u64>,
    #[serde(default)]
    pub response_ts: Option<Secs>,
    #[serde(default)]
    pub body_bytes: Option<u64>,
    #[serde(default)]
    pub body_missing: u64,
    #[serde(default)]
    pub body_complete: Option<bool>,
    #[serde(default)]
    pub head_cut: bool,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum GoRole {
    ModuleProxy,
    ChecksumDb,
    Vcs,
    HttpProxy,
}

#[derive(Debug, Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
pub enum Endpoint {
    List,
    Info,
    Mod,
    Zip,
    Latest,
    SumdbLookup,
    SumdbTile,
    SumdbLatest,
    SumdbSupported,
    GoGet,
    GitSmartHttp,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoRequest {
    #[serde(default)]
    pub module: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    pub endpoint: Endpoint,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Go {
    #[serde(default)]
    pub role: Option<GoRole>,
    #[serde(default)]
    pub module: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub endpoint: Option<Endpoint>,
    #[serde(default)]
    pub requests: Vec<GoRequest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionRec {
    pub record_version: RecordVersion,
    // The fleet fields: `live` and `run` always, `read --fleet`; all or none.
    #[serde(default)]
    pub host_name: Option<String>,
    #[serde(default)]
    pub interface: Option<String>,
    #[serde(default)]
    pub modsniff_version: Option<String>,
    #[serde(default)]
    pub session: Option<String>,
    #[serde(default)]
    pub seq: Option<u64>,
    #[serde(default)]
    pub time: Option<String>,
    #[serde(default)]
    pub time_unix: Option<Secs>,
    pub id: u64,
    pub transport: Transport,
    pub client: SocketAddr,
    pub server: SocketAddr,
    #[serde(default)]
    pub server_name: Option<String>,
    pub state: ConnState,
    pub history: String,
    pub ts_first: Secs,
    pub ts_last: Secs,
    pub duration: Secs,
    pub end_reason: EndReason,
    pub client_by: ClientBy,
    pub client_stats: SideStats,
    pub server_stats: SideStats,
    #[serde(default)]
    pub handshake_rtt: Option<Secs>,
    #[serde(default)]
    pub resets: Vec<Reset>,
    #[serde(default)]
    pub icmp: Vec<Icmp>,
    #[serde(default)]
    pub app: Option<AppProtocol>,
    #[serde(default)]
    pub tls: Option<Tls>,
    #[serde(default)]
    pub http: Vec<Http>,
    #[serde(default)]
    pub partial: Vec<String>,
    #[serde(default)]
    pub overlap_conflicts: u64,
    #[serde(default)]
    pub go: Option<Go>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsAnswer {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: NameOrNumber,
    pub ttl: u32,
    pub data: Nullable<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsRec {
    pub record_version: RecordVersion,
    // The fleet fields: `live` and `run` always, `read --fleet`; all or none.
    #[serde(default)]
    pub host_name: Option<String>,
    #[serde(default)]
    pub interface: Option<String>,
    #[serde(default)]
    pub modsniff_version: Option<String>,
    #[serde(default)]
    pub session: Option<String>,
    #[serde(default)]
    pub seq: Option<u64>,
    #[serde(default)]
    pub time: Option<String>,
    #[serde(default)]
    pub time_unix: Option<Secs>,
    pub id: u16,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub qname: Nullable<String>,
    pub qtype: Nullable<String>,
    pub rcode_name: Nullable<String>,
    pub rcode: Nullable<u8>,
    pub answers: Vec<DnsAnswer>,
    pub transport: Transport,
    pub query_frame: Nullable<u64>,
    pub response_frame: Nullable<u64>,
    pub ts: Secs,
    pub rtt: Nullable<Secs>,
    pub retransmissions: u32,
    pub conn_id: u64,
    #[serde(default)]
    pub truncated: bool,
}

#[derive(Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Dns,
    Connect,
    Proxy,
    Tls,
    Http,
    Transfer,
    Go,
    Capture,
}

#[derive(Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    DnsServfail,
    DnsNxdomain,
    DnsTimeout,
    DnsSuspiciousAnswer,
    ConnectTimeout,
    ConnectRefused,
    ProxyAuthRequired,
    ProxyDenied,
    ProxyError,
    ResetAfterClientHello,
    HandshakeStall,
    HandshakeAborted,
    MitmCertificate,
    CertificateRejected,
    TlsDowngrade,
    HttpNotFound,
    HttpError,
    TransferStall,
    TransferReset,
    Retransmissions,
    InjectedSegments,
    ChecksumMismatch,
    ModuleNotFound,
    InvalidVersion,
    GoModError,
    GoFailed,
    CaptureIncomplete,
}

#[derive(Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

#[derive(Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum Actor {
    Server,
    Client,
    Proxy,
    Middlebox,
    Resolver,
    Unknown,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    pub packet: u64,
    pub ts: Secs,
    pub note: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingRec {
    pub record_version: RecordVersion,
    // The fleet fields: `live` and `run` always, `read --fleet`; all or none.
    #[serde(default)]
    pub host_name: Option<String>,
    #[serde(default)]
    pub interface: Option<String>,
    #[serde(default)]
    pub modsniff_version: Option<String>,
    #[serde(default)]
    pub session: Option<String>,
    #[serde(default)]
    pub seq: Option<u64>,
    #[serde(default)]
    pub time: Option<String>,
    #[serde(default)]
    pub time_unix: Option<Secs>,
    pub stage: Stage,
    pub kind: Kind,
    pub severity: Severity,
    pub actor: Actor,
    pub connection: Nullable<u64>,
    pub server_name: Nullable<String>,
    pub server: Nullable<String>,
    pub summary: String,
    pub likely_go_error: Nullable<String>,
    /// What go printed about it (`run`, `read --go-stderr`).
    pub go_error: Nullable<String>,
    pub remedy: Nullable<String>,
    pub evidence: Vec<Evidence>,
    #[serde(default)]
    pub recovered: bool,
    /// Printed while a live capture ran; the final findings follow.
    #[serde(default)]
    pub provisional: bool,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FetchOutcome {
    Status,
    Error,
    NotAllowed,
    Unfinished,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MatchedBy {
    Request,
    Connect,
    Address,
    Name,
    Dns,
}

/// One of go's fetches (its `-x` trace) and the connection that carried it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchRec {
    pub record_version: RecordVersion,
    // The fleet fields: `live` and `run` always, `read --fleet`; all or none.
    #[serde(default)]
    pub host_name: Option<String>,
    #[serde(default)]
    pub interface: Option<String>,
    #[serde(default)]
    pub modsniff_version: Option<String>,
    #[serde(default)]
    pub session: Option<String>,
    #[serde(default)]
    pub seq: Option<u64>,
    #[serde(default)]
    pub time: Option<String>,
    #[serde(default)]
    pub time_unix: Option<Secs>,
    pub order: u64,
    pub url: String,
    pub outcome: FetchOutcome,
    pub status: Nullable<u16>,
    #[serde(default)]
    pub status_text: Option<String>,
    pub error: Nullable<String>,
    pub seconds: Nullable<Secs>,
    #[serde(default)]
    pub ts_start: Option<Secs>,
    #[serde(default)]
    pub ts_end: Option<Secs>,
    pub connection: Nullable<u64>,
    #[serde(default)]
    pub dns: Option<u64>,
    pub matched_by: Nullable<MatchedBy>,
    #[serde(default)]
    pub recovered: bool,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum GoExit {
    Exited,
    Killed,
    Unknown,
}

/// The go command a run ran (or whose stderr it read).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoRun {
    pub exit: GoExit,
    pub status: Nullable<i64>,
    pub failed: bool,
    pub errors: u64,
    pub fetches: u64,
    pub failed_fetches: u64,
    pub recovered_fetches: u64,
    pub matched_fetches: u64,
    pub last_error: Nullable<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kernel {
    pub received: u64,
    pub dropped: u64,
    pub if_dropped: u64,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Warning,
    Error,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsRec {
    pub record_version: RecordVersion,
    // The fleet fields: `live` and `run` always, `read --fleet`; all or none.
    #[serde(default)]
    pub host_name: Option<String>,
    #[serde(default)]
    pub interface: Option<String>,
    #[serde(default)]
    pub modsniff_version: Option<String>,
    #[serde(default)]
    pub session: Option<String>,
    #[serde(default)]
    pub seq: Option<u64>,
    #[serde(default)]
    pub time: Option<String>,
    #[serde(default)]
    pub time_unix: Option<Secs>,
    pub source: String,
    /// Wireshark's frame count (packets plus pcapng blocks that take a frame number).
    pub frames: u64,
    pub packets: u64,
    pub bytes: u64,
    pub tcp_packets: u64,
    pub udp_packets: u64,
    pub decode_errors: BTreeMap<String, u64>,
    pub truncated_packets: u64,
    pub unknown_link_types: u64,
    pub connections: u64,
    pub tcp_connections: u64,
    pub udp_flows: u64,
    pub evicted_flows: u64,
    pub reassembly_dropped_bytes: u64,
    pub evicted_streams: u64,
    pub missed_bytes: u64,
    pub ip_fragments: u64,
    pub ip_reassembled: u64,
    pub ip_fragments_dropped: u64,
    pub icmp_errors: u64,
    pub dns_messages: u64,
    pub ooo_segment_limit_hits: u64,
    pub out_of_window_segments: u64,
    pub clock_jumps: u64,
    pub handshake_buffer_refusals: u64,
    pub san_entries_dropped: u64,
    #[serde(default)]
    pub kept_bytes_refusals: Option<u64>,
    /// Packets the reader's reorder window put back in time order; absent when 0.
    #[serde(default)]
    pub reordered_packets: Option<u64>,
    pub anomalies: BTreeMap<String, u64>,
    pub x509: X509Stats,
    pub http: HttpStatsRec,
    #[serde(default)]
    pub kernel: Option<Kernel>,
    pub findings: BTreeMap<Severity, u64>,
    pub findings_dropped: u64,
    #[serde(default)]
    pub diagnosis_tracking_dropped: Option<u64>,
    pub capture_warnings: Vec<String>,
    pub go_endpoints: BTreeMap<String, u64>,
    #[serde(default)]
    pub go: Option<GoRun>,
    pub verdict: Verdict,
    /// `--extract FILE`: what the run wrote there.
    #[serde(default)]
    pub extract: Option<Extract>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extract {
    pub file: String,
    pub packets: u64,
    pub first_frame: u64,
    pub connections: u64,
    pub dns: u64,
    pub frames: Vec<ExtractFrame>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractFrame {
    pub packet: u64,
    pub extract_packet: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct X509Stats {
    pub validated: u64,
    pub cache_hits: u64,
    pub candidates: u64,
    pub signatures: u64,
    pub chain_budget_exceeded: u64,
    pub capture_budget_exceeded: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpStatsRec {
    pub header_overflows: u64,
    pub desync_gaps: u64,
    pub resyncs: u64,
    pub body_gap_bytes: u64,
    pub dropped_transactions: u64,
    pub dropped_pending: u64,
    pub unmatched_responses: u64,
    pub bad_content_length: u64,
    pub tunnel_leftover_dropped: u64,
    pub truncated_heads: u64,
    pub desync_garbage: u64,
}

/// One printed record, by its `type`.
#[derive(Debug)]
pub enum Record {
    Connection(Box<ConnectionRec>),
    Dns(Box<DnsRec>),
    Fetch(Box<FetchRec>),
    Finding(Box<FindingRec>),
    Stats(Box<StatsRec>),
}

/// Parses one record against the contract; the error says which field broke it.
pub fn parse_record(v: &serde_json::Value) -> Result<Record, String> {
    let mut obj = v.as_object().ok_or("record is not an object")?.clone();
    let ty = obj
        .remove("type")
        .ok_or("record has no `type`")?
        .as_str()
        .ok_or("`type` is not a string")?
        .to_string();
    let rest = serde_json::Value::Object(obj);
    let e = |e: serde_json::Error| format!("{ty} record: {e}");
    Ok(match ty.as_str() {
        "connection" => Record::Connection(serde_json::from_value(rest).map_err(e)?),
        "dns" => Record::Dns(serde_json::from_value(rest).map_err(e)?),
        "fetch" => Record::Fetch(serde_json::from_value(rest).map_err(e)?),
        "finding" => Record::Finding(serde_json::from_value(rest).map_err(e)?),
        "stats" => Record::Stats(serde_json::from_value(rest).map_err(e)?),
        other => return Err(format!("unknown record type {other:?}")),
    })
}

/// The `--format json` document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonDoc {
    connections: Vec<serde_json::Value>,
    dns: Vec<serde_json::Value>,
    fetches: Vec<serde_json::Value>,
    findings: Vec<serde_json::Value>,
    stats: Vec<serde_json::Value>,
}

/// How much of the contract the corpus exercised (so the test cannot pass on nothing).
#[derive(Debug, Default)]
struct Seen {
    files: usize,
    records: BTreeMap<&'static str, usize>,
}

impl Seen {
    fn add(&mut self, what: &'static str) {
        *self.records.entry(what).or_insert(0) += 1;
    }
    fn note(&mut self, r: &Record) {
        match r {
            Record::Connection(c) => {
                self.add("connection");
                if let Some(t) = &c.tls {
                    self.add("tls");
                    if t.client_hello.0.is_some() {
                        self.add("client_hello");
                    }
                    if t.server_hello.0.is_some() {
                        self.add("server_hello");
                    }
                    if !t.certificates.is_empty() {
                        self.add("certificates");
                    }
                    if t.validation.0.is_some() {
                        self.add("validation");
                    }
                    if !t.alerts.is_empty() {
                        self.add("alerts");
                    }
                }
                if !c.http.is_empty() {
                    self.add("http");
                }
                if !c.resets.is_empty() {
                    self.add("resets");
                }
                if !c.icmp.is_empty() {
                    self.add("icmp");
                }
                if c.go.is_some() {
                    self.add("go");
                }
            }
            Record::Dns(d) => {
                self.add("dns");
                if !d.answers.is_empty() {
                    self.add("answers");
                }
            }
            Record::Fetch(f) => {
                self.add("fetch");
                if f.connection.0.is_some() {
                    self.add("fetch connection");
                }
            }
            Record::Finding(f) => {
                self.add("finding");
                if !f.evidence.is_empty() {
                    self.add("evidence");
                }
                if f.go_error.0.is_some() {
                    self.add("go_error");
                }
            }
            Record::Stats(_) => self.add("stats"),
        }
    }
}

/// Checks one capture: every NDJSON line parses against the contract, exactly one `stats`
/// comes last, and `--format json` is one document holding the same records.
fn check_capture(file: &Path, seen: &mut Seen) -> Result<(), String> {
    let f = file.to_str().ok_or("path is not UTF-8")?;
    // go's stderr beside the capture (fixtures/NAME/stderr.txt, scenarios' NAME.stderr.txt).
    let stderr = [
        file.with_file_name("stderr.txt"),
        file.with_extension("stderr.txt"),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .map(|p| p.display().to_string());
    let mut args = vec!["read"];
    if let Some(s) = &stderr {
        args.extend(["--go-stderr", s.as_str()]);
    }
    let with = |format: &'static str| {
        let mut a = args.clone();
        a.extend(["--format", format, f]);
        run(&a)
    };
    let out = with("ndjson");
    let code = out.status.code();
    let stdout = String::from_utf8(out.stdout).map_err(|e| format!("output not UTF-8: {e}"))?;
    if code == Some(2) && stdout.is_empty() {
        // Unreadable input (exit 2 is its contract); nothing was printed to check.
        return Ok(());
    }
    if !matches!(code, Some(0 | 1)) {
        return Err(format!(
            "exit status {code:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let mut lines: Vec<serde_json::Value> = Vec::new();
    for (i, l) in stdout.lines().enumerate() {
        let v: serde_json::Value =
            serde_json::from_str(l).map_err(|e| format!("line {}: not JSON: {e}", i + 1))?;
        let rec = parse_record(&v).map_err(|e| format!("line {}: {e}\n  {l}", i + 1))?;
        seen.note(&rec);
        let is_stats = matches!(rec, Record::Stats(_));
        let last = i + 1 == stdout.lines().count();
        if is_stats != last {
            return Err(format!(
                "line {}: the stats record must be the last and only one",
                i + 1
            ));
        }
        if let Record::Stats(s) = &rec {
            if s.source.is_empty() {
                return Err("stats: empty source".into());
            }
            if s.kernel.is_some() {
                return Err("stats: kernel counters on a file read".into());
            }
            if s.frames < s.packets {
                return Err(format!(
                    "stats: {} frames < {} packets",
                    s.frames, s.packets
                ));
            }
        }
        lines.push(v);
    }
    if lines.is_empty() {
        return Err("no records printed".into());
    }

    let out = with("json");
    if out.status.code() != code {
        return Err(format!(
            "--format json exits {:?}, ndjson {code:?}",
            out.status.code()
        ));
    }
    let doc: JsonDoc = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("--format json is not one document of the contract: {e}"))?;
    let mut from_doc = Vec::new();
    for (part, ty, recs) in [
        ("connections", "connection", &doc.connections),
        ("dns", "dns", &doc.dns),
        ("fetches", "fetch", &doc.fetches),
        ("findings", "finding", &doc.findings),
        ("stats", "stats", &doc.stats),
    ] {
        for r in recs {
            if r["type"] != ty {
                return Err(format!("json `{part}` holds a {} record", r["type"]));
            }
            from_doc.push(serde_json::to_string(r).map_err(|e| e.to_string())?);
        }
    }
    let mut from_lines: Vec<String> = lines
        .iter()
        .map(|v| serde_json::to_string(v).unwrap_or_default())
        .collect();
    from_lines.sort();
    from_doc.sort();
    if from_lines != from_doc {
        return Err(format!(
            "--format json and ndjson differ: {} vs {} records",
            from_doc.len(),
            from_lines.len()
        ));
    }
    seen.files += 1;
    Ok(())
}

/// ../shared, or $MODSNIFF_SHARED when it is elsewhere (a git worktree's parent); prints why
/// the part of `what` that needs it is skipped otherwise.
pub fn shared_dir(what: &str) -> Option<std::path::PathBuf> {
    match std::env::var_os("MODSNIFF_SHARED") {
        Some(p) => Some(std::path::PathBuf::from(p)),
        None => shared_or_skip(what),
    }
}

#[test]
fn every_record_printed_matches_the_contract() {
    let mut files = captures(&fixtures());
    let shared = shared_dir("wire types on ../shared/scenarios");
    match shared {
        Some(s) => {
            let n = files.len();
            files.extend(captures(&s.join("scenarios")));
            assert!(files.len() > n, "no captures in {}/scenarios", s.display());
        }
        None => eprintln!("checking fixtures/ only"),
    }
    assert!(!files.is_empty(), "no captures under fixtures/");
    let mut seen = Seen::default();
    let mut failures = Vec::new();
    for f in &files {
        if let Err(e) = check_capture(f, &mut seen) {
            failures.push(format!("{}: {e}", f.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} captures break the output contract:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    eprintln!(
        "contract checked on {} captures: {:?}",
        seen.files, seen.records
    );
    // The corpus must exercise every part of the contract, or this test proves little.
    for what in [
        "connection",
        "dns",
        "answers",
        "finding",
        "evidence",
        "stats",
        "tls",
        "client_hello",
        "server_hello",
        "certificates",
        "validation",
        "alerts",
        "http",
        "resets",
        "go",
        "fetch",
        "fetch connection",
        "go_error",
    ] {
        assert!(
            seen.records.get(what).is_some_and(|n| *n > 0),
            "no capture exercised `{what}`: {:?}",
            seen.records
        );
    }
}

/// The contract types really reject what they should (else the test above proves nothing).
#[test]
fn contract_types_reject_unknown_renamed_and_missing_fields() {
    let f = fixtures().join("public/zeek/http/get.pcap");
    let (_, recs, _) = ndjson(&f, &[]);
    let conn = recs
        .iter()
        .find(|r| r["type"] == "connection")
        .expect("a connection record")
        .clone();
    assert!(parse_record(&conn).is_ok());

    let mut added = conn.clone();
    added["brand_new_field"] = serde_json::json!(1);
    let e = parse_record(&added).unwrap_err();
    assert!(e.contains("brand_new_field"), "{e}");

    let mut nested = conn.clone();
    nested["client_stats"]["extra"] = serde_json::json!(true);
    assert!(parse_record(&nested).is_err());

    let mut renamed = conn.clone();
    let obj = renamed.as_object_mut().unwrap();
    let v = obj.remove("history").unwrap();
    obj.insert("hist".into(), v);
    assert!(parse_record(&renamed).is_err());

    let stats = recs.last().unwrap().clone();
    assert!(parse_record(&stats).is_ok());
    let mut missing = stats.clone();
    missing.as_object_mut().unwrap().remove("decode_errors");
    assert!(parse_record(&missing).is_err());

    // A nullable field must still be present.
    let fin = serde_json::json!({
        "type": "finding", "record_version": 1, "stage": "http", "kind": "http-not-found", "severity": "error",
        "actor": "server", "connection": 1, "server_name": null, "server": "10.0.0.1:80",
        "summary": "s", "likely_go_error": null, "go_error": null, "remedy": null, "evidence": []
    });
    assert!(parse_record(&fin).is_ok());
    let mut no_remedy = fin.clone();
    no_remedy.as_object_mut().unwrap().remove("remedy");
    let e = parse_record(&no_remedy).unwrap_err();
    assert!(e.contains("remedy"), "{e}");
    let mut bad_kind = fin;
    bad_kind["kind"] = serde_json::json!("http-teapot");
    assert!(parse_record(&bad_kind).is_err());
}
