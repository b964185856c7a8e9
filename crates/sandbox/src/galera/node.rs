//! One Galera node: its defaults file, its directory owned by `mysql`, installing the first
//! node, starting (bootstrap or join), waiting until it is Synced, its saved Galera state
//! (`grastate.dat`), finding its process.
//! Nodes run as `mysql` on directories it owns (see `host`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::{Endpoint, Session};
use ferryman_exec::process;

use super::host::{give_to_mysql, PROVIDER, RUN_AS};
use super::state::{ClusterSpec, NodeSpec};
use crate::layout::{write_file, ServerPaths};
use crate::server::{self, Binaries};
use crate::{Error, Result};

/// How long a node may take to become Synced after it was started (a joiner's SST included).
const SYNC_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a node may take to shut down after SIGTERM (a clean Galera shutdown takes ~2 s).
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(60);

/// The node's only defaults file. The SST scripts and `mariabackup` re-read it (the server
/// hands them `--defaults-file`), so nothing in `/etc/mysql` is read by anyone.
pub(crate) fn defaults_file(cluster: &ClusterSpec, node: &NodeSpec, paths: &ServerPaths) -> String {
    let p = |path: PathBuf| path.display().to_string();
    let peers = cluster
        .nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.gmcast_port))
        .collect::<Vec<_>>()
        .join(",");
    format!(
        "# Written by `ferryman sandbox up --galera`: this node reads no other option file\n\
         # (the SST scripts read it too: never run a Galera node with --no-defaults).\n\
         [client]\n\
         socket={socket}\n\
         port={port}\n\
         \n\
         [mysqld]\n\
         # rsync SST needs a non-root server: as root, the joiner's rsync daemon would switch\n\
         # to user nobody and fail to write the datadir\n\
         user={user}\n\
         {paths}\
         port={port}\n\
         bind-address=127.0.0.1\n\
         skip-name-resolve\n\
         server-id={server_id}\n\
         log-bin=binlog\n\
         log-slave-updates=ON\n\
         binlog-format=ROW\n\
         gtid-domain-id={gtid_domain}\n\
         gtid-strict-mode=ON\n\
         # a restarted ex-replica must not resume replicating: two nodes of a cluster would\n\
         # then apply the same stream; the link keeper decides which node replicates\n\
         skip-slave-start\n\
         slow-query-log=ON\n\
         slow-query-log-file={slow}\n\
         long-query-time=1\n\
         innodb-buffer-pool-size=64M\n\
         innodb-log-file-size=32M\n\
         innodb-autoinc-lock-mode=2\n\
         innodb-flush-log-at-trx-commit=2\n\
         performance-schema=OFF\n\
         max-connections=200\n\
         \n\
         wsrep-on=ON\n\
         wsrep-provider={provider}\n\
         wsrep-cluster-name={cluster}\n\
         # the node's identity for the link keeper: equal to its name in ferryman.toml\n\
         wsrep-node-name={node}\n\
         wsrep-cluster-address=gcomm://{peers}\n\
         wsrep-node-address=127.0.0.1:{gmcast}\n\
         # what mysql.wsrep_cluster_members and wsrep_incoming_addresses show for this node\n\
         wsrep-node-incoming-address=127.0.0.1:{port}\n\
         wsrep-provider-options=\"gmcast.listen_addr=tcp://127.0.0.1:{gmcast};ist.recv_addr=127.0.0.1:{ist};gcache.size=32M\"\n\
         wsrep-sst-receive-address=127.0.0.1:{sst}\n\
         wsrep-sst-method=rsync\n\
         wsrep-gtid-mode=ON\n\
         wsrep-gtid-domain-id={wsrep_domain}\n\
         wsrep-slave-threads=2\n\
         \n\
         [mariadb-backup]\n\
         # mariabackup reads [mysqld] for the datadir; it connects through the socket\n\
         socket={socket}\n\
         \n\
         [sst]\n\
         # SST logs go to files in the datadir, not to syslog (none may run)\n\
         sst-syslog=-1\n\
         # the default, /tmp/sst_log_archive, would be shared by every node on the host\n\
         sst-log-archive-dir={archive}\n",
        socket = p(paths.socket()),
        port = node.port,
        user = RUN_AS,
        paths = paths.mysqld_paths(),
        server_id = node.server_id,
        gtid_domain = cluster.gtid_domain_id,
        slow = p(paths.slow_log()),
        provider = PROVIDER,
        cluster = cluster.name,
        node = node.name,
        gmcast = node.gmcast_port,
        ist = node.ist_port,
        sst = node.sst_port,
        wsrep_domain = cluster.wsrep_gtid_domain_id,
        archive = p(sst_log_archive(paths)),
    )
}

/// Creates the node's directories (an empty datadir: a joiner receives everything by SST) and
/// writes its defaults file. Existing data is kept.
pub(crate) fn prepare(cluster: &ClusterSpec, node: &NodeSpec, paths: &ServerPaths) -> Result<()> {
    for dir in [paths.root().to_owned(), paths.datadir(), paths.tmpdir()] {
        std::fs::create_dir_all(&dir).map_err(Error::io("create directory", &dir))?;
    }
    write_file(
        &paths.defaults_file(),
        defaults_file(cluster, node, paths).as_bytes(),
        0o644,
    )
}

/// Creates the system tables of the cluster's first node with `mariadb-install-db`; `root`
/// gets no password and is reachable through the socket (the accounts are made that way).
pub(crate) async fn install(bins: &Binaries, paths: &ServerPaths) -> Result<()> {
    let args = [paths.defaults_file_arg(), format!("--user={RUN_AS}").into()];
    Ok(ferryman_mariadbd::install(bins, paths, &args).await?)
}

/// Where the SST scripts of a node archive their logs (their default, `/tmp/sst_log_archive`,
/// would be shared by every node on the host).
fn sst_log_archive(paths: &ServerPaths) -> PathBuf {
    paths.root().join("sst-log-archive")
}

/// Starts the node as a daemon: `--wsrep-new-cluster` makes it bootstrap a new cluster, without
/// it the node joins the running members listed in its defaults file. Returns its PID.
///
/// `start_position` (`uuid:seqno`) tells a bootstrapping node where its data stands when its
/// `grastate.dat` does not (after a crash): without it the provider starts a new history (a
/// new cluster UUID), and every other node then needs a full SST instead of an IST.
pub(crate) async fn spawn(
    bins: &Binaries,
    paths: &ServerPaths,
    bootstrap: bool,
    start_position: Option<&str>,
) -> Result<u32> {
    // A node whose data was deleted joins anew by SST into an empty datadir.
    for dir in [paths.datadir(), paths.tmpdir()] {
        std::fs::create_dir_all(&dir).map_err(Error::io("create directory", &dir))?;
    }
    give_to_mysql(paths).await?;
    let mut extra = Vec::new();
    if bootstrap {
        extra.push("--wsrep-new-cluster".to_owned());
    }
    if let Some(position) = start_position {
        extra.push(format!("--wsrep-start-position={position}"));
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    server::spawn(bins, paths, &extra)
}

/// Waits until the node answers through `probe` with `wsrep_local_state_comment = Synced`.
/// A node that exits or does not get there within [`SYNC_TIMEOUT`] is an error naming the last
/// state seen and the end of its log; a node that timed out is stopped.
pub(crate) async fn wait_synced(
    node: &str,
    paths: &ServerPaths,
    probe: &Endpoint,
    pid: u32,
) -> Result<()> {
    let started = Instant::now();
    let fail = |reason: String| Error::NotSynced {
        node: node.to_owned(),
        seconds: started.elapsed().as_secs(),
        reason,
        tail: server::log_excerpt(&paths.error_log()),
        log: paths.error_log(),
    };
    let mut last = String::from("no answer yet");
    loop {
        if !process::is_running(pid) {
            return Err(fail(format!(
                "mariadbd (pid {pid}) exited; last seen: {last}"
            )));
        }
        match read_wsrep(probe).await {
            Ok(status) => {
                let state = status
                    .get("wsrep_local_state_comment")
                    .cloned()
                    .unwrap_or_default();
                if state == "Synced" {
                    return Ok(());
                }
                last = format!("state {state}");
            }
            Err(e) => last = format!("last error: {e}"),
        }
        if started.elapsed() > SYNC_TIMEOUT {
            let _ = tokio::task::spawn_blocking(move || process::stop(pid, STOP_GRACE)).await;
            return Err(fail(format!("not Synced ({last})")));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The node's `wsrep%` status variables (names in lower case).
pub(crate) async fn read_wsrep(ep: &Endpoint) -> Result<BTreeMap<String, String>> {
    let mut conn = ep.connect(Session::Plain).await?;
    let rows: Result<Vec<(String, String)>> = conn
        .query("SHOW GLOBAL STATUS LIKE 'wsrep%'")
        .await
        .map_err(|e| {
            ep.query_error("read Galera status (SHOW STATUS LIKE 'wsrep%')", e)
                .into()
        });
    let _ = conn.disconnect().await;
    Ok(rows?
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect())
}

/// What `grastate.dat` says: the node's last committed position as saved at shutdown, and
/// whether Galera considers it safe to bootstrap a new cluster from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SavedState {
    /// Last committed seqno; -1 when the node did not stop cleanly (or is running).
    pub(crate) seqno: i64,
    /// Set on the last node of a cluster to stop cleanly.
    pub(crate) safe_to_bootstrap: bool,
}

fn grastate_path(paths: &ServerPaths) -> PathBuf {
    paths.datadir().join("grastate.dat")
}

/// Reads the node's `grastate.dat`; `None` when it has none (it never joined).
pub(crate) fn saved_state(paths: &ServerPaths) -> Result<Option<SavedState>> {
    let path = grastate_path(paths);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", &path)(e)),
    };
    Ok(Some(parse_grastate(&text)))
}

fn parse_grastate(text: &str) -> SavedState {
    let value = |key: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key).then(|| v.trim().to_owned())
        })
    };
    SavedState {
        seqno: value("seqno").and_then(|v| v.parse().ok()).unwrap_or(-1),
        safe_to_bootstrap: value("safe_to_bootstrap").as_deref() == Some("1"),
    }
}

/// Marks the node as the one to bootstrap its cluster from (`safe_to_bootstrap: 1`): Galera
/// refuses `--wsrep-new-cluster` otherwise, as it cannot know the others are not newer.
pub(crate) fn set_safe_to_bootstrap(paths: &ServerPaths) -> Result<()> {
    let path = grastate_path(paths);
    let text = std::fs::read_to_string(&path).map_err(Error::io("read", &path))?;
    let mut found = false;
    let mut out: String = text
        .lines()
        .map(|l| {
            if l.split_once(':').map(|(k, _)| k.trim()) == Some("safe_to_bootstrap") {
                found = true;
                "safe_to_bootstrap: 1\n".to_owned()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    if !found {
        out.push_str("safe_to_bootstrap: 1\n");
    }
    // Owned by root until the next start gives the node directory to mysql again.
    write_file(&path, out.as_bytes(), 0o660)
}

/// A node's last committed position, recovered from its InnoDB by `mariadbd --wsrep-recover`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recovered {
    /// `uuid:seqno`, for `--wsrep-start-position`.
    pub(crate) position: String,
    /// Its seqno.
    pub(crate) seqno: i64,
}

/// The position of a node that did not stop cleanly (`seqno: -1` in `grastate.dat`), recovered
/// from its InnoDB (`mariadbd --wsrep-recover`, what Debian's `galera_recovery` runs before
/// every start). `None` when the log does not say.
pub(crate) async fn recover(bins: &Binaries, paths: &ServerPaths) -> Result<Option<Recovered>> {
    give_to_mysql(paths).await?;
    let log = paths.error_log();
    let before = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    bins.mariadbd
        .command()
        .arg(format!(
            "--defaults-file={}",
            paths.defaults_file().display()
        ))
        .arg("--wsrep-recover")
        .run()
        .await?;
    let text = std::fs::read(&log).map_err(Error::io("read", &log))?;
    let new = text
        .get(usize::try_from(before).unwrap_or(0)..)
        .unwrap_or(&[]);
    Ok(String::from_utf8_lossy(new)
        .lines()
        .filter_map(parse_recovered)
        .next_back())
}

/// `... WSREP: Recovered position: UUID:SEQNO[,GTID list]`.
fn parse_recovered(line: &str) -> Option<Recovered> {
    let (_, rest) = line.split_once("WSREP: Recovered position:")?;
    let position = rest.trim().split(',').next()?.trim();
    let seqno = position.rsplit_once(':')?.1.parse().ok()?;
    Some(Recovered {
        position: position.to_owned(),
        seqno,
    })
}

/// The PID of the node's `mariadbd` when it runs: from its pid file (checked to be ours), else
/// found by its command line. A starting node writes its pid file only once its storage
/// engines are up, after a joiner's SST: until then the command line is the only trace.
pub(crate) fn running_pid(paths: &ServerPaths) -> Option<u32> {
    server::running_pid(paths).or_else(|| {
        let arg = format!("--defaults-file={}", paths.defaults_file().display());
        mariadbd_pids(|args| args.contains(&arg)).into_iter().next()
    })
}

/// Every running `mariadbd` whose arguments satisfy `matches`.
pub(crate) fn mariadbd_pids(matches: impl Fn(&[String]) -> bool) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<String> = raw
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            args.first().is_some_and(|a| a.ends_with("mariadbd"))
                && matches(&args)
                && process::is_running(pid)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grastate_of_a_clean_last_node_and_of_a_crashed_one() {
        let clean = "# GALERA saved state\nversion: 2.1\nuuid:    5f1c-1\nseqno:   42\nsafe_to_bootstrap: 1\n";
        assert_eq!(
            parse_grastate(clean),
            SavedState {
                seqno: 42,
                safe_to_bootstrap: true
            }
        );
        let crashed = "version: 2.1\nuuid: 5f1c-1\nseqno: -1\nsafe_to_bootstrap: 0\n";
        assert_eq!(
            parse_grastate(crashed),
            SavedState {
                seqno: -1,
                safe_to_bootstrap: false
            }
        );
    }

    #[test]
    fn a_recovered_position_is_read_with_or_without_its_gtids() {
        let line = "2026-11-21  7:17:56 0 [Note] WSREP: Recovered position: \
                    a462607c-e57b-11f1-87ed-82a2cbcd518a:15,10-11-12";
        assert_eq!(
            parse_recovered(line),
            Some(Recovered {
                position: "a462607c-e57b-11f1-87ed-82a2cbcd518a:15".into(),
                seqno: 15
            })
        );
        let bare = "[Note] WSREP: Recovered position: a462607c-e57b-11f1-87ed-82a2cbcd518a:7";
        assert_eq!(parse_recovered(bare).map(|r| r.seqno), Some(7));
        // the server's own recovery while it joins is another line
        let other = "[Note] WSREP: Recovered position from storage: a462607c-e57b:14";
        assert_eq!(parse_recovered(other), None);
    }

    #[test]
    fn the_defaults_file_names_the_node_its_cluster_and_every_peer() {
        let state = super::super::state::GaleraState::new(1, 2, false, &[1, 2, 3, 4, 5, 6, 7, 8]);
        let cluster = &state.clusters[0];
        let layout = crate::layout::Layout::new(std::path::Path::new("/tmp/g"));
        let text = defaults_file(cluster, &cluster.nodes[1], &layout.server("a2"));
        for line in [
            "user=mysql",
            "wsrep-cluster-name=alpha",
            "wsrep-node-name=a2",
            "wsrep-cluster-address=gcomm://127.0.0.1:2,127.0.0.1:6",
            "wsrep-node-address=127.0.0.1:6",
            "wsrep-sst-receive-address=127.0.0.1:8",
            "server-id=12",
            "gtid-domain-id=1",
            "wsrep-gtid-domain-id=10",
            "skip-slave-start",
            "sst-log-archive-dir=/tmp/g/servers/a2/sst-log-archive",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
    }
}
