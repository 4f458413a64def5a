//! The `dns` record: a query and its response.

use super::connection::Transport;
use super::fleet::Fleet;
use super::values::{Addr, Each, NameOrNumber, RecordVersion, Secs, View};
use super::write::json_object;
use modsniff_core::dns::{DnsAnswer, DnsRecord as Query};

json_object! {
    /// A DNS query and its response, or a query left unanswered.
    pub struct DnsRecord<'a> {
        pub record_version: RecordVersion,
        /// The fleet fields (`live`, `run`; `read --fleet`); left out otherwise.
        #[flatten]
        pub fleet: Option<Fleet<'a>>,
        /// The DNS message id.
        pub id: u16,
        pub client: Addr,
        pub server: Addr,
        /// The first question's name, without the trailing dot (`<Root>` for the root).
        pub qname: Option<&'a str>,
        /// The first question's type: its mnemonic (`AAAA`), or the number in decimal.
        pub qtype: Option<&'a str>,
        /// The response code's mnemonic (`NXDOMAIN`, `RCODE<n>` when unassigned); `null`
        /// when unanswered.
        pub rcode_name: Option<&'a str>,
        /// The header's RCODE as a number (tshark's `dns.flags.rcode`); `null` when
        /// unanswered.
        pub rcode: Option<u8>,
        pub answers: Each<'a, DnsAnswer>,
        pub transport: Transport,
        /// Frame of the (first) query; `null` for a response whose query was not seen.
        pub query_frame: Option<u64>,
        pub response_frame: Option<u64>,
        /// Time of the first query, or of the response when no query was seen.
        pub ts: Secs,
        /// Response time minus first-query time.
        pub rtt: Option<Secs>,
        /// Copies of the query sent again before the answer.
        pub retransmissions: u32,
        /// The `connection` record of the flow that carried it.
        pub conn_id: u64,
        /// The response had the TC bit (the client should retry over TCP).
        #[omit]
        pub truncated: bool,
    }
}

impl<'a> From<&'a Query> for DnsRecord<'a> {
    fn from(r: &'a Query) -> Self {
        let Query {
            id,
            client,
            server,
            qname,
            qtype,
            rcode,
            rcode_code,
            answers,
            transport,
            query_frame,
            response_frame,
            ts,
            rtt,
            retransmissions,
            conn_id,
            truncated,
        } = r;
        DnsRecord {
            record_version: RecordVersion,
            fleet: None,
            id: *id,
            client: Addr(*client),
            server: Addr(*server),
            qname: qname.as_deref(),
            qtype: qtype.as_deref(),
            rcode_name: rcode.as_deref(),
            rcode: rcode_code.map(|c| c.0),
            answers: Each(answers),
            transport: transport.into(),
            query_frame: *query_frame,
            response_frame: *response_frame,
            ts: (*ts).into(),
            rtt: rtt.map(Secs::from),
            retransmissions: *retransmissions,
            conn_id: *conn_id,
            truncated: *truncated,
        }
    }
}

json_object! {
    /// One answer record.
    pub struct Answer<'a> {
        pub name: &'a str,
        /// Its type's mnemonic, or the number when it has none.
        #[key = "type"]
        pub rtype: NameOrNumber,
        pub ttl: u32,
        /// The data in presentation form for A, AAAA, CNAME, NS, PTR, DNAME, MX (exchange),
        /// SRV (target), SOA (mname) and TXT; `null` for other types.
        pub data: Option<&'a str>,
    }
}

impl View for DnsAnswer {
    type Out<'a> = Answer<'a>;
    fn view(&self) -> Answer<'_> {
        let DnsAnswer {
            name,
            rtype,
            ttl,
            data,
        } = self;
        Answer {
            name,
            rtype: NameOrNumber {
                name: rtype.name(),
                number: rtype.0,
            },
            ttl: *ttl,
            data: data.as_deref(),
        }
    }
}
