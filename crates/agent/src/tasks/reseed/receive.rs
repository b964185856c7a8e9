//! Steps 2 to 4 of a reseed: waiting for the manager's stream, extracting it into the staging
//! directory, preparing it. None of it touches the server.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferryman_exec::{Finished, Program, Running};
use ferryman_proto::{read_header, FrameReader, StreamKind, StreamToken};
use ferryman_tls::Conn;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::{files, interrupted, Plan, TaskCtx};
use crate::progress;
use crate::tasks::drain_stdout;
use crate::{Error, Result};

/// How long a connection may take to send its stream header.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections whose header is being read at once; more are dropped at once.
const MAX_PENDING: usize = 16;
/// Bytes read from the stream and written to the extractor at a time.
pub(super) const BUFFER: usize = 256 * 1024;
/// How long the stream may bring nothing before it counts as dead (a manager whose host
/// vanished sends neither FIN nor RST). Generous: a manager starting several joiners at once
/// sends to none until all are connected, which may take its `job-claim-timeout` (5 min).
pub(super) const STALL_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// The last line of a successful prepare.
const COMPLETED: &str = "completed OK!";
/// How many stderr lines a failure message quotes.
pub(super) const TAIL_LINES: usize = 6;

/// The payload of the accepted stream.
pub(super) type Payload = FrameReader<Conn>;

/// Listens on the job's port until a connection presents a reseed header with this job's id
/// and token (phase `Waiting backup.`, replication-manager's wording), over TLS from the
/// manager's certificate when the agent has `agent.tls-*` (`crate::tls::accept`). Connections
/// with anything else are logged and dropped: the real manager may still come.
pub(super) async fn accept(ctx: &TaskCtx<'_>, plan: &Plan) -> Result<(Payload, SocketAddr)> {
    let host = ctx.joiner.bind_address.as_str();
    let address = if host.contains(':') {
        format!("[{host}]:{}", plan.port)
    } else {
        format!("{host}:{}", plan.port)
    };
    let listener = TcpListener::bind((host, plan.port))
        .await
        .map_err(|source| Error::JoinerBind {
            address: address.clone(),
            source,
        })?;
    ctx.progress.set_phase("Waiting backup.");
    tracing::info!(job_id = plan.job_id, %address, "waiting for the reseed stream");
    let deadline = tokio::time::Instant::now() + ctx.joiner.accept_timeout;
    let mut checks = JoinSet::new();
    let mut refused: Vec<String> = Vec::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((sock, peer)) if checks.len() < MAX_PENDING => {
                    checks.spawn(check_header(sock, peer, ctx.tls.cloned(), plan.job_id, plan.token.clone()));
                }
                Ok((_, peer)) => {
                    tracing::warn!(job_id = plan.job_id, %peer, "too many connections on the joiner port at once: dropped one");
                }
                Err(e) => {
                    tracing::warn!(job_id = plan.job_id, error = %e, "accepting on the joiner port failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(checked) = checks.join_next() => match checked {
                Ok(Ok((sock, peer))) => return Ok((FrameReader::new(sock), peer)),
                Ok(Err((peer, reason))) => {
                    tracing::warn!(job_id = plan.job_id, %peer, %reason, "refused a connection on the joiner port");
                    refused.push(format!("{peer}: {reason}"));
                }
                Err(e) => tracing::warn!(job_id = plan.job_id, error = %e, "a header check failed"),
            },
            _ = tokio::time::sleep_until(deadline) => {
                return Err(Error::JoinerTimeout {
                    address,
                    seconds: ctx.joiner.accept_timeout.as_secs(),
                    refused: match refused.len() {
                        0 => String::new(),
                        n => format!("; {n} connection(s) refused, the last: {}", refused[n - 1]),
                    },
                });
            }
            _ = ctx.cancel.cancelled() => return Err(interrupted(ctx, "waiting for the backup stream")),
        }
    }
}

/// Opens a connection (TLS or plain, see `crate::tls::accept`) and reads its header: the
/// connection when it is this job's, else why not.
async fn check_header(
    tcp: TcpStream,
    peer: SocketAddr,
    tls: Option<crate::AgentTls>,
    job_id: u64,
    token: StreamToken,
) -> std::result::Result<(Conn, SocketAddr), (SocketAddr, String)> {
    let opened = async {
        let mut sock = crate::tls::accept(tls.as_ref(), tcp).await?;
        let header = read_header(&mut sock).await.map_err(|e| e.to_string())?;
        Ok::<_, String>((sock, header))
    };
    let (sock, header) = match tokio::time::timeout(HEADER_TIMEOUT, opened).await {
        Err(_) => {
            return Err((
                peer,
                format!("no stream header within {} s", HEADER_TIMEOUT.as_secs()),
            ))
        }
        Ok(Err(e)) => return Err((peer, e)),
        Ok(Ok(opened)) => opened,
    };
    if header.kind != StreamKind::Reseed {
        Err((peer, format!("a {} stream, not a reseed", header.kind)))
    } else if header.job_id != job_id {
        Err((
            peer,
            format!("a stream for job {}, not job {job_id}", header.job_id),
        ))
    } else if header.token != token {
        Err((peer, "a stream with another token".to_owned()))
    } else {
        Ok((sock, peer))
    }
}

/// Creates the staging directory (0700) next to the datadir; one left by a crashed run of the
/// same job is removed first.
pub(super) async fn create_staging(plan: &Plan) -> Result<PathBuf> {
    let dir = plan.staging();
    if std::fs::symlink_metadata(&dir).is_ok() {
        tracing::info!(dir = %dir.display(), "removing the staging directory of an earlier run of this job");
        files::remove_tree(&dir)
            .await
            .map_err(Error::io("remove the leftover staging directory", &dir))?;
    }
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(Error::io("create the staging directory", &dir))?;
    Ok(dir)
}

/// What was received.
#[derive(Debug, Clone, Copy)]
pub(super) struct Received {
    /// Payload bytes.
    pub bytes: u64,
    /// From the first byte to the extractor's exit.
    pub took: Duration,
}

/// Feeds the payload to `extractor -x -C staging`. Succeeds only when the payload's trailer
/// matched and the extractor exited 0; on any error the extractor is killed.
pub(super) async fn extract(
    ctx: &TaskCtx<'_>,
    plan: &Plan,
    extractor: &Program,
    mut payload: Payload,
    staging: &Path,
) -> Result<Received> {
    let started = Instant::now();
    let args: [OsString; 3] = ["-x".into(), "-C".into(), staging.into()];
    let (running, log) = ctx.spawn_tool_with(extractor, extractor.name(), args, true)?;
    let expected = plan.params.payload_bytes;
    ctx.progress.set_phase(receiving(0, expected));
    let tool = Fed {
        program: extractor,
        running,
        log,
        during: "receiving the backup",
        finishing: format!("receiving: {} finishing", extractor.name()),
    };
    tool.feed(ctx, &mut payload, |_, total| {
        ctx.progress.set_phase(receiving(total, expected))
    })
    .await?;
    Ok(Received {
        bytes: payload.total(),
        took: started.elapsed(),
    })
}

/// A tool started with a stdin pipe, to be fed a payload.
pub(super) struct Fed<'a> {
    /// The program (for messages).
    pub program: &'a Program,
    /// It, running.
    pub running: Running,
    /// Its stderr log.
    pub log: PathBuf,
    /// What the task is doing while feeding it (`receiving the backup`), for interruptions.
    pub during: &'static str,
    /// The phase once everything was fed, while it finishes.
    pub finishing: String,
}

impl Fed<'_> {
    /// Feeds the whole payload to the tool and waits for it to exit 0. `seen` is shown every
    /// chunk with the total so far (progress, a dump's tail). Succeeds only when the payload's
    /// trailer matched and the tool exited 0; on any error the tool is killed, and when it had
    /// stopped taking input its own words are the error (bad data, disk full).
    pub async fn feed(
        self,
        ctx: &TaskCtx<'_>,
        payload: &mut Payload,
        mut seen: impl FnMut(&[u8], u64),
    ) -> Result<()> {
        let Fed {
            program,
            mut running,
            log,
            during,
            finishing,
        } = self;
        let drain = drain_stdout(&mut running);
        let Some(mut stdin) = running.take_stdin() else {
            let _ = running.kill().await;
            return Err(Error::Read {
                what: format!("{}'s input", program.name()),
                source: std::io::Error::other("stdin was not captured"),
            });
        };
        let mut buf = vec![0u8; BUFFER];
        let fed: Result<()> = async {
            loop {
                let n = tokio::select! {
                    read = tokio::time::timeout(STALL_TIMEOUT, payload.read(&mut buf)) => match read {
                        Ok(read) => read.map_err(Error::Payload)?,
                        Err(_) => return Err(Error::Payload(ferryman_proto::Error::PayloadIo {
                            kind: std::io::ErrorKind::TimedOut,
                            message: format!(
                                "nothing arrived for {} s after {} bytes",
                                STALL_TIMEOUT.as_secs(),
                                payload.total()
                            ),
                        })),
                    },
                    _ = ctx.cancel.cancelled() => return Err(interrupted(ctx, during)),
                };
                if n == 0 {
                    return Ok(());
                }
                tokio::select! {
                    written = stdin.write_all(&buf[..n]) => written.map_err(|e| Error::Io {
                        action: "feed the payload to",
                        path: program.path().to_owned(),
                        source: e,
                    })?,
                    _ = ctx.cancel.cancelled() => return Err(interrupted(ctx, during)),
                }
                ctx.progress.add_bytes(n as u64);
                seen(&buf[..n], payload.total());
            }
        }
        .await;
        if let Err(e) = fed {
            let finished = running.kill().await?;
            if let Some(d) = drain {
                d.abort();
            }
            if matches!(e, Error::Io { .. }) && !finished.status.success() {
                return Err(tool_failed(program, &finished, log));
            }
            return Err(e);
        }
        drop(stdin);
        ctx.progress.set_phase(finishing);
        let finished = wait_or_kill(ctx, running, during).await?;
        if let Some(d) = drain {
            let _ = d.await;
        }
        if !finished.status.success() {
            return Err(tool_failed(program, &finished, log));
        }
        Ok(())
    }
}

/// `receiving 120.00 MiB of 2.30 GiB`.
pub(super) fn receiving(got: u64, expected: Option<u64>) -> String {
    match expected {
        Some(total) => format!(
            "receiving {} of {}",
            progress::bytes(got),
            progress::bytes(total)
        ),
        None => format!("receiving {}", progress::bytes(got)),
    }
}

/// `mariabackup --prepare` on the staging directory; returns how long it took.
pub(super) async fn prepare(ctx: &TaskCtx<'_>, tool: &Program, staging: &Path) -> Result<Duration> {
    ctx.progress.set_phase("preparing");
    let started = Instant::now();
    let finished = {
        let (mut running, log) = ctx.spawn_tool(
            tool,
            &format!("{}-prepare", tool.name()),
            prepare_args(staging),
        )?;
        let drain = drain_stdout(&mut running);
        let finished = wait_or_kill(ctx, running, "preparing the backup").await?;
        if let Some(d) = drain {
            let _ = d.await;
        }
        (finished, log)
    };
    let (finished, log) = finished;
    if !finished.status.success() {
        return Err(tool_failed(tool, &finished, log));
    }
    if !finished.stderr_tail(5).contains(COMPLETED) {
        return Err(Error::ToolIncomplete {
            tool: tool.name().to_owned(),
            detail: format!("no `{COMPLETED}` at the end of its output"),
            stderr_tail: finished.stderr_tail(TAIL_LINES),
            log: Some(log),
        });
    }
    Ok(started.elapsed())
}

/// The prepare's arguments. The only option file read is the one the backup carries
/// (`backup-my.cnf`: its InnoDB page size, log and undo layout): the tools read
/// `/etc/mysql/my.cnf` otherwise, whose `innodb_*` settings (meant for the running server,
/// maybe pointing outside the datadir) must not apply to the backup. Both tools accept a
/// single defaults option, first.
pub(super) fn prepare_args(staging: &Path) -> Vec<OsString> {
    let cnf = staging.join("backup-my.cnf");
    let defaults: OsString = if cnf.is_file() {
        let mut arg = OsString::from("--defaults-file=");
        arg.push(&cnf);
        arg
    } else {
        "--no-defaults".into()
    };
    let mut target = OsString::from("--target-dir=");
    target.push(staging);
    vec![defaults, "--prepare".into(), target]
}

/// Waits for the tool; when the job is cancelled meanwhile, kills it and fails.
pub(super) async fn wait_or_kill(
    ctx: &TaskCtx<'_>,
    running: Running,
    during: &str,
) -> Result<Finished> {
    let pid = running.pid();
    let waiting = running.wait();
    tokio::pin!(waiting);
    tokio::select! {
        finished = &mut waiting => Ok(finished?),
        _ = ctx.cancel.cancelled() => {
            if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = waiting.await;
            Err(interrupted(ctx, during))
        }
    }
}

pub(super) fn tool_failed(tool: &Program, finished: &Finished, log: PathBuf) -> Error {
    Error::ToolFailed {
        tool: tool.name().to_owned(),
        status: finished.status,
        stderr_tail: finished.stderr_tail(TAIL_LINES),
        log: Some(log),
    }
}
