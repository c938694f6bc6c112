//! Integration tests: run the real `lsb-status` binary against real
//! processes, lock files and scripts.

mod cli;
mod header;
mod lock;
mod marks;
mod status;
mod trusted;
mod unit;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary, with a clean environment (no colour, no terminal hints).
fn lsb_status() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lsb-status"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd
}

/// Runs `lsb-status ARGS` and returns its output.
fn run(args: &[&str]) -> Output {
    lsb_status().args(args).output().expect("run lsb-status")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts that the run's stderr contains `text`, showing it if not.
#[track_caller]
fn assert_stderr_has(out: &Output, text: &str) {
    let err = stderr(out);
    assert!(err.contains(text), "no {text:?} in stderr:\n{err}");
}

/// The write end of a pipe whose reader is gone: writes fail with EPIPE.
fn closed_pipe() -> Stdio {
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    Stdio::from(write)
}

/// `/dev/full`, opened for writing: writes fail with ENOSPC.
fn dev_full() -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap()
}

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Waits for `cond`, polling every few milliseconds, for at most 10 s.
fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

/// The one-letter state of a process (`S`, `R`, `Z`, ...), if it exists.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// The uid and gid of `nobody`, to run a command without root's powers.
const NOBODY: u32 = 65534;

fn is_root() -> bool {
    // SAFETY-free way: root owns /proc/self when we are root.
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()) == 0
}

/// A test that cannot run here says so on stderr (`SKIP: reason`) and
/// returns false; under `CI=true`, where CI provides every condition (root,
/// Debian 12 with the packages `make test` installs), it fails instead.
fn can_run(condition: bool, reason: &str) -> bool {
    if condition {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "cannot run under CI=true: {reason}"
    );
    eprintln!("SKIP: {reason}");
    false
}
