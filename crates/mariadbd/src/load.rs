//! Loading a logical backup into a private server: the settings that make a bulk load fast,
//! and `myloader` (a mydumper backup's loader). The verifier's throwaway servers and the
//! agent's import server (a logical reseed) both load through here.
//!
//! # Bulk-load settings ([`bulk_load_options`])
//! A private server that is filled once and then shut down cleanly needs none of the
//! durability a live server needs: nothing reads it until the load is over, and if the load
//! fails its datadir is thrown away. On top of [`crate::defaults_file::private_options`]
//! (no binary log, no doublewrite, no flush at each commit), a load gets:
//! - a redo log of [`BULK_REDO_MIB`]: a small log forces a checkpoint, and the page writes
//!   behind it, every few hundred MiB of rows;
//! - a higher I/O capacity, so that the page cleaner keeps up with the load instead of making
//!   it wait at the log's end;
//! - no adaptive hash index, which only costs on a write-only load.
//!
//! The server's own option file still sets the page size and file layout: nothing here changes
//! what the datadir looks like to the server that will run on it.

use std::path::{Path, PathBuf};

use ferryman_exec::Finished;

use crate::defaults_file::Setting;

/// The redo log of a server being loaded, MiB.
pub const BULK_REDO_MIB: u32 = 1024;
/// What `myloader` (from 0.10) writes on stderr for each file it could not load; older
/// versions exit 0 anyway.
const MYLOADER_FAILED: &str = "CRITICAL";
/// How deep in an extracted mydumper archive its `metadata` file is looked for (Ferryman's
/// archive has it at the top; `tar -C parent -c dir` puts it one level down).
const METADATA_DEPTH: usize = 3;
/// The most loader threads: past this the server's locks, not the loader, set the pace.
const MAX_THREADS: usize = 8;

/// See the module documentation. Only for a server whose datadir is loaded from nothing (not
/// one recovering a copy, whose redo log must be read as it is).
pub fn bulk_load_options() -> Vec<Setting> {
    vec![
        ("innodb-log-file-size", Some(format!("{BULK_REDO_MIB}M"))),
        ("innodb-io-capacity", Some("10000".to_owned())),
        ("innodb-io-capacity-max", Some("20000".to_owned())),
        ("innodb-adaptive-hash-index", Some("OFF".to_owned())),
    ]
}

/// Loader threads for this host: one per CPU, at most `MAX_THREADS`.
pub fn loader_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, MAX_THREADS)
}

/// The arguments of `myloader` loading `dir` through `socket` as `root`, with `threads`.
/// `defaults_file` must be an (empty) option file of the caller's: myloader 0.10 reads option
/// files through the client library, and nothing in /etc/mysql (a password, another socket)
/// may apply.
pub fn myloader_args(
    defaults_file: &Path,
    dir: &Path,
    socket: &Path,
    threads: usize,
) -> Vec<std::ffi::OsString> {
    vec![
        format!("--defaults-file={}", defaults_file.display()).into(),
        "--directory".into(),
        dir.into(),
        "--socket".into(),
        socket.into(),
        "--user".into(),
        "root".into(),
        "--overwrite-tables".into(),
        "--threads".into(),
        threads.to_string().into(),
    ]
}

/// Writes the empty option file [`myloader_args`] wants at `path` (0600), in a directory of
/// the caller's that lives no longer than the load.
pub fn write_myloader_cnf(path: &Path) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?
        .write_all(b"# Read by myloader for Ferryman; intentionally empty.\n[client]\n")
}

/// Whether a finished `myloader` failed: a non-zero exit, or a file it could not load.
pub fn myloader_failed(finished: &Finished) -> bool {
    !finished.status.success() || finished.stderr.contains(MYLOADER_FAILED)
}

/// The directory holding mydumper's `metadata` file under `root`, breadth first, at most
/// `METADATA_DEPTH` levels down; symlinks are not followed.
pub fn find_metadata(root: &Path) -> Option<PathBuf> {
    let mut level = vec![root.to_owned()];
    for _ in 0..METADATA_DEPTH {
        let mut next = Vec::new();
        for dir in level {
            if std::fs::symlink_metadata(dir.join("metadata")).is_ok_and(|m| m.is_file()) {
                return Some(dir);
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut subdirs: Vec<PathBuf> = entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect();
            subdirs.sort();
            next.extend(subdirs);
        }
        level = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_found_at_the_top_or_one_level_down() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(find_metadata(dir.path()), None);
        let sub = dir.path().join("dump");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("metadata"), "Started dump at").unwrap();
        assert_eq!(find_metadata(dir.path()), Some(sub.clone()));
        std::fs::write(dir.path().join("metadata"), "Started dump at").unwrap();
        assert_eq!(find_metadata(dir.path()), Some(dir.path().to_owned()));
    }

    #[test]
    fn myloader_gets_our_option_file_the_socket_and_threads() {
        let args: Vec<String> = myloader_args(
            Path::new("/r/myloader.cnf"),
            Path::new("/r/load"),
            Path::new("/r/sock"),
            3,
        )
        .into_iter()
        .map(|a| a.into_string().unwrap())
        .collect();
        assert_eq!(args[0], "--defaults-file=/r/myloader.cnf");
        assert!(args.join(" ").contains("--socket /r/sock --user root"));
        assert!(args.join(" ").ends_with("--threads 3"));
        assert!((1..=MAX_THREADS).contains(&loader_threads()));
    }

    #[test]
    fn bulk_settings_are_server_options() {
        let lines = crate::defaults_file::as_lines(&bulk_load_options());
        assert!(lines.contains("innodb-log-file-size=1024M\n"), "{lines}");
    }
}
