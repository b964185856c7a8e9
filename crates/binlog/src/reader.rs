//! [`Reader`]: the events of a binary log file (or of anything laid out like one: the magic,
//! then events), one at a time, each checked: its length against what it must hold, and its
//! CRC32 when the format description says events carry one.

use std::io::Read;

use crate::event::{self, code, Event, Header, Kind, CHECKSUM_LEN, HEADER_LEN};
use crate::Error;

/// The four bytes every binlog file starts with.
pub const MAGIC: [u8; 4] = [0xfe, b'b', b'i', b'n'];

/// The longest event accepted (MariaDB's `max_allowed_packet` ceiling is 1 GiB).
const MAX_EVENT: u32 = 1 << 30;

/// Checksum algorithm byte of a format description: CRC32.
const ALG_CRC32: u8 = 1;

/// The format description's "file in use" flag (LOG_EVENT_BINLOG_IN_USE_F).
const IN_USE: u8 = 0x01;

/// Reads the events of a binlog.
pub struct Reader<R> {
    input: R,
    what: String,
    offset: u64,
    checksums: bool,
    encrypted: bool,
    /// An error was returned: the iterator ends there.
    failed: bool,
}

impl<R: Read> Reader<R> {
    /// Reads the magic from `input`; `what` names it in errors (a file name).
    pub fn new(mut input: R, what: &str) -> Result<Reader<R>, Error> {
        let mut magic = [0u8; 4];
        match read_full(&mut input, &mut magic) {
            Ok(4) if magic == MAGIC => {}
            Ok(_) => {
                return Err(Error::NotABinlog {
                    what: what.to_owned(),
                })
            }
            Err(source) => {
                return Err(Error::Io {
                    what: what.to_owned(),
                    source,
                })
            }
        }
        Ok(Reader {
            input,
            what: what.to_owned(),
            offset: 4,
            checksums: false,
            encrypted: false,
            failed: false,
        })
    }

    /// The next event; `None` at the end of the stream (at an event boundary).
    pub fn next_event(&mut self) -> Result<Option<Event>, Error> {
        if self.encrypted {
            return Err(Error::Encrypted {
                what: self.what.clone(),
                offset: self.offset,
            });
        }
        let offset = self.offset;
        let mut head = [0u8; HEADER_LEN];
        let got = read_full(&mut self.input, &mut head).map_err(|e| self.io(e))?;
        if got == 0 {
            return Ok(None);
        }
        if got < HEADER_LEN {
            return Err(Error::Truncated {
                what: self.what.clone(),
                offset,
                missing: (HEADER_LEN - got) as u64,
            });
        }
        let header = Header::parse(&head);
        let min = HEADER_LEN as u32
            + if self.checksums {
                CHECKSUM_LEN as u32
            } else {
                0
            };
        if header.length < min || header.length > MAX_EVENT {
            return Err(self.corrupt(
                offset,
                format!("an event length of {} bytes", header.length),
            ));
        }
        let mut bytes = vec![0u8; header.length as usize];
        bytes[..HEADER_LEN].copy_from_slice(&head);
        let got = read_full(&mut self.input, &mut bytes[HEADER_LEN..]).map_err(|e| self.io(e))?;
        if got < bytes.len() - HEADER_LEN {
            return Err(Error::Truncated {
                what: self.what.clone(),
                offset,
                missing: (bytes.len() - HEADER_LEN - got) as u64,
            });
        }
        self.take(offset, header, bytes).map(Some)
    }

    /// Checks one whole event that did not come through this reader's input (a followed
    /// binlog's), as the next event of the stream: its length, its CRC32 once a format
    /// description said events carry one.
    pub fn check(&mut self, bytes: Vec<u8>) -> Result<Event, Error> {
        let offset = self.offset;
        let Some(head) = bytes.get(..HEADER_LEN) else {
            return Err(self.corrupt(offset, format!("an event of {} bytes", bytes.len())));
        };
        let mut fixed = [0u8; HEADER_LEN];
        fixed.copy_from_slice(head);
        let header = Header::parse(&fixed);
        if header.length as usize != bytes.len() {
            return Err(self.corrupt(
                offset,
                format!(
                    "an event of {} bytes whose header says {}",
                    bytes.len(),
                    header.length
                ),
            ));
        }
        self.take(offset, header, bytes)
    }

    /// Checks and decodes an event read whole.
    fn take(&mut self, offset: u64, header: Header, bytes: Vec<u8>) -> Result<Event, Error> {
        if self.encrypted {
            return Err(Error::Encrypted {
                what: self.what.clone(),
                offset,
            });
        }
        let min = HEADER_LEN + if self.checksums { CHECKSUM_LEN } else { 0 };
        if bytes.len() < min {
            return Err(self.corrupt(offset, format!("an event of {} bytes", bytes.len())));
        }
        self.offset += u64::from(header.length);
        let kind = if header.code == code::FORMAT_DESCRIPTION {
            self.format_description(offset, &header, &bytes)?
        } else {
            let body_end = bytes.len() - if self.checksums { CHECKSUM_LEN } else { 0 };
            if self.checksums {
                self.check_crc(offset, &bytes)?;
            }
            event::decode(header.code, header.server_id, &bytes[HEADER_LEN..body_end])
                .map_err(|detail| self.corrupt(offset, detail))?
        };
        if kind == Kind::StartEncryption {
            self.encrypted = true;
        }
        Ok(Event {
            offset,
            header,
            kind,
            bytes,
        })
    }

    /// Reads a format description and takes its checksum setting for the events after it.
    fn format_description(
        &mut self,
        offset: u64,
        header: &Header,
        bytes: &[u8],
    ) -> Result<Kind, Error> {
        // Its last five bytes: the checksum algorithm, then its own CRC32 (always present in a
        // checksum-aware server's format description, whatever the algorithm).
        if bytes.len() < HEADER_LEN + 57 + 1 + CHECKSUM_LEN {
            return Err(self.corrupt(
                offset,
                "a format description too short for a MariaDB 10 server".to_owned(),
            ));
        }
        let alg = bytes[bytes.len() - 1 - CHECKSUM_LEN];
        let checksums = alg == ALG_CRC32;
        if checksums {
            // The server sets LOG_EVENT_BINLOG_IN_USE_F in the open file's format description
            // and clears it at close, without recomputing the CRC: the CRC is of the cleared
            // flags.
            let mut cleared = bytes.to_vec();
            cleared[17] &= !IN_USE;
            self.check_crc(offset, &cleared)?;
        }
        let body = &bytes[HEADER_LEN..bytes.len() - 1 - CHECKSUM_LEN];
        let kind = event::decode(header.code, header.server_id, body)
            .map_err(|d| self.corrupt(offset, d))?;
        self.checksums = checksums;
        Ok(match kind {
            Kind::FormatDescription { server_version, .. } => Kind::FormatDescription {
                server_version,
                checksums,
            },
            other => other,
        })
    }

    fn check_crc(&self, offset: u64, bytes: &[u8]) -> Result<(), Error> {
        let (data, stored) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        let stored = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
        let computed = crc32fast::hash(data);
        if stored != computed {
            return Err(self.corrupt(
                offset,
                format!(
                    "the {} event's CRC32 is {stored:08x}, its bytes give {computed:08x}",
                    event::name(bytes[4])
                ),
            ));
        }
        Ok(())
    }

    /// Where the next event starts.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether the events read so far carry CRC32 checksums.
    pub fn checksums(&self) -> bool {
        self.checksums
    }

    fn corrupt(&self, offset: u64, detail: String) -> Error {
        Error::Corrupt {
            what: self.what.clone(),
            offset,
            detail,
        }
    }

    fn io(&self, source: std::io::Error) -> Error {
        Error::Io {
            what: self.what.clone(),
            source,
        }
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Event, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let next = self.next_event().transpose();
        self.failed = matches!(next, Some(Err(_)));
        next
    }
}

/// Reads until `buf` is full or the input ends; how many bytes were read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}
