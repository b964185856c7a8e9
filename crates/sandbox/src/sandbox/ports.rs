//! Free TCP ports on 127.0.0.1 for a new sandbox's servers and services.

use crate::{Error, Result};

/// Lowest port the sandbox hands out.
const PORT_FLOOR: u16 = 20000;

/// `n` distinct free ports on 127.0.0.1, all held open together so none repeats.
///
/// They are drawn at random from below the kernel's ephemeral range
/// (`net.ipv4.ip_local_port_range`): outgoing connections (clients, replication) take their
/// local ports from that range, so a port chosen there could be taken by one of them before
/// `mariadbd` binds it. Falls back to kernel-chosen ports when there is no room below.
pub(crate) fn free_ports(n: usize) -> Result<Vec<u16>> {
    use rand::Rng;
    let ephemeral_low = ephemeral_low();
    let mut held = Vec::with_capacity(n);
    let mut rng = rand::rng();
    if ephemeral_low > PORT_FLOOR + 1000 {
        for _ in 0..n * 50 {
            if held.len() == n {
                break;
            }
            let port = rng.random_range(PORT_FLOOR..ephemeral_low);
            if let Ok(l) = std::net::TcpListener::bind(("127.0.0.1", port)) {
                held.push(l);
            }
        }
    }
    while held.len() < n {
        held.push(
            std::net::TcpListener::bind("127.0.0.1:0")
                .map_err(|source| Error::NoFreePort { source })?,
        );
    }
    held.iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|source| Error::NoFreePort { source })
}

/// `len` consecutive ports on 127.0.0.1, each free when looked at, below the ephemeral range
/// (see [`free_ports`]): `(first, last)`. For daemons that pick their own ports from a window
/// (Ceph's messengers).
pub(crate) fn free_window(len: u16) -> Result<(u16, u16)> {
    use rand::Rng;
    let ephemeral_low = ephemeral_low();
    let top = ephemeral_low.saturating_sub(len).max(PORT_FLOOR + 1);
    let mut rng = rand::rng();
    for _ in 0..200 {
        let first = rng.random_range(PORT_FLOOR..top);
        let all_free =
            (first..first + len).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return Ok((first, first + len - 1));
        }
    }
    Err(Error::NoFreePort {
        source: std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            format!("no window of {len} free ports between {PORT_FLOOR} and {ephemeral_low}"),
        ),
    })
}

/// The lowest port of the kernel's ephemeral range (`net.ipv4.ip_local_port_range`).
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct_and_outside_the_ephemeral_range() {
        let ports = free_ports(40).unwrap();
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 40);
        let low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        if low > PORT_FLOOR + 1000 {
            assert!(
                ports.iter().all(|&p| (PORT_FLOOR..low).contains(&p)),
                "{ports:?}"
            );
        }
    }
}
