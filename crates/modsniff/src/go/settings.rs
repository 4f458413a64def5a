//! The user's Go network settings: GOPROXY, GOSUMDB, GOPRIVATE, GONOPROXY, GONOSUMDB,
//! HTTPS_PROXY/HTTP_PROXY/NO_PROXY — from flags, the environment, or `go env -json`.

use anyhow::{Context, Result};
use std::collections::HashMap;
use std::path::Path;

/// How the go command moves to the next GOPROXY entry after this one fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// `,`: only after 404 or 410.
    OnNotFound,
    /// `|`: after any error.
    OnAnyError,
    /// Last entry.
    None,
}

/// One GOPROXY entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyEntry {
    /// `https://proxy.golang.org`, `direct` or `off`.
    pub url: String,
    /// Host (and port, if given) of a URL entry.
    pub host: Option<String>,
    pub fallback: Fallback,
}

/// The settings that decide where the go command connects.
#[derive(Clone, Debug)]
pub struct GoSettings {
    pub goproxy: Vec<ProxyEntry>,
    pub gosumdb: String,
    pub goprivate: Vec<String>,
    pub gonoproxy: Vec<String>,
    pub gonosumdb: Vec<String>,
    pub https_proxy: Option<String>,
    pub no_proxy: Vec<String>,
    /// Where the settings came from ("defaults", "environment", "go env -json FILE", "flags").
    pub source: Vec<String>,
}

impl Default for GoSettings {
    fn default() -> Self {
        GoSettings {
            goproxy: parse_goproxy("https://proxy.golang.org,direct"),
            gosumdb: "sum.golang.org".into(),
            goprivate: Vec::new(),
            gonoproxy: Vec::new(),
            gonosumdb: Vec::new(),
            https_proxy: None,
            no_proxy: Vec::new(),
            source: vec!["defaults".into()],
        }
    }
}

/// Parses GOPROXY: entries separated by `,` (fall through on 404/410) or `|` (on any error).
pub fn parse_goproxy(s: &str) -> Vec<ProxyEntry> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut push = |cur: &mut String, fallback: Fallback| {
        let url = cur.trim().to_string();
        cur.clear();
        if url.is_empty() {
            return;
        }
        let host = url_host(&url);
        out.push(ProxyEntry {
            url,
            host,
            fallback,
        });
    };
    for c in s.chars() {
        match c {
            ',' => push(&mut cur, Fallback::OnNotFound),
            '|' => push(&mut cur, Fallback::OnAnyError),
            c => cur.push(c),
        }
    }
    push(&mut cur, Fallback::None);
    out
}

/// `https://user:pw@host:port/path` -> `host:port` (or `host`); None for `direct`/`off`.
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next().unwrap_or(rest);
    let hostport = authority.rsplit('@').next().unwrap_or(authority);
    (!hostport.is_empty()).then(|| hostport.to_string())
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

impl GoSettings {
    /// Applies `KEY=value` settings (from the environment, `go env -json`, or flags).
    pub fn apply(&mut self, vars: &HashMap<String, String>, source: &str) {
        let mut used = false;
        let get = |k: &str| {
            vars.get(k)
                .or_else(|| vars.get(&k.to_ascii_lowercase()))
                .filter(|v| !v.is_empty())
        };
        if let Some(v) = get("GOPROXY") {
            self.goproxy = parse_goproxy(v);
            used = true;
        }
        if let Some(v) = get("GOSUMDB") {
            self.gosumdb = v.clone();
            used = true;
        }
        if let Some(v) = get("GOPRIVATE") {
            self.goprivate = list(v);
            used = true;
        }
        if let Some(v) = get("GONOPROXY") {
            self.gonoproxy = list(v);
            used = true;
        }
        if let Some(v) = get("GONOSUMDB") {
            self.gonosumdb = list(v);
            used = true;
        }
        if let Some(v) = get("HTTPS_PROXY").or_else(|| get("HTTP_PROXY")) {
            self.https_proxy = Some(v.clone());
            used = true;
        }
        if let Some(v) = get("NO_PROXY") {
            self.no_proxy = list(v);
            used = true;
        }
        if used {
            self.source.push(source.to_string());
        }
    }

    /// Reads `go env -json` output.
    pub fn apply_go_env_file(&mut self, path: &Path) -> Result<()> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let vars: HashMap<String, String> = serde_json::from_str(&text)
            .with_context(|| format!("{} is not `go env -json` output", path.display()))?;
        self.apply(&vars, &format!("go env -json {}", path.display()));
        Ok(())
    }

    /// The proxy host of HTTPS_PROXY, if any.
    pub fn proxy_host(&self) -> Option<String> {
        let p = self.https_proxy.as_deref()?;
        let with_scheme = if p.contains("://") {
            p.to_string()
        } else {
            format!("http://{p}")
        };
        url_host(&with_scheme)
    }

    /// The checksum database host (GOSUMDB may be `name+key url`, or `off`).
    pub fn sumdb_host(&self) -> Option<String> {
        let s = self.gosumdb.trim();
        if s == "off" || s.is_empty() {
            return None;
        }
        let mut parts = s.split_whitespace();
        let name = parts.next()?;
        match parts.next() {
            Some(url) => url_host(url).or_else(|| Some(url.to_string())),
            None => Some(name.split('+').next().unwrap_or(name).to_string()),
        }
    }

    /// Whether `host` (with or without port) is one of the GOPROXY entries.
    pub fn is_configured_proxy(&self, host: &str) -> Option<usize> {
        self.goproxy.iter().position(|e| {
            e.host
                .as_deref()
                .is_some_and(|h| h == host || h.split(':').next() == Some(host))
        })
    }

    /// Whether `host:port` is one of the GOPROXY entries, as `is_configured_proxy` with the
    /// two joined (without building the string: this is asked per connection). Only the
    /// whole entry can match: its part before the first ':' never equals a `host:port`.
    pub fn is_configured_proxy_at(&self, host: &str, port: &str) -> bool {
        self.goproxy.iter().any(|e| {
            e.host
                .as_deref()
                .is_some_and(|h| is_host_port(h, host, port))
        })
    }
}

/// `s == format!("{host}:{port}")`, without building the string (asked per connection).
pub fn is_host_port(s: &str, host: &str, port: &str) -> bool {
    s.strip_prefix(host)
        .and_then(|rest| rest.strip_prefix(':'))
        .is_some_and(|p| p == port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goproxy_lists() {
        let v = parse_goproxy("https://goproxy.cn|https://proxy.golang.org,direct");
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].host.as_deref(), Some("goproxy.cn"));
        assert_eq!(v[0].fallback, Fallback::OnAnyError);
        assert_eq!(v[1].fallback, Fallback::OnNotFound);
        assert_eq!(v[2].url, "direct");
        assert_eq!(v[2].host, None);
        assert_eq!(v[2].fallback, Fallback::None);
    }

    #[test]
    fn sumdb_and_proxy_hosts() {
        let mut s = GoSettings::default();
        assert_eq!(s.sumdb_host().as_deref(), Some("sum.golang.org"));
        let vars: HashMap<String, String> = [
            ("GOSUMDB".to_string(), "sum.golang.google.cn".to_string()),
            (
                "HTTPS_PROXY".to_string(),
                "http://user:pw@proxy.corp.example:3128".to_string(),
            ),
        ]
        .into();
        s.apply(&vars, "test");
        assert_eq!(s.sumdb_host().as_deref(), Some("sum.golang.google.cn"));
        assert_eq!(s.proxy_host().as_deref(), Some("proxy.corp.example:3128"));
        s.gosumdb = "off".into();
        assert_eq!(s.sumdb_host(), None);
    }

    #[test]
    fn configured_proxy_at_is_the_joined_lookup() {
        let s = GoSettings {
            goproxy: parse_goproxy("https://goproxy.corp:8443,https://proxy.golang.org,direct"),
            ..GoSettings::default()
        };
        for (host, port) in [
            ("goproxy.corp", 8443),
            ("goproxy.corp", 443),
            ("goproxy.cor", 8443),
            ("proxy.golang.org", 443),
            ("proxy.golang.org", 8443),
            ("", 8443),
        ] {
            let joined = format!("{host}:{port}");
            assert_eq!(
                s.is_configured_proxy_at(host, &port.to_string()),
                s.is_configured_proxy(&joined).is_some(),
                "{joined}"
            );
        }
        assert!(s.is_configured_proxy_at("goproxy.corp", "8443"));
        assert!(is_host_port("a.b:80", "a.b", "80"));
        assert!(!is_host_port("a.b:800", "a.b", "80"));
        assert!(!is_host_port("a.bc:80", "a.b", "80"));
        assert!(!is_host_port("a.b", "a.b", "80"));
        assert!(!s.is_configured_proxy_at("goproxy.corp", "443"));
    }
}
