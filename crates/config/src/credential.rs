//! Database credentials, with the password read from a 0600 file or an environment variable.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::Spanned;

use crate::error::{ConfigError, Location};
use crate::raw::RawCredential;
use crate::secret::Secret;
use crate::validate::Validator;

/// A database user and its password, written
/// `{ user = "...", password-file = "/path" }`, `{ user = "...", password-env = "VAR" }`, or
/// `{ user = "..." }` for password-less logins such as `unix_socket`.
///
/// `Debug` shows the user but never the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// `user`: the database user. Required.
    pub user: String,
    /// The password, read from `password-file` (a file with mode 0600 whose content, less one
    /// trailing newline, is the password; relative paths are relative to the config file's
    /// directory) or from the environment variable named by `password-env`. At most one of the
    /// two may be set; with neither, `None`.
    pub password: Option<Secret>,
}

impl Credential {
    /// Validates `raw` (the value of `key`) and loads its password. `anchor` is where errors
    /// about the credential as a whole point.
    pub(crate) fn from_raw(
        raw: Option<RawCredential>,
        key: &str,
        anchor: Range<usize>,
        v: &mut Validator<'_>,
    ) -> Credential {
        let Some(raw) = raw else {
            v.push(ConfigError::MissingKey {
                at: v.at(anchor),
                key: key.to_owned(),
            });
            return Credential {
                user: String::new(),
                password: None,
            };
        };
        let RawCredential {
            user,
            password_file,
            password_env,
        } = raw;
        let user = match user {
            None => {
                v.push(ConfigError::MissingKey {
                    at: v.at(anchor),
                    key: format!("{key}.user"),
                });
                String::new()
            }
            Some(user) => {
                if user.get_ref().is_empty() {
                    v.push(ConfigError::EmptyValue {
                        at: v.at(user.span()),
                        key: format!("{key}.user"),
                    });
                }
                user.into_inner()
            }
        };
        let password = match (password_file, password_env) {
            (None, None) => None,
            (Some(_), Some(env)) => {
                v.push(ConfigError::BothPasswordSources {
                    at: v.at(env.span()),
                    key: key.to_owned(),
                });
                None
            }
            (Some(file), None) => password_from_file(file, key, v),
            (None, Some(env)) => password_from_env(env, key, v),
        };
        Credential { user, password }
    }
}

fn password_from_file(raw: Spanned<String>, key: &str, v: &mut Validator<'_>) -> Option<Secret> {
    let at = v.at(raw.span());
    let value = raw.into_inner();
    if value.is_empty() {
        v.push(ConfigError::EmptyValue {
            at,
            key: format!("{key}.password-file"),
        });
        return None;
    }
    let path = v.source.dir().join(value);
    match read_password_file(&path, at) {
        Ok(secret) => Some(secret),
        Err(e) => {
            v.push(e);
            None
        }
    }
}

/// Reads a password file after checking that only its owner can read it.
fn read_password_file(path: &Path, at: Location) -> Result<Secret, ConfigError> {
    let unreadable = |cause: std::io::Error, at: Location| ConfigError::PasswordFileUnreadable {
        at,
        path: path.to_path_buf(),
        cause: Arc::new(cause),
    };
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(cause) => return Err(unreadable(cause, at)),
    };
    if !meta.is_file() {
        return Err(ConfigError::PasswordFileNotRegular {
            at,
            path: path.to_path_buf(),
        });
    }
    check_mode(path, &meta, &at)?;
    let mut content = match std::fs::read_to_string(path) {
        Ok(content) => content,
        Err(cause) => return Err(unreadable(cause, at)),
    };
    // `echo secret > file` adds a newline that is not part of the password.
    if content.ends_with('\n') {
        content.pop();
        if content.ends_with('\r') {
            content.pop();
        }
    }
    if content.is_empty() {
        return Err(ConfigError::PasswordFileEmpty {
            at,
            path: path.to_path_buf(),
        });
    }
    Ok(Secret::new(content))
}

#[cfg(unix)]
fn check_mode(path: &Path, meta: &std::fs::Metadata, at: &Location) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(ConfigError::PasswordFileMode {
            at: at.clone(),
            path: PathBuf::from(path),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_: &Path, _: &std::fs::Metadata, _: &Location) -> Result<(), ConfigError> {
    Ok(())
}

fn password_from_env(raw: Spanned<String>, key: &str, v: &mut Validator<'_>) -> Option<Secret> {
    let at = v.at(raw.span());
    let var = raw.into_inner();
    if var.is_empty() {
        v.push(ConfigError::EmptyValue {
            at,
            key: format!("{key}.password-env"),
        });
        return None;
    }
    match std::env::var(&var) {
        Ok(password) => Some(Secret::new(password)),
        Err(std::env::VarError::NotPresent) => {
            v.push(ConfigError::PasswordEnvUnset { at, var });
            None
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            v.push(ConfigError::PasswordEnvNotUnicode { at, var });
            None
        }
    }
}
