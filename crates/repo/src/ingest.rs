//! Receiving one backup into the repository: the payload streamed through the
//! [`crate::pipeline`], then `manifest.json` written last through the durable put.
//!
//! On any failure (stream broken or cut, corrupt xbstream, dump without its footer, disk full,
//! cancellation) the backup's directory is removed before the error is returned: a backup is
//! either whole and catalogued or absent. If the manager dies mid-ingest, the directory it
//! leaves has no manifest: [`Repository::clean_incomplete`] removes it at the next start when
//! its payload still has its temporary name, and quarantines it otherwise (`leftovers.rs`).

use std::collections::BTreeMap;

use tokio::io::AsyncRead;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::inspect;
use crate::layout::BackupId;
use crate::manifest::{CompressionInfo, Coordinates, CoordinatesSource, Manifest};
use crate::pipeline::{self, Compression, Wire};
use crate::repository::Repository;
use crate::timestamp::Timestamp;
use crate::{Error, Result, Tool};

/// The manifest's `extra` entry that says how much of a payload the node compressed (a
/// backup received in blocks): "N of M raw bytes".
pub const NODE_COMPRESSED: &str = "compressed_on_node";

/// What the caller knows about a backup it is about to stream in.
#[derive(Debug, Clone)]
pub struct BackupMeta {
    /// The cluster.
    pub cluster: String,
    /// The server's configured name.
    pub server: String,
    /// The server's address, as recorded in the manifest.
    pub host: String,
    /// The tool; it fixes the kind (physical, logical) and the stream's format.
    pub tool: Tool,
    /// The job's id (in the server's jobs table).
    pub job_id: u64,
    /// When the job started; with the job id, it names the backup.
    pub started_at: Timestamp,
    /// zstd settings.
    pub compression: Compression,
    /// How the payload arrives: raw, or in blocks compressed on the node.
    pub wire: Wire,
    /// Coordinates the agent reported, used for those the stream does not carry.
    pub coordinates: Coordinates,
    /// The tool's version as the agent reported it, used when the stream does not say.
    pub tool_version: Option<String>,
    /// Anything else to record in the manifest (e.g. the agent's result line).
    pub extra: BTreeMap<String, String>,
    /// When the backup must record a GTID position (its server has a GTID history), that
    /// history (for the error): a backup without one is refused and nothing is kept.
    pub require_gtid: Option<String>,
}

impl BackupMeta {
    /// Meta for `tool`'s backup of `cluster`/`server` (at `host`) by job `job_id`, started now,
    /// with default compression and nothing else known.
    pub fn new(cluster: &str, server: &str, host: &str, tool: Tool, job_id: u64) -> BackupMeta {
        BackupMeta {
            cluster: cluster.to_owned(),
            server: server.to_owned(),
            host: host.to_owned(),
            tool,
            job_id,
            started_at: Timestamp::now(),
            compression: Compression::default(),
            wire: Wire::Plain,
            coordinates: Coordinates::default(),
            tool_version: None,
            extra: BTreeMap::new(),
            require_gtid: None,
        }
    }

    /// The id the backup will have.
    pub fn id(&self) -> Result<BackupId> {
        BackupId::new(&self.cluster, &self.server, self.started_at, self.job_id)
    }
}

/// Streams `reader` into a new backup and returns its manifest. See the module documentation
/// for what happens on failure.
pub async fn ingest<R: AsyncRead + Unpin + Send>(
    repo: &Repository,
    meta: BackupMeta,
    reader: R,
    cancel: &CancellationToken,
) -> Result<Manifest> {
    let id = meta.id()?;
    meta.compression.check()?;
    let subject = format!("backup {id} ({} from {})", meta.tool.as_str(), meta.host);
    let dir = id.dir();
    // Registered before the directory exists, so clean_incomplete never takes it for a
    // leftover; released when this function returns, after the clean-up.
    let _in_flight = repo.begin_write(&dir).ok_or_else(|| Error::AlreadyExists {
        what: format!("backup {id} (being received)"),
        root: repo.location(),
    })?;
    let storage = repo.storage();
    if storage.get(&id.manifest_key()).await?.is_some() {
        return Err(Error::AlreadyExists {
            what: format!("backup {id}"),
            root: repo.location(),
        });
    }
    // A directory without a manifest is a crashed attempt at this very backup: start afresh.
    storage.delete_prefix(&dir).await?;

    let result = receive(repo, &meta, &id, reader, cancel, &subject).await;
    match result {
        Ok(manifest) => {
            info!(
                backup = %id,
                raw_bytes = manifest.raw_bytes,
                stored_bytes = manifest.stored_bytes,
                gtid = manifest.gtid.as_deref().unwrap_or(""),
                "backup stored"
            );
            Ok(manifest)
        }
        Err(e) => {
            if let Err(cleanup) = storage.delete_prefix(&dir).await {
                // clean_incomplete deals with it at the next start; the ingest error matters more.
                warn!(backup = %id, error = %cleanup, "cannot remove the failed backup's directory");
            }
            Err(e)
        }
    }
}

/// The payload, then the manifest.
async fn receive<R: AsyncRead + Unpin + Send>(
    repo: &Repository,
    meta: &BackupMeta,
    id: &BackupId,
    reader: R,
    cancel: &CancellationToken,
    subject: &str,
) -> Result<Manifest> {
    let format = meta.tool.format();
    let encryption = repo.keys().map(|k| k.encryption());
    let payload = format.payload_name_for(encryption.is_some());
    let stored = pipeline::store(
        repo.storage(),
        &id.dir().join(&payload)?,
        meta.compression,
        repo.shared_keys(),
        inspect::for_format(format),
        meta.wire,
        reader,
        cancel,
        subject,
    )
    .await?;
    let found = stored.findings;
    // The stream's own coordinates are the backup's truth; the agent's fill the gaps.
    let from_stream = !found.coordinates.is_empty();
    let coordinates = if from_stream {
        found.coordinates
    } else {
        meta.coordinates.clone()
    };
    let has_gtid = coordinates
        .gtid
        .as_deref()
        .is_some_and(|g| !g.trim().is_empty());
    if let (Some(server_gtid), false) = (&meta.require_gtid, has_gtid) {
        return Err(Error::NoGtid {
            subject: subject.to_owned(),
            server_gtid: server_gtid.clone(),
        });
    }
    let coordinates_source = if from_stream {
        Some(CoordinatesSource::Stream)
    } else if !coordinates.is_empty() {
        Some(CoordinatesSource::Agent)
    } else {
        None
    };
    let mut extra = meta.extra.clone();
    if meta.wire == Wire::Blocks {
        // Where the stored frames were made: how much of the work the node took.
        extra.insert(
            NODE_COMPRESSED.to_owned(),
            format!(
                "{} of {} raw bytes",
                stored.node_compressed, stored.raw_bytes
            ),
        );
    }
    let mut manifest = Manifest {
        format_version: Manifest::format_version_for(encryption.as_ref()),
        id: id.clone(),
        cluster: meta.cluster.clone(),
        server: meta.server.clone(),
        host: meta.host.clone(),
        kind: meta.tool.kind(),
        tool: meta.tool,
        tool_version: found.tool_version.or_else(|| meta.tool_version.clone()),
        server_version: found.server_version,
        format,
        payload,
        job_id: meta.job_id,
        started_at: meta.started_at,
        ended_at: Timestamp::now(),
        raw_bytes: stored.raw_bytes,
        stored_bytes: stored.stored_bytes,
        raw_sha256: stored.raw_sha256,
        stored_sha256: stored.stored_sha256,
        compression: CompressionInfo {
            algorithm: "zstd".to_owned(),
            level: meta.compression.level,
        },
        encryption,
        gtid: coordinates.gtid,
        binlog_file: coordinates.binlog_file,
        binlog_pos: coordinates.binlog_pos,
        coordinates_source,
        captured: found.captured,
        databases: found.databases,
        table_rows: found.table_rows,
        verification: Vec::new(),
        signature: None,
        extra,
    };
    repo.put_manifest(&mut manifest)
        .await
        .map_err(|e| e.about(subject))?;
    Ok(manifest)
}
