//! [`Summary`]: what a stretch of binlog holds, as a segment's manifest records it and as the
//! chain check compares stretches: events, bytes, times, the first and last GTID of each
//! domain, the transactions it completes, whether it ends inside one, and every break in a
//! domain's sequence numbers.

use crate::event::{code, Event, Kind};
use crate::gtid::{Gtid, GtidPos};

/// What a stretch of binlog holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Events read.
    pub events: u64,
    /// Their bytes.
    pub bytes: u64,
    /// The first event time (seconds since the epoch; the format description and streamed
    /// rotations, whose time is not a transaction's, are left out).
    pub first_time: Option<u32>,
    /// The last event time.
    pub last_time: Option<u32>,
    /// The first GTID of each domain.
    pub first: GtidPos,
    /// The last GTID of each domain.
    pub last: GtidPos,
    /// Event groups (transactions, DDL) that ended in the stretch.
    pub transactions: u64,
    /// The group the stretch ends inside, if it does (its commit is in the next stretch).
    pub open: Option<Gtid>,
    /// The GTID position before the stretch, when it starts with a GTID list (a binlog file
    /// does).
    pub before: Option<GtidPos>,
    /// The server version of the format description.
    pub server_version: Option<String>,
    /// Where a domain's sequence numbers do not follow each other: (last seen, next seen).
    pub breaks: Vec<(Gtid, Gtid)>,
    /// Every GTID whose server id is not the previous GTID's of its domain (a switchover or a
    /// failover inside the stretch): with [`Summary::first`], which server wrote each sequence
    /// number, which tells one history from another that reuses its sequence numbers.
    pub server_changes: Vec<Gtid>,
    /// Whether the open group is one statement (it ends with that statement).
    standalone: bool,
}

impl Summary {
    /// Takes `event` into account.
    pub fn add(&mut self, event: &Event) {
        self.events += 1;
        self.bytes += u64::from(event.header.length);
        let timed = !matches!(
            event.header.code,
            code::FORMAT_DESCRIPTION | code::ROTATE | code::GTID_LIST | code::BINLOG_CHECKPOINT
        );
        if timed && event.header.timestamp != 0 {
            self.first_time.get_or_insert(event.header.timestamp);
            self.last_time = Some(event.header.timestamp);
        }
        match &event.kind {
            Kind::FormatDescription { server_version, .. } => {
                self.server_version = Some(server_version.clone());
            }
            Kind::GtidList(list) if self.events_before_groups() => {
                let mut pos = GtidPos::new();
                for gtid in list {
                    pos.set(*gtid);
                }
                self.before = Some(pos);
            }
            Kind::Gtid { gtid, standalone } => {
                if let Some(last) = self.last.get(gtid.domain) {
                    if gtid.seq != last.seq + 1 {
                        self.breaks.push((last, *gtid));
                    }
                    if gtid.server != last.server {
                        self.server_changes.push(*gtid);
                    }
                }
                if self.first.get(gtid.domain).is_none() {
                    self.first.set(*gtid);
                }
                self.last.set(*gtid);
                self.open = Some(*gtid);
                self.standalone = *standalone;
            }
            Kind::Xid | Kind::Query { commit: true } => self.close(),
            Kind::Query { commit: false } if self.standalone => self.close(),
            _ => {}
        }
    }

    /// True before the first group: a GTID list there is the position before the stretch.
    fn events_before_groups(&self) -> bool {
        self.first.is_empty() && self.open.is_none()
    }

    fn close(&mut self) {
        if self.open.take().is_some() {
            self.transactions += 1;
        }
        self.standalone = false;
    }

    /// The domains whose first GTID here does not follow `before`'s (the position the previous
    /// stretch ended at): (the previous stretch's last, or `None` when it had none for the
    /// domain, and this stretch's first). A domain new to `before` is no gap when it starts at
    /// sequence number 1.
    pub fn gaps_after(&self, before: &GtidPos) -> Vec<(Option<Gtid>, Gtid)> {
        self.first
            .iter()
            .filter_map(|first| match before.get(first.domain) {
                Some(last) if first.seq == last.seq + 1 => None,
                None if first.seq == 1 => None,
                last => Some((last, first)),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Header;

    fn event(code: u8, kind: Kind) -> Event {
        Event {
            offset: 0,
            header: Header {
                timestamp: 1_700_000_000,
                code,
                server_id: 1,
                length: 40,
                next_position: 0,
                flags: 0,
            },
            kind,
            bytes: Vec::new(),
        }
    }

    fn gtid(domain: u32, seq: u64, standalone: bool) -> Event {
        from(domain, 1, seq, standalone)
    }

    fn from(domain: u32, server: u32, seq: u64, standalone: bool) -> Event {
        let gtid = Gtid {
            domain,
            server,
            seq,
        };
        event(code::GTID, Kind::Gtid { gtid, standalone })
    }

    #[test]
    fn a_change_of_server_inside_a_domain_is_recorded() {
        let mut s = Summary::default();
        for (domain, server, seq) in [
            (0, 1, 5),
            (1, 7, 3),
            (0, 1, 6),
            (0, 2, 7),
            (1, 7, 4),
            (0, 2, 8),
        ] {
            s.add(&from(domain, server, seq, true));
            s.add(&event(code::QUERY, Kind::Query { commit: false }));
        }
        let changes: Vec<String> = s.server_changes.iter().map(|g| g.to_string()).collect();
        assert_eq!(changes, ["0-2-7"]);
        assert!(s.breaks.is_empty());
    }

    #[test]
    fn groups_open_and_close_and_breaks_and_gaps_are_found() {
        let mut s = Summary::default();
        s.add(&gtid(0, 5, false));
        s.add(&event(code::XID, Kind::Xid));
        s.add(&gtid(0, 6, true));
        s.add(&event(code::QUERY, Kind::Query { commit: false }));
        s.add(&gtid(0, 8, false));
        assert_eq!((s.transactions, s.open.map(|g| g.seq)), (2, Some(8)));
        assert_eq!(s.breaks.len(), 1);
        assert_eq!((s.breaks[0].0.seq, s.breaks[0].1.seq), (6, 8));
        let before: GtidPos = "0-1-4".parse().unwrap();
        assert!(s.gaps_after(&before).is_empty());
        let before: GtidPos = "0-1-3".parse().unwrap();
        assert_eq!(s.gaps_after(&before).len(), 1);
        // A domain the position does not know is no gap only when it starts at 1.
        assert_eq!(s.gaps_after(&GtidPos::new()).len(), 1);
        let mut fresh = Summary::default();
        fresh.add(&gtid(2, 1, true));
        assert!(fresh.gaps_after(&GtidPos::new()).is_empty());
    }
}
