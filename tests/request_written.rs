//! What an error says of the request when it comes after the server answered it: from the
//! body, from what the caller asks of the response, or from a later hop of a redirect.
//! The server has the request then, so `request_written()` is true: a caller deciding
//! whether to send a POST again must not be told that it never went out.

mod support;

use std::time::Duration;

use support::{Reply, Script, TestServer};
use tether::ErrorKind;

fn client() -> tether::Client {
    tether::Client::builder()
        .timeout(Duration::from_secs(5))
        .max_body_bytes(1_000)
        .build()
        .expect("client")
}

fn check(e: &tether::Error, kind: ErrorKind) {
    assert_eq!(e.kind(), kind, "{e:?}");
    assert!(e.request_written() && e.request_fully_written(), "{e:?}");
}

#[tokio::test]
async fn errors_after_the_answer_say_the_request_was_written() {
    let server = TestServer::start(Script::new().respond(|req| match req.target.as_str() {
        "/big" => Reply::ok(vec![b'x'; 100_000]),
        "/big-chunked" => Reply::chunked(vec![b'x'; 100_000], 4_096),
        "/fail" => Reply::status(500),
        _ => Reply::ok("not json"),
    }))
    .await;
    let client = client();
    let post = |path: &str| client.post(server.url(path)).body("payload").send();

    let e = post("/big").await.expect("head").bytes().await.unwrap_err();
    check(&e, ErrorKind::Body);
    let e = post("/big-chunked")
        .await
        .expect("head")
        .bytes()
        .await
        .unwrap_err();
    check(&e, ErrorKind::Body);
    let e = post("/big").await.expect("head").text().await.unwrap_err();
    check(&e, ErrorKind::Body);
    let e = post("/fail")
        .await
        .expect("head")
        .error_for_status()
        .unwrap_err();
    check(&e, ErrorKind::Status);
    let e = post("/json")
        .await
        .expect("head")
        .json::<Vec<u32>>()
        .await
        .unwrap_err();
    check(&e, ErrorKind::Decode);
    assert_eq!(server.stats().requests, 5);
}

#[tokio::test]
async fn a_redirected_request_that_fails_on_a_later_hop_says_it_was_written() {
    // A port with nothing listening: the redirect's hop cannot connect.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://{}/", closed.local_addr().expect("addr"));
    drop(closed);
    let server = TestServer::start(Script::new().respond(move |req| match req.target.as_str() {
        "/away" => Reply::status(307).with_header("location", &dead),
        _ => Reply::status(302).with_header("location", "/loop"),
    }))
    .await;
    let client = client();

    let e = client
        .post(server.url("/away"))
        .body("payload")
        .send()
        .await
        .unwrap_err();
    check(&e, ErrorKind::Connect);
    let e = client
        .post(server.url("/loop"))
        .body("payload")
        .send()
        .await
        .unwrap_err();
    check(&e, ErrorKind::Redirect);
    assert_eq!(server.stats().requests, 3);
}
