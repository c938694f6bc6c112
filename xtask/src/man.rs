//! Man pages from a tool's clap definition, its `after_help` text and its
//! README's Examples section, so that the page says what `--help` and the
//! README say.
//!
//! The `after_help` of our tools holds several blocks ("Targets:", "Exit
//! codes:", "Environment:", notes); each becomes its own section, so that a
//! table of targets is not filed under EXIT STATUS.

use std::fmt::Write as _;

use anyhow::{bail, Context, Result};
use clap::{ArgAction, Command};
use clap_mangen::roff::{bold, italic, roman, Inline, Roff};
use clap_mangen::Man;

/// What a top-level page needs besides the clap definition.
pub struct Extra<'a> {
    /// The page's name (`stackutils-pidwait` for our pidwait).
    pub page: &'a str,
    /// The tool's README text (its `## Examples` section is used).
    pub readme: &'a str,
    /// SEE ALSO entries, `name(section)`, and any sentences after them.
    pub see_also: &'a [&'a str],
    pub see_also_text: &'a str,
}

/// The page of `cmd` (already built) named `page`, for version `version`.
/// `extra` is `None` for a subcommand's page.
pub fn render(cmd: &Command, page: &str, version: &str, extra: Option<&Extra>) -> Result<String> {
    let man = Man::new(cmd.clone())
        .title(page)
        .source(format!("stackutils {version}"))
        .manual("stackutils");
    // The title keeps the preamble (it defines the \*(Aq the other sections use).
    let mut title = Vec::new();
    man.render_title(&mut title)?;
    let mut out = String::from_utf8(title)?;
    let mut name = Roff::new();
    name.control("SH", ["NAME"]);
    let about = cmd.get_about().map(ToString::to_string).unwrap_or_default();
    name.text([roman(format!("{page} - {about}"))]);
    out += &name.to_roff();

    let display = if extra.is_some() {
        page.to_owned()
    } else {
        bin_name(cmd)
    };
    let mut synopsis = Roff::new();
    synopsis.control("SH", ["SYNOPSIS"]);
    synopsis.text(synopsis_line(cmd, &display));
    out += &synopsis.to_roff();

    out += &section(|w| man.render_description_section(w))?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        out += &section(|w| man.render_options_section(w))?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        out += &section(|w| man.render_subcommands_section(w))?;
    }

    let blocks = split_after_help(
        &cmd.get_after_help()
            .map(ToString::to_string)
            .unwrap_or_default(),
    );
    let (exit, env, other): (Vec<_>, Vec<_>, Vec<_>) = blocks.into_iter().fold(
        (Vec::new(), Vec::new(), Vec::new()),
        |(mut exit, mut env, mut other), b| {
            match b.kind {
                Kind::Exit => exit.push(b),
                Kind::Environment => env.push(b),
                Kind::Other => other.push(b),
            }
            (exit, env, other)
        },
    );
    // Blocks with the same title (several notes) make one section.
    let mut titles: Vec<&str> = Vec::new();
    for b in &other {
        if !titles.contains(&b.title.as_str()) {
            titles.push(&b.title);
        }
    }
    for title in titles {
        let bodies: Vec<&str> = other
            .iter()
            .filter(|b| b.title == title)
            .map(|b| b.body.trim_end())
            .collect();
        out += &preformatted(title, &bodies.join("\n\n"));
    }
    for b in &exit {
        out += &preformatted("EXIT STATUS", &b.body);
    }
    out += &environment(cmd, &env);
    if let Some(extra) = extra {
        if !extra.readme.is_empty() {
            let examples = readme_examples(extra.readme).with_context(|| {
                format!(
                    "{}: README.md has no \"## Examples\" section with a code block",
                    extra.page
                )
            })?;
            out += &preformatted("EXAMPLES", &examples);
        }
        out += &see_also(extra.see_also, extra.see_also_text);
    } else if let Some(parent) = page.rsplit_once('-').map(|(p, _)| p) {
        out += &see_also(&[&format!("{parent}(1)")], "");
    }
    Ok(out)
}

/// A `clap_mangen` section without the apostrophe preamble each render repeats
/// (the title's render keeps it, once, at the top).
fn section(f: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> Result<String> {
    let mut buf = Vec::new();
    f(&mut buf)?;
    let text = String::from_utf8(buf)?;
    if !text.starts_with(".ie ") {
        return Ok(text);
    }
    Ok(text.lines().skip(2).fold(String::new(), |mut s, l| {
        s.push_str(l);
        s.push('\n');
        s
    }))
}

fn bin_name(cmd: &Command) -> String {
    cmd.get_bin_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_owned()
}

/// `portwait [-t|--timeout DURATION] ... TARGET... [-- CMD...]`: every option
/// with its value name, optional parts in brackets, repeatable ones with `...`,
/// a required choice between arguments as `(A | B)`.
pub fn synopsis_line(cmd: &Command, name: &str) -> Vec<Inline> {
    let mut line = vec![bold(name)];
    let groups: Vec<Vec<String>> = cmd
        .get_groups()
        .filter(|g| g.is_required_set())
        .map(|g| g.get_args().map(ToString::to_string).collect())
        .collect();
    let in_group = |id: &str| groups.iter().any(|g| g.iter().any(|a| a == id));
    let mut groups_done = vec![false; groups.len()];

    let args: Vec<_> = cmd
        .get_arguments()
        .filter(|a| {
            !a.is_hide_set()
                && !matches!(
                    a.get_action(),
                    ArgAction::Help
                        | ArgAction::HelpShort
                        | ArgAction::HelpLong
                        | ArgAction::Version
                )
        })
        .collect();
    let options = args.iter().filter(|a| !a.is_positional());
    let positionals = args.iter().filter(|a| a.is_positional());
    for arg in options.chain(positionals) {
        let id = arg.get_id().as_str();
        if in_group(id) {
            let gi = groups
                .iter()
                .position(|g| g.iter().any(|a| a == id))
                .unwrap_or(0);
            if !groups_done[gi] {
                groups_done[gi] = true;
                line.push(roman(" ("));
                for (i, member) in groups[gi].iter().enumerate() {
                    if i > 0 {
                        line.push(roman(" | "));
                    }
                    if let Some(a) = cmd.get_arguments().find(|a| a.get_id() == member) {
                        line.extend(arg_inlines(a));
                    }
                }
                line.push(roman(")"));
            }
            continue;
        }
        let required = arg.is_required_set();
        line.push(roman(if required { " " } else { " [" }));
        if arg.is_positional() && arg.is_last_set() {
            line.push(bold("--"));
            line.push(roman(" "));
        }
        line.extend(arg_inlines(arg));
        if !required {
            line.push(roman("]"));
        }
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        let required = cmd.is_subcommand_required_set();
        line.push(roman(if required { " " } else { " [" }));
        line.push(italic("COMMAND"));
        line.push(roman(if required { " [ARGS]" } else { " [ARGS]]" }));
    }
    line
}

/// `-t|--timeout DURATION`, `--closed`, `TARGET...`.
fn arg_inlines(arg: &clap::Arg) -> Vec<Inline> {
    let mut out = Vec::new();
    let value = arg
        .get_value_names()
        .map_or_else(|| arg.get_id().as_str().to_uppercase(), |v| v.join(" "));
    let repeats = matches!(arg.get_action(), ArgAction::Append | ArgAction::Count)
        || arg.get_num_args().is_some_and(|n| n.max_values() > 1);
    if arg.is_positional() {
        out.push(italic(value));
    } else {
        match (arg.get_short(), arg.get_long()) {
            (Some(s), Some(l)) => {
                out.push(bold(format!("-{s}")));
                out.push(roman("|"));
                out.push(bold(format!("--{l}")));
            }
            (Some(s), None) => out.push(bold(format!("-{s}"))),
            (None, Some(l)) => out.push(bold(format!("--{l}"))),
            (None, None) => {}
        }
        if arg.get_action().takes_values() {
            out.push(roman(" "));
            out.push(italic(value));
        }
    }
    if repeats {
        out.push(roman("..."));
    }
    out
}

#[derive(Debug, PartialEq)]
enum Kind {
    Exit,
    Environment,
    Other,
}

#[derive(Debug)]
struct Block {
    kind: Kind,
    title: String,
    body: String,
}

/// The `after_help` text cut at blank lines into blocks. A block whose first
/// line is a short heading ("Exit codes:", "Exit codes (LSB):", "Targets:",
/// "Environment:") is named by it; any other block is a note.
fn split_after_help(text: &str) -> Vec<Block> {
    text.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|b| {
            let (first, rest) = b.split_once('\n').unwrap_or((b, ""));
            let heading = first.trim_end().strip_suffix(':').filter(|h| {
                let h = h.split(" (").next().unwrap_or(h);
                !h.is_empty() && h.split_whitespace().count() <= 2 && !h.starts_with(' ')
            });
            match heading {
                Some(h) if h.starts_with("Exit codes") => Block {
                    kind: Kind::Exit,
                    title: String::new(),
                    body: dedent(rest),
                },
                Some("Environment") => Block {
                    kind: Kind::Environment,
                    title: String::new(),
                    body: dedent(rest),
                },
                Some(h) => Block {
                    kind: Kind::Other,
                    title: h.to_uppercase(),
                    body: dedent(rest),
                },
                None => Block {
                    kind: Kind::Other,
                    title: "NOTES".into(),
                    body: b.to_owned(),
                },
            }
        })
        .collect()
}

/// Removes the indentation every non-blank line shares.
fn dedent(text: &str) -> String {
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    text.lines().fold(String::new(), |mut s, l| {
        s.push_str(l.get(indent..).unwrap_or(""));
        s.push('\n');
        s
    })
}

/// Escapes text for a no-fill block: backslashes, hyphens (so they stay
/// minus signs) and lines that would start a request.
fn escape(line: &str) -> String {
    let mut out = line.replace('\\', "\\e").replace('-', "\\-");
    if out.starts_with('.') || out.starts_with('\'') {
        out.insert_str(0, "\\&");
    }
    out
}

/// A section holding `body` as written (tables keep their columns).
fn preformatted(title: &str, body: &str) -> String {
    let mut out = format!(".SH \"{title}\"\n.nf\n");
    for line in body.trim_end().lines() {
        let _ = writeln!(out, "{}", escape(line));
    }
    out + ".fi\n"
}

/// ENVIRONMENT: the variables clap reads for options, then the block of the
/// `after_help` text that lists others.
fn environment(cmd: &Command, blocks: &[Block]) -> String {
    let vars: Vec<_> = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| a.get_env().map(|v| (v.to_string_lossy().into_owned(), a)))
        .collect();
    if vars.is_empty() && blocks.is_empty() {
        return String::new();
    }
    let mut out = String::from(".SH ENVIRONMENT\n");
    for (var, arg) in vars {
        let opt = arg
            .get_long()
            .map_or_else(|| arg.get_id().to_string(), |l| format!("--{l}"));
        let _ = write!(
            out,
            ".TP\n\\fB{}\\fR\nThe default of \\fB{}\\fR",
            escape(&var),
            escape(&opt)
        );
        if let Some(help) = arg.get_help() {
            let _ = write!(out, ": {}", escape(&help.to_string()));
        }
        out.push('\n');
    }
    for b in blocks {
        out += ".PP\n.nf\n";
        for line in b.body.trim_end().lines() {
            let _ = writeln!(out, "{}", escape(line));
        }
        out += ".fi\n";
    }
    out
}

fn see_also(entries: &[&str], text: &str) -> String {
    let mut out = String::from(".SH \"SEE ALSO\"\n");
    let refs: Vec<String> = entries
        .iter()
        .map(|e| match e.split_once('(') {
            Some((name, sect)) => format!("\\fB{}\\fR({sect}", escape(name)),
            None => escape(e),
        })
        .collect();
    out += &refs.join(",\n");
    out.push('\n');
    if !text.is_empty() {
        let _ = writeln!(out, ".PP\n{}", escape(text));
    }
    out
}

/// The code blocks (fenced or indented) of the README's `## Examples`
/// section, one after another.
pub fn readme_examples(readme: &str) -> Result<String> {
    let mut in_section = false;
    let mut in_code = false;
    let mut out = String::new();
    for line in readme.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            if in_section {
                break;
            }
            in_section = heading.trim().to_lowercase().starts_with("examples");
            continue;
        }
        if !in_section {
            continue;
        }
        if line.trim_start().starts_with("```") {
            if in_code && !out.ends_with("\n\n") {
                out.push('\n');
            }
            in_code = !in_code;
            continue;
        }
        if in_code {
            out.push_str(line);
            out.push('\n');
        } else if let Some(code) = line.strip_prefix("    ") {
            // An indented code block.
            out.push_str(code);
            out.push('\n');
        } else if line.trim().is_empty() && !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
    }
    let out = out.trim_end().to_owned();
    if out.is_empty() {
        bail!("no examples");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_help_blocks_are_sections_by_heading() {
        let blocks = split_after_help(
            "Targets:\n  PORT  any address\n\nExit codes:\n  0  ok\n  1  timed out\n\nEnvironment:\n  X  the x\n\npidfile: one line of pids, greater\nthan 1.",
        );
        let kinds: Vec<_> = blocks.iter().map(|b| (&b.kind, b.title.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (&Kind::Other, "TARGETS"),
                (&Kind::Exit, ""),
                (&Kind::Environment, ""),
                (&Kind::Other, "NOTES")
            ]
        );
        assert_eq!(blocks[1].body, "0  ok\n1  timed out\n");
    }

    #[test]
    fn notes_make_one_section() {
        let cmd = Command::new("t")
            .about("x")
            .after_help("First note.\n\nSecond note.\n\nExit codes:\n  0  ok");
        let page = render(&cmd, "t-sub", "1", None).unwrap();
        assert_eq!(page.matches(".SH \"NOTES\"").count(), 1, "{page}");
        assert!(page.contains("First note.\n\nSecond note."), "{page}");
    }

    #[test]
    fn exit_codes_with_a_qualifier_are_exit_status() {
        let blocks = split_after_help("Exit codes (LSB):\n  0  running");
        assert_eq!(blocks[0].kind, Kind::Exit);
    }

    #[test]
    fn examples_come_from_the_code_blocks_of_the_examples_section() {
        let readme = "# t\n## Synopsis\n```\nnot this\n```\n## Examples\n\nText.\n```sh\na -b\n```\n```sh\nc\n```\n## Exit codes\n```\nnot this\n```\n";
        assert_eq!(readme_examples(readme).unwrap(), "a -b\n\nc");
        assert!(readme_examples("# t\n## Usage\n```\nx\n```\n").is_err());
        let indented = "## Examples\n\n    $ a\n    out\n\n    $ b\n\n## Next\n";
        assert_eq!(readme_examples(indented).unwrap(), "$ a\nout\n\n$ b");
    }

    #[test]
    fn escape_keeps_requests_and_hyphens_literal() {
        assert_eq!(escape(".x -y \\z"), "\\&.x \\-y \\ez");
        assert_eq!(escape("'q"), "\\&'q");
    }

    #[test]
    fn synopsis_shows_values_brackets_groups_and_trailing_command() {
        let cmd = Command::new("t")
            .arg(
                clap::Arg::new("timeout")
                    .short('t')
                    .long("timeout")
                    .value_name("DURATION"),
            )
            .arg(
                clap::Arg::new("closed")
                    .long("closed")
                    .action(ArgAction::SetTrue),
            )
            .arg(clap::Arg::new("file").value_name("FILE"))
            .arg(clap::Arg::new("pid").long("pid").value_name("PID"))
            .group(
                clap::ArgGroup::new("target")
                    .args(["file", "pid"])
                    .required(true),
            )
            .arg(
                clap::Arg::new("targets")
                    .value_name("TARGET")
                    .num_args(1..)
                    .required(true),
            )
            .arg(
                clap::Arg::new("cmd")
                    .value_name("CMD")
                    .num_args(1..)
                    .last(true),
            );
        let mut roff = Roff::new();
        roff.text(synopsis_line(&cmd, "t"));
        let text = roff
            .to_roff()
            .replace("\\fB", "")
            .replace("\\fI", "")
            .replace("\\fR", "")
            .replace("\\-", "-");
        assert_eq!(
            text.trim(),
            "t [-t|--timeout DURATION] [--closed] (FILE | --pid PID) TARGET... [-- CMD...]"
        );
    }
}
