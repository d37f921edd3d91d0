//! Every pool decision a user needs to debug a pool is a `tracing` event with fields:
//! opening (host, conn, reused=false), reuse (host, conn, reused=true, idle time), a FIN or
//! an unsolicited response found on an idle connection (cause), a retry (cause, reused),
//! a drain, an expiry (cause), waiting and giving up, eviction; and no header value ever
//! appears in one.
//!
//! Events are captured by a small `tracing_subscriber::Layer` installed as this thread's
//! default; each test runs on a current-thread runtime, so the pool's background tasks
//! (drain, sweep) report to it too.

mod support;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{eventually, ConnPolicy, Reply, Script, TestServer};
use tether::Client;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

/// One event: its message and its other fields, as text.
#[derive(Clone, Debug)]
struct Recorded {
    target: String,
    message: String,
    fields: HashMap<String, String>,
}

impl Recorded {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

#[derive(Default)]
struct Fields(HashMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

/// Records every event.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Recorded>>>);

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let message = fields.0.remove("message").unwrap_or_default();
        self.0.lock().unwrap().push(Recorded {
            target: event.metadata().target().to_string(),
            message,
            fields: fields.0,
        });
    }
}

impl Capture {
    /// Installs the capture for this thread until the guard is dropped.
    fn install() -> (Capture, tracing::subscriber::DefaultGuard) {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry().with(capture.clone());
        let guard = tracing::subscriber::set_default(subscriber);
        (capture, guard)
    }

    fn all(&self) -> Vec<Recorded> {
        self.0.lock().unwrap().clone()
    }

    /// The events whose message is `message`.
    fn named(&self, message: &str) -> Vec<Recorded> {
        self.all()
            .into_iter()
            .filter(|e| e.message == message)
            .collect()
    }

    /// The one event whose message is `message`; panics with every event otherwise.
    fn one(&self, message: &str) -> Recorded {
        let found = self.named(message);
        assert_eq!(
            found.len(),
            1,
            "expected one {message:?} event; all events: {:#?}",
            self.all()
        );
        found.into_iter().next().unwrap()
    }
}

fn host(server: &TestServer) -> String {
    format!("http://{}", server.addr())
}

async fn get_ok(client: &Client, url: String) {
    let resp = client.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.bytes().await.unwrap();
}

#[tokio::test]
async fn opening_and_reusing_a_connection_are_traced_with_host_conn_and_idle_time() {
    let (capture, _guard) = Capture::install();
    let server = TestServer::start(Script::new()).await;
    let client = Client::new();
    get_ok(&client, server.url("/")).await;
    get_ok(&client, server.url("/")).await;
    let opened = capture.one("opened connection");
    assert_eq!(opened.field("host"), Some(host(&server).as_str()));
    assert_eq!(opened.field("reused"), Some("false"));
    let conn = opened.field("conn").expect("conn id").to_string();
    let reused = capture.one("reusing idle connection");
    assert_eq!(reused.field("host"), Some(host(&server).as_str()));
    assert_eq!(reused.field("conn"), Some(conn.as_str()));
    assert_eq!(reused.field("reused"), Some("true"));
    let idle_ms: u64 = reused.field("idle_ms").expect("idle time").parse().unwrap();
    assert!(idle_ms < 60_000);
}

#[tokio::test]
async fn fin_found_on_an_idle_connection_is_traced_with_its_cause() {
    let (capture, _guard) = Capture::install();
    let server = TestServer::start(Script::new().conn_policy(ConnPolicy {
        idle_close: Some(Duration::from_millis(20)),
        ..ConnPolicy::default()
    }))
    .await;
    let client = Client::new();
    get_ok(&client, server.url("/")).await;
    server.wait_until(|s| s.closed_by_server == 1).await;
    get_ok(&client, server.url("/")).await;
    let first_conn = capture.named("opened connection")[0]
        .field("conn")
        .unwrap()
        .to_string();
    let closed = capture.one("closing idle connection");
    assert_eq!(closed.field("cause"), Some("closed by server"));
    assert_eq!(closed.field("host"), Some(host(&server).as_str()));
    assert_eq!(closed.field("conn"), Some(first_conn.as_str()));
    assert!(closed.field("idle_ms").is_some());
    assert_eq!(capture.named("opened connection").len(), 2);
}

#[tokio::test]
async fn unsolicited_response_on_an_idle_connection_is_traced() {
    let (capture, _guard) = Capture::install();
    let server = TestServer::start(Script::new().conn_policy(ConnPolicy {
        idle_408: Some(Duration::from_millis(20)),
        ..ConnPolicy::default()
    }))
    .await;
    let client = Client::new();
    get_ok(&client, server.url("/")).await;
    server.wait_until(|s| s.closed_by_server == 1).await;
    get_ok(&client, server.url("/")).await;
    let closed = capture.one("closing idle connection");
    assert_eq!(closed.field("cause"), Some("unsolicited response"));
    assert_eq!(closed.field("host"), Some(host(&server).as_str()));
}

#[tokio::test]
async fn close_race_retry_is_traced_with_its_cause() {
    let (capture, _guard) = Capture::install();
    let server = TestServer::start(Script::new().respond(|req| {
        if req.conn == 0 && req.index_on_conn == 1 {
            Reply::CloseWithoutAnswer
        } else {
            Reply::ok("ok")
        }
    }))
    .await;
    let client = Client::new();
    get_ok(&client, server.url("/")).await;
    get_ok(&client, server.url("/")).await;
    let retry = capture.one("retrying on a fresh connection");
    assert_eq!(retry.field("cause"), Some("closed before response"));
    assert_eq!(retry.field("reused"), Some("true"));
    assert_eq!(retry.field("host"), Some(host(&server).as_str()));
    assert_eq!(retry.field("retry"), Some("1"));
    let first_conn = capture.named("opened connection")[0]
        .field("conn")
        .unwrap()
        .to_string();
    assert_eq!(retry.field("conn"), Some(first_conn.as_str()));
}

#[tokio::test]
async fn retry_after_a_408_is_traced_with_its_cause() {
    let (capture, _guard) = Capture::install();
    let server = TestServer::start(Script::new().respond(|req| {
        if req.seq == 0 {
            Reply::status(408)
        } else {
            Reply::ok("ok")
        }
    }))
    .await;
    let client = Client::new();
    get_ok(&client, server.url("/")).await;
    let retry = capture.one("retrying on a fresh connection");
    assert_eq!(retry.field("cause"), Some("408 request timeout"));
    assert_eq!(retry.field("reused"), Some("false"));
}

#[tokio::test]
async fn drains_are_traced_with_how_much_was_drained() {
    let (capture, _guard) = Capture::install();
    let server = TestServer::start(Script::new().respond(|req| {
        if req.target == "/big" {
            Reply::ok(vec![b'x'; 100_000])
        } else {
            Reply::ok("ok")
        }
    }))
    .await;
    let client = Client::builder().drain_limit(200_000).build().unwrap();
    drop(client.get(server.url("/big")).send().await.unwrap());
    eventually("drained", || client.stats().bodies_drained == 1).await;
    let kept = capture.one("drained dropped body");
    assert_eq!(kept.field("host"), Some(host(&server).as_str()));
    assert!(kept.field("conn").is_some());
    let drained: u64 = kept.field("drained").unwrap().parse().unwrap();
    assert!(drained > 0 && drained <= 100_000);

    let small = Client::builder().drain_limit(1000).build().unwrap();
    drop(small.get(server.url("/big")).send().await.unwrap());
    eventually("gave up", || small.stats().drains_over_limit == 1).await;
    let over = capture.one("dropped body over the drain limit; connection closed");
    assert!(over.field("drained").unwrap().parse::<u64>().unwrap() > 1000);
}

#[tokio::test]
async fn expiry_by_idle_timeout_is_traced_with_its_cause() {
    let (capture, _guard) = Capture::install();
    let server = TestServer::start(Script::new()).await;
    let client = Client::builder()
        .idle_timeout(Duration::from_millis(20))
        .sweep_interval(Duration::from_millis(10))
        .build()
        .unwrap();
    get_ok(&client, server.url("/")).await;
    server.wait_until(|s| s.closed_by_client == 1).await;
    let closed = capture.one("closing idle connection");
    assert_eq!(closed.field("cause"), Some("idle timeout"));
    assert_eq!(closed.field("host"), Some(host(&server).as_str()));
    assert!(closed.field("conn").is_some());
    let idle_ms: u64 = closed.field("idle_ms").unwrap().parse().unwrap();
    assert!(idle_ms >= 20);
}

#[tokio::test]
async fn closing_at_the_server_keep_alive_terms_is_traced_with_its_cause() {
    let (capture, _guard) = Capture::install();
    let server = TestServer::start(Script::new().respond(|req| {
        if req.target == "/max" {
            Reply::ok("ok").with_header("Keep-Alive", "timeout=30, max=0")
        } else {
            Reply::ok("ok").with_header("Keep-Alive", "timeout=1")
        }
    }))
    .await;
    let client = Client::new();
    get_ok(&client, server.url("/max")).await;
    get_ok(&client, server.url("/short")).await;
    let max = capture.one("server keep-alive max reached: closing");
    assert_eq!(max.field("cause"), Some("server keep-alive max"));
    assert_eq!(max.field("host"), Some(host(&server).as_str()));
    let short = capture.one("too little idle time left to reuse: closing");
    assert_eq!(short.field("cause"), Some("server keep-alive timeout"));
    assert!(short.field("conn").is_some());
}

#[tokio::test]
async fn waiting_giving_up_and_eviction_are_traced() {
    let (capture, _guard) = Capture::install();
    let a = TestServer::start_on("127.0.0.1", Script::new()).await;
    let b = TestServer::start_on("127.0.0.2", Script::new()).await;
    let client = Client::builder()
        .max_connections_total(1)
        .pool_timeout(Duration::from_millis(20))
        .build()
        .unwrap();
    // Held by its unread body: the global cap of 1 is taken.
    let held = {
        let server = TestServer::start_on(
            "127.0.0.3",
            Script::new().always(Reply::StallMidBody {
                head: b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n"
                    .to_vec(),
                sent: b"hello".to_vec(),
            }),
        )
        .await;
        let resp = client.get(server.url("/")).send().await.unwrap();
        (server, resp)
    };
    let err = client.get(a.url("/")).send().await.unwrap_err();
    assert!(err.is_timeout());
    let waiting = capture.one("waiting for a connection");
    assert_eq!(waiting.field("host"), Some(host(&a).as_str()));
    let gave_up = capture.one("waiter gave up");
    assert_eq!(gave_up.field("waiter"), waiting.field("waiter"));
    drop(held);
    eventually("the held connection closed", || client.stats().open == 0).await;
    get_ok(&client, a.url("/")).await;
    // A's idle connection makes room for B.
    get_ok(&client, b.url("/")).await;
    let evicted = capture.one("closing idle connection");
    assert_eq!(evicted.field("cause"), Some("evicted for another host"));
    assert_eq!(evicted.field("host"), Some(host(&a).as_str()));
}

#[tokio::test]
async fn no_header_value_appears_in_any_event() {
    let (capture, _guard) = Capture::install();
    let server = TestServer::start(Script::new().respond(|req| {
        if req.seq == 1 {
            Reply::CloseWithoutAnswer
        } else {
            Reply::ok("ok").with_header("Set-Cookie", "session=server-secret-cookie")
        }
    }))
    .await;
    let client = Client::new();
    for _ in 0..3 {
        let resp = client
            .get(server.url("/"))
            .header("Authorization", "Bearer client-secret-token")
            .send()
            .await
            .unwrap();
        resp.bytes().await.unwrap();
    }
    let events = capture.all();
    assert!(events.len() >= 3, "{events:#?}");
    for e in events {
        let text = format!("{e:?}");
        assert!(!text.contains("client-secret-token"), "{text}");
        assert!(!text.contains("server-secret-cookie"), "{text}");
    }
}

#[tokio::test]
async fn closing_at_the_client_request_limit_is_traced_with_its_cause() {
    let (capture, _guard) = Capture::install();
    let server = TestServer::start(Script::new()).await;
    let client = Client::builder()
        .max_requests_per_connection(2)
        .build()
        .unwrap();
    for _ in 0..2 {
        get_ok(&client, server.url("/")).await;
    }
    let limit = capture.one("request limit reached: closing");
    assert_eq!(limit.field("cause"), Some("max requests per connection"));
    assert_eq!(limit.field("host"), Some(host(&server).as_str()));
    assert_eq!(client.stats().open, 0);
}

#[tokio::test]
async fn each_redirect_hop_is_traced_with_status_from_and_to() {
    let (capture, _guard) = Capture::install();
    let server = TestServer::start(Script::new().respond(|req| {
        if req.target == "/old" {
            Reply::status(301).with_header("Location", "/new")
        } else {
            Reply::ok("ok")
        }
    }))
    .await;
    let client = Client::new();
    get_ok(&client, server.url("/old")).await;
    let hop = capture.one("following redirect");
    assert_eq!(hop.field("status"), Some("301"));
    assert_eq!(hop.field("from"), Some(server.url("/old").as_str()));
    assert_eq!(hop.field("to"), Some(server.url("/new").as_str()));
    assert_eq!(hop.field("method"), Some("GET"));
    assert_eq!(client.stats().redirects, 1);
}

/// The `tether::verbose` events: (conn, "read" or "write", the bytes as escaped, len).
fn verbose_events(capture: &Capture) -> Vec<(String, String, String, usize)> {
    capture
        .all()
        .into_iter()
        .filter(|e| e.target == "tether::verbose")
        .map(|e| {
            let (way, bytes) = e.message.split_once(": ").expect("way: bytes");
            (
                e.field("conn").expect("conn").to_string(),
                way.to_string(),
                bytes.to_string(),
                e.field("len").expect("len").parse().expect("a count"),
            )
        })
        .collect()
}

/// `connection_verbose`: off by default; on, every byte written is traced (exactly what
/// the server received) and every byte read (exactly what it sent), each event with the
/// connection's id and count; over HTTP/2 the frames' bytes, from the preface on.
#[tokio::test(flavor = "current_thread")]
async fn connection_verbose_traces_every_byte_read_and_written() {
    let (capture, _guard) = Capture::install();
    let server = TestServer::start(Script::new().always(support::Reply::ok("hello"))).await;
    get_ok(&Client::new(), server.url("/quiet")).await;
    assert!(verbose_events(&capture).is_empty(), "off by default");

    let client = Client::builder().connection_verbose(true).build().unwrap();
    let resp = client
        .post(server.url("/loud"))
        .body("ping")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "hello");
    let events = verbose_events(&capture);
    let joined = |way: &str| -> (String, usize) {
        let of_way = events.iter().filter(|e| e.1 == way);
        (
            of_way.clone().map(|e| e.2.as_str()).collect(),
            of_way.map(|e| e.3).sum(),
        )
    };
    let sent = server.requests().pop().unwrap();
    let mut wire = sent.raw_head.clone();
    wire.extend_from_slice(&sent.body);
    assert_eq!(
        joined("write"),
        (wire.escape_ascii().to_string(), wire.len())
    );
    let (read, read_len) = joined("read");
    assert!(read.starts_with("HTTP/1.1 200 OK\\r\\n"), "{read}");
    assert!(read.ends_with("\\r\\n\\r\\nhello"), "{read}");
    assert!(
        read_len > "hello".len() && read_len <= read.len(),
        "{read_len}"
    );
    assert!(events.iter().all(|e| e.0 == events[0].0), "one connection");

    let h2 = support::h2::H2Server::start(support::h2::H2Script::default()).await;
    let client = Client::builder()
        .http2_prior_knowledge()
        .connection_verbose(true)
        .build()
        .unwrap();
    let before = verbose_events(&capture).len();
    let resp = client.get(h2.url("127.0.0.1", "/")).send().await.unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_2);
    resp.bytes().await.unwrap();
    let events = verbose_events(&capture).split_off(before);
    let first_write = events.iter().find(|e| e.1 == "write").expect("a write");
    assert!(
        first_write
            .2
            .starts_with("PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n"),
        "{first_write:?}"
    );
    assert!(events.iter().any(|e| e.1 == "read"), "{events:?}");

    // After a `101`, the caller's own protocol on the connection.
    let switching = support::raw::RawServer::start(|mut stream, _| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        support::raw::read_head(&mut stream).await;
        let switched = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: shout\r\n\
            Connection: upgrade\r\n\r\n";
        let _ = stream.write_all(switched).await;
        let mut buf = [0u8; 16];
        if let Ok(n) = stream.read(&mut buf).await {
            let _ = stream.write_all(&buf[..n].to_ascii_uppercase()).await;
        }
    })
    .await;
    let client = Client::builder().connection_verbose(true).build().unwrap();
    let before = verbose_events(&capture).len();
    let resp = client
        .get(switching.url("/"))
        .header("upgrade", "shout")
        .send()
        .await
        .unwrap();
    let mut upgraded = resp.upgrade().await.unwrap();
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        upgraded.write_all(b"quiet").await.unwrap();
        let mut loud = [0u8; 5];
        upgraded.read_exact(&mut loud).await.unwrap();
        assert_eq!(&loud, b"QUIET");
    }
    let events = verbose_events(&capture).split_off(before);
    let tail: Vec<(&str, &str)> = events
        .iter()
        .rev()
        .take(2)
        .rev()
        .map(|e| (e.1.as_str(), e.2.as_str()))
        .collect();
    assert_eq!(tail, [("write", "quiet"), ("read", "QUIET")], "{events:?}");
}
