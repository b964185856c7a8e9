//! What the commands that talk to the manager print: jobs, backups, pruning, the progress of a
//! job (`status` and `events`: `status.rs`).

use ferryman_manager::repositories::{Detailed, Located};
use ferryman_repo::timestamp::Timestamp;
use indicatif::HumanBytes;

use super::print_table;
use crate::client::{Job, PruneReport};

/// Any JSON value, pretty-printed (the `--json` of the commands that talk to the manager).
pub fn json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `reseed`/`flashback`: the job ids, and how to follow them unless `--wait` does.
pub fn reseed_started(ids: &[u64], what: &str, config: &std::path::Path, waiting: bool) {
    for id in ids {
        println!("job {id} started: {what}");
    }
    if !waiting {
        println!(
            "follow with `ferryman jobs show --config {} ID`",
            config.display()
        );
    }
}

/// `backup run`: the job id, and how to follow it unless `--wait` does.
pub fn backup_started(job_id: u64, cluster: &str, config: &std::path::Path, waiting: bool) {
    println!("job {job_id} started: backup of cluster {cluster}");
    if !waiting {
        println!(
            "follow it with `ferryman jobs show --config {} {job_id}`",
            config.display()
        );
    }
}

/// The end of `backup run --wait`: success on stdout, failure on stderr.
pub fn job_finished(job: &Job) {
    match job.state.as_str() {
        "succeeded" => {
            println!(
                "job {} succeeded: {} of {} ({}){}",
                job.id,
                job.task,
                job.server,
                HumanBytes(job.bytes),
                job.backup_id
                    .as_deref()
                    .map(|id| format!(", backup {id}"))
                    .unwrap_or_default()
            );
        }
        state => {
            eprintln!(
                "job {} {state}: {}",
                job.id,
                job.error
                    .as_deref()
                    .or(job.node_result.as_deref())
                    .unwrap_or("no reason given; see the manager's log")
            );
        }
    }
}

/// `jobs list`.
pub fn jobs(jobs: &[Job]) {
    if jobs.is_empty() {
        println!("no jobs");
        return;
    }
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                j.id.to_string(),
                j.cluster.clone(),
                j.server.clone(),
                j.task.clone(),
                j.state.clone(),
                j.phase.clone(),
                HumanBytes(j.bytes).to_string(),
                with_age(Timestamp::from_unix(
                    i64::try_from(j.created_at).unwrap_or(0),
                )),
                j.trigger.clone(),
            ]
        })
        .collect();
    print_table(
        &[
            "ID", "CLUSTER", "SERVER", "TASK", "STATE", "PHASE", "BYTES", "CREATED", "TRIGGER",
        ],
        &rows,
    );
}

/// `jobs show`.
pub fn job(job: &Job) {
    let none = || "-".to_owned();
    let fields = [
        ("id", job.id.to_string()),
        ("cluster", job.cluster.clone()),
        ("server", job.server.clone()),
        ("task", job.task.clone()),
        ("state", job.state.clone()),
        ("phase", job.phase.clone()),
        ("bytes", HumanBytes(job.bytes).to_string()),
        ("trigger", job.trigger.clone()),
        ("created", time(job.created_at)),
        ("ended", job.ended_at.map_or_else(none, time)),
        (
            "node job",
            job.node_job_id.map_or_else(none, |id| id.to_string()),
        ),
        ("backup", job.backup_id.clone().unwrap_or_else(none)),
        ("node result", job.node_result.clone().unwrap_or_else(none)),
        ("error", job.error.clone().unwrap_or_else(none)),
    ];
    for (name, value) in fields {
        println!("{:<12} {value}", format!("{name}:"));
    }
}

/// `jobs cancel`.
pub fn job_cancelling(job: &Job) {
    println!(
        "job {} ({} on {}): cancelling; it ends as cancelled once the agent has stopped its tool",
        job.id, job.task, job.server
    );
}

/// `backup list`.
pub fn backups(listed: &[Located]) {
    if listed.is_empty() {
        println!("no backups");
        return;
    }
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|l| {
            let m = &l.manifest;
            vec![
                m.id.to_string(),
                m.server.clone(),
                m.kind.as_str().to_owned(),
                m.tool.as_str().to_owned(),
                with_age(m.started_at),
                HumanBytes(m.raw_bytes).to_string(),
                HumanBytes(m.stored_bytes).to_string(),
                m.gtid.clone().unwrap_or_else(|| "-".to_owned()),
                super::verify::verified_cell(m),
                l.repositories.join(","),
            ]
        })
        .collect();
    print_table(
        &[
            "ID",
            "SERVER",
            "KIND",
            "TOOL",
            "STARTED",
            "RAW",
            "STORED",
            "GTID",
            "VERIFIED",
            "REPOSITORIES",
        ],
        &rows,
    );
}

/// `backup prune`: per cluster, every backup with its fate (kept ones with their reasons),
/// then failures on stderr.
pub fn prune(report: &PruneReport) {
    let deleted = if report.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    println!(
        "cluster {}: {} kept, {} {deleted}{}",
        report.cluster,
        report.keep.len(),
        report.delete.len(),
        if report.dry_run {
            " (dry run: nothing deleted)"
        } else {
            ""
        }
    );
    let action = if report.dry_run { "delete?" } else { "deleted" };
    let mut rows: Vec<Vec<String>> = report
        .keep
        .iter()
        .map(|k| vec!["keep".to_owned(), k.id.clone(), k.reasons.join(", ")])
        .collect();
    rows.extend(
        report
            .delete
            .iter()
            .map(|id| vec![action.to_owned(), id.clone(), String::new()]),
    );
    // Groups together, newest first within each: ids sort by cluster/server/time, and the
    // time part sorts as text.
    rows.sort_by(|a, b| b[1].cmp(&a[1]));
    if !rows.is_empty() {
        print_table(&["ACTION", "BACKUP", "KEPT BY"], &rows);
    }
    for f in &report.failed {
        eprintln!("cannot delete {}: {}", f.id, f.error);
    }
    if !report.segments_delete.is_empty() {
        println!(
            "binlog segments before every kept backup: {} {deleted}: {}",
            report.segments_delete.len(),
            report.segments_delete.join(", ")
        );
    }
    for (segment, error) in &report.segments_failed {
        eprintln!("cannot delete binlog segment {segment}: {error}");
    }
}

/// `backup show`.
pub fn backup(detailed: &Detailed) {
    let m = &detailed.manifest;
    let none = || "-".to_owned();
    let fields = [
        ("id", m.id.to_string()),
        ("cluster", m.cluster.clone()),
        ("server", format!("{} ({})", m.server, m.host)),
        ("kind", m.kind.as_str().to_owned()),
        (
            "tool",
            match &m.tool_version {
                Some(v) => format!("{} {v}", m.tool.as_str()),
                None => m.tool.as_str().to_owned(),
            },
        ),
        ("server ver.", m.server_version.clone().unwrap_or_else(none)),
        ("started", m.started_at.rfc3339()),
        ("ended", m.ended_at.rfc3339()),
        ("job", m.job_id.to_string()),
        (
            "raw",
            format!("{} ({} bytes)", HumanBytes(m.raw_bytes), m.raw_bytes),
        ),
        (
            "stored",
            format!(
                "{} ({} bytes, zstd level {})",
                HumanBytes(m.stored_bytes),
                m.stored_bytes,
                m.compression.level
            ),
        ),
        ("payload", m.payload.clone()),
        (
            "encryption",
            match &m.encryption {
                Some(e) => format!("{} for {}", e.cipher, e.recipients.join(", ")),
                None => "none".to_owned(),
            },
        ),
        ("raw sha256", m.raw_sha256.clone()),
        ("gtid", m.gtid.clone().unwrap_or_else(none)),
        (
            "binlog",
            match (&m.binlog_file, m.binlog_pos) {
                (Some(f), Some(p)) => format!("{f}:{p}"),
                (Some(f), None) => f.clone(),
                _ => none(),
            },
        ),
        (
            "verified",
            match super::verify::verified_cell(m).as_str() {
                "-" => "not yet".to_owned(),
                newest => format!("{newest} (newest of {} result(s))", m.verification.len()),
            },
        ),
    ];
    for (name, value) in fields {
        println!("{:<12} {value}", format!("{name}:"));
    }
    if let Some(g) = m.galera() {
        let domain = g
            .gtid_domain
            .map(|d| format!(" (GTID domain {d})"))
            .unwrap_or_default();
        println!("{:<12} {}:{}{domain}", "galera:", g.cluster_uuid, g.seqno);
    }
    for (i, copy) in detailed.copies.iter().enumerate() {
        let label = if i == 0 { "copies:" } else { "" };
        println!(
            "{label:<12} {} ({}): {}",
            copy.repository, copy.location, copy.check
        );
    }
    super::verify::verifications(m);
}

/// The spinners of `--wait`, one line per job, on stderr (hidden when stderr is not a
/// terminal).
pub struct JobsProgress {
    multi: indicatif::MultiProgress,
    bars: Vec<(u64, indicatif::ProgressBar)>,
}

impl JobsProgress {
    /// A spinner for each of `ids`.
    pub fn new(ids: &[u64]) -> JobsProgress {
        let multi = indicatif::MultiProgress::new();
        let bars = ids
            .iter()
            .map(|&id| {
                let bar = multi.add(indicatif::ProgressBar::new_spinner());
                if let Ok(style) =
                    indicatif::ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                {
                    bar.set_style(style);
                }
                bar.set_message(format!("job {id}: starting"));
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
                (id, bar)
            })
            .collect();
        JobsProgress { multi, bars }
    }

    /// Shows a job's state, phase and bytes; a bar once the stream's size is known.
    pub fn update(&self, job: &Job) {
        let Some((_, bar)) = self.bars.iter().find(|(id, _)| *id == job.id) else {
            return;
        };
        let mut detail = Vec::new();
        if job.phase != job.state {
            detail.push(job.state.clone());
        }
        match job.bytes_total {
            Some(total) if total > 0 => {
                if bar.length() != Some(total) {
                    bar.set_length(total);
                    if let Ok(style) = indicatif::ProgressStyle::with_template(
                        "{spinner} {elapsed:>4} [{bar:24}] {percent:>3}% {msg}",
                    ) {
                        bar.set_style(style.progress_chars("=> "));
                    }
                }
                bar.set_position(job.bytes.min(total));
                detail.push(format!(
                    "{} of {}",
                    HumanBytes(job.bytes),
                    HumanBytes(total)
                ));
            }
            _ if job.bytes > 0 => detail.push(HumanBytes(job.bytes).to_string()),
            _ => {}
        }
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", detail.join(", "))
        };
        bar.set_message(format!(
            "job {} {} on {}: {}{detail}",
            job.id, job.task, job.server, job.phase
        ));
        if job.is_final() {
            bar.finish_and_clear();
        }
    }

    /// Removes the spinners, so the final lines stand alone.
    pub fn clear(&self) {
        for (_, bar) in &self.bars {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
    }
}

/// Seconds since the epoch as UTC RFC 3339.
fn time(secs: u64) -> String {
    Timestamp::from_unix(i64::try_from(secs).unwrap_or(0)).rfc3339()
}

/// A table's time: UTC RFC 3339 and its age, `2026-12-04T10:00:00Z (3h 4m ago)`.
pub(super) fn with_age(t: Timestamp) -> String {
    let age = Timestamp::now().unix() - t.unix();
    format!(
        "{} ({} ago)",
        t.rfc3339(),
        ferryman_manager::fleet::ago(age)
    )
}
