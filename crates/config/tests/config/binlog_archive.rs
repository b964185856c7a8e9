//! `binlog-archive-*` of `[clusters.NAME]`: off by default, every key read, ranges enforced.

use std::time::Duration;

use ferryman_config::BinlogArchiveConfig;

use crate::{errors, parse, with_cluster_keys, MINIMAL};

#[test]
fn archiving_is_off_by_default_with_a_one_second_flush() {
    let config = parse(MINIMAL).unwrap_or_else(|e| panic!("{e}"));
    let archive = config.clusters[0].binlog_archive;
    assert_eq!(archive, BinlogArchiveConfig::default());
    assert!(!archive.enabled);
    assert_eq!(archive.flush, Duration::from_secs(1));
    assert_eq!(archive.segment_size_mib, 64);
    assert_eq!(archive.segment_age, Duration::from_secs(300));
    assert_eq!(archive.proof_interval, Duration::from_secs(7 * 86_400));
    assert_eq!(archive.spool_max_mib, 4096);
}

#[test]
fn every_key_is_read() {
    let text = with_cluster_keys(
        "binlog-archive = true\n\
         binlog-archive-flush = \"250ms\"\n\
         binlog-archive-segment-size = 8\n\
         binlog-archive-segment-age = \"30s\"\n\
         binlog-archive-server-id = 77\n\
         binlog-archive-proof-interval = \"1d\"\n\
         binlog-archive-spool-max = 100\n\
         binlog-archive-rpo-alert = \"90s\"",
    );
    let config = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.clusters[0].binlog_archive,
        BinlogArchiveConfig {
            enabled: true,
            flush: Duration::from_millis(250),
            segment_size_mib: 8,
            segment_age: Duration::from_secs(30),
            server_id: 77,
            proof_interval: Duration::from_secs(86_400),
            spool_max_mib: 100,
            rpo_alert: Duration::from_secs(90),
        }
    );
}

#[test]
fn values_out_of_range_name_the_key_and_the_range() {
    let text = with_cluster_keys(
        "binlog-archive-flush = \"2m\"\n\
         binlog-archive-segment-size = 0\n\
         binlog-archive-segment-age = \"2days\"\n\
         binlog-archive-server-id = 0\n\
         binlog-archive-proof-interval = \"10s\"\n\
         binlog-archive-spool-max = 0",
    );
    let errors = errors(&text);
    let expected = [
        "`clusters.prod.binlog-archive-flush` = \"2m\" is out of range: use a duration from \
         100ms to 1m",
        "`clusters.prod.binlog-archive-segment-size` = 0 is out of range: use a number from 1 \
         to 1024",
        "`clusters.prod.binlog-archive-segment-age` = \"2days\" is out of range: use a duration \
         from 1s to 1day",
        "`clusters.prod.binlog-archive-server-id` = 0 is out of range: use a number from 1 to \
         4294967295",
        "`clusters.prod.binlog-archive-proof-interval` = \"10s\" is out of range: use a duration \
         from 1m to 30days",
        "`clusters.prod.binlog-archive-spool-max` = 0 is out of range: use a number from 1 to \
         1048576",
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    for (error, want) in errors.iter().zip(expected) {
        assert!(error.ends_with(want), "{error}\n does not end with\n{want}");
    }
}
