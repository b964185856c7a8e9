//! A server's node agent asked through the manager (`ferryman node ...`): its answers passed
//! on as they come (status, headers, body; a followed log streamed), the replicas it finds
//! compared with the configuration. See `node_api.rs` for the calls.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use ferryman_config::ServerConfig;
use ferryman_proto::node_api::{Replicas, LOG_FILE_HEADER, LOG_OFFSET_HEADER, LOG_PATH_HEADER};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{bad_path, cluster, Reply};
use crate::api::error::clip;
use crate::api::openapi::ErrorBody;
use crate::api::ApiError;
use crate::node_api::{name_replicas, NodeApiClient};
use crate::Services;

/// The headers of an agent's answer passed on.
const PASSED: [&str; 3] = [LOG_FILE_HEADER, LOG_OFFSET_HEADER, LOG_PATH_HEADER];

/// The cluster's server called `server`, or a 404 naming the cluster's servers.
fn server(services: &Services, cluster_name: &str, server: &str) -> Reply<ServerConfig> {
    let c = cluster(services, cluster_name)?;
    c.servers
        .iter()
        .find(|s| s.name == server)
        .cloned()
        .ok_or_else(|| {
            let known: Vec<&str> = c.servers.iter().map(|s| s.name.as_str()).collect();
            ApiError::not_found(format!(
                "no server `{}` in cluster `{}`; its servers: {}",
                clip(server),
                c.name,
                known.join(", ")
            ))
        })
}

/// An agent's answer as the manager's.
fn pass_on(answer: reqwest::Response) -> Response {
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut headers = Vec::new();
    for name in std::iter::once(header::CONTENT_TYPE.as_str()).chain(PASSED) {
        if let Some(value) = answer.headers().get(name) {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                header::HeaderValue::from_bytes(value.as_bytes()),
            ) {
                headers.push((n, v));
            }
        }
    }
    let mut response = Body::from_stream(answer.bytes_stream()).into_response();
    *response.status_mut() = status;
    response.headers_mut().extend(headers);
    response
}

async fn get(
    services: &Services,
    client: &NodeApiClient,
    at: (String, String),
    rest: &str,
    query: Option<String>,
) -> Reply<Response> {
    forward(services, client, at, reqwest::Method::GET, rest, query).await
}

/// `method NODE_PREFIX/rest?query` on the agent of server `at.1` of cluster `at.0`, its answer
/// passed on.
pub(super) async fn forward(
    services: &Services,
    client: &NodeApiClient,
    (cluster, name): (String, String),
    method: reqwest::Method,
    rest: &str,
    query: Option<String>,
) -> Reply<Response> {
    let server = server(services, &cluster, &name)?;
    let answer = client
        .request(&server, method, rest, query.as_deref())
        .await?;
    Ok(pass_on(answer))
}

/// `GET /api/v1/clusters/{cluster}/servers/{server}/node/mysqld`.
#[utoipa::path(
    get,
    path = "/api/v1/clusters/{cluster}/servers/{server}/node/mysqld",
    tag = "node",
    summary = "The database server's status as its agent sees it: answering, version, uptime, process, a job in progress",
    params(("cluster" = String, Path), ("server" = String, Path)),
    responses(
        (status = 200, description = "The status.", body = Object),
        (status = 409, description = "The server has no `agent-api-port`.", body = ErrorBody),
        (status = 502, description = "Its agent cannot be reached, or refused the token.", body = ErrorBody),
    )
)]
pub(in crate::api) async fn node_mysqld(
    State(services): State<Arc<Services>>,
    Extension(client): Extension<NodeApiClient>,
    path: Result<UrlPath<(String, String)>, PathRejection>,
) -> Reply<Response> {
    let UrlPath(at) = path.map_err(bad_path)?;
    get(&services, &client, at, "mysqld", None).await
}

/// The body of a service action.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::api) struct ActionRequest {
    /// Required true for `stop` and `restart`.
    #[serde(default)]
    confirm: bool,
}

/// What a service action answers (the agent's words).
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct ActionOutcome {
    /// `start`, `stop` or `restart`.
    action: String,
    /// The command's outcome and the server's state after it.
    result: String,
}

/// `POST /api/v1/clusters/{cluster}/servers/{server}/node/mysqld/{action}`.
#[utoipa::path(
    post,
    path = "/api/v1/clusters/{cluster}/servers/{server}/node/mysqld/{action}",
    tag = "node",
    summary = "Start, stop or restart the database service now, through its agent (the configured service command); refused while a job runs on the server",
    params(("cluster" = String, Path), ("server" = String, Path), ("action" = String, Path, description = "start, stop or restart")),
    request_body = ActionRequest,
    responses(
        (status = 200, description = "Done: the server answers (start, restart) or not (stop).", body = ActionOutcome),
        (status = 202, description = "The command ran; the server is still starting or stopping.", body = ActionOutcome),
        (status = 409, description = "A job runs on the server, or it has no `agent-api-port`.", body = ErrorBody),
        (status = 502, description = "Its agent cannot be reached.", body = ErrorBody),
    )
)]
pub(in crate::api) async fn node_action(
    State(services): State<Arc<Services>>,
    Extension(client): Extension<NodeApiClient>,
    path: Result<UrlPath<(String, String, String)>, PathRejection>,
    body: axum::body::Bytes,
) -> Reply<Response> {
    let UrlPath((cluster, name, action)) = path.map_err(bad_path)?;
    // The body may be left out (a start needs no confirmation).
    let request: ActionRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ActionRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!(
                "the body is not what this route takes ({e}); send JSON like {{\"confirm\": true}}"
            ))
        })?
    };
    if !matches!(action.as_str(), "start" | "stop" | "restart") {
        return Err(ApiError::not_found(format!(
            "no action `{}`: start, stop or restart",
            clip(&action)
        )));
    }
    if action != "start" && !request.confirm {
        return Err(ApiError::bad_request(format!(
            "`{action}` interrupts `{name}`: send \"confirm\": true (the CLI's --yes) to run it"
        )));
    }
    let server = server(&services, &cluster, &name)?;
    tracing::info!(%cluster, server = %name, %action, "service action through the agent's API");
    let answer = client
        .request(
            &server,
            reqwest::Method::POST,
            &format!("mysqld/{action}"),
            None,
        )
        .await?;
    Ok(pass_on(answer))
}

/// `GET /api/v1/clusters/{cluster}/servers/{server}/node/detect`.
#[utoipa::path(
    get,
    path = "/api/v1/clusters/{cluster}/servers/{server}/node/detect",
    tag = "node",
    summary = "Port, datadir, socket, logs, version and option files in use, from the running server and its option files, and each difference with the configuration",
    params(("cluster" = String, Path), ("server" = String, Path)),
    responses(
        (status = 200, description = "What was found, the mismatches with what to do.", body = Object),
        (status = 409, description = "The server has no `agent-api-port`.", body = ErrorBody),
        (status = 502, description = "Its agent cannot be reached.", body = ErrorBody),
    )
)]
pub(in crate::api) async fn node_detect(
    State(services): State<Arc<Services>>,
    Extension(client): Extension<NodeApiClient>,
    path: Result<UrlPath<(String, String)>, PathRejection>,
) -> Reply<Response> {
    let UrlPath(at) = path.map_err(bad_path)?;
    get(&services, &client, at, "detect", None).await
}

/// `GET /api/v1/clusters/{cluster}/servers/{server}/node/disk`.
#[utoipa::path(
    get,
    path = "/api/v1/clusters/{cluster}/servers/{server}/node/disk",
    tag = "node",
    summary = "The file systems of the datadir and of the agent's staging directory, and the datadir's size",
    params(("cluster" = String, Path), ("server" = String, Path)),
    responses(
        (status = 200, description = "The usage.", body = Object),
        (status = 409, description = "The server has no `agent-api-port`.", body = ErrorBody),
        (status = 502, description = "Its agent cannot be reached.", body = ErrorBody),
    )
)]
pub(in crate::api) async fn node_disk(
    State(services): State<Arc<Services>>,
    Extension(client): Extension<NodeApiClient>,
    path: Result<UrlPath<(String, String)>, PathRejection>,
) -> Reply<Response> {
    let UrlPath(at) = path.map_err(bad_path)?;
    get(&services, &client, at, "disk", None).await
}

/// `GET /api/v1/clusters/{cluster}/servers/{server}/node/error-log`.
#[utoipa::path(
    get,
    path = "/api/v1/clusters/{cluster}/servers/{server}/node/error-log",
    tag = "node",
    summary = "The error log's last lines, or its bytes from an offset, followed for a while with follow=true (text; the headers say where the body starts)",
    params(
        ("cluster" = String, Path), ("server" = String, Path),
        ("lines" = Option<usize>, Query, description = "The last N lines (default 100, at most 10000)."),
        ("from" = Option<u64>, Query, description = "Instead, the bytes from this offset (a rotated file is read from its start)."),
        ("file" = Option<String>, Query, description = "The file the offset is in (`ferryman-log-file` of the previous answer)."),
        ("follow" = Option<bool>, Query, description = "Go on sending what is appended."),
        ("wait" = Option<u64>, Query, description = "With follow: seconds before the answer ends (default 20, at most 25); ask again from offset + bytes received."),
    ),
    responses(
        (status = 200, description = "The text; `ferryman-log-offset`, `ferryman-log-file`, `ferryman-log-path` headers.", content_type = "text/plain"),
        (status = 409, description = "The server has no `agent-api-port`, or writes its error log to no file.", body = ErrorBody),
        (status = 502, description = "Its agent cannot be reached.", body = ErrorBody),
        (status = 503, description = "The log cannot be found or read.", body = ErrorBody),
    )
)]
pub(in crate::api) async fn node_error_log(
    State(services): State<Arc<Services>>,
    Extension(client): Extension<NodeApiClient>,
    path: Result<UrlPath<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Reply<Response> {
    let UrlPath(at) = path.map_err(bad_path)?;
    get(&services, &client, at, "error-log", query).await
}

/// What `GET .../node/replicas` answers.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct ReplicasReport {
    /// The server asked.
    server: String,
    /// Each replica it knows of, with `configured_as` (the configured server it is, or null).
    #[schema(value_type = Vec<Object>)]
    replicas: Vec<ferryman_proto::node_api::KnownReplica>,
    /// The replicas the configuration lacks, in words with what to do.
    not_configured: Vec<String>,
}

/// `GET /api/v1/clusters/{cluster}/servers/{server}/node/replicas`.
#[utoipa::path(
    get,
    path = "/api/v1/clusters/{cluster}/servers/{server}/node/replicas",
    tag = "node",
    summary = "The replicas the server knows of (SHOW SLAVE HOSTS, the processlist's binlog dumps), each named by the configured server it is; those the configuration lacks listed",
    params(("cluster" = String, Path), ("server" = String, Path)),
    responses(
        (status = 200, description = "The replicas.", body = ReplicasReport),
        (status = 409, description = "The server has no `agent-api-port`.", body = ErrorBody),
        (status = 502, description = "Its agent cannot be reached.", body = ErrorBody),
        (status = 503, description = "The server does not answer.", body = ErrorBody),
    )
)]
pub(in crate::api) async fn node_replicas(
    State(services): State<Arc<Services>>,
    Extension(client): Extension<NodeApiClient>,
    path: Result<UrlPath<(String, String)>, PathRejection>,
) -> Reply<Response> {
    let UrlPath((cluster_name, name)) = path.map_err(bad_path)?;
    let server = server(&services, &cluster_name, &name)?;
    let answer = client
        .request(&server, reqwest::Method::GET, "replicas", None)
        .await?;
    if !answer.status().is_success() {
        return Ok(pass_on(answer));
    }
    let mut found: Replicas = answer.json().await.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("the agent of `{name}` answered replicas this manager cannot read ({e}): are both the same version?"),
        )
    })?;
    let c = cluster(&services, &cluster_name)?;
    name_replicas(&mut found.replicas, &c.servers);
    let not_configured: Vec<String> = found
        .replicas
        .iter()
        .filter(|r| r.configured_as.is_none())
        .map(|r| {
            let at = match r.port {
                Some(port) => ferryman_proto::address::join(&r.host, port),
                None => r.host.clone(),
            };
            let id = r.server_id.map(|id| format!(" (server_id {id})")).unwrap_or_default();
            format!(
                "{at}{id} replicates from `{name}` but is not in cluster `{}`: add it to the cluster's servers in ferryman.toml so that it is backed up, monitored and never elected by mistake",
                c.name
            )
        })
        .collect();
    for line in &not_configured {
        tracing::warn!(cluster = %c.name, server = %name, "{line}");
    }
    Ok(Json(ReplicasReport {
        server: found.server,
        replicas: found.replicas,
        not_configured,
    })
    .into_response())
}
