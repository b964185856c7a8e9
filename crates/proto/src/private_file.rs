//! Secret files only their owner may read: the fleet's row key, the manager's manifest
//! signing key. One rule for reading them and one way of creating them, so that no key is
//! ever read from a file others can read, nor left half-written by a crash.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why a private file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PrivateFileError {
    /// It cannot be read (or created).
    #[error("cannot {action} {} ({source})", path.display())]
    Io {
        /// `read` or `create`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Others may read it.
    #[error("{} has mode {mode:04o}: others may read the secret it holds; `chmod 600 {}`", path.display(), path.display())]
    Mode {
        /// The file.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
}

impl PrivateFileError {
    /// True when the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, PrivateFileError::Io { source, .. } if source.kind() == ErrorKind::NotFound)
    }
}

/// The text of `path`, a file only its owner may read or write.
pub fn read(path: &Path) -> Result<String, PrivateFileError> {
    let failed = |source| PrivateFileError::Io {
        action: "read",
        path: path.to_owned(),
        source,
    };
    let meta = fs::metadata(path).map_err(failed)?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(PrivateFileError::Mode {
            path: path.to_owned(),
            mode,
        });
    }
    fs::read_to_string(path).map_err(failed)
}

/// The text of `path`; when there is no such file, `make()`'s text written there first
/// (mode 0600, durably). Returns the text and whether it was created.
///
/// The new text is written and synced in a temporary file created with `O_EXCL`, then
/// hard-linked to `path`: the link fails when `path` exists (a second process starting at the
/// same moment then reads the winner's file), and a crash never leaves a half-written key.
pub fn read_or_create(
    path: &Path,
    make: impl FnOnce() -> String,
) -> Result<(String, bool), PrivateFileError> {
    match read(path) {
        Err(e) if e.is_not_found() => {}
        other => return other.map(|text| (text, false)),
    }
    let failed = |source| PrivateFileError::Io {
        action: "create",
        path: path.to_owned(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(failed)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    // A leftover of an earlier start that crashed with the same PID.
    let _ = fs::remove_file(&temp);
    let text = make();
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.sync_all()
        });
    let linked = written.and_then(|()| fs::hard_link(&temp, path));
    let _ = fs::remove_file(&temp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return read(path).map(|t| (t, false)),
        Err(e) => return Err(failed(e)),
    }
    // The key must survive a power cut, or what it signed or sealed would be refused after one.
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(failed)?;
    Ok((text, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_then_read_and_refused_when_others_may_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/key");
        let (text, created) = read_or_create(&path, || "one\n".into()).expect("create");
        assert_eq!((text.as_str(), created), ("one\n", true));
        let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (text, created) = read_or_create(&path, || "two\n".into()).expect("read");
        assert_eq!((text.as_str(), created), ("one\n", false));
        let names: Vec<_> = fs::read_dir(dir.path().join("sub"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("key")]);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
        let e = read(&path).expect_err("0640");
        assert!(e.to_string().contains("chmod 600"), "{e}");
    }
}
