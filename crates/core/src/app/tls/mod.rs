//! TLS: records -> handshake messages -> ClientHello, ServerHello, certificates, alerts.
//! (Filled in by the protocol-events work; this is the interface the engine calls.)

use super::{Progress, StreamCtx, StreamDecoder};
use serde::Serialize;

/// Settings for TLS decoding: extra trust anchors for chain validation.
#[derive(Clone, Debug, Default)]
pub struct TlsConfig {
    /// DER certificates trusted in addition to webpki-roots (from `--ca-file` / SSL_CERT_FILE).
    pub extra_roots_der: Vec<Vec<u8>>,
}

/// Everything learned about one connection's TLS.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TlsInfo {}

impl TlsInfo {
    /// The server name the client asked for (SNI).
    pub fn sni(&self) -> Option<&str> {
        None
    }
    /// The first ALPN protocol the client offered.
    pub fn alpn_first(&self) -> Option<String> {
        None
    }
    pub fn ja4(&self) -> Option<String> {
        None
    }
    /// Issuer of the leaf certificate, when the chain was in clear.
    pub fn leaf_issuer(&self) -> Option<String> {
        None
    }
}

/// One connection's TLS decoder (both directions).
#[derive(Debug)]
pub struct TlsDecoder {
    info: TlsInfo,
}

impl TlsDecoder {
    pub fn new(_config: &TlsConfig) -> Self {
        TlsDecoder {
            info: TlsInfo::default(),
        }
    }
    pub fn info(&self) -> &TlsInfo {
        &self.info
    }
    pub fn into_info(self) -> TlsInfo {
        self.info
    }
}

impl StreamDecoder for TlsDecoder {
    fn on_data(&mut self, _ctx: &StreamCtx, _data: &[u8]) -> Progress {
        Progress::Done
    }
    fn on_gap(&mut self, _ctx: &StreamCtx, _len: u64) -> Progress {
        Progress::Done
    }
    fn on_end(&mut self, _ctx: &StreamCtx) {}
}
