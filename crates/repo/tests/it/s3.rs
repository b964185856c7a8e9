//! The S3 backend against a real S3 server (Ceph radosgw, started by the test): the storage
//! conformance suite, multipart streaming, abandoned and crashed uploads, an outage of the
//! gateway during a write, a slow gateway answering 503 (retried), bad credentials and a
//! missing bucket, and backups ingested, read back and refused through the repository.
//!
//! One server serves every scenario (it takes ~15 s to start), each in its own bucket; the
//! scenarios run in one test so that the server is stopped (by PID) however the test ends.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferryman_config::{S3Config, Secret};
use ferryman_repo::storage::s3::S3Storage;
use ferryman_repo::{Error, Key, Repository, Storage, Tool};
use ferryman_sandbox::testing::TestS3;
use tokio_util::sync::CancellationToken;

use crate::proxy::FaultyProxy;
use crate::storage::conformance;
use crate::*;

/// The smallest part S3 accepts (but for the last): parts of the tests' objects are this big.
const PART_MIB: u32 = 5;
const PART: usize = PART_MIB as usize * 1024 * 1024;

fn config(s3: &TestS3, bucket: &str, secret: &str) -> S3Config {
    S3Config {
        endpoint: Some(s3.endpoint.clone()),
        bucket: bucket.to_owned(),
        prefix: Some("fleet/a".to_owned()),
        region: s3.region.clone(),
        path_style: true,
        access_key_id: Some(s3.access_key.clone()),
        secret_access_key: Some(Secret::new(secret.to_owned())),
        part_size_mib: PART_MIB,
        request_timeout: Duration::from_secs(30),
        retry_timeout: Duration::from_secs(60),
    }
}

async fn storage(s3: &TestS3, bucket: &str) -> S3Storage {
    s3.create_bucket(bucket).await;
    let storage = S3Storage::open(&config(s3, bucket, &s3.secret_key)).unwrap();
    storage.probe().await.unwrap();
    storage
}

async fn names(storage: &dyn Storage, prefix: &str) -> Vec<String> {
    storage
        .list(Some(&Key::new(prefix).unwrap()))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect()
}

/// Writes `data` to `key` on a blocking thread and returns the uncommitted writer.
async fn write(
    storage: &dyn Storage,
    key: &Key,
    data: Vec<u8>,
) -> Box<dyn ferryman_repo::storage::ObjectWriter> {
    let mut writer = storage.create(key).await.unwrap();
    tokio::task::spawn_blocking(move || {
        writer.write_all(&data).unwrap();
        writer
    })
    .await
    .unwrap()
}

async fn read(storage: &dyn Storage, key: &Key) -> Vec<u8> {
    let mut reader = storage.open(key).await.unwrap();
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        out
    })
    .await
    .unwrap()
}

/// Waits until `bucket` has no multipart upload in progress.
async fn no_uploads_left(s3: &TestS3, bucket: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let open = s3.open_uploads(bucket).await;
        if open.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "uploads left open: {open:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_s3_backend_against_radosgw() {
    let s3 = TestS3::start("ferryman-first").await;

    conformance(&storage(&s3, "conformance").await).await;
    multipart_objects_appear_whole_and_read_back(&s3).await;
    abandoned_and_crashed_uploads_are_aborted(&s3).await;
    a_gateway_outage_during_a_write_costs_time_not_the_object(&s3).await;
    a_slow_gateway_answering_503_is_retried(&s3).await;
    bad_credentials_and_a_missing_bucket_are_clear_errors(&s3).await;
    backups_are_ingested_read_and_refused_through_the_repository(&s3).await;
    an_encrypted_backup_streams_through_s3_and_back(&s3).await;
}

async fn multipart_objects_appear_whole_and_read_back(s3: &TestS3) {
    let storage = storage(s3, "multipart").await;
    let key = Key::new("a/payload.bin").unwrap();
    // Three whole parts and a bit: the reader's windows (8 MiB) do not fall on part edges.
    let data = noise(3 * PART + 12_345, 7);
    let writer = write(&storage, &key, data.clone()).await;
    // While the upload runs, its marker is listed (as the local NAME.partial is) and the
    // object is not.
    assert_eq!(names(&storage, "a").await, ["payload.bin.partial"]);
    assert_eq!(storage.get(&key).await.unwrap(), None);
    assert_eq!(s3.open_uploads("multipart").await.len(), 1);
    tokio::task::spawn_blocking(move || writer.commit())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(names(&storage, "a").await, ["payload.bin"]);
    assert!(s3.open_uploads("multipart").await.is_empty());
    assert_eq!(storage.size(&key).await.unwrap(), Some(data.len() as u64));
    let back = read(&storage, &key).await;
    assert_eq!(back.len(), data.len());
    assert_eq!(sha(&back), sha(&data), "the object read back differs");

    // Exactly one part; and an empty object (no upload at all).
    let exact = Key::new("a/exact.bin").unwrap();
    let data = noise(PART, 8);
    let writer = write(&storage, &exact, data.clone()).await;
    tokio::task::spawn_blocking(move || writer.commit())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sha(&read(&storage, &exact).await), sha(&data));
    let empty = Key::new("a/empty.bin").unwrap();
    let writer = write(&storage, &empty, Vec::new()).await;
    tokio::task::spawn_blocking(move || writer.commit())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read(&storage, &empty).await, Vec::<u8>::new());
}

async fn abandoned_and_crashed_uploads_are_aborted(s3: &TestS3) {
    let storage = storage(s3, "abandoned").await;

    // Dropped (an error, a cancellation): the upload is aborted and the marker removed.
    let key = Key::new("a/dropped.bin").unwrap();
    let writer = write(&storage, &key, noise(2 * PART + 1, 9)).await;
    assert_eq!(s3.open_uploads("abandoned").await.len(), 1);
    drop(writer);
    no_uploads_left(s3, "abandoned").await;
    // The marker goes after the abort, in the same background task.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !names(&storage, "a").await.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(names(&storage, "a").await.is_empty());

    // Killed (the manager crashed mid-upload): the marker stays, and the next start's
    // clean-up aborts the upload it names and removes it.
    let repo = Repository::with_storage(Arc::new(storage.clone()));
    let backup = Key::new("Backups/shop/db1/20261121T025800Z-j7/payload.xbstream.zst").unwrap();
    let writer = write(&storage, &backup, noise(2 * PART + 1, 10)).await;
    std::mem::forget(writer);
    assert_eq!(
        names(&storage, "Backups/shop/db1/20261121T025800Z-j7").await,
        ["payload.xbstream.zst.partial"]
    );
    assert_eq!(s3.open_uploads("abandoned").await.len(), 1);
    let leftovers = repo.clean_incomplete().await.unwrap();
    assert_eq!(leftovers.removed.len(), 1, "{leftovers:?}");
    assert!(leftovers.quarantined.is_empty(), "{leftovers:?}");
    assert!(s3.open_uploads("abandoned").await.is_empty());
    assert!(names(&storage, "Backups/shop/db1").await.is_empty());
}

async fn a_gateway_outage_during_a_write_costs_time_not_the_object(s3: &TestS3) {
    let storage = storage(s3, "outage").await;
    let key = Key::new("a/through-the-outage.bin").unwrap();
    let data = noise(4 * PART + 3, 11);
    let mut writer = storage.create(&key).await.unwrap();
    // The first part goes up before the outage; the rest is written during it.
    let (first, rest) = data.split_at(PART + 1);
    let (first, rest) = (first.to_vec(), rest.to_vec());
    writer = tokio::task::spawn_blocking(move || {
        writer.write_all(&first).unwrap();
        writer
    })
    .await
    .unwrap();
    s3.stop_gateway().await;
    let outage = Duration::from_secs(8);
    let started = Instant::now();
    let writing = tokio::task::spawn_blocking(move || {
        writer.write_all(&rest)?;
        writer.commit().map_err(std::io::Error::other)
    });
    tokio::time::sleep(outage).await;
    assert!(!writing.is_finished(), "the write ended during the outage");
    s3.start_gateway().await;
    writing.await.unwrap().unwrap();
    assert!(started.elapsed() >= outage);
    assert_eq!(sha(&read(&storage, &key).await), sha(&data));
    assert!(s3.open_uploads("outage").await.is_empty());
}

/// Behind a proxy that answers `503 Slow Down` to some connections and delays every answer,
/// a backup streams in, reads back and checks out: object_store retried each refused request.
async fn a_slow_gateway_answering_503_is_retried(s3: &TestS3) {
    s3.create_bucket("struggling").await;
    let proxy = FaultyProxy::start(&s3.endpoint, 3, Duration::from_millis(20)).await;
    let mut settings = config(s3, "struggling", &s3.secret_key);
    settings.endpoint = Some(proxy.endpoint.clone());
    let storage = S3Storage::open(&settings).unwrap();
    storage.probe().await.unwrap();
    let repo = Repository::with_storage(Arc::new(storage));
    let data = dump(600_000, true);
    let m = ingest(
        &repo,
        meta(Tool::Mysqldump, 4, "2026-11-21T05:58:00Z"),
        &data,
    )
    .await
    .unwrap();
    assert!(m.stored_bytes > 2 * PART as u64, "{}", m.stored_bytes);
    assert!(repo.verify_checksum(&m.id).await.unwrap().is_ok());
    assert_eq!(sha(&payload(&repo, &m.id).await), sha(&data));
    let injected = proxy.injected.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        injected >= 1,
        "no request was refused: the test proves nothing"
    );
    assert!(s3.open_uploads("struggling").await.is_empty());
}

async fn bad_credentials_and_a_missing_bucket_are_clear_errors(s3: &TestS3) {
    let wrong = S3Storage::open(&config(s3, "conformance", "not-the-secret")).unwrap();
    let msg = wrong.probe().await.unwrap_err().to_string();
    assert!(msg.contains("s3://conformance/fleet/a"), "{msg}");
    assert!(msg.contains("refused the credentials"), "{msg}");
    assert!(msg.contains("access-key-id"), "{msg}");

    let missing = S3Storage::open(&config(s3, "no-such-bucket", &s3.secret_key)).unwrap();
    let msg = missing.probe().await.unwrap_err().to_string();
    assert!(msg.contains("the bucket does not exist"), "{msg}");
    assert!(msg.contains("s3://no-such-bucket/fleet/a"), "{msg}");
}

async fn backups_are_ingested_read_and_refused_through_the_repository(s3: &TestS3) {
    let storage = storage(s3, "repository").await;
    let repo = Repository::with_storage(Arc::new(storage.clone()));
    let data = dump(600_000, true);
    let manifest = ingest(
        &repo,
        meta(Tool::Mysqldump, 1, "2026-11-21T02:58:00Z"),
        &data,
    )
    .await
    .unwrap();
    assert_eq!(manifest.raw_bytes, data.len() as u64);
    assert!(manifest.stored_bytes > PART as u64, "one part only");
    let listed = repo.list(Some("shop"), None).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, manifest.id);
    let report = repo.verify_checksum(&manifest.id).await.unwrap();
    assert!(report.stored_ok && report.raw_ok, "{report:?}");
    assert_eq!(sha(&payload(&repo, &manifest.id).await), sha(&data));

    // A stream that breaks after several parts: no manifest, no upload, no marker.
    let reader = BrokenReader {
        data: noise(3 * PART, 12),
        pos: 0,
    };
    let err = repo
        .ingest(
            meta(Tool::Mysqldump, 2, "2026-11-21T03:58:00Z"),
            reader,
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::StreamBroken { .. }), "{err}");
    no_uploads_left(s3, "repository").await;
    assert_eq!(
        names(&storage, "Backups/shop/db1").await,
        [manifest.id.to_string().rsplit('/').next().unwrap()]
    );

    repo.delete(&manifest.id).await.unwrap();
    assert!(repo.list(None, None).await.unwrap().is_empty());
    assert!(names(&storage, "Backups/shop/db1").await.is_empty());
}

async fn an_encrypted_backup_streams_through_s3_and_back(s3: &TestS3) {
    let storage = storage(s3, "encrypted").await;
    let key = age::x25519::Identity::generate();
    let config = ferryman_config::EncryptionConfig {
        recipients: vec![key.to_public().to_string()],
        identity: Some(ferryman_config::Secret::new(
            age::secrecy::ExposeSecret::expose_secret(&key.to_string()).to_owned(),
        )),
        identity_source: Some("file offsite.key".to_owned()),
    };
    let keys = ferryman_repo::Keys::from_config("offsite", &config).unwrap();
    let repo = Repository::with_storage(Arc::new(storage.clone())).with_keys(keys);
    let data = dump(600_000, true);
    let m = ingest(
        &repo,
        meta(Tool::Mysqldump, 3, "2026-11-21T04:58:00Z"),
        &data,
    )
    .await
    .unwrap();
    assert!(m.stored_bytes > PART as u64, "one part only");
    assert_eq!(m.payload, "payload.sql.zst.age");
    let stored = read(&storage, &m.payload_key()).await;
    assert!(stored.starts_with(b"age-encryption.org/v1\n"));
    assert_eq!(sha(&stored), m.stored_sha256);
    assert!(repo.verify_checksum(&m.id).await.unwrap().is_ok());
    assert_eq!(sha(&payload(&repo, &m.id).await), sha(&data));
}
