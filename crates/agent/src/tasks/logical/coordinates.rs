//! Where a logical backup stands in the server's history: the coordinates mariadb-dump writes
//! as comments, and mydumper's `metadata` file.

/// Where a backup stands in the server's history.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Coordinates {
    /// GTID position (`gtid_slave_pos` for a new replica).
    pub(crate) gtid: Option<String>,
    /// Binary log file.
    pub(crate) file: Option<String>,
    /// Position in it.
    pub(crate) position: Option<u64>,
}

impl Coordinates {
    /// `GTID 0-1-42, binlog.000002:1234`.
    pub(super) fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(gtid) = &self.gtid {
            parts.push(format!("GTID {gtid}"));
        }
        match (&self.file, self.position) {
            (Some(file), Some(pos)) => parts.push(format!("{file}:{pos}")),
            (Some(file), None) => parts.push(file.clone()),
            _ => {}
        }
        if parts.is_empty() {
            "no binlog coordinates recorded (is the binary log enabled?)".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// The coordinates mariadb-dump wrote with `--master-data=2 --gtid`: `-- CHANGE MASTER TO
/// MASTER_LOG_FILE='…', MASTER_LOG_POS=…;` in the header, `-- SET GLOBAL gtid_slave_pos='…';`
/// near the end (deferred there since 10.x). The first occurrence wins.
pub(super) fn dump_coordinates(head: &str, tail: &str) -> Coordinates {
    let mut c = Coordinates::default();
    for line in head.lines().chain(tail.lines()) {
        let line = line.strip_prefix("-- ").unwrap_or(line).trim();
        if let Some(rest) = line.strip_prefix("CHANGE MASTER TO ") {
            if c.file.is_none() {
                if let Some(file) = between(rest, "MASTER_LOG_FILE='", "'") {
                    c.file = Some(file.to_owned());
                    c.position = rest
                        .split_once("MASTER_LOG_POS=")
                        .and_then(|(_, p)| leading_number(p));
                }
            }
        } else if let Some(gtid) = line
            .strip_prefix("SET GLOBAL gtid_slave_pos=")
            .and_then(|rest| between(rest, "'", "'"))
        {
            if c.gtid.is_none() && !gtid.is_empty() {
                c.gtid = Some(gtid.to_owned());
            }
        }
    }
    c
}

/// The GTID position mariadb-dump wrote with `--gtid` (the deferred `SET GLOBAL
/// gtid_slave_pos` comment) in a dump's `tail`.
pub(crate) fn dump_gtid(tail: &str) -> Option<String> {
    dump_coordinates("", tail).gtid
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let (_, rest) = text.split_once(open)?;
    rest.split_once(close).map(|(value, _)| value)
}

fn leading_number(text: &str) -> Option<u64> {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// What mydumper's `metadata` file says, as the agent uses it.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Metadata {
    /// The dumped server's own position (not its source's, on a replica).
    pub(crate) coordinates: Coordinates,
    /// The file says the dump finished.
    pub(crate) finished: bool,
}

impl Metadata {
    /// [`ferryman_proto::mydumper::Metadata::parse`].
    pub(crate) fn parse(text: &str) -> Metadata {
        let m = ferryman_proto::mydumper::Metadata::parse(text);
        Metadata {
            coordinates: Coordinates {
                gtid: m.gtid,
                file: m.binlog_file,
                position: m.binlog_pos,
            },
            finished: m.finished,
        }
    }
}
