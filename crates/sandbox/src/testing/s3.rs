//! [`TestS3`]: the tests' S3 server, an [`S3Server`] in a temp dir that is stopped (by PID)
//! however the test ends, and kept for inspection when it fails.

use std::ops::Deref;

use crate::s3::{S3Server, DEFAULT_MEMORY};

/// A running S3 server for one test; stopped when dropped.
pub struct TestS3 {
    server: S3Server,
    dir: Option<tempfile::TempDir>,
}

impl TestS3 {
    /// Starts the server and creates `bucket`; panics with the daemons' log directory when
    /// anything fails.
    pub async fn start(bucket: &str) -> TestS3 {
        let dir = super::temp_dir("ferryman-s3-");
        match S3Server::start(dir.path(), bucket, DEFAULT_MEMORY).await {
            Ok(server) => TestS3 {
                server,
                dir: Some(dir),
            },
            Err(e) => {
                let kept = dir.keep();
                panic!(
                    "the test S3 server (Ceph radosgw) did not start: {e}; logs in {}/log",
                    kept.display()
                )
            }
        }
    }

    /// Creates another bucket (one per test when tests share the server).
    pub async fn create_bucket(&self, bucket: &str) {
        if let Err(e) = self.server.create_bucket(bucket).await {
            panic!("{e}");
        }
    }

    /// The keys of `bucket`'s multipart uploads in progress.
    pub async fn open_uploads(&self, bucket: &str) -> Vec<String> {
        self.server
            .open_uploads(bucket)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Stops the gateway only (an outage); the objects stay.
    pub async fn stop_gateway(&self) {
        if let Err(e) = self.server.stop_gateway() {
            panic!("{e}");
        }
    }

    /// Starts the gateway again; returns once it accepts connections.
    pub async fn start_gateway(&self) {
        if let Err(e) = self.server.start_gateway().await {
            panic!("{e}");
        }
    }
}

impl Deref for TestS3 {
    type Target = S3Server;

    fn deref(&self) -> &S3Server {
        &self.server
    }
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        self.server.stop();
        super::keep_if_panicking(&mut self.dir);
    }
}
