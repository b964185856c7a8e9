//! Schemas of JSON that other crates produce (`ferryman_repo`'s manifest and prune report,
//! `ferryman_config`'s tool names, `ferryman_proto`'s reseed methods) or that the monitor
//! builds as loose objects: described here, at the detail a client needs, since those crates do
//! not depend on utoipa. The manager's own types (`Event`, `VerifyRun`) derive their schemas
//! where they are defined. These types are never built: they only describe.

#![allow(
    dead_code,
    reason = "the types describe JSON for the document; nothing builds them"
)]

use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// What every failed request answers: a message that says what to do next.
#[derive(ToSchema)]
#[schema(as = Error)]
pub(in crate::api) struct ErrorBody {
    error: String,
}

/// One cluster's servers as last read: role, GTID positions, replication threads and lag, or
/// the error reading them.
#[derive(ToSchema)]
pub(in crate::api) struct Topology {
    cluster: String,
    /// Seconds since the epoch.
    read_at: u64,
    servers: Vec<utoipa::openapi::Object>,
}

/// A stored backup's `manifest.json`, described only in words: it is `ferryman_repo`'s, and
/// grows with it.
pub(in crate::api) struct Manifest;

impl PartialSchema for Manifest {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some(
                "A stored backup's manifest.json: id, cluster, server, kind, tool, times, raw \
                 and stored sizes, sha256, GTID and binlog coordinates, and `encryption` \
                 (`cipher`, `recipients`: the age public keys) when the payload is encrypted, \
                 `signature` (`algorithm`, `public_key`, `value`: the manager's ed25519 \
                 signature). In listings, with \
                 `repositories`: the names of the repositories holding the backup; in one \
                 backup's details, with `copies`: each repository of its cluster (`repository`, \
                 `location`) and the `state` of its copy (`ok`, `missing`, `damaged` or \
                 `unreachable`, the last two with a `detail`).",
            ))
            .additional_properties(Some(AdditionalProperties::FreeForm(true)))
            .into()
    }
}

impl ToSchema for Manifest {}

/// A cluster's point-in-time recovery status, described in words: it is the manager's
/// `pitr::PitrStatus` with `ferryman_repo`'s windows, which grow with them.
pub(in crate::api) struct PitrStatus;

impl PartialSchema for PitrStatus {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some(
                "Point-in-time recovery of one cluster: `archiving` (binlog-archive is on), \
                 `archiver` (the server followed, the durable GTID `position`, `durable_at`, \
                 `last_event_at`, `segments_stored`, `error` while it does not follow), \
                 `primary` ([name, gtid_binlog_pos]), `rpo_lag_seconds`, `segments`, \
                 `archived_from`/`archived_to` (times) and `archived_to_gtid`, `windows` (one \
                 per usable backup, newest first: `backup`, `backup_gtid`, `from`, `to`, \
                 `to_gtid`, `segments`, `ends_at_gap`), `gaps` (`domain`, `after`, `next`, \
                 `segment`), `proof` (the newest proof of recoverability: `status`, `base`, \
                 `checkpoint` and their GTIDs, `from`/`to`, `rows_from`, `segments`, `tables`, \
                 `rows`, `detail`, `seconds`, `trigger`), `prover` (`running`, \
                 `not_provable`), and `warnings`.",
            ))
            .additional_properties(Some(AdditionalProperties::FreeForm(true)))
            .into()
    }
}

impl ToSchema for PitrStatus {}

/// What a prune did, or with `dry_run` would do.
#[derive(ToSchema)]
pub(in crate::api) struct PruneReport {
    cluster: String,
    dry_run: bool,
    /// keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly.
    policy: utoipa::openapi::Object,
    #[schema(inline)]
    keep: Vec<Kept>,
    /// Deleted, or with dry_run to be deleted.
    delete: Vec<String>,
    #[schema(inline)]
    failed: Vec<PruneFailure>,
    /// Archived binlog segments deleted (or with dry_run to be deleted): wholly before every
    /// kept backup.
    segments_delete: Vec<String>,
    /// Segment deletions that failed: [segment, reason] pairs (absent when none).
    segments_failed: Vec<Vec<String>>,
}

#[derive(ToSchema)]
struct Kept {
    id: String,
    /// newest, protected, last, hourly, daily, weekly, monthly, yearly, or `oldest RULE`.
    reasons: Vec<String>,
}

#[derive(ToSchema)]
struct PruneFailure {
    id: String,
    error: String,
}

/// The tools of `backup-physical-type`.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub(in crate::api) enum PhysicalTool {
    Mariabackup,
    Xtrabackup,
}

/// The tools of `backup-logical-type`.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub(in crate::api) enum LogicalTool {
    Mysqldump,
    Mydumper,
}

/// Which log a collected file is.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub(in crate::api) enum LogKindName {
    Error,
    Slow,
}

/// The reseed methods `POST /api/v1/clusters/{cluster}/reseed` takes.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub(in crate::api) enum ReseedMethodName {
    Physicalbackup,
    Logicalbackup,
    Logicalmaster,
    Snapshot,
}

/// The tasks `POST /api/v1/clusters/{cluster}/servers/{server}/tasks` queues: the names of
/// `ferryman_proto::NodeTask`, listed from it.
pub(in crate::api) struct NodeTaskName;

impl PartialSchema for NodeTaskName {
    fn schema() -> RefOr<Schema> {
        let tasks = ferryman_proto::NodeTask::ALL;
        let described: Vec<String> = tasks
            .iter()
            .map(|t| format!("`{}`: {}", t.name(), t.help()))
            .collect();
        ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .enum_values(Some(tasks.map(|t| t.name())))
            .description(Some(described.join("; ")))
            .into()
    }
}

impl ToSchema for NodeTaskName {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("NodeTask")
    }
}
