//! Corrupted answers through the whole client: 1,500 GETs from 8 tasks, each answered by
//! one of a dozen valid responses (framed by length, chunked, gzipped, with an interim
//! `100`, a redirect, `Keep-Alive` terms, HTTP/1.0 read to the close, ...), half of them
//! corrupted on the way by a seeded generator (a byte flipped, dropped, repeated or added,
//! a range doubled, the answer cut short).
//!
//! Whatever arrives: nothing panics, every request ends (a read timeout bounds the answers
//! whose corruption leaves the client waiting), every failure is a typed error, every
//! answer left intact is read exactly (a connection that carried a corrupted answer is
//! never used again, so it cannot spoil the next one), and the pool ends consistent:
//! nothing in use, no more open than the cap. The outcome of each request depends on its
//! answer alone, so a run is repeatable. The figures are printed (`cargo test --test
//! chaos -- --nocapture`).

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::rng::XorShift;
use support::{Reply, Script, TestServer};
use tether::{Client, ErrorKind};

const REQUESTS: usize = 1_500;
const TASKS: usize = 8;
const CAP: usize = 4;
const SEED: u64 = 0x0c4a_05c4_a05c_4a05;
/// The whole run must end within this (real time), or the test fails.
const TIME_LIMIT: Duration = Duration::from_secs(120);

/// A number in `0..n`.
fn pick(rng: &mut XorShift, n: usize) -> usize {
    rng.below(n as u64) as usize
}

/// The body the answer to request `i` carries (decoded), naming `i`.
fn body_of(i: usize) -> Vec<u8> {
    let mut body = format!("answer to {i}:").into_bytes();
    body.extend((0..(i * 37) % 900).map(|n| b'a' + (n % 26) as u8));
    body
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).expect("gzip");
    gz.finish().expect("gzip")
}

fn chunked(data: &[u8], piece: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in data.chunks(piece.max(1)) {
        out.extend(format!("{:x}\r\n", chunk.len()).into_bytes());
        out.extend(chunk);
        out.extend(b"\r\n");
    }
    out.extend(b"0\r\n\r\n");
    out
}

/// A valid answer to request `i` at `path`, and whether it ends with the server closing.
/// `/r/<i>` (a redirect's target) always gets the plain form.
fn valid_answer(i: usize, redirected: bool) -> (Vec<u8>, bool) {
    let body = body_of(i);
    let with_length = |head: &str, payload: &[u8]| {
        let mut out = format!("{head}Content-Length: {}\r\n\r\n", payload.len()).into_bytes();
        out.extend(payload);
        out
    };
    let kind = if redirected { 0 } else { i % 11 };
    match kind {
        0 => (with_length("HTTP/1.1 200 OK\r\n", &body), false),
        1 => {
            let mut out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            out.extend(chunked(&body, 1 + i % 97));
            (out, false)
        }
        2 => (
            with_length(
                "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n",
                &gzip(&body),
            ),
            false,
        ),
        3 => {
            let mut out =
                b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
                    .to_vec();
            out.extend(chunked(&gzip(&body), 64));
            (out, false)
        }
        4 => {
            let mut out = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
            out.extend(with_length("HTTP/1.1 200 OK\r\n", &body));
            (out, false)
        }
        5 => (
            format!("HTTP/1.1 302 Found\r\nLocation: /r/{i}\r\nContent-Length: 0\r\n\r\n")
                .into_bytes(),
            false,
        ),
        6 => (
            with_length(
                "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=3\r\nConnection: keep-alive\r\n",
                &body,
            ),
            false,
        ),
        7 => {
            let mut out = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
            out.extend(&body);
            (out, true)
        }
        8 => (
            with_length(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nX-Many: 1\r\n\
                 X-Many: 2\r\nSet-Cookie: a=b; Path=/\r\nCache-Control: no-cache\r\n",
                &body,
            ),
            false,
        ),
        9 => (
            with_length("HTTP/1.1 200 OK\r\nConnection: close\r\n", &body),
            true,
        ),
        _ => (
            b"HTTP/1.1 204 No Content\r\nX-Empty: yes\r\n\r\n".to_vec(),
            false,
        ),
    }
}

/// What the answer to `path` is: the bytes, whether the server closes after them, and
/// whether they are left intact.
fn answer(path: &str) -> (Vec<u8>, bool, bool) {
    let (i, redirected) = match (path.strip_prefix("/g/"), path.strip_prefix("/r/")) {
        (Some(n), _) => (n.parse().unwrap_or(0), false),
        (_, Some(n)) => (n.parse().unwrap_or(0), true),
        _ => (0, false),
    };
    let (mut bytes, mut closes) = valid_answer(i, redirected);
    let mut rng = XorShift::new(i as u64 * 2 + u64::from(redirected), SEED);
    if pick(&mut rng, 2) == 0 {
        return (bytes, closes, true);
    }
    let at = pick(&mut rng, bytes.len());
    match pick(&mut rng, 6) {
        0 => bytes[at] ^= 1 + pick(&mut rng, 255) as u8,
        1 => {
            bytes.remove(at);
        }
        2 => {
            let b = bytes[at];
            bytes.insert(at, b);
        }
        3 => bytes.insert(at, pick(&mut rng, 256) as u8),
        4 => {
            let end = (at + 1 + pick(&mut rng, 16)).min(bytes.len());
            let range = bytes[at..end].to_vec();
            bytes.splice(at..at, range);
        }
        _ => {
            bytes.truncate(at);
            closes = true;
        }
    }
    (bytes, closes, false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_answers_are_typed_errors_and_intact_ones_read_exactly() {
    let server = TestServer::start(Script::new().respond(|req| {
        let (bytes, closes, _) = answer(&req.target);
        if closes {
            Reply::RawThenClose(bytes)
        } else {
            Reply::Raw(bytes)
        }
    }))
    .await;
    let client = Client::builder()
        .max_connections_per_host(CAP)
        .read_timeout(Duration::from_millis(300))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let base = Arc::new(format!("http://{}", server.addr()));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..TASKS {
        let (client, base) = (client.clone(), base.clone());
        tasks.spawn(async move {
            let mut outcomes = Vec::new();
            for i in (t..REQUESTS).step_by(TASKS) {
                let result = match client.get(format!("{base}/g/{i}")).send().await {
                    Ok(resp) => resp.bytes().await,
                    Err(e) => Err(e),
                };
                outcomes.push((i, result));
            }
            outcomes
        });
    }
    let mut kinds: HashMap<ErrorKind, usize> = HashMap::new();
    let (mut intact_ok, mut intact_failed, mut corrupt_ok) = (0, 0, 0);
    let limit = tokio::time::timeout(TIME_LIMIT, async {
        while let Some(done) = tasks.join_next().await {
            for (i, result) in done.expect("a request task panicked") {
                let (_, _, intact) = answer(&format!("/g/{i}"));
                // A redirect's answer is intact only if its target's is too.
                let target_intact = i % 11 != 5 || answer(&format!("/r/{i}")).2;
                match result {
                    Ok(body) if intact && target_intact => {
                        assert_eq!(
                            body,
                            if i % 11 == 10 { Vec::new() } else { body_of(i) },
                            "request {i}: an intact answer read otherwise"
                        );
                        intact_ok += 1;
                    }
                    Ok(_) => corrupt_ok += 1,
                    Err(e) => {
                        if intact && target_intact {
                            intact_failed += 1;
                        }
                        *kinds.entry(e.kind()).or_default() += 1;
                    }
                }
            }
        }
    })
    .await;
    assert!(limit.is_ok(), "the run did not end within {TIME_LIMIT:?}");
    println!(
        "chaos: {REQUESTS} GETs in {:?}: {intact_ok} intact read exactly, {intact_failed} \
         intact failed, {corrupt_ok} corrupted but read; errors by kind: {kinds:?}",
        started.elapsed()
    );
    assert_eq!(
        intact_failed, 0,
        "an intact answer failed: its connection carried a corrupted one before"
    );
    assert!(intact_ok > REQUESTS / 4, "{intact_ok} intact answers read");
    for kind in kinds.keys() {
        assert!(
            !matches!(kind, ErrorKind::Runtime | ErrorKind::InvalidRequest),
            "{kind:?}: not an answer's fault"
        );
    }
    // The pool is consistent: every connection given back or closed.
    let bound = Instant::now() + Duration::from_secs(5);
    while client.stats().in_use > 0 && Instant::now() < bound {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = client.stats();
    assert_eq!(stats.in_use, 0, "{stats:?}");
    assert!(stats.open <= CAP, "{stats:?}");
    // And it still serves.
    let ok = client.get(server.url("/g/0")).send().await.unwrap();
    assert_eq!(ok.bytes().await.unwrap(), body_of(0));
}
