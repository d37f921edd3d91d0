//! hickory-resolver behind the [`Resolve`] trait (feature `hickory-dns`): DNS asked by an
//! async resolver written in Rust, instead of the system's `getaddrinfo` on blocking
//! threads.
//!
//! [`HickoryResolver::from_system_conf`] reads `/etc/resolv.conf` (name servers, search
//! domains, options) and `/etc/hosts`, as `ClientBuilder::hickory_dns(true)` does; any
//! hickory `TokioResolver` built by the caller can be wrapped too (`From`). Both families
//! are asked for (A and AAAA), so Happy Eyeballs has both to interleave. The client's
//! cache (`dns.rs`) sits in front of it like any resolver.
//!
//! Not here: a resolver's life across runtimes. hickory runs its name server connections
//! on the runtime of the lookup that opened them; a client used from several runtimes in
//! turn is better served by the default resolver.

use std::sync::Arc;

use hickory_resolver::config::LookupIpStrategy;
use hickory_resolver::TokioResolver;

use super::dns::{Resolve, Resolving};
use crate::error::{Error, ErrorKind};

/// A [`Resolve`] that asks hickory-resolver (feature `hickory-dns`).
///
/// ```no_run
/// # fn main() -> tether::Result<()> {
/// let resolver = tether::HickoryResolver::from_system_conf()?;
/// let client = tether::Client::builder()
///     .dns_resolver(std::sync::Arc::new(resolver))
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct HickoryResolver {
    inner: Arc<TokioResolver>,
}

impl HickoryResolver {
    /// A resolver configured as the system is (`/etc/resolv.conf`, `/etc/hosts`), asking
    /// for IPv4 and IPv6 addresses.
    ///
    /// Errors (`ErrorKind::Connect`): the system's configuration cannot be read.
    pub fn from_system_conf() -> Result<HickoryResolver, Error> {
        let mut builder = TokioResolver::builder_tokio().map_err(|e| {
            Error::new(ErrorKind::Connect, e).context("reading the system's DNS configuration")
        })?;
        builder.options_mut().ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        Ok(HickoryResolver::from(builder.build()))
    }
}

impl From<TokioResolver> for HickoryResolver {
    /// Wraps a resolver built with hickory's own builder (other name servers, options).
    fn from(resolver: TokioResolver) -> HickoryResolver {
        HickoryResolver {
            inner: Arc::new(resolver),
        }
    }
}

impl Resolve for HickoryResolver {
    fn resolve(&self, name: &str) -> Resolving {
        let resolver = self.inner.clone();
        let name = name.to_owned();
        Box::pin(async move {
            let found = resolver.lookup_ip(name.as_str()).await?;
            Ok(found.iter().collect())
        })
    }
}

impl std::fmt::Debug for HickoryResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HickoryResolver").finish_non_exhaustive()
    }
}
