//! TLS to PostgreSQL with rustls (ring), libpq's `sslmode` semantics:
//! - `verify-full`: the chain must lead to the CA, and the certificate must name the host
//!   (rustls's own webpki verifier);
//! - `verify-ca`: the chain must lead to the CA; the host name is not checked;
//! - `require` and `prefer`: encryption; the certificate is verified as `verify-ca` when a CA is
//!   given (as libpq does when a root certificate file exists), else not at all;
//! - `disable`: tokio-postgres never asks for TLS (the connector is unused).
//!
//! Handshake signatures are always checked with the provider's algorithms. tokio-postgres-rustls
//! connects, and gives SCRAM its channel binding.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::database_url::{SslMode, Target};

/// The connector tokio-postgres uses for `target` (whatever its mode: one type for all).
pub(crate) fn connector(target: &Target) -> Result<MakeRustlsConnect, String> {
    let provider = provider();
    let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier(target, &provider)?)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

fn provider() -> Arc<CryptoProvider> {
    // ring: small, no C toolchain beyond cc. Deprecated in rustls 0.23.48 only because ring has no
    // post-quantum key exchange; PostgreSQL's TLS 1.3 with X25519 or P-256 is what managed servers offer.
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificate check of `target`'s `sslmode` (see the top).
fn verifier(target: &Target, provider: &Arc<CryptoProvider>) -> Result<Arc<dyn ServerCertVerifier>, String> {
    Ok(match (target.ssl_mode, target.roots.is_empty()) {
        (SslMode::VerifyFull, _) => webpki(&target.roots, provider)?,
        (SslMode::VerifyCa, _) | (SslMode::Require | SslMode::Prefer, false) => {
            Arc::new(Lenient { chain: Some(webpki(&target.roots, provider)?), provider: Arc::clone(provider) })
        }
        (SslMode::Require | SslMode::Prefer | SslMode::Disable, _) => {
            Arc::new(Lenient { chain: None, provider: Arc::clone(provider) })
        }
    })
}

fn webpki(
    roots: &[CertificateDer<'static>],
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    let mut store = RootCertStore::empty();
    for root in roots {
        store.add(root.clone()).map_err(|e| format!("the CA file's certificate cannot be used: {e}"))?;
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(store), Arc::clone(provider))
        .build()
        .map_err(|e| format!("the CA file's certificates cannot be used: {e}"))
}

/// `verify-ca` (webpki's verification, except that a certificate for another name is accepted:
/// webpki checks the chain first, and the name only once the chain is good), or, without a CA,
/// `require` and `prefer` (encryption only, as libpq: any certificate). Handshake signatures are
/// checked either way.
#[derive(Debug)]
struct Lenient {
    /// `None`: no certificate check.
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let Some(chain) = &self.chain else { return Ok(ServerCertVerified::assertion()) };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// A line for a failed TLS handshake that says what to check, when the error is one.
pub(crate) fn explain(error: &str, target: &Target) -> Option<String> {
    let ca = || target.ca_file.as_ref().map_or("no CA file".to_owned(), |p| format!("the CA in {}", p.display()));
    if error.contains("UnknownIssuer") || error.contains("BadSignature") {
        Some(format!("the server's certificate is not signed by {} (sslmode={})", ca(), target.ssl_mode.name()))
    } else if error.contains("NotValidForName") || error.contains("not valid for name") {
        Some(
            "the server's certificate does not name the host of the URL (sslmode=verify-full; verify-ca does not \
             check the name)"
                .to_owned(),
        )
    } else if ["Expired", "expired", "NotValidYet", "not valid yet"].iter().any(|word| error.contains(word)) {
        Some("the server's certificate is expired or not yet valid".to_owned())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_builds_a_connector() {
        for url in [
            "postgres://app@db/x?sslmode=disable",
            "postgres://app@db/x?sslmode=prefer",
            "postgres://app@db/x?sslmode=require",
        ] {
            let target = crate::config::database_url::parse(url, None).unwrap();
            assert!(connector(&target).is_ok(), "{url}");
        }
    }

    use rustls::pki_types::pem::PemObject;

    const CA: &str = include_str!("../../../../tests/data/tls/ca.crt");
    const OTHER_CA: &str = include_str!("../../../../tests/data/tls/other.crt");
    /// Signed by `CA`, for `db.example` only.
    const SERVER: &str = include_str!("../../../../tests/data/tls/server.crt");

    /// Whether the verifier of `query` (with `ca` as STUDENTS_DATABASE_CA_FILE) takes the server's
    /// certificate when connecting to `host`.
    fn takes(query: &str, ca: Option<&str>, host: &str) -> Result<(), Error> {
        let file = ca.map(|pem| {
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(file.path(), pem).unwrap();
            file
        });
        let url = format!("postgres://app@{host}/x{query}");
        let target = crate::config::database_url::parse(&url, file.as_ref().map(|f| f.path())).unwrap();
        let verifier = verifier(&target, &provider()).unwrap();
        let certificate = CertificateDer::from_pem_slice(SERVER.as_bytes()).unwrap();
        let name = ServerName::try_from(host.to_owned()).unwrap();
        verifier.verify_server_cert(&certificate, &[], &name, &[], UnixTime::now()).map(|_| ())
    }

    fn wrong_name(result: Result<(), Error>) -> bool {
        matches!(
            result,
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            ))
        )
    }

    fn unknown_issuer(result: Result<(), Error>) -> bool {
        matches!(result, Err(Error::InvalidCertificate(CertificateError::UnknownIssuer)))
    }

    #[test]
    fn each_sslmode_checks_what_libpq_checks() {
        // verify-full: the chain and the name.
        assert_eq!(takes("?sslmode=verify-full", Some(CA), "db.example"), Ok(()));
        assert!(wrong_name(takes("?sslmode=verify-full", Some(CA), "127.0.0.1")));
        assert!(wrong_name(takes("?sslmode=verify-full", Some(CA), "other.example")));
        assert!(unknown_issuer(takes("?sslmode=verify-full", Some(OTHER_CA), "db.example")));
        // verify-ca: the chain only.
        assert_eq!(takes("?sslmode=verify-ca", Some(CA), "127.0.0.1"), Ok(()));
        assert!(unknown_issuer(takes("?sslmode=verify-ca", Some(OTHER_CA), "db.example")));
        // require and prefer: nothing without a CA, the chain with one (as libpq with a root file).
        for mode in ["?sslmode=require", "?sslmode=prefer", ""] {
            assert_eq!(takes(mode, None, "127.0.0.1"), Ok(()), "{mode}");
        }
        for mode in ["?sslmode=require", "?sslmode=prefer"] {
            assert_eq!(takes(mode, Some(CA), "127.0.0.1"), Ok(()), "{mode}");
            assert!(unknown_issuer(takes(mode, Some(OTHER_CA), "db.example")), "{mode}");
        }
        // A CA without an sslmode: verify-full.
        assert_eq!(takes("", Some(CA), "db.example"), Ok(()));
        assert!(wrong_name(takes("", Some(CA), "127.0.0.1")));
    }

    #[test]
    fn explanations() {
        let target = crate::config::database_url::parse("postgres://app@db/x?sslmode=require", None).unwrap();
        let line = explain("error performing TLS handshake: invalid peer certificate: UnknownIssuer", &target).unwrap();
        assert!(line.starts_with("the server's certificate is not signed by"), "{line}");
        let line = explain(
            "error performing TLS handshake: invalid peer certificate: certificate not valid for name \"127.0.0.1\"; \
             certificate is only valid for DnsName(\"db.example\")",
            &target,
        )
        .unwrap();
        assert!(line.starts_with("the server's certificate does not name the host of the URL"), "{line}");
        assert!(explain("connection refused", &target).is_none());
    }
}
