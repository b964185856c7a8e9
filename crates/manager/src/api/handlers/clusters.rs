//! The configured clusters, a cluster's live topology and the logs collected from its servers.

use crate::api::error::from_repo as repo_error;
use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path as UrlPath, State};
use axum::response::IntoResponse;
use axum::Json;
use ferryman_repo::{LogKind, Timestamp};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::{bad_path, cluster, Reply};
use crate::api::error::clip;
use crate::api::openapi::{LogKindName, LogicalTool, PhysicalTool, Topology};
use crate::api::ApiError;
use crate::Services;

/// A cluster as `GET /api/v1/clusters` lists it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Cluster)]
pub(in crate::api) struct ClusterSummary<'a> {
    name: &'a str,
    #[schema(value_type = PhysicalTool, inline)]
    backup_physical_type: ferryman_proto::Task,
    #[schema(value_type = LogicalTool, inline)]
    backup_logical_type: ferryman_proto::Task,
    #[schema(inline)]
    servers: Vec<ServerSummary<'a>>,
}

#[derive(Debug, Serialize, ToSchema)]
struct ServerSummary<'a> {
    name: &'a str,
    host: &'a str,
    port: u16,
    legacy_donor: bool,
}

/// `GET /api/v1/clusters`.
#[utoipa::path(
    get,
    path = "/api/v1/clusters",
    summary = "The configured clusters and their servers",
    responses((status = 200, description = "Clusters.", body = Vec<ClusterSummary>))
)]
pub(in crate::api) async fn clusters(State(services): State<Arc<Services>>) -> Json<Value> {
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
#[utoipa::path(
    get,
    path = "/api/v1/clusters/{cluster}/topology",
    summary = "A cluster's live topology",
    params(("cluster" = String, Path)),
    responses((status = 200, description = "The topology.", body = Topology))
)]
pub(in crate::api) async fn topology(
    State(services): State<Arc<Services>>,
    path: Result<UrlPath<String>, PathRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath(name) = path.map_err(bad_path)?;
    let config = cluster(&services, &name)?;
    if let Some(view) = services.topology.cluster(&name) {
        return Ok(Json(view));
    }
    // Not read yet (the monitor reads every few seconds): read it now rather than fail.
    services.topology.refresh_cluster(config).await;
    services.topology.cluster(&name).map(Json).ok_or_else(|| {
        ApiError::internal(format!(
            "the topology of `{name}` could not be read; see the manager's log"
        ))
    })
}

/// One collected log file, as `GET /api/v1/clusters/{cluster}/logs` lists it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LogFile)]
pub(in crate::api) struct LogEntry {
    server: String,
    /// The file in the repository's logs area, `monitoring-datadir/CLUSTER/SERVER/NAME`.
    name: String,
    #[schema(value_type = LogKindName, inline)]
    kind: LogKind,
    #[schema(value_type = String, format = DateTime)]
    received_at: Timestamp,
    /// The manager job that collected it.
    job_id: u64,
}

/// `GET /api/v1/clusters/{cluster}/logs`: the error and slow-query logs collected from the
/// cluster's servers, per server (in configuration order), newest first.
#[utoipa::path(
    get,
    path = "/api/v1/clusters/{cluster}/logs",
    summary = "Error and slow-query logs collected from the cluster's servers, newest first per server",
    params(("cluster" = String, Path)),
    responses((status = 200, description = "Log files.", body = Vec<LogEntry>))
)]
pub(in crate::api) async fn logs(
    State(services): State<Arc<Services>>,
    path: Result<UrlPath<String>, PathRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath(name) = path.map_err(bad_path)?;
    let c = cluster(&services, &name)?;
    let mut entries = Vec::new();
    let repo = services.repo(&c.name)?;
    for server in &c.servers {
        for file in repo
            .list_logs(&c.name, &server.name)
            .await
            .map_err(|e| repo_error(&e))?
        {
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

/// `GET /api/v1/clusters/{cluster}/logs/{server}/{name}`: one collected log, decompressed (and
/// decrypted), streamed as `text/plain`: a large log is never held whole in memory.
#[utoipa::path(
    get,
    path = "/api/v1/clusters/{cluster}/logs/{server}/{name}",
    summary = "One collected log file, decompressed, as text",
    params(("cluster" = String, Path), ("server" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "The log's text.", content_type = "text/plain", body = String))
)]
pub(in crate::api) async fn log(
    State(services): State<Arc<Services>>,
    path: Result<UrlPath<(String, String, String)>, PathRejection>,
) -> Reply<impl IntoResponse> {
    let UrlPath((name, server, file)) = path.map_err(bad_path)?;
    let c = cluster(&services, &name)?;
    crate::Services::server(c, &server)?;
    let mut reader = match services
        .repo(&c.name)?
        .log_reader(&c.name, &server, &file)
        .await
    {
        Ok(reader) => reader,
        // The repository's own message would point at its backups.
        Err(e) if e.is_not_found() => {
            return Err(ApiError::not_found(format!(
                "no collected log `{}` of `{server}` in cluster `{}`: `ferryman logs list --cluster {} --server {server}` (GET /api/v1/clusters/{}/logs) names the collected ones",
                clip(&file),
                c.name,
                c.name,
                c.name
            )))
        }
        Err(e) => return Err(repo_error(&e)),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let chunk = match std::io::Read::read(&mut reader, &mut buf) {
                Ok(0) => return,
                Ok(n) => Ok(bytes::Bytes::copy_from_slice(&buf[..n])),
                Err(e) => Err(e),
            };
            let failed = chunk.is_err();
            // The client went away: stop reading.
            if tx.blocking_send(chunk).is_err() || failed {
                return;
            }
        }
    });
    let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let body = axum::body::Body::from_stream(chunks);
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        body,
    ))
}
