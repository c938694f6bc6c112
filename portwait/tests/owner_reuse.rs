//! The owner named by `--pid`/`--pidfile` is the process that had the pid
//! when portwait started, not whichever process has it later: real pid
//! reuse in a private pid namespace (root only).
//!
//! Each case runs a Python script as the init of new pid and network
//! namespaces (`unshare --kill-child`: if the test gives up, killing
//! `unshare` kills that init and with it every process of the case).

mod common;

use common::{have, skip};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Generous bound on a whole case; never reached when things work.
const PATIENCE: Duration = Duration::from_secs(120);

/// Shared by the scripts: `pw` (portwait's path), the loopback brought up,
/// `until` (waits for an event, bounded) and `state` (a process's state).
const PRELUDE: &str = r"
import os, signal, subprocess, sys, time
pw = sys.argv[1]
subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
def until(what, done):
    end = time.monotonic() + 30
    while not done():
        if time.monotonic() > end:
            sys.exit(f'gave up waiting for {what}')
        time.sleep(0.001)
def state(pid):
    return open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[0]
";

/// Runs `script` (after [`PRELUDE`]) with `unshare` and these options, in
/// a network namespace of its own; None (with a SKIP) where that cannot be
/// done. The script's stdout is returned; it must exit 0.
fn in_namespaces(what: &str, unshare: &[&str], script: &str) -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        skip(&format!("not root: no pid namespace for {what}"));
        return None;
    }
    for (tool, flag) in [
        ("unshare", "--version"),
        ("ip", "-V"),
        ("python3", "--version"),
    ] {
        if !have(tool, flag) {
            skip(&format!("{tool} is missing: needed for {what}"));
            return None;
        }
    }
    let child = Command::new("unshare")
        .args(unshare)
        .args(["--net", "--kill-child", "python3", "-c"])
        .arg(format!("{PRELUDE}{script}"))
        .arg(env!("CARGO_BIN_EXE_portwait"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = rustix::process::Pid::from_child(&child);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || tx.send(child.wait_with_output()));
    let Ok(out) = rx.recv_timeout(PATIENCE) else {
        // Its init goes with it (--kill-child), and the rest with that.
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        panic!("{what}: still running after {PATIENCE:?}");
    };
    let out: Output = out.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what}: {}: {stderr}", out.status);
    Some(String::from_utf8(out.stdout).unwrap())
}

/// The owner exits while portwait waits, and its pid goes to a new process
/// at once. portwait holds the owner by its pidfd, so the newcomer is not
/// taken for it: the wait ends with "not running" (exit 1), not in a
/// timeout spent watching the newcomer. To make the reuse happen between
/// two of portwait's looks, portwait is stopped (SIGSTOP) while the owner
/// dies and the newcomer starts, then continued.
#[test]
fn an_owner_whose_pid_is_reused_during_the_wait_is_gone() {
    reused_during_the_wait(false);
}

/// The same, with a newcomer that listens on the port before portwait's
/// next look: the look reads the owner's sockets through `/proc` by pid,
/// so it finds the newcomer's listener; it must still not be taken for
/// the owner's.
#[test]
fn a_newcomer_listening_under_the_owners_pid_is_not_the_owner() {
    reused_during_the_wait(true);
}

fn reused_during_the_wait(listens: bool) {
    let newcomer = if listens {
        "['python3', '-c', 'import socket, time; s = socket.socket(); \
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\"127.0.0.1\", 5000)); \
s.listen(); print(\"listening\", flush=True); time.sleep(600)'], stdout=subprocess.PIPE, text=True"
    } else {
        "['sleep', '600']"
    };
    let Some(out) = in_namespaces(
        "reusing the owner's pid during the wait",
        &["--pid", "--fork", "--mount-proc"],
        &(format!(
            "listens = {}\nnewcomer = lambda: subprocess.Popen({newcomer})\n",
            if listens { "True" } else { "False" }
        ) + r"
owner = subprocess.Popen(['sleep', '600'])
p = owner.pid
w = subprocess.Popen([pw, '--timeout', '30s', '--pid', str(p), '5000'],
                     stderr=subprocess.PIPE, text=True)
# Waiting: its netlink socket is open and it sleeps in poll between looks.
def looking():
    if w.poll() is not None:
        sys.exit(f'portwait ended early: {w.returncode} {w.stderr.read()}')
    fds = [os.readlink(f'/proc/{w.pid}/fd/{fd}') for fd in os.listdir(f'/proc/{w.pid}/fd')]
    return any(fd.startswith('socket:') for fd in fds) and 'poll' in open(f'/proc/{w.pid}/wchan').read()
until('portwait to look', looking)
os.kill(w.pid, signal.SIGSTOP)
until('portwait to stop', lambda: state(w.pid) == 'T')
owner.kill(); owner.wait()
with open('/proc/sys/kernel/ns_last_pid', 'w') as f:
    f.write(str(p - 1))
new = newcomer()
if new.pid != p:
    sys.exit(f'pid {p} was not reused (got {new.pid})')
if listens and new.stdout.readline() != 'listening\n':
    sys.exit('the newcomer did not listen')
os.kill(w.pid, signal.SIGCONT)
err = w.communicate(timeout=60)[1]
print(p, w.returncode, err.strip())
"),
    ) else {
        return;
    };
    let (pid, rest) = out.trim_end().split_once(' ').unwrap();
    assert_eq!(
        rest,
        format!("1 portwait: process {pid} is not running; never listened on: 5000"),
        "the newcomer with the owner's pid was taken for the owner"
    );
}

/// The owner is gone when portwait starts, and `/proc` has another
/// process, listening on the port, under its pid: portwait must report
/// the owner gone (exit 1), never take that listener for the owner's.
///
/// The reuse has to fall between portwait's `pidfd_open` and its next look
/// at the pid, microseconds apart with nothing to stop it in between; so
/// portwait runs in a pid namespace of its own that sees its parent
/// namespace's `/proc` (no `--mount-proc`): there the pid names no process
/// for `pidfd_open`, and a listener in `/proc`, as after a reuse.
#[test]
fn an_owner_gone_at_the_start_is_not_looked_up_again_by_pid() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("owner.pid");
    let Some(out) = in_namespaces(
        "an owner gone at the start",
        &[],
        &format!(
            r"
pidfile = {pidfile:?}
new = subprocess.Popen(['python3', '-c', '''
import socket, sys
s = socket.socket()
s.bind(('127.0.0.1', 5000))
s.listen()
print('listening', flush=True)
sys.stdin.read()
'''], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
if new.stdout.readline() != 'listening\n':
    sys.exit('the listener did not start')
with open(pidfile, 'w') as f:
    f.write(f'{{new.pid}}\n')
for owner in (['--pid', str(new.pid)], ['--pidfile', pidfile]):
    # Pid 1 of a new pid namespace, which has no process new.pid.
    r = subprocess.run(['unshare', '--pid', '--fork', '--kill-child',
                        pw, '--timeout', '10s', *owner, '5000'],
                       stderr=subprocess.PIPE, text=True, timeout=60)
    print(owner[0], r.returncode, r.stderr.strip())
print(new.pid)
"
        ),
    ) else {
        return;
    };
    let (runs, pid) = out.trim_end().rsplit_once('\n').unwrap();
    let want = format!("portwait: process {pid} is not running; never listened on: 5000");
    assert_eq!(
        runs,
        format!("--pid 1 {want}\n--pidfile 1 {want}"),
        "a process in /proc under the gone owner's pid was taken for it"
    );
}
