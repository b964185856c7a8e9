//! What the spool hands out to be stored: [`Spool::segment`] (whole, durable groups laid out as
//! a binlog file), and [`Spool::cut`] once they are stored.

use std::os::unix::fs::FileExt;

use super::{Spool, MAGIC, REWRITE_TAIL};
use crate::{Error, GtidPos};

/// A stretch of the spool to store: [`Spool::segment`].
#[derive(Debug, Clone)]
pub struct Segment {
    /// Its bytes, laid out as a binlog file.
    pub bytes: Vec<u8>,
    /// The GTID position before it.
    pub before: GtidPos,
    /// Where the spool is cut once it is stored.
    pub cut: Cut,
}

/// Where a stored [`Segment`] ends in the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    generation: u64,
    end: u64,
    position: GtidPos,
}

impl Cut {
    /// The GTID position at the segment's end.
    pub fn position(&self) -> &GtidPos {
        &self.position
    }
}

impl Spool {
    /// The whole groups so far as a binlog (magic, format description, events), with the
    /// position before them and where they end, at most about `limit` bytes (a group end near
    /// it; a backlog is stored as several segments); `None` when there is no whole group yet.
    /// Syncs first. Appending may go on while the segment is stored elsewhere; then
    /// [`Spool::cut`] with its [`Cut`].
    pub fn segment(&mut self, limit: u64) -> Result<Option<Segment>, Error> {
        self.sync()?;
        self.durable_segment(limit)
    }

    /// As [`Spool::segment`], without waiting for a sync: only the groups durable already
    /// (`durable.rs`); `None` when none after the last segment is.
    pub fn durable_segment(&mut self, limit: u64) -> Result<Option<Segment>, Error> {
        let (from, before) = match &self.stored {
            Some((at, position)) => (*at, position.clone()),
            None => (self.head_len(), self.start.clone()),
        };
        // Only what is durable goes into a segment (the state never marks past it), and only
        // when it holds a whole group (the events before the first group are no segment).
        let durable = &self.durable;
        if self.safe_last.is_empty() || durable.end <= from || durable.position == before {
            return Ok(None);
        }
        let (durable_end, durable_position) = (durable.end, durable.position.clone());
        let head = self.head_len();
        let fits = |end: u64| head + (end - from) <= limit;
        let pending = self.pending.clone().filter(|(end, _)| *end > from);
        let (end, position) = if let Some(pending) = pending {
            // Handed out before (then a crash, or a failed store): the same segment again.
            pending
        } else if fits(durable_end) {
            (durable_end, durable_position)
        } else {
            // The last recorded group end within the limit, else the first one there is.
            let after: Vec<&(u64, GtidPos)> = self
                .boundaries
                .iter()
                .filter(|(end, _)| *end > from && *end <= durable_end)
                .collect();
            let within = after.iter().rev().find(|(end, _)| fits(*end));
            match within.or(after.first()) {
                Some((end, position)) => (*end, position.clone()),
                None => (durable_end, durable_position),
            }
        };
        let mut bytes = vec![0u8; usize::try_from(head + (end - from)).unwrap_or(usize::MAX)];
        let (head_part, events) = bytes.split_at_mut(usize::try_from(head).unwrap_or(0));
        // Positional reads: the file's cursor stays at its end, where appends go.
        let file = self.out.get_ref();
        let read = file
            .read_exact_at(head_part, 0)
            .and_then(|_| file.read_exact_at(events, from));
        read.map_err(|source| self.io(source))?;
        if self.pending.as_ref().map(|(e, _)| *e) != Some(end) {
            self.pending = Some((end, position.clone()));
            self.write_state()?;
        }
        Ok(Some(Segment {
            bytes,
            before,
            cut: Cut {
                generation: self.generation,
                end,
                position,
            },
        }))
    }

    /// Restarts the spool after the segment [`Spool::segment`] gave was stored: the format
    /// description and everything after the segment (groups appended since, the unfinished
    /// one) stay, the start moves to the segment's end. A cut of another generation (the
    /// spool was cut or restarted since), or of a stretch already cut, does nothing.
    ///
    /// What remains is copied into the next generation's file only when it is small (at most
    /// 1 MiB (`REWRITE_TAIL`), or a quarter of what was stored from this file): a backlog of many
    /// segments is then copied about once, not once per segment. Otherwise the spool only
    /// remembers where the next segment begins; the state still names the file's start, so
    /// after a crash the stored segments are given again, and storing them finds them stored.
    pub fn cut(&mut self, at: &Cut) -> Result<(), Error> {
        // The segment was durable before it was handed out; a rewrite copies the rest from
        // the page cache and writes it durably.
        self.flush()?;
        let done = self.stored.as_ref().is_some_and(|(end, _)| at.end <= *end);
        if at.generation != self.generation || done {
            return Ok(());
        }
        let tail = self.reader.offset().saturating_sub(at.end);
        let stored = at.end.saturating_sub(self.head_len());
        if tail > REWRITE_TAIL && tail.saturating_mul(4) > stored {
            self.stored = Some((at.end, at.position.clone()));
            self.pending = None;
            return self.write_state();
        }
        let mut head = MAGIC.to_vec();
        if let Some(fde) = &self.fde {
            head.extend_from_slice(fde);
        }
        self.replace(&head, Some(at.end), at.position.clone())
    }
}
