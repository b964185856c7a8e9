//! [`S3Server`]: a real S3 server on this host for tests, the demo and benchmarks: a
//! single-node Ceph cluster (one monitor, one OSD on memstore, no manager) and radosgw, in one
//! directory, on free loopback ports, with cephx and a user whose keys radosgw generates. The
//! recipe is `../shared/lab.md` item 4, made safe to run beside other servers: every port is
//! chosen free, every file lives in the server's directory, and the daemons are stopped by the
//! PIDs they wrote there. Objects live in the OSD's memory (`memstore`): they are gone once the
//! server stops.
//!
//! # Sequence
//! 1. `ceph.conf` (cephx, pid files, one replica, 8 PGs, messenger ports in a free window,
//!    beast on a free port) and a monitor map; keyrings for the monitor, the admin, the OSD and
//!    radosgw (`ceph-authtool`, files 0600 in the server's directory).
//! 2. `ceph-mon --mkfs`, then the monitor; `ceph osd create`, `ceph-osd --mkfs`, then the OSD;
//!    wait until the OSD is up.
//! 3. radosgw; wait until it accepts connections; `radosgw-admin user create`, whose JSON gives
//!    the keys (never on a command line); the first bucket is created through the S3 API
//!    (`s3/sign.rs`: the few signed requests object_store does not make).
//!
//! The first bucket and the first put take about 2 s each while radosgw creates its pools.

mod sign;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferryman_exec::Program;

use crate::sandbox::ports::{free_ports, free_window};

/// The Debian packages the daemons come from (named when a program is missing).
const PACKAGES: &str = "ceph-mon ceph-osd radosgw";
/// Ports radosgw, the monitor and the OSD may bind for their messengers.
const MESSENGER_PORTS: u16 = 40;
/// How long the cluster may take to come up (13 s on these machines).
const UP_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a daemon may take to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// The OSD's memory for objects, by default.
pub const DEFAULT_MEMORY: u64 = 1 << 30;

/// A running S3 server. It keeps running until [`S3Server::stop`] (nothing stops it on drop:
/// see `TestS3` for the tests' guard).
#[derive(Debug, Clone)]
pub struct S3Server {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The bucket made at start.
    pub bucket: String,
    /// The region radosgw answers for.
    pub region: String,
    /// The user's access key id.
    pub access_key: String,
    /// The user's secret key (in memory only; give it to clients through the environment or a
    /// 0600 file).
    pub secret_key: String,
    root: PathBuf,
}

impl S3Server {
    /// Starts the cluster and radosgw in `root` (created; it must hold no other server) with
    /// `memory` bytes for objects, and creates `bucket`. The error names what failed; the
    /// daemons' logs are in `root/log`.
    pub async fn start(root: &Path, bucket: &str, memory: u64) -> Result<S3Server, String> {
        let mut s3 = S3Server {
            endpoint: String::new(),
            bucket: bucket.to_owned(),
            region: "default".to_owned(),
            access_key: String::new(),
            secret_key: String::new(),
            root: root.to_owned(),
        };
        match s3.bring_up(memory).await {
            Ok(()) => Ok(s3),
            Err(e) => {
                s3.stop();
                Err(e)
            }
        }
    }

    /// The directory holding the cluster's configuration, data and logs.
    pub fn root(&self) -> PathBuf {
        self.root.clone()
    }

    async fn bring_up(&mut self, memory: u64) -> Result<(), String> {
        let root = self.root();
        for sub in ["run", "log", "mon.a", "osd.0", "rgw"] {
            std::fs::create_dir_all(root.join(sub)).map_err(|e| format!("mkdir {sub}: {e}"))?;
        }
        let ports = free_ports(3).map_err(|e| e.to_string())?;
        let (mon_v2, mon_v1, s3_port) = (ports[0], ports[1], ports[2]);
        let window = free_window(MESSENGER_PORTS).map_err(|e| e.to_string())?;
        let fsid = uuid_v4();
        let conf = root.join("ceph.conf");
        let mon_addr = format!("[v2:127.0.0.1:{mon_v2},v1:127.0.0.1:{mon_v1}]");
        std::fs::write(
            &conf,
            config(&root, &fsid, &mon_addr, window, s3_port, memory),
        )
        .map_err(|e| format!("write ceph.conf: {e}"))?;
        let conf_arg = conf.display().to_string();
        let keyring = root.join("keyring").display().to_string();
        let monmap = root.join("monmap").display().to_string();

        run(
            "monmaptool",
            &[
                "--create", "--fsid", &fsid, "--addv", "a", &mon_addr, &monmap,
            ],
        )
        .await?;
        run(
            "ceph-authtool",
            &[
                "--create-keyring",
                &keyring,
                "--gen-key",
                "-n",
                "mon.",
                "--cap",
                "mon",
                "allow *",
            ],
        )
        .await?;
        for (name, caps) in [
            ("client.admin", ["allow *", "allow *", "allow *"]),
            (
                "osd.0",
                ["allow profile osd", "allow *", "allow profile osd"],
            ),
            ("client.rgw.a", ["allow rw", "allow rwx", "allow rw"]),
        ] {
            run(
                "ceph-authtool",
                &[
                    &keyring,
                    "--gen-key",
                    "-n",
                    name,
                    "--cap",
                    "mon",
                    caps[0],
                    "--cap",
                    "osd",
                    caps[1],
                    "--cap",
                    "mgr",
                    caps[2],
                ],
            )
            .await?;
        }
        run(
            "ceph-mon",
            &[
                "-c",
                &conf_arg,
                "--mkfs",
                "-i",
                "a",
                "--monmap",
                &monmap,
                "--keyring",
                &keyring,
            ],
        )
        .await?;
        run("ceph-mon", &["-c", &conf_arg, "-i", "a"]).await?;
        run(
            "ceph",
            &["-c", &conf_arg, "--connect-timeout", "30", "osd", "create"],
        )
        .await?;
        run("ceph-osd", &["-c", &conf_arg, "-i", "0", "--mkfs"]).await?;
        run("ceph-osd", &["-c", &conf_arg, "-i", "0"]).await?;
        let deadline = Instant::now() + UP_TIMEOUT;
        loop {
            let stat = program("ceph")?
                .command()
                .args(["-c", &conf_arg, "--connect-timeout", "5", "osd", "stat"])
                .output()
                .await
                .map_err(|e| e.to_string())?;
            if stat.stdout.contains("1 up") {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the OSD is not up after {UP_TIMEOUT:?}: {}",
                    stat.stdout
                ));
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        run("radosgw", &["-c", &conf_arg, "-n", "client.rgw.a"]).await?;
        while tokio::net::TcpStream::connect(("127.0.0.1", s3_port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                return Err(format!(
                    "radosgw does not listen on {s3_port} after {UP_TIMEOUT:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let user = run(
            "radosgw-admin",
            &[
                "-c",
                &conf_arg,
                "user",
                "create",
                "--uid=ferryman",
                "--display-name=ferryman",
            ],
        )
        .await?;
        let (access, secret) = keys_of(&user)?;
        self.endpoint = format!("http://127.0.0.1:{s3_port}");
        self.access_key = access;
        self.secret_key = secret;
        sign::create_bucket(self, &self.bucket)
            .await
            .map_err(|e| format!("cannot create bucket {}: {e}", self.bucket))
    }

    /// Creates another bucket.
    pub async fn create_bucket(&self, bucket: &str) -> Result<(), String> {
        sign::create_bucket(self, bucket)
            .await
            .map_err(|e| format!("cannot create bucket {bucket}: {e}"))
    }

    /// The keys of `bucket`'s multipart uploads in progress (started, neither completed nor
    /// aborted): what an abandoned write must not leave.
    pub async fn open_uploads(&self, bucket: &str) -> Result<Vec<String>, String> {
        sign::open_uploads(self, bucket)
            .await
            .map_err(|e| format!("cannot list the uploads of bucket {bucket}: {e}"))
    }

    /// Stops the S3 gateway (radosgw) only, as an outage: requests are refused until
    /// [`S3Server::start_gateway`]. The stored objects stay (they live in the OSD).
    pub fn stop_gateway(&self) -> Result<(), String> {
        let pid_file = self.root.join("run/client.rgw.a.pid");
        let pid = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok())
            .ok_or_else(|| format!("radosgw has no pid file at {}", pid_file.display()))?;
        ferryman_exec::process::stop(pid, STOP_GRACE).map_err(|e| e.to_string())?;
        let _ = std::fs::remove_file(&pid_file);
        Ok(())
    }

    /// Starts the S3 gateway again on its port after [`S3Server::stop_gateway`]; returns once
    /// it accepts connections.
    pub async fn start_gateway(&self) -> Result<(), String> {
        let conf = self.root.join("ceph.conf").display().to_string();
        run("radosgw", &["-c", &conf, "-n", "client.rgw.a"])
            .await
            .map_err(|e| format!("radosgw did not restart: {e}"))?;
        let host = self.endpoint.trim_start_matches("http://").to_owned();
        let deadline = Instant::now() + UP_TIMEOUT;
        while tokio::net::TcpStream::connect(&host).await.is_err() {
            if Instant::now() > deadline {
                return Err(format!(
                    "radosgw does not listen on {host} after {UP_TIMEOUT:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// Stops the daemons by the PIDs in their pid files (SIGTERM, SIGKILL after 5 s). The
    /// objects are gone (they lived in the OSD's memory).
    pub fn stop(&self) {
        S3Server::stop_at(&self.root);
    }

    /// Stops the server whose directory is `root` (another process may have started it).
    pub fn stop_at(root: &Path) {
        for pid in pids(&root.join("run")) {
            let _ = ferryman_exec::process::stop(pid, STOP_GRACE);
        }
    }
}

fn program(name: &str) -> Result<Program, String> {
    Program::find(name, PACKAGES).map_err(|e| e.to_string())
}

/// Runs a Ceph tool to completion; its stdout, or the error with its stderr's tail.
async fn run(name: &str, args: &[&str]) -> Result<String, String> {
    program(name)?
        .command()
        .args(args)
        .run()
        .await
        .map(|out| out.stdout)
        .map_err(|e| e.to_string())
}

fn config(
    root: &Path,
    fsid: &str,
    mon_addr: &str,
    window: (u16, u16),
    s3_port: u16,
    memory: u64,
) -> String {
    let root = root.display();
    format!(
        "[global]
fsid = {fsid}
mon host = {mon_addr}
public addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
ms bind port min = {min}
ms bind port max = {max}
keyring = {root}/keyring
auth allow insecure global id reclaim = false
run dir = {root}/run
admin socket = {root}/run/$name.asok
pid file = {root}/run/$name.pid
log file = {root}/log/$name.log
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon max pg per osd = 1000
osd crush chooseleaf type = 0
mon warn on pool no redundancy = false
# A nearly full disk must not stop the monitor (its store is tiny; the OSD is in memory).
mon data avail crit = 0
mon data avail warn = 0
[mon.a]
mon data = {root}/mon.a
[osd.0]
osd data = {root}/osd.0
osd objectstore = memstore
memstore device bytes = {memory}
osd crush update on start = true
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:{s3_port}
rgw data = {root}/rgw
rgw dns name = localhost
",
        min = window.0,
        max = window.1,
    )
}

/// The first key pair of `radosgw-admin user create`'s JSON.
fn keys_of(json: &str) -> Result<(String, String), String> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("radosgw-admin said no JSON: {e}"))?;
    let key = &v["keys"][0];
    match (key["access_key"].as_str(), key["secret_key"].as_str()) {
        (Some(a), Some(s)) => Ok((a.to_owned(), s.to_owned())),
        _ => Err("radosgw-admin's answer holds no keys".to_owned()),
    }
}

/// A random UUID (version 4) for the cluster's fsid.
fn uuid_v4() -> String {
    let b: [u8; 16] = rand::random();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_be_bytes([b[4], b[5]]),
        u16::from_be_bytes([b[6], b[7]]) & 0x0fff,
        (u16::from_be_bytes([b[8], b[9]]) & 0x3fff) | 0x8000,
        u64::from_be_bytes([0, 0, b[10], b[11], b[12], b[13], b[14], b[15]]),
    )
}

/// The PIDs in the pid files of `run`.
fn pids(run: &Path) -> Vec<u32> {
    std::fs::read_dir(run)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "pid"))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok()?.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default()
}
