//! The sandbox's off-site repository: an [`S3Server`] in `DIR/s3` and the
//! `[repositories.offsite]` table that points `DIR/ferryman.toml` at it, for the demo and the
//! benchmarks (`ferryman sandbox s3-up`, `s3-down`).
//!
//! The secret key goes to `DIR/secrets/s3.secret` (0600) and the table names that file, so no
//! secret is ever in the configuration or on a command line. `s3.json` in `DIR/s3` records
//! where the server is (never its secret). The objects live in the server's memory: `s3-down`
//! loses them, and the next `s3-up` starts an empty bucket.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::layout::Layout;
use crate::s3::S3Server;
use crate::{Error, Result};

/// The repository's name in the configuration.
pub const REPOSITORY: &str = "offsite";
/// The bucket made at start.
pub const BUCKET: &str = "ferryman";
/// The comment above the table.
const TABLE_COMMENT: &str =
    "# The sandbox's S3 server (`ferryman sandbox s3-up`; objects in memory, gone at s3-down).";
/// The comment above a cluster's `backup-repositories` set by `--copies`.
const COPIES_COMMENT: &str =
    "# Stored here, copied to the sandbox's S3 server (`ferryman sandbox s3-up`).";

/// Where the sandbox's S3 server is (`DIR/s3/s3.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OffsiteInfo {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The bucket.
    pub bucket: String,
    /// The region to sign for.
    pub region: String,
    /// The access key id.
    pub access_key: String,
    /// The 0600 file holding the secret key.
    pub secret_file: PathBuf,
}

/// The server's directory.
pub fn s3_dir(layout: &Layout) -> PathBuf {
    layout.dir().join("s3")
}

/// Starts the S3 server of the sandbox in `layout` with `memory` bytes for objects (a running
/// one is stopped first: its objects are lost anyway), writes its secret and `s3.json`, and adds
/// `[repositories.offsite]` to `ferryman.toml`. With `copies`, every cluster's
/// `backup-repositories` becomes `["local", "offsite"]`.
pub async fn up(layout: &Layout, memory: u64, copies: bool) -> Result<OffsiteInfo> {
    let dir = s3_dir(layout);
    let fail = |detail: String| Error::S3 {
        dir: dir.clone(),
        detail,
    };
    S3Server::stop_at(&dir);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| fail(format!("cannot clear it: {e}")))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| fail(format!("cannot create it: {e}")))?;
    let server = S3Server::start(&dir, BUCKET, memory).await.map_err(&fail)?;
    let secret_file = layout.secrets_dir().join("s3.secret");
    crate::layout::write_file(&secret_file, server.secret_key.as_bytes(), 0o600)?;
    let info = OffsiteInfo {
        endpoint: server.endpoint.clone(),
        bucket: server.bucket.clone(),
        region: server.region.clone(),
        access_key: server.access_key.clone(),
        secret_file,
    };
    let json = serde_json::to_vec_pretty(&info).map_err(|e| fail(e.to_string()))?;
    std::fs::write(dir.join("s3.json"), json)
        .map_err(|e| fail(format!("cannot write s3.json: {e}")))?;
    let config = layout.config_file();
    let text = std::fs::read_to_string(&config)
        .map_err(|e| fail(format!("cannot read {}: {e}", config.display())))?;
    std::fs::write(&config, configured(&text, &info, copies))
        .map_err(|e| fail(format!("cannot write {}: {e}", config.display())))?;
    Ok(info)
}

/// Stops the sandbox's S3 server (its objects are lost). `ferryman.toml` keeps the table: the
/// manager then warns at start that the repository does not answer.
pub fn down(layout: &Layout) {
    S3Server::stop_at(&s3_dir(layout));
}

/// `text` (a sandbox's `ferryman.toml`) with `[repositories.offsite]` describing `info`
/// (replacing an older one), and with `copies` every cluster's `backup-repositories` set to
/// `["local", "offsite"]`.
pub fn configured(text: &str, info: &OffsiteInfo, copies: bool) -> String {
    let header = format!("[repositories.{REPOSITORY}]");
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            skipping = trimmed == header;
        }
        // What an earlier run added is written again below, once.
        if skipping || trimmed == TABLE_COMMENT || trimmed == COPIES_COMMENT {
            continue;
        }
        if copies && trimmed.starts_with("backup-repositories") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        let is_cluster = trimmed.starts_with("[clusters.")
            && trimmed.ends_with(']')
            && !trimmed.starts_with("[[")
            && trimmed.matches('.').count() == 1;
        if copies && is_cluster {
            out.push_str(&format!(
                "{COPIES_COMMENT}\nbackup-repositories = [\"local\", \"{REPOSITORY}\"]\n"
            ));
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out.push_str(&format!(
        "\n{TABLE_COMMENT}\n{header}\nkind = \"s3\"\nendpoint = \"{}\"\nbucket = \"{}\"\n\
         region = \"{}\"\naccess-key-id = \"{}\"\nsecret-access-key-file = \"{}\"\n",
        info.endpoint,
        info.bucket,
        info.region,
        info.access_key,
        info.secret_file.display()
    ));
    out
}

/// The sandbox's S3 server as `s3.json` describes it, if it was started.
pub fn info(layout: &Layout) -> Option<OffsiteInfo> {
    let bytes = std::fs::read(s3_dir(layout).join("s3.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_table_is_added_once_and_copies_set_every_cluster() {
        let info = OffsiteInfo {
            endpoint: "http://127.0.0.1:7480".into(),
            bucket: BUCKET.into(),
            region: "default".into(),
            access_key: "AK".into(),
            secret_file: Path::new("/s/secrets/s3.secret").into(),
        };
        let text =
            "[manager]\nhttp-port = 1\n\n[clusters.sandbox]\nmonitoring-scheduler = false\n\n\
                    [[clusters.sandbox.servers]]\nname = \"db1\"\n";
        let once = configured(text, &info, true);
        let twice = configured(&once, &info, true);
        assert_eq!(once, twice);
        assert_eq!(once.matches("[repositories.offsite]").count(), 1);
        assert!(once.contains(
            "[clusters.sandbox]\n# Stored here, copied to the sandbox's S3 server \
             (`ferryman sandbox s3-up`).\nbackup-repositories = [\"local\", \"offsite\"]\n"
        ));
        assert!(once.contains("secret-access-key-file = \"/s/secrets/s3.secret\""));
        let plain = configured(text, &info, false);
        assert!(!plain.contains("backup-repositories"));
    }
}
