//! `[repositories.NAME]`: where backups are stored besides the manager's own repository, and
//! the check of each cluster's `backup-repositories` against them.
//!
//! The repository `local` needs no table: it is always the manager's own, in
//! `manager.monitoring-datadir`, and a `[repositories.local]` table is an error. Every key of
//! every kind is parsed (`RawRepository`), so that a key of another kind than the table's is
//! reported with the kind that takes it rather than as unknown.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

use crate::defaults;
use crate::error::{ConfigError, Location};
use crate::raw::{RawRepository, RawRetention};
use crate::retention::RetentionOverrides;
use crate::secret::{Secret, SecretKind};
use crate::validate::{Secrets, Validator};
use crate::warning::ConfigWarning;

mod encryption;
mod syntax;

pub use encryption::{parse_identities, EncryptionConfig};
use syntax::{checked, Syntax};

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

/// The keys of a `kind = "s3"` repository.
///
/// Credentials: `access-key-id` (or `access-key-id-env`) and `secret-access-key-file` (or
/// `secret-access-key-env`) are set together or not at all. With neither, the S3 client takes
/// the key pair from the manager's standard AWS environment variables, `AWS_ACCESS_KEY_ID` and
/// `AWS_SECRET_ACCESS_KEY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// `endpoint`: the S3 server's URL, e.g. `"http://127.0.0.1:7480"`: `http://` or
    /// `https://`, a host and an optional port, no path beyond `/` (dropped), no query. Default
    /// (absent): `None`, AWS's endpoint of `region`.
    pub endpoint: Option<String>,
    /// `bucket`: the bucket, which must exist. Required; S3's naming rules: 3 to 63 characters
    /// from `a-z 0-9 . -`, starting and ending with a letter or digit, no `..`, not formatted
    /// as an IP address.
    pub bucket: String,
    /// `prefix`: where in the bucket the repository is, e.g. `"ferryman/prod"`: `/`-separated
    /// components of `A-Z a-z 0-9 _ . -`, none empty nor starting with `.`, no `/` at either
    /// end; at most 512 bytes. Default (absent): `None`, the bucket's root.
    pub prefix: Option<String>,
    /// `region`: the region requests are signed for. Default `"us-east-1"`; 1 to 64 characters
    /// from `A-Z a-z 0-9 _ . -`.
    pub region: String,
    /// `path-style`: `true` addresses the bucket in the path (`http://host/bucket/key`),
    /// `false` in the host name (`http://bucket.host/key`). Default `true` when `endpoint` is
    /// set (S3-compatible servers seldom have the wildcard DNS the other needs), else `false`.
    pub path_style: bool,
    /// `access-key-id`, written in the file (it is not secret), or read from the environment
    /// variable named by `access-key-id-env`; at most one of the two. `None` when neither is
    /// set, and then [`secret_access_key`](Self::secret_access_key) is `None` too.
    pub access_key_id: Option<String>,
    /// The secret access key, read from `secret-access-key-file` (a file with mode 0600 whose
    /// content, less one trailing newline, is the key; relative paths are relative to the
    /// config file's directory) or from the environment variable named by
    /// `secret-access-key-env`; at most one of the two. `None` when neither is set.
    pub secret_access_key: Option<Secret>,
    /// `part-size`: the size of each part of a multipart upload, in MiB (a part is held in
    /// memory while it is sent). Default 8; 5 to 512.
    pub part_size_mib: u32,
    /// `request-timeout`: one request (one part, at most) must complete in this, e.g. `"60s"`.
    /// Default 60s; 1s to 1h.
    pub request_timeout: Duration,
    /// `retry-timeout`: how long one request is retried on transient errors (connection
    /// refused, 5xx, 429) before the operation fails. Default 3m; 1s to 1h.
    pub retry_timeout: Duration,
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
            Kind::Restic => RepositoryKind::Restic(restic_from_raw(&table, raw, name_at, v)),
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

impl S3Config {
    /// Validates the S3 keys of `raw` (its `kind` and `path` are dealt with);
    /// `anchor` is where the table is named, for a missing `bucket`.
    fn from_raw(
        table: &str,
        raw: RawRepository,
        anchor: Location,
        v: &mut Validator<'_>,
    ) -> S3Config {
        let RawRepository {
            kind: _,
            path: _,
            endpoint,
            bucket,
            prefix,
            region,
            path_style,
            access_key_id,
            access_key_id_env,
            secret_access_key_file,
            secret_access_key_env,
            part_size,
            request_timeout,
            retry_timeout,
            repository: _,
            password_file: _,
            password_env: _,
            // Taken by RepositoryConfig::from_raw.
            age_recipients: _,
            age_identity_file: _,
            age_identity_env: _,
            backup_keep_last: _,
            backup_keep_hourly: _,
            backup_keep_daily: _,
            backup_keep_weekly: _,
            backup_keep_monthly: _,
            backup_keep_yearly: _,
        } = raw;
        let key = |k: &str| format!("{table}.{k}");
        let path_style = path_style.map_or(endpoint.is_some(), Spanned::into_inner);
        let endpoint = endpoint.map(|e| checked(&key("endpoint"), e, Syntax::Endpoint, v));
        let bucket = match bucket {
            Some(bucket) => checked(&key("bucket"), bucket, Syntax::Bucket, v),
            None => {
                v.push(ConfigError::MissingKey {
                    at: anchor,
                    key: key("bucket"),
                });
                String::new()
            }
        };
        let prefix = prefix.map(|p| checked(&key("prefix"), p, Syntax::Prefix, v));
        let region = region.map_or_else(
            || defaults::S3_REGION.to_owned(),
            |r| checked(&key("region"), r, Syntax::Region, v),
        );

        // The pair is checked on the keys written: a variable or file missing where the file
        // is only checked is a warning, not half a pair.
        let id_key = first_set(ID_KEYS, [&access_key_id, &access_key_id_env]);
        let secret_key = first_set(
            SECRET_KEYS,
            [&secret_access_key_file, &secret_access_key_env],
        );
        let incomplete = match (id_key, secret_key) {
            (Some((set, span)), None) => Some((set, span, SECRET_KEYS)),
            (None, Some((set, span))) => Some((set, span, ID_KEYS)),
            _ => None,
        };
        if let Some((set, span, missing)) = incomplete {
            v.push(ConfigError::IncompleteS3KeyPair {
                at: v.at(span),
                key: table.to_owned(),
                set,
                missing,
            });
        }
        let access_key_id = match (access_key_id, access_key_id_env) {
            (None, None) => None,
            (Some(_), Some(env)) => {
                v.push(ConfigError::BothAccessKeyIdSources {
                    at: v.at(env.span()),
                    key: table.to_owned(),
                });
                None
            }
            (Some(id), None) => {
                if id.get_ref().is_empty() {
                    v.push(ConfigError::EmptyValue {
                        at: v.at(id.span()),
                        key: key("access-key-id"),
                    });
                }
                Some(id.into_inner())
            }
            (None, Some(env)) => access_key_id_from_env(key("access-key-id-env"), env, v),
        };
        let secret_access_key = Secret::load(
            SecretKind::S3SecretKey,
            table,
            secret_access_key_file,
            secret_access_key_env,
            v,
        );

        S3Config {
            endpoint,
            bucket,
            prefix,
            region,
            path_style,
            access_key_id,
            secret_access_key,
            part_size_mib: v.integer(
                &key("part-size"),
                part_size,
                defaults::S3_PART_SIZE_MIB,
                (
                    defaults::S3_PART_SIZE_MIB_MIN,
                    defaults::S3_PART_SIZE_MIB_MAX,
                ),
            ),
            request_timeout: v.duration(
                &key("request-timeout"),
                request_timeout,
                defaults::S3_REQUEST_TIMEOUT,
                defaults::S3_REQUEST_TIMEOUT_RANGE,
            ),
            retry_timeout: v.duration(
                &key("retry-timeout"),
                retry_timeout,
                defaults::S3_RETRY_TIMEOUT,
                defaults::S3_RETRY_TIMEOUT_RANGE,
            ),
        }
    }
}

/// Validates the keys of a `kind = "restic"` table (`anchor`: where it is named).
fn restic_from_raw(
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

/// The keys of the access key ID.
const ID_KEYS: [&str; 2] = ["access-key-id", "access-key-id-env"];
/// The keys of the secret access key.
const SECRET_KEYS: [&str; 2] = ["secret-access-key-file", "secret-access-key-env"];

/// The first of `keys` whose value is set, with where the value is.
fn first_set(
    keys: [&'static str; 2],
    values: [&Option<Spanned<String>>; 2],
) -> Option<(&'static str, Range<usize>)> {
    keys.into_iter()
        .zip(values)
        .find_map(|(key, value)| value.as_ref().map(|v| (key, v.span())))
}

/// The access key ID in the variable `raw` names; unset is a warning when secrets are deferred.
fn access_key_id_from_env(
    key: String,
    raw: Spanned<String>,
    v: &mut Validator<'_>,
) -> Option<String> {
    let at = v.at(raw.span());
    let var = raw.into_inner();
    if var.is_empty() {
        v.push(ConfigError::EmptyValue { at, key });
        return None;
    }
    let problem = match std::env::var(&var) {
        Ok(value) if !value.is_empty() => return Some(value),
        Ok(_) => "is empty",
        Err(std::env::VarError::NotPresent) if v.secrets == Secrets::Deferred => {
            v.warn(ConfigWarning::AccessKeyIdEnvUnset { at, key, var });
            return None;
        }
        Err(std::env::VarError::NotPresent) => "is not set",
        Err(std::env::VarError::NotUnicode(_)) => "is not valid UTF-8",
    };
    v.push(ConfigError::AccessKeyIdEnv {
        at,
        key,
        var,
        problem,
    });
    None
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
