//! Encryption at rest: an encrypted repository stores only age files, records the cipher and
//! the public keys (never a secret), reads back with its identity, refuses a wrong or missing
//! key by name, never hands out a tampered chunk, re-encrypts copies between repositories of
//! other keys, and can be read by hand with `age -d` and `zstd -d`.

use age::secrecy::ExposeSecret;
use age::x25519::Identity;
use ferryman_config::{EncryptionConfig, Secret};
use ferryman_exec::Program;
use ferryman_repo::{CopyCheck, Error, Keys, LogKind, LogMeta, ReadData, Repository, Tool};

use crate::*;

/// Keys of repository `offsite`: encrypting for `recipients`, decrypting with `identity`.
fn keys(identity: Option<&Identity>, recipients: &[&Identity]) -> Keys {
    let config = EncryptionConfig {
        recipients: recipients
            .iter()
            .map(|i| i.to_public().to_string())
            .collect(),
        identity: identity.map(|i| Secret::new(i.to_string().expose_secret().to_owned())),
        identity_source: identity.map(|_| "file /etc/ferryman/offsite.key".to_owned()),
    };
    Keys::from_config("offsite", &config).unwrap()
}

/// A repository in `dir` with `keys`.
fn encrypted(dir: &Path, keys: Keys) -> Repository {
    Repository::open(dir).unwrap().with_keys(keys)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_encrypted_backup_reads_back_and_records_how_it_is_encrypted() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Identity::generate();
    let public = key.to_public().to_string();
    let repo = encrypted(&tmp.path().join("r"), keys(Some(&key), &[&key]));
    let data = dump(30_000, true);
    let m = ingest(
        &repo,
        meta(Tool::Mysqldump, 7, "2026-12-04T02:00:00Z"),
        &data,
    )
    .await
    .unwrap();
    let encryption = m.encryption.as_ref().unwrap();
    assert_eq!(
        (encryption.cipher.as_str(), &encryption.recipients[..]),
        ("age", &[public.clone()][..])
    );
    assert_eq!(
        (m.format_version, m.payload.as_str()),
        (2, "payload.sql.zst.age")
    );
    // The coordinates and the dump's facts are read before encryption, as always.
    assert_eq!(m.gtid.as_deref(), Some("0-1-50"));
    assert_eq!(m.raw_sha256, sha(&data));

    let stored = std::fs::read(root(&repo).join(m.payload_key().as_str())).unwrap();
    assert!(stored.starts_with(b"age-encryption.org/v1\n"));
    assert_eq!(stored.len() as u64, m.stored_bytes);
    assert_eq!(sha(&stored), m.stored_sha256);
    let manifest = std::fs::read_to_string(root(&repo).join(m.id.manifest_key().as_str())).unwrap();
    assert!(
        manifest.contains(&public) && !manifest.contains("AGE-SECRET-KEY"),
        "{manifest}"
    );

    assert_eq!(sha(&payload(&repo, &m.id).await), sha(&data));
    let report = repo.verify_checksum(&m.id).await.unwrap();
    assert!(
        report.is_ok() && !report.at_rest_only,
        "{}",
        report.summary()
    );
    // Listed like any backup, by a repository opened afresh with the same keys.
    let again = encrypted(&tmp.path().join("r"), keys(Some(&key), &[&key]));
    assert_eq!(
        again.list(None, None).await.unwrap(),
        std::slice::from_ref(&m)
    );
    let check = again.check(ReadData::All, false).await.unwrap();
    assert!(check.is_ok() && check.read_backups == 1, "{check:?}");

    // By hand, with the key file and standard tools only (README: restoring without
    // Ferryman).
    let key_file = tmp.path().join("offsite.key");
    std::fs::write(&key_file, format!("{}\n", key.to_string().expose_secret())).unwrap();
    let zst = tmp.path().join("payload.sql.zst");
    let sql = tmp.path().join("payload.sql");
    let age = Program::find("age", "age").unwrap();
    age.command()
        .arg("-d")
        .arg("-i")
        .arg(&key_file)
        .arg("-o")
        .arg(&zst)
        .arg(root(&repo).join(m.payload_key().as_str()))
        .run()
        .await
        .unwrap();
    let zstd = Program::find("zstd", "zstd").unwrap();
    zstd.command()
        .args(["-q", "-d", "-o"])
        .arg(&sql)
        .arg(&zst)
        .run()
        .await
        .unwrap();
    assert_eq!(sha(&std::fs::read(&sql).unwrap()), m.raw_sha256);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_or_missing_key_is_named_and_a_write_only_repository_is_checked_at_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, other) = (Identity::generate(), Identity::generate());
    let dir = tmp.path().join("r");
    // Write-only: the manager holds the public key alone.
    let write_only = encrypted(&dir, keys(None, &[&key]));
    let m = ingest(
        &write_only,
        meta(Tool::Mysqldump, 8, "2026-12-04T02:10:00Z"),
        &dump(5_000, true),
    )
    .await
    .unwrap();
    let err = write_only.payload_reader(&m.id).await.err().unwrap();
    assert!(matches!(err, Error::NoIdentity { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("payload.sql.zst.age")
            && msg.contains(&key.to_public().to_string())
            && msg.contains("set `age-identity-file` in [repositories.offsite]"),
        "{msg}"
    );
    // A repository opened without any key says the same.
    let plain = Repository::open(&dir).unwrap();
    let err = plain.payload_reader(&m.id).await.err().unwrap();
    assert!(matches!(err, Error::NoIdentity { .. }), "{err}");
    // The copy is whole, but not readable where there is no identity.
    assert_eq!(write_only.check_copy(&m).await, CopyCheck::Ok);
    let locked = write_only.check_readable(&m).await;
    assert!(
        matches!(&locked, CopyCheck::Locked { detail } if detail.contains("write-only")),
        "{locked}"
    );
    // repo check reads what it can: the stored bytes.
    let report = write_only.verify_checksum_at_rest(&m.id).await.unwrap();
    assert!(
        report.is_ok() && report.at_rest_only,
        "{}",
        report.summary()
    );
    assert!(
        report.summary().contains("not decrypted"),
        "{}",
        report.summary()
    );
    let check = write_only.check(ReadData::All, false).await.unwrap();
    assert!(check.is_ok() && check.at_rest_only == 1, "{check:?}");
    // The wrong identity is named with its file and public key, next to the payload's.
    let wrong = encrypted(&dir, keys(Some(&other), &[&other]));
    let err = wrong.verify_checksum(&m.id).await.unwrap_err();
    assert!(matches!(err, Error::WrongKey { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&key.to_public().to_string())
            && msg.contains(&other.to_public().to_string())
            && msg.contains("in file /etc/ferryman/offsite.key"),
        "{msg}"
    );
    assert!(matches!(
        wrong.payload_reader(&m.id).await.err().unwrap(),
        Error::WrongKey { .. }
    ));
    let locked = wrong.check_readable(&m).await.to_string();
    assert!(
        locked.starts_with("not readable here: encrypted for age1")
            && locked.contains("the identity in file /etc/ferryman/offsite.key is age1"),
        "{locked}"
    );
    // With the right identity, everything reads.
    let right = encrypted(&dir, keys(Some(&key), &[&key]));
    assert_eq!(right.check_readable(&m).await, CopyCheck::Ok);
    assert!(right.verify_checksum(&m.id).await.unwrap().is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_payload_fails_its_check_and_is_never_read_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Identity::generate();
    let repo = encrypted(&tmp.path().join("r"), keys(Some(&key), &[&key]));
    let m = ingest(
        &repo,
        meta(Tool::Mysqldump, 9, "2026-12-04T02:20:00Z"),
        &dump(100_000, true),
    )
    .await
    .unwrap();
    let file = root(&repo).join(m.payload_key().as_str());
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();

    let report = repo.verify_checksum(&m.id).await.unwrap();
    assert!(!report.is_ok() && !report.stored_ok, "{}", report.summary());
    let summary = report.summary();
    assert!(
        summary.contains("does not decrypt or decompress") && summary.contains("DAMAGED"),
        "{summary}"
    );
    let mut reader = repo.payload_reader(&m.id).await.unwrap();
    let (read, err) = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let err = reader.read_to_end(&mut out).unwrap_err();
        (out.len(), err)
    })
    .await
    .unwrap();
    assert!((read as u64) < m.raw_bytes, "{read}");
    assert!(err.to_string().contains("decryption error"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn copies_are_re_encrypted_for_the_target_and_checked_by_their_raw_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (Identity::generate(), Identity::generate());
    let plain = Repository::open(tmp.path().join("plain")).unwrap();
    let for_a = encrypted(&tmp.path().join("a"), keys(Some(&a), &[&a]));
    let for_b = encrypted(&tmp.path().join("b"), keys(Some(&b), &[&b]));
    let back = Repository::open(tmp.path().join("back")).unwrap();
    let data = dump(20_000, true);
    let m = ingest(
        &plain,
        meta(Tool::Mysqldump, 10, "2026-12-04T02:30:00Z"),
        &data,
    )
    .await
    .unwrap();

    let in_a = for_a.copy_from(&plain, &m.id).await.unwrap();
    let in_b = for_b.copy_from(&for_a, &m.id).await.unwrap();
    let in_back = back.copy_from(&for_b, &m.id).await.unwrap();
    for (repo, copy) in [(&for_a, &in_a), (&for_b, &in_b), (&back, &in_back)] {
        assert_eq!(
            (copy.raw_sha256.as_str(), copy.raw_bytes),
            (m.raw_sha256.as_str(), m.raw_bytes)
        );
        assert_eq!(repo.check_copy(&m).await, CopyCheck::Ok);
        assert_eq!(sha(&payload(repo, &m.id).await), sha(&data));
        assert!(repo.verify_checksum(&m.id).await.unwrap().is_ok());
    }
    assert_eq!(
        in_a.encryption.as_ref().unwrap().recipients,
        [a.to_public().to_string()]
    );
    assert_eq!(
        in_b.encryption.as_ref().unwrap().recipients,
        [b.to_public().to_string()]
    );
    assert_ne!(in_a.stored_sha256, in_b.stored_sha256);
    // Back in a plain repository, the payload is byte for byte the original.
    assert_eq!(in_back, m);

    // A repository with the same recipients receives the age file as it is.
    let also_a = encrypted(&tmp.path().join("a2"), keys(None, &[&a]));
    assert_eq!(also_a.copy_from(&for_a, &m.id).await.unwrap(), in_a);

    // A write-only source cannot be re-encrypted: the error names the missing identity and
    // nothing is left in the target.
    let target = Repository::open(tmp.path().join("target")).unwrap();
    let err = target.copy_from(&also_a, &m.id).await.unwrap_err();
    assert!(matches!(err, Error::NoIdentity { .. }), "{err}");
    assert!(
        files(&root(&target)).is_empty(),
        "{:?}",
        files(&root(&target))
    );

    // A tampered chunk is refused before it is written, and nothing is kept.
    let file = root(&for_a).join(in_a.payload_key().as_str());
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();
    let err = target.copy_from(&for_a, &m.id).await.unwrap_err();
    assert!(matches!(err, Error::Undecryptable { .. }), "{err}");
    assert!(
        err.to_string().contains("use another copy of the backup"),
        "{err}"
    );
    assert!(
        files(&root(&target)).is_empty(),
        "{:?}",
        files(&root(&target))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_in_an_encrypted_repository_are_encrypted_too() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Identity::generate();
    let repo = encrypted(&tmp.path().join("r"), keys(Some(&key), &[&key]));
    let text = "2026-12-04  2:40:00 0 [Note] slow query: SELECT * FROM customers\n".repeat(100);
    let meta = LogMeta {
        cluster: "shop".into(),
        server: "db1".into(),
        kind: LogKind::Slow,
        job_id: 11,
        received_at: Timestamp::parse_rfc3339("2026-12-04T02:40:00Z").unwrap(),
        compression: Default::default(),
    };
    let file = repo
        .ingest_log(
            meta,
            text.as_bytes(),
            &tokio_util::sync::CancellationToken::new(),
        )
        .await
        .unwrap();
    assert!(file.key.as_str().ends_with(".log.zst.age"), "{}", file.key);
    let stored = std::fs::read(root(&repo).join(file.key.as_str())).unwrap();
    assert!(stored.starts_with(b"age-encryption.org/v1\n"));
    let listed = repo.list_logs("shop", "db1").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key, file.key);
}
