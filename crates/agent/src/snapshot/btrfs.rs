//! btrfs: read-only subvolume snapshots of `snapshot-volume` in `snapshot-dir` (same file
//! system), readable where they are; a rollback swaps in a writable snapshot of one and keeps
//! the old subvolume beside it.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use ferryman_exec::Program;

use super::Backend;
use crate::{Error, Result};

/// The inode number of every btrfs subvolume's root directory.
const SUBVOLUME_ROOT_INODE: u64 = 256;

/// See the module's documentation.
#[derive(Debug)]
pub(crate) struct Btrfs {
    /// The subvolume (holding the datadir).
    pub(crate) volume: PathBuf,
    /// Where snapshots are made.
    pub(crate) dir: PathBuf,
    pub(crate) server: String,
}

impl Btrfs {
    fn btrfs(&self) -> Result<Program> {
        Ok(Program::find("btrfs", "btrfs-progs")?)
    }

    fn io(&self, action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.to_owned();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }
}

impl Backend for Btrfs {
    async fn take(&self, name: &str) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(self.io("create", &self.dir))?;
        let target = self.dir.join(name);
        if target.exists() {
            // `btrfs subvolume snapshot` would make it inside the one there.
            return Err(Error::Unsuitable {
                server: self.server.clone(),
                problem: format!("{} exists already", target.display()),
                next_step: "remove it, or take the snapshot again".to_owned(),
            });
        }
        self.btrfs()?
            .command()
            .args(["subvolume", "snapshot", "-r"])
            .arg(&self.volume)
            .arg(&target)
            .run()
            .await?;
        Ok(())
    }

    async fn names(&self) -> Result<Vec<String>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io("list", &self.dir)(e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(self.io("list", &self.dir))?;
            let meta = entry.metadata().map_err(self.io("read", &entry.path()))?;
            if meta.is_dir() && meta.ino() == SUBVOLUME_ROOT_INODE {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        Ok(names)
    }

    async fn mount(&self, name: &str) -> Result<PathBuf> {
        Ok(self.dir.join(name))
    }

    async fn mounted(&self, name: &str) -> Option<PathBuf> {
        Some(self.dir.join(name))
    }

    async fn unmount(&self, _name: &str) -> Result<()> {
        Ok(())
    }

    async fn remove(&self, name: &str) -> Result<()> {
        self.btrfs()?
            .command()
            .args(["subvolume", "delete"])
            .arg(self.dir.join(name))
            .run()
            .await?;
        Ok(())
    }

    /// A writable snapshot of `name` made next to the volume, the volume renamed aside, the
    /// copy renamed in its place: the volume is whole at every moment, the old one kept.
    async fn rollback(&self, name: &str) -> Result<String> {
        let stamp = super::stamp();
        let parent = self.volume.parent().ok_or_else(|| Error::Unsuitable {
            server: self.server.clone(),
            problem: format!(
                "`snapshot-volume` {} has no parent directory",
                self.volume.display()
            ),
            next_step: "name the subvolume that holds the datadir, not a file system's root"
                .to_owned(),
        })?;
        let base = self
            .volume
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let copy = parent.join(format!(".{base}.ferryman-rollback-{stamp}"));
        let kept = parent.join(format!("{base}.ferryman-before-rollback-{stamp}"));
        self.btrfs()?
            .command()
            .args(["subvolume", "snapshot"])
            .arg(self.dir.join(name))
            .arg(&copy)
            .run()
            .await?;
        if let Err(e) = std::fs::rename(&self.volume, &kept) {
            let _ = self
                .btrfs()?
                .command()
                .args(["subvolume", "delete"])
                .arg(&copy)
                .run()
                .await;
            return Err(Error::Unsuitable {
                server: self.server.clone(),
                problem: format!(
                    "cannot move {} aside ({e}): a mount point, or a subvolume in use, cannot be renamed",
                    self.volume.display()
                ),
                next_step: "roll back by hand with `btrfs subvolume snapshot` and a rename, the server stopped".to_owned(),
            });
        }
        if let Err(e) = std::fs::rename(&copy, &self.volume) {
            // Put the old one back: nothing changed then.
            let back = std::fs::rename(&kept, &self.volume);
            return Err(Error::Unsuitable {
                server: self.server.clone(),
                problem: format!(
                    "cannot move the rolled-back copy {} into place ({e}); the old volume {}",
                    copy.display(),
                    match back {
                        Ok(()) => "was put back".to_owned(),
                        Err(b) =>
                            format!("could not be put back ({b}) and is at {}", kept.display()),
                    }
                ),
                next_step: "check the directory's permissions and the file system".to_owned(),
            });
        }
        Ok(format!(
            "the volume before the rollback is kept at {} (remove it with `btrfs subvolume delete` once the server is right)",
            kept.display()
        ))
    }
}
