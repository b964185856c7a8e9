//! Where the manager's API is, how to reach it (HTTP or HTTPS, checked against which CA) and
//! which token to send: from the configuration file, or from `--manager URL` with
//! `--token-file`/`--ca-file` on a host without one.

use std::path::Path;

use anyhow::{anyhow, Context};
use ferryman_config::{Config, Secret};

use super::{ApiArgs, REQUEST_TIMEOUT, TOKEN_ENV};
use crate::exit;

/// The HTTP client: with `ca`, the manager's certificate must be issued by one of its CAs
/// (and the system's roots are not trusted); without, the system's roots.
pub(super) fn http_client(ca: Option<&Path>) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder().timeout(REQUEST_TIMEOUT);
    if let Some(ca) = ca {
        let pem = std::fs::read(ca).with_context(|| {
            format!(
                "cannot read the CA file {}: give the fleet CA's certificate (`ca.crt` of `ferryman tls init`)",
                ca.display()
            )
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).with_context(|| {
            format!(
                "{} holds no PEM certificate: give the CA's certificate",
                ca.display()
            )
        })?;
        builder = builder.tls_built_in_root_certs(false);
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().context("cannot set up the HTTP client")
}

/// The CA the manager's certificate is checked against: `--ca-file`, else
/// `FERRYMAN_CA_FILE`, else `manager.tls-ca-file` when a configuration was read.
pub(super) fn ca_file(args: &ApiArgs, config: Option<&Config>) -> Option<std::path::PathBuf> {
    args.ca_file
        .clone()
        .or_else(|| config.and_then(|c| c.manager.tls_ca_file.clone()))
}

/// `http://HOST:PORT` (`https://` with `tls`) for the API's bind address; a wildcard bind
/// address is reached on the loopback address of its family.
pub(super) fn base_url(bind: &str, port: u16, tls: bool) -> String {
    let host = match bind {
        "0.0.0.0" => "127.0.0.1".to_owned(),
        "::" | "[::]" => "[::1]".to_owned(),
        h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        h => h.to_owned(),
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{host}:{port}")
}

/// The API's URL and the token of `--manager URL`, where no configuration file is read.
pub(super) fn remote(url: &str, args: &ApiArgs) -> anyhow::Result<(String, Secret)> {
    let base = url.trim_end_matches('/').to_owned();
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(exit::error(
            exit::USAGE,
            format!("--manager `{url}`: give the manager's API as a URL, like http://manager-host:10001"),
        ));
    }
    match given_token(args.token_file.as_deref())? {
        Some(token) => Ok((base, token)),
        None => Err(exit::error(
            exit::USAGE,
            format!("--manager {base}: no API token: give it with --token-file FILE (mode 0600) or {TOKEN_ENV}"),
        )),
    }
}

/// The token the user gave: `--token-file`, else `FERRYMAN_API_TOKEN`; `None` without either.
fn given_token(token_file: Option<&Path>) -> anyhow::Result<Option<Secret>> {
    if let Some(path) = token_file {
        return Ok(Some(ferryman_manager::api::read_token_file(path)?));
    }
    Ok(match std::env::var(TOKEN_ENV) {
        Ok(value) if !value.trim().is_empty() => Some(Secret::new(value.trim().to_owned())),
        _ => None,
    })
}

/// The token: `--token-file`, else `FERRYMAN_API_TOKEN`, else the configured one, else the
/// file the manager generated.
pub(super) fn token(token_file: Option<&Path>, config: &Config) -> anyhow::Result<Secret> {
    if let Some(token) = given_token(token_file)? {
        return Ok(token);
    }
    if let Some(token) = &config.manager.api_token {
        return Ok(token.clone());
    }
    let path = ferryman_manager::api::token_path(config);
    ferryman_manager::api::read_token_file(&path).map_err(|e| {
        let not_there = matches!(&e, ferryman_manager::api::Error::TokenRead { source, .. }
            if source.kind() == std::io::ErrorKind::NotFound);
        if not_there {
            anyhow!(
                "no API token: {} does not exist (the manager writes it at its first start: has `ferryman manager --config {}` run on this host?); or give the token with --token-file or {TOKEN_ENV}",
                path.display(),
                config.path.display()
            )
        } else {
            anyhow::Error::new(e)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            base_url("127.0.0.1", 10001, false),
            "http://127.0.0.1:10001"
        );
        assert_eq!(base_url("0.0.0.0", 1, false), "http://127.0.0.1:1");
        assert_eq!(base_url("::", 1, true), "https://[::1]:1");
        assert_eq!(base_url("::1", 1, false), "http://[::1]:1");
        assert_eq!(base_url("db.example", 2, true), "https://db.example:2");
    }
}
