//! One payload for every joiner of a reseed: the joiners made ready together, the payload
//! read once and written to each, a joiner that fails dropped without stopping the others,
//! then each followed to its end. A `logicalmaster` payload is the primary's dump, a
//! `snapshot` payload a donor replica's snapshot, passed on as it arrives; a flashback to a point's is a copy made on the manager first (`point.rs`).

use std::time::Instant;

use ferryman_config::{ClusterConfig, ServerConfig};
use ferryman_proto::{FrameWriter, ReseedParams, Task};
use ferryman_repo::Manifest;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tracing::Instrument;

use super::joiner::{fail, prepare, Joiner};
use super::payload::{Check, Live, Payload};
use super::point::{self, PointPlan};
use crate::registry::{JobHandle, JobState};
use crate::{Error, Result, Services};

/// Where a reseed's payload comes from.
pub(super) enum Origin {
    /// A stored backup, decompressed; its bytes are checked against the manifest.
    Stored(Box<Manifest>),
    /// A consistent mysqldump of the primary (`logicalmaster`) or a consistent snapshot of a
    /// donor replica (`snapshot`) taken now, through the manager and stored nowhere; `job` is
    /// the donor's own job.
    Live {
        server: Box<ServerConfig>,
        job: JobHandle,
        what: Live,
    },
    /// A copy rolled forward to a point on the manager, streamed by `mariabackup --backup`
    /// (`point.rs`): made before any joiner's row is written, which carries its GTID.
    Point(Box<PointPlan>),
}

/// The whole reseed: joiners ready, payload streamed once to all, each followed to its end.
pub(super) async fn run(
    services: &Services,
    cluster: &ClusterConfig,
    task: Task,
    params: &ReseedParams,
    origin: Origin,
    jobs: &[(ServerConfig, JobHandle)],
) {
    let mut params = params.clone();
    let mut copy = None;
    if let Origin::Point(plan) = &origin {
        let handles: Vec<JobHandle> = jobs.iter().map(|(_, j)| j.clone()).collect();
        match point::build(services, plan, &handles).await {
            Ok((gtid, payload)) => {
                params.gtid = Some(gtid);
                copy = Some(payload);
            }
            Err(e) => {
                for (server, job) in jobs {
                    fail(job, &server.name, task, &e);
                }
                return;
            }
        }
    }
    let params = &params;
    let ready = futures_util::future::join_all(
        jobs.iter()
            .map(|(server, job)| prepare(services, cluster, server, job, task, params)),
    )
    .await;
    let mut joiners: Vec<Joiner<'_>> = Vec::new();
    let mut ports = Vec::new();
    for ((server, job), r) in jobs.iter().zip(ready) {
        match r {
            Ok((joiner, port)) => {
                ports.push(port);
                joiners.push(joiner);
            }
            Err((e, port)) => {
                if let Some(p) = port {
                    ports.push(p);
                }
                fail(job, &server.name, task, &e);
            }
        }
    }
    match origin {
        Origin::Stored(manifest) => {
            if !joiners.is_empty() {
                let payload = Payload::stored(services, *manifest).await;
                stream_and_follow(payload, task, joiners).await;
            }
        }
        Origin::Live { server, job, what } => {
            from_donor(services, cluster, &server, &job, what, task, joiners).await;
        }
        // Without joiners the payload is dropped, which stops the copy's stream and removes
        // its server.
        Origin::Point(_) => {
            if let Some(payload) = copy.filter(|_| !joiners.is_empty()) {
                stream_and_follow(Ok(payload), task, joiners).await;
            }
        }
    }
    for p in ports {
        services.reseeds.give_back(&cluster.name, p);
    }
}

/// Sends `payload` to the joiners, then follows each to its end.
async fn stream_and_follow(payload: Result<Payload>, task: Task, mut joiners: Vec<Joiner<'_>>) {
    let sent = match payload {
        Ok(payload) => send(payload, task, &mut joiners).await,
        Err(e) => Err(e),
    };
    follow_all(sent, task, joiners).await;
}

/// After the payload: every joiner dropped when `sent` failed for all of them, else each one
/// left followed to its end, in its job's span.
async fn follow_all(sent: Result<()>, task: Task, mut joiners: Vec<Joiner<'_>>) {
    if let Err(e) = sent {
        for j in joiners.drain(..) {
            j.drop_with(task, &e).await;
        }
    }
    let follow = joiners.into_iter().map(|j| {
        let span = j.job.span();
        j.follow(task).instrument(span)
    });
    futures_util::future::join_all(follow).await;
}

/// `logicalmaster` and `snapshot`: once the joiners listen, the donor's job (a mysqldump of
/// the primary, a tar of a replica's consistent snapshot) streams to the manager, which passes
/// it on to every joiner as it comes. The donor's own job ends with the stream: succeeded when
/// its agent reported success and every byte was passed on.
async fn from_donor(
    services: &Services,
    cluster: &ClusterConfig,
    source: &ServerConfig,
    donor: &JobHandle,
    what: Live,
    task: Task,
    joiners: Vec<Joiner<'_>>,
) {
    let described = what.describe(&source.name);
    if joiners.is_empty() {
        donor.finish(
            JobState::Cancelled,
            Some(format!("no joiner was ready, so {described} was not taken")),
        );
        return;
    }
    if source.legacy_donor {
        let e = Error::Refused(format!(
            "`{}` is a legacy donor, whose script cannot send {described}{}",
            source.name,
            what.instead()
        ));
        donor.finish(JobState::Failed, Some(e.to_string()));
        stream_and_follow(Err(e), task, joiners).await;
        return;
    }
    let gate =
        match crate::dispatch::open_stream(services, donor, cluster, source, what.task(), false)
            .await
        {
            Ok(gate) => gate,
            Err(e) => {
                let e = Error::Reseed {
                    server: source.name.clone(),
                    detail: format!(
                        "{described} did not start ({e}); nothing was restored: check the agent \
                         on `{}`{}",
                        source.name,
                        what.instead()
                    ),
                };
                donor.finish(JobState::Failed, Some(e.to_string()));
                stream_and_follow(Err(e), task, joiners).await;
                return;
            }
        };
    let (reader, verdict) = gate.open(donor.clone());
    let payload = Payload::live(&source.name, what, reader);
    let streamed = stream_and_follow_donor(payload, task, joiners, donor).await;
    let row = verdict.await.ok().and_then(|v| v.ok());
    if let Some(row) = &row {
        let result = row.result.clone();
        donor.update(|r| r.node_result = result);
    }
    match streamed {
        Ok(()) => donor.finish(JobState::Succeeded, None),
        Err(why) => donor.finish(JobState::Failed, Some(why)),
    }
}

/// [`stream_and_follow`] for a live dump: the donor's job learns whether its stream was
/// passed on whole (before the joiners are followed, which takes minutes).
async fn stream_and_follow_donor(
    payload: Payload,
    task: Task,
    mut joiners: Vec<Joiner<'_>>,
    donor: &JobHandle,
) -> std::result::Result<(), String> {
    let sent = send(payload, task, &mut joiners).await;
    let outcome = match &sent {
        Ok(()) if joiners.is_empty() => {
            Err("every joiner failed, so the stream was abandoned".to_owned())
        }
        Ok(()) => Ok(()),
        Err(e) => Err(e.to_string()),
    };
    match &outcome {
        Ok(()) => donor.phase("passed on to every joiner"),
        Err(why) => donor.phase(why.clone()),
    }
    follow_all(sent, task, joiners).await;
    outcome
}

/// Streams the payload to every joiner; sends the end marker only when the payload is whole
/// and vouched for ([`Check`]). A joiner whose connection fails (or whose job is cancelled)
/// is dropped and failed; the others go on. An error concerns every joiner left.
pub(super) async fn send(
    payload: Payload,
    task: Task,
    joiners: &mut Vec<Joiner<'_>>,
) -> Result<()> {
    let Payload {
        mut chunks,
        producer,
        expected,
        check,
    } = payload;
    // One hash for every joiner, and only when no manifest gives the payload's sha256.
    let mut sha = (!matches!(check, Check::Manifest(_))).then(Sha256::new);
    let mut total = 0u64;
    let started = Instant::now();
    while let Some(chunk) = chunks.recv().await {
        let chunk = chunk.map_err(|e| check.unreadable(e))?;
        if let Some(sha) = sha.as_mut() {
            sha.update(&chunk);
        }
        total += chunk.len() as u64;
        let mut i = 0;
        while i < joiners.len() {
            match joiners[i].write(&chunk).await {
                Ok(()) => {
                    let j = &joiners[i];
                    let sent = j.writer.as_ref().map_or(0, FrameWriter::total);
                    let rate = sent as f64 / started.elapsed().as_secs_f64().max(0.001);
                    j.job.update(|r| {
                        r.bytes = sent;
                        r.phase = match expected {
                            Some(all) => format!(
                                "streaming {} of {} MiB ({:.0} MiB/s)",
                                sent >> 20,
                                all >> 20,
                                rate / 1_048_576.0
                            ),
                            None => format!(
                                "streaming {}: {} MiB ({:.0} MiB/s)",
                                check.what(),
                                sent >> 20,
                                rate / 1_048_576.0
                            ),
                        };
                    });
                    i += 1;
                }
                Err(e) => {
                    let mut j = joiners.remove(i);
                    let reason = j.explain(e).await;
                    j.drop_with(task, &reason).await;
                }
            }
        }
        if joiners.is_empty() {
            break;
        }
    }
    drop(chunks);
    let _ = producer.await;
    if joiners.is_empty() {
        return Ok(());
    }
    let digest = check.trailer_digest(total, sha)?;
    let mut i = 0;
    while i < joiners.len() {
        let j = &mut joiners[i];
        let ended = match j.writer.take() {
            Some(w) => match w.finish_with(digest).await {
                Ok(mut stream) => {
                    // Half-close: everything is sent; the joiner restores from here.
                    let _ = stream.shutdown().await;
                    Ok(())
                }
                Err(e) => Err(Error::Reseed {
                    server: j.server.name.clone(),
                    detail: format!("cannot send the end of the stream: {e}"),
                }),
            },
            None => Ok(()),
        };
        match ended {
            Ok(()) => {
                j.job.phase("payload sent; the joiner restores it");
                i += 1;
            }
            Err(e) => joiners.remove(i).drop_with(task, &e).await,
        }
    }
    Ok(())
}
