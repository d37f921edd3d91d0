//! TLS with rustls and the ring provider: the client configuration and the handshake.
//!
//! - Trust: webpki-roots by default, plus any [`Certificate`] added on the builder, or only
//!   the given certificates when the built-in roots are dropped. A client [`Identity`]
//!   (certificate chain and key) is presented to servers that ask for one (mutual TLS).
//! - One `Arc<ClientConfig>` per client, so one session cache (rustls' default in-memory
//!   store) serves every connection of the client and later connections resume. Two
//!   clients never share sessions, nor connections (each has its own pool).
//! - The handshake sends SNI from the URL's host name (none for IP literals, as RFC 6066 §3
//!   requires), offers ALPN `h2` and `http/1.1` (`http/1.1` only with `http1_only`), and
//!   accepts TLS 1.2 and 1.3.
//! - A failed handshake is `ErrorKind::Tls` with a message saying what was wrong
//!   (untrusted, expired, not valid for the host name, client certificate refused, ...).
//!
//! Not here: the deadline of the handshake (the connect timeout, in `Connection::open`) and
//! the idle probe of a TLS connection (`probe.rs`).

use std::fmt;
use std::io;
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName};
use rustls::{AlertDescription, CertificateError, ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::error::{Error, ErrorKind};

/// What was wrong with PEM or DER input given to [`Certificate`] or [`Identity`]. It is the
/// source (see [`std::error::Error::source`]) of the `ErrorKind::Tls` error returned.
///
/// ```
/// use std::error::Error as _;
/// let err = tether::Certificate::from_pem(b"not PEM at all").unwrap_err();
/// assert_eq!(err.kind(), tether::ErrorKind::Tls);
/// let cause = err.source().and_then(|s| s.downcast_ref::<tether::PemError>());
/// assert_eq!(cause, Some(&tether::PemError::NoCertificate));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PemError {
    /// The PEM text is broken: a section without its end, bad base64, an oversized section.
    Malformed,
    /// No `CERTIFICATE` section was found.
    NoCertificate,
    /// No private key section (`PRIVATE KEY`, `RSA PRIVATE KEY`, `EC PRIVATE KEY`) was found.
    NoPrivateKey,
    /// A certificate's DER could not be parsed as an X.509 certificate.
    InvalidCertificate,
    /// The private key is of a kind or shape the crypto provider cannot use.
    InvalidPrivateKey,
    /// No `X509 CRL` section was found.
    NoCrl,
    /// A CRL's DER could not be parsed as an X.509 certificate revocation list.
    InvalidCrl,
}

impl fmt::Display for PemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PemError::Malformed => "malformed PEM",
            PemError::NoCertificate => "no CERTIFICATE section in the PEM input",
            PemError::NoPrivateKey => "no private key section in the PEM input",
            PemError::InvalidCertificate => "the certificate is not valid X.509 DER",
            PemError::InvalidPrivateKey => "the private key cannot be used",
            PemError::NoCrl => "no X509 CRL section in the PEM input",
            PemError::InvalidCrl => "the CRL is not a valid X.509 revocation list",
        })
    }
}

impl std::error::Error for PemError {}

fn pem_error(err: PemError) -> Error {
    Error::new(ErrorKind::Tls, err)
}

/// Every section of `D`'s kind in PEM text, in order, each made into a `T` by `check`: at
/// least one, else the error `none`.
fn pem_sections<D: PemObject, T>(
    pem: &[u8],
    check: impl Fn(D) -> Result<T, Error>,
    none: PemError,
) -> Result<Vec<T>, Error> {
    let sections = D::pem_slice_iter(pem)
        .map(|der| match der {
            Ok(der) => check(der),
            Err(e) => Err(malformed(e)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if sections.is_empty() {
        return Err(pem_error(none));
    }
    Ok(sections)
}

/// The TLS side of a response from an `https://` origin, in its extensions when the client
/// was built with [`tls_info(true)`](crate::ClientBuilder::tls_info), as in reqwest.
///
/// ```no_run
/// # async fn run() -> tether::Result<()> {
/// let client = tether::Client::builder().tls_info(true).build()?;
/// let resp = client.get("https://example.com/").send().await?;
/// if let Some(info) = resp.extensions().get::<tether::tls::TlsInfo>() {
///     println!("{:?} bytes of certificate", info.peer_certificate().map(<[u8]>::len));
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct TlsInfo {
    peer_certificate: Option<Vec<u8>>,
}

impl TlsInfo {
    /// The origin's end-entity certificate, in DER (`None` if it sent none).
    pub fn peer_certificate(&self) -> Option<&[u8]> {
        self.peer_certificate.as_deref()
    }
}

/// What a TLS session with the origin tells of it.
pub(crate) fn tls_info(session: &rustls::ClientConnection) -> TlsInfo {
    TlsInfo {
        peer_certificate: session
            .peer_certificates()
            .and_then(<[CertificateDer<'_>]>::first)
            .map(|c| c.as_ref().to_vec()),
    }
}

/// An X.509 certificate to trust as a root (see `ClientBuilder::add_root_certificate`).
///
/// ```
/// let ca = rcgen::generate_simple_self_signed(vec!["ca.test".into()]).unwrap();
/// let root = tether::Certificate::from_pem(ca.cert.pem().as_bytes())?;
/// let client = tether::Client::builder().tls_roots_only([root]).build()?;
/// # Ok::<(), tether::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    der: CertificateDer<'static>,
}

impl Certificate {
    /// The first `CERTIFICATE` section of PEM text.
    ///
    /// Errors (`ErrorKind::Tls`, with a [`PemError`] as source): malformed PEM, no
    /// certificate in it, or a certificate that does not parse.
    ///
    /// ```
    /// let ca = rcgen::generate_simple_self_signed(vec!["ca.test".into()]).unwrap();
    /// let root = tether::Certificate::from_pem(ca.cert.pem().as_bytes())?;
    /// assert_eq!(root.as_der(), ca.cert.der().as_ref());
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn from_pem(pem: &[u8]) -> Result<Certificate, Error> {
        Certificate::from_pem_bundle(pem)?
            .into_iter()
            .next()
            .ok_or_else(|| pem_error(PemError::NoCertificate))
    }

    /// Every `CERTIFICATE` section of PEM text (a CA bundle), at least one.
    ///
    /// ```
    /// let a = rcgen::generate_simple_self_signed(vec!["a.test".into()]).unwrap();
    /// let b = rcgen::generate_simple_self_signed(vec!["b.test".into()]).unwrap();
    /// let bundle = format!("{}{}", a.cert.pem(), b.cert.pem());
    /// let roots = tether::Certificate::from_pem_bundle(bundle.as_bytes())?;
    /// assert_eq!(roots.len(), 2);
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn from_pem_bundle(pem: &[u8]) -> Result<Vec<Certificate>, Error> {
        pem_sections(pem, Certificate::checked, PemError::NoCertificate)
    }

    /// A DER-encoded certificate. Errors with [`PemError::InvalidCertificate`] when it does
    /// not parse.
    ///
    /// ```
    /// let ca = rcgen::generate_simple_self_signed(vec!["ca.test".into()]).unwrap();
    /// let root = tether::Certificate::from_der(ca.cert.der().to_vec())?;
    /// assert!(tether::Certificate::from_der(vec![1, 2, 3]).is_err());
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn from_der(der: impl Into<Vec<u8>>) -> Result<Certificate, Error> {
        Certificate::checked(CertificateDer::from(der.into()))
    }

    /// The certificate's DER encoding.
    ///
    /// ```
    /// let ca = rcgen::generate_simple_self_signed(vec!["ca.test".into()]).unwrap();
    /// let root = tether::Certificate::from_pem(ca.cert.pem().as_bytes())?;
    /// assert_eq!(root.as_der(), ca.cert.der().as_ref());
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn as_der(&self) -> &[u8] {
        &self.der
    }

    fn checked(der: CertificateDer<'static>) -> Result<Certificate, Error> {
        // Parsing it as a trust anchor is what the client will do with it later.
        RootCertStore::empty()
            .add(der.clone())
            .map_err(|_| pem_error(PemError::InvalidCertificate))?;
        Ok(Certificate { der })
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("der_len", &self.der.len())
            .finish()
    }
}

/// A certificate revocation list (reqwest's `tls::CertificateRevocationList`): the
/// certificates its issuer revoked, which the client then refuses (see
/// `ClientBuilder::add_crl`).
///
/// ```no_run
/// let pem = std::fs::read("internal-ca.crl.pem").unwrap();
/// let crl = tether::tls::CertificateRevocationList::from_pem(&pem)?;
/// let client = tether::Client::builder().add_crl(crl).build()?;
/// # Ok::<(), tether::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateRevocationList {
    der: CertificateRevocationListDer<'static>,
}

impl CertificateRevocationList {
    /// The first `X509 CRL` section of PEM text. Errors (`ErrorKind::Tls`, with a
    /// [`PemError`] as source): malformed PEM, no CRL section, or one that is not a CRL.
    pub fn from_pem(pem: &[u8]) -> Result<CertificateRevocationList, Error> {
        CertificateRevocationList::from_pem_bundle(pem)?
            .into_iter()
            .next()
            .ok_or_else(|| pem_error(PemError::NoCrl))
    }

    /// Every `X509 CRL` section of PEM text, in order; at least one.
    pub fn from_pem_bundle(pem: &[u8]) -> Result<Vec<CertificateRevocationList>, Error> {
        pem_sections(pem, CertificateRevocationList::checked, PemError::NoCrl)
    }

    /// From DER.
    pub fn from_der(der: impl Into<Vec<u8>>) -> Result<CertificateRevocationList, Error> {
        CertificateRevocationList::checked(CertificateRevocationListDer::from(der.into()))
    }

    fn checked(
        der: CertificateRevocationListDer<'static>,
    ) -> Result<CertificateRevocationList, Error> {
        // Parsed as the client's verifier will parse it (which needs a root to be built).
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().take(1).cloned());
        rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(provider()),
        )
        .with_crls([der.clone()])
        .build()
        .map_err(|_| pem_error(PemError::InvalidCrl))?;
        Ok(CertificateRevocationList { der })
    }
}

impl fmt::Debug for CertificateRevocationList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateRevocationList")
            .field("der_len", &self.der.len())
            .finish()
    }
}

/// A client certificate chain and its private key, for mutual TLS (see
/// `ClientBuilder::identity`).
///
/// ```
/// let me = rcgen::generate_simple_self_signed(vec!["client.test".into()]).unwrap();
/// let identity = tether::Identity::from_pem(
///     me.cert.pem().as_bytes(),
///     me.signing_key.serialize_pem().as_bytes(),
/// )?;
/// let client = tether::Client::builder().identity(identity).build()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Identity {
    /// From PEM: the certificate chain (leaf first) and the private key (PKCS#8, PKCS#1 or
    /// SEC1). Errors (`ErrorKind::Tls`, with a [`PemError`] as source): malformed PEM, no
    /// certificate, no key, or a key the crypto provider cannot use.
    ///
    /// ```
    /// let me = rcgen::generate_simple_self_signed(vec!["client.test".into()]).unwrap();
    /// let key = me.signing_key.serialize_pem();
    /// let identity = tether::Identity::from_pem(me.cert.pem().as_bytes(), key.as_bytes())?;
    /// // A chain without its key is refused.
    /// assert!(tether::Identity::from_pem(me.cert.pem().as_bytes(), b"").is_err());
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<Identity, Error> {
        let chain = Certificate::from_pem_bundle(cert_chain_pem)?
            .into_iter()
            .map(|c| c.der)
            .collect();
        let key = match PrivateKeyDer::from_pem_slice(key_pem) {
            Ok(key) => key,
            Err(pem::Error::NoItemsFound) => return Err(pem_error(PemError::NoPrivateKey)),
            Err(e) => return Err(malformed(e)),
        };
        provider()
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|e| {
                Error::new(ErrorKind::Tls, PemError::InvalidPrivateKey).context(e.to_string())
            })?;
        Ok(Identity { chain, key })
    }
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("Identity")
            .field("chain_len", &self.chain.len())
            .finish_non_exhaustive()
    }
}

fn malformed(e: pem::Error) -> Error {
    Error::new(ErrorKind::Tls, PemError::Malformed).context(format!("{e:?}"))
}

/// A TLS protocol version, for [`min_tls_version`] and [`max_tls_version`] (reqwest's
/// `tls::Version`). rustls speaks TLS 1.2 and 1.3; a range holding neither fails `build`.
///
/// ```
/// use tether::tls::Version;
/// let client = tether::Client::builder().min_tls_version(Version::TLS_1_3).build()?;
/// # Ok::<(), tether::Error>(())
/// ```
///
/// [`min_tls_version`]: crate::ClientBuilder::min_tls_version
/// [`max_tls_version`]: crate::ClientBuilder::max_tls_version
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(u8);

impl Version {
    /// TLS 1.0.
    pub const TLS_1_0: Version = Version(0);
    /// TLS 1.1.
    pub const TLS_1_1: Version = Version(1);
    /// TLS 1.2.
    pub const TLS_1_2: Version = Version(2);
    /// TLS 1.3.
    pub const TLS_1_3: Version = Version(3);
}

/// The versions rustls speaks within `min..=max` (either end open), newest first as in
/// rustls's defaults.
fn versions_within(
    min: Option<Version>,
    max: Option<Version>,
) -> Vec<&'static rustls::SupportedProtocolVersion> {
    [
        (Version::TLS_1_3, &rustls::version::TLS13),
        (Version::TLS_1_2, &rustls::version::TLS12),
    ]
    .into_iter()
    .filter(|(v, _)| min.is_none_or(|m| *v >= m) && max.is_none_or(|m| *v <= m))
    .map(|(_, speaks)| speaks)
    .collect()
}

/// The TLS settings a builder collects; turned into one `ClientConfig` at build.
#[derive(Clone, Debug)]
pub(crate) struct TlsSettings {
    /// Whether webpki-roots are trusted.
    pub built_in_roots: bool,
    /// Roots trusted besides (or, without built-in roots, instead of) webpki-roots.
    pub roots: Vec<Certificate>,
    /// The client certificate for mutual TLS.
    pub identity: Option<Identity>,
    /// Offer `h2` by ALPN (off with `http1_only`).
    pub http2: bool,
    /// Any certificate is taken, for any name (`danger_accept_invalid_certs`).
    pub accept_invalid_certs: bool,
    /// A certificate for another name is taken, if it is otherwise valid
    /// (`danger_accept_invalid_hostnames`).
    pub accept_invalid_hostnames: bool,
    /// The host name is sent in the ClientHello (`tls_sni`).
    pub sni: bool,
    /// Certificates listed in these are refused (`add_crl`).
    pub crls: Vec<CertificateRevocationList>,
    /// The oldest and newest protocol versions offered (`min_tls_version`,
    /// `max_tls_version`); `None`: what rustls speaks.
    pub min_version: Option<Version>,
    pub max_version: Option<Version>,
    /// The session secrets are written to the file `SSLKEYLOGFILE` names
    /// (`tls_sslkeylogfile`).
    pub key_log: bool,
    /// A configuration the caller made (`tls_backend_preconfigured`), used in place of
    /// all of the above.
    pub preconfigured: Option<Preconfigured>,
}

/// What `tls_backend_preconfigured` was given.
#[derive(Clone, Debug)]
pub(crate) enum Preconfigured {
    Rustls(Arc<ClientConfig>),
    /// Anything else: `build` fails, as tether speaks TLS through rustls only.
    Unknown,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            built_in_roots: true,
            roots: Vec::new(),
            identity: None,
            http2: true,
            accept_invalid_certs: false,
            accept_invalid_hostnames: false,
            sni: true,
            crls: Vec::new(),
            min_version: None,
            max_version: None,
            key_log: false,
            preconfigured: None,
        }
    }
}

/// The ring provider. rustls 0.23.48 marks it deprecated (ring has no post-quantum key
/// exchange) and points to aws-lc-rs, which tether does not build on (see the README's
/// "Crypto provider: ring"); the lint is allowed here, once, so that a lockfile at 0.23.48
/// or later still builds without warnings.
#[allow(deprecated)]
fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The default client configuration: webpki-roots, ALPN `h2` and `http/1.1`, TLS 1.2 and
/// 1.3.
pub(crate) fn default_config() -> Result<Arc<ClientConfig>, Error> {
    client_config(&TlsSettings::default())
}

/// The client configuration for `settings`, with the ring provider; or the caller's own,
/// given ALPN's protocols if it names none.
pub(crate) fn client_config(settings: &TlsSettings) -> Result<Arc<ClientConfig>, Error> {
    match &settings.preconfigured {
        None => {}
        Some(Preconfigured::Rustls(config)) if !config.alpn_protocols.is_empty() => {
            return Ok(config.clone())
        }
        Some(Preconfigured::Rustls(config)) => {
            let mut config = ClientConfig::clone(config);
            config.alpn_protocols = alpn(settings.http2);
            return Ok(Arc::new(config));
        }
        Some(Preconfigured::Unknown) => {
            return Err(Error::msg(
                ErrorKind::Tls,
                "the preconfigured TLS backend is not a rustls::ClientConfig (tether speaks \
                 TLS through rustls only)",
            ))
        }
    }
    let mut roots = RootCertStore::empty();
    if settings.built_in_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for cert in &settings.roots {
        roots
            .add(cert.der.clone())
            .map_err(|e| Error::new(ErrorKind::Tls, e).context("adding a root certificate"))?;
    }
    if roots.is_empty() && !settings.accept_invalid_certs {
        return Err(Error::msg(
            ErrorKind::Tls,
            "no root certificates to trust: the built-in roots were dropped and none were given",
        ));
    }
    let provider = Arc::new(provider());
    let versions = versions_within(settings.min_version, settings.max_version);
    if versions.is_empty() {
        return Err(Error::msg(
            ErrorKind::Tls,
            format!(
                "no TLS version from {:?} to {:?} is spoken (TLS 1.2 and 1.3 are)",
                settings.min_version, settings.max_version
            ),
        ));
    }
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| Error::new(ErrorKind::Tls, e))?;
    let builder = if settings.accept_invalid_certs || settings.accept_invalid_hostnames {
        let roots = if settings.accept_invalid_certs {
            None
        } else {
            Some(webpki_verifier(roots, &provider, &settings.crls)?)
        };
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Lenient { provider, roots }))
    } else if settings.crls.is_empty() {
        builder.with_root_certificates(roots)
    } else {
        builder.with_webpki_verifier(webpki_verifier(roots, &provider, &settings.crls)?)
    };
    let mut config = match &settings.identity {
        None => builder.with_no_client_auth(),
        Some(id) => builder
            .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
            .map_err(|e| {
                Error::new(ErrorKind::Tls, e).context("the client certificate cannot be used")
            })?,
    };
    config.enable_sni = settings.sni;
    if settings.key_log {
        // rustls reads `SSLKEYLOGFILE` here, once; unset, nothing is written.
        config.key_log = Arc::new(rustls::KeyLogFile::new());
    }
    config.alpn_protocols = alpn(settings.http2);
    Ok(Arc::new(config))
}

/// The protocols offered by ALPN: `h2` first unless `http1_only`, then `http/1.1`.
fn alpn(http2: bool) -> Vec<Vec<u8>> {
    if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    }
}

/// webpki's verifier of `roots`, checking revocation against `crls` where one of them is
/// the issuer's: a certificate whose issuer has no CRL given is not refused for it (the
/// CRLs given are lists of what to refuse, not a demand that every issuer publish one).
fn webpki_verifier(
    roots: RootCertStore,
    provider: &Arc<rustls::crypto::CryptoProvider>,
    crls: &[CertificateRevocationList],
) -> Result<Arc<rustls::client::WebPkiServerVerifier>, Error> {
    let mut verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    );
    if !crls.is_empty() {
        verifier = verifier
            .with_crls(crls.iter().map(|crl| crl.der.clone()))
            .allow_unknown_revocation_status();
    }
    verifier.build().map_err(|e| Error::new(ErrorKind::Tls, e))
}

/// The verifier of the `danger_` options. `danger_accept_invalid_certs` (`roots: None`):
/// any certificate, expired, self-signed or for another name, is taken.
/// `danger_accept_invalid_hostnames` (`roots`: webpki's verifier of the client's roots):
/// the chain, dates and usage are checked, and a certificate for another name is taken;
/// webpki checks the name last, so that error says everything else held. Either way the
/// handshake's signatures are checked (by the provider's algorithms), so the connection is
/// to whoever holds the key of the certificate it shows: not tampered with in flight.
#[derive(Debug)]
struct Lenient {
    provider: Arc<rustls::crypto::CryptoProvider>,
    roots: Option<Arc<rustls::client::WebPkiServerVerifier>>,
}

impl rustls::client::danger::ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let Some(roots) = &self.roots else {
            return Ok(rustls::client::danger::ServerCertVerified::assertion());
        };
        match roots.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The configuration for TLS to an `https://` proxy: the client's (its roots, its
/// certificate, its session cache), offering HTTP/1.1 alone by ALPN, which is what is
/// spoken to a proxy.
pub(crate) fn for_proxy(config: &Arc<ClientConfig>) -> Arc<ClientConfig> {
    let mut config = ClientConfig::clone(config);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Runs the TLS handshake for `host` over `tcp`.
pub(crate) async fn handshake<S>(
    config: &Arc<ClientConfig>,
    host: &str,
    tcp: S,
) -> Result<TlsStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
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
            let message = describe_failure(&e, host);
            tracing::debug!(host, error = %e, "TLS handshake failed");
            Error::new(ErrorKind::Tls, e).context(message)
        })
}

/// The rustls error inside an I/O error from tokio-rustls, if that is what it is.
pub(crate) fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

/// The error for an I/O failure on an established connection while `doing` something:
/// `ErrorKind::Tls` when rustls reports it (such as a server's alert refusing the client
/// certificate, which TLS 1.3 sends after the client's side of the handshake is done),
/// `ErrorKind::Io` otherwise.
pub(crate) fn io_error(e: io::Error, doing: &str) -> Error {
    let message = match rustls_error(&e) {
        None => return Error::new(ErrorKind::Io, e).context(doing.to_owned()),
        Some(rustls::Error::AlertReceived(alert)) => {
            format!("{doing}: {}", describe_alert(*alert, "the server"))
        }
        Some(_) => doing.to_owned(),
    };
    Error::new(ErrorKind::Tls, e).context(message)
}

/// Says in words why a handshake with `host` failed.
fn describe_failure(e: &io::Error, host: &str) -> String {
    let Some(err) = rustls_error(e) else {
        return match e.kind() {
            io::ErrorKind::UnexpectedEof => {
                format!("{host} closed the connection during the TLS handshake")
            }
            _ => format!("the TLS handshake with {host} failed"),
        };
    };
    match err {
        rustls::Error::InvalidCertificate(cert) => describe_certificate(cert, host),
        rustls::Error::AlertReceived(alert) => describe_alert(*alert, host),
        rustls::Error::PeerIncompatible(_) => {
            format!("{host} has no TLS version or cipher suite in common with the client")
        }
        rustls::Error::NoApplicationProtocol => {
            format!("{host} speaks neither h2 nor http/1.1 (ALPN)")
        }
        _ => format!("the TLS handshake with {host} failed"),
    }
}

fn describe_certificate(err: &CertificateError, host: &str) -> String {
    match err {
        CertificateError::UnknownIssuer => {
            format!("the certificate of {host} is untrusted: it is not issued by a trusted root")
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            format!("the certificate of {host} has expired")
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            format!("the certificate of {host} is not valid yet")
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("host name mismatch: the certificate is not valid for {host}")
        }
        CertificateError::Revoked => format!("the certificate of {host} has been revoked"),
        CertificateError::BadSignature => {
            format!("the certificate of {host} has a bad signature")
        }
        CertificateError::BadEncoding => format!("the certificate of {host} is malformed"),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            format!("the certificate of {host} is not meant for a TLS server")
        }
        _ => format!("the certificate of {host} was rejected"),
    }
}

fn describe_alert(alert: AlertDescription, host: &str) -> String {
    match alert {
        AlertDescription::CertificateRequired => {
            format!("{host} requires a client certificate and none was given")
        }
        AlertDescription::BadCertificate
        | AlertDescription::UnknownCA
        | AlertDescription::CertificateUnknown
        | AlertDescription::UnsupportedCertificate
        | AlertDescription::CertificateExpired
        | AlertDescription::CertificateRevoked
        | AlertDescription::AccessDenied => {
            format!("{host} refused the client certificate ({alert:?})")
        }
        AlertDescription::ProtocolVersion | AlertDescription::HandshakeFailure => {
            format!("{host} refused the TLS handshake ({alert:?})")
        }
        AlertDescription::NoApplicationProtocol => {
            format!("{host} speaks neither h2 nor http/1.1 (ALPN)")
        }
        _ => format!("{host} ended the TLS handshake with alert {alert:?}"),
    }
}
