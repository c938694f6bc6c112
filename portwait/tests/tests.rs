//! Integration tests: run the real `portwait` binary against real
//! listeners and processes.

mod common;
mod events;

use common::{have, skip};

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Generous bound for anything we wait on; never reached when things work.
const PATIENCE: Duration = Duration::from_secs(30);

fn portwait(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portwait"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd
}

/// Runs portwait to its end; a run that outlasts PATIENCE is killed and
/// fails the test instead of hanging it.
fn run(args: &[&str]) -> Output {
    let mut child = portwait(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > PATIENCE {
            child.kill().unwrap();
            panic!("portwait {args:?} still running after {PATIENCE:?}");
        }
        thread::sleep(Duration::from_millis(1));
    }
    child.wait_with_output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn port_of(listener: &TcpListener) -> String {
    listener.local_addr().unwrap().port().to_string()
}

/// A port nothing listens on, and nothing will while the returned socket
/// lives: it is bound on every address (dual-stack wildcard, IPv4 if the
/// host lacks IPv6) without listening, so a parallel test's port-0 bind is
/// not handed the same port.
fn unused_port() -> (TcpListener, String) {
    use rustix::net::{bind, socket_with, sockopt, AddressFamily, SocketFlags, SocketType};
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
    let fd = if let Ok(fd) = socket_with(
        AddressFamily::INET6,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    ) {
        sockopt::set_ipv6_v6only(&fd, false).unwrap();
        bind(&fd, &SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0)).unwrap();
        fd
    } else {
        let fd = socket_with(
            AddressFamily::INET,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .unwrap();
        bind(&fd, &SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        fd
    };
    // Bound, never listening: a TcpListener only to read the port.
    let held = TcpListener::from(fd);
    let port = port_of(&held);
    (held, port)
}

/// Starts portwait and returns once it has looked and found the targets
/// not ready: its netlink socket is open and it sleeps in `poll` between
/// two looks (its first look comes before its first sleep, and nothing
/// else it does sleeps there).
fn start(args: &[&str]) -> Child {
    start_command(portwait(args), args)
}

/// [`start`] for a command that becomes portwait (`exec`s it).
fn start_command(mut cmd: Command, args: &[&str]) -> Child {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    until("portwait to have looked once", || {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("portwait {args:?} exited before the test went on: {status}");
        }
        let socket = fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .flatten()
            .any(|fd| {
                fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
            });
        socket && fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("poll"))
    });
    child
}

fn until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "gave up waiting for {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

fn finish(mut child: Child) -> (ExitStatus, Output) {
    let mut status = None;
    until("portwait to exit", || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    (status.unwrap(), child.wait_with_output().unwrap())
}

/// `python3 -c CODE`, its stdio piped: the child and the first line it
/// printed (empty if it printed none).
fn python(code: &str) -> (Child, String) {
    let mut child = Command::new("python3")
        .args(["-c", code])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().to_owned())
}

/// A Python server in a child process, listening on `addr` port 0; returns
/// the child and its port.
fn python_server(addr: &str) -> (Child, String) {
    python(&format!(
        "import socket,sys,time\ns=socket.socket()\ns.bind(('{addr}',0))\ns.listen()\n\
         print(s.getsockname()[1],flush=True)\ntime.sleep(60)"
    ))
}

/// A Python server bound to 127.0.0.1 port 0 and to the interface `lo`
/// (`SO_BINDTODEVICE`, as root): the child and its port. It listens once a
/// line comes on its stdin, and says so on stdout.
fn bound_to_lo() -> Option<(Child, String)> {
    let (child, port) = python(
        "import socket,sys\ns=socket.socket()\n\
         s.setsockopt(socket.SOL_SOCKET,socket.SO_BINDTODEVICE,b'lo')\n\
         s.bind(('127.0.0.1',0))\nprint(s.getsockname()[1],flush=True)\n\
         sys.stdin.readline()\ns.listen()\nprint('listening',flush=True)\nsys.stdin.read()",
    );
    if port.is_empty() {
        let out = child.wait_with_output().unwrap();
        skip(&format!("cannot bind to lo here: {}", stderr(&out)));
        return None;
    }
    Some((child, port))
}

/// Tells a [`bound_to_lo`] server to listen; returns once it does.
fn listen_now(server: &mut Child) {
    use std::io::Write as _;
    writeln!(server.stdin.as_mut().unwrap()).unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "listening");
}

#[test]
fn an_ipv4_loopback_listener_is_ready_at_once() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(&server);
    for target in [
        port.clone(),
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
    ] {
        let out = run(&[&target]);
        assert!(out.status.success(), "{target}: {}", stderr(&out));
        assert!(out.stdout.is_empty() && out.stderr.is_empty());
    }
    let out = run(&["-t", "100ms", &format!("[::1]:{port}")]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a v4 listener does not serve ::1"
    );
}

#[test]
fn an_ipv6_loopback_listener_is_ready_at_once() {
    let Ok(server) = TcpListener::bind("[::1]:0") else {
        return skip("no IPv6 loopback here");
    };
    let port = port_of(&server);
    for target in [
        format!("[::1]:{port}"),
        format!("localhost:{port}"),
        port.clone(),
    ] {
        let out = run(&[&target]);
        assert!(out.status.success(), "{target}: {}", stderr(&out));
    }
    let out = run(&["-t", "100ms", &format!("127.0.0.1:{port}")]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a ::1 listener does not serve 127.0.0.1"
    );
}

#[test]
fn a_wildcard_listener_serves_every_local_address() {
    let server = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = port_of(&server);
    for target in [
        format!("127.0.0.1:{port}"),
        format!("127.0.0.2:{port}"),
        format!("0.0.0.0:{port}"),
    ] {
        let out = run(&[&target]);
        assert!(out.status.success(), "{target}: {}", stderr(&out));
    }
}

/// [`bound_as`], not IPv6-only, its port as text.
fn bound(addr: &str) -> Option<(rustix::fd::OwnedFd, String)> {
    bound_as(addr, false)
}

fn bound_as(addr: &str, v6only: bool) -> Option<(rustix::fd::OwnedFd, String)> {
    common::sockets::bound_as(addr, v6only).map(|(fd, port)| (fd, port.to_string()))
}

#[test]
fn a_listener_that_appears_later_is_noticed() {
    for (addr, target) in [("127.0.0.1:0", "127.0.0.1"), ("[::1]:0", "[::1]")] {
        let Some((socket, port)) = bound(addr) else {
            skip(&format!("cannot bind {addr}: the {target} half"));
            continue;
        };
        let child = start(&[
            "-t",
            "30s",
            &format!("{target}:{port}"),
            &format!("localhost:{port}"),
        ]);
        rustix::net::listen(&socket, 16).unwrap();
        let (status, out) = finish(child);
        assert!(status.success(), "{addr}: {}", stderr(&out));
    }
}

/// A bare PORT: loopback and the wildcards are looked up at every look,
/// any other address (127.0.0.2 here) found by a walk of the listener
/// table, every 100 ms once the wait is under way. Each is seen once it
/// listens, after portwait's first look.
#[test]
fn a_bare_port_sees_a_listener_that_appears_later_on_any_address() {
    for (addr, v6only) in [
        ("127.0.0.1:0", false),
        ("0.0.0.0:0", false),
        ("127.0.0.2:0", false),
        ("[::1]:0", false),
        ("[::]:0", false),
        ("[::]:0", true),
    ] {
        let Some((socket, port)) = bound_as(addr, v6only) else {
            skip(&format!("cannot bind {addr} (v6only {v6only}) here"));
            continue;
        };
        let child = start(&["-t", "30s", &port]);
        rustix::net::listen(&socket, 16).unwrap();
        let (status, out) = finish(child);
        assert!(status.success(), "{addr}: {}", stderr(&out));
    }
}

/// A bare PORT's listener on an address of an interface (not loopback, not
/// a wildcard: a dummy interface's, in a network namespace of our own; a
/// veth where the kernel has no dummy interfaces) is seen when it appears,
/// and keeps `--closed` waiting while it listens.
#[test]
fn a_bare_port_sees_a_listener_on_an_interfaces_address() {
    let Some(out) = in_netns(
        "listeners on a dummy interface's addresses",
        "\
import time
if subprocess.run(['ip', 'link', 'add', 'd0', 'type', 'dummy'], stderr=subprocess.DEVNULL).returncode != 0:
    subprocess.run(['ip', 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1'], check=True)
    subprocess.run(['ip', 'link', 'set', 'd1', 'up'], check=True)
subprocess.run(['ip', 'addr', 'add', '10.9.8.7/24', 'dev', 'd0'], check=True)
subprocess.run(['ip', 'addr', 'add', '2001:db8::7/64', 'dev', 'd0', 'nodad'], check=True)
subprocess.run(['ip', 'link', 'set', 'd0', 'up'], check=True)
def looked(p):
    # portwait has looked once when it first sleeps (in poll).
    while p.poll() is None:
        with open(f'/proc/{p.pid}/wchan') as f:
            if 'poll' in f.read():
                return
        time.sleep(0.001)
for family, addr in [(socket.AF_INET, '10.9.8.7'), (socket.AF_INET6, '2001:db8::7')]:
    s = socket.socket(family)
    s.bind((addr, 0))
    port = str(s.getsockname()[1])
    p = subprocess.Popen([pw, '-t', '30s', port])
    looked(p)
    s.listen()
    print(addr, 'later', p.wait(timeout=60))
    print(addr, 'closed while listening', code('--closed', '-t', '300ms', port))
    s.close()
    print(addr, 'closed', code('--closed', '-t', '5s', port))
",
    ) else {
        return;
    };
    assert_eq!(
        out,
        "10.9.8.7 later 0\n10.9.8.7 closed while listening 1\n10.9.8.7 closed 0\n\
         2001:db8::7 later 0\n2001:db8::7 closed while listening 1\n2001:db8::7 closed 0\n"
    );
}

#[test]
fn an_established_connection_is_not_a_listener() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(&server);
    let _client = TcpStream::connect(server.local_addr().unwrap()).unwrap();
    let _accepted = server.accept().unwrap();
    drop(server);
    let out = run(&["-t", "200ms", &port]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!("portwait: timed out after 200ms; not listening: {port}\n")
    );
}

#[test]
fn a_timeout_names_only_the_targets_never_ready() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let ready = format!("127.0.0.1:{}", port_of(&server));
    let (_held, unused) = unused_port();
    let missing = format!("localhost:{unused}");
    let out = run(&["--timeout", "0.2", &ready, &missing]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!("portwait: timed out after 200ms; not listening: {missing}\n")
    );
}

#[test]
fn a_dying_pid_fails_fast() {
    let mut victim = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = victim.id().to_string();
    let (_held, unused) = unused_port();
    let child = start(&["-t", "60s", "--pid", &pid, &unused]);
    victim.kill().unwrap(); // left a zombie: that counts as dead
    let (status, out) = finish(child);
    assert_eq!(status.code(), Some(1));
    assert!(
        stderr(&out).starts_with(&format!(
            "portwait: process {pid} is not running; never listened on: "
        )),
        "{}",
        stderr(&out)
    );
    victim.wait().unwrap();
}

#[test]
fn a_stale_listener_of_another_process_does_not_count() {
    let stale = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(&stale);
    let mut other = Command::new("sleep").arg("60").spawn().unwrap();
    let out = run(&["-t", "200ms", "--pid", &other.id().to_string(), &port]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("timed out"), "{}", stderr(&out));
    other.kill().unwrap();
    other.wait().unwrap();
}

#[test]
fn a_listener_of_the_pid_or_its_descendants_counts() {
    let (mut server, port) = python_server("127.0.0.1");
    let out = run(&["--pid", &server.id().to_string(), &port]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tmp = tempfile::tempdir().unwrap();
    let pidfile = tmp.path().join("server.pid");
    // Our own process is an ancestor of the server: its listener counts.
    fs::write(&pidfile, format!("{}\n", std::process::id())).unwrap();
    let out = run(&[
        "--pidfile",
        pidfile.to_str().unwrap(),
        &format!("localhost:{port}"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    server.kill().unwrap();
    server.wait().unwrap();
}

/// A pidfile last written before its pid's process started names some
/// earlier process: the newcomer's listener is never taken for its.
#[test]
fn a_stale_pidfile_is_not_believed() {
    let (mut server, port) = python_server("127.0.0.1");
    let tmp = tempfile::tempdir().unwrap();
    let pidfile = tmp.path().join("server.pid");
    fs::write(&pidfile, format!("{}\n", server.id())).unwrap();
    let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(&pidfile)
        .unwrap()
        .set_modified(an_hour_ago)
        .unwrap();
    let out = run(&["-t", "300ms", "--pidfile", pidfile.to_str().unwrap(), &port]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("stale pidfile"), "{}", stderr(&out));
    // Written now, the same pidfile is believed: it was only its age.
    fs::write(&pidfile, format!("{}\n", server.id())).unwrap();
    let out = run(&["-t", "10s", "--pidfile", pidfile.to_str().unwrap(), &port]);
    assert!(out.status.success(), "{}", stderr(&out));
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn a_pidfile_written_later_is_waited_for() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(&server);
    let tmp = tempfile::tempdir().unwrap();
    let pidfile = tmp.path().join("late.pid");
    let child = portwait(&["-t", "30s", "--pidfile", pidfile.to_str().unwrap(), &port])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once portwait sleeps, it has looked for the pidfile and not found it.
    let stat = format!("/proc/{}/stat", child.id());
    until("portwait to look for the pidfile", || {
        fs::read_to_string(&stat)
            .is_ok_and(|s| s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('S')))
    });
    // Our own process holds the listener: it is the owner the pidfile names.
    fs::write(&pidfile, format!("{}\n", std::process::id())).unwrap();
    let (status, out) = finish(child);
    assert!(status.success(), "{}", stderr(&out));
}

#[test]
fn a_pidfile_never_written_times_out() {
    let tmp = tempfile::tempdir().unwrap();
    let pidfile = tmp.path().join("never.pid");
    let out = run(&["-t", "100ms", "--pidfile", pidfile.to_str().unwrap(), "80"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "portwait: timed out after 100ms: pidfile {} was never written\n",
            pidfile.display()
        )
    );
}

#[test]
fn closed_waits_until_nothing_listens() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(&server);
    let child = start(&["--closed", "-t", "30s", &port]);
    drop(server);
    let (status, out) = finish(child);
    assert!(status.success(), "{}", stderr(&out));
    assert!(run(&["--closed", &port]).status.success());
}

#[test]
fn closed_times_out_while_something_listens() {
    // 127.0.0.2: an address only the walk of the listener table sees.
    for addr in ["127.0.0.1:0", "127.0.0.2:0"] {
        let server = TcpListener::bind(addr).unwrap();
        let port = port_of(&server);
        let out = run(&["--closed", "-t", "100ms", &port]);
        assert_eq!(out.status.code(), Some(1), "{addr}");
        assert_eq!(
            stderr(&out),
            format!("portwait: timed out after 100ms; still listening: {port}\n")
        );
    }
}

#[test]
fn the_command_runs_once_ready_and_not_on_timeout() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(&server);
    let out = run(&[&port, "--", "sh", "-c", "echo ran \"$0\"", "arg"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ran arg\n");
    let (_held, unused) = unused_port();
    let out = run(&["-t", "50ms", &unused, "--", "echo", "ran"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let out = run(&[&port, "--", "/nonexistent/cmd"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("portwait: cannot run /nonexistent/cmd"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_remote_host_that_never_answers_times_out() {
    // 192.0.2.0/24 is TEST-NET-1: never routed, so the probe cannot connect.
    let out = run(&["-t", "300ms", "192.0.2.1:80"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).ends_with("not listening: 192.0.2.1:80\n"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_input_is_a_usage_error_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let garbage = tmp.path().join("garbage.pid");
    fs::write(&garbage, "12x\n").unwrap();
    let garbage = garbage.to_str().unwrap();
    let two = tmp.path().join("two.pid");
    fs::write(&two, "1234 5678\n").unwrap();
    let two = two.to_str().unwrap();
    let huge = tmp.path().join("huge.pid");
    fs::write(&huge, "7".repeat(1 << 20)).unwrap();
    let huge = huge.to_str().unwrap();
    let fifo = tmp.path().join("fifo.pid");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let fifo = fifo.to_str().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let ours = std::process::id().to_string();
    for (args, says) in [
        (&["0"][..], "invalid target '0': bad port '0'"),
        (&["70000"], "invalid target '70000': bad port '70000'"),
        (&["host:"], "invalid target 'host:': bad port ''"),
        (&["::1:80"], "in brackets"),
        (
            &["--pidfile", garbage, "80"],
            "garbage.pid:1: \"12x\": expected a decimal pid",
        ),
        (&["--pidfile", two, "80"], "lists 2 pids (1234 5678)"),
        (&["--pidfile", huge, "80"], "over 4096 bytes"),
        (&["--pidfile", fifo, "80"], "not a regular file"),
        (&["--pidfile", dir, "80"], "not a regular file"),
        (&["-t", "500000000000y", "80"], "expected at most 100 years"),
        (&["--pid", "1", "80"], "invalid pid '1'"),
        (&["--pid", &ours, "192.0.2.1:80"], "need local targets"),
        (&["-t", "soon", "80"], "expected e.g. 250ms"),
        (&[], "required"),
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn help_lists_exit_codes() {
    let out = run(&["--help"]);
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(
        help.contains("Exit codes:") && help.contains("1  timed out"),
        "{help}"
    );
    // A bare PORT's listener on another address is seen late: --help says so.
    assert!(help.contains("up to ~50 ms late"), "{help}");
}

#[test]
fn a_pid_that_exits_on_its_own_fails_fast() {
    let mut quitter = Command::new("sh")
        .args(["-c", "read -r _; exit 3"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = quitter.id().to_string();
    let (_held, unused) = unused_port();
    let child = start(&["-t", "60s", "-p", &pid, &format!("localhost:{unused}")]);
    drop(quitter.stdin.take()); // EOF: the shell exits 3
    let (status, out) = finish(child);
    assert_eq!(status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("process {pid} is not running")),
        "{}",
        stderr(&out)
    );
    quitter.wait().unwrap();
}

#[test]
fn closed_with_a_pid_is_done_when_the_pid_dies() {
    let (mut server, port) = python_server("127.0.0.1");
    let pid = server.id().to_string();
    let child = start(&["--closed", "-t", "60s", "--pid", &pid, &port]);
    server.kill().unwrap();
    let (status, out) = finish(child);
    assert!(status.success(), "{}", stderr(&out));
    server.wait().unwrap();
}

#[test]
fn a_pid_whose_sockets_we_may_not_read_is_refused_not_timed_out() {
    use std::os::unix::process::CommandExt;
    if !rustix::process::geteuid().is_root() {
        return skip("not root: cannot run portwait as another user");
    }
    let (server, port) = python_server("127.0.0.1");
    let mut server = server;
    let out = portwait(&["-t", "20s", "--pid", &server.id().to_string(), &port])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with(&format!(
            "portwait: cannot read /proc/{}/fd (Permission denied",
            server.id()
        )),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_pidfile_we_may_not_read_is_a_clear_error() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if !rustix::process::geteuid().is_root() {
        return skip("not root: cannot run portwait as another user");
    }
    let tmp = tempfile::tempdir().unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let pidfile = tmp.path().join("root-only.pid");
    fs::write(&pidfile, format!("{}\n", std::process::id())).unwrap();
    fs::set_permissions(&pidfile, fs::Permissions::from_mode(0o600)).unwrap();
    let out = portwait(&["-t", "20s", "--pidfile", pidfile.to_str().unwrap(), "80"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "portwait: cannot read pidfile {}: Permission denied (os error 13)\n",
            pidfile.display()
        )
    );
}

/// A pidfile another user planted decides nothing: planted as nobody
/// (setpriv) in a world-writable directory, naming a process that does
/// listen on the port (this test), it is refused at once (exit 2) with the
/// component and why, and CMD is not run; `--trust-pidfile` believes it.
#[test]
fn a_pidfile_another_user_planted_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    if !rustix::process::geteuid().is_root() {
        return skip("not root: cannot plant a pidfile as another user");
    }
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(&server);
    let tmp = tempfile::tempdir().unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let open = tmp.path().join("run");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let pidfile = open.join("server.pid");
    let planted = Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .args(["sh", "-c", "umask 022; echo \"$1\" > \"$2\"", "sh"])
        .arg(std::process::id().to_string())
        .arg(&pidfile)
        .env_clear()
        .status()
        .unwrap();
    assert!(planted.success());
    let marker = tmp.path().join("ran");
    let args = |extra: &'static [&'static str]| {
        let mut args = vec!["-t", "5s", "--pidfile", pidfile.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.extend([port.as_str(), "--", "touch", marker.to_str().unwrap()]);
        args
    };
    let out = run(&args(&[]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "portwait: refusing pidfile {}: directory {} is writable by anyone (mode 777) \
             and has no sticky bit; pass --trust-pidfile to believe it anyway\n",
            pidfile.display(),
            open.display()
        )
    );
    assert!(!marker.exists(), "CMD was run");
    let out = run(&args(&["--trust-pidfile"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(marker.exists(), "CMD was not run");
}

/// Runs a Python script in a network namespace of its own (only a
/// loopback, brought up here), so firewall rules touch nothing else; the
/// script gets portwait's path as argv[1]. None (with a SKIP) if that
/// cannot be done here.
fn in_netns(what: &str, script: &str) -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        skip(&format!("not root: no network namespace for {what}"));
        return None;
    }
    for (tool, flag) in [
        ("unshare", "--version"),
        ("ip", "-V"),
        ("iptables", "--version"),
        ("python3", "--version"),
    ] {
        if !have(tool, flag) {
            skip(&format!("{tool} is missing: needed for {what}"));
            return None;
        }
    }
    let script = format!(
        "import os, socket, subprocess, sys\npw = sys.argv[1]\n\
         subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)\n\
         def code(*args):\n    return subprocess.run([pw, *args], stderr=subprocess.DEVNULL).returncode\n\
         {script}"
    );
    let out = Command::new("unshare")
        .args([
            "-n",
            "python3",
            "-c",
            &script,
            env!("CARGO_BIN_EXE_portwait"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{what}: {}", stderr(&out));
    Some(String::from_utf8(out.stdout).unwrap())
}

/// A listener bound to an interface (`SO_BINDTODEVICE`) takes the
/// connections that arrive on it: from this host, those to the addresses
/// that interface holds (not those to 127.0.0.1, which arrive on `lo`).
/// HOST:PORT is ready exactly when such a client connects, found by the
/// kernel's lookup or, with --pid, by the listing; --closed waits while it
/// listens (the port is not free); a bare PORT is ready (it listens, for
/// other hosts at least). An address that two interfaces hold arrives on
/// the one given it first, which portwait cannot tell: a listener bound to
/// either is never taken for ready (the first would be wrong).
#[test]
fn a_listener_bound_to_an_interface_is_ready_for_the_clients_it_takes() {
    let Some(out) = in_netns(
        "listeners bound to an interface",
        "\
subprocess.run(['ip', 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1'], check=True)
subprocess.run(['ip', 'addr', 'add', '10.9.8.7/24', 'dev', 'd0'], check=True)
subprocess.run(['ip', 'addr', 'add', '10.5.5.5/32', 'dev', 'd1'], check=True)
subprocess.run(['ip', 'addr', 'add', '10.5.5.5/32', 'dev', 'd0'], check=True)
for dev in ['d0', 'd1']:
    subprocess.run(['ip', 'link', 'set', dev, 'up'], check=True)
for addr, target in [('0.0.0.0', '127.0.0.1'), ('10.9.8.7', '10.9.8.7'), ('10.5.5.5', '10.5.5.5')]:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'd0')
    s.bind((addr, 0))
    s.listen()
    port = s.getsockname()[1]
    try:
        socket.create_connection((target, port), timeout=5).close()
        reached = 'connected'
    except OSError:
        reached = 'refused'
    at = f'{target}:{port}'
    limit = '5s' if reached == 'connected' else '300ms'
    print(addr, reached, 'host', code('-t', limit, at), 'pid', code('-t', limit, '--pid', str(os.getpid()), at),
          'closed', code('--closed', '-t', '300ms', at), 'bare', code('-t', '5s', str(port)))
    s.close()
",
    ) else {
        return;
    };
    assert_eq!(
        out,
        "0.0.0.0 refused host 1 pid 1 closed 1 bare 0\n\
         10.9.8.7 connected host 0 pid 0 closed 1 bare 0\n\
         10.5.5.5 refused host 1 pid 1 closed 1 bare 0\n"
    );
}

#[test]
fn connect_needs_a_handshake_that_a_dropping_firewall_prevents() {
    let Some(out) = in_netns(
        "--connect against a DROP rule",
        "\
s = socket.socket()
s.bind(('127.0.0.1', 5000))
s.listen()
print('listening', code('-t', '5s', '127.0.0.1:5000'))
print('connect', code('--connect', '-t', '5s', '127.0.0.1:5000'))
drop = ['INPUT', '-p', 'tcp', '--dport', '5000', '-j', 'DROP']
subprocess.run(['iptables', '-A', *drop], check=True)
print('dropped, listening', code('-t', '5s', '127.0.0.1:5000'))
print('dropped, connect', code('--connect', '-t', '300ms', '127.0.0.1:5000'))
print('dropped, connect any', code('--connect', '-t', '300ms', '5000'))
subprocess.run(['iptables', '-D', *drop], check=True)
print('open again, connect', code('--connect', '-t', '5s', 'localhost:5000'))
",
    ) else {
        return;
    };
    assert_eq!(
        out,
        "listening 0\nconnect 0\ndropped, listening 0\ndropped, connect 1\n\
         dropped, connect any 1\nopen again, connect 0\n"
    );
}

#[test]
fn connect_sends_no_bytes_and_says_what_was_not_ready() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(&server);
    let out = run(&["--connect", &format!("127.0.0.1:{port}")]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Accepted already (portwait waited for the handshake): not blocking.
    server.set_nonblocking(true).unwrap();
    let (mut conn, _) = server.accept().expect("no connection from portwait");
    conn.set_nonblocking(false).unwrap();
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut conn, &mut got).unwrap(); // EOF: portwait closed it
    assert!(got.is_empty(), "portwait sent {got:?}");
    let (_held, unused) = unused_port();
    let out = run(&["--connect", "-t", "100ms", &unused]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!("portwait: timed out after 100ms; not accepting connections: {unused}\n")
    );
    let out = run(&["--connect", "--closed", &unused]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// Runs `script` with [`in_netns`] where a name server at 127.0.0.1 never
/// answers (DNS queries to it are dropped); Python's `resolv` names a
/// resolv.conf that points there, to bind-mount over /etc/resolv.conf.
fn with_a_silent_name_server(script: &str) -> Option<String> {
    let tmp = tempfile::tempdir().unwrap();
    let resolv = tmp.path().join("resolv.conf");
    fs::write(
        &resolv,
        "nameserver 127.0.0.1\noptions timeout:5 attempts:2\n",
    )
    .unwrap();
    in_netns(
        "a name server that never answers",
        &format!(
            "\
resolv = '{}'
subprocess.run(['iptables', '-A', 'INPUT', '-p', 'udp', '--dport', '53', '-j', 'DROP'], check=True)
subprocess.run(['iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', '53', '-j', 'DROP'], check=True)
{script}",
            resolv.display()
        ),
    )
}

#[test]
fn a_name_that_never_resolves_in_time_is_exit_1() {
    let Some(out) = with_a_silent_name_server(
        "\
r = subprocess.run(['unshare', '-m', 'sh', '-c',
    'mount --bind \"$0\" /etc/resolv.conf && exec \"$1\" -t 300ms never-answered.example:5432',
    resolv, pw], stderr=subprocess.PIPE, text=True)
print(r.returncode, r.stderr, end='')
",
    ) else {
        return;
    };
    assert_eq!(
        out,
        "1 portwait: timed out after 300ms resolving host 'never-answered.example' of target \
         never-answered.example:5432: no answer from the name service in time\n"
    );
}

/// The --pid process is held, and found dead, before any name is looked
/// up: a dead --pid fails for the dead process (with --closed: succeeds)
/// and no DNS query is sent (counted by the firewall rule that drops them);
/// a live one's wait does send them.
#[test]
fn a_dead_pid_is_found_before_any_name_is_looked_up() {
    let Some(out) = with_a_silent_name_server(
        "\
dead = subprocess.Popen(['true'])
dead.wait()
def private(*args):
    return subprocess.run(['unshare', '-m', 'sh', '-c',
        'mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"', resolv, pw, *args],
        stderr=subprocess.PIPE, text=True)
for closed in [[], ['--closed']]:
    r = private('-t', '5s', *closed, '--pid', str(dead.pid), 'never-answered.example:5432')
    print(r.returncode, r.stderr.replace(str(dead.pid), 'PID'), end='')
    print('.')
def queries():
    rules = subprocess.run(['iptables', '-nvxL', 'INPUT'], capture_output=True, text=True, check=True)
    return sum(int(l.split()[0]) for l in rules.stdout.splitlines() if 'dpt:53' in l)
print('queries', queries())
private('-t', '300ms', '--pid', str(os.getpid()), 'never-answered.example:5432')
print('queries with a live pid', queries() > 0)
",
    ) else {
        return;
    };
    assert_eq!(
        out,
        "1 portwait: process PID is not running; never listened on: \
         never-answered.example:5432\n.\n0 .\nqueries 0\nqueries with a live pid True\n"
    );
}

/// portwait run with a private `/etc/hosts` (the file `hosts`, bind-mounted
/// in a mount namespace of its own) as the only source of names.
fn with_private_hosts(hosts: &std::path::Path, args: &[&str]) -> Option<Command> {
    if !rustix::process::geteuid().is_root() {
        skip("not root: cannot bind-mount a private /etc/hosts");
        return None;
    }
    if !have("unshare", "--version") {
        skip("unshare is missing: needed for a private /etc/hosts");
        return None;
    }
    let nsswitch = hosts.with_extension("nsswitch");
    fs::write(&nsswitch, "hosts: files\n").unwrap();
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "sh", "-c"])
        .arg(
            "mount --bind \"$0\" /etc/hosts && mount --bind \"$1\" /etc/nsswitch.conf \
             && shift && exec \"$@\"",
        )
        .arg(hosts)
        .arg(&nsswitch)
        .arg(env!("CARGO_BIN_EXE_portwait"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Some(cmd)
}

/// Returns once `child` is portwait asleep between two lookups of a name
/// that did not resolve: it sleeps in `poll` only after a round of lookups
/// (each waited for on a futex), and the name is not known until the test
/// adds it.
fn looked_up_once(child: &mut Child) {
    let pid = child.id();
    until("portwait to have looked the name up", || {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("portwait exited before the test went on: {status}");
        }
        fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c == "portwait\n")
            && fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("poll"))
    });
}

/// In Compose a service's name resolves only once its container starts: a
/// name that does not resolve yet is waited for, looked up again until it
/// appears (here: added to /etc/hosts after portwait looked and failed).
#[test]
fn a_name_that_resolves_later_is_waited_for() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(&server);
    let tmp = tempfile::tempdir().unwrap();
    let hosts = tmp.path().join("hosts");
    fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    let target = format!("late.test:{port}");
    let Some(mut cmd) = with_private_hosts(&hosts, &["-t", "30s", &target]) else {
        return;
    };
    let mut child = cmd.spawn().unwrap();
    looked_up_once(&mut child);
    // Written in place: the bind mount shows the same inode.
    fs::write(&hosts, "127.0.0.1 localhost\n127.0.0.1 late.test\n").unwrap();
    let (status, out) = finish(child);
    assert!(status.success(), "{}", stderr(&out));
    // `--timeout 0` looks once, and for a name that means one real lookup.
    let out = with_private_hosts(&hosts, &["-t", "0", &target])
        .unwrap()
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_name_that_never_resolves_is_exit_1_with_the_resolvers_error() {
    let tmp = tempfile::tempdir().unwrap();
    let hosts = tmp.path().join("hosts");
    fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    let Some(mut cmd) = with_private_hosts(&hosts, &["-t", "300ms", "never.test:5432"]) else {
        return;
    };
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "portwait: timed out after 300ms resolving host 'never.test' of target \
         never.test:5432: failed to lookup address information: Name or service not known\n"
    );
}

/// The --pid process dying while its name is still waited for ends the
/// wait at once.
#[test]
fn a_pid_that_dies_while_a_name_is_waited_for_fails_fast() {
    let tmp = tempfile::tempdir().unwrap();
    let hosts = tmp.path().join("hosts");
    fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    let mut victim = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = victim.id().to_string();
    let Some(mut cmd) = with_private_hosts(&hosts, &["-t", "60s", "-p", &pid, "late.test:80"])
    else {
        victim.kill().unwrap();
        victim.wait().unwrap();
        return;
    };
    let mut child = cmd.spawn().unwrap();
    looked_up_once(&mut child);
    victim.kill().unwrap();
    let (status, out) = finish(child);
    victim.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!("portwait: process {pid} is not running; never listened on: late.test:80\n")
    );
}

/// An IPv4-mapped IPv6 target is the IPv4 address: a connection to
/// `[::ffff:127.0.0.1]:PORT` reaches an IPv4 listener on 127.0.0.1, and
/// never an IPv6-only one.
#[test]
fn an_ipv4_mapped_target_is_its_ipv4_address() {
    let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_of(&v4);
    let out = run(&["-t", "5s", &format!("[::ffff:127.0.0.1]:{port}")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let Some(v6only) = common::sockets::listening("[::]:0", true) else {
        return skip("no IPv6 here: the IPv6-only half");
    };
    let port = port_of(&v6only);
    let target = format!("[::ffff:127.0.0.1]:{port}");
    let out = run(&["-t", "100ms", &target]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!("portwait: timed out after 100ms; not listening: {target}\n")
    );
}

/// A listener on an IPv6 link-local address is bound to its interface: a
/// target naming the address with that interface (`[fe80::5%lo]:PORT`, in
/// a network namespace of our own) is found; one without
/// the interface is a usage error, not a wait that cannot end.
#[test]
fn a_link_local_target_needs_and_uses_its_interface() {
    let Some(out) = in_netns(
        "a link-local listener",
        "\
subprocess.run(['ip', 'addr', 'add', 'fe80::5/64', 'dev', 'lo', 'nodad'], check=True)
s = socket.socket(socket.AF_INET6)
s.bind(('fe80::5', 0, 0, socket.if_nametoindex('lo')))
s.listen()
port = s.getsockname()[1]
print('scoped', code('-t', '5s', f'[fe80::5%lo]:{port}'))
print('connect', code('--connect', '-t', '5s', f'[fe80::5%lo]:{port}'))
print('port', code('-t', '5s', str(port)))
print('unscoped', code('-t', '5s', f'[fe80::5]:{port}'))
",
    ) else {
        return;
    };
    assert_eq!(out, "scoped 0\nconnect 0\nport 0\nunscoped 2\n");
}

#[test]
fn closed_waits_for_a_listener_bound_to_a_device_that_the_lookup_misses() {
    // A wildcard listener bound to lo (SO_BINDTODEVICE) takes connections to
    // 127.0.0.1, but the kernel's lookup (for a connection from no
    // interface) does not find it: --closed must not believe it gone.
    let Some(out) = in_netns(
        "a listener bound to lo",
        "\
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'lo')
s.bind(('0.0.0.0', 5000))
s.listen()
print('closed host', code('--closed', '-t', '300ms', '127.0.0.1:5000'))
print('closed bare', code('--closed', '-t', '300ms', '5000'))
print('bare', code('-t', '5s', '5000'))
s.close()
print('gone, closed host', code('--closed', '-t', '5s', '127.0.0.1:5000'))
print('gone, closed bare', code('--closed', '-t', '5s', '5000'))
",
    ) else {
        return;
    };
    assert_eq!(
        out,
        "closed host 1\nclosed bare 1\nbare 0\ngone, closed host 0\ngone, closed bare 0\n"
    );
}

#[test]
fn a_bare_port_without_ipv6_and_a_listener_in_another_netns() {
    // IPv6 off in this namespace (no ::1): a bare PORT still finds its
    // listeners, on loopback, a wildcard or another address, and --closed
    // still sees them. A listener in another namespace is not ours.
    let Some(out) = in_netns(
        "a bare PORT without IPv6",
        "\
for conf in ('all', 'default', 'lo'):
    with open(f'/proc/sys/net/ipv6/conf/{conf}/disable_ipv6', 'w') as f:
        f.write('1')
for addr in ('127.0.0.1', '0.0.0.0', '127.0.0.2'):
    s = socket.socket()
    s.bind((addr, 5000))
    s.listen()
    print(addr, code('-t', '5s', '5000'), code('--closed', '-t', '300ms', '5000'))
    s.close()
    print('gone', code('--closed', '-t', '5s', '5000'))
other = subprocess.Popen(['unshare', '-n', 'python3', '-c',
    'import socket,sys\\ns=socket.socket()\\ns.bind((\"0.0.0.0\",5001))\\ns.listen()\\n'
    'print(1,flush=True)\\nsys.stdin.read()'],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
other.stdout.readline()
print('elsewhere', code('-t', '300ms', '5001'), code('--closed', '-t', '5s', '5001'))
other.stdin.close()
other.wait()
",
    ) else {
        return;
    };
    assert_eq!(
        out,
        "127.0.0.1 0 1\ngone 0\n0.0.0.0 0 1\ngone 0\n127.0.0.2 0 1\ngone 0\nelsewhere 1 0\n"
    );
}

#[test]
fn a_thread_id_is_not_a_process() {
    // A process with a second thread: the thread's id is in /proc too, but
    // it cannot be held as a process, and its listeners would be another's.
    let mut threaded = Command::new("python3")
        .args([
            "-c",
            "import threading, time; t = threading.Thread(target=time.sleep, args=(600,), \
             daemon=True); t.start(); print(t.native_id, flush=True); time.sleep(600)",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(threaded.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let tid = line.trim().to_string();
    let (_listener, port) = unused_port();
    let out = run(&["-t", "5s", "--pid", &tid, &port]);
    threaded.kill().unwrap();
    threaded.wait().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "portwait: pid {tid} is a thread of process {}, not a process\n",
            threaded.id()
        )
    );
}
