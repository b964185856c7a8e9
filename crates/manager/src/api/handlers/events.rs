//! The events kept (a verification failed or passed, a split topology), oldest first.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{bad_query, Reply};
use crate::api::openapi::Event;
use crate::Services;

/// The query of `GET /api/v1/events`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(in crate::api) struct EventsQuery {
    /// Only events with a larger id.
    #[serde(default)]
    since: u64,
}

/// `GET /api/v1/events?since=N`: the kept events with an id above N, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    summary = "Events (a verification failed or passed), oldest first",
    params(EventsQuery),
    responses((status = 200, description = "The events kept (the newest 1000).", body = Vec<Event>))
)]
pub(in crate::api) async fn events(
    State(services): State<Arc<Services>>,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Reply<impl IntoResponse> {
    let Query(query) = query.map_err(bad_query)?;
    Ok(Json(services.events.since(query.since)))
}
