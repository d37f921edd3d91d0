//! `Response::upgrade`: a request with `Upgrade`, answered `101 Switching Protocols`,
//! hands its connection to the caller, who speaks the new protocol on it. The server here
//! switches to a protocol of its own ("shout": every byte read comes back upper-cased),
//! after sending its first bytes with the `101`'s head.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::h2::{H2Script, H2Server};
use support::raw::{read_head, read_to_close, RawServer};
use support::tls::{TestCa, TlsServer};
use support::{Reply, Script, TestServer};
use tether::{Client, ErrorKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Answers `101` to a request asking for `Upgrade: shout` (and `200` to any other),
/// keeping every request head it got, then shouts back whatever arrives until the client
/// closes. `closed` counts the connections the client closed.
async fn shouting_server(heads: Arc<Mutex<Vec<String>>>, closed: Arc<Mutex<usize>>) -> RawServer {
    RawServer::start(move |mut stream, _| {
        let (heads, closed) = (heads.clone(), closed.clone());
        async move {
            loop {
                let head = String::from_utf8_lossy(&read_head(&mut stream).await).to_lowercase();
                if head.is_empty() {
                    *closed.lock().unwrap() += 1;
                    return;
                }
                heads.lock().unwrap().push(head.clone());
                if !head.contains("upgrade: shout") {
                    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                    if stream.write_all(ok).await.is_err() {
                        return;
                    }
                    continue;
                }
                let switched = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: shout\r\n\
                    Connection: upgrade\r\n\r\nREADY";
                if stream.write_all(switched).await.is_err() {
                    return;
                }
                let mut buf = [0u8; 1024];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => {
                            *closed.lock().unwrap() += 1;
                            return;
                        }
                        Ok(n) => {
                            let loud = buf[..n].to_ascii_uppercase();
                            if stream.write_all(&loud).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        }
    })
    .await
}

async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: not within 5 s");
}

#[tokio::test]
async fn a_switched_connection_speaks_the_new_protocol_and_leaves_the_pool() {
    let heads = Arc::new(Mutex::new(Vec::new()));
    let closed = Arc::new(Mutex::new(0));
    let server = shouting_server(heads.clone(), closed.clone()).await;
    // One connection per host: the upgraded one must not hold the host's slot.
    let client = Client::builder()
        .max_connections_per_host(1)
        .build()
        .unwrap();
    let resp = client
        .get(server.url("/chat"))
        .header("upgrade", "shout")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 101);
    let mut upgraded = resp.upgrade().await.unwrap();
    assert!(format!("{upgraded:?}").contains("tcp"));
    // The bytes that came with the 101's head are read first.
    let mut ready = [0u8; 5];
    upgraded.read_exact(&mut ready).await.unwrap();
    assert_eq!(&ready, b"READY");
    upgraded.write_all(b"hello").await.unwrap();
    let mut loud = [0u8; 5];
    upgraded.read_exact(&mut loud).await.unwrap();
    assert_eq!(&loud, b"HELLO");
    // The request asked as RFC 9110 wants: the option named in `Connection`, which
    // tether added.
    let head = heads.lock().unwrap()[0].clone();
    assert!(head.contains("\r\nconnection: upgrade\r\n"), "{head}");
    assert!(!head.contains("keep-alive"), "{head}");
    let stats = client.stats();
    assert_eq!((stats.open, stats.in_use), (0, 0), "{stats:?}");

    // The host's one slot is free: a plain request opens a connection of its own.
    let ok = client
        .get(server.url("/plain"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.text().await.unwrap(), "ok");
    assert_eq!(server.accepted(), 2);
    upgraded.write_all(b"still").await.unwrap();
    upgraded.read_exact(&mut loud).await.unwrap();
    assert_eq!(&loud, b"STILL");
    drop(upgraded);
    eventually("the upgraded connection closed", || {
        *closed.lock().unwrap() == 1
    })
    .await;
}

#[tokio::test]
async fn a_switch_not_taken_closes_the_connection_and_a_plain_answer_has_nothing_to_upgrade() {
    let heads = Arc::new(Mutex::new(Vec::new()));
    let closed = Arc::new(Mutex::new(0));
    let server = shouting_server(heads.clone(), closed.clone()).await;
    let client = Client::new();
    let resp = client
        .get(server.url("/chat"))
        .header("upgrade", "shout")
        .header("connection", "Upgrade")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 101);
    drop(resp);
    eventually("the 101's connection closed", || {
        *closed.lock().unwrap() == 1
    })
    .await;
    assert_eq!(client.stats().open, 0);
    let head = heads.lock().unwrap()[0].clone();
    assert_eq!(
        head.matches("connection:").count(),
        1,
        "the caller's own: {head}"
    );

    let plain = client.get(server.url("/plain")).send().await.unwrap();
    let err = plain.upgrade().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    assert!(err.to_string().contains("200 OK"), "{err}");
    // That connection went back to the pool, idle, and serves the next request.
    let again = client.get(server.url("/plain")).send().await.unwrap();
    assert_eq!(again.text().await.unwrap(), "ok");
    assert_eq!(server.accepted(), 2);
}

/// Over TLS (as `wss://` is), the upgraded connection is the TLS stream.
#[tokio::test]
async fn a_switch_over_tls_hands_over_the_tls_stream() {
    let heads = Arc::new(Mutex::new(Vec::new()));
    let closed = Arc::new(Mutex::new(0));
    let behind = shouting_server(heads, closed).await;
    let ca = TestCa::new("upgrade CA");
    let front = TlsServer::builder(ca.server_cert(&["localhost"]))
        .forward_to(behind.addr())
        .start()
        .await;
    let client = Client::builder()
        .add_root_certificate(ca.certificate())
        .http1_only()
        .build()
        .unwrap();
    let resp = client
        .get(front.url("localhost", "/chat"))
        .header("upgrade", "shout")
        .send()
        .await
        .unwrap();
    let mut upgraded = resp.upgrade().await.unwrap();
    assert!(format!("{upgraded:?}").contains("\"tls\""), "{upgraded:?}");
    upgraded.write_all(b"secret").await.unwrap();
    let mut got = [0u8; 11];
    upgraded.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"READYSECRET");
}

/// A `101` to a request that did not ask for one stays a protocol error.
#[tokio::test]
async fn a_101_nobody_asked_for_is_an_error() {
    let server = RawServer::start(|mut stream, _| async move {
        read_head(&mut stream).await;
        let _ = stream
            .write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: shout\r\n\r\n")
            .await;
        read_to_close(&mut stream).await;
    })
    .await;
    let err = Client::new().get(server.url("/")).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
}

/// HTTP/2 has no `Upgrade`: such a request is refused before anything is sent, with
/// what to do about it.
#[tokio::test]
async fn an_upgrade_over_http2_is_refused_unsent() {
    let server = H2Server::start(H2Script::default()).await;
    let client = Client::builder().http2_prior_knowledge().build().unwrap();
    let err = client
        .get(server.url("127.0.0.1", "/chat"))
        .header("upgrade", "shout")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
    assert!(err.to_string().contains("http1_only"), "{err}");
    assert!(!err.request_written());
    let ok = client
        .get(server.url("127.0.0.1", "/"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        server.seen().len(),
        1,
        "only the plain request reached the server"
    );
}

/// An ordinary server ignores `Upgrade` and answers as usual: the response is an
/// ordinary one, and its connection is reused.
#[tokio::test]
async fn an_upgrade_the_server_ignores_is_an_ordinary_answer() {
    let server = TestServer::start(Script::new().always(Reply::ok("plain"))).await;
    let client = Client::new();
    for _ in 0..2 {
        let resp = client
            .get(server.url("/"))
            .header("upgrade", "shout")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.text().await.unwrap(), "plain");
    }
    assert_eq!(server.stats().accepted, 1);
}
