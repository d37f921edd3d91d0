//! Redirects: the policy (reqwest's `redirect::Policy`, `Attempt`, `Action`) and the next
//! hop, one pure function of the 3xx response and the request that got it.
//!
//! | status | method | next request |
//! |---|---|---|
//! | 301, 302 | POST | GET, no body, no `Content-*` headers (as every browser does) |
//! | 301, 302 | any other | the same method and body |
//! | 303 | anything but HEAD | GET, no body, no `Content-*` headers |
//! | 307, 308 | any | the same method and body; a body that cannot be replayed (a stream) ends the chain with the 3xx |
//!
//! The next URL is `Location` resolved against the current one (relative, absolute or
//! scheme-relative), keeping the current fragment when `Location` has none (RFC 9110
//! §10.2.2). A missing or unusable `Location` (not http or https, does not parse) returns
//! the 3xx unchanged. Past the limit, or on a loop (the same method and URL again), the
//! chain ends with an error of kind `Redirect` naming the URL it would have gone to.
//! Leaving the origin drops `Authorization`, `Proxy-Authorization` and `Cookie` (the
//! client does that when it builds the next request). Each hop says where it came from in
//! `Referer` (unless the builder's `referer(false)`): the whole URL within its origin,
//! the origin alone to another, nothing from `https` to `http`.

use std::fmt;
use std::sync::Arc;

use http::{HeaderValue, Method, StatusCode};
use url::Url;

use crate::conn::BoxError;
use crate::error::{Error, ErrorKind};

/// The default: at most this many redirects are followed.
///
/// ```
/// let policy = tether::redirect::Policy::limited(tether::redirect::DEFAULT_MAX_REDIRECTS / 2);
/// let client = tether::Client::builder().redirect(policy).build()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub const DEFAULT_MAX_REDIRECTS: usize = 10;

/// Which redirects a client follows.
///
/// ```
/// use tether::redirect::Policy;
/// let client = tether::Client::builder().redirect(Policy::limited(3)).build().unwrap();
/// let none = tether::Client::builder().redirect(Policy::none()).build().unwrap();
/// ```
#[derive(Clone)]
pub struct Policy {
    kind: Kind,
}

type Custom = dyn Fn(Attempt<'_>) -> Action + Send + Sync + 'static;

#[derive(Clone)]
enum Kind {
    Limited(usize),
    None,
    Custom(Arc<Custom>),
}

impl Policy {
    /// Follows at most `max` redirects in a chain; more, or a loop, is an error of kind
    /// `Redirect`.
    ///
    /// ```
    /// let policy = tether::redirect::Policy::limited(5);
    /// ```
    pub fn limited(max: usize) -> Policy {
        Policy {
            kind: Kind::Limited(max),
        }
    }

    /// Follows no redirect: every 3xx is returned as it is.
    ///
    /// ```
    /// let policy = tether::redirect::Policy::none();
    /// ```
    pub fn none() -> Policy {
        Policy { kind: Kind::None }
    }

    /// Decides each redirect with `f`, which sees the status, the next URL and the URLs
    /// of the chain so far.
    ///
    /// ```
    /// use tether::redirect::Policy;
    /// // Follow redirects within one host only, at most 5.
    /// let policy = Policy::custom(|attempt| {
    ///     if attempt.previous().len() >= 5 {
    ///         attempt.error("too many redirects")
    ///     } else if attempt.url().host_str() == attempt.previous()[0].host_str() {
    ///         attempt.follow()
    ///     } else {
    ///         attempt.stop()
    ///     }
    /// });
    /// ```
    pub fn custom<F>(f: F) -> Policy
    where
        F: Fn(Attempt<'_>) -> Action + Send + Sync + 'static,
    {
        Policy {
            kind: Kind::Custom(Arc::new(f)),
        }
    }

    pub(crate) fn follows_none(&self) -> bool {
        matches!(self.kind, Kind::None)
    }
}

impl Default for Policy {
    /// `Policy::limited(10)`.
    fn default() -> Policy {
        Policy::limited(DEFAULT_MAX_REDIRECTS)
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Limited(n) => write!(f, "Policy::limited({n})"),
            Kind::None => f.write_str("Policy::none()"),
            Kind::Custom(_) => f.write_str("Policy::custom(..)"),
        }
    }
}

/// A redirect a custom policy decides on.
///
/// ```
/// let policy = tether::redirect::Policy::custom(|attempt| {
///     if attempt.previous().len() >= 5 {
///         attempt.error("too many redirects")
///     } else if attempt.url().host_str() == Some("tracker.example") {
///         attempt.stop()
///     } else {
///         attempt.follow()
///     }
/// });
/// let client = tether::Client::builder().redirect(policy).build()?;
/// # Ok::<(), tether::Error>(())
/// ```
#[derive(Debug)]
pub struct Attempt<'a> {
    status: StatusCode,
    next: &'a Url,
    previous: &'a [Url],
}

impl Attempt<'_> {
    /// The status of the redirect response.
    ///
    /// ```
    /// let policy = tether::redirect::Policy::custom(|attempt| {
    ///     // Follow only permanent moves.
    ///     match attempt.status().as_u16() {
    ///         301 | 308 => attempt.follow(),
    ///         _ => attempt.stop(),
    ///     }
    /// });
    /// let client = tether::Client::builder().redirect(policy).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Where the redirect goes.
    ///
    /// ```
    /// let policy = tether::redirect::Policy::custom(|attempt| {
    ///     // Stay on https.
    ///     if attempt.url().scheme() == "https" {
    ///         attempt.follow()
    ///     } else {
    ///         let to = attempt.url().to_string();
    ///         attempt.error(format!("refusing to downgrade to {to}"))
    ///     }
    /// });
    /// let client = tether::Client::builder().redirect(policy).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn url(&self) -> &Url {
        self.next
    }

    /// The URLs requested so far in this chain, the first one first and the one that
    /// answered this redirect last.
    ///
    /// ```
    /// let policy = tether::redirect::Policy::custom(|attempt| {
    ///     // Stay on the host the chain began at.
    ///     let first = attempt.previous().first().and_then(|u| u.host_str().map(str::to_owned));
    ///     if first.as_deref() == attempt.url().host_str() {
    ///         attempt.follow()
    ///     } else {
    ///         attempt.stop()
    ///     }
    /// });
    /// let client = tether::Client::builder().redirect(policy).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn previous(&self) -> &[Url] {
        self.previous
    }

    /// Follow it.
    ///
    /// ```
    /// let policy = tether::redirect::Policy::custom(|attempt| {
    ///     attempt.follow()
    /// });
    /// let client = tether::Client::builder().redirect(policy).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn follow(self) -> Action {
        Action {
            kind: Decision::Follow,
        }
    }

    /// Do not follow it: the redirect response is returned as it is.
    ///
    /// ```
    /// let policy = tether::redirect::Policy::custom(|attempt| {
    ///     // Hand every redirect back to the caller, as `Policy::none()` does.
    ///     attempt.stop()
    /// });
    /// let client = tether::Client::builder().redirect(policy).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn stop(self) -> Action {
        Action {
            kind: Decision::Stop,
        }
    }

    /// End the chain with an error of kind `Redirect` whose cause is `error`.
    ///
    /// ```
    /// let policy = tether::redirect::Policy::custom(|attempt| {
    ///     if attempt.url().path().starts_with("/login") {
    ///         attempt.error("the session expired")
    ///     } else {
    ///         attempt.follow()
    ///     }
    /// });
    /// let client = tether::Client::builder().redirect(policy).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn error<E: Into<BoxError>>(self, error: E) -> Action {
        Action {
            kind: Decision::Error(error.into()),
        }
    }
}

/// What a custom policy decided.
///
/// ```
/// let policy = tether::redirect::Policy::custom(|attempt| {
///     let action: tether::redirect::Action = attempt.follow();
///     action
/// });
/// let client = tether::Client::builder().redirect(policy).build()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub struct Action {
    kind: Decision,
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Decision::Follow => f.write_str("Action::follow"),
            Decision::Stop => f.write_str("Action::stop"),
            Decision::Error(e) => write!(f, "Action::error({e})"),
        }
    }
}

enum Decision {
    Follow,
    Stop,
    Error(BoxError),
}

/// What to do after a response.
#[derive(Debug)]
pub(crate) enum Next {
    /// Return the response to the caller.
    Return,
    /// Send the next request.
    Follow(Hop),
    /// End with this error (the 3xx is discarded).
    Fail(Error),
}

/// The next request of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hop {
    pub method: Method,
    pub url: Url,
    /// The body and its `Content-*` headers go along (307, 308, and 301/302 for all but
    /// POST).
    pub keep_body: bool,
    /// Scheme, host and port stay the same.
    pub same_origin: bool,
    /// What the hop's `Referer` is, if the client sends one (`referer`).
    pub referer: Option<HeaderValue>,
}

/// The request that got the response, as far as the decision needs it.
pub(crate) struct Current<'a> {
    pub method: &'a Method,
    pub url: &'a Url,
    pub body_replayable: bool,
    /// The (method, URL) of every request of the chain so far, this one included.
    pub chain: &'a [(Method, Url)],
}

/// The next hop after a response with `status` and `location`.
pub(crate) fn next(
    policy: &Policy,
    status: StatusCode,
    location: Option<&HeaderValue>,
    current: Current<'_>,
) -> Next {
    let (method, keep_body) = match status.as_u16() {
        301 | 302 if *current.method == Method::POST => (Method::GET, false),
        301 | 302 => (current.method.clone(), true),
        303 if *current.method == Method::HEAD => (Method::HEAD, false),
        303 => (Method::GET, false),
        307 | 308 => (current.method.clone(), true),
        _ => return Next::Return,
    };
    if policy.follows_none() {
        return Next::Return;
    }
    let Some(url) = location.and_then(|l| resolve(current.url, l)) else {
        return Next::Return;
    };
    if keep_body && !current.body_replayable {
        return Next::Return;
    }
    let too_far = |why: &str| {
        Next::Fail(
            Error::msg(
                ErrorKind::Redirect,
                format!("{why}; stopped before requesting it"),
            )
            .for_url(&url),
        )
    };
    match &policy.kind {
        Kind::None => return Next::Return,
        Kind::Limited(max) => {
            if current.chain.len() > *max {
                return too_far(&format!("more than {max} redirects"));
            }
            if current.chain.iter().any(|(m, u)| *m == method && *u == url) {
                return too_far("a redirect loop");
            }
        }
        Kind::Custom(decide) => {
            let previous: Vec<Url> = current.chain.iter().map(|(_, u)| u.clone()).collect();
            let attempt = Attempt {
                status,
                next: &url,
                previous: &previous,
            };
            match decide(attempt).kind {
                Decision::Follow => {}
                Decision::Stop => return Next::Return,
                Decision::Error(e) => {
                    return Next::Fail(
                        Error::new(ErrorKind::Redirect, e)
                            .context("the redirect policy refused the next hop")
                            .for_url(&url),
                    )
                }
            }
        }
    }
    let same_origin = url.scheme() == current.url.scheme()
        && url.host() == current.url.host()
        && url.port_or_known_default() == current.url.port_or_known_default();
    let referer = referer(current.url, &url, same_origin);
    Next::Follow(Hop {
        method,
        url,
        keep_body,
        same_origin,
        referer,
    })
}

/// The `Referer` for a hop from `from` to `to`, by the browsers' default policy
/// (strict-origin-when-cross-origin, W3C Referrer Policy §3): the whole URL within its
/// origin, only the origin to another, nothing from `https` to `http`; never the
/// fragment nor user information. reqwest sends the whole URL to any origin; this keeps a
/// token in a query string from leaving its origin.
pub(crate) fn referer(from: &Url, to: &Url, same_origin: bool) -> Option<HeaderValue> {
    if !matches!(from.scheme(), "http" | "https")
        || (from.scheme() == "https" && to.scheme() != "https")
    {
        return None;
    }
    let mut shown = from.clone();
    shown.set_fragment(None);
    // Both fail only for URLs that cannot have them, which an http(s) URL can.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    if !same_origin {
        shown.set_path("/");
        shown.set_query(None);
    }
    HeaderValue::from_str(shown.as_str()).ok()
}

/// `Location` resolved against `base`; `None` unless it gives an http(s) URL with a host.
fn resolve(base: &Url, location: &HeaderValue) -> Option<Url> {
    // Servers send raw UTF-8 in `Location` now and then; `url` percent-encodes it.
    let location = std::str::from_utf8(location.as_bytes()).ok()?;
    let mut url = base.join(location.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return None;
    }
    if url.fragment().is_none() {
        url.set_fragment(base.fragment());
    }
    Some(url)
}

#[cfg(test)]
#[path = "redirect_tests.rs"]
mod tests;
