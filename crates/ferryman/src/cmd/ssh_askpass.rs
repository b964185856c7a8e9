//! `ferryman ssh-askpass PROMPT` (hidden): the askpass program the manager gives ssh for an
//! `onpremise-ssh` password login. It prints the content of the 0600 file named by
//! `FERRYMAN_SSH_ASKPASS_FILE` (written by the manager for one run) when ssh asks for a
//! password, and refuses any other question (ssh's host-key confirmation never reaches it: the
//! manager runs ssh with strict host-key checking).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use ferryman_manager::onpremise::ssh::ASKPASS_FILE_VAR;

use crate::output;

/// Arguments of `ferryman ssh-askpass`.
#[derive(Debug, Args)]
pub struct SshAskpassArgs {
    /// The question ssh asks.
    #[arg(default_value = "")]
    prompt: String,
}

impl SshAskpassArgs {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        if !self.prompt.to_ascii_lowercase().contains("password") {
            bail!(
                "ssh asked `{}`: only a password is answered here",
                self.prompt.trim()
            );
        }
        let Some(path) = std::env::var_os(ASKPASS_FILE_VAR).map(PathBuf::from) else {
            bail!("{ASKPASS_FILE_VAR} is not set: this command is run by ssh for the manager, not by hand");
        };
        let password = ferryman_proto::private_file::read(&path)
            .with_context(|| format!("cannot read the ssh password file {}", path.display()))?;
        output::askpass_answer(&password);
        Ok(ExitCode::SUCCESS)
    }
}
