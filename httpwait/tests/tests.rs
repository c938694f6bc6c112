//! Integration tests: run the real `httpwait` binary against real servers on
//! loopback (HTTP, HTTPS with certificates made by openssl at test time,
//! nginx), never a wildcard address.

// The certificates db-reset's tests make: one implementation for both.
#[allow(dead_code)] // not every kind of certificate is needed here
#[path = "../../db-reset/tests/certs.rs"]
mod certs;
#[path = "../../db-reset/tests/dns.rs"]
mod dns;
#[allow(dead_code)] // certs.rs's openssl command lines
#[path = "../../db-reset/tests/openssl.rs"]
mod openssl;
#[path = "../../db-reset/tests/reserved.rs"]
mod reserved;
mod server;
mod tls;
mod wait;

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `httpwait` with a clean environment.
pub fn cmd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_httpwait"));
    cmd.env_clear();
    cmd
}

/// Runs `cmd` to its end; a run that takes more than a minute (a hang, the
/// thing these tests guard against) is killed and fails the test.
pub fn output(cmd: &mut Command) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running httpwait");
    finish(child)
}

pub fn finish(mut child: Child) -> Output {
    let watchdog = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > watchdog {
            child.kill().unwrap();
            panic!("httpwait still running after a minute: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8 stdout")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("utf-8 stderr")
}

/// Asserts the exit code (showing stderr when it is not `code`) and returns
/// stderr.
pub fn exits(out: &Output, code: i32) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    err
}

pub fn assert_contains(text: &str, part: &str) {
    assert!(text.contains(part), "{part:?} not in: {text}");
}

/// A test that cannot run here says so; under CI=true it fails instead.
pub fn skip(reason: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "cannot run under CI: {reason}"
    );
    eprintln!("SKIP: {reason}");
}
