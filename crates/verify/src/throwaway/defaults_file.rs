//! The throwaway server's only defaults file, and the InnoDB layout a physical backup brings
//! in its `backup-my.cnf`.

use std::path::Path;

use ferryman_mariadbd::defaults_file::{as_lines, private_options, write_file};
use ferryman_mariadbd::Layout;

use crate::{Error, Result};

/// Settings of `backup-my.cnf` the server must agree with to read the prepared files: page
/// size, system and undo tablespaces, redo log, checksums, page compression. Paths
/// (`innodb_data_home_dir`, `innodb_undo_directory`, `innodb_log_group_home_dir`) are never
/// taken: everything must stay inside the throwaway directory, where the defaults (the
/// datadir) put it. The redo log's size is not taken either: the prepare leaves a small
/// `ib_logfile0` that the server resizes at start to its own setting, and copying a
/// production value (often many GiB) would only fill the verifier's disk.
const LAYOUT_KEYS: [&str; 7] = [
    "innodb_page_size",
    "innodb_undo_tablespaces",
    "innodb_data_file_path",
    "innodb_checksum_algorithm",
    "innodb_compression_level",
    // Percona Server / xtrabackup only; `loose-` makes MariaDB ignore what it does not know.
    "innodb_log_block_size",
    "innodb_fast_checksum",
];

/// What the defaults file says beyond the fixed settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServerCnf {
    /// `innodb-buffer-pool-size`, MiB.
    pub buffer_pool_mib: u32,
    /// InnoDB layout settings of a physical backup, `(key, value)`.
    pub layout: Vec<(String, String)>,
    /// Log in without passwords: a restored datadir (or an imported dump) brings the source's
    /// accounts, whose passwords we do not know.
    pub skip_grant_tables: bool,
    /// A copy kept for the DBA (`ferryman restore`): every commit durable again, doublewrite
    /// on, whatever the restore ran with.
    pub durable: bool,
    /// An empty server about to be loaded from a logical backup:
    /// [`ferryman_mariadbd::load::bulk_load_options`].
    pub bulk_load: bool,
}

impl ServerCnf {
    /// The defaults file's text.
    pub fn render(&self, paths: &Layout) -> String {
        let mut text = format!(
            "# Written by the Ferryman verifier for a throwaway server; it reads no other option file.\n\
             [mysqld]\n\
             {}",
            paths.mysqld_paths()
        );
        // mariadbd refuses to run as root unless told to; as another user it runs as that one.
        if nix::unistd::geteuid().is_root() {
            text.push_str("user=root\n");
        }
        text.push_str(
            "# Nothing reaches it but the socket in its 0700 directory; it writes no binary log,\n\
             # replicates from nobody, runs no events (they would change what is checked); the\n\
             # copy is thrown away: durability per commit only slows the restore down.\n",
        );
        text.push_str(&as_lines(&private_options(self.buffer_pool_mib)));
        if self.bulk_load {
            text.push_str("# Loaded from nothing, once: a large redo log, a quick page cleaner.\n");
            text.push_str(&as_lines(&ferryman_mariadbd::load::bulk_load_options()));
        }
        if !self.layout.is_empty() {
            text.push_str("# InnoDB layout of the backup (its backup-my.cnf)\n");
            for (key, value) in &self.layout {
                text.push_str(&format!("loose-{key}={value}\n"));
            }
        }
        if self.durable {
            text.push_str(
                "# A restored copy kept for use: commits durable, pages protected by doublewrite.\n\
                 innodb-flush-log-at-trx-commit=1\n\
                 innodb-doublewrite=1\n",
            );
        }
        if self.skip_grant_tables {
            text.push_str(
                "# The restored accounts' passwords are unknown; only the socket reaches it.\n\
                 skip-grant-tables\n",
            );
        }
        text
    }

    /// Writes the defaults file (0600).
    pub fn write(&self, paths: &Layout) -> Result<()> {
        Ok(write_file(
            &paths.defaults_file(),
            self.render(paths).as_bytes(),
            0o600,
        )?)
    }
}

/// The layout settings of a prepared backup's `backup-my.cnf` (none when it has none).
pub(crate) fn backup_layout(backup_cnf: &Path) -> Result<Vec<(String, String)>> {
    match std::fs::read_to_string(backup_cnf) {
        Ok(text) => Ok(parse_layout(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io("read", backup_cnf)(e)),
    }
}

/// `key=value` lines whose key (with `-` read as `_`, a `loose-` prefix dropped) is one of
/// [`LAYOUT_KEYS`]; values naming a path are left out.
fn parse_layout(text: &str) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with(['#', ';', '[']) {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim().replace('-', "_");
        let key = key.strip_prefix("loose_").unwrap_or(&key);
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        if !LAYOUT_KEYS.contains(&key) || value.is_empty() {
            continue;
        }
        if value.contains('/') {
            tracing::warn!(
                key,
                value,
                "backup-my.cnf names a path; ignored, the throwaway server keeps its files in its own directory"
            );
            continue;
        }
        // The last occurrence wins, as for the server.
        found.retain(|(k, _)| k != key);
        found.push((key.to_owned(), value.to_owned()));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `backup-my.cnf` as mariabackup 10.11 writes it.
    const MARIABACKUP_10_11: &str = "# This options file was generated by innobackupex.\n\n\
        # The server\n[mysqld]\ninnodb_checksum_algorithm=crc32\n\
        innodb_data_file_path=ibdata1:12M:autoextend\ninnodb_log_file_size=100663296\n\
        innodb_page_size=16384\ninnodb_undo_directory=./\ninnodb_undo_tablespaces=0\n\
        innodb_compression_level=6\n\n";

    #[test]
    fn layout_is_taken_and_paths_are_not() {
        let layout = parse_layout(MARIABACKUP_10_11);
        let keys: Vec<&str> = layout.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "innodb_checksum_algorithm",
                "innodb_data_file_path",
                "innodb_page_size",
                "innodb_undo_tablespaces",
                "innodb_compression_level"
            ]
        );
        let other = parse_layout(
            "[mysqld]\ninnodb-data-home-dir=/var/lib/mysql\ninnodb_log_group_home_dir=/logs\n\
             innodb_data_file_path=/dev/sdb:10Gnewraw\nserver_id=7\ninnodb-page-size = 8k\n",
        );
        assert_eq!(other, [("innodb_page_size".into(), "8k".into())]);
    }

    #[test]
    fn the_defaults_file_keeps_the_server_private() {
        let paths = super::super::layout::paths("/w/tw-a-1-1".into());
        let cnf = ServerCnf {
            buffer_pool_mib: 64,
            layout: parse_layout(MARIABACKUP_10_11),
            skip_grant_tables: true,
            durable: false,
            bulk_load: false,
        };
        let text = cnf.render(&paths);
        for line in [
            "[mysqld]",
            "datadir=/w/tw-a-1-1/data",
            "socket=/w/tw-a-1-1/sock",
            "skip-networking",
            "skip-log-bin",
            "innodb-buffer-pool-size=64M",
            "loose-innodb_page_size=16384",
            "skip-grant-tables",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
        assert!(!text.contains("undo_directory"), "{text}");
        assert!(!text.contains("log_file_size"), "{text}");
        assert!(!ServerCnf::default().render(&paths).contains("skip-grant"));
        // An empty server to be loaded gets the bulk-load settings, a copy never does.
        let loaded = ServerCnf {
            bulk_load: true,
            ..ServerCnf::default()
        };
        assert!(loaded
            .render(&paths)
            .contains("innodb-log-file-size=1024M\n"));
    }
}
