//! `GET /api/v1/status`: the fleet on one screen (`fleet.rs`), what `ferryman status` prints.

use std::sync::Arc;

use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;

use super::Reply;
use crate::fleet::{self, Fleet};
use crate::Services;

/// `GET /api/v1/status`.
#[utoipa::path(
    get,
    path = "/api/v1/status",
    summary = "The fleet on one screen: each cluster's servers (role, GTID, lag), newest backup of each kind with its verification, last recoverable point, running jobs",
    responses((status = 200, description = "The fleet.", body = Fleet))
)]
pub(in crate::api) async fn status(
    State(services): State<Arc<Services>>,
) -> Reply<impl IntoResponse> {
    Ok(Json(fleet::status(&services).await))
}
