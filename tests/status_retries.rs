//! Status retries (`RetryPolicy`) and the retry budget, through the public API against a
//! scripted server on 127.0.0.1: a `503` or `429` with a short `Retry-After` is asked
//! again once by default, never for a request that could run twice, never past the
//! deadline, and never more than the client's budget allows.

mod support;

use std::time::Duration;

use support::{Reply, Script, TestServer};
use tether::{Client, RetryPolicy};

fn unavailable(retry_after: &str) -> Reply {
    Reply::status(503).with_header("retry-after", retry_after)
}

#[tokio::test]
async fn a_503_with_retry_after_is_asked_again_once_by_default() {
    let server = TestServer::start(
        Script::new().sequence(vec![unavailable("0"), Reply::ok("second time lucky")]),
    )
    .await;
    let client = Client::new();
    let resp = client.get(server.url("/flaky")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "second time lucky");
    assert_eq!(server.stats().requests, 2);
    assert_eq!(client.stats().retries_status, 1);
    // The 503's body was read before the retry: both went over one connection.
    assert_eq!(server.stats().accepted, 1);
}

#[tokio::test]
async fn the_default_waits_as_long_as_retry_after_says() {
    let server = TestServer::start(Script::new().sequence(vec![
        Reply::status(429).with_header("retry-after", "1"),
        Reply::ok("ok"),
    ]))
    .await;
    let client = Client::new();
    let started = tokio::time::Instant::now();
    let resp = client.get(server.url("/limited")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn without_retry_after_or_past_ten_seconds_or_twice_the_answer_is_returned() {
    for (reply, what) in [
        (Reply::status(503), "no Retry-After"),
        (unavailable("11"), "Retry-After past 10 s"),
        (
            Reply::status(502).with_header("retry-after", "0"),
            "502 is not retried by default",
        ),
    ] {
        let server = TestServer::start(Script::new().always(reply)).await;
        let client = Client::new();
        let resp = client.get(server.url("/")).send().await.unwrap();
        assert!(resp.status().is_server_error(), "{what}");
        assert_eq!(server.stats().requests, 1, "{what}");
    }
    // Retried once, and the second 503 is returned.
    let server = TestServer::start(Script::new().always(unavailable("0"))).await;
    let resp = Client::new().get(server.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(server.stats().requests, 2);
}

#[tokio::test]
async fn a_post_is_never_asked_again_unless_it_says_it_is_safe() {
    let server = TestServer::start(Script::new().always(unavailable("0"))).await;
    let client = Client::new();
    let resp = client
        .post(server.url("/pay"))
        .body("10 EUR")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(server.stats().requests, 1);
    let resp = client
        .post(server.url("/pay"))
        .header("idempotency-key", "k1")
        .body("10 EUR")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(server.stats().requests, 3, "the keyed POST was sent twice");
    let bodies: Vec<_> = server.requests().into_iter().map(|r| r.body).collect();
    assert!(bodies.iter().all(|b| b == b"10 EUR"), "{bodies:?}");
    // A streamed body cannot be sent again.
    let chunks = support::stream::OneChunk::new(b"streamed");
    let resp = client
        .put(server.url("/file"))
        .body_stream(chunks)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(server.stats().requests, 4);
}

#[tokio::test]
async fn a_wait_that_would_pass_the_deadline_is_not_made() {
    let server = TestServer::start(Script::new().always(unavailable("5"))).await;
    let client = Client::new();
    // Waiting 5 s would end in a timeout error: the 503 comes back instead.
    let resp = client
        .get(server.url("/"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(server.stats().requests, 1);
}

#[tokio::test]
async fn opted_in_statuses_attempts_and_backoff() {
    let server = TestServer::start(Script::new().sequence(vec![
        Reply::status(502),
        Reply::status(504),
        Reply::status(503),
        Reply::ok("finally"),
    ]))
    .await;
    let policy = RetryPolicy::default()
        .statuses([502, 503, 504])
        .max_retries(3)
        .backoff(Duration::from_millis(20));
    let client = Client::builder().retry(policy).build().unwrap();
    let resp = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "finally");
    assert_eq!(server.stats().requests, 4);
    assert_eq!(client.stats().retries_status, 3);
}

#[tokio::test]
async fn never_turns_it_off() {
    let server = TestServer::start(Script::new().always(unavailable("0"))).await;
    let client = Client::builder()
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
    let resp = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(server.stats().requests, 1);
}

#[tokio::test]
async fn a_host_that_answers_503_to_everything_gets_only_the_budget_in_retries() {
    let server = TestServer::start(Script::new().always(unavailable("0"))).await;
    // Every request would be retried up to 5 times without the budget.
    let client = Client::builder()
        .retry(RetryPolicy::default().max_retries(5))
        .build()
        .unwrap();
    const REQUESTS: u64 = 100;
    for _ in 0..REQUESTS {
        let resp = client.get(server.url("/down")).send().await.unwrap();
        assert_eq!(resp.status(), 503);
    }
    let stats = client.stats();
    // The budget: 20% of the requests of the last 10 s, plus 1 a second (10).
    let budget = REQUESTS / 5 + 10;
    assert!(
        stats.retries_status <= budget,
        "{} retries for {REQUESTS} requests",
        stats.retries_status
    );
    assert!(stats.retries_status >= budget - 2, "{stats:?}");
    assert!(stats.retries_refused_by_budget > 0, "{stats:?}");
    assert_eq!(
        server.stats().requests as u64,
        REQUESTS + stats.retries_status
    );
}

/// A `503` whose body stalls after a few bytes: the body is read only until the retry is
/// due, its connection closed, and the retry goes out when `Retry-After` said, inside the
/// deadline. Before, the body was read until the deadline and the wait taken after it, so
/// the retry could only fail.
#[tokio::test]
async fn a_503_whose_body_stalls_is_still_asked_again_when_retry_after_says() {
    let server = TestServer::start(Script::new().respond(|req| {
        if req.seq == 0 {
            Reply::StallMidBody {
                head: b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\n\
                        Content-Length: 100\r\n\r\n"
                    .to_vec(),
                sent: b"busy".to_vec(),
            }
        } else {
            Reply::ok("second time lucky")
        }
    }))
    .await;
    let client = Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let resp = client.get(server.url("/flaky")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "second time lucky");
    assert_eq!(client.stats().retries_status, 1);
    // The stalled connection was closed; the retry went on a new one.
    assert_eq!(server.stats().accepted, 2);
}
