//! What the host must provide for Galera nodes, and what they get from it: the provider
//! library, rsync for SST, the `mysql` user they run as, their directories owned by it and a
//! sandbox directory it can reach.
//!
//! Nodes run as `mysql`, not root: the joiner's SST script starts an `rsync --daemon` with no
//! `uid =` line, and an rsync daemon started as root switches to `nobody`, which cannot write a
//! root-owned datadir (rsync exit 23).

use std::path::Path;

use ferryman_exec::Program;

use crate::layout::{Layout, ServerPaths};
use crate::server::Binaries;
use crate::{Error, Result};

/// The Galera provider library (Debian package galera-4).
pub(crate) const PROVIDER: &str = "/usr/lib/galera/libgalera_smm.so";
/// The system user nodes run as (created by the Debian package mariadb-server).
pub(crate) const RUN_AS: &str = "mysql";

/// What a Galera node needs besides the server programs: the provider library, rsync for
/// SST, and the `mysql` user.
pub(crate) fn prerequisites() -> Result<Binaries> {
    let provider = Path::new(PROVIDER);
    if !provider.exists() {
        return Err(Error::GaleraMissing {
            path: provider.to_owned(),
        });
    }
    run_as_ids()?;
    Program::find("rsync", "rsync")?;
    Ok(Binaries::find()?)
}

/// Makes the sandbox directory and `servers/` enterable by `mysql` (0711 at least: temp dirs
/// are 0700) and checks that every directory above lets it through. Only the node
/// directories belong to mysql; `secrets/` stays 0700 and root's.
pub(crate) fn reachable_by_mysql(layout: &Layout) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let (uid, gid) = run_as_ids()?;
    for dir in [layout.dir().to_owned(), layout.servers_dir()] {
        let meta = std::fs::metadata(&dir).map_err(Error::io("read the mode of", &dir))?;
        let mode = meta.mode() & 0o7777;
        if mode & 0o011 != 0o011 {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode | 0o711))
                .map_err(Error::io("set permissions of", &dir))?;
        }
    }
    for ancestor in layout.dir().ancestors().skip(1) {
        let Ok(meta) = std::fs::metadata(ancestor) else {
            continue;
        };
        let mode = meta.mode();
        let enters = mode & 0o001 != 0
            || (meta.uid() == uid && mode & 0o100 != 0)
            || (meta.gid() == gid && mode & 0o010 != 0);
        if !enters {
            return Err(Error::NotReachableByMysql {
                dir: layout.dir().to_owned(),
                blocked: ancestor.to_owned(),
            });
        }
    }
    Ok(())
}

/// The uid and gid of [`RUN_AS`].
pub(crate) fn run_as_ids() -> Result<(u32, u32)> {
    match nix::unistd::User::from_name(RUN_AS) {
        Ok(Some(user)) => Ok((user.uid.as_raw(), user.gid.as_raw())),
        _ => Err(Error::NoMysqlUser),
    }
}

/// Gives the node's whole directory to `mysql` (symlinks themselves, never their targets).
/// Run before every start: files the sandbox wrote as root since (defaults file, a rewritten
/// `grastate.dat`) must be writable by the server.
pub(crate) async fn give_to_mysql(paths: &ServerPaths) -> Result<()> {
    let (uid, gid) = run_as_ids()?;
    let root = paths.root().to_owned();
    match tokio::task::spawn_blocking(move || chown_tree(&root, uid, gid)).await {
        Ok(res) => res,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> Result<()> {
    let chown_error = |source| Error::Chown {
        path: path.to_owned(),
        source,
    };
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(chown_error)?;
    let meta = std::fs::symlink_metadata(path).map_err(chown_error)?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).map_err(Error::io("list", path))? {
            let entry = entry.map_err(Error::io("list", path))?;
            chown_tree(&entry.path(), uid, gid)?;
        }
    }
    Ok(())
}
