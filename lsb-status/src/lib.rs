//! lsb-status: the helpers an LSB init script needs, as one small tool.
//! See README.md.

pub mod action;
pub mod cli;
pub mod header;
pub mod lint;
pub mod lock;
pub mod mark;
pub mod report;
pub mod status;

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use cliutil::Exit;

use crate::cli::{Cli, Command, HeaderArgs, StatusArgs};
use crate::header::Severity;
use crate::mark::{Mark, Output};

/// Init scripts are small: a FILE bigger than this (`/dev/zero`, a log
/// given by mistake) is refused rather than read into memory.
pub const MAX_SCRIPT: u64 = 16 << 20;

/// The LSB's "status unknown": also what a usage error of `status` exits
/// with, so that it cannot read as 2 ("dead but the lock file exists").
pub const STATUS_UNKNOWN: u8 = 4;

/// Parses the command line. Usage errors exit 2, except under `status`,
/// where they exit 4.
pub fn parse_args() -> Cli {
    let status = subcommand(std::env::args_os().skip(1)).is_some_and(|a| a == "status");
    let code = if status {
        STATUS_UNKNOWN
    } else {
        cliutil::FATAL
    };
    cliutil::parse_args_or("lsb-status", code)
}

/// The subcommand word of a command line: the first argument that is not
/// an option (nor the value of `--color WHEN`).
fn subcommand(args: impl Iterator<Item = OsString>) -> Option<OsString> {
    let mut args = args;
    while let Some(arg) = args.next() {
        if arg == "--color" {
            args.next();
        } else if !arg.to_string_lossy().starts_with('-') {
            return Some(arg);
        }
    }
    None
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let output = Output::detect(cli.color);
    match cli.command {
        Command::Status(args) => status(&args),
        Command::Lock(args) => {
            lock::lock(&args.lock_dir, &args.name)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Unlock(args) => {
            lock::unlock(&args.lock_dir, &args.name)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(args) => action::run(&args.message, &args.command, output).map(ExitCode::from),
        Command::Ok(args) => show(Mark::Ok, args.message.as_deref(), output),
        Command::Failed(args) => show(Mark::Failed, args.message.as_deref(), output),
        Command::Passed(args) => show(Mark::Passed, args.message.as_deref(), output),
        Command::Warning(args) => show(Mark::Warning, args.message.as_deref(), output),
        Command::Header(args) => header(&args),
    }
}

fn show(mark: Mark, message: Option<&str>, output: Output) -> Result<ExitCode> {
    action::mark(mark, message, output)?;
    Ok(ExitCode::SUCCESS)
}

fn status(args: &StatusArgs) -> Result<ExitCode> {
    let name = match (&args.name, &args.pidfile) {
        (Some(name), _) => name.clone(),
        (None, Some(pidfile)) => status::default_name(pidfile).ok_or_else(|| {
            Exit::with_code(
                STATUS_UNKNOWN,
                format!(
                    "cannot take a service name from {}: give --name",
                    pidfile.display()
                ),
            )
        })?,
        (None, None) => unreachable!("clap requires --name without --pidfile"),
    };
    // A bad name is a usage error: exit 4 like the others, never 2.
    lock::path(&args.lock_dir, &name)
        .map_err(|e| Exit::with_code(STATUS_UNKNOWN, e.to_string()))?;
    let state = status::status(
        args.pidfile.as_deref(),
        args.exe.as_deref(),
        &args.lock_dir,
        &name,
    );
    if !args.quiet {
        if let Some(detail) = state.detail() {
            note(detail);
        }
        // The code is the answer: a stdout that is gone or full must not
        // turn it into 0, nor into 2 ("dead but the lock file exists").
        if let Err(e) = show_data(&format!("{}\n", state.message(&name))) {
            note(&format!("{e:#}"));
        }
    }
    Ok(ExitCode::from(state.code()))
}

fn header(args: &HeaderArgs) -> Result<ExitCode> {
    let mut reports = Vec::new();
    for file in &args.files {
        let bytes = read_script(file)?;
        let parsed = header::parse(&bytes);
        let problems = lint::lint(&parsed);
        reports.push((file.as_path(), parsed, problems));
    }
    let mut worst = None;
    // A reader that went away must not hide the verdict of the lint.
    for (file, parsed, problems) in &reports {
        for problem in problems {
            let word = match problem.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            note(&format!(
                "{}:{}: {word}: {}",
                file.display(),
                problem.line,
                problem.message
            ));
            worst = worst.max(Some(problem.severity));
        }
        if !args.json {
            show_data(&report::text(&display(file), parsed))?;
        }
    }
    if args.json {
        let all: Vec<report::Report> = reports
            .iter()
            .map(|(file, parsed, problems)| report::Report::new(display(file), parsed, problems))
            .collect();
        show_data(&(serde_json::to_string_pretty(&all)? + "\n"))?;
    }
    let failed = match worst {
        Some(Severity::Error) => true,
        Some(Severity::Warning) => args.strict,
        None => false,
    };
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Reads an init script, at most [`MAX_SCRIPT`] bytes of it.
fn read_script(file: &Path) -> Result<Vec<u8>> {
    cliutil::read_limited(file, MAX_SCRIPT, "an init script")
        .with_context(|| format!("cannot read {}", file.display()))
}

/// Writes data to stdout (flushed: a command may write after it). A reader
/// that went away is no error: the exit code still tells what happened.
pub fn show_data(text: &str) -> Result<()> {
    let mut out = cliutil::stdout();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write to stdout"))
        }
        _ => Ok(()),
    }
}

/// A `lsb-status: ` message on stderr. A stderr that is gone (a closed
/// pipe) must not turn into a panic or change the exit code.
pub fn note(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "lsb-status: {message}");
}

fn display(file: &Path) -> String {
    file.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subcommand_is_found_past_options() {
        let find = |args: &[&str]| subcommand(args.iter().map(OsString::from));
        assert_eq!(find(&["status", "--name", "x"]), Some("status".into()));
        assert_eq!(find(&["--color", "never", "status"]), Some("status".into()));
        assert_eq!(find(&["--color=never", "ok"]), Some("ok".into()));
        assert_eq!(find(&["--bogus"]), None);
    }
}
