//! The option files a server reads and what their server groups set, as `my_print_defaults`
//! (the server's own reader: `!include` and `!includedir` followed) prints them.

use std::path::{Path, PathBuf};

use ferryman_exec::Program;
use ferryman_proto::node_api::Settings;

/// The files MariaDB reads when its command line names none, in its order (a home directory's
/// `.my.cnf` is the client's business: the server runs as its own user).
const DEFAULT_FILES: [&str; 2] = ["/etc/my.cnf", "/etc/mysql/my.cnf"];

/// The groups the server reads (`mariadbd --print-defaults` lists the same).
const SERVER_GROUPS: [&str; 5] = ["mysqld", "server", "mariadb", "mariadbd", "client-server"];

/// Where the option files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct InUse {
    /// `--defaults-file` (the only file read then), if any.
    pub(super) defaults_file: Option<PathBuf>,
    /// `--defaults-extra-file`, if any.
    pub(super) extra_file: Option<PathBuf>,
    /// `--no-defaults`: none read.
    pub(super) none: bool,
    /// How this was learnt.
    pub(super) from: String,
}

impl InUse {
    /// From the running process's command line (`/proc/PID/cmdline`), else from the
    /// configuration's `defaults-file`, else MariaDB's default files.
    pub(super) fn find(pid: Option<u32>, configured: Option<&Path>) -> InUse {
        if let Some(args) = pid.and_then(cmdline) {
            let mut found = InUse {
                defaults_file: None,
                extra_file: None,
                none: false,
                from: format!("the command line of process {}", pid.unwrap_or_default()),
            };
            // Option-file arguments must come first on a server's command line.
            for arg in args.iter().skip(1) {
                if let Some(f) = arg.strip_prefix("--defaults-file=") {
                    found.defaults_file = Some(PathBuf::from(f));
                } else if let Some(f) = arg.strip_prefix("--defaults-extra-file=") {
                    found.extra_file = Some(PathBuf::from(f));
                } else if arg == "--no-defaults" {
                    found.none = true;
                }
            }
            return found;
        }
        match configured {
            Some(file) => InUse {
                defaults_file: Some(file.to_owned()),
                extra_file: None,
                none: false,
                from: "the server's `defaults-file` in ferryman.toml (no running process to ask)"
                    .to_owned(),
            },
            None => InUse {
                defaults_file: None,
                extra_file: None,
                none: false,
                from: "MariaDB's default files (no running process to ask)".to_owned(),
            },
        }
    }

    /// The files read, as paths.
    pub(super) fn files(&self) -> Vec<String> {
        if self.none {
            return Vec::new();
        }
        let mut files: Vec<String> = match &self.defaults_file {
            Some(f) => vec![f.display().to_string()],
            None => DEFAULT_FILES
                .iter()
                .filter(|f| Path::new(f).exists())
                .map(|f| (*f).to_owned())
                .collect(),
        };
        if let Some(extra) = &self.extra_file {
            files.push(extra.display().to_string());
        }
        files
    }

    /// What the files set for the server, through `my_print_defaults`.
    pub(super) async fn settings(&self) -> Result<Settings, String> {
        if self.none {
            return Ok(Settings::default());
        }
        let program =
            Program::find("my_print_defaults", "mariadb-client-core").map_err(|e| e.to_string())?;
        let mut args: Vec<String> = Vec::new();
        if let Some(f) = &self.defaults_file {
            args.push(format!("--defaults-file={}", f.display()));
        }
        if let Some(f) = &self.extra_file {
            args.push(format!("--defaults-extra-file={}", f.display()));
        }
        args.extend(SERVER_GROUPS.iter().map(|g| (*g).to_owned()));
        let out = program
            .command()
            .args(&args)
            .run()
            .await
            .map_err(|e| e.to_string())?;
        Ok(parse(&out.stdout))
    }
}

/// A process's arguments.
fn cmdline(pid: u32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

/// `my_print_defaults`' `--key=value` lines: the last of each key wins, as in the server; `_`
/// and `-` are one. Relative log paths are left as written (the caller resolves them).
fn parse(text: &str) -> Settings {
    let mut s = Settings::default();
    for line in text.lines() {
        let Some(option) = line.trim().strip_prefix("--") else {
            continue;
        };
        let (key, value) = option.split_once('=').unwrap_or((option, ""));
        let value = value.to_owned();
        match key.replace('_', "-").as_str() {
            "port" => s.port = value.parse().ok(),
            "datadir" => s.datadir = Some(value),
            "socket" => s.socket = Some(value),
            "log-error" => s.log_error = Some(value),
            "slow-query-log-file" => s.slow_query_log_file = Some(value),
            "log-bin" => s.log_bin = Some(value),
            "pid-file" => s.pid_file = Some(value),
            _ => {}
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_value_of_a_key_wins_and_underscores_are_dashes() {
        let s = parse(
            "--port=3306\n--datadir=/var/lib/mysql\n--port=3307\n--log_error=/var/log/e.log\n\
             --skip-name-resolve\n--log-bin\n",
        );
        assert_eq!(s.port, Some(3307));
        assert_eq!(s.datadir.as_deref(), Some("/var/lib/mysql"));
        assert_eq!(s.log_error.as_deref(), Some("/var/log/e.log"));
        assert_eq!(s.log_bin.as_deref(), Some(""));
    }

    #[test]
    fn the_command_line_names_the_files() {
        let me = std::process::id();
        let found = InUse::find(Some(me), Some(Path::new("/etc/ignored.cnf")));
        assert!(found.from.contains(&me.to_string()), "{found:?}");
        assert_eq!(found.defaults_file, None);
        let configured = InUse::find(None, Some(Path::new("/etc/db1.cnf")));
        assert_eq!(configured.files(), vec!["/etc/db1.cnf".to_owned()]);
    }
}
