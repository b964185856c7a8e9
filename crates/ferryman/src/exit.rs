//! The exit codes, so that a script tells apart what went wrong (documented in the README,
//! "Exit codes", like restic's):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done, and everything checked is fine |
//! | 1 | failed: a job, a check or a verification failed, or another error |
//! | 2 | usage: a bad argument, or a configuration file that does not load |
//! | 3 | the manager cannot be reached (not running, wrong address, no answer in time) |
//! | 4 | the manager refused the request (the token, an unknown cluster or job, a bad request) |

use std::process::ExitCode;

/// Failed.
pub const FAILED: u8 = 1;
/// A bad argument or configuration file.
pub const USAGE: u8 = 2;
/// The manager cannot be reached.
pub const UNREACHABLE: u8 = 3;
/// The manager refused the request.
pub const REFUSED: u8 = 4;

/// An error that says which exit code it ends the command with.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Exit {
    /// One of the codes above.
    pub code: u8,
    /// What went wrong, with the next step.
    pub message: String,
}

/// An error ending the command with `code`.
pub fn error(code: u8, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Exit {
        code,
        message: message.into(),
    })
}

/// The exit code of a command that ended with `error`.
pub fn code_of(error: &anyhow::Error) -> ExitCode {
    let code = error
        .chain()
        .find_map(|c| c.downcast_ref::<Exit>())
        .map_or(FAILED, |e| e.code);
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_keeps_its_code_through_context() {
        let e = error(UNREACHABLE, "cannot reach").context("jobs list");
        assert_eq!(code_of(&e), ExitCode::from(UNREACHABLE));
        assert_eq!(code_of(&anyhow::anyhow!("other")), ExitCode::from(FAILED));
    }
}
