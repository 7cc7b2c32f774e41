//! Shell completions and man pages, generated from the clap definition at run time (no build
//! step: what `zw` prints always matches the binary).

use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::Cli;

pub fn completions(shell: clap_complete::Shell) {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "zw", &mut std::io::stdout());
}

/// `zw.1` on standard output, or one page per command (`zw-zones-create.1`, ...) in `dir`.
pub fn man(dir: Option<&Path>) -> Result<()> {
    let cmd = Cli::command();
    let Some(dir) = dir else {
        clap_mangen::Man::new(cmd)
            .render(&mut std::io::stdout())
            .context("writing the man page")?;
        return Ok(());
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut cmd = cmd;
    cmd.build();
    write_pages(dir, &cmd)
}

/// After `build()`, each subcommand's display name is `zw-zones-create`: the page's name.
fn write_pages(dir: &Path, cmd: &clap::Command) -> Result<()> {
    let name = cmd.get_display_name().unwrap_or(cmd.get_name());
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut buf)
        .context("rendering a man page")?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, buf).with_context(|| format!("writing {}", path.display()))?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        write_pages(dir, sub)?;
    }
    Ok(())
}
