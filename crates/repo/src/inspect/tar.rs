//! A tar archive of mydumper's directory, read member by member as it streams by.
//!
//! # What makes it whole
//! - Every header's checksum matches, and the archive ends with the end-of-archive marker (two
//!   zero blocks) after whole blocks: a tar cut between two members would otherwise extract
//!   without complaint.
//! - It holds mydumper's `metadata` file, and the file says `Finished dump at` (0.10; newer
//!   versions write it only at the end): mydumper writes it last, once every thread is done.
//! - Every SQL file ends between statements (its last one ended by `;`, then only blanks and
//!   comments): a table file cut short loses rows silently.
//! - It holds no link: mydumper writes files only, so a link member stands where a file's
//!   content should be (tar records a file as a hard link to an earlier one whose inode number
//!   it reuses, when the earlier one was removed after archiving).
//!
//! # What it records
//! mydumper 0.10 records no row counts (0.12+ does, in `metadata`, and those are checked
//! against the count below). The rows are counted from the files as mysqldump's are
//! ([`SqlCounts`]): each SQL file is read after a `USE` of the database its name gives. Names
//! are `DB-schema-create.sql`, `DB.TABLE-schema.sql`, `DB.TABLE.sql` or chunks
//! `DB.TABLE.00001.sql`; a name is split at its first dot, so a database whose name holds a dot
//! is misread (mydumper's names are ambiguous there). Views come with a placeholder
//! `CREATE TABLE` in their `-schema.sql` and the view itself in `-schema-view.sql`: they are
//! not tables. Triggers, routines and events (`-schema-triggers.sql`, `-schema-post.sql`) are
//! not read: their bodies may hold statements that only run later. An archive of compressed
//! files (`mydumper --compress`) keeps its checks but records no rows: a partial count would
//! be worse than none.
//!
//! Memory is bounded: one header being assembled, the `metadata` text (at most
//! [`METADATA_MAX`]), the scanner's few bytes of state, and the names of views.

mod header;

use std::collections::BTreeSet;

use ferryman_proto::mydumper::{Metadata, METADATA};

use self::header::{Bad, Header, BLOCK};
use super::sql_counts::SqlCounts;
use super::{Findings, Inspector, Refusal, Tail};

/// The end-of-archive marker's length.
const END: usize = 2 * BLOCK;
/// The most of a `metadata` file kept (0.12+ writes a section per table).
const METADATA_MAX: usize = 1 << 20;

/// What a member is to the inspector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    /// mydumper's `metadata`.
    Metadata,
    /// SQL read for databases, tables and rows, after `USE db`.
    Sql { db: String },
    /// A view's definition: `db.view` is not a table.
    View { key: String },
    /// A compressed data file: rows cannot be counted.
    Uncountable,
    /// Anything else (triggers, routines, directories, pax records' payloads...).
    Skip,
    /// GNU long name: the next member's name.
    LongName,
    /// pax extended header: may carry the next member's `path`.
    Pax,
}

/// Where the stream is.
enum At {
    /// Assembling a header block.
    Header,
    /// In a member's content: `left` bytes of it, then `pad` bytes of padding.
    Content { role: Role, left: u64, pad: u64 },
    /// After the first zero block.
    End,
}

/// Inspects a tar stream of mydumper's directory.
pub(crate) struct TarInspector {
    len: u64,
    tail: Tail,
    at: At,
    block: Vec<u8>,
    /// The name a GNU `L` or pax record gave the next member.
    next_name: Option<String>,
    /// The content of the current `L`/pax member.
    extension: Vec<u8>,
    counts: SqlCounts,
    countable: bool,
    /// The current SQL member's name, for messages.
    member: String,
    metadata: Option<Vec<u8>>,
    views: BTreeSet<String>,
    problem: Option<Refusal>,
}

impl TarInspector {
    pub(crate) fn new() -> TarInspector {
        TarInspector {
            len: 0,
            tail: Tail::new(END),
            at: At::Header,
            block: Vec::with_capacity(BLOCK),
            next_name: None,
            extension: Vec::new(),
            counts: SqlCounts::new(),
            countable: true,
            member: String::new(),
            metadata: None,
            views: BTreeSet::new(),
            problem: None,
        }
    }

    /// The header just completed (at stream offset `offset`).
    fn header(&mut self, offset: u64) -> Result<(), Refusal> {
        let mut block = [0u8; BLOCK];
        block.copy_from_slice(&self.block);
        self.block.clear();
        let header = match Header::parse(&block) {
            Ok(Some(h)) => h,
            Ok(None) => {
                self.at = At::End;
                return Ok(());
            }
            Err(Bad::Checksum { stored, computed }) => {
                return Err(Refusal::Corrupt {
                    offset,
                    detail: format!(
                        "a tar header's checksum is {stored}, its bytes sum to {computed}: the \
                         archive is damaged"
                    ),
                })
            }
            Err(Bad::Size) => {
                return Err(Refusal::Corrupt {
                    offset,
                    detail: "a tar header's size is not a number: the archive is damaged"
                        .to_owned(),
                })
            }
        };
        let name = match header.kind {
            b'L' | b'x' | b'g' => header.name.clone(),
            _ => self.next_name.take().unwrap_or_else(|| header.name.clone()),
        };
        let role = match header.kind {
            b'0' | 0 | b'7' => role_of(&name),
            b'1' | b'2' => {
                return Err(Refusal::Corrupt {
                    offset,
                    detail: format!(
                        "the archive holds a link `{name}` -> `{}` where mydumper writes only \
                         files: that file's content is missing",
                        header.link
                    ),
                })
            }
            b'L' => Role::LongName,
            b'x' => Role::Pax,
            _ => Role::Skip,
        };
        self.start(&role, &name);
        self.member = name;
        if header.size == 0 {
            self.end(&role);
            self.at = At::Header;
        } else {
            self.at = At::Content {
                role,
                left: header.size,
                pad: header.padded() - header.size,
            };
        }
        Ok(())
    }

    /// Moves through up to `available` bytes of the current member: how many, the member's
    /// role when they are content (not padding), and whether its content just ended.
    fn advance(&mut self, available: usize) -> (usize, Option<Role>, bool) {
        let At::Content { role, left, pad } = &mut self.at else {
            return (0, None, false);
        };
        if *left > 0 {
            let take = (*left).min(available as u64) as usize;
            *left -= take as u64;
            (take, Some(role.clone()), *left == 0)
        } else {
            let take = (*pad).min(available as u64) as usize;
            *pad -= take as u64;
            (take, None, false)
        }
    }

    fn start(&mut self, role: &Role, name: &str) {
        match role {
            Role::Sql { db } => {
                let use_db = format!("USE `{}`;\n", db.replace('`', "``"));
                self.counts.feed(use_db.as_bytes());
            }
            Role::View { key } => {
                self.views.insert(key.clone());
            }
            Role::Metadata => self.metadata = Some(Vec::new()),
            Role::Uncountable => self.countable = false,
            Role::LongName | Role::Pax => self.extension.clear(),
            Role::Skip => {}
        }
        tracing::trace!(member = name, ?role, "tar member");
    }

    fn content(&mut self, role: &Role, data: &[u8]) {
        match role {
            Role::Sql { .. } => self.counts.feed(data),
            Role::Metadata => {
                if let Some(m) = self.metadata.as_mut() {
                    let room = METADATA_MAX.saturating_sub(m.len());
                    m.extend_from_slice(&data[..room.min(data.len())]);
                }
            }
            Role::LongName | Role::Pax => {
                let room = (64 * 1024usize).saturating_sub(self.extension.len());
                self.extension
                    .extend_from_slice(&data[..room.min(data.len())]);
            }
            _ => {}
        }
    }

    /// The member's content is over.
    fn end(&mut self, role: &Role) {
        match role {
            Role::Sql { .. } if !self.counts.between_statements() && self.problem.is_none() => {
                self.problem = Some(Refusal::Incomplete(format!(
                    "mydumper's file `{}` ends in the middle of a statement: the dump was cut \
                     short",
                    self.member
                )));
            }
            Role::LongName => {
                let end = self.extension.iter().position(|&b| b == 0);
                let name = &self.extension[..end.unwrap_or(self.extension.len())];
                self.next_name = Some(String::from_utf8_lossy(name).into_owned());
            }
            Role::Pax => {
                if let Some(path) = pax_path(&self.extension) {
                    self.next_name = Some(path);
                }
            }
            _ => {}
        }
    }
}

impl Inspector for TarInspector {
    fn feed(&mut self, mut data: &[u8]) -> Result<(), Refusal> {
        self.tail.push(data);
        while !data.is_empty() {
            match self.at {
                At::End => {
                    self.len += data.len() as u64;
                    return Ok(());
                }
                At::Header => {
                    let take = (BLOCK - self.block.len()).min(data.len());
                    self.block.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    self.len += take as u64;
                    if self.block.len() == BLOCK {
                        self.header(self.len - BLOCK as u64)?;
                    }
                }
                At::Content { .. } => {
                    let (take, role, ended) = self.advance(data.len());
                    if let Some(role) = &role {
                        self.content(role, &data[..take]);
                        if ended {
                            self.end(role);
                        }
                    }
                    data = &data[take..];
                    self.len += take as u64;
                    if let At::Content {
                        left: 0, pad: 0, ..
                    } = self.at
                    {
                        self.at = At::Header;
                    }
                }
            }
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Findings, Refusal> {
        if !self.len.is_multiple_of(BLOCK as u64) {
            return Err(Refusal::Incomplete(format!(
                "a tar archive is made of 512-byte blocks, this one has {} bytes",
                self.len
            )));
        }
        let tail = self.tail.get();
        if !matches!(self.at, At::End) || tail.len() < END || tail.iter().any(|&b| b != 0) {
            return Err(Refusal::Incomplete(
                "the tar archive lacks its end-of-archive marker (two zero blocks)".to_owned(),
            ));
        }
        if let Some(problem) = self.problem {
            return Err(problem);
        }
        let Some(text) = self.metadata else {
            return Err(Refusal::Incomplete(format!(
                "the archive holds no mydumper `{METADATA}` file, which mydumper writes last: \
                 the dump was cut short (or this is not a mydumper archive)"
            )));
        };
        let text = String::from_utf8_lossy(&text).into_owned();
        let metadata = Metadata::parse(&text);
        if !metadata.finished {
            return Err(Refusal::Incomplete(format!(
                "mydumper's `{METADATA}` file has no `Finished dump at` line: the dump was cut \
                 short"
            )));
        }
        let mut findings = Findings::default();
        if self.countable {
            let counts = self.counts.finish();
            let mut rows = counts.table_rows;
            rows.retain(|key, _| !self.views.contains(key));
            for (table, said) in &metadata.table_rows {
                let counted = rows.get(table).copied().unwrap_or(0);
                if counted != *said {
                    return Err(Refusal::Incomplete(format!(
                        "mydumper's `{METADATA}` says table `{table}` has {said} rows, its files \
                         hold {counted}: files are missing"
                    )));
                }
            }
            findings.databases = counts.databases;
            findings.table_rows = rows;
        }
        findings.coordinates.gtid = metadata.gtid;
        findings.coordinates.binlog_file = metadata.binlog_file;
        findings.coordinates.binlog_pos = metadata.binlog_pos;
        findings.captured.insert(METADATA.to_owned(), text);
        Ok(findings)
    }
}

/// What a member named `path` is, by mydumper's file names (see the module documentation).
fn role_of(path: &str) -> Role {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name == METADATA {
        return Role::Metadata;
    }
    if let Some(db) = name.strip_suffix("-schema-create.sql") {
        return Role::Sql { db: db.to_owned() };
    }
    if let Some(view) = name.strip_suffix("-schema-view.sql") {
        return Role::View {
            key: view.to_owned(),
        };
    }
    if name.ends_with("-schema-triggers.sql") || name.ends_with("-schema-post.sql") {
        return Role::Skip;
    }
    if let Some(table) = name.strip_suffix("-schema.sql") {
        return match table.split_once('.') {
            Some((db, _)) => Role::Sql { db: db.to_owned() },
            None => Role::Skip,
        };
    }
    if let Some(stem) = name.strip_suffix(".sql") {
        return match stem.split_once('.') {
            Some((db, _)) => Role::Sql { db: db.to_owned() },
            None => Role::Skip,
        };
    }
    if name.ends_with(".sql.gz") || name.ends_with(".sql.zst") {
        return Role::Uncountable;
    }
    Role::Skip
}

/// The `path` record of pax extended header records (`LEN path=VALUE\n`...).
fn pax_path(records: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(records);
    text.lines()
        .filter_map(|line| line.split_once(' ').map(|(_, kv)| kv))
        .find_map(|kv| kv.strip_prefix("path=").map(str::to_owned))
}

#[cfg(test)]
mod tests;
