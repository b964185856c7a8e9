//! Backups compressed on the node: a stream of zstd and raw blocks is checked on its raw bytes
//! (hash, dump footer), stored with the node's frames as they came, and reads back whole; a
//! damaged frame, a frame that lies about its length, a bad header or a cut block are refused
//! and leave nothing behind.

use ferryman_proto::blocks::{BlockHeader, BlockKind};
use ferryman_repo::{Error, Tool, Wire, NODE_COMPRESSED};

use crate::*;

/// `data` as blocks of `size` raw bytes, every `raw_every`-th one raw, the others zstd.
fn blocks(data: &[u8], size: usize, raw_every: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut wire = Vec::new();
    let mut frames = Vec::new();
    for (i, chunk) in data.chunks(size).enumerate() {
        let raw = raw_every != 0 && i % raw_every == raw_every - 1;
        let (kind, bytes) = if raw {
            (BlockKind::Raw, chunk.to_vec())
        } else {
            let frame = compress(chunk, true);
            frames.push(frame.clone());
            (BlockKind::Zstd, frame)
        };
        let header = BlockHeader {
            kind,
            raw_len: chunk.len() as u32,
            len: bytes.len() as u32,
        };
        wire.extend_from_slice(&header.encode());
        wire.extend_from_slice(&bytes);
    }
    (wire, frames)
}

/// One zstd frame of `chunk`, with its content checksum when `checksum`.
fn compress(chunk: &[u8], checksum: bool) -> Vec<u8> {
    let mut c = zstd::bulk::Compressor::new(1).unwrap();
    c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(checksum))
        .unwrap();
    c.compress(chunk).unwrap()
}

fn blocks_meta(job: u64) -> ferryman_repo::BackupMeta {
    let mut m = meta(Tool::Mysqldump, job, "2026-12-05T09:00:00Z");
    m.wire = Wire::Blocks;
    m
}

#[tokio::test(flavor = "multi_thread")]
async fn node_frames_are_checked_stored_as_they_came_and_read_back() {
    let (_tmp, repo) = repo();
    let data = dump(40_000, true);
    let (wire, frames) = blocks(&data, 1 << 20, 3);
    assert!(data.len() > 3 << 20, "several blocks, raw ones among them");
    let m = ingest(&repo, blocks_meta(1), &wire).await.unwrap();
    assert_eq!(m.raw_bytes, data.len() as u64);
    assert_eq!(m.raw_sha256, sha(&data));
    assert_eq!(m.gtid.as_deref(), Some("0-1-50"), "the dump was inspected");
    let node: u64 = data
        .chunks(1 << 20)
        .enumerate()
        .filter(|(i, _)| i % 3 != 2)
        .map(|(_, c)| c.len() as u64)
        .sum();
    assert_eq!(
        m.extra.get(NODE_COMPRESSED).map(String::as_str),
        Some(format!("{node} of {} raw bytes", data.len()).as_str())
    );
    assert_eq!(payload(&repo, &m.id).await, data);
    // The first block was the node's: the stored payload starts with its frame, unchanged.
    let stored = std::fs::read(root(&repo).join(m.payload_key().to_string())).unwrap();
    assert!(stored.starts_with(&frames[0]));
    assert_eq!(m.stored_bytes, stored.len() as u64);
    assert_eq!(m.stored_sha256, sha(&stored));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dump_without_its_footer_is_refused_in_blocks_too() {
    let (_tmp, repo) = repo();
    let (wire, _) = blocks(&dump(5_000, false), 64 << 10, 0);
    let err = ingest(&repo, blocks_meta(2), &wire).await.unwrap_err();
    assert!(matches!(err, Error::Incomplete { .. }), "{err}");
    assert!(files(&root(&repo)).is_empty(), "{:?}", files(&root(&repo)));
}

#[tokio::test(flavor = "multi_thread")]
async fn damaged_lying_cut_or_malformed_blocks_leave_nothing() {
    let data = dump(5_000, true);
    let (good, _) = blocks(&data, 64 << 10, 0);
    let first_len = u32::from_be_bytes(good[5..9].try_into().unwrap()) as usize;

    // A byte of the first frame's content flipped: its checksum or its decoding fails.
    let mut damaged = good.clone();
    damaged[9 + first_len / 2] ^= 0x55;
    // The first block says one raw byte more than its frame holds.
    let mut lying = good.clone();
    let raw_len = u32::from_be_bytes(lying[1..5].try_into().unwrap()) + 1;
    lying[1..5].copy_from_slice(&raw_len.to_be_bytes());
    // A kind no version knows.
    let mut malformed = good.clone();
    malformed[0] = 9;
    // Cut in the middle of the first block.
    let cut = good[..9 + first_len / 2].to_vec();
    // A frame without its checksum (this build's agents always write one).
    let chunk = &data[..1000];
    let frame = compress(chunk, false);
    let mut unchecked = BlockHeader {
        kind: BlockKind::Zstd,
        raw_len: 1000,
        len: frame.len() as u32,
    }
    .encode()
    .to_vec();
    unchecked.extend_from_slice(&frame);

    for (job, (what, wire)) in [
        ("damaged", damaged),
        ("lying", lying),
        ("malformed", malformed),
        ("cut", cut),
        ("unchecked", unchecked),
    ]
    .into_iter()
    .enumerate()
    {
        let (_tmp, repo) = repo();
        let err = ingest(&repo, blocks_meta(10 + job as u64), &wire)
            .await
            .unwrap_err();
        let text = err.to_string();
        match what {
            "cut" => assert!(matches!(err, Error::StreamBroken { .. }), "{what}: {text}"),
            _ => {
                assert!(matches!(err, Error::BadBlock { .. }), "{what}: {text}");
                assert!(text.contains("backup-stream-compression"), "{text}");
            }
        }
        assert!(
            files(&root(&repo)).is_empty(),
            "{what}: {:?}",
            files(&root(&repo))
        );
    }
}
