//! The stream receiver: where agents' and legacy donors' streams arrive.
//!
//! Ferryman agents connect to the one well-known `stream-port` and open with the stream header
//! (job id + per-job token). A connection is handed to the job that expects it only when the
//! token matches, in constant time, a registered expectation; the expectation is then removed,
//! so a token works once. Anything else (unknown job, wrong token, reused token, garbage, a
//! raw stream, nothing within [`HEADER_WAIT`]) is refused, closed and logged, and the job that
//! waits is not disturbed.
//!
//! With `manager.tls-cert-file`, the port speaks mutual TLS (told apart from plain by the
//! client's first byte, see `ferryman_tls::stream`): a stream is handed to its job only when the
//! agent's certificate, issued by the fleet's CA, names the job's server (its `host` or one of
//! its addresses), and a plain stream is refused unless `manager.accept-plain-streams` allows
//! it. A refused stream whose token was right is remembered on its expectation, so that the job,
//! when its agent gives up, fails with the manager's reason as well as the agent's.
//!
//! Legacy donors (replication-manager's socat script) send raw bytes to a port taken from the
//! cluster's `scheduler-db-servers-sender-ports` pool: [`LegacyPort`] (`receiver/legacy.rs`)
//! listens there for one job, accepts only from the job's server address, and gives the port
//! back when dropped.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferryman_proto::{read_start, StreamHeader, StreamKind, StreamStart, StreamToken};
use ferryman_tls::{Conn, StreamTls};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::{Error, Result};

mod legacy;
pub use legacy::{LegacyPort, PortPool};

/// How long a connection may take to send its header before it is dropped.
pub const HEADER_WAIT: Duration = Duration::from_secs(10);

/// A stream handed to the job that expected it.
#[derive(Debug)]
pub struct Arrival {
    /// The connection, positioned after the header (Ferryman) or at `prefix`'s end (legacy).
    pub stream: Conn,
    /// Payload bytes already read while telling a legacy stream from a Ferryman one.
    pub prefix: Vec<u8>,
    /// Who connected.
    pub peer: SocketAddr,
    /// The payload is in blocks compressed on the node (the header's flag; only a backup).
    pub blocks: bool,
}

struct Expected {
    /// The node job id, once the row is inserted (0 until then: the token is what matters; the
    /// id in the header must agree once known).
    job_id: Arc<AtomicU64>,
    kind: StreamKind,
    token: StreamToken,
    /// The job's server: a stream from anywhere else is refused.
    from: Peer,
    /// Why a stream with this token was refused, the last time one was.
    refused: Refusal,
    deliver: oneshot::Sender<Arrival>,
}

/// Who may send a job's stream: its server's addresses, and over TLS, a certificate naming its
/// `host` or one of them.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The server's `host` as configured.
    pub host: String,
    /// Its addresses.
    pub addresses: Vec<IpAddr>,
}

impl Peer {
    /// The names a certificate of the server may hold.
    fn names(&self) -> Vec<String> {
        std::iter::once(self.host.clone())
            .chain(self.addresses.iter().map(IpAddr::to_string))
            .collect()
    }
}

/// The last reason a stream with a job's token was refused.
type Refusal = Arc<Mutex<Option<String>>>;

/// How the well-known port takes streams: TLS with the manager's certificate, and whether plain
/// streams are still accepted.
#[derive(Debug, Clone, Default)]
pub struct Security {
    /// The manager's TLS (`manager.tls-cert-file`); `None`: plain streams only.
    pub tls: Option<StreamTls>,
    /// `manager.accept-plain-streams`.
    pub accept_plain: bool,
}

/// The expectations of the well-known port: which job waits for which token.
#[derive(Clone, Default)]
pub struct Expectations {
    inner: Arc<Mutex<Vec<Expected>>>,
}

impl std::fmt::Debug for Expectations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.inner.lock().map(|v| v.len()).unwrap_or(0);
        f.debug_struct("Expectations").field("waiting", &n).finish()
    }
}

/// A registered expectation: await [`Waiting::arrival`]; dropping it withdraws the token.
#[derive(Debug)]
pub struct Waiting {
    rx: oneshot::Receiver<Arrival>,
    registry: Expectations,
    token: StreamToken,
    job_id: Arc<AtomicU64>,
    refused: Refusal,
}

impl Waiting {
    /// Why the manager refused a stream that carried this job's token, if it did.
    pub fn refusal(&self) -> Option<String> {
        self.refused.lock().ok().and_then(|r| r.clone())
    }

    /// Records the node job id once the row exists (the header must then carry it).
    pub fn set_job_id(&self, id: u64) {
        self.job_id.store(id, Ordering::SeqCst);
    }

    /// The stream, once an agent presented the token. `None` if the receiver shut down.
    pub async fn arrival(&mut self) -> Option<Arrival> {
        (&mut self.rx).await.ok()
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.registry.withdraw(&self.token);
    }
}

impl Expectations {
    /// Registers that a job expects a `kind` stream authenticated by `token`, from one of the
    /// addresses `from` (the job's server). Register *before* inserting the job row, so that
    /// no agent can connect before the manager listens for it.
    pub fn expect(&self, kind: StreamKind, token: StreamToken, from: Peer) -> Waiting {
        let (tx, rx) = oneshot::channel();
        let job_id = Arc::new(AtomicU64::new(0));
        let refused = Refusal::default();
        if let Ok(mut list) = self.inner.lock() {
            list.push(Expected {
                job_id: Arc::clone(&job_id),
                kind,
                token: token.clone(),
                from,
                refused: Arc::clone(&refused),
                deliver: tx,
            });
        }
        Waiting {
            rx,
            registry: self.clone(),
            token,
            job_id,
            refused,
        }
    }

    fn withdraw(&self, token: &StreamToken) {
        if let Ok(mut list) = self.inner.lock() {
            list.retain(|e| !e.token.ct_eq(token));
        }
    }

    /// Takes the expectation matching `header` from `peer` on `conn`, if any. Every registered
    /// token is compared, in constant time each; a refused stream leaves the expectation in
    /// place for the real agent, with the reason.
    fn take(
        &self,
        header: &StreamHeader,
        peer: IpAddr,
        conn: &Conn,
        security: &Security,
    ) -> std::result::Result<oneshot::Sender<Arrival>, String> {
        let Ok(mut list) = self.inner.lock() else {
            return Err("the receiver's registry is unusable".to_owned());
        };
        let mut found = None;
        for (i, e) in list.iter().enumerate() {
            if e.token.ct_eq(&header.token) {
                found = Some(i);
            }
        }
        let Some(pos) = found else {
            return Err(
                "no job expects this token (unknown, wrong, finished, or already used)".to_owned(),
            );
        };
        let e = &list[pos];
        let id = e.job_id.load(Ordering::SeqCst);
        let refusal = if id != 0 && id != header.job_id {
            Some("the header's job id is not the token's job".to_owned())
        } else if e.kind != header.kind {
            Some("the stream's kind is not the one the job expects".to_owned())
        } else if header.blocks && header.kind != StreamKind::Backup {
            Some(format!(
                "a {} stream in compressed blocks, which only a backup may be",
                header.kind
            ))
        } else if !e.from.addresses.contains(&peer) {
            Some(format!(
                "the stream came from {peer}, not from the job's server `{}` ({})",
                e.from.host,
                list_addresses(&e.from.addresses)
            ))
        } else if conn.is_tls() && !conn.peer_is(&e.from.names()) {
            Some(format!(
                "the agent's certificate ({}) does not name the job's server {}: give the \
                 agent of {} a certificate for its host (`ferryman tls init --agent {}`)",
                conn.peer_description(),
                e.from.host,
                e.from.host,
                e.from.host
            ))
        } else if !conn.is_tls() && security.tls.is_some() && !security.accept_plain {
            Some(format!(
                "a plain stream, and this manager takes streams over TLS only: give the agent \
                 of {} `agent.tls-cert-file`, `agent.tls-key-file` and `agent.tls-ca-file` \
                 (`ferryman tls init --agent {}`), or set `manager.accept-plain-streams = true` \
                 while agents are given certificates",
                e.from.host, e.from.host
            ))
        } else {
            None
        };
        if let Some(why) = refusal {
            if let Ok(mut last) = e.refused.lock() {
                *last = Some(why.clone());
            }
            return Err(why);
        }
        Ok(list.swap_remove(pos).deliver)
    }
}

/// Serves the well-known port until `cancel`: every connection is checked and either handed to
/// its job or refused.
pub async fn serve(
    listener: TcpListener,
    expectations: Expectations,
    security: Security,
    cancel: CancellationToken,
) {
    // Admissions in progress: each ends within HEADER_WAIT, and shutdown waits for them.
    let admitting = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "stream receiver: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = cancel.cancelled() => break,
        };
        let expectations = expectations.clone();
        let security = security.clone();
        admitting.spawn(
            async move {
                if let Err(why) = admit(stream, peer, &expectations, &security).await {
                    tracing::warn!(reason = %why, "stream refused");
                }
            }
            .instrument(tracing::info_span!("admit", %peer)),
        );
    }
    admitting.close();
    admitting.wait().await;
}

async fn admit(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    expectations: &Expectations,
    security: &Security,
) -> std::result::Result<(), String> {
    let _ = tcp.set_nodelay(true);
    let opening = async {
        let tls = ferryman_tls::opens_tls(&tcp)
            .await
            .map_err(|e| format!("cannot read from the connection: {e}"))?;
        let mut stream = match (tls, &security.tls) {
            (false, _) => Conn::Plain(tcp),
            (true, Some(ours)) => ours
                .accept(tcp)
                .await
                .map_err(|e| format!("TLS handshake failed: {e}"))?,
            (true, None) => {
                return Err("a TLS stream, and this manager has no certificate: set \
                            `manager.tls-cert-file`, `tls-key-file` and `tls-ca-file`, or remove \
                            the agent's `agent.tls-cert-file`"
                    .to_owned())
            }
        };
        let start = read_start(&mut stream)
            .await
            .map_err(|e| format!("bad header: {e}"))?;
        Ok((stream, start))
    };
    let (stream, start) = tokio::time::timeout(HEADER_WAIT, opening)
        .await
        .map_err(|_| format!("no header within {} s", HEADER_WAIT.as_secs()))??;
    let header = match start {
        StreamStart::Ferryman(h) => h,
        StreamStart::Raw { .. } => {
            return Err("a raw stream on the Ferryman port (legacy donors stream to a port of scheduler-db-servers-sender-ports)".to_owned())
        }
    };
    let deliver = expectations
        .take(&header, peer.ip(), &stream, security)
        .map_err(|why| format!("job {}: {why}", header.job_id))?;
    if !stream.is_tls() && security.tls.is_some() {
        tracing::warn!(%peer, node_job_id = header.job_id, "a plain stream accepted (manager.accept-plain-streams): give this agent a certificate");
    }
    tracing::info!(%peer, node_job_id = header.job_id, kind = header.kind.as_str(), tls = stream.is_tls(), "stream accepted");
    deliver
        .send(Arrival {
            stream,
            prefix: Vec::new(),
            peer,
            blocks: header.blocks,
        })
        .map_err(|_| {
            format!(
                "job {} stopped waiting just as its stream arrived",
                header.job_id
            )
        })
}

/// Where streams are expected: tokens on the well-known port, and each cluster's pool of
/// legacy donor ports.
#[derive(Debug)]
pub struct Streams {
    expectations: Expectations,
    pools: HashMap<String, PortPool>,
    security: Security,
}

/// How a job's stream will reach the manager, registered before its row is written.
#[derive(Debug)]
pub enum Incoming {
    /// On the well-known port, with the job's token.
    Token(Waiting),
    /// On a legacy port of the cluster's pool.
    Legacy(LegacyPort),
}

impl Incoming {
    /// The port the row names: a legacy port's own, else `stream_port`.
    pub fn port(&self, stream_port: u16) -> u16 {
        match self {
            Incoming::Token(_) => stream_port,
            Incoming::Legacy(port) => port.port(),
        }
    }

    /// Records the node job id once the row exists (a token's header must then carry it).
    pub fn set_job_id(&self, id: u64) {
        if let Incoming::Token(w) = self {
            w.set_job_id(id);
        }
    }

    /// Why the manager refused a stream with this job's token, if it did.
    pub fn refusal(&self) -> Option<String> {
        match self {
            Incoming::Token(w) => w.refusal(),
            Incoming::Legacy(_) => None,
        }
    }

    /// The stream, once it arrived; `None` when the receiver shut down or `cancel` fired.
    pub async fn arrival(&mut self, cancel: &CancellationToken) -> Option<Arrival> {
        match self {
            Incoming::Token(w) => w.arrival().await,
            Incoming::Legacy(port) => port.accept(cancel).await,
        }
    }
}

impl Streams {
    /// No stream expected yet; one pool of legacy ports per cluster; the manager's TLS for
    /// streams from `manager.tls-cert-file`, `tls-key-file` and `tls-ca-file` (read now).
    pub fn new(config: &ferryman_config::Config) -> Result<Streams> {
        let m = &config.manager;
        let tls = match (&m.tls, &m.tls_ca_file) {
            (Some(id), Some(ca)) => Some(StreamTls::load(&id.cert_file, &id.key_file, ca)?),
            _ => None,
        };
        Ok(Streams {
            security: Security {
                tls,
                accept_plain: m.accept_plain_streams,
            },
            expectations: Expectations::default(),
            pools: config
                .clusters
                .iter()
                .map(|c| (c.name.clone(), PortPool::new(&c.name, &c.sender_ports)))
                .collect(),
        })
    }

    /// How the well-known port takes streams.
    pub fn security(&self) -> Security {
        self.security.clone()
    }

    /// The manager's TLS for streams, which reseed payloads to joiners use too.
    pub fn tls(&self) -> Option<&StreamTls> {
        self.security.tls.as_ref()
    }

    /// The expectations the well-known port serves.
    pub fn expectations(&self) -> Expectations {
        self.expectations.clone()
    }

    /// Registers a `kind` stream from `from` (the job's server) with a new token on the
    /// well-known port; returns it with the token to put in the row.
    pub fn expect_token(
        &self,
        kind: StreamKind,
        from: Peer,
    ) -> Result<(Incoming, ferryman_jobs::Token)> {
        let token = ferryman_jobs::Token::generate()?;
        let waiting = self.expectations.expect(kind, token.stream_token()?, from);
        Ok((Incoming::Token(waiting), token))
    }

    /// Binds a free legacy port of `cluster`'s pool on `bind`, for a donor at `from`.
    pub async fn expect_legacy(
        &self,
        cluster: &str,
        bind: &str,
        from: Vec<IpAddr>,
    ) -> Result<Incoming> {
        let pool = self.pools.get(cluster).ok_or_else(|| Error::NoLegacyPort {
            cluster: cluster.to_owned(),
        })?;
        Ok(Incoming::Legacy(pool.take(bind, from).await?))
    }
}

fn list_addresses(addresses: &[IpAddr]) -> String {
    addresses
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The addresses of `host` (a name or a literal), for checking where a stream comes from.
pub async fn addresses(host: &str) -> Result<Vec<IpAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let found: Vec<IpAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|source| Error::Resolve {
            host: host.to_owned(),
            source,
        })?
        .map(|a| a.ip())
        .collect();
    Ok(found)
}
