//! The everyday API, with reqwest's names, through real sockets: `query`, `form`, `json`,
//! `basic_auth`, `bearer_auth`, `headers`, `try_clone`, `default_headers`, `user_agent`; the
//! response's `json`, `text` (charsets), `bytes_stream`, `content_length`, `error_for_status`,
//! `remote_addr`; `Client::execute`, the tower `Service`, and
//! `http::Response<ResponseBody>`.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::BodyExt;
use support::{Reply, Script, TestServer};
use tether::{Client, ErrorKind};

async fn ok_server() -> TestServer {
    TestServer::start(Script::new()).await
}

#[tokio::test]
async fn query_pairs_are_encoded_and_appended_to_the_url() {
    let server = ok_server().await;
    let client = Client::new();
    client
        .get(server.url("/search?lang=en"))
        .query(&[("q", "rust http&more"), ("page", "2")])
        .send()
        .await
        .unwrap();
    client
        .get(server.url("/plain"))
        .query(&HashMap::<String, String>::new())
        .send()
        .await
        .unwrap();
    let reqs = server.requests();
    assert_eq!(reqs[0].target, "/search?lang=en&q=rust+http%26more&page=2");
    assert_eq!(reqs[1].target, "/plain", "an empty query adds no '?'");
}

/// A URL string already in normal form is only checked, not parsed, on the way out; the
/// same URL spelled otherwise is parsed; a `url::Url` whose text is in normal form is
/// taken as that text. All must put the same bytes on the wire, on one connection, and
/// answer with the same `Response::url`.
#[tokio::test]
async fn plain_and_parsed_spellings_of_a_url_send_the_same_request() {
    let server = ok_server().await;
    let client = Client::new();
    let port = server.addr().port();
    let plain = format!("http://127.0.0.1:{port}/a/b;c=d/%41?x=1&y=/z?");
    let spelled = format!("HTTP://127.0.0.1:{port}/a/./q/../b;c=d/%41?x=1&y=/z?");
    let mut urls = Vec::new();
    for url in [&plain, &spelled, &plain] {
        let resp = client.get(url.as_str()).send().await.unwrap();
        urls.push(resp.url().clone());
        resp.bytes().await.unwrap();
    }
    // A `url::Url`, given or lent, of either spelling.
    for url in [&plain, &spelled] {
        let parsed = url::Url::parse(url).unwrap();
        let lent = client.get(&parsed).send().await.unwrap();
        urls.push(lent.url().clone());
        lent.bytes().await.unwrap();
        let given = client.get(parsed).send().await.unwrap();
        urls.push(given.url().clone());
        given.bytes().await.unwrap();
    }
    assert_eq!(urls[0].as_str(), plain);
    assert!(urls.iter().all(|u| *u == urls[0]), "{urls:?}");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 7);
    for req in &reqs {
        assert_eq!(req.target, "/a/b;c=d/%41?x=1&y=/z?");
        assert_eq!(
            req.header("host"),
            Some(format!("127.0.0.1:{port}").as_str())
        );
        assert_eq!(req.raw_head, reqs[0].raw_head);
        assert_eq!(req.conn, reqs[0].conn, "one origin, one connection");
    }
    // A host that is not plain (upper case) is the same origin as its plain spelling:
    // the same `Host`, and the same connection.
    let named = Client::builder()
        .resolve("api.test", server.addr())
        .build()
        .unwrap();
    for url in [
        format!("http://API.test:{port}/n"),
        format!("http://api.test:{port}/n"),
    ] {
        named.get(url).send().await.unwrap().bytes().await.unwrap();
    }
    let reqs = server.requests();
    assert_eq!(reqs.len(), 9);
    assert_eq!(
        reqs[7].header("host"),
        Some(format!("api.test:{port}").as_str())
    );
    assert_eq!(reqs[7].raw_head, reqs[8].raw_head);
    assert_eq!(reqs[7].conn, reqs[8].conn, "one origin, one connection");
}

#[tokio::test]
async fn a_form_is_urlencoded_with_its_content_type() {
    let server = ok_server().await;
    Client::new()
        .post(server.url("/login"))
        .form(&[("user", "alice"), ("note", "a b=c")])
        .send()
        .await
        .unwrap();
    let req = &server.requests()[0];
    assert_eq!(req.body, b"user=alice&note=a+b%3Dc");
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(req.header("content-length"), Some("23"));
}

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Order {
    item: String,
    qty: u32,
}

#[tokio::test]
async fn json_bodies_go_out_and_come_back_typed() {
    let server = TestServer::start(Script::new().respond(|req| {
        if req.target == "/echo" {
            Reply::ok(req.body.clone()).with_header("Content-Type", "application/json")
        } else {
            Reply::ok("{not json")
        }
    }))
    .await;
    let client = Client::new();
    let order = Order {
        item: "book".into(),
        qty: 3,
    };
    let back: Order = client
        .post(server.url("/echo"))
        .json(&order)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(back, order);
    let req = &server.requests()[0];
    assert_eq!(req.header("content-type"), Some("application/json"));
    // A caller's Content-Type is kept.
    client
        .post(server.url("/echo"))
        .header("content-type", "application/vnd.api+json")
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(
        server.requests()[1].header_all("content-type"),
        vec!["application/vnd.api+json"]
    );
    let err = client
        .get(server.url("/bad"))
        .send()
        .await
        .unwrap()
        .json::<Order>()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err:?}");
    assert!(err.is_decode());
}

#[tokio::test]
async fn basic_and_bearer_auth_set_authorization() {
    let server = ok_server().await;
    let client = Client::new();
    client
        .get(server.url("/"))
        .basic_auth("Aladdin", Some("open sesame"))
        .send()
        .await
        .unwrap();
    client
        .get(server.url("/"))
        .basic_auth("bob", None::<&str>)
        .send()
        .await
        .unwrap();
    client
        .get(server.url("/"))
        .header("authorization", "replaced")
        .bearer_auth("t0ken")
        .send()
        .await
        .unwrap();
    let reqs = server.requests();
    assert_eq!(
        reqs[0].header("authorization"),
        Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    );
    assert_eq!(reqs[1].header("authorization"), Some("Basic Ym9iOg=="));
    assert_eq!(reqs[2].header_all("authorization"), vec!["Bearer t0ken"]);
}

#[tokio::test]
async fn long_credentials_are_sent_whole_and_a_failing_display_is_an_error() {
    let server = ok_server().await;
    let client = Client::new();
    // A JWT-sized token, and a password longer than any buffer on the stack would be.
    let token: String = (0..1500).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    let password: String = "p4ss".repeat(300);
    for _ in 0..2 {
        client
            .get(server.url("/"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        client
            .get(server.url("/"))
            .basic_auth("user", Some(&password))
            .send()
            .await
            .unwrap();
    }
    let reqs = server.requests();
    let basic = {
        use base64_check::encode;
        format!("Basic {}", encode(format!("user:{password}").as_bytes()))
    };
    for pair in reqs.chunks(2) {
        assert_eq!(
            pair[0].header("authorization"),
            Some(format!("Bearer {token}").as_str())
        );
        assert_eq!(pair[1].header("authorization"), Some(basic.as_str()));
    }

    /// A `Display` that fails, as a buggy one might.
    struct Failing;
    impl std::fmt::Display for Failing {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            Err(std::fmt::Error)
        }
    }
    let err = client
        .get(server.url("/"))
        .bearer_auth(Failing)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err:?}");
    let err = client
        .get(server.url("/"))
        .basic_auth("user", Some(Failing))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err:?}");
    assert_eq!(server.requests().len(), 4, "nothing sent for them");
}

/// Base64 (RFC 4648, padded), written here so the test checks tether's encoder against
/// one of its own.
mod base64_check {
    pub fn encode(input: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in input.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn known_answers() {
        assert_eq!(
            encode(b"Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(encode(b"bob:"), "Ym9iOg==");
        assert_eq!(encode(b"ab"), "YWI=");
    }
}

#[tokio::test]
async fn headers_replace_earlier_values_and_defaults_fill_in() {
    let server = ok_server().await;
    let mut defaults = HeaderMap::new();
    defaults.insert("x-api-key", HeaderValue::from_static("default-key"));
    defaults.insert("x-team", HeaderValue::from_static("pool"));
    let client = Client::builder().default_headers(defaults).build().unwrap();
    let mut mine = HeaderMap::new();
    mine.append("x-tag", HeaderValue::from_static("one"));
    mine.append("x-tag", HeaderValue::from_static("two"));
    client
        .get(server.url("/"))
        .header("x-tag", "earlier")
        .header("x-api-key", "mine")
        .headers(mine)
        .send()
        .await
        .unwrap();
    let req = &server.requests()[0];
    assert_eq!(req.header_all("x-tag"), vec!["one", "two"]);
    assert_eq!(req.header_all("x-api-key"), vec!["mine"]);
    assert_eq!(req.header_all("x-team"), vec!["pool"]);
}

#[tokio::test]
async fn default_headers_go_once_with_every_kind_of_request() {
    let server = ok_server().await;
    let mut defaults = HeaderMap::new();
    defaults.insert("authorization", HeaderValue::from_static("Bearer d3f"));
    defaults.append("x-multi", HeaderValue::from_static("a"));
    defaults.append("x-multi", HeaderValue::from_static("b"));
    // With a default tether must see in the list (`cookie`), and without.
    let mut looked_for = defaults.clone();
    looked_for.insert("cookie", HeaderValue::from_static("c=1"));
    for (i, defaults) in [defaults, looked_for].into_iter().enumerate() {
        let client = Client::builder().default_headers(defaults).build().unwrap();
        // Nothing of its own; its own header of another name; its own `User-Agent`; one
        // of the defaults' names; credentials in the URL; a POST with a body.
        client.get(server.url("/")).send().await.unwrap();
        client
            .get(server.url("/"))
            .header("x-own", "1")
            .send()
            .await
            .unwrap();
        client
            .get(server.url("/"))
            .header("user-agent", "ua/1")
            .send()
            .await
            .unwrap();
        client
            .get(server.url("/"))
            .header("x-multi", "mine")
            .send()
            .await
            .unwrap();
        let with_userinfo = server.url("/").replacen("http://", "http://u:p@", 1);
        client.get(with_userinfo).send().await.unwrap();
        client.post(server.url("/")).body("x").send().await.unwrap();
        let reqs = server.requests();
        let reqs = &reqs[reqs.len() - 6..];
        for (n, req) in reqs.iter().enumerate() {
            let what = format!("defaults {i}, request {n}");
            assert_eq!(req.header_all("accept-encoding").len(), 1, "{what}");
            assert_eq!(req.header_all("connection"), vec!["keep-alive"], "{what}");
            assert_eq!(req.header_all("user-agent").len(), 1, "{what}");
            if n == 3 {
                assert_eq!(req.header_all("x-multi"), vec!["mine"], "{what}");
            } else {
                assert_eq!(req.header_all("x-multi"), vec!["a", "b"], "{what}");
            }
            // The URL's credentials are the request's own `Authorization`.
            let auth = if n == 4 { "Basic dTpw" } else { "Bearer d3f" };
            assert_eq!(req.header_all("authorization"), vec![auth], "{what}");
            assert_eq!(req.header_all("cookie").len(), i, "{what}");
        }
        assert_eq!(reqs[1].header("x-own"), Some("1"));
        assert_eq!(reqs[2].header("user-agent"), Some("ua/1"));
        assert_eq!(reqs[5].header("content-length"), Some("1"));
    }
}

#[tokio::test]
async fn the_user_agent_is_tethers_unless_set() {
    let server = ok_server().await;
    Client::new().get(server.url("/")).send().await.unwrap();
    let custom = Client::builder().user_agent("crawler/2").build().unwrap();
    custom.get(server.url("/")).send().await.unwrap();
    custom
        .get(server.url("/"))
        .header("user-agent", "one-off")
        .send()
        .await
        .unwrap();
    let reqs = server.requests();
    assert_eq!(
        reqs[0].header("user-agent"),
        Some(tether::DEFAULT_USER_AGENT)
    );
    assert!(tether::DEFAULT_USER_AGENT.starts_with("tether/"));
    assert_eq!(reqs[1].header("user-agent"), Some("crawler/2"));
    assert_eq!(reqs[2].header_all("user-agent"), vec!["one-off"]);
    let err = Client::builder()
        .user_agent("bad\nvalue")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
}

#[tokio::test]
async fn error_for_status_turns_4xx_and_5xx_into_errors() {
    let server = TestServer::start(Script::new().respond(|req| match req.target.as_str() {
        "/missing" => Reply::status(404),
        "/broken" => Reply::status(503),
        _ => Reply::ok("fine"),
    }))
    .await;
    let client = Client::new();
    let ok = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(ok.error_for_status().unwrap().text().await.unwrap(), "fine");
    let err = client
        .get(server.url("/missing"))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Status);
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(err.url().map(|u| u.path()), Some("/missing"));
    let resp = client.get(server.url("/broken")).send().await.unwrap();
    let err = resp.error_for_status_ref().unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(resp.status(), 503, "the response is still there");
    drop(resp);
    assert_eq!(
        server.stats().accepted,
        1,
        "error statuses keep the connection"
    );
}

#[tokio::test]
async fn content_length_and_remote_addr_describe_the_response() {
    let server = TestServer::start(Script::new().respond(|req| match req.target.as_str() {
        "/chunked" => Reply::chunked("abcdef", 2),
        _ => Reply::ok("12345"),
    }))
    .await;
    let client = Client::new();
    let sized = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(sized.content_length(), Some(5));
    assert_eq!(sized.remote_addr(), Some(server.addr()));
    let head = client.head(server.url("/")).send().await.unwrap();
    assert_eq!(
        head.content_length(),
        Some(0),
        "a HEAD response has no body"
    );
    let chunked = client.get(server.url("/chunked")).send().await.unwrap();
    assert_eq!(chunked.content_length(), None);
}

#[tokio::test]
async fn bytes_stream_yields_the_body_and_then_reuses_the_connection() {
    let body = vec![b'q'; 100_000];
    let server = TestServer::start(Script::new().always(Reply::chunked(body.clone(), 7_000))).await;
    let client = Client::new();
    for _ in 0..2 {
        let resp = client.get(server.url("/")).send().await.unwrap();
        let mut stream = std::pin::pin!(resp.bytes_stream());
        let mut got = Vec::new();
        while let Some(piece) =
            std::future::poll_fn(|cx| futures_core::Stream::poll_next(stream.as_mut(), cx)).await
        {
            got.extend_from_slice(&piece.unwrap());
        }
        assert_eq!(got, body);
    }
    assert_eq!(server.stats().accepted, 1);
    assert_eq!(client.stats().reuses, 1);
}

#[tokio::test]
async fn execute_sends_an_http_request_as_it_is() {
    let server = ok_server().await;
    let client = Client::new();
    let request = http::Request::put(server.url("/doc/7"))
        .header("content-type", "text/plain")
        .header("x-two", "a")
        .header("x-two", "b")
        .body("contents")
        .unwrap();
    let resp = client.execute(request).await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok");
    let req = &server.requests()[0];
    assert_eq!(req.method, "PUT");
    assert_eq!(req.target, "/doc/7");
    assert_eq!(req.body, b"contents");
    assert_eq!(req.header_all("x-two"), vec!["a", "b"]);
    let relative = http::Request::get("/no/host").body(()).unwrap();
    let err = client.execute(relative).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
}

#[tokio::test]
async fn the_client_is_a_tower_service_and_converts_to_http_response() {
    use tower_service::Service;
    let server = TestServer::start(
        Script::new().always(Reply::ok("from tower").with_header("X-Served", "yes")),
    )
    .await;
    let mut client = Client::new();
    std::future::poll_fn(|cx| Service::<http::Request<()>>::poll_ready(&mut client, cx))
        .await
        .unwrap();
    let request = http::Request::get(server.url("/svc")).body(()).unwrap();
    let resp = client.call(request).await.unwrap();
    let resp: http::Response<tether::ResponseBody> = resp.into();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-served"], "yes");
    assert_eq!(
        http_body::Body::size_hint(resp.body()).exact(),
        Some("from tower".len() as u64)
    );
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "from tower");
    eventually_idle(&client).await;
}

async fn eventually_idle(client: &Client) {
    support::eventually("the connection is back in the pool", || {
        client.stats().idle == 1
    })
    .await;
}

/// `text()` gives UTF-8 bodies as they are, whatever their size or framing, and replaces
/// what is not UTF-8 with U+FFFD, piece by piece.
#[tokio::test]
async fn text_keeps_utf8_and_replaces_what_is_not() {
    let long: String = "h\u{e9}llo w\u{f6}rld \u{2713} ".repeat(20_000);
    let bodies: Vec<(Vec<u8>, String)> = vec![
        (b"plain ascii".to_vec(), "plain ascii".into()),
        ("caf\u{e9} \u{2713}".into(), "caf\u{e9} \u{2713}".into()),
        (b"ab\xffcd\xe2\x82".to_vec(), "ab\u{fffd}cd\u{fffd}".into()),
        (
            b"\xf0\x9f\x98\x80 \xc0\xaf".to_vec(),
            "\u{1f600} \u{fffd}\u{fffd}".into(),
        ),
        (long.clone().into_bytes(), long.clone()),
    ];
    let replies: Vec<Reply> = bodies
        .iter()
        .flat_map(|(body, _)| [Reply::ok(body.clone()), Reply::chunked(body.clone(), 7_000)])
        .collect();
    let server = TestServer::start(Script::new().sequence(replies)).await;
    let client = Client::new();
    for (_, want) in &bodies {
        for framing in ["length", "chunked"] {
            let got = client
                .get(server.url("/t"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(
                got == *want,
                "{framing}: {} bytes, want {}",
                got.len(),
                want.len()
            );
        }
    }
}

/// `try_clone` copies a request whose body is in memory, to be sent again (by the
/// caller's own retry, say): both go out alike. A stream body, or a request that already
/// failed to build, gives `None`, and the original still sends (or fails) as before.
#[tokio::test]
async fn try_clone_copies_a_request_that_can_be_sent_again() {
    let server = ok_server().await;
    let client = Client::new();
    let original = client
        .post(server.url("/jobs?x=1"))
        .header("x-trace", "7")
        .bearer_auth("t0ken")
        .timeout(std::time::Duration::from_secs(30))
        .body("payload");
    let copy = original
        .try_clone()
        .expect("a body in memory can be copied");
    let empty = client.delete(server.url("/jobs/1")).try_clone().unwrap();
    assert_eq!(original.send().await.unwrap().status(), 200);
    assert_eq!(copy.send().await.unwrap().status(), 200);
    assert_eq!(empty.send().await.unwrap().status(), 200);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    for r in &reqs[..2] {
        assert_eq!(
            (r.method.as_str(), r.target.as_str()),
            ("POST", "/jobs?x=1")
        );
        assert_eq!(r.header("x-trace"), Some("7"));
        assert_eq!(r.header("authorization"), Some("Bearer t0ken"));
        assert_eq!(r.header("content-length"), Some("7"));
        assert_eq!(r.body, b"payload");
    }
    assert_eq!(reqs[0].raw_head, reqs[1].raw_head);
    assert_eq!(
        (reqs[2].method.as_str(), reqs[2].target.as_str()),
        ("DELETE", "/jobs/1")
    );

    let streamed = client
        .post(server.url("/s"))
        .body_stream(support::stream::OneChunk::new(b"s"));
    assert!(streamed.try_clone().is_none(), "a stream is read once");
    assert_eq!(streamed.send().await.unwrap().status(), 200);

    let broken = client.get(server.url("/")).header("bad name", "v");
    assert!(broken.try_clone().is_none());
    let err = broken.send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert_eq!(
        server.requests().len(),
        4,
        "the broken request sent nothing"
    );
}

/// `text()` decodes the charset the `Content-Type` names (feature `charset`, on by
/// default), as browsers do: windows-1252 for `ISO-8859-1`, Shift_JIS, UTF-16 by its
/// byte order mark (which wins over the label and is dropped); without a charset, UTF-8,
/// or the default `text_with_charset` is given.
#[cfg(feature = "charset")]
#[tokio::test]
async fn text_decodes_the_charset_the_content_type_names() {
    let server = TestServer::start(Script::new().respond(|req| {
        let (content_type, body): (Option<&str>, &[u8]) = match req.target.as_str() {
            "/latin" => (Some("text/html; charset=ISO-8859-1"), b"caf\xe9 \x80"),
            "/sjis" => (Some("text/plain;charset=\"Shift_JIS\""), b"\x93\xfa\x96{"),
            "/utf16" => (Some("text/plain; charset=utf-8"), b"\xff\xfeo\x00k\x00"),
            "/bom" => (Some("text/plain"), b"\xef\xbb\xbfok"),
            "/unknown" => (Some("text/plain; charset=x-nonesuch"), b"caf\xe9"),
            _ => (None, b"caf\xe9"),
        };
        let reply = Reply::ok(body.to_vec());
        match content_type {
            Some(value) => reply.with_header("Content-Type", value),
            None => reply,
        }
    }))
    .await;
    let client = Client::new();
    let text = |path: &'static str| {
        let request = client.get(server.url(path));
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    assert_eq!(text("/latin").await, "café €");
    assert_eq!(text("/sjis").await, "日本");
    assert_eq!(text("/utf16").await, "ok");
    assert_eq!(text("/bom").await, "ok");
    assert_eq!(text("/unknown").await, "caf\u{fffd}");
    assert_eq!(text("/none").await, "caf\u{fffd}");

    let with_default = |path: &'static str| {
        let request = client.get(server.url(path));
        async move {
            let resp = request.send().await.unwrap();
            resp.text_with_charset("windows-1252").await.unwrap()
        }
    };
    assert_eq!(with_default("/none").await, "café");
    assert_eq!(with_default("/unknown").await, "café");
    assert_eq!(
        with_default("/sjis").await,
        "日本",
        "the head's charset wins"
    );
}

#[tokio::test]
async fn patch_sends_its_method_and_body() {
    let server = ok_server().await;
    let client = Client::new();
    let resp = client
        .patch(server.url("/items/1"))
        .body(r#"{"done":true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let reqs = server.requests();
    assert_eq!(reqs[0].method, "PATCH");
    assert_eq!(reqs[0].target, "/items/1");
    assert_eq!(reqs[0].body, br#"{"done":true}"#);
    assert_eq!(reqs[0].header("content-length"), Some("13"));
}

/// reqwest's names for the idle pool's two knobs: `pool_max_idle_per_host` keeps that
/// many of a host's connections once they are idle, `pool_idle_timeout` is how long one
/// is kept (`None`: no limit of the client's own).
#[tokio::test]
async fn reqwests_pool_names_bound_the_idle_connections() {
    let big = vec![b'b'; 1 << 20];
    let server = TestServer::start(Script::new().always(Reply::ok(big.clone()))).await;
    let client = Client::builder().pool_max_idle_per_host(1).build().unwrap();
    // Two responses whose bodies are still to read hold two connections.
    let a = client.get(server.url("/a")).send().await.unwrap();
    let b = client.get(server.url("/b")).send().await.unwrap();
    assert_eq!(client.stats().open, 2);
    assert_eq!(a.bytes().await.unwrap().len(), big.len());
    assert_eq!(b.bytes().await.unwrap().len(), big.len());
    let stats = client.stats();
    assert_eq!((stats.open, stats.idle), (1, 1), "one idle connection kept");
    assert_eq!(stats.closed_over_idle_limit, 1);

    for (timeout, accepted) in [(Some(Duration::ZERO), 2), (None, 1)] {
        let server = ok_server().await;
        let client = Client::builder()
            .pool_idle_timeout(timeout)
            .build()
            .unwrap();
        for _ in 0..2 {
            let resp = client.get(server.url("/")).send().await.unwrap();
            assert_eq!(resp.text().await.unwrap(), "ok");
        }
        assert_eq!(
            server.stats().accepted,
            accepted,
            "pool_idle_timeout({timeout:?})"
        );
    }
}

/// `headers_mut` changes the fields the response's readers see: a field added and one
/// removed show in `headers()`, and `text()` decodes by the `Content-Type` left.
#[tokio::test]
async fn headers_mut_changes_what_the_response_reads() {
    let server = TestServer::start(
        Script::new().always(
            Reply::ok(vec![b'c', b'a', b'f', 0xe9])
                .with_header("Content-Type", "text/plain; charset=iso-8859-1")
                .with_header("X-Drop", "1"),
        ),
    )
    .await;
    let client = Client::new();
    let plain = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(plain.text().await.unwrap(), "café");

    let mut resp = client.get(server.url("/")).send().await.unwrap();
    let fields = resp.headers_mut();
    fields.insert("x-added", HeaderValue::from_static("2"));
    fields.remove("x-drop");
    fields.insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    assert_eq!(resp.headers()["x-added"], "2");
    assert!(resp.headers().get("x-drop").is_none());
    assert_eq!(resp.headers()["content-length"], "4");
    assert_eq!(resp.text().await.unwrap(), "caf\u{fffd}");
}

/// `extensions_mut` attaches values to a response; they go with it into an
/// `http::Response`, and never to the next response (whose state may reuse the memory).
#[tokio::test]
async fn extensions_travel_with_their_response_and_no_further() {
    #[derive(Clone, Debug, PartialEq)]
    struct Attempt(u32);
    let server = TestServer::start(Script::new()).await;
    let client = Client::new();
    let mut resp = client.get(server.url("/a")).send().await.unwrap();
    assert!(resp.extensions().is_empty());
    resp.extensions_mut().insert(Attempt(1));
    assert_eq!(resp.extensions().get::<Attempt>(), Some(&Attempt(1)));
    resp.text().await.unwrap();

    for _ in 0..3 {
        let resp = client.get(server.url("/b")).send().await.unwrap();
        assert!(resp.extensions().get::<Attempt>().is_none());
        resp.bytes().await.unwrap();
    }

    let mut resp = client.get(server.url("/c")).send().await.unwrap();
    resp.extensions_mut().insert(Attempt(2));
    let resp: http::Response<tether::ResponseBody> = resp.into();
    assert_eq!(resp.extensions().get::<Attempt>(), Some(&Attempt(2)));
    assert_eq!(
        resp.extensions().get::<url::Url>().map(url::Url::path),
        Some("/c")
    );
}

/// `version(HTTP_10)`: the request line says HTTP/1.0, `Host` and `Connection:
/// keep-alive` still go (the connection is reused), a body goes with its length and
/// without `Expect`, a streamed body of unknown length is refused unsent (HTTP/1.0 has no
/// chunked coding); `version(HTTP_2)` over plain http without prior knowledge and
/// `version(HTTP_3)` fail unsent; `build` and `execute` carry the version.
#[tokio::test]
async fn version_sets_the_request_line_or_refuses_what_cannot_be_sent() {
    use http::Version;
    let server = TestServer::start(Script::new()).await;
    let client = Client::builder().expect_continue(1).build().unwrap();
    for path in ["/a", "/b"] {
        let resp = client
            .get(server.url(path))
            .version(Version::HTTP_10)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.text().await.unwrap();
    }
    let resp = client
        .post(server.url("/c"))
        .version(Version::HTTP_10)
        .body("abc")
        .send()
        .await
        .unwrap();
    resp.text().await.unwrap();
    let request = client
        .get(server.url("/d"))
        .version(Version::HTTP_10)
        .build()
        .unwrap();
    assert_eq!(request.version(), Version::HTTP_10);
    client.execute(request).await.unwrap().text().await.unwrap();

    let seen = server.requests();
    assert_eq!(seen.len(), 4);
    assert!(seen[0].raw_head.starts_with(b"GET /a HTTP/1.0\r\nHost: "));
    assert!(
        seen.iter().all(|r| r.version == 0 && r.conn == 0),
        "{seen:?}"
    );
    assert_eq!(seen[1].header("connection"), Some("keep-alive"));
    assert_eq!(seen[2].header("content-length"), Some("3"));
    assert_eq!(seen[2].header("expect"), None);
    assert_eq!(seen[2].body, b"abc");

    let unsent = [
        client
            .post(server.url("/e"))
            .version(Version::HTTP_10)
            .body_stream(support::stream::OneChunk::new(b"s"))
            .send()
            .await
            .unwrap_err(),
        client
            .get(server.url("/f"))
            .version(Version::HTTP_2)
            .send()
            .await
            .unwrap_err(),
        client
            .get(server.url("/g"))
            .version(Version::HTTP_3)
            .send()
            .await
            .unwrap_err(),
    ];
    for (err, says) in unsent
        .iter()
        .zip(["chunked", "http2_prior_knowledge", "HTTP/3"])
    {
        assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
        assert!(!err.request_written(), "{err:?}");
        assert!(err.to_string().contains(says), "{err}");
    }
    assert_eq!(server.requests().len(), 4, "nothing more was sent");
    // The default stays HTTP/1.1.
    client.get(server.url("/h")).send().await.unwrap();
    assert_eq!(server.requests()[4].version, 1);
}

/// reqwest's error helpers: `without_url` and `url_mut` keep a URL's secrets out of what
/// is logged, `with_url` names another, and `is_body` tells a body too large or cut short
/// from a failure to connect.
#[tokio::test]
async fn errors_drop_or_change_their_url_and_say_when_a_body_was_the_trouble() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::builder().max_body_bytes(10).build().unwrap();
    let refused = format!("http://127.0.0.1:{port}/item?token=secret");
    let err = client.get(&refused).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect);
    assert!(err.to_string().contains("token=secret"), "{err}");
    assert!(!err.is_body());
    let mut changed = client.get(&refused).send().await.unwrap_err();
    changed.url_mut().unwrap().set_query(None);
    assert!(!changed.to_string().contains("secret"), "{changed}");
    assert!(changed.to_string().contains("/item"), "{changed}");
    let bare = err.without_url();
    assert!(bare.url().is_none());
    assert!(!bare.to_string().contains("secret"), "{bare}");
    assert!(bare.to_string().starts_with("connect error: "), "{bare}");
    let other = url::Url::parse("http://elsewhere.test/").unwrap();
    assert_eq!(bare.with_url(other.clone()).url(), Some(&other));

    let server = TestServer::start(Script::new().respond(|req| match req.target.as_str() {
        "/big" => Reply::ok(vec![b'x'; 100]),
        _ => Reply::RawThenClose(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".to_vec()),
    }))
    .await;
    for path in ["/big", "/cut"] {
        let resp = client.get(server.url(path)).send().await.unwrap();
        let err = resp.bytes().await.unwrap_err();
        assert!(err.is_body(), "{path}: {err:?}");
    }
}

/// `build` makes the `http::Request` that `execute` sends (the pattern of generated API
/// clients): what the builder set is in it, a header added to it goes out, the builder's
/// timeout holds through `execute`, and a builder's error is `build`'s.
#[tokio::test]
async fn build_then_execute_sends_what_the_builder_made() {
    let server = TestServer::start(Script::new().stall_at("/stall")).await;
    let client = Client::new();
    let mut request = client
        .post(server.url("/orders?x=1#part"))
        .query(&[("dry_run", "1")])
        .bearer_auth("t0k")
        .header("x-multi", "a")
        .header("x-multi", "b")
        .json(&serde_json::json!({"n": 1}))
        .build()
        .unwrap();
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(
        request.uri().to_string(),
        server.url("/orders?x=1&dry_run=1")
    );
    assert_eq!(request.headers()["authorization"], "Bearer t0k");
    assert_eq!(request.headers()["content-type"], "application/json");
    assert_eq!(request.body().as_bytes(), Some(&br#"{"n":1}"#[..]));
    request
        .headers_mut()
        .insert("x-signature", HeaderValue::from_static("s1"));
    let resp = client.execute(request).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let seen = &server.requests()[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.target, "/orders?x=1&dry_run=1");
    assert_eq!(seen.header("x-signature"), Some("s1"));
    assert_eq!(seen.header_all("x-multi"), vec!["a", "b"]);
    assert_eq!(seen.header("authorization"), Some("Bearer t0k"));
    assert!(seen.header("user-agent").is_some(), "the client's defaults");
    assert_eq!(seen.body, br#"{"n":1}"#);

    let (same, request) = client
        .get(server.url("/stall"))
        .timeout(Duration::from_millis(200))
        .build_split();
    let err = same.execute(request.unwrap()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");

    let err = client
        .get(server.url("/"))
        .header("bad name", "v")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
}

/// `http1_title_case_headers` writes every field name of an HTTP/1.1 head in title case:
/// the caller's, the client's defaults and tether's own, on every hop of a redirect;
/// without it they go as the `http` crate keeps them, in lower case.
#[tokio::test]
async fn title_case_headers_write_every_name_so() {
    let server = TestServer::start(Script::new().respond(|req| match req.target.as_str() {
        "/hop" => Reply::status(307).with_header("Location", "/end"),
        _ => Reply::ok("ok"),
    }))
    .await;
    let mut defaults = HeaderMap::new();
    defaults.insert("x-default", HeaderValue::from_static("d"));
    let titled = Client::builder()
        .http1_title_case_headers()
        .default_headers(defaults.clone())
        .build()
        .unwrap();
    let plain = Client::builder().default_headers(defaults).build().unwrap();
    for client in [&titled, &plain] {
        let resp = client
            .post(server.url("/hop"))
            .header("x-api-key", "Key-Value")
            .body("b")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.text().await.unwrap(), "ok");
    }
    let reqs = server.requests();
    let names = |i: usize| -> Vec<String> {
        let head = String::from_utf8_lossy(&reqs[i].raw_head).to_string();
        head.split("\r\n")
            .skip(1)
            .filter_map(|line| line.split_once(':').map(|(n, _)| n.to_string()))
            .collect()
    };
    for i in [0, 1] {
        let names = names(i);
        for name in [
            "Host",
            "X-Api-Key",
            "User-Agent",
            "Accept-Encoding",
            "Connection",
            "X-Default",
            "Content-Length",
        ] {
            assert!(
                names.iter().any(|n| n == name),
                "hop {i}: {name} in {names:?}"
            );
        }
        assert!(
            names
                .iter()
                .all(|n| !n.starts_with(|c: char| c.is_ascii_lowercase())),
            "hop {i}: {names:?}"
        );
    }
    assert!(String::from_utf8_lossy(&reqs[0].raw_head).contains("\r\nX-Api-Key: Key-Value\r\n"));
    for i in [2, 3] {
        let names = names(i);
        for name in ["x-api-key", "user-agent", "x-default"] {
            assert!(
                names.iter().any(|n| n == name),
                "plain hop {i}: {name} in {names:?}"
            );
        }
    }
}

/// The `http1_*_in_responses` options read heads RFC 9112 refuses (white space before a
/// colon, a folded value, a line that is no field): refused by default as `Protocol`,
/// read with the option, the body and the connection's reuse as for any response.
#[tokio::test]
async fn broken_response_heads_are_refused_by_default_and_read_when_allowed() {
    type Allow = fn(tether::ClientBuilder) -> tether::ClientBuilder;
    let heads: [(&str, &str, Allow); 3] = [
        (
            "/spaces",
            "HTTP/1.1 200 OK\r\nServer : old\r\nContent-Length: 2\r\n\r\nok",
            |b| b.http1_allow_spaces_after_header_name_in_responses(true),
        ),
        (
            "/folded",
            "HTTP/1.1 200 OK\r\nServer: old\r\n and folded\r\nContent-Length: 2\r\n\r\nok",
            |b| b.http1_allow_obsolete_multiline_headers_in_responses(true),
        ),
        (
            "/junk",
            "HTTP/1.1 200 OK\r\nServer: old\r\nno colon here\r\nContent-Length: 2\r\n\r\nok",
            |b| b.http1_ignore_invalid_headers_in_responses(true),
        ),
    ];
    let server = TestServer::start(Script::new().respond(move |req| {
        let (_, wire, _) = heads
            .iter()
            .find(|(path, _, _)| *path == req.target)
            .expect("a known path");
        Reply::Raw(wire.as_bytes().to_vec())
    }))
    .await;
    for (path, _, allow) in heads {
        let err = Client::new()
            .get(server.url(path))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol, "{path}: {err}");

        let client = allow(Client::builder()).build().unwrap();
        for _ in 0..2 {
            let resp = client.get(server.url(path)).send().await.unwrap();
            let want = if path == "/folded" {
                "old   and folded"
            } else {
                "old"
            };
            assert_eq!(resp.headers()["server"], want, "{path}");
            assert_eq!(resp.text().await.unwrap(), "ok", "{path}");
        }
        assert_eq!(client.stats().connections_opened, 1, "{path}: reused");
    }
}

/// `tether::get`: one shared client, so a second call reuses the first one's connection.
#[tokio::test]
async fn the_crate_level_get_shares_one_client_across_calls() {
    let server = TestServer::start(Script::new()).await;
    for path in ["/a", "/b"] {
        let resp = tether::get(server.url(path)).await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.text().await.unwrap();
    }
    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!((seen[0].conn, seen[1].conn), (0, 0), "reused");
    let err = tether::get("not a url").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
}

/// `http09_responses`: a server that answers with the document alone (no status line, no
/// head) and closes is refused as `Protocol` by default; with the option its answer is a
/// `200` of `HTTP/0.9` with no fields whose body is every byte to the close, and that
/// connection is not reused. Servers that do send a head are read as ever, connection
/// kept.
#[tokio::test]
async fn http09_responses_are_refused_by_default_and_read_to_the_close_when_allowed() {
    let page: Vec<u8> = b"<html>an old device's page</html>\n"
        .iter()
        .copied()
        .cycle()
        .take(100_000)
        .collect();
    let served = page.clone();
    let server = TestServer::start(Script::new().respond(move |req| {
        if req.target == "/old" {
            Reply::RawThenClose(served.clone())
        } else {
            Reply::ok("modern")
        }
    }))
    .await;
    let err = Client::new()
        .get(server.url("/old"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");

    let client = Client::builder().http09_responses().build().unwrap();
    for _ in 0..2 {
        let resp = client.get(server.url("/old")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.version(), http::Version::HTTP_09);
        assert!(resp.headers().is_empty(), "{:?}", resp.headers());
        assert_eq!(resp.bytes().await.unwrap(), page);
    }
    assert_eq!(client.stats().connections_opened, 2, "never reused");
    for _ in 0..2 {
        let resp = client.get(server.url("/new")).send().await.unwrap();
        assert_eq!(resp.version(), http::Version::HTTP_11);
        assert_eq!(resp.text().await.unwrap(), "modern");
    }
    assert_eq!(client.stats().connections_opened, 3, "a head: kept alive");
}
