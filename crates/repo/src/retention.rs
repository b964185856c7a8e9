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
//! all zeros), and so is the newest *verified* backup of every group (its newest verification
//! passed, see [`Verification::is_verified`]), without using up any count: the newest backup
//! may be the one that failed its verification.
//!
//! [`Repository::prune`] is the one place that applies a policy: one prune at a time per
//! repository (two overlapping runs would plan on the same listing and the second would fail
//! deleting what the first already removed), and a failed deletion does not stop the others;
//! it is reported with the backup it concerns (the backup stays whole: [`Repository::delete`]
//! removes the manifest first, so a half-deleted backup is no longer listed as one).

use std::collections::BTreeMap;
use std::fmt;

use ferryman_config::RetentionConfig;
use serde::{Deserialize, Serialize, Serializer};
use tracing::{info, warn};

use crate::layout::BackupId;
use crate::manifest::{Kind, Manifest};
use crate::repository::{sort_newest_first, Repository};
use crate::timestamp::Timestamp;
use crate::verification::Verification;
use crate::Result;

/// How many backups to keep, per source group: a cluster's `backup-keep-*` keys
/// ([`RetentionConfig`], whose defaults are this type's).
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
        RetentionPolicy::from(&RetentionConfig::default())
    }
}

impl From<&RetentionConfig> for RetentionPolicy {
    fn from(config: &RetentionConfig) -> Self {
        // Destructured so that a new key cannot be forgotten here.
        let RetentionConfig {
            keep_last,
            keep_hourly,
            keep_daily,
            keep_weekly,
            keep_monthly,
            keep_yearly,
        } = *config;
        RetentionPolicy {
            keep_last,
            keep_hourly,
            keep_daily,
            keep_weekly,
            keep_monthly,
            keep_yearly,
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
    /// The newest verified backup of its group.
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

/// What a prune did, or with `dry_run` would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    /// The cluster.
    pub cluster: String,
    /// Whether nothing was deleted on purpose.
    pub dry_run: bool,
    /// The policy applied.
    pub policy: RetentionPolicy,
    /// Kept backups, each with every reason.
    pub keep: Vec<Kept>,
    /// Backups deleted (with `dry_run`: that would be deleted).
    pub delete: Vec<BackupId>,
    /// Deletions that failed, with the reason; those backups are still listed.
    pub failed: Vec<PruneFailure>,
    /// Archived binlog segments deleted (with `dry_run`: that would be deleted): wholly
    /// before every kept backup (`pitr::unneeded`).
    #[serde(default)]
    pub segments_delete: Vec<String>,
    /// Segment deletions that failed: (segment, reason).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments_failed: Vec<(String, String)>,
}

/// A backup the prune could not delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneFailure {
    /// The backup.
    pub id: BackupId,
    /// Why.
    pub error: String,
}

/// Applies `policy` to `backups` (any order, any mix of groups).
pub fn plan(policy: &RetentionPolicy, backups: &[Manifest]) -> PrunePlan {
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
        plan_group(policy, &group, &mut out);
    }
    out
}

/// One group, sorted newest first.
fn plan_group(policy: &RetentionPolicy, group: &[Manifest], out: &mut PrunePlan) {
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
    // Newest first, so the first verified backup is the newest verified one.
    let protected = group.iter().position(Verification::is_verified);
    for (nr, backup) in group.iter().enumerate() {
        let oldest = nr + 1 == group.len();
        let mut reasons = Vec::new();
        if nr == 0 {
            reasons.push(KeepReason::Newest);
        }
        if protected == Some(nr) {
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
    /// Applies `policy` to every backup of `cluster` (also those of servers since removed from
    /// the configuration) and, unless `dry_run`, deletes what it does not keep, carrying on
    /// past a failed deletion (see the module documentation). Returns what was kept, deleted
    /// and could not be deleted; with `dry_run`, `delete` is what would be.
    pub async fn prune(
        &self,
        cluster: &str,
        policy: &RetentionPolicy,
        dry_run: bool,
    ) -> Result<PruneReport> {
        let _one_at_a_time = self.prune_lock.lock().await;
        let backups = self.list(Some(cluster), None).await?;
        let plan = plan(policy, &backups);
        let mut report = PruneReport {
            cluster: cluster.to_owned(),
            dry_run,
            policy: *policy,
            keep: plan.keep,
            delete: Vec::new(),
            failed: Vec::new(),
            segments_delete: Vec::new(),
            segments_failed: Vec::new(),
        };
        let kept: Vec<Manifest> = backups
            .iter()
            .filter(|m| !plan.delete.contains(&m.id))
            .cloned()
            .collect();
        let segments = self.list_segments(cluster).await?;
        let unneeded: Vec<String> = crate::pitr::unneeded(&kept, &segments)?
            .into_iter()
            .map(|s| s.name.clone())
            .collect();
        if dry_run {
            report.delete = plan.delete;
            report.segments_delete = unneeded;
            return Ok(report);
        }
        for id in plan.delete {
            match self.delete(&id).await {
                Ok(()) => report.delete.push(id),
                Err(e) => {
                    warn!(backup = %id, error = %e, "retention: cannot delete");
                    report.failed.push(PruneFailure {
                        id,
                        error: e.to_string(),
                    });
                }
            }
        }
        for name in unneeded {
            match self.delete_segment(cluster, &name).await {
                Ok(()) => report.segments_delete.push(name),
                Err(e) => {
                    warn!(segment = %name, error = %e, "retention: cannot delete a binlog segment");
                    report.segments_failed.push((name, e.to_string()));
                }
            }
        }
        info!(
            cluster,
            kept = report.keep.len(),
            deleted = report.delete.len(),
            segments_deleted = report.segments_delete.len(),
            failed = report.failed.len(),
            "retention applied"
        );
        Ok(report)
    }
}
