//! Stage `go`: what the go command said went wrong where the capture shows no network fault
//! (a checksum mismatch, a module no proxy has, a version that does not exist, a go.mod
//! error), and a go command that failed while the capture shows nothing that explains it.
//!
//! The join (crate::join) decides when one of these is due; this file words them.

use super::finding::*;
use crate::go::stderr::{Cause, GoError};
use crate::go::trace::ExitKind;
use modsniff_core::{Evidence, Timestamp};

/// Where the capture shows the fetch go's error is about.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// The connection that carried it.
    pub connection: Option<u64>,
    pub server: Option<String>,
    pub server_name: Option<String>,
    /// The frames that show it (the request and the answer, in clear; or the connection).
    pub evidence: Vec<Evidence>,
    /// go's trace line for the fetch (`# get URL: 404 Not Found (0.012s)`).
    pub trace: Option<String>,
}

/// The finding for an error of go's that needs no network fault, or `None` when the error is
/// not of that sort.
pub fn local_finding(e: &GoError, seen: &Seen) -> Option<Finding> {
    let what = match (&e.module, &e.version) {
        (Some(m), Some(v)) => format!("{m}@{v}"),
        (Some(m), None) => m.clone(),
        _ => "the module".to_string(),
    };
    let via = match (&seen.connection, &seen.server) {
        (Some(id), Some(s)) => format!(" (connection {id} to {s})"),
        (None, Some(s)) => format!(" ({s})"),
        _ => String::new(),
    };
    let (kind, actor, summary, remedy) = match &e.cause {
        Cause::ChecksumMismatch {
            downloaded,
            expected,
            source,
        } => {
            let source = source.as_deref().unwrap_or("go.sum");
            let hashes = match (downloaded, expected) {
                (Some(d), Some(x)) => format!(": go computed {d}, {source} says {x}"),
                _ => String::new(),
            };
            (
                FindingKind::ChecksumMismatch,
                Actor::Unknown,
                format!(
                    "go refused {what}: what it downloaded does not match {source}{hashes}. The download itself went through{via} without a network fault: the bytes served are not the ones recorded. Either the module source serves other content for the same version (a re-tagged release, a proxy that rewrites), or something on the way replaced them."
                ),
                format!(
                    "Do not delete the go.sum line to make it pass before knowing which bytes are right: compare with another source (GOPROXY=https://proxy.golang.org go mod download -json {what}) and ask whoever runs the module proxy; a version's content must never change."
                ),
            )
        }
        Cause::NotFound { message } => (
            FindingKind::ModuleNotFound,
            Actor::Server,
            format!(
                "go found no {what}: {message}. Every module source it asked answered that it does not have it; the network delivered those answers."
            ),
            not_found_remedy(),
        ),
        // With the connection in the capture, the answer is the HTTP finding's (as in clear).
        Cause::HttpStatus {
            code: code @ (404 | 410),
            text,
            ..
        } if seen.connection.is_none() => (
            FindingKind::ModuleNotFound,
            Actor::Server,
            format!(
                "go says the module source answered {code} {text} for {what}{}: it does not have it. The capture holds no packet of that exchange (it went over another interface, or outside this capture); go's own words are the evidence.",
                seen.trace
                    .as_deref()
                    .map(|t| format!(" (go's trace: `{t}`)"))
                    .unwrap_or_default()
            ),
            not_found_remedy(),
        ),
        Cause::InvalidVersion { version, reason } => (
            FindingKind::InvalidVersion,
            Actor::Client,
            format!(
                "go says {what} does not exist: {reason}{}. The module was reached; the version asked for is not one of its versions.",
                version
                    .as_deref()
                    .map(|v| format!(" (asked for {v})"))
                    .unwrap_or_default()
            ),
            "Check the version or tag asked for (go list -m -versions MODULE lists the ones the proxy knows); a tag pushed moments ago may take a while to reach a caching proxy.".to_string(),
        ),
        Cause::GoModError { message } => (
            FindingKind::GoModError,
            Actor::Client,
            format!("go stopped on the module files, not on the network: {message}."),
            "Fix go.mod/go.sum as go says (go mod tidy adds missing go.sum entries); nothing on the network needs to change.".to_string(),
        ),
        Cause::Toolchain { .. } => (
            FindingKind::GoModError,
            Actor::Client,
            format!(
                "go could not get the Go toolchain it needs: {}.",
                first_line(&e.line)
            ),
            "Install the Go version go.mod asks for, or set GOTOOLCHAIN (GOTOOLCHAIN=local keeps the installed one).".to_string(),
        ),
        _ => return None,
    };
    Some(Finding {
        stage: Stage::Go,
        kind,
        severity: Severity::Error,
        actor,
        connection: seen.connection,
        server_name: seen.server_name.clone(),
        server: seen.server.clone(),
        summary,
        likely_go_error: None,
        remedy: Some(remedy),
        evidence: seen.evidence.clone(),
    })
}

fn not_found_remedy() -> String {
    "Check the module path and version for typos. For a private module, set GOPRIVATE (or GONOPROXY) so go fetches it from its origin, and make sure the GOPROXY list ends with `direct` if the proxy may not have it.".to_string()
}

/// An HTTP error status go saw on a connection the capture holds but whose answer it cannot
/// read (inside TLS). `None` without that connection: the capture shows nothing of it.
pub fn http_status_finding(e: &GoError, seen: &Seen) -> Option<Finding> {
    let Cause::HttpStatus { code, text, .. } = &e.cause else {
        return None;
    };
    if *code < 400 || seen.connection.is_none() {
        return None;
    }
    let hidden = if e.url.as_deref().is_some_and(|u| u.starts_with("https:")) {
        "Inside TLS the capture cannot show the answer; go's own trace does."
    } else {
        "The capture does not show the answer in clear; go's own trace does."
    };
    let target = seen
        .server_name
        .clone()
        .or_else(|| seen.server.clone())
        .unwrap_or_else(|| "the server".into());
    let not_found = matches!(code, 404 | 410);
    let what = match (&e.module, &e.version) {
        (Some(m), Some(v)) => format!(" for {m}@{v}"),
        (Some(m), None) => format!(" for {m}"),
        _ => String::new(),
    };
    Some(Finding {
        stage: Stage::Http,
        kind: if not_found {
            FindingKind::HttpNotFound
        } else {
            FindingKind::HttpError
        },
        severity: Severity::Error,
        actor: Actor::Server,
        connection: seen.connection,
        server_name: seen.server_name.clone(),
        server: seen.server.clone(),
        summary: format!(
            "{target} answered {code} {text}{what}{}{}. {hidden}",
            seen.trace
                .as_deref()
                .map(|t| format!(" (go's trace: `{t}`)"))
                .unwrap_or_default(),
            if not_found {
                ": it does not have this module or version"
            } else {
                ""
            }
        ),
        likely_go_error: None,
        remedy: Some(if not_found {
            not_found_remedy()
        } else if *code >= 500 {
            "The server failed; retry later, or use another module mirror (GOPROXY=https://proxy.golang.org,direct).".to_string()
        } else {
            "The server refused the request: check the credentials (~/.netrc) and the GOPROXY URL."
                .to_string()
        }),
        evidence: seen.evidence.clone(),
    })
}

/// go failed, and no finding explains it: `why` is what go said (or how it ended), `missing`
/// what the capture may lack.
pub fn failed_finding(why: &str, missing: &str, seen: &Seen) -> Finding {
    Finding {
        stage: Stage::Go,
        kind: FindingKind::GoFailed,
        severity: Severity::Error,
        actor: Actor::Unknown,
        connection: seen.connection,
        server_name: seen.server_name.clone(),
        server: seen.server.clone(),
        summary: format!("go failed: {why}; the capture shows no network fault. {missing}"),
        likely_go_error: None,
        remedy: Some(
            "Capture where the go command's traffic goes: modsniff run -i any (the default) on the build host itself, inside the same container or network namespace, with the VPN or proxy interface included.".to_string(),
        ),
        evidence: seen.evidence.clone(),
    }
}

/// A fetch go was still waiting on when it ended, and the connection it waited on.
#[derive(Debug)]
pub struct Waited<'a> {
    pub connection: u64,
    pub server: String,
    pub server_name: Option<String>,
    /// The server's last data: frame and time.
    pub last_data: Option<(u64, Timestamp)>,
    /// The client's FIN or RST: frame, time, which.
    pub client_close: Option<(u64, Timestamp, &'static str)>,
    /// The connection's last packet.
    pub end: Timestamp,
    pub url: &'a str,
    pub exit: ExitKind,
}

/// Silence after the server's last data that makes an unanswered fetch a stalled transfer.
pub const WAITED_STALL_SECS: f64 = 5.0;

/// The transfer go waited on when it ended: the server's data stopped and nothing followed.
pub fn waited_finding(w: &Waited<'_>) -> Option<Finding> {
    let (frame, last) = w.last_data?;
    let until = w.client_close.map_or(w.end, |(_, t, _)| t);
    let silent = until.since(last).as_secs_f64();
    if silent < WAITED_STALL_SECS {
        return None;
    }
    let mut evidence = vec![super::ev(frame, Some(last), "last data from the server")];
    if let Some((f, t, how)) = w.client_close {
        evidence.push(super::ev(f, Some(t), format!("the client gives up: {how}")));
    }
    Some(Finding {
        stage: Stage::Transfer,
        kind: FindingKind::TransferStall,
        severity: Severity::Error,
        actor: Actor::Server,
        connection: Some(w.connection),
        server_name: w.server_name.clone(),
        server: Some(w.server.clone()),
        summary: format!(
            "The transfer from {} stalled: the server's data stopped at frame {frame} and nothing followed for {silent:.1} s while the connection stayed open. The go command was still fetching {} when it {}: it has no body timeout, so it hangs.",
            w.server, w.url, w.exit
        ),
        likely_go_error: None,
        remedy: Some("Interrupt and retry (a retry often gets a healthy server). If it keeps happening, the path or the server drops the transfer: try another module mirror (GOPROXY=https://proxy.golang.org,direct).".to_string()),
        evidence,
    })
}

/// go's reason for refusing a certificate when it is the certificate's own content (a name,
/// an address, a validity period), which an interceptor's minted certificate does not fail
/// on (it fails as `unknown authority`); `None` for other causes.
fn content_reason(cause: &Cause) -> Option<(&'static str, String)> {
    use crate::go::stderr::X509Reason as R;
    let Cause::X509 { reason } = cause else {
        return None;
    };
    Some(match reason {
        R::NoIpSans { ip } => (
            "it has no IP address among its names",
            format!(
                "Reach the server by a name its certificate holds (GOPROXY=https://NAME), or reissue the certificate with {ip} in its subjectAltName (IP SAN)."
            ),
        ),
        R::NameMismatch { valid_for, wanted } => (
            "it is for other names",
            format!(
                "Use a name the certificate is valid for ({}), or reissue it with {wanted} among its names; check that the name resolves to the right server.",
                valid_for.join(", ")
            ),
        ),
        R::NoNames { wanted } => (
            "it names no host at all",
            format!("Reissue the certificate with {wanted} in its subjectAltName."),
        ),
        R::LegacyCommonName => (
            "it names its host in the Common Name only",
            "Reissue the certificate with the host in its subjectAltName (go ignores the Common Name).".to_string(),
        ),
        R::Expired { .. } => (
            "it has expired",
            "Renew the server's certificate; if it is not expired, the build host's clock is wrong (go's message gives the time it used).".to_string(),
        ),
        R::NotYetValid { .. } => (
            "it is not valid yet",
            "Check the build host's clock (go's message gives the time it used) and the certificate's notBefore.".to_string(),
        ),
        _ => return None,
    })
}

/// A guess of interception that go's own reason contradicts: go refused the certificate for
/// its content, which is the server's to fix. Rewrites `f` as `certificate-rejected` and
/// returns true; leaves it alone otherwise.
pub fn correct_interception_guess(f: &mut Finding, e: &GoError) -> bool {
    if f.kind != FindingKind::MitmCertificate {
        return false;
    }
    let Some((why, remedy)) = content_reason(&e.cause) else {
        return false;
    };
    let server = f
        .server_name
        .clone()
        .or_else(|| f.server.clone())
        .unwrap_or_else(|| "the server".into());
    f.kind = FindingKind::CertificateRejected;
    f.actor = Actor::Server;
    f.severity = Severity::Error;
    f.summary = format!(
        "The client refused the certificate {server} presented: {why} (go's reason, quoted above). The capture alone suggested interception, but an interceptor's certificate fails as `unknown authority`; this one fails on its own content, so it is the server's certificate to fix."
    );
    f.likely_go_error = None;
    f.remedy = Some(remedy);
    true
}

/// A dial go says failed after the capture had stopped (it was cut short before the
/// connection): go's words decide the stage and kind, the capture's last frames are cited.
/// `None` for other causes.
pub fn after_the_capture(e: &GoError, seen: &Seen, last: &[Evidence]) -> Option<Finding> {
    use crate::go::stderr::DialReason as D;
    let Cause::Dial { addr, reason } = &e.cause else {
        return None;
    };
    let (kind, what) = match reason {
        D::Timeout => (
            FindingKind::ConnectTimeout,
            "no answer to its connection attempt",
        ),
        D::Refused | D::HostUnreachable | D::Denied => {
            (FindingKind::ConnectRefused, "its connection refused")
        }
        _ => return None,
    };
    let target = seen.server_name.as_deref().unwrap_or(addr);
    Some(Finding {
        stage: Stage::Connect,
        kind,
        severity: Severity::Error,
        actor: Actor::Unknown,
        connection: None,
        server_name: seen.server_name.clone(),
        server: Some(addr.clone()),
        summary: format!(
            "go got {what} at {target} ({addr}), after this capture ended: it was cut short before the connection, so only go's words show the failure, not who caused it."
        ),
        likely_go_error: None,
        remedy: Some(
            "Capture the whole run (start before the go command, stop after it exits, or let `modsniff run -- go ...` do both) to see who stopped the connection: a firewall dropping SYNs, a server down, a wrong address.".to_string(),
        ),
        evidence: last.to_vec(),
    })
}

/// The first line of a message.
pub fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::go::stderr::parse_message;

    #[test]
    fn local_errors_are_worded_and_network_ones_are_not() {
        let seen = Seen {
            connection: Some(4),
            server: Some("10.0.0.1:8080".into()),
            ..Seen::default()
        };
        let e = parse_message(
            "verifying example.com/hello@v1.0.0: checksum mismatch\n\tdownloaded: h1:a=\n\tgo.sum:     h1:b=",
        );
        let f = local_finding(&e, &seen).expect("a finding");
        assert_eq!(
            (f.stage, f.kind),
            (Stage::Go, FindingKind::ChecksumMismatch)
        );
        assert!(
            f.summary.contains("h1:a=") && f.summary.contains("h1:b="),
            "{}",
            f.summary
        );
        assert!(f.summary.contains("connection 4"), "{}", f.summary);
        let e = parse_message(
            "go: example.com/m@v1.0.0: reading https://p.example/example.com/m/@v/v1.0.0.info: 404 Not Found\n\tserver response: not found",
        );
        // The answer on a connection the capture holds is the HTTP finding's...
        assert!(local_finding(&e, &seen).is_none());
        assert_eq!(
            http_status_finding(&e, &seen).map(|f| (f.stage, f.kind)),
            Some((Stage::Http, FindingKind::HttpNotFound))
        );
        // ...and go's word alone when the capture does not hold it.
        assert_eq!(
            local_finding(&e, &Seen::default()).map(|f| (f.stage, f.kind)),
            Some((Stage::Go, FindingKind::ModuleNotFound))
        );
        let e = parse_message("go: example.com/m@v9.9.9: invalid version: unknown revision v9.9.9");
        assert_eq!(
            local_finding(&e, &seen).map(|f| (f.kind, f.actor)),
            Some((FindingKind::InvalidVersion, Actor::Client))
        );
        let e = parse_message(
            "go: example.com/m@v1.0.0: Get \"https://p.example/x\": dial tcp 10.0.0.1:443: connect: connection refused",
        );
        assert!(local_finding(&e, &seen).is_none());
        assert!(http_status_finding(&e, &seen).is_none());
        let e = parse_message(
            "go: example.com/m@v1.0.0: reading https://p.example/example.com/m/@v/v1.0.0.zip: 503 Service Unavailable",
        );
        assert_eq!(
            http_status_finding(&e, &seen).map(|f| (f.stage, f.kind)),
            Some((Stage::Http, FindingKind::HttpError))
        );
        // Without the connection in the capture it is no HTTP finding (the join says go
        // failed and the capture shows nothing of it).
        assert!(http_status_finding(&e, &Seen::default()).is_none());
    }
}
