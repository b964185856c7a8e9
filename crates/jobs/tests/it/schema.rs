//! The DDL: the reference layout, idempotence, legacy tables, and what we refuse.

use std::time::Duration;

use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::mysql_async::Conn;
use ferryman_db::Session;
use ferryman_jobs::{Error, JobStatus, Task, Verdict};
use ferryman_sandbox::testing::TestSandbox;

use crate::{legacy_insert, open, raw};

/// `SHOW COLUMNS` of the reference table (reference 000): Field, Type, Null, Key, Default, Extra.
type ReferenceColumn = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
);

const REFERENCE: [ReferenceColumn; 8] = [
    ("id", "int(11)", "NO", "PRI", None, "auto_increment"),
    ("task", "varchar(20)", "YES", "MUL", None, ""),
    ("port", "int(11)", "YES", "", None, ""),
    ("server", "varchar(255)", "YES", "", None, ""),
    ("done", "tinyint(4)", "NO", "", Some("0"), ""),
    ("result", "varchar(1000)", "YES", "", None, ""),
    ("start", "datetime", "YES", "", None, ""),
    ("end", "datetime", "YES", "", None, ""),
];

type ColumnRow = (String, String, String, String, Option<String>, String);

async fn show_columns(raw: &mut Conn, schema: &str) -> Vec<ColumnRow> {
    raw.query(format!("SHOW COLUMNS FROM `{schema}`.jobs"))
        .await
        .unwrap()
}

async fn show_create(raw: &mut Conn, schema: &str) -> String {
    let row: (String, String) = raw
        .query_first(format!("SHOW CREATE TABLE `{schema}`.jobs"))
        .await
        .unwrap()
        .unwrap();
    row.1
}

/// Global DDL counters: they must not move when `ensure` has nothing to do.
async fn ddl_counters(raw: &mut Conn) -> Vec<(String, String)> {
    raw.query(
        "SHOW GLOBAL STATUS WHERE Variable_name IN \
         ('Com_create_db', 'Com_create_table', 'Com_alter_table', 'Com_create_index', 'Com_drop_table')",
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn ensure_twice_is_a_noop_with_the_reference_layout_even_under_a_backup_lock() {
    let sb = TestSandbox::start(0).await;
    let mut raw = raw(&sb).await;
    let mut jobs = open(&sb, "replication_manager_schema").await;

    let first = jobs.ensure().await.unwrap();
    assert!(first.created_schema && first.created_table, "{first:?}");
    assert!(
        first.added_columns.is_empty() && !first.added_task_index,
        "{first:?}"
    );
    let created = show_create(&mut raw, "replication_manager_schema").await;
    println!("{created}");

    let columns = show_columns(&mut raw, "replication_manager_schema").await;
    let reference: Vec<ColumnRow> = REFERENCE
        .iter()
        .map(|(f, t, n, k, d, e)| {
            (
                (*f).into(),
                (*t).into(),
                (*n).into(),
                (*k).into(),
                d.map(Into::into),
                (*e).into(),
            )
        })
        .collect();
    assert_eq!(
        columns[..8],
        reference[..],
        "the 8 reference columns, in order"
    );
    let extras: Vec<&str> = columns[8..].iter().map(|c| c.0.as_str()).collect();
    assert_eq!(
        extras,
        [
            "outcome",
            "token",
            "params",
            "progress",
            "claimed_by",
            "heartbeat",
            "node"
        ]
    );
    for c in &columns[8..] {
        assert_eq!(
            (c.2.as_str(), c.4.as_deref()),
            ("YES", None),
            "{c:?} must be nullable"
        );
    }
    assert!(
        created.contains("ENGINE=InnoDB") && created.contains("CHARSET=utf8mb4"),
        "{created}"
    );

    // A running backup holds BACKUP STAGE BLOCK_DDL (or FLUSH TABLES WITH READ LOCK): then even
    // DDL that would change nothing, like `CREATE DATABASE IF NOT EXISTS` on an existing schema
    // or an `ADD COLUMN IF NOT EXISTS` of an existing column, waits. The second `ensure` must
    // issue none and not block.
    let mut backup = sb
        .endpoint(sb.primary())
        .connect(Session::Plain)
        .await
        .unwrap();
    backup.query_drop("BACKUP STAGE START").await.unwrap();
    backup.query_drop("BACKUP STAGE BLOCK_DDL").await.unwrap();
    let mut probe = sb
        .endpoint(sb.primary())
        .connect(Session::NoBinlog)
        .await
        .unwrap();
    probe
        .query_drop("SET SESSION lock_wait_timeout = 1")
        .await
        .unwrap();
    for noop_ddl in [
        "CREATE DATABASE IF NOT EXISTS replication_manager_schema",
        "ALTER TABLE replication_manager_schema.jobs ADD COLUMN IF NOT EXISTS outcome INT",
    ] {
        let blocked = probe.query_drop(noop_ddl).await.unwrap_err();
        assert!(
            blocked.to_string().contains("Lock wait timeout"),
            "{noop_ddl}: {blocked}"
        );
    }

    let before = ddl_counters(&mut raw).await;
    let second = tokio::time::timeout(Duration::from_secs(20), jobs.ensure())
        .await
        .expect("ensure blocked behind the backup lock")
        .unwrap();
    assert!(second.did_nothing(), "{second:?}");
    assert_eq!(
        second.to_string(),
        "`replication_manager_schema`.`jobs` is up to date: nothing to do"
    );
    assert_eq!(
        ddl_counters(&mut raw).await,
        before,
        "the second ensure ran DDL"
    );
    backup.query_drop("BACKUP STAGE END").await.unwrap();

    assert_eq!(
        show_create(&mut raw, "replication_manager_schema").await,
        created
    );
    assert!(jobs.ensure().await.unwrap().did_nothing());
    jobs.close().await.unwrap();
}

/// replication-manager 2.x's table: the reference columns and an index on `task`, nothing else.
const LEGACY_TABLE: &str = "(id INT(11) NOT NULL AUTO_INCREMENT PRIMARY KEY, task VARCHAR(20), \
     port INT(11), server VARCHAR(255), done TINYINT(4) NOT NULL DEFAULT 0, \
     result VARCHAR(1000), start DATETIME, end DATETIME, KEY idx1 (task, done)) ENGINE=InnoDB";

/// replication-manager 3.x's table (research notes §3.1), with `UNIQUE(task)`.
const REPMAN3_TABLE: &str = "(id INT NOT NULL auto_increment PRIMARY KEY, task VARCHAR(20), \
     port INT, server VARCHAR(255), done TINYINT not null default 0, \
     state tinyint not null default 0, result VARCHAR(1000), start DATETIME, end DATETIME, \
     KEY idx1(task,done), KEY idx2(result(1),task), KEY idx3 (task, state), UNIQUE(task)) \
     engine=innodb";

async fn create(raw: &mut Conn, schema: &str, table: &str) {
    raw.query_drop(format!("CREATE DATABASE `{schema}`"))
        .await
        .unwrap();
    raw.query_drop(format!("CREATE TABLE `{schema}`.jobs {table}"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_legacy_table_is_upgraded_and_a_repman3_table_is_refused() {
    let sb = TestSandbox::start(0).await;
    let mut raw = raw(&sb).await;

    // A 2.x table with a row the 2.x manager inserted.
    create(&mut raw, "legacy", LEGACY_TABLE).await;
    let legacy_row = legacy_insert(&mut raw, "legacy", "mariabackup").await;
    let mut jobs = open(&sb, "legacy").await;
    let report = jobs.ensure().await.unwrap();
    assert!(!report.created_schema && !report.created_table && !report.added_task_index);
    assert_eq!(
        report.added_columns,
        [
            "outcome",
            "token",
            "params",
            "progress",
            "claimed_by",
            "heartbeat",
            "node"
        ]
    );
    assert!(
        report
            .to_string()
            .contains("added column(s) outcome, token"),
        "{report}"
    );
    let columns = show_columns(&mut raw, "legacy").await;
    assert_eq!(columns.len(), 15);
    assert!(jobs.ensure().await.unwrap().did_nothing());

    // The legacy row is found and claimable; its new columns are NULL.
    let found = jobs.find(Task::Mariabackup).await.unwrap().unwrap();
    assert_eq!(found.id, legacy_row);
    assert_eq!(
        (found.port, found.server.as_deref()),
        (Some(4444), Some("127.0.0.1"))
    );
    assert!(found.token.is_none() && found.params.is_none() && found.outcome.is_none());
    assert_eq!(found.status(), JobStatus::Pending);
    let claimed = jobs
        .take(Task::Mariabackup, "agent-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id(), legacy_row);
    claimed
        .finish(&mut jobs, Verdict::Success, "completed OK!")
        .await
        .unwrap();

    // A row we enqueue is what the reference donor script's own SELECT picks.
    let ours = jobs
        .enqueue(Task::Mariabackup, "10.0.0.5", Some(4001), None, None)
        .await
        .unwrap();
    let picked: Option<String> = raw
        .query_first(
            "SELECT concat(id,'@',server,':',port) FROM legacy.jobs WHERE task='mariabackup' \
             and done=0   AND (result is NULL OR result<>'processing') order by id desc limit 1",
        )
        .await
        .unwrap();
    assert_eq!(picked, Some(format!("{ours}@10.0.0.5:4001")));

    // A latin1 legacy table cannot hold every character of a tool's output: the outcome is
    // still recorded, with the text made ASCII, rather than the job left `processing`.
    create(
        &mut raw,
        "latin",
        &format!("{LEGACY_TABLE} DEFAULT CHARSET=latin1"),
    )
    .await;
    let mut latin = open(&sb, "latin").await;
    latin.ensure().await.unwrap();
    let id = latin
        .enqueue(Task::Mariabackup, "127.0.0.1", Some(4000), None, None)
        .await
        .unwrap();
    let claimed = latin
        .take(Task::Mariabackup, "agent")
        .await
        .unwrap()
        .unwrap();
    claimed
        .progress(&mut latin, "🦀 progress is utf8mb4")
        .await
        .unwrap();
    claimed
        .finish(&mut latin, Verdict::Success, "🦀 café completed OK!")
        .await
        .unwrap();
    let row = latin.get(id).await.unwrap();
    assert_eq!(row.result.as_deref(), Some("? caf? completed OK!"));
    assert_eq!(row.progress.as_deref(), Some("🦀 progress is utf8mb4"));
    assert_eq!(
        row.status(),
        JobStatus::Done(ferryman_jobs::Outcome::Success)
    );

    // A table without any index on `task` gets one.
    create(
        &mut raw,
        "noindex",
        "(id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, task VARCHAR(20), port INT, \
         server VARCHAR(255), done TINYINT NOT NULL DEFAULT 0, result VARCHAR(1000), \
         start DATETIME, end DATETIME)",
    )
    .await;
    let report = open(&sb, "noindex").await.ensure().await.unwrap();
    assert!(
        report.added_task_index && report.added_columns.len() == 7,
        "{report:?}"
    );
    assert_eq!(show_columns(&mut raw, "noindex").await[1].3, "MUL");

    // replication-manager 3.x: one row per task cannot hold our history. Nothing is changed.
    create(&mut raw, "repman3", REPMAN3_TABLE).await;
    let before = show_create(&mut raw, "repman3").await;
    let err = open(&sb, "repman3").await.ensure().await.unwrap_err();
    assert!(
        matches!(err, Error::UniqueTaskIndex { ref index, .. } if index == "task"),
        "{err:?}"
    );
    let msg = err.to_string();
    for part in [
        "`repman3`.`jobs` has a UNIQUE index `task` on `task`",
        "replication-manager 3.x",
        "one row per task",
        "`jobs.schema` in ferryman.toml",
        "DROP INDEX `task`",
    ] {
        assert!(msg.contains(part), "{part:?} missing from: {msg}");
    }
    assert_eq!(show_create(&mut raw, "repman3").await, before);

    // Some other table called `jobs`.
    create(&mut raw, "other", "(id INT PRIMARY KEY, name TEXT)").await;
    let err = open(&sb, "other")
        .await
        .ensure()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "is not a jobs table (missing column(s) task, port, server, done, result, start, end)"
        ),
        "{err}"
    );
}
