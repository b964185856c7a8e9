//! Owner-only repository (its own test binary: the umask is the whole process's, and no other
//! test may create files while it is changed).
//!
//! Under the usual umask 022, and under 000 (where a mode left to the umask would be 0666),
//! every file the repository writes through its real paths (a backup, its verification
//! result, a collected log, a quarantined leftover) is 0600 and every directory 0700; a
//! repository an older version left readable by others is tightened when it is opened, and
//! what is not the repository's is left alone.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ferryman_repo::{
    modes, BackupMeta, Compression, LogKind, LogMeta, Repository, Status, Timestamp, Tool,
    Verification,
};
use nix::sys::stat::{umask, Mode};
use tokio_util::sync::CancellationToken;

const DUMP: &str =
    "-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)\n\
                    CREATE TABLE `t` (`id` int PRIMARY KEY);\nINSERT INTO `t` VALUES (1);\n\
                    -- Dump completed on 2026-03-01  4:00:00\n";

/// A verification result without checks.
fn result(status: Status) -> Verification {
    let at = Timestamp::parse_rfc3339("2026-03-01T05:00:00Z").unwrap();
    Verification {
        status,
        started_at: at,
        ended_at: at,
        checks: Vec::new(),
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

/// Sets the umask for as long as it lives.
struct Umask(Mode);

impl Umask {
    fn set(mask: u32) -> Umask {
        Umask(umask(Mode::from_bits_truncate(mask)))
    }
}

impl Drop for Umask {
    fn drop(&mut self) {
        umask(self.0);
    }
}

/// Every path under `dir` (itself included) with its mode bits, sorted.
fn walk(dir: &Path) -> Vec<(PathBuf, bool, u32)> {
    fn go(path: &Path, out: &mut Vec<(PathBuf, bool, u32)>) {
        let meta = std::fs::symlink_metadata(path).unwrap();
        out.push((
            path.to_owned(),
            meta.is_dir(),
            meta.permissions().mode() & 0o7777,
        ));
        if meta.is_dir() {
            for entry in std::fs::read_dir(path).unwrap() {
                go(&entry.unwrap().path(), out);
            }
        }
    }
    let mut out = Vec::new();
    go(dir, &mut out);
    out.sort();
    out
}

/// Asserts every file under `dir` is 0600, every directory 0700, all owned by us.
fn assert_owner_only(dir: &Path) -> usize {
    let uid = nix::unistd::getuid().as_raw();
    let all = walk(dir);
    for (path, is_dir, mode) in &all {
        let want = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{} is {mode:o}", path.display());
        assert_eq!(
            std::fs::metadata(path).unwrap().uid(),
            uid,
            "{}",
            path.display()
        );
    }
    all.len()
}

fn backup_meta(job: u64, day: u32) -> BackupMeta {
    let mut meta = BackupMeta::new("shop", "db1", "10.0.0.5", Tool::Mysqldump, job);
    meta.started_at = Timestamp::parse_rfc3339(&format!("2026-03-{day:02}T04:00:00Z")).unwrap();
    meta
}

/// A backup with a verification result, a log, and a quarantined leftover, through the
/// repository's real paths.
async fn fill(repo: &Repository, root: &Path) {
    let cancel = CancellationToken::new();
    let m = repo
        .ingest(backup_meta(1, 1), DUMP.as_bytes(), &cancel)
        .await
        .unwrap();
    repo.append_verification(&m.id, result(Status::Ok))
        .await
        .unwrap();
    let log = LogMeta {
        cluster: "shop".into(),
        server: "db1".into(),
        kind: LogKind::Slow,
        job_id: 7,
        received_at: Timestamp::parse_rfc3339("2026-03-02T04:00:00Z").unwrap(),
        compression: Compression::default(),
    };
    repo.ingest_log(log, &b"# Query_time: 12\nSELECT 1;\n"[..], &cancel)
        .await
        .unwrap();
    let lost = repo
        .ingest(backup_meta(2, 3), DUMP.as_bytes(), &cancel)
        .await
        .unwrap();
    std::fs::remove_file(root.join(lost.id.manifest_key().as_str())).unwrap();
    let left = repo.clean_incomplete().await.unwrap();
    assert_eq!(left.quarantined.len(), 1);
}

/// One test function: the two parts change the umask and must not run at the same time.
#[tokio::test(flavor = "multi_thread")]
async fn repository_files_are_0600_and_directories_0700_whatever_the_umask() {
    new_repositories_are_owner_only().await;
    an_older_repository_readable_by_others_is_tightened_when_opened().await;
}

async fn new_repositories_are_owner_only() {
    for mask in [0o022, 0o000] {
        let _umask = Umask::set(mask);
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        let repo = Repository::open(&root).unwrap();
        fill(&repo, &root).await;
        let n = assert_owner_only(&root);
        // Root, Backups/shop/db1/<id>/{manifest,payload}, shop/db1/<log>, Quarantine/...
        assert!(
            n >= 14,
            "only {n} entries under umask {mask:o}: {:#?}",
            walk(&root)
        );
        assert!(root.join("Quarantine/shop/db1").is_dir());
        assert!(root.join("shop/db1").is_dir());
        assert_eq!(modes::tighten_repository(&root), 0);
    }
}

async fn an_older_repository_readable_by_others_is_tightened_when_opened() {
    let _umask = Umask::set(0o022);
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    fill(&Repository::open(&root).unwrap(), &root).await;
    // What an older version left under umask 022, and a leftover partial log.
    std::fs::write(
        root.join("shop/db1/error-20260304T040000Z-j9.log.zst.partial"),
        b"x",
    )
    .unwrap();
    let repo_entries = walk(&root);
    for (path, is_dir, _) in &repo_entries {
        let loose = if *is_dir { 0o755 } else { 0o644 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(loose)).unwrap();
    }
    // Not the repository's: the API token's file and a verifier's work directory.
    std::fs::write(root.join("api.token"), b"t").unwrap();
    std::fs::set_permissions(
        root.join("api.token"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("verify/run-1")).unwrap();

    let fixed = modes::tighten_repository(&root);
    assert_eq!(fixed, repo_entries.len());
    // The real path (Repository::open) tightens too, and finds nothing left to do.
    for (path, is_dir, _) in &repo_entries {
        let loose = if *is_dir { 0o755 } else { 0o644 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(loose)).unwrap();
    }
    let repo = Repository::open(&root).unwrap();
    assert_eq!(modes::tighten_repository(&root), 0);
    for (path, is_dir, mode) in walk(&root) {
        let foreign = path.starts_with(root.join("verify")) || path == root.join("api.token");
        let want = match (foreign, is_dir) {
            (true, true) => 0o755,
            (true, false) => 0o640,
            (false, true) => 0o700,
            (false, false) => 0o600,
        };
        assert_eq!(mode, want, "{} is {mode:o}", path.display());
    }
    // A rewritten manifest and a fresh backup in the tightened repository stay owner-only.
    let id = repo.list(None, None).await.unwrap()[0].id.clone();
    repo.append_verification(&id, result(Status::Failed))
        .await
        .unwrap();
    repo.ingest(
        backup_meta(3, 5),
        DUMP.as_bytes(),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_owner_only(&root.join("Backups"));
}
