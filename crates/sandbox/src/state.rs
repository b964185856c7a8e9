//! `sandbox.json`: which servers a sandbox has. Written once by `up`; the servers' pid files
//! say whether they run.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Version of the state file format.
const STATE_VERSION: u32 = 1;

/// What a sandbox consists of.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    /// Format version.
    pub version: u32,
    /// Cluster name used in the generated configuration.
    pub cluster: String,
    /// The servers, primary first.
    pub servers: Vec<ServerSpec>,
}

/// One server of a sandbox.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServerSpec {
    /// Name (`db1`, `db2`, ...).
    pub name: String,
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// `server_id`.
    pub server_id: u32,
    /// Whether it was created as the primary (roles may change later; `topology` reads them live).
    pub primary: bool,
}

impl State {
    /// A new state for a primary and `replicas` replicas on `ports` (primary's first).
    pub fn new(cluster: &str, ports: &[u16]) -> State {
        State {
            version: STATE_VERSION,
            cluster: cluster.to_owned(),
            servers: ports
                .iter()
                .enumerate()
                .map(|(i, &port)| ServerSpec {
                    name: format!("db{}", i + 1),
                    port,
                    server_id: u32::try_from(i + 1).unwrap_or(u32::MAX),
                    primary: i == 0,
                })
                .collect(),
        }
    }

    /// The server created as primary: always the first one.
    pub fn primary(&self) -> Option<&ServerSpec> {
        self.servers.first().filter(|s| s.primary)
    }

    /// The servers created as replicas.
    pub fn replicas(&self) -> impl Iterator<Item = &ServerSpec> {
        self.servers.iter().filter(|s| !s.primary)
    }

    /// Reads the state file; a missing file means "not a sandbox".
    pub fn read(path: &Path, dir: &Path) -> Result<State> {
        let not_found = || Error::NotASandbox {
            dir: dir.to_owned(),
        };
        let state: State = read_json(path, not_found)?;
        if state.version != STATE_VERSION || state.primary().is_none() {
            return Err(Error::BadState {
                path: path.to_owned(),
                detail: format!(
                    "version {} with {} server(s); expected version {STATE_VERSION} with the primary first",
                    state.version,
                    state.servers.len()
                ),
            });
        }
        Ok(state)
    }

    /// Writes the state file (temp file + rename, so a crash never leaves half a file).
    pub fn write(&self, path: &Path) -> Result<()> {
        write_json(path, self)
    }
}

/// Reads a JSON state file; a missing file is `not_found()`, unparsable text `BadState`.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    not_found: impl FnOnce() -> Error,
) -> Result<T> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found()),
        Err(e) => return Err(Error::io("read", path)(e)),
    };
    serde_json::from_str(&text).map_err(|e| Error::BadState {
        path: path.to_owned(),
        detail: e.to_string(),
    })
}

/// Writes a JSON state file durably (temp file + rename, so a crash never leaves half a file).
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::BadState {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    crate::layout::write_file(path, text.as_bytes(), 0o644)
}
