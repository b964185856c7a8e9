//! Galera sandboxes on real `mariadbd` nodes (needs mariadb-server, galera-4, rsync and socat,
//! which `make deps` installs): two linked clusters, a crashed node rejoining, a full-cluster
//! restart, and nothing left running afterwards.

use std::time::{Duration, Instant};

use ferryman_exec::process;
use ferryman_sandbox::testing::TestGalera;
use ferryman_sandbox::{Error, GaleraOptions, GaleraSandbox};

/// Polls `probe` every 100 ms until it returns `Some`, for at most `seconds`.
async fn eventually<T, F, Fut>(what: &str, seconds: u64, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {seconds} s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One text value from `sql` on `node`, `None` on any error (the node may not be ready).
async fn value(g: &GaleraSandbox, node: &str, sql: &str) -> Option<String> {
    use ferryman_db::mysql_async::prelude::Queryable;
    let ep = g.endpoint(node).ok()?;
    let mut conn = ep.connect(ferryman_db::Session::Plain).await.ok()?;
    let v: Option<String> = conn.query_first(sql).await.ok()?;
    let _ = conn.disconnect().await;
    v
}

/// PIDs of every `mariadbd` whose command line names `dir`.
fn mariadbds_naming(dir: &std::path::Path) -> Vec<u32> {
    let dir = dir.display().to_string();
    std::fs::read_dir("/proc")
        .expect("list /proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            let cmd = process::cmdline(pid);
            cmd.contains("mariadbd") && cmd.contains(&dir) && process::is_running(pid)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_linked_clusters_replicate_a_killed_node_rejoins_and_destroy_leaves_nothing() {
    let started = Instant::now();
    let g = TestGalera::start(&GaleraOptions {
        nodes: 2,
        clusters: 2,
        link: true,
        master_master: false,
        ferryman_bin: None,
    })
    .await;
    println!(
        "2 clusters of 2 nodes up and linked in {:.1?}",
        started.elapsed()
    );

    let reports = g.status().await;
    assert!(reports.iter().all(|r| r.synced()), "{reports:#?}");
    for r in &reports {
        let galera = r.galera.as_ref().unwrap();
        assert_eq!(galera.cluster_size, 2, "{r:?}");
    }
    let a1_port = g.node("a1").unwrap().1.port;
    let b1 = reports.iter().find(|r| r.name == "b1").unwrap();
    let link = b1.replication.as_ref().expect("b1 replicates");
    assert!(link.receiving(), "{link:?}");
    assert_eq!(
        (link.master_port, link.using_gtid.as_str()),
        (a1_port, "Slave_Pos")
    );
    for r in reports.iter().filter(|r| r.name != "b1") {
        assert!(r.replication.is_none(), "{r:?}");
    }

    // A write on alpha crosses the link and beta's Galera replication.
    g.sql(
        "a1",
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20)); \
         INSERT INTO app.t VALUES (1, 'from a1')",
    )
    .await;
    let v = eventually("the row on b2", 30, || {
        value(&g, "b2", "SELECT v FROM app.t WHERE id = 1")
    })
    .await;
    assert_eq!(v, "from a1");
    let a1_pos = value(&g, "a1", "SELECT @@gtid_binlog_pos").await.unwrap();
    eventually("equal GTID positions on beta", 10, || async {
        let b1 = value(&g, "b1", "SELECT @@gtid_binlog_pos").await?;
        let b2 = value(&g, "b2", "SELECT @@gtid_binlog_pos").await?;
        // alpha's transactions keep their GTIDs (domain 10) on beta
        (b1 == b2 && b1.contains(&a1_pos)).then_some(())
    })
    .await;

    // The state reopens, and the configuration names both clusters.
    let reopened = GaleraSandbox::open(&g.path()).unwrap();
    assert_eq!(reopened.state(), g.state());
    let config = g.config();
    assert_eq!(config.server("b2").unwrap().0.name, "beta");
    assert_eq!(config.server("a2").unwrap().0.name, "alpha");

    // kill -9 a2: once Galera notices (~6 s), a1 is alone, without quorum. Restarting a2
    // before that works too, but takes longer (~16 s): a1 must first evict the old a2.
    let old = g.pid("a2").unwrap();
    let killed = Instant::now();
    g.kill_node("a2").await.unwrap();
    assert!(!process::is_running(old));
    assert_eq!(g.pid("a2"), None);
    let a1_galera = || async {
        let reports = g.status().await;
        reports.into_iter().find(|r| r.name == "a1")?.galera
    };
    eventually("a1 alone", 30, || async {
        a1_galera().await.filter(|s| s.cluster_size == 1)
    })
    .await;
    println!("a1 noticed a2's crash in {:.1?}", killed.elapsed());
    // Started again, a2 rejoins (IST) and alpha has 2 members again.
    let rejoin = Instant::now();
    let pid = g.start_node("a2").await.unwrap();
    assert_ne!(pid, old);
    eventually("a1 with 2 members", 30, || async {
        a1_galera()
            .await
            .filter(|s| s.cluster_size == 2 && s.cluster_status == "Primary")
    })
    .await;
    println!("a2 rejoined in {:.1?}", rejoin.elapsed());
    assert_eq!(
        value(&g, "a2", "SELECT v FROM app.t WHERE id = 1")
            .await
            .as_deref(),
        Some("from a1")
    );

    let dir = g.path();
    let destroyed = Instant::now();
    GaleraSandbox::clone(&g).destroy().await.unwrap();
    println!("destroyed in {:.1?}", destroyed.elapsed());
    assert!(!dir.exists());
    assert_eq!(mariadbds_naming(&dir), Vec::<u32>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_of_three_restarts_whole_from_its_last_node() {
    let options = GaleraOptions {
        nodes: 3,
        clusters: 1,
        link: true,
        master_master: false,
        ferryman_bin: None,
    };
    let started = Instant::now();
    let g = TestGalera::start(&options).await;
    println!("1 cluster of 3 nodes up in {:.1?}", started.elapsed());
    assert_eq!(g.clusters().len(), 1);
    g.sql(
        "a2",
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20)); \
         INSERT INTO app.t VALUES (1, 'before down')",
    )
    .await;

    let down = Instant::now();
    g.down().await.unwrap();
    println!("down in {:.1?}", down.elapsed());
    for n in ["a1", "a2", "a3"] {
        assert_eq!(g.pid(n), None, "{n} still runs");
    }
    // The nodes stop in order: a3 left last, so only it may bootstrap the cluster.
    let grastate =
        std::fs::read_to_string(g.layout().server("a3").datadir().join("grastate.dat")).unwrap();
    assert!(grastate.contains("safe_to_bootstrap: 1"), "{grastate}");
    let refused = g.start_node("a1").await.unwrap_err();
    assert!(
        matches!(&refused, Error::BootstrapElsewhere { better, .. } if better == "a3"),
        "{refused}"
    );
    assert_eq!(g.pid("a1"), None);

    let again = Instant::now();
    let up = GaleraSandbox::up(&g.path(), &options).await.unwrap();
    println!("restarted whole in {:.1?}", again.elapsed());
    let reports = up.status().await;
    assert!(reports.iter().all(|r| r.synced()), "{reports:#?}");
    assert!(
        reports
            .iter()
            .all(|r| r.galera.as_ref().unwrap().cluster_size == 3),
        "{reports:#?}"
    );
    for n in ["a1", "a2", "a3"] {
        assert_eq!(
            value(&up, n, "SELECT v FROM app.t WHERE id = 1")
                .await
                .as_deref(),
            Some("before down"),
            "{n}"
        );
    }
    let mismatch = GaleraSandbox::up(
        &g.path(),
        &GaleraOptions {
            nodes: 2,
            ..options.clone()
        },
    )
    .await
    .unwrap_err();
    assert!(
        mismatch
            .to_string()
            .contains("has 1 cluster(s) of 3 node(s), not 1 cluster(s) of 2"),
        "{mismatch}"
    );
}
