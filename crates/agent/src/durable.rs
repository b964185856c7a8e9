//! Files that must survive a crash of the agent or of its host: written whole or not at all.
//!
//! The one way the agent writes state it relies on after a restart (kept outcomes in
//! `pending/`, a reseed's swap record in `swaps/`): write a temporary file (0600), fsync it,
//! rename it over the target, fsync the directory. A reader finds the old file or the new one,
//! never half of either.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Error, Result};

/// Writes `value` as JSON to `path` durably (see the module documentation).
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_vec_pretty(value).map_err(|e| Error::Io {
        action: "encode",
        path: path.to_owned(),
        source: std::io::Error::other(e),
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(Error::io("create", &tmp))?;
    file.write_all(&text).map_err(Error::io("write", &tmp))?;
    file.sync_all().map_err(Error::io("sync", &tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(Error::io("rename into place", path))?;
    // The rename is durable only once the directory itself is synced.
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io("sync directory", dir))
}

/// Reads a JSON file written by [`write_json`].
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> std::result::Result<T, String> {
    let bytes = fs::read(path).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// Removes `path` durably; a missing file is no error.
pub(crate) fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("remove", path)(e)),
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io("sync directory", dir))
}

/// The files of `dir` named `<prefix>…<suffix>`, sorted by name.
pub(crate) fn list(dir: &Path, prefix: &str, suffix: &str) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(Error::io("read directory", dir))? {
        let path = entry.map_err(Error::io("read directory", dir))?.path();
        let matches = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix));
        if matches {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Creates `dir` (and parents) with mode 0700 for the last component.
pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(Error::io("create directory", dir))
}
