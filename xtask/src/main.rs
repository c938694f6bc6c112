//! `cargo run -p xtask -- man DIR` / `completions DIR`: man pages and shell
//! completions generated from each tool's clap definition, so they never
//! drift from `--help`.
//!
//! Our pidwait's page is `stackutils-pidwait.1` and its completions are also
//! made for the name `stackutils-pidwait`: procps owns `pidwait` and
//! `pidwait.1`, and installs link our pidwait as `stackutils-pidwait`.

mod man;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

/// One tool: its clap definition, folder (for the README), the name of its
/// page and what its SEE ALSO says.
struct Tool {
    cmd: clap::Command,
    dir: &'static str,
    page: &'static str,
    see_also: &'static [&'static str],
    see_also_text: &'static str,
}

fn tools() -> Vec<Tool> {
    vec![
        Tool {
            cmd: portfind::cli::Cli::command(),
            dir: "portfind",
            page: "portfind",
            see_also: &["portwait(1)", "ss(8)", "proc(5)"],
            see_also_text: "",
        },
        Tool {
            cmd: portwait::cli::Cli::command(),
            dir: "portwait",
            page: "portwait",
            see_also: &["portfind(1)", "stackutils-pidwait(1)", "ss(8)", "sock_diag(7)"],
            see_also_text: "",
        },
        Tool {
            cmd: pidwait::cli::Cli::command(),
            dir: "pidwait",
            page: "stackutils-pidwait",
            see_also: &["pidwait(1)", "start-stop-daemon(8)", "kill(1)", "pidfd_open(2)", "lsb-status(1)", "portwait(1)"],
            see_also_text: "procps-ng's pidwait(1) is another program: like pgrep(1) it selects processes by name \
                pattern and waits for them to exit. This one waits for a pidfile to name a live process, waits \
                for a process given by pidfile or pid to exit, or stops it (signals sent through a pidfd, retry \
                schedules like start-stop-daemon(8), identity checks with --exe/--name). Where procps owns \
                /usr/bin/pidwait, this one is installed as stackutils-pidwait (the Debian package and make \
                install keep the program itself in lib/stackutils/bin/pidwait); from the release tarball or \
                cargo install it is called pidwait. pidwait --version names stackutils.",
        },
        Tool {
            cmd: fixture_token::cli::Cli::command(),
            dir: "fixture-token",
            page: "fixture-token",
            see_also: &["db-reset(1)"],
            see_also_text: "",
        },
        Tool {
            cmd: db_reset::cli::Cli::command(),
            dir: "db-reset",
            page: "db-reset",
            see_also: &["fixture-token(1)", "curl(1)"],
            see_also_text: "",
        },
        Tool {
            cmd: lsb_status::cli::Cli::command(),
            dir: "lsb-status",
            page: "lsb-status",
            see_also: &["stackutils-pidwait(1)", "start-stop-daemon(8)", "init-d-script(5)"],
            see_also_text: "",
        },
        Tool {
            cmd: httpwait::cli::Cli::command(),
            dir: "httpwait",
            page: "httpwait",
            see_also: &["portwait(1)", "logwait(1)", "db-reset(1)", "curl(1)"],
            see_also_text: "",
        },
        Tool {
            cmd: logwait::cli::Cli::command(),
            dir: "logwait",
            page: "logwait",
            see_also: &["portwait(1)", "httpwait(1)", "stackutils-pidwait(1)", "tail(1)", "fcntl(2)"],
            see_also_text: "",
        },
        Tool {
            cmd: aoe_fstab::cli::Cli::command(),
            dir: "aoe-fstab",
            page: "aoe-fstab",
            see_also: &["fstab(5)", "mount(8)", "umount(8)", "findmnt(8)"],
            see_also_text: "",
        },
    ]
}

/// The workspace root, for the tools' READMEs (xtask runs from a clone).
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
}

fn man(dir: &Path) -> Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    for tool in tools() {
        let readme_path = root().join(tool.dir).join("README.md");
        // A tool still without a README gets a page without EXAMPLES, and a warning.
        let readme = fs::read_to_string(&readme_path).unwrap_or_else(|e| {
            cliutil::warn(
                "xtask",
                format!(
                    "warning: {}: {e}: no EXAMPLES in {}.1",
                    readme_path.display(),
                    tool.page
                ),
            );
            String::new()
        });
        let mut cmd = tool.cmd.disable_help_subcommand(true);
        cmd.build();
        let extra = man::Extra {
            page: tool.page,
            readme: &readme,
            see_also: tool.see_also,
            see_also_text: tool.see_also_text,
        };
        write_page(
            dir,
            tool.page,
            &man::render(&cmd, tool.page, version, Some(&extra))?,
        )?;
        // One page per subcommand (`lsb-status-run.1`), as git does.
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let page = format!("{}-{}", tool.page, sub.get_name());
            write_page(dir, &page, &man::render(sub, &page, version, None)?)?;
        }
    }
    Ok(())
}

fn write_page(dir: &Path, page: &str, text: &str) -> Result<()> {
    let file = dir.join(format!("{page}.1"));
    fs::write(&file, text).with_context(|| format!("writing {}", file.display()))
}

/// `NAME.bash`, `_NAME` and `NAME.fish` for each tool, and for pidwait also
/// under the name `stackutils-pidwait`.
fn completions(dir: &Path) -> Result<()> {
    for tool in tools() {
        let mut cmd = tool.cmd;
        let name = cmd.get_name().to_owned();
        let mut names = vec![name.clone()];
        if tool.page != name {
            names.push(tool.page.to_owned());
        }
        for bin in names {
            for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
                clap_complete::generate_to(shell, &mut cmd, &bin, dir)
                    .with_context(|| format!("writing {shell} completions for {bin}"))?;
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    cliutil::main_with("xtask", run)
}

/// Writes what was asked for, then prints the directory it is in (data: a
/// script may take it); errors, a usage error too, end in exit 2.
fn run() -> Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [what, dir] = args.as_slice() else {
        bail!("usage: xtask man|completions DIR");
    };
    let dir = PathBuf::from(dir);
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    match what.as_str() {
        "man" => man(&dir),
        "completions" => completions(&dir),
        _ => bail!("usage: xtask man|completions DIR"),
    }?;
    writeln!(cliutil::stdout(), "{}", dir.display())?;
    Ok(ExitCode::SUCCESS)
}
