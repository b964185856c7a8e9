//! The API token: `manager.api-token-file`/`api-token-env` when configured, else one the manager
//! generates at its first start into `monitoring-datadir/api.token` and reuses afterwards.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ferryman_config::{Config, Secret};
use ferryman_proto::private_file::{self, PrivateFileError};
use ferryman_proto::StreamToken;

use super::Error;

/// The generated token's file name under `manager.monitoring-datadir`.
pub const TOKEN_FILE: &str = "api.token";

/// Where the manager keeps a generated token.
pub fn token_path(config: &Config) -> PathBuf {
    config.manager.monitoring_datadir.join(TOKEN_FILE)
}

/// The token the API requires: the configured one, else the one in [`token_path`], written
/// there (mode 0600) with a new random value when the file does not exist yet. Logs the file's
/// path, never the token.
pub fn load_or_create_token(config: &Config) -> Result<Secret, Error> {
    if let Some(token) = &config.manager.api_token {
        return Ok(token.clone());
    }
    let path = token_path(config);
    match read_token_file(&path) {
        Ok(token) => {
            tracing::info!(path = %path.display(), "API token read from file");
            Ok(token)
        }
        Err(Error::TokenRead { source, .. }) if source.kind() == ErrorKind::NotFound => {
            create(&path)
        }
        Err(e) => Err(e),
    }
}

/// Reads a token file: a regular file only its owner may read, whose content less one trailing
/// newline is the token (the rule of the configuration's secret files).
pub fn read_token_file(path: &Path) -> Result<Secret, Error> {
    let read_error = |source| Error::TokenRead {
        path: path.to_owned(),
        source,
    };
    let meta = fs::metadata(path).map_err(read_error)?;
    if !meta.is_file() {
        return Err(Error::TokenNotFile {
            path: path.to_owned(),
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(Error::TokenMode {
            path: path.to_owned(),
            mode,
        });
    }
    let mut text = fs::read_to_string(path).map_err(read_error)?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.is_empty() {
        return Err(Error::TokenEmpty {
            path: path.to_owned(),
        });
    }
    Ok(Secret::new(text))
}

/// Writes a new token to `path` (mode 0600, durably, never half-written: see
/// `ferryman_proto::private_file`), unless a manager starting at the same moment wrote one
/// first; either way, the token now in the file.
fn create(path: &Path) -> Result<Secret, Error> {
    let token = StreamToken::generate()?.to_hex();
    let (_, created) =
        private_file::read_or_create(path, || format!("{token}\n")).map_err(|e| match e {
            PrivateFileError::Io { source, .. } => Error::TokenCreate {
                path: path.to_owned(),
                source,
            },
            PrivateFileError::Mode { mode, .. } => Error::TokenMode {
                path: path.to_owned(),
                mode,
            },
        })?;
    if created {
        tracing::info!(path = %path.display(), "generated the API token; clients read it from this file");
    }
    read_token_file(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> Config {
        let text = format!(
            "[manager]\nmonitoring-datadir = \"{}\"\n\n[clusters.c]\n\
             db-servers-credential = {{ user = \"u\" }}\n\
             replication-credential = {{ user = \"r\" }}\n\n\
             [[clusters.c.servers]]\nname = \"db1\"\nhost = \"127.0.0.1\"\n",
            dir.join("data").display()
        );
        Config::parse(&text, &dir.join("ferryman.toml")).expect("config")
    }

    #[test]
    fn generated_once_then_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config(dir.path());
        let first = load_or_create_token(&config).expect("create");
        assert_eq!(first.expose_secret().len(), StreamToken::HEX_LEN);
        let path = token_path(&config);
        let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let second = load_or_create_token(&config).expect("reuse");
        assert_eq!(first, second);
        // No temporary file is left next to it.
        let names: Vec<_> = fs::read_dir(path.parent().expect("dir"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(TOKEN_FILE)]);
    }

    #[test]
    fn readable_by_others_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config(dir.path());
        load_or_create_token(&config).expect("create");
        let path = token_path(&config);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        let e = load_or_create_token(&config).expect_err("mode 0644");
        assert!(e.to_string().contains("chmod 600"), "{e}");
    }

    #[test]
    fn configured_token_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = config(dir.path());
        config.manager.api_token = Some(Secret::new("configured".to_owned()));
        let token = load_or_create_token(&config).expect("configured");
        assert_eq!(token.expose_secret(), "configured");
        assert!(!token_path(&config).exists());
    }
}
