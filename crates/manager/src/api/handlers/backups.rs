//! Backups: one started, retention applied (prune), the stored ones listed and read.

use crate::api::error::from_repo as repo_error;
use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use ferryman_repo::BackupId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{bad_path, bad_query, cluster, Reply};
use crate::api::openapi::{ErrorBody, Manifest, PruneReport};
use crate::api::ApiError;
use crate::repositories::Detailed;
use crate::Services;

/// Kinds of backup a client may ask for: physical uses the cluster's backup-physical-type,
/// logical its backup-logical-type.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(in crate::api) enum BackupKind {
    /// The cluster's `backup-physical-type`.
    Physical,
    /// The cluster's `backup-logical-type`.
    Logical,
}

/// The body of `POST /api/v1/clusters/{cluster}/backups`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::api) struct BackupRequest {
    #[schema(inline)]
    kind: BackupKind,
    /// The server to back up; default: db-servers-backup-hosts, else a healthy replica, else
    /// the primary.
    #[serde(default)]
    server: Option<String>,
}

/// What a started backup answers: the job to follow.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct JobCreated {
    job_id: u64,
}

/// `POST /api/v1/clusters/{cluster}/backups`: 202 with the job id; the backup runs on.
#[utoipa::path(
    post,
    path = "/api/v1/clusters/{cluster}/backups",
    summary = "Start a backup of the cluster; it runs on after the answer",
    params(("cluster" = String, Path)),
    request_body = BackupRequest,
    responses(
        (status = 202, description = "Started; follow it with GET /api/v1/jobs/{id}.", body = JobCreated),
        (status = 503, description = "No server of the cluster can be backed up now.", body = ErrorBody),
    )
)]
pub(in crate::api) async fn start_backup(
    State(services): State<Arc<Services>>,
    path: Result<UrlPath<String>, PathRejection>,
    body: Result<Json<BackupRequest>, JsonRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath(name) = path.map_err(bad_path)?;
    let c = cluster(&services, &name)?;
    let Json(request) = body.map_err(|e| {
        ApiError::bad_request(format!(
            "{}; send JSON like {{\"kind\": \"physical\"}} or {{\"kind\": \"logical\", \"server\": \"NAME\"}}",
            e.body_text()
        ))
    })?;
    let task = match request.kind {
        BackupKind::Physical => c.backup_physical_type,
        BackupKind::Logical => c.backup_logical_type,
    };
    let job_id = services
        .start_backup(&name, request.server.as_deref(), task, "api")
        .await?;
    Ok((StatusCode::ACCEPTED, Json(JobCreated { job_id })))
}

/// The body of `POST /api/v1/clusters/{cluster}/prune` (optional: `{}` or none applies).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::api) struct PruneRequest {
    /// Only plan: delete nothing.
    #[serde(default)]
    #[schema(default = false)]
    dry_run: bool,
}

/// `POST /api/v1/clusters/{cluster}/prune`: applies the cluster's retention now (or only plans
/// it with `{"dry_run": true}`); answers what was kept, with every reason, and deleted.
#[utoipa::path(
    post,
    path = "/api/v1/clusters/{cluster}/prune",
    summary = "Apply the cluster's retention (backup-keep-*) now; the newest backup of each server and kind is always kept",
    params(("cluster" = String, Path)),
    request_body(content = Option<PruneRequest>),
    responses(
        (status = 200, description = "What was kept (with every reason) and deleted; with dry_run, what would be.", body = PruneReport),
    )
)]
pub(in crate::api) async fn prune(
    State(services): State<Arc<Services>>,
    path: Result<UrlPath<String>, PathRejection>,
    body: Result<Option<Json<PruneRequest>>, JsonRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath(name) = path.map_err(bad_path)?;
    let c = cluster(&services, &name)?;
    let request = body
        .map_err(|e| {
            ApiError::bad_request(format!(
                "{}; send no body, or JSON like {{\"dry_run\": true}}",
                e.body_text()
            ))
        })?
        .map(|Json(r)| r)
        .unwrap_or_default();
    let report = crate::retention::prune(&services, c, request.dry_run).await?;
    Ok(Json(report))
}

/// The query of `GET /api/v1/backups`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(in crate::api) struct BackupsQuery {
    cluster: Option<String>,
    server: Option<String>,
}

/// `GET /api/v1/backups?cluster=&server=`: manifests, newest first. Names are not checked
/// against the configuration: the repository keeps backups of servers since removed from it.
#[utoipa::path(
    get,
    path = "/api/v1/backups",
    summary = "Stored backups, newest first",
    params(BackupsQuery),
    responses((status = 200, description = "Manifests.", body = Vec<Manifest>))
)]
pub(in crate::api) async fn backups(
    State(services): State<Arc<Services>>,
    query: Result<Query<BackupsQuery>, QueryRejection>,
) -> Reply<impl IntoResponse> {
    let Query(query) = query.map_err(bad_query)?;
    let manifests = services
        .repos
        .list_located(query.cluster.as_deref(), query.server.as_deref())
        .await?;
    Ok(Json(manifests))
}

/// `GET /api/v1/backups/{cluster}/{server}/{name}`: a backup id is `cluster/server/name`, so
/// the id is the path itself, no percent-encoding needed.
#[utoipa::path(
    get,
    path = "/api/v1/backups/{cluster}/{server}/{name}",
    summary = "One stored backup; its id `cluster/server/name` is the end of the path",
    params(("cluster" = String, Path), ("server" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "Its manifest.", body = Manifest))
)]
pub(in crate::api) async fn backup(
    State(services): State<Arc<Services>>,
    path: Result<UrlPath<(String, String, String)>, PathRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath((cluster, server, name)) = path.map_err(bad_path)?;
    let id = BackupId::from_name(&cluster, &server, &name).map_err(|e| repo_error(&e))?;
    let manifest = services.repos.get(&id).await?;
    let copies = services.repos.copies(&manifest).await;
    Ok(Json(Detailed { manifest, copies }))
}

/// The query of `DELETE /api/v1/backups/{cluster}/{server}/{name}`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(in crate::api) struct DeleteQuery {
    /// Delete it even when it is the newest verified backup of its server and kind.
    #[serde(default)]
    force: bool,
}

/// What a deletion answers.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct Deleted {
    /// The backup.
    id: String,
    /// The repositories it was deleted from.
    repositories: Vec<String>,
}

/// `DELETE /api/v1/backups/{cluster}/{server}/{name}`: from every repository that holds it.
#[utoipa::path(
    delete,
    path = "/api/v1/backups/{cluster}/{server}/{name}",
    summary = "Delete one stored backup from every repository holding it; the newest verified backup of its server and kind only with ?force=true, one being read never",
    params(("cluster" = String, Path), ("server" = String, Path), ("name" = String, Path), DeleteQuery),
    responses(
        (status = 200, description = "Deleted.", body = Deleted),
        (status = 409, description = "Refused: the newest verified backup without force, or a backup being read.", body = ErrorBody),
    )
)]
pub(in crate::api) async fn delete_backup(
    State(services): State<Arc<Services>>,
    path: Result<UrlPath<(String, String, String)>, PathRejection>,
    query: Result<Query<DeleteQuery>, QueryRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath((cluster, server, name)) = path.map_err(bad_path)?;
    let Query(query) = query.map_err(bad_query)?;
    let id = BackupId::from_name(&cluster, &server, &name).map_err(|e| repo_error(&e))?;
    let repositories = crate::deletion::delete(&services, &id, query.force).await?;
    Ok(Json(Deleted {
        id: id.to_string(),
        repositories,
    }))
}
