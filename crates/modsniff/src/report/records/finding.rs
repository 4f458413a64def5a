//! The `finding` record: the diagnosis.

use super::fleet::Fleet;
use super::values::{Each, RecordVersion, Secs, View};
use super::write::{json_enum, json_object};
use crate::diagnose;
use crate::report::Reported;
use modsniff_core::Evidence as CoreEvidence;

json_object! {
    /// One diagnosis: where a module fetch went wrong, who did it, the frames that show it,
    /// and what to change.
    pub struct FindingRecord<'a> {
        pub record_version: RecordVersion,
        /// The fleet fields (`live`, `run`; `read --fleet`); left out otherwise.
        #[flatten]
        pub fleet: Option<Fleet<'a>>,
        pub stage: Stage,
        pub kind: FindingKind,
        pub severity: Severity,
        /// Who caused it.
        pub actor: Actor,
        /// The id of the `connection` record, or of the `dns` record.
        pub connection: Option<u64>,
        pub server_name: Option<&'a str>,
        /// `ip:port` of the server.
        pub server: Option<&'a str>,
        pub summary: &'a str,
        /// The message the go command most likely printed.
        pub likely_go_error: Option<&'a str>,
        /// What the go command did print about it, exactly (its lines joined with `\n`);
        /// `null` without go's output (`modsniff run`, `read --go-stderr`) or when none of
        /// it is about this.
        pub go_error: Option<&'a str>,
        pub remedy: Option<&'a str>,
        pub evidence: Each<'a, CoreEvidence>,
        /// A real fault the go command recovered from (a GOPROXY entry that failed before
        /// the next one served, a retry that worked, or a fetch go got its answer from): it
        /// does not fail the run.
        #[omit]
        pub recovered: bool,
        /// Printed while the capture was still running (`live`, `run`): the run's end
        /// prints the final findings after it, which may differ (a fault go recovered from,
        /// a stall that resumed). A consumer that wants the outcome skips these.
        #[omit]
        pub provisional: bool,
    }
}

impl<'a> From<&'a diagnose::Finding> for FindingRecord<'a> {
    fn from(f: &'a diagnose::Finding) -> Self {
        FindingRecord::new(f, None, false, false)
    }
}

impl<'a> From<&'a Reported> for FindingRecord<'a> {
    fn from(r: &'a Reported) -> Self {
        FindingRecord::new(&r.finding, r.go_error.as_deref(), r.recovered, false)
    }
}

impl<'a> FindingRecord<'a> {
    /// A finding printed while the capture still runs.
    pub fn provisional(f: &'a diagnose::Finding) -> Self {
        FindingRecord::new(f, None, false, true)
    }

    fn new(
        f: &'a diagnose::Finding,
        go_error: Option<&'a str>,
        recovered: bool,
        provisional: bool,
    ) -> Self {
        let diagnose::Finding {
            stage,
            kind,
            severity,
            actor,
            connection,
            server_name,
            server,
            summary,
            likely_go_error,
            remedy,
            evidence,
        } = f;
        FindingRecord {
            record_version: RecordVersion,
            fleet: None,
            stage: stage.into(),
            kind: kind.into(),
            severity: severity.into(),
            actor: actor.into(),
            connection: *connection,
            server_name: server_name.as_deref(),
            server: server.as_deref(),
            summary,
            likely_go_error: likely_go_error.as_deref(),
            go_error,
            remedy: remedy.as_deref(),
            evidence: Each(evidence),
            recovered,
            provisional,
        }
    }
}

json_object! {
    /// A frame that shows something.
    pub struct Evidence<'a> {
        /// The frame number, 1-based, as Wireshark counts it.
        pub packet: u64,
        pub ts: Secs,
        pub note: &'a str,
    }
}

impl View for CoreEvidence {
    type Out<'a> = Evidence<'a>;
    fn view(&self) -> Evidence<'_> {
        let CoreEvidence { packet, ts, note } = self;
        Evidence {
            packet: *packet,
            ts: (*ts).into(),
            note,
        }
    }
}

json_enum! {
    /// Where in a module fetch things went wrong, in causal order; `go` is the go command's
    /// own error where the capture shows no network fault.
    pub enum Stage from diagnose::Stage {
        Dns = "dns",
        Connect = "connect",
        Proxy = "proxy",
        Tls = "tls",
        Http = "http",
        Transfer = "transfer",
        Go = "go",
        Capture = "capture",
    }
}

json_enum! {
    /// What went wrong.
    pub enum FindingKind from diagnose::FindingKind {
        DnsServfail = "dns-servfail",
        DnsNxdomain = "dns-nxdomain",
        DnsTimeout = "dns-timeout",
        DnsSuspiciousAnswer = "dns-suspicious-answer",
        ConnectTimeout = "connect-timeout",
        ConnectRefused = "connect-refused",
        ProxyAuthRequired = "proxy-auth-required",
        ProxyDenied = "proxy-denied",
        ProxyError = "proxy-error",
        ResetAfterClientHello = "reset-after-client-hello",
        HandshakeStall = "handshake-stall",
        HandshakeAborted = "handshake-aborted",
        MitmCertificate = "mitm-certificate",
        CertificateRejected = "certificate-rejected",
        TlsDowngrade = "tls-downgrade",
        HttpNotFound = "http-not-found",
        HttpError = "http-error",
        TransferStall = "transfer-stall",
        TransferReset = "transfer-reset",
        Retransmissions = "retransmissions",
        InjectedSegments = "injected-segments",
        ChecksumMismatch = "checksum-mismatch",
        ModuleNotFound = "module-not-found",
        InvalidVersion = "invalid-version",
        GoModError = "go-mod-error",
        GoFailed = "go-failed",
        CaptureIncomplete = "capture-incomplete",
    }
}

json_enum! {
    /// `error` when the fetch failed, `warning` when it succeeded but something is wrong,
    /// `info` for context.
    pub enum Severity from diagnose::Severity {
        Info = "info",
        Warning = "warning",
        Error = "error",
    }
}

json_enum! {
    /// Who caused it.
    pub enum Actor from diagnose::Actor {
        Server = "server",
        Client = "client",
        Proxy = "proxy",
        Middlebox = "middlebox",
        Resolver = "resolver",
        Unknown = "unknown",
    }
}
