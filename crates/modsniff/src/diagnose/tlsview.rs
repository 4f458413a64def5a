//! The parts of a connection's TLS record that the detectors read, in one place, so that the
//! detectors don't depend on every field of the core's `TlsInfo`.

use modsniff_core::Side;
use modsniff_core::Timestamp;
use modsniff_core::tls::RecordNote;

/// Borrowed from the connection's `TlsInfo`: building a view per connection allocated
/// (string clones were ~4 % of a run).
#[derive(Clone, Debug, Default)]
pub struct HelloView<'a> {
    pub first_frame: u64,
    pub last_frame: u64,
    pub ts: Option<Timestamp>,
    pub sni: Option<&'a str>,
    /// TLS 1.3 is among the supported_versions offered (GREASE aside), or is the legacy
    /// version when none is offered. (Only this is asked of the versions: a list of them
    /// per connection was an allocation.)
    pub offers_tls13: bool,
    /// TCP segments the ClientHello spanned.
    pub segments: u32,
    pub handshake_len: u32,
    /// Offers a post-quantum hybrid key share (X25519MLKEM768 & co): a ~1.5 KB hello.
    pub pq_key_share: bool,
    /// The capture holds only its head: a missing server name may have been cut away.
    pub cut: bool,
}

#[derive(Clone, Debug, Default)]
pub struct ServerHelloView {
    /// The frame that completed it, and its time.
    pub frame: u64,
    pub ts: Option<Timestamp>,
    pub version: u16,
    pub hello_retry: bool,
}

#[derive(Clone, Debug, Default)]
pub struct CertView<'a> {
    pub subject: &'a str,
    pub issuer: &'a str,
    pub spki_sha256: &'a str,
    pub subject_cn: Option<&'a str>,
    /// subjectAltName DNS names and IP addresses, and whether the extension is there at all.
    pub san: &'a [String],
    pub san_ip: &'a [String],
    /// subjectAltName entries the certificate had beyond those kept.
    pub san_dropped: u64,
    pub has_san: bool,
    /// Validity bounds, Unix seconds and RFC 3339 (as crypto/x509 prints them).
    pub not_before: Option<(i64, &'a str)>,
    pub not_after: Option<(i64, &'a str)>,
    pub self_issued: bool,
}

#[derive(Clone, Debug)]
pub struct AlertView {
    pub frame: u64,
    pub ts: Option<Timestamp>,
    pub from: Side,
    pub encrypted: bool,
    pub level: Option<u8>,
    pub description: Option<u8>,
    pub description_name: Option<&'static str>,
}

#[derive(Clone, Debug, Default)]
pub struct TlsView<'a> {
    pub client_hello: Option<HelloView<'a>>,
    pub server_hello: Option<ServerHelloView>,
    pub certificates: Vec<CertView<'a>>,
    pub certificate_frame: Option<u64>,
    /// "valid", "unknown-issuer", "expired", "name-mismatch", "self-signed", ...
    pub validation: Option<&'static str>,
    /// The bound that left the validation undecided (`validation` is "undecided").
    pub undecided_by: Option<&'a str>,
    /// Valid only through the user's extra CA file, not a public root.
    pub valid_only_via_ca_file: bool,
    pub alerts: Vec<AlertView>,
    /// Encrypted records the client sent after the ServerHello (Finished, requests, alerts).
    pub client_encrypted_records: u32,
    /// Encrypted records and bytes the server sent after its ServerHello.
    pub server_encrypted_records: u32,
    pub server_encrypted_bytes: u64,
    /// The client sent ChangeCipherSpec (TLS 1.2: it accepted the certificate).
    pub client_ccs: bool,
    /// The last record the client sent looks like an encrypted alert (TLS 1.3: a short
    /// application_data record right before it closed).
    pub client_last_record_alert_like: bool,
    pub client_last_record_frame: Option<u64>,
    pub client_last_record_ts: Option<Timestamp>,
    /// The time of `certificate_frame`, where the record layer's notes know it.
    pub certificate_ts: Option<Timestamp>,
    /// Each side's records after the ServerHello, in order (the first few: see
    /// `*_records_all`).
    pub client_records: &'a [RecordNote],
    pub server_records: &'a [RecordNote],
    /// The notes hold every record the side sent after the ServerHello.
    pub client_records_all: bool,
    pub server_records_all: bool,
}

/// The time of a frame the TLS record names (a hello's last segment, a record header, an
/// alert), where it knows one.
pub fn frame_ts(info: &modsniff_core::TlsInfo, frame: u64) -> Option<Timestamp> {
    let hellos = info
        .client_hello
        .iter()
        .map(|h| (h.last_frame, h.ts))
        .chain(info.server_hello.iter().map(|h| (h.last_frame, h.ts)));
    let notes = [&info.client, &info.server].into_iter().flat_map(|s| {
        s.records_after_hello
            .iter()
            .chain(s.first_encrypted.iter())
            .chain(s.last_record.iter())
            .map(|r| (r.frame, r.ts))
    });
    let alerts = info.alerts.iter().map(|a| (a.frame, a.ts));
    hellos
        .chain(notes)
        .chain(alerts)
        .find(|(f, _)| *f == frame)
        .map(|(_, t)| t)
}

/// The largest encrypted record that can be an alert: 2 bytes of alert, TLS 1.3's inner
/// content type and the AEAD's 16-byte tag make 19; the rest allows for padding. A request or
/// a response is longer.
pub const ALERT_RECORD_MAX: u16 = 32;

/// Whether a record may be an encrypted alert (see [`ALERT_RECORD_MAX`]).
pub fn alert_sized(r: &RecordNote) -> bool {
    use modsniff_core::tls::ContentType;
    r.encrypted
        && (r.content_type == ContentType::ALERT
            || (r.content_type == ContentType::APPLICATION_DATA && r.length <= ALERT_RECORD_MAX))
}

/// Encrypted records the client sent after the ServerHello, `counted` as the record layer
/// noted them, or as many as the client's own notes prove when that is more. The record layer
/// counts a side's records "after the ServerHello" in the order the capture hands them over:
/// when the client's answer sits before the server's flight in the file (packets out of
/// timestamp order, as captures on several interfaces or CPUs write them) none is counted,
/// though a client only encrypts once it has the server's hello (Go sends no early data).
/// The client's first and last encrypted records are noted whatever the order: one record
/// when they are the same, at least two when not.
fn client_encrypted(info: &modsniff_core::TlsInfo, counted: u32) -> u32 {
    let c = &info.client;
    if info.server_hello.is_none() {
        return counted;
    }
    let proven = match (&c.first_encrypted, &c.last_record) {
        (None, _) => 0,
        (Some(first), Some(last)) if last.encrypted && last != first => 2,
        (Some(_), _) => 1,
    };
    counted.max(proven)
}

/// A client that answered the server's hello the TLS 1.3 way: a ChangeCipherSpec, then only
/// application_data records (its Finished among them); a TLS 1.2 client sends its key
/// exchange and Finished as handshake records. Tells the version of a ServerHello cut before
/// its supported_versions extension.
fn tls13_by_records(client: &modsniff_core::tls::SideSummary) -> bool {
    use modsniff_core::tls::ContentType;
    let r = &client.records_after_hello;
    client.change_cipher_spec
        && r.iter()
            .any(|r| r.content_type == ContentType::APPLICATION_DATA)
        && r.iter().all(|r| {
            r.content_type == ContentType::APPLICATION_DATA
                || r.content_type == ContentType::CHANGE_CIPHER_SPEC
                || r.content_type == ContentType::ALERT
        })
}

impl<'a> TlsView<'a> {
    /// Builds the view from the core's TLS record.
    pub fn from_info(info: &'a modsniff_core::TlsInfo) -> TlsView<'a> {
        use modsniff_core::tls::Validation;
        use modsniff_core::tls::is_grease;
        let client_hello = info.client_hello.as_ref().map(|h| {
            let mut offered = h
                .versions
                .iter()
                .map(|v| v.0)
                .filter(|v| !is_grease(*v))
                .peekable();
            let offers_tls13 = if offered.peek().is_none() {
                // A hello cut (snap length) before its supported_versions still lists its
                // cipher suites, which come first: the TLS 1.3 suites (0x1301-0x1305) exist
                // only in TLS 1.3, so a client offering them offered TLS 1.3.
                h.legacy_version.0 == 0x0304
                    || (h.cut
                        && h.cipher_suites
                            .iter()
                            .any(|c| (0x1301..=0x1305).contains(&c.0)))
            } else {
                offered.any(|v| v == 0x0304)
            };
            HelloView {
                first_frame: h.first_frame,
                last_frame: h.last_frame,
                ts: Some(h.ts),
                sni: h.sni.as_deref(),
                offers_tls13,
                segments: h.tcp_segments,
                handshake_len: h.handshake_length as u32,
                pq_key_share: h.pq_key_share,
                cut: h.cut,
            }
        });
        let server_hello = info.server_hello.as_ref().map(|s| ServerHelloView {
            frame: s.last_frame,
            ts: Some(s.ts),
            version: if s.cut && s.supported_version.is_none() && tls13_by_records(&info.client) {
                0x0304
            } else {
                s.version.0
            },
            hello_retry: s.hello_retry_request,
        });
        let certificates = info
            .certificates
            .iter()
            .map(|c| CertView {
                subject: &c.subject,
                issuer: &c.issuer,
                spki_sha256: c.spki_sha256.as_deref().unwrap_or_default(),
                subject_cn: c.subject_cn.as_deref(),
                san: &c.san,
                san_ip: &c.san_ip,
                san_dropped: c.san_dropped,
                has_san: c.has_san,
                not_before: c.not_before_unix.zip(c.not_before.as_deref()),
                not_after: c.not_after_unix.zip(c.not_after.as_deref()),
                self_issued: c.self_issued,
            })
            .collect();
        let validation = info.validation.as_ref().map(|v| match v {
            Validation::Valid => "valid",
            Validation::UnknownIssuer => "unknown-issuer",
            Validation::Expired => "expired",
            Validation::NotYetValid => "not-yet-valid",
            Validation::NameMismatch => "name-mismatch",
            Validation::SelfSigned => "self-signed",
            Validation::Other(_) => "other",
            Validation::Undecided(_) => "undecided",
        });
        let undecided_by = match &info.validation {
            Some(Validation::Undecided(bound)) => Some(bound.as_str()),
            _ => None,
        };
        let alerts = info
            .alerts
            .iter()
            .map(|a| AlertView {
                frame: a.frame,
                ts: Some(a.ts),
                from: a.side,
                encrypted: a.encrypted,
                level: a.level,
                description: a.description,
                description_name: a.description_name,
            })
            .collect();
        let c = &info.client;
        let s = &info.server;
        // Encrypted records after the ServerHello (the notes are bounded: past them, the count).
        let encrypted = |side: &modsniff_core::tls::SideSummary| {
            let noted = side
                .records_after_hello
                .iter()
                .filter(|r| r.encrypted)
                .count() as u64;
            let total = if (side.records_after_hello.len() as u64) < side.records_after_hello_count
            {
                noted.max(side.records_after_hello_count)
            } else {
                noted
            };
            total.min(u32::MAX as u64) as u32
        };
        // TLS 1.3: a short application_data (or alert) record that ends the client's side is an
        // encrypted alert; a genuine request is longer than an alert's 2 bytes + 17 of AEAD
        // overhead and padding.
        let last = c.last_record.as_ref();
        let alert_like = last.is_some_and(alert_sized);
        let all = |side: &modsniff_core::tls::SideSummary| {
            side.records_after_hello.len() as u64 == side.records_after_hello_count
        };
        TlsView {
            client_hello,
            server_hello,
            certificates,
            certificate_frame: info.certificate_frame,
            validation,
            undecided_by,
            valid_only_via_ca_file: info.valid_only_via_ca_file,
            alerts,
            client_encrypted_records: client_encrypted(info, encrypted(c)),
            server_encrypted_records: encrypted(s),
            server_encrypted_bytes: s.records_after_hello_bytes,
            client_ccs: c.change_cipher_spec,
            client_last_record_alert_like: alert_like,
            client_last_record_frame: last.map(|r| r.frame),
            client_last_record_ts: last.map(|r| r.ts),
            certificate_ts: info.certificate_frame.and_then(|f| frame_ts(info, f)),
            client_records: &c.records_after_hello,
            server_records: &s.records_after_hello,
            client_records_all: all(c),
            server_records_all: all(s),
        }
    }

    pub fn offered_tls13(&self) -> bool {
        self.client_hello.as_ref().is_some_and(|h| h.offers_tls13)
    }
}
