//! Which requests go through which proxy: the public [`Proxy`] rules given to the builder,
//! or the environment's, read once when the client is built.
//!
//! The environment (as curl reads it, and Go and reqwest nearly so):
//! - `http_proxy` for `http://` URLs, `https_proxy` for `https://`, `all_proxy` for either
//!   when the scheme's own is not set; each also in upper case, the lower-case name first.
//!   `HTTP_PROXY` is ignored when `REQUEST_METHOD` is set: in a CGI program it can come
//!   from a request's `Proxy:` header ("httpoxy").
//! - `no_proxy` (or `NO_PROXY`): hosts that bypass all of them (`no_proxy.rs`).
//! - Empty values count as unset (an empty `http_proxy` lets `HTTP_PROXY` count, as in Go).
//!   A value without a scheme is taken as `http://`.
//! - Values may name `http://`, `https://`, `socks4://`, `socks4a://`, `socks5://` or
//!   `socks5h://` proxies (`all_proxy=socks5h://..`
//!   is the usual way to send everything through SOCKS).
//! - A value that cannot be used (it does not parse, or names another kind of proxy) is not
//!   skipped, which would send the traffic it was meant to carry past the proxy: the
//!   requests it would carry fail with `ErrorKind::Proxy`, naming the variable.
//!
//! The connection through a proxy is `conn/proxy.rs`; the request form (absolute-form and
//! `Proxy-Authorization` for `http://` origins through an HTTP proxy) is chosen in
//! `send.rs`.

use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue};
use percent_encoding::percent_decode_str;
use url::Url;

use super::no_proxy::NoProxy;
use super::url_auth;
use crate::conn::{Origin, ProxyKind, ProxyTarget, Scheme, SocksLogin};
use crate::error::{Error, ErrorKind};

/// A proxy for some requests of a client: `http://` ones, `https://` ones, or all.
///
/// These kinds of proxy are supported:
/// - HTTP (`http://`, or no scheme; `https://` for the same over TLS to the proxy, under
///   its name, checked against the client's roots): plain requests are forwarded to it in
///   absolute-form, and `https://` requests go through a `CONNECT` tunnel, with TLS to the
///   origin inside it. Credentials in the proxy's URL (or [`Proxy::basic_auth`]) are sent
///   as `Proxy-Authorization: Basic`.
/// - SOCKS5 (`socks5://`, where tether resolves the host and gives the proxy its
///   address; `socks5h://`, where the proxy resolves the name; port 1080 by default):
///   every request goes through a connection the proxy opens to its origin, with TLS
///   inside it for `https://`. Credentials log in with SOCKS5's username and password.
/// - SOCKS4, for older proxies (`socks4://`, given the first IPv4 address tether resolves;
///   `socks4a://`, given the name; port 1080 by default): the same, with the URL's user
///   as SOCKS4's user id (it has no password).
///
/// Credentials are never shown in `Debug`, errors or tracing.
///
/// ```
/// let client = tether::Client::builder()
///     .proxy(tether::Proxy::all("http://user:secret@proxy.example:3128")?)
///     .build()?;
/// # Ok::<(), tether::Error>(())
/// ```
#[derive(Clone)]
pub struct Proxy {
    intercept: Intercept,
    /// The proxy, or why the setting it came from cannot be used.
    target: Result<Arc<ProxyTarget>, Arc<str>>,
    no_proxy: Option<NoProxy>,
    /// [`Proxy::custom`]: the proxy chosen per request, `target` unused.
    custom: Option<Custom>,
}

/// A caller's choice of proxy for a request URL.
type Choose = dyn Fn(&Url) -> Option<String> + Send + Sync;

/// A caller's choice of proxy per request URL, and the credentials `basic_auth` gave it.
#[derive(Clone)]
struct Custom {
    choose: Arc<Choose>,
    login: Option<(Arc<str>, Arc<str>)>,
    /// `custom_http_auth`'s value, sent in place of the login's.
    authorization: Option<HeaderValue>,
    /// `headers`'s fields.
    headers: Option<HeaderMap>,
}

/// Which requests a proxy is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Intercept {
    Http,
    Https,
    All,
}

impl Intercept {
    fn covers(self, scheme: Scheme) -> bool {
        match self {
            Intercept::All => true,
            Intercept::Http => scheme == Scheme::Http,
            Intercept::Https => scheme == Scheme::Https,
        }
    }
}

impl Proxy {
    /// A proxy for `http://` requests.
    ///
    /// Errors (`ErrorKind::Proxy`): the URL does not parse, or its scheme is none of
    /// `http`, `https`, `socks4`, `socks4a`, `socks5` and `socks5h`. A URL without a scheme (`proxy.example:3128`) is
    /// taken as `http://`.
    ///
    /// ```
    /// let proxy = tether::Proxy::http("http://127.0.0.1:3128")?;
    /// let proxy = tether::Proxy::http("socks5h://127.0.0.1:1080")?;
    /// let proxy = tether::Proxy::http("socks4a://127.0.0.1:1080")?;
    /// assert!(tether::Proxy::http("socks6://127.0.0.1:1080").is_err());
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn http(url: impl AsRef<str>) -> Result<Proxy, Error> {
        Proxy::new(Intercept::Http, url.as_ref())
    }

    /// A proxy for `https://` requests (through `CONNECT` tunnels of an HTTP proxy, or
    /// through a SOCKS5 proxy).
    ///
    /// ```
    /// let proxy = tether::Proxy::https("proxy.example:3128")?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn https(url: impl AsRef<str>) -> Result<Proxy, Error> {
        Proxy::new(Intercept::Https, url.as_ref())
    }

    /// A proxy for every request.
    ///
    /// ```
    /// let proxy = tether::Proxy::all("http://proxy.example:3128")?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn all(url: impl AsRef<str>) -> Result<Proxy, Error> {
        Proxy::new(Intercept::All, url.as_ref())
    }

    /// Logs in to the proxy with these credentials, replacing any from the URL: as
    /// `Proxy-Authorization: Basic` for an HTTP proxy, with SOCKS5's username and password
    /// (RFC 1929) for a SOCKS5 one. SOCKS5 takes a username of 1 to 255 bytes and a
    /// password of at most 255: others make the requests this proxy covers fail with
    /// `ErrorKind::Proxy`.
    ///
    /// ```
    /// let proxy = tether::Proxy::all("http://proxy.example:3128")?.basic_auth("alice", "s3cret");
    /// assert!(!format!("{proxy:?}").contains("s3cret"));
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn basic_auth(mut self, username: &str, password: &str) -> Proxy {
        if let Some(custom) = &mut self.custom {
            custom.login = Some((username.into(), password.into()));
            custom.authorization = None;
            return self;
        }
        let Ok(target) = &self.target else {
            return self;
        };
        let credentials = format!("{username}:{password}");
        let Ok(value) = url_auth::basic_value(credentials.as_bytes()) else {
            return self;
        };
        let with = target.with_credentials(username, password, value);
        self.target = match with.login().map(|login| check_login(with.kind(), login)) {
            Some(Err(why)) => Err(Arc::from(format!("proxy {target}: {why}"))),
            _ => Ok(Arc::new(with)),
        };
        self
    }

    /// Sends `value` as the `Proxy-Authorization` to an HTTP proxy (reqwest's name), in
    /// place of any credentials given before: for schemes other than Basic (a bearer
    /// token, say). A SOCKS5 proxy has no such header: there it changes nothing.
    ///
    /// ```
    /// let token = http::HeaderValue::from_static("Bearer t0k3n");
    /// let proxy = tether::Proxy::all("http://proxy.example:3128")?.custom_http_auth(token);
    /// assert!(!format!("{proxy:?}").contains("t0k3n"));
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn custom_http_auth(mut self, mut value: HeaderValue) -> Proxy {
        value.set_sensitive(true);
        if let Some(custom) = &mut self.custom {
            custom.authorization = Some(value);
            return self;
        }
        if let Ok(target) = &self.target {
            self.target = Ok(Arc::new(target.with_authorization(value)));
        }
        self
    }

    /// Sends these header fields to an HTTP proxy (reqwest's name), in place of any
    /// given before: on each `CONNECT` (for `https://` origins) and on each plain request
    /// it forwards, where the request has no field of that name (its own and the
    /// client's default headers come first; a `Proxy-Authorization` from the proxy's
    /// credentials too). For a proxy that wants a token, or a name for the client, of
    /// its own. A SOCKS5 proxy has no header: there it changes nothing. The values are
    /// never shown in `Debug`.
    ///
    /// ```
    /// let mut fields = http::HeaderMap::new();
    /// fields.insert("x-proxy-token", http::HeaderValue::from_static("t0k3n"));
    /// let proxy = tether::Proxy::all("http://proxy.example:3128")?.headers(fields);
    /// assert!(!format!("{proxy:?}").contains("t0k3n"));
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn headers(mut self, headers: HeaderMap) -> Proxy {
        if let Some(custom) = &mut self.custom {
            custom.headers = Some(headers);
            return self;
        }
        if let Ok(target) = &self.target {
            self.target = Ok(Arc::new(target.with_headers(&headers)));
        }
        self
    }

    /// Hosts for which this proxy is not used (`None`: none).
    ///
    /// ```
    /// let proxy = tether::Proxy::all("http://proxy.example:3128")?
    ///     .no_proxy(tether::NoProxy::from_string("localhost,.corp.example"));
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn no_proxy(mut self, no_proxy: Option<NoProxy>) -> Proxy {
        self.no_proxy = no_proxy;
        self
    }

    /// A proxy chosen for each request by `choose`, given the request's URL (reqwest's
    /// `custom`): the URL of a proxy of any kind [`Proxy::all`] takes, or `None` for this
    /// rule to let the next one (or a direct connection) take the request. Requests given
    /// the same proxy share its connections. One given a URL that cannot be used fails
    /// with `ErrorKind::Proxy`. [`no_proxy`](Self::no_proxy) and
    /// [`basic_auth`](Self::basic_auth) apply as to the other rules.
    ///
    /// ```
    /// // A proxy per host, for a crawler that spreads its hosts over several.
    /// let proxy = tether::Proxy::custom(|url| match url.host_str() {
    ///     Some(host) if host.ends_with(".internal") => None,
    ///     Some(host) if host.len() % 2 == 0 => Some("http://proxy-a.example:3128"),
    ///     _ => Some("http://proxy-b.example:3128"),
    /// });
    /// let client = tether::Client::builder().proxy(proxy).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn custom<F, U>(choose: F) -> Proxy
    where
        F: Fn(&Url) -> Option<U> + Send + Sync + 'static,
        U: AsRef<str>,
    {
        Proxy {
            intercept: Intercept::All,
            target: Err(Arc::from("a custom proxy has no one target")),
            no_proxy: None,
            custom: Some(Custom {
                choose: Arc::new(move |url| choose(url).map(|u| u.as_ref().to_owned())),
                login: None,
                authorization: None,
                headers: None,
            }),
        }
    }

    fn new(intercept: Intercept, url: &str) -> Result<Proxy, Error> {
        let target = parse_proxy_url(url).map_err(|why| Error::msg(ErrorKind::Proxy, why))?;
        Ok(Proxy {
            intercept,
            target: Ok(Arc::new(target)),
            no_proxy: None,
            custom: None,
        })
    }

    /// The proxy this rule gives for `origin` (whose full URL `url` gives): `None` when
    /// the rule does not cover it.
    fn route(
        &self,
        origin: &Origin,
        url: &dyn Fn() -> Url,
    ) -> Option<Result<Arc<ProxyTarget>, Error>> {
        if !self.intercept.covers(origin.scheme()) {
            return None;
        }
        if let Some(no_proxy) = &self.no_proxy {
            if no_proxy.matches(origin.host(), origin.port()) {
                return None;
            }
        }
        if let Some(custom) = &self.custom {
            return custom.route(&url());
        }
        Some(
            self.target
                .clone()
                .map_err(|why| Error::msg(ErrorKind::Proxy, why.to_string())),
        )
    }
}

impl Custom {
    /// The caller's proxy for `url`, read as a proxy URL, with the rule's credentials.
    fn route(&self, url: &Url) -> Option<Result<Arc<ProxyTarget>, Error>> {
        let chosen = (self.choose)(url)?;
        let mut target = match parse_proxy_url(&chosen) {
            Ok(target) => target,
            Err(why) => return Some(Err(Error::msg(ErrorKind::Proxy, why))),
        };
        if let Some((username, password)) = &self.login {
            let credentials = format!("{username}:{password}");
            if let Ok(value) = url_auth::basic_value(credentials.as_bytes()) {
                target = target.with_credentials(username, password, value);
            }
            if let Some(Err(why)) = target
                .login()
                .map(|login| check_login(target.kind(), login))
            {
                return Some(Err(Error::msg(
                    ErrorKind::Proxy,
                    format!("proxy {target}: {why}"),
                )));
            }
        }
        if let Some(value) = &self.authorization {
            target = target.with_authorization(value.clone());
        }
        if let Some(headers) = &self.headers {
            target = target.with_headers(headers);
        }
        Some(Ok(Arc::new(target)))
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Proxy");
        d.field("intercept", &self.intercept);
        match (&self.custom, &self.target) {
            (Some(_), _) => d.field("proxy", &"custom"),
            (None, Ok(target)) => d.field("proxy", &format_args!("{target}")),
            (None, Err(why)) => d.field("unusable", why),
        };
        d.field("no_proxy", &self.no_proxy).finish()
    }
}

/// Reads a proxy URL: `scheme://[user[:password]@]host[:port]` with scheme `http` (the
/// default when there is none; port 80 by default), `https` (443), `socks5` or `socks5h`
/// (1080). The error says why, without the password.
fn parse_proxy_url(raw: &str) -> Result<ProxyTarget, String> {
    let raw = raw.trim();
    let with_scheme;
    let text = if raw.contains("://") {
        raw
    } else {
        with_scheme = format!("http://{raw}");
        &with_scheme
    };
    let shown = url_auth::redact_str(raw);
    let url = Url::parse(text).map_err(|e| format!("proxy URL {shown:?} does not parse: {e}"))?;
    let kind = match url.scheme() {
        "http" => ProxyKind::Http,
        "https" => ProxyKind::Https,
        "socks5" => ProxyKind::Socks5,
        "socks5h" => ProxyKind::Socks5h,
        "socks4" => ProxyKind::Socks4,
        "socks4a" => ProxyKind::Socks4a,
        other => {
            return Err(format!(
                "proxy URL {shown:?}: scheme {other} is not supported (http://, https://, socks4://, socks4a://, socks5:// and socks5h:// proxies are)"
            ))
        }
    };
    let host = match url.host_str() {
        Some(host) if !host.is_empty() => host,
        _ => return Err(format!("proxy URL {shown:?} has no host")),
    };
    if let ProxyKind::Http | ProxyKind::Https = kind {
        let port = url.port_or_known_default().unwrap_or(80);
        let mut headers = Vec::new();
        let mut url_copy = url.clone();
        url_auth::take_credentials(&mut url_copy, &mut headers);
        let authorization = headers.pop().map(|(_, value): (_, HeaderValue)| value);
        let tls = kind == ProxyKind::Https;
        return Ok(ProxyTarget::new(tls, host, port, authorization));
    }
    let port = url.port().unwrap_or(1080);
    let login = match (url.username(), url.password()) {
        ("", None) => None,
        (username, password) => {
            let login = SocksLogin {
                username: percent_decode_str(username).collect::<Vec<u8>>().into(),
                password: percent_decode_str(password.unwrap_or(""))
                    .collect::<Vec<u8>>()
                    .into(),
            };
            check_login(kind, &login).map_err(|why| format!("proxy URL {shown:?}: {why}"))?;
            Some(login)
        }
    };
    Ok(ProxyTarget::socks(kind, host, port, login))
}

/// A login fits its proxy's message: for SOCKS5 (RFC 1929) a username of 1 to 255 bytes
/// and a password of at most 255; for SOCKS4, which sends the username alone as its user
/// id, at most 255 bytes and no NUL.
fn check_login(kind: ProxyKind, login: &SocksLogin) -> Result<(), &'static str> {
    match kind {
        ProxyKind::Socks4 | ProxyKind::Socks4a => {
            if login.username.len() <= 255 && !login.username.contains(&0) {
                Ok(())
            } else {
                Err("a SOCKS4 user id must be at most 255 bytes, none of them NUL")
            }
        }
        _ if (1..=255).contains(&login.username.len()) && login.password.len() <= 255 => Ok(()),
        _ => Err("a SOCKS5 username must be 1 to 255 bytes, and a password at most 255"),
    }
}

/// The proxy rules of a client, in order: the first rule that covers a request decides.
#[derive(Clone, Default)]
pub(crate) struct Proxies {
    rules: Vec<Proxy>,
}

impl Proxies {
    /// The builder's rules.
    pub fn given(rules: Vec<Proxy>) -> Proxies {
        Proxies { rules }
    }

    /// The rules of an environment (`get` reads one variable): the scheme's own proxy
    /// first, then `all_proxy`, all bypassed for the hosts of `no_proxy`.
    pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Proxies {
        let no_proxy = env_var(get, "no_proxy").and_then(|list| NoProxy::from_string(&list));
        let cgi = get("REQUEST_METHOD").is_some();
        let mut rules = Vec::new();
        let schemes = [
            (Intercept::Http, "http_proxy"),
            (Intercept::Https, "https_proxy"),
            (Intercept::All, "all_proxy"),
        ];
        for (intercept, name) in schemes {
            let value = if intercept == Intercept::Http && cgi {
                get(name).filter(|v| !v.trim().is_empty())
            } else {
                env_var(get, name)
            };
            let Some(value) = value else { continue };
            let target = parse_proxy_url(&value)
                .map(Arc::new)
                .map_err(|why| Arc::from(format!("the environment's {name}: {why}")));
            rules.push(Proxy {
                intercept,
                target,
                no_proxy: no_proxy.clone(),
                custom: None,
            });
        }
        Proxies { rules }
    }

    /// Whether no request goes through a proxy.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The proxy for `origin`, if any; an error when the rule that covers it cannot be
    /// used. `url` makes the request's URL, for a custom rule.
    pub fn route(
        &self,
        origin: &Origin,
        url: &dyn Fn() -> Url,
    ) -> Result<Option<Arc<ProxyTarget>>, Error> {
        for rule in &self.rules {
            if let Some(target) = rule.route(origin, url) {
                return target.map(Some);
            }
        }
        Ok(None)
    }
}

/// A variable of the process's environment. A value that is not UTF-8 is read lossily,
/// so that it fails as a proxy URL rather than counting as unset.
pub(crate) fn read_env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// A variable by its lower-case name, else its upper-case one; empty counts as unset.
pub(crate) fn env_var(get: &dyn Fn(&str) -> Option<String>, lower: &str) -> Option<String> {
    let set = |v: &String| !v.trim().is_empty();
    get(lower)
        .filter(set)
        .or_else(|| get(&lower.to_ascii_uppercase()).filter(set))
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Proxy {
        fn route_for(&self, url: &str) -> Option<Result<Arc<ProxyTarget>, Error>> {
            self.route(&origin(url), &|| Url::parse(url).unwrap())
        }
    }

    fn origin(url: &str) -> Origin {
        Origin::from_url(&Url::parse(url).unwrap()).unwrap()
    }

    fn env(vars: &[(&str, &str)]) -> Proxies {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Proxies::from_env(&move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    /// What the route of `url` shows: "direct", the proxy, or "error".
    fn routed(proxies: &Proxies, url: &str) -> String {
        let parsed = Url::parse(url).unwrap();
        match proxies.route(&origin(url), &|| parsed.clone()) {
            Ok(None) => "direct".into(),
            Ok(Some(t)) => t.to_string(),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Proxy);
                "error".into()
            }
        }
    }

    #[test]
    fn the_environment_is_read_as_curl_reads_it() {
        // (environment, URL, route)
        type Row<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let rows: &[Row] = &[
            (&[], "http://a.test/", "direct"),
            (
                &[("http_proxy", "http://p:1")],
                "http://a.test/",
                "http://p:1",
            ),
            (&[("http_proxy", "http://p:1")], "https://a.test/", "direct"),
            (
                &[("HTTP_PROXY", "http://p:1")],
                "http://a.test/",
                "http://p:1",
            ),
            // Lower case first.
            (
                &[
                    ("http_proxy", "http://low:1"),
                    ("HTTP_PROXY", "http://up:1"),
                ],
                "http://a.test/",
                "http://low:1",
            ),
            (&[("https_proxy", "p:2")], "https://a.test/", "http://p:2"),
            (
                &[("HTTPS_PROXY", "http://p:2")],
                "https://a.test/",
                "http://p:2",
            ),
            (&[("https_proxy", "http://p:2")], "http://a.test/", "direct"),
            // all_proxy when the scheme's own is not set.
            (
                &[("all_proxy", "http://all:3")],
                "https://a.test/",
                "http://all:3",
            ),
            (
                &[("ALL_PROXY", "http://all:3")],
                "http://a.test/",
                "http://all:3",
            ),
            (
                &[("all_proxy", "http://all:3"), ("https_proxy", "http://s:2")],
                "https://a.test/",
                "http://s:2",
            ),
            (
                &[("all_proxy", "http://all:3"), ("https_proxy", "http://s:2")],
                "http://a.test/",
                "http://all:3",
            ),
            // Empty means unset.
            (
                &[("http_proxy", ""), ("HTTP_PROXY", "http://up:1")],
                "http://a.test/",
                "http://up:1",
            ),
            (&[("http_proxy", " ")], "http://a.test/", "direct"),
            // The default port is 80; the host is lower-cased.
            (
                &[("http_proxy", "http://Proxy.Test")],
                "http://a.test/",
                "http://proxy.test:80",
            ),
            // httpoxy: HTTP_PROXY is ignored in a CGI request, http_proxy is not.
            (
                &[("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "http://evil:1")],
                "http://a.test/",
                "direct",
            ),
            (
                &[("REQUEST_METHOD", "GET"), ("http_proxy", "http://p:1")],
                "http://a.test/",
                "http://p:1",
            ),
            (
                &[("REQUEST_METHOD", "GET"), ("HTTPS_PROXY", "http://p:2")],
                "https://a.test/",
                "http://p:2",
            ),
            // no_proxy applies to every variable.
            (
                &[("http_proxy", "http://p:1"), ("no_proxy", "a.test")],
                "http://www.a.test/",
                "direct",
            ),
            (
                &[("all_proxy", "http://p:1"), ("NO_PROXY", "127.0.0.0/8")],
                "https://127.0.0.9:8443/",
                "direct",
            ),
            (
                &[("all_proxy", "http://p:1"), ("no_proxy", "a.test")],
                "https://b.test/",
                "http://p:1",
            ),
            (
                &[("all_proxy", "http://p:1"), ("no_proxy", "*")],
                "http://b.test/",
                "direct",
            ),
            // An `https://` proxy (TLS to the proxy); port 443 by default.
            (
                &[("https_proxy", "https://p")],
                "https://a.test/",
                "https://p:443",
            ),
            // SOCKS5 proxies, for either scheme; port 1080 by default.
            (
                &[("all_proxy", "socks5h://p")],
                "https://a.test/",
                "socks5h://p:1080",
            ),
            (
                &[("ALL_PROXY", "socks5://p:9")],
                "http://a.test/",
                "socks5://p:9",
            ),
            // An unusable value fails the requests it would carry, not the others.
            (&[("http_proxy", "socks6://p:1")], "http://a.test/", "error"),
            (&[("http_proxy", "http://[::1")], "http://a.test/", "error"),
            (
                &[("all_proxy", "socks5://:x@p:1")],
                "http://a.test/",
                "error",
            ),
            (
                &[("http_proxy", "socks6://p:1")],
                "https://a.test/",
                "direct",
            ),
        ];
        for (vars, url, expected) in rows {
            assert_eq!(routed(&env(vars), url), *expected, "{vars:?} {url}");
        }
    }

    #[test]
    fn the_first_rule_that_covers_a_request_decides() {
        let proxies = Proxies::given(vec![
            Proxy::https("http://s:2").unwrap(),
            Proxy::all("http://all:3")
                .unwrap()
                .no_proxy(NoProxy::from_string("inside.test")),
        ]);
        assert_eq!(routed(&proxies, "https://a.test/"), "http://s:2");
        assert_eq!(routed(&proxies, "https://inside.test/"), "http://s:2");
        assert_eq!(routed(&proxies, "http://a.test/"), "http://all:3");
        assert_eq!(routed(&proxies, "http://inside.test/"), "direct");
        assert!(Proxies::default().is_empty());
    }

    #[test]
    fn proxy_urls_are_checked_and_their_credentials_hidden() {
        let long = "u".repeat(256);
        let long_user = format!("socks5://{long}:p@p:1");
        for bad in [
            "socks6://p:1",
            "socks5://:password@p:1",
            long_user.as_str(),
            "http://",
            "http://p:99999",
            "ftp://p",
        ] {
            let err = Proxy::all(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Proxy, "{bad}");
        }
        let err = Proxy::all("socks6://alice:s3cret@p:1").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
        // An `https://` proxy: HTTP spoken over TLS, port 443 by default.
        let proxy = Proxy::all("https://alice:s3cret@p").unwrap();
        let target = proxy.route_for("http://a.test/").unwrap().unwrap();
        assert_eq!(target.to_string(), "https://p:443");
        assert!(target.forwards_http() && target.authorization().is_some());

        let proxy = Proxy::all("http://al%69ce:s3%63ret@p:1").unwrap();
        let target = proxy.route_for("http://a.test/").unwrap().unwrap();
        // "alice:s3cret", percent-decoded, in base64.
        assert_eq!(
            target.authorization().unwrap().to_str().unwrap(),
            "Basic YWxpY2U6czNjcmV0"
        );
        assert!(target.authorization().unwrap().is_sensitive());
        let shown = format!("{proxy:?} {target:?} {target}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("YWxp"),
            "{shown}"
        );

        // SOCKS5: the login as given, percent-decoded; no `Proxy-Authorization`.
        let proxy = Proxy::all("socks5h://al%69ce:s3%63ret@p").unwrap();
        let target = proxy.route_for("https://a.test/").unwrap().unwrap();
        let login = target.login().unwrap();
        assert_eq!(
            (&login.username[..], &login.password[..]),
            (&b"alice"[..], &b"s3cret"[..])
        );
        assert!(target.authorization().is_none() && !target.forwards_http());
        assert_eq!(target.to_string(), "socks5h://p:1080");
        let shown = format!("{proxy:?} {target:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        let user_only = Proxy::all("socks5://bob@p").unwrap();
        let target = user_only.route_for("http://a.test/").unwrap().unwrap();
        assert_eq!(&target.login().unwrap().password[..], b"");
        // `basic_auth` logs in to a SOCKS5 proxy too, and its limits hold there.
        let proxy = Proxy::all("socks5://p").unwrap().basic_auth("carol", "pw");
        let target = proxy.route_for("http://a.test/").unwrap().unwrap();
        assert_eq!(&target.login().unwrap().username[..], b"carol");
        let unusable = Proxy::all("socks5://p").unwrap().basic_auth("", "pw");
        let err = unusable.route_for("http://a.test/").unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Proxy);
        // SOCKS4: port 1080; the user alone is its user id, which may be empty but
        // holds no NUL.
        for (url, shown) in [
            ("socks4://p", "socks4://p:1080"),
            ("socks4a://bob@p:9", "socks4a://p:9"),
        ] {
            let target = Proxy::all(url)
                .unwrap()
                .route_for("http://a.test/")
                .unwrap()
                .unwrap();
            assert_eq!(target.to_string(), shown);
            assert!(!target.forwards_http());
        }
        let empty_user = Proxy::all("socks4://p").unwrap().basic_auth("", "");
        assert!(empty_user.route_for("http://a.test/").unwrap().is_ok());
        assert!(Proxy::all("socks4a://b%00b@p").is_err());
        let nul = Proxy::all("socks4://p").unwrap().basic_auth("b\0b", "");
        let err = nul.route_for("http://a.test/").unwrap().unwrap_err();
        assert!(err.to_string().contains("SOCKS4 user id"), "{err}");

        let replaced = Proxy::all("http://x:y@p:1")
            .unwrap()
            .basic_auth("alice", "s3cret");
        let target = replaced.route_for("http://a.test/").unwrap().unwrap();
        assert_eq!(
            target.authorization().unwrap().to_str().unwrap(),
            "Basic YWxpY2U6czNjcmV0"
        );
    }

    #[test]
    fn a_custom_rule_reads_what_it_returns_and_logs_in_with_its_credentials() {
        let proxy = Proxy::custom(|url: &Url| match url.host_str() {
            Some("a.test") => Some("http://p:1"),
            Some("s.test") => Some("socks5://s"),
            Some("bad.test") => Some("gopher://p"),
            _ => None,
        })
        .basic_auth("alice", "s3cret");
        let http = proxy.route_for("http://a.test/x").unwrap().unwrap();
        assert_eq!(http.to_string(), "http://p:1");
        assert_eq!(
            http.authorization().unwrap().to_str().unwrap(),
            "Basic YWxpY2U6czNjcmV0"
        );
        let socks = proxy.route_for("https://s.test/").unwrap().unwrap();
        assert_eq!(&socks.login().unwrap().username[..], b"alice");
        assert!(proxy.route_for("http://other.test/").is_none());
        let err = proxy.route_for("http://bad.test/").unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Proxy);
        assert!(!format!("{proxy:?}").contains("s3cret"));
        // The rules after it take what it leaves.
        let proxies = Proxies::given(vec![proxy, Proxy::all("http://q:2").unwrap()]);
        let url = Url::parse("http://other.test/").unwrap();
        let next = proxies
            .route(&origin(url.as_str()), &|| url.clone())
            .unwrap();
        assert_eq!(next.unwrap().to_string(), "http://q:2");
    }
}
