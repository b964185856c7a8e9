//! Everything the binary prints: tables for people, JSON for scripts, errors on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)] // the one module allowed to print

mod galera;
mod manager;
mod node;
mod node_api;
mod pitr;
mod sandbox;
mod status;
mod verify;

pub use galera::{galera_link_round, galera_link_status};
pub use manager::{
    backup, backup_started, backups, job, job_cancelling, job_finished, jobs, json, prune,
    reseed_started, JobsProgress,
};
pub use node::{
    askpass_answer, backup_deleted, log_tail, log_text, logs, onpremise_ssh, task_started,
};
pub use node_api::{
    node_detection, node_disk, node_replicas, node_snapshot_taken, node_snapshots, node_status,
};
pub use pitr::{pitr_status, proof_line, restored};
pub use sandbox::galera_sandbox_status;
pub use status::{events, fleet};
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

/// `repo check`: per repository, the backups checked, every problem and leftover.
pub fn repo_check(
    reports: &[(String, ferryman_repo::CheckReport)],
    read_data: bool,
    as_json: bool,
) -> anyhow::Result<()> {
    if as_json {
        let value: Vec<serde_json::Value> = reports
            .iter()
            .map(
                |(name, r)| serde_json::json!({ "repository": name, "ok": r.is_ok(), "report": r }),
            )
            .collect();
        return json(&serde_json::Value::Array(value));
    }
    for (name, r) in reports {
        let read = if read_data {
            let at_rest = match r.at_rest_only {
                0 => String::new(),
                n => format!(
                    "; {n} of them encrypted and checked at rest only (no age identity for \
                     this repository)"
                ),
            };
            format!(
                ", {} payload(s) read back ({}){at_rest}",
                r.read_backups,
                indicatif::HumanBytes(r.read_bytes)
            )
        } else {
            String::new()
        };
        let verdict = if r.is_ok() { "ok" } else { "PROBLEMS" };
        println!(
            "repository {name} ({}): {verdict}: {} backup(s) checked{read}",
            r.location, r.backups
        );
        if let Some(native) = &r.native {
            let verdict = if native.ok { "ok" } else { "FAILED" };
            println!("  {}: {verdict}: {}", native.tool, native.summary);
        }
        for p in &r.problems {
            println!("  backup {}: {}", p.backup, p.detail);
        }
        let (done, todo) = if r.repaired {
            ("removed", "quarantined")
        } else {
            (
                "partial (--repair removes it)",
                "unfinished (--repair quarantines it)",
            )
        };
        for key in &r.partial {
            println!("  {done}: {key}");
        }
        for dir in &r.unfinished {
            println!("  {todo}: {dir}");
        }
    }
    Ok(())
}

/// `repo sign`: what was signed, and each manifest left as it was.
pub fn repo_signed(
    name: &str,
    report: &ferryman_repo::SignReport,
    as_json: bool,
) -> anyhow::Result<()> {
    if as_json {
        return json(&serde_json::json!({ "repository": name, "report": report }));
    }
    println!(
        "repository {name} ({}): {} manifest(s) signed, {} already signed, {} left as they are",
        report.location,
        report.signed.len(),
        report.already,
        report.refused.len()
    );
    for id in &report.signed {
        println!("  signed: {id}");
    }
    for problem in &report.refused {
        println!("  left as it is: {problem}");
    }
    Ok(())
}

/// `tls init`: the files written, and what to do with them.
pub fn tls_issued(dir: &std::path::Path, files: &[std::path::PathBuf]) {
    println!("issued in {}:", dir.display());
    for f in files {
        println!("  {}", f.display());
    }
    println!(
        "next: in the manager's ferryman.toml set tls-cert-file = \"{0}/manager.crt\", tls-key-file = \"{0}/manager.key\", tls-ca-file = \"{0}/ca.crt\" under [manager]; on each database host copy ca.crt and agents/HOST.crt and .key (mode 0600) and set them as tls-cert-file, tls-key-file and tls-ca-file under [agent]; keep ca.key off the network",
        dir.display()
    );
}

/// `config check`: a certificate file that is valid.
pub fn certificate(key: &str, path: &std::path::Path, standing: &str) {
    println!("  {key} {}: {standing}", path.display());
}

/// `config check`: a certificate file that cannot be used.
pub fn certificate_error(key: &str, path: &std::path::Path, error: &str) {
    eprintln!("error: `{key}` {}: {error}", path.display());
}

/// `config check --probe-repositories`: one repository's answer.
pub fn repository_probe(name: &str, location: &str, answer: &Result<String, String>) {
    match answer {
        Ok(state) => println!("  repository {name} ({location}): {state}"),
        Err(e) => eprintln!("repository {name} ({location}): {e}"),
    }
}

/// `config check` on an invalid file: every error, one per line, then the warnings.
pub fn config_errors(errors: &ConfigErrors, warnings: &[ConfigWarning]) {
    eprintln!("{errors}");
    config_warnings(warnings);
    eprintln!("{} error(s); nothing was changed", errors.errors().len());
}

/// A warning on stderr.
pub fn warning(text: &str) {
    eprintln!("warning: {text}");
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
                let role = ferryman_db::topology::role_label(
                    c.servers
                        .iter()
                        .map(|s| (s.address.as_str(), s.status.as_ref())),
                    (&s.address, s.status.as_ref()),
                );
                status_row(
                    &s.name,
                    &s.address,
                    None,
                    (role, s.status.as_ref()),
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
            println!("warning: {primaries} servers replicate from no one: a split topology, or a server shown as `no replication` to point at the primary (`ferryman reseed`)");
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
            let addresses: Vec<String> = reports
                .iter()
                .map(|r| format!("127.0.0.1:{}", r.port))
                .collect();
            let role = ferryman_db::topology::role_label(
                addresses
                    .iter()
                    .zip(reports)
                    .map(|(a, r)| (a.as_str(), r.status.as_ref())),
                (&format!("127.0.0.1:{}", r.port), r.status.as_ref()),
            );
            status_row(
                &r.name,
                &format!("127.0.0.1:{}", r.port),
                Some(r.pid),
                (role, r.status.as_ref()),
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
    (role, status): (&str, Option<&ServerStatus>),
    error: Option<&str>,
) -> Vec<String> {
    let mut row = vec![name.to_owned(), address.to_owned()];
    if let Some(pid) = pid {
        row.push(pid.map_or("-".into(), |p| p.to_string()));
    }
    match status {
        Some(s) => {
            row.push(role.to_owned());
            row.push(
                ferryman_db::topology::shown_gtid(s)
                    .unwrap_or("-")
                    .to_owned(),
            );
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
    // comfy-table's own probe: the terminal's width when stdout is one, else `None`.
    let width = comfy_table::Table::new().width();
    println!("{}", table(header, rows, width));
}

/// `rows` under `header` in columns two spaces apart, without borders. Given a `width` (the
/// terminal's), a row too wide for it wraps inside its widest cells instead of running past
/// the edge, as a DOWN row's error did; without one (piped) each row stays one line, for
/// `grep`. A short row (a DOWN row) leaves its last columns empty.
fn table(header: &[&str], rows: &[Vec<String>], width: Option<u16>) -> String {
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_header(header.iter().copied())
        .add_rows(rows.iter().cloned());
    match width {
        Some(width) => table.set_width(width),
        None => table.force_no_tty(),
    };
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    let lines: Vec<String> = table.lines().map(|l| l.trim_end().to_owned()).collect();
    lines.join("\n")
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

/// `completions`: the script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell, cli: &mut clap::Command) -> anyhow::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, cli, "ferryman", &mut script);
    let mut out = std::io::stdout().lock();
    match std::io::Write::write_all(&mut out, &script)
        .and_then(|()| std::io::Write::flush(&mut out))
    {
        // A reader that stopped early (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// `man`: what was written.
pub fn man_pages(dir: &std::path::Path, written: &[String]) {
    println!(
        "{} man pages written to {}: {}",
        written.len(),
        dir.display(),
        written.join(", ")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row from its cells, space-separated.
    fn row(cells: &str) -> Vec<String> {
        cells.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn columns_keep_their_order_two_spaces_apart() {
        let rows = [
            row("db1 10.0.0.1:3306 primary 0-1-42 - - - -"),
            row("db2 10.0.0.2:3306 replica 0-1-42 10.0.0.1:3306 Yes Yes 0s"),
        ];
        assert_eq!(
            table(&HEADER, &rows, None),
            "SERVER  ADDRESS        ROLE     GTID    REPLICATES FROM  IO   SQL  LAG\n\
             db1     10.0.0.1:3306  primary  0-1-42  -                -    -    -\n\
             db2     10.0.0.2:3306  replica  0-1-42  10.0.0.1:3306    Yes  Yes  0s"
        );
    }

    #[test]
    fn a_down_row_wraps_inside_the_terminal() {
        let error = "cannot connect to `db1` at 10.0.0.1:3306: Connection refused (os error \
                     111): check that mariadbd runs there and that `db-servers-credential` may \
                     connect from this host";
        let rows = [
            vec![
                "db1".into(),
                "10.0.0.1:3306".into(),
                format!("DOWN: {error}"),
            ],
            row("db2 10.0.0.2:3306 replica 0-1-42 10.0.0.1:3306 Yes Yes 0s"),
        ];
        let text = table(&HEADER, &rows, Some(100));
        for line in text.lines() {
            assert!(
                line.chars().count() <= 100,
                "{} chars: {line}\n{text}",
                line.chars().count()
            );
        }
        assert!(text.starts_with("SERVER  ADDRESS"), "{text}");
        let words: Vec<&str> = text.split_whitespace().collect();
        for word in format!("DOWN: {error}").split_whitespace() {
            assert!(words.contains(&word), "`{word}` lost:\n{text}");
        }
        // Piped, the row stays one line.
        let piped = table(&HEADER, &rows, None);
        assert!(piped.contains(&format!("DOWN: {error}")), "{piped}");
        assert_eq!(piped.lines().count(), 3, "{piped}");
    }
}
