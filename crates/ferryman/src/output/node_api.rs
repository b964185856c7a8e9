//! What `ferryman node ...` prints: a server's agent's answers.

use ferryman_proto::node_api::{
    Detection, DiskUsage, MysqldStatus, Settings, SnapshotList, SnapshotMeta,
};

use super::print_table;

/// `node status`.
pub fn node_status(s: &MysqldStatus) {
    if s.answering {
        let uptime = s
            .uptime_s
            .map(|u| humantime::format_duration(std::time::Duration::from_secs(u)).to_string())
            .unwrap_or_else(|| "?".to_owned());
        println!(
            "{}: up, {}, uptime {uptime}{}",
            s.server,
            s.version.as_deref().unwrap_or("version unknown"),
            if s.read_only == Some(true) {
                ", read-only"
            } else {
                ""
            }
        );
    } else {
        println!("{}: DOWN", s.server);
    }
    if let Some(pid) = s.pid {
        let alive = match s.process_alive {
            Some(true) => "running",
            Some(false) => "gone",
            None => "?",
        };
        println!("  process {pid} ({alive})");
    }
    if let Some(e) = &s.error {
        println!("  {e}");
    }
    if let Some(job) = &s.busy_with {
        println!("  busy with {job}");
    }
}

fn settings_rows(label: &str, s: &Settings) -> Vec<Vec<String>> {
    let v = |x: &Option<String>| x.clone().unwrap_or_default();
    vec![vec![
        label.to_owned(),
        s.port.map(|p| p.to_string()).unwrap_or_default(),
        v(&s.datadir),
        v(&s.socket),
        v(&s.log_error),
        v(&s.version),
    ]]
}

/// `node detect`.
pub fn node_detection(d: &Detection) {
    let mut rows = Vec::new();
    if let Some(r) = &d.running {
        rows.extend(settings_rows("running server", r));
    }
    if let Some(f) = &d.configured_in_files {
        rows.extend(settings_rows("option files", f));
    }
    print_table(
        &["from", "port", "datadir", "socket", "error log", "version"],
        &rows,
    );
    if let Some(r) = &d.running {
        if let Some(bin) = &r.log_bin {
            println!("binary log: {bin}");
        }
        if let Some(slow) = &r.slow_query_log_file {
            println!("slow-query log: {slow}");
        }
    }
    println!(
        "option files: {} (from {})",
        if d.option_files.is_empty() {
            "none".to_owned()
        } else {
            d.option_files.join(", ")
        },
        d.option_files_from
    );
    for note in &d.notes {
        println!("note: {note}");
    }
    if d.mismatches.is_empty() {
        println!("{}: the configuration matches the server", d.server);
        return;
    }
    for m in &d.mismatches {
        println!(
            "MISMATCH {}: {} but {}; {}",
            m.setting, m.expected, m.found, m.next_step
        );
    }
}

/// `node disk`.
pub fn node_disk(d: &DiskUsage) {
    let gib = |b: u64| format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64);
    let rows: Vec<Vec<String>> = d
        .file_systems
        .iter()
        .map(|f| {
            vec![
                f.role.clone(),
                f.path.clone(),
                gib(f.total_bytes),
                gib(f.used_bytes),
                gib(f.available_bytes),
                format!("{:.0}%", f.used_percent),
            ]
        })
        .collect();
    print_table(&["what", "path", "size", "used", "available", "use"], &rows);
    if let Some(bytes) = d.datadir_bytes {
        println!("datadir holds {}", gib(bytes));
    }
    for note in &d.notes {
        println!("note: {note}");
    }
}

/// `node replicas`.
pub fn node_replicas(value: &serde_json::Value) {
    let replicas = value["replicas"].as_array().cloned().unwrap_or_default();
    if replicas.is_empty() {
        println!(
            "{}: no replica registered nor reading its binlog",
            value["server"].as_str().unwrap_or("?")
        );
    }
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let rows: Vec<Vec<String>> = replicas
        .iter()
        .map(|r| {
            let seen: Vec<String> = r["seen_in"]
                .as_array()
                .map(|a| a.iter().map(text).collect())
                .unwrap_or_default();
            vec![
                text(&r["host"]),
                text(&r["port"]),
                text(&r["server_id"]),
                seen.join(", "),
                match &r["configured_as"] {
                    serde_json::Value::Null => "NOT CONFIGURED".to_owned(),
                    v => text(v),
                },
            ]
        })
        .collect();
    if !rows.is_empty() {
        print_table(
            &["host", "port", "server id", "seen in", "configured as"],
            &rows,
        );
    }
    for line in value["not_configured"].as_array().into_iter().flatten() {
        println!("{}", text(line));
    }
}

/// `node snapshots list`.
pub fn node_snapshots(list: &SnapshotList) {
    if list.snapshots.is_empty() {
        println!("{}: no snapshot ({})", list.server, list.method);
        return;
    }
    let rows: Vec<Vec<String>> = list
        .snapshots
        .iter()
        .map(|s| {
            let (created, gtid, locked) = match &s.meta {
                Some(m) => (
                    m.created.clone(),
                    if m.gtid_binlog_pos.is_empty() {
                        m.gtid_current_pos.clone()
                    } else {
                        m.gtid_binlog_pos.clone()
                    },
                    format!("{} ms", m.locked_ms),
                ),
                None => (
                    String::new(),
                    "unknown (not Ferryman's)".to_owned(),
                    String::new(),
                ),
            };
            vec![
                s.name.clone(),
                created,
                gtid,
                locked,
                s.mounted_at.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print_table(
        &[
            "snapshot",
            "taken",
            "GTID",
            "commits blocked",
            "readable at",
        ],
        &rows,
    );
}

/// `node snapshots take`.
pub fn node_snapshot_taken(m: &SnapshotMeta) {
    println!(
        "{}: snapshot {} at GTID {} (binlog {}), commits blocked {} ms by {}",
        m.server,
        m.name,
        m.gtid_binlog_pos,
        match (&m.binlog_file, m.binlog_position) {
            (Some(f), Some(p)) => format!("{f}:{p}"),
            _ => "off".to_owned(),
        },
        m.locked_ms,
        m.lock
    );
}
