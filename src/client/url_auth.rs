//! URL userinfo: `http://alice:s3cret@host/` sends `Authorization: Basic` with the
//! percent-decoded credentials (RFC 7617), unless the caller set `Authorization`, and the
//! userinfo is then taken out of the URL, so the password appears in no `Debug`,
//! `Display`, error message or tracing field. [`Redacted`] and [`redact_str`] show a URL
//! (or a string that failed to parse as one) with its password hidden, for messages made
//! before that.

use std::fmt;

use http::header::AUTHORIZATION;
use http::{HeaderName, HeaderValue};
use percent_encoding::percent_decode_str;
use url::Url;

use crate::error::{Error, ErrorKind};

/// Moves the URL's userinfo into `Authorization: Basic` (unless one is set) and removes it
/// from the URL.
pub(crate) fn take_credentials(url: &mut Url, headers: &mut Vec<(HeaderName, HeaderValue)>) {
    if url.username().is_empty() && url.password().is_none() {
        return;
    }
    if !headers.iter().any(|(n, _)| n == AUTHORIZATION) {
        let mut raw: Vec<u8> = percent_decode_str(url.username()).collect();
        raw.push(b':');
        raw.extend(percent_decode_str(url.password().unwrap_or("")));
        if let Ok(value) = basic_value(&raw) {
            headers.push((AUTHORIZATION, value));
        }
    }
    // Only URLs that cannot have userinfo refuse these, and those have none.
    let _ = url.set_username("");
    let _ = url.set_password(None);
}

/// `Basic <base64 of credentials>`, marked sensitive (kept out of `Debug`).
pub(crate) fn basic_value(credentials: &[u8]) -> Result<HeaderValue, Error> {
    let mut value = String::with_capacity(6 + credentials.len().div_ceil(3) * 4);
    value.push_str("Basic ");
    base64_encode(credentials, &mut value);
    // Base64 is always a valid header value; the error cannot happen. The string's buffer
    // (its exact length) becomes the value's.
    let mut value = HeaderValue::from_maybe_shared(bytes::Bytes::from(value.into_bytes()))
        .map_err(|e| Error::new(ErrorKind::InvalidRequest, e).context("invalid credentials"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Shows a URL with its password replaced by `***`.
pub(crate) struct Redacted<'a>(pub &'a Url);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.0.has_host() {
            // Not a URL tether can request (`alice:s3cret@host` reads as scheme `alice`
            // with a path): what was meant as a password is in the path.
            return f.write_str(&redact_str(self.0.as_str()));
        }
        if self.0.password().is_none() {
            return f.write_str(self.0.as_str());
        }
        let mut shown = self.0.clone();
        let _ = shown.set_password(Some("***"));
        f.write_str(shown.as_str())
    }
}

/// A string that was meant as a URL, with whatever stands where a password would
/// (between `user:` and the last `@` of the authority) replaced by `***`. The authority
/// starts after `scheme:` and its slashes, or at the start when there is no scheme
/// followed by a slash (`alice:s3cret@proxy:3128`, a proxy written without one).
pub(crate) fn redact_str(s: &str) -> String {
    let start = authority_start(s);
    let authority_end = s[start..]
        .find(['/', '?', '#'])
        .map_or(s.len(), |i| start + i);
    let authority = &s[start..authority_end];
    let Some(at) = authority.rfind('@') else {
        return s.to_owned();
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return s.to_owned();
    };
    format!(
        "{}{}:***{}",
        &s[..start],
        &userinfo[..colon],
        &s[start + at..]
    )
}

/// Where the authority of a URL-like string begins: after the first `://` when it comes
/// before any `@`; else after `scheme:` and the slashes (or backslashes) that follow it;
/// else at 0.
fn authority_start(s: &str) -> usize {
    if let Some(i) = s.find("://") {
        if s.find('@').is_none_or(|at| i < at) {
            return i + 3;
        }
    }
    let scheme_end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .filter(|&i| i > 0 && s[i..].starts_with(':'));
    let Some(colon) = scheme_end else {
        return 0;
    };
    let rest = &s[colon + 1..];
    let slashes = rest.len() - rest.trim_start_matches(['/', '\\']).len();
    if slashes == 0 {
        0
    } else {
        colon + 1 + slashes
    }
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64_encode(input: &[u8], out: &mut String) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sextet = |n: u32, shift: u32| char::from(ALPHABET[((n >> shift) & 63) as usize]);
    for group in input.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        out.push(sextet(n, 18));
        out.push(sextet(n, 12));
        out.push(if group.len() > 1 { sextet(n, 6) } else { '=' });
        out.push(if group.len() > 2 { sextet(n, 0) } else { '=' });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &[u8]) -> String {
        let mut out = String::new();
        base64_encode(s, &mut out);
        out
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(b64(input.as_bytes()), want, "{input:?}");
        }
        assert_eq!(b64(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn userinfo_becomes_basic_auth_and_leaves_the_url() {
        let mut url = Url::parse("http://alice:s3cr%40t@example.com/x").unwrap();
        let mut headers = Vec::new();
        take_credentials(&mut url, &mut headers);
        assert_eq!(url.as_str(), "http://example.com/x");
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[0].0, AUTHORIZATION);
        // RFC 7617's own example: Aladdin / open sesame.
        let mut url = Url::parse("http://Aladdin:open%20sesame@example.com/").unwrap();
        let mut headers = Vec::new();
        take_credentials(&mut url, &mut headers);
        assert_eq!(headers[0].1, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert!(headers[0].1.is_sensitive());
    }

    #[test]
    fn a_callers_authorization_wins_and_the_url_is_still_cleaned() {
        let mut url = Url::parse("http://alice:pw@example.com/").unwrap();
        let mut headers = vec![(AUTHORIZATION, HeaderValue::from_static("Bearer t"))];
        take_credentials(&mut url, &mut headers);
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[0].1, "Bearer t");
        assert_eq!(url.password(), None);
    }

    #[test]
    fn passwords_are_redacted_in_urls_and_strings() {
        let url = Url::parse("http://alice:s3cret@example.com/p").unwrap();
        let shown = Redacted(&url).to_string();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("alice"), "{shown}");
        for s in [
            "http://alice:s3cret@exa mple.com/",
            "http://alice:s3cret@host:99999/",
            "ht!tp://alice:s3cret@host/a@b",
            "alice:s3cret@proxy.test:99999",
            "http:/alice:s3cret@host:99999/",
            "http:\\\\alice:s3cret@host:99999/",
            "http:alice:s3cret@host:99999/",
            "alice:s3cret@[::1/",
            "alice:s3cret@host:99999/x://y",
        ] {
            let shown = redact_str(s);
            assert!(!shown.contains("s3cret"), "{s} -> {shown}");
        }
        assert_eq!(redact_str("http://host/a:b@c"), "http://host/a:b@c");
        assert_eq!(redact_str("not a url"), "not a url");
        assert_eq!(redact_str("host:99999/a:b@c"), "host:99999/a:b@c");
        assert_eq!(
            redact_str("alice:s3cret@proxy.test:99999"),
            "alice:***@proxy.test:99999"
        );
    }
}
