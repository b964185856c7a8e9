//! The Ferryman verifier: proves that a stored backup restores.
//!
//! For one backup: checks before any restore (payload present and non-empty, checksums equal
//! to the manifest, a dump's header and completion footer, size change against the previous
//! good backup of the same source), then a test restore on a throwaway server started from the
//! installed `mariadbd` through `ferryman_mariadbd` (a dump imported; an xbstream extracted, prepared and started), then
//! checks on the restored copy (expected databases, watched tables non-empty, row counts equal
//! to those recorded at backup time, `CHECK TABLE`). Every check is recorded with its outcome;
//! the result is appended to the backup's manifest.
//!
//! # Layout
//! - The result appended to the manifest, [`Verification`] with its [`Check`]s, is
//!   `ferryman_repo`'s ([`ferryman_repo::verification`]): the manifest holds it and retention
//!   reads it. Re-exported here.
//! - [`precheck`]: the checks on the stored backup, before any restore.
//! - [`postcheck`]: the checks on the restored copy; `sessions.rs` runs their statements over
//!   every table on several sessions at once.
//! - [`verifier`]: [`verify`], one backup start to end.
//! - [`throwaway`]: the throwaway server: install or extract and prepare, start, import, stop
//!   and remove, leftovers of a crashed run; binlog replay; kept as a restored copy.
//! - [`restore`]: `ferryman restore`: a backup restored into a directory and rolled forward
//!   to a point through the archived binlog segments.
//! - [`proof`]: a proof of recoverability: a backup rolled forward to a later one's GTID and
//!   the rows compared.
//! - [`error`]: the crate's [`Error`].

pub mod error;
pub mod postcheck;
pub mod precheck;
pub mod proof;
pub mod restore;
mod sessions;
pub mod throwaway;
pub mod verifier;

pub use error::{Error, Result};
pub use ferryman_repo::verification::{Check, Outcome, Status, Verification};
pub use verifier::{verify, Origin, Settings, Verified};
