//! `ferryman` run as `ferryman-ssh-askpass PROMPT` (a symlink the manager makes in its 0700
//! scratch directory): the askpass program the manager gives ssh for an `onpremise-ssh`
//! password login. ssh runs it with the prompt as its only argument. It prints the content of
//! the 0600 file named by `FERRYMAN_SSH_ASKPASS_FILE` (written by the manager for one run) when
//! ssh asks for a password, and refuses any other question (ssh's host-key confirmation never
//! reaches it: the manager runs ssh with strict host-key checking).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use ferryman_manager::onpremise::ssh::{ASKPASS_FILE_VAR, ASKPASS_NAME};

use crate::output;

/// True when this process was started as the askpass (`argv[0]`'s file name).
pub fn is_askpass(argv0: &Path) -> bool {
    argv0.file_name().is_some_and(|name| name == ASKPASS_NAME)
}

/// Answers ssh's `prompt`.
pub fn run(prompt: &str) -> anyhow::Result<ExitCode> {
    if !prompt.to_ascii_lowercase().contains("password") {
        bail!(
            "ssh asked `{}`: only a password is answered here",
            prompt.trim()
        );
    }
    let Some(path) = std::env::var_os(ASKPASS_FILE_VAR).map(PathBuf::from) else {
        bail!("{ASKPASS_FILE_VAR} is not set: {ASKPASS_NAME} is run by ssh for the manager, not by hand");
    };
    let password = ferryman_proto::private_file::read(&path)
        .with_context(|| format!("cannot read the ssh password file {}", path.display()))?;
    output::askpass_answer(&password);
    Ok(ExitCode::SUCCESS)
}
