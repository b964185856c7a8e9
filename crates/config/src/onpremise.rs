//! The `onpremise-ssh*` keys of one server: the manager runs the node's agent over SSH once
//! after writing each of its job rows (replication-manager's on-premise orchestration).

use std::ops::Range;
use std::path::PathBuf;

use crate::credential::Credential;
use crate::defaults;
use crate::error::ConfigError;
use crate::raw::RawOnPremiseSsh;
use crate::validate::Validator;

/// How the manager reaches a server's host over SSH (`onpremise-ssh = true`). The system's
/// OpenSSH client (`ssh`) is run, always with `-F /dev/null`: nothing of the manager user's
/// `~/.ssh/config` applies, only these keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnPremiseSsh {
    /// `onpremise-ssh-port`: the SSH port of the server's `host`. Default 22.
    pub port: u16,
    /// `onpremise-ssh-credential`: `{ user = "root" }` logs in with a key (the
    /// `onpremise-ssh-private-key`, else ssh's default identities and the manager user's
    /// ssh-agent); with `password-file` (0600) or `password-env`, with that password, which
    /// reaches ssh through its askpass program and never a command line or ssh's environment.
    /// Default `{ user = "root" }`.
    pub credential: Credential,
    /// `onpremise-ssh-private-key`: the private key file on the manager's host (mode 0600,
    /// as ssh requires); relative paths are relative to this file's directory. Optional.
    pub private_key: Option<PathBuf>,
    /// `onpremise-ssh-known-hosts`: the known-hosts file (OpenSSH's format, e.g. written by
    /// `ssh-keyscan -p PORT HOST`) that the host's key is checked against; a key that is absent
    /// or different refuses the connection. Required with `onpremise-ssh`.
    pub known_hosts: PathBuf,
    /// `onpremise-ssh-accept-new-host-key`: first-use pinning. When true, a host absent from
    /// `onpremise-ssh-known-hosts` has its key added at the first connection (a changed key is
    /// still refused). Default false.
    pub accept_new_host_key: bool,
    /// `onpremise-ssh-agent-command`: what runs on the host for a Ferryman agent, as
    /// `service-start` (a string split on whitespace or an array taken verbatim); each word is
    /// quoted for the remote shell. Default `ferryman agent --once --config
    /// /etc/ferryman/ferryman.toml --server NAME`.
    pub agent_command: Vec<String>,
    /// `onpremise-ssh-db-job-script`: for a `legacy-donor` server, the donor script on the
    /// manager's host (replication-manager's `dbjobs_new`), sent on ssh's stdin to `bash -s`
    /// on the host, after `export` lines naming the job (never a password). Required for a
    /// legacy donor run over SSH; relative to this file's directory.
    pub db_job_script: Option<PathBuf>,
}

impl OnPremiseSsh {
    /// Validates the keys of server `name`; `None` when `onpremise-ssh` is off (the other
    /// keys are then not used). `key` makes a key's dotted path; `anchor` is the server's table.
    pub(crate) fn from_raw(
        raw: RawOnPremiseSsh,
        name: &str,
        legacy_donor: bool,
        key: &dyn Fn(&str) -> String,
        anchor: Range<usize>,
        v: &mut Validator<'_>,
    ) -> Option<OnPremiseSsh> {
        let RawOnPremiseSsh {
            enabled,
            port,
            credential,
            private_key,
            known_hosts,
            accept_new_host_key,
            agent_command,
            db_job_script,
        } = raw;
        if !enabled.unwrap_or(defaults::ONPREMISE_SSH) {
            return None;
        }
        let port = v.port(
            &key("onpremise-ssh-port"),
            port,
            defaults::ONPREMISE_SSH_PORT,
        );
        let credential = match credential {
            Some(raw) => Credential::from_raw(
                Some(raw),
                &key("onpremise-ssh-credential"),
                anchor.clone(),
                v,
            ),
            None => Credential {
                user: defaults::ONPREMISE_SSH_USER.to_owned(),
                password: None,
            },
        };
        let private_key =
            private_key.map(|path| v.local_path(&key("onpremise-ssh-private-key"), Some(path), ""));
        let known_hosts = match known_hosts {
            Some(path) => v.local_path(&key("onpremise-ssh-known-hosts"), Some(path), ""),
            None => {
                v.push(ConfigError::OnPremiseSshKeyMissing {
                    at: v.at(anchor.clone()),
                    key: key("onpremise-ssh-known-hosts"),
                    next: "name the known-hosts file the host's key is checked against (write it \
                           with `ssh-keyscan -p PORT HOST > FILE` and compare the key with the \
                           host's own, or set `onpremise-ssh-accept-new-host-key = true` to pin \
                           it at the first connection)",
                });
                PathBuf::new()
            }
        };
        let agent_command = v
            .optional_command(&key("onpremise-ssh-agent-command"), agent_command)
            .unwrap_or_else(|| {
                defaults::ONPREMISE_SSH_AGENT_COMMAND
                    .split_whitespace()
                    .chain([name])
                    .map(str::to_owned)
                    .collect()
            });
        let db_job_script = db_job_script
            .map(|path| v.local_path(&key("onpremise-ssh-db-job-script"), Some(path), ""));
        if legacy_donor && db_job_script.is_none() {
            v.push(ConfigError::OnPremiseSshKeyMissing {
                at: v.at(anchor),
                key: key("onpremise-ssh-db-job-script"),
                next: "a `legacy-donor` server runs replication-manager's donor script: name the \
                       script on the manager's host (it is sent to `bash -s` on the node)",
            });
        }
        Some(OnPremiseSsh {
            port,
            credential,
            private_key,
            known_hosts,
            accept_new_host_key: accept_new_host_key
                .unwrap_or(defaults::ONPREMISE_SSH_ACCEPT_NEW_HOST_KEY),
            agent_command,
            db_job_script,
        })
    }
}
