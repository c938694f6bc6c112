//! Whom db-reset trusts, case by case: the handshake key check that no
//! trust gives up, and `--cacert` added to the system store, not replacing it.

use std::path::Path;
use std::process::Output;

use crate::certs::{server_config_for, Certs};
use crate::openssl;
use crate::server::{any_port, Server};
use crate::{cmd, exits, output};

const TOKEN: &str = "4axaw8zxe0qm22wa6urpp5nskcne8z88cvbupv653y1njyi05h"; // fixture "admin"

fn auth() -> String {
    format!("OAuth2 {TOKEN}")
}

/// `db-reset --host HOST ARGS...` with the admin token and this file as the
/// system store (`SSL_CERT_FILE`, as rustls-native-certs reads it).
fn reset(host: &str, system: &Path, args: &[&std::ffi::OsStr]) -> Output {
    output(
        cmd()
            .env("ARVADOS_API_TOKEN", TOKEN)
            .env("SSL_CERT_FILE", system)
            .args(["--host", host])
            .args(args),
    )
}

/// A server showing `cert`, signing with `key`, speaking only `versions`.
fn serve_with(
    cert: &Path,
    key: &Path,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Server {
    Server::with_config(
        any_port(),
        server_config_for(cert, key, versions),
        &auth(),
        200,
    )
}

#[test]
fn a_server_without_the_key_of_its_certificate_is_refused_whatever_the_trust() {
    let certs = Certs::new();
    let (pinned, _) = certs.self_signed("pinned");
    let (_, other_key) = certs.self_signed("other");
    let (ca, leaf, _) = certs.ca_and_leaf();
    // An EC key of the leaf's type, not the leaf's own.
    let (_, ec_key) = certs.dated("ec", "20200101000000Z", "20990101000000Z");
    let empty = certs.path("empty.pem");
    std::fs::write(&empty, "").unwrap();
    for (what, versions) in [
        ("TLS 1.3", &[&rustls::version::TLS13][..]),
        ("TLS 1.2", &[&rustls::version::TLS12][..]),
    ] {
        let cases: [(&str, &Path, &Path, Vec<&std::ffi::OsStr>, &str); 3] = [
            (
                "pinned",
                &pinned,
                &other_key,
                vec!["--cacert".as_ref(), pinned.as_os_str()],
                "127.0.0.1",
            ),
            (
                "--insecure",
                &pinned,
                &other_key,
                vec!["--insecure".as_ref()],
                "127.0.0.1",
            ),
            (
                "CA-issued",
                &leaf,
                &ec_key,
                vec!["--cacert".as_ref(), ca.as_os_str()],
                "localhost",
            ),
        ];
        for (trust, cert, key, args, name) in cases {
            let server = serve_with(cert, key, versions);
            let host = format!("{name}:{}", server.port);
            let out = reset(&host, &empty, &args);
            let err = exits(&out, 2);
            assert!(
                err.contains(&format!(
                    "db-reset: TLS with {host} failed: certificate rejected: BadSignature\n"
                )),
                "{what}, {trust}: {err}"
            );
            assert!(server.request().is_none(), "{what}, {trust}: request sent");
        }
    }
}

#[test]
fn the_right_key_passes_over_tls_1_2_too() {
    let certs = Certs::new();
    let (pinned, key) = certs.self_signed("pinned");
    let (ca, leaf, leaf_key) = certs.ca_and_leaf();
    let empty = certs.path("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let tls12 = &[&rustls::version::TLS12][..];
    let server = serve_with(&pinned, &key, tls12);
    let host = format!("127.0.0.1:{}", server.port);
    exits(
        &reset(&host, &empty, &["--cacert".as_ref(), pinned.as_os_str()]),
        0,
    );
    assert!(server.request().is_some());
    let server = serve_with(&leaf, &leaf_key, tls12);
    let host = format!("localhost:{}", server.port);
    exits(
        &reset(&host, &empty, &["--cacert".as_ref(), ca.as_os_str()]),
        0,
    );
    assert!(server.request().is_some());
}

#[test]
fn cacert_adds_to_the_system_store() {
    let certs = Certs::new();
    let (ca, leaf, key) = certs.ca_and_leaf();
    let (pinned, _) = certs.self_signed("pinned");
    // PEM, but no certificate webpki can use as a CA.
    let garbage = certs.path("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nAAECAwQFBgcICQ==\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let empty = certs.path("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let server = Server::start(&leaf, &key, &auth(), 200);
    let host = format!("localhost:{}", server.port);
    for cacert in [&pinned, &garbage] {
        // The CA in the system store: trusted, whatever --cacert adds.
        exits(
            &reset(&host, &ca, &["--cacert".as_ref(), cacert.as_os_str()]),
            0,
        );
        assert!(server.request().is_some(), "{}", cacert.display());
    }
    // Not there: an unknown CA (with no CA at all anywhere, that is said).
    for (cacert, why) in [
        (&pinned, "certificate not trusted: issued by an unknown CA"),
        (&garbage, "unexpected error: no usable CA certificate"),
    ] {
        let err = exits(
            &reset(&host, &empty, &["--cacert".as_ref(), cacert.as_os_str()]),
            2,
        );
        assert!(
            err.starts_with(&format!("db-reset: TLS with {host} failed: {why}")),
            "{}: {err}",
            cacert.display()
        );
    }
    assert!(server.request().is_none());
}

#[test]
fn a_certificate_refused_for_another_reason_is_not_called_a_ca() {
    let certs = Certs::new();
    let (ca, _, _) = certs.ca_and_leaf();
    // Issued by the CA for localhost, with a critical extension no one knows.
    openssl::leaf(
        certs.dir(),
        "ca",
        "odd",
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n1.3.6.1.4.1.55555.1=critical,ASN1:NULL\n",
    );
    let server = Server::start(&certs.path("odd.pem"), &certs.path("odd.key"), &auth(), 200);
    let host = format!("localhost:{}", server.port);
    let empty = certs.path("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let err = exits(
        &reset(&host, &empty, &["--cacert".as_ref(), ca.as_os_str()]),
        2,
    );
    assert!(
        err.starts_with(&format!(
            "db-reset: TLS with {host} failed: certificate rejected: "
        )) && err.contains("UnsupportedCriticalExtension"),
        "{err}"
    );
    assert!(!err.contains("CA certificate"), "{err}");
    assert!(server.request().is_none());
}
