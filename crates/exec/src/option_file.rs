//! 0600 client option files: how MariaDB/MySQL tools get a password without a command line.
//!
//! `mariabackup`, `mysqldump`, `mydumper`, `mariadb` and kin read `--defaults-extra-file=PATH`
//! (it must be their first argument). The file is created with mode 0600 before anything is
//! written to it, lives only as long as the [`OptionFile`] value, and is removed on drop, also
//! when the tool failed or the caller returned early with an error.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// A `[client]` option file holding connection settings, removed when dropped.
#[derive(Debug)]
pub struct OptionFile {
    file: tempfile::NamedTempFile,
}

/// What goes into the `[client]` group.
#[derive(Clone, Default)]
pub struct ClientOptions<'a> {
    /// `user`.
    pub user: Option<&'a str>,
    /// `password`.
    pub password: Option<&'a str>,
    /// `host`.
    pub host: Option<&'a str>,
    /// `port`.
    pub port: Option<u16>,
    /// `socket`.
    pub socket: Option<&'a Path>,
    /// TLS options as the MariaDB tools name them (`ssl`, `ssl-ca=...`, ...): a name alone
    /// for a switch, with a value otherwise. Empty: the tools' default (no TLS).
    pub ssl: &'a [(&'static str, Option<String>)],
}

impl std::fmt::Debug for ClientOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("user", &self.user)
            .field("password", &self.password.map(|_| "[SECRET]"))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("socket", &self.socket)
            .field("ssl", &self.ssl)
            .finish()
    }
}

impl OptionFile {
    /// Writes `options` as a `[client]` group into a new 0600 file in `dir`.
    pub fn create(dir: &Path, options: &ClientOptions<'_>) -> Result<OptionFile> {
        Self::write(dir, String::new(), options)
    }

    /// Like [`OptionFile::create`], but the file first includes `defaults` (a server's
    /// `my.cnf`) with `!include`: for tools such as mariabackup that accept only one of
    /// `--defaults-file` and `--defaults-extra-file`, and need both the server's options and
    /// the credential. Pass it with [`OptionFile::defaults_file_arg`].
    pub fn create_including(
        dir: &Path,
        defaults: &Path,
        options: &ClientOptions<'_>,
    ) -> Result<OptionFile> {
        Self::write(dir, format!("!include {}\n", defaults.display()), options)
    }

    fn write(dir: &Path, mut text: String, options: &ClientOptions<'_>) -> Result<OptionFile> {
        text.push_str("[client]\n");
        let mut put = |key: &str, value: &str| text.push_str(&format!("{key}={}\n", quote(value)));
        if let Some(v) = options.user {
            put("user", v);
        }
        if let Some(v) = options.password {
            put("password", v);
        }
        if let Some(v) = options.host {
            put("host", v);
        }
        if let Some(v) = options.port {
            put("port", &v.to_string());
        }
        if let Some(v) = options.socket {
            put("socket", &v.display().to_string());
        }
        let mut switches = Vec::new();
        for (key, value) in options.ssl {
            match value {
                Some(v) => put(key, v),
                None => switches.push(*key),
            }
        }
        for key in switches {
            text.push_str(&format!("{key}\n"));
        }
        // tempfile creates with O_EXCL and mode 0600: the secret is never readable by others,
        // not even for an instant.
        let mut file = tempfile::Builder::new()
            .prefix(".ferryman-client-")
            .suffix(".cnf")
            .tempfile_in(dir)
            .map_err(|source| Error::Io {
                action: "create a client option file in",
                path: dir.to_owned(),
                source,
            })?;
        let write_err = |source| Error::Io {
            action: "write client option file",
            path: dir.to_owned(),
            source,
        };
        file.write_all(text.as_bytes()).map_err(write_err)?;
        file.as_file().sync_all().map_err(write_err)?;
        Ok(OptionFile { file })
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// The argument that makes a tool read it: `--defaults-extra-file=PATH` (tools require it
    /// to come first).
    pub fn arg(&self) -> String {
        format!("--defaults-extra-file={}", self.path().display())
    }

    /// The argument that makes a tool read only this file (and what it includes):
    /// `--defaults-file=PATH`, also to be given first.
    pub fn defaults_file_arg(&self) -> String {
        format!("--defaults-file={}", self.path().display())
    }

    /// The path, owned (for messages).
    pub fn to_path_buf(&self) -> PathBuf {
        self.path().to_owned()
    }
}

/// Quotes a value for an option file: double quotes, with `\` and `"` escaped and control
/// characters written as escapes, as the MariaDB option-file parser reads them.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_file_is_0600_quoted_and_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let opts = ClientOptions {
            user: Some("ferryman"),
            password: Some("a\"b\\c d#e"),
            host: Some("127.0.0.1"),
            port: Some(3306),
            socket: None,
            ssl: &[],
        };
        assert!(!format!("{opts:?}").contains("a\"b"));
        let file = OptionFile::create(dir.path(), &opts).unwrap();
        let path = file.to_path_buf();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "[client]\nuser=\"ferryman\"\npassword=\"a\\\"b\\\\c d#e\"\nhost=\"127.0.0.1\"\nport=\"3306\"\n"
        );
        assert!(file.arg().starts_with("--defaults-extra-file=/"));
        drop(file);
        assert!(!path.exists());
    }

    #[test]
    fn an_including_file_names_the_server_defaults_first() {
        let dir = tempfile::tempdir().unwrap();
        let opts = ClientOptions {
            user: Some("u"),
            ..ClientOptions::default()
        };
        let file = OptionFile::create_including(dir.path(), Path::new("/etc/mysql/my.cnf"), &opts)
            .unwrap();
        let text = std::fs::read_to_string(file.path()).unwrap();
        assert_eq!(text, "!include /etc/mysql/my.cnf\n[client]\nuser=\"u\"\n");
        assert!(file.defaults_file_arg().starts_with("--defaults-file=/"));
    }
}
