//! [`NodeTask`]: the tasks queued on one server by name (`ferryman task`, `POST
//! .../servers/{server}/tasks`), with the jobs-table task each one is and whether it must be
//! confirmed. Backups and reseeds have their own commands and routes.

use serde::{Deserialize, Serialize};

use crate::Task;

/// A task queued on one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeTask {
    /// OPTIMIZE every non-system table.
    Optimize,
    /// Ship the error log to the manager, then rotate it.
    ErrorLog,
    /// Ship the slow-query log to the manager, then rotate it.
    SlowQueryLog,
    /// Stop the database service.
    Stop,
    /// Start the database service.
    Start,
    /// Restart the database service.
    Restart,
    /// Roll the datadir back to the newest ZFS snapshot.
    Zfssnapback,
    /// Take a consistent snapshot of the datadir's volume.
    Snapshot,
}

impl NodeTask {
    /// Every node task, in the order they are listed.
    pub const ALL: [NodeTask; 8] = [
        NodeTask::Optimize,
        NodeTask::ErrorLog,
        NodeTask::SlowQueryLog,
        NodeTask::Stop,
        NodeTask::Start,
        NodeTask::Restart,
        NodeTask::Zfssnapback,
        NodeTask::Snapshot,
    ];

    /// Its name, as the CLI and the API spell it.
    pub fn name(self) -> &'static str {
        match self {
            NodeTask::Optimize => "optimize",
            NodeTask::ErrorLog => "error-log",
            NodeTask::SlowQueryLog => "slow-query-log",
            NodeTask::Stop => "stop",
            NodeTask::Start => "start",
            NodeTask::Restart => "restart",
            NodeTask::Zfssnapback => "zfssnapback",
            NodeTask::Snapshot => "snapshot",
        }
    }

    /// What it does, in one line (the CLI's help; the API's description).
    pub fn help(self) -> &'static str {
        match self {
            NodeTask::Optimize => "OPTIMIZE every non-system table",
            NodeTask::ErrorLog => "ship the error log to the manager, then rotate it",
            NodeTask::SlowQueryLog => "ship the slow-query log to the manager, then rotate it",
            NodeTask::Stop => "stop the database service (`service-stop`; confirmed with --yes or \"confirm\": true)",
            NodeTask::Start => "start the database service (`service-start`)",
            NodeTask::Restart => {
                "restart the database service (`service-restart`; confirmed with --yes or \"confirm\": true)"
            }
            NodeTask::Zfssnapback => {
                "roll the datadir back to the newest snapshot (`zfs-snapback`, else the newest of `snapshot-method` matching `snapshot-filter`; confirmed with --yes or \"confirm\": true)"
            }
            NodeTask::Snapshot => {
                "take a consistent snapshot of the datadir's volume (`snapshot-method`), then keep `snapshot-keep`"
            }
        }
    }

    /// The jobs-table task.
    pub fn task(self) -> Task {
        match self {
            NodeTask::Optimize => Task::Optimize,
            NodeTask::ErrorLog => Task::Error,
            NodeTask::SlowQueryLog => Task::Slowquery,
            NodeTask::Stop => Task::Stop,
            NodeTask::Start => Task::Start,
            NodeTask::Restart => Task::Restart,
            NodeTask::Zfssnapback => Task::Zfssnapback,
            NodeTask::Snapshot => Task::Snapshot,
        }
    }

    /// Whether it interrupts the server or replaces its data: run only when confirmed.
    pub fn destructive(self) -> bool {
        matches!(
            self,
            NodeTask::Stop | NodeTask::Restart | NodeTask::Zfssnapback
        )
    }

    /// The task named `name`, if any.
    pub fn from_name(name: &str) -> Option<NodeTask> {
        NodeTask::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Every name, `, `-separated (for errors).
    pub fn names() -> String {
        NodeTask::ALL.map(NodeTask::name).join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_serdes_and_round_trip() {
        for task in NodeTask::ALL {
            let json = serde_json::to_value(task).unwrap();
            assert_eq!(json, task.name());
            assert_eq!(NodeTask::from_name(task.name()), Some(task));
        }
        assert_eq!(NodeTask::from_name("error"), None);
    }
}
