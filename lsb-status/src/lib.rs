//! lsb-status: the helpers an LSB init script needs, as one small tool.
//! See README.md.

pub mod action;
pub mod cli;
pub mod expand;
pub mod foreground;
pub mod header;
pub mod lint;
pub mod lock;
pub mod mark;
pub mod output;
pub mod report;
pub mod shell;
pub mod status;
pub mod trusted;
pub mod unit;

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use cliutil::Exit;

use crate::cli::{Cli, Command, HeaderArgs, StatusArgs, UnitArgs};
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
        Command::Unit(args) => unit(&args),
        Command::Trusted(args) => {
            let check = if args.file {
                trusted::file
            } else {
                trusted::dir
            };
            for path in &args.paths {
                check(path).map_err(|why| Exit::failure(escape(&why)))?;
            }
            Ok(ExitCode::SUCCESS)
        }
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
    let trust = if args.trust_pidfile {
        pidwait::pidfile::Trust::Any
    } else {
        pidwait::pidfile::Trust::Checked
    };
    let state = status::status(
        args.pidfile.as_deref(),
        args.exe.as_deref(),
        trust,
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

fn unit(args: &UnitArgs) -> Result<ExitCode> {
    if let Some(dir) = &args.output {
        output::check_dir(dir)?;
    }
    let mut knowledge = unit::Knowledge {
        table: !args.no_known_flags,
        user: Vec::new(),
    };
    for spec in &args.foreground_flag {
        let flags = foreground::parse_user(spec).map_err(anyhow::Error::msg)?;
        knowledge.user.push(flags);
    }
    let mut code = cliutil::SUCCESS;
    let mut printed = 0;
    for file in &args.scripts {
        let shown = escape(&file.display().to_string());
        let converted = read_script(file).and_then(|bytes| {
            let path = installed_path(file)
                .with_context(|| format!("cannot find the absolute path of {shown}"))?;
            let file_name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            unit::convert_knowing(
                &path.to_string_lossy(),
                &file_name,
                &bytes,
                &unit::read_sourced,
                &knowledge,
            )
            .map_err(|e| anyhow::anyhow!("{shown}: {e}"))
        });
        let converted = match converted {
            Ok(c) => c,
            Err(e) => {
                note(&format!("{e:#}"));
                code = cliutil::FATAL;
                continue;
            }
        };
        for warning in &converted.warnings {
            note(&format!("{shown}: warning: {warning}"));
        }
        if !converted.warnings.is_empty() {
            code = code.max(cliutil::FAILURE);
        }
        if let Some(dir) = &args.output {
            output::write(dir, &converted.file_name, &converted.text)?;
        } else {
            let gap = if printed > 0 { "\n" } else { "" };
            show_data(&format!("{gap}{}", converted.text))?;
            printed += 1;
        }
    }
    Ok(ExitCode::from(code))
}

/// Where a script is, for its unit: its directory resolved (no `..`), its
/// own name kept (an rc link stays the link).
fn installed_path(file: &Path) -> std::io::Result<std::path::PathBuf> {
    let absolute = std::path::absolute(file)?;
    match (absolute.parent(), absolute.file_name()) {
        (Some(dir), Some(name)) => Ok(std::fs::canonicalize(dir)?.join(name)),
        _ => Ok(absolute),
    }
}

/// Reads an init script, at most [`MAX_SCRIPT`] bytes of it.
fn read_script(file: &Path) -> Result<Vec<u8>> {
    cliutil::read_regular_limited(file, MAX_SCRIPT, "an init script")
        .with_context(|| format!("cannot read {}", file.display()))
}

/// Writes data to stdout, unbuffered: past the standard library's stdout
/// buffer, so that text a full disk refused is not kept there to fail
/// again when the tool exits. The codes of `status` and `run` are fixed by
/// the LSB and by CMD: a stdout that is full or gone must not change them.
/// A reader that went away is no error; a full stdout is one, for the
/// caller to report or to say on stderr.
pub fn show_data(text: &str) -> Result<()> {
    use std::os::fd::AsFd;
    let fd = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .context("cannot write to stdout")?;
    match std::fs::File::from(fd).write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write to stdout"))
        }
        _ => Ok(()),
    }
}

/// A `lsb-status: ` message on stderr. A stderr that is gone (a closed
/// pipe) must not turn into a panic or change the exit code.
pub fn note(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "lsb-status: {}", escape(message));
}

fn display(file: &Path) -> String {
    file.display().to_string()
}

/// Text from input made safe for a one-line message: control characters
/// (ESC, newline, ...) escaped, so that input can neither drive the
/// terminal nor forge a line.
pub fn escape(text: &str) -> String {
    cliutil::escape_controls(text).into_owned()
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
