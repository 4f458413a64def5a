//! DNS over UDP and TCP: messages, and queries matched to responses.
//! (Filled in by the protocol-events work; this is the interface the engine calls.)

use super::{Progress, StreamCtx, StreamDecoder};
use crate::flow::Transport;
use crate::time::Timestamp;
use serde::Serialize;
use std::net::SocketAddr;

/// Where one DNS message was seen.
#[derive(Clone, Copy, Debug)]
pub struct DnsMeta {
    pub transport: Transport,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub ts: Timestamp,
    pub frame: u64,
    /// Connection id of the flow that carried it.
    pub conn_id: u64,
}

/// A query and its response (the contract's `dns` record).
#[derive(Clone, Debug, Serialize)]
pub struct DnsRecord {
    pub id: u16,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub qname: Option<String>,
    pub qtype: Option<String>,
    pub rcode: Option<String>,
    pub query_frame: Option<u64>,
    pub response_frame: Option<u64>,
}

impl DnsRecord {
    /// Addresses in A/AAAA answers (used to name connections to them).
    pub fn answer_addresses(&self) -> impl Iterator<Item = std::net::IpAddr> + '_ {
        std::iter::empty()
    }
    /// When the query (or, without one, the response) was seen.
    pub fn ts(&self) -> Timestamp {
        Timestamp::ZERO
    }
    /// The response carries at least one A or AAAA answer.
    pub fn has_address_answer(&self) -> bool {
        false
    }
}

/// Matches queries with responses, bounded.
#[derive(Debug, Default)]
pub struct DnsTracker {}

impl DnsTracker {
    pub fn new() -> Self {
        Self::default()
    }
    /// A DNS message (without the TCP length prefix).
    pub fn on_message(&mut self, _meta: &DnsMeta, _msg: &[u8], _out: &mut Vec<DnsRecord>) {}
    /// Reports queries unanswered for longer than the timeout.
    pub fn advance(&mut self, _now: Timestamp, _out: &mut Vec<DnsRecord>) {}
    /// End of input: every open query is reported unanswered.
    pub fn finish(&mut self, _out: &mut Vec<DnsRecord>) {}
}

/// Frames DNS messages out of a TCP stream (2-byte length prefix).
#[derive(Debug, Default)]
pub struct DnsTcpDecoder {
    messages: Vec<(StreamCtx, Vec<u8>)>,
}

impl DnsTcpDecoder {
    pub fn new() -> Self {
        Self::default()
    }
    /// Messages framed since the last call.
    pub fn drain(&mut self) -> std::vec::Drain<'_, (StreamCtx, Vec<u8>)> {
        self.messages.drain(..)
    }
}

impl StreamDecoder for DnsTcpDecoder {
    fn on_data(&mut self, _ctx: &StreamCtx, _data: &[u8]) -> Progress {
        Progress::Done
    }
    fn on_gap(&mut self, _ctx: &StreamCtx, _len: u64) -> Progress {
        Progress::Done
    }
    fn on_end(&mut self, _ctx: &StreamCtx) {}
}
