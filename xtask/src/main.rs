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
        // One page for the tool, one per subcommand (`lsb-status-run.1`), as git does.
        clap_mangen::generate_to(cmd, dir)
            .with_context(|| format!("writing man pages to {}", dir.display()))?;
    }
    Ok(())
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
