//! hickory-resolver behind `tether::Resolve` (feature `hickory-dns`; CI runs this file
//! with `--features hickory-dns`), against a real DNS server: dnsmasq on 127.0.0.1,
//! started by the test, answering `*.hickory.test` with a loopback address and nothing
//! else. The client's cache stays in front of it: many connections, one query.
#![cfg(feature = "hickory-dns")]

mod servers;
mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::TokioResolver;
use support::{Reply, Script, TestServer};

/// A hickory resolver asking only the DNS server on 127.0.0.1:`port`.
fn resolver_for(port: u16) -> tether::HickoryResolver {
    let mut config = ResolverConfig::new();
    let server: SocketAddr = ([127, 0, 0, 1], port).into();
    config.add_name_server(NameServerConfig::new(server, Protocol::Udp));
    let resolver =
        TokioResolver::builder_with_config(config, TokioConnectionProvider::default()).build();
    tether::HickoryResolver::from(resolver)
}

/// The queries dnsmasq logged for `name`.
fn queries(dns: &servers::ServerProcess, name: &str) -> usize {
    dns.log_lines()
        .iter()
        .filter(|l| l.contains("query[") && l.contains(name))
        .count()
}

#[tokio::test]
async fn names_resolve_through_hickory_once_per_ttl() {
    if !servers::installed("dnsmasq", "--version", "hickory") {
        return;
    }
    let dns = servers::start_dnsmasq("hickory", &[("hickory.test", "127.0.0.1")]);
    let server = TestServer::start(Script::new().always(Reply::ok("resolved"))).await;
    let client = tether::Client::builder()
        .dns_resolver(Arc::new(resolver_for(dns.port())))
        .max_requests_per_connection(1)
        .build()
        .expect("client");
    let url = format!("http://api.hickory.test:{}/", server.addr().port());
    for _ in 0..20 {
        let resp = client.get(&url).send().await.expect("GET");
        assert_eq!(resp.text().await.expect("body"), "resolved");
    }
    let stats = client.stats();
    assert_eq!(stats.connections_opened, 20, "{stats:?}");
    assert_eq!((stats.dns_lookups, stats.dns_cache_hits), (1, 19));
    // One A and one AAAA query at most: hickory asked the server, once.
    let asked = queries(&dns, "api.hickory.test");
    assert!(
        (1..=2).contains(&asked),
        "{asked} queries: {:#?}",
        dns.log_lines()
    );
    assert_eq!(
        server.requests()[0].header("host"),
        Some(format!("api.hickory.test:{}", server.addr().port()).as_str())
    );
}

#[tokio::test]
async fn a_name_the_server_does_not_know_is_a_connect_error() {
    if !servers::installed("dnsmasq", "--version", "hickory") {
        return;
    }
    let dns = servers::start_dnsmasq("hickory_missing", &[("hickory.test", "127.0.0.1")]);
    let client = tether::Client::builder()
        .dns_resolver(Arc::new(resolver_for(dns.port())))
        .build()
        .expect("client");
    let err = client
        .get("http://missing.elsewhere.test/")
        .send()
        .await
        .expect_err("no such name");
    assert_eq!(err.kind(), tether::ErrorKind::Connect, "{err}");
    assert!(
        err.to_string().contains("resolving missing.elsewhere.test"),
        "{err}"
    );
    assert!(queries(&dns, "missing.elsewhere.test") >= 1);
}

#[tokio::test]
async fn hickory_dns_reads_the_system_configuration() {
    // /etc/hosts names localhost on every system this runs on.
    let server = TestServer::start(Script::new().always(Reply::ok("local"))).await;
    let client = tether::Client::builder()
        .hickory_dns(true)
        .build()
        .expect("the system's configuration");
    let resp = client
        .get(format!("http://localhost:{}/", server.addr().port()))
        .send()
        .await
        .expect("GET localhost");
    assert_eq!(resp.text().await.expect("body"), "local");
    assert_eq!(client.stats().dns_lookups, 1);
}
