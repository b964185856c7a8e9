//! The link keeper on two real Galera clusters of three nodes (alpha replicates to beta), one
//! keeper per node in this process, with short timings (1 s rounds, 6 s heartbeat timeout,
//! 4 s per master attempt, 10 s cool-down). One scenario walks through every case in order,
//! because each pair of clusters costs ~20 s to start:
//!
//! 1. the lease: two nodes taking it at the same instant, 20 times: exactly one wins each time;
//! 2. three keepers started at the same instant, three times: exactly one beta node replicates,
//!    and writes on alpha reach every beta node;
//!    then an apply error that comes back (beta's data differs): the replica re-attaches
//!    once, gives up as `Failed`, every node in turn; once the data is mended, it resumes;
//! 3. kill -9 of the replicating node while alpha takes writes: another node takes over within
//!    the bound; every row arrives once, and the GTID positions agree;
//! 4. kill -9 of the remote master: the replica moves to another master;
//! 5. every remote master down: `Failed`, then recovery after the cool-down once alpha is back;
//! 6. a node made to replicate by hand next to the replica is stopped (two replicas fixed);
//! 7. the replica cut off from its cluster (non-Primary) stops replicating, another takes over.
//!
//! All along, a sampler reads every beta node's replication threads every 150 ms and fails
//! the test if two ever run at once (except in step 6, which makes two on purpose).

#![allow(clippy::unwrap_used, clippy::print_stderr)]

#[path = "shared/keepers.rs"]
mod keepers;

use keepers::*;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::replication::{self, Source};
use ferryman_db::topology::SlaveStatus;
use ferryman_db::Session;
use ferryman_galera::tables::{Member, Tables};
use ferryman_galera::EventKind;
use ferryman_sandbox::galera::{GaleraOptions, GaleraSandbox};
use ferryman_sandbox::testing::TestGalera;

const ALPHA: [&str; 3] = ["a1", "a2", "a3"];
const BETA: [&str; 3] = ["b1", "b2", "b3"];

/// Beta's node `host` in the tables.
fn member(host: &str) -> Member<'_> {
    Member {
        cluster: "beta",
        host,
    }
}

/// Beta nodes whose replication runs.
async fn replicating(g: &GaleraSandbox) -> Vec<String> {
    replicating_in(g, &BETA).await
}

/// The single beta node that replicates and receives, once there is exactly one.
async fn wait_replica(
    g: &GaleraSandbox,
    within: Duration,
    not: Option<&str>,
) -> (String, SlaveStatus) {
    wait_replica_in(g, &BETA, within, not).await
}

/// Waits until `node` has applied exactly alpha's binlog in alpha's domain. Alpha's keepers
/// write heartbeats, so alpha's position moves on by itself: the replica's is read first and
/// alpha's after it, so the replica can never be seen ahead (that would be a duplicate or a
/// foreign transaction), and equal means caught up without a gap.
async fn caught_up(g: &TestGalera, node: &str, alpha: &str, within: Duration) {
    let domain = var(g, alpha, "SELECT CAST(@@wsrep_gtid_domain_id AS CHAR)").await;
    let started = Instant::now();
    loop {
        let slave_pos = var(g, node, "SELECT @@gtid_slave_pos").await;
        let alpha_pos = var(g, alpha, "SELECT @@gtid_binlog_pos").await;
        let (ours, theirs) = (seqno(&slave_pos, &domain), seqno(&alpha_pos, &domain));
        assert!(
            ours <= theirs,
            "{node}: gtid_slave_pos {slave_pos} is ahead of alpha's binlog {alpha_pos}"
        );
        if ours == theirs {
            return;
        }
        assert!(
            started.elapsed() < within,
            "{node}: gtid_slave_pos {slave_pos}, alpha's binlog {alpha_pos}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The alpha node serving `master` (`127.0.0.1:PORT`).
fn alpha_at(g: &GaleraSandbox, master: &str) -> String {
    let port: u16 = master.rsplit(':').next().unwrap().parse().unwrap();
    ALPHA
        .iter()
        .find(|n| g.node(n).unwrap().1.port == port)
        .unwrap_or_else(|| panic!("no alpha node at {master}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_beta_node_replicates_from_alpha_through_every_failure() {
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
    let config = fast_config(&g);
    let link = config.cluster("beta").unwrap().galera_link.clone().unwrap();
    let tables = Tables::new(&link);

    // 1. The lease: b2 and b3 read it, then both take it at the same instant.
    {
        let (ep2, ep3) = (sb.endpoint("b2").unwrap(), sb.endpoint("b3").unwrap());
        let mut c2 = ep2.connect(Session::Plain).await.unwrap();
        let mut c3 = ep3.connect(Session::Plain).await.unwrap();
        tables.ensure(&ep2, &mut c2).await.unwrap();
        // As the keeper does: reads see every commit of the cluster (the other node's release).
        for c in [&mut c2, &mut c3] {
            c.query_drop("SET SESSION wsrep_sync_wait = 1")
                .await
                .unwrap();
        }
        for node in ["b2", "b3"] {
            let ep = sb.endpoint(node).unwrap();
            let mut c = ep.connect(Session::Plain).await.unwrap();
            tables
                .heartbeat(&ep, &mut c, member(node), 0)
                .await
                .unwrap();
        }
        let mut winners = HashMap::new();
        for round in 0..20 {
            let l2 = tables.lease(&ep2, &mut c2, "beta").await.unwrap();
            let l3 = tables.lease(&ep3, &mut c3, "beta").await.unwrap();
            assert_eq!(
                (l2.term, l2.owner.clone()),
                (l3.term, None),
                "round {round}"
            );
            let (w2, w3) = tokio::join!(
                tables.take_lease(&ep2, &mut c2, member("b2"), &l2, 60),
                tables.take_lease(&ep3, &mut c3, member("b3"), &l3, 60),
            );
            let (w2, w3) = (w2.unwrap(), w3.unwrap());
            assert!(w2 ^ w3, "round {round}: b2 won {w2}, b3 won {w3}");
            let (winner, ep, c) = if w2 {
                ("b2", &ep2, &mut c2)
            } else {
                ("b3", &ep3, &mut c3)
            };
            *winners.entry(winner).or_insert(0) += 1;
            tables
                .release(ep, c, member(winner), l2.term + 1)
                .await
                .unwrap();
        }
        eprintln!("lease races: {winners:?}");
        g.sql(
            "b1",
            "DELETE FROM percona.replication_lease; DELETE FROM percona.replication",
        )
        .await;
    }

    // 2. Three keepers per cluster started at the same instant, three times.
    let sampler = Sampler::start_in(&sb, &BETA);
    let mut keepers = Keepers::new(config.clone());
    keepers.start(&ALPHA);
    for attempt in 0..3 {
        keepers.start(&BETA);
        let (replica, status) = wait_replica(&sb, Duration::from_secs(30), None).await;
        eprintln!(
            "simultaneous start {attempt}: {replica} replicates from port {}",
            status.master_port
        );
        // The first remote master of the list serves, and the elected node has the lowest
        // wsrep_local_index.
        assert_eq!(status.master_port, sb.node("a1").unwrap().1.port);
        let mut lowest = (i64::MAX, String::new());
        for node in BETA {
            let rows = g.sql(node, "SHOW STATUS LIKE 'wsrep_local_index'").await;
            let (_, index): (String, String) = ferryman_db::mysql_async::from_row(rows[0].clone());
            lowest = lowest.min((index.parse().unwrap(), node.to_owned()));
        }
        assert_eq!(
            replica, lowest.1,
            "elected {replica}, lowest index {lowest:?}"
        );
        if attempt < 2 {
            for node in BETA {
                keepers.stop(node).await;
            }
            for node in BETA {
                g.sql(node, "STOP SLAVE; RESET SLAVE ALL").await;
            }
            g.sql("b1", "DELETE FROM percona.replication_lease WHERE cluster = 'beta'; DELETE FROM percona.replication WHERE cluster = 'beta'")
                .await;
        }
    }
    keepers.wait_events(EventKind::NewReplica, 3).await;
    let next = Arc::new(AtomicU64::new(1));
    let writer = Writer::start(&sb, "a2", next.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let last = writer.stop().await;
    wait_count(&g, &BETA, last, Duration::from_secs(20)).await;

    // 2b. An apply error that comes back (beta's data differs from alpha's): the replica
    // re-attaches once, then gives up as Failed, and so does every node in turn; once a DBA
    // mends the data, the link resumes after the cool-down.
    let (replica, _) = wait_replica(&sb, Duration::from_secs(10), None).await;
    g.sql(&replica, "DELETE FROM app.t WHERE id = 1").await;
    g.sql("a2", "UPDATE app.t SET v = 'changed' WHERE id = 1")
        .await;
    let broke_at = Instant::now();
    loop {
        let failed = keepers.events(EventKind::Failed);
        if failed
            .iter()
            .any(|e| e.detail.contains("the SQL thread stopped"))
        {
            break;
        }
        assert!(
            broke_at.elapsed() < Duration::from_secs(30),
            "no Failed for the apply error: {failed:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    g.sql(&replica, "INSERT INTO app.t (id, v) VALUES (1, 'row 1')")
        .await;
    let (replica, _) = wait_replica(&sb, Duration::from_secs(60), None).await;
    eprintln!(
        "apply error: Failed, data mended, {replica} replicates after {:.1} s",
        broke_at.elapsed().as_secs_f64()
    );
    let writer = Writer::start(&sb, "a2", next.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let last = writer.stop().await;
    wait_count(&g, &BETA, last, Duration::from_secs(30)).await;
    for node in BETA {
        assert_eq!(
            var(&g, node, "SELECT v FROM app.t WHERE id = 1").await,
            "changed",
            "{node}"
        );
    }

    // 3. kill -9 the replicating node (and its keeper: the host died) under writes.
    let (replica, _) = wait_replica(&sb, Duration::from_secs(10), None).await;
    let writer = Writer::start(&sb, "a3", next.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed_at = Instant::now();
    keepers.stop(&replica).await;
    sb.kill_node(&replica).await.unwrap();
    let (successor, _) = wait_replica(&sb, Duration::from_secs(40), Some(&replica)).await;
    let failover = killed_at.elapsed();
    eprintln!(
        "failover: {replica} killed, {successor} replicates after {:.1} s",
        failover.as_secs_f64()
    );
    assert!(
        failover < Duration::from_secs(30),
        "failover took {failover:?}"
    );
    let took_over = keepers.wait_events(EventKind::Failover, 1).await;
    assert!(
        took_over
            .iter()
            .any(|e| e.host == successor && e.detail.contains(&replica)),
        "{took_over:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let last = writer.stop().await;
    let survivors: Vec<&str> = BETA.iter().copied().filter(|n| *n != replica).collect();
    wait_count(&g, &survivors, last, Duration::from_secs(30)).await;
    for node in &survivors {
        caught_up(&g, node, "a3", Duration::from_secs(20)).await;
    }
    // The dead node comes back: it rejoins, and does not replicate (the link is held).
    sb.start_node(&replica).await.unwrap();
    keepers.start(&[replica.as_str()]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(replicating(&sb).await, vec![successor.clone()]);
    wait_count(&g, &[replica.as_str()], last, Duration::from_secs(20)).await;

    // 4. kill -9 the remote master: the replica moves to another one.
    let status = slave(&sb, &successor).await.unwrap();
    let master = alpha_at(&sb, &format!("127.0.0.1:{}", status.master_port));
    keepers.stop(&master).await;
    sb.kill_node(&master).await.unwrap();
    let moved_at = Instant::now();
    let (replica, status) = loop {
        let (r, s) = wait_replica(&sb, Duration::from_secs(40), None).await;
        if s.master_port != sb.node(&master).unwrap().1.port {
            break (r, s);
        }
        assert!(
            moved_at.elapsed() < Duration::from_secs(40),
            "still on {master}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    eprintln!(
        "master {master} killed: {replica} replicates from port {} after {:.1} s",
        status.master_port,
        moved_at.elapsed().as_secs_f64()
    );
    keepers.wait_events(EventKind::MasterChanged, 1).await;
    let alive: Vec<&str> = ALPHA.iter().copied().filter(|n| *n != master).collect();
    let writer = Writer::start(&sb, alive[0], next.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let last = writer.stop().await;
    wait_count(&g, &BETA, last, Duration::from_secs(30)).await;

    // 5. Every remote master down: Failed, then back after the cool-down.
    for node in &alive {
        keepers.stop(node).await;
    }
    for node in &alive {
        sb.stop_node(node).await.unwrap();
    }
    let down_at = Instant::now();
    loop {
        let failed = keepers.events(EventKind::Failed);
        if !failed.is_empty() && replicating(&sb).await.is_empty() {
            eprintln!(
                "all masters down: {} after {:.1} s",
                failed[0].detail,
                down_at.elapsed().as_secs_f64()
            );
            break;
        }
        assert!(
            down_at.elapsed() < Duration::from_secs(40),
            "no Failed: {failed:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let options = GaleraOptions {
        nodes: 3,
        clusters: 2,
        link: false,
        master_master: false,
        ferryman_bin: None,
    };
    GaleraSandbox::up(&g.path(), &options).await.unwrap();
    keepers.start(&ALPHA);
    let back_at = Instant::now();
    let (replica, _) = wait_replica(&sb, Duration::from_secs(60), None).await;
    eprintln!(
        "alpha back: {replica} replicates after {:.1} s",
        back_at.elapsed().as_secs_f64()
    );
    let writer = Writer::start(&sb, "a1", next.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let last = writer.stop().await;
    wait_count(&g, &BETA, last, Duration::from_secs(30)).await;
    let violations = sampler.stop().await;
    assert!(
        violations.is_empty(),
        "two beta nodes replicated at once: {violations:?}"
    );

    // 6. A second replica started by hand is stopped by its own keeper.
    let standby = BETA.iter().find(|n| **n != replica).unwrap();
    {
        let ep = sb.endpoint(standby).unwrap();
        let mut c = ep.connect(Session::Plain).await.unwrap();
        let (_, a1) = sb.node("a1").unwrap();
        replication::change_master(
            &ep,
            &mut c,
            &Source {
                host: "127.0.0.1",
                port: a1.port,
                user: "repl",
                password: sb.passwords().repl.expose_secret(),
                connect_retry_s: 1,
                ssl: None,
                ignore_domain_ids: None,
            },
        )
        .await
        .unwrap();
        replication::start(&ep, &mut c).await.unwrap();
    }
    let started = Instant::now();
    while slave(&sb, standby).await.is_some() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{standby} still replicates"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(keepers
        .wait_events(EventKind::TwoReplicasFixed, 1)
        .await
        .iter()
        .any(|e| e.host == *standby));
    // The second replica's short life may have applied a transaction the replica then
    // applied again (an apply error on it): it re-attaches from gtid_slave_pos by itself.
    let started = Instant::now();
    while replicating(&sb).await != vec![replica.clone()] {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{replica} does not replicate alone"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // 7. The replica cut off from its cluster stops at once; another node takes over.
    let ep = sb.endpoint(&replica).unwrap();
    let mut c = ep.connect(Session::Plain).await.unwrap();
    c.query_drop("SET GLOBAL wsrep_provider_options = 'gmcast.isolate = 1'")
        .await
        .unwrap();
    let cut_at = Instant::now();
    let (successor, _) = wait_replica(&sb, Duration::from_secs(40), Some(&replica)).await;
    while slave(&sb, &replica).await.is_some() {
        assert!(
            cut_at.elapsed() < Duration::from_secs(20),
            "{replica} still replicates"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "{replica} cut off: stopped; {successor} replicates after {:.1} s",
        cut_at.elapsed().as_secs_f64()
    );
    assert!(keepers
        .wait_events(EventKind::LeftCluster, 1)
        .await
        .iter()
        .any(|e| e.host == replica));
    c.query_drop("SET GLOBAL wsrep_provider_options = 'gmcast.isolate = 0'")
        .await
        .unwrap();
    let _ = c.disconnect().await;

    // The events table tells the story too.
    let ep = sb.endpoint(&successor).unwrap();
    let mut c = ep.connect(Session::Plain).await.unwrap();
    let kinds: Vec<String> = tables
        .events(&ep, &mut c, "beta", 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for kind in [
        "new-replica",
        "failover",
        "master-changed",
        "failed",
        "two-replicas-fixed",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} not in {kinds:?}");
    }
    keepers.stop_all().await;
}

#[test]
fn gtid_seqno_of_a_domain() {
    assert_eq!(seqno("10-101-57,1-11-3", "10"), Some(57));
    assert_eq!(seqno("1-11-3, 10-101-57", "10"), Some(57));
    assert_eq!(seqno("1-11-3", "10"), None);
}
