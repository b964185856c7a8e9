//! The manager's manifest signing key (see `ferryman_repo::signing` for what is signed and
//! why): loaded, or created at the first start, with its public half beside it; and each
//! repository adopted once.
//!
//! # Adoption
//! A repository written before signatures holds unsigned manifests, which a reader that
//! checks signatures refuses. The first time the manager opens a repository with its key, it
//! signs the unsigned manifests there (checking, never re-signing, the signed ones) and
//! records the repository's location in `monitoring-datadir/manifest-signing.adopted`. From
//! then on an unsigned manifest in that repository is refused like a forged one: it was put
//! there by someone else. The record is the manager's, outside every repository, so that
//! whoever can write a repository cannot have it adopted again.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferryman_config::ManagerConfig;
use ferryman_proto::private_file;
use ferryman_repo::{PublicKey, Repository, Signatures, Signer};
use tracing::{info, warn};

use crate::events::{EventKind, Events, NewEvent, Severity};
use crate::{Error, Result};

/// The file that lists the repositories whose unsigned manifests were signed once.
pub const ADOPTED_FILE: &str = "manifest-signing.adopted";

/// Where the public half of the key at `key_file` is written: the same name, `.pub`.
pub fn public_key_path(key_file: &Path) -> PathBuf {
    key_file.with_extension("pub")
}

/// The manager's signatures: its key (created, 0600, when the file does not exist), which
/// signs, and the trusted keys (its own and `trusted-signing-keys`), which check.
pub fn load_or_create(manager: &ManagerConfig) -> Result<Arc<Signatures>> {
    let path = &manager.signing_key_file;
    let (text, created) = private_file::read_or_create(path, || Signer::generate().to_file_text())
        .map_err(|e| key_error(path, e.to_string()))?;
    let signer = Signer::parse(&text, &path.display().to_string())?;
    if created {
        info!(file = %path.display(), key = %signer.public(), "created the manifest signing key: keep it secret, and back it up apart from the repositories");
    }
    with_signer(manager, signer)
}

/// The manager's signatures from its existing key (`ferryman repo sign`): never creates one.
pub fn load(manager: &ManagerConfig) -> Result<Arc<Signatures>> {
    let path = &manager.signing_key_file;
    let text = private_file::read(path).map_err(|e| {
        let detail = if e.is_not_found() {
            "there is no such file: the manager creates it at its first start; start it once, or set `manager.signing-key-file`".to_owned()
        } else {
            e.to_string()
        };
        key_error(path, detail)
    })?;
    let signer = Signer::parse(&text, &path.display().to_string())?;
    with_signer(manager, signer)
}

/// `signer` with its public half written beside its file, and the trusted keys.
fn with_signer(manager: &ManagerConfig, signer: Signer) -> Result<Arc<Signatures>> {
    let path = &manager.signing_key_file;
    let public = signer.public();
    // The public half for readers without the secret (`ferryman restore`, `repo check`).
    let public_path = public_key_path(path);
    let wanted = public.to_file_text();
    if std::fs::read_to_string(&public_path).ok().as_deref() != Some(wanted.as_str()) {
        std::fs::write(&public_path, wanted).map_err(|e| {
            key_error(
                path,
                format!(
                    "its public half cannot be written to {} ({e})",
                    public_path.display()
                ),
            )
        })?;
    }
    let others = trusted_keys(manager)?;
    Ok(Signatures::new(Some(signer), others, trusted_from()))
}

/// The signatures a reader without the manager's secret checks: the public key beside
/// `signing-key-file` and `trusted-signing-keys`. `None` when there is no key at all yet (no
/// manager has started with this configuration): nothing can have been signed.
pub fn for_readers(manager: &ManagerConfig) -> Result<Option<Arc<Signatures>>> {
    let public_path = public_key_path(&manager.signing_key_file);
    let mut keys = trusted_keys(manager)?;
    match std::fs::read_to_string(&public_path) {
        Ok(text) => keys.push(PublicKey::parse(&text, &public_path.display().to_string())?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // The secret key may be readable (the manager's own user).
            match private_file::read(&manager.signing_key_file) {
                Ok(text) => keys.push(
                    Signer::parse(&text, &manager.signing_key_file.display().to_string())?.public(),
                ),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(key_error(&manager.signing_key_file, e.to_string())),
            }
        }
        Err(e) => return Err(key_error(&public_path, format!("cannot be read ({e})"))),
    }
    if keys.is_empty() {
        return Ok(None);
    }
    Ok(Some(Signatures::new(None, keys, trusted_from())))
}

/// Signs the unsigned manifests of `repo` once (see the module's doc) and publishes the
/// public key in it. A failure is logged; the repository is tried again at the next start.
pub async fn adopt(datadir: &Path, name: &str, repo: &Repository) {
    let Some(public) = repo
        .signatures()
        .and_then(|s| s.signer())
        .map(Signer::public)
    else {
        return;
    };
    if let Err(e) = repo.publish_key(&public).await {
        warn!(repository = %name, error = %e, "cannot publish the manifest signing key's public half in the repository");
    }
    let location = repo.location();
    let record = datadir.join(ADOPTED_FILE);
    let adopted = std::fs::read_to_string(&record).unwrap_or_default();
    if adopted.lines().any(|l| l == location) {
        return;
    }
    let report = match repo.sign_unsigned().await {
        Ok(report) => report,
        Err(e) => {
            warn!(repository = %name, error = %e, "cannot sign the repository's unsigned manifests; trying again at the next start, and until then they are refused");
            return;
        }
    };
    for refused in &report.refused {
        warn!(repository = %name, problem = %refused, "a manifest was left unsigned");
    }
    info!(repository = %name, signed = report.signed.len(), already = report.already, refused = report.refused.len(), key = %public, "manifests signed: from now on an unsigned manifest in this repository is refused");
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&record)
        .and_then(|mut f| {
            f.write_all(format!("{location}\n").as_bytes())?;
            f.sync_all()
        });
    if let Err(e) = appended {
        warn!(file = %record.display(), error = %e, "cannot record that the repository's manifests were signed; they are checked again at the next start");
    }
}

/// Has every manifest refused by a read (unsigned, foreign, edited) told as a
/// `manifest-untrusted` event, once per backup while the manager runs: listings, retention and
/// the copier read the catalogue often, and one message is enough to send someone looking.
pub fn tell_refusals(signatures: &Signatures, events: Arc<Events>) {
    let told = std::sync::Mutex::new(std::collections::HashSet::new());
    signatures.on_refusal(move |id, error| {
        let first = told
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string());
        if first {
            events.emit(NewEvent {
                kind: EventKind::ManifestUntrusted,
                severity: Severity::Error,
                cluster: id.cluster().to_owned(),
                server: Some(id.server().to_owned()),
                backup: Some(id.to_string()),
                subject: None,
                message: error.to_string(),
            });
        }
    });
}

/// A key file that cannot be used.
fn key_error(path: &Path, detail: String) -> Error {
    Error::Repo(ferryman_repo::Error::KeyFile {
        path: path.display().to_string(),
        detail,
    })
}

fn trusted_keys(manager: &ManagerConfig) -> Result<Vec<PublicKey>> {
    manager
        .trusted_signing_keys
        .iter()
        .map(|p| PublicKey::from_file(p).map_err(Error::Repo))
        .collect()
}

fn trusted_from() -> String {
    "`manager.trusted-signing-keys` in the configuration".to_owned()
}
