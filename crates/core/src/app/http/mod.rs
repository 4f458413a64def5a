//! HTTP/1.x requests and responses, with proxy CONNECT.
//! (Filled in by the protocol-events work; this is the interface the engine calls.)

use super::{Progress, StreamCtx, StreamDecoder};
use serde::Serialize;

/// One request and its response (either may be missing).
#[derive(Clone, Debug, Default, Serialize)]
pub struct HttpTransaction {
    pub method: Option<String>,
    pub uri: Option<String>,
    pub host: Option<String>,
    pub status: Option<u16>,
}

impl HttpTransaction {
    pub fn request_frame(&self) -> Option<u64> {
        None
    }
    pub fn request_ts(&self) -> Option<crate::time::Timestamp> {
        None
    }
    pub fn response_frame(&self) -> Option<u64> {
        None
    }
    pub fn response_ts(&self) -> Option<crate::time::Timestamp> {
        None
    }
    /// The scheme of Proxy-Authenticate (e.g. "Basic", "NTLM").
    pub fn proxy_authenticate(&self) -> Option<&str> {
        None
    }
    pub fn has_proxy_authorization(&self) -> bool {
        false
    }
    pub fn reason(&self) -> Option<&str> {
        None
    }
    /// (received, declared) body bytes when the body stopped short.
    pub fn body_shortfall(&self) -> Option<(u64, u64)> {
        None
    }
}

/// One connection's HTTP/1.x decoder (both directions).
#[derive(Debug, Default)]
pub struct HttpDecoder {
    transactions: Vec<HttpTransaction>,
}

impl HttpDecoder {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn transactions(&self) -> &[HttpTransaction] {
        &self.transactions
    }
    pub fn into_transactions(self) -> Vec<HttpTransaction> {
        self.transactions
    }
    /// Bytes of `side` that followed a CONNECT 2xx header in the same chunk (tunnel data).
    pub fn take_leftover(&mut self, _side: crate::flow::Side) -> Option<Vec<u8>> {
        None
    }
}

impl StreamDecoder for HttpDecoder {
    fn on_data(&mut self, _ctx: &StreamCtx, _data: &[u8]) -> Progress {
        Progress::Done
    }
    fn on_gap(&mut self, _ctx: &StreamCtx, _len: u64) -> Progress {
        Progress::Done
    }
    fn on_end(&mut self, _ctx: &StreamCtx) {}
}
