//! `cargo run -p xtask -- man DIR` / `completions DIR`: man pages and shell
//! completions generated from each tool's clap definition, so they never
//! drift from `--help`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

fn commands() -> Vec<clap::Command> {
    vec![
        portfind::cli::Cli::command(),
        portwait::cli::Cli::command(),
        pidwait::cli::Cli::command(),
        fixture_token::cli::Cli::command(),
        db_reset::cli::Cli::command(),
        lsb_status::cli::Cli::command(),
        aoe_fstab::cli::Cli::command(),
    ]
}

fn man(dir: &Path) -> Result<()> {
    for cmd in commands() {
        let source = format!("{} {}", cmd.get_name(), env!("CARGO_PKG_VERSION"));
        let mut cmd = cmd.disable_help_subcommand(true);
        cmd.build();
        man_pages(&cmd, &source, dir)?;
    }
    Ok(())
}

/// One page for the tool and one per subcommand (`lsb-status-run.1`), as git
/// does: `clap_mangen`'s page with its `after_help` section titled EXIT STATUS
/// (it holds each tool's exit-code table) and the version without its "v".
fn man_pages(cmd: &clap::Command, source: &str, dir: &Path) -> Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        man_pages(sub, source, dir)?;
    }
    let man = clap_mangen::Man::new(cmd.clone()).source(source);
    let mut page = Vec::new();
    man.render(&mut page)?;
    let page = String::from_utf8(page)?
        .replace(".SH EXTRA\n", ".SH \"EXIT STATUS\"\n")
        .replace(".SH VERSION\nv", ".SH VERSION\n");
    let file = dir.join(man.get_filename());
    fs::write(&file, page).with_context(|| format!("writing {}", file.display()))
}

fn completions(dir: &Path) -> Result<()> {
    for mut cmd in commands() {
        let name = cmd.get_name().to_owned();
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            clap_complete::generate_to(shell, &mut cmd, &name, dir)
                .with_context(|| format!("writing {shell} completions for {name}"))?;
        }
    }
    Ok(())
}

fn main() -> Result<()> {
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
    println!("{}", dir.display());
    Ok(())
}
