//! [`Config`]: the whole file, and the checks that span clusters.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::agent::{AgentConfig, JobsConfig};
use crate::cluster::{ClusterConfig, Places};
use crate::defaults;
use crate::error::{ConfigError, ConfigErrors, Result};
use crate::manager::ManagerConfig;
use crate::notifications::NotificationsConfig;
use crate::parse::{self, Parsed};
use crate::ports::first_shared;
use crate::raw::RawConfig;
use crate::repository::{self, RepositoryConfig, RepositoryKind};
use crate::server::{SeenServers, ServerConfig};
use crate::span::Source;
use crate::validate::{Secrets, Validator};
use crate::verifier::VerifierConfig;
use crate::warning::ConfigWarning;

/// A loaded and validated `ferryman.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from; relative paths in it were resolved against its directory.
    pub path: PathBuf,
    /// `[manager]`.
    pub manager: ManagerConfig,
    /// `[agent]`.
    pub agent: AgentConfig,
    /// `[jobs]`.
    pub jobs: JobsConfig,
    /// `[verifier]`: test restores of stored backups.
    pub verifier: VerifierConfig,
    /// `[repositories.NAME]`, by name: only the tables in the file. The repository `local`, the
    /// manager's own in `manager.monitoring-datadir`, needs no table and is not here.
    pub repositories: BTreeMap<String, RepositoryConfig>,
    /// `[clusters.NAME]`, sorted by name; at least one.
    pub clusters: Vec<ClusterConfig>,
    /// `[notifications]`: the mail and webhook channels events are told through, and the
    /// routes to them. Default: none, nothing is told.
    pub notifications: NotificationsConfig,
}

impl Config {
    /// Reads, parses and validates the file at `path`, for a daemon about to start.
    ///
    /// Passwords named by `password-file` and `password-env` are read now, so a config that
    /// loads has every secret it needs; a secret whose file or variable is missing is an error.
    /// [`Check`](crate::Check) validates a file without them.
    pub fn load(path: &Path) -> Result<Config> {
        Config::parse(&read(path)?, path)
    }

    /// Parses and validates `text`; `path` is used in messages and to resolve relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        Config::validate(text, path, Secrets::Required).0
    }

    /// Parses and validates `text`, collecting every error; missing secrets are errors or
    /// warnings as `secrets` says.
    pub(crate) fn validate(
        text: &str,
        path: &Path,
        secrets: Secrets,
    ) -> (Result<Config>, Vec<ConfigWarning>) {
        let source = Source::new(path, text);
        match parse::parse(&source) {
            Ok(parsed) => Config::from_raw(parsed, &source, secrets),
            Err(errors) => (Err(errors), Vec::new()),
        }
    }

    /// Validates every section, collecting every error, after those the parser found.
    fn from_raw(
        parsed: Parsed,
        source: &Source<'_>,
        secrets: Secrets,
    ) -> (Result<Config>, Vec<ConfigWarning>) {
        let Parsed {
            raw,
            errors: mut all_errors,
            reported,
            overflows,
        } = parsed;
        let mut v = Validator::new(source.clone()).with(overflows, secrets);
        let RawConfig {
            manager,
            agent,
            jobs,
            verifier,
            repositories,
            clusters,
            notifications,
        } = raw;
        let manager = ManagerConfig::from_raw(manager, &mut v);
        let agent = AgentConfig::from_raw(agent, &mut v);
        let jobs = JobsConfig::from_raw(jobs, &mut v);
        let verifier = VerifierConfig::from_raw(verifier, &mut v);
        let known = repository::names(&repositories);
        let repositories = repository::from_raw_all(repositories, &mut v);
        let repository_names = repository::Names::new(known, &repositories);

        if clusters.is_empty() {
            v.push(ConfigError::NoClusters { at: source.start() });
        }
        let mut seen = SeenServers::default();
        let clusters: Vec<(ClusterConfig, Places)> = clusters
            .into_iter()
            .map(|(name, raw)| {
                ClusterConfig::from_raw(
                    name,
                    raw,
                    &manager,
                    &jobs,
                    &repository_names,
                    &mut seen,
                    &mut v,
                )
            })
            .collect();
        check_sender_pools(&clusters, &mut v);
        check_mutual_links(&clusters, &mut v);
        let cluster_names: Vec<String> = clusters.iter().map(|(c, _)| c.name.clone()).collect();
        let notifications = NotificationsConfig::from_raw(notifications, &cluster_names, &mut v);

        let (errors, warnings) = v.finish();
        // A key of the wrong type or misspelt is reported once, not a second time as missing.
        let reported = |key: &str| reported.iter().any(|r| r == key);
        all_errors.extend(errors.into_iter().filter(|e| match e {
            ConfigError::MissingKey { key, .. } => !reported(key),
            ConfigError::NoServers { cluster, .. } => {
                !reported(&format!("clusters.{cluster}.servers"))
            }
            ConfigError::NoClusters { .. } => !reported("clusters"),
            _ => true,
        }));
        if let Some(errors) = ConfigErrors::new(all_errors) {
            return (Err(errors), warnings);
        }
        let config = Config {
            path: source.path.to_path_buf(),
            manager,
            agent,
            jobs,
            verifier,
            repositories,
            clusters: clusters.into_iter().map(|(c, _)| c).collect(),
            notifications,
        };
        (Ok(config), warnings)
    }

    /// Every repository: `local` (the manager's `monitoring-datadir`) first, then the
    /// `[repositories.NAME]` tables by name.
    pub fn all_repositories(&self) -> Vec<RepositoryConfig> {
        let local = RepositoryConfig {
            name: defaults::LOCAL_REPOSITORY.to_owned(),
            kind: RepositoryKind::Local {
                path: self.manager.monitoring_datadir.clone(),
            },
            retention: Default::default(),
            encryption: None,
        };
        std::iter::once(local)
            .chain(self.repositories.values().cloned())
            .collect()
    }

    /// The cluster called `name`.
    pub fn cluster(&self, name: &str) -> Option<&ClusterConfig> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// The server called `name` (names are unique across the file), with its cluster.
    pub fn server(&self, name: &str) -> Option<(&ClusterConfig, &ServerConfig)> {
        self.clusters
            .iter()
            .find_map(|c| c.server(name).map(|s| (c, s)))
    }
}

/// The text of the config file at `path`.
pub(crate) fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
        path: path.to_path_buf(),
        cause: Arc::new(cause),
    })
}

/// Legacy donors of every cluster stream to the same manager: pools must not overlap.
/// Two clusters whose Galera links name each other's servers as masters replicate both ways
/// (master-master): each must ignore its own GTID domains, or its transactions come back.
fn check_mutual_links(clusters: &[(ClusterConfig, Places)], v: &mut Validator<'_>) {
    let reads_from = |reader: &ClusterConfig, source: &ClusterConfig| {
        reader.galera_link.as_ref().is_some_and(|link| {
            link.masters.iter().any(|m| {
                source.servers.iter().any(|s| {
                    s.port == m.port && ferryman_proto::address::same_host(&s.host, &m.host)
                })
            })
        })
    };
    for (cluster, places) in clusters {
        let (Some(link), Some(at)) = (&cluster.galera_link, &places.galera_link) else {
            continue;
        };
        if !link.ignore_domain_ids.is_empty() {
            continue;
        }
        for (other, _) in clusters {
            if other.name != cluster.name
                && reads_from(cluster, other)
                && reads_from(other, cluster)
            {
                v.push(ConfigError::MasterMasterDomains {
                    at: at.clone(),
                    cluster: cluster.name.clone(),
                    other: other.name.clone(),
                });
            }
        }
    }
}

fn check_sender_pools(clusters: &[(ClusterConfig, Places)], v: &mut Validator<'_>) {
    for (i, (later, later_at)) in clusters.iter().enumerate() {
        let Some(later_at) = &later_at.sender_ports else {
            continue;
        };
        for (earlier, earlier_at) in &clusters[..i] {
            let Some(earlier_at) = &earlier_at.sender_ports else {
                continue;
            };
            if let Some(port) = first_shared(&earlier.sender_ports, &later.sender_ports) {
                v.push(ConfigError::PortPoolOverlap {
                    at: later_at.clone(),
                    cluster: later.name.clone(),
                    other_cluster: earlier.name.clone(),
                    other_at: earlier_at.clone(),
                    port,
                });
            }
        }
    }
}
