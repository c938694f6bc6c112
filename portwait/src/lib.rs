//! portwait: wait until TCP ports listen (or stop listening). See README.md.

pub mod cli;
pub mod diag;
pub mod owner;
pub mod target;
pub mod wait;

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use cliutil::Exit;

use crate::cli::Cli;
use crate::target::{Place, Target};
use crate::wait::{Outcome, Watch};

/// Runs `portwait` with parsed arguments.
pub fn run(cli: &Cli) -> Result<ExitCode> {
    // --timeout covers everything: reading the pidfile, resolving, waiting.
    let start = Instant::now();
    let left = || cli.timeout.saturating_sub(start.elapsed());
    let waited = humantime::format_duration(cli.timeout);
    let owner = match (&cli.pidfile, cli.pid) {
        (Some(path), _) => match owner::wait_for_pidfile(path, trust(cli), left())? {
            Some(pid) => Some(pid),
            None => {
                return Err(Exit::failure(format!(
                    "timed out after {waited}: pidfile {} was never written",
                    path.display()
                )))
            }
        },
        (None, pid) => pid,
    };
    if let Some(pid) = owner {
        owner::check_readable(pid)?;
    }
    let mut targets = Vec::new();
    for target in &cli.targets {
        let places = target::resolve(target, left())?;
        if owner.is_some() && places.iter().any(|p| matches!(p, Place::Remote(_))) {
            bail!("target {target} is on another host: --pid and --pidfile need local targets");
        }
        targets.push((target.clone(), places));
    }
    let watch = Watch {
        targets,
        owner,
        closed: cli.closed,
        connect: cli.connect,
    };
    match wait::wait(&watch, left())? {
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
                "process {} is not running; never listened on: {}",
                owner.unwrap_or_default(),
                list(&left)
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
