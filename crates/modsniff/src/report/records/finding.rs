//! The `finding` record: the diagnosis.

use super::fleet::Fleet;
use super::values::{Each, RecordVersion, Secs, View};
use super::write::{json_enum, json_object};
use crate::diagnose;
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
        pub remedy: Option<&'a str>,
        pub evidence: Each<'a, CoreEvidence>,
    }
}

impl<'a> From<&'a diagnose::Finding> for FindingRecord<'a> {
    fn from(f: &'a diagnose::Finding) -> Self {
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
            remedy: remedy.as_deref(),
            evidence: Each(evidence),
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
    /// Where in a module fetch things went wrong, in causal order.
    pub enum Stage from diagnose::Stage {
        Dns = "dns",
        Connect = "connect",
        Proxy = "proxy",
        Tls = "tls",
        Http = "http",
        Transfer = "transfer",
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
