//! Point-in-time recovery from a cluster's backups and archived binlog segments: how far each
//! backup can be rolled forward ([`roll_forward`]), the recoverable windows ([`windows`]), and
//! the plan of one restore to a point ([`plan`]), refused before anything is written when the
//! point is outside every window.
//!
//! A backup at GTID position `B` rolls forward through the segments that continue `B` without a
//! gap in any domain: a segment continues the position reached so far when, in every domain it
//! has transactions of, its first sequence number is at most one past the position's (a
//! domain the position lacks starts at 1). Segments wholly at or before the position are
//! passed over; a segment that starts before it is replayed from it (`--start-position`
//! skips what the backup has). The window of a backup runs from the time it ended (its
//! consistent point is earlier, so any time after `ended_at` is safe) to the last event of
//! the last segment that continues it.

use ferryman_binlog::{Gtid, GtidPos};
use serde::{Deserialize, Serialize};

use crate::manifest::Manifest;
use crate::segments::SegmentManifest;
use crate::timestamp::Timestamp;
use crate::verification::Verification;
use crate::{Error, Result};

/// How far one position rolls forward through the segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    /// The indexes (into the segments given) of the segments to replay, in order.
    pub segments: Vec<usize>,
    /// The position reached.
    pub reached: GtidPos,
    /// The time of the last event reached, when a segment was used.
    pub reached_at: Option<Timestamp>,
    /// Where the roll-forward stops short of the archive's end: the gap.
    pub gap: Option<GapAt>,
    /// The first segment passed over because it is of another history than the position
    /// reached (see [`crate::segments::history`]).
    pub other_history: Option<String>,
}

/// A gap that ends a roll-forward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapAt {
    /// The last GTID reached in the gap's domain (`None`: the domain was never reached).
    pub after: Option<String>,
    /// The next GTID archived in that domain.
    pub next: String,
    /// The segment that starts after the gap.
    pub segment: String,
    /// When that segment's first event was written.
    pub next_at: Timestamp,
}

/// Rolls `from` forward through `segments` (in [`crate::Repository::list_segments`]' order).
pub fn roll_forward(from: &GtidPos, segments: &[SegmentManifest]) -> Result<Coverage> {
    let mut coverage = Coverage {
        segments: Vec::new(),
        reached: from.clone(),
        reached_at: None,
        gap: None,
        other_history: None,
    };
    for (i, segment) in segments.iter().enumerate() {
        let first: GtidPos = parse(&segment.first, segment)?;
        let last: GtidPos = parse(&segment.last, segment)?;
        let at = |g: Gtid, pos: &GtidPos| pos.get(g.domain).map_or(0, |p| p.seq);
        if last.iter().all(|g| g.seq <= at(g, &coverage.reached)) {
            continue;
        }
        if segment.other_history(&coverage.reached).is_some() {
            // Another history reusing these sequence numbers (a failover that lost
            // transactions): it does not continue this one.
            coverage
                .other_history
                .get_or_insert_with(|| segment.name.clone());
            continue;
        }
        if let Some(missing) = first.iter().find(|g| g.seq > at(*g, &coverage.reached) + 1) {
            coverage.gap = Some(GapAt {
                after: coverage.reached.get(missing.domain).map(|g| g.to_string()),
                next: missing.to_string(),
                segment: segment.name.clone(),
                next_at: segment.first_time,
            });
            return Ok(coverage);
        }
        coverage.segments.push(i);
        if let Some((after, next)) = segment.breaks.first() {
            // A break inside the segment: what follows it is not reached.
            let after: Gtid = parse(after, segment)?;
            coverage.reached.set(after);
            coverage.reached_at = Some(segment.first_time);
            coverage.gap = Some(GapAt {
                after: Some(after.to_string()),
                next: next.clone(),
                segment: segment.name.clone(),
                next_at: segment.first_time,
            });
            return Ok(coverage);
        }
        for gtid in last.iter() {
            if gtid.seq > at(gtid, &coverage.reached) {
                coverage.reached.set(gtid);
            }
        }
        coverage.reached_at = Some(segment.last_time);
    }
    Ok(coverage)
}

impl Coverage {
    /// The first GTID of `want` that the history this roll-forward went through (from
    /// `start`, through its segments of `segments`) has from another server, with that server:
    /// `want` is a position of another history, even where the sequence numbers are reached.
    pub fn foreign(
        &self,
        want: &GtidPos,
        start: &GtidPos,
        segments: &[SegmentManifest],
    ) -> Option<(Gtid, u32)> {
        let at_start = want.iter().find_map(|w| {
            start
                .get(w.domain)
                .filter(|s| s.seq == w.seq && s.server != w.server)
                .map(|s| (w, s.server))
        });
        at_start.or_else(|| {
            self.segments
                .iter()
                .find_map(|&i| segments.get(i)?.other_history(want))
        })
    }
}

/// One recoverable window: from a backup to as far as the archive continues it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// The backup it starts from.
    pub backup: String,
    /// That backup's GTID position.
    pub backup_gtid: String,
    /// The first point it recovers to: when the backup ended.
    pub from: Timestamp,
    /// The last point: the last archived event that continues the backup (`from` when no
    /// segment does).
    pub to: Timestamp,
    /// The GTID position at `to`.
    pub to_gtid: String,
    /// Segments replayed to reach `to`.
    pub segments: usize,
    /// The gap that ends the window before the archive's end, if one does.
    pub ends_at_gap: Option<GapAt>,
    /// The first segment of another history after the backup's (a failover that lost
    /// transactions), if there is one: the window does not go through it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_history: Option<String>,
}

/// The usable backups of a cluster for point-in-time recovery, newest first: a GTID position
/// recorded, and a newest verification that did not fail.
pub fn bases(backups: &[Manifest]) -> Vec<(&Manifest, GtidPos)> {
    backups
        .iter()
        .filter(|m| {
            Verification::latest_of(m).is_none_or(|v| v.status == crate::verification::Status::Ok)
        })
        .filter_map(|m| {
            let pos = m.gtid.as_deref()?.trim().parse::<GtidPos>().ok()?;
            (!pos.is_empty()).then_some((m, pos))
        })
        .collect()
}

/// The recoverable window of every usable backup (see [`bases`]), newest backup first.
pub fn windows(backups: &[Manifest], segments: &[SegmentManifest]) -> Result<Vec<Window>> {
    let mut out = Vec::new();
    for (backup, pos) in bases(backups) {
        let coverage = roll_forward(&pos, segments)?;
        let to = coverage
            .reached_at
            .filter(|t| *t > backup.ended_at)
            .unwrap_or(backup.ended_at);
        out.push(Window {
            backup: backup.id.to_string(),
            backup_gtid: pos.to_string(),
            from: backup.ended_at,
            to,
            to_gtid: coverage.reached.to_string(),
            segments: coverage.segments.len(),
            ends_at_gap: coverage.gap,
            other_history: coverage.other_history,
        });
    }
    Ok(out)
}

/// What a cluster's archive can recover to, from the repository alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveReport {
    /// Archived segments.
    pub segments: usize,
    /// The first archived event's time.
    pub archived_from: Option<Timestamp>,
    /// The last archived event's time.
    pub archived_to: Option<Timestamp>,
    /// The position the segments reach.
    pub archived_to_gtid: String,
    /// The recoverable window of each usable backup, newest backup first.
    pub windows: Vec<Window>,
    /// Every gap in the archived history, per domain, oldest first.
    pub gaps: Vec<DomainGap>,
}

/// A gap in one domain's archived history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainGap {
    /// The GTID domain.
    pub domain: u32,
    /// The last GTID archived before the gap.
    pub after: String,
    /// The first GTID archived after it.
    pub next: String,
    /// The segment that starts after it.
    pub segment: String,
}

impl ArchiveReport {
    /// The report of `backups` (newest first) and `segments` (in listing order).
    pub fn of(backups: &[Manifest], segments: &[SegmentManifest]) -> Result<ArchiveReport> {
        let chain = crate::segments::chain(segments)?;
        let gaps = chain
            .iter()
            .flat_map(|(domain, c)| {
                c.gaps.iter().map(|g| DomainGap {
                    domain: *domain,
                    after: g.after.clone(),
                    next: g.next.clone(),
                    segment: g.segment.clone(),
                })
            })
            .collect();
        Ok(ArchiveReport {
            segments: segments.len(),
            archived_from: segments.first().map(|s| s.first_time),
            archived_to: segments.iter().map(|s| s.last_time).max(),
            archived_to_gtid: crate::segments::end_position(segments)?.to_string(),
            windows: windows(backups, segments)?,
            gaps,
        })
    }
}

/// The segments no backup of `kept` needs: every transaction in them is at or before the
/// GTID position of every usable kept backup (see [`bases`]), so none of those backups rolls
/// forward through them. Without a usable backup every segment is kept (the archive is the
/// only history there is).
pub fn unneeded<'s>(
    kept: &[Manifest],
    segments: &'s [SegmentManifest],
) -> Result<Vec<&'s SegmentManifest>> {
    let bases = bases(kept);
    if bases.is_empty() {
        return Ok(Vec::new());
    }
    // Per domain the lowest position of any base; a domain some base lacks is never passed.
    let mut floor = GtidPos::new();
    let mut everywhere: Option<Vec<u32>> = None;
    for (_, pos) in &bases {
        let domains: Vec<u32> = pos.iter().map(|g| g.domain).collect();
        everywhere = Some(match everywhere {
            None => domains,
            Some(before) => before.into_iter().filter(|d| domains.contains(d)).collect(),
        });
        for gtid in pos.iter() {
            if floor.get(gtid.domain).is_none_or(|f| gtid.seq < f.seq) {
                floor.set(gtid);
            }
        }
    }
    let everywhere = everywhere.unwrap_or_default();
    let mut out = Vec::new();
    for segment in segments {
        let last: GtidPos = parse(&segment.last, segment)?;
        let passed = last.iter().all(|g| {
            everywhere.contains(&g.domain) && floor.get(g.domain).is_some_and(|f| g.seq <= f.seq)
        });
        if passed {
            out.push(segment);
        }
    }
    Ok(out)
}

/// A point to recover to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Point {
    /// The last event at or before this time.
    Time(Timestamp),
    /// This GTID position, inclusive.
    Gtid(GtidPos),
}

impl std::fmt::Display for Point {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Point::Time(t) => write!(f, "time {t}"),
            Point::Gtid(g) => write!(f, "GTID {g}"),
        }
    }
}

/// What a restore to a point uses.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The backup restored first.
    pub backup: Manifest,
    /// Its GTID position: replay starts after it.
    pub start: GtidPos,
    /// The segments replayed, in order (possibly none: the point is the backup's).
    pub segments: Vec<SegmentManifest>,
    /// Where replay stops.
    pub point: Point,
}

/// The plan of a restore to `point`: the newest usable backup before it whose window holds
/// it, and the segments from the backup to it. Refused, with the windows there are, when no
/// window holds the point.
pub fn plan(backups: &[Manifest], segments: &[SegmentManifest], point: &Point) -> Result<Plan> {
    let mut reasons = Vec::new();
    for (backup, pos) in bases(backups) {
        let coverage = roll_forward(&pos, segments)?;
        let holds = match point {
            Point::Time(t) => {
                let to = coverage.reached_at.unwrap_or(backup.ended_at);
                if *t < backup.ended_at {
                    continue;
                }
                if *t > to {
                    reasons.push(format!(
                        "backup {} rolls forward only to {to}{}",
                        backup.id,
                        gap_text(&coverage)
                    ));
                    false
                } else {
                    true
                }
            }
            Point::Gtid(want) => {
                let before_backup = want
                    .iter()
                    .any(|g| pos.get(g.domain).is_some_and(|p| p.seq > g.seq));
                if before_backup {
                    continue;
                }
                let reached = coverage.reached.reaches(want);
                let other = coverage.foreign(want, &pos, segments);
                if !reached {
                    reasons.push(format!(
                        "backup {} rolls forward only to {}{}",
                        backup.id,
                        coverage.reached,
                        gap_text(&coverage)
                    ));
                } else if let Some((wanted, server)) = other {
                    reasons.push(format!(
                        "GTID {wanted} is not in the history backup {} rolls forward through: there, server {server} wrote sequence number {} of domain {} (a failover lost transactions; restore a backup of the other history)",
                        backup.id, wanted.seq, wanted.domain
                    ));
                }
                reached && other.is_none()
            }
        };
        if holds {
            let used = coverage
                .segments
                .iter()
                .map(|&i| segments[i].clone())
                .filter(|s| match point {
                    Point::Time(t) => s.first_time <= *t,
                    Point::Gtid(_) => true,
                })
                .collect();
            return Ok(Plan {
                backup: backup.clone(),
                start: pos,
                segments: used,
                point: point.clone(),
            });
        }
        // The newest backup before the point decides: an older one cannot cross the same gap.
        break;
    }
    if reasons.is_empty() {
        reasons.push(
            "no backup ends before it (only backups with a GTID position whose newest verification did not fail count)"
                .to_owned(),
        );
    }
    Err(Error::Unrecoverable {
        point: point.to_string(),
        reasons: reasons.join("; "),
    })
}

/// Where a replay from `start` stops for a time: before the first transaction written after
/// it, as `mariadb-binlog --stop-datetime` does. A prefix of the binlog, never a subset: every
/// state it gives existed on the primary. Fed the segments' bytes in replay order.
#[derive(Debug, Clone)]
pub struct TimeStop {
    start: GtidPos,
    stop: GtidPos,
    time: i64,
    ended: bool,
}

impl TimeStop {
    /// A replay from `start` to `time` (seconds since the epoch).
    pub fn new(start: &GtidPos, time: i64) -> TimeStop {
        TimeStop {
            start: start.clone(),
            stop: start.clone(),
            time,
            ended: false,
        }
    }

    /// Reads the next segment's binlog bytes; false once the stop is found (later segments
    /// are not needed).
    pub fn take(&mut self, bytes: &[u8]) -> Result<bool> {
        let unreadable = |e: ferryman_binlog::Error| Error::DamagedCopy {
            location: "an archived binlog segment".to_owned(),
            detail: e.to_string(),
        };
        let mut reader =
            ferryman_binlog::Reader::new(bytes, "a binlog segment").map_err(unreadable)?;
        while !self.ended {
            let Some(event) = reader.next_event().map_err(unreadable)? else {
                break;
            };
            let ferryman_binlog::Kind::Gtid { gtid, .. } = event.kind else {
                continue;
            };
            let after_start = self.start.get(gtid.domain).is_none_or(|s| s.seq < gtid.seq);
            if after_start && i64::from(event.header.timestamp) > self.time {
                self.ended = true;
            } else if self.stop.get(gtid.domain).is_none_or(|s| s.seq < gtid.seq) {
                self.stop.set(gtid);
            }
        }
        Ok(!self.ended)
    }

    /// Per domain the last GTID of the prefix, else `start`'s.
    pub fn stop(&self) -> &GtidPos {
        &self.stop
    }
}

/// `", where the archive has a gap (...)"`, or where another history starts.
fn gap_text(coverage: &Coverage) -> String {
    if let (None, Some(other)) = (&coverage.gap, &coverage.other_history) {
        return format!(
            ", where the archive goes on with another history (segment {other}: a failover lost transactions)"
        );
    }
    match &coverage.gap {
        Some(g) => format!(
            ", where the archive has a gap (the next archived transaction, {}, follows {} in segment {})",
            g.next,
            g.after.as_deref().unwrap_or("nothing archived in its domain"),
            g.segment
        ),
        None => " (the archive's end)".to_owned(),
    }
}

fn parse<T>(text: &str, segment: &SegmentManifest) -> Result<T>
where
    T: std::str::FromStr<Err = ferryman_binlog::Error>,
{
    text.parse()
        .map_err(|e: ferryman_binlog::Error| Error::Manifest {
            location: format!("binlog segment {}/{}", segment.cluster, segment.name),
            detail: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::BackupId;
    use crate::manifest::CompressionInfo;

    /// A physical backup of `db1` with `gtid`, ended at `ended` (seconds after an epoch).
    fn backup(job: u64, gtid: &str, ended: i64) -> Manifest {
        let id = format!("c/db1/20261120T0{job}0000Z-j{job}");
        let json = serde_json::json!({
            "format_version": 1, "id": id, "cluster": "c", "server": "db1", "host": "h",
            "kind": "physical", "tool": "mariabackup", "tool_version": null,
            "format": "xbstream", "payload": "payload.xbstream.zst", "job_id": job,
            "started_at": Timestamp::from_unix(ended - 10).to_string(),
            "ended_at": Timestamp::from_unix(ended).to_string(),
            "raw_bytes": 1, "stored_bytes": 1, "raw_sha256": "", "stored_sha256": "",
            "compression": {"algorithm": "zstd", "level": 1},
            "gtid": gtid, "binlog_file": null, "binlog_pos": null, "captured": {}, "extra": {}
        });
        let id: BackupId = id.parse().unwrap();
        Manifest::from_json(json.to_string().as_bytes(), &id).unwrap()
    }

    /// A segment of domain 0 from `first` to `last`, its events from `t0` to `t1`.
    fn segment(name: &str, first: u64, last: u64, t0: i64, t1: i64) -> SegmentManifest {
        SegmentManifest {
            cluster: "c".into(),
            name: name.into(),
            source: "db1".into(),
            server_version: None,
            before: Some(format!("0-1-{}", first - 1)),
            first: format!("0-1-{first}"),
            last: format!("0-1-{last}"),
            ends_inside: None,
            breaks: Vec::new(),
            server_changes: Some(Vec::new()),
            first_time: Timestamp::from_unix(t0),
            last_time: Timestamp::from_unix(t1),
            events: 1,
            transactions: last - first + 1,
            raw_bytes: 1,
            raw_sha256: String::new(),
            stored_bytes: 1,
            stored_sha256: String::new(),
            payload: "segment.binlog.zst".into(),
            compression: CompressionInfo {
                algorithm: "zstd".into(),
                level: 1,
            },
            encryption: None,
            stored_at: Timestamp::from_unix(t1),
            signature: None,
        }
    }

    fn pos(text: &str) -> GtidPos {
        text.parse().unwrap()
    }

    #[test]
    fn a_backup_rolls_forward_through_continuing_segments_and_stops_at_a_gap() {
        let segments = vec![
            segment("s1", 1, 10, 1000, 1100),
            segment("s2", 11, 20, 1100, 1200),
            segment("s3", 21, 30, 1200, 1300),
            // 31..=40 purged before they were archived.
            segment("s5", 41, 50, 1400, 1500),
        ];
        // From inside s2: s1 passed over, s2 replayed from the backup's position on.
        let c = roll_forward(&pos("0-1-15"), &segments).unwrap();
        assert_eq!(c.segments, vec![1, 2]);
        assert_eq!(c.reached, pos("0-1-30"));
        assert_eq!(c.reached_at, Some(Timestamp::from_unix(1300)));
        let gap = c.gap.unwrap();
        assert_eq!(
            (gap.after.as_deref(), gap.next.as_str()),
            (Some("0-1-30"), "0-1-41")
        );
        // After the gap, a later backup rolls forward to the end.
        let c = roll_forward(&pos("0-1-40"), &segments).unwrap();
        assert_eq!(
            (c.segments, c.reached, c.gap),
            (vec![3], pos("0-1-50"), None)
        );
    }

    #[test]
    fn segments_before_every_kept_backup_are_the_only_ones_not_needed() {
        let segments = vec![
            segment("s1", 1, 10, 1000, 1100),
            segment("s2", 11, 20, 1100, 1200),
            segment("s3", 21, 30, 1200, 1300),
        ];
        let names = |v: Vec<&SegmentManifest>| v.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
        // The oldest kept backup is at 15: s1 goes, s2 (which continues it) stays.
        let kept = vec![backup(2, "0-1-25", 1250), backup(1, "0-1-15", 1150)];
        assert_eq!(names(unneeded(&kept, &segments).unwrap()), ["s1"]);
        // At 20 exactly: s2 is wholly before it too.
        let kept = vec![backup(1, "0-1-20", 1210)];
        assert_eq!(names(unneeded(&kept, &segments).unwrap()), ["s1", "s2"]);
        // No usable backup: everything stays.
        assert!(unneeded(&[], &segments).unwrap().is_empty());
    }

    #[test]
    fn windows_and_plans_refuse_points_outside_or_across_a_gap() {
        let segments = vec![
            segment("s1", 11, 20, 1100, 1200),
            segment("s2", 21, 30, 1200, 1300),
            segment("s4", 41, 50, 1400, 1500),
        ];
        // Newest first, as listed.
        let backups = vec![backup(2, "0-1-45", 1450), backup(1, "0-1-10", 1050)];
        let w = windows(&backups, &segments).unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!(
            (w[0].from.unix(), w[0].to.unix(), w[0].to_gtid.as_str()),
            (1450, 1500, "0-1-50")
        );
        assert_eq!(
            (w[1].from.unix(), w[1].to.unix(), w[1].to_gtid.as_str()),
            (1050, 1300, "0-1-30")
        );
        assert!(w[1].ends_at_gap.is_some() && w[0].ends_at_gap.is_none());

        // Inside the first window: the older backup and the segments up to the point.
        let p = plan(
            &backups,
            &segments,
            &Point::Time(Timestamp::from_unix(1250)),
        )
        .unwrap();
        assert_eq!(p.backup.job_id, 1);
        assert_eq!(p.segments.len(), 2);
        let p = plan(&backups, &segments, &Point::Gtid(pos("0-1-25"))).unwrap();
        assert_eq!((p.backup.job_id, p.segments.len()), (1, 2));
        // Inside the second: the newer backup.
        let p = plan(&backups, &segments, &Point::Gtid(pos("0-1-48"))).unwrap();
        assert_eq!((p.backup.job_id, p.start.clone()), (2, pos("0-1-45")));
        // In the gap, by time and by GTID: refused, naming the gap.
        for point in [
            Point::Time(Timestamp::from_unix(1350)),
            Point::Gtid(pos("0-1-35")),
        ] {
            let err = plan(&backups, &segments, &point).unwrap_err().to_string();
            assert!(
                err.contains("outside every recoverable window") && err.contains("0-1-41"),
                "{err}"
            );
        }
        // Before every backup: refused.
        let err = plan(&backups, &segments, &Point::Time(Timestamp::from_unix(900)))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no backup"), "{err}");
        // After the archive's end: refused.
        let err = plan(
            &backups,
            &segments,
            &Point::Time(Timestamp::from_unix(1600)),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("archive's end"), "{err}");
    }

    /// [`segment`] written by server `server`.
    fn segment_by(
        server: u32,
        name: &str,
        first: u64,
        last: u64,
        t0: i64,
        t1: i64,
    ) -> SegmentManifest {
        let mut s = segment(name, first, last, t0, t1);
        s.before = Some(format!("0-{server}-{}", first - 1));
        s.first = format!("0-{server}-{first}");
        s.last = format!("0-{server}-{last}");
        s
    }

    #[test]
    fn a_history_that_reuses_sequence_numbers_never_continues_another() {
        // db1 wrote 1..=20; db2 had only up to 16 when it was promoted (17..=20 lost), wrote
        // 0-2-17.., and the archive went on from it at 0-2-25.
        let segments = vec![
            segment_by(1, "s1", 1, 10, 1000, 1100),
            segment_by(1, "s2", 11, 20, 1100, 1200),
            segment_by(2, "n1", 26, 40, 1300, 1400),
        ];
        // The old history rolls to its end, not into the new one.
        let c = roll_forward(&pos("0-1-5"), &segments).unwrap();
        assert_eq!(
            (c.segments.clone(), c.reached.clone()),
            (vec![0, 1], pos("0-1-20"))
        );
        assert_eq!(c.gap.map(|g| g.next), Some("0-2-26".to_owned()));
        // A backup of the new history at 0-2-18: s2's 19 and 20 are another history's.
        let c = roll_forward(&pos("0-2-18"), &segments).unwrap();
        assert!(c.segments.is_empty(), "{c:?}");
        assert_eq!(c.other_history.as_deref(), Some("s2"));
        assert_eq!(c.reached, pos("0-2-18"));
        // A backup of the new history after the archive went on with it.
        let c = roll_forward(&pos("0-2-30"), &segments).unwrap();
        assert_eq!(
            (c.segments, c.reached, c.gap),
            (vec![2], pos("0-2-40"), None)
        );
        // Before the failover both histories are one: 0-1-15 goes on in db1's.
        let c = roll_forward(&pos("0-1-15"), &segments).unwrap();
        assert_eq!((c.segments, c.reached), (vec![1], pos("0-1-20")));

        // A GTID point of one history is never reached through the other.
        let backups = vec![backup(1, "0-1-5", 1050)];
        let err = plan(&backups, &segments, &Point::Gtid(pos("0-2-19")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not in the history") && err.contains("server 1"),
            "{err}"
        );
        let p = plan(&backups, &segments, &Point::Gtid(pos("0-1-19"))).unwrap();
        assert_eq!(p.segments.len(), 2);
        let backups = vec![backup(2, "0-2-30", 1350), backup(1, "0-1-5", 1050)];
        let p = plan(&backups, &segments, &Point::Gtid(pos("0-2-35"))).unwrap();
        assert_eq!((p.backup.job_id, p.segments.len()), (2, 1));
        let w = windows(&[backup(3, "0-2-18", 1250)], &segments).unwrap();
        assert_eq!(w[0].other_history.as_deref(), Some("s2"));
    }

    #[test]
    fn a_checkpoint_of_another_history_is_no_proof_of_the_archive() {
        let segments = vec![
            segment_by(1, "s1", 1, 10, 1000, 1100),
            segment_by(1, "s2", 11, 20, 1100, 1200),
        ];
        // A dump of db2 at 0-2-18 (db2 lost 17..=20 in a failover): db1's segments reach
        // sequence number 18, but not db2's transaction 18.
        let mut checkpoint = backup(2, "0-2-18", 1250);
        checkpoint.tool = crate::manifest::Tool::Mysqldump;
        checkpoint.table_rows = [("shop.t".to_owned(), 18)].into_iter().collect();
        let backups = vec![checkpoint.clone(), backup(1, "0-1-5", 1050)];
        let why = crate::proofs::proof_plan(&backups, &segments).unwrap_err();
        assert!(why.contains("another history"), "{why}");
        // The same dump in db1's history is a proof to make.
        checkpoint.gtid = Some("0-1-18".to_owned());
        let backups = vec![checkpoint, backup(1, "0-1-5", 1050)];
        let plan = crate::proofs::proof_plan(&backups, &segments).unwrap();
        assert_eq!(plan.plan.segments.len(), 2);
    }
}
