//! What `ferryman verify` prints: the run's progress, then its summary; and a backup's
//! verification results for `backup show`.

use ferryman_repo::Manifest;
use ferryman_verify::{Outcome, Verification};
use indicatif::HumanBytes;

use super::print_table;
use crate::client::{VerifyItem, VerifyRun};

/// `verify --no-wait`.
pub fn verify_started(run: &VerifyRun) {
    println!(
        "verification run {} started: {} item(s); follow it with GET /api/v1/verify/runs/{}",
        run.id,
        run.items.len(),
        run.id
    );
}

/// One spinner per item while the run goes on, on stderr (hidden when it is not a terminal).
pub struct VerifyProgress {
    multi: indicatif::MultiProgress,
    bars: Vec<indicatif::ProgressBar>,
}

impl VerifyProgress {
    /// A spinner for each item of `run`.
    pub fn new(run: &VerifyRun) -> VerifyProgress {
        let multi = indicatif::MultiProgress::new();
        let bars = run
            .items
            .iter()
            .map(|item| {
                let bar = multi.add(indicatif::ProgressBar::new_spinner());
                if let Ok(style) =
                    indicatif::ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                {
                    bar.set_style(style);
                }
                bar.set_message(item_line(item));
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
                bar
            })
            .collect();
        VerifyProgress { multi, bars }
    }

    /// Shows each item's phase.
    pub fn update(&self, run: &VerifyRun) {
        for (bar, item) in self.bars.iter().zip(&run.items) {
            bar.set_message(item_line(item));
            if item.done {
                bar.finish_and_clear();
            }
        }
    }

    /// Removes the spinners, so the summary stands alone.
    pub fn finish(&self) {
        for bar in &self.bars {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
    }
}

fn item_line(item: &VerifyItem) -> String {
    let what = item.backup.clone().unwrap_or_else(|| item.cluster.clone());
    format!("{what}: {}", item.phase)
}

/// The summary of a finished run: a line, a table (one row per backup), then under it the
/// reasons of every failure.
pub fn verify_summary(run: &VerifyRun) {
    let ok = run.items.iter().filter(|i| i.is_ok()).count();
    let failed = run.items.len() - ok;
    println!(
        "verification run {} ({}): {} backup(s), {ok} ok, {failed} failed{}",
        run.id,
        run.trigger,
        run.items.len(),
        if failed > 0 { "  <-- FAILED" } else { "" }
    );
    let dash = || "-".to_owned();
    let rows: Vec<Vec<String>> = run
        .items
        .iter()
        .map(|i| {
            vec![
                format!("{}/{}", i.cluster, i.server.as_deref().unwrap_or("?")),
                i.backup.clone().unwrap_or_else(dash),
                i.tool.clone().unwrap_or_else(dash),
                if i.is_ok() {
                    "ok".to_owned()
                } else {
                    "FAILED".to_owned()
                },
                i.raw_bytes
                    .map(|n| HumanBytes(n).to_string())
                    .unwrap_or_else(dash),
                i.stored_bytes
                    .map(|n| HumanBytes(n).to_string())
                    .unwrap_or_else(dash),
                i.size_change_percent
                    .map(|p| format!("{p:+.1}%"))
                    .unwrap_or_else(dash),
                i.restore_seconds
                    .map(|s| format!("{s:.1} s"))
                    .unwrap_or_else(dash),
                i.total_seconds
                    .map(|s| format!("{s:.1} s"))
                    .unwrap_or_else(dash),
            ]
        })
        .collect();
    print_table(
        &[
            "SOURCE", "BACKUP", "TOOL", "STATUS", "RAW", "STORED", "CHANGE", "RESTORE", "TOTAL",
        ],
        &rows,
    );
    for item in run.items.iter().filter(|i| !i.is_ok()) {
        let what = item.backup.clone().unwrap_or_else(|| item.cluster.clone());
        if let Some(e) = &item.error {
            println!("{what}: not verified: {e}");
        }
        for reason in &item.reasons {
            println!("{what}: {reason}");
        }
    }
}

/// `backup show`: the newest verification with every check, and one line per earlier one.
pub fn verifications(m: &Manifest) {
    let all = Verification::all_of(m);
    let Some((latest, earlier)) = all.split_last() else {
        return;
    };
    println!();
    println!(
        "verification {} (the newest of {}): {} at {}, {:.1} s{}",
        match latest.status {
            ferryman_verify::Status::Ok => "ok",
            ferryman_verify::Status::Failed => "FAILED",
        },
        all.len(),
        latest.trigger,
        latest.ended_at.rfc3339(),
        latest.total_seconds,
        latest
            .restore_seconds
            .map(|s| format!(", restore (RTO) {s:.1} s"))
            .unwrap_or_default()
    );
    let rows: Vec<Vec<String>> = latest
        .checks
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                match c.outcome {
                    Outcome::Passed => "passed",
                    Outcome::Failed => "FAILED",
                    Outcome::Skipped => "skipped",
                }
                .to_owned(),
                c.detail.clone(),
            ]
        })
        .collect();
    print_table(&["CHECK", "OUTCOME", "DETAIL"], &rows);
    for v in earlier.iter().rev() {
        println!("earlier: {} at {}", v.summary(), v.ended_at.rfc3339());
    }
}

/// The VERIFIED column of `backup list`.
pub fn verified_cell(m: &Manifest) -> String {
    match Verification::latest_of(m) {
        Some(v) if v.status == ferryman_verify::Status::Ok => "ok".to_owned(),
        Some(_) => "FAILED".to_owned(),
        None => "-".to_owned(),
    }
}
