//! The TLS keys shared by several tables: a certificate and its key (`tls-cert-file` and
//! `tls-key-file`, both or neither) and the CA file that goes with them.

use std::path::{Path, PathBuf};

use toml::Spanned;

use crate::error::ConfigError;
use crate::validate::Validator;

/// A certificate (with its chain) and its private key, in PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsIdentity {
    /// The certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// The private key (a file only its owner may read).
    pub key_file: PathBuf,
}

/// `TABLE.tls-cert-file` and `TABLE.tls-key-file`: both or neither.
pub(crate) fn identity(
    v: &mut Validator<'_>,
    table: &str,
    cert: Option<Spanned<String>>,
    key: Option<Spanned<String>>,
) -> Option<TlsIdentity> {
    let cert_key = format!("{table}.tls-cert-file");
    let key_key = format!("{table}.tls-key-file");
    match (cert, key) {
        (None, None) => None,
        (Some(cert), None) => {
            missing(v, cert.span(), &key_key);
            None
        }
        (None, Some(key)) => {
            missing(v, key.span(), &cert_key);
            None
        }
        (Some(cert), Some(key)) => Some(TlsIdentity {
            cert_file: v.local_path(&cert_key, Some(cert), ""),
            key_file: v.local_path(&key_key, Some(key), ""),
        }),
    }
}

/// `TABLE.tls-ca-file`, required with a certificate: the data streams' peers are accepted by
/// the CA that issued their certificates.
pub(crate) fn ca_file(
    v: &mut Validator<'_>,
    table: &str,
    identity: Option<&TlsIdentity>,
    ca: Option<Spanned<String>>,
    cert_at: Option<std::ops::Range<usize>>,
) -> Option<PathBuf> {
    let key = format!("{table}.tls-ca-file");
    match (ca, identity, cert_at) {
        (Some(ca), _, _) => Some(v.local_path(&key, Some(ca), "")),
        (None, Some(_), Some(at)) => {
            missing(v, at, &key);
            None
        }
        _ => None,
    }
}

fn missing(v: &mut Validator<'_>, at: std::ops::Range<usize>, key: &str) {
    let at = v.at(at);
    v.push(ConfigError::MissingKey {
        at,
        key: key.to_owned(),
    });
}

impl crate::ManagerConfig {
    /// The manager's certificate files by key (`manager.tls-cert-file`, `manager.tls-ca-file`),
    /// those set: what `config check` and the expiry events look at.
    pub fn certificate_files(&self) -> Vec<(&'static str, &Path)> {
        let mut files = Vec::new();
        if let Some(t) = &self.tls {
            files.push(("manager.tls-cert-file", t.cert_file.as_path()));
        }
        if let Some(ca) = &self.tls_ca_file {
            files.push(("manager.tls-ca-file", ca.as_path()));
        }
        files
    }
}

impl crate::AgentConfig {
    /// The agent's certificate files by key (`agent.tls-cert-file`, `agent.tls-ca-file`),
    /// those set.
    pub fn certificate_files(&self) -> Vec<(&'static str, &Path)> {
        let mut files = Vec::new();
        if let Some(t) = &self.tls {
            files.push(("agent.tls-cert-file", t.cert_file.as_path()));
        }
        if let Some(ca) = &self.tls_ca_file {
            files.push(("agent.tls-ca-file", ca.as_path()));
        }
        files
    }
}

/// True for an address only this host reaches (`127.0.0.0/8`, `::1`, `localhost`).
pub fn loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Reports a channel left plain beyond loopback without a key saying so.
pub(crate) fn plain_tcp(
    v: &mut Validator<'_>,
    at: Option<std::ops::Range<usize>>,
    what: String,
    fix: String,
) {
    let at = v.at(at.unwrap_or(0..0));
    v.push(ConfigError::PlainTcp { at, what, fix });
}

impl crate::Config {
    /// The channels this file leaves in plain TCP beyond loopback by default rather than by a
    /// key, each said with the keys that secure it: what `config check` and the daemons' starts
    /// warn of. (A manager listening beyond loopback in plain TCP without `allow-plain-tcp` is
    /// an error of the file, not a warning.)
    pub fn plain_channels(&self) -> Vec<String> {
        let mut out = Vec::new();
        let agent = &self.agent;
        if agent.tls.is_none() && !agent.allow_plain_tcp && !loopback(&agent.joiner_bind_address) {
            out.push(format!(
                "reseed payloads to agents' joiners on {} (agent.joiner-bind-address) cross the \
                 network in plain TCP: give the agents `agent.tls-cert-file`, `tls-key-file` and \
                 `tls-ca-file` (`ferryman tls init --agent HOST`), or set \
                 `agent.allow-plain-tcp = true` if plain TCP is wanted",
                agent.joiner_bind_address
            ));
        }
        let api_ports = self
            .clusters
            .iter()
            .flat_map(|c| &c.servers)
            .any(|s| s.agent_api_port.is_some());
        if api_ports
            && agent.tls.is_none()
            && !agent.allow_plain_tcp
            && !loopback(&agent.api_bind_address)
        {
            out.push(format!(
                "the agents' HTTP API on {} (agent.api-bind-address, servers' agent-api-port) \
                 and its token cross the network in plain HTTP: give the agents \
                 `agent.tls-cert-file`, `tls-key-file` and `tls-ca-file` (`ferryman tls init \
                 --agent HOST`), or set `agent.allow-plain-tcp = true` if plain HTTP is wanted",
                agent.api_bind_address
            ));
        }
        if self.manager.tls.is_some() && self.manager.accept_plain_streams {
            out.push(
                "the stream port also takes plain streams (manager.accept-plain-streams): \
                 remove the key once every agent has a certificate"
                    .to_owned(),
            );
        }
        for cluster in &self.clusters {
            let remote: Vec<String> = cluster
                .servers
                .iter()
                .filter(|s| !s.ssl.mode.encrypted() && !s.ssl.mode_set && !loopback(&s.host))
                .map(|s| format!("{} at {}", s.name, s.host))
                .collect();
            if !remote.is_empty() {
                out.push(format!(
                    "the connections to cluster `{}`'s servers ({}) and their passwords cross \
                     the network in plain TCP: set `db-servers-ssl-mode` to `required`, \
                     `verify-ca` or `verify-identity` (with `db-servers-ssl-ca`), or to \
                     `disabled` if plain TCP is wanted",
                    cluster.name,
                    remote.join(", ")
                ));
            }
        }
        out
    }
}
