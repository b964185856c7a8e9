//! What `ferryman task`, `ferryman logs`, `ferryman backup delete` and `config check` about a
//! server print.

use ferryman_repo::timestamp::Timestamp;

use super::manager::with_age;
use super::print_table;

/// `backup delete`.
pub fn backup_deleted(deleted: &serde_json::Value) {
    let id = deleted["id"].as_str().unwrap_or("?");
    let repos: Vec<&str> = deleted["repositories"]
        .as_array()
        .map(|a| a.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default();
    println!("deleted {id} from {}", repos.join(", "));
}

/// `logs list`: one line per collected log.
pub fn logs(logs: &[serde_json::Value]) {
    if logs.is_empty() {
        println!("no logs collected");
        return;
    }
    let rows: Vec<Vec<String>> = logs
        .iter()
        .map(|l| {
            let at = l["received_at"]
                .as_str()
                .and_then(Timestamp::parse_rfc3339)
                .map_or_else(|| "-".to_owned(), with_age);
            vec![
                l["server"].as_str().unwrap_or("-").to_owned(),
                l["kind"].as_str().unwrap_or("-").to_owned(),
                at,
                l["job_id"].to_string(),
                l["name"].as_str().unwrap_or("-").to_owned(),
            ]
        })
        .collect();
    print_table(&["SERVER", "KIND", "RECEIVED", "JOB", "NAME"], &rows);
}

/// `logs get` without `-o`: the log's text goes to stdout as it streams in, byte for byte.
pub fn log_text() -> std::io::StdoutLock<'static> {
    std::io::stdout().lock()
}

/// `logs tail`: the log's name, then its last lines as they are.
pub fn log_tail<'a>(name: &str, lines: impl Iterator<Item = &'a [u8]>) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "==> {name} <==")?;
    for line in lines {
        out.write_all(line)?;
        if !line.ends_with(b"\n") {
            out.write_all(b"\n")?;
        }
    }
    out.flush()
}

/// `task` queued.
pub fn task_started(job_id: u64, task: &str, server: &str) {
    println!("job {job_id} started: {task} on {server}");
}

/// `config check`: how a server's jobs run over SSH.
pub fn onpremise_ssh(server: &str, description: &str) {
    println!("  server {server}: {description}");
}

/// `ssh-askpass`: the password, for ssh (which reads it from the program's stdout).
pub fn askpass_answer(password: &str) {
    println!("{password}");
}
