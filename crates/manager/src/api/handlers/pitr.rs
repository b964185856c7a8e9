//! A cluster's point-in-time recovery status.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::{bad_path, Reply};
use crate::api::openapi::{ErrorBody, PitrStatus};
use crate::Services;

/// What `POST …/pitr/prove` answers.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct ProofStarted {
    /// The stretch being proven: `backup A (GTID) rolled forward to backup B (GTID), N
    /// segment(s)`.
    what: String,
}

/// `POST /api/v1/clusters/{cluster}/pitr/prove`.
#[utoipa::path(
    post,
    path = "/api/v1/clusters/{cluster}/pitr/prove",
    summary = "Prove the archive now: the newest backup with recorded rows reached from an older backup through the archived binlog, every table's rows compared; the result shows in GET …/pitr",
    params(("cluster" = String, Path)),
    responses(
        (status = 202, description = "Started.", body = ProofStarted),
        (status = 409, description = "A proof of the cluster runs, or there is nothing to prove (the reason says why).", body = ErrorBody),
    )
)]
pub(in crate::api) async fn prove(
    State(services): State<Arc<Services>>,
    cluster: Result<UrlPath<String>, PathRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath(cluster) = cluster.map_err(bad_path)?;
    let started = crate::prover::start(&services, &cluster, "api").await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ProofStarted { what: started.what }),
    ))
}

/// `GET /api/v1/clusters/{cluster}/pitr`.
#[utoipa::path(
    get,
    path = "/api/v1/clusters/{cluster}/pitr",
    summary = "Point-in-time recovery: the recoverable windows, gaps, the archiver and its lag",
    params(("cluster" = String, Path)),
    responses((status = 200, description = "The cluster's status.", body = PitrStatus))
)]
pub(in crate::api) async fn pitr(
    State(services): State<Arc<Services>>,
    cluster: Result<UrlPath<String>, PathRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath(cluster) = cluster.map_err(bad_path)?;
    Ok(Json(crate::pitr::status(&services, &cluster).await?))
}
