//! The blocking client (feature `blocking`) through real sockets, called from plain
//! threads: requests and their heads, bodies whole (`text`, `json`, `bytes`) and through
//! `std::io::Read` and `copy_to`, request bodies from a reader, a multipart form, status
//! errors, reuse of the async client's pool, timeouts, a response that outlives its
//! client, an unread body drained, and calls from inside an async runtime (which block,
//! and do not panic) and from the client's own thread (refused). The scripted server
//! runs on a runtime of the test's own.
#![cfg(feature = "blocking")]

mod support;

use std::io::Read;
use std::time::Duration;

use support::{Reply, Script, TestServer};
use tether::ErrorKind;

/// A server on a runtime whose workers keep it going while the test thread blocks.
fn serve(script: Script) -> (tokio::runtime::Runtime, TestServer) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(TestServer::start(script));
    (runtime, server)
}

/// `/echo` answers with the method and body it got, `/json` with JSON, `/big` with 1 MiB
/// in chunks (`/medium` 100 KB, within the drain limit), `/missing` with 404, `/slow`
/// never, `/hop` with a redirect to `/`.
fn script() -> Script {
    Script::new().respond(|req| match req.target.as_str() {
        "/echo" => Reply::ok(format!(
            "{} {}",
            req.method,
            String::from_utf8_lossy(&req.body)
        ))
        .with_header("X-Seen", "yes"),
        "/json" => Reply::ok(r#"{"id": 7, "name": "pool"}"#)
            .with_header("Content-Type", "application/json"),
        "/big" => Reply::chunked(big(), 10_000),
        "/missing" => Reply::status(404),
        "/slow" => Reply::Stall,
        "/hop" => Reply::status(302).with_header("Location", "/"),
        "/medium" => Reply::chunked(vec![b'm'; 100_000], 10_000),
        _ => Reply::ok("hello"),
    })
}

fn big() -> Vec<u8> {
    (0..1 << 20).map(|i: u32| (i % 251) as u8).collect()
}

#[test]
fn requests_and_their_answers_as_the_async_client_gives_them() {
    let (_rt, server) = serve(script());
    let client = tether::blocking::Client::new();

    let resp = client.get(server.url("/")).send().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), http::Version::HTTP_11);
    assert_eq!(resp.url().as_str(), server.url("/"));
    assert_eq!(resp.content_length(), Some(5));
    assert_eq!(resp.remote_addr(), Some(server.addr()));
    assert_eq!(resp.text().unwrap(), "hello");

    let resp = client
        .post(server.url("/echo"))
        .header("x-trace", "1")
        .body("posted")
        .send()
        .unwrap();
    assert_eq!(resp.headers()["x-seen"], "yes");
    assert_eq!(resp.bytes().unwrap(), "POST posted");
    let sent = &server.requests()[1];
    assert_eq!(sent.header("x-trace"), Some("1"));

    #[derive(serde::Deserialize)]
    struct Item {
        id: u64,
        name: String,
    }
    let item: Item = client
        .get(server.url("/json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!((item.id, item.name.as_str()), (7, "pool"));

    let err = client
        .get(server.url("/missing"))
        .send()
        .unwrap()
        .error_for_status()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Status);
    assert_eq!(err.status(), Some(http::StatusCode::NOT_FOUND));

    // One connection for all of them: the async client's pool.
    let stats = client.stats();
    assert_eq!(
        (stats.connections_opened, stats.reuses),
        (1, 3),
        "{stats:?}"
    );
    assert_eq!(server.stats().accepted, 1);
}

#[test]
fn a_body_reads_through_read_and_copy_to() {
    let (_rt, server) = serve(script());
    let client = tether::Client::builder().build_blocking().unwrap();

    let mut resp = client.get(server.url("/big")).send().unwrap();
    let mut small = [0u8; 1000];
    let n = resp.read(&mut small).unwrap();
    assert!(n > 0);
    let mut rest = Vec::new();
    resp.read_to_end(&mut rest).unwrap();
    let mut whole = small[..n].to_vec();
    whole.extend_from_slice(&rest);
    assert!(whole == big(), "{} bytes", whole.len());
    assert_eq!(resp.read(&mut small).unwrap(), 0, "the end, again");

    let mut copied = Vec::new();
    let mut resp = client.get(server.url("/big")).send().unwrap();
    assert_eq!(resp.copy_to(&mut copied).unwrap(), 1 << 20);
    assert!(copied == big());

    // Part read through `Read`, the rest cannot be taken whole.
    let mut resp = client.get(server.url("/big")).send().unwrap();
    resp.read_exact(&mut small).unwrap();
    assert_eq!(resp.bytes().unwrap_err().kind(), ErrorKind::InvalidRequest);
}

#[test]
fn the_builders_timeout_bounds_a_call() {
    let (_rt, server) = serve(script());
    let client = tether::Client::builder()
        .timeout(Duration::from_millis(200))
        .build_blocking()
        .unwrap();
    let err = client.get(server.url("/slow")).send().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(client.get(server.url("/")).send().unwrap().status(), 200);
}

#[test]
fn a_response_outlives_its_client_and_clones_share_one_pool() {
    let (_rt, server) = serve(script());
    let client = tether::blocking::Client::new();
    let clone = client.clone();
    let resp = clone.get(server.url("/")).send().unwrap();
    drop((client, clone));
    assert_eq!(resp.text().unwrap(), "hello");

    let client = tether::blocking::Client::new();
    let request = client.post(server.url("/echo")).body("again");
    let copy = request.try_clone().unwrap();
    let threads: Vec<_> = [request, copy]
        .into_iter()
        .map(|r| std::thread::spawn(move || r.send().unwrap().text().unwrap()))
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), "POST again");
    }
    assert_eq!(client.stats().requests_sent, 2);
}

/// From inside an async runtime, a call blocks that runtime's thread (which async code
/// should not do) but works: the work runs on the blocking client's own runtime.
#[test]
fn a_call_from_async_code_works_rather_than_panics() {
    let (rt, server) = serve(script());
    let client = tether::blocking::Client::new();
    let url = server.url("/");
    let text = rt.block_on(async move { client.get(url).send()?.text() });
    assert_eq!(text.unwrap(), "hello");
}

/// Code the client runs on its runtime's thread (here a redirect policy) that calls the
/// same blocking client gets an error, not a deadlock; the request around it goes on.
#[test]
fn a_call_from_the_clients_own_thread_is_refused() {
    use std::sync::{Arc, Mutex, OnceLock};
    let (_rt, server) = serve(script());
    let me: Arc<OnceLock<tether::blocking::Client>> = Arc::default();
    let inner_call: Arc<Mutex<Option<Result<u16, ErrorKind>>>> = Arc::default();
    let (me_in_policy, recorded) = (me.clone(), inner_call.clone());
    let url = server.url("/");
    let policy = tether::redirect::Policy::custom(move |attempt| {
        if let Some(client) = me_in_policy.get() {
            let got = client.get(&url).send();
            *recorded.lock().unwrap() =
                Some(got.map(|r| r.status().as_u16()).map_err(|e| e.kind()));
        }
        attempt.follow()
    });
    let client = tether::Client::builder()
        .redirect(policy)
        .build_blocking()
        .unwrap();
    assert!(me.set(client.clone()).is_ok());
    let resp = client.get(server.url("/hop")).send().unwrap();
    assert_eq!(resp.text().unwrap(), "hello");
    assert_eq!(*inner_call.lock().unwrap(), Some(Err(ErrorKind::Runtime)));
}

/// A response dropped with its body unread is drained in the background, as in the async
/// client: its connection is reused by the next request, not closed.
#[test]
fn an_unread_body_is_drained_and_its_connection_reused() {
    let (_rt, server) = serve(script());
    let client = tether::blocking::Client::new();
    for round in 1..=3 {
        let resp = client.get(server.url("/medium")).send().unwrap();
        assert_eq!(resp.status(), 200);
        drop(resp);
        // The drain ends in the background; the next request would open another
        // connection while it runs.
        let began = std::time::Instant::now();
        while client.stats().bodies_drained < round {
            assert!(
                began.elapsed() < support::WAIT_LIMIT,
                "{:?}",
                client.stats()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        let resp = client.get(server.url("/missing")).send().unwrap();
        assert!(resp.error_for_status().is_err());
    }
    let stats = client.stats();
    assert_eq!(stats.connections_opened, 1, "{stats:?}");
    assert_eq!(stats.bodies_drained, 3, "{stats:?}");
    assert_eq!(server.stats().accepted, 1);
}

#[test]
fn a_multipart_form_goes_as_the_async_client_sends_it() {
    use tether::multipart::{Form, Part};
    let (_rt, server) = serve(script());
    let client = tether::blocking::Client::new();
    let form = Form::new().text("title", "report").part(
        "file",
        Part::bytes(b"a,b\n1,2\n".to_vec()).file_name("report.csv"),
    );
    let resp = client
        .post(server.url("/echo"))
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let sent = &server.requests()[0];
    let content_type = sent.header("content-type").unwrap();
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap();
    let body = String::from_utf8_lossy(&sent.body);
    assert!(body.contains("name=\"title\"\r\n\r\nreport\r\n"), "{body}");
    assert!(body.contains("filename=\"report.csv\""), "{body}");
    assert!(body.ends_with(&format!("--{boundary}--\r\n")), "{body}");
}

/// A reader of `total` bytes, `step` at a time, failing instead of ending if `fail`.
struct Pieces {
    sent: usize,
    total: usize,
    step: usize,
    fail: bool,
}

impl Read for Pieces {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.sent == self.total {
            if self.fail {
                return Err(std::io::Error::other("the disk went away"));
            }
            return Ok(0);
        }
        let n = self.step.min(buf.len()).min(self.total - self.sent);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = ((self.sent + i) % 251) as u8;
        }
        self.sent += n;
        Ok(n)
    }
}

fn pieces(total: usize, step: usize, fail: bool) -> Pieces {
    Pieces {
        sent: 0,
        total,
        step,
        fail,
    }
}

/// A body read from a `std::io::Read` as it is sent: chunked, or with the length given;
/// a reader that fails fails the request, and nothing panics.
#[test]
fn a_body_is_read_from_a_reader_as_it_is_sent() {
    let (_rt, server) = serve(script());
    let client = tether::blocking::Client::new();
    let expected: Vec<u8> = (0..300_000).map(|i| (i % 251) as u8).collect();

    let resp = client
        .put(server.url("/upload"))
        .body_reader(pieces(300_000, 7_000, false))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = client
        .put(server.url("/upload"))
        .body_reader_sized(std::io::Cursor::new(expected.clone()), 300_000)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let sent = server.requests();
    assert_eq!(sent[0].header("transfer-encoding"), Some("chunked"));
    assert_eq!(sent[1].header("content-length"), Some("300000"));
    for r in &sent {
        assert!(r.body == expected, "{} bytes", r.body.len());
    }

    let err = client
        .put(server.url("/upload"))
        .body_reader(pieces(10_000, 1_000, true))
        .send()
        .unwrap_err();
    assert!(err.to_string().contains("the disk went away"), "{err}");
    let short = client
        .put(server.url("/upload"))
        .body_reader_sized(pieces(10, 10, false), 20)
        .send();
    assert!(short.is_err(), "a reader shorter than its length");
}

/// `build`, `build_split` and `execute` as the async client has them: the built request
/// changed and sent, its timeout kept.
#[test]
fn a_built_request_is_executed() {
    let (_rt, server) = serve(script());
    let client = tether::blocking::Client::new();
    let mut request = client
        .patch(server.url("/echo"))
        .body("edit")
        .build()
        .unwrap();
    request
        .headers_mut()
        .insert("x-signature", http::HeaderValue::from_static("s1"));
    let resp = client.execute(request).unwrap();
    assert_eq!(resp.headers()["x-seen"], "yes");
    assert_eq!(resp.text().unwrap(), "PATCH edit");
    let seen = server.requests();
    assert_eq!(seen[0].header("x-signature"), Some("s1"));

    let (same, request) = client
        .get(server.url("/slow"))
        .timeout(Duration::from_millis(200))
        .build_split();
    let err = same.execute(request.unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
}

/// `headers_mut` changes what `text` decodes by; `extensions` hold what the async client
/// put there (the server's certificate with `tls_info`) and what the caller adds.
#[test]
fn headers_mut_and_extensions_as_the_async_response_has_them() {
    let (_rt, server) = serve(
        Script::new().always(
            Reply::ok(vec![b'c', b'a', b'f', 0xe9])
                .with_header("Content-Type", "text/plain; charset=iso-8859-1"),
        ),
    );
    let client = tether::blocking::Client::new();
    assert_eq!(
        client.get(server.url("/")).send().unwrap().text().unwrap(),
        "café"
    );
    let mut resp = client.get(server.url("/")).send().unwrap();
    resp.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp.extensions_mut().insert(7u32);
    assert_eq!(resp.extensions().get::<u32>(), Some(&7));
    assert_eq!(resp.text().unwrap(), "caf\u{fffd}");

    let ca = support::tls::TestCa::new("test CA");
    let cert = ca.server_cert(&["localhost"]);
    let der = cert.cert_der.to_vec();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let tls = runtime.block_on(support::tls::TlsServer::builder(cert).start());
    let client = tether::Client::builder()
        .add_root_certificate(ca.certificate())
        .tls_info(true)
        .build_blocking()
        .unwrap();
    let resp = client.get(tls.url("localhost", "/")).send().unwrap();
    let info = resp.extensions().get::<tether::tls::TlsInfo>();
    assert_eq!(info.and_then(|i| i.peer_certificate()), Some(&der[..]));
    assert_eq!(resp.text().unwrap(), "hello");
}

/// `tether::blocking::get`: one shared blocking client across calls.
#[test]
fn the_blocking_get_shares_one_client_across_calls() {
    let (_rt, server) = serve(script());
    for _ in 0..2 {
        let resp = tether::blocking::get(server.url("/")).unwrap();
        assert_eq!(resp.text().unwrap(), "hello");
    }
    let seen = server.requests();
    assert_eq!((seen.len(), seen[0].conn, seen[1].conn), (2, 0, 0));
}

/// `upgrade`: a `101` hands the connection over as a blocking `Read + Write` stream; the
/// server's first bytes (sent with the `101`) are read first, then what it echoes.
#[test]
fn an_upgraded_connection_is_read_and_written_through_std_io() {
    use std::io::Write;
    use support::raw::{read_head, RawServer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(RawServer::start(|mut stream, _| async move {
        if read_head(&mut stream).await.is_empty() {
            return;
        }
        let switched = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n\
            Connection: upgrade\r\n\r\nREADY";
        if stream.write_all(switched).await.is_err() {
            return;
        }
        let mut buf = [0u8; 1024];
        while let Ok(n @ 1..) = stream.read(&mut buf).await {
            if stream.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    }));
    let client = tether::blocking::Client::new();
    let response = client
        .get(format!("http://{}/", server.addr()))
        .header("upgrade", "echo")
        .send()
        .unwrap();
    assert_eq!(response.status(), 101);
    let mut socket = response.upgrade().unwrap();
    let mut ready = [0u8; 5];
    socket.read_exact(&mut ready).unwrap();
    assert_eq!(&ready, b"READY");
    socket.write_all(b"hello over std::io").unwrap();
    socket.flush().unwrap();
    let mut echoed = [0u8; 18];
    socket.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"hello over std::io");

    // A response that is not a `101` has nothing to hand over.
    let (_rt, plain) = serve(script());
    let err = client
        .get(plain.url("/"))
        .send()
        .unwrap()
        .upgrade()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
}

#[test]
fn an_origins_own_cap_and_delay_are_set_through_the_blocking_client() {
    let (_rt, server) = serve(script());
    let client = tether::blocking::Client::new();
    client
        .set_max_connections_for_host(server.url("/"), Some(1))
        .unwrap();
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let (client, url) = (client.clone(), server.url("/medium"));
            std::thread::spawn(move || client.get(url).send().unwrap().bytes().unwrap().len())
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 100_000);
    }
    let stats = server.stats();
    assert_eq!((stats.accepted, stats.max_open), (1, 1), "{stats:?}");

    let delay = Duration::from_millis(100);
    client
        .set_min_delay_for_host(server.url("/"), Some(delay))
        .unwrap();
    let started = std::time::Instant::now();
    for _ in 0..3 {
        assert_eq!(
            client.get(server.url("/")).send().unwrap().text().unwrap(),
            "hello"
        );
    }
    // The first may go at once; the next two wait for the delay each.
    assert!(started.elapsed() >= 2 * delay, "{:?}", started.elapsed());
    let err = client
        .set_max_connections_for_host("ftp://files.example/", Some(1))
        .unwrap_err();
    assert!(err.is_builder(), "{err:?}");
}
