//! Retention on a synthetic history (400 backups, one every 6 hours over 100 days from
//! 2026-01-01T00:00Z, so the newest is 2026-04-10T18:00Z, a Friday of ISO week 15), and prune
//! on a real repository.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ferryman_repo::manifest::CompressionInfo;
use ferryman_repo::storage::{Entry, ObjectReader, ObjectWriter};
use ferryman_repo::{
    plan, BackupId, KeepReason, Key, Kind, LocalStorage, Manifest, Repository, RetentionPolicy,
    Rule, Status, Storage, Timestamp, Tool,
};
use futures_util::future::BoxFuture;

use crate::*;

fn fake(server: &str, tool: Tool, started: Timestamp, job: u64) -> Manifest {
    Manifest {
        format_version: 1,
        id: BackupId::new("shop", server, started, job).unwrap(),
        cluster: "shop".into(),
        server: server.into(),
        host: "10.0.0.5".into(),
        kind: tool.kind(),
        tool,
        tool_version: None,
        server_version: None,
        format: tool.format(),
        payload: tool.format().payload_name().into(),
        job_id: job,
        started_at: started,
        ended_at: started,
        raw_bytes: 1,
        stored_bytes: 1,
        raw_sha256: String::new(),
        stored_sha256: String::new(),
        compression: CompressionInfo {
            algorithm: "zstd".into(),
            level: 3,
        },
        encryption: None,
        gtid: None,
        binlog_file: None,
        binlog_pos: None,
        coordinates_source: None,
        captured: BTreeMap::new(),
        databases: Vec::new(),
        table_rows: BTreeMap::new(),
        verification: Vec::new(),
        signature: None,
        extra: BTreeMap::new(),
    }
}

/// 400 physical backups of shop/db1, every 6 hours from 2026-01-01T00:00Z, shuffled a bit.
fn history() -> Vec<Manifest> {
    let start = Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
    let mut all: Vec<Manifest> = (0..400u64)
        .map(|i| {
            fake(
                "db1",
                Tool::Mariabackup,
                start.plus_seconds(i as i64 * 6 * 3600),
                i + 1,
            )
        })
        .collect();
    all.reverse();
    all.swap(3, 250);
    all
}

fn at(m: &Manifest) -> String {
    m.started_at.rfc3339()
}

/// The kept backups' start times, newest first, with their reasons.
fn kept(plan: &ferryman_repo::PrunePlan, history: &[Manifest]) -> Vec<(String, Vec<String>)> {
    let by_id: BTreeMap<&BackupId, &Manifest> = history.iter().map(|m| (&m.id, m)).collect();
    plan.keep
        .iter()
        .map(|k| {
            (
                at(by_id[&k.id]),
                k.reasons.iter().map(|r| r.to_string()).collect(),
            )
        })
        .collect()
}

fn times(kept: &[(String, Vec<String>)]) -> Vec<&str> {
    kept.iter().map(|(t, _)| t.as_str()).collect()
}

/// One small dump of shop/db1 started at each of `starts` (RFC 3339), jobs 1, 2, ...; their
/// ids in that order.
async fn dumps(repo: &Repository, starts: &[String]) -> Vec<BackupId> {
    let data = dump(10, true);
    let mut ids = Vec::new();
    for (job, started) in (1..).zip(starts) {
        let m = ingest(repo, meta(Tool::Mysqldump, job, started), &data)
            .await
            .unwrap();
        ids.push(m.id);
    }
    ids
}

/// The backups the repository lists, newest first.
async fn listed(repo: &Repository) -> Vec<BackupId> {
    let all = repo.list(None, None).await.unwrap();
    all.into_iter().map(|m| m.id).collect()
}

/// A policy keeping the `last` newest backups and the newest of each of `monthly` months.
fn keeping(last: u32, monthly: u32) -> RetentionPolicy {
    RetentionPolicy {
        keep_last: last,
        keep_hourly: 0,
        keep_daily: 0,
        keep_weekly: 0,
        keep_monthly: monthly,
        keep_yearly: 0,
    }
}

#[test]
fn restic_semantics_keep_the_newest_of_each_bucket() {
    let history = history();
    let policy = RetentionPolicy {
        keep_last: 3,
        keep_hourly: 0,
        keep_daily: 7,
        keep_weekly: 4,
        keep_monthly: 3,
        keep_yearly: 1,
    };
    let p = plan(&policy, &history);
    let k = kept(&p, &history);
    assert_eq!(
        times(&k),
        [
            "2026-04-10T18:00:00Z", // last, daily, weekly (W15), monthly (April), yearly
            "2026-04-10T12:00:00Z", // last
            "2026-04-10T06:00:00Z", // last
            "2026-04-09T18:00:00Z", // daily
            "2026-04-08T18:00:00Z",
            "2026-04-07T18:00:00Z",
            "2026-04-06T18:00:00Z",
            "2026-04-05T18:00:00Z", // daily, weekly (W14: Sunday is its last day)
            "2026-04-04T18:00:00Z", // daily (the 7th)
            "2026-03-31T18:00:00Z", // monthly (March)
            "2026-03-29T18:00:00Z", // weekly (W13)
            "2026-03-22T18:00:00Z", // weekly (W12)
            "2026-02-28T18:00:00Z", // monthly (February)
        ]
    );
    assert_eq!(
        k[0].1,
        ["newest", "last", "daily", "weekly", "monthly", "yearly"]
    );
    assert_eq!(k[7].1, ["daily", "weekly"]);
    assert_eq!(k[12].1, ["monthly"]);
    assert_eq!(p.keep.len() + p.delete.len(), 400);
    // Every count ran out before the oldest backup: it goes.
    assert!(p.delete.iter().any(|id| id.job_id() == 1));
}

#[test]
fn the_default_policy_and_counts_left_at_the_oldest_backup() {
    let history = history();
    let p = plan(&RetentionPolicy::default(), &history);
    let k = kept(&p, &history);
    let mut expected: Vec<&str> = vec![
        "2026-04-10T18:00:00Z",
        "2026-04-10T12:00:00Z",
        "2026-04-10T06:00:00Z",
        "2026-04-10T00:00:00Z",
        "2026-04-09T18:00:00Z",
        "2026-04-09T12:00:00Z",
        "2026-04-09T06:00:00Z",
        "2026-04-09T00:00:00Z",
        "2026-04-08T18:00:00Z",
        "2026-04-08T12:00:00Z", // the 10 newest
        "2026-04-05T18:00:00Z", // weekly W14
        "2026-03-31T18:00:00Z", // monthly
        "2026-03-29T18:00:00Z", // weekly W13
        "2026-03-22T18:00:00Z", // weekly W12
        "2026-02-28T18:00:00Z", // monthly
        "2026-01-31T18:00:00Z", // monthly
        "2026-01-01T00:00:00Z", // the oldest: monthly and yearly still had counts
    ];
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(times(&k), expected);
    assert_eq!(
        k[0].1,
        ["newest", "last", "hourly", "daily", "weekly", "monthly", "yearly"]
    );
    assert_eq!(k.last().unwrap().1, ["oldest monthly", "oldest yearly"]);
    assert_eq!(
        p.keep.last().unwrap().reasons,
        [
            KeepReason::Oldest(Rule::Monthly),
            KeepReason::Oldest(Rule::Yearly)
        ]
    );
}

#[test]
fn the_newest_of_every_group_and_protected_backups_are_always_kept() {
    let mut backups = history();
    let t = Timestamp::parse_rfc3339("2026-02-01T00:00:00Z").unwrap();
    // Other groups: another server, and logical backups of db1.
    backups.push(fake("db2", Tool::Mariabackup, t, 1000));
    backups.push(fake("db2", Tool::Mariabackup, t.plus_seconds(60), 1001));
    backups.push(fake("db1", Tool::Mysqldump, t, 1002));
    backups.push(fake("db1", Tool::Mydumper, t.plus_seconds(60), 1003));
    let protected_id = backups
        .iter()
        .find(|m| at(m) == "2026-02-10T06:00:00Z")
        .unwrap()
        .id
        .clone();
    // The only verified backup of its group: the newest verified one.
    let verified = backups.iter_mut().find(|m| m.id == protected_id).unwrap();
    verified
        .verification
        .push(verification(Status::Ok, "restore"));
    let none = RetentionPolicy {
        keep_last: 0,
        keep_hourly: 0,
        keep_daily: 0,
        keep_weekly: 0,
        keep_monthly: 0,
        keep_yearly: 0,
    };
    let p = plan(&none, &backups);
    let kept: Vec<(String, Kind, String, Vec<KeepReason>)> = p
        .keep
        .iter()
        .map(|k| {
            let m = backups.iter().find(|m| m.id == k.id).unwrap();
            (m.server.clone(), m.kind, at(m), k.reasons.clone())
        })
        .collect();
    assert_eq!(
        kept,
        [
            (
                "db1".into(),
                Kind::Physical,
                "2026-04-10T18:00:00Z".into(),
                vec![KeepReason::Newest]
            ),
            (
                "db1".into(),
                Kind::Physical,
                "2026-02-10T06:00:00Z".into(),
                vec![KeepReason::Protected]
            ),
            (
                "db1".into(),
                Kind::Logical,
                "2026-02-01T00:01:00Z".into(),
                vec![KeepReason::Newest]
            ),
            (
                "db2".into(),
                Kind::Physical,
                "2026-02-01T00:01:00Z".into(),
                vec![KeepReason::Newest]
            ),
        ]
    );
    assert_eq!(p.delete.len(), backups.len() - 4);
    assert!(p
        .keep
        .iter()
        .all(|k| k.id.job_id() != 1002 && k.id.job_id() != 1000));
}

#[tokio::test(flavor = "multi_thread")]
async fn prune_deletes_only_what_the_plan_says_and_a_dry_run_nothing() {
    let (_tmp, repo) = repo();
    let starts: Vec<String> = (1..=12)
        .map(|day| format!("2026-03-{day:02}T04:00:00Z"))
        .collect();
    let ids = dumps(&repo, &starts).await;
    let policy = keeping(3, 0);
    // The newest verified backup (the only one) is kept whatever the policy.
    repo.append_verification(&ids[1], verification(Status::Ok, "restore"))
        .await
        .unwrap();

    let dry = repo.prune("shop", &policy, true).await.unwrap();
    assert_eq!(dry.keep.len(), 4);
    assert_eq!(dry.delete.len(), 8);
    assert_eq!(repo.list(None, None).await.unwrap().len(), 12);

    let done = repo.prune("shop", &policy, false).await.unwrap();
    assert_eq!((done.keep, done.delete), (dry.keep, dry.delete));
    assert!(done.failed.is_empty(), "{:?}", done.failed);
    let left = listed(&repo).await;
    assert_eq!(
        left,
        [
            ids[11].clone(),
            ids[10].clone(),
            ids[9].clone(),
            ids[1].clone()
        ]
    );
    let dirs = std::fs::read_dir(root(&repo).join("Backups/shop/db1"))
        .unwrap()
        .count();
    assert_eq!(dirs, 4);
    // Applying it again changes nothing.
    assert!(repo
        .prune("shop", &policy, false)
        .await
        .unwrap()
        .delete
        .is_empty());
}

/// Local storage on which deleting anything of one backup fails, as on a read-only mount.
#[derive(Debug)]
struct FailingDeletes {
    inner: LocalStorage,
    /// The backup directory whose objects cannot be deleted.
    stuck: Key,
}

impl FailingDeletes {
    fn check(&self, key: &Key) -> ferryman_repo::Result<()> {
        if key.as_str().starts_with(self.stuck.as_str()) {
            return Err(ferryman_repo::Error::Io {
                action: "delete",
                location: key.to_string(),
                source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            });
        }
        Ok(())
    }
}

impl Storage for FailingDeletes {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn local_path(&self, key: &Key) -> Option<PathBuf> {
        self.inner.local_path(key)
    }
    fn create<'a>(
        &'a self,
        key: &'a Key,
    ) -> BoxFuture<'a, ferryman_repo::Result<Box<dyn ObjectWriter>>> {
        self.inner.create(key)
    }
    fn put<'a>(&'a self, key: &'a Key, bytes: Vec<u8>) -> BoxFuture<'a, ferryman_repo::Result<()>> {
        self.inner.put(key, bytes)
    }
    fn get<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, ferryman_repo::Result<Option<Vec<u8>>>> {
        self.inner.get(key)
    }
    fn open<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, ferryman_repo::Result<ObjectReader>> {
        self.inner.open(key)
    }
    fn list<'a>(
        &'a self,
        prefix: Option<&'a Key>,
    ) -> BoxFuture<'a, ferryman_repo::Result<Vec<Entry>>> {
        self.inner.list(prefix)
    }
    fn delete<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, ferryman_repo::Result<()>> {
        match self.check(key) {
            Ok(()) => self.inner.delete(key),
            Err(e) => Box::pin(async move { Err(e) }),
        }
    }
    fn delete_prefix<'a>(&'a self, prefix: &'a Key) -> BoxFuture<'a, ferryman_repo::Result<()>> {
        match self.check(prefix) {
            Ok(()) => self.inner.delete_prefix(prefix),
            Err(e) => Box::pin(async move { Err(e) }),
        }
    }
    fn rename<'a>(
        &'a self,
        from: &'a Key,
        to: &'a Key,
    ) -> BoxFuture<'a, ferryman_repo::Result<()>> {
        self.inner.rename(from, to)
    }
    fn size<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, ferryman_repo::Result<Option<u64>>> {
        self.inner.size(key)
    }
    fn free_space(&self) -> BoxFuture<'_, ferryman_repo::Result<Option<u64>>> {
        self.inner.free_space()
    }
    fn probe(&self) -> BoxFuture<'_, ferryman_repo::Result<()>> {
        self.inner.probe()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_deletion_is_reported_and_the_others_go_on() {
    let (tmp, repo) = repo();
    let starts: Vec<String> = (1..=5)
        .map(|day| format!("2026-03-{day:02}T04:00:00Z"))
        .collect();
    let ids = dumps(&repo, &starts).await;
    // The second oldest cannot be deleted; the oldest, after it in the plan, still goes.
    let storage = FailingDeletes {
        inner: LocalStorage::open(tmp.path().join("repo")).unwrap(),
        stuck: ids[1].dir(),
    };
    let repo = Repository::with_storage(Arc::new(storage));

    let report = repo.prune("shop", &keeping(2, 0), false).await.unwrap();
    assert!(!report.dry_run);
    assert_eq!(report.cluster, "shop");
    assert_eq!(report.delete, [ids[2].clone(), ids[0].clone()]);
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    assert_eq!(report.failed[0].id, ids[1]);
    assert!(
        report.failed[0].error.contains("cannot delete"),
        "{}",
        report.failed[0].error
    );
    assert_eq!(
        listed(&repo).await,
        [ids[4].clone(), ids[3].clone(), ids[1].clone()]
    );
}

/// Retention has no timer and no "now": what it keeps depends on the backups' own times only,
/// so a prune planned today and one planned a year later (tokio time paused and advanced)
/// agree, and the prune then deletes exactly what they planned.
#[tokio::test]
async fn the_plan_does_not_depend_on_when_it_runs() {
    let (_tmp, repo) = repo();
    let starts = [
        "2026-01-31T23:00:00Z",
        "2026-02-01T01:00:00Z",
        "2026-02-01T02:00:00Z",
        "2026-02-08T02:00:00Z",
        "2026-03-01T02:00:00Z",
        "2026-03-01T03:00:00Z",
    ]
    .map(String::from);
    let ids = dumps(&repo, &starts).await;
    let policy = keeping(1, 2);
    tokio::time::pause();
    let before = repo.prune("shop", &policy, true).await.unwrap();
    tokio::time::advance(Duration::from_secs(400 * 24 * 3600)).await;
    let after = repo.prune("shop", &policy, true).await.unwrap();
    assert_eq!(after, before);
    // The newest (last, March); the newest of February; nothing of January (two months).
    let kept: Vec<&BackupId> = before.keep.iter().map(|k| &k.id).collect();
    assert_eq!(kept, [&ids[5], &ids[3]]);

    let done = repo.prune("shop", &policy, false).await.unwrap();
    assert_eq!(done.delete, before.delete);
    assert_eq!(repo.list(None, None).await.unwrap().len(), 2);
}
