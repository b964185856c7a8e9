//! `backup-keep-*` of `[clusters.NAME]`: how many stored backups retention keeps.

use crate::defaults;
use crate::raw::RawRetention;
use crate::validate::Validator;

/// Which stored backups of a cluster retention keeps, with replication-manager's
/// `backup-keep-*` keys and restic's meaning: a backup is kept if any rule keeps it.
///
/// Every count is 0 to 100000. All six may be 0: the newest backup of each source is always
/// kept anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    /// `backup-keep-last`: the newest N backups. Default 10.
    pub keep_last: u32,
    /// `backup-keep-hourly`: the newest backup of each of the last N hours that have one.
    /// Default 1.
    pub keep_hourly: u32,
    /// `backup-keep-daily`: the newest backup of each of the last N days that have one.
    /// Default 1.
    pub keep_daily: u32,
    /// `backup-keep-weekly`: the newest backup of each of the last N weeks that have one.
    /// Default 4.
    pub keep_weekly: u32,
    /// `backup-keep-monthly`: the newest backup of each of the last N months that have one.
    /// Default 12.
    pub keep_monthly: u32,
    /// `backup-keep-yearly`: the newest backup of each of the last N years that have one.
    /// Default 2.
    pub keep_yearly: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            keep_last: defaults::BACKUP_KEEP_LAST,
            keep_hourly: defaults::BACKUP_KEEP_HOURLY,
            keep_daily: defaults::BACKUP_KEEP_DAILY,
            keep_weekly: defaults::BACKUP_KEEP_WEEKLY,
            keep_monthly: defaults::BACKUP_KEEP_MONTHLY,
            keep_yearly: defaults::BACKUP_KEEP_YEARLY,
        }
    }
}

impl RetentionConfig {
    /// Validates the `backup-keep-*` keys of cluster `cluster`.
    pub(crate) fn from_raw(raw: RawRetention, cluster: &str, v: &mut Validator<'_>) -> Self {
        let RawRetention {
            keep_last,
            keep_hourly,
            keep_daily,
            keep_weekly,
            keep_monthly,
            keep_yearly,
        } = raw;
        let mut count = |name: &str, raw, default| {
            v.integer(
                &format!("clusters.{cluster}.backup-keep-{name}"),
                raw,
                default,
                (defaults::BACKUP_KEEP_MIN, defaults::BACKUP_KEEP_MAX),
            )
        };
        RetentionConfig {
            keep_last: count("last", keep_last, defaults::BACKUP_KEEP_LAST),
            keep_hourly: count("hourly", keep_hourly, defaults::BACKUP_KEEP_HOURLY),
            keep_daily: count("daily", keep_daily, defaults::BACKUP_KEEP_DAILY),
            keep_weekly: count("weekly", keep_weekly, defaults::BACKUP_KEEP_WEEKLY),
            keep_monthly: count("monthly", keep_monthly, defaults::BACKUP_KEEP_MONTHLY),
            keep_yearly: count("yearly", keep_yearly, defaults::BACKUP_KEEP_YEARLY),
        }
    }
}
