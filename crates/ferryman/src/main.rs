//! The `ferryman` binary: command-line parsing, logging set-up and exit codes (`exit.rs`); no
//! logic.
//!
//! # Layout
//! - `cmd/`: one file per subcommand, each turning arguments into calls of the library crates.
//! - `client`: the manager's HTTP API, for the commands that talk to a running manager.
//! - `output` (and `output/manager.rs` for what the manager answers): the only place that
//!   prints (tables, JSON, errors, progress).

mod client;
mod cmd;
mod config_file;
mod exit;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Backups, verification, reseeds and maintenance for MariaDB and MySQL fleets.
#[derive(Debug, Parser)]
#[command(name = "ferryman", version, about, max_term_width = 100)]
pub(crate) struct Cli {
    /// How log lines are written to stderr: `text` (for people) or `json` (one object per line,
    /// for journald and log shippers: time, level, message, fields, the spans with their ids).
    #[arg(
        long,
        global = true,
        value_enum,
        env = "FERRYMAN_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Real local MariaDB topologies for demos, tests and benchmarks.
    #[command(subcommand)]
    Sandbox(cmd::sandbox::SandboxCommand),
    /// Check a configuration file.
    #[command(subcommand)]
    Config(cmd::config::ConfigCommand),
    /// Check the backup repositories directly (no manager needed).
    #[command(subcommand)]
    Repo(cmd::repo::RepoCommand),
    /// Certificates for TLS: a fleet CA and the manager's and agents' certificates.
    #[command(subcommand)]
    Tls(cmd::tls::TlsCommand),
    /// Show each server's role, GTID position, replication threads and lag, read live.
    Topology(cmd::topology::TopologyArgs),
    /// The node agent: run the jobs queued in one server's jobs table (backups, log shipping,
    /// optimize, service commands), streaming data to the manager.
    Agent(cmd::agent::AgentArgs),
    /// The manager: schedules and dispatches jobs to the agents, receives and stores their
    /// backups, serves the HTTP API.
    Manager(cmd::manager::ManagerArgs),
    /// The fleet on one screen: each cluster's servers, newest backups with their age and
    /// verification, last recoverable point, running jobs (through the running manager).
    Status(cmd::status::StatusArgs),
    /// Start, list and show backups (through the running manager).
    #[command(subcommand)]
    Backup(cmd::backup::BackupCommand),
    /// The error and slow-query logs collected from the servers: list, get, tail (through the
    /// running manager).
    #[command(subcommand)]
    Logs(cmd::logs::LogsCommand),
    /// Queue a task on one server: optimize, error-log or slow-query-log collection, the
    /// database service's stop, start or restart, zfssnapback (through the running manager).
    Task(cmd::task::TaskArgs),
    /// Ask a server's node agent now (its HTTP API, `agent-api-port`): status, start, stop,
    /// restart, detect, disk, error-log (--follow), replicas (through the running manager).
    #[command(subcommand)]
    Node(cmd::node::NodeCommand),
    /// List, show and cancel the manager's jobs (through the running manager).
    #[command(subcommand)]
    Jobs(cmd::jobs::JobsCommand),
    /// What the manager told: failed and resolved backups, verifications, reseeds, alarms
    /// (through the running manager; kept across its restarts).
    Events(cmd::events::EventsArgs),
    /// Rebuild replicas from a backup (through the running manager).
    Reseed(cmd::reseed::ReseedArgs),
    /// Rewind a replica to an earlier backup, or to a point in time through the archived binlog
    /// (through the running manager).
    Flashback(cmd::reseed::FlashbackArgs),
    /// Restore a backup into a directory, to a point in time or a GTID through the archived
    /// binlog, or as it is (read straight from the repositories; no manager needed).
    Restore(cmd::restore::RestoreArgs),
    /// Point-in-time recovery: the recoverable windows, gaps and the binlog archiver.
    #[command(subcommand)]
    Pitr(cmd::pitr::PitrCommand),
    /// Prove that backups restore: checks, a test restore on a throwaway server, checks on
    /// the restored copy (through the running manager).
    Verify(cmd::verify::VerifyArgs),
    /// Print the shell completion script for SHELL (bash, zsh, fish, ...) to stdout.
    Completions(cmd::docs::CompletionsArgs),
    /// Write the man pages (`ferryman.1`, `ferryman-COMMAND.1`) into a directory.
    Man(cmd::docs::ManArgs),
    /// The Galera link keeper of one node: keeps exactly one node of its Galera cluster
    /// replicating from a remote cluster, with failover (`status` shows the link).
    GaleraLink(cmd::galera_link::GaleraLinkArgs),
}

fn main() -> ExitCode {
    // Run as ssh's askpass (a symlink named so; ssh gives the prompt as the only argument).
    let mut args = std::env::args_os();
    if args
        .next()
        .is_some_and(|argv0| cmd::ssh_askpass::is_askpass(std::path::Path::new(&argv0)))
    {
        let prompt = args.next().unwrap_or_default();
        return match cmd::ssh_askpass::run(&prompt.to_string_lossy()) {
            Ok(code) => code,
            Err(e) => {
                output::error(&e);
                ExitCode::FAILURE
            }
        };
    }
    let cli = Cli::parse();
    // A daemon's log is its only voice: the agent and the manager say what they do by default.
    let default_level = match cli.command {
        Command::Agent(_) | Command::Manager(_) => "info",
        Command::GaleraLink(ref a) if a.is_daemon() => "info",
        _ => "warn",
    };
    init_tracing(default_level, cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            output::error(&anyhow::Error::new(e).context("cannot start the async runtime"));
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Sandbox(c) => c.run().await,
            Command::Config(c) => c.run().await,
            Command::Repo(c) => c.run().await,
            Command::Tls(c) => c.run().await,
            Command::Topology(a) => a.run().await,
            Command::Agent(a) => a.run().await,
            Command::Manager(a) => a.run().await,
            Command::Backup(c) => c.run().await,
            Command::Task(a) => a.run().await,
            Command::Node(c) => c.run().await,
            Command::Logs(c) => c.run().await,
            Command::Jobs(c) => c.run().await,
            Command::Events(c) => c.run().await,
            Command::Status(a) => a.run().await,
            Command::Completions(a) => a.run(),
            Command::Man(a) => a.run(),
            Command::Reseed(a) => a.run().await,
            Command::Flashback(a) => a.run().await,
            Command::Pitr(c) => c.run().await,
            Command::Restore(a) => a.run().await,
            Command::Verify(a) => a.run().await,
            Command::GaleraLink(a) => a.run().await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            output::error(&e);
            exit::code_of(&e)
        }
    }
}

/// Logs go to stderr, as text or JSON; `FERRYMAN_LOG` (e.g. `debug`,
/// `ferryman_sandbox=debug`) sets the level.
fn init_tracing(default_level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERRYMAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        // One object per line; the event's fields at the top level, beside `timestamp`,
        // `level`, `target`, and the spans it ran in (`span`, `spans`) with their ids.
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
}
