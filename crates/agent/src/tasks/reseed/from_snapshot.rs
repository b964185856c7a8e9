//! `reseedsnapshot`: the joiner of a reseed from a donor's snapshot. The payload is a tar of
//! the donor's datadir as its consistent snapshot holds it, with what the donor recorded
//! ([`SnapshotMeta`]: the GTID position) as its first member.
//!
//! # Sequence (between the reseed's steps 2 and 5, see `reseed.rs`)
//! 1. (`receiving …`) `tar -x` into the staging directory, the trailer (length, sha256)
//!    checked; the recorded metadata read and removed from the tree.
//! 2. (`preparing`) A private server (`import.rs`) starts on the copy with the donor's binlog
//!    basename, so that its crash recovery resolves transactions prepared when commits were
//!    blocked as the donor would; then it shuts down cleanly.
//! 3. The donor's replication state and binlogs are removed (relay logs, `master.info`,
//!    `relay-log.info`, `multi-master.info`, the binlog files and index): the joiner starts
//!    its own, and is pointed at the primary from the recorded GTID in step 6.
//!
//! Nothing on the server changes before the swap: a failure costs the staging directory only.

use std::path::{Path, PathBuf};

use ferryman_exec::Program;
use ferryman_proto::node_api::{SnapshotMeta, SNAPSHOT_META_FILE};

use super::import::{ImportServer, Tools};
use super::{files, preflight, receive, swap, Plan, TaskCtx};
use crate::progress;
use crate::{Error, Result};

/// Runs a `reseedsnapshot` job (see the module's documentation).
pub(super) async fn run(ctx: &TaskCtx<'_>, mut plan: Plan) -> Result<String> {
    // The tools before anything else: a missing one must not cost a transfer.
    let tar = Program::find("tar", "tar")?;
    let tools = Tools::find()?;
    let before = preflight::check(ctx, &plan).await?;
    let untouched = |plan: &Plan, stage, cause| plan.error(ctx, stage, cause, before.untouched());

    let (payload, peer) = receive::accept(ctx, &plan)
        .await
        .map_err(|e| untouched(&plan, "waiting for the snapshot stream", e))?;
    tracing::info!(job_id = plan.job_id, %peer, "reseed stream accepted");
    let staging = receive::create_staging(&plan)
        .await
        .map_err(|e| untouched(&plan, "creating the staging directory", e))?;
    let ready = async {
        let received = receive::extract(ctx, &plan, &tar, payload, &staging)
            .await
            .map_err(|e| ("receiving the snapshot", e))?;
        let meta = take_meta(&ctx.server.name, &staging)
            .map_err(|e| ("reading what the snapshot recorded", e))?;
        let gtid = if meta.gtid_binlog_pos.is_empty() {
            meta.gtid_current_pos.clone()
        } else {
            meta.gtid_binlog_pos.clone()
        };
        take_recorded_gtid(&mut plan, &ctx.server.name, &gtid)
            .map_err(|e| ("reading the snapshot's GTID position", e))?;
        let recovered = recover(ctx, &plan, &tools, &staging, &meta)
            .await
            .map_err(|e| ("recovering the snapshot on a private server", e))?;
        files::give_datadir_owner(&plan, &staging)
            .await
            .map_err(|e| ("giving the restored files the datadir's owner", e))?;
        Ok((received, recovered, meta))
    }
    .await;
    let (received, recovered, meta) = match ready {
        Ok(r) => r,
        Err((stage, cause)) => {
            files::remove_quietly(&staging).await;
            return Err(untouched(&plan, stage, cause));
        }
    };
    let restored = format!(
        "snapshot {} of {} ({} received in {}), recovered in {}",
        meta.name,
        meta.server,
        progress::bytes(received.bytes),
        progress::seconds(received.took),
        progress::seconds(recovered),
    );
    swap::swap_and_catch_up(ctx, &plan, &before, &staging, &restored).await
}

/// A snapshot's recorded GTID as the position the joiner replicates from.
fn take_recorded_gtid(plan: &mut Plan, server: &str, gtid: &str) -> Result<()> {
    let gtid = gtid.trim();
    if gtid.is_empty() || !super::valid_gtid_list(gtid) {
        return Err(Error::Unsuitable {
            server: server.to_owned(),
            problem: format!("the snapshot records `{gtid}`, which is no GTID position (was the donor's binary log or GTID replication off?)"),
            next_step: "reseed from a backup with `physicalbackup`".to_owned(),
        });
    }
    plan.gtid = gtid.to_owned();
    Ok(())
}

/// The metadata the tar carries, read and removed from the tree.
fn take_meta(server: &str, staging: &Path) -> Result<SnapshotMeta> {
    let path = staging.join(SNAPSHOT_META_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
        action: "read",
        path: path.clone(),
        source,
    })?;
    let meta: SnapshotMeta = serde_json::from_str(&text).map_err(|e| Error::Unsuitable {
        server: server.to_owned(),
        problem: format!("the snapshot's {SNAPSHOT_META_FILE} is not what this agent reads ({e})"),
        next_step: "run the same Ferryman version on the donor and the joiner".to_owned(),
    })?;
    std::fs::remove_file(&path).map_err(|source| Error::Io {
        action: "remove",
        path,
        source,
    })?;
    Ok(meta)
}

/// Crash recovery on a private server (with the donor's binlog when the copy has it), a clean
/// shutdown, then the donor's replication state and binlogs removed.
async fn recover(
    ctx: &TaskCtx<'_>,
    plan: &Plan,
    tools: &Tools,
    staging: &Path,
    meta: &SnapshotMeta,
) -> Result<std::time::Duration> {
    let started = std::time::Instant::now();
    let log_bin = binlog_in_copy(staging, meta);
    ctx.progress
        .set_phase("preparing: recovering the snapshot on a private server");
    let server = ImportServer::recover(ctx, plan, tools, staging, log_bin.clone()).await?;
    server.stop(ctx).await?;
    remove_replication_state(staging, log_bin.as_deref())?;
    Ok(started.elapsed())
}

/// The donor's binlog basename within the copy, when its binlogs are in the datadir.
fn binlog_in_copy(staging: &Path, meta: &SnapshotMeta) -> Option<PathBuf> {
    let basename = PathBuf::from(meta.log_bin_basename.as_deref()?);
    let within = basename.strip_prefix(&meta.datadir).ok()?;
    let copy = staging.join(within);
    let index = copy.with_extension("index");
    index.exists().then_some(copy)
}

/// Removes the donor's binlogs (`basename.NNNNNN`, `.index`, `.state`), relay logs and
/// replication info files from the copy's top directory.
fn remove_replication_state(staging: &Path, log_bin: Option<&Path>) -> Result<()> {
    let binlog_prefix = log_bin
        .and_then(Path::file_name)
        .map(|n| format!("{}.", n.to_string_lossy()));
    let entries = std::fs::read_dir(staging).map_err(|source| Error::Io {
        action: "list",
        path: staging.to_owned(),
        source,
    })?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let replication = name.contains("-relay-bin.")
            || matches!(
                name.as_str(),
                "master.info" | "relay-log.info" | "multi-master.info"
            )
            || binlog_prefix
                .as_deref()
                .is_some_and(|p| name.starts_with(p));
        if replication && entry.path().is_file() {
            std::fs::remove_file(entry.path()).map_err(|source| Error::Io {
                action: "remove",
                path: entry.path(),
                source,
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_donors_binlogs_and_replication_state_go_and_the_data_stays() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        for f in [
            "binlog.000001",
            "binlog.index",
            "binlog.state",
            "db2-relay-bin.000003",
            "db2-relay-bin.index",
            "master.info",
            "relay-log.info",
            "ibdata1",
            "binlogs_are_not_this.frm",
        ] {
            std::fs::write(d.join(f), b"x").expect("write");
        }
        std::fs::create_dir(d.join("shop")).expect("mkdir");
        let meta = SnapshotMeta {
            log_bin_basename: Some("/var/lib/mysql/binlog".to_owned()),
            datadir: "/var/lib/mysql/".to_owned(),
            ..Default::default()
        };
        let log_bin = binlog_in_copy(d, &meta);
        assert_eq!(log_bin.as_deref(), Some(d.join("binlog").as_path()));
        remove_replication_state(d, log_bin.as_deref()).expect("remove");
        let mut left: Vec<String> = std::fs::read_dir(d)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["binlogs_are_not_this.frm", "ibdata1", "shop"]);
    }
}
