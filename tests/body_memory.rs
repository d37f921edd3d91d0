//! `Response::bytes` trusts a server's `Content-Length` only as far as bytes have arrived:
//! a server that claims a gigabyte and sends a little costs a little memory. Measured with
//! a counting global allocator (this file is its own test binary, one test at a time).

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::raw::{read_head, RawServer};
use tokio::io::AsyncWriteExt;

/// Counts bytes allocated and not yet freed, and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
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
