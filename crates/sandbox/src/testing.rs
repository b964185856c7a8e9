//! The fixtures of the integration tests: a sandbox in a temp dir whose servers are stopped
//! by PID however the test ends. When the test fails (panics) the directory is kept and its
//! path printed, so the servers' logs can be read; on success it is removed.

mod galera;
mod prometheus;
mod s3;
mod smtp;
mod sshd;
mod writer;

pub use galera::TestGalera;
pub use prometheus::TestPrometheus;
pub use s3::TestS3;
pub use smtp::{Mail, TestSmtp};
pub use sshd::{TestSshd, PASSWORD_USER};
pub use writer::Writer;

use std::path::{Path, PathBuf};

use ferryman_config::Config;

use crate::{Sandbox, UpOptions};

/// A sandbox owned by one test.
#[derive(Debug)]
pub struct TestSandbox {
    sandbox: Sandbox,
    dir: Option<tempfile::TempDir>,
}

impl TestSandbox {
    /// Starts a primary and `replicas` replicas, replicating, in a new temp dir. Panics with
    /// the reason (and keeps the directory) when they cannot be started. The configuration
    /// schedules no verification (`auto_verify: false`): tests verify explicitly, and
    /// background verifications would slow and disturb them.
    pub async fn start(replicas: usize) -> TestSandbox {
        Self::start_with(&UpOptions {
            replicas,
            ferryman_bin: None,
            auto_verify: false,
        })
        .await
    }

    /// [`TestSandbox::start`] with every option of [`Sandbox::up_with`], e.g. the `ferryman`
    /// binary the generated configuration's service commands run.
    pub async fn start_with(options: &UpOptions) -> TestSandbox {
        let dir = temp_dir("ferryman-t");
        match Sandbox::up_with(dir.path(), options).await {
            Ok(sandbox) => TestSandbox {
                sandbox,
                dir: Some(dir),
            },
            Err(e) => {
                let kept = dir.keep();
                panic!(
                    "sandbox did not start: {e}\n(sandbox dir kept: {})",
                    kept.display()
                );
            }
        }
    }

    /// The generated configuration, parsed.
    pub fn config(&self) -> Config {
        Config::load(&self.sandbox.config_path())
            .unwrap_or_else(|e| panic!("sandbox config does not parse: {e}"))
    }

    /// The sandbox directory.
    pub fn path(&self) -> PathBuf {
        self.sandbox.dir().to_owned()
    }

    /// Runs `sql` (one or more statements) on server `name` as the sandbox's admin account,
    /// on a plain session, and returns the rows of the first result set; panics on any failure.
    pub async fn sql(&self, name: &str, sql: &str) -> Vec<ferryman_db::mysql_async::Row> {
        let spec = self
            .sandbox
            .server(name)
            .unwrap_or_else(|| panic!("no server {name} in the sandbox"));
        run_sql(&self.sandbox.endpoint(spec), sql).await
    }

    /// [`TestSandbox::sql`] as `root` over the server's socket: for what the admin account
    /// cannot do to itself (take a privilege away and give it back).
    pub async fn sql_as_root(&self, name: &str, sql: &str) -> Vec<ferryman_db::mysql_async::Row> {
        let spec = self
            .sandbox
            .server(name)
            .unwrap_or_else(|| panic!("no server {name} in the sandbox"));
        let socket = self.sandbox.layout().server(name).socket();
        run_sql(
            &crate::accounts::root_endpoint(name, spec.port, &socket),
            sql,
        )
        .await
    }

    /// Gives server `name` a TLS certificate (`ssl-ca`, `ssl-cert`, `ssl-key` in a `[mysqld]`
    /// group appended to its my.cnf) and restarts it; panics on any failure.
    pub async fn serve_tls(&self, name: &str, ca: &Path, cert: &Path, key: &Path) {
        let cnf = self.sandbox.layout().server(name).defaults_file();
        let mut text = std::fs::read_to_string(&cnf).unwrap_or_else(|e| panic!("{e}"));
        text.push_str(&format!(
            "\n[mysqld]\nssl-ca = {}\nssl-cert = {}\nssl-key = {}\n",
            ca.display(),
            cert.display(),
            key.display()
        ));
        std::fs::write(&cnf, text).unwrap_or_else(|e| panic!("{e}"));
        self.sandbox
            .restart_server(name)
            .await
            .unwrap_or_else(|e| panic!("cannot restart {name}: {e}"));
    }
}

impl std::ops::Deref for TestSandbox {
    type Target = Sandbox;
    fn deref(&self) -> &Sandbox {
        &self.sandbox
    }
}

impl Drop for TestSandbox {
    fn drop(&mut self) {
        // Blocking on purpose: Drop cannot await, and stopping is signals plus polling /proc.
        let _ = self.sandbox.stop_all_blocking();
        keep_if_panicking(&mut self.dir);
    }
}

/// A new temp dir for one test's servers: a short prefix under /tmp, because unix socket paths
/// are limited to 107 bytes.
fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .unwrap_or_else(|e| panic!("cannot create a temp dir for the sandbox: {e}"))
}

/// Runs `sql` (one or more statements) through `ep` on a plain session and returns the rows of
/// the first result set; panics on any failure.
async fn run_sql(ep: &ferryman_db::Endpoint, sql: &str) -> Vec<ferryman_db::mysql_async::Row> {
    use ferryman_db::mysql_async::prelude::Queryable;
    let name = &ep.name;
    let mut conn = ep
        .connect(ferryman_db::Session::Plain)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {name}: {e}"));
    let rows = conn
        .query(sql)
        .await
        .unwrap_or_else(|e| panic!("{name}: {sql}: {e}"));
    if let Err(e) = conn.disconnect().await {
        panic!("{name}: disconnect: {e}");
    }
    rows
}

/// When the test is failing, keeps the directory and prints where it is.
fn keep_if_panicking(dir: &mut Option<tempfile::TempDir>) {
    if std::thread::panicking() {
        if let Some(dir) = dir.take() {
            let kept = dir.keep();
            #[allow(clippy::print_stderr)] // the test harness shows stderr of failed tests
            {
                eprintln!("test failed: sandbox dir kept at {}", kept.display());
            }
        }
    }
}
