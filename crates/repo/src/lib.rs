//! The Ferryman backup repository: a self-describing tree of compressed, checksummed backups
//! whose catalogue is their manifests, and the logs area.
//!
//! ```text
//! <root>/Backups/<cluster>/<server>/<backup-id>/payload.xbstream.zst | payload.sql.zst | payload.tar.zst
//! <root>/Backups/<cluster>/<server>/<backup-id>/manifest.json        (written last)
//! <root>/<cluster>/<server>/<error|slow>-<UTC time>-j<job>.log.zst
//! <root>/Quarantine/<cluster>/<server>/<backup-id>-q<UTC time>/  (set aside at start-up)
//! ```
//!
//! Files are 0600 and directories 0700 whatever the umask: backups and logs are readable by
//! the manager's user only.
//!
//! A stream is ingested with bounded memory: read asynchronously, then hashed (sha256 of the
//! raw and of the stored bytes), inspected (xbstream chunks and CRCs, dump footer, tar end),
//! compressed (multithreaded zstd) and written on a blocking thread. Only a whole, valid stream
//! gets a manifest; anything else leaves nothing behind.
//!
//! # Layout
//! - [`repository`]: [`Repository`], the catalogue: list, get, delete, verification results.
//! - [`leftovers`]: what a crashed manager left: partial backups removed, others quarantined
//!   ([`Leftovers`]).
//! - [`modes`]: owner-only files and directories, and tightening an older repository.
//! - [`ingest`](mod@ingest): [`ingest()`] and [`BackupMeta`], receiving one backup.
//! - [`pipeline`]: the bounded streaming compressor shared by backups and logs;
//!   [`Compression`].
//! - `inspect` (crate-private): what a stream must look like, and what it says
//!   (coordinates, versions, captured files, a dump's databases and rows per table).
//! - [`xbstream`]: the streaming xbstream parser; `xbstream/parser.rs` is the state machine,
//!   `format.rs` the chunk header, `chunk.rs` the chunk streaming now and its captured file.
//! - [`manifest`]: [`Manifest`], `manifest.json`.
//! - [`verification`]: [`Verification`], [`Check`], [`Status`], [`Outcome`]: the verifier's
//!   results as the manifest holds them.
//! - [`check`]: [`Repository::check`], the whole repository checked (`repo check`).
//! - [`checksum`]: reading a payload back, [`ChecksumReport`].
//! - [`copy`]: [`Repository::copy_from`], a backup copied to another repository (checked on
//!   the way, re-encrypted when the repositories' keys differ, manifest last).
//! - [`crypt`]: encryption at rest with age: a repository's [`Keys`], a manifest's
//!   [`Encryption`].
//! - [`retention`]: [`RetentionPolicy`] (from a cluster's `backup-keep-*`), [`plan`],
//!   [`PrunePlan`], and [`Repository::prune`] with its [`PruneReport`].
//! - [`logs`]: the logs area, [`LogMeta`], [`LogFile`].
//! - [`segments`]: archived binlog segments (checked event by event before they are stored),
//!   their manifests, and the [`segments::chain`] check of a cluster's GTID history.
//! - [`pitr`]: point-in-time recovery: how far a backup rolls forward through the segments,
//!   the recoverable windows, the plan of a restore to a point (refused outside the windows).
//! - [`proofs`]: proofs of recoverability: the stretch of archive between two backups
//!   replayed and its rows compared; their record.
//! - [`signing`]: manifest signatures (ed25519): [`Signer`], [`PublicKey`], [`Signatures`].
//! - [`layout`]: where things live; [`BackupId`].
//! - [`storage`]: the [`Storage`] trait and [`LocalStorage`].
//! - [`timestamp`]: [`Timestamp`], UTC times and calendar buckets.
//! - [`error`]: the crate's [`Error`].

pub mod check;
pub mod checksum;
pub mod copy;
pub mod crypt;
pub mod error;
mod hashing;
pub mod ingest;
mod inspect;
pub mod layout;
pub mod leftovers;
pub mod logs;
pub mod manifest;
pub mod modes;
pub mod pipeline;
pub mod pitr;
pub mod proofs;
pub mod repository;
pub mod retention;
pub mod segments;
pub mod signing;
pub mod storage;
pub mod timestamp;
pub mod verification;
pub mod xbstream;

pub use check::{CheckReport, ReadData};
pub use checksum::{payload_feed, ChecksumReport, FeedTap, PayloadFeed};
pub use copy::CopyCheck;
pub use crypt::{Encryption, Keys};
pub use error::{Error, Result};
pub use ingest::{ingest, BackupMeta, NODE_COMPRESSED};
pub use layout::BackupId;
pub use leftovers::{Leftovers, Quarantined};
pub use logs::{LogFile, LogKind, LogMeta};
pub use manifest::{Coordinates, CoordinatesSource, Format, GaleraPosition, Kind, Manifest, Tool};
pub use pipeline::{Compression, Wire};
pub use repository::Repository;
pub use retention::{
    plan, KeepReason, Kept, PruneFailure, PrunePlan, PruneReport, RetentionPolicy, Rule,
};
pub use signing::{PublicKey, SignReport, Signatures, Signer};
pub use storage::local::LocalStorage;
pub use storage::{Key, Storage};
pub use timestamp::Timestamp;
pub use verification::{Check, Outcome, Status, Verification};
