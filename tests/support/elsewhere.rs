//! A tokio runtime of its own, on its own thread, for test servers that must outlive the
//! runtimes a test makes and drops (or leaves undriven), and for counting the tasks a
//! client leaves on the test's runtime without counting the server's.

use std::future::Future;

use tokio::runtime::{Handle, Runtime};

use super::{Script, TestServer};

/// A runtime with one worker thread. Dropping it shuts it down in the background.
pub struct Elsewhere {
    runtime: Option<Runtime>,
}

impl Elsewhere {
    /// A new runtime with timers and I/O.
    pub fn new() -> Elsewhere {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("test-elsewhere")
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("Elsewhere: cannot build a runtime: {e}"));
        Elsewhere {
            runtime: Some(runtime),
        }
    }

    /// Its handle.
    pub fn handle(&self) -> Handle {
        match &self.runtime {
            Some(rt) => rt.handle().clone(),
            None => unreachable!("the runtime is only taken on drop"),
        }
    }

    /// Runs `f` there and waits for it, from async code on any runtime.
    pub async fn run<F>(&self, f: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self.handle().spawn(f).await {
            Ok(out) => out,
            Err(e) => panic!("Elsewhere::run: the task failed: {e}"),
        }
    }

    /// Starts a scripted server there, from async code.
    pub async fn server(&self, script: Script) -> TestServer {
        self.run(TestServer::start(script)).await
    }

    /// Starts a scripted server there, from blocking code (inside a runtime or not: it
    /// waits on a thread of its own).
    pub fn server_blocking(&self, script: Script) -> TestServer {
        let handle = self.handle();
        std::thread::scope(|s| {
            s.spawn(|| handle.block_on(TestServer::start(script)))
                .join()
                .unwrap_or_else(|_| panic!("Elsewhere: starting the server failed"))
        })
    }
}

impl Drop for Elsewhere {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
