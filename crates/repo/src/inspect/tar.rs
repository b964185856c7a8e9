//! A tar archive (mydumper's directory): complete only if it ends with the end-of-archive
//! marker, two zero 512-byte blocks, after whole blocks. A tar cut between two members would
//! otherwise extract without complaint. Its coordinates come from the agent (mydumper's
//! `metadata` file, which it reads).

use super::{Findings, Inspector, Refusal, Tail};

/// The tar block size.
const BLOCK: u64 = 512;
/// The end-of-archive marker's length.
const END: usize = 1024;

/// Inspects a tar stream.
pub(crate) struct TarInspector {
    len: u64,
    tail: Tail,
}

impl TarInspector {
    pub(crate) fn new() -> TarInspector {
        TarInspector {
            len: 0,
            tail: Tail::new(END),
        }
    }
}

impl Inspector for TarInspector {
    fn feed(&mut self, data: &[u8]) -> Result<(), Refusal> {
        self.len += data.len() as u64;
        self.tail.push(data);
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Findings, Refusal> {
        if !self.len.is_multiple_of(BLOCK) {
            return Err(Refusal::Incomplete(format!(
                "a tar archive is made of 512-byte blocks, this one has {} bytes",
                self.len
            )));
        }
        let tail = self.tail.get();
        if tail.len() < END || tail.iter().any(|&b| b != 0) {
            return Err(Refusal::Incomplete(
                "the tar archive lacks its end-of-archive marker (two zero blocks)".to_owned(),
            ));
        }
        Ok(Findings::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspect(data: &[u8]) -> Result<Findings, Refusal> {
        let mut inspector = Box::new(TarInspector::new());
        for piece in data.chunks(300) {
            inspector.feed(piece)?;
        }
        inspector.finish()
    }

    #[test]
    fn only_an_archive_with_its_end_marker_is_whole() {
        let mut archive = vec![7u8; 2048];
        archive.extend_from_slice(&[0; 10240 - 2048]);
        assert!(inspect(&archive).is_ok());
        assert!(matches!(
            inspect(&archive[..2048]),
            Err(Refusal::Incomplete(_))
        ));
        assert!(matches!(
            inspect(&archive[..4000]),
            Err(Refusal::Incomplete(_))
        ));
        assert!(matches!(inspect(&[]), Err(Refusal::Incomplete(_))));
    }
}
