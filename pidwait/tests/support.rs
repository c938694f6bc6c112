//! Helpers: the binary, real child processes that are always cleaned up,
//! pidfiles in unique temp dirs, and waiting on events with a timeout.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// A generous limit for things that should take milliseconds.
pub const LIMIT: Duration = Duration::from_secs(10);

/// A `pidwait` command with a clean environment.
pub fn pidwait() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pidwait"));
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null());
    cmd
}

/// Runs `pidwait ARGS` to completion.
pub fn run(args: &[&str]) -> Output {
    pidwait().args(args).output().expect("run pidwait")
}

/// Starts `pidwait ARGS` with stdout and stderr piped, to act on it while
/// it waits; [`finish`] collects it.
pub fn start(args: &[&str]) -> Child {
    pidwait()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pidwait")
}

/// Waits for a [`start`]ed pidwait: its exit code, stdout and stderr.
pub fn finish(child: Child) -> (Option<i32>, String, String) {
    parts(&child.wait_with_output().expect("wait for pidwait"))
}

/// What pidwait says when `pid` outlives the timeout `after`.
pub fn still_running(pid: &str, after: &str) -> String {
    format!("pidwait: pid {pid} still running after {after}\n")
}

/// Runs `pidwait --kill OPTS --pid PID`.
pub fn kill_pid(pid: i32, opts: &[&str]) -> (Option<i32>, String, String) {
    let pid = pid.to_string();
    let mut args = vec!["--kill"];
    args.extend_from_slice(opts);
    args.extend(["--pid", &pid]);
    parts(&run(&args))
}

/// The exit code, stdout and stderr of a finished run.
pub fn parts(out: &Output) -> (Option<i32>, String, String) {
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A child process of the test, killed and reaped when dropped.
pub struct Proc(pub Child);

impl Proc {
    /// Starts `program ARGS`.
    pub fn spawn(program: &str, args: &[&str]) -> Self {
        Self(
            Command::new(program)
                .args(args)
                .stdin(Stdio::null())
                .spawn()
                .expect("spawn"),
        )
    }

    /// `sleep 60`.
    pub fn sleeper() -> Self {
        Self::spawn("sleep", &["60"])
    }

    /// A bash that ignores SIGTERM (as does the `sleep` it becomes), so only
    /// SIGKILL stops it; returned once it has become that `sleep`.
    pub fn term_ignorer() -> Self {
        let target = Self::spawn("bash", &["-c", "trap '' TERM; exec sleep 60"]);
        assert!(wait_until(LIMIT, || exe_is(target.pid(), "/usr/bin/sleep")));
        target
    }

    /// A bash that reports each SIGTERM by appending to `marker`, and keeps
    /// running; returned once it has printed `ready` (the trap is set).
    pub fn term_reporter(marker: &Path) -> Self {
        let script = format!(
            "trap 'echo term >> {}' TERM; echo ready; while :; do sleep 1 & wait $!; done",
            marker.display()
        );
        let (target, line) = Self::spawn_with_line("bash", &["-c", &script]);
        assert_eq!(line, "ready\n");
        target
    }

    /// Starts `program ARGS` with stdout piped, and returns it with the
    /// first line it prints (its sign that it is ready).
    pub fn spawn_with_line(program: &str, args: &[&str]) -> (Self, String) {
        Self::start_with_line(Command::new(program).args(args))
    }

    /// The same, with `program` the leader of a new process group.
    pub fn group_leader_with_line(program: &str, args: &[&str]) -> (Self, String) {
        Self::start_with_line(Command::new(program).args(args).process_group(0))
    }

    fn start_with_line(cmd: &mut Command) -> (Self, String) {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut target = Self(child);
        let mut line = String::new();
        BufReader::new(target.0.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        (target, line)
    }

    /// The pid and a newline: a pidfile's content, and what pidwait prints.
    pub fn pid_line(&self) -> String {
        format!("{}\n", self.pid())
    }

    pub fn pid(&self) -> i32 {
        self.0.id() as i32
    }

    /// Reaps the child (it must exit within [`LIMIT`]).
    pub fn reap(&mut self) -> ExitStatus {
        assert!(
            wait_until(LIMIT, || !running(self.pid())),
            "pid {} did not exit",
            self.pid()
        );
        self.0.wait().unwrap()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The state letter of a process (`R`, `S`, `Z`, ...), `None` if gone.
pub fn state(pid: i32) -> Option<char> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    text[text.rfind(')')? + 1..].trim_start().chars().next()
}

/// True if the process exists and has not exited (a zombie has exited).
pub fn running(pid: i32) -> bool {
    state(pid).is_some_and(|s| s != 'Z' && s != 'X')
}

/// True if process `pid` runs the program `path`.
pub fn exe_is(pid: i32, path: &str) -> bool {
    fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| p == Path::new(path))
}

/// Polls `cond` every 2 ms for at most `limit`.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while !cond() {
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

/// A temp dir for one test's pidfiles.
pub struct Dir(pub tempfile::TempDir);

impl Dir {
    pub fn new() -> Self {
        Self(tempfile::tempdir().expect("tempdir"))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    /// Writes a pidfile with mode 0644 and returns its path as a string.
    pub fn pidfile(&self, name: &str, content: &str) -> String {
        let path = self.path(name);
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// Starts `sleep 60` and writes its pid to pidfile `name`.
    pub fn sleeper(&self, name: &str) -> (Proc, String) {
        let target = Proc::sleeper();
        let file = self.pidfile(name, &target.pid_line());
        (target, file)
    }

    /// Writes pidfile `name` naming a process that has exited and been reaped.
    pub fn stale_pidfile(&self, name: &str) -> String {
        let mut gone = Proc::sleeper();
        gone.0.kill().unwrap();
        gone.reap();
        self.pidfile(name, &gone.pid_line())
    }
}

/// Sends a signal to a child we started (never to anything else).
pub fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, sig).expect("kill");
}

/// True once pidwait (`pid`) sleeps in `poll` holding a pidfd: it is then
/// waiting for the exit, past its first look at the process.
pub fn waiting_on_pidfd(pid: u32) -> bool {
    in_poll(pid) && holds_pidfd(pid)
}

/// True while process `pid` sleeps in `poll` (waiting for an event).
pub fn in_poll(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("poll"))
}

/// True if process `pid` holds a pidfd.
fn holds_pidfd(pid: u32) -> bool {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(Result::ok)
        .any(|fd| fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == "anon_inode:[pidfd]"))
}

/// A test that cannot run here: says so on stderr, where it is seen, and
/// returns false; under `CI=true` (where CI provides every condition) the
/// test fails instead.
pub fn can_run(condition: bool, reason: &str) -> bool {
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

/// True when running as root (pid namespaces, chown, setpriv); else a SKIP.
pub fn root() -> bool {
    can_run(nix::unistd::geteuid().is_root(), "needs root")
}

/// Runs `script` with bash inside a private pid namespace (as its init's
/// child, with /proc of its own), as `bash -c script bash PIDWAIT ARGS...`:
/// there no other process can take a pid the script frees, and
/// `/proc/sys/kernel/ns_last_pid` chooses the next one.
pub fn in_pid_namespace(script: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .args(["bash", "-c", script, "bash", env!("CARGO_BIN_EXE_pidwait")])
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .output()
        .expect("run unshare");
    parts(&out)
}

/// Sets a file's modification time `ago` in the past: a pidfile written a
/// while ago.
pub fn written_ago(path: &Path, ago: Duration) {
    let file = fs::File::options().write(true).open(path).unwrap();
    file.set_modified(std::time::SystemTime::now() - ago)
        .unwrap();
}

/// The start time of `pid` in clock ticks after boot (field 22 of stat).
pub fn start_ticks(pid: i32) -> u64 {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    text[text.rfind(')').unwrap() + 1..]
        .split_ascii_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap()
}
