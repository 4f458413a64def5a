//! Stage `dns`: lookups that failed (SERVFAIL/REFUSED: "server misbehaving"; NXDOMAIN: "no
//! such host"; no answer: "i/o timeout") and explain why no connection to the name followed.

use super::finding::*;
use super::{Diagnoser, ev};
use modsniff_core::{DnsRecord, Timestamp};

pub fn is_failure(r: &DnsRecord) -> bool {
    matches!(
        r.rcode.as_deref(),
        None | Some("SERVFAIL") | Some("REFUSED") | Some("NXDOMAIN")
    )
}

/// The resolver's own timeout shows in the capture: the client asked the same question again
/// under a new ID (glibc and Go retry after `options timeout:N`, default 5 s). A retry is sent
/// only once the attempt before it timed out, so one unanswered retry proves a timeout, however
/// soon after it the capture ends. Returns the first attempt and its retry.
fn retried_unanswered(failures: &[DnsRecord]) -> Option<(&DnsRecord, &DnsRecord)> {
    let unanswered = || failures.iter().filter(|r| r.rcode.is_none());
    unanswered().find_map(|first| {
        unanswered()
            .find(|later| {
                later.qtype == first.qtype
                    && later.id != first.id
                    && later.ts().since(first.ts()).as_secs_f64() >= RETRY_MIN_SECS
            })
            .map(|later| (first, later))
    })
}

/// The shortest resolver timeout (resolv.conf `timeout:` is whole seconds, at least 1): two
/// queries for the same name and type closer than this are a burst, not a retry.
const RETRY_MIN_SECS: f64 = 0.9;

/// The last query for a name when none was answered at all (no rcode): what a capture that
/// ended too soon after it leaves open.
pub fn unanswered_at_end(failures: &[DnsRecord]) -> Option<&DnsRecord> {
    if failures.is_empty() || failures.iter().any(|r| r.rcode.is_some()) {
        return None;
    }
    failures
        .iter()
        .filter(|r| r.query_frame.is_some())
        .max_by_key(|r| r.ts())
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
    // Silence is a timeout only when the client asked again or the capture went on long
    // enough for an answer to have come (Go waits 5 s per attempt).
    let answered = failures.iter().any(|r| r.rcode.is_some());
    let retry = retried_unanswered(failures);
    if !answered
        && !failures
            .iter()
            .any(|r| r.retransmissions > 0 || d.seen_after(r.ts()) >= 5.0)
        && retry.is_none()
    {
        return None;
    }
    // The go command looks up addresses; other lookups failing are context, not the cause.
    let address_lookup = failures
        .iter()
        .any(|r| matches!(r.qtype.as_deref(), Some("A" | "AAAA") | None));
    // Prefer the most telling failure: an explicit rcode over silence.
    // For silence, the last attempt is the one whose timeout go reported.
    let last_round = failures.iter().map(|r| r.ts()).max().unwrap_or(first.ts());
    let pick = failures
        .iter()
        .find(|r| r.rcode.is_some())
        .or_else(|| {
            // Go's resolver sends A and AAAA together and keeps the error of the result it
            // reads last. Both time out within a fraction of a millisecond of each other, so
            // which one that is, is a race (go 1.27 named the AAAA query in fixtures/dns-timeout,
            // the A query in another run): the AAAA one is a guess.
            let round = || {
                failures
                    .iter()
                    .filter(|r| last_round.since(r.ts()).as_secs_f64() < 0.1)
            };
            round()
                .find(|r| r.qtype.as_deref() == Some("AAAA"))
                .or_else(|| round().max_by_key(|r| r.ts()))
        })
        .unwrap_or(first);
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
    let severity = if !address_lookup {
        Severity::Info
    } else if answered_ok || connected {
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
            let (f, ts) = response_or_query(r);
            ev(
                f,
                Some(ts),
                format!(
                    "{} {} -> {}",
                    r.qtype.as_deref().unwrap_or("?"),
                    name,
                    r.rcode.as_deref().unwrap_or("no answer")
                ),
            )
        })
        .collect();
    let mut summary = format!(
        "DNS lookup of {name} failed: {what} from {resolver}, {n} quer{}{}.",
        if n == 1 { "y" } else { "ies" },
        if severity == Severity::Error {
            "; no connection to it could follow"
        } else {
            "; the name was reached anyway"
        }
    );
    if kind == FindingKind::DnsTimeout
        && let Some((first, again)) = retry
    {
        let last = failures.iter().map(|r| r.ts()).max().unwrap_or(again.ts());
        summary.push_str(&format!(
            " The client asked again {:.1} s after its first {} query, under a new ID: its resolver's timeout passed without an answer.",
            again.ts().since(first.ts()).as_secs_f64(),
            first.qtype.as_deref().unwrap_or("?"),
        ));
        let after = d.seen_after(last);
        if after < again.ts().since(first.ts()).as_secs_f64() {
            summary.push_str(&format!(
                " The capture ends {after:.1} s after the last query, before that attempt's own timeout: whether an answer came later is not in it."
            ));
        }
    }
    let remedy = match kind {
        // A public Go host exists: a resolver that denies it knows only the local network's
        // names (or filters them), and the way out is the company's path to the outside.
        FindingKind::DnsNxdomain if crate::go::classify_host(name).is_some() => format!("{name} exists on the internet, but the resolver {resolver} does not resolve it: this network's DNS knows only the company's names (or filters them). Reach it through the company's HTTP proxy (HTTPS_PROXY=http://PROXY:PORT, which resolves names itself), or set GOPROXY to the company's own module proxy; ask the network team which."),
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

/// The frame to cite for a lookup, with its own time: the response (the query's time plus
/// the round trip), else the query.
fn response_or_query(r: &DnsRecord) -> (u64, Timestamp) {
    match (r.response_frame, r.query_frame, r.rtt) {
        (Some(f), Some(_), Some(rtt)) => (f, r.ts().saturating_add(rtt)),
        // Without the query, the record's time is the response's.
        (Some(f), None, _) => (f, r.ts()),
        (_, Some(q), _) => (q, r.ts()),
        (None, None, _) => (0, r.ts()),
    }
}

/// Addresses no public Go host resolves to: a resolver or middlebox sinkholing the name.
pub fn is_sinkhole(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_unspecified() || v4.is_loopback() || v4.is_broadcast(),
        std::net::IpAddr::V6(v6) => v6.is_unspecified() || v6.is_loopback(),
    }
}

/// A DNS answer kept for the suspicious-answer check.
#[derive(Debug, Clone)]
pub struct AnswerSeen {
    pub rec: DnsRecord,
    pub addrs: Vec<std::net::IpAddr>,
}

/// Forged or sinkholed answers: two different answers to one query (an on-path injector
/// races the real resolver), an answer whose IP TTL is unlike the resolver's other answers,
/// or a sinkhole address for a public Go host. With each finding, the addresses the client
/// took from the bad answer when the tampering is why the fetch failed (empty otherwise).
pub fn suspicious(answers: &[AnswerSeen], d: &Diagnoser) -> Vec<(Finding, Vec<std::net::IpAddr>)> {
    use std::collections::HashMap;
    let mut out = Vec::new();
    let mut by_query: HashMap<(String, String, u16, String), Vec<&AnswerSeen>> = HashMap::new();
    for a in answers {
        let q = a.rec.qname.clone().unwrap_or_default().to_ascii_lowercase();
        by_query
            .entry((
                a.rec.client.to_string(),
                a.rec.server.to_string(),
                a.rec.id,
                q,
            ))
            .or_default()
            .push(a);
    }
    let mut keys: Vec<_> = by_query.keys().cloned().collect();
    keys.sort();
    for k in keys {
        let Some(group) = by_query.get(&k) else {
            continue;
        };
        let Some(first) = group.first() else { continue };
        let name = k.3.clone();
        let resolver = first.rec.server;
        let mut why = Vec::new();
        let mut actor = Actor::Resolver;
        let mut distinct: Vec<Vec<std::net::IpAddr>> = Vec::new();
        for g in group {
            let mut a = g.addrs.clone();
            a.sort();
            if !distinct.contains(&a) {
                distinct.push(a);
            }
        }
        if distinct.len() > 1 {
            why.push(format!(
                "{} different answers to one query ({}): an on-path injector raced the resolver, and the client takes the first",
                distinct.len(),
                distinct.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(" vs ")
            ));
            actor = Actor::Middlebox;
        }
        // What is wrong with the first answer itself (the one the client takes).
        let mut first_forged = false;
        if let Some(ttl) = d.dns_response_ttl(first.rec.conn_id)
            && let Some(range) = d.resolver_ttl_excluding(resolver.ip(), first.rec.conn_id)
            && (ttl < range.min || ttl > range.max)
        {
            first_forged = true;
            why.push(format!(
                "the answer arrived with IP TTL {ttl} where {} otherwise answers with {}-{}: it was not sent by the resolver",
                resolver.ip(),
                range.min,
                range.max
            ));
            actor = Actor::Middlebox;
        }
        let public_go = d.role_of(&name, 443).is_some();
        let first_sinkhole = first.addrs.iter().any(|ip| is_sinkhole(*ip));
        if public_go && first_sinkhole {
            why.push(format!(
                "{name} resolved to {:?}, a sinkhole address",
                first.addrs
            ));
        }
        if why.is_empty() {
            continue;
        }
        // The client takes the first answer. When that was the bad one and the client never
        // dialled any other answer's address, the tampering is why the fetch failed.
        let taken_bad = first_forged || first_sinkhole;
        let others_dialled = group
            .iter()
            .skip(1)
            .flat_map(|g| g.addrs.iter())
            .any(|ip| !first.addrs.contains(ip) && d.dialled(*ip));
        // Dialling the bad answer's address is part of the failure (a routable host that
        // refuses, or one that never answers); only a connection there that did its job
        // would mean the answer did no harm.
        let failed_because = distinct.len() > 1
            && public_go
            && taken_bad
            && !others_dialled
            && !first.addrs.iter().any(|ip| d.served_from(*ip));
        let taken = first.addrs.first().copied();
        let evidence = group
            .iter()
            .map(|g| {
                let (f, ts) = response_or_query(&g.rec);
                ev(f, Some(ts), format!("answer {:?}", g.addrs))
            })
            .collect();
        let misdirected = if failed_because {
            first.addrs.clone()
        } else {
            Vec::new()
        };
        let finding = Finding {
            stage: Stage::Dns,
            kind: FindingKind::DnsSuspiciousAnswer,
            severity: if failed_because {
                Severity::Error
            } else {
                Severity::Warning
            },
            actor,
            connection: Some(first.rec.id as u64),
            server_name: Some(name.clone()),
            server: Some(resolver.to_string()),
            summary: format!("Suspicious DNS answer for {name}: {}.", why.join("; ")),
            likely_go_error: taken.filter(|_| failed_because).map(|ip| {
                let a = std::net::SocketAddr::new(ip, 443);
                if is_sinkhole(ip) {
                    format!("dial tcp {a}: connect: connection refused")
                } else {
                    format!("dial tcp {a}: i/o timeout")
                }
            }),
            remedy: Some(format!(
                "The answers for {name} are being tampered with: use a resolver you trust over an encrypted or unfiltered path, or set GOPROXY to a mirror that is reachable; tell the network team."
            )),
            evidence,
        };
        out.push((finding, misdirected));
    }
    out
}
