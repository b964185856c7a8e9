//! The storage conformance suite: what the repository relies on from any backend, run on the
//! local file system and on a restic repository (an S3 backend runs the same function).

use std::io::{Read, Write};

use ferryman_config::{ResticConfig, Secret};
use ferryman_repo::storage::restic::ResticStorage;
use ferryman_repo::storage::Entry;
use ferryman_repo::{Key, LocalStorage, Storage};

/// Checks `storage`, which must be empty.
pub async fn conformance(storage: &dyn Storage) {
    let key = |s: &str| Key::new(s).unwrap();
    assert!(storage.list(None).await.unwrap().is_empty());
    assert!(storage.list(Some(&key("nope"))).await.unwrap().is_empty());
    assert_eq!(storage.get(&key("a/b")).await.unwrap(), None);
    assert!(storage
        .open(&key("a/b"))
        .await
        .err()
        .unwrap()
        .is_not_found());

    // put: whole, replaceable, visible to get and list; temporary files never listed.
    storage
        .put(&key("a/b/small.json"), b"one".to_vec())
        .await
        .unwrap();
    storage
        .put(&key("a/b/small.json"), b"two".to_vec())
        .await
        .unwrap();
    assert_eq!(
        storage.get(&key("a/b/small.json")).await.unwrap().unwrap(),
        b"two"
    );
    assert_eq!(
        storage.list(Some(&key("a"))).await.unwrap(),
        [Entry {
            name: "b".into(),
            is_dir: true
        }]
    );

    // create: invisible under its name until committed; dropped = discarded.
    let payload = key("a/b/payload.bin");
    let mut writer = storage.create(&payload).await.unwrap();
    let big = vec![7u8; 3 << 20];
    writer = tokio::task::spawn_blocking(move || {
        writer.write_all(&big).unwrap();
        writer
    })
    .await
    .unwrap();
    assert_eq!(storage.get(&payload).await.unwrap(), None);
    tokio::task::spawn_blocking(move || writer.commit())
        .await
        .unwrap()
        .unwrap();
    let mut reader = storage.open(&payload).await.unwrap();
    let read = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        out
    })
    .await
    .unwrap();
    assert_eq!(read.len(), 3 << 20);
    let abandoned = key("a/b/abandoned.bin");
    let mut writer = storage.create(&abandoned).await.unwrap();
    writer.write_all(b"half").unwrap();
    drop(writer);
    assert_eq!(storage.get(&abandoned).await.unwrap(), None);
    let names: Vec<String> = storage
        .list(Some(&key("a/b")))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["payload.bin", "small.json"]);

    // size: of objects only.
    assert_eq!(
        storage.size(&key("a/b/payload.bin")).await.unwrap(),
        Some(3 << 20)
    );
    assert_eq!(storage.size(&key("a/b")).await.unwrap(), None);
    assert_eq!(storage.size(&key("a/b/nope")).await.unwrap(), None);

    // rename: a prefix moves whole to a new key (parents created); never over an existing one.
    storage.rename(&key("a/b"), &key("c/d/e")).await.unwrap();
    assert!(storage.list(Some(&key("a/b"))).await.unwrap().is_empty());
    assert_eq!(
        storage
            .get(&key("c/d/e/small.json"))
            .await
            .unwrap()
            .unwrap(),
        b"two"
    );
    storage
        .put(&key("a/b/new.json"), b"n".to_vec())
        .await
        .unwrap();
    assert!(storage.rename(&key("a/b"), &key("c/d/e")).await.is_err());
    assert_eq!(
        storage.get(&key("a/b/new.json")).await.unwrap().unwrap(),
        b"n"
    );
    storage.rename(&key("c/d/e"), &key("a/b2")).await.unwrap();
    storage.delete_prefix(&key("c")).await.unwrap();
    storage.rename(&key("a/b2"), &key("a/b")).await.unwrap_err();
    storage.delete_prefix(&key("a/b")).await.unwrap();
    storage.rename(&key("a/b2"), &key("a/b")).await.unwrap();

    // delete and delete_prefix: idempotent.
    storage.delete(&key("a/b/small.json")).await.unwrap();
    storage.delete(&key("a/b/small.json")).await.unwrap();
    assert_eq!(storage.get(&key("a/b/small.json")).await.unwrap(), None);
    storage.delete_prefix(&key("a")).await.unwrap();
    storage.delete_prefix(&key("a")).await.unwrap();
    assert!(storage.list(None).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_local_file_system_conforms() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = LocalStorage::open(tmp.path().join("root")).unwrap();
    conformance(&storage).await;
    assert!(storage.free_space().await.unwrap().unwrap() > 0);
    assert_eq!(
        storage.local_path(&Key::new("x/y").unwrap()).unwrap(),
        tmp.path().join("root/x/y")
    );
}

/// A new restic repository in `dir` with password `password` (`restic init`).
pub async fn restic_init(dir: &std::path::Path, password: &str) {
    let restic = ferryman_exec::Program::find("restic", "restic").unwrap();
    restic
        .command()
        .env("RESTIC_REPOSITORY", dir)
        .secret_env("RESTIC_PASSWORD", password)
        .args(["init", "--quiet"])
        .run()
        .await
        .unwrap();
}

/// A restic storage on the repository in `dir`.
pub fn restic(dir: &std::path::Path, password: &str) -> ResticStorage {
    ResticStorage::open(&ResticConfig {
        repository: dir.display().to_string(),
        password: Some(Secret::new(password.to_owned())),
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restic_repository_conforms_and_names_a_wrong_password_or_a_missing_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("restic");
    restic_init(&dir, "correct horse").await;
    let storage = restic(&dir, "correct horse");
    storage.probe().await.unwrap();
    conformance(&storage).await;
    assert_eq!(storage.free_space().await.unwrap(), None);
    assert!(storage.location().starts_with("restic:/"));

    let err = restic(&dir, "battery staple").probe().await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("wrong password or no key found")
            && msg.contains("does not open this restic repository")
            && !msg.contains("battery staple"),
        "{msg}"
    );
    let err = restic(&tmp.path().join("nowhere"), "x")
        .probe()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("create it once with `restic init`"), "{err}");
}
