//! One 512-byte tar header, as GNU tar and POSIX ustar write it: the member's name (ustar's
//! `prefix` joined when the magic is POSIX's), its size (octal, or GNU's base-256 for large
//! ones), its type, and the checksum that proves the block is a header at all.

/// A tar block.
pub(crate) const BLOCK: usize = 512;

/// What a header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    /// The name field (with ustar's prefix), lossy UTF-8.
    pub name: String,
    /// Content bytes that follow (padded to [`BLOCK`]).
    pub size: u64,
    /// The type flag: `0`/NUL file, `1` hard link, `2` symlink, `5` directory, `L` GNU long
    /// name, `x`/`g` pax records, ...
    pub kind: u8,
    /// The link target of a link member.
    pub link: String,
}

/// Why a block is not a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bad {
    /// The checksum does not match the block.
    Checksum { stored: u64, computed: u64 },
    /// The size field is not a number.
    Size,
}

impl Header {
    /// Parses a header block; `None` for an all-zero block (the end of the archive).
    pub(crate) fn parse(block: &[u8; BLOCK]) -> Result<Option<Header>, Bad> {
        if block.iter().all(|&b| b == 0) {
            return Ok(None);
        }
        let stored = octal(&block[148..156]).ok_or(Bad::Checksum {
            stored: 0,
            computed: checksum(block),
        })?;
        let computed = checksum(block);
        if stored != computed {
            return Err(Bad::Checksum { stored, computed });
        }
        let size = size(&block[124..136]).ok_or(Bad::Size)?;
        let mut name = text(&block[0..100]);
        // POSIX ustar (`ustar\0` `00`) splits long names into prefix/name; GNU's `ustar  \0`
        // keeps other fields there and uses `L` members instead.
        if &block[257..263] == b"ustar\0" {
            let prefix = text(&block[345..500]);
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        Ok(Some(Header {
            name,
            size,
            kind: block[156],
            link: text(&block[157..257]),
        }))
    }

    /// Content plus padding to the next header.
    pub(crate) fn padded(&self) -> u64 {
        self.size.div_ceil(BLOCK as u64) * BLOCK as u64
    }
}

/// The header checksum: the sum of its bytes with the checksum field read as spaces.
fn checksum(block: &[u8; BLOCK]) -> u64 {
    block
        .iter()
        .enumerate()
        .map(|(i, &b)| u64::from(if (148..156).contains(&i) { b' ' } else { b }))
        .sum()
}

/// An octal field: digits, surrounded by spaces or NULs.
fn octal(field: &[u8]) -> Option<u64> {
    let digits: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|&b| b == b' ')
        .take_while(|&b| b != 0 && b != b' ')
        .collect();
    if digits.is_empty() {
        return Some(0);
    }
    let text = std::str::from_utf8(&digits).ok()?;
    u64::from_str_radix(text, 8).ok()
}

/// The size field: octal, or base-256 (GNU, first byte's high bit set) past 8 GiB.
fn size(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        let mut n: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            n = n.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(n);
    }
    octal(field)
}

/// A NUL-terminated text field.
fn text(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// A GNU header for a member `name` of `size` bytes and type `kind`, with a correct checksum.
#[cfg(test)]
pub(crate) fn gnu(name: &str, size: u64, kind: u8) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    b[..name.len()].copy_from_slice(name.as_bytes());
    b[100..107].copy_from_slice(b"0000644");
    b[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    b[156] = kind;
    b[257..265].copy_from_slice(b"ustar  \0");
    let sum = checksum(&b);
    b[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    b[155] = b' ';
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_gives_name_size_and_kind_and_proves_itself() {
        let block = gnu("./db.t.sql", 1234, b'0');
        let h = Header::parse(&block).unwrap().unwrap();
        assert_eq!(
            (h.name.as_str(), h.size, h.kind),
            ("./db.t.sql", 1234, b'0')
        );
        assert_eq!(h.padded(), 1536);
        let mut damaged = block;
        damaged[3] ^= 1;
        assert!(matches!(Header::parse(&damaged), Err(Bad::Checksum { .. })));
        assert_eq!(Header::parse(&[0u8; BLOCK]), Ok(None));
    }

    #[test]
    fn a_ustar_prefix_is_part_of_the_name_and_large_sizes_are_base_256() {
        let mut b = [0u8; BLOCK];
        b[..5].copy_from_slice(b"t.sql");
        b[257..263].copy_from_slice(b"ustar\0");
        b[263..265].copy_from_slice(b"00");
        b[345..349].copy_from_slice(b"dump");
        b[124] = 0x80;
        b[135] = 1;
        b[134] = 2; // 2 * 256 + 1
        let sum = checksum(&b);
        b[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        let h = Header::parse(&b).unwrap().unwrap();
        assert_eq!(h.name, "dump/t.sql");
        assert_eq!(h.size, 513);
    }
}
