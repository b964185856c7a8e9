//! The fleet on one screen (`GET /ui`): each cluster's topology with roles and lag, its newest
//! backup of each kind with its age and verification, its last recoverable point, its running
//! jobs with their progress, and the buttons that start a backup or a verification.

use std::sync::Arc;

use axum::extract::State;
use axum::Extension;
use ferryman_config::ClusterConfig;
use ferryman_db::topology::Role;
use ferryman_repo::{Kind, Manifest, Outcome, Status, Verification};
use maud::{html, Markup};

use super::page::{self, when};
use super::session::Session;
use crate::registry::JobRecord;
use crate::{pitr, Services};

/// `GET /ui`.
pub async fn overview(
    State(services): State<Arc<Services>>,
    Extension(session): Extension<Session>,
) -> Markup {
    let mut sections = Vec::new();
    for cluster in &services.config.clusters {
        sections.push(cluster_section(&services, &session, cluster).await);
    }
    let body = html! {
        h1 { "Fleet" }
        @for s in sections { (s) }
    };
    page::frame("Fleet", &session, Some(10), body)
}

async fn cluster_section(services: &Services, session: &Session, c: &ClusterConfig) -> Markup {
    let backups = services
        .repos
        .list(Some(&c.name), None)
        .await
        .unwrap_or_default();
    let newest = |kind: Kind| backups.iter().find(|m| m.kind == kind);
    let topology = services.topology.cluster(&c.name);
    let primary = topology
        .as_ref()
        .and_then(|t| t.primary().map(|p| p.name.clone()));
    let jobs: Vec<JobRecord> = services
        .registry
        .list()
        .into_iter()
        .filter(|j| j.cluster == c.name && !j.state.is_final())
        .collect();
    let recoverable = if c.binlog_archive.enabled {
        pitr::status(services, &c.name).await.ok()
    } else {
        None
    };
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
                tr { th { "Server" } th { "Address" } th { "Role" } th { "GTID" } th { "Lag" } th {} }
                @for s in &c.servers {
                    @let view = topology.as_ref().and_then(|t| t.servers.iter().find(|v| v.name == s.name));
                    tr {
                        td { (s.name) }
                        td { (format!("{}:{}", s.host, s.port)) }
                        @match view.and_then(|v| v.status.as_ref()) {
                            Some(st) => {
                                td { (role(st.role, primary.as_deref() == Some(s.name.as_str()))) }
                                td { code { (if st.role == Role::Replica && !st.gtid_slave_pos.is_empty() { &st.gtid_slave_pos } else { &st.gtid_binlog_pos }) } }
                                td { (st.replication.as_ref().and_then(|r| r.seconds_behind_master).map_or_else(|| "-".to_owned(), |l| format!("{l} s"))) }
                                td {
                                    @if st.role == Role::Replica {
                                        a href=(format!("/ui/clusters/{}/reseed?server={}", c.name, s.name)) { "Reseed…" }
                                    }
                                }
                            }
                            None => {
                                td.bad colspan="4" { "unreachable" @if let Some(e) = view.and_then(|v| v.error.as_ref()) { ": " (e) } }
                            }
                        }
                    }
                }
            }
            h3 { "Newest backups" }
            table {
                tr { th { "Kind" } th { "Backup" } th { "Ended" } th { "Stored" } th { "Verification" } th {} }
                @for kind in [Kind::Physical, Kind::Logical] {
                    tr {
                        td { (kind_name(kind)) }
                        @match newest(kind) {
                            Some(m) => {
                                td { code { (m.id) } " from " (m.server) }
                                td { (when(m.ended_at)) }
                                td { (page::bytes(m.stored_bytes)) }
                                td { (verification(m)) }
                                td { (verify_button(session, m)) }
                            }
                            None => { td.muted colspan="5" { "none yet" } }
                        }
                    }
                }
            }
            @if let Some(p) = recoverable {
                h3 { "Point-in-time recovery" }
                p {
                    @match p.report.windows.last() {
                        Some(w) => { "Recoverable up to " (when(w.to)) }
                        None => { span.muted { "no recoverable window yet (a backup and the archive after it are needed)" } }
                    }
                    @if let Some(lag) = p.rpo_lag_seconds { " · archive " (lag) " s behind the primary" }
                }
            }
            h3 { "Running jobs" }
            @if jobs.is_empty() { p.muted { "none" } } @else {
                table {
                    tr { th { "Job" } th { "Task" } th { "Server" } th { "Phase" } th { "Progress" } }
                    @for j in &jobs {
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

/// `primary`, `replica`, or `no replication` for a server that replicates from no one but is
/// not the cluster's one primary (a split, or a server not yet set up).
fn role(role: Role, is_the_primary: bool) -> &'static str {
    match (role, is_the_primary) {
        (Role::Replica, _) => "replica",
        (Role::Primary, true) => "primary",
        (Role::Primary, false) => "no replication",
    }
}

pub(super) fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Physical => "physical",
        Kind::Logical => "logical",
    }
}

/// `ok`, `FAILED (reasons)` or `not verified`.
pub(super) fn verification(m: &Manifest) -> Markup {
    match Verification::latest_of(m) {
        Some(v) if v.status == Status::Ok => html! {
            span.ok { "ok" } " " span.muted { (v.ended_at.rfc3339()) }
        },
        Some(v) => html! {
            span.bad { "FAILED" } " "
            @for c in v.checks.iter().filter(|c| c.outcome == Outcome::Failed) {
                br; span.error { (c.name) ": " (c.detail) }
            }
        },
        None => html! { span.muted { "not verified" } },
    }
}

/// The button that verifies `m` now.
pub(super) fn verify_button(session: &Session, m: &Manifest) -> Markup {
    html! {
        form.inline method="post" action="/ui/verify" {
            (page::csrf(session))
            input type="hidden" name="backup" value=(m.id);
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
