//! TLS with rustls: the client configuration (webpki-roots by default, ALPN `http/1.1`, one
//! session cache shared by every connection of the client so later connections resume) and
//! the handshake over an open TCP stream, with SNI from the URL's host name (none for IP
//! literals, as RFC 6066 §3 requires).

use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::error::{Error, ErrorKind};

/// The default client configuration: webpki-roots, ALPN `http/1.1`, TLS 1.2 and 1.3.
pub(crate) fn default_config() -> Result<Arc<ClientConfig>, Error> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    config_with_roots(roots)
}

/// A client configuration trusting `roots`, with the ring provider.
pub(crate) fn config_with_roots(roots: RootCertStore) -> Result<Arc<ClientConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Tls, e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Runs the TLS handshake for `host` over `tcp`.
pub(crate) async fn handshake(
    config: &Arc<ClientConfig>,
    host: &str,
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>, Error> {
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let name = ServerName::try_from(literal.to_owned()).map_err(|e| {
        Error::new(ErrorKind::InvalidRequest, e)
            .context(format!("{host} is not a valid TLS server name"))
    })?;
    TlsConnector::from(config.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| {
            Error::new(ErrorKind::Tls, e).context(format!("TLS handshake with {host} failed"))
        })
}
