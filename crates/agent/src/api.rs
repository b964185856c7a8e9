//! The agent's HTTP API: what orchestrator-agent answers about its host, for the manager to
//! pass on (`ferryman node ...`). Off unless the served server has `agent-api-port`; every
//! route but `/api/health` needs the manager's API token (`agent.api-token-file`); HTTPS with
//! `agent.tls-cert-file`, from a client whose certificate `agent.tls-ca-file` issued.
//!
//! The API never changes what the jobs table decides: it reads the server and its host, and
//! its service routes take the agent's [`Busy`] first, so they never interrupt a job.
//!
//! # Layout
//! - `api.rs`: binding, the router, the shared state ([`NodeApi`]).
//! - `api/mysqld.rs`: `GET mysqld` (status), `POST mysqld/{start,stop,restart}`.
//! - `api/detect.rs`: port, datadir, logs, version and option files, against the
//!   configuration.
//! - `api/option_files.rs`: the option files the server reads and what they set.
//! - `api/disk.rs`: the datadir's and the staging directory's file systems.
//! - `api/error_log.rs`: the error log's tail, and following it.
//! - `api/replicas.rs`: the replicas the server knows of.
//! - `api/snapshots.rs`: the server's snapshots: listed, taken, mounted, removed.

mod detect;
mod disk;
mod error_log;
mod mysqld;
mod option_files;
mod replicas;
mod snapshots;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::middleware;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use ferryman_config::ServerConfig;
use ferryman_db::Endpoint;
use ferryman_http::{ApiError, Bearer, Limits};
use ferryman_proto::node_api::NODE_PREFIX;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::busy::Busy;
use crate::{Agent, Error, Result};

/// A request's headers are due within this.
const HEADER_READ: Duration = Duration::from_secs(10);
/// A silent connection is closed after this (no answer waits longer: service actions answer
/// within `mysqld::ANSWER_WITHIN`, a followed log within `MAX_FOLLOW_WAIT_S`).
const IDLE: Duration = Duration::from_secs(60);
/// Connections open at once (the manager and a few DBAs).
const MAX_CONNECTIONS: usize = 64;

/// What every route reads.
#[derive(Debug)]
pub(crate) struct NodeApi {
    /// The served server.
    pub(crate) server: ServerConfig,
    /// How to log in to it.
    pub(crate) endpoint: Endpoint,
    /// The backup staging directory (`agent.work-dir`).
    pub(crate) staging: PathBuf,
    /// The agent's directory for this server (`agent.work-dir/<server>`).
    pub(crate) server_dir: PathBuf,
    /// Held by the running job, and by a service action.
    pub(crate) busy: Busy,
    /// The error log's path as the server last said it, for when it is down.
    pub(crate) error_log: std::sync::Mutex<Option<PathBuf>>,
    /// Service actions that outlive their answer: waited for when the API stops.
    pub(crate) actions: TaskTracker,
}

type Shared = Arc<NodeApi>;

/// The API bound and ready to serve.
pub(crate) struct Bound {
    state: Shared,
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    address: SocketAddr,
}

/// Binds the API when the server has `agent-api-port`: `None` when it has none. Errors (no
/// token, a token file others may read, a bad certificate, a port in use) stop the agent at
/// start with the next step.
pub(crate) async fn bind(agent: &Agent) -> Result<Option<Bound>> {
    let Some(port) = agent.server.agent_api_port else {
        return Ok(None);
    };
    let Some(token_file) = &agent.settings.api_token_file else {
        return Err(Error::ApiTokenMissing {
            server: agent.server.name.clone(),
        });
    };
    let token = read_token(token_file)?;
    let tls = match (&agent.settings.tls, &agent.settings.tls_ca_file) {
        (Some(id), Some(ca)) => {
            let mut config = ferryman_tls::server_config(&id.cert_file, &id.key_file, Some(ca))?;
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Some(TlsAcceptor::from(Arc::new(config)))
        }
        _ => None,
    };
    let address = format!("{}:{port}", agent.settings.api_bind_address);
    let listener = TcpListener::bind(&address)
        .await
        .map_err(|source| Error::ApiBind {
            address: address.clone(),
            source,
        })?;
    let address = listener
        .local_addr()
        .map_err(|source| Error::ApiBind { address, source })?;
    let state = Arc::new(NodeApi {
        server: agent.server.clone(),
        endpoint: agent.endpoint.clone(),
        staging: agent.settings.work_dir.clone(),
        server_dir: agent.work_dir.clone(),
        busy: agent.busy.clone(),
        error_log: Default::default(),
        actions: TaskTracker::new(),
    });
    let bearer = Bearer::new(
        vec![ferryman_http::digest(&token)],
        format!(
            "the agent takes the manager's API token, from `agent.api-token-file` ({})",
            token_file.display()
        ),
    );
    Ok(Some(Bound {
        state: Arc::clone(&state),
        listener,
        router: router(state, bearer),
        tls,
        address,
    }))
}

/// Serves a bound API until `shutdown`.
pub(crate) async fn serve(bound: Bound, server: &str, shutdown: CancellationToken) {
    let scheme = if bound.tls.is_some() { "https" } else { "http" };
    tracing::info!(%server, address = %bound.address, scheme, "agent HTTP API listening");
    let limits = Limits::new(
        HEADER_READ,
        IDLE,
        MAX_CONNECTIONS,
        "(fixed for the agent's API: 64)",
    );
    ferryman_http::run(bound.listener, bound.router, limits, bound.tls, shutdown).await;
    // A start or stop still settling ends before the agent does (it holds `Busy`).
    bound.state.actions.close();
    bound.state.actions.wait().await;
    tracing::info!(%server, "agent HTTP API stopped");
}

fn router(state: Shared, bearer: Bearer) -> Router {
    let at = |rest: &str| format!("{NODE_PREFIX}/{rest}");
    let authenticated = Router::new()
        .route(&at("mysqld"), get(mysqld::status))
        .route(&at("mysqld/{action}"), post(mysqld::act))
        .route(&at("detect"), get(detect::detect))
        .route(&at("disk"), get(disk::disk))
        .route(&at("error-log"), get(error_log::error_log))
        .route(&at("replicas"), get(replicas::replicas))
        .route(&at("snapshots"), get(snapshots::list).post(snapshots::take))
        .route(&at("snapshots/{name}"), delete(snapshots::remove))
        .route(&at("snapshots/{name}/mount"), post(snapshots::mount))
        .route(&at("snapshots/{name}/unmount"), post(snapshots::unmount))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            bearer,
            ferryman_http::require,
        ));
    Router::new()
        .route("/api/health", get(health))
        .merge(authenticated)
        .with_state(state)
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!(
        "no route {} on the agent: its routes are {NODE_PREFIX}/mysqld, mysqld/start|stop|restart, detect, disk, error-log, replicas, snapshots, snapshots/NAME, snapshots/NAME/mount|unmount",
        ferryman_http::clip(uri.path())
    ))
}

/// The token in `path`: a 0600 regular file, less one trailing newline.
fn read_token(path: &std::path::Path) -> Result<String> {
    let failed = |reason: String| Error::ApiToken {
        path: path.to_owned(),
        reason,
    };
    let mut text = ferryman_proto::private_file::read(path).map_err(|e| failed(e.to_string()))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.is_empty() {
        return Err(failed("it is empty".to_owned()));
    }
    Ok(text)
}

/// A failure to read the server, as the API answers it: 503 when the server does not answer
/// (nothing is wrong with the agent), 500 otherwise.
pub(crate) fn unavailable(e: &Error) -> ApiError {
    let status = match e {
        Error::Db(_) => axum::http::StatusCode::SERVICE_UNAVAILABLE,
        _ => axum::http::StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiError::new(status, e.to_string())
}
