//! [`XbstreamParser`]: the state machine that takes the stream's bytes in pieces of any size,
//! collects each header, streams each payload and checks every chunk against its file.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use super::chunk::{Capture, DataChunk, OpenFile};
use super::format::{
    checked_path, le_u32, le_u64, Kind, DATA_FIELDS_LEN, FIXED_LEN, MAGIC, PATH_LEN_LIMIT,
    SPARSE_COUNT_LEN, SPARSE_ENTRY_LEN,
};
use super::{XbstreamError, XbstreamSummary};

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
    /// Paths also captured (whole paths, for names not known in advance).
    capture_matching: Option<fn(&str) -> bool>,
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

impl XbstreamParser {
    /// Captures the payload of files whose base name is in `capture`, up to `max_capture_bytes` each.
    pub fn new(capture: &[&str], max_capture_bytes: usize) -> Self {
        XbstreamParser {
            capture: capture.iter().map(|name| (*name).to_owned()).collect(),
            capture_matching: None,
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

    /// Also captures the files whose path `matches` says yes to (same size limit; a longer
    /// file keeps its first bytes).
    pub fn also_capturing(mut self, matches: fn(&str) -> bool) -> Self {
        self.capture_matching = Some(matches);
        self
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
        self.capture.contains(base) || self.capture_matching.is_some_and(|m| m(path))
    }
}

/// Moves bytes from `data` into `buf` until it holds `need`; returns how many.
fn fill(buf: &mut Vec<u8>, need: usize, data: &mut &[u8]) -> u64 {
    let n = need.saturating_sub(buf.len()).min(data.len());
    buf.extend_from_slice(&data[..n]);
    *data = &data[n..];
    n as u64
}
