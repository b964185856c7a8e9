use super::is_from;
use std::net::IpAddr;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn a_stream_comes_from_one_of_the_servers_addresses_or_from_this_machine_for_a_local_one() {
    let remote = [ip("10.0.0.5"), ip("fd00::5")];
    assert!(is_from(&remote, ip("10.0.0.5")));
    assert!(is_from(&remote, ip("fd00::5")));
    assert!(!is_from(&remote, ip("10.0.0.6")));
    // A process on the manager's own host is not the remote server.
    assert!(!is_from(&remote, ip("127.0.0.1")));
    let local = [ip("127.10.0.2")];
    assert!(is_from(&local, ip("127.0.0.1")));
    assert!(is_from(&local, ip("::1")));
    assert!(!is_from(&local, ip("10.0.0.5")));
}
