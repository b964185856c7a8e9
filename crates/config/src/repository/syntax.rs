//! The syntax of the S3 keys that have one of their own: `endpoint`, `bucket`, `prefix` and
//! `region` of `[repositories.NAME]`.

use toml::Spanned;

use crate::error::{ConfigError, Location};
use crate::validate::{Validator, NAME_CHARS};

/// The S3 keys whose strings have a syntax of their own.
#[derive(Debug, Clone, Copy)]
pub(super) enum Syntax {
    Endpoint,
    Bucket,
    Prefix,
    Region,
}

impl Syntax {
    /// The value to keep, or why it is refused.
    fn check(self, value: &str) -> Result<String, String> {
        match self {
            Syntax::Endpoint => check_endpoint(value),
            Syntax::Bucket => check_bucket(value),
            Syntax::Prefix => check_prefix(value),
            Syntax::Region => check_region(value),
        }
    }

    fn error(self, at: Location, key: String, value: String, reason: String) -> ConfigError {
        match self {
            Syntax::Endpoint => ConfigError::InvalidEndpoint {
                at,
                key,
                value,
                reason,
            },
            Syntax::Bucket => ConfigError::InvalidBucket {
                at,
                key,
                value,
                reason,
            },
            Syntax::Prefix => ConfigError::InvalidPrefix {
                at,
                key,
                value,
                reason,
            },
            Syntax::Region => ConfigError::InvalidValue {
                at,
                key,
                message: format!("{value:?} is not {reason}"),
            },
        }
    }
}

/// The value of `raw` as `syntax` keeps it, or as written after recording why `syntax`
/// refuses it. An empty value is a [`ConfigError::EmptyValue`].
pub(super) fn checked(
    key: &str,
    raw: Spanned<String>,
    syntax: Syntax,
    v: &mut Validator<'_>,
) -> String {
    let at = v.at(raw.span());
    let value = raw.into_inner();
    let key = key.to_owned();
    if value.is_empty() {
        v.push(ConfigError::EmptyValue { at, key });
        return value;
    }
    match syntax.check(&value) {
        Ok(value) => value,
        Err(reason) => {
            v.push(syntax.error(at, key, value.clone(), reason));
            value
        }
    }
}

/// An `http://` or `https://` URL of a host and optional port, without a trailing `/`.
fn check_endpoint(value: &str) -> Result<String, String> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or("it must start with http:// or https://")?;
    if rest.contains('?') {
        return Err("it has a query".to_owned());
    }
    if rest.contains('#') {
        return Err("it has a fragment".to_owned());
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if path.len() > 1 {
        return Err(format!("it has the path `{path}`"));
    }
    if authority.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err("it contains whitespace".to_owned());
    }
    if authority.contains('@') {
        return Err("it has a user name: set access-key-id instead".to_owned());
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or("`[` without `]`")?;
            match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None if after.is_empty() => (host, None),
                None => return Err(format!("`{after}` follows the address")),
            }
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        return Err("the host is missing".to_owned());
    }
    if let Some(port) = port {
        if !port.parse::<u16>().is_ok_and(|p| p != 0) {
            return Err(format!("`{port}` is not a port from 1 to 65535"));
        }
    }
    Ok(value.strip_suffix('/').unwrap_or(value).to_owned())
}

/// A bucket name by S3's rules.
fn check_bucket(value: &str) -> Result<String, String> {
    if !(3..=63).contains(&value.len()) {
        return Err(format!("it has {} characters", value.chars().count()));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-')))
    {
        return Err(format!("`{c}` is not allowed"));
    }
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !edge(value.chars().next()) || !edge(value.chars().next_back()) {
        return Err("it must start and end with a letter or a digit".to_owned());
    }
    if value.contains("..") {
        return Err("it has two `.` in a row".to_owned());
    }
    if value.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err("it is formatted as an IP address".to_owned());
    }
    Ok(value.to_owned())
}

/// Largest `prefix`, in bytes.
const PREFIX_MAX: usize = 512;

/// `/`-separated names, none empty nor starting with a dot.
fn check_prefix(value: &str) -> Result<String, String> {
    if value.len() > PREFIX_MAX {
        return Err(format!("it is {} bytes long", value.len()));
    }
    if value.starts_with('/') || value.ends_with('/') {
        return Err("it starts or ends with `/`".to_owned());
    }
    for component in value.split('/') {
        if component.is_empty() {
            return Err("it has `//`".to_owned());
        }
        if component.starts_with('.') {
            return Err(format!("`{component}` starts with `.`"));
        }
        if let Some(c) = component
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        {
            return Err(format!("`{c}` is not allowed"));
        }
    }
    Ok(value.to_owned())
}

/// A region name; the reason completes "... is not ".
fn check_region(value: &str) -> Result<String, String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if value.len() <= 64 && value.chars().all(allowed) {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "a region: use 1 to 64 characters from {NAME_CHARS}, e.g. \"us-east-1\""
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_urls_of_a_host() {
        for (value, normal) in [
            ("http://127.0.0.1:7480", "http://127.0.0.1:7480"),
            ("https://s3.example.com/", "https://s3.example.com"),
            ("http://[::1]:9000", "http://[::1]:9000"),
            ("https://[fd00::1]", "https://[fd00::1]"),
        ] {
            assert_eq!(check_endpoint(value).as_deref(), Ok(normal), "{value}");
        }
        for (value, reason) in [
            ("s3.example.com", "it must start with http:// or https://"),
            ("ftp://host", "it must start with http:// or https://"),
            ("http://host/bucket", "it has the path `/bucket`"),
            ("http://host//", "it has the path `//`"),
            ("http://host?x=1", "it has a query"),
            ("http://host/#a", "it has a fragment"),
            ("http://", "the host is missing"),
            ("http://:80", "the host is missing"),
            ("http://host:0", "`0` is not a port from 1 to 65535"),
            ("http://host:x", "`x` is not a port from 1 to 65535"),
            ("http://host:", "`` is not a port from 1 to 65535"),
            ("http://a b", "it contains whitespace"),
            (
                "http://key@host",
                "it has a user name: set access-key-id instead",
            ),
            ("http://[::1", "`[` without `]`"),
            ("http://[::1]x", "`x` follows the address"),
        ] {
            assert_eq!(check_endpoint(value), Err(reason.to_owned()), "{value}");
        }
    }

    #[test]
    fn buckets_follow_s3s_rules() {
        for value in ["abc", "ferryman-backups", "a.b-c.9", &"x".repeat(63)] {
            assert_eq!(check_bucket(value).as_deref(), Ok(value), "{value}");
        }
        for (value, reason) in [
            ("ab", "it has 2 characters"),
            (&"x".repeat(64), "it has 64 characters"),
            ("My-bucket", "`M` is not allowed"),
            ("a_b", "`_` is not allowed"),
            ("-ab", "it must start and end with a letter or a digit"),
            ("ab.", "it must start and end with a letter or a digit"),
            ("a..b", "it has two `.` in a row"),
            ("192.168.5.4", "it is formatted as an IP address"),
        ] {
            assert_eq!(check_bucket(value), Err(reason.to_owned()), "{value}");
        }
    }

    #[test]
    fn prefixes_are_slash_separated_names() {
        for value in ["a", "ferryman/prod", "A_b.c-d/e.f", &"x".repeat(PREFIX_MAX)] {
            assert_eq!(check_prefix(value).as_deref(), Ok(value), "{value}");
        }
        for (value, reason) in [
            ("/a", "it starts or ends with `/`"),
            ("a/", "it starts or ends with `/`"),
            ("a//b", "it has `//`"),
            ("a/.hidden", "`.hidden` starts with `.`"),
            ("a/../b", "`..` starts with `.`"),
            ("a b", "` ` is not allowed"),
            ("é", "`é` is not allowed"),
            (&"x".repeat(PREFIX_MAX + 1), "it is 513 bytes long"),
        ] {
            assert_eq!(check_prefix(value), Err(reason.to_owned()), "{value}");
        }
    }
}
