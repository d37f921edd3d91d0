//! `connection_verbose`: every byte a connection reads or writes, as `TRACE` events of
//! target `tether::verbose` with the connection's id, the count, and the bytes escaped
//! (printable ASCII as it is, the rest as `\r`, `\n`, `\xNN`). What is logged is what the
//! HTTP layer reads and writes: plaintext above TLS, each HTTP/2 frame's bytes, and an
//! upgraded connection's traffic. Out of line and cold: a connection without it pays one
//! test of a flag per read and per write.

/// The target of the events, for a subscriber's filter.
pub(crate) const TARGET: &str = "tether::verbose";

/// `bytes` were read on connection `conn`.
#[cold]
#[inline(never)]
pub(crate) fn read(conn: u64, bytes: &[u8]) {
    if !bytes.is_empty() {
        tracing::trace!(target: TARGET, conn, len = bytes.len(), "read: {}", bytes.escape_ascii());
    }
}

/// The first `n` bytes of `pieces`, in order, were written on connection `conn`.
#[cold]
#[inline(never)]
pub(crate) fn wrote(conn: u64, pieces: &[&[u8]], n: usize) {
    let mut left = n;
    for piece in pieces {
        let part = &piece[..left.min(piece.len())];
        left -= part.len();
        if !part.is_empty() {
            tracing::trace!(target: TARGET, conn, len = part.len(), "write: {}", part.escape_ascii());
        }
    }
}
