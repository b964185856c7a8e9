//! Statements over every table of a restored copy, on several sessions at once.
//!
//! Counting rows and `CHECK TABLE` read each table whole, one core per statement: with one
//! session a verification waits for them table after table while the other cores idle. The
//! tables are cut into batches, and [`SESSIONS`] sessions take the next batch until none is
//! left, so a large table does not hold up the small ones behind it.
//!
//! The first error ends the work: the other sessions are aborted with their tasks (a
//! [`JoinSet`] dropped) and their connections closed by the server.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use ferryman_db::mysql_async::prelude::{FromRow, Queryable};
use ferryman_db::{Endpoint, Session};
use tokio::task::JoinSet;

use crate::postcheck::Table;
use crate::Result;

/// Sessions at once: past the cores of a verifier host the statements only wait for each other.
pub(crate) const SESSIONS: usize = 4;

/// Runs `sql_of(batch)` on each batch of `tables` (at most `batch` tables each, fewer when that
/// gives every session work) and returns each batch with the rows it answered, in no order.
pub(crate) async fn each_batch<T>(
    endpoint: &Endpoint,
    tables: &[Table],
    batch: usize,
    action: &'static str,
    sql_of: fn(&[Table]) -> String,
) -> Result<Vec<(Vec<Table>, Vec<T>)>>
where
    T: FromRow + Send + 'static,
{
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    let per = tables.len().div_ceil(SESSIONS).clamp(1, batch.max(1));
    let queue: VecDeque<Vec<Table>> = tables.chunks(per).map(<[Table]>::to_vec).collect();
    let sessions = SESSIONS.min(queue.len());
    let queue = Arc::new(Mutex::new(queue));
    let mut set = JoinSet::new();
    for _ in 0..sessions {
        let endpoint = endpoint.clone();
        let queue = Arc::clone(&queue);
        set.spawn(async move {
            let mut conn = endpoint.connect(Session::Plain).await?;
            let mut done = Vec::new();
            loop {
                let next = queue
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .pop_front();
                let Some(tables) = next else { break };
                let rows: Vec<T> = conn
                    .query(sql_of(&tables))
                    .await
                    .map_err(|e| endpoint.query_error(action, e))?;
                done.push((tables, rows));
            }
            let _ = conn.disconnect().await;
            Ok::<_, crate::Error>(done)
        });
    }
    let mut out = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(done) => out.extend(done?),
            Err(e) => {
                return Err(crate::Error::Worker(format!(
                    "a session reading the restored tables ended: {e}"
                )))
            }
        }
    }
    Ok(out)
}
