//! `ferryman pitr status` for people.

use ferryman_manager::pitr::PitrStatus;

/// Each cluster: the archiver, the archive's extent, the windows, the gaps, the warnings.
pub fn pitr_status(all: &[PitrStatus]) {
    for (i, s) in all.iter().enumerate() {
        if i > 0 {
            println!();
        }
        let archiving = if s.archiving { "on" } else { "off" };
        println!("cluster {}: binlog archiving {archiving}", s.cluster);
        if let Some(a) = &s.archiver {
            let state = match (&a.error, a.following) {
                (Some(e), _) => format!("NOT FOLLOWING: {e}"),
                (None, true) => "following".to_owned(),
                (None, false) => "starting".to_owned(),
            };
            println!(
                "  archiver: {state}; source {}; durable position {} at {}",
                a.source.as_deref().unwrap_or("-"),
                if a.position.is_empty() {
                    "-"
                } else {
                    &a.position
                },
                a.durable_at
                    .map_or_else(|| "-".to_owned(), |t| t.to_string()),
            );
        }
        if let Some((server, pos)) = &s.primary {
            println!("  primary: {server} at {pos}");
        }
        if let Some(lag) = s.rpo_lag_seconds {
            println!("  recovery point lag now: {lag} s");
        }
        let r = &s.report;
        match (r.archived_from, r.archived_to) {
            (Some(from), Some(to)) => println!(
                "  archived: {} segment(s), {from} to {to}, up to {}",
                r.segments, r.archived_to_gtid
            ),
            _ => println!("  archived: nothing yet"),
        }
        if r.windows.is_empty() {
            println!("  recoverable windows: none (no backup with a GTID position)");
        } else {
            println!("  recoverable windows (newest backup first):");
            for w in &r.windows {
                let end = match &w.ends_at_gap {
                    Some(g) => format!(
                        "; ends at a gap: {} follows {}",
                        g.next,
                        g.after.as_deref().unwrap_or("nothing in its domain")
                    ),
                    None => match &w.other_history {
                        Some(other) => format!("; then another history (segment {other})"),
                        None => String::new(),
                    },
                };
                println!(
                    "    {} -> {}  {} -> {}  from backup {} ({} segment(s){end})",
                    w.from, w.to, w.backup_gtid, w.to_gtid, w.backup, w.segments
                );
            }
        }
        for g in &r.gaps {
            println!(
                "  GAP in domain {}: after {} the next archived is {} (segment {})",
                g.domain, g.after, g.next, g.segment
            );
        }
        match &s.proof {
            Some(p) => println!("  {}", proof_line(p)),
            None => println!("  proof of recoverability: none yet"),
        }
        if let Some(running) = &s.prover.running {
            println!("  proving now: {running}");
        } else if let Some(why) = &s.prover.not_provable {
            println!("  nothing to prove: {why}");
        }
        for w in &s.warnings {
            println!("  warning: {w}");
        }
    }
}

/// `proof of recoverability OK (2026-… to 2026-…, A -> B): detail`.
pub fn proof_line(p: &ferryman_repo::proofs::Proof) -> String {
    format!(
        "proof of recoverability {} at {} ({} to {}: backup {} -> backup {}, {:.0} s, {}): {}",
        p.status.as_str().to_uppercase(),
        p.started_at,
        p.from,
        p.to,
        p.base,
        p.checkpoint,
        p.seconds,
        p.trigger,
        p.detail
    )
}

/// What `ferryman restore` did, and how to use the copy.
pub fn restored(
    r: &ferryman_verify::restore::Restored,
    repository: &str,
    took: std::time::Duration,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        let value = serde_json::json!({
            "dir": r.kept.dir(),
            "datadir": r.kept.datadir(),
            "defaults_file": r.kept.defaults_file(),
            "socket": r.kept.socket(),
            "backup": r.backup,
            "from_gtid": r.from,
            "reached_gtid": r.reached,
            "segments": r.segments,
            "steps": r.steps.iter().map(|(s, t)| serde_json::json!({"step": s, "seconds": t})).collect::<Vec<_>>(),
            "notes": r.notes,
            "pid": r.pid,
            "seconds": took.as_secs_f64(),
        });
        return super::json(&value);
    }
    println!(
        "restored backup {} (GTID {}) from `{repository}`",
        r.backup, r.from
    );
    if r.segments.is_empty() {
        println!("no binlog replayed: the copy is the backup as it is");
    } else {
        println!(
            "replayed {} archived segment(s) up to GTID {}",
            r.segments.len(),
            r.reached
        );
    }
    for note in &r.notes {
        println!("note: {note}");
    }
    println!(
        "copy: {} (datadir {}), gtid_slave_pos {}, in {:.1} s",
        r.kept.dir().display(),
        r.kept.datadir().display(),
        r.reached,
        took.as_secs_f64()
    );
    match r.pid {
        Some(pid) => println!(
            "running (pid {pid}): mariadb --socket={} -u root; stop it with kill {pid}",
            r.kept.socket().display()
        ),
        None => println!(
            "start it with: mariadbd --defaults-file={}",
            r.kept.defaults_file().display()
        ),
    }
    Ok(())
}
