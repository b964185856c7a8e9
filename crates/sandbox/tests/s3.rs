//! The test S3 server (Ceph radosgw from Debian's packages) works as the S3 service the
//! repository's backend will be tested against: object_store, the client the repository uses,
//! puts a multipart object, reads it back whole and by range, lists, and deletes, and a wrong
//! secret is refused. When this test fails, the S3 tests of the storage layer cannot mean
//! anything.
#![allow(clippy::unwrap_used)]

use ferryman_sandbox::testing::TestS3;
use futures_util::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload, WriteMultipart};

fn client(s3: &TestS3, secret: &str) -> object_store::aws::AmazonS3 {
    AmazonS3Builder::new()
        .with_endpoint(&s3.endpoint)
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .with_region(&s3.region)
        .with_bucket_name(&s3.bucket)
        .with_access_key_id(&s3.access_key)
        .with_secret_access_key(secret)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn radosgw_serves_object_store_multipart_range_list_and_delete() {
    let s3 = TestS3::start("ferryman-test").await;
    let store = client(&s3, &s3.secret_key);

    // 12 MiB in three 5 MiB-or-less parts (S3's smallest part is 5 MiB but for the last).
    let data: Vec<u8> = (0..12 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let path = Path::from("Backups/c/db1/20261203T000000Z-j1/payload.xbstream.zst");
    let upload = store.put_multipart(&path).await.unwrap();
    let mut writer = WriteMultipart::new_with_chunk_size(upload, 5 * 1024 * 1024);
    for piece in data.chunks(1 << 20) {
        writer.write(piece);
    }
    writer.finish().await.unwrap();

    let back = store.get(&path).await.unwrap().bytes().await.unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back[..] == data[..], "the object read back differs");
    let middle = store.get_range(&path, 5_000_000..5_000_100).await.unwrap();
    assert_eq!(&middle[..], &data[5_000_000..5_000_100]);

    let manifest = Path::from("Backups/c/db1/20261203T000000Z-j1/manifest.json");
    store
        .put(&manifest, PutPayload::from_static(b"{}"))
        .await
        .unwrap();
    let mut listed: Vec<String> = store
        .list(Some(&Path::from("Backups/c")))
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap();
    listed.sort();
    assert_eq!(listed, [manifest.to_string(), path.to_string()]);

    store.delete(&path).await.unwrap();
    assert!(matches!(
        store.get(&path).await,
        Err(object_store::Error::NotFound { .. })
    ));

    let wrong = client(&s3, "not-the-secret");
    let refused = wrong.get(&manifest).await.unwrap_err().to_string();
    assert!(
        refused.contains("403") || refused.contains("SignatureDoesNotMatch"),
        "{refused}"
    );
}
