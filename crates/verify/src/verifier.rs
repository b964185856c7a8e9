//! One backup's verification, start to end: [`verify`].
//!
//! 1. The checks on the stored backup ([`crate::precheck`]).
//! 2. If the payload is whole: the test restore on a throwaway server ([`crate::throwaway`]), timed
//!    from the first byte read to the restored server answering: the restore time, the RTO
//!    evidence.
//! 3. The checks on the restored copy ([`crate::postcheck`]).
//! 4. The throwaway server is stopped and its directory removed, whatever happened before.
//! 5. The result is appended to the backup's manifest (durably: the repository rewrites it
//!    through a temporary file, fsync and rename).
//!
//! A verification passes only when every check that ran passed *and* the restore was carried
//! out: a backup whose payload is damaged, or that could not be restored for whatever reason
//! (a missing program included), is not verified.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ferryman_repo::{payload_feed, BackupId, Kind, Manifest, Repository, Timestamp, Tool};

use crate::postcheck::{self, Expected};
use crate::precheck;
use crate::throwaway::{PhysicalTool, Throwaway, ThrowawayOptions};
use crate::Result;
use ferryman_repo::verification::{names, round_ms, Check, Outcome, Status, Verification};

/// The checks on the restored copy, skipped together when there is none.
const AFTER_RESTORE: [&str; 4] = [
    names::DATABASES,
    names::NONEMPTY_TABLES,
    names::ROW_COUNTS,
    names::CHECK_TABLE,
];

/// How a verification is carried out (the manager fills it from `[verifier]` and the
/// cluster's `verify-*` keys).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where and how throwaway servers run.
    pub throwaway: ThrowawayOptions,
    /// `size-change-percent` (0: off).
    pub size_change_percent: u32,
    /// `check-tables`.
    pub check_tables: bool,
    /// `restore-timeout`: the restore and the checks on the restored copy together.
    pub restore_timeout: Duration,
    /// `verify-expected-databases` of the backup's cluster.
    pub expected_databases: Vec<String>,
    /// `verify-nonempty-tables` of the backup's cluster, `(database, table)`.
    pub nonempty_tables: Vec<(String, String)>,
}

/// Why and as part of what a verification runs.
#[derive(Debug, Clone)]
pub struct Origin {
    /// `api`, `schedule`, `fleet`.
    pub trigger: String,
    /// The verification run.
    pub run_id: Option<u64>,
}

/// A finished verification.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The backup's manifest, with the new result appended.
    pub manifest: Manifest,
    /// The result.
    pub verification: Verification,
    /// Set when the throwaway server could not be removed completely (the result stands;
    /// the leftover is removed at the manager's next start, or by hand).
    pub cleanup_error: Option<String>,
}

/// Verifies backup `id` and appends the result to its manifest.
pub async fn verify(
    repo: &Repository,
    id: &BackupId,
    settings: &Settings,
    origin: &Origin,
) -> Result<Verified> {
    let started_at = Timestamp::now();
    let started = Instant::now();
    let manifest = repo.get(id).await?;
    let history = repo.list(Some(id.cluster()), None).await?;
    tracing::info!(backup = %id, tool = manifest.tool.as_str(), "verification started");
    // The checksum pass reads and decompresses the payload once and feeds the restore as it
    // goes: they run side by side, the payload read once. A restore of a payload the pass
    // then finds damaged happened on a throwaway server and is thrown away with it: its
    // checks are not reported, the verification fails on the checksum.
    let expected = expected(&manifest, &history, settings);
    let (tap, payload) = payload_feed();
    let (pre, done) = tokio::join!(
        precheck::run(repo, &manifest, &history, settings.size_change_percent, tap),
        restore_and_check(Box::new(payload), &manifest, settings, &expected),
    );
    let pre = pre?;
    let mut checks = pre.checks;
    let mut restore_seconds = None;
    let mut rows = BTreeMap::new();
    let mut restored_with = None;
    let cleanup_error = done.cleanup_error;
    if pre.intact {
        checks.extend(done.checks);
        restore_seconds = done.restore_seconds;
        rows = done.rows;
        restored_with = done.version;
    } else {
        for name in std::iter::once(names::RESTORE).chain(AFTER_RESTORE) {
            checks.push(Check::skipped(
                name,
                "not counted: the stored payload failed its checks (what was restored from it \
                 was thrown away)",
            ));
        }
    }
    let restored = checks
        .iter()
        .any(|c| c.name == names::RESTORE && c.outcome == Outcome::Passed);
    let failed = checks.iter().any(|c| c.outcome == Outcome::Failed);
    let status = if restored && !failed {
        Status::Ok
    } else {
        Status::Failed
    };
    let verification = Verification {
        status,
        started_at,
        ended_at: Timestamp::now(),
        checks,
        restore_seconds,
        total_seconds: round_ms(started.elapsed().as_secs_f64()),
        size_change_percent: pre.size_change_percent,
        size_baseline: pre.baseline.map(|b| b.to_string()),
        restored_with,
        rows,
        trigger: origin.trigger.clone(),
        run_id: origin.run_id,
    };
    let manifest = repo.append_verification(id, verification.clone()).await?;
    match status {
        Status::Ok => {
            tracing::info!(backup = %id, seconds = verification.total_seconds, "verification passed")
        }
        Status::Failed => {
            tracing::warn!(backup = %id, result = %verification.summary(), "verification FAILED")
        }
    }
    Ok(Verified {
        manifest,
        verification,
        cleanup_error,
    })
}

/// What the restored copy is compared with.
fn expected(manifest: &Manifest, history: &[Manifest], settings: &Settings) -> Expected {
    let mut databases: BTreeSet<String> = settings.expected_databases.iter().cloned().collect();
    let configured = !databases.is_empty();
    let mut sources = Vec::new();
    if configured {
        sources.push("verify-expected-databases".to_owned());
    }
    let (rows, rows_from) = match manifest.tool {
        Tool::Mysqldump | Tool::Mydumper if !manifest.table_rows.is_empty() => {
            databases.extend(manifest.databases.iter().cloned());
            sources.push("the dump's databases".to_owned());
            (
                Some(manifest.table_rows.clone()),
                "the rows counted when the dump was taken".to_owned(),
            )
        }
        Tool::Mysqldump => (
            None,
            "no row counts were recorded when this dump was taken (an older Ferryman)".to_owned(),
        ),
        Tool::Mydumper => (
            None,
            "no row counts were recorded when this mydumper backup was taken (an older \
             Ferryman, or files compressed by mydumper)"
                .to_owned(),
        ),
        Tool::Mariabackup | Tool::Xtrabackup => match reference(manifest, history) {
            Some(reference) => {
                databases.extend(reference.databases.iter().cloned());
                sources.push(format!("logical backup {}", reference.id));
                (
                    Some(reference.table_rows.clone()),
                    format!(
                        "logical backup {} taken at the same GTID {}",
                        reference.id,
                        manifest.gtid.as_deref().unwrap_or("")
                    ),
                )
            }
            None => (
                None,
                format!(
                    "no logical backup of cluster {} at this backup's GTID ({}) to compare row counts with",
                    manifest.cluster,
                    manifest.gtid.as_deref().unwrap_or("none recorded")
                ),
            ),
        },
    };
    let databases_from = if sources.is_empty() {
        "none configured in verify-expected-databases".to_owned()
    } else {
        sources.join(" and ")
    };
    Expected {
        databases,
        databases_from,
        nonempty: settings.nonempty_tables.clone(),
        rows,
        rows_from,
        check_tables: settings.check_tables,
    }
}

/// A logical backup (mysqldump or mydumper) of the same cluster with row counts, taken at
/// exactly the physical backup's GTID position: the same data, so the same rows per table.
fn reference<'a>(manifest: &Manifest, history: &'a [Manifest]) -> Option<&'a Manifest> {
    let gtid = normalize_gtid(manifest.gtid.as_deref()?);
    if gtid.is_empty() {
        return None;
    }
    history
        .iter()
        .filter(|m| {
            matches!(m.tool, Tool::Mysqldump | Tool::Mydumper)
                && m.kind == Kind::Logical
                && m.cluster == manifest.cluster
                && !m.table_rows.is_empty()
                && m.gtid.as_deref().map(normalize_gtid) == Some(gtid.clone())
        })
        .max_by_key(|m| (m.started_at, m.job_id))
}

/// A GTID position as a sorted set of `domain-server-seq`, so that `0-1-5,1-2-3` and
/// `1-2-3, 0-1-5` compare equal.
fn normalize_gtid(gtid: &str) -> Vec<String> {
    let mut parts: Vec<String> = gtid
        .split(',')
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    parts.sort();
    parts
}

/// What the restore and the checks after it produced.
#[derive(Debug, Default)]
struct Restored {
    checks: Vec<Check>,
    restore_seconds: Option<f64>,
    rows: BTreeMap<String, u64>,
    version: Option<String>,
    cleanup_error: Option<String>,
}

/// The restore of `payload` (decompressed), the checks on the restored copy, and the removal
/// of the throwaway server, in `restore-timeout`. Never an error: what goes wrong is a failed
/// check.
async fn restore_and_check(
    payload: Payload,
    manifest: &Manifest,
    settings: &Settings,
    expected: &Expected,
) -> Restored {
    let mut out = Restored::default();
    let started = Instant::now();
    let label = manifest.server.clone();
    let restore = async {
        let (server, steps) =
            match start_restore(payload, manifest, &settings.throwaway, &label).await {
                Ok(started) => started,
                Err(e) => return (Err(e), None),
            };
        let restore_seconds = started.elapsed().as_secs_f64();
        let steps = steps
            .iter()
            .map(|(name, s)| format!("{name} {s:.1} s"))
            .collect::<Vec<_>>()
            .join(", ");
        let post = postcheck::run(&server.endpoint(), expected).await;
        let cleanup = server.remove().await;
        (Ok((restore_seconds, steps, post)), Some(cleanup))
    };
    let (result, cleanup) = match tokio::time::timeout(settings.restore_timeout, restore).await {
        Ok(done) => done,
        // The future was dropped: the throwaway server's drop stopped it and removed its
        // directory.
        Err(_) => (
            Err(crate::Error::Timeout {
                what: "the restore and the checks on the restored copy",
                limit: settings.restore_timeout,
            }),
            None,
        ),
    };
    if let Some(Err(e)) = cleanup {
        tracing::error!(backup = %manifest.id, error = %e, "the throwaway server was not removed completely");
        out.cleanup_error = Some(e.to_string());
    }
    match result {
        Err(e) => {
            out.checks.push(
                Check::failed(names::RESTORE, e.to_string()).took(started.elapsed().as_secs_f64()),
            );
            for name in AFTER_RESTORE {
                out.checks
                    .push(Check::skipped(name, "not run: the restore failed"));
            }
        }
        Ok((seconds, steps, post)) => {
            out.restore_seconds = Some(round_ms(seconds));
            out.checks.push(
                Check::passed(
                    names::RESTORE,
                    format!(
                        "{} in {seconds:.1} s ({steps})",
                        what_restored(manifest.tool)
                    ),
                )
                .took(seconds),
            );
            match post {
                Ok(post) => {
                    out.checks.extend(post.checks);
                    out.rows = post.rows;
                    out.version = Some(post.version);
                }
                Err(e) => out.checks.push(Check::failed(
                    names::CHECK_TABLE,
                    format!("the restored server stopped answering during the checks: {e}"),
                )),
            }
        }
    }
    out
}

fn what_restored(tool: Tool) -> &'static str {
    match tool {
        Tool::Mysqldump => "imported into a fresh throwaway server, answering",
        Tool::Mydumper => "loaded into a fresh throwaway server with myloader, answering",
        Tool::Mariabackup | Tool::Xtrabackup => {
            "extracted, prepared and started on a throwaway server, answering"
        }
    }
}

/// A backup's payload, decompressed: [`Repository::payload_reader`], or the checksum pass's
/// feed. Its reads block.
pub(crate) type Payload = Box<dyn std::io::Read + Send>;

/// Starts the throwaway server with `manifest`'s backup (its decompressed `payload`) restored
/// on it. On error nothing is left (the server is removed before the error is returned).
pub(crate) async fn start_restore(
    payload: Payload,
    manifest: &Manifest,
    options: &ThrowawayOptions,
    label: &str,
) -> Result<(Throwaway, Vec<(&'static str, f64)>)> {
    let physical = match manifest.tool {
        Tool::Mariabackup => Some(PhysicalTool::Mariabackup),
        Tool::Xtrabackup => Some(PhysicalTool::Xtrabackup),
        Tool::Mysqldump | Tool::Mydumper => None,
    };
    match physical {
        Some(tool) => {
            let (server, timings) = Throwaway::physical(options, label, tool, payload).await?;
            Ok((server, timings.steps))
        }
        None => {
            let (server, mut steps) = Throwaway::empty(options, label).await?;
            let loaded = if manifest.tool == Tool::Mysqldump {
                server.import_sql(payload).await
            } else {
                server.load_mydumper(payload).await
            };
            match loaded {
                Ok(t) => {
                    steps.steps.extend(t.steps);
                    Ok((server, steps.steps))
                }
                Err(e) => {
                    if let Err(cleanup) = server.remove().await {
                        tracing::error!(error = %cleanup, "the throwaway server was not removed completely");
                    }
                    Err(e)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A manifest of `tool`'s backup of `c/db1` by job `job`, at `gtid`, with `rows` counted.
    fn manifest(tool: Tool, job: u64, gtid: &str, rows: &[(&str, u64)]) -> Manifest {
        let table_rows: BTreeMap<String, u64> =
            rows.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect();
        let databases: BTreeSet<&str> = rows
            .iter()
            .filter_map(|(k, _)| k.split('.').next())
            .collect();
        serde_json::from_value(serde_json::json!({
            "format_version": 1, "id": format!("c/db1/20261120T0{job}0000Z-j{job}"),
            "cluster": "c", "server": "db1", "host": "h",
            "kind": tool.kind().as_str(), "tool": tool.as_str(), "tool_version": null,
            "format": tool.format().as_str(), "payload": tool.format().payload_name(),
            "job_id": job,
            "started_at": format!("2026-11-20T0{job}:00:00Z"),
            "ended_at": format!("2026-11-20T0{job}:00:10Z"),
            "raw_bytes": 1, "stored_bytes": 1, "raw_sha256": "", "stored_sha256": "",
            "compression": {"algorithm": "zstd", "level": 1},
            "gtid": gtid, "binlog_file": null, "binlog_pos": null, "captured": {}, "extra": {},
            "databases": databases, "table_rows": table_rows,
        }))
        .unwrap()
    }

    fn settings() -> Settings {
        Settings {
            throwaway: ThrowawayOptions {
                work_dir: std::path::PathBuf::from("/nonexistent"),
                buffer_pool_mib: 128,
                start_timeout: Duration::from_secs(1),
            },
            size_change_percent: 0,
            check_tables: false,
            restore_timeout: Duration::from_secs(1),
            expected_databases: Vec::new(),
            nonempty_tables: Vec::new(),
        }
    }

    #[test]
    fn a_mydumper_backup_is_compared_with_the_rows_counted_in_its_files() {
        let rows = [("shop.t", 5), ("shop.e", 0)];
        let m = manifest(Tool::Mydumper, 1, "0-1-9", &rows);
        let e = expected(&m, &[], &settings());
        assert_eq!(e.rows, Some(m.table_rows.clone()));
        assert!(
            e.rows_from.contains("counted when the dump was taken"),
            "{}",
            e.rows_from
        );
        assert_eq!(e.databases, BTreeSet::from(["shop".to_owned()]));
        // One stored before its files were counted says why there is nothing to compare.
        let old = manifest(Tool::Mydumper, 1, "0-1-9", &[]);
        let e = expected(&old, &[], &settings());
        assert_eq!(e.rows, None);
        assert!(e.rows_from.contains("an older Ferryman"), "{}", e.rows_from);
    }

    #[test]
    fn a_physical_backup_is_compared_with_a_logical_one_at_its_gtid() {
        let physical = manifest(Tool::Mariabackup, 3, "0-1-9", &[]);
        let mydumper = manifest(Tool::Mydumper, 2, "0-1-9", &[("shop.t", 5)]);
        let elsewhere = manifest(Tool::Mysqldump, 4, "0-1-8", &[("shop.t", 4)]);
        let history = [mydumper.clone(), elsewhere];
        let e = expected(&physical, &history, &settings());
        assert_eq!(e.rows, Some(mydumper.table_rows.clone()));
        assert!(
            e.rows_from.contains(&mydumper.id.to_string()),
            "{}",
            e.rows_from
        );
        // None at its GTID: nothing to compare with.
        let e = expected(
            &manifest(Tool::Mariabackup, 5, "0-1-7", &[]),
            &history,
            &settings(),
        );
        assert_eq!(e.rows, None);
    }

    #[test]
    fn gtid_positions_compare_as_sets() {
        assert_eq!(
            normalize_gtid("0-1-5,1-2-3"),
            normalize_gtid(" 1-2-3, 0-1-5")
        );
        assert_ne!(normalize_gtid("0-1-5"), normalize_gtid("0-1-6"));
    }
}
