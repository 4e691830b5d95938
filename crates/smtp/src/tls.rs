//! TLS configuration from PEM files, with the `ring` provider (no C
//! toolchain beyond the one the machine has; `aws-lc-rs` needs cmake).

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why a certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file is missing or unreadable.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// rustls refused the certificate or key.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A STARTTLS server configuration from a certificate chain and a key.
/// With `client_ca` (PEM), clients may present a certificate, which must
/// chain to one of those CAs (a bad one fails the handshake); clients
/// without one still get TLS, and the handler decides what they may do.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let pem = |path: &Path, e: &dyn std::fmt::Display| TlsError::Pem {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem(cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| pem(cert, &e))?;
    if certs.is_empty() {
        return Err(pem(cert, &"no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| pem(key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca).map_err(|e| pem(ca, &e))? {
                roots.add(c.map_err(|e| pem(ca, &e))?)?;
            }
            if roots.is_empty() {
                return Err(pem(ca, &"no CA certificate in the file"));
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .allow_unauthenticated()
            .build()
            .map_err(|e| pem(ca, &e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}

/// How the upstream session uses STARTTLS (`[upstream] starttls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamTlsMode {
    /// Never.
    Off,
    /// When offered; the certificate is not verified (encryption against
    /// passive eavesdropping, as MTAs do by default).
    Opportunistic,
    /// Always, with the certificate verified against `tls_name`; an
    /// upstream without STARTTLS is a failure.
    Required,
}

/// Client TLS settings for the upstream.
#[derive(Clone)]
pub struct UpstreamTls {
    /// The mode.
    pub mode: UpstreamTlsMode,
    /// Name the certificate must be valid for (else the address's host).
    pub name: Option<String>,
    pub(crate) verified: Arc<rustls::ClientConfig>,
    pub(crate) unverified: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for UpstreamTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamTls")
            .field("mode", &self.mode)
            .field("name", &self.name)
            .finish()
    }
}

impl UpstreamTls {
    /// Settings trusting the system's roots (`SSL_CERT_FILE` /
    /// `SSL_CERT_DIR` override them) and `extra_roots` (a PEM file).
    pub fn new(
        mode: UpstreamTlsMode,
        name: Option<String>,
        extra_roots: Option<&Path>,
    ) -> Result<UpstreamTls, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            // A system certificate rustls cannot parse is skipped, not fatal.
            let _ = roots.add(cert);
        }
        if let Some(path) = extra_roots {
            let pem = |e: &dyn std::fmt::Display| TlsError::Pem {
                path: path.display().to_string(),
                message: e.to_string(),
            };
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| pem(&e))? {
                roots.add(cert.map_err(|e| pem(&e))?)?;
            }
        }
        let verified = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut unverified = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        unverified
            .dangerous()
            .set_certificate_verifier(Arc::new(AnyCertificate(provider)));
        Ok(UpstreamTls {
            mode,
            name,
            verified: Arc::new(verified),
            unverified: Arc::new(unverified),
        })
    }
}

/// Accepts any certificate but still checks the handshake signatures:
/// opportunistic TLS, where a failed verification must not stop mail.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
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
            &self.0.signature_verification_algorithms,
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
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
