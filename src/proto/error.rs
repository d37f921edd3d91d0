//! The protocol layer's error: one flat, comparable enum.
//!
//! Covers every way a request can be refused before a byte is produced and every way a
//! server's response can be malformed, oversized or truncated. It carries no I/O errors
//! (this layer does no I/O) and no source: callers above wrap it in the crate's public
//! error with its context. Tests compare it with `==`.

use std::fmt;

/// A protocol error: a request we refuse to encode or a response we refuse to accept.
///
/// ```no_run
/// # async fn run() {
/// use tether::proto::ProtoError;
/// let client = tether::Client::builder().max_head_bytes(8 * 1024).build().unwrap();
/// if let Err(e) = client.get("http://127.0.0.1:8080/").send().await {
///     match e.proto_error() {
///         Some(ProtoError::HeadTooLarge) => eprintln!("the server sent a head over 8 KiB"),
///         Some(ProtoError::IncompleteBody) => eprintln!("the body was cut short"),
///         _ => eprintln!("{e}"),
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtoError {
    // Request side: reported before any byte is produced.
    /// The method is not a token (RFC 9110 §9.1).
    InvalidMethod,
    /// A header name is not a token (RFC 9110 §5.1).
    InvalidHeaderName,
    /// A header value holds CR, LF or NUL (RFC 9110 §5.5).
    InvalidHeaderValue,
    /// The URL cannot be requested: no host, or a scheme other than http/https.
    InvalidUrl,

    // Response head.
    /// The response head is larger than the configured limit.
    HeadTooLarge,
    /// The response head has more header fields than the configured limit.
    TooManyHeaders,
    /// The response head is malformed (status line, header syntax, bare CR, NUL...).
    InvalidHead,
    /// The response's HTTP version is neither 1.0 nor 1.1.
    UnsupportedVersion,
    /// A `101 Switching Protocols` arrived although no upgrade was asked for.
    UnexpectedUpgrade,
    /// Too many interim (1xx) responses in a row before the final one.
    TooManyInterimResponses,
    /// The connection ended inside a response head (or before any head).
    IncompleteHead,

    // Framing.
    /// A `Content-Length` value is not a plain decimal number fitting u64 (RFC 9112 §6.3).
    InvalidContentLength,
    /// `Content-Length` values disagree (RFC 9112 §6.3).
    ConflictingContentLength,

    // Body.
    /// A chunk-size line does not start with hex digits (RFC 9112 §7.1).
    InvalidChunkSize,
    /// A chunk size does not fit in u64.
    ChunkSizeOverflow,
    /// A chunk-size line (with its extensions) is longer than the configured limit.
    ChunkSizeLineTooLong,
    /// Chunk data is not followed by CRLF (RFC 9112 §7.1).
    InvalidChunkEnd,
    /// The trailer section is larger than the configured limit.
    TrailersTooLarge,
    /// A trailer line is malformed (RFC 9112 §7.1.2).
    InvalidTrailer,
    /// The connection ended before the body's framed end.
    IncompleteBody,
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let msg = match self {
            ProtoError::InvalidMethod => "invalid request method",
            ProtoError::InvalidHeaderName => "invalid request header name",
            ProtoError::InvalidHeaderValue => "invalid request header value",
            ProtoError::InvalidUrl => "invalid URL: no host, or not http/https",
            ProtoError::HeadTooLarge => "response head too large",
            ProtoError::TooManyHeaders => "too many response headers",
            ProtoError::InvalidHead => "malformed response head",
            ProtoError::UnsupportedVersion => "unsupported HTTP version in response",
            ProtoError::UnexpectedUpgrade => "unexpected 101 Switching Protocols",
            ProtoError::TooManyInterimResponses => "too many interim (1xx) responses",
            ProtoError::IncompleteHead => "connection closed before a complete response head",
            ProtoError::InvalidContentLength => "invalid Content-Length",
            ProtoError::ConflictingContentLength => "conflicting Content-Length values",
            ProtoError::InvalidChunkSize => "invalid chunk size",
            ProtoError::ChunkSizeOverflow => "chunk size too large",
            ProtoError::ChunkSizeLineTooLong => "chunk size line too long",
            ProtoError::InvalidChunkEnd => "chunk data not followed by CRLF",
            ProtoError::TrailersTooLarge => "trailers too large",
            ProtoError::InvalidTrailer => "malformed trailer",
            ProtoError::IncompleteBody => "connection closed before the end of the body",
        };
        f.write_str(msg)
    }
}

impl std::error::Error for ProtoError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_short_lowercase_message() {
        let all = [
            ProtoError::InvalidMethod,
            ProtoError::InvalidHeaderName,
            ProtoError::InvalidHeaderValue,
            ProtoError::InvalidUrl,
            ProtoError::HeadTooLarge,
            ProtoError::TooManyHeaders,
            ProtoError::InvalidHead,
            ProtoError::UnsupportedVersion,
            ProtoError::UnexpectedUpgrade,
            ProtoError::TooManyInterimResponses,
            ProtoError::IncompleteHead,
            ProtoError::InvalidContentLength,
            ProtoError::ConflictingContentLength,
            ProtoError::InvalidChunkSize,
            ProtoError::ChunkSizeOverflow,
            ProtoError::ChunkSizeLineTooLong,
            ProtoError::InvalidChunkEnd,
            ProtoError::TrailersTooLarge,
            ProtoError::InvalidTrailer,
            ProtoError::IncompleteBody,
        ];
        let mut seen = std::collections::HashSet::new();
        for e in all {
            let msg = e.to_string();
            assert!(!msg.is_empty() && msg.len() < 60, "{msg}");
            assert!(msg.starts_with(|c: char| c.is_ascii_lowercase()), "{msg}");
            assert!(seen.insert(msg), "duplicate message for {e:?}");
        }
    }
}
