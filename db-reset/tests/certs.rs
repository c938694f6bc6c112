//! Certificates made at test time with the openssl command line, each set in
//! its own temporary directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::ResolvesServerCert;
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

use tempfile::TempDir;

use crate::openssl;

pub struct Certs {
    dir: TempDir,
}

impl Certs {
    pub fn new() -> Certs {
        Certs {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Like the original test server's: self-signed, CN=0.0.0.0, no SAN
    /// (OpenSSL's defaults also mark it as a CA). Returns (cert, key).
    pub fn self_signed(&self, name: &str) -> (PathBuf, PathBuf) {
        let (cert, key) = (format!("{name}.pem"), format!("{name}.key"));
        self.openssl(&[
            "req",
            "-new",
            "-x509",
            "-nodes",
            "-newkey",
            "rsa:2048",
            "-days",
            "2",
            "-subj",
            "/CN=0.0.0.0",
            "-keyout",
            &key,
            "-out",
            &cert,
        ]);
        (self.path(&cert), self.path(&key))
    }

    /// Self-signed for CN=0.0.0.0, valid only from `start` to `end`
    /// (`YYYYMMDDHHMMSSZ`), made the way `openssl ca -selfsign` makes it:
    /// X.509 v1, no extensions. Returns (cert, key).
    pub fn dated(&self, name: &str, start: &str, end: &str) -> (PathBuf, PathBuf) {
        let (cert, key, csr) = (
            format!("{name}.pem"),
            format!("{name}.key"),
            format!("{name}.csr"),
        );
        openssl::csr(self.dir.path(), name, &openssl::EC, "/CN=0.0.0.0");
        let db = format!("{name}.db");
        std::fs::write(self.path(&db), "").unwrap();
        std::fs::write(self.path(&format!("{db}.attr")), "unique_subject = no\n").unwrap();
        std::fs::write(self.path(&format!("{name}.serial")), "01\n").unwrap();
        let config = format!("{name}.cnf");
        std::fs::write(
            self.path(&config),
            format!(
                "[ca]\ndefault_ca = d\n[d]\ndatabase = {db}\nnew_certs_dir = .\n\
                 serial = {name}.serial\ndefault_md = sha256\npolicy = p\n\
                 [p]\ncommonName = supplied\n"
            ),
        )
        .unwrap();
        self.openssl(&[
            "ca",
            "-batch",
            "-notext",
            "-selfsign",
            "-config",
            &config,
            "-keyfile",
            &key,
            "-in",
            &csr,
            "-out",
            &cert,
            "-startdate",
            start,
            "-enddate",
            end,
        ]);
        (self.path(&cert), self.path(&key))
    }

    /// Self-signed X.509 v1 (no extensions at all), RSA, valid now, as
    /// `openssl x509 -req -signkey` makes it. Returns (cert, key).
    pub fn v1(&self, name: &str) -> (PathBuf, PathBuf) {
        let (cert, key, csr) = (
            format!("{name}.pem"),
            format!("{name}.key"),
            format!("{name}.csr"),
        );
        openssl::csr(
            self.dir.path(),
            name,
            &["-newkey", "rsa:2048"],
            "/CN=old.example",
        );
        self.openssl(&[
            "x509", "-req", "-days", "2", "-in", &csr, "-signkey", &key, "-out", &cert,
        ]);
        (self.path(&cert), self.path(&key))
    }

    /// A CA, and a leaf it signed for the DNS name `localhost` only.
    /// Returns (CA cert, leaf cert, leaf key).
    pub fn ca_and_leaf(&self) -> (PathBuf, PathBuf, PathBuf) {
        openssl::ca(self.dir.path(), "ca", "/CN=stackutils test CA");
        openssl::leaf(self.dir.path(), "ca", "leaf", openssl::SERVER_LEAF);
        (
            self.path("ca.pem"),
            self.path("leaf.pem"),
            self.path("leaf.key"),
        )
    }

    /// The directory the certificates are made in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn openssl(&self, args: &[&str]) {
        openssl::openssl(self.dir.path(), args);
    }
}

/// A server configuration presenting exactly this certificate, whatever it
/// is: rustls' own `with_single_cert` refuses X.509 v1 certificates, which
/// the tests need to present.
pub fn server_config(cert: &Path, key: &Path) -> ServerConfig {
    server_config_for(cert, key, rustls::DEFAULT_VERSIONS)
}

/// The same, speaking only these TLS versions. The key need not be the
/// certificate's: a server can show a certificate whose key it lacks.
pub fn server_config_for(
    cert: &Path,
    key: &Path,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> ServerConfig {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signer = provider.key_provider.load_private_key(key).unwrap();
    let certified = Arc::new(CertifiedKey::new(certs, signer));
    ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Always(certified)))
}

#[derive(Debug)]
struct Always(Arc<CertifiedKey>);

impl ResolvesServerCert for Always {
    fn resolve(&self, _: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}
