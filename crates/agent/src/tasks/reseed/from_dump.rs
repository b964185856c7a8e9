//! Steps 3 and 4 of a logical reseed (see `reseed.rs`): a private server installed and started
//! on the staging directory before listening, the dump imported into it (or a mydumper backup
//! loaded) as it arrives, the server shut down cleanly, and the GTID position read from the
//! payload; then the staging directory is swapped in like a prepared physical backup.

use super::{files, import, preflight, receive, swap, Plan, TaskCtx};
use crate::progress;
use crate::Result;

/// A logical reseed: a dump imported with the client, or with `archive` a mydumper backup
/// loaded with myloader.
pub(super) async fn run(
    ctx: &TaskCtx<'_>,
    mut plan: Plan,
    archive: Option<import::ArchiveTools>,
) -> Result<String> {
    let tools = import::Tools::find()?;
    let before = preflight::check(ctx, &plan).await?;
    let untouched = |plan: &Plan, stage, cause| plan.error(ctx, stage, cause, before.untouched());

    import::stop_leftover(&plan);
    let staging = receive::create_staging(&plan)
        .await
        .map_err(|e| untouched(&plan, "creating the staging directory", e))?;
    let server = match import::ImportServer::start(ctx, &plan, &tools, &staging).await {
        Ok(server) => server,
        Err(e) => {
            files::remove_quietly(&staging).await;
            return Err(untouched(&plan, "starting the import server", e));
        }
    };
    let started_in = server.started_in;
    let imported = async {
        let (payload, peer) = receive::accept(ctx, &plan)
            .await
            .map_err(|e| ("waiting for the dump stream", e))?;
        tracing::info!(job_id = plan.job_id, %peer, "reseed stream accepted");
        match &archive {
            None => server
                .import(ctx, &plan, &tools, payload)
                .await
                .map_err(|e| ("importing the dump", e)),
            Some(archive) => server
                .load_mydumper(ctx, &plan, archive, payload)
                .await
                .map_err(|e| ("loading the mydumper backup", e)),
        }
    }
    .await;
    let finished = match imported {
        Ok(imported) => server
            .stop(ctx)
            .await
            .map(|stopped| (imported, stopped))
            .map_err(|e| ("shutting the import server down", e)),
        Err(e) => {
            server.discard().await;
            Err(e)
        }
    };
    let ready = match finished {
        Ok((imported, stopped)) => plan
            .take_dump_gtid(imported.gtid.as_deref())
            .map(|()| (imported, stopped))
            .map_err(|e| ("reading the dump's GTID position", e)),
        Err(e) => Err(e),
    };
    let ready = match ready {
        Ok(r) => files::give_datadir_owner(&plan, &staging)
            .await
            .map(|()| r)
            .map_err(|e| ("giving the restored files the datadir's owner", e)),
        Err(e) => Err(e),
    };
    let (imported, stopped) = match ready {
        Ok(r) => r,
        Err((stage, cause)) => {
            files::remove_quietly(&staging).await;
            return Err(untouched(&plan, stage, cause));
        }
    };

    let restored = format!(
        "{} imported in {} (import server up in {}, shut down in {})",
        progress::bytes(imported.bytes),
        progress::seconds(imported.took),
        progress::seconds(started_in),
        progress::seconds(stopped),
    );
    swap::swap_and_catch_up(ctx, &plan, &before, &staging, &restored).await
}
