//! Stage `proxy`: the HTTP proxy the go command tunnels through (HTTPS_PROXY) refuses,
//! demands credentials, denies, fails, or hangs up.

use super::finding::*;
use super::{ConnFacts, Diagnoser, addr, ev};
use crate::go::GoSettings;
use modsniff_core::Connection;
use modsniff_core::Side;

/// Forward-proxy products as their own pages name them in `Server` or `Via` (data, lower case;
/// never the only test: a mark is reported with what it was).
pub const PROXY_PRODUCTS: &[&str] = &[
    "squid",
    "tinyproxy",
    "privoxy",
    "polipo",
    "zscaler",
    "bluecoat",
    "blue coat",
    "proxysg",
    "mcafee web gateway",
    "webwasher",
    "forcepoint",
    "websense",
    "fortigate",
    "fortiproxy",
    "sophos",
    "ironport",
    "cisco wsa",
    "netskope",
    "ccproxy",
    "wingate",
    "apache traffic server",
    "trafficserver",
    "kerio",
    "untangle",
];

/// Gateway statuses (RFC 9110 15.6.3, 15.6.5): what a proxy says when it could not get an
/// answer from upstream.
const GATEWAY_STATUSES: [u16; 2] = [502, 504];

/// What shows that a response on a proxy connection is the proxy's own page, not the origin's
/// answer relayed: a `Server` naming a proxy product (a relayed answer keeps the origin's
/// `Server`), a reason phrase that speaks of the proxy (Apache's "502 Proxy Error"), a
/// gateway status with the proxy's `Via`. Empty when nothing does.
pub fn own_page_marks(tx: &modsniff_core::http::HttpTransaction) -> Vec<String> {
    let mut marks = Vec::new();
    let names_product = |v: &str| {
        let l = v.to_ascii_lowercase();
        PROXY_PRODUCTS.iter().any(|p| l.contains(p))
    };
    if let Some(s) = tx.server.as_deref().filter(|s| names_product(s)) {
        marks.push(format!("Server: {s} names a proxy product"));
    }
    if let Some(r) = tx
        .reason()
        .filter(|r| r.to_ascii_lowercase().contains("proxy"))
    {
        marks.push(format!("the reason phrase \"{r}\" speaks of the proxy"));
    }
    if let (Some(v), Some(st)) = (tx.via.as_deref(), tx.status)
        && GATEWAY_STATUSES.contains(&st)
    {
        marks.push(format!("a gateway error ({st}) with the proxy's Via: {v}"));
    }
    marks
}

/// The proxy's own answer to an absolute-form request (`GET http://host/...`): it could not
/// fetch from `host` (5xx), refuses it (403), or wants credentials (407).
pub fn own_page_finding(
    f: &ConnFacts<'_>,
    tx: &modsniff_core::http::HttpTransaction,
    uri: &str,
    marks: Vec<String>,
) -> Finding {
    let c = f.c;
    let proxy = addr(c.server);
    let status = tx.status.unwrap_or(0);
    let reason = tx.reason().unwrap_or("").to_string();
    let host = uri
        .split_once("://")
        .and_then(|(_, r)| r.split('/').next())
        .unwrap_or("")
        .to_string();
    let (kind, what, remedy) = match status {
        407 => (
            FindingKind::ProxyAuthRequired,
            format!(
                "it wants credentials (it asks for {})",
                tx.proxy_authenticate().unwrap_or("an unknown scheme")
            ),
            "Put the credentials in the proxy URL: HTTP_PROXY=http://USER:PASSWORD@proxy:port (URL-encode special characters); NTLM/Kerberos-only proxies need a local relay such as cntlm.".to_string(),
        ),
        401 | 403 => (
            FindingKind::ProxyDenied,
            format!("its policy refuses {host}"),
            format!("Ask for {host} to be allowed through the proxy, or, if it is inside the company network, exempt it: NO_PROXY={host}."),
        ),
        _ => (
            FindingKind::ProxyError,
            format!("it could not get the answer from {host}"),
            format!("The proxy could not reach {host}: its logs name the cause (name resolution, a refused or timed-out connection upstream). If {host} is inside the company network, exempt it from the proxy: NO_PROXY={host}."),
        ),
    };
    let mut summary =
        format!("The proxy {proxy} answered GET {uri} itself with {status} {reason}: {what}.");
    if !marks.is_empty() {
        summary.push_str(&format!(
            " What shows it is the proxy's own page, not {host}'s answer: {}.",
            marks.join("; ")
        ));
    }
    Finding {
        stage: Stage::Proxy,
        kind,
        severity: Severity::Error,
        actor: Actor::Proxy,
        connection: Some(c.id),
        server_name: f.name_owned(),
        server: Some(proxy),
        summary,
        likely_go_error: Some(format!("reading {uri}: {status} {reason}")),
        remedy: Some(remedy),
        evidence: vec![
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
        ],
    }
}

/// Ports proxies listen on, for captures whose HTTPS_PROXY setting we don't know.
const PROXY_PORTS: &[u16] = &[3128, 3129, 8080, 8118, 8888, 1080, 8000, 9090];

/// The connection goes to an HTTP proxy.
pub fn is_proxy_connection(c: &Connection, s: &GoSettings) -> bool {
    if c.http.iter().any(|h| {
        h.method.as_deref() == Some("CONNECT")
            || h.uri.as_deref().is_some_and(|u| u.contains("://"))
    }) {
        return true;
    }
    if let Some(p) = s.proxy_host() {
        let port = p
            .rsplit(':')
            .next()
            .and_then(|x| x.parse::<u16>().ok())
            .unwrap_or(80);
        let host = p
            .rsplit_once(':')
            .map_or(p.as_str(), |(h, _)| h)
            .to_string();
        if c.server.port() == port
            && (c.server.ip().to_string() == host
                || c.server_name.as_deref() == Some(host.as_str()))
        {
            return true;
        }
    }
    // A connection that never carried data to a typical proxy port.
    c.http.is_empty() && c.tls.is_none() && PROXY_PORTS.contains(&c.server.port())
}

/// The host the client asked the proxy to tunnel to.
pub fn connect_target(c: &Connection) -> Option<String> {
    let t = c
        .http
        .iter()
        .find(|h| h.method.as_deref() == Some("CONNECT"))?;
    let u = t.uri.as_deref()?;
    Some(
        u.rsplit_once(':')
            .map_or(u, |(h, _)| h)
            .trim_matches(['[', ']'])
            .to_string(),
    )
}

pub fn detect(f: &ConnFacts<'_>, _d: &Diagnoser, out: &mut Vec<(Finding, bool)>) -> bool {
    let c = f.c;
    let Some(tx) = c
        .http
        .iter()
        .find(|h| h.method.as_deref() == Some("CONNECT"))
    else {
        return false;
    };
    let proxy = addr(c.server);
    let target = tx.uri.clone().unwrap_or_default();
    let req_ev = ev(
        tx.request_frame().unwrap_or(0),
        tx.request_ts(),
        format!("CONNECT {target}"),
    );
    let finding =
        |kind, summary: String, go: String, remedy: &str, resp_ev: Option<super::Evidence>| {
            let mut evidence = vec![req_ev.clone()];
            evidence.extend(resp_ev);
            Finding {
                stage: Stage::Proxy,
                kind,
                severity: Severity::Error,
                actor: Actor::Proxy,
                connection: Some(c.id),
                server_name: f.name_owned(),
                server: Some(proxy.clone()),
                summary,
                likely_go_error: Some(go),
                remedy: Some(remedy.to_string()),
                evidence,
            }
        };
    match tx.status {
        Some(s) if (200..300).contains(&s) => false,
        Some(407) => {
            let scheme = tx
                .proxy_authenticate()
                .unwrap_or("an unknown scheme")
                .to_string();
            let sent = tx.has_proxy_authorization();
            let summary = format!(
                "The proxy {proxy} refused CONNECT {target} with 407 Proxy Authentication Required (it asks for {scheme}); the request {} credentials.",
                if sent { "carried wrong" } else { "carried no" }
            );
            let r = ev(
                tx.response_frame().unwrap_or(0),
                tx.response_ts(),
                "407 Proxy Authentication Required",
            );
            out.push((
                finding(
                    FindingKind::ProxyAuthRequired,
                    summary,
                    "Proxy Authentication Required".into(),
                    "Put the credentials in the proxy URL: HTTPS_PROXY=http://USER:PASSWORD@proxy:port (URL-encode special characters); NTLM/Kerberos-only proxies need a local relay such as cntlm.",
                    Some(r),
                ),
                false,
            ));
            true
        }
        Some(s) => {
            let reason = tx.reason().unwrap_or("").to_string();
            let r = ev(
                tx.response_frame().unwrap_or(0),
                tx.response_ts(),
                format!("{s} {reason}"),
            );
            let host = target.rsplit_once(':').map_or(target.as_str(), |(h, _)| h);
            let (kind, remedy, what) = if s == 403 || s == 401 {
                (
                    FindingKind::ProxyDenied,
                    format!(
                        "The proxy's policy forbids {host}: ask for it to be allowed (for the go command: proxy.golang.org and sum.golang.org, or your company's module proxy), or set GOPROXY to a module proxy the proxy allows."
                    ),
                    "its policy refuses the destination",
                )
            } else if s == 501 || s == 405 {
                (
                    FindingKind::ProxyError,
                    format!(
                        "HTTPS_PROXY must name a forward proxy that supports CONNECT; {proxy} is not one (check the host and port in HTTPS_PROXY)."
                    ),
                    "it does not implement CONNECT: what listens there is not an HTTPS forward proxy",
                )
            } else {
                (
                    FindingKind::ProxyError,
                    format!(
                        "The proxy could not reach {host}: its logs name the cause (name resolution, a refused or timed-out connection upstream). If {host} is inside the company network, exempt it from the proxy: NO_PROXY={host}."
                    ),
                    "it could not open the tunnel upstream",
                )
            };
            let marks = own_page_marks(tx);
            let summary = format!(
                "The proxy {proxy} answered CONNECT {target} with {s} {reason}: {what}.{}",
                if marks.is_empty() {
                    String::new()
                } else {
                    format!(" The answer is the proxy's own page: {}.", marks.join("; "))
                }
            );
            out.push((
                finding(kind, summary, reason.clone(), &remedy, Some(r)),
                false,
            ));
            true
        }
        None => {
            // No answer: the proxy hung up, or never answered.
            let closed_at = c
                .server_stats
                .fin_frame
                .map(|f| (f, c.server_stats.fin_ts))
                .or_else(|| {
                    c.resets
                        .iter()
                        .find(|r| r.from == Side::Server)
                        .map(|r| (r.packet, Some(r.ts)))
                });
            let closed = closed_at.map(|(f, _)| f);
            let summary = match closed {
                Some(fr) => format!(
                    "The proxy {proxy} closed the connection (frame {fr}) without answering CONNECT {target}."
                ),
                None => format!("The proxy {proxy} never answered CONNECT {target}."),
            };
            let e = closed_at.map(|(fr, ts)| ev(fr, ts, "proxy closed the connection"));
            out.push((
                finding(
                    FindingKind::ProxyError,
                    summary,
                    // Go 1.20+ reads the CONNECT answer with http.ReadResponse: a bare close is
                    // "unexpected EOF" (older releases said "proxyconnect tcp: EOF").
                    "unexpected EOF".into(),
                    "The proxy drops the tunnel request: check its logs and whether it allows CONNECT to port 443.",
                    e,
                ),
                false,
            ));
            true
        }
    }
}
