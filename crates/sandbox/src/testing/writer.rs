//! [`Writer`]: a stream of small transactions on one sandbox server, for tests that need a
//! primary under writes (archiving, failovers).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::{Endpoint, Session};

use super::TestSandbox;

/// Runs `insert` (one `?`, bound to the next id of `next`) one transaction at a time on a
/// server until stopped; `next` is then the number of rows written plus its start.
#[derive(Debug)]
pub struct Writer {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Writer {
    /// Starts writing on `server` of `sb`, pausing `pause` between transactions.
    pub fn start(
        sb: &TestSandbox,
        server: &str,
        insert: &'static str,
        next: Arc<AtomicU64>,
        pause: Duration,
    ) -> Writer {
        let config = sb.config();
        let cluster = &config.clusters[0];
        let spec = cluster
            .server(server)
            .unwrap_or_else(|| panic!("no server {server} in the sandbox"));
        let endpoint = Endpoint::from_config(spec, &cluster.db_servers_credential);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let task = tokio::spawn(async move {
            let mut conn = endpoint
                .connect(Session::Plain)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            while !flag.load(Ordering::SeqCst) {
                let id = next.fetch_add(1, Ordering::SeqCst);
                conn.exec_drop(insert, (id,))
                    .await
                    .unwrap_or_else(|e| panic!("{insert}: {e}"));
                tokio::time::sleep(pause).await;
            }
        });
        Writer { stop, task }
    }

    /// Stops after the transaction in flight; panics if writing failed.
    pub async fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.task
            .await
            .unwrap_or_else(|e| panic!("the writer failed: {e}"));
    }
}
