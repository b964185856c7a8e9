//! `ferryman node ...`: a server's node agent asked through the manager (its HTTP API, on the
//! server's `agent-api-port`): the database service's status, start, stop and restart;
//! detection; disk; the error log's tail, followed; the replicas the server knows of.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use ferryman_proto::node_api::{
    Detection, DiskUsage, MysqldStatus, SnapshotList, SnapshotMeta, LOG_FILE_HEADER,
    LOG_OFFSET_HEADER, MAX_TAIL_LINES,
};
use serde_json::{json, Value};

use super::backup::segment;
use crate::client::{typed, ApiArgs, Client};
use crate::{exit, output};

/// Which server.
#[derive(Debug, Args)]
pub struct Target {
    #[command(flatten)]
    api: ApiArgs,
    /// The server (its `name` in the configuration).
    #[arg(long)]
    server: String,
    /// Its cluster (may be left out when the configuration has one).
    #[arg(long)]
    cluster: Option<String>,
}

/// `ferryman node`.
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Whether the database server answers: version, uptime, read-only, process, a job in
    /// progress.
    Status {
        #[command(flatten)]
        target: Target,
        /// Print the agent's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Start the database service now (the server's `service-start`).
    Start {
        #[command(flatten)]
        target: Target,
    },
    /// Stop the database service now (`service-stop`); refused while a job runs there.
    Stop {
        #[command(flatten)]
        target: Target,
        /// Stop it: it interrupts the server.
        #[arg(long)]
        yes: bool,
    },
    /// Restart the database service now (`service-restart`); refused while a job runs there.
    Restart {
        #[command(flatten)]
        target: Target,
        /// Restart it: it interrupts the server.
        #[arg(long)]
        yes: bool,
    },
    /// Port, datadir, socket, logs, version and option files, from the running server and its
    /// option files, against the configuration; exit 1 when they differ.
    Detect {
        #[command(flatten)]
        target: Target,
        /// Print the agent's JSON.
        #[arg(long)]
        json: bool,
    },
    /// The datadir's and the staging directory's file systems, and the datadir's size.
    Disk {
        #[command(flatten)]
        target: Target,
        /// Print the agent's JSON.
        #[arg(long)]
        json: bool,
    },
    /// The error log's last lines, read on the node (never the whole file); with --follow,
    /// what the server appends, until Ctrl-C.
    ErrorLog {
        #[command(flatten)]
        target: Target,
        /// How many lines (at most 10000).
        #[arg(long, short = 'n', default_value_t = 100)]
        lines: usize,
        /// Go on printing what the server appends.
        #[arg(long, short = 'f')]
        follow: bool,
    },
    /// The snapshots of the server's datadir volume (`snapshot-method`): list, take (a
    /// consistent one, now), mount (read-only), unmount, remove.
    Snapshots {
        #[command(subcommand)]
        command: SnapshotCommand,
    },
    /// The replicas the server knows of (SHOW SLAVE HOSTS, binlog dumps), each with the
    /// configured server it is; exit 1 when one is missing from the configuration.
    Replicas {
        #[command(flatten)]
        target: Target,
        /// Print the manager's JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `ferryman node snapshots`.
#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// The snapshots, oldest first, with the GTID each recorded.
    List {
        #[command(flatten)]
        target: Target,
        /// Print the agent's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Take a consistent snapshot now (commits blocked while it is taken).
    Take {
        #[command(flatten)]
        target: Target,
        /// Print the agent's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make a snapshot's files readable (read-only) on the node; prints where.
    Mount {
        #[command(flatten)]
        target: Target,
        /// The snapshot.
        name: String,
    },
    /// Undo a mount.
    Unmount {
        #[command(flatten)]
        target: Target,
        /// The snapshot.
        name: String,
    },
    /// Remove a snapshot for good.
    Remove {
        #[command(flatten)]
        target: Target,
        /// The snapshot.
        name: String,
        /// Remove it.
        #[arg(long)]
        yes: bool,
    },
}

impl SnapshotCommand {
    async fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            SnapshotCommand::List { target, json } => {
                let (client, path) = open(&target, "snapshots")?;
                let value = client.get_value(&path, &[]).await?;
                show::<SnapshotList>(value, &path, json, output::node_snapshots)
            }
            SnapshotCommand::Take { target, json } => {
                let (client, path) = open(&target, "snapshots")?;
                let value = client.post_value(&path, &json!({})).await?;
                show::<SnapshotMeta>(value, &path, json, output::node_snapshot_taken)
            }
            SnapshotCommand::Mount { target, name } => {
                let (client, path) = open(&target, &format!("snapshots/{}/mount", segment(&name)))?;
                let value = client.post_value(&path, &json!({})).await?;
                output::line(&format!(
                    "{name} is readable at {}",
                    value["mounted_at"].as_str().unwrap_or("?")
                ));
                Ok(ExitCode::SUCCESS)
            }
            SnapshotCommand::Unmount { target, name } => {
                let (client, path) =
                    open(&target, &format!("snapshots/{}/unmount", segment(&name)))?;
                client.post_value(&path, &json!({})).await?;
                output::line(&format!("{name} unmounted"));
                Ok(ExitCode::SUCCESS)
            }
            SnapshotCommand::Remove { target, name, yes } => {
                if !yes {
                    return Err(exit::error(
                        exit::USAGE,
                        format!("removing {name} cannot be undone: add --yes"),
                    ));
                }
                let (client, path) = open(&target, &format!("snapshots/{}", segment(&name)))?;
                client
                    .delete_value(&path, &[("confirm", Some("true"))])
                    .await?;
                output::line(&format!("{name} removed"));
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

impl NodeCommand {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            NodeCommand::Status { target, json } => {
                let (client, path) = open(&target, "mysqld")?;
                let value = client.get_value(&path, &[]).await?;
                show::<MysqldStatus>(value, &path, json, output::node_status)
            }
            NodeCommand::Start { target } => act(&target, "start", true).await,
            NodeCommand::Stop { target, yes } => act(&target, "stop", yes).await,
            NodeCommand::Restart { target, yes } => act(&target, "restart", yes).await,
            NodeCommand::Detect { target, json } => {
                let (client, path) = open(&target, "detect")?;
                let value = client.get_value(&path, &[]).await?;
                let found: Detection = typed(value.clone(), &path)?;
                show::<Detection>(value, &path, json, output::node_detection)?;
                Ok(exit_if(!found.mismatches.is_empty()))
            }
            NodeCommand::Disk { target, json } => {
                let (client, path) = open(&target, "disk")?;
                let value = client.get_value(&path, &[]).await?;
                show::<DiskUsage>(value, &path, json, output::node_disk)
            }
            NodeCommand::ErrorLog {
                target,
                lines,
                follow,
            } => error_log(&target, lines, follow).await,
            NodeCommand::Snapshots { command } => command.run().await,
            NodeCommand::Replicas { target, json } => {
                let (client, path) = open(&target, "replicas")?;
                let value = client.get_value(&path, &[]).await?;
                let missing = value["not_configured"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty());
                if json {
                    output::json(&value)?;
                } else {
                    output::node_replicas(&value);
                }
                Ok(exit_if(missing))
            }
        }
    }
}

fn exit_if(failed: bool) -> ExitCode {
    if failed {
        ExitCode::from(exit::FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// The client, and the manager's path of `rest` on the target's agent.
fn open(target: &Target, rest: &str) -> anyhow::Result<(Client, String)> {
    let client = Client::new(&target.api)?;
    let cluster = client.cluster(target.cluster.as_deref())?;
    let path = format!(
        "/api/v1/clusters/{}/servers/{}/node/{rest}",
        segment(&cluster),
        segment(&target.server)
    );
    Ok((client, path))
}

fn show<T: serde::de::DeserializeOwned>(
    value: Value,
    path: &str,
    json: bool,
    print: impl FnOnce(&T),
) -> anyhow::Result<ExitCode> {
    if json {
        output::json(&value)?;
    } else {
        print(&typed::<T>(value, path)?);
    }
    Ok(ExitCode::SUCCESS)
}

async fn act(target: &Target, action: &str, yes: bool) -> anyhow::Result<ExitCode> {
    if action != "start" && !yes {
        return Err(exit::error(
            exit::USAGE,
            format!(
                "`{action}` interrupts `{}`: add --yes to run it",
                target.server
            ),
        ));
    }
    let (client, path) = open(target, &format!("mysqld/{action}"))?;
    let answer = client.post_value(&path, &json!({ "confirm": yes })).await?;
    output::line(answer["result"].as_str().unwrap_or("done"));
    Ok(ExitCode::SUCCESS)
}

/// The last `lines`, then (with `follow`) each following answer from where the last ended.
async fn error_log(target: &Target, lines: usize, follow: bool) -> anyhow::Result<ExitCode> {
    if lines > MAX_TAIL_LINES {
        return Err(exit::error(
            exit::USAGE,
            format!("--lines is at most {MAX_TAIL_LINES}: collect the whole log with `ferryman task error-log`"),
        ));
    }
    let (client, path) = open(target, "error-log")?;
    let mut query = format!("lines={lines}");
    let mut out = output::log_text();
    loop {
        let mut response = client.get_raw(&format!("{path}?{query}")).await?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let file = header(LOG_FILE_HEADER).unwrap_or_default();
        let mut offset: u64 = header(LOG_OFFSET_HEADER)
            .and_then(|o| o.parse().ok())
            .unwrap_or_default();
        let cut = "the error log's answer was cut short: run the command again";
        while let Some(chunk) = response.chunk().await.context(cut)? {
            out.write_all(&chunk).context("write the log")?;
            out.flush().context("write the log")?;
            offset += chunk.len() as u64;
        }
        if !follow {
            return Ok(ExitCode::SUCCESS);
        }
        query = format!("from={offset}&file={}&follow=true", segment(&file));
    }
}
