//! `[manager]`: where the manager keeps its data and listens.

use std::path::PathBuf;
use std::time::Duration;

use crate::defaults;
use crate::error::ConfigError;
use crate::raw::RawManager;
use crate::validate::Validator;

/// The `[manager]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerConfig {
    /// `monitoring-datadir`: where `Backups/` and collected logs live. Relative paths are
    /// relative to the config file's directory. Default `/var/lib/ferryman`.
    pub monitoring_datadir: PathBuf,
    /// `monitoring-address`: the manager's address as written into job rows; agents and legacy
    /// donors stream backups to it. Default `127.0.0.1`.
    pub monitoring_address: String,
    /// `http-bind-address`: the address the HTTP API listens on. Default `127.0.0.1`.
    pub http_bind_address: String,
    /// `http-port`: the HTTP API port. Default 10001, replication-manager's.
    pub http_port: u16,
    /// `stream-bind-address`: the address the stream receiver listens on. Default `127.0.0.1`.
    pub stream_bind_address: String,
    /// `stream-port`: the one well-known port Ferryman agents stream to. Default 10002.
    pub stream_port: u16,
    /// `stream-accept-timeout`: how long a job waits for its stream to connect, e.g. `"120s"`.
    /// Default 120s; 1s to 24h.
    pub stream_accept_timeout: Duration,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            monitoring_datadir: PathBuf::from(defaults::MONITORING_DATADIR),
            monitoring_address: defaults::MONITORING_ADDRESS.to_owned(),
            http_bind_address: defaults::HTTP_BIND_ADDRESS.to_owned(),
            http_port: defaults::HTTP_PORT,
            stream_bind_address: defaults::STREAM_BIND_ADDRESS.to_owned(),
            stream_port: defaults::STREAM_PORT,
            stream_accept_timeout: defaults::STREAM_ACCEPT_TIMEOUT,
        }
    }
}

impl ManagerConfig {
    pub(crate) fn from_raw(raw: RawManager, v: &mut Validator<'_>) -> Self {
        let RawManager {
            monitoring_datadir,
            monitoring_address,
            http_bind_address,
            http_port,
            stream_bind_address,
            stream_port,
            stream_accept_timeout,
        } = raw;
        let stream_port_at = stream_port.as_ref().map(|p| v.at(p.span()));
        let config = ManagerConfig {
            monitoring_datadir: v.local_path(
                "manager.monitoring-datadir",
                monitoring_datadir,
                defaults::MONITORING_DATADIR,
            ),
            monitoring_address: v.host(
                "manager.monitoring-address",
                monitoring_address,
                defaults::MONITORING_ADDRESS,
            ),
            http_bind_address: v.host(
                "manager.http-bind-address",
                http_bind_address,
                defaults::HTTP_BIND_ADDRESS,
            ),
            http_port: v.port("manager.http-port", http_port, defaults::HTTP_PORT),
            stream_bind_address: v.host(
                "manager.stream-bind-address",
                stream_bind_address,
                defaults::STREAM_BIND_ADDRESS,
            ),
            stream_port: v.port("manager.stream-port", stream_port, defaults::STREAM_PORT),
            stream_accept_timeout: v.duration(
                "manager.stream-accept-timeout",
                stream_accept_timeout,
                defaults::STREAM_ACCEPT_TIMEOUT,
                (
                    defaults::STREAM_ACCEPT_TIMEOUT_MIN,
                    defaults::STREAM_ACCEPT_TIMEOUT_MAX,
                ),
            ),
        };
        if config.http_port == config.stream_port {
            let at = stream_port_at.unwrap_or_else(|| v.source.start());
            v.push(ConfigError::PortClash {
                at,
                key: "manager.stream-port".to_owned(),
                other_key: "manager.http-port".to_owned(),
                port: config.stream_port,
            });
        }
        config
    }
}
