//! One run of a command on a server's host through the system's OpenSSH client.
//!
//! Why `ssh` and not an SSH crate: host-key checking and the known-hosts format (hashed
//! entries, `@revoked`, certificates), the ciphers and key types, and ssh-agent support are
//! OpenSSH's, maintained and audited there, and every operator already knows how to pin a key
//! for it (`ssh-keyscan`). Ferryman adds no cryptography of its own. The client is run through
//! `ferryman-exec` like every other program, always with `-F /dev/null` (the manager user's
//! `~/.ssh/config` never applies), the configured known-hosts file only, strict host-key
//! checking (`accept-new` only for first-use pinning), and a connect timeout.
//!
//! Passwords: never on ssh's command line nor in its environment. ssh asks its askpass program
//! (`SSH_ASKPASS`, forced by `SSH_ASKPASS_REQUIRE=force`), which ssh runs with the prompt as its
//! only argument: so it is a symlink named [`ASKPASS_NAME`] to the `ferryman` binary in the
//! 0700 scratch directory, and `ferryman` run under that name answers as an askpass: it prints
//! the content of the 0600 file named by [`ASKPASS_FILE_VAR`], written here for the one run and
//! removed after it. ssh's environment is cleared but for a few harmless variables, so
//! a `password-env` variable of the manager's own environment does not reach it either.
//!
//! ssh sends the remote command as one string to the remote user's shell: each word is quoted
//! by [`quote`] for a POSIX shell.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ferryman_config::OnPremiseSsh;
use ferryman_exec::{Program, Streaming};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// The variable naming the password file for the askpass.
pub const ASKPASS_FILE_VAR: &str = "FERRYMAN_SSH_ASKPASS_FILE";
/// The name `ferryman` answers to as ssh's askpass program (a symlink to it).
pub const ASKPASS_NAME: &str = "ferryman-ssh-askpass";
/// How long ssh may take to connect (TCP and key exchange).
const CONNECT_TIMEOUT_S: u32 = 10;
/// Keep-alives: a host that stops answering is given up after 4 × 15 s.
const ALIVE_INTERVAL_S: u32 = 15;
/// How long a stopped ssh has after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Variables of the manager's environment that ssh keeps: where it is, the manager user's
/// ssh-agent (key logins without `onpremise-ssh-private-key`), the locale.
const KEPT_ENV: [&str; 6] = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "SSH_AUTH_SOCK"];
/// How many bytes of the remote command's stdout are kept (its report, for the log).
const STDOUT_KEEP: usize = 16 * 1024;

/// What runs on the host.
#[derive(Debug, Clone)]
pub enum Remote {
    /// A command (the agent's), its words quoted for the remote shell.
    Command(Vec<String>),
    /// A script sent on stdin to `bash -s`, after `export NAME='value'` lines (values that are
    /// never secrets: the job's id, task, address).
    Script {
        /// The script on the manager's host.
        path: PathBuf,
        /// The variables the script is given.
        exports: Vec<(String, String)>,
    },
}

/// How to reach one host.
#[derive(Debug, Clone)]
pub struct Target {
    /// The host name or address (the server's `host`).
    pub host: String,
    /// The server's `onpremise-ssh*` keys.
    pub settings: OnPremiseSsh,
    /// The `ferryman` binary, which answers ssh's password prompt when run as [`ASKPASS_NAME`].
    pub askpass: PathBuf,
    /// A directory only the manager's user can read, for the password file of a run.
    pub scratch: PathBuf,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct Exit {
    /// The exit code: ssh's own 255 for its errors, else the remote command's; `None` when
    /// killed by a signal.
    pub code: Option<i32>,
    /// The tail of ssh's stderr (ssh's messages and the remote command's stderr).
    pub stderr: String,
    /// The tail of the remote command's stdout.
    pub stdout: String,
    /// True when the run was stopped by the caller.
    pub stopped: bool,
}

impl Exit {
    /// True when the remote command exited with 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Quotes `word` for a POSIX shell: as is when made only of characters no shell treats
/// specially, else in single quotes (a `'` written `'\''`).
pub fn quote(word: &str) -> String {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"_-./:@%+,".contains(&b);
    if !word.is_empty() && word.bytes().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// `words` as one remote command line.
pub fn command_line(words: &[String]) -> String {
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

impl Target {
    /// Runs `remote` on the host and waits for its end; `stop` kills ssh (by PID: SIGTERM,
    /// then SIGKILL) and the run ends as [`Exit::stopped`]. Fails only when ssh cannot be
    /// started or the password file cannot be written.
    pub async fn run(&self, remote: &Remote, stop: &CancellationToken) -> Result<Exit, String> {
        let ssh = Program::find("ssh", "openssh-client").map_err(|e| e.to_string())?;
        let password = self.password_file()?;
        let mut command = ssh
            .command()
            .args(self.options())
            .env_clear_keeping(&KEPT_ENV);
        if let Some(file) = &password {
            command = command
                .env("SSH_ASKPASS", self.askpass_link()?)
                .env("SSH_ASKPASS_REQUIRE", "force")
                .env(ASKPASS_FILE_VAR, &file.0);
        }
        let line = match remote {
            Remote::Command(words) => command_line(words),
            Remote::Script { .. } => "bash -s".to_owned(),
        };
        let command = command.arg("--").arg(&self.host).arg(&line);
        let script = match remote {
            Remote::Command(_) => None,
            Remote::Script { path, exports } => Some(script_input(path, exports)?),
        };
        tracing::info!(host = %self.host, port = self.settings.port, user = %self.settings.credential.user, command = %line, "running over ssh");
        let mut running = command
            .spawn_streaming(&Streaming {
                stdin: script.is_some(),
                stderr_log: None,
                own_process_group: true,
            })
            .map_err(|e| e.to_string())?;
        let pid = running.pid();
        if let (Some(mut stdin), Some(script)) = (running.take_stdin(), script) {
            // Ends with ssh (its stdin closes), in the run's span.
            tokio::spawn(
                async move {
                    // A refused login closes the pipe early: ssh's own message says why.
                    let _ = stdin.write_all(&script).await;
                }
                .in_current_span(),
            );
        }
        let stdout = running.take_stdout().map(|mut out| {
            tokio::spawn(
                async move {
                    let mut kept = Vec::new();
                    let mut buf = vec![0u8; 8192];
                    while let Ok(n) = out.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        kept.extend_from_slice(&buf[..n]);
                        let excess = kept.len().saturating_sub(STDOUT_KEEP);
                        kept.drain(..excess);
                    }
                    String::from_utf8_lossy(&kept).into_owned()
                }
                .in_current_span(),
            )
        });
        let wait = running.wait();
        tokio::pin!(wait);
        let (finished, stopped) = tokio::select! {
            finished = &mut wait => (finished, false),
            _ = stop.cancelled() => {
                if let Some(pid) = pid {
                    let stopped = tokio::task::spawn_blocking(move || {
                        ferryman_exec::process::stop(pid, STOP_GRACE)
                    })
                    .await;
                    if let Ok(Err(e)) = stopped {
                        tracing::warn!(pid, error = %e, "cannot stop ssh");
                    }
                }
                (wait.await, true)
            }
        };
        drop(password);
        let finished = finished.map_err(|e| e.to_string())?;
        let stdout = match stdout {
            Some(task) => task.await.unwrap_or_default(),
            None => String::new(),
        };
        Ok(Exit {
            code: finished.status.code(),
            stderr: finished.stderr,
            stdout,
            stopped,
        })
    }

    /// ssh's options: no configuration file, the known-hosts file only, strict checking, and
    /// the login's own.
    fn options(&self) -> Vec<String> {
        let s = &self.settings;
        let checking = if s.accept_new_host_key {
            "accept-new"
        } else {
            "yes"
        };
        let mut o: Vec<String> = vec![
            "-F".into(),
            "/dev/null".into(),
            "-T".into(),
            "-p".into(),
            s.port.to_string(),
            "-l".into(),
            s.credential.user.clone(),
        ];
        let mut set = |key: &str, value: &str| {
            o.push("-o".into());
            // `KEY VALUE` (ssh takes both forms): `exec` refuses `…Password…=VALUE` arguments,
            // which look like passwords.
            o.push(format!("{key} {value}"));
        };
        set("UserKnownHostsFile", &quoted_path(&s.known_hosts));
        set("GlobalKnownHostsFile", "/dev/null");
        set("StrictHostKeyChecking", checking);
        set("HashKnownHosts", "no");
        set("ConnectTimeout", &CONNECT_TIMEOUT_S.to_string());
        set("ServerAliveInterval", &ALIVE_INTERVAL_S.to_string());
        set("ServerAliveCountMax", "4");
        if s.credential.password.is_some() {
            set("BatchMode", "no");
            set("PubkeyAuthentication", "no");
            set("PreferredAuthentications", "password,keyboard-interactive");
            set("NumberOfPasswordPrompts", "1");
        } else {
            set("BatchMode", "yes");
            set("PreferredAuthentications", "publickey");
            if let Some(key) = &s.private_key {
                set("IdentityFile", &quoted_path(key));
                set("IdentitiesOnly", "yes");
            }
        }
        o
    }

    /// The password in a new 0600 file of the scratch directory, for the askpass; removed when
    /// the returned guard drops.
    fn password_file(&self) -> Result<Option<Removed>, String> {
        let Some(password) = &self.settings.credential.password else {
            return Ok(None);
        };
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let fail = |what: &str, path: &Path, e: std::io::Error| {
            format!(
                "cannot {what} `{}` for the ssh password: {e}; check that the manager may \
                 write to `manager.monitoring-datadir`",
                path.display()
            )
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.scratch)
            .map_err(|e| fail("create", &self.scratch, e))?;
        let path = self.scratch.join(format!(
            "askpass-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&path);
        let guard = Removed(path.clone());
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| fail("create", &path, e))?;
        file.write_all(password.expose_secret().as_bytes())
            .map_err(|e| fail("write", &path, e))?;
        Ok(Some(guard))
    }
}

impl Target {
    /// The symlink [`ASKPASS_NAME`] in the scratch directory (made by
    /// [`Target::password_file`]), pointing at the `ferryman` binary.
    fn askpass_link(&self) -> Result<PathBuf, String> {
        let link = self.scratch.join(ASKPASS_NAME);
        if std::fs::read_link(&link).ok().as_deref() != Some(self.askpass.as_path()) {
            let _ = std::fs::remove_file(&link);
            let made = std::os::unix::fs::symlink(&self.askpass, &link);
            // Another run may have made the same link meanwhile.
            let same = || std::fs::read_link(&link).ok().as_deref() == Some(self.askpass.as_path());
            made.or_else(|e| if same() { Ok(()) } else { Err(e) })
                .map_err(|e| {
                    format!(
                        "cannot link `{}` to `{}` for ssh's password prompt: {e}; check that the \
                     manager may write to `manager.monitoring-datadir`",
                        link.display(),
                        self.askpass.display()
                    )
                })?;
        }
        Ok(link)
    }
}

/// A file removed on drop.
struct Removed(PathBuf);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A path as one value of an `-o` option: in double quotes when it has spaces (ssh splits an
/// unquoted value on whitespace).
fn quoted_path(path: &Path) -> String {
    let text = path.display().to_string();
    if text.chars().any(char::is_whitespace) {
        format!("\"{text}\"")
    } else {
        text
    }
}

/// What `bash -s` reads: the exports, then the script.
fn script_input(path: &Path, exports: &[(String, String)]) -> Result<Vec<u8>, String> {
    let script = std::fs::read(path).map_err(|e| {
        format!(
            "cannot read the donor script `{}`: {e}; check `onpremise-ssh-db-job-script`",
            path.display()
        )
    })?;
    let mut input = Vec::new();
    for (name, value) in exports {
        input.extend_from_slice(format!("export {name}={}\n", quote(value)).as_bytes());
    }
    input.extend_from_slice(&script);
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_stay_and_the_rest_is_single_quoted() {
        assert_eq!(quote("--server"), "--server");
        assert_eq!(quote("/etc/ferryman/f.toml"), "/etc/ferryman/f.toml");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(quote("a;b|c&d`e`"), "'a;b|c&d`e`'");
        assert_eq!(quote("~root"), "'~root'");
        assert_eq!(quote("x\ny"), "'x\ny'");
    }

    #[tokio::test]
    async fn quoted_words_reach_a_shell_as_they_were() {
        let words: Vec<String> = [
            "printf",
            "[%s]",
            "plain",
            "two words",
            "it's",
            "$HOME",
            "`id`",
            "a\nb",
            "",
            "*",
        ]
        .iter()
        .map(|w| (*w).to_owned())
        .collect();
        let sh = Program::find("sh", "dash").unwrap();
        let out = sh
            .command()
            .arg("-c")
            .arg(command_line(&words))
            .run()
            .await
            .unwrap()
            .stdout;
        assert_eq!(out, "[plain][two words][it's][$HOME][`id`][a\nb][][*]");
    }
}
