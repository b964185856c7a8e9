//! Master-master between two real Galera clusters of three nodes (reference 004's setup step
//! 1): alpha replicates from beta and beta from alpha, each cluster's keepers electing their
//! own replica, each replica ignoring its own cluster's GTID domains (`ignore-domain-ids`), so
//! no transaction comes back to the cluster that wrote it. Same short timings as `link.rs`.
//!
//! 1. keepers on all six nodes: one replica in each cluster, each with its cluster's domains
//!    ignored;
//! 2. writes on both sides at once reach all six nodes, each row once;
//! 3. kill -9 of both replicating nodes (and their keepers) while both sides take writes: each
//!    cluster elects another replica, and every row written on either side arrives once on
//!    every surviving node.
//!
//! All along, a sampler per cluster fails the test if two nodes of one cluster ever replicate
//! at once.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

#[path = "shared/keepers.rs"]
mod keepers;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferryman_config::RemoteMaster;
use ferryman_galera::EventKind;
use ferryman_sandbox::galera::{GaleraOptions, GaleraSandbox};
use ferryman_sandbox::testing::TestGalera;

use keepers::*;

const ALPHA: [&str; 3] = ["a1", "a2", "a3"];
const BETA: [&str; 3] = ["b1", "b2", "b3"];
/// Beta's writer's first id: the two sides' rows never share a key.
const BETA_IDS: u64 = 1_000_000;

/// What the replica of each cluster ignores, as SHOW SLAVE STATUS prints it.
async fn ignored_domains(g: &GaleraSandbox, node: &str) -> String {
    use ferryman_db::mysql_async::prelude::Queryable;
    let ep = g.endpoint(node).unwrap();
    let mut conn = ep.connect(ferryman_db::Session::Plain).await.unwrap();
    let row: Option<ferryman_db::mysql_async::Row> =
        conn.query_first("SHOW SLAVE STATUS").await.unwrap();
    let value: Option<String> = row
        .unwrap()
        .get_opt("Replicate_Ignore_Domain_Ids")
        .and_then(Result::ok);
    value.unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_galera_clusters_replicate_from_each_other_through_a_failover_on_each_side() {
    let g = TestGalera::start(&GaleraOptions {
        nodes: 3,
        clusters: 2,
        link: false,
        master_master: false,
        ferryman_bin: None,
    })
    .await;
    let sb: GaleraSandbox = (*g).clone();
    g.sql(
        "a1",
        "CREATE DATABASE app; CREATE TABLE app.t (id bigint PRIMARY KEY, v varchar(40) NOT NULL)",
    )
    .await;
    // Alpha's link gets beta's nodes as masters; each cluster ignores its own domains (the
    // sandbox gives alpha gtid_domain_id 1 and wsrep_gtid_domain_id 10, beta 2 and 20).
    let mut config = fast_config(&g);
    let beta_masters: Vec<RemoteMaster> = BETA
        .iter()
        .map(|n| RemoteMaster {
            host: "127.0.0.1".into(),
            port: sb.node(n).unwrap().1.port,
        })
        .collect();
    for cluster in &mut config.clusters {
        let link = cluster.galera_link.as_mut().unwrap();
        if cluster.name == "alpha" {
            link.masters = beta_masters.clone();
            link.ignore_domain_ids = vec![10, 1];
        } else {
            link.ignore_domain_ids = vec![20, 2];
        }
    }

    // 1. One replica per cluster, each ignoring its own domains.
    let samplers = [
        Sampler::start_in(&sb, &ALPHA),
        Sampler::start_in(&sb, &BETA),
    ];
    let mut keepers = Keepers::new(config);
    keepers.start(&ALPHA);
    keepers.start(&BETA);
    let (alpha_replica, _) = wait_replica_in(&sb, &ALPHA, Duration::from_secs(40), None).await;
    let (beta_replica, _) = wait_replica_in(&sb, &BETA, Duration::from_secs(40), None).await;
    eprintln!("alpha's replica: {alpha_replica}, beta's: {beta_replica}");
    assert_eq!(ignored_domains(&sb, &alpha_replica).await, "1, 10");
    assert_eq!(ignored_domains(&sb, &beta_replica).await, "2, 20");
    let all: Vec<&str> = ALPHA.iter().chain(BETA.iter()).copied().collect();
    // Beta applied alpha's `app` schema through the link.
    wait_count(&g, &all, 0, Duration::from_secs(30)).await;

    // 2. Writes on both sides at once.
    let alpha_next = Arc::new(AtomicU64::new(1));
    let beta_next = Arc::new(AtomicU64::new(BETA_IDS + 1));
    let writer = |node: &str, next: &Arc<AtomicU64>| Writer::start(&sb, node, next.clone());
    let alpha_writer_on = ALPHA.iter().find(|n| **n != alpha_replica).unwrap();
    let beta_writer_on = BETA.iter().find(|n| **n != beta_replica).unwrap();
    let (wa, wb) = (
        writer(alpha_writer_on, &alpha_next),
        writer(beta_writer_on, &beta_next),
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (la, lb) = (wa.stop().await, wb.stop().await);
    let total = |la: u64, lb: u64| la + (lb - BETA_IDS);
    wait_count(&g, &all, total(la, lb), Duration::from_secs(30)).await;
    eprintln!("both sides wrote: {} rows on all six nodes", total(la, lb));

    // 3. Both replicas killed (host dead: keeper too) while both sides write elsewhere.
    let (wa, wb) = (
        writer(alpha_writer_on, &alpha_next),
        writer(beta_writer_on, &beta_next),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed_at = Instant::now();
    for node in [&alpha_replica, &beta_replica] {
        keepers.stop(node).await;
        sb.kill_node(node).await.unwrap();
    }
    let (alpha_next_replica, _) =
        wait_replica_in(&sb, &ALPHA, Duration::from_secs(60), Some(&alpha_replica)).await;
    let (beta_next_replica, _) =
        wait_replica_in(&sb, &BETA, Duration::from_secs(60), Some(&beta_replica)).await;
    eprintln!(
        "failover: alpha {alpha_replica} → {alpha_next_replica}, beta {beta_replica} → \
         {beta_next_replica}, both within {:.1} s",
        killed_at.elapsed().as_secs_f64()
    );
    assert!(killed_at.elapsed() < Duration::from_secs(60));
    keepers.wait_events(EventKind::Failover, 2).await;
    assert_eq!(ignored_domains(&sb, &alpha_next_replica).await, "1, 10");
    assert_eq!(ignored_domains(&sb, &beta_next_replica).await, "2, 20");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (la, lb) = (wa.stop().await, wb.stop().await);
    let survivors: Vec<&str> = all
        .iter()
        .copied()
        .filter(|n| *n != alpha_replica && *n != beta_replica)
        .collect();
    wait_count(&g, &survivors, total(la, lb), Duration::from_secs(40)).await;
    eprintln!(
        "after the failovers: {} rows, each once, on the four survivors",
        total(la, lb)
    );

    keepers.stop_all().await;
    for sampler in samplers {
        let violations = sampler.stop().await;
        assert!(
            violations.is_empty(),
            "two replicas at once: {violations:?}"
        );
    }
}
