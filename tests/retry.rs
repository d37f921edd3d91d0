//! Retries (DESIGN.md §1): after a close race on a reused connection only idempotent (or
//! `Idempotency-Key`) requests with a replayable body are retried, on a fresh connection;
//! a first request on a fresh connection that fails so is never retried; a `408` is
//! retried once.

mod support;

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use support::{Reply, Script, TestServer};
use tether::{Client, ErrorKind};

/// The second request on the first connection is read and then the connection is closed
/// without a byte of answer; every other request gets `200 ok`.
fn close_race() -> Script {
    Script::new().respond(|req| {
        if req.conn == 0 && req.index_on_conn == 1 {
            Reply::CloseWithoutAnswer
        } else {
            Reply::ok("ok")
        }
    })
}

/// A body of unknown size, given piece by piece.
struct Pieces(Vec<&'static [u8]>);

impl Stream for Pieces {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.0.is_empty() {
            Poll::Ready(None)
        } else {
            Poll::Ready(Some(Ok(Bytes::from_static(self.0.remove(0)))))
        }
    }
}

/// A first request that leaves an idle connection for the next one to reuse.
async fn warm_up(client: &Client, server: &TestServer) {
    let resp = client.get(server.url("/warm")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok");
    assert_eq!(client.stats().idle, 1);
}

fn count(server: &TestServer, method: &str, target: &str) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.method == method && r.target == target)
        .count()
}

#[tokio::test]
async fn get_after_a_close_race_on_a_reused_conn_is_retried_on_a_fresh_one() {
    let server = TestServer::start(close_race()).await;
    let client = Client::new();
    warm_up(&client, &server).await;
    let resp = client.get(server.url("/x")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok");
    let stats = client.stats();
    assert_eq!(stats.retries_close_race, 1);
    assert_eq!(stats.connections_opened, 2);
    let s = server.stats();
    assert_eq!(s.accepted, 2);
    assert_eq!(s.requests_per_conn, vec![2, 1]);
    assert_eq!(count(&server, "GET", "/x"), 2);
}

#[tokio::test]
async fn post_after_a_close_race_is_not_retried() {
    let server = TestServer::start(close_race()).await;
    let client = Client::new();
    warm_up(&client, &server).await;
    let err = client
        .post(server.url("/pay"))
        .body("amount=1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ClosedBeforeResponse);
    assert!(err.request_written());
    assert!(err.connection_reused());
    assert_eq!(count(&server, "POST", "/pay"), 1);
    assert_eq!(server.stats().accepted, 1);
    assert_eq!(client.stats().retries_close_race, 0);
}

#[tokio::test]
async fn post_with_idempotency_key_after_a_close_race_is_retried() {
    let server = TestServer::start(close_race()).await;
    let client = Client::new();
    warm_up(&client, &server).await;
    let resp = client
        .post(server.url("/pay"))
        .header("Idempotency-Key", "8e03978e")
        .body("amount=1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let posts: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 2);
    assert_eq!((posts[0].conn, posts[1].conn), (0, 1));
    assert!(posts.iter().all(|r| r.body == b"amount=1"));
    assert_eq!(client.stats().retries_close_race, 1);
}

#[tokio::test]
async fn streamed_body_after_a_close_race_is_not_retried() {
    let server = TestServer::start(close_race()).await;
    let client = Client::new();
    warm_up(&client, &server).await;
    // PUT is idempotent: only the body that cannot be replayed stops the retry.
    let err = client
        .put(server.url("/upload"))
        .body_stream(Pieces(vec![b"part one, ", b"part two"]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ClosedBeforeResponse);
    let puts: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(puts.len(), 1);
    assert_eq!(puts[0].body, b"part one, part two");
    assert_eq!(server.stats().accepted, 1);
    assert_eq!(client.stats().retries_close_race, 0);
}

#[tokio::test]
async fn close_before_response_on_a_fresh_conn_is_never_retried() {
    let server = TestServer::start(Script::new().respond(|req| {
        if req.conn == 0 {
            Reply::CloseWithoutAnswer
        } else {
            Reply::ok("ok")
        }
    }))
    .await;
    let client = Client::new();
    let err = client.get(server.url("/first")).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ClosedBeforeResponse);
    assert!(!err.connection_reused());
    assert_eq!(server.stats().accepted, 1);
    assert_eq!(server.stats().requests, 1);
    let stats = client.stats();
    assert_eq!(stats.retries_close_race + stats.retries_nothing_written, 0);
}

#[tokio::test]
async fn reset_before_response_on_a_reused_conn_is_retried_for_a_get() {
    let server = TestServer::start(Script::new().respond(|req| {
        if req.conn == 0 && req.index_on_conn == 1 {
            Reply::Reset
        } else {
            Reply::ok("ok")
        }
    }))
    .await;
    let client = Client::new();
    warm_up(&client, &server).await;
    let resp = client.get(server.url("/x")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok");
    assert_eq!(client.stats().retries_close_race, 1);
    assert_eq!(server.stats().accepted, 2);
}

#[tokio::test]
async fn a_408_on_a_reused_conn_is_retried_once_on_a_fresh_one() {
    let server = TestServer::start(Script::new().respond(|req| {
        if req.conn == 0 && req.index_on_conn == 1 {
            Reply::status(408)
        } else {
            Reply::ok("ok")
        }
    }))
    .await;
    let client = Client::new();
    warm_up(&client, &server).await;
    let resp = client.get(server.url("/x")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok");
    assert_eq!(client.stats().retries_408, 1);
    assert_eq!(server.stats().requests_per_conn, vec![2, 1]);
}

#[tokio::test]
async fn a_second_408_is_returned_to_the_caller() {
    let server = TestServer::start(Script::new().respond(|req| {
        if req.target == "/warm" {
            Reply::ok("ok")
        } else {
            Reply::status(408)
        }
    }))
    .await;
    let client = Client::new();
    warm_up(&client, &server).await;
    let resp = client.get(server.url("/x")).send().await.unwrap();
    assert_eq!(resp.status(), 408);
    assert_eq!(client.stats().retries_408, 1);
    assert_eq!(count(&server, "GET", "/x"), 2);
    assert_eq!(server.stats().accepted, 2);
}

#[tokio::test]
async fn a_408_to_a_post_with_a_replayable_body_is_retried_once() {
    let server = TestServer::start(Script::new().respond(|req| {
        if req.seq == 0 {
            Reply::status(408)
        } else {
            Reply::ok("ok")
        }
    }))
    .await;
    let client = Client::new();
    let resp = client
        .post(server.url("/form"))
        .body("a=1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let posts = server.requests();
    assert_eq!(posts.len(), 2);
    assert!(posts.iter().all(|r| r.body == b"a=1"));
    assert_eq!(client.stats().retries_408, 1);
}

#[tokio::test]
async fn a_408_to_a_streamed_body_is_returned_to_the_caller() {
    let server = TestServer::start(Script::new().always(Reply::status(408))).await;
    let client = Client::new();
    let resp = client
        .post(server.url("/upload"))
        .body_stream(Pieces(vec![b"abc"]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 408);
    assert_eq!(server.stats().requests, 1);
    assert_eq!(client.stats().retries_408, 0);
}
