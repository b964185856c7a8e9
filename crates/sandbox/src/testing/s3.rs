//! A real S3 server for tests: a single-node Ceph cluster (one monitor, one OSD on memstore, no
//! manager) and radosgw, in a temp dir, on free loopback ports, with cephx and a user whose keys
//! radosgw generates. The recipe is `../shared/lab.md` item 4, made safe to run beside other
//! tests: every port is chosen free, every file lives in the test's directory, and the daemons
//! are stopped by the PIDs they wrote there however the test ends (also on panic).
//!
//! # Sequence
//! 1. `ceph.conf` (cephx, pid files, one replica, 8 PGs, messenger ports in a free window,
//!    beast on a free port) and a monitor map; keyrings for the monitor, the admin, the OSD and
//!    radosgw (`ceph-authtool`, files 0600 in the test's directory).
//! 2. `ceph-mon --mkfs`, then the monitor; `ceph osd create`, `ceph-osd --mkfs`, then the OSD;
//!    wait until the OSD is up.
//! 3. radosgw; wait until it accepts connections; `radosgw-admin user create`, whose JSON gives
//!    the keys (never on a command line); the test's bucket is created through the S3 API.
//!
//! The first bucket and the first put take about 2 s each while radosgw creates its pools.

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

/// A running S3 server; stopped (by PID) when dropped.
pub struct TestS3 {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The bucket made for the test.
    pub bucket: String,
    /// The region radosgw answers for.
    pub region: String,
    /// The user's access key id.
    pub access_key: String,
    /// The user's secret key (in memory only; tests give it to clients through the environment
    /// or a 0600 file).
    pub secret_key: String,
    dir: Option<tempfile::TempDir>,
}

impl TestS3 {
    /// Starts the cluster and radosgw and creates `bucket`; panics with the daemons' log
    /// directory when anything fails.
    pub async fn start(bucket: &str) -> TestS3 {
        let dir = super::temp_dir("ferryman-s3-");
        let mut s3 = TestS3 {
            endpoint: String::new(),
            bucket: bucket.to_owned(),
            region: "default".to_owned(),
            access_key: String::new(),
            secret_key: String::new(),
            dir: Some(dir),
        };
        if let Err(e) = s3.bring_up().await {
            panic!(
                "the test S3 server (Ceph radosgw) did not start: {e}; logs in {}/log",
                s3.root().display()
            );
        }
        s3
    }

    /// The directory holding the cluster's configuration, data and logs.
    pub fn root(&self) -> PathBuf {
        self.dir
            .as_ref()
            .map(|d| d.path().to_owned())
            .unwrap_or_default()
    }

    async fn bring_up(&mut self) -> Result<(), String> {
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
        std::fs::write(&conf, config(&root, &fsid, &mon_addr, window, s3_port))
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
        super::s3_sign::create_bucket(self, &self.bucket)
            .await
            .map_err(|e| format!("cannot create bucket {}: {e}", self.bucket))
    }

    /// Creates another bucket (one per test when tests share the server).
    pub async fn create_bucket(&self, bucket: &str) {
        if let Err(e) = super::s3_sign::create_bucket(self, bucket).await {
            panic!("cannot create bucket {bucket}: {e}");
        }
    }

    /// The keys of `bucket`'s multipart uploads in progress (started, neither completed nor
    /// aborted): what an abandoned write must not leave.
    pub async fn open_uploads(&self, bucket: &str) -> Vec<String> {
        match super::s3_sign::open_uploads(self, bucket).await {
            Ok(keys) => keys,
            Err(e) => panic!("cannot list the uploads of bucket {bucket}: {e}"),
        }
    }

    /// Stops the S3 gateway (radosgw) only, as an outage: requests are refused until
    /// [`TestS3::start_gateway`]. The stored objects stay (they live in the OSD).
    pub async fn stop_gateway(&self) {
        let pid_file = self.root().join("run/client.rgw.a.pid");
        let pid = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok());
        match pid {
            Some(pid) => {
                let _ = ferryman_exec::process::stop(pid, STOP_GRACE);
                let _ = std::fs::remove_file(&pid_file);
            }
            None => panic!("radosgw has no pid file at {}", pid_file.display()),
        }
    }

    /// Starts the S3 gateway again on its port after [`TestS3::stop_gateway`]; returns once
    /// it accepts connections.
    pub async fn start_gateway(&self) {
        let conf = self.root().join("ceph.conf").display().to_string();
        if let Err(e) = run("radosgw", &["-c", &conf, "-n", "client.rgw.a"]).await {
            panic!("radosgw did not restart: {e}");
        }
        let host = self.endpoint.trim_start_matches("http://").to_owned();
        let deadline = Instant::now() + UP_TIMEOUT;
        while tokio::net::TcpStream::connect(&host).await.is_err() {
            assert!(
                Instant::now() < deadline,
                "radosgw does not listen on {host} after {UP_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the daemons by the PIDs in their pid files (SIGTERM, SIGKILL after 5 s).
    fn stop(&self) {
        for pid in pids(&self.root().join("run")) {
            let _ = ferryman_exec::process::stop(pid, STOP_GRACE);
        }
    }
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        self.stop();
        super::keep_if_panicking(&mut self.dir);
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

fn config(root: &Path, fsid: &str, mon_addr: &str, window: (u16, u16), s3_port: u16) -> String {
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
memstore device bytes = 1073741824
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
