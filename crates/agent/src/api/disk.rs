//! `GET disk`: the file system of the datadir and of the backup staging directory
//! (`agent.work-dir`), as `df` computes it, and the datadir's own size.

use std::path::{Path, PathBuf};

use axum::extract::State;
use axum::Json;
use ferryman_db::mysql_async::prelude::Queryable;
use ferryman_db::Session;
use ferryman_proto::node_api::{DiskUsage, FileSystem};

use super::Shared;

pub(super) async fn disk(State(api): State<Shared>) -> Json<DiskUsage> {
    let mut out = DiskUsage {
        server: api.server.name.clone(),
        ..Default::default()
    };
    let datadir = match datadir(&api).await {
        Ok(dir) => Some(dir),
        Err(e) => {
            out.notes.push(e);
            None
        }
    };
    let staging = api.staging.clone();
    let walked = tokio::task::spawn_blocking(move || {
        let mut file_systems = Vec::new();
        let mut notes = Vec::new();
        let mut bytes = None;
        if let Some(dir) = &datadir {
            match usage("datadir", dir) {
                Ok(fs) => file_systems.push(fs),
                Err(e) => notes.push(e),
            }
            match size_of(dir) {
                Ok(size) => bytes = Some(size),
                Err(e) => notes.push(format!("the datadir's size: {e}")),
            }
        }
        match usage("staging", &staging) {
            Ok(fs) => file_systems.push(fs),
            Err(e) => notes.push(e),
        }
        (file_systems, notes, bytes)
    })
    .await;
    match walked {
        Ok((file_systems, notes, bytes)) => {
            out.file_systems = file_systems;
            out.notes.extend(notes);
            out.datadir_bytes = bytes;
        }
        Err(e) => out
            .notes
            .push(format!("the disk usage could not be read: {e}")),
    }
    Json(out)
}

/// The datadir: as the running server says, else as configured.
async fn datadir(api: &Shared) -> Result<PathBuf, String> {
    let asked = async {
        let mut conn = api.endpoint.connect(Session::Plain).await.ok()?;
        let dir: Option<String> = conn.query_first("SELECT @@datadir").await.ok()?;
        let _ = conn.disconnect().await;
        dir
    }
    .await;
    asked
        .map(PathBuf::from)
        .or_else(|| api.server.datadir.clone())
        .ok_or_else(|| {
            format!(
                "the server does not answer and `{}` has no `datadir` in ferryman.toml: its datadir is unknown",
                api.server.name
            )
        })
}

/// `statvfs` of `path`'s file system.
fn usage(role: &str, path: &Path) -> Result<FileSystem, String> {
    let st = nix::sys::statvfs::statvfs(path)
        .map_err(|e| format!("the {role} file system ({}): {e}", path.display()))?;
    let fragment = st.fragment_size() as u64;
    let total = st.blocks() as u64 * fragment;
    let available = st.blocks_available() as u64 * fragment;
    let used = total.saturating_sub(st.blocks_free() as u64 * fragment);
    let used_percent = if used + available == 0 {
        0.0
    } else {
        // As df: rounded up to a whole percent.
        ((used as f64 * 100.0) / (used + available) as f64).ceil()
    };
    Ok(FileSystem {
        role: role.to_owned(),
        path: path.display().to_string(),
        total_bytes: total,
        available_bytes: available,
        used_bytes: used,
        used_percent,
    })
}

/// The bytes of every file under `dir` (symbolic links not followed).
fn size_of(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                total += meta.len();
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_measured() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("db")).expect("mkdir");
        std::fs::write(dir.path().join("db/t.ibd"), vec![0u8; 5000]).expect("write");
        std::fs::write(dir.path().join("ibdata1"), vec![0u8; 1000]).expect("write");
        assert_eq!(size_of(dir.path()).expect("size"), 6000);
        let fs = usage("datadir", dir.path()).expect("statvfs");
        assert!(fs.total_bytes > 0 && fs.used_percent <= 100.0, "{fs:?}");
    }
}
