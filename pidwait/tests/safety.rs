//! Attacks on what pidwait believes (issue "safe by default"): stale
//! pidfiles whose pid a newcomer got, pidfiles reached through paths other
//! users control, half-written files. Each attack is real: a pid really
//! reused in a private pid namespace, files really owned by another uid,
//! pidwait really run as another user through `setpriv`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use crate::support::{
    finish, in_pid_namespace, parts, root, run, running, start, start_ticks, wait_until,
    waiting_on_pidfd, written_ago, Dir, Proc, LIMIT,
};

/// The pid of a dead service is given to a new process of the same
/// program: `--exe` cannot tell them apart, the start time can. Nothing is
/// signalled in any mode, and each says why.
#[test]
fn a_stale_pidfile_never_kills_the_newcomer() {
    if !root() {
        return;
    }
    let dir = Dir::new();
    let script = r#"
        set -u
        pw=$1 dir=$2
        sleep 60 & old=$!
        echo "$old" > "$dir/svc.pid"
        touch -d "@$(( $(date +%s) - 5 ))" "$dir/svc.pid" # written 5 s ago
        kill -KILL "$old"; wait "$old"
        echo $((old - 1)) > /proc/sys/kernel/ns_last_pid
        sleep 60 & new=$!
        [ "$new" = "$old" ] || { echo "pid $old was not reused (got $new)" >&2; exit 99; }
        "$pw" --kill --exe /usr/bin/sleep --retry KILL/1 "$dir/svc.pid"; echo "kill=$?"
        "$pw" --kill --strict --group --retry KILL/1 "$dir/svc.pid"; echo "strict=$?"
        "$pw" --exit --timeout 10s "$dir/svc.pid"; echo "exit=$?"
        "$pw" --running "$dir/svc.pid"; echo "running=$?"
        "$pw" --timeout 50ms "$dir/svc.pid"; echo "wait=$?"
        # Still alive after all that: --timeout 0 times out (1).
        "$pw" --exit --timeout 0 --pid "$new" 2> /dev/null; echo "alive=$?"
        # The way out: believe the pidfile as it is.
        "$pw" --running --trust-pidfile "$dir/svc.pid" > /dev/null; echo "trusted=$?"
        "$pw" --timeout 10s --trust-pidfile "$dir/svc.pid" > /dev/null; echo "trustedwait=$?"
    "#;
    let (code, out, err) = in_pid_namespace(script, &[dir.0.path().to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        out, "kill=0\nstrict=1\nexit=0\nrunning=1\nwait=1\nalive=1\ntrusted=0\ntrustedwait=0\n",
        "{err}"
    );
    let stale = err.matches("stale pidfile: pid ").count();
    assert!(stale >= 5, "every mode says why: {err}");
    assert!(err.contains("not signalling it"), "{err}");
    assert!(err.contains("after the pidfile was last written"), "{err}");
}

/// The same outside a namespace, on a process of ours: a pidfile last
/// written before the process started (an old pidfile whose pid it got).
#[test]
fn a_process_younger_than_its_pidfile_is_not_its() {
    let dir = Dir::new();
    let (target, file) = dir.sleeper("young.pid");
    written_ago(Path::new(&file), Duration::from_secs(3600));
    let (code, out, err) = parts(&run(&["--kill", &file]));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.is_empty());
    assert!(
        err == format!(
            "pidwait: stale pidfile: pid {} started 1h after the pidfile was last written, \
             so it is another process that got the same pid; not signalling it: nothing to stop\n",
            target.pid()
        ),
        "{err}"
    );
    assert!(running(target.pid()));
    // Rewritten now (by the process itself, say): believed again.
    fs::write(&file, target.pid_line()).unwrap();
    let (code, out, err) = parts(&run(&["--running", &file]));
    assert_eq!((code, out), (Some(0), target.pid_line()), "{err}");
}

/// `--started`: the start time recorded for a pid (from `--print-started`)
/// must be the process's, or it is another process.
#[test]
fn started_guards_a_pid_without_pidfile() {
    let mut target = Proc::sleeper();
    let pid = target.pid().to_string();
    let (code, out, err) = parts(&run(&["--running", "--print-started", "--pid", &pid]));
    assert_eq!(code, Some(0), "{err}");
    let ticks = start_ticks(target.pid());
    assert_eq!(out, format!("{pid} {ticks}\n"));
    let wrong = (ticks + 1).to_string();
    let (code, _, err) = parts(&run(&["--running", "--started", &wrong, "--pid", &pid]));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("another process has its pid now"), "{err}");
    let (code, _, err) = parts(&run(&["--kill", "--started", &wrong, "--pid", &pid]));
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("not signalling it"), "{err}");
    assert!(running(target.pid()));
    let right = ticks.to_string();
    let (code, _, err) = parts(&run(&["--kill", "--started", &right, "--pid", &pid]));
    assert_eq!(code, Some(0), "{err}");
    target.reap();
    // One start time is about one process.
    let other = Proc::sleeper();
    let (code, _, err) = parts(&run(&[
        "--kill",
        "--started",
        &right,
        "--pid",
        &pid,
        "--pid",
        &other.pid().to_string(),
    ]));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--started is the start time of one process"),
        "{err}"
    );
}

#[test]
fn running_says_whether_it_runs() {
    let dir = Dir::new();
    let (target, file) = dir.sleeper("r.pid");
    let (code, out, err) = parts(&run(&["--running", &file]));
    assert_eq!(
        (code, out, err),
        (Some(0), target.pid_line(), String::new())
    );
    let (code, _, err) = parts(&run(&["--running", "--exe", "/usr/bin/python3", &file]));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("not running: pid") && err.contains("runs /usr/bin/sleep"),
        "{err}"
    );
    let stale = dir.stale_pidfile("gone.pid");
    let (code, out, err) = parts(&run(&["--running", &stale]));
    assert_eq!(code, Some(1), "{err}");
    assert!(out.is_empty());
    assert!(err.contains("has exited"), "{err}");
    let (code, _, err) = parts(&run(&["--running", dir.path("none.pid").to_str().unwrap()]));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("not running: no pidfile"), "{err}");
    let zombie = Proc::spawn("true", &[]);
    assert!(wait_until(LIMIT, || !running(zombie.pid())));
    let (code, _, err) = parts(&run(&[
        "--running",
        "--quiet",
        "--pid",
        &zombie.pid().to_string(),
    ]));
    assert_eq!(code, Some(1), "{err}");
    let bad = dir.pidfile("bad.pid", "x\n");
    let (code, _, err) = parts(&run(&["--running", &bad]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("expected a decimal pid"), "{err}");
}

/// Whole-path trust: each directory a pidfile is reached through, and the
/// file itself. Refused with the component and the reason named, nothing
/// signalled; `--trust-pidfile` accepts each.
#[test]
fn pidfiles_other_users_could_have_written_are_refused() {
    if !root() {
        return;
    }
    let dir = Dir::new();
    let target = Proc::sleeper();
    let base = dir.0.path();
    let mkdir = |name: &str, mode: u32, uid: u32| {
        let d = base.join(name);
        fs::create_dir(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(mode)).unwrap();
        std::os::unix::fs::chown(&d, Some(uid), None).unwrap();
        let file = d.join("s.pid");
        fs::write(&file, target.pid_line()).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        d
    };
    let theirs = mkdir("theirs", 0o755, 65534);
    let open = mkdir("open", 0o777, 0);
    let group = mkdir("group", 0o775, 0);
    let sticky = mkdir("sticky", 0o1777, 0);
    std::os::unix::fs::symlink(&theirs, base.join("via-link")).unwrap();
    std::os::unix::fs::symlink(&sticky, base.join("good-link")).unwrap();
    // Another user's link in a sticky directory, to root's own directory
    // (the kernel's protected_symlinks would not follow it either).
    let run_dir = mkdir("run", 0o755, 0);
    let planted = sticky.join("x");
    std::os::unix::fs::symlink(&run_dir, &planted).unwrap();
    std::os::unix::fs::lchown(&planted, Some(65534), Some(65534)).unwrap();
    let gw = dir.pidfile("gw.pid", &target.pid_line());
    fs::set_permissions(&gw, fs::Permissions::from_mode(0o664)).unwrap();
    let refused = [
        (
            theirs.join("s.pid"),
            format!("directory {} is owned by uid 65534", theirs.display()),
        ),
        (
            base.join("via-link/s.pid"),
            format!("directory {} is owned by uid 65534", theirs.display()),
        ),
        (
            open.join("s.pid"),
            format!(
                "directory {} is writable by anyone (mode 777) and has no sticky bit",
                open.display()
            ),
        ),
        (
            group.join("s.pid"),
            format!(
                "directory {} is writable by its group (mode 775)",
                group.display()
            ),
        ),
        (
            planted.join("s.pid"),
            format!(
                "{} is a symlink owned by uid 65534, neither root nor us (uid 0)",
                planted.display()
            ),
        ),
        (
            gw.clone().into(),
            "it is group-writable (mode 664)".to_owned(),
        ),
    ];
    for (file, why) in &refused {
        let file = file.to_str().unwrap();
        // A program or name to check does not make up for the path: the
        // pidfile could name any process running it (here, root's sleep).
        let modes: [&[&str]; 4] = [
            &["--kill"],
            &["--running"],
            &["--kill", "--exe", "/usr/bin/sleep"],
            &["--kill", "--name", "sleep"],
        ];
        for mode in modes {
            let (code, out, err) = parts(&run(&[mode, &[file]].concat()));
            assert_eq!(code, Some(2), "{file} {mode:?}: {err}");
            assert!(out.is_empty());
            assert!(
                err.contains(&format!("refusing pidfile {file}: {why}"))
                    && err.contains("--trust-pidfile"),
                "{file}: {err}"
            );
        }
        let (code, out, err) = parts(&run(&["--running", "--trust-pidfile", file]));
        assert_eq!((code, out), (Some(0), target.pid_line()), "{file}: {err}");
    }
    assert!(running(target.pid()), "nothing was signalled");
    // A sticky directory (as /tmp), and a root-owned link to it (as /var/run).
    for file in [sticky.join("s.pid"), base.join("good-link/s.pid")] {
        let (code, out, err) = parts(&run(&["--running", file.to_str().unwrap()]));
        assert_eq!(
            (code, out),
            (Some(0), target.pid_line()),
            "{}: {err}",
            file.display()
        );
    }
}

/// For the tests run as nobody (as root only; None when skipped): a
/// directory others can search, a process to name, and the path of a
/// directory for nobody in it (not made yet).
fn as_nobody() -> Option<(Dir, Proc, PathBuf)> {
    if !root() {
        return None;
    }
    let dir = Dir::new();
    fs::set_permissions(dir.0.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let target = Proc::sleeper();
    let mine = dir.path("nobody");
    Some((dir, target, mine))
}

/// As another user: that user's own directory and pidfile are believed,
/// but a root-owned file in it is not (systemd's unsafe transition: the
/// user could have moved it there), nor another user's directory.
#[test]
fn as_another_user_the_path_is_checked_against_that_user() {
    let Some((_dir, target, mine)) = as_nobody() else {
        return;
    };
    fs::create_dir(&mine).unwrap();
    std::os::unix::fs::chown(&mine, Some(65534), Some(65534)).unwrap();
    let own = mine.join("own.pid");
    let roots = mine.join("root.pid");
    for file in [&own, &roots] {
        fs::write(file, target.pid_line()).unwrap();
        fs::set_permissions(file, fs::Permissions::from_mode(0o644)).unwrap();
    }
    std::os::unix::fs::chown(&own, Some(65534), Some(65534)).unwrap();
    let as_nobody = |file: &Path| {
        let out = Command::new("setpriv")
            .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_pidwait"))
            .args(["--running", file.to_str().unwrap()])
            .env_clear()
            .output()
            .unwrap();
        parts(&out)
    };
    let (code, out, err) = as_nobody(&own);
    assert_eq!((code, out), (Some(0), target.pid_line()), "{err}");
    let (code, _, err) = as_nobody(&roots);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "{} is owned by uid 0 but lies in {}, owned by uid 65534 (an unsafe transition)",
            roots.display(),
            mine.display()
        )),
        "{err}"
    );
    // Root's view of the same: a directory of another user.
    let (code, _, err) = parts(&run(&["--running", own.to_str().unwrap()]));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("is owned by uid 65534, neither root nor us"),
        "{err}"
    );
}

/// As another user, that user's own symlink (in its own directory) is
/// followed: only links of users other than root and us are refused.
#[test]
fn as_another_user_its_own_symlinks_are_followed() {
    let Some((_dir, target, mine)) = as_nobody() else {
        return;
    };
    fs::create_dir_all(mine.join("run")).unwrap();
    std::os::unix::fs::symlink("run", mine.join("link")).unwrap();
    let pidfile = mine.join("run/own.pid");
    fs::write(&pidfile, target.pid_line()).unwrap();
    fs::set_permissions(&pidfile, fs::Permissions::from_mode(0o644)).unwrap();
    for path in [&mine, &mine.join("run"), &mine.join("link"), &pidfile] {
        std::os::unix::fs::lchown(path, Some(65534), Some(65534)).unwrap();
    }
    let out = Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_pidwait"))
        .args(["--running", mine.join("link/own.pid").to_str().unwrap()])
        .env_clear()
        .output()
        .unwrap();
    let (code, out, err) = parts(&out);
    assert_eq!((code, out), (Some(0), target.pid_line()), "{err}");
}

/// As another user, `--exe` on root's process cannot read its executable:
/// that is said (permission denied), not passed off as a process without
/// one, and it is not running as far as the check goes.
#[test]
fn as_another_user_an_unreadable_exe_is_an_error() {
    let Some((_dir, target, mine)) = as_nobody() else {
        return;
    };
    fs::create_dir(&mine).unwrap();
    let pidfile = mine.join("root.pid");
    fs::write(&pidfile, target.pid_line()).unwrap();
    fs::set_permissions(&pidfile, fs::Permissions::from_mode(0o644)).unwrap();
    for path in [&mine, &pidfile] {
        std::os::unix::fs::chown(path, Some(65534), Some(65534)).unwrap();
    }
    let out = Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_pidwait"))
        .args(["--running", "--exe", "/usr/bin/sleep"])
        .arg(&pidfile)
        .env_clear()
        .output()
        .unwrap();
    let (code, out, err) = parts(&out);
    assert_eq!((code, out.as_str()), (Some(1), ""), "{err}");
    assert!(
        err.contains(&format!("checking pid {}: Permission denied", target.pid())),
        "{err}"
    );
}

/// A pidfile still being written, `1` so far: waited on, not refused as
/// "pid 1 is init"; seen whole once its writer finishes.
#[test]
fn a_half_written_one_is_waited_on() {
    let dir = Dir::new();
    let target = Proc::sleeper();
    let file = dir.path("half.pid");
    let mut writer = fs::File::create(&file).unwrap();
    std::io::Write::write_all(&mut writer, b"1").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let waiter = start(&["--timeout", "20s", file.to_str().unwrap()]);
    assert!(wait_until(LIMIT, || crate::support::in_poll(waiter.id())));
    // However long it has looked at "1", it is still waiting: the writer
    // now writes the whole line.
    assert_eq!(waiter_state(&waiter), None, "still waiting");
    writer.set_len(0).unwrap();
    std::io::Seek::rewind(&mut writer).unwrap();
    std::io::Write::write_all(&mut writer, target.pid_line().as_bytes()).unwrap();
    drop(writer);
    let (code, out, err) = finish(waiter);
    assert_eq!((code, out), (Some(0), target.pid_line()), "{err}");
    // A lone "1" whose writer has gone: still not fatal in wait mode, a
    // timeout (1) saying what it holds.
    let one = dir.pidfile("one.pid", "1");
    let (code, _, err) = parts(&run(&["--timeout", "100ms", &one]));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("holds \"1\" with no newline yet"), "{err}");
}

/// A line without its newline whose writer still holds the file is never
/// believed, however long it is looked at; once the writer closes it, it
/// is acted on at once. Its mtime is in the future (a clock stepped back),
/// so "not written for a while" never applies: only the read lease can
/// tell that the writer is done.
#[test]
fn a_half_line_is_believed_only_once_its_writer_is_done() {
    let dir = Dir::new();
    let mut target = Proc::sleeper();
    let path = dir.path("held.pid");
    let file = path.to_str().unwrap();
    let mut writer = fs::File::create(&path).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    std::io::Write::write_all(&mut writer, target.pid().to_string().as_bytes()).unwrap();
    writer
        .set_modified(SystemTime::now() + Duration::from_secs(3600))
        .unwrap();
    for mode in ["--kill", "--exit", "--running"] {
        let (code, _, err) = parts(&run(&[mode, "--timeout", "1s", file]));
        assert_eq!(code, Some(2), "{mode}: {err}");
        assert!(
            err.contains(&format!("pidfile is incomplete (\"{}\"", target.pid())),
            "{mode}: {err}"
        );
    }
    assert!(running(target.pid()));
    // Waited on, and seen once closed (a close makes no dnotify event).
    let waiter = start(&["--timeout", "20s", file]);
    assert!(wait_until(LIMIT, || crate::support::in_poll(waiter.id())));
    assert_eq!(waiter_state(&waiter), None, "still waiting");
    drop(writer);
    let (code, out, err) = finish(waiter);
    assert_eq!((code, out), (Some(0), target.pid_line()), "{err}");
    let (code, _, err) = parts(&run(&["--kill", file]));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        target.reap().signal(),
        Some(nix::sys::signal::Signal::SIGTERM as i32)
    );
}

/// None while a started pidwait has not exited.
fn waiter_state(child: &std::process::Child) -> Option<char> {
    crate::support::state(child.id() as i32).filter(|s| *s == 'Z')
}

/// `--retry -9/5`: the `-NUMBER` form is a schedule, not an option.
#[test]
fn a_schedule_may_start_with_a_signal_number() {
    let mut target = Proc::term_ignorer();
    let pid = target.pid().to_string();
    let (code, _, err) = parts(&run(&["--kill", "--retry", "-9/5", "--pid", &pid]));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&target.reap()),
        Some(9)
    );
}

/// The identity is checked with the process held: once pidwait waits on
/// it, the pid it signals is the one it checked.
#[test]
fn exit_waits_on_the_process_it_checked() {
    let dir = Dir::new();
    let (mut target, file) = dir.sleeper("held.pid");
    let waiter = start(&[
        "--exit",
        "--exe",
        "/usr/bin/sleep",
        "--timeout",
        "20s",
        &file,
    ]);
    assert!(wait_until(LIMIT, || waiting_on_pidfd(waiter.id())));
    target.0.kill().unwrap();
    let (code, _, err) = finish(waiter);
    assert_eq!(code, Some(0), "{err}");
}
