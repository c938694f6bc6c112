//! Kernel events: portwait in a mount namespace of its own (`unshare -m`)
//! where tracefs is mounted (so nothing is left mounted on the host),
//! and the fallback to polling where tracefs is hidden or portwait is not
//! allowed to trace. `-v` says which way it waits.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use super::{bound, bound_as, finish, have, skip, start_command, stderr};

/// tracefs at its place, unless it is there already (mounting it again
/// over itself is refused).
const MOUNT_TRACEFS: &str = "{ [ -d /sys/kernel/tracing/events ] || \
     mount -t tracefs nodev /sys/kernel/tracing; }";
/// Empty file systems over tracefs and over debugfs (where it has tracefs
/// too, mounted when looked at).
const HIDE_TRACEFS: &str = "mount -t tmpfs none /sys/kernel/tracing && \
     { [ ! -d /sys/kernel/debug ] || mount -t tmpfs none /sys/kernel/debug; }";
const NOBODY: &str = "setpriv --reuid 65534 --regid 65534 --clear-groups";
const EVENTS: &str = "portwait: waiting on kernel events";

/// The wait ended well (exit 0), and it was on kernel events (`-v` says so).
#[track_caller]
fn ended_on_events(child: std::process::Child) {
    let (status, out) = finish(child);
    assert!(status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains(EVENTS), "{}", stderr(&out));
}
const POLLING: &str = "portwait: polling every";

/// portwait with `args`, run as `sh -c 'SETUP && exec RUNNER portwait
/// ARGS'` in a mount namespace of its own: what SETUP mounts is gone with
/// it.
fn in_mount_ns(setup: &str, runner: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "sh", "-c"])
        .arg(format!("{setup} && exec {runner} \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_portwait"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd
}

/// `portwait -v -t 50ms PORT` in a mount namespace set up by `setup`, run
/// by `runner`, on a port nothing listens on: it times out (exit 1); what
/// it said.
#[track_caller]
fn times_out_in_mount_ns(setup: &str, runner: &str, port: &str) -> String {
    let (status, said) = run_said(in_mount_ns(setup, runner, &["-v", "-t", "50ms", port]));
    assert_eq!(status.code(), Some(1), "{said}");
    said
}

/// `cmd` run to its end, its output piped: its status and what it said.
fn run_said(mut cmd: Command) -> (std::process::ExitStatus, String) {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (status, out) = finish(child);
    (status, stderr(&out))
}

fn with_events(args: &[&str]) -> Command {
    in_mount_ns(MOUNT_TRACEFS, "", args)
}

/// Whether portwait can be run with tracefs mounted: root, `unshare`, a
/// kernel with tracefs, and perf events allowed (a container's seccomp
/// filter may refuse them). Says SKIP if not. Any other reason portwait
/// gives for polling is left to the test's assertions to report.
fn can_trace(what: &str) -> bool {
    if !rustix::process::geteuid().is_root() {
        skip(&format!("not root: cannot mount tracefs for {what}"));
        return false;
    }
    if !have("unshare", "--version") {
        skip(&format!("unshare is missing: needed for {what}"));
        return false;
    }
    let (_held, port) = super::unused_port();
    let out = with_events(&["-v", "-t", "50ms", &port]).output().unwrap();
    let said = stderr(&out);
    if !said.contains("portwait: ") {
        skip(&format!("cannot mount tracefs for {what}: {said}"));
        return false;
    }
    if said.contains(POLLING) && said.contains("perf_event_open") {
        skip(&format!("perf events refused here, for {what}: {said}"));
        return false;
    }
    true
}

/// The number in `-v`'s last line, "N looks, M woken by a kernel event".
fn woken(said: &str) -> u64 {
    let line = said
        .lines()
        .find(|l| l.ends_with("woken by a kernel event"))
        .unwrap_or_else(|| panic!("no count of looks in {said:?}"));
    line.rsplit(", ")
        .next()
        .and_then(|m| m.split(' ').next())
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("no count of events in {line:?}"))
}

#[test]
fn with_events_a_port_is_seen_to_start_and_to_stop_listening() {
    if !can_trace("the event wait") {
        return;
    }
    let (socket, port) = bound("127.0.0.1:0").unwrap();
    let args = ["-v", "-t", "30s", &format!("127.0.0.1:{port}")];
    let child = start_command(with_events(&args), &args);
    rustix::net::listen(&socket, 16).unwrap();
    ended_on_events(child);

    let args = ["-v", "-t", "30s", "--closed", &port];
    let child = start_command(with_events(&args), &args);
    drop(socket);
    ended_on_events(child);
}

/// A bare PORT's listener on an address the loopback lookups miss, found
/// by the table walk each look makes with events.
#[test]
fn with_events_a_bare_port_is_seen_on_another_address() {
    if !can_trace("the event wait") {
        return;
    }
    let (socket, port) = bound_as("127.0.0.2:0", false).unwrap();
    let args = ["-v", "-t", "30s", &port];
    let child = start_command(with_events(&args), &args);
    rustix::net::listen(&socket, 16).unwrap();
    ended_on_events(child);
}

/// With `--pid`, another process's listener on the port wakes portwait (an
/// event: the proof that events are waited on, as a look can only come
/// after it) but does not count; the owner's death still ends the wait.
#[test]
fn with_events_a_stranger_wakes_the_wait_but_only_the_pid_counts() {
    if !can_trace("the event wait") {
        return;
    }
    let mut owner = Command::new("sleep").arg("60").spawn().unwrap();
    let (socket, port) = bound("127.0.0.1:0").unwrap();
    let pid = owner.id().to_string();
    let args = ["-v", "-t", "30s", "--pid", &pid, &port];
    let child = start_command(with_events(&args), &args);
    rustix::net::listen(&socket, 16).unwrap();
    owner.kill().unwrap();
    owner.wait().unwrap();
    let (status, out) = finish(child);
    let said = stderr(&out);
    assert_eq!(status.code(), Some(1), "{said}");
    assert!(
        said.contains(&format!("process {pid} is not running")),
        "{said}"
    );
    assert!(said.contains(EVENTS), "{said}");
    assert!(woken(&said) >= 1, "{said}");

    // The owner's own listener, started once portwait waits, counts.
    let mut server = Command::new("python3")
        .args([
            "-c",
            "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',0))\n\
             print(s.getsockname()[1],flush=True)\nsys.stdin.readline()\ns.listen()\n\
             sys.stdin.readline()",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let pid = server.id().to_string();
    let args = ["-v", "-t", "30s", "--pid", &pid, line.trim()];
    let child = start_command(with_events(&args), &args);
    let mut stdin = server.stdin.take().unwrap();
    writeln!(stdin).unwrap();
    let (status, out) = finish(child);
    drop(stdin);
    server.wait().unwrap();
    assert!(status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains(EVENTS), "{}", stderr(&out));
}

/// Where portwait cannot have events it polls, saying why with `-v`, and
/// still sees a port start and stop listening.
fn polls_and_works(setup: &str, runner: &str, why: &str) {
    let (socket, port) = bound("127.0.0.1:0").unwrap();
    let args = ["-v", "-t", "30s", &port];
    let child = start_command(in_mount_ns(setup, runner, &args), &args);
    rustix::net::listen(&socket, 16).unwrap();
    let (status, out) = finish(child);
    let said = stderr(&out);
    assert!(status.success(), "{said}");
    assert!(said.contains(POLLING) && said.contains(why), "{said}");
    assert!(!said.contains(EVENTS), "{said}");

    let args = ["-v", "-t", "30s", "--closed", &port];
    let child = start_command(in_mount_ns(setup, runner, &args), &args);
    drop(socket);
    let (status, out) = finish(child);
    let said = stderr(&out);
    assert!(status.success(), "{said}");
    assert!(said.contains(POLLING) && said.contains(why), "{said}");
}

/// A listener bound to an interface (`SO_BINDTODEVICE`), which the kernel's
/// lookup of HOST:PORT misses, though clients reach it: found by the walk
/// of the listener table, whether it listens before the wait or appears
/// during it, with events and polling alike.
#[test]
fn a_listener_bound_to_an_interface_is_seen_at_host_port() {
    if !can_trace("events and polling in a mount namespace") {
        return;
    }
    for (setup, mode) in [(MOUNT_TRACEFS, EVENTS), (HIDE_TRACEFS, POLLING)] {
        let Some((mut server, port)) = super::bound_to_lo() else {
            return;
        };
        let target = format!("127.0.0.1:{port}");
        let args = ["-v", "-t", "30s", &target];
        let child = start_command(in_mount_ns(setup, "", &args), &args);
        super::listen_now(&mut server);
        let (status, out) = finish(child);
        let said = stderr(&out);
        assert!(status.success(), "{mode}: {said}");
        assert!(said.contains(mode), "{said}");
        // Listening already: ready at the first look.
        let (status, said) = run_said(in_mount_ns(setup, "", &["-t", "0", &target]));
        assert!(status.success(), "{mode}: {said}");
        server.kill().unwrap();
        server.wait().unwrap();
    }
}

#[test]
fn without_tracefs_it_polls() {
    if !can_trace("hiding tracefs") {
        return;
    }
    polls_and_works(HIDE_TRACEFS, "", "no tracepoint sock:inet_sock_set_state");
}

#[test]
fn without_the_right_to_trace_it_polls() {
    if !can_trace("tracefs for an unprivileged user") {
        return;
    }
    if !have("setpriv", "--version") {
        skip("setpriv is missing: needed to run portwait as nobody");
        return;
    }
    // As nobody, tracefs (mode 700) is not readable; were it, the
    // kernel would refuse to trace every CPU for an unprivileged user.
    polls_and_works(MOUNT_TRACEFS, NOBODY, "sock:inet_sock_set_state");
}

/// A tracefs whose id file is a FIFO (only root could make one there, but
/// it is read as any input): refused at once, and portwait polls; the
/// open of a FIFO would have blocked until a writer came.
#[test]
fn a_tracepoint_id_that_is_a_fifo_is_refused_not_waited_on() {
    if !can_trace("a FIFO in tracefs's place") {
        return;
    }
    let setup = format!(
        "{HIDE_TRACEFS} && mkdir -p /sys/kernel/tracing/events/sock/inet_sock_set_state && \
         mkfifo /sys/kernel/tracing/events/sock/inet_sock_set_state/id"
    );
    let (_held, port) = super::unused_port();
    let said = times_out_in_mount_ns(&setup, "", &port);
    assert!(
        said.contains(POLLING) && said.contains("a FIFO, not a regular file"),
        "{said}"
    );
}

/// The working directory portwait ran in can be unmounted as soon as it
/// has exited: the holder of its events does not keep it busy.
#[test]
fn with_events_the_working_directory_can_be_unmounted_at_once() {
    if !can_trace("unmounting portwait's directory") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_held, port) = super::unused_port();
    // Several times: the holder lives ~43 ms, often less than this takes.
    let script = format!(
        "{MOUNT_TRACEFS} && for i in 1 2 3 4 5; do \
           mount -t tmpfs none \"$1\" || exit 3; \
           (cd \"$1\" && exec \"$0\" -v -t 10ms \"$2\"); [ $? = 1 ] || exit 4; \
           umount \"$1\" || exit 5; \
         done"
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "sh", "-c", &script, env!("CARGO_BIN_EXE_portwait")])
        .arg(dir.path())
        .arg(&port);
    let (status, said) = run_said(cmd);
    assert!(status.success(), "{status}: {said}");
    assert_eq!(said.matches(EVENTS).count(), 5, "{said}");
}

/// Where the holder cannot close what it does not keep (`close_range`
/// missing: Linux before 5.9; here made to fail), it exits at once rather
/// than keep portwait's output, and its own pipe, open for ever: a caller
/// reading the output to its end (here strace, which waits for every
/// process it traces) is not kept waiting.
#[test]
fn with_events_a_holder_that_cannot_close_descriptors_does_not_stay() {
    if !can_trace("a holder without close_range") {
        return;
    }
    let traces = Command::new("strace")
        .args(["-o", "/dev/null", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !traces {
        skip("strace is missing or may not trace here: needed to make close_range fail");
        return;
    }
    let (_held, port) = super::unused_port();
    let runner =
        "strace -f -qq -o /dev/null -e trace=close_range -e inject=close_range:error=ENOSYS";
    let said = times_out_in_mount_ns(MOUNT_TRACEFS, runner, &port);
    assert!(said.contains(EVENTS), "{said}");
}

/// portwait as a container's PID 1 (here of a PID namespace), running its
/// CMD once ready: orphans come back to PID 1, so a holder would be the
/// CMD's child; the CMD has none (ECHILD at once).
#[test]
fn with_events_as_pid_1_the_cmd_gets_no_child() {
    if !can_trace("portwait as PID 1") {
        return;
    }
    let (socket, port) = bound("127.0.0.1:0").unwrap();
    let check = "import os\ntry:\n    os.wait()\n    print('a child')\n\
                 except ChildProcessError:\n    print('no child')";
    // Python itself, not a wrapper (pyenv's shim is a bash script, which
    // reaps every child before it execs Python).
    let python = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .unwrap();
    let python = String::from_utf8_lossy(&python.stdout).trim().to_owned();
    let script =
        format!("{MOUNT_TRACEFS} && exec \"$0\" -v -t 30s 127.0.0.1:{port} -- \"$1\" -c \"$2\"");
    let mut child = Command::new("unshare")
        .args(["-m", "-p", "-f", "sh", "-c", &script])
        .args([env!("CARGO_BIN_EXE_portwait"), &python, check])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // unshare forks PID 1: portwait once it has exec'd, and has looked once
    // (it sleeps in poll, a socket open).
    let unshare = child.id();
    super::until("portwait as PID 1 to have looked once", || {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("unshare exited before the test went on: {status}");
        }
        let children = std::fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children"))
            .unwrap_or_default();
        children.split_whitespace().any(|pid| {
            let socket = std::fs::read_dir(format!("/proc/{pid}/fd"))
                .into_iter()
                .flatten()
                .flatten()
                .any(|fd| {
                    std::fs::read_link(fd.path())
                        .is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
                });
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
            exe == std::path::Path::new(env!("CARGO_BIN_EXE_portwait"))
                && socket
                && std::fs::read_to_string(format!("/proc/{pid}/wchan"))
                    .is_ok_and(|w| w.contains("poll"))
        })
    });
    rustix::net::listen(&socket, 16).unwrap();
    let (status, out) = finish(child);
    let said = stderr(&out);
    assert!(status.success(), "{said}");
    assert!(said.contains(EVENTS), "{said}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "no child",
        "{said}"
    );
}
