//! A reqwest-style program: the everyday API against a small local JSON service that
//! this example starts itself (on 127.0.0.1, stopped when the example ends).
//!
//! `cargo run --example everyday`
//!
//! It logs in with a form (the answer sets a cookie and redirects; feature `cookies`
//! keeps it when enabled), reads a gzipped JSON list with `query` parameters, posts
//! JSON with a bearer token, checks statuses with `error_for_status`, streams a body,
//! and sends an `http::Request` through `execute`.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), tether::Error> {
    let base = start_service().await;
    let client = tether::Client::builder()
        .user_agent("everyday-example/1.0")
        .timeout(Duration::from_secs(10))
        .redirect(tether::redirect::Policy::limited(5))
        .build()?;

    // A form login answered by 303 See Other to /welcome: followed as a GET.
    let welcome = client
        .post(format!("{base}/login"))
        .form(&[("user", "alice"), ("password", "open sesame")])
        .send()
        .await?
        .error_for_status()?;
    let landed = welcome.url().path().to_owned();
    println!("login -> {landed}: {}", welcome.text().await?);

    // Query parameters, and a gzipped JSON answer decoded on the way.
    let items: Vec<HashMap<String, String>> = client
        .get(format!("{base}/items"))
        .query(&[("page", "1"), ("sort", "name")])
        .send()
        .await?
        .json()
        .await?;
    println!("items: {items:?}");

    // JSON in, with a bearer token; the status checked.
    let created = client
        .post(format!("{base}/items"))
        .bearer_auth("t0ken")
        .json(&HashMap::from([("name", "tether")]))
        .send()
        .await?
        .error_for_status()?;
    println!(
        "created: {} {}",
        created.status(),
        created.headers()["location"].to_str().unwrap_or("?")
    );

    // A 404 as an error.
    let missing = client.get(format!("{base}/nope")).send().await?;
    if let Err(e) = missing.error_for_status_ref() {
        println!("missing: {e} (status {:?})", e.status());
    }

    // A body read piece by piece.
    let mut stream = client.get(format!("{base}/items")).send().await?;
    let mut pieces = 0;
    while let Some(piece) = stream.chunk().await? {
        pieces += piece.len();
    }
    println!("streamed {pieces} decoded bytes");

    // An `http::Request`, as tower middleware would hand it over.
    let request = http::Request::delete(format!("{base}/items/1"))
        .body(tether::Body::empty())
        .map_err(|_| ())
        .ok();
    if let Some(request) = request {
        let deleted = client.execute(request).await?;
        println!("delete: {}", deleted.status());
    }

    let stats = client.stats();
    println!(
        "pool: {} opened, {} reused, {} redirects",
        stats.connections_opened, stats.reuses, stats.redirects
    );
    Ok(())
}

/// A tiny JSON service on 127.0.0.1; returns its base URL.
async fn start_service() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    while buf.len() < end + 4 + length {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..end + 4 + length);
                    let first = head.lines().next().unwrap_or("");
                    let response = answer(first);
                    if stream.write_all(&response).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    base
}

fn answer(request_line: &str) -> Vec<u8> {
    let mut parts = request_line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let plain = |status: &str, extra: &str, body: &str| {
        format!(
            "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    };
    match (method, path) {
        ("POST", "/login") => plain(
            "303 See Other",
            "Location: /welcome\r\nSet-Cookie: session=1; Path=/\r\n",
            "",
        ),
        ("GET", "/welcome") => plain("200 OK", "", "welcome, alice"),
        ("GET", "/items") => {
            let json = r#"[{"name":"pool"},{"name":"client"}]"#;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            let _ = gz.write_all(json.as_bytes());
            let body = gz.finish().unwrap_or_default();
            let mut out = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            out.extend_from_slice(&body);
            out
        }
        ("POST", "/items") => plain("201 Created", "Location: /items/3\r\n", r#"{"id":3}"#),
        ("DELETE", _) => plain("204 No Content", "", ""),
        _ => plain("404 Not Found", "", "not found"),
    }
}
