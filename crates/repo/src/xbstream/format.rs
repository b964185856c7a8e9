//! The xbstream chunk header: its fixed layout, the chunk types and the paths an extractor
//! may safely create.

/// The first 8 bytes of every chunk.
pub(super) const MAGIC: &[u8; 8] = b"XBSTCK01";
/// A chunk of unknown type with this flag may be skipped.
pub(super) const FLAG_IGNORABLE: u8 = 0x01;
/// Magic, flags, type and path length.
pub(super) const FIXED_LEN: usize = 14;
/// MariaDB's `FN_REFLEN`: its reader refuses a path length at or above it.
pub(super) const PATH_LEN_LIMIT: usize = 512;
/// Payload length, payload offset and checksum.
pub(super) const DATA_FIELDS_LEN: usize = 20;
/// The sparse map entry count that opens the fields of an `S` chunk.
pub(super) const SPARSE_COUNT_LEN: usize = 4;
/// One sparse map entry: hole length and data length.
pub(super) const SPARSE_ENTRY_LEN: usize = 8;

/// The chunk type, from the type byte and the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Payload,
    Sparse,
    Eof,
    /// Unknown, with the ignorable flag: laid out like a payload chunk.
    Ignorable,
}

impl Kind {
    pub(super) fn from_header(flags: u8, ty: u8) -> Option<Kind> {
        match ty {
            b'P' => Some(Kind::Payload),
            b'S' => Some(Kind::Sparse),
            b'E' => Some(Kind::Eof),
            _ if flags & FLAG_IGNORABLE != 0 => Some(Kind::Ignorable),
            _ => None,
        }
    }

    /// Header bytes after the path.
    pub(super) fn fields_len(self) -> usize {
        match self {
            Kind::Eof => 0,
            Kind::Sparse => SPARSE_COUNT_LEN + DATA_FIELDS_LEN,
            Kind::Payload | Kind::Ignorable => DATA_FIELDS_LEN,
        }
    }
}

/// The path of a chunk, if an extractor can safely create it under its directory.
pub(super) fn checked_path(raw: &[u8]) -> Result<String, String> {
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

pub(super) fn le_u32(bytes: &[u8], at: usize) -> u32 {
    let mut le = [0; 4];
    le.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(le)
}

pub(super) fn le_u64(bytes: &[u8], at: usize) -> u64 {
    let mut le = [0; 8];
    le.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(le)
}
