//! The liveness probe: is an idle connection still usable? Checked without blocking, by
//! asking the socket directly (not the runtime's cached readiness, which may not have seen
//! a FIN that arrived a moment ago).
//!
//! - plain TCP: peek one byte. Nothing to read → alive; 0 bytes → the server sent FIN;
//!   a byte → the server said something unasked (typically `408` before closing); an error
//!   → reset.
//! - TLS: records that arrived are read from the socket and given to rustls. Post-handshake
//!   messages (session tickets, key updates) are consumed there and leave the connection
//!   alive; application data is unsolicited; `close_notify` or FIN means closed.
//! - TLS inside TLS (an `https://` origin through an `https://` proxy): the same, the inner
//!   session's records being what the outer one decrypts from the socket.

use std::io::{self, Read};
use std::mem::MaybeUninit;

use rustls::ClientConnection;
use socket2::SockRef;
use tokio::net::TcpStream;

/// What a probe of an idle connection found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Liveness {
    /// Nothing to read, no FIN: usable.
    Alive,
    /// The server closed (FIN) or reset the connection.
    Closed,
    /// The server sent bytes nobody asked for (typically a 408 before closing).
    Unsolicited,
}

/// Probes a plain TCP connection (or a Unix domain socket: `sock` is either).
pub(crate) fn probe_tcp(sock: SockRef<'_>) -> Liveness {
    let mut byte = [MaybeUninit::<u8>::uninit(); 1];
    loop {
        return match sock.peek(&mut byte) {
            Ok(0) => Liveness::Closed,
            Ok(_) => Liveness::Unsolicited,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Liveness::Alive,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => Liveness::Closed,
        };
    }
}

/// What the records `session` already holds say of a TLS connection, without reading the
/// socket: records read with the last response (a `close_notify`, unasked data).
pub(crate) fn held(session: &mut ClientConnection) -> Liveness {
    match session.process_new_packets() {
        Ok(state) if state.plaintext_bytes_to_read() > 0 => Liveness::Unsolicited,
        Ok(state) if state.peer_has_closed() => Liveness::Closed,
        Ok(_) => Liveness::Alive,
        Err(_) => Liveness::Closed,
    }
}

/// Probes a TLS connection: reads whatever records wait on the socket into rustls.
pub(crate) fn probe_tls(sock: SockRef<'_>, session: &mut ClientConnection) -> Liveness {
    probe_session(session, &mut |raw| (&*sock).read(raw))
}

/// Probes a TLS connection inside another (to an origin through an `https://` proxy's
/// tunnel): what waits on the socket is read into the outer session, and the bytes it
/// decrypts into the inner one. The outer session ending or failing ends the inner.
pub(crate) fn probe_tls_in_tls(
    tcp: &TcpStream,
    outer: &mut ClientConnection,
    inner: &mut ClientConnection,
) -> Liveness {
    let sock = SockRef::from(tcp);
    probe_session(inner, &mut |plain| {
        decrypted(outer, &mut |raw| (&*sock).read(raw), plain)
    })
}

/// Reads into `plain` what `session` decrypts, feeding it records from `read_raw` until
/// some plaintext comes out: `Ok(0)` when the peer closed (`close_notify` or EOF),
/// `WouldBlock` when nothing more waits.
fn decrypted(
    session: &mut ClientConnection,
    read_raw: &mut dyn FnMut(&mut [u8]) -> io::Result<usize>,
    plain: &mut [u8],
) -> io::Result<usize> {
    let mut raw = [0u8; 4096];
    // Bounded as in `probe_session`.
    for _ in 0..16 {
        match session.reader().read(plain) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            // `Ok(0)` is a `close_notify`; an error, an EOF without one.
            other => return other,
        }
        let n = match read_raw(&mut raw) {
            Ok(0) => return Ok(0),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let mut rest = &raw[..n];
        while !rest.is_empty() {
            if session.read_tls(&mut rest)? == 0 {
                return Ok(0);
            }
            session
                .process_new_packets()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        }
    }
    Err(io::ErrorKind::WouldBlock.into())
}

/// Probes `session`, reading the records that wait with `read_raw` (non-blocking).
fn probe_session(
    session: &mut ClientConnection,
    read_raw: &mut dyn FnMut(&mut [u8]) -> io::Result<usize>,
) -> Liveness {
    let mut raw = [0u8; 4096];
    // Bounded: an idle connection has at most a few small records waiting.
    for _ in 0..16 {
        match held(session) {
            Liveness::Alive => {}
            other => return other,
        }
        let n = match read_raw(&mut raw) {
            Ok(0) => return Liveness::Closed,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Liveness::Alive,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Liveness::Closed,
        };
        let mut rest = &raw[..n];
        while !rest.is_empty() {
            match session.read_tls(&mut rest) {
                Ok(0) | Err(_) => return Liveness::Closed,
                Ok(_) => {}
            }
            if session.process_new_packets().is_err() {
                return Liveness::Closed;
            }
        }
    }
    Liveness::Alive
}
