//! The `onpremise-ssh*` keys of a server.

use std::path::Path;

use super::*;

#[test]
fn onpremise_ssh_is_off_by_default_and_its_keys_are_read_when_on() {
    let config = parse(MINIMAL).unwrap();
    assert_eq!(config.clusters[0].servers[0].onpremise_ssh, None);

    let config = parse(&format!(
        "{MINIMAL}onpremise-ssh = true\nonpremise-ssh-known-hosts = \"ssh/known_hosts\"\n"
    ))
    .unwrap();
    let ssh = config.clusters[0].servers[0].onpremise_ssh.clone().unwrap();
    assert_eq!(ssh.port, defaults::ONPREMISE_SSH_PORT);
    assert_eq!(ssh.credential.user, "root");
    assert!(ssh.credential.password.is_none());
    assert_eq!(ssh.private_key, None);
    // Relative to the file's directory.
    assert_eq!(ssh.known_hosts, Path::new("/etc/ferryman/ssh/known_hosts"));
    assert!(!ssh.accept_new_host_key);
    assert_eq!(
        ssh.agent_command.join(" "),
        "ferryman agent --once --config /etc/ferryman/ferryman.toml --server db1"
    );
    assert_eq!(ssh.db_job_script, None);

    let config = parse(&format!(
        "{MINIMAL}onpremise-ssh = true\nonpremise-ssh-port = 2222\n\
         onpremise-ssh-credential = {{ user = \"ops\", password-env = \"FERRYMAN_DB_PASSWORD\" }}\n\
         onpremise-ssh-private-key = \"/k/id\"\nonpremise-ssh-known-hosts = \"/k/kh\"\n\
         onpremise-ssh-accept-new-host-key = true\n\
         onpremise-ssh-agent-command = [\"/opt/fm bin/ferryman\", \"agent\", \"--once\"]\n"
    ))
    .unwrap();
    let ssh = config.clusters[0].servers[0].onpremise_ssh.clone().unwrap();
    assert_eq!(ssh.port, 2222);
    assert_eq!(ssh.credential.user, "ops");
    assert_eq!(
        ssh.credential.password.as_ref().unwrap().expose_secret(),
        DB_PASSWORD
    );
    assert_eq!(ssh.private_key.as_deref(), Some(Path::new("/k/id")));
    assert!(ssh.accept_new_host_key);
    assert_eq!(
        ssh.agent_command,
        ["/opt/fm bin/ferryman", "agent", "--once"]
    );
}

#[test]
fn onpremise_ssh_without_known_hosts_is_refused_with_the_next_step() {
    let error = only_error(&format!("{MINIMAL}onpremise-ssh = true\n"));
    assert!(
        error.starts_with(
            "/etc/ferryman/ferryman.toml:5:1: `onpremise-ssh = true` needs \
             `clusters.prod.servers[0].onpremise-ssh-known-hosts`"
        ),
        "{error}"
    );
    assert!(error.contains("ssh-keyscan"), "{error}");
}

#[test]
fn a_legacy_donor_over_ssh_needs_its_script() {
    let error = only_error(&format!(
        "{MINIMAL}legacy-donor = true\nonpremise-ssh = true\nonpremise-ssh-known-hosts = \"/kh\"\n"
    ));
    assert!(
        error.contains("`clusters.prod.servers[0].onpremise-ssh-db-job-script`"),
        "{error}"
    );
    let config = parse(&format!(
        "{MINIMAL}legacy-donor = true\nonpremise-ssh = true\nonpremise-ssh-known-hosts = \"/kh\"\n\
         onpremise-ssh-db-job-script = \"dbjobs_new\"\n"
    ))
    .unwrap();
    let ssh = config.clusters[0].servers[0].onpremise_ssh.clone().unwrap();
    assert_eq!(
        ssh.db_job_script.as_deref(),
        Some(Path::new("/etc/ferryman/dbjobs_new"))
    );
}
