//! `GET /metrics`: the manager's state for Prometheus (see `metrics.rs`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::Reply;
use crate::api::ApiError;
use crate::Services;

/// The content type of Prometheus' text format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    summary = "Metrics in Prometheus' text format: last good backup per cluster, server and kind, verification, jobs by state, repository bytes, recovery point lag. Takes the API token or `manager.metrics-token-file`'s",
    responses((status = 200, description = "The exposition.", content_type = "text/plain", body = String))
)]
pub(in crate::api) async fn metrics(
    State(services): State<Arc<Services>>,
) -> Reply<impl IntoResponse> {
    let text = crate::metrics::render(&services)
        .await
        .map_err(ApiError::from)?;
    Ok(([(header::CONTENT_TYPE, TEXT_FORMAT)], text))
}
