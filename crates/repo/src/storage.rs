//! Where the repository's bytes live: the [`Storage`] trait, its keys, and its writers.
//!
//! The trait is object-shaped (keys, whole-object puts, prefix listing and deletion) so that an
//! S3 backend (object_store) can implement it as well as the local file system
//! ([`local::LocalStorage`]) does today.
//!
//! Why boxed futures rather than `async fn` in the trait: the manager picks the backend at run
//! time from its configuration and holds it as `Arc<dyn Storage>`; native `async fn` in traits is
//! not dyn-compatible, and `#[async_trait]` would box the same futures behind a macro.
//!
//! Why the streaming writer is a blocking [`std::io::Write`]: the payload goes through zstd's
//! `Encoder`, a `Write` adaptor that runs on a blocking thread anyway (compression and hashing
//! must not run on the async runtime), so the storage writer sits directly under it with no
//! async/sync bridge in the hot path. An S3 writer can upload its parts from that thread with
//! `Handle::block_on`, which is allowed on `spawn_blocking` threads.

pub mod local;
pub mod restic;
pub mod s3;

use std::fmt;
use std::io::{Read, Write};
use std::path::PathBuf;

use futures_util::future::BoxFuture;

use crate::check::{NativeCheck, ReadData};
use crate::{Error, Result};

/// Longest accepted key component, in bytes (well under the 255 of common file systems).
const MAX_COMPONENT: usize = 128;

/// A validated storage key: `/`-separated components of `[A-Za-z0-9_.-]`, none empty, none
/// starting with a dot (so `.` and `..` are impossible, and dot-names stay free for a backend's
/// temporary files, which listings never show).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(String);

impl Key {
    /// Parses `a/b/c`, validating every component.
    pub fn new(path: &str) -> Result<Key> {
        if path.is_empty() {
            return Err(Error::InvalidName {
                what: "storage key",
                value: String::new(),
                reason: "it is empty".to_owned(),
            });
        }
        for component in path.split('/') {
            check_component("storage key component", component)?;
        }
        Ok(Key(path.to_owned()))
    }

    /// A key built from components the caller has already validated.
    pub(crate) fn trusted(path: String) -> Key {
        debug_assert!(Key::new(&path).is_ok(), "invalid trusted key {path:?}");
        Key(path)
    }

    /// This key with one more component.
    pub fn join(&self, component: &str) -> Result<Key> {
        check_component("storage key component", component)?;
        Ok(Key(format!("{}/{component}", self.0)))
    }

    /// The key as `a/b/c`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last component.
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The key without its last component, if it has more than one.
    pub fn parent(&self) -> Option<Key> {
        self.0
            .rsplit_once('/')
            .map(|(parent, _)| Key(parent.to_owned()))
    }

    /// The components, first to last.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl serde::Serialize for Key {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks one name used as a key component (a cluster, a server, a backup id...).
pub fn check_component(what: &'static str, value: &str) -> Result<()> {
    let reason = if value.is_empty() {
        Some("it is empty".to_owned())
    } else if value.len() > MAX_COMPONENT {
        Some(format!("it is longer than {MAX_COMPONENT} bytes"))
    } else if value.starts_with('.') {
        Some("it starts with a dot".to_owned())
    } else {
        value
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
            .map(|c| format!("it contains {c:?}"))
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(Error::InvalidName {
            what,
            value: value.to_owned(),
            reason: format!(
                "{reason}; use up to {MAX_COMPONENT} of A-Z a-z 0-9 _ . -, not starting with a dot"
            ),
        }),
    }
}

/// One name directly under a listed prefix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// The component's name.
    pub name: String,
    /// True for a "directory" (a prefix with objects under it), false for an object.
    pub is_dir: bool,
}

/// An object being written. Bytes go to a hidden partial object; [`ObjectWriter::commit`]
/// makes it durable and visible under its key. Dropping it without committing discards it.
///
/// Used from a blocking thread (see the module documentation).
pub trait ObjectWriter: Write + Send {
    /// Flushes, makes the object durable, and publishes it under its key (replacing any object
    /// there). Blocking.
    fn commit(self: Box<Self>) -> Result<()>;
}

/// A blocking reader of a stored object.
pub type ObjectReader = Box<dyn Read + Send>;

/// Object storage as the repository uses it. Keys name objects; "directories" are prefixes.
pub trait Storage: fmt::Debug + Send + Sync {
    /// Where the storage is, for messages (`/var/lib/ferryman`, `s3://bucket/prefix`).
    fn location(&self) -> String;

    /// The local path of `key`, for backends on the local file system.
    fn local_path(&self, key: &Key) -> Option<PathBuf>;

    /// Starts writing the object `key`.
    fn create<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Box<dyn ObjectWriter>>>;

    /// Writes a small object durably and atomically: after success it is there whole, after a
    /// crash it is either the old one or the new one.
    fn put<'a>(&'a self, key: &'a Key, bytes: Vec<u8>) -> BoxFuture<'a, Result<()>>;

    /// Reads a whole object; `None` when there is none.
    fn get<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<Vec<u8>>>>;

    /// Opens an object for streaming reads (blocking reads: use them on a blocking thread).
    fn open<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<ObjectReader>>;

    /// The names directly under `prefix` (the root when `None`), sorted; empty when there is
    /// nothing. Names that are not valid key components (foreign files) are left out.
    fn list<'a>(&'a self, prefix: Option<&'a Key>) -> BoxFuture<'a, Result<Vec<Entry>>>;

    /// Deletes one object; nothing to delete is not an error.
    fn delete<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<()>>;

    /// Deletes everything under `prefix` (and the prefix itself); nothing to delete is not an
    /// error.
    fn delete_prefix<'a>(&'a self, prefix: &'a Key) -> BoxFuture<'a, Result<()>>;

    /// Moves an object or everything under a prefix to `to`, which must not exist yet
    /// (durably; for an object store, a copy then a delete).
    fn rename<'a>(&'a self, from: &'a Key, to: &'a Key) -> BoxFuture<'a, Result<()>>;

    /// The size of the object `key` in bytes; `None` when there is no such object (or it is
    /// a prefix).
    fn size<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<u64>>>;

    /// Bytes available to the repository, when the backend can tell.
    fn free_space(&self) -> BoxFuture<'_, Result<Option<u64>>>;

    /// Checks that the storage answers and lets the manager in (one listing), with an error
    /// that says what to fix: for `config check` and the manager's start.
    fn probe(&self) -> BoxFuture<'_, Result<()>>;

    /// The backend's own consistency check, for backends that have one (`restic check`,
    /// reading back the data `read_data` names), run by `repo check`; `None` for the others.
    fn check_native(&self, read_data: ReadData) -> BoxFuture<'_, Result<Option<NativeCheck>>> {
        let _ = read_data;
        Box::pin(async { Ok(None) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_accept_plain_names_and_refuse_escapes() {
        let key = Key::new("Backups/shop/db1/20261121T025800Z-j42").unwrap();
        assert_eq!(key.name(), "20261121T025800Z-j42");
        assert_eq!(key.parent().unwrap().as_str(), "Backups/shop/db1");
        assert_eq!(
            key.join("manifest.json").unwrap().as_str(),
            "Backups/shop/db1/20261121T025800Z-j42/manifest.json"
        );
        for bad in [
            "", "/a", "a/", "a//b", "..", "a/../b", ".", ".hidden", "a b", "a\\b", "é", "a/b:c",
        ] {
            assert!(Key::new(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Key::new(&"x".repeat(129)).is_err());
        assert!(Key::new(&"x".repeat(128)).is_ok());
    }
}
