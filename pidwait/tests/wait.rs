//! `pidwait FILE`: waiting for a pidfile to name a live process.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use nix::sys::signal::Signal;

use crate::support::{
    finish, in_poll, parts, root, run, running, signal, start, wait_until, Dir, Proc, LIMIT,
};

/// Asserts a run succeeded and printed `target`'s pid, and only that.
#[track_caller]
fn assert_prints((code, out, err): &(Option<i32>, String, String), target: &Proc) {
    assert_eq!(*code, Some(0), "{err}");
    assert_eq!(*out, target.pid_line());
}

#[test]
fn a_live_pid_is_printed() {
    let dir = Dir::new();
    let (target, file) = dir.sleeper("a.pid");
    let result = parts(&run(&[&file]));
    assert_prints(&result, &target);
    assert!(result.2.is_empty(), "{}", result.2);
}

#[test]
fn several_pids_are_all_printed() {
    let dir = Dir::new();
    let (a, b) = (Proc::sleeper(), Proc::sleeper());
    let file = dir.pidfile("ab.pid", &format!("{} {}\n", a.pid(), b.pid()));
    let (code, out, _) = parts(&run(&[&file]));
    assert_eq!(code, Some(0));
    assert_eq!(out, format!("{}\n{}\n", a.pid(), b.pid()));
}

/// A service that writes its pidfile a while after it starts, into a
/// directory that does not exist yet.
#[test]
fn a_pidfile_written_late_is_seen() {
    let dir = Dir::new();
    let file = dir.path("run/late.pid");
    let script = format!(
        "sleep 0.3; mkdir -p {0}; echo $$ > {1}.tmp; mv {1}.tmp {1}; exec sleep 60",
        dir.path("run").display(),
        file.display()
    );
    let target = Proc::spawn("sh", &["-c", &script]);
    assert_prints(
        &parts(&run(&["--timeout", "10s", file.to_str().unwrap()])),
        &target,
    );
}

/// An empty pidfile (created first, filled in later) is waited on, not rejected.
#[test]
fn an_empty_pidfile_is_read_again() {
    let dir = Dir::new();
    let target = Proc::sleeper();
    let file = dir.pidfile("e.pid", "");
    let waiter = start(&["--timeout", "10s", &file]);
    // Written only once pidwait has seen the empty file and waits for more.
    assert!(wait_until(LIMIT, || in_poll(waiter.id())));
    let mut f = fs::OpenOptions::new().append(true).open(&file).unwrap();
    writeln!(f, "{}", target.pid()).unwrap();
    drop(f);
    assert_prints(&finish(waiter), &target);
}

/// A writer that never adds the newline: accepted once the line stops changing.
#[test]
fn a_line_without_newline_is_accepted_once_settled() {
    let dir = Dir::new();
    let target = Proc::sleeper();
    let file = dir.pidfile("n.pid", &target.pid().to_string());
    assert_prints(&parts(&run(&[&file])), &target);
}

#[test]
fn timeout_exits_1_and_says_what_it_saw() {
    let dir = Dir::new();
    let missing = dir.path("never.pid");
    let (code, out, err) = parts(&run(&["--timeout", "150ms", missing.to_str().unwrap()]));
    assert_eq!(code, Some(1));
    assert!(out.is_empty());
    assert!(err.starts_with("pidwait: timed out after 150ms"), "{err}");
    assert!(err.contains("does not exist"), "{err}");

    // A stale pidfile: the pid is not running.
    let file = dir.stale_pidfile("stale.pid");
    let (code, _, err) = parts(&run(&["--timeout", "100ms", &file]));
    assert_eq!(code, Some(1));
    assert!(err.contains("which is not running"), "{err}");
}

#[test]
fn a_zombie_is_not_a_live_process() {
    let dir = Dir::new();
    let zombie = Proc::spawn("true", &[]);
    assert!(wait_until(LIMIT, || !running(zombie.pid())));
    let file = dir.pidfile("z.pid", &zombie.pid_line());
    let (code, _, err) = parts(&run(&["--timeout", "100ms", &file]));
    assert_eq!(code, Some(1));
    assert!(err.contains("zombie") || err.contains("exited"), "{err}");
}

#[test]
fn identity_must_match_before_it_counts() {
    let dir = Dir::new();
    let (target, file) = dir.sleeper("i.pid");
    let (code, _, err) = parts(&run(&[
        "--timeout",
        "100ms",
        "--exe",
        "/usr/bin/python3",
        &file,
    ]));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("runs /usr/bin/sleep"), "{err}");
    assert_prints(
        &parts(&run(&["--exe", "/usr/bin/sleep", "--name", "sleep", &file])),
        &target,
    );
}

#[test]
fn bad_content_exits_2_at_once() {
    let dir = Dir::new();
    let file = dir.pidfile("bad.pid", "12abc\n");
    let (code, out, err) = parts(&run(&[&file]));
    assert_eq!(code, Some(2));
    assert!(out.is_empty());
    assert!(err.contains(&format!("{file}:1: \"12abc\"")), "{err}");
}

#[test]
fn untrusted_pidfiles_are_refused_with_a_way_out() {
    let dir = Dir::new();
    let (target, real) = dir.sleeper("real.pid");
    let link = dir.path("link.pid");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let link = link.to_str().unwrap();
    let (code, _, err) = parts(&run(&[link]));
    assert_eq!(code, Some(2));
    assert!(
        err.contains("symlink") && err.contains("--trust-pidfile"),
        "{err}"
    );
    let (code, _, _) = parts(&run(&["--trust-pidfile", link]));
    assert_eq!(code, Some(0));
    // A name or program to check does not make up for the path.
    let (code, _, err) = parts(&run(&["--name", "sleep", link]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--exe/--name still check"), "{err}");

    let open = dir.pidfile("open.pid", &target.pid_line());
    fs::set_permissions(&open, fs::Permissions::from_mode(0o666)).unwrap();
    let (code, _, err) = parts(&run(&[&open]));
    assert_eq!(code, Some(2));
    assert!(
        err.contains("world-writable") && err.contains("--trust-pidfile"),
        "{err}"
    );

    // Owned by another user (nobody); only meaningful when we are root.
    if root() {
        let theirs = dir.pidfile("theirs.pid", &target.pid_line());
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        let (code, _, err) = parts(&run(&[&theirs]));
        assert_eq!(code, Some(2));
        assert!(err.contains("owned by uid 65534"), "{err}");
        let (code, _, _) = parts(&run(&["--trust-pidfile", &theirs]));
        assert_eq!(code, Some(0));
    }
}

#[test]
fn sigterm_while_waiting_exits_143() {
    let dir = Dir::new();
    let file = dir.path("never.pid");
    let waiter = start(&["--timeout", "30s", file.to_str().unwrap()]);
    // Until pidwait has blocked the signal, SIGTERM would kill it outright
    // (no exit code): wait until it shows the signal as blocked.
    assert!(wait_until(LIMIT, || blocked(waiter.id(), 15)));
    signal(&waiter, Signal::SIGTERM);
    let (code, out, err) = finish(waiter);
    assert_eq!(code, Some(143), "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("interrupted by SIGTERM while waiting for"),
        "{err}"
    );
}

/// A signal pidwait was started with ignored (`trap '' TERM`; SIGINT in a
/// script's `cmd &`) stays ignored: neither blocked nor read, so it ends
/// nothing.
#[test]
fn a_signal_ignored_at_start_stays_ignored() {
    let dir = Dir::new();
    let file = dir.path("never.pid");
    let waiter = Command::new("bash")
        .args(["-c", "trap '' TERM; exec \"$0\" --timeout 30s \"$1\""])
        .arg(env!("CARGO_BIN_EXE_pidwait"))
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once SIGINT is blocked, pidwait has set its signals up.
    assert!(wait_until(LIMIT, || blocked(waiter.id(), 2)));
    assert!(!blocked(waiter.id(), 15), "an ignored SIGTERM was blocked");
    signal(&waiter, Signal::SIGTERM);
    signal(&waiter, Signal::SIGINT);
    let (code, _, err) = finish(waiter);
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("interrupted by SIGINT"), "{err}");
}

/// True once process `pid` blocks signal `num` (from `/proc/PID/status` `SigBlk`).
pub fn blocked(pid: u32, num: u32) -> bool {
    let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigBlk:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (num - 1)) != 0)
}

/// The directory is removed and made again while pidwait waits: the new
/// directory is watched and the pidfile written into it is seen.
#[test]
fn a_directory_made_again_is_watched_again() {
    let dir = Dir::new();
    let run_dir = dir.path("run");
    fs::create_dir(&run_dir).unwrap();
    let file = run_dir.join("again.pid");
    let target = Proc::sleeper();
    let waiter = start(&["--timeout", "20s", file.to_str().unwrap()]);
    assert!(wait_until(LIMIT, || in_poll(waiter.id())));
    fs::remove_dir(&run_dir).unwrap();
    fs::create_dir(&run_dir).unwrap();
    fs::write(&file, target.pid_line()).unwrap();
    assert_prints(&finish(waiter), &target);
}

/// A pidfile written in place (not renamed) while pidwait waits.
#[test]
fn a_pidfile_written_in_place_is_seen() {
    let dir = Dir::new();
    let file = dir.path("inplace.pid");
    let target = Proc::sleeper();
    let waiter = start(&["--timeout", "20s", file.to_str().unwrap()]);
    assert!(wait_until(LIMIT, || in_poll(waiter.id())));
    fs::write(&file, target.pid_line()).unwrap();
    assert_prints(&finish(waiter), &target);
}
