//! Compression on the node: what the manager asks of an agent, and the blocks the agent then
//! sends instead of the raw backup stream.
//!
//! Between two hosts the link is often the limit, not the CPU: a backup compressed before it
//! leaves the node needs a fraction of the wire time. The manager still reads every raw byte
//! (its checks: sha256, xbstream CRCs, the dump's footer) but stores the agent's zstd frames as
//! they arrived, so nothing is compressed twice. An agent may also send some blocks raw (mode
//! `auto`, when its compressors are slower than the link); the manager compresses those itself.
//! A stored payload is then a sequence of zstd frames, some made by the node and some by the
//! manager, which any zstd reader decodes as one stream.
//!
//! # Who decides
//! The manager writes [`BackupParams`] into the row's `params` (from the cluster's
//! `backup-stream-compression`); an agent that finds [`StreamCompression`] there opens its
//! stream with the header flag [`crate::header::FLAG_BLOCKS`] and sends blocks. An older agent
//! ignores the parameter and sends the raw stream without the flag; the manager accepts both.
//!
//! # Wire format (after the stream header)
//!
//! | Field   | Encoding                                                                      |
//! |---------|-------------------------------------------------------------------------------|
//! | kind    | `u8`: 0 raw bytes, 1 zstd (one or more whole frames)                          |
//! | raw     | `u32` big-endian: the block's raw length, `1..=`[`MAX_BLOCK`]                 |
//! | length  | `u32` big-endian: the bytes that follow (equal to `raw` for a raw block)      |
//! | bytes   | the block                                                                     |
//! | …       | as many blocks as needed; the end of the stream after a whole block ends it   |
//!
//! The stream's end, as for a raw stream, is FIN and the node's `success`; a stream cut inside
//! a block is an error.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The raw size of the blocks an agent cuts its stream into: large enough for zstd to find
/// its matches and for few hand-offs, small enough for several to be in flight.
pub const BLOCK: usize = 4 << 20;
/// The largest raw block a receiver accepts: bounds its memory whatever the sender says.
pub const MAX_BLOCK: usize = 16 << 20;
/// Bytes of a block's header.
pub const BLOCK_HEADER_LEN: usize = 9;

/// The key of [`BackupParams`]'s compression in the row's `params`.
pub const PARAMS_KEY: &str = "stream_compression";

/// Where a cluster's backups are compressed (`backup-stream-compression`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompressionSite {
    /// The agent compresses each block while its compressors keep up with the link, and sends
    /// the blocks they cannot take raw (the manager compresses those).
    Auto,
    /// The agent compresses everything, however long it takes.
    Node,
    /// The agent sends the raw stream; the manager compresses (the behaviour before this
    /// setting, and the only one a legacy donor knows).
    Manager,
}

impl CompressionSite {
    /// Every site, for the configuration's error messages.
    pub const ALL: [CompressionSite; 3] = [
        CompressionSite::Auto,
        CompressionSite::Node,
        CompressionSite::Manager,
    ];

    /// The configuration's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CompressionSite::Auto => "auto",
            CompressionSite::Node => "node",
            CompressionSite::Manager => "manager",
        }
    }
}

impl fmt::Display for CompressionSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the manager asks an agent to do with a backup stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamCompression {
    /// `auto` or `node` (`manager` is never sent: the row then has no parameter).
    pub site: CompressionSite,
    /// The zstd level: the repository's (`manager.backup-compression-level`), so a backup is
    /// stored at one level wherever its frames were made.
    pub level: i32,
    /// Compressor threads on the node (`backup-stream-compression-threads`).
    pub threads: u32,
}

/// A backup row's `params`, as the manager writes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupParams {
    /// Compression on the node, when the manager asks for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_compression: Option<StreamCompression>,
}

impl BackupParams {
    /// The parameters in a row's `params` JSON: those of a backup row, or none for a row that
    /// carries other parameters or none (an older manager's). A `stream_compression` that is
    /// present but malformed is an error: the row was not written by this manager's version.
    pub fn from_json(params: Option<&serde_json::Value>) -> Result<BackupParams> {
        let Some(value) = params.and_then(|p| p.get(PARAMS_KEY)) else {
            return Ok(BackupParams::default());
        };
        let compression: StreamCompression =
            serde_json::from_value(value.clone()).map_err(|e| Error::BadBlock {
                detail: format!("the row's `{PARAMS_KEY}` is not understood ({e})"),
            })?;
        if !(1..=22).contains(&compression.level) || !(1..=64).contains(&compression.threads) {
            return Err(Error::BadBlock {
                detail: format!(
                    "the row asks for zstd level {} with {} threads (levels 1 to 22, threads 1 to 64)",
                    compression.level, compression.threads
                ),
            });
        }
        Ok(BackupParams {
            stream_compression: Some(compression),
        })
    }
}

/// How a block's bytes are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// The raw stream's bytes.
    Raw = 0,
    /// Whole zstd frames that decompress to the block's raw bytes.
    Zstd = 1,
}

/// A block's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeader {
    /// Raw or zstd.
    pub kind: BlockKind,
    /// The raw bytes the block stands for.
    pub raw_len: u32,
    /// The bytes that follow the header.
    pub len: u32,
}

impl BlockHeader {
    /// The header's bytes.
    pub fn encode(&self) -> [u8; BLOCK_HEADER_LEN] {
        let mut out = [0u8; BLOCK_HEADER_LEN];
        out[0] = self.kind as u8;
        out[1..5].copy_from_slice(&self.raw_len.to_be_bytes());
        out[5..9].copy_from_slice(&self.len.to_be_bytes());
        out
    }

    /// Reads and checks a header: a known kind, a raw length within [`MAX_BLOCK`], and a
    /// length that fits the kind (a raw block's equals its raw length; a zstd block is no
    /// larger than zstd's worst case for its raw length).
    pub fn decode(bytes: &[u8; BLOCK_HEADER_LEN]) -> Result<BlockHeader> {
        let raw_len = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
        let len = u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]);
        let bad = |detail: String| Err(Error::BadBlock { detail });
        let kind = match bytes[0] {
            0 => BlockKind::Raw,
            1 => BlockKind::Zstd,
            other => return bad(format!("unknown block kind {other}")),
        };
        if raw_len == 0 || raw_len as usize > MAX_BLOCK {
            return bad(format!(
                "a block of {raw_len} raw bytes (1 to {MAX_BLOCK} expected)"
            ));
        }
        match kind {
            BlockKind::Raw if len != raw_len => bad(format!(
                "a raw block of {raw_len} bytes says it sends {len}"
            )),
            BlockKind::Zstd if len == 0 || len as usize > compress_bound(raw_len as usize) => bad(
                format!("a zstd block of {len} bytes for {raw_len} raw bytes"),
            ),
            _ => Ok(BlockHeader { kind, raw_len, len }),
        }
    }
}

/// zstd's worst case for `raw` bytes (`ZSTD_COMPRESSBOUND`), with room for a frame header and
/// checksum.
pub fn compress_bound(raw: usize) -> usize {
    raw + (raw >> 8) + 1024
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_bad_ones_are_refused() {
        let h = BlockHeader {
            kind: BlockKind::Zstd,
            raw_len: BLOCK as u32,
            len: 1234,
        };
        assert_eq!(BlockHeader::decode(&h.encode()).unwrap(), h);
        let raw = BlockHeader {
            kind: BlockKind::Raw,
            raw_len: 10,
            len: 10,
        };
        assert_eq!(BlockHeader::decode(&raw.encode()).unwrap(), raw);
        let refused = |h: BlockHeader| BlockHeader::decode(&h.encode()).unwrap_err().to_string();
        assert!(refused(BlockHeader { len: 11, ..raw }).contains("says it sends 11"));
        assert!(refused(BlockHeader {
            raw_len: MAX_BLOCK as u32 + 1,
            len: MAX_BLOCK as u32 + 1,
            ..raw
        })
        .contains("raw bytes"));
        assert!(refused(BlockHeader { len: 0, ..h }).contains("zstd block of 0"));
        assert!(refused(BlockHeader {
            len: (2 * BLOCK) as u32,
            ..h
        })
        .contains("zstd block"));
        let mut unknown = raw.encode();
        unknown[0] = 7;
        assert!(BlockHeader::decode(&unknown)
            .unwrap_err()
            .to_string()
            .contains("unknown block kind 7"));
    }

    #[test]
    fn params_are_read_from_a_row_and_ignored_when_absent() {
        let p = BackupParams {
            stream_compression: Some(StreamCompression {
                site: CompressionSite::Auto,
                level: 1,
                threads: 2,
            }),
        };
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(
            json.to_string(),
            r#"{"stream_compression":{"level":1,"site":"auto","threads":2}}"#
        );
        assert_eq!(BackupParams::from_json(Some(&json)).unwrap(), p);
        assert_eq!(
            BackupParams::from_json(None).unwrap(),
            BackupParams::default()
        );
        let other = serde_json::json!({"method": "physicalbackup"});
        assert_eq!(
            BackupParams::from_json(Some(&other)).unwrap(),
            BackupParams::default()
        );
        let bad = serde_json::json!({"stream_compression": {"site": "moon"}});
        assert!(BackupParams::from_json(Some(&bad)).is_err());
        let zero =
            serde_json::json!({"stream_compression": {"site": "node", "level": 1, "threads": 0}});
        assert!(BackupParams::from_json(Some(&zero))
            .unwrap_err()
            .to_string()
            .contains("0 threads"));
    }
}
