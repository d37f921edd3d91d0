//! URL userinfo is honoured and never leaked: `http://alice:s3cret@host/` sends
//! `Authorization: Basic` with the percent-decoded credentials unless the caller set
//! `Authorization`, and the password appears in no `Debug`, `Display`, error message or
//! tracing field, including errors naming a URL a caller or a server gave with userinfo.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use support::{Reply, Script, TestServer};
use tether::Client;

/// `user:password` in standard base64, written out by hand for the test.
const ALICE_BASIC: &str = "Basic YWxpY2U6czNjcjN0OnBhc3M="; // alice:s3cr3t:pass

const SECRET: &str = "s3cr3t";

/// Collects everything the fmt subscriber writes.
#[derive(Clone, Default)]
struct Written(Arc<Mutex<Vec<u8>>>);

impl Write for Written {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Written {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

/// Every tracing event of this thread, at every level, with every field, as text.
/// Captures the tracing output of the calling thread (a `#[tokio::test]` runs the client
/// and the server there) until the guard is dropped. One global subscriber at TRACE serves
/// every test: a per-test `set_default` races with other tests' threads registering
/// callsites, which can leave a callsite disabled and the capture empty.
fn capture_tracing() -> (Written, Capturing) {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(|| ThreadWriter)
            .with_ansi(false)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
    let out = Written::default();
    CAPTURE.with(|c| *c.borrow_mut() = Some(out.clone()));
    (out, Capturing)
}

thread_local! {
    static CAPTURE: std::cell::RefCell<Option<Written>> = const { std::cell::RefCell::new(None) };
}

/// Ends the calling thread's capture when dropped.
struct Capturing;

impl Drop for Capturing {
    fn drop(&mut self) {
        CAPTURE.with(|c| *c.borrow_mut() = None);
    }
}

/// Writes into the calling thread's capture, if any.
struct ThreadWriter;

impl Write for ThreadWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|c| {
            if let Some(out) = &mut *c.borrow_mut() {
                out.write_all(buf)?;
            }
            Ok(buf.len())
        })
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn with_userinfo(server: &TestServer, path: &str) -> String {
    // "s3cr3t:pass" percent-encodes its colon, as a password's colon must be.
    format!("http://alice:{SECRET}%3Apass@{}{path}", server.addr())
}

#[tokio::test]
async fn userinfo_is_sent_as_basic_auth_and_kept_out_of_everything_shown() {
    let (traced, _guard) = capture_tracing();
    let server = TestServer::start(Script::new()).await;
    let client = Client::new();
    let resp = client
        .get(with_userinfo(&server, "/private"))
        .send()
        .await
        .unwrap();
    let shown = format!("{resp:?} {}", resp.url());
    assert!(!shown.contains(SECRET), "{shown}");
    assert_eq!(resp.url().username(), "", "userinfo is not kept in the URL");
    assert_eq!(resp.text().await.unwrap(), "ok");
    let req = &server.requests()[0];
    assert_eq!(req.header("authorization"), Some(ALICE_BASIC));
    assert!(
        !String::from_utf8_lossy(&req.raw_head).contains(SECRET),
        "the request line carries no userinfo"
    );
    assert_eq!(req.target, "/private");
    let traced = traced.text();
    assert!(traced.contains("opened connection"), "tracing was captured");
    assert!(!traced.contains(SECRET), "{traced}");
    assert!(
        !traced.contains("YWxpY2U6"),
        "no Authorization value in tracing"
    );
}

#[tokio::test]
async fn the_callers_authorization_wins_over_userinfo() {
    let server = TestServer::start(Script::new()).await;
    let client = Client::new();
    let resp = client
        .get(with_userinfo(&server, "/"))
        .header("Authorization", "Bearer token-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let req = &server.requests()[0];
    assert_eq!(req.header_all("authorization"), vec!["Bearer token-1"]);
}

#[tokio::test]
async fn a_user_without_password_is_sent_with_an_empty_one() {
    let server = TestServer::start(Script::new()).await;
    let client = Client::new();
    let url = format!("http://bob@{}/", server.addr());
    client.get(url).send().await.unwrap();
    // "bob:" in base64.
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some("Basic Ym9iOg==")
    );
}

#[tokio::test]
async fn errors_never_show_the_password() {
    let (traced, _guard) = capture_tracing();
    let client = Client::new();
    // Nothing listens there: a connect error.
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = unused.local_addr().unwrap().port();
    drop(unused);
    let err = client
        .get(format!("http://alice:{SECRET}@127.0.0.1:{port}/"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    // It names the URL it is about, in its Display too, without the userinfo.
    let named = err.url().map(|u| u.as_str().to_owned());
    assert_eq!(named, Some(format!("http://127.0.0.1:{port}/")));
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}/")),
        "{err}"
    );
    // A URL that does not parse, one that is not http, and ones written without a scheme
    // or with one slash (the password still stands before the last `@` of what would be
    // the authority): each refused unsent.
    let mut errors = vec![err];
    for url in [
        format!("http://alice:{SECRET}@bad host/"),
        format!("ftp://alice:{SECRET}@127.0.0.1/"),
        format!("alice:{SECRET}@127.0.0.1:99999/"),
        format!("http:/alice:{SECRET}@127.0.0.1:99999/"),
    ] {
        let refused = client.get(&url).send().await.unwrap_err();
        assert!(refused.is_invalid_request(), "{url}: {refused:?}");
        errors.push(refused);
    }
    errors.push(tether::Proxy::all(format!("alice:{SECRET}@proxy.test:99999")).unwrap_err());
    for e in &errors {
        let shown = format!("{e} {e:?} {:?}", e.url().map(|u| u.as_str()));
        assert!(!shown.contains(SECRET), "{shown}");
    }
    let traced = traced.text();
    assert!(!traced.contains(SECRET), "{traced}");
}

/// Errors that name a URL before its userinfo was taken out, or one a server gave: a
/// request `https_only` refuses, and a redirect to a `Location` with userinfo that the
/// policy refuses. Neither shows the password.
#[tokio::test]
async fn errors_naming_a_url_with_userinfo_never_show_the_password() {
    let (traced, _guard) = capture_tracing();
    let server = TestServer::start(Script::new().respond(|req| {
        let to = format!(
            "http://alice:{SECRET}@{}/next",
            req.header("host").unwrap_or("?")
        );
        Reply::status(302).with_header("Location", &to)
    }))
    .await;
    let strict = Client::builder().https_only(true).build().unwrap();
    let refused = strict
        .get(with_userinfo(&server, "/"))
        .send()
        .await
        .unwrap_err();
    assert!(refused.is_invalid_request(), "{refused:?}");
    let no_hops = Client::builder()
        .redirect(tether::redirect::Policy::limited(0))
        .build()
        .unwrap();
    let stopped = no_hops.get(server.url("/")).send().await.unwrap_err();
    assert!(stopped.is_redirect(), "{stopped:?}");
    for e in [&refused, &stopped] {
        let shown = format!("{e} {e:?} {:?}", e.url().map(|u| u.as_str()));
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(e.url().is_some_and(|u| u.username().is_empty()), "{shown}");
    }
    assert_eq!(server.requests().len(), 1, "only the first request went");
    let traced = traced.text();
    assert!(!traced.contains(SECRET), "{traced}");
}

#[tokio::test]
async fn a_retry_resends_the_same_credentials() {
    // A 408 is retried on a fresh connection: the retry carries Authorization too.
    let server = TestServer::start(
        Script::new().sequence(vec![Reply::status(408).closing(), Reply::ok("second")]),
    )
    .await;
    let client = Client::new();
    let resp = client
        .get(with_userinfo(&server, "/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "second");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    for req in reqs {
        assert_eq!(req.header("authorization"), Some(ALICE_BASIC));
    }
}

#[tokio::test]
async fn proxy_credentials_go_to_the_proxy_alone_and_are_never_shown() {
    let (traced, _guard) = capture_tracing();
    // The scripted server stands where a proxy would, to show the bytes a proxy gets.
    let proxy = TestServer::start(Script::new()).await;
    let proxy_url = format!("http://alice:{SECRET}%3Apass@{}", proxy.addr());
    let client = Client::builder()
        .proxy(tether::Proxy::http(&proxy_url).unwrap())
        .build()
        .unwrap();
    let resp = client.get("http://origin.test/x?y").send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok");
    let req = &proxy.requests()[0];
    assert_eq!(req.target, "http://origin.test/x?y", "absolute-form");
    assert_eq!(req.header("host"), Some("origin.test"));
    assert_eq!(req.header("proxy-authorization"), Some(ALICE_BASIC));
    assert_eq!(req.header("authorization"), None);

    // The caller's own Proxy-Authorization wins.
    let resp = client
        .get("http://origin.test/own")
        .header("proxy-authorization", "Bearer mine")
        .send()
        .await
        .unwrap();
    resp.text().await.unwrap();
    assert_eq!(
        proxy.requests()[1].header_all("proxy-authorization"),
        ["Bearer mine"]
    );

    let shown = format!(
        "{client:?} {:?} {:?}",
        client.stats(),
        tether::Proxy::http(&proxy_url)
    );
    assert!(!shown.contains(SECRET), "{shown}");
    let traced = traced.text();
    assert!(
        traced.contains("via=\"proxy\""),
        "the dial says it went to a proxy: {traced}"
    );
    assert!(!traced.contains(SECRET), "{traced}");
    assert!(
        !traced.contains("YWxpY2U6"),
        "no Proxy-Authorization value in tracing"
    );
}
