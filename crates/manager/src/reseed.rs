//! Reseed and flashback from the manager's side: choose the payload, check the safety rails,
//! put one job row on each joiner, stream the payload to them, follow them to the end.
//!
//! The joiner's agent does the dangerous part (stop, swap the datadir, start, replicate) and
//! keeps its old data until the new one replicates. The manager's part is to never vouch for
//! a payload that is not the backup: the frames' end marker (`ferryman_proto::frames`) carries
//! the manifest's length and raw sha256, sent only when the stored payload decompressed whole
//! to that length, and the joiner restores nothing unless what it received hashes to it (one
//! hash, on the joiner, instead of one more per joiner on the manager). A `logicalmaster` dump
//! has no manifest: the manager hashes it once as it passes and sends the end marker only when
//! the primary's agent reported success. One read of the source serves every joiner of a
//! batch; a joiner that fails is dropped without stopping the others.
//!
//! Safety rails, checked before any row is written: the servers exist, none is the current
//! primary (read live, not from the monitor's cache), none is already being reseeded, the
//! backup exists, belongs to the cluster, is of the method's kind and carries a GTID position.
//!
//! # Layout
//! - `reseed.rs`: [`ReseedRequest`] and `start`: the rails checked, one manager job per
//!   joiner, the reseed spawned in its span.
//! - `reseed/rails.rs`: the safety rails: the live primary, busy joiners and their ports
//!   ([`Reseeds`]), the joiner task of a backup tool.
//! - `reseed/choice.rs`: which stored backup is restored, and whether a named one may be.
//! - `reseed/joiner.rs`: one joiner: its sealed row, the connection to its listener, following
//!   it to its end (`node_job.rs` watches the row).
//! - `reseed/payload.rs`: the payload's producer and what it is checked against.
//! - `reseed/fanout.rs`: one payload for every joiner; `logicalmaster`'s live dump.
//! - `reseed/point.rs`: a flashback to a point in time: the copy made on the manager.

mod choice;
mod fanout;
mod joiner;
mod payload;
mod point;
mod rails;

use std::sync::Arc;

use ferryman_config::ServerConfig;
use ferryman_db::topology;
pub use ferryman_proto::Method;
use ferryman_proto::{ReseedParams, Task};
use ferryman_repo::pitr::Point;
use ferryman_repo::BackupId;

use crate::{Error, Result, Services};
use fanout::Origin;
use payload::Live;
pub use rails::Reseeds;

/// `name` as a reseed method, or the error that lists the known ones.
pub fn method(name: &str) -> Result<Method> {
    name.parse().map_err(|_| Error::Unknown {
        what: "reseed method",
        name: name.to_owned(),
        known: "physicalbackup, logicalbackup, logicalmaster, snapshot".to_owned(),
    })
}

/// A reseed or flashback to start.
#[derive(Debug, Clone)]
pub struct ReseedRequest {
    /// The joiners (at least one).
    pub servers: Vec<String>,
    /// How.
    pub method: Method,
    /// The backup to restore; required for flashback, optional for `physicalbackup` (default:
    /// the newest physical backup of the cluster whose newest verification passed).
    pub backup: Option<BackupId>,
    /// Restore the named backup even though its newest verification failed.
    pub force: bool,
    /// A flashback to this point instead of to a backup: the newest backup before it, rolled
    /// forward on the manager through the archived binlog (`reseed/point.rs`).
    pub to: Option<Point>,
}

/// Starts a reseed (or flashback) of `request.servers` of `cluster`: one manager job per joiner,
/// returned at once with what the DBA should know about the backup chosen (never verified,
/// restored despite a failed verification); the payload is read once for all of them.
pub(crate) async fn start(
    services: &Arc<Services>,
    cluster: &str,
    request: ReseedRequest,
    trigger: &str,
) -> Result<(Vec<u64>, Vec<String>)> {
    let c = services.cluster(cluster)?;
    if request.servers.is_empty() {
        return Err(Error::Refused(
            "no server to reseed: name at least one".to_owned(),
        ));
    }
    let mut joiners = Vec::new();
    for name in &request.servers {
        let s = Services::server(c, name)?;
        if joiners.iter().any(|j: &&ServerConfig| j.name == s.name) {
            return Err(Error::Refused(format!("server `{name}` is named twice")));
        }
        joiners.push(s);
    }
    let flashback = request.method == Method::Flashback;
    let at_point = match &request.to {
        Some(_) if !flashback || request.backup.is_some() => {
            return Err(Error::Refused(
                "a point in time is for a flashback, instead of a backup: give one of them"
                    .to_owned(),
            ))
        }
        Some(to) => Some(point::plan(services, c, to).await?),
        None => None,
    };
    let manifest = match request.method {
        _ if at_point.is_some() => None,
        Method::Logicalmaster | Method::Snapshot => {
            if let Some(id) = &request.backup {
                return Err(Error::Refused(format!(
                    "`{}` takes its payload now (a dump of the primary, a replica's snapshot) \
                     and no backup (got {id}); use `logicalbackup` or `physicalbackup` with \
                     --backup",
                    request.method
                )));
            }
            None
        }
        _ => Some(choice::backup_for(&services.repos, c, &request).await?),
    };
    let (manifest, notes) = match manifest {
        Some((m, notes)) => (Some(m), notes),
        None => (None, Vec::new()),
    };
    for note in &notes {
        tracing::warn!(cluster = %c.name, "reseed: {note}");
    }
    let (task, gtid) = match &manifest {
        Some(m) => {
            let gtid = m.gtid.clone().filter(|g| !g.is_empty()).ok_or_else(|| {
                Error::Refused(format!(
                    "backup {} records no GTID position, so a replica restored from it \
                     could not resume replication; use another backup",
                    m.id
                ))
            })?;
            let task = rails::joiner_task(m.tool, flashback);
            (task, Some(gtid))
        }
        // The copy's GTID is known once it is rolled forward (`fanout.rs`).
        None if at_point.is_some() => (Task::Flashbackmariabackup, None),
        // The snapshot's GTID is read by the joiner from what the donor recorded with it.
        None if request.method == Method::Snapshot => (Task::Reseedsnapshot, None),
        // The dump's GTID is read by the joiner from the dump itself.
        None => (Task::Reseedmysqldump, None),
    };

    // The primary, read live: the safety rail must not trust a cache.
    let views = topology::read_cluster(c).await;
    let primary = rails::primary(c, &views)?;
    if let Some(j) = joiners.iter().find(|j| j.name == primary.name) {
        return Err(Error::Refused(format!(
            "`{}` is the primary of cluster `{}`: refusing to {} it (a primary is never \
             overwritten; switch over first if it must be rebuilt)",
            j.name,
            c.name,
            if flashback { "flash back" } else { "reseed" }
        )));
    }
    let donor = match request.method {
        Method::Snapshot => Some(choice::snapshot_donor(c, &views, primary, &joiners)?),
        _ => None,
    };
    let keys: Vec<String> = joiners
        .iter()
        .map(|j| format!("{}/{}", c.name, j.name))
        .collect();
    services.reseeds.take_all(&keys).map_err(|k| {
        Error::Refused(format!(
            "{k} is already being reseeded; wait for that job to end (`ferryman jobs list`)"
        ))
    })?;

    let params = ReseedParams {
        method: request.method,
        backup_id: manifest
            .as_ref()
            .or(at_point.as_ref().map(|p| p.backup()))
            .map(|m| m.id.to_string()),
        gtid,
        primary_host: primary.host.clone(),
        primary_port: primary.port,
        payload_bytes: manifest.as_ref().map(|m| m.raw_bytes),
        hold: at_point.is_some(),
        target: None,
        issued_at: None,
        seal: None,
    };
    let mut jobs = Vec::new();
    for j in &joiners {
        let job = services.registry.create(&c.name, &j.name, task, trigger);
        if let Some(m) = &manifest {
            let (id, size) = (m.id.to_string(), m.raw_bytes);
            job.update(|r| {
                r.backup_id = Some(id);
                r.bytes_total = Some(size);
            });
        }
        if let Some(p) = &at_point {
            let id = p.backup().id.to_string();
            job.update(|r| r.backup_id = Some(id));
        }
        jobs.push(((*j).clone(), job));
    }
    let ids: Vec<u64> = jobs.iter().map(|(_, j)| j.id()).collect();
    let source = match (manifest, at_point) {
        (Some(m), _) => Origin::Stored(Box::new(m)),
        (None, Some(p)) => Origin::Point(Box::new(p)),
        (None, None) => {
            let names: Vec<&str> = joiners.iter().map(|j| j.name.as_str()).collect();
            let (source, what) = match donor {
                Some(d) => (d, Live::Snapshot),
                None => (primary, Live::Dump),
            };
            let job = services.registry.create_donor(
                &c.name,
                &source.name,
                what.task(),
                &format!("{trigger} ({} of {})", request.method, names.join(", ")),
            );
            Origin::Live {
                server: Box::new(source.clone()),
                job,
                what,
            }
        }
    };
    let this = Arc::clone(services);
    let cluster = c.clone();
    let span = tracing::info_span!(
        "reseed",
        cluster = %cluster.name,
        method = %request.method,
        job_ids = ?ids
    );
    services.spawn(span, async move {
        fanout::run(&this, &cluster, task, &params, source, &jobs).await;
        for (server, _) in &jobs {
            this.reseeds
                .release(&format!("{}/{}", cluster.name, server.name));
        }
    });
    Ok((ids, notes))
}
