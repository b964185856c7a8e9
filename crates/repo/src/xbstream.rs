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

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;

/// The first 8 bytes of every chunk.
const MAGIC: &[u8; 8] = b"XBSTCK01";
/// A chunk of unknown type with this flag may be skipped.
const FLAG_IGNORABLE: u8 = 0x01;
/// Magic, flags, type and path length.
const FIXED_LEN: usize = 14;
/// MariaDB's `FN_REFLEN`: its reader refuses a path length at or above it.
const PATH_LEN_LIMIT: usize = 512;
/// Payload length, payload offset and checksum.
const DATA_FIELDS_LEN: usize = 20;
/// The sparse map entry count that opens the fields of an `S` chunk.
const SPARSE_COUNT_LEN: usize = 4;
/// One sparse map entry: hole length and data length.
const SPARSE_ENTRY_LEN: usize = 8;

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

/// Parses and verifies an xbstream fed in pieces of any size.
///
/// ```
/// use ferryman_repo::xbstream::{XbstreamError, XbstreamParser};
///
/// let mut parser = XbstreamParser::new(&["xtrabackup_info"], 64 * 1024);
/// // The only chunk of an empty file, fed in two pieces split inside the header.
/// let stream = b"XBSTCK01\0E\x0f\0\0\0xtrabackup_info";
/// parser.feed(&stream[..11])?;
/// parser.feed(&stream[11..])?;
/// let summary = parser.finish()?;
/// assert_eq!(summary.files, 1);
/// assert_eq!(summary.captured["xtrabackup_info"], b"");
/// # Ok::<(), XbstreamError>(())
/// ```
pub struct XbstreamParser {
    /// Base names of the files to capture.
    capture: HashSet<String>,
    max_capture_bytes: usize,
    /// Bytes consumed so far.
    pos: u64,
    /// Where the current chunk starts: errors point there.
    chunk_start: u64,
    /// The header bytes of the current chunk, or a partial sparse map entry.
    hdr: Vec<u8>,
    state: State,
    /// Files with chunks but no `E` chunk yet.
    open: HashMap<String, OpenFile>,
    /// Files closed by their `E` chunk.
    closed: HashSet<String>,
    chunks: u64,
    payload_bytes: u64,
    captured: BTreeMap<String, Vec<u8>>,
    /// The first error: a stream is not resynchronised after it.
    failed: Option<XbstreamError>,
}

/// Where the parser is within the current chunk.
enum State {
    /// Collecting the fixed part of a header into `hdr`.
    Fixed,
    /// Collecting the path and the fields after it, until `hdr` holds `need` bytes.
    Rest { kind: Kind, need: usize },
    /// Collecting sparse map entries, `left` still to come.
    SparseMap { chunk: DataChunk, left: u32 },
    /// Hashing payload bytes, `left` still to come.
    Payload { chunk: DataChunk, left: u64 },
}

/// The chunk type, from the type byte and the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Payload,
    Sparse,
    Eof,
    /// Unknown, with the ignorable flag: laid out like a payload chunk.
    Ignorable,
}

impl Kind {
    fn from_header(flags: u8, ty: u8) -> Option<Kind> {
        match ty {
            b'P' => Some(Kind::Payload),
            b'S' => Some(Kind::Sparse),
            b'E' => Some(Kind::Eof),
            _ if flags & FLAG_IGNORABLE != 0 => Some(Kind::Ignorable),
            _ => None,
        }
    }

    /// Header bytes after the path.
    fn fields_len(self) -> usize {
        match self {
            Kind::Eof => 0,
            Kind::Sparse => SPARSE_COUNT_LEN + DATA_FIELDS_LEN,
            Kind::Payload | Kind::Ignorable => DATA_FIELDS_LEN,
        }
    }
}

/// A file whose `E` chunk has not come yet.
struct OpenFile {
    /// Where its next chunk must start.
    next_offset: u64,
    /// Its bytes so far, if captured (moved into the chunk while one streams).
    capture: Option<Vec<u8>>,
}

/// A `P`, `S` or ignorable chunk whose sparse map or payload is streaming.
struct DataChunk {
    kind: Kind,
    path: String,
    file_offset: u64,
    payload_len: u64,
    expected_crc: u32,
    crc: crc32fast::Hasher,
    /// Sum of the sparse map's holes.
    holes: u64,
    /// Sum of the sparse map's data lengths: must equal `payload_len`.
    mapped: u64,
    capture: Option<Capture>,
}

impl DataChunk {
    fn sparse_entry(&mut self, entry: &[u8]) {
        self.crc.update(entry);
        let (hole, data) = (le_u32(entry, 0), le_u32(entry, 4));
        if let Some(capture) = &mut self.capture {
            // Positions may overflow in a corrupt stream: that is caught when
            // the chunk ends, so saturate here rather than panic.
            let at = self
                .file_offset
                .saturating_add(self.holes)
                .saturating_add(self.mapped)
                .saturating_add(u64::from(hole));
            // Entries that place nothing, or land past the limit, need no memory.
            if at < capture.limit as u64 && (hole, data) != (0, 0) {
                capture.plan.push_back((hole, data));
            }
        }
        self.holes += u64::from(hole);
        self.mapped += u64::from(data);
    }

    fn payload(&mut self, bytes: &[u8]) {
        self.crc.update(bytes);
        if let Some(capture) = &mut self.capture {
            if self.kind == Kind::Sparse {
                capture.sparse_payload(bytes);
            } else {
                capture.write(capture.pos, bytes);
                capture.pos = capture.pos.saturating_add(bytes.len() as u64);
            }
        }
    }
}

/// The captured prefix of a file, while one of its chunks streams.
struct Capture {
    bytes: Vec<u8>,
    limit: usize,
    /// File position of the next payload byte.
    pos: u64,
    /// For a sparse chunk: the (hole, data) entries still to apply that land
    /// below the limit.
    plan: VecDeque<(u32, u32)>,
}

impl Capture {
    /// Puts `data` at file position `at`, within the limit.
    fn write(&mut self, at: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        // Below the limit, so the cast is exact.
        let at = at.min(self.limit as u64) as usize;
        debug_assert!(self.bytes.len() <= at, "chunks of a file are contiguous");
        // A hole followed by data reads as zeros, as in the extracted file.
        self.bytes.resize(at, 0);
        let room = self.limit - at;
        self.bytes.extend_from_slice(&data[..data.len().min(room)]);
    }

    fn sparse_payload(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            // No plan left: the rest lands past the limit.
            let Some((hole, len)) = self.plan.front_mut() else {
                return;
            };
            self.pos = self.pos.saturating_add(u64::from(std::mem::take(hole)));
            let n = data.len().min(*len as usize);
            // n ≤ *len, a u32.
            *len -= n as u32;
            let done = *len == 0;
            let (now, rest) = data.split_at(n);
            self.write(self.pos, now);
            self.pos = self.pos.saturating_add(n as u64);
            if done {
                self.plan.pop_front();
            }
            data = rest;
        }
    }
}

impl XbstreamParser {
    /// Captures the payload of files whose base name is in `capture`, up to `max_capture_bytes` each.
    pub fn new(capture: &[&str], max_capture_bytes: usize) -> Self {
        XbstreamParser {
            capture: capture.iter().map(|name| (*name).to_owned()).collect(),
            max_capture_bytes,
            pos: 0,
            chunk_start: 0,
            hdr: Vec::with_capacity(
                FIXED_LEN + PATH_LEN_LIMIT + SPARSE_COUNT_LEN + DATA_FIELDS_LEN,
            ),
            state: State::Fixed,
            open: HashMap::new(),
            closed: HashSet::new(),
            chunks: 0,
            payload_bytes: 0,
            captured: BTreeMap::new(),
            failed: None,
        }
    }

    /// Feeds the next bytes of the stream, split anywhere (even inside a header field).
    ///
    /// After an error, every later call returns that error again.
    pub fn feed(&mut self, data: &[u8]) -> Result<(), XbstreamError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        self.advance(data)
            .inspect_err(|error| self.failed = Some(error.clone()))
    }

    /// The stream ended: fails if it ended inside a chunk, or held no chunk at all.
    ///
    /// It also fails if a file never got its end-of-file chunk: the stream was
    /// cut between two chunks.
    pub fn finish(self) -> Result<XbstreamSummary, XbstreamError> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        let cut = |detail: String| {
            Err(XbstreamError {
                offset: self.pos,
                detail,
            })
        };
        match &self.state {
            State::Fixed if self.hdr.is_empty() => {}
            State::Fixed | State::Rest { .. } => {
                return cut(format!(
                    "the stream ends inside a chunk header, after {} of its bytes",
                    self.hdr.len()
                ))
            }
            State::SparseMap { chunk, left } => {
                return cut(format!(
                    "the stream ends inside the sparse map of the chunk of `{}` at file offset {}, \
                     {left} entries short",
                    chunk.path, chunk.file_offset
                ))
            }
            State::Payload { chunk, left } => {
                return cut(format!(
                    "the stream ends inside the chunk of `{}` at file offset {}, {left} payload bytes short",
                    chunk.path, chunk.file_offset
                ))
            }
        }
        if self.chunks == 0 {
            return cut("the stream holds no chunk".to_owned());
        }
        if let Some(first) = self.open.keys().min() {
            return cut(format!(
                "the stream ends before the end-of-file chunk of `{first}` ({} file(s) unfinished)",
                self.open.len()
            ));
        }
        Ok(XbstreamSummary {
            files: self.closed.len() as u64,
            chunks: self.chunks,
            payload_bytes: self.payload_bytes,
            captured: self.captured,
        })
    }

    fn advance(&mut self, mut data: &[u8]) -> Result<(), XbstreamError> {
        while !data.is_empty() {
            match &mut self.state {
                State::Fixed => {
                    self.pos += fill(&mut self.hdr, FIXED_LEN, &mut data);
                    if self.hdr.len() == FIXED_LEN {
                        self.parse_fixed()?;
                    }
                }
                State::Rest { kind, need } => {
                    let (kind, need) = (*kind, *need);
                    self.pos += fill(&mut self.hdr, need, &mut data);
                    if self.hdr.len() == need {
                        self.parse_rest(kind)?;
                    }
                }
                State::SparseMap { chunk, left } => {
                    self.pos += fill(&mut self.hdr, SPARSE_ENTRY_LEN, &mut data);
                    if self.hdr.len() == SPARSE_ENTRY_LEN {
                        chunk.sparse_entry(&self.hdr);
                        self.hdr.clear();
                        *left -= 1;
                        if *left == 0 {
                            if let State::SparseMap { chunk, .. } =
                                std::mem::replace(&mut self.state, State::Fixed)
                            {
                                self.end_sparse_map(chunk)?;
                            }
                        }
                    }
                }
                State::Payload { chunk, left } => {
                    // The hot path: hash the bytes where they lie.
                    let n = usize::try_from(*left).map_or(data.len(), |left| left.min(data.len()));
                    let (now, rest) = data.split_at(n);
                    chunk.payload(now);
                    *left -= n as u64;
                    self.pos += n as u64;
                    data = rest;
                    if *left == 0 {
                        if let State::Payload { chunk, .. } =
                            std::mem::replace(&mut self.state, State::Fixed)
                        {
                            self.end_data_chunk(chunk)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn corrupt(&self, detail: String) -> XbstreamError {
        XbstreamError {
            offset: self.chunk_start,
            detail,
        }
    }

    /// The fixed part is in: check it and learn how long the header is.
    fn parse_fixed(&mut self) -> Result<(), XbstreamError> {
        let hdr = &self.hdr;
        if hdr[..MAGIC.len()] != MAGIC[..] {
            return Err(self.corrupt(format!(
                "bad chunk magic \"{}\", expected \"XBSTCK01\"",
                hdr[..MAGIC.len()].escape_ascii()
            )));
        }
        let (flags, ty) = (hdr[8], hdr[9]);
        let Some(kind) = Kind::from_header(flags, ty) else {
            return Err(self.corrupt(format!(
                "unknown chunk type {:?} (flags {flags:#04x}, not ignorable)",
                char::from(ty)
            )));
        };
        let path_len = le_u32(hdr, 10) as usize;
        if path_len >= PATH_LEN_LIMIT {
            return Err(self.corrupt(format!(
                "path length {path_len} is not below the limit of {PATH_LEN_LIMIT}"
            )));
        }
        if path_len == 0 && kind != Kind::Ignorable {
            return Err(self.corrupt("chunk with an empty path".to_owned()));
        }
        // Never FIXED_LEN: a known chunk has a path, an ignorable one has fields.
        let need = FIXED_LEN + path_len + kind.fields_len();
        self.state = State::Rest { kind, need };
        Ok(())
    }

    /// The whole header is in: start the chunk.
    fn parse_rest(&mut self, kind: Kind) -> Result<(), XbstreamError> {
        let path_len = le_u32(&self.hdr, 10) as usize;
        let mut at = FIXED_LEN + path_len;
        let path = checked_path(&self.hdr[FIXED_LEN..at]).map_err(|detail| self.corrupt(detail))?;
        if kind == Kind::Eof {
            return self.end_of_file(path);
        }
        let entries = if kind == Kind::Sparse {
            at += SPARSE_COUNT_LEN;
            le_u32(&self.hdr, at - SPARSE_COUNT_LEN)
        } else {
            0
        };
        let payload_len = le_u64(&self.hdr, at);
        let file_offset = le_u64(&self.hdr, at + 8);
        let expected_crc = le_u32(&self.hdr, at + 16);
        self.hdr.clear();
        let capture = if kind == Kind::Ignorable {
            None
        } else {
            self.continue_file(&path, file_offset)?
                .map(|bytes| Capture {
                    bytes,
                    limit: self.max_capture_bytes,
                    pos: file_offset,
                    plan: VecDeque::new(),
                })
        };
        let chunk = DataChunk {
            kind,
            path,
            file_offset,
            payload_len,
            expected_crc,
            crc: crc32fast::Hasher::new(),
            holes: 0,
            mapped: 0,
            capture,
        };
        if entries > 0 {
            self.state = State::SparseMap {
                chunk,
                left: entries,
            };
            Ok(())
        } else {
            self.end_sparse_map(chunk)
        }
    }

    /// Checks that a data chunk continues its file where the last one ended,
    /// opening the file on its first chunk; returns the file's captured bytes.
    fn continue_file(
        &mut self,
        path: &str,
        file_offset: u64,
    ) -> Result<Option<Vec<u8>>, XbstreamError> {
        let expected = match self.open.get_mut(path) {
            Some(file) if file.next_offset == file_offset => return Ok(file.capture.take()),
            Some(file) => file.next_offset,
            None if self.closed.contains(path) => {
                return Err(
                    self.corrupt(format!("`{path}` has a chunk after its end-of-file chunk"))
                );
            }
            None if file_offset == 0 => {
                let capture = self.wants(path).then(Vec::new);
                self.open.insert(
                    path.to_owned(),
                    OpenFile {
                        next_offset: 0,
                        capture: None,
                    },
                );
                return Ok(capture);
            }
            None => 0,
        };
        Err(self.corrupt(format!(
            "the chunk of `{path}` starts at file offset {file_offset}, expected {expected}: \
             chunks are missing or out of order"
        )))
    }

    /// The sparse map, if any, is in: stream the payload.
    fn end_sparse_map(&mut self, chunk: DataChunk) -> Result<(), XbstreamError> {
        if chunk.kind == Kind::Sparse && chunk.mapped != chunk.payload_len {
            return Err(self.corrupt(format!(
                "the sparse map of the chunk of `{}` at file offset {} places {} bytes, but the payload has {}",
                chunk.path, chunk.file_offset, chunk.mapped, chunk.payload_len
            )));
        }
        if chunk.payload_len == 0 {
            return self.end_data_chunk(chunk);
        }
        let left = chunk.payload_len;
        self.state = State::Payload { chunk, left };
        Ok(())
    }

    fn end_data_chunk(&mut self, chunk: DataChunk) -> Result<(), XbstreamError> {
        let DataChunk {
            kind,
            path,
            file_offset,
            payload_len,
            expected_crc,
            crc,
            holes,
            capture,
            ..
        } = chunk;
        if kind != Kind::Ignorable {
            let actual = crc.finalize();
            if actual != expected_crc {
                return Err(self.corrupt(format!(
                    "checksum mismatch in the chunk of `{path}` at file offset {file_offset} \
                     ({payload_len} bytes): the header says {expected_crc:08x}, the data hashes to {actual:08x}"
                )));
            }
            let Some(next_offset) = file_offset
                .checked_add(holes)
                .and_then(|end| end.checked_add(payload_len))
            else {
                return Err(self.corrupt(format!(
                    "the chunk of `{path}` at file offset {file_offset} ends past the largest file offset"
                )));
            };
            if let Some(file) = self.open.get_mut(&path) {
                file.next_offset = next_offset;
                file.capture = capture.map(|capture| capture.bytes);
            }
            self.payload_bytes += payload_len;
        }
        self.next_chunk();
        Ok(())
    }

    fn end_of_file(&mut self, path: String) -> Result<(), XbstreamError> {
        let capture = match self.open.remove(&path) {
            Some(file) => file.capture,
            None if self.closed.contains(&path) => {
                return Err(self.corrupt(format!("`{path}` has a second end-of-file chunk")));
            }
            // An empty file has only its end-of-file chunk.
            None => self.wants(&path).then(Vec::new),
        };
        if let Some(bytes) = capture {
            self.captured.insert(path.clone(), bytes);
        }
        self.closed.insert(path);
        self.next_chunk();
        Ok(())
    }

    fn next_chunk(&mut self) {
        self.chunks += 1;
        self.hdr.clear();
        self.state = State::Fixed;
        self.chunk_start = self.pos;
    }

    fn wants(&self, path: &str) -> bool {
        let base = path.rsplit_once('/').map_or(path, |(_, base)| base);
        self.capture.contains(base)
    }
}

/// Moves bytes from `data` into `buf` until it holds `need`; returns how many.
fn fill(buf: &mut Vec<u8>, need: usize, data: &mut &[u8]) -> u64 {
    let n = need.saturating_sub(buf.len()).min(data.len());
    buf.extend_from_slice(&data[..n]);
    *data = &data[n..];
    n as u64
}

/// The path of a chunk, if an extractor can safely create it under its directory.
fn checked_path(raw: &[u8]) -> Result<String, String> {
    let shown = || raw.escape_ascii().to_string();
    if raw.contains(&0) {
        return Err(format!("path \"{}\" contains a NUL byte", shown()));
    }
    if raw.first() == Some(&b'/') {
        return Err(format!("absolute path \"{}\"", shown()));
    }
    if raw.split(|&b| b == b'/').any(|part| part == b"..") {
        return Err(format!("path \"{}\" climbs out with `..`", shown()));
    }
    // MariaDB encodes non-ASCII table names as @xxxx, so real paths are ASCII;
    // anything else is kept readable rather than refused.
    Ok(String::from_utf8_lossy(raw).into_owned())
}

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    let mut le = [0; 4];
    le.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(le)
}

fn le_u64(bytes: &[u8], at: usize) -> u64 {
    let mut le = [0; 8];
    le.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(le)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes xbstreams the way mariabackup does, and notes which bytes no
    /// check covers and where the stream could end cleanly.
    #[derive(Default)]
    struct Writer {
        out: Vec<u8>,
        /// Next offset of each file with chunks but no end-of-file chunk.
        open: HashMap<String, u64>,
        /// Bytes that nothing covers: flags, and the path of an empty file's
        /// only chunk (a flip there renames the file).
        uncovered: Vec<usize>,
        /// Stream lengths at which no file is open.
        clean_ends: Vec<usize>,
        payload_bytes: u64,
    }

    impl Writer {
        fn header(&mut self, flags: u8, ty: u8, path: &str) {
            self.out.extend_from_slice(MAGIC);
            self.uncovered.push(self.out.len());
            self.out.push(flags);
            self.out.push(ty);
            self.out
                .extend_from_slice(&u32::try_from(path.len()).unwrap().to_le_bytes());
            self.out.extend_from_slice(path.as_bytes());
        }

        fn raw_data(
            &mut self,
            flags: u8,
            ty: u8,
            path: &str,
            offset: u64,
            payload: &[u8],
            crc: u32,
        ) -> &mut Self {
            self.header(flags, ty, path);
            self.out
                .extend_from_slice(&(payload.len() as u64).to_le_bytes());
            self.out.extend_from_slice(&offset.to_le_bytes());
            self.out.extend_from_slice(&crc.to_le_bytes());
            self.out.extend_from_slice(payload);
            if flags & FLAG_IGNORABLE == 0 {
                self.payload_bytes += payload.len() as u64;
            }
            self
        }

        fn data(&mut self, path: &str, payload: &[u8]) -> &mut Self {
            let next = self.open.entry(path.to_owned()).or_default();
            let offset = *next;
            *next += payload.len() as u64;
            self.raw_data(0, b'P', path, offset, payload, crc32fast::hash(payload))
        }

        fn sparse(&mut self, path: &str, map: &[(u32, u32)], payload: &[u8]) -> &mut Self {
            let next = self.open.entry(path.to_owned()).or_default();
            let offset = *next;
            *next +=
                map.iter().map(|&(hole, _)| u64::from(hole)).sum::<u64>() + payload.len() as u64;
            let map: Vec<u8> = map
                .iter()
                .flat_map(|&(hole, data)| [hole.to_le_bytes(), data.to_le_bytes()])
                .flatten()
                .collect();
            let mut crc = crc32fast::Hasher::new();
            crc.update(&map);
            crc.update(payload);
            self.header(0, b'S', path);
            self.out
                .extend_from_slice(&u32::try_from(map.len() / 8).unwrap().to_le_bytes());
            self.out
                .extend_from_slice(&(payload.len() as u64).to_le_bytes());
            self.out.extend_from_slice(&offset.to_le_bytes());
            self.out.extend_from_slice(&crc.finalize().to_le_bytes());
            self.out.extend_from_slice(&map);
            self.out.extend_from_slice(payload);
            self.payload_bytes += payload.len() as u64;
            self
        }

        fn eof(&mut self, path: &str) -> &mut Self {
            let start = self.out.len();
            self.header(0, b'E', path);
            if self.open.remove(path).is_none() {
                self.uncovered.extend(start + FIXED_LEN..self.out.len());
            }
            if self.open.is_empty() {
                self.clean_ends.push(self.out.len());
            }
            self
        }

        fn file(&mut self, path: &str, content: &[u8]) -> &mut Self {
            if !content.is_empty() {
                self.data(path, content);
            }
            self.eof(path)
        }
    }

    /// Deterministic filler bytes (xorshift64).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    const BINLOG_INFO: &[u8] = b"binlog.000001\t350905157\t0-1-346\n";
    const BACKUP_MY_CNF: &[u8] =
        b"# This options file was generated by innobackupex.\n\n# The server\n[mysqld]\n\
        innodb_checksum_algorithm=crc32\ninnodb_data_file_path=ibdata1:12M:autoextend\n\
        innodb_log_file_size=67108864\ninnodb_page_size=16384\n";
    const XTRABACKUP_INFO: &[u8] = b"uuid = 8df67ede-e557-11f1-8ddf-02fc00000001\nname = \ntool_name = mariabackup\n\
        tool_version = 10.11.19-MariaDB\nserver_version = 10.11.19-MariaDB-0+deb12u1-log\n\
        binlog_pos = filename 'binlog.000001', position '350905157', GTID of the last change '0-1-346'\n\
        innodb_from_lsn = 0\ninnodb_to_lsn = 222321065\npartial = N\nincremental = N\nformat = mbstream\n";
    const CAPTURE: &[&str] = &[
        "xtrabackup_binlog_info",
        "backup-my.cnf",
        "xtrabackup_info",
        "t_sparse.ibd",
    ];

    /// A small stream shaped like a real mariabackup 10.11 one: the redo log
    /// interleaved with the data files, empty files, the metadata files last,
    /// plus a Percona-style sparse tablespace.
    fn mariabackup_like() -> (Writer, Vec<u8>) {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut w = Writer::default();
        w.file("aria_log_control", &rng.bytes(52));
        w.data("ib_logfile0", &rng.bytes(300));
        w.data("sbtest/sbtest1.ibd", &rng.bytes(200));
        w.data("ib_logfile0", &rng.bytes(100));
        w.data("sbtest/sbtest1.ibd", &rng.bytes(150))
            .eof("sbtest/sbtest1.ibd");
        w.file("mysql/general_log.CSV", b"");
        w.file(
            "sbtest/db.opt",
            b"default-character-set=latin1\ndefault-collation=latin1_swedish_ci\n",
        );
        let sparse = rng.bytes(130);
        w.sparse("sbtest/t_sparse.ibd", &[(0, 100), (50, 30)], &sparse);
        w.data("sbtest/t_sparse.ibd", &sparse[..20])
            .eof("sbtest/t_sparse.ibd");
        w.file("xtrabackup_binlog_info", BINLOG_INFO);
        w.data("ib_logfile0", &rng.bytes(64)).eof("ib_logfile0");
        w.file(
            "xtrabackup_checkpoints",
            b"backup_type = full-backuped\nfrom_lsn = 0\nto_lsn = 222321065\n",
        );
        w.file("backup-my.cnf", BACKUP_MY_CNF);
        w.file("xtrabackup_info", XTRABACKUP_INFO);
        let mut sparse_file = sparse[..100].to_vec();
        sparse_file.extend_from_slice(&[0; 50]);
        sparse_file.extend_from_slice(&sparse[100..]);
        sparse_file.extend_from_slice(&sparse[..20]);
        (w, sparse_file)
    }

    fn parse_in(
        stream: &[u8],
        pieces: impl IntoIterator<Item = usize>,
        limit: usize,
    ) -> Result<XbstreamSummary, XbstreamError> {
        let mut parser = XbstreamParser::new(CAPTURE, limit);
        let mut rest = stream;
        for n in pieces {
            let (now, later) = rest.split_at(n.min(rest.len()));
            parser.feed(now)?;
            rest = later;
        }
        parser.feed(rest)?;
        parser.finish()
    }

    fn parse(stream: &[u8]) -> Result<XbstreamSummary, XbstreamError> {
        parse_in(stream, [], 1 << 20)
    }

    fn expected_summary(payload_bytes: u64, sparse_file: Vec<u8>) -> XbstreamSummary {
        XbstreamSummary {
            files: 10,
            chunks: 23,
            payload_bytes,
            captured: BTreeMap::from([
                ("xtrabackup_binlog_info".to_owned(), BINLOG_INFO.to_vec()),
                ("backup-my.cnf".to_owned(), BACKUP_MY_CNF.to_vec()),
                ("xtrabackup_info".to_owned(), XTRABACKUP_INFO.to_vec()),
                ("sbtest/t_sparse.ibd".to_owned(), sparse_file),
            ]),
        }
    }

    #[test]
    fn parses_a_mariabackup_like_stream_whole_byte_by_byte_and_in_random_pieces() {
        let (w, sparse_file) = mariabackup_like();
        let expected = expected_summary(w.payload_bytes, sparse_file);
        assert_eq!(parse(&w.out).unwrap(), expected);
        assert_eq!(
            parse_in(&w.out, std::iter::repeat_n(1, w.out.len()), 1 << 20).unwrap(),
            expected
        );
        let mut rng = Rng(42);
        for _ in 0..300 {
            // Mostly tiny pieces, to split every header field somewhere.
            let pieces: Vec<usize> = (0..200)
                .map(|_| (rng.next() % if rng.next() & 3 == 0 { 400 } else { 9 }) as usize)
                .collect();
            assert_eq!(parse_in(&w.out, pieces, 1 << 20).unwrap(), expected);
        }
    }

    #[test]
    fn captures_at_most_the_limit_with_sparse_holes_as_zeros() {
        let (w, sparse_file) = mariabackup_like();
        for limit in [0, 1, 10, 99, 100, 101, 120, 150, 151, 170, 200, 201] {
            let summary = parse_in(&w.out, [3, 1000, 5], limit).unwrap();
            let cut = |bytes: &[u8]| bytes[..bytes.len().min(limit)].to_vec();
            assert_eq!(
                summary.captured["xtrabackup_info"],
                cut(XTRABACKUP_INFO),
                "limit {limit}"
            );
            assert_eq!(
                summary.captured["sbtest/t_sparse.ibd"],
                cut(&sparse_file),
                "limit {limit}"
            );
        }
    }

    #[test]
    fn every_bit_flip_outside_flags_and_empty_file_paths_is_detected() {
        let (w, _) = mariabackup_like();
        for at in 0..w.out.len() {
            if w.uncovered.contains(&at) {
                continue;
            }
            for bit in 0..8 {
                let mut bad = w.out.clone();
                bad[at] ^= 1 << bit;
                assert!(
                    parse(&bad).is_err(),
                    "flip of bit {bit} at byte {at} went unnoticed"
                );
            }
        }
    }

    #[test]
    fn a_flipped_payload_byte_names_the_file_and_chunk() {
        let mut w = Writer::default();
        w.data("ibdata1", &[7; 1000]);
        let second = w.out.len();
        w.data("ibdata1", &[8; 1000]).eof("ibdata1");
        let mut bad = w.out.clone();
        let last = second + FIXED_LEN + "ibdata1".len() + DATA_FIELDS_LEN + 999;
        bad[last] ^= 0x10;
        let error = parse(&bad).unwrap_err();
        assert_eq!(error.offset, second as u64);
        assert!(
            error.detail.starts_with(
                "checksum mismatch in the chunk of `ibdata1` at file offset 1000 (1000 bytes)"
            ),
            "{error}"
        );
    }

    #[test]
    fn a_bad_magic_points_at_its_chunk() {
        let (w, _) = mariabackup_like();
        let mut bad = w.out.clone();
        bad[7] = b'2';
        let error = parse(&bad).unwrap_err();
        assert_eq!(
            error.to_string(),
            "corrupt xbstream at byte 0: bad chunk magic \"XBSTCK02\", expected \"XBSTCK01\""
        );
        let mut bad = w.out.clone();
        let second = w.clean_ends[0];
        bad[second] = b'x';
        assert_eq!(parse(&bad).unwrap_err().offset, second as u64);
        // Garbage after a valid stream, such as a log line, is caught too.
        let mut bad = w.out.clone();
        bad.extend_from_slice(b"[00] 2026-11-21 02:59:23 completed OK!\n");
        assert_eq!(parse(&bad).unwrap_err().offset, w.out.len() as u64);
    }

    #[test]
    fn a_stream_cut_anywhere_but_between_whole_files_fails() {
        let (w, _) = mariabackup_like();
        for len in 0..w.out.len() {
            let result = parse(&w.out[..len]);
            assert_eq!(
                result.is_ok(),
                w.clean_ends.contains(&len),
                "cut at {len}: {result:?}"
            );
        }
        let error = parse(&w.out[..w.clean_ends[0] + 5]).unwrap_err();
        assert!(
            error
                .detail
                .contains("inside a chunk header, after 5 of its bytes"),
            "{error}"
        );
        let error = parse(&w.out[..w.clean_ends[0] + 60]).unwrap_err();
        assert!(
            error
                .detail
                .contains("inside the chunk of `ib_logfile0` at file offset 0,"),
            "{error}"
        );
        let error = parse(&w.out[..w.clean_ends[1] - FIXED_LEN - "ib_logfile0".len()]).unwrap_err();
        assert!(
            error
                .detail
                .contains("before the end-of-file chunk of `ib_logfile0` (1 file(s) unfinished)"),
            "{error}"
        );
        let error = parse(b"").unwrap_err();
        assert_eq!(
            error.to_string(),
            "corrupt xbstream at byte 0: the stream holds no chunk"
        );
    }

    #[test]
    fn unknown_chunk_types_are_skipped_only_if_ignorable() {
        let mut w = Writer::default();
        w.file("a", b"data");
        let plain = parse(&w.out).unwrap();
        let mut ignorable = Writer::default();
        ignorable
            .raw_data(FLAG_IGNORABLE, b'X', "a", 77, b"whatever", 0)
            .file("a", b"data");
        let summary = parse(&ignorable.out).unwrap();
        assert_eq!(
            (summary.files, summary.chunks, summary.payload_bytes),
            (plain.files, plain.chunks + 1, plain.payload_bytes)
        );
        let mut empty_path = Writer::default();
        empty_path
            .raw_data(FLAG_IGNORABLE, b'X', "", 0, b"", 0)
            .file("a", b"data");
        assert!(parse(&empty_path.out).is_ok());
        let mut strict = Writer::default();
        strict.raw_data(0, b'X', "a", 0, b"whatever", crc32fast::hash(b"whatever"));
        assert_eq!(
            parse(&strict.out).unwrap_err().detail,
            "unknown chunk type 'X' (flags 0x00, not ignorable)"
        );
    }

    #[test]
    fn paths_that_escape_the_directory_are_refused() {
        for path in [
            "../etc/passwd",
            "/etc/passwd",
            "sbtest/../../x",
            "sbtest/..",
            "..",
        ] {
            let mut w = Writer::default();
            w.file(path, b"x");
            assert!(parse(&w.out).unwrap_err().detail.contains(path), "{path}");
            let mut w = Writer::default();
            w.eof(path);
            assert!(parse(&w.out).is_err(), "{path}");
        }
        let mut w = Writer::default();
        w.file("a..b/..c/d..", b"x")
            .file("./e", b"")
            .file("a\0b", b"");
        assert_eq!(
            parse(&w.out).unwrap_err().detail,
            "path \"a\\x00b\" contains a NUL byte"
        );
        let mut w = Writer::default();
        w.eof(&"x".repeat(511));
        assert!(parse(&w.out).is_ok());
        let mut w = Writer::default();
        w.eof(&"x".repeat(512));
        assert_eq!(
            parse(&w.out).unwrap_err().detail,
            "path length 512 is not below the limit of 512"
        );
        let mut w = Writer::default();
        w.eof("");
        assert_eq!(
            parse(&w.out).unwrap_err().detail,
            "chunk with an empty path"
        );
    }

    #[test]
    fn chunks_of_a_file_must_be_contiguous_and_end_once() {
        let mut w = Writer::default();
        w.raw_data(0, b'P', "a", 5, b"x", crc32fast::hash(b"x"));
        assert!(parse(&w.out)
            .unwrap_err()
            .detail
            .contains("starts at file offset 5, expected 0"));
        let mut w = Writer::default();
        w.data("a", b"xyz")
            .raw_data(0, b'P', "a", 2, b"x", crc32fast::hash(b"x"));
        assert!(parse(&w.out)
            .unwrap_err()
            .detail
            .contains("starts at file offset 2, expected 3"));
        let mut w = Writer::default();
        w.file("a", b"x").data("a", b"y");
        assert_eq!(
            parse(&w.out).unwrap_err().detail,
            "`a` has a chunk after its end-of-file chunk"
        );
        let mut w = Writer::default();
        w.file("a", b"x").eof("a");
        assert_eq!(
            parse(&w.out).unwrap_err().detail,
            "`a` has a second end-of-file chunk"
        );
        // A zero-length chunk is legal and moves nothing.
        let mut w = Writer::default();
        w.data("a", b"").data("a", b"x").eof("a");
        assert_eq!(parse(&w.out).unwrap().payload_bytes, 1);
    }

    #[test]
    fn a_sparse_map_must_place_the_whole_payload() {
        let mut w = Writer::default();
        w.sparse("t.ibd", &[(10, 5)], b"123456").eof("t.ibd");
        let error = parse(&w.out).unwrap_err();
        assert_eq!(error.detail, "the sparse map of the chunk of `t.ibd` at file offset 0 places 5 bytes, but the payload has 6");
        let cut = parse(&w.out[..FIXED_LEN + 5 + 24 + 3]).unwrap_err();
        assert!(
            cut.detail.contains(
                "inside the sparse map of the chunk of `t.ibd` at file offset 0, 1 entries short"
            ),
            "{cut}"
        );
    }

    #[test]
    fn errors_stick() {
        let mut parser = XbstreamParser::new(&[], 0);
        let error = parser
            .feed(b"XBSTCK00")
            .and_then(|()| parser.feed(&[0; 6]))
            .unwrap_err();
        assert_eq!(parser.feed(b"anything").unwrap_err(), error);
        assert_eq!(parser.finish().unwrap_err(), error);
    }
}
