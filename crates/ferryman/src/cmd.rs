//! One module per subcommand.

pub mod config;
pub mod sandbox;
pub mod topology;
