//! Claims abandoned by an agent that died: rows left `processing` forever otherwise.
//!
//! An agent names itself `ferryman-agent@HOST:PID` in `claimed_by`. A claim is abandoned when
//! its agent ran on this host and that process is gone (or is not a ferryman process any more:
//! PIDs are recycled), or, for an agent on another host whose process we cannot see, when its
//! heartbeat is older than `agent.stale-claim-timeout`. Abandoned jobs are finished as failed
//! with a result that says so; their work was not completed, so nothing is claimed as done.

use std::fmt;
use std::time::Duration;

use ferryman_jobs::{Claim, ClaimedJob, JobsConn, Verdict};

use crate::Result;

/// The prefix of every claimant name a Ferryman agent writes.
const PREFIX: &str = "ferryman-agent@";

/// Who an agent process is, as written into `claimed_by`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimant {
    /// The host name.
    pub host: String,
    /// The agent's PID.
    pub pid: u32,
}

impl Claimant {
    /// This process on this host.
    pub fn me() -> Claimant {
        let host = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        Claimant {
            host,
            pid: std::process::id(),
        }
    }

    /// Reads a `claimed_by` value written by a Ferryman agent.
    pub fn parse(text: &str) -> Option<Claimant> {
        let rest = text.strip_prefix(PREFIX)?;
        let (host, pid) = rest.rsplit_once(':')?;
        Some(Claimant {
            host: host.to_owned(),
            pid: pid.parse().ok()?,
        })
    }

    /// True when this claimant's process is known to be gone: it ran on this host and its PID
    /// is not a live ferryman process.
    pub(crate) fn is_dead_here(&self, here: &Claimant) -> bool {
        self.host == here.host
            && !(ferryman_exec::process::is_running(self.pid)
                && ferryman_exec::process::cmdline(self.pid).contains("ferryman"))
    }
}

impl fmt::Display for Claimant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}:{}", self.host, self.pid)
    }
}

/// Why a claim is abandoned, or `None` when it is not.
fn abandoned(claim: &Claim, me: &Claimant, stale_after: Duration) -> Option<String> {
    let by = claim.job.claimed_by.as_deref()?;
    if Claimant::parse(by).as_ref() == Some(me) {
        return None;
    }
    if let Some(other) = Claimant::parse(by) {
        if other.is_dead_here(me) {
            return Some(format!(
                "the agent that ran this job ({by}) is no longer running on {}",
                me.host
            ));
        }
        if other.host == me.host {
            return None;
        }
    }
    let age = claim.heartbeat_age_s?;
    (u64::try_from(age).unwrap_or(0) > stale_after.as_secs())
        .then(|| format!("the runner of this job ({by}) has not reported for {age} s"))
}

/// Finishes every abandoned claim as failed. Returns how many were finished.
pub(crate) async fn reap(
    conn: &mut JobsConn,
    me: &Claimant,
    stale_after: Duration,
) -> Result<usize> {
    let mut reaped = 0;
    for claim in conn.claimed().await? {
        let Some(why) = abandoned(&claim, me, stale_after) else {
            continue;
        };
        let Some(by) = claim.job.claimed_by.as_deref() else {
            continue;
        };
        let text = format!(
            "{why}: the job did not complete and nothing it produced counts; enqueue it again (found by {me})"
        );
        let res = match ClaimedJob::resume(conn, claim.job.id, by).await {
            Ok(held) => held.finish(conn, Verdict::Failure, &text).await,
            Err(e) => Err(e),
        };
        match res {
            Ok(()) => {
                tracing::warn!(
                    job_id = claim.job.id.0,
                    claimed_by = by,
                    "abandoned job failed: {why}"
                );
                reaped += 1;
            }
            // Someone finished or re-claimed it meanwhile: nothing to do.
            Err(e) if e.is_claim_gone() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(reaped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferryman_jobs::{Job, JobId};

    fn claim(by: &str, age: Option<i64>) -> Claim {
        Claim {
            job: Job {
                id: JobId(1),
                task: Some("optimize".into()),
                result: Some("processing".into()),
                claimed_by: Some(by.into()),
                ..Job::default()
            },
            heartbeat_age_s: age,
        }
    }

    #[test]
    fn claimant_names_round_trip() {
        let c = Claimant {
            host: "db-1.example".into(),
            pid: 42,
        };
        assert_eq!(c.to_string(), "ferryman-agent@db-1.example:42");
        assert_eq!(Claimant::parse(&c.to_string()), Some(c));
        assert_eq!(Claimant::parse("agent-3"), None);
        assert_eq!(Claimant::parse("ferryman-agent@h:x"), None);
    }

    #[test]
    fn only_dead_local_agents_and_silent_remote_ones_are_abandoned() {
        let me = Claimant::me();
        let stale = Duration::from_secs(600);
        // Ourselves: never.
        assert_eq!(
            abandoned(&claim(&me.to_string(), Some(10_000)), &me, stale),
            None
        );
        // A dead PID on this host: abandoned at once, whatever the heartbeat says.
        let dead = Claimant {
            host: me.host.clone(),
            pid: u32::MAX - 1,
        };
        assert!(abandoned(&claim(&dead.to_string(), Some(0)), &me, stale)
            .unwrap()
            .contains("is no longer running"));
        // Another host: judged by heartbeat only.
        let remote = "ferryman-agent@elsewhere:1";
        assert_eq!(abandoned(&claim(remote, Some(30)), &me, stale), None);
        assert!(abandoned(&claim(remote, Some(601)), &me, stale)
            .unwrap()
            .contains("has not reported for 601 s"));
        // Other runners (not our naming): heartbeat only.
        assert_eq!(abandoned(&claim("agent-3", Some(5)), &me, stale), None);
        assert!(abandoned(&claim("agent-3", Some(700)), &me, stale).is_some());
        assert_eq!(abandoned(&claim("agent-3", None), &me, stale), None);
    }
}
