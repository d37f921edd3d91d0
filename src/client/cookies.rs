//! The cookie store (feature `cookies`, off by default). Every response's `Set-Cookie`
//! fields are stored for its URL, 3xx responses of a redirect chain included; a request
//! that sets no `Cookie` header of its own gets the stored cookies that match its URL, on
//! every hop. cookie_store does the matching (RFC 6265: domain, path, expiry, `Secure`).

use std::sync::{Arc, Mutex, MutexGuard};

use http::header::SET_COOKIE;
use http::{HeaderMap, HeaderValue};
use url::Url;

/// Where a client keeps cookies (reqwest's trait of the same name): given to
/// [`ClientBuilder::cookie_provider`](crate::ClientBuilder::cookie_provider), it is told
/// every response's `Set-Cookie` fields with the URL they came from, and asked for the
/// `Cookie` header of every request that sets none of its own. [`Jar`] is the one
/// `cookie_store(true)` uses. Feature `cookies`.
pub trait CookieStore: Send + Sync {
    /// Stores the `Set-Cookie` values of a response from `url`.
    fn set_cookies(&self, cookie_headers: &mut dyn Iterator<Item = &HeaderValue>, url: &Url);
    /// The `Cookie` header for a request to `url`, if any cookie matches.
    fn cookies(&self, url: &Url) -> Option<HeaderValue>;
}

/// The cookie store `cookie_store(true)` makes (reqwest's `Jar`): RFC 6265's rules
/// (domain, path, expiry, `Secure`) by the cookie_store crate. Made by hand, it can be
/// filled before the client is built and read while it runs:
///
/// ```
/// use std::sync::Arc;
/// use tether::cookie::{CookieStore, Jar};
///
/// let url: url::Url = "http://127.0.0.1:8080/".parse().unwrap();
/// let jar = Arc::new(Jar::default());
/// jar.add_cookie_str("session=abc; Path=/", &url);
/// let client = tether::Client::builder().cookie_provider(jar.clone()).build()?;
/// assert_eq!(jar.cookies(&url).unwrap(), "session=abc");
/// # Ok::<(), tether::Error>(())
/// ```
///
/// Feature `cookies`.
#[derive(Default)]
pub struct Jar(Mutex<cookie_store::CookieStore>);

impl Jar {
    fn lock(&self) -> MutexGuard<'_, cookie_store::CookieStore> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores `cookie` (a `Set-Cookie` value) as if a response from `url` had set it; one
    /// that does not parse, or that `url` may not set, is left out.
    pub fn add_cookie_str(&self, cookie: &str, url: &Url) {
        if let Ok(cookie) = cookie_store::RawCookie::parse(cookie.to_owned()) {
            self.lock()
                .store_response_cookies(std::iter::once(cookie), url);
        }
    }
}

impl CookieStore for Jar {
    fn set_cookies(&self, cookie_headers: &mut dyn Iterator<Item = &HeaderValue>, url: &Url) {
        let cookies = cookie_headers
            .filter_map(|v| std::str::from_utf8(v.as_bytes()).ok())
            .filter_map(|s| cookie_store::RawCookie::parse(s.to_owned()).ok());
        self.lock().store_response_cookies(cookies, url);
    }

    fn cookies(&self, url: &Url) -> Option<HeaderValue> {
        let store = self.lock();
        let mut value = String::new();
        for (name, v) in store.get_request_values(url) {
            if !value.is_empty() {
                value.push_str("; ");
            }
            value.push_str(name);
            value.push('=');
            value.push_str(v);
        }
        if value.is_empty() {
            return None;
        }
        HeaderValue::from_str(&value).ok()
    }
}

impl std::fmt::Debug for Jar {
    /// How many cookies it holds; never their values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jar")
            .field("cookies", &self.lock().iter_any().count())
            .finish()
    }
}

/// A client's cookie store, shared by its clones.
#[derive(Clone)]
pub(crate) struct Cookies(pub Arc<dyn CookieStore>);

impl Cookies {
    /// Gives the store the `Set-Cookie` fields of a response from `url`, if it has any.
    pub fn store(&self, url: &Url, headers: &HeaderMap) {
        let mut fields = headers.get_all(SET_COOKIE).iter().peekable();
        if fields.peek().is_none() {
            return;
        }
        self.0.set_cookies(&mut fields, url);
    }

    /// The `Cookie` header for a request to `url`, if any cookie matches.
    pub fn header_for(&self, url: &Url) -> Option<HeaderValue> {
        self.0.cookies(url)
    }
}

/// A cookie a response set (one `Set-Cookie` field), as [`Response::cookies`] gives it;
/// reqwest's `cookie::Cookie`. Feature `cookies`.
///
/// [`Response::cookies`]: crate::Response::cookies
pub struct Cookie<'a>(cookie_store::RawCookie<'a>);

impl<'a> Cookie<'a> {
    /// Parses one `Set-Cookie` value; `None` for one that is not a cookie.
    pub(crate) fn parse(value: &'a HeaderValue) -> Option<Cookie<'a>> {
        let text = std::str::from_utf8(value.as_bytes()).ok()?;
        cookie_store::RawCookie::parse(text).ok().map(Cookie)
    }

    /// The name.
    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// The value.
    pub fn value(&self) -> &str {
        self.0.value()
    }

    /// Whether `HttpOnly` was given.
    pub fn http_only(&self) -> bool {
        self.0.http_only().unwrap_or(false)
    }

    /// Whether `Secure` was given.
    pub fn secure(&self) -> bool {
        self.0.secure().unwrap_or(false)
    }

    /// Whether `SameSite=Lax` was given.
    pub fn same_site_lax(&self) -> bool {
        self.0.same_site().is_some_and(|s| s.is_lax())
    }

    /// Whether `SameSite=Strict` was given.
    pub fn same_site_strict(&self) -> bool {
        self.0.same_site().is_some_and(|s| s.is_strict())
    }

    /// The `Path` attribute, if any.
    pub fn path(&self) -> Option<&str> {
        self.0.path()
    }

    /// The `Domain` attribute, if any (without a leading dot).
    pub fn domain(&self) -> Option<&str> {
        self.0.domain()
    }

    /// The `Max-Age` attribute, if any (a negative one as zero).
    pub fn max_age(&self) -> Option<std::time::Duration> {
        self.0
            .max_age()
            .map(|age| std::time::Duration::try_from(age).unwrap_or_default())
    }

    /// The `Expires` attribute, if any, as a point in time.
    pub fn expires(&self) -> Option<std::time::SystemTime> {
        self.0.expires_datetime().map(std::time::SystemTime::from)
    }
}

impl std::fmt::Debug for Cookie<'_> {
    /// Name and attributes; never the value, which is often a credential.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cookie")
            .field("name", &self.name())
            .field("path", &self.path())
            .field("domain", &self.domain())
            .field("secure", &self.secure())
            .field("http_only", &self.http_only())
            .finish_non_exhaustive()
    }
}
