//! The fleet on one screen (`GET /ui`): each cluster's topology with roles and lag, its newest
//! backup of each kind with its age and verification, its last recoverable point, its running
//! jobs with their progress (`fleet.rs` gathers them), and the buttons that start a backup or
//! a verification.

use std::sync::Arc;

use axum::extract::State;
use axum::Extension;
use ferryman_repo::Manifest;
use maud::{html, Markup};

use super::page::{self, when};
use super::session::Session;
use crate::fleet::{self, ClusterStatus};
use crate::registry::JobRecord;
use crate::Services;

/// `GET /ui`.
pub async fn overview(
    State(services): State<Arc<Services>>,
    Extension(session): Extension<Session>,
) -> Markup {
    let fleet = fleet::status(&services).await;
    let body = html! {
        h1 { "Fleet" }
        @if let Some(p) = &fleet.history_problem { p.error { (p) } }
        @for c in &fleet.clusters { (cluster_section(&session, c)) }
    };
    page::frame("Fleet", &session, Some(10), body)
}

fn cluster_section(session: &Session, c: &ClusterStatus) -> Markup {
    html! {
        section.cluster id=(format!("cluster-{}", c.name)) {
            h2 { "Cluster " (c.name) }
            div {
                @for (label, kind) in [("Physical backup", "physical"), ("Logical backup", "logical")] {
                    form.inline method="post" action=(format!("/ui/clusters/{}/backup", c.name)) {
                        (page::csrf(session))
                        input type="hidden" name="kind" value=(kind);
                        button type="submit" id=(format!("backup-{kind}-{}", c.name)) { (label) }
                    }
                    " "
                }
            }
            h3 { "Topology" }
            table {
                tr { th { "Server" } th { "Address" } th { "Role" } th { "GTID" } th { "Lag" } th { "Agent" } th {} }
                @for s in &c.servers {
                    tr {
                        td { (s.name) }
                        td { (s.address) }
                        @if s.role == "unreachable" { td.bad { "unreachable" } } @else { td { (s.role) } }
                        td { code { (s.gtid.as_deref().unwrap_or("-")) } }
                        td { (s.lag_seconds.map_or_else(|| "-".to_owned(), |l| format!("{l} s"))) }
                        @if s.agent_silent { td.bad { (crate::fleet::agent_text(s)) } } @else { td { (crate::fleet::agent_text(s)) } }
                        td {
                            @if let Some(e) = &s.error { span.error { (e) } " " }
                            @if s.role == "replica" {
                                a href=(format!("/ui/clusters/{}/reseed?server={}", c.name, s.name)) { "Reseed…" }
                            }
                        }
                    }
                }
            }
            h3 { "Newest backups" }
            table {
                tr { th { "Kind" } th { "Backup" } th { "Ended" } th { "Stored" } th { "Verification" } th {} }
                @for b in &c.newest {
                    tr {
                        td { (b.kind) }
                        @match (&b.id, b.ended_at) {
                            (Some(id), Some(ended)) => {
                                td { code { (id) } " from " (b.server.as_deref().unwrap_or("?")) }
                                td { (when(ended)) }
                                td { (page::bytes(b.stored_bytes.unwrap_or(0))) }
                                td { (verification_text(&b.verification, &b.failed_checks)) }
                                td { (verify_button(session, id)) }
                            }
                            _ => { td.muted colspan="5" { "none yet" } }
                        }
                    }
                }
            }
            @if c.archiving {
                h3 { "Point-in-time recovery" }
                p {
                    @match c.recoverable_to {
                        Some(t) => { "Recoverable up to " (when(t)) }
                        None => { span.muted { "no recoverable window yet (a backup and the archive after it are needed)" } }
                    }
                    @if let Some(lag) = c.rpo_lag_seconds { " · archive " (lag) " s behind the primary" }
                }
            }
            h3 { "Running jobs" }
            @if c.running_jobs.is_empty() { p.muted { "none" } } @else {
                table {
                    tr { th { "Job" } th { "Task" } th { "Server" } th { "Phase" } th { "Progress" } }
                    @for j in &c.running_jobs {
                        tr {
                            td { a href=(format!("/ui/jobs/{}", j.id)) { (j.id) } }
                            td { (j.task.as_str()) } td { (j.server) } td { (j.phase) }
                            td { (progress(j)) }
                        }
                    }
                }
            }
        }
    }
}

/// `ok`, `FAILED` with the failed checks, or `not verified`.
fn verification_text(verification: &str, failed: &[String]) -> Markup {
    match verification {
        "ok" => html! { span.ok { "ok" } },
        "failed" => html! { span.bad { "FAILED" } @for c in failed { br; span.error { (c) } } },
        other => html! { span.muted { (other) } },
    }
}

/// A backup's verification, as the lists show it.
pub(super) fn verification(m: &Manifest) -> Markup {
    let (verification, failed) = fleet::verification_of(m);
    verification_text(&verification, &failed)
}

/// The button that verifies backup `id` now.
pub(super) fn verify_button(session: &Session, id: &str) -> Markup {
    html! {
        form.inline method="post" action="/ui/verify" {
            (page::csrf(session))
            input type="hidden" name="backup" value=(id);
            button type="submit" { "Verify" }
        }
    }
}

/// A progress bar when the end is known, else the bytes so far.
pub(super) fn progress(j: &JobRecord) -> Markup {
    match j.bytes_total {
        Some(total) if total > 0 => html! {
            progress value=(j.bytes) max=(total) {} " " (j.bytes * 100 / total) "%"
        },
        _ => html! { (page::bytes(j.bytes)) },
    }
}
