//! What the ingest learns from the raw stream as it passes: whether it is whole, and the facts
//! that go into the manifest (coordinates, versions, captured files, a dump's databases and
//! rows per table). Every raw byte is shown to one [`Inspector`], on the compressor's thread,
//! with bounded memory.

pub(crate) mod physical;
pub(crate) mod sql;
pub(crate) mod sql_counts;
pub(crate) mod tar;

use std::collections::BTreeMap;

use crate::manifest::{Coordinates, Format};

/// Why an inspector refused the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The bytes are not the format they claim (xbstream CRC mismatch, bad magic...).
    Corrupt {
        /// Offset of the problem in the raw stream.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// The stream ended before the tool said it had finished.
    Incomplete(String),
}

/// What a whole stream told us.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Findings {
    /// Replication coordinates found in the stream.
    pub coordinates: Coordinates,
    /// The tool's version, if the stream says.
    pub tool_version: Option<String>,
    /// The server's version, if the stream says.
    pub server_version: Option<String>,
    /// Captured small files, name → text.
    pub captured: BTreeMap<String, String>,
    /// The databases a SQL dump creates or uses, sorted (empty for other formats).
    pub databases: Vec<String>,
    /// A SQL dump's rows per table, `db.table` → rows, every created table included (empty
    /// for other formats).
    pub table_rows: BTreeMap<String, u64>,
}

/// Sees every raw byte of a stream, in order, in chunks of any size.
pub(crate) trait Inspector: Send {
    /// The next bytes.
    fn feed(&mut self, data: &[u8]) -> Result<(), Refusal>;

    /// The stream has ended: is it whole, and what did it say?
    fn finish(self: Box<Self>) -> Result<Findings, Refusal>;
}

/// The inspector for a backup stream of `format`.
pub(crate) fn for_format(format: Format) -> Box<dyn Inspector> {
    match format {
        Format::Xbstream => Box::new(physical::PhysicalInspector::new()),
        Format::Sql => Box::new(sql::SqlInspector::new()),
        Format::Tar => Box::new(tar::TarInspector::new()),
    }
}

/// An inspector that accepts anything (logs).
pub(crate) struct Accept;

impl Inspector for Accept {
    fn feed(&mut self, _data: &[u8]) -> Result<(), Refusal> {
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Findings, Refusal> {
        Ok(Findings::default())
    }
}

/// Keeps the last `capacity` bytes seen (for footers), in bounded memory.
#[derive(Debug)]
pub(crate) struct Tail {
    bytes: Vec<u8>,
    capacity: usize,
}

impl Tail {
    pub(crate) fn new(capacity: usize) -> Tail {
        Tail {
            bytes: Vec::with_capacity(capacity * 2),
            capacity,
        }
    }

    pub(crate) fn push(&mut self, data: &[u8]) {
        if data.len() >= self.capacity {
            self.bytes.clear();
            self.bytes
                .extend_from_slice(&data[data.len() - self.capacity..]);
            return;
        }
        self.bytes.extend_from_slice(data);
        // Trim only when twice the capacity is reached: amortised O(1) per byte.
        if self.bytes.len() >= self.capacity * 2 {
            let excess = self.bytes.len() - self.capacity;
            self.bytes.drain(..excess);
        }
    }

    pub(crate) fn get(&self) -> &[u8] {
        let start = self.bytes.len().saturating_sub(self.capacity);
        &self.bytes[start..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_bytes_whatever_the_chunking() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        for chunk in [1, 7, 100, 4096, 20_000] {
            let mut tail = Tail::new(1000);
            for piece in data.chunks(chunk) {
                tail.push(piece);
            }
            assert_eq!(tail.get(), &data[9000..], "chunk {chunk}");
        }
        let mut short = Tail::new(1000);
        short.push(b"abc");
        assert_eq!(short.get(), b"abc");
    }
}
