//! A cluster's scheduler: which recurring jobs run, and when (6-field cron, seconds first).

use croner::Cron;
use toml::Spanned;

use crate::defaults;
use crate::error::ConfigError;
use crate::validate::Validator;

/// The fields of our cron strings, with their ranges, for messages.
const FIELDS: [(&str, &str); 6] = [
    ("second", "0-59"),
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31"),
    ("month", "1-12 or JAN-DEC"),
    ("day-of-week", "0-7 or SUN-SAT"),
];

/// The scheduler switches and cron strings of one cluster.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// `monitoring-scheduler`: the master switch; when false no scheduled job of this cluster
    /// runs, whatever the entries say. Default false.
    pub enabled: bool,
    /// `scheduler-db-servers-physical-backup` (default false) and
    /// `scheduler-db-servers-physical-backup-cron` (default `"0 0 0 * * 0-4"`).
    pub physical_backup: ScheduleEntry,
    /// `scheduler-db-servers-logical-backup` (default true) and
    /// `scheduler-db-servers-logical-backup-cron` (default `"0 0 1 * * 6"`).
    pub logical_backup: ScheduleEntry,
    /// `scheduler-db-servers-logs` (default false): ship error and slow-query logs; and
    /// `scheduler-db-servers-logs-cron` (default `"0 0/10 * * * *"`).
    pub logs: ScheduleEntry,
    /// `scheduler-db-servers-optimize` (default false) and
    /// `scheduler-db-servers-optimize-cron` (default `"0 0 3 1 * 5"`).
    pub optimize: ScheduleEntry,
    /// `scheduler-db-servers-verify` (default false) and `scheduler-db-servers-verify-cron`
    /// (default `"0 0/10 * * * *"`): when it fires, the manager verifies (test-restores, see
    /// [`VerifierConfig`](crate::VerifierConfig)) every stored backup of the cluster that has
    /// no verification result yet.
    pub verify: ScheduleEntry,
    /// `scheduler-db-servers-snapshot` (default false) and
    /// `scheduler-db-servers-snapshot-cron` (default `"0 0 * * * *"`, hourly): a consistent
    /// snapshot of every server with a `snapshot-method`, then its `snapshot-keep`.
    pub snapshot: ScheduleEntry,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            enabled: defaults::MONITORING_SCHEDULER,
            physical_backup: ScheduleEntry::default_for(
                defaults::PHYSICAL_BACKUP,
                defaults::PHYSICAL_BACKUP_CRON,
            ),
            logical_backup: ScheduleEntry::default_for(
                defaults::LOGICAL_BACKUP,
                defaults::LOGICAL_BACKUP_CRON,
            ),
            logs: ScheduleEntry::default_for(defaults::LOGS, defaults::LOGS_CRON),
            optimize: ScheduleEntry::default_for(defaults::OPTIMIZE, defaults::OPTIMIZE_CRON),
            verify: ScheduleEntry::default_for(defaults::VERIFY, defaults::VERIFY_CRON),
            snapshot: ScheduleEntry::default_for(defaults::SNAPSHOT, defaults::SNAPSHOT_CRON),
        }
    }
}

/// One recurring job: a switch and a 6-field cron string, seconds first
/// (`sec min hour dom mon dow`, as replication-manager writes them).
#[derive(Debug, Clone)]
pub struct ScheduleEntry {
    /// Whether this job is scheduled (still subject to [`SchedulerConfig::enabled`]).
    pub enabled: bool,
    /// The cron string as written.
    pub cron: String,
    schedule: Cron,
}

impl ScheduleEntry {
    /// Parses `cron` (6 fields, seconds first).
    pub fn new(enabled: bool, cron: &str) -> Result<Self, croner::errors::CronError> {
        Ok(ScheduleEntry {
            enabled,
            cron: cron.to_owned(),
            schedule: parse(cron)?,
        })
    }

    /// The parsed schedule, e.g. for `find_next_occurrence`.
    pub fn schedule(&self) -> &Cron {
        &self.schedule
    }

    /// Whether this job runs at all: this entry and the cluster's scheduler are both on.
    pub fn is_active(&self, scheduler: &SchedulerConfig) -> bool {
        scheduler.enabled && self.enabled
    }

    /// An entry from the built-in defaults, which a unit test checks parse.
    fn default_for(enabled: bool, cron: &str) -> Self {
        ScheduleEntry::new(enabled, cron).expect("default cron strings are valid")
    }

    /// Validates one switch + cron pair; `key` is the cron key's dotted path.
    pub(crate) fn from_raw(
        key: String,
        enabled: Option<bool>,
        cron: Option<Spanned<String>>,
        (default_enabled, default_cron): (bool, &str),
        v: &mut Validator<'_>,
    ) -> Self {
        let enabled = enabled.unwrap_or(default_enabled);
        let Some(cron) = cron else {
            return ScheduleEntry::default_for(enabled, default_cron);
        };
        let at = v.at(cron.span());
        let value = cron.into_inner();
        match check(&value) {
            Ok(schedule) => ScheduleEntry {
                enabled,
                cron: value,
                schedule,
            },
            Err(Problem::SecondsMissing) => {
                v.push(ConfigError::CronSecondsMissing { at, key, value });
                ScheduleEntry::default_for(enabled, default_cron)
            }
            Err(Problem::Invalid(reason)) => {
                v.push(ConfigError::InvalidCron {
                    at,
                    key,
                    value,
                    reason,
                });
                ScheduleEntry::default_for(enabled, default_cron)
            }
        }
    }
}

fn parse(cron: &str) -> Result<Cron, croner::errors::CronError> {
    Cron::new(cron).with_seconds_required().parse()
}

enum Problem {
    SecondsMissing,
    Invalid(String),
}

/// Parses `cron`, explaining failures in terms of our 6 fields.
fn check(cron: &str) -> Result<Cron, Problem> {
    let fields: Vec<&str> = cron.split_whitespace().collect();
    if !cron.trim_start().starts_with('@') {
        match fields.len() {
            5 => return Err(Problem::SecondsMissing),
            6 => {}
            n => return Err(Problem::Invalid(format!("it has {n} fields, not 6"))),
        }
    }
    parse(cron).map_err(|e| {
        // croner does not say which field is wrong: find the one that fails on its own.
        let culprit = (0..fields.len().min(6)).find(|&i| {
            let mut alone = ["*"; 6];
            alone[i] = fields[i];
            parse(&alone.join(" ")).is_err()
        });
        Problem::Invalid(match culprit {
            Some(i) => {
                let (name, range) = FIELDS[i];
                format!(
                    "the {name} field `{}` is not valid; it takes {range}",
                    fields[i]
                )
            }
            None => e.to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(cron: &str) -> String {
        match check(cron) {
            Ok(_) => "ok".to_owned(),
            Err(Problem::SecondsMissing) => "5 fields".to_owned(),
            Err(Problem::Invalid(r)) => r,
        }
    }

    #[test]
    fn defaults_parse() {
        let _ = SchedulerConfig::default();
        for c in [
            defaults::PHYSICAL_BACKUP_CRON,
            defaults::LOGICAL_BACKUP_CRON,
            defaults::LOGS_CRON,
            defaults::OPTIMIZE_CRON,
            defaults::VERIFY_CRON,
        ] {
            assert_eq!(reason(c), "ok", "{c}");
        }
    }

    #[test]
    fn problems_name_the_field() {
        assert_eq!(
            reason("0 0 25 * * *"),
            "the hour field `25` is not valid; it takes 0-23"
        );
        assert_eq!(
            reason("0 0 0 * * 9"),
            "the day-of-week field `9` is not valid; it takes 0-7 or SUN-SAT"
        );
        assert_eq!(reason("0 1 * * *"), "5 fields");
        assert_eq!(reason("0 0 1 * * * *"), "it has 7 fields, not 6");
        assert_eq!(reason(""), "it has 0 fields, not 6");
        assert_eq!(reason("@daily"), "ok");
        assert_eq!(reason("0 0 1 * * MON-FRI"), "ok");
    }
}
