//! portwait: wait until TCP ports listen (or stop listening). See README.md.

pub mod cli;
pub mod diag;
mod events;
pub mod owner;
pub mod target;
/// Test sockets, shared with the integration tests.
#[cfg(test)]
#[path = "../tests/common/sockets.rs"]
mod test_sockets;
pub mod wait;

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use cliutil::Exit;

use crate::cli::Cli;
use crate::owner::Owner;
use crate::target::{Place, Target};
use crate::wait::{Outcome, Resolved, Watch};

/// Runs `portwait` with parsed arguments.
pub fn run(cli: &Cli) -> Result<ExitCode> {
    // portwait has one thread: a fork copies none of another's sockets.
    events::release_in_a_holder();
    // --timeout covers everything: reading the pidfile, resolving, waiting.
    let start = Instant::now();
    let left = || cli.timeout.saturating_sub(start.elapsed());
    let waited = humantime::format_duration(cli.timeout);
    // The owner is held (its pidfd open, its pidfile's identity checked)
    // before any name is looked up: a lookup may take seconds, time enough
    // for its pid to be reused.
    let owner = match (&cli.pidfile, cli.pid) {
        (Some(path), _) => match owner::wait_for_pidfile(path, trust(cli), left())? {
            Some(owner) => Some(owner),
            None => {
                return Err(Exit::failure(format!(
                    "timed out after {waited}: pidfile {} was never written",
                    path.display()
                )))
            }
        },
        (None, pid) => pid.map(Owner::hold),
    };
    let pid = owner.as_ref().map_or(0, |o| o.pid);
    let outcome = match &owner {
        // Dead already: nothing of its will listen, whatever the names are.
        Some(owner) if owner.exited()? => {
            if cli.closed {
                Outcome::Ready
            } else {
                Outcome::OwnerDied(cli.targets.clone())
            }
        }
        _ => {
            if let Some(owner) = &owner {
                owner::check_readable(owner.pid)?;
            }
            match wait::resolve(&cli.targets, owner.as_ref(), cli.closed, left())? {
                Resolved::Ended(outcome) => outcome,
                Resolved::Places(targets) => {
                    if owner.is_some() {
                        let remote = targets
                            .iter()
                            .find(|(_, p)| p.iter().any(|p| matches!(p, Place::Remote(_))));
                        if let Some((target, _)) = remote {
                            bail!("target {target} is on another host: --pid and --pidfile need local targets");
                        }
                    }
                    let watch = Watch {
                        targets,
                        owner,
                        closed: cli.closed,
                        connect: cli.connect,
                        verbose: cli.verbose,
                    };
                    wait::wait(&watch, left())?
                }
            }
        }
    };
    match outcome {
        Outcome::Ready => {}
        Outcome::TimedOut(left) if cli.closed => {
            return Err(Exit::failure(format!(
                "timed out after {waited}; still listening: {}",
                list(&left)
            )))
        }
        Outcome::TimedOut(left) => {
            let not = if cli.connect {
                "not accepting connections"
            } else {
                "not listening"
            };
            return Err(Exit::failure(format!(
                "timed out after {waited}; {not}: {}",
                list(&left)
            )));
        }
        Outcome::OwnerDied(left) => {
            return Err(Exit::failure(format!(
                "process {pid} is not running; never listened on: {}",
                list(&left)
            )))
        }
        Outcome::Unresolved(names) => {
            return Err(Exit::failure(format!(
                "timed out after {waited} resolving {}",
                names
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )))
        }
    }
    let Some((program, args)) = cli.command.split_first() else {
        return Ok(ExitCode::SUCCESS);
    };
    let err = Command::new(program).args(args).exec();
    Err(err).context(format!("cannot run {}", program.to_string_lossy()))
}

fn list(targets: &[Target]) -> String {
    targets
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// How far the --pidfile is believed.
fn trust(cli: &Cli) -> pidwait::pidfile::Trust {
    if cli.trust_pidfile {
        pidwait::pidfile::Trust::Any
    } else {
        pidwait::pidfile::Trust::Checked
    }
}
