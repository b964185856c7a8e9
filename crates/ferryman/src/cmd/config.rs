//! `ferryman config check FILE`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use ferryman_config::{defaults, Check, Config, RepositoryKind};
use ferryman_repo::Repository;

use crate::output;

/// Configuration commands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Parse and validate FILE; print every error with its line, or a summary. A secret
    /// missing here (an unset variable, an absent file) is a warning: the check still passes,
    /// and the daemons will refuse to start without it.
    Check {
        /// The configuration file.
        file: PathBuf,
        /// Also reach every repository (one listing each: `local`, and every
        /// `[repositories.NAME]`): a missing directory or bucket, refused keys or an
        /// unreachable endpoint is an error, with its fix.
        #[arg(long)]
        probe_repositories: bool,
    },
}

impl ConfigCommand {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            ConfigCommand::Check {
                file,
                probe_repositories,
            } => {
                let check = Check::load(&file);
                let config = match &check.config {
                    Ok(config) => {
                        output::config_summary(config, &check.warnings);
                        config
                    }
                    Err(errors) => {
                        output::config_errors(errors, &check.warnings);
                        return Ok(ExitCode::FAILURE);
                    }
                };
                if !certificates(config) | !onpremise_ssh(config) {
                    return Ok(ExitCode::FAILURE);
                }
                if probe_repositories && !probe(config).await {
                    return Ok(ExitCode::FAILURE);
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

/// The manager's certificate files: each one's validity printed, a warning within
/// `ferryman_tls::expiry::WARN_DAYS` of its end; false when one is expired, unreadable or not valid yet.
/// Plain HTTP on an address other hosts reach is a warning, and so is every channel the file
/// leaves plain by default (`Config::plain_channels`).
fn certificates(config: &Config) -> bool {
    let m = &config.manager;
    if m.tls.is_none() && !ferryman_config::loopback(&m.http_bind_address) {
        output::warning(&format!(
            "the HTTP API listens on {} in plain HTTP: the API token and backups' details cross the network readable; set `manager.tls-cert-file` and `manager.tls-key-file` (`ferryman tls init` makes a fleet's certificates)",
            m.http_bind_address
        ));
    }
    for channel in config.plain_channels() {
        output::warning(&channel);
    }
    let mut files = m.certificate_files();
    files.extend(config.agent.certificate_files());
    let mut ok = true;
    let now = ferryman_tls::expiry::now();
    for (key, path) in files {
        use ferryman_tls::expiry::Standing;
        match ferryman_tls::expiry::leaf(path) {
            Ok(leaf) => match leaf.standing(now) {
                Standing::Valid(_) => output::certificate(key, path, &leaf.describe(now)),
                Standing::Expiring(_) => output::warning(&format!(
                    "`{key}` {}: {}: issue a new one before then",
                    path.display(),
                    leaf.describe(now)
                )),
                Standing::Expired | Standing::NotYetValid => {
                    ok = false;
                    output::certificate_error(
                        key,
                        path,
                        &format!(
                            "{}: issue a new one and restart the manager",
                            leaf.describe(now)
                        ),
                    );
                }
            },
            Err(e) => {
                ok = false;
                output::certificate_error(key, path, &e.to_string());
            }
        }
    }
    ok
}

/// The servers whose jobs run over SSH (`onpremise-ssh`): how, and their files: a known-hosts
/// file or private key absent here is a warning (this may not be the manager's host), a
/// private key readable by others an error (ssh refuses it). False on an error.
fn onpremise_ssh(config: &Config) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let mut ok = true;
    for cluster in &config.clusters {
        for server in &cluster.servers {
            let Some(ssh) = &server.onpremise_ssh else {
                continue;
            };
            let login = match (&ssh.credential.password, &ssh.private_key) {
                (Some(_), _) => "password login".to_owned(),
                (None, Some(key)) => format!("key login with {}", key.display()),
                (None, None) => "key login with the manager user's default keys".to_owned(),
            };
            let what = if server.legacy_donor {
                "the donor script".to_owned()
            } else {
                format!("`{}`", ssh.agent_command.join(" "))
            };
            output::onpremise_ssh(
                &server.name,
                &format!(
                    "jobs run over SSH: {what} as {}@{}:{} ({login}); host key checked against {}{}",
                    ssh.credential.user,
                    server.host,
                    ssh.port,
                    ssh.known_hosts.display(),
                    if ssh.accept_new_host_key {
                        ", pinned at first use"
                    } else {
                        ""
                    }
                ),
            );
            if !ssh.known_hosts.is_file() && !ssh.accept_new_host_key {
                output::warning(&format!(
                    "server {}: the known-hosts file {} is not here: on the manager's host, write                      it with `ssh-keyscan -p {} {} >> {}` and compare the key with the host's own",
                    server.name,
                    ssh.known_hosts.display(),
                    ssh.port,
                    server.host,
                    ssh.known_hosts.display()
                ));
            }
            let Some(key) = &ssh.private_key else {
                continue;
            };
            match std::fs::metadata(key) {
                Err(e) => output::warning(&format!(
                    "server {}: the private key {} cannot be read here ({e}): the manager needs                      it (mode 0600)",
                    server.name,
                    key.display()
                )),
                Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                    ok = false;
                    output::certificate_error(
                        "onpremise-ssh-private-key",
                        key,
                        &format!(
                            "mode {:04o}: ssh refuses a key others can read: run `chmod 600 {}`",
                            meta.permissions().mode() & 0o7777,
                            key.display()
                        ),
                    );
                }
                Ok(_) => {}
            }
        }
    }
    ok
}

/// Lists every repository once and prints what each answered; false when one failed.
async fn probe(config: &Config) -> bool {
    let mut all_ok = true;
    for repository in config.all_repositories() {
        let missing_secret = matches!(
            &repository.kind,
            RepositoryKind::S3(s3) if s3.access_key_id.is_some() && s3.secret_access_key.is_none()
        );
        let answer = if missing_secret {
            Err(
                "not reached: its secret key is not available here (see the warning above)"
                    .to_owned(),
            )
        } else if let RepositoryKind::Local { path } = &repository.kind {
            // Not opened: opening creates the directory, and a check changes nothing.
            match std::fs::read_dir(path) {
                Ok(_) => Ok("ok".to_owned()),
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound
                        && repository.name == defaults::LOCAL_REPOSITORY =>
                {
                    Ok("absent: the manager creates it at its first start".to_owned())
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
                    "{} does not exist: create it (mode 0700, owned by the manager's user), or \
                     fix `path`",
                    path.display()
                )),
                Err(e) => Err(format!("cannot read {}: {e}", path.display())),
            }
        } else {
            match Repository::from_config(&repository) {
                Ok(repo) => repo
                    .probe()
                    .await
                    .map(|()| "ok".to_owned())
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        };
        all_ok &= answer.is_ok() || missing_secret;
        output::repository_probe(&repository.name, &repository.location(), &answer);
    }
    all_ok
}
