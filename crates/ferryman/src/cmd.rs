//! One module per subcommand.

pub mod agent;
pub mod config;
pub mod sandbox;
pub mod topology;
