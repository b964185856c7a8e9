//! Integration tests of the jobs-table protocol on real MariaDB servers (sandbox fixture).
//!
//! Each test function starts its own sandbox; most need only a primary.

// Helpers outside `#[test]` functions: a failed unwrap is a failed test, with its reason.
#![allow(clippy::unwrap_used)]

mod binlog;
mod carry;
mod claim;
mod outcome;
mod roundtrip;
mod schema;
mod supersede;

use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::mysql_async::Conn;
use ferryman_db::Connection;
use ferryman_db::Session;
use ferryman_jobs::{Job, JobId, JobsConn, Schema};
use ferryman_sandbox::testing::TestSandbox;

/// A jobs session on the sandbox's primary for `schema`, with the table ensured.
pub async fn jobs(sb: &TestSandbox, schema: &str) -> JobsConn {
    let mut conn = open(sb, schema).await;
    conn.ensure().await.unwrap();
    conn
}

/// A jobs session on the sandbox's primary for `schema`, nothing ensured.
pub async fn open(sb: &TestSandbox, schema: &str) -> JobsConn {
    JobsConn::open(&sb.endpoint(sb.primary()), &Schema::new(schema).unwrap())
        .await
        .unwrap()
}

/// A raw session on the primary, not binlogged, for what legacy writers do behind our back.
pub async fn raw(sb: &TestSandbox) -> Connection {
    sb.endpoint(sb.primary())
        .connect(Session::NoBinlog)
        .await
        .unwrap()
}

/// Inserts a row the way replication-manager 2.x and its scripts do (named legacy columns).
pub async fn legacy_insert(raw: &mut Conn, schema: &str, task: &str) -> JobId {
    raw.exec_drop(
        format!(
            "INSERT INTO `{schema}`.jobs(task, port, server, done, start) \
             VALUES (?, 4444, '127.0.0.1', 0, NOW())"
        ),
        (task,),
    )
    .await
    .unwrap();
    JobId(raw.last_insert_id().unwrap())
}

/// Reads a job that must exist.
pub async fn get(conn: &mut JobsConn, id: JobId) -> Job {
    conn.get(id).await.unwrap()
}
