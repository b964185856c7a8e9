//! What the dashboard's buttons do: start a backup, verify a backup, reseed a replica (after a
//! page that says what will be replaced, and a confirmation). Each checks the form's CSRF token
//! first and goes through the same `Services` entry as the API, so the same rules apply.

use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::html;
use serde::Deserialize;

use super::lists::failure;
use super::page;
use super::session::{refuse_forged, Session};
use crate::reseed::{Method, ReseedRequest};
use crate::verification::{self, Target};
use crate::Services;

/// The backup buttons' form.
#[derive(Debug, Deserialize)]
pub struct BackupForm {
    csrf: String,
    kind: String,
}

/// `POST /ui/clusters/{cluster}/backup`: starts it, then shows its job.
pub async fn backup(
    State(services): State<Arc<Services>>,
    Extension(session): Extension<Session>,
    Path(cluster): Path<String>,
    Form(form): Form<BackupForm>,
) -> Response {
    if let Some(refused) = refuse_forged(&session, &form.csrf) {
        return refused;
    }
    let c = match services.cluster(&cluster) {
        Ok(c) => c,
        Err(e) => return failure(&session, &e.to_string()),
    };
    let task = match form.kind.as_str() {
        "physical" => c.backup_physical_type,
        "logical" => c.backup_logical_type,
        other => {
            return failure(
                &session,
                &format!("unknown backup kind `{other}`: physical or logical"),
            )
        }
    };
    match services
        .start_backup(&cluster, None, task, "dashboard")
        .await
    {
        Ok(id) => Redirect::to(&format!("/ui/jobs/{id}")).into_response(),
        Err(e) => failure(&session, &e.to_string()),
    }
}

/// The verify button's form.
#[derive(Debug, Deserialize)]
pub struct VerifyForm {
    csrf: String,
    backup: String,
}

/// `POST /ui/verify`: starts a verification of one backup, then shows its run.
pub async fn verify(
    State(services): State<Arc<Services>>,
    Extension(session): Extension<Session>,
    Form(form): Form<VerifyForm>,
) -> Response {
    if let Some(refused) = refuse_forged(&session, &form.csrf) {
        return refused;
    }
    let id = match form.backup.parse() {
        Ok(id) => id,
        Err(e) => return failure(&session, &format!("`{}`: {e}", form.backup)),
    };
    match verification::start(&services, Target::Backup(id), "dashboard").await {
        Ok(run) => Redirect::to(&format!("/ui/runs/{}", run.id)).into_response(),
        Err(e) => failure(&session, &e.to_string()),
    }
}

/// `?server=` of the reseed page.
#[derive(Debug, Deserialize)]
pub struct ReseedQuery {
    server: String,
}

/// `GET /ui/clusters/{cluster}/reseed?server=S`: what a reseed replaces, and the confirmation.
pub async fn reseed_form(
    State(services): State<Arc<Services>>,
    Extension(session): Extension<Session>,
    Path(cluster): Path<String>,
    Query(q): Query<ReseedQuery>,
) -> Response {
    if let Err(e) = services
        .cluster(&cluster)
        .and_then(|c| Services::server(c, &q.server).map(|_| ()))
    {
        return failure(&session, &e.to_string());
    }
    let body = html! {
        h1 { "Reseed " (q.server) " of " (cluster) }
        p { "A reseed " strong { "replaces all the data of " (q.server) } " with a copy of the cluster's data, then makes it replicate from the primary again. "
            "Its current data is kept aside until the new copy runs, and put back if the reseed fails." }
        form method="post" action=(format!("/ui/clusters/{cluster}/reseed")) {
            (page::csrf(&session))
            input type="hidden" name="server" value=(q.server);
            p {
                label { "From " select name="method" id="method" {
                    @for m in [Method::Physicalbackup, Method::Logicalbackup, Method::Logicalmaster] {
                        option value=(m.as_str()) { (m.as_str()) }
                    }
                } }
            }
            p { label { input type="checkbox" name="confirm" value="yes" id="confirm" required; " I understand that the data of " (q.server) " is replaced" } }
            button.danger type="submit" id="reseed" { "Reseed " (q.server) }
            " " a href="/ui" { "Cancel" }
        }
    };
    page::frame("Reseed", &session, None, body).into_response()
}

/// The reseed confirmation's form.
#[derive(Debug, Deserialize)]
pub struct ReseedForm {
    csrf: String,
    server: String,
    method: String,
    #[serde(default)]
    confirm: Option<String>,
}

/// `POST /ui/clusters/{cluster}/reseed`: only with the box ticked.
pub async fn reseed(
    State(services): State<Arc<Services>>,
    Extension(session): Extension<Session>,
    Path(cluster): Path<String>,
    Form(form): Form<ReseedForm>,
) -> Response {
    if let Some(refused) = refuse_forged(&session, &form.csrf) {
        return refused;
    }
    if form.confirm.as_deref() != Some("yes") {
        return failure(
            &session,
            "not reseeded: tick the box that confirms the server's data is replaced",
        );
    }
    let method: Method = match form.method.parse() {
        Ok(m) => m,
        Err(e) => return failure(&session, &format!("{e}")),
    };
    let request = ReseedRequest {
        servers: vec![form.server.clone()],
        method,
        backup: None,
        force: false,
        to: None,
    };
    match services.start_reseed(&cluster, request, "dashboard").await {
        Ok(ids) => match ids.first() {
            Some(id) => Redirect::to(&format!("/ui/jobs/{id}")).into_response(),
            None => Redirect::to("/ui/jobs").into_response(),
        },
        Err(e) => failure(&session, &e.to_string()),
    }
}
