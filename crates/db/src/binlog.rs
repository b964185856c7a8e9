//! Following a server's binary log from a GTID position, as a MariaDB replica does: the
//! session announces MariaDB's GTID capability and its start position
//! (`@slave_connect_state`), registers as a replica, and asks for the dump; the server then
//! sends every event from the first transaction after that position on, waiting for new
//! ones. [`BinlogFollower::next_event`] hands each event over whole and as the server wrote
//! it, its checksum the server's own (never recomputed here), so whoever stores it can check
//! it end to end.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest};

use crate::endpoint::{Endpoint, Session};
use crate::error::{Error, Result};

/// MariaDB's replica capability that makes the server send GTID events (`MARIA_SLAVE_CAPABILITY_GTID`).
const GTID_CAPABILITY: u32 = 4;
/// The heartbeat event's type code: the server's "still here" when it has nothing to send.
const HEARTBEAT: u8 = 27;
/// How often an idle server sends a heartbeat.
pub const HEARTBEAT_PERIOD: Duration = Duration::from_secs(1);

/// A binary log being followed. Dropping it closes the connection.
pub struct BinlogFollower {
    stream: BinlogStream,
    server: String,
    /// When the server was last heard from (an event or a heartbeat).
    heard: Instant,
}

impl std::fmt::Debug for BinlogFollower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinlogFollower")
            .field("server", &self.server)
            .finish()
    }
}

impl Endpoint {
    /// Follows this server's binary log from the GTID position `from` (`0-1-50,1-2-7`; empty:
    /// from the oldest binlog the server has), registering as replica `replica_id` (a server
    /// id no server of the topology uses). With strict GTID mode, a position the server
    /// cannot continue from (a purged binlog, a diverged history) is an error of the stream's
    /// first read.
    pub async fn follow_binlog(&self, replica_id: u32, from: &str) -> Result<BinlogFollower> {
        let mut conn = self.connect(Session::Plain).await?;
        let setup = async {
            conn.exec_drop("SET @mariadb_slave_capability = ?", (GTID_CAPABILITY,))
                .await?;
            conn.exec_drop("SET @slave_connect_state = ?", (from,))
                .await?;
            conn.query_drop("SET @slave_gtid_strict_mode = 1").await?;
            // Nanoseconds: an idle server sends a heartbeat this often, so a dead link is
            // told apart from a quiet primary.
            let period = u64::try_from(HEARTBEAT_PERIOD.as_nanos()).unwrap_or(u64::MAX);
            conn.exec_drop("SET @master_heartbeat_period = ?", (period,))
                .await
        };
        setup
            .await
            .map_err(|e| self.query_error("prepare a binlog dump", e))?;
        let stream = conn
            .into_conn()
            .get_binlog_stream(BinlogStreamRequest::new(replica_id))
            .await
            .map_err(|e| self.query_error("request a binlog dump", e))?;
        Ok(BinlogFollower {
            stream,
            server: self.name.clone(),
            heard: Instant::now(),
        })
    }
}

/// Where a server's binary log begins and ends, as GTID positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinlogRange {
    /// `@@gtid_binlog_pos`: the last GTID of each domain written to the binlog.
    pub current: String,
    /// The position before the oldest binlog file the server still has (its GTID list):
    /// transactions up to it were purged, a follower can start from it on.
    pub oldest: String,
    /// That file's name.
    pub oldest_file: String,
}

impl Endpoint {
    /// Where this server's binary log begins and ends (needs `BINLOG MONITOR`).
    pub async fn binlog_range(&self) -> Result<BinlogRange> {
        let mut conn = self.connect(Session::Plain).await?;
        let read = async {
            let current: Option<String> = conn.query_first("SELECT @@gtid_binlog_pos").await?;
            let files: Vec<mysql_async::Row> = conn.query("SHOW BINARY LOGS").await?;
            let oldest_file: Option<String> = files.first().and_then(|row| row.get(0));
            let oldest: Option<Option<String>> = match &oldest_file {
                Some(file) => {
                    conn.exec_first("SELECT BINLOG_GTID_POS(?, 4)", (file,))
                        .await?
                }
                None => None,
            };
            Ok::<_, mysql_async::Error>((current, oldest_file, oldest.flatten()))
        };
        let (current, oldest_file, oldest) = read
            .await
            .map_err(|e| self.query_error("read where the binary log begins and ends", e))?;
        let Some(oldest_file) = oldest_file else {
            return Err(Error::Unexpected {
                server: self.name.clone(),
                action: "read where the binary log begins and ends",
                detail: "SHOW BINARY LOGS lists no file: is log_bin on?".to_owned(),
            });
        };
        Ok(BinlogRange {
            current: current.unwrap_or_default().replace('\n', ""),
            oldest: oldest.unwrap_or_default().replace('\n', ""),
            oldest_file,
        })
    }
}

impl BinlogFollower {
    /// How long the server has sent nothing, not even a heartbeat (every
    /// [`HEARTBEAT_PERIOD`] when it is idle): a few periods mean the link or the server is
    /// gone, even though the connection looks open.
    pub fn silent_for(&self) -> Duration {
        self.heard.elapsed()
    }

    /// The next event, whole (header, body, checksum as the server sent them); `None` when the
    /// server ends the dump. Heartbeats are taken in (see [`BinlogFollower::silent_for`]), not
    /// returned. Cancel-safe: an event is either returned or still unread.
    pub async fn next_event(&mut self) -> Result<Option<Vec<u8>>> {
        let event = loop {
            match self.stream.next().await {
                None => return Ok(None),
                Some(Ok(event)) => {
                    self.heard = Instant::now();
                    if event.header().event_type_raw() != HEARTBEAT {
                        break event;
                    }
                }
                Some(Err(source)) => {
                    return Err(Error::Query {
                        server: self.server.clone(),
                        action: "read the binlog dump",
                        source: Box::new(source),
                    })
                }
            }
        };
        let header = event.header();
        let mut out = Vec::with_capacity(header.event_size() as usize);
        out.extend_from_slice(&header.timestamp().to_le_bytes());
        out.push(header.event_type_raw());
        out.extend_from_slice(&header.server_id().to_le_bytes());
        out.extend_from_slice(&header.event_size().to_le_bytes());
        out.extend_from_slice(&header.log_pos().to_le_bytes());
        out.extend_from_slice(&header.flags_raw().to_le_bytes());
        out.extend_from_slice(event.data());
        let is_fde = header.event_type_raw() == 15;
        if is_fde {
            if let Ok(Some(alg)) = event.footer().get_checksum_alg() {
                out.push(alg as u8);
            }
        }
        if let Some(checksum) = event.checksum() {
            out.extend_from_slice(&checksum);
        }
        if out.len() != header.event_size() as usize {
            return Err(Error::Unexpected {
                server: self.server.clone(),
                action: "read the binlog dump",
                detail: format!(
                    "a binlog event of {} bytes came out as {} bytes",
                    header.event_size(),
                    out.len()
                ),
            });
        }
        Ok(Some(out))
    }
}
