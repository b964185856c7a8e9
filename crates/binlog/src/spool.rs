//! [`Spool`]: the followed binlog of one cluster on the manager's disk, made durable every
//! second, from which whole segments are cut for the repositories.
//!
//! ```text
//! <dir>/<name>.state         the file in use, the GTID position it starts at (the segment's
//!                            `before`), its source, how far it was stored and the segment
//!                            handed out (`spool/state.rs`); replaced whole, atomically
//! <dir>/<name>.<GEN>.binlog  the magic, the dump's first format description, then every event
//! ```
//!
//! # Sequence
//! 1. [`Spool::open`]: a new spool starts at the given position; an existing one is read back
//!    with the [`Reader`], and a cut or damaged tail and an unfinished group are truncated
//!    away (durably): [`Spool::position`] is then the last whole group, where the follower
//!    resumes, so nothing is duplicated and nothing lost. Files of other generations (an
//!    interrupted cut) are removed.
//! 2. [`Spool::append`] checks each followed event (length, CRC32) and writes it; rotations
//!    and later format descriptions of the dump are left out (the first one describes them
//!    all). [`Spool::sync`] makes what was appended durable (`fdatasync`): the archiver calls
//!    it at least every `binlog-archive-flush`, which bounds what a crash loses.
//! 3. [`Spool::segment`] gives the whole groups so far (at most about a segment's size),
//!    laid out as a binlog, with the position before them, while appending goes on; once the
//!    caller stored it, [`Spool::cut`] restarts the spool with the format description and what
//!    came after the segment in the next generation's file, then replaces the state (the one
//!    commit point), then removes the old file. A crash before the state is replaced leaves
//!    the old spool, whose segment is the same bytes again (its end was recorded before it
//!    was handed out): storing it twice finds it stored.
//!    While a backlog remains (much more after the cut than was stored), the cut only
//!    remembers where the next segment begins, and the file is rewritten once the rest is
//!    small: each byte is copied about once, not once per segment. [`Spool::restart`] starts
//!    over with nothing kept, for a follower that goes on from another server (its own format
//!    description first).
//!
//! # Safety
//! The position is never written apart from the file it belongs to: both change in one rename
//! of the state file, so a crash at any point leaves a spool whose segment starts where the
//! archive's last stored segment ended, or the same stored segment again.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

mod durable;
mod segment;
mod state;

pub use durable::SyncTicket;
pub use segment::{Cut, Segment};

use state::State;

use crate::event::{code, Event};
use crate::reader::{Reader, MAGIC};
use crate::summary::Summary;
use crate::{Error, GtidPos};

/// Bytes gathered before a write to the file (the sync every second flushes them anyway).
const WRITE_BUFFER: usize = 1 << 20;
/// How far apart the group ends a segment may stop at are recorded.
const BOUNDARY_EVERY: u64 = 1 << 20;
/// A cut rewrites the spool (the next generation) when what remains after it is at most this
/// big, or a quarter of what was stored; else it only remembers where storing goes on (see
/// [`Spool::cut`]).
const REWRITE_TAIL: u64 = 1 << 20;

/// One cluster's spool.
pub struct Spool {
    dir: PathBuf,
    name: String,
    generation: u64,
    /// The server read from.
    source: Option<String>,
    path: PathBuf,
    out: BufWriter<File>,
    /// Checks appended events (its offset is the file's length).
    reader: Reader<&'static [u8]>,
    /// The format description, first event of the file.
    fde: Option<Vec<u8>>,
    /// Where the spool starts.
    start: GtidPos,
    /// What the file holds.
    summary: Summary,
    /// The end of the last whole group (or of the events before any group).
    safe_end: u64,
    /// The last GTIDs of the whole groups.
    safe_last: GtidPos,
    /// Group ends about every [`BOUNDARY_EVERY`] bytes, with the position there: where a
    /// segment smaller than the whole spool may end.
    boundaries: Vec<(u64, GtidPos)>,
    /// Bytes appended since the last sync began.
    unsynced: bool,
    /// The end of the whole groups known durable, and the position and last event time there
    /// (`durable.rs`): what a segment may hold, and the archive's recovery point.
    durable: durable::Mark,
    /// Where the groups not stored yet begin, with the position there, when segments were
    /// stored from this file without rewriting it (a backlog: see [`Spool::cut`]).
    stored: Option<(u64, GtidPos)>,
    /// Where the segment handed out to be stored ends (`state.rs`).
    pending: Option<(u64, GtidPos)>,
}

/// What [`Spool::open`] found in an existing spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Bytes cut off its end (an unfinished group, a cut or damaged event).
    pub dropped: u64,
    /// Why the tail was cut, when it was damaged rather than merely unfinished.
    pub damage: Option<String>,
}

impl Spool {
    /// Opens (or creates, starting at `start`) the spool `<dir>/<name>`.
    pub fn open(dir: &Path, name: &str, start: &GtidPos) -> Result<(Spool, Recovered), Error> {
        let state_path = dir.join(format!("{name}.state"));
        fs::create_dir_all(dir).map_err(io(dir))?;
        if !state_path.exists() {
            let fresh = State {
                generation: 1,
                start: start.clone(),
                ..State::default()
            };
            write_durably(&binlog_path(dir, name, 1), &MAGIC, None)?;
            write_durably(&state_path, fresh.render().as_bytes(), None)?;
        }
        let text = fs::read_to_string(&state_path).map_err(io(&state_path))?;
        let state = State::parse(&text, &state_path.display().to_string())?;
        let (generation, start, source) = (state.generation, state.start, state.source);
        remove_other_generations(dir, name, generation)?;
        let path = binlog_path(dir, name, generation);
        let length = fs::metadata(&path).map_err(io(&path))?.len();
        let place = (dir.to_owned(), name.to_owned(), generation, source);
        // Read as a stream: a spool that grew while its segments could not be stored may be
        // far larger than memory should hold.
        let reading =
            || -> Result<_, Error> { Ok(BufReader::new(File::open(&path).map_err(io(&path))?)) };
        let (mut spool, damage) = Spool::load(place.clone(), start.clone(), reading()?)?;
        // What the file holds may still be only in the page cache (a restart, not a crash).
        spool.out.get_ref().sync_data().map_err(io(&path))?;
        let dropped = length - spool.safe_end;
        if dropped > 0 {
            let file = spool.out.get_mut();
            file.set_len(spool.safe_end).map_err(io(&path))?;
            file.sync_data().map_err(io(&path))?;
            // The state read past the kept end (an unfinished group): read the kept part again.
            spool = Spool::load(place, start, reading()?)?.0;
        }
        // Marks within what the file holds whole (it was synced before they were written).
        let within = |mark: Option<(u64, GtidPos)>| mark.filter(|(end, _)| *end <= spool.safe_end);
        spool.stored = within(state.stored);
        spool.pending = within(state.pending);
        Ok((spool, Recovered { dropped, damage }))
    }

    /// The spool of the file `path` (whose content `bytes` reads), taking its events up to
    /// the first that does not check out (returned as the damage), positioned at its end.
    fn load(
        (dir, name, generation, source): Place,
        start: GtidPos,
        bytes: impl Read,
    ) -> Result<(Spool, Option<String>), Error> {
        let path = binlog_path(&dir, &name, generation);
        let what = path.display().to_string();
        let io = |source| Error::Io {
            what: what.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io)?;
        file.seek(SeekFrom::End(0)).map_err(io)?;
        let mut spool = Spool {
            reader: Reader::new(&MAGIC[..], &what)?,
            dir,
            name,
            generation,
            source,
            path,
            out: BufWriter::with_capacity(WRITE_BUFFER, file),
            fde: None,
            start,
            summary: Summary::default(),
            safe_end: MAGIC.len() as u64,
            safe_last: GtidPos::new(),
            boundaries: Vec::new(),
            unsynced: false,
            durable: durable::Mark {
                end: MAGIC.len() as u64,
                position: GtidPos::new(),
                last_time: None,
            },
            stored: None,
            pending: None,
        };
        let mut damage = None;
        for event in Reader::new(bytes, &what)? {
            match event {
                Ok(event) => {
                    let event = spool.reader.check(event.bytes)?;
                    spool.record(&event);
                }
                Err(e) => damage = Some(e.to_string()),
            }
        }
        // Durable as read: `open` syncs it, `replace` wrote it durably.
        spool.durable = spool.mark();
        Ok((spool, damage))
    }

    /// Takes a checked event into the state: the format description, the summary, and the
    /// end of the last whole group.
    fn record(&mut self, event: &Event) {
        if event.header.code == code::FORMAT_DESCRIPTION && self.fde.is_none() {
            self.fde = Some(event.bytes.clone());
        }
        self.summary.add(event);
        if self.summary.open.is_none() {
            self.safe_end = self.reader.offset();
            self.safe_last = self.summary.last.clone();
            let since = self.boundaries.last().map_or(0, |(end, _)| *end);
            if !self.safe_last.is_empty() && self.safe_end - since >= BOUNDARY_EVERY {
                self.boundaries.push((self.safe_end, self.position()));
            }
        }
    }

    /// Checks a followed event and appends it (see the module documentation for what is
    /// left out).
    pub fn append(&mut self, bytes: Vec<u8>) -> Result<(), Error> {
        let code = bytes.get(4).copied().unwrap_or_default();
        if code == code::ROTATE || (code == code::FORMAT_DESCRIPTION && self.fde.is_some()) {
            return Ok(());
        }
        let event = self.reader.check(bytes)?;
        self.out
            .write_all(&event.bytes)
            .map_err(|source| self.io(source))?;
        self.unsynced = true;
        self.record(&event);
        Ok(())
    }

    /// Where a follower resumes: the start, then the last whole group of each domain.
    pub fn position(&self) -> GtidPos {
        let mut pos = self.start.clone();
        for gtid in self.safe_last.iter() {
            pos.set(gtid);
        }
        pos
    }

    /// What the spool holds (whole groups and the unfinished one).
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Bytes in the spool not stored yet (after a cut that did not rewrite the file, the
    /// stretch after it).
    pub fn len(&self) -> u64 {
        self.reader.offset() - self.stored.as_ref().map_or(0, |(at, _)| *at)
    }

    /// True when the spool holds no group, whole or not, that is not stored yet.
    pub fn is_empty(&self) -> bool {
        self.summary.first.is_empty()
            || self
                .stored
                .as_ref()
                .is_some_and(|(at, _)| *at >= self.reader.offset())
    }

    /// The magic and the format description: what every segment starts with.
    fn head_len(&self) -> u64 {
        (MAGIC.len() + self.fde.as_ref().map_or(0, Vec::len)) as u64
    }

    /// Starts the spool over at `position` with nothing in it: the unfinished group and the
    /// format description are left out, for a follower that goes on from another server
    /// (which sends its own format description, and the unfinished group whole), or from
    /// further on (a primary that purged what was not archived: the segments' chain shows the
    /// gap). Refused while the spool holds whole groups not cut yet: they would be lost.
    /// `source` is the server the spool is read from from now on.
    pub fn restart(&mut self, position: &GtidPos, source: &str) -> Result<(), Error> {
        let stored_to = self.stored.as_ref().map_or(0, |(at, _)| *at);
        if !self.safe_last.is_empty() && self.safe_end > stored_to.max(self.head_len()) {
            return Err(Error::Uncut {
                what: self.path.display().to_string(),
            });
        }
        self.source = Some(source.to_owned());
        self.replace(&MAGIC, None, position.clone())
    }

    /// The server the spool is read from, as its last [`Spool::restart`] recorded.
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    /// True when `<dir>/<name>` is a spool already (its state file exists).
    pub fn exists(dir: &Path, name: &str) -> bool {
        dir.join(format!("{name}.state")).exists()
    }

    /// Makes `head` followed by this file's bytes from `tail_from` on (none: nothing more)
    /// the spool's file, starting at `position`: written as the next generation (the tail
    /// copied as a stream), committed by the state's rename, the old file removed, then read
    /// back as a stream.
    fn replace(
        &mut self,
        head: &[u8],
        tail_from: Option<u64>,
        position: GtidPos,
    ) -> Result<(), Error> {
        let generation = self.generation + 1;
        let next = binlog_path(&self.dir, &self.name, generation);
        // A handle of its own: the spool's cursor stays at the end, where appends go.
        let tail = match tail_from {
            Some(from) => {
                let mut file = File::open(&self.path).map_err(io(&self.path))?;
                file.seek(SeekFrom::Start(from)).map_err(io(&self.path))?;
                Some(file)
            }
            None => None,
        };
        write_durably(&next, head, tail.as_ref())?;
        let state = State {
            generation,
            start: position.clone(),
            source: self.source.clone(),
            ..State::default()
        };
        write_durably(&self.state_path(), state.render().as_bytes(), None)?;
        let old = std::mem::replace(&mut self.path, PathBuf::new());
        fs::remove_file(&old).map_err(io(&old))?;
        let place = (
            self.dir.clone(),
            self.name.clone(),
            generation,
            self.source.take(),
        );
        let fresh = BufReader::new(File::open(&next).map_err(io(&next))?);
        *self = Spool::load(place, position, fresh)?.0;
        Ok(())
    }

    /// `<dir>/<name>.state`.
    fn state_path(&self) -> PathBuf {
        self.dir.join(format!("{}.state", self.name))
    }

    /// Writes the state as it is now (durably: see `state.rs`).
    fn write_state(&self) -> Result<(), Error> {
        let state = State {
            generation: self.generation,
            start: self.start.clone(),
            source: self.source.clone(),
            stored: self.stored.clone(),
            pending: self.pending.clone(),
        };
        write_durably(&self.state_path(), state.render().as_bytes(), None)
    }

    /// The spool's binlog file now.
    pub fn file(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> Error {
        Error::Io {
            what: self.path.display().to_string(),
            source,
        }
    }
}

/// `<dir>/<name>.<generation>.binlog`.
fn binlog_path(dir: &Path, name: &str, generation: u64) -> PathBuf {
    dir.join(format!("{name}.{generation}.binlog"))
}

/// Where a spool lives: its directory, name, generation in use, and source.
type Place = (PathBuf, String, u64, Option<String>);

/// Removes `<name>.<other generation>.binlog` and the temporary files an interrupted cut left.
fn remove_other_generations(dir: &Path, name: &str, keep: u64) -> Result<(), Error> {
    let keep = format!("{name}.{keep}.binlog");
    let prefix = format!("{name}.");
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&prefix) else {
            continue;
        };
        // Only `<digits>.binlog` and `<digits>.tmp`: another spool's name may share the prefix.
        let generation = rest
            .strip_suffix(".binlog")
            .or_else(|| rest.strip_suffix(".tmp"));
        let ours =
            generation.is_some_and(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()));
        if ours && file != keep {
            fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
        }
    }
    Ok(())
}

/// The [`Error::Io`] of a file.
fn io(what: &Path) -> impl Fn(std::io::Error) -> Error {
    let what = what.display().to_string();
    move |source| Error::Io {
        what: what.clone(),
        source,
    }
}

/// Writes `bytes`, then what `rest` reads, to `path` through a synced temporary file renamed
/// over it, then syncs the directory: after a crash `path` holds the old bytes or the new
/// ones, whole.
fn write_durably(path: &Path, bytes: &[u8], rest: Option<&File>) -> Result<(), Error> {
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        if let Some(mut rest) = rest {
            std::io::copy(&mut rest, &mut file)?;
        }
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    };
    write().map_err(io(path))
}
