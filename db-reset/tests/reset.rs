//! Each case of the issue, against a real HTTPS server.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::certs::Certs;
use crate::reserved::Reserved;
use crate::server::Server;
use crate::{assert_contains, cmd, corpus, exits, output, stdout};

const TOKEN: &str = "4axaw8zxe0qm22wa6urpp5nskcne8z88cvbupv653y1njyi05h"; // fixture "admin"
const WRONG: &str = "wrongwrongwrong0000000000000000000000000000000000";

fn auth() -> String {
    format!("OAuth2 {TOKEN}")
}

/// A server with a CA-issued certificate for `localhost`; returns the CA too.
fn ca_server(status: u16) -> (Certs, Server) {
    let certs = Certs::new();
    let (_, leaf, key) = certs.ca_and_leaf();
    let server = Server::start(&leaf, &key, &auth(), status);
    (certs, server)
}

fn localhost(server: &Server) -> String {
    format!("localhost:{}", server.port)
}

fn loopback(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// `db-reset` with the admin token in its environment.
fn with_token() -> Command {
    let mut cmd = cmd();
    cmd.env("ARVADOS_API_TOKEN", TOKEN);
    cmd
}

/// `db-reset --host HOST --cacert CACERT` with the admin token.
fn reset(host: &str, cacert: &Path) -> Output {
    output(with_token().args(["--host", host, "--cacert"]).arg(cacert))
}

/// `db-reset` taking the token of fixture entry `name` from the corpus.
fn reset_by_name(server: &Server, certs: &Certs, name: &str) -> Output {
    output(
        cmd()
            .args([
                "--host",
                &localhost(server),
                "--token-name",
                name,
                "--fixtures",
            ])
            .arg(corpus())
            .arg("--cacert")
            .arg(certs.path("ca.pem")),
    )
}

/// Asserts the TLS handshake with `host` failed for `reason` (exit 2) and
/// returns stderr.
fn tls_failed(out: &Output, host: &str, reason: &str) -> String {
    let err = exits(out, 2);
    assert!(
        err.starts_with(&format!("db-reset: TLS with {host} failed: {reason}")),
        "{err}"
    );
    err
}

fn assert_no_token(text: &str) {
    assert!(
        !text.contains(TOKEN) && !text.contains(WRONG),
        "token leaked: {text}"
    );
}

#[test]
fn good_token_resets_the_database() {
    let (certs, server) = ca_server(200);
    let out = reset(&localhost(&server), &certs.path("ca.pem"));
    assert_eq!(exits(&out, 0), "");
    assert_eq!(stdout(&out), "");
    let seen = server.request().expect("the server saw the request");
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/database/reset");
    assert_eq!(seen.authorization, auth());
    assert_eq!(seen.content_length.as_deref(), Some("0"));
}

#[test]
fn host_comes_from_the_environment_and_export_prints_what_reset_set() {
    let (certs, server) = ca_server(200);
    let host = localhost(&server);
    let out = output(
        with_token()
            .env("ARVADOS_API_HOST", &host)
            .arg("--export")
            .arg("--cacert")
            .arg(certs.path("ca.pem")),
    );
    exits(&out, 0);
    assert_eq!(
        stdout(&out),
        format!(
            "export ARVADOS_API_HOST_INSECURE=true\nexport ARVADOS_API_HOST={host}\n\
             export ARVADOS_API_TOKEN={TOKEN}\n"
        )
    );
}

#[test]
fn pinned_self_signed_certificate_like_the_original() {
    let certs = Certs::new();
    let (cert, key) = certs.self_signed("self-signed");
    let server = Server::start(&cert, &key, &auth(), 200);
    exits(&reset(&loopback(server.port), &cert), 0);
    assert!(server.request().is_some());
}

/// An IPv6 address as host: in brackets in the URL, without them in the
/// TLS server name.
#[test]
fn pinned_over_ipv6() {
    let Ok(listener) = std::net::TcpListener::bind("[::1]:0") else {
        return crate::skip("no IPv6 loopback (::1) here");
    };
    let certs = Certs::new();
    let (cert, key) = certs.self_signed("self-signed");
    let server = Server::start_on(listener, &cert, &key, &auth(), 200);
    exits(&reset(&format!("[::1]:{}", server.port), &cert), 0);
    assert!(server.request().is_some());
}

#[test]
fn a_different_self_signed_certificate_is_refused() {
    let certs = Certs::new();
    let (pinned, _) = certs.self_signed("pinned");
    let (other, other_key) = certs.self_signed("other");
    let server = Server::start(&other, &other_key, &auth(), 200);
    let host = loopback(server.port);
    tls_failed(&reset(&host, &pinned), &host, "certificate");
}

#[test]
fn a_ca_issued_certificate_in_cacert_is_not_pinned() {
    // Only a self-signed certificate is trusted as it is; the leaf, named for
    // localhost only, still has its name checked.
    let (certs, server) = ca_server(200);
    let host = loopback(server.port);
    tls_failed(&reset(&host, &certs.path("leaf.pem")), &host, "certificate");
    assert!(server.request().is_none());
}

#[test]
fn wrong_token_is_refused_and_not_shown() {
    let (certs, server) = ca_server(200);
    let tokens = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tokens.path(), format!("{WRONG}\n")).unwrap();
    let out = output(
        cmd()
            .args(["--host", &localhost(&server), "--token-file"])
            .arg(tokens.path())
            .arg("--cacert")
            .arg(certs.path("ca.pem")),
    );
    let err = exits(&out, 1);
    assert_contains(&err, "answered 401 Unauthorized");
    assert_contains(&err, "Not logged in");
    assert_no_token(&err);
    assert_eq!(
        server.request().unwrap().authorization,
        format!("OAuth2 {WRONG}")
    );
}

#[test]
fn forbidden_and_server_errors_fail_with_status_and_body() {
    for (status, words) in [
        (403, "Forbidden to POST https://localhost"),
        (500, "database is on fire"),
    ] {
        let (certs, server) = ca_server(status);
        let err = exits(&reset(&localhost(&server), &certs.path("ca.pem")), 1);
        let head = format!("answered {status} ");
        assert!(err.contains(&head) && err.contains(words), "{err}");
        assert_no_token(&err);
    }
}

#[test]
fn a_token_echoed_by_the_server_is_masked() {
    let (certs, server) = ca_server(400);
    let err = exits(&reset(&localhost(&server), &certs.path("ca.pem")), 1);
    assert!(
        err.contains("answered 400 Bad Request for OAuth2 <secret> to POST")
            && err.contains("Bad request with OAuth2 <secret>"),
        "{err}"
    );
    assert_no_token(&err);
}

#[test]
fn a_huge_retry_for_is_a_usage_error_not_a_crash() {
    let out = output(with_token().args(["--host", "127.0.0.1:1", "--retry-for", "500000000000y"]));
    assert_contains(&exits(&out, 2), "expected at most 100 years");
}

#[test]
fn untrusted_certificate_fails() {
    let (_certs, server) = ca_server(200);
    let host = localhost(&server);
    let out = output(with_token().args(["--host", &host]));
    let err = tls_failed(
        &out,
        &host,
        "certificate not trusted: issued by an unknown CA",
    );
    assert_no_token(&err);
    assert!(
        server.request().is_none(),
        "no request may be sent to an untrusted server"
    );
}

#[test]
fn insecure_passes_with_a_warning() {
    let (_certs, server) = ca_server(200);
    let host = localhost(&server);
    let out = output(with_token().args(["--host", &host, "--insecure"]));
    assert_contains(
        &exits(&out, 0),
        "warning: not verifying the TLS certificate",
    );

    let out = output(
        with_token()
            .env("ARVADOS_API_HOST_INSECURE", "true")
            .args(["--host", &host]),
    );
    assert_contains(&exits(&out, 0), "warning:");
}

#[test]
fn a_closed_stderr_is_no_crash() {
    let (_certs, server) = ca_server(200);
    let mut child = with_token()
        .args(["--host", &localhost(&server), "--insecure", "--verbose"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take()); // the warning goes to a pipe nobody reads
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(server.request().is_some());
}

#[test]
fn wrong_host_name_fails_naming_host_and_reason() {
    let (certs, server) = ca_server(200);
    let host = loopback(server.port); // the certificate names only localhost
    tls_failed(
        &reset(&host, &certs.path("ca.pem")),
        &host,
        "certificate not valid for this host name",
    );
}

#[test]
fn plain_http_on_the_port_is_named() {
    let server = Server::plain_http();
    let host = loopback(server.port);
    let out = output(with_token().args(["--host", &host]));
    assert_eq!(
        exits(&out, 2),
        format!(
            "db-reset: TLS with {host} failed: the server does not speak TLS (plain HTTP on this port?)\n"
        )
    );
}

#[test]
fn waits_for_a_server_that_starts_late() {
    let certs = Certs::new();
    let (ca, leaf, key) = certs.ca_and_leaf();
    // A port of ours that nobody listens on yet.
    let reserved = Reserved::new();
    let port = reserved.port;
    let mut child = with_token()
        .args([
            "--host",
            &format!("localhost:{port}"),
            "--retry-for",
            "20s",
            "--verbose",
            "--cacert",
        ])
        .arg(&ca)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Start the server only once db-reset has been refused at least once.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().expect("a line on stderr").unwrap();
    assert!(first.contains("connection refused, retrying"), "{first}");
    let server = Server::start_on(reserved.listen(), &leaf, &key, &auth(), 200);
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    assert!(server.request().is_some());
}

#[test]
fn retrying_says_so_at_most_once_a_second() {
    let reserved = Reserved::new();
    let host = loopback(reserved.port);
    let out = output(with_token().args(["--host", &host, "--retry-for", "1500ms", "--verbose"]));
    let err = exits(&out, 1);
    let said = err.matches("connection refused, retrying").count();
    // Lines a second apart in 1.5 s: one or two, not one per attempt.
    assert!((1..=2).contains(&said), "{err}");
    assert!(
        err.ends_with(&format!(
            "db-reset: cannot connect to {host}: Connection refused (os error 111)\n"
        )),
        "{err}"
    );
}

#[test]
fn refused_without_retry_fails_at_once() {
    let reserved = Reserved::new();
    let out = output(with_token().args(["--host", &loopback(reserved.port)]));
    assert_contains(&exits(&out, 1), "cannot connect to 127.0.0.1");
}

#[test]
fn a_server_that_never_answers_times_out() {
    let server = Server::silent();
    let out =
        output(with_token().args(["--host", &loopback(server.port), "--read-timeout", "300ms"]));
    assert_contains(&exits(&out, 1), "did not answer within 300ms");
}

#[test]
fn token_by_fixture_name() {
    let (certs, server) = ca_server(200);
    exits(&reset_by_name(&server, &certs, "admin"), 0);
    assert_eq!(server.request().unwrap().authorization, auth());
}

#[test]
fn missing_fixture_entry_fails_before_connecting() {
    let (certs, server) = ca_server(200);
    let err = exits(&reset_by_name(&server, &certs, "admn"), 2);
    assert!(
        err.contains("no entry 'admn'") && err.contains("closest: admin"),
        "{err}"
    );
    assert!(server.request().is_none());
}

#[test]
fn bearer_scheme_and_other_path() {
    let certs = Certs::new();
    let (ca, leaf, key) = certs.ca_and_leaf();
    let server = Server::start(&leaf, &key, &format!("Bearer {TOKEN}"), 200);
    let out = output(
        with_token()
            .args([
                "--host",
                &localhost(&server),
                "--scheme",
                "Bearer",
                "--path",
                "/arvados/v1/reset",
            ])
            .arg("--cacert")
            .arg(&ca),
    );
    exits(&out, 0);
    assert_eq!(server.request().unwrap().path, "/arvados/v1/reset");
}

/// Runs `cmd`, which must fail as a usage error (exit 2); returns stderr.
fn usage_error(cmd: &mut Command) -> String {
    exits(&output(cmd), 2)
}

#[test]
fn usage_errors() {
    let err = usage_error(cmd().args(["--host", "localhost:1"]));
    assert_contains(&err, "no token: set ARVADOS_API_TOKEN");

    let err = usage_error(with_token().args(["--host", "a/b"]));
    assert_contains(&err, "invalid host 'a/b'");

    let err =
        usage_error(with_token().args(["--host", "localhost:1", "--cacert", "/nonexistent.pem"]));
    assert_contains(&err, "cannot read --cacert /nonexistent.pem");

    let err = usage_error(
        cmd()
            .env("ARVADOS_API_TOKEN", "two words")
            .args(["--host", "localhost:1"]),
    );
    assert_contains(&err, "ARVADOS_API_TOKEN holds spaces");
    assert!(!err.contains("two words"), "{err}");

    // The host is checked before anything else, in words.
    let err = usage_error(cmd().args(["--host", "localhost:99999"]));
    assert!(
        err.starts_with(
            "db-reset: invalid host 'localhost:99999': port '99999' is not a number from 1 to 65535"
        ),
        "{err}"
    );

    for timeout in ["--connect-timeout", "--read-timeout"] {
        // Not cmd(): it sets --connect-timeout already.
        let err = usage_error(
            Command::new(env!("CARGO_BIN_EXE_db-reset"))
                .env_clear()
                .env("ARVADOS_API_TOKEN", TOKEN)
                .args(["--host", "localhost:1", timeout, "0"]),
        );
        assert_contains(&err, "no time at all");
    }

    let err = usage_error(cmd().args([
        "--host",
        "localhost:1",
        "--token-name",
        "admin",
        "--fixtures",
        "/nonexistent",
    ]));
    assert_eq!(
        err,
        "db-reset: cannot read /nonexistent/api_client_authorizations.yml: \
         No such file or directory (os error 2)\n"
    );

    let out = output(Command::new(env!("CARGO_BIN_EXE_db-reset")).arg("--help"));
    assert!(out.status.success());
    assert!(stdout(&out).contains("Exit codes:"));
}
