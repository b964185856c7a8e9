//! The stream header: the fixed bytes a Ferryman stream opens with, before its payload.
//!
//! An agent streaming a backup or a log to the manager's one well-known port, or the manager
//! streaming a reseed payload to a joiner, first sends this header so the receiver knows which
//! job the bytes belong to and can check the job's secret token. The payload follows at once.
//!
//! # Wire format (version 1)
//!
//! | Offset | Length | Field   | Encoding                                                    |
//! |-------:|-------:|---------|-------------------------------------------------------------|
//! |      0 |      8 | magic   | `FERRYMN\0` (`46 45 52 52 59 4d 4e 00`), see [`MAGIC`]      |
//! |      8 |      2 | version | `u16` big-endian, `1` ([`VERSION`])                         |
//! |     10 |      1 | kind    | `u8`: 1 backup, 2 log, 3 reseed ([`StreamKind`])            |
//! |     11 |      1 | flags   | `u8`: bit 0 [`FLAG_BLOCKS`]; any other bit is rejected      |
//! |     12 |      8 | job id  | `u64` big-endian: the jobs-table `id`                       |
//! |     20 |     32 | token   | the job's [`StreamToken`], raw bytes                        |
//! |     52 |      … | payload | the stream itself ([`HEADER_LEN`] = 52)                     |
//!
//! Magic and version keep their place in every version; what follows the version may change
//! with it. Readers therefore check magic and version on the first 10 bytes before waiting for
//! the rest, so a peer speaking another version gets [`Error::UnsupportedVersion`] rather than
//! a stall or a misreading.
//!
//! # Legacy streams
//!
//! replication-manager's donor script (bash + socat) sends no header: its stream starts with the
//! payload (`XBSTCK01` for xbstream, `-- ` for a mysqldump, a tar header for mydumper, log text).
//! [`sniff`] and [`read_start`] tell such a raw stream from a Ferryman one by the magic (no
//! text payload has a NUL as its eighth byte); a stream that does start with the magic but is
//! damaged is an error, not a raw stream.
//!
//! The token is compared with [`StreamToken::ct_eq`] (also behind `==`), in constant time.
//! Reading does not time out by itself: wrap [`read_header`] and [`read_start`] in
//! `tokio::time::timeout`, since a peer may connect and send nothing.

use std::fmt;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{Error, Result, StreamToken};

/// The first bytes of every Ferryman stream.
pub const MAGIC: [u8; 8] = *b"FERRYMN\0";

/// Header flag: the payload is in compressed blocks ([`crate::blocks`]), which only a backup
/// stream may be.
pub const FLAG_BLOCKS: u8 = 0x01;

/// The header version this build reads and writes.
pub const VERSION: u16 = 1;

/// Length in bytes of a version-1 header; the payload starts at this offset.
pub const HEADER_LEN: usize = TOKEN_AT + StreamToken::LEN;

const VERSION_AT: usize = MAGIC.len();
const KIND_AT: usize = VERSION_AT + 2;
const FLAGS_AT: usize = KIND_AT + 1;
const JOB_ID_AT: usize = FLAGS_AT + 1;
const TOKEN_AT: usize = JOB_ID_AT + 8;
/// Magic and version: the part every version shares, checked before reading the rest.
const PREFIX_LEN: usize = KIND_AT;

const _: () = assert!(HEADER_LEN == 52, "the version-1 header is 52 bytes");

/// What a stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum StreamKind {
    /// A backup payload (xbstream, SQL dump, mydumper tar), from an agent to the manager.
    Backup = 1,
    /// A server log (error or slow-query log), from an agent to the manager.
    Log = 2,
    /// A payload that rebuilds a replica (reseed, flashback), sent to the joiner's agent.
    Reseed = 3,
}

impl StreamKind {
    /// Every kind, in wire order.
    pub const ALL: [StreamKind; 3] = [StreamKind::Backup, StreamKind::Log, StreamKind::Reseed];

    /// The byte that stands for this kind in the header.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The kind for a header byte.
    pub fn from_u8(kind: u8) -> Result<StreamKind> {
        StreamKind::ALL
            .into_iter()
            .find(|k| k.as_u8() == kind)
            .ok_or(Error::UnknownStreamKind { kind })
    }

    /// A short lowercase name, for logs and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Backup => "backup",
            StreamKind::Log => "log",
            StreamKind::Reseed => "reseed",
        }
    }

    /// `1 (backup), 2 (log), 3 (reseed)`, for messages.
    pub(crate) fn describe_all() -> String {
        let all: Vec<String> = StreamKind::ALL
            .iter()
            .map(|k| format!("{} ({k})", k.as_u8()))
            .collect();
        all.join(", ")
    }
}

impl fmt::Display for StreamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The decoded header of a Ferryman stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamHeader {
    /// Header version; [`StreamHeader::decode`] only accepts [`VERSION`].
    pub version: u16,
    /// What the payload is.
    pub kind: StreamKind,
    /// The jobs-table `id` of the job the payload belongs to.
    pub job_id: u64,
    /// The job's secret, to compare with the one stored in its row.
    pub token: StreamToken,
    /// The payload is in compressed blocks ([`FLAG_BLOCKS`]).
    pub blocks: bool,
}

impl StreamHeader {
    /// A header of the current [`VERSION`].
    pub fn new(kind: StreamKind, job_id: u64, token: StreamToken) -> StreamHeader {
        StreamHeader {
            version: VERSION,
            kind,
            job_id,
            token,
            blocks: false,
        }
    }

    /// The same header announcing a payload in compressed blocks.
    pub fn in_blocks(mut self) -> StreamHeader {
        self.blocks = true;
        self
    }

    /// The header's bytes, laid out as in the [module table](self).
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..VERSION_AT].copy_from_slice(&MAGIC);
        out[VERSION_AT..KIND_AT].copy_from_slice(&self.version.to_be_bytes());
        out[KIND_AT] = self.kind.as_u8();
        out[FLAGS_AT] = if self.blocks { FLAG_BLOCKS } else { 0 };
        out[JOB_ID_AT..TOKEN_AT].copy_from_slice(&self.job_id.to_be_bytes());
        out[TOKEN_AT..].copy_from_slice(self.token.as_bytes());
        out
    }

    /// Reads a header; checks magic, version, kind and flags, in that order.
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Result<StreamHeader> {
        check_prefix(bytes)?;
        let kind = StreamKind::from_u8(bytes[KIND_AT])?;
        let flags = bytes[FLAGS_AT];
        if flags & !FLAG_BLOCKS != 0 {
            return Err(Error::ReservedFlags { flags });
        }
        let mut job_id = [0u8; 8];
        job_id.copy_from_slice(&bytes[JOB_ID_AT..TOKEN_AT]);
        let mut token = [0u8; StreamToken::LEN];
        token.copy_from_slice(&bytes[TOKEN_AT..]);
        Ok(StreamHeader {
            version: VERSION,
            kind,
            job_id: u64::from_be_bytes(job_id),
            token: StreamToken::from_bytes(token),
            blocks: flags & FLAG_BLOCKS != 0,
        })
    }
}

/// Checks magic and version, the part of the header every version shares.
fn check_prefix(bytes: &[u8]) -> Result<()> {
    let mut magic = [0u8; MAGIC.len()];
    magic.copy_from_slice(&bytes[..VERSION_AT]);
    if magic != MAGIC {
        return Err(Error::BadMagic { found: magic });
    }
    let seen = u16::from_be_bytes([bytes[VERSION_AT], bytes[VERSION_AT + 1]]);
    if seen != VERSION {
        return Err(Error::UnsupportedVersion {
            seen,
            supported: VERSION,
        });
    }
    Ok(())
}

/// What the first bytes of a connection say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniff {
    /// It starts with [`MAGIC`]: a Ferryman stream, whose header must now be read and checked.
    Ferryman,
    /// It does not: a legacy donor's raw payload, to be used from its first byte.
    Raw,
    /// Too few bytes to tell (none, or a beginning of the magic): read more and sniff again.
    NeedMore,
}

/// Tells a Ferryman stream from a legacy raw one by its first bytes.
///
/// Only the magic is looked at; a Ferryman verdict says nothing about the rest of the header.
/// On a socket, prefer [`read_start`]: `TcpStream::peek` returns at once with what has
/// arrived, so looping on [`Sniff::NeedMore`] with it would spin.
pub fn sniff(first_bytes: &[u8]) -> Sniff {
    let n = first_bytes.len().min(MAGIC.len());
    if first_bytes[..n] != MAGIC[..n] {
        Sniff::Raw
    } else if n < MAGIC.len() {
        Sniff::NeedMore
    } else {
        Sniff::Ferryman
    }
}

/// How a received stream starts: see [`read_start`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamStart {
    /// A Ferryman stream with a valid header; the payload is what follows in the reader.
    Ferryman(StreamHeader),
    /// A legacy raw stream. Its payload is `prefix` (the bytes read while sniffing, at most
    /// [`MAGIC`]`.len()`, empty if the peer sent nothing) followed by the rest of the reader.
    Raw {
        /// The payload's first bytes, already taken from the reader.
        prefix: Vec<u8>,
    },
}

/// Writes `header` to `w`. Does not flush: the payload usually follows in the same buffer.
pub async fn write_header<W>(w: &mut W, header: &StreamHeader) -> Result<()>
where
    W: AsyncWrite + Unpin + ?Sized,
{
    w.write_all(&header.encode())
        .await
        .map_err(|e| Error::header_io("write", &e))
}

/// Reads a header from a stream that must have one, taking exactly [`HEADER_LEN`] bytes.
///
/// Magic and version are checked as soon as their 10 bytes are in; the end of the stream before
/// a whole header is [`Error::Truncated`].
pub async fn read_header<R>(r: &mut R) -> Result<StreamHeader>
where
    R: AsyncRead + Unpin + ?Sized,
{
    let mut buf = [0u8; HEADER_LEN];
    read_rest(r, &mut buf, 0).await
}

/// Reads the start of a stream that may be Ferryman or legacy raw: the header if it opens with
/// [`MAGIC`], else the bytes it read to find out, which belong to the raw payload.
///
/// Never reads past the header, nor past the magic's length of a raw stream. A stream that
/// ends inside the magic is [`Error::Truncated`]; an empty one is `Raw` with an empty prefix.
pub async fn read_start<R>(r: &mut R) -> Result<StreamStart>
where
    R: AsyncRead + Unpin + ?Sized,
{
    let mut buf = [0u8; HEADER_LEN];
    let mut got = 0;
    loop {
        match sniff(&buf[..got]) {
            Sniff::Ferryman => break,
            Sniff::Raw => {
                return Ok(StreamStart::Raw {
                    prefix: buf[..got].to_vec(),
                })
            }
            Sniff::NeedMore => {}
        }
        let n = read_some(r, &mut buf[got..MAGIC.len()]).await?;
        if n == 0 {
            if got == 0 {
                return Ok(StreamStart::Raw { prefix: Vec::new() });
            }
            return Err(Error::Truncated {
                got,
                expected: HEADER_LEN,
            });
        }
        got += n;
    }
    read_rest(r, &mut buf, got).await.map(StreamStart::Ferryman)
}

/// Completes a header of which `got` bytes are already in `buf`: the shared prefix first, then
/// the rest.
async fn read_rest<R>(r: &mut R, buf: &mut [u8; HEADER_LEN], got: usize) -> Result<StreamHeader>
where
    R: AsyncRead + Unpin + ?Sized,
{
    let got = fill(r, buf, got, PREFIX_LEN).await?;
    check_prefix(buf)?;
    fill(r, buf, got, HEADER_LEN).await?;
    StreamHeader::decode(buf)
}

/// Reads into `buf[got..until]` until it is full; returns `until`.
async fn fill<R>(r: &mut R, buf: &mut [u8], mut got: usize, until: usize) -> Result<usize>
where
    R: AsyncRead + Unpin + ?Sized,
{
    while got < until {
        let n = read_some(r, &mut buf[got..until]).await?;
        if n == 0 {
            return Err(Error::Truncated {
                got,
                expected: HEADER_LEN,
            });
        }
        got += n;
    }
    Ok(got)
}

/// One read, retried when interrupted; 0 means the end of the stream.
async fn read_some<R>(r: &mut R, buf: &mut [u8]) -> Result<usize>
where
    R: AsyncRead + Unpin + ?Sized,
{
    loop {
        match r.read(buf).await {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other.map_err(|e| Error::header_io("read", &e)),
        }
    }
}

#[cfg(test)]
mod tests;
