//! `ferryman topology --config FILE [--json]`.

use std::process::ExitCode;

use anyhow::anyhow;
use clap::Args;

use crate::output;

/// Arguments of `ferryman topology`.
#[derive(Debug, Args)]
pub struct TopologyArgs {
    #[command(flatten)]
    config: crate::config_file::ConfigFile,
    /// Only this cluster.
    #[arg(long)]
    cluster: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

impl TopologyArgs {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let config = crate::config_file::load(&self.config)?;
        let clusters: Vec<_> = match &self.cluster {
            Some(name) => vec![config.cluster(name).ok_or_else(|| {
                anyhow!(
                    "no cluster `{name}` in {}: known clusters are {}",
                    self.config.display(),
                    config
                        .clusters
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?],
            None => config.clusters.iter().collect(),
        };
        let mut views = Vec::new();
        for cluster in clusters {
            views.push(output::ClusterView {
                cluster: cluster.name.clone(),
                servers: ferryman_db::topology::read_cluster(cluster).await,
            });
        }
        let unreachable = views
            .iter()
            .flat_map(|c| &c.servers)
            .any(|s| s.error.is_some());
        output::topology(&views, self.json)?;
        // Scripts and monitors rely on the exit status: a server we could not read is a failure.
        Ok(if unreachable {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    }
}
