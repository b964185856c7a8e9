//! [`Repository`]: the catalogue (listing, reading, deleting backups, appending verification
//! results) and the bookkeeping of writes in progress.
//!
//! The catalogue is the manifests and nothing else (like restic or pgBackRest): a directory
//! under `Backups/` is a backup exactly when it holds `manifest.json`, so there is no index to
//! drift out of date, and copying the tree copies the catalogue.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ferryman_config::{RepositoryConfig, RepositoryKind};
use tokio::io::AsyncRead;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::crypt::Keys;
use crate::ingest::{self, BackupMeta};
use crate::layout::{self, backups_dir, BackupId, BACKUPS};
use crate::manifest::Manifest;
use crate::modes;
use crate::signing::Signatures;
use crate::storage::local::LocalStorage;
use crate::storage::restic::ResticStorage;
use crate::storage::s3::S3Storage;
use crate::storage::{Key, Storage};
use crate::verification::Verification;
use crate::{Error, Result};

/// A backup repository on some [`Storage`].
#[derive(Debug, Clone)]
pub struct Repository {
    storage: Arc<dyn Storage>,
    /// The keys of an encrypted repository: what it stores is encrypted for them.
    keys: Option<Arc<Keys>>,
    /// Manifest signatures: made with the signer when there is one, checked on every read
    /// when this is set (see [`crate::signing`]).
    signatures: Option<Arc<Signatures>>,
    /// Directories and objects being written by this process (never "incomplete leftovers").
    in_flight: Arc<Mutex<HashSet<Key>>>,
    /// Serialises manifest rewrites (appending verification results), so none is lost.
    manifest_lock: Arc<tokio::sync::Mutex<()>>,
    /// One prune at a time (see [`crate::retention`]).
    pub(crate) prune_lock: Arc<tokio::sync::Mutex<()>>,
}

/// Marks a key as being written for as long as it lives.
#[derive(Debug)]
pub(crate) struct InFlight {
    set: Arc<Mutex<HashSet<Key>>>,
    key: Key,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // A poisoned lock only means another thread panicked while holding it; the set itself
        // is still consistent (inserts and removes are single operations).
        let mut set = self.set.lock().unwrap_or_else(|p| p.into_inner());
        set.remove(&self.key);
    }
}

impl Repository {
    /// The repository in the local directory `root` (created 0700 if missing). What it owns
    /// is tightened to 0600 files and 0700 directories if an older version left it readable
    /// by others (see [`crate::modes`]).
    pub fn open(root: impl Into<PathBuf>) -> Result<Repository> {
        let storage = LocalStorage::open(root)?;
        modes::tighten_repository(storage.root());
        Ok(Repository::with_storage(Arc::new(storage)))
    }

    /// The repository a `[repositories.NAME]` table describes. No request is made yet: see
    /// [`Repository::probe`].
    pub fn from_config(config: &RepositoryConfig) -> Result<Repository> {
        let repo = match &config.kind {
            RepositoryKind::Local { path } => Repository::open(path)?,
            RepositoryKind::S3(s3) => Repository::with_storage(Arc::new(S3Storage::open(s3)?)),
            RepositoryKind::Restic(restic) => {
                Repository::with_storage(Arc::new(ResticStorage::open(restic)?))
            }
        };
        Ok(match &config.encryption {
            Some(encryption) => repo.with_keys(Keys::from_config(&config.name, encryption)?),
            None => repo,
        })
    }

    /// This repository, encrypting what it stores from now on for `keys` and decrypting with
    /// them (see [`crate::crypt`]).
    pub fn with_keys(mut self, keys: Keys) -> Repository {
        self.keys = Some(Arc::new(keys));
        self
    }

    /// This repository, signing the manifests it writes with `signatures`' signer (when it
    /// has one) and refusing, on every read, a manifest whose signature the trusted keys do
    /// not verify. Without this, manifests are neither signed nor checked.
    pub fn with_signatures(mut self, signatures: Arc<Signatures>) -> Repository {
        self.signatures = Some(signatures);
        self
    }

    /// How manifests are signed and checked, when they are.
    pub fn signatures(&self) -> Option<&Signatures> {
        self.signatures.as_deref()
    }

    /// The keys of an encrypted repository.
    pub fn keys(&self) -> Option<&Keys> {
        self.keys.as_deref()
    }

    /// The keys, to hand to a blocking thread.
    pub(crate) fn shared_keys(&self) -> Option<Arc<Keys>> {
        self.keys.clone()
    }

    /// Checks that the storage answers and lets this process in ([`Storage::probe`]).
    pub async fn probe(&self) -> Result<()> {
        self.storage.probe().await
    }

    /// A repository on any storage backend.
    pub fn with_storage(storage: Arc<dyn Storage>) -> Repository {
        Repository {
            storage,
            keys: None,
            signatures: None,
            in_flight: Arc::default(),
            manifest_lock: Arc::default(),
            prune_lock: Arc::default(),
        }
    }

    /// The storage backend.
    pub fn storage(&self) -> &dyn Storage {
        self.storage.as_ref()
    }

    /// Where the repository is, for messages.
    pub fn location(&self) -> String {
        self.storage.location()
    }

    /// Registers `key` as being written; `None` if it already is.
    pub(crate) fn begin_write(&self, key: &Key) -> Option<InFlight> {
        let mut set = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        set.insert(key.clone()).then(|| InFlight {
            set: self.in_flight.clone(),
            key: key.clone(),
        })
    }

    pub(crate) fn is_in_flight(&self, key: &Key) -> bool {
        let set = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        set.contains(key)
    }

    /// Streams a backup in: see [`ingest::ingest`].
    pub async fn ingest<R: AsyncRead + Unpin + Send>(
        &self,
        meta: BackupMeta,
        reader: R,
        cancel: &CancellationToken,
    ) -> Result<Manifest> {
        ingest::ingest(self, meta, reader, cancel).await
    }

    /// Every complete backup, newest first, optionally of one cluster and/or one server.
    /// A manifest that cannot be read is logged and left out (the listing of the rest matters
    /// more than one damaged backup).
    pub async fn list(&self, cluster: Option<&str>, server: Option<&str>) -> Result<Vec<Manifest>> {
        if let Some(cluster) = cluster {
            layout::check_cluster(cluster)?;
        }
        if let Some(server) = server {
            layout::check_server(server)?;
        }
        let mut out = Vec::new();
        for (c, s, dir) in self.server_dirs(cluster, server).await? {
            for entry in self.storage.list(Some(&dir)).await? {
                if !entry.is_dir {
                    continue;
                }
                let Ok(id) = BackupId::from_name(&c, &s, &entry.name) else {
                    debug!(dir = %dir, name = entry.name, "not a backup directory, ignored");
                    continue;
                };
                match self.read_manifest(&id).await {
                    Ok(Some(manifest)) => out.push(manifest),
                    Ok(None) => {}
                    Err(e) => warn!(backup = %id, error = %e, "backup left out of the listing"),
                }
            }
        }
        sort_newest_first(&mut out);
        Ok(out)
    }

    /// `(cluster, server, Backups/cluster/server)` for every server directory matching.
    pub(crate) async fn server_dirs(
        &self,
        cluster: Option<&str>,
        server: Option<&str>,
    ) -> Result<Vec<(String, String, Key)>> {
        let mut out = Vec::new();
        for c in self.storage.list(Some(&backups_dir())).await? {
            if !c.is_dir || cluster.is_some_and(|want| want != c.name) || c.name == BACKUPS {
                continue;
            }
            let cluster_dir = backups_dir().join(&c.name)?;
            for s in self.storage.list(Some(&cluster_dir)).await? {
                if !s.is_dir || server.is_some_and(|want| want != s.name) {
                    continue;
                }
                let dir = cluster_dir.join(&s.name)?;
                out.push((c.name.clone(), s.name, dir));
            }
        }
        Ok(out)
    }

    /// The manifest of `id`, `None` if there is none; its signature checked when this
    /// repository checks them.
    pub(crate) async fn read_manifest(&self, id: &BackupId) -> Result<Option<Manifest>> {
        let Some(bytes) = self.storage.get(&id.manifest_key()).await? else {
            return Ok(None);
        };
        if let Some(signatures) = &self.signatures {
            let location = format!("{} in {}", id.manifest_key(), self.location());
            if let Err(e) = signatures.check(&bytes, &location) {
                signatures.refused(id, &e);
                return Err(e);
            }
        }
        Manifest::from_json(&bytes, id).map(Some)
    }

    /// Writes `manifest` as its backup's `manifest.json` (durably, replacing one there),
    /// signed first when this repository has a signing key. Every manifest write goes through
    /// here, so none is left unsigned.
    pub(crate) async fn put_manifest(&self, manifest: &mut Manifest) -> Result<()> {
        if let Some(signer) = self.signatures.as_ref().and_then(|s| s.signer()) {
            signer.sign(manifest);
        }
        self.storage
            .put(&manifest.id.manifest_key(), manifest.to_json())
            .await
    }

    /// The manifest of backup `id`.
    pub async fn get(&self, id: &BackupId) -> Result<Manifest> {
        self.read_manifest(id)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: format!("backup {id}"),
                root: self.location(),
            })
    }

    /// Deletes backup `id`. The manifest goes first: a crash midway leaves a directory
    /// without manifest (not a backup; `clean_incomplete` sets it aside), never a
    /// catalogued backup with part of its payload missing.
    pub async fn delete(&self, id: &BackupId) -> Result<()> {
        self.get(id).await?;
        self.storage.delete(&id.manifest_key()).await?;
        self.storage.delete_prefix(&id.dir()).await?;
        info!(backup = %id, "backup deleted");
        Ok(())
    }

    /// Holds manifest rewrites off while the guard lives.
    pub(crate) async fn lock_manifests(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.manifest_lock.lock().await
    }

    /// Appends a verification result to backup `id`'s manifest (rewritten durably) and
    /// returns the new manifest.
    pub async fn append_verification(
        &self,
        id: &BackupId,
        verification: Verification,
    ) -> Result<Manifest> {
        let _guard = self.manifest_lock.lock().await;
        let mut manifest = self.get(id).await?;
        manifest.verification.push(verification);
        self.put_manifest(&mut manifest).await?;
        Ok(manifest)
    }

    /// `(cluster, server, cluster/server)` for every log directory.
    pub(crate) async fn log_dirs(&self) -> Result<Vec<(String, String, Key)>> {
        let mut out = Vec::new();
        for c in self.storage.list(None).await? {
            if !c.is_dir || layout::is_reserved(&c.name) {
                continue;
            }
            let cluster_dir = Key::new(&c.name)?;
            for s in self.storage.list(Some(&cluster_dir)).await? {
                if s.is_dir {
                    let dir = cluster_dir.join(&s.name)?;
                    out.push((c.name.clone(), s.name, dir));
                }
            }
        }
        Ok(out)
    }
}

/// Newest first: start time, then job id (two jobs can start in the same second).
pub(crate) fn sort_newest_first(manifests: &mut [Manifest]) {
    manifests.sort_by(newest_first);
}

/// The order of listings: newest first by start time, then job id (two jobs can start in the
/// same second), then id.
pub fn newest_first(a: &Manifest, b: &Manifest) -> std::cmp::Ordering {
    (b.started_at, b.job_id, &b.id).cmp(&(a.started_at, a.job_id, &a.id))
}
