//! Rendering `ferryman.toml` for a sandbox: a complete configuration that every subcommand
//! accepts as is.
//!
//! Each server's `service-start`, `service-stop` and `service-restart` run `ferryman sandbox
//! start|stop|restart --dir DIR --server NAME`, in the array form so that paths with spaces
//! survive; they need the path of the `ferryman` binary, so they are left out (with a comment
//! saying so) when it is not known.
//!
//! The verifier's throwaway servers go to `DIR/verify`, small and quick to start. With
//! `auto_verify` the cluster's scheduler verifies every new backup within seconds
//! ([`AUTO_VERIFY`]); without it nothing is scheduled.

use std::path::Path;

use crate::accounts::{ADMIN_USER, REPL_USER};
use crate::layout::Layout;
use crate::state::State;

/// Ports the sandbox reserves for Ferryman itself, besides the servers'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePorts {
    /// Manager HTTP API.
    pub http: u16,
    /// Manager stream receiver.
    pub stream: u16,
    /// Legacy donor pool.
    pub sender: Vec<u16>,
    /// Joiner ports, one per server (agents on one host must not share one).
    pub receiver: Vec<u16>,
}

/// The cluster keys that make its scheduler verify each new backup within seconds, with the
/// comment saying why the logical backup is off.
pub const AUTO_VERIFY: &str = "\
# Verify each new backup within seconds (`ferryman sandbox up` without --no-auto-verify). That
# needs the scheduler's master switch, which would also start the weekly logical backup
# (scheduled by default): that one is turned off, so nothing else runs by surprise.
monitoring-scheduler = true
scheduler-db-servers-logical-backup = false
scheduler-db-servers-verify = true
scheduler-db-servers-verify-cron = \"0/15 * * * * *\"
";

/// The configuration text for `state` under `layout`; `ferryman_bin` (absolute) is the binary
/// the service commands run; `auto_verify` adds [`AUTO_VERIFY`] to the cluster's table.
pub fn render(
    layout: &Layout,
    state: &State,
    ports: &ServicePorts,
    ferryman_bin: Option<&Path>,
    auto_verify: bool,
) -> String {
    let mut out = services(layout, ports.http, ports.stream);
    out.push('\n');
    out.push_str(&cluster_table(
        layout,
        &state.cluster,
        &ports.sender,
        &ports.receiver,
    ));
    if auto_verify {
        out.push_str(AUTO_VERIFY);
    }
    for server in &state.servers {
        out.push_str(&server_table(
            layout,
            &state.cluster,
            &server.name,
            server.port,
            ferryman_bin,
        ));
    }
    out
}

/// A TOML string literal.
pub(crate) fn toml_str(v: &str) -> String {
    toml::Value::String(v.to_owned()).to_string()
}

/// A path as a TOML string literal.
fn toml_path(p: std::path::PathBuf) -> String {
    toml_str(&p.display().to_string())
}

/// The head of every sandbox configuration: a comment naming the sandbox, then the
/// `[manager]`, `[agent]` and `[verifier]` tables (shared by plain and Galera sandboxes).
pub(crate) fn services(layout: &Layout, http: u16, stream: u16) -> String {
    format!(
        "# Written by `ferryman sandbox up`: a complete configuration for the sandbox in\n\
         # {dir}. See config/ferryman.example.toml for every option.\n\
         \n\
         [manager]\n\
         monitoring-datadir = {manager}\n\
         monitoring-address = \"127.0.0.1\"\n\
         http-bind-address = \"127.0.0.1\"\n\
         http-port = {http}\n\
         stream-bind-address = \"127.0.0.1\"\n\
         stream-port = {stream}\n\
         # a sandbox lives wherever its directory is (often a shared /tmp): the free space of\n\
         # that file system is not the sandbox's to warn about\n\
         storage-free-alert = 0\n\
         \n\
         [agent]\n\
         # a job starts within a quarter of a second; affordable because an idle pass is two\n\
         # SELECTs (abandoned claims, runnable rows), not one per configured task\n\
         poll-interval = \"250ms\"\n\
         work-dir = {agent}\n\
         # short, for tests and demos\n\
         connect-timeout = \"20s\"\n\
         shutdown-grace = \"10s\"\n\
         joiner-bind-address = \"127.0.0.1\"\n\
         joiner-accept-timeout = \"30s\"\n\
         catch-up-timeout = \"120s\"\n\
         import-buffer-pool-mib = 256\n\
         \n\
         [jobs]\n\
         row-key-file = {row_key}\n\
         \n\
         [verifier]\n\
         work-dir = {verify}\n\
         # small and quick, for tests and demos\n\
         buffer-pool-mib = 128\n\
         start-timeout = \"120s\"\n",
        dir = layout.dir().display(),
        manager = toml_path(layout.manager_dir()),
        agent = toml_path(layout.agent_dir()),
        verify = toml_path(layout.verify_dir()),
        row_key = toml_path(layout.row_key_file()),
    )
}

/// `[clusters.NAME]` with the sandbox's credentials and the cluster's port pools.
pub(crate) fn cluster_table(
    layout: &Layout,
    cluster: &str,
    sender: &[u16],
    receiver: &[u16],
) -> String {
    let list = |ports: &[u16]| {
        toml_str(
            &ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(","),
        )
    };
    format!(
        "[clusters.{cluster}]\n\
         db-servers-credential = {{ user = {admin}, password-file = {admin_pw} }}\n\
         replication-credential = {{ user = {repl}, password-file = {repl_pw} }}\n\
         scheduler-db-servers-sender-ports = {sender}\n\
         scheduler-db-servers-receiver-ports = {receiver}\n",
        admin = toml_str(ADMIN_USER),
        admin_pw = toml_path(layout.password_file(ADMIN_USER)),
        repl = toml_str(REPL_USER),
        repl_pw = toml_path(layout.password_file(REPL_USER)),
        sender = list(sender),
        receiver = list(receiver),
    )
}

/// One `[[clusters.CLUSTER.servers]]` table for the sandbox server `name` on `port`, with its
/// service commands (or the comment saying why there are none).
pub(crate) fn server_table(
    layout: &Layout,
    cluster: &str,
    name: &str,
    port: u16,
    ferryman_bin: Option<&Path>,
) -> String {
    let paths = layout.server(name);
    let mut out = format!(
        "\n[[clusters.{cluster}.servers]]\n\
         name = {name}\n\
         host = \"127.0.0.1\"\n\
         port = {port}\n\
         socket = {socket}\n\
         datadir = {datadir}\n\
         defaults-file = {defaults}\n",
        name = toml_str(name),
        socket = toml_path(paths.socket()),
        datadir = toml_path(paths.datadir()),
        defaults = toml_path(paths.defaults_file()),
    );
    out.push_str(&service_commands(layout, name, ferryman_bin));
    out
}

/// What a server table says instead of service commands when the binary is not known. Without
/// them the defaults (`systemctl ... mariadb`) apply, which do not act on sandbox servers.
const NO_SERVICE_COMMANDS: &str = "# no service-start/stop/restart: this sandbox was not created \
                                   by the ferryman binary, whose path they need";

/// The `service-*` keys of server `name`, or a comment saying why there are none.
fn service_commands(layout: &Layout, name: &str, ferryman_bin: Option<&Path>) -> String {
    let Some(bin) = ferryman_bin else {
        return format!("{NO_SERVICE_COMMANDS}\n");
    };
    let dir = layout.dir().display().to_string();
    let bin = bin.display().to_string();
    ["start", "stop", "restart"]
        .iter()
        .map(|action| {
            let argv = [&bin, "sandbox", action, "--dir", &dir, "--server", name]
                .map(|a| toml::Value::String(a.to_owned()));
            format!("service-{action} = {}\n", toml::Value::Array(argv.to_vec()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Passwords;

    fn rendered(
        dir: &Path,
        ferryman_bin: Option<&Path>,
        auto_verify: bool,
    ) -> (String, ferryman_config::Config) {
        let layout = Layout::new(dir);
        Passwords::generate(&layout).unwrap();
        let state = State::new("sandbox", &[21001, 21002]);
        let ports = ServicePorts {
            http: 21003,
            stream: 21004,
            sender: vec![21005],
            receiver: vec![21006, 21007],
        };
        let text = render(&layout, &state, &ports, ferryman_bin, auto_verify);
        let config = ferryman_config::Config::parse(&text, &layout.config_file())
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        (text, config)
    }

    #[test]
    fn service_commands_run_the_ferryman_binary_verbatim() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().join("a sandbox");
        let bin = Path::new("/opt/fer ryman/bin/ferryman");
        let (text, config) = rendered(&dir, Some(bin), true);
        assert!(!text.contains(NO_SERVICE_COMMANDS), "{text}");
        assert_eq!(config.agent.connect_timeout.as_secs(), 20);
        assert_eq!(config.agent.shutdown_grace.as_secs(), 10);
        let (_, db2) = config.server("db2").unwrap();
        let dir = dir.to_str().unwrap();
        let argv = |action| {
            [
                bin.to_str().unwrap(),
                "sandbox",
                action,
                "--dir",
                dir,
                "--server",
                "db2",
            ]
            .map(String::from)
        };
        assert_eq!(db2.service_start, argv("start"));
        assert_eq!(db2.service_stop, argv("stop"));
        assert_eq!(db2.service_restart, argv("restart"));
    }

    #[test]
    fn without_the_binary_there_are_no_service_commands() {
        let dir = tempfile::tempdir().unwrap();
        let (text, config) = rendered(dir.path(), None, false);
        assert_eq!(text.matches(NO_SERVICE_COMMANDS).count(), 2, "{text}");
        assert!(!text.contains("\nservice-"), "{text}");
        let (_, db1) = config.server("db1").unwrap();
        assert_eq!(db1.service_start, ["systemctl", "start", "mariadb"]);
    }

    /// The `[verifier]` table every sandbox gets.
    fn assert_sandbox_verifier(dir: &Path, config: &ferryman_config::Config) {
        let verifier = &config.verifier;
        assert_eq!(verifier.work_dir, Layout::new(dir).verify_dir());
        assert_eq!(verifier.buffer_pool_mib, 128);
        assert_eq!(verifier.start_timeout.as_secs(), 120);
        let defaults = ferryman_config::VerifierConfig::default();
        assert_eq!(verifier.concurrency, defaults.concurrency);
        assert_eq!(verifier.restore_timeout, defaults.restore_timeout);
    }

    #[test]
    fn auto_verify_schedules_verification_every_15_seconds_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let (text, config) = rendered(dir.path(), None, true);
        assert_eq!(text.matches(AUTO_VERIFY).count(), 1, "{text}");
        assert_sandbox_verifier(dir.path(), &config);
        let s = &config.cluster("sandbox").unwrap().scheduler;
        assert!(s.enabled);
        assert!(s.verify.is_active(s));
        assert_eq!(s.verify.cron, "0/15 * * * * *");
        assert_eq!(s.verify.schedule().as_str(), "0/15 * * * * *");
        for other in [&s.physical_backup, &s.logical_backup, &s.logs, &s.optimize] {
            assert!(!other.is_active(s), "{other:?}");
        }
    }

    #[test]
    fn without_auto_verify_nothing_is_scheduled() {
        let dir = tempfile::tempdir().unwrap();
        let (text, config) = rendered(dir.path(), None, false);
        for key in [
            "monitoring-scheduler",
            "scheduler-db-servers-logical-backup",
            "scheduler-db-servers-verify",
        ] {
            assert!(!text.contains(key), "{key} in:\n{text}");
        }
        assert_sandbox_verifier(dir.path(), &config);
        let s = &config.cluster("sandbox").unwrap().scheduler;
        assert!(!s.enabled);
        assert!(!s.verify.enabled);
        assert!(!s.verify.is_active(s));
    }
}
