//! Archived binary-log segments (point-in-time recovery): [`Repository::store_segment`],
//! [`Repository::list_segments`], and [`chain`], the check that a cluster's segments follow
//! each other without a gap in any GTID domain.
//!
//! ```text
//! Binlogs/<cluster>/<first event's UTC time>-<20-digit progress>-<8 hex of its sha256>/segment.binlog.zst
//! Binlogs/<cluster>/<...>/manifest.json                       (written last)
//! ```
//!
//! The progress is the sum of the sequence numbers of the GTID position before the segment:
//! names sort in history order, so `ls` lists segments in the order they are replayed in.
//!
//! A segment is a stretch of one server's binlog laid out as a binlog file (the magic, the
//! format description, events), so `zstd -dc segment.binlog.zst > s.bin` (after `age -d` in an
//! encrypted repository) gives `mariadb-binlog s.bin` a file it reads. Before anything is
//! stored, every event is read back and checked (its CRC32, its length): a damaged or cut
//! stretch is refused, never archived. What it holds (GTIDs per domain, times, transactions)
//! goes into its manifest, from the events themselves.

pub mod history;

use std::collections::BTreeMap;
use std::sync::Arc;

use ferryman_binlog::{Gtid, GtidPos, Reader, Summary};
use serde::{Deserialize, Serialize};

use crate::crypt::{Encryption, MaybeDecrypt};
use crate::inspect::Accept;
use crate::layout::{check_cluster, BINLOGS, MANIFEST};
use crate::manifest::CompressionInfo;
use crate::pipeline::{self, Compression};
use crate::repository::Repository;
use crate::storage::Key;
use crate::timestamp::Timestamp;
use crate::{Error, Result};

/// The payload's name in a segment's directory.
pub const SEGMENT: &str = "segment.binlog.zst";

/// What a segment's `manifest.json` records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentManifest {
    /// The cluster.
    pub cluster: String,
    /// The segment's directory name.
    pub name: String,
    /// The server it was read from (its configured name).
    pub source: String,
    /// That server's version, from the format description.
    pub server_version: Option<String>,
    /// The GTID position before the segment, when it starts with a GTID list.
    pub before: Option<String>,
    /// The first GTID of each domain (`0-1-51,1-2-8`).
    pub first: String,
    /// The last GTID of each domain.
    pub last: String,
    /// The group the segment ends inside (its commit is in the next segment), if any.
    pub ends_inside: Option<String>,
    /// Where a domain's sequence numbers break inside the segment: (last before, next).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breaks: Vec<(String, String)>,
    /// Every GTID written by another server than the GTID before it in its domain (a
    /// switchover inside the segment); `None` in manifests written before this was recorded.
    /// Which history the segment is of: [`history`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_changes: Option<Vec<String>>,
    /// The first event's time (UTC).
    pub first_time: Timestamp,
    /// The last event's time (UTC).
    pub last_time: Timestamp,
    /// Events.
    pub events: u64,
    /// Groups (transactions, DDL) that end in it.
    pub transactions: u64,
    /// Size of the binlog bytes.
    pub raw_bytes: u64,
    /// Their sha256.
    pub raw_sha256: String,
    /// Size of what is stored.
    pub stored_bytes: u64,
    /// Its sha256.
    pub stored_sha256: String,
    /// The payload's name in the directory.
    pub payload: String,
    /// How it is compressed.
    pub compression: CompressionInfo,
    /// How it is encrypted, if it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    /// When it was stored.
    pub stored_at: Timestamp,
    /// The manager's signature of everything above (see [`crate::signing`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<crate::signing::Signature>,
}

/// `Binlogs/<cluster>`.
fn cluster_dir(cluster: &str) -> Result<Key> {
    check_cluster(cluster)?;
    Key::new(BINLOGS)?.join(cluster)
}

impl Repository {
    /// Checks the binlog stretch `bytes` (a binlog file's layout) event by event and stores it
    /// as a segment of `cluster` read from server `source`; the manifest goes last. `before`
    /// is the GTID position the stretch starts after, when the caller knows it (an archiver's
    /// spool does); otherwise the stretch's own GTID list says it (a binlog file's does). A
    /// stretch that is not a binlog, is damaged or cut, or holds no transaction is refused and
    /// nothing is stored.
    pub async fn store_segment(
        &self,
        cluster: &str,
        source: &str,
        before: Option<GtidPos>,
        bytes: impl Into<Arc<Vec<u8>>>,
        compression: Compression,
    ) -> Result<SegmentManifest> {
        let dir = cluster_dir(cluster)?;
        let bytes: Arc<Vec<u8>> = bytes.into();
        // One pass over the bytes before anything is written: the events checked, and the
        // sha256 that names the segment (the pipeline does not hash them again).
        let (summary, raw_sha) = {
            let bytes = Arc::clone(&bytes);
            tokio::task::spawn_blocking(move || {
                let summary = summarize(&bytes);
                (
                    summary,
                    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes[..])),
                )
            })
            .await
            .map_err(Error::worker)?
        };
        let summary = summary?;
        if summary.first.is_empty() {
            return Err(Error::InvalidRequest {
                detail: "a binlog segment without any GTID".to_owned(),
            });
        }
        let (Some(first_time), Some(last_time)) = (summary.first_time, summary.last_time) else {
            return Err(Error::InvalidRequest {
                detail: "a binlog segment without any timed event".to_owned(),
            });
        };
        let first_time = Timestamp::from_unix(i64::from(first_time));
        let before = before.or(summary.before.clone());
        // Time, then how far along the history: the names sort in history order (`ls` gives
        // the order to replay them in), the hash makes them unique.
        let along = progress_of(before.as_ref(), &summary.first);
        let name = format!("{}-{along:020}-{}", first_time.compact(), &raw_sha[..8]);
        let seg_dir = dir.join(&name)?;
        let encryption = self.keys().map(|k| k.encryption());
        let payload = format!("{SEGMENT}{}", crate::crypt::suffix(encryption.is_some()));
        let _in_flight = self
            .begin_write(&seg_dir)
            .ok_or_else(|| Error::AlreadyExists {
                what: format!("binlog segment {cluster}/{name} (being stored)"),
                root: self.location(),
            })?;
        let manifest_key = seg_dir.join(MANIFEST)?;
        if let Some(bytes) = self.storage().get(&manifest_key).await? {
            // The same bytes were stored before: the segment is there.
            return self.parse_segment(&bytes, &manifest_key);
        }
        let subject = format!("binlog segment {cluster}/{name} (from {source})");
        let stored = pipeline::store_memory(
            self.storage(),
            &seg_dir.join(&payload)?,
            compression,
            self.shared_keys(),
            Box::new(Accept),
            bytes,
            raw_sha.clone(),
            &subject,
        )
        .await;
        let stored = match stored {
            Ok(stored) => stored,
            Err(e) => {
                let _ = self.storage().delete_prefix(&seg_dir).await;
                return Err(e);
            }
        };
        let manifest = SegmentManifest {
            cluster: cluster.to_owned(),
            name,
            source: source.to_owned(),
            server_version: summary.server_version.clone(),
            before: before.map(|b| b.to_string()),
            first: summary.first.to_string(),
            last: summary.last.to_string(),
            ends_inside: summary.open.map(|g| g.to_string()),
            breaks: summary
                .breaks
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            server_changes: Some(
                summary
                    .server_changes
                    .iter()
                    .map(|g| g.to_string())
                    .collect(),
            ),
            first_time,
            last_time: Timestamp::from_unix(i64::from(last_time)),
            events: summary.events,
            transactions: summary.transactions,
            raw_bytes: stored.raw_bytes,
            raw_sha256: stored.raw_sha256,
            stored_bytes: stored.stored_bytes,
            stored_sha256: stored.stored_sha256,
            payload,
            compression: CompressionInfo {
                algorithm: "zstd".to_owned(),
                level: compression.level,
            },
            encryption,
            stored_at: Timestamp::now(),
            signature: None,
        };
        let mut manifest = manifest;
        if let Some(signer) = self.signatures().and_then(|s| s.signer()) {
            manifest.signature = Some(signer.signature_of(&manifest));
        }
        let json = crate::signing::pretty(&manifest)?;
        if let Err(e) = self.storage().put(&manifest_key, json).await {
            let _ = self.storage().delete_prefix(&seg_dir).await;
            return Err(e.about(&subject));
        }
        Ok(manifest)
    }

    /// The binlog bytes of `segment` (as listed by [`Repository::list_segments`]), decrypted,
    /// decompressed, and checked against its manifest (size and sha256) before they are
    /// returned: a damaged copy is [`Error::DamagedCopy`], and nothing of it is used.
    pub async fn read_segment(&self, segment: &SegmentManifest) -> Result<Vec<u8>> {
        let key = cluster_dir(&segment.cluster)?
            .join(&segment.name)?
            .join(&segment.payload)?;
        let object = self.storage().open(&key).await?;
        let location = format!("{key} in {}", self.location());
        let keys = self.shared_keys();
        let (encryption, size, sha) = (
            segment.encryption.clone(),
            segment.raw_bytes,
            segment.raw_sha256.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let damaged = |detail: String| Error::DamagedCopy {
                location: location.clone(),
                detail,
            };
            let plain = MaybeDecrypt::open(object, encryption.as_ref(), keys.as_deref(), &location)?;
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            zstd::stream::read::Decoder::new(plain)
                .and_then(|mut d| std::io::Read::read_to_end(&mut d, &mut bytes))
                .map_err(|e| damaged(format!("it does not decompress: {e}")))?;
            let got = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
            if bytes.len() as u64 != size || got != sha {
                return Err(damaged(format!(
                    "{} bytes with sha256 {got}, the manifest records {size} bytes with sha256 {sha}",
                    bytes.len()
                )));
            }
            Ok(bytes)
        })
        .await
        .map_err(Error::worker)?
    }

    /// Deletes segment `name` of `cluster`: its manifest first (so that a half-deleted segment
    /// is no longer listed as one), then its directory.
    pub async fn delete_segment(&self, cluster: &str, name: &str) -> Result<()> {
        let dir = cluster_dir(cluster)?.join(name)?;
        self.storage().delete(&dir.join(MANIFEST)?).await?;
        self.storage().delete_prefix(&dir).await?;
        tracing::info!(cluster, segment = name, "binlog segment deleted");
        Ok(())
    }

    /// The segments of `cluster`, in the order of their first event, then of the position they
    /// start from. A manifest that cannot be read is an error: a chain with an unreadable link
    /// cannot be judged.
    pub async fn list_segments(&self, cluster: &str) -> Result<Vec<SegmentManifest>> {
        let dir = cluster_dir(cluster)?;
        let mut out = Vec::new();
        for entry in self.storage().list(Some(&dir)).await? {
            if !entry.is_dir {
                continue;
            }
            let key = dir.join(&entry.name)?.join(MANIFEST)?;
            if let Some(bytes) = self.storage().get(&key).await? {
                out.push(self.parse_segment(&bytes, &key)?);
            }
        }
        out.sort_by_key(|m| (m.first_time, progress(m), m.name.clone()));
        Ok(out)
    }
}

/// How far along its history a segment starts: the sum of the sequence numbers of the
/// position before it (its GTID list), else of its first GTIDs. Times have one-second
/// resolution, so several segments of a busy second are ordered by this: a later segment of
/// one history never starts at a smaller position.
fn progress(m: &SegmentManifest) -> u128 {
    let before = m.before.as_deref().and_then(|b| b.parse::<GtidPos>().ok());
    let first = m.first.parse::<GtidPos>().unwrap_or_default();
    progress_of(before.as_ref(), &first)
}

/// The sum of the sequence numbers of `before` (when known and not empty), else of `first`
/// less one.
fn progress_of(before: Option<&GtidPos>, first: &GtidPos) -> u128 {
    let sum = |pos: &GtidPos| pos.iter().map(|g| u128::from(g.seq)).sum::<u128>();
    match before {
        Some(before) if !before.is_empty() => sum(before),
        _ => sum(first).saturating_sub(1),
    }
}

impl Repository {
    /// A segment's manifest, its signature checked when this repository checks them.
    fn parse_segment(&self, bytes: &[u8], key: &Key) -> Result<SegmentManifest> {
        if let Some(signatures) = self.signatures() {
            signatures.check(bytes, &format!("{key} in {}", self.location()))?;
        }
        serde_json::from_slice(bytes).map_err(|e| Error::Manifest {
            location: key.to_string(),
            detail: format!("not a segment manifest: {e}"),
        })
    }
}

/// Reads and checks every event of `bytes`.
fn summarize(bytes: &[u8]) -> Result<Summary> {
    let refused = |e: ferryman_binlog::Error| Error::InvalidRequest {
        detail: format!("the binlog segment was refused: {e}"),
    };
    let mut reader = Reader::new(bytes, "the binlog segment").map_err(refused)?;
    let mut summary = Summary::default();
    while let Some(event) = reader.next_event().map_err(refused)? {
        summary.add(&event);
    }
    Ok(summary)
}

/// One domain's archived history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainChain {
    /// The first archived GTID.
    pub first: String,
    /// The last archived GTID.
    pub last: String,
    /// Where the history breaks: after which GTID, the next GTID archived, and the segment
    /// that starts after the break.
    pub gaps: Vec<Gap>,
}

/// A break in a domain's archived history: the transactions between `after` and `next` are
/// in no segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// The last GTID archived before the gap.
    pub after: String,
    /// The first GTID archived after it.
    pub next: String,
    /// The segment that starts after the gap.
    pub segment: String,
}

/// Walks `segments` (in [`Repository::list_segments`]' order) domain by domain: every domain's
/// first and last archived GTID, and every gap where a segment does not continue the
/// previous one (or breaks inside itself).
pub fn chain(segments: &[SegmentManifest]) -> Result<BTreeMap<u32, DomainChain>> {
    let mut domains: BTreeMap<u32, DomainChain> = BTreeMap::new();
    let mut last = GtidPos::new();
    for segment in segments {
        let first: GtidPos = recorded(&segment.first, segment)?;
        let seg_last: GtidPos = recorded(&segment.last, segment)?;
        for start in first.iter() {
            let domain = domains.entry(start.domain).or_insert_with(|| DomainChain {
                first: start.to_string(),
                last: start.to_string(),
                gaps: Vec::new(),
            });
            if let Some(prev) = last.get(start.domain) {
                if !follows(prev, start) {
                    domain.gaps.push(Gap {
                        after: prev.to_string(),
                        next: start.to_string(),
                        segment: segment.name.clone(),
                    });
                }
            }
        }
        for (after, next) in &segment.breaks {
            let next_gtid: Gtid = recorded(next, segment)?;
            if let Some(domain) = domains.get_mut(&next_gtid.domain) {
                domain.gaps.push(Gap {
                    after: after.clone(),
                    next: next.clone(),
                    segment: segment.name.clone(),
                });
            }
        }
        for end in seg_last.iter() {
            if let Some(domain) = domains.get_mut(&end.domain) {
                domain.last = end.to_string();
            }
            last.set(end);
        }
    }
    Ok(domains)
}

/// The GTID position the archive reaches with `segments` (in [`Repository::list_segments`]'
/// order): each domain's last archived GTID, and the position before the first segment for
/// domains no segment has a transaction of. Where an archiver goes on from.
pub fn end_position(segments: &[SegmentManifest]) -> Result<GtidPos> {
    let mut pos = GtidPos::new();
    for segment in segments {
        if let Some(before) = segment.before.as_deref().filter(|b| !b.is_empty()) {
            let before: GtidPos = recorded(before, segment)?;
            for gtid in before.iter() {
                if pos.get(gtid.domain).is_none_or(|p| p.seq < gtid.seq) {
                    pos.set(gtid);
                }
            }
        }
        let last: GtidPos = recorded(&segment.last, segment)?;
        for gtid in last.iter() {
            pos.set(gtid);
        }
    }
    Ok(pos)
}

/// A GTID or position `segment`'s manifest records, parsed.
fn recorded<T>(text: &str, segment: &SegmentManifest) -> Result<T>
where
    T: std::str::FromStr<Err = ferryman_binlog::Error>,
{
    text.parse()
        .map_err(|e: ferryman_binlog::Error| Error::Manifest {
            location: format!("{BINLOGS}/{}/{}/{MANIFEST}", segment.cluster, segment.name),
            detail: e.to_string(),
        })
}

/// True when `next` is the transaction right after `prev` in their domain.
fn follows(prev: Gtid, next: Gtid) -> bool {
    next.seq == prev.seq + 1
}
