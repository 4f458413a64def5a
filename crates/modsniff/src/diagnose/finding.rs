//! Findings: the diagnosis, one per failing (or suspicious) thing, with the frames that show it.

use modsniff_core::Evidence;

/// Where in a module fetch things went wrong (the contract's stages, in causal order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    Dns,
    Connect,
    Proxy,
    Tls,
    Http,
    Transfer,
    /// The go command's own error, where the capture shows no network fault (diagnose/go.rs).
    Go,
    /// The capture itself: it stops short of what it should show (a cut last record,
    /// exchanges still under way at its end). Last: it qualifies the findings before it.
    Capture,
}

/// What went wrong (the contract's kinds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FindingKind {
    DnsServfail,
    DnsNxdomain,
    DnsTimeout,
    DnsSuspiciousAnswer,
    ConnectTimeout,
    ConnectRefused,
    ProxyAuthRequired,
    ProxyDenied,
    ProxyError,
    ResetAfterClientHello,
    HandshakeStall,
    HandshakeAborted,
    MitmCertificate,
    CertificateRejected,
    TlsDowngrade,
    HttpNotFound,
    HttpError,
    TransferStall,
    TransferReset,
    Retransmissions,
    InjectedSegments,
    ChecksumMismatch,
    ModuleNotFound,
    InvalidVersion,
    GoModError,
    GoFailed,
    CaptureIncomplete,
}

impl FindingKind {
    pub fn as_str(self) -> &'static str {
        use FindingKind::*;
        match self {
            DnsServfail => "dns-servfail",
            DnsNxdomain => "dns-nxdomain",
            DnsTimeout => "dns-timeout",
            DnsSuspiciousAnswer => "dns-suspicious-answer",
            ConnectTimeout => "connect-timeout",
            ConnectRefused => "connect-refused",
            ProxyAuthRequired => "proxy-auth-required",
            ProxyDenied => "proxy-denied",
            ProxyError => "proxy-error",
            ResetAfterClientHello => "reset-after-client-hello",
            HandshakeStall => "handshake-stall",
            HandshakeAborted => "handshake-aborted",
            MitmCertificate => "mitm-certificate",
            CertificateRejected => "certificate-rejected",
            TlsDowngrade => "tls-downgrade",
            HttpNotFound => "http-not-found",
            HttpError => "http-error",
            TransferStall => "transfer-stall",
            TransferReset => "transfer-reset",
            Retransmissions => "retransmissions",
            InjectedSegments => "injected-segments",
            ChecksumMismatch => "checksum-mismatch",
            ModuleNotFound => "module-not-found",
            InvalidVersion => "invalid-version",
            GoModError => "go-mod-error",
            GoFailed => "go-failed",
            CaptureIncomplete => "capture-incomplete",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// Who caused it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Actor {
    Server,
    Client,
    Proxy,
    Middlebox,
    Resolver,
    Unknown,
}

/// One diagnosis (the contract's `finding` record, less its `type` tag).
#[derive(Clone, Debug)]
pub struct Finding {
    pub stage: Stage,
    pub kind: FindingKind,
    pub severity: Severity,
    pub actor: Actor,
    /// The connection's id, or the DNS record's id.
    pub connection: Option<u64>,
    pub server_name: Option<String>,
    pub server: Option<String>,
    pub summary: String,
    pub likely_go_error: Option<String>,
    pub remedy: Option<String>,
    pub evidence: Vec<Evidence>,
}

impl Finding {
    /// A finding `Diagnoser::will_drop` said will be dropped: only what `push` reads to
    /// count it (kind and severity; the target comes with the push), no texts.
    pub fn counted_only(stage: Stage, kind: FindingKind, severity: Severity, actor: Actor) -> Self {
        Finding {
            stage,
            kind,
            severity,
            actor,
            connection: None,
            server_name: None,
            server: None,
            summary: String::new(),
            likely_go_error: None,
            remedy: None,
            evidence: Vec::new(),
        }
    }

    pub fn first_frame(&self) -> u64 {
        self.evidence
            .iter()
            .map(|e| e.packet)
            .min()
            .unwrap_or(u64::MAX)
    }
}
