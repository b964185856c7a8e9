//! A mysqldump / mariadb-dump script: complete only with its `-- Dump completed` footer (the
//! tool writes it last, after every table), and its comments give the coordinates:
//!
//! ```text
//! -- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)   (head)
//! -- Server version<TAB>10.11.19-MariaDB-0+deb12u1-log                                  (head)
//! -- CHANGE MASTER TO MASTER_LOG_FILE='binlog.000001', MASTER_LOG_POS=865;           (head)
//! -- SET GLOBAL gtid_slave_pos='0-1-3';                         (tail, with --gtid, 10.11)
//! -- Dump completed on 2026-11-21  3:00:20                                          (last)
//! ```
//!
//! Only the first 16 KiB and the last 8 KiB are kept, and only whole lines starting with these
//! comments are read, so table data quoting the same words cannot be mistaken for them. The
//! whole stream also goes through [`SqlCounts`] for the databases and rows per table.

use super::sql_counts::SqlCounts;
use super::{Findings, Inspector, Refusal, Tail};

/// Bytes kept from the start.
const HEAD: usize = 16 * 1024;
/// Bytes kept from the end.
const TAIL: usize = 8 * 1024;
/// The footer's start.
const FOOTER: &str = "-- Dump completed";

/// Inspects a SQL dump.
pub(crate) struct SqlInspector {
    head: Vec<u8>,
    tail: Tail,
    counts: SqlCounts,
}

impl SqlInspector {
    pub(crate) fn new() -> SqlInspector {
        SqlInspector {
            head: Vec::with_capacity(HEAD),
            tail: Tail::new(TAIL),
            counts: SqlCounts::new(),
        }
    }
}

impl Inspector for SqlInspector {
    fn feed(&mut self, data: &[u8]) -> Result<(), Refusal> {
        if self.head.len() < HEAD {
            let take = (HEAD - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..take]);
        }
        self.tail.push(data);
        self.counts.feed(data);
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Findings, Refusal> {
        let head = String::from_utf8_lossy(&self.head);
        let tail = String::from_utf8_lossy(self.tail.get());
        let last_line = tail.lines().rev().find(|l| !l.trim().is_empty());
        match last_line {
            Some(line) if line.starts_with(FOOTER) => {}
            Some(line) => {
                return Err(Refusal::Incomplete(format!(
                    "the dump does not end with `{FOOTER}` (the tool writes it last); its last line is `{}`",
                    clip(line)
                )))
            }
            None => {
                return Err(Refusal::Incomplete(format!(
                    "the dump is empty, without `{FOOTER}`"
                )))
            }
        }
        let counts = self.counts.finish();
        let mut findings = Findings {
            databases: counts.databases,
            table_rows: counts.table_rows,
            ..Findings::default()
        };
        // The tail first: it holds the GTID of mariadb-dump 10.11 and is the newest word.
        for text in [&tail, &head] {
            for line in text.lines() {
                scan_line(line, &mut findings);
            }
        }
        Ok(findings)
    }
}

/// Reads one line's coordinates or versions into `findings` (first value found wins).
fn scan_line(line: &str, findings: &mut Findings) {
    let c = &mut findings.coordinates;
    if let Some(rest) = line.strip_prefix("-- CHANGE MASTER TO MASTER_LOG_FILE='") {
        if c.binlog_file.is_none() {
            if let Some((file, after)) = rest.split_once('\'') {
                let pos = after
                    .trim_start_matches([',', ' '])
                    .strip_prefix("MASTER_LOG_POS=")
                    .map(|p| p.trim_end_matches(';'))
                    .and_then(|p| p.parse::<u64>().ok());
                if let Some(pos) = pos {
                    c.binlog_file = Some(file.to_owned());
                    c.binlog_pos = Some(pos);
                }
            }
        }
    } else if let Some(rest) = line.strip_prefix("-- SET GLOBAL gtid_slave_pos='") {
        if c.gtid.is_none() {
            if let Some((gtid, _)) = rest.split_once('\'') {
                if !gtid.is_empty() {
                    c.gtid = Some(gtid.to_owned());
                }
            }
        }
    } else if let Some(rest) = line
        .strip_prefix("-- MariaDB dump ")
        .or_else(|| line.strip_prefix("-- MySQL dump "))
    {
        if findings.tool_version.is_none() {
            let tool = if line.starts_with("-- MariaDB") {
                "MariaDB dump"
            } else {
                "MySQL dump"
            };
            findings.tool_version = Some(format!("{tool} {}", rest.trim()));
        }
    } else if let Some(rest) = line.strip_prefix("-- Server version") {
        if findings.server_version.is_none() && !rest.trim().is_empty() {
            findings.server_version = Some(rest.trim().to_owned());
        }
    }
}

/// A line, shortened for a message.
fn clip(line: &str) -> String {
    const MAX: usize = 80;
    match line.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspect(dump: &str, chunk: usize) -> Result<Findings, Refusal> {
        let mut inspector = Box::new(SqlInspector::new());
        for piece in dump.as_bytes().chunks(chunk) {
            inspector.feed(piece)?;
        }
        inspector.finish()
    }

    const HEADER: &str = "/*M!999999\\- enable the sandbox mode */ \n\
        -- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)\n\
        --\n-- Server version\t10.11.19-MariaDB-0+deb12u1-log\n\n\
        -- CHANGE MASTER TO MASTER_USE_GTID=slave_pos;\n\
        -- CHANGE MASTER TO MASTER_LOG_FILE='binlog.000001', MASTER_LOG_POS=865;\n";

    #[test]
    fn a_mariadb_dump_gives_its_coordinates_and_versions() {
        let body =
            "INSERT INTO t VALUES ('-- SET GLOBAL gtid_slave_pos=''9-9-9''');\n".repeat(2000);
        let dump = format!(
            "{HEADER}{body}\n-- SET GLOBAL gtid_slave_pos='0-1-3';\n/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n\n-- Dump completed on 2026-11-21  3:00:20\n"
        );
        for chunk in [1, 1000, 1 << 20] {
            let f = inspect(&dump, chunk).unwrap();
            assert_eq!(f.coordinates.gtid.as_deref(), Some("0-1-3"));
            assert_eq!(f.coordinates.binlog_file.as_deref(), Some("binlog.000001"));
            assert_eq!(f.coordinates.binlog_pos, Some(865));
            assert_eq!(
                f.tool_version.as_deref(),
                Some("MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)")
            );
            assert_eq!(
                f.server_version.as_deref(),
                Some("10.11.19-MariaDB-0+deb12u1-log")
            );
            // Rows are counted over the whole stream, not only the head and tail kept.
            assert_eq!(f.table_rows.get("t"), Some(&2000));
            assert!(f.databases.is_empty());
        }
    }

    #[test]
    fn a_dump_without_its_footer_is_incomplete() {
        let cut = format!("{HEADER}INSERT INTO t VALUES (1);\n");
        let Err(Refusal::Incomplete(detail)) = inspect(&cut, 100) else {
            panic!("accepted");
        };
        assert!(detail.contains("INSERT INTO t VALUES (1);"), "{detail}");
        assert!(matches!(inspect("", 1), Err(Refusal::Incomplete(_))));
        // Without --master-data or --gtid: complete, no coordinates.
        let plain = "-- MySQL dump 10.13\nCREATE TABLE t (a int);\n-- Dump completed\n";
        let f = inspect(plain, 5).unwrap();
        assert!(f.coordinates.is_empty());
        assert_eq!(f.tool_version.as_deref(), Some("MySQL dump 10.13"));
    }
}
