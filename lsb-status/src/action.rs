//! `run` and the bare marks: print a progress line the way init scripts do.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};

use anyhow::Result;

use crate::mark::{Mark, Output};

/// Prints `message`, runs `command` with this process's stdio, finishes the
/// line with `[  OK  ]` or `[FAILED]` and returns the exit code to end with:
/// the command's own, 127 when it was not found, 126 when it could not run,
/// 128+N when signal N killed it (as a shell reports them).
pub fn run(message: &str, command: &[String], output: Output) -> Result<u8> {
    // The command writes to the same file: our text must be there first.
    // Whatever happens to our output, the command runs and its code is the
    // answer.
    show(message);
    let code = match command.split_first() {
        None => 2,
        Some((program, args)) => match Command::new(program).args(args).status() {
            Ok(status) => exit_code(status),
            Err(e) => {
                let code = if e.kind() == io::ErrorKind::NotFound {
                    127
                } else {
                    126
                };
                crate::note(&format!("cannot run {program}: {e}"));
                code
            }
        },
    };
    let mark = if code == 0 { Mark::Ok } else { Mark::Failed };
    show(&output.line_end(mark, Some(message)));
    Ok(code)
}

/// Shows part of the line; a failure to is said on stderr, no more.
fn show(text: &str) {
    if let Err(e) = crate::show_data(text) {
        crate::note(&format!("{e:#}"));
    }
}

/// Prints `message` (if any) and the mark, as one line.
pub fn mark(mark: Mark, message: Option<&str>, output: Output) -> Result<()> {
    let end = output.line_end(mark, message);
    crate::show_data(&format!("{}{end}", message.unwrap_or_default()))
}

fn exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(signal)) => (128 + signal) as u8,
        (None, None) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(script: &str) -> ExitStatus {
        Command::new("sh").args(["-c", script]).status().unwrap()
    }

    #[test]
    fn codes_are_what_a_shell_would_report() {
        assert_eq!(exit_code(status_of("exit 0")), 0);
        assert_eq!(exit_code(status_of("exit 7")), 7);
        assert_eq!(exit_code(status_of("kill -TERM $$")), 128 + 15);
        assert_eq!(exit_code(status_of("kill -KILL $$")), 128 + 9);
    }
}
