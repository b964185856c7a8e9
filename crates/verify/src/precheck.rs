//! The checks made before any restore, on the stored backup itself: the payload is there and
//! not empty, its checksums equal the manifest's, a dump has mysqldump's header and completion
//! footer, and its size did not change beyond the threshold against the previous good backup
//! of the same source.
//!
//! The payload is read once: the checksum pass keeps the first and last bytes of the
//! decompressed stream for the header and footer checks, and hands the stream to the restore
//! (a [`FeedTap`]) as it goes.

use std::time::Instant;

use ferryman_repo::{BackupId, FeedTap, Manifest, Repository, Tool};
use indicatif::HumanBytes;

use crate::Result;
use ferryman_repo::verification::{names, Check, Verification};

/// How much of the dump's start and end the header and footer checks read. The header is on
/// the first or second line; the footer is the last line.
const ENDS: usize = 4096;

/// What the checks before the restore found.
#[derive(Debug, Clone)]
pub struct Prechecks {
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// True when the payload is whole (present, checksums and dump markers good): only then
    /// is a restore attempted. A size change alone does not stop the restore: whether the
    /// smaller backup restores is worth knowing too.
    pub intact: bool,
    /// The size change against the baseline, percent.
    pub size_change_percent: Option<f64>,
    /// The previous good backup of the same source.
    pub baseline: Option<BackupId>,
}

/// Runs the checks on `manifest`'s backup; `history` holds the other backups of its cluster
/// (any order), among which the size baseline is looked for; `size_change_limit` is
/// `size-change-percent` (0: off). The decompressed payload goes to `tap`'s feed as it is
/// checked.
pub async fn run(
    repo: &Repository,
    manifest: &Manifest,
    history: &[Manifest],
    size_change_limit: u32,
    tap: FeedTap,
) -> Result<Prechecks> {
    let mut checks = Vec::new();
    let started = Instant::now();
    let report = match repo.verify_checksum_feeding(&manifest.id, ENDS, tap).await {
        Ok(report) => Some(report),
        Err(e) if e.is_not_found() => {
            checks.push(
                Check::failed(
                    names::PAYLOAD,
                    format!(
                        "the payload {} is missing from the repository; the backup cannot be restored: take a new backup and delete this one",
                        manifest.payload
                    ),
                )
                .took(started.elapsed().as_secs_f64()),
            );
            None
        }
        Err(e) => return Err(e.into()),
    };
    let hashed = started.elapsed().as_secs_f64();
    let mut intact = false;
    if let Some(report) = report {
        let payload = if report.stored_bytes == 0 || manifest.raw_bytes == 0 {
            Check::failed(
                names::PAYLOAD,
                format!(
                    "the payload {} is empty ({} bytes stored, {} raw in the manifest); take a new backup and look at the backup job's result",
                    manifest.payload, report.stored_bytes, manifest.raw_bytes
                ),
            )
        } else {
            Check::passed(
                names::PAYLOAD,
                format!(
                    "{} present: {} stored, {} raw",
                    manifest.payload,
                    HumanBytes(report.stored_bytes),
                    HumanBytes(manifest.raw_bytes)
                ),
            )
        };
        let payload_ok = payload.outcome == ferryman_repo::Outcome::Passed;
        checks.push(payload);
        let checksum = if report.is_ok() {
            Check::passed(
                names::CHECKSUM,
                format!(
                    "sha256 of the stored ({}…) and decompressed ({}…) payloads equal the manifest's",
                    &manifest.stored_sha256[..12.min(manifest.stored_sha256.len())],
                    &manifest.raw_sha256[..12.min(manifest.raw_sha256.len())]
                ),
            )
        } else {
            Check::failed(names::CHECKSUM, checksum_problem(manifest, &report))
        }
        .took(hashed);
        let checksum_ok = checksum.outcome == ferryman_repo::Outcome::Passed;
        checks.push(checksum);
        let (header, footer) = match &report.decompress_error {
            // The tail is wherever decompression stopped: saying "cut" would mislead.
            Some(_) => (
                Check::skipped(names::DUMP_HEADER, "the payload does not decompress"),
                Check::skipped(names::DUMP_FOOTER, "the payload does not decompress"),
            ),
            None => dump_markers(manifest.tool, &report.head, &report.tail),
        };
        let markers_ok = [&header, &footer]
            .iter()
            .all(|c| c.outcome != ferryman_repo::Outcome::Failed);
        checks.push(header);
        checks.push(footer);
        intact = payload_ok && checksum_ok && markers_ok;
    } else {
        for name in [names::CHECKSUM, names::DUMP_HEADER, names::DUMP_FOOTER] {
            checks.push(Check::skipped(name, "the payload is missing"));
        }
    }
    let (size, size_change_percent, baseline) = size_change(manifest, history, size_change_limit);
    checks.push(size);
    Ok(Prechecks {
        checks,
        intact,
        size_change_percent,
        baseline,
    })
}

/// What differs, for a failed checksum check.
fn checksum_problem(manifest: &Manifest, report: &ferryman_repo::ChecksumReport) -> String {
    let mut problems = Vec::new();
    if !report.stored_ok {
        problems.push(format!(
            "the stored payload is {} bytes with sha256 {}, the manifest says {} bytes with sha256 {}",
            report.stored_bytes, report.stored_sha256, manifest.stored_bytes, manifest.stored_sha256
        ));
    }
    if let Some(e) = &report.decompress_error {
        problems.push(format!("the payload does not decompress ({e})"));
    } else if !report.raw_ok {
        problems.push(format!(
            "the decompressed payload is {} bytes with sha256 {}, the manifest says {} bytes with sha256 {}",
            report.raw_bytes,
            report.raw_sha256.as_deref().unwrap_or("?"),
            manifest.raw_bytes,
            manifest.raw_sha256
        ));
    }
    format!(
        "{}: the payload was damaged at rest; do not restore it: take a new backup, delete this one and check the repository's disk",
        problems.join("; ")
    )
}

/// The header and footer checks. A mysqldump dump must start with mysqldump's header, in
/// MariaDB's (`-- MariaDB dump`) or MySQL's (`-- MySQL dump`) wording, possibly after the
/// sandbox-mode line newer MariaDB clients write first; and its last line must be
/// `-- Dump completed` (with or without a date). Other tools' payloads carry no such lines.
pub fn dump_markers(tool: Tool, head: &[u8], tail: &[u8]) -> (Check, Check) {
    if tool != Tool::Mysqldump {
        let why = format!(
            "not a mysqldump dump ({}): its stream format was checked whole when it was stored",
            tool.as_str()
        );
        return (
            Check::skipped(names::DUMP_HEADER, why.clone()),
            Check::skipped(names::DUMP_FOOTER, why),
        );
    }
    let head_text = String::from_utf8_lossy(head);
    let header = head_text
        .lines()
        .take(5)
        .find(|l| l.starts_with("-- MariaDB dump") || l.starts_with("-- MySQL dump"));
    let header = match header {
        Some(line) => Check::passed(names::DUMP_HEADER, format!("`{}`", line.trim_end())),
        None => Check::failed(
            names::DUMP_HEADER,
            format!(
                "no `-- MariaDB dump` or `-- MySQL dump` header in the first lines (it starts with `{}`): not a complete mysqldump dump; take a new backup",
                first_line(&head_text)
            ),
        ),
    };
    let tail_text = String::from_utf8_lossy(tail);
    let last = tail_text.lines().rev().find(|l| !l.trim().is_empty());
    let footer = match last {
        Some(line) if line.starts_with("-- Dump completed") => {
            Check::passed(names::DUMP_FOOTER, format!("`{}`", line.trim_end()))
        }
        other => Check::failed(
            names::DUMP_FOOTER,
            format!(
                "the dump does not end with `-- Dump completed` (its last line is `{}`): mysqldump did not finish, the dump is cut; take a new backup",
                other.map(|l| shorten(l.trim_end(), 80)).unwrap_or_default()
            ),
        ),
    };
    (header, footer)
}

fn first_line(text: &str) -> String {
    shorten(text.lines().next().unwrap_or(""), 80)
}

fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// The size check: the raw size against the newest older backup of the same source (cluster,
/// server, tool) whose newest verification passed.
pub fn size_change(
    manifest: &Manifest,
    history: &[Manifest],
    limit: u32,
) -> (Check, Option<f64>, Option<BackupId>) {
    let baseline = history
        .iter()
        .filter(|m| {
            m.id != manifest.id
                && m.cluster == manifest.cluster
                && m.server == manifest.server
                && m.tool == manifest.tool
                && (m.started_at, m.job_id) < (manifest.started_at, manifest.job_id)
                && Verification::is_verified(m)
        })
        .max_by_key(|m| (m.started_at, m.job_id));
    let Some(base) = baseline else {
        return (
            Check::skipped(
                names::SIZE_CHANGE,
                "no earlier verified backup of this source to compare with",
            ),
            None,
            None,
        );
    };
    let percent = if base.raw_bytes == 0 {
        if manifest.raw_bytes == 0 {
            0.0
        } else {
            f64::INFINITY
        }
    } else {
        (manifest.raw_bytes as f64 - base.raw_bytes as f64) * 100.0 / base.raw_bytes as f64
    };
    let rounded = (percent * 10.0).round() / 10.0;
    let direction = if percent < 0.0 { "smaller" } else { "larger" };
    let compared = format!(
        "{} raw, {:.1}% {direction} than {} ({} raw), the previous good backup of this source",
        HumanBytes(manifest.raw_bytes),
        percent.abs(),
        base.id,
        HumanBytes(base.raw_bytes)
    );
    let check = if limit == 0 {
        Check::passed(
            names::SIZE_CHANGE,
            format!("{compared}; no threshold (size-change-percent = 0)"),
        )
    } else if percent.abs() > f64::from(limit) {
        let hint = if percent < 0.0 {
            "was data deleted, or did the dump miss databases? Look at the source before trusting this backup"
        } else {
            "did something load much data, or does the dump include what it should not? Look at the source"
        };
        Check::failed(
            names::SIZE_CHANGE,
            format!("{compared}: beyond size-change-percent = {limit}; {hint}"),
        )
    } else {
        Check::passed(
            names::SIZE_CHANGE,
            format!("{compared}: within size-change-percent = {limit}"),
        )
    };
    let shown = rounded.is_finite().then_some(rounded);
    (check, shown, Some(base.id.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferryman_repo::Outcome;

    const MARIADB_HEAD: &str = "/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19-11.4.2-MariaDB, for debian-linux-gnu (x86_64)\n--\n-- Host: 127.0.0.1\n";
    const MYSQL_HEAD: &str =
        "-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n--\n-- Host: localhost\n";

    #[test]
    fn both_wordings_of_the_header_and_the_footer_pass() {
        for head in [MARIADB_HEAD, MYSQL_HEAD] {
            for tail in [
                "/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;\n\n-- Dump completed on 2026-11-21 10:00:00\n",
                "SET x=1;\n-- Dump completed\n\n",
            ] {
                let (h, f) = dump_markers(Tool::Mysqldump, head.as_bytes(), tail.as_bytes());
                assert_eq!(h.outcome, Outcome::Passed, "{h:?}");
                assert_eq!(f.outcome, Outcome::Passed, "{f:?}");
            }
        }
    }

    #[test]
    fn a_cut_footer_or_a_missing_header_fails_and_says_so() {
        let (h, f) = dump_markers(
            Tool::Mysqldump,
            b"CREATE TABLE t (a int);\n",
            b"INSERT INTO `t` VALUES (1),\n(2),\n",
        );
        assert_eq!(h.outcome, Outcome::Failed);
        assert!(h.detail.contains("header"), "{}", h.detail);
        assert_eq!(f.outcome, Outcome::Failed);
        assert!(f.detail.contains("-- Dump completed"), "{}", f.detail);
        // A footer in the middle (two dumps concatenated, the second cut) is not the end.
        let (_, f) = dump_markers(
            Tool::Mysqldump,
            MARIADB_HEAD.as_bytes(),
            b"-- Dump completed on 2026-11-21\n-- MariaDB dump 10.19\nINSERT INTO t VALUES (1);\n",
        );
        assert_eq!(f.outcome, Outcome::Failed);
    }

    #[test]
    fn other_tools_skip_the_marker_checks() {
        let (h, f) = dump_markers(Tool::Mariabackup, b"XBSTCK01", b"");
        assert_eq!((h.outcome, f.outcome), (Outcome::Skipped, Outcome::Skipped));
    }
}
