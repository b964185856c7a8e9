//! Which history a segment belongs to.
//!
//! After a failover that lost transactions, the new primary reuses the sequence numbers of
//! the transactions it never had: the archive holds `0-1-97`..`0-1-100` from the old primary,
//! and the new one writes `0-2-97`, `0-2-98`, ... By sequence numbers alone a segment of one
//! history continues a position of the other, and a replay would apply the old primary's
//! lost transactions on a copy of the new one's (or skip the new one's as "already there").
//! The server id of each GTID tells them apart: a segment records its first and last GTID of
//! each domain, the position before it, and every change of server inside it
//! ([`SegmentManifest::server_changes`]), so which server wrote a sequence number it holds is
//! known. A position and a segment that name different servers for the same sequence number
//! are two histories, and the segment does not continue the position.
//!
//! Manifests written before the server changes were recorded tell only their first and last
//! GTIDs; in between the answer is "unknown", taken as agreeing (as everything was then).

use ferryman_binlog::{Gtid, GtidPos};

use super::SegmentManifest;

impl SegmentManifest {
    /// The server that wrote transaction `seq` of `domain` as this segment has it (the
    /// position before the segment for the sequence number just before its first); `None`
    /// when the segment does not hold it or the manifest does not tell.
    pub fn server_of(&self, domain: u32, seq: u64) -> Option<u32> {
        let first = self.first.parse::<GtidPos>().ok()?.get(domain)?;
        if seq + 1 == first.seq {
            let before = self.before.as_deref()?.parse::<GtidPos>().ok()?;
            return before
                .get(domain)
                .filter(|b| b.seq == seq)
                .map(|b| b.server);
        }
        let last = self.last.parse::<GtidPos>().ok()?.get(domain)?;
        if seq < first.seq || seq > last.seq {
            return None;
        }
        if seq == last.seq {
            return Some(last.server);
        }
        if seq == first.seq {
            return Some(first.server);
        }
        let changes = self.server_changes.as_ref()?;
        let mut server = first.server;
        for change in changes.iter().filter_map(|c| c.parse::<Gtid>().ok()) {
            if change.domain == domain && change.seq <= seq {
                server = change.server;
            }
        }
        Some(server)
    }

    /// The first GTID of `reached` this segment holds written by another server: the segment
    /// is of another history than the position (see the module documentation).
    pub fn other_history(&self, reached: &GtidPos) -> Option<(Gtid, u32)> {
        reached.iter().find_map(|r| {
            self.server_of(r.domain, r.seq)
                .filter(|server| *server != r.server)
                .map(|server| (r, server))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(before: &str, first: &str, last: &str, changes: Option<&[&str]>) -> SegmentManifest {
        let json = serde_json::json!({
            "cluster": "c", "name": "s", "source": "db1", "server_version": null,
            "before": before, "first": first, "last": last, "ends_inside": null,
            "first_time": "2026-12-04T10:00:00Z", "last_time": "2026-12-04T10:01:00Z",
            "events": 1, "transactions": 1, "raw_bytes": 1, "raw_sha256": "", "stored_bytes": 1,
            "stored_sha256": "", "payload": "segment.binlog.zst",
            "compression": {"algorithm": "zstd", "level": 3},
            "server_changes": changes, "stored_at": "2026-12-04T10:01:00Z"
        });
        serde_json::from_value(json).unwrap()
    }

    fn pos(text: &str) -> GtidPos {
        text.parse().unwrap()
    }

    #[test]
    fn the_server_of_each_sequence_number_comes_from_the_manifest() {
        // db1 wrote 0-1-90..0-1-95, then a switchover: db2 from 0-2-96 on.
        let s = segment(
            "0-1-89,1-5-3",
            "0-1-90,1-5-4",
            "0-2-100,1-5-9",
            Some(&["0-2-96"]),
        );
        let of = |seq| s.server_of(0, seq);
        assert_eq!(
            [of(89), of(90), of(95), of(96), of(100)],
            [Some(1), Some(1), Some(1), Some(2), Some(2)]
        );
        assert_eq!(
            (of(88), of(101), s.server_of(1, 3), s.server_of(2, 1)),
            (None, None, Some(5), None)
        );
        assert!(s.other_history(&pos("0-1-93,1-5-6")).is_none());
        assert!(s.other_history(&pos("0-2-98")).is_none());
        // A lossy failover elsewhere: 0-3-97 is not this segment's 97.
        assert_eq!(
            s.other_history(&pos("0-3-97,1-5-6"))
                .map(|(g, s)| (g.to_string(), s)),
            Some(("0-3-97".to_owned(), 2))
        );
        // The position before the segment tells the sequence number just before it.
        assert!(s.other_history(&pos("0-7-89")).is_some());
    }

    #[test]
    fn an_old_manifest_tells_only_its_ends() {
        let s = segment("0-1-89", "0-1-90", "0-2-100", None);
        assert_eq!(
            (s.server_of(0, 90), s.server_of(0, 95), s.server_of(0, 100)),
            (Some(1), None, Some(2))
        );
        assert!(s.other_history(&pos("0-3-95")).is_none());
    }
}
