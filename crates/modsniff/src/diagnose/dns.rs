//! Stage `dns`: lookups that failed (SERVFAIL/REFUSED: "server misbehaving"; NXDOMAIN: "no
//! such host"; no answer: "i/o timeout") and explain why no connection to the name followed.

use super::finding::*;
use super::{Diagnoser, ev};
use modsniff_core::app::dns::DnsRecord;

pub fn is_failure(r: &DnsRecord) -> bool {
    matches!(
        r.rcode.as_deref(),
        None | Some("SERVFAIL") | Some("REFUSED") | Some("NXDOMAIN")
    )
}

/// One finding per failing name; an error only when the name never resolved and no
/// connection to it followed.
pub fn judge(
    name: &str,
    failures: &[DnsRecord],
    answered_ok: bool,
    connected: bool,
    d: &Diagnoser,
) -> Option<Finding> {
    let first = failures.first()?;
    let role = d.role_of(name, 443);
    // Prefer the most telling failure: an explicit rcode over silence.
    let pick = failures.iter().find(|r| r.rcode.is_some()).unwrap_or(first);
    let resolver = pick.server.to_string();
    let (kind, go_tail, what) = match pick.rcode.as_deref() {
        Some("NXDOMAIN") => (
            FindingKind::DnsNxdomain,
            "no such host".to_string(),
            "NXDOMAIN (the name does not exist)",
        ),
        Some(r @ ("SERVFAIL" | "REFUSED")) => (
            FindingKind::DnsServfail,
            "server misbehaving".to_string(),
            if r == "SERVFAIL" {
                "SERVFAIL (the resolver failed)"
            } else {
                "REFUSED (the resolver refused)"
            },
        ),
        _ => (
            FindingKind::DnsTimeout,
            format!("read udp {}->{resolver}: i/o timeout", pick.client),
            "no answer",
        ),
    };
    // NXDOMAIN for one of several search-domain candidates, or for the AAAA of a name whose A
    // resolved, is normal.
    let severity = if answered_ok || connected {
        if kind == FindingKind::DnsNxdomain && answered_ok {
            return None;
        } else {
            Severity::Info
        }
    } else if role.is_some() || kind != FindingKind::DnsNxdomain {
        Severity::Error
    } else {
        Severity::Warning
    };
    let n = failures.len();
    let evidence = failures
        .iter()
        .take(6)
        .map(|r| {
            let f = r.response_frame.or(r.query_frame).unwrap_or(0);
            ev(
                f,
                Some(r.ts()),
                format!(
                    "{} {} -> {}",
                    r.qtype.as_deref().unwrap_or("?"),
                    name,
                    r.rcode.as_deref().unwrap_or("no answer")
                ),
            )
        })
        .collect();
    let summary = format!(
        "DNS lookup of {name} failed: {what} from {resolver}, {n} quer{}{}.",
        if n == 1 { "y" } else { "ies" },
        if severity == Severity::Error {
            "; no connection to it could follow"
        } else {
            "; the name was reached anyway"
        }
    );
    let remedy = match kind {
        FindingKind::DnsNxdomain => "Check the spelling of the module path or GOPROXY host; for an internal host, check the search domain and the resolver (/etc/resolv.conf).".to_string(),
        FindingKind::DnsServfail => format!("The resolver {resolver} fails for {name}: use another resolver in /etc/resolv.conf, or ask whoever runs it (it may block the name on purpose)."),
        _ => format!("The resolver {resolver} does not answer: check /etc/resolv.conf and that UDP/TCP port 53 is open towards it."),
    };
    Some(Finding {
        stage: Stage::Dns,
        kind,
        severity,
        actor: Actor::Resolver,
        connection: Some(first.id as u64),
        server_name: Some(name.to_string()),
        server: Some(resolver.clone()),
        summary,
        likely_go_error: Some(format!("dial tcp: lookup {name} on {resolver}: {go_tail}")),
        remedy: Some(remedy),
        evidence,
    })
}
