//! [`S3Storage`]: the repository in an S3-compatible bucket (AWS, Ceph RGW, MinIO), through
//! the `object_store` crate.
//!
//! The layout under the configured prefix is the local one, key for key, so a repository can
//! be copied between the two with standard tools (`aws s3 sync`, `rclone`).
//!
//! # How the local semantics are kept
//! - **Visible only when whole.** A streamed object is a multipart upload (`s3/writer.rs`): S3
//!   shows it under its key only once `CompleteMultipartUpload` succeeds. While it is being
//!   written, a small marker object `NAME.partial` holds the upload's id, so listings show a
//!   write in progress exactly as the local `NAME.partial` file does, and
//!   [`crate::Repository::clean_incomplete`] finds what a crashed manager left. Deleting a
//!   `.partial` marker (alone or under a prefix) first aborts the upload it names, so S3 drops
//!   the parts already uploaded.
//! - **Small objects** (the manifest, `put`) are one `PutObject`: atomic on every S3 service.
//! - **Directories** are prefixes; an empty one does not exist. Renames are copies then
//!   deletes (the source is removed only once every copy succeeded).
//!
//! # Transient failures
//! Every request is retried by `object_store` (connection refused or reset, 5xx, 429, request
//! timeout) with exponential backoff for up to the repository's `retry-timeout`. While a part
//! upload is being retried, the writer blocks, the ingest pipeline's queue fills up and the
//! sender is held back by TCP: a storage outage shorter than `retry-timeout` costs time, not
//! the backup. Reads are ranged (`s3/reader.rs`) so that no single request lasts longer than one
//! window, whatever the payload's size.

mod reader;
mod writer;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ferryman_config::S3Config;
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, PutPayload, RetryConfig};
use tracing::{debug, warn};

use super::local::PARTIAL_SUFFIX;
use super::{check_component, Entry, Key, ObjectReader, ObjectWriter, Storage};
use crate::{Error, Result};

/// Parts in flight per streamed object, besides the one being filled: with the default 8 MiB
/// parts, a stream holds at most 24 MiB of the manager's memory.
const PARTS_IN_FLIGHT: usize = 2;

/// How long the first connection may take before a request counts as failed (and is retried).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A repository in an S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Storage {
    inner: Arc<Inner>,
}

/// What the storage and its writers and readers share.
#[derive(Debug)]
struct Inner {
    store: AmazonS3,
    bucket: String,
    /// The configured prefix, without slashes around it; empty for the bucket's root.
    prefix: String,
    /// Bytes per uploaded part (the last one may be smaller).
    part_size: usize,
    /// For messages: how long transient errors are retried.
    retry_timeout: Duration,
}

impl S3Storage {
    /// A client of the bucket `config` describes. No request is made: see [`Storage::probe`].
    pub fn open(config: &S3Config) -> Result<S3Storage> {
        // Without configured keys, the standard AWS_* variables of the manager's environment
        // (or an instance role) provide them; the settings below override any other AWS_*.
        let mut builder = match (&config.access_key_id, &config.secret_access_key) {
            (Some(id), Some(secret)) => AmazonS3Builder::new()
                .with_access_key_id(id)
                .with_secret_access_key(secret.expose_secret()),
            _ => AmazonS3Builder::from_env(),
        };
        builder = builder
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_virtual_hosted_style_request(!config.path_style)
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(5),
                    base: 2.0,
                },
                // The time limit is what matters; the count only has to be high enough for it.
                max_retries: usize::MAX,
                retry_timeout: config.retry_timeout,
            })
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(config.request_timeout)
                    .with_connect_timeout(CONNECT_TIMEOUT)
                    .with_allow_http(
                        config
                            .endpoint
                            .as_deref()
                            .is_some_and(|e| e.starts_with("http://")),
                    ),
            );
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint.trim_end_matches('/'));
        }
        let store = builder.build().map_err(|e| Error::ObjectStore {
            action: "configure the client of",
            location: format!("s3://{}", config.bucket),
            detail: e.to_string(),
            hint: "fix the repository's section in ferryman.toml",
        })?;
        Ok(S3Storage {
            inner: Arc::new(Inner {
                store,
                bucket: config.bucket.clone(),
                prefix: config.prefix.clone().unwrap_or_default(),
                part_size: config.part_size_mib as usize * 1024 * 1024,
                retry_timeout: config.retry_timeout,
            }),
        })
    }
}

impl Inner {
    /// The object path of `key`.
    fn path(&self, key: &Key) -> Path {
        if self.prefix.is_empty() {
            Path::from(key.as_str())
        } else {
            Path::from(format!("{}/{}", self.prefix, key.as_str()))
        }
    }

    /// `s3://bucket/prefix`.
    fn location(&self) -> String {
        match self.prefix_path() {
            Some(prefix) => self.url(&prefix),
            None => format!("s3://{}", self.bucket),
        }
    }

    fn prefix_path(&self) -> Option<Path> {
        (!self.prefix.is_empty()).then(|| Path::from(self.prefix.as_str()))
    }

    /// `s3://bucket/prefix/key`, for messages.
    fn url(&self, path: &Path) -> String {
        format!("s3://{}/{path}", self.bucket)
    }

    /// A failed request as the repository reports it, with what to do about it.
    fn error(&self, action: &'static str, location: &str, e: object_store::Error) -> Error {
        let detail = e.to_string();
        let hint = if detail.contains("NoSuchBucket") {
            "the bucket does not exist: create it, or fix `bucket` in the repository's section of \
             ferryman.toml"
        } else if matches!(
            e,
            object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
        ) || [
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AccessDenied",
        ]
        .iter()
        .any(|code| detail.contains(code))
        {
            "the storage refused the credentials: check `access-key-id` and the secret key file \
             of the repository, and the key's permissions on the bucket"
        } else {
            "check that the S3 endpoint is reachable from the manager and healthy (transient \
             errors are retried for the repository's retry-timeout)"
        };
        let retried = match e {
            object_store::Error::Generic { .. } => {
                format!(" (retried for up to {}s)", self.retry_timeout.as_secs())
            }
            _ => String::new(),
        };
        Error::ObjectStore {
            action,
            location: location.to_owned(),
            detail: format!("{detail}{retried}"),
            hint,
        }
    }

    /// Every object under `path` (recursively).
    async fn objects_under(&self, path: &Path) -> Result<Vec<Path>> {
        self.store
            .list(Some(path))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .map_err(|e| self.error("list", &self.url(path), e))
    }

    /// Aborts the upload a `.partial` marker names, then deletes the marker. A marker that
    /// cannot be read is deleted anyway (its upload is then left to the bucket's lifecycle
    /// rule for incomplete uploads, and a warning says so).
    async fn drop_marker(&self, marker: &Path) -> Result<()> {
        match self.store.get(marker).await {
            Ok(got) => {
                let bytes = got
                    .bytes()
                    .await
                    .map_err(|e| self.error("read", &self.url(marker), e))?;
                match writer::Marker::parse(&bytes) {
                    Some(m) => writer::abort(self, &Path::from(m.object), &m.upload_id).await?,
                    None => warn!(
                        marker = %self.url(marker),
                        "unreadable upload marker: its upload cannot be aborted here; a bucket \
                         lifecycle rule (AbortIncompleteMultipartUpload) removes such parts"
                    ),
                }
            }
            Err(object_store::Error::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(self.error("read", &self.url(marker), e)),
        }
        self.delete(marker).await
    }

    async fn delete(&self, path: &Path) -> Result<()> {
        match self.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error("delete", &self.url(path), e)),
        }
    }

    async fn exists(&self, path: &Path) -> Result<bool> {
        match self.store.head(path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.error("inspect", &self.url(path), e)),
        }
    }

    /// Everything under `path` and `path` itself, markers' uploads aborted first.
    async fn delete_prefix(&self, path: &Path) -> Result<()> {
        let mut under = self.objects_under(path).await?;
        under.push(path.clone());
        for marker in under.iter().filter(|p| is_marker(p)) {
            self.drop_marker(marker).await?;
        }
        let rest: Vec<Path> = under.into_iter().filter(|p| !is_marker(p)).collect();
        let mut results = self
            .store
            .delete_stream(futures_util::stream::iter(rest.into_iter().map(Ok)).boxed());
        while let Some(result) = results.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.error("delete under", &self.url(path), e)),
            }
        }
        Ok(())
    }

    async fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        let target_taken = self.exists(to).await? || !self.objects_under(to).await?.is_empty();
        if target_taken {
            return Err(Error::AlreadyExists {
                what: format!("the move target {}", self.url(to)),
                root: self.location(),
            });
        }
        let mut moves = Vec::new();
        if self.exists(from).await? {
            moves.push((from.clone(), to.clone()));
        }
        for source in self.objects_under(from).await? {
            let rest: Vec<String> = source
                .prefix_match(from)
                .map(|parts| parts.map(|p| p.as_ref().to_owned()).collect())
                .unwrap_or_default();
            let target = Path::from(format!("{to}/{}", rest.join("/")));
            moves.push((source, target));
        }
        if moves.is_empty() {
            return Err(Error::NotFound {
                what: format!("object or prefix {}", self.url(from)),
                root: self.location(),
            });
        }
        for (source, target) in &moves {
            self.store
                .copy(source, target)
                .await
                .map_err(|e| self.error("copy", &self.url(source), e))?;
        }
        for (source, _) in &moves {
            self.delete(source).await?;
        }
        debug!(from = %self.url(from), to = %self.url(to), objects = moves.len(), "moved");
        Ok(())
    }
}

/// True for an upload marker (`NAME.partial`).
fn is_marker(path: &Path) -> bool {
    path.filename().is_some_and(|n| n.ends_with(PARTIAL_SUFFIX))
}

impl Storage for S3Storage {
    fn location(&self) -> String {
        self.inner.location()
    }

    fn local_path(&self, _key: &Key) -> Option<PathBuf> {
        None
    }

    fn create<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Box<dyn ObjectWriter>>> {
        async move {
            let path = self.inner.path(key);
            // A marker left by an earlier attempt at this object: abort its upload first.
            let marker = writer::marker_path(&path);
            self.inner.drop_marker(&marker).await?;
            let writer = writer::S3Writer::new(self.inner.clone(), path)?;
            Ok(Box::new(writer) as Box<dyn ObjectWriter>)
        }
        .boxed()
    }

    fn put<'a>(&'a self, key: &'a Key, bytes: Vec<u8>) -> BoxFuture<'a, Result<()>> {
        async move {
            let path = self.inner.path(key);
            self.inner
                .store
                .put(&path, PutPayload::from(bytes))
                .await
                .map(|_| ())
                .map_err(|e| self.inner.error("write", &self.inner.url(&path), e))
        }
        .boxed()
    }

    fn get<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<Vec<u8>>>> {
        async move {
            let path = self.inner.path(key);
            let got = match self.inner.store.get(&path).await {
                Ok(got) => got,
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(self.inner.error("read", &self.inner.url(&path), e)),
            };
            let bytes = got
                .bytes()
                .await
                .map_err(|e| self.inner.error("read", &self.inner.url(&path), e))?;
            Ok(Some(bytes.to_vec()))
        }
        .boxed()
    }

    fn open<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<ObjectReader>> {
        async move {
            let path = self.inner.path(key);
            let size = match self.inner.store.head(&path).await {
                Ok(meta) => meta.size,
                Err(object_store::Error::NotFound { .. }) => {
                    return Err(Error::NotFound {
                        what: format!("object {key}"),
                        root: self.location(),
                    })
                }
                Err(e) => return Err(self.inner.error("open", &self.inner.url(&path), e)),
            };
            let reader = reader::S3Reader::new(self.inner.clone(), path, size)?;
            Ok(Box::new(reader) as ObjectReader)
        }
        .boxed()
    }

    fn list<'a>(&'a self, prefix: Option<&'a Key>) -> BoxFuture<'a, Result<Vec<Entry>>> {
        async move {
            let path = match prefix {
                Some(key) => Some(self.inner.path(key)),
                None => self.inner.prefix_path(),
            };
            let listed = self
                .inner
                .store
                .list_with_delimiter(path.as_ref())
                .await
                .map_err(|e| {
                    let at = path.clone().unwrap_or_default();
                    self.inner.error("list", &self.inner.url(&at), e)
                })?;
            let dirs = listed.common_prefixes.iter().map(|p| (p, true));
            let objects = listed.objects.iter().map(|o| (&o.location, false));
            let mut out: Vec<Entry> = dirs
                .chain(objects)
                .filter_map(|(p, is_dir)| {
                    let name = p.filename()?;
                    check_component("name", name).ok()?;
                    Some(Entry {
                        name: name.to_owned(),
                        is_dir,
                    })
                })
                .collect();
            out.sort();
            out.dedup();
            Ok(out)
        }
        .boxed()
    }

    fn delete<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<()>> {
        async move {
            let path = self.inner.path(key);
            if is_marker(&path) {
                self.inner.drop_marker(&path).await
            } else {
                self.inner.delete(&path).await
            }
        }
        .boxed()
    }

    fn delete_prefix<'a>(&'a self, prefix: &'a Key) -> BoxFuture<'a, Result<()>> {
        async move { self.inner.delete_prefix(&self.inner.path(prefix)).await }.boxed()
    }

    fn rename<'a>(&'a self, from: &'a Key, to: &'a Key) -> BoxFuture<'a, Result<()>> {
        async move {
            self.inner
                .rename(&self.inner.path(from), &self.inner.path(to))
                .await
        }
        .boxed()
    }

    fn size<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<u64>>> {
        async move {
            let path = self.inner.path(key);
            match self.inner.store.head(&path).await {
                Ok(meta) => Ok(Some(meta.size)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.inner.error("inspect", &self.inner.url(&path), e)),
            }
        }
        .boxed()
    }

    fn free_space(&self) -> BoxFuture<'_, Result<Option<u64>>> {
        async { Ok(None) }.boxed()
    }

    /// One listing of the prefix: the bucket exists and the credentials may list it.
    fn probe(&self) -> BoxFuture<'_, Result<()>> {
        async move {
            let prefix = self.inner.prefix_path();
            self.inner
                .store
                .list_with_delimiter(prefix.as_ref())
                .await
                .map(|_| ())
                .map_err(|e| self.inner.error("list", &self.location(), e))
        }
        .boxed()
    }
}
