//! The GOPROXY protocol and checksum-database paths, decoded from plaintext requests.
//!
//! GOPROXY (<https://go.dev/ref/mod#goproxy-protocol>): `<module>/@v/list`,
//! `<module>/@v/<version>.info|.mod|.zip`, `<module>/@latest`, with upper-case letters
//! escaped as `!` + lower case. Checksum database (<https://go.dev/ref/mod#checksum-database>):
//! `/lookup/<module>@<version>`, `/tile/...`, `/latest`, and through a proxy
//! `/sumdb/<name>/supported` and `/sumdb/<name>/<path>`.

/// What a Go module request asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    List,
    Info,
    Mod,
    Zip,
    Latest,
    SumdbLookup,
    SumdbTile,
    SumdbLatest,
    SumdbSupported,
    /// `?go-get=1`: the go command asking a VCS host for its meta tags.
    GoGet,
    /// git smart HTTP (`/info/refs?service=git-upload-pack`, `/git-upload-pack`).
    GitSmartHttp,
}

/// A decoded Go request path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoRequest {
    pub module: Option<String>,
    pub version: Option<String>,
    pub endpoint: Endpoint,
}

/// Undoes the `!x` -> `X` case escaping of module paths and versions.
pub fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut bang = false;
    for c in s.chars() {
        if bang {
            if !c.is_ascii_lowercase() {
                return None;
            }
            out.push(c.to_ascii_uppercase());
            bang = false;
        } else if c == '!' {
            bang = true;
        } else if c.is_ascii_uppercase() {
            return None; // upper case must be escaped
        } else {
            out.push(c);
        }
    }
    (!bang).then_some(out)
}

/// Decodes a request target (origin form, or the path of an absolute URI).
pub fn parse(target: &str) -> Option<GoRequest> {
    // Absolute form through a proxy: drop scheme and authority.
    let path = match target.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    };
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    if query.split('&').any(|kv| kv == "go-get=1") {
        return Some(GoRequest {
            module: Some(path.trim_matches('/').to_string()),
            version: None,
            endpoint: Endpoint::GoGet,
        });
    }
    if path.ends_with("/info/refs") && query.contains("service=git-")
        || path.ends_with("/git-upload-pack")
    {
        let repo = path
            .trim_end_matches("/git-upload-pack")
            .trim_end_matches("/info/refs");
        return Some(GoRequest {
            module: Some(repo.trim_matches('/').to_string()),
            version: None,
            endpoint: Endpoint::GitSmartHttp,
        });
    }
    // A sumdb proxied through a module proxy, or a direct sumdb.
    let sumdb_path = match path.find("/sumdb/") {
        Some(i) => {
            let rest = &path[i + "/sumdb/".len()..];
            let (_name, tail) = rest.split_once('/').unwrap_or((rest, ""));
            if tail == "supported" {
                return Some(GoRequest {
                    module: None,
                    version: None,
                    endpoint: Endpoint::SumdbSupported,
                });
            }
            Some(format!("/{tail}"))
        }
        None => None,
    };
    let p = sumdb_path.as_deref().unwrap_or(path);
    if let Some(rest) = p.strip_prefix("/lookup/") {
        let (m, v) = rest.rsplit_once('@')?;
        return Some(GoRequest {
            module: unescape(m),
            version: unescape(v),
            endpoint: Endpoint::SumdbLookup,
        });
    }
    if p.starts_with("/tile/") {
        return Some(GoRequest {
            module: None,
            version: None,
            endpoint: Endpoint::SumdbTile,
        });
    }
    if p == "/latest" {
        return Some(GoRequest {
            module: None,
            version: None,
            endpoint: Endpoint::SumdbLatest,
        });
    }
    if let Some(m) = p.strip_suffix("/@latest") {
        return Some(GoRequest {
            module: unescape(m.trim_start_matches('/')),
            version: None,
            endpoint: Endpoint::Latest,
        });
    }
    let (m, file) = p.split_once("/@v/")?;
    let module = unescape(m.trim_start_matches('/'))?;
    if module.is_empty() {
        return None;
    }
    if file == "list" {
        return Some(GoRequest {
            module: Some(module),
            version: None,
            endpoint: Endpoint::List,
        });
    }
    let (v, ext) = file.rsplit_once('.')?;
    let endpoint = match ext {
        "info" => Endpoint::Info,
        "mod" => Endpoint::Mod,
        "zip" => Endpoint::Zip,
        _ => return None,
    };
    Some(GoRequest {
        module: Some(module),
        version: unescape(v),
        endpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_paths() {
        let r = parse("/github.com/!burnt!sushi/toml/@v/v1.2.0.zip").unwrap();
        assert_eq!(r.module.as_deref(), Some("github.com/BurntSushi/toml"));
        assert_eq!(r.version.as_deref(), Some("v1.2.0"));
        assert_eq!(r.endpoint, Endpoint::Zip);
        assert_eq!(
            parse("/golang.org/x/text/@v/list").unwrap().endpoint,
            Endpoint::List
        );
        assert_eq!(
            parse("/golang.org/x/text/@latest").unwrap().endpoint,
            Endpoint::Latest
        );
        let abs = parse("http://10.77.2.4/github.com/example/hello/@v/v1.1.0.info").unwrap();
        assert_eq!(abs.module.as_deref(), Some("github.com/example/hello"));
        assert_eq!(abs.endpoint, Endpoint::Info);
        let v = parse("/golang.org/toolchain/@v/v0.0.1-go1.22.0.linux-amd64.zip").unwrap();
        assert_eq!(v.module.as_deref(), Some("golang.org/toolchain"));
    }

    #[test]
    fn sumdb_paths() {
        let r = parse("/lookup/github.com/example/hello@v1.1.0").unwrap();
        assert_eq!(r.endpoint, Endpoint::SumdbLookup);
        assert_eq!(r.module.as_deref(), Some("github.com/example/hello"));
        assert_eq!(
            parse("/tile/8/0/x005/123").unwrap().endpoint,
            Endpoint::SumdbTile
        );
        assert_eq!(
            parse("/sumdb/sum.golang.org/supported").unwrap().endpoint,
            Endpoint::SumdbSupported
        );
        assert_eq!(
            parse("/sumdb/sum.golang.org/latest").unwrap().endpoint,
            Endpoint::SumdbLatest
        );
    }

    #[test]
    fn vcs_and_junk() {
        assert_eq!(
            parse("/example.com/repo?go-get=1").unwrap().endpoint,
            Endpoint::GoGet
        );
        assert_eq!(
            parse("/org/repo.git/info/refs?service=git-upload-pack")
                .unwrap()
                .endpoint,
            Endpoint::GitSmartHttp
        );
        assert_eq!(parse("/index.html"), None);
        assert_eq!(parse("/Bad/@v/list"), None);
    }
}
