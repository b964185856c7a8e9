//! Where the server writes a log, as it says (`@@log_error`, `@@slow_query_log_file`,
//! `@@log_output`), refused with the next step when it writes none to a file.

use std::path::{Component, Path, PathBuf};

use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::Connection;

use super::LogKind;
use crate::{Error, Result};

/// Where the server writes the log, as it says.
#[derive(Debug)]
pub(crate) struct Located {
    /// The live file.
    pub(crate) live: PathBuf,
    /// False when the server has no file open (`slow_query_log` OFF): a flush recreates nothing.
    pub(crate) open: bool,
}

/// `@@slow_query_log_file, @@log_output, @@slow_query_log, @@datadir`.
type SlowLogSettings = (Option<String>, Option<String>, Option<i64>, Option<String>);

/// Asks the server where it writes the log. Refuses, with the next step, when it writes none.
pub(crate) async fn locate(server: &str, conn: &mut Connection, kind: LogKind) -> Result<Located> {
    let unsuitable = |problem: String, next_step: &str| Error::Unsuitable {
        server: server.to_owned(),
        problem,
        next_step: next_step.to_owned(),
    };
    match kind {
        LogKind::Error => {
            let row: Option<(Option<String>, Option<String>)> = conn
                .query_first("SELECT @@log_error, @@datadir")
                .await
                .map_err(|e| Error::sql(server, "read @@log_error and @@datadir", e))?;
            let (file, datadir) = row.unwrap_or_default();
            let file = file.unwrap_or_default();
            if file.trim().is_empty() {
                return Err(unsuitable(
                    "the server writes its error log to stderr (the systemd journal or a console), not to a file: @@log_error is empty".to_owned(),
                    "set `log_error = /var/log/mysql/error.log` in the [mysqld] section of its my.cnf and restart it",
                ));
            }
            Ok(Located {
                live: resolve(Path::new(&datadir.unwrap_or_default()), &file),
                open: true,
            })
        }
        LogKind::Slow => {
            let row: Option<SlowLogSettings> = conn
                .query_first(
                    "SELECT @@slow_query_log_file, @@log_output, @@slow_query_log, @@datadir",
                )
                .await
                .map_err(|e| {
                    Error::sql(server, "read @@slow_query_log_file and @@log_output", e)
                })?;
            let (file, output, on, datadir) = row.unwrap_or_default();
            let output = output.unwrap_or_default();
            if !writes_to_file(&output) {
                return Err(unsuitable(
                    format!("the server writes its slow-query log to `{output}` (@@log_output), not to a file"),
                    "SET GLOBAL log_output = 'FILE' (and `log_output = FILE` in my.cnf), or use the mysql.slow_log table",
                ));
            }
            let file = file.unwrap_or_default();
            if file.trim().is_empty() {
                return Err(unsuitable(
                    "@@slow_query_log_file is empty".to_owned(),
                    "set `slow_query_log_file` in the [mysqld] section of its my.cnf",
                ));
            }
            Ok(Located {
                live: resolve(Path::new(&datadir.unwrap_or_default()), &file),
                open: on.unwrap_or(0) != 0,
            })
        }
    }
}

/// `value` as the server means it: a relative path is relative to the datadir (the server's
/// working directory).
pub(super) fn resolve(datadir: &Path, value: &str) -> PathBuf {
    let value = Path::new(value.trim());
    let joined = if value.is_absolute() {
        value.to_path_buf()
    } else {
        datadir.join(value)
    };
    // `./host.err` reads better as `host.err`; `..` is left alone (symlinks make it unsafe
    // to fold).
    joined
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect()
}

/// True when `@@log_output` (a SET such as `FILE,TABLE`) includes FILE.
pub(super) fn writes_to_file(log_output: &str) -> bool {
    log_output
        .split(',')
        .any(|v| v.trim().eq_ignore_ascii_case("FILE"))
}
