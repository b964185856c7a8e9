//! The web dashboard, served by the manager under `/ui`: HTML rendered on the server from
//! templates compiled into the binary (maud), no JavaScript, no asset to build or serve. Pages
//! that show something running refresh themselves.
//!
//! Behind the same authentication as the API: the login form takes the API token and opens a
//! session (`session.rs`); every page but the login needs it, and every button that changes
//! something carries the session's CSRF token.
//!
//! # Layout
//! - `dashboard/session.rs`: login, logout, the session check, the CSRF check.
//! - `dashboard/page.rs`: the page frame, the stylesheet, times with ages, sizes.
//! - `dashboard/overview.rs`: the fleet on one screen (`/ui`).
//! - `dashboard/lists.rs`: backups, jobs, one job, events, one verification run.
//! - `dashboard/actions.rs`: backup, verify, reseed (with its confirmation page).

mod actions;
mod lists;
mod overview;
mod page;
mod session;

use std::sync::Arc;

use axum::middleware;
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::Router;

pub use session::Sessions;

use crate::Services;

/// The dashboard's routes, whose login takes the token of digest `token_digest`; `https`:
/// served over TLS (the session cookie is then never sent in clear).
pub fn router(token_digest: [u8; 32], https: bool) -> Router<Arc<Services>> {
    let sessions = Sessions::new(token_digest, https);
    let pages = Router::new()
        .route("/ui", get(overview::overview))
        .route("/ui/backups", get(lists::backups))
        .route("/ui/jobs", get(lists::jobs))
        .route("/ui/jobs/{id}", get(lists::job))
        .route("/ui/events", get(lists::events))
        .route("/ui/runs/{id}", get(lists::run))
        .route("/ui/clusters/{cluster}/backup", post(actions::backup))
        .route("/ui/verify", post(actions::verify))
        .route(
            "/ui/clusters/{cluster}/reseed",
            get(actions::reseed_form).post(actions::reseed),
        )
        .layer(middleware::from_fn_with_state(
            sessions.clone(),
            session::require,
        ));
    let open = Router::new()
        .route(
            "/ui/login",
            get(session::form)
                .post(session::login)
                .with_state(sessions.clone()),
        )
        .route("/ui/logout", post(session::logout).with_state(sessions))
        .route("/", get(|| async { Redirect::to("/ui") }))
        .route("/ui/", get(|| async { Redirect::to("/ui") }));
    pages.merge(open)
}
