//! `ferryman reseed` and `ferryman flashback`: rebuilding replicas through the manager's API.

use std::process::ExitCode;

use clap::{ArgGroup, Args, ValueEnum};
use serde_json::json;

use super::backup::segment;
use crate::client::{ApiArgs, Client};
use crate::output;

/// How to rebuild.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Method {
    /// The cluster's newest physical backup (or the one given with --backup).
    Physicalbackup,
    /// The cluster's newest mysqldump backup (or the one given with --backup), imported into
    /// a private server next to the replica's datadir, then swapped in.
    Logicalbackup,
    /// A consistent mysqldump of the current primary, taken now and piped through the manager
    /// to every joiner (stored nowhere), imported like `logicalbackup`.
    Logicalmaster,
    /// A consistent file-system snapshot of a replica with `snapshot-method`, taken now, its
    /// datadir piped through the manager to every joiner, recovered there on a private server.
    Snapshot,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Physicalbackup => "physicalbackup",
            Method::Logicalbackup => "logicalbackup",
            Method::Logicalmaster => "logicalmaster",
            Method::Snapshot => "snapshot",
        }
    }
}

/// Rebuild replicas: the joiner's agent receives the payload, restores it keeping the old data
/// until the new one replicates, and points replication at the current primary. The primary is
/// never touched.
#[derive(Debug, Args)]
pub struct ReseedArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// The cluster (may be left out when the configuration has one).
    #[arg(long)]
    cluster: Option<String>,
    /// A replica to rebuild; repeat for several (one read of the source serves them all).
    #[arg(long = "server", required = true)]
    servers: Vec<String>,
    /// Where the data comes from.
    #[arg(long, value_enum, default_value = "physicalbackup")]
    method: Method,
    /// The backup to restore (CLUSTER/SERVER/NAME, see `ferryman backup list`); default: the
    /// newest of the method's kind whose newest verification passed (the newest never
    /// verified one when none did; never one that failed).
    #[arg(long)]
    backup: Option<String>,
    /// Restore the backup given with --backup even though its newest verification failed.
    #[arg(long, requires = "backup")]
    force: bool,
    /// Wait for every job to end, showing progress; exit 1 if one fails.
    #[arg(long)]
    wait: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Rewind a replica to a chosen earlier backup of its cluster (its own or another server's),
/// or to a point in time through the archived binlog.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("to").required(true).args(["backup", "to_time", "to_gtid"])))]
pub struct FlashbackArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// The cluster (may be left out when the configuration has one).
    #[arg(long)]
    cluster: Option<String>,
    /// The replica to rewind.
    #[arg(long)]
    server: String,
    /// The backup (CLUSTER/SERVER/NAME, see `ferryman backup list`); the replica replicates
    /// again afterwards.
    #[arg(long)]
    backup: Option<String>,
    /// Rewind to this time (UTC, `2026-12-04T14:02:59Z` or `2026-12-04 14:02:59`): the last
    /// transaction written at or before it. The copy is made on the manager (newest backup
    /// before the time, archived binlog replayed); the replica then stays at that point,
    /// read-only, its replication pointed at the primary but not started.
    #[arg(long, value_name = "TIME")]
    to_time: Option<String>,
    /// Rewind to this GTID position, inclusive (`0-1-5000`); held there like --to-time.
    #[arg(long, value_name = "GTID")]
    to_gtid: Option<String>,
    /// Restore it even though its newest verification failed.
    #[arg(long)]
    force: bool,
    /// Wait for the job to end, showing progress; exit 1 if it fails.
    #[arg(long)]
    wait: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

impl ReseedArgs {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let mut body = json!({ "servers": self.servers, "method": self.method.as_str() });
        if let Some(b) = &self.backup {
            body["backup"] = json!(b);
        }
        if self.force {
            body["force"] = json!(true);
        }
        let what = format!(
            "reseed ({}) of {}",
            self.method.as_str(),
            self.servers.join(", ")
        );
        start(
            &self.api,
            self.cluster.as_deref(),
            "reseed",
            &body,
            &what,
            self.wait,
            self.json,
        )
        .await
    }
}

impl FlashbackArgs {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let mut body = json!({ "server": self.server });
        let to = if let Some(backup) = &self.backup {
            body["backup"] = json!(backup);
            backup.clone()
        } else if let Some(time) = &self.to_time {
            let time = super::restore::parse_time(time)?;
            body["to_time"] = json!(time.to_string());
            time.to_string()
        } else {
            let gtid = self.to_gtid.clone().unwrap_or_default();
            body["to_gtid"] = json!(gtid);
            format!("GTID {gtid}")
        };
        if self.force {
            body["force"] = json!(true);
        }
        let what = format!("flashback of {} to {to}", self.server);
        start(
            &self.api,
            self.cluster.as_deref(),
            "flashback",
            &body,
            &what,
            self.wait,
            self.json,
        )
        .await
    }
}

async fn start(
    api: &ApiArgs,
    cluster: Option<&str>,
    route: &str,
    body: &serde_json::Value,
    what: &str,
    wait: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let client = Client::new(api)?;
    let cluster = client.cluster(cluster)?;
    let path = format!("/api/v1/clusters/{}/{route}", segment(&cluster));
    let started = client.post_value(&path, body).await?;
    let ids: Vec<u64> = started
        .get("job_ids")
        .and_then(serde_json::Value::as_array)
        .map(|a| a.iter().filter_map(serde_json::Value::as_u64).collect())
        .ok_or_else(|| {
            anyhow::anyhow!("the manager's answer to POST {path} has no job ids: are the manager and this ferryman the same version?")
        })?;
    if !json {
        let notes = started.get("notes").and_then(serde_json::Value::as_array);
        for note in notes
            .into_iter()
            .flatten()
            .filter_map(serde_json::Value::as_str)
        {
            output::note(note);
        }
    }
    match (wait, json) {
        (false, true) => output::json(&started)?,
        (_, false) => output::reseed_started(&ids, what, &api.config, wait),
        (true, true) => {}
    }
    if !wait {
        return Ok(ExitCode::SUCCESS);
    }
    super::follow::follow(&client, &ids, api, json).await
}
