//! Database credentials, with the password read from a 0600 file or an environment variable.

use std::ops::Range;

use crate::error::ConfigError;
use crate::raw::RawCredential;
use crate::secret::{Secret, SecretKind};
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
        let password = Secret::load(SecretKind::Password, key, password_file, password_env, v);
        Credential { user, password }
    }
}
