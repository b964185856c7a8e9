//! A server's `snapshot-*` keys: file-system snapshots of its datadir's volume (btrfs built
//! in; LVM and ZFS through commands with defaults), taken consistent by the agent.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

use crate::defaults;
use crate::error::ConfigError;
use crate::raw::RawCommand;
use crate::validate::Validator;

/// How snapshots are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMethod {
    /// `btrfs subvolume snapshot -r` of the subvolume holding the datadir.
    Btrfs,
    /// An LVM snapshot volume (`lvcreate --snapshot`), through commands.
    Lvm,
    /// A ZFS snapshot (`zfs snapshot`), through commands.
    Zfs,
}

impl SnapshotMethod {
    /// Every method.
    pub const ALL: [SnapshotMethod; 3] = [
        SnapshotMethod::Btrfs,
        SnapshotMethod::Lvm,
        SnapshotMethod::Zfs,
    ];
}

impl fmt::Display for SnapshotMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SnapshotMethod::Btrfs => "btrfs",
            SnapshotMethod::Lvm => "lvm",
            SnapshotMethod::Zfs => "zfs",
        })
    }
}

/// The commands of an LVM or ZFS snapshot, each overriding its default (`None`: the
/// default). Placeholders: `{volume}`, `{name}`, `{mountpoint}`, `{size}`, `{vg}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotCommands {
    /// `snapshot-create-command`.
    pub create: Option<Vec<String>>,
    /// `snapshot-list-command`: prints one snapshot name per line (other lines ignored).
    pub list: Option<Vec<String>>,
    /// `snapshot-mount-command`.
    pub mount: Option<Vec<String>>,
    /// `snapshot-unmount-command`.
    pub unmount: Option<Vec<String>>,
    /// `snapshot-remove-command`.
    pub remove: Option<Vec<String>>,
    /// `snapshot-rollback-command` (`zfssnapback`, the server stopped).
    pub rollback: Option<Vec<String>>,
}

/// A server's snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotConfig {
    /// `snapshot-method`: `btrfs`, `lvm` or `zfs`.
    pub method: SnapshotMethod,
    /// `snapshot-volume`: the btrfs subvolume holding the datadir (default: `datadir`), the
    /// LVM volume (`vg/lv`) or the ZFS dataset (`pool/mysql`).
    pub volume: String,
    /// `snapshot-dir`: btrfs: where snapshots are made (on the subvolume's file system, not
    /// inside the datadir); LVM and ZFS: where one is mounted read-only (`DIR/NAME`).
    /// Required; absolute.
    pub dir: PathBuf,
    /// `snapshot-keep`: how many of Ferryman's snapshots the `snapshot` task keeps (the oldest
    /// beyond are removed after a new one). Default 3; 1 to 1000.
    pub keep: u32,
    /// `snapshot-filter`: the part of a snapshot's name that `zfssnapback` (without
    /// `zfs-snapback`) looks for; the newest matching is rolled back to. Default
    /// `ferryman-`, the prefix of Ferryman's own names.
    pub filter: String,
    /// `snapshot-lvm-size`: the copy-on-write space of an LVM snapshot (`lvcreate --size`).
    /// Default `10G`.
    pub lvm_size: String,
    /// `snapshot-timeout`: how long the snapshot command may take while commits are blocked
    /// (it is killed and the server released after). Default 60s; 1s to 1h.
    pub timeout: Duration,
    /// The commands' overrides (LVM and ZFS).
    pub commands: SnapshotCommands,
}

/// The raw `snapshot-*` keys of a server table.
#[derive(Debug, Default)]
pub(crate) struct RawSnapshot {
    pub(crate) method: Option<Spanned<String>>,
    pub(crate) volume: Option<Spanned<String>>,
    pub(crate) dir: Option<Spanned<String>>,
    pub(crate) keep: Option<Spanned<i64>>,
    pub(crate) filter: Option<Spanned<String>>,
    pub(crate) lvm_size: Option<Spanned<String>>,
    pub(crate) timeout: Option<Spanned<String>>,
    pub(crate) create_command: Option<Spanned<RawCommand>>,
    pub(crate) list_command: Option<Spanned<RawCommand>>,
    pub(crate) mount_command: Option<Spanned<RawCommand>>,
    pub(crate) unmount_command: Option<Spanned<RawCommand>>,
    pub(crate) remove_command: Option<Spanned<RawCommand>>,
    pub(crate) rollback_command: Option<Spanned<RawCommand>>,
}

impl RawSnapshot {
    fn any_set(&self) -> bool {
        self.volume.is_some()
            || self.dir.is_some()
            || self.keep.is_some()
            || self.filter.is_some()
            || self.lvm_size.is_some()
            || self.timeout.is_some()
            || self.create_command.is_some()
            || self.list_command.is_some()
            || self.mount_command.is_some()
            || self.unmount_command.is_some()
            || self.remove_command.is_some()
            || self.rollback_command.is_some()
    }
}

impl SnapshotConfig {
    /// The server's snapshots, `None` without `snapshot-method`. `key` makes a key's dotted
    /// path; `datadir` is the server's (the btrfs volume's default); `table_at` is where the
    /// server's table starts (for missing keys).
    pub(crate) fn from_raw(
        raw: RawSnapshot,
        key: &dyn Fn(&str) -> String,
        datadir: Option<&PathBuf>,
        table_at: crate::error::Location,
        v: &mut Validator<'_>,
    ) -> Option<SnapshotConfig> {
        let Some(method_raw) = raw.method.clone() else {
            if raw.any_set() {
                v.push(ConfigError::MissingKey {
                    at: table_at,
                    key: key("snapshot-method"),
                });
            }
            return None;
        };
        let method = v.choice(
            &key("snapshot-method"),
            Some(method_raw),
            SnapshotMethod::Btrfs,
            &SnapshotMethod::ALL,
        );
        let volume = match (raw.volume, method, datadir) {
            (Some(volume), _, _) => {
                let text = volume.get_ref().clone();
                if text.trim().is_empty() || text.chars().any(char::is_whitespace) {
                    v.push(ConfigError::InvalidValue {
                        at: v.at(volume.span()),
                        key: key("snapshot-volume"),
                        message: "a volume, dataset or path without whitespace".to_owned(),
                    });
                }
                text
            }
            (None, SnapshotMethod::Btrfs, Some(datadir)) => datadir.display().to_string(),
            (None, _, _) => {
                v.push(ConfigError::MissingKey {
                    at: table_at.clone(),
                    key: key("snapshot-volume"),
                });
                String::new()
            }
        };
        if method == SnapshotMethod::Btrfs && !volume.is_empty() && !volume.starts_with('/') {
            v.push(ConfigError::RelativeServerPath {
                at: table_at.clone(),
                key: key("snapshot-volume"),
                value: volume.clone(),
            });
        }
        let dir = match v.server_path(&key("snapshot-dir"), raw.dir) {
            Some(dir) => dir,
            None => {
                v.push(ConfigError::MissingKey {
                    at: table_at,
                    key: key("snapshot-dir"),
                });
                PathBuf::new()
            }
        };
        let commands = SnapshotCommands {
            create: v.optional_command(&key("snapshot-create-command"), raw.create_command),
            list: v.optional_command(&key("snapshot-list-command"), raw.list_command),
            mount: v.optional_command(&key("snapshot-mount-command"), raw.mount_command),
            unmount: v.optional_command(&key("snapshot-unmount-command"), raw.unmount_command),
            remove: v.optional_command(&key("snapshot-remove-command"), raw.remove_command),
            rollback: v.optional_command(&key("snapshot-rollback-command"), raw.rollback_command),
        };
        Some(SnapshotConfig {
            method,
            volume,
            dir,
            keep: v.integer(
                &key("snapshot-keep"),
                raw.keep,
                defaults::SNAPSHOT_KEEP,
                (1, 1000),
            ),
            filter: v.host(
                &key("snapshot-filter"),
                raw.filter,
                defaults::SNAPSHOT_FILTER,
            ),
            lvm_size: v.host(
                &key("snapshot-lvm-size"),
                raw.lvm_size,
                defaults::SNAPSHOT_LVM_SIZE,
            ),
            timeout: v.duration(
                &key("snapshot-timeout"),
                raw.timeout,
                defaults::SNAPSHOT_TIMEOUT,
                (Duration::from_secs(1), Duration::from_secs(3600)),
            ),
            commands,
        })
    }
}
