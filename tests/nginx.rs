//! Interop with a real nginx, started by each test on 127.0.0.1 (tests/servers/): the
//! client's connection reuse is checked against what nginx logged (`$connection`,
//! `$connection_requests`), under nginx's `keepalive_requests` (it answers the last one
//! with `Connection: close`) and `keepalive_timeout`, with and without the second
//! parameter that makes it send `Keep-Alive: timeout=N`.
//!
//! The timeout tests wait for real, with gaps around nginx's timeout: that is the point.
//! A gap well under the timeout must reuse, one well over it must not; a gap close to it
//! may go either way (a close race the client must survive), so the tests check what
//! happened against the server's log rather than guess. Skipped (and passing) when nginx
//! is not installed, unless `TETHER_REQUIRE_SERVERS` is set.

mod servers;

use std::collections::BTreeSet;
use std::time::Duration;

use servers::{parse_nginx_log, start_nginx, NginxConf, NginxLogLine, ServerProcess};

/// Starts nginx with `conf`, or `None` (test skipped) when it is not installed.
fn nginx_or_skip(test: &str, conf: NginxConf) -> Option<ServerProcess> {
    servers::installed("nginx", "-v", test).then(|| start_nginx(test, &conf))
}

/// GETs `path`, checks nginx's answer and returns its headers.
async fn get_ok(client: &tether::Client, nginx: &ServerProcess, path: &str) -> http::HeaderMap {
    let resp = client
        .get(nginx.url(path))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e:?}\n{}", nginx.diagnostics()));
    assert_eq!(resp.status(), 200, "GET {path}");
    let headers = resp.headers().clone();
    assert_eq!(resp.text().await.unwrap(), format!("ok {path}\n"));
    headers
}

fn distinct_connections(log: &[NginxLogLine]) -> usize {
    log.iter()
        .map(|l| l.connection)
        .collect::<BTreeSet<_>>()
        .len()
}

#[tokio::test]
async fn twenty_sequential_gets_reuse_one_nginx_connection() {
    let test = "twenty_sequential_gets_reuse_one_nginx_connection";
    let Some(nginx) = nginx_or_skip(
        test,
        NginxConf {
            keepalive_timeout: "60s",
            keepalive_requests: 1000,
        },
    ) else {
        return;
    };
    let client = tether::Client::new();
    for i in 1..=20 {
        get_ok(&client, &nginx, &format!("/seq/{i}")).await;
    }
    let log = parse_nginx_log(&nginx.wait_log_lines(20));
    assert_eq!(log.len(), 20, "{log:#?}");
    assert_eq!(distinct_connections(&log), 1, "{log:#?}");
    let numbers: Vec<u64> = log.iter().map(|l| l.connection_requests).collect();
    assert_eq!(numbers, (1..=20).collect::<Vec<u64>>());
    let uris: Vec<String> = log.iter().map(|l| l.uri.clone()).collect();
    assert_eq!(
        uris,
        (1..=20).map(|i| format!("/seq/{i}")).collect::<Vec<_>>()
    );
    let stats = client.stats();
    assert_eq!(stats.connections_opened, 1);
    assert_eq!(stats.reuses, 19);
}

/// `version(HTTP_10)` to nginx: its `Connection: keep-alive` keeps the connection, as
/// nginx honours it for HTTP/1.0 (without it, nginx closes after each response).
#[tokio::test]
async fn http10_requests_keep_one_nginx_connection_alive() {
    let test = "http10_requests_keep_one_nginx_connection_alive";
    let Some(nginx) = nginx_or_skip(
        test,
        NginxConf {
            keepalive_timeout: "60s",
            keepalive_requests: 1000,
        },
    ) else {
        return;
    };
    let client = tether::Client::new();
    for i in 1..=5 {
        let path = format!("/ten/{i}");
        let resp = client
            .get(nginx.url(&path))
            .version(http::Version::HTTP_10)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e:?}\n{}", nginx.diagnostics()));
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.unwrap(), format!("ok {path}\n"));
    }
    let log = parse_nginx_log(&nginx.wait_log_lines(5));
    assert_eq!(distinct_connections(&log), 1, "{log:#?}");
    let stats = client.stats();
    assert_eq!((stats.connections_opened, stats.reuses), (1, 4));
}

#[tokio::test]
async fn nginx_keepalive_requests_limit_ends_each_connection_without_errors() {
    let test = "nginx_keepalive_requests_limit_ends_each_connection_without_errors";
    let Some(nginx) = nginx_or_skip(
        test,
        NginxConf {
            keepalive_timeout: "60s",
            keepalive_requests: 3,
        },
    ) else {
        return;
    };
    let client = tether::Client::new();
    for i in 1..=9 {
        let headers = get_ok(&client, &nginx, &format!("/max/{i}")).await;
        let connection = headers.get("connection").map(|v| v.to_str().unwrap());
        if i % 3 == 0 {
            assert_eq!(connection, Some("close"), "response {i}: {headers:?}");
        } else {
            assert_eq!(connection, Some("keep-alive"), "response {i}: {headers:?}");
        }
    }
    let log = parse_nginx_log(&nginx.wait_log_lines(9));
    let numbers: Vec<u64> = log.iter().map(|l| l.connection_requests).collect();
    assert_eq!(numbers, vec![1, 2, 3, 1, 2, 3, 1, 2, 3], "{log:#?}");
    assert_eq!(distinct_connections(&log), 3, "{log:#?}");
    let stats = client.stats();
    assert_eq!(stats.connections_opened, 3);
    assert_eq!(stats.reuses, 6);
    // The client saw `Connection: close` and never offered those connections again.
    assert_eq!(stats.idle_closed_by_server, 0, "{stats:?}");
    assert_eq!(
        (
            stats.retries_close_race,
            stats.retries_nothing_written,
            stats.retries_408
        ),
        (0, 0, 0),
        "{stats:?}"
    );
}

/// Gaps (seconds) before each request after the first: around a 1 s keep-alive timeout,
/// with a `keepalive_requests 3` limit on top.
const GAPS_AROUND_ONE_SECOND: [f64; 9] = [0.5, 0.9, 1.0, 1.1, 1.5, 0.0, 0.5, 0.2, 0.0];

/// Runs one GET after each gap, then returns nginx's log of them (one line per request,
/// in order: the requests are sequential), leaving out the `already` lines of earlier
/// requests.
async fn gets_with_gaps(
    client: &tether::Client,
    nginx: &ServerProcess,
    gaps: &[f64],
    already: usize,
) -> Vec<NginxLogLine> {
    get_ok(client, nginx, "/gap/0").await;
    for (i, gap) in gaps.iter().enumerate() {
        tokio::time::sleep(Duration::from_secs_f64(*gap)).await;
        get_ok(client, nginx, &format!("/gap/{}", i + 1)).await;
    }
    let mut log = parse_nginx_log(&nginx.wait_log_lines(already + gaps.len() + 1));
    assert_eq!(log.len(), already + gaps.len() + 1, "{log:#?}");
    log.split_off(already)
}

#[tokio::test]
async fn gets_around_nginx_keepalive_timeout_and_request_limit_never_fail() {
    let test = "gets_around_nginx_keepalive_timeout_and_request_limit_never_fail";
    let Some(nginx) = nginx_or_skip(
        test,
        NginxConf {
            keepalive_timeout: "1s",
            keepalive_requests: 3,
        },
    ) else {
        return;
    };
    let client = tether::Client::new();
    let log = gets_with_gaps(&client, &nginx, &GAPS_AROUND_ONE_SECOND, 0).await;
    // Each request, from the gap before it and the previous request's number on its
    // connection: a new connection after the third request (nginx said close) or after
    // a gap well past the timeout; the same one after a gap well under it; near the
    // timeout, either (a close race the client must survive, retrying the GET).
    for (i, gap) in GAPS_AROUND_ONE_SECOND.iter().enumerate() {
        let (prev, this) = (&log[i], &log[i + 1]);
        let same = this.connection == prev.connection;
        let expected_new = prev.connection_requests == 3 || *gap >= 1.3;
        let expected_same = prev.connection_requests < 3 && *gap <= 0.6;
        if expected_new {
            assert!(
                !same && this.connection_requests == 1,
                "request {}: {log:#?}",
                i + 1
            );
        } else if expected_same {
            assert!(
                same && this.connection_requests == prev.connection_requests + 1,
                "request {}: {log:#?}",
                i + 1
            );
        } else {
            assert!(
                same || this.connection_requests == 1,
                "request {}: {log:#?}",
                i + 1
            );
        }
    }
    let stats = client.stats();
    let new_conns = log.iter().filter(|l| l.connection_requests == 1).count();
    assert_eq!(distinct_connections(&log), new_conns, "{log:#?}");
    assert_eq!(
        stats.connections_opened as usize, new_conns,
        "{stats:?} {log:#?}"
    );
    println!(
        "{test}: requests per connection {:?}; {stats:?}",
        log.iter()
            .map(|l| l.connection_requests)
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn nginx_keep_alive_timeout_header_of_one_second_means_no_reuse_and_no_race() {
    let test = "nginx_keep_alive_timeout_header_of_one_second_means_no_reuse_and_no_race";
    let Some(nginx) = nginx_or_skip(
        test,
        NginxConf {
            keepalive_timeout: "1s 1s",
            keepalive_requests: 3,
        },
    ) else {
        return;
    };
    let client = tether::Client::new();
    let headers = get_ok(&client, &nginx, "/probe").await;
    assert_eq!(
        headers.get("keep-alive").map(|v| v.to_str().unwrap()),
        Some("timeout=1"),
        "{headers:?}"
    );
    nginx.wait_log_lines(1);
    let log = gets_with_gaps(&client, &nginx, &GAPS_AROUND_ONE_SECOND, 1).await;
    // timeout=1 is at or below the 1 s margin: the client never reuses, so nginx never
    // closes a connection under it.
    assert!(log.iter().all(|l| l.connection_requests == 1), "{log:#?}");
    let stats = client.stats();
    assert_eq!(
        stats.connections_opened as usize,
        log.len() + 1,
        "{stats:?}"
    );
    assert_eq!(stats.reuses, 0, "{stats:?}");
    // Each connection was closed by the client as soon as its response ended.
    assert_eq!(
        stats.expired_server_timeout, stats.connections_opened,
        "{stats:?}"
    );
    assert_eq!(
        (stats.retries_close_race, stats.idle_closed_by_server),
        (0, 0),
        "{stats:?}"
    );
}

#[tokio::test]
async fn nginx_keep_alive_timeout_header_is_honoured_before_nginx_closes() {
    let test = "nginx_keep_alive_timeout_header_is_honoured_before_nginx_closes";
    let Some(nginx) = nginx_or_skip(
        test,
        NginxConf {
            keepalive_timeout: "3s 3s",
            keepalive_requests: 100,
        },
    ) else {
        return;
    };
    // timeout=3 less the 1 s margin: the client stops reusing after 2 s idle, before
    // nginx closes at 3 s.
    let client = tether::Client::new();
    let gaps = [0.5, 1.5, 2.5, 0.2];
    let log = gets_with_gaps(&client, &nginx, &gaps, 0).await;
    let numbers: Vec<u64> = log.iter().map(|l| l.connection_requests).collect();
    assert_eq!(numbers, vec![1, 2, 3, 1, 2], "{log:#?}");
    let stats = client.stats();
    assert_eq!(stats.connections_opened, 2, "{stats:?}");
    assert_eq!(
        (stats.retries_close_race, stats.idle_closed_by_server),
        (0, 0),
        "{stats:?}"
    );
    assert_eq!(stats.expired_server_timeout, 1, "{stats:?}");
}

#[tokio::test]
async fn nginx_gzip_on_is_decoded_and_the_connection_reused() {
    let test = "nginx_gzip_on_is_decoded_and_the_connection_reused";
    let Some(nginx) = nginx_or_skip(
        test,
        NginxConf {
            keepalive_timeout: "60s",
            keepalive_requests: 1000,
        },
    ) else {
        return;
    };
    let text: String = (0..5000)
        .map(|i| format!("line {i} of a file nginx gzips\n"))
        .collect();
    std::fs::create_dir_all(nginx.dir().join("files")).unwrap();
    std::fs::write(nginx.dir().join("files/big.txt"), &text).unwrap();
    let client = tether::Client::new();
    for _ in 0..2 {
        let resp = client
            .get(nginx.url("/files/big.txt"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{}", nginx.diagnostics());
        assert_eq!(resp.headers().get("content-encoding"), None);
        assert_eq!(resp.text().await.unwrap(), text);
    }
    // Asked by the caller, nginx's gzip comes as it is: it really was gzipped.
    let coded = client
        .get(nginx.url("/files/big.txt"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(coded.headers()["content-encoding"], "gzip");
    let wire = coded.bytes().await.unwrap();
    assert!(wire.len() < text.len() / 4, "{} bytes gzipped", wire.len());
    // Asked for identity, the same file comes as it is, with its length.
    let plain = client
        .get(nginx.url("/files/big.txt"))
        .header("accept-encoding", "identity")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.content_length(), Some(text.len() as u64));
    assert_eq!(plain.text().await.unwrap(), text);
    let log = parse_nginx_log(&nginx.wait_log_lines(4));
    assert_eq!(distinct_connections(&log), 1, "{log:?}");
}

/// `unix_socket`: every request goes to nginx's Unix domain socket (the URL's host and
/// port are not dialed: nothing listens there), over one kept-alive connection; `https`
/// is TLS, which a plain socket refuses.
#[cfg(unix)]
#[tokio::test]
async fn requests_over_a_unix_socket_reach_nginx_and_reuse_one_connection() {
    let test = "requests_over_a_unix_socket_reach_nginx_and_reuse_one_connection";
    if !servers::installed("nginx", "-v", test) {
        return;
    }
    let nginx = servers::start_nginx_unix(
        test,
        &NginxConf {
            keepalive_timeout: "60s",
            keepalive_requests: 1000,
        },
    );
    // A proxy rule is passed over: the socket is where every request goes.
    let client = tether::Client::builder()
        .unix_socket(nginx.dir().join("nginx.sock"))
        .proxy(tether::Proxy::all("http://127.0.0.1:9").unwrap())
        .build()
        .unwrap();
    for i in 1..=5 {
        let path = format!("/sock/{i}");
        let resp = client
            .get(format!("http://localhost:9{path}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e:?}\n{}", nginx.diagnostics()));
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.remote_addr(), None);
        assert_eq!(resp.text().await.unwrap(), format!("ok {path}\n"));
    }
    let log = parse_nginx_log(&nginx.wait_log_lines(5));
    assert_eq!(distinct_connections(&log), 1, "{log:#?}");
    let stats = client.stats();
    assert_eq!(
        (stats.connections_opened, stats.reuses),
        (1, 4),
        "{stats:?}"
    );
    assert_eq!(stats.hosts[0].proxy, None, "{stats:?}");

    // `https` speaks TLS over the socket, which this nginx does not.
    let err = client.get("https://localhost/").send().await.unwrap_err();
    assert_eq!(err.kind(), tether::ErrorKind::Tls, "{err}");

    // nginx closing an idle connection is seen (the runtime's readiness of the socket, as
    // for TCP): the next request opens another, with no retry.
    let brief = servers::start_nginx_unix(
        &format!("{test}_brief"),
        &NginxConf {
            keepalive_timeout: "1s",
            keepalive_requests: 1000,
        },
    );
    let client = tether::Client::builder()
        .unix_socket(brief.dir().join("nginx.sock"))
        .build()
        .unwrap();
    for _ in 0..2 {
        let resp = client.get("http://localhost/brief").send().await.unwrap();
        assert_eq!(resp.text().await.unwrap(), "ok /brief\n");
        tokio::time::sleep(Duration::from_millis(1600)).await;
    }
    let stats = client.stats();
    assert_eq!(
        (
            stats.connections_opened,
            stats.idle_closed_by_server,
            stats.retries_close_race
        ),
        (2, 1, 0),
        "{stats:?}"
    );
    let missing = tether::Client::builder()
        .unix_socket(nginx.dir().join("absent.sock"))
        .build()
        .unwrap();
    let err = missing.get("http://localhost/").send().await.unwrap_err();
    assert_eq!(err.kind(), tether::ErrorKind::Connect, "{err}");
    assert!(err.to_string().contains("absent.sock"), "{err}");
}
