//! `GET detect`: port, datadir, socket, logs, binlog, version and option files, from the
//! running server and from its option files, each compared with the configuration and with
//! each other. A difference is a [`Mismatch`] with what to do: a configuration that names
//! another port than the server's, or option files edited since the server started.

use std::path::Path;

use axum::extract::State;
use axum::Json;
use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::Session;
use ferryman_proto::node_api::{Detection, Mismatch, Settings};

use super::mysqld::read_pid;
use super::option_files::InUse;
use super::Shared;

/// `@@port, @@datadir, @@socket, @@log_error, @@slow_query_log_file, @@log_bin_basename,
/// @@pid_file, @@version`.
type Running = (
    u16,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

pub(super) async fn detect(State(api): State<Shared>) -> Json<Detection> {
    let mut out = Detection {
        server: api.server.name.clone(),
        ..Default::default()
    };
    match running(&api).await {
        Ok(settings) => out.running = Some(settings),
        Err(e) => out.notes.push(format!("the running server: {e}")),
    }
    let pid = out
        .running
        .as_ref()
        .and_then(|r| r.pid_file.as_deref())
        .and_then(|f| read_pid(Path::new(f)));
    let in_use = InUse::find(pid, api.server.defaults_file.as_deref());
    out.option_files = in_use.files();
    out.option_files_from = in_use.from.clone();
    match in_use.settings().await {
        Ok(mut settings) => {
            resolve_logs(&mut settings);
            out.configured_in_files = Some(settings);
        }
        Err(e) => out.notes.push(format!("the option files: {e}")),
    }
    out.mismatches = compare(&api.server, &out, &in_use);
    Json(out)
}

/// What the running server says, with relative paths made absolute (against its datadir).
async fn running(api: &Shared) -> Result<Settings, String> {
    let mut conn = api
        .endpoint
        .connect(Session::Plain)
        .await
        .map_err(|e| format!("does not answer ({e})"))?;
    let row: Result<Option<Running>, _> = conn
        .query_first(
            "SELECT @@port, @@datadir, @@socket, @@log_error, @@slow_query_log_file, \
             @@log_bin_basename, @@pid_file, @@version",
        )
        .await;
    let _ = conn.disconnect().await;
    let (port, datadir, socket, log_error, slow, log_bin, pid_file, version) = row
        .map_err(|e| format!("cannot read its variables ({e})"))?
        .ok_or("no answer to its variables")?;
    let dir = Path::new(&datadir);
    let absolute = |p: Option<String>| {
        p.filter(|p| !p.is_empty())
            .map(|p| dir.join(p).display().to_string())
    };
    Ok(Settings {
        port: Some(port),
        socket: socket.filter(|s| !s.is_empty()),
        log_error: absolute(log_error),
        slow_query_log_file: absolute(slow),
        log_bin: absolute(log_bin),
        pid_file: absolute(pid_file),
        version: Some(version),
        datadir: Some(datadir),
    })
}

/// Relative log paths of the option files are relative to the datadir, as for the server.
fn resolve_logs(s: &mut Settings) {
    let Some(datadir) = s.datadir.clone() else {
        return;
    };
    for path in [
        &mut s.log_error,
        &mut s.slow_query_log_file,
        &mut s.log_bin,
        &mut s.pid_file,
    ] {
        if let Some(p) = path
            .as_mut()
            .filter(|p| !p.is_empty() && !p.starts_with('/'))
        {
            *p = Path::new(&datadir).join(&*p).display().to_string();
        }
    }
}

/// Paths compared as the server means them: a trailing `/` is no difference.
fn same_path(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// Every difference, configuration first, then option files against the running server.
fn compare(
    server: &ferryman_config::ServerConfig,
    found: &Detection,
    in_use: &InUse,
) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let actual = found
        .running
        .as_ref()
        .or(found.configured_in_files.as_ref());
    let source = if found.running.is_some() {
        "running server"
    } else {
        "option files"
    };
    let fix_toml = |key: &str| {
        format!(
            "set `{key}` in the table of server `{}` in ferryman.toml to what the server uses",
            server.name
        )
    };
    if let Some(actual) = actual {
        if let Some(port) = actual.port.filter(|p| *p != server.port) {
            out.push(Mismatch {
                setting: "port".to_owned(),
                expected: format!("ferryman.toml: {}", server.port),
                found: format!("{source}: {port}"),
                next_step: fix_toml("port"),
            });
        }
        let paths = [
            (
                "datadir",
                server.datadir.as_deref(),
                actual.datadir.as_deref(),
            ),
            ("socket", server.socket.as_deref(), actual.socket.as_deref()),
        ];
        for (key, configured, seen) in paths {
            if let (Some(c), Some(s)) = (configured, seen) {
                if !same_path(&c.display().to_string(), s) {
                    out.push(Mismatch {
                        setting: key.to_owned(),
                        expected: format!("ferryman.toml: {}", c.display()),
                        found: format!("{source}: {s}"),
                        next_step: fix_toml(key),
                    });
                }
            }
        }
    }
    if let (Some(configured), Some(_)) = (&server.defaults_file, &found.running) {
        let listed = found
            .option_files
            .iter()
            .any(|f| same_path(f, &configured.display().to_string()));
        if in_use.defaults_file.is_some() && !listed {
            out.push(Mismatch {
                setting: "defaults-file".to_owned(),
                expected: format!("ferryman.toml: {}", configured.display()),
                found: format!("{}: {}", in_use.from, found.option_files.join(", ")),
                next_step:
                    "backups read `defaults-file`: name the file the server was started with"
                        .to_owned(),
            });
        }
    }
    if let (Some(run), Some(files)) = (&found.running, &found.configured_in_files) {
        out.extend(edited_since_start(run, files));
    }
    out
}

/// Option-file values that differ from the running server's: the files were edited since it
/// started (a restart would apply them), or it was started with other options.
fn edited_since_start(run: &Settings, files: &Settings) -> Vec<Mismatch> {
    let text = |v: Option<u16>| v.map(|p| p.to_string());
    let pairs = [
        ("port", text(run.port), text(files.port)),
        ("datadir", run.datadir.clone(), files.datadir.clone()),
        ("socket", run.socket.clone(), files.socket.clone()),
        ("log-error", run.log_error.clone(), files.log_error.clone()),
        (
            "slow-query-log-file",
            run.slow_query_log_file.clone(),
            files.slow_query_log_file.clone(),
        ),
    ];
    pairs
        .into_iter()
        .filter_map(|(key, r, f)| match (r, f) {
            (Some(r), Some(f)) if !f.is_empty() && !same_path(&r, &f) => Some(Mismatch {
                setting: key.to_owned(),
                expected: format!("option files: {f}"),
                found: format!("running server: {r}"),
                next_step: "the option files were edited since the server started, or it was started with other options: a restart applies the files; check which is meant".to_owned(),
            }),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edited_option_file_is_told_from_the_running_value() {
        let run = Settings {
            port: Some(3306),
            datadir: Some("/var/lib/mysql/".to_owned()),
            ..Default::default()
        };
        let files = Settings {
            port: Some(3307),
            datadir: Some("/var/lib/mysql".to_owned()),
            ..Default::default()
        };
        let found = edited_since_start(&run, &files);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].setting, "port");
        assert_eq!(found[0].expected, "option files: 3307");
    }
}
