//! `ferryman tls init`: the fleet CA and its certificates, for sites without a PKI.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::output;

/// TLS commands.
#[derive(Debug, Subcommand)]
pub enum TlsCommand {
    /// Make a fleet CA in DIR and issue the manager's certificate and one per database host:
    /// `ca.crt` (copy it to every host), `ca.key` (0600: keep it off the network afterwards),
    /// `manager.crt`/`manager.key`, `agents/HOST.crt`/`HOST.key`. Then set
    /// `manager.tls-cert-file`, `tls-key-file` and `tls-ca-file`. A directory that already
    /// holds a CA is refused.
    Init {
        /// Where the files go (created).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// A name or address the manager is reached by (repeat for each: the API's and the
        /// stream port's clients check it).
        #[arg(long = "manager", value_name = "NAME", required = true)]
        manager: Vec<String>,
        /// A database host (its name or address as the configuration's `host`), one
        /// certificate each (repeat).
        #[arg(long = "agent", value_name = "HOST")]
        agents: Vec<String>,
        /// How long the manager's and agents' certificates are valid.
        #[arg(long, default_value_t = 825, value_name = "DAYS")]
        days: u32,
        /// How long the CA is valid.
        #[arg(long, default_value_t = 3650, value_name = "DAYS")]
        ca_days: u32,
    },
}

impl TlsCommand {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            TlsCommand::Init {
                dir,
                manager,
                agents,
                days,
                ca_days,
            } => {
                let written = ferryman_tls::fleet::init(&ferryman_tls::fleet::Request {
                    dir: dir.clone(),
                    manager,
                    agents,
                    days,
                    ca_days,
                })?;
                output::tls_issued(&dir, &written);
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}
