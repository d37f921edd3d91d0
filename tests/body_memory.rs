//! `Response::bytes` never allocates on a server's `Content-Length` alone: a body of known
//! length is read into one buffer that grows as bytes arrive, so a server that claims a
//! gigabyte and sends a little costs a little memory; the length is used only to refuse a
//! body past `max_body_bytes` before reading it. And a warm request allocates next to
//! nothing, one that waits at a cap little more. Measured with a counting global
//! allocator (this file is its own test binary, one test at a time).

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::raw::{read_head, RawServer};
use tokio::io::AsyncWriteExt;

/// Counts bytes allocated and not yet freed, and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Allocations of a read buffer's size or more, made so far on threads that watch for
/// them (`WATCHED`): other tests' threads start runtimes (whose event lists are as large)
/// at any time.
static LARGE: AtomicUsize = AtomicUsize::new(0);
/// Allocations of any size made so far on threads that watch for them, and their bytes.
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static WATCHED: Cell<bool> = const { Cell::new(false) };
}
const READ_BUFFER: usize = 8 * 1024;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            if WATCHED.try_with(Cell::get).unwrap_or(false) {
                ALLOCS.fetch_add(1, Ordering::Relaxed);
                ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
                if layout.size() >= READ_BUFFER {
                    LARGE.fetch_add(1, Ordering::Relaxed);
                }
            }
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The tests of this file run one at a time: the counters are process-wide.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn a_false_content_length_costs_only_what_arrived() {
    let _serial = ONE_AT_A_TIME.lock().await;
    const SENT: usize = 200 * 1024;
    // Claims 1 GiB, sends 200 KiB in pieces, then closes.
    let server = RawServer::start(|mut stream, _| async move {
        read_head(&mut stream).await;
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n";
        if stream.write_all(head).await.is_err() {
            return;
        }
        for _ in 0..(SENT / 4096) {
            if stream.write_all(&[b'x'; 4096]).await.is_err() {
                return;
            }
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    })
    .await;
    let client = tether::Client::new();
    let resp = client.get(server.url("/huge")).send().await.unwrap();
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let err = resp.bytes().await.unwrap_err();
    assert_eq!(err.kind(), tether::ErrorKind::IncompleteBody, "{err:?}");
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(before);
    // What arrived, a read buffer and doubling: well under a megabyte. Trusting the
    // header (even capped at 16 MiB) would show here.
    assert!(
        peak < 2 * 1024 * 1024,
        "peak {peak} bytes for {SENT} received"
    );
}

#[tokio::test]
async fn a_true_content_length_still_reads_a_large_body_whole() {
    let _serial = ONE_AT_A_TIME.lock().await;
    const LEN: usize = 3 * 1024 * 1024 + 17;
    let server = RawServer::start(|mut stream, _| async move {
        read_head(&mut stream).await;
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {LEN}\r\n\r\n");
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(&vec![b'y'; LEN]).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    })
    .await;
    let client = tether::Client::new();
    let body = client
        .get(server.url("/big"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(body.len(), LEN);
    assert!(body.iter().all(|&b| b == b'y'));
}

/// The peak of memory while `bytes()` reads a body of `len` bytes of `w`, which the server
/// writes `first` bytes of at once, then the rest in pieces of `piece` bytes, 1 ms apart.
async fn peak_reading_whole(len: usize, first: usize, piece: usize) -> usize {
    let server = RawServer::start(move |mut stream, _| async move {
        read_head(&mut stream).await;
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n");
        let _ = stream.write_all(head.as_bytes()).await;
        let mut sent = 0;
        while sent < len {
            let n = if sent == 0 { first } else { piece }.min(len - sent);
            if stream.write_all(&vec![b'w'; n]).await.is_err() {
                return;
            }
            sent += n;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    })
    .await;
    let client = tether::Client::new();
    let resp = client.get(server.url("/whole")).send().await.unwrap();
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let body = resp.bytes().await.unwrap();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(before);
    assert_eq!(body.len(), len);
    assert!(body.iter().all(|&b| b == b'w'));
    peak
}

#[tokio::test]
async fn a_body_of_a_power_of_two_grows_its_buffer_to_its_size_not_past_it() {
    let _serial = ONE_AT_A_TIME.lock().await;
    const LEN: usize = 1 << 20;
    // Doubling on once most of the body is in ends in a 2 MiB buffer, 3 MiB at its last
    // growth (this allocator's `realloc` copies: old and new are both live). Growing to
    // the body's size once a third of it has arrived ends at that size, or at twice what
    // the buffer had when the doubling is larger: here 1.5 MiB at the copy, and at most
    // about 2 MiB whatever the pieces the reads get. Written at once, the reads fill
    // their room and ask for more each time; in pieces, they do not; and a first part at
    // once, then pieces, leaves the reads asking for more room than the rest needs.
    for (first, piece) in [(LEN, LEN), (64 * 1024, 64 * 1024), (600 * 1024, 50 * 1024)] {
        let peak = peak_reading_whole(LEN, first, piece).await;
        assert!(
            peak <= 2 * LEN + LEN / 4,
            "peak {peak} bytes for a body of {LEN} sent {first} bytes first, then in \
             pieces of {piece}"
        );
    }
}

/// A gzip member of `len` bytes of `byte`, compressed once.
fn gzip_member(byte: u8, len: usize) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&vec![byte; len]).unwrap();
    e.finish().unwrap()
}

/// A server that answers with `members` copies of `member`, chunked, `Content-Encoding:
/// gzip`, and keeps the connection.
async fn gzip_server(member: Vec<u8>, members: usize) -> RawServer {
    let member: &'static [u8] = Box::leak(member.into_boxed_slice());
    RawServer::start(move |mut stream, _| async move {
        read_head(&mut stream).await;
        let head =
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n";
        if stream.write_all(head).await.is_err() {
            return;
        }
        for _ in 0..members {
            let size = format!("{:x}\r\n", member.len());
            let sent = async {
                stream.write_all(size.as_bytes()).await?;
                stream.write_all(member).await?;
                stream.write_all(b"\r\n").await
            };
            if sent.await.is_err() {
                return;
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n").await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await
}

#[tokio::test]
async fn a_50_mib_gzip_body_is_decoded_piece_by_piece_in_little_memory() {
    let _serial = ONE_AT_A_TIME.lock().await;
    // 50 members of 1 MiB each: 50 MiB decoded from a few hundred KiB on the wire.
    let server = gzip_server(gzip_member(b'z', 1 << 20), 50).await;
    let client = tether::Client::new();
    let mut resp = client.get(server.url("/big.gz")).send().await.unwrap();
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let mut total = 0usize;
    while let Some(piece) = resp.chunk().await.unwrap() {
        assert!(piece.iter().all(|&b| b == b'z'));
        total += piece.len();
    }
    assert_eq!(total, 50 << 20);
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(before);
    assert!(
        peak < 2 * 1024 * 1024,
        "peak {peak} bytes while decoding 50 MiB"
    );
    assert_eq!(
        client.stats().idle,
        1,
        "the connection went back to the pool"
    );
}

#[tokio::test]
async fn a_gzip_bomb_stops_at_max_body_bytes_in_bounded_memory() {
    let _serial = ONE_AT_A_TIME.lock().await;
    // 1 GiB of zeros: 128 members of 8 MiB, about 8 KiB each on the wire.
    let server = gzip_server(gzip_member(0, 8 << 20), 128).await;
    let limit = 4 << 20;
    let client = tether::Client::builder()
        .max_body_bytes(limit)
        .build()
        .unwrap();
    let resp = client.get(server.url("/bomb.gz")).send().await.unwrap();
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let err = resp.bytes().await.unwrap_err();
    assert_eq!(err.kind(), tether::ErrorKind::Body, "{err:?}");
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(before);
    assert!(
        peak < 3 * limit as usize,
        "peak {peak} bytes for a limit of {limit}"
    );
}

#[tokio::test]
async fn a_declared_length_past_max_body_bytes_fails_before_the_body_is_read() {
    let _serial = ONE_AT_A_TIME.lock().await;
    // Declares 10 MiB and sends a little of it, then nothing more: the limit is known to
    // be passed from the head, so `bytes()` fails at once rather than wait for the rest.
    let server = RawServer::start(|mut stream, _| async move {
        read_head(&mut stream).await;
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\nxxxx";
        let _ = stream.write_all(head).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let client = tether::Client::builder()
        .max_body_bytes(1024 * 1024)
        .build()
        .unwrap();
    let resp = client.get(server.url("/big")).send().await.unwrap();
    let err = tokio::time::timeout(Duration::from_secs(5), resp.bytes())
        .await
        .expect("bytes() failed at once, without waiting for the body")
        .unwrap_err();
    assert_eq!(err.kind(), tether::ErrorKind::Body, "{err:?}");
    assert!(err.to_string().contains("max_body_bytes"), "{err}");
}

#[tokio::test]
async fn max_body_bytes_holds_for_a_body_read_with_its_head() {
    let _serial = ONE_AT_A_TIME.lock().await;
    // The whole body comes in the head's packet, so it is in hand before `bytes()` is
    // called: the limit still holds, to the byte.
    let server = RawServer::start(|mut stream, _| async move {
        loop {
            if read_head(&mut stream).await.is_empty() {
                return;
            }
            let mut answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n".to_vec();
            answer.extend_from_slice(&[b'x'; 2000]);
            if stream.write_all(&answer).await.is_err() {
                return;
            }
        }
    })
    .await;
    for (limit, fits) in [(1999, false), (2000, true)] {
        let client = tether::Client::builder()
            .max_body_bytes(limit)
            .build()
            .unwrap();
        let resp = client.get(server.url("/small")).send().await.unwrap();
        match resp.bytes().await {
            Ok(body) => assert!(
                fits && body.len() == 2000,
                "limit {limit}: {} bytes",
                body.len()
            ),
            Err(err) => {
                assert!(!fits, "limit {limit}: {err}");
                assert_eq!(err.kind(), tether::ErrorKind::Body, "{err:?}");
                assert!(err.to_string().contains("max_body_bytes"), "{err}");
            }
        }
    }
}

/// A keep-alive server answering the `n`th request of each connection with 1,000 bytes of
/// the `n`th letter.
async fn letters_server() -> RawServer {
    RawServer::start(|mut stream, _| async move {
        for n in 0.. {
            if read_head(&mut stream).await.is_empty() {
                return;
            }
            if stream.write_all(&answer_of(letter(n))).await.is_err() {
                return;
            }
        }
    })
    .await
}

/// An answer whose body is 1,000 bytes of `byte`.
fn answer_of(byte: u8) -> Vec<u8> {
    let mut answer = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec();
    answer.extend_from_slice(&[byte; 1000]);
    answer
}

fn letter(n: usize) -> u8 {
    b'a' + (n % 26) as u8
}

#[tokio::test]
async fn gets_one_after_another_take_back_the_read_buffer_and_never_overwrite_a_held_body() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let server = letters_server().await;
    let client = tether::Client::new();
    let get = |n: usize| {
        let (client, url) = (client.clone(), server.url("/"));
        async move {
            let body = client.get(url).send().await.unwrap().bytes().await.unwrap();
            assert_eq!(body.len(), 1000);
            assert!(body.iter().all(|&b| b == letter(n)), "body {n}");
            body
        }
    };
    get(0).await;
    // The connection's buffer goes to this thread's spares when it idles; the next
    // request takes it back instead of allocating another.
    // The client runs on this thread (the test's runtime); the server on its own.
    WATCHED.with(|w| w.set(true));
    let before = LARGE.load(Ordering::Relaxed);
    for n in 1..=20 {
        get(n).await;
    }
    let large = LARGE.load(Ordering::Relaxed) - before;
    WATCHED.with(|w| w.set(false));
    assert_eq!(large, 0, "{large} read buffers allocated for 20 requests");
    // A body still held shares the buffer it was read into: the next read must not write
    // over it.
    let mut held = Vec::new();
    for n in 21..=30 {
        held.push((n, get(n).await));
    }
    for (n, body) in &held {
        assert!(
            body.iter().all(|&b| b == letter(*n)),
            "held body {n} changed"
        );
    }
    assert_eq!(server.accepted(), 1, "one connection throughout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn requests_waiting_for_their_responses_hold_no_read_buffer() {
    let _serial = ONE_AT_A_TIME.lock().await;
    // Every answer waits until all N requests of its round have come in, so that all N
    // wait for their responses at once (the server runs on the runtime's worker; the
    // client on this thread, where the allocations are counted).
    const N: usize = 24;
    let round = std::sync::Arc::new(tokio::sync::Barrier::new(N));
    let server = RawServer::start(move |mut stream, _| {
        let round = round.clone();
        async move {
            loop {
                if read_head(&mut stream).await.is_empty() {
                    return;
                }
                round.wait().await;
                if stream.write_all(&answer_of(b'z')).await.is_err() {
                    return;
                }
            }
        }
    })
    .await;
    let client = tether::Client::builder()
        .max_connections_per_host(N)
        .build()
        .unwrap();
    let url = server.url("/");
    let gets = || all((0..N).map(|_| get_letters(&client, &url)).collect());
    gets().await;
    assert_eq!(server.accepted(), N, "one connection per request");
    WATCHED.with(|w| w.set(true));
    let before = LARGE.load(Ordering::Relaxed);
    gets().await;
    let large = LARGE.load(Ordering::Relaxed) - before;
    WATCHED.with(|w| w.set(false));
    assert_eq!(server.accepted(), N, "the connections were reused");
    // A request takes a buffer when its response is there to read, and gives it back
    // when nothing is: the thread's spares serve all N. Holding one from the write on,
    // N requests in flight would hold N buffers, past the thread's spares.
    assert!(
        large <= 1,
        "{large} read buffers allocated for {N} requests at once"
    );
}

/// Runs `futures` concurrently on this task (so that their allocations are this thread's).
async fn all<F: std::future::Future<Output = ()>>(futures: Vec<F>) {
    let mut futures: Vec<Option<std::pin::Pin<Box<F>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    std::future::poll_fn(|cx| {
        for slot in futures.iter_mut() {
            if let Some(f) = slot {
                if f.as_mut().poll(cx).is_ready() {
                    *slot = None;
                }
            }
        }
        if futures.iter().all(Option::is_none) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

/// A GET of `letters_server`'s answer, read with `bytes()`.
async fn get_letters(client: &tether::Client, url: &str) {
    let body = client.get(url).send().await.unwrap();
    let body = body.bytes().await.unwrap();
    assert_eq!(body.len(), 1000);
}

/// Runs `work` `times` times with this thread's allocations counted: how many were made,
/// and their bytes.
async fn counted<F, W>(times: usize, mut work: F) -> (usize, usize)
where
    F: FnMut() -> W,
    W: std::future::Future<Output = ()>,
{
    WATCHED.with(|w| w.set(true));
    let (allocs, bytes) = (
        ALLOCS.load(Ordering::Relaxed),
        ALLOCATED.load(Ordering::Relaxed),
    );
    for _ in 0..times {
        work().await;
    }
    WATCHED.with(|w| w.set(false));
    (
        ALLOCS.load(Ordering::Relaxed) - allocs,
        ALLOCATED.load(Ordering::Relaxed) - bytes,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_warm_small_get_read_with_bytes_allocates_next_to_nothing() {
    let _serial = ONE_AT_A_TIME.lock().await;
    // The server runs on the runtime's worker; the client on this thread (the test's own
    // future), where the allocations are counted.
    let server = letters_server().await;
    let client = tether::Client::new();
    let url = server.url("/");
    let get = || get_letters(&client, &url);
    for _ in 0..10 {
        get().await;
    }
    // Warm: the request's head buffer, the response's field spans and its body state are
    // the thread's spares, taken and given back; the read buffer is the connection's.
    const REQUESTS: usize = 200;
    let (allocs, _) = counted(REQUESTS, get).await;
    assert!(
        allocs < REQUESTS / 10,
        "{allocs} allocations for {REQUESTS} warm requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_request_waiting_at_the_per_host_cap_allocates_little() {
    let _serial = ONE_AT_A_TIME.lock().await;
    // One connection per host and two GETs at once: the second waits for the first's
    // connection (the server runs on the runtime's worker; the client on this thread).
    let server = letters_server().await;
    let client = tether::Client::builder()
        .max_connections_per_host(1)
        .build()
        .unwrap();
    let url = server.url("/");
    let get = || get_letters(&client, &url);
    for _ in 0..10 {
        tokio::join!(get(), get());
    }
    const PAIRS: usize = 100;
    let (_, bytes) = counted(PAIRS, || async {
        tokio::join!(get(), get());
    })
    .await;
    assert_eq!(
        server.accepted(),
        1,
        "the second of each pair waited for the first's"
    );
    // The wait's own state and its place in the host's queue: nothing of a dial.
    assert!(
        bytes / PAIRS < 1536,
        "{} bytes allocated per waiting request",
        bytes / PAIRS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_plain_dial_allocates_little() {
    let _serial = ONE_AT_A_TIME.lock().await;
    // Every answer closes its connection: each GET dials (on this thread, where the
    // allocations are counted; the server runs on the runtime's worker).
    let server = RawServer::start(|mut stream, _| async move {
        read_head(&mut stream).await;
        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
        let _ = stream.write_all(answer).await;
    })
    .await;
    let client = tether::Client::new();
    let url = server.url("/");
    let get = || async {
        let body = client
            .get(&url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(&body[..], b"ok");
    };
    for _ in 0..10 {
        get().await;
    }
    const DIALS: usize = 50;
    let (allocs, bytes) = counted(DIALS, get).await;
    assert_eq!(server.accepted(), 10 + DIALS, "each GET dialed");
    // The wait's box, the dial's, the connection's and the socket's registration: not
    // the TLS, proxy and HTTP/2 handshakes' state, nor a read buffer (the last closed
    // connection's is taken).
    assert!(
        bytes / DIALS < 4 * 1024,
        "{} bytes allocated per dial",
        bytes / DIALS
    );
    // Those four, and tokio's note of the socket to release when it closes: an IP
    // literal dials with no list of addresses, and one address with no race (no timer,
    // no box per attempt, no error made ahead). 15 before.
    assert!(
        allocs <= 6 * DIALS,
        "{:.1} allocations per dial",
        allocs as f64 / DIALS as f64
    );
}

/// A keep-alive server whose answer depends on the path: `/small` (5 bytes with the head),
/// `/slow` (`SLOW_LEN` bytes, the second half 50 ms after the first) and `/chunked` (two
/// chunks).
async fn paths_server() -> RawServer {
    RawServer::start(|mut stream, _| async move {
        loop {
            let head = read_head(&mut stream).await;
            if head.is_empty() {
                return;
            }
            let line = String::from_utf8_lossy(&head);
            let sent = if line.starts_with("GET /slow ") {
                let half = vec![b's'; SLOW_LEN / 2];
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {SLOW_LEN}\r\n\r\n");
                let first = [head.as_bytes(), &half].concat();
                if stream.write_all(&first).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                stream.write_all(&half).await
            } else if line.starts_with("GET /chunked ") {
                let answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n";
                stream.write_all(answer).await
            } else {
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
                    .await
            };
            if sent.is_err() {
                return;
            }
        }
    })
    .await
}

const SLOW_LEN: usize = 100 * 1024;

#[tokio::test]
async fn a_body_state_given_back_by_bytes_serves_the_next_responses_as_new() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let server = paths_server().await;
    let client = tether::Client::new();
    let small = || async {
        let resp = client.get(server.url("/small")).send().await.unwrap();
        assert_eq!(resp.content_length(), Some(5));
        assert_eq!(resp.remote_addr(), Some(server.addr()));
        assert_eq!(resp.bytes().await.unwrap(), "hello");
    };
    small().await;
    // The state of a body read whole with its head went back to the thread's spares; a
    // body still arriving must not look finished in it.
    let slow = client.get(server.url("/slow")).send().await.unwrap();
    assert_eq!(slow.content_length(), Some(SLOW_LEN as u64));
    let body = slow.bytes().await.unwrap();
    assert_eq!(body.len(), SLOW_LEN);
    assert!(body.iter().all(|&b| b == b's'));
    small().await;
    let mut chunked = client.get(server.url("/chunked")).send().await.unwrap();
    assert_eq!(chunked.content_length(), None);
    let mut all = Vec::new();
    while let Some(piece) = chunked.chunk().await.unwrap() {
        all.extend_from_slice(&piece);
    }
    assert_eq!(all, b"abcdef");
    small().await;
    assert_eq!(server.accepted(), 1, "one connection throughout");
}
