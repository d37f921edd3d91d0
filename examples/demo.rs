//! A self-contained demonstration of tether's pool against a local server.
//!
//! The server (on 127.0.0.1, port chosen by the OS) answers every request with
//! `Keep-Alive: timeout=2, max=5` and closes a connection after its fifth response. For its
//! first half second, like a load balancer with a shorter timeout than it admits to, it
//! closes the connections it accepts after 300 ms of idleness. It also drops one request on
//! the floor (reads it, closes without answering) to show a close race being retried.
//!
//! The client, with a per-host cap of 2, runs a burst of concurrent requests, lets its
//! connections go stale, runs another burst, and prints what its pool did.
//!
//! Run: `cargo run --example demo`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the demo server counts.
#[derive(Default)]
struct ServerCounts {
    connections: AtomicUsize,
    requests: AtomicUsize,
    closed_idle: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let counts = Arc::new(ServerCounts::default());
    let server = tokio::spawn(serve(listener, counts.clone()));

    let client = tether::Client::builder()
        .polite() // at most 2 connections to the host
        .build()?;
    let url = format!("http://{addr}/hello");
    let started = Instant::now();

    println!("tether demo: server at http://{addr} (Keep-Alive: timeout=2, max=5)\n");
    burst(
        &client,
        &url,
        20,
        "burst of 20 concurrent GETs through a cap of 2",
    )
    .await?;

    tokio::time::sleep(Duration::from_millis(600)).await;
    burst(
        &client,
        &url,
        6,
        "after 600 ms idle: the server has closed its idle connections",
    )
    .await?;

    tokio::time::sleep(Duration::from_millis(1300)).await;
    burst(
        &client,
        &url,
        6,
        "after 1.3 s idle: past the server's timeout (2 s) less the margin (1 s)",
    )
    .await?;

    let stats = client.stats();
    let rows: [(&str, String); 11] = [
        (
            "requests sent (retries included)",
            stats.requests_sent.to_string(),
        ),
        ("connections opened", stats.connections_opened.to_string()),
        ("requests on a reused connection", stats.reuses.to_string()),
        (
            "idle connections found closed by the server",
            stats.idle_closed_by_server.to_string(),
        ),
        (
            "unsolicited responses on idle connections",
            stats.unsolicited_responses.to_string(),
        ),
        (
            "expired: server Keep-Alive timeout",
            stats.expired_server_timeout.to_string(),
        ),
        (
            "expired: server Keep-Alive max",
            stats.expired_server_max.to_string(),
        ),
        (
            "retried after a close race",
            stats.retries_close_race.to_string(),
        ),
        ("retried after a 408", stats.retries_408.to_string()),
        (
            "most requests in flight at once (server side)",
            counts.max_in_flight.load(Ordering::Relaxed).to_string(),
        ),
        ("elapsed", format!("{:.1?}", started.elapsed())),
    ];
    println!("\n{:<46} {:>10}", "what the pool did", "count");
    println!("{}", "-".repeat(57));
    for (what, value) in rows {
        println!("{what:<46} {value:>10}");
    }
    println!(
        "\nserver side: {} connections accepted, {} requests received, {} idle connections closed early",
        counts.connections.load(Ordering::Relaxed),
        counts.requests.load(Ordering::Relaxed),
        counts.closed_idle.load(Ordering::Relaxed),
    );
    server.abort();
    Ok(())
}

/// Sends `n` concurrent GETs and reports their outcome.
async fn burst(
    client: &tether::Client,
    url: &str,
    n: usize,
    label: &str,
) -> Result<(), tether::Error> {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let client = client.clone();
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            let response = client.get(&url).send().await?;
            response.bytes().await.map(|b| b.len())
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(e)) => println!("  request failed: {e}"),
            Err(e) => println!("  task failed: {e}"),
        }
    }
    let s = client.stats();
    println!(
        "{label}\n  {ok}/{n} succeeded; so far: {} opened, {} reused, {} found closed, {} retried",
        s.connections_opened,
        s.reuses,
        s.idle_closed_by_server + s.unsolicited_responses,
        s.retries_close_race + s.retries_408 + s.retries_nothing_written,
    );
    Ok(())
}

/// Accepts connections until aborted.
async fn serve(listener: TcpListener, counts: Arc<ServerCounts>) {
    let started = Instant::now();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        counts.connections.fetch_add(1, Ordering::Relaxed);
        let counts = counts.clone();
        let idle_limit = if started.elapsed() < Duration::from_millis(500) {
            Duration::from_millis(300)
        } else {
            Duration::from_secs(2)
        };
        tokio::spawn(async move { serve_conn(stream, idle_limit, &counts).await });
    }
}

/// Serves one connection: at most 5 responses, closed when idle past `idle_limit`; the
/// server's third request overall is read and dropped unanswered.
async fn serve_conn(mut stream: TcpStream, idle_limit: Duration, counts: &ServerCounts) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    for served in 1..=5 {
        // Read one request head (the demo's requests have no body).
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                buf.drain(..end + 4);
                break;
            }
            match tokio::time::timeout(idle_limit, stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return,
                Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
                Err(_) => {
                    counts.closed_idle.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
        let seq = counts.requests.fetch_add(1, Ordering::Relaxed);
        if seq == 2 {
            return; // a close race: the request was read, no response comes
        }
        // Between reading a request and starting to answer it, the request is in flight;
        // with a cap of 2 connections the server never sees more than 2 at once. (Counted
        // down before writing: once the answer is on its way, the client may release the
        // connection and send its next request before this task runs again.)
        let in_flight = counts.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        counts.max_in_flight.fetch_max(in_flight, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(2)).await;
        let body = "hello from the demo server\n";
        let connection = if served == 5 { "close" } else { "keep-alive" };
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: {connection}\r\nKeep-Alive: timeout=2, max={}\r\n\r\n{body}",
            body.len(),
            5 - served,
        );
        counts.in_flight.fetch_sub(1, Ordering::Relaxed);
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}
