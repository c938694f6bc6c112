//! `pidwait --exit`: waiting for a process to go, without signalling it.

use crate::support::{
    finish, parts, pidwait, run, running, start, state, still_running, wait_until,
    waiting_on_pidfd, Dir, Proc, LIMIT,
};

#[test]
fn returns_when_the_process_exits() {
    let dir = Dir::new();
    let (mut target, file) = dir.sleeper("s.pid");
    let waiter = start(&["--exit", "--timeout", "30s", &file]);
    assert!(wait_until(LIMIT, || waiting_on_pidfd(waiter.id())));
    target.0.kill().unwrap();
    let (code, out, err) = finish(waiter);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.is_empty() && err.is_empty(), "{out}{err}");
}

#[test]
fn sends_no_signal_and_times_out_with_1() {
    let target = Proc::sleeper();
    let pid = target.pid().to_string();
    let (code, out, err) = parts(&run(&["--exit", "--timeout", "100ms", "--pid", &pid]));
    assert_eq!(code, Some(1));
    assert!(out.is_empty());
    assert_eq!(err, still_running(&pid, "100ms"));
    assert!(running(target.pid()));
}

/// An unreaped child has exited: --exit must not wait for its parent to reap
/// it (kill(pid, 0) would still call it alive).
#[test]
fn a_zombie_has_exited() {
    let zombie = Proc::spawn("true", &[]);
    assert!(wait_until(LIMIT, || !running(zombie.pid())));
    let pid = zombie.pid().to_string();
    let (code, _, err) = parts(&run(&["--exit", "--timeout", "30s", "--pid", &pid]));
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("not running: nothing to wait for"), "{err}");
    let (code, _, _) = parts(&run(&["--exit", "--strict", "--pid", &pid]));
    assert_eq!(code, Some(1));
}

/// A child that becomes a zombie while pidwait waits on it.
#[test]
fn a_process_turning_zombie_while_waited_on() {
    let mut target = Proc::sleeper();
    let pid = target.pid().to_string();
    let waiter = start(&["--exit", "--timeout", "30s", "--pid", &pid]);
    assert!(wait_until(LIMIT, || waiting_on_pidfd(waiter.id())));
    // Killed but not reaped by us until pidwait is done.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(target.pid()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let (code, _, err) = finish(waiter);
    assert_eq!((code, err.as_str()), (Some(0), ""));
    assert_eq!(state(target.pid()), Some('Z'), "still unreaped");
    target.reap();
}

#[test]
fn a_missing_pidfile_is_nothing_to_wait_for() {
    let dir = Dir::new();
    let file = dir.path("gone.pid");
    let file = file.to_str().unwrap();
    let (code, out, err) = parts(&run(&["--exit", file]));
    assert_eq!(code, Some(0));
    assert!(out.is_empty());
    assert!(
        err.contains("no pidfile") && err.contains("nothing to wait for"),
        "{err}"
    );
    let (code, _, err) = parts(&run(&["--exit", "--strict", file]));
    assert_eq!(code, Some(1), "{err}");
    let (code, _, err) = parts(&run(&["--exit", "--quiet", file]));
    assert_eq!((code, err.as_str()), (Some(0), ""));
}

#[test]
fn remove_deletes_the_pidfile_once_gone() {
    let dir = Dir::new();
    let file = dir.stale_pidfile("r.pid");
    let (code, _, err) = parts(&run(&["--exit", "--remove", &file]));
    assert_eq!(code, Some(0), "{err}");
    assert!(!std::path::Path::new(&file).exists());
}

/// A note to a stderr nobody reads (a closed pipe) must not panic.
#[test]
fn a_closed_stderr_does_not_panic() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    // Unreaped, so its pid cannot be taken by another process meanwhile.
    let zombie = Proc::spawn("true", &[]);
    assert!(wait_until(LIMIT, || !running(zombie.pid())));
    let status = pidwait()
        .args(["--exit", "--pid", &zombie.pid().to_string()])
        .stderr(writer)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0), "{status}");
}
