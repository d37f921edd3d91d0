//! Small client-side helpers shared by the proxy tests: a GET whose body is read as
//! text, and a resolver that must not be asked.

use std::sync::atomic::{AtomicUsize, Ordering};

/// GETs `url` with `client`: its status and body as text. Panics on an error.
pub async fn get_text(client: &tether::Client, url: &str) -> (u16, String) {
    let resp = client
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

/// A resolver that must not be asked: it counts the names it is asked for and fails
/// each lookup.
#[derive(Default)]
pub struct RefusingResolver {
    calls: AtomicUsize,
}

impl RefusingResolver {
    /// How many lookups it was asked for.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl tether::Resolve for RefusingResolver {
    fn resolve(&self, name: &str) -> tether::Resolving {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let name = name.to_owned();
        Box::pin(async move { Err(format!("{name}: the client must not look this up").into()) })
    }
}
