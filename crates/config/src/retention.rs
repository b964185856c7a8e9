//! `backup-keep-*` of `[clusters.NAME]`: how many stored backups retention keeps; and of
//! `[repositories.NAME]`: the keys a repository sets for the backups stored in it.

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
        let table = format!("clusters.{cluster}");
        let [keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly] =
            counts(raw, &table, v);
        RetentionConfig {
            keep_last: keep_last.unwrap_or(defaults::BACKUP_KEEP_LAST),
            keep_hourly: keep_hourly.unwrap_or(defaults::BACKUP_KEEP_HOURLY),
            keep_daily: keep_daily.unwrap_or(defaults::BACKUP_KEEP_DAILY),
            keep_weekly: keep_weekly.unwrap_or(defaults::BACKUP_KEEP_WEEKLY),
            keep_monthly: keep_monthly.unwrap_or(defaults::BACKUP_KEEP_MONTHLY),
            keep_yearly: keep_yearly.unwrap_or(defaults::BACKUP_KEEP_YEARLY),
        }
    }
}

/// The `backup-keep-*` keys of one `[repositories.NAME]` table: for the backups stored in that
/// repository, each key given replaces the cluster's value of the same key (`None`: the
/// cluster's). Each is 0 to 100000, as the cluster's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionOverrides {
    /// `backup-keep-last`.
    pub keep_last: Option<u32>,
    /// `backup-keep-hourly`.
    pub keep_hourly: Option<u32>,
    /// `backup-keep-daily`.
    pub keep_daily: Option<u32>,
    /// `backup-keep-weekly`.
    pub keep_weekly: Option<u32>,
    /// `backup-keep-monthly`.
    pub keep_monthly: Option<u32>,
    /// `backup-keep-yearly`.
    pub keep_yearly: Option<u32>,
}

impl RetentionOverrides {
    /// Validates the `backup-keep-*` keys of `table` (`repositories.NAME`).
    pub(crate) fn from_raw(raw: RawRetention, table: &str, v: &mut Validator<'_>) -> Self {
        let [keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly] =
            counts(raw, table, v);
        RetentionOverrides {
            keep_last,
            keep_hourly,
            keep_daily,
            keep_weekly,
            keep_monthly,
            keep_yearly,
        }
    }

    /// `base` with every key given here replacing its value.
    pub fn apply(&self, base: &RetentionConfig) -> RetentionConfig {
        RetentionConfig {
            keep_last: self.keep_last.unwrap_or(base.keep_last),
            keep_hourly: self.keep_hourly.unwrap_or(base.keep_hourly),
            keep_daily: self.keep_daily.unwrap_or(base.keep_daily),
            keep_weekly: self.keep_weekly.unwrap_or(base.keep_weekly),
            keep_monthly: self.keep_monthly.unwrap_or(base.keep_monthly),
            keep_yearly: self.keep_yearly.unwrap_or(base.keep_yearly),
        }
    }

    /// True when no key is given.
    pub fn is_empty(&self) -> bool {
        *self == RetentionOverrides::default()
    }
}

/// The six counts of `table` in the order last, hourly, daily, weekly, monthly, yearly, each
/// checked against 0 to 100000 (`None` when absent or invalid, the error recorded).
fn counts(raw: RawRetention, table: &str, v: &mut Validator<'_>) -> [Option<u32>; 6] {
    let RawRetention {
        keep_last,
        keep_hourly,
        keep_daily,
        keep_weekly,
        keep_monthly,
        keep_yearly,
    } = raw;
    let mut count = |name: &str, raw: Option<toml::Spanned<i64>>| {
        raw.map(|raw| {
            v.integer(
                &format!("{table}.backup-keep-{name}"),
                Some(raw),
                0,
                (defaults::BACKUP_KEEP_MIN, defaults::BACKUP_KEEP_MAX),
            )
        })
    };
    [
        count("last", keep_last),
        count("hourly", keep_hourly),
        count("daily", keep_daily),
        count("weekly", keep_weekly),
        count("monthly", keep_monthly),
        count("yearly", keep_yearly),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repository_replaces_only_the_keys_it_gives() {
        let base = RetentionConfig::default();
        let overrides = RetentionOverrides {
            keep_daily: Some(30),
            keep_last: Some(0),
            ..RetentionOverrides::default()
        };
        let merged = overrides.apply(&base);
        assert_eq!(merged.keep_daily, 30);
        assert_eq!(merged.keep_last, 0);
        assert_eq!(merged.keep_weekly, base.keep_weekly);
        assert_eq!(merged.keep_yearly, base.keep_yearly);
        assert!(!overrides.is_empty());
        assert!(RetentionOverrides::default().is_empty());
        assert_eq!(RetentionOverrides::default().apply(&base), base);
    }
}
