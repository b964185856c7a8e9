//! `[notifications]`: channels and routes, their defaults, and each error in full with its line
//! and column; and `backup-missing-grace` of `[clusters.NAME]`, which raises `backup-missing`.

use std::path::Path;
use std::time::Duration;

use ferryman_config::{
    defaults, Check, ConfigError, ConfigWarning, EmailChannel, NotificationsConfig, Route,
    RouteSeverity, Secret, SmtpTls, WebhookChannel, EVENT_KINDS,
};

use crate::{
    env, errors, load, only_error, parse, with_cluster_keys, write_file, FILE, MINIMAL,
    SMTP_PASSWORD,
};

/// The minimal file (7 lines) with `notifications` after it, from line 8 on.
fn with_notifications(notifications: &str) -> String {
    format!("{MINIMAL}{notifications}")
}

/// A mail channel `dba` with its required keys, lines 8 to 11, and `extra` from line 12 on,
/// then a route to it.
fn with_email(extra: &str) -> String {
    with_notifications(&format!(
        "[notifications.email.dba]\nsmtp-host = \"smtp.example.com\"\n\
         from = \"ferryman@example.com\"\nto = [\"dba@example.com\"]\n{extra}\n\
         [[notifications.route]]\nchannel = \"dba\"\n"
    ))
}

/// Every kind of key set, or left to its default, in a file that loads.
const FULL: &str = r#"
[notifications]
repeat-after = "1h"

[notifications.email.ops]
smtp-host = "smtp.example.com"
user = "ferryman"
password-env = "FERRYMAN_TEST_SMTP_PASSWORD"
from = "Ferryman <ferryman@example.com>"
to = ["dba@example.com", "oncall@example.com"]

[notifications.email.relay]
smtp-host = "127.0.0.1"
tls = "none"
from = "ferryman@localhost"
to = ["root@localhost"]
timeout = "5s"
max-per-hour = 5

[notifications.email.smtps]
smtp-host = "mail.example.com"
tls = "tls"
from = "ferryman@example.com"
to = ["dba@example.com"]

[notifications.email.custom]
smtp-host = "mail.example.com"
smtp-port = 2525
tls = "starttls"
from = "ferryman@example.com"
to = ["dba@example.com"]

[notifications.webhook.chat]
url = "https://hooks.example.com/ferryman"
secret-file = "hook.secret"

[notifications.webhook.plain]
url = "http://127.0.0.1:8080/hook"
retries = 0
timeout = "1s"
max-per-hour = 100000

[[notifications.route]]
channel = "ops"
kinds = ["backup-failed", "backup-missing"]

[[notifications.route]]
channel = "chat"
clusters = ["prod"]
min-severity = "info"

[[notifications.route]]
channel = "relay"
min-severity = "error"

[[notifications.route]]
channel = "smtps"

[[notifications.route]]
channel = "custom"

[[notifications.route]]
channel = "plain"
"#;

#[test]
fn a_full_table_is_read_with_its_defaults() {
    let dir = tempfile::tempdir().unwrap();
    write_file(&dir.path().join("hook.secret"), "h00k-key\n", 0o600);
    let path = dir.path().join("ferryman.toml");
    std::fs::write(&path, with_notifications(FULL)).unwrap();
    let config = load(&path).unwrap_or_else(|e| panic!("{e}"));
    let mail = |name: &str, host: &str, port, tls, from: &str, to: &[&str]| EmailChannel {
        name: name.to_owned(),
        smtp_host: host.to_owned(),
        smtp_port: port,
        tls,
        user: None,
        password: None,
        from: from.to_owned(),
        to: to.iter().map(|t| (*t).to_owned()).collect(),
        timeout: Duration::from_secs(30),
        max_per_hour: 30,
    };
    let route = |channel: &str| Route {
        channel: channel.to_owned(),
        clusters: Vec::new(),
        kinds: Vec::new(),
        min_severity: RouteSeverity::Error,
    };
    let example = "ferryman@example.com";
    let dba = ["dba@example.com"];
    let expected = NotificationsConfig {
        // Sorted by name; the port follows tls unless it is given.
        email: vec![
            mail(
                "custom",
                "mail.example.com",
                2525,
                SmtpTls::StartTls,
                example,
                &dba,
            ),
            EmailChannel {
                user: Some("ferryman".to_owned()),
                password: Some(Secret::new(SMTP_PASSWORD.to_owned())),
                ..mail(
                    "ops",
                    "smtp.example.com",
                    587,
                    SmtpTls::StartTls,
                    "Ferryman <ferryman@example.com>",
                    &["dba@example.com", "oncall@example.com"],
                )
            },
            EmailChannel {
                timeout: Duration::from_secs(5),
                max_per_hour: 5,
                ..mail(
                    "relay",
                    "127.0.0.1",
                    25,
                    SmtpTls::None,
                    "ferryman@localhost",
                    &["root@localhost"],
                )
            },
            mail(
                "smtps",
                "mail.example.com",
                465,
                SmtpTls::Tls,
                example,
                &dba,
            ),
        ],
        webhooks: vec![
            WebhookChannel {
                name: "chat".to_owned(),
                url: "https://hooks.example.com/ferryman".to_owned(),
                secret: Some(Secret::new("h00k-key".to_owned())),
                retries: 5,
                timeout: Duration::from_secs(10),
                max_per_hour: 120,
            },
            WebhookChannel {
                name: "plain".to_owned(),
                url: "http://127.0.0.1:8080/hook".to_owned(),
                secret: None,
                retries: 0,
                timeout: Duration::from_secs(1),
                max_per_hour: 100_000,
            },
        ],
        // In file order.
        routes: vec![
            Route {
                kinds: vec!["backup-failed".to_owned(), "backup-missing".to_owned()],
                ..route("ops")
            },
            Route {
                clusters: vec!["prod".to_owned()],
                min_severity: RouteSeverity::Info,
                ..route("chat")
            },
            route("relay"),
            route("smtps"),
            route("custom"),
            route("plain"),
        ],
        repeat_after: Duration::from_secs(3600),
    };
    assert_eq!(config.notifications, expected);
    let everything = format!("{config:?} {config:#?}");
    assert!(
        !everything.contains(SMTP_PASSWORD) && !everything.contains("h00k-key"),
        "{everything}"
    );
    // Every channel has a route: nothing to warn of.
    let check = Check::load(&path);
    assert!(check.config.is_ok(), "{:?}", check.config);
    assert!(check.warnings.is_empty(), "{:?}", check.warnings);
}

#[test]
fn without_the_table_nothing_is_told() {
    let config = parse(MINIMAL).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.notifications, NotificationsConfig::default());
    assert!(config.notifications.email.is_empty());
    assert!(config.notifications.webhooks.is_empty());
    assert!(config.notifications.routes.is_empty());
    assert_eq!(
        config.notifications.repeat_after,
        Duration::from_secs(24 * 3600)
    );
    assert_eq!(EVENT_KINDS.len(), 30);
    assert!(EVENT_KINDS.contains(&"backup-missing"));
}

#[test]
fn a_route_naming_an_unknown_channel_lists_the_channels() {
    let text = with_email("[notifications.webhook.chat]\nurl = \"https://h.example.com/x\"")
        + "[[notifications.route]]\nchannel = \"chat\"\n[[notifications.route]]\nchannel = \"dab\"\n";
    assert_eq!(
        only_error(&text),
        "/etc/ferryman/ferryman.toml:19:11: `notifications.route[2].channel` = \"dab\" is not a \
         channel: use one of: chat, dba, or add a [notifications.email.dab] or \
         [notifications.webhook.dab] table"
    );
    let text = with_notifications("[[notifications.route]]\nchannel = \"dba\"\n");
    assert_eq!(
        only_error(&text),
        "/etc/ferryman/ferryman.toml:9:11: `notifications.route[0].channel` = \"dba\" is not a \
         channel: no channel is defined: add a [notifications.email.dba] or \
         [notifications.webhook.dba] table"
    );
    let text = with_notifications("[[notifications.route]]\nkinds = [\"backup-failed\"]\n");
    assert_eq!(
        only_error(&text),
        "/etc/ferryman/ferryman.toml:8:1: missing required key `notifications.route[0].channel`: \
         add it (see config/ferryman.example.toml)"
    );
}

#[test]
fn a_route_naming_an_unknown_cluster_lists_the_clusters() {
    let text = with_email("") + "clusters = [\"prod\", \"prd\", \"prod\"]\n";
    assert_eq!(
        errors(&text),
        [
            "/etc/ferryman/ferryman.toml:15:21: `notifications.route[0].clusters` lists `prd`, \
             which is not a cluster: use one of: prod, or leave `clusters` out (or empty) to \
             route every cluster's events",
            "/etc/ferryman/ferryman.toml:15:28: `notifications.route[0].clusters` lists `prod` \
             twice: remove the duplicate",
        ]
    );
}

#[test]
fn a_route_naming_an_unknown_kind_lists_the_kinds() {
    let text = with_email("") + "kinds = [\"backup-failed\", \"backup-failure\"]\n";
    assert_eq!(
        only_error(&text),
        format!(
            "/etc/ferryman/ferryman.toml:15:27: `notifications.route[0].kinds` lists \
             `backup-failure`, which is not an event kind: use one of: {}, or leave `kinds` out \
             (or empty) to route every kind",
            EVENT_KINDS.join(", ")
        )
    );
    let text = with_email("") + "min-severity = \"warning\"\n";
    assert_eq!(
        only_error(&text),
        "/etc/ferryman/ferryman.toml:15:16: `notifications.route[0].min-severity` = \"warning\" \
         is not allowed here: use one of: info, error"
    );
}

#[test]
fn a_webhook_url_needs_http_or_https() {
    let text = with_notifications(
        "[notifications.webhook.chat]\nurl = \"hooks.example.com/ferryman\"\n\
         [[notifications.route]]\nchannel = \"chat\"\n",
    );
    assert_eq!(
        only_error(&text),
        "/etc/ferryman/ferryman.toml:9:7: `notifications.webhook.chat.url` = \
         \"hooks.example.com/ferryman\" is not a webhook URL (it does not start with http:// or \
         https://): write it as \"https://host/path\" (or \"http://host:port/path\")"
    );
    let text = with_notifications(
        "[notifications.webhook.chat]\nretries = 21\n[[notifications.route]]\nchannel = \"chat\"\n",
    );
    assert_eq!(
        errors(&text),
        [
            "/etc/ferryman/ferryman.toml:8:24: missing required key \
             `notifications.webhook.chat.url`: add it (see config/ferryman.example.toml)",
            "/etc/ferryman/ferryman.toml:9:11: `notifications.webhook.chat.retries` = 21 is out \
             of range: use a number from 0 to 20",
        ]
    );
}

#[test]
fn a_password_needs_a_user_and_a_user_a_password() {
    assert_eq!(
        only_error(&with_email(
            "password-env = \"FERRYMAN_TEST_SMTP_PASSWORD\""
        )),
        "/etc/ferryman/ferryman.toml:12:16: `notifications.email.dba` sets `password-env` but no \
         `user`: the password is only sent with a login: set `user` to the SMTP login, or remove \
         `password-env` to send mail without logging in"
    );
    assert_eq!(
        only_error(&with_email("user = \"ferryman\"")),
        "/etc/ferryman/ferryman.toml:12:8: `notifications.email.dba.user` is set but neither \
         `password-file` nor `password-env`: an SMTP login needs its password: set one of them \
         (a file with mode 0600, or an environment variable), or remove `user` to send mail \
         without logging in"
    );
    assert_eq!(
        only_error(&with_email(
            "user = \"ferryman\"\npassword-file = \"/x\"\npassword-env = \"FERRYMAN_TEST_SMTP_PASSWORD\""
        )),
        "/etc/ferryman/ferryman.toml:14:16: `notifications.email.dba` sets both `password-file` \
         and `password-env`: keep only one"
    );
    let config = parse(&with_email(
        "user = \"ferryman\"\npassword-env = \"FERRYMAN_TEST_SMTP_PASSWORD\"",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let dba = &config.notifications.email[0];
    assert_eq!(dba.user.as_deref(), Some("ferryman"));
    assert_eq!(dba.password, Some(Secret::new(SMTP_PASSWORD.to_owned())));
}

#[test]
fn a_password_missing_here_is_a_warning_of_the_check_not_a_missing_password() {
    env();
    let text = with_email("user = \"ferryman\"\npassword-env = \"FERRYMAN_TEST_UNSET_SMTP\"");
    let check = Check::parse(&text, Path::new(FILE));
    let config = check.config.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.notifications.email[0].password, None);
    let warnings: Vec<String> = check.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "/etc/ferryman/ferryman.toml:13:16: environment variable `FERRYMAN_TEST_UNSET_SMTP` \
          (`notifications.email.dba.password-env`) is not set here: the manager will need it set \
          to the SMTP password when it starts"
        ]
    );
    assert_eq!(
        only_error(&text),
        "/etc/ferryman/ferryman.toml:13:16: environment variable `FERRYMAN_TEST_UNSET_SMTP` \
         (`password-env`) is not set: export it before starting ferryman, or fix `password-env`"
    );
}

#[test]
fn addresses_need_an_at_sign_and_at_least_one_recipient() {
    let text = with_notifications(
        "[notifications.email.dba]\nsmtp-host = \"smtp.example.com\"\nfrom = \"ferryman\"\n\
         to = []\n[[notifications.route]]\nchannel = \"dba\"\n",
    );
    assert_eq!(
        errors(&text),
        [
            "/etc/ferryman/ferryman.toml:10:8: `notifications.email.dba.from` = \"ferryman\" is \
             not a mail address: write it as \"name@example.com\" (or \"Name <name@example.com>\")",
            "/etc/ferryman/ferryman.toml:11:6: `notifications.email.dba.to` is empty: list at \
             least one address, e.g. [\"dba@example.com\"]",
        ]
    );
    let text = with_notifications(
        "[notifications.email.dba]\nsmtp-host = \"smtp.example.com\"\nfrom = \"f@example.com\"\n\
         to = [\"a@example.com\", \"dba\", \"a@example.com\"]\n\
         [[notifications.route]]\nchannel = \"dba\"\n",
    );
    assert_eq!(
        errors(&text),
        [
            "/etc/ferryman/ferryman.toml:11:24: `notifications.email.dba.to[1]` = \"dba\" is not a \
             mail address: write it as \"name@example.com\" (or \"Name <name@example.com>\")",
            "/etc/ferryman/ferryman.toml:11:31: `notifications.email.dba.to` lists \
             `a@example.com` twice: remove the duplicate",
        ]
    );
    let text = with_notifications("[notifications.email.dba]\ntls = \"ssl\"\n");
    assert_eq!(
        errors(&text),
        [
            "/etc/ferryman/ferryman.toml:8:22: missing required key \
             `notifications.email.dba.smtp-host`: add it (see config/ferryman.example.toml)",
            "/etc/ferryman/ferryman.toml:9:7: `notifications.email.dba.tls` = \"ssl\" is not \
             allowed here: use one of: none, starttls, tls",
            "/etc/ferryman/ferryman.toml:8:22: missing required key \
             `notifications.email.dba.from`: add it (see config/ferryman.example.toml)",
            "/etc/ferryman/ferryman.toml:8:22: missing required key \
             `notifications.email.dba.to`: add it (see config/ferryman.example.toml)",
        ]
    );
}

#[test]
fn email_and_webhook_channels_share_their_names() {
    let text = with_email("[notifications.webhook.dba]\nurl = \"https://h.example.com/x\"");
    assert_eq!(
        only_error(&text),
        "/etc/ferryman/ferryman.toml:12:24: channel name `dba` is also used by \
         [notifications.email.dba] (/etc/ferryman/ferryman.toml:8:22): email and webhook \
         channels share one namespace, since a route names its channel by name alone: rename \
         one of them"
    );
    let error = only_error(&with_notifications(
        "[notifications.webhook.\"a b\"]\nurl = \"https://h.example.com/x\"\n\
         [[notifications.route]]\nchannel = \"a b\"\n",
    ));
    assert!(
        error.starts_with(
            "/etc/ferryman/ferryman.toml:8:24: channel name `a b` is not valid: use 1 to 64 \
             characters from"
        ),
        "{error}"
    );
}

#[test]
fn an_unknown_key_in_a_channel_or_a_route_is_refused() {
    assert_eq!(
        only_error(&with_email("smtp-hots = \"x\"")),
        "/etc/ferryman/ferryman.toml:12:1: unknown key `smtp-hots` in \
         [notifications.email.dba]: did you mean `smtp-host`?"
    );
    let text = with_notifications(
        "[notifications.webhook.chat]\nurl = \"https://h.example.com/x\"\nsecret = \"s\"\n\
         [[notifications.route]]\nchannel = \"chat\"\nseverity = \"info\"\n",
    );
    assert_eq!(
        errors(&text),
        [
            "/etc/ferryman/ferryman.toml:10:1: unknown key `secret` in \
             [notifications.webhook.chat]: check the spelling; known keys here are: url, \
             secret-file, secret-env, retries, timeout, max-per-hour",
            "/etc/ferryman/ferryman.toml:13:1: unknown key `severity` in \
             [notifications.route[0]]: check the spelling; known keys here are: channel, \
             clusters, kinds, min-severity",
        ]
    );
    // A misspelt required key is not also reported missing.
    let text = with_notifications(
        "[notifications.webhook.chat]\nulr = \"https://h.example.com/x\"\n\
         [[notifications.route]]\nchannel = \"chat\"\n",
    );
    assert_eq!(
        only_error(&text),
        "/etc/ferryman/ferryman.toml:9:1: unknown key `ulr` in [notifications.webhook.chat]: did \
         you mean `url`?"
    );
}

#[test]
fn a_channel_no_route_names_is_a_warning() {
    env();
    let text = with_notifications(
        "[notifications.webhook.chat]\nurl = \"https://h.example.com/x\"\n\
         [notifications.email.dba]\nsmtp-host = \"smtp.example.com\"\n\
         from = \"f@example.com\"\nto = [\"dba@example.com\"]\n\
         [[notifications.route]]\nchannel = \"dba\"\n",
    );
    let check = Check::parse(&text, Path::new(FILE));
    assert!(check.config.is_ok(), "{:?}", check.config);
    let warnings: Vec<String> = check.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "/etc/ferryman/ferryman.toml:8:24: channel `chat` ([notifications.webhook.chat]) is \
          named by no [[notifications.route]], so it is never sent anything: add a route with \
          channel = \"chat\", or remove the table"
        ]
    );
    assert!(matches!(
        &check.warnings[0],
        ConfigWarning::UnusedChannel { name, table: "webhook", .. } if name == "chat"
    ));
    // The daemons load it all the same.
    assert!(parse(&text).is_ok());
}

#[test]
fn ranges_are_enforced() {
    let text = with_notifications(
        "[notifications]\nrepeat-after = \"5s\"\n\
         [notifications.email.dba]\nsmtp-host = \"h\"\nsmtp-port = 0\nfrom = \"f@h\"\n\
         to = [\"t@h\"]\ntimeout = \"11m\"\nmax-per-hour = 10001\n\
         [notifications.webhook.chat]\nurl = \"https://h\"\ntimeout = \"0s\"\nmax-per-hour = 0\n\
         [[notifications.route]]\nchannel = \"dba\"\n[[notifications.route]]\nchannel = \"chat\"\n",
    );
    let errors = errors(&text);
    let expected = [
        "`notifications.repeat-after` = \"5s\" is out of range: use a duration from 10s to 30days",
        "`notifications.email.dba.smtp-port` = 0 is not a TCP port: use a number from 1 to 65535",
        "`notifications.email.dba.timeout` = \"11m\" is out of range: use a duration from 1s to \
         10m",
        "`notifications.email.dba.max-per-hour` = 10001 is out of range: use a number from 1 to \
         10000",
        "`notifications.webhook.chat.timeout` = \"0s\" is out of range: use a duration from 1s \
         to 5m",
        "`notifications.webhook.chat.max-per-hour` = 0 is out of range: use a number from 1 to \
         100000",
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    for (error, want) in errors.iter().zip(expected) {
        assert!(error.ends_with(want), "{error}\n does not end with\n{want}");
    }
    assert!(matches!(
        parse(&text).unwrap_err().errors()[0],
        ConfigError::DurationOutOfRange { .. }
    ));
}

#[test]
fn backup_missing_grace_is_read_with_its_default_and_range() {
    let config = parse(MINIMAL).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.clusters[0].backup_missing_grace,
        Duration::from_secs(2 * 3600)
    );
    assert_eq!(
        config.clusters[0].backup_missing_grace,
        defaults::BACKUP_MISSING_GRACE
    );
    let config = parse(&with_cluster_keys("backup-missing-grace = \"30m\""))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.clusters[0].backup_missing_grace,
        Duration::from_secs(1800)
    );
    assert_eq!(
        only_error(&with_cluster_keys("backup-missing-grace = \"5s\"")),
        "/etc/ferryman/ferryman.toml:4:24: `clusters.prod.backup-missing-grace` = \"5s\" is out \
         of range: use a duration from 10s to 30days"
    );
}
