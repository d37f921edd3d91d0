//! The HTTP/1.x protocol layer: everything that needs no socket. Bytes in, events out.
//!
//! Covers: request head encoding and validation (`request.rs`), the chunked request body
//! coding (`encode.rs`), response head parsing (`response.rs`), the body framing decision
//! (`framing.rs`, RFC 9112 §6.3), body decoding (`decode.rs`, `chunked.rs`), the event
//! reader the connection layer drives (`reader.rs`) and the keep-alive decision
//! (`keepalive.rs`). Does not cover: sockets, TLS, timers, pooling or retries; nothing here
//! depends on tokio, and every part is testable with byte slices alone.

pub mod chunked;
pub mod decode;
pub mod encode;
pub mod error;
pub mod framing;
pub mod keepalive;
pub mod reader;
pub mod request;
pub mod response;

#[cfg(test)]
mod tests;

pub use chunked::ChunkedLimits;
pub use decode::{BodyDecoder, Decoded};
pub use encode::{encode_chunk, encode_chunk_header, encode_last_chunk, CHUNK_END, LAST_CHUNK};
pub use error::ProtoError;
pub use framing::{body_framing, content_length, BodyFraming, Framing};
pub use keepalive::{keep_alive, parse_keep_alive, CloseReason, KeepAlive};
pub use reader::{Event, ResponseReader, MAX_INTERIM_RESPONSES};
pub use request::{
    encode_request_head, is_idempotent, validate_header_name, validate_header_value, RequestBody,
    RequestHead, TargetForm,
};
pub use response::{parse_response_head, HeadKind, HeadLimits, ResponseHead};
