//! Proofs of recoverability run by the manager (`ferryman_repo::proofs` says what one is):
//! per cluster with `binlog-archive`, one every `binlog-archive-proof-interval` (7 days)
//! counted from the last recorded proof, and on demand (`POST …/pitr/prove`, `ferryman pitr
//! prove`). One proof of a cluster at a time; each takes a `[verifier] concurrency` slot, as a
//! verification does, since it restores on a throwaway server too.
//!
//! The result is recorded in the cluster's first repository (`Binlogs/<cluster>/proofs.json`),
//! shown by `pitr status`, and is an event: `proof-failed` (an error: the archive does not
//! carry one backup to the next, or could not be replayed) or `proof-passed`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferryman_config::ClusterConfig;
use ferryman_repo::proofs::{proof_plan, Proof, ProofPlan};
use ferryman_repo::verification::Status;
use ferryman_repo::Timestamp;
use ferryman_verify::proof::{prove, ProofRequest};
use ferryman_verify::throwaway::ThrowawayOptions;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::events::{EventKind, NewEvent, Severity};
use crate::{Error, Result, Services};

/// How often a cluster's schedule looks whether a proof is due, at most.
const LOOK_EVERY: Duration = Duration::from_secs(3600);

/// What the manager knows of a cluster's proofs beyond their record.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ProverStatus {
    /// The proof running now: base → checkpoint, and since when.
    pub running: Option<String>,
    /// Why the last attempt found nothing to prove, when it did not.
    pub not_provable: Option<String>,
    /// The backups the running proof reads (its base and its checkpoint): a deletion on
    /// request waits for its end (`deletion.rs`).
    #[serde(skip)]
    pub reading: Vec<String>,
}

/// The provers' state, per cluster.
#[derive(Debug, Default)]
pub struct Provers {
    state: Mutex<BTreeMap<String, ProverStatus>>,
}

impl Provers {
    /// `cluster`'s status.
    pub fn status(&self, cluster: &str) -> ProverStatus {
        self.with(|m| m.get(cluster).cloned().unwrap_or_default())
    }

    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<String, ProverStatus>) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// What the running proof of `cluster` does, when it reads backup `id`.
    pub fn reading(&self, cluster: &str, id: &str) -> Option<String> {
        self.with(|m| {
            let s = m.get(cluster)?;
            s.reading
                .iter()
                .any(|r| r == id)
                .then(|| s.running.clone())?
        })
    }

    /// Marks a proof of `cluster` running, reading backups `reading`; false when one already
    /// is.
    fn begin(&self, cluster: &str, what: String, reading: Vec<String>) -> bool {
        self.with(|m| {
            let s = m.entry(cluster.to_owned()).or_default();
            if s.running.is_some() {
                return false;
            }
            s.running = Some(what);
            s.reading = reading;
            s.not_provable = None;
            true
        })
    }

    fn end(&self, cluster: &str) {
        self.with(|m| {
            let s = m.entry(cluster.to_owned()).or_default();
            s.running = None;
            s.reading.clear();
        });
    }

    fn not_provable(&self, cluster: &str, why: &str) {
        self.with(|m| m.entry(cluster.to_owned()).or_default().not_provable = Some(why.to_owned()));
    }
}

/// What a started proof will do, in words.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Started {
    /// `backup A (GTID) rolled forward to backup B (GTID), N segment(s)`.
    pub what: String,
}

/// Starts a proof of `cluster` now (spawned); refused with the reason when one runs or there
/// is nothing to prove.
pub async fn start(services: &Arc<Services>, cluster: &str, trigger: &str) -> Result<Started> {
    let c = services.cluster(cluster)?.clone();
    let plan = plan_for(services, &c).await?;
    let what = describe(&plan);
    let reading = vec![
        plan.plan.backup.id.to_string(),
        plan.checkpoint.id.to_string(),
    ];
    if !services.provers.begin(
        cluster,
        format!("{what} (since {})", Timestamp::now()),
        reading,
    ) {
        return Err(Error::Refused(format!(
            "a proof of `{cluster}` is running; wait for it (`ferryman pitr status --cluster {cluster}`)"
        )));
    }
    let this = Arc::clone(services);
    let trigger = trigger.to_owned();
    let span = tracing::info_span!("proof", cluster = %c.name, base = %plan.plan.backup.id, checkpoint = %plan.checkpoint.id);
    services.spawn(span, async move {
        run(&this, &c, &plan, &trigger).await;
        this.provers.end(&c.name);
    });
    Ok(Started { what })
}

/// `cluster`'s scheduled proofs, until `shutdown`.
pub async fn scheduled(services: Arc<Services>, cluster: String, shutdown: CancellationToken) {
    let Ok(c) = services.cluster(&cluster).cloned() else {
        return;
    };
    let interval = c.binlog_archive.proof_interval;
    loop {
        let wait = match due_in(&services, &c).await {
            Ok(Duration::ZERO) => {
                match start(&services, &cluster, "schedule").await {
                    Ok(started) => tracing::info!("proof started: {}", started.what),
                    Err(e) => tracing::debug!(error = %e, "no proof now"),
                }
                interval.min(LOOK_EVERY)
            }
            Ok(wait) => wait.min(LOOK_EVERY),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the record of proofs; looking again later");
                LOOK_EVERY
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// How long until `cluster`'s next proof is due: zero when never proven, and when the record
/// cannot be trusted (changed by hand, or unsigned from a release before signatures): the
/// proof made now starts a new record.
async fn due_in(services: &Services, c: &ClusterConfig) -> Result<Duration> {
    let proofs = match services.repo(&c.name)?.proofs(&c.name).await {
        Ok(proofs) => proofs,
        Err(e) => {
            tracing::warn!(cluster = %c.name, error = %e, "the record of proofs cannot be used; proving now, which starts a new one");
            Vec::new()
        }
    };
    let Some(last) = proofs.last() else {
        return Ok(Duration::ZERO);
    };
    let age = u64::try_from(Timestamp::now().unix() - last.started_at.unix()).unwrap_or(0);
    Ok(c.binlog_archive
        .proof_interval
        .saturating_sub(Duration::from_secs(age)))
}

/// The newest provable stretch of `c`'s archive, or the refusal that says why there is none.
async fn plan_for(services: &Services, c: &ClusterConfig) -> Result<ProofPlan> {
    let backups = services.repos.list(Some(&c.name), None).await?;
    let segments = services.repo(&c.name)?.list_segments(&c.name).await?;
    proof_plan(&backups, &segments).map_err(|why| {
        services.provers.not_provable(&c.name, &why);
        Error::Refused(format!("nothing to prove in `{}`: {why}", c.name))
    })
}

/// `backup A (GTID …) rolled forward to backup B (GTID …), N segment(s)`.
fn describe(plan: &ProofPlan) -> String {
    format!(
        "backup {} (GTID {}) rolled forward to backup {} (GTID {}), {} segment(s)",
        plan.plan.backup.id,
        plan.plan.start,
        plan.checkpoint.id,
        plan.checkpoint.gtid.as_deref().unwrap_or(""),
        plan.plan.segments.len()
    )
}

/// One proof: carried out in a verifier slot (dropped, its server removed, when the manager
/// stops), recorded, announced.
async fn run(services: &Services, c: &ClusterConfig, plan: &ProofPlan, trigger: &str) {
    let runs = &services.verify_runs;
    let proof = tokio::select! {
        proof = carry_out(services, c, plan, trigger) => proof,
        _ = runs.cancel.cancelled() => {
            tracing::info!("proof abandoned: the manager stops");
            return;
        }
    };
    tracing::info!(
        status = proof.status.as_str(),
        seconds = proof.seconds,
        "{}",
        proof.detail
    );
    let recorded = match services.repo(&c.name) {
        Ok(repo) => repo.record_proof(&c.name, proof.clone()).await,
        Err(e) => Err(ferryman_repo::Error::Worker {
            detail: e.to_string(),
        }),
    };
    let mut message = format!("proof of {} to {}: {}", proof.from, proof.to, proof.detail);
    if let Err(e) = recorded {
        message.push_str(&format!(
            " (not recorded: {e}; the next scheduled proof runs at the next look)"
        ));
    }
    let (kind, severity) = match proof.status {
        Status::Ok => (EventKind::ProofPassed, Severity::Info),
        Status::Failed => (EventKind::ProofFailed, Severity::Error),
    };
    services.events.emit(NewEvent {
        kind,
        severity,
        cluster: c.name.clone(),
        server: None,
        backup: Some(proof.checkpoint.clone()),
        subject: None,
        message,
    });
}

/// The proof itself, once a verifier slot is free.
async fn carry_out(
    services: &Services,
    c: &ClusterConfig,
    plan: &ProofPlan,
    trigger: &str,
) -> Proof {
    let _slot = services.verify_runs.slots.acquire().await;
    let failed = |detail: String| {
        let mut proof = ferryman_verify::proof::not_carried_out(plan, trigger);
        proof.detail = detail;
        proof
    };
    let backup_repo = match services.repos.source_for(&plan.plan.backup).await {
        Ok((repo, _)) => repo,
        Err(e) => return failed(format!("the base backup cannot be read: {e}")),
    };
    let mut segment_repos = Vec::new();
    for name in &c.backup_repositories {
        match services.repos.named(name) {
            Ok(repo) => segment_repos.push((name.clone(), repo.clone())),
            Err(e) => return failed(e.to_string()),
        }
    }
    let v = &services.config.verifier;
    let jobs_schema = c.jobs_schema.clone();
    prove(ProofRequest {
        plan,
        backup_repo,
        segment_repos: &segment_repos,
        ignored_schemas: &[jobs_schema.as_str()],
        options: ThrowawayOptions {
            work_dir: v.work_dir.clone(),
            buffer_pool_mib: v.buffer_pool_mib,
            start_timeout: v.start_timeout,
        },
        trigger,
    })
    .await
}
