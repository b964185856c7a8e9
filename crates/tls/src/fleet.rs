//! `ferryman tls init`: a fleet CA for sites without a PKI of their own, and the certificates
//! it issues: the manager's and one per agent host.
//!
//! ```text
//! DIR/ca.crt                      the fleet CA: every host gets a copy (public)
//! DIR/ca.key                      its key (0600): keep it off the network once the fleet is issued
//! DIR/manager.crt, manager.key    the manager's (its names and addresses as alternative names)
//! DIR/agents/HOST.crt, HOST.key   one per database host
//! ```
//!
//! Keys are ECDSA P-256, written 0600 and never overwritten: a directory that already holds a
//! CA key is refused. Every certificate may serve and connect (server and client
//! authentication): the manager connects to joiners and serves agents, agents do both too.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use crate::{Error, Result};

/// What to issue.
#[derive(Debug, Clone)]
pub struct Request {
    /// The directory (created; must not hold a CA yet).
    pub dir: PathBuf,
    /// The manager's host names and addresses, as agents and clients reach it.
    pub manager: Vec<String>,
    /// The database hosts' names or addresses, one certificate each.
    pub agents: Vec<String>,
    /// How long the host certificates are valid, in days.
    pub days: u32,
    /// How long the CA is valid, in days.
    pub ca_days: u32,
}

/// Issues the fleet's CA and certificates; returns the files written.
pub fn init(request: &Request) -> Result<Vec<PathBuf>> {
    let dir = &request.dir;
    if dir.join("ca.key").exists() {
        return Err(Error::Exists { dir: dir.clone() });
    }
    if request.manager.is_empty() {
        return Err(generate(
            "name the manager's host (its DNS name or address) with --manager".into(),
        ));
    }
    for host in request.manager.iter().chain(&request.agents) {
        check_host(host)?;
    }
    create_dir(dir)?;
    create_dir(&dir.join("agents"))?;
    let mut written = Vec::new();

    let ca_key = KeyPair::generate().map_err(|e| generate(e.to_string()))?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name = name("Ferryman fleet CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut ca, request.ca_days);
    let ca_cert = ca
        .self_signed(&ca_key)
        .map_err(|e| generate(e.to_string()))?;
    written.push(write(&dir.join("ca.key"), &ca_key.serialize_pem(), true)?);
    written.push(write(&dir.join("ca.crt"), &ca_cert.pem(), false)?);

    // `base` + `.key`/`.crt` (not `with_extension`: a host name has dots of its own).
    let mut issue = |names: &[String], common: &str, base: &Path| -> Result<()> {
        let named = |ext: &str| {
            let mut name = base.as_os_str().to_owned();
            name.push(ext);
            PathBuf::from(name)
        };
        let mut params =
            CertificateParams::new(names.to_vec()).map_err(|e| generate(e.to_string()))?;
        params.distinguished_name = name(common);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        validity(&mut params, request.days);
        let key = KeyPair::generate().map_err(|e| generate(e.to_string()))?;
        let cert = params
            .signed_by(&key, &ca_cert, &ca_key)
            .map_err(|e| generate(e.to_string()))?;
        written.push(write(&named(".key"), &key.serialize_pem(), true)?);
        written.push(write(&named(".crt"), &cert.pem(), false)?);
        Ok(())
    };
    issue(&request.manager, "ferryman-manager", &dir.join("manager"))?;
    for host in &request.agents {
        issue(
            std::slice::from_ref(host),
            &format!("ferryman-agent {host}"),
            &dir.join("agents").join(host),
        )?;
    }
    Ok(written)
}

fn name(common: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Ferryman");
    dn.push(DnType::CommonName, common);
    dn
}

fn validity(params: &mut CertificateParams, days: u32) {
    let now = time::OffsetDateTime::now_utc();
    // An hour back: hosts whose clocks are a little behind accept it at once.
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(i64::from(days.max(1)));
}

/// A host name or address usable as a file name and a certificate name.
fn check_host(host: &str) -> Result<()> {
    let ok = !host.is_empty()
        && !host.starts_with('.')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    if ok {
        Ok(())
    } else {
        Err(generate(format!(
            "`{host}` is not a host name or address (letters, digits, `.`, `-`, `_`, `:`)"
        )))
    }
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_owned(),
        source,
    })
}

/// Writes a new file (never over an existing one), 0600 for a key, 0644 otherwise, synced.
fn write(path: &Path, text: &str, secret: bool) -> Result<PathBuf> {
    let failed = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if secret { 0o600 } else { 0o644 })
        .open(path)
        .map_err(failed)?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(failed)?;
    Ok(path.to_owned())
}

fn generate(detail: String) -> Error {
    Error::Generate { detail }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn request(dir: &Path) -> Request {
        Request {
            dir: dir.to_owned(),
            manager: vec!["127.0.0.1".into(), "manager.example".into()],
            agents: vec!["db1.example".into(), "127.0.0.2".into()],
            days: 30,
            ca_days: 3650,
        }
    }

    #[test]
    fn a_fleet_is_issued_once_with_private_keys_and_usable_configurations() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("tls");
        let files = init(&request(&dir)).unwrap();
        assert_eq!(files.len(), 8, "{files:?}");
        for file in &files {
            let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
            let key = file.extension().is_some_and(|e| e == "key");
            assert_eq!(mode, if key { 0o600 } else { 0o644 }, "{}", file.display());
        }
        crate::server_config(
            &dir.join("manager.crt"),
            &dir.join("manager.key"),
            Some(&dir.join("ca.crt")),
        )
        .unwrap();
        crate::client_config(
            &dir.join("ca.crt"),
            Some((
                &dir.join("agents/db1.example.crt"),
                &dir.join("agents/db1.example.key"),
            )),
        )
        .unwrap();
        let leaf = &crate::expiry::inspect(&dir.join("manager.crt")).unwrap()[0];
        assert!(leaf.subject.contains("ferryman-manager"), "{leaf:?}");
        let left = leaf.left(crate::expiry::now());
        assert!(left > 29 * 86400 && left <= 30 * 86400, "{left}");
        // Never over an existing CA.
        let e = init(&request(&dir)).unwrap_err().to_string();
        assert!(e.contains("already holds a fleet CA"), "{e}");
        // A key others may read is refused with the fix.
        let key = dir.join("manager.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = crate::server_config(&dir.join("manager.crt"), &key, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("chmod 600"), "{e}");
        // The key of another certificate is refused too.
        let e = crate::server_config(
            &dir.join("manager.crt"),
            &dir.join("agents/db1.example.key"),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("cannot be used together"), "{e}");
    }

    #[test]
    fn an_expired_certificate_is_refused_with_its_date() {
        let tmp = tempfile::tempdir().unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["127.0.0.1".into()]).unwrap();
        params.distinguished_name = name("old");
        params.not_before = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        params.not_after = time::OffsetDateTime::from_unix_timestamp(1_710_000_000).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let cert_path = write(&tmp.path().join("old.crt"), &cert.pem(), false).unwrap();
        let key_path = write(&tmp.path().join("old.key"), &key.serialize_pem(), true).unwrap();
        let e = crate::server_config(&cert_path, &key_path, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("expired on 2024-03-09") && e.contains("issue a new one"),
            "{e}"
        );
    }
}
