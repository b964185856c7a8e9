//! `[repositories.NAME]` and the clusters' `backup-repositories`: the example's commented-out
//! S3 repository, every key, the defaults and the key pair's sources (`repository_errors` has
//! the errors of the tables and lists).

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferryman_config::{
    defaults, Check, Config, ConfigError, ConfigWarning, RepositoryConfig, RepositoryKind,
    RetentionOverrides, S3Config, SecretKind,
};

use crate::{
    env, errors, load, only_error, parse, with_cluster_keys, write_file, EXAMPLE, FILE, MINIMAL,
    S3_KEY_ID, S3_SECRET,
};

/// The minimal file and `[repositories.offsite]` with `keys`, from line 10 on (the table is
/// named at 9:15).
pub(crate) fn with_repository(keys: &str) -> String {
    format!("{MINIMAL}\n[repositories.offsite]\n{keys}\n")
}

/// The minimal file with `backup-repositories = LIST` on line 4, then
/// `[repositories.offsite]` with `keys` from line 11 on.
pub(crate) fn with_list_and_repository(list: &str, keys: &str) -> String {
    format!(
        "{}\n[repositories.offsite]\n{keys}\n",
        with_cluster_keys(&format!("backup-repositories = {list}"))
    )
}

/// The S3 settings of repository `name`.
fn s3<'a>(config: &'a Config, name: &str) -> &'a S3Config {
    match &config.repositories[name].kind {
        RepositoryKind::S3(s3) => s3,
        other => panic!("{other:?}"),
    }
}

/// A bucket, with every other key at its default.
pub(crate) const BUCKET_ONLY: &str = "kind = \"s3\"\nbucket = \"ferryman-backups\"";

#[test]
fn the_examples_commented_out_repository_is_used_by_its_cluster_when_uncommented() {
    env();
    let example = std::fs::read_to_string(EXAMPLE).unwrap();
    let mut inside = false;
    let mut lines = Vec::new();
    for line in example.lines() {
        inside = (inside && !line.is_empty()) || line == "# [repositories.offsite]";
        let setting = line.strip_prefix("# ").filter(|rest| {
            rest.starts_with('[')
                || rest
                    .split_once(" = ")
                    .is_some_and(|(key, _)| key.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        });
        lines.push(match setting {
            Some(setting) if inside => setting,
            _ => line,
        });
    }
    let text = lines.join("\n").replace(
        "backup-repositories = [\"local\"]",
        "backup-repositories = [\"local\", \"offsite\"]",
    );
    assert!(text.contains("\n[repositories.offsite]\n"), "{text}");
    assert!(text.contains("\nretry-timeout = \"3m\"\n"), "{text}");
    assert!(text.contains("[\"local\", \"offsite\"]\n"), "{text}");

    // The secret key file is not on this host: `config check` warns, a daemon refuses.
    let check = Check::parse(&text, Path::new(EXAMPLE));
    let config = check.config.unwrap_or_else(|e| panic!("{e}"));
    let offsite = &config.repositories["offsite"];
    assert_eq!(offsite.name, "offsite");
    assert_eq!(
        offsite.kind,
        RepositoryKind::S3(S3Config {
            endpoint: Some("http://127.0.0.1:7480".to_owned()),
            bucket: "ferryman-backups".to_owned(),
            prefix: Some("ferryman/prod".to_owned()),
            region: "us-east-1".to_owned(),
            path_style: true,
            access_key_id: Some("FERRYMANEXAMPLEKEY".to_owned()),
            secret_access_key: None,
            part_size_mib: 8,
            request_timeout: Duration::from_secs(60),
            retry_timeout: Duration::from_secs(180),
        })
    );
    assert_eq!(offsite.location(), "s3://ferryman-backups/ferryman/prod");
    assert_eq!(
        config.cluster("prod").unwrap().backup_repositories,
        ["local", "offsite"]
    );
    let [warning] = &check.warnings[..] else {
        panic!("{:?}", check.warnings)
    };
    assert!(
        matches!(
            warning,
            ConfigWarning::SecretFileUnreadable {
                kind: SecretKind::S3SecretKey,
                ..
            }
        ),
        "{warning:?}"
    );
    let warning = warning.to_string();
    assert!(
        warning.ends_with(
            ": S3 secret access key file `/etc/ferryman/s3.secret` \
             (`repositories.offsite.secret-access-key-file`) cannot be read here: No such file or \
             directory (os error 2): the manager will need it readable by the user it runs as, \
             with mode 0600"
        ),
        "{warning}"
    );
    let errors = Config::parse(&text, Path::new(EXAMPLE)).unwrap_err();
    assert!(
        matches!(
            errors.errors(),
            [ConfigError::SecretFileUnreadable {
                kind: SecretKind::S3SecretKey,
                ..
            }]
        ),
        "{errors}"
    );
}

#[test]
fn every_key_is_read_and_the_secret_key_file_is_relative_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    write_file(&dir.path().join("s3.secret"), "s3cret-key\n", 0o600);
    let text = with_list_and_repository(
        "[\"offsite\", \"local\", \"nas\"]",
        "kind = \"s3\"\n\
         endpoint = \"https://s3.example.com/\"\n\
         bucket = \"ferryman.backups-2\"\n\
         prefix = \"Ferryman/prod_1/db-a.b\"\n\
         region = \"eu-west-3\"\n\
         path-style = false\n\
         access-key-id = \"AKIDEXAMPLE\"\n\
         secret-access-key-file = \"s3.secret\"\n\
         part-size = 512\n\
         request-timeout = \"1h\"\n\
         retry-timeout = \"1s\"\n\
         \n\
         [repositories.nas]\n\
         kind = \"local\"\n\
         path = \"nas/ferryman\"\n\
         backup-keep-daily = 30\n\
         backup-keep-last = 0",
    );
    let path = dir.path().join("ferryman.toml");
    std::fs::write(&path, text).unwrap();
    let config = load(&path).unwrap_or_else(|e| panic!("{e}"));
    let offsite = s3(&config, "offsite");
    let secret = offsite.secret_access_key.as_ref().unwrap();
    assert_eq!(secret.expose_secret(), "s3cret-key");
    assert_eq!(
        offsite,
        &S3Config {
            endpoint: Some("https://s3.example.com".to_owned()),
            bucket: "ferryman.backups-2".to_owned(),
            prefix: Some("Ferryman/prod_1/db-a.b".to_owned()),
            region: "eu-west-3".to_owned(),
            path_style: false,
            access_key_id: Some("AKIDEXAMPLE".to_owned()),
            secret_access_key: Some(secret.clone()),
            part_size_mib: 512,
            request_timeout: Duration::from_secs(3600),
            retry_timeout: Duration::from_secs(1),
        }
    );
    let nas = &config.repositories["nas"];
    assert_eq!(
        nas,
        &RepositoryConfig {
            name: "nas".to_owned(),
            kind: RepositoryKind::Local {
                path: dir.path().join("nas/ferryman"),
            },
            retention: RetentionOverrides {
                keep_daily: Some(30),
                keep_last: Some(0),
                ..RetentionOverrides::default()
            },
            encryption: None,
        }
    );
    assert!(config.repositories["offsite"].retention.is_empty());
    let merged = nas.retention.apply(&config.clusters[0].retention);
    assert_eq!((merged.keep_daily, merged.keep_last), (30, 0));
    assert_eq!(merged.keep_weekly, config.clusters[0].retention.keep_weekly);
    assert_eq!(
        nas.location(),
        dir.path().join("nas/ferryman").display().to_string()
    );
    assert_eq!(
        config.repositories.keys().collect::<Vec<_>>(),
        ["nas", "offsite"]
    );
    assert_eq!(
        config.clusters[0].backup_repositories,
        ["offsite", "local", "nas"]
    );
    let everything = format!("{config:?} {config:#?}");
    assert!(!everything.contains("s3cret-key"), "{everything}");
}

#[test]
fn absent_keys_take_their_defaults() {
    let config = parse(MINIMAL).unwrap();
    assert!(config.repositories.is_empty());
    assert_eq!(config.clusters[0].backup_repositories, ["local"]);

    let config = parse(&with_repository(BUCKET_ONLY)).unwrap_or_else(|e| panic!("{e}"));
    let offsite = s3(&config, "offsite");
    assert_eq!(
        offsite,
        &S3Config {
            endpoint: None,
            bucket: "ferryman-backups".to_owned(),
            prefix: None,
            region: "us-east-1".to_owned(),
            path_style: false,
            access_key_id: None,
            secret_access_key: None,
            part_size_mib: 8,
            request_timeout: Duration::from_secs(60),
            retry_timeout: Duration::from_secs(3 * 60),
        }
    );
    assert_eq!(
        (
            offsite.region.as_str(),
            offsite.part_size_mib,
            offsite.request_timeout,
            offsite.retry_timeout,
        ),
        (
            defaults::S3_REGION,
            defaults::S3_PART_SIZE_MIB,
            defaults::S3_REQUEST_TIMEOUT,
            defaults::S3_RETRY_TIMEOUT,
        )
    );
    assert_eq!(
        config.repositories["offsite"].location(),
        "s3://ferryman-backups"
    );
    // A repository no cluster names is still read.
    assert_eq!(config.clusters[0].backup_repositories, ["local"]);

    // path-style follows endpoint unless set.
    let endpoint = "endpoint = \"http://127.0.0.1:7480\"";
    let config = parse(&with_repository(&format!("{BUCKET_ONLY}\n{endpoint}"))).unwrap();
    assert!(s3(&config, "offsite").path_style);
    let text = with_repository(&format!("{BUCKET_ONLY}\n{endpoint}\npath-style = false"));
    assert!(!s3(&parse(&text).unwrap(), "offsite").path_style);
    let text = with_repository(&format!("{BUCKET_ONLY}\npath-style = true"));
    assert!(s3(&parse(&text).unwrap(), "offsite").path_style);
}

#[test]
fn the_key_pair_is_read_from_the_environment() {
    let text = with_repository(&format!(
        "{BUCKET_ONLY}\naccess-key-id-env = \"FERRYMAN_TEST_S3_KEY_ID\"\n\
         secret-access-key-env = \"FERRYMAN_TEST_S3_SECRET\""
    ));
    let config = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let offsite = s3(&config, "offsite");
    assert_eq!(offsite.access_key_id.as_deref(), Some(S3_KEY_ID));
    let secret = offsite.secret_access_key.as_ref().unwrap();
    assert_eq!(secret.expose_secret(), S3_SECRET);
    assert!(!format!("{config:?}").contains(S3_SECRET));
}

#[test]
fn unset_variables_are_warnings_of_the_check_and_errors_of_a_daemon() {
    let text = with_repository(&format!(
        "{BUCKET_ONLY}\naccess-key-id-env = \"FERRYMAN_TEST_UNSET_KEY_ID\"\n\
         secret-access-key-env = \"FERRYMAN_TEST_UNSET_SECRET\""
    ));
    env();
    let check = Check::parse(&text, Path::new(FILE));
    assert!(check.config.is_ok(), "{:?}", check.config);
    let warnings: Vec<String> = check.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "/etc/ferryman/ferryman.toml:12:21: environment variable `FERRYMAN_TEST_UNSET_KEY_ID` \
             (`repositories.offsite.access-key-id-env`) is not set here: the manager will need \
             it set to the S3 access key ID when it starts",
            "/etc/ferryman/ferryman.toml:13:25: environment variable `FERRYMAN_TEST_UNSET_SECRET` \
             (`repositories.offsite.secret-access-key-env`) is not set here: the manager will \
             need it set to the S3 secret access key when it starts",
        ]
    );
    assert_eq!(
        errors(&text),
        [
            "/etc/ferryman/ferryman.toml:12:21: environment variable `FERRYMAN_TEST_UNSET_KEY_ID` \
             (`repositories.offsite.access-key-id-env`) is not set: set it to the S3 access key \
             ID before starting ferryman, or fix `repositories.offsite.access-key-id-env`",
            "/etc/ferryman/ferryman.toml:13:25: environment variable `FERRYMAN_TEST_UNSET_SECRET` \
             (`secret-access-key-env`) is not set: export it before starting ferryman, or fix \
             `secret-access-key-env`",
        ]
    );
}

#[test]
fn a_secret_key_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("s3.secret");
    write_file(&secret, "s3cret-key\n", 0o644);
    let error = only_error(&with_repository(&format!(
        "{BUCKET_ONLY}\naccess-key-id = \"AKID\"\nsecret-access-key-file = {:?}",
        secret.display().to_string()
    )));
    assert_eq!(
        error,
        format!(
            "/etc/ferryman/ferryman.toml:13:26: S3 secret access key file `{path}` has mode 0644, \
             so group or others can access it: run `chmod 600 {path}`",
            path = secret.display()
        )
    );
    assert!(!error.contains("s3cret-key"), "{error}");
}

#[test]
fn half_a_key_pair_is_refused() {
    assert_eq!(
        only_error(&with_repository(&format!(
            "{BUCKET_ONLY}\naccess-key-id = \"AKID\""
        ))),
        "/etc/ferryman/ferryman.toml:12:17: `repositories.offsite` sets `access-key-id` but \
         neither `secret-access-key-file` nor `secret-access-key-env`: an S3 key pair needs both \
         halves: set one of them, or remove `access-key-id` to let the manager use its \
         AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment variables"
    );
    assert_eq!(
        only_error(&with_repository(&format!(
            "{BUCKET_ONLY}\nsecret-access-key-env = \"FERRYMAN_TEST_S3_SECRET\""
        ))),
        "/etc/ferryman/ferryman.toml:12:25: `repositories.offsite` sets `secret-access-key-env` \
         but neither `access-key-id` nor `access-key-id-env`: an S3 key pair needs both halves: \
         set one of them, or remove `secret-access-key-env` to let the manager use its \
         AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment variables"
    );
    assert_eq!(
        only_error(&with_repository(&format!(
            "{BUCKET_ONLY}\naccess-key-id = \"AKID\"\n\
             access-key-id-env = \"FERRYMAN_TEST_S3_KEY_ID\"\n\
             secret-access-key-env = \"FERRYMAN_TEST_S3_SECRET\""
        ))),
        "/etc/ferryman/ferryman.toml:13:21: `repositories.offsite` sets both `access-key-id` and \
         `access-key-id-env`: keep only one"
    );
}

#[test]
fn the_local_path_is_relative_to_the_config() {
    let text = with_repository("kind = \"local\"\npath = \"nas\"");
    let config = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.repositories["offsite"].kind,
        RepositoryKind::Local {
            path: PathBuf::from("/etc/ferryman/nas")
        }
    );
    assert_eq!(
        config.repositories["offsite"].location(),
        "/etc/ferryman/nas"
    );
}

#[test]
fn a_restic_repository_takes_its_location_and_a_password() {
    let dir = tempfile::tempdir().unwrap();
    write_file(&dir.path().join("restic.pw"), "correct horse\n", 0o600);
    let path = dir.path().join("ferryman.toml");
    let text = format!(
        "{}\n[repositories.archive]\nkind = \"restic\"\nrepository = \"archive/restic\"\n\
         password-file = \"restic.pw\"\n\n[repositories.far]\nkind = \"restic\"\n\
         repository = \"sftp:backup@vault:/srv/restic\"\npassword-env = \"FERRYMAN_TEST_S3_SECRET\"\n",
        MINIMAL
    );
    std::fs::write(&path, text).unwrap();
    let config = load(&path).unwrap_or_else(|e| panic!("{e}"));
    let RepositoryKind::Restic(archive) = &config.repositories["archive"].kind else {
        panic!("{:?}", config.repositories["archive"])
    };
    assert_eq!(
        archive.repository,
        dir.path().join("archive/restic").display().to_string()
    );
    assert_eq!(
        archive.password.as_ref().unwrap().expose_secret(),
        "correct horse"
    );
    assert_eq!(
        config.repositories["archive"].location(),
        format!("restic:{}", dir.path().join("archive/restic").display())
    );
    let RepositoryKind::Restic(far) = &config.repositories["far"].kind else {
        panic!()
    };
    assert_eq!(far.repository, "sftp:backup@vault:/srv/restic");
    assert_eq!(far.password.as_ref().unwrap().expose_secret(), S3_SECRET);
    assert!(!format!("{config:?}").contains("correct horse"));

    // Both keys are required; a key of another kind is named with its kind.
    assert_eq!(
        errors(&with_repository("kind = \"restic\"\nbucket = \"b-1\"")),
        [
            "/etc/ferryman/ferryman.toml:11:10: `repositories.offsite.bucket` is a key of \
             repositories with kind = \"s3\", but this one has kind = \"restic\": remove it, or \
             change `kind`",
            "/etc/ferryman/ferryman.toml:9:15: missing required key \
             `repositories.offsite.repository`: add it (see config/ferryman.example.toml)",
            "/etc/ferryman/ferryman.toml:9:15: missing required key \
             `repositories.offsite.password-file`: add it (see config/ferryman.example.toml)",
        ]
    );
}
