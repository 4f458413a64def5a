//! The `stats` record: the last line of a run.

use super::fleet::Fleet;
use super::values::{One, RecordVersion, View};
use super::write::{json_enum, json_object};
use crate::go::trace::ExitKind;
use crate::join::GoSummary;
use crate::report::RunEnd;
use modsniff_core::KernelStats;
use modsniff_core::Stats;
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
        /// Anomalies by Zeek-style name (`syn_with_data`, `rst_with_data`...).
        pub anomalies: &'a BTreeMap<&'static str, u64>,
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
            http: _,
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
            anomalies,
            kernel: kernel.as_ref().map(One),
            findings: end.counts,
            findings_dropped: end.findings_dropped,
            diagnosis_tracking_dropped: end.tracking_dropped,
            capture_warnings: end.warnings,
            go_endpoints: end.go_endpoints,
            go: end.go.map(GoRun::from),
            verdict: end.counts.verdict(),
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
