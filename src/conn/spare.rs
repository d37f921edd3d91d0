//! Read buffers of connections gone idle, kept for the next connection that reads on this
//! thread.
//!
//! An idle connection keeps no read buffer: 10,000 idle connections would otherwise hold
//! 80 MiB. But a request that finds its buffer gone allocates a new one (`READ_CHUNK`,
//! too large for the allocator's fast per-thread caches) and frees it again a moment
//! later. So the buffer of a connection going idle comes here, up to [`KEEP`] per thread,
//! and the next read on this thread takes the last one back: no allocation, and memory
//! still in cache. A buffer whose bytes a caller still holds (the body of the last
//! response, sliced from it) is taken back all the same; the next read's `reserve` finds
//! it shared and allocates as before, so nothing is ever overwritten under a reader.

use std::cell::RefCell;

use bytes::BytesMut;

/// Buffers kept per thread, at most.
const KEEP: usize = 8;

thread_local! {
    static SPARE: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

/// Keeps `buf` (empty, of a connection going idle) for the next read on this thread, or
/// drops it when enough are kept.
#[inline]
pub(super) fn give(buf: BytesMut) {
    debug_assert!(buf.is_empty());
    if buf.capacity() == 0 {
        return;
    }
    // A thread being torn down has no list any more: the buffer is dropped.
    let _ = SPARE.try_with(|spare| {
        if let Ok(mut spare) = spare.try_borrow_mut() {
            if spare.len() < KEEP {
                spare.push(buf);
            }
        }
    });
}

/// A kept buffer, empty, if this thread has one.
pub(super) fn take() -> Option<BytesMut> {
    SPARE
        .try_with(|spare| spare.try_borrow_mut().ok()?.pop())
        .ok()
        .flatten()
}

/// Buffers kept on this thread now (for tests).
#[cfg(test)]
pub(super) fn kept() -> usize {
    SPARE.try_with(|s| s.borrow().len()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_keep_buffers_and_none_without_room() {
        while take().is_some() {}
        give(BytesMut::new());
        assert_eq!(kept(), 0, "a buffer without room is not kept");
        for _ in 0..KEEP + 3 {
            give(BytesMut::with_capacity(64));
        }
        assert_eq!(kept(), KEEP);
        let mut taken = 0;
        while let Some(buf) = take() {
            assert!(buf.is_empty() && buf.capacity() >= 64);
            taken += 1;
        }
        assert_eq!(taken, KEEP);
    }
}
