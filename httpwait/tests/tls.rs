//! HTTPS: the trust rules of db-reset (system roots, pinning with --cacert,
//! --insecure), against a rustls server, the stack's Python API stand-in and
//! real nginx.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::certs::Certs;
use crate::server::{Reply, Server};
use crate::{assert_contains, cmd, exits, finish, output, skip, stdout};

fn https(server: &Server, host: &str) -> String {
    format!("https://{host}:{}/", server.port())
}

#[test]
fn a_pinned_self_signed_certificate_like_the_originals() {
    let certs = Certs::new();
    let (cert, key) = certs.self_signed("self-signed"); // CN=0.0.0.0, marked CA
    let server = Server::https(&cert, &key, |_| Reply::status(200, "OK"));
    let url = https(&server, "127.0.0.1");
    let out = output(
        cmd()
            .args(["--once", "--body", "OK", "--cacert"])
            .arg(&cert)
            .arg(&url),
    );
    assert_eq!(exits(&out, 0), "");

    // Without the pin, not trusted, and the reason is named.
    let err = exits(&output(cmd().args(["-t", "200ms", &url])), 1);
    assert_contains(
        &err,
        &format!(
            "{url}: TLS failed: certificate not trusted: the server presents a CA certificate"
        ),
    );
    // Another self-signed certificate is not this one.
    let (other, _) = certs.self_signed("other");
    let err = exits(
        &output(cmd().args(["--once", "--cacert"]).arg(&other).arg(&url)),
        1,
    );
    assert_contains(&err, "TLS failed: certificate");
}

#[test]
fn insecure_connects_with_a_warning() {
    let certs = Certs::new();
    let (cert, key) = certs.self_signed("self-signed");
    let server = Server::https(&cert, &key, |_| Reply::status(200, ""));
    let out = output(cmd().args(["--once", "-k", &https(&server, "127.0.0.1")]));
    assert_eq!(
        exits(&out, 0),
        "httpwait: warning: not verifying TLS certificates (--insecure)\n"
    );
}

#[test]
fn insecure_takes_an_x509_v1_certificate_and_pinning_does_too() {
    let certs = Certs::new();
    let (cert, key) = certs.v1("v1");
    let server = Server::https(&cert, &key, |_| Reply::status(200, ""));
    let url = https(&server, "127.0.0.1");
    exits(&output(cmd().args(["--once", "-k", &url])), 0);
    exits(
        &output(cmd().args(["--once", "--cacert"]).arg(&cert).arg(&url)),
        0,
    );
}

#[test]
fn a_pinned_certificate_out_of_its_dates_is_refused_with_them() {
    let certs = Certs::new();
    for (name, start, end, what) in [
        ("expired", "20200101000000Z", "20200102000000Z", "expired"),
        (
            "future",
            "20990101000000Z",
            "21000101000000Z",
            "not valid yet",
        ),
    ] {
        let (cert, key) = certs.dated(name, start, end);
        let server = Server::https(&cert, &key, |_| Reply::status(200, ""));
        let out = output(
            cmd()
                .args(["--once", "--cacert"])
                .arg(&cert)
                .arg(https(&server, "127.0.0.1")),
        );
        let err = exits(&out, 1);
        assert_contains(
            &err,
            &format!("TLS failed: pinned certificate {what}: valid from "),
        );
        assert_contains(
            &err,
            &format!(
                "{}-{}-{}T00:00:00Z",
                &start[..4],
                &start[4..6],
                &start[6..8]
            ),
        );
        assert_contains(
            &err,
            &format!("to {}-{}-{}T00:00:00Z", &end[..4], &end[4..6], &end[6..8]),
        );
    }
}

#[test]
fn a_ca_issued_certificate_is_verified_with_its_name() {
    let certs = Certs::new();
    let (ca, leaf, key) = certs.ca_and_leaf(); // for DNS:localhost only
    let server = Server::https(&leaf, &key, |_| Reply::status(200, ""));
    exits(
        &output(
            cmd()
                .args(["--once", "--cacert"])
                .arg(&ca)
                .arg(https(&server, "localhost")),
        ),
        0,
    );
    let err = exits(
        &output(
            cmd()
                .args(["--once", "--cacert"])
                .arg(&ca)
                .arg(https(&server, "127.0.0.1")),
        ),
        1,
    );
    assert_contains(&err, "TLS failed: certificate not valid for this host name");
    let err = exits(
        &output(cmd().args(["--once", &https(&server, "localhost")])),
        1,
    );
    assert_contains(
        &err,
        "TLS failed: certificate not trusted: issued by an unknown CA",
    );
}

#[test]
fn plain_http_on_a_tls_url_is_named() {
    // Answers in plain HTTP and keeps the connection, as a plain server
    // does with a request it cannot read (closing with the TLS hello unread
    // would send a reset that overtakes the answer).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut stream in listener.incoming().flatten() {
            let _ = stream.read(&mut [0; 4096]);
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            held.push(stream);
        }
    });
    let url = format!("https://127.0.0.1:{port}/");
    let err = exits(&output(cmd().args(["--once", &url])), 1);
    assert_contains(&err, "TLS failed: the server does not speak TLS");
}

/// A free loopback port for a server that binds it itself.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The stack's API stand-in (Python, TLS with the original's kind of
/// certificate) is waited for from before it starts: a token-protected
/// endpoint, the token through --token-file.
#[test]
fn the_stack_api_stand_in_with_a_token() {
    if Command::new("python3").arg("--version").output().is_err() {
        return skip("python3 not installed");
    }
    let certs = Certs::new();
    let (cert, key) = certs.self_signed("api");
    let token = "t0ken1234567890abcdefghij";
    let token_file = certs.path("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let port = free_port();
    let url = format!("https://127.0.0.1:{port}/arvados/v1/keep_services");
    let waiter = cmd()
        .args(["-t", "30s", "--auth", "OAuth2", "--token-file"])
        .arg(&token_file)
        .args(["--body", "\"items\"", "--cacert"])
        .arg(&cert)
        .arg(&url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut api = Command::new("python3")
        .arg(repo().join("scripts/tests/standins/stack-api.py"))
        .args(["start", "-p", &port.to_string(), "-a", "127.0.0.1", "--ssl"])
        .arg("--ssl-certificate")
        .arg(&cert)
        .arg("--ssl-certificate-key")
        .arg(&key)
        .arg("--pid-file")
        .arg(dir.path().join("api.pid"))
        .arg("--admin-token-file")
        .arg(&token_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = finish(waiter);
    api.kill().unwrap();
    api.wait().unwrap();
    let err = exits(&out, 0);
    assert!(!err.contains(token), "{err}");
}

/// Real nginx, TLS with a pinned certificate, started while httpwait waits.
#[test]
fn real_nginx() {
    let Ok(nginx) = which_nginx() else {
        return skip("nginx not installed");
    };
    let certs = Certs::new();
    let (cert, key) = certs.self_signed("nginx");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("https://127.0.0.1:{port}");
    let waiter = cmd()
        .args(["-t", "30s", "--body", "OK", "--cacert"])
        .arg(&cert)
        .arg(format!("{base}/health"))
        .args(["--", "echo", "ready"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let server = start_nginx(
        nginx,
        dir.path(),
        &format!(
            "listen 127.0.0.1:{port} ssl;\n    ssl_certificate {cert};\n    \
             ssl_certificate_key {key};\n    location = /health {{ return 200 \"OK\\n\"; }}\n    \
             location / {{ return 503; }}",
            cert = cert.display(),
            key = key.display(),
        ),
    );
    let out = finish(waiter);
    let unavailable = output(
        cmd()
            .args(["--once", "--cacert"])
            .arg(&cert)
            .arg(format!("{base}/")),
    );
    drop(server);
    exits(&out, 0);
    assert_eq!(stdout(&out), "ready\n");
    assert_contains(
        &exits(&unavailable, 1),
        "answered 503 Service Temporarily Unavailable",
    );
}

/// Real nginx proxying to a backend that is not up yet: nginx's own 502 is
/// not "answering through", the backend's 401 is (`-s 200-499`, as the
/// README shows).
#[test]
fn through_a_real_nginx_proxy() {
    let Ok(nginx) = which_nginx() else {
        return skip("nginx not installed");
    };
    let backend = crate::reserved::Reserved::new();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/api");
    let mut waiter = cmd()
        .args([
            "-v",
            "-t",
            "30s",
            "-s",
            "200-499",
            "--interval",
            "20ms",
            &url,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let server = start_nginx(
        nginx,
        dir.path(),
        &format!(
            "listen 127.0.0.1:{port};\n    \
             location / {{ proxy_pass http://127.0.0.1:{}; }}",
            backend.port
        ),
    );
    // Start the backend only once httpwait has heard nginx's 502.
    let mut lines = BufReader::new(waiter.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.contains("answered 502 Bad Gateway");
        seen.push(line);
        if done {
            break;
        }
    }
    assert!(
        seen.last().is_some_and(|l| l.contains("502")),
        "no 502 seen: {seen:?}"
    );
    let api = Server::on(backend.listen(), None, |_| Reply::status(401, "{}"));
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = waiter.wait().unwrap();
    drop(server);
    assert_eq!(status.code(), Some(0), "{seen:?} {rest:?}");
    assert_eq!(api.request().unwrap().path, "/api");
}

/// nginx in a process group of its own, its master and workers killed
/// together when dropped: a KILL to the master alone leaves the workers
/// running, holding the port.
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.wait();
    }
}

/// Starts nginx in the foreground with pid, logs and temporary files in
/// `dir` and one server, `server` (its directives).
fn start_nginx(nginx: &str, dir: &Path, server: &str) -> Nginx {
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "daemon off;\npid {pid};\nerror_log {log} info;\nevents {{}}\nhttp {{\n  \
             access_log off;\n  client_body_temp_path {tmp};\n  proxy_temp_path {tmp};\n  \
             fastcgi_temp_path {tmp};\n  uwsgi_temp_path {tmp};\n  scgi_temp_path {tmp};\n  \
             server {{\n    {server}\n  }}\n}}\n",
            pid = dir.join("nginx.pid").display(),
            log = dir.join("error.log").display(),
            tmp = dir.display(),
        ),
    )
    .unwrap();
    Nginx(
        Command::new(nginx)
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(dir)
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn which_nginx() -> Result<&'static str, ()> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or(())
}
