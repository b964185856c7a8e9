//! `ferryman galera-link`: a round's outcome and the status tables.

use ferryman_galera::status::ClusterStatus;
use ferryman_galera::Round;

use super::print_table;

/// `galera-link --once`.
pub fn galera_link_round(round: &Round, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(round)?);
        return Ok(());
    }
    println!(
        "{} ({}): {:?}: {}",
        round.node, round.cluster, round.role, round.detail
    );
    for e in &round.events {
        println!("event {}: {}", e.kind.as_str(), e.detail);
    }
    Ok(())
}

/// `galera-link status`.
pub fn galera_link_status(clusters: &[ClusterStatus], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(clusters)?);
        return Ok(());
    }
    for c in clusters {
        println!(
            "cluster {} (wsrep cluster {}, tables read on {})",
            c.cluster, c.wsrep_cluster, c.read_from
        );
        let replica = match (&c.lease.owner, c.lease.live) {
            _ if c.masters.is_empty() => "replicates from no one (no masters configured)".into(),
            (Some(owner), true) => format!(
                "replica {owner} (term {}, for {} s) from {}",
                c.lease.term,
                c.lease.held_s.unwrap_or(0),
                c.lease.master.as_deref().unwrap_or("(connecting)")
            ),
            (Some(owner), false) => format!(
                "NO REPLICA: {owner}'s lease (term {}) expired",
                c.lease.term
            ),
            (None, _) => format!("NO REPLICA (term {})", c.lease.term),
        };
        println!("  link: {replica}");
        if !c.masters.is_empty() {
            println!("  masters: {}", c.masters.join(", "));
        }
        let rows: Vec<Vec<String>> = c
            .nodes
            .iter()
            .map(|n| {
                let name = n.node.clone().unwrap_or_else(|| n.server.clone());
                let row = c.rows.iter().find(|r| r.host == name);
                vec![
                    n.server.clone(),
                    n.address.clone(),
                    row.and_then(|r| r.local_index)
                        .map_or("-".into(), |i| i.to_string()),
                    row.map_or("-".into(), |r| r.state.as_str().to_owned()),
                    row.map_or("-".into(), |r| format!("{} s", r.heartbeat_age_s)),
                    match (&n.galera, n.cluster_size) {
                        (Some(g), Some(size)) => format!("{g} ({size} nodes)"),
                        _ => "-".into(),
                    },
                    match (&n.error, &n.replication) {
                        (Some(e), _) => format!("unreachable: {e}"),
                        (None, Some(r)) => r.clone(),
                        (None, None) => "-".into(),
                    },
                ]
            })
            .collect();
        print_table(
            &[
                "SERVER",
                "ADDRESS",
                "INDEX",
                "ISSLAVE",
                "HEARTBEAT",
                "GALERA",
                "REPLICATES FROM",
            ],
            &rows,
        );
        if !c.events.is_empty() {
            println!("  events:");
            for e in &c.events {
                println!(
                    "    {} {} {} (term {}): {}",
                    e.at, e.host, e.kind, e.term, e.detail
                );
            }
        }
        println!();
    }
    Ok(())
}
