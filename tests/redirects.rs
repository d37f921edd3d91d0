//! Redirects through real sockets: each redirect status with each method, `Location`
//! forms, the final URL, unusable locations, limits and loops, a stream body at 307,
//! credentials dropped across origins (a second host on 127.0.0.2), retries on each hop,
//! and chains at a cap of 2 that never wait on each other.

mod support;

use std::time::Duration;

use support::{Reply, Script, TestServer};
use tether::redirect::Policy;
use tether::{Client, ErrorKind};

/// Answers `/start*` with `status` to `/final`, and `/final` with the method and body it got.
fn redirecting(status: u16) -> Script {
    Script::new().respond(move |req| {
        if req.target.starts_with("/start") {
            Reply::status(status).with_header("Location", "/final")
        } else {
            let echo = format!("{} {}", req.method, String::from_utf8_lossy(&req.body));
            Reply::ok(echo)
        }
    })
}

#[tokio::test]
async fn each_status_with_each_method() {
    // (status, method sent, method that reaches /final, body kept)
    let rows = [
        (301, "GET", "GET", false),
        (301, "POST", "GET", false),
        (301, "PUT", "PUT", true),
        (302, "POST", "GET", false),
        (302, "DELETE", "DELETE", true),
        (303, "POST", "GET", false),
        (303, "PUT", "GET", false),
        (303, "HEAD", "HEAD", false),
        (307, "POST", "POST", true),
        (307, "PUT", "PUT", true),
        (308, "POST", "POST", true),
        (308, "GET", "GET", false),
    ];
    for (status, method, reached, keeps_body) in rows {
        let server = TestServer::start(redirecting(status)).await;
        let client = Client::new();
        let method = http::Method::from_bytes(method.as_bytes()).unwrap();
        let sends_body = method != http::Method::GET && method != http::Method::HEAD;
        let mut req = client.request(method.clone(), server.url("/start"));
        if sends_body {
            req = req.header("content-type", "text/plain").body("payload");
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200, "{status} {method}");
        assert_eq!(resp.url().path(), "/final", "{status} {method}");
        let reqs = server.requests();
        assert_eq!(reqs.len(), 2, "{status} {method}");
        let last = &reqs[1];
        assert_eq!(last.method, reached, "{status} {method}");
        let has_body = sends_body && keeps_body;
        assert_eq!(
            last.body,
            if has_body { &b"payload"[..] } else { &b""[..] },
            "{status} {method}"
        );
        assert_eq!(
            last.header("content-type").is_some(),
            has_body,
            "{status} {method}: Content-* goes with the body"
        );
        if reached != "HEAD" {
            let text = resp.text().await.unwrap();
            assert!(text.starts_with(reached), "{status} {method}: {text}");
        }
        assert_eq!(client.stats().redirects, 1);
    }
}

#[tokio::test]
async fn locations_resolve_and_the_final_url_keeps_the_fragment() {
    let server = TestServer::start(Script::new().respond(|req| match req.target.as_str() {
        "/a/b" => Reply::status(302).with_header("Location", "c?x=1"),
        "/a/c?x=1" => Reply::status(301).with_header("Location", "../d"),
        "/d" => Reply::ok("done"),
        other => Reply::status(404).with_header("X-Target", other),
    }))
    .await;
    let client = Client::new();
    let resp = client.get(server.url("/a/b#section")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.url().path(), "/d");
    assert_eq!(resp.url().fragment(), Some("section"));
    assert_eq!(resp.text().await.unwrap(), "done");
    assert_eq!(client.stats().redirects, 2);
    assert_eq!(
        server.stats().accepted,
        1,
        "the chain reused one connection"
    );
}

/// A server whose `/same` (with any query) redirects to `/cross` on itself, and `/cross`
/// to `/landing` on the other server returned (on 127.0.0.2: another origin).
async fn same_then_other() -> (TestServer, TestServer) {
    let other = TestServer::start_on("127.0.0.2", Script::new()).await;
    let to_other = other.url("/landing");
    let server =
        TestServer::start(
            Script::new().respond(move |req| match req.target.split('?').next() {
                Some("/same") => Reply::status(302).with_header("Location", "/cross"),
                Some("/cross") => Reply::status(307).with_header("Location", &to_other),
                _ => Reply::ok("?"),
            }),
        )
        .await;
    (server, other)
}

#[tokio::test]
async fn credentials_are_dropped_when_the_origin_changes() {
    let (server, other) = same_then_other().await;
    let client = Client::new();
    let resp = client
        .get(server.url("/same"))
        .bearer_auth("secret-token")
        .header("cookie", "session=1")
        .header("proxy-authorization", "Basic eDp5")
        .header("x-keep", "yes")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok");
    let here = server.requests();
    assert_eq!(here[1].target, "/cross");
    assert_eq!(
        here[1].header("authorization"),
        Some("Bearer secret-token"),
        "same origin keeps it"
    );
    assert_eq!(here[1].header("cookie"), Some("session=1"));
    let there = &other.requests()[0];
    for name in ["authorization", "cookie", "proxy-authorization"] {
        assert_eq!(there.header(name), None, "{name} crossed origins");
    }
    assert_eq!(there.header("x-keep"), Some("yes"));
}

#[tokio::test]
async fn unusable_locations_return_the_redirect_itself() {
    let server = TestServer::start(Script::new().respond(|req| match req.target.as_str() {
        "/none" => Reply::status(302),
        "/ftp" => Reply::status(301).with_header("Location", "ftp://127.0.0.1/file"),
        "/garbage" => Reply::status(302).with_header("Location", "http://[::1"),
        _ => Reply::ok("?"),
    }))
    .await;
    let client = Client::new();
    for path in ["/none", "/ftp", "/garbage"] {
        let resp = client.get(server.url(path)).send().await.unwrap();
        assert!(resp.status().is_redirection(), "{path}");
        assert_eq!(resp.url().path(), path);
    }
    assert_eq!(server.stats().requests, 3);
    assert_eq!(client.stats().redirects, 0);
}

/// `/hop/N` redirects to `/hop/N+1`; `/loop` redirects to itself.
fn chain_server() -> Script {
    Script::new().respond(|req| {
        if let Some(n) = req.target.strip_prefix("/hop/") {
            let n: u32 = n.parse().unwrap_or(0);
            if n >= 5 {
                return Reply::ok("end");
            }
            return Reply::status(302).with_header("Location", &format!("/hop/{}", n + 1));
        }
        Reply::status(302).with_header("Location", "/loop")
    })
}

#[tokio::test]
async fn past_the_limit_or_on_a_loop_is_a_redirect_error_naming_the_url() {
    let server = TestServer::start(chain_server()).await;
    let limited = Client::builder()
        .redirect(Policy::limited(2))
        .build()
        .unwrap();
    let err = limited.get(server.url("/hop/0")).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Redirect, "{err:?}");
    assert!(err.is_redirect());
    assert_eq!(err.url().map(|u| u.path()), Some("/hop/3"));
    assert!(err.to_string().contains("/hop/3"), "{err}");
    let default = Client::new();
    let resp = default.get(server.url("/hop/0")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "end");
    let err = default.get(server.url("/loop")).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Redirect);
    assert!(err.to_string().contains("loop"), "{err}");
    let stats = default.stats();
    assert_eq!((stats.in_use, stats.waiters), (0, 0));
    let none = Client::builder().redirect(Policy::none()).build().unwrap();
    let resp = none.get(server.url("/hop/0")).send().await.unwrap();
    assert_eq!(resp.status(), 302);
}

#[tokio::test]
async fn a_custom_policy_decides_each_hop() {
    let server = TestServer::start(chain_server()).await;
    let client = Client::builder()
        .redirect(Policy::custom(|attempt| {
            if attempt.url().path() == "/hop/2" {
                attempt.stop()
            } else {
                attempt.follow()
            }
        }))
        .build()
        .unwrap();
    let resp = client.get(server.url("/hop/0")).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.url().path(), "/hop/1");
}

#[tokio::test]
async fn a_stream_body_ends_the_chain_at_a_307() {
    let server = TestServer::start(redirecting(307)).await;
    let client = Client::new();
    let body = tether::Body::wrap_stream(support::stream::OneChunk::new(b"streamed"));
    let resp = client
        .post(server.url("/start"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 307);
    assert_eq!(server.stats().requests, 1);
}

#[tokio::test]
async fn retries_apply_to_each_hop() {
    // The hop to /final meets a 408 first: it is retried, and the chain goes on.
    let server = TestServer::start(Script::new().respond(|req| {
        if req.target == "/start" {
            Reply::status(302).with_header("Location", "/final")
        } else if req.seq == 1 {
            Reply::status(408).closing()
        } else {
            Reply::ok("after retry")
        }
    }))
    .await;
    let client = Client::new();
    let resp = client.get(server.url("/start")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "after retry");
    assert_eq!(client.stats().retries_408, 1);
    assert_eq!(client.stats().redirects, 1);
}

#[tokio::test]
async fn chains_at_a_cap_of_two_hold_one_slot_each_and_never_wait_on_each_other() {
    // 8 concurrent chains of 3 hops on one host at the polite cap of 2. Each 3xx body
    // arrives after its head, so it has to be read before the hop goes on; a chain that
    // held its slot across hops would wait for itself.
    let server = TestServer::start(Script::new().respond(|req| {
        let Some(rest) = req.target.strip_prefix("/chain/") else {
            return Reply::ok("?");
        };
        let (id, n) = rest.split_once('/').unwrap_or(("x", "0"));
        let n: u32 = n.parse().unwrap_or(0);
        if n >= 3 {
            return Reply::ok(format!("chain {id} done"));
        }
        let next = format!("/chain/{id}/{}", n + 1);
        let body = b"moved, see the Location header".to_vec();
        let head = format!(
            "HTTP/1.1 302 Found\r\nLocation: {next}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        Reply::Drip {
            head: head.into_bytes(),
            body,
            every: Duration::from_millis(1),
        }
    }))
    .await;
    let client = Client::builder()
        .polite()
        .pool_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let chains: Vec<_> = (0..8)
        .map(|id| {
            let client = client.clone();
            let url = server.url(&format!("/chain/{id}/0"));
            tokio::spawn(async move { client.get(url).send().await?.text().await })
        })
        .collect();
    for (id, chain) in chains.into_iter().enumerate() {
        let text = chain.await.unwrap().unwrap();
        assert_eq!(text, format!("chain {id} done"));
    }
    let stats = client.stats();
    assert_eq!(stats.redirects, 24);
    assert!(server.stats().max_open <= 2, "{:?}", server.stats());
    assert_eq!((stats.in_use, stats.waiters), (0, 0));
}

#[tokio::test]
async fn default_credentials_are_not_sent_to_another_origin() {
    let (server, other) = same_then_other().await;
    // Defaults tether encodes once (`authorization`, `x-keep`), and with ones it keeps in
    // each request's list (`cookie`, `proxy-authorization`).
    let mut defaults = http::HeaderMap::new();
    defaults.insert("authorization", "Bearer default-token".parse().unwrap());
    defaults.insert("x-keep", "yes".parse().unwrap());
    let mut listed = defaults.clone();
    listed.insert("cookie", "session=2".parse().unwrap());
    listed.insert("proxy-authorization", "Basic eDp5".parse().unwrap());
    for (round, defaults) in [defaults, listed].into_iter().enumerate() {
        let client = Client::builder().default_headers(defaults).build().unwrap();
        let resp = client.get(server.url("/same")).send().await.unwrap();
        assert_eq!(resp.text().await.unwrap(), "ok");
        let here = server.requests();
        let here = &here[here.len() - 2..];
        assert_eq!(here[1].target, "/cross");
        assert_eq!(
            here[1].header_all("authorization"),
            vec!["Bearer default-token"],
            "same origin keeps it ({round})"
        );
        assert_eq!(here[1].header_all("x-keep"), vec!["yes"]);
        let there = other.requests();
        let there = &there[round];
        for name in ["authorization", "cookie", "proxy-authorization"] {
            assert_eq!(there.header(name), None, "{name} crossed origins ({round})");
        }
        assert_eq!(there.header_all("x-keep"), vec!["yes"], "({round})");
    }
}

#[tokio::test]
async fn a_callers_host_header_stays_with_its_origin() {
    let (server, other) = same_then_other().await;
    let authority = other
        .url("/landing")
        .trim_start_matches("http://")
        .trim_end_matches("/landing")
        .to_string();
    let client = Client::new();
    let resp = client
        .get(server.url("/same"))
        .header("host", "api.example.test")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok");
    let here = server.requests();
    assert_eq!(here[1].target, "/cross");
    assert_eq!(
        here[1].header("host"),
        Some("api.example.test"),
        "the same origin keeps the caller's Host"
    );
    let there = &other.requests()[0];
    assert_eq!(
        there.header_all("host"),
        vec![authority.as_str()],
        "another origin is named by its own URL"
    );
}

/// Each hop says where it came from: the whole URL within its origin (no fragment), the
/// origin alone to another, so the query's token stays home. `referer(false)` sends none
/// of its own and leaves the caller's `Referer` as it was.
#[tokio::test]
async fn each_hop_says_where_it_came_from() {
    let (server, other) = same_then_other().await;
    let start = format!("{}?token=abc#part", server.url("/same"));
    Client::new().get(&start).send().await.unwrap();
    let home = server.requests();
    assert_eq!(
        home[0].header("referer"),
        None,
        "the first request has none"
    );
    let from_same = server.url("/same?token=abc");
    assert_eq!(home[1].header("referer"), Some(from_same.as_str()));
    let origin = server.url("/");
    assert_eq!(other.requests()[0].header("referer"), Some(origin.as_str()));

    let quiet = Client::builder().referer(false).build().unwrap();
    let mine = "http://mine.test/";
    quiet
        .get(&start)
        .header("referer", mine)
        .send()
        .await
        .unwrap();
    let (home, away) = (server.requests(), other.requests());
    assert_eq!((home.len(), away.len()), (4, 2));
    for r in home[2..].iter().chain(&away[1..]) {
        assert_eq!(r.header_all("referer"), [mine], "{}", r.target);
    }
}

/// A redirect whose body stalls after a few bytes does not hold the request: its body is
/// read for `drain_timeout` at most, its connection closed, and the redirect followed.
/// Before, a client without timeouts waited for the rest of the body forever.
#[tokio::test]
async fn a_redirect_whose_body_stalls_is_followed_after_the_drain_timeout() {
    let server = TestServer::start(Script::new().respond(|req| {
        if req.target == "/start" {
            Reply::StallMidBody {
                head: b"HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 100\r\n\r\n"
                    .to_vec(),
                sent: b"moved".to_vec(),
            }
        } else {
            Reply::ok("arrived")
        }
    }))
    .await;
    let client = Client::builder()
        .drain_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let sent = client.get(server.url("/start")).send();
    let resp = tokio::time::timeout(support::WAIT_LIMIT, sent)
        .await
        .expect("the redirect is followed, not waited on")
        .unwrap();
    assert_eq!(resp.url().path(), "/next");
    assert_eq!(resp.text().await.unwrap(), "arrived");
    assert_eq!(client.stats().redirects, 1);
    // The stalled connection was closed; the next hop went on a new one.
    assert_eq!(server.stats().accepted, 2);
}
