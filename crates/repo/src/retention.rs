//! Retention: which backups to keep, with restic's `forget` semantics, per source group
//! (cluster, server, kind), in UTC.
//!
//! Walking a group newest first, each rule with a count left keeps a backup when it falls in a
//! bucket (hour, day, ISO week, month, year; `last`: every backup) other than that of the
//! previous backup the rule kept, and uses up one count. So `keep_daily = 7` keeps the newest
//! backup of each of the last 7 days *that have a backup*. As in restic (0.17), a rule that
//! still has counts left when the walk reaches the oldest backup keeps it too ("oldest
//! monthly"): the history kept is as long as the policy asks for. A backup is kept if any rule
//! keeps it; every reason is recorded.
//!
//! Two guarantees on top: the newest backup of every group is kept whatever the policy (even
//! all zeros), and the ids the caller protects (the verifier's newest verified backup) are
//! kept without using up any count.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize, Serializer};
use tracing::info;

use crate::layout::BackupId;
use crate::manifest::{Kind, Manifest};
use crate::repository::{sort_newest_first, Repository};
use crate::timestamp::Timestamp;
use crate::Result;

/// How many backups to keep, per source group. Defaults are replication-manager's
/// `backup-keep-last` 10, `-hourly` 1, `-daily` 1, `-weekly` 4, `-monthly` 12, `-yearly` 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    /// The N newest backups.
    pub keep_last: u32,
    /// The newest backup of each of the last N hours that have one.
    pub keep_hourly: u32,
    /// ... of each of the last N days.
    pub keep_daily: u32,
    /// ... of each of the last N ISO weeks (Monday to Sunday).
    pub keep_weekly: u32,
    /// ... of each of the last N months.
    pub keep_monthly: u32,
    /// ... of each of the last N years.
    pub keep_yearly: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            keep_last: 10,
            keep_hourly: 1,
            keep_daily: 1,
            keep_weekly: 4,
            keep_monthly: 12,
            keep_yearly: 2,
        }
    }
}

/// A counting rule of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// `keep_last`.
    Last,
    /// `keep_hourly`.
    Hourly,
    /// `keep_daily`.
    Daily,
    /// `keep_weekly`.
    Weekly,
    /// `keep_monthly`.
    Monthly,
    /// `keep_yearly`.
    Yearly,
}

impl Rule {
    fn name(self) -> &'static str {
        match self {
            Rule::Last => "last",
            Rule::Hourly => "hourly",
            Rule::Daily => "daily",
            Rule::Weekly => "weekly",
            Rule::Monthly => "monthly",
            Rule::Yearly => "yearly",
        }
    }

    /// The bucket of a backup; `nr` (its rank, newest = 0) makes every backup its own bucket
    /// for `last`.
    fn bucket(self, t: Timestamp, nr: usize) -> i64 {
        match self {
            Rule::Last => i64::try_from(nr).unwrap_or(i64::MAX),
            Rule::Hourly => t.hour_bucket(),
            Rule::Daily => t.day_bucket(),
            Rule::Weekly => t.iso_week_bucket(),
            Rule::Monthly => t.month_bucket(),
            Rule::Yearly => t.year_bucket(),
        }
    }
}

/// Why a backup is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeepReason {
    /// The newest backup of its group (always kept).
    Newest,
    /// The caller protected it (e.g. the newest verified backup).
    Protected,
    /// A rule kept it as the newest of its bucket.
    Rule(Rule),
    /// A rule with counts left kept it as the oldest backup of the group.
    Oldest(Rule),
}

impl fmt::Display for KeepReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeepReason::Newest => f.write_str("newest"),
            KeepReason::Protected => f.write_str("protected"),
            KeepReason::Rule(rule) => f.write_str(rule.name()),
            KeepReason::Oldest(rule) => write!(f, "oldest {}", rule.name()),
        }
    }
}

impl Serialize for KeepReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A kept backup and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    /// The backup.
    pub id: BackupId,
    /// Every reason, in the order: newest, protected, then the rules.
    pub reasons: Vec<KeepReason>,
}

/// What a policy keeps and deletes; groups in (cluster, server, kind) order, newest first
/// within each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PrunePlan {
    /// Kept backups.
    pub keep: Vec<Kept>,
    /// Backups to delete.
    pub delete: Vec<BackupId>,
}

/// Applies `policy` to `backups` (any order, any mix of groups).
pub fn plan(
    policy: &RetentionPolicy,
    backups: &[Manifest],
    protected: &HashSet<BackupId>,
) -> PrunePlan {
    let mut groups: BTreeMap<(&str, &str, Kind), Vec<Manifest>> = BTreeMap::new();
    for m in backups {
        groups
            .entry((m.cluster.as_str(), m.server.as_str(), m.kind))
            .or_default()
            .push(m.clone());
    }
    let mut out = PrunePlan::default();
    for (_, mut group) in groups {
        sort_newest_first(&mut group);
        plan_group(policy, &group, protected, &mut out);
    }
    out
}

/// One group, sorted newest first.
fn plan_group(
    policy: &RetentionPolicy,
    group: &[Manifest],
    protected: &HashSet<BackupId>,
    out: &mut PrunePlan,
) {
    struct Counter {
        rule: Rule,
        left: u32,
        last: Option<i64>,
    }
    let mut counters = [
        (Rule::Last, policy.keep_last),
        (Rule::Hourly, policy.keep_hourly),
        (Rule::Daily, policy.keep_daily),
        (Rule::Weekly, policy.keep_weekly),
        (Rule::Monthly, policy.keep_monthly),
        (Rule::Yearly, policy.keep_yearly),
    ]
    .map(|(rule, left)| Counter {
        rule,
        left,
        last: None,
    });
    for (nr, backup) in group.iter().enumerate() {
        let oldest = nr + 1 == group.len();
        let mut reasons = Vec::new();
        if nr == 0 {
            reasons.push(KeepReason::Newest);
        }
        if protected.contains(&backup.id) {
            reasons.push(KeepReason::Protected);
        }
        for c in counters.iter_mut().filter(|c| c.left > 0) {
            let bucket = c.rule.bucket(backup.started_at, nr);
            if c.last != Some(bucket) {
                reasons.push(KeepReason::Rule(c.rule));
            } else if oldest {
                reasons.push(KeepReason::Oldest(c.rule));
            } else {
                continue;
            }
            c.last = Some(bucket);
            c.left -= 1;
        }
        if reasons.is_empty() {
            out.delete.push(backup.id.clone());
        } else {
            out.keep.push(Kept {
                id: backup.id.clone(),
                reasons,
            });
        }
    }
}

impl Repository {
    /// Applies `policy` to every backup of the repository, keeping `protected` ones; deletes
    /// what it does not keep unless `dry_run`. Returns the plan either way.
    pub async fn prune(
        &self,
        policy: &RetentionPolicy,
        protected: &HashSet<BackupId>,
        dry_run: bool,
    ) -> Result<PrunePlan> {
        let backups = self.list(None, None).await?;
        let plan = plan(policy, &backups, protected);
        if !dry_run {
            for id in &plan.delete {
                self.delete(id).await?;
            }
            info!(
                kept = plan.keep.len(),
                deleted = plan.delete.len(),
                "retention applied"
            );
        }
        Ok(plan)
    }
}
