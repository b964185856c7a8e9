//! Throttling: with `backup-throttle-rate-mib` the manager reads a stream no faster than the
//! cap, so the backup takes at least its wire bytes over the cap, and is stored whole.

use std::time::{Duration, Instant};

use ferryman_manager::JobState;
use ferryman_proto::Task;
use ferryman_sandbox::testing::TestSandbox;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_capped_stream_is_read_no_faster_than_the_cap() {
    let sb = TestSandbox::start(0).await;
    // About 7 MiB of dump that zstd cannot shrink much (hex of random bytes).
    sb.sql(
        "db1",
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT); \
         INSERT INTO app.t SELECT seq, HEX(RANDOM_BYTES(512)) FROM mysql.seq_1_to_7000;",
    )
    .await;
    let config = config_with(
        &sb,
        "backup-stream-compression = \"manager\"\nbackup-throttle-rate-mib = 2",
        "",
    );
    let running = start(&config, &["db1"]).await;
    let services = running.services.clone();
    let started = Instant::now();
    let done = run_job(&services, "db1", Task::Mysqldump, Duration::from_secs(180)).await;
    let took = started.elapsed();
    assert_eq!(done.state, JobState::Succeeded, "{done:?}");
    let m = stored_manifest(&services, &done).await;
    // The first second runs free, then 2 MiB/s: at least raw/2 MiB/s - 1 s.
    let floor = m.raw_bytes as f64 / (2.0 * 1048576.0) - 1.0;
    assert!(m.raw_bytes > 6 << 20, "{m:?}");
    assert!(
        took.as_secs_f64() >= floor,
        "{} bytes in {took:?}, faster than the cap allows ({floor:.1} s)",
        m.raw_bytes
    );
    running.stop().await;
}
