//! Integration tests of the repository on real files: ingest of synthetic dumps and of a real
//! mariabackup stream (sandbox fixture), failures that must leave nothing behind (broken
//! stream, full file system, cancellation), the catalogue, retention, logs.

// Helpers outside `#[test]` functions: a failed unwrap is a failed test, with its reason.
#![allow(clippy::unwrap_used)]

mod blocks;
mod catalogue;
mod check;
mod copy;
mod crypt;
mod failures;
mod feed;
mod leftovers;
mod logical;
mod logs;
mod manifest;
mod physical;
mod proxy;
mod retention;
mod s3;
mod segments;
mod signing;
mod storage;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use ferryman_repo::{
    BackupId, BackupMeta, Check, Manifest, Repository, Status, Timestamp, Tool, Verification,
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::sync::CancellationToken;

/// A repository in a fresh temp dir.
pub fn repo() -> (tempfile::TempDir, Repository) {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::open(dir.path().join("repo")).unwrap();
    (dir, repo)
}

/// The repository's root directory.
pub fn root(repo: &Repository) -> PathBuf {
    PathBuf::from(repo.location())
}

/// Meta of a backup of shop/db1 by `tool`, job `job`, started at `started` (RFC 3339).
pub fn meta(tool: Tool, job: u64, started: &str) -> BackupMeta {
    let mut meta = BackupMeta::new("shop", "db1", "10.0.0.5", tool, job);
    meta.started_at = Timestamp::parse_rfc3339(started).unwrap();
    meta
}

/// A verification result with one check, `name`, passed or failed as `status` says.
pub fn verification(status: Status, name: &str) -> Verification {
    let at = Timestamp::parse_rfc3339("2026-11-20T02:00:00Z").unwrap();
    let check = match status {
        Status::Ok => Check::passed(name, "as expected"),
        Status::Failed => Check::failed(name, "not as expected"),
    };
    Verification {
        status,
        started_at: at,
        ended_at: at,
        checks: vec![check],
        restore_seconds: None,
        total_seconds: 1.0,
        size_change_percent: None,
        size_baseline: None,
        restored_with: None,
        rows: Default::default(),
        trigger: "api".into(),
        run_id: None,
    }
}

/// sha256, hex.
pub fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Deterministic pseudo-random bytes (xorshift), incompressible.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A mariadb-dump 10.11-like script of about `rows` × 100 bytes: header with the binlog
/// coordinates, rows, the GTID near the end, and the footer when `complete`.
pub fn dump(rows: usize, complete: bool) -> Vec<u8> {
    let mut s = String::from(
        "/*M!999999\\- enable the sandbox mode */ \n\
         -- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)\n\
         --\n-- Host: 127.0.0.1    Database: \n\
         -- ------------------------------------------------------\n\
         -- Server version\t10.11.19-MariaDB-0+deb12u1-log\n\n\
         -- CHANGE MASTER TO MASTER_USE_GTID=slave_pos;\n\n\
         -- CHANGE MASTER TO MASTER_LOG_FILE='binlog.000001', MASTER_LOG_POS=123;\n\n\
         CREATE TABLE `items` (`id` int NOT NULL, `v` varchar(80), PRIMARY KEY (`id`));\n",
    );
    for i in 0..rows {
        s.push_str(&format!(
            "INSERT INTO `items` VALUES ({i},'{:016x}-{:016x}-row-{i}');\n",
            (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            (i as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ));
    }
    s.push_str(
        "\n-- Preferably use GTID to start replication from GTID position:\n\n\
         -- SET GLOBAL gtid_slave_pos='0-1-50';\n\
         /*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n\n",
    );
    if complete {
        s.push_str("-- Dump completed on 2026-11-21  2:58:00\n");
    }
    s.into_bytes()
}

/// Ingests `data` as a backup described by `meta`.
pub async fn ingest(
    repo: &Repository,
    meta: BackupMeta,
    data: &[u8],
) -> ferryman_repo::Result<Manifest> {
    repo.ingest(meta, data, &CancellationToken::new()).await
}

/// The decompressed payload of `id`.
pub async fn payload(repo: &Repository, id: &BackupId) -> Vec<u8> {
    let mut reader = repo.payload_reader(id).await.unwrap();
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        out
    })
    .await
    .unwrap()
}

/// Every file under `dir`, relative, sorted (hidden temporary files included).
pub fn files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.push(path.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Gives `data`, then fails with "connection reset" (a sender that died mid-stream).
pub struct BrokenReader {
    /// What it gives before failing or stalling.
    pub data: Vec<u8>,
    /// How much it gave.
    pub pos: usize,
}

impl AsyncRead for BrokenReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.pos == self.data.len() {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "connection reset by peer",
            )));
        }
        let n = buf
            .remaining()
            .min(self.data.len() - self.pos)
            .min(64 * 1024);
        let pos = self.pos;
        buf.put_slice(&self.data[pos..pos + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

/// Gives `data`, then nothing ever again (a sender that hangs).
pub struct StallingReader {
    /// What it gives before failing or stalling.
    pub data: Vec<u8>,
    /// How much it gave.
    pub pos: usize,
}

impl AsyncRead for StallingReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.pos == self.data.len() {
            return Poll::Pending;
        }
        let n = buf
            .remaining()
            .min(self.data.len() - self.pos)
            .min(64 * 1024);
        let pos = self.pos;
        buf.put_slice(&self.data[pos..pos + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}
