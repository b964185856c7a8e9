//! `ferryman config check FILE`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use ferryman_config::Check;

use crate::output;

/// Configuration commands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Parse and validate FILE; print every error with its line, or a summary. A secret
    /// missing here (an unset variable, an absent file) is a warning: the check still passes,
    /// and the daemons will refuse to start without it.
    Check {
        /// The configuration file.
        file: PathBuf,
    },
}

impl ConfigCommand {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            ConfigCommand::Check { file } => {
                let check = Check::load(&file);
                match &check.config {
                    Ok(config) => output::config_summary(config, &check.warnings),
                    Err(errors) => output::config_errors(errors, &check.warnings),
                }
                Ok(if check.config.is_ok() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
        }
    }
}
