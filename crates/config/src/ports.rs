//! Port lists such as `"40100-40119,40200"`.

use toml::Spanned;

use crate::error::ConfigError;
use crate::validate::Validator;

/// Parses a comma-separated list of ports and inclusive `lo-hi` ranges into sorted, distinct
/// ports. An empty (or blank) string is an empty list.
pub(crate) fn parse_port_list(text: &str) -> Result<Vec<u16>, String> {
    let mut ports = Vec::new();
    if text.trim().is_empty() {
        return Ok(ports);
    }
    for item in text.split(',').map(str::trim) {
        if item.is_empty() {
            return Err("an item between commas is empty".to_owned());
        }
        match item.split_once('-') {
            None => ports.push(port(item)?),
            Some((lo, hi)) => {
                let (lo, hi) = (port(lo.trim())?, port(hi.trim())?);
                if lo > hi {
                    return Err(format!("range {lo}-{hi} ends before it starts"));
                }
                ports.extend(lo..=hi);
            }
        }
    }
    ports.sort_unstable();
    if let Some(w) = ports.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("port {} is listed twice", w[0]));
    }
    Ok(ports)
}

/// The port list of `key` (`default` when the key is absent), an invalid list reported to
/// `v`; `required` lists must not be empty.
pub(crate) fn port_list(
    key: &str,
    raw: Option<Spanned<String>>,
    default: &str,
    required: bool,
    v: &mut Validator<'_>,
) -> Vec<u16> {
    let Some(raw) = raw else {
        return parse_port_list(default).unwrap_or_default();
    };
    let at = v.at(raw.span());
    let value = raw.into_inner();
    let problem = match parse_port_list(&value) {
        Ok(ports) if ports.is_empty() && required => "at least one port is needed".to_owned(),
        Ok(ports) => return ports,
        Err(reason) => reason,
    };
    v.push(ConfigError::InvalidPortList {
        at,
        key: key.to_owned(),
        value,
        reason: problem,
    });
    Vec::new()
}

fn port(text: &str) -> Result<u16, String> {
    if text.is_empty() {
        return Err("a range lacks one of its bounds".to_owned());
    }
    match text.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        Ok(p) => Err(format!("{p} is not a TCP port, which is 1 to 65535")),
        Err(_) => Err(format!("`{text}` is not a port number")),
    }
}

/// The smallest port in both sorted lists.
pub(crate) fn first_shared(a: &[u16], b: &[u16]) -> Option<u16> {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return Some(a[i]),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_ranges() {
        assert_eq!(parse_port_list(""), Ok(vec![]));
        assert_eq!(parse_port_list("  "), Ok(vec![]));
        assert_eq!(parse_port_list("4444"), Ok(vec![4444]));
        assert_eq!(
            parse_port_list("40200, 40100-40102"),
            Ok(vec![40100, 40101, 40102, 40200])
        );
        assert_eq!(parse_port_list("7-7"), Ok(vec![7]));
        assert_eq!(parse_port_list("1-65535").map(|p| p.len()), Ok(65535));
    }

    #[test]
    fn bad_lists_say_why() {
        assert_eq!(
            parse_port_list("0"),
            Err("0 is not a TCP port, which is 1 to 65535".into())
        );
        assert_eq!(
            parse_port_list("70000"),
            Err("70000 is not a TCP port, which is 1 to 65535".into())
        );
        assert_eq!(
            parse_port_list("10-5"),
            Err("range 10-5 ends before it starts".into())
        );
        assert_eq!(
            parse_port_list("1,,2"),
            Err("an item between commas is empty".into())
        );
        assert_eq!(
            parse_port_list("1-3,2"),
            Err("port 2 is listed twice".into())
        );
        assert_eq!(parse_port_list("a"), Err("`a` is not a port number".into()));
        assert_eq!(
            parse_port_list("-5"),
            Err("a range lacks one of its bounds".into())
        );
    }

    #[test]
    fn shared_ports() {
        assert_eq!(first_shared(&[1, 5, 9], &[2, 9]), Some(9));
        assert_eq!(first_shared(&[1, 5], &[2, 9]), None);
        assert_eq!(first_shared(&[], &[2, 9]), None);
    }
}
