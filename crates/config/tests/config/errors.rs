//! The rendering of error messages: file, line, column, and the next step.

use crate::{errors, load, only_error, parse, with_cluster_keys, FILE, HEAD, MINIMAL};

#[test]
fn a_typo_names_the_line_and_the_key_meant() {
    let text = format!("{MINIMAL}\n[manager]\nhttp-port = 10001\nmonitoring-adress = \"x\"\n");
    assert_eq!(
        only_error(&text),
        "/etc/ferryman/ferryman.toml:11:1: unknown key `monitoring-adress` in [manager]: did you \
         mean `monitoring-address`?"
    );
    let text = with_cluster_keys("backup-keep-dialy = 7\nbackup_keep_weekly = 2");
    assert_eq!(
        errors(&text),
        [
            "/etc/ferryman/ferryman.toml:4:1: unknown key `backup-keep-dialy` in \
             [clusters.prod]: did you mean `backup-keep-daily`?",
            "/etc/ferryman/ferryman.toml:5:1: unknown key `backup_keep_weekly` in \
             [clusters.prod]: did you mean `backup-keep-weekly`?",
        ]
    );
}

#[test]
fn an_unknown_key_like_none_lists_the_known_keys() {
    let text = format!("{MINIMAL}\n[manager]\nhttp-port = 10001\nlisten = \"x\"\n");
    assert_eq!(
        only_error(&text),
        "/etc/ferryman/ferryman.toml:11:1: unknown key `listen` in [manager]: check the \
         spelling; known keys here are: monitoring-datadir, monitoring-address, \
         http-bind-address, http-port, stream-bind-address, stream-port, stream-accept-timeout, \
         api-token-file, api-token-env, metrics-token-file, metrics-token-env, backup-compression-level, backup-compression-threads, backup-concurrency, \
         job-claim-timeout, history-retention, agent-silent-after, storage-free-alert, logs-keep, http-header-read-timeout, \
         http-idle-timeout, http-max-connections, signing-key-file, trusted-signing-keys, tls-cert-file, tls-key-file, \
         tls-ca-file, accept-plain-streams, allow-plain-tcp"
    );
    let error = only_error(&format!("retention = 1\n{MINIMAL}"));
    assert!(
        error.starts_with(
            "/etc/ferryman/ferryman.toml:1:1: unknown key `retention` at the top level: check \
             the spelling; known keys here are: manager, agent, jobs, verifier, repositories, \
             clusters, notifications"
        ),
        "{error}"
    );
}

#[test]
fn a_typo_in_a_server_or_an_inline_credential_is_found() {
    // The misspelt key is not reported missing too.
    let text = MINIMAL.replace("host =", "hots =");
    assert_eq!(
        only_error(&text),
        "/etc/ferryman/ferryman.toml:7:1: unknown key `hots` in [clusters.prod.servers[0]]: did \
         you mean `host`?"
    );
    let text = MINIMAL.replace(
        "{ user = \"repl\" }",
        "{ user = \"repl\", pasword-env = \"X\" }",
    );
    assert_eq!(
        only_error(&text),
        "/etc/ferryman/ferryman.toml:3:43: unknown key `pasword-env` in \
         [clusters.prod.replication-credential]: did you mean `password-env`?"
    );
    let text = MINIMAL.replace("{ user = \"repl\" }", "{ user = \"repl\", secret = \"X\" }");
    let error = only_error(&text);
    assert!(
        error.ends_with("known keys here are: user, password-file, password-env"),
        "{error}"
    );
}

#[test]
fn an_out_of_range_hour_names_the_field_and_the_line() {
    let text = with_cluster_keys("scheduler-db-servers-logical-backup-cron = \"0 0 25 * * *\"");
    assert_eq!(
        only_error(&text),
        "/etc/ferryman/ferryman.toml:4:44: \
         `clusters.prod.scheduler-db-servers-logical-backup-cron` = \"0 0 25 * * *\" is not a \
         valid cron schedule (the hour field `25` is not valid; it takes 0-23): the 6 fields are \
         `sec min hour dom mon dow`, e.g. \"0 0 1 * * *\" for 01:00:00 every day"
    );
}

#[test]
fn a_five_field_cron_says_seconds_come_first() {
    let text = with_cluster_keys(
        "monitoring-scheduler = true\nscheduler-db-servers-logs-cron = \"*/10 * * * *\"",
    );
    assert_eq!(
        only_error(&text),
        "/etc/ferryman/ferryman.toml:5:34: `clusters.prod.scheduler-db-servers-logs-cron` = \
         \"*/10 * * * *\" has 5 fields, but Ferryman cron strings have 6 with seconds first \
         (`sec min hour dom mon dow`): write \"0 */10 * * * *\" to run at second 0"
    );
}

#[test]
fn every_validation_error_is_reported_at_once() {
    let text = r#"[manager]
http-port = 70000
stream-accept-timeout = "soon"

[agent]
poll-interval = "10ms"
tasks = ["mariabackup", "mariabackup"]

[jobs]
schema = "replication-manager"

[clusters.prod]
db-servers-credential = { user = "ferryman", password-env = "FERRYMAN_TEST_SURELY_UNSET" }
db-servers-backup-hosts = ["db9"]
scheduler-db-servers-receiver-ports = ""
scheduler-db-servers-optimize-cron = "0 0 3 1 * 5 2024"

[[clusters.prod.servers]]
name = "db 1"
host = "db1 .example"
port = 0
socket = "run/mysqld.sock"

[[clusters.prod.servers]]
host = "db2"
service-stop = " "

[clusters."bad/name"]
"#;
    let errors = errors(text);
    let lines: Vec<&str> = errors
        .iter()
        .map(|e| e.split(": ").next().unwrap().trim_start_matches(FILE))
        .collect();
    assert_eq!(
        lines,
        [
            ":2:13",  // http-port 70000
            ":3:25",  // stream-accept-timeout
            ":6:17",  // poll-interval below 100ms
            ":7:25",  // duplicate task
            ":10:10", // schema with a dash
            ":28:11", // bad cluster name
            ":28:11", // ... without credentials
            ":28:11", // ...
            ":28:11", // ... nor servers
            ":13:61", // prod: password-env unset
            ":12:11", // replication-credential missing
            ":19:8",  // server name with a space
            ":20:8",  // host with a space
            ":21:8",  // port 0
            ":22:10", // relative socket
            ":24:1",  // second server has no name
            ":26:16", // empty service-stop
            ":14:28", // unknown backup host
            ":15:39", // empty receiver ports
            ":16:38", // 7-field cron
        ],
        "{errors:#?}"
    );
    assert_eq!(
        parse(text).unwrap_err().to_string().lines().count(),
        errors.len()
    );
    assert!(errors[0].contains("`manager.http-port` = 70000 is not a TCP port"));
    assert!(errors[3].contains("task `mariabackup` is listed twice"));
    assert!(errors[19].contains("it has 7 fields, not 6"));
}

#[test]
fn overlapping_sender_pools_are_refused() {
    let text = r#"[clusters.a]
db-servers-credential = { user = "u" }
replication-credential = { user = "r" }
scheduler-db-servers-sender-ports = "40100-40119"
[[clusters.a.servers]]
name = "a1"
host = "h1"

[clusters.b]
db-servers-credential = { user = "u" }
replication-credential = { user = "r" }
scheduler-db-servers-sender-ports = "40200, 40110-40111"
[[clusters.b.servers]]
name = "b1"
host = "h2"
"#;
    assert_eq!(
        only_error(text),
        "/etc/ferryman/ferryman.toml:12:37: sender port 40110 of cluster `b` is also in the sender \
         ports of cluster `a` (/etc/ferryman/ferryman.toml:4:37): give each cluster its own ports"
    );
}

#[test]
fn a_sender_pool_must_not_hold_the_manager_ports() {
    let text = format!(
        "[manager]\nhttp-port = 40105\n\n{}",
        with_cluster_keys("scheduler-db-servers-sender-ports = \"40100-40119,10002\"")
    );
    let errors = errors(&text);
    assert_eq!(
        errors,
        [
            "/etc/ferryman/ferryman.toml:7:37: `clusters.prod.scheduler-db-servers-sender-ports` \
             uses port 40105, which is also `manager.http-port`: change one of them",
            "/etc/ferryman/ferryman.toml:7:37: `clusters.prod.scheduler-db-servers-sender-ports` \
             uses port 10002, which is also `manager.stream-port`: change one of them",
        ]
    );
}

#[test]
fn bad_port_lists_say_why() {
    let text = with_cluster_keys("scheduler-db-servers-sender-ports = \"40119-40100\"");
    assert_eq!(
        only_error(&text),
        "/etc/ferryman/ferryman.toml:4:37: `clusters.prod.scheduler-db-servers-sender-ports` = \
         \"40119-40100\" is not a valid port list (range 40119-40100 ends before it starts): write \
         ports and inclusive ranges separated by commas, e.g. \"40100-40119,40200\""
    );
}

#[test]
fn server_names_and_addresses_are_unique_across_the_file() {
    let text = format!(
        "{MINIMAL}\n[clusters.other]\ndb-servers-credential = {{ user = \"u\" }}\n\
         replication-credential = {{ user = \"r\" }}\n[[clusters.other.servers]]\nname = \"db1\"\n\
         host = \"127.0.0.1\"\nport = 3306\n"
    );
    let errors = errors(&text);
    // Clusters are validated in name order: `other` before `prod`.
    assert_eq!(
        errors,
        [
            "/etc/ferryman/ferryman.toml:6:8: server name `db1` is also used at \
             /etc/ferryman/ferryman.toml:13:8: give every server a unique name across the whole \
             file",
            "/etc/ferryman/ferryman.toml:7:8: 127.0.0.1:3306 is also the address of server `db1` \
             (/etc/ferryman/ferryman.toml:14:8): fix `host` or `port`",
        ]
    );
}

#[test]
fn clusters_and_servers_are_required() {
    assert_eq!(
        only_error("[manager]\n"),
        "/etc/ferryman/ferryman.toml:1:1: no cluster is defined: add a [clusters.NAME] table and \
         its [[clusters.NAME.servers]]"
    );
    assert_eq!(
        only_error(HEAD),
        "/etc/ferryman/ferryman.toml:1:11: cluster `prod` has no servers: add a \
         [[clusters.prod.servers]] table for each database server"
    );
}

#[test]
fn implicit_tables_and_dotted_keys_parse() {
    // No [clusters.a] header, and a credential written with dotted keys: toml cannot span such
    // tables, so errors about them must still come out right.
    let text = "[[clusters.a.servers]]\nname = \"a1\"\nhost = \"h\"\n";
    assert_eq!(
        errors(text),
        [
            "/etc/ferryman/ferryman.toml:1:12: missing required key \
             `clusters.a.db-servers-credential`: add it (see config/ferryman.example.toml)",
            "/etc/ferryman/ferryman.toml:1:12: missing required key \
             `clusters.a.replication-credential`: add it (see config/ferryman.example.toml)",
        ]
    );
    let text = "[clusters.a]\ndb-servers-credential.user = \"u\"\n\
                [clusters.a.replication-credential]\nuser = \"r\"\n\
                [[clusters.a.servers]]\nname = \"a1\"\nhost = \"h\"\n";
    let config = parse(text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.clusters[0].db_servers_credential.user, "u");
    assert_eq!(config.clusters[0].replication_credential.user, "r");
}

#[test]
fn syntax_and_type_errors_have_their_line() {
    assert_eq!(
        only_error(&format!("{MINIMAL}port = \"3306\"\n")),
        "/etc/ferryman/ferryman.toml:8:8: `clusters.prod.servers[0].port` is the string \"3306\", \
         but it must be an integer: fix the value; every key is documented in \
         config/ferryman.example.toml"
    );
    let error = only_error("[manager\nhttp-port = 1\n");
    assert!(
        error.starts_with("/etc/ferryman/ferryman.toml:1:9: unclosed table, expected `]`"),
        "{error}"
    );
    let error = only_error(&format!("[agent]\ntasks = [\"mariadbbackup\"]\n{MINIMAL}"));
    assert!(
        error.starts_with(
            "/etc/ferryman/ferryman.toml:2:9: `agent.tasks`: unknown task `mariadbbackup`"
        ),
        "{error}"
    );
}

#[test]
fn an_unreadable_file_is_one_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.toml");
    let errors = load(&path).unwrap_err();
    assert_eq!(errors.errors().len(), 1);
    assert_eq!(
        errors.to_string(),
        format!(
            "{}: cannot read the config file: No such file or directory (os error 2): check the \
             path given to ferryman (`--config FILE`, else the variable FERRYMAN_CONFIG, else \
             /etc/ferryman/ferryman.toml) and the file's permissions",
            path.display()
        )
    );
}

#[test]
fn agent_timeouts_out_of_range_name_the_range() {
    let text = format!(
        "[agent]\nconnect-timeout = \"0s\"\nshutdown-grace = \"25h\"\n\
         stale-claim-timeout = \"5s\"\n{MINIMAL}"
    );
    assert_eq!(
        errors(&text),
        [
            "/etc/ferryman/ferryman.toml:2:19: `agent.connect-timeout` = \"0s\" is out of range: \
             use a duration from 1s to 1h",
            "/etc/ferryman/ferryman.toml:3:18: `agent.shutdown-grace` = \"25h\" is out of range: \
             use a duration from 0s to 1day",
            "/etc/ferryman/ferryman.toml:4:23: `agent.stale-claim-timeout` = \"5s\" is out of \
             range: use a duration from 10s to 7days",
        ]
    );
}

#[test]
fn empty_commands_and_empty_arguments_are_refused() {
    let text = format!(
        "{MINIMAL}service-start = []\nservice-restart = [\"/bin/restart\", \"\"]\n\
         zfs-snapback = \"  \"\n"
    );
    assert_eq!(
        errors(&text),
        [
            "/etc/ferryman/ferryman.toml:8:17: `clusters.prod.servers[0].service-start` is empty: \
             set it to a non-empty value, or remove it to use the default",
            "/etc/ferryman/ferryman.toml:9:36: `clusters.prod.servers[0].service-restart[1]` is an \
             empty string: remove it; each element of the array is passed to the program as one \
             argument, as is",
            "/etc/ferryman/ferryman.toml:10:16: `clusters.prod.servers[0].zfs-snapback` is empty: \
             set it to a non-empty value, or remove it to use the default",
        ]
    );
}

#[test]
fn a_command_of_the_wrong_type_says_which_forms_are_accepted() {
    assert_eq!(
        only_error(&format!("{MINIMAL}service-stop = 5\n")),
        "/etc/ferryman/ferryman.toml:8:16: `clusters.prod.servers[0].service-stop` is the \
         integer 5, but it must be a command line string or an array of strings: fix the value; \
         every key is documented in config/ferryman.example.toml"
    );
    let error = only_error(&format!("{MINIMAL}zfs-snapback = [\"/sbin/zfs\", 1]\n"));
    assert!(
        error.starts_with(
            "/etc/ferryman/ferryman.toml:8:30: `clusters.prod.servers[0].zfs-snapback` is the \
             integer 1, but it must be a string"
        ),
        "{error}"
    );
}

#[test]
fn every_type_error_is_reported_with_its_key_and_line_and_the_rest_is_validated() {
    let text = with_cluster_keys(
        "backup-keep-daily = \"7\"\n\
         backup-keep-weekly = 100001\n\
         db-servers-backup-hosts = \"db1\"\n\
         [manager]\n\
         http-port = 10001.5\n\
         logs-keep = 0",
    );
    assert_eq!(
        errors(&text),
        [
            "/etc/ferryman/ferryman.toml:4:21: `clusters.prod.backup-keep-daily` is the string \
             \"7\", but it must be an integer: fix the value; every key is documented in \
             config/ferryman.example.toml",
            "/etc/ferryman/ferryman.toml:6:27: `clusters.prod.db-servers-backup-hosts` is the \
             string \"db1\", but it must be an array: fix the value; every key is documented in \
             config/ferryman.example.toml",
            "/etc/ferryman/ferryman.toml:8:13: `manager.http-port` is the number 10001.5, but it \
             must be an integer: fix the value; every key is documented in \
             config/ferryman.example.toml",
            "/etc/ferryman/ferryman.toml:9:13: `manager.logs-keep` = 0 is out of range: use a \
             number from 1 to 100000",
            "/etc/ferryman/ferryman.toml:5:22: `clusters.prod.backup-keep-weekly` = 100001 is \
             out of range: use a number from 0 to 100000",
        ]
    );
}

#[test]
fn a_required_key_of_the_wrong_type_is_not_also_missing() {
    let text = MINIMAL
        .replace("name = \"db1\"", "name = 1")
        .replace("{ user = \"repl\" }", "{ user = [\"repl\"] }")
        .replace(
            "db-servers-credential = { user = \"ferryman\" }",
            "db-servers-credential = \"ferryman\"",
        );
    assert_eq!(
        errors(&text),
        [
            "/etc/ferryman/ferryman.toml:2:25: `clusters.prod.db-servers-credential` is the \
             string \"ferryman\", but it must be a table: fix the value; every key is documented \
             in config/ferryman.example.toml",
            "/etc/ferryman/ferryman.toml:3:35: `clusters.prod.replication-credential.user` is an \
             array, but it must be a string: fix the value; every key is documented in \
             config/ferryman.example.toml",
            "/etc/ferryman/ferryman.toml:6:8: `clusters.prod.servers[0].name` is the integer 1, \
             but it must be a string: fix the value; every key is documented in \
             config/ferryman.example.toml",
        ]
    );
}

#[test]
fn a_number_too_large_for_64_bits_names_the_key_and_its_range() {
    let text = with_cluster_keys(
        "backup-keep-daily = 18446744073709551616 # u64::MAX + 1\n\
         backup-keep-weekly = -99999999999999999999\n\
         backup-physical-type = 0xffffffffffffffffff",
    )
    .replace(
        "host = \"127.0.0.1\"",
        "host = \"127.0.0.1\"\nport = 99_999_999_999_999_999_999",
    );
    assert_eq!(
        errors(&text),
        [
            "/etc/ferryman/ferryman.toml:6:24: `clusters.prod.backup-physical-type` is the \
             integer 0xffffffffffffffffff, but it must be a string: fix the value; every key is \
             documented in config/ferryman.example.toml",
            "/etc/ferryman/ferryman.toml:11:8: `clusters.prod.servers[0].port` = \
             99_999_999_999_999_999_999 is not a TCP port: use a number from 1 to 65535",
            "/etc/ferryman/ferryman.toml:4:21: `clusters.prod.backup-keep-daily` = \
             18446744073709551616 is out of range: use a number from 0 to 100000",
            "/etc/ferryman/ferryman.toml:5:22: `clusters.prod.backup-keep-weekly` = \
             -99999999999999999999 is out of range: use a number from 0 to 100000",
        ]
    );
}

#[test]
fn a_misspelt_table_is_reported_once_with_the_table_meant() {
    let text = with_cluster_keys(
        "[clusters.prod.galera-lnk]\nmasters = 5\nnot-a-key = 1\n[clusters.prod.verifier]\nx = 1",
    );
    assert_eq!(
        errors(&text),
        [
            "/etc/ferryman/ferryman.toml:4:16: unknown key `galera-lnk` in [clusters.prod]: did \
             you mean `galera-link`?",
            "/etc/ferryman/ferryman.toml:7:16: unknown key `verifier` in [clusters.prod]: check \
             the spelling; known keys here are: db-servers-credential, db-servers-ssl-mode, \
             db-servers-ssl-ca, db-servers-ssl-cert, db-servers-ssl-key, replication-credential, \
             db-servers-backup-hosts, backup-repositories, backup-copy-after, scheduler-db-servers-sender-ports, \
             scheduler-db-servers-receiver-ports, monitoring-scheduler, \
             scheduler-db-servers-physical-backup, scheduler-db-servers-physical-backup-cron, \
             scheduler-db-servers-logical-backup, scheduler-db-servers-logical-backup-cron, \
             scheduler-db-servers-logs, scheduler-db-servers-logs-cron, \
             scheduler-db-servers-optimize, scheduler-db-servers-optimize-cron, \
             scheduler-db-servers-snapshot, scheduler-db-servers-snapshot-cron, \
             scheduler-db-servers-verify, scheduler-db-servers-verify-cron, backup-physical-type, \
             backup-logical-type, backup-galera-desync, backup-concurrency, jobs-schema, backup-stream-compression, \
             backup-stream-compression-threads, backup-throttle-lag, backup-throttle-rate-mib, \
             backup-throttle-min-rate-mib, backup-keep-last, backup-keep-hourly, backup-keep-daily, \
             backup-keep-weekly, backup-keep-monthly, backup-keep-yearly, \
             verify-expected-databases, verify-nonempty-tables, binlog-archive, \
             binlog-archive-flush, binlog-archive-segment-size, binlog-archive-segment-age, \
             binlog-archive-server-id, binlog-archive-proof-interval, binlog-archive-spool-max, binlog-archive-rpo-alert, \
             backup-missing-grace, servers, galera-link",
        ]
    );
}

#[test]
fn a_misspelt_array_of_tables_is_one_error_and_not_also_missing() {
    let text = MINIMAL.replace("[[clusters.prod.servers]]", "[[clusters.prod.server]]");
    assert_eq!(
        only_error(&text),
        "/etc/ferryman/ferryman.toml:5:17: unknown key `server` in [clusters.prod]: did you mean \
         `servers`?"
    );
    let text = format!("{MINIMAL}[[clusters.prod.server]]\nname = \"db2\"\nhost = \"h2\"\n");
    assert_eq!(
        only_error(&text),
        "/etc/ferryman/ferryman.toml:8:17: unknown key `server` in [clusters.prod]: did you mean \
         `servers`?"
    );
    let error = only_error(&MINIMAL.replace("clusters", "cluster"));
    assert!(
        error.starts_with(
            "/etc/ferryman/ferryman.toml:1:2: unknown key `cluster` at the top level: did you \
             mean `clusters`?"
        ),
        "{error}"
    );
}

#[test]
fn a_certificate_needs_its_key_and_the_fleet_ca() {
    let text = format!("{MINIMAL}\n[agent]\ntls-cert-file = \"/etc/ferryman/agent.crt\"\n");
    assert_eq!(
        only_error(&text),
        "/etc/ferryman/ferryman.toml:10:17: missing required key `agent.tls-key-file`: add it \
         (see config/ferryman.example.toml)"
    );
    let text =
        format!("{MINIMAL}\n[manager]\ntls-cert-file = \"/m.crt\"\ntls-key-file = \"/m.key\"\n");
    assert_eq!(
        only_error(&text),
        "/etc/ferryman/ferryman.toml:10:17: missing required key `manager.tls-ca-file`: add it \
         (see config/ferryman.example.toml)"
    );
    let text = format!(
        "{MINIMAL}\n[agent]\ntls-cert-file = \"/a.crt\"\ntls-key-file = \"/a.key\"\n\
         tls-ca-file = \"/ca.crt\"\n"
    );
    let config = crate::parse(&text).unwrap();
    assert_eq!(
        config.agent.certificate_files(),
        [
            ("agent.tls-cert-file", std::path::Path::new("/a.crt")),
            ("agent.tls-ca-file", std::path::Path::new("/ca.crt")),
        ]
    );
    assert!(!config.manager.accept_plain_streams);
}

#[test]
fn database_tls_modes_that_check_need_the_ca() {
    let errors = errors(&with_cluster_keys(
        "db-servers-ssl-mode = \"verify-identity\"\ndb-servers-ssl-cert = \"/c.crt\"",
    ));
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].contains("missing required key `clusters.prod.db-servers-ssl-ca`"),
        "{errors:#?}"
    );
    assert!(
        errors[1].contains(
            "`clusters.prod.db-servers-ssl-cert (with clusters.prod.db-servers-ssl-key)`"
        ),
        "{errors:#?}"
    );
    let e = only_error(&with_cluster_keys("db-servers-ssl-mode = \"preferred\""));
    assert!(
        e.contains("\"preferred\"") && e.contains("disabled, required, verify-ca, verify-identity"),
        "{e}"
    );
    let config = parse(&with_cluster_keys(
        "db-servers-ssl-mode = \"verify-ca\"\ndb-servers-ssl-ca = \"/ca.crt\"",
    ))
    .unwrap();
    let server = &config.clusters[0].servers[0];
    assert_eq!(server.ssl.mode, ferryman_config::SslMode::VerifyCa);
    assert_eq!(
        server.ssl.ca.as_deref(),
        Some(std::path::Path::new("/ca.crt"))
    );
}

#[test]
fn plain_tcp_beyond_loopback_needs_a_key_that_says_so() {
    let text = format!("{MINIMAL}\n[manager]\nhttp-bind-address = \"0.0.0.0\"\n");
    let e = only_error(&text);
    assert!(
        e.starts_with(
            "/etc/ferryman/ferryman.toml:10:21: the manager's API and backup streams on 0.0.0.0"
        ) && e.contains("would cross the network in plain TCP")
            && e.contains("manager.allow-plain-tcp = true"),
        "{e}"
    );
    let text = format!(
        "{MINIMAL}\n[manager]\nstream-bind-address = \"10.0.0.5\"\nallow-plain-tcp = true\n"
    );
    let config = parse(&text).unwrap();
    assert!(config.manager.allow_plain_tcp);
    let text = format!(
        "{MINIMAL}\n[manager]\nhttp-bind-address = \"::\"\ntls-cert-file = \"/m.crt\"\n\
         tls-key-file = \"/m.key\"\ntls-ca-file = \"/ca.crt\"\n"
    );
    parse(&text).unwrap();

    // What is plain by default is named (config check, the daemons' starts), not refused.
    let far = "\n[[clusters.prod.servers]]\nname = \"far\"\nhost = \"10.0.0.9\"\n";
    let config = parse(&format!("{}{far}", with_cluster_keys(""))).unwrap();
    let plain = config.plain_channels();
    assert_eq!(plain.len(), 2, "{plain:#?}");
    assert!(plain[0].contains("joiners on 0.0.0.0"), "{plain:#?}");
    assert!(
        plain[1].contains("cluster `prod`'s servers (far at 10.0.0.9)"),
        "{plain:#?}"
    );
    assert!(ferryman_config::loopback("127.0.0.2") && ferryman_config::loopback("[::1]"));
    assert!(!ferryman_config::loopback("0.0.0.0") && !ferryman_config::loopback("db1"));
    let config = parse(&format!(
        "{}{far}\n[agent]\nallow-plain-tcp = true\n",
        with_cluster_keys("db-servers-ssl-mode = \"disabled\"")
    ))
    .unwrap();
    assert!(
        config.plain_channels().is_empty(),
        "{:#?}",
        config.plain_channels()
    );
}
