//! Stage `tls`: the handshake was reset, stalled, aborted by an alert, intercepted, or
//! downgraded.

use super::actor::{
    INITIAL_TTLS, Sender, came_before, judge_server_rsts, reset_at, same_subnet,
    server_closed_first, server_rsts,
};
use super::cert;
use super::finding::*;
use super::tlsview::{ALERT_RECORD_MAX, CertView, TlsView, alert_sized};
use super::{ConnFacts, Diagnoser, addr, ev, remedy};
use crate::go::classify_host;
use modsniff_core::Side;
use modsniff_core::tls::RecordNote;
use std::net::IpAddr;

/// Go gives up on a handshake after 10 s (net/http's TLSHandshakeTimeout).
const GO_TLS_TIMEOUT_SECS: f64 = 10.0;
/// A handshake silent this long is reported as a stall even when the capture stopped earlier.
const STALL_SECS: f64 = 5.0;
/// Alerts that refuse a connection by policy rather than for something wrong in the
/// ClientHello: access_denied (49) and internal_error (80), what TLS-inspecting boxes send for
/// names they block.
const POLICY_ALERTS: [u8; 2] = [49, 80];

/// Issuer fragments of TLS interception products (data, never the only test).
pub const INTERCEPTION_ISSUERS: &[&str] = &[
    "zscaler",
    "fortinet",
    "fortigate",
    "palo alto",
    "paloalto",
    "blue coat",
    "bluecoat",
    "symantec web",
    "cisco umbrella",
    "opendns",
    "sophos",
    "kaspersky",
    "eset",
    "avast",
    "avg ",
    "bitdefender",
    "fiddler",
    "mitmproxy",
    "burp",
    "portswigger",
    "charles proxy",
    "netskope",
    "forcepoint",
    "websense",
    "mcafee web",
    "checkpoint",
    "check point",
    "barracuda",
    "untangle",
    "smoothwall",
    "lightspeed",
    "securly",
    "contentkeeper",
    "inspection",
    "ssl inspect",
    "tls inspect",
    "decrypt",
    "intercept",
];

pub fn is_interception_issuer(issuer: &str) -> bool {
    let i = issuer.to_ascii_lowercase();
    INTERCEPTION_ISSUERS.iter().any(|p| i.contains(p))
}

pub fn detect(f: &ConnFacts<'_>, d: &Diagnoser, out: &mut Vec<(Finding, bool)>) -> bool {
    let c = f.c;
    let Some(t) = &f.tls else { return false };
    let Some(hello) = &t.client_hello else {
        return false;
    };
    // `ip:port` in the texts below (Display, as `addr`): built only when a finding is.
    let target = c.server;
    let name: Option<&str> = f.name.as_deref().or(hello.sni);
    // The ClientHello's evidence line, built only for a finding (most connections have none).
    let hello_ev = || {
        ev(
            hello.last_frame.max(hello.first_frame),
            hello.ts,
            format!(
                "ClientHello{}{}",
                hello
                    .sni
                    .as_ref()
                    .map(|s| format!(" SNI={s}"))
                    .unwrap_or_default(),
                if hello.segments > 1 {
                    format!(" ({} TCP segments)", hello.segments)
                } else {
                    String::new()
                }
            ),
        )
    };
    let base =
        |kind, severity, actor, summary: String, go: Option<String>, remedy: String, evidence| {
            Finding {
                stage: Stage::Tls,
                kind,
                severity,
                actor,
                connection: Some(c.id),
                server_name: name.map(str::to_string),
                server: Some(addr(target)),
                summary,
                likely_go_error: go,
                remedy: Some(remedy),
                evidence,
            }
        };
    let rsts = server_rsts(c);
    let in_tunnel = f.via_proxy;

    // 1. Reset before the ServerHello. What came first decides: a reset that beat the
    // server's reply ended the handshake, whatever arrived after it (an on-path injector races
    // the real server, whose reply then meets the client's kernel and its own RST).
    if let Some(r) = rsts.first()
        && t.server_hello
            .as_ref()
            .is_none_or(|sh| came_before(reset_at(r), (sh.ts, sh.frame)))
    {
        // In a tunnel the reset is the proxy's; for a public host, whose genuine server always
        // answers a ClientHello, it ends the tunnel on the hello: the proxy's policy or a
        // firewall behind it (as with a FIN, below).
        let sender = if in_tunnel && is_public(name) {
            Sender::Middlebox(vec![format!(
                "the proxy {target} reset its tunnel on the hello, and the genuine {} answers every ClientHello",
                name.unwrap_or("server")
            )])
        } else if in_tunnel {
            Sender::Server
        } else {
            match judge_server_rsts(c, &rsts, d.ttl_elsewhere(c.server.ip())) {
                // Every packet of the "server", its SYN-ACK included, carries an initial TTL
                // from beyond the client's subnet: the adjacent hop took the connection for
                // it (a transparent proxy or inspection box) and reset it itself, whatever
                // made it give up (often its own connection to the server failing).
                Sender::Server if sender_of_server_packets(f, d) == Actor::Middlebox => {
                    Sender::Middlebox(vec![format!(
                        "the \"server\" answers with TTL {} on every packet, its SYN-ACK included, an initial value: the adjacent hop (a transparent proxy or TLS inspection box) accepted the connection in the server's place and reset it itself, most likely because its own connection to the server failed",
                        c.server_stats.ttl_max.unwrap_or(0)
                    )])
                }
                s => s,
            }
        };
        let (actor, why) = match &sender {
            Sender::Middlebox(w) => (
                Actor::Middlebox,
                format!(" The reset was forged by a middlebox: {}.", w.join("; ")),
            ),
            Sender::Server => (
                if in_tunnel {
                    Actor::Proxy
                } else {
                    Actor::Server
                },
                String::new(),
            ),
        };
        let sni = hello.sni.unwrap_or("(no SNI)");
        let late = t
            .server_hello
            .as_ref()
            .map(|sh| {
                format!(
                    " The server's ServerHello came only after the reset (frame {}): the reset won the race, and the client's kernel answered the late reply with resets of its own.",
                    sh.frame
                )
            })
            .unwrap_or_default();
        let summary = format!(
            "The TLS handshake with {target} was reset right after the ClientHello (SNI {sni}), before any answer from the server.{why}{late}"
        );
        let remedy = if actor == Actor::Middlebox {
            format!(
                "A firewall blocks connections that name {sni} in the ClientHello (SNI filtering). {} Or: {}",
                remedy::NETWORK_TEAM,
                remedy::alternative(f.role, f.name.as_deref())
            )
        } else {
            format!(
                "The server refused the handshake: check that {target} serves TLS for {sni}. {}",
                remedy::alternative(f.role, f.name.as_deref())
            )
        };
        let mut evidence = vec![
            hello_ev(),
            ev(r.packet, Some(r.ts), format!("RST (TTL {})", r.ttl)),
        ];
        if let Some(ttl) = c.server_stats.ttl_min
            && let Some(&syn) = c.server_stats.syn_frames.first()
        {
            evidence.push(ev(
                syn,
                c.server_stats.ts_first,
                format!("SYN-ACK from the server (TTL {ttl})"),
            ));
        }
        if let Some(sh) = &t.server_hello {
            evidence.push(ev(
                sh.frame,
                sh.ts,
                "the real server's ServerHello, after the reset",
            ));
        }
        let local = c.client;
        out.push((
            base(
                FindingKind::ResetAfterClientHello,
                Severity::Error,
                actor,
                summary,
                Some(format!(
                    "read tcp {local}->{target}: read: connection reset by peer"
                )),
                remedy,
                evidence,
            ),
            true,
        ));
        return true;
    }

    // 1b. Closed (FIN) right after the ClientHello, before any TLS byte from the server and
    // before the client closed: the shape a reset takes when a proxy is in between (the
    // proxy's own connection to the server was reset or refused, and it ends the client's
    // tunnel with a FIN), and that of a filter that closes instead of resetting.
    if let Some(fin) = c.server_stats.fin_frame
        && let Some(fin_ts) = c.server_stats.fin_ts
        && server_closed_first(c)
        && came_before(
            (hello.ts, hello.last_frame.max(hello.first_frame)),
            (Some(fin_ts), fin),
        )
        && t.server_hello.is_none()
        && t.server_records.is_empty()
        && !t.alerts.iter().any(|a| a.from == Side::Server)
        // Nothing at all from the server after the hello (a proxy's `200` comes before it):
        // a server that answers TLS with an HTTP error page and closes did answer.
        && c
            .server_stats
            .last_data_frame
            .is_none_or(|d| came_before(
                (c.server_stats.last_data_ts, d),
                (hello.ts, hello.first_frame)
            ))
        && hello
            .ts
            .is_some_and(|h| fin_ts.since(h).as_secs_f64() < STALL_SECS)
    {
        let sni = hello.sni.unwrap_or("(no SNI)");
        let public = is_public(name);
        let (actor, who) = if in_tunnel {
            if public {
                // The genuine public host always answers a ClientHello: the proxy, or a
                // firewall behind it, ended the tunnel on seeing this one.
                (
                    Actor::Middlebox,
                    format!(
                        "The proxy {target} ended its tunnel with a FIN right after the ClientHello (SNI {sni}), before any answer: its own connection to the server was cut as soon as the hello went through (the proxy's policy, or a firewall behind it resetting connections that name {sni})."
                    ),
                )
            } else {
                // Any other host: a TLS server that refuses a hello says why with an alert,
                // and one that does not speak TLS there answers with something else (an HTTP
                // error); a bare close of the proxy's connection on the hello is what filters
                // reading the SNI do.
                (
                    Actor::Middlebox,
                    format!(
                        "The proxy {target} ended its tunnel with a FIN right after the ClientHello (SNI {sni}), before any answer: its own connection to the server was cut as soon as the hello went through. A TLS server that refuses a hello answers with an alert, and nothing came back: most likely a filter between the proxy and the server resetting connections that name {sni} (or a front end of the server that drops names it does not serve)."
                    ),
                )
            }
        } else {
            let actor = sender_of_server_packets(f, d);
            let by = if actor == Actor::Middlebox {
                " The closing packets come with an initial TTL: the adjacent hop, not the server, sent them."
            } else {
                ""
            };
            (
                actor,
                format!(
                    "The TLS handshake with {target} was closed (FIN) right after the ClientHello (SNI {sni}), before any answer from the server.{by}"
                ),
            )
        };
        let remedy = if actor == Actor::Middlebox {
            format!(
                "Something between the client and the server refuses connections that name {sni} (SNI filtering{}). {} Or: {}",
                if in_tunnel {
                    ", at the proxy or behind it"
                } else {
                    ""
                },
                remedy::NETWORK_TEAM,
                remedy::alternative(f.role, f.name.as_deref())
            )
        } else {
            format!(
                "Check that {} serves TLS for {sni}. {}",
                name.unwrap_or("the server"),
                remedy::alternative(f.role, f.name.as_deref())
            )
        };
        out.push((
            base(
                FindingKind::ResetAfterClientHello,
                Severity::Error,
                actor,
                who,
                Some("EOF".into()),
                remedy,
                vec![
                    hello_ev(),
                    ev(fin, Some(fin_ts), "FIN from the server's side"),
                ],
            ),
            true,
        ));
        return true;
    }

    // 2. Plaintext alert during the handshake.
    // A warning-level alert (e.g. unrecognized_name) does not end a handshake.
    if let Some(a) = t.alerts.iter().find(|a| !a.encrypted && a.level != Some(1)) {
        let desc = a
            .description_name
            .map(str::to_string)
            .unwrap_or_else(|| format!("alert {}", a.description.unwrap_or(0)));
        let from_server = a.from == Side::Server;
        // A client that refuses the certificate it was shown: judged below, by what is wrong
        // with it (interception, or the server's own bad certificate).
        let refused_cert = !from_server
            && !t.certificates.is_empty()
            && (cert_problem(t)
                || a.description
                    .is_some_and(|d| cert::CERT_ALERTS.contains(&d)));
        // A client that refuses a certificate the capture does not hold (its packets were
        // cut short by the snap length, or lost): the alert says what the certificate would
        // have shown.
        if !from_server
            && t.certificates.is_empty()
            && a.description
                .is_some_and(|d| cert::CERT_ALERTS.contains(&d))
        {
            out.push((
                unseen_certificate_refused(f, d, name, &desc, a, &hello_ev),
                false,
            ));
            return true;
        }
        if !refused_cert {
            // Inside a proxy's CONNECT tunnel the TLS records are relayed from its far end:
            // the server (or a box between the proxy and it, which the capture cannot tell
            // apart), not the proxy, which only passes bytes.
            // Except a refusal by policy (access_denied, internal_error) of a public Go host
            // before any ServerHello: the genuine host completes handshakes with the go
            // command, so the proxy's own TLS inspection or a box behind it wrote it.
            let policy_refusal = from_server
                && in_tunnel
                && t.server_hello.is_none()
                && is_public(name)
                && a.description.is_some_and(|d| POLICY_ALERTS.contains(&d));
            let actor = if from_server {
                if policy_refusal {
                    Actor::Middlebox
                } else if in_tunnel {
                    Actor::Server
                } else {
                    sender_of_server_packets(f, d)
                }
            } else {
                Actor::Client
            };
            let mut summary = format!(
                "The TLS handshake with {target} was aborted by a {} alert from the {}: {desc}.",
                if a.level == Some(2) {
                    "fatal"
                } else {
                    "warning"
                },
                if from_server { "server" } else { "client" }
            );
            if policy_refusal {
                summary.push_str(&format!(
                    " It came through the proxy's tunnel before any ServerHello, and the genuine {} completes handshakes with the go command: the proxy's TLS inspection, or a box between the proxy and the server, refused the connection by policy.",
                    name.unwrap_or("server")
                ));
            }
            let go = if from_server {
                Some(format!(
                    "remote error: tls: {}",
                    a.description
                        .and_then(go_alert_text)
                        .map_or_else(|| desc.replace('_', " "), str::to_string)
                ))
            } else {
                None
            };
            let remedy = if from_server {
                let host = name.map_or_else(|| target.ip().to_string(), str::to_string);
                alert_remedy(actor, a.description, &desc, &host, hello.sni, f.role)
            } else {
                "The client rejected the server's handshake: see the go error.".to_string()
            };
            let evidence = vec![hello_ev(), ev(a.frame, a.ts, format!("TLS alert {desc}"))];
            out.push((
                base(
                    FindingKind::HandshakeAborted,
                    Severity::Error,
                    actor,
                    summary,
                    go,
                    remedy,
                    evidence,
                ),
                false,
            ));
            return true;
        }
    }

    // 3. A certificate the client refused, or interception it accepted.
    if let Some(found) = certificate(f, d, &hello_ev) {
        out.push((found, false));
        if t.client_ccs || t.client_encrypted_records > 1 {
            // Accepted: the connection went on; later stages still apply.
            return false;
        }
        return true;
    }

    // 4. Downgrade.
    if let Some(sh) = &t.server_hello
        && t.offered_tls13()
        && sh.version != 0x0304
        && sh.version != 0
        && !sh.hello_retry
    {
        // The public Go hosts speak TLS 1.3: an older version from them was negotiated by
        // something in between. Anyone else's server may simply not speak 1.3 yet: context.
        let public = is_public(name);
        let mut found = if public {
            base(
                FindingKind::TlsDowngrade,
                Severity::Warning,
                if in_tunnel { Actor::Proxy } else { Actor::Unknown },
                format!(
                    "The client offered TLS 1.3 but {target} answered with {}: something between them (or an old server) negotiated an older version.",
                    version_name(sh.version)
                ),
                None,
                "Usually harmless; if a TLS-inspecting middlebox is the cause, its certificate is what to check.".into(),
                vec![hello_ev(), ev(sh.frame, sh.ts, format!("ServerHello {}", version_name(sh.version)))],
            )
        } else {
            base(
                FindingKind::TlsDowngrade,
                Severity::Info,
                Actor::Server,
                format!(
                    "The client offered TLS 1.3 and {target}, which is not a public Go host, answered with {}: it does not speak TLS 1.3.",
                    version_name(sh.version)
                ),
                None,
                String::new(),
                vec![
                    hello_ev(),
                    ev(
                        sh.frame,
                        sh.ts,
                        format!("ServerHello {}", version_name(sh.version)),
                    ),
                ],
            )
        };
        if found.severity == Severity::Info {
            found.remedy = None;
        }
        out.push((found, false));
    }

    // 5. Abandoned TLS 1.3 handshake (the client sends an encrypted alert and closes right after
    // the server's first flight): the certificate was rejected, but it is encrypted.
    if let Some(sh) = &t.server_hello
        && sh.version == 0x0304
        && t.client_last_record_alert_like
        && t.client_encrypted_records == 1
        && c.client_stats.fin_frame.is_some()
    {
        let (frame, frame_ts) = match t.client_last_record_frame {
            Some(f) => (f, t.client_last_record_ts),
            None => (sh.frame, sh.ts),
        };
        let mut signs = tls13_interception_signs(f, d);
        // Inside a proxy's tunnel the proxy is the peer either way, so hop counts tell
        // nothing; but a public host's genuine certificate is one the client accepts, and a
        // proxy that inspects TLS answers inside the tunnel itself. (A completed handshake in
        // a tunnel is no such sign: that is every healthy proxied fetch.)
        if f.via_proxy && is_public(name) {
            signs.push(format!(
                "it is reached through the proxy's CONNECT tunnel ({}), where a TLS-inspecting proxy answers for the server itself, and {}'s genuine certificate chains to a public root (refused only by a trust store without the public roots)",
                addr(target),
                name.unwrap_or("the host")
            ));
        }
        let evidence = vec![
            hello_ev(),
            ev(sh.frame, sh.ts, "ServerHello (TLS 1.3)"),
            ev(frame, frame_ts, "encrypted alert from the client"),
        ];
        let flight = format!(
            "right after the server's first flight ({} encrypted records, {} bytes) the client sent an encrypted alert and closed",
            t.server_encrypted_records, t.server_encrypted_bytes
        );
        if !signs.is_empty() {
            let summary = format!(
                "Likely TLS interception: in the TLS 1.3 handshake with {target}, {flight}, and the \"server\" does not look like the real one: {}. TLS 1.3 encrypts the certificate, so this evidence is indirect.",
                signs.join("; ")
            );
            out.push((
                base(
                    FindingKind::MitmCertificate,
                    Severity::Error,
                    Actor::Middlebox,
                    summary,
                    Some("tls: failed to verify certificate: x509: certificate signed by unknown authority".into()),
                    format!(
                        "A TLS-inspecting middlebox answers for the server: install its CA certificate (SSL_CERT_FILE=/path/to/corp-ca.pem) or ask for {} to be exempted from inspection.",
                        exempt(name)
                    ),
                    evidence,
                ),
                false,
            ));
            return true;
        }
        if !is_public(name) {
            // Not a public Go host and nothing that points at a middlebox: the server's own
            // certificate, which the client refused.
            let host = dialled_host(f, hello.sni);
            let (go, why) = match &host {
                cert::Host::Ip(ip) => (
                    format!("x509: cannot validate certificate for {ip} because it doesn't contain any IP SANs"),
                    format!("The client dialled the IP address {ip} (its ClientHello names no server), so the certificate must list {ip} as an IP SAN, which certificates made for a host name lack; an unknown issuer, a self-signed certificate or expired dates end the handshake the same way."),
                ),
                cert::Host::Name(_) => (
                    "x509: certificate signed by unknown authority".to_string(),
                    "For a self-hosted server the usual cause is a certificate from a private CA the client does not trust (or a self-signed one); expired dates or a certificate for another name end the handshake the same way.".to_string(),
                ),
            };
            let summary = format!(
                "The client refused the certificate of {host} ({target}): in the TLS 1.3 handshake {flight}. TLS 1.3 encrypts the certificate and the alert, so this evidence is indirect and the reason cannot be read from the capture. {why}"
            );
            out.push((
                base(
                    FindingKind::CertificateRejected,
                    Severity::Error,
                    Actor::Server,
                    summary,
                    Some(format!("tls: failed to verify certificate: {go}")),
                    format!(
                        "Look at the certificate {host} serves (openssl s_client -connect {target}{} -showcerts): if a private CA issued it, give the go command that CA (SSL_CERT_FILE=/path/to/ca.pem); otherwise whoever runs {host} must serve a certificate that is current, names {host}, and chains to a CA clients trust.",
                        hello.sni.map(|s| format!(" -servername {s}")).unwrap_or_default()
                    ),
                    evidence,
                ),
                true,
            ));
            return true;
        }
        let summary = format!(
            "The client abandoned the TLS 1.3 handshake with {target}: {flight}. With TLS 1.3 the certificate is encrypted, so this is indirect evidence that the client rejected it."
        );
        out.push((
            base(
                FindingKind::HandshakeAborted,
                Severity::Error,
                Actor::Client,
                summary,
                Some("tls: failed to verify certificate: x509: certificate signed by unknown authority".into()),
                format!(
                    "If a TLS-inspecting proxy is in the path, install its CA certificate (SSL_CERT_FILE=/path/to/ca.pem) or ask for {} to be exempted.",
                    exempt(name)
                ),
                evidence,
            ),
            false,
        ));
        return true;
    }

    // 5a. TLS 1.3: the server ended the handshake after the client's second flight. It
    // checks the client's certificate (and Finished) only once they arrive, when the client
    // already counts the handshake done and has sent its request; its alert is encrypted, an
    // application_data record of alert size, and the close follows.
    if let Some(sh) = &t.server_hello
        && sh.version == 0x0304
        && !sh.hello_retry
        && let Some(refusal) = second_flight_refused(t)
        && let closes = closes_after(c, at(&refusal.alert))
        && !closes.is_empty()
    {
        // The alert is encrypted under the handshake's keys: only the TLS end behind the
        // tunnel could write it, never a proxy that relays bytes.
        let actor = if in_tunnel {
            Actor::Server
        } else {
            sender_of_server_packets(f, d)
        };
        let host = name.map_or_else(|| target.ip().to_string(), str::to_string);
        let first = refusal.client_first;
        let alert = refusal.alert;
        let what = if refusal.empty_certificate {
            format!(
                "it asked for a client certificate and the client had none to give (the client's first encrypted record is {} bytes, the size of an empty Certificate message; the server's CertificateRequest is encrypted)",
                first.length
            )
        } else {
            "it refused the client's part of the handshake (its certificate or its Finished)"
                .to_string()
        };
        let summary = format!(
            "The TLS 1.3 handshake with {target} was aborted by the server after the client's second flight: {what}. The server's only answer to it was one encrypted record of alert size ({} bytes), and the connection ended there. TLS 1.3 encrypts the alert, so its description cannot be read from the capture.",
            alert.length
        );
        let go = refusal
            .empty_certificate
            .then(|| format!("remote error: tls: {}", go_alert_text(116).unwrap_or("")));
        let remedy = if refusal.empty_certificate {
            needs_client_certificate(&host)
        } else {
            format!(
                "Check what {host} requires of clients (openssl s_client -connect {target}{} shows its CertificateRequest), and ask whoever runs it.",
                hello
                    .sni
                    .map(|s| format!(" -servername {s}"))
                    .unwrap_or_default()
            )
        };
        let mut evidence = vec![hello_ev(), ev(sh.frame, sh.ts, "ServerHello (TLS 1.3)")];
        evidence.push(ev(
            first.frame,
            Some(first.ts),
            if refusal.empty_certificate {
                format!(
                    "the client's first encrypted record, {} bytes: an empty Certificate",
                    first.length
                )
            } else {
                format!(
                    "the client's first encrypted record, {} bytes",
                    first.length
                )
            },
        ));
        evidence.push(ev(
            alert.frame,
            Some(alert.ts),
            format!(
                "encrypted record of alert size from the server ({} bytes)",
                alert.length
            ),
        ));
        evidence.extend(closes.into_iter().map(|(f, ts, what)| ev(f, ts, what)));
        out.push((
            base(
                FindingKind::HandshakeAborted,
                Severity::Error,
                actor,
                summary,
                go,
                remedy,
                evidence,
            ),
            false,
        ));
        return true;
    }

    // 5b. A completed TLS 1.3 handshake with a "server" that is the adjacent hop, for a public
    // Go host: interception that the client trusted. The same for TLS 1.2 when the capture
    // holds no certificate to judge (cut by the snap length, or lost): what is left is the
    // hop the "server" answers from.
    if let Some(sh) = &t.server_hello
        && (sh.version == 0x0304 || t.certificates.is_empty() && t.client_ccs)
        && t.client_encrypted_records >= 2
        && !t.client_last_record_alert_like
        && is_public(name)
    {
        let signs = tls13_interception_signs(f, d);
        if !signs.is_empty() {
            out.push((
                base(
                    FindingKind::MitmCertificate,
                    Severity::Warning,
                    Actor::Middlebox,
                    format!(
                        "Likely TLS interception that the client trusted: the {} handshake with {target} completed, but {}. {}",
                        version_name(sh.version),
                        signs.join("; "),
                        if sh.version == 0x0304 {
                            "TLS 1.3 encrypts the certificate, so this evidence is indirect."
                        } else {
                            "The certificate is not in the capture (the packets that carried it were cut short, by the capture's snap length or a loss), so this evidence is indirect: capture whole packets (tcpdump -s 0) to see it."
                        }
                    ),
                    None,
                    "If this interception is not intended, tell the security team; module checksums are still verified by GOSUMDB.".into(),
                    vec![
                        hello_ev(),
                        ev(
                            sh.frame,
                            sh.ts,
                            format!("ServerHello ({})", version_name(sh.version)),
                        ),
                    ],
                ),
                false,
            ));
        }
    }

    // 6. No ServerHello and no reset: stall. A close from the server's side that only
    // answers the client's (a proxy ends the tunnel when go gives up) is part of it.
    let far_end_gave_up = c
        .server_stats
        .fin_ts
        .zip(hello.ts)
        .is_some_and(|(fin, h)| fin.since(h).as_secs_f64() >= STALL_SECS);
    // A client that went on to encrypted records had the server's first flight: it takes its
    // keys from it (TLS 1.3's Finished and requests; TLS 1.2's Finished after the server's
    // hello, certificate and key exchange). With the ServerHello in a hole of the server's
    // side of the capture, the capture missed that flight (a capture that drops packets), the
    // path did not: the handshake went through.
    let keyed_past_hole = c.server_stats.missed_bytes > 0
        && c.tls
            .as_deref()
            .is_some_and(|t| t.client.first_encrypted.is_some());
    if t.server_hello.is_none() && !keyed_past_hole && (!server_closed_first(c) || far_end_gave_up)
    {
        let end = c.ts_last;
        let waited = hello.ts.map_or(0.0, |ts| end.since(ts).as_secs_f64());
        let client_gave_up =
            c.client_stats.fin_frame.is_some() || c.resets.iter().any(|r| r.from == Side::Client);
        if waited >= STALL_SECS || (client_gave_up && waited >= GO_TLS_TIMEOUT_SECS * 0.9) {
            // The server did answer, but its reply reached the client only past a hole that
            // never filled: the client acknowledges up to it for the rest of the wait while
            // the server resends. Its start (the ServerHello) is the full-sized segment: a
            // path that drops big packets from the server's side.
            let reply_cut = !in_tunnel
                && c.server_stats.bytes > 0
                && c.server_stats.lost_segments > 0
                && c.client_stats.peer_data_unacked;
            let acked = c.server_stats.packets > 1;
            let big = hello.segments > 1 || hello.handshake_len > 1400;
            let mut summary = format!(
                "The TLS handshake with {target} stalled: the ClientHello got {} for {waited:.1} s{}.",
                if reply_cut {
                    "no whole answer"
                } else {
                    "no answer"
                },
                if client_gave_up {
                    " and the client gave up"
                } else {
                    ""
                }
            );
            let mut remedy = if acked && !c.server_stats.peer_data_unacked {
                format!(
                    "The server (or a transparent proxy in front of it) took the hello and never answered: retry later. {}",
                    remedy::alternative(f.role, f.name.as_deref())
                )
            } else {
                format!(
                    "{} {}",
                    remedy::NETWORK_TEAM,
                    remedy::alternative(f.role, f.name.as_deref())
                )
            };
            // A hello the server acknowledged in full reached it: its size is not the problem.
            let fully_acked = acked && !c.server_stats.peer_data_unacked;
            if big && hello.pq_key_share && !fully_acked {
                summary.push_str(&format!(
                    " The ClientHello is {} bytes over {} TCP segments (post-quantum key share): some middleboxes drop such large hellos.",
                    hello.handshake_len, hello.segments
                ));
                remedy = format!(
                    "Try GODEBUG=tlsmlkem=0 (smaller ClientHello without the post-quantum key share). {remedy}"
                );
            }
            // The server acknowledging only part of the hello while the client resends the
            // rest: the path loses those segments (a large-packet drop or an MTU black hole).
            let lost_on_path =
                c.server_stats.peer_data_unacked && c.client_stats.retransmissions >= 2;
            // In a proxy's tunnel the acknowledgements are the proxy's: they say nothing of the
            // path behind it, where the hello went unanswered.
            // Acknowledgements with an initial TTL from beyond the client's subnet are the
            // adjacent hop's: a transparent proxy or inspection box holds the hello (waiting
            // for its own connection to the server), not the server.
            let held_by_hop = acked && sender_of_server_packets(f, d) == Actor::Middlebox;
            let actor = if in_tunnel {
                Actor::Unknown
            } else if lost_on_path || reply_cut || held_by_hop {
                Actor::Middlebox
            } else if acked {
                Actor::Server
            } else {
                Actor::Unknown
            };
            if in_tunnel {
                summary.push_str(&format!(
                    " The proxy {target} relayed it into its tunnel and acknowledged it; no answer came back through the tunnel: the server, or the path between the proxy and the server, held it (a server that accepts and never answers, or a filter that drops the hello's packets)."
                ));
            } else if lost_on_path {
                summary.push_str(&format!(
                    " The server never acknowledged all of it while the client retransmitted {} times: the path drops the hello's large segment (a middlebox filtering big packets, or an MTU black hole).",
                    c.client_stats.retransmissions
                ));
            } else if reply_cut {
                summary.push_str(&format!(
                    " The server did answer: {} bytes of its reply arrived, but not the {} bytes before them that start it (its ServerHello), and the client acknowledged only up to that hole until it gave up while the server must have been resending: the path drops the server's large segments (an MTU black hole, where the ICMP 'fragmentation needed' that would make the server send smaller ones is blocked, or a filter on big packets).",
                    c.server_stats.bytes, c.server_stats.missed_bytes
                ));
                remedy = format!(
                    "Lower the build host's MTU (ip link set dev IFACE mtu 1400) to make both ends send smaller segments; the lasting fix is on the network: clamp the TCP MSS on the router (iptables -t mangle ... -j TCPMSS --clamp-mss-to-pmtu) or let ICMP 'fragmentation needed' through. {} {}",
                    remedy::NETWORK_TEAM,
                    remedy::alternative(f.role, f.name.as_deref())
                );
            } else if held_by_hop {
                summary.push_str(&format!(
                    " It was acknowledged with TTL {}, an initial value, as was the SYN: the adjacent hop (a transparent proxy or TLS inspection box) took the connection in the server's place and held the hello, most likely waiting for its own connection to the server, which did not go through.",
                    c.server_stats.ttl_max.unwrap_or(0)
                ));
                remedy = format!(
                    "A box between the client and the server answers for it and could not reach it: {} {}",
                    remedy::NETWORK_TEAM,
                    remedy::alternative(f.role, f.name.as_deref())
                );
            } else if acked {
                summary
                    .push_str(" The server's TCP stack acknowledged it, but no ServerHello came.");
            }
            let mut evidence = vec![hello_ev()];
            if reply_cut && let Some(fr) = c.server_stats.first_data_frame {
                let ts = (c.server_stats.first_data_frame == c.server_stats.last_data_frame)
                    .then_some(c.server_stats.last_data_ts)
                    .flatten();
                evidence.push(ev(
                    fr,
                    ts,
                    format!(
                        "the server's reply past a hole: its first {} bytes never arrived",
                        c.server_stats.missed_bytes
                    ),
                ));
            }
            out.push((
                base(
                    FindingKind::HandshakeStall,
                    Severity::Error,
                    actor,
                    summary,
                    Some("net/http: TLS handshake timeout".into()),
                    remedy,
                    evidence,
                ),
                true,
            ));
            return true;
        }
    }
    false
}

/// The last two labels of a name (good enough to tell unrelated names apart): the text after
/// its last dot but one, as a slice of it (it ran for every certificate seen, and allocated).
fn registrable(name: &str) -> &str {
    let name = name.trim_end_matches('.');
    let last_two = name
        .rmatch_indices('.')
        .nth(1)
        .and_then(|(i, _)| name.get(i + 1..));
    last_two.unwrap_or(name)
}

/// Signs that a TLS 1.3 "server" is not the real one, from what stays visible: its hop
/// distance compared with what the address shows elsewhere.
fn tls13_interception_signs(f: &ConnFacts<'_>, d: &Diagnoser) -> Vec<String> {
    let c = f.c;
    let mut signs = Vec::new();
    if f.via_proxy {
        return signs;
    }
    if let Some(ttl) = c.server_stats.ttl_max {
        if INITIAL_TTLS.contains(&ttl)
            && !same_subnet(c.client.ip(), c.server.ip())
            && !c.server.ip().is_loopback()
        {
            signs.push(format!(
                "the \"server\" answers with TTL {ttl}, an initial value: it is the adjacent hop, not a host behind it"
            ));
        } else if let Some(r) = d.ttl_elsewhere(c.server.ip())
            && (ttl < r.min || ttl > r.max)
        {
            signs.push(format!(
                "its TTL {ttl} differs from what {} sends on other connections ({}-{})",
                c.server.ip(),
                r.min,
                r.max
            ));
        }
    }
    signs
}

/// The client answered the server's flight with a certificate alert, and the certificate is
/// not in the capture. A public Go host's genuine certificate chains to a public root the go
/// command trusts, so its refusal is interception (as is any host's, with a sign of a
/// middlebox); anyone else's server is judged to have sent a bad certificate of its own.
fn unseen_certificate_refused(
    f: &ConnFacts<'_>,
    d: &Diagnoser,
    name: Option<&str>,
    desc: &str,
    alert: &super::tlsview::AlertView,
    hello_ev: &dyn Fn() -> super::Evidence,
) -> Finding {
    let c = f.c;
    let target = addr(c.server);
    let mut signs = tls13_interception_signs(f, d);
    if is_public(name) {
        signs.push(format!(
            "{}'s genuine certificate chains to a public root, which the go command trusts",
            name.unwrap_or("the host")
        ));
    }
    let unseen = "The certificate itself is not in the capture (the packets that carried it were cut short, by the capture's snap length or a loss): capture whole packets (tcpdump -s 0) to see it.";
    let evidence = vec![
        hello_ev(),
        ev(
            alert.frame,
            alert.ts,
            format!("TLS alert {desc} from the client"),
        ),
    ];
    let sni = f
        .tls
        .as_ref()
        .and_then(|t| t.client_hello.as_ref())
        .and_then(|h| h.sni);
    let host = dialled_host(f, sni);
    let (kind, actor, summary, go, remedy) = if signs.is_empty() {
        (
            FindingKind::CertificateRejected,
            Actor::Server,
            format!(
                "The client refused the certificate of {host} ({target}) with a fatal {desc} alert and nothing points at a middlebox: this is the server's own certificate. {unseen}"
            ),
            cert_go_error(alert.description),
            format!(
                "Look at the certificate {host} serves (openssl s_client -connect {target}{} -showcerts): if a private CA issued it, give the go command that CA (SSL_CERT_FILE=/path/to/ca.pem); otherwise whoever runs {host} must serve a certificate that is current, names {host}, and chains to a CA clients trust.",
                sni.map(|s| format!(" -servername {s}")).unwrap_or_default()
            ),
        )
    } else {
        (
            FindingKind::MitmCertificate,
            Actor::Middlebox,
            format!(
                "Likely TLS interception: the client refused the certificate {target} presented with a fatal {desc} alert, and {}. {unseen}",
                signs.join("; ")
            ),
            cert_go_error(alert.description),
            format!(
                "A TLS-inspecting middlebox answers for the server: install its CA certificate (SSL_CERT_FILE=/path/to/corp-ca.pem) or ask for {} to be exempted from inspection.",
                exempt(name)
            ),
        )
    };
    Finding {
        stage: Stage::Tls,
        kind,
        severity: Severity::Error,
        actor,
        connection: Some(c.id),
        server_name: name.map(str::to_string),
        server: Some(addr(c.server)),
        summary,
        likely_go_error: go,
        remedy: Some(remedy),
        evidence,
    }
}

/// What the go command says of a certificate its client refused with `alert`, where the
/// alert tells (bad_certificate stands for several reasons: an expired certificate, another
/// name, an IP address missing from it).
fn cert_go_error(alert: Option<u8>) -> Option<String> {
    let why = match alert {
        Some(45) => "x509: certificate has expired or is not yet valid",
        Some(48) => "x509: certificate signed by unknown authority",
        _ => return None,
    };
    Some(format!("tls: failed to verify certificate: {why}"))
}

fn version_name(v: u16) -> String {
    match v {
        0x0304 => "TLS 1.3".into(),
        0x0303 => "TLS 1.2".into(),
        0x0302 => "TLS 1.1".into(),
        0x0301 => "TLS 1.0".into(),
        0x0300 => "SSL 3.0".into(),
        v => format!("version {v:#06x}"),
    }
}

/// The server's certificate did not validate against the trusted roots.
fn cert_problem(t: &super::tlsview::TlsView) -> bool {
    t.validation.is_some_and(|v| v != "valid")
}

/// Who the "server" packets come from: a middlebox when they arrive with an initial TTL from
/// an address that is not on the client's link.
/// A server that requires a client certificate: the go command has no way to present one.
fn needs_client_certificate(host: &str) -> String {
    format!(
        "{host} requires a client certificate (mutual TLS), which the go command cannot present (it has no setting for one): whoever runs {host} must let module downloads through without one, or point GOPROXY at a local proxy that presents the certificate to {host}."
    )
}

/// What to do about a handshake that the other end's plaintext alert ended, by who sent it
/// and what it said.
fn alert_remedy(
    actor: Actor,
    code: Option<u8>,
    desc: &str,
    host: &str,
    sni: Option<&str>,
    role: Option<crate::go::GoRole>,
) -> String {
    match actor {
        Actor::Middlebox => format!(
            "A middlebox on the path answers for {host} with its own alert ({desc}): it filters this TLS connection (by the name in the ClientHello, or by policy). {} Or: {}",
            remedy::NETWORK_TEAM,
            remedy::alternative(role, Some(host))
        ),
        Actor::Proxy => format!(
            "The alert ({desc}) came back through the HTTP proxy's tunnel: a proxy that inspects TLS refuses {host}, or the server beyond it does; the proxy's logs tell which. Ask whoever runs the proxy, quoting the evidence frames."
        ),
        _ => match code {
            // handshake_failure, protocol_version, insufficient_security
            Some(40 | 70 | 71) => format!(
                "{host} accepts none of the TLS versions and cipher suites the go command offers (TLS 1.2 and 1.3 with current ciphers; never TLS 1.0 or 1.1): whoever runs {host} must enable TLS 1.2 or 1.3 with current cipher suites."
            ),
            // unrecognized_name
            Some(112) => format!(
                "{host} does not serve the name the client asked for (SNI {}): check the host name in GOPROXY, or whoever runs {host} must configure that name.",
                sni.unwrap_or("none")
            ),
            // access_denied
            Some(49) => format!(
                "{host} refuses this client (access_denied): ask whoever runs it for access (it may allow only listed addresses or networks)."
            ),
            // bad_certificate, certificate_required
            Some(42 | 116) => needs_client_certificate(host),
            _ => format!(
                "{host} ended the handshake with {desc}: whoever runs {host} must look at its logs and TLS settings; retrying later may pass if the fault is passing."
            ),
        },
    }
}

/// A record's time and frame, for `came_before`.
fn at(r: &RecordNote) -> (Option<modsniff_core::Timestamp>, u64) {
    (Some(r.ts), r.frame)
}

/// The closes (FIN or RST, either side) after `after` (a time and frame), in order, each with
/// its time and what it was; empty when the connection did not end in the capture.
fn closes_after(
    c: &modsniff_core::Connection,
    after: (Option<modsniff_core::Timestamp>, u64),
) -> Vec<(u64, Option<modsniff_core::Timestamp>, String)> {
    let fins = [
        (
            c.server_stats.fin_frame,
            c.server_stats.fin_ts,
            Side::Server,
        ),
        (
            c.client_stats.fin_frame,
            c.client_stats.fin_ts,
            Side::Client,
        ),
    ]
    .into_iter()
    .filter_map(|(f, ts, side)| f.map(|f| (f, ts, "FIN", side)));
    let resets = c
        .resets
        .iter()
        .map(|r| (r.packet, Some(r.ts), "RST", r.from));
    let mut v: Vec<(u64, Option<modsniff_core::Timestamp>, String)> = fins
        .chain(resets)
        .filter(|(f, ts, _, _)| came_before(after, (*ts, *f)))
        .map(|(f, ts, what, side)| {
            let by = if side == Side::Server {
                "server"
            } else {
                "client"
            };
            (f, ts, format!("{what} from the {by}"))
        })
        .collect();
    v.sort_by_key(|(f, ts, _)| (*ts, *f));
    v.dedup_by_key(|(f, _, _)| *f);
    v
}

/// The size of an empty TLS 1.3 Certificate message in a record: the handshake header (4),
/// an empty request context (1) and an empty list (3), the inner content type (1) and the
/// AEAD's 16-byte tag. A client's first encrypted record is its Certificate when the server
/// asked for one, its Finished (53 or 69 bytes) otherwise.
const EMPTY_CERTIFICATE_RECORD: u16 = 4 + 1 + 3 + 1 + 16;

/// TLS 1.3: the server answered the client's second flight with one alert-sized record and
/// nothing else.
struct SecondFlightRefusal {
    /// The client's first encrypted record (its Certificate, or its Finished).
    client_first: RecordNote,
    alert: RecordNote,
    empty_certificate: bool,
}

/// Finds the shape in the record notes: the server's flight came before the client's first
/// encrypted record; after it the server sent exactly one record, alert-sized and its last;
/// and that record did not answer a close of the client's (the client's last record before
/// it is longer than an alert). Only when the notes hold every record of both sides.
fn second_flight_refused(t: &TlsView<'_>) -> Option<SecondFlightRefusal> {
    if !t.client_records_all || !t.server_records_all {
        return None;
    }
    let client_first = *t.client_records.iter().find(|r| r.encrypted)?;
    // The server's records before and after the client's first encrypted one, read in place:
    // collected into two vectors they were two allocations for every TLS connection.
    let is_before = |r: &&RecordNote| came_before(at(r), at(&client_first));
    if !t
        .server_records
        .iter()
        .filter(is_before)
        .any(|r| r.encrypted)
    {
        return None;
    }
    let mut after = t.server_records.iter().filter(|r| !is_before(r));
    let (Some(alert), None) = (after.next(), after.next()) else {
        return None;
    };
    if !alert_sized(alert) {
        return None;
    }
    let last_client_before = t
        .client_records
        .iter()
        .rfind(|r| r.encrypted && came_before(at(r), at(alert)))?;
    if last_client_before.length <= ALERT_RECORD_MAX {
        return None;
    }
    Some(SecondFlightRefusal {
        client_first,
        alert: *alert,
        empty_certificate: client_first.length == EMPTY_CERTIFICATE_RECORD,
    })
}

fn sender_of_server_packets(f: &ConnFacts<'_>, _d: &Diagnoser) -> Actor {
    let c = f.c;
    match c.server_stats.ttl_max {
        Some(ttl)
            if INITIAL_TTLS.contains(&ttl)
                && !same_subnet(c.client.ip(), c.server.ip())
                && !c.server.ip().is_loopback() =>
        {
            Actor::Middlebox
        }
        _ => Actor::Server,
    }
}

/// A host the go command knows as public (proxy.golang.org, sum.golang.org, github.com, …):
/// its genuine certificate chains to a public root. A host the user named in GOPROXY or
/// GOSUMDB (Athens, Artifactory, a company mirror) is the user's own service, not public.
fn is_public(name: Option<&str>) -> bool {
    name.is_some_and(|n| classify_host(n).is_some())
}

/// What to ask the security team to exempt from inspection: the host itself, and for the
/// public Go hosts the two the go command needs.
fn exempt(name: Option<&str>) -> String {
    match name {
        Some(n) if is_public(Some(n)) => {
            if n == "proxy.golang.org" || n == "sum.golang.org" {
                "proxy.golang.org and sum.golang.org".to_string()
            } else {
                format!("{n} (and proxy.golang.org, sum.golang.org)")
            }
        }
        Some(n) => n.to_string(),
        None => "this server".to_string(),
    }
}

/// The host the client checked the certificate against: the SNI it sent, else (Go sends no
/// SNI for an IP address) the IP address it dialled, or the one it asked a proxy to reach.
fn dialled_host(f: &ConnFacts<'_>, sni: Option<&str>) -> cert::Host {
    if let Some(s) = sni {
        return cert::Host::Name(s.to_string());
    }
    // A hello cut before its server name (the capture's snap length): the name the
    // connection was made for stands in, unless it is an address.
    let cut = f
        .tls
        .as_ref()
        .and_then(|t| t.client_hello.as_ref())
        .is_some_and(|h| h.cut);
    if cut && let Some(n) = f.name.as_deref().filter(|n| n.parse::<IpAddr>().is_err()) {
        return cert::Host::Name(n.to_string());
    }
    match f.name.as_deref().and_then(|n| n.parse::<IpAddr>().ok()) {
        Some(ip) if f.via_proxy => cert::Host::Ip(ip),
        _ => cert::Host::Ip(f.c.server.ip()),
    }
}

/// A certificate the client refused or accepted: interception by a middlebox (an untrusted
/// chain for a public Go host, or signs of a middlebox for any host), or the server's own bad
/// certificate (`certificate-rejected`).
fn certificate(
    f: &ConnFacts<'_>,
    d: &Diagnoser,
    hello_ev: &dyn Fn() -> super::Evidence,
) -> Option<Finding> {
    let c = f.c;
    let t = f.tls.as_ref()?;
    let leaf = t.certificates.first()?;
    let hello = t.client_hello.as_ref()?;
    let validation = t.validation.unwrap_or("unknown");
    let name: Option<&str> = f.name.as_deref().or(hello.sni);
    let public = is_public(name);
    // A chain the client's own CA file vouches for is normal for a self-hosted server; for a
    // public host it is a trusted inspection CA.
    let via_ca_file = validation == "valid" && t.valid_only_via_ca_file && public;
    let client_alert = t
        .alerts
        .iter()
        .find(|a| a.from == Side::Client && !a.encrypted);
    let rejected = client_alert.is_some()
        || (!t.client_ccs
            && t.client_encrypted_records == 0
            && (c.client_stats.fin_frame.is_some()
                || c.resets.iter().any(|r| r.from == Side::Client)));
    let accepted = t.client_ccs || t.client_encrypted_records > 1;
    if validation == "undecided" {
        let refused = rejected && !accepted;
        return Some(undecided_chain(f, t, name, hello_ev, refused));
    }
    if validation == "valid" && !via_ca_file && !rejected {
        return None;
    }
    // Signs of a middlebox, whatever the host: found first, worded below only for a finding
    // that will be kept.
    let issuer_sign = d.is_interception_issuer(leaf.issuer);
    let ttl_sign = c.server_stats.ttl_max.filter(|ttl| {
        !f.via_proxy
            && INITIAL_TTLS.contains(ttl)
            && !same_subnet(c.client.ip(), c.server.ip())
            && !c.server.ip().is_loopback()
    });
    let others = d.names_for_leaf_key(leaf.spki_sha256);
    let domains: std::collections::BTreeSet<&str> = others.iter().map(|n| registrable(n)).collect();
    let key_sign = domains.len() > 1;
    if rejected && !accepted && !public && !issuer_sign && ttl_sign.is_none() && !key_sign {
        return Some(rejected_certificate(f, t, hello_ev, client_alert));
    }
    // From here on: interception. For a public host the genuine chain is public, so an
    // untrusted one is itself a sign; for anyone else's server it takes one of the signs above.
    let public_sign = public && (validation != "valid" || via_ca_file);
    if !issuer_sign && ttl_sign.is_none() && !key_sign && !via_ca_file && !public_sign {
        return None;
    }
    let severity = if accepted {
        Severity::Warning
    } else {
        Severity::Error
    };
    let kind = FindingKind::MitmCertificate;
    if d.will_drop(c, f.name.as_deref(), kind, severity) {
        return Some(Finding::counted_only(
            Stage::Tls,
            kind,
            severity,
            Actor::Middlebox,
        ));
    }
    let target = addr(c.server);
    let mut signs = Vec::new();
    if issuer_sign {
        signs.push(format!(
            "its issuer \"{}\" is a TLS-inspection CA",
            leaf.issuer
        ));
    }
    if let Some(ttl) = ttl_sign {
        signs.push(format!("the \"server\" answers with TTL {ttl}, an initial value: it is the adjacent hop, not the real server"));
    }
    if key_sign {
        signs.push(format!(
            "the same leaf key was presented for unrelated names ({})",
            others.join(", ")
        ));
    }
    if via_ca_file {
        signs.push(
            "the chain validates only through the extra CA file (--ca-file / SSL_CERT_FILE), not through a public root".to_string(),
        );
    }
    if public_sign {
        signs.push(format!(
            "{} is a public host whose genuine certificate chains to a public root",
            name.unwrap_or("the server")
        ));
    }
    let mut summary = if via_ca_file {
        format!(
            "TLS interception: {target} presented a certificate for {} issued by \"{}\", which no public root vouches for.",
            leaf.subject, leaf.issuer
        )
    } else {
        format!(
            "TLS interception: {target} presented a certificate for {} issued by \"{}\" that does not validate against the trusted roots ({validation}).",
            leaf.subject, leaf.issuer
        )
    };
    summary.push_str(&format!(" Signs of a middlebox: {}.", signs.join("; ")));
    summary.push_str(if accepted {
        " The client accepted it (its trust store has the interception CA), so the fetch worked through the middlebox."
    } else {
        " The client rejected it and aborted the handshake."
    });
    let mut evidence = vec![hello_ev()];
    // Cited only where its time is known (core gives the frame alone).
    if let Some(fr) = t.certificate_frame
        && t.certificate_ts.is_some()
    {
        evidence.push(super::ev(
            fr,
            t.certificate_ts,
            format!("Certificate issued by {}", leaf.issuer),
        ));
    }
    if let Some(a) = t.alerts.iter().find(|a| a.from == Side::Client) {
        evidence.push(super::ev(a.frame, a.ts, client_alert_note(a)));
    }
    Some(Finding {
        stage: Stage::Tls,
        kind,
        severity,
        actor: Actor::Middlebox,
        connection: Some(c.id),
        server_name: f.name_owned(),
        server: Some(target),
        summary,
        likely_go_error: (!accepted).then(|| {
            "tls: failed to verify certificate: x509: certificate signed by unknown authority"
                .to_string()
        }),
        remedy: Some(if accepted {
            "Interception is in place and trusted; if that is not intended, tell the security team. Module checksums are still verified by GOSUMDB.".into()
        } else {
            format!(
                "Install the interception CA (issuer \"{}\") and point the go command at it: SSL_CERT_FILE=/path/to/corp-ca.pem, or ask for {} to be exempted from inspection.",
                leaf.issuer,
                exempt(name)
            )
        }),
        evidence,
    })
}

fn client_alert_note(a: &super::tlsview::AlertView) -> String {
    match (&a.description_name, a.encrypted) {
        (Some(d), false) => format!("client alert: {d}"),
        (_, true) => "client alert (encrypted)".to_string(),
        (None, false) => "client alert".to_string(),
    }
}

/// The client refused the server's own certificate (visible: TLS 1.2 and older): why, in
/// crypto/x509's words, and what whoever runs the server must change.
/// A chain whose validation a budget stopped: neither valid nor invalid is claimed, and the
/// run is not OK (an error when the client refused the chain: that connection failed).
fn undecided_chain(
    f: &ConnFacts<'_>,
    t: &super::tlsview::TlsView<'_>,
    name: Option<&str>,
    hello_ev: &dyn Fn() -> super::Evidence,
    refused: bool,
) -> Finding {
    let c = f.c;
    let target = addr(c.server);
    let bound = t.undecided_by.unwrap_or("a bound on chain building");
    let run = bound.starts_with("max_capture");
    let summary = format!(
        "The certificate chain {target}{} presented could not be decided: chain building over its {} certificates was stopped by {bound} ({}), so modsniff says neither valid nor invalid.{}",
        name.map(|n| format!(" ({n})")).unwrap_or_default(),
        t.certificates.len(),
        if run {
            "the run's budget for chain validation was spent"
        } else {
            "its issuers offer more paths than chain building may try: many certificates with the same name, as a chain-building attack sends"
        },
        if refused {
            " The client refused it and aborted the handshake."
        } else {
            ""
        },
    );
    let mut evidence = vec![hello_ev()];
    if let (Some(fr), Some(ts), Some(l)) = (
        t.certificate_frame,
        t.certificate_ts,
        t.certificates.first(),
    ) {
        evidence.push(ev(
            fr,
            Some(ts),
            format!("Certificate: {} issued by {}", l.subject, l.issuer),
        ));
    }
    Finding {
        stage: Stage::Tls,
        kind: FindingKind::CaptureIncomplete,
        severity: if refused {
            Severity::Error
        } else {
            Severity::Warning
        },
        actor: Actor::Unknown,
        connection: Some(c.id),
        server_name: f.name_owned().or(name.map(str::to_string)),
        server: Some(target),
        summary,
        likely_go_error: None,
        remedy: Some("Check the chain with another verifier (openssl s_client -showcerts, then openssl verify): no public CA issues a chain like this one.".into()),
        evidence,
    }
}

/// A host name that none of a certificate's kept names match, when it had more than were
/// kept: neither a mismatch nor a match is claimed. The client refused the certificate (the
/// caller's case), so the connection failed: an error, for a reason left open.
fn undecided_name(
    f: &ConnFacts<'_>,
    t: &super::tlsview::TlsView<'_>,
    leaf: &CertView<'_>,
    host: &cert::Host,
    hello_ev: &dyn Fn() -> super::Evidence,
    refused_with_alert: bool,
) -> Finding {
    let c = f.c;
    let target = addr(c.server);
    let kept = leaf.san.len() + leaf.san_ip.len();
    // None kept: the names of all live connections together had filled max_kept_bytes.
    let which = if kept == 0 {
        "of which modsniff kept none (max_kept_bytes: the certificates of the connections live at the time held all it keeps)".to_string()
    } else {
        format!(
            "of which modsniff keeps the first {kept} (max_san_entries), and none of those is {host}"
        )
    };
    let summary = format!(
        "Whether the certificate of {host} ({target}) is valid for {host} could not be decided: it carries {} names, {which}; the other {} were not kept, so modsniff says neither that the name matches nor that it does not. {}",
        kept as u64 + leaf.san_dropped,
        leaf.san_dropped,
        if refused_with_alert {
            "The client refused the certificate and aborted the handshake."
        } else {
            "The client closed without going on with the handshake and without an alert (a go client that refuses a certificate sends one, so a refusal is likely, not certain)."
        }
    );
    let mut evidence = vec![hello_ev()];
    if let (Some(fr), Some(ts)) = (t.certificate_frame, t.certificate_ts) {
        evidence.push(ev(
            fr,
            Some(ts),
            format!("Certificate: {} issued by {}", leaf.subject, leaf.issuer),
        ));
    }
    Finding {
        stage: Stage::Tls,
        kind: FindingKind::CaptureIncomplete,
        // As for a refusal whose reason is read (rejected_certificate): certain with the
        // client's alert, likely without.
        severity: if refused_with_alert {
            Severity::Error
        } else {
            Severity::Warning
        },
        actor: Actor::Unknown,
        connection: Some(c.id),
        server_name: f.name_owned().or(Some(host.to_string())),
        server: Some(target),
        summary,
        likely_go_error: None,
        remedy: Some(format!(
            "Check the certificate's names with another tool (openssl s_client -connect {} -servername {host} | openssl x509 -noout -ext subjectAltName).",
            addr(c.server)
        )),
        evidence,
    }
}

fn rejected_certificate(
    f: &ConnFacts<'_>,
    t: &super::tlsview::TlsView<'_>,
    hello_ev: &dyn Fn() -> super::Evidence,
    client_alert: Option<&super::tlsview::AlertView>,
) -> Finding {
    let c = f.c;
    let target = addr(c.server);
    let leaf = t.certificates.first();
    let sni = t.client_hello.as_ref().and_then(|h| h.sni);
    let host = dialled_host(f, sni);
    // The time the client checked the certificate: when it answered it.
    let when = client_alert
        .and_then(|a| a.ts)
        .or(c.client_stats.fin_ts)
        .unwrap_or(c.ts_last);
    let now = when.as_secs_f64().floor() as i64;
    let reason = cert::go_reason(t, &host, now);
    // The names compared are the kept ones (max_san_entries): when the certificate had more
    // and the full check (chain validation's) did not say the name is missing, the name may
    // be among those not kept: whether it matches cannot be decided from what was kept.
    if let (Some(cert::Reason::Hostname { .. }), Some(l)) = (&reason, leaf)
        && l.san_dropped > 0
        && t.validation != Some("name-mismatch")
    {
        return undecided_name(f, t, l, &host, hello_ev, client_alert.is_some());
    }
    let how = match client_alert {
        Some(a) => format!(
            "the client answered it with a fatal {} alert and closed",
            a.description_name.unwrap_or("TLS")
        ),
        None => "the client closed the connection without going on with the handshake and without an alert (a go client that refuses a certificate sends one, so this refusal is likely, not certain)".into(),
    };
    let (why, go, remedy) = match &reason {
        Some(r) => (
            r.describe(&t.certificates),
            Some(format!("tls: failed to verify certificate: {}", r.go_text())),
            remedy_for(r, &host, leaf),
        ),
        None => (
            "modsniff finds nothing wrong with it against the roots it was given: the client trusts other roots (see --ca-file)".to_string(),
            None,
            format!("Compare the client's trust store (SSL_CERT_FILE, the system store) with the chain {host} serves."),
        ),
    };
    let summary = format!(
        "The client refused the certificate of {host} ({target}): {why}; {how}. {} is not a public Go host and nothing points at a middlebox (no inspection CA, no hop-distance anomaly): this is the server's own certificate.",
        host
    );
    let mut evidence = vec![hello_ev()];
    if let (Some(fr), Some(ts), Some(l)) = (t.certificate_frame, t.certificate_ts, leaf) {
        evidence.push(ev(
            fr,
            Some(ts),
            format!("Certificate: {} issued by {}", l.subject, l.issuer),
        ));
    }
    if let Some(a) = client_alert {
        evidence.push(ev(a.frame, a.ts, client_alert_note(a)));
    } else if let Some(fin) = c.client_stats.fin_frame {
        evidence.push(ev(fin, c.client_stats.fin_ts, "the client closes"));
    }
    // A go client that refuses a certificate says so with a fatal alert before it closes
    // (crypto/tls sends bad_certificate, unknown_ca, certificate_expired…); a silent close
    // after the server's flight may be a refusal, or a client that only looked.
    let severity = if client_alert.is_some() {
        Severity::Error
    } else {
        Severity::Warning
    };
    Finding {
        stage: Stage::Tls,
        kind: FindingKind::CertificateRejected,
        severity,
        actor: Actor::Server,
        connection: Some(c.id),
        server_name: f.name_owned().or(sni.map(str::to_string)),
        server: Some(target),
        summary,
        likely_go_error: go,
        remedy: Some(remedy),
        evidence,
    }
}

/// What to change, by reason: the server's operator fixes the certificate; the user can
/// trust a private CA, or name the server the way its certificate does.
fn remedy_for(r: &cert::Reason, host: &cert::Host, leaf: Option<&CertView<'_>>) -> String {
    use cert::Reason::*;
    let names = leaf
        .map(|l| l.san.iter().chain(l.san_ip).cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    let unkept = leaf.map_or(0, |l| l.san_dropped);
    match r {
        Expired { now, not_after, .. } => format!(
            "Whoever runs {host} must renew its certificate (it ran out on {not_after}). If it was renewed, check this host's clock: it read {now}."
        ),
        NotYetValid {
            now, not_before, ..
        } => format!(
            "The certificate of {host} is valid only from {not_before}, and this host's clock read {now}: fix the clock if it is behind, otherwise whoever runs {host} must install a certificate that is valid now."
        ),
        Hostname {
            ip_without_san: true,
            ..
        } => format!(
            "GOPROXY names the server by its IP address {host}, which the certificate does not list: put a name the certificate carries in GOPROXY{}, or whoever runs the server must add IP:{host} to its certificate's subjectAltName.",
            if names.is_empty() {
                String::new()
            } else {
                format!(" ({})", cert::some_names(&names, unkept))
            }
        ),
        Hostname { .. } => format!(
            "Whoever runs {host} must serve a certificate that names {host}{}; or use in GOPROXY a name the certificate carries.",
            if names.is_empty() {
                String::new()
            } else {
                format!(" (this one names {})", cert::some_names(&names, unkept))
            }
        ),
        UnknownAuthority {
            self_signed: true, ..
        } => format!(
            "Whoever runs {host} should serve a certificate from the company CA; to trust this self-signed one as it is, add it to the CA file the go command reads (SSL_CERT_FILE=/path/to/cert.pem) or the system store."
        ),
        UnknownAuthority {
            leaf_only: true, ..
        } => format!(
            "Whoever runs {host} must configure the full chain: the server certificate followed by the intermediate \"{}\" (browsers fetch a missing intermediate, the go command does not).",
            leaf.map_or("?", |l| l.issuer)
        ),
        UnknownAuthority { .. } => format!(
            "If \"{}\" is your company's CA, give the go command its root: SSL_CERT_FILE=/path/to/company-root.pem (or add it to the system store); otherwise whoever runs {host} must use a certificate from a CA clients trust.",
            leaf.map_or("?", |l| l.issuer)
        ),
    }
}

/// crypto/tls's text for an alert (alert.go), which is what "remote error: tls: …" prints.
fn go_alert_text(code: u8) -> Option<&'static str> {
    Some(match code {
        0 => "close notify",
        10 => "unexpected message",
        20 => "bad record MAC",
        21 => "decryption failed",
        22 => "record overflow",
        30 => "decompression failure",
        40 => "handshake failure",
        42 => "bad certificate",
        43 => "unsupported certificate",
        44 => "revoked certificate",
        45 => "expired certificate",
        46 => "unknown certificate",
        47 => "illegal parameter",
        48 => "unknown certificate authority",
        49 => "access denied",
        50 => "error decoding message",
        51 => "error decrypting message",
        60 => "export restriction",
        70 => "protocol version not supported",
        71 => "insufficient security level",
        80 => "internal error",
        86 => "inappropriate fallback",
        90 => "user canceled",
        100 => "no renegotiation",
        109 => "missing extension",
        110 => "unsupported extension",
        111 => "certificate unobtainable",
        112 => "unrecognized name",
        113 => "bad certificate status response",
        114 => "bad certificate hash value",
        115 => "unknown PSK identity",
        116 => "certificate required",
        120 => "no application protocol",
        121 => "encrypted client hello required",
        _ => return None,
    })
}
