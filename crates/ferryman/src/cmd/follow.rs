//! `--wait`: following manager jobs to their end, with a spinner per job.

use std::process::ExitCode;
use std::time::Duration;

use crate::client::{typed, ApiArgs, Client, Job};
use crate::output;

/// How often the jobs' states are read.
const POLL: Duration = Duration::from_millis(250);

/// Polls `ids` until every one has ended; prints each end (or, with `json`, the job — one
/// object for one job, an array for several). Exit status 0 only when all succeeded.
pub async fn follow(
    client: &Client,
    ids: &[u64],
    api: &ApiArgs,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let progress = output::JobsProgress::new(ids);
    let mut done: Vec<Option<(Job, serde_json::Value)>> = vec![None; ids.len()];
    while done.iter().any(Option::is_none) {
        for (slot, id) in done.iter_mut().zip(ids) {
            if slot.is_some() {
                continue;
            }
            let path = format!("/api/v1/jobs/{id}");
            let value = match client.get_value(&path, &[]).await {
                Ok(value) => value,
                Err(e) => {
                    progress.clear();
                    return Err(e.context(format!(
                        "lost track of job {id}, which may still run: see `ferryman jobs show --config {} {id}`",
                        api.config.display()
                    )));
                }
            };
            let job: Job = typed(value.clone(), &path)?;
            progress.update(&job);
            if job.is_final() {
                *slot = Some((job, value));
            }
        }
        if done.iter().any(Option::is_none) {
            tokio::time::sleep(POLL).await;
        }
    }
    progress.clear();
    let done: Vec<(Job, serde_json::Value)> = done.into_iter().flatten().collect();
    if json {
        match done.as_slice() {
            [(_, value)] => output::json(value)?,
            many => output::json(&serde_json::Value::Array(
                many.iter().map(|(_, v)| v.clone()).collect(),
            ))?,
        }
    } else {
        for (job, _) in &done {
            output::job_finished(job);
        }
    }
    Ok(if done.iter().all(|(j, _)| j.state == "succeeded") {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
