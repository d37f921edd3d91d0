//! The origin a connection is for: (scheme, lower-cased host, port), RFC 9110 §4.3.2.
//!
//! It says where a connection goes (the connection layer dials it) and which requests a
//! connection may serve (the pool keys its hosts by it). Connections are shared only
//! between requests of the same origin. TLS settings are per client and every client has
//! its own pool, so an origin never needs to tell two TLS configurations apart.

use std::fmt;
use std::sync::Arc;

use url::Url;

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

/// (scheme, lower-cased host, port): where a connection goes, the unit of the per-host cap
/// and of reuse.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    scheme: Scheme,
    host: Arc<str>,
    port: u16,
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
        }
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

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme.as_str(), self.host, self.port)
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
    fn non_http_urls_have_no_key() {
        assert!(Origin::from_url(&Url::parse("ftp://example.com/").unwrap()).is_none());
    }
}
