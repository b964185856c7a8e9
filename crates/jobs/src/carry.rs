//! Carrying a server's jobs across a reseed.
//!
//! The jobs table lives in the server's datadir, and a reseed replaces the datadir with a
//! restored backup of another server (or of this one, older). The restored table holds the
//! donor's rows, which are not this server's work: run here, a pending `stop` of the donor
//! would stop this server. So the joiner reads this server's rows before it stops the server
//! ([`JobsConn::all`]) and, once the server runs on the new datadir, puts exactly those rows
//! back ([`JobsConn::replace_all`]), the reseed's own claimed row among them, so that its
//! progress, cancellation and outcome keep working.

use crate::conn::JobsConn;
use crate::job::Job;
use crate::table::{ALL, DELETE_ALL, INSERT_ROW};
use crate::Result;

impl JobsConn {
    /// Every row of the table, oldest first.
    pub async fn all(&mut self) -> Result<Vec<Job>> {
        self.jobs(ALL, (), || "read every job".to_owned()).await
    }

    /// Replaces every row of the table with `rows`, ids and every column as given, in one
    /// transaction: either the table holds exactly `rows` afterwards, or it is unchanged.
    /// `AUTO_INCREMENT` then continues after the largest id, so new jobs never reuse one.
    pub async fn replace_all(&mut self, rows: &[Job]) -> Result<()> {
        self.exec(&["START TRANSACTION"], (), || {
            "start a transaction on the jobs table".to_owned()
        })
        .await?;
        let done = self.replace_in_transaction(rows).await;
        let end = if done.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = self
            .exec(&[end], (), || format!("end the transaction ({end})"))
            .await;
        done?;
        ended.map(|_| ())
    }

    async fn replace_in_transaction(&mut self, rows: &[Job]) -> Result<()> {
        self.exec(&[DELETE_ALL], (), || "remove the restored jobs".to_owned())
            .await?;
        for job in rows {
            let id = job.id;
            let params: Vec<ferryman_db::mysql_async::Value> = vec![
                job.id.0.into(),
                job.task.clone().into(),
                job.port.into(),
                job.server.clone().into(),
                i64::from(job.done).into(),
                job.result.clone().into(),
                job.start.clone().into(),
                job.end.clone().into(),
                job.outcome.clone().into(),
                job.token.as_ref().map(|t| t.expose().to_owned()).into(),
                job.params.clone().into(),
                job.progress.clone().into(),
                job.claimed_by.clone().into(),
                job.heartbeat.clone().into(),
            ];
            self.exec(&[INSERT_ROW], params, || format!("put back job {id}"))
                .await?;
        }
        Ok(())
    }
}
