//! HTTP/2 through the pool: negotiation (ALPN over TLS, prior knowledge over plain TCP,
//! `http1_only`), one shared connection for many requests and no connection storm,
//! `SETTINGS_MAX_CONCURRENT_STREAMS` then the per-host cap then the line, streams refused
//! or above a GOAWAY's last stream id sent again whatever the method (and never twice),
//! the PING before reusing a connection idle for long, the idle timeout, RST_STREAM for a
//! response dropped early, large bodies both ways (flow control), and the head limits.
//!
//! Servers: the `h2` crate's server side, and for GOAWAY a server whose frames are written
//! by hand (`tests/support/h2.rs`).

mod support;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use support::h2::{GoawayServer, H2Script, H2Server, BIG, GZIP_TEXT};
use support::tls::TestCa;
use tether::{Client, ErrorKind};

const NAMES: &[&str] = &["localhost", "127.0.0.1"];

fn prior_knowledge() -> tether::ClientBuilder {
    Client::builder().http2_prior_knowledge()
}

async fn plain(script: H2Script) -> H2Server {
    H2Server::start(script).await
}

/// A server over TLS with `cert`, offering the ALPN protocols `alpn`.
async fn over_tls(cert: support::tls::CertKey, alpn: &[&[u8]]) -> H2Server {
    H2Server::start(H2Script {
        tls: Some((cert, alpn.iter().map(|p| p.to_vec()).collect())),
        ..H2Script::default()
    })
    .await
}

/// A client that trusts `ca`.
fn trusting(ca: &TestCa) -> tether::ClientBuilder {
    Client::builder().add_root_certificate(ca.certificate())
}

/// `n` GETs of `url` at once, each reading its body as text.
fn spawn_gets(
    client: &Client,
    url: &str,
    n: usize,
) -> Vec<tokio::task::JoinHandle<Result<String, tether::Error>>> {
    (0..n)
        .map(|_| {
            let (client, url) = (client.clone(), url.to_owned());
            tokio::spawn(async move { client.get(url).send().await?.text().await })
        })
        .collect()
}

/// Every one of `tasks` answered `ok`.
async fn all_ok(tasks: Vec<tokio::task::JoinHandle<Result<String, tether::Error>>>) {
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "ok");
    }
}

#[tokio::test]
async fn prior_knowledge_speaks_http2_and_requests_share_one_connection() {
    let server = plain(H2Script::default()).await;
    let client = prior_knowledge().build().unwrap();
    let resp = client
        .get(server.url("127.0.0.1", "/a?x=1"))
        .header("x-custom", "yes")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.content_length(), Some(2));
    assert_eq!(resp.text().await.unwrap(), "ok");
    let resp = client
        .post(server.url("127.0.0.1", "/b"))
        .body("posted")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "posted");

    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].path, "/a");
    assert_eq!(seen[0].headers["x-custom"], "yes");
    assert!(seen[0].headers.contains_key("user-agent"));
    assert!(seen[0].headers.contains_key("accept-encoding"));
    for forbidden in ["connection", "keep-alive", "host", "transfer-encoding"] {
        assert!(
            !seen[0].headers.contains_key(forbidden),
            "{forbidden} must not be sent over HTTP/2"
        );
    }
    assert_eq!(
        (seen[1].method.as_str(), &seen[1].body[..]),
        ("POST", &b"posted"[..])
    );
    assert_eq!(seen[1].headers["content-length"], "6");
    assert_eq!(seen[0].conn, seen[1].conn);
    assert_eq!(server.stats().connections, 1);

    let stats = client.stats();
    assert_eq!(stats.connections_opened, 1);
    assert_eq!(stats.http2_connections_opened, 1);
    assert_eq!(stats.requests_sent, 2);
    assert_eq!(stats.reuses, 1);
    let host = &stats.hosts[0];
    assert_eq!((host.open, host.http2, host.streams), (1, 1, 0));
}

#[tokio::test]
async fn default_headers_go_over_http2() {
    let server = plain(H2Script::default()).await;
    let mut defaults = http::HeaderMap::new();
    defaults.insert("authorization", "Bearer h2".parse().unwrap());
    defaults.insert("x-api", "v".parse().unwrap());
    let client = prior_knowledge().default_headers(defaults).build().unwrap();
    for own in [None, Some("mine")] {
        let mut req = client.get(server.url("127.0.0.1", "/a"));
        if let Some(own) = own {
            req = req.header("x-api", own);
        }
        assert_eq!(req.send().await.unwrap().text().await.unwrap(), "ok");
    }
    let seen = server.seen();
    assert_eq!(seen[0].headers["authorization"], "Bearer h2");
    assert_eq!(seen[0].headers["x-api"], "v");
    assert_eq!(seen[1].headers["authorization"], "Bearer h2");
    assert_eq!(seen[1].headers["x-api"], "mine");
    for s in &seen {
        for name in ["authorization", "x-api", "user-agent"] {
            assert_eq!(s.headers.get_all(name).iter().count(), 1, "{name}");
        }
        assert!(!s.headers.contains_key("connection"));
    }
}

#[tokio::test]
async fn a_callers_host_header_becomes_the_authority() {
    let server = plain(H2Script::default()).await;
    let client = prior_knowledge().build().unwrap();
    let url = server.url("127.0.0.1", "/a");
    let own = client.get(&url).header("host", "api.example:8443");
    assert_eq!(own.send().await.unwrap().text().await.unwrap(), "ok");
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    let seen = server.seen();
    assert_eq!(seen[0].authority, "api.example:8443");
    assert_eq!(
        seen[1].authority,
        url["http://".len()..][..seen[1].authority.len()]
    );
    assert!(seen[1].authority.starts_with("127.0.0.1:"));
    assert!(seen.iter().all(|s| !s.headers.contains_key("host")));

    // One that cannot be an authority is refused, and nothing is sent.
    for bad in ["a b", "user@api.example"] {
        let err = client
            .get(&url)
            .header("host", bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{bad}: {err}");
    }
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn plain_http_stays_http11_without_prior_knowledge() {
    let server = support::TestServer::start(support::Script::default()).await;
    let client = Client::new();
    let resp = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_11);
    assert_eq!(client.stats().http2_connections_opened, 0);
}

#[tokio::test]
async fn a_hundred_requests_at_once_open_one_connection() {
    let server = plain(H2Script {
        slow: Duration::from_millis(100),
        ..H2Script::default()
    })
    .await;
    let client = prior_knowledge().build().unwrap();
    let url = server.url("127.0.0.1", "/slow");
    let tasks = spawn_gets(&client, &url, 100);
    // While they are in flight, the stats show streams besides connections.
    support::eventually("50 streams in use", || client.stats().streams >= 50).await;
    let during = client.stats();
    assert_eq!(during.open, 1, "{during:?}");
    all_ok(tasks).await;
    let stats = server.stats();
    assert_eq!(stats.connections, 1, "one connection, no storm: {stats:?}");
    assert!(stats.max_streams_open >= 50, "{stats:?}");
    assert_eq!(client.stats().connections_opened, 1);
}

/// A server allowing `max_streams` at once, whose `/slow` answers after 50 ms.
async fn slow_server(max_streams: u32) -> H2Server {
    plain(H2Script {
        max_streams: Some(max_streams),
        slow: Duration::from_millis(50),
        ..H2Script::default()
    })
    .await
}

/// `n` GETs at once of `server`'s `/slow` through `client`, after one alone, so that the
/// server's SETTINGS are known before the burst.
async fn burst_after_one(client: &Client, server: &H2Server, n: usize) {
    let url = server.url("127.0.0.1", "/slow");
    assert_eq!(
        client.get(&url).send().await.unwrap().text().await.unwrap(),
        "ok"
    );
    all_ok(spawn_gets(client, &url, n)).await;
}

#[tokio::test]
async fn past_the_servers_stream_limit_a_second_connection_then_the_line() {
    let server = slow_server(4).await;
    let client = prior_knowledge()
        .max_connections_per_host(2)
        .build()
        .unwrap();
    burst_after_one(&client, &server, 20).await;
    let stats = server.stats();
    assert_eq!(stats.connections, 2, "{stats:?}");
    assert!(stats.max_streams_open <= 4, "{stats:?}");
    assert_eq!(stats.refused, 0);
    let client_stats = client.stats();
    assert_eq!(client_stats.connections_opened, 2);
    assert_eq!(client_stats.hosts[0].open, 2);
}

#[tokio::test]
async fn the_clients_own_stream_limit_holds_below_the_servers() {
    // The server allows 100 streams at once; the client takes 2 per connection, on at
    // most 2 connections.
    let server = slow_server(100).await;
    let client = prior_knowledge()
        .max_connections_per_host(2)
        .http2_max_streams_per_connection(2)
        .build()
        .unwrap();
    let burst = burst_after_one(&client, &server, 20);
    let watch = async {
        // The burst fills both connections' two streams; the rest wait in the host's
        // line.
        support::eventually("the line forms", || client.stats().waiters > 0).await;
        client.stats().streams
    };
    let ((), streams) = tokio::join!(burst, watch);
    assert!(streams <= 4, "{streams} streams at once");
    let stats = server.stats();
    assert_eq!(stats.connections, 2, "{stats:?}");
    assert_eq!(stats.max_streams_open, 2, "{stats:?}");
    assert_eq!(stats.refused, 0);
    assert_eq!(server.seen().len(), 21);
    // `None` is the server's limit again: a burst shares one connection.
    let server = slow_server(100).await;
    let client = prior_knowledge()
        .http2_max_streams_per_connection(None)
        .build()
        .unwrap();
    burst_after_one(&client, &server, 20).await;
    let stats = server.stats();
    assert_eq!(stats.connections, 1, "{stats:?}");
    assert!(stats.max_streams_open > 2, "{stats:?}");
}

#[tokio::test]
async fn the_polite_preset_holds_a_site_to_two_requests_at_once_over_http2_too() {
    let server = slow_server(100).await;
    let client = prior_knowledge().polite().build().unwrap();
    burst_after_one(&client, &server, 12).await;
    let stats = server.stats();
    assert_eq!(stats.connections, 2, "{stats:?}");
    assert_eq!(stats.max_streams_open, 1, "{stats:?}");
    // A setting made after the preset takes its place.
    let server = slow_server(100).await;
    let client = prior_knowledge()
        .polite()
        .http2_max_streams_per_connection(None)
        .build()
        .unwrap();
    burst_after_one(&client, &server, 12).await;
    let stats = server.stats();
    assert_eq!(stats.connections, 1, "{stats:?}");
    assert!(stats.max_streams_open > 1, "{stats:?}");
}

#[tokio::test]
async fn a_lowered_cap_lets_go_of_the_http2_connections_past_it() {
    // One stream per connection, three connections: three requests at once.
    let server = slow_server(100).await;
    let client = prior_knowledge()
        .max_connections_per_host(3)
        .http2_max_streams_per_connection(1)
        .build()
        .unwrap();
    burst_after_one(&client, &server, 9).await;
    assert_eq!(server.stats().connections, 3);
    assert_eq!(server.stats().max_open_in_all, 3);
    let stats = client.stats();
    assert_eq!((stats.open, stats.streams), (3, 0), "{stats:?}");
    // Lowered to 1 while they rest: two are let go, and close at once.
    client
        .set_max_connections_for_host(server.url("127.0.0.1", "/"), Some(1))
        .unwrap();
    assert_eq!(client.stats().closed_over_idle_limit, 2);
    support::eventually("two close", || client.stats().open == 1).await;
    // From now on one request at a time, on the one connection left.
    server.reset_max_open_in_all();
    all_ok(spawn_gets(&client, &server.url("127.0.0.1", "/slow"), 6)).await;
    let stats = server.stats();
    assert_eq!(
        (stats.connections, stats.max_open_in_all),
        (3, 1),
        "{stats:?}"
    );
    // Raised to 3 and lowered to 2 while all three carry a stream: the one with the
    // fewest is let go once its stream ends, and no more than two run at once after.
    client
        .set_max_connections_for_host(server.url("127.0.0.1", "/"), Some(3))
        .unwrap();
    let url = server.url("127.0.0.1", "/slow");
    let first = spawn_gets(&client, &url, 3);
    support::eventually("three at once", || client.stats().streams == 3).await;
    client
        .set_max_connections_for_host(server.url("127.0.0.1", "/"), Some(2))
        .unwrap();
    let second = spawn_gets(&client, &url, 6);
    all_ok(first).await;
    support::eventually("one closes", || client.stats().open == 2).await;
    server.reset_max_open_in_all();
    all_ok(second).await;
    all_ok(spawn_gets(&client, &url, 6)).await;
    let stats = server.stats();
    assert!(stats.max_open_in_all <= 2, "{stats:?}");
    assert_eq!(client.stats().closed_over_idle_limit, 3);
}

#[tokio::test]
async fn a_burst_before_the_servers_settings_waits_for_its_stream_limit() {
    // The server's SETTINGS come late: until they do, only the dialer's stream goes out,
    // and the burst is then sent within the server's limit, none of it refused.
    let server = plain(H2Script {
        max_streams: Some(4),
        slow: Duration::from_millis(20),
        preface_delay: Duration::from_millis(200),
        ..H2Script::default()
    })
    .await;
    let client = prior_knowledge()
        .max_connections_per_host(1)
        .build()
        .unwrap();
    let url = server.url("127.0.0.1", "/slow");
    let tasks = spawn_gets(&client, &url, 30);
    all_ok(tasks).await;
    let stats = server.stats();
    assert_eq!(stats.connections, 1, "{stats:?}");
    assert!(stats.max_streams_open <= 4, "{stats:?}");
    let client_stats = client.stats();
    assert_eq!(client_stats.retries_refused_stream, 0, "{client_stats:?}");
    assert_eq!(client_stats.connections_opened, 1);
}

#[tokio::test]
async fn alpn_chooses_http2_over_tls_and_http1_only_keeps_http11() {
    let ca = TestCa::new("test CA");
    let server = over_tls(ca.server_cert(NAMES), &[b"h2", b"http/1.1"]).await;
    let client = trusting(&ca).build().unwrap();
    let resp = client
        .get(server.url("localhost", "/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert_eq!(resp.text().await.unwrap(), "ok");
    assert_eq!(client.stats().http2_connections_opened, 1);

    let http1 = trusting(&ca).http1_only().build().unwrap();
    let resp = http1
        .get(server.url("localhost", "/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_11);
    assert_eq!(resp.text().await.unwrap(), "ok");
    assert_eq!(http1.stats().http2_connections_opened, 0);
}

#[tokio::test]
async fn a_tls_server_that_picks_http11_is_spoken_to_in_http11_and_requests_stop_waiting() {
    let ca = TestCa::new("test CA");
    let server = over_tls(ca.server_cert(NAMES), &[b"http/1.1"]).await;
    let client = trusting(&ca).build().unwrap();
    let url = server.url("localhost", "/");
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let resp = client.get(url).send().await?;
            assert_eq!(resp.version(), http::Version::HTTP_11);
            resp.text().await
        }));
    }
    all_ok(tasks).await;
    assert_eq!(client.stats().http2_connections_opened, 0);
}

#[tokio::test]
async fn refused_streams_are_sent_again_whatever_the_method() {
    let server = plain(H2Script {
        refuse: 2,
        ..H2Script::default()
    })
    .await;
    let client = prior_knowledge().build().unwrap();
    let resp = client
        .post(server.url("127.0.0.1", "/once"))
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "payload");
    assert_eq!(server.stats().refused, 2);
    let posts: Vec<_> = server
        .seen()
        .into_iter()
        .filter(|s| s.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1, "processed exactly once");
    assert_eq!(client.stats().retries_refused_stream, 2);
    // Each retry went to another connection than the one that refused it: the first to
    // a new one, the second back to the first.
    assert_eq!(server.stats().connections, 2);
}

#[tokio::test]
async fn a_stream_refused_too_often_fails_and_says_nothing_was_processed() {
    let server = plain(H2Script {
        refuse: 10,
        ..H2Script::default()
    })
    .await;
    let client = prior_knowledge().build().unwrap();
    let err = client
        .post(server.url("127.0.0.1", "/never"))
        .body("payload")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    assert!(
        !err.request_written(),
        "a refused stream was not processed: {err}"
    );
    assert_eq!(server.stats().refused, 4, "the first try and three retries");
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn posts_above_a_goaways_last_stream_are_sent_again_and_none_runs_twice() {
    // The first connection answers 2 of 6 POSTs and sends GOAWAY naming the second.
    let server = GoawayServer::start(6, 2).await;
    let client = prior_knowledge().build().unwrap();
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (client, url) = (client.clone(), server.url("/post"));
        tasks.push(tokio::spawn(async move {
            let body = format!("post-{i}");
            let resp = client.post(url).body(body.clone()).send().await?;
            let text = resp.text().await?;
            Ok::<_, tether::Error>((body, text))
        }));
    }
    for task in tasks {
        let (sent, echoed) = task.await.unwrap().expect("no POST fails");
        assert_eq!(sent, echoed);
    }
    let mut counts: HashMap<Bytes, usize> = HashMap::new();
    for body in server.processed() {
        *counts.entry(body).or_default() += 1;
    }
    assert_eq!(counts.len(), 6, "{counts:?}");
    assert!(
        counts.values().all(|&n| n == 1),
        "none processed twice: {counts:?}"
    );
    assert_eq!(server.connections(), 2);
    let stats = client.stats();
    assert_eq!(stats.retries_refused_stream, 4, "{stats:?}");
    assert_eq!(stats.connections_opened, 2);
}

#[tokio::test]
async fn a_connection_idle_for_long_is_pinged_before_reuse_and_left_when_silent() {
    let server = plain(H2Script {
        freeze_after: Some(1),
        ..H2Script::default()
    })
    .await;
    let client = prior_knowledge()
        .http2_ping_after_idle(Duration::from_millis(100))
        .http2_ping_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let url = server.url("127.0.0.1", "/");
    assert_eq!(
        client.get(&url).send().await.unwrap().text().await.unwrap(),
        "ok"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    // The first connection no longer answers anything, PINGs included.
    assert_eq!(
        client.get(&url).send().await.unwrap().text().await.unwrap(),
        "ok"
    );
    let stats = client.stats();
    assert_eq!(stats.http2_pings_failed, 1, "{stats:?}");
    assert_eq!(stats.connections_opened, 2);
    assert_eq!(server.stats().connections, 2);
}

#[tokio::test]
async fn a_connection_that_answers_its_ping_is_reused() {
    let server = plain(H2Script::default()).await;
    let client = prior_knowledge()
        .http2_ping_after_idle(Duration::from_millis(50))
        .build()
        .unwrap();
    let url = server.url("127.0.0.1", "/");
    assert_eq!(
        client.get(&url).send().await.unwrap().text().await.unwrap(),
        "ok"
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        client.get(&url).send().await.unwrap().text().await.unwrap(),
        "ok"
    );
    let stats = client.stats();
    assert_eq!((stats.http2_pings_failed, stats.connections_opened), (0, 1));
}

#[tokio::test]
async fn an_idle_http2_connection_closes_at_the_idle_timeout() {
    let server = plain(H2Script::default()).await;
    let client = prior_knowledge()
        .idle_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let url = server.url("127.0.0.1", "/");
    assert_eq!(
        client.get(&url).send().await.unwrap().text().await.unwrap(),
        "ok"
    );
    assert_eq!(client.stats().open, 1);
    support::eventually("the idle connection closed", || client.stats().open == 0).await;
    assert_eq!(client.stats().expired_idle_timeout, 1);
    // The next request opens a new connection.
    assert_eq!(
        client.get(&url).send().await.unwrap().text().await.unwrap(),
        "ok"
    );
    assert_eq!(server.stats().connections, 2);
}

#[tokio::test]
async fn a_response_dropped_early_resets_its_stream_and_keeps_the_connection() {
    let server = plain(H2Script::default()).await;
    let client = prior_knowledge().build().unwrap();
    let mut resp = client
        .get(server.url("127.0.0.1", "/big"))
        .send()
        .await
        .unwrap();
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(!first.is_empty() && first.len() < BIG);
    drop(resp);
    support::eventually("the stream reset", || server.stats().resets_seen == 1).await;
    support::eventually("the stream given back", || client.stats().streams == 0).await;
    let resp = client
        .get(server.url("127.0.0.1", "/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok");
    assert_eq!(server.stats().connections, 1);
    assert_eq!(client.stats().bodies_drained, 0, "reset, not drained");
}

#[tokio::test]
async fn large_bodies_flow_both_ways() {
    let server = plain(H2Script::default()).await;
    let client = prior_knowledge().build().unwrap();
    let body = client
        .get(server.url("127.0.0.1", "/big"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(body.len(), BIG);
    let upload: Vec<u8> = (0..BIG).map(|i| (i % 251) as u8).collect();
    let echoed = client
        .put(server.url("127.0.0.1", "/up"))
        .body(upload.clone())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(echoed.len(), upload.len());
    assert!(echoed[..] == upload[..]);
}

#[tokio::test]
async fn a_streamed_upload_goes_out_in_pieces() {
    let server = plain(H2Script::default()).await;
    let client = prior_knowledge().build().unwrap();
    let pieces: Vec<Result<Bytes, std::io::Error>> = (0..50)
        .map(|i| Ok(Bytes::from(vec![b'a' + (i % 26) as u8; 10_000])))
        .collect();
    let body = tether::Body::wrap_stream(support::stream::iter(pieces));
    let echoed = client
        .post(server.url("127.0.0.1", "/stream"))
        .body(body)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(echoed.len(), 500_000);
    assert_eq!(echoed[0], b'a');
    assert_eq!(echoed[499_999], b'a' + 49 % 26);
}

#[tokio::test]
async fn the_head_limits_apply_to_http2_heads() {
    let server = plain(H2Script::default()).await;
    let client = prior_knowledge().max_headers(0).build().unwrap();
    let err = client
        .get(server.url("127.0.0.1", "/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    assert_eq!(
        err.proto_error(),
        Some(&tether::proto::ProtoError::TooManyHeaders),
        "{err}"
    );
}

#[tokio::test]
async fn decoding_and_redirects_work_over_http2_as_over_http11() {
    let server = plain(H2Script::default()).await;
    let client = prior_knowledge().build().unwrap();
    let resp = client
        .get(server.url("127.0.0.1", "/gzip"))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("content-encoding").is_none());
    assert_eq!(resp.text().await.unwrap(), GZIP_TEXT);
    let resp = client
        .get(server.url("127.0.0.1", "/redirect"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.url().path(), "/a");
    assert_eq!(resp.text().await.unwrap(), "ok");
    let stats = client.stats();
    assert_eq!((stats.redirects, stats.connections_opened), (1, 1));
    let paths: Vec<String> = server.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["/gzip", "/redirect", "/a"]);
}

#[tokio::test]
async fn a_connection_that_got_goaway_takes_no_new_stream_and_is_let_go() {
    // The first connection answers 1 of 2 POSTs, GOAWAY names it, and it closes.
    let server = GoawayServer::start(2, 1).await;
    let client = prior_knowledge().build().unwrap();
    let (a, b) = tokio::join!(
        client.post(server.url("/p")).body("a").send(),
        client.post(server.url("/p")).body("b").send()
    );
    assert_eq!(a.unwrap().text().await.unwrap(), "a");
    assert_eq!(b.unwrap().text().await.unwrap(), "b");
    // Later requests go to the new connection only.
    for _ in 0..3 {
        let resp = client.get(server.url("/g")).send().await.unwrap();
        assert_eq!(resp.text().await.unwrap(), "");
    }
    assert_eq!(server.connections(), 2);
    support::eventually("the first connection let go", || {
        let s = client.stats();
        s.open == 1 && s.hosts[0].http2 == 1
    })
    .await;
}

#[tokio::test]
async fn a_zero_idle_timeout_closes_each_http2_connection_after_use() {
    let server = plain(H2Script::default()).await;
    let client = prior_knowledge()
        .idle_timeout(Duration::ZERO)
        .build()
        .unwrap();
    let url = server.url("127.0.0.1", "/");
    for _ in 0..3 {
        assert_eq!(
            client.get(&url).send().await.unwrap().text().await.unwrap(),
            "ok"
        );
        support::eventually("the connection closed", || client.stats().open == 0).await;
    }
    assert_eq!(server.stats().connections, 3);
}

#[tokio::test]
async fn prior_knowledge_to_an_http11_server_is_a_typed_error_not_a_hang() {
    let server = support::TestServer::start(support::Script::default()).await;
    let client = prior_knowledge().build().unwrap();
    // Several at once: the ones waiting for the first dial learn that it failed.
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (client, url) = (client.clone(), server.url("/"));
        tasks.push(tokio::spawn(async move {
            tokio::time::timeout(Duration::from_secs(10), client.get(url).send()).await
        }));
    }
    for task in tasks {
        let got = task.await.unwrap().expect("no hang");
        let err = got.unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::Protocol | ErrorKind::ClosedBeforeResponse | ErrorKind::Io
            ),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn a_server_that_never_sends_its_settings_fails_each_request_by_its_timeout() {
    // The requests waiting for the dial wait no longer than the dialer's: when its read
    // timeout lets go of the connection, it closes and they dial in turn.
    let server = plain(H2Script {
        preface_delay: Duration::from_secs(3600),
        ..H2Script::default()
    })
    .await;
    let client = prior_knowledge()
        .read_timeout(Duration::from_millis(200))
        .max_connections_per_host(2)
        .build()
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (client, url) = (client.clone(), server.url("127.0.0.1", "/"));
        tasks.push(tokio::spawn(async move {
            tokio::time::timeout(Duration::from_secs(10), client.get(url).send()).await
        }));
    }
    for task in tasks {
        let got = task.await.unwrap().expect("no hang");
        let err = got.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    }
    assert_eq!(client.stats().streams, 0);
}

#[tokio::test]
async fn a_head_over_the_servers_header_list_limit_is_refused_before_it_is_sent() {
    let server = plain(H2Script {
        max_header_list: Some(1024),
        ..H2Script::default()
    })
    .await;
    let client = prior_knowledge().build().unwrap();
    let url = server.url("127.0.0.1", "/");
    // The first request learns the server's SETTINGS.
    assert_eq!(
        client.get(&url).send().await.unwrap().text().await.unwrap(),
        "ok"
    );
    let err = client
        .get(&url)
        .header("x-big", "v".repeat(2000))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
    assert!(
        err.to_string().contains("SETTINGS_MAX_HEADER_LIST_SIZE"),
        "{err}"
    );
    assert!(!err.request_written());
    assert_eq!(
        server.seen().len(),
        1,
        "the large head never reached the server"
    );
    // The connection is still good.
    let resp = client
        .get(&url)
        .header("x-small", "v")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok");
    assert_eq!(server.stats().connections, 1);
}

#[tokio::test]
async fn read_timeouts_bound_the_wait_for_an_http2_head_and_body() {
    let server = plain(H2Script {
        slow: Duration::from_secs(3),
        ..H2Script::default()
    })
    .await;
    let client = prior_knowledge()
        .read_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = client
        .get(server.url("127.0.0.1", "/slow"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    let resp = client
        .get(server.url("127.0.0.1", "/stall"))
        .send()
        .await
        .unwrap();
    let err = resp.bytes().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
}

#[tokio::test]
async fn max_requests_and_max_lifetime_retire_http2_connections() {
    let server = plain(H2Script::default()).await;
    let client = prior_knowledge()
        .max_requests_per_connection(2)
        .build()
        .unwrap();
    let url = server.url("127.0.0.1", "/");
    for _ in 0..5 {
        assert_eq!(
            client.get(&url).send().await.unwrap().text().await.unwrap(),
            "ok"
        );
    }
    let mut per_conn: HashMap<usize, usize> = HashMap::new();
    for seen in server.seen() {
        *per_conn.entry(seen.conn).or_default() += 1;
    }
    assert_eq!(per_conn.len(), 3, "{per_conn:?}");
    assert!(per_conn.values().all(|&n| n <= 2), "{per_conn:?}");

    let server = plain(H2Script::default()).await;
    let client = prior_knowledge()
        .max_lifetime(Duration::from_millis(100))
        .build()
        .unwrap();
    let url = server.url("127.0.0.1", "/");
    assert_eq!(
        client.get(&url).send().await.unwrap().text().await.unwrap(),
        "ok"
    );
    assert_eq!(
        client.get(&url).send().await.unwrap().text().await.unwrap(),
        "ok"
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        client.get(&url).send().await.unwrap().text().await.unwrap(),
        "ok"
    );
    assert_eq!(server.stats().connections, 2);
    assert_eq!(client.stats().expired_lifetime, 1);
}

#[tokio::test]
async fn at_the_global_cap_an_idle_http2_connection_of_another_host_makes_room() {
    let a = plain(H2Script::default()).await;
    let b = plain(H2Script::default()).await;
    let client = prior_knowledge()
        .max_connections_total(1)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let get = |url: String| {
        let client = client.clone();
        async move { client.get(url).send().await?.text().await }
    };
    assert_eq!(get(a.url("127.0.0.1", "/")).await.unwrap(), "ok");
    // A's connection is idle (and would stay 90 s): B's request closes it for its slot.
    assert_eq!(get(b.url("127.0.0.1", "/")).await.unwrap(), "ok");
    assert_eq!(get(a.url("127.0.0.1", "/")).await.unwrap(), "ok");
    let stats = client.stats();
    assert_eq!(stats.http2_connections_opened, 3, "{stats:?}");
    assert_eq!(stats.evicted, 2, "{stats:?}");
    assert!(stats.open <= 1, "{stats:?}");
}

/// The same, round after round over more hosts than the cap: each request at the cap
/// finds an idle HTTP/2 connection of another host to let go of, among hosts whose
/// connections were let go of before (the pool looks only at the hosts given one, and
/// drops those left with none on the way).
#[tokio::test]
async fn round_after_round_at_the_global_cap_idle_http2_connections_make_room() {
    const HOSTS: usize = 6;
    const CAP: usize = 2;
    let mut servers = Vec::new();
    for _ in 0..HOSTS {
        servers.push(plain(H2Script::default()).await);
    }
    let client = prior_knowledge()
        .max_connections_total(CAP)
        .idle_timeout(Duration::from_secs(60))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for round in 0..3 {
        for (h, server) in servers.iter().enumerate() {
            let resp = client.get(server.url("127.0.0.1", "/")).send().await;
            let resp = resp.unwrap_or_else(|e| {
                panic!("round {round}, host {h}: {e} (no idle connection was let go of)")
            });
            assert_eq!(resp.text().await.unwrap(), "ok");
            assert!(client.stats().open <= CAP, "{:?}", client.stats());
        }
    }
    // Which connection is let go of is not said, so a later round may find its host's
    // still open; at most `CAP` are, so each round opens at least `HOSTS - CAP`.
    let stats = client.stats();
    let (opened, reused) = (stats.http2_connections_opened, stats.reuses);
    assert_eq!(opened + reused, 3 * HOSTS as u64, "{stats:?}");
    assert_eq!(stats.evicted, opened - CAP as u64, "{stats:?}");
    assert!(stats.evicted >= 3 * (HOSTS - CAP) as u64, "{stats:?}");
    let dialed: usize = servers.iter().map(|s| s.stats().connections).sum();
    assert_eq!(dialed as u64, opened);
}

#[tokio::test]
async fn expect_continue_holds_the_body_until_the_100_or_a_refusal() {
    let server = plain(H2Script::default()).await;
    let client = prior_knowledge().expect_continue(1024).build().unwrap();
    let body = vec![b'e'; 100_000];
    let echoed = client
        .put(server.url("127.0.0.1", "/expect"))
        .body(body.clone())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(echoed[..] == body[..]);
    let seen = server.seen();
    assert_eq!(seen[0].headers["expect"], "100-continue");
    assert_eq!(
        server.stats().data_before_continue,
        0,
        "the body waited for the 100"
    );

    let resp = client
        .put(server.url("127.0.0.1", "/refuse-expect"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    support::eventually("the refusal counted", || server.stats().refusals == 1).await;
    let stats = server.stats();
    assert_eq!(
        stats.late_body_bytes, 0,
        "no body after the refusal: {stats:?}"
    );
    assert_eq!(stats.data_before_continue, 0);
}

#[test]
fn an_http2_connection_ends_with_its_runtime_and_the_next_runtime_dials_its_own() {
    let elsewhere = support::elsewhere::Elsewhere::new();
    let server = elsewhere.handle().block_on(async {
        // Started from a thread of its own, so that it lives on `elsewhere`.
        tokio::spawn(plain(H2Script::default())).await.unwrap()
    });
    let client = prior_knowledge().build().unwrap();
    let url = server.url("127.0.0.1", "/");
    for round in 1..=3 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let text = rt.block_on(async { client.get(&url).send().await?.text().await });
        assert_eq!(text.unwrap(), "ok", "round {round}");
        drop(rt);
        // The connection's task went with its runtime, and its slot with it.
        assert_eq!(client.stats().open, 0, "round {round}");
    }
    assert_eq!(client.stats().http2_connections_opened, 3);
    drop(server);
}

#[tokio::test]
async fn a_server_that_allows_no_stream_fails_requests_unsent_instead_of_holding_them() {
    // RFC 9113 §5.1.2: a limit of 0 prevents new streams, and a server that wants no
    // requests should close. Requests must not wait on such connections forever (there is
    // no timeout here): each ends with a typed error that says nothing was processed.
    let server = plain(H2Script {
        max_streams: Some(0),
        ..H2Script::default()
    })
    .await;
    let client = prior_knowledge()
        .max_connections_per_host(1)
        .build()
        .unwrap();
    let tasks = spawn_gets(&client, &server.url("127.0.0.1", "/"), 3);
    for task in tasks {
        let err = tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("a request waited on a connection that allows no stream")
            .unwrap()
            .unwrap_err();
        assert!(!err.request_written(), "nothing was processed: {err}");
    }
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn a_limit_lowered_to_zero_sends_waiting_requests_to_a_new_connection() {
    // One stream at a time on the first connection, then none as it answers the first
    // request: the ending stream must not be handed to a waiting request (h2 would hold
    // that request unsent for good); the connection is let go of, and the waiters dial.
    let server = GoawayServer::lowering_to_zero().await;
    let client = prior_knowledge()
        .max_connections_per_host(1)
        .build()
        .unwrap();
    let tasks = spawn_gets(&client, &server.url("/"), 3);
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("a request was held on a connection that allows no stream")
            .unwrap()
            .unwrap();
    }
    assert_eq!(server.processed().len(), 3);
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn a_goaway_on_an_idle_connection_is_seen_before_the_next_request() {
    // GOAWAY reaches a connection that carries no stream; the server keeps it open. The
    // pool must let go of it as it arrives, not find out by failing the next request.
    let server = GoawayServer::goaway_when_idle().await;
    let client = prior_knowledge().build().unwrap();
    let resp = client.get(server.url("/a")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "");
    support::eventually("the connection that got GOAWAY let go", || {
        client.stats().hosts.iter().all(|h| h.http2 == 0)
    })
    .await;
    let resp = client.get(server.url("/b")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "");
    assert_eq!(client.stats().retries_refused_stream, 0);
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn a_header_list_limit_lowered_later_is_kept_to() {
    // The server's preface sets no limit; a later SETTINGS frame sets 1000 bytes. A head
    // past it fails before it is sent, and the connection serves the next request.
    let server = GoawayServer::lowering_header_list().await;
    let client = prior_knowledge().build().unwrap();
    let resp = client.get(server.url("/a")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "");
    let err = client
        .get(server.url("/b"))
        .header("x-big", "v".repeat(2000))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
    assert!(!err.request_written(), "{err}");
    let resp = client.get(server.url("/c")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "");
    assert_eq!(server.processed().len(), 2);
    assert_eq!(server.connections(), 1);
}

/// A client whose HTTP/2 connections PING when nothing was read for 100 ms and give up
/// after 200 ms more.
fn keeping_alive() -> tether::ClientBuilder {
    prior_knowledge()
        .http2_keep_alive_interval(Duration::from_millis(100))
        .http2_keep_alive_timeout(Duration::from_millis(200))
}

/// The error of a request failed by an unanswered keep-alive PING, within a bound that
/// only a hang would reach.
async fn fails_by_keep_alive<T: std::fmt::Debug>(
    attempt: impl std::future::Future<Output = Result<T, tether::Error>>,
) -> tether::Error {
    let err = tokio::time::timeout(Duration::from_secs(20), attempt)
        .await
        .expect("the request waited on a silent server instead of failing")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.is_timeout());
    assert!(err.to_string().contains("PING"), "{err}");
    err
}

#[tokio::test]
async fn an_unanswered_keep_alive_ping_fails_the_request_instead_of_waiting_forever() {
    // The server takes the request, then reads and writes nothing more on the connection.
    let server = plain(H2Script {
        freeze_after: Some(1),
        slow: Duration::from_secs(30),
        ..H2Script::default()
    })
    .await;
    let client = keeping_alive().build().unwrap();
    let err = fails_by_keep_alive(client.get(server.url("127.0.0.1", "/slow")).send()).await;
    // A first request on a new connection: not sent again, and it says it was sent.
    assert!(err.request_written(), "{err:?}");
    assert!(!err.connection_reused());
    let stats = client.stats();
    assert_eq!(stats.http2_pings_failed, 1, "{stats:?}");
    assert_eq!(stats.requests_sent, 1, "{stats:?}");
    support::eventually("the connection let go of", || client.stats().open == 0).await;
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn a_body_cut_by_an_unanswered_keep_alive_ping_says_so() {
    // The head and the first bytes of the body, then silence.
    let server = plain(H2Script {
        freeze_after: Some(1),
        slow: Duration::from_secs(30),
        ..H2Script::default()
    })
    .await;
    let client = keeping_alive().build().unwrap();
    let resp = client
        .get(server.url("127.0.0.1", "/stall"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    fails_by_keep_alive(resp.bytes()).await;
    assert_eq!(client.stats().http2_pings_failed, 1);
}

#[tokio::test]
async fn keep_alive_pings_let_a_slow_answer_through_and_keep_the_connection() {
    let server = plain(H2Script {
        slow: Duration::from_millis(800),
        ..H2Script::default()
    })
    .await;
    let client = keeping_alive()
        .http2_keep_alive_interval(Duration::from_millis(30))
        .build()
        .unwrap();
    let url = server.url("127.0.0.1", "/slow");
    for _ in 0..2 {
        assert_eq!(
            client.get(&url).send().await.unwrap().text().await.unwrap(),
            "ok"
        );
    }
    let stats = client.stats();
    assert_eq!(
        (stats.http2_pings_failed, stats.connections_opened),
        (0, 1),
        "{stats:?}"
    );
}

#[tokio::test]
async fn after_an_unanswered_keep_alive_ping_a_get_is_sent_again_and_a_post_is_not() {
    // Each connection goes silent after its second stream.
    let server = plain(H2Script {
        freeze_after: Some(2),
        slow: Duration::from_millis(300),
        ..H2Script::default()
    })
    .await;
    let client = keeping_alive().build().unwrap();
    let (first, slow) = (
        server.url("127.0.0.1", "/"),
        server.url("127.0.0.1", "/slow"),
    );
    assert_eq!(
        client
            .get(&first)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
    // The GET on the reused connection is lost with it, and sent again on a new one.
    let again = async { client.get(&slow).send().await?.text().await };
    let again = tokio::time::timeout(Duration::from_secs(20), again).await;
    assert_eq!(again.expect("not sent again").unwrap(), "ok");
    let stats = client.stats();
    assert_eq!(
        (
            stats.http2_pings_failed,
            stats.retries_close_race,
            stats.connections_opened
        ),
        (1, 1, 2),
        "{stats:?}"
    );

    let client = keeping_alive().build().unwrap();
    assert_eq!(
        client
            .get(&first)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
    let err = fails_by_keep_alive(client.post(&slow).body("once").send()).await;
    assert!(err.request_written() && err.connection_reused(), "{err:?}");
    let posts = server.seen().iter().filter(|s| s.method == "POST").count();
    assert_eq!(posts, 1, "the POST was sent once");
    assert_eq!(client.stats().connections_opened, 1);
}

#[tokio::test]
async fn while_idle_keep_alive_closes_an_idle_connection_whose_server_went_silent() {
    let server = plain(H2Script {
        freeze_after: Some(1),
        ..H2Script::default()
    })
    .await;
    let url = server.url("127.0.0.1", "/");
    let idle_too = keeping_alive()
        .http2_keep_alive_while_idle(true)
        .build()
        .unwrap();
    let busy_only = keeping_alive().build().unwrap();
    for client in [&idle_too, &busy_only] {
        assert_eq!(
            client.get(&url).send().await.unwrap().text().await.unwrap(),
            "ok"
        );
    }
    support::eventually("the silent idle connection closed", || {
        idle_too.stats().open == 0
    })
    .await;
    assert_eq!(idle_too.stats().http2_pings_failed, 1);
    // Without `while_idle`, nothing was sent on the idle connection: it is still there
    // (and would be checked before reuse).
    let stats = busy_only.stats();
    assert_eq!((stats.open, stats.http2_pings_failed), (1, 0), "{stats:?}");
}

#[tokio::test]
async fn tls_info_comes_with_http2_responses_too() {
    let ca = TestCa::new("test CA");
    let cert = ca.server_cert(NAMES);
    let der = cert.cert_der.to_vec();
    let server = over_tls(cert, &[b"h2"]).await;
    let client = trusting(&ca).tls_info(true).build().unwrap();
    for _ in 0..2 {
        let resp = client
            .get(server.url("localhost", "/"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.version(), http::Version::HTTP_2);
        let info = resp.extensions().get::<tether::tls::TlsInfo>();
        assert_eq!(info.and_then(|i| i.peer_certificate()), Some(&der[..]));
    }
    assert_eq!(client.stats().connections_opened, 1);
}

#[tokio::test]
async fn version_http2_is_sent_over_http2_and_refused_unsent_where_http11_is_spoken() {
    let ca = TestCa::new("test CA");
    let h2 = over_tls(ca.server_cert(NAMES), &[b"h2"]).await;
    let h1 = over_tls(ca.server_cert(NAMES), &[b"http/1.1"]).await;
    let client = trusting(&ca).build().unwrap();
    for version in [http::Version::HTTP_2, http::Version::HTTP_10] {
        let resp = client
            .get(h2.url("localhost", "/"))
            .version(version)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.version(), http::Version::HTTP_2);
        assert_eq!(resp.text().await.unwrap(), "ok");
    }
    let err = client
        .get(h1.url("localhost", "/"))
        .version(http::Version::HTTP_2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
    assert!(err.to_string().contains("speaks HTTP/1.1"), "{err}");
    assert!(!err.request_written());
    // The same server takes the request when it does not insist.
    let resp = client.get(h1.url("localhost", "/")).send().await.unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_11);
    // Plain http with prior knowledge: HTTP/2.
    let plain = plain(H2Script::default()).await;
    let resp = prior_knowledge()
        .build()
        .unwrap()
        .get(plain.url("127.0.0.1", "/"))
        .version(http::Version::HTTP_2)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_2);
}

/// What `client` announces when it opens an HTTP/2 connection (prior knowledge, to a raw
/// socket that answers with an empty SETTINGS frame): its SETTINGS pairs, and the
/// increment of its first WINDOW_UPDATE for the connection (0: none), read up to the
/// request's HEADERS frame.
async fn announced(client: &Client) -> (HashMap<u16, u32>, u32) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/",
        listener.local_addr().unwrap().port()
    );
    let asking = client.get(url).timeout(Duration::from_secs(10)).send();
    let request = tokio::spawn(async move { drop(asking.await) });
    let (mut sock, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .unwrap()
        .unwrap();
    let mut preface = [0u8; 24];
    sock.read_exact(&mut preface).await.unwrap();
    assert_eq!(&preface, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    sock.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap();
    let (mut settings, mut increment) = (HashMap::new(), 0);
    loop {
        let mut header = [0u8; 9];
        sock.read_exact(&mut header).await.unwrap();
        let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let (kind, flags) = (header[3], header[4]);
        let stream = u32::from_be_bytes([header[5], header[6], header[7], header[8]]);
        let mut payload = vec![0u8; len];
        sock.read_exact(&mut payload).await.unwrap();
        match kind {
            0x4 if flags & 1 == 0 => {
                for pair in payload.chunks_exact(6) {
                    let id = u16::from_be_bytes([pair[0], pair[1]]);
                    let value = u32::from_be_bytes([pair[2], pair[3], pair[4], pair[5]]);
                    settings.insert(id, value);
                }
            }
            0x8 if stream == 0 && increment == 0 => {
                increment = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
            }
            0x1 => break,
            _ => {}
        }
    }
    drop(sock);
    request.await.unwrap();
    (settings, increment)
}

#[tokio::test]
async fn the_http2_windows_and_limits_announced_are_tethers_or_the_callers() {
    const INITIAL_WINDOW_SIZE: u16 = 0x4;
    const MAX_FRAME_SIZE: u16 = 0x5;
    const MAX_HEADER_LIST_SIZE: u16 = 0x6;
    let (settings, increment) = announced(&prior_knowledge().build().unwrap()).await;
    assert_eq!(settings.get(&INITIAL_WINDOW_SIZE), Some(&(1 << 20)));
    assert_eq!(settings.get(&MAX_FRAME_SIZE), None);
    assert_eq!(
        settings.get(&MAX_HEADER_LIST_SIZE).copied(),
        Some(tether::DEFAULT_MAX_HEAD_BYTES as u32)
    );
    assert_eq!(increment, (4 << 20) - 65_535);

    let client = prior_knowledge()
        .http2_initial_stream_window_size(256 * 1024)
        .http2_initial_connection_window_size(16 << 20)
        .http2_max_frame_size(64 * 1024)
        .http2_max_header_list_size(12_345)
        .build()
        .unwrap();
    let (settings, increment) = announced(&client).await;
    assert_eq!(settings.get(&INITIAL_WINDOW_SIZE), Some(&(256 * 1024)));
    assert_eq!(settings.get(&MAX_FRAME_SIZE), Some(&(64 * 1024)));
    assert_eq!(settings.get(&MAX_HEADER_LIST_SIZE), Some(&12_345));
    assert_eq!(increment, (16 << 20) - 65_535);

    // Small windows still carry a large body, given back as it is read.
    let server = plain(H2Script::default()).await;
    let small = prior_knowledge()
        .http2_initial_stream_window_size(16 * 1024)
        .http2_initial_connection_window_size(65_535)
        .build()
        .unwrap();
    let body = small.get(server.url("127.0.0.1", "/big")).send().await;
    assert_eq!(body.unwrap().bytes().await.unwrap().len(), BIG);

    for bad in [
        prior_knowledge().http2_max_frame_size(1000).build(),
        prior_knowledge().http2_max_frame_size(1 << 24).build(),
        prior_knowledge()
            .http2_initial_stream_window_size(1 << 31)
            .build(),
        prior_knowledge()
            .http2_initial_connection_window_size(u32::MAX)
            .build(),
    ] {
        assert_eq!(bad.unwrap_err().kind(), ErrorKind::InvalidRequest);
    }
}

/// `http2_adaptive_window`: over a path with a 10 ms round trip (the delaying proxy), a
/// download held back by a 64 KiB window has its windows grown (the server is granted
/// more than 64 KiB at once); without the option it never is.
#[tokio::test]
async fn adaptive_windows_grow_on_a_long_path_and_stay_put_without() {
    use support::delay::DelayProxy;
    for adaptive in [false, true] {
        let server = plain(H2Script::default()).await;
        let proxy = DelayProxy::start(server.addr(), Duration::from_millis(5)).await;
        let client = prior_knowledge()
            .http2_initial_stream_window_size(64 * 1024)
            .http2_initial_connection_window_size(65_535)
            .http2_adaptive_window(adaptive)
            .build()
            .unwrap();
        let body = client.get(proxy.url("/big")).send().await.unwrap();
        assert_eq!(body.bytes().await.unwrap().len(), BIG);
        let granted = server.stats().max_send_capacity;
        if adaptive {
            assert!(granted > 64 * 1024, "{granted}");
        } else {
            assert!(granted <= 64 * 1024, "{granted}");
        }
    }
}

/// `min_delay_per_host` over HTTP/2: streams on the one shared connection are spaced as
/// requests on connections of their own are (the gate is kept where a stream is given,
/// and the requests that waited for the first dial wait for the gate after it). Real
/// clock, lower bounds only; the answers come back at once, so each is timed as sent.
#[tokio::test]
async fn streams_to_one_host_are_spaced_by_the_delay() {
    let server = plain(H2Script::default()).await;
    let delay = Duration::from_millis(150);
    let client = prior_knowledge().min_delay_per_host(delay).build().unwrap();
    four_streams_spaced_by(&client, server.url("127.0.0.1", "/"), delay).await;
    assert_eq!(server.stats().connections, 1, "one shared connection");
}

/// The same with the delay set for the one origin (`set_min_delay_for_host`), the client
/// having none.
#[tokio::test]
async fn streams_to_an_origin_with_its_own_delay_are_spaced_by_it() {
    let server = plain(H2Script::default()).await;
    let delay = Duration::from_millis(150);
    let client = prior_knowledge().build().unwrap();
    let url = server.url("127.0.0.1", "/");
    client.set_min_delay_for_host(&url, Some(delay)).unwrap();
    four_streams_spaced_by(&client, url, delay).await;
    assert_eq!(server.stats().connections, 1, "one shared connection");
}

/// Four GETs of `url` started together go out at least `delay` apart (less 20 ms).
async fn four_streams_spaced_by(client: &tether::Client, url: String, delay: Duration) {
    let t0 = std::time::Instant::now();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let resp = client.get(url).send().await?;
                let at = t0.elapsed();
                resp.text().await.map(|_| at)
            })
        })
        .collect();
    let mut answered = Vec::new();
    for task in tasks {
        answered.push(task.await.unwrap().unwrap());
    }
    answered.sort();
    for pair in answered.windows(2) {
        assert!(
            pair[1] - pair[0] + Duration::from_millis(20) >= delay,
            "{answered:?}"
        );
    }
    assert_eq!(client.stats().polite_waits, 3);
}

/// At the global cap, an HTTP/2 connection whose last stream has ended is let go of for a
/// request of another host waiting for the slot, as a released HTTP/1.1 connection is
/// closed then. Before, it held the slot until its idle timeout (here a minute): the
/// other host's request waited that long.
#[tokio::test]
async fn at_the_global_cap_an_http2_connection_done_with_its_streams_gives_its_slot_up() {
    let a = plain(H2Script {
        slow: Duration::from_millis(100),
        ..H2Script::default()
    })
    .await;
    let b = plain(H2Script::default()).await;
    let client = prior_knowledge()
        .max_connections_total(1)
        .idle_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let slow = {
        let (client, url) = (client.clone(), a.url("127.0.0.1", "/slow"));
        tokio::spawn(async move { client.get(url).send().await?.text().await })
    };
    // b's request waits at the global cap while a's stream is in use.
    while a.seen().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let answer = client
        .get(b.url("127.0.0.1", "/"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("the slot came free when a's stream ended");
    assert_eq!(answer.text().await.unwrap(), "ok");
    assert_eq!(slow.await.unwrap().unwrap(), "ok");
    let stats = client.stats();
    assert!(stats.evicted >= 1, "{stats:?}");
    assert_eq!(b.stats().connections, 1);
}

/// Fairness across hosts at the global cap holds over HTTP/2 too (DESIGN.md §1b): a host
/// holding more than its share of the cap lets go of a connection as one of its streams
/// ends, instead of handing the stream to its own next waiter, so that its slot goes to
/// the next host in the round. Before, a host with a long line kept every connection it
/// had until its line was empty: with one stream per connection (as `polite()` sets) or
/// a few, the small hosts here waited for all of the big host's requests.
#[tokio::test]
async fn at_the_global_cap_a_host_above_its_share_gives_http2_slots_to_the_others() {
    for streams in [1, 3] {
        fair_over_http2(streams).await;
    }
}

async fn fair_over_http2(streams: usize) {
    use support::fair::Completions;

    const CAP: usize = 4;
    const BIG: usize = 240;
    const SMALL_HOSTS: usize = 6;
    const SMALL: usize = 3;
    let script = || H2Script {
        slow: Duration::from_millis(10),
        ..H2Script::default()
    };
    let big = plain(script()).await;
    let mut small = Vec::new();
    for _ in 0..SMALL_HOSTS {
        small.push(plain(script()).await);
    }
    let client = prior_knowledge()
        .max_connections_per_host(CAP)
        .max_connections_total(CAP)
        .http2_max_streams_per_connection(streams)
        .build()
        .unwrap();
    let done = Completions::default();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..BIG {
        done.spawn(&mut tasks, &client, big.url("127.0.0.1", "/slow"), None);
    }
    let in_flight = CAP * streams;
    while client.stats().waiters + done.len() < BIG - in_flight {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for (h, server) in small.iter().enumerate() {
        for _ in 0..SMALL {
            done.spawn(
                &mut tasks,
                &client,
                server.url("127.0.0.1", "/slow"),
                Some(h),
            );
        }
    }
    let most = support::most_open_until_done(&client, &mut tasks).await;
    assert!(
        (1..=CAP).contains(&most),
        "{most} open at once; the cap is {CAP}"
    );
    assert_eq!(done.len(), BIG + SMALL_HOSTS * SMALL);
    for h in 0..SMALL_HOSTS {
        let big_done = done.big_done_when_done(h);
        assert!(
            big_done < BIG / 2,
            "{streams} stream(s) per connection: small host {h} finished after {big_done} \
             of the big host's {BIG} requests"
        );
    }
    for server in small.iter().chain([&big]) {
        assert!(server.stats().max_streams_open <= streams);
    }
    let stats = client.stats();
    println!(
        "{streams} stream(s) per connection: all small hosts done after {} of {BIG} \
         big-host requests; {} connections opened, {} let go for another host",
        done.big_done_when_all_done(),
        stats.connections_opened,
        stats.evicted
    );
    assert!(stats.evicted >= 1, "{stats:?}");
}
