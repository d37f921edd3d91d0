//! Proxies (DESIGN.md §1b "Proxies") against real ones on 127.0.0.1: nginx as a forward
//! proxy for plain HTTP (it keeps client connections alive, so reuse through a proxy
//! shows), tinyproxy for plain requests, CONNECT tunnels (with TLS to a local rustls
//! server inside) and basic auth, and raw servers for proxies that misbehave during
//! CONNECT. The environment's variables are tested in child processes of this binary.
//!
//! A missing nginx or tinyproxy skips its tests, unless `TETHER_REQUIRE_SERVERS` is set.

mod servers;
mod support;

use std::sync::Arc;
use std::time::Duration;

use servers::ServerProcess;
use support::client::{get_text, RefusingResolver};
use support::h2::{H2Script, H2Server};
use support::raw::{read_head, RawServer};
use support::tls::{IdleAction, TestCa, TlsServer};
use support::{Reply, Script, TestServer};
use tokio::io::AsyncWriteExt;

fn nginx_proxy(test: &str) -> Option<ServerProcess> {
    servers::installed("nginx", "-v", test).then(|| servers::start_nginx_forward_proxy(test))
}

fn tinyproxy(test: &str, basic_auth: Option<(&str, &str)>) -> Option<ServerProcess> {
    servers::installed("tinyproxy", "-v", test).then(|| servers::start_tinyproxy(test, basic_auth))
}

/// `http://127.0.0.1:PORT` of a proxy process.
fn proxy_url(proxy: &ServerProcess) -> String {
    proxy.url("")
}

/// A client that sends `http://` requests through `proxy`.
fn http_client_via(proxy: &ServerProcess) -> tether::Client {
    tether::Client::builder()
        .proxy(tether::Proxy::http(proxy_url(proxy)).expect("proxy"))
        .build()
        .expect("client")
}

// --- plain HTTP through a proxy -----------------------------------------------------------

#[tokio::test]
async fn plain_gets_through_nginx_go_in_absolute_form_over_one_kept_alive_connection() {
    let Some(proxy) = nginx_proxy("proxy_nginx_reuse") else {
        return;
    };
    let origin = TestServer::start(Script::new().always(Reply::ok("hello"))).await;
    let client = http_client_via(&proxy);
    for i in 0..20 {
        let (status, body) = get_text(&client, &origin.url(&format!("/n/{i}?q=1"))).await;
        assert_eq!((status, body.as_str()), (200, "hello"));
    }
    let lines = servers::parse_nginx_proxy_log(&proxy.wait_log_lines(20));
    let port = origin.addr().port();
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(
            line.connection, lines[0].connection,
            "one client connection: {lines:#?}"
        );
        assert_eq!(line.connection_requests, i as u64 + 1);
        assert_eq!(
            line.request,
            format!("GET http://127.0.0.1:{port}/n/{i}?q=1 HTTP/1.1"),
            "absolute-form"
        );
    }
    let stats = client.stats();
    assert_eq!(stats.connections_opened, 1, "{stats:?}");
    assert_eq!((stats.proxy_connections, stats.proxy_tunnels), (1, 0));
    assert_eq!(stats.reuses, 19);
    let host = stats
        .host(&format!("http://127.0.0.1:{port}"))
        .expect("the origin is the host");
    assert_eq!(host.proxy.as_deref(), Some(proxy_url(&proxy).as_str()));
    // The origin saw what nginx sent it: origin-form, its own Host.
    let seen = origin.requests();
    assert_eq!(seen.len(), 20);
    assert_eq!(seen[3].target, "/n/3?q=1");
    assert_eq!(
        seen[3].header("host"),
        Some(format!("127.0.0.1:{port}").as_str())
    );
}

#[tokio::test]
async fn caps_through_a_proxy_stay_per_origin_and_all_of_it_within_the_global_cap() {
    let Some(proxy) = nginx_proxy("proxy_nginx_caps") else {
        return;
    };
    // A body larger than what arrives with the head: a response held unread keeps its
    // connection in use.
    let big = vec![b'x'; 4 << 20];
    let a = TestServer::start(Script::new().always(Reply::ok(big.clone()))).await;
    let b = TestServer::start(Script::new().always(Reply::ok(big))).await;
    let client = tether::Client::builder()
        .proxy(tether::Proxy::all(proxy_url(&proxy)).expect("proxy"))
        .max_connections_per_host(2)
        .max_connections_total(3)
        .build()
        .expect("client");
    let send = |url: String| {
        let client = client.clone();
        async move { client.get(&url).send().await.expect("response head") }
    };
    let held_a1 = send(a.url("/1")).await;
    let held_a2 = send(a.url("/2")).await;
    let waiting_a = tokio::spawn(send(a.url("/3")));
    let held_b1 = send(b.url("/1")).await;
    let waiting_b = tokio::spawn(send(b.url("/2")));
    support::eventually("two waiters", || client.stats().waiters == 2).await;
    let stats = client.stats();
    assert_eq!(stats.open, 3, "the global cap: {stats:?}");
    let host_a = stats.host(&format!("http://127.0.0.1:{}", a.addr().port()));
    let host_b = stats.host(&format!("http://127.0.0.1:{}", b.addr().port()));
    let (host_a, host_b) = (host_a.expect("a"), host_b.expect("b"));
    assert_eq!(
        (host_a.open, host_a.waiters),
        (2, 1),
        "per origin: {stats:?}"
    );
    assert_eq!((host_b.open, host_b.waiters), (1, 1), "{stats:?}");
    assert!(host_a.proxy.is_some() && host_b.proxy.is_some());
    // Released bodies let the waiters in; everything completes within the caps.
    for held in [held_a1, held_a2, held_b1] {
        assert_eq!(held.bytes().await.expect("body").len(), 4 << 20);
    }
    for waiting in [waiting_a, waiting_b] {
        let resp = waiting.await.expect("task");
        assert_eq!(resp.bytes().await.expect("body").len(), 4 << 20);
    }
    let stats = client.stats();
    assert!(stats.connections_opened <= 4, "{stats:?}");
    assert_eq!(stats.proxy_connections, stats.connections_opened);
}

#[tokio::test]
async fn an_origins_lowered_cap_closes_its_idle_connections_to_the_proxy_at_once() {
    let Some(proxy) = nginx_proxy("proxy_nginx_lowered_cap") else {
        return;
    };
    // Each answer comes a byte every 50 ms, so three requests at once take three
    // connections to the proxy.
    let origin = TestServer::start(Script::new().always(Reply::Drip {
        head: b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n".to_vec(),
        body: b"ok".to_vec(),
        every: Duration::from_millis(50),
    }))
    .await;
    let client = tether::Client::builder()
        .proxy(tether::Proxy::http(proxy_url(&proxy)).expect("proxy"))
        .max_connections_per_host(3)
        .build()
        .expect("client");
    let mut gets = tokio::task::JoinSet::new();
    for i in 0..3 {
        let (client, url) = (client.clone(), origin.url(&format!("/{i}")));
        gets.spawn(async move { get_text(&client, &url).await });
    }
    while let Some(got) = gets.join_next().await {
        let (status, body) = got.expect("task");
        assert_eq!((status, body.as_str()), (200, "ok"));
    }
    let stats = client.stats();
    assert_eq!((stats.open, stats.idle, stats.proxy_connections), (3, 3, 3));
    // The origin's cap lowered to 1: two of its connections to the proxy close before
    // the call returns.
    client
        .set_max_connections_for_host(origin.url("/"), Some(1))
        .expect("cap");
    let stats = client.stats();
    assert_eq!((stats.open, stats.idle), (1, 1), "{stats:?}");
    assert_eq!(stats.closed_over_idle_limit, 2, "{stats:?}");
    let (status, body) = get_text(&client, &origin.url("/again")).await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    assert_eq!(client.stats().proxy_connections, 3, "the one left is used");
}

#[tokio::test]
async fn plain_requests_through_tinyproxy_succeed_although_it_closes_after_each() {
    let Some(proxy) = tinyproxy("proxy_tinyproxy_plain", None) else {
        return;
    };
    let origin = TestServer::start(Script::new().always(Reply::ok("hello"))).await;
    let client = http_client_via(&proxy);
    for i in 0..10 {
        let (status, body) = get_text(&client, &origin.url(&format!("/{i}"))).await;
        assert_eq!((status, body.as_str()), (200, "hello"), "GET {i}");
    }
    let stats = client.stats();
    assert_eq!(origin.stats().requests, 10);
    // tinyproxy answers HTTP/1.1 without `Connection: close`, then closes: each close is
    // found before reuse (or met and the GET retried; or, on a slow machine, the
    // connection outlives the idle time learned from those closes), never returned. Once
    // two closes after one response agree, connections are closed after their response
    // (`expired_learned_max`) rather than kept for the proxy to close: then the last one
    // too, which without that would be left idle.
    assert_eq!(
        stats.proxy_connections, stats.connections_opened,
        "{stats:?}"
    );
    assert_eq!(stats.connections_opened, 10, "{stats:?}");
    let ended = stats.idle_closed_by_server
        + stats.retries_close_race
        + stats.expired_learned_timeout
        + stats.expired_learned_max;
    assert!(
        ended == 9 || (ended == 10 && stats.expired_learned_max > 0),
        "{stats:?}"
    );
    proxy.wait_for_log(&format!("GET http://127.0.0.1:{}/9", origin.addr().port()));
}

#[tokio::test]
async fn the_proxy_resolves_the_origin_name_not_the_client() {
    let Some(proxy) = tinyproxy("proxy_tinyproxy_names", None) else {
        return;
    };
    let origin = TestServer::start(Script::new().always(Reply::ok("hello"))).await;
    let resolver = Arc::new(RefusingResolver::default());
    let client = tether::Client::builder()
        .dns_resolver(resolver.clone())
        .proxy(tether::Proxy::all(proxy_url(&proxy)).expect("proxy"))
        .build()
        .expect("client");
    let url = format!("http://localhost:{}/named", origin.addr().port());
    let (status, body) = get_text(&client, &url).await;
    assert_eq!((status, body.as_str()), (200, "hello"));
    assert_eq!(resolver.calls(), 0);
    assert_eq!(client.stats().dns_lookups, 0);
    assert_eq!(
        origin.requests()[0].header("host"),
        Some(&url[7..url.len() - 6])
    );
}

// --- HTTPS through a CONNECT tunnel -------------------------------------------------------

/// A TLS server with a certificate for `name` from a new CA, and a client that trusts the
/// CA and sends https requests through `proxy`.
async fn tls_server_and_client_via(
    proxy: &ServerProcess,
    name: &str,
) -> (TlsServer, tether::Client) {
    let ca = TestCa::new("proxy test CA");
    let server = TlsServer::builder(ca.server_cert(&[name])).start().await;
    let client = tether::Client::builder()
        .add_root_certificate(ca.certificate())
        .proxy(tether::Proxy::https(proxy_url(proxy)).expect("proxy"))
        .build()
        .expect("client");
    (server, client)
}

#[tokio::test]
async fn https_through_tinyproxy_is_one_tunnel_and_one_handshake_for_many_requests() {
    let Some(proxy) = tinyproxy("proxy_tinyproxy_tunnel", None) else {
        return;
    };
    let (server, client) = tls_server_and_client_via(&proxy, "localhost").await;
    for i in 0..10 {
        let (status, body) = get_text(&client, &server.url("localhost", &format!("/{i}"))).await;
        assert_eq!((status, body.as_str()), (200, "hello"));
    }
    let resp = client
        .post(server.url("localhost", "/echo"))
        .body("through the tunnel")
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.text().await.expect("body"), "through the tunnel");
    let seen = server.stats();
    assert_eq!(seen.accepted, 1, "{seen:?}");
    assert_eq!(seen.full_handshakes(), 1);
    assert_eq!(seen.requests, 11);
    // The origin's name for SNI (and the certificate checked against it), inside the tunnel.
    assert_eq!(seen.hellos[0].sni.as_deref(), Some("localhost"));
    let stats = client.stats();
    assert_eq!(
        (stats.connections_opened, stats.reuses),
        (1, 10),
        "{stats:?}"
    );
    assert_eq!((stats.proxy_tunnels, stats.proxy_connections), (1, 0));
    proxy.wait_for_log(&format!("CONNECT localhost:{}", server.port()));
}

#[tokio::test]
async fn a_certificate_for_another_name_fails_inside_the_tunnel_too() {
    let Some(proxy) = tinyproxy("proxy_tinyproxy_tls_name", None) else {
        return;
    };
    let (server, client) = tls_server_and_client_via(&proxy, "other.test").await;
    let err = client
        .get(server.url("localhost", "/"))
        .send()
        .await
        .expect_err("the name does not match");
    assert_eq!(err.kind(), tether::ErrorKind::Tls, "{err}");
    assert_eq!(client.stats().proxy_tunnels, 0);
}

// --- basic auth ------------------------------------------------------------------------

#[tokio::test]
async fn proxy_credentials_are_accepted_and_their_absence_is_refused_with_407() {
    let Some(proxy) = tinyproxy("proxy_tinyproxy_auth", Some(("alice", "s3cret"))) else {
        return;
    };
    let ca = TestCa::new("proxy test CA");
    let tls = TlsServer::builder(ca.server_cert(&["localhost"]))
        .start()
        .await;
    let origin = TestServer::start(Script::new().always(Reply::ok("hello"))).await;
    let client_with = |proxy_url: &str| {
        tether::Client::builder()
            .add_root_certificate(ca.certificate())
            .proxy(tether::Proxy::all(proxy_url).expect("proxy"))
            .build()
            .expect("client")
    };
    let port = proxy.port();

    // Accepted: from the URL's userinfo (percent-encoded), or from basic_auth.
    let good = client_with(&format!("http://alice:s3%63ret@127.0.0.1:{port}"));
    assert_eq!(
        get_text(&good, &origin.url("/a")).await,
        (200, "hello".into())
    );
    assert_eq!(
        get_text(&good, &tls.url("localhost", "/a")).await,
        (200, "hello".into())
    );
    let also_good = tether::Client::builder()
        .add_root_certificate(ca.certificate())
        .proxy(
            tether::Proxy::all(proxy_url(&proxy))
                .expect("proxy")
                .basic_auth("alice", "s3cret"),
        )
        .build()
        .expect("client");
    assert_eq!(
        get_text(&also_good, &tls.url("localhost", "/b")).await,
        (200, "hello".into())
    );

    // Refused: a plain request gets the proxy's answer (407 without credentials; 401 is
    // tinyproxy's answer to wrong ones); a tunnel is an error of kind Proxy carrying it.
    for (label, client, status, says) in [
        (
            "no credentials",
            client_with(&proxy_url(&proxy)),
            407,
            "proxy authentication required",
        ),
        (
            "a wrong password",
            client_with(&format!("http://alice:wrong-pw@127.0.0.1:{port}")),
            401,
            "the proxy refused the tunnel",
        ),
    ] {
        let resp = client
            .get(origin.url("/refused"))
            .send()
            .await
            .expect(label);
        assert_eq!(resp.status(), status, "{label}");
        let err = client
            .get(tls.url("localhost", "/refused"))
            .send()
            .await
            .expect_err(label);
        assert_eq!(err.kind(), tether::ErrorKind::Proxy, "{label}: {err}");
        assert!(err.is_proxy());
        assert_eq!(
            err.status().map(|s| s.as_u16()),
            Some(status),
            "{label}: {err}"
        );
        let shown = format!("{err} {err:?}");
        assert!(shown.contains(says), "{shown}");
        assert!(
            !shown.contains("wrong-pw") && !shown.contains("s3cret"),
            "{shown}"
        );
        assert!(!err.request_written(), "nothing of the request went out");
    }
    assert_eq!(
        origin.requests().len(),
        1,
        "refused requests never reached the origin"
    );
}

// --- no_proxy ----------------------------------------------------------------------------

#[tokio::test]
async fn hosts_in_no_proxy_are_reached_directly() {
    let Some(proxy) = tinyproxy("proxy_tinyproxy_bypass", None) else {
        return;
    };
    let proxied = TestServer::start(Script::new().always(Reply::ok("via proxy"))).await;
    let direct = TestServer::start_on("127.0.0.2", Script::new().always(Reply::ok("direct"))).await;
    let client = tether::Client::builder()
        .proxy(
            tether::Proxy::all(proxy_url(&proxy))
                .expect("proxy")
                .no_proxy(tether::NoProxy::from_string("localhost, 127.0.0.2")),
        )
        .build()
        .expect("client");
    assert_eq!(get_text(&client, &direct.url("/")).await.1, "direct");
    let stats = client.stats();
    assert_eq!(stats.proxy_connections, 0, "{stats:?}");
    assert_eq!(stats.hosts[0].proxy, None);
    assert_eq!(get_text(&client, &proxied.url("/")).await.1, "via proxy");
    assert_eq!(client.stats().proxy_connections, 1);
    let lines = proxy.wait_for_log(&format!("127.0.0.1:{}", proxied.addr().port()));
    let direct_port = format!(":{}", direct.addr().port());
    assert!(
        !lines.iter().any(|l| l.contains(&direct_port)),
        "the bypassed host went through the proxy: {lines:#?}"
    );
}

// --- https:// proxies: TLS to the proxy ---------------------------------------------------

/// A TLS front on 127.0.0.1 for the plain proxy `behind`, with a certificate for
/// `proxy.test` from `ca`: together, an `https://` proxy.
async fn tls_front(ca: &TestCa, behind: &ServerProcess) -> TlsServer {
    let behind = std::net::SocketAddr::from(([127, 0, 0, 1], behind.port()));
    TlsServer::builder(ca.server_cert(&["proxy.test"]))
        .forward_to(behind)
        .start()
        .await
}

/// A client trusting `ca`, with `https://proxy.test:PORT` (the front) as its proxy for
/// every request, `proxy.test` pinned to the front's address.
fn client_via_tls_front(ca: &TestCa, front: &TlsServer) -> tether::Client {
    let port = front.port();
    tether::Client::builder()
        .add_root_certificate(ca.certificate())
        .resolve("proxy.test", ([127, 0, 0, 1], port).into())
        .proxy(tether::Proxy::all(format!("https://proxy.test:{port}")).expect("proxy"))
        .build()
        .expect("client")
}

#[tokio::test]
async fn an_https_proxy_is_spoken_to_over_tls_and_keeps_plain_requests_on_one_connection() {
    let Some(proxy) = nginx_proxy("proxy_https_plain") else {
        return;
    };
    let ca = TestCa::new("https proxy CA");
    let front = tls_front(&ca, &proxy).await;
    let origin = TestServer::start(Script::new().always(Reply::ok("hello"))).await;
    let client = client_via_tls_front(&ca, &front);
    for i in 0..10 {
        let (status, body) = get_text(&client, &origin.url(&format!("/n/{i}"))).await;
        assert_eq!((status, body.as_str()), (200, "hello"));
    }
    // One TLS connection to the proxy, under its name, offering HTTP/1.1 alone (the
    // client's own configuration offers h2 too).
    let seen = front.stats();
    assert_eq!((seen.accepted, seen.full_handshakes()), (1, 1), "{seen:?}");
    assert_eq!(seen.hellos[0].sni.as_deref(), Some("proxy.test"));
    assert_eq!(seen.hellos[0].alpn, ["http/1.1"]);
    // Inside it, absolute-form requests, all on one connection of nginx's.
    let lines = servers::parse_nginx_proxy_log(&proxy.wait_log_lines(10));
    let port = origin.addr().port();
    assert!(
        lines.iter().all(|l| l.connection == lines[0].connection),
        "{lines:#?}"
    );
    assert_eq!(
        lines[9].request,
        format!("GET http://127.0.0.1:{port}/n/9 HTTP/1.1")
    );
    let stats = client.stats();
    assert_eq!(
        (
            stats.connections_opened,
            stats.reuses,
            stats.proxy_connections
        ),
        (1, 9, 1),
        "{stats:?}"
    );
    let host = stats
        .host(&format!("http://127.0.0.1:{port}"))
        .expect("the origin is the host");
    let expected = format!("https://proxy.test:{}", front.port());
    assert_eq!(host.proxy.as_deref(), Some(expected.as_str()));
}

/// Through an `https://` proxy to an `https://` origin whose server does `action` to a
/// connection idle for 20 ms: returns the client's statistics after two GETs with a
/// pause between them, and checks that both went through one tunnel each.
async fn tls_inside_tls(test: &str, action: Option<IdleAction>) -> Option<tether::Stats> {
    let proxy = tinyproxy(test, None)?;
    let ca = TestCa::new("https proxy CA");
    let front = tls_front(&ca, &proxy).await;
    let mut origin = TlsServer::builder(ca.server_cert(&["localhost"]));
    if let Some(action) = action {
        origin = origin.when_idle(Duration::from_millis(20), action);
    }
    let origin = origin.start().await;
    let client = client_via_tls_front(&ca, &front);
    let (status, body) = get_text(&client, &origin.url("localhost", "/a")).await;
    assert_eq!((status, body.as_str()), (200, "hello"));
    if action.is_some() {
        origin.wait_until(|s| s.idle_actions == 1).await;
        // What the origin sent still has tinyproxy and the front to pass before the
        // client's socket has it; nothing tells when it got there, and under a loaded
        // run that took longer than the next line.
        tokio::time::sleep(Duration::from_millis(200)).await;
    } else {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let resp = client
        .post(origin.url("localhost", "/echo"))
        .body("inside two TLS sessions")
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.text().await.expect("body"), "inside two TLS sessions");
    // The origin's handshakes were under its own name, inside the proxy's TLS.
    let seen = origin.stats();
    assert!(
        seen.hellos
            .iter()
            .all(|h| h.sni.as_deref() == Some("localhost")),
        "{seen:?}"
    );
    assert_eq!(seen.requests, 2);
    assert!(front
        .stats()
        .hellos
        .iter()
        .all(|h| h.sni.as_deref() == Some("proxy.test")));
    proxy.wait_for_log(&format!("CONNECT localhost:{}", origin.port()));
    Some(client.stats())
}

#[tokio::test]
async fn https_through_an_https_proxy_is_tls_inside_tls_and_is_reused() {
    let Some(stats) = tls_inside_tls("proxy_https_tunnel", None).await else {
        return;
    };
    // Idle past the probe's trust, the connection was probed through both sessions and
    // found alive.
    assert_eq!(
        (stats.connections_opened, stats.reuses, stats.proxy_tunnels),
        (1, 1, 1),
        "{stats:?}"
    );
}

#[tokio::test]
async fn an_origins_close_notify_inside_an_https_proxy_tunnel_is_seen_before_reuse() {
    let Some(stats) = tls_inside_tls("proxy_https_close", Some(IdleAction::CloseNotify)).await
    else {
        return;
    };
    assert_eq!(
        (
            stats.connections_opened,
            stats.idle_closed_by_server,
            stats.reuses
        ),
        (2, 1, 0),
        "{stats:?}"
    );
    assert_eq!(stats.retries_close_race + stats.retries_nothing_written, 0);
}

#[tokio::test]
async fn an_origins_key_update_inside_an_https_proxy_tunnel_leaves_it_alive() {
    let Some(stats) = tls_inside_tls("proxy_https_key_update", Some(IdleAction::KeyUpdate)).await
    else {
        return;
    };
    assert_eq!(
        (
            stats.connections_opened,
            stats.idle_closed_by_server,
            stats.reuses
        ),
        (1, 0, 1),
        "{stats:?}"
    );
}

#[tokio::test]
async fn http2_chosen_by_an_origin_inside_an_https_proxy_tunnel_is_spoken_there() {
    let Some(proxy) = tinyproxy("proxy_https_h2", None) else {
        return;
    };
    let ca = TestCa::new("https proxy CA");
    let front = tls_front(&ca, &proxy).await;
    let origin = H2Server::start(H2Script {
        tls: Some((ca.server_cert(&["localhost"]), vec![b"h2".to_vec()])),
        ..H2Script::default()
    })
    .await;
    let client = client_via_tls_front(&ca, &front);
    let url = origin.url("localhost", "/");
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let resp = client.get(url).send().await?;
                assert_eq!(resp.version(), http::Version::HTTP_2);
                resp.text().await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.expect("task").expect("GET"), "ok");
    }
    assert_eq!(origin.stats().connections, 1);
    let stats = client.stats();
    assert_eq!(
        (stats.http2_connections_opened, stats.proxy_tunnels),
        (1, 1),
        "{stats:?}"
    );
    // The proxy was offered HTTP/1.1 alone; the origin, inside, chose h2.
    assert_eq!(front.stats().hellos[0].alpn, ["http/1.1"]);
}

#[tokio::test]
async fn an_https_proxy_with_a_certificate_for_another_name_is_a_tls_error() {
    let Some(proxy) = tinyproxy("proxy_https_bad_name", None) else {
        return;
    };
    let ca = TestCa::new("https proxy CA");
    let front = tls_front(&ca, &proxy).await;
    let port = front.port();
    let client = tether::Client::builder()
        .add_root_certificate(ca.certificate())
        .resolve("elsewhere.test", ([127, 0, 0, 1], port).into())
        .proxy(tether::Proxy::all(format!("https://elsewhere.test:{port}")).expect("proxy"))
        .build()
        .expect("client");
    for url in ["http://origin.test/", "https://origin.test/"] {
        let err = client.get(url).send().await.expect_err("wrong name");
        assert_eq!(err.kind(), tether::ErrorKind::Tls, "{err}");
        assert!(
            err.to_string().contains("proxy https://elsewhere.test"),
            "{err}"
        );
        assert!(!err.request_written());
    }
    assert_eq!(front.stats().requests, 0);
}

// --- the environment, in child processes ------------------------------------------------

/// Run only as a child of `the_environment_sets_the_proxies_read_at_build`: GETs
/// `TETHER_CHILD_URL` with a default client and checks `TETHER_CHILD_EXPECT` (`proxy`,
/// `direct` or `error:<kind>`).
#[tokio::test]
#[ignore = "a child process of the environment test, with the environment it sets"]
async fn child_with_a_proxy_environment() {
    let url = std::env::var("TETHER_CHILD_URL").expect("TETHER_CHILD_URL");
    let expect = std::env::var("TETHER_CHILD_EXPECT").expect("TETHER_CHILD_EXPECT");
    let client = tether::Client::new();
    let result = client.get(&url).send().await;
    let stats = client.stats();
    match (expect.as_str(), result) {
        ("proxy", Ok(resp)) => {
            assert_eq!(resp.status(), 200);
            assert_eq!(stats.proxy_connections, 1, "{stats:?}");
        }
        ("direct", Ok(resp)) => {
            assert_eq!(resp.status(), 200);
            assert_eq!(stats.proxy_connections, 0, "{stats:?}");
        }
        (expected, Err(e))
            if expected.strip_prefix("error:") == Some(&format!("{:?}", e.kind())) =>
        {
            assert!(!e.to_string().contains("s3cret"), "{e}");
        }
        (expected, got) => panic!("expected {expected}, got {got:?}"),
    }
}

#[tokio::test]
async fn the_environment_sets_the_proxies_read_at_build() {
    let Some(proxy) = tinyproxy("proxy_tinyproxy_env", None) else {
        return;
    };
    let proxied = TestServer::start(Script::new().always(Reply::ok("ok"))).await;
    let direct = TestServer::start_on("127.0.0.2", Script::new().always(Reply::ok("ok"))).await;
    let (p, dead) = (proxy_url(&proxy), "http://127.0.0.1:1".to_owned());
    let (via, straight) = (proxied.url("/"), direct.url("/"));
    /// (variables, URL, expected)
    type Case<'a> = (Vec<(&'a str, String)>, &'a String, &'a str);
    let cases: Vec<Case> = vec![
        (vec![("http_proxy", p.clone())], &via, "proxy"),
        (vec![("HTTP_PROXY", p.clone())], &via, "proxy"),
        (vec![("ALL_PROXY", p.clone())], &via, "proxy"),
        (vec![("https_proxy", p.clone())], &via, "direct"),
        (
            vec![("http_proxy", p.clone()), ("no_proxy", "127.0.0.2".into())],
            &straight,
            "direct",
        ),
        (
            vec![("all_proxy", p.clone()), ("NO_PROXY", "127.0.0.0/8".into())],
            &via,
            "direct",
        ),
        (vec![("http_proxy", dead.clone())], &via, "error:Connect"),
        // httpoxy: a CGI program does not take HTTP_PROXY (it may come from a header).
        (
            vec![
                ("HTTP_PROXY", dead.clone()),
                ("REQUEST_METHOD", "GET".into()),
            ],
            &via,
            "direct",
        ),
        (
            vec![("http_proxy", "socks6://alice:s3cret@127.0.0.1:1080".into())],
            &via,
            "error:Proxy",
        ),
    ];
    let exe = std::env::current_exe().expect("test binary");
    for (vars, url, expected) in cases {
        let mut child = std::process::Command::new(&exe);
        child
            .args(["child_with_a_proxy_environment", "--exact", "--ignored"])
            .env("TETHER_CHILD_URL", url)
            .env("TETHER_CHILD_EXPECT", expected);
        for name in [
            "http_proxy",
            "HTTP_PROXY",
            "https_proxy",
            "HTTPS_PROXY",
            "all_proxy",
            "ALL_PROXY",
            "no_proxy",
            "NO_PROXY",
            "REQUEST_METHOD",
        ] {
            child.env_remove(name);
        }
        child.envs(vars.iter().map(|(k, v)| (k, v)));
        let out = tokio::task::spawn_blocking(move || child.output())
            .await
            .expect("task")
            .expect("run the child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{vars:?} {url} should be {expected}:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    proxy.wait_for_log(&format!("127.0.0.1:{}", proxied.addr().port()));
}

// --- proxies that misbehave during CONNECT (raw servers) ----------------------------------

/// A proxy that reads the CONNECT head, hands it to `seen`, then does `then`.
async fn raw_proxy<F, Fut>(seen: Arc<std::sync::Mutex<Vec<String>>>, then: F) -> RawServer
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let then = Arc::new(then);
    RawServer::start(move |mut stream, _| {
        let (seen, then) = (seen.clone(), then.clone());
        async move {
            let head = read_head(&mut stream).await;
            seen.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&head).into_owned());
            then(stream).await;
        }
    })
    .await
}

fn https_client_via(proxy: &RawServer, connect_timeout: Duration) -> tether::Client {
    tether::Client::builder()
        .proxy(
            tether::Proxy::https(format!("http://bob:pa%24%24@{}", proxy.addr())).expect("proxy"),
        )
        .connect_timeout(connect_timeout)
        .build()
        .expect("client")
}

#[tokio::test]
async fn connect_is_authority_form_with_host_and_the_proxys_credentials() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let proxy = raw_proxy(seen.clone(), |mut stream| async move {
        let _ = stream
            .write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope")
            .await;
    })
    .await;
    let client = https_client_via(&proxy, Duration::from_secs(5));
    let err = client
        .get("https://[::1]:8443/path?q")
        .send()
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), tether::ErrorKind::Proxy, "{err}");
    assert_eq!(err.status(), Some(http::StatusCode::FORBIDDEN));
    assert!(err.to_string().contains("does not allow"), "{err}");
    let heads = seen.lock().unwrap().clone();
    // "bob:pa$$" in base64.
    assert_eq!(
        heads,
        ["CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\
          Proxy-Authorization: Basic Ym9iOnBhJCQ=\r\n\r\n"]
    );
    let stats = client.stats();
    assert_eq!(
        (stats.connect_errors, stats.open, stats.proxy_tunnels),
        (1, 0, 0)
    );
}

#[tokio::test]
async fn a_proxy_that_closes_during_connect_is_a_proxy_error() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let proxy = raw_proxy(seen, |stream| async move { drop(stream) }).await;
    let err = https_client_via(&proxy, Duration::from_secs(5))
        .get("https://origin.test/")
        .send()
        .await
        .expect_err("closed");
    assert_eq!(err.kind(), tether::ErrorKind::Proxy, "{err}");
    assert!(err.to_string().contains("closed the connection"), "{err}");
    assert!(!err.to_string().contains("pa$$"), "{err}");
    assert_eq!(err.status(), None);
}

#[tokio::test]
async fn a_proxy_that_never_answers_connect_times_out_within_the_connect_timeout() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let proxy = raw_proxy(seen, |stream| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(stream);
    })
    .await;
    let err = https_client_via(&proxy, Duration::from_millis(300))
        .get("https://origin.test/")
        .send()
        .await
        .expect_err("silent");
    assert!(err.is_timeout(), "{err}");
    assert!(err.to_string().contains("CONNECT origin.test:443"), "{err}");
}

#[tokio::test]
async fn a_proxy_that_answers_connect_with_no_http_or_early_bytes_is_a_proxy_error() {
    for answer in [
        &b"SSH-2.0-OpenSSH_9.2\r\n\r\n"[..],
        b"HTTP/1.1 200 Connection established\r\n\r\nsurprise",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
    ] {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let proxy = raw_proxy(seen, move |mut stream| async move {
            let _ = stream.write_all(answer).await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        })
        .await;
        let err = https_client_via(&proxy, Duration::from_secs(5))
            .get("https://origin.test/")
            .send()
            .await
            .expect_err("bad answer");
        assert_eq!(
            err.kind(),
            tether::ErrorKind::Proxy,
            "{}: {err}",
            String::from_utf8_lossy(answer)
        );
    }
}

#[tokio::test]
async fn a_proxy_that_is_down_is_a_connect_error_naming_the_proxy() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let client = tether::Client::builder()
        .proxy(tether::Proxy::all(format!("http://{addr}")).expect("proxy"))
        .build()
        .expect("client");
    for url in ["http://origin.test/", "https://origin.test/"] {
        let err = client.get(url).send().await.expect_err("proxy down");
        assert_eq!(err.kind(), tether::ErrorKind::Connect, "{err}");
        assert!(
            err.to_string()
                .contains(&format!("proxy: connecting to {addr}")),
            "{err}"
        );
    }
}

// --- Proxy::custom -------------------------------------------------------------------------

/// `Proxy::custom`: the closure picks nginx for one origin and nothing for another (which
/// is reached directly); requests given the same proxy share one kept-alive connection;
/// the closure sees each request's URL without its credentials; a URL it gives that is no
/// proxy fails the request with `Proxy`.
#[tokio::test]
async fn a_custom_proxy_is_chosen_per_request_and_its_connections_are_shared() {
    let Some(proxy) = nginx_proxy("proxy_custom") else {
        return;
    };
    let proxied = TestServer::start(Script::new().always(Reply::ok("via proxy"))).await;
    let direct = TestServer::start_on("127.0.0.2", Script::new().always(Reply::ok("direct"))).await;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (chosen, seen_by_closure) = (proxy_url(&proxy), seen.clone());
    let client = tether::Client::builder()
        .proxy(tether::Proxy::custom(move |url| {
            seen_by_closure.lock().unwrap().push(url.to_string());
            match url.host_str() {
                Some("127.0.0.1") => Some(chosen.clone()),
                Some("127.0.0.3") => Some("ftp://nowhere.test".to_owned()),
                _ => None,
            }
        }))
        .build()
        .expect("client");
    let port = proxied.addr().port();
    for i in 0..3 {
        let url = format!("http://user:secret@127.0.0.1:{port}/c/{i}");
        assert_eq!(get_text(&client, &url).await.1, "via proxy");
    }
    assert_eq!(get_text(&client, &direct.url("/")).await.1, "direct");
    let stats = client.stats();
    assert_eq!(
        (
            stats.proxy_connections,
            stats.connections_opened,
            stats.reuses
        ),
        (1, 2, 2),
        "{stats:?}"
    );
    let lines = servers::parse_nginx_proxy_log(&proxy.wait_log_lines(3));
    assert!(lines.iter().all(|l| l.connection == lines[0].connection));
    let urls = seen.lock().unwrap().clone();
    assert_eq!(urls.len(), 4);
    assert!(urls.iter().all(|u| !u.contains("secret")), "{urls:?}");
    assert_eq!(urls[0], format!("http://127.0.0.1:{port}/c/0"));
    // The credentials still went to the origin, as `Authorization`.
    assert!(proxied.requests()[0].header("authorization").is_some());

    let err = client.get("http://127.0.0.3:9/").send().await.unwrap_err();
    assert_eq!(err.kind(), tether::ErrorKind::Proxy, "{err}");
    assert!(err.to_string().contains("ftp"), "{err}");
}

/// A GET of `https://origin.test/` through each of `rules`, whose proxy answers its
/// `CONNECT` with 403: each is refused with that status.
async fn connect_refused_through(rules: impl IntoIterator<Item = tether::Proxy>) {
    for rule in rules {
        let client = tether::Client::builder()
            .proxy(rule)
            .build()
            .expect("client");
        let err = client.get("https://origin.test/").send().await.unwrap_err();
        assert_eq!(err.status(), Some(http::StatusCode::FORBIDDEN), "{err}");
    }
}

/// `custom_http_auth`: the proxy gets that `Proxy-Authorization` (a bearer token here) on
/// `CONNECT` in place of the URL's credentials; through `Proxy::custom` too.
#[tokio::test]
async fn custom_http_auth_is_the_proxy_authorization_sent() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let proxy = raw_proxy(seen.clone(), |mut stream| async move {
        let _ = stream
            .write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            .await;
    })
    .await;
    let token = http::HeaderValue::from_static("Bearer t0k3n");
    let addr = proxy.addr();
    let rules = [
        tether::Proxy::https(format!("http://bob:pw@{addr}"))
            .expect("proxy")
            .custom_http_auth(token.clone()),
        tether::Proxy::custom(move |_| Some(format!("http://{addr}"))).custom_http_auth(token),
    ];
    connect_refused_through(rules).await;
    let heads = seen.lock().unwrap().clone();
    let want = "CONNECT origin.test:443 HTTP/1.1\r\nHost: origin.test:443\r\n\
                Proxy-Authorization: Bearer t0k3n\r\n\r\n";
    assert_eq!(heads, [want, want]);
}

/// The fields of `Proxy::headers`, as the tests below give them: a token, a name for the
/// client, and two that would break a head (a second `Host`, a length) and are not sent.
fn proxy_fields() -> http::HeaderMap {
    let mut fields = http::HeaderMap::new();
    fields.insert("x-proxy-token", http::HeaderValue::from_static("t0k3n"));
    fields.insert("user-agent", http::HeaderValue::from_static("fleet/7"));
    fields.insert("host", http::HeaderValue::from_static("elsewhere.test"));
    fields.insert("content-length", http::HeaderValue::from_static("9"));
    fields
}

/// `Proxy::headers` on `CONNECT`: after the credentials' `Proxy-Authorization`, the
/// fields given (not `Host` nor `Content-Length`); through `Proxy::custom` too. Never in
/// `Debug`.
#[tokio::test]
async fn proxy_headers_are_sent_on_connect() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let proxy = raw_proxy(seen.clone(), |mut stream| async move {
        let _ = stream
            .write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            .await;
    })
    .await;
    let addr = proxy.addr();
    let rules = [
        tether::Proxy::https(format!("http://bob:pw@{addr}"))
            .expect("proxy")
            .headers(proxy_fields()),
        tether::Proxy::custom(move |_| Some(format!("http://bob:pw@{addr}")))
            .headers(proxy_fields()),
    ];
    for rule in &rules {
        assert!(!format!("{rule:?}").contains("t0k3n"), "{rule:?}");
    }
    connect_refused_through(rules).await;
    let heads = seen.lock().unwrap().clone();
    // "bob:pw" in base64.
    let want = "CONNECT origin.test:443 HTTP/1.1\r\nHost: origin.test:443\r\n\
                Proxy-Authorization: Basic Ym9iOnB3\r\n\
                x-proxy-token: t0k3n\r\nuser-agent: fleet/7\r\n\r\n";
    assert_eq!(heads, [want, want]);
}

/// `Proxy::headers` on plain requests that nginx forwards (every field as it came, a name
/// twice if it came twice): the origin gets the token;
/// where the request has a field of the name (its own, or the client's default
/// `User-Agent`), the request's stands; a length or `Host` given is never sent (the
/// request would not arrive whole). Requests to a proxy without them carry none.
#[tokio::test]
async fn proxy_headers_go_with_each_forwarded_request_where_the_request_has_none() {
    let Some(proxy) = nginx_proxy("proxy_nginx_headers") else {
        return;
    };
    let origin = TestServer::start(Script::new().always(Reply::ok("hello"))).await;
    let client = tether::Client::builder()
        .proxy(
            tether::Proxy::http(proxy_url(&proxy))
                .expect("proxy")
                .headers(proxy_fields()),
        )
        .build()
        .expect("client");
    let (status, body) = get_text(&client, &origin.url("/default")).await;
    assert_eq!((status, body.as_str()), (200, "hello"));
    let resp = client
        .get(origin.url("/own"))
        .header("x-proxy-token", "mine")
        .send()
        .await
        .expect("own token");
    assert_eq!(resp.text().await.expect("body"), "hello");
    let (status, _) = get_text(&http_client_via(&proxy), &origin.url("/plain")).await;
    assert_eq!(status, 200);

    let seen = origin.requests();
    assert_eq!(seen.len(), 3);
    let values = |i: usize, name: &str| -> Vec<String> {
        seen[i]
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .collect()
    };
    assert_eq!(seen[0].target, "/default");
    assert_eq!(values(0, "x-proxy-token"), ["t0k3n"]);
    let agent = values(0, "user-agent");
    assert!(
        agent.len() == 1 && agent[0].starts_with("tether/"),
        "{agent:?}"
    );
    assert_eq!(values(0, "host"), [origin.addr().to_string()]);
    assert!(values(0, "content-length").is_empty());
    assert_eq!(values(1, "x-proxy-token"), ["mine"]);
    assert!(values(2, "x-proxy-token").is_empty());
}
