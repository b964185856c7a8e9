//! Reseed and flashback, and replication-manager's reseed routes (kept for its users' scripts).

use crate::api::error::from_repo as repo_error;
use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use ferryman_binlog::GtidPos;
use ferryman_repo::pitr::Point;
use ferryman_repo::{BackupId, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{bad_path, cluster, Reply};
use crate::api::error::clip;
use crate::api::openapi::{ErrorBody, ReseedMethodName};
use crate::api::{ApiError, RM_RESEED, RM_RESEED_HOST_PORT};
use crate::reseed::{Method, ReseedRequest};
use crate::Services;

/// The body of `POST /api/v1/clusters/{cluster}/reseed`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReseedRequest)]
pub(in crate::api) struct ReseedBody {
    /// The replicas to rebuild.
    servers: Vec<String>,
    #[schema(value_type = ReseedMethodName, inline)]
    method: String,
    /// CLUSTER/SERVER/NAME; default: the newest backup of the method's kind whose newest
    /// verification passed (the newest never verified one when none did).
    #[serde(default)]
    backup: Option<String>,
    /// Restore the named backup even though its newest verification failed.
    #[serde(default)]
    force: bool,
}

/// The body of `POST /api/v1/clusters/{cluster}/flashback`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FlashbackRequest)]
pub(in crate::api) struct FlashbackBody {
    server: String,
    /// CLUSTER/SERVER/NAME: rewind to this backup, then replicate again. One of `backup`,
    /// `to_time`, `to_gtid`.
    #[serde(default)]
    backup: Option<String>,
    /// Rewind to this UTC time (RFC 3339, `2026-12-04T14:02:59Z`): the last transaction
    /// written at or before it, from the newest backup before it and the archived binlog.
    /// The replica then stays there: read-only, replication pointed but not started.
    #[serde(default)]
    to_time: Option<String>,
    /// Rewind to this GTID position, inclusive (`0-1-5000`); held there like `to_time`.
    #[serde(default)]
    to_gtid: Option<String>,
    /// Restore the backup even though its newest verification failed.
    #[serde(default)]
    force: bool,
}

impl FlashbackBody {
    /// The point, when the body names a time or a GTID instead of a backup.
    fn point(&self) -> Result<Option<Point>, ApiError> {
        match (&self.backup, &self.to_time, &self.to_gtid) {
            (Some(_), None, None) => Ok(None),
            (None, Some(t), None) => Timestamp::parse_rfc3339(t)
                .map(|t| Some(Point::Time(t)))
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "to_time `{}` is not an RFC 3339 UTC time like 2026-12-04T14:02:59Z",
                        clip(t)
                    ))
                }),
            (None, None, Some(g)) => {
                g.parse::<GtidPos>()
                    .map(|g| Some(Point::Gtid(g)))
                    .map_err(|e| {
                        ApiError::bad_request(format!(
                            "to_gtid `{}` is not a GTID position: {e}",
                            clip(g)
                        ))
                    })
            }
            _ => Err(ApiError::bad_request(
                "give exactly one of backup, to_time and to_gtid".to_owned(),
            )),
        }
    }
}

/// What a started reseed or flashback answers: one job per joiner.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct JobsCreated {
    job_ids: Vec<u64>,
    /// What to know about the backup chosen (never verified, restored despite a failed
    /// verification).
    notes: Vec<String>,
}

/// Starts a reseed; 202 with one job id per joiner.
async fn start_reseed(
    services: &Arc<Services>,
    cluster_name: &str,
    servers: Vec<String>,
    method: Method,
    backup: Option<&str>,
    force: bool,
    to: Option<Point>,
) -> Reply<(StatusCode, Json<JobsCreated>)> {
    cluster(services, cluster_name)?;
    let backup = backup
        .map(str::parse::<BackupId>)
        .transpose()
        .map_err(|e| repo_error(&e))?;
    let (job_ids, notes) = services
        .start_reseed_noted(
            cluster_name,
            ReseedRequest {
                servers,
                method,
                backup,
                force,
                to,
            },
            "api",
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(JobsCreated { job_ids, notes })))
}

/// `POST /api/v1/clusters/{cluster}/reseed`: rebuild replicas (several: one source read once).
#[utoipa::path(
    post,
    path = "/api/v1/clusters/{cluster}/reseed",
    summary = "Rebuild replicas from the newest physical backup (or the one given); several servers share one read of the source",
    params(("cluster" = String, Path)),
    request_body = ReseedBody,
    responses(
        (status = 202, description = "Started; one job per server, follow them with GET /api/v1/jobs/{id}.", body = JobsCreated),
        (status = 409, description = "Refused by a safety rail: the server is the primary, is being reseeded, or the backup cannot be used.", body = ErrorBody),
    )
)]
pub(in crate::api) async fn reseed(
    State(services): State<Arc<Services>>,
    path: Result<UrlPath<String>, PathRejection>,
    body: Result<Json<ReseedBody>, JsonRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath(name) = path.map_err(bad_path)?;
    let Json(body) = body.map_err(|e| {
        ApiError::bad_request(format!(
            "{}; send JSON like {{\"servers\": [\"db2\"], \"method\": \"physicalbackup\"}}",
            e.body_text()
        ))
    })?;
    let method = crate::reseed::method(&body.method)?;
    if method == Method::Flashback {
        return Err(ApiError::bad_request(
            "a flashback has its own route: POST /api/v1/clusters/{cluster}/flashback".to_owned(),
        ));
    }
    start_reseed(
        &services,
        &name,
        body.servers,
        method,
        body.backup.as_deref(),
        body.force,
        None,
    )
    .await
}

/// `POST /api/v1/clusters/{cluster}/flashback`: rewind a replica to a chosen backup.
#[utoipa::path(
    post,
    path = "/api/v1/clusters/{cluster}/flashback",
    summary = "Rewind a replica to a chosen earlier backup of the cluster, or to a point in time through the archived binlog",
    params(("cluster" = String, Path)),
    request_body = FlashbackBody,
    responses(
        (status = 202, description = "Started.", body = JobsCreated),
        (status = 409, description = "Refused by a safety rail.", body = ErrorBody),
    )
)]
pub(in crate::api) async fn flashback(
    State(services): State<Arc<Services>>,
    path: Result<UrlPath<String>, PathRejection>,
    body: Result<Json<FlashbackBody>, JsonRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath(name) = path.map_err(bad_path)?;
    let Json(body) = body.map_err(|e| {
        ApiError::bad_request(format!(
            "{}; send JSON like {{\"server\": \"db2\", \"backup\": \"CLUSTER/SERVER/NAME\"}} \
             or {{\"server\": \"db2\", \"to_time\": \"2026-12-04T14:02:59Z\"}}",
            e.body_text()
        ))
    })?;
    let to = body.point()?;
    start_reseed(
        &services,
        &name,
        vec![body.server],
        Method::Flashback,
        body.backup.as_deref(),
        body.force,
        to,
    )
    .await
}

/// The summary of both replication-manager routes.
const RM_SUMMARY: &str = "replication-manager's reseed route, kept for its users' scripts: the same as POST /api/v1/clusters/{cluster}/reseed for one server";

/// replication-manager's `…/servers/{server}/actions/reseed/{method}`.
#[utoipa::path(
    method(get, post),
    path = RM_RESEED,
    summary = RM_SUMMARY,
    params(("cluster" = String, Path), ("server" = String, Path), ("method" = String, Path)),
    responses(
        (status = 202, description = "Started.", body = JobsCreated),
        (status = 409, description = "Refused by a safety rail.", body = ErrorBody),
    )
)]
pub(in crate::api) async fn rm_reseed(
    State(services): State<Arc<Services>>,
    path: Result<UrlPath<(String, String, String)>, PathRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath((name, server, method)) = path.map_err(bad_path)?;
    start_rm_reseed(&services, &name, server, &method).await
}

/// replication-manager's `…/servers/{host}/{port}/actions/reseed/{method}`.
#[utoipa::path(
    method(get, post),
    path = RM_RESEED_HOST_PORT,
    summary = RM_SUMMARY,
    params(
        ("cluster" = String, Path),
        ("host" = String, Path),
        ("port" = u16, Path),
        ("method" = String, Path),
    ),
    responses(
        (status = 202, description = "Started.", body = JobsCreated),
        (status = 409, description = "Refused by a safety rail.", body = ErrorBody),
    )
)]
pub(in crate::api) async fn rm_reseed_host_port(
    State(services): State<Arc<Services>>,
    path: Result<UrlPath<(String, String, u16, String)>, PathRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath((name, host, port, method)) = path.map_err(bad_path)?;
    let c = cluster(&services, &name)?;
    let server = c
        .servers
        .iter()
        .find(|s| s.host == host && s.port == port)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no server {}:{port} in cluster `{name}`; see GET /api/v1/clusters",
                clip(&host)
            ))
        })?
        .name
        .clone();
    start_rm_reseed(&services, &name, server, &method).await
}

/// A reseed of one server as replication-manager's routes ask for it: the newest usable backup
/// of the method's kind, never a forced one.
async fn start_rm_reseed(
    services: &Arc<Services>,
    cluster: &str,
    server: String,
    method: &str,
) -> Reply<(StatusCode, Json<JobsCreated>)> {
    start_reseed(
        services,
        cluster,
        vec![server],
        rm_method(method)?,
        None,
        false,
        None,
    )
    .await
}

fn rm_method(method: &str) -> Reply<Method> {
    let m = crate::reseed::method(method)?;
    if m == Method::Flashback {
        return Err(ApiError::bad_request(
            "flashback is POST /api/v1/clusters/{cluster}/flashback".to_owned(),
        ));
    }
    Ok(m)
}
