//! One message per problem, another when it is resolved.
//!
//! An event's kind says which problem it is about and whether it opens or resolves it
//! ([`EventKind::problem`]); the problem is one per kind family, cluster and subject (the
//! backup kind, else the server): `backup/sandbox/physical`. The first event that opens a
//! problem is told; the next ones are not, until `notifications.repeat-after` has passed since
//! it was last told (then it is told again, with how many were not). An event that resolves an
//! open problem is told as its resolution; one that resolves nothing is a plain fact (told only
//! to routes that ask for `info`). Open problems are kept in the history, so a restarted
//! manager neither tells an open problem again nor forgets to tell its resolution.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::events::{Event, EventKind};
use crate::state::{OpenProblem, State};

/// What a message says about its event's problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tell {
    /// The event opened a problem.
    Opened,
    /// The problem is still there; `quiet` events of it were not told since it was last told.
    Again {
        /// Events not told.
        quiet: u64,
    },
    /// The event resolved the problem opened by event `opened_by`.
    Resolved {
        /// The event that opened it.
        opened_by: u64,
    },
    /// An event about no open problem.
    Fact,
}

impl Tell {
    /// How the webhook's `state` and the mail's subject name it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Tell::Opened => "opened",
            Tell::Again { .. } => "again",
            Tell::Resolved { .. } => "resolved",
            Tell::Fact => "fact",
        }
    }
}

/// The open problems.
#[derive(Debug)]
pub struct Problems {
    open: HashMap<String, OpenProblem>,
    state: Arc<State>,
    repeat_after: Duration,
}

/// `family/cluster/subject` of `event`'s problem, when its kind has one.
pub fn key(event: &Event) -> Option<(String, bool)> {
    let (family, opens) = event.kind.problem()?;
    let subject = event
        .subject
        .as_deref()
        .or(event.server.as_deref())
        .unwrap_or("");
    Some((format!("{family}/{}/{subject}", event.cluster), opens))
}

/// The kinds that open the problem `kind` resolves (a route that hears of those hears of its
/// resolution).
pub fn opened_by(kind: EventKind) -> Vec<EventKind> {
    match kind.problem() {
        Some((family, false)) => EventKind::ALL
            .into_iter()
            .filter(|k| k.problem() == Some((family, true)))
            .collect(),
        _ => Vec::new(),
    }
}

impl Problems {
    /// The problems the history has open.
    pub fn load(state: Arc<State>, repeat_after: Duration) -> Problems {
        let open = state
            .problems()
            .into_iter()
            .map(|p| (p.key.clone(), p))
            .collect();
        Problems {
            open,
            state,
            repeat_after,
        }
    }

    /// How long an open problem stays quiet before it is told again (a reload may change it).
    pub fn set_repeat_after(&mut self, repeat_after: Duration) {
        self.repeat_after = repeat_after;
    }

    /// What to tell of `event` (`None`: nothing, its problem was told recently), and the
    /// problem's key.
    pub fn decide(&mut self, event: &Event) -> Option<(Tell, Option<String>)> {
        let Some((key, opens)) = key(event) else {
            return Some((Tell::Fact, None));
        };
        let now = event.at.unix();
        if !opens {
            return Some(match self.open.remove(&key) {
                Some(p) => {
                    self.state.resolve_problem(&key);
                    (
                        Tell::Resolved {
                            opened_by: p.opened_by,
                        },
                        Some(key),
                    )
                }
                None => (Tell::Fact, Some(key)),
            });
        }
        let repeat = i64::try_from(self.repeat_after.as_secs()).unwrap_or(i64::MAX);
        let tell = match self.open.get_mut(&key) {
            None => {
                let p = OpenProblem {
                    key: key.clone(),
                    opened_by: event.id,
                    told_at: now,
                    quiet: 0,
                };
                self.state.save_problem(&p);
                self.open.insert(key.clone(), p);
                Tell::Opened
            }
            Some(p) if now.saturating_sub(p.told_at) >= repeat => {
                let quiet = p.quiet;
                p.told_at = now;
                p.quiet = 0;
                self.state.save_problem(p);
                Tell::Again { quiet }
            }
            Some(p) => {
                p.quiet += 1;
                self.state.save_problem(p);
                return None;
            }
        };
        Some((tell, Some(key)))
    }
}

#[cfg(test)]
mod tests {
    use ferryman_repo::Timestamp;

    use super::*;
    use crate::events::Severity;

    fn event(id: u64, kind: EventKind, at: i64) -> Event {
        Event {
            id,
            at: Timestamp::from_unix(at),
            kind,
            severity: Severity::Error,
            cluster: "c".into(),
            server: Some("db2".into()),
            backup: None,
            subject: Some("physical".into()),
            message: String::new(),
        }
    }

    #[test]
    fn a_problem_is_told_once_again_after_the_repeat_time_and_when_resolved() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = Arc::new(State::open(dir.path()).expect("state"));
        let mut p = Problems::load(Arc::clone(&state), Duration::from_secs(3600));
        let failed = |id, at| event(id, EventKind::BackupFailed, at);
        assert_eq!(p.decide(&failed(1, 0)).map(|t| t.0), Some(Tell::Opened));
        assert_eq!(p.decide(&failed(2, 60)), None);
        // A missing backup of the same kind is the same problem.
        assert_eq!(p.decide(&event(3, EventKind::BackupMissing, 120)), None);
        assert_eq!(
            p.decide(&failed(4, 3601)).map(|t| t.0),
            Some(Tell::Again { quiet: 2 })
        );
        // A restarted manager remembers it is open.
        state.flush();
        let mut p = Problems::load(Arc::clone(&state), Duration::from_secs(3600));
        assert_eq!(p.decide(&failed(5, 3700)), None);
        assert_eq!(
            p.decide(&event(6, EventKind::BackupSucceeded, 3800))
                .map(|t| t.0),
            Some(Tell::Resolved { opened_by: 1 })
        );
        assert_eq!(
            p.decide(&event(7, EventKind::BackupSucceeded, 3900))
                .map(|t| t.0),
            Some(Tell::Fact)
        );
        // Another kind of backup is another problem.
        let mut logical = failed(8, 4000);
        logical.subject = Some("logical".into());
        assert_eq!(p.decide(&logical).map(|t| t.0), Some(Tell::Opened));
        assert_eq!(
            opened_by(EventKind::BackupSucceeded),
            [EventKind::BackupFailed, EventKind::BackupMissing]
        );
    }
}
