//! A Galera sandbox: one Galera cluster of N nodes (`alpha`: `a1..aN`), or two (`beta`:
//! `b1..bN`) linked by asynchronous GTID replication from alpha to beta, real `mariadbd`
//! processes running as `mysql` on 127.0.0.1, with a complete `ferryman.toml`.
//!
//! # Layout
//! - this file: [`GaleraSandbox`], bringing it up ([`GaleraOptions`]), starting, stopping and
//!   killing nodes, destroying it.
//! - `state`: `galera.json` ([`GaleraState`]), which clusters and nodes there are, their ports.
//! - `host`: what the host must provide (provider, rsync, the `mysql` user nodes run as),
//!   node directories owned by mysql, a sandbox directory mysql can reach.
//! - `node`: one node's defaults file, install, start, waiting until Synced, `grastate.dat`,
//!   recovering its position after a crash, finding its process.
//! - `cluster`: bootstrapping a new cluster, restarting a stopped one from the right node,
//!   joining nodes one at a time.
//! - `link`: the asynchronous link from alpha to beta and its end-to-end check.
//! - `status`: each node's live Galera and replication state ([`NodeReport`]).
//! - `config_file`: rendering `ferryman.toml` with each cluster's `galera-link` table.

mod cluster;
mod config_file;
mod host;
mod link;
mod node;
mod state;
mod status;

use std::path::{Path, PathBuf};

use ferryman_db::Endpoint;
use ferryman_exec::process;
use futures_util::future::join_all;

pub use state::{ClusterSpec, GaleraState, NodeSpec};
pub use status::{GaleraStatus, NodeReport};

use crate::accounts::Passwords;
use crate::layout::{write_file, Layout};
use crate::sandbox::free_ports;
use crate::server::Binaries;
use crate::{Error, Result};

/// The largest cluster a sandbox makes (node names have one digit).
pub const MAX_NODES: usize = 9;

/// What [`GaleraSandbox::up`] brings up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaleraOptions {
    /// Nodes per cluster, 1 to [`MAX_NODES`].
    pub nodes: usize,
    /// Clusters: 1 (`alpha`) or 2 (`alpha` and `beta`).
    pub clusters: usize,
    /// With two clusters, whether beta replicates from alpha (asynchronous GTID replication,
    /// b1 from a1). Ignored with one cluster.
    pub link: bool,
    /// With two linked clusters, whether alpha also replicates from beta (master-master: a1
    /// from b1, each side ignoring its own GTID domains; both clusters' `galera-link` tables
    /// list the other's nodes). Ignored otherwise.
    pub master_master: bool,
    /// The `ferryman` binary the generated configuration's `service-start|stop|restart` run
    /// (`ferryman sandbox start|stop|restart --dir DIR --server NAME`); `None`: no service
    /// commands (a comment says why). Only used when the sandbox is created.
    pub ferryman_bin: Option<PathBuf>,
}

impl GaleraOptions {
    fn check(&self) -> Result<()> {
        let reason = if !(1..=MAX_NODES).contains(&self.nodes) {
            "a cluster has 1 to 9 nodes"
        } else if !(1..=state::CLUSTER_NAMES.len()).contains(&self.clusters) {
            "there are 1 or 2 clusters"
        } else {
            return Ok(());
        };
        Err(Error::BadGaleraShape {
            clusters: self.clusters,
            nodes: self.nodes,
            reason,
        })
    }

    /// Whether the clusters are linked (only two clusters can be).
    fn linked(&self) -> bool {
        self.link && self.clusters == 2
    }
}

/// A Galera sandbox directory and the nodes it holds.
#[derive(Debug, Clone)]
pub struct GaleraSandbox {
    layout: Layout,
    state: GaleraState,
    passwords: Passwords,
}

impl GaleraSandbox {
    /// Brings the sandbox in `dir` up: creates it on first use (every node Synced, the link
    /// checked end to end, then `galera.json` and `ferryman.toml` written), or starts the
    /// stopped nodes of an existing one (a stopped cluster restarts from its most advanced
    /// node) and sets the link up again if no beta node replicates. A failed creation stops
    /// every node it started (the directory stays for inspection, without `galera.json`); a
    /// failed restart leaves the nodes that did come up running.
    pub async fn up(dir: &Path, options: &GaleraOptions) -> Result<GaleraSandbox> {
        options.check()?;
        let layout = Layout::new(dir);
        if layout.state_file().exists() {
            return Err(Error::PlainSandboxExists {
                dir: layout.dir().to_owned(),
            });
        }
        let bins = host::prerequisites()?;
        match GaleraState::read(&layout.galera_state_file(), layout.dir()) {
            Ok(state) => {
                // `GaleraState::read` guarantees a first cluster with nodes.
                let nodes = state.clusters.first().map_or(0, |c| c.nodes.len());
                let existing = shape(state.clusters.len(), nodes, state.link);
                let requested = shape(options.clusters, options.nodes, options.linked());
                if existing != requested {
                    return Err(Error::GaleraShapeMismatch {
                        dir: layout.dir().to_owned(),
                        existing,
                        requested,
                    });
                }
                let passwords = Passwords::read(&layout)?;
                let sandbox = GaleraSandbox {
                    layout,
                    state,
                    passwords,
                };
                host::reachable_by_mysql(&sandbox.layout)?;
                let starts = sandbox
                    .state
                    .clusters
                    .iter()
                    .map(|c| sandbox.start_cluster(&bins, c));
                join_all(starts).await.into_iter().collect::<Result<()>>()?;
                sandbox.ensure_link().await?;
                Ok(sandbox)
            }
            Err(Error::NotAGaleraSandbox { .. }) => Self::create(layout, &bins, options).await,
            Err(e) => Err(e),
        }
    }

    async fn create(layout: Layout, bins: &Binaries, options: &GaleraOptions) -> Result<Self> {
        for d in [
            layout.dir().to_owned(),
            layout.servers_dir(),
            layout.manager_dir(),
            layout.agent_dir(),
            layout.verify_dir(),
        ] {
            std::fs::create_dir_all(&d).map_err(Error::io("create directory", &d))?;
        }
        host::reachable_by_mysql(&layout)?;
        let per_cluster = config_file::SENDER_POOL + options.nodes;
        let node_ports = options.clusters * options.nodes * state::PORTS_PER_NODE;
        let ports = free_ports(node_ports + 2 + options.clusters * per_cluster)?;
        let mut state = GaleraState::new(
            options.clusters,
            options.nodes,
            options.linked(),
            &ports[..node_ports],
        );
        state.master_master = options.linked() && options.master_master;
        let service = config_file::GaleraPorts {
            http: ports[node_ports],
            stream: ports[node_ports + 1],
            clusters: ports[node_ports + 2..]
                .chunks(per_cluster)
                .map(|c| {
                    let (sender, receiver) = c.split_at(config_file::SENDER_POOL);
                    (sender.to_vec(), receiver.to_vec())
                })
                .collect(),
        };
        let passwords = Passwords::generate(&layout)?;
        let sandbox = GaleraSandbox {
            layout,
            state,
            passwords,
        };
        // Both clusters at once: each one's joiners wait on their own donor anyway.
        let creates = sandbox
            .state
            .clusters
            .iter()
            .map(|c| sandbox.create_cluster(bins, c));
        let mut res = join_all(creates).await.into_iter().collect::<Result<()>>();
        if res.is_ok() {
            res = sandbox.ensure_link().await;
        }
        if let Err(e) = res {
            // Nothing half-up is left running; the directory stays for inspection.
            let _ = sandbox.down().await;
            return Err(e);
        }
        sandbox.state.write(&sandbox.layout.galera_state_file())?;
        // Absolute: the configuration is read from other working directories.
        let ferryman_bin = options
            .ferryman_bin
            .as_deref()
            .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_owned()));
        let config = config_file::render(
            &sandbox.layout,
            &sandbox.state,
            &service,
            ferryman_bin.as_deref(),
        );
        write_file(&sandbox.layout.config_file(), config.as_bytes(), 0o644)?;
        Ok(sandbox)
    }

    /// Opens an existing Galera sandbox without starting anything.
    pub fn open(dir: &Path) -> Result<GaleraSandbox> {
        let layout = Layout::new(dir);
        let state = GaleraState::read(&layout.galera_state_file(), layout.dir())?;
        let passwords = Passwords::read(&layout)?;
        Ok(GaleraSandbox {
            layout,
            state,
            passwords,
        })
    }

    /// Whether `dir` holds a Galera sandbox (its state file exists).
    pub fn is_galera(dir: &Path) -> bool {
        Layout::new(dir).galera_state_file().exists()
    }

    /// The clusters, alpha first.
    pub fn clusters(&self) -> &[ClusterSpec] {
        &self.state.clusters
    }

    /// What the sandbox consists of.
    pub fn state(&self) -> &GaleraState {
        &self.state
    }

    /// The node called `name`, with its cluster.
    pub fn node(&self, name: &str) -> Option<(&ClusterSpec, &NodeSpec)> {
        self.state.nodes().find(|(_, n)| n.name == name)
    }

    /// The node called `name`, or an error naming the nodes there are.
    fn node_named(&self, name: &str) -> Result<(&ClusterSpec, &NodeSpec)> {
        self.node(name).ok_or_else(|| Error::UnknownServer {
            dir: self.layout.dir().to_owned(),
            name: name.to_owned(),
            known: self.state.nodes().map(|(_, n)| n.name.clone()).collect(),
        })
    }

    /// The administrative endpoint of node `name` (TCP, the `ferryman` account).
    pub fn endpoint(&self, name: &str) -> Result<Endpoint> {
        Ok(self.admin(self.node_named(name)?.1))
    }

    /// The PID of node `name` when it runs (checked to be this sandbox's `mariadbd`).
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.node(name)?;
        node::running_pid(&self.layout.server(name))
    }

    /// Kills node `name` with SIGKILL (a crash: Galera keeps no clean state for it) and waits
    /// until it is gone. A node that does not run is not an error.
    pub async fn kill_node(&self, name: &str) -> Result<()> {
        self.node_named(name)?;
        let Some(pid) = self.pid(name) else {
            return Ok(());
        };
        blocking(move || Ok(process::kill_now(pid)?)).await
    }

    /// Stops node `name` cleanly (SIGTERM, ~2 s for a Galera node; SIGKILL after a grace
    /// period). A node that does not run is not an error.
    pub async fn stop_node(&self, name: &str) -> Result<()> {
        self.node_named(name)?;
        let paths = self.layout.server(name);
        blocking(move || stop_paths(&paths)).await
    }

    /// Starts node `name` unless it runs and waits until it is Synced: it joins its cluster
    /// when another node of it runs, else it bootstraps the cluster, refused when another
    /// node has newer data (start that one first). Replication is never started (nodes run
    /// with `skip-slave-start`; the link keeper decides). Returns its PID.
    pub async fn start_node(&self, name: &str) -> Result<u32> {
        let (cluster, spec) = self.node_named(name)?;
        if let Some(pid) = self.pid(name) {
            return Ok(pid);
        }
        let bins = host::prerequisites()?;
        self.start_one(&bins, cluster, spec).await
    }

    /// [`GaleraSandbox::stop_node`] then [`GaleraSandbox::start_node`]. Returns the new PID.
    pub async fn restart_node(&self, name: &str) -> Result<u32> {
        self.stop_node(name).await?;
        self.start_node(name).await
    }

    /// Stops every node cleanly: the nodes of each cluster one by one in order, so the last
    /// node stops last and is the one marked safe to bootstrap; clusters in parallel.
    pub async fn down(&self) -> Result<()> {
        let this = self.clone();
        blocking(move || this.stop_all_blocking()).await
    }

    /// [`GaleraSandbox::down`] for callers that cannot await (`Drop` of test fixtures),
    /// blocking until every node is gone; then any `mariadbd` still naming one of the
    /// sandbox's defaults files (a joiner that had not written its pid file yet) is stopped
    /// too. The first error is returned after everything was tried.
    pub fn stop_all_blocking(&self) -> Result<()> {
        // The S3 server of `sandbox s3-up`, if any (its objects are in memory anyway).
        crate::offsite::down(&self.layout);
        let results: Vec<Result<()>> = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .state
                .clusters
                .iter()
                .map(|c| {
                    scope.spawn(move || {
                        let mut first = Ok(());
                        for n in &c.nodes {
                            if let Err(e) = stop_paths(&self.layout.server(&n.name)) {
                                first = first.and(Err(e));
                            }
                        }
                        first
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        let mut first = results.into_iter().collect::<Result<()>>();
        let prefix = format!("--defaults-file={}/", self.layout.servers_dir().display());
        for pid in node::mariadbd_pids(|args| args.iter().any(|a| a.starts_with(&prefix))) {
            if let Err(e) = process::stop(pid, node::STOP_GRACE) {
                first = first.and(Err(e.into()));
            }
        }
        first
    }

    /// Stops every node and removes the sandbox directory.
    pub async fn destroy(self) -> Result<()> {
        self.down().await?;
        let dir = self.layout.dir().to_owned();
        std::fs::remove_dir_all(&dir).map_err(Error::io("remove", &dir))
    }

    /// The generated configuration file.
    pub fn config_path(&self) -> PathBuf {
        self.layout.config_file()
    }

    /// The sandbox directory.
    pub fn dir(&self) -> &Path {
        self.layout.dir()
    }

    /// The paths of this sandbox.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The sandbox's passwords (the same accounts on every node).
    pub fn passwords(&self) -> &Passwords {
        &self.passwords
    }
}

/// "2 cluster(s) of 3 node(s), linked", to compare and show shapes.
fn shape(clusters: usize, nodes: usize, link: bool) -> String {
    let linked = match (clusters, link) {
        (1, _) => "",
        (_, true) => ", linked",
        (_, false) => ", not linked",
    };
    format!("{clusters} cluster(s) of {nodes} node(s){linked}")
}

/// Stops the node whose files are `paths` by PID. Blocking.
fn stop_paths(paths: &crate::layout::ServerPaths) -> Result<()> {
    if let Some(pid) = node::running_pid(paths) {
        process::stop(pid, node::STOP_GRACE)?;
    }
    Ok(())
}

/// Runs blocking `f` (signals and polling /proc) off the runtime.
async fn blocking(f: impl FnOnce() -> Result<()> + Send + 'static) -> Result<()> {
    match tokio::task::spawn_blocking(f).await {
        Ok(res) => res,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(nodes: usize, clusters: usize) -> GaleraOptions {
        GaleraOptions {
            nodes,
            clusters,
            link: true,
            master_master: false,
            ferryman_bin: None,
        }
    }

    #[tokio::test]
    async fn impossible_shapes_and_a_plain_sandbox_are_refused_with_the_way_out() {
        let dir = tempfile::tempdir().unwrap();
        let err = GaleraSandbox::up(dir.path(), &options(10, 1))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot make a Galera sandbox of 1 cluster(s) of 10 node(s): a cluster has 1 to 9 nodes"
        );
        let err = GaleraSandbox::up(dir.path(), &options(3, 3))
            .await
            .unwrap_err();
        assert!(
            err.to_string().ends_with("there are 1 or 2 clusters"),
            "{err}"
        );

        std::fs::write(dir.path().join("sandbox.json"), "{}").unwrap();
        let err = GaleraSandbox::up(dir.path(), &options(3, 1))
            .await
            .unwrap_err();
        let d = dir.path().display();
        assert_eq!(
            err.to_string(),
            format!(
                "a plain sandbox (primary and replicas) already exists in `{d}`: run \
                 `ferryman sandbox destroy --dir {d}` first or pick another --dir"
            )
        );
        assert!(!GaleraSandbox::is_galera(dir.path()));
        let err = GaleraSandbox::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("is not a Galera sandbox"), "{err}");
    }

    #[test]
    fn shapes_read_plainly() {
        assert_eq!(shape(2, 3, true), "2 cluster(s) of 3 node(s), linked");
        assert_eq!(shape(2, 3, false), "2 cluster(s) of 3 node(s), not linked");
        assert_eq!(shape(1, 1, true), "1 cluster(s) of 1 node(s)");
        let missing = Error::GaleraMissing {
            path: host::PROVIDER.into(),
        };
        assert!(
            missing
                .to_string()
                .contains("install the Debian package galera-4"),
            "{missing}"
        );
    }
}
