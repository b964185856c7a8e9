//! [`LocalStorage`]: the repository on a local (or mounted) file system.
//!
//! Durability follows the usual crash-safe sequence (neon's `crashsafe.rs`): write a temporary
//! file, fsync it, rename it over the target, fsync the directory, and fsync the directories
//! above up to the root, since a freshly created directory entry is only durable once its
//! parent is synced. Streamed objects are written as `NAME.partial` and renamed the same way
//! on commit, so a half-written payload never carries its final name.
//!
//! Every file is created 0600 and every directory 0700, whatever the umask ([`crate::modes`]).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::{check_component, Entry, Key, ObjectReader, ObjectWriter, Storage};
use crate::error::is_storage_full;
use crate::modes;
use crate::{Error, Result};

/// The suffix of an object being streamed (visible to listings, so leftovers can be found).
pub const PARTIAL_SUFFIX: &str = ".partial";

/// Tells temporary files of concurrent puts apart.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A repository rooted at a local directory.
#[derive(Debug, Clone)]
pub struct LocalStorage {
    root: Arc<PathBuf>,
}

impl LocalStorage {
    /// Uses `root`, creating it (0700) if needed.
    pub fn open(root: impl Into<PathBuf>) -> Result<LocalStorage> {
        let root = root.into();
        modes::create_dir_all(&root).map_err(|source| Error::Open {
            root: root.clone(),
            source,
        })?;
        // Fail now, with the path, rather than at the first backup.
        fs::read_dir(&root).map_err(|source| Error::Open {
            root: root.clone(),
            source,
        })?;
        Ok(LocalStorage {
            root: Arc::new(root),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &Key) -> PathBuf {
        let mut path = PathBuf::from(self.root.as_path());
        path.extend(key.components());
        path
    }

    /// Runs blocking file-system work off the async runtime.
    fn blocking<'a, T, F>(&'a self, f: F) -> BoxFuture<'a, Result<T>>
    where
        T: Send + 'static,
        F: FnOnce(Fs) -> Result<T> + Send + 'static,
    {
        let fs = Fs {
            root: self.root.clone(),
        };
        async move {
            tokio::task::spawn_blocking(move || f(fs))
                .await
                .map_err(Error::worker)?
        }
        .boxed()
    }
}

/// The blocking half of [`LocalStorage`], moved into `spawn_blocking` closures.
struct Fs {
    root: Arc<PathBuf>,
}

impl Fs {
    fn error(&self, action: &'static str, path: &Path, source: io::Error) -> Error {
        io_error(&self.root, action, path, source)
    }

    /// fsyncs `dir` and every directory above it up to the root.
    fn sync_dirs_up(&self, dir: &Path) -> Result<()> {
        let mut current = Some(dir);
        while let Some(dir) = current {
            sync_dir(dir).map_err(|e| self.error("sync directory", dir, e))?;
            if dir == self.root.as_path() {
                break;
            }
            current = dir.parent().filter(|p| p.starts_with(self.root.as_path()));
        }
        Ok(())
    }

    fn put(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let dir = parent_of(path);
        modes::create_dir_all(dir).map_err(|e| self.error("create directory", dir, e))?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
        let written = (|| {
            let mut file = modes::new_file()
                .create_new(true)
                .open(&tmp)
                .map_err(|e| self.error("create", &tmp, e))?;
            file.write_all(bytes)
                .map_err(|e| self.error("write", &tmp, e))?;
            file.sync_all().map_err(|e| self.error("sync", &tmp, e))?;
            fs::rename(&tmp, path).map_err(|e| self.error("rename into place", path, e))
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written?;
        self.sync_dirs_up(dir)
    }

    fn list(&self, dir: &Path) -> Result<Vec<Entry>> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.error("list", dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| self.error("list", dir, e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if check_component("name", &name).is_err() {
                continue;
            }
            let file_type = entry
                .file_type()
                .map_err(|e| self.error("inspect", &entry.path(), e))?;
            out.push(Entry {
                name,
                is_dir: file_type.is_dir(),
            });
        }
        out.sort();
        Ok(out)
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        let dir = parent_of(to);
        modes::create_dir_all(dir).map_err(|e| self.error("create directory", dir, e))?;
        if fs::symlink_metadata(to).is_ok() {
            return Err(self.error(
                "move",
                to,
                io::Error::new(io::ErrorKind::AlreadyExists, "the target exists"),
            ));
        }
        fs::rename(from, to).map_err(|e| self.error("move", from, e))?;
        self.sync_dirs_up(dir)?;
        let from_dir = parent_of(from);
        sync_dir(from_dir).map_err(|e| self.error("sync directory", from_dir, e))
    }

    fn delete_prefix(&self, path: &Path) -> Result<()> {
        let removed = match fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
            Ok(_) => fs::remove_file(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => Err(e),
        };
        match removed {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(self.error("delete", path, e)),
        }
        let dir = parent_of(path);
        sync_dir(dir).map_err(|e| self.error("sync directory", dir, e))
    }
}

impl Storage for LocalStorage {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn local_path(&self, key: &Key) -> Option<PathBuf> {
        Some(self.path(key))
    }

    fn create<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Box<dyn ObjectWriter>>> {
        let target = self.path(key);
        self.blocking(move |fs| {
            let dir = parent_of(&target);
            modes::create_dir_all(dir).map_err(|e| fs.error("create directory", dir, e))?;
            let mut partial = target.clone().into_os_string();
            partial.push(PARTIAL_SUFFIX);
            let partial = PathBuf::from(partial);
            // A leftover of an earlier attempt may carry looser modes: start from a new file.
            match fs::remove_file(&partial) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(fs.error("remove the leftover", &partial, e)),
            }
            let file = modes::new_file()
                .create_new(true)
                .open(&partial)
                .map_err(|e| fs.error("create", &partial, e))?;
            Ok(Box::new(LocalWriter {
                fs,
                file: Some(file),
                partial,
                target,
            }) as Box<dyn ObjectWriter>)
        })
    }

    fn put<'a>(&'a self, key: &'a Key, bytes: Vec<u8>) -> BoxFuture<'a, Result<()>> {
        let path = self.path(key);
        self.blocking(move |fs| fs.put(&path, &bytes))
    }

    fn get<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<Vec<u8>>>> {
        let path = self.path(key);
        self.blocking(move |fs| match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(fs.error("read", &path, e)),
        })
    }

    fn open<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<ObjectReader>> {
        let path = self.path(key);
        self.blocking(move |fs| match File::open(&path) {
            Ok(file) => Ok(Box::new(file) as Box<dyn Read + Send>),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::NotFound {
                what: format!("object {}", path.display()),
                root: fs.root.display().to_string(),
            }),
            Err(e) => Err(fs.error("open", &path, e)),
        })
    }

    fn list<'a>(&'a self, prefix: Option<&'a Key>) -> BoxFuture<'a, Result<Vec<Entry>>> {
        let dir = match prefix {
            Some(key) => self.path(key),
            None => self.root.to_path_buf(),
        };
        self.blocking(move |fs| fs.list(&dir))
    }

    fn delete<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<()>> {
        let path = self.path(key);
        self.blocking(move |fs| match fs::remove_file(&path) {
            Ok(()) => {
                let dir = parent_of(&path);
                sync_dir(dir).map_err(|e| fs.error("sync directory", dir, e))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(fs.error("delete", &path, e)),
        })
    }

    fn delete_prefix<'a>(&'a self, prefix: &'a Key) -> BoxFuture<'a, Result<()>> {
        let path = self.path(prefix);
        self.blocking(move |fs| fs.delete_prefix(&path))
    }

    fn rename<'a>(&'a self, from: &'a Key, to: &'a Key) -> BoxFuture<'a, Result<()>> {
        let (from, to) = (self.path(from), self.path(to));
        self.blocking(move |fs| fs.rename(&from, &to))
    }

    fn size<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<u64>>> {
        let path = self.path(key);
        self.blocking(move |fs| match fs::symlink_metadata(&path) {
            Ok(meta) => Ok(meta.is_file().then_some(meta.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(fs.error("inspect", &path, e)),
        })
    }

    fn free_space(&self) -> BoxFuture<'_, Result<Option<u64>>> {
        self.blocking(|fs| Ok(free_bytes(&fs.root)))
    }

    fn probe(&self) -> BoxFuture<'_, Result<()>> {
        self.blocking(|fs| {
            fs::read_dir(fs.root.as_path())
                .map(|_| ())
                .map_err(|source| Error::Open {
                    root: fs.root.to_path_buf(),
                    source,
                })
        })
    }
}

/// A streamed object: `NAME.partial` until committed.
struct LocalWriter {
    fs: Fs,
    /// `None` once committed.
    file: Option<File>,
    partial: PathBuf,
    target: PathBuf,
}

impl Write for LocalWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(file) => file.write(buf),
            None => Err(io::Error::other("object already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

impl ObjectWriter for LocalWriter {
    fn commit(mut self: Box<Self>) -> Result<()> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        let fs = &self.fs;
        file.sync_all()
            .map_err(|e| fs.error("sync", &self.partial, e))?;
        drop(file);
        fs::rename(&self.partial, &self.target)
            .map_err(|e| fs.error("rename into place", &self.target, e))?;
        fs.sync_dirs_up(parent_of(&self.target))
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            // Not committed: the object was abandoned (error, cancellation).
            let _ = fs::remove_file(&self.partial);
        }
    }
}

fn parent_of(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("/"))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Bytes available to unprivileged writers on the file system holding `path`.
fn free_bytes(path: &Path) -> Option<u64> {
    let stat = nix::sys::statvfs::statvfs(path).ok()?;
    #[allow(clippy::useless_conversion)] // the field types differ between platforms
    Some(u64::from(stat.blocks_available()).saturating_mul(u64::from(stat.fragment_size())))
}

/// An I/O error as the repository reports it: "disk full" gets its own variant.
pub(crate) fn io_error(root: &Path, action: &'static str, path: &Path, source: io::Error) -> Error {
    if is_storage_full(&source) {
        Error::StorageFull {
            root: root.display().to_string(),
            free: free_bytes(root),
            what: path.display().to_string(),
        }
    } else {
        Error::Io {
            action,
            location: path.display().to_string(),
            source,
        }
    }
}
