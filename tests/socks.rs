//! SOCKS5 proxies (`socks5://` and `socks5h://`) against a real one on 127.0.0.1:
//! microsocks, which resolves names itself and logs each connection it opens with the
//! host as the client gave it. Plain requests and TLS (to a local rustls server) go
//! through it over kept-alive connections, and HTTP/2 by prior knowledge; its
//! username/password login; its refusals; the environment's `all_proxy`; and raw servers
//! for proxies that misbehave during the handshake. SOCKS4 against Dante (`danted`),
//! and SOCKS4a, which Dante does not speak, against a raw proxy.
//!
//! A missing microsocks or Dante skips its tests, unless `TETHER_REQUIRE_SERVERS` is set.

mod servers;
mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use servers::ServerProcess;
use support::client::{get_text, RefusingResolver};
use support::h2::{H2Script, H2Server};
use support::raw::RawServer;
use support::tls::{TestCa, TlsServer};
use support::{Reply, Script, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn microsocks(test: &str, login: Option<(&str, &str)>) -> Option<ServerProcess> {
    servers::installed("microsocks", "-h", test).then(|| servers::start_microsocks(test, login))
}

/// `scheme://127.0.0.1:PORT` of the proxy.
fn proxy_url(scheme: &str, proxy: &ServerProcess) -> String {
    format!("{scheme}://127.0.0.1:{}", proxy.port())
}

#[tokio::test]
async fn plain_requests_through_socks5h_are_origin_form_on_one_kept_alive_connection() {
    let Some(proxy) = microsocks("socks_plain", None) else {
        return;
    };
    let origin = TestServer::start(Script::new().always(Reply::ok("hello"))).await;
    let resolver = Arc::new(RefusingResolver::default());
    let client = tether::Client::builder()
        .dns_resolver(resolver.clone())
        .proxy(tether::Proxy::all(proxy_url("socks5h", &proxy)).expect("proxy"))
        .build()
        .expect("client");
    let port = origin.addr().port();
    for i in 0..10 {
        let url = format!("http://localhost:{port}/n/{i}?q=1");
        let (status, body) = get_text(&client, &url).await;
        assert_eq!((status, body.as_str()), (200, "hello"));
    }
    // The proxy resolved the name: the client asked its resolver nothing.
    assert_eq!(resolver.calls(), 0);
    proxy.wait_for_log(&format!("connected to localhost:{port}"));
    // The origin saw the client's own requests: origin-form, its Host, no proxy fields.
    let seen = origin.requests();
    assert_eq!(seen.len(), 10);
    assert_eq!(seen[3].target, "/n/3?q=1");
    assert_eq!(
        seen[3].header("host"),
        Some(format!("localhost:{port}").as_str())
    );
    assert_eq!(seen[3].header("proxy-authorization"), None);
    let stats = client.stats();
    assert_eq!(
        (
            stats.connections_opened,
            stats.reuses,
            stats.socks_connections
        ),
        (1, 9, 1),
        "{stats:?}"
    );
    assert_eq!((stats.proxy_connections, stats.proxy_tunnels), (0, 0));
    let host = stats
        .host(&format!("http://localhost:{port}"))
        .expect("the origin is the host");
    assert_eq!(
        host.proxy.as_deref(),
        Some(proxy_url("socks5h", &proxy).as_str())
    );
}

#[tokio::test]
async fn socks5_gives_the_proxy_the_address_the_client_resolved_and_socks5h_the_name() {
    let Some(proxy) = microsocks("socks_resolve", None) else {
        return;
    };
    let origin = TestServer::start(Script::new().always(Reply::ok("hello"))).await;
    let port = origin.addr().port();
    // Only the client knows `origin.test`.
    let client = |scheme: &str| {
        tether::Client::builder()
            .resolve("origin.test", origin.addr())
            .proxy(tether::Proxy::all(proxy_url(scheme, &proxy)).expect("proxy"))
            .build()
            .expect("client")
    };
    let url = format!("http://origin.test:{port}/");
    let local = client("socks5");
    let (status, body) = get_text(&local, &url).await;
    assert_eq!((status, body.as_str()), (200, "hello"));
    proxy.wait_for_log(&format!("connected to 127.0.0.1:{port}"));
    assert_eq!(
        origin.requests()[0].header("host"),
        Some(format!("origin.test:{port}").as_str())
    );
    assert_eq!(local.stats().socks_connections, 1);
    // A URL naming no port: the pin's, as for a direct connection.
    let (status, body) = get_text(&local, "http://origin.test/").await;
    assert_eq!((status, body.as_str()), (200, "hello"));
    assert_eq!(origin.requests()[1].header("host"), Some("origin.test"));

    // The proxy cannot resolve it: a refusal, before anything was sent.
    let remote = client("socks5h");
    let err = remote
        .post(&url)
        .body("not sent")
        .send()
        .await
        .expect_err("the proxy cannot resolve origin.test");
    assert_eq!(err.kind(), tether::ErrorKind::Proxy, "{err}");
    assert!(err.to_string().contains("the proxy answered"), "{err}");
    assert!(err.to_string().contains("origin.test"), "{err}");
    assert!(!err.request_written());
    assert_eq!(origin.requests().len(), 2);
    let stats = remote.stats();
    assert_eq!(
        (stats.connect_errors, stats.open, stats.socks_connections),
        (1, 0, 0),
        "{stats:?}"
    );
}

#[tokio::test]
async fn https_through_socks5_is_one_connection_and_one_handshake_with_the_origins_name() {
    let Some(proxy) = microsocks("socks_tls", None) else {
        return;
    };
    let ca = TestCa::new("socks test CA");
    let server = TlsServer::builder(ca.server_cert(&["localhost"]))
        .start()
        .await;
    let client = tether::Client::builder()
        .add_root_certificate(ca.certificate())
        .proxy(tether::Proxy::https(proxy_url("socks5h", &proxy)).expect("proxy"))
        .build()
        .expect("client");
    for i in 0..5 {
        let (status, body) = get_text(&client, &server.url("localhost", &format!("/{i}"))).await;
        assert_eq!((status, body.as_str()), (200, "hello"));
    }
    let resp = client
        .post(server.url("localhost", "/echo"))
        .body("through socks")
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.text().await.expect("body"), "through socks");
    let seen = server.stats();
    assert_eq!((seen.accepted, seen.full_handshakes()), (1, 1), "{seen:?}");
    assert_eq!(seen.requests, 6);
    assert_eq!(seen.hellos[0].sni.as_deref(), Some("localhost"));
    let stats = client.stats();
    assert_eq!(
        (
            stats.connections_opened,
            stats.reuses,
            stats.socks_connections
        ),
        (1, 5, 1),
        "{stats:?}"
    );
    proxy.wait_for_log(&format!("connected to localhost:{}", server.port()));
}

#[tokio::test]
async fn a_login_is_sent_and_a_wrong_or_missing_one_is_a_proxy_error() {
    let Some(proxy) = microsocks("socks_login", Some(("alice", "s3cret$"))) else {
        return;
    };
    let origin = TestServer::start(Script::new().always(Reply::ok("hello"))).await;
    let url = origin.url("/");
    let via = |proxy_url: String| {
        tether::Client::builder()
            .proxy(tether::Proxy::all(proxy_url).expect("proxy"))
            .build()
            .expect("client")
    };
    let port = proxy.port();
    // The password percent-encoded in the URL, as `basic_auth` gives it.
    for client in [
        via(format!("socks5://alice:s3cret%24@127.0.0.1:{port}")),
        tether::Client::builder()
            .proxy(
                tether::Proxy::all(format!("socks5://127.0.0.1:{port}"))
                    .expect("proxy")
                    .basic_auth("alice", "s3cret$"),
            )
            .build()
            .expect("client"),
    ] {
        let (status, body) = get_text(&client, &url).await;
        assert_eq!((status, body.as_str()), (200, "hello"));
    }
    for (proxy_url, says) in [
        (
            format!("socks5://alice:wrong-pass@127.0.0.1:{port}"),
            "rejected the username and password",
        ),
        (
            format!("socks5://127.0.0.1:{port}"),
            "requires authentication",
        ),
    ] {
        let client = via(proxy_url);
        let err = client.get(&url).send().await.expect_err("no login");
        assert_eq!(err.kind(), tether::ErrorKind::Proxy, "{err}");
        assert!(err.to_string().contains(says), "{err}");
        assert!(!err.to_string().contains("wrong-pass"), "{err}");
        assert!(!err.request_written());
    }
    assert_eq!(origin.requests().len(), 2);
}

#[tokio::test]
async fn a_destination_the_proxy_cannot_reach_is_a_proxy_error_naming_its_reply() {
    let Some(proxy) = microsocks("socks_refused", None) else {
        return;
    };
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let client = tether::Client::builder()
        .proxy(tether::Proxy::all(proxy_url("socks5", &proxy)).expect("proxy"))
        .build()
        .expect("client");
    for url in [format!("http://{addr}/"), format!("https://{addr}/")] {
        let err = client.get(&url).send().await.expect_err("refused");
        assert_eq!(err.kind(), tether::ErrorKind::Proxy, "{err}");
        assert!(err.to_string().contains("the proxy answered"), "{err}");
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    }
    assert_eq!(client.stats().socks_connections, 0);
}

#[tokio::test]
async fn http2_by_prior_knowledge_goes_through_socks5_as_through_a_tunnel() {
    let Some(proxy) = microsocks("socks_h2", None) else {
        return;
    };
    let server = H2Server::start(H2Script::default()).await;
    let client = tether::Client::builder()
        .http2_prior_knowledge()
        .proxy(tether::Proxy::all(proxy_url("socks5h", &proxy)).expect("proxy"))
        .build()
        .expect("client");
    let url = server.url("localhost", "/");
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move { client.get(url).send().await?.text().await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.expect("task").expect("GET"), "ok");
    }
    // One HTTP/2 connection, through the proxy, for all four.
    assert_eq!(server.stats().connections, 1);
    let stats = client.stats();
    assert_eq!(
        (stats.http2_connections_opened, stats.socks_connections),
        (1, 1),
        "{stats:?}"
    );
    proxy.wait_for_log("connected to localhost:");
}

/// Run only as a child of `all_proxy_in_the_environment_may_name_a_socks5_proxy`: GETs
/// `TETHER_CHILD_URL` with a default client, which must go through a SOCKS5 proxy.
#[tokio::test]
#[ignore = "a child process of the environment test, with the environment it sets"]
async fn child_with_a_socks_environment() {
    let url = std::env::var("TETHER_CHILD_URL").expect("TETHER_CHILD_URL");
    let client = tether::Client::new();
    let (status, body) = get_text(&client, &url).await;
    assert_eq!((status, body.as_str()), (200, "hello"));
    let stats = client.stats();
    assert_eq!(
        (stats.socks_connections, stats.proxy_connections),
        (1, 0),
        "{stats:?}"
    );
}

#[tokio::test]
async fn all_proxy_in_the_environment_may_name_a_socks5_proxy() {
    let Some(proxy) = microsocks("socks_env", Some(("env", "pass"))) else {
        return;
    };
    let origin = TestServer::start(Script::new().always(Reply::ok("hello"))).await;
    let port = origin.addr().port();
    let exe = std::env::current_exe().expect("test binary");
    let mut child = std::process::Command::new(exe);
    child
        .args(["child_with_a_socks_environment", "--exact", "--ignored"])
        .env("TETHER_CHILD_URL", format!("http://localhost:{port}/"));
    for name in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
    ] {
        child.env_remove(name);
    }
    child.env(
        "all_proxy",
        format!("socks5h://env:pass@127.0.0.1:{}", proxy.port()),
    );
    let out = tokio::task::spawn_blocking(move || child.output())
        .await
        .expect("task")
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    proxy.wait_for_log(&format!("connected to localhost:{port}"));
}

// --- proxies that misbehave during the handshake (raw servers) ----------------------------

type Serve = fn(tokio::net::TcpStream) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// Reads the greeting (3 bytes: no authentication offered), answers "no authentication",
/// reads the request (for an IPv4 address: 10 bytes), then writes `reply`, and holds the
/// connection for a while.
async fn answer_request(mut stream: tokio::net::TcpStream, reply: &'static [u8]) {
    let mut greeting = [0; 3];
    if stream.read_exact(&mut greeting).await.is_err() || greeting != [5, 1, 0] {
        return;
    }
    let _ = stream.write_all(&[5, 0]).await;
    let mut request = [0; 10];
    if stream.read_exact(&mut request).await.is_err() {
        return;
    }
    let _ = stream.write_all(reply).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn proxies_that_do_not_speak_socks5_or_break_it_off_are_proxy_errors() {
    let cases: [(&str, Serve); 5] = [
        ("does not speak SOCKS5", |mut stream| {
            Box::pin(async move {
                let _ = stream
                    .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    .await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            })
        }),
        ("closed the connection", |mut stream| {
            Box::pin(async move {
                let mut greeting = [0; 3];
                let _ = stream.read_exact(&mut greeting).await;
            })
        }),
        ("bytes followed", |stream| {
            Box::pin(answer_request(
                stream,
                b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x50HTTP",
            ))
        }),
        ("malformed", |stream| {
            Box::pin(answer_request(stream, b"\x05\x00\x00\x09\x00\x00"))
        }),
        ("not allowed by ruleset", |stream| {
            Box::pin(answer_request(
                stream,
                b"\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00",
            ))
        }),
    ];
    for (says, serve) in cases {
        let proxy = RawServer::start(move |stream, _| serve(stream)).await;
        let client = tether::Client::builder()
            .proxy(tether::Proxy::all(format!("socks5://{}", proxy.addr())).expect("proxy"))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("client");
        let err = client
            .get("http://127.0.0.1:9/")
            .send()
            .await
            .expect_err("no tunnel");
        assert_eq!(err.kind(), tether::ErrorKind::Proxy, "{says}: {err}");
        assert!(err.to_string().contains(says), "{says}: {err}");
    }
}

#[tokio::test]
async fn a_proxy_that_never_answers_times_out_within_the_connect_timeout() {
    let proxy = RawServer::start(|stream, _| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(stream);
    })
    .await;
    let client = tether::Client::builder()
        .proxy(tether::Proxy::all(format!("socks5h://{}", proxy.addr())).expect("proxy"))
        .connect_timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let err = client
        .get("http://origin.test/")
        .send()
        .await
        .expect_err("silent");
    assert!(err.is_timeout(), "{err}");
    assert!(err.to_string().contains("origin.test:80"), "{err}");
}

// --- SOCKS4 and 4a ----------------------------------------------------------------------

fn dante(test: &str) -> Option<ServerProcess> {
    servers::installed("danted", "-v", test).then(|| servers::start_dante(test))
}

/// `socks4://` through Dante: the client resolves the name (pinned here, which only it
/// knows) and gives the proxy the IPv4 address; plain requests go over one kept-alive
/// connection and TLS to a rustls origin through one tunnel; a destination the proxy
/// refuses is a `Proxy` error with SOCKS4's code, nothing sent; of a name's addresses the
/// first IPv4 one is asked for, and a name with only IPv6 ones cannot be.
#[tokio::test]
async fn socks4_through_dante_gives_the_proxy_an_ipv4_address() {
    let Some(proxy) = dante("socks4_dante") else {
        return;
    };
    let origin = TestServer::start(Script::new().always(Reply::ok("hello"))).await;
    let port = origin.addr().port();
    let client = tether::Client::builder()
        .resolve("origin.test", origin.addr())
        .resolve("v6.test", "[::1]:8080".parse().unwrap())
        .resolve_to_addrs(
            "both.test",
            &[format!("[::1]:{port}").parse().unwrap(), origin.addr()],
        )
        .proxy(tether::Proxy::all(proxy_url("socks4", &proxy)).expect("proxy"))
        .build()
        .expect("client");
    for i in 0..5 {
        let (status, body) = get_text(&client, &format!("http://origin.test:{port}/{i}")).await;
        assert_eq!((status, body.as_str()), (200, "hello"));
    }
    proxy.wait_for_log(&format!("127.0.0.1.{port}"));
    assert_eq!(
        origin.requests()[4].header("host"),
        Some(format!("origin.test:{port}").as_str())
    );
    let stats = client.stats();
    assert_eq!(
        (
            stats.connections_opened,
            stats.reuses,
            stats.socks_connections
        ),
        (1, 4, 1),
        "{stats:?}"
    );

    let ca = TestCa::new("socks4 CA");
    let tls = TlsServer::builder(ca.server_cert(&["localhost"]))
        .start()
        .await;
    let tls_client = tether::Client::builder()
        .add_root_certificate(ca.certificate())
        .proxy(tether::Proxy::all(proxy_url("socks4", &proxy)).expect("proxy"))
        .build()
        .expect("client");
    for _ in 0..3 {
        let (status, body) = get_text(&tls_client, &tls.url("localhost", "/")).await;
        assert_eq!((status, body.as_str()), (200, "hello"));
    }
    assert_eq!(tls.stats().sessions.len(), 1, "one handshake");

    let err = client
        .post("http://127.0.0.1:9/")
        .body("not sent")
        .send()
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), tether::ErrorKind::Proxy, "{err}");
    assert!(err.to_string().contains("the proxy answered 91"), "{err}");
    assert!(!err.request_written());

    // An IPv6 address first: the IPv4 one is asked for.
    let (status, _) = get_text(&client, &format!("http://both.test:{port}/")).await;
    assert_eq!(status, 200);
    let err = client
        .get("http://v6.test:8080/")
        .send()
        .await
        .expect_err("IPv6 only");
    assert_eq!(err.kind(), tether::ErrorKind::Proxy, "{err}");
    assert!(err.to_string().contains("IPv4 addresses only"), "{err}");
}

/// `socks4a://` (which Dante does not speak, so a raw proxy here that then serves the
/// origin itself on the tunnel): the request carries the URL's user as its user id and
/// the host name after it, behind the address 0.0.0.1; the client resolves nothing. An
/// IPv4 literal goes as an address.
#[tokio::test]
async fn socks4a_gives_the_proxy_the_name_and_the_user_id() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorded = seen.clone();
    let proxy = RawServer::start(move |mut stream, _| {
        let seen = recorded.clone();
        async move {
            // The request: 8 bytes, then the user id and maybe the name, each NUL-ended.
            let mut request = vec![0u8; 8];
            if stream.read_exact(&mut request).await.is_err() {
                return;
            }
            let ends = if request[4..7] == [0, 0, 0] { 2 } else { 1 };
            let mut nuls = 0;
            while nuls < ends {
                let mut byte = [0u8; 1];
                if stream.read_exact(&mut byte).await.is_err() {
                    return;
                }
                nuls += usize::from(byte[0] == 0);
                request.push(byte[0]);
            }
            seen.lock().unwrap().push(request);
            let _ = stream.write_all(&[0, 90, 0, 0, 0, 0, 0, 0]).await;
            support::raw::read_head(&mut stream).await;
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
                .await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    })
    .await;
    let resolver = Arc::new(RefusingResolver::default());
    let client = tether::Client::builder()
        .dns_resolver(resolver.clone())
        .proxy(tether::Proxy::all(format!("socks4a://alice@{}", proxy.addr())).expect("proxy"))
        .build()
        .expect("client");
    for url in ["http://origin.test:8080/", "http://10.1.2.3:80/"] {
        let (status, body) = get_text(&client, url).await;
        assert_eq!((status, body.as_str()), (200, "hello"), "{url}");
    }
    assert_eq!(resolver.calls(), 0);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            b"\x04\x01\x1f\x90\x00\x00\x00\x01alice\x00origin.test\x00".to_vec(),
            b"\x04\x01\x00\x50\x0a\x01\x02\x03alice\x00".to_vec(),
        ]
    );
    assert_eq!(client.stats().socks_connections, 2);
}
