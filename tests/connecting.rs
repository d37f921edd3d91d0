//! Connecting (DESIGN.md §1b "Connecting"): the client's DNS cache in front of its
//! resolver, pinned names, Happy Eyeballs past an address that never answers, and the
//! socket options. Names resolve through a counting resolver given to the builder, so
//! every test knows how often it was asked; all addresses are on 127.0.0.0/8.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::raw::black_hole_on;
use support::{Reply, Script, TestServer};

/// Resolves every name to `addrs` (or fails when empty), counting the calls.
struct Counting {
    addrs: Vec<IpAddr>,
    calls: AtomicUsize,
}

impl Counting {
    fn new(addrs: &[&str]) -> Arc<Counting> {
        Arc::new(Counting {
            addrs: addrs
                .iter()
                .map(|a| a.parse().expect("an IP address"))
                .collect(),
            calls: AtomicUsize::new(0),
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl tether::Resolve for Counting {
    fn resolve(&self, name: &str) -> tether::Resolving {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let addrs = self.addrs.clone();
        let name = name.to_owned();
        Box::pin(async move {
            // A lookup takes a moment, so that concurrent ones overlap.
            tokio::time::sleep(Duration::from_millis(5)).await;
            if addrs.is_empty() {
                Err(format!("{name}: no such host").into())
            } else {
                Ok(addrs)
            }
        })
    }
}

async fn get_ok(client: &tether::Client, url: &str) {
    let resp = client
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(resp.status(), 200, "GET {url}");
    resp.bytes().await.expect("body");
}

#[tokio::test]
async fn a_thousand_requests_to_one_host_resolve_it_once() {
    let server = TestServer::start(Script::new().always(Reply::ok("ok"))).await;
    let resolver = Counting::new(&["127.0.0.1"]);
    // One request per connection, so that every request dials.
    let client = tether::Client::builder()
        .dns_resolver(resolver.clone())
        .max_requests_per_connection(1)
        .build()
        .expect("client");
    let url = format!("http://counted.test:{}/", server.addr().port());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (client, url) = (client.clone(), url.clone());
        tasks.spawn(async move {
            for _ in 0..125 {
                get_ok(&client, &url).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task");
    }
    let stats = client.stats();
    assert_eq!(resolver.calls(), 1, "{stats:?}");
    assert_eq!(stats.connections_opened, 1_000);
    assert_eq!((stats.dns_lookups, stats.dns_cache_hits), (1, 999));
    assert_eq!(stats.dial_attempts, 1_000);
}

#[tokio::test]
async fn an_answer_expires_after_the_ttl_and_a_failure_is_kept_briefly() {
    let server = TestServer::start(Script::new().always(Reply::ok("ok"))).await;
    let resolver = Counting::new(&["127.0.0.1"]);
    let client = tether::Client::builder()
        .dns_resolver(resolver.clone())
        .dns_cache_ttl(Duration::from_millis(200))
        .max_requests_per_connection(1)
        .build()
        .expect("client");
    let url = format!("http://ttl.test:{}/", server.addr().port());
    get_ok(&client, &url).await;
    get_ok(&client, &url).await;
    assert_eq!(resolver.calls(), 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    get_ok(&client, &url).await;
    assert_eq!(resolver.calls(), 2, "asked again after the ttl");

    let failing = Counting::new(&[]);
    let client = tether::Client::builder()
        .dns_resolver(failing.clone())
        .build()
        .expect("client");
    for _ in 0..2 {
        let err = client
            .get("http://missing.test/")
            .send()
            .await
            .expect_err("no address");
        assert_eq!(err.kind(), tether::ErrorKind::Connect, "{err}");
        assert!(err.to_string().contains("resolving missing.test"), "{err}");
        assert!(err.is_dns() && err.is_connect(), "{err:?}");
        assert!(!err.request_written());
    }
    // A refused address is a connect error, not a name's.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let refused = tether::Client::new()
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await
        .unwrap_err();
    assert!(refused.is_connect() && !refused.is_dns(), "{refused:?}");
    assert_eq!(failing.calls(), 1, "the failure was kept");
    // Failed dials are counted too: one lookup, one answer from the cache, no attempt.
    let stats = client.stats();
    assert_eq!(
        (stats.dns_lookups, stats.dns_cache_hits, stats.dial_attempts),
        (1, 1, 0),
        "{stats:?}"
    );
    assert_eq!(stats.connect_errors, 2);
}

#[tokio::test]
async fn a_pinned_name_needs_no_lookup() {
    let server = TestServer::start(Script::new().always(Reply::ok("ok"))).await;
    let resolver = Counting::new(&["127.0.0.9"]);
    let client = tether::Client::builder()
        .dns_resolver(resolver.clone())
        .resolve("Pinned.Test", SocketAddr::from(([127, 0, 0, 1], 1)))
        .build()
        .expect("client");
    let port = server.addr().port();
    get_ok(&client, &format!("http://pinned.test:{port}/")).await;
    assert_eq!(resolver.calls(), 0);
    let seen = server.requests();
    assert_eq!(
        seen[0].header("host"),
        Some(format!("pinned.test:{port}").as_str())
    );
}

/// As in reqwest: a URL that names no port is dialed on the pin's port (the test server's
/// here, where the scheme's 80 has nothing), one that names a port on that port. The
/// same for a proxy's pinned name.
#[tokio::test]
async fn a_pins_port_serves_a_url_that_names_none() {
    let server = TestServer::start(Script::new().always(Reply::ok("ok"))).await;
    let other = TestServer::start(Script::new().always(Reply::ok("other"))).await;
    let client = tether::Client::builder()
        .resolve("api.test", server.addr())
        .build()
        .expect("client");
    get_ok(&client, "http://api.test/a").await;
    get_ok(
        &client,
        &format!("http://api.test:{}/b", other.addr().port()),
    )
    .await;
    assert_eq!(server.requests().len(), 1);
    assert_eq!(server.requests()[0].header("host"), Some("api.test"));
    assert_eq!(other.requests().len(), 1, "the URL's own port wins");

    // An HTTP proxy named without a port, pinned to the test server (which answers the
    // forwarded request itself).
    let via = tether::Client::builder()
        .resolve("proxy.test", server.addr())
        .proxy(tether::Proxy::http("http://proxy.test").expect("proxy"))
        .build()
        .expect("client");
    get_ok(&via, "http://origin.test/c").await;
    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].target, "http://origin.test/c");
}

/// `resolve_to_addrs` pins a name to a list, in place of earlier pins, and the dial goes
/// through it in order past an address that refuses; an empty list is a connect error.
#[tokio::test]
async fn resolve_to_addrs_replaces_the_pins_and_is_tried_in_order() {
    let server = TestServer::start(Script::new().always(Reply::ok("ok"))).await;
    let refusing = {
        let listener = std::net::TcpListener::bind("127.0.0.2:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let client = tether::Client::builder()
        .resolve("many.test", refusing)
        .resolve_to_addrs("many.test", &[refusing, server.addr()])
        .resolve("one.test", server.addr())
        .resolve_to_addrs("one.test", &[refusing])
        .resolve_to_addrs("none.test", &[])
        .build()
        .expect("client");
    get_ok(&client, "http://many.test/").await;
    assert_eq!(server.requests().len(), 1);
    for (name, says) in [("one.test", "refused"), ("none.test", "has no address")] {
        let err = client
            .get(format!("http://{name}/"))
            .send()
            .await
            .expect_err("no pin that answers");
        assert_eq!(err.kind(), tether::ErrorKind::Connect, "{err}");
        assert!(
            format!("{err:#}").to_lowercase().contains(says),
            "{name}: {err:#}"
        );
    }
    assert_eq!(server.requests().len(), 1, "the earlier pin was replaced");
}

#[tokio::test]
async fn happy_eyeballs_gets_past_an_address_that_never_answers() {
    // The live server on 127.0.0.1:P, a full accept queue on 127.0.0.3:P, named first.
    let server = TestServer::start(Script::new().always(Reply::ok("ok"))).await;
    let port = server.addr().port();
    let (_hole, _listener, _fillers) =
        black_hole_on(SocketAddr::from(([127, 0, 0, 3], port))).await;
    let resolver = Counting::new(&["127.0.0.3", "127.0.0.1"]);
    let client = tether::Client::builder()
        .dns_resolver(resolver)
        .max_connections_per_host(1)
        .connect_timeout(Duration::from_secs(30))
        // Without Happy Eyeballs the first address would hold the dial for the whole
        // connect timeout: this request timeout would end it first.
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let url = format!("http://eyeballs.test:{port}/");
    // Two at once under a cap of one: the dial, with both of its attempts, holds the one
    // slot; the second request waits for the connection.
    let watcher = {
        let client = client.clone();
        tokio::spawn(async move {
            let mut most = 0;
            for _ in 0..200 {
                most = most.max(client.stats().open);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            most
        })
    };
    tokio::join!(get_ok(&client, &url), get_ok(&client, &url));
    let stats = client.stats();
    assert_eq!(stats.connections_opened, 1, "{stats:?}");
    assert_eq!(stats.dial_attempts, 2, "{stats:?}");
    assert_eq!(server.stats().accepted, 1);
    assert!(watcher.await.expect("watcher") <= 1, "the cap held");
}

#[tokio::test]
async fn a_refused_address_is_passed_and_its_error_kept_when_all_fail() {
    let server = TestServer::start(Script::new().always(Reply::ok("ok"))).await;
    let port = server.addr().port();
    // Nothing listens on 127.0.0.4:P: refused at once.
    let client = tether::Client::builder()
        .dns_resolver(Counting::new(&["127.0.0.4", "127.0.0.1"]))
        .build()
        .expect("client");
    get_ok(&client, &format!("http://refused.test:{port}/")).await;
    assert_eq!(client.stats().dial_attempts, 2);

    let client = tether::Client::builder()
        .dns_resolver(Counting::new(&["127.0.0.4", "127.0.0.5"]))
        .build()
        .expect("client");
    let err = client
        .get(format!("http://refused.test:{port}/"))
        .send()
        .await
        .expect_err("nothing listens");
    assert_eq!(err.kind(), tether::ErrorKind::Connect, "{err}");
    assert!(err.to_string().contains("2 addresses tried"), "{err}");
    let stats = client.stats();
    assert_eq!(
        (stats.dial_attempts, stats.dns_lookups),
        (2, 1),
        "{stats:?}"
    );
}

#[tokio::test]
async fn local_address_binds_every_connection() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (mut stream, peer) = listener.accept().await.expect("accept");
        support::raw::read_head(&mut stream).await;
        use tokio::io::AsyncWriteExt;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .await
            .expect("write");
        peer
    });
    let client = tether::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, 2]))
        .build()
        .expect("client");
    get_ok(&client, &format!("http://{addr}/")).await;
    let peer = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("server done")
        .expect("server task");
    assert_eq!(peer.ip(), IpAddr::from([127, 0, 0, 2]));

    // An IPv6 local address leaves no address to try for an IPv4 host.
    let client = tether::Client::builder()
        .local_address(IpAddr::from(std::net::Ipv6Addr::LOCALHOST))
        .build()
        .expect("client");
    let err = client
        .get(format!("http://{addr}/"))
        .send()
        .await
        .expect_err("no address of that family");
    assert_eq!(err.kind(), tether::ErrorKind::Connect, "{err}");
}

/// The kernel's timer of the client's connection to `server_port` (from /proc/net/tcp):
/// 2 is the keep-alive timer, 0 none.
fn client_socket_timer(server_port: u16) -> Option<u32> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let remote = format!(":{server_port:04X}");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // local, remote, state (01 = established), then tr:when.
        let (rem, state, timer) = (fields.get(2)?, fields.get(3)?, fields.get(5)?);
        (rem.ends_with(&remote) && *state == "01")
            .then(|| u32::from_str_radix(timer.split(':').next()?, 16).ok())
            .flatten()
    })
}

#[tokio::test]
async fn tcp_keepalive_arms_the_kernels_keepalive_timer() {
    if !std::path::Path::new("/proc/net/tcp").exists() {
        return;
    }
    let secs = Duration::from_secs;
    let rows = [
        ("none", tether::Client::builder(), 0),
        (
            "tcp_keepalive(60 s)",
            tether::Client::builder().tcp_keepalive(secs(60)),
            2,
        ),
        // The interval or the retries alone turn the probes on, after the system's time.
        (
            "tcp_keepalive_interval(5 s)",
            tether::Client::builder().tcp_keepalive_interval(secs(5)),
            2,
        ),
        (
            "tcp_keepalive_retries(3)",
            tether::Client::builder().tcp_keepalive_retries(3),
            2,
        ),
        (
            "tcp_nodelay(false)",
            tether::Client::builder().tcp_nodelay(false),
            0,
        ),
    ];
    for (what, builder, timer) in rows {
        let server = TestServer::start(Script::new().always(Reply::ok("ok"))).await;
        let client = builder.build().expect("client");
        get_ok(&client, &server.url("/")).await;
        get_ok(&client, &server.url("/")).await;
        assert_eq!(client.stats().connections_opened, 1, "{what}");
        // The connection is idle in the pool now.
        assert_eq!(
            client_socket_timer(server.addr().port()),
            Some(timer),
            "{what}"
        );
    }
}

/// `interface`: sockets bound to `lo` reach a loopback server; bound to an interface the
/// system does not have, each connection fails with `Connect`, naming it.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn interface_binds_each_socket_to_the_named_device() {
    let server = TestServer::start(Script::new()).await;
    let client = tether::Client::builder().interface("lo").build().unwrap();
    for _ in 0..2 {
        let resp = client.get(server.url("/")).send().await.unwrap();
        assert_eq!(resp.text().await.unwrap(), "ok");
    }
    assert_eq!(client.stats().connections_opened, 1);

    let client = tether::Client::builder()
        .interface("tether-none0")
        .build()
        .unwrap();
    let err = client.get(server.url("/")).send().await.unwrap_err();
    assert_eq!(err.kind(), tether::ErrorKind::Connect, "{err}");
    assert!(err.to_string().contains("tether-none0"), "{err}");
    assert_eq!(server.stats().accepted, 1, "nothing reached the server");
}
