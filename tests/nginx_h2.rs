//! HTTP/2 interop with a real nginx over TLS (`listen ... ssl http2`), with a certificate
//! made by the test: ALPN picks `h2`, many requests share one connection up to nginx's
//! `http2_max_concurrent_streams` and then wait in line, a large download and upload
//! run through the flow-control windows, and `http1_only` keeps HTTP/1.1 to the same
//! server. What happened is checked against nginx's access log (`$connection`). Skipped
//! (and passing) when nginx is not installed, unless `TETHER_REQUIRE_SERVERS` is set.

mod servers;
mod support;

use std::collections::BTreeSet;

use servers::{parse_nginx_log, start_nginx_h2, ServerProcess, TempDir};
use support::tls::TestCa;

/// nginx over TLS with a new CA's certificate, and a client trusting that CA.
fn nginx_h2(test: &str, max_streams: u32) -> Option<(ServerProcess, TempDir, TestCa)> {
    if !servers::installed("nginx", "-v", test) {
        return None;
    }
    let ca = TestCa::new("nginx test CA");
    let cert = ca.server_cert(&["localhost", "127.0.0.1"]);
    let keys = TempDir::new("nginx-h2-keys");
    let (cert_path, key_path) = (keys.path().join("cert.pem"), keys.path().join("key.pem"));
    std::fs::write(&cert_path, &cert.cert_pem).unwrap();
    std::fs::write(&key_path, &cert.key_pem).unwrap();
    let nginx = start_nginx_h2(test, &cert_path, &key_path, max_streams);
    Some((nginx, keys, ca))
}

fn url(nginx: &ServerProcess, path: &str) -> String {
    format!("https://localhost:{}{path}", nginx.port())
}

fn client(ca: &TestCa, per_host: usize) -> tether::Client {
    tether::Client::builder()
        .add_root_certificate(ca.certificate())
        .max_connections_per_host(per_host)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_gets_at_once_share_one_http2_connection_to_nginx() {
    let Some((nginx, _keys, ca)) = nginx_h2("nginx-h2-fifty", 100) else {
        return;
    };
    let client = client(&ca, 6);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (client, url) = (client.clone(), url(&nginx, &format!("/n{i}")));
        tasks.push(tokio::spawn(async move {
            let resp = client.get(url).send().await?;
            assert_eq!(resp.version(), http::Version::HTTP_2);
            resp.text().await
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let text = task
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("GET /n{i}: {e:?}\n{}", nginx.diagnostics()));
        assert_eq!(text, format!("ok /n{i}\n"));
    }
    let log = parse_nginx_log(&nginx.wait_log_lines(50));
    let conns: BTreeSet<u64> = log.iter().map(|l| l.connection).collect();
    assert_eq!(conns.len(), 1, "one connection: {log:?}");
    let stats = client.stats();
    assert_eq!(stats.connections_opened, 1, "{stats:?}");
    assert_eq!(stats.http2_connections_opened, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_nginx_stream_limit_requests_wait_on_the_one_connection_allowed() {
    let Some((nginx, _keys, ca)) = nginx_h2("nginx-h2-limit", 4) else {
        return;
    };
    let client = client(&ca, 1);
    let mut tasks = Vec::new();
    for i in 0..30 {
        let (client, url) = (client.clone(), url(&nginx, &format!("/l{i}")));
        tasks.push(tokio::spawn(async move {
            client.get(url).send().await?.text().await
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let text = task
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("GET /l{i}: {e:?}\n{}", nginx.diagnostics()));
        assert_eq!(text, format!("ok /l{i}\n"));
    }
    let log = parse_nginx_log(&nginx.wait_log_lines(30));
    assert!(log.iter().all(|l| l.status == 200), "{log:?}");
    assert_eq!(client.stats().connections_opened, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_download_and_upload_over_http2_to_nginx() {
    let Some((nginx, _keys, ca)) = nginx_h2("nginx-h2-large", 100) else {
        return;
    };
    let file: Vec<u8> = (0..8 << 20).map(|i: u32| (i % 253) as u8).collect();
    std::fs::create_dir_all(nginx.dir().join("files")).unwrap();
    std::fs::write(nginx.dir().join("files/big.bin"), &file).unwrap();
    let client = client(&ca, 6);
    let resp = client
        .get(url(&nginx, "/files/big.bin"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert_eq!(resp.content_length(), Some(file.len() as u64));
    let body = resp.bytes().await.unwrap();
    assert!(
        body[..] == file[..],
        "the download arrived whole and in order"
    );

    let resp = client
        .post(url(&nginx, "/upload"))
        .body(file.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST: {e:?}\n{}", nginx.diagnostics()));
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok /upload\n");
    assert_eq!(client.stats().connections_opened, 1);
}

#[tokio::test]
async fn http1_only_speaks_http11_to_the_same_nginx() {
    let Some((nginx, _keys, ca)) = nginx_h2("nginx-h2-http1", 100) else {
        return;
    };
    let client = tether::Client::builder()
        .add_root_certificate(ca.certificate())
        .http1_only()
        .build()
        .unwrap();
    let resp = client.get(url(&nginx, "/one")).send().await.unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_11);
    assert_eq!(resp.text().await.unwrap(), "ok /one\n");
    assert_eq!(client.stats().http2_connections_opened, 0);
}

/// `unix_socket` with `https://` URLs: TLS over nginx's Unix domain socket, the URL's host
/// the name checked against the certificate; ALPN picks HTTP/2 (many requests on one
/// connection), and `http1_only` keeps HTTP/1.1, kept alive. A certificate the client does
/// not trust fails as over TCP.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_over_a_unix_socket_is_tls_with_the_urls_host() {
    let Some((nginx, _keys, ca)) = nginx_h2("nginx-h2-unix", 100) else {
        return;
    };
    let socket = nginx.dir().join("tls.sock");
    for (http1, version) in [
        (false, http::Version::HTTP_2),
        (true, http::Version::HTTP_11),
    ] {
        let mut builder = tether::Client::builder()
            .add_root_certificate(ca.certificate())
            .unix_socket(&socket);
        if http1 {
            builder = builder.http1_only();
        }
        let client = builder.build().unwrap();
        for i in 0..3 {
            let resp = client
                .get(format!("https://localhost/u{i}"))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e:?}\n{}", nginx.diagnostics()));
            assert_eq!(resp.version(), version);
            assert_eq!(resp.text().await.unwrap(), format!("ok /u{i}\n"));
        }
        assert_eq!(client.stats().connections_opened, 1, "http1_only: {http1}");
    }
    // The certificate is for localhost and 127.0.0.1: another name fails its check.
    let client = tether::Client::builder()
        .add_root_certificate(ca.certificate())
        .unix_socket(&socket)
        .build()
        .unwrap();
    let err = client
        .get("https://elsewhere.test/")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), tether::ErrorKind::Tls, "{err}");
    let untrusting = tether::Client::builder()
        .unix_socket(&socket)
        .build()
        .unwrap();
    let err = untrusting
        .get("https://localhost/")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), tether::ErrorKind::Tls, "{err}");
}
