//! Everything the binary prints: tables for people, JSON for scripts, errors on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)] // the one module allowed to print

mod galera;
mod manager;
mod sandbox;
mod verify;

pub use galera::{galera_link_round, galera_link_status};
pub use manager::{
    backup, backup_started, backups, job, job_cancelling, job_finished, jobs, json, prune,
    reseed_started, JobsProgress,
};
pub use sandbox::galera_sandbox_status;
pub use verify::{verify_started, verify_summary, VerifyProgress};

use ferryman_config::{Config, ConfigErrors, ConfigWarning};
use ferryman_db::topology::ServerView;
use ferryman_db::ServerStatus;
use ferryman_sandbox::load::LoadReport;
use ferryman_sandbox::{Sandbox, ServerReport};
use serde::Serialize;

/// The servers of one cluster, for `ferryman topology`.
#[derive(Debug, Serialize)]
pub struct ClusterView {
    /// Cluster name.
    pub cluster: String,
    /// Its servers.
    pub servers: Vec<ServerView>,
}

/// One line on stdout.
pub fn line(text: &str) {
    println!("{text}");
}

/// Something the DBA should know about a request that was accepted, on stderr.
pub fn note(text: &str) {
    eprintln!("note: {text}");
}

/// An error with its chain of causes, on stderr.
pub fn error(e: &anyhow::Error) {
    eprintln!("error: {e:#}");
}

/// `config check` on a valid file, and what the daemons will need that is missing here.
pub fn config_summary(config: &Config, warnings: &[ConfigWarning]) {
    let servers: usize = config.clusters.iter().map(|c| c.servers.len()).sum();
    println!(
        "{}: ok ({} cluster(s), {} server(s))",
        config.path.display(),
        config.clusters.len(),
        servers
    );
    for c in &config.clusters {
        let names: Vec<&str> = c.servers.iter().map(|s| s.name.as_str()).collect();
        println!("  cluster {}: {}", c.name, names.join(", "));
    }
    config_warnings(warnings);
}

/// `config check` on an invalid file: every error, one per line, then the warnings.
pub fn config_errors(errors: &ConfigErrors, warnings: &[ConfigWarning]) {
    eprintln!("{errors}");
    config_warnings(warnings);
    eprintln!("{} error(s); nothing was changed", errors.errors().len());
}

fn config_warnings(warnings: &[ConfigWarning]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

/// `ferryman topology`.
pub fn topology(clusters: &[ClusterView], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(clusters)?);
        return Ok(());
    }
    for c in clusters {
        println!("cluster {}", c.cluster);
        let rows: Vec<Vec<String>> = c
            .servers
            .iter()
            .map(|s| {
                status_row(
                    &s.name,
                    &s.address,
                    None,
                    s.status.as_ref(),
                    s.error.as_deref(),
                )
            })
            .collect();
        print_table(&HEADER, &rows);
        let primaries = c
            .servers
            .iter()
            .filter(|s| {
                s.status
                    .as_ref()
                    .is_some_and(|st| st.role == ferryman_db::Role::Primary)
            })
            .count();
        if primaries > 1 {
            println!("warning: {primaries} servers are not replicating from anyone: check for a split topology");
        }
        println!();
    }
    Ok(())
}

/// `sandbox up` and `sandbox status`.
pub fn sandbox_status(
    sandbox: &Sandbox,
    reports: &[ServerReport],
    json: bool,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(reports)?);
        return Ok(());
    }
    println!("sandbox {}", sandbox.dir().display());
    println!("config  {}", sandbox.config_path().display());
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            status_row(
                &r.name,
                &format!("127.0.0.1:{}", r.port),
                Some(r.pid),
                r.status.as_ref(),
                r.error.as_deref(),
            )
        })
        .collect();
    print_table(&SANDBOX_HEADER, &rows);
    Ok(())
}

/// `sandbox load`.
pub fn load_report(r: &LoadReport) {
    println!(
        "loaded {} table(s) x {} rows into sbtest: {:.1} MiB of InnoDB data and indexes in {:.1} s",
        r.tables,
        r.rows_per_table,
        r.bytes as f64 / f64::from(1 << 20),
        r.elapsed.as_secs_f64()
    );
}

const HEADER: [&str; 8] = [
    "SERVER",
    "ADDRESS",
    "ROLE",
    "GTID",
    "REPLICATES FROM",
    "IO",
    "SQL",
    "LAG",
];
const SANDBOX_HEADER: [&str; 9] = [
    "SERVER",
    "ADDRESS",
    "PID",
    "ROLE",
    "GTID",
    "REPLICATES FROM",
    "IO",
    "SQL",
    "LAG",
];

fn status_row(
    name: &str,
    address: &str,
    pid: Option<Option<u32>>,
    status: Option<&ServerStatus>,
    error: Option<&str>,
) -> Vec<String> {
    let mut row = vec![name.to_owned(), address.to_owned()];
    if let Some(pid) = pid {
        row.push(pid.map_or("-".into(), |p| p.to_string()));
    }
    match status {
        Some(s) => {
            row.push(s.role.to_string());
            row.push(if s.gtid_binlog_pos.is_empty() {
                "-".into()
            } else {
                s.gtid_binlog_pos.clone()
            });
            match &s.replication {
                Some(r) => {
                    row.push(format!("{}:{}", r.master_host, r.master_port));
                    row.push(r.io_running.clone());
                    row.push(r.sql_running.clone());
                    row.push(
                        r.seconds_behind_master
                            .map_or("-".into(), |l| format!("{l}s")),
                    );
                }
                None => row.extend(["-", "-", "-", "-"].map(String::from)),
            }
        }
        None => row.push(format!("DOWN: {}", error.unwrap_or("no answer"))),
    }
    row
}

fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        // A short row ends with an error message: its last cell does not widen the columns.
        let sized = if row.len() < header.len() {
            row.len().saturating_sub(1)
        } else {
            row.len()
        };
        for (width, cell) in widths.iter_mut().zip(&row[..sized]) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let render = |cells: &mut dyn Iterator<Item = &str>| {
        let out: Vec<String> = cells
            .zip(widths.iter().copied().chain(std::iter::repeat(0)))
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", out.join("  ").trim_end());
    };
    render(&mut header.iter().copied());
    for row in rows {
        render(&mut row.iter().map(String::as_str));
    }
}

/// `ferryman agent --once`: one line per job run, then a summary.
pub fn agent_pass(report: &ferryman_agent::PassReport) {
    for job in &report.ran {
        let verdict = match job.verdict {
            ferryman_jobs::Verdict::Success => "ok",
            ferryman_jobs::Verdict::Failure => "FAILED",
        };
        let kept = if job.recorded {
            ""
        } else {
            " (outcome kept on disk: the server did not answer; recorded on a later pass)"
        };
        println!(
            "job {} {}: {verdict}: {}{kept}",
            job.id, job.task, job.result
        );
    }
    if report.recorded_pending > 0 {
        println!(
            "{} outcome(s) kept from earlier runs recorded",
            report.recorded_pending
        );
    }
    if report.reaped > 0 {
        println!(
            "{} job(s) abandoned by a stopped agent marked failed",
            report.reaped
        );
    }
    if report.ran.is_empty() && report.error.is_none() {
        println!("no job to run");
    }
}
