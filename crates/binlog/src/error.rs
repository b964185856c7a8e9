//! Errors of reading a binary log: each says where (the byte offset) and what to do.

/// What can go wrong reading a binary log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The stream does not start with the binlog magic `\xfebin`.
    #[error("{what} is not a MariaDB binary log (it does not start with the bytes fe 62 69 6e): check that it is a binlog file, not a relay log index or a compressed copy")]
    NotABinlog {
        /// The file or stream.
        what: String,
    },
    /// The stream ends inside an event.
    #[error("{what} ends inside an event at byte {offset} ({missing} bytes missing): the file was cut (a copy still being written, or a crash); use the events before it, or a whole copy")]
    Truncated {
        /// The file or stream.
        what: String,
        /// Where the cut event starts.
        offset: u64,
        /// How many bytes it lacks.
        missing: u64,
    },
    /// An event that cannot be what it says, or whose checksum does not match.
    #[error("{what} is damaged at byte {offset}: {detail}; nothing from there on can be trusted: use another copy")]
    Corrupt {
        /// The file or stream.
        what: String,
        /// Where the event starts.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// An encrypted binary log (`encrypt-binlog`): only the server can read it.
    #[error("{what} is encrypted (encrypt-binlog=ON) from byte {offset}: Ferryman reads binlogs through the server's replication protocol, which decrypts them; a file copy cannot be read")]
    Encrypted {
        /// The file or stream.
        what: String,
        /// Where the START_ENCRYPTION event is.
        offset: u64,
    },
    /// Reading the underlying file or stream failed.
    #[error("cannot read {what}: {source}")]
    Io {
        /// The file or stream.
        what: String,
        /// The reason.
        #[source]
        source: std::io::Error,
    },
    /// A spool asked to start over while it holds whole groups not cut into a segment.
    #[error("the binlog spool {what} still holds transactions not stored as a segment: store its segment and cut it before starting over (a bug in the archiver if you see this)")]
    Uncut {
        /// The spool's file.
        what: String,
    },
    /// A GTID or GTID position that does not parse.
    #[error("`{value}` is not a MariaDB GTID position: write DOMAIN-SERVER-SEQ, several separated by commas with one per domain, e.g. 0-1-50,1-2-7")]
    Gtid {
        /// The text given.
        value: String,
    },
}
