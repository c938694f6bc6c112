//! Integration tests: run the real `db-reset` binary against a real HTTPS
//! server on loopback, with certificates made at test time.

mod certs;
mod dns;
mod openssl;
mod reserved;
mod reset;
mod safety;
mod server;
mod trust;

use std::path::PathBuf;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// The Arvados fixtures shared by all engineers; read in place, never copied.
pub fn corpus() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpus/arvados"
    ))
}

/// `db-reset` with a clean environment and a short connect timeout.
pub fn cmd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_db-reset"));
    cmd.env_clear().args(["--connect-timeout", "5s"]);
    cmd
}

pub fn output(cmd: &mut Command) -> Output {
    cmd.output().expect("running db-reset")
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
    assert_eq!(out.status.code(), Some(code), "{err}");
    err
}

pub fn assert_contains(text: &str, part: &str) {
    assert!(text.contains(part), "{part:?} not in: {text}");
}

/// Waits for `child`; one still running after a minute (a hang, what the
/// safety tests guard against) is killed and fails the test.
pub fn finish(mut child: Child) -> Output {
    let watchdog = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > watchdog {
            child.kill().unwrap();
            panic!("db-reset still running after a minute: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// A test that cannot run here says so; under CI=true it fails instead.
pub fn skip(reason: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "cannot run under CI: {reason}"
    );
    eprintln!("SKIP: {reason}");
}
