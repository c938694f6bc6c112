//! The process whose listener we wait for: its pid (from the command line
//! or a pidfile), whether it still runs, and the sockets it and its
//! descendants hold.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use std::os::fd::OwnedFd;

use anyhow::{anyhow, bail, Result};
use cliutil::Exit;
use pidwait::pidfile::{self, Trust};
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::process::{pidfd_open, Pid, PidfdFlags};

use crate::wait::{FIRST_PAUSE, MAX_PAUSE};

/// Reads a pidfile holding one pid greater than 1, with pidwait's reader:
/// a FIFO, device or directory is refused (never blocks, never reads more
/// than a few KiB), and errors name the file, line and value.
///
/// The pidfile decides which listener counts (and so when CMD runs), so it
/// is believed as pidwait believes one before a signal: with
/// [`Trust::Checked`], one that someone other than root or us could have
/// written (pidwait's whole-path rules) is an error naming the refused
/// component, and `--trust-pidfile` is the way past it.
pub fn read_pidfile(path: &Path, trust: Trust) -> Result<i32> {
    let read = load(path, trust);
    let written = read.as_ref().ok().map(|p| p.written);
    let pid = one_pid(path, read.map(|p| p.pids))?;
    match written.and_then(|w| stale(pid, w)) {
        Some(why) => Err(Exit::failure(format!("{}: {why}", path.display()))),
        None => Ok(pid),
    }
}

/// pidwait's stale-pidfile rule: a process that started after the pidfile
/// was last written is not the one it names (its pid was reused).
fn stale(pid: i32, written: std::time::SystemTime) -> Option<String> {
    let pid = pidwait::Pid::new(pid)?;
    let stat = pidwait::process::stat(pid).ok()??;
    pidwait::process::newcomer(pid, &stat, Some(written), None)
}

/// The process whose listeners count, held from the start: its pidfd is
/// opened before anything slow (a name lookup) and before its identity is
/// checked, so a pid reused meanwhile is never taken for it.
#[derive(Debug)]
pub struct Owner {
    pub pid: i32,
    /// None when pidfds are not supported (its life is then read from
    /// `/proc`), or when it was gone already.
    pidfd: Option<OwnedFd>,
    /// No process had the pid when it was held.
    gone: bool,
}

impl Owner {
    /// Holds the process that has `pid` now.
    pub fn hold(pid: i32) -> Owner {
        let opened = Pid::from_raw(pid).map(|p| pidfd_open(p, PidfdFlags::empty()));
        match opened {
            Some(Ok(fd)) => Owner {
                pid,
                pidfd: Some(fd),
                gone: false,
            },
            Some(Err(Errno::SRCH)) => Owner {
                pid,
                pidfd: None,
                gone: true,
            },
            // No pidfds on this kernel: `/proc` it is.
            _ => Owner {
                pid,
                pidfd: None,
                gone: false,
            },
        }
    }

    pub fn pidfd(&self) -> Option<&OwnedFd> {
        self.pidfd.as_ref()
    }

    /// Whether it has exited; a zombie has.
    pub fn exited(&self) -> Result<bool> {
        Ok(match &self.pidfd {
            Some(fd) => sleep_or_exit(Some(fd), Duration::ZERO)?,
            None => self.gone || !alive(self.pid),
        })
    }
}

/// Sleeps for `time`, or less if the pidfd says its process exited (true).
pub fn sleep_or_exit(pidfd: Option<&OwnedFd>, time: Duration) -> Result<bool> {
    let timeout = Timespec::try_from(time)?;
    let mut fds: Vec<PollFd> = pidfd
        .into_iter()
        .map(|fd| PollFd::new(fd, PollFlags::IN))
        .collect();
    match rustix::event::poll(&mut fds, Some(&timeout)) {
        Ok(_) | Err(Errno::INTR) => {}
        Err(e) => return Err(io::Error::from(e).into()),
    }
    Ok(fds.first().is_some_and(|fd| !fd.revents().is_empty()))
}

/// Waits for a pidfile that is missing or empty (a server writes it while
/// it starts), looking again with the listener checks' backoff, for at most
/// `limit`; then reads it as [`read_pidfile`] does and holds its process.
/// `None` when it was never written; bad content is an error at once.
pub fn wait_for_pidfile(path: &Path, trust: Trust, limit: Duration) -> Result<Option<Owner>> {
    let deadline = Instant::now() + limit;
    let mut pause = FIRST_PAUSE;
    loop {
        let read = load(path, trust);
        // A stale pidfile (its pid now another process's) is waited on
        // like a missing one: the server has yet to write its own.
        let mut stale_now = None;
        if !matches!(
            read,
            Err(pidfile::Error::Missing { .. } | pidfile::Error::Incomplete { .. })
        ) {
            let written = read.as_ref().ok().map(|p| p.written);
            let pid = one_pid(path, read.map(|p| p.pids))?;
            // Held before the check, so the process checked is the one held
            // (or, if the pid is reused in between, the newcomer is refused).
            let owner = Owner::hold(pid);
            match written.and_then(|w| stale(pid, w)) {
                None => return Ok(Some(owner)),
                why => stale_now = why,
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return match stale_now {
                Some(why) => Err(Exit::failure(format!("{}: {why}", path.display()))),
                None => Ok(None),
            };
        }
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// pidwait's reader, with the way past the trust check named.
fn load(path: &Path, trust: Trust) -> Result<pidfile::Pidfile, pidfile::Error> {
    pidfile::load(path, trust, pidfile::SETTLE)
}

fn one_pid(path: &Path, read: Result<Vec<pidwait::Pid>, pidfile::Error>) -> Result<i32> {
    // The error names the file; Display already includes any cause.
    let pids = read.map_err(|e| match e {
        pidfile::Error::Untrusted { .. } => {
            anyhow!("{e}; pass --trust-pidfile to believe it anyway")
        }
        e => anyhow!("{e}"),
    })?;
    match pids.as_slice() {
        [pid] => Ok(pid.get()),
        _ => bail!(
            "pidfile {}:1: lists {} pids ({}): expected one process id",
            path.display(),
            pids.len(),
            pids.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

/// Fails when `pid` is a thread of another process (it cannot be held by
/// a pidfd, and its process's listeners are not what was asked for), or
/// when we may not read its open files: its listeners could then never be
/// recognised, and the wait would end in a misleading timeout. A process
/// that is gone is not an error here: the wait reports it.
pub fn check_readable(pid: i32) -> Result<()> {
    if let Some(p) = pidwait::Pid::new(pid) {
        if let Some(tgid) = pidwait::process::thread_group(p)? {
            if tgid != pid {
                bail!("pid {pid} is a thread of process {tgid}, not a process");
            }
        }
    }
    match fs::read_dir(format!("/proc/{pid}/fd")) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => bail!(
            "cannot read /proc/{pid}/fd ({e}): to tell process {pid}'s listeners from \
             others, run portwait as its user or as root"
        ),
        _ => Ok(()),
    }
}

/// True while `pid` runs: it exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the command name, which may hold spaces and ')'.
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| !matches!(state, 'Z' | 'X' | 'x'))
    })
}

/// `pid` and all its descendants, from the parent pids in `/proc/*/stat`
/// (`/proc/PID/task/*/children` is missing from many kernels).
pub fn tree(pid: i32) -> Vec<i32> {
    let mut parents: Vec<(i32, i32)> = Vec::new();
    if let Ok(procs) = fs::read_dir("/proc") {
        for entry in procs.flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            if let Some(parent) = fs::read_to_string(entry.path().join("stat"))
                .ok()
                .as_deref()
                .and_then(parent_pid)
            {
                parents.push((child, parent));
            }
        }
    }
    let mut pids = vec![pid];
    let mut i = 0;
    while i < pids.len() {
        let parent = pids[i];
        i += 1;
        pids.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
    }
    pids
}

/// The parent pid from the text of `/proc/PID/stat`.
fn parent_pid(stat: &str) -> Option<i32> {
    // Fields after the command name (which may hold spaces and ')'): state, ppid.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The inodes of the sockets open in any of `pids`.
pub fn socket_inodes(pids: &[i32]) -> HashSet<u32> {
    let mut inodes = HashSet::new();
    for pid in pids {
        let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(link) = fs::read_link(fd.path()) {
                if let Some(inode) = link
                    .to_str()
                    .and_then(|l| l.strip_prefix("socket:["))
                    .and_then(|l| l.strip_suffix(']'))
                    .and_then(|n| n.parse().ok())
                {
                    inodes.insert(inode);
                }
            }
        }
    }
    inodes
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::os::fd::AsRawFd;
    use std::process::Command;

    #[test]
    fn pidfiles() {
        let tmp = tempfile::tempdir().unwrap();
        let file = |text: &str| {
            let path = tmp.path().join("pid");
            fs::write(&path, text).unwrap();
            read_pidfile(&path, Trust::Checked).map_err(|e| format!("{e:#}"))
        };
        assert_eq!(file("4321\n"), Ok(4321));
        assert_eq!(file("4321"), Ok(4321));
        let path = tmp.path().join("pid");
        let name = path.display();
        assert_eq!(
            file("1\n"),
            Err(format!("{name}:1: \"1\": pid 1 is init: never a service"))
        );
        assert_eq!(
            file("12\n13\n"),
            Err(format!(
                "{name}:2: \"13\": expected one line of pids, found more text after it"
            ))
        );
        assert_eq!(
            file("12 13\n"),
            Err(format!(
                "pidfile {name}:1: lists 2 pids (12 13): expected one process id"
            ))
        );
        assert!(file("").unwrap_err().contains(":1: \"\": expected a pid"));
        let missing = read_pidfile(&tmp.path().join("none"), Trust::Checked).unwrap_err();
        assert!(
            format!("{missing:#}").ends_with("none: no such pidfile"),
            "{missing:#}"
        );
        let dir = read_pidfile(tmp.path(), Trust::Checked).unwrap_err();
        assert!(
            format!("{dir:#}").ends_with("not a regular file"),
            "{dir:#}"
        );
    }

    /// pidwait's stale rule: a pidfile last written before its process
    /// started names a process that is not the server (its pid was reused).
    #[test]
    fn a_stale_pidfile_is_not_believed() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("s.pid");
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        fs::write(&file, format!("{}\n", child.id())).unwrap();
        assert_eq!(
            read_pidfile(&file, Trust::Checked).unwrap(),
            child.id() as i32
        );
        let old = std::time::SystemTime::now() - Duration::from_secs(3600);
        fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(old)
            .unwrap();
        for err in [
            read_pidfile(&file, Trust::Checked).unwrap_err(),
            wait_for_pidfile(&file, Trust::Checked, Duration::ZERO).unwrap_err(),
        ] {
            let text = format!("{err:#}");
            assert!(text.contains("stale pidfile"), "{text}");
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn our_own_fds_are_readable_and_a_missing_process_is_left_to_the_wait() {
        check_readable(std::process::id() as i32).unwrap();
        check_readable(i32::MAX).unwrap();
    }

    #[test]
    fn a_child_is_alive_until_it_exits_and_a_zombie_is_dead() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id() as i32;
        assert!(alive(pid));
        assert!(tree(std::process::id() as i32).contains(&pid));
        child.kill().unwrap();
        // Not reaped yet: a zombie. Wait for the kernel to finish the kill.
        let start = std::time::Instant::now();
        while alive(pid) {
            assert!(start.elapsed().as_secs() < 10, "kill not seen");
            std::thread::yield_now();
        }
        child.wait().unwrap();
        assert!(!alive(pid));
    }

    #[test]
    fn finds_our_own_sockets() {
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let link = fs::read_link(format!("/proc/self/fd/{}", server.as_raw_fd())).unwrap();
        let inode: u32 = link.to_str().unwrap()[8..]
            .trim_end_matches(']')
            .parse()
            .unwrap();
        assert!(socket_inodes(&[std::process::id() as i32]).contains(&inode));
    }

    #[test]
    fn parent_pids() {
        assert_eq!(parent_pid("42 (a) b) c) S 7 42 42 0"), Some(7));
        assert_eq!(parent_pid("42 (a) S"), None);
        assert_eq!(parent_pid(""), None);
    }

    proptest! {
        #[test]
        fn arbitrary_stat_text_never_panics(text in any::<String>()) {
            let _ = parent_pid(&text);
        }
    }
}
