//! The keys of a `kind = "s3"` repository: the bucket, where it is, and the key pair.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::syntax::{checked, Syntax};
use crate::defaults;
use crate::error::{ConfigError, Location};
use crate::raw::RawRepository;
use crate::secret::{Secret, SecretKind};
use crate::validate::{Secrets, Validator};
use crate::warning::ConfigWarning;

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

impl S3Config {
    /// Validates the S3 keys of `raw` (its `kind` and `path` are dealt with);
    /// `anchor` is where the table is named, for a missing `bucket`.
    pub(super) fn from_raw(
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
