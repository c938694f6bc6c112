//! The `[  OK  ]` / `[FAILED]` marks that end an init script's progress line,
//! placed at column 60 as Red Hat's `echo_success` and friends do.

use std::ffi::OsStr;

use anstyle::{AnsiColor, Style};

use crate::cli::Color;

/// The 1-based column where the mark's opening bracket goes.
pub const COLUMN: usize = 60;

/// The outcome a mark shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Ok,
    Failed,
    Passed,
    Warning,
}

impl Mark {
    /// The text between the brackets, centred the way the distributions do.
    pub fn word(self) -> &'static str {
        match self {
            Mark::Ok => "  OK  ",
            Mark::Failed => "FAILED",
            Mark::Passed => "PASSED",
            Mark::Warning => "WARNING",
        }
    }

    fn style(self) -> Style {
        let colour = match self {
            Mark::Ok => AnsiColor::Green,
            Mark::Failed => AnsiColor::Red,
            Mark::Passed | Mark::Warning => AnsiColor::Yellow,
        };
        Style::new().bold().fg_color(Some(colour.into()))
    }
}

/// What the output can do: colour, and move the cursor to a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output {
    pub colour: bool,
    pub move_cursor: bool,
}

impl Output {
    /// Decides from `--color`, whether stdout is a terminal, `$TERM` and
    /// `$NO_COLOR`. A missing TERM counts as `dumb`: nothing to rely on.
    pub fn decide(
        choice: Color,
        is_terminal: bool,
        term: Option<&OsStr>,
        no_color: Option<&OsStr>,
    ) -> Output {
        let smart = is_terminal && term.is_some_and(|t| !t.is_empty() && t != "dumb");
        let colour = match choice {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => smart && !no_color.is_some_and(|v| !v.is_empty()),
        };
        Output {
            colour,
            move_cursor: smart,
        }
    }

    /// From the real environment of this process.
    pub fn detect(choice: Color) -> Output {
        use std::io::IsTerminal;
        Output::decide(
            choice,
            std::io::stdout().is_terminal(),
            std::env::var_os("TERM").as_deref(),
            std::env::var_os("NO_COLOR").as_deref(),
        )
    }

    /// The end of a line whose text so far is `printed`: what brings the
    /// cursor to [`COLUMN`], the mark, and the newline. `None`: what is on
    /// the line is not known (a bare mark after the script's own
    /// `echo -n "Starting foo"`): without a terminal to move the cursor on,
    /// padding cannot line up, so one space keeps the mark apart.
    pub fn line_end(self, mark: Mark, printed: Option<&str>) -> String {
        let width = printed
            .unwrap_or_default()
            .rsplit('\n')
            .next()
            .map_or(0, |last| last.chars().count());
        let gap = if width + 1 >= COLUMN || (printed.is_none() && !self.move_cursor) {
            // Too long to line up: keep the mark apart from the text.
            " ".to_owned()
        } else if self.move_cursor {
            // Also right when the command wrote on this line itself.
            format!("\x1b[{COLUMN}G")
        } else {
            " ".repeat(COLUMN - 1 - width)
        };
        let word = mark.word();
        if self.colour {
            let style = mark.style();
            format!("{gap}[{style}{word}{style:#}]\n")
        } else {
            format!("{gap}[{word}]\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Output = Output {
        colour: false,
        move_cursor: false,
    };

    #[test]
    fn plain_marks_open_at_column_60() {
        let msg = "Starting foo: ";
        let line = format!("{msg}{}", PLAIN.line_end(Mark::Ok, Some(msg)));
        assert_eq!(line.find('[').unwrap() + 1, COLUMN);
        assert!(line.ends_with("[  OK  ]\n"));
        let line = PLAIN.line_end(Mark::Failed, Some(""));
        assert_eq!(line.find('['), Some(COLUMN - 1));
        assert!(line.ends_with("[FAILED]\n"));
    }

    #[test]
    fn only_the_last_line_of_the_message_counts() {
        let msg = "a long first line\nab";
        let end = PLAIN.line_end(Mark::Passed, Some(msg));
        assert_eq!("ab".len() + end.find('[').unwrap() + 1, COLUMN);
    }

    #[test]
    fn long_messages_get_one_space() {
        let msg = "x".repeat(80);
        assert_eq!(PLAIN.line_end(Mark::Warning, Some(&msg)), " [WARNING]\n");
        let cursor = Output {
            colour: false,
            move_cursor: true,
        };
        assert_eq!(cursor.line_end(Mark::Warning, Some(&msg)), " [WARNING]\n");
    }

    #[test]
    fn a_bare_mark_after_unknown_text_gets_one_space_without_a_terminal() {
        assert_eq!(PLAIN.line_end(Mark::Ok, None), " [  OK  ]\n");
        let cursor = Output {
            colour: false,
            move_cursor: true,
        };
        assert_eq!(cursor.line_end(Mark::Ok, None), "\x1b[60G[  OK  ]\n");
    }

    #[test]
    fn terminals_get_the_cursor_escape_and_colour() {
        let tty = Output {
            colour: true,
            move_cursor: true,
        };
        let end = tty.line_end(Mark::Ok, Some("Starting: "));
        assert!(end.starts_with("\x1b[60G["), "{end:?}");
        assert!(end.contains("\x1b[1m\x1b[32m  OK  \x1b[0m"), "{end:?}");
        assert!(end.ends_with("]\n"));
    }

    #[test]
    fn colour_only_where_it_is_wanted() {
        let (xterm, dumb, one, empty) = (
            Some(OsStr::new("xterm")),
            Some(OsStr::new("dumb")),
            Some(OsStr::new("1")),
            Some(OsStr::new("")),
        );
        let auto = |tty, term, no| Output::decide(Color::Auto, tty, term, no).colour;
        assert!(auto(true, xterm, None));
        assert!(auto(true, xterm, empty));
        assert!(!auto(true, xterm, one));
        assert!(!auto(true, dumb, None));
        assert!(!auto(true, None, None));
        assert!(!auto(false, xterm, None));
        assert!(Output::decide(Color::Always, false, None, one).colour);
        assert!(!Output::decide(Color::Never, true, xterm, None).colour);
    }

    #[test]
    fn the_cursor_moves_only_on_a_smart_terminal() {
        let moves = |tty, term: &str| {
            Output::decide(Color::Always, tty, Some(OsStr::new(term)), None).move_cursor
        };
        assert!(moves(true, "linux"));
        assert!(!moves(true, "dumb"));
        assert!(!moves(false, "linux"));
    }
}
