//! `[[clusters.NAME.servers]]`: one database server.

use std::collections::HashMap;
use std::path::PathBuf;

use toml::Spanned;

use crate::defaults;
use crate::error::{ConfigError, Location};
use crate::onpremise::OnPremiseSsh;
use crate::raw::{RawOnPremiseSsh, RawServer};
use crate::validate::Validator;

/// One database server of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// `name`: the server's name in jobs, manifests and the API. Required; unique across the
    /// whole file; 1 to 64 characters from `A-Z a-z 0-9 _ . -`.
    pub name: String,
    /// `host`: host name or address the manager connects to. Required; no whitespace.
    pub host: String,
    /// `port`: the MariaDB port. Default 3306. `host` and `port` together are unique across
    /// the file.
    pub port: u16,
    /// `socket`: the server's unix socket on its host, for the agent. Optional; absolute.
    pub socket: Option<PathBuf>,
    /// `datadir`: the server's data directory. Optional (the agent asks the server when
    /// absent); absolute.
    pub datadir: Option<PathBuf>,
    /// `defaults-file`: given to backup tools as `--defaults-file`. Optional; absolute.
    pub defaults_file: Option<PathBuf>,
    /// `legacy-donor`: true when this node runs replication-manager's bash donor script
    /// instead of a Ferryman agent. Default false.
    pub legacy_donor: bool,
    /// `agent-api-port`: the port of this server's agent's HTTP API (on `host`, at
    /// `agent.api-bind-address`), through which the manager asks the node about its server
    /// (`ferryman node ...`). Optional: without it the agent serves no API.
    pub agent_api_port: Option<u16>,
    /// `snapshot-method` and the other `snapshot-*` keys: file-system snapshots of the
    /// datadir's volume, `None` without `snapshot-method`.
    pub snapshot: Option<crate::snapshot::SnapshotConfig>,
    /// `service-start`: the command the agent runs for the `start` task, without a shell:
    /// either a string, split on whitespace (`"systemctl start mariadb"`), or an array of
    /// strings taken verbatim, for arguments with spaces (`["/opt/db tools/start", "db1"]`).
    /// Not empty, nor an empty array element. Default `systemctl start mariadb`.
    pub service_start: Vec<String>,
    /// `service-stop`: the same for the `stop` task. Default `systemctl stop mariadb`.
    pub service_stop: Vec<String>,
    /// `service-restart`: the same for the `restart` task. Default `systemctl restart mariadb`.
    pub service_restart: Vec<String>,
    /// `zfs-snapback`: the command that rolls the server's datadir back to a ZFS snapshot, run
    /// by the agent for the `zfssnapback` task between `service-stop` and `service-start`; same
    /// two forms as `service-start`. Optional: without it that task fails on this server.
    pub zfs_snapback: Option<Vec<String>>,
    /// The cluster's `db-servers-ssl-*`: how connections to this server are secured (every
    /// connection to it, so it travels with the server).
    pub ssl: crate::DbSsl,
    /// The cluster's `backup-galera-desync`: on a Galera node, whether a physical backup runs
    /// with the node desynced (`wsrep_desync = ON`, so the node leaves flow control and the
    /// cluster never waits for a node slowed by its backup; it catches up afterwards). Default
    /// false. Ignored on servers that are not Galera nodes.
    pub galera_desync: bool,
    /// `onpremise-ssh` (default false) and the `onpremise-ssh-*` keys: when on, the manager
    /// runs this server's agent (or, for a `legacy-donor`, its donor script) over SSH once
    /// after writing each job row, instead of waiting for a resident agent. `None` when off.
    pub onpremise_ssh: Option<OnPremiseSsh>,
}

/// Names and addresses seen so far in the file, to report duplicates.
#[derive(Default)]
pub(crate) struct SeenServers {
    names: HashMap<String, Location>,
    addresses: HashMap<(String, u16), (String, Location)>,
}

impl ServerConfig {
    /// Validates the `index`th (0-based) server of `cluster`.
    pub(crate) fn from_raw(
        raw: Spanned<RawServer>,
        cluster: &str,
        index: usize,
        seen: &mut SeenServers,
        v: &mut Validator<'_>,
    ) -> ServerConfig {
        let table_span = raw.span();
        let table_at = v.at(table_span.clone());
        let key = |k: &str| format!("clusters.{cluster}.servers[{index}].{k}");
        let RawServer {
            name,
            host,
            port,
            socket,
            datadir,
            defaults_file,
            legacy_donor,
            agent_api_port,
            snapshot_method,
            snapshot_volume,
            snapshot_dir,
            snapshot_keep,
            snapshot_filter,
            snapshot_lvm_size,
            snapshot_timeout,
            snapshot_create_command,
            snapshot_list_command,
            snapshot_mount_command,
            snapshot_unmount_command,
            snapshot_remove_command,
            snapshot_rollback_command,
            service_start,
            service_stop,
            service_restart,
            zfs_snapback,
            onpremise_ssh,
            onpremise_ssh_port,
            onpremise_ssh_credential,
            onpremise_ssh_private_key,
            onpremise_ssh_known_hosts,
            onpremise_ssh_accept_new_host_key,
            onpremise_ssh_agent_command,
            onpremise_ssh_db_job_script,
        } = raw.into_inner();
        let ssh = RawOnPremiseSsh {
            enabled: onpremise_ssh,
            port: onpremise_ssh_port,
            credential: onpremise_ssh_credential,
            private_key: onpremise_ssh_private_key,
            known_hosts: onpremise_ssh_known_hosts,
            accept_new_host_key: onpremise_ssh_accept_new_host_key,
            agent_command: onpremise_ssh_agent_command,
            db_job_script: onpremise_ssh_db_job_script,
        };

        let name = match name {
            None => {
                v.push(ConfigError::MissingKey {
                    at: table_at.clone(),
                    key: key("name"),
                });
                String::new()
            }
            Some(name) => {
                let at = v.at(name.span());
                if v.name("server name", &name, false) {
                    if let Some(other_at) = seen.names.get(name.get_ref()) {
                        v.push(ConfigError::DuplicateServerName {
                            at: at.clone(),
                            name: name.get_ref().clone(),
                            other_at: other_at.clone(),
                        });
                    } else {
                        seen.names.insert(name.get_ref().clone(), at);
                    }
                }
                name.into_inner()
            }
        };
        let host_at = host.as_ref().map(|h| v.at(h.span()));
        let host = match host {
            None => {
                v.push(ConfigError::MissingKey {
                    at: table_at.clone(),
                    key: key("host"),
                });
                String::new()
            }
            Some(host) => v.host(&key("host"), Some(host), ""),
        };
        let port = v.port(&key("port"), port, defaults::SERVER_PORT);
        if let Some(at) = host_at {
            let address = (host.to_ascii_lowercase(), port);
            if let Some((other_server, other_at)) = seen.addresses.get(&address) {
                v.push(ConfigError::DuplicateAddress {
                    at,
                    host: host.clone(),
                    port,
                    other_server: other_server.clone(),
                    other_at: other_at.clone(),
                });
            } else {
                seen.addresses.insert(address, (name.clone(), at));
            }
        }

        let legacy_donor = legacy_donor.unwrap_or(defaults::LEGACY_DONOR);
        let onpremise_ssh = OnPremiseSsh::from_raw(ssh, &name, legacy_donor, &key, table_span, v);
        let datadir = v.server_path(&key("datadir"), datadir);
        ServerConfig {
            onpremise_ssh,
            socket: v.server_path(&key("socket"), socket),
            defaults_file: v.server_path(&key("defaults-file"), defaults_file),
            legacy_donor,
            service_start: v.command(
                &key("service-start"),
                service_start,
                defaults::SERVICE_START,
            ),
            service_stop: v.command(&key("service-stop"), service_stop, defaults::SERVICE_STOP),
            service_restart: v.command(
                &key("service-restart"),
                service_restart,
                defaults::SERVICE_RESTART,
            ),
            zfs_snapback: v.optional_command(&key("zfs-snapback"), zfs_snapback),
            agent_api_port: agent_api_port.map(|p| v.port(&key("agent-api-port"), Some(p), 1)),
            snapshot: crate::snapshot::SnapshotConfig::from_raw(
                crate::snapshot::RawSnapshot {
                    method: snapshot_method,
                    volume: snapshot_volume,
                    dir: snapshot_dir,
                    keep: snapshot_keep,
                    filter: snapshot_filter,
                    lvm_size: snapshot_lvm_size,
                    timeout: snapshot_timeout,
                    create_command: snapshot_create_command,
                    list_command: snapshot_list_command,
                    mount_command: snapshot_mount_command,
                    unmount_command: snapshot_unmount_command,
                    remove_command: snapshot_remove_command,
                    rollback_command: snapshot_rollback_command,
                },
                &key,
                datadir.as_ref(),
                table_at.clone(),
                v,
            ),
            datadir,
            name,
            host,
            port,
            ssl: crate::DbSsl::default(),
            galera_desync: false,
        }
    }
}
