//! LVM and ZFS: snapshots through commands, each with a default the server's
//! `snapshot-*-command` replaces. Placeholders, replaced word by word (no shell): `{volume}`
//! (`vg/lv` or the dataset), `{vg}` and `{lv}` (LVM), `{name}`, `{mountpoint}`
//! (`snapshot-dir/NAME`), `{size}` (`snapshot-lvm-size`).
//!
//! | | LVM | ZFS |
//! |---|---|---|
//! | create | `lvcreate --snapshot --name {name} --size {size} {volume}` | `zfs snapshot {volume}@{name}` |
//! | list | `lvs --noheadings -o lv_name -S origin={lv} {vg}` | `zfs list -H -t snapshot -o name -d 1 {volume}` |
//! | mount | `mount -o ro /dev/{vg}/{name} {mountpoint}` | `mount -t zfs {volume}@{name} {mountpoint}` |
//! | unmount | `umount {mountpoint}` | `umount {mountpoint}` |
//! | remove | `lvremove -f {vg}/{name}` | `zfs destroy {volume}@{name}` |
//! | rollback | `lvconvert --merge {vg}/{name}` | `zfs rollback -r {volume}@{name}` |

use std::path::{Path, PathBuf};

use ferryman_config::{SnapshotConfig, SnapshotMethod};
use ferryman_exec::Program;

use super::Backend;
use crate::{Error, Result};

/// One kind of command.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Create,
    List,
    Mount,
    Unmount,
    Remove,
    Rollback,
}

/// See the module's documentation.
#[derive(Debug)]
pub(crate) struct Commands {
    config: SnapshotConfig,
    server: String,
}

impl Commands {
    pub(crate) fn new(config: &SnapshotConfig, server: &str) -> Commands {
        Commands {
            config: config.clone(),
            server: server.to_owned(),
        }
    }

    fn template(&self, kind: Kind) -> Vec<String> {
        let c = &self.config.commands;
        let configured = match kind {
            Kind::Create => &c.create,
            Kind::List => &c.list,
            Kind::Mount => &c.mount,
            Kind::Unmount => &c.unmount,
            Kind::Remove => &c.remove,
            Kind::Rollback => &c.rollback,
        };
        if let Some(argv) = configured {
            return argv.clone();
        }
        let default = match (self.config.method, kind) {
            (SnapshotMethod::Zfs, Kind::Create) => "zfs snapshot {volume}@{name}",
            (SnapshotMethod::Zfs, Kind::List) => "zfs list -H -t snapshot -o name -d 1 {volume}",
            (SnapshotMethod::Zfs, Kind::Mount) => "mount -t zfs {volume}@{name} {mountpoint}",
            (SnapshotMethod::Zfs, Kind::Remove) => "zfs destroy {volume}@{name}",
            (SnapshotMethod::Zfs, Kind::Rollback) => "zfs rollback -r {volume}@{name}",
            (_, Kind::Create) => "lvcreate --snapshot --name {name} --size {size} {volume}",
            (_, Kind::List) => "lvs --noheadings -o lv_name -S origin={lv} {vg}",
            (_, Kind::Mount) => "mount -o ro /dev/{vg}/{name} {mountpoint}",
            (_, Kind::Remove) => "lvremove -f {vg}/{name}",
            (_, Kind::Rollback) => "lvconvert --merge {vg}/{name}",
            (_, Kind::Unmount) => "umount {mountpoint}",
        };
        default.split_whitespace().map(str::to_owned).collect()
    }

    /// The command line of `kind` for snapshot `name`, placeholders replaced.
    fn argv(&self, kind: Kind, name: &str) -> Vec<String> {
        let volume = &self.config.volume;
        let (vg, lv) = volume.split_once('/').unwrap_or((volume, ""));
        let mountpoint = self.mountpoint(name).display().to_string();
        self.template(kind)
            .into_iter()
            .map(|word| {
                word.replace("{volume}", volume)
                    .replace("{vg}", vg)
                    .replace("{lv}", lv)
                    .replace("{name}", name)
                    .replace("{mountpoint}", &mountpoint)
                    .replace("{size}", &self.config.lvm_size)
            })
            .collect()
    }

    fn mountpoint(&self, name: &str) -> PathBuf {
        self.config.dir.join(name)
    }

    async fn run(&self, kind: Kind, name: &str) -> Result<String> {
        let argv = self.argv(kind, name);
        let Some((program, args)) = argv.split_first() else {
            return Err(Error::Unsuitable {
                server: self.server.clone(),
                problem: "a snapshot command is empty".to_owned(),
                next_step: "set the server's `snapshot-*-command`".to_owned(),
            });
        };
        let program = if program.contains('/') {
            Program::at(Path::new(program), "the package that provides it")?
        } else {
            Program::find(
                program,
                "lvm2 for LVM, zfsutils-linux for ZFS, mount for mount",
            )?
        };
        let out = program.command().args(args).run().await?;
        Ok(out.stdout)
    }
}

impl Backend for Commands {
    async fn take(&self, name: &str) -> Result<()> {
        self.run(Kind::Create, name).await.map(|_| ())
    }

    async fn names(&self) -> Result<Vec<String>> {
        let listed = self.run(Kind::List, "").await?;
        let prefix = format!("{}@", self.config.volume);
        Ok(listed
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| l.strip_prefix(&prefix).unwrap_or(l).to_owned())
            .collect())
    }

    async fn mount(&self, name: &str) -> Result<PathBuf> {
        let at = self.mountpoint(name);
        if self.mounted(name).await.is_some() {
            return Ok(at);
        }
        std::fs::create_dir_all(&at).map_err(|source| Error::Io {
            action: "create",
            path: at.clone(),
            source,
        })?;
        self.run(Kind::Mount, name).await?;
        Ok(at)
    }

    async fn mounted(&self, name: &str) -> Option<PathBuf> {
        let at = self.mountpoint(name);
        let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
        let wanted = at.display().to_string();
        mounts
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(wanted.as_str()))
            .then_some(at)
    }

    async fn unmount(&self, name: &str) -> Result<()> {
        if self.mounted(name).await.is_none() {
            return Ok(());
        }
        self.run(Kind::Unmount, name).await?;
        let _ = std::fs::remove_dir(self.mountpoint(name));
        Ok(())
    }

    async fn remove(&self, name: &str) -> Result<()> {
        self.unmount(name).await?;
        self.run(Kind::Remove, name).await.map(|_| ())
    }

    async fn rollback(&self, name: &str) -> Result<String> {
        self.unmount(name).await?;
        self.run(Kind::Rollback, name).await?;
        Ok(match self.config.method {
            SnapshotMethod::Lvm => format!(
                "the snapshot merges into {} (LVM: the snapshot volume is gone once merged)",
                self.config.volume
            ),
            _ => format!(
                "{} rolled back (ZFS: later snapshots of it were destroyed)",
                self.config.volume
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(method: &str, volume: &str) -> SnapshotConfig {
        let text = format!(
            "[clusters.c]\ndb-servers-credential = {{ user = \"u\" }}\n\
             replication-credential = {{ user = \"r\" }}\n\n\
             [[clusters.c.servers]]\nname = \"db1\"\nhost = \"127.0.0.1\"\n\
             snapshot-method = \"{method}\"\nsnapshot-volume = \"{volume}\"\n\
             snapshot-dir = \"/mnt/snaps\"\n"
        );
        let config =
            ferryman_config::Config::parse(&text, Path::new("/etc/ferryman.toml")).expect("config");
        config.clusters[0].servers[0]
            .snapshot
            .clone()
            .expect("snapshot")
    }

    #[test]
    fn the_default_commands_of_lvm_and_zfs() {
        let lvm = Commands::new(&config("lvm", "vg0/mysql"), "db1");
        let line = |c: &Commands, k| c.argv(k, "ferryman-db1-x").join(" ");
        assert_eq!(
            line(&lvm, Kind::Create),
            "lvcreate --snapshot --name ferryman-db1-x --size 10G vg0/mysql"
        );
        assert_eq!(
            line(&lvm, Kind::List),
            "lvs --noheadings -o lv_name -S origin=mysql vg0"
        );
        assert_eq!(
            line(&lvm, Kind::Mount),
            "mount -o ro /dev/vg0/ferryman-db1-x /mnt/snaps/ferryman-db1-x"
        );
        assert_eq!(line(&lvm, Kind::Remove), "lvremove -f vg0/ferryman-db1-x");
        assert_eq!(
            line(&lvm, Kind::Rollback),
            "lvconvert --merge vg0/ferryman-db1-x"
        );
        let zfs = Commands::new(&config("zfs", "tank/mysql"), "db1");
        assert_eq!(
            line(&zfs, Kind::Create),
            "zfs snapshot tank/mysql@ferryman-db1-x"
        );
        assert_eq!(
            line(&zfs, Kind::Mount),
            "mount -t zfs tank/mysql@ferryman-db1-x /mnt/snaps/ferryman-db1-x"
        );
        assert_eq!(
            line(&zfs, Kind::Rollback),
            "zfs rollback -r tank/mysql@ferryman-db1-x"
        );
        assert_eq!(
            line(&zfs, Kind::Unmount),
            "umount /mnt/snaps/ferryman-db1-x"
        );
    }
}
