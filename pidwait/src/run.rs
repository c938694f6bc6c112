//! What each mode does: wait for the pidfile, wait for the exit, stop.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cliutil::Exit;

use crate::cli::{Cli, DEFAULT_TIMEOUT};
use crate::interrupt::{self, Interrupts};
use crate::pidfile::{self, Trust};
use crate::process::{self, Identity, Pid};
use crate::schedule::Schedule;
use crate::stop::{join, Outcome, Targets};
use crate::watch;

/// Runs pidwait as the command line asks.
pub fn run(cli: &Cli) -> Result<ExitCode> {
    // First, so that a SIGINT/SIGTERM from now on is ours to report.
    let interrupts = Interrupts::block().context("blocking SIGINT and SIGTERM")?;
    let say = |text: String| {
        if !cli.quiet {
            // A note is not worth failing for: a closed stderr (EPIPE) is
            // ignored, where eprintln! would panic.
            let _ = writeln!(std::io::stderr(), "pidwait: {text}");
        }
    };
    if let Some(name) = &cli.name {
        if name.len() > process::COMM_MAX {
            say(format!(
                "note: --name {name:?} is longer than the kernel keeps; comparing {:?}",
                process::truncate_comm(name)
            ));
        }
    }
    let mut identity = Identity::new(cli.exe.as_deref(), cli.name.as_deref()).context("--exe")?;
    // --exe/--name do not make up for an untrusted path: a planted pidfile
    // could name any process running the same program (another instance,
    // any python3), or any process given that name.
    let trust = if cli.trust_pidfile {
        Trust::Any
    } else {
        Trust::Checked
    };
    if cli.trust_pidfile {
        identity = identity.trusting_age();
    }
    let timeout = cli.timeout.unwrap_or(DEFAULT_TIMEOUT);
    // Checked before anything is read or signalled.
    let schedule = match &cli.retry {
        Some(text) => Schedule::parse(text, cli.signal).map_err(anyhow::Error::msg)?,
        None => Schedule::once(cli.signal, timeout),
    };

    if !cli.exit && !cli.kill && !cli.running {
        let file = cli.file.as_deref().context("a pidfile is required")?;
        let identity = identity.started_at(cli.started);
        return wait_for_file(cli, file, trust, &identity, &interrupts, timeout);
    }

    let (pids, written, what) = if let Some(file) = &cli.file {
        match pidfile::load(file, trust, pidfile::SETTLE) {
            Ok(p) => (
                p.pids,
                Some(p.written),
                format!(" (from {})", file.display()),
            ),
            Err(pidfile::Error::Missing { .. }) => {
                return nothing(cli, &format!("no pidfile {}", file.display()), &say);
            }
            Err(e) => return Err(explain(e)),
        }
    } else {
        (given_pids(&cli.pid), None, String::new())
    };
    if cli.started.is_some() && pids.len() != 1 {
        return Err(Exit::with_code(
            cliutil::FATAL,
            format!(
                "--started is the start time of one process, but there are {} pids{what}",
                pids.len()
            ),
        ));
    }
    let identity = identity.written_at(written).started_at(cli.started);

    let held = Targets::hold(&pids, &identity);
    if cli.running {
        return running(cli, held, &what);
    }
    let (mut targets, gone, stale) = held?;
    if !targets.is_empty() {
        for why in &stale {
            say(format!("{why}; not signalling it"));
        }
    }
    if targets.is_empty() {
        // The leader is gone, but its group may live on (a daemon's workers
        // after a kill -9 of their master).
        if cli.kill && cli.group && stale.is_empty() {
            if let [leader] = pids[..] {
                if let Some(outcome) =
                    orphans(cli, leader, &schedule, &interrupts, &say, &mut targets)?
                {
                    return finish(cli, &pids, outcome, &targets, timeout);
                }
            }
        }
        return none_left(cli, &pids, &gone, &stale, &what, &say);
    }
    if cli.group {
        targets.widen_to_group()?;
    }

    let outcome = if cli.exit {
        targets.wait(&interrupts, Some(Instant::now() + timeout))?
    } else {
        stop(cli.grace, &schedule, &mut targets, &interrupts, &say)?
    };
    finish(cli, &pids, outcome, &targets, timeout)
}

/// Nothing held: every pid was gone, or a newcomer under a stale pid.
fn none_left(
    cli: &Cli,
    pids: &[Pid],
    gone: &[Pid],
    stale: &[String],
    what: &str,
    say: &impl Fn(String),
) -> Result<ExitCode> {
    let (noun, verb) = if gone.len() == 1 {
        ("pid", "is")
    } else {
        ("pids", "are")
    };
    let why = if stale.is_empty() {
        format!("{noun} {}{what} {verb} not running", join(gone))
    } else {
        format!("{}; not signalling it", stale.join("; "))
    };
    let result = nothing(cli, &why, say);
    remove_pidfile(cli, pids, say)?;
    result
}

/// The exit status for how a wait or stop ended.
fn finish(
    cli: &Cli,
    pids: &[Pid],
    outcome: Outcome,
    targets: &Targets,
    timeout: Duration,
) -> Result<ExitCode> {
    let say = |text: String| {
        if !cli.quiet {
            let _ = writeln!(std::io::stderr(), "pidwait: {text}");
        }
    };
    match outcome {
        Outcome::Gone => {
            remove_pidfile(cli, pids, &say)?;
            Ok(ExitCode::SUCCESS)
        }
        Outcome::TimedOut => {
            let after = match (&cli.retry, cli.exit) {
                (Some(schedule), false) => format!("the retry schedule {schedule}"),
                _ => humantime::format_duration(timeout).to_string(),
            };
            Err(Exit::failure(format!(
                "pid {} still running after {after}",
                join(&targets.pids())
            )))
        }
        Outcome::Interrupted(signal) => {
            let done = if targets.sent.is_empty() {
                String::new()
            } else {
                format!(" after sending {}", targets.sent.join(", then "))
            };
            let left = targets.pids();
            let state = match left.len() {
                0 => "it has exited".to_owned(),
                1 => format!("pid {} is still running", left[0]),
                _ => format!("pids {} are still running", join(&left)),
            };
            Err(Exit::with_code(
                interrupt::exit_code(signal),
                format!("interrupted by {signal}{done}; {state}"),
            ))
        }
    }
}

/// `--kill --group` with the leader gone: stops the live members of its
/// process group (with `--started`, those that started no earlier than
/// it). `None` if there are none.
fn orphans(
    cli: &Cli,
    leader: Pid,
    schedule: &Schedule,
    interrupts: &Interrupts,
    say: &impl Fn(String),
    targets: &mut Targets,
) -> Result<Option<Outcome>> {
    // Linux gives no new process the leader's pid while a group of that id
    // has members: whoever is in it now is what the leader left behind.
    if !targets.adopt_group(leader, cli.started)? {
        return Ok(None);
    }
    say(format!(
        "pid {leader} is not running; stopping what is left of its process group: {}",
        join(&targets.pids())
    ));
    stop(cli.grace, schedule, targets, interrupts, say).map(Some)
}

/// `--running`: every pid alive and what was asked for, printed; else 1.
fn running(
    cli: &Cli,
    held: Result<(Targets, Vec<Pid>, Vec<String>)>,
    what: &str,
) -> Result<ExitCode> {
    let not = |why: String| Err(Exit::failure(format!("not running: {why}")));
    let (targets, gone, stale) = match held {
        Ok(held) => held,
        // Refused by --exe/--name, a thread or kernel thread: not the
        // service, so not running (nothing is signalled here).
        Err(e) => return not(format!("{e:#}").replace("; nothing signalled", "")),
    };
    if let Some(why) = stale.first() {
        return not(why.clone());
    }
    if let Some(pid) = gone.first() {
        return not(format!("pid {pid}{what} has exited"));
    }
    let mut out = cliutil::stdout();
    for pid in targets.pids() {
        writeln!(out, "{}", line(cli, pid)?).context("writing to stdout")?;
    }
    out.flush().context("writing to stdout")?;
    Ok(ExitCode::SUCCESS)
}

/// What is printed for a pid: itself, or with `--print-started` `PID TICKS`.
fn line(cli: &Cli, pid: Pid) -> Result<String> {
    if !cli.print_started {
        return Ok(pid.to_string());
    }
    let ticks = process::stat(pid)?
        .and_then(|s| s.start_ticks)
        .with_context(|| format!("pid {pid} exited before its start time was read"))?;
    Ok(format!("{pid} {ticks}"))
}

/// `--kill`: the grace period, then the signal or the schedule.
fn stop(
    grace: Option<Duration>,
    schedule: &Schedule,
    targets: &mut Targets,
    interrupts: &Interrupts,
    say: &impl Fn(String),
) -> Result<Outcome> {
    if let Some(grace) = grace {
        match targets.wait(interrupts, Some(Instant::now() + grace))? {
            Outcome::TimedOut => {}
            other => return Ok(other),
        }
    }
    targets.run_schedule(schedule, interrupts, say)
}

/// `pidwait FILE`: wait for the pidfile to name a live process, print it.
fn wait_for_file(
    cli: &Cli,
    file: &Path,
    trust: Trust,
    identity: &Identity,
    interrupts: &Interrupts,
    timeout: Duration,
) -> Result<ExitCode> {
    let deadline = Instant::now() + timeout;
    match watch::wait_for_pidfile(file, trust, identity, interrupts, deadline).map_err(|e| {
        match e.downcast::<pidfile::Error>() {
            Ok(e) => explain(e),
            Err(e) => e,
        }
    })? {
        watch::Outcome::Ready(pids) => {
            let mut out = cliutil::stdout();
            for pid in pids {
                writeln!(out, "{}", line(cli, pid)?).context("writing to stdout")?;
            }
            out.flush().context("writing to stdout")?;
            Ok(ExitCode::SUCCESS)
        }
        watch::Outcome::TimedOut(status) => Err(Exit::failure(format!(
            "timed out after {}: {status}",
            humantime::format_duration(timeout)
        ))),
        watch::Outcome::Interrupted(signal) => Err(Exit::with_code(
            interrupt::exit_code(signal),
            format!(
                "interrupted by {signal} while waiting for {}",
                file.display()
            ),
        )),
    }
}

/// The `--pid` values, each once: a pid given twice is one process
/// (signalled once, named once).
fn given_pids(raw: &[i32]) -> Vec<Pid> {
    let mut pids = Vec::new();
    for pid in raw.iter().filter_map(|&p| Pid::new(p)) {
        if !pids.contains(&pid) {
            pids.push(pid);
        }
    }
    pids
}

/// Nothing to wait for or stop: a note, and success unless `--strict`.
fn nothing(cli: &Cli, why: &str, say: &impl Fn(String)) -> Result<ExitCode> {
    let verb = if cli.kill { "stop" } else { "wait for" };
    if cli.running {
        return Err(Exit::failure(format!("not running: {why}")));
    }
    if cli.strict {
        return Err(Exit::failure(format!("{why}: nothing to {verb}")));
    }
    say(format!("{why}: nothing to {verb}"));
    Ok(ExitCode::SUCCESS)
}

/// `--remove`: deletes the pidfile if it still names the pids we acted on
/// (a new instance may have written its own pid meanwhile).
fn remove_pidfile(cli: &Cli, pids: &[Pid], say: &impl Fn(String)) -> Result<()> {
    let (true, Some(file)) = (cli.remove, &cli.file) else {
        return Ok(());
    };
    let now = pidfile::read_bytes(file, Trust::Any).and_then(|content| {
        pidfile::parse(&content, pidfile::pid_max(), true).map_err(|p| p.in_file(file, &content))
    });
    match now {
        Ok(now) if now == pids => {
            std::fs::remove_file(file).with_context(|| format!("removing {}", file.display()))?;
        }
        Ok(now) => say(format!(
            "not removing {}: it now names {}",
            file.display(),
            join(&now)
        )),
        Err(pidfile::Error::Missing { .. }) => {}
        Err(e) => say(format!("not removing {}: {e}", file.display())),
    }
    Ok(())
}

/// A pidfile error with advice on how to get past it.
fn explain(e: pidfile::Error) -> anyhow::Error {
    match e {
        pidfile::Error::Untrusted { .. } => anyhow::anyhow!(
            "{e}; pass --trust-pidfile to believe it anyway (--exe/--name still check the process it names)"
        ),
        e => e.into(),
    }
}
