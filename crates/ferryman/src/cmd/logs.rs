//! `ferryman logs list|get|tail`: the error and slow-query logs the manager collected from the
//! servers (`ferryman task error-log --server S` collects one now), through its API.

use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use serde_json::Value;

use super::backup::segment;
use crate::client::{ApiArgs, Client};
use crate::output;

/// Which log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// The error log.
    Error,
    /// The slow-query log.
    SlowQuery,
}

impl Kind {
    /// As the API names it.
    fn name(self) -> &'static str {
        match self {
            Kind::Error => "error",
            Kind::SlowQuery => "slow",
        }
    }
}

/// Collected logs.
#[derive(Debug, Subcommand)]
pub enum LogsCommand {
    /// The collected logs, newest first per server.
    List {
        #[command(flatten)]
        api: ApiArgs,
        /// The cluster (may be left out when the configuration has one).
        #[arg(long)]
        cluster: Option<String>,
        /// Only this server's.
        #[arg(long)]
        server: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One collected log, decompressed, to stdout or a file.
    Get {
        #[command(flatten)]
        api: ApiArgs,
        /// The cluster (may be left out when the configuration has one).
        #[arg(long)]
        cluster: Option<String>,
        /// Its server.
        #[arg(long)]
        server: String,
        /// Its name, as `logs list` shows it.
        name: String,
        /// Write it to this file instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// The last lines of the newest collected log of a server.
    Tail {
        #[command(flatten)]
        api: ApiArgs,
        /// The cluster (may be left out when the configuration has one).
        #[arg(long)]
        cluster: Option<String>,
        /// The server.
        #[arg(long)]
        server: String,
        /// Which log.
        #[arg(long, value_enum, default_value = "error")]
        kind: Kind,
        /// How many lines.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: usize,
    },
}

impl LogsCommand {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            LogsCommand::List {
                api,
                cluster,
                server,
                json,
            } => {
                let client = Client::new(&api)?;
                let cluster = client.cluster(cluster.as_deref())?;
                let mut logs = list(&client, &cluster).await?;
                if let Some(server) = &server {
                    logs.retain(|l| l["server"].as_str() == Some(server.as_str()));
                }
                if json {
                    output::json(&Value::Array(logs))?;
                } else {
                    output::logs(&logs);
                }
                Ok(ExitCode::SUCCESS)
            }
            LogsCommand::Get {
                api,
                cluster,
                server,
                name,
                output: file,
            } => {
                let client = Client::new(&api)?;
                let cluster = client.cluster(cluster.as_deref())?;
                // Asked first: a refused request leaves no empty file behind.
                let mut response = client.get_raw(&log_path(&cluster, &server, &name)).await?;
                let mut out: Box<dyn Write> = match &file {
                    Some(path) => Box::new(std::fs::File::create(path).with_context(|| {
                        format!("cannot create {}: check the directory", path.display())
                    })?),
                    None => Box::new(output::log_text()),
                };
                let cut = || format!("the download of {name} was cut short: run `logs get` again");
                while let Some(chunk) = response.chunk().await.with_context(cut)? {
                    out.write_all(&chunk).context("write the log")?;
                }
                out.flush().context("write the log")?;
                Ok(ExitCode::SUCCESS)
            }
            LogsCommand::Tail {
                api,
                cluster,
                server,
                kind,
                lines,
            } => {
                let client = Client::new(&api)?;
                let cluster = client.cluster(cluster.as_deref())?;
                let logs = list(&client, &cluster).await?;
                // Newest first per server: the first of the kind is the newest.
                let Some(newest) = logs.iter().find(|l| {
                    l["server"].as_str() == Some(server.as_str())
                        && l["kind"].as_str() == Some(kind.name())
                }) else {
                    anyhow::bail!(
                        "no {} log of `{server}` was collected yet: `ferryman task {} --server {server}` collects one now",
                        kind.name(),
                        match kind {
                            Kind::Error => "error-log",
                            Kind::SlowQuery => "slow-query-log",
                        }
                    );
                };
                let name = newest["name"].as_str().unwrap_or_default().to_owned();
                let mut response = client.get_raw(&log_path(&cluster, &server, &name)).await?;
                // Only the last `lines` are kept while the log streams by.
                let mut last: VecDeque<Vec<u8>> = VecDeque::with_capacity(lines + 1);
                let mut partial = Vec::new();
                let cut = || format!("the download of {name} was cut short: run `logs tail` again");
                while let Some(chunk) = response.chunk().await.with_context(cut)? {
                    for &b in chunk.iter() {
                        partial.push(b);
                        if b == b'\n' {
                            last.push_back(std::mem::take(&mut partial));
                            if last.len() > lines {
                                last.pop_front();
                            }
                        }
                    }
                }
                if !partial.is_empty() {
                    last.push_back(partial);
                    if last.len() > lines {
                        last.pop_front();
                    }
                }
                output::log_tail(&name, last.iter().map(Vec::as_slice))?;
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

async fn list(client: &Client, cluster: &str) -> anyhow::Result<Vec<Value>> {
    let path = format!("/api/v1/clusters/{}/logs", segment(cluster));
    let value = client.get_value(&path, &[]).await?;
    Ok(value.as_array().cloned().unwrap_or_default())
}

fn log_path(cluster: &str, server: &str, name: &str) -> String {
    format!(
        "/api/v1/clusters/{}/logs/{}/{}",
        segment(cluster),
        segment(server),
        segment(name)
    )
}
