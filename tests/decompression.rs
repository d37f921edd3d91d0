//! Decompression through real sockets: `Accept-Encoding` added only when the caller set
//! none, and then each enabled coding (gzip, deflate, br, zstd) decoded, losing its
//! `Content-Encoding` and `Content-Length`; codings tether did not ask for, or does not
//! know, pass through; corrupt streams are `ErrorKind::Decode`; `max_body_bytes` bounds
//! what `bytes()` collects; the connection is reused after a decoded body as after any;
//! `text()` decodes the charset after the coding.
//! Memory under large and bomb-like bodies is measured in `body_memory.rs`.

mod support;

use std::io::Write;

use support::{Reply, Script, TestServer};
use tether::{Client, ErrorKind};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        w.write_all(data).unwrap();
    }
    out
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 3).unwrap()
}

fn text() -> Vec<u8> {
    "the same sentence, again and again. "
        .repeat(3000)
        .into_bytes()
}

/// Serves `/<coding>` with `text()` in that coding (chunked or with a length).
fn coded_server() -> Script {
    Script::new().respond(|req| {
        let plain = text();
        let (name, body) = match req.target.trim_start_matches('/') {
            "gzip" => ("gzip", gzip(&plain)),
            "deflate" => ("deflate", deflate(&plain)),
            "br" => ("br", brotli(&plain)),
            "zstd" => ("zstd", zstd(&plain)),
            "gzip-chunked" => {
                return Reply::chunked(gzip(&plain), 1000).with_header("Content-Encoding", "gzip")
            }
            "compress" => ("compress", b"not really compressed".to_vec()),
            "corrupt" => {
                let mut bad = gzip(&plain);
                for b in &mut bad[30..200] {
                    *b = 0xff;
                }
                ("gzip", bad)
            }
            _ => return Reply::ok(plain),
        };
        Reply::ok(body).with_header("Content-Encoding", name)
    })
}

#[tokio::test]
async fn every_enabled_coding_is_asked_for_and_decoded() {
    let server = TestServer::start(coded_server()).await;
    let client = Client::new();
    for path in ["/gzip", "/deflate", "/br", "/zstd", "/gzip-chunked"] {
        let resp = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(resp.headers().get("content-encoding"), None, "{path}");
        assert_eq!(resp.headers().get("content-length"), None, "{path}");
        assert_eq!(resp.content_length(), None, "{path}");
        let body = resp.bytes().await.unwrap();
        assert!(body == text(), "{path}: {} bytes", body.len());
    }
    for req in server.requests() {
        assert_eq!(
            req.header("accept-encoding"),
            Some("gzip, deflate, br, zstd")
        );
    }
    assert_eq!(
        server.stats().accepted,
        1,
        "decoded bodies leave the connection reusable"
    );
    assert_eq!(client.stats().reuses, 4);
}

#[tokio::test]
async fn decoded_bodies_stream_in_pieces() {
    let server = TestServer::start(coded_server()).await;
    let client = Client::new();
    let mut resp = client.get(server.url("/br")).send().await.unwrap();
    let mut got = Vec::new();
    let mut pieces = 0;
    while let Some(piece) = resp.chunk().await.unwrap() {
        pieces += 1;
        got.extend_from_slice(&piece);
    }
    assert_eq!(got, text());
    assert!(pieces > 1, "a 108 KB body comes in several decoded pieces");
}

/// Every piece `bytes_stream` yields, gathered.
async fn streamed(resp: tether::Response) -> Vec<u8> {
    let mut stream = std::pin::pin!(resp.bytes_stream());
    let mut got = Vec::new();
    while let Some(piece) =
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(stream.as_mut(), cx)).await
    {
        got.extend_from_slice(&piece.unwrap());
    }
    got
}

/// A body of each size `bytes_stream_yields_every_decoded_byte` asks for.
fn sized(size: &str) -> Vec<u8> {
    match size {
        // Whole with the head: the wire has ended before the first piece is asked for.
        "s" => b"a small body, whole with its head".to_vec(),
        // Coded, still over 100 KB: read in many pieces after the head.
        "r" => {
            let mut x = 0x2545_f491_4f6c_dd1du64;
            (0..200_000)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        }
        _ => text(),
    }
}

#[tokio::test]
async fn bytes_stream_yields_every_decoded_byte() {
    let server = TestServer::start(Script::new().respond(|req| {
        let (coding, size) = req.target.trim_start_matches('/').split_at(1);
        let plain = sized(size);
        let (name, body) = match coding {
            "g" => ("gzip", gzip(&plain)),
            "d" => ("deflate", deflate(&plain)),
            "b" => ("br", brotli(&plain)),
            _ => ("zstd", zstd(&plain)),
        };
        Reply::ok(body).with_header("Content-Encoding", name)
    }))
    .await;
    let client = Client::new();
    for coding in ["g", "d", "b", "z"] {
        for size in ["s", "t", "r"] {
            let path = format!("/{coding}{size}");
            let resp = client.get(server.url(&path)).send().await.unwrap();
            let (got, plain) = (streamed(resp).await, sized(size));
            assert!(
                got == plain,
                "{path}: {} bytes of {}",
                got.len(),
                plain.len()
            );
        }
    }
}

#[tokio::test]
async fn a_callers_accept_encoding_means_the_body_comes_as_sent() {
    let server = TestServer::start(coded_server()).await;
    let client = Client::new();
    let resp = client
        .get(server.url("/gzip"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    assert_eq!(resp.bytes().await.unwrap(), gzip(&text()));
    assert_eq!(
        server.requests()[0].header_all("accept-encoding"),
        vec!["gzip"]
    );
}

#[tokio::test]
async fn unknown_codings_pass_through_and_no_decompression_asks_for_none() {
    let server = TestServer::start(coded_server()).await;
    let client = Client::new();
    let resp = client.get(server.url("/compress")).send().await.unwrap();
    assert_eq!(resp.headers()["content-encoding"], "compress");
    assert_eq!(resp.text().await.unwrap(), "not really compressed");
    let plain = Client::builder().no_decompression().build().unwrap();
    let resp = plain.get(server.url("/gzip")).send().await.unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    assert_eq!(resp.bytes().await.unwrap(), gzip(&text()));
    assert_eq!(server.requests()[1].header("accept-encoding"), None);
}

#[tokio::test]
async fn head_and_304_have_nothing_to_decode() {
    let server = TestServer::start(Script::new().respond(|req| {
        if req.target == "/not-modified" {
            Reply::status(304).with_header("Content-Encoding", "gzip")
        } else {
            Reply::ok(gzip(b"body")).with_header("Content-Encoding", "gzip")
        }
    }))
    .await;
    let client = Client::new();
    let head = client.head(server.url("/")).send().await.unwrap();
    assert_eq!(head.headers()["content-encoding"], "gzip");
    assert_eq!(head.bytes().await.unwrap(), "");
    let not_modified = client
        .get(server.url("/not-modified"))
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), 304);
    assert_eq!(not_modified.bytes().await.unwrap(), "");
}

#[tokio::test]
async fn a_corrupt_stream_is_a_decode_error() {
    let server = TestServer::start(coded_server()).await;
    let client = Client::new();
    let err = client
        .get(server.url("/corrupt"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err:?}");
    assert!(err.request_written());
    let stats = client.stats();
    assert_eq!((stats.in_use, stats.waiters), (0, 0));
    let ok = client.get(server.url("/gzip")).send().await.unwrap();
    assert_eq!(ok.bytes().await.unwrap(), text());
}

#[tokio::test]
async fn max_body_bytes_bounds_what_bytes_collects() {
    let server = TestServer::start(coded_server()).await;
    let client = Client::builder().max_body_bytes(50_000).build().unwrap();
    let err = client
        .get(server.url("/zstd"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Body, "{err:?}");
    let roomy = Client::builder().max_body_bytes(200_000).build().unwrap();
    let body = roomy.get(server.url("/zstd")).send().await.unwrap();
    assert_eq!(body.bytes().await.unwrap().len(), text().len());
}

#[tokio::test]
async fn a_redirect_to_a_coded_body_is_decoded() {
    let server = TestServer::start(Script::new().respond(|req| {
        if req.target == "/old" {
            Reply::status(301).with_header("Location", "/new")
        } else {
            Reply::ok(gzip(b"moved and zipped")).with_header("Content-Encoding", "gzip")
        }
    }))
    .await;
    let resp = Client::new().get(server.url("/old")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "moved and zipped");
    let reqs = server.requests();
    assert_eq!(
        reqs[1].header_all("accept-encoding"),
        vec!["gzip, deflate, br, zstd"]
    );
}

#[tokio::test]
async fn codings_turned_off_one_by_one_are_neither_asked_for_nor_decoded() {
    let server = TestServer::start(coded_server()).await;
    let client = Client::builder().no_gzip().brotli(false).build().unwrap();
    // gzip is off: the gzipped body comes as sent.
    let resp = client.get(server.url("/gzip")).send().await.unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    assert_eq!(resp.bytes().await.unwrap(), gzip(&text()));
    // zstd is still on: decoded.
    let resp = client.get(server.url("/zstd")).send().await.unwrap();
    assert_eq!(resp.headers().get("content-encoding"), None);
    assert!(resp.bytes().await.unwrap() == text());
    for req in server.requests() {
        assert_eq!(req.header("accept-encoding"), Some("deflate, zstd"));
    }
    // Off for all, then one back on.
    let only_gzip = Client::builder()
        .no_decompression()
        .gzip(true)
        .build()
        .unwrap();
    let resp = only_gzip.get(server.url("/gzip")).send().await.unwrap();
    assert!(resp.bytes().await.unwrap() == text());
    let resp = only_gzip.get(server.url("/br")).send().await.unwrap();
    assert_eq!(resp.headers()["content-encoding"], "br");
    assert_eq!(resp.bytes().await.unwrap(), brotli(&text()));
    assert_eq!(server.requests()[2].header("accept-encoding"), Some("gzip"));
}

/// A coded body's `Content-Type` outlives the decoding: `text()` decodes the gzip, then the
/// charset it names (feature `charset`).
#[cfg(all(feature = "gzip", feature = "charset"))]
#[tokio::test]
async fn text_decodes_the_coding_then_the_charset() {
    let latin = b"gr\xfc\xdfe ".repeat(2000);
    let coded = gzip(&latin);
    let server = TestServer::start(Script::new().respond(move |_| {
        Reply::ok(coded.clone())
            .with_header("Content-Encoding", "gzip")
            .with_header("Content-Type", "text/plain; charset=latin1")
    }))
    .await;
    let resp = Client::new().get(server.url("/")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "grüße ".repeat(2000));
}
