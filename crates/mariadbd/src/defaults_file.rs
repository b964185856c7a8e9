//! The server's option file, and the settings that make a server private.
//!
//! Every owner writes its own text (the sandbox's servers replicate, a throwaway server takes
//! a backup's InnoDB layout), starting the `[mysqld]` section with [`crate::Layout::mysqld_paths`];
//! a server that must be kept apart from everything else (the verifier's, the agent's import
//! server) gets [`private_options`], as lines of its file or as command-line options.

use std::ffi::OsString;
use std::path::Path;

use crate::{Error, Result};

/// The largest statement an import takes (a row of big BLOBs can exceed the default 16 MiB).
pub const MAX_PACKET: &str = "1073741824";

/// One option: its name and, unless it is a flag, its value.
pub type Setting = (&'static str, Option<String>);

/// What keeps a server private and quick for a restore that may be thrown away: nothing
/// reaches it but its socket, it writes no binary log, replicates from nobody, runs no events
/// (they would change what is restored), logs no queries, keeps no buffer-pool dump, takes
/// statements as large as a dump's, and does not make each commit durable (a clean shutdown
/// writes everything out). `loose-` options are accepted by builds without them.
pub fn private_options(buffer_pool_mib: u32) -> Vec<Setting> {
    let off = || Some("OFF".to_owned());
    vec![
        ("skip-networking", None),
        ("skip-log-bin", None),
        ("skip-slave-start", None),
        ("loose-wsrep-on", off()),
        ("event-scheduler", off()),
        ("slow-query-log", off()),
        ("general-log", off()),
        ("performance-schema", off()),
        (
            "innodb-buffer-pool-size",
            Some(format!("{buffer_pool_mib}M")),
        ),
        ("innodb-buffer-pool-load-at-startup", off()),
        ("innodb-buffer-pool-dump-at-shutdown", off()),
        ("max-allowed-packet", Some(MAX_PACKET.to_owned())),
        ("innodb-flush-log-at-trx-commit", Some("0".to_owned())),
        ("innodb-doublewrite", Some("0".to_owned())),
    ]
}

/// Settings as lines of an option file section.
pub fn as_lines(settings: &[Setting]) -> String {
    settings
        .iter()
        .map(|(key, value)| match value {
            Some(value) => format!("{key}={value}\n"),
            None => format!("{key}\n"),
        })
        .collect()
}

/// Settings as command-line options.
pub fn as_args(settings: &[Setting]) -> Vec<OsString> {
    settings
        .iter()
        .map(|(key, value)| match value {
            Some(value) => format!("--{key}={value}").into(),
            None => format!("--{key}").into(),
        })
        .collect()
}

/// Writes `bytes` to `path` with `mode` durably: temp file in the same directory, fsync,
/// rename, fsync of the directory. Readers see the old file or the new one, never half of it.
pub fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    let err = |action| move |e: std::io::Error| Error::on_path(action, path, e);
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)
            .map_err(err("create"))?;
        f.write_all(bytes).map_err(err("write"))?;
        f.sync_all().map_err(err("sync"))?;
    }
    std::fs::rename(&tmp, path).map_err(err("rename into place"))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(err("sync the directory of"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_options_render_as_lines_and_as_arguments_alike() {
        let settings = private_options(64);
        let lines = as_lines(&settings);
        let args = as_args(&settings);
        assert_eq!(lines.lines().count(), args.len());
        for line in [
            "skip-networking",
            "skip-log-bin",
            "innodb-buffer-pool-size=64M",
        ] {
            assert!(lines.lines().any(|l| l == line), "{line} missing:\n{lines}");
            assert!(
                args.contains(&OsString::from(format!("--{line}"))),
                "{args:?}"
            );
        }
    }

    #[test]
    fn a_written_file_has_its_mode_and_no_temp_file_left() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("my.cnf");
        write_file(&path, b"[mysqld]\n", 0o600).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[mysqld]\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!path.with_extension("tmp").exists());
    }
}
