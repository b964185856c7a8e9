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
