//! Reseed and flashback rows that prove they come from the manager.
//!
//! A reseed row tells an agent to replace its server's data with whatever arrives on a port
//! and to replicate from the primary the row names. Anyone who can insert into the jobs table
//! could write one, with a token of their choosing, and so replace a replica's data and
//! repoint its replication. The manager therefore seals every reseed and flashback row with a
//! key it shares with the agents (`jobs.row-key-file`, 0600): an HMAC-SHA256 over the task,
//! the joiner's server name, the port, the token and the params (which carry when the row was
//! written). An agent restores nothing from a row whose seal does not verify with its own copy
//! of the key, that names another server, or that is older than [`MAX_AGE_S`] (a sealed row
//! copied later is not replayed).

use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{ReseedParams, Task};

/// How old a sealed row may be when its agent takes it (clock skew included).
pub const MAX_AGE_S: u64 = 24 * 3600;

/// Bytes of key.
const KEY_LEN: usize = 32;

/// Why a key file cannot be used, or a seal not verified.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The key file is missing or unreadable.
    #[error("cannot read the row key `{}` ({source}): copy the manager's `jobs.row-key-file` to this host (mode 0600, owned by the agent's user), or set `jobs.row-key-file` to where it is", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The key file can be read by others.
    #[error("the row key `{}` has mode {mode:04o}: anyone who can read it can forge reseed rows; `chmod 600 {}`", path.display(), path.display())]
    Mode {
        /// The file.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// The key file does not hold a key.
    #[error("the row key `{}` does not hold 64 hexadecimal characters: copy it again from the manager (it creates one at its first start)", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
    },
    /// The row carries no seal, or one that does not verify.
    #[error("its seal {detail}: it was not written by this fleet's manager (or the key differs between the manager and this agent); nothing was touched")]
    Forged {
        /// What is wrong.
        detail: String,
    },
}

impl SealError {
    fn from_file(path: &Path, e: crate::private_file::PrivateFileError) -> SealError {
        match e {
            crate::private_file::PrivateFileError::Io { source, .. } => SealError::Unreadable {
                path: path.to_owned(),
                source,
            },
            crate::private_file::PrivateFileError::Mode { mode, .. } => SealError::Mode {
                path: path.to_owned(),
                mode,
            },
        }
    }
}

/// The key the manager and the agents share.
#[derive(Clone)]
pub struct RowKey([u8; KEY_LEN]);

impl std::fmt::Debug for RowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RowKey([SECRET])")
    }
}

impl RowKey {
    /// Reads the key at `path`, which must be private to its owner.
    pub fn load(path: &Path) -> Result<RowKey, SealError> {
        let text = crate::private_file::read(path).map_err(|e| SealError::from_file(path, e))?;
        RowKey::parse(&text, path)
    }

    /// Reads the key at `path`, creating a random one (0600) when there is none: what the
    /// manager does at its first start. Returns whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(RowKey, bool), SealError> {
        let mut key = [0u8; KEY_LEN];
        rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut key).map_err(|e| {
            SealError::Unreadable {
                path: path.to_owned(),
                source: std::io::Error::other(e.to_string()),
            }
        })?;
        let (text, created) =
            crate::private_file::read_or_create(path, || format!("{}\n", hex::encode(key)))
                .map_err(|e| SealError::from_file(path, e))?;
        Ok((RowKey::parse(&text, path)?, created))
    }

    fn parse(text: &str, path: &Path) -> Result<RowKey, SealError> {
        let mut key = [0u8; KEY_LEN];
        hex::decode_to_slice(text.trim(), &mut key).map_err(|_| SealError::Malformed {
            path: path.to_owned(),
        })?;
        Ok(RowKey(key))
    }

    /// The seal of a reseed row: hex HMAC-SHA256 of its task, joiner, port, token and params
    /// (without their `seal`).
    pub fn seal(&self, task: Task, port: u16, token: &str, params: &ReseedParams) -> String {
        hex::encode(self.mac(task, port, token, params).finalize().into_bytes())
    }

    /// Checks the seal of a row for `joiner` (this agent's server) taken at `now` (seconds
    /// since the epoch).
    pub fn verify(
        &self,
        task: Task,
        port: u16,
        token: &str,
        params: &ReseedParams,
        joiner: &str,
        now: u64,
    ) -> Result<(), SealError> {
        let forged = |detail: &str| SealError::Forged {
            detail: detail.to_owned(),
        };
        let seal = params.seal.as_deref().ok_or_else(|| forged("is missing"))?;
        let seal = hex::decode(seal.trim()).map_err(|_| forged("is not hexadecimal"))?;
        self.mac(task, port, token, params)
            .verify_slice(&seal)
            .map_err(|_| forged("does not match the row's task, port, token and params"))?;
        if params.target.as_deref() != Some(joiner) {
            return Err(forged(&format!(
                "is for server `{}`, not `{joiner}`",
                params.target.as_deref().unwrap_or("?")
            )));
        }
        let issued = params.issued_at.unwrap_or(0);
        if now.abs_diff(issued) > MAX_AGE_S {
            return Err(forged(&format!(
                "is {} h old (at most {} h are accepted: an old row copied back is not replayed)",
                now.abs_diff(issued) / 3600,
                MAX_AGE_S / 3600
            )));
        }
        Ok(())
    }

    fn mac(&self, task: Task, port: u16, token: &str, params: &ReseedParams) -> Hmac<Sha256> {
        let mut unsealed = params.clone();
        unsealed.seal = None;
        // A key of any length is accepted by HMAC: this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        for part in [
            "ferryman-row-seal-v1",
            task.as_str(),
            &port.to_string(),
            token,
            &unsealed.to_json(),
        ] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn params() -> ReseedParams {
        ReseedParams {
            method: crate::Method::Physicalbackup,
            backup_id: Some("c/db1/b".into()),
            gtid: Some("0-1-5".into()),
            primary_host: "10.0.0.1".into(),
            primary_port: 3306,
            payload_bytes: None,
            hold: false,
            target: Some("db2".into()),
            issued_at: Some(1_000_000),
            seal: None,
        }
    }

    #[test]
    fn a_sealed_row_verifies_and_any_change_breaks_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("row.key");
        let (key, created) = RowKey::load_or_create(&path).unwrap();
        assert!(created);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let (again, created) = RowKey::load_or_create(&path).unwrap();
        assert!(!created);
        let mut p = params();
        p.seal = Some(key.seal(Task::Reseedmariabackup, 4000, "tok", &p));
        let now = 1_000_100;
        let ok = |p: &ReseedParams, port, token: &str, joiner: &str| {
            again.verify(Task::Reseedmariabackup, port, token, p, joiner, now)
        };
        ok(&p, 4000, "tok", "db2").unwrap();
        let e = |r: Result<(), SealError>| r.unwrap_err().to_string();
        assert!(e(ok(&p, 4001, "tok", "db2")).contains("does not match"));
        assert!(e(ok(&p, 4000, "other", "db2")).contains("does not match"));
        assert!(e(ok(&p, 4000, "tok", "db3")).contains("is for server `db2`, not `db3`"));
        let mut moved = p.clone();
        moved.primary_host = "203.0.113.7".into();
        assert!(e(ok(&moved, 4000, "tok", "db2")).contains("does not match"));
        let mut unsealed = p.clone();
        unsealed.seal = None;
        assert!(e(ok(&unsealed, 4000, "tok", "db2")).contains("is missing"));
        let old = again.verify(
            Task::Reseedmariabackup,
            4000,
            "tok",
            &p,
            "db2",
            now + MAX_AGE_S,
        );
        assert!(e(old).contains("h old"));
        // Another key: forged.
        let other = RowKey::load_or_create(&dir.path().join("other.key"))
            .unwrap()
            .0;
        assert!(
            e(other.verify(Task::Reseedmariabackup, 4000, "tok", &p, "db2", now))
                .contains("not written by this fleet's manager")
        );
        // A key file others can read is refused.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(RowKey::load(&path)
            .unwrap_err()
            .to_string()
            .contains("chmod 600"));
    }
}
