//! Node tasks queued on one server: optimize, log collection, the database service's stop,
//! start and restart, zfssnapback. Backups and reseeds have their own routes.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use ferryman_proto::{NodeTask, Task};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{bad_path, cluster, Reply};
use crate::api::error::clip;
use crate::api::openapi::{ErrorBody, NodeTaskName};
use crate::api::ApiError;
use crate::Services;

/// The body of `POST /api/v1/clusters/{cluster}/servers/{server}/tasks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(in crate::api) struct TaskRequest {
    /// One of `optimize`, `error-log`, `slow-query-log`, `stop`, `start`, `restart`,
    /// `zfssnapback` (a string rather than the enum: a backup's or reseed's name is answered
    /// with its route, not with serde's list).
    #[schema(value_type = NodeTaskName)]
    task: String,
    /// Required true for `stop`, `restart` and `zfssnapback`.
    #[serde(default)]
    confirm: bool,
}

/// What a queued task answers: the job to follow.
#[derive(Debug, Serialize, ToSchema)]
pub(in crate::api) struct TaskCreated {
    /// The manager job: `GET /api/v1/jobs/{id}` follows it.
    job_id: u64,
}

/// `POST /api/v1/clusters/{cluster}/servers/{server}/tasks`: 202 with the job id.
#[utoipa::path(
    post,
    path = "/api/v1/clusters/{cluster}/servers/{server}/tasks",
    summary = "Queue a task on one server (optimize, log collection, service stop/start/restart, zfssnapback); it runs on after the answer",
    params(("cluster" = String, Path), ("server" = String, Path)),
    request_body = TaskRequest,
    responses(
        (status = 202, description = "Queued; follow it with GET /api/v1/jobs/{id}.", body = TaskCreated),
        (status = 400, description = "An unknown task, a backup or reseed task, or a destructive one without confirm.", body = ErrorBody),
    )
)]
pub(in crate::api) async fn start_task(
    State(services): State<Arc<Services>>,
    path: Result<UrlPath<(String, String)>, PathRejection>,
    body: Result<Json<TaskRequest>, JsonRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath((name, server)) = path.map_err(bad_path)?;
    let c = cluster(&services, &name)?;
    let Json(request) = body.map_err(|e| {
        ApiError::bad_request(format!(
            "{}; send JSON like {{\"task\": \"optimize\"}} or {{\"task\": \"restart\", \"confirm\": true}}",
            e.body_text()
        ))
    })?;
    let task = parse(&request.task)?;
    if task.destructive() && !request.confirm {
        return Err(ApiError::bad_request(format!(
            "`{}` interrupts `{server}` or replaces its data: send \"confirm\": true (the CLI's --yes) to run it",
            request.task
        )));
    }
    let job_id = services.start_task(&c.name, &server, task.task(), "api")?;
    Ok((StatusCode::ACCEPTED, Json(TaskCreated { job_id })))
}

/// `name` as a node task, or the error that names what to send instead: the route of a backup
/// or a reseed, or this route's name of a task given by its jobs-table name (`error`).
fn parse(name: &str) -> Result<NodeTask, ApiError> {
    if let Some(task) = NodeTask::from_name(name) {
        return Ok(task);
    }
    let names = NodeTask::names();
    let Ok(task) = name.parse::<Task>() else {
        return Err(ApiError::bad_request(format!(
            "no task `{}`: tasks here: {names}",
            clip(name)
        )));
    };
    // Exhaustive: a new jobs-table task must be given a route here.
    let instead = match task {
        Task::Mariabackup | Task::Xtrabackup | Task::Mysqldump | Task::Mydumper => {
            "is a backup: POST /api/v1/clusters/{cluster}/backups (`ferryman backup run`)"
        }
        Task::Reseedxtrabackup
        | Task::Reseedmariabackup
        | Task::Reseedmysqldump
        | Task::Reseedmydumper
        | Task::Reseedsnapshot
        | Task::Snapshotsend => {
            "is a reseed: POST /api/v1/clusters/{cluster}/reseed (`ferryman reseed`)"
        }
        Task::Flashbackxtrabackup
        | Task::Flashbackmariabackup
        | Task::Flashbackmysqldump
        | Task::Flashbackmydumper => {
            "is a flashback: POST /api/v1/clusters/{cluster}/flashback (`ferryman flashback`)"
        }
        Task::Error => "is the jobs-table name of `error-log`: send \"task\": \"error-log\"",
        Task::Slowquery => {
            "is the jobs-table name of `slow-query-log`: send \"task\": \"slow-query-log\""
        }
        // Their names here are the jobs table's: parsed above.
        Task::Optimize
        | Task::Stop
        | Task::Start
        | Task::Restart
        | Task::Zfssnapback
        | Task::Snapshot => "is not a task of this route",
    };
    Err(ApiError::bad_request(format!(
        "`{name}` {instead}; tasks here: {names}"
    )))
}
