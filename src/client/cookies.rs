//! The cookie store (feature `cookies`, off by default). Every response's `Set-Cookie`
//! fields are stored for its URL, 3xx responses of a redirect chain included; a request
//! that sets no `Cookie` header of its own gets the stored cookies that match its URL, on
//! every hop. cookie_store does the matching (RFC 6265: domain, path, expiry, `Secure`).

use std::sync::{Arc, Mutex, MutexGuard};

use http::header::SET_COOKIE;
use http::{HeaderMap, HeaderValue};
use url::Url;

/// A client's cookies, shared by its clones.
#[derive(Clone, Default)]
pub(crate) struct Jar(Arc<Mutex<cookie_store::CookieStore>>);

impl Jar {
    fn lock(&self) -> MutexGuard<'_, cookie_store::CookieStore> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores the `Set-Cookie` fields of a response from `url`; malformed ones are skipped.
    pub fn store(&self, url: &Url, headers: &HeaderMap) {
        let mut fields = headers.get_all(SET_COOKIE).iter().peekable();
        if fields.peek().is_none() {
            return;
        }
        let cookies = fields
            .filter_map(|v| std::str::from_utf8(v.as_bytes()).ok())
            .filter_map(|s| cookie_store::RawCookie::parse(s.to_owned()).ok());
        self.lock().store_response_cookies(cookies, url);
    }

    /// The `Cookie` header for a request to `url`, if any cookie matches.
    pub fn header_for(&self, url: &Url) -> Option<HeaderValue> {
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
