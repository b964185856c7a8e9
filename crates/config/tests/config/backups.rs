//! Backup storage and job handling (`[manager]`), backup tools and retention
//! (`[clusters.NAME]`): defaults, a file that sets every key, and the range and value errors.

use std::time::Duration;

use ferryman_config::{defaults, RetentionConfig};
use ferryman_proto::Task;

use crate::{errors, only_error, parse, with_cluster_keys, MINIMAL};

#[test]
fn absent_keys_take_their_defaults() {
    let config = parse(MINIMAL).unwrap_or_else(|e| panic!("{e}"));
    let manager = &config.manager;
    assert_eq!(manager.api_token, None);
    assert_eq!(
        (
            manager.backup_compression_level,
            manager.backup_compression_threads,
            manager.job_claim_timeout,
            manager.logs_keep,
        ),
        (
            defaults::BACKUP_COMPRESSION_LEVEL,
            defaults::BACKUP_COMPRESSION_THREADS,
            defaults::JOB_CLAIM_TIMEOUT,
            defaults::LOGS_KEEP,
        )
    );
    assert_eq!(
        (
            manager.backup_compression_level,
            manager.backup_compression_threads,
            manager.job_claim_timeout,
            manager.logs_keep,
        ),
        (1, 2, Duration::from_secs(5 * 60), 30)
    );
    let prod = &config.clusters[0];
    assert_eq!(prod.backup_physical_type, Task::Mariabackup);
    assert_eq!(prod.backup_logical_type, Task::Mysqldump);
    assert_eq!(
        prod.retention,
        RetentionConfig {
            keep_last: 10,
            keep_hourly: 1,
            keep_daily: 1,
            keep_weekly: 4,
            keep_monthly: 12,
            keep_yearly: 2,
        }
    );
    assert_eq!(prod.retention, RetentionConfig::default());
}

#[test]
fn every_key_is_read() {
    let text = format!(
        "[manager]\n\
         api-token-env = \"FERRYMAN_API_TOKEN\"\n\
         backup-compression-level = 19\n\
         backup-compression-threads = 64\n\
         job-claim-timeout = \"90s\"\n\
         logs-keep = 100000\n\
         \n{}",
        with_cluster_keys(
            "backup-physical-type = \"xtrabackup\"\n\
             backup-logical-type = \"mydumper\"\n\
             backup-keep-last = 3\n\
             backup-keep-hourly = 24\n\
             backup-keep-daily = 7\n\
             backup-keep-weekly = 0\n\
             backup-keep-monthly = 100000\n\
             backup-keep-yearly = 5",
        )
    );
    let config = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let manager = &config.manager;
    let token = manager.api_token.as_ref().unwrap();
    assert_eq!(token.expose_secret(), crate::API_TOKEN);
    assert_eq!(manager.backup_compression_level, 19);
    assert_eq!(manager.backup_compression_threads, 64);
    assert_eq!(manager.job_claim_timeout, Duration::from_secs(90));
    assert_eq!(manager.logs_keep, 100_000);
    let prod = &config.clusters[0];
    assert_eq!(prod.backup_physical_type, Task::Xtrabackup);
    assert_eq!(prod.backup_logical_type, Task::Mydumper);
    assert_eq!(
        prod.retention,
        RetentionConfig {
            keep_last: 3,
            keep_hourly: 24,
            keep_daily: 7,
            keep_weekly: 0,
            keep_monthly: 100_000,
            keep_yearly: 5,
        }
    );
}

#[test]
fn the_smallest_values_are_allowed_and_all_keep_counts_may_be_zero() {
    let text = format!(
        "[manager]\nbackup-compression-level = 1\nbackup-compression-threads = 1\n\
         job-claim-timeout = \"5s\"\nlogs-keep = 1\n\n{}",
        with_cluster_keys(
            "backup-keep-last = 0\nbackup-keep-hourly = 0\nbackup-keep-daily = 0\n\
             backup-keep-weekly = 0\nbackup-keep-monthly = 0\nbackup-keep-yearly = 0",
        )
    );
    let config = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let manager = &config.manager;
    assert_eq!(
        (
            manager.backup_compression_level,
            manager.backup_compression_threads,
            manager.job_claim_timeout,
            manager.logs_keep,
        ),
        (1, 1, Duration::from_secs(5), 1)
    );
    assert_eq!(
        config.clusters[0].retention,
        RetentionConfig {
            keep_last: 0,
            keep_hourly: 0,
            keep_daily: 0,
            keep_weekly: 0,
            keep_monthly: 0,
            keep_yearly: 0,
        }
    );
    let text = format!("[manager]\njob-claim-timeout = \"24h\"\n{MINIMAL}");
    let config = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.manager.job_claim_timeout,
        defaults::JOB_CLAIM_TIMEOUT_MAX
    );
}

#[test]
fn manager_values_below_their_range_name_the_range() {
    let text = format!(
        "[manager]\nbackup-compression-level = 0\nbackup-compression-threads = 0\n\
         job-claim-timeout = \"4s\"\nlogs-keep = 0\n{MINIMAL}"
    );
    assert_eq!(
        errors(&text),
        [
            "/etc/ferryman/ferryman.toml:2:28: `manager.backup-compression-level` = 0 is out of \
             range: use a number from 1 to 19",
            "/etc/ferryman/ferryman.toml:3:30: `manager.backup-compression-threads` = 0 is out of \
             range: use a number from 1 to 64",
            "/etc/ferryman/ferryman.toml:4:21: `manager.job-claim-timeout` = \"4s\" is out of \
             range: use a duration from 5s to 1day",
            "/etc/ferryman/ferryman.toml:5:13: `manager.logs-keep` = 0 is out of range: use a \
             number from 1 to 100000",
        ]
    );
}

#[test]
fn manager_values_above_their_range_name_the_range() {
    let text = format!(
        "[manager]\nbackup-compression-level = 20\nbackup-compression-threads = 65\n\
         job-claim-timeout = \"25h\"\nlogs-keep = 100001\n{MINIMAL}"
    );
    assert_eq!(
        errors(&text),
        [
            "/etc/ferryman/ferryman.toml:2:28: `manager.backup-compression-level` = 20 is out of \
             range: use a number from 1 to 19",
            "/etc/ferryman/ferryman.toml:3:30: `manager.backup-compression-threads` = 65 is out \
             of range: use a number from 1 to 64",
            "/etc/ferryman/ferryman.toml:4:21: `manager.job-claim-timeout` = \"25h\" is out of \
             range: use a duration from 5s to 1day",
            "/etc/ferryman/ferryman.toml:5:13: `manager.logs-keep` = 100001 is out of range: use \
             a number from 1 to 100000",
        ]
    );
}

#[test]
fn values_beyond_the_integer_type_are_out_of_range_too() {
    // Negative for a u32, and past i32 for the level: the range check, not a wrap-around.
    let text =
        format!("[manager]\nbackup-compression-level = 4294967299\nlogs-keep = -1\n{MINIMAL}");
    assert_eq!(
        errors(&text),
        [
            "/etc/ferryman/ferryman.toml:2:28: `manager.backup-compression-level` = 4294967299 is \
             out of range: use a number from 1 to 19",
            "/etc/ferryman/ferryman.toml:3:13: `manager.logs-keep` = -1 is out of range: use a \
             number from 1 to 100000",
        ]
    );
}

#[test]
fn keep_counts_out_of_range_name_the_range() {
    let text = with_cluster_keys(
        "backup-keep-last = -1\nbackup-keep-hourly = 100001\nbackup-keep-daily = -1\n\
         backup-keep-weekly = 100001\nbackup-keep-monthly = -1\nbackup-keep-yearly = 100001",
    );
    let expected: Vec<String> = [
        (4, 20, "last", "-1"),
        (5, 22, "hourly", "100001"),
        (6, 21, "daily", "-1"),
        (7, 22, "weekly", "100001"),
        (8, 23, "monthly", "-1"),
        (9, 22, "yearly", "100001"),
    ]
    .iter()
    .map(|(line, column, name, value)| {
        format!(
            "/etc/ferryman/ferryman.toml:{line}:{column}: `clusters.prod.backup-keep-{name}` = \
             {value} is out of range: use a number from 0 to 100000"
        )
    })
    .collect();
    assert_eq!(errors(&text), expected);
}

#[test]
fn a_wrong_backup_tool_lists_the_allowed_ones() {
    let text =
        with_cluster_keys("backup-physical-type = \"mysqldump\"\nbackup-logical-type = \"river\"");
    assert_eq!(
        errors(&text),
        [
            "/etc/ferryman/ferryman.toml:4:24: `clusters.prod.backup-physical-type` = \
             \"mysqldump\" is not allowed here: use one of: mariabackup, xtrabackup",
            "/etc/ferryman/ferryman.toml:5:23: `clusters.prod.backup-logical-type` = \"river\" \
             is not allowed here: use one of: mysqldump, mydumper",
        ]
    );
    // Names are exact, as in the jobs table: no case folding, no reseed/flashback variants.
    let error = only_error(&with_cluster_keys(
        "backup-physical-type = \"reseedmariabackup\"",
    ));
    assert!(
        error.ends_with("is not allowed here: use one of: mariabackup, xtrabackup"),
        "{error}"
    );
    let error = only_error(&with_cluster_keys("backup-logical-type = \"Mysqldump\""));
    assert!(
        error.starts_with("/etc/ferryman/ferryman.toml:4:23: `clusters.prod.backup-logical-type`"),
        "{error}"
    );
}

#[test]
fn a_backup_tool_of_the_wrong_type_is_a_syntax_error_with_its_line() {
    let error = only_error(&with_cluster_keys("backup-physical-type = 1"));
    assert!(
        error.starts_with(
            "/etc/ferryman/ferryman.toml:4:24: `clusters.prod.backup-physical-type` is the \
             integer 1, but it must be a string"
        ),
        "{error}"
    );
}
