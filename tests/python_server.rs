//! Interop with Python's `http.server` (tests/servers/http_server.py), started by each
//! test on 127.0.0.1: with the module's default HTTP/1.0 handler every response ends its
//! connection (no `Connection: keep-alive`), so each request needs a new one; with
//! `protocol_version = "HTTP/1.1"` one connection serves them all. The server logs the
//! client's port with each request, which names the connection. Skipped (and passing)
//! when python3 is not installed, unless `TETHER_REQUIRE_SERVERS` is set.

mod servers;

use std::collections::BTreeSet;

use servers::{parse_python_log, start_python, PythonProtocol, ServerProcess, PYTHON_HELLO};

fn python_or_skip(test: &str, protocol: PythonProtocol) -> Option<ServerProcess> {
    servers::installed("python3", "--version", test).then(|| start_python(test, protocol))
}

/// GETs `/hello.txt?n=<n>` and checks the answer; returns the response's HTTP version.
async fn get_hello(client: &tether::Client, server: &ServerProcess, n: usize) -> http::Version {
    let resp = client
        .get(server.url(&format!("/hello.txt?n={n}")))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {n}: {e:?}\n{}", server.diagnostics()));
    assert_eq!(resp.status(), 200);
    let version = resp.version();
    assert_eq!(resp.text().await.unwrap(), PYTHON_HELLO);
    version
}

#[tokio::test]
async fn python_http10_server_gets_a_new_connection_per_request() {
    let test = "python_http10_server_gets_a_new_connection_per_request";
    let Some(server) = python_or_skip(test, PythonProtocol::Http10) else {
        return;
    };
    let client = tether::Client::new();
    for n in 0..5 {
        assert_eq!(get_hello(&client, &server, n).await, http::Version::HTTP_10);
    }
    let log = parse_python_log(&server.wait_log_lines(5));
    let ports: BTreeSet<u16> = log.iter().map(|l| l.peer_port).collect();
    assert_eq!(ports.len(), 5, "{log:#?}");
    assert!(log.iter().all(|l| l.status == 200), "{log:#?}");
    let stats = client.stats();
    assert_eq!(stats.connections_opened, 5, "{stats:?}");
    assert_eq!(stats.reuses, 0, "{stats:?}");
    assert_eq!(stats.retries_close_race, 0, "{stats:?}");
}

#[tokio::test]
async fn python_http11_server_serves_every_request_on_one_connection() {
    let test = "python_http11_server_serves_every_request_on_one_connection";
    let Some(server) = python_or_skip(test, PythonProtocol::Http11) else {
        return;
    };
    let client = tether::Client::new();
    for n in 0..20 {
        assert_eq!(get_hello(&client, &server, n).await, http::Version::HTTP_11);
    }
    let log = parse_python_log(&server.wait_log_lines(20));
    let ports: BTreeSet<u16> = log.iter().map(|l| l.peer_port).collect();
    assert_eq!(ports.len(), 1, "{log:#?}");
    let paths: Vec<String> = log.iter().map(|l| l.path.clone()).collect();
    assert_eq!(
        paths,
        (0..20)
            .map(|n| format!("/hello.txt?n={n}"))
            .collect::<Vec<_>>()
    );
    let stats = client.stats();
    assert_eq!(stats.connections_opened, 1, "{stats:?}");
    assert_eq!(stats.reuses, 19, "{stats:?}");
}
