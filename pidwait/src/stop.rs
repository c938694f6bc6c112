//! The processes `--exit` waits for and `--kill` stops: held through
//! pidfds, checked against `--exe`/`--name` before anything is signalled,
//! and, with `--group`, widened to every member of the process group.

use std::io;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::signal::Signal;
use rustix::event::{PollFd, PollFlags};

use crate::interrupt::Interrupts;
use crate::pidfd::{poll, Handle, Sent};
use crate::process::{self, Identity, Match, Pid};
use crate::schedule::{signal_name, Schedule, Step};

/// How often a group is scanned for members that were not there before,
/// and the pause between looks at a process held without a pidfd.
const RESCAN: Duration = Duration::from_millis(50);

/// The live processes being waited for.
#[derive(Debug)]
pub struct Targets {
    handles: Vec<Handle>,
    group: Option<Pid>,
    /// With a group: members that started before this tick are not its.
    since: Option<u64>,
    /// With a group: when to scan `/proc` for members again while some are
    /// held (once none is, at once).
    next_scan: Option<Instant>,
    /// What was sent so far, for the report if we are interrupted.
    pub sent: Vec<String>,
}

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every target is gone.
    Gone,
    /// Some are still alive at the deadline.
    TimedOut,
    /// SIGINT or SIGTERM arrived.
    Interrupted(Signal),
}

impl Targets {
    /// Holds the processes `pids` that are alive and match `identity`.
    ///
    /// A process that is something else is refused (error) before anything
    /// is signalled. Pids that are gone are left out and named in the
    /// returned list; so are stale ones (a newcomer under the pid, see
    /// [`Match::Stale`]), whose reasons come in the last list.
    ///
    /// Every check is made once the process is held through its pidfd, and
    /// counts only if it is still alive afterwards: the pid cannot have
    /// changed hands between the check and any signal.
    pub fn hold(pids: &[Pid], identity: &Identity) -> Result<(Self, Vec<Pid>, Vec<String>)> {
        let mut handles = Vec::new();
        let mut gone = Vec::new();
        let mut stale = Vec::new();
        let refuse = |why: String| {
            anyhow::anyhow!(
                "{why}: not the process asked for (the pidfile may be stale and the pid reused); nothing signalled"
            )
        };
        for &pid in pids {
            let handle = match Handle::open(pid) {
                Ok(Some(handle)) => handle,
                Ok(None) => {
                    gone.push(pid);
                    continue;
                }
                // pidfd_open refuses a thread id (ENOENT or EINVAL): say so.
                Err(e) => match identity.check(pid) {
                    Ok(Match::No(why)) => return Err(refuse(why)),
                    _ => return Err(e).with_context(|| format!("pidfd_open({pid})")),
                },
            };
            match identity
                .check(pid)
                .with_context(|| format!("checking pid {pid}"))?
            {
                Match::Yes => {}
                Match::Gone => {
                    gone.push(pid);
                    continue;
                }
                Match::No(why) => return Err(refuse(why)),
                Match::Stale(why) => {
                    gone.push(pid);
                    stale.push(why);
                    continue;
                }
            }
            // The check read /proc/PID; the pidfd still being alive proves it was this process.
            if handle.has_exited()? {
                gone.push(pid);
            } else {
                handles.push(handle);
            }
        }
        Ok((
            Self {
                handles,
                group: None,
                since: None,
                next_scan: None,
                sent: Vec::new(),
            },
            gone,
            stale,
        ))
    }

    /// Widens the targets to their process group. Each target must lead its
    /// group, and the group must not be pidwait's own.
    pub fn widen_to_group(&mut self) -> Result<()> {
        let [leader] = self.handles.as_slice() else {
            bail!(
                "--group needs exactly one process, found {}",
                self.handles.len()
            );
        };
        let pid = leader.pid();
        let Some(stat) = process::stat(pid)? else {
            return Ok(());
        };
        if stat.pgrp != pid.get() {
            bail!(
                "--group: pid {pid} does not lead a process group (its group is {}); \
                 refusing to signal the group of other processes",
                stat.pgrp
            );
        }
        refuse_own_group(pid)?;
        self.group = Some(pid);
        // No scan yet: the held leader pins the group's id, a signal to the
        // group reaches every member, and the wait scans for them once the
        // leader is gone (or after RESCAN): most groups are the leader alone.
        self.next_scan = Some(Instant::now() + RESCAN);
        Ok(())
    }

    /// Takes over the process group `group` whose leader is gone: holds its
    /// live members (with `since`, only those that started at or after that
    /// tick). False if it has none.
    pub fn adopt_group(&mut self, group: Pid, since: Option<u64>) -> Result<bool> {
        refuse_own_group(group)?;
        self.group = Some(group);
        self.since = since;
        self.rescan()?;
        if self.handles.is_empty() {
            self.group = None;
            return Ok(false);
        }
        Ok(true)
    }

    /// The pids still held.
    pub fn pids(&self) -> Vec<Pid> {
        self.handles.iter().map(Handle::pid).collect()
    }

    /// True when nothing is left to wait for.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    /// Drops the targets that exited, and picks up group members that
    /// appeared: at once when none is held, else every [`RESCAN`].
    fn prune(&mut self) -> Result<()> {
        let mut kept = Vec::with_capacity(self.handles.len());
        for handle in self.handles.drain(..) {
            if !handle.has_exited()? {
                kept.push(handle);
            }
        }
        self.handles = kept;
        let due = self.next_scan.is_none_or(|at| Instant::now() >= at);
        if self.group.is_some() && (self.handles.is_empty() || due) {
            self.rescan()?;
        }
        Ok(())
    }

    /// Holds every live member of the group that is not held yet.
    fn rescan(&mut self) -> Result<()> {
        let Some(group) = self.group else {
            return Ok(());
        };
        self.next_scan = Some(Instant::now() + RESCAN);
        // An empty group needs no scan: no process can join a group that has
        // no members left (a new one under its id is not this group).
        let raw = rustix::process::Pid::from_raw(group.get()).expect("Pid is > 1");
        if rustix::process::test_kill_process_group(raw) == Err(rustix::io::Errno::SRCH) {
            return Ok(());
        }
        for pid in process::group_members(group).context("scanning /proc")? {
            if self.handles.iter().any(|h| h.pid() == pid) {
                continue;
            }
            let Some(handle) = Handle::open(pid)? else {
                continue;
            };
            // Held now, so its pid cannot change hands: is it still in the group?
            let member = process::stat(pid)?.is_some_and(|s| {
                s.pgrp == group.get()
                    && self
                        .since
                        .is_none_or(|since| s.start_ticks.is_some_and(|t| t >= since))
            });
            if member && !handle.has_exited()? {
                self.handles.push(handle);
            }
        }
        Ok(())
    }

    /// Sends `signal` to every target (or to the group), returning the
    /// pids it reached.
    pub fn signal(&mut self, signal: Signal) -> Result<Vec<Pid>> {
        let mut reached = Vec::new();
        if let Some(group) = self.group {
            // kill(-pgid) cannot go through a pidfd; a live member we hold
            // keeps the group's id from being given to a new group.
            let live = |t: &Self| {
                t.handles
                    .iter()
                    .any(|h| matches!(h.has_exited(), Ok(false)))
            };
            if !live(self) {
                // The leader went: the members left, if any, are held first.
                self.rescan()?;
                if !live(self) {
                    return Ok(reached);
                }
            }
            let sig = rustix::process::Signal::from_named_raw(signal as i32)
                .with_context(|| format!("unsupported signal {signal}"))?;
            let raw = rustix::process::Pid::from_raw(group.get()).expect("Pid is > 1");
            match rustix::process::kill_process_group(raw, sig) {
                Ok(()) | Err(rustix::io::Errno::SRCH) => {}
                Err(e) => {
                    return Err(io::Error::from(e))
                        .with_context(|| format!("signalling process group {group}"))
                }
            }
            // Members that came since the last scan got it too; the wait's
            // first look, right after this, holds them.
            reached = self.pids();
            self.sent
                .push(format!("{} to process group {group}", signal_name(signal)));
        } else {
            for handle in &self.handles {
                match handle
                    .signal(signal)
                    .with_context(|| format!("signalling pid {}", handle.pid()))?
                {
                    Sent::Delivered => reached.push(handle.pid()),
                    Sent::Gone => {}
                }
            }
            if !reached.is_empty() {
                self.sent
                    .push(format!("{} to {}", signal_name(signal), join(&reached)));
            }
        }
        Ok(reached)
    }

    /// Waits until every target is gone, the deadline passes, or we are
    /// interrupted.
    pub fn wait(&mut self, interrupts: &Interrupts, deadline: Option<Instant>) -> Result<Outcome> {
        loop {
            self.prune()?;
            if self.is_empty() {
                return Ok(Outcome::Gone);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return Ok(Outcome::TimedOut);
            }
            let polling = self.group.is_some() || self.handles.iter().any(|h| h.fd().is_none());
            let timeout = match (left, polling) {
                (Some(l), true) => Some(l.min(RESCAN)),
                (None, true) => Some(RESCAN),
                (l, false) => l,
            };
            let mut fds = vec![PollFd::from_borrowed_fd(interrupts.fd(), PollFlags::IN)];
            fds.extend(
                self.handles
                    .iter()
                    .filter_map(Handle::fd)
                    .map(|fd| PollFd::from_borrowed_fd(fd, PollFlags::IN)),
            );
            poll(&mut fds, timeout).context("poll")?;
            if !fds[0].revents().is_empty() {
                if let Some(signal) = interrupts.take().context("reading signalfd")? {
                    return Ok(Outcome::Interrupted(signal));
                }
            }
        }
    }

    /// Runs a `--retry` schedule: [`Outcome::TimedOut`] when it ran out
    /// with targets still alive. `note` hears about each escalation.
    pub fn run_schedule(
        &mut self,
        schedule: &Schedule,
        interrupts: &Interrupts,
        mut note: impl FnMut(String),
    ) -> Result<Outcome> {
        let steps = schedule.steps();
        let mut i = 0;
        let mut first_signal = true;
        loop {
            let Some(step) = steps.get(i) else {
                match schedule.repeat_from() {
                    Some(at) => {
                        i = at;
                        continue;
                    }
                    None => return Ok(Outcome::TimedOut),
                }
            };
            i += 1;
            match *step {
                Step::Signal(signal) => {
                    if self.is_empty() {
                        return Ok(Outcome::Gone);
                    }
                    if !first_signal {
                        note(format!(
                            "{} still running; sending {}",
                            join(&self.pids()),
                            signal_name(signal)
                        ));
                    }
                    first_signal = false;
                    self.signal(signal)?;
                }
                Step::Wait(d) => match self.wait(interrupts, Some(Instant::now() + d))? {
                    Outcome::TimedOut => {}
                    other => return Ok(other),
                },
                Step::Forever => {}
            }
        }
    }
}

/// Never signal the group pidwait itself is in (it would stop the shell
/// or script that runs it).
fn refuse_own_group(group: Pid) -> Result<()> {
    if rustix::process::getpgrp().as_raw_nonzero().get() == group.get() {
        bail!("--group: process group {group} is pidwait's own; refusing to signal it");
    }
    Ok(())
}

/// `1234`, `1234, 5678`.
pub fn join(pids: &[Pid]) -> String {
    pids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    /// A leader that dies once its group is held but before the signal: the
    /// members left are held then and get that signal, not a later step's.
    #[test]
    fn members_of_a_leader_gone_before_the_signal_get_it() {
        let mut leader = Command::new("sh")
            .args(["-c", "sleep 60 & echo $!; wait"])
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(leader.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let member = Pid::new(line.trim().parse().unwrap()).unwrap();
        let pid = Pid::new(i32::try_from(leader.id()).unwrap()).unwrap();
        let identity = Identity::new(None, None).unwrap();
        let (mut targets, gone, _) = Targets::hold(&[pid], &identity).unwrap();
        assert!(gone.is_empty());
        targets.widen_to_group().unwrap();
        leader.kill().unwrap(); // SIGKILL to the leader alone
        leader.wait().unwrap();

        targets.signal(Signal::SIGTERM).unwrap();
        let held = targets.pids();
        let ended = targets
            .handles
            .iter()
            .find(|h| h.pid() == member)
            .is_some_and(|h| {
                let fd = h.fd().expect("a pidfd");
                let mut fds = [PollFd::from_borrowed_fd(fd, PollFlags::IN)];
                poll(&mut fds, Some(Duration::from_secs(10))).is_ok() && h.has_exited().unwrap()
            });
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(member.get()), Signal::SIGKILL);
        assert!(held.contains(&member), "{held:?}");
        assert!(ended, "the member did not get the TERM: {:?}", targets.sent);
    }
}
