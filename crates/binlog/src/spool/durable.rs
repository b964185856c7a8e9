//! When the spool's bytes are durable. Appends go to the page cache; a sync makes them
//! durable, and only then do they count: as the archive's recovery point
//! ([`Spool::durable_position`]) and as what a segment may hold (the state file never marks
//! past it, so a crash never leaves a mark beyond the file).
//!
//! A sync of a busy spool takes time (the disk writes what piled up since the last one), and
//! the follower should not stop reading meanwhile: [`Spool::begin_sync`] flushes and hands out
//! a [`SyncTicket`] that the caller runs on another thread while appends go on, then gives
//! back to [`Spool::end_sync`]. [`Spool::sync`] does it all at once, for the moments that must
//! wait (a segment with nothing durable in it yet, the end of a session).

use std::fs::File;
use std::io::Write;

use super::Spool;
use crate::{Error, GtidPos};

/// The end of the spool's whole groups at some moment, with the position and the last event
/// time there: what a sync makes durable.
#[derive(Debug, Clone)]
pub(super) struct Mark {
    pub end: u64,
    pub position: GtidPos,
    pub last_time: Option<u32>,
}

/// A sync to run off the follower's path: [`Spool::begin_sync`].
#[derive(Debug)]
pub struct SyncTicket {
    file: File,
    /// The spool's file, for errors.
    what: String,
    generation: u64,
    mark: Mark,
}

impl SyncTicket {
    /// Makes the bytes the ticket covers durable (blocking: on a thread that may wait).
    pub fn run(&self) -> Result<(), Error> {
        self.file.sync_data().map_err(|source| Error::Io {
            what: self.what.clone(),
            source,
        })
    }
}

impl Spool {
    /// Makes what was appended durable now; nothing to do when nothing was.
    pub fn sync(&mut self) -> Result<(), Error> {
        if let Some(ticket) = self.begin_sync()? {
            ticket.run()?;
            self.end_sync(ticket);
        }
        Ok(())
    }

    /// Writes what was appended to the file (not durably).
    pub(super) fn flush(&mut self) -> Result<(), Error> {
        self.out.flush().map_err(|source| self.io(source))
    }

    /// Flushes what was appended since the last sync began and returns the sync that makes
    /// it durable, to run while appending goes on; `None` when nothing was appended.
    pub fn begin_sync(&mut self) -> Result<Option<SyncTicket>, Error> {
        if !self.unsynced {
            return Ok(None);
        }
        self.flush()?;
        let file = self
            .out
            .get_ref()
            .try_clone()
            .map_err(|source| self.io(source))?;
        self.unsynced = false;
        Ok(Some(SyncTicket {
            file,
            what: self.path.display().to_string(),
            generation: self.generation,
            mark: self.mark(),
        }))
    }

    /// Where the whole groups end now.
    pub(super) fn mark(&self) -> Mark {
        Mark {
            end: self.safe_end,
            position: self.position(),
            last_time: self.summary.last_time,
        }
    }

    /// Takes a ticket whose sync succeeded: what it covers is durable. A ticket of an older
    /// file (the spool was cut or restarted since), or behind what is durable already, changes
    /// nothing.
    pub fn end_sync(&mut self, ticket: SyncTicket) {
        if ticket.generation == self.generation && ticket.mark.end >= self.durable.end {
            self.durable = ticket.mark;
        }
    }

    /// The position of the last whole group that is durable: the archive's recovery point.
    pub fn durable_position(&self) -> &GtidPos {
        &self.durable.position
    }

    /// The time of the last durable event, if any.
    pub fn durable_time(&self) -> Option<u32> {
        self.durable.last_time
    }
}
