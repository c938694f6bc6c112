//! logwait: wait until a pattern appears in a log file. See README.md.

pub mod cli;
pub mod follow;
pub mod lines;
pub mod owner;

use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use cliutil::Exit;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use rustix::event::{PollFd, PollFlags};

use crate::cli::Cli;
use crate::follow::{Follower, Look};
use crate::lines::{Pattern, MAX_LINE};
use crate::owner::Owner;

/// How often to look although nothing was notified: a safety net for
/// changes the directory notifications do not report (a symlinked log rotated in another
/// directory, a network file system) and for a directory or a process
/// (without pidfd) that can only be looked at.
const RECHECK: Duration = Duration::from_millis(250);
/// How many of the log's last lines to show when the process dies.
const LAST_LINES: usize = 10;

/// Runs `logwait` with parsed arguments.
pub fn run(cli: &Cli) -> Result<ExitCode> {
    let start = Instant::now();
    let deadline = start
        .checked_add(cli.timeout)
        .context("the timeout is too long for this system's clock")?;
    let pattern = Pattern::new(&cli.pattern, cli.regex).map_err(|e| anyhow!(e))?;
    let mut owner = match (cli.pid, &cli.pidfile) {
        (Some(pid), _) => Owner::from_pid(pid)?,
        (None, Some(path)) => Owner::from_pidfile(path)?,
        (None, None) => Owner::None,
    };
    let mut follower = Follower::new(&cli.file, cli.from_start)?;
    let mut seen = 0u64;
    let mut first: Option<Vec<u8>> = None;
    let mut on_line = |line: &[u8]| {
        if !pattern.is_match(line) {
            return false;
        }
        seen += 1;
        first.get_or_insert_with(|| line.to_vec());
        seen >= cli.count
    };
    let file = cliutil::escape_controls(&cli.file.to_string_lossy()).into_owned();
    let waited = humantime::format_duration(cli.timeout);
    loop {
        let look = follower.look(&mut on_line)?;
        if look == Look::Done {
            break;
        }
        owner.refresh()?;
        if let Some(pid) = owner.exited()? {
            // What it wrote before it died still counts.
            if follower.finish(&mut on_line)? == Look::Done {
                break;
            }
            let mut message = format!(
                "process {pid} exited before {:?} appeared in {file}{}",
                cli.pattern,
                progress(seen, cli.count)
            );
            let last = follower.last_lines(LAST_LINES);
            if !last.is_empty() {
                message.push_str("; its last lines:");
                for line in last {
                    message.push_str("\n  | ");
                    message.push_str(&quote(&line));
                }
            }
            return Err(Exit::failure(message));
        }
        let now = Instant::now();
        // What was written by the deadline counts, even past one look's
        // read budget (`-t 0` on a big log: "is it there already?").
        let last_look = if now >= deadline {
            follower.finish(&mut on_line)?
        } else {
            look
        };
        if last_look == Look::Done {
            break;
        }
        if now >= deadline {
            let mut message = format!(
                "timed out after {waited}: {:?} not seen in {file}{}",
                cli.pattern,
                progress(seen, cli.count)
            );
            if let Some(why) = owner.awaited() {
                let _ = write!(message, "; {why}");
            } else if !cli.file.exists() {
                message.push_str(" (it does not exist)");
            } else if last_look == Look::More {
                message.push_str(" (not read to its end by then)");
            }
            return Err(Exit::failure(message));
        }
        if look == Look::More {
            continue;
        }
        let pause = (deadline - now).min(RECHECK);
        let mut fds: Vec<PollFd> = follower
            .fds()
            .into_iter()
            .map(|fd| PollFd::from_borrowed_fd(fd, PollFlags::IN))
            .collect();
        if let Some(fd) = owner.fd() {
            fds.push(PollFd::from_borrowed_fd(fd, PollFlags::IN));
        }
        pidwait::pidfd::poll(&mut fds, Some(pause))?;
        drop(fds);
        follower.drain()?;
    }
    if let Some(line) = first {
        print_line(&line)?;
    }
    let Some((program, args)) = cli.command.split_first() else {
        return Ok(ExitCode::SUCCESS);
    };
    // No more notifications; CMD must not inherit the blocked SIGIO.
    drop(follower);
    drop(owner);
    unblock_notifications().context("unblocking SIGIO for CMD")?;
    let err = Command::new(program).args(args).exec();
    Err(err).context(format!("cannot run {}", program.to_string_lossy()))
}

/// Unblocks SIGIO (blocked by the directory watches, which read it from a
/// signalfd), first taking any that is still pending: its default action
/// would end us.
fn unblock_notifications() -> std::io::Result<()> {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGIO);
    let pending = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
    while pending.read_signal()?.is_some() {}
    mask.thread_unblock()?;
    Ok(())
}

/// ", seen 1 of 3 times" when some were.
fn progress(seen: u64, count: u64) -> String {
    if seen == 0 || count == 1 {
        String::new()
    } else {
        format!(" (seen {seen} of {count} times)")
    }
}

/// The matching line on stdout, as it is in the log (cut at [`MAX_LINE`]).
fn print_line(line: &[u8]) -> Result<()> {
    let mut out = cliutil::stdout();
    out.write_all(&line[..line.len().min(MAX_LINE)])?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// A log line fit for a message: control characters escaped, at most 200
/// bytes of it.
fn quote(line: &[u8]) -> String {
    let cut = line.len().min(200);
    let mut text = cliutil::escape_bytes(&line[..cut]).into_owned();
    if cut < line.len() {
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_lines_are_escaped_and_short() {
        assert_eq!(quote(b"a\x1b[31mb\tc"), "a\\x1b[31mb\\tc");
        assert_eq!(quote(&[b'x'; 500]).chars().count(), 201);
        assert_eq!(quote(b"\xffok"), "\\xffok");
    }

    #[test]
    fn progress_is_said_only_when_it_helps() {
        assert_eq!(progress(0, 3), "");
        assert_eq!(progress(1, 1), "");
        assert_eq!(progress(2, 3), " (seen 2 of 3 times)");
    }
}
