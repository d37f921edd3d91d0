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
