//! The `age-*` keys of `[repositories.NAME]`: encryption at rest, its recipients and identity,
//! and their errors (each message in full, never with a secret key's text).

use std::path::Path;

use age::secrecy::ExposeSecret;
use age::x25519::Identity;
use ferryman_config::{parse_identities, Config};

use crate::repositories::{with_list_and_repository, with_repository, BUCKET_ONLY};
use crate::{errors, load, only_error, parse, write_file};

/// A new identity, as `age-keygen` writes it, and its public key.
fn keygen() -> (String, String) {
    let identity = Identity::generate();
    let public = identity.to_public().to_string();
    let text = format!(
        "# created: 2026-12-04T00:00:00Z\n# public key: {public}\n{}\n",
        identity.to_string().expose_secret()
    );
    (text, public)
}

/// Loads `[repositories.offsite]` with `keys`, with the identity file `offsite.key` (mode
/// 0600) holding `identity` beside the config.
fn load_with_identity(identity: &str, keys: &str) -> Result<Config, Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    write_file(&dir.path().join("offsite.key"), identity, 0o600);
    let path = dir.path().join("ferryman.toml");
    std::fs::write(&path, with_repository(&format!("{BUCKET_ONLY}\n{keys}"))).unwrap();
    load(&path).map_err(|e| e.errors().iter().map(ToString::to_string).collect())
}

#[test]
fn an_identity_alone_encrypts_for_its_own_public_key_and_is_never_shown() {
    let (identity, public) = keygen();
    let config = load_with_identity(&identity, "age-identity-file = \"offsite.key\"").unwrap();
    let encryption = config.repositories["offsite"].encryption.as_ref().unwrap();
    assert_eq!(encryption.recipients, [public]);
    let secret = encryption.identity.as_ref().unwrap();
    assert_eq!(parse_identities(secret.expose_secret()).unwrap().len(), 1);
    let source = encryption.identity_source.as_deref().unwrap();
    assert!(
        source.starts_with("file /") && source.ends_with("/offsite.key"),
        "{source}"
    );
    let everything = format!("{config:?} {config:#?}");
    assert!(!everything.contains("AGE-SECRET-KEY"), "{everything}");
}

#[test]
fn recipients_alone_make_a_write_only_repository() {
    let (_, a) = keygen();
    let (_, b) = keygen();
    // Duplicates are dropped, the order is kept.
    let text = with_repository(&format!(
        "{BUCKET_ONLY}\nage-recipients = [\"{b}\", \"{a}\", \"{b}\"]"
    ));
    let config = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let encryption = config.repositories["offsite"].encryption.as_ref().unwrap();
    assert_eq!(encryption.recipients, [b, a]);
    assert!(encryption.identity.is_none() && encryption.identity_source.is_none());
    // Without any age key, nothing is encrypted.
    let config = parse(&with_repository(BUCKET_ONLY)).unwrap();
    assert!(config.repositories["offsite"].encryption.is_none());
}

#[test]
fn an_identity_must_be_among_the_recipients_it_is_given_with() {
    let (identity, public) = keygen();
    let (_, other) = keygen();
    let keys = format!(
        "age-identity-file = \"offsite.key\"\nage-recipients = [\"{other}\", \"{public}\"]"
    );
    let config = load_with_identity(&identity, &keys).unwrap();
    let encryption = config.repositories["offsite"].encryption.as_ref().unwrap();
    assert_eq!(encryption.recipients, [other.clone(), public.clone()]);

    let keys = format!("age-identity-file = \"offsite.key\"\nage-recipients = [\"{other}\"]");
    let errors = load_with_identity(&identity, &keys).unwrap_err();
    let [error] = &errors[..] else {
        panic!("{errors:#?}")
    };
    assert!(
        error.contains(":12:21: the age identity in file /"),
        "{error}"
    );
    assert!(
        error.ends_with(&format!(
            "/offsite.key (public key {public}) is not among \
             `repositories.offsite.age-recipients`: the manager would store backups it cannot \
             read back: add its public key to `repositories.offsite.age-recipients`, or remove \
             the identity to keep the repository write-only"
        )),
        "{error}"
    );
}

#[test]
fn a_bad_identity_is_named_by_its_line_never_shown() {
    let (identity, _) = keygen();
    let damaged = identity.replace("AGE-SECRET-KEY-1", "AGE-SECRET-KEY-9");
    let errors = load_with_identity(&damaged, "age-identity-file = \"offsite.key\"").unwrap_err();
    let [error] = &errors[..] else {
        panic!("{errors:#?}")
    };
    assert!(
        error.contains(
            ":12:21: the age identity of `repositories.offsite.age-identity-file`/\
             `repositories.offsite.age-identity-env` (file /"
        ),
        "{error}"
    );
    assert!(
        error.ends_with(
            "/offsite.key) cannot be used: line 3 is not an age X25519 secret key (invalid \
             Bech32 encoding); such a line starts with AGE-SECRET-KEY-1: make one with \
             `age-keygen -o FILE` and `chmod 600 FILE`, and keep a copy of it away from the \
             manager (without it the backups cannot be read)"
        ),
        "{error}"
    );
    assert!(!error.contains("AGE-SECRET-KEY-9"), "{error}");

    let errors =
        load_with_identity("# nothing\n", "age-identity-file = \"offsite.key\"").unwrap_err();
    assert!(
        errors[0].contains("cannot be used: it holds no AGE-SECRET-KEY-1 line"),
        "{errors:#?}"
    );
}

#[test]
fn an_identity_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (identity, _) = keygen();
    let key = dir.path().join("offsite.key");
    write_file(&key, &identity, 0o644);
    let path = dir.path().join("ferryman.toml");
    let text = with_repository(&format!(
        "{BUCKET_ONLY}\nage-identity-file = \"offsite.key\""
    ));
    std::fs::write(&path, text).unwrap();
    let errors = Config::load(Path::new(&path)).unwrap_err();
    let error = errors.errors()[0].to_string();
    assert!(
        error.ends_with(&format!(
            ":12:21: age identity file `{}` has mode 0644, so group or others can access it: \
             run `chmod 600 {}`",
            key.display(),
            key.display()
        )),
        "{error}"
    );
}

#[test]
fn recipients_must_be_age_public_keys() {
    assert_eq!(
        errors(&with_repository(&format!(
            "{BUCKET_ONLY}\nage-recipients = [\"ssh-ed25519 AAAA\"]"
        ))),
        [
            "/etc/ferryman/ferryman.toml:12:19: `repositories.offsite.age-recipients` lists \
          \"ssh-ed25519 AAAA\", which is not an age public key (invalid Bech32 encoding): write \
          the `age1...` line that `age-keygen` prints as \"Public key\" (`age-keygen -y KEYFILE` \
          prints it again from the key file)"
        ]
    );
    assert!(only_error(&with_repository(&format!(
        "{BUCKET_ONLY}\nage-recipients = []"
    )))
    .starts_with("/etc/ferryman/ferryman.toml:12:18: `repositories.offsite.age-recipients`"),);
}

#[test]
fn a_write_only_repository_cannot_be_a_clusters_first() {
    let (_, public) = keygen();
    let keys = format!("{BUCKET_ONLY}\nage-recipients = [\"{public}\"]");
    let error = only_error(&with_list_and_repository("[\"offsite\", \"local\"]", &keys));
    assert_eq!(
        error,
        "/etc/ferryman/ferryman.toml:4:24: `clusters.prod.backup-repositories` starts with \
         `offsite`, which is write-only (age-recipients without age-identity-file): the first \
         repository stores the backups and the manager reads them back from it to verify, copy \
         and reseed: give [repositories.offsite] an `age-identity-file`, or list a readable \
         repository first"
    );
    // After a readable one, it receives copies.
    let config = parse(&with_list_and_repository("[\"local\", \"offsite\"]", &keys)).unwrap();
    assert_eq!(config.clusters[0].backup_repositories, ["local", "offsite"]);
}
