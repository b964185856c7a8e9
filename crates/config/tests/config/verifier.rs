//! Verification: `[verifier]`, the `verify-*` keys and `scheduler-db-servers-verify` of
//! `[clusters.NAME]`: defaults, a file that sets every key, and the range and value errors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferryman_config::{defaults, ClusterVerifyConfig, TableName, VerifierConfig};

use crate::{errors, only_error, parse, with_cluster_keys, MINIMAL};

fn table(database: &str, table: &str) -> TableName {
    TableName {
        database: database.to_owned(),
        table: table.to_owned(),
    }
}

#[test]
fn absent_keys_take_their_defaults() {
    let config = parse(MINIMAL).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.verifier, VerifierConfig::default());
    assert_eq!(
        config.verifier,
        VerifierConfig {
            work_dir: PathBuf::from(defaults::VERIFIER_WORK_DIR),
            concurrency: 1,
            buffer_pool_mib: 512,
            start_timeout: Duration::from_secs(300),
            restore_timeout: Duration::from_secs(6 * 3600),
            size_change_percent: 50,
            check_tables: true,
        }
    );
    assert_eq!(config.verifier.size_change_limit(), Some(50));
    let prod = &config.clusters[0];
    assert_eq!(prod.verify, ClusterVerifyConfig::default());
    assert!(prod.verify.expected_databases.is_empty());
    assert!(prod.verify.nonempty_tables.is_empty());
    let verify = &prod.scheduler.verify;
    assert_eq!(
        (verify.enabled, verify.cron.as_str()),
        (false, "0 0/10 * * * *")
    );
    assert!(!verify.is_active(&prod.scheduler));
}

#[test]
fn every_key_is_read() {
    let text = format!(
        "[verifier]\n\
         work-dir = \"verify\"\n\
         concurrency = 64\n\
         buffer-pool-mib = 16\n\
         start-timeout = \"1h\"\n\
         restore-timeout = \"1m\"\n\
         size-change-percent = 0\n\
         check-tables = false\n\
         \n{}",
        with_cluster_keys(
            "monitoring-scheduler = true\n\
             scheduler-db-servers-verify = true\n\
             scheduler-db-servers-verify-cron = \"0/15 * * * * *\"\n\
             verify-expected-databases = [\"shop\", \"my db\", \"billing\"]\n\
             verify-nonempty-tables = [\"shop.orders\", \"shop.order.items\"]",
        )
    );
    let config = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.verifier,
        VerifierConfig {
            // Relative to the config file's directory, like agent.work-dir.
            work_dir: PathBuf::from("/etc/ferryman/verify"),
            concurrency: 64,
            buffer_pool_mib: 16,
            start_timeout: Duration::from_secs(3600),
            restore_timeout: Duration::from_secs(60),
            size_change_percent: 0,
            check_tables: false,
        }
    );
    assert_eq!(config.verifier.size_change_limit(), None);
    let prod = &config.clusters[0];
    assert_eq!(
        prod.verify,
        ClusterVerifyConfig {
            expected_databases: vec!["shop".into(), "my db".into(), "billing".into()],
            nonempty_tables: vec![table("shop", "orders"), table("shop", "order.items")],
        }
    );
    assert_eq!(
        prod.verify.nonempty_tables[1].to_string(),
        "shop.order.items"
    );
    let verify = &prod.scheduler.verify;
    assert_eq!(verify.cron, "0/15 * * * * *");
    assert!(verify.is_active(&prod.scheduler));
    // The other entries keep their defaults.
    assert!(!prod.scheduler.logs.is_active(&prod.scheduler));
}

#[test]
fn the_verify_entry_obeys_the_master_switch() {
    let config = parse(&with_cluster_keys("scheduler-db-servers-verify = true"))
        .unwrap_or_else(|e| panic!("{e}"));
    let scheduler = &config.clusters[0].scheduler;
    assert!(scheduler.verify.enabled);
    assert!(!scheduler.verify.is_active(scheduler));
}

#[test]
fn the_largest_values_are_allowed() {
    let text = format!(
        "[verifier]\nwork-dir = \"/srv/verify\"\nconcurrency = 1\nbuffer-pool-mib = 1048576\n\
         start-timeout = \"10s\"\nrestore-timeout = \"7days\"\nsize-change-percent = 100000\n\
         {MINIMAL}"
    );
    let config = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let verifier = &config.verifier;
    assert_eq!(verifier.work_dir, Path::new("/srv/verify"));
    assert_eq!(
        (
            verifier.concurrency,
            verifier.buffer_pool_mib,
            verifier.start_timeout,
            verifier.restore_timeout,
            verifier.size_change_percent,
        ),
        (
            1,
            defaults::VERIFIER_BUFFER_POOL_MIB_MAX,
            defaults::VERIFIER_START_TIMEOUT_MIN,
            defaults::VERIFIER_RESTORE_TIMEOUT_MAX,
            100_000,
        )
    );
}

#[test]
fn values_below_their_range_name_the_key_and_the_range() {
    let text = format!(
        "[verifier]\nconcurrency = 0\nbuffer-pool-mib = 15\nstart-timeout = \"9s\"\n\
         restore-timeout = \"59s\"\nsize-change-percent = -1\nwork-dir = \"\"\n{MINIMAL}"
    );
    assert_eq!(
        errors(&text),
        [
            "/etc/ferryman/ferryman.toml:7:12: `verifier.work-dir` is empty: set it to a \
             non-empty value, or remove it to use the default",
            "/etc/ferryman/ferryman.toml:2:15: `verifier.concurrency` = 0 is out of range: use a \
             number from 1 to 64",
            "/etc/ferryman/ferryman.toml:3:19: `verifier.buffer-pool-mib` = 15 is out of range: \
             use a number from 16 to 1048576",
            "/etc/ferryman/ferryman.toml:4:17: `verifier.start-timeout` = \"9s\" is out of range: \
             use a duration from 10s to 1h",
            "/etc/ferryman/ferryman.toml:5:19: `verifier.restore-timeout` = \"59s\" is out of \
             range: use a duration from 1m to 7days",
            "/etc/ferryman/ferryman.toml:6:23: `verifier.size-change-percent` = -1 is out of \
             range: use a number from 0 to 100000",
        ]
    );
}

#[test]
fn values_above_their_range_name_the_key_and_the_range() {
    let text = format!(
        "[verifier]\nconcurrency = 65\nbuffer-pool-mib = 1048577\nstart-timeout = \"61m\"\n\
         restore-timeout = \"8days\"\nsize-change-percent = 100001\n{MINIMAL}"
    );
    assert_eq!(
        errors(&text),
        [
            "/etc/ferryman/ferryman.toml:2:15: `verifier.concurrency` = 65 is out of range: use \
             a number from 1 to 64",
            "/etc/ferryman/ferryman.toml:3:19: `verifier.buffer-pool-mib` = 1048577 is out of \
             range: use a number from 16 to 1048576",
            "/etc/ferryman/ferryman.toml:4:17: `verifier.start-timeout` = \"61m\" is out of \
             range: use a duration from 10s to 1h",
            "/etc/ferryman/ferryman.toml:5:19: `verifier.restore-timeout` = \"8days\" is out of \
             range: use a duration from 1m to 7days",
            "/etc/ferryman/ferryman.toml:6:23: `verifier.size-change-percent` = 100001 is out of \
             range: use a number from 0 to 100000",
        ]
    );
}

#[test]
fn a_malformed_nonempty_table_names_the_key_the_line_and_the_form() {
    let text = with_cluster_keys(
        "verify-nonempty-tables = [\"shop.orders\", \"orders\"]\n\
         verify-nonempty-tables-typo = 1",
    );
    // Both: the unknown key no longer stops parsing.
    let both = errors(&text);
    assert_eq!(both.len(), 2, "{both:#?}");
    assert!(
        both[0].contains("unknown key `verify-nonempty-tables-typo` in [clusters.prod]: did you mean `verify-nonempty-tables`?"),
        "{both:#?}"
    );
    assert!(
        both[1].contains("lists \"orders\", which is not a table"),
        "{both:#?}"
    );
    let text = with_cluster_keys(
        "verify-nonempty-tables = [\n  \"shop.orders\",\n  \"orders\",\n  \".t\",\n  \"shop.\",\n]",
    );
    assert_eq!(
        errors(&text),
        [
            "/etc/ferryman/ferryman.toml:6:3: `clusters.prod.verify-nonempty-tables` lists \
             \"orders\", which is not a table (it has no `.`): write it as \"database.table\" \
             (split at the first `.`), each part 1 to 64 characters without NUL",
            "/etc/ferryman/ferryman.toml:7:3: `clusters.prod.verify-nonempty-tables` lists \
             \".t\", which is not a table (the database part: it is empty): write it as \
             \"database.table\" (split at the first `.`), each part 1 to 64 characters without \
             NUL",
            "/etc/ferryman/ferryman.toml:8:3: `clusters.prod.verify-nonempty-tables` lists \
             \"shop.\", which is not a table (the table part: it is empty): write it as \
             \"database.table\" (split at the first `.`), each part 1 to 64 characters without \
             NUL",
        ]
    );
    let long = "t".repeat(65);
    let error = only_error(&with_cluster_keys(&format!(
        "verify-nonempty-tables = [\"shop.{long}\"]"
    )));
    assert!(
        error.starts_with(
            "/etc/ferryman/ferryman.toml:4:27: `clusters.prod.verify-nonempty-tables`"
        ) && error.contains("(the table part: it is 65 characters long, more than 64)"),
        "{error}"
    );
}

#[test]
fn a_bad_expected_database_names_the_key_and_the_line() {
    let long = "é".repeat(65);
    let text = with_cluster_keys(&format!(
        "verify-expected-databases = [\"shop\", \"\", \"a\\u0000b\", \"{long}\", \"{}\"]",
        "é".repeat(64)
    ));
    let expected: Vec<String> = [
        (38, "\"\"", "it is empty"),
        (42, "\"a\\0b\"", "it contains a NUL character"),
        (
            54,
            &format!("\"{long}\""),
            "it is 65 characters long, more than 64",
        ),
    ]
    .iter()
    .map(|(column, value, reason)| {
        format!(
            "/etc/ferryman/ferryman.toml:4:{column}: `clusters.prod.verify-expected-databases` \
             lists {value}, which is not a database name ({reason}): write the name as is, 1 to \
             64 characters without NUL"
        )
    })
    .collect();
    // The 64-character name is fine: characters are counted, not bytes.
    assert_eq!(errors(&text), expected);
}

#[test]
fn lists_of_the_wrong_type_are_syntax_errors_with_their_line() {
    let error = only_error(&with_cluster_keys(
        "verify-nonempty-tables = \"shop.orders\"",
    ));
    assert!(
        error.starts_with(
            "/etc/ferryman/ferryman.toml:4:26: `clusters.prod.verify-nonempty-tables` is the \
             string \"shop.orders\", but it must be an array"
        ),
        "{error}"
    );
    let error = only_error(&with_cluster_keys("verify-expected-databases = [1]"));
    assert!(
        error.starts_with(
            "/etc/ferryman/ferryman.toml:4:30: `clusters.prod.verify-expected-databases` is the \
             integer 1, but it must be a string"
        ),
        "{error}"
    );
}

#[test]
fn a_bad_verify_cron_names_its_key() {
    let error = only_error(&with_cluster_keys(
        "scheduler-db-servers-verify-cron = \"*/15 * * * *\"",
    ));
    assert!(
        error.starts_with(
            "/etc/ferryman/ferryman.toml:4:36: `clusters.prod.scheduler-db-servers-verify-cron` \
             = \"*/15 * * * *\" has 5 fields"
        ),
        "{error}"
    );
}
