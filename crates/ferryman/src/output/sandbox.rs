//! `sandbox up` and `sandbox status` on a Galera sandbox: one line per node.

use ferryman_sandbox::{GaleraSandbox, NodeReport};

use super::print_table;

const GALERA_HEADER: [&str; 9] = [
    "NODE",
    "CLUSTER",
    "PORT",
    "PID",
    "CLUSTER STATUS",
    "STATE",
    "SIZE",
    "INDEX",
    "REPLICATION",
];

/// `sandbox up` and `sandbox status` on a Galera sandbox.
pub fn galera_sandbox_status(
    sandbox: &GaleraSandbox,
    reports: &[NodeReport],
    json: bool,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(reports)?);
        return Ok(());
    }
    println!("sandbox {} (Galera)", sandbox.dir().display());
    println!("config  {}", sandbox.config_path().display());
    let rows: Vec<Vec<String>> = reports.iter().map(galera_row).collect();
    print_table(&GALERA_HEADER, &rows);
    Ok(())
}

fn galera_row(r: &NodeReport) -> Vec<String> {
    let mut row = vec![
        r.name.clone(),
        r.cluster.clone(),
        r.port.to_string(),
        r.pid.map_or("-".into(), |p| p.to_string()),
    ];
    match &r.galera {
        Some(g) => {
            row.push(g.cluster_status.clone());
            row.push(g.state.clone());
            row.push(g.cluster_size.to_string());
            row.push(g.local_index.map_or("-".into(), |i| i.to_string()));
            row.push(match &r.replication {
                Some(s) => format!(
                    "from {}:{} io {} sql {}{}",
                    s.master_host,
                    s.master_port,
                    s.io_running,
                    s.sql_running,
                    s.seconds_behind_master
                        .map_or(String::new(), |l| format!(" lag {l}s"))
                ),
                None => "-".into(),
            });
        }
        None => row.push(format!(
            "DOWN: {}",
            r.error.as_deref().unwrap_or("no answer")
        )),
    }
    row
}
