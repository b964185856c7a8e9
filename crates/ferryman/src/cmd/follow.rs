//! `--wait`: following manager jobs to their end, with a spinner per job.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::client::{typed, ApiArgs, Client, Job};
use crate::output;

/// How often the jobs' states are redrawn. The manager answers a job's read as soon as the job
/// ends (`?wait_ms=`), so an end is seen at once, not at the next redraw.
const REDRAW: Duration = Duration::from_millis(250);

/// Follows `ids` until every one has ended; prints each end (or, with `json`, the job — one
/// object for one job, an array for several). Exit status 0 only when all succeeded.
pub async fn follow(
    client: &Client,
    ids: &[u64],
    api: &ApiArgs,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let progress = output::JobsProgress::new(ids);
    let mut done: Vec<Option<(Job, serde_json::Value)>> = vec![None; ids.len()];
    let wait_ms = REDRAW.as_millis().to_string();
    while done.iter().any(Option::is_none) {
        let round = Instant::now();
        let ended_before = done.iter().filter(|d| d.is_some()).count();
        // One job per round is read with a wait: the round lasts one redraw, or less when
        // that job ends; the others are read as they are.
        let mut waited = false;
        for (slot, id) in done.iter_mut().zip(ids) {
            if slot.is_some() {
                continue;
            }
            let path = format!("/api/v1/jobs/{id}");
            let wait = (!waited).then_some(wait_ms.as_str());
            waited = true;
            let value = match client.get_value(&path, &[("wait_ms", wait)]).await {
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
        // A job that ended ends the round early; otherwise the redraw interval is kept (the
        // manager's wait makes that nothing, unless it is one that does not wait).
        let ended_now = done.iter().filter(|d| d.is_some()).count();
        if done.iter().any(Option::is_none) && ended_now == ended_before {
            tokio::time::sleep(REDRAW.saturating_sub(round.elapsed())).await;
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
