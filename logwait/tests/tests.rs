//! Integration tests: run the real `logwait` binary on real files that are
//! written, truncated and rotated while it waits, and real processes.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Generous bound for anything we wait on; never reached when things work.
const PATIENCE: Duration = Duration::from_secs(30);

fn logwait(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logwait"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "gave up waiting for {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Runs logwait to its end (killed, failing the test, after PATIENCE).
fn run(args: &[&str]) -> Output {
    finish(logwait(args).spawn().unwrap()).1
}

fn finish(mut child: Child) -> (ExitStatus, Output) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, child.wait_with_output().unwrap());
        }
        if start.elapsed() > PATIENCE {
            // Not left running (reading, waiting) after the test.
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("logwait still running after {PATIENCE:?}");
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// Starts logwait and returns once it is waiting: it holds `watches`
/// directory watches (signalfds: the log's directory, and the pidfile's
/// with --pidfile) and sleeps in poll, i.e. it has looked at the file.
fn start(args: &[&str], watches: usize) -> Child {
    let mut child = logwait(args).spawn().unwrap();
    let pid = child.id();
    until("logwait to start waiting", || {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("logwait {args:?} exited early: {status}");
        }
        let watching = fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .flatten()
            .filter(|fd| {
                fs::read_link(fd.path())
                    .is_ok_and(|l| l.to_string_lossy() == "anon_inode:[signalfd]")
            })
            .count();
        watching == watches
            && fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("poll"))
    });
    child
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn append(path: &Path, text: &str) {
    OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A temporary directory holding the log `name`, with `text` in it.
fn log_file(name: &str, text: impl AsRef<[u8]>) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join(name);
    fs::write(&log, text).unwrap();
    (tmp, log)
}

/// logwait exited with `code`, saying `says` on stderr.
fn fails_saying(out: &Output, code: i32, says: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", stderr(out));
    assert!(stderr(out).contains(says), "{}", stderr(out));
}

/// logwait exited with `code`, its message starting with `start`.
fn fails_starting(out: &Output, code: i32, start: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", stderr(out));
    assert!(stderr(out).starts_with(start), "{}", stderr(out));
}

/// logwait exited with `code`, its message ending with `end`.
fn fails_ending(out: &Output, code: i32, end: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", stderr(out));
    assert!(stderr(out).ends_with(end), "{}", stderr(out));
}

#[test]
fn a_line_written_later_is_found_and_printed() {
    let (_tmp, log) = log_file("app.log", "server ready (an old run)\nstarting\n");
    let child = start(&["-t", "30s", s(&log), "ready"], 1);
    append(&log, "noise\nlistening; ready on 8080\nready again\n");
    let (status, out) = finish(child);
    assert!(status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "listening; ready on 8080\n");
    assert_eq!(stderr(&out), "");
}

#[test]
fn what_is_there_counts_only_with_from_start() {
    let (_tmp, log) = log_file("app.log", "a ready\nb ready\nready, half a line");
    let out = run(&["-t", "200ms", s(&log), "ready"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "logwait: timed out after 200ms: \"ready\" not seen in {}\n",
            log.display()
        )
    );
    let out = run(&["--from-start", "-t", "200ms", s(&log), "ready"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "a ready\n");
    // The last line, still without its newline, is not a line yet.
    let out = run(&["-s", "-n", "3", "-t", "200ms", s(&log), "ready"]);
    fails_ending(&out, 1, "(seen 2 of 3 times)\n");
}

#[test]
fn count_waits_for_that_many_lines() {
    let (_tmp, log) = log_file("app.log", "");
    let child = start(&["-n", "3", "-t", "30s", s(&log), "worker up"], 1);
    append(&log, "worker up 1\nworker up 2\n");
    append(&log, "other\nworker up 3\n");
    let (status, out) = finish(child);
    assert!(status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "worker up 1\n");
}

#[test]
fn a_regex_matches_and_a_bad_one_is_a_usage_error() {
    let (_tmp, log) = log_file("app.log", "listening on port x\nlistening on port 8080\n");
    let out = run(&["-s", "--regex", s(&log), r"port \d+$"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "listening on port 8080\n");
    // Plain text is taken literally.
    let out = run(&["-s", "-t", "100ms", s(&log), r"port \d+$"]);
    assert_eq!(out.status.code(), Some(1));
    let out = run(&["--regex", s(&log), "port (\\d+"]);
    fails_starting(&out, 2, "logwait: invalid regex \"port (\\\\d+\"");
}

#[test]
fn a_file_truncated_while_waiting_is_read_from_its_start() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("app.log");
    fs::write(&log, "x".repeat(10_000) + "\n").unwrap();
    let child = start(&["-t", "30s", s(&log), "ready"], 1);
    fs::write(&log, "ready after truncation\n").unwrap();
    let (status, out) = finish(child);
    assert!(status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "ready after truncation\n");
}

#[test]
fn a_rotated_log_is_followed_to_the_new_file() {
    let (tmp, log) = log_file("app.log", "old\n");
    let child = start(&["-n", "2", "-t", "30s", s(&log), "ready"], 1);
    // Written to the old file after it was renamed (the writer has not
    // reopened yet), then to the new one.
    let mut old = OpenOptions::new().append(true).open(&log).unwrap();
    fs::rename(&log, tmp.path().join("app.log.1")).unwrap();
    old.write_all(b"ready 1 (old file)\n").unwrap();
    fs::write(&log, "ready 2 (new file)\n").unwrap();
    let (status, out) = finish(child);
    assert!(status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "ready 1 (old file)\n");
}

#[test]
fn a_file_created_later_is_read_from_its_start() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("late.log");
    let child = start(&["-t", "30s", s(&log), "ready"], 1);
    fs::write(&log, "ready at once\n").unwrap();
    let (status, out) = finish(child);
    assert!(status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "ready at once\n");
    let out = run(&["-t", "100ms", s(&tmp.path().join("never.log")), "ready"]);
    fails_ending(&out, 1, "never.log (it does not exist)\n");
}

#[test]
fn a_process_that_dies_first_fails_at_once_showing_the_last_lines() {
    let (_tmp, log) = log_file("app.log", "");
    let mut server = Command::new("sh")
        .args([
            "-c",
            "read -r _; echo 'fatal: port in use' >> \"$0\"; exit 1",
        ])
        .arg(&log)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = server.id().to_string();
    let child = start(&["-t", "60s", "--pid", &pid, s(&log), "ready"], 1);
    drop(server.stdin.take()); // EOF: it logs and exits 1
    let (status, out) = finish(child);
    assert_eq!(status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "logwait: process {pid} exited before \"ready\" appeared in {}; its last lines:\n  \
             | fatal: port in use\n",
            log.display()
        )
    );
    server.wait().unwrap();
    // A process already gone: at once too.
    let out = run(&["-t", "60s", "--pid", &pid, s(&log), "ready"]);
    fails_saying(&out, 1, "exited before");
}

#[test]
fn a_process_that_logs_ready_and_exits_is_success() {
    let (_tmp, log) = log_file("app.log", "");
    let mut job = Command::new("sh")
        .args(["-c", "read -r _; echo 'done: ready' >> \"$0\""])
        .arg(&log)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let child = start(
        &[
            "-t",
            "60s",
            "--pid",
            &job.id().to_string(),
            s(&log),
            "ready",
        ],
        1,
    );
    drop(job.stdin.take());
    job.wait().unwrap();
    let (status, out) = finish(child);
    assert!(status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "done: ready\n");
}

#[test]
fn a_pidfile_written_later_names_the_process_to_watch() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("app.log");
    let pidfile = tmp.path().join("app.pid");
    let mut victim = Command::new("sleep").arg("60").spawn().unwrap();
    let child = start(
        &["-t", "60s", "--pidfile", s(&pidfile), s(&log), "ready"],
        2,
    );
    // As the original harness writes them: no newline (complete once closed).
    fs::write(&pidfile, victim.id().to_string()).unwrap();
    append(&log, "starting\n");
    victim.kill().unwrap();
    let (status, out) = finish(child);
    assert_eq!(status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("process {} exited before", victim.id())),
        "{}",
        stderr(&out)
    );
    victim.wait().unwrap();
    let out = run(&[
        "-t",
        "100ms",
        "--pidfile",
        s(&tmp.path().join("never.pid")),
        s(&log),
        "x",
    ]);
    fails_saying(&out, 1, "never.pid was never written");
}

#[test]
fn bad_input_is_a_usage_error_with_a_clear_message() {
    let (tmp, log) = log_file("app.log", "");
    let garbage = tmp.path().join("garbage.pid");
    fs::write(&garbage, "12x\n").unwrap();
    let fifo = tmp.path().join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let writable = tmp.path().join("writable.pid");
    fs::write(&writable, format!("{}\n", std::process::id())).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&writable, fs::Permissions::from_mode(0o666)).unwrap();
    }
    let dir = tmp.path().to_str().unwrap();
    for (args, says) in [
        (&[s(&log), ""][..], "empty PATTERN"),
        (&[s(&log), "ready\nnow"], "holds a newline"),
        (&["-E", s(&log), "ready\n"], "holds a newline"),
        (&["-n", "0", s(&log), "x"], "invalid value '0'"),
        (&[s(&log)], "required"),
        (
            &["--pidfile", s(&garbage), s(&log), "x"],
            "garbage.pid:1: \"12x\"",
        ),
        (&["--pid", "1", s(&log), "x"], "invalid pid '1'"),
        (
            &["--pidfile", s(&writable), s(&log), "x"],
            "refusing pidfile",
        ),
        (&[s(&fifo), "x"], "not a regular file"),
        (&[dir, "x"], "not a regular file"),
        (&["-t", "soon", s(&log), "x"], "expected e.g. 250ms"),
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn the_command_runs_once_ready_and_not_on_timeout() {
    let (_tmp, log) = log_file("app.log", "ready\n");
    let out = run(&[
        "-s",
        s(&log),
        "ready",
        "--",
        "sh",
        "-c",
        "echo ran \"$0\"",
        "arg",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "ready\nran arg\n");
    // The signal logwait blocked for its notifications is not blocked in CMD.
    let out = run(&[
        "-s",
        s(&log),
        "ready",
        "--",
        "grep",
        "SigBlk",
        "/proc/self/status",
    ]);
    assert_eq!(stdout(&out), "ready\nSigBlk:\t0000000000000000\n");
    let out = run(&["-t", "50ms", s(&log), "ready", "--", "echo", "ran"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let out = run(&["-s", s(&log), "ready", "--", "/nonexistent/cmd"]);
    fails_starting(&out, 2, "logwait: cannot run /nonexistent/cmd");
}

/// A line far bigger than logwait's memory limit, then the match: it is
/// read in bounded memory (an address-space limit below the line's size).
#[test]
fn a_huge_line_and_file_are_read_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("huge.log");
    {
        let mut f = fs::File::create(&log).unwrap();
        let block = vec![b'x'; 1 << 20];
        for _ in 0..160 {
            f.write_all(&block).unwrap();
        }
        f.write_all(b"\nthe server is ready\n").unwrap();
    }
    let script = format!(
        "ulimit -v 120000 && exec \"$0\" --from-start -t 30s {} ready",
        s(&log)
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script, env!("CARGO_BIN_EXE_logwait")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (status, out) = finish(cmd.spawn().unwrap());
    assert!(status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "the server is ready\n");
}

#[test]
fn help_lists_exit_codes() {
    let out = run(&["--help"]);
    let help = stdout(&out);
    assert!(out.status.success());
    assert!(
        help.contains("Exit codes:") && help.contains("1  timed out"),
        "{help}"
    );
    let out = run(&["--version"]);
    assert!(stdout(&out).contains("(stackutils)"));
}

#[test]
fn a_stale_pidfile_is_waited_past_like_a_missing_one() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("app.log");
    let pidfile = tmp.path().join("app.pid");
    let mut newcomer = Command::new("sleep").arg("60").spawn().unwrap();
    fs::write(&pidfile, format!("{}\n", newcomer.id())).unwrap();
    // Written (so it says) an hour before the process it names started:
    // that pid was reused, the pidfile is not that process's.
    let touched = Command::new("touch")
        .args(["-d", "1 hour ago"])
        .arg(&pidfile)
        .status()
        .unwrap();
    assert!(touched.success());
    let out = run(&["-t", "200ms", "--pidfile", s(&pidfile), s(&log), "ready"]);
    newcomer.kill().unwrap();
    newcomer.wait().unwrap();
    fails_saying(&out, 1, &format!("; pidfile {}: ", pidfile.display()));
}

#[test]
fn a_symlinked_log_is_watched_where_it_really_is() {
    let tmp = tempfile::tempdir().unwrap();
    let real_dir = tmp.path().join("var-log-app");
    fs::create_dir(&real_dir).unwrap();
    let real = real_dir.join("app.log");
    fs::write(&real, "old\n").unwrap();
    let link = tmp.path().join("app.log");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    // Two directory watches: the link's and the real file's.
    let child = start(&["-t", "30s", s(&link), "ready"], 2);
    append(&real, "ready through the link\n");
    let (status, out) = finish(child);
    assert!(status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "ready through the link\n");
}

#[test]
fn a_full_stdout_is_an_error_and_a_closed_one_is_not() {
    let (_tmp, log) = log_file("app.log", "ready\n");
    let out = logwait(&["-s", s(&log), "ready"])
        .stdout(fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "logwait: cannot write to standard output: No space left on device (os error 28)\n"
    );
    let mut child = logwait(&["-s", s(&log), "ready"]).spawn().unwrap();
    drop(child.stdout.take()); // closed before logwait writes
    let (status, out) = finish(child);
    assert!(status.success(), "{}", stderr(&out));
}

/// A FIFO given as FILE is refused without being opened: opening it would
/// release a writer blocked on it (and let it write into nothing).
#[test]
fn a_fifo_is_refused_without_releasing_its_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("app.log");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let mut writer = Command::new("sh")
        .args(["-c", "exec 3>\"$0\"; echo released", s(&fifo)])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let wchan = format!("/proc/{}/wchan", writer.id());
    let blocked = || fs::read_to_string(&wchan).is_ok_and(|w| w == "wait_for_partner");
    until("the writer to block opening the FIFO", blocked);
    let out = run(&["-t", "10s", s(&fifo), "ready"]);
    fails_saying(&out, 2, "not a regular file");
    let still_blocked = blocked() && writer.try_wait().unwrap().is_none();
    // Release it ourselves (a reader that reads nothing), then check.
    let reader = fs::File::options()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(&fifo)
        .unwrap();
    let out = writer.wait_with_output().unwrap();
    drop(reader);
    assert!(still_blocked, "logwait opened the FIFO");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "released\n");
}

/// `--timeout 0` reads all the file held at the deadline, however big
/// (more than one look's read budget): "is it there already?" is answered.
#[test]
fn a_zero_timeout_reads_the_whole_backlog() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("build.log");
    {
        let mut f = fs::File::create(&log).unwrap();
        let line = [b"x".repeat(1023), b"\n".to_vec()].concat();
        for _ in 0..(40 << 10) {
            f.write_all(&line).unwrap(); // 40 MiB
        }
        f.write_all(b"BUILD SUCCESSFUL\n").unwrap();
    }
    let out = run(&["--from-start", "-t", "0", s(&log), "BUILD SUCCESSFUL"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "BUILD SUCCESSFUL\n");
}

/// A pidfile whose directory the server creates as it starts: waited for,
/// not an error.
#[test]
fn a_pidfile_in_a_directory_created_later_is_waited_for() {
    let (tmp, log) = log_file("app.log", "");
    let run_dir = tmp.path().join("run");
    let pidfile = run_dir.join("app.pid");
    let mut victim = Command::new("sleep").arg("60").spawn().unwrap();
    // One watch: the log's directory (the pidfile's does not exist yet).
    let child = start(
        &["-t", "60s", "--pidfile", s(&pidfile), s(&log), "ready"],
        1,
    );
    fs::create_dir(&run_dir).unwrap();
    fs::write(&pidfile, format!("{}\n", victim.id())).unwrap();
    victim.kill().unwrap();
    victim.wait().unwrap();
    let (status, out) = finish(child);
    assert_eq!(status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("process {} exited before", victim.id())),
        "{}",
        stderr(&out)
    );
}

/// The last look is bounded too: a huge backlog (a sparse 64 GiB file, read
/// from its start) at the deadline is a timeout saying so, not a read
/// that outlasts the timeout by minutes.
#[test]
fn the_last_look_is_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("sparse.log");
    fs::File::create(&log).unwrap().set_len(64 << 30).unwrap();
    let out = run(&["--from-start", "-t", "0", s(&log), "ready"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "logwait: timed out after 0s: \"ready\" not seen in {} (not read to its end by then)\n",
            log.display()
        )
    );
}
