//! `reseed{mariabackup,xtrabackup,mysqldump}` and `flashback{…}`: the joiner side of a reseed.
//! The manager streams a physical backup (an xbstream) or a dump to this agent, which rebuilds
//! its server from it and makes it replicate from the primary again. A flashback is the same
//! with an older backup.
//!
//! A dump (`reseedmysqldump`) or a mydumper backup (`reseedmydumper`) takes the same steps
//! with steps 3 and 4 replaced (`reseed/from_dump.rs`, `reseed/import.rs`): a private server is installed and started on the staging directory
//! before listening, the dump is imported into it as it arrives, the server is shut down
//! cleanly, and the GTID position is read from the dump's last lines (it must equal the
//! params' when they give one). The staging directory is then an ordinary datadir, swapped in
//! as in step 5. The replica is thus never half-imported, and stray tables do not survive.
//!
//! # Sequence (the phase the manager shows in parentheses)
//! 1. Read the row: the port to listen on, the token, [`ReseedParams`] (a physical reseed
//!    needs the backup's GTID). Then refuse, before touching anything (`reseed/preflight.rs`),
//!    when this server is the primary the params name (same address, or the same `server_id`
//!    when the primary answers) or replicas read from it (`Binlog Dump` threads); when its
//!    `@@datadir` is not the configured `datadir`, or InnoDB keeps files outside it; when the
//!    datadir is a mount point (it cannot be renamed, and the staging directory would be on
//!    another file system); when an earlier reseed's old datadir is still next to it; when
//!    the file system lacks room for the payload. A server that does not answer is reseeded
//!    as a stopped one, with only the on-disk checks and the params' address to go by, unless
//!    a process still runs in its datadir (then it is refused).
//! 2. (`Waiting backup.`) Listen on `agent.joiner-bind-address` and the row's port; take the
//!    first connection whose stream header is a reseed header with this job's id and token.
//!    Others are logged and dropped (`reseed/receive.rs`).
//! 3. (`receiving …`) Extract the framed payload with `mbstream -x` (`xbstream -x`) into a
//!    staging directory next to the datadir, `.<name>.ferryman-reseed-<id>` (0700, same file
//!    system). It counts only when its trailer (length, sha256) matched and the tool exited 0.
//! 4. (`preparing`) `mariabackup --prepare` reading only the backup's own `backup-my.cnf`, so
//!    that no `/etc/mysql` setting applies; success is exit 0 and `completed OK!`.
//! 5. (`restarting: …`) Give the staging tree the datadir's owner and mode. Hold the progress
//!    reporter off and read this server's job rows; stop the server (`service-stop`, then
//!    until it no longer answers and no process runs in the datadir); rename datadir →
//!    `.<name>.ferryman-old-<id>` and staging → datadir; start it (`service-start`); put this
//!    server's job rows back in place of the donor's, which the restored datadir brought
//!    (`reseed/swap.rs`).
//! 6. (`catching up: …`) `RESET SLAVE ALL`, `gtid_slave_pos` = the params' GTID, `CHANGE
//!    MASTER` to the primary as the cluster's replication user, `START SLAVE`; wait until both
//!    threads run and the lag is at most `agent.catch-up-max-lag`, at most
//!    `agent.catch-up-timeout` (`reseed/catch_up.rs`).
//!    A row that says `hold` (a flashback to a point in time) stops before `START SLAVE`:
//!    the server stays read-only at the payload's position, replication pointed but stopped.
//! 7. Remove the old datadir (a failure to is said in the result, it fails nothing).
//!
//! # Safety
//! - Nothing on the server changes before step 5: a refused, missing, cut, damaged or
//!   unpreparable payload only costs the staging directory, which is removed; the replica
//!   goes on running on its old data.
//! - From step 5 on, any failure or cancellation puts the old datadir back and starts the
//!   server on it (when it ran before). The old datadir has its own replication state
//!   (`master.info`, relay logs, `mysql.gtid_slave_pos`), so the replica resumes where it
//!   was; a replica that replicated before is checked to replicate again. If putting it back
//!   fails too, the error names the old datadir and the commands to put it back by hand.
//! - Only these are ever deleted: the staging directory, the restored datadir of a failed
//!   attempt (after it was moved aside), and the old datadir once the reseed succeeded.
//! - Renames within one directory are atomic, so the datadir is always whole, old or new. An
//!   agent killed mid-swap leaves the old datadir next to the datadir; the next reseed refuses
//!   to run until a DBA has looked (its result said where it is).
//! - Binary logs configured outside the datadir stay where they are and are used by the
//!   reseeded server: its `gtid_binlog_pos` then still shows the old server's GTIDs.

mod catch_up;
mod files;
mod from_dump;
mod from_snapshot;
mod import;
mod leftovers;
mod preflight;
mod receive;
mod record;
mod recover;
mod rollback;
mod swap;

pub(crate) use leftovers::remove_unused as remove_unused_reseed_dirs;
pub(crate) use record::SwapRecord;
pub use record::CRASH_AT_ENV;
pub(crate) use recover::{forget_swap, interrupted_swaps, resolve_swap, swaps_dir};

use std::path::{Path, PathBuf};

use ferryman_exec::Program;
use ferryman_proto::{ReseedParams, StreamToken, Task};

use super::{PhysicalTool, TaskCtx};
use crate::progress;
use crate::{Error, Result};

/// How the payload becomes a datadir.
#[derive(Debug, Clone, Copy)]
pub(super) enum Restore {
    /// An xbstream, extracted and prepared with this tool.
    Physical(PhysicalTool),
    /// A mariadb-dump, imported into a private server on the staging directory.
    Logical,
    /// A tar of mydumper's directory, loaded with `myloader` into a private server on the
    /// staging directory (`reseed/import/mydumper.rs`).
    Mydumper,
    /// A tar of a donor's snapshot, recovered on a private server (`reseed/from_snapshot.rs`).
    Snapshot,
}

/// Runs a reseed or flashback (see the module documentation).
pub(super) async fn run(ctx: &TaskCtx<'_>, restore: Restore) -> Result<String> {
    let plan = Plan::read(ctx, restore)?;
    match restore {
        Restore::Physical(tool) => physical(ctx, plan, tool).await,
        Restore::Logical => from_dump::run(ctx, plan, None).await,
        Restore::Mydumper => from_dump::run(ctx, plan, Some(import::ArchiveTools::find()?)).await,
        Restore::Snapshot => from_snapshot::run(ctx, plan).await,
    }
}

async fn physical(ctx: &TaskCtx<'_>, plan: Plan, tool: PhysicalTool) -> Result<String> {
    // Both tools before anything else: a missing one must not cost a transfer.
    let extractor = Program::find(tool.extractor(), tool.packages())?;
    let preparer = Program::find(tool.program(), tool.packages())?;
    let before = preflight::check(ctx, &plan).await?;
    let untouched = |stage, cause| plan.error(ctx, stage, cause, before.untouched());

    let (payload, peer) = receive::accept(ctx, &plan)
        .await
        .map_err(|e| untouched("waiting for the backup stream", e))?;
    tracing::info!(job_id = plan.job_id, %peer, "reseed stream accepted");
    let staging = receive::create_staging(&plan)
        .await
        .map_err(|e| untouched("creating the staging directory", e))?;
    let ready = async {
        let received = receive::extract(ctx, &plan, &extractor, payload, &staging)
            .await
            .map_err(|e| ("receiving the backup", e))?;
        let prepared = receive::prepare(ctx, &preparer, &staging)
            .await
            .map_err(|e| ("preparing the backup", e))?;
        files::give_datadir_owner(&plan, &staging)
            .await
            .map_err(|e| ("giving the restored files the datadir's owner", e))?;
        Ok((received, prepared))
    }
    .await;
    let (received, prepared) = match ready {
        Ok(r) => r,
        Err((stage, cause)) => {
            files::remove_quietly(&staging).await;
            return Err(untouched(stage, cause));
        }
    };

    let restored = format!(
        "{} received in {}, prepared in {}",
        progress::bytes(received.bytes),
        progress::seconds(received.took),
        progress::seconds(prepared),
    );
    swap::swap_and_catch_up(ctx, &plan, &before, &staging, &restored).await
}

/// What the row asks for, checked, and where everything goes on disk.
#[derive(Debug)]
pub(super) struct Plan {
    /// The job.
    pub job_id: u64,
    /// Its task (for messages).
    pub task: Task,
    /// The row's params.
    pub params: ReseedParams,
    /// The GTID the backup holds data up to: from the params (required for a physical
    /// reseed), else, for a dump, read from its end once imported.
    pub gtid: String,
    /// The port to listen on.
    pub port: u16,
    /// The token the stream header must carry.
    pub token: StreamToken,
    /// The datadir, symbolic links resolved: the directory that is swapped.
    pub datadir: PathBuf,
}

impl Plan {
    /// Reads and checks the row and the server's `datadir`; touches nothing.
    fn read(ctx: &TaskCtx<'_>, restore: Restore) -> Result<Plan> {
        let job = ctx.job;
        let job_id = job.id.0;
        let bad = |problem: &str| Error::ReseedRow {
            job_id,
            task: ctx.task,
            problem: problem.to_owned(),
        };
        let port = job
            .port
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| bad("its `port` column holds no port to listen on"))?;
        let token = job
            .token
            .as_ref()
            .ok_or_else(|| bad("it has no `token`, which the stream must carry"))?
            .stream_token()
            .map_err(|source| Error::BadToken { job_id, source })?;
        let text = job
            .params
            .as_deref()
            .ok_or_else(|| bad("it has no `params` (primary, GTID)"))?;
        let params = ReseedParams::from_json(text)
            .map_err(|e| bad(&format!("its `params` are not reseed parameters ({e})")))?;
        let gtid = params
            .gtid
            .as_deref()
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_owned);
        let gtid = match (gtid, restore) {
            (Some(gtid), _) => gtid,
            // A dump carries its position in its last lines: read there, after the import; a
            // snapshot, in what the donor recorded with it.
            (None, Restore::Logical | Restore::Mydumper | Restore::Snapshot) => String::new(),
            (None, Restore::Physical(tool)) => {
                return Err(bad(&format!(
                    "its params carry no GTID, which a reseed with {} needs (the backup's \
                     position, `GTID of the last change` in the backup's output)",
                    tool.program()
                )))
            }
        };
        if !gtid.is_empty() && !valid_gtid_list(&gtid) {
            return Err(bad(&format!(
                "its GTID `{gtid}` is not a MariaDB GTID position (`domain-server-sequence`, \
                 comma-separated)"
            )));
        }
        if params.primary_host.trim().is_empty() || params.primary_port == 0 {
            return Err(bad("its params name no primary to replicate from"));
        }
        // Only the manager may ask for this server's data to be replaced (`proto/src/seal.rs`).
        let key = ctx
            .joiner
            .row_key
            .as_ref()
            .map_err(|e| bad(&format!("its seal cannot be checked: {e}")))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let token_text = job.token.as_ref().map(|t| t.expose()).unwrap_or_default();
        key.verify(ctx.task, port, token_text, &params, &ctx.server.name, now)
            .map_err(|e| bad(&e.to_string()))?;
        let known = ctx.joiner.cluster_servers.iter().any(|(host, port)| {
            *port == params.primary_port
                && ferryman_proto::address::same_host(host, &params.primary_host)
        });
        if !known {
            return Err(bad(&format!(
                "its primary {} is not a server of this agent's cluster in ferryman.toml, and a \
                 replica is only ever pointed at one of them; nothing was touched",
                ferryman_proto::address::join(&params.primary_host, params.primary_port)
            )));
        }
        let configured = ctx.server.datadir.as_ref().ok_or(Error::NotConfigured {
            server: ctx.server.name.clone(),
            task: ctx.task,
            key: "datadir",
        })?;
        let datadir = std::fs::canonicalize(configured).map_err(|e| Error::Unsuitable {
            server: ctx.server.name.clone(),
            problem: format!(
                "its datadir `{}` cannot be resolved ({e}), and a reseed replaces it",
                configured.display()
            ),
            next_step: "fix `datadir` in the server's table of ferryman.toml, or create the \
                        directory (empty, owned by the server's user) and start the reseed again"
                .to_owned(),
        })?;
        if datadir.parent().is_none() || datadir.file_name().is_none() {
            return Err(Error::Unsuitable {
                server: ctx.server.name.clone(),
                problem: format!("its datadir `{}` is a root directory", datadir.display()),
                next_step: "fix `datadir` in ferryman.toml".to_owned(),
            });
        }
        Ok(Plan {
            job_id,
            task: ctx.task,
            params,
            gtid,
            port,
            token,
            datadir,
        })
    }

    /// The directory holding the datadir.
    pub fn parent(&self) -> &Path {
        self.datadir.parent().unwrap_or(Path::new("/"))
    }

    /// The datadir's own name (`mysql` for `/var/lib/mysql`).
    pub fn name(&self) -> String {
        self.datadir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// `<parent>/.<name>.ferryman-<what>-<id>`.
    fn sibling(&self, what: &str) -> PathBuf {
        self.parent()
            .join(format!(".{}.ferryman-{what}-{}", self.name(), self.job_id))
    }

    /// Where the payload is extracted and prepared.
    pub fn staging(&self) -> PathBuf {
        self.sibling("reseed")
    }

    /// Where a logical reseed's import server keeps its socket, pid file and error log.
    pub fn import_run_dir(&self) -> PathBuf {
        self.sibling("import")
    }

    /// Where the old datadir waits until the reseed succeeded.
    pub fn old(&self) -> PathBuf {
        self.sibling("old")
    }

    /// Where a restored datadir goes when the old one is put back.
    pub fn failed_dir(&self) -> PathBuf {
        self.sibling("failed")
    }

    /// The prefix of every old datadir left next to the datadir (by any job).
    pub fn old_prefix(&self) -> String {
        format!(".{}.ferryman-old-", self.name())
    }

    /// `host:port` of the primary.
    pub fn primary(&self) -> String {
        format!("{}:{}", self.params.primary_host, self.params.primary_port)
    }

    /// Takes the GTID position the imported dump records. It must agree with the params'
    /// (the manifest's) when they give one: a dump that says otherwise is not the backup the
    /// manager meant.
    fn take_dump_gtid(&mut self, dump: Option<&str>) -> Result<()> {
        let dump = dump.map(str::trim).filter(|g| !g.is_empty());
        match dump {
            None if self.gtid.is_empty() => Err(Error::Dump {
                problem: "records no GTID position (no `SET GLOBAL gtid_slave_pos` comment: was \
                          it taken with `--gtid --master-data=2` from a server with the binary \
                          log on?), so the replica could not resume replication"
                    .to_owned(),
            }),
            None => Ok(()),
            Some(gtid) if !valid_gtid_list(gtid) => Err(Error::Dump {
                problem: format!("records `{gtid}`, which is not a MariaDB GTID position"),
            }),
            Some(gtid) if !self.gtid.is_empty() && gtid != self.gtid => Err(Error::Dump {
                problem: format!(
                    "records GTID {gtid}, but its backup's manifest says {}: it is not the \
                     backup it claims to be",
                    self.gtid
                ),
            }),
            Some(gtid) => {
                self.gtid = gtid.to_owned();
                Ok(())
            }
        }
    }

    /// The result of a reseed that succeeded: `restored` says how the datadir was built.
    fn summary(&self, restored: &str, done: &swap::Done) -> String {
        let backup = self
            .params
            .backup_id
            .as_deref()
            .map(|id| format!("; backup {id}"))
            .unwrap_or_default();
        if self.params.hold {
            return format!(
                "{task}: {restored}, restarted in {restarted_in}; held at GTID {gtid}: \
                 read-only, replication from {primary} pointed there but not started (START \
                 SLAVE replays everything written since, then SET GLOBAL read_only=0 if it \
                 took writes before){backup}",
                task = self.task,
                restarted_in = progress::seconds(done.restarted_in),
                primary = self.primary(),
                gtid = self.gtid,
            );
        }
        format!(
            "{task}: {restored}, restarted in {restarted_in}; replicating from {primary} from \
             GTID {gtid}, lag {lag} s after {caught_up_in}{backup}",
            task = self.task,
            restarted_in = progress::seconds(done.restarted_in),
            primary = self.primary(),
            gtid = self.gtid,
            lag = done.caught_up.lag,
            caught_up_in = progress::seconds(done.caught_up.took),
        )
    }

    /// The error of a reseed that failed at `stage`, leaving the server in `state`.
    pub fn error(
        &self,
        ctx: &TaskCtx<'_>,
        stage: &'static str,
        cause: Error,
        state: String,
    ) -> Error {
        Error::Reseed {
            server: ctx.server.name.clone(),
            task: self.task,
            stage: stage.into(),
            cause: Box::new(cause),
            state,
        }
    }
}

/// A MariaDB GTID list: `domain-server-sequence` triples of decimal numbers, comma-separated.
fn valid_gtid_list(text: &str) -> bool {
    text.split(',').all(|gtid| {
        let parts: Vec<&str> = gtid.trim().split('-').collect();
        parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.len() <= 20 && p.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// The error of a task stopped by cancellation (agent shutdown, job cancelled).
fn interrupted(ctx: &TaskCtx<'_>, during: &str) -> Error {
    Error::Interrupted {
        elapsed: progress::seconds(ctx.progress.elapsed()),
        reason: format!("cancelled while {during}"),
    }
}

#[cfg(test)]
mod tests;
