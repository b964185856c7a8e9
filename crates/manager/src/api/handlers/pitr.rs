//! A cluster's point-in-time recovery status.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path as UrlPath, State};
use axum::response::IntoResponse;
use axum::Json;

use super::{bad_path, Reply};
use crate::api::openapi::PitrStatus;
use crate::Services;

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
