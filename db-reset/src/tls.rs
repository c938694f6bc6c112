//! Whom to trust: pinned certificates, CAs from --cacert, the system store.
//!
//! webpki refuses the certificate the original test server makes with
//! `openssl req -x509 -nodes -subj /CN=0.0.0.0` twice over (it is marked as a
//! CA, and its name is only in the CN). Someone who passes that file as
//! `--cacert` means "trust exactly this certificate", so a server presenting
//! exactly a self-signed certificate of --cacert is accepted; any other
//! certificate gets full verification.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::{bail, Context};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, SubjectPublicKeyInfoDer, UnixTime};

use crate::x509;

/// What to trust.
#[derive(Debug, Default)]
pub struct Trust {
    /// Certificates from --cacert: pinned, and CAs.
    pub certs: Vec<CertificateDer<'static>>,
    /// Also trust the system's CA store.
    pub system: bool,
    /// Accept any certificate (the handshake signature is still checked).
    pub insecure: bool,
}

/// Reads every certificate in a PEM file.
pub fn load_pem(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read --cacert {}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("--cacert {}: not a valid PEM file", path.display()))?;
    if certs.is_empty() {
        bail!(
            "--cacert {}: no certificate found (expected -----BEGIN CERTIFICATE-----)",
            path.display()
        );
    }
    Ok(certs)
}

/// The configuration a command line asks for: the certificates of
/// `--cacert` (pinned, and CAs), the system store, and `--insecure`.
pub fn cli_config(cacert: Option<&Path>, insecure: bool) -> anyhow::Result<ClientConfig> {
    let certs = match cacert {
        Some(path) => load_pem(path)?,
        None => Vec::new(),
    };
    client_config(Trust {
        certs,
        system: true,
        insecure,
    })
}

/// The rustls client configuration for this trust (ring provider).
pub fn client_config(trust: Trust) -> anyhow::Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let pinned = trust
        .certs
        .iter()
        .filter(|c| self_signed(c))
        .cloned()
        .collect();
    let verifier = Verifier {
        pinned,
        trust,
        provider: provider.clone(),
        own: OnceLock::new(),
        system: OnceLock::new(),
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(config)
}

#[derive(Debug)]
struct Verifier {
    /// The self-signed certificates of --cacert: a server presenting exactly
    /// one of them is trusted as it is.
    pinned: Vec<CertificateDer<'static>>,
    trust: Trust,
    provider: Arc<CryptoProvider>,
    /// Verifiers built on first use, for --cacert's CAs alone and with the
    /// system store added: loading the store costs milliseconds that a pinned
    /// or --cacert-issued certificate does not need.
    own: OnceLock<Result<Arc<WebPkiServerVerifier>, String>>,
    system: OnceLock<Result<Arc<WebPkiServerVerifier>, String>>,
}

impl Verifier {
    fn webpki(&self, with_system: bool) -> Result<&Arc<WebPkiServerVerifier>, rustls::Error> {
        let cell = if with_system { &self.system } else { &self.own };
        cell.get_or_init(|| {
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(self.trust.certs.iter().cloned());
            if with_system {
                roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            }
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| format!("no usable CA certificate ({e})"))
        })
        .as_ref()
        .map_err(|e| rustls::Error::General(e.clone()))
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.trust.insecure {
            return Ok(ServerCertVerified::assertion());
        }
        if self.pinned.iter().any(|c| c == end_entity) {
            // Pinning trusts the certificate, not forever: its dates still hold.
            return match x509::parse(end_entity) {
                Some(cert) if !(cert.not_before..=cert.not_after).contains(&now_secs(now)) => Err(
                    rustls::CertificateError::Other(rustls::OtherError(Arc::new(OutOfDate {
                        not_before: cert.not_before,
                        not_after: cert.not_after,
                        now: now_secs(now),
                    })))
                    .into(),
                ),
                _ => Ok(ServerCertVerified::assertion()),
            };
        }
        let verify = |with_system| {
            self.webpki(with_system)?.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            )
        };
        if self.trust.certs.is_empty() {
            return verify(true);
        }
        // A chain valid against all roots is valid against the one anchor it
        // ends at, so trying --cacert's roots first changes no verdict.
        match verify(false) {
            // UnknownIssuer, or no usable anchor at all in --cacert.
            Err(
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
                | rustls::Error::General(_),
            ) if self.trust.system => verify(true),
            other => other,
        }
    }

    // Signatures are always checked, so even a pinned or --insecure peer must
    // hold the private key of the certificate it shows. They are checked
    // with the certificate's public key alone, which works for X.509 v1
    // certificates too (webpki refuses to parse those).
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // TLS 1.3 allows neither PKCS#1 v1.5 RSA nor SHA-1 (RFC 8446 4.2.3).
        if !matches!(
            dss.scheme,
            SignatureScheme::ECDSA_NISTP256_SHA256
                | SignatureScheme::ECDSA_NISTP384_SHA384
                | SignatureScheme::ECDSA_NISTP521_SHA512
                | SignatureScheme::RSA_PSS_SHA256
                | SignatureScheme::RSA_PSS_SHA384
                | SignatureScheme::RSA_PSS_SHA512
                | SignatureScheme::ED25519
        ) {
            return Err(rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme.into());
        }
        self.signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

impl Verifier {
    fn signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let cert = x509::parse(cert).ok_or(rustls::Error::InvalidCertificate(
            rustls::CertificateError::BadEncoding,
        ))?;
        let spki = SubjectPublicKeyInfoDer::from(cert.spki);
        let key = webpki::RawPublicKeyEntity::try_from(&spki).map_err(|_| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
        })?;
        let algorithms = self
            .provider
            .signature_verification_algorithms
            .mapping
            .iter()
            .find(|(scheme, _)| *scheme == dss.scheme)
            .map(|(_, algs)| *algs)
            .ok_or(rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme)?;
        // A scheme may name several algorithms (ECDSA over each curve): the
        // one for this key's type verifies, the others say it does not fit.
        for alg in algorithms {
            match key.verify_signature(*alg, message, dss.signature()) {
                Ok(()) => return Ok(HandshakeSignatureValid::assertion()),
                Err(webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_)) => {}
                Err(_) => break,
            }
        }
        Err(rustls::CertificateError::BadSignature.into())
    }
}

fn now_secs(now: UnixTime) -> i64 {
    i64::try_from(now.as_secs()).unwrap_or(i64::MAX)
}

/// A pinned certificate used outside its dates.
#[derive(Debug)]
struct OutOfDate {
    not_before: i64,
    not_after: i64,
    now: i64,
}

impl std::fmt::Display for OutOfDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.now > self.not_after {
            "expired"
        } else {
            "not valid yet"
        };
        write!(
            f,
            "pinned certificate {what}: valid from {} to {}, it is now {}",
            date(self.not_before),
            date(self.not_after),
            date(self.now)
        )
    }
}

impl std::error::Error for OutOfDate {}

/// A certificate date, in UTC as RFC 3339 writes it.
fn date(secs: i64) -> String {
    let time = u64::try_from(secs).map_or(std::time::UNIX_EPOCH, |s| {
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(s)
    });
    humantime::format_rfc3339_seconds(time).to_string()
}

/// Self-signed as `openssl req -x509` makes them (issuer = subject): the
/// user trusts exactly that certificate. A CA-issued certificate named in
/// --cacert is only a CA, and gets full verification.
fn self_signed(cert: &CertificateDer<'_>) -> bool {
    x509::parse(cert).is_some_and(|c| c.issuer == c.subject)
}

/// A plain-words reason for a certificate rustls refused.
pub fn explain(err: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match err {
        rustls::Error::InvalidCertificate(cert) => match cert {
            C::UnknownIssuer => "certificate not trusted: issued by an unknown CA \
                                 (use --cacert FILE, or --insecure)"
                .into(),
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                format!("certificate not valid for this host name ({cert})")
            }
            C::Expired | C::ExpiredContext { .. } => format!("certificate expired ({cert})"),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                format!("certificate not valid yet ({cert})")
            }
            C::Other(other) if other.0.downcast_ref::<OutOfDate>().is_some() => other.to_string(),
            C::Other(other)
                if matches!(
                    other.0.downcast_ref::<webpki::Error>(),
                    Some(webpki::Error::CaUsedAsEndEntity)
                ) =>
            {
                "certificate not trusted: the server presents a CA certificate, as a \
                 self-signed one made by `openssl req -x509` is (give that certificate with \
                 --cacert FILE to trust exactly it, or --insecure)"
                    .into()
            }
            other => format!("certificate rejected: {other}"),
        },
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
            "the server does not speak TLS (plain HTTP on this port?)".into()
        }
        rustls::Error::InvalidMessage(why) => {
            format!("the server's TLS messages are malformed ({why:?}): not TLS, or broken")
        }
        rustls::Error::PeerIncompatible(why) => format!(
            "the server offers no TLS version, cipher or key type in common \
             (TLS 1.2 and 1.3 with current ciphers only): {why:?}"
        ),
        rustls::Error::AlertReceived(alert) => format!(
            "the server ended the handshake with the alert {alert:?} (it may want a \
             client certificate, or only old TLS versions)"
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openssl;

    #[test]
    fn pem_errors_name_the_file() {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(tmp.path(), "not a certificate\n").unwrap();
        let err = load_pem(tmp.path()).unwrap_err().to_string();
        assert!(err.contains(&tmp.path().display().to_string()), "{err}");
        assert!(err.contains("no certificate found"), "{err}");
        let err = load_pem(Path::new("/nonexistent.pem"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cannot read --cacert /nonexistent.pem"),
            "{err}"
        );
    }

    #[test]
    fn reasons_are_plain() {
        let e = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        assert!(explain(&e).contains("unknown CA"));
        let e = rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName);
        assert!(explain(&e).contains("not valid for this host name"));
        let e = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        assert!(explain(&e).contains("does not speak TLS"));
        let e = rustls::Error::PeerIncompatible(rustls::PeerIncompatible::NoCipherSuitesInCommon);
        assert!(explain(&e).contains("no TLS version, cipher or key type in common"));
        let e = rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure);
        assert!(explain(&e).contains("ended the handshake with the alert HandshakeFailure"));
        let e = rustls::Error::InvalidCertificate(rustls::CertificateError::Other(
            rustls::OtherError(std::sync::Arc::new(webpki::Error::CaUsedAsEndEntity)),
        ));
        assert!(explain(&e).contains("--cacert FILE to trust exactly it"));
    }

    #[test]
    fn builds_a_config() {
        assert!(client_config(Trust::default()).is_ok());
    }

    /// A CA made by openssl in `dir` (`NAME.pem`, `NAME.key`).
    fn ca(dir: &Path, name: &str) -> CertificateDer<'static> {
        openssl::ca(dir, name, &format!("/CN=test CA {name}"));
        load_pem(&dir.join(format!("{name}.pem")))
            .unwrap()
            .remove(0)
    }

    /// Without the system store, only --cacert's CAs are asked; with it,
    /// the system store is asked when they do not know the issuer.
    #[test]
    fn the_system_store_is_asked_only_when_trusted() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        ca(dir, "ca");
        let other = ca(dir, "other");
        openssl::leaf(dir, "ca", "leaf", openssl::SERVER_LEAF);
        let leaf = load_pem(&dir.join("leaf.pem")).unwrap().remove(0);
        // The system store (as rustls-native-certs reads it) holds the
        // leaf's CA; no other test of this binary reads it.
        std::env::set_var("SSL_CERT_FILE", dir.join("ca.pem"));
        let verify = |system| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let verifier = Verifier {
                pinned: Vec::new(),
                trust: Trust {
                    certs: vec![other.clone()],
                    system,
                    insecure: false,
                },
                provider,
                own: OnceLock::new(),
                system: OnceLock::new(),
            };
            let name = ServerName::try_from("localhost").unwrap();
            verifier.verify_server_cert(&leaf, &[], &name, &[], UnixTime::now())
        };
        let with_system = verify(true);
        assert!(with_system.is_ok(), "{with_system:?}");
        assert!(matches!(
            verify(false),
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            ))
        ));
    }
}
