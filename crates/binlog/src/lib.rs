//! MariaDB binary logs, as Ferryman reads them for point-in-time recovery: the file format
//! (magic, version 4 events, CRC32 checksums), MariaDB's GTIDs, and what a stretch of binlog
//! holds.
//!
//! Why our own reader: `mysql_common`'s binlog module (behind `mysql_async`) knows MySQL's
//! events but not MariaDB's GTID (162) and GTID list (163) events, which are what Ferryman
//! needs from a binlog: where each transaction starts, its GTID, and the position before a
//! file. Row events are never decoded: archived segments are replayed by the server
//! (`mariadb-binlog | mariadb`), so only their boundaries, times and checksums matter here.
//!
//! # Layout
//! - [`gtid`]: [`Gtid`] and [`GtidPos`].
//! - [`event`]: [`Header`], [`Event`], [`Kind`]: the events Ferryman reads.
//! - [`reader`]: [`Reader`], the events of a file or stream, each checked.
//! - [`summary`]: [`Summary`], what a stretch of events holds (GTID ranges per domain, times,
//!   transactions, breaks in the sequence).
//! - [`spool`]: [`Spool`], a followed binlog on the manager's disk: durable every second,
//!   recovered to its last whole group after a crash, cut into segments.
//! - [`error`]: the crate's [`Error`].

pub mod error;
pub mod event;
pub mod gtid;
pub mod reader;
pub mod spool;
pub mod summary;

pub use error::Error;
pub use event::{Event, Header, Kind};
pub use gtid::{Gtid, GtidPos};
pub use reader::{Reader, MAGIC};
pub use spool::{Cut, Recovered, Segment, Spool, SyncTicket};
pub use summary::Summary;
