//! The origin a connection is for: (scheme, lower-cased host, port), RFC 9110 §4.3.2, and
//! the proxy it goes through, if any.
//!
//! It says where a connection goes (the connection layer dials it, or the proxy) and which
//! requests a connection may serve (the pool keys its hosts by it). Connections are shared
//! only between requests of the same origin through the same proxy (or none). TLS settings
//! are per client and every client has its own pool, so an origin never needs to tell two
//! TLS configurations apart.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use url::Url;

use super::proxy::ProxyTarget;

/// The URL scheme of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// Plain TCP.
    Http,
    /// TLS over TCP.
    Https,
}

impl Scheme {
    /// The scheme's name as in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// (scheme, lower-cased host, port) and the proxy: where a connection goes, the unit of
/// the per-host cap and of reuse.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Origin {
    scheme: Scheme,
    host: Arc<str>,
    port: u16,
    /// The HTTP proxy connections to this origin go through (`None`: straight to it).
    proxy: Option<Arc<ProxyTarget>>,
}

impl Origin {
    /// A key from parts; the host is lower-cased.
    pub fn new(scheme: Scheme, host: &str, port: u16) -> Origin {
        Origin {
            scheme,
            host: if host.bytes().any(|b| b.is_ascii_uppercase()) {
                Arc::from(host.to_ascii_lowercase())
            } else {
                Arc::from(host)
            },
            port,
            proxy: None,
        }
    }

    /// The same origin reached through `proxy` (`None`: directly).
    pub fn via(self, proxy: Option<Arc<ProxyTarget>>) -> Origin {
        Origin { proxy, ..self }
    }

    /// `scheme://host:port`, without the proxy.
    pub fn site(&self) -> impl fmt::Display + '_ {
        Site(self)
    }

    /// The proxy connections to this origin go through, if any.
    pub fn proxy(&self) -> Option<&ProxyTarget> {
        self.proxy.as_deref()
    }

    /// The key for a URL, or `None` when the URL is not http(s) or has no host.
    pub fn from_url(url: &Url) -> Option<Origin> {
        let scheme = match url.scheme() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            _ => return None,
        };
        let host = url.host_str()?;
        let port = url.port_or_known_default()?;
        Some(Origin::new(scheme, host, port))
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host as written in the URL, lower-cased (IPv6 literals keep their brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// Hashed on every checkout and release: the scheme and port go in one write, and the
/// proxy only when there is one, so the plain key costs two writes to the hasher.
impl Hash for Origin {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u32(u32::from(self.port) << 1 | (self.scheme == Scheme::Https) as u32);
        state.write(self.host.as_bytes());
        if let Some(proxy) = &self.proxy {
            proxy.hash(state);
        }
    }
}

struct Site<'a>(&'a Origin);

impl fmt::Display for Site<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.0;
        write!(f, "{}://{}:{}", o.scheme.as_str(), o.host, o.port)
    }
}

/// `scheme://host:port`, and ` via http://proxy:port` through a proxy.
impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.site())?;
        match &self.proxy {
            Some(proxy) => write!(f, " via {proxy}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Origin {
        Origin::from_url(&Url::parse(s).unwrap()).unwrap()
    }

    #[test]
    fn host_case_and_default_port_do_not_split_keys() {
        assert_eq!(key("http://Example.COM/a"), key("http://example.com:80/b"));
    }

    #[test]
    fn scheme_and_port_split_keys() {
        assert_ne!(key("http://example.com/"), key("https://example.com/"));
        assert_ne!(key("http://example.com/"), key("http://example.com:8080/"));
        assert_eq!(key("https://example.com/").port(), 443);
    }

    #[test]
    fn a_proxy_splits_keys_and_is_shown_without_credentials() {
        let auth = http::HeaderValue::from_static("Basic YTpi");
        let proxy = Arc::new(ProxyTarget::new("Proxy.test", 3128, Some(auth)));
        let via = key("http://example.com/").via(Some(proxy.clone()));
        assert_ne!(via, key("http://example.com/"));
        assert_eq!(via, key("http://EXAMPLE.com:80/x").via(Some(proxy)));
        assert_eq!(
            via.to_string(),
            "http://example.com:80 via http://proxy.test:3128"
        );
        assert!(!format!("{via:?}").contains("YTpi"));
    }

    #[test]
    fn equal_keys_hash_alike() {
        use std::collections::HashSet;
        let proxy = Arc::new(ProxyTarget::new("p", 1, None));
        let keys = [
            key("http://a.test/"),
            key("https://a.test/"),
            key("http://a.test:81/"),
            key("http://b.test/"),
            key("http://a.test/").via(Some(proxy.clone())),
        ];
        let set: HashSet<Origin> = keys.iter().cloned().collect();
        assert_eq!(set.len(), keys.len());
        for k in &keys {
            assert!(set.contains(&k.clone()));
        }
        assert!(set.contains(&key("HTTP://A.TEST:80/x").via(Some(proxy))));
    }

    #[test]
    fn non_http_urls_have_no_key() {
        assert!(Origin::from_url(&Url::parse("ftp://example.com/").unwrap()).is_none());
    }
}
