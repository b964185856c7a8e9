//! Free TCP ports on 127.0.0.1 for a new sandbox's servers and services.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

use crate::{Error, Result};

/// Lowest port the sandbox hands out.
const PORT_FLOOR: u16 = 20000;

/// Every port this process has handed out, never handed out twice.
///
/// A port is only free while [`free_ports`] holds it; the sandbox then releases it and binds it
/// much later (a replica's receiver port, for example, only when a reseed starts). Tests run
/// side by side in one process, so without this record a second sandbox could be given a port
/// the first was given and has not bound yet, and one of the two would fail with "Address
/// already in use". Ports of a sandbox that stopped are not reused either: there are thousands
/// below the ephemeral range and a test binary uses a few hundred.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// Records `port` as handed out; false when it already was.
fn claim(port: u16) -> bool {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
    handed_out.insert(port)
}

/// Whether `port` was handed out before, without claiming it.
fn was_handed_out(port: u16) -> bool {
    let handed_out = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
    handed_out.contains(&port)
}

/// `n` distinct free ports on 127.0.0.1, all held open together so none repeats, and none
/// handed out before by this process (see [`HANDED_OUT`]).
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
            if was_handed_out(port) {
                continue;
            }
            if let Ok(l) = std::net::TcpListener::bind(("127.0.0.1", port)) {
                if claim(port) {
                    held.push(l);
                }
            }
        }
    }
    while held.len() < n {
        let l = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|source| Error::NoFreePort { source })?;
        let port = l
            .local_addr()
            .map_err(|source| Error::NoFreePort { source })?
            .port();
        if claim(port) {
            held.push(l);
        }
    }
    held.iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|source| Error::NoFreePort { source })
}

/// One free port on 127.0.0.1, as `free_ports` gives them: for a test's own daemon (sshd,
/// SMTP, Prometheus, chromedriver) or a port that must stay closed.
pub fn free_port() -> Result<u16> {
    let ports = free_ports(1)?;
    Ok(ports[0])
}

/// `len` consecutive ports on 127.0.0.1, each free when looked at, below the ephemeral range
/// (see [`free_ports`]) and none handed out before by this process: `(first, last)`. For daemons
/// that pick their own ports from a window (Ceph's messengers).
pub(crate) fn free_window(len: u16) -> Result<(u16, u16)> {
    use rand::Rng;
    let ephemeral_low = ephemeral_low();
    let top = ephemeral_low.saturating_sub(len).max(PORT_FLOOR + 1);
    let mut rng = rand::rng();
    for _ in 0..200 {
        let first = rng.random_range(PORT_FLOOR..top);
        let all_free = (first..first + len)
            .all(|p| !was_handed_out(p) && std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
        if all_free && (first..first + len).all(claim) {
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

    #[test]
    fn a_port_is_never_handed_out_twice_in_one_process() {
        // Released at once, as a sandbox does before its servers bind them: the kernel would
        // happily give them again, the record must not.
        let first = free_ports(200).unwrap();
        let second = free_ports(200).unwrap();
        let (window_first, window_last) = free_window(20).unwrap();
        let mut all: Vec<u16> = first.iter().chain(&second).copied().collect();
        all.extend(window_first..=window_last);
        let mut unique = all.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), all.len(), "a port was handed out twice");
    }
}
