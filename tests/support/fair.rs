//! Fairness tests: one big host's requests queued first, then a few for each of several
//! small hosts. [`Completions`] spawns them and keeps the order in which they completed.

use std::sync::{Arc, Mutex};

use tokio::task::JoinSet;

/// The order in which requests completed: `None` for the big host, `Some(i)` for small
/// host `i`.
#[derive(Clone, Default)]
pub struct Completions(Arc<Mutex<Vec<Option<usize>>>>);

impl Completions {
    /// Spawns on `tasks` a GET of `url` that must answer `ok`, noted as `who`'s when done.
    pub fn spawn(
        &self,
        tasks: &mut JoinSet<()>,
        client: &tether::Client,
        url: String,
        who: Option<usize>,
    ) {
        let (client, done) = (client.clone(), self.0.clone());
        tasks.spawn(async move {
            let resp = client.get(&url).send().await.expect("GET");
            assert_eq!(resp.text().await.expect("body"), "ok");
            done.lock().unwrap().push(who);
        });
    }

    /// How many have completed.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// How many of the big host's requests had completed when small host `h` completed
    /// its last (panics if it completed none).
    pub fn big_done_when_done(&self, h: usize) -> usize {
        let done = self.0.lock().unwrap();
        let last = done.iter().rposition(|w| *w == Some(h));
        let last = last.unwrap_or_else(|| panic!("small host {h} completed nothing"));
        done[..last].iter().filter(|w| w.is_none()).count()
    }

    /// How many of the big host's requests had completed when the last small host's
    /// completed.
    pub fn big_done_when_all_done(&self) -> usize {
        let done = self.0.lock().unwrap();
        let last = done.iter().rposition(Option::is_some).unwrap_or(0);
        done[..last].iter().filter(|w| w.is_none()).count()
    }
}
