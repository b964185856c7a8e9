//! `ferryman config check FILE`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use ferryman_config::Config;

use crate::output;

/// Configuration commands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Parse and validate FILE; print every error with its line, or a summary.
    Check {
        /// The configuration file.
        file: PathBuf,
    },
}

impl ConfigCommand {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            ConfigCommand::Check { file } => match Config::load(&file) {
                Ok(config) => {
                    output::config_summary(&config);
                    Ok(ExitCode::SUCCESS)
                }
                Err(errors) => {
                    output::config_errors(&errors);
                    Ok(ExitCode::FAILURE)
                }
            },
        }
    }
}
