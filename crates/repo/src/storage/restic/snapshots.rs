//! The snapshots of a [`super::ResticStorage`]: listing them (the newest of each path is the
//! object), reading one whole, its size, forgetting some, and the caches that spare restic
//! runs (each opens the repository: most of a second).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::io::AsyncReadExt;
use tokio::sync::RwLock;

use super::cli::Cli;
use super::stream::ResticWriter;
use super::TAG;
use crate::storage::Key;
use crate::{Error, Result};

/// What the storage and its writers and readers share.
#[derive(Debug)]
pub(super) struct Inner {
    pub(super) cli: Cli,
    /// Shared by `backup` and `dump`, exclusive for `forget` and `prune`.
    pub(super) order: Arc<RwLock<()>>,
    /// Snapshot id → what is known of its object (never changes).
    pub(super) cache: Mutex<HashMap<String, Cached>>,
    /// The last listing of the snapshots, reused for [`LISTING_TTL`] unless this process
    /// changed the repository since (a listing walks every snapshot: one restic run per
    /// catalogue walk instead of one per manifest read).
    pub(super) listing: Mutex<Option<(Instant, Vec<Snapshot>)>>,
}

/// How long a listing of the snapshots is reused. Only changes made by another process in
/// the meantime are missed for that long.
const LISTING_TTL: Duration = Duration::from_secs(5);

#[derive(Debug, Default, Clone)]
pub(super) struct Cached {
    bytes: Option<Vec<u8>>,
    size: Option<u64>,
}

/// One snapshot of one object.
#[derive(Debug, Clone)]
pub(super) struct Snapshot {
    pub(super) id: String,
    time: chrono::DateTime<chrono::FixedOffset>,
    pub(super) key: Key,
}

#[derive(Deserialize)]
struct RawSnapshot {
    id: String,
    time: String,
    paths: Vec<String>,
}

#[derive(Deserialize)]
struct RawNode {
    path: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    size: Option<u64>,
}

/// Small objects read whole with `get` are cached up to this size.
const CACHE_MAX: usize = 1 << 20;

impl Inner {
    /// Every Ferryman snapshot, oldest first.
    pub(super) async fn snapshots(&self) -> Result<Vec<Snapshot>> {
        {
            let listing = self.listing.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, snapshots)) = listing.as_ref() {
                if at.elapsed() < LISTING_TTL {
                    return Ok(snapshots.clone());
                }
            }
        }
        let snapshots = self.list_snapshots().await?;
        let mut listing = self.listing.lock().unwrap_or_else(|p| p.into_inner());
        *listing = Some((Instant::now(), snapshots.clone()));
        Ok(snapshots)
    }

    /// Forgets the last listing: this process changed the repository.
    pub(super) fn changed(&self) {
        let mut listing = self.listing.lock().unwrap_or_else(|p| p.into_inner());
        *listing = None;
    }

    async fn list_snapshots(&self) -> Result<Vec<Snapshot>> {
        let out = self
            .cli
            .run(
                "list",
                "the snapshots",
                &["snapshots", "--json", "--tag", TAG],
            )
            .await?;
        let raw: Vec<RawSnapshot> = serde_json::from_str(out.stdout.trim()).map_err(|e| {
            self.cli
                .error("list", "the snapshots", &format!("unexpected output: {e}"))
        })?;
        let mut out: Vec<Snapshot> = raw
            .into_iter()
            .filter_map(|s| {
                let [path] = &s.paths[..] else { return None };
                let key = Key::new(path.strip_prefix('/')?).ok()?;
                let time = chrono::DateTime::parse_from_rfc3339(&s.time).ok()?;
                Some(Snapshot {
                    id: s.id,
                    time,
                    key,
                })
            })
            .collect();
        out.sort_by(|a, b| (a.time, &a.id).cmp(&(b.time, &b.id)));
        Ok(out)
    }

    /// The newest snapshot of every object.
    pub(super) async fn objects(&self) -> Result<BTreeMap<Key, Snapshot>> {
        // Oldest first: a later snapshot of a path replaces an earlier one.
        Ok(self
            .snapshots()
            .await?
            .into_iter()
            .map(|s| (s.key.clone(), s))
            .collect())
    }

    /// The ids of every snapshot (every version) of the objects whose key `wanted` accepts.
    pub(super) async fn ids_where(&self, wanted: impl Fn(&Key) -> bool) -> Result<Vec<String>> {
        Ok(self
            .snapshots()
            .await?
            .into_iter()
            .filter(|s| wanted(&s.key))
            .map(|s| s.id)
            .collect())
    }

    pub(super) async fn object(&self, key: &Key) -> Result<Option<Snapshot>> {
        Ok(self.objects().await?.remove(key))
    }

    /// Forgets the snapshots `ids` (and prunes when `prune`), under the exclusive lock.
    pub(super) async fn forget(&self, ids: Vec<String>, what: &str, prune: bool) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let _exclusive = self.order.write().await;
        let mut args = vec!["forget"];
        if prune {
            args.push("--prune");
        }
        args.extend(ids.iter().map(String::as_str));
        let forgotten = self.cli.run("delete", what, &args).await;
        self.changed();
        forgotten?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        for id in &ids {
            cache.remove(id);
        }
        Ok(())
    }

    /// The whole content of snapshot `s`.
    pub(super) async fn dump(&self, s: &Snapshot) -> Result<Vec<u8>> {
        if let Some(bytes) = self.cached(&s.id).bytes {
            return Ok(bytes);
        }
        let _shared = self.order.read().await;
        let what = s.key.to_string();
        let path = format!("/{}", s.key);
        let mut running = self
            .cli
            .spawn("read", &what, &["dump", &s.id, &path], false)?;
        let mut bytes = Vec::new();
        let read = match running.take_stdout() {
            Some(mut stdout) => stdout.read_to_end(&mut bytes).await.map(|_| ()),
            None => Ok(()),
        };
        let finished = running
            .wait()
            .await
            .map_err(|e| self.cli.error("read", &what, &e.to_string()))?;
        if let Some(error) = self.cli.judge("read", &what, &finished) {
            return Err(error);
        }
        read.map_err(|e| Error::from_io(e, "read", what))?;
        if bytes.len() <= CACHE_MAX {
            self.remember(&s.id, |c| {
                c.size = Some(bytes.len() as u64);
                c.bytes = Some(bytes.clone());
            });
        }
        Ok(bytes)
    }

    /// The size of snapshot `s`'s object.
    pub(super) async fn size_of(&self, s: &Snapshot) -> Result<u64> {
        if let Some(size) = self.cached(&s.id).size {
            return Ok(size);
        }
        let what = s.key.to_string();
        let path = format!("/{}", s.key);
        let out = self
            .cli
            .run("read", &what, &["ls", "--json", &s.id, &path])
            .await?;
        let size = out
            .stdout
            .lines()
            .filter_map(|line| serde_json::from_str::<RawNode>(line).ok())
            .find(|n| n.path.as_deref() == Some(path.as_str()) && n.kind.as_deref() == Some("file"))
            .and_then(|n| n.size)
            .ok_or_else(|| {
                self.cli
                    .error("read", &what, "its snapshot holds no such file")
            })?;
        self.remember(&s.id, |c| c.size = Some(size));
        Ok(size)
    }

    fn cached(&self, id: &str) -> Cached {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(id).cloned().unwrap_or_default()
    }

    fn remember(&self, id: &str, update: impl FnOnce(&mut Cached)) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        update(cache.entry(id.to_owned()).or_default());
    }

    /// Starts `restic backup --stdin` for `key`.
    pub(super) async fn writer(self: &Arc<Self>, key: &Key) -> Result<ResticWriter> {
        let shared = Arc::clone(&self.order).read_owned().await;
        let what = key.to_string();
        let running = self.cli.spawn(
            "store",
            &what,
            &[
                "backup",
                "--quiet",
                "--stdin",
                "--stdin-filename",
                key.as_str(),
                "--tag",
                TAG,
                "--host",
                TAG,
            ],
            true,
        )?;
        Ok(ResticWriter::new(Arc::clone(self), running, what, shared))
    }
}
