//! A server may answer before it has read the whole request (RFC 9112 §9.6), typically a
//! `413` to an upload it will not take, and then close. The answer is what the caller gets,
//! not the write error, and the connection is not reused.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A server that reads request heads only, answers `413` and closes each connection with
/// the body unread (so the client's write fails). Stops after `conns` connections.
async fn rejecting_server(conns: usize) -> (String, tokio::task::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/upload", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut served = 0;
        for _ in 0..conns {
            let Ok(Ok((mut stream, _))) =
                tokio::time::timeout(Duration::from_secs(10), listener.accept()).await
            else {
                break;
            };
            let mut head = Vec::new();
            let mut chunk = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&chunk[..n]),
                }
            }
            let answer = b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big!";
            if stream.write_all(answer).await.is_ok() {
                served += 1;
            }
            // Dropped with the body unread: the client's write fails with a reset.
        }
        served
    });
    (url, task)
}

#[tokio::test]
async fn early_answer_to_an_unfinished_upload_reaches_the_caller() {
    let (url, server) = rejecting_server(1).await;
    let client = tether::Client::new();
    let upload = vec![b'x'; 64 * 1024 * 1024];
    let resp = client
        .post(&url)
        .body(upload)
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.text().await.unwrap(), "too big!");
    let stats = client.stats();
    assert_eq!(
        (stats.open, stats.idle),
        (0, 0),
        "the connection owes the rest of the request: closed"
    );
    assert_eq!(stats.retries_close_race + stats.retries_nothing_written, 0);
    assert_eq!(server.await.unwrap(), 1);
}

#[tokio::test]
async fn early_answer_is_not_retried_for_an_idempotent_upload() {
    // A PUT is idempotent, but an answer arrived: it is returned, never replayed.
    let (url, server) = rejecting_server(2).await;
    let client = tether::Client::new();
    let resp = client
        .put(&url)
        .body(vec![b'y'; 64 * 1024 * 1024])
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    drop(resp);
    assert_eq!(client.stats().requests_sent, 1);
    assert_eq!(client.stats().connections_opened, 1);
    server.abort();
}
