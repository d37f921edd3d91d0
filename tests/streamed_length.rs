//! A streamed request body with the caller's `Content-Length`: sent as it is (not
//! chunked) and held to that length, over HTTP/1.1 and HTTP/2. A stream that ends short
//! or runs long fails the request before its last byte is sent, so the server never sees
//! a complete request that is not the one the caller declared.

mod support;

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use support::h2::{H2Script, H2Server};
use support::stream::iter;
use support::{Reply, Script, TestServer};

fn pieces(sizes: &[usize]) -> Vec<Result<Bytes, std::io::Error>> {
    let mut next = 0u8;
    sizes
        .iter()
        .map(|&n| {
            let piece: Vec<u8> = (0..n)
                .map(|_| {
                    next = next.wrapping_add(7);
                    next
                })
                .collect();
            Ok(Bytes::from(piece))
        })
        .collect()
}

fn joined(sizes: &[usize]) -> Vec<u8> {
    pieces(sizes)
        .into_iter()
        .flat_map(|p| p.expect("piece").to_vec())
        .collect()
}

async fn post_declared(
    client: &tether::Client,
    url: &str,
    declared: &str,
    sizes: &[usize],
) -> Result<tether::Response, tether::Error> {
    client
        .post(url)
        .header(CONTENT_LENGTH, declared)
        .body(tether::Body::wrap_stream(iter(pieces(sizes))))
        .send()
        .await
}

#[tokio::test]
async fn a_streamed_body_with_a_content_length_goes_as_it_is() {
    let server = TestServer::start(Script::new().always(Reply::ok("ok"))).await;
    let client = tether::Client::new();
    let sizes = [4000, 1, 0, 5999];
    let resp = post_declared(&client, &server.url("/up"), "10000", &sizes)
        .await
        .expect("POST");
    assert_eq!(resp.status(), 200);
    let seen = &server.requests()[0];
    assert_eq!(seen.header("content-length"), Some("10000"));
    assert_eq!(seen.header("transfer-encoding"), None);
    assert_eq!(seen.body, joined(&sizes));
    // Without one, the same stream goes chunked.
    client
        .post(server.url("/up"))
        .body(tether::Body::wrap_stream(iter(pieces(&sizes))))
        .send()
        .await
        .expect("POST");
    let seen = &server.requests()[1];
    assert_eq!(seen.header("transfer-encoding"), Some("chunked"));
    assert_eq!(seen.body, joined(&sizes));
}

#[tokio::test]
async fn a_stream_that_ends_short_or_runs_long_never_completes_the_request() {
    let server = TestServer::start(Script::new().always(Reply::ok("ok"))).await;
    let client = tether::Client::new();
    let url = server.url("/up");
    for (sizes, says) in [
        (&[4, 1][..], "ended after 5 of the 10 bytes"),
        (&[6, 6][..], "more than the 10 bytes"),
        // The declared length is reached, then more comes: the last piece was held back.
        (&[10, 1][..], "more than the 10 bytes"),
        (&[4, 6, 1][..], "more than the 10 bytes"),
    ] {
        let err = post_declared(&client, &url, "10", sizes)
            .await
            .expect_err("the stream does not match its length");
        assert_eq!(err.kind(), tether::ErrorKind::InvalidRequest, "{err}");
        assert!(err.to_string().contains(says), "{sizes:?}: {err}");
        assert!(!err.request_fully_written(), "{err}");
    }
    // The server saw no complete request; the client's next one goes through.
    let resp = post_declared(&client, &url, "10", &[10])
        .await
        .expect("POST");
    assert_eq!(resp.status(), 200);
    let seen = server.requests();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(seen[0].body, joined(&[10]));
}

#[tokio::test]
async fn a_content_length_that_is_not_a_length_is_refused_before_anything_is_sent() {
    let server = TestServer::start(Script::new().always(Reply::ok("ok"))).await;
    let client = tether::Client::new();
    for declared in ["ten", "-1", "1 0", "18446744073709551616"] {
        let err = post_declared(&client, &server.url("/up"), declared, &[10])
            .await
            .expect_err("not a length");
        assert_eq!(err.kind(), tether::ErrorKind::InvalidRequest, "{err}");
        assert!(!err.request_written());
    }
    assert_eq!(server.stats().accepted, 0);
}

#[tokio::test]
async fn over_http2_the_length_is_sent_and_held_to_as_well() {
    let server = H2Server::start(H2Script::default()).await;
    let client = tether::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("client");
    let url = server.url("127.0.0.1", "/up");
    let sizes = [3000, 0, 2000];
    let resp = post_declared(&client, &url, "5000", &sizes)
        .await
        .expect("POST");
    assert_eq!(resp.status(), 200);
    drop(resp);
    let seen = server.seen();
    assert_eq!(
        seen[0].headers.get("content-length").map(|v| v.as_bytes()),
        Some(&b"5000"[..])
    );
    assert_eq!(seen[0].body, joined(&sizes));
    for (sizes, says) in [
        (&[3000, 1999][..], "ended after 4999 of the 5000 bytes"),
        (&[5000, 1][..], "more than the 5000 bytes"),
    ] {
        let err = post_declared(&client, &url, "5000", sizes)
            .await
            .expect_err("the stream does not match its length");
        assert_eq!(err.kind(), tether::ErrorKind::InvalidRequest, "{err}");
        assert!(err.to_string().contains(says), "{sizes:?}: {err}");
    }
    // Only the first request reached the server whole.
    assert_eq!(server.seen().len(), 1);
}

/// A `tokio::fs::File` as a body: read as it is sent, chunked without a length, with the
/// request's `Content-Length` when it sets one; every byte arrives (several read pieces).
#[tokio::test]
async fn a_file_is_a_body_read_as_it_is_sent() {
    let dir = std::env::temp_dir().join(format!("tether-file-body-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let path = dir.join("upload.bin");
    let data: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    std::fs::write(&path, &data).expect("the file written");
    let server = TestServer::start(Script::new()).await;
    let client = tether::Client::new();
    let file = tokio::fs::File::open(&path).await.unwrap();
    client
        .put(server.url("/a"))
        .body(file)
        .send()
        .await
        .unwrap();
    let file = tokio::fs::File::open(&path).await.unwrap();
    client
        .put(server.url("/b"))
        .header(CONTENT_LENGTH, data.len())
        .body(file)
        .send()
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let seen = server.requests();
    assert_eq!(seen[0].header("transfer-encoding"), Some("chunked"));
    assert_eq!(seen[1].header("content-length"), Some("300000"));
    for request in &seen {
        assert!(request.body == data, "{} bytes", request.body.len());
    }
}

/// A response as the body of another request: relayed as it arrives, with the response's
/// length as `Content-Length` when it had one, chunked when it did not (or when it came
/// coded, and is relayed decoded); every byte arrives.
#[tokio::test]
async fn a_response_is_relayed_as_a_request_body() {
    let data: Vec<u8> = (0..=255u8).cycle().take(200_000).collect();
    let source = TestServer::start(Script::new().respond({
        let data = data.clone();
        move |req| match req.target.as_str() {
            "/chunked" => Reply::chunked(data.clone(), 7_000),
            "/gzip" => {
                use std::io::Write;
                let mut e =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(&data).unwrap();
                Reply::ok(e.finish().unwrap()).with_header("Content-Encoding", "gzip")
            }
            _ => Reply::ok(data.clone()),
        }
    }))
    .await;
    let sink = TestServer::start(Script::new()).await;
    let client = tether::Client::new();
    for path in ["/length", "/chunked", "/gzip"] {
        let download = client.get(source.url(path)).send().await.unwrap();
        client
            .put(sink.url(path))
            .body(download)
            .send()
            .await
            .unwrap();
    }
    let seen = sink.requests();
    assert_eq!(seen[0].header("content-length"), Some("200000"));
    assert_eq!(seen[1].header("transfer-encoding"), Some("chunked"));
    assert_eq!(seen[2].header("transfer-encoding"), Some("chunked"));
    for request in &seen {
        assert!(request.body == data, "{} bytes", request.body.len());
    }
}

/// A body with trailers at its end: its data frames, then a trailers frame.
struct WithTrailers(std::collections::VecDeque<http_body::Frame<Bytes>>);

impl http_body::Body for WithTrailers {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(Ok))
    }
}

/// `Body::wrap`: an `http_body::Body` of exact size goes with `Content-Length`, one of
/// unknown size chunked, its data frames whole and its trailers left out.
#[tokio::test]
async fn an_http_body_is_wrapped_as_a_request_body() {
    let server = TestServer::start(Script::new()).await;
    let client = tether::Client::new();
    let full = http_body_util::Full::new(Bytes::from_static(b"all at once"));
    client
        .post(server.url("/full"))
        .body(tether::Body::wrap(full))
        .send()
        .await
        .unwrap();
    let mut trailers = http::HeaderMap::new();
    trailers.insert("x-sum", http::HeaderValue::from_static("1"));
    let frames = WithTrailers(
        [
            http_body::Frame::data(Bytes::from_static(b"in ")),
            http_body::Frame::data(Bytes::from_static(b"pieces")),
            http_body::Frame::trailers(trailers),
        ]
        .into(),
    );
    client
        .post(server.url("/pieces"))
        .body(tether::Body::wrap(frames))
        .send()
        .await
        .unwrap();
    let seen = server.requests();
    assert_eq!(seen[0].header("content-length"), Some("11"));
    assert_eq!(seen[0].body, b"all at once");
    assert_eq!(seen[1].header("transfer-encoding"), Some("chunked"));
    assert_eq!(seen[1].body, b"in pieces");
    assert!(!String::from_utf8_lossy(&seen[1].raw_head).contains("x-sum"));
}
