//! One joiner of a reseed from the manager's side: its sealed row, the connection to its
//! listener, the payload's frames, and following it to its end across its server's restart.

use std::time::Duration;

use ferryman_config::{ClusterConfig, ServerConfig};
use ferryman_jobs::{JobStatus, Outcome, Token};
use ferryman_proto::{FrameWriter, ReseedParams, StreamHeader, StreamKind, Task};
use ferryman_tls::Conn;
use tokio::net::TcpStream;
use tracing::Instrument;

use crate::node_job::{NodeJob, Route};
use crate::registry::{JobHandle, JobState};
use crate::{Error, Result, Services};

/// One connection attempt to a joiner.
const CONNECT_ATTEMPT: Duration = Duration::from_secs(2);
/// How long the TLS handshake with a listening joiner may take.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// The pause between connection attempts once the joiner's agent took its row: it listens as
/// soon as it has checked its server, and a refused connection costs nothing.
const CONNECT_RETRY: Duration = Duration::from_millis(20);

/// A joiner connected and ready for the payload.
pub(super) struct Joiner<'a> {
    pub(super) server: &'a ServerConfig,
    pub(super) job: &'a JobHandle,
    node: NodeJob,
    /// Until the end marker is sent.
    pub(super) writer: Option<FrameWriter<Conn>>,
}

/// Writes the joiner's row (taking a receiver port of the cluster), waits for its agent to
/// listen, connects and sends the header. Errors carry the port taken, to give back.
pub(super) async fn prepare<'a>(
    services: &Services,
    cluster: &ClusterConfig,
    server: &'a ServerConfig,
    job: &'a JobHandle,
    task: Task,
    params: &ReseedParams,
) -> std::result::Result<(Joiner<'a>, u16), (Error, Option<u16>)> {
    let Some(port) = services.reseeds.take_port(cluster) else {
        return Err((
            Error::Refused(format!(
                "every port of cluster `{}`'s scheduler-db-servers-receiver-ports ({}) is used by \
                 a running reseed; wait for it, or list more ports",
                cluster.name,
                cluster
                    .receiver_ports
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            )),
            None,
        ));
    };
    connect(services, cluster, server, job, task, params, port)
        .instrument(job.span())
        .await
        .map(|j| (j, port))
        .map_err(|e| (e, Some(port)))
}

async fn connect<'a>(
    services: &Services,
    cluster: &ClusterConfig,
    server: &'a ServerConfig,
    job: &'a JobHandle,
    task: Task,
    params: &ReseedParams,
    port: u16,
) -> Result<Joiner<'a>> {
    let token = Token::generate()?;
    // Sealed for this joiner: its agent restores nothing from a row the manager did not write.
    let mut params = params.clone();
    params.target = Some(server.name.clone());
    params.issued_at = Some(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default(),
    );
    params.seal = Some(services.row_key.seal(task, port, token.expose(), &params));
    let params_json = serde_json::to_value(&params).map_err(|e| Error::Reseed {
        server: server.name.clone(),
        detail: format!("cannot encode the job's parameters: {e}"),
    })?;
    let route = Route {
        port: Some(port),
        token: Some(&token),
        params: Some(&params_json),
    };
    let mut node = NodeJob::enqueue(services, job, cluster, server, task, route).await?;
    let address = format!("{}:{port}", server.host);
    // Connect only once the agent took the row: before, the port may still be held by a
    // listener of the agent's previous job.
    let taken = node.taken();
    let tls = services.streams.tls();
    let listening = async {
        taken.await;
        let tcp = loop {
            match tokio::time::timeout(CONNECT_ATTEMPT, TcpStream::connect(&address)).await {
                Ok(Ok(stream)) => break stream,
                Ok(Err(e)) => tracing::trace!(%address, error = %e, "joiner not listening yet"),
                Err(_) => tracing::debug!(%address, "joiner connection attempt timed out"),
            }
            tokio::time::sleep(CONNECT_RETRY).await;
        };
        let _ = tcp.set_nodelay(true);
        Some(match tls {
            None => Ok(Conn::Plain(tcp)),
            // The joiner's listener is up: a failed handshake will not mend by retrying.
            Some(tls) => tokio::time::timeout(HANDSHAKE, tls.connect(tcp, &server.host))
                .await
                .map_err(|_| format!("no TLS handshake within {} s", HANDSHAKE.as_secs()))
                .and_then(|r| r.map_err(|e| e.to_string())),
        })
    };
    let handshake = match node.until(listening).await {
        Ok(handshake) => handshake,
        Err(e) => {
            node.close().await;
            return Err(e);
        }
    };
    let mut stream = match handshake {
        Ok(stream) => stream,
        Err(why) => {
            let e = Error::Reseed {
                server: server.name.clone(),
                detail: format!(
                    "the TLS handshake with the joiner's agent at {address} failed ({why}); \
                     the manager sends reseeds over TLS because it has `manager.tls-cert-file`: \
                     the agent of `{}` needs `agent.tls-cert-file`, `tls-key-file` and \
                     `tls-ca-file`, with a certificate naming `{}` issued by the fleet's CA",
                    server.name, server.host
                ),
            };
            node.cancel(&e.to_string()).await;
            node.close().await;
            return Err(e);
        }
    };
    let header = StreamHeader::new(StreamKind::Reseed, node.id().0, token.stream_token()?);
    if let Err(e) = ferryman_proto::write_header(&mut stream, &header).await {
        let e = Error::Reseed {
            server: server.name.clone(),
            detail: format!("cannot send the stream header to {address}: {e}"),
        };
        node.cancel(&e.to_string()).await;
        node.close().await;
        return Err(e);
    }
    job.update(|r| {
        r.state = JobState::Receiving;
        r.phase = format!("streaming to {address}");
    });
    Ok(Joiner {
        server,
        job,
        node,
        writer: Some(FrameWriter::unhashed(stream)),
    })
}

impl Joiner<'_> {
    /// Resets the stream, takes the row off the node's queue, fails the job.
    pub(super) async fn drop_with(mut self, task: Task, e: &Error) {
        if let Some(w) = self.writer.take() {
            abort(w.into_inner());
        }
        self.node.cancel(&e.to_string()).await;
        self.node.close().await;
        fail(self.job, &self.server.name, task, e);
    }

    /// Writes one chunk, unless the job is cancelled first.
    pub(super) async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        tokio::select! {
            r = w.write(chunk) => r.map_err(|e| Error::Reseed {
                server: self.server.name.clone(),
                detail: format!(
                    "the stream to the joiner broke after {} bytes: {e}; see the job's node \
                     result and the agent's log",
                    w.total()
                ),
            }),
            _ = self.job.cancelled().cancelled() => Err(Error::Cancelled),
        }
    }

    /// The reason the stream broke: the node's own words when it records them soon.
    pub(super) async fn explain(&mut self, e: Error) -> Error {
        self.node.explain(e).await
    }

    /// Follows the joiner that has its payload until its row is done (`NodeJob::follow`: the
    /// joiner's server stops and starts during the swap, and for a moment holds the donor's
    /// jobs table), then ends its job. The agent itself puts the old data back if the restore
    /// fails, and records that.
    pub(super) async fn follow(self, task: Task) {
        let Joiner {
            server,
            job,
            mut node,
            ..
        } = self;
        let res = node.follow().await.and_then(|row| {
            let result = row.result.clone();
            job.update(|r| r.node_result = result);
            match row.status() {
                JobStatus::Done(Outcome::Success) => Ok(()),
                _ => Err(node.failed(row.result.unwrap_or_default())),
            }
        });
        node.close().await;
        match res {
            Ok(()) => {
                tracing::info!("reseed succeeded");
                job.finish(JobState::Succeeded, None);
            }
            Err(e) => fail(job, &server.name, task, &e),
        }
    }
}

/// Ends a joiner's job as failed (or cancelled).
pub(super) fn fail(job: &JobHandle, server: &str, task: Task, e: &Error) {
    let state = if matches!(e, Error::Cancelled) {
        JobState::Cancelled
    } else {
        JobState::Failed
    };
    tracing::warn!(job_id = job.id(), %server, %task, error = %e, "reseed job failed");
    job.finish(state, Some(e.to_string()));
}

/// Resets the connection: the joiner must see an error, never a clean end.
fn abort(stream: Conn) {
    stream.reset();
}
