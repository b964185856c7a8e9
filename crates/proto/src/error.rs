//! Errors of the shared protocol types.

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong when reading protocol values.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// A task name that neither Ferryman nor replication-manager's donor scripts know.
    #[error(
        "unknown task `{name}`: expected one of {known}; check the task name written in the jobs table or the config",
        known = crate::task::Task::names().join(", ")
    )]
    UnknownTask {
        /// The name as found.
        name: String,
    },
}
