//! Name resolution: the public [`Resolve`] trait, the system resolver (off the async
//! threads), and the cache every client puts in front of its resolver.
//!
//! The cache keeps each name's answer for `ttl` (failures for at most 1 s), so a client
//! that opens many connections to one host resolves it once per `ttl`. Lookups of a name
//! already in flight wait for that one answer instead of asking again. It holds at most
//! [`MAX_NAMES`] names: when full, expired answers go first, then an arbitrary one.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use super::BoxError;
use crate::clock;
use crate::error::{Error, ErrorKind};

/// What [`Resolve::resolve`] returns: the addresses of a name, in preference order.
pub type Resolving = Pin<Box<dyn Future<Output = Result<Vec<IpAddr>, BoxError>> + Send>>;

/// Resolves host names to addresses; give one to
/// [`ClientBuilder::dns_resolver`](crate::ClientBuilder::dns_resolver). The port comes from
/// the URL. The client caches the answers (`dns_cache_ttl`).
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use std::sync::Arc;
///
/// /// Every name is the loopback address.
/// struct Loopback;
///
/// impl tether::Resolve for Loopback {
///     fn resolve(&self, _name: &str) -> tether::Resolving {
///         Box::pin(async { Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]) })
///     }
/// }
///
/// let client = tether::Client::builder()
///     .dns_resolver(Arc::new(Loopback))
///     .build()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub trait Resolve: Send + Sync + 'static {
    /// The addresses of `name` (a host name, never an IP literal).
    fn resolve(&self, name: &str) -> Resolving;
}

/// The system resolver (`getaddrinfo`), run on tokio's blocking threads.
pub(crate) struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, name: &str) -> Resolving {
        let name = name.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((name.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// Names kept at most.
pub(crate) const MAX_NAMES: usize = 16_384;
/// How long a failed lookup is remembered (at most `ttl`).
const FAILURE_TTL: Duration = Duration::from_secs(1);

/// How a lookup was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Looked {
    /// From the cache (or a lookup of the same name already in flight).
    Cached,
    /// The resolver was asked.
    Resolved,
}

/// A lookup's addresses, or its error's message.
type Answer = Result<Arc<[IpAddr]>, String>;

/// One name's answer and when it came, filled once.
#[derive(Default)]
struct Entry {
    answer: OnceCell<(Answer, Instant)>,
}

impl Entry {
    fn fresh(&self, now: Instant, ttl: Duration) -> bool {
        match self.answer.get() {
            // Still being looked up.
            None => true,
            Some((result, at)) => {
                let keep = if result.is_ok() {
                    ttl
                } else {
                    ttl.min(FAILURE_TTL)
                };
                now.saturating_duration_since(*at) < keep
            }
        }
    }
}

/// A resolver and the cache in front of it.
pub(crate) struct DnsCache {
    resolver: Arc<dyn Resolve>,
    ttl: Duration,
    names: Mutex<HashMap<String, Arc<Entry>>>,
}

impl DnsCache {
    pub fn new(resolver: Arc<dyn Resolve>, ttl: Duration) -> DnsCache {
        DnsCache {
            resolver,
            ttl,
            names: Mutex::new(HashMap::new()),
        }
    }

    /// The addresses of `name` (or why there are none), and whether the resolver was
    /// asked.
    pub async fn lookup(&self, name: &str) -> (Result<Arc<[IpAddr]>, Error>, Looked) {
        if self.ttl.is_zero() {
            let answer = self.ask(name).await;
            return (answer.map_err(|e| resolve_error(name, e)), Looked::Resolved);
        }
        let entry = self.entry(name);
        let mut asked = false;
        let (answer, _) = entry
            .answer
            .get_or_init(|| {
                asked = true;
                async { (self.ask(name).await, clock::now()) }
            })
            .await;
        let looked = if asked {
            Looked::Resolved
        } else {
            Looked::Cached
        };
        let answer = match answer {
            Ok(addrs) => Ok(addrs.clone()),
            Err(e) => Err(resolve_error(name, e.clone())),
        };
        (answer, looked)
    }

    /// The name's entry: the cached one while fresh, else a new, empty one.
    fn entry(&self, name: &str) -> Arc<Entry> {
        let now = clock::now();
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = names.get(name) {
            if entry.fresh(now, self.ttl) {
                return entry.clone();
            }
        }
        if names.len() >= MAX_NAMES && !names.contains_key(name) {
            names.retain(|_, e| e.fresh(now, self.ttl));
            if names.len() >= MAX_NAMES {
                if let Some(any) = names.keys().next().cloned() {
                    names.remove(&any);
                }
            }
        }
        let entry = Arc::new(Entry::default());
        names.insert(name.to_owned(), entry.clone());
        entry
    }

    async fn ask(&self, name: &str) -> Answer {
        match self.resolver.resolve(name).await {
            Ok(addrs) if addrs.is_empty() => Err("no addresses".to_owned()),
            Ok(addrs) => Ok(addrs.into()),
            Err(e) => Err(e.to_string()),
        }
    }
}

fn resolve_error(name: &str, message: String) -> Error {
    Error::new(ErrorKind::Connect, NotResolved(message)).context(format!("resolving {name}"))
}

/// Why a name did not resolve: the source of the error, by which `Error::is_dns` knows it.
#[derive(Debug)]
pub(crate) struct NotResolved(String);

impl std::fmt::Display for NotResolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotResolved {}
