//! Host names and addresses as the configuration and the jobs table write them: whether two
//! spellings name the same host, and `host:port` text.

use std::net::{IpAddr, Ipv4Addr};

/// Whether two host spellings name the same host: equal names (case-insensitive), equal
/// addresses, or both loopback (`localhost`, `127.0.0.1`, `::1`). No name is resolved: a
/// check must not depend on what DNS says at that moment.
pub fn same_host(a: &str, b: &str) -> bool {
    let ip = |h: &str| -> Option<IpAddr> {
        let h = h.trim().trim_start_matches('[').trim_end_matches(']');
        if h.eq_ignore_ascii_case("localhost") {
            return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        h.parse().ok()
    };
    a.trim().eq_ignore_ascii_case(b.trim())
        || match (ip(a), ip(b)) {
            (Some(x), Some(y)) => x == y || (x.is_loopback() && y.is_loopback()),
            _ => false,
        }
}

/// `host:port`, with brackets around an IPv6 literal.
pub fn join(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Splits `host:port` (`[v6]:port` too); `None` when there is no valid port.
pub fn split(text: &str) -> Option<(String, u16)> {
    let (host, port) = text.trim().rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then(|| (host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_compare_by_name_address_or_loopback() {
        assert!(same_host("db1.example", "DB1.example"));
        assert!(same_host("127.0.0.1", "localhost"));
        assert!(same_host("::1", "127.0.0.1"));
        assert!(same_host("10.0.0.1", "10.0.0.1"));
        assert!(!same_host("10.0.0.1", "10.0.0.2"));
        assert!(!same_host("db1.example", "10.0.0.1"));
        assert_eq!(join("::1", 4444), "[::1]:4444");
        assert_eq!(split("[::1]:4444"), Some(("::1".to_owned(), 4444)));
        assert_eq!(split("db1:4444"), Some(("db1".to_owned(), 4444)));
        assert_eq!(split("db1"), None);
        assert_eq!(split("db1:0"), None);
    }
}
