//! SOCKS5 (RFC 1928) with username/password authentication (RFC 1929): the messages that
//! ask a SOCKS proxy for a TCP connection to a host, and the proxy's answers to them.
//!
//! The client's side, in order: a greeting offering "no authentication" (and
//! username/password when it has them); the proxy's choice; the login when that method was
//! chosen, and its status; then `CONNECT` to an IP address or a host name (which the proxy
//! resolves), and the reply. After a successful reply the connection is a tunnel to the
//! host. Each reader takes the front of a buffer and says how many bytes the message took,
//! or that more are needed (`Ok(None)`).
//!
//! SOCKS4 and its 4a extension, for older proxies: one request (`CONNECT` to an IPv4
//! address, or for 4a to a host name the proxy resolves, with a user id and no password)
//! and its 8-byte reply.
//!
//! Does not cover: the socket, deadlines, which address to ask for (`conn/proxy.rs`).

use std::fmt;
use std::net::IpAddr;

const VERSION: u8 = 5;
/// The version of the username/password sub-negotiation (RFC 1929 §2).
const LOGIN_VERSION: u8 = 1;
const NO_AUTH: u8 = 0x00;
const LOGIN: u8 = 0x02;
const NO_ACCEPTABLE: u8 = 0xff;
const CMD_CONNECT: u8 = 1;
const ATYP_V4: u8 = 1;
const ATYP_NAME: u8 = 3;
const ATYP_V6: u8 = 4;

/// What went wrong in a SOCKS5 exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SocksError {
    /// The proxy's answer does not start with the SOCKS version it should.
    NotSocks5,
    /// The proxy chose none of the methods offered (`0xff`): it wants credentials the
    /// client does not have, or a method the client does not speak.
    NoAcceptableMethod { offered_login: bool },
    /// The proxy chose a method that was not offered.
    UnofferedMethod(u8),
    /// The proxy rejected the username and password.
    LoginRejected,
    /// A username is empty, or a username or password is longer than 255 bytes.
    BadCredentials,
    /// The host name is empty or longer than 255 bytes.
    BadHostName,
    /// The proxy refused the connection (the reply's code, 1 to 255).
    Refused(u8),
    /// The reply is malformed (a reserved byte set, an unknown address type).
    MalformedReply,
    /// The proxy's answer to a SOCKS4 request is not a SOCKS4 reply.
    NotSocks4,
    /// A SOCKS4 proxy refused the connection (the reply's code, 91 to 93, or another).
    Refused4(u8),
    /// SOCKS4 reaches IPv4 addresses only.
    NotIpv4,
    /// A SOCKS4 user id or 4a host name holds a NUL byte, or is longer than 255 bytes.
    BadSocks4Field,
}

impl fmt::Display for SocksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocksError::NotSocks5 => f.write_str("the proxy does not speak SOCKS5"),
            SocksError::NoAcceptableMethod {
                offered_login: true,
            } => f.write_str(
                "the proxy accepts neither no authentication nor a username and password",
            ),
            SocksError::NoAcceptableMethod {
                offered_login: false,
            } => f.write_str(
                "the proxy requires authentication (give a username and password in the proxy URL)",
            ),
            SocksError::UnofferedMethod(m) => {
                write!(
                    f,
                    "the proxy chose authentication method {m:#04x}, which was not offered"
                )
            }
            SocksError::LoginRejected => {
                f.write_str("the proxy rejected the username and password")
            }
            SocksError::BadCredentials => {
                f.write_str("a SOCKS5 username must be 1 to 255 bytes, and a password at most 255")
            }
            SocksError::BadHostName => f.write_str("a SOCKS5 host name must be 1 to 255 bytes"),
            SocksError::Refused(code) => {
                write!(f, "the proxy answered {code}: {}", reply_reason(*code))
            }
            SocksError::MalformedReply => f.write_str("the proxy's reply is malformed"),
            SocksError::NotSocks4 => f.write_str("the proxy does not speak SOCKS4"),
            SocksError::Refused4(code) => {
                write!(f, "the proxy answered {code}: {}", reply_reason4(*code))
            }
            SocksError::NotIpv4 => f.write_str(
                "SOCKS4 reaches IPv4 addresses only, and the host has none (socks4a:// or socks5:// may reach it)",
            ),
            SocksError::BadSocks4Field => f.write_str(
                "a SOCKS4 user id or host name must be at most 255 bytes, none of them NUL",
            ),
        }
    }
}

impl std::error::Error for SocksError {}

/// What a reply code means (RFC 1928 §6).
pub(crate) fn reply_reason(code: u8) -> &'static str {
    match code {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unassigned reply code",
    }
}

/// What a SOCKS4 reply code means.
fn reply_reason4(code: u8) -> &'static str {
    match code {
        91 => "request rejected or failed",
        92 => "request rejected: the proxy cannot reach the client's identd",
        93 => "request rejected: the user id does not match identd's",
        _ => "unknown reply code",
    }
}

/// SOCKS4's version byte, and the reply's code for "granted".
const VERSION4: u8 = 4;
const GRANTED4: u8 = 90;

/// Appends a SOCKS4 `CONNECT` for `to`, `port` with `user_id`: to an IPv4 address, or
/// (SOCKS4a) to a name, sent after the user id with the address `0.0.0.1` that says so.
/// An IPv6 address cannot be asked for. On error nothing is appended.
pub(crate) fn encode_connect4(
    to: Destination<'_>,
    port: u16,
    user_id: &[u8],
    dst: &mut Vec<u8>,
) -> Result<(), SocksError> {
    let field = |b: &[u8]| b.len() <= 255 && !b.contains(&0);
    if !field(user_id) {
        return Err(SocksError::BadSocks4Field);
    }
    let (address, name) = match to {
        Destination::Ip(IpAddr::V4(ip)) => (ip.octets(), None),
        Destination::Ip(IpAddr::V6(_)) => return Err(SocksError::NotIpv4),
        Destination::Name(name) if name.is_empty() || !field(name.as_bytes()) => {
            return Err(SocksError::BadSocks4Field)
        }
        Destination::Name(name) => ([0, 0, 0, 1], Some(name)),
    };
    dst.extend_from_slice(&[VERSION4, CMD_CONNECT]);
    dst.extend_from_slice(&port.to_be_bytes());
    dst.extend_from_slice(&address);
    dst.extend_from_slice(user_id);
    dst.push(0);
    if let Some(name) = name {
        dst.extend_from_slice(name.as_bytes());
        dst.push(0);
    }
    Ok(())
}

/// Reads a SOCKS4 reply: `Ok(Some(8))` when the tunnel is open after its 8 bytes. Its
/// version byte is 0 (some proxies answer 4); the address and port in it mean nothing
/// for `CONNECT`.
pub(crate) fn read_reply4(buf: &[u8]) -> Result<Option<usize>, SocksError> {
    let Some(&version) = buf.first() else {
        return Ok(None);
    };
    if version != 0 && version != VERSION4 {
        return Err(SocksError::NotSocks4);
    }
    match buf.get(1) {
        None => Ok(None),
        Some(&GRANTED4) => Ok((buf.len() >= 8).then_some(8)),
        Some(&code) if (91..=93).contains(&code) => Err(SocksError::Refused4(code)),
        Some(_) => Err(SocksError::NotSocks4),
    }
}

/// Where the proxy is asked to connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Destination<'a> {
    /// An address the client resolved (`socks5://`).
    Ip(IpAddr),
    /// A host name the proxy resolves (`socks5h://`), as in a URL, without brackets.
    Name(&'a str),
}

/// Appends the greeting: "no authentication", and username/password when `login`.
pub(crate) fn encode_greeting(login: bool, dst: &mut Vec<u8>) {
    if login {
        dst.extend_from_slice(&[VERSION, 2, NO_AUTH, LOGIN]);
    } else {
        dst.extend_from_slice(&[VERSION, 1, NO_AUTH]);
    }
}

/// The method the proxy chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    NoAuth,
    Login,
}

/// Reads the proxy's choice of method, given whether username/password was offered.
pub(crate) fn read_choice(
    buf: &[u8],
    offered_login: bool,
) -> Result<Option<(Method, usize)>, SocksError> {
    let Some(&version) = buf.first() else {
        return Ok(None);
    };
    if version != VERSION {
        return Err(SocksError::NotSocks5);
    }
    let Some(&method) = buf.get(1) else {
        return Ok(None);
    };
    let method = match method {
        NO_AUTH => Method::NoAuth,
        LOGIN if offered_login => Method::Login,
        NO_ACCEPTABLE => return Err(SocksError::NoAcceptableMethod { offered_login }),
        other => return Err(SocksError::UnofferedMethod(other)),
    };
    Ok(Some((method, 2)))
}

/// Appends the username/password request. On error nothing is appended.
pub(crate) fn encode_login(
    username: &[u8],
    password: &[u8],
    dst: &mut Vec<u8>,
) -> Result<(), SocksError> {
    // RFC 1929 asks for at least one byte of each; servers take an empty password, as
    // curl sends one.
    if !(1..=255).contains(&username.len()) || password.len() > 255 {
        return Err(SocksError::BadCredentials);
    }
    dst.extend_from_slice(&[LOGIN_VERSION, username.len() as u8]);
    dst.extend_from_slice(username);
    dst.push(password.len() as u8);
    dst.extend_from_slice(password);
    Ok(())
}

/// Reads the status of the login: `Ok(Some(2))` when it was accepted.
pub(crate) fn read_login_status(buf: &[u8]) -> Result<Option<usize>, SocksError> {
    let Some(&version) = buf.first() else {
        return Ok(None);
    };
    // RFC 1929 says version 1; some servers answer with the SOCKS version.
    if version != LOGIN_VERSION && version != VERSION {
        return Err(SocksError::NotSocks5);
    }
    match buf.get(1) {
        None => Ok(None),
        Some(0) => Ok(Some(2)),
        Some(_) => Err(SocksError::LoginRejected),
    }
}

/// Appends the `CONNECT` request for `to`, `port`. On error nothing is appended.
pub(crate) fn encode_connect(
    to: Destination<'_>,
    port: u16,
    dst: &mut Vec<u8>,
) -> Result<(), SocksError> {
    if let Destination::Name(name) = to {
        if !(1..=255).contains(&name.len()) {
            return Err(SocksError::BadHostName);
        }
    }
    dst.extend_from_slice(&[VERSION, CMD_CONNECT, 0]);
    match to {
        Destination::Ip(IpAddr::V4(ip)) => {
            dst.push(ATYP_V4);
            dst.extend_from_slice(&ip.octets());
        }
        Destination::Ip(IpAddr::V6(ip)) => {
            dst.push(ATYP_V6);
            dst.extend_from_slice(&ip.octets());
        }
        Destination::Name(name) => {
            dst.extend_from_slice(&[ATYP_NAME, name.len() as u8]);
            dst.extend_from_slice(name.as_bytes());
        }
    }
    dst.extend_from_slice(&port.to_be_bytes());
    Ok(())
}

/// Reads the reply to `CONNECT`: `Ok(Some(n))` when the tunnel is open right after the
/// reply's `n` bytes; a refusal is `SocksError::Refused` with its code.
pub(crate) fn read_reply(buf: &[u8]) -> Result<Option<usize>, SocksError> {
    let Some(&version) = buf.first() else {
        return Ok(None);
    };
    if version != VERSION {
        return Err(SocksError::NotSocks5);
    }
    // The code is known before the bound address: a refusal needs no more bytes.
    let Some(&code) = buf.get(1) else {
        return Ok(None);
    };
    if code != 0 {
        return Err(SocksError::Refused(code));
    }
    let (Some(&reserved), Some(&atyp)) = (buf.get(2), buf.get(3)) else {
        return Ok(None);
    };
    if reserved != 0 {
        return Err(SocksError::MalformedReply);
    }
    let address = match atyp {
        ATYP_V4 => 4,
        ATYP_V6 => 16,
        ATYP_NAME => match buf.get(4) {
            Some(&len) => 1 + usize::from(len),
            None => return Ok(None),
        },
        _ => return Err(SocksError::MalformedReply),
    };
    let total = 4 + address + 2;
    Ok((buf.len() >= total).then_some(total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// Every proper prefix of `whole` needs more bytes; `whole` gives `expected`.
    fn check_prefixes<T: PartialEq + fmt::Debug>(
        whole: &[u8],
        read: impl Fn(&[u8]) -> Result<Option<T>, SocksError>,
        expected: T,
    ) {
        for cut in 0..whole.len() {
            assert_eq!(read(&whole[..cut]), Ok(None), "cut at {cut} of {whole:?}");
        }
        assert_eq!(read(whole), Ok(Some(expected)));
    }

    #[test]
    fn socks4_requests_carry_an_ipv4_address_or_a_4a_name_after_the_user_id() {
        let ip = Destination::Ip(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)));
        type Row<'a> = (Destination<'a>, &'a [u8], Result<&'a [u8], SocksError>);
        let rows: &[Row<'_>] = &[
            (ip, b"", Ok(b"\x04\x01\x1f\x90\x0a\x01\x02\x03\x00")),
            (ip, b"bob", Ok(b"\x04\x01\x1f\x90\x0a\x01\x02\x03bob\x00")),
            (
                Destination::Name("example.test"),
                b"bob",
                Ok(b"\x04\x01\x1f\x90\x00\x00\x00\x01bob\x00example.test\x00"),
            ),
            (
                Destination::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
                b"",
                Err(SocksError::NotIpv4),
            ),
            (ip, b"b\x00b", Err(SocksError::BadSocks4Field)),
            (ip, &[b'u'; 256], Err(SocksError::BadSocks4Field)),
            (Destination::Name(""), b"", Err(SocksError::BadSocks4Field)),
            (
                Destination::Name("a\0b"),
                b"",
                Err(SocksError::BadSocks4Field),
            ),
        ];
        for (to, user, expected) in rows {
            let mut out = vec![9];
            let got = encode_connect4(*to, 8080, user, &mut out).map(|()| out[1..].to_vec());
            match expected {
                Ok(bytes) => assert_eq!(got.as_deref(), Ok(*bytes), "{to:?}"),
                Err(e) => {
                    assert_eq!(got, Err(e.clone()), "{to:?}");
                    assert_eq!(out, [9], "nothing appended");
                }
            }
        }
    }

    #[test]
    fn socks4_replies_grant_or_refuse() {
        check_prefixes(&[0, 90, 0, 0, 0, 0, 0, 0], read_reply4, 8);
        check_prefixes(&[4, 90, 1, 2, 3, 4, 5, 6], read_reply4, 8);
        for code in [91, 92, 93] {
            assert_eq!(read_reply4(&[0, code]), Err(SocksError::Refused4(code)));
        }
        assert_eq!(read_reply4(&[5, 0]), Err(SocksError::NotSocks4));
        assert_eq!(read_reply4(b"HTTP/1.1"), Err(SocksError::NotSocks4));
        assert_eq!(read_reply4(&[0, 7]), Err(SocksError::NotSocks4));
    }

    #[test]
    fn greetings_offer_login_only_with_credentials() {
        let mut out = Vec::new();
        encode_greeting(false, &mut out);
        assert_eq!(out, [5, 1, 0]);
        out.clear();
        encode_greeting(true, &mut out);
        assert_eq!(out, [5, 2, 0, 2]);
    }

    #[test]
    fn the_choice_is_read_and_checked_against_the_offer() {
        check_prefixes(&[5, 0], |b| read_choice(b, false), (Method::NoAuth, 2));
        check_prefixes(&[5, 2], |b| read_choice(b, true), (Method::Login, 2));
        assert_eq!(
            read_choice(&[5, 2], false),
            Err(SocksError::UnofferedMethod(2))
        );
        assert_eq!(
            read_choice(&[5, 0xff], false),
            Err(SocksError::NoAcceptableMethod {
                offered_login: false
            })
        );
        assert_eq!(
            read_choice(&[5, 0xff], true),
            Err(SocksError::NoAcceptableMethod {
                offered_login: true
            })
        );
        assert_eq!(
            read_choice(&[5, 1], true),
            Err(SocksError::UnofferedMethod(1))
        );
        // An HTTP server's answer, a SOCKS4 one.
        assert_eq!(
            read_choice(b"HTTP/1.1 400", false),
            Err(SocksError::NotSocks5)
        );
        assert_eq!(read_choice(&[0, 0x5a], false), Err(SocksError::NotSocks5));
    }

    #[test]
    fn logins_are_encoded_with_their_lengths_and_bounded() {
        let mut out = Vec::new();
        encode_login(b"alice", b"s3cret", &mut out).unwrap();
        assert_eq!(out, b"\x01\x05alice\x06s3cret");
        let long = [b'a'; 256];
        for (user, pass) in [(&b""[..], &b"p"[..]), (&long[..], b"p"), (b"u", &long[..])] {
            let mut out = vec![9];
            assert_eq!(
                encode_login(user, pass, &mut out),
                Err(SocksError::BadCredentials)
            );
            assert_eq!(out, [9], "nothing appended");
        }
        encode_login(&long[..255], &long[..255], &mut out).unwrap();
        out.clear();
        encode_login(b"u", b"", &mut out).unwrap();
        assert_eq!(out, b"\x01\x01u\x00");
    }

    #[test]
    fn the_login_status_is_read() {
        check_prefixes(&[1, 0], read_login_status, 2);
        check_prefixes(&[5, 0], read_login_status, 2);
        assert_eq!(read_login_status(&[1, 1]), Err(SocksError::LoginRejected));
        assert_eq!(
            read_login_status(&[1, 0xff]),
            Err(SocksError::LoginRejected)
        );
        assert_eq!(read_login_status(&[4, 0]), Err(SocksError::NotSocks5));
    }

    #[test]
    fn connect_requests_carry_each_kind_of_destination() {
        let mut out = Vec::new();
        encode_connect(
            Destination::Ip(Ipv4Addr::new(127, 0, 0, 1).into()),
            8080,
            &mut out,
        )
        .unwrap();
        assert_eq!(out, [5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x90]);
        out.clear();
        encode_connect(Destination::Ip(Ipv6Addr::LOCALHOST.into()), 443, &mut out).unwrap();
        let mut expected = vec![5, 1, 0, 4];
        expected.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        expected.extend_from_slice(&[1, 0xbb]);
        assert_eq!(out, expected);
        out.clear();
        encode_connect(Destination::Name("example.com"), 80, &mut out).unwrap();
        assert_eq!(out, b"\x05\x01\x00\x03\x0bexample.com\x00\x50");
        let long = "a".repeat(256);
        for name in ["", long.as_str()] {
            let mut out = Vec::new();
            assert_eq!(
                encode_connect(Destination::Name(name), 80, &mut out),
                Err(SocksError::BadHostName)
            );
            assert!(out.is_empty());
        }
    }

    #[test]
    fn replies_are_read_whole_whatever_their_bound_address() {
        check_prefixes(&[5, 0, 0, 1, 127, 0, 0, 1, 0x04, 0x38], read_reply, 10);
        let mut v6 = vec![5, 0, 0, 4];
        v6.extend_from_slice(&[0; 16]);
        v6.extend_from_slice(&[0, 80]);
        check_prefixes(&v6, read_reply, 22);
        check_prefixes(b"\x05\x00\x00\x03\x04host\x00\x50", read_reply, 11);
        // What follows the reply is the tunnel's, and is not counted.
        assert_eq!(
            read_reply(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 80, b'H']),
            Ok(Some(10))
        );
    }

    #[test]
    fn refusals_and_malformed_replies_are_errors() {
        for code in 1..=9u8 {
            assert_eq!(read_reply(&[5, code]), Err(SocksError::Refused(code)));
        }
        assert_eq!(
            SocksError::Refused(5).to_string(),
            "the proxy answered 5: connection refused"
        );
        assert_eq!(read_reply(&[5, 0, 1, 1]), Err(SocksError::MalformedReply));
        assert_eq!(read_reply(&[5, 0, 0, 2]), Err(SocksError::MalformedReply));
        assert_eq!(read_reply(&[4, 0x5a]), Err(SocksError::NotSocks5));
    }
}
