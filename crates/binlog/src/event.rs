//! One binlog event: its [`Header`] (the same 19 bytes in every binlog version 4 event) and
//! what Ferryman reads of its body ([`Kind`]): the format description (server version,
//! checksums), MariaDB's GTID and GTID list events, rotations, and the events that end a
//! transaction. Every other event is kept as bytes, unread.

use crate::gtid::Gtid;

/// Length of an event header.
pub const HEADER_LEN: usize = 19;
/// Length of a CRC32 event checksum.
pub const CHECKSUM_LEN: usize = 4;

/// Event type codes Ferryman reads (MariaDB's `Log_event_type`).
pub mod code {
    /// A statement (`BEGIN`, `COMMIT`, DDL...).
    pub const QUERY: u8 = 2;
    /// The next binlog file.
    pub const ROTATE: u8 = 4;
    /// The format description, first in every file and every dump.
    pub const FORMAT_DESCRIPTION: u8 = 15;
    /// The commit of an XA-capable (InnoDB) transaction.
    pub const XID: u8 = 16;
    /// The statement behind row events (`binlog_annotate_row_events`).
    pub const ANNOTATE_ROWS: u8 = 160;
    /// A binlog checkpoint (crash recovery).
    pub const BINLOG_CHECKPOINT: u8 = 161;
    /// MariaDB's GTID: the start of an event group.
    pub const GTID: u8 = 162;
    /// MariaDB's GTID list: the GTID position before this file.
    pub const GTID_LIST: u8 = 163;
    /// The rest of the file is encrypted.
    pub const START_ENCRYPTION: u8 = 164;
}

/// `flags2` of a GTID event: the group is one statement without BEGIN/COMMIT (DDL).
const FL_STANDALONE: u8 = 1;

/// The header every event starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// When the event was written (seconds since the epoch, the server's clock).
    pub timestamp: u32,
    /// The type code (see [`code`]).
    pub code: u8,
    /// The server id of the server that wrote the event first.
    pub server_id: u32,
    /// The whole event's length, header and checksum included.
    pub length: u32,
    /// The position of the next event in the file that holds it (0 in some streamed events).
    pub next_position: u32,
    /// Event flags.
    pub flags: u16,
}

impl Header {
    /// Reads a header from its 19 bytes.
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> Header {
        let u32_at =
            |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        Header {
            timestamp: u32_at(0),
            code: bytes[4],
            server_id: u32_at(5),
            length: u32_at(9),
            next_position: u32_at(13),
            flags: u16::from_le_bytes([bytes[17], bytes[18]]),
        }
    }
}

/// What Ferryman reads of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// The format description: the server's version and whether events carry a CRC32.
    FormatDescription {
        /// `10.11.19-MariaDB-0+deb12u1-log`, say.
        server_version: String,
        /// Whether the events after it end with a CRC32 checksum.
        checksums: bool,
    },
    /// The start of an event group (a transaction, or one DDL when `standalone`).
    Gtid {
        /// The group's GTID (its server is the header's server id).
        gtid: Gtid,
        /// One statement without BEGIN/COMMIT.
        standalone: bool,
    },
    /// The GTID position before the file: the last GTID of each domain.
    GtidList(Vec<Gtid>),
    /// The next file's name and position.
    Rotate {
        /// The next file.
        file: String,
        /// Where to read it from.
        position: u64,
    },
    /// An InnoDB commit: the end of a group.
    Xid,
    /// A statement; `COMMIT` ends a group.
    Query {
        /// Whether the statement is `COMMIT`.
        commit: bool,
    },
    /// The rest of the file is encrypted.
    StartEncryption,
    /// Anything else (row events, table maps, annotations...), unread.
    Other,
}

/// One event: its header, its body (without the checksum), and what Ferryman read of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Where it starts in the file or stream.
    pub offset: u64,
    /// Its header.
    pub header: Header,
    /// What it is.
    pub kind: Kind,
    /// The whole event as read, header and checksum included (to copy it as it is).
    pub bytes: Vec<u8>,
}

/// Decodes the body of an event of type `code` (the bytes after the header, without the
/// checksum); `server_id` is the header's. `Err` says what does not fit.
pub(crate) fn decode(code: u8, server_id: u32, body: &[u8]) -> Result<Kind, String> {
    let short = |need: usize| {
        format!(
            "a {} event of {} bytes, at least {need} expected",
            name(code),
            body.len()
        )
    };
    let u32_at = |i: usize| u32::from_le_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]);
    let u64_at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&body[i..i + 8]);
        u64::from_le_bytes(b)
    };
    Ok(match code {
        code::FORMAT_DESCRIPTION => {
            // binlog version (2), server version (50), create time (4), header length (1),
            // post-header lengths..., then the checksum algorithm (1) and the FDE's own CRC.
            if body.len() < 57 {
                return Err(short(57));
            }
            let version = &body[2..52];
            let end = version
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(version.len());
            Kind::FormatDescription {
                server_version: String::from_utf8_lossy(&version[..end]).into_owned(),
                checksums: false, // set by the reader, which knows where the algorithm byte is
            }
        }
        code::GTID => {
            if body.len() < 13 {
                return Err(short(13));
            }
            Kind::Gtid {
                gtid: Gtid {
                    domain: u32_at(8),
                    server: server_id,
                    seq: u64_at(0),
                },
                standalone: body[12] & FL_STANDALONE != 0,
            }
        }
        code::GTID_LIST => {
            if body.len() < 4 {
                return Err(short(4));
            }
            let count = (u32_at(0) & 0x0fff_ffff) as usize;
            let need = 4 + count * 16;
            if body.len() < need {
                return Err(short(need));
            }
            Kind::GtidList(
                (0..count)
                    .map(|i| {
                        let at = 4 + i * 16;
                        Gtid {
                            domain: u32_at(at),
                            server: u32_at(at + 4),
                            seq: u64_at(at + 8),
                        }
                    })
                    .collect(),
            )
        }
        code::ROTATE => {
            if body.len() < 8 {
                return Err(short(8));
            }
            Kind::Rotate {
                position: u64_at(0),
                file: String::from_utf8_lossy(&body[8..]).into_owned(),
            }
        }
        code::XID => Kind::Xid,
        code::QUERY => {
            // thread id (4), exec time (4), db length (1), error code (2), status length (2).
            if body.len() < 13 {
                return Err(short(13));
            }
            let db_len = body[8] as usize;
            let status_len = u16::from_le_bytes([body[11], body[12]]) as usize;
            let start = 13 + status_len + db_len + 1;
            let query = body.get(start..).unwrap_or_default();
            Kind::Query {
                commit: query.eq_ignore_ascii_case(b"COMMIT"),
            }
        }
        code::START_ENCRYPTION => Kind::StartEncryption,
        _ => Kind::Other,
    })
}

/// A readable name for an event type, for messages.
pub fn name(code: u8) -> &'static str {
    match code {
        code::QUERY => "QUERY",
        code::ROTATE => "ROTATE",
        code::FORMAT_DESCRIPTION => "FORMAT_DESCRIPTION",
        code::XID => "XID",
        code::ANNOTATE_ROWS => "ANNOTATE_ROWS",
        code::BINLOG_CHECKPOINT => "BINLOG_CHECKPOINT",
        code::GTID => "GTID",
        code::GTID_LIST => "GTID_LIST",
        code::START_ENCRYPTION => "START_ENCRYPTION",
        _ => "other",
    }
}
