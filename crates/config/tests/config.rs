//! Parsing, defaults and the rendering of error messages.
//!
//! One test binary: this file has the helpers and the example's tests; `errors` checks the
//! messages, `credentials` the password and API token sources, `check` what `config check`
//! warns of, `backups` the keys of backup storage, retention and job handling, `verifier`
//! verification's, `repositories` the `[repositories.NAME]` tables and the clusters'
//! `backup-repositories`, `repository_errors` their errors, `binlog_archive` the `binlog-archive-*`
//! keys, `notifications` the `[notifications]` channels and routes (and `backup-missing-grace`).

// clippy's `allow-unwrap-in-tests` covers `#[test]` functions, not the helpers they share.
#![allow(clippy::unwrap_used)]

// Under `tests/config/`, so that cargo does not build them as test binaries of their own.
#[path = "config/backups.rs"]
mod backups;
#[path = "config/binlog_archive.rs"]
mod binlog_archive;
#[path = "config/check.rs"]
mod check;
#[path = "config/credentials.rs"]
mod credentials;
#[path = "config/encryption.rs"]
mod encryption;
#[path = "config/errors.rs"]
mod errors;
#[path = "config/notifications.rs"]
mod notifications;
#[path = "config/onpremise.rs"]
mod onpremise;
#[path = "config/repositories.rs"]
mod repositories;
#[path = "config/repository_errors.rs"]
mod repository_errors;
#[path = "config/verifier.rs"]
mod verifier;

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Duration;

use ferryman_config::{
    defaults, AgentConfig, ClusterVerifyConfig, Config, ConfigError, ConfigErrors,
    GaleraLinkConfig, JobsConfig, ManagerConfig, NotificationsConfig, RetentionConfig,
    VerifierConfig,
};
use ferryman_proto::Task;

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../config/ferryman.example.toml"
);
const FILE: &str = "/etc/ferryman/ferryman.toml";
const DB_PASSWORD: &str = "db-pa55word";
const REPL_PASSWORD: &str = "repl-pa55word";
/// The value of `FERRYMAN_API_TOKEN`, which the example names in a comment.
const API_TOKEN: &str = "api-t0ken";
/// A variable that is set, but empty.
const EMPTY_VAR: &str = "FERRYMAN_TEST_EMPTY";
/// The value of `FERRYMAN_TEST_S3_KEY_ID`, an S3 access key ID.
const S3_KEY_ID: &str = "AKIDTEST";
/// The value of `FERRYMAN_TEST_S3_SECRET`, an S3 secret access key.
const S3_SECRET: &str = "s3-s3cret";
/// The value of `FERRYMAN_TEST_SMTP_PASSWORD`, a mail channel's SMTP password.
const SMTP_PASSWORD: &str = "smtp-pa55word";

/// Lines 1-3 of the smallest valid file: keys added after it start on line 4.
const HEAD: &str = r#"[clusters.prod]
db-servers-credential = { user = "ferryman" }
replication-credential = { user = "repl" }
"#;
/// The rest of the smallest valid file: one server.
const SERVERS: &str = r#"
[[clusters.prod.servers]]
name = "db1"
host = "127.0.0.1"
"#;
/// The smallest valid file: one cluster of one server, no passwords.
const MINIMAL: &str = concat!(
    r#"[clusters.prod]
db-servers-credential = { user = "ferryman" }
replication-credential = { user = "repl" }
"#,
    r#"
[[clusters.prod.servers]]
name = "db1"
host = "127.0.0.1"
"#
);

/// The minimal file with `keys` in `[clusters.prod]`, from line 4 on.
fn with_cluster_keys(keys: &str) -> String {
    format!("{HEAD}{keys}\n{SERVERS}")
}

/// Sets the variables the example names. Every test that parses goes through here first, so
/// the environment is written once, before any test reads it.
fn env() {
    static ENV: Once = Once::new();
    ENV.call_once(|| {
        std::env::set_var("FERRYMAN_DB_PASSWORD", DB_PASSWORD);
        std::env::set_var("FERRYMAN_REPL_PASSWORD", REPL_PASSWORD);
        std::env::set_var("FERRYMAN_API_TOKEN", API_TOKEN);
        std::env::set_var(EMPTY_VAR, "");
        std::env::set_var("FERRYMAN_TEST_S3_KEY_ID", S3_KEY_ID);
        std::env::set_var("FERRYMAN_TEST_S3_SECRET", S3_SECRET);
        std::env::set_var("FERRYMAN_TEST_SMTP_PASSWORD", SMTP_PASSWORD);
    });
}

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    env();
    Config::parse(text, Path::new(FILE))
}

fn load(path: &Path) -> Result<Config, ConfigErrors> {
    env();
    Config::load(path)
}

/// The rendered errors of a file that must not parse.
fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.errors().iter().map(ToString::to_string).collect(),
    }
}

fn only_error(text: &str) -> String {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    errors.into_iter().next().unwrap()
}

fn write_file(path: &Path, content: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}
#[test]
fn example_parses_with_the_documented_defaults() {
    let config = load(Path::new(EXAMPLE)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.path, PathBuf::from(EXAMPLE));
    assert_eq!(config.manager, ManagerConfig::default());
    assert_eq!(
        config.manager.monitoring_datadir,
        Path::new(defaults::MONITORING_DATADIR)
    );
    assert_eq!(config.manager.http_port, 10001);
    assert_eq!(config.manager.stream_port, 10002);
    assert_eq!(
        config.manager.stream_accept_timeout,
        Duration::from_secs(120)
    );
    assert_eq!(config.manager.api_token, None);
    assert_eq!(config.manager.backup_compression_level, 1);
    assert_eq!(config.manager.backup_compression_threads, 2);
    assert_eq!(config.manager.job_claim_timeout, Duration::from_secs(300));
    assert_eq!(config.manager.logs_keep, 30);
    assert_eq!(
        config.manager.http_header_read_timeout,
        Duration::from_secs(10)
    );
    assert_eq!(config.manager.http_idle_timeout, Duration::from_secs(60));
    assert_eq!(config.manager.http_max_connections, 512);
    assert_eq!(config.agent, AgentConfig::default());
    assert_eq!(config.agent.poll_interval, Duration::from_secs(5));
    assert_eq!(config.agent.tasks, Task::ALL.to_vec());
    assert_eq!(config.agent.connect_timeout, Duration::from_secs(120));
    assert_eq!(config.agent.shutdown_grace, Duration::from_secs(60));
    assert_eq!(config.agent.stale_claim_timeout, Duration::from_secs(600));
    assert_eq!(config.jobs, JobsConfig::default());
    assert_eq!(config.jobs.schema, "replication_manager_schema");
    assert_eq!(config.verifier, VerifierConfig::default());
    assert!(config.repositories.is_empty());
    assert_eq!(
        config.verifier,
        VerifierConfig {
            work_dir: PathBuf::from("/var/lib/ferryman/verify"),
            concurrency: 1,
            buffer_pool_mib: 512,
            start_timeout: Duration::from_secs(300),
            restore_timeout: Duration::from_secs(6 * 3600),
            size_change_percent: 50,
            check_tables: true,
        }
    );

    assert_eq!(config.notifications, NotificationsConfig::default());
    assert_eq!(
        config.notifications.repeat_after,
        Duration::from_secs(24 * 3600)
    );

    assert_eq!(config.clusters.len(), 1);
    let prod = config.cluster("prod").unwrap();
    assert_eq!(prod.db_servers_credential.user, "ferryman");
    let db_password = prod.db_servers_credential.password.as_ref().unwrap();
    assert_eq!(db_password.expose_secret(), DB_PASSWORD);
    assert_eq!(prod.replication_credential.user, "repl");
    let repl_password = prod.replication_credential.password.as_ref().unwrap();
    assert_eq!(repl_password.expose_secret(), REPL_PASSWORD);
    assert!(prod.db_servers_backup_hosts.is_empty());
    assert_eq!(prod.backup_repositories, ["local"]);
    assert_eq!(prod.backup_repositories, defaults::BACKUP_REPOSITORIES);
    assert_eq!(prod.backup_copy_after, ferryman_config::CopyAfter::Stored);
    assert!(prod.sender_ports.is_empty());
    assert_eq!(prod.receiver_ports, vec![4444]);
    assert_eq!(prod.backup_physical_type, Task::Mariabackup);
    assert_eq!(prod.backup_logical_type, Task::Mysqldump);
    assert_eq!(prod.retention, RetentionConfig::default());
    assert_eq!(prod.backup_missing_grace, Duration::from_secs(2 * 3600));
    assert_eq!(prod.verify, ClusterVerifyConfig::default());
    assert_eq!(prod.galera_link, Some(GaleraLinkConfig::default()));
    assert!(prod.verify.expected_databases.is_empty() && prod.verify.nonempty_tables.is_empty());
    assert_eq!(
        prod.retention,
        RetentionConfig {
            keep_last: 10,
            keep_hourly: 1,
            keep_daily: 1,
            keep_weekly: 4,
            keep_monthly: 12,
            keep_yearly: 2,
        }
    );

    let s = &prod.scheduler;
    assert!(!s.enabled);
    let entries = [
        (&s.physical_backup, false, "0 0 0 * * 0-4"),
        (&s.logical_backup, true, "0 0 1 * * 6"),
        (&s.logs, false, "0 0/10 * * * *"),
        (&s.optimize, false, "0 0 3 1 * 5"),
        (&s.verify, false, "0 0/10 * * * *"),
    ];
    for (entry, enabled, cron) in entries {
        assert_eq!((entry.enabled, entry.cron.as_str()), (enabled, cron));
        assert!(!entry.is_active(s));
    }
    assert_eq!(s.physical_backup.schedule().as_str(), "0 0 0 * * 0-4");

    let names: Vec<&str> = prod.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["db1", "db2", "db3"]);
    let db1 = &prod.servers[0];
    assert_eq!(
        db1.socket.as_deref(),
        Some(Path::new("/run/mysqld/mysqld.sock"))
    );
    assert_eq!(db1.datadir.as_deref(), Some(Path::new("/var/lib/mysql")));
    assert_eq!(
        db1.defaults_file.as_deref(),
        Some(Path::new("/etc/mysql/my.cnf"))
    );
    let (cluster, db3) = config.server("db3").unwrap();
    assert_eq!(cluster.name, "prod");
    assert_eq!((db3.host.as_str(), db3.port), ("10.0.0.3", 3306));
    assert_eq!((db3.socket.as_ref(), db3.datadir.as_ref()), (None, None));
    assert!(!db3.legacy_donor);
    assert_eq!(db3.service_start, ["systemctl", "start", "mariadb"]);
    assert_eq!(db3.service_stop, ["systemctl", "stop", "mariadb"]);
    assert_eq!(db3.service_restart, ["systemctl", "restart", "mariadb"]);
    assert_eq!(db3.zfs_snapback, None);
    // Every optional key of db1 is at its default too.
    assert_eq!(
        (
            db1.port,
            db1.legacy_donor,
            &db1.service_start,
            &db1.zfs_snapback
        ),
        (
            db3.port,
            db3.legacy_donor,
            &db3.service_start,
            &db3.zfs_snapback
        )
    );
    assert!(config.server("nope").is_none());
}

/// The known keys of a table, as listed by the unknown-key error (the first error; validation
/// of the rest follows it).
fn known_keys(text: &str) -> Vec<String> {
    match parse(text).unwrap_err().errors() {
        [ConfigError::UnknownKey { known, .. }, ..] => known.clone(),
        other => panic!("{other:#?}"),
    }
}

/// Keys the example shows only in a comment, because setting them would change what the
/// example means (a password or token file that must exist, a token the manager would
/// otherwise generate, a rollback command with no default, a repository whose secret key file
/// must exist, and its keys; notification channels that would be sent to, their routes, and
/// their keys; snapshots, which need a file system made for them). Sorted.
const COMMENTED_OUT: [&str; 66] = [
    "accept-plain-streams",
    "access-key-id",
    "access-key-id-env",
    "age-identity-env",
    "age-identity-file",
    "age-recipients",
    "api-token-env",
    "api-token-file",
    "backup-throttle-lag",
    "backup-throttle-rate-mib",
    "bucket",
    "channel",
    "db-servers-ssl-ca",
    "db-servers-ssl-cert",
    "db-servers-ssl-key",
    "email",
    "endpoint",
    "from",
    "kind",
    "kinds",
    "max-per-hour",
    "metrics-token-env",
    "metrics-token-file",
    "min-severity",
    "part-size",
    "password-file",
    "path",
    "path-style",
    "prefix",
    "region",
    "repositories",
    "repository",
    "request-timeout",
    "retries",
    "retry-timeout",
    "route",
    "secret-access-key-env",
    "secret-access-key-file",
    "secret-env",
    "secret-file",
    "signing-key-file",
    "smtp-host",
    "smtp-port",
    "snapshot-create-command",
    "snapshot-dir",
    "snapshot-filter",
    "snapshot-keep",
    "snapshot-list-command",
    "snapshot-lvm-size",
    "snapshot-method",
    "snapshot-mount-command",
    "snapshot-remove-command",
    "snapshot-rollback-command",
    "snapshot-timeout",
    "snapshot-unmount-command",
    "snapshot-volume",
    "timeout",
    "tls",
    "tls-ca-file",
    "tls-cert-file",
    "tls-key-file",
    "to",
    "trusted-signing-keys",
    "url",
    "webhook",
    "zfs-snapback",
];

/// True when `text` sets `key` (`key = `, also inside an inline table) or names a table after
/// it (`[key]`, `[key.`, `.key]`, `.key.` as in `[notifications.email.NAME]`).
fn sets_key(text: &str, key: &str) -> bool {
    let word_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let assigned = text
        .match_indices(&format!("{key} = "))
        .any(|(i, _)| text[..i].chars().next_back().is_none_or(|c| !word_char(c)));
    assigned
        || [
            format!("[{key}]"),
            format!("[{key}."),
            format!(".{key}]"),
            format!(".{key}."),
        ]
        .iter()
        .any(|t| text.contains(t.as_str()))
}

#[test]
fn example_documents_every_key() {
    let example = std::fs::read_to_string(EXAMPLE).unwrap();
    let (comments, settings): (Vec<&str>, Vec<&str>) = example
        .lines()
        .partition(|l| l.trim_start().starts_with('#'));
    let (comments, settings) = (comments.join("\n"), settings.join("\n"));
    let tables = [
        "zzz = 1".to_owned(),
        "[manager]\nzzz = 1".to_owned(),
        "[agent]\nzzz = 1".to_owned(),
        "[jobs]\nzzz = 1".to_owned(),
        "[verifier]\nzzz = 1".to_owned(),
        "[repositories.a]\nzzz = 1".to_owned(),
        "[clusters.a]\nzzz = 1".to_owned(),
        "[clusters.a]\ndb-servers-credential = { zzz = 1 }".to_owned(),
        "[[clusters.a.servers]]\nzzz = 1".to_owned(),
        "[clusters.a.galera-link]\nzzz = 1".to_owned(),
        "[notifications]\nzzz = 1".to_owned(),
        "[notifications.email.a]\nzzz = 1".to_owned(),
        "[notifications.webhook.a]\nzzz = 1".to_owned(),
        "[[notifications.route]]\nzzz = 1".to_owned(),
    ];
    let mut commented_out = Vec::new();
    for table in &tables {
        let known = known_keys(table);
        assert!(!known.is_empty(), "{table}");
        for key in known {
            if COMMENTED_OUT.contains(&key.as_str()) {
                assert!(
                    !sets_key(&settings, &key),
                    "`{key}` is set in ferryman.example.toml: remove it from COMMENTED_OUT"
                );
                assert!(
                    sets_key(&comments, &key),
                    "`{key}` is not shown in a comment of ferryman.example.toml"
                );
                commented_out.push(key);
            } else {
                assert!(
                    sets_key(&settings, &key),
                    "`{key}` is not set in ferryman.example.toml (a key without default may be \
                     shown in a comment instead: then list it in COMMENTED_OUT)"
                );
            }
        }
    }
    commented_out.sort();
    // `password-file` is a key of credentials, of restic repositories and of mail channels;
    // `timeout` and `max-per-hour` are keys of both kinds of channel.
    commented_out.dedup();
    assert_eq!(
        commented_out, COMMENTED_OUT,
        "COMMENTED_OUT names an unknown key"
    );
}

#[test]
fn the_examples_commented_out_zfs_snapback_parses() {
    let example = std::fs::read_to_string(EXAMPLE).unwrap();
    let text = example.replace("\n# zfs-snapback = ", "\nzfs-snapback = ");
    assert_ne!(text, example);
    let config = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let (_, db1) = config.server("db1").unwrap();
    assert_eq!(
        db1.zfs_snapback.as_deref(),
        Some(&["/usr/local/sbin/rollback-daily-snapshot".to_owned()][..])
    );
}

#[test]
fn the_examples_commented_out_notifications_parse() {
    let example = std::fs::read_to_string(EXAMPLE).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (smtp, hook) = (
        dir.path().join("smtp.pass"),
        dir.path().join("webhook.secret"),
    );
    write_file(&smtp, "smtp-s3cret\n", 0o600);
    write_file(&hook, "h00k\n", 0o600);
    // The section's lines that are TOML once uncommented: table headers and `key = value`.
    let start = example.find("\n[notifications]\n").unwrap();
    let end = start + example[start..].find("\n[clusters.prod]\n").unwrap();
    fn toml_line(l: &str) -> Option<&str> {
        l.strip_prefix("# ").filter(|rest| {
            rest.starts_with('[')
                || rest
                    .split_once(" = ")
                    .is_some_and(|(key, _)| key.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        })
    }
    let section: Vec<&str> = example[start..end]
        .lines()
        .map(|l| toml_line(l).unwrap_or(l))
        .collect();
    let text = format!(
        "{}{}{}",
        &example[..start],
        section.join("\n"),
        &example[end..]
    )
    .replace("/etc/ferryman/smtp.pass", &smtp.display().to_string())
    .replace("/etc/ferryman/webhook.secret", &hook.display().to_string());
    let config = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let n = &config.notifications;
    assert_eq!(n.email.len(), 1);
    assert_eq!(n.webhooks.len(), 1);
    assert_eq!(n.routes.len(), 2);
    let dba = &n.email[0];
    assert_eq!((dba.name.as_str(), dba.smtp_port), ("dba", 587));
    assert_eq!(dba.tls, ferryman_config::SmtpTls::StartTls);
    assert_eq!(
        dba.password.as_ref().unwrap().expose_secret(),
        "smtp-s3cret"
    );
    assert_eq!(
        (dba.timeout, dba.max_per_hour),
        (Duration::from_secs(30), 30)
    );
    let chat = &n.webhooks[0];
    assert_eq!(chat.secret.as_ref().unwrap().expose_secret(), "h00k");
    assert_eq!(
        (chat.retries, chat.timeout, chat.max_per_hour),
        (5, Duration::from_secs(10), 120)
    );
    assert_eq!(n.routes[0].channel, "dba");
    assert_eq!(n.routes[1].clusters, ["prod"]);
    assert_eq!(
        n.routes[1].min_severity,
        ferryman_config::RouteSeverity::Info
    );
}

#[test]
fn the_examples_commented_out_api_token_env_parses() {
    let example = std::fs::read_to_string(EXAMPLE).unwrap();
    let text = example.replace("\n# api-token-env = ", "\napi-token-env = ");
    assert_ne!(text, example);
    let config = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let token = config.manager.api_token.as_ref().unwrap();
    assert_eq!(token.expose_secret(), API_TOKEN);
}

#[test]
fn agent_timeouts_are_read() {
    let config = parse(&format!(
        "[agent]\nconnect-timeout = \"5s\"\nshutdown-grace = \"0s\"\n\
         stale-claim-timeout = \"7days\"\n{MINIMAL}"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.agent.connect_timeout, Duration::from_secs(5));
    assert_eq!(config.agent.shutdown_grace, Duration::ZERO);
    assert_eq!(
        config.agent.stale_claim_timeout,
        defaults::STALE_CLAIM_TIMEOUT_MAX
    );
    let config = parse(MINIMAL).unwrap();
    assert_eq!(config.agent.connect_timeout, defaults::CONNECT_TIMEOUT);
    assert_eq!(config.agent.shutdown_grace, defaults::SHUTDOWN_GRACE);
    assert_eq!(
        config.agent.stale_claim_timeout,
        defaults::STALE_CLAIM_TIMEOUT
    );
}

#[test]
fn a_clusters_jobs_schema_defaults_to_jobs_schema_and_is_an_identifier() {
    let config = parse(MINIMAL).unwrap();
    assert_eq!(config.clusters[0].jobs_schema, "replication_manager_schema");
    let config = parse(&format!("[jobs]\nschema = \"fm_jobs\"\n{MINIMAL}")).unwrap();
    assert_eq!(config.clusters[0].jobs_schema, "fm_jobs");
    let config = parse(&format!(
        "[jobs]\nschema = \"fm_jobs\"\n{}",
        with_cluster_keys("jobs-schema = \"fm_c001\"")
    ))
    .unwrap();
    assert_eq!(config.jobs.schema, "fm_jobs");
    assert_eq!(config.clusters[0].jobs_schema, "fm_c001");
    let error = only_error(&with_cluster_keys("jobs-schema = \"fm`x\""));
    assert!(
        error.contains("clusters.NAME.jobs-schema") && error.contains("fm`x"),
        "{error}"
    );
}

#[test]
fn commands_are_strings_split_on_whitespace_or_arrays_taken_verbatim() {
    let config = parse(&format!(
        "{MINIMAL}service-start = [\"/opt/db tools/start\", \"--name\", \"db 1\"]\n\
         service-stop = \"  /usr/bin/stop   db1 \"\n\
         zfs-snapback = [\"/usr/local/sbin/rollback\"]\n"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let db1 = &config.clusters[0].servers[0];
    assert_eq!(db1.service_start, ["/opt/db tools/start", "--name", "db 1"]);
    assert_eq!(db1.service_stop, ["/usr/bin/stop", "db1"]);
    assert_eq!(db1.service_restart, ["systemctl", "restart", "mariadb"]);
    assert_eq!(
        db1.zfs_snapback.as_deref(),
        Some(&["/usr/local/sbin/rollback".to_owned()][..])
    );
    let config = parse(&format!(
        "{MINIMAL}zfs-snapback = \"/sbin/zfs rollback tank/db@daily\"\n"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.clusters[0].servers[0].zfs_snapback.as_deref(),
        Some(&["/sbin/zfs", "rollback", "tank/db@daily"].map(String::from)[..])
    );
}

#[test]
fn schedules_and_lists_are_read() {
    let text = with_cluster_keys(
        "monitoring-scheduler = true\n\
         scheduler-db-servers-physical-backup = true\n\
         scheduler-db-servers-physical-backup-cron = \"30 15 2 * * MON-FRI\"\n\
         scheduler-db-servers-receiver-ports = \"4444,4450-4451\"\n\
         db-servers-backup-hosts = [\"db1\"]\n\
         backup-copy-after = \"verified\"",
    );
    let config = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let prod = &config.clusters[0];
    assert_eq!(prod.backup_copy_after, ferryman_config::CopyAfter::Verified);
    let err = parse(&with_cluster_keys("backup-copy-after = \"never\"")).unwrap_err();
    assert!(
        err.to_string().contains("backup-copy-after") && err.to_string().contains("verified"),
        "{err}"
    );
    assert!(prod.scheduler.physical_backup.is_active(&prod.scheduler));
    assert_eq!(prod.scheduler.physical_backup.cron, "30 15 2 * * MON-FRI");
    assert!(!prod.scheduler.logs.is_active(&prod.scheduler));
    assert_eq!(prod.receiver_ports, [4444, 4450, 4451]);
    assert_eq!(prod.db_servers_backup_hosts, ["db1"]);
    let config = parse(&format!(
        "[agent]\ntasks = [\"start\", \"errorlog\"]\n{MINIMAL}"
    ))
    .unwrap();
    assert_eq!(config.agent.tasks, [Task::Start, Task::Error]);
}

#[test]
fn galera_link_masters_and_timings_are_read_and_checked() {
    let text = with_cluster_keys(
        "[clusters.prod.galera-link]\nmasters = [\"10.0.0.1:3307\", \"db-a2\"]\n\
         table = \"link\"\ninterval = \"1s\"\nheartbeat-timeout = \"6s\"\n\
         master-connect-timeout = \"4s\"\nfailed-cool-down = \"0s\"\n",
    );
    let config = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let link = config.cluster("prod").unwrap().galera_link.clone().unwrap();
    let masters: Vec<String> = link.masters.iter().map(ToString::to_string).collect();
    assert_eq!(masters, ["10.0.0.1:3307", "db-a2:3306"]);
    assert_eq!(
        (link.schema.as_str(), link.table.as_str()),
        ("percona", "link")
    );
    assert_eq!(link.lease_table(), "link_lease");
    assert_eq!(link.heartbeat_timeout, Duration::from_secs(6));
    assert_eq!(link.failed_cool_down, Duration::ZERO);
    assert!(parse(MINIMAL).unwrap().clusters[0].galera_link.is_none());

    let bad = with_cluster_keys(
        "[clusters.prod.galera-link]\nmasters = [\"db:0\", \"a:1\", \"a:1\"]\n\
         interval = \"10s\"\nheartbeat-timeout = \"15s\"\ntable = \"x y\"\n",
    );
    let errors = errors(&bad);
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert!(
        errors[0].contains("\"db:0\", which is not a master"),
        "{errors:#?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("listed twice")),
        "{errors:#?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("galera-link table name")),
        "{errors:#?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("heartbeat-timeout`: 15s is not more than interval (10s) + master-connect-timeout (10s)")),
        "{errors:#?}"
    );
}

#[test]
fn a_master_master_link_must_ignore_each_clusters_own_domains() {
    // alpha reads from beta's server and beta from alpha's.
    let two = |alpha_ignores: &str, beta_ignores: &str| {
        format!(
            "[clusters.alpha]\ndb-servers-credential = {{ user = \"f\" }}\n\
             replication-credential = {{ user = \"r\" }}\n\
             [clusters.alpha.galera-link]\nmasters = [\"10.0.0.21:3306\"]\n{alpha_ignores}\n\
             [[clusters.alpha.servers]]\nname = \"a1\"\nhost = \"10.0.0.11\"\n\
             [clusters.beta]\ndb-servers-credential = {{ user = \"f\" }}\n\
             replication-credential = {{ user = \"r\" }}\n\
             scheduler-db-servers-receiver-ports = \"4445\"\n\
             [clusters.beta.galera-link]\nmasters = [\"10.0.0.11\"]\n{beta_ignores}\n\
             [[clusters.beta.servers]]\nname = \"b1\"\nhost = \"10.0.0.21\"\n"
        )
    };
    let config = parse(&two(
        "ignore-domain-ids = [10, 1]",
        "ignore-domain-ids = [20, 2]",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let link = config
        .cluster("alpha")
        .unwrap()
        .galera_link
        .clone()
        .unwrap();
    assert_eq!(link.ignore_domain_ids, [10, 1]);
    let error = only_error(&two("ignore-domain-ids = [10, 1]", ""));
    assert!(
        error.contains(
            "clusters `beta` and `alpha` replicate from each other (master-master): \
             `clusters.beta.galera-link.ignore-domain-ids` is empty"
        ),
        "{error}"
    );
    let errors = errors(&two(
        "ignore-domain-ids = [10, 10, -1]",
        "ignore-domain-ids = [2]",
    ));
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].contains("lists domain 10, but it is listed twice"),
        "{errors:#?}"
    );
    assert!(
        errors[1].contains("ignore-domain-ids` = -1 is out of range"),
        "{errors:#?}"
    );
}
