//! A streaming parser for the xbstream archives written by
//! `mariabackup --stream=xbstream` (and Percona XtraBackup), which verifies the
//! checksum of every chunk as the bytes go by.
//!
//! The manager receives a physical backup as one byte stream. Before it publishes
//! the backup it must know that the stream is whole and uncorrupted, and what the
//! small metadata files (`xtrabackup_binlog_info`, `xtrabackup_info`,
//! `backup-my.cnf`) say. [`XbstreamParser`] takes the bytes in whatever pieces the
//! network delivers and never holds a payload in memory.
//!
//! # Format
//!
//! An xbstream is a sequence of chunks. Chunks of different files interleave
//! (`--parallel`, and the redo log copier runs alongside the data files).
//! Integers are little-endian.
//!
//! | field                                   | bytes           | in chunk types |
//! |-----------------------------------------|-----------------|----------------|
//! | magic `XBSTCK01`                        | 8               | all            |
//! | flags (bit 0: ignorable if unknown)     | 1               | all            |
//! | type: `P` payload, `S` sparse, `E` end  | 1               | all            |
//! | path length (below 512)                 | 4               | all            |
//! | path                                    | path length     | all            |
//! | sparse map entry count                  | 4               | `S`            |
//! | payload length                          | 8               | `P`, `S`       |
//! | offset of the payload in the file       | 8               | `P`, `S`       |
//! | checksum                                | 4               | `P`, `S`       |
//! | sparse map: (hole u32, data u32)        | 8 × entry count | `S`            |
//! | payload                                 | payload length  | `P`, `S`       |
//!
//! The checksum is the zlib (ISO 3309) CRC-32 of the sparse map followed by the
//! payload. A chunk of an unknown type with the ignorable flag is laid out like a
//! `P` chunk: that is how the MariaDB and Percona readers skip it. MariaDB 10.11
//! writes only `P` and `E` chunks, flags 0, payloads of at most 10 MiB, and one
//! `E` chunk per file, even for an empty file. `S` chunks come from Percona
//! XtraBackup 8.0 for tablespaces with punched holes. Sources: MariaDB
//! `extra/mariabackup/xbstream{.h,_read.cc,_write.cc,.cc}`, Percona's
//! xbstream format notes, checked against real mariabackup 10.11 streams.
//!
//! # What is checked
//!
//! Everything `mbstream -x` checks, and more:
//! - the magic, the type (unknown is an error without the ignorable flag) and the
//!   path length of every chunk;
//! - paths are relative and have no `..` component, so that a crafted stream
//!   cannot make an extractor write outside its directory;
//! - the checksum of every `P` and `S` chunk (ignorable chunks are skipped
//!   unchecked: their meaning is unknown, and no extractor uses their bytes);
//! - the chunks of each file follow one another without gap or overlap, from
//!   offset 0, and a sparse map places exactly the payload length;
//! - no file has chunks after its `E` chunk;
//! - at the end: the stream does not stop inside a chunk, holds at least one
//!   chunk, and every file got its `E` chunk.
//!
//! The format has no trailer, so a stream cut exactly after the `E` chunk of a
//! file, while no other file is open, passes. mariabackup writes
//! `xtrabackup_info` last: callers should capture it and require it.
//!
//! # Memory
//!
//! The current header (at most 550 bytes), the captured files (each at most
//! the capture limit) and the path of every file seen (to catch repeated files);
//! payloads are hashed as they pass and never buffered.
//!
//! # Layout
//! - `parser`: [`XbstreamParser`], the state machine fed the stream's bytes.
//! - `format`: the chunk header's layout, its chunk types and its paths.
//! - `chunk`: the chunk streaming now and the captured prefix of its file.

use std::collections::BTreeMap;
use std::fmt;

mod chunk;
mod format;
mod parser;
#[cfg(test)]
mod tests;

pub use parser::XbstreamParser;

/// A malformed or corrupt xbstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XbstreamError {
    /// Where in the stream the fault is: the first byte of the chunk at fault, or
    /// the end of the stream when it stops too early.
    pub offset: u64,
    /// What is wrong, naming the file and its offset when a chunk is at fault.
    pub detail: String,
}

impl fmt::Display for XbstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "corrupt xbstream at byte {}: {}",
            self.offset, self.detail
        )
    }
}

impl std::error::Error for XbstreamError {}

/// What a complete, verified xbstream held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XbstreamSummary {
    /// Files closed by an `E` chunk: the files `mbstream -x` creates, empty ones included.
    pub files: u64,
    /// Chunks of every type, skipped ignorable ones included.
    pub chunks: u64,
    /// Payload bytes of the `P` and `S` chunks (sparse holes not counted).
    pub payload_bytes: u64,
    /// The first `max_capture_bytes` of each captured file, keyed by its path in
    /// the stream (for the top-level metadata files, their name). Holes of sparse
    /// chunks read as zeros. A file as long as the limit may have been cut.
    pub captured: BTreeMap<String, Vec<u8>>,
}
