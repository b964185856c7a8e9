//! One module per subcommand.

pub mod agent;
pub mod backup;
pub mod config;
pub mod jobs;
pub mod manager;
pub mod sandbox;
pub mod topology;
