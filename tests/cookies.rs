//! The cookie store (feature `cookies`; CI runs this file with `--features cookies`):
//! `Set-Cookie` is stored, matching cookies are sent, across redirects too, never to
//! another host, and a caller's own `Cookie` header wins. Without `cookie_store(true)`
//! nothing is kept. `Response::cookies` lists what a response sets.
#![cfg(feature = "cookies")]

mod support;

use support::{Reply, Script, TestServer};
use tether::Client;

/// `/login` sets a session cookie and redirects to `/home`; `/to-other` redirects to
/// `other`; everything else answers what `Cookie` it got.
fn site(other: Option<String>) -> Script {
    Script::new().respond(move |req| match req.target.as_str() {
        "/login" => Reply::status(302)
            .with_header("Set-Cookie", "session=abc123; Path=/; HttpOnly")
            .with_header("Location", "/home"),
        "/theme" => Reply::ok("set").with_header("Set-Cookie", "theme=dark; Path=/"),
        "/to-other" => match &other {
            Some(url) => Reply::status(302).with_header("Location", url),
            None => Reply::status(404),
        },
        _ => Reply::ok(req.header("cookie").unwrap_or("none").to_string()),
    })
}

#[tokio::test]
async fn cookies_set_by_a_redirect_are_sent_on_the_next_hop_and_after() {
    let server = TestServer::start(site(None)).await;
    let client = Client::builder().cookie_store(true).build().unwrap();
    let home = client.get(server.url("/login")).send().await.unwrap();
    assert_eq!(home.url().path(), "/home");
    assert_eq!(home.text().await.unwrap(), "session=abc123");
    client.get(server.url("/theme")).send().await.unwrap();
    let both = client.get(server.url("/page")).send().await.unwrap();
    let text = both.text().await.unwrap();
    assert!(
        text.contains("session=abc123") && text.contains("theme=dark"),
        "{text}"
    );
}

#[tokio::test]
async fn a_callers_cookie_header_wins_and_no_store_keeps_nothing() {
    let server = TestServer::start(site(None)).await;
    let client = Client::builder().cookie_store(true).build().unwrap();
    client.get(server.url("/theme")).send().await.unwrap();
    let mine = client
        .get(server.url("/page"))
        .header("cookie", "mine=1")
        .send()
        .await
        .unwrap();
    assert_eq!(mine.text().await.unwrap(), "mine=1");
    let plain = Client::new();
    plain.get(server.url("/theme")).send().await.unwrap();
    let resp = plain.get(server.url("/page")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "none");
}

#[tokio::test]
async fn cookies_do_not_follow_a_redirect_to_another_host() {
    let other = TestServer::start_on("127.0.0.2", site(None)).await;
    let server = TestServer::start(site(Some(other.url("/page")))).await;
    let client = Client::builder().cookie_store(true).build().unwrap();
    client.get(server.url("/theme")).send().await.unwrap();
    let there = client.get(server.url("/to-other")).send().await.unwrap();
    assert_eq!(there.url().host_str(), Some("127.0.0.2"));
    assert_eq!(there.text().await.unwrap(), "none");
    assert_eq!(server.requests()[1].header("cookie"), Some("theme=dark"));
}

/// `Response::cookies` gives each `Set-Cookie` a response carries, parsed, with or without
/// a store; one that does not parse is left out, and `Debug` never shows a value.
#[tokio::test]
async fn a_response_lists_the_cookies_it_sets() {
    let server = TestServer::start(Script::new().always(
        Reply::ok("set")
            .with_header(
                "Set-Cookie",
                "session=abc123; Path=/app; Domain=127.0.0.1; HttpOnly; Secure; SameSite=Strict; Max-Age=60",
            )
            .with_header("Set-Cookie", "=no-name")
            .with_header(
                "Set-Cookie",
                "theme=dark; SameSite=Lax; Expires=Wed, 21 Oct 2037 07:28:00 GMT",
            ),
    ))
    .await;
    let resp = Client::new().get(server.url("/")).send().await.unwrap();
    let cookies: Vec<_> = resp.cookies().collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    let session = &cookies[0];
    assert_eq!((session.name(), session.value()), ("session", "abc123"));
    assert_eq!(session.path(), Some("/app"));
    assert_eq!(session.domain(), Some("127.0.0.1"));
    assert!(session.http_only() && session.secure() && session.same_site_strict());
    assert!(!session.same_site_lax());
    assert_eq!(session.max_age(), Some(std::time::Duration::from_secs(60)));
    assert_eq!(session.expires(), None);
    let theme = &cookies[1];
    assert_eq!((theme.name(), theme.value()), ("theme", "dark"));
    assert!(theme.same_site_lax() && !theme.secure() && !theme.http_only());
    let expires = theme.expires().unwrap();
    let since_epoch = expires.duration_since(std::time::UNIX_EPOCH).unwrap();
    assert_eq!(since_epoch.as_secs(), 2_139_722_880);
    assert!(!format!("{cookies:?}").contains("abc123"));
    let _: Option<tether::cookie::Cookie<'_>> = resp.cookies().next();
}

/// A `Jar` made by hand (`cookie_provider`): what it holds before the client is built
/// goes to matching URLs only, what responses set lands in it (redirects included), and
/// its `Debug` never shows a value.
#[tokio::test]
async fn a_jar_given_to_the_client_is_sent_and_filled_as_it_runs() {
    use std::sync::Arc;
    use tether::cookie::{CookieStore, Jar};

    let server = TestServer::start(site(None)).await;
    let other = TestServer::start(site(None)).await;
    let url: url::Url = server.url("/").parse().unwrap();
    let jar = Arc::new(Jar::default());
    jar.add_cookie_str("seed=s1; Path=/", &url);
    jar.add_cookie_str("not a cookie", &url);
    let client = Client::builder()
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    let resp = client.get(server.url("/page")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "seed=s1");
    // `other` is 127.0.0.1 on another port: the same host for cookies (RFC 6265 §8.5).
    // A name the jar holds nothing for gets nothing.
    let elsewhere = other.url("/page").replace("127.0.0.1", "localhost");
    let resp = client.get(elsewhere).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "none");

    client.get(server.url("/login")).send().await.unwrap();
    let held = jar.cookies(&url).expect("cookies for the server");
    let held = held.to_str().unwrap();
    for cookie in ["seed=s1", "session=abc123"] {
        assert!(held.contains(cookie), "{held}");
    }
    let shown = format!("{jar:?}");
    assert!(shown.contains("cookies: 2"), "{shown}");
    assert!(
        !shown.contains("abc123") && !shown.contains("s1"),
        "{shown}"
    );
}

/// Any `CookieStore` can be the client's: it is told each response's `Set-Cookie` values
/// with their URL, and asked for the `Cookie` of each request that sets none.
#[tokio::test]
async fn a_cookie_store_of_the_callers_own_is_told_and_asked() {
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Recording {
        told: Mutex<Vec<(String, Vec<String>)>>,
        asked: Mutex<Vec<String>>,
    }
    impl tether::cookie::CookieStore for Recording {
        fn set_cookies(
            &self,
            cookie_headers: &mut dyn Iterator<Item = &http::HeaderValue>,
            url: &url::Url,
        ) {
            let values = cookie_headers
                .map(|v| v.to_str().unwrap().to_string())
                .collect();
            self.told
                .lock()
                .unwrap()
                .push((url.path().to_string(), values));
        }
        fn cookies(&self, url: &url::Url) -> Option<http::HeaderValue> {
            self.asked.lock().unwrap().push(url.path().to_string());
            Some(http::HeaderValue::from_static("mine=42"))
        }
    }

    let server = TestServer::start(site(None)).await;
    let store = Arc::new(Recording::default());
    let client = Client::builder()
        .cookie_provider(store.clone())
        .build()
        .unwrap();
    let home = client.get(server.url("/login")).send().await.unwrap();
    assert_eq!(home.text().await.unwrap(), "mine=42");
    let own = client
        .get(server.url("/page"))
        .header("cookie", "own=1")
        .send()
        .await
        .unwrap();
    assert_eq!(own.text().await.unwrap(), "own=1");
    assert_eq!(*store.asked.lock().unwrap(), ["/login", "/home"]);
    assert_eq!(
        *store.told.lock().unwrap(),
        [(
            "/login".to_string(),
            vec!["session=abc123; Path=/; HttpOnly".to_string()]
        )],
        "only responses that set cookies are told"
    );
}
