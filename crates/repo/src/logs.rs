//! The logs area: error and slow-query logs shipped by agents, stored compressed as
//! `<cluster>/<server>/<kind>-<UTC time>-j<job>.log.zst` (the same pipeline as backups, without
//! inspection; `.log.zst.age` in an encrypted repository), and rotated by count per (cluster,
//! server, kind).

use std::fmt;

use serde::Serialize;
use tokio::io::AsyncRead;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::crypt;
use crate::inspect::Accept;
use crate::layout::{check_cluster, check_server};
use crate::pipeline::{self, Compression};
use crate::repository::Repository;
use crate::storage::Key;
use crate::timestamp::Timestamp;
use crate::{Error, Result};

/// The stored file's suffix.
const SUFFIX: &str = ".log.zst";

/// Which log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogKind {
    /// The server's error log.
    Error,
    /// The slow-query log.
    Slow,
}

impl LogKind {
    /// `error` or `slow`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogKind::Error => "error",
            LogKind::Slow => "slow",
        }
    }

    fn parse(s: &str) -> Option<LogKind> {
        match s {
            "error" => Some(LogKind::Error),
            "slow" => Some(LogKind::Slow),
            _ => None,
        }
    }
}

impl fmt::Display for LogKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the caller knows about a log chunk it streams in.
#[derive(Debug, Clone)]
pub struct LogMeta {
    /// The cluster.
    pub cluster: String,
    /// The server's configured name.
    pub server: String,
    /// Which log.
    pub kind: LogKind,
    /// The job that sent it.
    pub job_id: u64,
    /// When it was received; names the file.
    pub received_at: Timestamp,
    /// zstd settings.
    pub compression: Compression,
}

/// A stored log file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogFile {
    /// Its key: `cluster/server/error-20261121T025800Z-j42.log.zst`.
    pub key: Key,
    /// Which log.
    pub kind: LogKind,
    /// When it was received.
    pub received_at: Timestamp,
    /// The job that sent it.
    pub job_id: u64,
    /// Size as received (0 when listed rather than just written).
    pub raw_bytes: u64,
    /// Size stored (0 when listed rather than just written).
    pub stored_bytes: u64,
    /// sha256 of the bytes received (empty when listed).
    pub raw_sha256: String,
}

/// True for a log file's name as [`Repository::ingest_log`] writes it.
pub(crate) fn is_log_name(name: &str) -> bool {
    parse_name(name).is_some()
}

/// `error-20261121T025800Z-j42.log.zst` → (kind, time, job).
fn parse_name(name: &str) -> Option<(LogKind, Timestamp, u64)> {
    let name = name.strip_suffix(crypt::SUFFIX).unwrap_or(name);
    let stem = name.strip_suffix(SUFFIX)?;
    let (kind, rest) = stem.split_once('-')?;
    let (stamp, job) = rest.split_once("-j")?;
    if job.is_empty() || !job.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((
        LogKind::parse(kind)?,
        Timestamp::parse_compact(stamp)?,
        job.parse().ok()?,
    ))
}

impl Repository {
    /// Where the logs of `cluster`/`server` are: `cluster/server`.
    pub fn log_dir(&self, cluster: &str, server: &str) -> Result<Key> {
        check_cluster(cluster)?;
        check_server(server)?;
        Key::new(cluster)?.join(server)
    }

    /// Streams a log chunk into `cluster/server/<kind>-<time>-j<job>.log.zst`, durably. On any
    /// failure nothing is left.
    pub async fn ingest_log<R: AsyncRead + Unpin + Send>(
        &self,
        meta: LogMeta,
        reader: R,
        cancel: &CancellationToken,
    ) -> Result<LogFile> {
        let dir = self.log_dir(&meta.cluster, &meta.server)?;
        let name = format!(
            "{}-{}-j{}{SUFFIX}{}",
            meta.kind,
            meta.received_at.compact(),
            meta.job_id,
            crypt::suffix(self.keys().is_some())
        );
        let key = dir.join(&name)?;
        let subject = format!("{} log {key} (job {})", meta.kind, meta.job_id);
        let _in_flight = self.begin_write(&key).ok_or_else(|| Error::AlreadyExists {
            what: format!("log {key} (being received)"),
            root: self.location(),
        })?;
        if self.storage().get(&key).await?.is_some() {
            return Err(Error::AlreadyExists {
                what: format!("log {key}"),
                root: self.location(),
            });
        }
        // The writer discards its partial object on any failure.
        let stored = pipeline::store(
            self.storage(),
            &key,
            meta.compression,
            self.shared_keys(),
            Box::new(Accept),
            pipeline::Wire::Plain,
            reader,
            cancel,
            &subject,
        )
        .await?;
        info!(log = %key, raw_bytes = stored.raw_bytes, "log stored");
        Ok(LogFile {
            key,
            kind: meta.kind,
            received_at: meta.received_at,
            job_id: meta.job_id,
            raw_bytes: stored.raw_bytes,
            stored_bytes: stored.stored_bytes,
            raw_sha256: stored.raw_sha256,
        })
    }

    /// A reader of the stored log `name` of `cluster`/`server` (as [`Repository::list_logs`]
    /// names it), decrypted and decompressed. Its reads block, like
    /// [`Repository::payload_reader`]'s: use it on a blocking thread.
    pub async fn log_reader(
        &self,
        cluster: &str,
        server: &str,
        name: &str,
    ) -> Result<Box<dyn std::io::Read + Send>> {
        let dir = self.log_dir(cluster, server)?;
        if !is_log_name(name) {
            return Err(Error::NotFound {
                what: format!("log `{name}` of {cluster}/{server} (not a log's name)"),
                root: self.location(),
            });
        }
        let key = dir.join(name)?;
        // `size`, not `get`: a log may be gigabytes, and is only ever streamed.
        if self.storage().size(&key).await?.is_none() {
            return Err(Error::NotFound {
                what: format!("log {key}"),
                root: self.location(),
            });
        }
        // A log is encrypted for the repository's recipients when it was written.
        let encryption = name.ends_with(crypt::SUFFIX).then(|| {
            self.keys()
                .map(|k| k.encryption())
                .unwrap_or_else(|| crypt::Encryption {
                    cipher: "age".to_owned(),
                    recipients: Vec::new(),
                })
        });
        self.plain_reader(&key, encryption).await
    }

    /// The stored logs of `cluster`/`server`, newest first.
    pub async fn list_logs(&self, cluster: &str, server: &str) -> Result<Vec<LogFile>> {
        let dir = self.log_dir(cluster, server)?;
        self.logs_in(&dir).await
    }

    async fn logs_in(&self, dir: &Key) -> Result<Vec<LogFile>> {
        let mut out = Vec::new();
        for entry in self.storage().list(Some(dir)).await? {
            if entry.is_dir {
                continue;
            }
            if let Some((kind, received_at, job_id)) = parse_name(&entry.name) {
                out.push(LogFile {
                    key: dir.join(&entry.name)?,
                    kind,
                    received_at,
                    job_id,
                    raw_bytes: 0,
                    stored_bytes: 0,
                    raw_sha256: String::new(),
                });
            }
        }
        out.sort_by_key(|l| std::cmp::Reverse((l.received_at, l.job_id)));
        Ok(out)
    }

    /// Keeps the newest `keep` logs of each (cluster, server, kind) and deletes the others.
    /// Returns the deleted keys.
    pub async fn rotate_logs(&self, keep: usize) -> Result<Vec<Key>> {
        let mut deleted = Vec::new();
        for (_, _, dir) in self.log_dirs().await? {
            let logs = self.logs_in(&dir).await?;
            for kind in [LogKind::Error, LogKind::Slow] {
                for old in logs.iter().filter(|l| l.kind == kind).skip(keep) {
                    self.storage().delete(&old.key).await?;
                    deleted.push(old.key.clone());
                }
            }
        }
        if !deleted.is_empty() {
            info!(deleted = deleted.len(), keep, "logs rotated");
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_names_parse() {
        let (kind, t, job) = parse_name("slow-20261121T025800Z-j42.log.zst").unwrap();
        assert_eq!(
            (kind, t.compact().as_str(), job),
            (LogKind::Slow, "20261121T025800Z", 42)
        );
        for bad in [
            "slow-20261121T025800Z-j42.log",
            "slow-20261121T025800Z-j.log.zst",
            "query-20261121T025800Z-j42.log.zst",
            "error-20261121T025800Z-j42.log.zst.partial",
        ] {
            assert!(parse_name(bad).is_none(), "{bad}");
        }
    }
}
