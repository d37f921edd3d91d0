//! Request body streams for tests.

use bytes::Bytes;

/// A body stream of one piece, then its end.
pub struct OneChunk(Option<Bytes>);

impl OneChunk {
    pub fn new(piece: &'static [u8]) -> OneChunk {
        OneChunk(Some(Bytes::from_static(piece)))
    }
}

impl futures_core::Stream for OneChunk {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.0.take().map(Ok))
    }
}

/// A body stream of the given pieces, in order, then its end.
pub struct Pieces(std::collections::VecDeque<Result<Bytes, std::io::Error>>);

/// The pieces as a body stream.
pub fn iter(pieces: Vec<Result<Bytes, std::io::Error>>) -> Pieces {
    Pieces(pieces.into())
}

impl futures_core::Stream for Pieces {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.0.pop_front())
    }
}
