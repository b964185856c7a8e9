//! A server's snapshots through its agent (`ferryman node snapshots ...`): listed, taken now,
//! mounted read-only, unmounted, removed (with confirmation). See `node.rs`.

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path as UrlPath, Query, State};
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;
use utoipa::IntoParams;

use super::node::forward;
use super::{bad_path, bad_query, Reply};
use crate::api::openapi::ErrorBody;
use crate::api::ApiError;
use crate::node_api::NodeApiClient;
use crate::Services;

/// `GET /api/v1/clusters/{cluster}/servers/{server}/node/snapshots`.
#[utoipa::path(
    get,
    path = "/api/v1/clusters/{cluster}/servers/{server}/node/snapshots",
    tag = "node",
    summary = "The snapshots of the server's datadir volume (`snapshot-method`), oldest first, each with the GTID and binlog position recorded while commits were blocked",
    params(("cluster" = String, Path), ("server" = String, Path)),
    responses(
        (status = 200, description = "The snapshots.", body = Object),
        (status = 409, description = "No `snapshot-method`, or no `agent-api-port`.", body = ErrorBody),
        (status = 502, description = "Its agent cannot be reached.", body = ErrorBody),
    )
)]
pub(in crate::api) async fn node_snapshots(
    State(services): State<Arc<Services>>,
    Extension(client): Extension<NodeApiClient>,
    path: Result<UrlPath<(String, String)>, PathRejection>,
) -> Reply<Response> {
    let UrlPath(at) = path.map_err(bad_path)?;
    forward(
        &services,
        &client,
        at,
        reqwest::Method::GET,
        "snapshots",
        None,
    )
    .await
}

/// `POST /api/v1/clusters/{cluster}/servers/{server}/node/snapshots`.
#[utoipa::path(
    post,
    path = "/api/v1/clusters/{cluster}/servers/{server}/node/snapshots",
    tag = "node",
    summary = "Take a consistent snapshot now (commits blocked while it is taken; refused while a job runs on the server)",
    params(("cluster" = String, Path), ("server" = String, Path)),
    responses(
        (status = 201, description = "Taken: what was recorded.", body = Object),
        (status = 409, description = "A job runs there, no `snapshot-method`, or no `agent-api-port`.", body = ErrorBody),
        (status = 502, description = "Its agent cannot be reached.", body = ErrorBody),
    )
)]
pub(in crate::api) async fn node_take_snapshot(
    State(services): State<Arc<Services>>,
    Extension(client): Extension<NodeApiClient>,
    path: Result<UrlPath<(String, String)>, PathRejection>,
) -> Reply<Response> {
    let UrlPath(at) = path.map_err(bad_path)?;
    tracing::info!(cluster = %at.0, server = %at.1, "snapshot through the agent's API");
    forward(
        &services,
        &client,
        at,
        reqwest::Method::POST,
        "snapshots",
        None,
    )
    .await
}

/// `POST /api/v1/clusters/{cluster}/servers/{server}/node/snapshots/{name}/mount`.
#[utoipa::path(
    post,
    path = "/api/v1/clusters/{cluster}/servers/{server}/node/snapshots/{name}/mount",
    tag = "node",
    summary = "Make a snapshot's files readable (read-only) on the node; where",
    params(("cluster" = String, Path), ("server" = String, Path), ("name" = String, Path)),
    responses(
        (status = 200, description = "`mounted_at`.", body = Object),
        (status = 409, description = "No such snapshot, no `snapshot-method`, or no `agent-api-port`.", body = ErrorBody),
    )
)]
pub(in crate::api) async fn node_mount_snapshot(
    State(services): State<Arc<Services>>,
    Extension(client): Extension<NodeApiClient>,
    path: Result<UrlPath<(String, String, String)>, PathRejection>,
) -> Reply<Response> {
    on_snapshot(&services, &client, path, reqwest::Method::POST, "/mount").await
}

/// `POST /api/v1/clusters/{cluster}/servers/{server}/node/snapshots/{name}/unmount`.
#[utoipa::path(
    post,
    path = "/api/v1/clusters/{cluster}/servers/{server}/node/snapshots/{name}/unmount",
    tag = "node",
    summary = "Undo a snapshot's mount",
    params(("cluster" = String, Path), ("server" = String, Path), ("name" = String, Path)),
    responses(
        (status = 200, description = "Unmounted.", body = Object),
        (status = 409, description = "No `snapshot-method`, or no `agent-api-port`.", body = ErrorBody),
    )
)]
pub(in crate::api) async fn node_unmount_snapshot(
    State(services): State<Arc<Services>>,
    Extension(client): Extension<NodeApiClient>,
    path: Result<UrlPath<(String, String, String)>, PathRejection>,
) -> Reply<Response> {
    on_snapshot(&services, &client, path, reqwest::Method::POST, "/unmount").await
}

/// The query of a removal.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(in crate::api) struct RemoveQuery {
    /// Required true: the snapshot is gone for good.
    #[serde(default)]
    confirm: bool,
}

/// `DELETE /api/v1/clusters/{cluster}/servers/{server}/node/snapshots/{name}?confirm=true`.
#[utoipa::path(
    delete,
    path = "/api/v1/clusters/{cluster}/servers/{server}/node/snapshots/{name}",
    tag = "node",
    summary = "Remove a snapshot (with confirm=true)",
    params(("cluster" = String, Path), ("server" = String, Path), ("name" = String, Path), RemoveQuery),
    responses(
        (status = 200, description = "Removed.", body = Object),
        (status = 400, description = "No confirm=true.", body = ErrorBody),
        (status = 409, description = "No such snapshot, no `snapshot-method`, or no `agent-api-port`.", body = ErrorBody),
    )
)]
pub(in crate::api) async fn node_remove_snapshot(
    State(services): State<Arc<Services>>,
    Extension(client): Extension<NodeApiClient>,
    path: Result<UrlPath<(String, String, String)>, PathRejection>,
    query: Result<Query<RemoveQuery>, QueryRejection>,
) -> Reply<Response> {
    let Query(q) = query.map_err(bad_query)?;
    if !q.confirm {
        return Err(ApiError::bad_request(
            "removing a snapshot cannot be undone: add ?confirm=true (the CLI's --yes)",
        ));
    }
    on_snapshot(&services, &client, path, reqwest::Method::DELETE, "").await
}

/// `method snapshots/NAME{tail}` on the agent of the path's server.
async fn on_snapshot(
    services: &Services,
    client: &NodeApiClient,
    path: Result<UrlPath<(String, String, String)>, PathRejection>,
    method: reqwest::Method,
    tail: &str,
) -> Reply<Response> {
    let UrlPath((cluster, server, name)) = path.map_err(bad_path)?;
    let rest = format!("snapshots/{}{tail}", segment(&name)?);
    forward(services, client, (cluster, server), method, &rest, None).await
}

/// A snapshot name as one path segment of the agent's URL: only the characters a snapshot
/// name may hold pass (the agent checks again).
fn segment(name: &str) -> Reply<String> {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        Ok(name.to_owned())
    } else {
        Err(ApiError::bad_request(format!(
            "`{}` is not a snapshot name: take one from `ferryman node snapshots`",
            crate::api::error::clip(name)
        )))
    }
}
