//! Verification runs: one started, the runs listed, one read.

use crate::api::error::from_repo as repo_error;
use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use ferryman_repo::BackupId;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::{bad_path, bad_query, Reply, WaitQuery};
use crate::api::openapi::{ErrorBody, VerifyRun};
use crate::api::ApiError;
use crate::Services;

/// The body of `POST /api/v1/verify`, exactly one of: `backup`; `cluster` with `latest: true` (the newest physical and logical
/// backup of the cluster); `all_clusters: true` (a fresh logical backup of every cluster's
/// backup source, each verified).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = VerifyRequest)]
pub(in crate::api) struct VerifyBody {
    /// CLUSTER/SERVER/NAME.
    #[serde(default)]
    backup: Option<String>,
    #[serde(default)]
    cluster: Option<String>,
    #[serde(default)]
    latest: bool,
    #[serde(default)]
    all_clusters: bool,
}

/// `POST /api/v1/verify`: starts a verification run; 202 with the run, to follow at
/// `GET /api/v1/verify/runs/{id}`.
#[utoipa::path(
    post,
    path = "/api/v1/verify",
    summary = "Verify backups: checks on the stored payload, a test restore on a throwaway server, checks on the restored copy; results are appended to each backup's manifest",
    request_body = VerifyBody,
    responses(
        (status = 202, description = "Started; follow it with GET /api/v1/verify/runs/{id}.", body = VerifyRun),
        (status = 409, description = "Nothing to verify (a cluster without backups).", body = ErrorBody),
    )
)]
pub(in crate::api) async fn verify(
    State(services): State<Arc<Services>>,
    body: Result<Json<VerifyBody>, JsonRejection>,
) -> Reply<impl IntoResponse> {
    const FORMS: &str = "send {\"backup\": \"CLUSTER/SERVER/NAME\"}, {\"cluster\": \"C\", \"latest\": true} or {\"all_clusters\": true}";
    let Json(body) =
        body.map_err(|e| ApiError::bad_request(format!("{}; {FORMS}", e.body_text())))?;
    use crate::verification::Target;
    let target = match (body.backup, body.cluster, body.latest, body.all_clusters) {
        (Some(id), None, false, false) => {
            Target::Backup(id.parse::<BackupId>().map_err(|e| repo_error(&e))?)
        }
        (None, Some(cluster), true, false) => Target::Latest(cluster),
        (None, None, false, true) => Target::Fleet,
        _ => {
            return Err(ApiError::bad_request(format!(
                "say what to verify: {FORMS}"
            )))
        }
    };
    let trigger = if matches!(target, Target::Fleet) {
        "fleet"
    } else {
        "api"
    };
    let run = crate::verification::start(&services, target, trigger).await?;
    Ok((StatusCode::ACCEPTED, Json(run)))
}

/// `GET /api/v1/verify/runs`: every run since the manager started, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/verify/runs",
    summary = "Verification runs since the manager started, newest first",
    responses((status = 200, description = "The runs.", body = Vec<VerifyRun>))
)]
pub(in crate::api) async fn verify_runs(State(services): State<Arc<Services>>) -> Json<Value> {
    Json(json!(services.verify_runs.list()))
}

/// `GET /api/v1/verify/runs/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/verify/runs/{id}",
    summary = "One verification run: per backup, ok or failed with the failed checks, sizes, restore time; with `wait_ms`, answered as soon as it is done or after that many milliseconds (at most 30000)",
    params(("id" = u64, Path), WaitQuery),
    responses((status = 200, description = "The run.", body = VerifyRun))
)]
pub(in crate::api) async fn verify_run(
    State(services): State<Arc<Services>>,
    path: Result<UrlPath<u64>, PathRejection>,
    query: Result<Query<WaitQuery>, QueryRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath(id) = path.map_err(bad_path)?;
    let Query(query) = query.map_err(bad_query)?;
    let run = match query.at_most() {
        Some(at_most) => services.verify_runs.wait_done(id, at_most).await,
        None => services.verify_runs.get(id),
    };
    run.map(Json).ok_or_else(|| {
        ApiError::not_found(format!(
            "no verification run {id} (runs are kept in memory since the manager started; results are in the backups' manifests: `ferryman backup show ID`)"
        ))
    })
}
