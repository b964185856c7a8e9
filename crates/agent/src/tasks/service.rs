//! `stop`, `start`, `restart` and `zfssnapback`: the server's service commands, as configured
//! (`service-start`/`-stop`/`-restart`, systemd by default; `zfs-snapback`, no default, else
//! a rollback to the newest snapshot of `snapshot-method`).
//!
//! A command that exits 0 is not taken at its word: after `start`/`restart` the server must
//! accept connections, after `stop` it must not, within [`SETTLE`]; the result says which.

use std::path::Path;
use std::time::{Duration, Instant};

use ferryman_db::Session;
use ferryman_exec::Program;
use ferryman_proto::Task;

use super::{Node, TaskCtx};
use crate::progress;
use crate::snapshot::Snapshots;
use crate::{Error, Result};

/// How long the server may take to come up or go down after its service command returns.
pub(super) const SETTLE: Duration = Duration::from_secs(120);
/// How many output lines a result quotes.
const TAIL_LINES: usize = 4;

/// Runs the service command of a `stop`, `start` or `restart` job.
pub(super) async fn run(ctx: &TaskCtx<'_>) -> Result<String> {
    let (key, argv, want_up) = match ctx.task {
        Task::Stop => ("service-stop", &ctx.server.service_stop, false),
        Task::Restart => ("service-restart", &ctx.server.service_restart, true),
        _ => ("service-start", &ctx.server.service_start, true),
    };
    let ran = run_command(&ctx.node(), key, argv, "").await?;
    let settled = wait_state(&ctx.node(), want_up, "").await?;
    Ok(format!("{}: {ran}; {settled}", ctx.task))
}

/// `zfssnapback`: stop the server, run the rollback command, start the server again (also
/// when the rollback failed: a server left down helps nobody), and report every step. Without
/// `zfs-snapback` but with a `snapshot-method`, the rollback is to the newest snapshot whose
/// name holds `snapshot-filter` (found before anything stops), as reference 000's script
/// does.
pub(super) async fn zfs_snapback(ctx: &TaskCtx<'_>) -> Result<String> {
    let rollback = match (&ctx.server.zfs_snapback, &ctx.server.snapshot) {
        (Some(argv), _) => Rollback::Command(argv),
        (None, Some(_)) => {
            let snapshots = Snapshots::of(ctx.server, ctx.work_dir)?;
            let name = snapshots.newest_matching().await?;
            Rollback::Snapshot(Box::new(snapshots), name)
        }
        (None, None) => {
            return Err(Error::Unsuitable {
                server: ctx.server.name.clone(),
                problem: "has no `zfs-snapback` configured, nor a `snapshot-method`, which the `zfssnapback` task needs".to_owned(),
                next_step: "set one of them in the server's table of ferryman.toml".to_owned(),
            })
        }
    };
    // The rolled-back datadir's jobs table is older than this job: hold the reporter off (a
    // row it cannot find is no cancellation) and put this server's rows back after the start.
    let held = ctx.progress.hold_reports().await;
    let rows = super::job_rows::read(ctx).await;
    let stopped = run_command(&ctx.node(), "service-stop", &ctx.server.service_stop, "").await?;
    wait_state(&ctx.node(), false, "").await?;
    let rolled = match &rollback {
        Rollback::Command(argv) => run_command(&ctx.node(), "zfs-snapback", argv, "").await,
        Rollback::Snapshot(snapshots, name) => {
            ctx.progress
                .set_phase(format!("rolling back to snapshot {name}"));
            snapshots
                .rollback(name)
                .await
                .map(|kept| format!("rolled back to {name}: {kept}"))
        }
    };
    let started = run_command(&ctx.node(), "service-start", &ctx.server.service_start, "").await;
    let up = match &started {
        Ok(_) => match wait_state(&ctx.node(), true, "").await {
            Ok(up) => super::job_rows::put_back(ctx, rows)
                .await
                .map(|()| Some(up)),
            Err(e) => Err(e),
        },
        Err(_) => Ok(None),
    };
    drop(held);
    match (rolled, started, up) {
        (Ok(rolled), Ok(started), Ok(Some(up))) => Ok(format!(
            "zfssnapback: stop: {stopped}; rollback: {rolled}; start: {started}; {up}"
        )),
        (Err(e), Ok(_), Ok(Some(_))) => Err(Error::Unsuitable {
            server: ctx.server.name.clone(),
            problem: format!(
                "the rollback failed ({e}); the server was started again on its current data"
            ),
            next_step: "check the snapshots (`ferryman node snapshots`, `zfs list -t snapshot`) and the rollback command"
                .to_owned(),
        }),
        (rolled, started, up) => Err(Error::Unsuitable {
            server: ctx.server.name.clone(),
            problem: format!(
                "the server did not come back after the rollback (rollback: {}; start: {}; {})",
                rolled
                    .map(|_| "ok".to_owned())
                    .unwrap_or_else(|e| e.to_string()),
                started
                    .map(|_| "ok".to_owned())
                    .unwrap_or_else(|e| e.to_string()),
                match up {
                    Ok(_) => "".to_owned(),
                    Err(e) => e.to_string(),
                }
            ),
            next_step: "start it by hand and read its error log".to_owned(),
        }),
    }
}

/// What `zfssnapback` rolls back with.
enum Rollback<'a> {
    /// `zfs-snapback`.
    Command(&'a [String]),
    /// The newest matching snapshot of `snapshot-method`.
    Snapshot(Box<Snapshots>, String),
}

/// Runs one configured command line; returns `` `cmd` succeeded in 1s 200ms[: output] ``. The
/// phase shown meanwhile starts with `label` (e.g. `restarting: `).
pub(crate) async fn run_command(
    ctx: &Node<'_>,
    key: &str,
    argv: &[String],
    label: &str,
) -> Result<String> {
    let Some((program, args)) = argv.split_first() else {
        return Err(Error::Unsuitable {
            server: ctx.server.name.clone(),
            problem: format!("`{key}` is empty"),
            next_step: format!("set `{key}` in the server's table of ferryman.toml"),
        });
    };
    let program = if program.contains('/') {
        Program::at(Path::new(program), "the package that provides it")?
    } else {
        Program::find(
            program,
            "the package that provides it (systemd for systemctl)",
        )?
    };
    let command = program.command().args(args);
    ctx.progress
        .set_phase(format!("{label}running `{}`", command.display()));
    let started = Instant::now();
    let out = command.run().await?;
    let said = ferryman_exec::command::tail(&format!("{}\n{}", out.stdout, out.stderr), TAIL_LINES);
    let took = progress::seconds(started.elapsed());
    Ok(if said.is_empty() {
        format!("`{}` succeeded in {took}", command.display())
    } else {
        format!("`{}` succeeded in {took}: {said}", command.display())
    })
}

/// Waits until the server answers (`up`) or stops answering (`!up`), at most [`SETTLE`]. The
/// phase shown meanwhile starts with `label`.
pub(crate) async fn wait_state(ctx: &Node<'_>, up: bool, label: &str) -> Result<String> {
    let started = Instant::now();
    ctx.progress.set_phase(if up {
        format!("{label}waiting for the server to accept connections")
    } else {
        format!("{label}waiting for the server to stop")
    });
    loop {
        let answer = ctx.endpoint.connect(Session::Plain).await;
        let answering = match answer {
            Ok(conn) => {
                let _ = conn.disconnect().await;
                true
            }
            Err(_) => false,
        };
        if answering == up {
            let took = progress::seconds(started.elapsed());
            return Ok(if up {
                format!("server accepting connections after {took}")
            } else {
                format!("server no longer accepting connections after {took}")
            });
        }
        if started.elapsed() > SETTLE {
            return Err(Error::Unsuitable {
                server: ctx.server.name.clone(),
                problem: format!(
                    "the command succeeded but the server {} after {} s",
                    if up {
                        "still does not accept connections"
                    } else {
                        "still accepts connections"
                    },
                    SETTLE.as_secs()
                ),
                next_step: "check the service's status and the server's error log".to_owned(),
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
