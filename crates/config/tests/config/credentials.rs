//! Passwords and the API token from files and the environment, and their redaction.

use std::path::Path;

use ferryman_config::{ConfigError, Secret, SecretKind};

use crate::{
    load, only_error, parse, write_file, API_TOKEN, DB_PASSWORD, EMPTY_VAR, EXAMPLE, MINIMAL,
    REPL_PASSWORD,
};

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

#[test]
fn an_empty_password_env_is_refused() {
    let text = MINIMAL.replace(
        "{ user = \"repl\" }",
        &format!("{{ user = \"repl\", password-env = \"{EMPTY_VAR}\" }}"),
    );
    assert_eq!(
        only_error(&text),
        format!(
            "/etc/ferryman/ferryman.toml:3:58: environment variable `{EMPTY_VAR}` \
             (`password-env`) is empty: set it to the password, or remove `password-env` to \
             connect without a password"
        )
    );
}

/// `[manager]` with `keys`, then the minimal file.
fn with_manager_keys(keys: &str) -> String {
    format!("[manager]\n{keys}\n{MINIMAL}")
}

#[test]
fn the_api_token_is_read_from_a_0600_file_relative_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    write_file(&dir.path().join("api.token"), "t0ken\n", 0o600);
    let path = dir.path().join("ferryman.toml");
    std::fs::write(&path, with_manager_keys("api-token-file = \"api.token\"")).unwrap();
    let config = load(&path).unwrap_or_else(|e| panic!("{e}"));
    let token = config.manager.api_token.as_ref().unwrap();
    assert_eq!(token.expose_secret(), "t0ken");
    let everything = format!("{config:?} {config:#?}");
    assert!(!everything.contains("t0ken"), "{everything}");
}

#[test]
fn the_api_token_is_read_from_the_environment() {
    let config = parse(&with_manager_keys("api-token-env = \"FERRYMAN_API_TOKEN\""))
        .unwrap_or_else(|e| panic!("{e}"));
    let token = config.manager.api_token.as_ref().unwrap();
    assert_eq!(token.expose_secret(), API_TOKEN);
    assert!(!format!("{:?}", config.manager).contains(API_TOKEN));
}

#[test]
fn the_api_token_cannot_have_both_sources() {
    let text = with_manager_keys(
        "api-token-file = \"/etc/ferryman/api.token\"\napi-token-env = \"FERRYMAN_API_TOKEN\"",
    );
    let errors = parse(&text).unwrap_err();
    assert!(
        matches!(
            errors.errors(),
            [ConfigError::BothSecretSources {
                kind: SecretKind::ApiToken,
                ..
            }]
        ),
        "{errors:#?}"
    );
    assert_eq!(
        errors.to_string(),
        "/etc/ferryman/ferryman.toml:3:17: `manager` sets both `api-token-file` and \
         `api-token-env`: keep only one"
    );
}

#[test]
fn an_api_token_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("api.token");
    write_file(&token, "t0ken\n", 0o644);
    let error = only_error(&with_manager_keys(&format!(
        "api-token-file = {:?}",
        token.display().to_string()
    )));
    assert_eq!(
        error,
        format!(
            "/etc/ferryman/ferryman.toml:2:18: API token file `{path}` has mode 0644, so group or \
             others can access it: run `chmod 600 {path}`",
            path = token.display()
        )
    );
    assert!(!error.contains("t0ken"), "{error}");
}

#[test]
fn an_empty_or_missing_api_token_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("api.token");
    write_file(&token, "\n", 0o600);
    let missing = dir.path().join("nope.token");
    let text = with_manager_keys(&format!(
        "api-token-file = {:?}",
        token.display().to_string()
    ));
    assert_eq!(
        only_error(&text),
        format!(
            "/etc/ferryman/ferryman.toml:2:18: API token file `{}` is empty: write the API token \
             into it, or remove `api-token-file` to let the manager generate a token at first \
             start",
            token.display()
        )
    );
    let error = only_error(&with_manager_keys(&format!(
        "api-token-file = {:?}",
        missing.display().to_string()
    )));
    assert!(
        error.ends_with("create the file with mode 0600 or fix `api-token-file`"),
        "{error}"
    );
    assert_eq!(
        only_error(&with_manager_keys(&format!(
            "api-token-env = \"{EMPTY_VAR}\""
        ))),
        format!(
            "/etc/ferryman/ferryman.toml:2:17: environment variable `{EMPTY_VAR}` \
             (`api-token-env`) is empty: set it to the API token, or remove `api-token-env` to \
             let the manager generate a token at first start"
        )
    );
    assert_eq!(
        only_error(&with_manager_keys(
            "api-token-env = \"FERRYMAN_TEST_SURELY_UNSET\""
        )),
        "/etc/ferryman/ferryman.toml:2:17: environment variable `FERRYMAN_TEST_SURELY_UNSET` \
         (`api-token-env`) is not set: export it before starting ferryman, or fix \
         `api-token-env`"
    );
    assert_eq!(
        only_error(&with_manager_keys("api-token-file = \"\"")),
        "/etc/ferryman/ferryman.toml:2:18: `manager.api-token-file` is empty: set it to a \
         non-empty value, or remove it to use the default"
    );
}
