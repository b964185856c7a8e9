//! A flashback to a point in time (or a GTID): the copy is made on the manager, then
//! streamed to the replica as a physical backup.
//!
//! # Sequence
//! 1. Planned before any row is written ([`plan`]): the newest backup before the point whose
//!    archived binlog reaches it without a gap, and the segments to replay; a point outside
//!    every recoverable window is refused with the windows there are.
//! 2. Built once the jobs exist ([`build`]): the backup restored on a throwaway server under
//!    `[verifier] work-dir`, the segments replayed to the point, exactly as `ferryman restore`
//!    does; the position reached becomes the rows' GTID.
//! 3. Streamed: `mariabackup --backup --stream=xbstream` of that server, passed to the joiners
//!    as it comes; the end marker goes out only once the tool exited 0 with `completed OK!`
//!    (the manager hashes the stream as it passes, as for a live dump).
//! 4. The joiner restores it like any physical backup and stops there: its row says `hold`
//!    (read-only, replication pointed at the primary from the point but not started), so a
//!    replica rewound to before a `DROP TABLE` does not replay the `DROP`.
//!
//! # Safety
//! Nothing is written on the replica before the copy is whole (steps 1 and 2 fail alone);
//! the throwaway server is removed when the stream ends or is abandoned, whatever happened.

use bytes::Bytes;
use ferryman_config::ClusterConfig;
use ferryman_repo::pitr::{self, Point};
use ferryman_repo::{Manifest, Repository};
use ferryman_verify::restore::{self, Request};
use ferryman_verify::throwaway::{BackupStream, ThrowawayOptions};
use tokio::sync::mpsc;
use tracing::Instrument;

use super::payload::{forward, Check, Forwarded, Payload, CHUNKS};
use crate::registry::JobHandle;
use crate::{Error, Result, Services};

/// What a flashback to a point restores and replays.
#[derive(Debug, Clone)]
pub(super) struct PointPlan {
    /// The plan from the first repository's catalogue.
    pub plan: pitr::Plan,
    /// The cluster's repositories, in the order segments are read from.
    pub repos: Vec<(String, Repository)>,
}

impl PointPlan {
    /// The backup restored first.
    pub fn backup(&self) -> &Manifest {
        &self.plan.backup
    }
}

/// Step 1: the plan to `point`, or the reason there is none.
pub(super) async fn plan(
    services: &Services,
    cluster: &ClusterConfig,
    point: &Point,
) -> Result<PointPlan> {
    if !cluster.binlog_archive.enabled {
        tracing::warn!(cluster = %cluster.name, "flashback to a point with binlog-archive off: only what was archived before can be replayed");
    }
    let backups = services.repos.list(Some(&cluster.name), None).await?;
    let segments = services
        .repo(&cluster.name)?
        .list_segments(&cluster.name)
        .await?;
    // The refusal says what there is and where to look.
    let plan = pitr::plan(&backups, &segments, point).map_err(|e| Error::Refused(e.to_string()))?;
    let mut repos = Vec::new();
    for name in &cluster.backup_repositories {
        repos.push((name.clone(), services.repos.named(name)?.clone()));
    }
    Ok(PointPlan { plan, repos })
}

/// Step 2 and the start of step 3: the copy rolled forward on the manager, and the payload
/// that streams it. Returns the GTID position the copy holds data up to.
pub(super) async fn build(
    services: &Services,
    plan: &PointPlan,
    jobs: &[JobHandle],
) -> Result<(String, Payload)> {
    let backup = plan.backup();
    let phase = |text: String| {
        for job in jobs {
            job.phase(text.clone());
        }
    };
    phase(format!(
        "restoring backup {} on the manager and replaying {} binlog segment(s) to {}",
        backup.id,
        plan.plan.segments.len(),
        plan.plan.point
    ));
    let (backup_repo, note) = services.repos.source_for(backup).await?;
    if let Some(note) = note {
        tracing::info!("flashback: {note}");
    }
    let v = &services.config.verifier;
    let rolled = restore::roll_forward(Request {
        backup,
        backup_repo,
        segments: &plan.plan.segments,
        segment_repos: &plan.repos,
        point: Some(plan.plan.point.clone()),
        options: ThrowawayOptions {
            work_dir: v.work_dir.clone(),
            buffer_pool_mib: v.buffer_pool_mib,
            start_timeout: v.start_timeout,
        },
    })
    .await
    .map_err(|e| {
        Error::Refused(format!(
            "the copy at {} could not be made on the manager: {e}; nothing was touched on the replica",
            plan.plan.point
        ))
    })?;
    for note in &rolled.notes {
        tracing::warn!("flashback: {note}");
    }
    let replay: f64 = rolled.steps.iter().map(|(_, s)| s).sum();
    tracing::info!(backup = %rolled.backup, from = %rolled.from, reached = %rolled.reached, segments = rolled.segments.len(), seconds = replay, "copy rolled forward for a flashback");
    phase(format!(
        "copy of backup {} rolled forward to GTID {} in {replay:.0} s; streaming it",
        rolled.backup, rolled.reached
    ));
    let stream = rolled.server.backup_stream().await.map_err(|e| {
        Error::Refused(format!(
            "the copy at {} could not be streamed: {e}; nothing was touched on the replica",
            plan.plan.point
        ))
    })?;
    Ok((rolled.reached, copy_payload(stream, &plan.plan.point)))
}

/// The copy's stream as a payload: an error instead of the end when the tool did not
/// complete; the throwaway server removed at the end, or when the joiners are gone.
fn copy_payload(mut stream: BackupStream, point: &Point) -> Payload {
    let (tx, chunks) = mpsc::channel::<std::io::Result<Bytes>>(CHUNKS);
    let stdout = stream.take_stdout();
    let producer = tokio::spawn(
        async move {
            let Some(mut stdout) = stdout else {
                let _ = tx
                    .send(Err(std::io::Error::other(
                        "mariabackup's stdout was not captured",
                    )))
                    .await;
                stream.abandon().await;
                return;
            };
            if forward(&mut stdout, &tx).await != Forwarded::End {
                // A read failed (passed on), or every joiner is gone.
                stream.abandon().await;
                return;
            }
            drop(stdout);
            if let Err(e) = stream.finish().await {
                let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
            }
        }
        // Awaited by `send`, which the reseed's tracked task runs.
        .instrument(tracing::Span::current()),
    );
    Payload {
        chunks,
        producer,
        expected: None,
        check: Check::Copy {
            point: point.to_string(),
        },
    }
}
