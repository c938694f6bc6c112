//! Each case of the issue, against a real HTTPS server.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::certs::Certs;
use crate::server::{Reserved, Server};
use crate::{cmd, corpus, output, stderr, stdout};

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

fn assert_no_token(text: &str) {
    assert!(
        !text.contains(TOKEN) && !text.contains(WRONG),
        "token leaked: {text}"
    );
}

#[test]
fn good_token_resets_the_database() {
    let (certs, server) = ca_server(200);
    let out = output(
        cmd()
            .env("ARVADOS_API_TOKEN", TOKEN)
            .args(["--host", &localhost(&server), "--cacert"])
            .arg(certs.path("ca.pem")),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
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
        cmd()
            .env("ARVADOS_API_TOKEN", TOKEN)
            .env("ARVADOS_API_HOST", &host)
            .arg("--export")
            .arg("--cacert")
            .arg(certs.path("ca.pem")),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
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
    let out = output(
        cmd()
            .env("ARVADOS_API_TOKEN", TOKEN)
            .args(["--host", &format!("127.0.0.1:{}", server.port), "--cacert"])
            .arg(&cert),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(server.request().is_some());
}

#[test]
fn a_different_self_signed_certificate_is_refused() {
    let certs = Certs::new();
    let (pinned, _) = certs.self_signed("pinned");
    let (other, other_key) = certs.self_signed("other");
    let server = Server::start(&other, &other_key, &auth(), 200);
    let host = format!("127.0.0.1:{}", server.port);
    let out = output(
        cmd()
            .env("ARVADOS_API_TOKEN", TOKEN)
            .args(["--host", &host, "--cacert"])
            .arg(&pinned),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!("db-reset: TLS with {host} failed: certificate")),
        "{err}"
    );
}

#[test]
fn a_ca_issued_certificate_in_cacert_is_not_pinned() {
    // Only a self-signed certificate is trusted as it is; the leaf, named for
    // localhost only, still has its name checked.
    let (certs, server) = ca_server(200);
    let host = format!("127.0.0.1:{}", server.port);
    let out = output(
        cmd()
            .env("ARVADOS_API_TOKEN", TOKEN)
            .args(["--host", &host, "--cacert"])
            .arg(certs.path("leaf.pem")),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!("db-reset: TLS with {host} failed: certificate")),
        "{err}"
    );
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
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("answered 401 Unauthorized"), "{err}");
    assert!(err.contains("Not logged in"), "{err}");
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
        let out = output(
            cmd()
                .env("ARVADOS_API_TOKEN", TOKEN)
                .args(["--host", &localhost(&server), "--cacert"])
                .arg(certs.path("ca.pem")),
        );
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        let head = format!("answered {status} ");
        assert!(err.contains(&head) && err.contains(words), "{err}");
        assert_no_token(&err);
    }
}

#[test]
fn a_token_echoed_by_the_server_is_masked() {
    let (certs, server) = ca_server(400);
    let out = output(
        cmd()
            .env("ARVADOS_API_TOKEN", TOKEN)
            .args(["--host", &localhost(&server), "--cacert"])
            .arg(certs.path("ca.pem")),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("answered 400 Bad Request") && err.contains("Bad request with OAuth2 <token>"),
        "{err}"
    );
    assert_no_token(&err);
}

#[test]
fn a_huge_retry_for_is_a_usage_error_not_a_crash() {
    let out = output(cmd().env("ARVADOS_API_TOKEN", TOKEN).args([
        "--host",
        "127.0.0.1:1",
        "--retry-for",
        "500000000000y",
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("expected at most 100 years"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn untrusted_certificate_fails() {
    let (_certs, server) = ca_server(200);
    let host = localhost(&server);
    let out = output(
        cmd()
            .env("ARVADOS_API_TOKEN", TOKEN)
            .args(["--host", &host]),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "TLS with {host} failed: certificate not trusted: issued by an unknown CA"
        )),
        "{err}"
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
    let out = output(
        cmd()
            .env("ARVADOS_API_TOKEN", TOKEN)
            .args(["--host", &host, "--insecure"]),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: not verifying the TLS certificate"),
        "{}",
        stderr(&out)
    );

    let out = output(
        cmd()
            .env("ARVADOS_API_TOKEN", TOKEN)
            .env("ARVADOS_API_HOST_INSECURE", "true")
            .args(["--host", &host]),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("warning:"), "{}", stderr(&out));
}

#[test]
fn a_closed_stderr_is_no_crash() {
    let (_certs, server) = ca_server(200);
    let mut child = cmd()
        .env("ARVADOS_API_TOKEN", TOKEN)
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
    let host = format!("127.0.0.1:{}", server.port); // the certificate names only localhost
    let out = output(
        cmd()
            .env("ARVADOS_API_TOKEN", TOKEN)
            .args(["--host", &host, "--cacert"])
            .arg(certs.path("ca.pem")),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "TLS with {host} failed: certificate not valid for this host name"
        )),
        "{err}"
    );
}

#[test]
fn plain_http_on_the_port_is_named() {
    let server = Server::plain_http();
    let host = format!("127.0.0.1:{}", server.port);
    let out = output(
        cmd()
            .env("ARVADOS_API_TOKEN", TOKEN)
            .args(["--host", &host]),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
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
    let mut child = cmd()
        .env("ARVADOS_API_TOKEN", TOKEN)
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
    let host = format!("127.0.0.1:{}", reserved.port);
    let out = output(cmd().env("ARVADOS_API_TOKEN", TOKEN).args([
        "--host",
        &host,
        "--retry-for",
        "1500ms",
        "--verbose",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
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
    let port = reserved.port;
    let out = output(
        cmd()
            .env("ARVADOS_API_TOKEN", TOKEN)
            .args(["--host", &format!("127.0.0.1:{port}")]),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot connect to 127.0.0.1"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_server_that_never_answers_times_out() {
    let server = Server::silent();
    let out = output(cmd().env("ARVADOS_API_TOKEN", TOKEN).args([
        "--host",
        &format!("127.0.0.1:{}", server.port),
        "--read-timeout",
        "300ms",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("did not answer within 300ms"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn token_by_fixture_name() {
    let (certs, server) = ca_server(200);
    let out = output(
        cmd()
            .args([
                "--host",
                &localhost(&server),
                "--token-name",
                "admin",
                "--fixtures",
            ])
            .arg(corpus())
            .arg("--cacert")
            .arg(certs.path("ca.pem")),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.request().unwrap().authorization, auth());
}

#[test]
fn missing_fixture_entry_fails_before_connecting() {
    let (certs, server) = ca_server(200);
    let out = output(
        cmd()
            .args([
                "--host",
                &localhost(&server),
                "--token-name",
                "admn",
                "--fixtures",
            ])
            .arg(corpus())
            .arg("--cacert")
            .arg(certs.path("ca.pem")),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
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
        cmd()
            .env("ARVADOS_API_TOKEN", TOKEN)
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
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.request().unwrap().path, "/arvados/v1/reset");
}

#[test]
fn usage_errors() {
    let out = output(cmd().args(["--host", "localhost:1"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no token: set ARVADOS_API_TOKEN"),
        "{}",
        stderr(&out)
    );

    let out = output(
        cmd()
            .env("ARVADOS_API_TOKEN", TOKEN)
            .args(["--host", "a/b"]),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid host 'a/b'"),
        "{}",
        stderr(&out)
    );

    let out = output(cmd().env("ARVADOS_API_TOKEN", TOKEN).args([
        "--host",
        "localhost:1",
        "--cacert",
        "/nonexistent.pem",
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot read --cacert /nonexistent.pem"),
        "{}",
        stderr(&out)
    );

    let out = output(
        cmd()
            .env("ARVADOS_API_TOKEN", "two words")
            .args(["--host", "localhost:1"]),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("ARVADOS_API_TOKEN holds spaces"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("two words"));

    // The host is checked before anything else, in words.
    let out = output(cmd().args(["--host", "localhost:99999"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with(
            "db-reset: invalid host 'localhost:99999': port '99999' is not a number from 1 to 65535"
        ),
        "{}",
        stderr(&out)
    );

    for timeout in ["--connect-timeout", "--read-timeout"] {
        // Not cmd(): it sets --connect-timeout already.
        let out = output(
            Command::new(env!("CARGO_BIN_EXE_db-reset"))
                .env_clear()
                .env("ARVADOS_API_TOKEN", TOKEN)
                .args(["--host", "localhost:1", timeout, "0"]),
        );
        assert_eq!(out.status.code(), Some(2), "{timeout}");
        assert!(stderr(&out).contains("no time at all"), "{}", stderr(&out));
    }

    let out = output(cmd().args([
        "--host",
        "localhost:1",
        "--token-name",
        "admin",
        "--fixtures",
        "/nonexistent",
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "db-reset: cannot read /nonexistent/api_client_authorizations.yml: \
         No such file or directory (os error 2)\n"
    );

    let out = output(Command::new(env!("CARGO_BIN_EXE_db-reset")).arg("--help"));
    assert!(out.status.success());
    assert!(stdout(&out).contains("Exit codes:"));
}
