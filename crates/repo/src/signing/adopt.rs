//! Signing what a repository holds unsigned ([`Repository::sign_unsigned`]), and publishing
//! the public key beside it ([`Repository::publish_key`]).

use serde::Serialize;

use super::PublicKey;
use crate::layout::{BackupId, BINLOGS, MANIFEST};
use crate::manifest::Manifest;
use crate::repository::Repository;
use crate::segments::SegmentManifest;
use crate::storage::Key;
use crate::{Error, Result};

/// What [`Repository::sign_unsigned`] did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SignReport {
    /// The repository's location.
    pub location: String,
    /// Manifests that had no signature and were signed now.
    pub signed: Vec<String>,
    /// Manifests already signed by a trusted key.
    pub already: usize,
    /// Manifests left as they are, each with why (a bad signature, an unreadable file).
    pub refused: Vec<String>,
}

impl Repository {
    /// Signs every manifest of this repository that has no signature (those of a repository
    /// written before signatures), with this repository's signing key. A manifest with a
    /// signature is only checked: one that does not verify is left as it is and reported,
    /// never re-signed. The caller makes sure nothing else writes manifests meanwhile.
    pub async fn sign_unsigned(&self) -> Result<SignReport> {
        let signatures = self.signatures().ok_or_else(|| Error::InvalidRequest {
            detail: "this repository was opened without signatures".to_owned(),
        })?;
        let mut report = SignReport {
            location: self.location(),
            ..SignReport::default()
        };
        let signer = signatures.signer().ok_or_else(|| Error::InvalidRequest {
            detail: "this repository was opened without the signing key".to_owned(),
        })?;
        for (cluster, server, dir) in self.server_dirs(None, None).await? {
            for entry in self.storage().list(Some(&dir)).await? {
                let Ok(id) = BackupId::from_name(&cluster, &server, &entry.name) else {
                    continue;
                };
                let _guard = self.lock_manifests().await;
                let Some(bytes) = self.storage().get(&id.manifest_key()).await? else {
                    continue;
                };
                let location = format!("{} in {}", id.manifest_key(), self.location());
                match Manifest::from_json(&bytes, &id) {
                    Ok(mut manifest) if manifest.signature.is_none() => {
                        self.put_manifest(&mut manifest).await?;
                        report.signed.push(id.to_string());
                    }
                    Ok(_) => match signatures.check(&bytes, &location) {
                        Ok(()) => report.already += 1,
                        Err(e) => report.refused.push(e.to_string()),
                    },
                    Err(e) => report.refused.push(e.to_string()),
                }
            }
        }
        // The archived binlog segments' manifests, the same way.
        for cluster in self.storage().list(Some(&Key::new(BINLOGS)?)).await? {
            if !cluster.is_dir {
                continue;
            }
            let cluster_dir = Key::new(BINLOGS)?.join(&cluster.name)?;
            for entry in self.storage().list(Some(&cluster_dir)).await? {
                if !entry.is_dir {
                    continue;
                }
                let key = cluster_dir.join(&entry.name)?.join(MANIFEST)?;
                let Some(bytes) = self.storage().get(&key).await? else {
                    continue;
                };
                let location = format!("{key} in {}", self.location());
                match serde_json::from_slice::<SegmentManifest>(&bytes) {
                    Ok(mut segment) if segment.signature.is_none() => {
                        segment.signature = Some(signer.signature_of(&segment));
                        self.storage().put(&key, pretty(&segment)?).await?;
                        report
                            .signed
                            .push(format!("{BINLOGS}/{}/{}", cluster.name, entry.name));
                    }
                    Ok(_) => match signatures.check(&bytes, &location) {
                        Ok(()) => report.already += 1,
                        Err(e) => report.refused.push(e.to_string()),
                    },
                    Err(e) => report
                        .refused
                        .push(format!("{location}: not a segment manifest: {e}")),
                }
            }
        }
        Ok(report)
    }

    /// Writes `key` as `Keys/ed25519-<first 16 hex>.pub` in the repository, so that a copy
    /// of it (off-site, restored from tape) says which key its manifests are signed with.
    /// Trust never comes from there: a reader is given its public keys by its configuration.
    pub async fn publish_key(&self, key: &PublicKey) -> Result<()> {
        let name = key.name().replace(':', "-");
        let object = Key::new(crate::layout::KEYS)?.join(&format!("{name}.pub"))?;
        let text = key.to_file_text().into_bytes();
        if self.storage().get(&object).await?.as_deref() == Some(text.as_slice()) {
            return Ok(());
        }
        self.storage().put(&object, text).await
    }
}

/// A segment manifest as written.
pub(crate) fn pretty<T: Serialize>(item: &T) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(item).map_err(|e| Error::Worker {
        detail: format!("cannot encode a manifest: {e}"),
    })
}
