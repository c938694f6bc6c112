//! `pidwait --kill`: stopping processes, with schedules, groups, identity
//! checks and interruptions.

use std::fs;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};

use nix::sys::signal::Signal;

use crate::support::{
    can_run, exe_is, finish, kill_pid, parts, root, run, running, signal, start, start_ticks,
    state, still_running, wait_until, waiting_on_pidfd, Dir, Proc, LIMIT,
};
use crate::wait::blocked;

/// Asserts that `target` was ended by `sig`.
#[track_caller]
fn assert_killed_by(target: &mut Proc, sig: Signal) {
    assert_eq!(target.reap().signal(), Some(sig as i32));
}

#[test]
fn a_sleeper_is_stopped_with_term() {
    let dir = Dir::new();
    let (mut target, file) = dir.sleeper("s.pid");
    let (code, out, err) = parts(&run(&["--kill", &file]));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.is_empty() && err.is_empty(), "{out}{err}");
    assert_killed_by(&mut target, Signal::SIGTERM);
    assert!(Path::new(&file).exists(), "kept without --remove");
}

#[test]
fn signal_chooses_the_signal() {
    let mut target = Proc::sleeper();
    let (code, _, err) = kill_pid(target.pid(), &["--signal", "HUP"]);
    assert_eq!(code, Some(0), "{err}");
    assert_killed_by(&mut target, Signal::SIGHUP);
}

#[test]
fn a_term_ignorer_outlives_term_and_exits_1() {
    let target = Proc::term_ignorer();
    let (code, _, err) = kill_pid(target.pid(), &["--timeout", "200ms"]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err, still_running(&target.pid().to_string(), "200ms"));
    assert!(running(target.pid()));
}

#[test]
fn retry_escalates_to_kill() {
    let mut target = Proc::term_ignorer();
    let (code, _, err) = kill_pid(target.pid(), &["--retry", "TERM/200ms/KILL/5"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains(&format!("{} still running; sending KILL", target.pid())),
        "{err}"
    );
    assert_killed_by(&mut target, Signal::SIGKILL);
}

#[test]
fn a_lone_retry_timeout_means_signal_then_kill() {
    let mut target = Proc::term_ignorer();
    let (code, _, err) = kill_pid(target.pid(), &["--retry", "0.2"]);
    assert_eq!(code, Some(0), "{err}");
    assert_killed_by(&mut target, Signal::SIGKILL);
}

#[test]
fn a_schedule_that_runs_out_exits_1() {
    let target = Proc::term_ignorer();
    let (code, _, err) = kill_pid(target.pid(), &["--retry", "TERM/100ms/TERM/100ms"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("after the retry schedule TERM/100ms/TERM/100ms"),
        "{err}"
    );
    assert!(running(target.pid()));
}

/// --grace: nothing is sent while the process gets time to exit by
/// itself. The target reports any TERM and exits (0) once told to.
#[test]
fn grace_lets_it_exit_by_itself() {
    let dir = Dir::new();
    let (marker, go) = (dir.path("terms"), dir.path("go"));
    let script = format!(
        "trap 'echo term >> {}' TERM; echo ready; while [ ! -e {} ]; do sleep 0.01; done; exit 0",
        marker.display(),
        go.display()
    );
    let (mut target, _ready) = Proc::spawn_with_line("bash", &["-c", &script]);
    let pid = target.pid().to_string();
    let killer = start(&["--kill", "--grace", "30s", "--pid", &pid]);
    assert!(wait_until(LIMIT, || waiting_on_pidfd(killer.id())));
    fs::write(&go, "").unwrap();
    let (code, out, err) = finish(killer);
    assert_eq!((code, out.as_str(), err.as_str()), (Some(0), "", ""));
    let status = target.reap();
    assert_eq!(
        (status.code(), status.signal()),
        (Some(0), None),
        "exited by itself"
    );
    assert!(!marker.exists(), "a TERM arrived during the grace");
}

/// Interrupted during the grace, pidwait reports that it sent nothing.
#[test]
fn the_grace_comes_before_any_signal() {
    let dir = Dir::new();
    let marker = dir.path("terms");
    let target = Proc::term_reporter(&marker);
    let pid = target.pid().to_string();
    let killer = start(&["--kill", "--grace", "30s", "--pid", &pid]);
    assert!(wait_until(LIMIT, || waiting_on_pidfd(killer.id())));
    signal(&killer, Signal::SIGINT);
    let (code, _, err) = finish(killer);
    assert_eq!(code, Some(130), "{err}");
    assert_eq!(
        err,
        format!("pidwait: interrupted by SIGINT; pid {pid} is still running\n")
    );
}

#[test]
fn after_the_grace_it_is_signalled() {
    let mut target = Proc::sleeper();
    let (code, _, err) = kill_pid(target.pid(), &["--grace", "100ms"]);
    assert_eq!(code, Some(0), "{err}");
    assert_killed_by(&mut target, Signal::SIGTERM);
}

#[test]
fn already_gone_is_success_with_a_note_unless_strict() {
    let dir = Dir::new();
    let file = dir.stale_pidfile("g.pid");
    let (code, out, err) = parts(&run(&["--kill", &file]));
    assert_eq!(code, Some(0));
    assert!(out.is_empty());
    assert!(err.contains("is not running: nothing to stop"), "{err}");
    let (code, _, err) = parts(&run(&["--kill", "--strict", &file]));
    assert_eq!(code, Some(1));
    assert!(err.contains("nothing to stop"), "{err}");
    let missing = dir.path("none.pid");
    let (code, _, err) = parts(&run(&["--kill", "--strict", missing.to_str().unwrap()]));
    assert_eq!(code, Some(1), "{err}");
}

#[test]
fn a_zombie_counts_as_gone() {
    let zombie = Proc::spawn("true", &[]);
    assert!(wait_until(LIMIT, || state(zombie.pid()) == Some('Z')));
    let (code, _, err) = kill_pid(zombie.pid(), &["--retry", "TERM/30/KILL/30"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("not running"), "{err}");
}

#[test]
fn several_pids_are_all_stopped() {
    let dir = Dir::new();
    let (mut a, mut b) = (Proc::sleeper(), Proc::sleeper());
    let file = dir.pidfile("ab.pid", &format!("{} {}\n", a.pid(), b.pid()));
    let (code, _, err) = parts(&run(&["--kill", "--remove", &file]));
    assert_eq!(code, Some(0), "{err}");
    assert_killed_by(&mut a, Signal::SIGTERM);
    assert_killed_by(&mut b, Signal::SIGTERM);
    assert!(!Path::new(&file).exists());
}

/// The pid was reused by another program: --exe refuses, nothing is signalled.
#[test]
fn a_reused_pid_is_refused_by_exe() {
    let dir = Dir::new();
    let (target, file) = dir.sleeper("reused.pid");
    let (code, out, err) = parts(&run(&[
        "--kill",
        "--exe",
        "/usr/bin/python3",
        "--retry",
        "KILL/1",
        &file,
    ]));
    assert_eq!(code, Some(2), "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains(&format!("pid {} runs /usr/bin/sleep", target.pid())),
        "{err}"
    );
    assert!(err.contains("nothing signalled"), "{err}");
    assert!(running(target.pid()));
    let (code, _, err) = parts(&run(&["--kill", "--name", "python3", &file]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("named 'sleep', not 'python3'"), "{err}");
    assert!(running(target.pid()));
    // The right identity stops it.
    let (code, _, err) = parts(&run(&[
        "--kill",
        "--exe",
        "/bin/sleep",
        "--name",
        "sleep",
        &file,
    ]));
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn every_bad_pidfile_exits_2_naming_file_line_and_text() {
    let dir = Dir::new();
    let target = Proc::sleeper();
    let cases = [
        ("empty", "", 1, "", "empty file"),
        ("blank", "\n", 1, "", "empty line"),
        ("word", "abc\n", 1, "abc", "decimal pid"),
        ("negative", "-5\n", 1, "-5", "negative"),
        ("group", "-1\n", 1, "-1", "negative"),
        ("zero", "0\n", 1, "0", "pid 0"),
        ("init", "1\n", 1, "1", "init"),
        ("huge", "99999999999\n", 1, "99999999999", "pid_max"),
        (
            "garbage",
            &format!("{}x\n", target.pid()),
            1,
            &format!("{}x", target.pid()),
            "decimal pid",
        ),
        (
            "extra",
            &format!("{} junk\n", target.pid()),
            1,
            "junk",
            "decimal pid",
        ),
        (
            "lines",
            &format!("{}\nmore\n", target.pid()),
            2,
            "more",
            "one line",
        ),
    ];
    for (name, content, line, text, expected) in cases {
        let file = dir.pidfile(&format!("{name}.pid"), content);
        let (code, out, err) = parts(&run(&["--kill", &file]));
        assert_eq!(code, Some(2), "{name}: {err}");
        assert!(out.is_empty());
        assert!(
            err.contains(&format!("{file}:{line}: {text:?}")),
            "{name}: {err}"
        );
        assert!(err.contains(expected), "{name}: {err}");
    }
    let over = dir.pidfile("over.pid", &format!("{}\n", pid_max() + 1));
    let (code, _, err) = parts(&run(&["--kill", &over]));
    assert_eq!(code, Some(2));
    assert!(err.contains("over pid_max"), "{err}");
    assert!(running(target.pid()), "nothing was signalled");
}

fn pid_max() -> i64 {
    fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn untrusted_pidfile_is_refused_and_nothing_signalled() {
    let dir = Dir::new();
    let (target, real) = dir.sleeper("real.pid");
    let link = dir.path("link.pid");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let (code, _, err) = parts(&run(&["--kill", link.to_str().unwrap()]));
    assert_eq!(code, Some(2));
    assert!(
        err.contains("refusing pidfile") && err.contains("symlink"),
        "{err}"
    );
    assert!(err.contains("--trust-pidfile"), "{err}");
    assert!(running(target.pid()));
}

/// A process group: a shell leading it and two children. --group stops all
/// three; without it only the leader goes.
#[test]
fn group_stops_every_member() {
    let dir = Dir::new();
    let (leader, members) = group(&dir);
    let (code, _, err) = kill_pid(leader.pid(), &["--group"]);
    assert_eq!(code, Some(0), "{err}");
    for m in &members {
        assert!(!running(*m), "member {m} still running");
    }
    drop(leader);
}

#[test]
fn without_group_only_the_leader_is_stopped() {
    let dir = Dir::new();
    let (mut leader, members) = group(&dir);
    let (code, _, err) = kill_pid(leader.pid(), &[]);
    assert_eq!(code, Some(0), "{err}");
    leader.reap();
    for m in &members {
        assert!(running(*m), "member {m} should survive");
    }
    // Clean up the orphans: still in the group we made, so signal the group.
    for m in &members {
        let (code, _, err) = kill_pid(*m, &["--retry", "KILL/5"]);
        assert_eq!(code, Some(0), "{err}");
    }
}

#[test]
fn group_needs_a_group_leader() {
    let dir = Dir::new();
    let (leader, members) = group(&dir);
    let (code, _, err) = kill_pid(members[0], &["--group"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("does not lead a process group"), "{err}");
    assert!(members.iter().all(|m| running(*m)));
    assert!(running(leader.pid()));
    let (code, _, _) = kill_pid(leader.pid(), &["--group"]);
    assert_eq!(code, Some(0));
}

/// The leader was killed (-9) and is gone; its workers live on in its
/// group: `--group` stops them, and says so. Without --group nothing is
/// done; with a --started later than theirs they are not its.
#[test]
fn group_with_the_leader_gone_stops_what_is_left() {
    let dir = Dir::new();
    let (mut leader, members) = group(&dir);
    let lead = leader.pid().to_string();
    let ticks = start_ticks(leader.pid());
    leader.0.kill().unwrap();
    leader.reap();
    let (code, _, err) = kill_pid(leader.pid(), &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("is not running: nothing to stop"), "{err}");
    let later = (start_ticks(members[1]).max(start_ticks(members[0])) + 1).to_string();
    let (code, _, err) = kill_pid(leader.pid(), &["--group", "--started", &later]);
    assert_eq!(code, Some(0), "{err}");
    assert!(members.iter().all(|m| running(*m)), "{err}");
    let (code, _, err) = kill_pid(leader.pid(), &["--group", "--started", &ticks.to_string()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains(&format!(
            "pid {lead} is not running; stopping what is left of its process group: "
        )),
        "{err}"
    );
    for m in &members {
        assert!(!running(*m), "member {m} still running");
    }
}

/// A member that joins the group while it is being stopped (the leader
/// starts one as it goes) is stopped too.
#[test]
fn group_catches_members_that_join_late() {
    let dir = Dir::new();
    let late = dir.path("late");
    let script = format!(
        "trap 'sleep 60 & echo $! > {0}.tmp; mv {0}.tmp {0}; exit 0' TERM; echo ready; \
         while :; do sleep 1 & wait $!; done",
        late.display()
    );
    let (mut leader, _ready) = Proc::group_leader_with_line("bash", &["-c", &script]);
    let (code, _, err) = kill_pid(leader.pid(), &["--group", "--retry", "TERM/300ms/KILL/5"]);
    assert_eq!(code, Some(0), "{err}");
    leader.reap();
    let member: i32 = fs::read_to_string(&late).unwrap().trim().parse().unwrap();
    assert!(
        !running(member),
        "late member {member} still running: {err}"
    );
}

/// --group never signals the group pidwait itself is in (it would stop
/// the script that runs it).
#[test]
fn group_refuses_its_own_group() {
    let out = Command::new("sh")
        .args([
            "-c",
            "\"$0\" --kill --group --pid $$; echo \"rc=$?\"",
            env!("CARGO_BIN_EXE_pidwait"),
        ])
        .process_group(0)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (code, out, err) = parts(&out);
    assert_eq!((code, out.as_str()), (Some(0), "rc=2\n"), "{err}");
    assert!(
        err.contains("is pidwait's own; refusing to signal it"),
        "{err}"
    );
}

/// Starts `sh` as the leader of a new process group with two `sleep`
/// children; returns it and the children's pids once both are running.
fn group(dir: &Dir) -> (Proc, Vec<i32>) {
    let list = dir.path("members");
    let script = format!(
        "sleep 60 & a=$!; sleep 60 & b=$!; echo \"$a $b\" > {0}.tmp; mv {0}.tmp {0}; wait",
        list.display()
    );
    let child = Command::new("sh")
        .args(["-c", &script])
        .process_group(0)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let leader = Proc(child);
    assert!(wait_until(LIMIT, || list.exists()));
    let members: Vec<i32> = fs::read_to_string(&list)
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(members.len(), 2);
    assert!(wait_until(LIMIT, || members
        .iter()
        .all(|m| exe_is(*m, "/usr/bin/sleep"))));
    (leader, members)
}

/// SIGINT in the middle of a schedule: exit 130 and say what was sent.
#[test]
fn sigint_mid_schedule_reports_the_half_done_kill() {
    let dir = Dir::new();
    let marker = dir.path("terms");
    let target = Proc::term_reporter(&marker);
    let pid = target.pid().to_string();
    let killer = start(&["--kill", "--retry", "TERM/30/KILL/5", "--pid", &pid]);
    assert!(wait_until(LIMIT, || marker.exists()), "TERM never arrived");
    assert!(
        blocked(killer.id(), 2),
        "pidwait blocks SIGINT before signalling"
    );
    signal(&killer, Signal::SIGINT);
    let (code, out, err) = finish(killer);
    assert_eq!(code, Some(130), "{err}");
    assert!(out.is_empty());
    assert_eq!(
        err,
        format!("pidwait: interrupted by SIGINT after sending TERM to {pid}; pid {pid} is still running\n")
    );
    assert!(running(target.pid()));
}

/// SIGTERM to pidwait in the middle of a stop: exit 143, what was sent said.
#[test]
fn sigterm_mid_kill_reports_the_half_done_kill() {
    let dir = Dir::new();
    let marker = dir.path("terms");
    let target = Proc::term_reporter(&marker);
    let pid = target.pid().to_string();
    let killer = start(&["--kill", "--timeout", "30s", "--pid", &pid]);
    assert!(wait_until(LIMIT, || marker.exists()), "TERM never arrived");
    signal(&killer, Signal::SIGTERM);
    let (code, out, err) = finish(killer);
    assert_eq!(code, Some(143), "{err}");
    assert!(out.is_empty());
    assert_eq!(
        err,
        format!("pidwait: interrupted by SIGTERM after sending TERM to {pid}; pid {pid} is still running\n")
    );
    assert!(running(target.pid()));
    drop(target);
}

/// `forever` repeats the rest of the schedule until the process is gone:
/// here it gives in at the third TERM.
#[test]
fn forever_repeats_until_gone() {
    let dir = Dir::new();
    let marker = dir.path("terms");
    let script = format!(
        "n=0; trap 'n=$((n+1)); echo term >> {}; [ $n -ge 3 ] && exit 0' TERM; echo ready; \
         while :; do sleep 1 & wait $!; done",
        marker.display()
    );
    let (mut target, _ready) = Proc::spawn_with_line("bash", &["-c", &script]);
    let pid = target.pid().to_string();
    let (code, _, err) = kill_pid(target.pid(), &["--retry", "TERM/100ms/forever/TERM/100ms"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(target.reap().code(), Some(0));
    assert_eq!(fs::read_to_string(&marker).unwrap(), "term\n".repeat(3));
    assert!(
        err.contains(&format!("{pid} still running; sending TERM")),
        "{err}"
    );
}

/// `--exit --exe` with a process that runs something else: refused (2).
#[test]
fn exit_refuses_a_process_that_is_something_else() {
    let target = Proc::sleeper();
    let pid = target.pid().to_string();
    let (code, out, err) = parts(&run(&["--exit", "--exe", "/usr/bin/tail", "--pid", &pid]));
    assert_eq!(code, Some(2), "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains(&format!("pid {pid} runs /usr/bin/sleep, not /usr/bin/tail")),
        "{err}"
    );
    assert!(running(target.pid()));
}

/// A daemon whose program was replaced on disk (a package upgrade): the
/// kernel shows its executable as "PATH (deleted)", and --exe PATH is
/// still that daemon.
#[test]
fn exe_matches_a_program_replaced_on_disk() {
    let dir = Dir::new();
    let prog = dir.path("daemon");
    fs::copy("/usr/bin/sleep", &prog).unwrap();
    let mut target = Proc::spawn(prog.to_str().unwrap(), &["60"]);
    let shown = prog.display().to_string();
    assert!(wait_until(LIMIT, || exe_is(target.pid(), &shown)));
    let new = dir.path("daemon.new");
    fs::copy("/usr/bin/sleep", &new).unwrap();
    fs::rename(&new, &prog).unwrap();
    let deleted = format!("{shown} (deleted)");
    assert!(exe_is(target.pid(), &deleted), "the kernel shows {deleted}");
    let (code, _, err) = kill_pid(target.pid(), &["--exe", &shown]);
    assert_eq!(code, Some(0), "{err}");
    assert_killed_by(&mut target, Signal::SIGTERM);
}

/// --remove leaves a pidfile alone that a new instance has taken over.
#[test]
fn remove_keeps_a_pidfile_naming_someone_else() {
    let dir = Dir::new();
    let other = Proc::sleeper();
    let file = dir.path("taken.pid");
    let script = format!(
        "trap 'echo {} > {}; exit 0' TERM; echo ready; while :; do sleep 1 & wait $!; done",
        other.pid(),
        file.display()
    );
    let (mut target, _ready) = Proc::spawn_with_line("bash", &["-c", &script]);
    let file_s = dir.pidfile("taken.pid", &target.pid_line());
    let (code, _, err) = parts(&run(&["--kill", "--remove", &file_s]));
    assert_eq!(code, Some(0), "{err}");
    target.reap();
    assert!(
        err.contains(&format!(
            "not removing {file_s}: it now names {}",
            other.pid()
        )),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&file).unwrap(), other.pid_line());
}

/// A FIFO planted as the pidfile must not hang pidwait.
#[test]
fn a_fifo_is_not_a_pidfile() {
    let dir = Dir::new();
    let fifo = dir.path("fifo.pid");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    for mode in ["--kill", "--exit"] {
        let (code, _, err) = parts(&run(&[mode, "--trust-pidfile", fifo.to_str().unwrap()]));
        assert_eq!(code, Some(2), "{err}");
        // Said once, not once by the message and again by its cause.
        assert_eq!(
            err,
            format!(
                "pidwait: cannot read pidfile {}: not a regular file\n",
                fifo.display()
            )
        );
    }
    let (code, _, err) = parts(&run(&[fifo.to_str().unwrap()]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not a regular file"), "{err}");
}

/// A pidfile whose writer never adds the newline is accepted by --kill too.
#[test]
fn kill_accepts_a_pidfile_without_newline() {
    let dir = Dir::new();
    let mut target = Proc::sleeper();
    let file = dir.pidfile("nonl.pid", &target.pid().to_string());
    let (code, _, err) = parts(&run(&["--kill", &file]));
    assert_eq!(code, Some(0), "{err}");
    assert_killed_by(&mut target, Signal::SIGTERM);
}

/// A real pid reuse: in a private pid namespace (so no other process takes
/// the pid), `sleep` writes the pidfile and dies, and its pid is handed to
/// `tail` through `ns_last_pid`. `--kill --exe /usr/bin/sleep` must refuse
/// it and leave it running.
#[test]
fn a_pid_really_reused_by_another_program_is_refused() {
    if !root() {
        return;
    }
    let dir = Dir::new();
    let script = r#"
        set -u
        pw=$1 dir=$2
        sleep 60 & old=$!
        echo "$old" > "$dir/svc.pid"
        kill -KILL "$old"; wait "$old"
        echo $((old - 1)) > /proc/sys/kernel/ns_last_pid
        tail -f /dev/null & new=$!
        [ "$new" = "$old" ] || { echo "pid $old was not reused (got $new)" >&2; exit 99; }
        echo "$new" > "$dir/new.pid"
        # Until tail has replaced the forked shell, it runs bash.
        "$pw" --timeout 10s --exe /usr/bin/tail "$dir/new.pid" > /dev/null || exit 98
        "$pw" --kill --exe /usr/bin/sleep --retry KILL/1 "$dir/svc.pid"; echo "kill=$?"
        "$pw" --exit --timeout 0 --pid "$new" 2> /dev/null; echo "exit=$?"
    "#;
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .args(["bash", "-c", script, "bash", env!("CARGO_BIN_EXE_pidwait")])
        .arg(dir.0.path())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (code, out, err) = parts(&out);
    assert_eq!(code, Some(0), "{out}{err}");
    // kill=2: refused; exit=1: tail still running after it.
    assert_eq!(out, "kill=2\nexit=1\n", "{err}");
    assert!(
        err.contains("runs /usr/bin/tail, not /usr/bin/sleep") && err.contains("nothing signalled"),
        "{err}"
    );
}

/// A pidfile naming a thread, not a process: refused, the thread untouched.
#[test]
fn a_thread_id_is_refused() {
    let dir = Dir::new();
    let script = "import threading, time\n\
                  threading.Thread(target=lambda: (print(threading.get_native_id(), flush=True), time.sleep(60))).start()\n\
                  time.sleep(60)\n";
    let (process, tid) = Proc::spawn_with_line("/usr/bin/python3", &["-c", script]);
    let tid = tid.trim();
    assert_ne!(tid, process.pid().to_string());
    let file = dir.pidfile("thread.pid", &format!("{tid}\n"));
    let want = format!(
        "pid {tid} is a thread of process {}, not a process",
        process.pid()
    );
    for mode in ["--kill", "--exit"] {
        let (code, out, err) = parts(&run(&[mode, "--timeout", "1s", &file]));
        assert_eq!(code, Some(2), "{mode}: {err}");
        assert!(out.is_empty());
        assert!(
            err.contains(&want) && err.contains("nothing signalled"),
            "{mode}: {err}"
        );
    }
    // Waiting for the pidfile: a thread is not a live process named by it.
    let (code, out, err) = parts(&run(&["--timeout", "100ms", &file]));
    assert_eq!(code, Some(1), "{err}");
    assert!(out.is_empty());
    assert!(err.contains(&want), "{err}");
    assert!(running(process.pid()));
    assert!(running(tid.parse().unwrap()));
}

/// A pid given twice is one process.
#[test]
fn a_pid_given_twice_is_one_target() {
    let target = Proc::sleeper();
    let pid = target.pid().to_string();
    let (code, _, err) = parts(&run(&[
        "--exit",
        "--timeout",
        "50ms",
        "--pid",
        &pid,
        "--pid",
        &pid,
    ]));
    assert_eq!(code, Some(1));
    assert_eq!(err, still_running(&pid, "50ms"));
}

/// A pidfile naming a kernel thread (a stale pid now used by one): never
/// signalled, with or without `--exe`.
#[test]
fn a_kernel_thread_is_refused() {
    // PF_KTHREAD (0x200000) in the 9th field of /proc/PID/stat. The lowest
    // is kthreadd (pid 2), which never exits (kworkers come and go).
    let kthread = fs::read_dir("/proc").unwrap().filter_map(|e| {
        let pid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let flags: u64 = text[text.rfind(')')? + 1..]
            .split_ascii_whitespace()
            .nth(6)?
            .parse()
            .ok()?;
        (pid > 1 && flags & 0x0020_0000 != 0).then_some(pid)
    });
    let kthread = kthread.min();
    let Some(kthread) = kthread else {
        can_run(
            false,
            "no kernel thread visible (a pid namespace without kthreadd)",
        );
        return;
    };
    let dir = Dir::new();
    let file = dir.pidfile("k.pid", &format!("{kthread}\n"));
    for args in [
        &["--kill", &file][..],
        &["--kill", "--exe", "/bin/sh", &file],
    ] {
        let (code, out, err) = parts(&run(args));
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(out.is_empty());
        assert!(
            err.contains(&format!("pid {kthread} is a kernel thread"))
                && err.contains("nothing signalled"),
            "{args:?}: {err}"
        );
    }
    let (code, _, err) = parts(&run(&["--timeout", "50ms", &file]));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("kernel thread"), "{err}");
}
