//! HTTPS through the pool: trust (added roots, replaced roots, mutual TLS), certificate
//! failures (untrusted, expired, name mismatch) that are neither retried nor pooled, SNI and
//! ALPN, TLS 1.2 and 1.3, one handshake for many requests, session resumption across the
//! client's connections, the idle probe under TLS (post-handshake messages, close_notify,
//! FIN), keys that keep http and https apart, and the handshake deadline.
//!
//! Every test runs against a local rustls server (tests/support/tls.rs) with certificates
//! made in the test by rcgen.

mod support;

use std::error::Error as _;
use std::time::Duration;

use support::tls::{IdleAction, SilentServer, TestCa, TlsServer, Versions, BIG_BODY};
use support::{Reply, Script, TestServer};
use tether::{Certificate, Client, ErrorKind, Identity, PemError, Stats};

/// The names the test servers' certificates are valid for.
const NAMES: &[&str] = &["localhost", "127.0.0.1"];

fn client_trusting(ca: &TestCa) -> Client {
    Client::builder()
        .add_root_certificate(ca.certificate())
        .build()
        .unwrap()
}

/// GETs `url` and checks the test server's usual answer.
async fn get_hello(client: &Client, url: impl tether::IntoUrl) {
    let resp = client.get(url).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "hello");
}

fn retries(s: &Stats) -> u64 {
    s.retries_close_race + s.retries_408 + s.retries_nothing_written
}

fn pem_error(err: &tether::Error) -> Option<PemError> {
    err.source()?.downcast_ref::<PemError>().copied()
}

// --- 1. trust ---------------------------------------------------------------------------

#[tokio::test]
async fn get_and_post_succeed_with_the_test_ca_added_as_a_root() {
    let ca = TestCa::new("test CA");
    let server = TlsServer::builder(ca.server_cert(NAMES)).start().await;
    let client = client_trusting(&ca);

    let resp = client
        .get(server.url("localhost", "/a"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "hello");

    let resp = client
        .post(server.url("localhost", "/b"))
        .body("posted body")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "posted body");

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].target.as_str()),
        ("GET", "/a")
    );
    assert_eq!(
        (reqs[1].method.as_str(), reqs[1].target.as_str()),
        ("POST", "/b")
    );
    assert_eq!(reqs[1].body, b"posted body");
    assert!(reqs.iter().all(|r| r.tls));
    assert_eq!(client.stats().connections_opened, 1);
}

#[tokio::test]
async fn a_root_given_as_der_is_trusted() {
    let ca = TestCa::new("test CA");
    let server = TlsServer::builder(ca.server_cert(NAMES)).start().await;
    let root = Certificate::from_der(ca.cert_der().to_vec()).unwrap();
    assert_eq!(root.as_der(), &ca.cert_der()[..]);
    let client = Client::builder()
        .add_root_certificate(root)
        .build()
        .unwrap();
    get_hello(&client, server.url("127.0.0.1", "/")).await;
}

#[tokio::test]
async fn the_default_trust_store_does_not_trust_a_private_ca() {
    let ca = TestCa::new("test CA");
    let server = TlsServer::builder(ca.server_cert(NAMES)).start().await;
    let err = Client::new()
        .get(server.url("localhost", "/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.to_string().contains("untrusted"), "{err}");
}

#[tokio::test]
async fn tls_roots_only_replaces_the_roots() {
    let ca = TestCa::new("test CA");
    let other = TestCa::new("other CA");
    let server = TlsServer::builder(ca.server_cert(NAMES)).start().await;

    let only_ours = Client::builder()
        .tls_roots_only([ca.certificate()])
        .build()
        .unwrap();
    get_hello(&only_ours, server.url("localhost", "/")).await;

    // A root added first is dropped by `tls_roots_only`.
    let replaced = Client::builder()
        .add_root_certificate(ca.certificate())
        .tls_roots_only([other.certificate()])
        .build()
        .unwrap();
    let err = replaced
        .get(server.url("localhost", "/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.to_string().contains("untrusted"), "{err}");

    let err = Client::builder()
        .tls_roots_only(Vec::new())
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
}

#[tokio::test]
async fn bad_pem_and_der_give_typed_errors() {
    let ca = TestCa::new("test CA");
    let client_cert = ca.client_cert("client");

    let err = Certificate::from_pem(b"not a certificate at all").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls);
    assert_eq!(pem_error(&err), Some(PemError::NoCertificate));

    let pem = ca.cert_pem();
    let truncated = &pem.as_bytes()[..pem.len() / 2];
    let err = Certificate::from_pem(truncated).unwrap_err();
    assert_eq!(pem_error(&err), Some(PemError::Malformed), "{err}");

    let err = Certificate::from_der(b"not der".to_vec()).unwrap_err();
    assert_eq!(pem_error(&err), Some(PemError::InvalidCertificate), "{err}");

    // A key where the certificate should be, and no key where the key should be.
    let err = Certificate::from_pem(client_cert.key_pem.as_bytes()).unwrap_err();
    assert_eq!(pem_error(&err), Some(PemError::NoCertificate));
    let err = Identity::from_pem(client_cert.cert_pem.as_bytes(), b"").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls);
    assert_eq!(pem_error(&err), Some(PemError::NoPrivateKey));

    // A valid key that does not belong to the certificate: refused when the client is built.
    let stranger = ca.client_cert("someone else");
    let id =
        Identity::from_pem(client_cert.cert_pem.as_bytes(), stranger.key_pem.as_bytes()).unwrap();
    let err = Client::builder().identity(id).build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");

    // A bundle keeps every certificate.
    let bundle = format!("{}{}", ca.cert_pem(), client_cert.cert_pem);
    assert_eq!(
        Certificate::from_pem_bundle(bundle.as_bytes())
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn mutual_tls_presents_the_client_certificate() {
    let ca = TestCa::new("test CA");
    let server = TlsServer::builder(ca.server_cert(NAMES))
        .require_client_cert(ca.cert_der())
        .start()
        .await;
    let id = ca.client_cert("client");
    let client = Client::builder()
        .add_root_certificate(ca.certificate())
        .identity(Identity::from_pem(id.cert_pem.as_bytes(), id.key_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    for _ in 0..2 {
        get_hello(&client, server.url("localhost", "/")).await;
    }
    let stats = server.stats();
    assert_eq!(stats.sessions.len(), 1);
    assert!(stats.sessions[0].client_cert);
    assert_eq!(stats.requests_per_conn, vec![2]);
}

#[tokio::test]
async fn mutual_tls_without_a_client_certificate_is_refused() {
    let ca = TestCa::new("test CA");
    let server = TlsServer::builder(ca.server_cert(NAMES))
        .require_client_cert(ca.cert_der())
        .start()
        .await;
    let client = client_trusting(&ca);
    let err = client
        .get(server.url("localhost", "/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err:?}");
    assert!(err.to_string().contains("client certificate"), "{err}");
    server.wait_until(|s| s.failed_handshakes == 1).await;
    assert_eq!(retries(&client.stats()), 0);
    assert_eq!(server.stats().accepted, 1, "not retried");
}

// --- 2. certificate failures ----------------------------------------------------------------

/// Requests `url` once, expects a TLS error, and checks nothing was retried or pooled.
async fn expect_tls_failure(client: &Client, server: &TlsServer, url: String, says: &str) {
    let err = client.get(url).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err:?}");
    assert!(
        err.to_string().contains(says),
        "message should say {says:?}: {err}"
    );
    assert!(!err.request_written());
    let stats = client.stats();
    assert_eq!(retries(&stats), 0, "{stats:?}");
    assert_eq!(stats.open, 0, "{stats:?}");
    assert_eq!(stats.connections_opened, 0, "{stats:?}");
    assert_eq!(stats.connect_errors, 1, "{stats:?}");
    server.wait_until(|s| s.failed_handshakes == 1).await;
    let seen = server.stats();
    assert_eq!(seen.accepted, 1, "one attempt only: {seen:?}");
    assert_eq!(seen.requests, 0);
}

#[tokio::test]
async fn untrusted_certificate_fails_with_a_tls_error_and_is_not_retried() {
    let ca = TestCa::new("test CA");
    let stranger = TestCa::new("unknown CA");
    let server = TlsServer::builder(stranger.server_cert(NAMES))
        .start()
        .await;
    let client = client_trusting(&ca);
    expect_tls_failure(&client, &server, server.url("localhost", "/"), "untrusted").await;
}

#[tokio::test]
async fn expired_certificate_fails_with_a_tls_error_and_is_not_retried() {
    let ca = TestCa::new("test CA");
    let server = TlsServer::builder(ca.expired_server_cert(NAMES))
        .start()
        .await;
    let client = client_trusting(&ca);
    expect_tls_failure(&client, &server, server.url("localhost", "/"), "expired").await;
}

/// `add_crl`: a server whose certificate the CA's CRL lists is refused ("revoked"), not
/// retried, also with `danger_accept_invalid_hostnames`; one of the same CA the CRL does
/// not list is served; a server of another CA, which has no CRL given, is not refused for
/// that. A CRL in PEM that is not one is a `PemError`.
#[tokio::test]
async fn a_certificate_a_crl_lists_is_refused_as_revoked() {
    let ca = TestCa::new("test CA");
    let other = TestCa::new("other CA");
    let revoked = TlsServer::builder(ca.server_cert_numbered(NAMES, 7))
        .start()
        .await;
    let kept = TlsServer::builder(ca.server_cert_numbered(NAMES, 8))
        .start()
        .await;
    let elsewhere = TlsServer::builder(other.server_cert(NAMES)).start().await;
    let crl =
        tether::tls::CertificateRevocationList::from_pem(ca.crl_pem(&[7, 9]).as_bytes()).unwrap();
    let with_crl = || {
        Client::builder()
            .add_root_certificate(ca.certificate())
            .add_root_certificate(other.certificate())
            .add_crl(crl.clone())
    };
    let client = with_crl().build().unwrap();
    expect_tls_failure(&client, &revoked, revoked.url("localhost", "/"), "revoked").await;
    // Without it, the same server is served.
    let plain = Client::builder()
        .add_root_certificate(ca.certificate())
        .build()
        .unwrap();
    get_hello(&plain, revoked.url("localhost", "/")).await;
    get_hello(&client, kept.url("localhost", "/")).await;
    get_hello(&client, elsewhere.url("localhost", "/")).await;

    let lenient = with_crl()
        .danger_accept_invalid_hostnames(true)
        .build()
        .unwrap();
    let err = lenient
        .get(revoked.url("localhost", "/"))
        .send()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("revoked"), "{err}");
    let lenient = Client::builder()
        .add_root_certificate(ca.certificate())
        .add_crls(
            tether::tls::CertificateRevocationList::from_pem_bundle(ca.crl_pem(&[8]).as_bytes())
                .unwrap(),
        )
        .danger_accept_invalid_hostnames(true)
        .build()
        .unwrap();
    let err = lenient
        .get(kept.url("localhost", "/"))
        .send()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("revoked"), "{err}");
    get_hello(&lenient, revoked.url("localhost", "/")).await;

    for (pem, want) in [
        (ca.cert_pem(), PemError::NoCrl),
        (
            "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n".to_string(),
            PemError::InvalidCrl,
        ),
    ] {
        let err = tether::tls::CertificateRevocationList::from_pem(pem.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
        assert_eq!(pem_error(&err), Some(want), "{err}");
    }
}

#[tokio::test]
async fn host_name_mismatch_fails_with_a_tls_error_and_is_not_retried() {
    let ca = TestCa::new("test CA");
    let server = TlsServer::builder(ca.server_cert(&["example.com"]))
        .start()
        .await;
    let client = client_trusting(&ca);
    expect_tls_failure(
        &client,
        &server,
        server.url("localhost", "/"),
        "mismatch: the certificate is not valid for localhost",
    )
    .await;
}

// --- 3. SNI, ALPN, versions --------------------------------------------------------------

#[tokio::test]
async fn sni_carries_the_host_name_but_not_an_ip_literal_and_alpn_offers_h2_and_http11() {
    let ca = TestCa::new("test CA");
    let server = TlsServer::builder(ca.server_cert(NAMES)).start().await;
    let client = client_trusting(&ca);
    for host in ["localhost", "127.0.0.1"] {
        get_hello(&client, server.url(host, "/")).await;
    }
    let stats = server.stats();
    assert_eq!(stats.hellos.len(), 2, "{stats:?}");
    assert_eq!(stats.hellos[0].sni.as_deref(), Some("localhost"));
    assert_eq!(stats.hellos[1].sni, None, "no SNI for an IP literal");
    for hello in &stats.hellos {
        assert_eq!(hello.alpn, vec!["h2".to_string(), "http/1.1".to_string()]);
    }
    // The server speaks HTTP/1.1 only, and picks it.
    for session in &stats.sessions {
        assert_eq!(session.alpn.as_deref(), Some("http/1.1"));
    }
    // `http1_only` offers HTTP/1.1 alone.
    let http1 = Client::builder()
        .add_root_certificate(ca.certificate())
        .http1_only()
        .build()
        .unwrap();
    get_hello(&http1, server.url("localhost", "/")).await;
    let hellos = server.stats().hellos;
    assert_eq!(hellos.len(), 3);
    assert_eq!(hellos[2].alpn, vec!["http/1.1".to_string()]);
}

#[tokio::test]
async fn tls12_and_tls13_both_work() {
    let ca = TestCa::new("test CA");
    for (versions, expected) in [
        (Versions::Tls12Only, "TLSv1_2"),
        (Versions::Tls13Only, "TLSv1_3"),
    ] {
        let server = TlsServer::builder(ca.server_cert(NAMES))
            .versions(versions)
            .start()
            .await;
        let client = client_trusting(&ca);
        for _ in 0..2 {
            let resp = client
                .post(server.url("localhost", "/"))
                .body("x")
                .send()
                .await
                .unwrap();
            assert_eq!(resp.text().await.unwrap(), "x");
        }
        let stats = server.stats();
        assert_eq!(stats.sessions.len(), 1, "{stats:?}");
        assert_eq!(stats.sessions[0].version, expected);
        assert_eq!(stats.requests_per_conn, vec![2]);
    }
}

// --- 4. handshakes and resumption ----------------------------------------------------------

#[tokio::test]
async fn hundred_sequential_gets_make_one_handshake() {
    let ca = TestCa::new("test CA");
    let server = TlsServer::builder(ca.server_cert(NAMES)).start().await;
    let client = client_trusting(&ca);
    for _ in 0..100 {
        get_hello(&client, server.url("localhost", "/")).await;
    }
    let stats = server.stats();
    assert_eq!(stats.hellos.len(), 1);
    assert_eq!(stats.sessions.len(), 1);
    assert_eq!(stats.requests_per_conn, vec![100]);
    let c = client.stats();
    assert_eq!((c.connections_opened, c.reuses), (1, 99));
}

/// Opens two connections at once from `client` (and a clone of it): the second resumes.
async fn second_connection_resumes(versions: Versions) {
    let ca = TestCa::new("test CA");
    let server = TlsServer::builder(ca.server_cert(NAMES))
        .versions(versions)
        .start()
        .await;
    let client = client_trusting(&ca);
    let url = server.url("localhost", "/");
    let first = client
        .get(server.url("localhost", "/big"))
        .send()
        .await
        .unwrap();
    // `first` holds its connection (its body is unread), so the clone's request needs a
    // second one.
    let second = client.clone().get(&url).send().await.unwrap();
    assert_eq!(second.text().await.unwrap(), "hello");
    assert_eq!(first.bytes().await.unwrap().len(), BIG_BODY);
    let stats = server.stats();
    assert_eq!(stats.sessions.len(), 2, "{stats:?}");
    assert!(!stats.sessions[0].resumed);
    assert!(stats.sessions[1].resumed, "{stats:?}");
    assert_eq!(client.stats().connections_opened, 2);

    // Another client has its own session cache: a full handshake.
    let other = client_trusting(&ca);
    get_hello(&other, &url).await;
    let stats = server.stats();
    assert_eq!(stats.sessions.len(), 3);
    assert!(!stats.sessions[2].resumed, "{stats:?}");
}

#[tokio::test]
async fn a_second_connection_resumes_the_tls13_session() {
    second_connection_resumes(Versions::Tls13Only).await;
}

#[tokio::test]
async fn a_second_connection_resumes_the_tls12_session() {
    second_connection_resumes(Versions::Tls12Only).await;
}

// --- 5. the idle probe under TLS --------------------------------------------------------------

#[tokio::test]
async fn session_tickets_after_the_handshake_do_not_spoil_reuse() {
    let ca = TestCa::new("test CA");
    // TLS 1.3: the server sends its session tickets right after the handshake.
    let server = TlsServer::builder(ca.server_cert(NAMES))
        .versions(Versions::Tls13Only)
        .start()
        .await;
    let client = client_trusting(&ca);
    for _ in 0..3 {
        get_hello(&client, server.url("localhost", "/")).await;
    }
    let c = client.stats();
    assert_eq!(c.connections_opened, 1, "{c:?}");
    assert_eq!((c.idle_closed_by_server, c.unsolicited_responses), (0, 0));
    assert_eq!(server.stats().requests_per_conn, vec![3]);
}

#[tokio::test]
async fn a_post_handshake_message_on_an_idle_connection_does_not_spoil_reuse() {
    let ca = TestCa::new("test CA");
    let server = TlsServer::builder(ca.server_cert(NAMES))
        .versions(Versions::Tls13Only)
        .when_idle(Duration::from_millis(20), IdleAction::KeyUpdate)
        .start()
        .await;
    let client = client_trusting(&ca);
    let url = server.url("localhost", "/");
    get_hello(&client, &url).await;
    // The KeyUpdate reaches the idle connection before the next checkout probes it.
    server.wait_until(|s| s.idle_actions == 1).await;
    get_hello(&client, &url).await;
    let c = client.stats();
    assert_eq!(c.connections_opened, 1, "{c:?}");
    assert_eq!((c.idle_closed_by_server, c.unsolicited_responses), (0, 0));
    assert_eq!(server.stats().requests_per_conn, vec![2]);
}

/// The server ends an idle connection with `action`; the next request takes a fresh one.
async fn idle_close_takes_a_fresh_connection(action: IdleAction) {
    let ca = TestCa::new("test CA");
    let server = TlsServer::builder(ca.server_cert(NAMES))
        .when_idle(Duration::from_millis(20), action)
        .start()
        .await;
    let client = client_trusting(&ca);
    let url = server.url("localhost", "/");
    get_hello(&client, &url).await;
    server.wait_until(|s| s.idle_actions == 1).await;
    get_hello(&client, &url).await;
    let c = client.stats();
    assert_eq!(c.connections_opened, 2, "{c:?}");
    assert_eq!(c.idle_closed_by_server, 1, "{c:?}");
    assert_eq!(retries(&c), 0, "{c:?}");
    assert_eq!(c.reuses, 0);
    // The client closed the dead connection (no CLOSE_WAIT left behind).
    server.wait_until(|s| s.closed_by_client >= 1).await;
    assert_eq!(server.stats().requests_per_conn, vec![1, 1]);
}

#[tokio::test]
async fn close_notify_on_an_idle_connection_takes_a_fresh_one() {
    idle_close_takes_a_fresh_connection(IdleAction::CloseNotify).await;
}

#[tokio::test]
async fn fin_on_an_idle_tls_connection_takes_a_fresh_one() {
    idle_close_takes_a_fresh_connection(IdleAction::Fin).await;
}

/// A `close_notify` sent in one write with the response is read into rustls with it, and
/// no readiness shows it afterwards: the next request still takes a fresh connection, and
/// nothing is retried.
#[tokio::test]
async fn a_close_notify_read_with_the_response_takes_a_fresh_connection() {
    let ca = TestCa::new("test CA");
    let server = TlsServer::builder(ca.server_cert(NAMES)).start().await;
    let client = client_trusting(&ca);
    get_hello(&client, server.url("localhost", "/then-close-notify")).await;
    get_hello(&client, server.url("localhost", "/")).await;
    let c = client.stats();
    assert_eq!(c.connections_opened, 2, "{c:?}");
    assert_eq!(c.idle_closed_by_server, 1, "{c:?}");
    assert_eq!(retries(&c), 0, "{c:?}");
    assert_eq!(server.stats().requests_per_conn, vec![1, 1]);
}

// --- 6. keys --------------------------------------------------------------------------------

#[tokio::test]
async fn https_and_http_to_the_same_host_and_port_never_share_a_connection() {
    let ca = TestCa::new("test CA");
    let server = TlsServer::builder(ca.server_cert(NAMES))
        .accept_plain()
        .start()
        .await;
    let client = client_trusting(&ca);
    let https = server.url("127.0.0.1", "/");
    let http = format!("http://127.0.0.1:{}/", server.port());
    for _ in 0..3 {
        for url in [&https, &http] {
            get_hello(&client, url).await;
        }
    }
    let stats = server.stats();
    assert_eq!(stats.accepted, 2, "{stats:?}");
    assert_eq!((stats.sessions.len(), stats.plain_conns), (1, 1));
    assert_eq!(stats.requests_per_conn, vec![3, 3]);
    // Every request on a connection arrived the way that connection began.
    let reqs = server.requests();
    for conn in 0..2 {
        let tls: Vec<bool> = reqs
            .iter()
            .filter(|r| r.conn == conn)
            .map(|r| r.tls)
            .collect();
        assert!(tls.windows(2).all(|w| w[0] == w[1]), "{reqs:?}");
    }
    let c = client.stats();
    assert_eq!(c.connections_opened, 2);
    assert_eq!(c.hosts.len(), 2, "{c:?}");
}

#[tokio::test]
async fn clients_with_different_roots_never_share_a_connection() {
    let ca = TestCa::new("test CA");
    let server = TlsServer::builder(ca.server_cert(NAMES)).start().await;
    let url = server.url("localhost", "/");
    let trusting = client_trusting(&ca);
    let other_ca = TestCa::new("other CA");
    let not_trusting = client_trusting(&other_ca);

    get_hello(&trusting, &url).await;
    assert_eq!(trusting.stats().idle, 1);

    // An idle, verified connection to the same key exists; the other client cannot use it.
    let err = not_trusting.get(&url).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    let s = not_trusting.stats();
    assert_eq!((s.open, s.connections_opened, s.reuses), (0, 0, 0));

    get_hello(&trusting, &url).await;
    let t = trusting.stats();
    assert_eq!((t.connections_opened, t.reuses), (1, 1));
    assert_eq!(server.stats().requests, 2);
}

// --- deadline -------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_tls_handshake_that_never_completes_times_out_at_the_connect_timeout() {
    let server = SilentServer::start().await;
    let client = Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let err = client.get(server.url()).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(err.is_timeout());
    assert!(err.to_string().contains("TLS handshake"), "{err}");
    assert_eq!(server.accepted(), 1, "the TCP connection was made");
    let c = client.stats();
    assert_eq!((c.open, retries(&c)), (0, 0));
}

/// The learned idle timeouts watch TLS connections too: a server that sends
/// `close_notify` after 300 ms idle is learned as 300 ms when the next request comes
/// 1.5 s later, not at that request.
#[tokio::test]
async fn a_close_on_an_idle_tls_connection_is_timed_when_it_arrives() {
    let idle = Duration::from_millis(300);
    let ca = TestCa::new("test CA");
    let server = TlsServer::builder(ca.server_cert(NAMES))
        .when_idle(idle, IdleAction::CloseNotify)
        .start()
        .await;
    let client = client_trusting(&ca);
    let url = server.url("localhost", "/");
    get_hello(&client, &url).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    get_hello(&client, &url).await;
    let c = client.stats();
    let learned = c.hosts.iter().find_map(|h| h.learned_idle_timeout);
    // Timed at the next request, it would read 1.5 s. The margins allow for a loaded
    // machine: the server's timer or the client's wake may run late, and the client's
    // idle time starts a little after the server's.
    assert!(
        learned.is_some_and(
            |l| l >= idle - Duration::from_millis(50) && l < idle + Duration::from_millis(500)
        ),
        "learned {learned:?} for a server closing after {idle:?}"
    );
    assert_eq!(c.connections_opened, 2, "{c:?}");
}

#[tokio::test]
async fn an_early_answer_over_tls_reaches_the_caller() {
    // As over plain TCP (tests/early_response.rs): the server answers 413 on the head and
    // ends the connection with the upload unread. The answer comes through TLS records
    // that arrived before the write failed, and is what the caller gets.
    let ca = TestCa::new("early answer");
    let server = TlsServer::builder(ca.server_cert(NAMES)).start().await;
    let client = client_trusting(&ca);
    let resp = client
        .post(server.url("localhost", "reject"))
        .body(vec![b'x'; 64 * 1024 * 1024])
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.text().await.unwrap(), "too big!");
    let stats = client.stats();
    assert_eq!((stats.open, stats.idle), (0, 0), "{stats:?}");
    assert_eq!(stats.retries_close_race + stats.retries_nothing_written, 0);
}

/// `https_only`: an `http://` URL is refused with nothing sent; an `https://` one goes, and
/// so does its redirect to another `https://` URL; a redirect from it to `http://` is a
/// `Redirect` error naming where it led, and the plain server is never asked. Without
/// `https_only` the same redirect is followed. (The HTTPS server is a TLS front relaying
/// to a scripted plain one.)
#[tokio::test]
async fn https_only_refuses_plain_urls_and_redirects_to_them() {
    let plain = TestServer::start(Script::new()).await;
    let to_plain = plain.url("/landing");
    let redirect_to = to_plain.clone();
    let behind = TestServer::start(Script::new().respond(move |req| match req.target.as_str() {
        "/down" => Reply::status(302).with_header("Location", &redirect_to),
        "/up" => Reply::status(302).with_header("Location", "/secure"),
        _ => Reply::ok("secure"),
    }))
    .await;
    let ca = TestCa::new("https_only CA");
    let front = TlsServer::builder(ca.server_cert(&["localhost"]))
        .forward_to(behind.addr())
        .start()
        .await;
    let client = Client::builder()
        .add_root_certificate(ca.certificate())
        .https_only(true)
        .build()
        .unwrap();

    let direct = plain.url("/direct");
    let err = client.get(&direct).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
    assert_eq!(err.url().map(|u| u.as_str()), Some(direct.as_str()));
    assert!(!err.request_written());

    let resp = client
        .get(front.url("localhost", "/up"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.url().as_str(), front.url("localhost", "/secure"));
    assert_eq!(resp.text().await.unwrap(), "secure");

    let err = client
        .get(front.url("localhost", "/down"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Redirect, "{err}");
    assert_eq!(err.url().map(|u| u.as_str()), Some(to_plain.as_str()));
    assert!(
        plain.requests().is_empty(),
        "nothing reached the plain server"
    );

    let lax = Client::builder()
        .add_root_certificate(ca.certificate())
        .build()
        .unwrap();
    let resp = lax
        .get(front.url("localhost", "/down"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.url().as_str(), to_plain);
    assert_eq!(plain.requests().len(), 1);
}

/// `danger_accept_invalid_certs` takes an unknown authority's certificate, an expired one
/// and one for another name, each of which the default client refuses; the connection
/// still speaks TLS, and is reused.
#[tokio::test]
async fn danger_accept_invalid_certs_takes_any_certificate() {
    let stranger = TestCa::new("unknown CA");
    let servers = [
        TlsServer::builder(stranger.server_cert(NAMES))
            .start()
            .await,
        TlsServer::builder(stranger.expired_server_cert(NAMES))
            .start()
            .await,
        TlsServer::builder(stranger.server_cert(&["example.com"]))
            .start()
            .await,
    ];
    let careless = Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let careful = Client::new();
    for server in &servers {
        let err = careful
            .get(server.url("localhost", "/"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
        for _ in 0..2 {
            get_hello(&careless, server.url("localhost", "/")).await;
        }
        // The careful client's handshake, failed.
        server.wait_until(|s| s.failed_handshakes == 1).await;
        let seen = server.stats();
        assert_eq!(seen.requests, 2, "{seen:?}");
    }
    let stats = careless.stats();
    assert_eq!(
        (stats.connections_opened, stats.reuses),
        (3, 3),
        "{stats:?}"
    );
}

/// `min_tls_version` and `max_tls_version` bound what is offered: a client that asks 1.3
/// at least is refused by a 1.2-only server, one that asks 1.2 at most by a 1.3-only
/// server, and speaks 1.2 to a server of both; a range rustls cannot speak fails `build`.
#[tokio::test]
async fn the_tls_version_range_is_what_is_offered() {
    use tether::tls::Version;
    let ca = TestCa::new("versions CA");
    let start = |versions| {
        TlsServer::builder(ca.server_cert(NAMES))
            .versions(versions)
            .start()
    };
    let (only12, only13, both) = (
        start(Versions::Tls12Only).await,
        start(Versions::Tls13Only).await,
        start(Versions::Both).await,
    );
    let bounded = |min: Option<Version>, max: Option<Version>| {
        let mut builder = Client::builder().add_root_certificate(ca.certificate());
        if let Some(min) = min {
            builder = builder.min_tls_version(min);
        }
        if let Some(max) = max {
            builder = builder.max_tls_version(max);
        }
        builder.build()
    };
    let modern = bounded(Some(Version::TLS_1_3), None).unwrap();
    let err = modern
        .get(only12.url("localhost", "/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    get_hello(&modern, only13.url("localhost", "/")).await;

    let old = bounded(Some(Version::TLS_1_0), Some(Version::TLS_1_2)).unwrap();
    let err = old
        .get(only13.url("localhost", "/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    get_hello(&old, both.url("localhost", "/")).await;
    assert_eq!(both.stats().sessions[0].version, "TLSv1_2");
    get_hello(&modern, both.url("localhost", "/")).await;
    assert_eq!(both.stats().sessions[1].version, "TLSv1_3");

    for (min, max) in [
        (None, Some(Version::TLS_1_1)),
        (Some(Version::TLS_1_3), Some(Version::TLS_1_2)),
    ] {
        let err = bounded(min, max).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    }
}

/// `danger_accept_invalid_hostnames` takes a trusted authority's certificate issued for
/// another name, which the default client refuses, and still refuses an unknown
/// authority's and an expired one.
#[tokio::test]
async fn danger_accept_invalid_hostnames_takes_another_names_certificate_and_nothing_else() {
    let ca = TestCa::new("hostnames CA");
    let stranger = TestCa::new("unknown CA");
    let other_name = TlsServer::builder(ca.server_cert(&["example.com"]))
        .start()
        .await;
    let lenient = Client::builder()
        .add_root_certificate(ca.certificate())
        .danger_accept_invalid_hostnames(true)
        .build()
        .unwrap();
    let err = client_trusting(&ca)
        .get(other_name.url("localhost", "/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    for _ in 0..2 {
        get_hello(&lenient, other_name.url("localhost", "/")).await;
    }
    let stats = lenient.stats();
    assert_eq!(
        (stats.connections_opened, stats.reuses),
        (1, 1),
        "{stats:?}"
    );

    for refused in [
        TlsServer::builder(stranger.server_cert(NAMES))
            .start()
            .await,
        TlsServer::builder(ca.expired_server_cert(NAMES))
            .start()
            .await,
    ] {
        let err = lenient
            .get(refused.url("localhost", "/"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
        assert_eq!(refused.requests().len(), 0);
    }
}

/// `tls_sni(false)` leaves the host name out of the ClientHello; the certificate is still
/// checked against it.
#[tokio::test]
async fn tls_sni_off_sends_no_server_name() {
    let ca = TestCa::new("sni CA");
    let server = TlsServer::builder(ca.server_cert(NAMES)).start().await;
    let quiet = Client::builder()
        .add_root_certificate(ca.certificate())
        .tls_sni(false)
        .build()
        .unwrap();
    get_hello(&quiet, server.url("localhost", "/")).await;
    get_hello(&client_trusting(&ca), server.url("localhost", "/")).await;
    let hellos = server.stats().hellos;
    assert_eq!(hellos[0].sni, None);
    assert_eq!(hellos[1].sni.as_deref(), Some("localhost"));

    let other_name = TlsServer::builder(ca.server_cert(&["example.com"]))
        .start()
        .await;
    let err = quiet
        .get(other_name.url("localhost", "/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
}

#[tokio::test]
async fn tls_info_puts_the_servers_certificate_in_each_responses_extensions() {
    use tether::tls::TlsInfo;
    let ca = TestCa::new("test CA");
    let cert = ca.server_cert(NAMES);
    let der = cert.cert_der.to_vec();
    let server = TlsServer::builder(cert).start().await;
    let client = Client::builder()
        .add_root_certificate(ca.certificate())
        .tls_info(true)
        .build()
        .unwrap();
    // On a new connection, then on the same one reused.
    for _ in 0..2 {
        let resp = client
            .get(server.url("localhost", "/"))
            .send()
            .await
            .unwrap();
        let info = resp.extensions().get::<TlsInfo>().expect("a TlsInfo");
        assert_eq!(info.peer_certificate(), Some(&der[..]));
        assert_eq!(resp.text().await.unwrap(), "hello");
    }
    assert_eq!(client.stats().connections_opened, 1);
    // It goes with the response into an http::Response.
    let resp = client
        .get(server.url("localhost", "/"))
        .send()
        .await
        .unwrap();
    let resp: http::Response<tether::ResponseBody> = resp.into();
    let info = resp.extensions().get::<TlsInfo>().expect("a TlsInfo");
    assert_eq!(info.peer_certificate(), Some(&der[..]));

    // Off by default, and never for plain http.
    let resp = client_trusting(&ca)
        .get(server.url("localhost", "/"))
        .send()
        .await
        .unwrap();
    assert!(resp.extensions().get::<TlsInfo>().is_none());
    let plain = TestServer::start(Script::new()).await;
    let resp = client.get(plain.url("/")).send().await.unwrap();
    assert!(resp.extensions().get::<TlsInfo>().is_none());
}

#[tokio::test]
async fn without_the_built_in_roots_only_the_added_ones_are_trusted() {
    let ca = TestCa::new("test CA");
    let server = TlsServer::builder(ca.server_cert(NAMES)).start().await;
    // Either order of the two calls.
    for client in [
        Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca.certificate()),
        Client::builder()
            .add_root_certificate(ca.certificate())
            .tls_built_in_root_certs(false),
    ] {
        get_hello(&client.build().unwrap(), server.url("localhost", "/")).await;
    }
    // No root at all: nothing could be trusted.
    let err = Client::builder()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    Client::builder()
        .tls_built_in_root_certs(true)
        .build()
        .unwrap();
}

/// A rustls configuration made by the caller, trusting `ca` alone, with `alpn` offered.
fn own_rustls_config(ca: &TestCa, alpn: &[&[u8]]) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert_der()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(support::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

/// `tls_backend_preconfigured`: the caller's rustls configuration is the one used (its
/// roots: the test CA is trusted with no `add_root_certificate`; its versions: TLS 1.2
/// alone), given `h2` and `http/1.1` by ALPN when it names none and its own protocols
/// otherwise; as an `Arc` too. Anything but a rustls configuration fails `build`.
#[tokio::test]
async fn a_preconfigured_rustls_config_is_the_one_used() {
    let ca = TestCa::new("own config CA");
    let server = TlsServer::builder(ca.server_cert(NAMES)).start().await;
    let err = Client::new()
        .get(server.url("localhost", "/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "untrusted by default: {err}");

    let offered: [(rustls::ClientConfig, &[&str]); 2] = [
        (own_rustls_config(&ca, &[]), &["h2", "http/1.1"]),
        (own_rustls_config(&ca, &[b"http/1.1"]), &["http/1.1"]),
    ];
    for (i, (config, alpn)) in offered.into_iter().enumerate() {
        let client = Client::builder()
            .tls_backend_preconfigured(config)
            .build()
            .unwrap();
        get_hello(&client, server.url("localhost", "/")).await;
        let stats = server.stats();
        let hello = stats.hellos.last().unwrap();
        let alpn: Vec<String> = alpn.iter().map(|p| p.to_string()).collect();
        assert_eq!(hello.alpn, alpn, "config {i}");
        assert_eq!(
            stats.sessions.last().unwrap().version,
            "TLSv1_2",
            "config {i}"
        );
    }
    let shared = std::sync::Arc::new(own_rustls_config(&ca, &[]));
    let client = Client::builder()
        .use_preconfigured_tls(shared)
        .build()
        .unwrap();
    get_hello(&client, server.url("localhost", "/")).await;

    let err = Client::builder()
        .tls_backend_preconfigured(String::from("not rustls"))
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.to_string().contains("rustls::ClientConfig"), "{err}");
}

/// reqwest's newer TLS names: `tls_certs_only` (the built-in roots dropped, the test CA
/// trusted), `tls_certs_merge`, `tls_version_max`, `tls_danger_accept_invalid_hostnames`.
#[tokio::test]
async fn reqwests_newer_tls_names_do_what_the_older_ones_do() {
    let ca = TestCa::new("names CA");
    let server = TlsServer::builder(ca.server_cert(&["example.com"]))
        .start()
        .await;
    let url = server.url("localhost", "/");
    let only = Client::builder()
        .tls_backend_rustls()
        .tls_certs_only([ca.certificate()])
        .tls_danger_accept_invalid_hostnames(true)
        .tls_version_max(tether::tls::Version::TLS_1_2)
        .build()
        .unwrap();
    get_hello(&only, url.clone()).await;
    assert_eq!(server.stats().sessions.last().unwrap().version, "TLSv1_2");
    let merged = Client::builder()
        .use_rustls_tls()
        .tls_certs_merge([ca.certificate()])
        .tls_danger_accept_invalid_hostnames(true)
        .tls_version_min(tether::tls::Version::TLS_1_3)
        .build()
        .unwrap();
    get_hello(&merged, url.clone()).await;
    assert_eq!(server.stats().sessions.last().unwrap().version, "TLSv1_3");
    // Without the name forgiven, the certificate for example.com is refused.
    let strict = Client::builder()
        .tls_certs_only([ca.certificate()])
        .build()
        .unwrap();
    let err = strict.get(url).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    // No root at all is refused when built.
    let none = Client::builder()
        .tls_certs_only(Vec::new())
        .build()
        .unwrap_err();
    assert_eq!(none.kind(), ErrorKind::Tls, "{none}");
}
