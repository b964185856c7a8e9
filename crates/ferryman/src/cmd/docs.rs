//! `ferryman completions SHELL` and `ferryman man --dir DIR`: shell completions and man pages
//! generated from the command-line definition itself, so they never drift from it (the Debian
//! package ships both).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::output;

/// `ferryman completions SHELL`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    shell: Shell,
}

impl CompletionsArgs {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let mut cli = crate::Cli::command();
        output::completions(self.shell, &mut cli)?;
        Ok(ExitCode::SUCCESS)
    }
}

/// `ferryman man --dir DIR`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Where to write `ferryman.1` and one `ferryman-COMMAND.1` per subcommand.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
}

impl ManArgs {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let cli = crate::Cli::command();
        let mut written = Vec::new();
        write_page(&self.dir, "ferryman", cli.clone(), &mut written)?;
        for sub in cli.get_subcommands() {
            let name = format!("ferryman-{}", sub.get_name());
            write_page(
                &self.dir,
                &name,
                sub.clone()
                    .display_name(name.clone())
                    .bin_name(name.clone()),
                &mut written,
            )?;
        }
        output::man_pages(&self.dir, &written);
        Ok(ExitCode::SUCCESS)
    }
}

/// Renders `command`'s page into `dir/name.1`.
fn write_page(
    dir: &std::path::Path,
    name: &str,
    command: clap::Command,
    written: &mut Vec<String>,
) -> anyhow::Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut page)
        .with_context(|| format!("cannot render the man page of {name}"))?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
    written.push(format!("{name}.1"));
    Ok(())
}
