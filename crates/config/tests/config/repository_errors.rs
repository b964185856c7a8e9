//! The errors of `[repositories.NAME]` and of the clusters' `backup-repositories`: each
//! message in full, with its line and column.

use crate::repositories::{with_list_and_repository, with_repository, BUCKET_ONLY};
use crate::{errors, only_error, with_cluster_keys, MINIMAL};

#[test]
fn the_kind_is_required_and_one_of_two() {
    assert_eq!(
        only_error(&with_repository("kind = \"ftp\"\nbucket = \"b-1\"")),
        "/etc/ferryman/ferryman.toml:10:8: `repositories.offsite.kind` = \"ftp\" is not allowed \
         here: use one of: s3, local, restic"
    );
    assert_eq!(
        only_error(&with_repository("bucket = \"b-1\"")),
        "/etc/ferryman/ferryman.toml:9:15: missing required key `repositories.offsite.kind`: add \
         it (see config/ferryman.example.toml)"
    );
    // A kind of the wrong type is reported once, not missing too.
    let error = only_error(&with_repository("kind = 3\nbucket = \"b-1\""));
    assert!(
        error.starts_with(
            "/etc/ferryman/ferryman.toml:10:8: `repositories.offsite.kind` is the integer 3, but \
             it must be a string"
        ),
        "{error}"
    );
}

#[test]
fn required_keys_of_each_kind_are_named() {
    assert_eq!(
        only_error(&with_repository("kind = \"s3\"")),
        "/etc/ferryman/ferryman.toml:9:15: missing required key `repositories.offsite.bucket`: \
         add it (see config/ferryman.example.toml)"
    );
    assert_eq!(
        only_error(&with_repository("kind = \"local\"")),
        "/etc/ferryman/ferryman.toml:9:15: missing required key `repositories.offsite.path`: add \
         it (see config/ferryman.example.toml)"
    );
}

#[test]
fn keys_of_the_other_kind_name_the_kind_that_takes_them() {
    assert_eq!(
        errors(&with_repository(
            "kind = \"local\"\npath = \"/mnt/nas\"\nbucket = \"b-1\"\nsecret-access-key-env = \"X\""
        )),
        [
            "/etc/ferryman/ferryman.toml:12:10: `repositories.offsite.bucket` is a key of \
             repositories with kind = \"s3\", but this one has kind = \"local\": remove it, or \
             change `kind`",
            "/etc/ferryman/ferryman.toml:13:25: `repositories.offsite.secret-access-key-env` is a \
             key of repositories with kind = \"s3\", but this one has kind = \"local\": remove it, \
             or change `kind`",
        ]
    );
    assert_eq!(
        only_error(&with_repository(&format!(
            "{BUCKET_ONLY}\npath = \"/mnt/nas\""
        ))),
        "/etc/ferryman/ferryman.toml:12:8: `repositories.offsite.path` is a key of repositories \
         with kind = \"local\", but this one has kind = \"s3\": remove it, or change `kind`"
    );
}

#[test]
fn a_bad_bucket_name_says_what_s3_allows() {
    let error = |bucket: &str| {
        only_error(&with_repository(&format!(
            "kind = \"s3\"\nbucket = {bucket:?}"
        )))
    };
    assert_eq!(
        error("Ferryman_Backups"),
        "/etc/ferryman/ferryman.toml:11:10: `repositories.offsite.bucket` = \"Ferryman_Backups\" \
         is not a valid S3 bucket name (`F` is not allowed): use 3 to 63 characters from a-z, \
         0-9, `.` and `-`, starting and ending with a letter or a digit, e.g. \
         \"ferryman-backups\""
    );
    for (bucket, reason) in [
        ("ab", "(it has 2 characters)"),
        (
            "backups-",
            "(it must start and end with a letter or a digit)",
        ),
        ("a..b", "(it has two `.` in a row)"),
        ("10.0.0.1", "(it is formatted as an IP address)"),
    ] {
        let error = error(bucket);
        assert!(error.contains(reason), "{error}");
    }
    assert_eq!(
        error(""),
        "/etc/ferryman/ferryman.toml:11:10: `repositories.offsite.bucket` is empty: set it to a \
         non-empty value, or remove it to use the default"
    );
}

#[test]
fn a_bad_endpoint_says_how_to_write_one() {
    let error = |endpoint: &str| {
        only_error(&with_repository(&format!(
            "{BUCKET_ONLY}\nendpoint = {endpoint:?}"
        )))
    };
    assert_eq!(
        error("http://127.0.0.1:7480/ferryman"),
        "/etc/ferryman/ferryman.toml:12:12: `repositories.offsite.endpoint` = \
         \"http://127.0.0.1:7480/ferryman\" is not an S3 endpoint (it has the path `/ferryman`): \
         write it as \"http://host:port\" or \"https://host\", without a path or query; remove it \
         to use AWS"
    );
    for (endpoint, reason) in [
        ("127.0.0.1:7480", "(it must start with http:// or https://)"),
        ("https://s3.example.com?x=1", "(it has a query)"),
        (
            "http://host:99999",
            "(`99999` is not a port from 1 to 65535)",
        ),
        ("http://", "(the host is missing)"),
    ] {
        let error = error(endpoint);
        assert!(error.contains(reason), "{error}");
    }
}

#[test]
fn a_bad_prefix_says_how_to_write_one() {
    let error = |prefix: &str| {
        only_error(&with_repository(&format!(
            "{BUCKET_ONLY}\nprefix = {prefix:?}"
        )))
    };
    assert_eq!(
        error("/ferryman/prod"),
        "/etc/ferryman/ferryman.toml:12:10: `repositories.offsite.prefix` = \"/ferryman/prod\" is \
         not a valid prefix (it starts or ends with `/`): write names of A-Z, a-z, 0-9, `_`, `.` \
         and `-` (not starting with `.`) separated by single `/`, without a `/` at either end, at \
         most 512 bytes, e.g. \"ferryman/prod\""
    );
    for (prefix, reason) in [
        ("ferryman//prod", "(it has `//`)"),
        ("ferryman/.hidden", "(`.hidden` starts with `.`)"),
        ("ferryman prod", "(` ` is not allowed)"),
    ] {
        let error = error(prefix);
        assert!(error.contains(reason), "{error}");
    }
    let long = format!("{}/x", "a".repeat(511));
    assert!(error(&long).contains("(it is 513 bytes long)"));
}

#[test]
fn values_out_of_range_name_the_range() {
    let text = with_repository(&format!(
        "{BUCKET_ONLY}\npart-size = 4\nrequest-timeout = \"2h\"\nretry-timeout = \"500ms\"\n\
         region = \"us east\""
    ));
    assert_eq!(
        errors(&text),
        [
            "/etc/ferryman/ferryman.toml:15:10: `repositories.offsite.region`: \"us east\" is not \
             a region: use 1 to 64 characters from A-Z, a-z, 0-9, `_`, `.` and `-`, e.g. \
             \"us-east-1\": fix the value; every key is documented in \
             config/ferryman.example.toml",
            "/etc/ferryman/ferryman.toml:12:13: `repositories.offsite.part-size` = 4 is out of \
             range: use a number from 5 to 512",
            "/etc/ferryman/ferryman.toml:13:19: `repositories.offsite.request-timeout` = \"2h\" is \
             out of range: use a duration from 1s to 1h",
            "/etc/ferryman/ferryman.toml:14:17: `repositories.offsite.retry-timeout` = \"500ms\" \
             is out of range: use a duration from 1s to 1h",
        ]
    );
    let text = with_repository(&format!("{BUCKET_ONLY}\nbackup-keep-daily = 100001"));
    assert_eq!(
        errors(&text),
        [
            "/etc/ferryman/ferryman.toml:12:21: `repositories.offsite.backup-keep-daily` = 100001 \
          is out of range: use a number from 0 to 100000"
        ]
    );
}

#[test]
fn a_misspelt_key_names_the_key_meant() {
    assert_eq!(
        only_error(&with_repository(
            "kind = \"s3\"\nbucket = \"b-1\"\npath_style = true"
        )),
        "/etc/ferryman/ferryman.toml:12:1: unknown key `path_style` in [repositories.offsite]: \
         did you mean `path-style`?"
    );
}

#[test]
fn the_name_local_is_reserved() {
    let text = format!("{MINIMAL}\n[repositories.local]\nkind = \"local\"\npath = \"/mnt/nas\"\n");
    assert_eq!(
        only_error(&text),
        "/etc/ferryman/ferryman.toml:9:15: `[repositories.local]`: the name `local` is reserved \
         for the manager's own repository in `manager.monitoring-datadir`, which needs no table: \
         give this repository another name (and use it in the clusters' `backup-repositories`)"
    );
    let text = format!("{MINIMAL}\n[repositories.\"bad name\"]\n{BUCKET_ONLY}\n");
    assert_eq!(
        only_error(&text),
        "/etc/ferryman/ferryman.toml:9:15: repository name `bad name` is not valid: use 1 to 64 \
         characters from A-Z, a-z, 0-9, `_`, `.` and `-`"
    );
}

#[test]
fn backup_repositories_must_name_defined_repositories() {
    assert_eq!(
        only_error(&with_list_and_repository(
            "[\"local\", \"ofsite\"]",
            BUCKET_ONLY
        )),
        "/etc/ferryman/ferryman.toml:4:33: `clusters.prod.backup-repositories` names `ofsite`, \
         which is not a repository: use one of: local, offsite (`local` is the manager's own, in \
         `manager.monitoring-datadir`), or add a [repositories.ofsite] table"
    );
    assert_eq!(
        only_error(&with_cluster_keys("backup-repositories = [\"offsite\"]")),
        "/etc/ferryman/ferryman.toml:4:24: `clusters.prod.backup-repositories` names `offsite`, \
         which is not a repository: use one of: local (`local` is the manager's own, in \
         `manager.monitoring-datadir`), or add a [repositories.offsite] table"
    );
    // A table with errors is still a name, not reported unknown too.
    let text = with_list_and_repository("[\"offsite\"]", "kind = \"ftp\"");
    let error = only_error(&text);
    assert!(
        error.contains("is not allowed here: use one of: s3, local, restic"),
        "{error}"
    );
}

#[test]
fn backup_repositories_lists_each_once_and_at_least_one() {
    assert_eq!(
        only_error(&with_list_and_repository(
            "[\"offsite\", \"local\", \"offsite\"]",
            BUCKET_ONLY
        )),
        "/etc/ferryman/ferryman.toml:4:44: `clusters.prod.backup-repositories` lists `offsite` \
         twice: remove the duplicate"
    );
    assert_eq!(
        only_error(&with_cluster_keys("backup-repositories = []")),
        "/etc/ferryman/ferryman.toml:4:23: `clusters.prod.backup-repositories` is empty: list at \
         least one repository, e.g. [\"local\"]; the first stores the cluster's backups, the \
         others receive copies"
    );
}
