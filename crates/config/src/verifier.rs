//! `[verifier]` and the `verify-*` keys of `[clusters.NAME]`: how the manager test-restores
//! stored backups into throwaway servers, and what every restored backup of a cluster must hold.
//!
//! When verifications run is the cluster's scheduler entry `scheduler-db-servers-verify`
//! ([`SchedulerConfig::verify`](crate::SchedulerConfig::verify)).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

use crate::defaults;
use crate::error::ConfigError;
use crate::raw::{RawClusterVerify, RawVerifier};
use crate::validate::Validator;

/// Longest database or table name MariaDB allows, in characters.
const MAX_NAME_CHARS: usize = 64;

/// The `[verifier]` table: where and how backups are test-restored.
///
/// A verification restores one stored backup into a throwaway server (a private `mariadbd` on
/// a fresh directory under `work-dir`), checks what it holds, and removes the server again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierConfig {
    /// `work-dir`: where throwaway servers are created, one directory per verification.
    /// Relative paths are relative to the config file's directory. Default
    /// `/var/lib/ferryman/verify`.
    pub work_dir: PathBuf,
    /// `concurrency`: how many verifications (test restores) run at once, across clusters; it
    /// also bounds the fleet run (`ferryman verify --all-clusters`). Default 1; 1 to 64.
    pub concurrency: u32,
    /// `buffer-pool-mib`: the InnoDB buffer pool (MiB) of each throwaway server. Default 512;
    /// 16 to 1048576.
    pub buffer_pool_mib: u32,
    /// `start-timeout`: how long a throwaway server may take to accept connections (crash
    /// recovery included) before the verification fails. Default 300s; 10s to 1h.
    pub start_timeout: Duration,
    /// `restore-timeout`: the bound on one backup's whole verification (unpacking, preparing,
    /// starting, importing, checking). Default 6h; 1m to 7d.
    pub restore_timeout: Duration,
    /// `size-change-percent`: a backup whose raw (uncompressed) size differs from that of the
    /// previous good (verified) backup of the same source (cluster, server, tool) by more than
    /// this percent of the previous one's size, in either direction, fails verification. 0
    /// turns the check off (see [`VerifierConfig::size_change_limit`]). Default 50; 0 to
    /// 100000.
    pub size_change_percent: u32,
    /// `check-tables`: run `CHECK TABLE` on every restored table; a table that is not `OK`
    /// fails the verification. Default true.
    pub check_tables: bool,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        VerifierConfig {
            work_dir: PathBuf::from(defaults::VERIFIER_WORK_DIR),
            concurrency: defaults::VERIFIER_CONCURRENCY,
            buffer_pool_mib: defaults::VERIFIER_BUFFER_POOL_MIB,
            start_timeout: defaults::VERIFIER_START_TIMEOUT,
            restore_timeout: defaults::VERIFIER_RESTORE_TIMEOUT,
            size_change_percent: defaults::VERIFIER_SIZE_CHANGE_PERCENT,
            check_tables: defaults::VERIFIER_CHECK_TABLES,
        }
    }
}

impl VerifierConfig {
    /// The size check's limit in percent, or `None` when `size-change-percent` is 0 (off).
    pub fn size_change_limit(&self) -> Option<u32> {
        (self.size_change_percent != 0).then_some(self.size_change_percent)
    }

    pub(crate) fn from_raw(raw: RawVerifier, v: &mut Validator<'_>) -> Self {
        let RawVerifier {
            work_dir,
            concurrency,
            buffer_pool_mib,
            start_timeout,
            restore_timeout,
            size_change_percent,
            check_tables,
        } = raw;
        VerifierConfig {
            work_dir: v.local_path("verifier.work-dir", work_dir, defaults::VERIFIER_WORK_DIR),
            concurrency: v.integer(
                "verifier.concurrency",
                concurrency,
                defaults::VERIFIER_CONCURRENCY,
                (
                    defaults::VERIFIER_CONCURRENCY_MIN,
                    defaults::VERIFIER_CONCURRENCY_MAX,
                ),
            ),
            buffer_pool_mib: v.integer(
                "verifier.buffer-pool-mib",
                buffer_pool_mib,
                defaults::VERIFIER_BUFFER_POOL_MIB,
                (
                    defaults::VERIFIER_BUFFER_POOL_MIB_MIN,
                    defaults::VERIFIER_BUFFER_POOL_MIB_MAX,
                ),
            ),
            start_timeout: v.duration(
                "verifier.start-timeout",
                start_timeout,
                defaults::VERIFIER_START_TIMEOUT,
                (
                    defaults::VERIFIER_START_TIMEOUT_MIN,
                    defaults::VERIFIER_START_TIMEOUT_MAX,
                ),
            ),
            restore_timeout: v.duration(
                "verifier.restore-timeout",
                restore_timeout,
                defaults::VERIFIER_RESTORE_TIMEOUT,
                (
                    defaults::VERIFIER_RESTORE_TIMEOUT_MIN,
                    defaults::VERIFIER_RESTORE_TIMEOUT_MAX,
                ),
            ),
            size_change_percent: v.integer(
                "verifier.size-change-percent",
                size_change_percent,
                defaults::VERIFIER_SIZE_CHANGE_PERCENT,
                (
                    defaults::VERIFIER_SIZE_CHANGE_PERCENT_MIN,
                    defaults::VERIFIER_SIZE_CHANGE_PERCENT_MAX,
                ),
            ),
            check_tables: check_tables.unwrap_or(defaults::VERIFIER_CHECK_TABLES),
        }
    }
}

/// The `verify-*` keys of `[clusters.NAME]`: what every restored backup of the cluster must
/// hold, besides what its manifest records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterVerifyConfig {
    /// `verify-expected-databases`: databases that must exist in every restored backup of this
    /// cluster (besides those recorded in the backup's manifest), e.g. `["shop", "billing"]`.
    /// Each is a name as MariaDB shows it, 1 to 64 characters without NUL. Default `[]`.
    pub expected_databases: Vec<String>,
    /// `verify-nonempty-tables`: tables that must exist and hold at least one row in every
    /// restored backup of this cluster, written `"database.table"` (split at the first `.`;
    /// each part 1 to 64 characters without NUL), e.g. `["shop.orders"]`. Default `[]`.
    pub nonempty_tables: Vec<TableName>,
}

impl ClusterVerifyConfig {
    /// Validates the `verify-*` keys of cluster `cluster`.
    pub(crate) fn from_raw(raw: RawClusterVerify, cluster: &str, v: &mut Validator<'_>) -> Self {
        let RawClusterVerify {
            expected_databases,
            nonempty_tables,
        } = raw;
        let key = |k: &str| format!("clusters.{cluster}.{k}");
        let databases_key = key("verify-expected-databases");
        let expected_databases = expected_databases
            .into_iter()
            .filter_map(|raw| {
                let (at, value) = (v.at(raw.span()), raw.into_inner());
                match check_name(&value) {
                    Ok(()) => Some(value),
                    Err(reason) => {
                        v.push(ConfigError::InvalidDatabaseName {
                            at,
                            key: databases_key.clone(),
                            value,
                            reason,
                        });
                        None
                    }
                }
            })
            .collect();
        let tables_key = key("verify-nonempty-tables");
        let nonempty_tables = nonempty_tables
            .into_iter()
            .filter_map(|raw| table_name(&tables_key, raw, v))
            .collect();
        ClusterVerifyConfig {
            expected_databases,
            nonempty_tables,
        }
    }
}

/// A table named with its database, as written in `verify-nonempty-tables`; displays as
/// `database.table` (unquoted: quote each part as an identifier before putting it in SQL).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableName {
    /// The database (schema), the text before the first `.`.
    pub database: String,
    /// The table, the text after the first `.` (it may contain more dots).
    pub table: String,
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.database, self.table)
    }
}

/// Validates one `"database.table"` entry of `key`.
fn table_name(key: &str, raw: Spanned<String>, v: &mut Validator<'_>) -> Option<TableName> {
    let (at, value) = (v.at(raw.span()), raw.into_inner());
    let parsed = match value.split_once('.') {
        None => Err("it has no `.`".to_owned()),
        Some((database, table)) => check_name(database)
            .map_err(|r| format!("the database part: {r}"))
            .and_then(|()| check_name(table).map_err(|r| format!("the table part: {r}")))
            .map(|()| TableName {
                database: database.to_owned(),
                table: table.to_owned(),
            }),
    };
    match parsed {
        Ok(name) => Some(name),
        Err(reason) => {
            v.push(ConfigError::InvalidTableName {
                at,
                key: key.to_owned(),
                value,
                reason,
            });
            None
        }
    }
}

/// Whether `name` can be a MariaDB database or table name: 1 to 64 characters, no NUL. Other
/// characters are allowed, since such names are quoted wherever they are used.
fn check_name(name: &str) -> Result<(), String> {
    let chars = name.chars().count();
    if chars == 0 {
        Err("it is empty".to_owned())
    } else if chars > MAX_NAME_CHARS {
        Err(format!(
            "it is {chars} characters long, more than {MAX_NAME_CHARS}"
        ))
    } else if name.contains('\0') {
        Err("it contains a NUL character".to_owned())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::span::Source;

    fn tables(entries: &[&str]) -> (Vec<TableName>, Vec<String>) {
        let text = entries
            .iter()
            .map(|e| toml::Value::String((*e).to_owned()).to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let text = format!("t = [{text}]");
        #[derive(serde::Deserialize)]
        struct Doc {
            t: Vec<Spanned<String>>,
        }
        let doc: Doc = toml::from_str(&text).unwrap();
        let mut v = Validator::new(Source::new(Path::new("f.toml"), &text));
        let names = doc
            .t
            .into_iter()
            .filter_map(|raw| table_name("k", raw, &mut v))
            .collect();
        let errors = v.finish().0.iter().map(ToString::to_string).collect();
        (names, errors)
    }

    #[test]
    fn tables_split_at_the_first_dot_and_display_back() {
        let (names, errors) = tables(&["shop.orders", "a.b.c", "é.ü"]);
        assert!(errors.is_empty(), "{errors:#?}");
        let shown: Vec<String> = names.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["shop.orders", "a.b.c", "é.ü"]);
        assert_eq!(
            names[1],
            TableName {
                database: "a".into(),
                table: "b.c".into()
            }
        );
    }

    #[test]
    fn malformed_tables_say_why() {
        let long = "x".repeat(65);
        let (names, errors) = tables(&[
            "orders",
            ".orders",
            "shop.",
            &format!("{long}.t"),
            "shop.a\0b",
            &format!("shop.{}", "é".repeat(64)),
        ]);
        assert_eq!(names.len(), 1, "{names:?}");
        let reasons: Vec<&str> = errors
            .iter()
            .map(|e| e.split_once("which is not a table (").unwrap().1)
            .map(|e| e.split_once("): ").unwrap().0)
            .collect();
        assert_eq!(
            reasons,
            [
                "it has no `.`",
                "the database part: it is empty",
                "the table part: it is empty",
                "the database part: it is 65 characters long, more than 64",
                "the table part: it contains a NUL character",
            ]
        );
    }

    #[test]
    fn the_size_check_is_off_at_zero() {
        let mut config = VerifierConfig::default();
        assert_eq!(config.size_change_limit(), Some(50));
        config.size_change_percent = 0;
        assert_eq!(config.size_change_limit(), None);
    }
}
