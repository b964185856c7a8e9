//! Who may read the repository: its owner only. Files are created 0600 and directories 0700
//! whatever the process's umask (which can only narrow an explicit mode), and a repository
//! written by an older version with looser modes is tightened when it is opened.
//!
//! A backup holds every row of a cluster, and a collected log its queries: no other local
//! user may read them. What is tightened on open is what the repository owns: its root,
//! everything under `Backups/` and `Quarantine/`, and the log directories with their logs.
//! Other things in the same directory (the API token, a verifier's work directory) belong to
//! their own modules and are left alone.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use tracing::{info, warn};

use crate::layout::{is_reserved, BACKUPS, BINLOGS, QUARANTINE};
use crate::logs::is_log_name;
use crate::storage::local::PARTIAL_SUFFIX;

/// Mode of every file the repository writes.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory the repository creates.
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` and its missing parents, each 0700.
pub(crate) fn create_dir_all(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Options that create a file 0600 for writing.
pub(crate) fn new_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).mode(FILE_MODE);
    options
}

/// Tightens what the repository at `root` owns to 0600 files and 0700 directories, and
/// logs how many were fixed. An entry that cannot be changed (owned by another user) is
/// logged with the command that fixes it; the repository still opens.
pub fn tighten_repository(root: &Path) -> usize {
    let mut fixed = Fixed::default();
    fixed.one(root);
    for area in [BACKUPS, QUARANTINE, BINLOGS] {
        fixed.tree(&root.join(area));
    }
    for (cluster, server) in log_dirs(root) {
        fixed.one(&cluster);
        fixed.one(&server);
        for log in read_dir(&server) {
            let name = log.file_name().unwrap_or_default().to_string_lossy();
            if is_log_name(name.strip_suffix(PARTIAL_SUFFIX).unwrap_or(&name)) {
                fixed.one(&log);
            }
        }
    }
    if fixed.count > 0 {
        info!(
            root = %root.display(),
            fixed = fixed.count,
            "tightened repository files to 0600 and directories to 0700 (owner only)"
        );
    }
    fixed.count
}

/// `(<root>/<cluster>, <root>/<cluster>/<server>)` for every directory holding a log.
fn log_dirs(root: &Path) -> Vec<(std::path::PathBuf, std::path::PathBuf)> {
    let mut out = Vec::new();
    for cluster in read_dir(root) {
        let name = cluster.file_name().unwrap_or_default();
        if is_reserved(&name.to_string_lossy()) || !is_dir(&cluster) {
            continue;
        }
        for server in read_dir(&cluster) {
            let holds_logs = is_dir(&server)
                && read_dir(&server).iter().any(|f| {
                    let name = f.file_name().unwrap_or_default().to_string_lossy();
                    is_log_name(name.strip_suffix(PARTIAL_SUFFIX).unwrap_or(&name))
                });
            if holds_logs {
                out.push((cluster.clone(), server));
            }
        }
    }
    out
}

/// Paths in `dir`; none when it cannot be read (nothing to tighten there).
fn read_dir(dir: &Path) -> Vec<std::path::PathBuf> {
    match fs::read_dir(dir) {
        Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => Vec::new(),
    }
}

/// A directory itself, not a symbolic link to one.
fn is_dir(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

#[derive(Default)]
struct Fixed {
    count: usize,
}

impl Fixed {
    /// `path` and, for a directory, everything under it.
    fn tree(&mut self, path: &Path) {
        self.one(path);
        if is_dir(path) {
            for child in read_dir(path) {
                self.tree(&child);
            }
        }
    }

    /// Tightens `path` alone when group or others have any access. Symbolic links (not ours)
    /// are not followed.
    fn one(&mut self, path: &Path) {
        let Ok(meta) = fs::symlink_metadata(path) else {
            return;
        };
        let want = if meta.is_dir() {
            DIR_MODE
        } else if meta.is_file() {
            FILE_MODE
        } else {
            return;
        };
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o7077 == 0 {
            return;
        }
        match fs::set_permissions(path, fs::Permissions::from_mode(want)) {
            Ok(()) => self.count += 1,
            Err(e) => warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                error = %e,
                "cannot make a repository entry readable by its owner only; other local users may read it: run `chown` to the manager's user, then `chmod {want:o}` on it"
            ),
        }
    }
}
