//! The keys of a `kind = "restic"` repository: where the restic repository is, and its
//! password.

use crate::error::{ConfigError, Location};
use crate::raw::RawRepository;
use crate::secret::{Secret, SecretKind};
use crate::validate::Validator;

/// The keys of a `kind = "restic"` repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResticConfig {
    /// `repository`: what `restic -r` takes: a local path (relative to the config file's
    /// directory when relative) or a backend URL (`sftp:host:/path`, `s3:https://host/bucket`,
    /// `rest:http://host:8000/`...), whose credentials restic reads from the manager's
    /// environment as usual. Required; the repository must exist (`restic init`).
    pub repository: String,
    /// The repository's password, read from `password-file` (mode 0600) or from the
    /// environment variable named by `password-env`; one of the two is required. `None` only
    /// when a `config check` that defers secrets could not read it.
    pub password: Option<Secret>,
}

/// Validates the keys of a `kind = "restic"` table (`anchor`: where it is named).
pub(super) fn from_raw(
    table: &str,
    raw: RawRepository,
    anchor: Location,
    v: &mut Validator<'_>,
) -> ResticConfig {
    let repository = match raw.repository {
        None => {
            v.push(ConfigError::MissingKey {
                at: anchor.clone(),
                key: format!("{table}.repository"),
            });
            String::new()
        }
        Some(value) if value.get_ref().trim().is_empty() => {
            v.push(ConfigError::EmptyValue {
                at: v.at(value.span()),
                key: format!("{table}.repository"),
            });
            String::new()
        }
        // A backend URL (`sftp:`, `s3:`, `rest:`...) is taken as written; a path is resolved
        // against the config file's directory.
        Some(value) if is_backend_url(value.get_ref()) => value.into_inner(),
        Some(value) => v
            .source
            .dir()
            .join(value.into_inner())
            .display()
            .to_string(),
    };
    if raw.password_file.is_none() && raw.password_env.is_none() {
        v.push(ConfigError::MissingKey {
            at: anchor,
            key: format!("{table}.password-file"),
        });
    }
    let password = Secret::load(
        SecretKind::ResticPassword,
        table,
        raw.password_file,
        raw.password_env,
        v,
    );
    ResticConfig {
        repository,
        password,
    }
}

/// True for a restic backend URL (`sftp:`, `s3:`, `rest:`, `b2:`, `azure:`, `gs:`, `swift:`,
/// `rclone:`), as opposed to a local path.
fn is_backend_url(repository: &str) -> bool {
    [
        "sftp:", "s3:", "rest:", "b2:", "azure:", "gs:", "swift:", "rclone:",
    ]
    .iter()
    .any(|scheme| repository.starts_with(scheme))
}
