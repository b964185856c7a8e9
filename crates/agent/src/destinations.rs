//! Where an agent may stream a backup or a log: the receivers its configuration allows.
//!
//! A job row says where its stream goes (`server`, `port`), and anyone who can insert a row
//! could otherwise have a full backup of the server sent to a host of their choosing. The agent
//! streams only to `agent.stream-destinations`, by default the manager's `monitoring-address`
//! with its `stream-port` and with each of the cluster's legacy sender ports.

use ferryman_config::{ClusterConfig, Config};
use ferryman_jobs::Job;
use ferryman_proto::address::{join, same_host};
use ferryman_proto::Task;

use crate::{Error, Result};

/// The receivers an agent streams to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destinations(Vec<(String, u16)>);

impl Destinations {
    /// The destinations of an agent of a server of `cluster`.
    pub fn of(config: &Config, cluster: &ClusterConfig) -> Destinations {
        if !config.agent.stream_destinations.is_empty() {
            return Destinations(config.agent.stream_destinations.clone());
        }
        let manager = &config.manager.monitoring_address;
        let ports =
            std::iter::once(config.manager.stream_port).chain(cluster.sender_ports.iter().copied());
        Destinations(ports.map(|p| (manager.clone(), p)).collect())
    }

    /// Exactly these.
    pub fn new(list: Vec<(String, u16)>) -> Destinations {
        Destinations(list)
    }

    /// Refuses `job`'s receiver unless it is allowed.
    pub fn check(&self, job: &Job, task: Task) -> Result<()> {
        let host = job.server.as_deref().map(str::trim).unwrap_or_default();
        let port = job.port.and_then(|p| u16::try_from(p).ok()).unwrap_or(0);
        if self.0.iter().any(|(h, p)| *p == port && same_host(h, host)) {
            return Ok(());
        }
        Err(Error::ForbiddenReceiver {
            job_id: job.id.0,
            task,
            address: join(host, port),
            allowed: self.describe(),
        })
    }

    /// `host:port, host:port…`.
    fn describe(&self) -> String {
        let all: Vec<String> = self.0.iter().map(|(h, p)| join(h, *p)).collect();
        all.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferryman_jobs::JobId;

    fn row(server: &str, port: i32) -> Job {
        Job {
            id: JobId(7),
            task: Some("mariabackup".into()),
            port: Some(port),
            server: Some(server.into()),
            ..Job::default()
        }
    }

    #[test]
    fn only_listed_receivers_are_streamed_to() {
        let d = Destinations::new(vec![("10.0.0.9".into(), 4444), ("10.0.0.9".into(), 4000)]);
        assert!(d.check(&row("10.0.0.9", 4444), Task::Mariabackup).is_ok());
        assert!(d.check(&row(" 10.0.0.9 ", 4000), Task::Mariabackup).is_ok());
        let e = d
            .check(&row("203.0.113.5", 4444), Task::Mariabackup)
            .unwrap_err()
            .to_string();
        assert!(e.contains("203.0.113.5:4444"), "{e}");
        assert!(e.contains("allowed: 10.0.0.9:4444, 10.0.0.9:4000"), "{e}");
        assert!(e.contains("agent.stream-destinations"), "{e}");
        assert!(d.check(&row("10.0.0.9", 5555), Task::Mariabackup).is_err());
        let local = Destinations::new(vec![("127.0.0.1".into(), 4444)]);
        assert!(local
            .check(&row("localhost", 4444), Task::Mysqldump)
            .is_ok());
    }
}
