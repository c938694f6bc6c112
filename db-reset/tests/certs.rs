//! Certificates made at test time with the openssl command line, each set in
//! its own temporary directory.

use std::path::PathBuf;
use std::process::Command;

use tempfile::TempDir;

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

    /// A CA, and a leaf it signed for the DNS name `localhost` only.
    /// Returns (CA cert, leaf cert, leaf key).
    pub fn ca_and_leaf(&self) -> (PathBuf, PathBuf, PathBuf) {
        const EC: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        let mut ca = vec![
            "req",
            "-new",
            "-x509",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=stackutils test CA",
        ];
        ca.extend(EC);
        ca.extend([
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ]);
        self.openssl(&ca);

        let mut csr = vec!["req", "-new", "-nodes", "-subj", "/CN=localhost"];
        csr.extend(EC);
        csr.extend(["-keyout", "leaf.key", "-out", "leaf.csr"]);
        self.openssl(&csr);

        std::fs::write(
            self.path("leaf.ext"),
            "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        self.openssl(&[
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-extfile",
            "leaf.ext",
            "-out",
            "leaf.pem",
        ]);
        (
            self.path("ca.pem"),
            self.path("leaf.pem"),
            self.path("leaf.key"),
        )
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("running openssl (apt-get install openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
