//! Dialing: find the host's addresses (an IP literal needs no lookup; a pinned name takes
//! its pins; any other name goes through the client's cached resolver, `dns.rs`), then
//! connect by Happy Eyeballs (RFC 8305) within the connect timeout, and set the socket's
//! options: `TCP_NODELAY` (a request is written whole, so Nagle's algorithm only adds
//! latency) and TCP keep-alive when asked.
//!
//! Happy Eyeballs: the addresses are interleaved by family, starting with the family the
//! resolver put first; an attempt starts every [`ATTEMPT_DELAY`], or at once when the
//! previous one fails; the first to connect wins and the others are dropped (closing
//! their sockets). A single address is simply connected to: no timer, no race. All of
//! it happens inside the one slot the pool reserved for this dial. With
//! `local_address`, each socket is bound to it first, and addresses of the other family
//! are skipped.
//!
//! TLS on top of the TCP stream is `tls.rs`; this file knows nothing of it.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use socket2::{SockRef, TcpKeepalive};
use tokio::net::{TcpSocket, TcpStream};

use super::dns::{DnsCache, Looked};
use crate::error::{Error, ErrorKind};

/// The wait before the next address is tried while an attempt is pending (RFC 8305 §5).
pub(crate) const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// How a client dials: its resolver and cache, pinned names, socket options.
pub(crate) struct Dialer {
    pub dns: DnsCache,
    /// Names answered without a lookup (`ClientBuilder::resolve`), lower-cased, with the
    /// port to use when the URL names none (0: the URL's default).
    pub pins: HashMap<String, Vec<SocketAddr>>,
    pub local_address: Option<IpAddr>,
    /// Every socket is bound to this network interface (`SO_BINDTODEVICE`).
    pub interface: Option<std::sync::Arc<str>>,
    /// Every connection goes to this Unix domain socket instead (`unix_socket`).
    #[cfg(unix)]
    pub unix_socket: Option<std::sync::Arc<std::path::Path>>,
    pub tcp: TcpOptions,
    /// Every connection traces the bytes it reads and writes (`connection_verbose`).
    pub verbose: bool,
}

/// The options set on each TCP socket once it is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TcpOptions {
    /// `TCP_NODELAY` (on by default: a request goes out whole in one write, and
    /// Nagle's algorithm would only hold back a body written after its head).
    pub nodelay: bool,
    /// Keep-alive probes after this long idle.
    pub keepalive: Option<Duration>,
    /// Between unanswered probes.
    pub keepalive_interval: Option<Duration>,
    /// Unanswered probes before the connection is dropped.
    pub keepalive_retries: Option<u32>,
    /// `TCP_USER_TIMEOUT`: how long sent data may go unacknowledged (Linux).
    pub user_timeout: Option<Duration>,
}

impl Default for TcpOptions {
    fn default() -> Self {
        TcpOptions {
            nodelay: true,
            keepalive: None,
            keepalive_interval: None,
            keepalive_retries: None,
            user_timeout: None,
        }
    }
}

impl TcpOptions {
    /// Sets these options on `stream`. Best effort: a socket that refuses an option
    /// still works.
    pub fn apply(&self, stream: &TcpStream) {
        let _ = stream.set_nodelay(self.nodelay);
        let socket = SockRef::from(stream);
        let any_keepalive = self.keepalive.is_some()
            || self.keepalive_interval.is_some()
            || self.keepalive_retries.is_some();
        if any_keepalive {
            // Each part not given stays the system's (`net.ipv4.tcp_keepalive_*`).
            let mut keepalive = TcpKeepalive::new();
            if let Some(idle) = self.keepalive {
                keepalive = keepalive.with_time(idle);
            }
            if let Some(interval) = self.keepalive_interval {
                keepalive = keepalive.with_interval(interval);
            }
            if let Some(retries) = self.keepalive_retries {
                keepalive = keepalive.with_retries(retries);
            }
            let _ = socket.set_tcp_keepalive(&keepalive);
        }
        #[cfg(any(target_os = "linux", target_os = "android", target_os = "fuchsia"))]
        if let Some(timeout) = self.user_timeout {
            let _ = socket.set_tcp_user_timeout(Some(timeout));
        }
    }
}

/// How the addresses were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// The host is an IP literal.
    Literal,
    /// A pinned name.
    Pinned,
    /// Looked up, from the cache or the resolver.
    Looked(Looked),
}

/// What a dial that ran out of time says: whether the time ran out before it began, while
/// the name was being resolved, or while connecting.
fn dial_timed_out(host: &str, port: u16, report: &DialReport, had_time: bool) -> String {
    if !had_time {
        format!("no time was left to connect to {host}:{port}: the deadline had passed")
    } else if report.found.is_none() {
        format!("resolving {host} (to connect to {host}:{port}) timed out")
    } else {
        format!("connect to {host}:{port} timed out")
    }
}

/// How a connection reaches its origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// Straight to the origin.
    Direct,
    /// To an HTTP proxy, which forwards each (absolute-form) request.
    Forward,
    /// Through a CONNECT tunnel of an HTTP proxy.
    Tunnel,
    /// Through a SOCKS5 proxy.
    Socks,
}

/// What a dial did, for the client's counters and tracing: filled in as it goes, so a
/// dial that fails or runs out of time reports what it did too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DialReport {
    /// How the addresses were found (`None`: the dial ended before they were).
    pub found: Option<Found>,
    /// TCP connection attempts started (one per address tried).
    pub attempts: u32,
    pub via: Via,
}

impl Default for DialReport {
    fn default() -> Self {
        DialReport {
            found: None,
            attempts: 0,
            via: Via::Direct,
        }
    }
}

impl Dialer {
    /// Opens a TCP connection to `host:port` by `deadline` (`None`: no limit), noting in
    /// `report` what it did. `port` is the URL's, `default_port` its scheme's (see
    /// [`Dialer::port_of`]).
    pub async fn connect(
        &self,
        host: &str,
        port: u16,
        default_port: u16,
        deadline: Option<Instant>,
        report: &mut DialReport,
    ) -> Result<TcpStream, Error> {
        let Some(deadline) = deadline else {
            return self.dial(host, port, default_port, report).await;
        };
        let had_time = crate::clock::now() < deadline;
        let dial = self.dial(host, port, default_port, report);
        match tokio::time::timeout_at(deadline.into(), dial).await {
            Ok(result) => result,
            Err(_) => {
                Err(Error::timeout("connect").context(dial_timed_out(host, port, report, had_time)))
            }
        }
    }

    /// The addresses of `host` (a name, or an IP literal, IPv6 in brackets or not), in
    /// the resolver's order, noting in `report` how they were found.
    pub async fn resolve(
        &self,
        host: &str,
        report: &mut DialReport,
    ) -> Result<Arc<[IpAddr]>, Error> {
        if let Some(ip) = ip_literal(host) {
            report.found = Some(Found::Literal);
            return Ok(Arc::from([ip]));
        }
        if let Some(pinned) = self.pins.get(host) {
            report.found = Some(Found::Pinned);
            return Ok(pinned.iter().map(SocketAddr::ip).collect());
        }
        let (ips, looked) = self.dns.lookup(host).await;
        report.found = Some(Found::Looked(looked));
        ips
    }

    /// The port to reach `host` on, for a URL whose port is `port` and whose scheme's is
    /// `default_port`: as reqwest does, a pinned address's own port when the URL names
    /// none of its own (its port is the default) and the pin's is not 0; else the URL's.
    pub fn port_of(&self, host: &str, port: u16, default_port: u16) -> u16 {
        match self.pins.get(host).and_then(|pins| pins.first()) {
            Some(pin) => pinned_port(pin, port, default_port),
            None => port,
        }
    }

    async fn dial(
        &self,
        host: &str,
        port: u16,
        default_port: u16,
        report: &mut DialReport,
    ) -> Result<TcpStream, Error> {
        // One address (an IP literal, what a crawler of addresses dials; most names)
        // allocates no list.
        let (one, many);
        let found: &[SocketAddr] = if let Some(pins) = self.pins.get(host) {
            report.found = Some(Found::Pinned);
            many = pins
                .iter()
                .map(|pin| SocketAddr::new(pin.ip(), pinned_port(pin, port, default_port)))
                .collect::<Vec<_>>();
            &many
        } else if let Some(ip) = ip_literal(host) {
            report.found = Some(Found::Literal);
            one = [SocketAddr::new(ip, port)];
            &one
        } else {
            match self.resolve(host, report).await?[..] {
                [ip] => {
                    one = [SocketAddr::new(ip, port)];
                    &one
                }
                ref ips => {
                    many = ips
                        .iter()
                        .map(|&ip| SocketAddr::new(ip, port))
                        .collect::<Vec<_>>();
                    &many
                }
            }
        };
        if found.is_empty() {
            return Err(Error::msg(
                ErrorKind::Connect,
                format!("{host} has no address"),
            ));
        }
        // One address (an IP literal, most names) needs no reordering.
        let ordered;
        let addrs = if found.len() > 1 || self.local_address.is_some() {
            ordered = interleave(found)
                .into_iter()
                .filter(|addr| {
                    self.local_address
                        .is_none_or(|l| l.is_ipv4() == addr.is_ipv4())
                })
                .collect::<Vec<_>>();
            &ordered[..]
        } else {
            found
        };
        if addrs.is_empty() {
            return Err(Error::msg(
                ErrorKind::Connect,
                format!("{host} has no address of the local address's family"),
            ));
        }
        let bind = Bind {
            local: self.local_address,
            interface: self.interface.clone(),
        };
        let result = happy_eyeballs(addrs, &bind, &mut report.attempts).await;
        match result {
            Ok(stream) => {
                self.tcp.apply(&stream);
                Ok(stream)
            }
            Err(e) => {
                let tried = if report.attempts == 1 {
                    String::new()
                } else {
                    format!(" ({} addresses tried)", report.attempts)
                };
                Err(Error::new(ErrorKind::Connect, e)
                    .context(format!("connecting to {host}:{port}{tried}")))
            }
        }
    }
}

/// The address `host` spells, if it is an IP literal (IPv6 in brackets or not).
fn ip_literal(host: &str) -> Option<IpAddr> {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .parse()
        .ok()
}

/// A pin's port for a URL whose port is `port` and whose scheme's is `default_port`.
fn pinned_port(pin: &SocketAddr, port: u16, default_port: u16) -> u16 {
    if port == default_port && pin.port() != 0 {
        pin.port()
    } else {
        port
    }
}

/// The addresses in the order to try them: alternating families, starting with the
/// family of the first (RFC 8305 §4), each family in the resolver's order.
pub(crate) fn interleave(addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    let Some(first) = addrs.first() else {
        return Vec::new();
    };
    let (mut same, mut other): (Vec<SocketAddr>, Vec<SocketAddr>) =
        addrs.iter().partition(|a| a.is_ipv4() == first.is_ipv4());
    same.reverse();
    other.reverse();
    let mut out = Vec::with_capacity(addrs.len());
    loop {
        match (same.pop(), other.pop()) {
            (None, None) => return out,
            (a, b) => out.extend(a.into_iter().chain(b)),
        }
    }
}

type Attempt = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;

/// What each socket is bound to before it connects.
struct Bind {
    local: Option<IpAddr>,
    interface: Option<std::sync::Arc<str>>,
}

/// One connection attempt, bound as `bind` says first, boxed to run beside others.
fn attempt(addr: SocketAddr, bind: &Bind) -> Attempt {
    Box::pin(connect_to(addr, bind.local, bind.interface.clone()))
}

/// Connects to `addr` from a socket bound to `local` and `interface` first.
async fn connect_to(
    addr: SocketAddr,
    local: Option<IpAddr>,
    interface: Option<Arc<str>>,
) -> io::Result<TcpStream> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(name) = interface {
        bind_device(&socket, &name)?;
    }
    if let Some(local) = local {
        socket.bind(SocketAddr::new(local, 0))?;
    }
    socket.connect(addr).await
}

#[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
fn bind_device(socket: &TcpSocket, name: &str) -> io::Result<()> {
    SockRef::from(socket)
        .bind_device(Some(name.as_bytes()))
        .map_err(|e| io::Error::new(e.kind(), format!("binding to interface {name:?}: {e}")))
}

#[cfg(not(any(target_os = "android", target_os = "fuchsia", target_os = "linux")))]
fn bind_device(_: &TcpSocket, name: &str) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        format!("binding to interface {name:?}: not on this system"),
    ))
}

/// Races attempts to `addrs` as RFC 8305 says; the winner, or the last error. `started`
/// counts the attempts as they start.
async fn happy_eyeballs(
    addrs: &[SocketAddr],
    bind: &Bind,
    started: &mut u32,
) -> io::Result<TcpStream> {
    // One address races nothing: no timer, no list of attempts, no box.
    if let [addr] = addrs {
        *started += 1;
        return connect_to(*addr, bind.local, bind.interface.clone()).await;
    }
    let mut running: Vec<Attempt> = Vec::new();
    let mut next = 0;
    let mut last = None;
    let mut timer = Box::pin(tokio::time::sleep(ATTEMPT_DELAY));
    std::future::poll_fn(|cx| loop {
        // Start the next attempt when none runs, or when the delay has passed.
        let start =
            next < addrs.len() && (running.is_empty() || timer.as_mut().poll(cx).is_ready());
        if start {
            running.push(attempt(addrs[next], bind));
            next += 1;
            *started += 1;
            timer
                .as_mut()
                .reset(tokio::time::Instant::now() + ATTEMPT_DELAY);
        }
        let mut i = 0;
        let mut failed = false;
        while i < running.len() {
            match running[i].as_mut().poll(cx) {
                Poll::Ready(Ok(stream)) => return Poll::Ready(Ok(stream)),
                Poll::Ready(Err(e)) => {
                    last = Some(e);
                    drop(running.swap_remove(i));
                    failed = true;
                }
                Poll::Pending => i += 1,
            }
        }
        if running.is_empty() && next >= addrs.len() {
            let last = last
                .take()
                .unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no addresses"));
            return Poll::Ready(Err(last));
        }
        // A failure starts the next attempt at once; otherwise wait for a wake.
        if !(failed || start) {
            return Poll::Pending;
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn addresses_alternate_families_starting_with_the_first() {
        let rows: &[(&[&str], &[&str])] = &[
            (&[], &[]),
            (&["10.0.0.1"], &["10.0.0.1"]),
            (
                &["::1", "::2", "10.0.0.1", "10.0.0.2", "::3"],
                &["::1", "10.0.0.1", "::2", "10.0.0.2", "::3"],
            ),
            (
                &["10.0.0.1", "::1", "::2", "::3"],
                &["10.0.0.1", "::1", "::2", "::3"],
            ),
            (
                &["10.0.0.1", "10.0.0.2", "::1"],
                &["10.0.0.1", "::1", "10.0.0.2"],
            ),
        ];
        for (given, expected) in rows {
            let at = |s: &&str| SocketAddr::new(ip(s), 80);
            let given: Vec<SocketAddr> = given.iter().map(at).collect();
            let expected: Vec<SocketAddr> = expected.iter().map(at).collect();
            assert_eq!(interleave(&given), expected, "{given:?}");
        }
    }

    #[test]
    fn a_pins_port_serves_a_url_that_names_none() {
        let pin = |port| SocketAddr::new(ip("127.0.0.1"), port);
        // (pin's port, URL's port, scheme's default port, port dialed)
        let rows = [
            (8080, 80, 80, 8080),
            (8080, 443, 443, 8080),
            (8080, 9000, 80, 9000),
            (8080, 443, 80, 443),
            (0, 80, 80, 80),
            (0, 9000, 80, 9000),
        ];
        for (pinned, port, default, dialed) in rows {
            assert_eq!(
                pinned_port(&pin(pinned), port, default),
                dialed,
                "pin :{pinned}, URL :{port}, default :{default}"
            );
        }
    }
}
