//! `config check`: a secret missing where the file is checked is a warning of what the daemons
//! will need, while the daemons' loading still refuses it.

use std::path::Path;

use ferryman_config::{Check, Config, ConfigWarning, SecretKind};

use crate::{env, write_file, EXAMPLE, FILE, MINIMAL};

/// `LINE:COL` of the first `needle` in `text`.
fn line_col(text: &str, needle: &str) -> String {
    let offset = text.find(needle).unwrap();
    let line = text[..offset].matches('\n').count() + 1;
    let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("{line}:{column}")
}

/// The example with its password variables renamed to ones no test sets.
fn example_without_its_variables() -> String {
    let example = std::fs::read_to_string(EXAMPLE).unwrap();
    let text = example
        .replace("\"FERRYMAN_DB_PASSWORD\"", "\"FERRYMAN_TEST_UNSET_DB\"")
        .replace("\"FERRYMAN_REPL_PASSWORD\"", "\"FERRYMAN_TEST_UNSET_REPL\"");
    assert_ne!(text, example);
    text
}

#[test]
fn the_example_checks_clean_without_its_environment_with_warnings() {
    env();
    let text = example_without_its_variables();
    let (db, repl) = (
        line_col(&text, "\"FERRYMAN_TEST_UNSET_DB"),
        line_col(&text, "\"FERRYMAN_TEST_UNSET_REPL"),
    );
    let check = Check::parse(&text, Path::new(EXAMPLE));
    let config = check.config.unwrap_or_else(|e| panic!("{e}"));
    let prod = config.cluster("prod").unwrap();
    assert_eq!(prod.db_servers_credential.password, None);
    let warnings: Vec<String> = check.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            format!(
                "{EXAMPLE}:{db}: environment variable `FERRYMAN_TEST_UNSET_DB` \
                 (`clusters.prod.db-servers-credential.password-env`) is not set here: the \
                 manager and the agents will need it set to the password when they start"
            ),
            format!(
                "{EXAMPLE}:{repl}: environment variable `FERRYMAN_TEST_UNSET_REPL` \
                 (`clusters.prod.replication-credential.password-env`) is not set here: the \
                 manager and the agents will need it set to the password when they start"
            ),
        ]
    );
    assert!(matches!(
        check.warnings[0],
        ConfigWarning::SecretEnvUnset {
            kind: SecretKind::Password,
            ..
        }
    ));
}

#[test]
fn a_daemon_still_refuses_the_secrets_the_check_only_warns_of() {
    env();
    let text = example_without_its_variables();
    let (db, repl) = (
        line_col(&text, "\"FERRYMAN_TEST_UNSET_DB"),
        line_col(&text, "\"FERRYMAN_TEST_UNSET_REPL"),
    );
    let errors = Config::parse(&text, Path::new(EXAMPLE))
        .unwrap_err()
        .to_string();
    assert_eq!(
        errors,
        format!(
            "{EXAMPLE}:{db}: environment variable `FERRYMAN_TEST_UNSET_DB` (`password-env`) is \
             not set: export it before starting ferryman, or fix `password-env`\n\
             {EXAMPLE}:{repl}: environment variable `FERRYMAN_TEST_UNSET_REPL` (`password-env`) \
             is not set: export it before starting ferryman, or fix `password-env`"
        )
    );
}

#[test]
fn a_missing_secret_file_is_a_warning_but_a_bad_one_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferryman.toml");
    let text = MINIMAL
        .replace(
            "{ user = \"repl\" }",
            "{ user = \"repl\", password-file = \"repl.pass\" }",
        )
        .replace(
            "[clusters.prod]",
            "[manager]\napi-token-file = \"api.token\"\n[clusters.prod]",
        );
    std::fs::write(&path, &text).unwrap();
    let check = Check::load(&path);
    assert!(check.config.is_ok(), "{:?}", check.config);
    let warnings: Vec<String> = check.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            format!(
                "{}:2:18: API token file `{}` (`manager.api-token-file`) cannot be read here: No \
                 such file or directory (os error 2): the manager and the CLI's commands will \
                 need it readable by the user they run as, with mode 0600",
                path.display(),
                dir.path().join("api.token").display()
            ),
            format!(
                "{}:5:59: password file `{}` (`clusters.prod.replication-credential.password-file`) \
                 cannot be read here: No such file or directory (os error 2): the manager and the \
                 agents will need it readable by the user they run as, with mode 0600",
                path.display(),
                dir.path().join("repl.pass").display()
            ),
        ]
    );
    assert_eq!(Config::load(&path).unwrap_err().errors().len(), 2);

    // A file that is there is read and checked as the daemons would.
    write_file(&dir.path().join("repl.pass"), "secret\n", 0o644);
    write_file(&dir.path().join("api.token"), "token\n", 0o600);
    let check = Check::load(&path);
    assert!(check.warnings.is_empty(), "{:?}", check.warnings);
    let errors = check.config.unwrap_err().to_string();
    assert!(errors.contains("has mode 0644"), "{errors}");
}

#[test]
fn errors_and_warnings_come_together() {
    let text = MINIMAL
        .replace(
            "{ user = \"repl\" }",
            "{ user = \"repl\", password-env = \"FERRYMAN_TEST_UNSET_REPL\" }",
        )
        .replace("name = \"db1\"", "name = \"db1\"\nport = \"3306\"");
    let check = Check::parse(&text, Path::new(FILE));
    assert_eq!(check.warnings.len(), 1, "{:?}", check.warnings);
    let errors = check.config.unwrap_err();
    assert_eq!(errors.errors().len(), 1, "{errors}");
    assert!(errors
        .to_string()
        .contains("`clusters.prod.servers[0].port` is the string"));
}

#[test]
fn an_unreadable_config_is_an_error_of_the_check() {
    let check = Check::load(Path::new("/nonexistent/ferryman.toml"));
    assert!(check.warnings.is_empty());
    let errors = check.config.unwrap_err().to_string();
    assert!(errors.contains("cannot read the config file"), "{errors}");
}
