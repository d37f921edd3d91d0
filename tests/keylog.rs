//! `tls_sslkeylogfile`: the secrets of each TLS connection go to the file `SSLKEYLOGFILE`
//! names, and they are that connection's: every line the client writes is one the rustls
//! test server logged of its own side of the same handshake, in TLS 1.3 and 1.2. Without
//! the option nothing is written. A test binary of its own, as it sets the environment.

mod support;

use support::tls::{TestCa, TlsServer, Versions};

#[tokio::test]
async fn tls_sslkeylogfile_writes_each_connections_secrets_to_sslkeylogfile() {
    let dir = std::env::temp_dir().join(format!("tether-keylog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = TestCa::new("test CA");
    for (versions, labels) in [
        (
            Versions::Tls13Only,
            &[
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                "CLIENT_TRAFFIC_SECRET_0",
                "SERVER_TRAFFIC_SECRET_0",
            ][..],
        ),
        (Versions::Tls12Only, &["CLIENT_RANDOM"][..]),
    ] {
        let file = dir.join(format!("{versions:?}.log"));
        let _ = std::fs::remove_file(&file);
        // The only test of this binary: nothing else reads the environment meanwhile.
        std::env::set_var("SSLKEYLOGFILE", &file);
        let server = TlsServer::builder(ca.server_cert(&["localhost"]))
            .versions(versions)
            .start()
            .await;

        // Off (the default): nothing written, though the variable is set.
        let client = tether::Client::builder()
            .add_root_certificate(ca.certificate())
            .build()
            .unwrap();
        let resp = client
            .get(server.url("localhost", "/"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.text().await.unwrap(), "hello");
        assert!(!file.exists(), "{versions:?}: written without the option");

        let client = tether::Client::builder()
            .add_root_certificate(ca.certificate())
            .tls_sslkeylogfile(true)
            .build()
            .unwrap();
        for _ in 0..2 {
            let resp = client
                .get(server.url("localhost", "/"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.text().await.unwrap(), "hello");
        }
        assert_eq!(client.stats().connections_opened, 1, "{versions:?}");
        let written = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = written.lines().filter(|l| !l.starts_with('#')).collect();
        let server_side = server.secrets();
        for label in labels {
            assert_eq!(
                lines
                    .iter()
                    .filter(|l| l.split(' ').next() == Some(label))
                    .count(),
                1,
                "{versions:?}: one {label} line for the one connection in\n{written}"
            );
        }
        for line in &lines {
            assert!(
                server_side.iter().any(|s| s == line),
                "{versions:?}: {line} is not a secret of the server's handshakes {server_side:#?}"
            );
        }
        let _ = std::fs::remove_file(&file);
    }
    std::env::remove_var("SSLKEYLOGFILE");
    let _ = std::fs::remove_dir(&dir);
}
