//! `pidwait --kill --group` keeps its hold on every member: the ones there
//! before the signal, and one forked after it, while the leader lives on.

use std::fs;
use std::os::unix::fs::OpenOptionsExt;

use nix::sys::signal::Signal;

use crate::support::{finish, in_poll, start, wait_until, Dir, Proc, LIMIT};

/// Kills the whole process group when dropped, whatever failed.
struct GroupGuard(i32);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(self.0), Signal::SIGKILL);
    }
}

/// True if process `holder` holds a pidfd for process `pid` (its fdinfo
/// names the pid).
fn holds_pidfd_of(holder: u32, pid: i32) -> bool {
    let Ok(fds) = fs::read_dir(format!("/proc/{holder}/fd")) else {
        return false;
    };
    let want = format!("Pid:\t{pid}");
    fds.filter_map(Result::ok).any(|fd| {
        fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == "anon_inode:[pidfd]")
            && fs::read_to_string(format!(
                "/proc/{holder}/fdinfo/{}",
                fd.file_name().display()
            ))
            .is_ok_and(|info| info.lines().any(|l| l == want))
    })
}

/// The pid a script wrote to `path` (once it is there).
fn pid_in(path: &std::path::Path) -> i32 {
    assert!(
        wait_until(LIMIT, || path.exists()),
        "{} never written",
        path.display()
    );
    fs::read_to_string(path).unwrap().trim().parse().unwrap()
}

/// A leader that survives TERM (it traps it) and a member that ignores it:
/// pidwait holds both, not only the leader. Then, told to by the test once
/// pidwait waits after its TERM, the leader forks a new member that ignores
/// TERM too: pidwait takes hold of it at its next rescan, while the leader
/// and the first member still live (it does not wait for one of them to
/// exit, nor for the 5 minutes the schedule gives them). Nothing here is timed:
/// each step waits for the event, and the test ends the group itself.
#[test]
fn group_holds_every_member_while_the_leader_lives() {
    let dir = Dir::new();
    let go = dir.path("go");
    nix::unistd::mkfifo(&go, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let (member, got, late) = (dir.path("member"), dir.path("got"), dir.path("late"));
    let script = format!(
        "(trap '' TERM; exec sleep 300) & echo $! > {m}.tmp; mv {m}.tmp {m}; \
         trap 'echo term > {got}; read x < {go}; (trap \"\" TERM; exec sleep 300) & \
         echo $! > {late}.tmp; mv {late}.tmp {late}' TERM; \
         echo ready; while :; do wait; done",
        m = member.display(),
        got = got.display(),
        go = go.display(),
        late = late.display(),
    );
    let (mut leader, line) = Proc::group_leader_with_line("bash", &["-c", &script]);
    let _group = GroupGuard(leader.pid());
    assert_eq!(line, "ready\n");
    let member = pid_in(&member);
    // TERM is ignored once it runs sleep (the ignore is set before exec).
    assert!(wait_until(LIMIT, || fs::read_link(format!(
        "/proc/{member}/exe"
    ))
    .is_ok_and(|p| p.ends_with("sleep"))));

    let lead = leader.pid().to_string();
    let pidwait = start(&[
        "--kill",
        "--group",
        "--retry",
        "TERM/300/KILL/5",
        "--pid",
        &lead,
    ]);
    let pw = pidwait.id();
    // The group got its TERM; the leader and its member live on, held.
    assert!(wait_until(LIMIT, || got.exists()), "no TERM came");
    assert!(
        wait_until(LIMIT, || holds_pidfd_of(pw, leader.pid())
            && holds_pidfd_of(pw, member)),
        "pidwait does not hold both the leader and the member {member}"
    );
    // pidwait now waits (it polls only after the signal and its rescan):
    // a member forked from here on is found by a later rescan.
    assert!(wait_until(LIMIT, || in_poll(pw)));
    // Opened without blocking: a leader gone before it reads the fifo
    // fails the test (ENXIO until a reader opens it) instead of hanging it.
    let mut fifo = None;
    assert!(
        wait_until(LIMIT, || {
            fifo = fs::OpenOptions::new()
                .write(true)
                .custom_flags(nix::libc::O_NONBLOCK)
                .open(&go)
                .ok();
            fifo.is_some()
        }),
        "the leader never read the fifo"
    );
    std::io::Write::write_all(&mut fifo.unwrap(), b"go\n").unwrap();
    let newcomer = pid_in(&late);
    assert!(
        wait_until(LIMIT, || holds_pidfd_of(pw, newcomer)),
        "pidwait never took hold of the member {newcomer} forked after its TERM"
    );
    assert!(holds_pidfd_of(pw, leader.pid()) && holds_pidfd_of(pw, member));

    // The test ends the group: every target gone, pidwait succeeds.
    nix::sys::signal::killpg(nix::unistd::Pid::from_raw(leader.pid()), Signal::SIGKILL).unwrap();
    let (code, out, err) = finish(pidwait);
    assert_eq!(code, Some(0), "{out}{err}");
    leader.reap();
}
