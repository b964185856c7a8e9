//! `snapshot`: a consistent snapshot of the server's datadir volume (`snapshot-method`), then
//! `snapshot-keep` applied to Ferryman's snapshots of the server (a removal that fails is
//! said in the result; the new snapshot stands).
//!
//! `snapshotsend` (the donor of a reseed with method `snapshot`): a consistent snapshot taken
//! now, then a tar of its datadir streamed to the manager, what it recorded first
//! ([`SNAPSHOT_META_FILE`]); the snapshot stays (it counts towards `snapshot-keep`).

use ferryman_exec::Program;
use ferryman_proto::node_api::SNAPSHOT_META_FILE;
use ferryman_proto::StreamKind;

use super::TaskCtx;
use crate::snapshot::Snapshots;
use crate::{progress, Error, Result};

/// Runs a `snapshot` job.
pub(super) async fn run(ctx: &TaskCtx<'_>) -> Result<String> {
    let snapshots = Snapshots::of(ctx.server, ctx.work_dir)?;
    ctx.progress
        .set_phase("taking a consistent snapshot (commits blocked meanwhile)");
    let meta = snapshots.take(ctx.endpoint).await?;
    ctx.progress
        .set_phase("removing snapshots beyond snapshot-keep");
    let (removed, failed) = snapshots.prune().await?;
    let mut result = format!(
        "snapshot {} ({}) at GTID {} (binlog {}), commits blocked {} ms by {}",
        meta.name,
        meta.method,
        if meta.gtid_binlog_pos.is_empty() {
            &meta.gtid_current_pos
        } else {
            &meta.gtid_binlog_pos
        },
        match (&meta.binlog_file, meta.binlog_position) {
            (Some(f), Some(p)) => format!("{f}:{p}"),
            _ => "off".to_owned(),
        },
        meta.locked_ms,
        meta.lock
    );
    if !removed.is_empty() {
        result.push_str(&format!("; removed {}", removed.join(", ")));
    }
    if !failed.is_empty() {
        result.push_str(&format!("; could not remove: {}", failed.join("; ")));
    }
    Ok(result)
}

/// Runs a `snapshotsend` job.
pub(super) async fn send(ctx: &TaskCtx<'_>) -> Result<String> {
    let tar = Program::find("tar", "tar")?;
    // Where the stream goes is checked before anything is taken.
    ctx.receiver(StreamKind::Backup)?;
    let snapshots = Snapshots::of(ctx.server, ctx.work_dir)?;
    ctx.progress
        .set_phase("taking a consistent snapshot (commits blocked meanwhile)");
    let meta = snapshots.take(ctx.endpoint).await?;
    let root = snapshots.mount(&meta.name).await?;
    let datadir = root.join(&meta.datadir_in_snapshot);
    let recorded = ctx.scratch.join(SNAPSHOT_META_FILE);
    let text = serde_json::to_vec_pretty(&meta).map_err(|e| Error::Read {
        what: "the snapshot's metadata".to_owned(),
        source: std::io::Error::other(e),
    })?;
    std::fs::write(&recorded, text).map_err(|source| Error::Io {
        action: "write",
        path: recorded.clone(),
        source,
    })?;
    let started = std::time::Instant::now();
    let sent = async {
        let mut stream = ctx.connect(StreamKind::Backup).await?;
        ctx.progress.set_phase(format!(
            "sending snapshot {} as tar to {}",
            meta.name,
            stream.address()
        ));
        let args = [
            "-cf".as_ref(),
            "-".as_ref(),
            "-C".as_ref(),
            ctx.scratch.as_os_str(),
            SNAPSHOT_META_FILE.as_ref(),
            // A pid file belongs to the donor's process, a socket cannot be archived.
            "--exclude=*.pid".as_ref(),
            "-C".as_ref(),
            datadir.as_os_str(),
            ".".as_ref(),
        ];
        match super::logical::send_tar(ctx, &tar, &args, &mut stream).await {
            Ok(()) => Ok(stream.finish().await?),
            Err(e) => {
                stream.abort();
                Err(e)
            }
        }
    }
    .await;
    if let Err(e) = snapshots.unmount(&meta.name).await {
        tracing::warn!(snapshot = %meta.name, error = %e, "cannot unmount the snapshot sent");
    }
    let sent = sent?;
    let (removed, _) = snapshots.prune().await.unwrap_or_default();
    let mut result = format!(
        "snapshot {} at GTID {} (commits blocked {} ms) sent as tar: {} in {}",
        meta.name,
        meta.gtid_binlog_pos,
        meta.locked_ms,
        progress::bytes(sent.bytes),
        progress::seconds(started.elapsed())
    );
    if !removed.is_empty() {
        result.push_str(&format!("; removed {}", removed.join(", ")));
    }
    Ok(result)
}
