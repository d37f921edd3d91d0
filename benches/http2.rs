//! HTTP/2 against HTTP/1.1 over TLS: 1 KiB GETs, 64 at a time, in requests per client
//! CPU-second. tether with HTTP/2 (one connection), tether with HTTP/1.1 (`http1_only`) on
//! 6 and on 64 connections, and reqwest with HTTP/2 (its `http2` feature, on the same
//! rustls configuration with ring).
//!
//! The server is a child process (this executable again): rustls with a certificate made
//! here by rcgen, ALPN `h2` and `http/1.1`; the `h2` crate's server for HTTP/2, a small
//! keep-alive loop for HTTP/1.1. So this process's CPU time is the client's. Clients are
//! interleaved round-robin within each repetition, rotating who goes first; medians shown.
//! `cargo bench --bench http2` (about a minute); quick mode: `TETHER_BENCH_QUICK=1`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use rustls::pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHILD_ENV: &str = "TETHER_BENCH_H2_SERVER";
const BODY: usize = 1024;
const CONCURRENCY: usize = 64;

fn main() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        server_main(&dir);
        return;
    }
    let quick = common::quick();
    let reps = if quick { 3 } else { 7 };
    let requests = if quick { 4_000 } else { 20_000 };
    println!(
        "tether HTTP/2 benchmark{}",
        if quick { " (quick)" } else { "" }
    );
    println!("machine: {}", common::machine());
    println!(
        "GET {BODY} B over TLS, {CONCURRENCY} concurrent, {requests} requests per run, \
         {reps} repetitions interleaved; medians\n"
    );

    let dir = std::env::temp_dir().join(format!("tether-bench-h2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (ca_pem, cert_pem, key_pem) = certificates();
    std::fs::write(dir.join("cert.pem"), &cert_pem).expect("cert");
    std::fs::write(dir.join("key.pem"), &key_pem).expect("key");
    let mut server = Server::start(&dir);
    let url = format!("https://localhost:{}/", server.port);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let clients: Vec<(&str, Client)> = vec![
        ("tether HTTP/2", Client::tether(&ca_pem, false, 6)),
        ("tether HTTP/1.1, 6", Client::tether(&ca_pem, true, 6)),
        ("tether HTTP/1.1, 64", Client::tether(&ca_pem, true, 64)),
        ("reqwest HTTP/2", Client::reqwest(&ca_pem)),
    ];
    let clients: Vec<(&str, Arc<Client>)> =
        clients.into_iter().map(|(n, c)| (n, Arc::new(c))).collect();
    // Warm-up: each client opens its connections (counted, with any it opens later).
    server.accepted();
    let mut conns = vec![0usize; clients.len()];
    for (i, (_, client)) in clients.iter().enumerate() {
        rt.block_on(run(client, &url, requests / 10));
        conns[i] = server.accepted();
    }
    let mut samples: Vec<Vec<(f64, f64)>> = clients.iter().map(|_| Vec::new()).collect();
    for rep in 0..reps {
        for k in 0..clients.len() {
            let i = (rep + k) % clients.len();
            let (wall, cpu) = rt.block_on(run(&clients[i].1, &url, requests));
            samples[i].push((requests as f64 / wall, requests as f64 / cpu));
            conns[i] += server.accepted();
        }
    }
    let rows: Vec<(&str, f64, f64, usize)> = clients
        .iter()
        .zip(&samples)
        .zip(&conns)
        .map(|(((name, _), s), &c)| {
            let rps: Vec<f64> = s.iter().map(|x| x.0).collect();
            let cpu: Vec<f64> = s.iter().map(|x| x.1).collect();
            (*name, common::median(&rps), common::median(&cpu), c)
        })
        .collect();
    let base = rows[0].2;
    println!("| client              | requests/s | requests per client CPU-s | vs tether HTTP/2 | connections |");
    println!("|---------------------|-----------:|--------------------------:|-----------------:|------------:|");
    for (name, rps, cpu, c) in &rows {
        println!(
            "| {name:<19} | {rps:>10.0} | {cpu:>25.0} | {:>15.2}x | {c:>11} |",
            cpu / base
        );
    }
    println!();
    let reqwest = rows[3].2;
    println!(
        "summary: tether HTTP/2 is {:.2}x tether HTTP/1.1 on 6, {:.2}x on 64, and {:.2}x reqwest HTTP/2, in requests per client CPU-second",
        base / rows[1].2,
        base / rows[2].2,
        base / reqwest
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A CA and a server certificate for `localhost` it issued: (CA PEM, cert PEM, key PEM).
fn certificates() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("key");
    let params = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    let cert = params.signed_by(&key, &issuer).expect("cert");
    (ca.pem(), cert.pem(), key.serialize_pem())
}

enum Client {
    /// With the HTTP version its responses must have.
    Tether(tether::Client, http::Version),
    Reqwest(reqwest::Client),
}

impl Client {
    fn tether(ca_pem: &str, http1: bool, per_host: usize) -> Client {
        let ca = tether::Certificate::from_pem(ca_pem.as_bytes()).expect("CA");
        let mut builder = tether::Client::builder()
            .add_root_certificate(ca)
            .max_connections_per_host(per_host);
        let mut version = http::Version::HTTP_2;
        if http1 {
            builder = builder.http1_only();
            version = http::Version::HTTP_11;
        }
        Client::Tether(builder.build().expect("tether client"), version)
    }

    fn reqwest(ca_pem: &str) -> Client {
        // ring, as tether (deprecated from rustls 0.23.48, which prefers aws-lc-rs).
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        let ca = rustls::pki_types::CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("CA");
        roots.add(ca).expect("root");
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .build()
            .expect("reqwest client");
        Client::Reqwest(client)
    }

    async fn get(&self, url: &str) -> usize {
        match self {
            Client::Tether(c, version) => {
                let resp = c.get(url).send().await.expect("tether GET");
                assert!(resp.status().is_success());
                assert_eq!(resp.version(), *version);
                resp.bytes().await.expect("tether body").len()
            }
            Client::Reqwest(c) => {
                let resp = c.get(url).send().await.expect("reqwest GET");
                assert_eq!(resp.version(), http::Version::HTTP_2);
                resp.bytes().await.expect("reqwest body").len()
            }
        }
    }
}

/// `total` GETs by `CONCURRENCY` workers: (seconds, client CPU seconds).
async fn run(client: &Arc<Client>, url: &str, total: usize) -> (f64, f64) {
    let next = Arc::new(AtomicUsize::new(0));
    let cpu0 = common::process_cpu_ns();
    let t0 = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (client, url, next) = (client.clone(), url.to_string(), next.clone());
        tasks.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < total {
                assert_eq!(client.get(&url).await, BODY);
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a worker panicked");
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = (common::process_cpu_ns() - cpu0).max(1) as f64 / 1e9;
    (wall, cpu)
}

/// The server child, seen from the parent.
struct Server {
    child: Child,
    port: u16,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Server {
    fn start(dir: &std::path::Path) -> Server {
        let exe = std::env::current_exe().expect("exe");
        let mut child = Command::new(exe)
            .env(CHILD_ENV, dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("server child");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines.next().expect("LISTEN").expect("read");
        let port = first
            .strip_prefix("LISTEN ")
            .and_then(|p| p.parse().ok())
            .expect("LISTEN <port>");
        Server { child, port, lines }
    }

    /// Connections accepted since the last call.
    fn accepted(&mut self) -> usize {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        writeln!(stdin, "stats").expect("ask");
        let line = self.lines.next().expect("STATS").expect("read");
        line.strip_prefix("STATS ")
            .and_then(|n| n.parse().ok())
            .expect("STATS <n>")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn server_main(dir: &str) {
    let dir = std::path::Path::new(dir);
    let cert = std::fs::read(dir.join("cert.pem")).expect("cert");
    let key = std::fs::read(dir.join("key.pem")).expect("key");
    let certs = vec![rustls::pki_types::CertificateDer::from_pem_slice(&cert).expect("cert")];
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(&key).expect("key");
    #[allow(deprecated)]
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("server runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        println!("LISTEN {port}");
        let _ = std::io::stdout().flush();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = accepted.clone();
        // Stats on request; the end of stdin ends the server.
        std::thread::spawn(move || {
            for line in std::io::stdin().lines() {
                let Ok(line) = line else { break };
                if line.trim() == "stats" {
                    println!("STATS {}", counted.swap(0, Ordering::Relaxed));
                    let _ = std::io::stdout().flush();
                }
            }
            std::process::exit(0);
        });
        let body = Bytes::from(vec![b'x'; BODY]);
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            accepted.fetch_add(1, Ordering::Relaxed);
            let (acceptor, body) = (acceptor.clone(), body.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                    serve_h2(tls, body).await;
                } else {
                    serve_http1(tls, body).await;
                }
            });
        }
    });
}

async fn serve_h2(tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>, body: Bytes) {
    let mut builder = h2::server::Builder::new();
    builder.max_concurrent_streams(256);
    let Ok(mut conn) = builder.handshake::<_, Bytes>(tls).await else {
        return;
    };
    while let Some(Ok((_, mut respond))) = conn.accept().await {
        let response = http::Response::builder()
            .status(200)
            .header("content-length", BODY)
            .body(())
            .expect("response");
        if let Ok(mut send) = respond.send_response(response, false) {
            let _ = send.send_data(body.clone(), true);
        }
    }
}

async fn serve_http1(mut tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>, body: Bytes) {
    let mut head = format!("HTTP/1.1 200 OK\r\ncontent-length: {BODY}\r\n\r\n").into_bytes();
    head.extend_from_slice(&body);
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 8192];
    loop {
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            if tls.write_all(&head).await.is_err() {
                return;
            }
        }
        match tls.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}
