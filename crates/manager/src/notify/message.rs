//! One notification in the forms it is sent: the webhook's JSON body (schema
//! `ferryman.notification/1`) and the mail's subject and text.

use serde::Serialize;

use super::problems::Tell;
use crate::events::{Event, Severity};

/// The webhook body's schema name; a change that is not an addition gets a new number.
pub const SCHEMA: &str = "ferryman.notification/1";

/// An event, what it says about its problem, and where it comes from.
#[derive(Debug, Clone)]
pub struct Message {
    /// The event.
    pub event: Event,
    /// Opened, again, resolved, or a fact.
    pub tell: Tell,
    /// The problem's key (`backup/sandbox/physical`), when the kind has one.
    pub problem: Option<String>,
    /// The manager's host name, so a DBA with several managers knows which one speaks.
    pub manager: String,
}

#[derive(Serialize)]
struct Body<'a> {
    schema: &'static str,
    manager: &'a str,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<&'a str>,
    /// Events of the problem not told since it was last told (`again`).
    #[serde(skip_serializing_if = "Option::is_none")]
    quiet: Option<u64>,
    /// The event that opened the problem (`resolved`).
    #[serde(skip_serializing_if = "Option::is_none")]
    opened_by: Option<u64>,
    event: &'a Event,
}

impl Message {
    /// The webhook's JSON body.
    pub fn json(&self) -> String {
        let body = Body {
            schema: SCHEMA,
            manager: &self.manager,
            state: self.tell.as_str(),
            problem: self.problem.as_deref(),
            quiet: match self.tell {
                Tell::Again { quiet } => Some(quiet),
                _ => None,
            },
            opened_by: match self.tell {
                Tell::Resolved { opened_by } => Some(opened_by),
                _ => None,
            },
            event: &self.event,
        };
        serde_json::to_string(&body).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The mail's subject: `[ferryman] RESOLVED backup-succeeded sandbox db2 (physical)`.
    pub fn subject(&self) -> String {
        let e = &self.event;
        let word = match (&self.tell, e.severity) {
            (Tell::Resolved { .. }, _) => "RESOLVED",
            (Tell::Again { .. }, _) => "STILL FAILING",
            (_, Severity::Error) => "ERROR",
            (_, Severity::Info) => "INFO",
        };
        let mut subject = format!("[ferryman] {word} {}", e.kind.as_str());
        for part in [Some(&e.cluster), e.server.as_ref()].into_iter().flatten() {
            if !part.is_empty() {
                subject.push(' ');
                subject.push_str(part);
            }
        }
        if let Some(s) = &e.subject {
            subject.push_str(&format!(" ({s})"));
        }
        subject
    }

    /// The mail's text.
    pub fn text(&self) -> String {
        let e = &self.event;
        let mut text = format!("{}\n\n", e.message);
        match &self.tell {
            Tell::Resolved { opened_by } => text.push_str(&format!(
                "This resolves the problem opened by event {opened_by}.\n"
            )),
            Tell::Again { quiet } => text.push_str(&format!(
                "The problem is still open; {quiet} more event(s) of it since the last mail.\n"
            )),
            Tell::Opened => text.push_str(
                "Further events of this problem are not mailed until it is resolved (or for notifications.repeat-after).\n",
            ),
            Tell::Fact => {}
        }
        text.push_str(&format!("\nEvent {}: {}\n", e.id, e.kind.as_str()));
        text.push_str(&format!("At: {}\n", e.at.rfc3339()));
        for (name, value) in [
            ("Cluster", Some(&e.cluster)),
            ("Server", e.server.as_ref()),
            ("Backup", e.backup.as_ref()),
            ("Problem", self.problem.as_ref()),
        ] {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                text.push_str(&format!("{name}: {v}\n"));
            }
        }
        text.push_str(&format!(
            "Manager: {}\n\nThe events around it: GET /api/v1/events?since={}\n",
            self.manager,
            e.id.saturating_sub(1)
        ));
        text
    }
}
