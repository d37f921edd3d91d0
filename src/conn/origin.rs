//! The origin a connection is for: (scheme, lower-cased host, port), RFC 9110 §4.3.2, and
//! the proxy it goes through, if any.
//!
//! It says where a connection goes (the connection layer dials it, or the proxy) and which
//! requests a connection may serve (the pool keys its hosts by it). Connections are shared
//! only between requests of the same origin through the same proxy (or none). TLS settings
//! are per client and every client has its own pool, so an origin never needs to tell two
//! TLS configurations apart.

use std::cmp::Ordering;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, OnceLock};

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

    /// The port a URL of this scheme has when it names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// (scheme, lower-cased host, port) and the proxy: where a connection goes, the unit of
/// the per-host cap and of reuse.
///
/// Its hash is computed once, when it is made, with a key chosen at random per process
/// (so hosts named by a crawled page cannot be chosen to collide); the pool's maps hash
/// an origin by that number alone ([`OriginHasher`]), on every checkout and release.
#[derive(Debug, Clone)]
pub struct Origin {
    hash: u64,
    scheme: Scheme,
    host: HostName,
    port: u16,
    /// The HTTP proxy connections to this origin go through (`None`: straight to it).
    proxy: Option<Arc<ProxyTarget>>,
}

/// Hosts of up to this many bytes are hashed in one write (`Origin::hashed`).
const ONE_WRITE_HOST: usize = 125;

/// ASCII hosts of up to this many bytes (every IPv4 address, most names) are kept in the
/// origin itself.
const INLINE_HOST: usize = 22;

/// A lower-cased host: short ASCII ones inline, so that making an origin allocates
/// nothing and cloning or dropping one counts no reference (a request clones its origin
/// from the thread's memo and drops it; a crawler makes one per request); longer ones
/// shared. Which of the two a host is depends on its bytes alone, so two equal hosts are
/// always the same kind.
#[derive(Clone, Debug)]
enum HostName {
    /// The first `len` bytes, the rest zero.
    Inline {
        len: u8,
        bytes: [u8; INLINE_HOST],
    },
    Shared(Arc<str>),
}

impl HostName {
    fn new(host: &str) -> HostName {
        let mut bytes = [0u8; INLINE_HOST];
        match (bytes.get_mut(..host.len()), u8::try_from(host.len())) {
            (Some(place), Ok(len)) if host.is_ascii() => {
                place.copy_from_slice(host.as_bytes());
                place.make_ascii_lowercase();
                HostName::Inline { len, bytes }
            }
            _ if host.bytes().any(|b| b.is_ascii_uppercase()) => {
                HostName::Shared(Arc::from(host.to_ascii_lowercase()))
            }
            _ => HostName::Shared(Arc::from(host)),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            HostName::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or(&[]),
            HostName::Shared(host) => host.as_bytes(),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // ASCII, copied whole from a `str`: always valid.
            HostName::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            HostName::Shared(host) => host,
        }
    }
}

/// Inline hosts compare as words (the padding is zero); shared ones by address first.
impl PartialEq for HostName {
    #[inline]
    fn eq(&self, other: &HostName) -> bool {
        match (self, other) {
            (HostName::Inline { len, bytes }, HostName::Inline { len: l, bytes: b }) => {
                len == l && bytes == b
            }
            (HostName::Shared(a), HostName::Shared(b)) => Arc::ptr_eq(a, b) || a == b,
            _ => false,
        }
    }
}

impl Eq for HostName {}

/// The process's key for origin hashes.
fn hash_key() -> &'static RandomState {
    static KEY: OnceLock<RandomState> = OnceLock::new();
    KEY.get_or_init(RandomState::new)
}

impl Origin {
    /// A key from parts; the host is lower-cased.
    pub fn new(scheme: Scheme, host: &str, port: u16) -> Origin {
        Origin {
            hash: 0,
            scheme,
            host: HostName::new(host),
            port,
            proxy: None,
        }
        .hashed()
    }

    /// With its hash computed. Without a proxy, and with a host of at most
    /// [`ONE_WRITE_HOST`] bytes (any name or address a crawler meets), the parts go to the
    /// hasher in one write: each write costs about as much as a block of SipHash, and the
    /// tuple's parts would be five (a crawler makes an origin per request).
    fn hashed(mut self) -> Origin {
        let mut state = hash_key().build_hasher();
        let mut buf = [0u8; 3 + ONE_WRITE_HOST];
        let host = self.host.as_bytes();
        match (&self.proxy, buf.get_mut(..3 + host.len())) {
            (None, Some(parts)) => {
                let (head, rest) = parts.split_at_mut(3);
                head[0] = self.scheme as u8;
                head[1..].copy_from_slice(&self.port.to_le_bytes());
                rest.copy_from_slice(host);
                state.write(parts);
            }
            _ => (self.scheme, self.host(), self.port, &self.proxy).hash(&mut state),
        }
        self.hash = state.finish();
        self
    }

    /// The same origin reached through `proxy` (`None`: directly).
    pub fn via(self, proxy: Option<Arc<ProxyTarget>>) -> Origin {
        if proxy.is_none() && self.proxy.is_none() {
            return self;
        }
        Origin { proxy, ..self }.hashed()
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
        self.host.as_str()
    }

    /// Whether the host is `host` (lower-cased), without making a `str` of it.
    pub fn host_is(&self, host: &str) -> bool {
        self.host.as_bytes() == host.as_bytes()
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// The hash computed when the origin was made; [`OriginHasher`] passes it through.
impl Hash for Origin {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Different hashes settle most comparisons; a short host compares as three words, and
/// a long one shared with the other origin (one cloned from the other) is not compared
/// byte by byte.
impl PartialEq for Origin {
    #[inline]
    fn eq(&self, other: &Origin) -> bool {
        self.hash == other.hash
            && self.scheme == other.scheme
            && self.port == other.port
            && self.host == other.host
            && self.proxy == other.proxy
    }
}

impl Eq for Origin {}

/// By scheme, host, port and proxy (the hash has no order worth showing).
impl Ord for Origin {
    fn cmp(&self, other: &Origin) -> Ordering {
        (self.scheme, self.host(), self.port, &self.proxy).cmp(&(
            other.scheme,
            other.host(),
            other.port,
            &other.proxy,
        ))
    }
}

impl PartialOrd for Origin {
    fn partial_cmp(&self, other: &Origin) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The hasher of the pool's maps keyed by origin: an origin writes its hash, already
/// keyed and mixed, and that is the map's hash. Anything else written (other keys, in
/// tests) is mixed in, multiply-rotate, which is fine for keys no peer chooses.
#[derive(Default, Clone, Copy)]
pub(crate) struct OriginHasher(u64);

impl Hasher for OriginHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = if self.0 == 0 {
            n
        } else {
            (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95)
        };
    }
}

/// `BuildHasher` for maps keyed by origin.
pub(crate) type BuildOriginHasher = std::hash::BuildHasherDefault<OriginHasher>;

struct Site<'a>(&'a Origin);

impl fmt::Display for Site<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.0;
        write!(f, "{}://{}:{}", o.scheme.as_str(), o.host(), o.port)
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
        let proxy = Arc::new(ProxyTarget::new(false, "Proxy.test", 3128, Some(auth)));
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
        let proxy = Arc::new(ProxyTarget::new(false, "p", 1, None));
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
    fn hashes_of_one_write_and_of_long_hosts_tell_parts_apart() {
        let long = format!("{}.test", "h".repeat(ONE_WRITE_HOST));
        let hash = |scheme, host: &str, port| Origin::new(scheme, host, port).hash;
        for host in ["a.test", "127.0.0.1", long.as_str()] {
            assert_eq!(hash(Scheme::Http, host, 80), hash(Scheme::Http, host, 80));
            assert_ne!(hash(Scheme::Http, host, 80), hash(Scheme::Https, host, 80));
            assert_ne!(hash(Scheme::Http, host, 80), hash(Scheme::Http, host, 81));
            // A port's bytes do not run into the host's.
            assert_ne!(
                hash(Scheme::Http, host, 0x6161),
                hash(Scheme::Http, host, 0x6162)
            );
        }
        assert_ne!(
            hash(Scheme::Http, "a.test", 80),
            hash(Scheme::Http, "b.test", 80)
        );
        assert_eq!(
            hash(Scheme::Http, &long, 80),
            hash(Scheme::Http, &long.to_uppercase(), 80)
        );
    }

    #[test]
    fn origins_sort_by_scheme_host_and_port_not_by_hash() {
        let mut keys: Vec<Origin> = ["http://c.test/", "http://a.test:81/", "https://a.test/"]
            .iter()
            .chain(["http://b.test/", "http://a.test/"].iter())
            .map(|s| key(s))
            .collect();
        keys.sort();
        let shown: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        assert_eq!(
            shown,
            [
                "http://a.test:80",
                "http://a.test:81",
                "http://b.test:80",
                "http://c.test:80",
                "https://a.test:443"
            ]
        );
    }

    #[test]
    fn the_pool_maps_find_origins_by_their_hash() {
        use std::collections::HashMap;
        let mut map: HashMap<Origin, usize, BuildOriginHasher> = HashMap::default();
        for i in 0..1000 {
            map.insert(key(&format!("http://h{i}.test:{}/", 1000 + i)), i);
        }
        assert_eq!(map.len(), 1000);
        for i in (0..1000).step_by(7) {
            let fresh = key(&format!("HTTP://H{i}.test:{}/x", 1000 + i));
            assert_eq!(map.get(&fresh), Some(&i));
        }
        assert_eq!(map.get(&key("http://h1.test:1000/")), None);
        let mut hasher = OriginHasher::default();
        key("http://h1.test/").hash(&mut hasher);
        assert_eq!(hasher.finish(), key("http://H1.test:80/").hash);
    }

    /// Hosts up to the inline length and past it, in any case, ASCII or not: each reads
    /// back lower-cased, equals only its own kind's copies, and sorts by its text.
    #[test]
    fn short_hosts_are_inline_and_read_back_as_long_ones_do() {
        let at_limit = "a".repeat(INLINE_HOST);
        let past_limit = "a".repeat(INLINE_HOST + 1);
        for (host, inline) in [
            ("127.0.0.1", true),
            ("Example.COM", true),
            (at_limit.as_str(), true),
            (past_limit.as_str(), false),
            ("Stra\u{df}e.test", false),
        ] {
            let origin = Origin::new(Scheme::Http, host, 80);
            assert_eq!(
                matches!(origin.host, HostName::Inline { .. }),
                inline,
                "{host}"
            );
            assert_eq!(origin.host(), host.to_ascii_lowercase());
            assert!(origin.host_is(&host.to_ascii_lowercase()));
            assert!(!origin.host_is(host) || host == host.to_ascii_lowercase());
            let same = Origin::new(Scheme::Http, &host.to_ascii_uppercase(), 80);
            assert_eq!(origin, same, "{host}");
            let other = Origin::new(Scheme::Http, &format!("{host}x"), 80);
            assert_ne!(origin, other, "{host}");
            assert_eq!(
                origin.cmp(&other),
                host.to_ascii_lowercase().as_str().cmp(other.host())
            );
        }
        // Inline hosts of one length, or one a prefix of the other.
        let host = |h: &str| Origin::new(Scheme::Http, h, 80).host;
        assert_ne!(host("a.test"), host("b.test"));
        assert_ne!(host("a.test"), host("a.tes"));
        assert_eq!(host("a.test"), host("A.Test"));
    }

    #[test]
    fn non_http_urls_have_no_key() {
        assert!(Origin::from_url(&Url::parse("ftp://example.com/").unwrap()).is_none());
    }
}
