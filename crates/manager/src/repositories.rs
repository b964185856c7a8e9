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

use std::collections::{BTreeMap, HashSet};

use ferryman_config::{defaults, Config};
use ferryman_repo::repository::sort_newest_first;
use ferryman_repo::{BackupId, Manifest, Repository};
use tracing::{info, warn};

use crate::{Error, Result};

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
    pub async fn open(config: &Config) -> Result<Repositories> {
        let mut by_name = BTreeMap::new();
        let local = Repository::open(&config.manager.monitoring_datadir)?;
        by_name.insert(defaults::LOCAL_REPOSITORY.to_owned(), local);
        for (name, repository) in &config.repositories {
            by_name.insert(name.clone(), Repository::from_config(repository)?);
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

    /// Every stored backup, newest first, optionally of one cluster and/or server: from the
    /// clusters' repositories and from `local` (which also holds the backups of clusters
    /// since removed from the configuration). A backup found twice is listed once.
    pub async fn list(&self, cluster: Option<&str>, server: Option<&str>) -> Result<Vec<Manifest>> {
        let mut names: Vec<&str> = match cluster {
            Some(c) => vec![self
                .name_of_cluster(c)
                .unwrap_or(defaults::LOCAL_REPOSITORY)],
            None => self
                .clusters
                .values()
                .filter_map(|names| names.first().map(String::as_str))
                .chain([defaults::LOCAL_REPOSITORY])
                .collect(),
        };
        names.sort_unstable();
        names.dedup();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for name in names {
            for manifest in self.named(name)?.list(cluster, server).await? {
                if seen.insert(manifest.id.clone()) {
                    out.push(manifest);
                }
            }
        }
        sort_newest_first(&mut out);
        Ok(out)
    }

    /// The manifest of backup `id`, from its cluster's repository (`local` for a cluster no
    /// longer configured).
    pub async fn get(&self, id: &BackupId) -> Result<Manifest> {
        let name = self
            .name_of_cluster(id.cluster())
            .unwrap_or(defaults::LOCAL_REPOSITORY);
        Ok(self.named(name)?.get(id).await?)
    }

    /// The name of the repository that stores `cluster`'s backups.
    pub fn name_of_cluster(&self, cluster: &str) -> Option<&str> {
        self.clusters
            .get(cluster)
            .and_then(|names| names.first())
            .map(String::as_str)
    }
}
