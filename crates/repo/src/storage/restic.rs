//! [`ResticStorage`]: the repository in a restic repository (the archive tier, as
//! replication-manager archives into restic), through the `restic` program from Debian.
//!
//! # How objects map to snapshots
//! Every object is one snapshot of one file, made with `restic backup --stdin
//! --stdin-filename KEY --tag ferryman --host ferryman`: its path in restic is `/KEY`, so the
//! layout is the local one (`restic dump latest /Backups/...` or `restic restore` give a DBA
//! the files back by hand). The newest snapshot of a path is the object; rewriting an object
//! (a manifest that gains a verification) makes a new snapshot, then forgets the older ones.
//! Deleting forgets every snapshot of the object or of everything under a prefix, and a
//! deletion under a prefix (a whole backup) prunes, so that the space comes back.
//!
//! # Why this keeps the repository's rules
//! - **Visible only when whole.** restic writes a snapshot only once its stdin ends and every
//!   blob is stored; a writer dropped before commit kills restic first (`stream.rs`), so an
//!   interrupted copy leaves no snapshot, only unreferenced data that `prune` drops.
//! - **Manifest last.** The manifest is its own snapshot, made after the payload's.
//! - **One process's locks.** restic takes a shared lock for `backup` and `dump` and an
//!   exclusive one for `forget` and `prune`; this process orders its own commands the same way
//!   (a read-write lock), and waits out other processes' locks (`cli.rs`).
//!
//! Every command opens the repository (restic derives the key from the password with scrypt:
//! most of a second), so snapshot contents and sizes, which never change, are cached by
//! snapshot id.

mod cli;
mod snapshots;
mod stream;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ferryman_config::ResticConfig;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::{Entry, Key, ObjectReader, ObjectWriter, Storage};
use crate::check::{NativeCheck, ReadData};
use crate::{Error, Result};
use cli::Cli;
use snapshots::Inner;
use stream::ResticReader;

/// The tag of every snapshot Ferryman makes (others in the repository are ignored).
const TAG: &str = "ferryman";

/// A repository in a restic repository.
#[derive(Debug, Clone)]
pub struct ResticStorage {
    inner: Arc<Inner>,
}

impl ResticStorage {
    /// The restic repository a `kind = "restic"` table describes. No command runs yet: see
    /// [`Storage::probe`].
    pub fn open(config: &ResticConfig) -> Result<ResticStorage> {
        let password = config
            .password
            .clone()
            .ok_or_else(|| Error::InvalidRequest {
                detail: format!(
                    "the restic repository {} has no password (password-file or password-env)",
                    config.repository
                ),
            })?;
        Ok(ResticStorage {
            inner: Arc::new(Inner {
                cli: Cli::new(&config.repository, password)?,
                order: Arc::default(),
                cache: Mutex::default(),
                listing: Mutex::default(),
            }),
        })
    }
}

/// True when `key` is `prefix` or under it.
fn is_under(key: &Key, prefix: &Key) -> bool {
    key == prefix
        || key
            .as_str()
            .strip_prefix(prefix.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
}

impl Storage for ResticStorage {
    fn location(&self) -> String {
        self.inner.cli.location()
    }

    fn local_path(&self, _key: &Key) -> Option<PathBuf> {
        None
    }

    fn create<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Box<dyn ObjectWriter>>> {
        async move { Ok(Box::new(self.inner.writer(key).await?) as Box<dyn ObjectWriter>) }.boxed()
    }

    fn put<'a>(&'a self, key: &'a Key, bytes: Vec<u8>) -> BoxFuture<'a, Result<()>> {
        async move {
            let older = self.inner.ids_where(|k| k == key).await?;
            let mut writer = self.inner.writer(key).await?;
            let what = key.to_string();
            let to = what.clone();
            // A failed write drops the writer, which kills restic: no partial snapshot.
            tokio::task::spawn_blocking(move || {
                std::io::Write::write_all(&mut writer, &bytes)
                    .map_err(|e| Error::from_io(e, "write", to))?;
                Box::new(writer).commit()
            })
            .await
            .map_err(Error::worker)??;
            // The new snapshot is there: the older ones can go.
            self.inner.forget(older, &what, false).await
        }
        .boxed()
    }

    fn get<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<Vec<u8>>>> {
        async move {
            match self.inner.object(key).await? {
                Some(s) => Ok(Some(self.inner.dump(&s).await?)),
                None => Ok(None),
            }
        }
        .boxed()
    }

    fn open<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<ObjectReader>> {
        async move {
            let Some(s) = self.inner.object(key).await? else {
                return Err(Error::NotFound {
                    what: key.to_string(),
                    root: self.location(),
                });
            };
            let shared = Arc::clone(&self.inner.order).read_owned().await;
            let what = key.to_string();
            let path = format!("/{key}");
            let running = self
                .inner
                .cli
                .spawn("read", &what, &["dump", &s.id, &path], false)?;
            let reader = ResticReader::new(Arc::clone(&self.inner), running, what, shared);
            Ok(Box::new(reader) as ObjectReader)
        }
        .boxed()
    }

    fn list<'a>(&'a self, prefix: Option<&'a Key>) -> BoxFuture<'a, Result<Vec<Entry>>> {
        async move {
            let mut names: BTreeMap<String, bool> = BTreeMap::new();
            for key in self.inner.objects().await?.into_keys() {
                let rest = match prefix {
                    None => key.as_str(),
                    Some(p) => match key.as_str().strip_prefix(p.as_str()) {
                        Some(rest) if rest.starts_with('/') => &rest[1..],
                        _ => continue,
                    },
                };
                let (name, is_dir) = match rest.split_once('/') {
                    Some((dir, _)) => (dir, true),
                    None => (rest, false),
                };
                *names.entry(name.to_owned()).or_default() |= is_dir;
            }
            Ok(names
                .into_iter()
                .map(|(name, is_dir)| Entry { name, is_dir })
                .collect())
        }
        .boxed()
    }

    fn delete<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<()>> {
        async move {
            let ids = self.inner.ids_where(|k| k == key).await?;
            self.inner.forget(ids, key.as_str(), false).await
        }
        .boxed()
    }

    fn delete_prefix<'a>(&'a self, prefix: &'a Key) -> BoxFuture<'a, Result<()>> {
        async move {
            let ids = self.inner.ids_where(|k| is_under(k, prefix)).await?;
            self.inner.forget(ids, prefix.as_str(), true).await
        }
        .boxed()
    }

    fn rename<'a>(&'a self, from: &'a Key, to: &'a Key) -> BoxFuture<'a, Result<()>> {
        async move {
            let objects = self.inner.objects().await?;
            if objects.keys().any(|k| is_under(k, to)) {
                return Err(Error::AlreadyExists {
                    what: to.to_string(),
                    root: self.location(),
                });
            }
            let moved: Vec<Key> = objects
                .keys()
                .filter(|k| is_under(k, from))
                .cloned()
                .collect();
            for key in &moved {
                let rest = &key.as_str()[from.as_str().len()..];
                let target = Key::new(&format!("{to}{rest}"))?;
                let mut reader = self.open(key).await?;
                let mut writer = self.create(&target).await?;
                let what = target.to_string();
                tokio::task::spawn_blocking(move || {
                    std::io::copy(&mut reader, &mut writer)
                        .map_err(|e| Error::from_io(e, "copy", what))?;
                    writer.commit()
                })
                .await
                .map_err(Error::worker)??;
            }
            let ids = self.inner.ids_where(|k| is_under(k, from)).await?;
            self.inner.forget(ids, from.as_str(), false).await
        }
        .boxed()
    }

    fn size<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<u64>>> {
        async move {
            match self.inner.object(key).await? {
                Some(s) => Ok(Some(self.inner.size_of(&s).await?)),
                None => Ok(None),
            }
        }
        .boxed()
    }

    fn free_space(&self) -> BoxFuture<'_, Result<Option<u64>>> {
        async { Ok(None) }.boxed()
    }

    fn probe(&self) -> BoxFuture<'_, Result<()>> {
        async move {
            self.inner
                .cli
                .run("open", "the repository", &["cat", "config"])
                .await
                .map(|_| ())
        }
        .boxed()
    }

    fn check_native(&self, read_data: ReadData) -> BoxFuture<'_, Result<Option<NativeCheck>>> {
        async move {
            let subset;
            let mut args = vec!["check"];
            match read_data {
                ReadData::None => {}
                ReadData::All => args.push("--read-data"),
                ReadData::Subset { n, m } => {
                    subset = format!("--read-data-subset={n}/{m}");
                    args.push(&subset);
                }
            }
            let _exclusive = self.inner.order.write().await;
            let out = self.inner.cli.command(&args).output().await.map_err(|e| {
                self.inner
                    .cli
                    .error("check", "the repository", &e.to_string())
            })?;
            let ok = out.status.success();
            let text = if ok { &out.stdout } else { &out.stderr };
            Ok(Some(NativeCheck {
                tool: "restic check".to_owned(),
                ok,
                summary: ferryman_exec::command::tail(text, if ok { 1 } else { 5 }),
            }))
        }
        .boxed()
    }
}
