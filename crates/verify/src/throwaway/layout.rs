//! Where a throwaway server's files live, and creating its directory.
//!
//! ```text
//! WORK_DIR/tw-LABEL-PID-N/        0700: the socket is reachable only through it
//!     my.cnf                      the server's only defaults file
//!     data/  tmp/                 datadir, tmpdir
//!     sock  pid  err.log          socket, pid file, error log
//!     out.log  install.log        the daemon's stdout and stderr, mariadb-install-db's output
//!     load/                       an extracted mydumper archive
//!     myloader.cnf                myloader's (empty) option file
//! ```
//! `PID` is the creating process's and `N` a counter, so two verifiers never share a directory;
//! names are short because a unix socket path has at most [`SOCKET_PATH_MAX`] bytes.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ferryman_mariadbd::Layout;

use crate::{Error, Result};

/// What every throwaway directory's name starts with: [`super::sweep`] recognises leftovers by it.
pub const DIR_PREFIX: &str = "tw-";
/// The longest unix socket path (`sun_path` is 108 bytes with its terminating NUL).
pub const SOCKET_PATH_MAX: usize = 107;
/// A label is cut to this many characters: it is only there for humans reading `ls`.
const LABEL_MAX: usize = 24;
/// The longest name [`unique_name`] gives, for the socket length check made before creating
/// anything: prefix, label, a PID (at most 7 digits) and a counter (room for 8 digits).
const NAME_MAX: usize = DIR_PREFIX.len() + LABEL_MAX + 1 + 7 + 1 + 8;
/// The socket's file name.
const SOCKET: &str = "sock";

/// Numbers the directories this process creates.
static COUNTER: AtomicU64 = AtomicU64::new(1);

/// The files of the throwaway directory `root`: the standard layout of a private server,
/// but for the pid file (`pid`) and the daemon's output (`out.log`).
pub(crate) fn paths(root: PathBuf) -> Layout {
    Layout::new(&root)
        .with_pid_file(root.join("pid"))
        .with_stdout_log(root.join("out.log"))
}

/// Where a mydumper archive is extracted.
pub(crate) fn load_dir(paths: &Layout) -> PathBuf {
    paths.root().join("load")
}

/// myloader's option file.
pub(crate) fn myloader_cnf(paths: &Layout) -> PathBuf {
    paths.root().join("myloader.cnf")
}

/// Where `mariabackup --backup` of the server keeps its temporary files.
pub(crate) fn backup_scratch(paths: &Layout) -> PathBuf {
    paths.root().join("xb")
}

/// The backup's own option file, in a datadir extracted from an xbstream.
pub(crate) fn backup_cnf(paths: &Layout) -> PathBuf {
    paths.datadir().join("backup-my.cnf")
}

/// Creates `work_dir` (0700) if missing, then a new throwaway directory (0700) in it, with
/// its `data/` and `tmp/`. Refuses, before creating anything, a work directory so long that
/// the socket path would not fit.
pub(crate) fn create(work_dir: &Path, label: &str) -> Result<Layout> {
    let work_dir = std::path::absolute(work_dir).map_err(Error::io("resolve", work_dir))?;
    // `/` + name + `/` + socket.
    let longest_socket = work_dir.as_os_str().len() + 1 + NAME_MAX + 1 + SOCKET.len();
    if longest_socket > SOCKET_PATH_MAX {
        return Err(Error::WorkDirTooLong {
            work_dir,
            length: longest_socket,
            max: SOCKET_PATH_MAX,
        });
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&work_dir)
        .map_err(Error::io("create the work directory", &work_dir))?;
    let label = sanitize(label);
    let root = loop {
        let candidate = work_dir.join(unique_name(&label));
        // Not recursive: an existing directory (a leftover of an earlier process that had
        // our PID) is never reused, the next number is tried.
        match std::fs::DirBuilder::new().mode(0o700).create(&candidate) {
            Ok(()) => break candidate,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io("create a throwaway directory", &candidate)(e)),
        }
    };
    let paths = paths(root);
    for dir in [paths.datadir(), paths.tmpdir()] {
        if let Err(e) = std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            let _ = std::fs::remove_dir_all(paths.root());
            return Err(Error::io("create a directory", &dir)(e));
        }
    }
    debug_assert!(paths.socket().as_os_str().len() <= SOCKET_PATH_MAX);
    Ok(paths)
}

/// `tw-LABEL-PID-N`.
fn unique_name(label: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{DIR_PREFIX}{label}-{}-{n}", std::process::id())
}

/// The label with everything but ASCII letters, digits, `_` and `.` turned into `_` (no `-`,
/// which separates the name's parts; no `/`), cut to [`LABEL_MAX`]; `x` when empty.
fn sanitize(label: &str) -> String {
    let clean: String = label
        .chars()
        .take(LABEL_MAX)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() || clean.chars().all(|c| c == '.') {
        "x".to_owned()
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_cut_and_cleaned() {
        assert_eq!(sanitize("db1/backup 2026-01-01"), "db1_backup_2026_01_01");
        assert_eq!(sanitize(""), "x");
        assert_eq!(sanitize(".."), "x");
        assert_eq!(sanitize(&"a".repeat(100)).len(), LABEL_MAX);
        assert!(unique_name("a").starts_with("tw-a-"));
    }

    #[test]
    fn a_long_work_dir_is_refused_before_creating_anything() {
        let base = tempfile::tempdir().unwrap();
        let deep = base.path().join("d".repeat(80));
        let err = create(&deep, "label").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`[verifier] work-dir`"), "{msg}");
        assert!(msg.contains("choose a shorter"), "{msg}");
        assert!(!deep.exists());
    }

    #[test]
    fn directories_are_private_and_distinct() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::Builder::new()
            .prefix("tw")
            .tempdir_in("/tmp")
            .unwrap();
        let work = base.path().join("w");
        let a = create(&work, "same").unwrap();
        let b = create(&work, "same").unwrap();
        assert_ne!(a.root(), b.root());
        for dir in [&work, &a.root().to_owned(), &a.datadir()] {
            let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", dir.display());
        }
    }
}
