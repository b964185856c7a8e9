//! Where every command finds its configuration file: `--config FILE`, else the variable
//! `FERRYMAN_CONFIG`, else `/etc/ferryman/ferryman.toml` (where the package installs it), so
//! that on a configured host `ferryman jobs list` needs no option.

use std::ops::Deref;
use std::path::{Path, PathBuf};

use clap::Args;

/// The configuration file when neither `--config` nor [`CONFIG_ENV`] names one.
pub const DEFAULT_CONFIG: &str = "/etc/ferryman/ferryman.toml";
/// The environment variable that names the configuration file.
pub const CONFIG_ENV: &str = "FERRYMAN_CONFIG";

/// The `--config` option of every command that reads the configuration.
#[derive(Debug, Clone, Args)]
pub struct ConfigFile {
    /// The configuration file.
    #[arg(
        long = "config",
        short = 'c',
        value_name = "FILE",
        env = CONFIG_ENV,
        default_value = DEFAULT_CONFIG
    )]
    path: PathBuf,
}

impl Deref for ConfigFile {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for ConfigFile {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

/// The configuration at `path`, loaded for a daemon or a command (secrets read); a file that
/// does not load ends the command with the usage exit code, its errors listed.
pub fn load(path: &Path) -> anyhow::Result<ferryman_config::Config> {
    ferryman_config::Config::load(path)
        .map_err(|e| crate::exit::error(crate::exit::USAGE, e.to_string()))
}

/// The configuration at `path`, loaded as [`load`] does, for a daemon that keeps only a part of
/// it (the agent: its own server's): `keep` takes that part, and the whole is then dropped.
///
/// Why threads: a fleet's file (1,000 servers: 350 KB of TOML) takes about 10 MiB of parser
/// scratch, freed among the configuration's own allocations, and glibc's allocator returns an
/// arena's memory to the system only from its top. So the file is parsed on a thread of its own
/// (its scratch in that thread's arena), `keep` runs here (what it clones lives in this
/// thread's arena), and the whole configuration is dropped on another short-lived thread (its
/// frees are not cached by this one), which leaves the parser's arena empty and returned.
/// `bench/fleet.sh`'s agents: 25.4 -> 20.3 MiB idle. (The manager keeps the whole and loads it
/// with [`load`]: a copy made this way measured no smaller.)
pub fn load_keeping<T>(
    path: &Path,
    keep: impl FnOnce(&ferryman_config::Config) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let owned = path.to_owned();
    let config = std::thread::Builder::new()
        .name("config-load".into())
        .spawn(move || load(&owned))
        .map_err(|e| {
            anyhow::Error::new(e).context("cannot start a thread to read the configuration")
        })?
        .join()
        .map_err(|_| {
            anyhow::anyhow!("reading the configuration panicked; run `ferryman config check` on it")
        })??;
    let kept = keep(&config);
    // Dropped on a thread of its own; if none can start, dropping here only keeps memory.
    if let Err(e) = std::thread::Builder::new()
        .name("config-drop".into())
        .spawn(move || drop(config))
        .map(|handle| handle.join())
    {
        tracing::debug!("the configuration is dropped on the main thread: {e}");
    }
    kept
}

/// The configuration at `path` for a command that only talks to the manager's API: the
/// secrets it does not use (database passwords, repository keys) may be missing or unreadable
/// here (a DBA's shell, not the daemons' user); the API token, if configured, is read when it
/// can be. A file that does not load ends the command with the usage exit code.
pub fn load_for_client(path: &Path) -> anyhow::Result<ferryman_config::Config> {
    ferryman_config::Check::load(path)
        .config
        .map_err(|e| crate::exit::error(crate::exit::USAGE, e.to_string()))
}

/// The cluster a command is about: `given` (`--cluster`), else the only cluster of the
/// configuration at `path`, whose clusters are `names`.
pub fn cluster_or_only<'a>(
    given: Option<&str>,
    names: impl IntoIterator<Item = &'a str>,
    path: &Path,
) -> anyhow::Result<String> {
    if let Some(given) = given {
        return Ok(given.to_owned());
    }
    let names: Vec<&str> = names.into_iter().collect();
    match names.as_slice() {
        [only] => Ok((*only).to_owned()),
        [] => anyhow::bail!(
            "{} has no cluster: add a [clusters.NAME] table",
            path.display()
        ),
        many => anyhow::bail!(
            "{} has {} clusters ({}): say which with --cluster",
            path.display(),
            many.len(),
            many.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_is_the_one_given_else_the_only_one() {
        let path = Path::new("/etc/ferryman/ferryman.toml");
        let one = cluster_or_only(None, ["shop"], path).unwrap();
        assert_eq!(one, "shop");
        let given = cluster_or_only(Some("crm"), ["shop", "crm"], path).unwrap();
        assert_eq!(given, "crm");
        let two = cluster_or_only(None, ["shop", "crm"], path)
            .unwrap_err()
            .to_string();
        assert_eq!(
            two,
            "/etc/ferryman/ferryman.toml has 2 clusters (shop, crm): say which with --cluster"
        );
        let none = cluster_or_only(None, [], path).unwrap_err().to_string();
        assert!(none.contains("has no cluster"), "{none}");
    }
}
