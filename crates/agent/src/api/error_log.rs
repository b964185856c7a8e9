//! `GET error-log`: the error log's last lines (`?lines=N`, default 100), read backwards from
//! its end, never the whole file; or the bytes from an offset (`?from=OFFSET&file=ID`), and
//! with `follow=true` what the server appends for up to `wait` seconds.
//!
//! Each answer says where its body starts in which file (`ferryman-log-offset`,
//! `ferryman-log-file` = `DEVICE:INODE`, `ferryman-log-path`): a client following the log
//! asks again from `offset + bytes received`. A rotated file (another inode at the path, or a
//! file shorter than the offset) is read from its start. A follow answer ends after `wait`
//! seconds (at most [`MAX_FOLLOW_WAIT_S`]) so that no connection waits silent past the idle
//! limits of the agent or the manager; it also ends at a rotation, once the old file is read.
//!
//! Where the log is: as the server says (`tasks/logs/locate.rs`); when it does not answer
//! (the moment its log matters most), as it last said, else its option files' `log-error`.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ferryman_db::Session;
use ferryman_http::ApiError;
use ferryman_proto::node_api::{
    LOG_FILE_HEADER, LOG_OFFSET_HEADER, LOG_PATH_HEADER, MAX_FOLLOW_WAIT_S, MAX_TAIL_LINES,
};
use serde::Deserialize;
use tokio::io::AsyncReadExt;

use super::option_files::InUse;
use super::Shared;
use crate::tasks::logs::locate::locate;
use crate::tasks::logs::LogKind;

/// Lines when `lines` is not given.
const DEFAULT_LINES: usize = 100;
/// A follow answer's wait when `wait` is not given.
const DEFAULT_WAIT_S: u64 = 20;
/// How often a followed file is looked at.
const POLL: Duration = Duration::from_millis(250);
/// The most bytes one read sends.
const CHUNK: usize = 64 * 1024;
/// The most bytes a tail returns, however long its lines.
const MAX_TAIL_BYTES: u64 = 16 * 1024 * 1024;

/// The query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LogQuery {
    lines: Option<usize>,
    from: Option<u64>,
    file: Option<String>,
    #[serde(default)]
    follow: bool,
    wait: Option<u64>,
}

pub(super) async fn error_log(
    State(api): State<Shared>,
    query: Result<Query<LogQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| {
        ApiError::bad_request(format!(
            "{}; the parameters are lines, from, file, follow and wait",
            e.body_text()
        ))
    })?;
    let lines = q.lines.unwrap_or(DEFAULT_LINES);
    if lines > MAX_TAIL_LINES {
        return Err(ApiError::bad_request(format!(
            "lines={lines} is more than {MAX_TAIL_LINES}: collect the whole log with `ferryman task error-log`"
        )));
    }
    let wait = Duration::from_secs(q.wait.unwrap_or(DEFAULT_WAIT_S).min(MAX_FOLLOW_WAIT_S));
    let path = where_is(&api).await?;
    let opened = tokio::task::spawn_blocking({
        let path = path.clone();
        move || open(&path, q.from, q.file.as_deref(), lines)
    })
    .await
    .map_err(|e| ApiError::internal(format!("reading the error log failed: {e}")))?
    .map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "cannot read the error log {}: {e}; the agent must run as a user who may read it",
                path.display()
            ),
        )
    })?;
    let headers = [
        (LOG_FILE_HEADER, opened.id.clone()),
        (LOG_OFFSET_HEADER, opened.start.to_string()),
        (LOG_PATH_HEADER, path.display().to_string()),
    ];
    let mut response = if q.follow {
        Body::from_stream(follow(opened, path, wait)).into_response()
    } else {
        Body::from(opened.head).into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            h.insert(name, value);
        }
    }
    Ok(response)
}

/// The error log's path: as the server says, else as it last said, else from its option
/// files.
async fn where_is(api: &Shared) -> Result<PathBuf, ApiError> {
    let asked = match api.endpoint.connect(Session::Plain).await {
        Ok(mut conn) => {
            let located = locate(&api.server.name, &mut conn, LogKind::Error).await;
            let _ = conn.disconnect().await;
            Some(located.map_err(|e| ApiError::conflict(e.to_string()))?.live)
        }
        Err(_) => None,
    };
    let known = {
        let mut last = api.error_log.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(path) = &asked {
            *last = Some(path.clone());
        }
        last.clone()
    };
    if let Some(path) = known {
        return Ok(path);
    }
    let in_use = InUse::find(None, api.server.defaults_file.as_deref());
    let files = in_use.settings().await.unwrap_or_default();
    match (files.log_error.filter(|p| !p.is_empty()), files.datadir) {
        (Some(log), _) if log.starts_with('/') => Ok(PathBuf::from(log)),
        (Some(log), Some(datadir)) => Ok(Path::new(&datadir).join(log)),
        _ => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "`{}` does not answer and its option files ({}) set no `log-error`: its error log goes to the journal (`journalctl -u mariadb`) or to a file only the server knows",
                api.server.name,
                in_use.files().join(", ")
            ),
        )),
    }
}

/// An open log: where the body starts, what it starts with.
struct Opened {
    file: std::fs::File,
    /// `DEVICE:INODE`.
    id: String,
    /// The offset of `head`'s first byte.
    start: u64,
    /// The tail (or, from an offset, nothing yet: the follow reads on).
    head: Vec<u8>,
}

fn identity(meta: &std::fs::Metadata) -> String {
    format!("{}:{}", meta.dev(), meta.ino())
}

/// Opens the log: from `from` in file `file` (from 0 if the file is another or shorter), or
/// its last `lines` lines.
fn open(
    path: &Path,
    from: Option<u64>,
    file: Option<&str>,
    lines: usize,
) -> std::io::Result<Opened> {
    let mut f = std::fs::File::open(path)?;
    let meta = f.metadata()?;
    let id = identity(&meta);
    let len = meta.len();
    if let Some(from) = from {
        let same = file.is_none_or(|f| f == id);
        let start = if same && from <= len { from } else { 0 };
        f.seek(SeekFrom::Start(start))?;
        return Ok(Opened {
            file: f,
            id,
            start,
            head: Vec::new(),
        });
    }
    let start = tail_start(&mut f, len, lines)?;
    f.seek(SeekFrom::Start(start))?;
    let mut head = Vec::new();
    (&mut f).take(len - start).read_to_end(&mut head)?;
    Ok(Opened {
        file: f,
        id,
        start,
        head,
    })
}

/// Where the last `lines` lines of a file of `len` bytes start, read backwards by blocks (a
/// last line without its newline counts).
fn tail_start(f: &mut std::fs::File, len: u64, lines: usize) -> std::io::Result<u64> {
    if lines == 0 {
        return Ok(len);
    }
    let floor = len.saturating_sub(MAX_TAIL_BYTES);
    let mut pos = len;
    let mut newlines = 0;
    let mut block = vec![0u8; CHUNK];
    // The file's own last newline ends the last line: it does not start one.
    let mut skip_last = true;
    while pos > floor {
        let size = (pos - floor).min(CHUNK as u64) as usize;
        pos -= size as u64;
        f.seek(SeekFrom::Start(pos))?;
        f.read_exact(&mut block[..size])?;
        for i in (0..size).rev() {
            if block[i] != b'\n' {
                skip_last = false;
                continue;
            }
            if skip_last {
                skip_last = false;
                continue;
            }
            newlines += 1;
            if newlines == lines {
                return Ok(pos + i as u64 + 1);
            }
        }
    }
    Ok(floor)
}

/// The head, then what is appended, for `wait`; ends early at a rotation, once the old file
/// is read to its end.
fn follow(
    opened: Opened,
    path: PathBuf,
    wait: Duration,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> {
    let ends = Instant::now() + wait;
    let head = (!opened.head.is_empty()).then(|| Bytes::from(opened.head));
    let file = tokio::fs::File::from_std(opened.file);
    let state = Some((file, opened.id, head));
    futures_util::stream::unfold(state, move |state| {
        let path = path.clone();
        async move {
            let (mut file, id, head) = state?;
            if let Some(head) = head {
                return Some((Ok(head), Some((file, id, None))));
            }
            let mut buf = vec![0u8; CHUNK];
            loop {
                match file.read(&mut buf).await {
                    Ok(0) => {}
                    Ok(n) => {
                        buf.truncate(n);
                        return Some((Ok(Bytes::from(buf)), Some((file, id, None))));
                    }
                    Err(e) => return Some((Err(e), None)),
                }
                let rotated = tokio::fs::metadata(&path)
                    .await
                    .map(|m| identity(&m) != id)
                    .unwrap_or(true);
                if rotated || Instant::now() >= ends {
                    return None;
                }
                tokio::time::sleep(POLL).await;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(text: &str, lines: usize) -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("e.log");
        std::fs::write(&path, text).expect("write");
        let opened = open(&path, None, None, lines).expect("open");
        String::from_utf8(opened.head).expect("utf8")
    }

    #[test]
    fn the_last_lines_are_returned_whole() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc\n");
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a\nb\nc\n", 10), "a\nb\nc\n");
        assert_eq!(tail("", 3), "");
        assert_eq!(tail("a\nb\n", 0), "");
        let long: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
        assert_eq!(tail(&long, 3), "line 19997\nline 19998\nline 19999\n");
    }

    #[test]
    fn an_offset_in_another_file_starts_at_the_beginning() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("e.log");
        std::fs::write(&path, "0123456789").expect("write");
        let o = open(&path, Some(4), None, 0).expect("open");
        assert_eq!(o.start, 4);
        let o = open(&path, Some(4), Some("1:2"), 0).expect("open");
        assert_eq!(o.start, 0, "another inode");
        let o = open(&path, Some(40), Some(&o.id), 0).expect("open");
        assert_eq!(o.start, 0, "shorter than the offset: truncated");
    }
}
