//! [`Check`]: a file validated the way `ferryman config check` does, where a secret the
//! daemons will need but that is not there is a warning rather than an error.

use std::path::Path;

use crate::config::{read, Config};
use crate::error::Result;
use crate::validate::Secrets;
use crate::warning::ConfigWarning;

/// The outcome of checking a config file.
#[derive(Debug)]
pub struct Check {
    /// The validated config, or every error. A password or token whose file or variable is
    /// missing here is `None` in it: only [`Config::load`] gives a config to run with.
    pub config: Result<Config>,
    /// The secrets the daemons will need that are missing here, in file order, then the
    /// notification channels that no route names; they never make the check fail.
    pub warnings: Vec<ConfigWarning>,
}

impl Check {
    /// Reads, parses and validates the file at `path`.
    pub fn load(path: &Path) -> Check {
        match read(path) {
            Ok(text) => Check::parse(&text, path),
            Err(e) => Check {
                config: Err(e.into()),
                warnings: Vec::new(),
            },
        }
    }

    /// Parses and validates `text`; `path` is used in messages and to resolve relative paths.
    pub fn parse(text: &str, path: &Path) -> Check {
        let (config, warnings) = Config::validate(text, path, Secrets::Deferred);
        Check { config, warnings }
    }
}
