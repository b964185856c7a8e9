//! [`ConfigWarning`]: what `ferryman config check` reports without failing.
//!
//! A check may run on another host, or in another shell, than the daemons: a secret (or an S3
//! access key ID) whose variable is not set or whose file is not there is not a fault of the
//! file. The daemons ([`Config::load`](crate::Config::load)) still refuse to start without it.
//! A notification channel that no route names is a warning too: the file works, but the
//! channel is never sent anything, which is seldom what was meant.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::Location;
use crate::secret::SecretKind;

/// Something the daemons will need that is not there where the file was checked.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigWarning {
    /// The variable named by a `*-env` key is not set.
    #[error("{at}: environment variable `{var}` (`{key}`) is not set here: {} will need it set to the {kind} when {}", kind.needed_by(), they_start(*kind))]
    SecretEnvUnset {
        /// Where the `*-env` key is.
        at: Location,
        /// What the secret is.
        kind: SecretKind,
        /// Dotted path of the `*-env` key.
        key: String,
        /// The variable.
        var: String,
    },

    /// The file named by a `*-file` key does not exist, or this user cannot read it.
    #[error("{at}: {kind} file `{}` (`{key}`) cannot be read here: {cause}: {} will need it readable by the user {}, with mode 0600", path.display(), kind.needed_by(), they_run_as(*kind))]
    SecretFileUnreadable {
        /// Where the `*-file` key is.
        at: Location,
        /// What the secret is.
        kind: SecretKind,
        /// Dotted path of the `*-file` key.
        key: String,
        /// The resolved path.
        path: PathBuf,
        /// Why.
        cause: Arc<std::io::Error>,
    },

    /// The variable named by `repositories.NAME.access-key-id-env` is not set.
    #[error("{at}: environment variable `{var}` (`{key}`) is not set here: the manager will need it set to the S3 access key ID when it starts")]
    AccessKeyIdEnvUnset {
        /// Where the `access-key-id-env` key is.
        at: Location,
        /// Dotted path of the key.
        key: String,
        /// The variable.
        var: String,
    },

    /// A `[notifications.email.NAME]` or `[notifications.webhook.NAME]` channel that no
    /// `[[notifications.route]]` names.
    #[error("{at}: channel `{name}` ([notifications.{table}.{name}]) is named by no [[notifications.route]], so it is never sent anything: add a route with channel = \"{name}\", or remove the table")]
    UnusedChannel {
        /// Where the channel is named.
        at: Location,
        /// The channel.
        name: String,
        /// `email` or `webhook`.
        table: &'static str,
    },
}

/// "they start", or "it starts" when one program needs the secret.
fn they_start(kind: SecretKind) -> &'static str {
    if kind.needed_by_several() {
        "they start"
    } else {
        "it starts"
    }
}

/// "they run as", or "it runs as" when one program needs the secret.
fn they_run_as(kind: SecretKind) -> &'static str {
    if kind.needed_by_several() {
        "they run as"
    } else {
        "it runs as"
    }
}
