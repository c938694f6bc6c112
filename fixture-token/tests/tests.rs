//! Integration tests: run the real `fixture-token` binary.

mod cli;
mod pyyaml;

use std::path::PathBuf;
use std::process::{Command, Output};

/// The Arvados fixtures shared by all engineers; read in place, never copied.
pub fn corpus() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpus/arvados"
    ))
}

/// `fixture-token` with a clean environment.
pub fn cmd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fixture-token"));
    cmd.env_clear();
    cmd
}

pub fn run(args: &[&str]) -> Output {
    cmd().args(args).output().expect("running fixture-token")
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

/// A test that cannot run here says so on stderr; CI installs what every
/// test needs (python3-yaml), so there a missing one fails the test.
pub fn skip(reason: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "cannot run under CI=true: {reason}"
    );
    eprintln!("SKIP: {reason}");
}

pub fn assert_contains(text: &str, part: &str) {
    assert!(text.contains(part), "{part:?} not in: {text}");
}
