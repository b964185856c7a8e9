//! `[agent]` and `[jobs]`: how the node agent finds and runs its work.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use ferryman_proto::Task;

use crate::defaults;
use crate::error::ConfigError;
use crate::raw::{RawAgent, RawJobs};
use crate::validate::Validator;

/// The `[agent]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// `poll-interval`: how often the agent reads the jobs table, e.g. `"5s"`. Default 5s;
    /// 100ms to 1h.
    pub poll_interval: Duration,
    /// `work-dir`: the agent's scratch space, e.g. for 0600 defaults-extra-files. Relative paths
    /// are relative to the config file's directory. Default `/var/lib/ferryman-agent`.
    pub work_dir: PathBuf,
    /// `tasks`: the task kinds this agent runs, by their jobs-table names (`"mariabackup"`,
    /// `"reseedmariabackup"`, `"start"`…). Default: every task.
    pub tasks: Vec<Task>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            poll_interval: defaults::POLL_INTERVAL,
            work_dir: PathBuf::from(defaults::AGENT_WORK_DIR),
            tasks: Task::ALL.to_vec(),
        }
    }
}

impl AgentConfig {
    pub(crate) fn from_raw(raw: RawAgent, v: &mut Validator<'_>) -> Self {
        let RawAgent {
            poll_interval,
            work_dir,
            tasks,
        } = raw;
        AgentConfig {
            poll_interval: v.duration(
                "agent.poll-interval",
                poll_interval,
                defaults::POLL_INTERVAL,
                (defaults::POLL_INTERVAL_MIN, defaults::POLL_INTERVAL_MAX),
            ),
            work_dir: v.local_path("agent.work-dir", work_dir, defaults::AGENT_WORK_DIR),
            tasks: match tasks {
                None => Task::ALL.to_vec(),
                Some(list) => {
                    let list_at = v.at(list.span());
                    let mut seen = HashSet::new();
                    let mut tasks = Vec::new();
                    for task in list.into_inner() {
                        let at = v.at(task.span());
                        let task = task.into_inner();
                        if seen.insert(task) {
                            tasks.push(task);
                        } else {
                            v.push(ConfigError::DuplicateTask { at, task });
                        }
                    }
                    if tasks.is_empty() {
                        v.push(ConfigError::EmptyValue {
                            at: list_at,
                            key: "agent.tasks".to_owned(),
                        });
                    }
                    tasks
                }
            },
        }
    }
}

/// The `[jobs]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobsConfig {
    /// `schema`: the schema that holds the jobs table, as replication-manager creates it. Used as
    /// an SQL identifier, so only `[A-Za-z0-9_]`, 1 to 64 long. Default
    /// `replication_manager_schema`.
    pub schema: String,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            schema: defaults::JOBS_SCHEMA.to_owned(),
        }
    }
}

impl JobsConfig {
    pub(crate) fn from_raw(raw: RawJobs, v: &mut Validator<'_>) -> Self {
        let RawJobs { schema } = raw;
        JobsConfig {
            schema: match schema {
                None => defaults::JOBS_SCHEMA.to_owned(),
                Some(schema) => {
                    v.name("schema name (`jobs.schema`)", &schema, true);
                    schema.into_inner()
                }
            },
        }
    }
}
