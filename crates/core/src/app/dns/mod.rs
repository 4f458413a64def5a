//! DNS over UDP and TCP: messages, and queries matched to responses.
//!
//! [`DnsTracker`] takes one message at a time (a UDP payload, or a TCP message without its
//! length prefix, framed by [`DnsTcpDecoder`]) and pushes a [`DnsRecord`] for every
//! response, and for every query left unanswered after [`QUERY_TIMEOUT`] of packet time, when
//! evicted, or at [`DnsTracker::finish`].
//!
//! # `rcode`
//!
//! [`DnsRecord::rcode`] is the response code's mnemonic (`"NXDOMAIN"`, what a diagnosis
//! matches on) and [`DnsRecord::rcode_code`] the number from the header (`3`). With the
//! `serde` feature they serialize as `rcode_name` and `rcode`, the number being what tshark's
//! `dns.flags.rcode` shows. Both are `None` for a query that got no answer.

mod message;
mod tcp;
#[cfg(test)]
mod tests;

pub use message::{DnsAnswer, DnsMessage, DnsRcode, DnsType, MAX_ANSWERS, parse as parse_message};
pub use tcp::{DEFAULT_MAX_QUEUED_MESSAGES, DnsTcpDecoder, DnsTcpStats};

use crate::time::{Duration, Timestamp};
use crate::types::Transport;
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::net::SocketAddr;

/// Where one DNS message was seen.
#[derive(Clone, Copy, Debug)]
pub struct DnsMeta {
    /// Carried over UDP or TCP.
    pub transport: Transport,
    /// The sender.
    pub src: SocketAddr,
    /// The receiver.
    pub dst: SocketAddr,
    /// When it was seen.
    pub ts: Timestamp,
    /// The frame that carried it (for TCP: its first byte).
    pub frame: u64,
    /// Connection id of the flow that carried it.
    pub conn_id: u64,
}

/// A query and its response (or a query that got none).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DnsRecord {
    /// The transaction id.
    pub id: u16,
    /// The end that asked.
    pub client: SocketAddr,
    /// The end that answered (or was asked).
    pub server: SocketAddr,
    /// First question's name, no trailing dot (`<Root>` for the root, as tshark).
    pub qname: Option<String>,
    /// First question's type: its mnemonic (`"AAAA"`), or the number in decimal when it has
    /// none (`"65534"`). Borrowed from a static table for every named type.
    pub qtype: Option<Cow<'static, str>>,
    /// The response code's mnemonic: `"NOERROR"`, `"SERVFAIL"`, `"NXDOMAIN"`, `"REFUSED"`...
    /// (`RCODE<n>` when unassigned); `None` when unanswered. Serialized as `rcode_name` (see
    /// the module doc). Borrowed from a static table but for unassigned values.
    #[cfg_attr(feature = "serde", serde(rename = "rcode_name"))]
    pub rcode: Option<Cow<'static, str>>,
    /// The header RCODE as a number, serialized as `rcode` (what tshark's reference holds).
    #[cfg_attr(feature = "serde", serde(rename = "rcode"))]
    pub rcode_code: Option<DnsRcode>,
    /// The answer section (at most [`MAX_ANSWERS`] records).
    pub answers: Vec<DnsAnswer>,
    /// Carried over UDP or TCP.
    pub transport: Transport,
    /// Frame of the (first) query; `None` for a response whose query was not seen.
    pub query_frame: Option<u64>,
    /// Frame of the response; `None` when unanswered.
    pub response_frame: Option<u64>,
    /// Time of the first query, or of the response when no query was seen.
    pub ts: Timestamp,
    /// Response time minus first-query time.
    pub rtt: Option<Duration>,
    /// Copies of the query sent again before the answer (same client, server, id, name).
    pub retransmissions: u32,
    /// Id of the flow (UDP) or connection (TCP) that carried it.
    pub conn_id: u64,
    /// The response had the TC bit (the client should retry over TCP).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "std::ops::Not::not"))]
    pub truncated: bool,
}

impl DnsRecord {
    /// Addresses in A/AAAA answers (used to name connections to them).
    pub fn answer_addresses(&self) -> impl Iterator<Item = std::net::IpAddr> + '_ {
        self.answers.iter().filter_map(|a| match a.rtype {
            DnsType::A | DnsType::AAAA => a.data.as_deref()?.parse().ok(),
            _ => None,
        })
    }

    /// When the query (or, without one, the response) was seen.
    pub fn ts(&self) -> Timestamp {
        self.ts
    }

    /// The response carries at least one A or AAAA answer.
    pub fn has_address_answer(&self) -> bool {
        self.answer_addresses().next().is_some()
    }
}

/// How long a query waits for its answer, in packet time, before it is reported
/// unanswered. 5 s is the resolver timeout of glibc and of Go's pure-Go resolver.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// Open queries tracked at once; the oldest is reported (unanswered) and counted when a
/// new one would exceed it.
pub const DEFAULT_MAX_OPEN_QUERIES: usize = 10_000;

/// Anomalies and counts of one tracker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DnsStats {
    /// Queries seen.
    pub queries: u64,
    /// Responses seen.
    pub responses: u64,
    /// Messages shorter than a DNS header.
    pub malformed: u64,
    /// Open queries pushed out by `max_open`.
    pub evicted: u64,
    /// Query copies seen again before an answer.
    pub retransmissions: u64,
    /// Responses without a query seen for them.
    pub unmatched_responses: u64,
    /// Answers not reported (unreadable, or beyond `MAX_ANSWERS`).
    pub answers_unread: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    client: SocketAddr,
    server: SocketAddr,
    id: u16,
    /// Lower-cased: resolvers echo the question, but 0x20 randomisation plays with case.
    qname: Option<String>,
}

#[derive(Clone, Debug)]
struct Open {
    /// The name as asked, only when it differs from the key's lower-cased one (it had upper
    /// case letters): nearly every name is asked in lower case, and then the key's is the
    /// only copy kept.
    qname: Option<String>,
    qtype: Option<DnsType>,
    frame: u64,
    ts: Timestamp,
    retransmissions: u32,
    transport: Transport,
    conn_id: u64,
    /// Generation stamp: tells a live entry from a stale copy in the expiry queue.
    seq: u64,
}

/// Matches queries with responses, bounded.
#[derive(Debug)]
pub struct DnsTracker {
    /// Fx like the flow table: SipHash was ~1 % of a whole run for this one map.
    open: FxHashMap<Key, Open>,
    /// Open queries in the order they were first seen, for timeouts and eviction. Entries
    /// whose query was answered stay until they reach the front (checked by `seq`).
    order: VecDeque<(Timestamp, u64, Key)>,
    next_seq: u64,
    max_open: usize,
    timeout: Duration,
    stats: DnsStats,
}

impl Default for DnsTracker {
    fn default() -> Self {
        Self::with_limits(DEFAULT_MAX_OPEN_QUERIES, QUERY_TIMEOUT)
    }
}

impl DnsTracker {
    /// A tracker with the default bounds ([`DEFAULT_MAX_OPEN_QUERIES`], [`QUERY_TIMEOUT`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// A tracker that keeps at most `max_open` queries waiting, each for at most `timeout` of
    /// packet time.
    pub fn with_limits(max_open: usize, timeout: Duration) -> Self {
        DnsTracker {
            open: FxHashMap::default(),
            order: VecDeque::new(),
            next_seq: 0,
            max_open: max_open.max(1),
            timeout,
            stats: DnsStats::default(),
        }
    }

    /// What the tracker counted so far.
    pub fn stats(&self) -> &DnsStats {
        &self.stats
    }

    /// Queries waiting for an answer now (at most `max_open`).
    pub fn open_queries(&self) -> usize {
        self.open.len()
    }

    /// A DNS message (without the TCP length prefix).
    pub fn on_message(&mut self, meta: &DnsMeta, msg: &[u8], out: &mut Vec<DnsRecord>) {
        let Some(m) = message::parse(msg) else {
            self.stats.malformed += 1;
            return;
        };
        if m.response {
            self.on_response(meta, m, out);
        } else {
            self.on_query(meta, m, out);
        }
    }

    fn on_query(&mut self, meta: &DnsMeta, m: DnsMessage, out: &mut Vec<DnsRecord>) {
        self.stats.queries += 1;
        let lowered = lower_if_needed(m.qname.as_deref());
        let (key_name, asked) = match lowered {
            Some(l) => (Some(l), m.qname),
            None => (m.qname, None),
        };
        let key = Key {
            client: meta.src,
            server: meta.dst,
            id: m.id,
            qname: key_name,
        };
        if let Some(o) = self.open.get_mut(&key) {
            o.retransmissions += 1;
            self.stats.retransmissions += 1;
            return;
        }
        while self.open.len() >= self.max_open {
            if !self.expire_front(None, out) {
                break;
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.push_back((meta.ts, seq, key.clone()));
        self.open.insert(
            key,
            Open {
                qname: asked,
                qtype: m.qtype,
                frame: meta.frame,
                ts: meta.ts,
                retransmissions: 0,
                transport: meta.transport,
                conn_id: meta.conn_id,
                seq,
            },
        );
        // Answered queries leave stale entries behind; drop them once they make up half the
        // queue, so it stays within bounds even when `advance` is never called (amortised:
        // at most once per `max_open` queries).
        if self.order.len() > self.max_open.saturating_mul(2) {
            let open = &self.open;
            self.order
                .retain(|(_, seq, key)| open.get(key).is_some_and(|o| o.seq == *seq));
        }
    }

    fn on_response(&mut self, meta: &DnsMeta, mut m: DnsMessage, out: &mut Vec<DnsRecord>) {
        self.stats.responses += 1;
        self.stats.answers_unread += u64::from(m.answers_unread);
        // A name already in lower case (nearly all) is moved into the key and back out of it
        // for the record, rather than copied.
        let lowered = lower_if_needed(m.qname.as_deref());
        let moved = lowered.is_none();
        let key = Key {
            client: meta.dst,
            server: meta.src,
            id: m.id,
            qname: if moved { m.qname.take() } else { lowered },
        };
        let mut q = self.open.remove(&key);
        // The name of a query found by the scan below, as its key holds it.
        let mut scanned_name = None;
        if q.is_none() && key.qname.is_none() {
            // An error answer without the question (FORMERR to a query it could not read):
            // match on the addresses and id alone. Rare, so a scan is fine.
            let found = self
                .open
                .keys()
                .find(|k| k.client == key.client && k.server == key.server && k.id == key.id)
                .cloned();
            if let Some((k, o)) = found.and_then(|k| self.open.remove_entry(&k)) {
                scanned_name = k.qname;
                q = Some(o);
            }
        }
        if q.is_none() {
            self.stats.unmatched_responses += 1;
        }
        let rcode = DnsRcode(m.rcode);
        // The question comes from the response, or from the query when the response has none.
        let asked = if moved { key.qname } else { m.qname };
        let (qname, qtype) = match (asked, q.as_mut()) {
            // The query's name as asked: its own copy when the case differed, else its key's.
            (None, Some(q)) => (q.qname.take().or(scanned_name), q.qtype),
            (n, _) => (n, m.qtype),
        };
        out.push(DnsRecord {
            id: m.id,
            client: meta.dst,
            server: meta.src,
            qname,
            qtype: qtype.map(DnsType::text),
            rcode: Some(rcode.name()),
            rcode_code: Some(rcode),
            answers: m.answers,
            transport: meta.transport,
            query_frame: q.as_ref().map(|q| q.frame),
            response_frame: Some(meta.frame),
            ts: q.as_ref().map_or(meta.ts, |q| q.ts),
            rtt: q.as_ref().map(|q| meta.ts.since(q.ts)),
            retransmissions: q.as_ref().map_or(0, |q| q.retransmissions),
            conn_id: meta.conn_id,
            truncated: m.truncated,
        });
    }

    /// Pops the oldest queue entry; if it is still open (and older than `before`, when
    /// given), reports it unanswered. Returns false when nothing could be popped.
    fn expire_front(&mut self, before: Option<Timestamp>, out: &mut Vec<DnsRecord>) -> bool {
        let Some((ts, _, _)) = self.order.front() else {
            return false;
        };
        if before.is_some_and(|b| *ts > b) {
            return false;
        }
        let Some((_, seq, key)) = self.order.pop_front() else {
            return false;
        };
        if self.open.get(&key).is_some_and(|o| o.seq == seq)
            && let Some(o) = self.open.remove(&key)
        {
            if before.is_none() {
                self.stats.evicted += 1;
            }
            out.push(unanswered(key, o));
        }
        true
    }

    /// Reports queries unanswered for longer than the timeout.
    pub fn advance(&mut self, now: Timestamp, out: &mut Vec<DnsRecord>) {
        let Some(cutoff) = now.as_nanos().checked_sub(self.timeout.as_nanos()) else {
            return;
        };
        let cutoff = Timestamp::from_nanos(cutoff);
        while self.expire_front(Some(cutoff), out) {}
    }

    /// End of input: every open query is reported unanswered.
    pub fn finish(&mut self, out: &mut Vec<DnsRecord>) {
        while let Some((_, seq, key)) = self.order.pop_front() {
            if self.open.get(&key).is_some_and(|o| o.seq == seq)
                && let Some(o) = self.open.remove(&key)
            {
                out.push(unanswered(key, o));
            }
        }
        // Entries whose queue slot was recycled by the bound above.
        for (key, o) in self.open.drain() {
            out.push(unanswered(key, o));
        }
    }
}

fn unanswered(key: Key, o: Open) -> DnsRecord {
    DnsRecord {
        id: key.id,
        client: key.client,
        server: key.server,
        qname: o.qname.or(key.qname),
        qtype: o.qtype.map(DnsType::text),
        rcode: None,
        rcode_code: None,
        answers: Vec::new(),
        transport: o.transport,
        query_frame: Some(o.frame),
        response_frame: None,
        ts: o.ts,
        rtt: None,
        retransmissions: o.retransmissions,
        conn_id: o.conn_id,
        truncated: false,
    }
}

/// The lower-cased copy of a name that has upper case letters; `None` when it has none (the
/// name is then its own key, no copy made).
fn lower_if_needed(name: Option<&str>) -> Option<String> {
    name.filter(|n| n.bytes().any(|b| b.is_ascii_uppercase()))
        .map(str::to_ascii_lowercase)
}
