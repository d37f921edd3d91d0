//! Connecting through an HTTP proxy: where the proxy is ([`ProxyTarget`]) and the CONNECT
//! tunnel for `https://` origins.
//!
//! - `http://` origins through a proxy: the connection goes to the proxy and carries
//!   absolute-form requests (`proto` encodes them; the client asks for that form), with
//!   the proxy's `Proxy-Authorization` among the request's headers.
//! - `https://` origins: the connection goes to the proxy, asks `CONNECT host:port` (with
//!   `Proxy-Authorization`), and once the proxy answers 2xx the TLS handshake with the
//!   origin (its name for SNI and verification) runs inside the tunnel.
//!
//! Either way the connection is pooled under its origin *and* proxy (`Origin::via`), so
//! the per-host cap stays per origin, and everything to one proxy is within the global
//! cap. Not here: which requests use which proxy (the client's `Proxy` rules and the
//! environment, `client/proxy.rs`).

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use http::HeaderValue;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Origin;
use crate::error::{Error, ErrorKind};
use crate::proto::{self, ConnectAnswer, HeadLimits};

/// An HTTP proxy: its host (lower-cased, IPv6 literals in brackets), port, and the
/// `Proxy-Authorization` value its URL's userinfo gave (marked sensitive).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ProxyTarget {
    host: Arc<str>,
    port: u16,
    authorization: Option<HeaderValue>,
}

impl ProxyTarget {
    pub fn new(host: &str, port: u16, authorization: Option<HeaderValue>) -> ProxyTarget {
        ProxyTarget {
            host: Arc::from(host.to_ascii_lowercase()),
            port,
            authorization,
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `Proxy-Authorization` value, if the proxy has credentials.
    pub fn authorization(&self) -> Option<&HeaderValue> {
        self.authorization.as_ref()
    }

    /// The same proxy with other credentials.
    pub fn with_authorization(&self, authorization: HeaderValue) -> ProxyTarget {
        ProxyTarget {
            authorization: Some(authorization),
            ..self.clone()
        }
    }
}

/// `http://host:port`: never the credentials.
impl fmt::Display for ProxyTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}:{}", self.host, self.port)
    }
}

impl fmt::Debug for ProxyTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("authorization", &self.authorization.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Limits on the proxy's answer to CONNECT.
const ANSWER_LIMITS: HeadLimits = HeadLimits {
    max_head_bytes: 64 * 1024,
    max_headers: 100,
};

/// Asks the proxy at the other end of `tcp` for a tunnel to `origin`, by `deadline`.
///
/// Errors: a refusal (any status but 2xx) is `ErrorKind::Proxy` with the status; a proxy
/// that closes, resets or sends what is not HTTP is `ErrorKind::Proxy`; one that does not
/// answer in time is `ErrorKind::Timeout`.
pub(crate) async fn tunnel(
    tcp: &mut TcpStream,
    proxy: &ProxyTarget,
    origin: &Origin,
    deadline: Option<Instant>,
) -> Result<(), Error> {
    let ask = ask_for_tunnel(tcp, proxy, origin);
    let Some(deadline) = deadline else {
        return ask.await;
    };
    match tokio::time::timeout_at(deadline.into(), ask).await {
        Ok(result) => result,
        Err(_) => Err(Error::msg(
            ErrorKind::Timeout,
            format!(
                "proxy {proxy} did not answer CONNECT {}:{} in time",
                origin.host(),
                origin.port()
            ),
        )),
    }
}

async fn ask_for_tunnel(
    tcp: &mut TcpStream,
    proxy: &ProxyTarget,
    origin: &Origin,
) -> Result<(), Error> {
    let failed = |what: String| {
        Error::msg(
            ErrorKind::Proxy,
            format!(
                "proxy {proxy}, CONNECT {}:{}: {what}",
                origin.host(),
                origin.port()
            ),
        )
    };
    let mut head = Vec::with_capacity(128);
    let auth = proxy
        .authorization()
        .map(|v| (&b"Proxy-Authorization"[..], v.as_bytes()));
    proto::encode_connect(origin.host(), origin.port(), auth.as_slice(), &mut head)
        .map_err(Error::proto)?;
    tcp.write_all(&head)
        .await
        .map_err(|e| failed(format!("writing the request failed: {e}")))?;

    let mut buf = BytesMut::with_capacity(1024);
    loop {
        match proto::read_connect_answer(&buf, &ANSWER_LIMITS) {
            Ok(None) => {}
            Ok(Some(ConnectAnswer::Open { consumed })) if consumed == buf.len() => return Ok(()),
            Ok(Some(ConnectAnswer::Open { .. })) => {
                // The origin speaks first only after our ClientHello: bytes here are not
                // the tunnel's.
                return Err(failed("bytes followed the 2xx answer".into()));
            }
            Ok(Some(ConnectAnswer::Refused(answer))) => {
                let status = answer.status;
                return Err(failed(format!(
                    "answered {status}: {}",
                    proto::refusal_reason(status)
                ))
                .with_status(status));
            }
            Err(e) => {
                return Err(Error::new(ErrorKind::Proxy, e)
                    .context(format!("proxy {proxy} gave a malformed answer to CONNECT")))
            }
        }
        buf.reserve(1024);
        match tcp.read_buf(&mut buf).await {
            Ok(0) => {
                return Err(failed(
                    "the proxy closed the connection before answering".into(),
                ))
            }
            Ok(_) => {}
            Err(e) => return Err(failed(format!("reading the answer failed: {e}"))),
        }
    }
}
