//! `no_proxy`: the hosts that bypass a proxy, parsed once and matched per request.
//!
//! The list is comma-separated; white space around entries is ignored, and so are entries
//! that cannot be read (as curl and Go do). Each entry is one of:
//! - `*`: every host;
//! - an IP address (`10.1.2.3`, `::1`, `[::1]`): that address, when the URL's host is an
//!   IP literal (names are not resolved to be matched);
//! - a CIDR range (`10.0.0.0/8`, `fd00::/8`): the IP literals inside it;
//! - a domain name (`example.com`, `.example.com` or `*.example.com`, all the same): that
//!   name and every name under it (`www.example.com`, not `notexample.com`), as curl and
//!   reqwest read it. Go's `.example.com` leaves out `example.com` itself; here it does not;
//! - any of the above but a range with `:port` (`example.com:8080`, `[::1]:8080`,
//!   `10.0.0.1:80`): only that port.
//!
//! Matching is case-insensitive and ignores a trailing dot. Loopback is not bypassed unless
//! listed (as with curl and reqwest; Go never proxies `localhost`).

use std::net::IpAddr;

/// Hosts that bypass a proxy: the `no_proxy` rules of curl and reqwest.
///
/// ```
/// let no_proxy = tether::NoProxy::from_string("localhost, .internal.example, 10.0.0.0/8");
/// let proxy = tether::Proxy::all("http://proxy.example:3128")?.no_proxy(no_proxy);
/// let client = tether::Client::builder().proxy(proxy).build()?;
/// # Ok::<(), tether::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoProxy {
    entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    All,
    Ip(IpAddr, Option<u16>),
    Range(IpAddr, u8),
    /// Lower-cased, without leading `.`/`*.` or trailing `.`.
    Domain(String, Option<u16>),
}

impl NoProxy {
    /// Reads a `no_proxy` list; `None` when it names no host.
    ///
    /// ```
    /// assert!(tether::NoProxy::from_string("example.com,10.0.0.0/8").is_some());
    /// assert!(tether::NoProxy::from_string(" , ").is_none());
    /// ```
    pub fn from_string(list: &str) -> Option<NoProxy> {
        let entries: Vec<Entry> = list.split(',').filter_map(parse_entry).collect();
        if entries.is_empty() {
            None
        } else {
            Some(NoProxy { entries })
        }
    }

    /// The list in the environment's `no_proxy`, or else `NO_PROXY`.
    ///
    /// ```
    /// let no_proxy = tether::NoProxy::from_env();
    /// # let _ = no_proxy;
    /// ```
    pub fn from_env() -> Option<NoProxy> {
        super::proxy::env_var(&super::proxy::read_env, "no_proxy")
            .and_then(|list| NoProxy::from_string(&list))
    }

    /// Whether a URL's host (as `url` gives it: IPv6 in brackets) and port bypass the
    /// proxy.
    pub(crate) fn matches(&self, host: &str, port: u16) -> bool {
        let host = host.strip_suffix('.').unwrap_or(host);
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let ip = bare.parse::<IpAddr>().ok();
        let port_fits = |p: &Option<u16>| p.is_none_or(|p| p == port);
        self.entries.iter().any(|entry| match (entry, ip) {
            (Entry::All, _) => true,
            (Entry::Ip(want, p), Some(ip)) => *want == ip && port_fits(p),
            (Entry::Range(net, bits), Some(ip)) => in_range(ip, *net, *bits),
            (Entry::Domain(name, p), None) => port_fits(p) && domain_matches(host, name),
            _ => false,
        })
    }
}

/// `host` is `name` or a name under it (case-insensitive).
fn domain_matches(host: &str, name: &str) -> bool {
    if host.len() == name.len() {
        return host.eq_ignore_ascii_case(name);
    }
    host.len() > name.len()
        && host.as_bytes()[host.len() - name.len() - 1] == b'.'
        && host[host.len() - name.len()..].eq_ignore_ascii_case(name)
}

fn in_range(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

fn parse_entry(raw: &str) -> Option<Entry> {
    let entry = raw.trim();
    if entry.is_empty() {
        return None;
    }
    if entry == "*" {
        return Some(Entry::All);
    }
    if let Some((net, bits)) = entry.split_once('/') {
        let net = unbracket(net).parse::<IpAddr>().ok()?;
        let bits = bits.parse::<u8>().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        return (bits <= max).then_some(Entry::Range(net, bits));
    }
    if let Ok(ip) = unbracket(entry).parse::<IpAddr>() {
        return Some(Entry::Ip(ip, None));
    }
    // `[v6]:port`, `v4:port` or `name:port`; a bare v6 address parsed above.
    let (host, port) = match entry.rsplit_once(':') {
        Some((host, port)) => (host, Some(port.parse::<u16>().ok()?)),
        None => (entry, None),
    };
    if let Ok(ip) = unbracket(host).parse::<IpAddr>() {
        return Some(Entry::Ip(ip, port));
    }
    let name = host
        .strip_prefix("*.")
        .or_else(|| host.strip_prefix('.'))
        .unwrap_or(host);
    let name = name.strip_suffix('.').unwrap_or(name);
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    valid.then(|| Entry::Domain(name.to_ascii_lowercase(), port))
}

fn unbracket(s: &str) -> &str {
    s.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (list, host as `url` gives it, port, bypassed). Cases from curl's and Go's
    /// documentation of `no_proxy`, and the places they differ.
    const ROWS: &[(&str, &str, u16, bool)] = &[
        // `*` alone matches everything; not as part of a name.
        ("*", "example.com", 80, true),
        ("*", "[::1]", 80, true),
        ("*.example.com", "www.example.com", 80, true),
        ("*.example.com", "example.com", 80, true),
        // A name matches itself and the names under it, at a dot boundary only.
        ("example.com", "example.com", 80, true),
        ("example.com", "www.example.com", 443, true),
        ("example.com", "a.b.example.com", 443, true),
        ("example.com", "notexample.com", 80, false),
        ("example.com", "example.com.evil.test", 80, false),
        ("www.example.com", "example.com", 80, false),
        // A leading dot: the same as without (curl, reqwest; Go would exclude the
        // domain itself).
        (".example.com", "www.example.com", 80, true),
        (".example.com", "example.com", 80, true),
        (".y.com", "x.y.com", 80, true),
        // Case and a trailing dot do not matter.
        ("Example.COM", "www.example.com", 80, true),
        ("example.com.", "www.example.com", 80, true),
        ("example.com", "www.example.com.", 80, true),
        // Lists: commas, white space, empty and unreadable entries skipped.
        ("foo.test, ,bar.test", "bar.test", 80, true),
        (" foo.test ,\tbar.test ", "foo.test", 80, true),
        ("foo.test,bar.test", "baz.test", 80, false),
        ("bad host!,bar.test", "bar.test", 80, true),
        ("", "example.com", 80, false),
        // A port narrows an entry to that port.
        ("example.com:8080", "example.com", 8080, true),
        ("example.com:8080", "example.com", 80, false),
        ("example.com:8080", "www.example.com", 8080, true),
        ("1.2.3.4:80", "1.2.3.4", 80, true),
        ("1.2.3.4:80", "1.2.3.4", 443, false),
        ("[::1]:8080", "[::1]", 8080, true),
        ("[::1]:8080", "[::1]", 8081, false),
        ("example.com:notaport", "example.com", 80, false),
        // IP addresses match IP literals, with or without brackets in the list.
        ("127.0.0.1", "127.0.0.1", 3000, true),
        ("127.0.0.1", "127.0.0.2", 3000, false),
        ("::1", "[::1]", 80, true),
        ("[::1]", "[::1]", 80, true),
        ("::1", "[::2]", 80, false),
        ("2001:db8::1", "[2001:db8:0:0::1]", 80, true),
        // Names are not resolved: an address does not match a name.
        ("127.0.0.1", "localhost", 80, false),
        ("localhost", "127.0.0.1", 80, false),
        ("localhost", "localhost", 80, true),
        // CIDR ranges match IP literals inside them.
        ("192.168.0.0/16", "192.168.10.20", 80, true),
        ("192.168.0.0/16", "192.169.0.1", 80, false),
        ("10.0.0.0/8", "10.255.255.255", 80, true),
        ("0.0.0.0/0", "8.8.8.8", 80, true),
        ("1.2.3.4/32", "1.2.3.4", 80, true),
        ("1.2.3.4/32", "1.2.3.5", 80, false),
        ("fd00::/8", "[fd12:3456::1]", 80, true),
        ("fd00::/8", "[fe80::1]", 80, false),
        ("[fd00::]/8", "[fd12::1]", 80, true),
        ("10.0.0.0/8", "[::ffff:10.0.0.1]", 80, false),
        ("10.0.0.0/33", "10.0.0.1", 80, false),
        ("10.0.0.0/8", "ten.example", 80, false),
        // No implicit loopback bypass.
        ("example.com", "127.0.0.1", 80, false),
    ];

    #[test]
    fn no_proxy_matches_as_curl_and_reqwest_read_it() {
        for &(list, host, port, expected) in ROWS {
            let bypassed = NoProxy::from_string(list).is_some_and(|n| n.matches(host, port));
            assert_eq!(
                bypassed, expected,
                "no_proxy={list:?} host={host} port={port}"
            );
        }
    }

    #[test]
    fn lists_that_name_nothing_are_none() {
        for list in ["", " ", ",,", " , ", "bad host!", "10.0.0.0/99", "a:b:c"] {
            assert_eq!(NoProxy::from_string(list), None, "{list:?}");
        }
    }
}
