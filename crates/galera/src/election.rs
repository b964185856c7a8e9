//! Who should replicate: the lowest `localIndex` (then name) among the nodes that report
//! (fresh heartbeat), are in the Primary component, and are not cooling down after `Failed`.
//! A pure function of what was read, so every keeper computes the same answer from the same
//! rows; two keepers that disagree (stale rows) still cannot both take the lease.

use std::collections::BTreeSet;

use crate::tables::{Lease, NodeRow, NodeState};

/// What the election looks at.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// A heartbeat at least this old (seconds) means the node does not report.
    pub heartbeat_timeout_s: i64,
    /// A `Failed` node is left out until its state is this old (seconds).
    pub failed_cool_down_s: i64,
}

impl Rules {
    /// Whether `row` may be elected.
    pub fn eligible(&self, row: &NodeRow, members: Option<&BTreeSet<String>>) -> bool {
        row.heartbeat_age_s < self.heartbeat_timeout_s
            && members.is_none_or(|m| m.contains(&row.host))
            && !self.cooling_down(row)
    }

    /// Whether `row` is `Failed` and still cooling down.
    pub fn cooling_down(&self, row: &NodeRow) -> bool {
        row.state == NodeState::Failed && row.state_age_s < self.failed_cool_down_s
    }

    /// The node that should replicate, if any is eligible.
    pub fn candidate<'a>(
        &self,
        rows: &'a [NodeRow],
        members: Option<&BTreeSet<String>>,
    ) -> Option<&'a NodeRow> {
        rows.iter()
            .filter(|r| self.eligible(r, members))
            .min_by(|a, b| {
                let key = |r: &NodeRow| r.local_index.unwrap_or(i64::MAX);
                key(a).cmp(&key(b)).then_with(|| a.host.cmp(&b.host))
            })
    }
}

/// Whether the lease's owner still holds it: it is named, the lease has not expired, and the
/// owner is in this node's (Primary) component. A node that left the component cannot renew
/// and stops replicating by itself, so its lease is free at once: this is what makes failover
/// after a node's death take seconds, not a heartbeat timeout.
pub fn owner_alive(lease: &Lease, members: Option<&BTreeSet<String>>) -> bool {
    match &lease.owner {
        Some(owner) => lease.live && members.is_none_or(|m| m.contains(owner)),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(host: &str, index: i64, state: NodeState, hb: i64, st: i64) -> NodeRow {
        NodeRow {
            host: host.into(),
            local_index: Some(index),
            state,
            heartbeat_age_s: hb,
            state_age_s: st,
        }
    }

    const RULES: Rules = Rules {
        heartbeat_timeout_s: 30,
        failed_cool_down_s: 180,
    };

    #[test]
    fn the_lowest_index_among_reporting_members_not_cooling_down_wins() {
        let rows = [
            row("b1", 0, NodeState::Failed, 1, 10),
            row("b2", 1, NodeState::No, 40, 100),
            row("b3", 2, NodeState::No, 1, 100),
            row("b4", 3, NodeState::No, 1, 100),
        ];
        // b1 cools down, b2 does not report.
        assert_eq!(RULES.candidate(&rows, None).unwrap().host, "b3");
        // b3 left the component.
        let members: BTreeSet<String> = ["b1", "b2", "b4"].map(String::from).into();
        assert_eq!(RULES.candidate(&rows, Some(&members)).unwrap().host, "b4");
        // After the cool-down b1 is eligible again.
        let rows = [
            row("b1", 0, NodeState::Failed, 1, 180),
            row("b3", 2, NodeState::No, 1, 1),
        ];
        assert_eq!(RULES.candidate(&rows, None).unwrap().host, "b1");
        assert!(RULES.candidate(&[], None).is_none());
    }

    #[test]
    fn equal_indices_are_ordered_by_name() {
        let rows = [
            row("b2", 0, NodeState::No, 1, 1),
            row("b1", 0, NodeState::No, 1, 1),
        ];
        assert_eq!(RULES.candidate(&rows, None).unwrap().host, "b1");
    }

    #[test]
    fn an_owner_outside_the_component_or_expired_does_not_hold_the_lease() {
        let lease = |owner: Option<&str>, live| Lease {
            owner: owner.map(String::from),
            term: 3,
            beat: 9,
            master: None,
            live,
            held_s: Some(5),
        };
        let members: BTreeSet<String> = ["b1", "b2"].map(String::from).into();
        assert!(owner_alive(&lease(Some("b1"), true), Some(&members)));
        assert!(owner_alive(&lease(Some("b1"), true), None));
        assert!(!owner_alive(&lease(Some("b3"), true), Some(&members)));
        assert!(!owner_alive(&lease(Some("b1"), false), Some(&members)));
        assert!(!owner_alive(&lease(None, true), Some(&members)));
    }
}
