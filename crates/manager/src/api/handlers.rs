//! The route handlers, one file per resource. Each checks its input, asks [`Services`], and
//! answers JSON; failures are [`ApiError`]s whose message says what to do next. Each route's
//! handler carries its `#[utoipa::path]`: the OpenAPI document (`api/openapi.rs`) is derived
//! from them.
//!
//! # Layout
//! - `handlers.rs`: health, the document itself, the fallbacks, and what every handler shares
//!   (the cluster looked up, rejected paths and queries, `?wait_ms=`).
//! - `handlers/clusters.rs`: the configured clusters, a cluster's topology, its collected logs.
//! - `handlers/backups.rs`: starting a backup, retention (prune), the stored backups.
//! - `handlers/reseed.rs`: reseed and flashback, and replication-manager's reseed routes.
//! - `handlers/jobs.rs`: the manager's jobs: listed, one (waited on), cancelled.
//! - `handlers/verify.rs`: verification runs: started, listed, one (waited on).
//! - `handlers/status.rs`: the fleet on one screen.
//! - `handlers/tasks.rs`: node tasks queued on one server (optimize, logs, service commands).
//! - `handlers/node.rs`: a server's agent asked through the manager (status, service,
//!   detection, disk, error log, replicas); `handlers/node_snapshots.rs`: its snapshots.
//! - `handlers/metrics.rs`: `/metrics` for Prometheus.
//! - `handlers/events.rs`: the events kept, the notifications' dead letters.

pub(super) mod backups;
pub(super) mod clusters;
pub(super) mod events;
pub(super) mod jobs;
pub(super) mod metrics;
pub(super) mod node;
pub(super) mod node_snapshots;
pub(super) mod pitr;
pub(super) mod reseed;
pub(super) mod status;
pub(super) mod tasks;
pub(super) mod verify;

pub(super) use backups::{backup, backups, delete_backup, prune, start_backup};
pub(super) use clusters::{clusters, log, logs, topology};
pub(super) use events::{dead_letters, events};
pub(super) use jobs::{cancel_job, job, jobs};
pub(super) use metrics::metrics;
pub(super) use node::{
    node_action, node_detect, node_disk, node_error_log, node_mysqld, node_replicas,
};
pub(super) use node_snapshots::{
    node_mount_snapshot, node_remove_snapshot, node_snapshots, node_take_snapshot,
    node_unmount_snapshot,
};
pub(super) use pitr::{pitr, prove};
pub(super) use reseed::{flashback, reseed, rm_reseed, rm_reseed_host_port};
pub(super) use status::status;
pub(super) use tasks::start_task;
pub(super) use verify::{verify, verify_run, verify_runs};

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::{StatusCode, Uri};
use axum::Json;
use ferryman_config::ClusterConfig;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::clip;
use super::{openapi, ApiError};
use crate::Services;

type Reply<T> = Result<T, ApiError>;

/// The longest `?wait_ms=` honoured.
const MAX_WAIT_MS: u64 = 30_000;

/// The query of a read that can wait for its subject's end (a job, a verification run).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct WaitQuery {
    /// Answer as soon as it has ended, or after this many milliseconds at most (capped at
    /// 30000): how a client follows it without polling.
    wait_ms: Option<u64>,
}

impl WaitQuery {
    /// How long to wait for the end; `None`: answer at once.
    fn at_most(&self) -> Option<std::time::Duration> {
        self.wait_ms
            .filter(|ms| *ms > 0)
            .map(|ms| std::time::Duration::from_millis(ms.min(MAX_WAIT_MS)))
    }
}

/// What `GET /api/health` answers.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Health {
    status: &'static str,
    version: &'static str,
}

/// `GET /api/health`.
#[utoipa::path(
    get,
    path = super::HEALTH,
    tag = "manager",
    summary = "Whether the manager answers (no token needed)",
    responses((status = 200, description = "Up.", body = inline(Health)))
)]
pub(super) async fn health() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// `GET /api/v1/openapi.json`.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "manager",
    summary = "This document",
    responses((status = 200, description = "The OpenAPI document.", body = Object))
)]
pub(super) async fn openapi() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(openapi::document())
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
