//! Manifest signatures: who wrote a manifest, and that nobody changed it since.
//!
//! A manifest is a backup's catalogue entry: its GTID position decides where a reseeded
//! replica starts replicating, its checksums decide whether a payload is intact. Anyone who
//! can write to the repository (an S3 bucket shared too widely, an off-site copy) could change
//! them, and a reseed would then silently start a replica at the wrong position. So the
//! manager signs each manifest it writes with its ed25519 key, and every reader that was
//! given trusted public keys ([`Repository::with_signatures`]) refuses a manifest that is
//! unsigned, signed by a key it does not trust, or changed after signing, naming the key.
//!
//! # What is signed
//! The manifest's JSON object without its `signature` member, serialized compactly with the
//! members of every object in byte order of their names ([`canonical`]). The verifier
//! rebuilds these bytes from the file as it is, so fields this version does not know are
//! covered too, and the pretty-printed layout of the file does not matter. Numbers are signed
//! as the text the JSON parser gives back for them, the same on both sides.
//!
//! # Keys
//! A secret key file holds one line `ed25519-secret <64 hex digits>` (0600, the manager's);
//! a public key file one line `ed25519 <64 hex digits>`, lines starting with `#` ignored. A
//! key is named `ed25519:` and the first 16 hex digits of the public key.
//!
//! [`Repository::with_signatures`]: crate::Repository::with_signatures

mod adopt;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub(crate) use adopt::pretty;
pub use adopt::SignReport;

use crate::layout::BackupId;
use crate::manifest::Manifest;
use crate::{Error, Result};

/// The only algorithm, as written in a manifest's `signature`.
pub const ALGORITHM: &str = "ed25519";
/// The first word of a public key file's line.
const PUBLIC_TAG: &str = "ed25519";
/// The first word of a secret key file's line.
const SECRET_TAG: &str = "ed25519-secret";
/// The member of the manifest's object that holds the signature.
const MEMBER: &str = "signature";

/// A manifest's signature, as stored in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Always [`ALGORITHM`].
    pub algorithm: String,
    /// The signer's public key, hex.
    pub public_key: String,
    /// The signature of the [`canonical`] bytes, hex.
    pub value: String,
}

/// A public key readers trust.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.name())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl PublicKey {
    /// `ed25519:` and the first 16 hex digits: how messages name the key.
    pub fn name(&self) -> String {
        short_name(&self.hex())
    }

    /// The whole key, hex.
    pub fn hex(&self) -> String {
        hex::encode(self.key.as_bytes())
    }

    /// The text of a public key file: the key's line, after a comment saying what it is.
    pub fn to_file_text(&self) -> String {
        format!(
            "# Ferryman manifest signing key {}: readers given this file trust manifests it signed\n{PUBLIC_TAG} {}\n",
            self.name(),
            self.hex()
        )
    }

    /// Parses a public key file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<PublicKey> {
        let bytes = key_line(text, PUBLIC_TAG, origin)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|e| Error::KeyFile {
            path: origin.to_owned(),
            detail: format!("not an ed25519 public key ({e})"),
        })?;
        Ok(PublicKey { key })
    }

    /// Reads a public key file.
    pub fn from_file(path: &Path) -> Result<PublicKey> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::KeyFile {
            path: path.display().to_string(),
            detail: format!("cannot be read ({e})"),
        })?;
        PublicKey::parse(&text, &path.display().to_string())
    }
}

/// The manager's signing key.
pub struct Signer {
    key: SigningKey,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signer({})", self.public().name())
    }
}

impl Signer {
    /// A new random key.
    pub fn generate() -> Signer {
        Signer {
            key: SigningKey::from_bytes(&rand::random::<[u8; 32]>()),
        }
    }

    /// Parses a secret key file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Signer> {
        let bytes = key_line(text, SECRET_TAG, origin)?;
        Ok(Signer {
            key: SigningKey::from_bytes(&bytes),
        })
    }

    /// The text of the secret key file (to be written 0600).
    pub fn to_file_text(&self) -> String {
        format!(
            "# Ferryman manifest signing key {}: secret, keep it 0600 and out of backups of the repository\n{SECRET_TAG} {}\n",
            self.public().name(),
            hex::encode(self.key.to_bytes())
        )
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey {
            key: self.key.verifying_key(),
        }
    }

    /// Signs `manifest` in place (a signature it held is replaced).
    pub fn sign(&self, manifest: &mut Manifest) {
        manifest.signature = None;
        manifest.signature = Some(self.signature_of(manifest));
    }

    /// The signature of `item` (a manifest without its `signature`): of the bytes the
    /// verifier will rebuild, `item` as JSON, parsed back, canonical.
    pub(crate) fn signature_of<T: Serialize>(&self, item: &T) -> Signature {
        let value = serde_json::to_vec(item)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .unwrap_or(Value::Null);
        let signature = self.key.sign(&canonical(&value));
        Signature {
            algorithm: ALGORITHM.to_owned(),
            public_key: self.public().hex(),
            value: hex::encode(signature.to_bytes()),
        }
    }
}

/// What is told of each manifest refused (see [`Signatures::on_refusal`]).
type RefusalHook = Box<dyn Fn(&BackupId, &Error) + Send + Sync>;

/// What a repository does with signatures: sign what it writes (when it has the key) and
/// check what it reads against the trusted keys.
#[derive(Default)]
pub struct Signatures {
    signer: Option<Signer>,
    trusted: Vec<PublicKey>,
    /// Where the trusted keys came from, for the message naming an untrusted one.
    trusted_from: String,
    /// Told of every manifest refused on a read (the manager's event).
    on_refusal: std::sync::OnceLock<RefusalHook>,
}

impl fmt::Debug for Signatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signatures")
            .field("signer", &self.signer)
            .field("trusted", &self.trusted)
            .finish_non_exhaustive()
    }
}

impl Signatures {
    /// Signs with `signer` and trusts its public key and `others`; `trusted_from` says where
    /// the trust is configured (`manager.trusted-signing-keys in /etc/ferryman.toml`).
    pub fn new(signer: Option<Signer>, others: Vec<PublicKey>, trusted_from: String) -> Arc<Self> {
        let mut trusted: Vec<PublicKey> = signer.iter().map(Signer::public).collect();
        for key in others {
            if !trusted.contains(&key) {
                trusted.push(key);
            }
        }
        Arc::new(Signatures {
            signer,
            trusted,
            trusted_from,
            on_refusal: std::sync::OnceLock::new(),
        })
    }

    /// Has `hook` told of every manifest a read refuses from now on (once set, it stays).
    pub fn on_refusal(&self, hook: impl Fn(&BackupId, &Error) + Send + Sync + 'static) {
        let _ = self.on_refusal.set(Box::new(hook));
    }

    /// Tells the hook that the manifest of `id` was refused with `error`.
    pub(crate) fn refused(&self, id: &BackupId, error: &Error) {
        if let Some(hook) = self.on_refusal.get() {
            hook(id, error);
        }
    }

    /// The signing key, when this process writes manifests.
    pub fn signer(&self) -> Option<&Signer> {
        self.signer.as_ref()
    }

    /// The trusted keys.
    pub fn trusted(&self) -> &[PublicKey] {
        &self.trusted
    }

    /// Checks the signature of the manifest whose file is `bytes`, at `location`.
    pub fn check(&self, bytes: &[u8], location: &str) -> Result<()> {
        let refuse = |detail: String, next: String| Error::Signature {
            location: location.to_owned(),
            detail,
            next,
        };
        let mut value: Value = serde_json::from_slice(bytes).map_err(|e| Error::Manifest {
            location: location.to_owned(),
            detail: format!("not valid JSON: {e}"),
        })?;
        let Some(member) = value.as_object_mut().and_then(|o| o.remove(MEMBER)) else {
            return Err(refuse(
                "it is not signed".to_owned(),
                "it was written by a Ferryman without signatures, or placed by hand: if you know where it came from, `ferryman repo sign --repository NAME` (the manager stopped) signs the repository's unsigned manifests; else delete the backup".to_owned(),
            ));
        };
        let signature: Signature = serde_json::from_value(member).map_err(|e| {
            refuse(
                format!("its `signature` is malformed ({e})"),
                "the manifest was edited by hand: restore it from another repository's copy, or delete the backup".to_owned(),
            )
        })?;
        let name = short_name(&signature.public_key);
        let key = self
            .trusted
            .iter()
            .find(|k| k.hex() == signature.public_key.to_ascii_lowercase());
        let Some(key) = key else {
            return Err(refuse(
                format!(
                    "it is signed by key {name}, which is not trusted here (trusted: {})",
                    self.names()
                ),
                format!(
                    "if that key is another Ferryman manager's, add its public key file to {}",
                    self.trusted_from
                ),
            ));
        };
        let tampered = || {
            refuse(
                format!("its signature by key {name} does not match its content: the manifest was changed after it was written"),
                "nothing of the backup was used: restore the manifest from another repository's copy (`ferryman backup show` lists them), or delete the backup".to_owned(),
            )
        };
        if signature.algorithm != ALGORITHM {
            return Err(tampered());
        }
        let raw: [u8; 64] = hex::decode(&signature.value)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(tampered)?;
        let sig = ed25519_dalek::Signature::from_bytes(&raw);
        key.key
            .verify_strict(&canonical(&value), &sig)
            .map_err(|_| tampered())
    }

    fn names(&self) -> String {
        if self.trusted.is_empty() {
            return "none".to_owned();
        }
        let names: Vec<String> = self.trusted.iter().map(PublicKey::name).collect();
        names.join(", ")
    }
}

/// The signed bytes of a JSON value: compact, object members sorted by name.
pub fn canonical(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (name, member)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                // Serializing a string cannot fail.
                out.extend(serde_json::to_vec(name).unwrap_or_default());
                out.push(b':');
                write_canonical(member, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => out.extend(serde_json::to_vec(scalar).unwrap_or_default()),
    }
}

/// `ed25519:` and the first 16 characters of a hex key.
fn short_name(hex: &str) -> String {
    let short: String = hex.chars().take(16).collect();
    format!("{ALGORITHM}:{short}")
}

/// The 32 bytes of the one `TAG HEX` line of a key file.
fn key_line(text: &str, tag: &str, origin: &str) -> Result<[u8; 32]> {
    let bad = |detail: String| Error::KeyFile {
        path: origin.to_owned(),
        detail,
    };
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let line = lines
        .next()
        .ok_or_else(|| bad("it holds no key".to_owned()))?;
    if lines.next().is_some() {
        return Err(bad("it holds more than one key line".to_owned()));
    }
    let mut words = line.split_whitespace();
    if words.next() != Some(tag) {
        return Err(bad(format!("its key line must start with `{tag}`")));
    }
    let hex_key = words
        .next()
        .ok_or_else(|| bad("its key line has no key".to_owned()))?;
    hex::decode(hex_key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad("its key is not 64 hex digits".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_sorts_members_at_every_depth() {
        let v: Value =
            serde_json::from_str(r#"{"b": 1, "a": {"d": [2, {"z": 1, "y": 0.5}], "c": "x"}}"#)
                .expect("json");
        assert_eq!(
            String::from_utf8(canonical(&v)).expect("utf8"),
            r#"{"a":{"c":"x","d":[2,{"y":0.5,"z":1}]},"b":1}"#
        );
    }

    #[test]
    fn key_files_round_trip_and_bad_ones_say_why() {
        let signer = Signer::generate();
        let again = Signer::parse(&signer.to_file_text(), "k").expect("secret");
        assert_eq!(again.public(), signer.public());
        let public = PublicKey::parse(&signer.public().to_file_text(), "p").expect("public");
        assert_eq!(public, signer.public());
        assert!(public.name().starts_with("ed25519:"));
        let e = PublicKey::parse(&signer.to_file_text(), "secret.key").expect_err("tag");
        assert!(e.to_string().contains("must start with `ed25519`"), "{e}");
        let e = PublicKey::parse("ed25519 abcd\n", "short.pub").expect_err("short");
        assert!(e.to_string().contains("64 hex digits"), "{e}");
    }
}
