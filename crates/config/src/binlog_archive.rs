//! `binlog-archive-*` of `[clusters.NAME]`: whether the manager archives the cluster's binary
//! log continuously for point-in-time recovery, and how it cuts and flushes it.

use std::time::Duration;

use toml::Spanned;

use crate::defaults;
use crate::validate::Validator;

/// How one cluster's binary log is archived (the manager's archiver, `manager/src/archiver`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BinlogArchiveConfig {
    /// `binlog-archive`: follow the cluster's primary and store its binary log in the
    /// cluster's repositories. Default `false`: the `db-servers-credential` user needs the
    /// `REPLICATION SLAVE` privilege (`BINLOG MONITOR` too, to read positions), which a DBA
    /// grants knowingly.
    pub enabled: bool,
    /// `binlog-archive-flush`: the followed binlog is made durable on the manager's disk at
    /// least this often (the recovery point objective). Default 1s; 100ms to 1m.
    pub flush: Duration,
    /// `binlog-archive-segment-size`: a segment is cut and stored in the repositories once the
    /// spool holds this many MiB. Default 64; 1 to 1024.
    pub segment_size_mib: u32,
    /// `binlog-archive-segment-age`: a segment is cut and stored once its first event is this
    /// old, however small: what the repositories lack if the manager's disk is lost. Default
    /// 5m; 1s to 1d.
    pub segment_age: Duration,
    /// `binlog-archive-server-id`: the server id the archiver registers with as a replica; no
    /// server of the cluster may use it. Default 4294900000; 1 to 4294967295.
    pub server_id: u32,
    /// `binlog-archive-proof-interval`: how often the manager proves that the archive carries
    /// one backup to a later one (`ferryman pitr prove`), counted from the last proof.
    /// Default 7d; 1m to 30d.
    pub proof_interval: Duration,
    /// `binlog-archive-spool-max`: MiB of followed binlog the manager's spool may hold while
    /// the repositories do not take segments; beyond it the archiver stops following (the
    /// primary keeps its binlogs until it purges them) and tries storing again, so the
    /// manager's disk does not fill. Default 4096; 1 to 1048576.
    pub spool_max_mib: u32,
    /// `binlog-archive-rpo-alert`: how far the archive may fall behind the primary (the
    /// recovery point lag) before the manager says `rpo-over-threshold`, e.g. `"5m"`. Default
    /// 5m; 10s to 30d.
    pub rpo_alert: Duration,
}

impl Default for BinlogArchiveConfig {
    fn default() -> Self {
        BinlogArchiveConfig {
            enabled: false,
            flush: defaults::BINLOG_ARCHIVE_FLUSH,
            segment_size_mib: defaults::BINLOG_ARCHIVE_SEGMENT_MIB,
            segment_age: defaults::BINLOG_ARCHIVE_SEGMENT_AGE,
            server_id: defaults::BINLOG_ARCHIVE_SERVER_ID,
            proof_interval: defaults::BINLOG_ARCHIVE_PROOF_INTERVAL,
            spool_max_mib: defaults::BINLOG_ARCHIVE_SPOOL_MAX_MIB,
            rpo_alert: defaults::BINLOG_ARCHIVE_RPO_ALERT,
        }
    }
}

/// The raw `binlog-archive-*` keys (flat in `[clusters.NAME]`).
#[derive(Debug, Default)]
pub(crate) struct RawBinlogArchive {
    pub(crate) enabled: Option<bool>,
    pub(crate) flush: Option<Spanned<String>>,
    pub(crate) segment_size: Option<Spanned<i64>>,
    pub(crate) segment_age: Option<Spanned<String>>,
    pub(crate) server_id: Option<Spanned<i64>>,
    pub(crate) proof_interval: Option<Spanned<String>>,
    pub(crate) spool_max: Option<Spanned<i64>>,
    pub(crate) rpo_alert: Option<Spanned<String>>,
}

impl BinlogArchiveConfig {
    /// Validates the `binlog-archive-*` keys of `[clusters.CLUSTER]`.
    pub(crate) fn from_raw(raw: RawBinlogArchive, cluster: &str, v: &mut Validator<'_>) -> Self {
        let key = |k: &str| format!("clusters.{cluster}.binlog-archive-{k}");
        BinlogArchiveConfig {
            enabled: raw.enabled.unwrap_or(false),
            flush: v.duration(
                &key("flush"),
                raw.flush,
                defaults::BINLOG_ARCHIVE_FLUSH,
                defaults::BINLOG_ARCHIVE_FLUSH_RANGE,
            ),
            segment_size_mib: v.integer(
                &key("segment-size"),
                raw.segment_size,
                defaults::BINLOG_ARCHIVE_SEGMENT_MIB,
                defaults::BINLOG_ARCHIVE_SEGMENT_MIB_RANGE,
            ),
            segment_age: v.duration(
                &key("segment-age"),
                raw.segment_age,
                defaults::BINLOG_ARCHIVE_SEGMENT_AGE,
                defaults::BINLOG_ARCHIVE_SEGMENT_AGE_RANGE,
            ),
            server_id: v.integer(
                &key("server-id"),
                raw.server_id,
                defaults::BINLOG_ARCHIVE_SERVER_ID,
                (1, u32::MAX),
            ),
            proof_interval: v.duration(
                &key("proof-interval"),
                raw.proof_interval,
                defaults::BINLOG_ARCHIVE_PROOF_INTERVAL,
                defaults::BINLOG_ARCHIVE_PROOF_INTERVAL_RANGE,
            ),
            spool_max_mib: v.integer(
                &key("spool-max"),
                raw.spool_max,
                defaults::BINLOG_ARCHIVE_SPOOL_MAX_MIB,
                defaults::BINLOG_ARCHIVE_SPOOL_MAX_MIB_RANGE,
            ),
            rpo_alert: v.duration(
                &key("rpo-alert"),
                raw.rpo_alert,
                defaults::BINLOG_ARCHIVE_RPO_ALERT,
                defaults::BINLOG_ARCHIVE_RPO_ALERT_RANGE,
            ),
        }
    }
}
