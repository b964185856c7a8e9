//! `[repositories.NAME]`: where backups are stored besides the manager's own repository, and
//! the check of each cluster's `backup-repositories` against them.
//!
//! The repository `local` needs no table: it is always the manager's own, in
//! `manager.monitoring-datadir`, and a `[repositories.local]` table is an error. Every key of
//! every kind is parsed (`RawRepository`), so that a key of another kind than the table's is
//! reported with the kind that takes it rather than as unknown.
//!
//! Each kind's keys are in their own file (`s3.rs`, `restic.rs`; `local` has only `path`);
//! `encryption.rs` has the `age-*` keys every kind takes, `syntax.rs` the S3 name rules.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;

use toml::Spanned;

use crate::defaults;
use crate::error::ConfigError;
use crate::raw::{RawRepository, RawRetention};
use crate::retention::RetentionOverrides;
use crate::validate::Validator;

mod encryption;
mod restic;
mod s3;
mod syntax;

pub use encryption::{parse_identities, EncryptionConfig};
pub use restic::ResticConfig;
pub use s3::S3Config;

/// One `[repositories.NAME]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryConfig {
    /// The table name, `NAME` in `[repositories.NAME]`: 1 to 64 characters from
    /// `A-Z a-z 0-9 _ . -`, but not `local`, which always means the manager's own repository in
    /// `manager.monitoring-datadir`. Clusters name it in `backup-repositories`.
    pub name: String,
    /// `kind`: `"s3"` or `"local"`, with the keys of that kind. Required; a key of the other
    /// kind is an error.
    pub kind: RepositoryKind,
    /// `backup-keep-*`: the repository's own retention, each key given replacing the
    /// cluster's for the backups stored in this repository. Default: none (the cluster's).
    pub retention: RetentionOverrides,
    /// `age-recipients`, `age-identity-file` / `age-identity-env`: encryption at rest (see
    /// [`EncryptionConfig`]). Default: none, backups are stored as they are compressed.
    pub encryption: Option<EncryptionConfig>,
}

/// A repository's `kind` and the keys that only that kind takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepositoryKind {
    /// `kind = "local"`: a directory on the manager's host, e.g. a mounted NAS.
    Local {
        /// `path`: the repository's directory. Required; relative paths are relative to the
        /// config file's directory.
        path: PathBuf,
    },
    /// `kind = "s3"`: a bucket of AWS S3 or of an S3-compatible server (Ceph's radosgw...).
    S3(S3Config),
    /// `kind = "restic"`: a restic repository, each object one snapshot (an archive tier).
    Restic(ResticConfig),
}

impl RepositoryConfig {
    /// Where the repository is, for messages: `s3://BUCKET/PREFIX` (`s3://BUCKET` without a
    /// prefix), or the local path.
    pub fn location(&self) -> String {
        match &self.kind {
            RepositoryKind::Local { path } => path.display().to_string(),
            RepositoryKind::S3(s3) => match &s3.prefix {
                Some(prefix) => format!("s3://{}/{prefix}", s3.bucket),
                None => format!("s3://{}", s3.bucket),
            },
            RepositoryKind::Restic(restic) => format!("restic:{}", restic.repository),
        }
    }
}

/// The names `backup-repositories` may use: `local`, then every `[repositories.NAME]` table's
/// (even one with errors, so that it is not also reported unknown).
pub(crate) fn names(raw: &BTreeMap<Spanned<String>, RawRepository>) -> Vec<String> {
    let mut names = vec![defaults::LOCAL_REPOSITORY.to_owned()];
    let tables = raw.keys().map(Spanned::get_ref);
    names.extend(
        tables
            .filter(|name| *name != defaults::LOCAL_REPOSITORY)
            .cloned(),
    );
    names
}

/// What the clusters' `backup-repositories` are checked against.
pub(crate) struct Names {
    /// Every name: see [`names`].
    known: Vec<String>,
    /// The encrypted repositories without an identity: the manager cannot read them back.
    write_only: Vec<String>,
}

impl Names {
    /// `known` (from [`names`]) and the write-only repositories among `repositories`.
    pub(crate) fn new(
        known: Vec<String>,
        repositories: &BTreeMap<String, RepositoryConfig>,
    ) -> Names {
        let write_only = repositories
            .values()
            .filter(|r| {
                r.encryption
                    .as_ref()
                    .is_some_and(|e| e.identity_source.is_none())
            })
            .map(|r| r.name.clone())
            .collect();
        Names { known, write_only }
    }
}

/// Validates every `[repositories.NAME]` table.
pub(crate) fn from_raw_all(
    raw: BTreeMap<Spanned<String>, RawRepository>,
    v: &mut Validator<'_>,
) -> BTreeMap<String, RepositoryConfig> {
    raw.into_iter()
        .filter_map(|(name, raw)| RepositoryConfig::from_raw(name, raw, v))
        .map(|r| (r.name.clone(), r))
        .collect()
}

/// The kinds of repository, as `kind` writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    S3,
    Local,
    Restic,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::S3 => "s3",
            Kind::Local => "local",
            Kind::Restic => "restic",
        }
    }
}

impl RepositoryConfig {
    /// Validates `[repositories.NAME]`; `None` when it cannot be used at all (its name is
    /// `local`, its kind is missing or unknown), an error having been recorded.
    fn from_raw(
        name: Spanned<String>,
        mut raw: RawRepository,
        v: &mut Validator<'_>,
    ) -> Option<RepositoryConfig> {
        let name_at = v.at(name.span());
        if name.get_ref() == defaults::LOCAL_REPOSITORY {
            v.push(ConfigError::ReservedRepositoryName { at: name_at });
            return None;
        }
        v.name("repository name", &name, false);
        let name = name.into_inner();
        let table = format!("repositories.{name}");
        let kind = match raw.kind.take() {
            None => {
                v.push(ConfigError::MissingKey {
                    at: name_at,
                    key: format!("{table}.kind"),
                });
                return None;
            }
            Some(kind) => parse_kind(&table, kind, v)?,
        };
        let retention = RetentionOverrides::from_raw(
            RawRetention {
                keep_last: raw.backup_keep_last.take(),
                keep_hourly: raw.backup_keep_hourly.take(),
                keep_daily: raw.backup_keep_daily.take(),
                keep_weekly: raw.backup_keep_weekly.take(),
                keep_monthly: raw.backup_keep_monthly.take(),
                keep_yearly: raw.backup_keep_yearly.take(),
            },
            &table,
            v,
        );
        let encryption = encryption::from_raw(
            &table,
            raw.age_recipients.take(),
            raw.age_identity_file.take(),
            raw.age_identity_env.take(),
            v,
        );
        other_kind_keys(&table, kind, &raw, v);
        let kind = match kind {
            Kind::Local => RepositoryKind::Local {
                path: match raw.path {
                    Some(path) => v.local_path(&format!("{table}.path"), Some(path), ""),
                    None => {
                        v.push(ConfigError::MissingKey {
                            at: name_at,
                            key: format!("{table}.path"),
                        });
                        PathBuf::new()
                    }
                },
            },
            Kind::S3 => RepositoryKind::S3(S3Config::from_raw(&table, raw, name_at, v)),
            Kind::Restic => RepositoryKind::Restic(restic::from_raw(&table, raw, name_at, v)),
        };
        Some(RepositoryConfig {
            name,
            kind,
            retention,
            encryption,
        })
    }
}

fn parse_kind(table: &str, raw: Spanned<String>, v: &mut Validator<'_>) -> Option<Kind> {
    let at = v.at(raw.span());
    let value = raw.into_inner();
    if let Some(kind) = [Kind::S3, Kind::Local, Kind::Restic]
        .into_iter()
        .find(|k| k.name() == value)
    {
        return Some(kind);
    }
    v.push(ConfigError::InvalidChoice {
        at,
        key: format!("{table}.kind"),
        value,
        allowed: defaults::REPOSITORY_KINDS.map(str::to_owned).to_vec(),
    });
    None
}

/// Reports every key of `raw` that `kind` does not take.
fn other_kind_keys(table: &str, kind: Kind, raw: &RawRepository, v: &mut Validator<'_>) {
    fn span<T>(value: &Option<Spanned<T>>) -> Option<Range<usize>> {
        value.as_ref().map(Spanned::span)
    }
    let keys = [
        ("path", Kind::Local, span(&raw.path)),
        ("endpoint", Kind::S3, span(&raw.endpoint)),
        ("bucket", Kind::S3, span(&raw.bucket)),
        ("prefix", Kind::S3, span(&raw.prefix)),
        ("region", Kind::S3, span(&raw.region)),
        ("path-style", Kind::S3, span(&raw.path_style)),
        ("access-key-id", Kind::S3, span(&raw.access_key_id)),
        ("access-key-id-env", Kind::S3, span(&raw.access_key_id_env)),
        (
            "secret-access-key-file",
            Kind::S3,
            span(&raw.secret_access_key_file),
        ),
        (
            "secret-access-key-env",
            Kind::S3,
            span(&raw.secret_access_key_env),
        ),
        ("part-size", Kind::S3, span(&raw.part_size)),
        ("request-timeout", Kind::S3, span(&raw.request_timeout)),
        ("retry-timeout", Kind::S3, span(&raw.retry_timeout)),
        ("repository", Kind::Restic, span(&raw.repository)),
        ("password-file", Kind::Restic, span(&raw.password_file)),
        ("password-env", Kind::Restic, span(&raw.password_env)),
    ];
    for (key, takes, span) in keys {
        if let (Some(span), true) = (span, takes != kind) {
            v.push(ConfigError::RepositoryKeyOfOtherKind {
                at: v.at(span),
                key: format!("{table}.{key}"),
                kind: kind.name(),
                takes: takes.name(),
            });
        }
    }
}

/// Validates `clusters.NAME.backup-repositories`: each a known name (see [`names`]), each
/// once, at least one, the first not write-only (the manager reads the backups back from it
/// to verify, copy and reseed). Absent: `["local"]`.
pub(crate) fn backup_repositories(
    cluster: &str,
    raw: Option<Spanned<Vec<Spanned<String>>>>,
    repositories: &Names,
    v: &mut Validator<'_>,
) -> Vec<String> {
    let known = &repositories.known;
    let Some(raw) = raw else {
        return defaults::BACKUP_REPOSITORIES.map(str::to_owned).to_vec();
    };
    let at = v.at(raw.span());
    let raw = raw.into_inner();
    if raw.is_empty() {
        v.push(ConfigError::NoBackupRepositories {
            at,
            cluster: cluster.to_owned(),
        });
    }
    let mut names: Vec<String> = Vec::new();
    for name in raw {
        let at = v.at(name.span());
        let name = name.into_inner();
        if !known.contains(&name) {
            v.push(ConfigError::UnknownRepository {
                at,
                cluster: cluster.to_owned(),
                name,
                known: known.to_vec(),
            });
        } else if names.contains(&name) {
            v.push(ConfigError::DuplicateRepository {
                at,
                cluster: cluster.to_owned(),
                name,
            });
        } else {
            if names.is_empty() && repositories.write_only.contains(&name) {
                v.push(ConfigError::WriteOnlyFirstRepository {
                    at: at.clone(),
                    cluster: cluster.to_owned(),
                    name: name.clone(),
                });
            }
            names.push(name);
        }
    }
    names
}
