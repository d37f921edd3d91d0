//! Dialing: resolve the host (IP literals need no lookup), open a TCP connection within the
//! connect timeout, trying each resolved address in turn, and set `TCP_NODELAY` (a request
//! is written whole, so Nagle's algorithm only adds latency).
//!
//! TLS on top of the TCP stream is `tls.rs`; this file knows nothing of it.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use tokio::net::TcpStream;

use crate::error::{Error, ErrorKind};

/// Opens a TCP connection to `host:port` by `deadline` (`None`: no limit).
pub(crate) async fn connect_tcp(
    host: &str,
    port: u16,
    deadline: Option<Instant>,
) -> Result<TcpStream, Error> {
    let Some(deadline) = deadline else {
        return dial(host, port).await;
    };
    match tokio::time::timeout_at(deadline.into(), dial(host, port)).await {
        Ok(result) => result,
        Err(_) => {
            Err(Error::timeout("connect").context(format!("connect to {host}:{port} timed out")))
        }
    }
}

async fn dial(host: &str, port: u16) -> Result<TcpStream, Error> {
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let addrs: Vec<SocketAddr> = match literal.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| Error::new(ErrorKind::Connect, e).context(format!("resolving {host}")))?
            .collect(),
    };
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no addresses");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                // Best effort: a socket that refuses the option still works.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(Error::new(ErrorKind::Connect, last).context(format!("connecting to {host}:{port}")))
}
