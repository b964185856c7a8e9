//! [`S3Writer`]: a streamed object as a multipart upload, fed from a blocking thread.
//!
//! # Sequence
//! 1. Bytes fill a buffer of one part (`part-size`, 8 MiB by default).
//! 2. When the first part is full: `CreateMultipartUpload`, then the marker `NAME.partial`
//!    holding the upload's id ([`Marker`]), then the part's upload starts on the runtime.
//!    Later parts start as they fill; at most [`PARTS_IN_FLIGHT`] are in flight, so a slow
//!    storage blocks the writer (and, through the ingest queue, the sender) instead of
//!    growing memory.
//! 3. Commit: the last part, every part awaited, `CompleteMultipartUpload` (the object appears
//!    whole), then the marker is deleted. An object smaller than one part never starts an
//!    upload: it is one `PutObject` at commit.
//!
//! # Safety
//! - Dropped without commit (an error, a cancelled ingest): the parts in flight are cancelled
//!   and the upload is aborted, then the marker deleted, in a task on the runtime.
//! - Killed (the manager crashed): the marker stays; the next start's leftover clean-up
//!   deletes it, which aborts the upload it names ([`super::Inner::drop_marker`]).

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::Arc;

use bytes::Bytes;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{MultipartId, ObjectStore, PutPayload};
use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tracing::warn;

use super::{Inner, PARTS_IN_FLIGHT};
use crate::storage::local::PARTIAL_SUFFIX;
use crate::storage::ObjectWriter;
use crate::{Error, Result};

/// The content of a `NAME.partial` marker: which upload to abort if the write never ends.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Marker {
    /// The object's path in the bucket.
    pub(super) object: String,
    /// The multipart upload's id.
    pub(super) upload_id: String,
}

impl Marker {
    pub(super) fn parse(bytes: &[u8]) -> Option<Marker> {
        serde_json::from_slice(bytes).ok()
    }
}

/// The marker path of the object `path`.
pub(super) fn marker_path(path: &Path) -> Path {
    Path::from(format!("{path}{PARTIAL_SUFFIX}"))
}

/// Aborts an upload; one S3 no longer knows (finished, aborted, expired) is not an error.
pub(super) async fn abort(inner: &Inner, path: &Path, id: &MultipartId) -> Result<()> {
    match inner.store.abort_multipart(path, id).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(inner.error("abort the upload of", &inner.url(path), e)),
    }
}

/// A multipart upload once started.
struct Upload {
    id: MultipartId,
    /// Parts being uploaded, oldest first.
    in_flight: VecDeque<JoinHandle<object_store::Result<PartId>>>,
    /// Parts uploaded, in order.
    done: Vec<PartId>,
}

/// A streamed object; see the module documentation.
pub(super) struct S3Writer {
    inner: Arc<Inner>,
    handle: Handle,
    path: Path,
    buf: Vec<u8>,
    upload: Option<Upload>,
    committed: bool,
}

impl S3Writer {
    /// Must be called on the runtime (its handle runs the uploads).
    pub(super) fn new(inner: Arc<Inner>, path: Path) -> Result<S3Writer> {
        let handle = Handle::try_current().map_err(|e| Error::Worker {
            detail: format!("an S3 writer was created outside the async runtime: {e}"),
        })?;
        let buf = Vec::with_capacity(inner.part_size);
        Ok(S3Writer {
            inner,
            handle,
            path,
            buf,
            upload: None,
            committed: false,
        })
    }

    fn url(&self) -> String {
        self.inner.url(&self.path)
    }

    /// Starts the upload and writes its marker (blocking).
    fn start(&self) -> Result<Upload> {
        let inner = &self.inner;
        let id = self
            .handle
            .block_on(inner.store.create_multipart(&self.path))
            .map_err(|e| inner.error("start the upload of", &self.url(), e))?;
        let marker = Marker {
            object: self.path.to_string(),
            upload_id: id.clone(),
        };
        let json = serde_json::to_vec(&marker).map_err(|e| Error::Worker {
            detail: format!("cannot encode an upload marker: {e}"),
        })?;
        let marker_at = marker_path(&self.path);
        if let Err(e) = self
            .handle
            .block_on(inner.store.put(&marker_at, PutPayload::from(json)))
        {
            // Without its marker the upload could leak: abort it now.
            let _ = self.handle.block_on(abort(inner, &self.path, &id));
            return Err(inner.error("write", &inner.url(&marker_at), e));
        }
        Ok(Upload {
            id,
            in_flight: VecDeque::new(),
            done: Vec::new(),
        })
    }

    /// Uploads the buffer as the next part (blocking while too many parts are in flight).
    fn send_part(&mut self) -> Result<()> {
        if self.upload.is_none() {
            self.upload = Some(self.start()?);
        }
        let part = std::mem::replace(&mut self.buf, Vec::with_capacity(self.inner.part_size));
        let Some(upload) = self.upload.as_mut() else {
            return Err(Error::Worker {
                detail: "an S3 upload vanished".to_owned(),
            });
        };
        let index = upload.done.len() + upload.in_flight.len();
        let (inner, path, id) = (self.inner.clone(), self.path.clone(), upload.id.clone());
        let payload = PutPayload::from(Bytes::from(part));
        upload.in_flight.push_back(
            self.handle
                .spawn(async move { inner.store.put_part(&path, &id, index, payload).await }),
        );
        while self
            .upload
            .as_ref()
            .is_some_and(|u| u.in_flight.len() > PARTS_IN_FLIGHT)
        {
            self.wait_oldest()?;
        }
        Ok(())
    }

    /// Waits for the oldest part in flight.
    fn wait_oldest(&mut self) -> Result<()> {
        let url = self.url();
        let Some(upload) = self.upload.as_mut() else {
            return Ok(());
        };
        let Some(task) = upload.in_flight.pop_front() else {
            return Ok(());
        };
        let part = self
            .handle
            .block_on(task)
            .map_err(Error::worker)?
            .map_err(|e| self.inner.error("upload a part of", &url, e))?;
        upload.done.push(part);
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        let inner = self.inner.clone();
        if self.upload.is_none() {
            let bytes = Bytes::from(std::mem::take(&mut self.buf));
            return self
                .handle
                .block_on(inner.store.put(&self.path, PutPayload::from(bytes)))
                .map(|_| ())
                .map_err(|e| inner.error("write", &self.url(), e));
        }
        if !self.buf.is_empty() {
            self.send_part()?;
        }
        while self
            .upload
            .as_ref()
            .is_some_and(|u| !u.in_flight.is_empty())
        {
            self.wait_oldest()?;
        }
        let Some(upload) = self.upload.as_mut() else {
            return Ok(());
        };
        let parts = std::mem::take(&mut upload.done);
        self.handle
            .block_on(
                inner
                    .store
                    .complete_multipart(&self.path, &upload.id, parts),
            )
            .map_err(|e| inner.error("complete the upload of", &self.url(), e))?;
        self.upload = None;
        self.handle.block_on(inner.delete(&marker_path(&self.path)))
    }
}

impl Write for S3Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.committed {
            return Err(io::Error::other("object already committed"));
        }
        let room = self.inner.part_size - self.buf.len();
        let n = room.min(buf.len());
        self.buf.extend_from_slice(&buf[..n]);
        if self.buf.len() == self.inner.part_size {
            self.send_part().map_err(io::Error::other)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Parts are only ever whole: what is buffered goes at the next part or the commit.
        Ok(())
    }
}

impl ObjectWriter for S3Writer {
    fn commit(mut self: Box<Self>) -> Result<()> {
        if self.committed {
            return Ok(());
        }
        self.finish()?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        let Some(upload) = self.upload.take() else {
            return;
        };
        // Not committed (or the commit failed midway): the object was abandoned.
        for task in &upload.in_flight {
            task.abort();
        }
        let (inner, path) = (self.inner.clone(), self.path.clone());
        self.handle.spawn(async move {
            let dropped = async {
                abort(&inner, &path, &upload.id).await?;
                inner.delete(&marker_path(&path)).await
            };
            if let Err(e) = dropped.await {
                warn!(
                    object = %inner.url(&path),
                    error = %e,
                    "cannot abort an abandoned upload; the next start's clean-up retries"
                );
            }
        });
    }
}
