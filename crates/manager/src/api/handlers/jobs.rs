//! The manager's jobs: listed, one (waited on until it ends), cancelled.

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{bad_path, bad_query, cluster, Reply, WaitQuery};
use crate::api::error::clip;
use crate::api::openapi::ErrorBody;
use crate::api::ApiError;
use crate::registry::{JobRecord, JobState};
use crate::Services;

/// The query of `GET /api/v1/jobs`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(in crate::api) struct JobsQuery {
    cluster: Option<String>,
    #[param(value_type = Option<JobState>, inline)]
    state: Option<String>,
    /// Only jobs of this node task (`mariabackup`, `mysqldump`, `reseedmariabackup`, ...).
    task: Option<String>,
    /// At most this many (the newest).
    limit: Option<usize>,
}

/// `GET /api/v1/jobs?cluster=&state=&task=&limit=`: newest first.
#[utoipa::path(
    get,
    path = "/api/v1/jobs",
    summary = "The manager's jobs, newest first (the newest 1000, kept across restarts)",
    params(JobsQuery),
    responses((status = 200, description = "Jobs.", body = Vec<JobRecord>))
)]
pub(in crate::api) async fn jobs(
    State(services): State<Arc<Services>>,
    query: Result<Query<JobsQuery>, QueryRejection>,
) -> Reply<impl IntoResponse> {
    let Query(query) = query.map_err(bad_query)?;
    if let Some(name) = &query.cluster {
        cluster(&services, name)?;
    }
    if let Some(state) = &query.state {
        if !JobState::ALL.iter().any(|s| s.as_str() == state) {
            return Err(ApiError::bad_request(format!(
                "unknown job state `{}`: use one of {}",
                clip(state),
                JobState::ALL.map(JobState::as_str).join(", ")
            )));
        }
    }
    let task = match &query.task {
        Some(name) => Some(
            name.parse::<ferryman_proto::Task>()
                .map_err(|e| ApiError::bad_request(format!("`?task={}`: {e}", clip(name))))?,
        ),
        None => None,
    };
    let jobs: Vec<_> = services
        .registry
        .list()
        .into_iter()
        .filter(|j| query.cluster.as_ref().is_none_or(|c| &j.cluster == c))
        .filter(|j| query.state.as_deref().is_none_or(|s| j.state.as_str() == s))
        .filter(|j| task.is_none_or(|t| j.task == t))
        .take(query.limit.unwrap_or(usize::MAX))
        .collect();
    Ok(Json(jobs))
}

/// `GET /api/v1/jobs/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}",
    summary = "One job; with `wait_ms`, answered as soon as it has ended or after that many milliseconds (at most 30000)",
    params(("id" = u64, Path), WaitQuery),
    responses((status = 200, description = "The job.", body = JobRecord))
)]
pub(in crate::api) async fn job(
    State(services): State<Arc<Services>>,
    path: Result<UrlPath<u64>, PathRejection>,
    query: Result<Query<WaitQuery>, QueryRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath(id) = path.map_err(bad_path)?;
    let Query(query) = query.map_err(bad_query)?;
    let record = match query.at_most() {
        Some(at_most) => services.registry.wait_end(id, at_most).await,
        None => services.registry.get(id),
    };
    record.map(Json).ok_or_else(|| no_job(id))
}

/// `POST /api/v1/jobs/{id}/cancel`: 202 with the job; it ends (cancelled) shortly after.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/cancel",
    summary = "Cancel a job that has not ended",
    params(("id" = u64, Path)),
    responses(
        (status = 202, description = "Cancelling; the job ends as cancelled shortly.", body = JobRecord),
        (status = 409, description = "The job has already ended.", body = ErrorBody),
    )
)]
pub(in crate::api) async fn cancel_job(
    State(services): State<Arc<Services>>,
    path: Result<UrlPath<u64>, PathRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath(id) = path.map_err(bad_path)?;
    let job = services.registry.get(id).ok_or_else(|| no_job(id))?;
    if job.state.is_final() || !services.registry.cancel(id) {
        return Err(ApiError::conflict(format!(
            "job {id} has already ended ({}); nothing to cancel",
            job.state.as_str()
        )));
    }
    let job = services.registry.get(id).unwrap_or(job);
    Ok((StatusCode::ACCEPTED, Json(job)))
}

fn no_job(id: u64) -> ApiError {
    ApiError::not_found(format!(
        "no job {id}: the manager remembers its jobs since it started (the newest 1000); list them with GET /api/v1/jobs"
    ))
}
