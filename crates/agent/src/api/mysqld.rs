//! `GET mysqld`: whether the server answers, its version, uptime and process; `POST
//! mysqld/{start,stop,restart}`: the configured service command, then the state it must lead
//! to (`tasks/service.rs`, as the jobs run them).
//!
//! A service action takes [`Busy`](crate::busy::Busy) first: refused (409) while a job runs,
//! and a job claimed meanwhile waits for it. It runs in a task of its own; the answer waits at
//! most [`ANSWER_WITHIN`]: a server slower to start or stop is answered 202 "still running",
//! the action goes on (its end is logged) and `GET mysqld` shows when it is done.

use std::path::Path;
use std::time::Duration;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::Json;
use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::Session;
use ferryman_http::ApiError;
use ferryman_proto::node_api::{MysqldStatus, ServiceOutcome};

use tracing::Instrument;

use super::Shared;
use crate::progress::Progress;
use crate::tasks::service::{run_command, wait_state};
use crate::tasks::Node;

/// How long an action's answer waits for its end (the CLI's requests give up after 30 s).
const ANSWER_WITHIN: Duration = Duration::from_secs(20);

/// `@@version, @@read_only, @@pid_file, @@datadir`.
type Identity = (String, i64, Option<String>, String);

pub(super) async fn status(State(api): State<Shared>) -> Json<MysqldStatus> {
    let mut status = MysqldStatus {
        server: api.server.name.clone(),
        busy_with: api.busy.holder(),
        ..Default::default()
    };
    let conn = api.endpoint.connect(Session::Plain).await;
    let mut conn = match conn {
        Ok(conn) => conn,
        Err(e) => {
            status.error = Some(format!(
                "does not accept connections: {e}; its error log: `ferryman node error-log --server {}`",
                api.server.name
            ));
            return Json(status);
        }
    };
    status.answering = true;
    let identity: Result<Option<Identity>, _> = conn
        .query_first("SELECT @@version, @@read_only, @@pid_file, @@datadir")
        .await;
    let uptime: Result<Option<String>, _> = conn
        .query_first(
            "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS \
             WHERE VARIABLE_NAME = 'UPTIME'",
        )
        .await;
    let _ = conn.disconnect().await;
    match identity {
        Ok(Some((version, read_only, pid_file, datadir))) => {
            status.version = Some(version);
            status.read_only = Some(read_only != 0);
            if let Some(pid_file) = pid_file.filter(|p| !p.is_empty()) {
                let path = Path::new(&datadir).join(pid_file);
                status.pid = read_pid(&path);
                status.process_alive = status.pid.map(alive);
            }
        }
        Ok(None) => {}
        Err(e) => status.error = Some(format!("answers, but cannot read its variables: {e}")),
    }
    if let Ok(Some(uptime)) = uptime {
        status.uptime_s = uptime.trim().parse().ok();
    }
    Json(status)
}

/// The process id in a pid file.
pub(super) fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Whether process `pid` exists.
pub(super) fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

pub(super) async fn act(
    State(api): State<Shared>,
    path: Result<UrlPath<String>, PathRejection>,
) -> Result<(StatusCode, Json<ServiceOutcome>), ApiError> {
    let UrlPath(action) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let (key, want_up) = match action.as_str() {
        "start" => ("service-start", true),
        "stop" => ("service-stop", false),
        "restart" => ("service-restart", true),
        other => {
            return Err(ApiError::not_found(format!(
                "no action `{}`: start, stop or restart",
                ferryman_http::clip(other)
            )))
        }
    };
    let held = api
        .busy
        .try_hold(format!("the API's {action}"))
        .map_err(|holder| {
            ApiError::conflict(format!(
                "`{}` is busy with {holder}: a {action} now would break it; try again when it ends (`ferryman node status` names what runs)",
                api.server.name
            ))
        })?;
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let state = std::sync::Arc::clone(&api);
    let name = action.clone();
    let span = tracing::info_span!("service-action", server = %api.server.name, %action);
    api.actions.spawn(async move {
        let _held = held;
        let progress = Progress::new();
        let node = Node {
            server: &state.server,
            endpoint: &state.endpoint,
            progress: &progress,
        };
        let argv = match name.as_str() {
            "start" => &state.server.service_start,
            "stop" => &state.server.service_stop,
            _ => &state.server.service_restart,
        };
        let outcome = async {
            let ran = run_command(&node, key, argv, "").await?;
            let settled = wait_state(&node, want_up, "").await?;
            Ok::<_, crate::Error>(format!("{name}: {ran}; {settled}"))
        }
        .await;
        match &outcome {
            Ok(text) => {
                tracing::info!(server = %state.server.name, action = %name, result = %text, "service action done")
            }
            Err(e) => {
                tracing::warn!(server = %state.server.name, action = %name, error = %e, "service action failed")
            }
        }
        let _ = done_tx.send(outcome.map_err(|e| e.to_string()));
    }.instrument(span));
    match tokio::time::timeout(ANSWER_WITHIN, done_rx).await {
        Ok(Ok(Ok(result))) => Ok((StatusCode::OK, Json(ServiceOutcome { action, result }))),
        Ok(Ok(Err(message))) => Err(ApiError::internal(message)),
        Ok(Err(_)) => Err(ApiError::internal(format!(
            "the {action} ended without an outcome: see the agent's log"
        ))),
        Err(_) => Ok((
            StatusCode::ACCEPTED,
            Json(ServiceOutcome {
                result: format!(
                    "{action}: still running after {} s (the server may take minutes to {}); `ferryman node status --server {}` shows when it is done, the agent's log says how it ended",
                    ANSWER_WITHIN.as_secs(),
                    if want_up { "start" } else { "stop" },
                    api.server.name
                ),
                action,
            }),
        )),
    }
}
