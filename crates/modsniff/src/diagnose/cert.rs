//! Why the go command refused a certificate, in crypto/x509's own order and words.
//!
//! `Certificate.Verify` (crypto/x509/verify.go) checks, and stops at the first failure:
//! 1. the leaf's validity period against the current time (`CertificateInvalidError{Expired}`:
//!    "x509: certificate has expired or is not yet valid: current time T is after|before B");
//! 2. the leaf against the host the client dialled (`VerifyHostname` → `HostnameError`): an IP
//!    address only against IP SANs, a name against the DNS SANs (the subject CN is never used);
//! 3. a chain to a trusted root (`UnknownAuthorityError`: "x509: certificate signed by unknown
//!    authority"), where an expired intermediate fails as in 1.
//!
//! The go command's crypto/tls client answers every one of them with the same fatal
//! bad_certificate alert (`verifyServerCertificate`; seen in every matrix capture), so the
//! alert says the certificate was refused, never why: the why is rebuilt here from the
//! certificate. It wraps the error as "tls: failed to verify certificate: …" (Go 1.20 and
//! later).

use super::tlsview::{CertView, TlsView};
use modsniff_core::tls::rfc3339;
use std::net::IpAddr;

/// TLS alert descriptions a client sends when it refuses the server's certificate
/// (RFC 8446 6.2): bad_certificate, unsupported_certificate, certificate_revoked,
/// certificate_expired, certificate_unknown, unknown_ca.
pub const CERT_ALERTS: [u8; 6] = [42, 43, 44, 45, 46, 48];

/// What the client checked the certificate against: the host of the URL it fetched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    Name(String),
    Ip(IpAddr),
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// Why the certificate fails, by crypto/x509's first failing check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Validity period; `which` is the certificate that failed (0 = the leaf).
    Expired {
        now: String,
        not_after: String,
        which: usize,
    },
    NotYetValid {
        now: String,
        not_before: String,
        which: usize,
    },
    /// The host check, with crypto/x509's text (`HostnameError.Error`).
    Hostname { go: String, ip_without_san: bool },
    /// No chain to a trusted root.
    UnknownAuthority {
        self_signed: bool,
        /// Only a leaf that is not self-issued: the server sent no intermediate.
        leaf_only: bool,
    },
}

impl Reason {
    /// crypto/x509's error text.
    pub fn go_text(&self) -> String {
        match self {
            Reason::Expired { now, not_after, .. } => format!(
                "x509: certificate has expired or is not yet valid: current time {now} is after {not_after}"
            ),
            Reason::NotYetValid {
                now, not_before, ..
            } => format!(
                "x509: certificate has expired or is not yet valid: current time {now} is before {not_before}"
            ),
            Reason::Hostname { go, .. } => go.clone(),
            Reason::UnknownAuthority { .. } => {
                "x509: certificate signed by unknown authority".to_string()
            }
        }
    }

    /// A few words for the summary.
    pub fn describe(&self, certs: &[CertView<'_>]) -> String {
        let which = |i: usize| {
            if i == 0 {
                "the server's certificate".to_string()
            } else {
                format!(
                    "the intermediate certificate \"{}\"",
                    certs.get(i).map_or("?", |c| c.subject)
                )
            }
        };
        match self {
            Reason::Expired {
                not_after, which: i, ..
            } => format!("{} expired on {not_after}", which(*i)),
            Reason::NotYetValid {
                not_before,
                which: i,
                ..
            } => format!("{} is not valid before {not_before}", which(*i)),
            Reason::Hostname { go, .. } => format!(
                "it does not name the host the client asked for ({})",
                go.trim_start_matches("x509: ")
            ),
            Reason::UnknownAuthority {
                self_signed: true, ..
            } => "it is self-signed, and the client does not trust it".to_string(),
            Reason::UnknownAuthority {
                leaf_only: true, ..
            } => "the server sent only its own certificate, without the intermediate that links it to a root the client trusts".to_string(),
            Reason::UnknownAuthority { .. } => {
                "it is issued by a CA the client does not trust".to_string()
            }
        }
    }
}

/// `matchHostnames`: a left-most `*` label matches one label; case-insensitive.
fn match_hostname(pattern: &str, host: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if pattern.is_empty() || host.is_empty() {
        return false;
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let h: Vec<&str> = host.split('.').collect();
    p.len() == h.len()
        && p.iter()
            .zip(&h)
            .enumerate()
            .all(|(i, (p, h))| (i == 0 && *p == "*") || p == h)
}

/// Names quoted from one certificate in a finding; the rest are counted (a certificate may
/// carry thousands).
const MAX_NAMES_QUOTED: usize = 8;

/// The first `MAX_NAMES_QUOTED` names, comma-separated, and how many more there are
/// (`unkept`: names the certificate had beyond those kept).
pub fn some_names<S: AsRef<str>>(names: &[S], unkept: u64) -> String {
    let mut out = names
        .iter()
        .take(MAX_NAMES_QUOTED)
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ");
    let more = names.len().saturating_sub(MAX_NAMES_QUOTED) as u64 + unkept;
    if more > 0 {
        out.push_str(&format!(" and {more} more"));
    }
    out
}

/// `VerifyHostname` and `HostnameError.Error`: None when the leaf is valid for `host`.
pub fn hostname_error(leaf: &CertView<'_>, host: &Host) -> Option<Reason> {
    match host {
        Host::Ip(ip) => {
            let listed: Vec<IpAddr> = leaf.san_ip.iter().filter_map(|s| s.parse().ok()).collect();
            if listed.contains(ip) {
                return None;
            }
            if !leaf.has_san
                && leaf
                    .subject_cn
                    .is_some_and(|cn| match_hostname(cn, &ip.to_string()))
            {
                return Some(legacy_cn());
            }
            let go = if listed.is_empty() {
                format!(
                    "x509: cannot validate certificate for {ip} because it doesn't contain any IP SANs"
                )
            } else {
                let valid: Vec<String> = listed.iter().map(|i| i.to_string()).collect();
                format!(
                    "x509: certificate is valid for {}, not {ip}",
                    some_names(&valid, leaf.san_dropped)
                )
            };
            Some(Reason::Hostname {
                go,
                ip_without_san: listed.is_empty(),
            })
        }
        Host::Name(name) => {
            if leaf
                .san
                .iter()
                .any(|p| match_hostname(p, name) || p.eq_ignore_ascii_case(name))
            {
                return None;
            }
            if !leaf.has_san && leaf.subject_cn.is_some_and(|cn| match_hostname(cn, name)) {
                return Some(legacy_cn());
            }
            let go = if leaf.san.is_empty() {
                format!("x509: certificate is not valid for any names, but wanted to match {name}")
            } else {
                format!(
                    "x509: certificate is valid for {}, not {name}",
                    some_names(leaf.san, leaf.san_dropped)
                )
            };
            Some(Reason::Hostname {
                go,
                ip_without_san: false,
            })
        }
    }
}

fn legacy_cn() -> Reason {
    Reason::Hostname {
        go: "x509: certificate relies on legacy Common Name field, use SANs instead".into(),
        ip_without_san: false,
    }
}

/// A certificate's validity against `now` (Unix seconds), crypto/x509's `isValid`.
fn dates(c: &CertView<'_>, now: i64, which: usize) -> Option<Reason> {
    let stamp = rfc3339(now);
    if let Some((nb, text)) = c.not_before
        && now < nb
    {
        return Some(Reason::NotYetValid {
            now: stamp,
            not_before: text.to_string(),
            which,
        });
    }
    if let Some((na, text)) = c.not_after
        && now > na
    {
        return Some(Reason::Expired {
            now: stamp,
            not_after: text.to_string(),
            which,
        });
    }
    None
}

/// Why crypto/x509 refuses the server's chain for `host` at `now` (Unix seconds, the time of
/// the handshake), given what chain validation found (`t.validation`). None when nothing
/// in the chain fails.
pub fn go_reason(t: &TlsView<'_>, host: &Host, now: i64) -> Option<Reason> {
    let leaf = t.certificates.first()?;
    if let Some(r) = dates(leaf, now, 0) {
        return Some(r);
    }
    if let Some(r) = hostname_error(leaf, host) {
        return Some(r);
    }
    match t.validation {
        Some("unknown-issuer" | "self-signed" | "other") => Some(Reason::UnknownAuthority {
            self_signed: leaf.self_issued,
            leaf_only: t.certificates.len() == 1 && !leaf.self_issued,
        }),
        // The leaf's dates are fine: an intermediate's are not.
        Some("expired" | "not-yet-valid") => t
            .certificates
            .iter()
            .enumerate()
            .skip(1)
            .find_map(|(i, c)| dates(c, now, i))
            .or(Some(Reason::UnknownAuthority {
                self_signed: false,
                leaf_only: false,
            })),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_with_thousands_of_names_is_quoted_in_part() {
        let san: Vec<String> = (1..=10_000).map(|i| format!("{i}.alt.example")).collect();
        let host = Host::Name("other.example".into());
        let Some(Reason::Hostname { go, .. }) = hostname_error(&leaf(&san, &[], None), &host)
        else {
            panic!("a name the certificate lacks")
        };
        assert_eq!(
            go,
            "x509: certificate is valid for 1.alt.example, 2.alt.example, 3.alt.example, \
             4.alt.example, 5.alt.example, 6.alt.example, 7.alt.example, 8.alt.example and \
             9992 more, not other.example"
        );
    }

    fn leaf<'a>(san: &'a [String], san_ip: &'a [String], cn: Option<&'a str>) -> CertView<'a> {
        CertView {
            subject_cn: cn,
            san,
            san_ip,
            has_san: !san.is_empty() || !san_ip.is_empty(),
            not_before: Some((1_717_200_000, "2024-06-01T00:00:00Z")),
            not_after: Some((2_095_891_200, "2036-06-01T00:00:00Z")),
            ..CertView::default()
        }
    }

    /// The texts go1.27.3 printed in the matrix captures (stderr.txt of cert-wrongname-tls12,
    /// cert-ipnosan-tls12, cert-ipnosan-v6, cert-expired-tls12).
    #[test]
    fn crypto_x509_wording() {
        let names = ["gitlab.corp.example".to_string()];
        let l = leaf(&names, &[], Some("gitlab.corp.example"));
        let host = Host::Name("athens.corp.example".into());
        assert_eq!(
            hostname_error(&l, &host).unwrap().go_text(),
            "x509: certificate is valid for gitlab.corp.example, not athens.corp.example"
        );
        let athens = ["athens.corp.example".to_string()];
        let l = leaf(&athens, &[], None);
        assert_eq!(hostname_error(&l, &host), None);
        let ip = Host::Ip("10.77.2.5".parse().unwrap());
        assert_eq!(
            hostname_error(&l, &ip).unwrap().go_text(),
            "x509: cannot validate certificate for 10.77.2.5 because it doesn't contain any IP SANs"
        );
        let v6 = Host::Ip("fd77:2::5".parse().unwrap());
        assert_eq!(
            hostname_error(&l, &v6).unwrap().go_text(),
            "x509: cannot validate certificate for fd77:2::5 because it doesn't contain any IP SANs"
        );
        let ips = ["10.77.2.6".to_string(), "10.77.2.5".to_string()];
        assert_eq!(hostname_error(&leaf(&[], &ips, None), &ip), None);
        assert_eq!(
            hostname_error(&leaf(&[], &ips[..1], None), &ip)
                .unwrap()
                .go_text(),
            "x509: certificate is valid for 10.77.2.6, not 10.77.2.5"
        );
        let wild = ["*.corp.example".to_string()];
        assert_eq!(hostname_error(&leaf(&wild, &[], None), &host), None);
        assert!(
            hostname_error(
                &leaf(&wild, &[], None),
                &Host::Name("a.b.corp.example".into())
            )
            .is_some()
        );
        assert_eq!(
            hostname_error(&leaf(&[], &[], Some("athens.corp.example")), &host)
                .unwrap()
                .go_text(),
            "x509: certificate relies on legacy Common Name field, use SANs instead"
        );
        assert_eq!(
            hostname_error(&leaf(&[], &[], Some("other")), &host)
                .unwrap()
                .go_text(),
            "x509: certificate is not valid for any names, but wanted to match athens.corp.example"
        );
        let expired = CertView {
            not_after: Some((1_704_067_200, "2024-01-01T00:00:00Z")),
            ..leaf(&athens, &[], None)
        };
        let t = TlsView {
            certificates: vec![expired],
            validation: Some("expired"),
            ..TlsView::default()
        };
        // 2026-12-05T14:29:28Z, the time go printed.
        assert_eq!(
            go_reason(&t, &host, 1_796_480_968).unwrap().go_text(),
            "x509: certificate has expired or is not yet valid: current time 2026-12-05T14:29:28Z is after 2024-01-01T00:00:00Z"
        );
    }
}
