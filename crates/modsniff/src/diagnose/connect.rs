//! Stage `connect`: SYNs unanswered, or refused by a RST or an ICMP error.

use super::actor::{INITIAL_TTLS, Sender, TtlRange, judge_server_rsts, same_subnet, server_rsts};
use super::finding::*;
use super::{ConnFacts, Diagnoser, addr, ev, remedy};
use crate::go::GoRole;

/// Returns true when the connection never got past the TCP handshake (nothing later applies).
pub fn detect(f: &ConnFacts<'_>, d: &Diagnoser, out: &mut Vec<(Finding, bool)>) -> bool {
    let c = f.c;
    let cs = &c.client_stats;
    let ss = &c.server_stats;
    if cs.syn_frames.is_empty() || !ss.syn_frames.is_empty() || ss.bytes > 0 {
        return false;
    }
    let target = addr(c.server);
    let is_proxy = f.role == Some(GoRole::HttpProxy);
    let who = if is_proxy { "the proxy" } else { "the server" };
    let first_syn = cs.syn_frames.first().copied().unwrap_or(0);
    let mut evidence = vec![ev(first_syn, cs.ts_first, "SYN")];
    let rsts = server_rsts(c);
    if let Some(r) = rsts.first() {
        evidence.push(ev(
            r.packet,
            Some(r.ts),
            format!("RST from {target} (TTL {})", r.ttl),
        ));
        let elsewhere = d.ttl_elsewhere(c.server.ip());
        let (actor, why) = match refused_by(c, r.ttl, elsewhere) {
            Sender::Server => (
                if is_proxy {
                    Actor::Proxy
                } else {
                    Actor::Server
                },
                String::new(),
            ),
            Sender::Middlebox(w) => (
                Actor::Middlebox,
                format!(" The reset was forged: {}.", w.join("; ")),
            ),
        };
        let summary = format!(
            "TCP connection to {}{target} refused: the SYN was answered with a reset{}.{why}",
            name_prefix(f),
            if actor == Actor::Middlebox {
                " by a middlebox"
            } else {
                ""
            }
        );
        let remedy = if actor == Actor::Middlebox {
            format!(
                "A firewall rejects connections to {target}. {}",
                remedy::NETWORK_TEAM
            )
        } else if is_proxy {
            "Nothing listens on the proxy's port: check HTTPS_PROXY (host and port) and that the proxy runs.".to_string()
        } else {
            format!(
                "Nothing accepts connections on {target}: check the host and port in GOPROXY, and that the service there runs. {}",
                remedy::alternative(f.role, f.name.as_deref())
            )
        };
        out.push((
            Finding {
                stage: Stage::Connect,
                kind: FindingKind::ConnectRefused,
                severity: Severity::Error,
                actor,
                connection: Some(c.id),
                server_name: f.name_owned(),
                server: Some(target.clone()),
                summary,
                likely_go_error: Some(go_dial(is_proxy, &target, "connect: connection refused")),
                remedy: Some(remedy),
                evidence,
            },
            true,
        ));
        return true;
    }
    if let Some(i) = c.icmp.first() {
        let unreachable = (!i.v6 && i.icmp_type == 3) || (i.v6 && i.icmp_type == 1);
        if unreachable {
            let (what, errno) = icmp_meaning(i.v6, i.code);
            evidence.push(ev(
                i.packet,
                Some(i.ts),
                format!("ICMP {what} from {}", i.from),
            ));
            let from_server = i.from == c.server.ip();
            let actor = if from_server {
                if is_proxy {
                    Actor::Proxy
                } else {
                    Actor::Server
                }
            } else {
                Actor::Middlebox
            };
            out.push((
                Finding {
                    stage: Stage::Connect,
                    kind: FindingKind::ConnectRefused,
                    severity: Severity::Error,
                    actor,
                    connection: Some(c.id),
                    server_name: f.name_owned(),
                    server: Some(target.clone()),
                    summary: format!(
                        "TCP connection to {}{target} rejected: {} answered the SYN with ICMP {what}.",
                        name_prefix(f),
                        if from_server { format!("{who} itself") } else { format!("the router {}", i.from) }
                    ),
                    likely_go_error: Some(go_dial(is_proxy, &target, &format!("connect: {errno}"))),
                    remedy: Some(if from_server {
                        format!("Check that {target} is the right address and port.")
                    } else {
                        format!("A router or firewall ({}) rejects traffic to {target}. {}", i.from, remedy::NETWORK_TEAM)
                    }),
                    evidence,
                },
                true,
            ));
            return true;
        }
    }
    // Nothing came back at all.
    if c.server_stats.packets > 0 {
        return false;
    }
    let n = cs.syn_frames.len();
    // One SYN and nothing after it proves nothing yet: the capture must show the client
    // retrying, or going on long enough for an answer to have come.
    if n < 2 && d.seen_after(cs.ts_first.unwrap_or(c.ts_first)) < 3.0 {
        return false;
    }
    if let Some(&last) = cs.syn_frames.last()
        && n > 1
    {
        evidence.push(ev(last, cs.ts_last, format!("SYN #{n}, still unanswered")));
    }
    let waited = c.ts_last.since(c.ts_first).as_secs_f64();
    out.push((
        Finding {
            stage: Stage::Connect,
            kind: FindingKind::ConnectTimeout,
            severity: Severity::Error,
            actor: Actor::Unknown,
            connection: Some(c.id),
            server_name: f.name_owned(),
            server: Some(target.clone()),
            summary: format!(
                "TCP connection to {}{target} timed out: {n} SYN{} over {waited:.1} s and no answer (packets are silently dropped on the way, or {who} is down).",
                name_prefix(f),
                if n == 1 { "" } else { "s" }
            ),
            likely_go_error: Some(go_dial(is_proxy, &target, "i/o timeout")),
            remedy: Some(if is_proxy {
                "The proxy does not answer: check HTTPS_PROXY and that the proxy is reachable from this host.".to_string()
            } else {
                format!("Something drops the connection attempts to {target} (a firewall, or a host that is down): if this network reaches the internet only through an HTTP proxy, set HTTPS_PROXY=http://PROXY:PORT; otherwise ask the network team, quoting the evidence frames. {}", remedy::alternative(f.role, f.name.as_deref()))
            }),
            evidence,
        },
        true,
    ));
    true
}

fn name_prefix(f: &ConnFacts<'_>) -> String {
    f.name
        .as_ref()
        .map(|n| format!("{n} at "))
        .unwrap_or_default()
}

fn go_dial(is_proxy: bool, target: &str, tail: &str) -> String {
    if is_proxy {
        format!("proxyconnect tcp: dial tcp {target}: {tail}")
    } else {
        format!("dial tcp {target}: {tail}")
    }
}

/// Who answered a SYN with a RST, judged by its TTL.
fn refused_by(c: &modsniff_core::Connection, ttl: u8, elsewhere: Option<TtlRange>) -> Sender {
    if let Some(r) = elsewhere {
        if ttl < r.min || ttl > r.max {
            return Sender::Middlebox(vec![format!(
                "its TTL {ttl} differs from what {} sends elsewhere in the capture ({}-{})",
                c.server.ip(),
                r.min,
                r.max
            )]);
        }
        return Sender::Server;
    }
    let rsts = server_rsts(c);
    match judge_server_rsts(c, &rsts, None) {
        Sender::Middlebox(w) => Sender::Middlebox(w),
        Sender::Server
            if INITIAL_TTLS.contains(&ttl) && !same_subnet(c.client.ip(), c.server.ip()) =>
        {
            Sender::Middlebox(vec![format!(
                "it arrived with TTL {ttl}, an initial value: the adjacent hop made it"
            )])
        }
        s => s,
    }
}

/// What an ICMP unreachable code means, and the errno the go command prints for it.
fn icmp_meaning(v6: bool, code: u8) -> (&'static str, &'static str) {
    if v6 {
        match code {
            0 => ("no route to destination", "no route to host"),
            1 => (
                "communication administratively prohibited",
                "permission denied",
            ),
            3 => ("address unreachable", "no route to host"),
            4 => ("port unreachable", "connection refused"),
            _ => ("destination unreachable", "no route to host"),
        }
    } else {
        match code {
            0 => ("network unreachable", "network is unreachable"),
            1 => ("host unreachable", "no route to host"),
            3 => ("port unreachable", "connection refused"),
            9 | 10 | 13 => (
                "communication administratively prohibited",
                "no route to host",
            ),
            _ => ("destination unreachable", "no route to host"),
        }
    }
}
