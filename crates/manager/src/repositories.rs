//! [`Repositories`]: the backup repositories the manager writes to, by name, and which one
//! holds each cluster's backups.
//!
//! `local` (the manager's `monitoring-datadir`) always exists; every `[repositories.NAME]`
//! table adds one (a directory or an S3 bucket). A cluster's backups are stored in the first
//! repository of its `backup-repositories`, and everything about them (listing, retention,
//! verification, reseed, collected logs) reads that one.
//!
//! Why a repository that does not answer at start is not fatal: the manager also serves the
//! clusters whose repositories work, and its API. The failure is logged at start with its fix,
//! and every operation on the unreachable repository fails with the storage's own error,
//! which says the same; its leftovers are cleaned at the next start that reaches it.

use std::collections::BTreeMap;
use std::sync::Arc;

use ferryman_config::{defaults, Config};
use ferryman_repo::repository::newest_first;
use ferryman_repo::{BackupId, CopyCheck, Manifest, Repository, Signatures};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::{Error, Result};

/// A backup and the repositories that hold it (the API's backup listing).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Located {
    /// The manifest (of the first repository holding the backup).
    #[serde(flatten)]
    pub manifest: Manifest,
    /// The names of the repositories holding it, in the cluster's order.
    pub repositories: Vec<String>,
}

/// A backup and its copies, each checked (the API's backup details).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Detailed {
    /// The manifest (of the first repository holding the backup).
    #[serde(flatten)]
    pub manifest: Manifest,
    /// Every repository of the backup's cluster, with what it holds of the backup.
    pub copies: Vec<Copy>,
}

/// One repository's copy of a backup, checked (the API's backup details).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Copy {
    /// The repository's name.
    pub repository: String,
    /// Where it is (`/var/lib/ferryman`, `s3://bucket/prefix`).
    pub location: String,
    /// What it holds of the backup.
    #[serde(flatten)]
    pub check: CopyCheck,
}

/// The repositories by name, and each cluster's.
#[derive(Debug)]
pub struct Repositories {
    by_name: BTreeMap<String, Repository>,
    /// Cluster name → its `backup-repositories`.
    clusters: BTreeMap<String, Vec<String>>,
}

impl Repositories {
    /// Opens `local` and every configured repository, and deals with what an interrupted run
    /// left in each (partial objects removed, other directories without a manifest
    /// quarantined).
    /// Every repository signs the manifests it writes with the manager's key and checks
    /// those it reads (`signatures`); one opened with the key for the first time has its
    /// unsigned manifests signed once (`signing.rs`).
    pub async fn open(config: &Config, signatures: Arc<Signatures>) -> Result<Repositories> {
        let mut by_name = BTreeMap::new();
        for repository in config.all_repositories() {
            by_name.insert(
                repository.name.clone(),
                Repository::from_config(&repository)?.with_signatures(Arc::clone(&signatures)),
            );
        }
        for (name, repo) in &by_name {
            if let Err(e) = repo.probe().await {
                warn!(repository = %name, location = %repo.location(), error = %e, "the repository does not answer; backups of the clusters stored in it will fail until it does");
                continue;
            }
            match repo.clean_incomplete().await {
                Ok(leftovers) => {
                    for key in &leftovers.removed {
                        warn!(repository = %name, %key, "removed a partial backup or log left by an interrupted run");
                    }
                }
                Err(e) => {
                    warn!(repository = %name, error = %e, "cannot look for what an interrupted run left; looking again at the next start")
                }
            }
            crate::signing::adopt(&config.manager.monitoring_datadir, name, repo).await;
            info!(repository = %name, location = %repo.location(), "repository ready");
        }
        let clusters = config
            .clusters
            .iter()
            .map(|c| (c.name.clone(), c.backup_repositories.clone()))
            .collect();
        Ok(Repositories { by_name, clusters })
    }

    /// The repository that stores `cluster`'s backups (the first of its
    /// `backup-repositories`).
    pub fn of_cluster(&self, cluster: &str) -> Result<&Repository> {
        let name = self
            .clusters
            .get(cluster)
            .and_then(|names| names.first())
            .ok_or_else(|| Error::Unknown {
                what: "cluster",
                name: cluster.to_owned(),
                known: self.clusters.keys().cloned().collect::<Vec<_>>().join(", "),
            })?;
        self.named(name)
    }

    /// The repository called `name`.
    pub fn named(&self, name: &str) -> Result<&Repository> {
        self.by_name.get(name).ok_or_else(|| Error::Unknown {
            what: "repository",
            name: name.to_owned(),
            known: self.by_name.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    /// Every stored backup, newest first, optionally of one cluster and/or server, each once,
    /// with the names of the repositories that hold it (in the cluster's order). Looked for
    /// in the cluster's repositories (every cluster's without `cluster`) and in `local`, which
    /// also holds the backups of clusters since removed from the configuration.
    pub async fn list_located(
        &self,
        cluster: Option<&str>,
        server: Option<&str>,
    ) -> Result<Vec<Located>> {
        let mut names: Vec<&str> = Vec::new();
        let lists: Vec<&Vec<String>> = match cluster {
            Some(c) => self.clusters.get(c).into_iter().collect(),
            None => self.clusters.values().collect(),
        };
        for name in lists.into_iter().flatten() {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        if !names.contains(&defaults::LOCAL_REPOSITORY) {
            names.push(defaults::LOCAL_REPOSITORY);
        }
        let mut lists = Vec::new();
        for name in names {
            let repo = self.named(name)?;
            match repo.list(cluster, server).await {
                Ok(listed) => lists.push((name.to_owned(), listed)),
                // One unreachable repository must not hide the others' backups.
                Err(e) if name != self.first_of(cluster) => {
                    warn!(repository = %name, error = %e, "cannot list the repository; its copies are left out");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(locate(lists))
    }

    /// [`Repositories::list_located`] without the locations.
    pub async fn list(&self, cluster: Option<&str>, server: Option<&str>) -> Result<Vec<Manifest>> {
        let located = self.list_located(cluster, server).await?;
        Ok(located.into_iter().map(|l| l.manifest).collect())
    }

    /// The manifest of backup `id`, from the first of its cluster's repositories that holds
    /// it (`local` for a cluster no longer configured).
    pub async fn get(&self, id: &BackupId) -> Result<Manifest> {
        let mut missing = None;
        for (_, repo) in self.in_order(id.cluster()) {
            match repo.get(id).await {
                Ok(manifest) => return Ok(manifest),
                Err(e) if e.is_not_found() => missing = Some(e),
                Err(e) => return Err(e.into()),
            }
        }
        Err(missing
            .unwrap_or_else(|| ferryman_repo::Error::NotFound {
                what: format!("backup {id}"),
                root: "any repository".to_owned(),
            })
            .into())
    }

    /// Where `expected`'s backup can be read: the first of its cluster's repositories whose
    /// copy checks out and that can decrypt it, with a note naming the copies passed over (for the job's log and
    /// result) when it is not the first.
    pub async fn source_for(&self, expected: &Manifest) -> Result<(&Repository, Option<String>)> {
        let mut passed = Vec::new();
        for (name, repo) in self.in_order(expected.id.cluster()) {
            match repo.check_readable(expected).await {
                CopyCheck::Ok if passed.is_empty() => return Ok((repo, None)),
                CopyCheck::Ok => {
                    let note = format!(
                        "backup {} is read from repository `{name}` ({}) because {}",
                        expected.id,
                        repo.location(),
                        passed.join("; ")
                    );
                    return Ok((repo, Some(note)));
                }
                check => passed.push(format!("the copy in `{name}` is {check}")),
            }
        }
        Err(Error::Refused(format!(
            "no repository holds a readable copy of backup {}: {}; run `ferryman repo check` \
             and restore a copy from elsewhere, or use another backup",
            expected.id,
            passed.join("; ")
        )))
    }

    /// Every repository of the backup's cluster with its copy checked, in the cluster's order.
    pub async fn copies(&self, expected: &Manifest) -> Vec<Copy> {
        copies_in(self.in_order(expected.id.cluster()), expected).await
    }

    /// `cluster`'s repositories in its order (`local` alone for a cluster not configured).
    fn in_order(&self, cluster: &str) -> Vec<(&str, &Repository)> {
        let names: Vec<&str> = match self.clusters.get(cluster) {
            Some(names) => names.iter().map(String::as_str).collect(),
            None => vec![defaults::LOCAL_REPOSITORY],
        };
        names
            .into_iter()
            .filter_map(|name| self.by_name.get(name).map(|repo| (name, repo)))
            .collect()
    }

    /// The name of the first repository of `cluster` (`local` without one).
    fn first_of(&self, cluster: Option<&str>) -> &str {
        cluster
            .and_then(|c| self.name_of_cluster(c))
            .unwrap_or(defaults::LOCAL_REPOSITORY)
    }

    /// The name of the repository that stores `cluster`'s backups.
    pub fn name_of_cluster(&self, cluster: &str) -> Option<&str> {
        self.clusters
            .get(cluster)
            .and_then(|names| names.first())
            .map(String::as_str)
    }
}

/// The listings of several repositories (name, its manifests) as one: each backup once, newest
/// first, with the names of the repositories that list it in the order given.
pub fn locate(lists: Vec<(String, Vec<Manifest>)>) -> Vec<Located> {
    let mut found: BTreeMap<BackupId, Located> = BTreeMap::new();
    for (name, listed) in lists {
        for manifest in listed {
            found
                .entry(manifest.id.clone())
                .or_insert_with(|| Located {
                    manifest,
                    repositories: Vec::new(),
                })
                .repositories
                .push(name.clone());
        }
    }
    let mut out: Vec<Located> = found.into_values().collect();
    out.sort_by(|a, b| newest_first(&a.manifest, &b.manifest));
    out
}

/// Each of `repos` (name, repository) with its copy of `expected`'s backup checked.
pub async fn copies_in<'a>(
    repos: impl IntoIterator<Item = (&'a str, &'a Repository)>,
    expected: &Manifest,
) -> Vec<Copy> {
    let mut out = Vec::new();
    for (name, repo) in repos {
        out.push(Copy {
            repository: name.to_owned(),
            location: repo.location(),
            check: repo.check_copy(expected).await,
        });
    }
    out
}
