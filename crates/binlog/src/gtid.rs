//! MariaDB GTIDs: [`Gtid`] (`domain-server-seq`) and [`GtidPos`], a position with one GTID per
//! replication domain (`0-1-50,1-2-7`, as `@@gtid_binlog_pos` and `@@gtid_slave_pos` write it).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::Error;

/// One MariaDB GTID: the domain, the server that committed the transaction, its sequence
/// number in the domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gtid {
    /// The replication domain (`gtid_domain_id`).
    pub domain: u32,
    /// The server id of the server that committed it.
    pub server: u32,
    /// The sequence number, increasing within the domain.
    pub seq: u64,
}

impl fmt::Display for Gtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.domain, self.server, self.seq)
    }
}

impl FromStr for Gtid {
    type Err = Error;

    fn from_str(s: &str) -> Result<Gtid, Error> {
        let bad = || Error::Gtid {
            value: s.to_owned(),
        };
        let mut parts = s.trim().split('-');
        let (Some(d), Some(srv), Some(seq), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        Ok(Gtid {
            domain: d.parse().map_err(|_| bad())?,
            server: srv.parse().map_err(|_| bad())?,
            seq: seq.parse().map_err(|_| bad())?,
        })
    }
}

/// A GTID position: the last GTID of each domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtidPos(BTreeMap<u32, Gtid>);

impl GtidPos {
    /// The empty position.
    pub fn new() -> GtidPos {
        GtidPos::default()
    }

    /// Records `gtid` as its domain's last.
    pub fn set(&mut self, gtid: Gtid) {
        self.0.insert(gtid.domain, gtid);
    }

    /// The last GTID of `domain`.
    pub fn get(&self, domain: u32) -> Option<Gtid> {
        self.0.get(&domain).copied()
    }

    /// Every domain's GTID, by domain.
    pub fn iter(&self) -> impl Iterator<Item = Gtid> + '_ {
        self.0.values().copied()
    }

    /// True when no domain has a GTID.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when this position holds every GTID of `other`: in each of `other`'s domains it
    /// is at the same sequence number or past it.
    pub fn reaches(&self, other: &GtidPos) -> bool {
        other
            .iter()
            .all(|g| self.get(g.domain).is_some_and(|s| s.seq >= g.seq))
    }
}

impl fmt::Display for GtidPos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.iter().map(|g| g.to_string()).collect();
        f.write_str(&parts.join(","))
    }
}

impl FromStr for GtidPos {
    type Err = Error;

    /// Parses `0-1-50,1-2-7` (spaces and an empty string allowed; a domain named twice is an
    /// error).
    fn from_str(s: &str) -> Result<GtidPos, Error> {
        let mut pos = GtidPos::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let gtid: Gtid = part.parse()?;
            if pos.get(gtid.domain).is_some() {
                return Err(Error::Gtid {
                    value: s.to_owned(),
                });
            }
            pos.set(gtid);
        }
        Ok(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtids_and_positions_round_trip_and_refuse_garbage() {
        let g: Gtid = "0-1-50".parse().unwrap();
        assert_eq!((g.domain, g.server, g.seq), (0, 1, 50));
        assert_eq!(g.to_string(), "0-1-50");
        let pos: GtidPos = " 1-2-7, 0-1-50 ".parse().unwrap();
        assert_eq!(pos.to_string(), "0-1-50,1-2-7");
        assert!("".parse::<GtidPos>().unwrap().is_empty());
        for bad in ["0-1", "a-1-2", "0-1-2-3", "0-1-50,0-1-51", "-1-2"] {
            assert!(bad.parse::<GtidPos>().is_err(), "{bad}");
        }
    }
}
