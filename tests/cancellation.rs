//! The cancellation matrix: a request dropped at every await point (waiting in line,
//! dialing, the TLS handshake, writing the head, writing the body, reading the head,
//! reading the body, and a body dropped while it drains) against every server behaviour
//! that matters there (it answers, stalls, closes or resets). Each cell:
//!
//! 1. drives the request until the server reports that it reached the point, and the
//!    server then does its part (answers, stalls, closes or resets) while the request is
//!    suspended there;
//! 2. drops the request (for the drain, the body is dropped first and the server acts
//!    while the background drain waits);
//! 3. checks that no slot leaked (`stats()`: no connection in use, no waiter; an open
//!    connection must be an idle one), that no task is left running on the client's runtime
//!    but the pool's sweep, and that the next request on the same client succeeds.
//!
//! The client has caps of 1 per host and 1 in all, so a leaked slot would make that next
//! request (to another server) wait forever: it carries a timeout. The servers run on a
//! runtime of their own, so the client's runtime counts only the client's tasks.

mod support;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use support::elsewhere::Elsewhere;
use support::raw::{listener_that_never_completes_a_connect, read_head, read_to_close, RawServer};
use support::{eventually, Script, TestServer};
use tether::Client;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

/// What the server does once the request is suspended at the point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    Answers,
    Stalls,
    Closes,
    Resets,
}

const ALL: [Behaviour; 4] = [
    Behaviour::Answers,
    Behaviour::Stalls,
    Behaviour::Closes,
    Behaviour::Resets,
];

/// Where the request is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Point {
    WaitingInLine,
    Dialing,
    TlsHandshake,
    WritingHead,
    WritingBody,
    ReadingHead,
    ReadingBody,
    Draining,
}

/// Big enough that writing it blocks on a server that reads nothing.
const TOO_BIG: usize = 32 * 1024 * 1024;

/// The half of the body sent before the point, and the whole length announced.
const HALF: &[u8] = b"first half;";
const BODY_LEN: usize = 22;

/// How the test and the server meet: the server says it reached the point, the test says
/// what to do, the server says it did it.
#[derive(Clone)]
struct Gate {
    reached: Arc<watch::Sender<usize>>,
    go: Arc<watch::Sender<Option<Behaviour>>>,
    done: Arc<watch::Sender<bool>>,
}

impl Gate {
    fn new() -> Gate {
        Gate {
            reached: Arc::new(watch::channel(0).0),
            go: Arc::new(watch::channel(None).0),
            done: Arc::new(watch::channel(false).0),
        }
    }

    /// Server side: the point is reached; returns what to do.
    async fn arrive(&self) -> Behaviour {
        self.reached.send_modify(|n| *n += 1);
        let mut go = self.go.subscribe();
        let told = match go.wait_for(Option::is_some).await {
            Ok(b) => b.unwrap_or(Behaviour::Stalls),
            Err(_) => Behaviour::Stalls,
        };
        told
    }

    fn did(&self) {
        self.done.send_replace(true);
    }

    async fn wait_reached(&self) {
        let mut rx = self.reached.subscribe();
        let _ = rx.wait_for(|n| *n >= 1).await;
    }

    async fn act(&self, b: Behaviour) {
        self.go.send_replace(Some(b));
        let mut rx = self.done.subscribe();
        let _ = rx.wait_for(|d| *d).await;
    }
}

/// Carries out `b` on the server's side of a connection; `answer` is what answering
/// sends. Keeps the connection until the client closes it (or the server stops).
async fn behave(mut stream: TcpStream, b: Behaviour, answer: &[u8], gate: &Gate) {
    match b {
        Behaviour::Answers => {
            let _ = stream.write_all(answer).await;
        }
        Behaviour::Stalls => {}
        Behaviour::Closes => {
            let _ = stream.shutdown().await;
        }
        Behaviour::Resets => {
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            drop(stream);
            gate.did();
            return;
        }
    }
    gate.did();
    read_to_close(&mut stream).await;
}

/// The server for `point`: reaches the point with the client, then behaves as told.
async fn server_for(point: Point, gate: Gate, elsewhere: &Elsewhere) -> RawServer {
    elsewhere
        .run(RawServer::start(move |mut stream, _| {
            let gate = gate.clone();
            async move {
                let answer: Vec<u8> = match point {
                    Point::TlsHandshake => {
                        // The ClientHello arrives; the server never answers it in TLS.
                        read_head_or_some(&mut stream).await;
                        b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()
                    }
                    Point::WritingHead | Point::WritingBody => {
                        // Reads a little, then nothing: the client's write blocks.
                        let mut first = [0u8; 1];
                        let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut first).await;
                        b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n".to_vec()
                    }
                    Point::WaitingInLine | Point::ReadingHead => {
                        read_head(&mut stream).await;
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec()
                    }
                    Point::ReadingBody | Point::Draining => {
                        read_head(&mut stream).await;
                        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {BODY_LEN}\r\n\r\n");
                        let _ = stream.write_all(head.as_bytes()).await;
                        let _ = stream.write_all(HALF).await;
                        b"second half".to_vec()
                    }
                    Point::Dialing => Vec::new(),
                };
                let b = gate.arrive().await;
                behave(stream, b, &answer, &gate).await;
            }
        }))
        .await
}

/// Reads whatever comes first (a TLS ClientHello has no blank line to wait for).
async fn read_head_or_some(stream: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = tokio::io::AsyncReadExt::read(stream, &mut buf).await;
}

fn client() -> Client {
    Client::builder()
        .max_connections_per_host(1)
        .max_connections_total(1)
        .drain_timeout(Duration::from_millis(200))
        .sweep_interval(Duration::from_millis(10))
        .build()
        .unwrap()
}

/// Polls `fut` until `reached` completes; the request must not finish first.
async fn drive_until<F: Future>(fut: std::pin::Pin<&mut F>, reached: impl Future<Output = ()>)
where
    F::Output: std::fmt::Debug,
{
    tokio::select! {
        biased;
        out = fut => panic!("the request finished before the point: {out:?}"),
        () = reached => {}
    }
}

/// Polls `fut` once: it must be suspended, not finished.
async fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>)
where
    F::Output: std::fmt::Debug,
{
    tokio::select! {
        biased;
        out = fut => panic!("the request finished before the point: {out:?}"),
        () = std::future::ready(()) => {}
    }
}

/// The checks after each cell.
async fn nothing_left_behind(client: &Client, good: &TestServer, cell: &str) {
    eventually(&format!("{cell}: no slot leaked"), || {
        let s = client.stats();
        s.in_use == 0 && s.waiters == 0 && s.open == s.idle
    })
    .await;
    eventually(&format!("{cell}: no task left but the sweep"), || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
            <= 1
    })
    .await;
    let resp = client
        .get(good.url("/next"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{cell}: the next request failed: {e:?}"));
    assert_eq!(resp.text().await.unwrap(), "ok", "{cell}");
    let s = client.stats();
    assert_eq!((s.in_use, s.waiters), (0, 0), "{cell}: {s:?}");
}

/// Runs one cell of the matrix.
async fn cell(point: Point, behaviour: Behaviour, elsewhere: &Elsewhere, good: &TestServer) {
    let name = format!("{point:?} × {behaviour:?}");
    let client = client();
    let gate = Gate::new();
    // Kept until the checks are done: a server that stopped would end what it holds.
    let kept = match point {
        Point::Dialing => None,
        _ => Some(server_for(point, gate.clone(), elsewhere).await),
    };
    let server = kept.as_ref();
    let url = |path: &str| server.map(|s| s.url(path)).unwrap_or_default();
    match point {
        Point::Dialing => {
            let (addr, _listener, _fillers) = listener_that_never_completes_a_connect().await;
            let mut fut = Box::pin(client.get(format!("http://{addr}/")).send());
            drive_until(
                fut.as_mut(),
                eventually("dialing", || client.stats().open == 1),
            )
            .await;
            assert_eq!(
                client.stats().connections_opened,
                0,
                "{name}: still dialing"
            );
        }
        Point::WaitingInLine => {
            let holder = tokio::spawn({
                let client = client.clone();
                let hold = url("/hold");
                async move { client.get(hold).send().await?.text().await }
            });
            gate.wait_reached().await;
            let mut fut = Box::pin(client.get(url("/waits")).send());
            drive_until(
                fut.as_mut(),
                eventually("waiting", || client.stats().waiters == 1),
            )
            .await;
            gate.act(behaviour).await;
            drop(fut);
            if behaviour == Behaviour::Answers {
                assert_eq!(holder.await.unwrap().unwrap(), "ok", "{name}");
            } else {
                holder.abort();
                let _ = holder.await;
            }
        }
        Point::TlsHandshake => {
            let addr = server.map(|s| s.addr().to_string()).unwrap_or_default();
            let mut fut = Box::pin(client.get(format!("https://{addr}/")).send());
            drive_until(fut.as_mut(), gate.wait_reached()).await;
            gate.act(behaviour).await;
            drop(fut);
        }
        Point::WritingHead => {
            let huge = "h".repeat(TOO_BIG);
            let mut fut = Box::pin(client.get(url("/")).header("x-huge", huge).send());
            drive_until(fut.as_mut(), gate.wait_reached()).await;
            gate.act(behaviour).await;
            drop(fut);
        }
        Point::WritingBody => {
            let mut fut = Box::pin(client.post(url("/")).body(vec![b'b'; TOO_BIG]).send());
            drive_until(fut.as_mut(), gate.wait_reached()).await;
            gate.act(behaviour).await;
            drop(fut);
        }
        Point::ReadingHead => {
            let mut fut = Box::pin(client.get(url("/")).send());
            drive_until(fut.as_mut(), gate.wait_reached()).await;
            gate.act(behaviour).await;
            drop(fut);
        }
        Point::ReadingBody => {
            let mut resp = client.get(url("/")).send().await.unwrap();
            gate.wait_reached().await;
            if resp.headers().contains_key("content-length") {
                // What arrived with the head, if it did not all come with it.
                let first = resp.chunk().await.unwrap().unwrap_or_default();
                assert!(HALF.starts_with(&first), "{name}");
            }
            let mut fut = Box::pin(resp.bytes());
            poll_once(fut.as_mut()).await;
            gate.act(behaviour).await;
            drop(fut);
        }
        Point::Draining => {
            let resp = client.get(url("/")).send().await.unwrap();
            gate.wait_reached().await;
            drop(resp);
            gate.act(behaviour).await;
            if behaviour == Behaviour::Answers {
                eventually(&format!("{name}: drained and kept"), || {
                    client.stats().bodies_drained == 1
                })
                .await;
            }
        }
    }
    nothing_left_behind(&client, good, &name).await;
    drop(kept);
}

async fn row(point: Point, behaviours: &[Behaviour]) {
    let elsewhere = Elsewhere::new();
    let good = elsewhere.server(Script::new()).await;
    for &b in behaviours {
        cell(point, b, &elsewhere, &good).await;
    }
}

#[tokio::test]
async fn dropped_while_waiting_in_line() {
    row(Point::WaitingInLine, &ALL).await;
}

#[tokio::test]
async fn dropped_while_dialing() {
    // A connect that never completes: the server can do nothing else there.
    row(Point::Dialing, &[Behaviour::Stalls]).await;
}

#[tokio::test]
async fn dropped_during_the_tls_handshake() {
    row(Point::TlsHandshake, &ALL).await;
}

#[tokio::test]
async fn dropped_while_writing_the_head() {
    row(Point::WritingHead, &ALL).await;
}

#[tokio::test]
async fn dropped_while_writing_the_body() {
    row(Point::WritingBody, &ALL).await;
}

#[tokio::test]
async fn dropped_while_reading_the_head() {
    row(Point::ReadingHead, &ALL).await;
}

#[tokio::test]
async fn dropped_while_reading_the_body() {
    row(Point::ReadingBody, &ALL).await;
}

#[tokio::test]
async fn dropped_while_the_body_drains() {
    row(Point::Draining, &ALL).await;
}
