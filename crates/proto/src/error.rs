//! Errors of the shared protocol types.

use crate::header::{StreamKind, MAGIC, VERSION};

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong when reading protocol values.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// A task name that neither Ferryman nor replication-manager's donor scripts know.
    #[error(
        "unknown task `{name}`: expected one of {known}; check the task name written in the jobs table or the config",
        known = crate::task::Task::names().join(", ")
    )]
    UnknownTask {
        /// The name as found.
        name: String,
    },

    /// A reseed method nobody knows.
    #[error(
        "unknown reseed method `{name}`: expected one of physicalbackup, logicalbackup, \
         logicalmaster (or flashback, through `ferryman flashback`)"
    )]
    UnknownMethod {
        /// The name as given.
        name: String,
    },

    /// The stream does not start with the Ferryman magic: it has no header, or a damaged one.
    #[error(
        "not a Ferryman stream header: it starts with `{found}`, expected `{expected}`; \
         legacy donors (socat) send no header and must stream to their job's own port, \
         not to the Ferryman stream port",
        found = found.escape_ascii(),
        expected = MAGIC.escape_ascii()
    )]
    BadMagic {
        /// The first bytes received, in place of the magic.
        found: [u8; MAGIC.len()],
    },

    /// The header's version is not the one this build speaks.
    #[error(
        "stream header version {seen} is not supported: this Ferryman speaks version {supported}; \
         run the same Ferryman version on the manager and the agents"
    )]
    UnsupportedVersion {
        /// The version in the header.
        seen: u16,
        /// The version this build reads and writes.
        supported: u16,
    },

    /// The header names a stream kind this build does not know.
    #[error(
        "unknown stream kind {kind} in stream header (version {VERSION}): expected one of {known}; \
         run the same Ferryman version on the manager and the agents",
        known = StreamKind::describe_all()
    )]
    UnknownStreamKind {
        /// The kind byte as found.
        kind: u8,
    },

    /// The header sets flags that are reserved (zero) in this version.
    #[error(
        "stream header sets reserved flags {flags:#04x}, which version {VERSION} of this build \
         does not know; run the same Ferryman version on the manager and the agents"
    )]
    ReservedFlags {
        /// The flags byte as found.
        flags: u8,
    },

    /// A compressed-blocks stream, or the row's parameters for one, is malformed.
    #[error(
        "compressed stream refused: {detail}; run the same Ferryman version on the manager and \
         the agents, or set the cluster's `backup-stream-compression = \"manager\"`"
    )]
    BadBlock {
        /// What is wrong.
        detail: String,
    },

    /// The connection ended before a whole header arrived.
    #[error(
        "stream header truncated: the peer closed the connection after {got} of {expected} bytes; \
         check the sender's log for why it stopped"
    )]
    Truncated {
        /// Bytes received before the end of the stream.
        got: usize,
        /// Bytes a header needs.
        expected: usize,
    },

    /// Reading or writing the header failed below the protocol.
    #[error(
        "cannot {op} the stream header: {message} ({kind:?}); check the network between \
         the manager and the agent, and the peer's log"
    )]
    HeaderIo {
        /// `read` or `write`.
        op: &'static str,
        /// The I/O error's kind, for callers deciding whether to retry.
        kind: std::io::ErrorKind,
        /// The I/O error's message (kept as text so this enum stays comparable).
        message: String,
    },

    /// A stream token's text is not 64 lowercase hex characters. The text itself is not kept:
    /// it is a secret.
    #[error(
        "stream token is not {expected} lowercase hex characters: {problem}; check the `token` \
         column of the job's row (it is written by Ferryman, never by hand)",
        expected = crate::token::StreamToken::HEX_LEN,
        problem = describe_hex_problem(*len, *invalid_at)
    )]
    BadTokenHex {
        /// Length of the text, in characters.
        len: usize,
        /// Character position of the first character that is not lowercase hex, if any.
        invalid_at: Option<usize>,
    },

    /// A framed payload ended before its end marker: the sender stopped or was cut off.
    #[error(
        "the payload stream ended after {received} bytes without its end marker: the sender \
         stopped or the connection was cut; see the manager's job for why, then start again"
    )]
    PayloadTruncated {
        /// Payload bytes received.
        received: u64,
    },

    /// A framed payload's trailer does not match what arrived.
    #[error(
        "the payload received ({received_bytes} bytes) does not match its trailer ({sent_bytes} \
         bytes and a sha256; for a stored backup, its manifest's checksum): the backup is \
         damaged, or the stream was damaged in transit; start again, and if it happens twice \
         use another backup and check the network"
    )]
    PayloadMismatch {
        /// Bytes the sender says it sent.
        sent_bytes: u64,
        /// Bytes received.
        received_bytes: u64,
    },

    /// A frame longer than the protocol allows: not a Ferryman sender, or a damaged stream.
    #[error(
        "payload frame of {len} bytes exceeds the maximum {max}: the stream is damaged or not \
         from a Ferryman manager of this version"
    )]
    FrameTooLarge {
        /// The announced length.
        len: usize,
        /// The maximum.
        max: usize,
    },

    /// Reading a framed payload failed below the protocol.
    #[error(
        "cannot read the payload stream: {message} ({kind:?}); check the network between the \
         manager and this server, and the manager's log"
    )]
    PayloadIo {
        /// The I/O error's kind.
        kind: std::io::ErrorKind,
        /// The message.
        message: String,
    },

    /// The operating system's random source failed, so no token could be made.
    #[error(
        "cannot generate a stream token: the OS random source failed: {message}; \
         check that getrandom(2) or /dev/urandom is available to Ferryman"
    )]
    Random {
        /// The error as reported.
        message: String,
    },
}

// Reseed payload framing (frames.rs).
impl Error {
    pub(crate) fn payload_io(e: &std::io::Error) -> Error {
        Error::PayloadIo {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

fn describe_hex_problem(len: usize, invalid_at: Option<usize>) -> String {
    match invalid_at {
        Some(i) => format!("character {} is not one of 0-9 a-f", i + 1),
        None => format!("it has {len} characters"),
    }
}

impl Error {
    /// The [`Error::HeaderIo`] for an I/O error met while doing `op` (`read` or `write`).
    pub(crate) fn header_io(op: &'static str, e: &std::io::Error) -> Error {
        Error::HeaderIo {
            op,
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}
