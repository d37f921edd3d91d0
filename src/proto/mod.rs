//! The HTTP/1.x protocol layer: everything that needs no socket. Bytes in, events out.
//!
//! Covers: request head encoding and validation (`request.rs`), the chunked request body
//! coding (`encode.rs`), response head parsing (`response.rs`), the body framing decision
//! (`framing.rs`, RFC 9112 §6.3), CONNECT and the proxy's answer (`connect.rs`), the SOCKS5
//! messages (`socks.rs`), body decoding (`decode.rs`, `chunked.rs`), the event
//! reader the connection layer drives (`reader.rs`) and the keep-alive decision
//! (`keepalive.rs`). Does not cover: sockets, TLS, timers, pooling or retries; nothing here
//! depends on tokio, and every part is testable with byte slices alone.
//!
//! Of this layer only [`ProtoError`] is public: the flat, comparable cause that
//! [`Error::proto_error`](crate::Error::proto_error) names. The rest is the crate's own, so
//! that it can change without breaking a caller.

mod chunked;
mod connect;
mod decode;
mod encode;
mod error;
mod fields;
mod framing;
mod keepalive;
mod reader;
mod request;
mod response;
pub(crate) mod socks;

#[cfg(test)]
mod tests;

pub use error::ProtoError;

pub(crate) use connect::{encode_connect, read_connect_answer, refusal_reason, ConnectAnswer};
pub(crate) use encode::{encode_chunk, encode_last_chunk};
pub(crate) use fields::{Field, FieldView};
pub(crate) use framing::{content_length, Framing};
pub(crate) use keepalive::{keep_alive, CloseReason, KeepAlive};
pub(crate) use request::{
    encode_request_head, is_idempotent, remove_field, request_line_http10, title_case_names,
    validate_header_name, validate_header_value, RequestBody, RequestHead, TargetForm, UrlParts,
};
pub(crate) use response::{Headers, ResponseHead};

// The reader and decoders the fuzz crate (`fuzz/`) drives: public only with the
// `fuzzing` feature, and not part of the API even then.
#[cfg(all(test, not(feature = "fuzzing")))]
use decode::{BodyDecoder, Decoded};
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use {
    chunked::ChunkedLimits,
    decode::{BodyDecoder, Decoded},
    framing::BodyFraming,
    reader::{Event, ResponseReader},
    response::{HeadLimits, Lenient},
};
#[cfg(not(feature = "fuzzing"))]
pub(crate) use {
    framing::BodyFraming,
    reader::{Event, ResponseReader},
    response::{HeadLimits, Lenient},
};
