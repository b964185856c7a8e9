//! [`TestGalera`]: a Galera sandbox owned by one test, in a temp dir, whose nodes are stopped
//! by PID however the test ends; the directory is kept (and its path printed) when the test
//! fails, removed on success.

use std::path::PathBuf;

use ferryman_config::Config;

use crate::{GaleraOptions, GaleraSandbox};

/// A Galera sandbox owned by one test.
#[derive(Debug)]
pub struct TestGalera {
    sandbox: GaleraSandbox,
    dir: Option<tempfile::TempDir>,
}

impl TestGalera {
    /// Brings up the clusters of `options` in a new temp dir. Panics with the reason (and
    /// keeps the directory) when they cannot be brought up.
    pub async fn start(options: &GaleraOptions) -> TestGalera {
        // `up` opens the directory (0700 as created) to mysql, which the nodes run as.
        let dir = super::temp_dir("ferryman-g");
        match GaleraSandbox::up(dir.path(), options).await {
            Ok(sandbox) => TestGalera {
                sandbox,
                dir: Some(dir),
            },
            Err(e) => {
                let kept = dir.keep();
                panic!(
                    "Galera sandbox did not start: {e}\n(sandbox dir kept: {})",
                    kept.display()
                );
            }
        }
    }

    /// The generated configuration, parsed.
    pub fn config(&self) -> Config {
        Config::load(&self.sandbox.config_path())
            .unwrap_or_else(|e| panic!("Galera sandbox config does not parse: {e}"))
    }

    /// The sandbox directory.
    pub fn path(&self) -> PathBuf {
        self.sandbox.dir().to_owned()
    }

    /// Runs `sql` (one or more statements) on node `name` as the sandbox's admin account, on
    /// a plain session, and returns the rows of the first result set; panics on any failure.
    pub async fn sql(&self, name: &str, sql: &str) -> Vec<ferryman_db::mysql_async::Row> {
        let ep = self
            .sandbox
            .endpoint(name)
            .unwrap_or_else(|e| panic!("{e}"));
        super::run_sql(&ep, sql).await
    }
}

impl std::ops::Deref for TestGalera {
    type Target = GaleraSandbox;
    fn deref(&self) -> &GaleraSandbox {
        &self.sandbox
    }
}

impl Drop for TestGalera {
    fn drop(&mut self) {
        // Blocking on purpose: Drop cannot await, and stopping is signals plus polling /proc.
        let _ = self.sandbox.stop_all_blocking();
        super::keep_if_panicking(&mut self.dir);
    }
}
