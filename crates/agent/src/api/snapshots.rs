//! `GET snapshots` (listed with what each recorded), `POST snapshots` (a consistent one taken
//! now; refused while a job runs), `POST snapshots/{name}/mount` and `/unmount`, `DELETE
//! snapshots/{name}`. See `snapshot.rs`.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::Json;
use ferryman_http::ApiError;
use ferryman_proto::node_api::{SnapshotList, SnapshotMeta};

use super::Shared;
use crate::snapshot::Snapshots;
use crate::Error;

fn snapshots(api: &Shared) -> Result<Snapshots, ApiError> {
    Snapshots::of(&api.server, &api.server_dir).map_err(|e| ApiError::conflict(e.to_string()))
}

/// A failure of a snapshot operation: 409 for what the request or the state got wrong (no
/// such snapshot, a bad name), 500 for a command that failed.
fn failed(e: Error) -> ApiError {
    match e {
        Error::Unsuitable { .. } => ApiError::conflict(e.to_string()),
        Error::Db(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        _ => ApiError::internal(e.to_string()),
    }
}

fn name_of(path: Result<UrlPath<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|UrlPath(n)| n)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

pub(super) async fn list(State(api): State<Shared>) -> Result<Json<SnapshotList>, ApiError> {
    Ok(Json(snapshots(&api)?.list().await.map_err(failed)?))
}

pub(super) async fn take(
    State(api): State<Shared>,
) -> Result<(StatusCode, Json<SnapshotMeta>), ApiError> {
    let snapshots = snapshots(&api)?;
    let _held = api
        .busy
        .try_hold("the API's snapshot".to_owned())
        .map_err(|holder| {
            ApiError::conflict(format!(
                "`{}` is busy with {holder}: try the snapshot again when it ends",
                api.server.name
            ))
        })?;
    let meta = snapshots.take(&api.endpoint).await.map_err(failed)?;
    tracing::info!(server = %api.server.name, snapshot = %meta.name, gtid = %meta.gtid_binlog_pos, locked_ms = meta.locked_ms, "snapshot taken through the API");
    Ok((StatusCode::CREATED, Json(meta)))
}

pub(super) async fn mount(
    State(api): State<Shared>,
    path: Result<UrlPath<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let name = name_of(path)?;
    let at = snapshots(&api)?.mount(&name).await.map_err(failed)?;
    Ok(Json(serde_json::json!({ "name": name, "mounted_at": at })))
}

pub(super) async fn unmount(
    State(api): State<Shared>,
    path: Result<UrlPath<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let name = name_of(path)?;
    snapshots(&api)?.unmount(&name).await.map_err(failed)?;
    Ok(Json(
        serde_json::json!({ "name": name, "mounted_at": null }),
    ))
}

pub(super) async fn remove(
    State(api): State<Shared>,
    path: Result<UrlPath<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let name = name_of(path)?;
    snapshots(&api)?.remove(&name).await.map_err(failed)?;
    tracing::info!(server = %api.server.name, snapshot = %name, "snapshot removed through the API");
    Ok(Json(serde_json::json!({ "removed": name })))
}
