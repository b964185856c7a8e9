//! The dashboard's lists: backups with their checks, jobs (and one job followed), events, and a
//! verification run followed.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use maud::html;
use serde::Deserialize;

use super::overview::{progress, verification, verify_button};
use super::page::{self, when};
use super::session::Session;
use crate::fleet::kind_name;
use crate::Services;

/// `?cluster=` of the backups page.
#[derive(Debug, Deserialize)]
pub struct BackupsQuery {
    cluster: Option<String>,
}

/// `GET /ui/backups`.
pub async fn backups(
    State(services): State<Arc<Services>>,
    Extension(session): Extension<Session>,
    Query(q): Query<BackupsQuery>,
) -> Response {
    let list = match services.repos.list(q.cluster.as_deref(), None).await {
        Ok(l) => l,
        Err(e) => return failure(&session, &e.to_string()),
    };
    let body = html! {
        h1 { "Backups" }
        table {
            tr { th { "Backup" } th { "Kind" } th { "Tool" } th { "Ended" } th { "Raw" } th { "Stored" } th { "GTID" } th { "Verification" } th {} }
            @for m in &list {
                tr {
                    td { code { (m.id) } }
                    td { (kind_name(m.kind)) } td { (m.tool.as_str()) }
                    td { (when(m.ended_at)) }
                    td { (page::bytes(m.raw_bytes)) } td { (page::bytes(m.stored_bytes)) }
                    td { code { (m.gtid.as_deref().unwrap_or("-")) } }
                    td { (verification(m)) }
                    td { (verify_button(&session, &m.id.to_string())) }
                }
            }
        }
        @if list.is_empty() { p.muted { "no backups" } }
    };
    page::frame("Backups", &session, None, body).into_response()
}

/// `GET /ui/jobs`: the newest 200.
pub async fn jobs(
    State(services): State<Arc<Services>>,
    Extension(session): Extension<Session>,
) -> Response {
    let jobs = services.registry.list();
    let running = jobs.iter().any(|j| !j.state.is_final());
    let body = html! {
        h1 { "Jobs" }
        table {
            tr { th { "Job" } th { "Cluster" } th { "Server" } th { "Task" } th { "State" } th { "Phase" } th { "Progress" } th { "Created" } th { "Trigger" } }
            @for j in jobs.iter().take(200) {
                tr {
                    td { a href=(format!("/ui/jobs/{}", j.id)) { (j.id) } }
                    td { (j.cluster) } td { (j.server) } td { (j.task.as_str()) }
                    td { (state(j.state)) } td { (j.phase) } td { (progress(j)) }
                    td { (when(ferryman_repo::Timestamp::from_unix(j.created_at as i64))) }
                    td { (j.trigger) }
                }
            }
        }
        @if jobs.is_empty() { p.muted { "no jobs" } }
    };
    page::frame("Jobs", &session, running.then_some(5), body).into_response()
}

fn state(s: crate::JobState) -> maud::Markup {
    use crate::JobState as S;
    match s {
        S::Succeeded => html! { span.ok id="state" { (s.as_str()) } },
        S::Failed => html! { span.bad id="state" { (s.as_str()) } },
        _ => html! { span id="state" { (s.as_str()) } },
    }
}

/// `GET /ui/jobs/{id}`: refreshed every 2 s until it ends.
pub async fn job(
    State(services): State<Arc<Services>>,
    Extension(session): Extension<Session>,
    Path(id): Path<u64>,
) -> Response {
    let Some(j) = services.registry.get(id) else {
        return (
            StatusCode::NOT_FOUND,
            page::frame(
                "No such job",
                &session,
                None,
                html! { p.error { "No job " (id) ": see the jobs list." } },
            ),
        )
            .into_response();
    };
    let body = html! {
        h1 { "Job " (j.id) ": " (j.task.as_str()) " on " (j.cluster) "/" (j.server) }
        table {
            tr { th { "State" } td { (state(j.state)) } }
            tr { th { "Phase" } td { (j.phase) } }
            tr { th { "Progress" } td { (progress(&j)) } }
            tr { th { "Created" } td { (when(ferryman_repo::Timestamp::from_unix(j.created_at as i64))) } }
            @if let Some(e) = j.ended_at { tr { th { "Ended" } td { (when(ferryman_repo::Timestamp::from_unix(e as i64))) } } }
            @if let Some(b) = &j.backup_id { tr { th { "Backup" } td { code { (b) } } } }
            @if let Some(r) = &j.node_result { tr { th { "Node result" } td { (r) } } }
            @if let Some(e) = &j.error { tr { th { "Error" } td.error { (e) } } }
            tr { th { "Trigger" } td { (j.trigger) } }
        }
    };
    let refresh = (!j.state.is_final()).then_some(2);
    page::frame(&format!("Job {id}"), &session, refresh, body).into_response()
}

/// `GET /ui/events`: the newest 200, newest first.
pub async fn events(
    State(services): State<Arc<Services>>,
    Extension(session): Extension<Session>,
) -> Response {
    let events = services.events.since(0);
    let body = html! {
        h1 { "Events" }
        table {
            tr { th { "Event" } th { "At" } th { "Severity" } th { "Kind" } th { "Cluster" } th { "Server" } th { "What" } }
            @for e in events.iter().rev().take(200) {
                tr {
                    td { (e.id) } td { (when(e.at)) }
                    td { @if e.severity == crate::events::Severity::Error { span.bad { "error" } } @else { "info" } }
                    td { (e.kind.as_str()) } td { (e.cluster) } td { (e.server.as_deref().unwrap_or("")) }
                    td { (e.message) }
                }
            }
        }
        @if events.is_empty() { p.muted { "no events" } }
    };
    page::frame("Events", &session, None, body).into_response()
}

/// `GET /ui/runs/{id}`: a verification run, refreshed until it is done.
pub async fn run(
    State(services): State<Arc<Services>>,
    Extension(session): Extension<Session>,
    Path(id): Path<u64>,
) -> Response {
    let Some(r) = services.verify_runs.get(id) else {
        return failure(&session, &format!("no verification run {id}"));
    };
    let done = r.state == crate::verification::RunState::Done;
    let body = html! {
        h1 { "Verification run " (r.id) }
        p { "Started " (when(r.started_at)) @if let Some(ok) = r.ok { " · " @if ok { span.ok id="run-result" { "passed" } } @else { span.bad id="run-result" { "FAILED" } } } }
        table {
            tr { th { "Backup" } th { "Phase" } th { "Status" } th { "Restore" } th { "Reasons" } }
            @for i in &r.items {
                tr {
                    td { code { (i.backup.as_deref().unwrap_or(&i.cluster)) } }
                    td { (i.phase) }
                    td { @match (i.done, i.is_ok()) { (false, _) => "running", (true, true) => span.ok { "ok" }, (true, false) => span.bad { "failed" } } }
                    td { (i.restore_seconds.map_or_else(|| "-".to_owned(), |s| format!("{s:.1} s"))) }
                    td { @for reason in &i.reasons { (reason) br; } @if let Some(e) = &i.error { span.error { (e) } } }
                }
            }
        }
    };
    page::frame(&format!("Run {id}"), &session, (!done).then_some(2), body).into_response()
}

/// A page that says what went wrong, with the way back.
pub(super) fn failure(session: &Session, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        page::frame(
            "Refused",
            session,
            None,
            html! { p.error id="error" { (message) } p { a href="/ui" { "Back to the fleet" } } },
        ),
    )
        .into_response()
}
