//! Waiting over plain HTTP: statuses, bodies, headers, timeouts, --once.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustix::net::{self, AddressFamily, SocketType};

use crate::reserved::Reserved;
use crate::server::{Reply, Server};
use crate::{assert_contains, cmd, exits, finish, output, skip, stdout};

const SECRET: &str = "s3cr3t-t0ken-value-123";

#[test]
fn a_server_that_starts_listening_late_is_noticed() {
    let reserved = Reserved::new();
    let url = format!("http://127.0.0.1:{}/", reserved.port);
    let mut child = cmd()
        .args(["-v", "-t", "30s", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Listen only once httpwait has been refused.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().expect("a line on stderr").unwrap();
    assert_eq!(first, format!("httpwait: {url}: connection refused"));
    let server = Server::on(reserved.listen(), None, |_| Reply::status(200, ""));
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(child.wait().unwrap().code(), Some(0), "{rest:?}");
    // The listener was seen in the kernel's socket table (no connection),
    // then asked with a GET.
    assert_eq!(server.request().map(|s| s.method).as_deref(), Some("GET"));
}

#[test]
fn a_200_is_ready_and_the_request_is_a_plain_get() {
    let server = Server::http(|_| Reply::status(200, "hello"));
    let out = output(cmd().arg(server.url("/health")));
    assert_eq!(exits(&out, 0), "");
    assert_eq!(stdout(&out), "");
    let seen = server.request().unwrap();
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("GET", "/health")
    );
    assert!(seen.header("user-agent").unwrap().starts_with("httpwait/"));
}

#[test]
fn waits_through_503_until_the_server_is_ready() {
    let ready = Arc::new(AtomicBool::new(false));
    let flag = ready.clone();
    let server = Server::http(move |_| {
        if flag.load(Ordering::SeqCst) {
            Reply::status(200, "ready")
        } else {
            Reply::status(503, "starting")
        }
    });
    let mut child = cmd()
        .args(["-t", "30s", "--interval", "20ms", &server.url("/")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // httpwait has been answered 503 (twice: it kept trying), and has not
    // taken that for ready.
    server.request().expect("a first try");
    server.request().expect("a second try");
    assert!(
        child.try_wait().unwrap().is_none(),
        "httpwait exited on a 503"
    );
    ready.store(true, Ordering::SeqCst);
    exits(&finish(child), 0);
}

#[test]
fn a_timeout_names_every_url_and_its_last_failure() {
    let refused = Reserved::new();
    let unavailable = Server::http(|_| Reply::status(503, "{\"status\": \"starting\"}"));
    let wrong_body = Server::http(|_| Reply::status(200, "{\"status\": \"degraded\"}"));
    let ok = Server::http(|_| Reply::status(200, "{\"status\": \"ok\"}"));
    let refused_url = format!("http://127.0.0.1:{}/", refused.port);
    let out = output(cmd().args([
        "--timeout",
        "300ms",
        "--body",
        "\"ok\"",
        &refused_url,
        &unavailable.url("/a"),
        &wrong_body.url("/b"),
        &ok.url("/c"),
    ]));
    let err = exits(&out, 1);
    assert_eq!(
        err,
        format!(
            "httpwait: timed out after 300ms; not ready:\n  \
             {refused_url}: connection refused\n  \
             {}: answered 503 Service Unavailable: {{\"status\": \"starting\"}}\n  \
             {}: answered 200 OK, but the body (first 22 bytes read) does not contain \
             \"\\\"ok\\\"\": {{\"status\": \"degraded\"}}\n",
            unavailable.url("/a"),
            wrong_body.url("/b"),
        )
    );
}

#[test]
fn once_tries_once() {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let server = Server::http(move |_| {
        c.fetch_add(1, Ordering::SeqCst);
        Reply::status(503, "")
    });
    let out = output(cmd().args(["--once", "-t", "30s", &server.url("/")]));
    assert_eq!(
        exits(&out, 1),
        format!(
            "httpwait: not ready: {}: answered 503 Service Unavailable\n",
            server.url("/")
        )
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);

    let ok = Server::http(|_| Reply::status(204, ""));
    exits(&output(cmd().args(["--once", &ok.url("/")])), 0);
}

#[test]
fn statuses_are_codes_and_ranges() {
    let server = Server::http(|_| Reply::status(404, "gone"));
    exits(
        &output(cmd().args(["--once", "-s", "200,404", &server.url("/")])),
        0,
    );
    exits(
        &output(cmd().args(["--once", "-s", "400-499", &server.url("/")])),
        0,
    );
    let err = exits(&output(cmd().args(["--once", &server.url("/")])), 1);
    assert_contains(&err, "answered 404 Not Found: gone");
}

#[test]
fn a_redirect_is_not_followed() {
    let server = Server::http(|seen| {
        if seen.path == "/elsewhere" {
            Reply::status(200, "followed")
        } else {
            Reply::Full(
                302,
                vec![("Location".into(), "/elsewhere".into())],
                Vec::new(),
            )
        }
    });
    let err = exits(
        &output(cmd().args(["--once", "--status", "200", &server.url("/")])),
        1,
    );
    assert_contains(
        &err,
        "answered 302 Found (to /elsewhere; redirects are not followed)",
    );
    // The default statuses, 200-399 as Kubernetes' httpGet, take a 3xx.
    exits(&output(cmd().args(["--once", &server.url("/")])), 0);
    let paths: Vec<String> = server
        .requests_so_far()
        .into_iter()
        .map(|s| s.path)
        .collect();
    assert_eq!(paths, ["/", "/"]);
}

#[test]
fn a_trickling_answer_is_bounded_by_the_try_timeout() {
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec();
    let server = Server::http(move |_| Reply::Trickle(head.clone(), Duration::from_millis(250)));
    let out = output(cmd().args(["--once", "--try-timeout", "500ms", &server.url("/")]));
    let err = exits(&out, 1);
    assert_contains(&err, "no whole answer within 500ms");
}

#[test]
fn a_trickling_answer_is_bounded_by_the_whole_timeout() {
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec();
    let server = Server::http(move |_| Reply::Trickle(head.clone(), Duration::from_millis(250)));
    let out = output(cmd().args(["--timeout", "700ms", &server.url("/")]));
    assert_contains(&exits(&out, 1), "timed out after 700ms");
}

#[test]
fn only_a_bounded_prefix_of_the_body_is_read() {
    let mut body = vec![b'x'; 1 << 20];
    body.extend_from_slice(b"READY");
    let server = Server::http(move |_| Reply::Full(200, Vec::new(), body.clone()));
    let err = exits(
        &output(cmd().args(["--once", "--body", "READY", &server.url("/")])),
        1,
    );
    assert_contains(
        &err,
        "the body (first 65536 bytes read) does not contain \"READY\"",
    );
    exits(
        &output(cmd().args([
            "--once",
            "--body",
            "READY",
            "--body-limit",
            "2M",
            &server.url("/"),
        ])),
        0,
    );
}

#[test]
fn an_endless_body_cannot_hold_it() {
    let server = Server::http(|_| Reply::Endless);
    // The status alone is enough: the body is not read.
    exits(&output(cmd().args(["--once", &server.url("/")])), 0);
    let err = exits(
        &output(cmd().args(["--once", "--body-regex", "y+", &server.url("/")])),
        1,
    );
    assert_contains(&err, "(first 65536 bytes read) does not match /y+/");
}

#[test]
fn body_regex() {
    let server = Server::http(|_| Reply::status(200, "{\"health\": \"OK\"}"));
    let ok = [
        "--once",
        "--body-regex",
        r#""health":\s*"OK""#,
        &server.url("/"),
    ];
    exits(&output(cmd().args(ok)), 0);
}

#[test]
fn headers_are_sent_and_secrets_never_shown() {
    // A careless server that echoes every header it got in its 401 body.
    let server = Server::http(|seen| {
        let echo: Vec<String> = seen
            .headers
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        Reply::status(401, &echo.join(" "))
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("headers");
    std::fs::write(&file, format!("X-Api-Key: {SECRET}\n")).unwrap();
    let out = output(
        cmd()
            .args(["--once", "-H", "X-Probe: yes", "--header-file"])
            .arg(&file)
            .args(["--auth", "Bearer", &server.url("/")])
            .env("ARVADOS_API_TOKEN", format!("{SECRET}-2")),
    );
    let err = exits(&out, 1);
    assert_contains(&err, "answered 401 Unauthorized");
    assert_contains(&err, "X-Probe=yes");
    assert_contains(&err, "X-Api-Key=<secret>");
    assert!(!err.contains(SECRET), "a secret leaked: {err}");
    let seen = server.request().unwrap();
    assert_eq!(seen.header("x-probe"), Some("yes"));
    assert_eq!(seen.header("x-api-key"), Some(SECRET));
    assert_eq!(
        seen.header("authorization"),
        Some(&*format!("Bearer {SECRET}-2"))
    );
}

/// A server may put what it got anywhere: a Location, or a body cut by
/// --body-limit in the middle of the secret.
#[test]
fn secrets_are_masked_in_a_location_and_a_cut_body() {
    let server = Server::http(|seen| {
        let key = seen.header("x-api-key").unwrap_or_default().to_owned();
        if seen.path == "/redirect" {
            return Reply::Full(
                302,
                vec![("Location".into(), format!("/login?key={key}"))],
                Vec::new(),
            );
        }
        Reply::status(200, &format!("key is {key}"))
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("headers");
    std::fs::write(&file, format!("X-Api-Key: {SECRET}\n")).unwrap();
    let out = output(
        cmd()
            .args(["--once", "-s", "200", "--header-file"])
            .arg(&file)
            .arg(server.url("/redirect")),
    );
    let err = exits(&out, 1);
    assert_contains(&err, "answered 302 Found (to /login?key=<secret>;");
    assert!(!err.contains(&SECRET[..8]), "a secret leaked: {err}");
    let out = output(
        cmd()
            .args([
                "--once",
                "--body",
                "ready",
                "--body-limit",
                "20",
                "--header-file",
            ])
            .arg(&file)
            .arg(server.url("/")),
    );
    let err = exits(&out, 1);
    assert_contains(
        &err,
        "(first 20 bytes read) does not contain \"ready\": key is <secret>",
    );
    assert!(!err.contains(&SECRET[..8]), "a secret leaked: {err}");
}

#[test]
fn the_token_comes_through_a_pipe() {
    let server = Server::http(|seen| match seen.header("authorization") {
        Some(auth) if auth == format!("OAuth2 {SECRET}") => Reply::status(200, ""),
        _ => Reply::status(401, ""),
    });
    let mut child = cmd()
        .args(["--once", "--auth", "OAuth2", "--token-file", "/dev/stdin"])
        .arg(server.url("/"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{SECRET}").unwrap();
    exits(&finish(child), 0);
}

#[test]
fn header_and_token_files_must_be_regular_files() {
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
    let err = exits(
        &output(
            cmd()
                .arg("--header-file")
                .arg(&fifo)
                .arg("http://127.0.0.1:1/"),
        ),
        2,
    );
    assert_eq!(
        err,
        format!(
            "httpwait: cannot read --header-file {}: a FIFO, not a regular file\n",
            fifo.display()
        )
    );
    let err = exits(
        &output(
            cmd()
                .args(["--auth", "Bearer", "--token-file", "/dev/zero"])
                .arg("http://127.0.0.1:1/"),
        ),
        2,
    );
    assert_contains(
        &err,
        "cannot read token file /dev/zero: a device, not a regular file",
    );
}

#[test]
fn runs_the_command_once_ready() {
    let server = Server::http(|_| Reply::status(200, ""));
    let out = output(cmd().args([&server.url("/"), "--", "sh", "-c", "echo ran \"$0\"", "x"]));
    exits(&out, 0);
    assert_eq!(stdout(&out), "ran x\n");
    let out = output(cmd().args([&server.url("/"), "--", "/nonexistent/cmd"]));
    assert_contains(&exits(&out, 2), "httpwait: cannot run /nonexistent/cmd");
}

#[test]
fn methods_other_than_get() {
    let server =
        Server::http(|seen| Reply::status(if seen.method == "POST" { 200 } else { 405 }, ""));
    exits(
        &output(cmd().args(["--once", "-X", "post", &server.url("/")])),
        0,
    );
    exits(&output(cmd().args(["--once", &server.url("/")])), 1);
}

#[test]
fn data_is_sent_and_bodies_are_printed_in_order() {
    let server = Server::http(|seen| {
        let body = String::from_utf8_lossy(&seen.body);
        match seen.path.as_str() {
            "/lines" => Reply::status(201, "one\ntwo\n"),
            _ => Reply::status(200, &format!("{} {} {body}", seen.method, seen.path)),
        }
    });
    let data = r#"{"keep_service":{"service_port":9}}"#;
    let out = output(cmd().args([
        "--once",
        "-X",
        "POST",
        "--data",
        data,
        "--print-body",
        &server.url("/a"),
        &server.url("/lines"),
        &server.url("/b"),
    ]));
    exits(&out, 0);
    // In the order given; a newline added only where a body lacks one.
    assert_eq!(
        stdout(&out),
        format!("POST /a {data}\none\ntwo\nPOST /b {data}\n")
    );
    let seen = server.requests_so_far();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|s| s.body == data.as_bytes()));
    // One URL not ready: no body printed, the failure named.
    let out = output(cmd().args([
        "--once",
        "--print-body",
        "--status",
        "201",
        &server.url("/lines"),
        &server.url("/b"),
    ]));
    assert_contains(&exits(&out, 1), "/b: answered 200 OK");
    assert_eq!(stdout(&out), "");
    // HEAD has no body to print.
    let out = output(cmd().args(["-X", "HEAD", "--print-body", &server.url("/a")]));
    assert_contains(&exits(&out, 2), "--print-body need another method");
}

#[test]
fn data_given_once_per_url_goes_each_to_its_url() {
    let server = Server::http(|seen| {
        let body = String::from_utf8_lossy(&seen.body);
        Reply::status(200, &format!("{} {body}", seen.path))
    });
    let out = output(cmd().args([
        "--once",
        "--data",
        "one",
        "--data",
        "two",
        "--print-body",
        &server.url("/a"),
        &server.url("/b"),
    ]));
    exits(&out, 0);
    assert_eq!(stdout(&out), "/a one\n/b two\n");
    let mut seen: Vec<_> = server
        .requests_so_far()
        .iter()
        .map(|s| (s.method.clone(), s.path.clone(), s.body.clone()))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("POST".to_owned(), "/a".to_owned(), b"one".to_vec()),
            ("POST".to_owned(), "/b".to_owned(), b"two".to_vec())
        ]
    );
    // Neither once nor once per URL: a usage error, nothing sent.
    let out = output(cmd().args([
        "--once",
        "--data",
        "one",
        "--data",
        "two",
        &server.url("/a"),
        &server.url("/b"),
        &server.url("/c"),
    ]));
    assert_contains(&exits(&out, 2), "--data given 2 times for 3 URLs");
    assert!(server.requests_so_far().is_empty());
}

#[test]
fn data_is_posted_unless_a_method_is_given_with_no_content_type_made_up() {
    let server = Server::http(|_| Reply::status(200, ""));
    exits(
        &output(cmd().args(["--once", "--data", "a=1", &server.url("/")])),
        0,
    );
    let seen = server.request().unwrap();
    assert_eq!(
        (seen.method.as_str(), seen.body.as_slice()),
        ("POST", &b"a=1"[..])
    );
    assert_eq!(seen.header("content-type"), None);
    let args = [
        "--once",
        "-X",
        "put",
        "--data",
        "{}",
        "-H",
        "Content-Type: application/json",
    ];
    exits(&output(cmd().args(args).arg(server.url("/"))), 0);
    let seen = server.request().unwrap();
    assert_eq!(
        (seen.method.as_str(), seen.body.as_slice()),
        ("PUT", &b"{}"[..])
    );
    assert_eq!(seen.header("content-type"), Some("application/json"));
    // No body: a GET, as always.
    exits(&output(cmd().args(["--once", &server.url("/")])), 0);
    assert_eq!(server.request().unwrap().method, "GET");
}

/// Raw bytes of an answer, for bodies that break off.
fn raw(head_and_body: &str, every: Duration) -> Reply {
    Reply::Trickle(head_and_body.as_bytes().to_vec(), every)
}

#[test]
fn a_printed_body_is_whole_or_not_printed_at_all() {
    let server = Server::http(|seen| match seen.path.as_str() {
        "/long" => Reply::status(200, &"x".repeat(2000)),
        "/exact" => Reply::status(200, &"y".repeat(1024)),
        // Content-Length says 100; 7 bytes come, then the server hangs up.
        "/cut" => raw(
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\npartial",
            Duration::ZERO,
        ),
        // Its head and 4 of its 50 bytes at once, then nothing: not whole
        // within the try's timeout.
        _ => Reply::Stall(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nzzzz".to_vec()),
    });
    let ok = output(cmd().args([
        "--once",
        "--print-body",
        "--body-limit",
        "1K",
        &server.url("/exact"),
    ]));
    exits(&ok, 0);
    assert_eq!(stdout(&ok), format!("{}\n", "y".repeat(1024)));
    for (path, why) in [
        (
            "/long",
            "is longer than --body-limit (1024 bytes): not printed cut",
        ),
        ("/cut", "broke off after 7 bytes"),
    ] {
        let args = ["--once", "--print-body", "--body-limit", "1K"];
        let out = output(
            cmd()
                .args(args)
                .args([&server.url("/exact"), &server.url(path)]),
        );
        assert_contains(
            &exits(&out, 1),
            &format!("{path}: answered 200 OK, but the body {why}"),
        );
        assert_eq!(stdout(&out), "", "{path}");
    }
    let out = output(cmd().args([
        "--once",
        "--print-body",
        "--try-timeout",
        "300ms",
        &server.url("/slow"),
    ]));
    assert_contains(
        &exits(&out, 1),
        "but the body was not whole within the try's timeout",
    );
    assert_eq!(stdout(&out), "");
    // --body alone still looks at a prefix: a long body may match.
    let out = output(cmd().args([
        "--once",
        "--body",
        "xxx",
        "--body-limit",
        "1K",
        &server.url("/long"),
    ]));
    exits(&out, 0);
}

#[test]
fn printed_bodies_are_bytes_as_received_one_line_at_least_each() {
    let server = Server::http(|seen| match seen.path.as_str() {
        "/empty" => Reply::status(204, ""),
        "/latin1" => Reply::Full(200, Vec::new(), b"caf\xe9".to_vec()),
        _ => Reply::status(200, "{}"),
    });
    let out = output(cmd().args([
        "--once",
        "--print-body",
        &server.url("/a"),
        &server.url("/empty"),
        &server.url("/latin1"),
    ]));
    exits(&out, 0);
    // A 204 is an empty line: the third body is still on the third line.
    assert_eq!(out.stdout, b"{}\n\ncaf\xe9\n");
}

#[test]
fn printed_bodies_to_a_closed_pipe_keep_the_exit_code() {
    let server = Server::http(|_| Reply::status(200, &"b".repeat(200_000)));
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    // output() would pipe stdout again: spawned here.
    let child = cmd()
        .args([
            "--once",
            "--print-body",
            "--body-limit",
            "1M",
            &server.url("/"),
        ])
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(exits(&finish(child), 0), "");
}

#[test]
fn ipv6_loopback() {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        return skip("no IPv6 loopback (::1) here");
    };
    let server = Server::on(listener, None, |_| Reply::status(200, ""));
    let url = format!("http://[::1]:{}/", server.port());
    exits(&output(cmd().args(["--once", &url])), 0);
}

#[test]
fn an_unresolvable_name_is_named() {
    let out = output(cmd().args(["-t", "200ms", "http://nonexistent.invalid/"]));
    assert_contains(
        &exits(&out, 1),
        "http://nonexistent.invalid/: cannot resolve the host",
    );
}

/// A name server that never answers holds no one past --timeout: each
/// lookup is given up when the try's time is up. Unbounded, the system
/// resolver would wait 3 x 30 s, past the one-minute watchdog.
#[test]
fn a_name_server_that_never_answers_is_given_up_on() {
    let Some(dns) = crate::dns::SilentDns::on("127.0.0.74") else {
        return;
    };
    let child = dns
        .command(env!("CARGO_BIN_EXE_httpwait"))
        .args(["-t", "1s", "http://silent.test/"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = exits(&crate::finish(child), 1);
    assert_contains(
        &err,
        "http://silent.test/: cannot resolve the host: no answer from the name service within",
    );
}

/// A name that appears only while httpwait waits, with an IPv6 and an IPv4
/// address of which only one answers: httpwait must look the name up again
/// on each try and try every address. `getaddrinfo` puts `::1` first (RFC 6724),
/// so the server on 127.0.0.1 only proves that a refused first address is not
/// the end, and the one on `::1` only that IPv6 is tried at all. The name lives
/// in an `/etc/hosts` bind-mounted in a private mount namespace.
#[test]
fn names_are_looked_up_on_each_try_and_every_address_tried() {
    if !rustix::process::geteuid().is_root() {
        return skip("not root: cannot make a mount namespace");
    }
    let Ok(v6) = std::net::TcpListener::bind("[::1]:0") else {
        return skip("no IPv6 loopback (::1) here");
    };
    for (first, answering) in [("::1", "127.0.0.1"), ("127.0.0.1", "::1")] {
        // One port number on both addresses: refused on `first`, served on
        // `answering`.
        let (listener, _refusing) = loop {
            let v4 = Reserved::new();
            let port = v4.port;
            let Ok(v6_reserved) = bind_v6(port) else {
                continue;
            };
            if answering == "::1" {
                drop(v6_reserved);
                if let Ok(l) = TcpListener::bind(("::1", port)) {
                    break (l, v4.fd);
                }
            } else {
                drop(v4);
                if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
                    break (l, v6_reserved);
                }
            }
        };
        let port = listener.local_addr().unwrap().port();
        let server = Server::on(listener, None, |_| Reply::status(200, ""));
        let dir = tempfile::tempdir().unwrap();
        let hosts = dir.path().join("hosts");
        std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
        let script = format!(
            "mount --bind {} /etc/hosts && exec \"$0\" \"$@\"",
            hosts.display()
        );
        let url = format!("http://later.test:{port}/");
        let mut child = std::process::Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script])
            .arg(env!("CARGO_BIN_EXE_httpwait"))
            .args(["-v", "-t", "30s", "--interval", "20ms", &url])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let first_line = lines.next().expect("a line on stderr").unwrap();
        assert!(
            first_line.contains("cannot resolve the host"),
            "{first_line}"
        );
        // Rewritten in place: the bind mount shows the same file.
        std::fs::write(
            &hosts,
            format!("127.0.0.1 localhost\n{first} later.test\n{answering} later.test\n"),
        )
        .unwrap();
        let rest: Vec<String> = lines.map(Result::unwrap).collect();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{first} then {answering}: {rest:?}");
        assert!(server.request().is_some());
    }
    drop(v6);
}

fn bind_v6(port: u16) -> std::io::Result<OwnedFd> {
    let fd = net::socket(AddressFamily::INET6, SocketType::STREAM, None)?;
    net::sockopt::set_ipv6_v6only(&fd, true)?;
    net::bind(
        &fd,
        &std::net::SocketAddrV6::new(std::net::Ipv6Addr::LOCALHOST, port, 0, 0),
    )?;
    Ok(fd)
}

#[test]
fn usage_errors_say_what_was_expected() {
    for (args, why) in [
        (&["-s", "2xx", "http://h/"][..], "invalid status '2xx'"),
        (
            &["-H", "no colon", "http://h/"],
            "invalid header 'no colon'",
        ),
        (&["https://user:pw@h/"], "credentials in a URL are visible"),
        (
            &["-H", "Authorization: Bearer pw@", "http://h/"],
            "--header Authorization: credentials on the command line",
        ),
        (&["localhost:80"], "invalid URL 'localhost:80'"),
        (
            &["-X", "HEAD", "--body", "x", "http://h/"],
            "--method HEAD gets no body",
        ),
        (
            &["--body-regex", "(", "http://h/"],
            "invalid --body-regex '('",
        ),
        (&["--auth", "Bearer", "http://h/"], "--auth needs a token"),
        (&["--token-file", "/x", "http://h/"], "--auth"),
        (&["--try-timeout", "0", "http://h/"], "no time at all"),
        (
            &["--cacert", "/nonexistent.pem", "http://h/"],
            "cannot read --cacert /nonexistent.pem",
        ),
    ] {
        let err = exits(&output(cmd().args(args)), 2);
        assert!(err.starts_with("httpwait: "), "{args:?}: {err}");
        assert_contains(&err, why);
        assert!(!err.contains("pw@"), "{err}");
    }
    let out = output(cmd().arg("--help"));
    let help = stdout(&out);
    exits(&out, 0);
    assert_contains(&help, "Exit codes:\n  0  every URL answered as wanted");
}
