//! Locating external programs and reading their versions.

use std::path::{Path, PathBuf};

use crate::{Command, Error, Result};

/// Directories searched after `PATH`: `mariadbd` lives in `/usr/sbin`, which a non-login root
/// shell or a cron job may not have on its `PATH`.
const EXTRA_DIRS: [&str; 3] = ["/usr/sbin", "/usr/local/sbin", "/sbin"];

/// An external program found on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    name: String,
    path: PathBuf,
}

impl Program {
    /// Finds `name` on `PATH` or in the sbin directories; when it is missing the error names
    /// the Debian `packages` that provide it.
    pub fn find(name: &str, packages: &str) -> Result<Program> {
        let path_var = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path_var)
            .chain(EXTRA_DIRS.iter().map(PathBuf::from))
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))
            .map(|path| Program {
                name: name.to_owned(),
                path,
            })
            .ok_or_else(|| Error::NotFound {
                program: name.to_owned(),
                packages: packages.to_owned(),
            })
    }

    /// A program at a known path (from configuration), checked to be executable.
    pub fn at(path: &Path, packages: &str) -> Result<Program> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        if is_executable(path) {
            Ok(Program {
                name,
                path: path.to_owned(),
            })
        } else {
            Err(Error::NotFound {
                program: path.display().to_string(),
                packages: packages.to_owned(),
            })
        }
    }

    /// The short name, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the executable is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A new command running this program.
    pub fn command(&self) -> Command {
        Command::new(self)
    }

    /// The first line the program prints for `--version` (most database tools print their
    /// name, version and build there).
    pub async fn version(&self) -> Result<String> {
        let out = self.command().arg("--version").run().await?;
        let text = if out.stdout.trim().is_empty() {
            out.stderr
        } else {
            out.stdout
        };
        Ok(text.lines().next().unwrap_or_default().trim().to_owned())
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_program_names_the_packages() {
        let err = Program::find("ferryman-no-such-tool", "mariadb-server").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("`ferryman-no-such-tool` is not installed"),
            "{msg}"
        );
        assert!(msg.contains("mariadb-server"), "{msg}");
    }

    #[tokio::test]
    async fn finds_and_versions_a_coreutils_program() {
        let p = Program::find("sh", "dash").unwrap();
        assert!(p.path().is_absolute());
        let ls = Program::find("ls", "coreutils").unwrap();
        assert!(ls.version().await.unwrap().contains("ls"));
    }
}
