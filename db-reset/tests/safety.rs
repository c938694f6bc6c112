//! Never a hang, never a wrong trust: FIFOs and pipes as token files,
//! trickling servers, certificates out of date or of the old X.509 v1 kind,
//! flags over environment, names that do not resolve, ports that drop SYNs,
//! redirects.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::time::Duration;

use rustix::net::{self, AddressFamily, SocketType};

use crate::certs::Certs;
use crate::server::Server;
use crate::{assert_contains, exits, finish, output};

const TOKEN: &str = "4axaw8zxe0qm22wa6urpp5nskcne8z88cvbupv653y1njyi05h"; // fixture "admin"

fn auth() -> String {
    format!("OAuth2 {TOKEN}")
}

/// db-reset with a clean environment, no options yet.
fn bare() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_db-reset"));
    cmd.env_clear();
    cmd
}

fn with_token() -> Command {
    let mut cmd = bare();
    cmd.env("ARVADOS_API_TOKEN", TOKEN);
    cmd
}

fn spawn(cmd: &mut Command) -> std::process::Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn token_file_dev_stdin_reads_a_pipe_and_a_here_string() {
    let certs = Certs::new();
    let (cert, key) = certs.self_signed("pinned");
    let server = Server::start(&cert, &key, &auth(), 200);
    let host = format!("127.0.0.1:{}", server.port);
    // A pipe, as `fixture-token admin | db-reset --token-file /dev/stdin`.
    let mut child = bare()
        .args(["--host", &host, "--token-file", "/dev/stdin", "--cacert"])
        .arg(&cert)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{TOKEN}").unwrap();
    exits(&finish(child), 0);
    assert_eq!(server.request().unwrap().authorization, auth());
    // A here-string through bash, the token only in bash's environment.
    let script = "exec \"$0\" --host \"$1\" --cacert \"$2\" --token-file /dev/stdin <<<\"$T\"";
    let out = finish(spawn(
        Command::new("bash")
            .env_clear()
            .env("T", TOKEN)
            .args(["-c", script, env!("CARGO_BIN_EXE_db-reset"), &host])
            .arg(&cert),
    ));
    exits(&out, 0);
    assert_eq!(server.request().unwrap().authorization, auth());
}

#[test]
fn a_pipe_on_stdin_that_never_ends_is_bounded() {
    let mut child = bare()
        .args(["--host", "127.0.0.1:1", "--token-file", "/dev/stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let writer = child.stdin.take(); // held open, never written to
    let out = finish(child);
    drop(writer);
    assert_eq!(
        exits(&out, 2),
        "db-reset: cannot read token file /dev/stdin: stdin did not end within 10s \
         (pipe a token in and close it)\n"
    );
}

#[test]
fn token_files_that_are_not_regular_files_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let out = finish(spawn(
        bare()
            .args(["--host", "127.0.0.1:1", "--token-file"])
            .arg(&fifo),
    ));
    assert_eq!(
        exits(&out, 2),
        format!(
            "db-reset: cannot read token file {}: a FIFO, not a regular file\n",
            fifo.display()
        )
    );
    for (path, what) in [("/dev/zero", "a device"), ("/tmp", "a directory")] {
        let out = finish(spawn(bare().args([
            "--host",
            "127.0.0.1:1",
            "--token-file",
            path,
        ])));
        assert_contains(
            &exits(&out, 2),
            &format!("cannot read token file {path}: {what}, not a regular file"),
        );
    }
    // /dev/stdin that is /dev/null is read (and empty), not refused as a device.
    let out = finish(spawn(bare().args([
        "--host",
        "127.0.0.1:1",
        "--token-file",
        "/dev/stdin",
    ])));
    assert_contains(
        &exits(&out, 2),
        "the token from token file /dev/stdin is empty",
    );
}

#[test]
fn a_server_trickling_its_answer_is_bounded_by_the_read_timeout() {
    let certs = Certs::new();
    let (cert, key) = certs.self_signed("pinned");
    let server = Server::trickle(&cert, &key);
    let out = finish(spawn(
        with_token()
            .args([
                "--host",
                &format!("127.0.0.1:{}", server.port),
                "--read-timeout",
                "1s",
                "--cacert",
            ])
            .arg(&cert),
    ));
    assert_eq!(
        exits(&out, 1),
        format!(
            "db-reset: 127.0.0.1:{} did not answer within 1s\n",
            server.port
        )
    );
    assert!(server.request().is_some(), "the request was sent");
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
        let server = Server::start(&cert, &key, &auth(), 200);
        let host = format!("127.0.0.1:{}", server.port);
        let out = output(with_token().args(["--host", &host, "--cacert"]).arg(&cert));
        let err = exits(&out, 2);
        let date = |d: &str| format!("{}-{}-{}T00:00:00Z", &d[..4], &d[4..6], &d[6..8]);
        assert!(
            err.starts_with(&format!(
                "db-reset: TLS with {host} failed: pinned certificate {what}: valid from {} to {}, it is now ",
                date(start),
                date(end)
            )),
            "{err}"
        );
        assert!(server.request().is_none(), "nothing sent to {name}");
    }
}

#[test]
fn insecure_connects_to_an_x509_v1_certificate() {
    let certs = Certs::new();
    let (cert, key) = certs.v1("v1");
    let server = Server::start(&cert, &key, &auth(), 200);
    let host = format!("127.0.0.1:{}", server.port);
    let out = output(with_token().args(["--host", &host, "--insecure"]));
    assert_contains(&exits(&out, 0), "warning: not verifying");
    assert!(server.request().is_some());
    // Pinned, the same certificate is trusted as it is.
    exits(
        &output(with_token().args(["--host", &host, "--cacert"]).arg(&cert)),
        0,
    );
}

#[test]
fn an_explicit_cacert_beats_arvados_api_host_insecure() {
    let certs = Certs::new();
    let (pinned, _) = certs.self_signed("pinned");
    let (other, other_key) = certs.self_signed("other");
    let server = Server::start(&other, &other_key, &auth(), 200);
    let host = format!("127.0.0.1:{}", server.port);
    let out = output(
        with_token()
            .env("ARVADOS_API_HOST_INSECURE", "true")
            .args(["--host", &host, "--cacert"])
            .arg(&pinned),
    );
    let err = exits(&out, 2);
    assert!(
        err.starts_with(&format!("db-reset: TLS with {host} failed: certificate")),
        "{err}"
    );
    assert!(!err.contains("warning"), "{err}");
    assert!(server.request().is_none());
}

#[test]
fn an_unresolvable_host_is_a_fatal_error() {
    let out = output(with_token().args(["--host", "nonexistent.invalid:8000"]));
    assert_contains(
        &exits(&out, 2),
        "db-reset: cannot resolve nonexistent.invalid:8000: ",
    );
}

/// A name server that never answers holds no one past --connect-timeout:
/// the lookup is given up (exit 1, as for a connect timeout). Unbounded, the
/// system resolver would wait 3 x 30 s, past the one-minute watchdog.
#[test]
fn a_name_server_that_never_answers_is_given_up_on() {
    let Some(dns) = crate::dns::SilentDns::on("127.0.0.75") else {
        return;
    };
    let out = finish(spawn(
        dns.command(env!("CARGO_BIN_EXE_db-reset"))
            .env("ARVADOS_API_TOKEN", TOKEN)
            .args(["--connect-timeout", "1s", "--host", "silent.test:8000"]),
    ));
    assert_eq!(
        exits(&out, 1),
        "db-reset: cannot resolve silent.test:8000: no answer from the name service within 1s\n"
    );
}

/// A loopback listener whose accept queue is full: the kernel drops further
/// SYNs, so a connection attempt times out as with a firewalled host.
struct FullBacklog {
    _listener: OwnedFd,
    _held: Vec<TcpStream>,
    port: u16,
}

fn full_backlog() -> Option<FullBacklog> {
    let fd = net::socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
    net::bind(&fd, &SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).unwrap();
    net::listen(&fd, 0).unwrap();
    let port = SocketAddrV4::try_from(net::getsockname(&fd).unwrap())
        .unwrap()
        .port();
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port).into();
    let mut held = Vec::new();
    for _ in 0..64 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(stream) => held.push(stream),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return Some(FullBacklog {
                    _listener: fd,
                    _held: held,
                    port,
                })
            }
            Err(e) => panic!("connecting to fill the backlog: {e}"),
        }
    }
    None
}

#[test]
fn a_port_that_drops_syns_is_a_connect_timeout() {
    let Some(full) = full_backlog() else {
        return crate::skip("the kernel kept accepting on a full backlog");
    };
    let out = output(with_token().args([
        "--host",
        &format!("127.0.0.1:{}", full.port),
        "--connect-timeout",
        "500ms",
    ]));
    assert_eq!(
        exits(&out, 1),
        format!(
            "db-reset: 127.0.0.1:{} could not be reached within 500ms\n",
            full.port
        )
    );
}

#[test]
fn a_redirect_is_not_followed() {
    let certs = Certs::new();
    let (cert, key) = certs.self_signed("pinned");
    let server = Server::start(&cert, &key, &auth(), 302);
    let host = format!("127.0.0.1:{}", server.port);
    let out = output(with_token().args(["--host", &host, "--cacert"]).arg(&cert));
    assert_contains(
        &exits(&out, 1),
        &format!("{host} answered 302 Found to POST https://{host}/database/reset"),
    );
    assert_eq!(server.request().unwrap().path, "/database/reset");
    assert!(server.request().is_none(), "the redirect was followed");
}

/// What --insecure cannot fix is said in words: here a server that speaks
/// only TLS 1.1 (`openssl s_server`), which rustls does not.
#[test]
fn insecure_names_what_it_cannot_fix() {
    let certs = Certs::new();
    let (cert, key) = certs.v1("old");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new("openssl")
        .args([
            "s_server",
            "-quiet",
            "-www",
            "-tls1_1",
            "-cipher",
            "DEFAULT:@SECLEVEL=0",
        ])
        .args(["-accept", &format!("127.0.0.1:{port}"), "-cert"])
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // --retry-for waits while s_server starts (refused until it listens).
    let out = finish(spawn(with_token().args([
        "--host",
        &format!("127.0.0.1:{port}"),
        "--insecure",
        "--retry-for",
        "20s",
    ])));
    server.kill().unwrap();
    server.wait().unwrap();
    let err = exits(&out, 2);
    assert_contains(
        &err,
        "failed: the server ended the handshake with the alert ProtocolVersion",
    );
}
