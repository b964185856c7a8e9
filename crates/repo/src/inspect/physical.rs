//! An xbstream from mariabackup / xtrabackup: every chunk parsed and CRC-checked on the fly
//! ([`crate::xbstream`]), the tool's small metadata files captured into the manifest.
//!
//! The stream is whole only if it holds `xtrabackup_checkpoints` and `xtrabackup_info` (or
//! their `mariadb_backup_*` names of MariaDB 11): the tools write them at the very end, after
//! the redo log, so a stream cut between two files (which parses cleanly) is still caught.
//! `xtrabackup_binlog_info` (`binlog.000001<TAB>865<TAB>0-1-3`, the GTID column possibly
//! missing or empty) gives the coordinates, `xtrabackup_info` the versions.
//!
//! A Galera node's backup carries its last binary log (mariabackup streams it for Galera's
//! sake), but its GTID column is empty on every node but the one whose server id the cluster's
//! GTIDs bear (mariabackup reads `@@gtid_current_pos`, which keeps only the node's own GTIDs).
//! The GTID position is then read from that binary log itself: its GTID list (the position
//! before the file) and the GTIDs of the groups before the recorded position.

use std::collections::BTreeMap;

use super::{Findings, Inspector, Refusal};
use crate::xbstream::XbstreamParser;

/// Files captured into the manifest, by base name.
const CAPTURE: &[&str] = &[
    "xtrabackup_binlog_info",
    "mariadb_backup_binlog_info",
    "xtrabackup_info",
    "mariadb_backup_info",
    "backup-my.cnf",
    "xtrabackup_checkpoints",
    "mariadb_backup_checkpoints",
    "xtrabackup_slave_info",
    "mariadb_backup_slave_info",
    "xtrabackup_galera_info",
    "mariadb_backup_galera_info",
];
/// Largest captured file; these are a few hundred bytes.
const MAX_CAPTURE: usize = 64 * 1024;

/// Inspects an xbstream.
pub(crate) struct PhysicalInspector {
    parser: XbstreamParser,
}

impl PhysicalInspector {
    pub(crate) fn new() -> PhysicalInspector {
        PhysicalInspector {
            parser: XbstreamParser::new(CAPTURE, MAX_CAPTURE).also_capturing(is_binlog),
        }
    }
}

impl Inspector for PhysicalInspector {
    fn feed(&mut self, data: &[u8]) -> Result<(), Refusal> {
        self.parser.feed(data).map_err(|e| Refusal::Corrupt {
            offset: e.offset,
            detail: e.detail,
        })
    }

    fn finish(self: Box<Self>) -> Result<Findings, Refusal> {
        let summary = self.parser.finish().map_err(|e| {
            Refusal::Incomplete(format!(
                "the xbstream ends badly at byte {}: {}",
                e.offset, e.detail
            ))
        })?;
        let (binlogs, captured): (BTreeMap<String, Vec<u8>>, _) = summary
            .captured
            .into_iter()
            // The tools write their metadata at the top level; a deeper file of the same name
            // (which no tool writes) must not stand in for it.
            .filter(|(name, _)| !name.contains('/'))
            .partition(|(name, _)| is_binlog(name));
        let captured: BTreeMap<String, String> = captured
            .into_iter()
            .map(|(name, bytes)| (name, String::from_utf8_lossy(&bytes).into_owned()))
            .collect();
        let either = |a: &str, b: &str| captured.get(a).or_else(|| captured.get(b));
        for (file, alias) in [
            ("xtrabackup_checkpoints", "mariadb_backup_checkpoints"),
            ("xtrabackup_info", "mariadb_backup_info"),
        ] {
            if either(file, alias).is_none() {
                return Err(Refusal::Incomplete(format!(
                    "no `{file}` in {} files: the tool writes it last, so it stopped before the end",
                    summary.files
                )));
            }
        }
        let mut findings = Findings::default();
        if let Some(text) = either("xtrabackup_binlog_info", "mariadb_backup_binlog_info") {
            parse_binlog_info(text, &mut findings);
        }
        if let Some(text) = either("xtrabackup_info", "mariadb_backup_info") {
            parse_info(text, &mut findings);
        }
        let c = &mut findings.coordinates;
        if c.gtid.is_none() {
            if let (Some(file), Some(pos)) = (&c.binlog_file, c.binlog_pos) {
                c.gtid = binlogs
                    .get(file)
                    .and_then(|bytes| gtid_at(bytes, pos))
                    .filter(|g| !g.is_empty());
            }
        }
        findings.captured = captured;
        Ok(findings)
    }
}

/// A binary log at the top of the stream: `NAME.NNNNNN` (six digits or more).
fn is_binlog(path: &str) -> bool {
    !path.contains('/')
        && path.rsplit_once('.').is_some_and(|(stem, n)| {
            !stem.is_empty() && n.len() >= 6 && n.bytes().all(|b| b.is_ascii_digit())
        })
}

/// The GTID position at `pos` of the binary log whose first bytes are `bytes`: its GTID list,
/// updated by the GTID of every group that starts before `pos` (the recorded position is a
/// group boundary). `None` when the bytes end before `pos` or do not read as a binary log.
fn gtid_at(bytes: &[u8], pos: u64) -> Option<String> {
    use ferryman_binlog::{GtidPos, Kind, Reader};
    let mut reader = Reader::new(bytes, "the backup's binary log").ok()?;
    let mut gtids = GtidPos::new();
    loop {
        if reader.offset() >= pos {
            return (reader.offset() == pos).then(|| gtids.to_string());
        }
        let event = reader.next_event().ok()??;
        match event.kind {
            Kind::GtidList(list) => list.into_iter().for_each(|g| gtids.set(g)),
            Kind::Gtid { gtid, .. } => gtids.set(gtid),
            _ => {}
        }
    }
}

/// `binlog.000001<TAB>865<TAB>0-1-3`: file, position, and maybe a GTID position.
fn parse_binlog_info(text: &str, findings: &mut Findings) {
    let Some(line) = text.lines().find(|l| !l.trim().is_empty()) else {
        return;
    };
    let mut fields = line.split_whitespace();
    let (Some(file), Some(pos)) = (fields.next(), fields.next()) else {
        return;
    };
    let Ok(pos) = pos.parse::<u64>() else {
        return;
    };
    let c = &mut findings.coordinates;
    c.binlog_file = Some(file.to_owned());
    c.binlog_pos = Some(pos);
    c.gtid = fields.next().map(str::to_owned).filter(|g| !g.is_empty());
}

/// `key = value` lines: `tool_name`, `tool_version`, `server_version`.
fn parse_info(text: &str, findings: &mut Findings) {
    let mut tool_name = None;
    let mut tool_version = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match key.trim() {
            "tool_name" => tool_name = Some(value.to_owned()),
            "tool_version" => tool_version = Some(value.to_owned()),
            "server_version" => findings.server_version = Some(value.to_owned()),
            _ => {}
        }
    }
    findings.tool_version = match (tool_name, tool_version) {
        (Some(name), Some(version)) => Some(format!("{name} {version}")),
        (None, version) => version,
        (Some(_), None) => None,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_logs_are_top_level_files_with_a_numbered_extension() {
        for name in ["binlog.000005", "mysql-bin.1000000"] {
            assert!(is_binlog(name), "{name}");
        }
        for name in [
            "binlog.index",
            "db/t.000001",
            ".000001",
            "binlog.00001",
            "ibdata1",
        ] {
            assert!(!is_binlog(name), "{name}");
        }
    }

    #[test]
    fn the_gtid_of_bytes_that_are_no_binlog_or_end_too_soon_is_unknown() {
        assert_eq!(gtid_at(b"not a binlog", 4), None);
        // The magic alone: position 4 is its end, with no GTID known.
        assert_eq!(gtid_at(&ferryman_binlog::MAGIC, 4), Some(String::new()));
        assert_eq!(gtid_at(&ferryman_binlog::MAGIC, 379), None);
    }

    #[test]
    fn binlog_info_with_and_without_gtid() {
        let mut f = Findings::default();
        parse_binlog_info("binlog.000001\t325\t0-1-5\n", &mut f);
        assert_eq!(f.coordinates.binlog_file.as_deref(), Some("binlog.000001"));
        assert_eq!(f.coordinates.binlog_pos, Some(325));
        assert_eq!(f.coordinates.gtid.as_deref(), Some("0-1-5"));
        for text in ["mysql-bin.000002\t4\n", "mysql-bin.000002\t4\t\n"] {
            let mut f = Findings::default();
            parse_binlog_info(text, &mut f);
            assert_eq!(f.coordinates.binlog_pos, Some(4));
            assert_eq!(f.coordinates.gtid, None);
        }
        let mut f = Findings::default();
        parse_binlog_info("garbage\n", &mut f);
        assert!(f.coordinates.is_empty());
    }

    #[test]
    fn info_gives_tool_and_server_versions() {
        let mut f = Findings::default();
        parse_info(
            "uuid = x\nname = \ntool_name = mariabackup\ntool_version = 10.11.19-MariaDB\n\
             server_version = 10.11.19-MariaDB-0+deb12u1-log\n",
            &mut f,
        );
        assert_eq!(
            f.tool_version.as_deref(),
            Some("mariabackup 10.11.19-MariaDB")
        );
        assert_eq!(
            f.server_version.as_deref(),
            Some("10.11.19-MariaDB-0+deb12u1-log")
        );
    }
}
