//! TLS: records -> handshake messages -> ClientHello, ServerHello, certificates, alerts.
//!
//! One [`TlsDecoder`] per connection sees both directions. Per side a record deframer reads
//! 5-byte headers (split anywhere across chunks); handshake bodies go to a
//! handshake reassembler that rebuilds messages across segments and records;
//! everything else (encrypted records, application data) is skipped by length with
//! [`Progress::Skip`], so after the handshake only record headers are ever looked at.
//!
//! Code points (versions, ciphers, extensions, groups) are open newtypes ([`TlsVersion`],
//! [`CipherSuite`]...): any value read off the wire survives, GREASE included; the selected
//! version and cipher also get `version_name` ("TLS 1.3") / `cipher_name` (IANA). With the
//! `serde` feature they serialize as hex strings such as `"0x0303"`.
//!
//! Gaps: a gap inside a record body keeps the framing (the record length is known); a gap
//! that reaches past it desyncs the side, which then scans for a plausible record header
//! (bounded by [`TlsLimits::max_resync_scan`]) or gives up on that side (`Progress::Done`).

// Input-derived data is never indexed directly (STYLE.md); tests may.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

mod alert;
mod certificate;
pub(crate) mod client_hello;
mod deframer;
// Reached from outside only through `hooks` (benches); its cache types are not API.
#[allow(missing_docs)]
pub(crate) mod fingerprint;
mod record;
mod server_hello;

pub use alert::AlertInfo;
pub use certificate::{
    CertificateInfo, ChainLimits, ChainStats, DEFAULT_MAX_CAPTURE_CHAIN_CANDIDATES,
    DEFAULT_MAX_CAPTURE_SIGNATURES, DEFAULT_MAX_CHAIN_CANDIDATES, DEFAULT_MAX_CHAIN_SIGNATURES,
    Validation,
};
pub use client_hello::ClientHello;
pub use record::{
    CipherSuite, ContentType, ExtensionType, GroupInfo, NamedGroup, SignatureScheme, TlsVersion,
    is_grease, rfc3339,
};
pub use server_hello::ServerHello;

use super::kept::{KeptPool, KeptShare, kept_to_the_end};
use super::{Progress, StreamCtx, StreamDecoder};
use crate::time::Timestamp;
use crate::types::Side;
use certificate::TrustStore;
use deframer::{HandshakeReassembler, PendingPool, PieceCtx, Span};
use fingerprint::FingerprintCache;
use record::{RECORD_HEADER_LEN, RecordHeader, handshake_type};
use std::sync::{Arc, OnceLock};

/// Settings for TLS decoding: extra trust anchors for chain validation.
#[derive(Clone, Debug, Default)]
pub struct TlsConfig {
    /// DER certificates trusted in addition to webpki-roots (from `--ca-file` / SSL_CERT_FILE):
    /// the user's trust store, which may hold a TLS-inspection CA.
    pub extra_roots_der: std::sync::Arc<[Vec<u8>]>,
    /// Roots that genuine public servers chain to, beyond webpki-roots: for a lab that stands in
    /// for the public PKI (`--public-ca-file`). Empty in normal use.
    pub public_roots_der: std::sync::Arc<[Vec<u8>]>,
    /// Both sets parsed into trust anchors, once, on first use (set the fields before the
    /// first decoder is made), shared by every connection's decoder.
    trust: OnceLock<Arc<TrustStore>>,
    /// JA3/JA4/JA3S already computed, shared by every connection's decoder.
    fingerprints: Arc<FingerprintCache>,
    /// Incomplete handshake messages held by every connection's decoder
    /// (`TlsLimits::max_pending_handshake_bytes`).
    pending: Arc<PendingPool>,
    /// What the decoders of live connections keep (`Limits::max_kept_bytes`): shared here
    /// because every decoder is made with this configuration at hand.
    kept: Arc<KeptPool>,
}

impl TlsConfig {
    /// The same configuration sharing the trust store and caches, with pools of partial
    /// handshakes and of kept bytes of its own (an engine among several that each keep their
    /// share of `TlsLimits::max_pending_handshake_bytes` and `Limits::max_kept_bytes`).
    pub(crate) fn with_own_pools(&self) -> TlsConfig {
        TlsConfig {
            pending: Arc::default(),
            kept: Arc::default(),
            ..self.clone()
        }
    }

    /// Handshake messages the pool of partial handshakes has refused so far.
    pub(crate) fn pending_refusals(&self) -> u64 {
        self.pending.refusals()
    }

    /// Whether the run's pool of kept bytes has refused anything yet.
    pub(crate) fn kept_refused(&self) -> bool {
        self.kept.refused()
    }

    /// The parsed trust store of this configuration.
    pub(crate) fn trust(&self) -> Arc<TrustStore> {
        Arc::clone(self.trust.get_or_init(|| {
            Arc::new(TrustStore::new(
                &self.public_roots_der,
                &self.extra_roots_der,
            ))
        }))
    }

    /// The run's pool of what live connections' decoders keep.
    pub(crate) fn kept_pool(&self) -> &Arc<KeptPool> {
        &self.kept
    }
}

/// Bounds on what one connection's TLS decoder keeps. Every bound has a counter in
/// [`TlsAnomalies`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsLimits {
    /// Largest handshake message reassembled (body length); larger ones are skipped by length
    /// and counted in `dropped_handshake_messages`. 64 KiB holds any real certificate chain.
    pub max_handshake_message: usize,
    /// Largest Certificate message reassembled. Separate because real chains can be large:
    /// zeek's tls-fragmented-handshake.pcap sends a single 340 KB certificate over 21
    /// records. 1 MiB, only ever held while that one message is incomplete.
    pub max_certificate_message: usize,
    /// Certificates described per Certificate message (`dropped_certificates`).
    pub max_certificates: usize,
    /// Records noted per side after the ServerHello (`records_after_hello` keeps counting).
    pub max_record_notes: usize,
    /// Handshake messages noted per side.
    pub max_handshake_notes: usize,
    /// Alerts kept (`dropped_alerts`).
    pub max_alerts: usize,
    /// Bytes scanned for a record header after a gap before giving up on the side.
    pub max_resync_scan: u64,
    /// Incomplete handshake messages buffered by all connections together; a message that
    /// does not fit is skipped by its length (`Stats::handshake_buffer_refusals`). Without
    /// it, connections that each announce a large Certificate and never finish it hold
    /// `max_certificate_message` each.
    pub max_pending_handshake_bytes: usize,
    /// subjectAltName entries (DNS names and IP addresses) kept per certificate
    /// (`Stats::san_entries_dropped`).
    pub max_san_entries: usize,
    /// Chain validation work, per chain and per run (`Stats::x509`).
    pub chain: ChainLimits,
}

impl Default for TlsLimits {
    fn default() -> Self {
        TlsLimits {
            max_handshake_message: 64 * 1024,
            max_certificate_message: 1024 * 1024,
            max_certificates: 16,
            max_record_notes: 8,
            max_handshake_notes: 16,
            max_alerts: 16,
            max_resync_scan: 64 * 1024,
            max_pending_handshake_bytes: DEFAULT_MAX_PENDING_HANDSHAKE_BYTES,
            max_san_entries: DEFAULT_MAX_SAN_ENTRIES,
            chain: ChainLimits::default(),
        }
    }
}

/// Default for [`TlsLimits::max_pending_handshake_bytes`]: 16 MiB, sixteen of the largest
/// Certificate messages at once.
pub const DEFAULT_MAX_PENDING_HANDSHAKE_BYTES: usize = 16 * 1024 * 1024;
/// Default for [`TlsLimits::max_san_entries`]: shared hosting certificates carry a few hundred
/// names; the rest of a list of hundreds of thousands only costs memory.
pub const DEFAULT_MAX_SAN_ENTRIES: usize = 1024;

/// What the decoder's run-wide bounds cut on one connection, summed into `Stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BoundsHit {
    /// Handshake messages skipped because the run's pool was full.
    pub handshake_buffer_refusals: u64,
    /// subjectAltName entries not kept.
    pub san_entries_dropped: u64,
    /// Certificate names the run's pool of kept bytes (`Limits::max_kept_bytes`) could not
    /// hold: one per Certificate message whose names were not kept.
    pub kept_bytes_refusals: u64,
}

/// Anomalies seen, by kind (counted, never errors).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TlsAnomalies {
    /// Record headers that could not be TLS (bad type, version or length).
    pub bad_record_headers: u64,
    /// Capture gaps met inside the TLS stream.
    pub gaps: u64,
    /// Bytes those gaps lost.
    pub gap_bytes: u64,
    /// Times a side found a record header again after a gap.
    pub resyncs: u64,
    /// Sides given up on after a failed resync.
    pub sides_given_up: u64,
    /// Handshake messages larger than `limits.tls.max_handshake_message` (or
    /// `max_certificate_message`), skipped by their length.
    pub dropped_handshake_messages: u64,
    /// Bytes of those messages.
    pub dropped_handshake_bytes: u64,
    /// Certificates beyond `limits.tls.max_certificates`, not described.
    pub dropped_certificates: u64,
    /// Alerts beyond `limits.tls.max_alerts`, not kept.
    pub dropped_alerts: u64,
    /// Handshake messages tls-parser / x509-parser could not read.
    pub malformed_messages: u64,
    /// A ClientHello from the server side or the like.
    pub unexpected_messages: u64,
    /// A side ended in the middle of a record or handshake message.
    pub truncated_at_end: u64,
}

/// A record, as far as its header tells.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RecordNote {
    /// Frame of the packet that carried its header.
    pub frame: u64,
    /// Timestamp of the chunk that carried its header.
    pub ts: Timestamp,
    /// The record's content type.
    pub content_type: ContentType,
    /// Its body length.
    pub length: u16,
    /// Its body is ciphertext (after ChangeCipherSpec, or TLS 1.3 after the ServerHello, or
    /// application data).
    pub encrypted: bool,
}

/// A handshake message, as far as its header tells.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct HandshakeNote {
    /// The handshake message type (1 = ClientHello, 2 = ServerHello, 11 = Certificate...).
    pub msg_type: u8,
    /// Its body length.
    pub length: usize,
    /// Frame of the packet that completed it.
    pub frame: u64,
}

/// What one side sent at the record layer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SideSummary {
    /// Records this side sent.
    pub records: u64,
    /// It sent a ChangeCipherSpec.
    pub change_cipher_spec: bool,
    /// Frame of the first one.
    pub change_cipher_spec_frame: Option<u64>,
    /// Plaintext handshake messages, in order (first few).
    pub handshake_messages: Vec<HandshakeNote>,
    /// Records after the ServerHello was seen (first few): the server's encrypted flight,
    /// the client's first encrypted record.
    pub records_after_hello: Vec<RecordNote>,
    /// All records after the ServerHello, with the bytes of their bodies.
    pub records_after_hello_count: u64,
    /// See `records_after_hello_count`.
    pub records_after_hello_bytes: u64,
    /// First record with an encrypted body.
    pub first_encrypted: Option<RecordNote>,
    /// The last record header seen before the side ended.
    pub last_record: Option<RecordNote>,
    /// Decoding of this side stopped (desync beyond repair, or not TLS).
    pub gave_up: bool,
    /// This side's first bytes were not a TLS record although the other side's were (a
    /// plain-HTTP server answering a ClientHello, a proxy's error page). Boxed: rare, and
    /// with it inline the connection's TLS record outgrew the allocator's fast path for
    /// small objects.
    pub not_tls: Option<Box<NotTls>>,
}

/// The start of a side that did not speak TLS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct NotTls {
    /// Frame of its first byte.
    pub frame: u64,
    /// Its first bytes (up to [`NOT_TLS_PREFIX`]), non-printable ones as '.'.
    pub prefix: String,
}

/// How many bytes of a non-TLS reply are kept (enough for "HTTP/1.1 400 Bad Request").
pub const NOT_TLS_PREFIX: usize = 64;

/// Everything learned about one connection's TLS.
#[derive(Clone, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TlsInfo {
    /// The (first) ClientHello.
    pub client_hello: Option<ClientHello>,
    /// The second ClientHello, sent after a HelloRetryRequest. Boxed, as the two below: rare
    /// or small next to the record, they keep it within the allocator's fast path for small
    /// objects (1 KiB).
    pub client_hello_retry: Option<Box<ClientHello>>,
    /// Further ClientHellos (renegotiation in clear), counted only.
    pub extra_client_hellos: u64,
    /// The server's HelloRetryRequest, if it sent one.
    pub hello_retry_request: Option<Box<ServerHello>>,
    /// The ServerHello.
    pub server_hello: Option<Box<ServerHello>>,
    /// Server certificates, leaf first, in the order sent (first Certificate message).
    pub certificates: Vec<Arc<CertificateInfo>>,
    /// Frame that completed the server's Certificate message.
    pub certificate_frame: Option<u64>,
    /// Client certificates (when the server asked for them), same form.
    pub client_certificates: Vec<Arc<CertificateInfo>>,
    /// Chain validation of `certificates`, done once when the message completed.
    pub validation: Option<Validation>,
    /// The chain is valid only through the user's extra roots (`--ca-file` / SSL_CERT_FILE),
    /// not through a public root.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "std::ops::Not::not"))]
    pub valid_only_via_ca_file: bool,
    /// Alerts of both sides, in the order read (at most `limits.tls.max_alerts`).
    pub alerts: Vec<AlertInfo>,
    /// What the client sent at the record layer.
    pub client: SideSummary,
    /// What the server sent at the record layer.
    pub server: SideSummary,
    /// Frame of an SSLv2-format (backwards-compatible) ClientHello, which is skipped, not
    /// decoded: old clients open with it and then speak TLS 1.0 records.
    pub sslv2_client_hello_frame: Option<u64>,
    /// What the decoder counted instead of failing.
    pub anomalies: TlsAnomalies,
    /// What validating the server's chain cost (summed over a run into `Stats::x509`).
    #[cfg_attr(feature = "serde", serde(skip))]
    pub chain: ChainStats,
    /// What the bounds shared by the run cut here (summed into `Stats`).
    #[cfg_attr(feature = "serde", serde(skip))]
    pub bounds: BoundsHit,
}

impl TlsInfo {
    /// (first, last) frame of the ClientHello.
    pub fn client_hello_frames(&self) -> Option<(u64, u64)> {
        self.client_hello
            .as_ref()
            .map(|c| (c.first_frame, c.last_frame))
    }
    /// Frame that completed the ServerHello.
    pub fn server_hello_frame(&self) -> Option<u64> {
        self.server_hello.as_ref().map(|s| s.last_frame)
    }
    /// Frame that completed the server's Certificate message.
    pub fn certificate_frame(&self) -> Option<u64> {
        self.certificate_frame
    }
    /// Chain validation of the server's certificates (with the `x509` feature).
    pub fn validation(&self) -> Option<&Validation> {
        self.validation.as_ref()
    }
    /// The server name the client asked for (SNI).
    pub fn sni(&self) -> Option<&str> {
        self.client_hello.as_ref().and_then(|c| c.sni.as_deref())
    }
    /// The first ALPN protocol the client offered.
    pub fn alpn_first(&self) -> Option<String> {
        self.client_hello
            .as_ref()
            .and_then(|c| c.alpn.first().cloned())
    }
    /// The ClientHello's JA4.
    pub fn ja4(&self) -> Option<&str> {
        self.client_hello.as_ref().map(|c| &*c.ja4)
    }
    /// Issuer of the leaf certificate, when the chain was in clear.
    pub fn leaf_issuer(&self) -> Option<String> {
        self.certificates.first().map(|c| c.issuer.clone())
    }
    /// What `side` sent at the record layer.
    pub fn side(&self, side: Side) -> &SideSummary {
        match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }
    /// The negotiated version is TLS 1.3 (or a draft).
    pub fn is_tls13(&self) -> bool {
        self.server_hello
            .as_ref()
            .is_some_and(|s| s.version.is_tls13())
    }
}

/// What the record layer of one side waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RecState {
    ExpectHeader,
    Body {
        remaining: usize,
        kind: BodyKind,
    },
    /// After a gap: looking for a plausible record header.
    Resync,
    /// Not TLS, or lost beyond repair.
    GaveUp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyKind {
    Handshake,
    Alert,
    Skip,
    /// A client handshake record after the client's ChangeCipherSpec, before any
    /// ServerHello or HelloRetryRequest was seen: TLS 1.3's second ClientHello (the client
    /// sends ChangeCipherSpec before it, for middleboxes), or an encrypted Finished of a
    /// TLS 1.2 client whose server's hello the capture missed. The body's first bytes tell
    /// (see `looks_like_client_hello`).
    Peek,
}

/// Body bytes looked at to tell a ClientHello from ciphertext: its type and length.
const PEEK_LEN: usize = 4;

/// A record body of `body_len` bytes whose first bytes are `peek` starts a ClientHello:
/// type 1, and a length from the smallest ClientHello (version, random, three empty
/// vectors, one cipher, one compression method: 42 bytes) that fills at least the rest of
/// the record (a message longer than its record goes on in the next). Ciphertext passes
/// with a chance of about one in 10^7.
fn looks_like_client_hello(peek: [u8; PEEK_LEN], body_len: usize) -> bool {
    let [t, a, b, c] = peek;
    let len = (usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c);
    t == handshake_type::CLIENT_HELLO && len >= 42 && len + PEEK_LEN >= body_len
}

#[derive(Debug)]
struct SideState {
    hdr: [u8; RECORD_HEADER_LEN],
    hdr_len: usize,
    state: RecState,
    cur: RecordHeader,
    cur_frame: u64,
    cur_ts: Timestamp,
    cur_chunk: u64,
    cur_body_seen: usize,
    alert: [u8; 2],
    alert_len: usize,
    peek: [u8; PEEK_LEN],
    peek_len: usize,
    hs: HandshakeReassembler,
    chunks: u64,
    /// Time of the side's latest chunk: a message a gap cuts short ends there.
    last_ts: Timestamp,
    records: u64,
    resync_scanned: u64,
}

impl SideState {
    fn new(limits: &TlsLimits, pool: &Arc<PendingPool>) -> Self {
        SideState {
            hdr: [0; RECORD_HEADER_LEN],
            hdr_len: 0,
            state: RecState::ExpectHeader,
            cur: RecordHeader::parse([0; RECORD_HEADER_LEN]),
            cur_frame: 0,
            cur_ts: Timestamp::ZERO,
            cur_chunk: 0,
            cur_body_seen: 0,
            alert: [0; 2],
            alert_len: 0,
            peek: [0; PEEK_LEN],
            peek_len: 0,
            hs: HandshakeReassembler::with_pool(
                limits.max_handshake_message,
                limits.max_certificate_message,
                Arc::clone(pool),
                limits.max_pending_handshake_bytes,
            ),
            chunks: 0,
            last_ts: Timestamp::ZERO,
            records: 0,
            resync_scanned: 0,
        }
    }
}

/// The connection-wide part, separate from the per-side deframers so that handshake
/// callbacks can update it while a side's deframer is borrowed.
#[derive(Debug)]
struct Core {
    /// Boxed from the start: the record is ~1.8 KB, and it ends up boxed in the
    /// `Connection`; moving it out of the decoder and into a new box cost a large
    /// allocation plus two copies per TLS connection (~4 % of a full run).
    info: Box<TlsInfo>,
    limits: TlsLimits,
    // Shared, not copied: one decoder per TLS connection.
    trust: Arc<TrustStore>,
    fingerprints: Arc<FingerprintCache>,
    server_hello_seen: bool,
    server_certificate_done: bool,
    /// The certificate descriptions kept, charged to the run's pool.
    kept: KeptShare,
}

impl Core {
    fn summary(&mut self, side: Side) -> &mut SideSummary {
        match side {
            Side::Client => &mut self.info.client,
            Side::Server => &mut self.info.server,
        }
    }

    /// Is this side's traffic encrypted from here on? TLS 1.3 (known from the ServerHello,
    /// or implied by a HelloRetryRequest) encrypts everything after the real ServerHello and
    /// its ChangeCipherSpec is only middlebox camouflage; older versions encrypt after
    /// ChangeCipherSpec.
    fn encrypted(&self, side: Side) -> bool {
        let tls13 = self.info.is_tls13();
        if tls13 || self.info.hello_retry_request.is_some() {
            return tls13;
        }
        match side {
            Side::Client => self.info.client.change_cipher_spec,
            Side::Server => self.info.server.change_cipher_spec,
        }
    }

    /// A record header was read: note it, decide what to do with the body.
    fn on_record(&mut self, side: Side, h: &RecordHeader, frame: u64, ts: Timestamp) -> BodyKind {
        let encrypted_state = self.encrypted(side);
        let ct = h.content_type;
        let (kind, encrypted) = match ct {
            ContentType::HANDSHAKE if !encrypted_state => (BodyKind::Handshake, false),
            ContentType::HANDSHAKE
                if side == Side::Client
                    && self.info.server_hello.is_none()
                    && self.info.hello_retry_request.is_none() =>
            {
                (BodyKind::Peek, false)
            }
            // A 2-byte alert body is plaintext whatever the state: an encrypted one carries
            // at least a MAC or tag besides.
            ContentType::ALERT if !encrypted_state || h.length == 2 => (BodyKind::Alert, false),
            ContentType::ALERT => {
                self.push_alert(AlertInfo {
                    side,
                    frame,
                    ts,
                    encrypted: true,
                    level: None,
                    description: None,
                    description_name: None,
                    record_length: h.length,
                });
                (BodyKind::Skip, true)
            }
            ContentType::CHANGE_CIPHER_SPEC => {
                let s = self.summary(side);
                if !s.change_cipher_spec {
                    s.change_cipher_spec = true;
                    s.change_cipher_spec_frame = Some(frame);
                }
                (BodyKind::Skip, false)
            }
            ContentType::APPLICATION_DATA => (BodyKind::Skip, true),
            _ => (BodyKind::Skip, encrypted_state),
        };
        let note = RecordNote {
            frame,
            ts,
            content_type: ct,
            length: h.length,
            encrypted,
        };
        let max_notes = self.limits.max_record_notes;
        let after_hello = self.server_hello_seen;
        let s = self.summary(side);
        s.records += 1;
        s.last_record = Some(note);
        if encrypted && s.first_encrypted.is_none() {
            s.first_encrypted = Some(note);
        }
        if after_hello {
            s.records_after_hello_count += 1;
            s.records_after_hello_bytes += u64::from(h.length);
            if s.records_after_hello.len() < max_notes {
                // All the notes at once (up to the default's 8; a larger configured bound
                // grows as needed): growing 0 -> 4 -> 8 was two allocations per side of
                // most connections.
                if s.records_after_hello.capacity() == 0 {
                    s.records_after_hello.reserve_exact(max_notes.min(8));
                }
                s.records_after_hello.push(note);
            }
        }
        kind
    }

    /// The record whose body was peeked at is ciphertext after all: noted as such.
    fn peeked_encrypted(&mut self, side: Side) {
        let s = self.summary(side);
        if let Some(note) = s.last_record.as_mut() {
            note.encrypted = true;
            if s.first_encrypted.is_none() {
                s.first_encrypted = Some(*note);
            }
        }
    }

    fn push_alert(&mut self, a: AlertInfo) {
        if self.info.alerts.len() < self.limits.max_alerts {
            self.info.alerts.push(a);
        } else {
            self.info.anomalies.dropped_alerts += 1;
        }
    }

    fn on_alert_body(
        &mut self,
        side: Side,
        h: &RecordHeader,
        frame: u64,
        ts: Timestamp,
        body: &[u8],
    ) {
        let (level, description) = match body {
            [l, d] => (Some(*l), Some(*d)),
            _ => (None, None),
        };
        self.push_alert(AlertInfo {
            side,
            frame,
            ts,
            encrypted: false,
            level,
            description,
            description_name: description.and_then(alert::description_name),
            record_length: h.length,
        });
    }

    /// A handshake message, whole, or `cut` short by a gap (the capture's snap length, a
    /// lost segment): a cut one is noted with the length its header declares, and a hello
    /// is read as far as its head goes, so that what the capture does show of the
    /// handshake (a hello sent, a hello answered) is not lost with its tail.
    fn on_handshake(&mut self, side: Side, msg: &[u8], span: &Span, ts: Timestamp, cut: bool) {
        let ts_secs = ts.as_nanos() / 1_000_000_000;
        let Some((&[msg_type, a, b, c], body)) = msg.split_first_chunk::<4>() else {
            return;
        };
        let declared = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
        let max_notes = self.limits.max_handshake_notes;
        let s = self.summary(side);
        if s.handshake_messages.len() < max_notes {
            s.handshake_messages.push(HandshakeNote {
                msg_type,
                length: declared,
                frame: span.last_frame,
            });
        }
        // How a hello was carried.
        macro_rules! carried {
            ($h:ident) => {
                $h.ts = ts;
                $h.tcp_segments = span.segments;
                $h.records = span.records;
                $h.first_frame = span.first_frame;
                $h.last_frame = span.last_frame;
            };
        }
        match (side, msg_type) {
            (Side::Client, handshake_type::CLIENT_HELLO) => {
                let parsed = if cut {
                    Ok(client_hello::parse_cut(body, declared))
                } else {
                    client_hello::parse_cached(body, &self.fingerprints)
                };
                match parsed {
                    Ok(mut ch) => {
                        carried!(ch);
                        // A second ClientHello answers a HelloRetryRequest; one that
                        // follows the client's ChangeCipherSpec does too, when the capture
                        // missed the request (only TLS 1.3 clients send ChangeCipherSpec
                        // before a ServerHello, and only before their second hello).
                        let retry = self.info.hello_retry_request.is_some()
                            || self.info.client.change_cipher_spec;
                        let kept = self.info.client_hello.is_none()
                            || retry && self.info.client_hello_retry.is_none();
                        // Kept for the connection's life, so charged to the run's pool;
                        // without room its lists go (the fingerprints keep what they said).
                        if kept && !self.kept.claim(ch.kept_cost()) {
                            ch.drop_lists();
                            self.kept.force(ch.kept_cost());
                        }
                        if self.info.client_hello.is_none() {
                            self.info.client_hello = Some(ch);
                        } else if retry && self.info.client_hello_retry.is_none() {
                            self.info.client_hello_retry = Some(Box::new(ch));
                        } else {
                            self.info.extra_client_hellos += 1;
                        }
                    }
                    Err(_) => self.info.anomalies.malformed_messages += 1,
                }
            }
            (Side::Server, handshake_type::SERVER_HELLO) => {
                let parsed = if cut {
                    Ok(server_hello::parse_cut(body))
                } else {
                    server_hello::parse_cached(body, &self.fingerprints)
                };
                match parsed {
                    Ok(mut sh) => {
                        carried!(sh);
                        if sh.hello_retry_request {
                            if self.info.hello_retry_request.is_none() {
                                self.info.hello_retry_request = Some(Box::new(sh));
                            }
                        } else if self.info.server_hello.is_none() {
                            self.info.server_hello = Some(Box::new(sh));
                            self.server_hello_seen = true;
                        }
                    }
                    Err(_) => self.info.anomalies.malformed_messages += 1,
                }
            }
            (_, handshake_type::CERTIFICATE) if !cut => {
                self.on_certificate(side, body, span, ts_secs)
            }
            (Side::Server, handshake_type::CLIENT_HELLO)
            | (Side::Client, handshake_type::SERVER_HELLO) => {
                self.info.anomalies.unexpected_messages += 1
            }
            _ => {}
        }
    }

    fn on_certificate(&mut self, side: Side, body: &[u8], span: &Span, ts_secs: u64) {
        if side == Side::Server && self.server_certificate_done {
            return;
        }
        let Ok((_, tls_parser::TlsMessageHandshake::Certificate(c))) =
            tls_parser::parse_tls_handshake_msg_certificate(body)
        else {
            self.info.anomalies.malformed_messages += 1;
            return;
        };
        let max = self.limits.max_certificates;
        self.info.anomalies.dropped_certificates += c.cert_chain.len().saturating_sub(max) as u64;
        // Only the certificates described are offered to chain building: the bound on
        // certificates is also one on the candidates a chain can hold.
        let ders: Vec<&[u8]> = c.cert_chain.iter().take(max).map(|r| r.data).collect();
        let mut certs: Vec<Arc<CertificateInfo>> = ders
            .iter()
            .take(max)
            .enumerate()
            .map(|(i, d)| self.trust.describe(i, d, self.limits.max_san_entries))
            .collect();
        // Kept for the connection's life, so charged to the run's pool. Without room the
        // names go (counted as names beyond the bound, so a name check reads undecided);
        // the rest of each description is kept all the same, within the bounds on
        // certificates and their message.
        let cost: usize = certs.iter().map(|c| c.kept_cost()).sum();
        if !self.kept.claim(cost) {
            for c in &mut certs {
                // A description shared with the cache is copied before its names go.
                Arc::make_mut(c).drop_names();
            }
            self.kept.force(certs.iter().map(|c| c.kept_cost()).sum());
        }
        self.info.bounds.san_entries_dropped += certs.iter().map(|c| c.san_dropped).sum::<u64>();
        match side {
            Side::Client => self.info.client_certificates = certs,
            Side::Server => {
                self.server_certificate_done = true;
                self.info.certificate_frame = Some(span.last_frame);
                #[cfg(feature = "x509")]
                {
                    let mut work = ChainStats::default();
                    let (validation, via_user) = self.trust.validate_described(
                        &ders,
                        &certs,
                        self.info.sni(),
                        ts_secs,
                        &self.limits.chain,
                        &mut work,
                    );
                    self.info.chain.add(&work);
                    self.info.validation = Some(validation);
                    self.info.valid_only_via_ca_file = via_user;
                }
                #[cfg(not(feature = "x509"))]
                let _ = ts_secs;
                self.info.certificates = certs;
            }
        }
    }
}

/// One connection's TLS decoder (both directions).
#[derive(Debug)]
pub struct TlsDecoder {
    sides: [SideState; 2],
    core: Core,
}

impl TlsDecoder {
    /// A decoder for one connection with the default [`TlsLimits`].
    pub fn new(config: &TlsConfig) -> Self {
        Self::with_limits(config, TlsLimits::default())
    }

    /// A decoder for one connection within `limits`.
    pub fn with_limits(config: &TlsConfig, limits: TlsLimits) -> Self {
        Self::within(config, limits, usize::MAX)
    }

    /// A decoder for one connection within `limits`, whose certificate descriptions are
    /// charged to the run's pool of kept bytes (at most `max_kept` for all decoders).
    pub(crate) fn within(config: &TlsConfig, limits: TlsLimits, max_kept: usize) -> Self {
        TlsDecoder {
            sides: [
                SideState::new(&limits, &config.pending),
                SideState::new(&limits, &config.pending),
            ],
            core: Core {
                info: Box::default(),
                limits,
                trust: config.trust(),
                fingerprints: Arc::clone(&config.fingerprints),
                server_hello_seen: false,
                server_certificate_done: false,
                kept: KeptShare::new(&config.kept, kept_to_the_end(max_kept)),
            },
        }
    }

    /// What was learned so far.
    pub fn info(&self) -> &TlsInfo {
        &self.core.info
    }

    /// What was learned, taking it out.
    pub fn into_info(self) -> TlsInfo {
        *self.into_boxed_info()
    }

    /// The record, in the box it was built in (no copy).
    pub fn into_boxed_info(mut self) -> Box<TlsInfo> {
        self.sync_counters();
        self.core.info
    }

    fn sync_counters(&mut self) {
        let a = &mut self.core.info.anomalies;
        a.dropped_handshake_messages = self
            .sides
            .iter()
            .map(|s| s.hs.dropped_messages)
            .sum::<u64>();
        a.dropped_handshake_bytes = self.sides.iter().map(|s| s.hs.dropped_bytes).sum::<u64>();
        self.core.info.bounds.handshake_buffer_refusals =
            self.sides.iter().map(|s| s.hs.pool_refusals).sum::<u64>();
        self.core.info.bounds.kept_bytes_refusals = self.core.kept.refusals();
    }
}

fn side_index(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

/// An SSLv2-format ClientHello as a client's first record (RFC 5246 appendix E.2):
/// 2-byte length with the top bit set, msg_type 1, version 3.x. Returns its body length.
fn sslv2_client_hello_len(
    side: Side,
    records: u64,
    hdr: &[u8; RECORD_HEADER_LEN],
) -> Option<usize> {
    let [l0, l1, msg_type, major, _] = *hdr;
    (side == Side::Client && records == 0 && l0 & 0x80 != 0 && msg_type == 1 && major == 3)
        .then(|| usize::from(l0 & 0x7f) << 8 | usize::from(l1))
}

/// Runs one side's record layer over a chunk.
fn process(st: &mut SideState, core: &mut Core, ctx: &StreamCtx, data: &[u8]) -> Progress {
    st.chunks += 1;
    st.last_ts = ctx.ts;
    let chunk_id = st.chunks;
    let side = ctx.side;
    let mut p = data;
    loop {
        match st.state {
            RecState::GaveUp => return Progress::Done,
            RecState::Resync => {
                // Slide a 5-byte window over the data until it reads as a record header.
                let mut found = false;
                while let Some((&b, rest)) = p.split_first() {
                    p = rest;
                    st.resync_scanned += 1;
                    if st.hdr_len < RECORD_HEADER_LEN {
                        if let Some(slot) = st.hdr.get_mut(st.hdr_len) {
                            *slot = b;
                        }
                        st.hdr_len += 1;
                    } else {
                        st.hdr.rotate_left(1);
                        if let Some(last) = st.hdr.last_mut() {
                            *last = b;
                        }
                    }
                    if st.hdr_len == RECORD_HEADER_LEN {
                        let h = RecordHeader::parse(st.hdr);
                        if h.is_plausible() && h.length > 0 {
                            found = true;
                            break;
                        }
                    }
                    if st.resync_scanned > core.limits.max_resync_scan {
                        break;
                    }
                }
                if found {
                    core.info.anomalies.resyncs += 1;
                    st.resync_scanned = 0;
                    // The header may have begun in an earlier chunk; this one completed it.
                    st.cur_frame = ctx.frame;
                    st.cur_ts = ctx.ts;
                    st.cur_chunk = chunk_id;
                    st.state = RecState::ExpectHeader;
                    // The header is complete in `hdr`; fall through to ExpectHeader.
                } else if st.resync_scanned > core.limits.max_resync_scan {
                    st.state = RecState::GaveUp;
                    core.info.anomalies.sides_given_up += 1;
                    core.summary(side).gave_up = true;
                    return Progress::Done;
                } else {
                    return Progress::Continue;
                }
            }
            RecState::ExpectHeader => {
                if st.hdr_len < RECORD_HEADER_LEN {
                    let want = RECORD_HEADER_LEN - st.hdr_len;
                    let (head, rest) = p.split_at(want.min(p.len()));
                    if let Some(dst) = st.hdr.get_mut(st.hdr_len..st.hdr_len + head.len()) {
                        dst.copy_from_slice(head);
                    }
                    if st.hdr_len == 0 {
                        st.cur_frame = ctx.frame;
                        st.cur_ts = ctx.ts;
                        st.cur_chunk = chunk_id;
                    }
                    st.hdr_len += head.len();
                    p = rest;
                    if st.hdr_len < RECORD_HEADER_LEN {
                        return Progress::Continue;
                    }
                }
                let h = RecordHeader::parse(st.hdr);
                st.hdr_len = 0;
                if let Some(len) = sslv2_client_hello_len(side, st.records, &st.hdr) {
                    st.records += 1;
                    core.info.sslv2_client_hello_frame = Some(st.cur_frame);
                    // 3 of the body's bytes (type, version) were read with the header.
                    st.state = RecState::Body {
                        remaining: len.saturating_sub(3),
                        kind: BodyKind::Skip,
                    };
                    continue;
                }
                if !h.is_plausible() {
                    core.info.anomalies.bad_record_headers += 1;
                    if st.records == 0 {
                        st.state = RecState::GaveUp;
                        let other_is_tls = match side {
                            Side::Client => core.info.server.records > 0,
                            Side::Server => core.info.client.records > 0,
                        };
                        let summary = core.summary(side);
                        summary.gave_up = true;
                        if !other_is_tls {
                            return Progress::Violation("not a TLS record header");
                        }
                        // The other side spoke TLS: keep decoding it, remember what this one
                        // said instead.
                        let prefix = st
                            .hdr
                            .iter()
                            .chain(p.iter())
                            .take(NOT_TLS_PREFIX)
                            .map(|&b| {
                                if b.is_ascii_graphic() || b == b' ' {
                                    char::from(b)
                                } else {
                                    '.'
                                }
                            })
                            .collect();
                        summary.not_tls = Some(Box::new(NotTls {
                            frame: st.cur_frame,
                            prefix,
                        }));
                        return Progress::Done;
                    }
                    // Mid-stream garbage: resync from the byte after this header's start.
                    st.hs.reset();
                    st.hdr_len = RECORD_HEADER_LEN - 1;
                    st.hdr.rotate_left(1);
                    st.state = RecState::Resync;
                    continue;
                }
                st.records += 1;
                st.cur = h;
                st.cur_body_seen = 0;
                st.alert_len = 0;
                st.peek_len = 0;
                let kind = core.on_record(side, &h, st.cur_frame, st.cur_ts);
                st.state = RecState::Body {
                    remaining: usize::from(h.length),
                    kind,
                };
            }
            RecState::Body { remaining, kind } => {
                if remaining == 0 {
                    if kind == BodyKind::Alert {
                        let body = st.alert.get(..st.alert_len).unwrap_or_default();
                        core.on_alert_body(side, &st.cur, st.cur_frame, st.cur_ts, body);
                    }
                    st.state = RecState::ExpectHeader;
                    continue;
                }
                if kind == BodyKind::Peek {
                    // Collect the first bytes, then go on as a handshake record or as
                    // ciphertext.
                    let want = PEEK_LEN - st.peek_len;
                    let (head, rest) = p.split_at(want.min(p.len()).min(remaining));
                    if let Some(dst) = st.peek.get_mut(st.peek_len..st.peek_len + head.len()) {
                        dst.copy_from_slice(head);
                    }
                    st.peek_len += head.len();
                    p = rest;
                    let remaining = remaining - head.len();
                    if st.peek_len < PEEK_LEN && remaining > 0 {
                        // The chunk ended within the first bytes.
                        st.state = RecState::Body { remaining, kind };
                        return Progress::Continue;
                    }
                    let body_len = usize::from(st.cur.length);
                    if st.peek_len == PEEK_LEN && looks_like_client_hello(st.peek, body_len) {
                        let pctx = PieceCtx {
                            frame: ctx.frame,
                            chunk_id,
                            record_id: st.records,
                            record_hdr_frame: st.cur_frame,
                            record_hdr_chunk: st.cur_chunk,
                            at_record_start: true,
                        };
                        let peeked = st.peek;
                        st.hs.feed(&peeked, &pctx, &mut |msg, span| {
                            core.on_handshake(side, msg, span, ctx.ts, false)
                        });
                        st.cur_body_seen = PEEK_LEN;
                        st.state = RecState::Body {
                            remaining,
                            kind: BodyKind::Handshake,
                        };
                    } else {
                        core.peeked_encrypted(side);
                        st.cur_body_seen = st.peek_len;
                        st.state = RecState::Body {
                            remaining,
                            kind: BodyKind::Skip,
                        };
                    }
                    continue;
                }
                if p.is_empty() {
                    if kind == BodyKind::Skip {
                        // The chunk ended right after the header: skip the whole body.
                        st.state = RecState::ExpectHeader;
                        return Progress::Skip(remaining as u64);
                    }
                    return Progress::Continue;
                }
                let n = remaining.min(p.len());
                let (piece, rest) = p.split_at(n);
                match kind {
                    BodyKind::Skip => {
                        if rest.is_empty() && n < remaining {
                            // The record goes on past this chunk: have the reassembler skip
                            // the rest of its body without delivering it.
                            st.state = RecState::ExpectHeader;
                            return Progress::Skip((remaining - n) as u64);
                        }
                    }
                    BodyKind::Alert => {
                        for &b in piece {
                            if let Some(slot) = st.alert.get_mut(st.alert_len) {
                                *slot = b;
                                st.alert_len += 1;
                            }
                        }
                    }
                    // Decided above, before any body byte is taken here.
                    BodyKind::Peek => {}
                    BodyKind::Handshake => {
                        let pctx = PieceCtx {
                            frame: ctx.frame,
                            chunk_id,
                            record_id: st.records,
                            record_hdr_frame: st.cur_frame,
                            record_hdr_chunk: st.cur_chunk,
                            at_record_start: st.cur_body_seen == 0,
                        };
                        st.hs.feed(piece, &pctx, &mut |msg, span| {
                            core.on_handshake(side, msg, span, ctx.ts, false)
                        });
                    }
                }
                st.cur_body_seen += n;
                st.state = RecState::Body {
                    remaining: remaining - n,
                    kind,
                };
                p = rest;
            }
        }
    }
}

impl StreamDecoder for TlsDecoder {
    fn on_data(&mut self, ctx: &StreamCtx, data: &[u8]) -> Progress {
        let Some(st) = self.sides.get_mut(side_index(ctx.side)) else {
            return Progress::Done;
        };
        let progress = process(st, &mut self.core, ctx, data);
        self.sync_counters();
        progress
    }

    fn on_gap(&mut self, ctx: &StreamCtx, len: u64) -> Progress {
        self.core.info.anomalies.gaps += 1;
        self.core.info.anomalies.gap_bytes += len;
        let Some(st) = self.sides.get_mut(side_index(ctx.side)) else {
            return Progress::Done;
        };
        let progress = match st.state {
            RecState::GaveUp => Progress::Done,
            RecState::Body { remaining, kind } if (remaining as u64) >= len => {
                // The gap lies inside the current record: framing survives, only the bytes
                // of a handshake message in progress are lost.
                if kind == BodyKind::Peek {
                    // The bytes that would tell are lost: the rest is skipped.
                    st.state = RecState::Body {
                        remaining: remaining - len as usize,
                        kind: BodyKind::Skip,
                    };
                } else if kind == BodyKind::Handshake {
                    // A gap comes without a time of its own: the message's is that of its
                    // last chunk (the frame `span.last_frame` names).
                    if let Some((msg, span)) = st.hs.pending() {
                        self.core
                            .on_handshake(ctx.side, msg, span, st.last_ts, true);
                    }
                    st.hs.reset();
                    // The rest of this record's body may hold the tail of the lost message;
                    // it cannot be framed, so skip it.
                    st.state = RecState::Body {
                        remaining: remaining - len as usize,
                        kind: BodyKind::Skip,
                    };
                } else {
                    st.state = RecState::Body {
                        remaining: remaining - len as usize,
                        kind,
                    };
                }
                st.cur_body_seen += len as usize;
                Progress::Continue
            }
            _ => {
                if let Some((msg, span)) = st.hs.pending() {
                    self.core
                        .on_handshake(ctx.side, msg, span, st.last_ts, true);
                }
                st.hs.reset();
                st.hdr_len = 0;
                st.resync_scanned = 0;
                st.state = RecState::Resync;
                Progress::Continue
            }
        };
        self.sync_counters();
        progress
    }

    fn on_end(&mut self, ctx: &StreamCtx) {
        let Some(st) = self.sides.get(side_index(ctx.side)) else {
            return;
        };
        let mid_record = matches!(st.state, RecState::Body { remaining, .. } if remaining > 0)
            || (st.state == RecState::ExpectHeader && st.hdr_len > 0);
        if mid_record || st.hs.is_pending() {
            self.core.info.anomalies.truncated_at_end += 1;
        }
        self.sync_counters();
    }
}

#[cfg(test)]
mod cache_tests;
#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod tests;
