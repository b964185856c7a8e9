//! Reading the repositories straight from the configuration, without the manager (the
//! disaster case: its host is gone): `backup list|show --repository R`, or when no manager
//! listens; `repo check`.
//!
//! Every manifest read is checked against the manager's public signing key
//! (`manager.signing-key-file` with `.pub`) and `manager.trusted-signing-keys`.
//!
//! Nothing here writes: a local repository whose directory is missing is reported as such and
//! skipped, never created.

use std::time::Duration;

use anyhow::{anyhow, bail};
use ferryman_config::{Config, RepositoryConfig, RepositoryKind};
use ferryman_manager::repositories::{copies_in, locate, Detailed, Located};
use ferryman_repo::{BackupId, Repository};

use crate::output;

/// How long to wait to learn whether a manager listens.
const MANAGER_PROBE: Duration = Duration::from_secs(2);

/// Whether something accepts connections on the manager's API address.
pub async fn manager_listens(config: &Config) -> bool {
    let address = format!(
        "{}:{}",
        config.manager.http_bind_address, config.manager.http_port
    );
    matches!(
        tokio::time::timeout(MANAGER_PROBE, tokio::net::TcpStream::connect(address)).await,
        Ok(Ok(_))
    )
}

/// The repositories of `config` (only `only` when given), opened for reading, in the
/// configuration's order (`local` first).
pub fn repositories(
    config: &Config,
    only: Option<&str>,
) -> anyhow::Result<Vec<(String, Repository)>> {
    let chosen: Vec<RepositoryConfig> = config
        .all_repositories()
        .into_iter()
        .filter(|r| only.is_none_or(|want| want == r.name))
        .collect();
    if chosen.is_empty() {
        let known: Vec<String> = config
            .all_repositories()
            .into_iter()
            .map(|r| r.name)
            .collect();
        bail!(
            "no repository `{}` in {}; known: {}",
            only.unwrap_or_default(),
            config.path.display(),
            known.join(", ")
        );
    }
    // Manifests are checked against the manager's public key and the trusted ones.
    let signatures = ferryman_manager::signing::for_readers(&config.manager)?;
    if signatures.is_none() {
        output::note(&format!(
            "manifest signatures are not checked: there is no signing key at {} yet (a manager creates it at its first start), and `manager.trusted-signing-keys` is empty",
            config.manager.signing_key_file.display()
        ));
    }
    let mut out = Vec::new();
    for r in chosen {
        if let RepositoryKind::Local { path } = &r.kind {
            if !path.is_dir() {
                output::note(&format!(
                    "repository `{}`: {} does not exist; left out",
                    r.name,
                    path.display()
                ));
                continue;
            }
        }
        let mut repo =
            Repository::from_config(&r).map_err(|e| anyhow!("repository `{}`: {e}", r.name))?;
        if let Some(signatures) = &signatures {
            repo = repo.with_signatures(std::sync::Arc::clone(signatures));
        }
        out.push((r.name, repo));
    }
    Ok(out)
}

/// Every backup the repositories hold, newest first, each once with where it lives.
pub async fn list(
    repos: &[(String, Repository)],
    cluster: Option<&str>,
    server: Option<&str>,
) -> anyhow::Result<Vec<Located>> {
    let mut lists = Vec::new();
    for (name, repo) in repos {
        let listed = repo
            .list(cluster, server)
            .await
            .map_err(|e| anyhow!("repository `{name}`: {e}"))?;
        lists.push((name.clone(), listed));
    }
    Ok(locate(lists))
}

/// Backup `id` from the first repository that holds it, with every repository's copy checked.
pub async fn show(repos: &[(String, Repository)], id: &BackupId) -> anyhow::Result<Detailed> {
    let mut manifest = None;
    for (_, repo) in repos {
        match repo.get(id).await {
            Ok(m) => {
                manifest = Some(m);
                break;
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    let Some(manifest) = manifest else {
        let names: Vec<&str> = repos.iter().map(|(n, _)| n.as_str()).collect();
        bail!(
            "backup {id} is in none of the repositories {}",
            names.join(", ")
        );
    };
    let copies = copies_in(repos.iter().map(|(n, r)| (n.as_str(), r)), &manifest).await;
    Ok(Detailed { manifest, copies })
}
