//! One function per route. Each checks its input, asks [`Services`], and answers JSON; failures
//! are [`ApiError`]s whose message says what to do next.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use axum::Json;
use ferryman_config::ClusterConfig;
use ferryman_repo::{BackupId, LogKind, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::clip;
use super::{openapi, ApiError};
use crate::registry::JobState;
use crate::reseed::{Method, ReseedRequest};
use crate::Services;

type Reply<T> = Result<T, ApiError>;

/// `GET /api/health`.
pub(super) async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// Unknown paths (behind the token).
pub(super) async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "no route {}: the routes are listed in /api/v1/openapi.json",
        clip(uri.path())
    ))
}

/// A known path with the wrong method.
pub(super) async fn method_not_allowed(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} does not take this method: see /api/v1/openapi.json",
            clip(uri.path())
        ),
    )
}

/// `GET /api/v1/openapi.json`.
pub(super) async fn openapi() -> Json<Value> {
    Json(openapi::document())
}

/// A cluster as `GET /api/v1/clusters` lists it.
#[derive(Debug, Serialize)]
struct ClusterSummary<'a> {
    name: &'a str,
    backup_physical_type: ferryman_proto::Task,
    backup_logical_type: ferryman_proto::Task,
    servers: Vec<ServerSummary<'a>>,
}

#[derive(Debug, Serialize)]
struct ServerSummary<'a> {
    name: &'a str,
    host: &'a str,
    port: u16,
    legacy_donor: bool,
}

/// `GET /api/v1/clusters`.
pub(super) async fn clusters(State(services): State<Arc<Services>>) -> Json<Value> {
    let clusters: Vec<ClusterSummary<'_>> = services
        .config
        .clusters
        .iter()
        .map(|c| ClusterSummary {
            name: &c.name,
            backup_physical_type: c.backup_physical_type,
            backup_logical_type: c.backup_logical_type,
            servers: c
                .servers
                .iter()
                .map(|s| ServerSummary {
                    name: &s.name,
                    host: &s.host,
                    port: s.port,
                    legacy_donor: s.legacy_donor,
                })
                .collect(),
        })
        .collect();
    Json(json!(clusters))
}

/// `GET /api/v1/clusters/{cluster}/topology`.
pub(super) async fn topology(
    State(services): State<Arc<Services>>,
    path: Result<UrlPath<String>, PathRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath(name) = path.map_err(bad_path)?;
    cluster(&services, &name)?;
    if let Some(view) = services.topology.cluster(&name) {
        return Ok(Json(view));
    }
    // Not read yet (the monitor reads every few seconds): read it now rather than fail.
    services.topology.refresh(&services.config).await;
    services.topology.cluster(&name).map(Json).ok_or_else(|| {
        ApiError::internal(format!(
            "the topology of `{name}` could not be read; see the manager's log"
        ))
    })
}

/// Kinds of backup a client may ask for.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum BackupKind {
    /// The cluster's `backup-physical-type`.
    Physical,
    /// The cluster's `backup-logical-type`.
    Logical,
}

/// The body of `POST /api/v1/clusters/{cluster}/backups`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BackupRequest {
    kind: BackupKind,
    #[serde(default)]
    server: Option<String>,
}

/// `POST /api/v1/clusters/{cluster}/backups`: 202 with the job id; the backup runs on.
pub(super) async fn start_backup(
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
    Ok((StatusCode::ACCEPTED, Json(json!({ "job_id": job_id }))))
}

/// The body of `POST /api/v1/clusters/{cluster}/prune` (optional: `{}` or none applies).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PruneRequest {
    #[serde(default)]
    dry_run: bool,
}

/// `POST /api/v1/clusters/{cluster}/prune`: applies the cluster's retention now (or only plans
/// it with `{"dry_run": true}`); answers what was kept, with every reason, and deleted.
pub(super) async fn prune(
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

/// The body of `POST /api/v1/clusters/{cluster}/reseed`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReseedBody {
    servers: Vec<String>,
    method: String,
    #[serde(default)]
    backup: Option<String>,
    /// Restore the named backup even though its newest verification failed.
    #[serde(default)]
    force: bool,
}

/// The body of `POST /api/v1/clusters/{cluster}/flashback`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FlashbackBody {
    server: String,
    backup: String,
    #[serde(default)]
    force: bool,
}

/// Starts a reseed; 202 with one job id per joiner.
async fn start_reseed(
    services: &Arc<Services>,
    cluster_name: &str,
    servers: Vec<String>,
    method: Method,
    backup: Option<&str>,
    force: bool,
) -> Reply<(StatusCode, Json<Value>)> {
    cluster(services, cluster_name)?;
    let backup = backup.map(str::parse::<BackupId>).transpose()?;
    let (ids, notes) = services
        .start_reseed_noted(
            cluster_name,
            ReseedRequest {
                servers,
                method,
                backup,
                force,
            },
            "api",
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "job_ids": ids, "notes": notes })),
    ))
}

/// `POST /api/v1/clusters/{cluster}/reseed`: rebuild replicas (several: one source read once).
pub(super) async fn reseed(
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
    )
    .await
}

/// `POST /api/v1/clusters/{cluster}/flashback`: rewind a replica to a chosen backup.
pub(super) async fn flashback(
    State(services): State<Arc<Services>>,
    path: Result<UrlPath<String>, PathRejection>,
    body: Result<Json<FlashbackBody>, JsonRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath(name) = path.map_err(bad_path)?;
    let Json(body) = body.map_err(|e| {
        ApiError::bad_request(format!(
            "{}; send JSON like {{\"server\": \"db2\", \"backup\": \"CLUSTER/SERVER/NAME\"}}",
            e.body_text()
        ))
    })?;
    start_reseed(
        &services,
        &name,
        vec![body.server],
        Method::Flashback,
        Some(&body.backup),
        body.force,
    )
    .await
}

/// replication-manager's `…/servers/{server}/actions/reseed/{method}`.
pub(super) async fn rm_reseed(
    State(services): State<Arc<Services>>,
    path: Result<UrlPath<(String, String, String)>, PathRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath((name, server, method)) = path.map_err(bad_path)?;
    start_rm_reseed(&services, &name, server, &method).await
}

/// replication-manager's `…/servers/{host}/{port}/actions/reseed/{method}`.
pub(super) async fn rm_reseed_host_port(
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
) -> Reply<(StatusCode, Json<Value>)> {
    start_reseed(
        services,
        cluster,
        vec![server],
        rm_method(method)?,
        None,
        false,
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

/// The query of `GET /api/v1/jobs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct JobsQuery {
    cluster: Option<String>,
    state: Option<String>,
}

/// The name of a state, as the JSON shows it and `?state=` takes it.
fn state_name(state: JobState) -> &'static str {
    match state {
        JobState::Queued => "queued",
        JobState::Waiting => "waiting",
        JobState::Receiving => "receiving",
        JobState::Succeeded => "succeeded",
        JobState::Failed => "failed",
        JobState::Cancelled => "cancelled",
    }
}

/// Every state's name, for `?state=` and the OpenAPI document.
pub(super) const STATES: [&str; 6] = [
    "queued",
    "waiting",
    "receiving",
    "succeeded",
    "failed",
    "cancelled",
];

/// `GET /api/v1/jobs?cluster=&state=`: newest first.
pub(super) async fn jobs(
    State(services): State<Arc<Services>>,
    query: Result<Query<JobsQuery>, QueryRejection>,
) -> Reply<impl IntoResponse> {
    let Query(query) = query.map_err(bad_query)?;
    if let Some(name) = &query.cluster {
        cluster(&services, name)?;
    }
    if let Some(state) = &query.state {
        if !STATES.contains(&state.as_str()) {
            return Err(ApiError::bad_request(format!(
                "unknown job state `{}`: use one of {}",
                clip(state),
                STATES.join(", ")
            )));
        }
    }
    let jobs: Vec<_> = services
        .registry
        .list()
        .into_iter()
        .filter(|j| query.cluster.as_ref().is_none_or(|c| &j.cluster == c))
        .filter(|j| {
            query
                .state
                .as_deref()
                .is_none_or(|s| state_name(j.state) == s)
        })
        .collect();
    Ok(Json(jobs))
}

/// `GET /api/v1/jobs/{id}`.
pub(super) async fn job(
    State(services): State<Arc<Services>>,
    path: Result<UrlPath<u64>, PathRejection>,
    query: Result<Query<JobQuery>, QueryRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath(id) = path.map_err(bad_path)?;
    let Query(query) = query.map_err(bad_query)?;
    let record = match query.wait_ms {
        Some(ms) if ms > 0 => {
            let at_most = std::time::Duration::from_millis(ms.min(MAX_WAIT_MS));
            services.registry.wait_end(id, at_most).await
        }
        _ => services.registry.get(id),
    };
    record.map(Json).ok_or_else(|| no_job(id))
}

/// The longest `?wait_ms=` honoured.
pub(super) const MAX_WAIT_MS: u64 = 30_000;

/// The query of `GET /api/v1/jobs/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct JobQuery {
    /// Answer as soon as the job has ended, or after this many milliseconds at most (capped
    /// at [`MAX_WAIT_MS`]): how a client follows a job without polling.
    wait_ms: Option<u64>,
}

/// `POST /api/v1/jobs/{id}/cancel`: 202 with the job; it ends (cancelled) shortly after.
pub(super) async fn cancel_job(
    State(services): State<Arc<Services>>,
    path: Result<UrlPath<u64>, PathRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath(id) = path.map_err(bad_path)?;
    let job = services.registry.get(id).ok_or_else(|| no_job(id))?;
    if job.state.is_final() || !services.registry.cancel(id) {
        return Err(ApiError::conflict(format!(
            "job {id} has already ended ({}); nothing to cancel",
            state_name(job.state)
        )));
    }
    let job = services.registry.get(id).unwrap_or(job);
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// The query of `GET /api/v1/backups`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BackupsQuery {
    cluster: Option<String>,
    server: Option<String>,
}

/// `GET /api/v1/backups?cluster=&server=`: manifests, newest first. Names are not checked
/// against the configuration: the repository keeps backups of servers since removed from it.
pub(super) async fn backups(
    State(services): State<Arc<Services>>,
    query: Result<Query<BackupsQuery>, QueryRejection>,
) -> Reply<impl IntoResponse> {
    let Query(query) = query.map_err(bad_query)?;
    let manifests = services
        .repo
        .list(query.cluster.as_deref(), query.server.as_deref())
        .await?;
    Ok(Json(manifests))
}

/// `GET /api/v1/backups/{cluster}/{server}/{name}`: a backup id is `cluster/server/name`, so
/// the id is the path itself, no percent-encoding needed.
pub(super) async fn backup(
    State(services): State<Arc<Services>>,
    path: Result<UrlPath<(String, String, String)>, PathRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath((cluster, server, name)) = path.map_err(bad_path)?;
    let id = BackupId::from_name(&cluster, &server, &name)?;
    Ok(Json(services.repo.get(&id).await?))
}

/// One collected log file, as `GET /api/v1/clusters/{cluster}/logs` lists it.
#[derive(Debug, Serialize)]
struct LogEntry {
    server: String,
    /// The file's name in the repository's logs area.
    name: String,
    kind: LogKind,
    received_at: Timestamp,
    job_id: u64,
}

/// `GET /api/v1/clusters/{cluster}/logs`: the error and slow-query logs collected from the
/// cluster's servers, per server (in configuration order), newest first.
pub(super) async fn logs(
    State(services): State<Arc<Services>>,
    path: Result<UrlPath<String>, PathRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath(name) = path.map_err(bad_path)?;
    let c = cluster(&services, &name)?;
    let mut entries = Vec::new();
    for server in &c.servers {
        for file in services.repo.list_logs(&c.name, &server.name).await? {
            entries.push(LogEntry {
                server: server.name.clone(),
                name: file.key.name().to_owned(),
                kind: file.kind,
                received_at: file.received_at,
                job_id: file.job_id,
            });
        }
    }
    Ok(Json(entries))
}

/// The cluster called `name`, or a 404 naming the known ones.
fn cluster<'a>(services: &'a Services, name: &str) -> Reply<&'a ClusterConfig> {
    services.config.cluster(name).ok_or_else(|| {
        let known: Vec<&str> = services
            .config
            .clusters
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        ApiError::not_found(format!(
            "cluster `{}` is not in the configuration; known: {}",
            clip(name),
            known.join(", ")
        ))
    })
}

fn no_job(id: u64) -> ApiError {
    ApiError::not_found(format!(
        "no job {id}: the manager remembers its jobs since it started (the newest 1000); list them with GET /api/v1/jobs"
    ))
}

fn bad_path(e: PathRejection) -> ApiError {
    ApiError::bad_request(format!(
        "{}; see /api/v1/openapi.json for the routes",
        e.body_text()
    ))
}

fn bad_query(e: QueryRejection) -> ApiError {
    ApiError::bad_request(format!(
        "{}; see /api/v1/openapi.json for the parameters",
        e.body_text()
    ))
}

/// The body of `POST /api/v1/verify`: exactly one of `backup`, `cluster` with `latest`, or
/// `all_clusters`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VerifyBody {
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
pub(super) async fn verify(
    State(services): State<Arc<Services>>,
    body: Result<Json<VerifyBody>, JsonRejection>,
) -> Reply<impl IntoResponse> {
    const FORMS: &str = "send {\"backup\": \"CLUSTER/SERVER/NAME\"}, {\"cluster\": \"C\", \"latest\": true} or {\"all_clusters\": true}";
    let Json(body) =
        body.map_err(|e| ApiError::bad_request(format!("{}; {FORMS}", e.body_text())))?;
    use crate::verification::Target;
    let target = match (body.backup, body.cluster, body.latest, body.all_clusters) {
        (Some(id), None, false, false) => Target::Backup(id.parse::<BackupId>()?),
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
pub(super) async fn verify_runs(State(services): State<Arc<Services>>) -> Json<Value> {
    Json(json!(services.verify_runs.list()))
}

/// `GET /api/v1/verify/runs/{id}`.
pub(super) async fn verify_run(
    State(services): State<Arc<Services>>,
    path: Result<UrlPath<u64>, PathRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath(id) = path.map_err(bad_path)?;
    services.verify_runs.get(id).map(Json).ok_or_else(|| {
        ApiError::not_found(format!(
            "no verification run {id} (runs are kept in memory since the manager started; results are in the backups' manifests: `ferryman backup show ID`)"
        ))
    })
}

/// The query of `GET /api/v1/events`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EventsQuery {
    #[serde(default)]
    since: u64,
}

/// `GET /api/v1/events?since=N`: the kept events with an id above N, oldest first.
pub(super) async fn events(
    State(services): State<Arc<Services>>,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Reply<impl IntoResponse> {
    let Query(query) = query.map_err(bad_query)?;
    Ok(Json(services.events.since(query.since)))
}
