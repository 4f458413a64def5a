//! Stage `proxy`: the HTTP proxy the go command tunnels through (HTTPS_PROXY) refuses,
//! demands credentials, denies, fails, or hangs up.

use super::finding::*;
use super::{ConnFacts, Diagnoser, addr, ev};
use crate::go::GoSettings;
use modsniff_core::Connection;
use modsniff_core::Side;

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
                server_name: f.name.clone(),
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
            let (kind, remedy) = if s == 403 || s == 401 {
                (
                    FindingKind::ProxyDenied,
                    "The proxy's policy forbids this destination: ask for proxy.golang.org and sum.golang.org (or your mirror) to be allowed, or set GOPROXY to a mirror the proxy allows.",
                )
            } else {
                (
                    FindingKind::ProxyError,
                    "The proxy could not reach the destination: check the proxy's logs; its upstream may be down or blocked.",
                )
            };
            let summary = format!("The proxy {proxy} answered CONNECT {target} with {s} {reason}.");
            out.push((
                finding(kind, summary, reason.clone(), remedy, Some(r)),
                false,
            ));
            true
        }
        None => {
            // No answer: the proxy hung up, or never answered.
            let closed = c.server_stats.fin_frame.or_else(|| {
                c.resets
                    .iter()
                    .find(|r| r.from == Side::Server)
                    .map(|r| r.packet)
            });
            let summary = match closed {
                Some(fr) => format!(
                    "The proxy {proxy} closed the connection (frame {fr}) without answering CONNECT {target}."
                ),
                None => format!("The proxy {proxy} never answered CONNECT {target}."),
            };
            let e = closed.map(|fr| ev(fr, Some(c.ts_last), "proxy closed the connection"));
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
