//! How a cluster's streams travel: where backups are compressed (`backup-stream-compression*`)
//! and how the manager slows a stream down for replication (`backup-throttle-*`).

use std::time::Duration;

use toml::Spanned;

use crate::defaults;
use crate::validate::Validator;

/// Where a cluster's backups are compressed on their way to the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamCompressionConfig {
    /// `backup-stream-compression`: `"auto"` (the default: the node compresses each block
    /// while its compressors outrun the link, and sends the others raw for the manager to
    /// compress), `"node"` (the node compresses everything) or `"manager"` (the node sends the
    /// raw stream, as a legacy donor does). The level is `manager.backup-compression-level`
    /// wherever the frames are made.
    pub site: ferryman_proto::blocks::CompressionSite,
    /// `backup-stream-compression-threads`: zstd threads on the node. Default 2; 1 to 64.
    pub threads: u32,
}

/// How the manager slows a node's stream (backup, dump, donor payload) for replication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThrottleConfig {
    /// `backup-throttle-lag`: the replication lag past which a stream slows down (the
    /// source's own lag when it replicates, else its replicas' largest). `None` (absent): lag
    /// is not watched. 1s to 1d.
    pub lag: Option<Duration>,
    /// `backup-throttle-rate-mib`: a fixed cap, bytes per second on the wire. `None` (absent
    /// or 0): no cap.
    pub rate: Option<u64>,
    /// `backup-throttle-min-rate-mib`: the floor while lag slows a stream, bytes per second.
    /// Default 16 MiB/s.
    pub min_rate: u64,
}

impl StreamCompressionConfig {
    /// Validates `backup-stream-compression` and `backup-stream-compression-threads` of
    /// `[clusters.CLUSTER]`.
    pub(crate) fn from_raw(
        site: Option<Spanned<String>>,
        threads: Option<Spanned<i64>>,
        cluster: &str,
        v: &mut Validator<'_>,
    ) -> StreamCompressionConfig {
        StreamCompressionConfig {
            site: v.choice(
                &format!("clusters.{cluster}.backup-stream-compression"),
                site,
                defaults::BACKUP_STREAM_COMPRESSION,
                &ferryman_proto::blocks::CompressionSite::ALL,
            ),
            threads: v.integer(
                &format!("clusters.{cluster}.backup-stream-compression-threads"),
                threads,
                defaults::BACKUP_STREAM_COMPRESSION_THREADS,
                defaults::BACKUP_STREAM_COMPRESSION_THREADS_RANGE,
            ),
        }
    }
}

/// `backup-throttle-*` as written.
pub(crate) struct RawThrottle {
    pub(crate) lag: Option<Spanned<String>>,
    pub(crate) rate_mib: Option<Spanned<i64>>,
    pub(crate) min_rate_mib: Option<Spanned<i64>>,
}

impl ThrottleConfig {
    /// Validates `backup-throttle-*` of `[clusters.CLUSTER]`.
    pub(crate) fn from_raw(
        raw: RawThrottle,
        cluster: &str,
        v: &mut Validator<'_>,
    ) -> ThrottleConfig {
        const MIB: u64 = 1 << 20;
        let key = |k: &str| format!("clusters.{cluster}.{k}");
        let lag = raw.lag.map(|lag| {
            v.duration(
                &key("backup-throttle-lag"),
                Some(lag),
                defaults::BACKUP_THROTTLE_LAG_RANGE.0,
                defaults::BACKUP_THROTTLE_LAG_RANGE,
            )
        });
        let rate = v.integer(
            &key("backup-throttle-rate-mib"),
            raw.rate_mib,
            0,
            defaults::BACKUP_THROTTLE_RATE_RANGE,
        );
        let min_rate = v.integer(
            &key("backup-throttle-min-rate-mib"),
            raw.min_rate_mib,
            defaults::BACKUP_THROTTLE_MIN_RATE,
            defaults::BACKUP_THROTTLE_MIN_RATE_RANGE,
        );
        ThrottleConfig {
            lag,
            rate: (rate > 0).then(|| u64::from(rate) * MIB),
            min_rate: u64::from(min_rate) * MIB,
        }
    }
}
