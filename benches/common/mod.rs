//! Shared by the benchmarks: the server child (`server.rs`), the three clients behind one
//! interface (`clients.rs`), and measuring: CPU time of this process's threads, heap bytes
//! through a counting allocator, RSS, a seeded xorshift, medians and quick mode.
//!
//! Each benchmark runs its server in a child process (the same executable, started with an
//! environment variable), so what this process spends is the client's alone.
#![allow(dead_code)]

pub mod clients;
pub mod floor;
pub mod server;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Quick mode: `TETHER_BENCH_QUICK=1`, or `--quick` after `--` on the command line.
pub fn quick() -> bool {
    std::env::var("TETHER_BENCH_QUICK").is_ok_and(|v| v != "0")
        || std::env::args().any(|a| a == "--quick")
}

/// CPU time used so far by this process's live threads, in nanoseconds, from
/// `/proc/self/task/*/schedstat` (first field: time on CPU, in ns). The server runs in a
/// child process, so this is the client's: its runtime thread and any helper threads.
pub fn process_cpu_ns() -> u64 {
    let mut total = 0;
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    for entry in dir.flatten() {
        let path = entry.path().join("schedstat");
        if let Ok(s) = std::fs::read_to_string(path) {
            total += s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

/// User and system CPU time of this process so far, in ns (`/proc/self/stat`, fields 14
/// and 15, in clock ticks of 10 ms: good for runs of a second or more).
pub fn process_user_sys_ns() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) may hold spaces; the fields after it are plain.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let tick = 10_000_000;
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    (
        fields.get(11).copied().unwrap_or(0) * tick,
        fields.get(12).copied().unwrap_or(0) * tick,
    )
}

/// CPU time of the calling thread, in ns (`/proc/thread-self/schedstat`).
pub fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Resident set size in bytes (`/proc/self/statm`, second field, in pages of 4 KiB).
pub fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Peak RSS in bytes since start or the last `reset_peak_rss` (`VmHWM`).
pub fn peak_rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<usize>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// Resets `VmHWM` to the current RSS (Linux ≥ 4.0). False when not allowed.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The soft and hard limits on open files, from `/proc/self/limits`.
pub fn open_files_limit() -> Option<(u64, u64)> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut nums = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .map(|v| v.parse::<u64>().unwrap_or(u64::MAX));
    Some((nums.next()?, nums.next()?))
}

/// A global allocator that counts live heap bytes and their peak.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is to the system allocator.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is to the system allocator.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is to the system allocator.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is to the system allocator.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let grow = new_size - layout.size();
                let live = LIVE.fetch_add(grow, Ordering::Relaxed) + grow;
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

/// Live heap bytes (with `Counting` installed as the global allocator).
pub fn heap_live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Peak heap bytes since the last `reset_heap_peak`.
pub fn heap_peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Starts a new heap peak from the live bytes now.
pub fn reset_heap_peak() {
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
}

/// A tiny seeded xorshift64* generator.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform enough in `0..n` for a benchmark.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// The median of `values` (the mean of the two middle ones for an even count).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Bytes in KiB with one decimal.
pub fn kib(bytes: f64) -> String {
    format!("{:.1} KiB", bytes / 1024.0)
}

/// Seconds with two decimals.
pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// The machine, for the report: CPU model and count, and the load now.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown CPU".to_string(), |m| m.trim().to_string());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    format!("{cpus} x {model}; load average {load}")
}

const RUN_ENV: &str = "TETHER_BENCH_RUN";

/// The run this process was started for by `run_in_child`, if any.
pub fn child_run() -> Option<usize> {
    std::env::var(RUN_ENV).ok()?.parse().ok()
}

/// Runs the benchmark's run number `i` in a fresh process (this executable again, with the
/// same arguments), so that one client's memory figures do not inherit what the allocator
/// kept from another's. Lines the child prints that start with `RESULT ` are returned
/// (without the prefix); the others are passed through.
pub fn run_in_child(i: usize) -> Vec<String> {
    let exe = std::env::current_exe().expect("current exe");
    let out = std::process::Command::new(exe)
        .args(std::env::args().skip(1))
        .env(RUN_ENV, i.to_string())
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run the benchmark child");
    assert!(out.status.success(), "benchmark run {i} failed");
    let mut results = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        match line.strip_prefix("RESULT ") {
            Some(r) => results.push(r.to_string()),
            None => println!("{line}"),
        }
    }
    results
}
