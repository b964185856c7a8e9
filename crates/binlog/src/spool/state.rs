//! The spool's state file: which file is in use and where it stands, replaced whole and
//! atomically (the spool's one commit point).
//!
//! ```text
//! GENERATION POSITION        the file in use, and the GTID position at its start
//! SOURCE                     the server the binlog is read from (when known)
//! stored=OFFSET POSITION     segments stored up to this offset of the file, not rewritten yet
//! pending=OFFSET POSITION    the segment handed out to be stored ends here
//! ```
//!
//! `pending` is written before a segment is handed out: a spool opened again after a crash
//! gives that same segment first, byte for byte, so storing it again finds it stored instead
//! of storing an overlapping one that ends elsewhere.

use crate::{Error, GtidPos};

/// What the state file says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct State {
    pub generation: u64,
    /// The position at the file's start.
    pub start: GtidPos,
    pub source: Option<String>,
    /// Stored up to this offset, with the position there.
    pub stored: Option<(u64, GtidPos)>,
    /// The segment handed out ends at this offset, with the position there.
    pub pending: Option<(u64, GtidPos)>,
}

const STORED: &str = "stored=";
const PENDING: &str = "pending=";

impl State {
    /// The file's text.
    pub fn render(&self) -> String {
        let mut text = format!("{} {}\n", self.generation, self.start);
        if let Some(source) = &self.source {
            text.push_str(&format!("{source}\n"));
        }
        for (key, mark) in [(STORED, &self.stored), (PENDING, &self.pending)] {
            if let Some((offset, position)) = mark {
                text.push_str(&format!("{key}{offset} {position}\n"));
            }
        }
        text
    }

    /// Reads the file's text; `what` names it in errors.
    pub fn parse(text: &str, what: &str) -> Result<State, Error> {
        let corrupt = |detail: String| Error::Corrupt {
            what: what.to_owned(),
            offset: 0,
            detail,
        };
        let mut lines = text.lines();
        let first = lines.next().unwrap_or_default().trim();
        let (generation, start) = first.split_once(' ').unwrap_or((first, ""));
        let generation = generation.parse().map_err(|_| {
            corrupt(format!(
                "`{first}` is not \"GENERATION POSITION\"; move the spool directory aside: the archiver starts a new one from the repositories' end"
            ))
        })?;
        let mut state = State {
            generation,
            start: start.trim().parse()?,
            ..State::default()
        };
        for line in lines.map(str::trim).filter(|l| !l.is_empty()) {
            let mark = |rest: &str| -> Result<(u64, GtidPos), Error> {
                let (offset, position) = rest.split_once(' ').unwrap_or((rest, ""));
                let offset = offset
                    .parse()
                    .map_err(|_| corrupt(format!("`{line}` holds no offset")))?;
                Ok((offset, position.trim().parse()?))
            };
            if let Some(rest) = line.strip_prefix(STORED) {
                state.stored = Some(mark(rest)?);
            } else if let Some(rest) = line.strip_prefix(PENDING) {
                state.pending = Some(mark(rest)?);
            } else {
                state.source = Some(line.to_owned());
            }
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_survives_the_file_and_old_files_still_read() {
        let state = State {
            generation: 7,
            start: "0-1-5,1-2-3".parse().unwrap_or_default(),
            source: Some("db1".to_owned()),
            stored: Some((4096, "0-1-9,1-2-3".parse().unwrap_or_default())),
            pending: Some((8192, "0-1-12,1-2-3".parse().unwrap_or_default())),
        };
        assert_eq!(State::parse(&state.render(), "s").ok(), Some(state));
        let old = State::parse("3 0-1-5\ndb2\n", "s").ok();
        assert_eq!(old.as_ref().map(|s| s.generation), Some(3));
        assert_eq!(old.and_then(|s| s.source), Some("db2".to_owned()));
        let fresh = State::parse("1 \n", "s").ok();
        assert_eq!(fresh.map(|s| s.start.is_empty()), Some(true));
        assert!(State::parse("x 0-1-5\n", "s").is_err());
    }
}
