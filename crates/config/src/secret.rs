//! [`Secret`]: a password or token that never shows up in logs, and how the config reads one
//! from a 0600 file (`*-file`) or an environment variable (`*-env`).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use toml::Spanned;

use crate::error::{ConfigError, Location};
use crate::validate::{Secrets, Validator};
use crate::warning::ConfigWarning;

/// A password or other credential, redacted in `Debug` and `Display`.
///
/// It deliberately has no `Serialize`: the only way to the value is
/// [`expose_secret`](Secret::expose_secret), which makes every use easy to find.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    /// The secret value, to hand to a database driver; never log or put it on a command line.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[SECRET]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[SECRET]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

/// What a [`Secret`] in the config is for; it names the pair of keys the secret is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretKind {
    /// A database password: `password-file` or `password-env` of a credential.
    Password,
    /// The manager's HTTP API token: `manager.api-token-file` or `manager.api-token-env`.
    ApiToken,
    /// The secret access key of an S3 repository: `repositories.NAME.secret-access-key-file`
    /// or `repositories.NAME.secret-access-key-env`.
    S3SecretKey,
    /// The age identity that decrypts an encrypted repository:
    /// `repositories.NAME.age-identity-file` or `repositories.NAME.age-identity-env`.
    AgeIdentity,
    /// The password of a restic repository: `repositories.NAME.password-file` or
    /// `repositories.NAME.password-env`.
    ResticPassword,
    /// The SMTP password of a mail channel: `notifications.email.NAME.password-file` or
    /// `notifications.email.NAME.password-env`.
    SmtpPassword,
    /// The HMAC-SHA256 key that signs a webhook channel's bodies:
    /// `notifications.webhook.NAME.secret-file` or `notifications.webhook.NAME.secret-env`.
    WebhookSecret,
    /// The token that reads `GET /metrics` only (what Prometheus is given):
    /// `manager.metrics-token-file` or `manager.metrics-token-env`.
    MetricsToken,
}

impl SecretKind {
    /// The key naming a file that holds the secret, e.g. `password-file`.
    pub fn file_key(self) -> &'static str {
        match self {
            SecretKind::Password => "password-file",
            SecretKind::ApiToken => "api-token-file",
            SecretKind::S3SecretKey => "secret-access-key-file",
            SecretKind::AgeIdentity => "age-identity-file",
            SecretKind::ResticPassword => "password-file",
            SecretKind::SmtpPassword => "password-file",
            SecretKind::WebhookSecret => "secret-file",
            SecretKind::MetricsToken => "metrics-token-file",
        }
    }

    /// The key naming an environment variable that holds the secret, e.g. `password-env`.
    pub fn env_key(self) -> &'static str {
        match self {
            SecretKind::Password => "password-env",
            SecretKind::ApiToken => "api-token-env",
            SecretKind::S3SecretKey => "secret-access-key-env",
            SecretKind::AgeIdentity => "age-identity-env",
            SecretKind::ResticPassword => "password-env",
            SecretKind::SmtpPassword => "password-env",
            SecretKind::WebhookSecret => "secret-env",
            SecretKind::MetricsToken => "metrics-token-env",
        }
    }

    /// Who reads the secret, as the start of "... will need it".
    pub(crate) fn needed_by(self) -> &'static str {
        match self {
            SecretKind::Password => "the manager and the agents",
            SecretKind::ApiToken => "the manager and the CLI's commands",
            SecretKind::S3SecretKey
            | SecretKind::AgeIdentity
            | SecretKind::ResticPassword
            | SecretKind::SmtpPassword
            | SecretKind::WebhookSecret
            | SecretKind::MetricsToken => "the manager",
        }
    }

    /// Whether [`needed_by`](Self::needed_by) names more than one program: "they start" or
    /// "it starts".
    pub(crate) fn needed_by_several(self) -> bool {
        match self {
            SecretKind::Password | SecretKind::ApiToken => true,
            SecretKind::S3SecretKey
            | SecretKind::AgeIdentity
            | SecretKind::ResticPassword
            | SecretKind::SmtpPassword
            | SecretKind::WebhookSecret
            | SecretKind::MetricsToken => false,
        }
    }

    /// What happens when neither key is set, as the end of "remove `KEY` to ...".
    pub(crate) fn when_absent(self) -> &'static str {
        match self {
            SecretKind::Password => "connect without a password",
            SecretKind::ApiToken => "let the manager generate a token at first start",
            SecretKind::S3SecretKey => "use the AWS_* environment variables of the manager",
            SecretKind::AgeIdentity => {
                "keep the repository write-only (backups are encrypted for `age-recipients`, and \
                 only a holder of their identity reads them)"
            }
            SecretKind::ResticPassword => {
                "leave the repository unusable: a restic repository always has a password"
            }
            SecretKind::SmtpPassword => "send mail without logging in (then remove `user` too)",
            SecretKind::WebhookSecret => "send the webhook's bodies unsigned",
            SecretKind::MetricsToken => "let `/metrics` take the API token only",
        }
    }
}

impl fmt::Display for SecretKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecretKind::Password => "password",
            SecretKind::ApiToken => "API token",
            SecretKind::S3SecretKey => "S3 secret access key",
            SecretKind::AgeIdentity => "age identity",
            SecretKind::ResticPassword => "restic password",
            SecretKind::SmtpPassword => "SMTP password",
            SecretKind::WebhookSecret => "webhook secret",
            SecretKind::MetricsToken => "metrics token",
        })
    }
}

impl Secret {
    /// Reads the secret of `kind` from its `*-file` key (`file`), its `*-env` key (`env`), or
    /// neither (`None`). Both set is an error; so is an empty value, file or variable. A file
    /// that is not there (or not readable by this user) or a variable that is not set is an
    /// error too, or only a warning when the validator defers secrets (`config check`); the
    /// secret is then `None`. `table` is the dotted path of the table that holds the keys, for
    /// messages.
    pub(crate) fn load(
        kind: SecretKind,
        table: &str,
        file: Option<Spanned<String>>,
        env: Option<Spanned<String>>,
        v: &mut Validator<'_>,
    ) -> Option<Secret> {
        match (file, env) {
            (None, None) => None,
            (Some(_), Some(env)) => {
                v.push(ConfigError::BothSecretSources {
                    at: v.at(env.span()),
                    kind,
                    key: table.to_owned(),
                });
                None
            }
            (Some(file), None) => from_file(kind, table, file, v),
            (None, Some(env)) => from_env(kind, table, env, v),
        }
    }
}

fn from_file(
    kind: SecretKind,
    table: &str,
    raw: Spanned<String>,
    v: &mut Validator<'_>,
) -> Option<Secret> {
    let at = v.at(raw.span());
    let value = raw.into_inner();
    if value.is_empty() {
        v.push(ConfigError::EmptyValue {
            at,
            key: format!("{table}.{}", kind.file_key()),
        });
        return None;
    }
    let path = v.source.dir().join(value);
    match read_file(kind, &path, at) {
        Ok(secret) => Some(secret),
        Err(ConfigError::SecretFileUnreadable {
            at,
            kind,
            path,
            cause,
        }) if v.secrets == Secrets::Deferred
            && matches!(
                cause.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            v.warn(ConfigWarning::SecretFileUnreadable {
                at,
                kind,
                key: format!("{table}.{}", kind.file_key()),
                path,
                cause,
            });
            None
        }
        Err(e) => {
            v.push(e);
            None
        }
    }
}

/// Reads a secret file after checking that only its owner can read it.
fn read_file(kind: SecretKind, path: &Path, at: Location) -> Result<Secret, ConfigError> {
    let unreadable = |cause: std::io::Error, at: Location| ConfigError::SecretFileUnreadable {
        at,
        kind,
        path: path.to_path_buf(),
        cause: Arc::new(cause),
    };
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(cause) => return Err(unreadable(cause, at)),
    };
    if !meta.is_file() {
        return Err(ConfigError::SecretFileNotRegular {
            at,
            kind,
            path: path.to_path_buf(),
        });
    }
    check_mode(kind, path, &meta, &at)?;
    let mut content = match std::fs::read_to_string(path) {
        Ok(content) => content,
        Err(cause) => return Err(unreadable(cause, at)),
    };
    // `echo secret > file` adds a newline that is not part of the secret.
    if content.ends_with('\n') {
        content.pop();
        if content.ends_with('\r') {
            content.pop();
        }
    }
    if content.is_empty() {
        return Err(ConfigError::SecretFileEmpty {
            at,
            kind,
            path: path.to_path_buf(),
        });
    }
    Ok(Secret::new(content))
}

#[cfg(unix)]
fn check_mode(
    kind: SecretKind,
    path: &Path,
    meta: &std::fs::Metadata,
    at: &Location,
) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(ConfigError::SecretFileMode {
            at: at.clone(),
            kind,
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(
    _: SecretKind,
    _: &Path,
    _: &std::fs::Metadata,
    _: &Location,
) -> Result<(), ConfigError> {
    Ok(())
}

fn from_env(
    kind: SecretKind,
    table: &str,
    raw: Spanned<String>,
    v: &mut Validator<'_>,
) -> Option<Secret> {
    let at = v.at(raw.span());
    let var = raw.into_inner();
    if var.is_empty() {
        v.push(ConfigError::EmptyValue {
            at,
            key: format!("{table}.{}", kind.env_key()),
        });
        return None;
    }
    match std::env::var(&var) {
        Ok(value) if value.is_empty() => {
            v.push(ConfigError::SecretEnvEmpty { at, kind, var });
            None
        }
        Ok(value) => Some(Secret::new(value)),
        Err(std::env::VarError::NotPresent) => {
            if v.secrets == Secrets::Deferred {
                v.warn(ConfigWarning::SecretEnvUnset {
                    at,
                    kind,
                    key: format!("{table}.{}", kind.env_key()),
                    var,
                });
            } else {
                v.push(ConfigError::SecretEnvUnset { at, kind, var });
            }
            None
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            v.push(ConfigError::SecretEnvNotUnicode { at, kind, var });
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let s = Secret::new("hunter2".to_owned());
        assert_eq!(format!("{s}"), "[SECRET]");
        assert_eq!(format!("{s:?}"), "[SECRET]");
        assert_eq!(format!("{s:#?}"), "[SECRET]");
        assert_eq!(s.expose_secret(), "hunter2");
    }
}
