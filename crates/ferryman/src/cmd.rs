//! One module per subcommand.

pub mod agent;
pub mod backup;
pub mod config;
pub mod direct;
pub mod docs;
pub mod events;
pub mod follow;
pub mod galera_link;
pub mod jobs;
pub mod logs;
pub mod manager;
pub mod node;
pub mod pitr;
pub mod repo;
pub mod reseed;
pub mod restore;
pub mod sandbox;
pub mod ssh_askpass;
pub mod status;
pub mod task;
pub mod tls;
pub mod topology;
pub mod verify;
