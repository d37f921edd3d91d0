//! Connecting through a proxy: where the proxy is ([`ProxyTarget`]), the CONNECT tunnel of
//! an HTTP proxy, and the SOCKS5 handshake.
//!
//! An `https://` proxy is an HTTP proxy spoken to over TLS (its own name for SNI and
//! verification, HTTP/1.1 by ALPN): what follows runs inside that TLS, and for an
//! `https://` origin the origin's TLS runs inside the proxy's (`Io::TlsInTls`).
//!
//! - `http://` origins through an HTTP proxy: the connection goes to the proxy and carries
//!   absolute-form requests (`proto` encodes them; the client asks for that form), with
//!   the proxy's `Proxy-Authorization` among the request's headers.
//! - `https://` origins through an HTTP proxy: the connection goes to the proxy, asks
//!   `CONNECT host:port` (with `Proxy-Authorization`), and once the proxy answers 2xx the
//!   TLS handshake with the origin (its name for SNI and verification) runs inside the
//!   tunnel.
//! - Either scheme through a SOCKS5 proxy (RFC 1928): the connection goes to the proxy,
//!   logs in when the proxy URL has credentials (RFC 1929), and asks for a connection to
//!   the origin: by address for `socks5://` (the client resolves the name, and asks for
//!   the resolver's first address), by name for `socks5h://` (the proxy resolves it).
//!   Then the origin's requests (origin-form) or its TLS handshake go through as they
//!   would on a direct connection.
//!
//! Either way the connection is pooled under its origin *and* proxy (`Origin::via`), so
//! the per-host cap stays per origin, and everything to one proxy is within the global
//! cap. Not here: which requests use which proxy (the client's `Proxy` rules and the
//! environment, `client/proxy.rs`).

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use http::header::{CONTENT_LENGTH, HOST, PROXY_AUTHORIZATION, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::connect::{DialReport, Dialer};
use super::Origin;
use crate::error::{Error, ErrorKind};
use crate::proto::socks::{self, Destination, Method, SocksError};
use crate::proto::{self, ConnectAnswer, HeadLimits};

/// What a proxy speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum ProxyKind {
    /// HTTP: forwards plain requests, and opens CONNECT tunnels for `https://`.
    Http,
    /// The same, spoken over TLS to the proxy (`https://`).
    Https,
    /// SOCKS5, given the address the client resolved (`socks5://`).
    Socks5,
    /// SOCKS5, given the host name to resolve itself (`socks5h://`).
    Socks5h,
    /// SOCKS4, given the IPv4 address the client resolved (`socks4://`).
    Socks4,
    /// SOCKS4a, given the host name to resolve itself (`socks4a://`).
    Socks4a,
}

impl ProxyKind {
    /// The scheme of the proxy's URL.
    pub fn scheme(self) -> &'static str {
        match self {
            ProxyKind::Http => "http",
            ProxyKind::Https => "https",
            ProxyKind::Socks5 => "socks5",
            ProxyKind::Socks5h => "socks5h",
            ProxyKind::Socks4 => "socks4",
            ProxyKind::Socks4a => "socks4a",
        }
    }

    /// The port a proxy URL of this kind has when it names none.
    pub fn default_port(self) -> u16 {
        match self {
            ProxyKind::Http => 80,
            ProxyKind::Https => 443,
            ProxyKind::Socks5 | ProxyKind::Socks5h | ProxyKind::Socks4 | ProxyKind::Socks4a => 1080,
        }
    }
}

/// A SOCKS5 username and password (percent-decoded from the proxy URL).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SocksLogin {
    pub username: Arc<[u8]>,
    pub password: Arc<[u8]>,
}

/// A proxy: what it speaks, its host (lower-cased, IPv6 literals in brackets), port, and
/// the credentials its URL's userinfo gave: as a `Proxy-Authorization` value (marked
/// sensitive) for an HTTP(S) proxy, as a login for a SOCKS5 one.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ProxyTarget {
    kind: ProxyKind,
    host: Arc<str>,
    port: u16,
    authorization: Option<HeaderValue>,
    login: Option<SocksLogin>,
    /// `Proxy::headers`: sent to an HTTP proxy on `CONNECT` and on each request it
    /// forwards.
    headers: Option<ProxyHeaders>,
}

/// The header fields a proxy is given (`Proxy::headers`), compared, hashed and ordered by
/// name and value, so that proxies given other fields keep their connections apart.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct ProxyHeaders(Arc<[(HeaderName, HeaderValue)]>);

impl ProxyHeaders {
    /// The fields to send: all but those tether writes itself and the framing's
    /// (`Host`, `Content-Length`, `Transfer-Encoding`), which would break the head.
    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.0
            .iter()
            .filter(|(name, _)| ![HOST, CONTENT_LENGTH, TRANSFER_ENCODING].contains(name))
            .map(|(name, value)| (name, value))
    }

    fn key(&self) -> impl Iterator<Item = (&str, &HeaderValue)> {
        self.0.iter().map(|(name, value)| (name.as_str(), value))
    }
}

impl PartialOrd for ProxyHeaders {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ProxyHeaders {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(other.key())
    }
}

impl ProxyTarget {
    /// An HTTP proxy, spoken to over TLS when `tls` (an `https://` proxy).
    pub fn new(
        tls: bool,
        host: &str,
        port: u16,
        authorization: Option<HeaderValue>,
    ) -> ProxyTarget {
        ProxyTarget {
            kind: if tls {
                ProxyKind::Https
            } else {
                ProxyKind::Http
            },
            host: Arc::from(host.to_ascii_lowercase()),
            port,
            authorization,
            login: None,
            headers: None,
        }
    }

    /// A SOCKS5 proxy (`kind` is one of the SOCKS kinds).
    pub fn socks(kind: ProxyKind, host: &str, port: u16, login: Option<SocksLogin>) -> ProxyTarget {
        ProxyTarget {
            kind,
            host: Arc::from(host.to_ascii_lowercase()),
            port,
            authorization: None,
            login,
            headers: None,
        }
    }

    pub fn kind(&self) -> ProxyKind {
        self.kind
    }

    /// Whether plain requests are handed to the proxy to forward (absolute-form, with
    /// `Proxy-Authorization`), rather than sent to the origin through a tunnel.
    pub fn forwards_http(&self) -> bool {
        matches!(self.kind, ProxyKind::Http | ProxyKind::Https)
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The SOCKS5 login, if the proxy is SOCKS5 and has credentials.
    pub fn login(&self) -> Option<&SocksLogin> {
        self.login.as_ref()
    }

    /// The `Proxy-Authorization` value, if the proxy is HTTP and has credentials.
    pub fn authorization(&self) -> Option<&HeaderValue> {
        self.authorization.as_ref()
    }

    /// The same proxy sending `value` as its `Proxy-Authorization` (an HTTP proxy; a
    /// SOCKS5 one is left as it is).
    pub fn with_authorization(&self, value: HeaderValue) -> ProxyTarget {
        let mut with = self.clone();
        if let ProxyKind::Http | ProxyKind::Https = self.kind {
            with.authorization = Some(value);
        }
        with
    }

    /// The fields `Proxy::headers` gave an HTTP proxy.
    pub fn headers(&self) -> Option<&ProxyHeaders> {
        self.headers.as_ref()
    }

    /// The same proxy given these header fields (an HTTP proxy; a SOCKS5 one has no
    /// header and is left as it is). Their values are marked sensitive: they may carry a
    /// proxy's token.
    pub fn with_headers(&self, headers: &HeaderMap) -> ProxyTarget {
        let mut with = self.clone();
        if let ProxyKind::Http | ProxyKind::Https = self.kind {
            let fields: Vec<(HeaderName, HeaderValue)> = headers
                .iter()
                .map(|(name, value)| {
                    let mut value = value.clone();
                    value.set_sensitive(true);
                    (name.clone(), value)
                })
                .collect();
            with.headers = (!fields.is_empty()).then(|| ProxyHeaders(Arc::from(fields)));
        }
        with
    }

    /// The same proxy with other credentials: `authorization` (`Basic` of both) for an
    /// HTTP proxy, the username and password themselves for a SOCKS5 one.
    pub fn with_credentials(
        &self,
        username: &str,
        password: &str,
        authorization: HeaderValue,
    ) -> ProxyTarget {
        let mut with = self.clone();
        match self.kind {
            ProxyKind::Http | ProxyKind::Https => with.authorization = Some(authorization),
            ProxyKind::Socks5 | ProxyKind::Socks5h | ProxyKind::Socks4 | ProxyKind::Socks4a => {
                with.login = Some(SocksLogin {
                    username: Arc::from(username.as_bytes()),
                    password: Arc::from(password.as_bytes()),
                })
            }
        }
        with
    }
}

/// `scheme://host:port`: never the credentials.
impl fmt::Display for ProxyTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.kind.scheme(), self.host, self.port)
    }
}

impl fmt::Debug for ProxyTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let credentials = self.authorization.is_some() || self.login.is_some();
        // The fields' names only: a value may be a token.
        let headers: Option<Vec<&str>> = self
            .headers
            .as_ref()
            .map(|h| h.iter().map(|(name, _)| name.as_str()).collect());
        f.debug_struct("ProxyTarget")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("credentials", &credentials.then_some("***"))
            .field("headers", &headers)
            .finish()
    }
}

/// Limits on the proxy's answer to CONNECT.
const ANSWER_LIMITS: HeadLimits = HeadLimits {
    max_head_bytes: 64 * 1024,
    max_headers: 100,
    lenient: crate::proto::Lenient::STRICT,
};

/// Asks the proxy at the other end of `tcp` for a tunnel to `origin`, by `deadline`.
///
/// Errors: a refusal (any status but 2xx) is `ErrorKind::Proxy` with the status; a proxy
/// that closes, resets or sends what is not HTTP is `ErrorKind::Proxy`; one that does not
/// answer in time is `ErrorKind::Timeout`.
pub(crate) async fn tunnel<S: AsyncRead + AsyncWrite + Unpin>(
    tcp: &mut S,
    proxy: &ProxyTarget,
    origin: &Origin,
    deadline: Option<Instant>,
) -> Result<(), Error> {
    by(deadline, ask_for_tunnel(tcp, proxy, origin), || {
        format!(
            "proxy {proxy} did not answer CONNECT {}:{} in time",
            origin.host(),
            origin.port()
        )
    })
    .await
}

/// Runs `ask` until `deadline` (`None`: no limit); past it, an error of kind `Timeout`
/// saying `late()`.
async fn by(
    deadline: Option<Instant>,
    ask: impl std::future::Future<Output = Result<(), Error>>,
    late: impl FnOnce() -> String,
) -> Result<(), Error> {
    let Some(deadline) = deadline else {
        return ask.await;
    };
    match tokio::time::timeout_at(deadline.into(), ask).await {
        Ok(result) => result,
        Err(_) => Err(Error::msg(ErrorKind::Timeout, late())),
    }
}

async fn ask_for_tunnel<S: AsyncRead + AsyncWrite + Unpin>(
    tcp: &mut S,
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
    let mut fields: Vec<(&[u8], &[u8])> = Vec::new();
    if let Some(auth) = proxy.authorization() {
        fields.push((b"Proxy-Authorization", auth.as_bytes()));
    }
    // `Proxy::headers` besides, but for a `Proxy-Authorization` where the proxy's
    // credentials gave one.
    for (name, value) in proxy.headers().into_iter().flat_map(ProxyHeaders::iter) {
        if !(*name == PROXY_AUTHORIZATION && proxy.authorization().is_some()) {
            fields.push((name.as_str().as_bytes(), value.as_bytes()));
        }
    }
    proto::encode_connect(origin.host(), origin.port(), &fields, &mut head)
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

/// Asks the SOCKS5 proxy at the other end of `tcp` for a connection to `origin`, by
/// `deadline`: logging in when the proxy has credentials, and resolving the origin's name
/// first (with the client's resolver, noted in `report`) for `socks5://`.
///
/// Errors: the proxy refuses (its reply code in the message), rejects the login, closes,
/// or does not speak SOCKS5: `ErrorKind::Proxy`; the name does not resolve: `Connect`; no
/// answer in time: `Timeout`. Nothing of the request has been sent then.
pub(crate) async fn socks_connect(
    tcp: &mut TcpStream,
    proxy: &ProxyTarget,
    origin: &Origin,
    dialer: &Dialer,
    deadline: Option<Instant>,
    report: &mut DialReport,
) -> Result<(), Error> {
    by(
        deadline,
        ask_socks(tcp, proxy, origin, dialer, report),
        || {
            format!(
                "proxy {proxy} did not open a connection to {}:{} in time",
                origin.host(),
                origin.port()
            )
        },
    )
    .await
}

async fn ask_socks(
    tcp: &mut TcpStream,
    proxy: &ProxyTarget,
    origin: &Origin,
    dialer: &Dialer,
    report: &mut DialReport,
) -> Result<(), Error> {
    let failed = |what: &dyn fmt::Display| {
        Error::msg(
            ErrorKind::Proxy,
            format!(
                "proxy {proxy}, to {}:{}: {what}",
                origin.host(),
                origin.port()
            ),
        )
    };
    let name = origin
        .host()
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(origin.host());
    let socks4 = matches!(proxy.kind, ProxyKind::Socks4 | ProxyKind::Socks4a);
    // An IP literal is sent as an address (but an IPv6 one to SOCKS4a, which takes it as
    // a name); a name is resolved here for `socks5://` and `socks4://` (to its first
    // address, IPv4 for SOCKS4), and sent for the proxy to resolve otherwise.
    let ip;
    let to = match (name.parse::<std::net::IpAddr>(), proxy.kind) {
        (Ok(literal), ProxyKind::Socks4a) if literal.is_ipv6() => Destination::Name(name),
        (Ok(literal), _) => Destination::Ip(literal),
        (Err(_), ProxyKind::Socks5h | ProxyKind::Socks4a) => Destination::Name(name),
        (Err(_), _) => {
            let ips = dialer.resolve(origin.host(), report).await?;
            let first = if socks4 {
                ips.iter().find(|ip| ip.is_ipv4())
            } else {
                ips.first()
            };
            ip = match first {
                Some(ip) => *ip,
                None if socks4 && !ips.is_empty() => return Err(failed(&SocksError::NotIpv4)),
                None => {
                    return Err(Error::msg(
                        ErrorKind::Connect,
                        format!("resolving {}: no address", origin.host()),
                    ))
                }
            };
            Destination::Ip(ip)
        }
    };
    // A pinned name's port serves a URL that names none, as for a direct connection.
    let port = match to {
        Destination::Name(_) => origin.port(),
        Destination::Ip(_) => {
            dialer.port_of(origin.host(), origin.port(), origin.scheme().default_port())
        }
    };
    let mut out = Vec::with_capacity(64);
    let mut buf = BytesMut::with_capacity(64);
    if socks4 {
        let user_id = proxy.login.as_ref().map_or(&[][..], |l| &l.username[..]);
        socks::encode_connect4(to, port, user_id, &mut out).map_err(|e| failed(&e))?;
        send(tcp, &out).await.map_err(|e| failed(&e))?;
        receive(tcp, &mut buf, |b| {
            Ok(socks::read_reply4(b)?.map(|n| ((), n)))
        })
        .await
        .map_err(|e| failed(&e))?;
        return no_bytes_after(&buf).map_err(|why| failed(&why));
    }
    socks::encode_greeting(proxy.login.is_some(), &mut out);
    send(tcp, &out).await.map_err(|e| failed(&e))?;
    let offered_login = proxy.login.is_some();
    let method = receive(tcp, &mut buf, |b| socks::read_choice(b, offered_login))
        .await
        .map_err(|e| failed(&e))?;
    if let (Method::Login, Some(login)) = (method, &proxy.login) {
        out.clear();
        socks::encode_login(&login.username, &login.password, &mut out).map_err(|e| failed(&e))?;
        send(tcp, &out).await.map_err(|e| failed(&e))?;
        receive(tcp, &mut buf, |b| {
            Ok(socks::read_login_status(b)?.map(|n| ((), n)))
        })
        .await
        .map_err(|e| failed(&e))?;
    }
    out.clear();
    socks::encode_connect(to, port, &mut out).map_err(|e| failed(&e))?;
    send(tcp, &out).await.map_err(|e| failed(&e))?;
    receive(
        tcp,
        &mut buf,
        |b| Ok(socks::read_reply(b)?.map(|n| ((), n))),
    )
    .await
    .map_err(|e| failed(&e))?;
    no_bytes_after(&buf).map_err(|why| failed(&why))
}

/// The origin speaks first only after our request or ClientHello: bytes after the
/// proxy's reply are not the tunnel's.
fn no_bytes_after(buf: &[u8]) -> Result<(), &'static str> {
    if buf.is_empty() {
        Ok(())
    } else {
        Err("bytes followed the proxy's reply")
    }
}

/// A failure of one SOCKS step: the proxy's answer, or the socket.
#[derive(Debug)]
enum Step {
    Socks(SocksError),
    Io(&'static str, std::io::Error),
    Closed,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Socks(e) => e.fmt(f),
            Step::Io(what, e) => write!(f, "{what} failed: {e}"),
            Step::Closed => f.write_str("the proxy closed the connection before answering"),
        }
    }
}

async fn send(tcp: &mut TcpStream, bytes: &[u8]) -> Result<(), Step> {
    tcp.write_all(bytes)
        .await
        .map_err(|e| Step::Io("writing to the proxy", e))
}

/// Reads until `read` finds its message at the front of `buf`, and takes it off.
async fn receive<T>(
    tcp: &mut TcpStream,
    buf: &mut BytesMut,
    read: impl Fn(&[u8]) -> Result<Option<(T, usize)>, SocksError>,
) -> Result<T, Step> {
    loop {
        if let Some((value, n)) = read(buf).map_err(Step::Socks)? {
            let _ = buf.split_to(n);
            return Ok(value);
        }
        buf.reserve(64);
        match tcp.read_buf(buf).await {
            Ok(0) => return Err(Step::Closed),
            Ok(_) => {}
            Err(e) => return Err(Step::Io("reading from the proxy", e)),
        }
    }
}
