//! The events kept (a verification failed or passed, a split topology), oldest first; and the
//! notifications of them that could not be delivered (dead letters).

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{bad_query, cluster, Reply};
use crate::api::openapi::Event;
use crate::state::DeadLetter;
use crate::Services;

/// The query of `GET /api/v1/events`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(in crate::api) struct EventsQuery {
    /// Only events with a larger id.
    #[serde(default)]
    since: u64,
    /// Only this cluster's events (and the manager's own).
    cluster: Option<String>,
    /// At most this many: the newest.
    limit: Option<usize>,
}

/// `GET /api/v1/events?since=N&cluster=C&limit=L`: the kept events with an id above N, oldest
/// first (the newest L).
#[utoipa::path(
    get,
    path = "/api/v1/events",
    summary = "Events (a backup or verification failed, a problem resolved), oldest first; kept across restarts",
    params(EventsQuery),
    responses((status = 200, description = "The events kept (the newest 1000).", body = Vec<Event>))
)]
pub(in crate::api) async fn events(
    State(services): State<Arc<Services>>,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Reply<impl IntoResponse> {
    let Query(query) = query.map_err(bad_query)?;
    if let Some(name) = &query.cluster {
        cluster(&services, name)?;
    }
    let mut events: Vec<_> = services
        .events
        .since(query.since)
        .into_iter()
        .filter(|e| {
            query
                .cluster
                .as_ref()
                .is_none_or(|c| e.cluster.is_empty() || &e.cluster == c)
        })
        .collect();
    if let Some(limit) = query.limit {
        events.drain(..events.len().saturating_sub(limit));
    }
    Ok(Json(events))
}

/// The query of `GET /api/v1/notifications/dead-letters`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(in crate::api) struct DeadLettersQuery {
    /// At most this many, the newest (default 100).
    limit: Option<usize>,
}

/// `GET /api/v1/notifications/dead-letters?limit=N`: newest first.
#[utoipa::path(
    get,
    path = "/api/v1/notifications/dead-letters",
    summary = "Notifications no try delivered (or held back by a channel's max-per-hour), newest first",
    params(DeadLettersQuery),
    responses((status = 200, description = "The dead letters kept (manager.history-retention).", body = Vec<DeadLetter>))
)]
pub(in crate::api) async fn dead_letters(
    State(services): State<Arc<Services>>,
    query: Result<Query<DeadLettersQuery>, QueryRejection>,
) -> Reply<impl IntoResponse> {
    let Query(query) = query.map_err(bad_query)?;
    let state = Arc::clone(&services.state);
    let limit = query.limit.unwrap_or(100);
    let letters = tokio::task::spawn_blocking(move || state.dead_letters(limit))
        .await
        .unwrap_or_default();
    Ok(Json(letters))
}
