//! mydumper's `metadata` file, read by the agent (the coordinates of its dump, whether it
//! finished) and by the manager (the same facts, checked again in the archive it stores).
//!
//! mydumper writes it last: 0.10 (Debian 12) appends `Finished dump at` once every thread is
//! done; 0.12 and later write an ini-like file, renamed from `metadata.partial` at the end, so
//! that a `metadata` file is only ever a finished one.

use std::collections::BTreeMap;

/// The file's name in mydumper's output directory.
pub const METADATA: &str = "metadata";
/// What mydumper 0.12+ writes while the dump runs, renamed to [`METADATA`] at its end.
pub const METADATA_PARTIAL: &str = "metadata.partial";

/// What a `metadata` file says.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// The dumped server's own GTID position (not its source's, on a replica).
    pub gtid: Option<String>,
    /// Its binary log file.
    pub binlog_file: Option<String>,
    /// The position in it.
    pub binlog_pos: Option<u64>,
    /// The file says the dump finished.
    pub finished: bool,
    /// Rows per table, `db.table` → rows, as mydumper 0.12+ records them (`rows = N` in a
    /// `` [`db`.`table`] `` section); empty for 0.10, which records none.
    pub table_rows: BTreeMap<String, u64>,
}

impl Metadata {
    /// Reads both layouts. 0.10 (Debian 12):
    /// ```text
    /// Started dump at: 2026-11-21 02:45:31
    /// SHOW MASTER STATUS:
    /// <TAB>Log: binlog.000001
    /// <TAB>Pos: 35002285
    /// <TAB>GTID:0-1-50
    ///
    /// Finished dump at: 2026-11-21 02:45:31
    /// ```
    /// and 0.12+ (ini-like): a `[master]` (later `[source]`) section with `File = …`,
    /// `Position = …`, `Executed_Gtid_Set = …`, and a section per table. `SHOW SLAVE STATUS:` /
    /// replication sections (the source's position, on a replica) are skipped.
    pub fn parse(text: &str) -> Metadata {
        let mut m = Metadata::default();
        let mut section = Section::Other;
        for line in text.lines() {
            let trimmed = line.trim();
            if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
                section = match name {
                    "master" | "source" => Section::Master,
                    _ => table_key(name).map_or(Section::Other, Section::Table),
                };
                continue;
            }
            if !line.starts_with(char::is_whitespace) && trimmed.ends_with(':') {
                section = if trimmed == "SHOW MASTER STATUS:" {
                    Section::Master
                } else {
                    Section::Other
                };
                continue;
            }
            if trimmed.starts_with('#') {
                continue;
            }
            let Some(split) = trimmed.find([':', '=']) else {
                continue;
            };
            let key = trimmed[..split].trim();
            let value = trimmed[split + 1..]
                .trim()
                .trim_matches('"')
                .trim_matches('\'');
            if value.is_empty() {
                continue;
            }
            match (&section, key) {
                (Section::Master, "Log" | "File") => m.binlog_file = Some(value.to_owned()),
                (Section::Master, "Pos" | "Position") => m.binlog_pos = leading_number(value),
                (Section::Master, "GTID" | "Executed_Gtid_Set") => m.gtid = Some(value.to_owned()),
                (Section::Table(table), "rows") => {
                    if let Some(rows) = leading_number(value) {
                        m.table_rows.insert(table.clone(), rows);
                    }
                }
                _ => {}
            }
        }
        // Only the 0.10 layout says when it finished; later ones appear complete or not at all.
        m.finished = !text.contains("Started dump at") || text.contains("Finished dump at");
        m
    }
}

/// Where a line of the file is.
enum Section {
    Master,
    Table(String),
    Other,
}

/// `` `db`.`table` `` → `db.table` (backticks doubled inside names undone).
fn table_key(name: &str) -> Option<String> {
    let rest = name.strip_prefix('`')?;
    let (db, rest) = rest.split_once("`.`")?;
    let table = rest.strip_suffix('`')?;
    Some(format!(
        "{}.{}",
        db.replace("``", "`"),
        table.replace("``", "`")
    ))
}

fn leading_number(text: &str) -> Option<u64> {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_of_mydumper_0_10_is_parsed() {
        // Real file from mydumper 0.10.0 (Debian 12) against MariaDB 10.11.
        let text = "Started dump at: 2026-11-21 02:45:31\n\
                    SHOW MASTER STATUS:\n\tLog: binlog.000001\n\tPos: 35002285\n\tGTID:0-1-50\n\n\
                    Finished dump at: 2026-11-21 02:45:31\n";
        let m = Metadata::parse(text);
        assert!(m.finished);
        assert_eq!(m.gtid.as_deref(), Some("0-1-50"));
        assert_eq!(m.binlog_file.as_deref(), Some("binlog.000001"));
        assert_eq!(m.binlog_pos, Some(35002285));
        assert!(m.table_rows.is_empty());
        // On a replica the source's position follows; the server's own one is kept.
        let replica = "Started dump at: 2026-11-21 02:45:31\n\
                       SHOW MASTER STATUS:\n\tLog: binlog.000007\n\tPos: 42\n\tGTID:0-1-9,1-2-3\n\n\
                       SHOW SLAVE STATUS:\n\tHost: 10.0.0.1\n\tLog: binlog.000100\n\tPos: 999\n\tGTID:0-1-9\n\n";
        let m = Metadata::parse(replica);
        assert!(!m.finished, "no `Finished dump at`: cut short");
        assert_eq!(m.gtid.as_deref(), Some("0-1-9,1-2-3"));
        assert_eq!(m.binlog_file.as_deref(), Some("binlog.000007"));
        assert_eq!(m.binlog_pos, Some(42));
    }

    #[test]
    fn metadata_of_newer_mydumper_is_parsed_with_its_row_counts() {
        let text = "[config]\nquote_character = BACKTICK\n\n\
                    [master]\n# Channel_Name = '' # It can be use to setup replication FOR CHANNEL\n\
                    File = binlog.000002\nPosition = 1234\nExecuted_Gtid_Set = 0-1-42\n\n\
                    [replication]\nFile = other.000001\nPosition = 1\n\n\
                    [`app`.`t`]\nreal_table_name=t\nrows = 2\n\n\
                    [`a``b`.`u`]\nrows = 0\n";
        let m = Metadata::parse(text);
        assert!(m.finished);
        assert_eq!(m.gtid.as_deref(), Some("0-1-42"));
        assert_eq!(m.binlog_file.as_deref(), Some("binlog.000002"));
        assert_eq!(m.binlog_pos, Some(1234));
        assert_eq!(m.table_rows.get("app.t"), Some(&2));
        assert_eq!(m.table_rows.get("a`b.u"), Some(&0));
        let source = Metadata::parse("[source]\nFile = b.000003\nPosition = 7\n");
        assert_eq!(source.binlog_file.as_deref(), Some("b.000003"));
        assert_eq!(source.binlog_pos, Some(7));
    }
}
