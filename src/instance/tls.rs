//! TLS as libpq means it, on rustls (no OpenSSL, so the binary stays static-friendly):
//!
//! | sslmode      | encrypts            | verifies the chain           | checks the host name |
//! |--------------|---------------------|------------------------------|----------------------|
//! | disable      | no                  | —                            | —                    |
//! | allow        | only if plain fails | no                           | no                   |
//! | prefer       | if the server can   | no                           | no                   |
//! | require      | yes                 | only when a root CA is given | no                   |
//! | verify-ca    | yes                 | yes (given CA, else system)  | no                   |
//! | verify-full  | yes                 | yes (given CA, else system)  | yes                  |
//!
//! Root certificates are only loaded when a mode needs them, so plain connections pay nothing.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::conninfo::{ConnInfo, SslMode};
use crate::error::{Error, Result};

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Nothing,
    Chain,
    ChainAndHost,
}

fn check_for(info: &ConnInfo) -> Check {
    match info.sslmode {
        SslMode::Disable | SslMode::Allow | SslMode::Prefer => Check::Nothing,
        SslMode::Require if info.sslrootcert.is_some() => Check::Chain,
        SslMode::Require => Check::Nothing,
        SslMode::VerifyCa => Check::Chain,
        SslMode::VerifyFull => Check::ChainAndHost,
    }
}

/// The rustls connector for `info`'s sslmode and root certificates.
pub fn connector(info: &ConnInfo) -> Result<MakeRustlsConnect> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match check_for(info) {
        Check::Nothing => Arc::new(NoCheck(provider.clone())),
        check => {
            let roots = Arc::new(roots(info)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| Error::usage(format!("the root certificates cannot be used: {e}")))?;
            if check == Check::Chain {
                Arc::new(ChainOnly(webpki))
            } else {
                webpki
            }
        }
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS set-up failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// The given CA file (`sslrootcert`), or the system's roots (also for `sslrootcert=system`).
fn roots(info: &ConnInfo) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    match info.sslrootcert.as_deref() {
        Some(path) if path != "system" => {
            let pem = std::fs::read(path).map_err(|e| {
                Error::usage(format!(
                    "the root certificate file {path} cannot be read: {e}"
                ))
                .with_hint(
                    "check sslrootcert in the admin URL, [instance] ca_cert or DEPLOYDB_CA_CERT",
                )
            })?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| {
                    Error::usage(format!("{path} is not a PEM certificate file: {e}"))
                })?;
                store.add(cert).map_err(|e| {
                    Error::usage(format!(
                        "{path} holds a certificate that cannot be used: {e}"
                    ))
                })?;
            }
            if store.is_empty() {
                return Err(Error::usage(format!("{path} holds no PEM certificate")));
            }
        }
        _ => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(Error::usage(
                    "no system root certificates were found to verify the server with",
                )
                .with_hint(
                    "give the server's CA with sslrootcert, [instance] ca_cert or DEPLOYDB_CA_CERT",
                ));
            }
        }
    }
    Ok(store)
}

/// Encrypts without verifying (libpq's `prefer`, and `require` without a root certificate).
/// Handshake signatures are still checked, so the session key is the certificate holder's.
#[derive(Debug)]
struct NoCheck(Arc<CryptoProvider>);

impl ServerCertVerifier for NoCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
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
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Verifies the chain but not the host name (libpq's `verify-ca`).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
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
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
