//! Encryption at rest with age: [`Keys`] (a repository's recipients and identities) and
//! [`Encryption`] (what a manifest records).
//!
//! A payload in an encrypted repository is the compressed stream encrypted as one age file
//! (X25519 recipients; ChaCha20-Poly1305 in 64 KiB chunks, each authenticated): `age -d -i KEY
//! payload.xbstream.zst.age | zstd -d` gets the raw stream back with standard tools. The
//! manager writes with the public keys only; reading needs an identity. The manifest records
//! the cipher and the recipients' public keys (what identifies the keys that open the payload:
//! `age-keygen -y KEYFILE` prints a key file's), never a secret.
//!
//! # What encryption guarantees here
//! - A payload whose bytes were changed fails: its stored sha256 no longer matches, and age
//!   refuses the chunk that was changed ([`Error::Undecryptable`]) before any of its bytes are
//!   handed on; a reader never returns data that was not written by the encryptor.
//! - A missing identity ([`Error::NoIdentity`]) or one that is not a recipient
//!   ([`Error::WrongKey`]) is an error that names the repository and the key file, before a
//!   byte is read.

use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::str::FromStr;

use age::stream::{StreamReader, StreamWriter};
use age::x25519::{Identity, Recipient};
use age::{DecryptError, Decryptor, Encryptor};
use ferryman_config::{parse_identities, EncryptionConfig};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The cipher name manifests record.
pub const CIPHER: &str = "age";

/// The payload name's suffix of an encrypted payload (`payload.xbstream.zst.age`).
pub const SUFFIX: &str = ".age";

/// [`SUFFIX`] for an encrypted object's name, nothing for a plain one's.
pub fn suffix(encrypted: bool) -> &'static str {
    if encrypted {
        SUFFIX
    } else {
        ""
    }
}

/// How a stored payload is encrypted, as its manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encryption {
    /// `age` (the age v1 format: X25519 recipients, ChaCha20-Poly1305).
    pub cipher: String,
    /// The public keys (`age1…`) the payload is encrypted for; an identity of any of them
    /// decrypts it.
    pub recipients: Vec<String>,
}

impl Encryption {
    /// True when a payload encrypted like `self` reads exactly like one encrypted like
    /// `other` (same cipher, same recipients in any order): a copy between them needs no
    /// re-encryption.
    pub fn same_as(&self, other: &Encryption) -> bool {
        let set = |e: &Encryption| e.recipients.iter().cloned().collect::<BTreeSet<_>>();
        self.cipher == other.cipher && set(self) == set(other)
    }
}

/// A repository's keys: what it encrypts for, and what it can decrypt with.
pub struct Keys {
    /// The repository's name, for messages.
    repository: String,
    recipients: Vec<Recipient>,
    identities: Vec<Identity>,
    /// Where the identities came from, for messages.
    identity_source: Option<String>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("repository", &self.repository)
            .field("recipients", &self.recipient_names())
            .field("identities", &self.identities.len())
            .field("identity_source", &self.identity_source)
            .finish()
    }
}

impl Keys {
    /// The keys `[repositories.NAME]` names (the config validated them; a key that still does
    /// not parse is an error naming the table).
    pub fn from_config(repository: &str, config: &EncryptionConfig) -> Result<Keys> {
        let bad = |detail: String| Error::InvalidRequest {
            detail: format!("[repositories.{repository}]: {detail}"),
        };
        let recipients = config
            .recipients
            .iter()
            .map(|r| Recipient::from_str(r).map_err(|e| bad(format!("age recipient {r:?}: {e}"))))
            .collect::<Result<Vec<_>>>()?;
        let identities = match &config.identity {
            Some(secret) => parse_identities(secret.expose_secret()).map_err(|e| {
                bad(format!(
                    "the age identity in {}: {e}",
                    config.identity_source.as_deref().unwrap_or("its identity")
                ))
            })?,
            None => Vec::new(),
        };
        if recipients.is_empty() {
            return Err(bad(
                "encryption without a recipient: set age-recipients or age-identity-file"
                    .to_owned(),
            ));
        }
        Ok(Keys {
            repository: repository.to_owned(),
            recipients,
            identities,
            identity_source: config.identity_source.clone(),
        })
    }

    /// What a manifest records of a payload these keys encrypt.
    pub fn encryption(&self) -> Encryption {
        Encryption {
            cipher: CIPHER.to_owned(),
            recipients: self.recipient_names(),
        }
    }

    fn recipient_names(&self) -> Vec<String> {
        self.recipients.iter().map(ToString::to_string).collect()
    }

    /// Whether an identity of these keys is among `encryption`'s recipients; `Err` says whom
    /// the payload is for and what the keys have.
    pub fn opens(&self, encryption: &Encryption) -> std::result::Result<(), String> {
        let public: Vec<String> = self
            .identities
            .iter()
            .map(|i| i.to_public().to_string())
            .collect();
        if public.iter().any(|p| encryption.recipients.contains(p)) {
            return Ok(());
        }
        let have = match public.is_empty() {
            true => "the repository has no age identity (write-only)".to_owned(),
            false => format!(
                "the identity in {} is {}",
                self.identity_source.as_deref().unwrap_or("the config"),
                public.join(", ")
            ),
        };
        Err(format!(
            "encrypted for {}, and {have}",
            encryption.recipients.join(", ")
        ))
    }

    /// True when these keys can decrypt (the repository is not write-only).
    pub fn can_decrypt(&self) -> bool {
        !self.identities.is_empty()
    }

    /// Wraps `output` in an age encryptor for the recipients; the caller must `finish()` it.
    pub(crate) fn encrypt<W: Write>(&self, output: W) -> io::Result<StreamWriter<W>> {
        let recipients = self.recipients.iter().map(|r| r as &dyn age::Recipient);
        let encryptor = Encryptor::with_recipients(recipients)
            .map_err(|e| io::Error::other(format!("cannot set up age encryption: {e}")))?;
        encryptor.wrap_output(output)
    }

    /// Reads the age header from `input` and returns the decrypting reader. `what` names the
    /// payload (`KEY in LOCATION`); `encryption` is what its manifest records. Blocks: call it
    /// on a blocking thread.
    pub(crate) fn decrypt<R: Read>(
        &self,
        input: R,
        encryption: &Encryption,
        what: &str,
    ) -> Result<StreamReader<R>> {
        if !self.can_decrypt() {
            return Err(no_identity(Some(&self.repository), encryption, what));
        }
        let identities = self.identities.iter().map(|i| i as &dyn age::Identity);
        let decryptor = Decryptor::new(input).map_err(|e| undecryptable(e, what))?;
        decryptor.decrypt(identities).map_err(|e| match e {
            DecryptError::NoMatchingKeys => Error::WrongKey {
                what: what.to_owned(),
                recipients: encryption.recipients.join(", "),
                source_of_key: self.identity_source.clone().unwrap_or_default(),
                public: self
                    .identities
                    .iter()
                    .map(|i| i.to_public().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                repository: self.repository.clone(),
            },
            other => undecryptable(other, what),
        })
    }
}

/// The error for an encrypted payload of a repository (`repository`, when named) without an
/// identity.
pub(crate) fn no_identity(repository: Option<&str>, encryption: &Encryption, what: &str) -> Error {
    Error::NoIdentity {
        what: what.to_owned(),
        recipients: encryption.recipients.join(", "),
        table: match repository {
            Some(name) => format!("[repositories.{name}]"),
            None => "the repository's [repositories.NAME] table".to_owned(),
        },
    }
}

/// A payload age cannot open although the key is right: damaged or replaced.
fn undecryptable(e: DecryptError, what: &str) -> Error {
    match e {
        DecryptError::Io(source) => Error::from_io(source, "read", what.to_owned()),
        other => Error::Undecryptable {
            what: what.to_owned(),
            detail: other.to_string(),
        },
    }
}

/// A writer that encrypts or not, so that the pipeline has one type either way.
pub(crate) enum MaybeEncrypt<W: Write> {
    /// Written as it is.
    Plain(W),
    /// Encrypted with age.
    Age(StreamWriter<W>),
}

impl<W: Write> MaybeEncrypt<W> {
    /// `output`, encrypted when `keys` are given.
    pub(crate) fn new(output: W, keys: Option<&Keys>) -> io::Result<MaybeEncrypt<W>> {
        Ok(match keys {
            Some(keys) => MaybeEncrypt::Age(keys.encrypt(output)?),
            None => MaybeEncrypt::Plain(output),
        })
    }

    /// Writes the last encrypted chunk and returns the inner writer.
    pub(crate) fn finish(self) -> io::Result<W> {
        match self {
            MaybeEncrypt::Plain(w) => Ok(w),
            MaybeEncrypt::Age(w) => w.finish(),
        }
    }
}

impl<W: Write> Write for MaybeEncrypt<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            MaybeEncrypt::Plain(w) => w.write(buf),
            MaybeEncrypt::Age(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            MaybeEncrypt::Plain(w) => w.flush(),
            MaybeEncrypt::Age(w) => w.flush(),
        }
    }
}

/// A reader that decrypts or not.
pub(crate) enum MaybeDecrypt<R: Read> {
    /// Read as it is.
    Plain(R),
    /// Decrypted with age.
    Age(StreamReader<R>),
}

impl<R: Read> MaybeDecrypt<R> {
    /// `input` decrypted as `encryption` (from the manifest) says, with `keys`. Reads the age
    /// header: call it on a blocking thread.
    pub(crate) fn open(
        input: R,
        encryption: Option<&Encryption>,
        keys: Option<&Keys>,
        what: &str,
    ) -> Result<MaybeDecrypt<R>> {
        match (encryption, keys) {
            (None, _) => Ok(MaybeDecrypt::Plain(input)),
            (Some(e), Some(keys)) => Ok(MaybeDecrypt::Age(keys.decrypt(input, e, what)?)),
            (Some(e), None) => Err(no_identity(None, e, what)),
        }
    }
}

impl<R: Read> Read for MaybeDecrypt<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            MaybeDecrypt::Plain(r) => r.read(buf),
            MaybeDecrypt::Age(r) => r.read(buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;
    use ferryman_config::Secret;

    fn keys(identity: Option<&Identity>, recipients: &[&Identity]) -> Keys {
        let config = EncryptionConfig {
            recipients: recipients
                .iter()
                .map(|i| i.to_public().to_string())
                .collect(),
            identity: identity.map(|i| Secret::new(i.to_string().expose_secret().to_owned())),
            identity_source: identity.map(|_| "file /etc/ferryman/offsite.key".to_owned()),
        };
        Keys::from_config("offsite", &config).unwrap()
    }

    fn encrypt(keys: &Keys, data: &[u8]) -> Vec<u8> {
        let mut w = MaybeEncrypt::new(Vec::new(), Some(keys)).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn what_is_encrypted_reads_back_and_a_changed_byte_is_refused() {
        let a = Identity::generate();
        let keys = keys(Some(&a), &[&a]);
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        let sealed = encrypt(&keys, &data);
        let info = keys.encryption();
        let mut plain = Vec::new();
        MaybeDecrypt::open(&sealed[..], Some(&info), Some(&keys), "p")
            .unwrap()
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, data);

        let mut tampered = sealed.clone();
        let at = tampered.len() - 1000;
        tampered[at] ^= 1;
        let mut r = MaybeDecrypt::open(&tampered[..], Some(&info), Some(&keys), "p").unwrap();
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        // Only the chunks before the damaged one came out.
        assert!(out.len() < data.len() && data.starts_with(&out));
    }

    #[test]
    fn a_wrong_or_missing_identity_is_named() {
        let (a, b) = (Identity::generate(), Identity::generate());
        let writer = keys(None, &[&a]);
        let sealed = encrypt(&writer, b"secret rows");
        let info = writer.encryption();
        let reader = keys(Some(&b), &[&b]);
        let what = "Backups/c/s/x/payload.sql.zst.age in s3://b";
        let err = MaybeDecrypt::open(&sealed[..], Some(&info), Some(&reader), what)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains(&a.to_public().to_string())
                && err.contains(&b.to_public().to_string())
                && err.contains("file /etc/ferryman/offsite.key"),
            "{err}"
        );
        let err = MaybeDecrypt::open(&sealed[..], Some(&info), Some(&writer), what)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("[repositories.offsite]"), "{err}");
        let err = MaybeDecrypt::open(&sealed[..], Some(&info), None, what)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("is encrypted"), "{err}");
        assert!(info.same_as(&Encryption {
            cipher: CIPHER.to_owned(),
            recipients: vec![a.to_public().to_string()],
        }));
        assert!(!info.same_as(&reader.encryption()));
    }
}
