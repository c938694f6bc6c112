//! The openssl command lines that make test certificates (a CA, a leaf it
//! signs), written once for the integration tests and the unit tests in
//! src/: src/lib.rs includes this file by `#[path]` under `#[cfg(test)]`, so
//! none of it is in the shipped binary or the library's API.

use std::path::Path;
use std::process::Command;

/// `-newkey` for a P-256 key: quick to make, unlike RSA.
pub const EC: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

/// Runs openssl in `dir`.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running openssl (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A new key `NAME.key` (made with the `-newkey` arguments `newkey`) and a
/// request `NAME.csr` for it with this subject, in `dir`.
pub fn csr(dir: &Path, name: &str, newkey: &[&str], subject: &str) {
    let (key, csr) = (format!("{name}.key"), format!("{name}.csr"));
    let mut args = vec!["req", "-new", "-nodes", "-subj", subject];
    args.extend(newkey);
    args.extend(["-keyout", &key, "-out", &csr]);
    openssl(dir, &args);
}

/// A self-signed CA with this subject in `dir`: `NAME.pem`, `NAME.key`.
pub fn ca(dir: &Path, name: &str, subject: &str) {
    let (pem, key) = (format!("{name}.pem"), format!("{name}.key"));
    let mut args = vec![
        "req", "-new", "-x509", "-nodes", "-days", "2", "-subj", subject,
    ];
    args.extend(EC);
    args.extend([
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
        "-keyout",
        &key,
        "-out",
        &pem,
    ]);
    openssl(dir, &args);
}

/// A leaf for CN=localhost that the CA `CA.pem` (key `CA.key`) in `dir`
/// signs with the extensions `ext` (openssl's extfile lines): `NAME.pem`,
/// `NAME.key` (and `NAME.csr`, `NAME.ext`).
pub fn leaf(dir: &Path, ca: &str, name: &str, ext: &str) {
    csr(dir, name, &EC, "/CN=localhost");
    let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
    let (req, extfile, pem) = (
        format!("{name}.csr"),
        format!("{name}.ext"),
        format!("{name}.pem"),
    );
    std::fs::write(dir.join(&extfile), ext).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            &req,
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-extfile",
            &extfile,
            "-out",
            &pem,
        ],
    );
}

/// The extensions of a leaf a server may use for `localhost`.
pub const SERVER_LEAF: &str =
    "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n";
