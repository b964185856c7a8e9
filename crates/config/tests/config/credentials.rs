//! Passwords from files and the environment, and their redaction.

use std::path::Path;

use ferryman_config::Secret;

use crate::{load, only_error, write_file, DB_PASSWORD, EXAMPLE, MINIMAL, REPL_PASSWORD};

#[test]
fn a_missing_password_file_names_the_line_and_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferryman.toml");
    let text = MINIMAL.replace(
        "{ user = \"repl\" }",
        "{ user = \"repl\", password-file = \"secrets/repl.pass\" }",
    );
    std::fs::write(&path, text).unwrap();
    let errors = load(&path).unwrap_err();
    let [error] = errors.errors() else {
        panic!("{errors}")
    };
    let missing = dir.path().join("secrets/repl.pass");
    assert_eq!(
        error.to_string(),
        format!(
            "{}:3:59: password file `{}` cannot be read: No such file or directory (os error 2): \
             create the file with mode 0600 or fix `password-file`",
            path.display(),
            missing.display()
        )
    );
}

#[test]
fn a_password_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("db.pass");
    write_file(&pass, "s3cret\n", 0o644);
    let text = MINIMAL.replace(
        "{ user = \"ferryman\" }",
        &format!(
            "{{ user = \"ferryman\", password-file = {:?} }}",
            pass.display().to_string()
        ),
    );
    let error = only_error(&text);
    assert!(
        error.starts_with("/etc/ferryman/ferryman.toml:2:62: password file `"),
        "{error}"
    );
    assert!(error.contains("has mode 0644"), "{error}");
    assert!(
        error.ends_with(&format!("run `chmod 600 {}`", pass.display())),
        "{error}"
    );
    assert!(!error.contains("s3cret"), "{error}");
}

#[test]
fn a_password_file_loses_one_trailing_newline_and_is_relative_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    write_file(&dir.path().join("db.pass"), "s3cret \r\n", 0o600);
    write_file(&dir.path().join("repl.pass"), "line1\nline2\n\n", 0o400);
    let text = MINIMAL
        .replace(
            "{ user = \"ferryman\" }",
            "{ user = \"ferryman\", password-file = \"db.pass\" }",
        )
        .replace(
            "{ user = \"repl\" }",
            "{ user = \"repl\", password-file = \"repl.pass\" }",
        );
    let path = dir.path().join("ferryman.toml");
    std::fs::write(&path, text).unwrap();
    let config = load(&path).unwrap_or_else(|e| panic!("{e}"));
    let prod = &config.clusters[0];
    let password =
        |c: &ferryman_config::Credential| c.password.as_ref().unwrap().expose_secret().to_owned();
    assert_eq!(password(&prod.db_servers_credential), "s3cret ");
    assert_eq!(password(&prod.replication_credential), "line1\nline2\n");
}

#[test]
fn a_credential_cannot_have_both_password_sources() {
    let text = MINIMAL.replace(
        "{ user = \"repl\" }",
        "{ user = \"repl\", password-file = \"/x\", password-env = \"FERRYMAN_REPL_PASSWORD\" }",
    );
    assert_eq!(
        only_error(&text),
        "/etc/ferryman/ferryman.toml:3:80: `clusters.prod.replication-credential` sets both \
         `password-file` and `password-env`: keep only one"
    );
}

#[test]
fn an_unset_password_env_is_named() {
    let text = MINIMAL.replace(
        "{ user = \"repl\" }",
        "{ user = \"repl\", password-env = \"FERRYMAN_TEST_SURELY_UNSET\" }",
    );
    assert_eq!(
        only_error(&text),
        "/etc/ferryman/ferryman.toml:3:58: environment variable `FERRYMAN_TEST_SURELY_UNSET` \
         (`password-env`) is not set: export it before starting ferryman, or fix `password-env`"
    );
}

#[test]
fn passwords_never_print() {
    let config = load(Path::new(EXAMPLE)).unwrap();
    let credential = &config.clusters[0].db_servers_credential;
    let debug = format!("{credential:?}");
    assert!(
        debug.contains("ferryman") && debug.contains("[SECRET]"),
        "{debug}"
    );
    assert!(!debug.contains(DB_PASSWORD), "{debug}");
    let everything = format!("{config:?} {config:#?}");
    assert!(!everything.contains(DB_PASSWORD) && !everything.contains(REPL_PASSWORD));
    let secret = Secret::new("hunter2".to_owned());
    assert_eq!(format!("{secret}"), "[SECRET]");
    assert_eq!(format!("{secret:?}"), "[SECRET]");
}
