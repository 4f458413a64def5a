//! Stage `http`: plaintext answers that say no (an http:// GOPROXY, a proxy's absolute-form
//! request).

use super::finding::*;
use super::{ConnFacts, Diagnoser, addr, ev, remedy};
use crate::go::paths;

pub fn detect(f: &ConnFacts<'_>, d: &Diagnoser, out: &mut Vec<(Finding, bool)>) {
    let c = f.c;
    for tx in &c.http {
        let Some(status) = tx.status else { continue };
        if tx.method.as_deref() == Some("CONNECT") || status < 400 {
            continue;
        }
        // A response whose request line never arrived (lost, or injected past it): what was
        // asked is unknown, and is said so rather than printed empty.
        let request_seen = tx.uri.is_some();
        let uri = tx.uri.clone().unwrap_or_default();
        // An absolute-form request goes to a forward proxy (HTTP_PROXY with an http://
        // GOPROXY): the answer may be the proxy's own page rather than the origin's.
        if f.via_proxy && uri.contains("://") {
            let marks = super::proxy::own_page_marks(tx);
            if status == 407 || (!marks.is_empty() && status != 404 && status != 410) {
                out.push((super::proxy::own_page_finding(f, tx, &uri, marks), false));
                continue;
            }
        }
        if status == 407 {
            continue;
        }
        let url = if uri.contains("://") {
            uri.clone()
        } else {
            let host = tx.host.clone().unwrap_or_else(|| addr(c.server));
            format!("http://{host}{uri}")
        };
        let go = paths::parse(&uri);
        let reason = tx.reason().unwrap_or("").to_string();
        let not_found = status == 404 || status == 410;
        let what = match &go {
            Some(g) => format!(
                "{}{} ({:?})",
                g.module.as_deref().unwrap_or("checksum database"),
                g.version
                    .as_ref()
                    .map(|v| format!("@{v}"))
                    .unwrap_or_default(),
                g.endpoint
            ),
            None if request_seen => uri.clone(),
            None => "a request not seen in the capture".to_string(),
        };
        let host = url
            .split("://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or("");
        // Not a module fetch (a favicon, a web page): context, not the go command's failure.
        let is_go = go.is_some() || f.role.is_some();
        let severity = match (is_go, status) {
            (true, _) => Severity::Error,
            (false, s) if s >= 500 => Severity::Warning,
            (false, _) => Severity::Info,
        };
        let in_list = d.settings().is_configured_proxy(host);
        let summary = if !request_seen {
            format!(
                "{} answered {status} {reason} to a request not seen in the capture: which module or path it refused is unknown.",
                addr(c.server)
            )
        } else if not_found {
            format!(
                "{} answered {status} {reason} for {what}: it does not have this module or version.{}",
                addr(c.server),
                if in_list.is_some() {
                    " With GOPROXY's ',' the go command falls through to the next entry on 404/410."
                } else {
                    ""
                }
            )
        } else {
            format!("{} answered {status} {reason} for {what}.", addr(c.server))
        };
        let remedy = if not_found {
            format!("Check the module path and version. {}", remedy::PRIVATE)
        } else if status >= 500 {
            let alt = remedy::alternative(f.role, f.name.as_deref());
            if alt.contains("'|'") {
                format!("The module proxy is failing: whoever runs it must look at its logs. {alt}")
            } else {
                format!(
                    "The module proxy is failing. {alt} Use '|' between GOPROXY entries to fall through on any error."
                )
            }
        } else {
            "The server refuses the request: check credentials (.netrc / GOAUTH) and the URL."
                .to_string()
        };
        out.push((
            Finding {
                stage: Stage::Http,
                kind: if not_found {
                    FindingKind::HttpNotFound
                } else {
                    FindingKind::HttpError
                },
                severity,
                actor: Actor::Server,
                connection: Some(c.id),
                server_name: f.name_owned(),
                server: Some(addr(c.server)),
                summary,
                likely_go_error: request_seen.then(|| format!("reading {url}: {status} {reason}")),
                remedy: Some(remedy),
                evidence: if request_seen {
                    vec![
                        ev(
                            tx.request_frame().unwrap_or(0),
                            tx.request_ts(),
                            format!("{} {uri}", tx.method.as_deref().unwrap_or("GET")),
                        ),
                        ev(
                            tx.response_frame().unwrap_or(0),
                            tx.response_ts(),
                            format!("{status} {reason}"),
                        ),
                    ]
                } else {
                    vec![ev(
                        tx.response_frame().unwrap_or(0),
                        tx.response_ts(),
                        format!("{status} {reason} (its request was not seen)"),
                    )]
                },
            },
            // A later success for the same target (a GOPROXY fallback) softens it.
            true,
        ));
    }
}
