//! The `stats` record: the last line of a run.

use super::fleet::Fleet;
use super::values::{One, RecordVersion, View};
use super::write::{json_enum, json_object};
use crate::go::trace::ExitKind;
use crate::join::GoSummary;
use crate::report::RunEnd;
use modsniff_core::KernelStats;
use modsniff_core::Stats;
use modsniff_core::http::HttpStats;
use modsniff_core::tls::ChainStats;
use std::collections::BTreeMap;

json_object! {
    /// The counters of one run (one capture file, or one live capture): what was read, what
    /// could not be decoded, what a limit refused, and the findings by severity. Always the
    /// last record of the run.
    pub struct StatsRecord<'a> {
        pub record_version: RecordVersion,
        /// The fleet fields (`live`, `run`; `read --fleet`); left out otherwise.
        #[flatten]
        pub fleet: Option<Fleet<'a>>,
        /// The capture file (or interface) this is about.
        pub source: &'a str,
        /// Records the capture numbered, as Wireshark numbers frames (packets, plus pcapng
        /// blocks that take a number without carrying a packet).
        pub frames: u64,
        pub packets: u64,
        /// Captured bytes.
        pub bytes: u64,
        pub tcp_packets: u64,
        pub udp_packets: u64,
        /// Packets decoded no further than the link or IP layer, by reason.
        pub decode_errors: &'a BTreeMap<&'static str, u64>,
        /// Packets cut by the snaplen.
        pub truncated_packets: u64,
        pub unknown_link_types: u64,
        pub connections: u64,
        pub tcp_connections: u64,
        pub udp_flows: u64,
        /// Connections pushed out by the flow cap (`--max-flows`) before they ended.
        pub evicted_flows: u64,
        /// Out-of-order bytes refused by a connection's buffer or the memory cap (`--memcap`).
        pub reassembly_dropped_bytes: u64,
        /// Streams whose buffers were freed early because of the memory cap.
        pub evicted_streams: u64,
        /// Bytes never delivered to a decoder (holes, snaplen cuts, drops), all flows.
        pub missed_bytes: u64,
        pub ip_fragments: u64,
        pub ip_reassembled: u64,
        /// Fragments dropped: too many datagrams in flight, timeout, overlap, oversize.
        pub ip_fragments_dropped: u64,
        pub icmp_errors: u64,
        pub dns_messages: u64,
        /// Out-of-order segments that found their direction's store full (its bound on
        /// segments): the store gave up its first hole early.
        pub ooo_segment_limit_hits: u64,
        /// TCP segments beyond the receive window the peer advertised (injected or forged):
        /// counted, not reassembled, not taken for loss.
        pub out_of_window_segments: u64,
        /// Lone packets stamped far ahead of the capture's clock (no packet after them
        /// confirmed the jump): not taken as the time.
        pub clock_jumps: u64,
        /// TLS handshake messages skipped because all partial ones together filled their
        /// bound.
        pub handshake_buffer_refusals: u64,
        /// subjectAltName entries beyond the bound per certificate, not kept.
        pub san_entries_dropped: u64,
        /// What the decoders of live connections could not keep because all of them together
        /// held their bound (`max_kept_bytes`): HTTP transactions counted and not kept,
        /// header blocks not read, certificate names not kept. Left out when 0.
        #[omit]
        pub kept_bytes_refusals: u64,
        /// Packets the reader handed out ahead of packets the file holds before them: the
        /// capture was written out of timestamp order (`tcpdump -i any` across CPUs or
        /// interfaces, merged files) and its reorder window (64 packets) put them back in
        /// time order. Frames keep their numbers in the file. Left out when 0.
        #[omit]
        pub reordered_packets: u64,
        /// Anomalies by Zeek-style name (`syn_with_data`, `rst_with_data`...).
        pub anomalies: &'a BTreeMap<&'static str, u64>,
        /// Certificate chain validation: the work done, the cache, and chains a budget left
        /// undecided.
        pub x509: One<'a, ChainStats>,
        /// What the HTTP decoders counted instead of keeping (transactions beyond the bound
        /// per connection...).
        pub http: One<'a, HttpStats>,
        /// The kernel's counters, for a live capture.
        #[omit]
        pub kernel: Option<One<'a, KernelStats>>,
        /// Findings by severity (all of them, whatever `--host`, `--port` or `--server-name`
        /// printed).
        pub findings: FindingCounts,
        /// Findings not kept: warnings and infos beyond 8 of one kind per target, or anything
        /// past the cap of 10,000 findings.
        pub findings_dropped: u64,
        /// Names and addresses the diagnosis could not remember (its maps were full):
        /// judgements that needed them were made without.
        #[omit]
        pub diagnosis_tracking_dropped: u64,
        /// Problems reading the input that did not stop the analysis (a truncated file...).
        pub capture_warnings: &'a [String],
        /// Go module hosts seen, with how many connections went to each.
        pub go_endpoints: &'a BTreeMap<String, u64>,
        /// The go command `modsniff run` ran, or whose stderr `read --go-stderr` read.
        #[omit]
        pub go: Option<GoRun<'a>>,
        pub verdict: Verdict,
        /// `--extract FILE` (`read -w FILE`): what this run wrote to FILE.
        #[omit]
        pub extract: Option<Extract<'a>>,
    }
}

json_object! {
    /// What one run wrote to the extract file, and where the frames its findings cite went.
    pub struct Extract<'a> {
        /// The file, as given.
        pub file: &'a str,
        /// Packets of this run written to it.
        pub packets: u64,
        /// Its frame number of this run's first packet (earlier runs' packets come first).
        pub first_frame: u64,
        /// Connections chosen (with findings, or selected, and the attempts that followed a
        /// finding the go command recovered from) and DNS queries with them; both 0 when
        /// every packet a filter expression kept was written.
        pub connections: u64,
        pub dns: u64,
        /// Each frame a finding cites, with its number in the file, by frame; a cited frame
        /// the file lacks is left out.
        pub frames: &'a [ExtractFrame],
    }
}

json_object! {
    /// A frame of the capture, and its number in the extract file.
    #[derive(Copy, PartialEq, Eq)]
    pub struct ExtractFrame {
        pub packet: u64,
        pub extract_packet: u64,
    }
}

json_object! {
    /// How the go command ran, and what its trace and messages held.
    pub struct GoRun<'a> {
        /// `exited`, `killed` (by a signal), or `unknown` (a saved stderr does not say).
        pub exit: GoExit,
        /// The exit status (`exited`), or the signal's number (`killed`).
        pub status: Option<i64>,
        /// go failed: a non-zero status or a signal; status unknown, an error message.
        pub failed: bool,
        /// Error messages go printed.
        pub errors: u64,
        /// Fetches in its `-x` trace (`fetch` records).
        pub fetches: u64,
        pub failed_fetches: u64,
        /// Failed fetches go got its answer for anyway.
        pub recovered_fetches: u64,
        /// Fetches matched to a connection or a failed lookup.
        pub matched_fetches: u64,
        /// The first line of go's last error message.
        pub last_error: Option<&'a str>,
    }
}

json_enum! {
    /// How the go command ended.
    pub enum GoExit {
        Exited = "exited",
        Killed = "killed",
        Unknown = "unknown",
    }
}

impl<'a> From<&'a GoSummary> for GoRun<'a> {
    fn from(g: &'a GoSummary) -> Self {
        let GoSummary {
            exit,
            failed,
            errors,
            fetches,
            failed_fetches,
            recovered_fetches,
            matched_fetches,
            last_error,
        } = g;
        let (exit, status) = match *exit {
            ExitKind::Exited(c) => (GoExit::Exited, Some(i64::from(c))),
            ExitKind::Signaled(s) => (GoExit::Killed, Some(i64::from(s))),
            ExitKind::Unknown => (GoExit::Unknown, None),
        };
        GoRun {
            exit,
            status,
            failed: *failed,
            errors: *errors,
            fetches: *fetches,
            failed_fetches: *failed_fetches,
            recovered_fetches: *recovered_fetches,
            matched_fetches: *matched_fetches,
            last_error: last_error.as_deref(),
        }
    }
}

impl<'a> StatsRecord<'a> {
    /// The engine's counters, and what the run's end adds to them.
    pub fn new(end: &RunEnd<'a>) -> Self {
        let Stats {
            frames,
            packets,
            bytes,
            tcp_packets,
            udp_packets,
            decode_errors,
            truncated_packets,
            unknown_link_types,
            connections,
            tcp_connections,
            udp_flows,
            evicted_flows,
            reassembly_dropped_bytes,
            evicted_streams,
            missed_bytes,
            ip_fragments,
            ip_reassembled,
            ip_fragments_dropped,
            icmp_errors,
            dns_messages,
            anomalies,
            kernel,
            http,
            x509,
            ooo_segment_limit_hits,
            out_of_window_segments,
            clock_jumps,
            handshake_buffer_refusals,
            san_entries_dropped,
            kept_bytes_refusals,
        } = end.stats;
        StatsRecord {
            record_version: RecordVersion,
            fleet: None,
            source: end.source,
            frames: *frames,
            packets: *packets,
            bytes: *bytes,
            tcp_packets: *tcp_packets,
            udp_packets: *udp_packets,
            decode_errors,
            truncated_packets: *truncated_packets,
            unknown_link_types: *unknown_link_types,
            connections: *connections,
            tcp_connections: *tcp_connections,
            udp_flows: *udp_flows,
            evicted_flows: *evicted_flows,
            reassembly_dropped_bytes: *reassembly_dropped_bytes,
            evicted_streams: *evicted_streams,
            missed_bytes: *missed_bytes,
            ip_fragments: *ip_fragments,
            ip_reassembled: *ip_reassembled,
            ip_fragments_dropped: *ip_fragments_dropped,
            icmp_errors: *icmp_errors,
            dns_messages: *dns_messages,
            ooo_segment_limit_hits: *ooo_segment_limit_hits,
            out_of_window_segments: *out_of_window_segments,
            clock_jumps: *clock_jumps,
            handshake_buffer_refusals: *handshake_buffer_refusals,
            san_entries_dropped: *san_entries_dropped,
            kept_bytes_refusals: *kept_bytes_refusals,
            reordered_packets: end.reordered_packets,
            anomalies,
            x509: One(x509),
            http: One(http),
            kernel: kernel.as_ref().map(One),
            findings: end.counts,
            findings_dropped: end.findings_dropped,
            diagnosis_tracking_dropped: end.tracking_dropped,
            capture_warnings: end.warnings,
            go_endpoints: end.go_endpoints,
            go: end.go.map(GoRun::from),
            verdict: end.counts.verdict(),
            extract: end.extract.map(|x| Extract {
                file: &x.file,
                packets: x.packets,
                first_frame: x.first_frame,
                connections: x.connections,
                dns: x.dns,
                frames: &x.frames,
            }),
        }
    }
}

json_object! {
    /// What certificate chain validation did over the run.
    pub struct X509 {
        /// Chains validated (not answered from the cache).
        pub validated: u64,
        /// Chains answered from the cache: the same certificates for the same name.
        pub cache_hits: u64,
        /// Issuer candidates path building considered.
        pub candidates: u64,
        /// Signatures verified.
        pub signatures: u64,
        /// Chains left undecided by a per-chain budget (candidates, signatures).
        pub chain_budget_exceeded: u64,
        /// Chains left undecided because the run's budget was spent.
        pub capture_budget_exceeded: u64,
    }
}

impl View for ChainStats {
    type Out<'a> = X509;
    fn view(&self) -> X509 {
        let c = self;
        let ChainStats {
            validated,
            cache_hits,
            candidates,
            signatures,
            chain_budget_exceeded,
            capture_budget_exceeded,
        } = *c;
        X509 {
            validated,
            cache_hits,
            candidates,
            signatures,
            chain_budget_exceeded,
            capture_budget_exceeded,
        }
    }
}

json_object! {
    /// The HTTP decoders' counters, summed over the connections.
    pub struct Http {
        /// Header blocks larger than the bound, given up.
        pub header_overflows: u64,
        /// Gaps inside a header block or chunk framing.
        pub desync_gaps: u64,
        /// ... after which a head was found again.
        pub resyncs: u64,
        /// Bytes lost inside bodies.
        pub body_gap_bytes: u64,
        /// Transactions beyond the bound per connection: counted, not kept.
        pub dropped_transactions: u64,
        /// Requests dropped because the pipeline bound was reached.
        pub dropped_pending: u64,
        /// Responses without a request seen for them.
        pub unmatched_responses: u64,
        /// Content-Length headers that were not a number, or disagreed.
        pub bad_content_length: u64,
        /// Client bytes dropped while a CONNECT was waiting.
        pub tunnel_leftover_dropped: u64,
        /// A side ended inside a header block.
        pub truncated_heads: u64,
        /// A side sent bytes that are not HTTP after speaking it: that side was given up.
        pub desync_garbage: u64,
    }
}

impl View for HttpStats {
    type Out<'a> = Http;
    fn view(&self) -> Http {
        let h = self;
        let HttpStats {
            header_overflows,
            desync_gaps,
            resyncs,
            body_gap_bytes,
            dropped_transactions,
            dropped_pending,
            unmatched_responses,
            bad_content_length,
            tunnel_leftover_dropped,
            truncated_heads,
            desync_garbage,
        } = *h;
        Http {
            header_overflows,
            desync_gaps,
            resyncs,
            body_gap_bytes,
            dropped_transactions,
            dropped_pending,
            unmatched_responses,
            bad_content_length,
            tunnel_leftover_dropped,
            truncated_heads,
            desync_garbage,
        }
    }
}

json_object! {
    /// libpcap's `pcap_stats`: what the kernel saw and dropped.
    pub struct Kernel {
        pub received: u64,
        pub dropped: u64,
        pub if_dropped: u64,
    }
}

impl View for KernelStats {
    type Out<'a> = Kernel;
    fn view(&self) -> Kernel {
        let k = self;
        let KernelStats {
            received,
            dropped,
            if_dropped,
        } = k;
        Kernel {
            received: *received,
            dropped: *dropped,
            if_dropped: *if_dropped,
        }
    }
}

json_object! {
    /// How many findings of each severity; a severity without any is left out.
    #[derive(Copy, Default, PartialEq, Eq)]
    pub struct FindingCounts {
        #[omit]
        pub error: u64,
        #[omit]
        pub info: u64,
        #[omit]
        pub warning: u64,
    }
}

impl FindingCounts {
    pub fn verdict(&self) -> Verdict {
        if self.error > 0 {
            Verdict::Error
        } else if self.warning > 0 {
            Verdict::Warning
        } else {
            Verdict::Ok
        }
    }
}

json_enum! {
    /// The run's verdict: `error` when a finding is an error, else `warning` when one is a
    /// warning, else `ok`.
    pub enum Verdict {
        Ok = "ok",
        Warning = "warning",
        Error = "error",
    }
}
