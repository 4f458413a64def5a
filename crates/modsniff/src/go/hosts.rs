//! Well-known hosts of the Go module ecosystem.

/// What a host is to the go command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoRole {
    /// A GOPROXY module proxy (public mirror or self-hosted).
    ModuleProxy,
    /// A checksum database (GOSUMDB).
    ChecksumDb,
    /// A version-control host fetched directly (GOPROXY=direct, GOPRIVATE).
    Vcs,
    /// An HTTP(S) proxy the go command tunnels through (HTTPS_PROXY).
    HttpProxy,
}

/// Public module proxies.
pub const MODULE_PROXIES: &[&str] = &[
    "proxy.golang.org",
    "goproxy.cn",
    "goproxy.io",
    "proxy.golang.com.cn",
    "goproxy.baidu.com",
    "mirrors.aliyun.com",
    "mirrors.tencent.com",
    "gocenter.io",
];

/// Public checksum databases.
pub const CHECKSUM_DBS: &[&str] = &["sum.golang.org", "sum.golang.google.cn"];

/// Hosts the go command fetches from directly (GOPROXY=direct, GOPRIVATE).
pub const VCS_HOSTS: &[&str] = &[
    "github.com",
    "gitlab.com",
    "bitbucket.org",
    "go.googlesource.com",
    "golang.org",
    "go.dev",
    "gopkg.in",
    "codeberg.org",
    "git.sr.ht",
    "storage.googleapis.com",
    "dl.google.com",
];

/// The role of a well-known host name, if it is one.
pub fn classify_host(name: &str) -> Option<GoRole> {
    let n = name.trim_end_matches('.').as_bytes();
    // `n` is `h` or ends with ".h", ASCII case aside; without building ".h" (a `format!` per
    // listed host per connection was ~5 % of a full analysis) and without a lower-case copy
    // of the name (the listed hosts are lower case).
    let is = |list: &[&str]| {
        list.iter().any(|h| {
            n.len()
                .checked_sub(h.len())
                .and_then(|cut| n.split_at_checked(cut))
                .is_some_and(|(rest, tail)| {
                    tail.eq_ignore_ascii_case(h.as_bytes())
                        && (rest.is_empty() || rest.ends_with(b"."))
                })
        })
    };
    if is(CHECKSUM_DBS) {
        Some(GoRole::ChecksumDb)
    } else if is(MODULE_PROXIES) {
        Some(GoRole::ModuleProxy)
    } else if is(VCS_HOSTS) {
        Some(GoRole::Vcs)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_hosts() {
        assert_eq!(classify_host("proxy.golang.org"), Some(GoRole::ModuleProxy));
        assert_eq!(classify_host("sum.golang.org."), Some(GoRole::ChecksumDb));
        assert_eq!(classify_host("github.com"), Some(GoRole::Vcs));
        assert_eq!(classify_host("example.com"), None);
        assert_eq!(
            classify_host("Proxy.Golang.ORG."),
            Some(GoRole::ModuleProxy)
        );
        assert_eq!(classify_host("mirror.GITHUB.com"), Some(GoRole::Vcs));
        assert_eq!(classify_host("notgithub.com"), None);
        assert_eq!(classify_host("github.com.example"), None);
        assert_eq!(classify_host("ithub.com"), None);
        assert_eq!(classify_host("é.github.com"), Some(GoRole::Vcs));
        assert_eq!(classify_host("éithub.com"), None);
    }
}
