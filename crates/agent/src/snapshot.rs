//! File-system snapshots of a server's datadir volume (`snapshot-method`): one [`Backend`]
//! trait, three backends: btrfs built in (`snapshot/btrfs.rs`), LVM and ZFS through commands
//! (`snapshot/commands.rs`). Ferryman's snapshots are consistent (`snapshot/consistent.rs`:
//! commits blocked while it is taken) and carry what was recorded then
//! ([`SnapshotMeta`], kept durably in `work-dir/<server>/snapshots/NAME.json`).
//!
//! Used by the `snapshot` task (`tasks/snapshot.rs`: take one, then keep `snapshot-keep`),
//! `zfssnapback` without `zfs-snapback` (`tasks/service.rs`: roll back to the newest matching
//! `snapshot-filter`) and the agent's API (`api/snapshots.rs`: list, take, mount, unmount,
//! remove).
//!
//! # Safety
//! - A name reaches a command line only once checked ([`check_name`]): no `/`, no `..`, no
//!   leading `-`, no whitespace.
//! - The metadata is written only after the snapshot exists; one without metadata is listed
//!   as of unknown position (made by hand) and removed by retention only if it is Ferryman's.
//! - Retention removes only Ferryman's snapshots of this server (`ferryman-<server>-`), oldest
//!   first, never the newest, never a mounted one.

mod btrfs;
mod commands;
mod consistent;

use std::path::{Path, PathBuf};

use ferryman_config::{ServerConfig, SnapshotConfig, SnapshotMethod};
use ferryman_db::Endpoint;
use ferryman_proto::node_api::{SnapshotInfo, SnapshotList, SnapshotMeta};

use crate::{Error, Result};

/// What every backend does. `take` runs while the server's commits are blocked.
pub(crate) trait Backend {
    /// Takes snapshot `name` of the volume.
    async fn take(&self, name: &str) -> Result<()>;
    /// Every snapshot of the volume (Ferryman's and others).
    async fn names(&self) -> Result<Vec<String>>;
    /// Makes `name`'s files readable (read-only); where.
    async fn mount(&self, name: &str) -> Result<PathBuf>;
    /// Where `name`'s files are readable now, if they are.
    async fn mounted(&self, name: &str) -> Option<PathBuf>;
    /// Undoes [`Backend::mount`].
    async fn unmount(&self, name: &str) -> Result<()>;
    /// Removes `name`.
    async fn remove(&self, name: &str) -> Result<()>;
    /// Puts the volume back to `name` (the server stopped); says what was kept.
    async fn rollback(&self, name: &str) -> Result<String>;
}

/// The configured backend.
#[derive(Debug)]
enum Any {
    Btrfs(btrfs::Btrfs),
    Commands(Box<commands::Commands>),
}

macro_rules! each {
    ($self:expr, $b:ident => $call:expr) => {
        match $self {
            Any::Btrfs($b) => $call,
            Any::Commands($b) => $call,
        }
    };
}

/// One server's snapshots.
#[derive(Debug)]
pub(crate) struct Snapshots {
    server: String,
    config: SnapshotConfig,
    backend: Any,
    /// `work-dir/<server>/snapshots`: each snapshot's [`SnapshotMeta`].
    meta_dir: PathBuf,
}

impl Snapshots {
    /// The snapshots of `server`, whose agent's directory is `work_dir`; refused without
    /// `snapshot-method`.
    pub(crate) fn of(server: &ServerConfig, work_dir: &Path) -> Result<Snapshots> {
        let config = server.snapshot.clone().ok_or_else(|| Error::Unsuitable {
            server: server.name.clone(),
            problem: "no `snapshot-method` is configured".to_owned(),
            next_step: "set `snapshot-method`, `snapshot-volume` and `snapshot-dir` in its table of ferryman.toml (see README, \"Snapshots\")".to_owned(),
        })?;
        let backend = match config.method {
            SnapshotMethod::Btrfs => Any::Btrfs(btrfs::Btrfs {
                volume: PathBuf::from(&config.volume),
                dir: config.dir.clone(),
                server: server.name.clone(),
            }),
            SnapshotMethod::Lvm | SnapshotMethod::Zfs => {
                Any::Commands(Box::new(commands::Commands::new(&config, &server.name)))
            }
        };
        Ok(Snapshots {
            server: server.name.clone(),
            config,
            backend,
            meta_dir: work_dir.join("snapshots"),
        })
    }

    /// The prefix of this server's snapshots.
    fn own_prefix(&self) -> String {
        format!("ferryman-{}-", self.server)
    }

    fn meta_path(&self, name: &str) -> PathBuf {
        self.meta_dir.join(format!("{name}.json"))
    }

    /// Every snapshot of the volume, oldest first (by name: Ferryman's names sort by time),
    /// with its metadata and where it is readable.
    pub(crate) async fn list(&self) -> Result<SnapshotList> {
        let mut names = each!(&self.backend, b => b.names().await)?;
        names.sort();
        let mut snapshots = Vec::with_capacity(names.len());
        for name in names {
            let meta = crate::durable::read_json::<SnapshotMeta>(&self.meta_path(&name)).ok();
            let mounted_at =
                each!(&self.backend, b => b.mounted(&name).await).map(|p| p.display().to_string());
            snapshots.push(SnapshotInfo {
                name,
                meta,
                mounted_at,
            });
        }
        Ok(SnapshotList {
            server: self.server.clone(),
            method: self.config.method.to_string(),
            snapshots,
        })
    }

    /// Takes a consistent snapshot now; its metadata is recorded once it exists.
    pub(crate) async fn take(&self, endpoint: &Endpoint) -> Result<SnapshotMeta> {
        // Two in the same second get `-2`, `-3`…: names still sort by time.
        let taken = each!(&self.backend, b => b.names().await)?;
        let base = format!("{}{}", self.own_prefix(), stamp());
        let name = (1..)
            .map(|n| {
                if n == 1 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                }
            })
            .find(|n| !taken.contains(n))
            .unwrap_or(base);
        let position = consistent::blocked(endpoint, &self.server, self.config.timeout, async {
            each!(&self.backend, b => b.take(&name).await)
        })
        .await?;
        let datadir_in_snapshot = self.datadir_in_snapshot(Path::new(&position.datadir));
        let meta = SnapshotMeta {
            name: name.clone(),
            server: self.server.clone(),
            method: self.config.method.to_string(),
            created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            gtid_binlog_pos: position.gtid_binlog_pos,
            gtid_current_pos: position.gtid_current_pos,
            gtid_slave_pos: position.gtid_slave_pos,
            binlog_file: position.binlog_file,
            binlog_position: position.binlog_position,
            log_bin_basename: position.log_bin_basename,
            server_id: position.server_id,
            version: position.version,
            datadir: position.datadir,
            datadir_in_snapshot,
            lock: position.lock.to_owned(),
            locked_ms: position.locked.as_millis() as u64,
        };
        crate::durable::create_private_dir(&self.meta_dir)?;
        crate::durable::write_json(&self.meta_path(&name), &meta)?;
        Ok(meta)
    }

    /// The datadir's path inside a snapshot of the volume: relative to the btrfs subvolume, or
    /// to the mount point of the file system that holds it (LVM, ZFS).
    fn datadir_in_snapshot(&self, datadir: &Path) -> String {
        // Compared as the kernel sees them: a datadir reached through a symbolic link is
        // still inside the volume.
        let datadir = &std::fs::canonicalize(datadir).unwrap_or_else(|_| datadir.to_owned());
        let root = match self.config.method {
            SnapshotMethod::Btrfs => {
                let volume = PathBuf::from(&self.config.volume);
                Some(std::fs::canonicalize(&volume).unwrap_or(volume))
            }
            _ => mount_point_of(datadir),
        };
        root.and_then(|r| datadir.strip_prefix(r).ok().map(Path::to_path_buf))
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    /// Makes `name` readable; where.
    pub(crate) async fn mount(&self, name: &str) -> Result<PathBuf> {
        check_name(&self.server, name)?;
        self.known(name).await?;
        each!(&self.backend, b => b.mount(name).await)
    }

    /// Undoes [`Snapshots::mount`].
    pub(crate) async fn unmount(&self, name: &str) -> Result<()> {
        check_name(&self.server, name)?;
        each!(&self.backend, b => b.unmount(name).await)
    }

    /// Removes `name` and its metadata.
    pub(crate) async fn remove(&self, name: &str) -> Result<()> {
        check_name(&self.server, name)?;
        self.known(name).await?;
        each!(&self.backend, b => b.remove(name).await)?;
        let meta = self.meta_path(name);
        if meta.exists() {
            crate::durable::remove(&meta)?;
        }
        Ok(())
    }

    /// Rolls the volume back to `name` (the server must be stopped); says what was kept.
    pub(crate) async fn rollback(&self, name: &str) -> Result<String> {
        check_name(&self.server, name)?;
        self.known(name).await?;
        each!(&self.backend, b => b.rollback(name).await)
    }

    /// The newest snapshot whose name holds `snapshot-filter`, for `zfssnapback`.
    pub(crate) async fn newest_matching(&self) -> Result<String> {
        let list = self.list().await?;
        list.snapshots
            .into_iter()
            .rev()
            .map(|s| s.name)
            .find(|n| n.contains(&self.config.filter))
            .ok_or_else(|| Error::Unsuitable {
                server: self.server.clone(),
                problem: format!(
                    "no snapshot of {} has `{}` (`snapshot-filter`) in its name",
                    self.config.volume, self.config.filter
                ),
                next_step: "take one with `ferryman task snapshot`, or set `snapshot-filter`"
                    .to_owned(),
            })
    }

    /// Removes Ferryman's snapshots of this server beyond `snapshot-keep`, oldest first,
    /// never a mounted one (btrfs snapshots are always readable: not counted as mounted).
    /// Returns the removed names and the failures, in words.
    pub(crate) async fn prune(&self) -> Result<(Vec<String>, Vec<String>)> {
        let prefix = self.own_prefix();
        let list = self.list().await?;
        let own: Vec<&SnapshotInfo> = list
            .snapshots
            .iter()
            .filter(|s| s.name.starts_with(&prefix))
            .collect();
        let excess = own.len().saturating_sub(self.config.keep as usize);
        let mut removed = Vec::new();
        let mut failed = Vec::new();
        for s in own.into_iter().take(excess) {
            let mounted = matches!(self.backend, Any::Commands(_)) && s.mounted_at.is_some();
            if mounted {
                failed.push(format!("{} is mounted: kept", s.name));
                continue;
            }
            match self.remove(&s.name).await {
                Ok(()) => removed.push(s.name.clone()),
                Err(e) => failed.push(format!("{}: {e}", s.name)),
            }
        }
        Ok((removed, failed))
    }

    /// `name` exists on the volume.
    async fn known(&self, name: &str) -> Result<()> {
        let names = each!(&self.backend, b => b.names().await)?;
        if names.iter().any(|n| n == name) {
            return Ok(());
        }
        Err(Error::Unsuitable {
            server: self.server.clone(),
            problem: format!("no snapshot `{name}` of {}", self.config.volume),
            next_step: "list them with `ferryman node snapshots --server SERVER`".to_owned(),
        })
    }
}

/// Refuses a name that could be taken for an option or a path on a command line.
pub(crate) fn check_name(server: &str, name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.len() > 128
        || name.starts_with('-')
        || name.starts_with('.')
        || name.contains("..")
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if bad {
        return Err(Error::Unsuitable {
            server: server.to_owned(),
            problem: format!("`{}` is not a snapshot name", name.escape_debug()),
            next_step: "use a name from the list (letters, digits, `-`, `_`, `.`, `:`)".to_owned(),
        });
    }
    Ok(())
}

/// Now in UTC as `YYYYmmddTHHMMSSZ`.
pub(crate) fn stamp() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(['-', ':'], "")
}

/// The mount point of the file system holding `path` (the longest `/proc/self/mounts` entry
/// it is under).
fn mount_point_of(path: &Path) -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(PathBuf::from)
        .filter(|m| path.starts_with(m))
        .max_by_key(|m| m.as_os_str().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_be_options_or_paths_are_refused() {
        for bad in ["", "-rf", "../x", "a/b", "a b", ".hidden", "a\nb"] {
            assert!(check_name("db1", bad).is_err(), "{bad:?}");
        }
        for good in ["ferryman-db1-20261205T043000Z", "daily_1", "tank:1"] {
            assert!(check_name("db1", good).is_ok(), "{good}");
        }
        assert_eq!(stamp().len(), 16, "{}", stamp());
    }
}
