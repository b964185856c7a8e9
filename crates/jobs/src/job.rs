//! One row of the jobs table, and the small types its columns hold.

use std::fmt;

use ferryman_db::mysql_async::{FromValueError, Row, Value};
use ferryman_proto::{StreamToken, Task};

use crate::table::PROCESSING;
use crate::{Error, Result};

/// The `id` of a jobs-table row.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct JobId(pub u64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How a runner says its job ended: the only outcomes [`crate::ClaimedJob::finish`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The work was done.
    Success,
    /// The work failed; `result` says why.
    Failure,
}

/// The `outcome` column: how a done job ended. `done = 1` alone cannot tell success from
/// failure (the reference script sets it in both cases); this can.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Finished by its runner, successfully.
    Success,
    /// Finished by its runner, with an error.
    Failure,
    /// Replaced by a newer row of the same task before anyone ran it.
    Superseded,
    /// Cancelled (by an operator or the manager).
    Cancelled,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 4] = [
        Outcome::Success,
        Outcome::Failure,
        Outcome::Superseded,
        Outcome::Cancelled,
    ];

    /// The value stored in the `outcome` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Superseded => "superseded",
            Outcome::Cancelled => "cancelled",
        }
    }

    /// The outcome stored as `s`, if it is one of ours.
    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl From<Verdict> for Outcome {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::Success => Outcome::Success,
            Verdict::Failure => Outcome::Failure,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a job stands, read from `done`, `result` and `outcome` together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    /// Waiting for a runner.
    Pending,
    /// Being run (`result = 'processing'`), by `claimed_by` when a Ferryman agent runs it
    /// (`None` for a legacy donor script).
    Running {
        /// Who claimed it.
        claimed_by: Option<String>,
    },
    /// Done, with one of our outcomes.
    Done(Outcome),
    /// Done without an outcome we know: set by a legacy donor script, which records no verdict.
    DoneUnknown,
}

/// The `token` column: the per-job secret a Ferryman agent presents in its stream header.
///
/// Stored as the hex of a [`StreamToken`], the one token format of the wire protocol; kept as
/// text here because a row's column may hold anything (legacy rows, hand-made rows).
///
/// It serializes as its text: only into files as private as the row itself (an agent's 0600
/// swap record), never into logs or API answers.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Token(String);

impl Token {
    /// Length of generated tokens (hex characters).
    pub const LEN: usize = StreamToken::HEX_LEN;

    /// A new random token, for a job the manager enqueues.
    pub fn generate() -> Result<Token, ferryman_proto::Error> {
        Ok(Token(StreamToken::generate()?.to_hex()))
    }

    /// The stream token this column holds, to compare (in constant time) with a header's;
    /// an error when the text is not a token Ferryman generated.
    pub fn stream_token(&self) -> Result<StreamToken, ferryman_proto::Error> {
        self.0.parse()
    }

    /// A token with the given text (e.g. read back from a row).
    pub fn new(text: impl Into<String>) -> Token {
        Token(text.into())
    }

    /// The token's text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([SECRET])")
    }
}

/// One row of the jobs table, every column included. It serializes (token included) for an
/// agent's private swap record, which must put the rows back after a crash. The default is an
/// empty row with id 0: tests build rows from it with only the columns they need.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Job {
    /// `id`.
    pub id: JobId,
    /// `task`, as stored: see [`Job::parse_task`].
    pub task: Option<String>,
    /// `port`: where to stream to (backups, logs) or listen on (reseed); 0 when unused.
    pub port: Option<i32>,
    /// `server`: the address of the receiver.
    pub server: Option<String>,
    /// `done`: non-zero once the job is over, however it ended.
    pub done: bool,
    /// `result`: `processing` while it runs, then the tail of its output.
    pub result: Option<String>,
    /// `start`, `YYYY-MM-DD hh:mm:ss` in the server's time zone.
    pub start: Option<String>,
    /// `end`, like `start`.
    pub end: Option<String>,
    /// `outcome`: see [`Job::status`].
    pub outcome: Option<String>,
    /// `token`.
    pub token: Option<Token>,
    /// `params`, JSON text: see [`Job::params_json`].
    pub params: Option<String>,
    /// `progress`: the runner's last progress report.
    pub progress: Option<String>,
    /// `claimed_by`: who runs or ran it.
    pub claimed_by: Option<String>,
    /// `heartbeat`: when the runner last reported, like `start`.
    pub heartbeat: Option<String>,
}

impl Job {
    /// The task, parsed strictly (both spellings of a task are accepted).
    pub fn parse_task(&self) -> Result<Task> {
        let name = self.task.as_deref().unwrap_or("NULL");
        name.parse().map_err(|source| Error::UnknownTask {
            job_id: self.id,
            source,
        })
    }

    /// The parameters, parsed; `None` when the column is NULL (legacy rows).
    pub fn params_json(&self) -> Result<Option<serde_json::Value>> {
        self.params
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|source| Error::BadParams {
                job_id: self.id,
                source,
            })
    }

    /// Where the job stands.
    pub fn status(&self) -> JobStatus {
        if self.done {
            return match self.outcome.as_deref().and_then(Outcome::parse) {
                Some(o) => JobStatus::Done(o),
                None => JobStatus::DoneUnknown,
            };
        }
        if self.is_processing() {
            JobStatus::Running {
                claimed_by: self.claimed_by.clone(),
            }
        } else {
            JobStatus::Pending
        }
    }

    /// `result = 'processing'`, compared as the server does (case-insensitive, trailing spaces
    /// ignored) so that Rust and SQL agree on which rows are running.
    pub(crate) fn is_processing(&self) -> bool {
        self.result
            .as_deref()
            .is_some_and(|r| r.trim_end_matches(' ').eq_ignore_ascii_case(PROCESSING))
    }

    /// Decodes a row selected with the `columns!()` list of [`crate::table`].
    pub(crate) fn from_row(
        mut row: Row,
        bad: impl Fn(&'static str, String) -> Error,
    ) -> Result<Job> {
        let mut col = Columns {
            row: &mut row,
            next: 0,
            bad: &bad,
        };
        let id: u64 = col
            .take("id")?
            .ok_or_else(|| bad("id", "NULL".to_owned()))?;
        Ok(Job {
            id: JobId(id),
            task: col.text("task")?,
            port: col.take("port")?,
            server: col.text("server")?,
            done: col.take::<i64>("done")?.unwrap_or(0) != 0,
            result: col.text("result")?,
            start: col.text("start")?,
            end: col.text("end")?,
            outcome: col.text("outcome")?,
            token: col.text("token")?.map(Token),
            params: col.text("params")?,
            progress: col.text("progress")?,
            claimed_by: col.text("claimed_by")?,
            heartbeat: col.text("heartbeat")?,
        })
    }
}

/// Reads a row's columns in order.
struct Columns<'r, F> {
    row: &'r mut Row,
    next: usize,
    bad: &'r F,
}

impl<F: Fn(&'static str, String) -> Error> Columns<'_, F> {
    fn value(&mut self, name: &'static str) -> Result<Value> {
        let idx = self.next;
        self.next += 1;
        self.row
            .take::<Value, _>(idx)
            .ok_or_else(|| (self.bad)(name, "column missing from the result".to_owned()))
    }

    fn take<T: ferryman_db::mysql_async::prelude::FromValue>(
        &mut self,
        name: &'static str,
    ) -> Result<Option<T>> {
        match self.value(name)? {
            Value::NULL => Ok(None),
            v => ferryman_db::mysql_async::from_value_opt::<T>(v)
                .map(Some)
                .map_err(|FromValueError(v)| (self.bad)(name, format!("cannot decode {v:?}"))),
        }
    }

    /// Text columns: bytes as sent by the server, invalid UTF-8 replaced rather than refused.
    fn text(&mut self, name: &'static str) -> Result<Option<String>> {
        Ok(self
            .take::<Vec<u8>>(name)?
            .map(|b| match String::from_utf8(b) {
                Ok(s) => s,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            }))
    }
}
