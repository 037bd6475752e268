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
//!
//! [`for_clients`] decides what the app's clients are given. Clients disagree on what the modes
//! mean (node-postgres and postgres.js verify the certificate and host name for every mode but
//! `disable`; libpq verifies nothing below `verify-ca`), so the exported mode is chosen from
//! what the admin connection actually negotiated, never weaker than the admin URL asked for:
//!
//! | admin connection                         | exported                          |
//! |------------------------------------------|-----------------------------------|
//! | in the clear (`prefer`/`allow`/`disable`) | `disable`                         |
//! | TLS, `verify-full` holds with the roots  | `verify-full` + the CA file       |
//! | TLS, only the chain verifies             | the admin's mode + CA; warning    |
//! | TLS, publicly trusted, no CA file        | `require` (Node verifies anyway)  |
//! | TLS, nothing verifies                    | `require`; warning with the fix   |

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::Socket;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
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

/// The TLS set-up every client of the timeline's database is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTls {
    pub sslmode: SslMode,
    pub sslrootcert: Option<String>,
    /// Said once per run when some mainstream client cannot connect as exported.
    pub warning: Option<String>,
}

impl ClientTls {
    /// Gives `conn` (the app's credentials) this TLS set-up.
    pub fn apply(&self, conn: &mut ConnInfo) {
        conn.sslmode = self.sslmode;
        conn.sslrootcert = self.sslrootcert.clone();
    }
}

/// Takes what the admin connection negotiated (`tls`: whether it is encrypted, as
/// [`Noting`] saw it) and, when TLS is on but not yet fully verified, tries one `verify-full`
/// connection with the same roots, then decides with [`decide`]. Behind a pooler this is the
/// hop the app's clients will use too (to the pooler), which `pg_stat_ssl` on the server
/// could not tell.
pub async fn for_clients(
    tls: bool,
    admin: &ConnInfo,
    timeout: std::time::Duration,
) -> Result<ClientTls> {
    let full = if tls && admin.sslmode != SslMode::VerifyFull {
        let probe = ConnInfo {
            sslmode: SslMode::VerifyFull,
            ..admin.clone()
        };
        super::connect::connect(&probe, timeout.min(std::time::Duration::from_secs(5)))
            .await
            .is_ok()
    } else {
        tls
    };
    Ok(decide(admin, tls, full))
}

/// The pure decision behind [`for_clients`]: `tls` is whether the admin connection is
/// encrypted, `full` whether `verify-full` holds against `admin`'s roots (its `sslrootcert`,
/// else the system's).
pub fn decide(admin: &ConnInfo, tls: bool, full: bool) -> ClientTls {
    const NODE: &str = "node-postgres, postgres.js and Deno check the certificate and host name whatever sslmode says";
    let ca_file = admin.sslrootcert.clone().filter(|c| c != "system");
    let (sslmode, sslrootcert, warning) = match (tls, full, admin.sslmode, ca_file) {
        (false, _, _, _) => (SslMode::Disable, None, None),
        (true, _, SslMode::VerifyFull, ca) => (SslMode::VerifyFull, ca, None),
        (true, true, _, Some(ca)) => (SslMode::VerifyFull, Some(ca), None),
        // Publicly trusted: Node verifies with its own roots; libpq encrypts.
        (true, true, mode, None) => (mode.max(SslMode::Require), None, None),
        (true, false, mode, Some(ca)) => (
            mode.max(SslMode::Require),
            Some(ca),
            Some(format!(
                "the server's certificate is signed by the given CA but does not name host {}; {NODE}, so they will refuse it; connect by a name the certificate holds",
                admin.host
            )),
        ),
        (true, false, mode, None) => (
            mode.max(SslMode::Require),
            None,
            Some(format!(
                "the server's certificate cannot be verified (no CA given, not publicly trusted); {NODE}, so they will refuse it; give the server's CA in DEPLOYDB_CA_CERT or [instance] ca_cert"
            )),
        ),
    };
    ClientTls {
        sslmode,
        sslrootcert,
        warning,
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

/// A connector that notes whether the server took TLS up: under `sslmode=prefer` (and
/// `allow`) the driver only hands the socket to the connector when the server agreed to it.
pub struct Noting<M> {
    inner: M,
    used: Arc<AtomicBool>,
}

impl<M> Noting<M> {
    pub fn new(inner: M) -> (Noting<M>, Arc<AtomicBool>) {
        let used = Arc::new(AtomicBool::new(false));
        (
            Noting {
                inner,
                used: used.clone(),
            },
            used,
        )
    }
}

impl<M: MakeTlsConnect<Socket>> MakeTlsConnect<Socket> for Noting<M>
where
    M::TlsConnect: Send,
    <M::TlsConnect as TlsConnect<Socket>>::Future: Send + 'static,
{
    type Stream = M::Stream;
    type TlsConnect = NotingConnect<M::TlsConnect>;
    type Error = M::Error;

    fn make_tls_connect(
        &mut self,
        domain: &str,
    ) -> std::result::Result<Self::TlsConnect, M::Error> {
        Ok(NotingConnect {
            inner: self.inner.make_tls_connect(domain)?,
            used: self.used.clone(),
        })
    }
}

pub struct NotingConnect<C> {
    inner: C,
    used: Arc<AtomicBool>,
}

type Handshake<S, E> = Pin<Box<dyn Future<Output = std::result::Result<S, E>> + Send>>;

impl<C: TlsConnect<Socket>> TlsConnect<Socket> for NotingConnect<C>
where
    C::Future: Send + 'static,
{
    type Stream = C::Stream;
    type Error = C::Error;
    type Future = Handshake<C::Stream, C::Error>;

    fn connect(self, stream: Socket) -> Self::Future {
        let used = self.used;
        let handshake = self.inner.connect(stream);
        Box::pin(async move {
            let stream = handshake.await?;
            used.store(true, Ordering::Relaxed);
            Ok(stream)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin(query: &str) -> ConnInfo {
        ConnInfo::parse(&format!("postgresql://u:p@db.example/postgres?{query}")).unwrap()
    }

    #[test]
    fn a_plain_connection_exports_disable_whatever_the_url_said() {
        for query in ["", "sslmode=prefer", "sslmode=allow", "sslmode=disable"] {
            let tls = decide(&admin(query), false, false);
            assert_eq!(tls.sslmode, SslMode::Disable, "{query}");
            assert_eq!((tls.sslrootcert, tls.warning), (None, None));
        }
    }

    #[test]
    fn a_verifiable_connection_is_verified_for_every_client() {
        for query in [
            "sslrootcert=/ca.pem",
            "sslmode=require&sslrootcert=/ca.pem",
            "sslmode=verify-ca&sslrootcert=/ca.pem",
            "sslmode=verify-full&sslrootcert=/ca.pem",
        ] {
            let tls = decide(&admin(query), true, true);
            assert_eq!(tls.sslmode, SslMode::VerifyFull, "{query}");
            assert_eq!(tls.sslrootcert.as_deref(), Some("/ca.pem"));
            assert_eq!(tls.warning, None);
        }
        // Publicly trusted, no CA file: libpq cannot verify-full without one, Node verifies.
        let tls = decide(&admin(""), true, true);
        assert_eq!((tls.sslmode, tls.warning), (SslMode::Require, None));
    }

    #[test]
    fn never_weaker_than_asked_and_a_warning_where_node_cannot_follow() {
        let tls = decide(&admin("sslmode=verify-ca&sslrootcert=/ca.pem"), true, false);
        assert_eq!(tls.sslmode, SslMode::VerifyCa);
        assert!(tls.warning.unwrap().contains("host db.example"));
        let tls = decide(&admin("sslmode=require"), true, false);
        assert_eq!(tls.sslmode, SslMode::Require);
        assert!(tls.warning.unwrap().contains("DEPLOYDB_CA_CERT"));
        let tls = decide(&admin("sslmode=verify-full"), true, false);
        assert_eq!((tls.sslmode, tls.warning), (SslMode::VerifyFull, None));
    }
}
