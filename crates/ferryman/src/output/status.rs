//! What `ferryman status` and `ferryman events` print: the fleet on one screen, and what the
//! manager told.

use ferryman_manager::fleet::ago;
use ferryman_repo::timestamp::Timestamp;
use indicatif::HumanBytes;

use super::print_table;
use crate::client::Event;

/// `status`: each cluster in a block.
pub fn fleet(fleet: &ferryman_manager::fleet::Fleet) {
    let now = Timestamp::now().unix();
    if let Some(p) = &fleet.history_problem {
        println!("warning: {p}\n");
    }
    for c in &fleet.clusters {
        println!("cluster {}", c.name);
        let rows: Vec<Vec<String>> = c
            .servers
            .iter()
            .map(|s| {
                vec![
                    s.name.clone(),
                    s.address.clone(),
                    s.role.clone(),
                    s.gtid.clone().unwrap_or_else(|| "-".to_owned()),
                    s.lag_seconds
                        .map_or_else(|| "-".to_owned(), |l| format!("{l} s")),
                    ferryman_manager::fleet::agent_text(s),
                    s.error.clone().unwrap_or_default(),
                ]
            })
            .collect();
        print_table(
            &["SERVER", "ADDRESS", "ROLE", "GTID", "LAG", "AGENT", "ERROR"],
            &rows,
        );
        for b in &c.newest {
            match (&b.id, b.ended_at) {
                (Some(id), Some(at)) => {
                    let failed = if b.failed_checks.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", b.failed_checks.join("; "))
                    };
                    println!(
                        "  newest {:<8} {id} from {}, {} ({} ago), {}, verification {}{failed}",
                        b.kind,
                        b.server.as_deref().unwrap_or("?"),
                        at.rfc3339(),
                        ago(now - at.unix()),
                        HumanBytes(b.stored_bytes.unwrap_or(0)),
                        b.verification
                    )
                }
                _ => println!("  newest {:<8} none yet", b.kind),
            }
        }
        if c.archiving {
            match c.recoverable_to {
                Some(t) => println!(
                    "  recoverable up to {} ({} ago){}",
                    t.rfc3339(),
                    ago(now - t.unix()),
                    c.rpo_lag_seconds
                        .map(|l| format!(", archive {l} s behind the primary"))
                        .unwrap_or_default()
                ),
                None => println!("  recoverable: no window yet"),
            }
        }
        for j in &c.running_jobs {
            println!(
                "  running job {}: {} on {}: {} ({})",
                j.id,
                j.task.as_str(),
                j.server,
                j.phase,
                HumanBytes(j.bytes)
            );
        }
        println!();
    }
}

/// `events`: one line each, oldest first.
pub fn events(events: &[Event]) {
    if events.is_empty() {
        println!("no events");
        return;
    }
    let now = Timestamp::now().unix();
    for e in events {
        let age = Timestamp::parse_rfc3339(&e.at)
            .map(|t| format!(" ({} ago)", ago(now - t.unix())))
            .unwrap_or_default();
        let mut about: Vec<&str> = Vec::new();
        if !e.cluster.is_empty() {
            about.push(&e.cluster);
        }
        if let Some(s) = &e.server {
            about.push(s);
        }
        if let Some(b) = &e.backup {
            about.push(b);
        }
        println!(
            "#{} {}{age} {} {} {}: {}",
            e.id,
            e.at,
            e.severity.to_uppercase(),
            e.kind,
            about.join(" "),
            e.message
        );
    }
}
