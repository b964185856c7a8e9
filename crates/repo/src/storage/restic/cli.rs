//! Running `restic` for [`super::ResticStorage`]: the repository and its password in the
//! environment (never on the command line), retries while another process holds the
//! repository's exclusive lock, and failures turned into [`Error::Restic`] with a hint chosen
//! from what restic said.

use std::time::{Duration, Instant};

use ferryman_config::Secret;
use ferryman_exec::{Command, Finished, Output, Program, Running, Streaming};

use crate::{Error, Result};

/// How long a command waits for another process's exclusive lock (a `forget`, a `prune`, a
/// `check`) before it fails.
const LOCK_WAIT: Duration = Duration::from_secs(120);

/// How to run restic against one repository.
#[derive(Debug)]
pub(super) struct Cli {
    program: Program,
    repository: String,
    password: Secret,
}

impl Cli {
    pub(super) fn new(repository: &str, password: Secret) -> Result<Cli> {
        let program = Program::find("restic", "restic").map_err(|e| Error::Restic {
            action: "start",
            location: format!("restic:{repository}"),
            detail: e.to_string(),
            hint: "install restic (Debian package `restic`)".to_owned(),
        })?;
        Ok(Cli {
            program,
            repository: repository.to_owned(),
            password,
        })
    }

    /// `restic:REPOSITORY`, for messages.
    pub(super) fn location(&self) -> String {
        format!("restic:{}", self.repository)
    }

    /// `restic ARGS` with the repository and its password in the environment.
    pub(super) fn command(&self, args: &[&str]) -> Command {
        Command::new(&self.program)
            .env("RESTIC_REPOSITORY", &self.repository)
            .secret_env("RESTIC_PASSWORD", self.password.expose_secret())
            .args(args)
    }

    /// Runs `restic ARGS` to completion, waiting out another process's lock; a failure is an
    /// [`Error::Restic`] of `action` on `what`.
    pub(super) async fn run(
        &self,
        action: &'static str,
        what: &str,
        args: &[&str],
    ) -> Result<Output> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(500);
        loop {
            let out = self
                .command(args)
                .output()
                .await
                .map_err(|e| self.error(action, what, &e.to_string()))?;
            if out.status.success() {
                return Ok(out);
            }
            if is_locked(&out.stderr) && started.elapsed() < LOCK_WAIT {
                tracing::debug!(repository = %self.repository, "restic repository locked; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
                continue;
            }
            return Err(self.error(action, what, &out.stderr));
        }
    }

    /// Starts `restic ARGS` with stdout piped (and stdin when `stdin`).
    pub(super) fn spawn(
        &self,
        action: &'static str,
        what: &str,
        args: &[&str],
        stdin: bool,
    ) -> Result<Running> {
        let how = Streaming {
            stdin,
            ..Streaming::default()
        };
        self.command(args)
            .spawn_streaming(&how)
            .map_err(|e| self.error(action, what, &e.to_string()))
    }

    /// The error for a streamed command that ended as `finished`, `None` when it succeeded.
    pub(super) fn judge(
        &self,
        action: &'static str,
        what: &str,
        finished: &Finished,
    ) -> Option<Error> {
        (!finished.status.success()).then(|| self.error(action, what, &finished.stderr))
    }

    /// The error of `action` on `what` after restic said `stderr`.
    pub(super) fn error(&self, action: &'static str, what: &str, stderr: &str) -> Error {
        Error::Restic {
            action,
            location: format!("{what} in {}", self.location()),
            detail: ferryman_exec::command::tail(stderr, 3),
            hint: hint(stderr, &self.repository),
        }
    }
}

/// True when restic failed because another process holds the lock it needs.
pub(super) fn is_locked(stderr: &str) -> bool {
    stderr.contains("repository is already locked")
}

/// What to do, from what restic said.
fn hint(stderr: &str, repository: &str) -> String {
    if stderr.contains("wrong password or no key found") {
        "the password (password-file or password-env of the repository's table) does not open \
         this restic repository: set the password it was initialised with"
            .to_owned()
    } else if stderr.contains("Is there a repository at the following location?")
        || stderr.contains("unable to open config file")
    {
        format!(
            "there is no restic repository at {repository}: create it once with `restic init` \
             (RESTIC_REPOSITORY={repository} and RESTIC_PASSWORD_FILE set to the password file), \
             or fix `repository`"
        )
    } else if is_locked(stderr) {
        "another restic process kept its lock on the repository for more than 2 minutes: wait \
         for it to finish, or run `restic unlock` if it died"
            .to_owned()
    } else {
        format!("run the same command by hand (`restic -r {repository} ...`) to see more")
    }
}
