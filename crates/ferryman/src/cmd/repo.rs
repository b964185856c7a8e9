//! `ferryman repo check`: every repository of the configuration checked directly, without the
//! manager (the manager's host may be gone); `ferryman repo sign`: a repository's unsigned
//! manifests signed with the manager's key, after the DBA checked where they came from.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use clap::Subcommand;
use ferryman_repo::ReadData;

use super::direct;
use crate::output;

/// Repository commands.
#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Check every backup of every repository (or of one): each manifest parses and has its
    /// payload with the recorded size; with --read-data every payload is read back and its
    /// sha256 (stored and decompressed) compared with the manifest. Leftovers of interrupted
    /// runs are listed. Exit 1 on any problem.
    Check {
        #[command(flatten)]
        config: crate::config_file::ConfigFile,
        /// Only this repository.
        #[arg(long, value_name = "NAME")]
        repository: Option<String>,
        /// Also read every payload back whole.
        #[arg(long, conflicts_with = "read_data_subset")]
        read_data: bool,
        /// Read back only subset N of M (e.g. 2/7): the backups are split into M fixed subsets,
        /// so running 1/M to M/M in turn (one a day from cron) reads everything once per M runs.
        #[arg(long, value_name = "N/M", value_parser = parse_subset)]
        read_data_subset: Option<ReadData>,
        /// Remove partial objects and quarantine unfinished backup directories. Refused while
        /// a manager listens on the configured API address (it does this itself at start, and
        /// knows which writes are in progress).
        #[arg(long)]
        repair: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Sign the unsigned manifests of one repository with the manager's key
    /// (`manager.signing-key-file`): those of backups copied in by hand, or left by a Ferryman
    /// without signatures after the manager's first start signed the rest. A manifest with a
    /// signature that does not verify is reported and left as it is. Refused while a manager
    /// listens (it writes manifests). Check first that the backups are yours: what is signed
    /// is trusted by verify, restore and reseed.
    Sign {
        #[command(flatten)]
        config: crate::config_file::ConfigFile,
        /// The repository.
        #[arg(long, value_name = "NAME")]
        repository: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

impl RepoCommand {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            RepoCommand::Check {
                config,
                repository,
                read_data,
                read_data_subset,
                repair,
                json,
            } => {
                let read_data = match (read_data, read_data_subset) {
                    (_, Some(subset)) => subset,
                    (true, None) => ReadData::All,
                    (false, None) => ReadData::None,
                };
                let config = crate::config_file::load(&config)?;
                if repair && direct::manager_listens(&config).await {
                    bail!(
                        "a manager listens on {}:{}: --repair could remove a backup it is \
                         writing; stop it first (it removes leftovers itself at start), or \
                         run without --repair",
                        config.manager.http_bind_address,
                        config.manager.http_port
                    );
                }
                let repos = direct::repositories(&config, repository.as_deref())?;
                let mut all_ok = true;
                let mut reports = Vec::new();
                for (name, repo) in repos {
                    let report = repo
                        .check(read_data, repair)
                        .await
                        .map_err(|e| anyhow!("repository `{name}`: {e}"))?;
                    all_ok &= report.is_ok();
                    reports.push((name, report));
                }
                output::repo_check(&reports, read_data != ReadData::None, json)?;
                Ok(if all_ok {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
            RepoCommand::Sign {
                config,
                repository,
                json,
            } => {
                let config = crate::config_file::load(&config)?;
                if direct::manager_listens(&config).await {
                    bail!(
                        "a manager listens on {}:{}: it may be rewriting a manifest; stop it \
                         first, then sign",
                        config.manager.http_bind_address,
                        config.manager.http_port
                    );
                }
                let signatures = ferryman_manager::signing::load(&config.manager)?;
                let Some((name, repo)) = direct::repositories(&config, Some(&repository))?
                    .into_iter()
                    .next()
                else {
                    bail!("repository `{repository}` has no directory yet: nothing to sign");
                };
                let report = repo
                    .with_signatures(signatures)
                    .sign_unsigned()
                    .await
                    .map_err(|e| anyhow!("repository `{name}`: {e}"))?;
                output::repo_signed(&name, &report, json)?;
                Ok(if report.refused.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
        }
    }
}

/// `N/M` with 1 <= N <= M.
fn parse_subset(text: &str) -> Result<ReadData, String> {
    let parsed = text
        .split_once('/')
        .and_then(|(n, m)| Some((n.trim().parse::<u32>().ok()?, m.trim().parse::<u32>().ok()?)));
    match parsed {
        Some((n, m)) if n >= 1 && n <= m => Ok(ReadData::Subset { n, m }),
        _ => Err(format!(
            "`{text}` is not a subset: write N/M with 1 <= N <= M, e.g. 3/7"
        )),
    }
}
