//! `lsb-status status`: every LSB status code from a real process in the
//! right state.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command};

use super::{
    assert_stderr_has, can_run, closed_pipe, code, dev_full, is_root, proc_state, run, s, stderr,
    stdout, wait_for,
};

/// A `sleep` child that is killed and reaped when dropped.
struct Sleeper(Child);

impl Sleeper {
    fn start() -> Sleeper {
        Sleeper(
            Command::new("sleep")
                .arg("300")
                .spawn()
                .expect("spawn sleep"),
        )
    }

    /// A sleeper already killed and reaped: its pid names no process.
    fn dead() -> Sleeper {
        let mut sleeper = Sleeper::start();
        sleeper.0.kill().unwrap();
        sleeper.0.wait().unwrap();
        sleeper
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    /// What `status` prints for this process running as `svc`.
    fn running_line(&self) -> String {
        format!("svc (pid {}) is running\n", self.pid())
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Service {
    _tmp: tempfile::TempDir,
    pidfile: PathBuf,
    locks: PathBuf,
}

impl Service {
    fn new() -> Service {
        let tmp = tempfile::tempdir().unwrap();
        Service {
            pidfile: tmp.path().join("svc.pid"),
            locks: tmp.path().join("subsys"),
            _tmp: tmp,
        }
    }

    fn write_pid(&self, pid: u32) {
        fs::write(&self.pidfile, format!("{pid}\n")).unwrap();
    }

    fn lock(&self) {
        fs::create_dir_all(&self.locks).unwrap();
        fs::write(self.locks.join("svc"), "").unwrap();
    }

    /// `lsb-status status` on this service, to add arguments or redirect.
    fn command(&self) -> Command {
        let mut cmd = super::lsb_status();
        cmd.args(["status", "--pidfile", s(&self.pidfile)])
            .args(["--lock-dir", s(&self.locks)]);
        cmd
    }

    fn status(&self, extra: &[&str]) -> std::process::Output {
        self.command().args(extra).output().expect("run lsb-status")
    }
}

#[test]
fn running_is_0() {
    let svc = Service::new();
    let sleeper = Sleeper::start();
    svc.write_pid(sleeper.pid());
    let out = svc.status(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), sleeper.running_line());
    assert_eq!(stderr(&out), "");
}

#[test]
fn killed_is_1_and_the_lock_does_not_matter() {
    let svc = Service::new();
    let mut sleeper = Sleeper::start();
    svc.write_pid(sleeper.pid());
    svc.lock();
    sleeper.0.kill().unwrap();
    sleeper.0.wait().unwrap();
    let out = svc.status(&[]);
    assert_eq!(code(&out), 1);
    assert_eq!(stdout(&out), "svc is dead but pid file exists\n");
    assert_stderr_has(&out, "is not running");
}

#[test]
fn a_zombie_is_dead() {
    let svc = Service::new();
    let mut sleeper = Sleeper::start();
    svc.write_pid(sleeper.pid());
    // Killed but not reaped: the pid still exists, as a zombie.
    sleeper.0.kill().unwrap();
    assert!(wait_for(|| proc_state(sleeper.pid()) == Some('Z')));
    let out = svc.status(&[]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert_eq!(stdout(&out), "svc is dead but pid file exists\n");
    assert_eq!(proc_state(sleeper.pid()), Some('Z'));
}

#[test]
fn a_reused_pid_is_dead_with_exe() {
    let svc = Service::new();
    let sleeper = Sleeper::start();
    svc.write_pid(sleeper.pid());
    // The pid is alive but runs `sleep`, not the daemon we asked about.
    let out = svc.status(&["--exe", "/bin/sh"]);
    assert_eq!(code(&out), 1);
    assert_eq!(stdout(&out), "svc is dead but pid file exists\n");
    assert_stderr_has(&out, "reused");
    let sleep = fs::read_link(format!("/proc/{}/exe", sleeper.pid())).unwrap();
    let out = svc.status(&["--exe", s(&sleep)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn lock_without_pidfile_is_2() {
    let svc = Service::new();
    svc.lock();
    let out = svc.status(&[]);
    assert_eq!(code(&out), 2);
    assert_eq!(stdout(&out), "svc is dead but lock file exists\n");
}

#[test]
fn nothing_is_3() {
    let svc = Service::new();
    let out = svc.status(&[]);
    assert_eq!(code(&out), 3);
    assert_eq!(stdout(&out), "svc is not running\n");
    assert_eq!(stderr(&out), "");
}

#[test]
fn unreadable_or_invalid_pidfiles_are_4() {
    let svc = Service::new();
    for (content, why) in [
        ("garbage\n", "decimal pid"),
        ("1\n", "init"),
        ("-42\n", "negative"),
        ("", "empty"),
    ] {
        fs::write(&svc.pidfile, content).unwrap();
        let out = svc.status(&[]);
        assert_eq!(code(&out), 4, "{content:?}");
        assert_eq!(stdout(&out), "svc status is unknown\n");
        let err = stderr(&out);
        assert!(
            err.starts_with("lsb-status: ") && err.contains(s(&svc.pidfile)),
            "{err}"
        );
        assert!(err.contains(why), "{content:?}: {err}");
    }
    fs::remove_file(&svc.pidfile).unwrap();
    fs::create_dir(&svc.pidfile).unwrap();
    let out = svc.status(&[]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
}

/// A pid file another user planted, naming a live daemon of root's, must
/// not make an init script believe its service runs (and skip its start):
/// planted as nobody (setpriv) in a world-writable directory, in a sticky
/// one, and as a symlink to a real pid file, it is status 4 with the
/// refused component and why; `--trust-pidfile` believes it.
#[test]
fn a_pidfile_another_user_planted_is_4() {
    use std::os::unix::fs::PermissionsExt;
    if !can_run(is_root(), "needs root to plant files as nobody") {
        return;
    }
    let daemon = Sleeper::start();
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    fs::set_permissions(base, fs::Permissions::from_mode(0o755)).unwrap();
    let mkdir = |name: &str, mode: u32| {
        let dir = base.join(name);
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
        dir
    };
    let open = mkdir("open", 0o777);
    let sticky = mkdir("sticky", 0o1777);
    let real = mkdir("run", 0o755).join("daemon.pid");
    fs::write(&real, format!("{}\n", daemon.pid())).unwrap();
    let plant = |script: &str, file: &std::path::Path| {
        let out = Command::new("setpriv")
            .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .args(["sh", "-c", script, "sh", &daemon.pid().to_string(), s(file)])
            .args([s(&real)])
            .env_clear()
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        file.to_owned()
    };
    let cases = [
        (
            plant("umask 022; echo \"$1\" > \"$2\"", &open.join("svc.pid")),
            format!(
                "directory {} is writable by anyone (mode 777) and has no sticky bit",
                open.display()
            ),
        ),
        (
            plant("umask 022; echo \"$1\" > \"$2\"", &sticky.join("svc.pid")),
            "it is owned by uid 65534, neither root nor us (uid 0)".to_owned(),
        ),
        (
            plant("ln -s \"$3\" \"$2\"", &sticky.join("link.pid")),
            "it is a symlink".to_owned(),
        ),
    ];
    for (file, why) in &cases {
        let status = |extra: &[&str]| {
            let mut cmd = super::lsb_status();
            cmd.args(["status", "--name", "svc", "--pidfile", s(file)])
                .args(["--lock-dir", s(&base.join("subsys"))])
                .args(extra);
            cmd.output().unwrap()
        };
        let out = status(&[]);
        assert_eq!(code(&out), 4, "{}: {}", file.display(), stderr(&out));
        assert_eq!(stdout(&out), "svc status is unknown\n");
        assert_eq!(
            stderr(&out),
            format!(
                "lsb-status: refusing pidfile {}: {why}; pass --trust-pidfile to believe it anyway\n",
                file.display()
            )
        );
        let out = status(&["--trust-pidfile"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert_eq!(stdout(&out), daemon.running_line());
    }
    // Root's own pid file, reached through the sticky directory's
    // neighbour, is believed by default.
    let out = run(&["status", "--name", "svc", "--pidfile", s(&real)]);
    assert_eq!(stdout(&out), daemon.running_line(), "{}", stderr(&out));
}

#[test]
fn usage_errors_are_4_not_2() {
    let out = run(&["status"]);
    assert_eq!(code(&out), 4);
    assert_stderr_has(&out, "--name");
    let out = run(&["status", "--name", "x", "--bogus"]);
    assert_eq!(code(&out), 4);
    let out = run(&["status", "--name", "a/b"]);
    assert_eq!(code(&out), 4);
    assert_stderr_has(&out, "plain file name");
    // Other subcommands keep clap's 2.
    assert_eq!(code(&run(&["lock"])), 2);
    assert_eq!(code(&run(&["status", "--help"])), 0);
}

#[test]
fn lock_only_services() {
    let svc = Service::new();
    let args = ["status", "--name", "svc", "--lock-dir", s(&svc.locks)];
    let out = run(&args);
    assert_eq!(code(&out), 3);
    assert_eq!(stdout(&out), "svc is not running\n");
    svc.lock();
    let out = run(&args);
    assert_eq!(code(&out), 0);
    assert_eq!(stdout(&out), "svc is running\n");
}

#[test]
fn names_default_to_the_pidfile_and_quiet_prints_nothing() {
    let svc = Service::new();
    let sleeper = Sleeper::start();
    let pidfile = svc.pidfile.with_file_name("web.pid");
    fs::write(&pidfile, format!("{}\n", sleeper.pid())).unwrap();
    let out = run(&[
        "status",
        "--pidfile",
        s(&pidfile),
        "--lock-dir",
        s(&svc.locks),
    ]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).starts_with("web (pid "), "{}", stdout(&out));
    let out = run(&["status", "-q", "--pidfile", s(&pidfile), "--name", "other"]);
    assert_eq!(
        (code(&out), stdout(&out), stderr(&out)),
        (0, String::new(), String::new())
    );
}

#[test]
fn several_pids_run_if_one_does() {
    let svc = Service::new();
    let sleeper = Sleeper::start();
    let dead = Sleeper::dead();
    fs::write(&svc.pidfile, format!("{} {}\n", dead.pid(), sleeper.pid())).unwrap();
    let out = svc.status(&[]);
    assert_eq!(code(&out), 0);
    assert_eq!(stdout(&out), sleeper.running_line());
}

#[test]
fn a_closed_stdout_keeps_the_status_code() {
    let svc = Service::new();
    let out = svc.command().stdout(closed_pipe()).output().unwrap();
    // Not 0: a reader that went away must not turn "not running" into "running".
    assert_eq!(code(&out), 3);
    assert_eq!(stderr(&out), "");
}

/// A copy of `sleep` started from `dir`, then removed from disk, as when a
/// package is uninstalled under a running daemon.
fn orphaned_daemon(dir: &std::path::Path) -> (Sleeper, PathBuf) {
    let program = dir.join("webd");
    // Copied by cp, not by this process: a test thread forking meanwhile
    // would inherit the file open for writing, and exec would fail with
    // "text file busy".
    let copied = Command::new("cp")
        .args(["/bin/sleep", s(&program)])
        .status()
        .unwrap();
    assert!(copied.success());
    let child = Command::new(&program).arg("300").spawn().unwrap();
    let daemon = Sleeper(child);
    fs::remove_file(&program).unwrap();
    (daemon, program)
}

#[test]
fn a_daemon_whose_program_was_removed_still_runs() {
    let svc = Service::new();
    let bin = tempfile::tempdir().unwrap();
    let (daemon, program) = orphaned_daemon(bin.path());
    svc.write_pid(daemon.pid());
    let out = svc.status(&["--exe", s(&program)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), daemon.running_line());
    // Another removed program is still another program: a reused pid.
    let out = svc.status(&["--exe", s(&bin.path().join("other"))]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_stderr_has(&out, "reused");
}

#[test]
fn a_closed_stderr_keeps_the_status_code() {
    let svc = Service::new();
    fs::write(&svc.pidfile, "garbage\n").unwrap();
    let out = svc.command().stderr(closed_pipe()).output().unwrap();
    // The reason cannot be told, but neither a panic (101) nor a lost code.
    assert_eq!(code(&out), 4);
    assert_eq!(stdout(&out), "svc status is unknown\n");
}

#[test]
fn a_full_stdout_keeps_the_status_code() {
    let svc = Service::new();
    let out = svc.command().stdout(dev_full()).output().unwrap();
    // 3, said on stderr: not 2, which would read "dead but lock file exists".
    assert_eq!(code(&out), 3);
    assert!(
        stderr(&out).starts_with("lsb-status: cannot write to stdout: "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_pidfile_older_than_its_process_is_stale_without_exe() {
    let svc = Service::new();
    let sleeper = Sleeper::start();
    svc.write_pid(sleeper.pid());
    // Written an hour before the process started: the pid was handed on since.
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(&svc.pidfile)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    let out = svc.status(&[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(stdout(&out), "svc is dead but pid file exists\n");
    assert_stderr_has(&out, "stale pidfile");
    assert_eq!(proc_state(sleeper.pid()).map(|c| c != 'Z'), Some(true));
}
