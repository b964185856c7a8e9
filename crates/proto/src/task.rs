//! Task names of the jobs table, as written by replication-manager and read by donor scripts.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// A kind of work that a node agent performs for one jobs-table row.
///
/// The names are those of replication-manager's donor script (reference 000), so that rows
/// written by either side mean the same thing. Parsing is strict: a misspelt name is an error,
/// never silently skipped work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Task {
    /// Physical backup with xtrabackup, streamed as xbstream.
    Xtrabackup,
    /// Physical backup with mariabackup, streamed as xbstream.
    Mariabackup,
    /// Logical backup with mysqldump / mariadb-dump.
    Mysqldump,
    /// Logical backup with mydumper, its directory sent as one tar stream.
    Mydumper,
    /// Ship the server's error log, then rotate it.
    Error,
    /// Ship the server's slow-query log, then rotate it.
    Slowquery,
    /// Roll the datadir back to the previous ZFS snapshot.
    Zfssnapback,
    /// Optimize every non-system table.
    Optimize,
    /// Rebuild this replica from an xtrabackup stream.
    Reseedxtrabackup,
    /// Rebuild this replica from a mariabackup stream.
    Reseedmariabackup,
    /// Rebuild this replica from a mysqldump stream.
    Reseedmysqldump,
    /// Rebuild this replica from a mydumper backup (a tar of its directory), loaded with
    /// `myloader`.
    Reseedmydumper,
    /// Rewind this server to an earlier xtrabackup backup.
    Flashbackxtrabackup,
    /// Rewind this server to an earlier mariabackup backup.
    ///
    /// Written `flashbackmariabackup` by replication-manager's manager and matched as
    /// `flashbackmariadbackup` by its donor script; both spellings parse to this variant.
    Flashbackmariabackup,
    /// Rewind this server to an earlier mysqldump backup.
    Flashbackmysqldump,
    /// Rewind this server to an earlier mydumper backup.
    Flashbackmydumper,
    /// Stop the database service.
    Stop,
    /// Restart the database service.
    Restart,
    /// Start the database service.
    Start,
    /// Take a consistent file-system snapshot of the datadir (btrfs, LVM, ZFS), then apply
    /// the server's `snapshot-keep`. A Ferryman task (replication-manager has no such row).
    Snapshot,
    /// Take a consistent snapshot and stream a tar of its datadir (with what it recorded) to
    /// the manager, which passes it on to a reseed's joiners (reseed method `snapshot`).
    Snapshotsend,
    /// Rebuild this replica from a donor's snapshot (a tar of its datadir).
    Reseedsnapshot,
}

impl Task {
    /// Every task, in the order the reference donor script polls them.
    pub const ALL: [Task; 22] = [
        Task::Xtrabackup,
        Task::Mariabackup,
        Task::Mysqldump,
        Task::Mydumper,
        Task::Error,
        Task::Slowquery,
        Task::Zfssnapback,
        Task::Optimize,
        Task::Reseedxtrabackup,
        Task::Reseedmariabackup,
        Task::Reseedmysqldump,
        Task::Reseedmydumper,
        Task::Flashbackxtrabackup,
        Task::Flashbackmariabackup,
        Task::Flashbackmysqldump,
        Task::Flashbackmydumper,
        Task::Stop,
        Task::Restart,
        Task::Start,
        Task::Snapshot,
        Task::Snapshotsend,
        Task::Reseedsnapshot,
    ];

    /// The name written into the `task` column when Ferryman enqueues this task.
    pub fn as_str(self) -> &'static str {
        self.spellings()[0]
    }

    /// Every spelling found in a `task` column that means this task, the canonical one first.
    ///
    /// replication-manager's manager writes `errorlog` and `flashbackmariabackup` where its donor
    /// script reads `error` and `flashbackmariadbackup`; we accept both.
    pub fn spellings(self) -> &'static [&'static str] {
        match self {
            Task::Xtrabackup => &["xtrabackup"],
            Task::Mariabackup => &["mariabackup"],
            Task::Mysqldump => &["mysqldump"],
            Task::Mydumper => &["mydumper"],
            Task::Error => &["error", "errorlog"],
            Task::Slowquery => &["slowquery"],
            Task::Zfssnapback => &["zfssnapback"],
            Task::Optimize => &["optimize"],
            Task::Reseedxtrabackup => &["reseedxtrabackup"],
            Task::Reseedmariabackup => &["reseedmariabackup"],
            Task::Reseedmysqldump => &["reseedmysqldump"],
            Task::Reseedmydumper => &["reseedmydumper"],
            Task::Flashbackxtrabackup => &["flashbackxtrabackup"],
            // The donor script's `flashbackmariadbackup` is 21 bytes: it cannot be stored in the
            // reference's `task VARCHAR(20)`, so we write the manager's spelling and read both.
            Task::Flashbackmariabackup => &["flashbackmariabackup", "flashbackmariadbackup"],
            Task::Flashbackmysqldump => &["flashbackmysqldump"],
            Task::Flashbackmydumper => &["flashbackmydumper"],
            Task::Stop => &["stop"],
            Task::Restart => &["restart"],
            Task::Start => &["start"],
            Task::Snapshot => &["snapshot"],
            Task::Snapshotsend => &["snapshotsend"],
            Task::Reseedsnapshot => &["reseedsnapshot"],
        }
    }

    /// True for the tasks that replace a server's data (reseed, flashback): their rows must be
    /// sealed by the manager (`seal.rs`).
    pub fn replaces_data(self) -> bool {
        matches!(
            self,
            Task::Reseedxtrabackup
                | Task::Reseedmariabackup
                | Task::Reseedmysqldump
                | Task::Reseedmydumper
                | Task::Reseedsnapshot
                | Task::Flashbackxtrabackup
                | Task::Flashbackmariabackup
                | Task::Flashbackmysqldump
                | Task::Flashbackmydumper
        )
    }

    /// The canonical names of every task, for messages.
    pub fn names() -> Vec<&'static str> {
        Task::ALL.iter().map(|t| t.as_str()).collect()
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Task {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Task::ALL
            .into_iter()
            .find(|t| t.spellings().contains(&s))
            .ok_or_else(|| Error::UnknownTask { name: s.to_owned() })
    }
}

impl serde::Serialize for Task {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Task {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_the_reseed_and_flashback_tasks_replace_data() {
        for task in Task::ALL {
            let name = task.as_str();
            assert_eq!(
                task.replaces_data(),
                name.starts_with("reseed") || name.starts_with("flashback"),
                "{name}"
            );
        }
    }

    #[test]
    fn every_name_round_trips_and_fits_the_column() {
        for t in Task::ALL {
            assert_eq!(t.as_str().parse::<Task>(), Ok(t));
            // `task` is VARCHAR(20) in the reference layout: what we write must fit.
            assert!(t.as_str().len() <= 20, "{t} does not fit task VARCHAR(20)");
            for s in t.spellings() {
                assert_eq!(s.parse::<Task>(), Ok(t));
            }
        }
    }

    #[test]
    fn both_flashback_spellings_are_accepted() {
        assert_eq!(
            "flashbackmariabackup".parse(),
            Ok(Task::Flashbackmariabackup)
        );
        assert_eq!(
            "flashbackmariadbackup".parse(),
            Ok(Task::Flashbackmariabackup)
        );
    }

    #[test]
    fn unknown_names_are_rejected_with_the_list() {
        let err = "mariadbbackup".parse::<Task>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("unknown task `mariadbbackup`"), "{msg}");
        assert!(msg.contains("mariabackup"), "{msg}");
        assert!("".parse::<Task>().is_err());
        assert!("Mariabackup".parse::<Task>().is_err());
    }
}
