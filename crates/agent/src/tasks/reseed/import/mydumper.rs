//! Step 3 of a reseed from a mydumper backup: the archive is extracted as it arrives into a
//! directory of the import server's run directory, then `myloader` loads it with one thread per
//! CPU (`ferryman_mariadbd::load`) into the import server, which the reseed then shuts down and
//! swaps in like an imported dump.
//!
//! The extracted files take as much room as the dump, next to the datadir, until the load
//! ends; they are removed right after it, whatever its outcome (and with the run directory on
//! any error).

use std::os::unix::fs::DirBuilderExt;
use std::time::Instant;

use ferryman_exec::Program;
use ferryman_mariadbd::load::{
    find_metadata, loader_threads, myloader_args, myloader_failed, write_myloader_cnf,
};
use ferryman_proto::mydumper::METADATA;

use super::super::receive::{self, wait_or_kill, Payload};
use super::super::{files, Plan, TaskCtx};
use super::{ImportServer, Imported};
use crate::tasks::drain_stdout;
use crate::tasks::logical::Metadata;
use crate::{Error, Result};

/// Debian package of `myloader`.
const MYDUMPER_PACKAGE: &str = "mydumper";

/// The programs a reseed from a mydumper backup runs beyond the import server.
#[derive(Debug)]
pub(in crate::tasks::reseed) struct ArchiveTools {
    tar: Program,
    myloader: Program,
}

impl ArchiveTools {
    pub fn find() -> Result<ArchiveTools> {
        Ok(ArchiveTools {
            tar: Program::find("tar", "tar")?,
            myloader: Program::find("myloader", MYDUMPER_PACKAGE)?,
        })
    }
}

impl ImportServer {
    /// Extracts the payload (a tar of mydumper's directory) and loads it with `myloader`.
    /// Succeeds only when the payload's trailer matched, tar exited 0, the archive's
    /// `metadata` says the dump finished and myloader loaded every file.
    pub async fn load_mydumper(
        &self,
        ctx: &TaskCtx<'_>,
        plan: &Plan,
        tools: &ArchiveTools,
        mut payload: Payload,
    ) -> Result<Imported> {
        let started = Instant::now();
        let load = self.layout.root().join("load");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&load)
            .map_err(Error::io(
                "create the directory for the extracted archive",
                &load,
            ))?;
        let outcome = self
            .extract_and_load(ctx, plan, tools, &mut payload, &load)
            .await;
        files::remove_quietly(&load).await;
        let metadata = outcome?;
        Ok(Imported {
            bytes: payload.total(),
            took: started.elapsed(),
            gtid: metadata.coordinates.gtid,
        })
    }

    async fn extract_and_load(
        &self,
        ctx: &TaskCtx<'_>,
        plan: &Plan,
        tools: &ArchiveTools,
        payload: &mut Payload,
        load: &std::path::Path,
    ) -> Result<Metadata> {
        let args = [
            "-x".as_ref(),
            "-f".as_ref(),
            "-".as_ref(),
            // myloader reads the files as the agent's user, whoever made the archive.
            "--no-same-owner".as_ref(),
            "-C".as_ref(),
            load.as_os_str(),
        ];
        let (running, log) = ctx.spawn_tool_with(&tools.tar, "tar-extract", args, true)?;
        let expected = plan.params.payload_bytes;
        ctx.progress.set_phase(receive::receiving(0, expected));
        receive::Fed {
            program: &tools.tar,
            running,
            log,
            during: "receiving the mydumper archive",
            finishing: "receiving: tar finishing".to_owned(),
        }
        .feed(ctx, payload, |_, total| {
            ctx.progress.set_phase(receive::receiving(total, expected))
        })
        .await?;

        let search = load.to_owned();
        let dir = tokio::task::spawn_blocking(move || find_metadata(&search))
            .await
            .map_err(|e| Error::Read {
                what: "the extracted archive".to_owned(),
                source: std::io::Error::other(e.to_string()),
            })?
            .ok_or_else(|| Error::Dump {
                problem: "holds no mydumper `metadata` file, so it is not a mydumper backup (or \
                          was cut short before mydumper finished)"
                    .to_owned(),
            })?;
        let text = std::fs::read_to_string(dir.join(METADATA))
            .map_err(Error::io("read", dir.join(METADATA)))?;
        let metadata = Metadata::parse(&text);
        if !metadata.finished {
            return Err(Error::Dump {
                problem: "has a `metadata` file without `Finished dump at`, so mydumper was \
                          cut short"
                    .to_owned(),
            });
        }

        let cnf = self.layout.root().join("myloader.cnf");
        write_myloader_cnf(&cnf).map_err(Error::io("write", &cnf))?;
        let threads = loader_threads();
        ctx.progress.set_phase(format!(
            "loading the backup with myloader ({threads} threads)"
        ));
        let (mut running, log) = ctx.spawn_tool(
            &tools.myloader,
            "myloader",
            myloader_args(&cnf, &dir, &self.layout.socket(), threads),
        )?;
        let drain = drain_stdout(&mut running);
        let finished = wait_or_kill(ctx, running, "loading the backup with myloader").await?;
        if let Some(d) = drain {
            let _ = d.await;
        }
        if myloader_failed(&finished) {
            return Err(Error::Dump {
                problem: format!(
                    "could not be loaded by myloader ({}): {}; see {}",
                    finished.status,
                    finished.stderr_tail(receive::TAIL_LINES),
                    log.display()
                ),
            });
        }
        tracing::info!(threads, "mydumper backup loaded");
        Ok(metadata)
    }
}
