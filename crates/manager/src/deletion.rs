//! One stored backup deleted on request (`DELETE /api/v1/backups/...`, `ferryman backup
//! delete`), from every repository that holds it.
//!
//! # Safety
//! - The newest backup of its server and kind whose newest verification passed (the one a
//!   restore or reseed would take) is kept unless `force` says otherwise: deleting it by a typo
//!   leaves the server with an older, or no, proven backup.
//! - A backup a running job (a reseed, a flashback), verification or proof reads is never
//!   deleted (with or without `force`): its reader would fail halfway. The check is made once,
//!   before the deletion: a reseed started in between fails cleanly (its joiner keeps its
//!   data) rather than being waited for.
//! - Each repository is tried; one that fails is named in the error after the others were
//!   done, so a retry deletes what is left.

use ferryman_repo::{BackupId, Verification};

use crate::{Error, Result, Services};

/// Deletes backup `id` from every repository holding it; returns their names.
pub async fn delete(services: &Services, id: &BackupId, force: bool) -> Result<Vec<String>> {
    let located = services
        .repos
        .list_located(Some(id.cluster()), Some(id.server()))
        .await?;
    let Some(this) = located.iter().find(|l| &l.manifest.id == id) else {
        return Err(Error::Unknown {
            what: "backup",
            name: id.to_string(),
            known: "see `ferryman backup list`".to_owned(),
        });
    };
    let text = id.to_string();
    let busy_job = services
        .registry
        .list()
        .into_iter()
        .find(|j| !j.state.is_final() && j.backup_id.as_deref() == Some(text.as_str()));
    if let Some(job) = busy_job {
        return Err(Error::Refused(format!(
            "backup {id} is read by job {} ({}): wait for it to end (`ferryman jobs show {}`), then delete",
            job.id, job.task, job.id
        )));
    }
    if services.verify_runs.in_progress().contains(&text) {
        return Err(Error::Refused(format!(
            "backup {id} is being verified: wait for its verification to end (GET /api/v1/verify/runs lists the runs), then delete"
        )));
    }
    if let Some(proof) = services.provers.reading(id.cluster(), &text) {
        return Err(Error::Refused(format!(
            "backup {id} is read by the running proof of `{}` ({proof}): wait for it to end (`ferryman pitr status`), then delete",
            id.cluster()
        )));
    }
    if !force {
        // Newest first: the first passed one of this server and kind is the one restores take.
        let newest_proven = located.iter().map(|l| &l.manifest).find(|m| {
            // The same test as retention's protected backup.
            m.kind == this.manifest.kind && Verification::is_verified(m)
        });
        if newest_proven.is_some_and(|m| &m.id == id) {
            return Err(Error::Refused(format!(
                "backup {id} is the newest verified {} backup of `{}`: a restore or reseed would take it; add --force (API: ?force=true) to delete it anyway",
                crate::fleet::kind_name(this.manifest.kind),
                id.server()
            )));
        }
    }
    let mut deleted = Vec::new();
    let mut failed = Vec::new();
    for name in &this.repositories {
        match services.repos.named(name)?.delete(id).await {
            Ok(()) => deleted.push(name.clone()),
            Err(e) => failed.push(format!("{name}: {e}")),
        }
    }
    if !failed.is_empty() {
        return Err(Error::Refused(format!(
            "backup {id} deleted from {} but not from {}: fix the repository and run the delete again",
            if deleted.is_empty() { "none".to_owned() } else { deleted.join(", ") },
            failed.join("; ")
        )));
    }
    tracing::info!(backup = %id, repositories = %deleted.join(", "), force, "backup deleted on request");
    Ok(deleted)
}
