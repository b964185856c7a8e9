//! Leftovers of a verifier that stopped mid-restore (a crash, a kill -9): directories and,
//! maybe, a server still running in one.

use std::path::{Path, PathBuf};

use super::layout::{paths, DIR_PREFIX};
use crate::Result;

/// Removes every throwaway directory under `work_dir` (names starting with `tw-`), after
/// killing its server and any tool still working in it, and returns the removed paths. Call
/// it before starting any throwaway server (at the manager's start): it cannot tell a live
/// verification's directory from a leftover.
///
/// A server is signalled only when its command line names the directory, so a pid file
/// naming a PID since recycled by an unrelated process harms nothing. A missing `work_dir`
/// has nothing to sweep. Every leftover is tried; the first that could not be removed is then
/// the error.
pub fn sweep(work_dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(ferryman_mariadbd::sweep(work_dir, DIR_PREFIX, paths)?)
}
