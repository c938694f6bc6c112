//! cliutil through a real process: `examples/decided.rs`, a tool in
//! miniature, with its stdout closed, full, or fine.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The example binary. Built here: `cargo test` builds examples only when
/// it builds every target, so `cargo test --test tests` would otherwise run
/// whatever `decided` an older build left (and pass with cliutil broken).
fn decided() -> Command {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let path = BUILT.get_or_init(|| {
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args(["build", "--quiet", "-p", "cliutil", "--example", "decided"]);
        if !cfg!(debug_assertions) {
            cargo.arg("--release");
        }
        let status = cargo.status().unwrap();
        assert!(status.success(), "building examples/decided: {status}");
        let mut path: PathBuf = std::env::current_exe().unwrap();
        path.pop(); // deps/
        path.pop();
        path.push("examples/decided");
        path
    });
    Command::new(path)
}

/// Runs with stdout a socket whose peer is closed: every write gets EPIPE.
fn with_closed_stdout(args: &[&str]) -> Output {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    drop(ours);
    decided()
        .args(args)
        .stdout(std::os::fd::OwnedFd::from(theirs))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn with_full_stdout(args: &[&str]) -> Output {
    decided()
        .args(args)
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_closed_pipe_keeps_the_decided_exit_code() {
    for code in [0, 1, 3] {
        let out = with_closed_stdout(&["--lines", "3", "--code", &code.to_string()]);
        assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
        assert_eq!(stderr(&out), "decided: stdout closed\n");
    }
}

#[test]
fn an_open_pipe_is_not_taken_for_closed() {
    let out = decided()
        .args(["--lines", "2", "--code", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout, b"line 0\nline 1\n");
    assert_eq!(stderr(&out), "");
}

#[test]
fn a_full_stdout_is_named_with_a_non_zero_exit() {
    for args in [&["--lines", "1"][..], &["--help"], &["--version"]] {
        let out = with_full_stdout(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            stderr(&out),
            "decided: cannot write to standard output: No space left on device (os error 28)\n",
            "{args:?}"
        );
    }
}

#[test]
fn help_to_a_closed_pipe_is_quiet_success() {
    let out = with_closed_stdout(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stderr(&out), "");
}

#[test]
fn usage_errors_are_two_lines_in_the_tools_voice() {
    let out = decided().args(["--code", "300"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "decided: invalid value '300' for '--code <CODE>': 300 is not in 0..=255\n\
         decided: tip: see 'decided --help'\n"
    );
    let out = decided().args(["--line", "1"]).output().unwrap();
    assert_eq!(
        stderr(&out),
        "decided: unexpected argument '--line' found\n\
         decided: tip: a similar argument exists: '--lines'\n"
    );
}

#[test]
fn control_characters_in_a_bad_value_are_escaped_not_split() {
    // A newline would have split the message, and a blank line let the
    // value forge clap's tip.
    let out = decided()
        .args(["--code", "1\n\ntip: run this\x1b[2J"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "decided: invalid value '1\\n\\ntip: run this\\x1b[2J' for '--code <CODE>': \
         invalid digit found in string\n\
         decided: tip: see 'decided --help'\n"
    );
}

#[test]
fn a_broken_pipe_not_on_stdout_is_a_failure() {
    // A server that hung up mid-request is no quiet success, even with the
    // closed pipe's EPIPE.
    let out = decided().args(["--peer-gone"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "decided: sending the request: Broken pipe (os error 32)\n"
    );
    assert!(out.stdout.is_empty());
}
