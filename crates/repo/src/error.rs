//! Errors of the repository. An ingest error ends up in a job's result and in the manager's log,
//! so every message says what happened, to which backup, and what to do next, in one line.

use std::path::PathBuf;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in the repository.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A name (cluster, server, backup id, storage key) the repository cannot use.
    #[error("invalid {what} `{value}`: {reason}")]
    InvalidName {
        /// What the name is for ("cluster name", "backup id", ...).
        what: &'static str,
        /// The name as given.
        value: String,
        /// Why it was refused, with the rule.
        reason: String,
    },

    /// The caller asked for something the repository cannot do (bad compression level, ...).
    #[error(
        "{detail}; this is a bug in the caller or its configuration: fix it and run the job again"
    )]
    InvalidRequest {
        /// What is wrong.
        detail: String,
    },

    /// A point in time or GTID that no recoverable window holds (point-in-time recovery).
    #[error("{point} is outside every recoverable window: {reasons}; nothing was written. `ferryman pitr status` shows the windows and gaps: choose a point inside one")]
    Unrecoverable {
        /// The point asked for.
        point: String,
        /// Why each candidate backup cannot reach it.
        reasons: String,
    },

    /// The repository's root cannot be created or used.
    #[error("cannot open the repository at {}: {source}; check that the directory (monitoring-datadir in ferryman.toml) exists and is writable by the manager", root.display())]
    Open {
        /// The root directory.
        root: PathBuf,
        /// The reason.
        #[source]
        source: std::io::Error,
    },

    /// A storage operation failed.
    #[error("cannot {action} {location}: {source}; check the repository's file system (permissions, mount, errors in the kernel log)")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The object or path.
        location: String,
        /// The reason.
        #[source]
        source: std::io::Error,
    },

    /// The repository's file system has no space left.
    #[error("the repository file system at {root} is full ({}) while writing {what}; nothing partial was kept: free space or move monitoring-datadir, then run the job again", free_text(*.free))]
    StorageFull {
        /// The repository's location.
        root: String,
        /// Free bytes, when the storage can tell.
        free: Option<u64>,
        /// What was being written (a backup, a log, an object).
        what: String,
    },

    /// No such backup (or object).
    #[error("{what} not found in the repository at {root}; list the repository's backups to see which exist")]
    NotFound {
        /// What was looked for.
        what: String,
        /// The repository's location.
        root: String,
    },

    /// The backup (or log) is already in the repository.
    #[error("{what} already exists in the repository at {root}; each job is stored once: enqueue a new job to take another")]
    AlreadyExists {
        /// What was to be written.
        what: String,
        /// The repository's location.
        root: String,
    },

    /// The sender's stream failed (connection reset, read error) before its end.
    #[error("{subject}: the stream broke after {bytes} bytes ({source}); nothing was kept: check the sending agent's job result, then run the job again")]
    StreamBroken {
        /// The backup or log being received.
        subject: String,
        /// Raw bytes received before the failure.
        bytes: u64,
        /// The read error.
        #[source]
        source: std::io::Error,
    },

    /// A stream compressed on the node holds a block that is not what it says (a header out
    /// of bounds, a zstd frame that does not decompress to its raw length).
    #[error("{subject}: the node's compressed stream is damaged at raw byte {offset} ({detail}); nothing was kept: run the backup again, and if it happens again set the cluster's `backup-stream-compression = \"manager\"` and report it")]
    BadBlock {
        /// The backup being received.
        subject: String,
        /// Raw bytes received before the bad block.
        offset: u64,
        /// What is wrong.
        detail: String,
    },

    /// The stream is not a valid xbstream (bad magic, chunk CRC mismatch, ...).
    #[error("{subject}: the xbstream is corrupt at byte {offset} ({detail}); nothing was kept: check the sending agent's tool log, then run the backup again")]
    Corrupt {
        /// The backup being received.
        subject: String,
        /// Byte offset of the problem in the raw stream.
        offset: u64,
        /// What is wrong.
        detail: String,
    },

    /// The stream ended cleanly but is not a whole backup (no dump footer, no xtrabackup_info).
    #[error("{subject}: the stream is incomplete ({detail}); nothing was kept: check the sending agent's tool log, then run the backup again")]
    Incomplete {
        /// The backup being received.
        subject: String,
        /// What is missing.
        detail: String,
    },

    /// The backup records no GTID position although its server has a GTID history: a backup
    /// of a server that lost its replication state, which no replica could resume from.
    #[error("{subject}: the backup records no GTID position, but the cluster's servers use GTIDs (the source's is {server_gtid}); nothing was kept: the source may have lost its binary logs or its replication state (a replica whose replication was reset, a restore that was never pointed at the primary); check it, reseed it if needed, then run the backup again")]
    NoGtid {
        /// The backup being received.
        subject: String,
        /// The GTID state the manager knew of the source.
        server_gtid: String,
    },

    /// The caller cancelled the ingest.
    #[error("{subject}: cancelled after {bytes} bytes; nothing was kept")]
    Cancelled {
        /// The backup or log being received.
        subject: String,
        /// Raw bytes received before the cancellation.
        bytes: u64,
    },

    /// A manifest cannot be read or parsed.
    #[error("manifest {location} is unreadable ({detail}); restore it from a copy, or delete the backup's directory if the backup is not needed")]
    Manifest {
        /// Where the manifest is.
        location: String,
        /// What is wrong.
        detail: String,
    },

    /// A manifest whose signature does not verify against the trusted keys (or that has
    /// none): nothing of its backup is used.
    #[error("manifest {location} cannot be trusted: {detail}; {next}")]
    Signature {
        /// Where the manifest is.
        location: String,
        /// What is wrong, naming the key.
        detail: String,
        /// What to do.
        next: String,
    },

    /// A signing key file that cannot be used.
    #[error("the manifest signing key file {path} cannot be used: {detail}; fix the file or the path to it (`manager.signing-key-file`, `manager.trusted-signing-keys`)")]
    KeyFile {
        /// The file (or where the text came from).
        path: String,
        /// What is wrong.
        detail: String,
    },

    /// A stored payload does not match its manifest (size or sha256): it was not used.
    #[error("the stored payload {location} is damaged ({detail}); it was not used: use another copy of the backup (`ferryman backup show` lists its repositories), or delete the backup if no copy is good")]
    DamagedCopy {
        /// The payload, as `KEY in LOCATION`.
        location: String,
        /// What was found against what the manifest records.
        detail: String,
    },

    /// An encrypted payload, and no identity to decrypt it.
    #[error("{what} is encrypted (age) for {recipients}, and this repository has no identity to decrypt it: set `age-identity-file` in {table} to the key file of one of these public keys (`age-keygen -y FILE` prints a key file's public key)")]
    NoIdentity {
        /// The payload, as `KEY in LOCATION`.
        what: String,
        /// The public keys the payload is encrypted for.
        recipients: String,
        /// The table to set it in.
        table: String,
    },

    /// An encrypted payload none of the repository's identities opens.
    #[error("{what} is encrypted (age) for {recipients}, but the identity of [repositories.{repository}] in {source_of_key} is {public}: set `age-identity-file` to the key file of one of the payload's public keys (`age-keygen -y FILE` prints a key file's public key)")]
    WrongKey {
        /// The payload, as `KEY in LOCATION`.
        what: String,
        /// The public keys the payload is encrypted for.
        recipients: String,
        /// Where the identity came from (`file PATH`, `environment variable NAME`).
        source_of_key: String,
        /// The identity's public keys.
        public: String,
        /// The repository's name.
        repository: String,
    },

    /// An encrypted payload that does not decrypt with the right key: damaged or replaced.
    #[error("{what} does not decrypt ({detail}): it was damaged or replaced after it was stored, and nothing of it was used: use another copy of the backup (`ferryman backup show` lists its repositories), or delete the backup if no copy is good")]
    Undecryptable {
        /// The payload, as `KEY in LOCATION`.
        what: String,
        /// age's error.
        detail: String,
    },

    /// An object storage (S3) request failed, after its retries for transient errors.
    #[error("cannot {action} {location}: {detail}; {hint}")]
    ObjectStore {
        /// What was being done.
        action: &'static str,
        /// The object or prefix, as `s3://bucket/key`.
        location: String,
        /// The storage's answer.
        detail: String,
        /// What to do, chosen by the kind of failure.
        hint: &'static str,
    },

    /// A restic command failed.
    #[error("restic could not {action} {location}: {detail}; {hint}")]
    Restic {
        /// What was being done.
        action: &'static str,
        /// The object and the repository, as `KEY in restic:REPOSITORY`.
        location: String,
        /// The last lines restic wrote on stderr.
        detail: String,
        /// What to do, chosen by what restic said.
        hint: String,
    },

    /// A worker thread of the repository panicked.
    #[error("a repository worker thread failed ({detail}); this is a bug: report it with the manager's log")]
    Worker {
        /// The panic or join error.
        detail: String,
    },
}

fn free_text(free: Option<u64>) -> String {
    match free {
        Some(bytes) => format!("{bytes} bytes free"),
        None => "free space unknown".to_owned(),
    }
}

impl Error {
    /// True when the ingest was cancelled by its caller (not a failure of the stream).
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Error::Cancelled { .. })
    }

    /// True when the repository ran out of space.
    pub fn is_storage_full(&self) -> bool {
        matches!(self, Error::StorageFull { .. })
    }

    /// True when the thing looked for does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// Names what was being written in a [`Error::StorageFull`] after the subject (a backup)
    /// rather than the storage key the storage layer knows; other errors are returned as is.
    pub(crate) fn about(self, subject: &str) -> Error {
        match self {
            Error::StorageFull { root, free, .. } => Error::StorageFull {
                root,
                free,
                what: subject.to_owned(),
            },
            other => other,
        }
    }

    /// The repository error a storage writer or reader carried through `std::io`, or `e` as an
    /// [`Error::Io`] of `action` on `location` when it carries none.
    pub(crate) fn from_io(e: std::io::Error, action: &'static str, location: String) -> Error {
        let io = |source| Error::Io {
            action,
            location: location.clone(),
            source,
        };
        if e.get_ref().is_none() {
            // An OS error: keep it whole (its errno matters to the message).
            return io(e);
        }
        let kind = e.kind();
        match e.into_inner().map(|inner| inner.downcast::<Error>()) {
            Some(Ok(error)) => *error,
            Some(Err(other)) => io(std::io::Error::new(kind, other)),
            None => io(std::io::Error::from(kind)),
        }
    }

    /// The error of a blocking task that could not be joined.
    pub(crate) fn worker(e: tokio::task::JoinError) -> Error {
        Error::Worker {
            detail: e.to_string(),
        }
    }
}

/// True when `e` means "no space left on device" (`ENOSPC`, or `EDQUOT`: a quota is as full).
pub(crate) fn is_storage_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    ) || e.raw_os_error() == Some(nix::libc::ENOSPC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_main_messages_say_what_happened_and_what_to_do() {
        let full = Error::StorageFull {
            root: "/var/lib/ferryman".into(),
            free: Some(4096),
            what: "backup shop/db1/20261121T025800Z-j42 (mariabackup from 10.0.0.5)".into(),
        };
        assert_eq!(
            full.to_string(),
            "the repository file system at /var/lib/ferryman is full (4096 bytes free) while \
             writing backup shop/db1/20261121T025800Z-j42 (mariabackup from 10.0.0.5); nothing \
             partial was kept: free space or move monitoring-datadir, then run the job again"
        );
        let broken = Error::StreamBroken {
            subject: "backup shop/db1/20261121T025800Z-j42 (mysqldump from 10.0.0.5)".into(),
            bytes: 1234,
            source: std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "connection reset by peer",
            ),
        };
        assert_eq!(
            broken.to_string(),
            "backup shop/db1/20261121T025800Z-j42 (mysqldump from 10.0.0.5): the stream broke \
             after 1234 bytes (connection reset by peer); nothing was kept: check the sending \
             agent's job result, then run the job again"
        );
        let incomplete = Error::Incomplete {
            subject: "backup shop/db1/20261121T025800Z-j42 (mysqldump from 10.0.0.5)".into(),
            detail: "the dump does not end with `-- Dump completed`".into(),
        };
        assert_eq!(
            incomplete.to_string(),
            "backup shop/db1/20261121T025800Z-j42 (mysqldump from 10.0.0.5): the stream is \
             incomplete (the dump does not end with `-- Dump completed`); nothing was kept: check \
             the sending agent's tool log, then run the backup again"
        );
        assert!(full.is_storage_full() && !broken.is_cancelled());
    }

    #[test]
    fn enospc_and_quotas_count_as_full() {
        assert!(is_storage_full(&std::io::Error::from_raw_os_error(
            nix::libc::ENOSPC
        )));
        assert!(is_storage_full(&std::io::Error::from_raw_os_error(
            nix::libc::EDQUOT
        )));
        assert!(!is_storage_full(&std::io::Error::from_raw_os_error(
            nix::libc::EIO
        )));
    }
}
